//! The traffic of a Cloud Run v1 (Knative) service rendered from the stored v2 service.
//!
//! Shapes: google/cloud/run/v1 TrafficTarget ("latestRevision … If the field is set to true on
//! Status, this means that the Revision was resolved from the Service's latest ready revision";
//! `revisionName` and `latestRevision` are mutually exclusive on the spec) and
//! `gcloud run services describe --format yaml`, whose status reads
//! `- latestRevision: true / percent: 100 / revisionName: hello-00002-xyz`.
//! v2 `trafficStatuses[]` of a LATEST target carry no `revision` (UNCONFIRMED beyond third-party
//! fixtures of real responses: `{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}`).
#![expect(
    clippy::unwrap_used,
    reason = "tests: a parse failure should fail the test"
)]

use kumo_wire::{run_v1, run_v2};
use serde_json::json;

fn v2_service(traffic: serde_json::Value, statuses: serde_json::Value) -> run_v2::Service {
    serde_json::from_value(json!({
        "name": "projects/demo-project/locations/us-central1/services/hello",
        "uri": "https://hello-123456789012.us-central1.run.app",
        "latestReadyRevision": "projects/demo-project/locations/us-central1/services/hello/revisions/hello-00002-xyz",
        "latestCreatedRevision": "projects/demo-project/locations/us-central1/services/hello/revisions/hello-00002-xyz",
        "traffic": traffic,
        "trafficStatuses": statuses,
    }))
    .unwrap()
}

fn v1_traffic(svc: &run_v2::Service) -> (serde_json::Value, serde_json::Value) {
    let v1 = serde_json::to_value(run_v1::service_from_v2(svc, "123456789012")).unwrap();
    (
        v1["spec"]["traffic"].clone(),
        v1["status"]["traffic"].clone(),
    )
}

#[test]
fn latest_target_names_the_latest_ready_revision_in_status_only() {
    let svc = v2_service(
        json!([{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]),
        json!([{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]),
    );
    let (spec, status) = v1_traffic(&svc);
    assert_eq!(spec, json!([{"latestRevision": true, "percent": 100}]));
    assert_eq!(
        status,
        json!([{"revisionName": "hello-00002-xyz", "percent": 100, "latestRevision": true}])
    );
}

#[test]
fn split_with_tags_keeps_by_name_targets_and_resolves_latest() {
    let svc = v2_service(
        json!([
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "hello-00001-abc", "percent": 40, "tag": "blue"},
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 60, "tag": "green"}
        ]),
        json!([
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "hello-00001-abc", "percent": 40, "tag": "blue",
             "uri": "https://blue---hello-123456789012.us-central1.run.app"},
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 60, "tag": "green",
             "uri": "https://green---hello-123456789012.us-central1.run.app"}
        ]),
    );
    let (spec, status) = v1_traffic(&svc);
    assert_eq!(
        spec,
        json!([
            {"revisionName": "hello-00001-abc", "percent": 40, "tag": "blue"},
            {"percent": 60, "tag": "green", "latestRevision": true}
        ])
    );
    assert_eq!(
        status,
        json!([
            {"revisionName": "hello-00001-abc", "percent": 40, "tag": "blue",
             "url": "https://blue---hello-123456789012.us-central1.run.app"},
            {"revisionName": "hello-00002-xyz", "percent": 60, "tag": "green", "latestRevision": true,
             "url": "https://green---hello-123456789012.us-central1.run.app"}
        ])
    );
}

#[test]
fn latest_target_without_a_ready_revision_names_none() {
    let mut svc = v2_service(
        json!([{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]),
        json!([{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]),
    );
    svc.latest_ready_revision.clear();
    let (_, status) = v1_traffic(&svc);
    assert_eq!(status, json!([{"percent": 100, "latestRevision": true}]));
}
