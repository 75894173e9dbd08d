//! Cloud Run services and revisions through v2 and v1, with the deploy-time checks.

#![expect(clippy::unwrap_used, reason = "test set-up helpers fail loudly")]

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use kumo_control::{Config, ImageAccessCheck, Mode, NewProject, ResourceRef};
use serde_json::{Value, json};

mod common;
use common::{ALICE, BOB, HELLO, V2, create_service as create, http_server, service as body};

const V1: &str = "/apis/serving.knative.dev/v1/namespaces/demo-project/services";

const CRASH: &str = "us-docker.pkg.dev/demo-project/docker-repo/crash:1";

/// Maps the images the tests deploy to local programs: a tiny HTTP server on `$PORT`, and one
/// that exits at once.
fn with_images(h: Harness) -> Harness {
    let crash = json!({"entrypoint": ["sh", "-c", "echo boom >&2; exit 3"]});
    h.load_images(&json!({"images": {HELLO: http_server(), IMAGE: http_server(), CRASH: crash}}));
    h
}

fn harness() -> Harness {
    with_images(Harness::new())
}

fn warn_harness() -> Harness {
    with_images(Harness::with_config(Config {
        external_url: "http://127.0.0.1:8080".to_owned(),
        issuer: None,
        mode: Mode::Dev,
        image_access_check: ImageAccessCheck::Warn,
    }))
}

fn set_org_policy(h: &Harness, container: &str, constraint: &str, enforce: bool) {
    let name = format!("{container}/policies/{constraint}");
    let policy = kumo_orgpolicy::Policy {
        name: name.clone(),
        spec: Some(kumo_orgpolicy::PolicySpec {
            rules: vec![kumo_orgpolicy::PolicyRule {
                kind: kumo_orgpolicy::RuleKind::Enforce(enforce),
                condition: None,
            }],
            ..Default::default()
        }),
        dry_run_spec: None,
        etag: String::new(),
    };
    h.control
        .commit(&[kumo_store::Write::Upsert {
            collection: "org_policies".into(),
            name,
            parent: Some(container.to_owned()),
            data: serde_json::to_value(&policy).unwrap(),
        }])
        .unwrap();
}

fn create_repository(h: &Harness, project: &str, location: &str, repository: &str) {
    let name = format!("projects/{project}/locations/{location}/repositories/{repository}");
    h.control
        .commit(&[kumo_store::Write::Create {
            collection: "ar_repositories".into(),
            name: name.clone(),
            parent: Some(format!("projects/{project}/locations/{location}")),
            data: json!({"name": name, "format": "DOCKER"}),
        }])
        .unwrap();
}

async fn call_yaml(
    h: &Harness,
    member: &str,
    method: Method,
    path: &str,
    yaml: String,
) -> (StatusCode, Value) {
    h.call_raw(
        member,
        method,
        path,
        Box::leak(yaml.into_bytes().into_boxed_slice()),
    )
    .await
}

fn deployer(h: &Harness, member: &str) {
    h.grant_on_project("roles/run.developer", member);
    h.grant_on_project("roles/iam.serviceAccountUser", member);
}

