//! The data plane's engine room: runs Cloud Run revisions and job tasks as local processes through
//! `kumo-workload`, one [`InstancePool`] per revision (scale from zero on demand, min/max
//! instances and `containerConcurrency` from the revision, idle scale-to-zero, crash
//! replacement), gives every workload the container contract (`PORT`, `K_SERVICE`, ..., the
//! revision's env, `GCE_METADATA_HOST` of its own metadata server) and turns its stdout/stderr
//! into Cloud Logging entries.
//!
//! The metadata server lives in `kumo-api`, which this crate cannot depend on, so the binary
//! injects a [`MetadataServer`] with [`Runtime::set_metadata_server`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use kumo_store::{EncodedLogEntry, LogBatch, Store};
use kumo_wire::run_v2::{Container, Revision, Service};
use kumo_workload::{
    ImageCommand, ImageMap, InstancePool, LogLine, LogPayload, PoolConfig, PoolError, SlotGuard,
    StartSpec, WorkloadKind,
};
use serde_json::{Map, Value, json};

use crate::{Control, Error};

pub use kumo_workload::{BoxFuture, CancelToken, TaskEnd};

/// Google's sample images and the built-in sample each one runs (`kumo __sample NAME`).
const SAMPLE_IMAGES: [(&str, &str); 4] = [
    ("us-docker.pkg.dev/cloudrun/container/hello", "hello"),
    ("gcr.io/cloudrun/hello", "hello"),
    ("us-docker.pkg.dev/cloudrun/container/job", "job"),
    ("gcr.io/cloudrun/job", "job"),
];

/// Cloud Run's default startup budget when the revision has no startup probe (240 s).
const DEFAULT_STARTUP: Duration = Duration::from_secs(240);
/// How long an idle instance above `minInstanceCount` lives before it is stopped. Cloud Run
/// keeps idle instances up to 15 minutes.
const DEFAULT_IDLE: Duration = Duration::from_secs(900);
/// Cloud Run's default request timeout (300 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The writer reuses a batch of at most this many entries (a few flushes' worth at the
/// gateway's peak rate).
const LOG_BATCH_KEPT: usize = 4096;
const LOG_FLUSH: Duration = Duration::from_millis(25);

/// Who a workload runs as, handed to the metadata server it talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// The runtime service account's email.
    pub service_account_email: String,
    /// Project id.
    pub project_id: String,
    /// Project number.
    pub project_number: String,
    /// Region, e.g. `us-central1`.
    pub region: String,
    /// The instance id the metadata server reports.
    pub instance_id: String,
}

