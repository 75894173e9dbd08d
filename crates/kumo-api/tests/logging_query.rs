//! The Logging query language through `entries:list`: Google's error text for a query that does
//! not parse, `source()` over the real resource hierarchy, regular expressions and grouped values.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

const ALICE: &str = "user:alice@example.com";

async fn list(h: &Harness, filter: &str) -> (StatusCode, Value) {
    h.call(
        ALICE,
        Method::POST,
        "/v2/entries:list",
        Some(
            json!({"resourceNames": ["projects/demo-project"], "filter": filter, "pageSize": 1000}),
        ),
    )
    .await
}

async fn write_app_entries(h: &Harness) {
    let entries: Vec<Value> = [
        "GET /api/v1/users 200",
        "POST /api/v2/orders 500",
        "GET /healthz 200",
    ]
    .iter()
    .enumerate()
    .map(|(i, line)| {
        json!({"textPayload": line, "severity": if i == 1 { "ERROR" } else { "INFO" },
                "labels": {"instance": format!("i-{i}")}})
    })
    .collect();
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            "/v2/entries:write",
            Some(json!({"logName": "projects/demo-project/logs/app",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "web"}},
                "entries": entries})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn texts(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| entry["textPayload"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_invalid_argument_with_googles_text() {
    let h = Harness::new();
    for (filter, message) in [
        (
            "logName=projects/demo-project:x",
            "Unparseable filter: syntax error at line 1, column 30, token ':'",
        ),
        (
            "severity>=ERROR AND\n(textPayload:x",
            "Unparseable filter: syntax error at line 2, column 15, token ''",
        ),
        (
            "textPayload=~\"[\"",
            "Unparseable filter: invalid regular expression \"[\": error: unclosed character class",
        ),
    ] {
        let (status, error) = list(&h, filter).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {error}");
        assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(error["error"]["message"], message, "{filter}");
    }
}

#[tokio::test]
async fn regular_expressions_groups_and_log_id() {
    let h = Harness::new();
    write_app_entries(&h).await;
    let app = "log_id(\"app\")";
    for (filter, want) in [
        (
            format!("{app} textPayload=~\"^GET /api/v[0-9]+/\""),
            vec!["GET /api/v1/users 200"],
        ),
        (
            format!("{app} textPayload!~\"/api/\""),
            vec!["GET /healthz 200"],
        ),
        (
            format!("{app} labels.instance=(\"i-0\" OR \"i-2\")"),
            vec!["GET /api/v1/users 200", "GET /healthz 200"],
        ),
        (
            format!("{app} severity>=WARNING -textPayload:healthz"),
            vec!["POST /api/v2/orders 500"],
        ),
        (
            format!("{app} textPayload:(get api)"),
            vec!["GET /api/v1/users 200"],
        ),
    ] {
        let (status, page) = list(&h, &filter).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {page}");
        assert_eq!(texts(&page), want, "{filter}");
    }
}

#[tokio::test]
async fn source_follows_the_resource_hierarchy() {
    let h = Harness::new();
    write_app_entries(&h).await;
    let organization = format!("organizations/{}", h.organization.id);
    let number = format!("projects/{}", h.project.number);
    for (filter, count) in [
        (format!("log_id(app) source({organization})"), 3),
        (format!("log_id(app) source(\"{number}\")"), 3),
        ("log_id(app) source(projects/demo-project)".to_owned(), 3),
        ("log_id(app) source(projects/other-project)".to_owned(), 0),
        ("log_id(app) source(folders/424242)".to_owned(), 0),
    ] {
        let (status, page) = list(&h, &filter).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {page}");
        assert_eq!(texts(&page).len(), count, "{filter}");
    }
}
