//! google-auth's `compute_engine` credentials and `fetch_id_token` against Kumo's metadata server,
//! served on a real loopback port as the runtime serves it per workload. Needs the conformance
//! tier's Python (`.venv` at the workspace root, or `KUMO_PYTHON`); without it the test says so
//! and passes, as the conformance tier is where Python is guaranteed.

mod identity_support;

use std::path::PathBuf;
use std::process::Command;

use identity_support::*;
use kumo_api::metadata::{WorkloadIdentity, metadata_router};

const PROBE: &str = r#"
import json, os, sys
import google.auth
import google.auth.compute_engine
import google.auth.transport.requests as gtr
from google.oauth2 import id_token
request = gtr.Request()
creds, project = google.auth.default()
creds.refresh(request)
token = id_token.fetch_id_token(request, "https://hello-abc123-uc.a.run.app")
claims = id_token.verify_token(token, request, audience="https://hello-abc123-uc.a.run.app",
                               certs_url=os.environ["KUMO_CERTS"])
print(json.dumps({"type": type(creds).__module__, "project": project,
                  "email": creds.service_account_email, "token": creds.token, "claims": claims}))
"#;

fn python() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("KUMO_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    venv.exists().then_some(venv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_auth_compute_engine_credentials_work_against_the_metadata_server() {
    let Some(python) = python() else {
        eprintln!("skipped: no conformance Python (.venv or KUMO_PYTHON)");
        return;
    };
    let world = World::new();
    let account = world.account("runtime");
    let router = metadata_router(
        world.harness.control.clone(),
        WorkloadIdentity {
            service_account_email: account.email.clone(),
            project_id: PROJECT.to_owned(),
            project_number: world.harness.project.number.clone(),
            region: "us-central1".to_owned(),
            instance_id: "0071a2b3c4".to_owned(),
        },
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    // The issuer's certificates for verify_token: served from the API router on a second port.
    let api_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let api_host = api_listener.local_addr().expect("addr").to_string();
    let api = world.router.clone();
    tokio::spawn(async move { axum::serve(api_listener, api).await });

    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg("-c")
            .arg(PROBE)
            .env("GCE_METADATA_HOST", &host)
            .env("GCE_METADATA_IP", &host)
            .env("KUMO_CERTS", format!("http://{api_host}/oauth2/v1/certs"))
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .env("GOOGLE_CLOUD_PROJECT", "")
            .output()
            .expect("python runs")
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "google-auth failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("probe JSON");
    assert_eq!(result["type"], "google.auth.compute_engine.credentials");
    assert_eq!(result["project"], PROJECT);
    assert_eq!(result["email"], account.email.as_str());
    assert!(
        result["token"]
            .as_str()
            .expect("token")
            .starts_with("ya29.")
    );
    assert_eq!(result["claims"]["email"], account.email.as_str());
    assert_eq!(result["claims"]["aud"], "https://hello-abc123-uc.a.run.app");
}
