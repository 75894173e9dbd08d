//! The data plane end to end in-process: the real control plane (services deployed through the
//! v2 API), real workload processes, the gateway on a real socket, and ID tokens signed by
//! Kumo's issuer keys. Each case states the Cloud Run behaviour it pins (spec §2).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on broken set-up"
)]

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kumo_api::testing::Harness;
use kumo_control::ResourceRef;
use kumo_gateway::{Entry, Gateway};
use serde_json::{Value, json};

const V2: &str = "/v2/projects/demo-project/locations/us-central1";
const ECHO_IMAGE: &str = "us-docker.pkg.dev/demo-project/repo/echo";
const ALICE: &str = "user:alice@example.com";

/// A workload that answers every request with what it received (path, headers, its contract
/// env), and on `/call` fetches an ID token from its metadata server and calls `TARGET_URL`
/// through `GATEWAY`.
const ECHO_PY: &str = r#"
import http.server, json, os, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/call":
            meta = os.environ["GCE_METADATA_HOST"]
            target = os.environ["TARGET_URL"]
            req = urllib.request.Request(
                "http://%s/computeMetadata/v1/instance/service-accounts/default/identity?audience=%s" % (meta, target),
                headers={"Metadata-Flavor": "Google"})
            token = urllib.request.urlopen(req).read().decode()
            host = target.split("://", 1)[1]
            call = urllib.request.Request("http://%s/" % os.environ["GATEWAY"],
                headers={"Host": host, "Authorization": "Bearer " + token})
            try:
                status = urllib.request.urlopen(call).status
            except urllib.error.HTTPError as e:
                status = e.code
            out = {"status": status}
        else:
            out = {"path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "env": {k: os.environ.get(k) for k in ["K_SERVICE", "K_REVISION", "K_CONFIGURATION", "PORT", "GCE_METADATA_HOST"]},
                   "pid": os.getpid()}
        body = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

struct World {
    h: Harness,
    gateway: SocketAddr,
    client: Client<HttpConnector, Empty<Bytes>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

/// Serves metadata for workloads exactly like the binary does.
struct Metadata(kumo_control::Control);

impl kumo_control::runtime::MetadataServer for Metadata {
    fn start(
        &self,
        identity: kumo_control::runtime::WorkloadIdentity,
    ) -> kumo_control::runtime::BoxFuture<
        'static,
        Result<kumo_control::runtime::MetadataEndpoint, kumo_control::Error>,
    > {
        let control = self.0.clone();
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .unwrap();
            let host = listener.local_addr().unwrap().to_string();
            let router = kumo_api::metadata::metadata_router(
                control,
                kumo_api::metadata::WorkloadIdentity {
                    service_account_email: identity.service_account_email,
                    project_id: identity.project_id,
                    project_number: identity.project_number,
                    region: identity.region,
                    instance_id: identity.instance_id,
                },
            );
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
            Ok(kumo_control::runtime::MetadataEndpoint { host, stop })
        })
    }
}

/// The workload script `name`, written once per test process: tests run concurrently, and
/// rewriting a script while another test's instance starts from it would truncate it.
fn script_file(name: &str, text: &str) -> std::path::PathBuf {
    static WRITTEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let path = std::env::temp_dir().join(format!("kumo-{name}-{}.py", std::process::id()));
    let mut written = WRITTEN.lock().unwrap();
    if !written.iter().any(|n| n == name) {
        std::fs::write(&path, text).unwrap();
        written.push(name.to_owned());
    }
    path
}

/// `image` runs the Python script `text` (written once as `name`).
fn register_script(control: &kumo_control::Control, image: &str, name: &str, text: &str) {
    let script = script_file(name, text);
    control
        .runtime()
        .register_image(
            image,
            kumo_workload::ImageCommand {
                entrypoint: vec!["python3".into(), script.display().to_string()],
                ..Default::default()
            },
        )
        .unwrap();
}

async fn world() -> World {
    world_with(Harness::new()).await
}

