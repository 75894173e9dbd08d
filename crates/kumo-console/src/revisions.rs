//! A service's Revisions tab: every revision with its readiness, and where traffic goes
//! (the spec the deployer wrote and the split Cloud Run reports).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use crate::Console;
use crate::html::{Notice, esc, notice};
use crate::pages::{
    api_error_page, console_service_path, ok_page, service_crumbs, service_path, service_tabs,
    signed_in, str_of,
};

pub async fn service_revisions(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id)): Path<(String, String, String)>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let token = &session.access_token;
    let mut crumbs = service_crumbs(&project, &location, &id);
    crumbs.push(("Revisions".to_owned(), String::new()));
    let title = format!("{id} revisions");
    let path = service_path(&project, &location, &id);
    let service = match console.client.call(token, "GET", &path, None).await {
        Ok(service) => service,
        Err(error) => return api_error_page(&session, &title, &crumbs, &error),
    };
    let mut body = service_tabs(&console_service_path(&project, &location, &id), "Revisions");
    match console
        .client
        .call(token, "GET", &format!("{path}/revisions"), None)
        .await
    {
        Ok(answer) => {
            let revisions = answer["revisions"].as_array().cloned().unwrap_or_default();
            body.push_str(&render_revisions(&service, &revisions));
        }
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
    }
    ok_page(&session, &title, &crumbs, &body)
}

