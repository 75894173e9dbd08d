//! An in-process Kumo for tests: the real control plane and router on an in-memory store, with a
//! bootstrapped organization (`example.com`) and project (`demo-project`), and a test
//! [`Authenticator`] that maps `Bearer test:user:alice@example.com` to that caller — the same seam
//! the server's token verification plugs into.

#![expect(
    clippy::expect_used,
    reason = "a test harness fails loudly on broken set-up"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use kumo_control::{
    Caller, Config, Control, Error, ImageAccessCheck, Mode, NewProject, OrganizationInfo,
    ProjectInfo,
};
use kumo_store::{SqliteStore, SystemClock};
use serde_json::Value;
use tower::ServiceExt;

use crate::Api;
use crate::auth::Authenticator;

/// Maps `test:user:EMAIL` / `test:serviceAccount:EMAIL` bearer tokens to callers.
pub struct TestAuthenticator;

impl Authenticator for TestAuthenticator {
    fn authenticate(&self, header: Option<&str>) -> Result<Caller, Error> {
        let Some(header) = header else {
            return Ok(Caller::Anonymous);
        };
        let token = header.strip_prefix("Bearer ").unwrap_or(header);
        match token.strip_prefix("test:") {
            Some(member) => match member.split_once(':') {
                Some(("user", email)) => Ok(Caller::User {
                    email: email.to_owned(),
                }),
                Some(("serviceAccount", email)) => Ok(Caller::ServiceAccount {
                    email: email.to_owned(),
                }),
                _ => Err(Error::unauthenticated("bad test token")),
            },
            None => Err(Error::unauthenticated(
                "Request had invalid authentication credentials.",
            )),
        }
    }
}

/// Kumo in-process.
pub struct Harness {
    /// The control plane (for direct set-up and assertions).
    pub control: Control,
    /// The organization `example.com`.
    pub organization: OrganizationInfo,
    /// The project `demo-project`, owned by `user:alice@example.com`.
    pub project: ProjectInfo,
    router: Router,
}

impl Harness {
    /// A fresh Kumo: organization `example.com` (admin `admin@example.com`), project
    /// `demo-project` under it, owned by `alice@example.com`.
    pub fn new() -> Harness {
        Harness::with_config(Config {
            external_url: "http://127.0.0.1:8080".to_owned(),
            issuer: None,
            mode: Mode::Dev,
            image_access_check: ImageAccessCheck::Enforce,
        })
    }

    /// A fresh Kumo with the given settings.
    pub fn with_config(config: Config) -> Harness {
        let store = Arc::new(SqliteStore::open_in_memory().expect("in-memory store"));
        let control = Control::new(config, store, Arc::new(SystemClock)).expect("control plane");
        let organization = control
            .provision_organization("example.com", None, Some("user:admin@example.com"))
            .expect("organization");
        let project = control
            .provision_project(NewProject {
                project_id: "demo-project".to_owned(),
                display_name: "Demo".to_owned(),
                parent: Some(format!("organizations/{}", organization.id)),
                labels: Default::default(),
                owner: Some("user:alice@example.com".to_owned()),
            })
            .expect("project");
        let api = Api {
            control: control.clone(),
            auth: Arc::new(TestAuthenticator),
        };
        Harness {
            control,
            organization,
            project,
            router: crate::router(api),
        }
    }

    /// Sends a request as `member` (`user:bob@example.com`; empty = anonymous) and returns the
    /// status and the JSON body (`Value::Null` when the body is not JSON).
    pub async fn call(
        &self,
        member: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with_headers(member, method, path, &[], body)
            .await
    }

    /// [`Harness::call`] with extra request headers (`user-agent`, `x-forwarded-for`, …).
    pub async fn call_with_headers(
        &self,
        member: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = HttpRequest::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if !member.is_empty() {
            builder = builder.header("authorization", format!("Bearer test:{member}"));
        }
        let body = match body {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(builder.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Sends a raw body (for malformed-input tests).
    pub async fn call_raw(
        &self,
        member: &str,
        method: Method,
        path: &str,
        body: &'static [u8],
    ) -> (StatusCode, Value) {
        let mut builder = HttpRequest::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if !member.is_empty() {
            builder = builder.header("authorization", format!("Bearer test:{member}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Grants `role` to `member` on the project, as the system.
    pub fn grant_on_project(&self, role: &str, member: &str) {
        self.control
            .grant_roles(
                &kumo_control::ResourceRef::Project(self.project.id.clone()),
                &[(role, member.to_owned())],
            )
            .expect("grant");
    }

    /// Grants `role` to `member` on the organization, as the system.
    pub fn grant_on_organization(&self, role: &str, member: &str) {
        self.control
            .grant_roles(
                &kumo_control::ResourceRef::Organization(self.organization.id.clone()),
                &[(role, member.to_owned())],
            )
            .expect("grant");
    }

    /// Maps images to local programs as `kumo up --images FILE` does; `images` is that file's
    /// document, `{"images": {IMAGE: {"entrypoint": [..]}}}`, going through the same file loader.
    pub fn load_images(&self, images: &Value) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "kumo-test-images-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, images.to_string()).expect("image map file");
        let loaded = self.control.runtime().load_images_file(&path);
        std::fs::remove_file(&path).expect("remove image map file");
        loaded.expect("image map");
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