/// A running metadata listener: `host` is `127.0.0.1:PORT`; dropping `stop` (or sending on it)
/// stops the listener.
pub struct MetadataEndpoint {
    /// `host:port` for `GCE_METADATA_HOST`.
    pub host: String,
    /// Stops the listener when sent to or dropped.
    pub stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts a metadata server for one workload (implemented by the binary over
/// `kumo_api::metadata::metadata_router`).
pub trait MetadataServer: Send + Sync + 'static {
    /// Start a listener serving `identity`.
    fn start(
        &self,
        identity: WorkloadIdentity,
    ) -> BoxFuture<'static, Result<MetadataEndpoint, Error>>;
}

/// One job task to run to completion.
#[derive(Debug, Clone, Default)]
pub struct TaskSpec {
    /// Project id.
    pub project: String,
    /// Project number (for the metadata server).
    pub project_number: String,
    /// Region.
    pub region: String,
    /// Job id (short name).
    pub job: String,
    /// Execution id (short name).
    pub execution: String,
    /// Task id (short name, `EXECUTION-task0`-style... as the jobs API names it).
    pub task: String,
    /// `CLOUD_RUN_TASK_INDEX`.
    pub index: u32,
    /// `CLOUD_RUN_TASK_ATTEMPT`.
    pub attempt: u32,
    /// `CLOUD_RUN_TASK_COUNT`.
    pub count: u32,
    /// The container image.
    pub image: String,
    /// Overrides the image's entrypoint when not empty.
    pub command: Vec<String>,
    /// Overrides the image's args when not empty.
    pub args: Vec<String>,
    /// The container's environment (plain values).
    pub env: BTreeMap<String, String>,
    /// Working directory override.
    pub working_dir: Option<String>,
    /// Runtime service account email.
    pub service_account: String,
    /// The task timeout (Cloud Run default 10 minutes).
    pub timeout: Duration,
    /// Cancel the task (execution `:cancel`).
    pub cancel: CancelToken,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    /// Exited / timed out / cancelled.
    pub end: TaskEnd,
    /// The exit code when the process exited with one.
    pub exit_code: Option<i32>,
    /// When the process started.
    pub start_time: DateTime<Utc>,
    /// When it ended.
    pub end_time: DateTime<Utc>,
    /// Cloud Run's text for a failed attempt (`None` on success).
    pub message: Option<String>,
}

impl TaskOutcome {
    /// Exit code 0 within the timeout.
    pub fn succeeded(&self) -> bool {
        self.end == TaskEnd::Exited && self.exit_code == Some(0)
    }
}

/// Where one request goes: a reserved slot on an instance of `revision`. Dropping it releases the
/// slot.
pub struct Slot {
    /// The revision.
    pub info: RevisionInfo,
    /// The instance's address.
    pub addr: std::net::SocketAddr,
    _guard: SlotGuard,
}

/// What the gateway needs to know about a revision to forward to it.
#[derive(Debug, Clone, Copy)]
pub struct RevisionInfo {
    /// Request timeout (`timeout`).
    pub timeout: Duration,
    /// The container port is named `h2c`: speak HTTP/2 cleartext to it.
    pub h2c: bool,
}

struct RevisionPool {
    pool: InstancePool,
    info: RevisionInfo,
    service: String,
    _metadata: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RevisionPool {
    fn slot(&self, guard: SlotGuard) -> Slot {
        Slot {
            info: self.info,
            addr: guard.addr,
            _guard: guard,
        }
    }
}

/// Runs workloads. Owned by [`Control`]; reach it with [`Control::runtime`].
pub struct Runtime {
    driver: Arc<Tracked>,
    images: RwLock<ImageMap>,
    metadata: RwLock<Option<Arc<dyn MetadataServer>>>,
    pools: Mutex<crate::invoke::FastMap<String, Arc<RevisionPool>>>,
    /// Serialises pool creation so two first requests do not both build a pool.
    creating: tokio::sync::Mutex<()>,
    logs: Arc<LogQueue>,
    store: Arc<dyn Store>,
    idle_timeout: RwLock<Duration>,
    invoke: crate::invoke::InvokeCaches,
    /// The tokio runtime Kumo was started on (`None` when built outside one).
    home: Option<tokio::runtime::Handle>,
}

impl Control {
    /// The workload runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// [`Runtime::acquire`] from any thread. The common case — a running instance of the
    /// revision has a free slot — is answered where it is asked; anything slower (building the
    /// pool, starting an instance, waiting for a slot) runs on the runtime Kumo was started on,
    /// because the tasks it spawns outlive the request (instance watchers, log pumps, the
    /// metadata server) and must not land on a gateway I/O thread.
    pub async fn acquire_instance(&self, revision_name: &str) -> Result<Slot, Error> {
        let runtime = self.runtime();
        if let Some(slot) = runtime.try_acquire(revision_name)? {
            return Ok(slot);
        }
        let Some(home) = runtime.home.as_ref() else {
            return runtime.acquire(revision_name).await;
        };
        if tokio::runtime::Handle::try_current().is_ok_and(|here| here.id() == home.id()) {
            return runtime.acquire(revision_name).await;
        }
        let control = self.clone();
        let revision_name = revision_name.to_owned();
        home.spawn(async move { control.runtime().acquire(&revision_name).await })
            .await
            .map_err(Error::internal)?
    }
}

/// The built-in image map: Google's samples run this executable's `__sample` modes.
fn builtin_images() -> ImageMap {
    let mut map = ImageMap::new();
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.display().to_string();
        for (image, sample) in SAMPLE_IMAGES {
            let cmd = ImageCommand {
                entrypoint: vec![exe.clone(), "__sample".into(), sample.into()],
                ..ImageCommand::default()
            };
            if let Err(e) = map.insert(image, cmd) {
                tracing::warn!(error = %e, "built-in image");
            }
        }
    }
    map
}

impl Runtime {
    /// A runtime with the process driver that writes logs to `store`.
    pub(crate) fn new(store: Arc<dyn Store>) -> Runtime {
        let logs = Arc::new(LogQueue::default());
        let writer_store = Arc::clone(&store);
        let writer_queue = Arc::clone(&logs);
        // SQLite writes block: a dedicated thread batches them off the async workers.
        let spawned = std::thread::Builder::new()
            .name("kumo-logs".into())
            .spawn(move || log_writer(writer_store.as_ref(), &writer_queue));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the log writer; workload logs are dropped");
        }
        Runtime {
            driver: Arc::new(Tracked {
                inner: kumo_workload::ProcessRuntime::new(),
                live: Arc::new(Mutex::new(HashMap::new())),
            }),
            images: RwLock::new(builtin_images()),
            metadata: RwLock::new(None),
            pools: Mutex::new(crate::invoke::FastMap::default()),
            creating: tokio::sync::Mutex::new(()),
            logs,
            store,
            idle_timeout: RwLock::new(DEFAULT_IDLE),
            invoke: crate::invoke::InvokeCaches::new(),
            home: tokio::runtime::Handle::try_current().ok(),
        }
    }

