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
