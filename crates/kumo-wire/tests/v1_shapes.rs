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
