//! Integration tests with real processes.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kumo_workload::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const SERVER: &str = r#"
import os, socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(64)
print("listening", flush=True)
print('{"severity":"INFO","message":"structured"}', flush=True)
def h(c):
    c.recv(4096); time.sleep(float(os.environ.get("DELAY", "0")))
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"); c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
"#;

fn svc_spec(argv: &[&str], env: &[(&str, &str)]) -> StartSpec {
    StartSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        workdir: None,
        kind: WorkloadKind::Service {
            service: "hello".into(),
            revision: "hello-00001-abc".into(),
            configuration: "hello".into(),
        },
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        metadata_host: Some("127.0.0.1:9999".into()),
        metadata_ip: Some("127.0.0.1".into()),
        listen: true,
    }
}

fn server(env: &[(&str, &str)]) -> StartSpec {
    svc_spec(&["python3", "-c", SERVER], env)
}

fn job_spec(script: &str) -> StartSpec {
    StartSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        workdir: None,
        kind: WorkloadKind::JobTask {
            job: "j".into(),
            execution: "j-abc".into(),
            task_index: 2,
            task_attempt: 1,
            task_count: 3,
        },
        env: BTreeMap::new(),
        metadata_host: None,
        metadata_ip: None,
        listen: false,
    }
}

async fn get(addr: std::net::SocketAddr) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()
        .unwrap()
        .success()
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached within 10s");
}

#[tokio::test]
async fn start_probe_http_and_logs() {
    let rt = ProcessRuntime::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let i = rt
        .start(server(&[]), Duration::from_secs(10), tx)
        .await
        .unwrap();
    assert!(get(i.addr.unwrap()).await.ends_with("ok"));
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(got[0].stream, Stream::Stdout);
    assert_eq!(got[0].payload, LogPayload::Text("listening".into()));
    assert_eq!(
        got[1].payload,
        LogPayload::Json(serde_json::json!({"severity":"INFO","message":"structured"}))
    );
    let exit = i.stop(Duration::from_secs(5)).await;
    assert_eq!(exit.signal, Some(15));
    assert_eq!(rt.live_count(), 0);
}

#[tokio::test]
async fn never_listens_fails_with_cloud_run_text() {
    let rt = ProcessRuntime::new();
    let (tx, _rx) = mpsc::unbounded_channel();
    let e = rt
        .start(
            svc_spec(&["sleep", "30"], &[]),
            Duration::from_millis(300),
            tx,
        )
        .await
        .unwrap_err();
    let StartError::NotListening { port } = e else {
        panic!("{e:?}")
    };
    assert!(e.to_string().starts_with(&format!(
        "The user-provided container failed to start and listen on the port defined provided by the PORT={port} environment variable within the allocated timeout."
    )));
    assert_eq!(rt.live_count(), 0);
}

#[tokio::test]
async fn immediate_exit_fails() {
    let rt = ProcessRuntime::new();
    let (tx, _rx) = mpsc::unbounded_channel();
    let e = rt
        .start(
            svc_spec(&["sh", "-c", "exit 3"], &[]),
            Duration::from_secs(5),
            tx,
        )
        .await
        .unwrap_err();
    let StartError::Exited { port, exit } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(exit.log_text(), "Container called exit(3).");
    assert!(
        e.to_string()
            .contains(&format!("PORT={port} environment variable"))
    );
    let e = rt
        .start(
            svc_spec(&["/nonexistent/bin"], &[]),
            Duration::from_secs(5),
            mpsc::unbounded_channel().0,
        )
        .await;
    assert!(matches!(e, Err(StartError::Spawn { .. })));
}

