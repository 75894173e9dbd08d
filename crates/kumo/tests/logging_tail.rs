//! `kumo logging tail` follows a project's log: an entry written after the tail started shows up
//! on its output (issue 5, "logging tail-like follow").

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{KUMO, Start, cli, http};

#[test]
fn tail_prints_entries_written_after_it_started() {
    let server = common::start("tail", Start::default());
    cli(
        &server,
        &["auth", "login", "--account", "admin@example.com"],
    );
    cli(&server, &["projects", "create", "tail-proj"]);
    cli(&server, &["config", "set", "project", "tail-proj"]);
    let token = cli(&server, &["auth", "print-access-token"]);

    let mut tail = Command::new(KUMO)
        .args(["logging", "tail", "logName:\"tail-test\""])
        .env("KUMO_CONFIG", server.dir.join("config"))
        .env("KUMO_ENDPOINT", format!("http://127.0.0.1:{}", server.port))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, seen) = mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // Let the tail session start, then write two entries: one it follows, one its filter skips.
    std::thread::sleep(Duration::from_secs(1));
    let body = serde_json::json!({"entries": [
        {"logName": "projects/tail-proj/logs/tail-test", "resource": {"type": "global"},
         "severity": "WARNING", "textPayload": "followed by tail"},
        {"logName": "projects/tail-proj/logs/other", "resource": {"type": "global"},
         "textPayload": "filtered out"},
    ]});
    let (status, reply) = http(
        server.port,
        "POST",
        "/v2/entries:write",
        Some(token.trim()),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{reply}");

    let mut got = Vec::new();
    let found = loop {
        match seen.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("followed by tail") => break Some(line),
            Ok(line) => got.push(line),
            Err(_) => break None,
        }
    };
    let _ = tail.kill();
    let _ = tail.wait();
    let line = found.unwrap_or_else(|| panic!("tail never printed the entry; it printed {got:?}"));
    assert!(line.contains("\tWARNING\t"), "{line}");
    assert!(got.iter().all(|l| !l.contains("filtered out")), "{got:?}");
}
