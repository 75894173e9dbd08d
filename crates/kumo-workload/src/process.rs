//! The `Runtime` seam and its local-process driver.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Default SIGTERM→SIGKILL grace, as Cloud Run gives containers 10 s after SIGTERM.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Which workload contract the environment follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadKind {
    Service {
        service: String,
        revision: String,
        configuration: String,
    },
    JobTask {
        job: String,
        execution: String,
        task_index: u32,
        task_attempt: u32,
        task_count: u32,
    },
}

/// Everything needed to start one instance or task.
#[derive(Debug, Clone)]
pub struct StartSpec {
    pub argv: Vec<String>,
    pub workdir: Option<PathBuf>,
    pub kind: WorkloadKind,
    /// Image-map env first, then the container's env vars (later wins).
    pub env: BTreeMap<String, String>,
    /// `host:port` of the metadata server, given as GCE_METADATA_HOST; its IP as GCE_METADATA_IP.
    pub metadata_host: Option<String>,
    pub metadata_ip: Option<String>,
    /// Whether to allocate a port and export PORT (services; jobs get none).
    pub listen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogPayload {
    Text(String),
    /// A line that parsed as a JSON object: Cloud Logging's structured logging.
    Json(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub instance_id: u64,
    pub stream: Stream,
    pub timestamp: SystemTime,
    pub payload: LogPayload,
}

pub type LogSink = mpsc::UnboundedSender<LogLine>;

/// How an instance ended: exit code, or the terminating signal (unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartError {
    #[error("empty argv")]
    EmptyArgv,
    #[error("failed to start process {program:?}: {reason}")]
    Spawn { program: String, reason: String },
    #[error("could not allocate a loopback port: {0}")]
    Port(String),
    /// Cloud Run's revision failure text when the container never listens.
    #[error(
        "The user-provided container failed to start and listen on the port defined provided by the PORT={port} environment variable within the allocated timeout. This can happen when the container port is misconfigured or if the timeout is too short. The health check timeout can be extended. Logs for this revision might contain more information."
    )]
    NotListening { port: u16 },
    /// The process exited before listening. Cloud Run reports the same revision condition as for
    /// a container that never listens; the exit itself goes to the revision's logs
    /// (`ExitInfo::log_text`).
    #[error(
        "The user-provided container failed to start and listen on the port defined provided by the PORT={port} environment variable within the allocated timeout. This can happen when the container port is misconfigured or if the timeout is too short. The health check timeout can be extended. Logs for this revision might contain more information."
    )]
    Exited { port: u16, exit: ExitInfo },
}

impl ExitInfo {
    /// Cloud Run's system log line for a container that stopped.
    pub fn log_text(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("Container called exit({c})."),
            (None, Some(s)) => format!("Container terminated on signal {s}."),
            (None, None) => "Container terminated.".to_owned(),
        }
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => write!(f, "signal {s}"),
            (None, None) => f.write_str("unknown status"),
        }
    }
}

/// A running instance. Dropping it does not stop it; the runtime's supervisor owns the process.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: u64,
    /// Loopback address it listens on (None for job tasks).
    pub addr: Option<SocketAddr>,
    pub pid: Option<u32>,
    pub started: SystemTime,
    exit: watch::Receiver<Option<ExitInfo>>,
    stop: mpsc::UnboundedSender<Duration>,
}

impl Instance {
    /// Asks for SIGTERM, then SIGKILL after `grace`; returns once the instance has exited.
    pub async fn stop(&self, grace: Duration) -> ExitInfo {
        self.request_stop(grace);
        self.wait().await
    }

    /// Starts the SIGTERM/SIGKILL sequence without waiting for the exit.
    pub fn request_stop(&self, grace: Duration) {
        let _ = self.stop.send(grace);
    }

    pub async fn wait(&self) -> ExitInfo {
        let mut rx = self.exit.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or(ExitInfo {
                code: None,
                signal: None,
            }),
            // The supervisor task vanished; treat it as an unknown exit.
            Err(_) => ExitInfo {
                code: None,
                signal: None,
            },
        }
    }

    pub fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }
}

/// The driver seam: a container runtime implements the same contract later.
pub trait Runtime: Send + Sync + 'static {
    /// Starts an instance; for `listen` specs resolves once the TCP startup probe passed within
    /// `startup_timeout`.
    fn start(
        &self,
        spec: StartSpec,
        startup_timeout: Duration,
        logs: LogSink,
    ) -> BoxFuture<'_, Result<Instance, StartError>>;
    /// Stops every live instance (SIGTERM, SIGKILL after `grace`) and waits for them.
    fn shutdown_all(&self, grace: Duration) -> BoxFuture<'_, ()>;
}

