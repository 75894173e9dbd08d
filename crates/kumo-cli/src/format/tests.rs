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
        render_many(&Format::Json, &[json!({"a": 1})], true).unwrap(),
        "[\n  {\n    \"a\": 1\n  }\n]\n"
    );
    assert_eq!(
        render_one(&Format::Json, &json!({"a": true})).unwrap(),
        "{\n  \"a\": true\n}\n"
    );
}

#[test]
fn yaml_list_separators() {
    let out = render_many(&Format::Yaml, &[json!({"a": 1}), json!({"a": 2})], true).unwrap();
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
        "value(a[x])",
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