    pub(crate) fn invoke_caches(&self) -> &crate::invoke::InvokeCaches {
        &self.invoke
    }

    /// Install the metadata server workloads get (the binary does this at start-up).
    pub fn set_metadata_server(&self, server: Arc<dyn MetadataServer>) {
        if let Ok(mut m) = self.metadata.write() {
            *m = Some(server);
        }
    }

    /// Idle time after which instances above the minimum are stopped (tests shorten it).
    pub fn set_idle_timeout(&self, idle: Duration) {
        if let Ok(mut t) = self.idle_timeout.write() {
            *t = idle;
        }
    }

    /// Load an image map file (`DATA_DIR/images.json`, `kumo up --images FILE`):
    /// `{"images": {"IMAGE[:TAG]|PREFIX/*": {"entrypoint": [..], "args": [..], "workdir": "..",
    /// "env": {..}}}}`. Entries override the built-ins.
    pub fn load_images_file(&self, path: &Path) -> Result<(), Error> {
        let mut images = self
            .images
            .write()
            .map_err(|_| Error::internal("image map lock"))?;
        images
            .load_file(path)
            .map_err(|e| Error::invalid(e.to_string()))
    }

    /// Map one image to a command (tests and `kumo up` use it).
    pub fn register_image(&self, image: &str, command: ImageCommand) -> Result<(), Error> {
        let mut images = self
            .images
            .write()
            .map_err(|_| Error::internal("image map lock"))?;
        images
            .insert(image, command)
            .map_err(|e| Error::invalid(e.to_string()))
    }

    fn resolve_image(&self, image: &str) -> Result<ImageCommand, Error> {
        let images = self
            .images
            .read()
            .map_err(|_| Error::internal("image map lock"))?;
        images
            .resolve(image)
            .cloned()
            .map_err(|e| Error::failed_precondition(e.to_string()))
    }

    /// Start one instance of `revision` and probe it. On failure the error's message is Cloud
    /// Run's container-failed text (`The user-provided container failed to start and listen on
    /// the port ...`), as a FAILED_PRECONDITION.
    pub async fn deploy_revision(
        &self,
        revision: &Revision,
        service: &Service,
    ) -> Result<(), Error> {
        // The service's URLs (and so its port listener) exist now; the gateway starts listening.
        self.invoke.service_changed(&revision_service(revision));
        let pool = self.pool_for(revision, service).await?;
        match pool.pool.acquire().await {
            Ok(slot) => {
                drop(slot);
                Ok(())
            }
            Err(e) => {
                self.drop_pool(&revision.name).await;
                Err(pool_error(e))
            }
        }
    }

    /// Stop every instance of a deleted service.
    pub async fn retire_service(&self, service_name: &str) {
        self.invoke.service_changed(service_name);
        let victims: Vec<Arc<RevisionPool>> = match self.pools.lock() {
            Ok(mut pools) => {
                let names: Vec<String> = pools
                    .iter()
                    .filter(|(_, p)| p.service == service_name)
                    .map(|(n, _)| n.clone())
                    .collect();
                names.iter().filter_map(|n| pools.remove(n)).collect()
            }
            Err(_) => Vec::new(),
        };
        for p in victims {
            p.pool.shutdown().await;
        }
    }

    /// Stop the instances of revisions of `service_name` that are not in `keep` (revisions that
    /// no longer receive traffic).
    pub async fn retire_revisions_except(&self, service_name: &str, keep: &[String]) {
        let victims: Vec<Arc<RevisionPool>> = match self.pools.lock() {
            Ok(mut pools) => {
                let names: Vec<String> = pools
                    .iter()
                    .filter(|(n, p)| p.service == service_name && !keep.contains(n))
                    .map(|(n, _)| n.clone())
                    .collect();
                names.iter().filter_map(|n| pools.remove(n)).collect()
            }
            Err(_) => Vec::new(),
        };
        for p in victims {
            p.pool.shutdown().await;
        }
    }

    async fn drop_pool(&self, revision: &str) {
        let removed = self.pools.lock().ok().and_then(|mut p| p.remove(revision));
        if let Some(p) = removed {
            p.pool.shutdown().await;
        }
    }

    /// Reserve a slot on an instance of `revision_name` (full name), starting the revision's pool
    /// (and an instance) from its stored record when nothing runs yet. `Err` is
    /// RESOURCE_EXHAUSTED with Cloud Run's "no available instance" text when every instance is
    /// busy and the maximum is reached, or the start failure.
    pub async fn acquire(&self, revision_name: &str) -> Result<Slot, Error> {
        let pool = match self.running_pool(revision_name) {
            Some(p) => p,
            None => {
                let (revision, service) = self.load_revision(revision_name)?;
                self.pool_for(&revision, &service).await?
            }
        };
        let guard = pool.pool.acquire().await.map_err(pool_error)?;
        Ok(pool.slot(guard))
    }