#[tokio::test]
async fn env_contract() {
    let rt = ProcessRuntime::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let script = "env | sort; exec python3 -c \"$SRV\"";
    let mut spec = svc_spec(
        &["sh", "-c", script],
        &[("SRV", SERVER), ("FOO", "bar"), ("PORT", "1")],
    );
    spec.env.insert("K_SERVICE".into(), "spoofed".into());
    let i = rt.start(spec, Duration::from_secs(10), tx).await.unwrap();
    let mut env = BTreeMap::new();
    loop {
        let l = rx.recv().await.unwrap();
        let LogPayload::Text(t) = l.payload else {
            continue;
        };
        if t == "listening" {
            break;
        }
        if let Some((k, v)) = t.split_once('=') {
            env.insert(k.to_string(), v.to_string());
        }
    }
    let port = i.addr.unwrap().port().to_string();
    for (k, v) in [
        ("PORT", port.as_str()),
        ("K_SERVICE", "hello"),
        ("K_REVISION", "hello-00001-abc"),
        ("K_CONFIGURATION", "hello"),
        ("FOO", "bar"),
        ("GCE_METADATA_HOST", "127.0.0.1:9999"),
        ("GCE_METADATA_IP", "127.0.0.1"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(env.contains_key("PATH"));
    assert!(
        !env.contains_key("CARGO_PKG_NAME"),
        "environment must be clean"
    );
    i.stop(Duration::from_secs(5)).await;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let o = run_task(
        &rt,
        job_spec("env"),
        Duration::from_secs(10),
        DEFAULT_GRACE,
        &CancelToken::new(),
        tx,
    )
    .await
    .unwrap();
    assert!(o.succeeded());
    let mut lines = Vec::new();
    while let Ok(l) = rx.try_recv() {
        if let LogPayload::Text(t) = l.payload {
            lines.push(t);
        }
    }
    for want in [
        "CLOUD_RUN_JOB=j",
        "CLOUD_RUN_EXECUTION=j-abc",
        "CLOUD_RUN_TASK_INDEX=2",
        "CLOUD_RUN_TASK_ATTEMPT=1",
        "CLOUD_RUN_TASK_COUNT=3",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("PORT=")));
}

#[tokio::test]
async fn term_then_kill_and_children_die() {
    let rt = ProcessRuntime::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Ignores TERM and leaves a grandchild in the same process group.
    let script = "trap '' TERM; sleep 60 & echo child=$!; exec python3 -c \"$SRV\"";
    let i = rt
        .start(
            svc_spec(&["sh", "-c", script], &[("SRV", SERVER)]),
            Duration::from_secs(10),
            tx,
        )
        .await
        .unwrap();
    let LogPayload::Text(t) = rx.recv().await.unwrap().payload else {
        panic!()
    };
    let child: u32 = t.strip_prefix("child=").unwrap().parse().unwrap();
    let pid = i.pid.unwrap();
    assert!(alive(child) && alive(pid));
    let started = std::time::Instant::now();
    let exit = i.stop(Duration::from_millis(300)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(exit.signal, Some(9));
    wait_until(|| !alive(child) && !alive(pid)).await;
}

#[tokio::test]
async fn shutdown_all_leaves_no_processes() {
    let rt = ProcessRuntime::new();
    let mut pids = Vec::new();
    for _ in 0..3 {
        let i = rt
            .start(
                server(&[]),
                Duration::from_secs(10),
                mpsc::unbounded_channel().0,
            )
            .await
            .unwrap();
        pids.push(i.pid.unwrap());
    }
    rt.start(
        job_spec("sleep 30"),
        Duration::from_secs(1),
        mpsc::unbounded_channel().0,
    )
    .await
    .map(|i| pids.push(i.pid.unwrap()))
    .unwrap();
    assert_eq!(rt.live_count(), 4);
    rt.shutdown_all(Duration::from_secs(2)).await;
    assert_eq!(rt.live_count(), 0);
    wait_until(|| pids.iter().all(|p| !alive(*p))).await;
}

#[tokio::test]
async fn job_exit_codes_timeout_and_cancel() {
    let rt = ProcessRuntime::new();
    let run = |s: &'static str, t: u64, c: CancelToken| {
        let rt = &rt;
        async move {
            run_task(
                rt,
                job_spec(s),
                Duration::from_millis(t),
                Duration::from_millis(200),
                &c,
                mpsc::unbounded_channel().0,
            )
            .await
            .unwrap()
        }
    };
    let ok = run("exit 0", 5000, CancelToken::new()).await;
    assert!(ok.succeeded() && ok.finished >= ok.started);
    let bad = run("exit 1", 5000, CancelToken::new()).await;
    assert_eq!((bad.end, bad.exit.code), (TaskEnd::Exited, Some(1)));
    assert!(!bad.succeeded());
    let slow = run("sleep 30", 200, CancelToken::new()).await;
    assert_eq!(slow.end, TaskEnd::TimedOut);
    assert_eq!(slow.exit.signal, Some(15));
    let c = CancelToken::new();
    let c2 = c.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c2.cancel();
    });
    let cancelled = run("sleep 30", 10_000, c).await;
    assert_eq!(cancelled.end, TaskEnd::Cancelled);
    assert_eq!(rt.live_count(), 0);
}

