//! Kumo's control plane: one module per Google API, each method shaped the same way —
//! authorize with the permission Google documents → validate → organization-policy checks →
//! persist → audit → result. It knows nothing about HTTP: transports (`kumo-api`, `kumo-gateway`,
//! the metadata server) call it with an authenticated [`Caller`] inside a [`Call`].
//!
//! Run, Resource Manager and IAM admin resources are persisted in their Google wire shape
//! (`kumo-wire` types), so that every field a client sends round-trips unchanged; IAM allow
//! policies and organization policies are persisted as the engines' own types.

pub mod artifact_registry;
pub mod audit;
pub mod authz;
mod caller;
mod directory;
mod error;
pub mod hierarchy;
pub mod iam_admin;
pub mod iam_policy;
pub mod iap;
pub mod identity;
pub mod invoke;
pub mod logging;
pub mod operations;
pub mod org_constraints;
pub mod org_policy_api;
mod organizations;
pub mod per_thread;
mod projects;
pub mod records;
mod resource;
pub mod resource_manager;
pub mod run;
pub mod runtime;
pub mod service_usage;
pub mod troubleshoot;

pub use caller::{AuthorizationRecord, Call, Caller};
pub use error::{Error, FieldViolation, PreconditionViolation};
pub use organizations::OrganizationInfo;
pub use projects::{NewProject, ProjectInfo};
pub use resource::ResourceRef;

use std::sync::Arc;

use kumo_store::{Clock, Store};

/// How much a refusal explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Local development: refusals carry the IAM engine's explanation (which permission is
    /// missing and the command that would grant it); sign-in picks an account without a password.
    Dev,
    /// Behave exactly like Google: no explanations, passwords required.
    Strict,
}

/// What `kumo up --image-access-check` selects (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAccessCheck {
    /// The deploy fails when the deployer cannot read the image (Google since 2025-01-15).
    Enforce,
    /// The deploy succeeds and an ERROR audit entry records the missing access (before that date).
    Warn,
}

/// Control-plane settings, parsed once by the binary.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL clients reach Kumo's APIs at, e.g. `http://127.0.0.1:8080` (token URIs, issuer).
    pub external_url: String,
    /// The `iss` of the tokens Kumo mints and accepts; `None` is `external_url`. Apps that
    /// hard-code Google's issuer get [`GOOGLE_ISSUER`].
    pub issuer: Option<String>,
    /// Dev or strict.
    pub mode: Mode,
    /// Image read access at deploy time.
    pub image_access_check: ImageAccessCheck,
}

/// Google's issuer string, which google-auth's `verify_oauth2_token` insists on (it accepts
/// `accounts.google.com` and `https://accounts.google.com`).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The control plane. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    iam: authz::IamState,
    runtime: runtime::Runtime,
    /// Service ports bound at allocation and held until the gateway listens on them, so that two
    /// Kumo servers on one machine can never hand out the same port.
    reserved_ports: std::sync::Mutex<std::collections::HashMap<u16, std::net::TcpListener>>,
}

impl Control {
    /// A control plane over `store`. The predefined role catalog is loaded lazily on first use.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Control, Error> {
        let iam = authz::IamState::load(store.as_ref())?;
        let runtime = runtime::Runtime::new(Arc::clone(&store));
        let reserved_ports = std::sync::Mutex::new(std::collections::HashMap::new());
        Ok(Control {
            inner: Arc::new(Inner {
                config,
                store,
                clock,
                iam,
                runtime,
                reserved_ports,
            }),
        })
    }

    /// The listener reserved for a service port at allocation, for the gateway to serve on.
    pub fn take_reserved_listener(&self, port: u16) -> Option<std::net::TcpListener> {
        self.inner.reserved_ports.lock().ok()?.remove(&port)
    }

    pub(crate) fn reserve_listener(&self, port: u16, listener: std::net::TcpListener) {
        if let Ok(mut reserved) = self.inner.reserved_ports.lock() {
            reserved.insert(port, listener);
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// Now, by the control plane's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }
}
