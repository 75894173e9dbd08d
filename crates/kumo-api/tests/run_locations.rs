//! Cloud Run `projects.locations.list`: what gcloud's region prompt lists.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;

#[tokio::test]
async fn locations_are_listed_for_any_signed_in_caller_sorted_by_id() {
    let h = Harness::new();
    // bob has no role anywhere: listing regions needs no permission, only a signed-in caller.
    let (status, body) = h
        .call(
            "user:bob@example.com",
            Method::GET,
            "/v1/projects/demo-project/locations",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let locations = body["locations"].as_array().unwrap();
    let ids: Vec<&str> = locations
        .iter()
        .map(|l| l["locationId"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert!(ids.contains(&"asia-northeast1") && ids.contains(&"us-central1"));
    let tokyo = locations
        .iter()
        .find(|l| l["locationId"] == "asia-northeast1")
        .unwrap();
    assert_eq!(
        tokyo["name"],
        "projects/demo-project/locations/asia-northeast1"
    );
    assert_eq!(tokyo["displayName"], "Tokyo");
    assert_eq!(
        tokyo["labels"]["cloud.googleapis.com/region"],
        "asia-northeast1"
    );

    let (status, _) = h
        .call("", Method::GET, "/v1/projects/demo-project/locations", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
