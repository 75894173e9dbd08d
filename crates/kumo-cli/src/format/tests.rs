use serde_json::json;

use super::*;

fn service() -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": "hello",
            "uid": "u-1",
            "generation": 2,
            "annotations": {"run.googleapis.com/ingress": "all", "serving.knative.dev/creator": "a@example.com"}
        },
        "spec": {"template": {"spec": {"serviceAccountName": "sa@p.iam.gserviceaccount.com"}}},
        "status": {"url": "http://127.0.0.1:9001", "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[test]
fn value_projections() {
    let cases: &[(&str, &str)] = &[
        ("value(status.url)", "http://127.0.0.1:9001\n"),
        (
            "value(metadata.name,status.url)",
            "hello\thttp://127.0.0.1:9001\n",
        ),
        (
            "value(metadata.annotations.'run.googleapis.com/ingress')",
            "all\n",
        ),
        (
            "value(metadata.annotations.\"run.googleapis.com/ingress\")",
            "all\n",
        ),
        ("value(status.conditions[0].type)", "Ready\n"),
        ("value(status.conditions[0])", "status=True;type=Ready\n"),
        (
            "value(metadata.annotations)",
            "run.googleapis.com/ingress=all;serving.knative.dev/creator=a@example.com\n",
        ),
        ("value(metadata.missing)", "\n"),
        (
            "value(spec.template.spec.serviceAccountName.basename())",
            "sa@p.iam.gserviceaccount.com\n",
        ),
        (
            "value(metadata.name.basename(),status.url)",
            "hello\thttp://127.0.0.1:9001\n",
        ),
    ];
    for (spec, want) in cases {
        let f = Format::parse(spec).unwrap();
        assert_eq!(render_one(&f, &service()).unwrap(), *want, "{spec}");
    }
}

#[test]
fn table_headers_labels_and_alignment() {
    let f = Format::parse("table(metadata.name, status.url:label=ADDRESS, metadata.generation)")
        .unwrap();
    let items = vec![
        service(),
        json!({"metadata": {"name": "a-much-longer-name"}}),
    ];
    assert_eq!(
        render_many(&f, &items, true).unwrap(),
        "NAME                ADDRESS                GENERATION\n\
         hello               http://127.0.0.1:9001  2\n\
         a-much-longer-name\n"
    );
    let f = Format::parse("table[no-heading](metadata.name)").unwrap();
    assert_eq!(render_many(&f, &items[..1], true).unwrap(), "hello\n");
}

#[test]
fn camel_case_headers() {
    let f = Format::parse("table(status.lastTransitionTime)").unwrap();
    let out = render_many(&f, &[json!({"status": {"lastTransitionTime": "t"}})], true).unwrap();
    assert_eq!(out, "LAST_TRANSITION_TIME\nt\n");
}

#[test]
fn export_drops_output_only_fields() {
    let out = render_one(&Format::Export, &service()).unwrap();
    assert!(!out.contains("status:"), "{out}");
    assert!(!out.contains("uid"), "{out}");
    assert!(!out.contains("creator"), "{out}");
    assert!(
        out.contains("serviceAccountName: sa@p.iam.gserviceaccount.com"),
        "{out}"
    );
    assert!(out.contains("run.googleapis.com/ingress: all"), "{out}");
}

#[test]
fn json_list_and_single() {
    assert_eq!(
        render_many(&Format::Json(vec![]), &[json!({"a": 1})], true).unwrap(),
        "[\n  {\n    \"a\": 1\n  }\n]\n"
    );
    assert_eq!(
        render_one(&Format::Json(vec![]), &json!({"a": true})).unwrap(),
        "{\n  \"a\": true\n}\n"
    );
}

#[test]
fn yaml_list_separators() {
    let out = render_many(&Format::YAML, &[json!({"a": 1}), json!({"a": 2})], true).unwrap();
    assert_eq!(out, "a: 1\n---\na: 2\n");
}

#[test]
fn csv_quotes() {
    let f = Format::parse("csv(a,b)").unwrap();
    let out = render_many(&f, &[json!({"a": "x,y", "b": "z"})], true).unwrap();
    assert_eq!(out, "a,b\n\"x,y\",z\n");
}

#[test]
fn bad_formats_are_usage_errors() {
    for spec in [
        "value",
        "table()",
        "xml",
        "value(a",
        "value('a)",
        "value(a[x y])",
        "value(a.nosuchtransform())",
        "value(a.basename().b)",
    ] {
        assert!(
            matches!(Format::parse(spec), Err(CliError::Usage(_))),
            "{spec}"
        );
    }
}

#[test]
fn basename_transform() {
    let f = Format::parse("value(name.basename())").unwrap();
    let v = json!({"name": "projects/p/locations/r/jobs/j/executions/j-abc"});
    assert_eq!(render_one(&f, &v).unwrap(), "j-abc\n");
}

/// gcloud's `resource_property.Get`: the key, then camelCase, then snake_case; indexes.
#[test]
fn key_lookup_like_gcloud() {
    let v = json!({
        "projectNumber": "100000007919",
        "project_id": "demo",
        "items": [{"type": "Ready", "status": "True"}, {"type": "Active", "status": "False"}],
        "metadata": {"annotations": {"run.googleapis.com/invoker-iam-disabled": "true"}}
    });
    let cases: &[(&str, &str)] = &[
        ("value(projectNumber)", "100000007919\n"),
        ("value(project_number)", "100000007919\n"),
        ("value(projectId)", "demo\n"),
        ("value(PROJECT_NUMBER)", "\n"),
        ("value(items[0].type)", "Ready\n"),
        ("value(items[-1].type)", "Active\n"),
        ("value(items[5].type)", "\n"),
        ("value(items.type)", "Ready;Active\n"),
        ("value(items[].status)", "True;False\n"),
        (
            "value(metadata.annotations['run.googleapis.com/invoker-iam-disabled'])",
            "true\n",
        ),
        (
            "value(metadata.annotations.'run.googleapis.com/invoker-iam-disabled')",
            "true\n",
        ),
    ];
    for (spec, want) in cases {
        let f = Format::parse(spec).unwrap();
        assert_eq!(render_one(&f, &v).unwrap(), *want, "{spec}");
    }
}

#[test]
fn case_conversions() {
    for (snake, camel) in [
        ("project_number", "projectNumber"),
        ("a", "a"),
        ("creation_timestamp", "creationTimestamp"),
        ("PROJECT_NUMBER", "PROJECTNumber"),
    ] {
        assert_eq!(camel_case(snake), camel, "{snake}");
    }
    for (camel, snake) in [
        ("projectNumber", "project_number"),
        ("HTTPServer", "http_server"),
        ("lastTransitionTime", "last_transition_time"),
        ("PROJECT_NUMBER", "project_number"),
        ("v1Name", "v1_name"),
    ] {
        assert_eq!(snake_case(camel), snake, "{camel}");
    }
}

/// A command's default-table labels are keys (gcloud composes the default format with the
/// user's), and its wrapper attributes answer where the resource has no such field.
#[test]
fn labels_and_attributes() {
    const KEYS: Keys = Keys {
        labels: &[
            ("PROJECT_NUMBER", "projectNumber"),
            ("ID", "name.segment()"),
        ],
        attrs: &[("region", "metadata.labels.'cloud.googleapis.com/location'")],
    };
    let v = json!({
        "projectNumber": "42",
        "name": "organizations/1234",
        "metadata": {"labels": {"cloud.googleapis.com/location": "us-central1"}}
    });
    let cases: &[(&str, &str)] = &[
        ("value(PROJECT_NUMBER)", "42\n"),
        ("value(ID)", "1234\n"),
        ("value(region)", "us-central1\n"),
        ("value(project_number)", "42\n"),
        ("csv[no-heading](ID,name)", "1234,organizations/1234\n"),
        ("table(ID)", "ID\n1234\n"),
        (
            "json(PROJECT_NUMBER)",
            "[\n  {\n    \"projectNumber\": \"42\"\n  }\n]\n",
        ),
    ];
    for (spec, want) in cases {
        let f = Format::parse(spec).unwrap();
        assert_eq!(
            render_with(&f, std::slice::from_ref(&v), true, &KEYS).unwrap(),
            *want,
            "{spec}"
        );
    }
    // A field of the resource wins over an attribute of the same name.
    let w = json!({"region": "field", "metadata": {"labels": {"cloud.googleapis.com/location": "attr"}}});
    let f = Format::parse("value(region)").unwrap();
    assert_eq!(render_with(&f, &[w], false, &KEYS).unwrap(), "field\n");
}

/// Transforms as `gcloud topic projections` documents them.
#[test]
fn transforms() {
    let v = json!({
        "name": "projects/p/locations/us-central1/services/hello",
        "zone": "https://compute.googleapis.com/compute/v1/projects/p/zones/us-east1-b",
        "empty": "",
        "list": ["a", "b", "c"],
        "time": "2024-05-01T10:20:30.123456Z",
        "tokyo": "2024-05-01T10:20:30+09:00",
        "epoch": 1_714_558_830,
        "flag": true,
        "a": {"x": null, "y": "second"},
        "path": "a%2Fb/c"
    });
    let cases: &[(&str, &str)] = &[
        ("value(name.basename())", "hello\n"),
        ("value(name.segment())", "hello\n"),
        ("value(name.segment(-1))", "hello\n"),
        ("value(name.segment(1))", "p\n"),
        ("value(name.segment(3))", "us-central1\n"),
        ("value(name.segment(99))", "\n"),
        ("value(path.segment(0))", "a\n"),
        ("value(zone.scope())", "us-east1-b\n"),
        ("value(zone.scope(projects))", "p/zones/us-east1-b\n"),
        (
            "value(name.scope(locations))",
            "us-central1/services/hello\n",
        ),
        ("value(empty.basename())", "\n"),
        ("value(list.join())", "a/b/c\n"),
        ("value(list.join(','))", "a,b,c\n"),
        ("value(list.join(sep=-))", "a-b-c\n"),
        (
            "value(name.split().join(':'))",
            "projects:p:locations:us-central1:services:hello\n",
        ),
        ("value(list.len())", "3\n"),
        ("value(time.date())", "2024-05-01T10:20:30\n"),
        (
            "value(time.date('%Y-%m-%d %H:%M:%S %Z'))",
            "2024-05-01 10:20:30 UTC\n",
        ),
        ("value(time.date(format='%Y'))", "2024\n"),
        ("value(tokyo.date('%H:%M %z'))", "10:20 +0900\n"),
        ("value(epoch.date('%Y-%m-%d'))", "2024-05-01\n"),
        ("value(empty.date())", "\n"),
        ("value(flag.yesno())", "True\n"),
        ("value(empty.yesno())", "No\n"),
        ("value(flag.yesno(yes=on, no=off))", "on\n"),
        ("value(empty.yesno(no='0'))", "0\n"),
        ("value(a.firstof(x,y))", "second\n"),
        (
            "value(firstof(missing,name))",
            "projects/p/locations/us-central1/services/hello\n",
        ),
        ("value(missing.basename(undefined=NONE))", "NONE\n"),
    ];
    for (spec, want) in cases {
        let f = Format::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(render_one(&f, &v).unwrap(), *want, "{spec}");
    }
}

/// `json(...)`/`yaml(...)` print only the projected keys, nested as in the resource.
#[test]
fn projections_in_json_and_yaml() {
    let f = Format::parse("json(status.url)").unwrap();
    assert_eq!(
        render_one(&f, &service()).unwrap(),
        "{\n  \"status\": {\n    \"url\": \"http://127.0.0.1:9001\"\n  }\n}\n"
    );
    let f = Format::parse("yaml(metadata.name, metadata.annotations)").unwrap();
    assert_eq!(
        render_one(&f, &service()).unwrap(),
        "metadata:\n  annotations:\n    run.googleapis.com/ingress: all\n    serving.knative.dev/creator: a@example.com\n  name: hello\n"
    );
    let f = Format::parse("json(status.conditions.type)").unwrap();
    assert_eq!(
        render_one(&f, &service()).unwrap(),
        "{\n  \"status\": {\n    \"conditions\": [\n      {\n        \"type\": \"Ready\"\n      }\n    ]\n  }\n}\n"
    );
    let f = Format::parse("json(metadata.missing)").unwrap();
    assert_eq!(render_one(&f, &service()).unwrap(), "{}\n");
    let f = Format::parse("yaml(metadata.name)").unwrap();
    assert_eq!(
        render_many(&f, &[service(), service()], true).unwrap(),
        "metadata:\n  name: hello\n---\nmetadata:\n  name: hello\n"
    );
}

#[test]
fn whole_resource_key() {
    let f = Format::parse("value(.)").unwrap();
    assert_eq!(
        render_many(&f, &[json!("https://x/1"), json!("https://x/2")], true).unwrap(),
        "https://x/1\nhttps://x/2\n"
    );
}
