//! A test double of Google's REST API: a tiny HTTP/1.1 server on a loopback port that answers
//! canned responses per (method, path) and records every request it gets.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test double: a broken fixture must fail the test loudly"
)]
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the double"
)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path with the query string.
    pub target: String,
    pub body: String,
    pub auth: Option<String>,
}

impl Req {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path())
    }
}

#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

pub fn ok(v: Value) -> Reply {
    Reply {
        status: 200,
        body: v.to_string(),
        headers: vec![],
    }
}

pub fn err(status: u16, code: &str, message: &str) -> Reply {
    Reply {
        status,
        body: json!({"error": {"code": status, "message": message, "status": code}}).to_string(),
        headers: vec![],
    }
}

type Routes = Arc<Mutex<HashMap<(String, String), VecDeque<Reply>>>>;

pub struct Fake {
    pub base: String,
    routes: Routes,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Fake {
    pub fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Routes = Arc::default();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let (r, l) = (routes.clone(), log.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &r, &l);
            }
        });
        Fake { base, routes, log }
    }

    /// Queues replies for (method, path); the last one keeps answering.
    pub fn on(&self, method: &str, path: &str, replies: Vec<Reply>) {
        self.routes
            .lock()
            .unwrap()
            .insert((method.to_owned(), path.to_owned()), replies.into());
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    /// `METHOD /path` of each request, with consecutive duplicates (polling) collapsed.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.requests() {
            let l = r.line();
            if out.last() != Some(&l) {
                out.push(l);
            }
        }
        out
    }

    pub fn find(&self, method: &str, path: &str) -> Req {
        self.requests()
            .into_iter()
            .find(|r| r.method == method && r.path() == path)
            .unwrap_or_else(|| panic!("no {method} {path} in {:?}", self.lines()))
    }
}

fn serve(stream: std::net::TcpStream, routes: &Routes, log: &Arc<Mutex<Vec<Req>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut len = 0usize;
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "authorization" => auth = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    let req = Req {
        method: method.clone(),
        target: target.clone(),
        body: String::from_utf8_lossy(&body).into(),
        auth,
    };
    log.lock().unwrap().push(req.clone());
    let path = req.path().to_owned();
    let reply = {
        let mut routes = routes.lock().unwrap();
        match routes.get_mut(&(method, path.clone())) {
            Some(q) if q.len() > 1 => q.pop_front().unwrap(),
            Some(q) if q.len() == 1 => q[0].clone(),
            _ => err(404, "NOT_FOUND", &format!("no route for {path}")),
        }
    };
    let mut stream = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    // `{name}` in a header value is replaced by that query parameter of the request, so a
    // redirect can echo the client's random `state` and its `redirect_uri`.
    let query: HashMap<String, String> = req
        .target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect();
    for (k, v) in &reply.headers {
        let mut v = v.clone();
        for (qk, qv) in &query {
            v = v.replace(&format!("{{{qk}}}"), qv);
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(reply.body.as_bytes());
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh config dir holding properties and a signed-in alice with a valid cached token.
pub fn config_dir(props: Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kumo-cli-test-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("properties.json"), props.to_string()).unwrap();
    let creds = json!({"accounts": {"alice@example.com": {
        "type": "authorized_user", "refresh_token": "1//refresh", "access_token": "ya29.alice",
        "access_token_expiry": 4_102_444_800i64
    }}});
    std::fs::write(dir.join("credentials.json"), creds.to_string()).unwrap();
    dir
}

pub fn default_props() -> Value {
    json!({"core/project": "demo-project", "core/account": "alice@example.com", "run/region": "asia-northeast1"})
}

pub struct Outcome {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

pub struct Cli {
    pub env: kumo_cli::Env,
}

impl Cli {
    pub fn new(fake: &Fake) -> Cli {
        Cli::with_dir(fake, config_dir(default_props()))
    }

    pub fn with_dir(fake: &Fake, dir: PathBuf) -> Cli {
        Cli {
            env: kumo_cli::Env {
                config_dir: dir,
                endpoint: Some(fake.base.clone()),
                overrides: Default::default(),
                stdin_is_tty: false,
                stderr_is_tty: false,
                adc_file: None,
                display: false,
                browser: None,
            },
        }
    }

    pub fn run(&self, args: &str) -> Outcome {
        self.run_with(args, "")
    }

    /// Runs `kumo ARGS` (or `gcloud …` when ARGS starts with `gcloud `); `args` is split on
    /// spaces except inside single quotes.
    pub fn run_with(&self, args: &str, stdin: &str) -> Outcome {
        let mut argv = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in args.chars() {
            match c {
                '\'' => quoted = !quoted,
                ' ' if !quoted => {
                    if !cur.is_empty() {
                        argv.push(std::mem::take(&mut cur));
                    }
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            argv.push(cur);
        }
        if argv.first().map(String::as_str) != Some("gcloud") {
            argv.insert(0, "/usr/local/bin/kumo".to_owned());
        }
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut input = std::io::Cursor::new(stdin.as_bytes().to_vec());
        let code = kumo_cli::run(argv, &self.env, &mut out, &mut err, &mut input);
        Outcome {
            code,
            stdout: String::from_utf8(out).unwrap(),
            stderr: String::from_utf8(err).unwrap(),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}
