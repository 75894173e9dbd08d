//! Golden shapes of the v1 views Kumo renders from stored v3/v2 resources: Resource Manager v1
//! projects and Cloud Run v1 executions and tasks. Provenance: tests/golden/PROVENANCE.md.
#![expect(
    clippy::unwrap_used,
    reason = "tests: a parse failure should fail the test"
)]

use kumo_wire::resource_manager::Project;
use kumo_wire::resource_manager_v1;

fn golden(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn v1_project_is_the_v3_project_seen_through_v1() {
    let v3: Project = serde_json::from_value(golden("resource_manager_project.json")).unwrap();
    let v1 = resource_manager_v1::project_from_v3(&v3);
    assert_eq!(
        serde_json::to_value(&v1).unwrap(),
        golden("resource_manager_v1_project.json")
    );
    // And the golden parses back into the same value (numbers as strings, enums by name).
    let parsed: resource_manager_v1::Project =
        serde_json::from_value(golden("resource_manager_v1_project.json")).unwrap();
    assert_eq!(parsed, v1);
}

#[test]
fn v1_project_states_and_parents() {
    let mut v3: Project = serde_json::from_value(golden("resource_manager_project.json")).unwrap();
    v3.state = Some(kumo_wire::resource_manager::State::DeleteRequested);
    v3.parent = "organizations/42".to_owned();
    let v1 = serde_json::to_value(resource_manager_v1::project_from_v3(&v3)).unwrap();
    assert_eq!(v1["lifecycleState"], "DELETE_REQUESTED");
    assert_eq!(
        v1["parent"],
        serde_json::json!({"type": "organization", "id": "42"})
    );
    assert!(resource_manager_v1::resource_id("bogus").is_none());
}

#[test]
fn v1_execution_and_task_are_the_stored_v2_records_seen_through_v1() {
    use kumo_wire::{run_v1, run_v2};
    let execution: run_v2::Execution =
        serde_json::from_value(golden("run_v2_execution.json")).unwrap();
    let v1 = run_v1::execution_from_v2(&execution, "123456789012");
    assert_eq!(
        serde_json::to_value(&v1).unwrap(),
        golden("run_v1_execution.json")
    );
    let parsed: run_v1::Execution =
        serde_json::from_value(golden("run_v1_execution.json")).unwrap();
    assert_eq!(parsed, v1);

    let task: run_v2::Task = serde_json::from_value(golden("run_v2_task.json")).unwrap();
    let v1 = run_v1::task_from_v2(&task, "123456789012");
    assert_eq!(
        serde_json::to_value(&v1).unwrap(),
        golden("run_v1_task.json")
    );
    let parsed: run_v1::Task = serde_json::from_value(golden("run_v1_task.json")).unwrap();
    assert_eq!(parsed, v1);
}

#[test]
fn v1_run_job_overrides_become_v2_overrides() {
    use kumo_wire::run_v1;
    let request: run_v1::RunJobRequest =
        serde_json::from_value(golden("run_v1_run_job_request.json")).unwrap();
    let v2 = run_v1::overrides_to_v2(request.overrides.as_ref().unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&v2).unwrap(),
        serde_json::json!({
            "containerOverrides": [{"name": "job", "args": ["--only", "today"],
                "env": [{"name": "MODE", "value": "fast"}]}],
            "taskCount": 3,
            "timeout": "120s"
        })
    );
    let delayed = run_v1::Overrides {
        delay_execution: Some(true),
        ..run_v1::Overrides::default()
    };
    assert!(run_v1::overrides_to_v2(&delayed).is_err());
    // Unknown fields are refused like every other v1 message.
    assert!(
        serde_json::from_value::<run_v1::RunJobRequest>(
            serde_json::json!({"overrides": {"bogus": 1}})
        )
        .is_err()
    );
}

/// A v2 Revision seen through v1: Knative's object with the template fields as annotations
/// and spec, the service labels, the creator, and v1 conditions.
#[test]
fn v1_revision_from_v2() {
    let v2: kumo_wire::run_v2::Revision = serde_json::from_value(serde_json::json!({
        "name": "projects/123/locations/us-central1/services/hello/revisions/hello-00002-xyz",
        "service": "projects/123/locations/us-central1/services/hello",
        "uid": "u-1", "generation": "2", "createTime": "2026-11-23T09:00:00Z",
        "creator": "alice@example.com",
        "scaling": {"maxInstanceCount": 3},
        "timeout": "300s",
        "serviceAccount": "sa@p.iam.gserviceaccount.com",
        "maxInstanceRequestConcurrency": 80,
        "containers": [{"image": "img", "ports": [{"name": "http1", "containerPort": 8080}]}],
        "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED",
                        "lastTransitionTime": "2026-11-23T09:00:05Z"}],
        "logUri": "http://logs"
    }))
    .unwrap();
    let v1 = serde_json::to_value(kumo_wire::run_v1::revision_from_v2(&v2, "123")).unwrap();
    assert_eq!(v1["apiVersion"], "serving.knative.dev/v1");
    assert_eq!(v1["kind"], "Revision");
    let meta = &v1["metadata"];
    assert_eq!(meta["name"], "hello-00002-xyz");
    assert_eq!(meta["namespace"], "123");
    assert_eq!(
        meta["selfLink"],
        "/apis/serving.knative.dev/v1/namespaces/123/revisions/hello-00002-xyz"
    );
    assert_eq!(meta["creationTimestamp"], "2026-11-23T09:00:00Z");
    assert_eq!(meta["labels"]["serving.knative.dev/service"], "hello");
    assert_eq!(meta["labels"]["serving.knative.dev/configuration"], "hello");
    assert_eq!(
        meta["labels"]["cloud.googleapis.com/location"],
        "us-central1"
    );
    assert_eq!(
        meta["annotations"]["serving.knative.dev/creator"],
        "alice@example.com"
    );
    assert_eq!(meta["annotations"]["autoscaling.knative.dev/maxScale"], "3");
    assert_eq!(v1["spec"]["containerConcurrency"], 80);
    assert_eq!(v1["spec"]["timeoutSeconds"], 300);
    assert_eq!(
        v1["spec"]["serviceAccountName"],
        "sa@p.iam.gserviceaccount.com"
    );
    assert_eq!(v1["spec"]["containers"][0]["image"], "img");
    assert_eq!(v1["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(v1["status"]["conditions"][0]["status"], "True");
    assert_eq!(v1["status"]["logUrl"], "http://logs");
    // It parses back as a v1 Revision (no field outside the v1 schema).
    let _: kumo_wire::run_v1::Revision = serde_json::from_value(v1).unwrap();
}