fn pool(
    rt: &Arc<ProcessRuntime>,
    cfg: PoolConfig,
    env: &[(&str, &str)],
    crashes: Option<mpsc::UnboundedSender<CrashEvent>>,
) -> InstancePool {
    InstancePool::new(
        rt.clone(),
        server(env),
        cfg,
        mpsc::unbounded_channel().0,
        crashes,
    )
}

fn cfg() -> PoolConfig {
    PoolConfig {
        concurrency: 2,
        min_instances: 0,
        max_instances: 1,
        startup_timeout: Duration::from_secs(10),
        acquire_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(60),
        grace: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn scale_from_zero_and_to_zero() {
    let rt = Arc::new(ProcessRuntime::new());
    let p = pool(
        &rt,
        PoolConfig {
            idle_timeout: Duration::from_millis(200),
            ..cfg()
        },
        &[],
        None,
    );
    assert_eq!(p.instance_count(), 0);
    let g = p.acquire().await.unwrap();
    assert!(get(g.addr).await.ends_with("ok"));
    assert_eq!(p.instance_count(), 1);
    drop(g);
    wait_until(|| p.instance_count() == 0).await;
    wait_until(|| rt.live_count() == 0).await;
    // And back up again.
    let g = p.acquire().await.unwrap();
    assert!(get(g.addr).await.ends_with("ok"));
    drop(g);
    p.shutdown().await;
    assert_eq!(rt.live_count(), 0);
    assert_eq!(p.acquire().await.err(), Some(PoolError::Closed));
}

#[tokio::test]
async fn concurrency_limit_queues_then_429() {
    let rt = Arc::new(ProcessRuntime::new());
    let p = pool(&rt, cfg(), &[], None);
    let a = p.acquire().await.unwrap();
    let _b = p.acquire().await.unwrap();
    // Third request waits for a slot and times out: every instance busy, max reached.
    let e = p.acquire().await.err().unwrap();
    assert_eq!(e, PoolError::NoAvailableInstance);
    assert!(
        e.to_string()
            .starts_with("The request was aborted because there was no available instance.")
    );
    // A waiting request gets the slot released meanwhile.
    let p2 = p.clone();
    let waiter = tokio::spawn(async move { p2.acquire().await.map(|g| g.addr) });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished());
    drop(a);
    assert!(waiter.await.unwrap().is_ok());
    assert_eq!(p.instance_count(), 1);
    p.shutdown().await;
}

#[tokio::test]
async fn crash_detected_and_min_instance_replaced() {
    let rt = Arc::new(ProcessRuntime::new());
    let (ctx, mut crx) = mpsc::unbounded_channel();
    let p = pool(
        &rt,
        PoolConfig {
            min_instances: 1,
            ..cfg()
        },
        &[],
        Some(ctx),
    );
    wait_until(|| p.instance_count() == 1).await;
    let first = p.instances()[0].clone();
    std::process::Command::new("kill")
        .args(["-KILL", &first.pid.unwrap().to_string()])
        .status()
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), crx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.instance_id, first.id);
    assert_eq!(ev.exit.log_text(), "Container terminated on signal 9.");
    wait_until(|| p.instances().iter().any(|i| i.id != first.id)).await;
    let g = p.acquire().await.unwrap();
    assert!(get(g.addr).await.ends_with("ok"));
    drop(g);
    p.shutdown().await;
    wait_until(|| rt.live_count() == 0).await;
}

#[tokio::test]
async fn pool_start_failure_and_dropped_acquire() {
    let rt = Arc::new(ProcessRuntime::new());
    let spec = svc_spec(&["sh", "-c", "exit 1"], &[]);
    let p = InstancePool::new(rt.clone(), spec, cfg(), mpsc::unbounded_channel().0, None);
    assert!(matches!(
        p.acquire().await,
        Err(PoolError::Start(StartError::Exited { .. }))
    ));
    // A request abandoned while its instance starts must not wedge the pool. (The wait for that
    // instance is generous: a loaded machine starts it slowly, and this is not the timeout test.)
    let patient = PoolConfig {
        acquire_timeout: Duration::from_secs(15),
        ..cfg()
    };
    let p = pool(&rt, patient, &[], None);
    let _ = tokio::time::timeout(Duration::from_millis(1), p.acquire()).await;
    let g = p.acquire().await.unwrap();
    assert!(get(g.addr).await.ends_with("ok"));
    drop(g);
    assert_eq!(p.instance_count(), 1);
    p.shutdown().await;
    wait_until(|| rt.live_count() == 0).await;
}