/// Runs workloads as local processes, one process group each.
#[derive(Default)]
pub struct ProcessRuntime {
    live: Arc<Mutex<HashMap<u64, Instance>>>,
    next_id: std::sync::atomic::AtomicU64,
}

/// `sh -c` script of the parent-death guard: `$@` is the workload's argv. The watcher ignores
/// TERM so that it outlives its own group signal long enough to send KILL.
/// (A background list's stdin is /dev/null before its redirections apply, so the pipe travels on
/// fd 3.)
const GUARD_SCRIPT: &str = "exec 3<&0; ( trap '' TERM; while read -r _; do :; done <&3; kill -TERM 0; sleep 10; kill -KILL 0 ) & exec \"$@\" </dev/null 3<&-";

/// Whether `program` names a file: a path (relative to `workdir`) or a name found on `path`.
fn program_exists(program: &str, path: Option<&str>, workdir: Option<&std::path::Path>) -> bool {
    if program.contains('/') {
        let candidate = std::path::Path::new(program);
        let candidate = match workdir {
            Some(dir) if candidate.is_relative() => dir.join(candidate),
            _ => candidate.to_path_buf(),
        };
        return candidate.is_file();
    }
    path.unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .split(':')
        .filter(|dir| !dir.is_empty())
        .any(|dir| std::path::Path::new(dir).join(program).is_file())
}

impl ProcessRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn live_count(&self) -> usize {
        self.live.lock().map_or(0, |m| m.len())
    }
}

/// Binds 127.0.0.1:0 to learn a free port; the caller retries if the child loses the race.
pub fn free_port() -> Result<u16, StartError> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| StartError::Port(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| StartError::Port(e.to_string()))
}

fn build_env(spec: &StartSpec, port: Option<u16>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for k in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(k) {
            env.insert(k.to_owned(), v);
        }
    }
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    // Platform variables win over user ones, as Cloud Run reserves these names.
    if let Some(p) = port {
        env.insert("PORT".into(), p.to_string());
    }
    match &spec.kind {
        WorkloadKind::Service {
            service,
            revision,
            configuration,
        } => {
            env.insert("K_SERVICE".into(), service.clone());
            env.insert("K_REVISION".into(), revision.clone());
            env.insert("K_CONFIGURATION".into(), configuration.clone());
        }
        WorkloadKind::JobTask {
            job,
            execution,
            task_index,
            task_attempt,
            task_count,
        } => {
            env.insert("CLOUD_RUN_JOB".into(), job.clone());
            env.insert("CLOUD_RUN_EXECUTION".into(), execution.clone());
            env.insert("CLOUD_RUN_TASK_INDEX".into(), task_index.to_string());
            env.insert("CLOUD_RUN_TASK_ATTEMPT".into(), task_attempt.to_string());
            env.insert("CLOUD_RUN_TASK_COUNT".into(), task_count.to_string());
        }
    }
    if let Some(h) = &spec.metadata_host {
        env.insert("GCE_METADATA_HOST".into(), h.clone());
    }
    if let Some(i) = &spec.metadata_ip {
        env.insert("GCE_METADATA_IP".into(), i.clone());
    }
    env
}

/// Signals a whole process group. `kill(1)` is used because unsafe code (libc::kill) is forbidden
/// and no signal crate is a dependency.
fn signal_group(pgid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn exit_info(st: std::process::ExitStatus) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    ExitInfo {
        code: st.code(),
        signal: st.signal(),
    }
}

fn pump<R: AsyncRead + Unpin + Send + 'static>(
    r: R,
    stream: Stream,
    id: u64,
    sink: LogSink,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let payload = match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(v @ serde_json::Value::Object(_)) => LogPayload::Json(v),
                _ => LogPayload::Text(line),
            };
            let _ = sink.send(LogLine {
                instance_id: id,
                stream,
                timestamp: SystemTime::now(),
                payload,
            });
        }
    })
}

