//! `kumo up --iam-propagation-delay` through the real binary (issue 7): an allow-policy change
//! reaches the gateway's `run.routes.invoke` check only DELAY after it was committed, while the
//! Admin API sees it at once.

#![expect(clippy::unwrap_used, reason = "test set-up fails loudly")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KUMO: &str = env!("CARGO_BIN_EXE_kumo");
const DELAY: Duration = Duration::from_secs(2);

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `kumo up` with the delay given through its environment variable.
fn start() -> Server {
    let dir = std::env::temp_dir().join(format!(
        "kumo-propagation-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let port = free_port();
    let child = Command::new(KUMO)
        .args(["up", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--port", &port.to_string()])
        .env("KUMO_IAM_PROPAGATION_DELAY", "2s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "kumo up did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port, dir }
}

fn cli(server: &Server, args: &[&str]) -> String {
    let out = Command::new(KUMO)
        .args(args)
        .env("KUMO_CONFIG", server.dir.join("config"))
        .env("KUMO_ENDPOINT", format!("http://127.0.0.1:{}", server.port))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kumo {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An anonymous GET to the service; returns the status.
fn status(server: &Server, host: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn run_localhost_host(text: &str) -> String {
    let start = text.find("http://hello-").unwrap() + "http://".len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| {
            c == '"' || c == '\\' || c == '\'' || c == ',' || c.is_whitespace() || c == ']'
        })
        .unwrap_or(rest.len());
    let host = &rest[..end];
    assert!(host.contains(".run.localhost:"), "{host}");
    host.to_owned()
}

/// Changes the `allUsers` invoker binding (`add` or `remove`) and checks the propagation: the
/// old answer right after the change, the new one from DELAY after it on (and not before).
fn change_and_watch(server: &Server, host: &str, verb: &str, before: u16, after: u16) {
    let started = Instant::now();
    cli(
        server,
        &[
            "run",
            "services",
            &format!("{verb}-iam-policy-binding"),
            "hello",
            "--region",
            "us-central1",
            "--member",
            "allUsers",
            "--role",
            "roles/run.invoker",
        ],
    );
    // The Admin API sees the change at once.
    let policy = cli(
        server,
        &[
            "run",
            "services",
            "get-iam-policy",
            "hello",
            "--region",
            "us-central1",
            "--format",
            "json",
        ],
    );
    assert_eq!(policy.contains("allUsers"), verb == "add", "{policy}");
    if started.elapsed() < DELAY - Duration::from_millis(300) {
        assert_eq!(status(server, host), before, "right after {verb}");
    }
    let deadline = Instant::now() + DELAY + Duration::from_secs(10);
    loop {
        let got = status(server, host);
        if got == after {
            // The change was committed after `started`: never visible sooner than DELAY later.
            assert!(
                started.elapsed() >= DELAY,
                "{verb} visible after {:?}",
                started.elapsed()
            );
            return;
        }
        assert_eq!(got, before);
        assert!(
            Instant::now() < deadline,
            "{verb} never reached the gateway"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn invoker_grants_and_revocations_reach_the_gateway_after_the_delay() {
    let server = start();
    cli(
        &server,
        &["auth", "login", "--account", "admin@example.com"],
    );
    cli(&server, &["projects", "create", "propagation-proj"]);
    cli(&server, &["config", "set", "project", "propagation-proj"]);
    cli(
        &server,
        &[
            "run",
            "deploy",
            "hello",
            "--image",
            "us-docker.pkg.dev/cloudrun/container/hello",
            "--region",
            "us-central1",
            "--no-allow-unauthenticated",
        ],
    );
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
    let host = run_localhost_host(&described);
    assert_eq!(status(&server, &host), 403);
    change_and_watch(&server, &host, "add", 403, 200);
    change_and_watch(&server, &host, "remove", 200, 403);
}
