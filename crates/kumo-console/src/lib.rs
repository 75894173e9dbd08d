//! Kumo's web console, served under `/console/` on the API port.
//!
//! A client of Kumo's public REST API only: the browser signs in through Kumo's OAuth flow
//! (authorization code + PKCE, the built-in `kumo-cli` public client with a loopback redirect),
//! the access token stays in a server-side session, and every page is rendered from API
//! answers fetched with the user's own token — so the server decides each permission exactly
//! as for `curl`. Pages are plain HTML forms (no script), with a strict CSP, an `HttpOnly;
//! SameSite=Strict` session cookie and a per-session CSRF token on every state change.

mod accounts;
mod client;
mod html;
mod iam;
mod jobs;
mod orgpolicies;
mod pages;
mod revisions;
mod roles;
mod session;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::client::Client;
use crate::session::Sessions;

/// Shared by every console handler.
#[derive(Debug, Clone)]
struct Console {
    client: Client,
    sessions: Sessions,
    /// Cookie names carry the port: cookies are per host, not per port, and two Kumo servers
    /// on one machine must not overwrite each other's sessions.
    session_cookie: String,
    login_cookie: String,
    /// The predefined roles in the FULL view, fetched once: `ListRoles` needs no permission, so
    /// every caller gets the same answer, and the catalog is embedded in the server's binary.
    role_catalog: Arc<OnceLock<Arc<Vec<serde_json::Value>>>>,
}

/// The console's routes, all under `/console` (merged into the server's router; unknown
/// paths fall through to the API's 404). `api_base` is the URL of Kumo's own API
/// (`http://127.0.0.1:PORT`): the console calls it over loopback and uses it for the OAuth
/// redirect URI (the `kumo-cli` client accepts loopback redirects only).
pub fn router(api_base: String) -> Router {
    routes(Console::new(&api_base))
}

impl Console {
    fn new(api_base: &str) -> Self {
        let base = api_base.trim_end_matches('/');
        let port = base.rsplit(':').next().unwrap_or("80");
        Console {
            client: Client::new(base.to_owned()),
            sessions: Sessions::default(),
            session_cookie: format!("kumo_console_{port}"),
            login_cookie: format!("kumo_console_login_{port}"),
            role_catalog: Arc::default(),
        }
    }
}

fn routes(console: Console) -> Router {
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route("/console/assets/console.css", get(pages::stylesheet))
        .route("/console/signin", get(pages::sign_in))
        .route("/console/oauth2callback", get(pages::oauth_callback))
        .route("/console/signout", post(pages::sign_out))
        .route("/console/projects/{project}/services", get(pages::services))
        .route("/console/projects/{project}/audit", get(pages::audit_log))
        .route(
            "/console/projects/{project}/troubleshoot",
            get(pages::troubleshoot),
        )
        .route(
            "/console/projects/{project}/policies/{constraint}",
            get(pages::org_policy),
        )
        .route(
            "/console/projects/{project}/locations/{location}/services/{service}",
            get(pages::service_security),
        )
        .route(
            "/console/projects/{project}/locations/{location}/services/{service}/logs",
            get(pages::service_logs),
        )
        .route(
            "/console/projects/{project}/locations/{location}/services/{service}/revisions",
            get(revisions::service_revisions),
        )
        .route(
            "/console/projects/{project}/locations/{location}/services/{service}/{action}",
            post(pages::service_action),
        )
        .route("/console/projects/{project}/jobs", get(jobs::jobs))
        .route(
            "/console/projects/{project}/locations/{location}/jobs/{job}",
            get(jobs::job),
        )
        .route(
            "/console/projects/{project}/locations/{location}/jobs/{job}/execute",
            post(jobs::execute),
        )
        .route(
            "/console/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}",
            get(jobs::execution),
        )
        .route(
            "/console/projects/{project}/locations/{location}/jobs/{job}/executions/{execution}/cancel",
            post(jobs::cancel),
        )
        .route("/console/projects/{project}/iam", get(iam::project_iam))
        .route(
            "/console/projects/{project}/iam/{action}",
            post(iam::project_iam_action),
        )
        .route("/console/folders/{folder}/iam", get(iam::folder_iam))
        .route(
            "/console/folders/{folder}/iam/{action}",
            post(iam::folder_iam_action),
        )
        .route(
            "/console/organizations/{organization}/iam",
            get(iam::organization_iam),
        )
        .route(
            "/console/organizations/{organization}/iam/{action}",
            post(iam::organization_iam_action),
        )
        .route(
            "/console/projects/{project}/serviceAccounts",
            get(accounts::service_accounts),
        )
        .route(
            "/console/projects/{project}/serviceAccounts/{account}",
            get(accounts::service_account),
        )
        .route(
            "/console/projects/{project}/serviceAccounts/{account}/{action}",
            post(accounts::service_account_action),
        )
        .route(
            "/console/projects/{project}/roles",
            get(roles::project_roles),
        )
        .route(
            "/console/projects/{project}/customRoles/{role}",
            get(roles::project_role),
        )
        .route(
            "/console/organizations/{organization}/roles",
            get(roles::organization_roles),
        )
        .route(
            "/console/organizations/{organization}/customRoles/{role}",
            get(roles::organization_role),
        )
        .route("/console/roles", get(roles::role_browser))
        .route("/console/roles/{role}", get(roles::predefined_role))
        .route(
            "/console/projects/{project}/policies",
            get(orgpolicies::project_policies),
        )
        .route(
            "/console/folders/{folder}/policies",
            get(orgpolicies::folder_policies),
        )
        .route(
            "/console/organizations/{organization}/policies",
            get(orgpolicies::organization_policies),
        )
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(console)
}