#[tokio::test]
async fn create_get_list_update_delete_through_v2() {
    let h = harness();
    let (status, operation) = create(&h, ALICE, "hello", body(HELLO)).await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["done"], true);
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.cloud.run.v2.Service"
    );
    let service = &operation["response"];
    assert_eq!(
        service["@type"],
        "type.googleapis.com/google.cloud.run.v2.Service"
    );
    assert_eq!(
        service["name"],
        "projects/demo-project/locations/us-central1/services/hello"
    );
    assert_eq!(service["generation"], "1");
    assert_eq!(service["observedGeneration"], "1");
    assert_eq!(service["creator"], "alice@example.com");
    assert_eq!(service["terminalCondition"]["state"], "CONDITION_SUCCEEDED");
    assert_eq!(
        service["traffic"],
        json!([{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}])
    );
    let revision = service["latestReadyRevision"].as_str().unwrap().to_owned();
    assert!(
        revision.starts_with(
            "projects/demo-project/locations/us-central1/services/hello/revisions/hello-00001-"
        ),
        "{revision}"
    );
    assert_eq!(service["latestCreatedRevision"], revision.as_str());
    let uri = service["uri"].as_str().unwrap();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    let urls: Vec<&str> = service["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 3);
    assert!(
        urls.contains(
            &format!(
                "http://hello-{}.us-central1.run.localhost:8080",
                h.project.number
            )
            .as_str()
        )
    );
    assert!(urls.iter().any(|u| u.ends_with("-uc.a.run.localhost:8080")));

    // The operation is pollable.
    let operation_path = format!("/v2/{}", operation["name"].as_str().unwrap());
    let (status, polled) = h.call(ALICE, Method::GET, &operation_path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(polled["done"], true);

    // The project number names the same service.
    let (status, got) = h
        .call(
            ALICE,
            Method::GET,
            &format!(
                "/v2/projects/{}/locations/us-central1/services/hello",
                h.project.number
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["uid"], service["uid"]);
    assert!(!got["etag"].as_str().unwrap().is_empty());

    // Sending the whole object back unchanged changes nothing.
    let (status, same) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(got.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["response"]["generation"], "1");
    assert_eq!(same["response"]["latestCreatedRevision"], revision.as_str());

    // A template change bumps the generation, creates revision 2 and a new etag.
    let (_, got) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/hello"), None)
        .await;
    let mut changed = got.clone();
    changed["template"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
    let (status, updated) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(changed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let updated = &updated["response"];
    assert_eq!(updated["generation"], "2");
    assert!(
        updated["latestReadyRevision"]
            .as_str()
            .unwrap()
            .contains("/revisions/hello-00002-")
    );
    assert_ne!(updated["etag"], got["etag"]);
    assert_eq!(updated["creator"], "alice@example.com");

    // The old etag is stale now.
    let (status, stale) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(changed),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["error"]["status"], "ABORTED");

    // Two revisions, newest first.
    let (status, revisions) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V2}/services/hello/revisions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names[0].contains("hello-00002-"), "{names:?}");
    // The serving revision cannot be deleted; the old one can.
    let (status, _) = h
        .call(ALICE, Method::DELETE, &format!("/v2/{}", names[0]), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, deleted) = h
        .call(ALICE, Method::DELETE, &format!("/v2/{}", names[1]), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted["response"]["@type"],
        "type.googleapis.com/google.cloud.run.v2.Revision"
    );

    // allowMissing creates; without it a missing service is NOT_FOUND.
    let (status, missing) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/other"),
            Some(body(HELLO)),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert_eq!(
        missing["error"]["message"],
        "Resource 'other' of kind 'SERVICE' in region 'us-central1' in project 'demo-project' does not exist."
    );
    let (status, _) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/other?allowMissing=true"),
            Some(body(HELLO)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Delete returns the service; it is gone, but listable with showDeleted.
    let (status, deleted) = h
        .call(ALICE, Method::DELETE, &format!("{V2}/services/hello"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted["response"]["name"],
        "projects/demo-project/locations/us-central1/services/hello"
    );
    assert!(deleted["response"]["deleteTime"].is_string());
    let (status, _) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/hello"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = h
        .call(ALICE, Method::GET, &format!("{V2}/services"), None)
        .await;
    assert_eq!(listed["services"].as_array().unwrap().len(), 1);
    let (_, listed) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V2}/services?showDeleted=true"),
            None,
        )
        .await;
    assert_eq!(listed["services"].as_array().unwrap().len(), 2);
    // The name can be used again.
    let (status, again) = create(&h, ALICE, "hello", body(HELLO)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(
        again["response"]["latestReadyRevision"]
            .as_str()
            .unwrap()
            .contains("hello-00001-"),
        "{again}"
    );
}

#[tokio::test]
async fn list_is_newest_first_and_paged() {
    let h = harness();
    for id in ["one", "two", "three"] {
        assert_eq!(create(&h, ALICE, id, body(HELLO)).await.0, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (status, page) = h
            .call(
                ALICE,
                Method::GET,
                &format!("{V2}/services?pageSize=2&pageToken={token}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for service in page["services"].as_array().unwrap() {
            seen.push(
                service["name"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ["three", "two", "one"]);
}

#[tokio::test]
async fn bad_input_is_invalid_argument() {
    let h = harness();
    let (status, error) = create(
        &h,
        ALICE,
        "hello",
        json!({"template": {"containers": [{"image": HELLO}]}, "foo": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["message"],
        "Invalid JSON payload received. Unknown name \"foo\" at 'service': Cannot find field."
    );
    for id in ["Hello", "1abc", "abc-", &"a".repeat(50)] {
        let (status, error) = create(&h, ALICE, id, body(HELLO)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {error}");
    }
    let (status, _) = create(&h, ALICE, "hello", json!({"template": {"containers": []}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let traffic = json!({"template": {"containers": [{"image": HELLO}]}, "traffic": [{"type": 1, "percent": 50}]});
    let (status, _) = create(&h, ALICE, "hello", traffic).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let reserved = json!({"template": {"containers": [{"image": HELLO}]}, "annotations": {"run.googleapis.com/ingress": "all"}});
    let (status, _) = create(&h, ALICE, "hello", reserved).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing was created; integer enums are accepted.
    let (_, listed) = h
        .call(ALICE, Method::GET, &format!("{V2}/services"), None)
        .await;
    assert!(listed.get("services").is_none(), "{listed}");
    let (status, created) = create(
        &h,
        ALICE,
        "hello",
        json!({"ingress": 2, "template": {"containers": [{"image": HELLO}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created["response"]["ingress"],
        "INGRESS_TRAFFIC_INTERNAL_ONLY"
    );
    // validateOnly persists nothing.
    let (status, _) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/services?serviceId=dry&validateOnly=true"),
            Some(body(HELLO)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.call(ALICE, Method::GET, &format!("{V2}/services/dry"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Creating twice is ALREADY_EXISTS.
    let (status, exists) = create(&h, ALICE, "hello", body(HELLO)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        exists["error"]["message"],
        "Resource 'hello' already exists."
    );
}

#[tokio::test]
async fn v1_and_v2_are_views_of_one_service() {
    let h = harness();
    assert_eq!(
        create(&h, ALICE, "hello", body(HELLO)).await.0,
        StatusCode::OK
    );
    let (status, v1) = h
        .call(ALICE, Method::GET, &format!("{V1}/hello"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{v1}");
    assert_eq!(v1["apiVersion"], "serving.knative.dev/v1");
    assert_eq!(v1["kind"], "Service");
    assert_eq!(v1["metadata"]["namespace"], h.project.number.as_str());
    assert_eq!(
        v1["metadata"]["labels"]["cloud.googleapis.com/location"],
        "us-central1"
    );
    assert_eq!(
        v1["spec"]["template"]["spec"]["containers"][0]["image"],
        HELLO
    );
    assert!(
        v1["status"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    // Replace with YAML carrying the seed-000 annotation (a bare `true`).
    let yaml = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\n  labels:\n    cloud.googleapis.com/location: us-central1\n  annotations:\n    run.googleapis.com/invoker-iam-disabled: true\nspec:\n  template:\n    spec:\n      containers:\n      - image: {HELLO}\n"
    );
    let (status, replaced) = call_yaml(&h, ALICE, Method::PUT, &format!("{V1}/hello"), yaml).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        replaced["metadata"]["annotations"]["run.googleapis.com/invoker-iam-disabled"],
        "true"
    );
    let (_, v2) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/hello"), None)
        .await;
    assert_eq!(v2["invokerIamDisabled"], true);

    // Created through v1 (JSON), seen through v2; listed by both.
    let created = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "from-v1", "labels": {"cloud.googleapis.com/location": "us-central1"}},
        "spec": {"template": {"spec": {"containers": [{"image": HELLO}], "containerConcurrency": 10}}},
    });
    let (status, out) = h.call(ALICE, Method::POST, V1, Some(created)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let (status, v2) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/from-v1"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v2["template"]["maxInstanceRequestConcurrency"], 10);
    let (_, list) = h.call(ALICE, Method::GET, V1, None).await;
    assert_eq!(list["kind"], "ServiceList");
    let (_, selected) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V1}?labelSelector=cloud.googleapis.com%2Flocation%3Dus-central1"),
            None,
        )
        .await;
    assert_eq!(selected["items"].as_array().unwrap().len(), 2, "{selected}");
    let (_, none) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V1}?labelSelector=team"),
            None,
        )
        .await;
    assert!(none.get("items").is_none(), "{none}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // v1 refusals name the v1 resource.
    let (status, denied) = h.call(BOB, Method::GET, &format!("{V1}/hello"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied["error"]["message"],
        "Permission 'run.services.get' denied on resource 'namespaces/demo-project/services/hello' (or it may not exist)."
    );

    // v1 IAM methods act on the same policy as v2.
    let policy = json!({"policy": {"bindings": [{"role": "roles/run.invoker", "members": ["user:bob@example.com"]}]}});
    let path = "/v1/projects/demo-project/locations/us-central1/services/hello";
    let (status, set) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{path}:setIamPolicy"),
            Some(policy),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (_, got) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V2}/services/hello:getIamPolicy"),
            None,
        )
        .await;
    assert_eq!(got["bindings"][0]["members"][0], "user:bob@example.com");
    let (_, tested) = h
        .call(
            BOB,
            Method::POST,
            &format!("{path}:testIamPermissions"),
            Some(json!({"permissions": ["run.routes.invoke", "run.services.delete"]})),
        )
        .await;
    assert_eq!(tested["permissions"], json!(["run.routes.invoke"]));

    // Delete through v1.
    let (status, deleted) = h
        .call(ALICE, Method::DELETE, &format!("{V1}/from-v1"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["status"], "Success");
    assert_eq!(
        h.call(ALICE, Method::GET, &format!("{V2}/services/from-v1"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// For every method: without the permission 403; with the smallest predefined role, success.
#[tokio::test]
async fn permission_matrix() {
    struct Case {
        method: Method,
        path: &'static str,
        body: Option<Value>,
        roles: &'static [&'static str],
        permission: &'static str,
    }
    let setup = harness;
    let cases = [
        Case {
            method: Method::GET,
            path: "/services/hello",
            body: None,
            roles: &["roles/run.viewer"],
            permission: "run.services.get",
        },
        Case {
            method: Method::GET,
            path: "/services",
            body: None,
            roles: &["roles/run.viewer"],
            permission: "run.services.list",
        },
        Case {
            method: Method::POST,
            path: "/services?serviceId=fresh",
            body: Some(body(HELLO)),
            roles: &["roles/run.developer", "roles/iam.serviceAccountUser"],
            permission: "run.services.create",
        },
        Case {
            method: Method::PATCH,
            path: "/services/hello",
            body: Some(body(HELLO)),
            roles: &["roles/run.developer", "roles/iam.serviceAccountUser"],
            permission: "run.services.update",
        },
        Case {
            method: Method::DELETE,
            path: "/services/hello",
            body: None,
            roles: &["roles/run.developer"],
            permission: "run.services.delete",
        },
        Case {
            method: Method::GET,
            path: "/services/hello:getIamPolicy",
            body: None,
            roles: &["roles/run.viewer"],
            permission: "run.services.getIamPolicy",
        },
        Case {
            method: Method::POST,
            path: "/services/hello:setIamPolicy",
            body: Some(json!({"policy": {"bindings": []}})),
            roles: &["roles/run.admin"],
            permission: "run.services.setIamPolicy",
        },
        Case {
            method: Method::GET,
            path: "/services/hello/revisions",
            body: None,
            roles: &["roles/run.viewer"],
            permission: "run.revisions.list",
        },
        Case {
            method: Method::GET,
            path: "/operations",
            body: None,
            roles: &["roles/run.viewer"],
            permission: "run.operations.list",
        },
    ];
    for case in cases {
        let h = setup();
        assert_eq!(
            create(&h, ALICE, "hello", body(HELLO)).await.0,
            StatusCode::OK
        );
        let path = format!("{V2}{}", case.path);
        let (status, denied) = h
            .call(BOB, case.method.clone(), &path, case.body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{} {path}: {denied}",
            case.method
        );
        assert!(
            denied["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Permission '{}' denied", case.permission)),
            "{path}: {denied}"
        );
        for role in case.roles {
            h.grant_on_project(role, BOB);
        }
        let (status, allowed) = h
            .call(BOB, case.method.clone(), &path, case.body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{} {path} with {:?}: {allowed}",
            case.method,
            case.roles
        );
    }
    // Revisions and operations by name.
    let h = setup();
    let (_, operation) = create(&h, ALICE, "hello", body(HELLO)).await;
    let revision = operation["response"]["latestReadyRevision"]
        .as_str()
        .unwrap()
        .to_owned();
    let operation = operation["name"].as_str().unwrap().to_owned();
    for (path, permission) in [
        (format!("/v2/{revision}"), "run.revisions.get"),
        (format!("/v2/{operation}"), "run.operations.get"),
    ] {
        let (status, denied) = h.call(BOB, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{denied}");
        assert!(
            denied["error"]["message"]
                .as_str()
                .unwrap()
                .contains(permission)
        );
    }
    h.grant_on_project("roles/run.viewer", BOB);
    assert_eq!(
        h.call(BOB, Method::GET, &format!("/v2/{revision}"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        h.call(BOB, Method::GET, &format!("/v2/{operation}"), None)
            .await
            .0,
        StatusCode::OK
    );
    // testIamPermissions needs no permission.
    let (status, tested) = h
        .call(
            "user:carol@example.com",
            Method::POST,
            &format!("{V2}/services/hello:testIamPermissions"),
            Some(json!({"permissions": ["run.services.get"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(tested.get("permissions").is_none());
}

const REQUIRE_INVOKER_IAM: &str = "Operation denied by custom org policy: [\"constraints/run.managed.requireInvokerIam\": \"When enforced, this constraint requires the IAM invoker check to be enabled on Cloud Run services.\nIf this constraint is not enforced, you can set the service.invoker_iam_disabled field (v2), or the run.googleapis.com/invoker-iam-disabled annotation (v1) on Cloud Run services to True. The invoker_iam_disabled field is currently available by invitation-only and will not be broadly available until after March 21, 2025. It's still possible to achieve a similar result by granting the run.routes.invoke permission to allUsers.\"].";

#[tokio::test]
async fn disabling_the_invoker_check_needs_set_iam_policy_and_the_org_policys_consent() {
    let h = harness();
    deployer(&h, BOB);
    assert_eq!(
        create(&h, BOB, "hello", body(HELLO)).await.0,
        StatusCode::OK
    );
    let (_, current) = h
        .call(BOB, Method::GET, &format!("{V2}/services/hello"), None)
        .await;
    let mut public = current.clone();
    public["invokerIamDisabled"] = json!(true);
    let (status, denied) = h
        .call(
            BOB,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(public.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied["error"]["message"],
        "Permission 'run.services.setIamPolicy' denied on resource 'projects/demo-project/locations/us-central1/services/hello' (or it may not exist)."
    );
    // Changing anything else needs no setIamPolicy.
    let mut other = current.clone();
    other["labels"] = json!({"team": "a"});
    let (status, relabeled) = h
        .call(
            BOB,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(other),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{relabeled}");

    // run.admin may, unless the organization (inherited) or the project requires the check.
    h.grant_on_project("roles/run.admin", BOB);
    let org = format!("organizations/{}", h.organization.id);
    set_org_policy(&h, &org, "run.managed.requireInvokerIam", true);
    let (_, current) = h
        .call(BOB, Method::GET, &format!("{V2}/services/hello"), None)
        .await;
    let mut public = current.clone();
    public["invokerIamDisabled"] = json!(true);
    let (status, refused) = h
        .call(
            BOB,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(public.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(refused["error"]["message"], REQUIRE_INVOKER_IAM);
    // v1 YAML is refused the same way.
    let yaml = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\n  annotations:\n    run.googleapis.com/invoker-iam-disabled: 'true'\nspec:\n  template:\n    spec:\n      containers:\n      - image: {HELLO}\n"
    );
    let (status, refused) =
        call_yaml(&h, BOB, Method::PUT, &format!("{V1}/hello"), yaml.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["message"], REQUIRE_INVOKER_IAM);
    // A project exception lifts it.
    set_org_policy(
        &h,
        "projects/demo-project",
        "run.managed.requireInvokerIam",
        false,
    );
    let (status, done) = call_yaml(&h, BOB, Method::PUT, &format!("{V1}/hello"), yaml).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // Enforced on the project itself: creating a public service is refused too.
    set_org_policy(
        &h,
        "projects/demo-project",
        "run.managed.requireInvokerIam",
        true,
    );
    let mut fresh = body(HELLO);
    fresh["invokerIamDisabled"] = json!(true);
    let (status, refused) = create(&h, BOB, "public", fresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"]["message"], REQUIRE_INVOKER_IAM);
}

#[tokio::test]
async fn act_as_is_needed_on_the_runtime_service_account() {
    let h = harness();
    h.grant_on_project("roles/run.developer", BOB);
    let (status, denied) = create(&h, BOB, "hello", body(HELLO)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied["error"]["message"],
        format!(
            "Permission 'iam.serviceaccounts.actAs' denied on service account {}-compute@developer.gserviceaccount.com (or it may not exist).",
            h.project.number
        )
    );
    // A grant on the account itself is enough.
    let compute = format!("{}-compute@developer.gserviceaccount.com", h.project.number);
    h.control
        .grant_roles(
            &ResourceRef::ServiceAccount {
                project: "demo-project".into(),
                email: compute.clone(),
            },
            &[("roles/iam.serviceAccountUser", BOB.to_owned())],
        )
        .unwrap();
    assert_eq!(
        create(&h, BOB, "hello", body(HELLO)).await.0,
        StatusCode::OK
    );
    // An account that does not exist is refused with the same text, even for an owner.
    let mut missing = body(HELLO);
    missing["template"]["serviceAccount"] = json!("ghost@demo-project.iam.gserviceaccount.com");
    let (status, denied) = create(&h, ALICE, "ghost", missing).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied["error"]["message"],
        "Permission 'iam.serviceaccounts.actAs' denied on service account ghost@demo-project.iam.gserviceaccount.com (or it may not exist)."
    );
}

#[tokio::test]
async fn cross_project_service_accounts() {
    let h = harness();
    let other = h
        .control
        .provision_project(NewProject {
            project_id: "other-project".into(),
            display_name: "Other".into(),
            parent: Some(format!("organizations/{}", h.organization.id)),
            labels: Default::default(),
            owner: Some(ALICE.into()),
        })
        .unwrap();
    let runner = "runner@other-project.iam.gserviceaccount.com";
    h.control
        .commit(&[h
            .control
            .service_account_write("other-project", runner, "Runner")
            .unwrap()])
        .unwrap();
    let mut spec = body(HELLO);
    spec["template"]["serviceAccount"] = json!(runner);

    // Enforced by default on the account's project.
    let (status, refused) = create(&h, ALICE, "hello", spec.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["status"], "FAILED_PRECONDITION");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("iam.disableCrossProjectServiceAccountUsage")
    );

    // Allowed there, the deploying project's service agent still needs a token creator grant.
    set_org_policy(
        &h,
        "projects/other-project",
        "iam.disableCrossProjectServiceAccountUsage",
        false,
    );
    let (status, refused) = create(&h, ALICE, "hello", spec.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let agent = format!(
        "service-{}@serverless-robot-prod.iam.gserviceaccount.com",
        h.project.number
    );
    assert_eq!(
        refused["error"]["message"],
        format!(
            "Google Cloud Run Service Agent does not have permission to get access tokens for the service account {runner}. Please give {agent} permission iam.serviceAccounts.getAccessToken on the service account. Alternatively, if the service account is unspecified or in the same project you are deploying in, ensure that the Service Agent is assigned the Google Cloud Run Service Agent role roles/run.serviceAgent."
        )
    );
    h.control
        .grant_roles(
            &ResourceRef::ServiceAccount {
                project: other.id.clone(),
                email: runner.into(),
            },
            &[(
                "roles/iam.serviceAccountTokenCreator",
                format!("serviceAccount:{agent}"),
            )],
        )
        .unwrap();
    let (status, created) = create(&h, ALICE, "hello", spec).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let revision = created["response"]["latestReadyRevision"].as_str().unwrap();
    let (_, revision) = h
        .call(ALICE, Method::GET, &format!("/v2/{revision}"), None)
        .await;
    assert_eq!(revision["serviceAccount"], runner);
}

const IMAGE: &str =
    "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/my-cloud-run-app:latest";

#[tokio::test]
async fn image_access_is_enforced() {
    let h = harness();
    create_repository(&h, "demo-project", "asia-northeast1", "docker-repo");
    deployer(&h, BOB);
    let (status, refused) = create(&h, BOB, "app", body(IMAGE)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        format!(
            "User must have permission to read the image, {IMAGE}. Ensure that the provided container image URL is correct and that the above account has permission to access the image. If you just enabled the Cloud Run API, the permissions might take a few minutes to propagate."
        )
    );
    h.grant_on_project("roles/artifactregistry.reader", BOB);
    assert_eq!(create(&h, BOB, "app", body(IMAGE)).await.0, StatusCode::OK);
    // A repository that does not exist.
    let missing = "asia-northeast1-docker.pkg.dev/demo-project/nope/app:1";
    let (status, refused) = create(&h, BOB, "app2", body(missing)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        format!("Image '{missing}' not found.")
    );
}

#[tokio::test]
async fn image_access_warns_before_enforcement_and_the_seed_query_finds_it() {
    let h = warn_harness();
    create_repository(&h, "demo-project", "asia-northeast1", "docker-repo");
    deployer(&h, BOB);
    let (status, created) = create(&h, BOB, "my-cloud-run-app", body(IMAGE)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let filter = kumo_logfilter::Filter::parse(
        "resource.type = \"cloud_run_revision\"\nseverity=ERROR\n\"User does not have access to image\"",
    )
    .unwrap();
    let mut found = Vec::new();
    h.control
        .store()
        .query_log(
            &kumo_store::LogQuery {
                limit: 100,
                ..Default::default()
            },
            &mut |entry| {
                let hit = filter.matches(entry);
                if hit {
                    found.push(entry.clone());
                }
                hit
            },
        )
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let status = &found[0]["protoPayload"]["status"];
    assert_eq!(status["code"], 403);
    assert_eq!(
        status["message"],
        format!(
            "Cloud Run API check failed. Requests will be rejected after January 2025 hard enforcement deadline. User does not have access to image {IMAGE}"
        )
    );
    assert_eq!(
        found[0]["resource"]["labels"]["service_name"],
        "my-cloud-run-app"
    );
    // With read access there is no new warning.
    h.grant_on_project("roles/artifactregistry.reader", BOB);
    assert_eq!(
        create(&h, BOB, "my-cloud-run-app-2", body(IMAGE)).await.0,
        StatusCode::OK
    );
    let mut count = 0;
    h.control
        .store()
        .query_log(
            &kumo_store::LogQuery {
                limit: 100,
                ..Default::default()
            },
            &mut |entry| {
                let hit = filter.matches(entry);
                count += usize::from(hit);
                hit
            },
        )
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn every_call_is_audited() {
    let h = harness();
    assert_eq!(
        create(&h, ALICE, "hello", body(HELLO)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        h.call(BOB, Method::GET, &format!("{V2}/services/hello"), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.call(ALICE, Method::GET, &format!("{V1}/hello"), None)
            .await
            .0,
        StatusCode::OK
    );
    let mut entries = Vec::new();
    h.control
        .store()
        .query_log(
            &kumo_store::LogQuery {
                limit: 100,
                ..Default::default()
            },
            &mut |entry| {
                entries.push(entry.clone());
                true
            },
        )
        .unwrap();
    let find = |method: &str| {
        entries
            .iter()
            .find(|entry| entry["protoPayload"]["methodName"] == method)
            .cloned()
    };
    let created = find("google.cloud.run.v2.Services.CreateService").unwrap();
    assert_eq!(
        created["protoPayload"]["resourceName"],
        "projects/demo-project/locations/us-central1/services/hello"
    );
    assert_eq!(created["resource"]["type"], "cloud_run_revision");
    assert_eq!(
        created["logName"],
        "projects/demo-project/logs/cloudaudit.googleapis.com%2Factivity"
    );
    let permissions: Vec<&str> = created["protoPayload"]["authorizationInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|info| info["permission"].as_str().unwrap())
        .collect();
    assert_eq!(
        permissions,
        ["run.services.create", "iam.serviceAccounts.actAs"]
    );
    let denied = find("google.cloud.run.v2.Services.GetService").unwrap();
    assert_eq!(denied["severity"], "ERROR");
    assert_eq!(
        denied["protoPayload"]["authenticationInfo"]["principalEmail"],
        "bob@example.com"
    );
    let v1 = find("google.cloud.run.v1.Services.GetService").unwrap();
    assert_eq!(
        v1["protoPayload"]["resourceName"],
        "namespaces/demo-project/services/hello"
    );
}

#[tokio::test]
async fn a_revision_that_fails_to_start_fails_the_operation_and_keeps_the_previous_one_serving() {
    let h = harness();
    create_repository(&h, "demo-project", "us", "docker-repo");
    let (status, operation) = create(&h, ALICE, "app", body(CRASH)).await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["done"], true);
    assert_eq!(operation["error"]["code"], 9, "{operation}");
    assert!(operation.get("response").is_none());
    let (_, service) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/app"), None)
        .await;
    assert_eq!(
        service["terminalCondition"]["state"], "CONDITION_FAILED",
        "{service}"
    );
    assert!(service.get("latestReadyRevision").is_none(), "{service}");
    let created = service["latestCreatedRevision"].as_str().unwrap();
    let (_, revision) = h
        .call(ALICE, Method::GET, &format!("/v2/{created}"), None)
        .await;
    assert_eq!(revision["conditions"][0]["type"], "Ready");
    assert_eq!(revision["conditions"][0]["state"], "CONDITION_FAILED");
    // The service names the revision (as gcloud's ERROR line shows it); the revision says why.
    let why = revision["conditions"][0]["message"].as_str().unwrap();
    assert!(
        why.starts_with("The user-provided container failed to start and listen on the port"),
        "{revision}"
    );
    let id = created.rsplit('/').next().unwrap();
    let named = format!("Revision '{id}' is not ready and cannot serve traffic. {why}");
    assert_eq!(service["terminalCondition"]["message"], named.as_str());
    assert_eq!(operation["error"]["message"], named.as_str());
    assert_eq!(service["conditions"][1]["type"], "ConfigurationsReady");
    assert_eq!(service["conditions"][1]["message"], why);

    // A working revision, then a failing one: the working one keeps serving.
    let mut working = service.clone();
    working["template"]["containers"][0]["image"] = json!(HELLO);
    let (_, fixed) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/app"),
            Some(working),
        )
        .await;
    let serving = fixed["response"]["latestReadyRevision"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, mut broken) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/app"), None)
        .await;
    broken["template"]["containers"][0]["image"] = json!(CRASH);
    let (_, failed) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/app"),
            Some(broken),
        )
        .await;
    assert_eq!(failed["error"]["code"], 9, "{failed}");
    let (_, service) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/app"), None)
        .await;
    assert_eq!(service["latestReadyRevision"], serving.as_str());
    assert_ne!(service["latestCreatedRevision"], serving.as_str());
}

#[tokio::test]
async fn allowed_ingress_org_policy() {
    let h = harness();
    let policy = kumo_orgpolicy::Policy {
        name: "projects/demo-project/policies/run.allowedIngress".into(),
        spec: Some(kumo_orgpolicy::PolicySpec {
            rules: vec![kumo_orgpolicy::PolicyRule {
                kind: kumo_orgpolicy::RuleKind::Values {
                    allowed_values: vec!["internal".into()],
                    denied_values: vec![],
                },
                condition: None,
            }],
            ..Default::default()
        }),
        dry_run_spec: None,
        etag: String::new(),
    };
    h.control
        .commit(&[kumo_store::Write::Upsert {
            collection: "org_policies".into(),
            name: policy.name.clone(),
            parent: Some("projects/demo-project".into()),
            data: serde_json::to_value(&policy).unwrap(),
        }])
        .unwrap();
    let (status, refused) = create(&h, ALICE, "hello", body(HELLO)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(
        refused["error"]["message"],
        "Constraint constraints/run.allowedIngress violated for projects/demo-project with ingress set to all."
    );
    let mut internal = body(HELLO);
    internal["ingress"] = json!("INGRESS_TRAFFIC_INTERNAL_ONLY");
    let (status, created) = create(&h, ALICE, "hello", internal).await;
    assert_eq!(status, StatusCode::OK, "{created}");
}

#[tokio::test]
async fn images_of_another_project_need_the_deployer_and_the_service_agent() {
    let h = harness();
    h.control
        .provision_project(NewProject {
            project_id: "images".into(),
            display_name: "Images".into(),
            parent: Some(format!("organizations/{}", h.organization.id)),
            labels: Default::default(),
            owner: Some(ALICE.into()),
        })
        .unwrap();
    create_repository(&h, "images", "us", "shared");
    let image = "us-docker.pkg.dev/images/shared/app:1";
    deployer(&h, BOB);
    let (status, refused) = create(&h, BOB, "app", body(image)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("Note that the image is from project images, which is not the same as this project demo-project."),
        "{refused}"
    );
    h.control
        .grant_roles(
            &ResourceRef::Project("images".into()),
            &[("roles/artifactregistry.reader", BOB.to_owned())],
        )
        .unwrap();
    let (status, refused) = create(&h, BOB, "app", body(image)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused["error"]["message"],
        format!(
            "Google Cloud Run Service Agent must have permission to read the image, {image}. Ensure that the provided container image URL is correct and that above account has permission to access the image. If you just enabled the Cloud Run API, the permissions might take a few minutes to propagate. Note that shared/app is not in project demo-project. Permission must be granted to the Google Cloud Run Service Agent from this project."
        )
    );
    let agent = format!(
        "serviceAccount:service-{}@serverless-robot-prod.iam.gserviceaccount.com",
        h.project.number
    );
    h.control
        .grant_roles(
            &ResourceRef::Project("images".into()),
            &[("roles/artifactregistry.reader", agent)],
        )
        .unwrap();
    let (status, created) = create(&h, BOB, "app", body(image)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
}

/// method, path, body, the smallest roles that allow it, the permission refused without them.
type MatrixCase = (
    Method,
    String,
    Option<Value>,
    &'static [&'static str],
    &'static str,
);

/// The v1 methods and the remaining v2 ones, walked the same way as [`permission_matrix`].
#[tokio::test]
async fn permission_matrix_v1_and_by_name() {
    let v1_service = |name: &str| {
        json!({
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": {"cloud.googleapis.com/location": "us-central1"}},
            "spec": {"template": {"spec": {"containers": [{"image": HELLO}]}}},
        })
    };
    let iam = "/v1/projects/demo-project/locations/us-central1/services/hello";
    let cases: Vec<MatrixCase> = vec![
        (
            Method::GET,
            format!("{V1}/hello"),
            None,
            &["roles/run.viewer"],
            "run.services.get",
        ),
        (
            Method::GET,
            V1.to_owned(),
            None,
            &["roles/run.viewer"],
            "run.services.list",
        ),
        (
            Method::POST,
            V1.to_owned(),
            Some(v1_service("fresh")),
            &["roles/run.developer", "roles/iam.serviceAccountUser"],
            "run.services.create",
        ),
        (
            Method::PUT,
            format!("{V1}/hello"),
            Some(v1_service("hello")),
            &["roles/run.developer", "roles/iam.serviceAccountUser"],
            "run.services.update",
        ),
        (
            Method::DELETE,
            format!("{V1}/hello"),
            None,
            &["roles/run.developer"],
            "run.services.delete",
        ),
        (
            Method::GET,
            format!("{iam}:getIamPolicy"),
            None,
            &["roles/run.viewer"],
            "run.services.getIamPolicy",
        ),
        (
            Method::POST,
            format!("{iam}:setIamPolicy"),
            Some(json!({"policy": {"bindings": []}})),
            &["roles/run.admin"],
            "run.services.setIamPolicy",
        ),
    ];
    for (method, path, request, roles, permission) in cases {
        let h = harness();
        assert_eq!(
            create(&h, ALICE, "hello", body(HELLO)).await.0,
            StatusCode::OK
        );
        let (status, denied) = h.call(BOB, method.clone(), &path, request.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {denied}");
        assert!(
            denied["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Permission '{permission}' denied")),
            "{path}: {denied}"
        );
        for role in roles {
            h.grant_on_project(role, BOB);
        }
        let (status, allowed) = h.call(BOB, method.clone(), &path, request).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} {path} with {roles:?}: {allowed}"
        );
    }

    // v2 by name: deleting an old revision, deleting and waiting on an operation.
    let h = harness();
    let (_, first) = create(&h, ALICE, "hello", body(HELLO)).await;
    let old = first["response"]["latestReadyRevision"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, got) = h
        .call(ALICE, Method::GET, &format!("{V2}/services/hello"), None)
        .await;
    let mut changed = got.clone();
    changed["template"]["containers"][0]["args"] = json!(["x"]);
    let (_, second) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(changed),
        )
        .await;
    let operation = second["name"].as_str().unwrap().to_owned();
    let by_name: Vec<(Method, String, Option<Value>, &str, &str)> = vec![
        (
            Method::POST,
            format!("/v2/{operation}:wait"),
            Some(json!({"timeout": "1s"})),
            "roles/run.viewer",
            "run.operations.get",
        ),
        (
            Method::DELETE,
            format!("/v2/{old}"),
            None,
            "roles/run.developer",
            "run.revisions.delete",
        ),
        (
            Method::DELETE,
            format!("/v2/{operation}"),
            None,
            "roles/run.developer",
            "run.operations.delete",
        ),
    ];
    for (index, (method, path, request, role, permission)) in by_name.into_iter().enumerate() {
        let user = format!("user:dan{index}@example.com");
        let (status, denied) = h.call(&user, method.clone(), &path, request.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {denied}");
        assert!(
            denied["error"]["message"]
                .as_str()
                .unwrap()
                .contains(permission),
            "{denied}"
        );
        h.grant_on_project(role, &user);
        let (status, allowed) = h.call(&user, method.clone(), &path, request).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} {path} with {role}: {allowed}"
        );
    }
}

#[tokio::test]
async fn urls_route_back_to_their_service() {
    let h = harness();
    let (_, first) = create(&h, ALICE, "hello", body(HELLO)).await;
    let (_, second) = create(&h, ALICE, "other", body(HELLO)).await;
    let name = "projects/demo-project/locations/us-central1/services/hello";
    let urls: Vec<String> = first["response"]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|url| url.as_str().unwrap().to_owned())
        .collect();
    let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    assert_eq!(
        h.control
            .service_for_port(port(&urls[0]))
            .unwrap()
            .as_deref(),
        Some(name)
    );
    assert_ne!(
        urls[0],
        second["response"]["uri"].as_str().unwrap(),
        "ports are per service"
    );
    for url in &urls[1..] {
        let host = url.strip_prefix("http://").unwrap();
        assert_eq!(
            h.control.service_for_host(host).unwrap().as_deref(),
            Some(name),
            "{host}"
        );
    }
    assert_eq!(
        h.control
            .service_for_host("nope-123.us-central1.run.localhost")
            .unwrap(),
        None
    );
    assert_eq!(h.control.service_for_host("example.com").unwrap(), None);
    // Deleting the service releases its port and hosts.
    assert_eq!(
        h.call(ALICE, Method::DELETE, &format!("{V2}/services/hello"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(h.control.service_for_port(port(&urls[0])).unwrap(), None);
    assert_eq!(
        h.control
            .service_for_host(urls[2].strip_prefix("http://").unwrap())
            .unwrap(),
        None
    );
}
