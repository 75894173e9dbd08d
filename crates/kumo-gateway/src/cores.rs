//! The gateway's I/O threads: one single-threaded tokio runtime per core, each serving the
//! connections it is handed on the HTTP/1.1 fast path from accept to hand-off or close, as
//! nginx's worker processes do. A few connections share the first thread; more spread over
//! all of them (see [`Cores::spawn`]).
//!
//! Why: on tokio's shared multi-thread scheduler a worker that takes I/O events for the fast
//! path wakes an idle worker to steal (a futex and a context switch), which mostly finds
//! nothing to do; the machine then idles between wake-ups while requests wait. A connection
//! pinned to one thread is read and written from that thread's own epoll loop. Measured with
//! `benches/gateway/run.sh` and `KUMO_BIN_X` (both builds in the same interleaved rounds):
//! +20 % requests/s through the gateway, −9 % CPU per request.
//!
//! Only the fast path runs here. What outlives a request or may take long — hyper after a
//! hand-off (the API, the console, HTTP/2, upgrades, IAP), starting pools and instances —
//! runs on the runtime Kumo started on (see [`crate::Gateway::spawn_connection`] and
//! `Control::acquire_instance`).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

pub(crate) struct Cores {
    threads: Vec<Handle>,
    /// Open connections per thread.
    open: Arc<[AtomicUsize]>,
    /// Dropped with the gateway: each thread then returns and drops its runtime (and with it
    /// whatever connections it still served).
    _stop: tokio::sync::watch::Sender<()>,
}

impl Cores {
    /// `n` threads (at least one).
    pub(crate) fn start(n: usize) -> io::Result<Cores> {
        let (stop, stopped) = tokio::sync::watch::channel(());
        let mut threads = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            threads.push(runtime.handle().clone());
            let mut stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("kumo-gateway-{i}"))
                .spawn(move || {
                    // Nothing is ever sent: `changed` ends when the sender is dropped.
                    runtime.block_on(async move { while stopped.changed().await.is_ok() {} });
                })?;
        }
        Ok(Cores {
            open: threads.iter().map(|_| AtomicUsize::new(0)).collect(),
            threads,
            _stop: stop,
        })
    }

    /// Runs a connection's `task` on the first thread with fewer than [`FILL`] open
    /// connections, else on the one with the fewest. A few connections share one thread, so
    /// a request finds it awake (each thread sleeping and waking between the requests of its
    /// one connection cost ≈ 40 % more CPU per request at 2 connections); many spread evenly.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let loads: Vec<usize> = self
            .open
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect();
        let i = loads
            .iter()
            .position(|&n| n < FILL)
            .unwrap_or_else(|| (0..loads.len()).min_by_key(|&i| loads[i]).unwrap_or(0));
        self.open[i].fetch_add(1, Ordering::Relaxed);
        let open = Arc::clone(&self.open);
        self.threads[i].spawn(async move {
            let _open = Open(open, i);
            task.await;
        })
    }
}

/// Connections a thread takes before the next one gets any.
const FILL: usize = 4;

/// Counts an open connection of thread `.1` while it lives.
struct Open(Arc<[AtomicUsize]>, usize);

impl Drop for Open {
    fn drop(&mut self) {
        self.0[self.1].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spawns a connection that stays open until its sender is dropped; the thread it ran on.
    fn open(cores: &Cores) -> (String, tokio::sync::oneshot::Sender<()>) {
        let (name_tx, name_rx) = std::sync::mpsc::channel();
        let (close, closed) = tokio::sync::oneshot::channel::<()>();
        let _task = cores.spawn(async move {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            let _ = name_tx.send(name);
            let _ = closed.await;
        });
        (name_rx.recv().unwrap(), close)
    }

    #[test]
    fn connections_fill_a_thread_then_spread() {
        let cores = Cores::start(2).unwrap();
        let mut held = Vec::new();
        let mut names = Vec::new();
        for _ in 0..10 {
            let (name, close) = open(&cores);
            names.push(name.trim_start_matches("kumo-gateway-").to_owned());
            held.push(close);
        }
        // FILL each, then the least loaded (the first of equals).
        assert_eq!(names, ["0", "0", "0", "0", "1", "1", "1", "1", "0", "1"]);
        // Closed connections are counted out: the first thread takes the next again.
        drop(held);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while cores.open.iter().any(|n| n.load(Ordering::Relaxed) > 0) {
            assert!(
                std::time::Instant::now() < deadline,
                "connections never counted out"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(open(&cores).0, "kumo-gateway-0");
        // Zero threads asked: one is started.
        assert_eq!(Cores::start(0).unwrap().threads.len(), 1);
    }
}