    /// The pool of `revision_name` when one runs.
    fn running_pool(&self, revision_name: &str) -> Option<Arc<RevisionPool>> {
        self.pools
            .lock()
            .ok()
            .and_then(|p| p.get(revision_name).cloned())
    }

    /// A slot on a running instance of `revision_name` that has one free, if any: no waiting,
    /// nothing started.
    fn try_acquire(&self, revision_name: &str) -> Result<Option<Slot>, Error> {
        let Some(pool) = self.running_pool(revision_name) else {
            return Ok(None);
        };
        let guard = pool.pool.try_acquire().map_err(pool_error)?;
        Ok(guard.map(|guard| pool.slot(guard)))
    }

    /// Queue encoded `LogEntry`s (the gateway's request logs) for the batched writer: `push`
    /// adds them to the pending batch. Blocks only while another producer pushes (keep `push`
    /// to copying).
    pub fn append_log_with(&self, push: impl FnOnce(&mut LogBatch)) {
        self.logs.push(push);
    }

    /// Process groups of every running service instance (the gateway tells Kumo's own workloads
    /// from other local clients with it, for `ingress: internal`).
    pub fn workload_process_groups(&self) -> Vec<u32> {
        self.driver
            .live
            .lock()
            .map(|live| live.values().copied().collect())
            .unwrap_or_default()
    }

    /// How many instances `revision_name` has now (0 when scaled to zero).
    pub fn instance_count(&self, revision_name: &str) -> usize {
        self.running_pool(revision_name)
            .map_or(0, |p| p.pool.instance_count())
    }

    fn load_revision(&self, revision_name: &str) -> Result<(Revision, Service), Error> {
        let not_ready =
            || Error::not_found(format!("Revision '{}' not found.", short(revision_name)));
        let record = self
            .store
            .get(
                crate::records::Collection::Revisions.as_str(),
                revision_name,
            )
            .map_err(Error::internal)?
            .ok_or_else(not_ready)?;
        let revision: Revision = serde_json::from_value(record.data).map_err(Error::internal)?;
        let service_name = record.parent.unwrap_or_else(|| revision_service(&revision));
        let record = self
            .store
            .get(crate::records::Collection::Services.as_str(), &service_name)
            .map_err(Error::internal)?
            .ok_or_else(not_ready)?;
        let service: Service = serde_json::from_value(record.data).map_err(Error::internal)?;
        Ok((revision, service))
    }

    async fn pool_for(
        &self,
        revision: &Revision,
        service: &Service,
    ) -> Result<Arc<RevisionPool>, Error> {
        let _creating = self.creating.lock().await;
        if let Some(p) = self.running_pool(&revision.name) {
            return Ok(p);
        }
        let names = ResourceNames::parse(&revision.name)?;
        let container = ingress_container(revision)?;
        let image = self.resolve_image(&container.image)?;
        let mut env = image.env.clone();
        env.extend(plain_env(container)?);
        let identity = WorkloadIdentity {
            service_account_email: revision.service_account.clone(),
            project_id: names.project.clone(),
            project_number: project_number(service),
            region: names.location.clone(),
            instance_id: revision.uid.clone(),
        };
        let (metadata_host, stop) = self.start_metadata(identity).await?;
        let workdir = (!container.working_dir.is_empty())
            .then(|| container.working_dir.clone().into())
            .or(image.workdir.clone());
        let spec = StartSpec {
            argv: image.argv(&container.command, &container.args),
            workdir,
            kind: WorkloadKind::Service {
                service: names.parent_id.clone(),
                revision: names.id.clone(),
                configuration: names.parent_id.clone(),
            },
            env,
            // google-auth builds `http://{GCE_METADATA_IP}` for its ping: host:port, like the host.
            metadata_ip: metadata_host.clone(),
            metadata_host,
            listen: true,
        };
        let scaling = revision.scaling.clone().unwrap_or_default();
        let cfg = PoolConfig {
            concurrency: revision
                .max_instance_request_concurrency
                .map_or(80, |c| c.max(0) as u32),
            min_instances: scaling.min_instance_count.map_or(0, |m| m.max(0) as u32),
            max_instances: scaling
                .max_instance_count
                .filter(|m| *m > 0)
                .map_or(100, |m| m as u32),
            startup_timeout: startup_timeout(container),
            idle_timeout: self.idle_timeout.read().map_or(DEFAULT_IDLE, |t| *t),
            ..PoolConfig::default()
        };
        let resource = json!({
            "type": "cloud_run_revision",
            "labels": {
                "project_id": names.project,
                "location": names.location,
                "service_name": names.parent_id,
                "revision_name": names.id,
                "configuration_name": names.parent_id,
            }
        });
        let sink = self.log_sink(names.project.clone(), resource, Map::new());
        let driver: Arc<dyn kumo_workload::Runtime> = self.driver.clone();
        let pool = InstancePool::new(driver, spec, cfg, sink, None);
        let entry = Arc::new(RevisionPool {
            pool,
            info: revision_info(revision),
            service: revision_service(revision),
            _metadata: stop,
        });
        if let Ok(mut pools) = self.pools.lock() {
            pools.insert(revision.name.clone(), Arc::clone(&entry));
        }
        Ok(entry)
    }

