//! The built-in sample images run as `kumo __sample …`, as the process driver starts them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Google's `hello.go` listens on 8080 when PORT is unset (a job task has no PORT): it keeps
/// serving instead of exiting (audit s8 finding 12); a PORT that is not a number is fatal.
#[test]
fn hello_without_port_listens_on_8080_like_hello_go() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kumo"))
        .args(["__sample", "hello"])
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line,
        "Hello from Cloud Run! The container started successfully and is listening for HTTP requests on port 8080\n"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the sample exited");
    child.kill().unwrap();
    child.wait().unwrap();

    let status = Command::new(env!("CARGO_BIN_EXE_kumo"))
        .args(["__sample", "hello"])
        .env("PORT", "http")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}
