//! The metadata server of one workload (spec §5, real-clients.md §7.5): what
//! `google.auth.compute_engine`, `fetch_id_token` and the Go/Node metadata clients read at
//! `GCE_METADATA_HOST`. Tokens are minted for the workload's runtime service account without an
//! IAM check on a caller — Cloud Run's service agent does that for the workload — but only while
//! the account exists and is enabled.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kumo_control::{Control, Error};
use serde_json::{Value, json};

use crate::extract::Query;

/// Who the workload runs as and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// The runtime service account.
    pub service_account_email: String,
    /// Project id.
    pub project_id: String,
    /// Project number.
    pub project_number: String,
    /// Region (`us-central1`).
    pub region: String,
    /// The instance id (`instance/id`).
    pub instance_id: String,
}

#[derive(Clone)]
struct Metadata {
    control: Control,
    identity: WorkloadIdentity,
}

/// The default scope of a Cloud Run workload's tokens.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
const ROOT: &str = "/computeMetadata/v1/";

/// The metadata server for one workload instance. Serve it on a loopback port and hand the
/// workload `GCE_METADATA_HOST` and `GCE_METADATA_IP` = `127.0.0.1:PORT`.
pub fn metadata_router(control: Control, identity: WorkloadIdentity) -> Router {
    Router::new()
        .fallback(serve)
        .with_state(Metadata { control, identity })
}

fn with_flavor(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("metadata-flavor", HeaderValue::from_static("Google"));
    response.headers_mut().insert(
        header::SERVER,
        HeaderValue::from_static("Metadata Server for Serverless"),
    );
    response
}

/// A text answer: not `application/json`, so clients do not parse it as JSON.
fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/text"),
    );
    with_flavor(response)
}

fn json_answer(body: &Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    with_flavor(response)
}

fn not_found() -> Response {
    let mut response = (
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html>\n<html lang=en>\n<title>Error 404 (Not Found)!!1</title>\n<p><b>404.</b> That’s an error.\n<p>The requested URL was not found on this server.  That’s all we know.\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    with_flavor(response)
}

fn flavored(headers: &HeaderMap) -> bool {
    headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) == Some("Google")
}

/// A node of the metadata tree: a text leaf or a directory.
enum Node {
    Leaf(String),
    Dir(BTreeMap<String, Node>),
}

