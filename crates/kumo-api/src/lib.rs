//! Kumo's REST transport: Google's APIs on one HTTP port, routed by path as Google's hosts route
//! them. This crate knows HTTP and JSON; it turns requests into calls on `kumo-control` and the
//! control plane's errors into `google.rpc.Status` bodies. It holds no domain rules.
//!
//! The Google API surface is the table in [`routes`]; everything else served on the port (health,
//! the OAuth2/OIDC issuer endpoints) is listed in [`router`].

pub mod artifact_registry;
pub mod audit;
pub mod auth;
pub mod directory;
mod dispatch;
mod extract;
pub mod iam_admin;
pub mod iam_credentials;
pub mod iap;
pub mod logging;
pub mod metadata;
pub mod oauth;
pub mod org_policy;
pub mod path;
pub mod resource_manager;
pub mod routes;
pub mod run_jobs;
pub mod run_locations;
pub mod run_v1;
pub mod run_v2;
pub mod service_usage;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
mod troubleshooter;

use axum::Router;
use axum::routing::{get, post};
use kumo_control::Control;

pub use dispatch::{Reply, Request, ok};

/// Shared state of every handler.
#[derive(Clone)]
pub struct Api {
    /// The control plane.
    pub control: Control,
    /// Turns bearer tokens into callers.
    pub auth: std::sync::Arc<dyn auth::Authenticator>,
}

impl Api {
    /// The server's API state: callers are authenticated by the control plane.
    pub fn new(control: Control) -> Api {
        let auth = std::sync::Arc::new(auth::ControlAuthenticator(control.clone()));
        Api { control, auth }
    }
}

/// The whole HTTP surface of the API port.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/.well-known/openid-configuration", get(oauth::discovery))
        .route("/oauth2/v3/certs", get(oauth::certs_v3))
        .route("/oauth2/v1/certs", get(oauth::certs_v1))
        .route("/token", post(oauth::token))
        .route("/oauth2/v4/token", post(oauth::token))
        .route(
            "/o/oauth2/v2/auth",
            get(oauth::authorize).post(oauth::sign_in),
        )
        .route("/o/oauth2/auth", get(oauth::authorize).post(oauth::sign_in))
        .route(
            "/oauth2/v3/tokeninfo",
            get(oauth::tokeninfo).post(oauth::tokeninfo),
        )
        .route("/revoke", post(oauth::revoke))
        .route("/o/oauth2/revoke", post(oauth::revoke))
        .route("/v1/userinfo", get(oauth::userinfo))
        .route("/oauth2/v3/userinfo", get(oauth::userinfo))
        .route(
            "/robot/v1/metadata/x509/{email}",
            get(oauth::service_account_x509),
        )
        .route(
            "/service_accounts/v1/metadata/jwk/{email}",
            get(oauth::service_account_jwk),
        )
        .route("/iap/verify/public_key-jwk", get(iap::public_key_jwk))
        .route("/iap/verify/public_key", get(iap::public_key_pem))
        .route("/_gcp_iap/handle_redirect", get(iap::relay))
        .fallback(dispatch::dispatch)
        .with_state(api)
}