    async fn start_metadata(
        &self,
        identity: WorkloadIdentity,
    ) -> Result<(Option<String>, Option<tokio::sync::oneshot::Sender<()>>), Error> {
        let server = self.metadata.read().ok().and_then(|m| m.clone());
        match server {
            Some(server) => {
                let endpoint = server.start(identity).await?;
                Ok((Some(endpoint.host), Some(endpoint.stop)))
            }
            None => Ok((None, None)),
        }
    }

    /// Run one job task to completion (or timeout / cancel). `Err` = the task could not start
    /// (unknown image, spawn failure).
    pub async fn run_task(&self, spec: TaskSpec) -> Result<TaskOutcome, Error> {
        let image = self.resolve_image(&spec.image)?;
        let mut env = image.env.clone();
        env.extend(spec.env.clone());
        let identity = WorkloadIdentity {
            service_account_email: spec.service_account.clone(),
            project_id: spec.project.clone(),
            project_number: spec.project_number.clone(),
            region: spec.region.clone(),
            instance_id: format!("{}-{}", spec.task, spec.attempt),
        };
        let (metadata_host, _stop) = self.start_metadata(identity).await?;
        let workdir = spec
            .working_dir
            .clone()
            .map(Into::into)
            .or(image.workdir.clone());
        let start = StartSpec {
            argv: image.argv(&spec.command, &spec.args),
            workdir,
            kind: WorkloadKind::JobTask {
                job: spec.job.clone(),
                execution: spec.execution.clone(),
                task_index: spec.index,
                task_attempt: spec.attempt,
                task_count: spec.count,
            },
            env,
            // google-auth builds `http://{GCE_METADATA_IP}` for its ping: host:port, like the host.
            metadata_ip: metadata_host.clone(),
            metadata_host,
            listen: false,
        };
        let resource = json!({
            "type": "cloud_run_job",
            "labels": {"project_id": spec.project, "location": spec.region, "job_name": spec.job}
        });
        let mut labels = Map::new();
        labels.insert(
            "run.googleapis.com/execution_name".into(),
            json!(spec.execution),
        );
        labels.insert(
            "run.googleapis.com/task_index".into(),
            json!(spec.index.to_string()),
        );
        labels.insert(
            "run.googleapis.com/task_attempt".into(),
            json!(spec.attempt.to_string()),
        );
        let sink = self.log_sink(spec.project.clone(), resource, labels);
        let timeout = if spec.timeout.is_zero() {
            Duration::from_secs(600)
        } else {
            spec.timeout
        };
        let outcome = kumo_workload::run_task(
            self.driver.as_ref(),
            start,
            timeout,
            kumo_workload::DEFAULT_GRACE,
            &spec.cancel,
            sink,
        )
        .await
        .map_err(|e| Error::failed_precondition(e.to_string()))?;
        let message = match outcome.end {
            TaskEnd::Exited if outcome.exit.code == Some(0) => None,
            // UNCONFIRMED: Cloud Run's attempt messages, as seen in `gcloud run jobs executions describe`.
            TaskEnd::Exited => Some(format!(
                "The container exited with an error. {}",
                outcome.exit.log_text()
            )),
            TaskEnd::TimedOut => Some("The configured timeout was reached.".to_owned()),
            TaskEnd::Cancelled => Some("The task was cancelled.".to_owned()),
        };
        Ok(TaskOutcome {
            end: outcome.end,
            exit_code: outcome.exit.code,
            start_time: outcome.started.into(),
            end_time: outcome.finished.into(),
            message,
        })
    }

    /// Stop every instance (Ctrl-C). Pools are closed; later requests fail.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<RevisionPool>> = match self.pools.lock() {
            Ok(mut pools) => pools.drain().map(|(_, p)| p).collect(),
            Err(_) => Vec::new(),
        };
        for p in &all {
            p.pool.shutdown().await;
        }
        kumo_workload::Runtime::shutdown_all(self.driver.as_ref(), kumo_workload::DEFAULT_GRACE)
            .await;
    }

    /// A log sink whose lines become `LogEntry`s of `resource` in `project`.
    fn log_sink(
        &self,
        project: String,
        resource: Value,
        labels: Map<String, Value>,
    ) -> kumo_workload::LogSink {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LogLine>();
        let out = Arc::clone(&self.logs);
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                let entry = log_entry(&project, &resource, &labels, &line);
                match EncodedLogEntry::encode(&entry, Utc::now()) {
                    Ok(encoded) => out.push(|batch| batch.push(&encoded)),
                    Err(e) => tracing::warn!(error = %e, "dropping a workload log line"),
                }
            }
        });
        tx
    }
}