async fn world_with(h: Harness) -> World {
    register_script(&h.control, ECHO_IMAGE, "echo", ECHO_PY);
    // The image lives in a repository the deployer can read.
    let (status, body) = h
        .call(
            ALICE,
            http::Method::POST,
            "/v1/projects/demo-project/locations/us/repositories?repositoryId=repo",
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    h.control
        .runtime()
        .set_metadata_server(std::sync::Arc::new(Metadata(h.control.clone())));
    let gateway = Gateway::new(h.control.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(gateway.accept_loop(listener, Entry::Host, stop_rx));
    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    World {
        h,
        gateway: addr,
        client,
        _stop: stop,
    }
}

/// Deploys `id` with `extra` merged into the service body; returns the service.
async fn deploy(w: &World, id: &str, extra: Value) -> Value {
    let mut body = json!({"template": {"containers": [{"image": ECHO_IMAGE}]}});
    merge(&mut body, extra);
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
    assert!(service["latestReadyRevision"].is_string(), "{service}");
    service
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// The service's deterministic URL (an accepted audience) and its Host.
fn url_and_host(service: &Value) -> (String, String) {
    let url = service["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|u| u.contains(".run.localhost"))
        .unwrap()
        .to_owned();
    let host = url.split("://").nth(1).unwrap().to_owned();
    (url, host)
}

fn token(w: &World, email: &str, aud: &str, iat_offset: i64) -> String {
    let ring = w.h.control.signing_keys().unwrap();
    let issuer = w.h.control.issuer();
    let iat = chrono::Utc::now().timestamp() + iat_offset;
    kumo_identity::tokens::mint_id_token(
        &ring,
        &kumo_identity::tokens::IdTokenSpec {
            issuer: &issuer,
            audience: aud,
            azp: "1234",
            sub: "1234",
            email: Some(email),
            iat,
            google: None,
        },
    )
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
    text: String,
}

async fn get(w: &World, host: &str, path: &str, headers: &[(&str, String)]) -> Answer {
    let mut req = http::Request::get(format!("http://{}{path}", w.gateway)).header("host", host);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = w
        .client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn bearer(t: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {t}"))
}

fn service_ref(id: &str) -> ResourceRef {
    ResourceRef::RunService {
        project: "demo-project".into(),
        location: "us-central1".into(),
        service: id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invoker_check_in_cloud_runs_order() {
    let w = world().await;
    let service = deploy(&w, "private", json!({})).await;
    let (url, host) = url_and_host(&service);

    // No token on a private service: 403 with Google's page; dev mode explains.
    let a = get(&w, &host, "/x?y=1", &[]).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.text, kumo_gateway::pages::forbidden("/x"));
    let why = a.headers["x-kumo-explanation"].to_str().unwrap();
    assert!(
        why.contains("run.routes.invoke")
            && why.contains("gcloud run services add-iam-policy-binding private"),
        "{why}"
    );

    // The project owner (a project-level grant) gets through.
    let alice = token(&w, "alice@example.com", &url, 0);
    let a = get(&w, &host, "/hello", &[bearer(&alice)]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["path"], "/hello");
    assert_eq!(a.body["env"]["K_SERVICE"], "private");
    assert_eq!(a.body["env"]["K_CONFIGURATION"], "private");
    assert_eq!(
        a.body["env"]["K_REVISION"],
        service["latestReadyRevision"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
    );
    // What the container sees: forwarding headers, the token intact (a service URL audience).
    let seen = &a.body["headers"];
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert!(
        seen["x-cloud-trace-context"]
            .as_str()
            .unwrap()
            .contains('/')
    );
    assert!(seen["traceparent"].as_str().unwrap().starts_with("00-"));
    assert_eq!(seen["authorization"], format!("Bearer {alice}"));
    assert_eq!(seen["forwarded"], "for=127.0.0.1;proto=http");
    // A prior X-Forwarded-For is appended to; the client's trace continues in both headers.
    let a = get(
        &w,
        &host,
        "/hello",
        &[
            bearer(&alice),
            ("x-forwarded-for", "10.0.0.1".into()),
            (
                "x-cloud-trace-context",
                "0AF7651916CD43DD8448EB211C80319C/42;o=0".into(),
            ),
        ],
    )
    .await;
    let seen = &a.body["headers"];
    assert_eq!(seen["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(
        seen["x-cloud-trace-context"],
        "0af7651916cd43dd8448eb211c80319c/42;o=0"
    );
    assert_eq!(
        seen["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-000000000000002a-00"
    );

    // Wrong audience, expired, and an access token: 401 with Google's page.
    let other = token(&w, "alice@example.com", "http://elsewhere", 0);
    let a = get(&w, &host, "/", &[bearer(&other)]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.text, kumo_gateway::pages::unauthorized("/"));
    let expired = token(&w, "alice@example.com", &url, -7200);
    assert_eq!(get(&w, &host, "/", &[bearer(&expired)]).await.status, 401);
    assert_eq!(
        get(&w, &host, "/", &[bearer("ya29.an-access-token")])
            .await
            .status,
        401
    );

    // A valid token of someone without run.routes.invoke: 403; a service-level grant admits
    // them on the very next request.
    let bob = token(&w, "bob@example.com", &url, 0);
    assert_eq!(get(&w, &host, "/", &[bearer(&bob)]).await.status, 403);
    w.h.control
        .grant_roles(
            &service_ref("private"),
            &[("roles/run.invoker", "user:bob@example.com".into())],
        )
        .unwrap();
    assert_eq!(get(&w, &host, "/", &[bearer(&bob)]).await.status, 200);

    // A user's CLI token (aud = the CLI client) is accepted for users and reaches the container
    // with its signature removed.
    let cli = token(&w, "bob@example.com", "kumo-cli", 0);
    let a = get(&w, &host, "/", &[bearer(&cli)]).await;
    assert_eq!(a.status, 200);
    let parts: Vec<&str> = cli.split('.').collect();
    assert_eq!(
        a.body["headers"]["authorization"],
        format!(
            "Bearer {}.{}.SIGNATURE_REMOVED_BY_GOOGLE",
            parts[0], parts[1]
        )
    );
    // ... but not for service accounts.
    let sa = format!(
        "{}-compute@developer.gserviceaccount.com",
        w.h.project.number
    );
    w.h.control
        .grant_roles(
            &service_ref("private"),
            &[("roles/run.invoker", format!("serviceAccount:{sa}"))],
        )
        .unwrap();
    assert_eq!(
        get(&w, &host, "/", &[bearer(&token(&w, &sa, "kumo-cli", 0))])
            .await
            .status,
        401
    );
    assert_eq!(
        get(&w, &host, "/", &[bearer(&token(&w, &sa, &url, 0))])
            .await
            .status,
        200
    );

    // X-Serverless-Authorization wins over Authorization, which then belongs to the app; the
    // winning token reaches the container without its signature.
    let a = get(
        &w,
        &host,
        "/",
        &[
            ("authorization", "Basic YXBwOnNlY3JldA==".into()),
            ("x-serverless-authorization", format!("Bearer {alice}")),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["headers"]["authorization"], "Basic YXBwOnNlY3JldA==");
    let p: Vec<&str> = alice.split('.').collect();
    assert_eq!(
        a.body["headers"]["x-serverless-authorization"],
        format!("Bearer {}.{}.SIGNATURE_REMOVED_BY_GOOGLE", p[0], p[1])
    );
    let a = get(
        &w,
        &host,
        "/",
        &[
            bearer(&alice),
            ("x-serverless-authorization", format!("Bearer {other}")),
        ],
    )
    .await;
    assert_eq!(a.status, 401);

    // Client-sent Google headers never reach the container.
    let a = get(
        &w,
        &host,
        "/",
        &[
            bearer(&alice),
            ("x-goog-iap-jwt-assertion", "forged".into()),
            ("x-google-thing", "forged".into()),
        ],
    )
    .await;
    assert!(a.body["headers"].get("x-goog-iap-jwt-assertion").is_none());
    assert!(a.body["headers"].get("x-google-thing").is_none());

    // Unknown hosts and reserved paths are the front end's 404.
    assert_eq!(
        get(&w, "nope-1.us-central1.run.localhost", "/", &[])
            .await
            .status,
        404
    );
    assert_eq!(
        get(&w, &host, "/healthz", &[bearer(&alice)]).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_modes_custom_audiences_and_ingress() {
    let w = world().await;
    // allUsers: anyone, no token needed, and a garbage Authorization header is the app's business.
    let public = deploy(&w, "public", json!({})).await;
    let (_, host) = url_and_host(&public);
    assert_eq!(get(&w, &host, "/", &[]).await.status, 403);
    w.h.control
        .grant_roles(
            &service_ref("public"),
            &[("roles/run.invoker", "allUsers".into())],
        )
        .unwrap();
    assert_eq!(get(&w, &host, "/", &[]).await.status, 200);
    // Host names are case-insensitive; `TAG---HOST` is a traffic tag's URL, and a tag the
    // service does not have is a 404.
    assert_eq!(
        get(&w, &host.to_ascii_uppercase(), "/", &[]).await.status,
        200
    );
    assert_eq!(
        get(&w, &format!("blue---{host}"), "/", &[]).await.status,
        404
    );
    let tagged = deploy(
        &w,
        "tagged",
        json!({"traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100, "tag": "green"}]}),
    )
    .await;
    w.h.control
        .grant_roles(
            &service_ref("tagged"),
            &[("roles/run.invoker", "allUsers".into())],
        )
        .unwrap();
    let tag_url = tagged["trafficStatuses"][0]["uri"].as_str().unwrap();
    assert!(tag_url.contains("green---tagged-"), "{tagged}");
    let tag_host = tag_url.split("://").nth(1).unwrap();
    assert_eq!(get(&w, tag_host, "/", &[]).await.status, 200);
    assert_eq!(
        get(&w, &tag_host.to_ascii_uppercase(), "/", &[])
            .await
            .status,
        200
    );
    let a = get(
        &w,
        &host,
        "/",
        &[("authorization", "Bearer not-a-google-token".into())],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body["headers"]["authorization"],
        "Bearer not-a-google-token"
    );

    // allAuthenticatedUsers: any valid token for the service, nobody without one.
    let authn = deploy(&w, "authn", json!({})).await;
    let (url, host) = url_and_host(&authn);
    w.h.control
        .grant_roles(
            &service_ref("authn"),
            &[("roles/run.invoker", "allAuthenticatedUsers".into())],
        )
        .unwrap();
    assert_eq!(get(&w, &host, "/", &[]).await.status, 403);
    assert_eq!(
        get(
            &w,
            &host,
            "/",
            &[bearer(&token(&w, "stranger@other.example", &url, 0))]
        )
        .await
        .status,
        200
    );

    // The service URL with a trailing slash, as Google's service-to-service samples write the
    // audience: accepted; a path after it is not the service's audience.
    for (aud, status) in [(format!("{url}/"), 200), (format!("{url}/x"), 401)] {
        assert_eq!(
            get(
                &w,
                &host,
                "/",
                &[bearer(&token(&w, "stranger@other.example", &aud, 0))]
            )
            .await
            .status,
            status,
            "{aud}"
        );
    }

    // Invoker check disabled: no authentication at all.
    let open = deploy(&w, "open", json!({"invokerIamDisabled": true})).await;
    let (_, host) = url_and_host(&open);
    assert_eq!(get(&w, &host, "/", &[]).await.status, 200);
    assert_eq!(get(&w, &host, "/", &[bearer("garbage")]).await.status, 200);

    // Custom audience: accepted next to the URLs, and only exactly.
    let custom = deploy(&w, "custom", json!({"customAudiences": ["my-audience"]})).await;
    let (_, host) = url_and_host(&custom);
    assert_eq!(
        get(
            &w,
            &host,
            "/",
            &[bearer(&token(&w, "alice@example.com", "my-audience/", 0))]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        get(
            &w,
            &host,
            "/",
            &[bearer(&token(&w, "alice@example.com", "my-audience", 0))]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(
            &w,
            &host,
            "/",
            &[bearer(&token(&w, "alice@example.com", "my-audienc", 0))]
        )
        .await
        .status,
        401
    );

    // Internal ingress: this test process is not a Kumo workload, so 404 — even for the owner.
    let internal = deploy(
        &w,
        "internal",
        json!({"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"}),
    )
    .await;
    let (url, host) = url_and_host(&internal);
    let a = get(
        &w,
        &host,
        "/",
        &[bearer(&token(&w, "alice@example.com", &url, 0))],
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.text, kumo_gateway::pages::not_found("/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workload_calls_a_private_service_with_its_metadata_token() {
    let w = world().await;
    let backend = deploy(
        &w,
        "backend",
        json!({"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"}),
    )
    .await;
    let (backend_url, _) = url_and_host(&backend);
    let env = json!([
        {"name": "TARGET_URL", "value": backend_url},
        {"name": "GATEWAY", "value": w.gateway.to_string()},
    ]);
    // The frontend runs as its own service account (the compute default one is a project
    // editor, and editors may invoke every service).
    let (status, account) =
        w.h.call(
            ALICE,
            http::Method::POST,
            "/v1/projects/demo-project/serviceAccounts",
            Some(json!({"accountId": "caller"})),
        )
        .await;
    assert!(status.is_success(), "{status} {account}");
    let email = account["email"].as_str().unwrap().to_owned();
    let template =
        json!({"serviceAccount": email, "containers": [{"image": ECHO_IMAGE, "env": env}]});
    let frontend = deploy(
        &w,
        "frontend",
        json!({"invokerIamDisabled": true, "template": template}),
    )
    .await;
    let (_, host) = url_and_host(&frontend);
    // It may not invoke the backend yet.
    let a = get(&w, &host, "/call", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["status"], 403, "{}", a.text);
    w.h.control
        .grant_roles(
            &service_ref("backend"),
            &[("roles/run.invoker", format!("serviceAccount:{email}"))],
        )
        .unwrap();
    // Internal ingress admits it: the call comes from a Kumo workload.
    let a = get(&w, &host, "/call", &[]).await;
    assert_eq!(a.body["status"], 200, "{}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scaling_crashes_and_concurrency() {
    let w = world().await;
    w.h.control
        .runtime()
        .set_idle_timeout(Duration::from_millis(400));
    let service = deploy(&w, "scaled", json!({"invokerIamDisabled": true})).await;
    let revision = service["latestReadyRevision"].as_str().unwrap().to_owned();
    let (_, host) = url_and_host(&service);
    assert_eq!(get(&w, &host, "/", &[]).await.status, 200);

    // Idle instances go away; the next request starts one again.
    let mut waited = 0;
    while w.h.control.runtime().instance_count(&revision) > 0 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(
        w.h.control.runtime().instance_count(&revision),
        0,
        "scaled to zero"
    );
    assert_eq!(get(&w, &host, "/", &[]).await.status, 200);
    assert_eq!(w.h.control.runtime().instance_count(&revision), 1);

    // A crashed instance is replaced on the next request.
    let first = get(&w, &host, "/", &[]).await.body["pid"].as_u64().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = get(&w, &host, "/", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_ne!(a.body["pid"].as_u64().unwrap(), first);

    // Many concurrent requests: none lost, none answered with another request's response.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = w.client.clone();
        let gateway = w.gateway;
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get(format!("http://{gateway}/req/{i}"))
                .header("host", host)
                .body(Empty::<Bytes>::new())
                .unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body: Value =
                serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            assert_eq!(body["path"], format!("/req/{i}"));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Hand-made JWTs for the attack suite.
fn jwt(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jwt_attack_suite_is_refused() {
    let w = world().await;
    let service = deploy(&w, "target", json!({})).await;
    let (url, host) = url_and_host(&service);
    let other = deploy(&w, "other", json!({})).await;
    let (other_url, _) = url_and_host(&other);
    let good = token(&w, "alice@example.com", &url, 0);
    assert_eq!(get(&w, &host, "/", &[bearer(&good)]).await.status, 200);

    let parts: Vec<&str> = good.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let public_pem =
        w.h.control
            .signing_keys()
            .unwrap()
            .current()
            .public_pem()
            .unwrap();

    let mut tampered = claims.clone();
    tampered["email"] = json!("admin@example.com");
    let mut future = claims.clone();
    future["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    let hs_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": kid, "typ": "JWT"}).to_string()),
        parts[1]
    );
    let hs256 = format!(
        "{hs_input}.{}",
        URL_SAFE_NO_PAD.encode(hmac_sha256(public_pem.as_bytes(), hs_input.as_bytes()))
    );
    let mut stranger_key = kumo_identity::keys::RsaKey::generate(&mut rand::rngs::OsRng).unwrap();
    let wrong_kid = kumo_identity::jwt::encode_rs256(&stranger_key, claims.as_object().unwrap());
    stranger_key.kid = kid.to_owned();
    let same_kid_other_key =
        kumo_identity::jwt::encode_rs256(&stranger_key, claims.as_object().unwrap());
    let oversized = jwt(
        &json!({"alg": "RS256", "kid": kid, "pad": "x".repeat(20_000)}),
        &claims,
        b"sig",
    );

    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
                parts[1]
            ),
        ),
        (
            "alg none with kid",
            jwt(&json!({"alg": "none", "kid": kid}), &claims, b""),
        ),
        ("HS256 keyed with the public key", hs256),
        ("stripped signature", format!("{}.{}.", parts[0], parts[1])),
        (
            "signature removed by google",
            format!("{}.{}.SIGNATURE_REMOVED_BY_GOOGLE", parts[0], parts[1]),
        ),
        ("unknown kid", wrong_kid),
        ("right kid, other key", same_kid_other_key),
        (
            "tampered claims",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(tampered.to_string()),
                parts[2]
            ),
        ),
        ("expired", token(&w, "alice@example.com", &url, -7200)),
        (
            "not yet valid (iat)",
            token(&w, "alice@example.com", &url, 3600),
        ),
        (
            "not yet valid (nbf)",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(future.to_string()),
                parts[2]
            ),
        ),
        ("oversized header", oversized),
        (
            "token for another service",
            token(&w, "alice@example.com", &other_url, 0),
        ),
        ("two tokens", format!("{good},{good}")),
        ("not a JWT", "hello".into()),
    ];
    for (name, attack) in attacks {
        let a = get(&w, &host, "/", &[bearer(&attack)]).await;
        assert_eq!(a.status, 401, "{name}: {}", a.text);
        assert!(a.text.contains("Error: Unauthorized"), "{name}");
    }
    // Two Authorization headers.
    let a = get(&w, &host, "/", &[bearer(&good), bearer(&good)]).await;
    assert_eq!(a.status, 401);
    // The refusals were logged as Cloud Run request logs with Google's text.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut found = Vec::new();
    w.h.control
        .store()
        .query_log(&kumo_store::LogQuery::default(), &mut |e: &Value| {
            if e["logName"] == "projects/demo-project/logs/run.googleapis.com%2Frequests" {
                found.push(e.clone());
            }
            true
        })
        .unwrap();
    let refused = found
        .iter()
        .find(|e| e["httpRequest"]["status"] == 401)
        .expect("a 401 request log");
    assert_eq!(refused["severity"], "WARNING");
    assert_eq!(refused["resource"]["type"], "cloud_run_revision");
    assert_eq!(refused["resource"]["labels"]["service_name"], "target");
    assert!(
        refused["textPayload"]
            .as_str()
            .unwrap()
            .starts_with("The request was not authorized to invoke this service.")
    );
    assert!(
        refused["trace"]
            .as_str()
            .unwrap()
            .starts_with("projects/demo-project/traces/")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strict_mode_never_explains() {
    let w = world_with(Harness::with_config(kumo_control::Config {
        external_url: "http://127.0.0.1:8080".to_owned(),
        issuer: None,
        mode: kumo_control::Mode::Strict,
        image_access_check: kumo_control::ImageAccessCheck::Enforce,
    }))
    .await;
    let service = deploy(&w, "strict", json!({})).await;
    let (url, host) = url_and_host(&service);
    let anonymous = get(&w, &host, "/", &[]).await;
    assert_eq!(anonymous.status, 403);
    assert!(anonymous.headers.get("x-kumo-explanation").is_none());
    let wrong = get(
        &w,
        &host,
        "/",
        &[bearer(&token(&w, "alice@example.com", "x", 0))],
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.headers.get("x-kumo-explanation").is_none());
    let bob = get(
        &w,
        &host,
        "/",
        &[bearer(&token(&w, "bob@example.com", &url, 0))],
    )
    .await;
    assert_eq!(bob.status, 403);
    assert!(bob.headers.get("x-kumo-explanation").is_none());
}

/// Answers `Upgrade: shout` with 101 and then echoes upper-cased bytes: a protocol switch like
/// WebSocket's, without a WebSocket library.
const UPGRADE_PY: &str = r#"
import os, socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(64)
def serve(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            return
        data += chunk
    if b"upgrade: shout" in data.lower():
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\n")
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d.upper())
    else:
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protocol_upgrades_pass_through() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world().await;
    let image = "us-docker.pkg.dev/demo-project/repo/upgrade";
    register_script(&w.h.control, image, "upgrade", UPGRADE_PY);
    let service = deploy(
        &w,
        "upgrade",
        json!({"invokerIamDisabled": true, "template": {"containers": [{"image": image}]}}),
    )
    .await;
    let (_, host) = url_and_host(&service);
    let mut stream = tokio::net::TcpStream::connect(w.gateway).await.unwrap();
    let request =
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed early"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: shout"), "{head}");
    stream.write_all(b"hello through the tunnel").await.unwrap();
    let mut echoed = vec![0u8; 24];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"HELLO THROUGH THE TUNNEL");
}

/// An instance that speaks HTTP/1.1 by hand, so each framing case is exactly what it says:
/// request bodies (length or chunked) are echoed as their length and SHA-256, `/chunked`
/// answers in chunks, `/close` ends its body by closing, `/big/N` sends N bytes.
const FRAMING_PY: &str = r#"
import hashlib, json, os, socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, path, _ = line.decode().split(" ", 2)
            headers = {}
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, v = h.decode().split(":", 1)
                headers.setdefault(k.strip().lower(), v.strip())
            body = b""
            if headers.get("transfer-encoding") == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b""):
                            pass
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()
            elif "content-length" in headers:
                body = self.rfile.read(int(headers["content-length"]))
            if path == "/chunked":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nx-t: 1\r\n\r\n")
            elif path == "/close":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                self.wfile.flush()
                return
            elif path.startswith("/big/"):
                n = int(path.split("/")[2])
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + bytes(i % 251 for i in range(n)))
            else:
                out = json.dumps({"method": method, "path": path, "length": len(body),
                                  "sha256": hashlib.sha256(body).hexdigest(), "headers": headers}).encode()
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(out)
                self.wfile.write(head if method == "HEAD" else head + out)
            self.wfile.flush()
socketserver.ThreadingTCPServer.daemon_threads = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

const FRAMING_IMAGE: &str = "us-docker.pkg.dev/demo-project/repo/framing";

/// One raw HTTP/1.1 response read off a client connection: status, lowercased headers, body
/// (de-chunked), and whether the framing was chunked.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chunked: bool,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn read_raw(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
    head_request: bool,
) -> Raw {
    use tokio::io::AsyncReadExt;
    async fn more(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) {
        let mut chunk = vec![0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    let (status, headers, len) = loop {
        let mut raw = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut raw);
        if let httparse::Status::Complete(len) = resp.parse(buf).unwrap() {
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            break (resp.code.unwrap(), headers, len);
        }
        more(stream, buf).await;
    };
    buf.drain(..len);
    let mut r = Raw {
        status,
        headers,
        body: Vec::new(),
        chunked: false,
    };
    if head_request {
        return r;
    }
    if let Some(n) = r.header("content-length") {
        let n: usize = n.parse().unwrap();
        while buf.len() < n {
            more(stream, buf).await;
        }
        r.body = buf.drain(..n).collect();
    } else if r.header("transfer-encoding") == Some("chunked") {
        r.chunked = true;
        loop {
            while !buf.windows(2).any(|w| w == b"\r\n") {
                more(stream, buf).await;
            }
            let eol = buf.windows(2).position(|w| w == b"\r\n").unwrap();
            let line = String::from_utf8(buf[..eol].to_vec()).unwrap();
            let size = usize::from_str_radix(line.split(';').next().unwrap(), 16).unwrap();
            buf.drain(..eol + 2);
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    while !buf.windows(2).any(|w| w == b"\r\n") {
                        more(stream, buf).await;
                    }
                    let eol = buf.windows(2).position(|w| w == b"\r\n").unwrap();
                    buf.drain(..eol + 2);
                    if eol == 0 {
                        break;
                    }
                }
                break;
            }
            while buf.len() < size + 2 {
                more(stream, buf).await;
            }
            r.body.extend(buf.drain(..size));
            buf.drain(..2);
        }
    }
    r
}

/// The gateway's HTTP/1.1 path on the wire: pipelining, request bodies by length and in
/// chunks (large ones streamed), chunked and close-delimited responses, HEAD, `Connection:
/// close`, and a request hyper must take (HTTP/1.0) arriving behind one the fast path took.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http1_framing_on_the_wire() {
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    let w = world().await;
    register_script(&w.h.control, FRAMING_IMAGE, "framing", FRAMING_PY);
    let service = deploy(
        &w,
        "framing",
        json!({"template": {"containers": [{"image": FRAMING_IMAGE}]}}),
    )
    .await;
    let (url, host) = url_and_host(&service);
    let alice = token(&w, "alice@example.com", &url, 0);
    let auth = format!("Host: {host}\r\nAuthorization: Bearer {alice}\r\n");
    let mut c = tokio::net::TcpStream::connect(w.gateway).await.unwrap();
    let mut buf = Vec::new();

    // Three requests in one write: three answers, in order.
    let pipelined = format!(
        "GET /one HTTP/1.1\r\n{auth}\r\nGET /two HTTP/1.1\r\n{auth}\r\nGET /three HTTP/1.1\r\n{auth}\r\n"
    );
    c.write_all(pipelined.as_bytes()).await.unwrap();
    for path in ["/one", "/two", "/three"] {
        let r = read_raw(&mut c, &mut buf, false).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["path"], path);
        // Forwarded with the front end's headers; hop-by-hop ones gone.
        assert_eq!(r.json()["headers"]["x-forwarded-proto"], "http");
        assert!(r.json()["headers"]["traceparent"].is_string());
    }

    // A chunked request body arrives whole (its chunks written one by one).
    c.write_all(
        format!("POST /echo HTTP/1.1\r\n{auth}Transfer-Encoding: chunked\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    for piece in ["5\r\nhello\r\n", "7;ext=1\r\n, world\r\n", "0\r\n\r\n"] {
        c.write_all(piece.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = read_raw(&mut c, &mut buf, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["length"], 12);
    assert_eq!(
        r.json()["sha256"],
        hex(&sha2::Sha256::digest(b"hello, world"))
    );
    assert_eq!(r.json()["headers"]["transfer-encoding"], "chunked");

    // A 1 MiB body by Content-Length, streamed through.
    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i % 253) as u8).collect();
    c.write_all(
        format!(
            "PUT /upload HTTP/1.1\r\n{auth}Content-Length: {}\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.write_all(&big).await.unwrap();
    let r = read_raw(&mut c, &mut buf, false).await;
    assert_eq!(r.json()["length"], big.len());
    assert_eq!(r.json()["sha256"], hex(&sha2::Sha256::digest(&big)));

    // Responses: chunked passes through (trailers and extensions included), a close-delimited
    // one is re-framed in chunks so the client connection lives on, large ones stream.
    let r = ask(
        &mut c,
        &mut buf,
        &format!("GET /chunked HTTP/1.1\r\n{auth}\r\n"),
        false,
    )
    .await;
    assert!(r.chunked);
    assert_eq!(r.body, b"hello world");
    let r = ask(
        &mut c,
        &mut buf,
        &format!("GET /close HTTP/1.1\r\n{auth}\r\n"),
        false,
    )
    .await;
    assert!(r.chunked);
    assert_eq!(r.body, b"until the end");
    assert_eq!(r.header("connection"), None);
    let r = ask(
        &mut c,
        &mut buf,
        &format!("GET /big/3000000 HTTP/1.1\r\n{auth}\r\n"),
        false,
    )
    .await;
    assert_eq!(r.body.len(), 3_000_000);
    assert!(
        r.body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 251) as u8)
    );
    let r = ask(
        &mut c,
        &mut buf,
        &format!("HEAD /head HTTP/1.1\r\n{auth}\r\n"),
        true,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_some());

    // A refusal on the same connection (no token), then service again.
    let r = ask(
        &mut c,
        &mut buf,
        &format!("GET /nope HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        false,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body, kumo_gateway::pages::forbidden("/nope").as_bytes());

    // HTTP/1.0 is hyper's: it arrives pipelined behind a fast-path request, already read.
    c.write_all(
        format!("GET /fast HTTP/1.1\r\n{auth}\r\nGET /old HTTP/1.0\r\n{auth}Connection: keep-alive\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let r = read_raw(&mut c, &mut buf, false).await;
    assert_eq!(r.json()["path"], "/fast");
    let r = read_raw(&mut c, &mut buf, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/old");

    // Connection: close is answered, then the connection ends.
    let mut c = tokio::net::TcpStream::connect(w.gateway).await.unwrap();
    let mut buf = Vec::new();
    let r = ask(
        &mut c,
        &mut buf,
        &format!("GET /last HTTP/1.1\r\n{auth}Connection: close\r\n\r\n"),
        false,
    )
    .await;
    assert_eq!(r.json()["path"], "/last");
    assert_eq!(r.header("connection"), Some("close"));
    let mut rest = Vec::new();
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
}

/// Writes one request on `c` and reads its answer (`head`: the request was a HEAD).
async fn ask(c: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, request: &str, head: bool) -> Raw {
    use tokio::io::AsyncWriteExt;
    c.write_all(request.as_bytes()).await.unwrap();
    read_raw(c, buf, head).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
