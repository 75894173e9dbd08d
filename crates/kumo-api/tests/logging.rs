//! Cloud Logging v2: writing entries, reading them with the query language (seed 001's query
//! verbatim), ordering, paging, private Data Access logs and permission refusals.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

const ALICE: &str = "user:alice@example.com";
const BOB: &str = "user:bob@example.com";
const SEED_001_QUERY: &str = "resource.type = \"cloud_run_revision\"\nseverity=ERROR\n\"User does not have access to image\"";

fn revision_resource() -> Value {
    json!({"type": "cloud_run_revision", "labels": {"service_name": "my-cloud-run-app", "location": "asia-northeast1", "project_id": "demo-project"}})
}

/// The seed's pre-enforcement entry, plus decoys that each miss one of its three terms.
async fn write_seed_entries(h: &Harness) {
    let image = "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/my-cloud-run-app:latest";
    let message = format!(
        "Cloud Run API check failed. Requests will be rejected after January 2025 hard enforcement deadline. User does not have access to image {image}"
    );
    let audit = |severity: &str, kind: &str, message: &str| {
        json!({
            "logName": "projects/demo-project/logs/cloudaudit.googleapis.com%2Factivity",
            "resource": {"type": kind, "labels": {"project_id": "demo-project"}},
            "severity": severity,
            "timestamp": "2024-11-29T01:00:00Z",
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "methodName": "google.cloud.run.v1.Services.CreateService",
                "status": {"code": 403, "message": message},
            },
        })
    };
    let entries = vec![
        audit("ERROR", "cloud_run_revision", &message),
        audit("WARNING", "cloud_run_revision", &message),
        audit("ERROR", "cloud_run_job", &message),
        audit(
            "ERROR",
            "cloud_run_revision",
            "Revision failed to become ready.",
        ),
    ];
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            "/v2/entries:write",
            Some(json!({"entries": entries})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn list(h: &Harness, member: &str, request: Value) -> (StatusCode, Value) {
    h.call(member, Method::POST, "/v2/entries:list", Some(request))
        .await
}

#[tokio::test]
async fn the_seed_001_query_finds_exactly_the_image_access_error() {
    let h = Harness::new();
    write_seed_entries(&h).await;
    let (status, page) = list(
        &h,
        ALICE,
        json!({"resourceNames": ["projects/demo-project"], "filter": SEED_001_QUERY}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["severity"], "ERROR");
    assert_eq!(entries[0]["resource"]["type"], "cloud_run_revision");
    assert_eq!(entries[0]["protoPayload"]["status"]["code"], 403);
    // The same through the project number.
    let number = h.project.number.clone();
    let (_, page) = list(
        &h,
        ALICE,
        json!({"resourceNames": [format!("projects/{number}")], "filter": SEED_001_QUERY}),
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    // And through a log view, as `gcloud logging read --bucket --view` names it.
    let view = "projects/demo-project/locations/global/buckets/_Default/views/_AllLogs";
    let (status, page) = list(
        &h,
        ALICE,
        json!({"resourceNames": [view], "filter": SEED_001_QUERY}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn filters_order_and_pages() {
    let h = Harness::new();
    let entries: Vec<Value> = (0..7)
        .map(|i| {
            json!({
                "textPayload": format!("line {i}"),
                "timestamp": format!("2025-01-01T00:00:0{i}Z"),
                "severity": if i % 2 == 0 { "INFO" } else { "ERROR" },
                "jsonPayload": null,
                "labels": {"n": i.to_string()},
            })
        })
        .map(|mut entry: Value| {
            entry.as_object_mut().unwrap().remove("jsonPayload");
            entry
        })
        .collect();
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            "/v2/entries:write",
            Some(json!({"logName": "projects/demo-project/logs/app", "resource": revision_resource(), "entries": entries})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let table = [
        (
            "severity>=ERROR AND logName=\"projects/demo-project/logs/app\"",
            3,
        ),
        ("severity=INFO AND logName:\"logs/app\"", 4),
        ("textPayload:\"line\" AND NOT labels.n=3", 6),
        (
            "timestamp>=\"2025-01-01T00:00:02Z\" timestamp<\"2025-01-01T00:00:05Z\" logName:app",
            3,
        ),
        ("(labels.n=1 OR labels.n=2)", 2),
        ("\"line 6\"", 1),
        (
            "resource.labels.service_name=\"my-cloud-run-app\" textPayload:line",
            7,
        ),
    ];
    for (filter, expected) in table {
        let (status, page) = list(
            &h,
            ALICE,
            json!({"resourceNames": ["projects/demo-project"], "filter": filter, "pageSize": 100}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {page}");
        assert_eq!(
            page["entries"].as_array().map_or(0, Vec::len),
            expected,
            "{filter}: {page}"
        );
    }
    // Newest first, three at a time, until the end.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (status, page) = list(
            &h,
            ALICE,
            json!({"resourceNames": ["projects/demo-project"], "filter": "logName=\"projects/demo-project/logs/app\"", "orderBy": "timestamp desc", "pageSize": 3, "pageToken": token}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for entry in page["entries"].as_array().into_iter().flatten() {
            seen.push(entry["textPayload"].as_str().unwrap().to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..7)
            .rev()
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
    );
    let (status, logs) = h
        .call(ALICE, Method::GET, "/v2/projects/demo-project/logs", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{logs}");
    assert!(
        logs["logNames"]
            .as_array()
            .unwrap()
            .contains(&json!("projects/demo-project/logs/app")),
        "{logs}"
    );
    // Bad input.
    for request in [
        json!({"resourceNames": ["projects/demo-project"], "filter": "severity>=(ERROR"}),
        json!({"resourceNames": ["projects/demo-project"], "orderBy": "severity"}),
        json!({"resourceNames": []}),
        json!({"resourceNames": ["buckets/x"]}),
        json!({"resourceNames": ["projects/demo-project"], "pageSize": 1001}),
        json!({"resourceNames": ["projects/demo-project/locations/global/buckets/_Default"]}),
        json!({"resourceNames": ["projects/demo-project"], "bogus": 1}),
    ] {
        let (status, error) = list(&h, ALICE, request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {error}");
    }
}

#[tokio::test]
async fn reading_and_writing_need_their_permissions() {
    let h = Harness::new();
    write_seed_entries(&h).await;
    let (status, refused) =
        list(&h, BOB, json!({"resourceNames": ["projects/demo-project"]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused["error"]["message"],
        "Permission 'logging.logEntries.list' denied on resource 'projects/demo-project' (or it may not exist)."
    );
    let (status, _) = list(
        &h,
        BOB,
        json!({"resourceNames": ["projects/no-such-project"]}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an unknown project is refused, not revealed"
    );
    let write = json!({"logName": "projects/demo-project/logs/x", "resource": revision_resource(), "entries": [{"textPayload": "hi"}]});
    let (status, refused) = h
        .call(BOB, Method::POST, "/v2/entries:write", Some(write.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused["error"]["message"],
        "Permission 'logging.logEntries.create' denied on resource 'projects/demo-project' (or it may not exist)."
    );
    h.grant_on_project("roles/logging.logWriter", BOB);
    let (status, _) = h
        .call(BOB, Method::POST, "/v2/entries:write", Some(write))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Alice's reads were audited in the private Data Access log: a viewer does not see them,
    // a private log viewer does.
    let private = json!({"resourceNames": ["projects/demo-project"], "filter": "logName:\"data_access\"", "pageSize": 1000});
    h.grant_on_project("roles/logging.viewer", BOB);
    let (status, page) = list(&h, BOB, private.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.get("entries").is_none(), "{page}");
    let (_, page) = list(
        &h,
        BOB,
        json!({"resourceNames": ["projects/demo-project"], "filter": SEED_001_QUERY}),
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    h.grant_on_project("roles/logging.privateLogViewer", BOB);
    let (_, page) = list(&h, BOB, private).await;
    assert!(!page["entries"].as_array().unwrap().is_empty(), "{page}");
}
