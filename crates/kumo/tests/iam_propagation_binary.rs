//! `kumo up --iam-propagation-delay` through the real binary (issue 7): an allow-policy change
//! reaches the gateway's `run.routes.invoke` check only DELAY after it was committed, while the
//! Admin API sees it at once.

mod common;

use std::time::{Duration, Instant};

use common::{Server, Start, cli, get, private_hello};

const DELAY: Duration = Duration::from_secs(2);

/// `kumo up` with the delay given through its environment variable.
fn start() -> Server {
    common::start(
        "propagation",
        Start {
            env: &[("KUMO_IAM_PROPAGATION_DELAY", "2s")],
            ..Start::default()
        },
    )
}

/// An anonymous GET to the service; returns the status.
fn status(server: &Server, host: &str) -> u16 {
    get(server, host, None).0
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
    let host = private_hello(&server, "propagation-proj");
    assert_eq!(status(&server, &host), 403);
    change_and_watch(&server, &host, "add", 403, 200);
    change_and_watch(&server, &host, "remove", 200, 403);
}
