//! Kumo's web console, served under `/console/` on the API port.
//!
//! A client of Kumo's public REST API only: the browser signs in through Kumo's OAuth flow
//! (authorization code + PKCE, the built-in `kumo-cli` public client with a loopback redirect),
//! the access token stays in a server-side session, and every page is rendered from API
//! answers fetched with the user's own token — so the server decides each permission exactly
//! as for `curl`. Pages are plain HTML forms (no script), with a strict CSP, an `HttpOnly;
//! SameSite=Strict` session cookie and a per-session CSRF token on every state change.

mod client;
mod html;
mod pages;
mod session;

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
}

/// The console's routes, to be nested at `/console`. `api_base` is the URL of Kumo's own API
/// (`http://127.0.0.1:PORT`): the console calls it over loopback and uses it for the OAuth
/// redirect URI (the `kumo-cli` client accepts loopback redirects only).
pub fn router(api_base: String) -> Router {
    let port = api_base
        .rsplit(':')
        .next()
        .unwrap_or("80")
        .trim_end_matches('/')
        .to_owned();
    let console = Console {
        client: Client::new(api_base.trim_end_matches('/').to_owned()),
        sessions: Sessions::default(),
        session_cookie: format!("kumo_console_{port}"),
        login_cookie: format!("kumo_console_login_{port}"),
    };
    Router::new()
        .route("/", get(pages::home))
        .route("/assets/console.css", get(pages::stylesheet))
        .route("/signin", get(pages::sign_in))
        .route("/oauth2callback", get(pages::oauth_callback))
        .route("/signout", post(pages::sign_out))
        .route("/projects/{project}/services", get(pages::services))
        .route("/projects/{project}/troubleshoot", get(pages::troubleshoot))
        .route(
            "/projects/{project}/policies/{constraint}",
            get(pages::org_policy),
        )
        .route(
            "/projects/{project}/locations/{location}/services/{service}",
            get(pages::service_security),
        )
        .route(
            "/projects/{project}/locations/{location}/services/{service}/logs",
            get(pages::service_logs),
        )
        .route(
            "/projects/{project}/locations/{location}/services/{service}/{action}",
            post(pages::service_action),
        )
        .fallback(pages::not_found)
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