/// The process driver, remembering the process group of every live workload (service
/// instances and job tasks alike): the gateway's test for "internal" callers.
struct Tracked {
    inner: kumo_workload::ProcessRuntime,
    live: Arc<Mutex<HashMap<u64, u32>>>,
}

impl kumo_workload::Runtime for Tracked {
    fn start(
        &self,
        spec: StartSpec,
        startup_timeout: Duration,
        logs: kumo_workload::LogSink,
    ) -> BoxFuture<'_, Result<kumo_workload::Instance, kumo_workload::StartError>> {
        Box::pin(async move {
            let instance = self.inner.start(spec, startup_timeout, logs).await?;
            if let Some(pid) = instance.pid
                && let Ok(mut live) = self.live.lock()
            {
                live.insert(instance.id, pid);
            }
            let live = Arc::clone(&self.live);
            let watched = instance.clone();
            tokio::spawn(async move {
                watched.wait().await;
                if let Ok(mut live) = live.lock() {
                    live.remove(&watched.id);
                }
            });
            Ok(instance)
        })
    }

    fn shutdown_all(&self, grace: Duration) -> BoxFuture<'_, ()> {
        self.inner.shutdown_all(grace)
    }
}

/// Log entries on their way to the store. Each producer thread pushes into its own shard's
/// pending batch (the gateway's I/O threads each append an entry per request: one shared
/// batch bounced its lock and its tail's cache lines between the cores on every request);
/// every [`LOG_FLUSH`] the writer thread swaps each shard's batch for its own emptied one and
/// writes what it took in one append. Once the batches have grown to a flush's worth, a steady
/// stream of entries allocates nothing, and an entry is freed on the thread that made it (see
/// [`LogBatch`]). The writer polls instead of waiting for a signal: a wake-up would cost a
/// producer a futex call per entry, i.e. a system call per request on the gateway's hot path.
#[derive(Default)]
struct LogQueue {
    pending: crate::per_thread::PerThread<LogBatch>,
}

impl LogQueue {
    fn push(&self, push: impl FnOnce(&mut LogBatch)) {
        self.pending.with(push);
    }
}

/// Writes what producers queued until none is left (the queue's only owner is then this
/// thread), then writes what they left and returns.
fn log_writer(store: &dyn Store, queue: &Arc<LogQueue>) {
    // Each shard's batch stays with it: swapped in and out, the buffers keep the capacity
    // their producer needs.
    let mut taken: Vec<LogBatch> = (0..queue.pending.shards())
        .map(|_| LogBatch::new())
        .collect();
    loop {
        std::thread::sleep(LOG_FLUSH);
        let last = Arc::strong_count(queue) == 1;
        let mut batches = taken.iter_mut();
        queue.pending.each(|pending| {
            if let Some(batch) = batches.next() {
                std::mem::swap(pending, batch);
            }
        });
        if taken.iter().any(|batch| !batch.is_empty()) {
            if let Err(e) = store.append_encoded_log(&taken) {
                let count: usize = taken.iter().map(LogBatch::len).sum();
                tracing::warn!(error = %e, count, "dropping log entries");
            }
            for batch in &mut taken {
                // A backlog's batch is not kept: its memory would stay for good.
                if batch.len() > LOG_BATCH_KEPT {
                    *batch = LogBatch::new();
                } else {
                    batch.clear();
                }
            }
        }
        if last {
            return;
        }
    }
}