impl Node {
    fn dir(entries: Vec<(&str, Node)>) -> Node {
        Node::Dir(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn leaf(text: impl Into<String>) -> Node {
        Node::Leaf(text.into())
    }

    /// `?recursive=true` JSON: directory names become camelCase keys, as GCE answers.
    fn to_json(&self) -> Value {
        match self {
            Node::Leaf(text) => {
                // Multi-line leaves (scopes, aliases) are lists in JSON.
                if text.ends_with('\n') {
                    Value::Array(text.lines().map(|line| json!(line)).collect())
                } else {
                    json!(text)
                }
            }
            Node::Dir(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (camel(k), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The plain listing of a directory: one entry per line, directories with a trailing `/`.
    fn listing(entries: &BTreeMap<String, Node>) -> String {
        entries
            .iter()
            .map(|(k, v)| {
                if matches!(v, Node::Dir(_)) {
                    format!("{k}/\n")
                } else {
                    format!("{k}\n")
                }
            })
            .collect()
    }
}

fn camel(key: &str) -> String {
    if key.contains('@') {
        return key.to_owned();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn account_node(identity: &WorkloadIdentity) -> Node {
    Node::dir(vec![
        ("aliases", Node::leaf("default\n")),
        ("email", Node::leaf(identity.service_account_email.clone())),
        ("scopes", Node::leaf(format!("{CLOUD_PLATFORM}\n"))),
    ])
}

fn tree(identity: &WorkloadIdentity) -> Node {
    let accounts = Node::Dir(BTreeMap::from([
        ("default".to_owned(), account_node(identity)),
        (
            identity.service_account_email.clone(),
            account_node(identity),
        ),
    ]));
    Node::dir(vec![
        (
            "instance",
            Node::dir(vec![
                ("id", Node::leaf(identity.instance_id.clone())),
                (
                    "region",
                    Node::leaf(format!(
                        "projects/{}/regions/{}",
                        identity.project_number, identity.region
                    )),
                ),
                (
                    "zone",
                    Node::leaf(format!(
                        "projects/{}/zones/{}-1",
                        identity.project_number, identity.region
                    )),
                ),
                ("service-accounts", accounts),
            ]),
        ),
        (
            "project",
            Node::dir(vec![
                (
                    "numeric-project-id",
                    Node::leaf(identity.project_number.clone()),
                ),
                ("project-id", Node::leaf(identity.project_id.clone())),
            ]),
        ),
        (
            "universe",
            Node::dir(vec![("universe-domain", Node::leaf("googleapis.com"))]),
        ),
    ])
}

fn control_error(error: &Error) -> Response {
    let status = crate::status::canonical(error).0;
    text(
        status,
        format!("{}\n", crate::status::public_message(error)),
    )
}

async fn serve(State(state): State<Metadata>, request: Request) -> Response {
    let headers = request.headers().clone();
    let path = request.uri().path().to_owned();
    let query = Query::parse(request.uri().query());
    if !flavored(&headers) {
        let mut response = (
            StatusCode::FORBIDDEN,
            format!("Your client does not have permission to get URL <code>{}</code> from this server. Missing Metadata-Flavor:Google header.\n", escape(&path)),
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        return with_flavor(response);
    }
    // GCE refuses requests that went through a proxy: a forwarded request is not the workload.
    if headers.contains_key("x-forwarded-for") {
        return text(
            StatusCode::FORBIDDEN,
            "Request containing X-Forwarded-For header is not allowed.\n".to_owned(),
        );
    }
    if request.method() != axum::http::Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed.\n".to_owned(),
        );
    }
    // The detection ping: 200 with the flavor header; the body is ignored.
    if path == "/" {
        return text(StatusCode::OK, "computeMetadata/\n".to_owned());
    }
    let Some(rest) = path
        .strip_prefix(ROOT)
        .or_else(|| (path == "/computeMetadata/v1").then_some(""))
    else {
        return not_found();
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let identity = &state.identity;
    // Dynamic leaves: tokens for the runtime account (`default` or its email).
    if let ["instance", "service-accounts", account, leaf] = segments.as_slice()
        && (*account == "default" || *account == identity.service_account_email)
    {
        match *leaf {
            "token" => return token(&state, &query).await,
            "identity" => return id_token(&state, &query).await,
            _ => {}
        }
    }
    let mut node = tree(identity);
    for segment in &segments {
        node = match node {
            Node::Dir(mut entries) => match entries.remove(*segment) {
                Some(child) => child,
                None => return not_found(),
            },
            Node::Leaf(_) => return not_found(),
        };
    }
    let recursive = matches!(query.get("recursive"), Some("true" | "True" | "1"));
    let alt_json = query.get("alt") == Some("json");
    match node {
        Node::Leaf(value) if alt_json => json_answer(&Node::Leaf(value).to_json()),
        Node::Leaf(value) => text(StatusCode::OK, value),
        Node::Dir(entries) => {
            if recursive {
                if query.get("alt") == Some("text") {
                    text(StatusCode::OK, flatten_text("", &Node::Dir(entries)))
                } else {
                    json_answer(&Node::Dir(entries).to_json())
                }
            } else if !path.ends_with('/') {
                // GCE redirects a directory without its slash.
                let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
                if let Ok(location) = HeaderValue::from_str(&format!("{path}/")) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                with_flavor(response)
            } else {
                text(StatusCode::OK, Node::listing(&entries))
            }
        }
    }
}

/// `?recursive=true&alt=text`: `path value` lines.
fn flatten_text(prefix: &str, node: &Node) -> String {
    match node {
        Node::Leaf(value) => value
            .lines()
            .map(|line| format!("{prefix} {line}\n"))
            .collect(),
        Node::Dir(entries) => entries
            .iter()
            .map(|(key, child)| {
                flatten_text(
                    &if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}/{key}")
                    },
                    child,
                )
            })
            .collect(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn token(state: &Metadata, query: &Query) -> Response {
    let scopes: Vec<String> = match query.get("scopes") {
        Some(list) if !list.trim().is_empty() => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => vec![CLOUD_PLATFORM.to_owned()],
    };
    let control = state.control.clone();
    let email = state.identity.service_account_email.clone();
    let minted =
        tokio::task::spawn_blocking(move || control.workload_access_token(&email, &scopes)).await;
    match minted {
        Ok(Ok(minted)) => {
            let now = state.control.now().timestamp();
            json_answer(&json!({
                "access_token": minted.token,
                "expires_in": (minted.expires_at - now - 1).max(0),
                "token_type": "Bearer",
            }))
        }
        Ok(Err(error)) => control_error(&error),
        Err(_) => control_error(&Error::internal("token task failed")),
    }
}

async fn id_token(state: &Metadata, query: &Query) -> Response {
    let audience = query.get("audience").unwrap_or_default().to_owned();
    if audience.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "non-empty audience parameter required\n".to_owned(),
        );
    }
    match query.get("format") {
        None | Some("standard" | "full") => {}
        Some(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                "format parameter must be one of: standard, full\n".to_owned(),
            );
        }
    }
    let control = state.control.clone();
    let email = state.identity.service_account_email.clone();
    match tokio::task::spawn_blocking(move || control.workload_id_token(&email, &audience)).await {
        Ok(Ok(token)) => text(StatusCode::OK, token),
        Ok(Err(error)) => control_error(&error),
        Err(_) => control_error(&Error::internal("token task failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_keys() {
        assert_eq!(camel("numeric-project-id"), "numericProjectId");
        assert_eq!(camel("service-accounts"), "serviceAccounts");
        assert_eq!(
            camel("a@b.iam.gserviceaccount.com"),
            "a@b.iam.gserviceaccount.com"
        );
    }
}
