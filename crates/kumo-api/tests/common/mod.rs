//! Set-up shared by the in-process API tests: the callers, the sample image as a local HTTP
//! server, deploying a service and reading log entries back.

#![allow(dead_code, reason = "each test binary uses a different part")]

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

/// Owner of `demo-project`.
pub const ALICE: &str = "user:alice@example.com";
/// Administrator of the organization `example.com`.
pub const ADMIN: &str = "user:admin@example.com";
/// A user with no roles.
pub const BOB: &str = "user:bob@example.com";

/// Cloud Run's sample image.
pub const HELLO: &str = "us-docker.pkg.dev/cloudrun/container/hello";
/// The Cloud Run v2 location of `demo-project`.
pub const V2: &str = "/v2/projects/demo-project/locations/us-central1";

/// An image map entry running a tiny HTTP server on `$PORT`.
pub fn http_server() -> Value {
    json!({"entrypoint": ["sh", "-c", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1"]})
}

/// A v2 service with one container running `image`.
pub fn service(image: &str) -> Value {
    json!({"template": {"containers": [{"image": image}]}})
}

/// Creates service `id` in `demo-project` through v2 as `member`.
pub async fn create_service(
    h: &Harness,
    member: &str,
    id: &str,
    body: Value,
) -> (StatusCode, Value) {
    h.call(
        member,
        Method::POST,
        &format!("{V2}/services?serviceId={id}"),
        Some(body),
    )
    .await
}

/// The log entries of `demo-project` that `filter` selects, newest first, read as `ALICE`.
pub async fn newest_entries(h: &Harness, filter: &str) -> Vec<Value> {
    let (status, page) = h
        .call(
            ALICE,
            Method::POST,
            "/v2/entries:list",
            Some(
                json!({"resourceNames": ["projects/demo-project"], "filter": filter,
                "orderBy": "timestamp desc"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["entries"].as_array().cloned().unwrap_or_default()
}