/// Google's LogEntry for one line. JSON lines are structured logs: `severity`, `message`,
/// `logging.googleapis.com/trace|spanId|labels|insertId`, `httpRequest` are lifted out and the
/// rest stays in `jsonPayload`.
fn log_entry(
    project: &str,
    resource: &Value,
    labels: &Map<String, Value>,
    line: &LogLine,
) -> Value {
    let timestamp = timestamp(line.timestamp);
    let mut entry = Map::new();
    entry.insert(
        "logName".into(),
        json!(format!(
            "projects/{project}/logs/run.googleapis.com%2F{}",
            line.stream.name()
        )),
    );
    entry.insert("resource".into(), resource.clone());
    entry.insert("timestamp".into(), json!(timestamp));
    entry.insert("receiveTimestamp".into(), json!(timestamp));
    entry.insert(
        "insertId".into(),
        json!(uuid::Uuid::new_v4().simple().to_string()),
    );
    let mut entry_labels = labels.clone();
    entry_labels.insert(
        "instanceId".into(),
        json!(format!("{:016x}", line.instance_id)),
    );
    match &line.payload {
        LogPayload::Text(text) => {
            entry.insert("textPayload".into(), json!(text));
            entry.insert("severity".into(), json!("DEFAULT"));
        }
        LogPayload::Json(Value::Object(fields)) => {
            let mut payload = fields.clone();
            let severity = payload
                .remove("severity")
                .and_then(|s| s.as_str().map(str::to_ascii_uppercase))
                .filter(|s| SEVERITIES.contains(&s.as_str()))
                .unwrap_or_else(|| "DEFAULT".into());
            entry.insert("severity".into(), json!(severity));
            if let Some(t) = payload.remove("logging.googleapis.com/trace") {
                entry.insert("trace".into(), t);
            }
            if let Some(s) = payload.remove("logging.googleapis.com/spanId") {
                entry.insert("spanId".into(), s);
            }
            if let Some(i) = payload.remove("logging.googleapis.com/insertId") {
                entry.insert("insertId".into(), i);
            }
            if let Some(h) = payload.remove("httpRequest") {
                entry.insert("httpRequest".into(), h);
            }
            if let Some(Value::Object(l)) = payload.remove("logging.googleapis.com/labels") {
                entry_labels.extend(l);
            }
            entry.insert("jsonPayload".into(), Value::Object(payload));
        }
        LogPayload::Json(other) => {
            entry.insert("textPayload".into(), json!(other.to_string()));
            entry.insert("severity".into(), json!("DEFAULT"));
        }
    }
    entry.insert("labels".into(), Value::Object(entry_labels));
    Value::Object(entry)
}

const SEVERITIES: [&str; 9] = [
    "DEFAULT",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "ALERT",
    "EMERGENCY",
];

/// RFC 3339 with nanoseconds, Google's `timestamp` form.
pub fn timestamp(t: SystemTime) -> String {
    match timestamp_bytes(t) {
        // ASCII digits and separators only.
        Some(text) => std::str::from_utf8(&text).unwrap_or_default().to_owned(),
        // Before 1970 (never a log's time) takes chrono.
        None => DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// [`timestamp`] as its 30 ASCII bytes (`YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ`), for a time after
/// 1970 (`None` before). Written by hand: chrono's formatter costs more than the rest of a
/// request log entry's fields together (the gateway writes two per entry).
pub fn timestamp_bytes(t: SystemTime) -> Option<[u8; 30]> {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let mut text = [0u8; 30];
    let mut at = 0;
    // `width` digits of `n`, zero-padded (every field here fits its width), then `sep`.
    let mut put = |mut n: u64, width: usize, sep: u8| {
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        text[at + width] = sep;
        at += width + 1;
    };
    put(year, 4, b'-');
    put(month, 2, b'-');
    put(day, 2, b'T');
    put(rem / 3600, 2, b':');
    put(rem / 60 % 60, 2, b':');
    put(rem % 60, 2, b'.');
    put(u64::from(since.subsec_nanos()), 9, b'Z');
    Some(text)
}

/// Year, month, day of the `days`-th day after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::NoAvailableInstance => Error::ResourceExhausted {
            message: e.to_string(),
        },
        PoolError::Start(s) => Error::failed_precondition(s.to_string()),
        PoolError::Closed => Error::internal("instance pool closed"),
    }
}

/// `projects/P/locations/L/{services|jobs}/PARENT/{revisions|...}/ID`.
struct ResourceNames {
    project: String,
    location: String,
    parent_id: String,
    id: String,
}

