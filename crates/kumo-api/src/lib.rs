//! Kumo's REST transport: Google's APIs on one HTTP port, routed by path as Google's hosts route
//! them. This crate knows HTTP and JSON; it turns requests into calls on `kumo-control` and the
//! control plane's errors into `google.rpc.Status` bodies. It holds no domain rules.
//!
//! The Google API surface is the table in [`routes`]; everything else served on the port (health,
//! the OAuth2/OIDC issuer endpoints) is listed in [`router`].

pub mod artifact_registry;
pub mod audit;
pub mod auth;
mod dispatch;
mod extract;
pub mod iam_admin;
pub mod iap;
pub mod logging;
pub mod org_policy;
pub mod path;
pub mod resource_manager;
pub mod routes;
pub mod run_jobs;
pub mod run_v1;
pub mod run_v2;
pub mod service_usage;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;

use axum::Router;
use axum::routing::get;
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
        .route("/iap/verify/public_key-jwk", get(iap::public_key_jwk))
        .fallback(dispatch::dispatch)
        .with_state(api)
}
