//! The data plane through the real binary: `kumo up`, the bundled CLI deploying Google's `hello`
//! sample (which runs as the binary's own `__sample hello`), and plain HTTP to the service's
//! `*.run.localhost` URL on the main port — as a curl user would do (seed 002).

#![expect(clippy::unwrap_used, reason = "test set-up fails loudly")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, Start, cli, get, private_hello, run_localhost_host};

fn start() -> Server {
    common::start("dataplane", Start::default())
}

/// `kumo up` on a fresh data dir that holds `images` as its `images.json`.
fn start_with_images(images: Option<&str>) -> Server {
    common::start(
        "dataplane",
        Start {
            images,
            ..Start::default()
        },
    )
}

/// Processes running the hello sample whose parent is `parent`.
fn sample_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == parent && cmdline.windows(8).any(|w| w == b"__sample") {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn curl_against_a_private_hello_service_then_ctrl_c() {
    let mut server = start();
    let host = private_hello(&server, "dataplane-proj");

    // Anonymous: Google's 403 page; dev mode says what is missing.
    let (status, head, body) = get(&server, &host, None);
    assert_eq!(status, 403, "{host}: {head}{body}");
    assert!(body.contains("<h1>Error: Forbidden</h1>"), "{body}");
    assert!(head.contains("x-kumo-explanation: "), "{head}");

    // The administrator's identity token (an inherited organization-level grant).
    let token = cli(&server, &["auth", "print-identity-token"]);
    let (status, _, body) = get(&server, &host, Some(token.trim()));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hello"), "{body}");

    // A broken token: 401.
    let (status, _, body) = get(&server, &host, Some("eyJhbGciOiJub25lIn0.e30."));
    assert_eq!(status, 401);
    assert!(body.contains("<h1>Error: Unauthorized</h1>"));

    // Public through allUsers.
    cli(
        &server,
        &[
            "run",
            "services",
            "add-iam-policy-binding",
            "hello",
            "--region",
            "us-central1",
            "--member",
            "allUsers",
            "--role",
            "roles/run.invoker",
        ],
    );
    let (status, _, _) = get(&server, &host, None);
    assert_eq!(status, 200);

    // Ctrl-C stops Kumo and every instance it started.
    let instances = sample_children(server.child.id());
    assert!(!instances.is_empty(), "the hello instance runs under kumo");
    Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "kumo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in instances {
        assert!(!alive(pid), "instance {pid} outlived kumo");
    }
}

/// One HTTP/2 request with prior knowledge (h2c) to the main port, for `host`; returns the status.
fn get_h2c(server: &Server, host: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let request = http::Request::get(format!("http://{host}/"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        response.status().as_u16()
    })
}

/// A Knative service whose container port is named `h2c`, public (invoker check off).
fn h2c_service_yaml(name: &str, image: &str) -> String {
    format!(
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: {name}
  annotations:
    run.googleapis.com/invoker-iam-disabled: 'true'
spec:
  template:
    spec:
      containers:
      - image: {image}
        ports:
        - name: h2c
          containerPort: 8080
"
    )
}

/// Cloud Run's `--use-http2`: with the container port named `h2c` the front end speaks HTTP/2
/// cleartext to the instance. The hello sample speaks both protocols and answers; a server that
/// only speaks HTTP/1 cannot, which shows that HTTP/2 — not a silent HTTP/1 fallback — went
/// upstream. HTTP/2 clients are served on the main port either way.
#[test]
fn h2c_ports_get_http2_upstream() {
    let server = start_with_images(Some(
        r#"{"images": {"example.local/http1-only": {"entrypoint": ["sh", "-c", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1"]}}}"#,
    ));
    cli(
        &server,
        &["auth", "login", "--account", "admin@example.com"],
    );
    cli(&server, &["projects", "create", "h2c-proj"]);
    cli(&server, &["config", "set", "project", "h2c-proj"]);
    for (name, image) in [
        ("hello", "us-docker.pkg.dev/cloudrun/container/hello"),
        ("http1", "example.local/http1-only"),
    ] {
        let file = server.dir.join(format!("{name}.yaml"));
        std::fs::write(&file, h2c_service_yaml(name, image)).unwrap();
        cli(
            &server,
            &[
                "run",
                "services",
                "replace",
                file.to_str().unwrap(),
                "--region",
                "us-central1",
            ],
        );
    }
    let described = cli(
        &server,
        &[
            "run",
            "services",
            "describe",
            "hello",
            "--region",
            "us-central1",
            "--format",
            "json",
        ],
    );
    assert!(described.contains("h2c"), "{described}");
    let hello = run_localhost_host(&described, "hello");
    assert_eq!(get_h2c(&server, &hello), 200);
    // HTTP/1.1 clients reach the same h2c service.
    let (status, _, body) = get(&server, &hello, None);
    assert_eq!(status, 200, "{body}");

    let http1 = hello.replacen("hello-", "http1-", 1);
    let (status, _, body) = get(&server, &http1, None);
    assert_eq!(
        status, 503,
        "an HTTP/1-only server cannot answer HTTP/2: {body}"
    );
}