impl ResourceNames {
    fn parse(name: &str) -> Result<ResourceNames, Error> {
        let parts: Vec<&str> = name.split('/').collect();
        match parts.as_slice() {
            ["projects", project, "locations", location, _, parent, _, id] => Ok(ResourceNames {
                project: (*project).to_owned(),
                location: (*location).to_owned(),
                parent_id: (*parent).to_owned(),
                id: (*id).to_owned(),
            }),
            _ => Err(Error::internal(format!(
                "unexpected revision name {name:?}"
            ))),
        }
    }
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn revision_service(revision: &Revision) -> String {
    revision
        .name
        .split("/revisions/")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The service's project number, from its deterministic URL label when set; the metadata
/// server reports it.
fn project_number(service: &Service) -> String {
    service
        .annotations
        .get("run.googleapis.com/project-number")
        .cloned()
        .or_else(|| {
            service.urls.iter().find_map(|u| {
                let host = u.split("://").nth(1)?.split('.').next()?;
                let number = host.rsplit('-').next()?;
                number
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| number.to_owned())
            })
        })
        .unwrap_or_default()
}

/// The container that receives requests: the one with a port, else the only one.
fn ingress_container(revision: &Revision) -> Result<&Container, Error> {
    revision
        .containers
        .iter()
        .find(|c| !c.ports.is_empty())
        .or_else(|| revision.containers.first())
        .ok_or_else(|| {
            Error::invalid_field(
                "template.containers",
                "Revision template must contain at least one container.",
            )
        })
}

fn plain_env(container: &Container) -> Result<BTreeMap<String, String>, Error> {
    let mut env = BTreeMap::new();
    for var in &container.env {
        match (&var.value, &var.value_source) {
            (_, Some(_)) => {
                // Kumo has no Secret Manager: refusing is safer than starting without the value.
                return Err(Error::failed_precondition(format!(
                    "Environment variable {} references a secret; Kumo does not emulate Secret Manager.",
                    var.name
                )));
            }
            (value, None) => {
                env.insert(var.name.clone(), value.clone().unwrap_or_default());
            }
        }
    }
    Ok(env)
}

fn startup_timeout(container: &Container) -> Duration {
    let Some(probe) = &container.startup_probe else {
        return DEFAULT_STARTUP;
    };
    let v = serde_json::to_value(probe).unwrap_or(Value::Null);
    let num = |k: &str, d: u64| v.get(k).and_then(Value::as_u64).unwrap_or(d);
    let total =
        num("initialDelaySeconds", 0) + num("periodSeconds", 10) * num("failureThreshold", 3);
    Duration::from_secs(total.clamp(1, 3600))
}

fn revision_info(revision: &Revision) -> RevisionInfo {
    let h2c =
        ingress_container(revision).is_ok_and(|c| c.ports.first().is_some_and(|p| p.name == "h2c"));
    RevisionInfo {
        timeout: request_timeout(revision),
        h2c,
    }
}

/// The revision's `timeout` ("300s"), Cloud Run's request timeout.
pub fn request_timeout(revision: &Revision) -> Duration {
    revision
        .timeout
        .as_deref()
        .and_then(parse_duration)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
}

/// Google's JSON `Duration` ("3.5s").
pub fn parse_duration(text: &str) -> Option<Duration> {
    let secs = text.strip_suffix('s')?;
    let value: f64 = secs.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_match_chrono_to_the_nanosecond() {
        let mut t: u64 = 0;
        for step in [1u64, 59, 86_399, 86_401, 2_629_743, 31_556_952, 126_230_400] {
            for _ in 0..400 {
                t = t.wrapping_add(step * 7919) % 8_000_000_000;
                let nanos = t.wrapping_mul(2_654_435_761) % 1_000_000_000;
                let at = SystemTime::UNIX_EPOCH + Duration::new(t, nanos as u32);
                assert_eq!(
                    timestamp(at),
                    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Nanos, true)
                );
            }
        }
        // Leap days and year ends.
        for s in [951_782_400u64, 951_868_799, 1_709_164_800, 4_107_542_399, 0] {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(s);
            assert_eq!(
                timestamp(at),
                DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Nanos, true)
            );
        }
    }

    use super::*;
    use kumo_workload::Stream;

    #[test]
    fn structured_log_lines() {
        let line = LogLine {
            instance_id: 7,
            stream: Stream::Stdout,
            timestamp: SystemTime::UNIX_EPOCH,
            payload: LogPayload::Json(json!({
                "severity": "warning",
                "message": "hi",
                "logging.googleapis.com/trace": "projects/p/traces/abc",
                "logging.googleapis.com/labels": {"k": "v"},
                "extra": 1
            })),
        };
        let e = log_entry(
            "p",
            &json!({"type": "cloud_run_revision"}),
            &Map::new(),
            &line,
        );
        assert_eq!(e["severity"], "WARNING");
        assert_eq!(e["trace"], "projects/p/traces/abc");
        assert_eq!(e["jsonPayload"], json!({"message": "hi", "extra": 1}));
        assert_eq!(e["labels"]["k"], "v");
        assert_eq!(e["logName"], "projects/p/logs/run.googleapis.com%2Fstdout");
        assert_eq!(e["timestamp"], "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn text_lines_and_durations() {
        let line = LogLine {
            instance_id: 1,
            stream: Stream::Stderr,
            timestamp: SystemTime::UNIX_EPOCH,
            payload: LogPayload::Text("boom".into()),
        };
        let e = log_entry("p", &json!({}), &Map::new(), &line);
        assert_eq!(e["textPayload"], "boom");
        assert_eq!(e["severity"], "DEFAULT");
        assert_eq!(e["logName"], "projects/p/logs/run.googleapis.com%2Fstderr");
        assert_eq!(parse_duration("300s"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn sample_images_are_built_in() {
        let map = builtin_images();
        let hello = map
            .resolve("us-docker.pkg.dev/cloudrun/container/hello:latest")
            .unwrap();
        assert_eq!(
            hello.entrypoint[1..],
            ["__sample".to_owned(), "hello".to_owned()]
        );
        let job = map.resolve("gcr.io/cloudrun/job").unwrap();
        assert_eq!(job.entrypoint[2], "job");
    }
}
