//! What the tests through the real binary share: `kumo up` on a fresh data dir, the bundled CLI
//! pointed at it, and raw HTTP/1.1 to its main port.

#![allow(clippy::unwrap_used, reason = "test set-up fails loudly")]
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KUMO: &str = env!("CARGO_BIN_EXE_kumo");

/// A running `kumo up`; killed and its directory removed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// Holds `data/` (the data dir) and the CLI's `config`.
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How to start `kumo up`.
#[derive(Default)]
pub struct Start<'a> {
    /// `--demo`.
    pub demo: bool,
    /// Written to the data dir's `images.json`.
    pub images: Option<&'a str>,
    /// Extra environment (`KUMO_*` settings).
    pub env: &'a [(&'a str, &'a str)],
    /// Keep the server's output in `DIR/server.log` (discarded otherwise).
    pub log: bool,
}

/// `kumo up` on a fresh data dir under a directory named after `name`, ready once `/healthz`
/// answers 200.
pub fn start(name: &str, how: Start<'_>) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "kumo-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    if let Some(images) = how.images {
        std::fs::write(dir.join("data/images.json"), images).unwrap();
    }
    let port = free_port();
    let (stdout, stderr) = if how.log {
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        (Stdio::from(log.try_clone().unwrap()), Stdio::from(log))
    } else {
        (Stdio::null(), Stdio::null())
    };
    let mut command = Command::new(KUMO);
    command.arg("up");
    if how.demo {
        command.arg("--demo");
    }
    let child = command
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--port", &port.to_string()])
        .envs(how.env.iter().copied())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let server = Server { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "kumo up did not start");
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/healthz", None, "").0 == 200
        {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the bundled CLI against `server` with its own config; returns stdout, asserting success.
pub fn cli(server: &Server, args: &[&str]) -> String {
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

/// One HTTP/1.1 request to `port` with `host` as Host; returns (status, lower-cased head, body).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A request to Kumo's own API on `port`; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let (status, _, body) = request(
        port,
        method,
        path,
        &format!("127.0.0.1:{port}"),
        token,
        body,
    );
    (status, body)
}

/// A GET of `/` on a service, by its `*.run.localhost` Host on the main port.
pub fn get(server: &Server, host: &str, token: Option<&str>) -> (u16, String, String) {
    request(server.port, "GET", "/", host, token, "")
}

/// The `*.run.localhost` host of the first `http://SERVICE-…` URL in `text`.
pub fn run_localhost_host(text: &str, service: &str) -> String {
    let start = text.find(&format!("http://{service}-")).unwrap() + "http://".len();
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

/// As the administrator (the CLI signed in with `--account`): a new project `project` with
/// Google's `hello` sample deployed as a private service; returns its `*.run.localhost` host.
pub fn private_hello(server: &Server, project: &str) -> String {
    cli(server, &["auth", "login", "--account", "admin@example.com"]);
    cli(server, &["projects", "create", project]);
    cli(server, &["config", "set", "project", project]);
    cli(
        server,
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
        server,
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
    run_localhost_host(&described, "hello")
}