/// Every console answer: strict CSP (no script at all, styles from our own origin), no
/// framing, no caching of pages that show policies, no referrer (URLs carry project names).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt as _;

    use super::*;

    /// An API base nobody listens on: these requests must be decided before any API call.
    const NO_API: &str = "http://127.0.0.1:9";
    const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

    fn form_post(uri: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
        let mut request =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn state_changes_need_the_session_and_its_csrf_token() {
        let console = Console::new(NO_API);
        let id = console
            .sessions
            .create("alice@example.com".into(), "ya29.t".into(), None, HOUR);
        let csrf = console.sessions.get(&id).unwrap().csrf;
        let other = console
            .sessions
            .create("bob@example.com".into(), "ya29.u".into(), None, HOUR);
        let other_csrf = console.sessions.get(&other).unwrap().csrf;
        let app = routes(console);
        let uri = "/console/projects/p/locations/us-central1/services/hello/authentication";
        let cookie = format!("kumo_console_9={id}");
        let cases = [
            (
                None,
                format!("access=public&csrf_token={csrf}"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                Some(cookie.as_str()),
                "access=public".to_owned(),
                StatusCode::FORBIDDEN,
            ),
            (
                Some(cookie.as_str()),
                "access=public&csrf_token=".to_owned(),
                StatusCode::FORBIDDEN,
            ),
            (
                Some(cookie.as_str()),
                format!("access=public&csrf_token={other_csrf}"),
                StatusCode::FORBIDDEN,
            ),
            (
                Some("kumo_console_9=forged"),
                format!("access=public&csrf_token={csrf}"),
                StatusCode::UNAUTHORIZED,
            ),
            // Past the CSRF check: the API is unreachable, so the page reports a gateway error.
            (
                Some(cookie.as_str()),
                format!("access=public&csrf_token={csrf}"),
                StatusCode::BAD_GATEWAY,
            ),
        ];
        for (cookie, body, expected) in cases {
            let response = app
                .clone()
                .oneshot(form_post(uri, cookie, &body))
                .await
                .unwrap();
            assert_eq!(response.status(), expected, "{cookie:?} {body}");
        }
    }

    #[tokio::test]
    async fn every_state_change_is_refused_without_session_or_csrf_token() {
        let console = Console::new(NO_API);
        let id = console
            .sessions
            .create("alice@example.com".into(), "ya29.t".into(), None, HOUR);
        let app = routes(console);
        let cookie = format!("kumo_console_9={id}");
        let uris = [
            "/console/projects/p/locations/us-central1/jobs/j/execute",
            "/console/projects/p/locations/us-central1/jobs/j/executions/j-1/cancel",
            "/console/projects/p/iam/add-binding",
            "/console/projects/p/iam/remove-binding",
            "/console/folders/1/iam/add-binding",
            "/console/organizations/2/iam/remove-binding",
            "/console/projects/p/serviceAccounts/sa%40p.iam.gserviceaccount.com/disable",
            "/console/projects/p/serviceAccounts/sa%40p.iam.gserviceaccount.com/delete-key",
        ];
        for uri in uris {
            let cases = [
                (
                    None,
                    "role=roles/owner&member=user:x@example.com",
                    StatusCode::UNAUTHORIZED,
                ),
                (
                    Some(cookie.as_str()),
                    "role=roles/owner&member=user:x@example.com",
                    StatusCode::FORBIDDEN,
                ),
                (
                    Some(cookie.as_str()),
                    "role=roles/owner&member=user:x@example.com&csrf_token=forged",
                    StatusCode::FORBIDDEN,
                ),
            ];
            for (cookie, body, expected) in cases {
                let response = app
                    .clone()
                    .oneshot(form_post(uri, cookie, body))
                    .await
                    .unwrap();
                assert_eq!(response.status(), expected, "{uri} {cookie:?} {body}");
            }
        }
    }

    #[tokio::test]
    async fn every_answer_carries_the_strict_csp() {
        let app = routes(Console::new(NO_API));
        for uri in ["/console", "/console/", "/console/assets/console.css"] {
            let response = app
                .clone()
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(
                csp.starts_with("default-src 'self'; script-src 'none'"),
                "{csp}"
            );
            assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        }
    }

    #[tokio::test]
    async fn sign_in_binds_state_to_the_browser_and_uses_pkce() {
        let app = routes(Console::new(NO_API));
        let request = Request::get("/console/signin")
            .header(header::HOST, "127.0.0.1:9")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with("/o/oauth2/v2/auth?client_id=kumo-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fconsole%2Foauth2callback"));
        assert!(location.contains("&code_challenge_method=S256"));
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("kumo_console_login_9="));
        assert!(cookie.contains("HttpOnly; SameSite=Strict"));
        // Another host name is sent to the API's own host first (cookies are per host).
        let request = Request::get("/console/signin")
            .header(header::HOST, "localhost:9")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://127.0.0.1:9/console/signin"
        );
        // A callback whose state was not started in this browser is refused.
        let request = Request::get("/console/oauth2callback?code=4/x&state=forged")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
