//! The gateway's I/O threads: one single-threaded tokio runtime per core, each serving the
//! connections it is handed on the HTTP/1.1 fast path from accept to hand-off or close, as
//! nginx's worker processes do.
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
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

pub(crate) struct Cores {
    threads: Vec<Handle>,
    next: AtomicUsize,
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
            threads,
            next: AtomicUsize::new(0),
            _stop: stop,
        })
    }

    /// Runs `task` on the next thread, round-robin (clients open their connections in turn,
    /// so the threads get even shares).
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.threads.len();
        self.threads[i].spawn(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_the_threads_in_turn() {
        let cores = Cores::start(2).unwrap();
        let names: Vec<String> = (0..4)
            .map(|_| {
                let (tx, rx) = std::sync::mpsc::channel();
                let _task = cores.spawn(async move {
                    let name = std::thread::current().name().unwrap_or("").to_owned();
                    let _ = tx.send(name);
                });
                rx.recv().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "kumo-gateway-0",
                "kumo-gateway-1",
                "kumo-gateway-0",
                "kumo-gateway-1"
            ]
        );
        // Zero threads asked: one is started.
        assert_eq!(Cores::start(0).unwrap().threads.len(), 1);
    }
}
