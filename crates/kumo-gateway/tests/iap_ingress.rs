//! IAP through the real gateway socket. Cloud Run checks ingress first, so a request the ingress
//! setting excludes gets Cloud Run's 404 before IAP ever sends a browser to sign in
//! (cloudrun-security-spec.md §2 and §6.2); CORS preflights pass IAP only when its settings
//! allow HTTP OPTIONS.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on broken set-up"
)]

use std::net::SocketAddr;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kumo_api::testing::Harness;
use kumo_gateway::{Entry, Gateway};
use serde_json::{Value, json};

const V2: &str = "/v2/projects/demo-project/locations/us-central1";
const IMAGE: &str = "us-docker.pkg.dev/demo-project/repo/plain";
const ALICE: &str = "user:alice@example.com";

/// A workload that answers 200 to everything.
const PLAIN_PY: &str = r#"
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("access-control-allow-origin", "https://app.example.com")
        self.send_header("x-saw-assertion", "yes" if self.headers.get("x-goog-iap-jwt-assertion") else "no")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

struct World {
    h: Harness,
    gateway: SocketAddr,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn world() -> World {
    let h = Harness::new();
    let script = std::env::temp_dir().join(format!("kumo-plain-{}.py", std::process::id()));
    std::fs::write(&script, PLAIN_PY).unwrap();
    h.control
        .runtime()
        .register_image(
            IMAGE,
            kumo_workload::ImageCommand {
                entrypoint: vec!["python3".into(), script.display().to_string()],
                ..Default::default()
            },
        )
        .unwrap();
    let (status, body) = h
        .call(
            ALICE,
            http::Method::POST,
            "/v1/projects/demo-project/locations/us/repositories?repositoryId=repo",
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = listener.local_addr().unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(Gateway::new(h.control.clone()).accept_loop(listener, Entry::Host, stop_rx));
    World {
        h,
        gateway,
        _stop: stop,
    }
}

/// Deploys an IAP-enabled service with `ingress`; returns its `*.run.localhost` Host.
async fn deploy_iap(w: &World, id: &str, ingress: &str) -> String {
    let body = json!({"template": {"containers": [{"image": IMAGE}]}, "iapEnabled": true, "ingress": ingress});
    let (status, op) =
        w.h.call(
            ALICE,
            http::Method::POST,
            &format!("{V2}/services?serviceId={id}"),
            Some(body),
        )
        .await;
    assert!(status.is_success(), "{status} {op}");
    assert!(op.get("error").is_none(), "{op}");
    let (_, service) =
        w.h.call(
            ALICE,
            http::Method::GET,
            &format!("{V2}/services/{id}"),
            None,
        )
        .await;
    let url = service["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|u| u.contains(".run.localhost"))
        .unwrap()
        .to_owned();
    url.split("://").nth(1).unwrap().to_owned()
}

/// A browser navigation (IAP redirects those to sign-in).
async fn navigate(w: &World, host: &str) -> (u16, Option<String>, String) {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = http::Request::get(format!("http://{}/", w.gateway))
        .header("host", host)
        .header("accept", "text/html,application/xhtml+xml")
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_decides_before_iap_signs_anyone_in() {
    let w = world().await;
    // Open ingress: IAP answers the browser with its sign-in redirect.
    let open = deploy_iap(&w, "open-iap", "INGRESS_TRAFFIC_ALL").await;
    let (status, location, _) = navigate(&w, &open).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("/o/oauth2/v2/auth?"));
    // Internal ingress, called from outside (this test process is no Kumo workload): Cloud Run's
    // 404, and no sign-in redirect that would reveal the service.
    let internal = deploy_iap(&w, "internal-iap", "INGRESS_TRAFFIC_INTERNAL_ONLY").await;
    let (status, location, body) = navigate(&w, &internal).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(location, None);
    assert_eq!(body, kumo_gateway::pages::not_found("/"));
}

/// A CORS preflight as a browser sends it: no credentials.
async fn preflight(w: &World, host: &str) -> (u16, Option<String>, Option<String>) {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = http::Request::builder()
        .method(http::Method::OPTIONS)
        .uri(format!("http://{}/api", w.gateway))
        .header("host", host)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        response.status().as_u16(),
        header("access-control-allow-origin"),
        header("x-saw-assertion"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_pass_iap_only_when_its_settings_allow_http_options() {
    let w = world().await;
    let host = deploy_iap(&w, "cors-iap", "INGRESS_TRAFFIC_ALL").await;
    // Seed 003's set-up: the IAP service agent exists and may invoke the service.
    let number = &w.h.project.number;
    let (status, body) =
        w.h.call(
            ALICE,
            http::Method::POST,
            "/v1beta1/projects/demo-project/services/iap.googleapis.com:generateServiceIdentity",
            Some(json!({})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let agent = format!("serviceAccount:service-{number}@gcp-sa-iap.iam.gserviceaccount.com");
    let (status, body) =
        w.h.call(
            ALICE,
            http::Method::POST,
            &format!("{V2}/services/cors-iap:setIamPolicy"),
            Some(json!({"policy": {"bindings": [{"role": "roles/run.invoker", "members": [agent]}]}})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    // Without the setting, IAP wants credentials from a preflight like from any request.
    let (status, allow_origin, _) = preflight(&w, &host).await;
    assert_eq!(status, 401);
    assert_eq!(allow_origin, None);
    let settings = format!(
        "/v1/projects/{number}/iap_web/cloud_run-us-central1/services/cors-iap:iapSettings"
    );
    let (status, body) =
        w.h.call(
            ALICE,
            http::Method::PATCH,
            &format!("{settings}?updateMask=accessSettings.corsSettings"),
            Some(json!({"accessSettings": {"corsSettings": {"allowHttpOptions": true}}})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    // With it, the preflight reaches the app, without any user's assertion.
    let (status, allow_origin, saw_assertion) = preflight(&w, &host).await;
    assert_eq!(status, 204);
    assert_eq!(allow_origin.as_deref(), Some("https://app.example.com"));
    assert_eq!(saw_assertion.as_deref(), Some("no"));
    // Every other method still needs a signed-in user.
    let (status, location, _) = navigate(&w, &host).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("/o/oauth2/v2/auth?"));
}
