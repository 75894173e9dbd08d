//! Per-revision instance pool: concurrency slots, scale from/to zero, crash replacement.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::process::{ExitInfo, Instance, LogSink, Runtime, StartError, StartSpec};

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// containerConcurrency; Cloud Run's default is 80 (0 is treated as 1000, its maximum).
    pub concurrency: u32,
    pub min_instances: u32,
    pub max_instances: u32,
    pub startup_timeout: Duration,
    /// How long `acquire` queues for a slot before giving up.
    pub acquire_timeout: Duration,
    /// Idle time after which an instance above `min_instances` is stopped.
    pub idle_timeout: Duration,
    pub grace: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            concurrency: 80,
            min_instances: 0,
            max_instances: 100,
            startup_timeout: Duration::from_secs(240),
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(900),
            grace: crate::process::DEFAULT_GRACE,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// Cloud Run answers 429 when every instance is busy and none can be added.
    #[error(
        "The request was aborted because there was no available instance. Additional troubleshooting documentation can be found at: https://cloud.google.com/run/docs/troubleshooting#abort-request"
    )]
    NoAvailableInstance,
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("the instance pool is shut down")]
    Closed,
}

/// Notification sent to the pool owner when an instance dies on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashEvent {
    pub instance_id: u64,
    pub exit: ExitInfo,
}

struct Slot {
    inst: Instance,
    in_flight: u32,
    idle_since: Instant,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    starting: u32,
    closed: bool,
}

struct Inner {
    rt: Arc<dyn Runtime>,
    spec: StartSpec,
    cfg: PoolConfig,
    logs: LogSink,
    crashes: Option<mpsc::UnboundedSender<CrashEvent>>,
    state: Mutex<State>,
    changed: Notify,
    /// Callers of `acquire` waiting for a slot: a released slot notifies only when some do
    /// (`notify_waiters` locks and counts on a line every releasing thread shares).
    waiting: AtomicUsize,
}

/// Cheap to clone; the pool lives while any clone or guard does (the reaper holds a weak ref).
#[derive(Clone)]
pub struct InstancePool {
    inner: Arc<Inner>,
}

/// Holds one concurrency slot; dropping it releases the slot.
pub struct SlotGuard {
    pool: Arc<Inner>,
    instance_id: u64,
    pub addr: SocketAddr,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Ok(mut st) = self.pool.state.lock()
            && let Some(s) = st.slots.iter_mut().find(|s| s.inst.id == self.instance_id)
        {
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                s.idle_since = Instant::now();
            }
        }
        // Ordered after the unlock above: a waiter counted itself before it looked for a free
        // slot under the lock, so it either saw this slot or is counted here.
        if self.pool.waiting.load(Ordering::SeqCst) > 0 {
            self.pool.changed.notify_waiters();
        }
    }
}

/// Counts a waiting `acquire` while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Waiting<'a> {
        waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

enum Step {
    Got(SlotGuard),
    Start,
    Wait,
}

impl InstancePool {
    /// Creates the pool, starts `min_instances` in the background and the idle reaper.
    pub fn new(
        rt: Arc<dyn Runtime>,
        spec: StartSpec,
        cfg: PoolConfig,
        logs: LogSink,
        crashes: Option<mpsc::UnboundedSender<CrashEvent>>,
    ) -> Self {
        let inner = Arc::new(Inner {
            rt,
            spec,
            cfg,
            logs,
            crashes,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            waiting: AtomicUsize::new(0),
        });
        let pool = Self { inner };
        pool.ensure_min();
        let weak = Arc::downgrade(&pool.inner);
        let period = (pool.inner.cfg.idle_timeout / 4).max(Duration::from_millis(10));
        tokio::spawn(reaper(weak, period));
        pool
    }

    fn concurrency(&self) -> u32 {
        match self.inner.cfg.concurrency {
            0 => 1000,
            c => c,
        }
    }

    /// Number of running (probed) instances.
    pub fn instance_count(&self) -> usize {
        self.inner.state.lock().map_or(0, |s| s.slots.len())
    }

    /// Addresses of running instances.
    pub fn instances(&self) -> Vec<Instance> {
        self.inner.state.lock().map_or_else(
            |_| Vec::new(),
            |s| s.slots.iter().map(|s| s.inst.clone()).collect(),
        )
    }