/// The last segment of a resource name.
fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Percent of traffic each revision receives now (`trafficStatuses`, LATEST resolved to the
/// latest ready revision).
fn observed_split(service: &Value) -> HashMap<String, i64> {
    let latest = short(str_of(service, "latestReadyRevision")).to_owned();
    let mut split = HashMap::new();
    for status in service["trafficStatuses"].as_array().into_iter().flatten() {
        let revision = match status["revision"].as_str() {
            Some(revision) if !revision.is_empty() => revision.to_owned(),
            _ => latest.clone(),
        };
        *split.entry(revision).or_insert(0) += status["percent"].as_i64().unwrap_or(0);
    }
    split
}

/// A revision's `Ready` condition in words (with its message when it is not ready).
pub(crate) fn readiness(conditions: &Value) -> String {
    let ready = conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let Some(ready) = ready else {
        return "Unknown".to_owned();
    };
    let state = match str_of(ready, "state") {
        "CONDITION_SUCCEEDED" => "Ready",
        "CONDITION_FAILED" => "Failed",
        "CONDITION_RECONCILING" | "CONDITION_PENDING" => "Deploying",
        other => other,
    };
    match ready["message"].as_str() {
        Some(message) if !message.is_empty() && state != "Ready" => format!("{state}: {message}"),
        _ => state.to_owned(),
    }
}

pub(crate) fn render_revisions(service: &Value, revisions: &[Value]) -> String {
    let mut body = String::from(
        "<section aria-labelledby=\"traffic-h\"><h2 id=\"traffic-h\">Traffic</h2>\
         <table class=\"traffic\"><caption>Requested split (the service's traffic spec) and what Cloud Run serves</caption>\
         <thead><tr><th scope=\"col\">Target</th><th scope=\"col\">Percent</th><th scope=\"col\">Tag</th><th scope=\"col\">Tag URL</th></tr></thead><tbody>",
    );
    let latest = short(str_of(service, "latestReadyRevision"));
    let statuses = service["trafficStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let targets = if statuses.is_empty() {
        service["traffic"].as_array().cloned().unwrap_or_default()
    } else {
        statuses
    };
    if targets.is_empty() {
        body.push_str("<tr><td colspan=\"4\">No traffic is routed.</td></tr>");
    }
    for target in &targets {
        let name = match target["revision"].as_str() {
            Some(revision) if !revision.is_empty() => revision.to_owned(),
            _ => format!(
                "Latest ready revision ({})",
                if latest.is_empty() {
                    "none yet"
                } else {
                    latest
                }
            ),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}%</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            target["percent"].as_i64().unwrap_or(0),
            esc(str_of(target, "tag")),
            esc(str_of(target, "uri")),
        );
    }
    body.push_str("</tbody></table></section>");

    let split = observed_split(service);
    body.push_str("<section aria-labelledby=\"revisions-h\"><h2 id=\"revisions-h\">Revisions</h2>");
    if revisions.is_empty() {
        body.push_str("<p>No revisions.</p></section>");
        return body;
    }
    body.push_str(
        "<table class=\"revisions\"><caption>Newest first</caption><thead><tr><th scope=\"col\">Revision</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Traffic</th><th scope=\"col\">Deployed</th><th scope=\"col\">Deployed by</th>\
         <th scope=\"col\">Image</th><th scope=\"col\">Service account</th><th scope=\"col\">Concurrency</th><th scope=\"col\">Timeout</th></tr></thead><tbody>",
    );
    let mut sorted: Vec<&Value> = revisions.iter().collect();
    sorted.sort_by(|a, b| str_of(b, "createTime").cmp(str_of(a, "createTime")));
    for revision in sorted {
        let name = short(str_of(revision, "name"));
        let images: Vec<&str> = revision["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["image"].as_str())
            .collect();
        let _ = write!(
            body,
            "<tr data-revision=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td>{}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(name),
            esc(&readiness(&revision["conditions"])),
            split.get(name).copied().unwrap_or(0),
            esc(str_of(revision, "createTime")),
            esc(str_of(revision, "creator")),
            esc(&images.join(", ")),
            esc(str_of(revision, "serviceAccount")),
            revision["maxInstanceRequestConcurrency"]
                .as_i64()
                .map_or_else(String::new, |c| c.to_string()),
            esc(str_of(revision, "timeout")),
        );
    }
    body.push_str("</tbody></table></section>");
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn revisions_show_status_and_their_share_of_traffic() {
        let service = json!({
            "latestReadyRevision": "projects/p/locations/r/services/s/revisions/s-00002-abc",
            "trafficStatuses": [
                {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 75},
                {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "s-00001-xyz", "percent": 25, "tag": "old", "uri": "http://old---s"},
            ],
        });
        let revisions = [
            json!({"name": "projects/p/locations/r/services/s/revisions/s-00001-xyz", "createTime": "2026-01-01T00:00:00Z",
                   "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED"}], "containers": [{"image": "img:1"}]}),
            json!({"name": "projects/p/locations/r/services/s/revisions/s-00002-abc", "createTime": "2026-01-02T00:00:00Z",
                   "creator": "<b>@x", "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED"}], "containers": [{"image": "img:2"}]}),
            json!({"name": "projects/p/locations/r/services/s/revisions/s-00003-new", "createTime": "2026-01-03T00:00:00Z",
                   "conditions": [{"type": "Ready", "state": "CONDITION_FAILED", "message": "Container failed to start."}]}),
        ];
        let html = render_revisions(&service, &revisions);
        assert!(html.contains("<td>Latest ready revision (s-00002-abc)</td><td>75%</td>"));
        assert!(
            html.contains("<td>s-00001-xyz</td><td>25%</td><td>old</td><td>http://old---s</td>")
        );
        assert!(html.contains("<th scope=\"row\">s-00002-abc</th><td>Ready</td><td>75%</td>"));
        assert!(html.contains("<th scope=\"row\">s-00001-xyz</th><td>Ready</td><td>25%</td>"));
        assert!(html.contains("<td>Failed: Container failed to start.</td><td>0%</td>"));
        let newest = html.find("s-00003-new").unwrap();
        assert!(
            newest < html.find("data-revision=\"s-00001-xyz\"").unwrap(),
            "newest first"
        );
        assert!(html.contains("&lt;b&gt;@x") && !html.contains("<b>@x"));
    }
}
