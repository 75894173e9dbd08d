//! Instances never outlive Kumo, even when Kumo is SIGKILLed (no chance to stop them): each
//! workload's guard sees Kumo's pipe close and stops its process group.

#![expect(clippy::unwrap_used, reason = "test set-up fails loudly")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{KUMO, free_port};

/// Pids whose parent is `parent` (from /proc).
fn children_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Field 4 (ppid) follows the parenthesised command name.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        if after
            .split_whitespace()
            .nth(1)
            .and_then(|ppid| ppid.parse::<u32>().ok())
            == Some(parent)
        {
            found.push(pid);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn sigkilled_kumo_leaves_no_instances() {
    let data_dir = std::env::temp_dir().join(format!("kumo-orphans-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut kumo = Command::new(KUMO)
        .args([
            "up",
            "--demo",
            "--port",
            &free_port().to_string(),
            "--data-dir",
        ])
        .arg(&data_dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The demo deploys `hello`, which starts one instance; its line says so.
    let stderr = BufReader::new(kumo.stderr.take().unwrap());
    let mut ready = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("A private service `hello` is at") {
            ready = true;
            break;
        }
        assert!(!line.starts_with("ERROR"), "{line}");
    }
    assert!(ready, "the demo did not come up");
    let instances = children_of(kumo.id());
    assert!(
        !instances.is_empty(),
        "the demo's hello instance should be running"
    );
    kumo.kill().unwrap(); // SIGKILL
    kumo.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while instances.iter().any(|pid| alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<u32> = instances.into_iter().filter(|pid| alive(*pid)).collect();
    assert!(
        left.is_empty(),
        "instances outlived a SIGKILLed kumo: {left:?}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