impl ProcessRuntime {
    async fn spawn_once(
        &self,
        spec: &StartSpec,
        port: Option<u16>,
        logs: LogSink,
    ) -> Result<Instance, StartError> {
        let (program, _) = spec.argv.split_first().ok_or(StartError::EmptyArgv)?;
        // The guard shell would report a missing program only as exit 127; say it up front.
        let env = build_env(spec, port);
        if !program_exists(
            program,
            env.get("PATH").map(String::as_str),
            spec.workdir.as_deref(),
        ) {
            return Err(StartError::Spawn {
                program: program.clone(),
                reason: "No such file or directory (os error 2)".to_owned(),
            });
        }
        // Instances must not outlive Kumo, even a SIGKILLed one. The workload runs under a
        // watcher in its process group that blocks on a pipe only Kumo holds: when Kumo dies the
        // pipe closes and the watcher stops the group (TERM, then KILL after the grace period).
        // `exec` keeps the workload's pid as the group leader; its own stdin stays /dev/null.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(GUARD_SCRIPT)
            .arg("kumo-guard")
            .args(&spec.argv)
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(d) = &spec.workdir {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().map_err(|e| StartError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })?;
        // Held for the instance's lifetime: closing it is what tells the watcher Kumo is gone.
        let guard_pipe = child.stdin.take();
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = child.id();
        let pumps: Vec<_> = [
            child
                .stdout
                .take()
                .map(|o| pump(o, Stream::Stdout, id, logs.clone())),
            child
                .stderr
                .take()
                .map(|e| pump(e, Stream::Stderr, id, logs)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (exit_tx, exit_rx) = watch::channel(None);
        let (stop_tx, mut stop_rx) = mpsc::unbounded_channel::<Duration>();
        let inst = Instance {
            id,
            addr: port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            pid,
            started: SystemTime::now(),
            exit: exit_rx,
            stop: stop_tx,
        };
        if let Ok(mut m) = self.live.lock() {
            m.insert(id, inst.clone());
        }
        let live = Arc::clone(&self.live);
        tokio::spawn(async move {
            let status = tokio::select! {
                st = child.wait() => st,
                Some(grace) = stop_rx.recv() => {
                    if let Some(p) = pid { signal_group(p, "TERM"); }
                    match tokio::time::timeout(grace, child.wait()).await {
                        Ok(st) => st,
                        Err(_) => {
                            if let Some(p) = pid { signal_group(p, "KILL"); }
                            let _ = child.start_kill();
                            child.wait().await
                        }
                    }
                }
            };
            // Children of the leader may outlive it; reap the whole group.
            if let Some(p) = pid {
                signal_group(p, "KILL");
            }
            let info = status.map_or(
                ExitInfo {
                    code: None,
                    signal: None,
                },
                exit_info,
            );
            for p in pumps {
                let _ = tokio::time::timeout(Duration::from_secs(1), p).await;
            }
            if let Ok(mut m) = live.lock() {
                m.remove(&id);
            }
            drop(guard_pipe);
            tracing::debug!(id, ?info, "instance exited");
            let _ = exit_tx.send(Some(info));
        });
        Ok(inst)
    }

    async fn probe(inst: &Instance, addr: SocketAddr, timeout: Duration) -> Result<(), StartError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(exit) = inst.exited() {
                return Err(StartError::Exited {
                    port: addr.port(),
                    exit,
                });
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StartError::NotListening { port: addr.port() });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Runtime for ProcessRuntime {
    fn start(
        &self,
        spec: StartSpec,
        startup_timeout: Duration,
        logs: LogSink,
    ) -> BoxFuture<'_, Result<Instance, StartError>> {
        Box::pin(async move {
            if !spec.listen {
                return self.spawn_once(&spec, None, logs).await;
            }
            // The port is free when chosen but another process may grab it before the child binds;
            // an early exit while someone else holds the port is that race, so pick another port.
            let mut attempts = 0;
            loop {
                attempts += 1;
                let port = free_port()?;
                let inst = self.spawn_once(&spec, Some(port), logs.clone()).await?;
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                match Self::probe(&inst, addr, startup_timeout).await {
                    Ok(()) => return Ok(inst),
                    Err(e) => {
                        inst.stop(Duration::from_millis(500)).await;
                        let stolen = matches!(e, StartError::Exited { .. })
                            && tokio::net::TcpStream::connect(addr).await.is_ok();
                        if !stolen || attempts >= 3 {
                            return Err(e);
                        }
                    }
                }
            }
        })
    }

    fn shutdown_all(&self, grace: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let all: Vec<Instance> = self
                .live
                .lock()
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            for i in &all {
                i.request_stop(grace);
            }
            for i in &all {
                i.wait().await;
            }
        })
    }
}