    /// Gets a concurrency slot, starting an instance if none has one free and max allows.
    pub async fn acquire(&self) -> Result<SlotGuard, PoolError> {
        // A free slot needs no waiter registration (a lock on the `Notify` per request).
        if let Some(guard) = self.free_slot()? {
            return Ok(guard);
        }
        let deadline = Instant::now() + self.inner.cfg.acquire_timeout;
        let _waiting = Waiting::count(&self.inner.waiting);
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.step()? {
                Step::Got(g) => return Ok(g),
                Step::Start => {
                    // Started on its own task so a dropped request cannot strand the `starting`
                    // count; a start failure is the deploy-visible error and goes to the caller.
                    let inner = Arc::clone(&self.inner);
                    match tokio::spawn(async move { start_instance(&inner).await }).await {
                        Ok(res) => res?,
                        Err(_) => return Err(PoolError::Closed),
                    }
                    continue;
                }
                Step::Wait => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(PoolError::NoAvailableInstance);
            }
        }
    }

    /// Takes a slot on the least-loaded instance that has one free, without waiting or
    /// starting one (`None`: no instance has a free slot).
    pub fn try_acquire(&self) -> Result<Option<SlotGuard>, PoolError> {
        self.free_slot()
    }

    /// Takes a slot on the least-loaded instance that has one free.
    fn free_slot(&self) -> Result<Option<SlotGuard>, PoolError> {
        let conc = self.concurrency();
        let mut st = self.inner.state.lock().map_err(|_| PoolError::Closed)?;
        self.take_slot(&mut st, conc)
    }

    fn take_slot(&self, st: &mut State, conc: u32) -> Result<Option<SlotGuard>, PoolError> {
        if st.closed {
            return Err(PoolError::Closed);
        }
        // Least-loaded instance with a free slot spreads load like Cloud Run's balancer.
        let Some(s) = st
            .slots
            .iter_mut()
            .filter(|s| s.in_flight < conc)
            .min_by_key(|s| s.in_flight)
        else {
            return Ok(None);
        };
        s.in_flight += 1;
        let Some(addr) = s.inst.addr else {
            return Err(PoolError::Closed);
        };
        Ok(Some(SlotGuard {
            pool: Arc::clone(&self.inner),
            instance_id: s.inst.id,
            addr,
        }))
    }

    fn step(&self) -> Result<Step, PoolError> {
        let conc = self.concurrency();
        let mut st = self.inner.state.lock().map_err(|_| PoolError::Closed)?;
        if let Some(guard) = self.take_slot(&mut st, conc)? {
            return Ok(Step::Got(guard));
        }
        let total = st.slots.len() as u32 + st.starting;
        // Only start another one if the ones already starting cannot absorb waiters.
        if total < self.inner.cfg.max_instances && st.starting == 0 {
            st.starting += 1;
            return Ok(Step::Start);
        }
        Ok(Step::Wait)
    }

    fn ensure_min(&self) {
        ensure_min(&self.inner);
    }

    /// Stops all instances and refuses further `acquire`s.
    pub async fn shutdown(&self) {
        let all: Vec<Instance> = match self.inner.state.lock() {
            Ok(mut st) => {
                st.closed = true;
                st.slots.drain(..).map(|s| s.inst).collect()
            }
            Err(_) => Vec::new(),
        };
        self.inner.changed.notify_waiters();
        for i in &all {
            i.request_stop(self.inner.cfg.grace);
        }
        for i in &all {
            i.wait().await;
        }
    }
}

fn ensure_min(inner: &Arc<Inner>) {
    let missing = match inner.state.lock() {
        Ok(mut st) if !st.closed => {
            let have = st.slots.len() as u32 + st.starting;
            let m = inner.cfg.min_instances.saturating_sub(have);
            st.starting += m;
            m
        }
        _ => 0,
    };
    for _ in 0..missing {
        let inner = Arc::clone(inner);
        tokio::spawn(async move {
            if let Err(e) = start_instance(&inner).await {
                tracing::warn!(error = %e, "min-instance start failed");
            }
        });
    }
}

/// Starts one instance; the caller has already counted it in `starting`.
async fn start_instance(inner: &Arc<Inner>) -> Result<(), StartError> {
    let res = inner
        .rt
        .start(
            inner.spec.clone(),
            inner.cfg.startup_timeout,
            inner.logs.clone(),
        )
        .await;
    let mut stop_now = None;
    if let Ok(mut st) = inner.state.lock() {
        st.starting = st.starting.saturating_sub(1);
        if let Ok(inst) = &res {
            if st.closed {
                stop_now = Some(inst.clone());
            } else {
                st.slots.push(Slot {
                    inst: inst.clone(),
                    in_flight: 0,
                    idle_since: Instant::now(),
                });
            }
        }
    }
    inner.changed.notify_waiters();
    if let Some(i) = stop_now {
        i.request_stop(inner.cfg.grace);
    } else if let Ok(inst) = &res {
        tokio::spawn(watch_exit(Arc::downgrade(inner), inst.clone()));
    }
    res.map(|_| ())
}

/// Removes an instance that exited; if it was not removed by us first, it crashed.
async fn watch_exit(weak: Weak<Inner>, inst: Instance) {
    let exit = inst.wait().await;
    let Some(inner) = weak.upgrade() else { return };
    let crashed = match inner.state.lock() {
        Ok(mut st) => {
            let before = st.slots.len();
            st.slots.retain(|s| s.inst.id != inst.id);
            st.slots.len() != before
        }
        Err(_) => false,
    };
    inner.changed.notify_waiters();
    if crashed {
        tracing::warn!(instance = inst.id, %exit, "instance crashed");
        if let Some(tx) = &inner.crashes {
            let _ = tx.send(CrashEvent {
                instance_id: inst.id,
                exit,
            });
        }
        ensure_min(&inner);
    }
}

async fn reaper(weak: Weak<Inner>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = weak.upgrade() else { return };
        let victims: Vec<Instance> = match inner.state.lock() {
            Ok(mut st) if !st.closed => {
                let min = inner.cfg.min_instances as usize;
                let now = Instant::now();
                let mut victims = Vec::new();
                let mut remaining = st.slots.len();
                st.slots.retain(|s| {
                    let idle = s.in_flight == 0
                        && now.duration_since(s.idle_since) >= inner.cfg.idle_timeout;
                    if idle && remaining > min {
                        remaining -= 1;
                        victims.push(s.inst.clone());
                        return false;
                    }
                    true
                });
                victims
            }
            Ok(_) => return,
            Err(_) => return,
        };
        for v in victims {
            v.request_stop(inner.cfg.grace);
        }
    }
}
