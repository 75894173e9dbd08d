//! The permission matrix of the jobs, Artifact Registry and Logging routes: for every route, a
//! caller without anything is refused with the route's permission, and the smallest predefined
//! role holding that permission (granted on the project) gets past it.

#![expect(clippy::unwrap_used, reason = "test set-up fails loudly")]

use axum::http::{Method, StatusCode};
use kumo_api::routes::ROUTES;
use kumo_api::testing::Harness;
use serde_json::{Value, json};

const ALICE: &str = "user:alice@example.com";
const SAMPLE: &str = "us-docker.pkg.dev/cloudrun/container/job";
const IMAGE: &str = "us-central1-docker.pkg.dev/demo-project/r/app";

/// What the routes under test are about.
fn mine(rpc: &str) -> bool {
    [
        "google.cloud.run.v2.Jobs.",
        "google.cloud.run.v2.Executions.",
        "google.cloud.run.v2.Tasks.",
        "google.cloud.run.v1.Jobs.",
    ]
    .iter()
    .any(|prefix| rpc.starts_with(prefix))
        || rpc.starts_with("google.devtools.artifactregistry.")
        || rpc.starts_with("google.logging.")
        || rpc.starts_with("kumo.artifactregistry.")
}

/// A job `j` with one finished execution, a repository `r` with one image, and log entries.
async fn fixtures(h: &Harness) -> (String, String, String) {
    h.load_images(&json!({"images": {SAMPLE: {"entrypoint": ["sh", "-c", "exit 0"]}}}));
    let job = json!({"template": {"template": {"containers": [{"image": SAMPLE}]}}});
    let v2 = "/v2/projects/demo-project/locations/us-central1";
    assert_eq!(
        h.call(
            ALICE,
            Method::POST,
            &format!("{v2}/jobs?jobId=j"),
            Some(job)
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, op) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{v2}/jobs/j:run"),
            Some(json!({})),
        )
        .await;
    let execution_name = op["metadata"]["name"].as_str().unwrap().to_owned();
    h.control
        .wait_execution(&execution_name, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let execution = execution_name.rsplit('/').next().unwrap().to_owned();
    let task = format!("{execution}-task0");
    let repos = "/v1/projects/demo-project/locations/us-central1/repositories";
    assert_eq!(
        h.call(
            ALICE,
            Method::POST,
            &format!("{repos}?repositoryId=r"),
            Some(json!({"format": "DOCKER"}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, image) = h
        .call(
            ALICE,
            Method::POST,
            "/kumo/v1/projects/demo-project/locations/us-central1/repositories/r/dockerImages",
            Some(json!({"uri": format!("{IMAGE}:v1")})),
        )
        .await;
    let image = image["name"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .replace(':', "%3A");
    (execution, task, image)
}

fn body_for(rpc: &str) -> Option<Value> {
    let job = json!({"template": {"template": {"containers": [{"image": SAMPLE}]}}});
    let v1_job = json!({"apiVersion": "run.googleapis.com/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"cloud.googleapis.com/location": "us-central1"}},
        "spec": {"template": {"spec": {"template": {"spec": {"containers": [{"image": SAMPLE}]}}}}}});
    Some(match rpc.rsplit('.').next().unwrap() {
        "CreateJob" | "UpdateJob" if rpc.contains(".v2.") => job,
        "CreateJob" => {
            let mut other = v1_job;
            other["metadata"]["name"] = json!("other");
            other
        }
        "ReplaceJob" => v1_job,
        "RunJob" | "CancelExecution" => json!({}),
        "SetIamPolicy" => json!({"policy": {}}),
        "TestIamPermissions" => json!({"permissions": []}),
        "CreateRepository" => json!({"format": "DOCKER"}),
        "UpdateRepository" => json!({"description": "x"}),
        "PushDockerImage" => json!({"uri": format!("{IMAGE}:v2")}),
        "ListLogEntries" => json!({"resourceNames": ["projects/demo-project"]}),
        "WriteLogEntries" => {
            json!({"logName": "projects/demo-project/logs/x", "resource": {"type": "global"}, "entries": [{"textPayload": "x"}]})
        }
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_is_refused_without_its_permission_and_passes_with_the_smallest_role() {
    let h = Harness::new();
    let (execution, task, image) = fixtures(&h).await;
    let catalog_engine = h.control.engine();
    let catalog = catalog_engine.catalog();
    let mut checked = 0;
    for (index, route) in ROUTES
        .iter()
        .enumerate()
        .filter(|(_, route)| mine(route.rpc))
    {
        let Some(permission) = route.permission else {
            continue;
        };
        let path = route
            .template
            .replace("{project}", "demo-project")
            .replace("{namespace}", "demo-project")
            .replace("{location}", "us-central1")
            .replace("{job}", "j")
            .replace("{execution}", &execution)
            .replace("{task}", &task)
            .replace("{repository}", "r")
            .replace("{image}", &image)
            .replace("{folder}", "0")
            .replace("{organization}", &h.organization.id);
        let path = match route.rpc.rsplit('.').next().unwrap() {
            "CreateJob" if route.rpc.contains(".v2.") => format!("{path}?jobId=other"),
            "CreateRepository" => format!("{path}?repositoryId=other"),
            _ => path,
        };
        if path.contains("/folders/") || path.contains("/organizations/") {
            continue;
        }
        let member = format!("user:matrix{index}@example.com");
        let body = body_for(route.rpc);
        let (status, refused) = h
            .call(&member, route.method.clone(), &path, body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{} {path}: {refused}",
            route.method
        );
        // Methods that check two permissions (e.g. patch: get and update) may name the other
        // one first; the smallest roles for both are granted.
        let refused_for = refused["error"]["details"][0]["metadata"]["permission"]
            .as_str()
            .unwrap()
            .to_owned();
        for needed in [permission.to_owned(), refused_for] {
            let parsed: kumo_names::Permission = needed.parse().unwrap();
            let role = catalog
                .roles_granting(&parsed)
                .first()
                .map(|role| role.to_string())
                .unwrap_or_else(|| panic!("no role grants {needed}"));
            h.grant_on_project(&role, &member);
        }
        let role = "the smallest roles";
        let (status, answer) = h.call(&member, route.method.clone(), &path, body).await;
        if status == StatusCode::FORBIDDEN {
            assert!(
                !answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("'{permission}'")),
                "{} {path} with {role}: {answer}",
                route.method
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} routes checked");
}
