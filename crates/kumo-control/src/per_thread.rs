//! [`PerThread`]: a value kept once per thread shard, each behind its own lock on its own
//! cache lines.
//!
//! Why: the gateway's I/O threads (one per CPU) read the data plane's caches on every request.
//! One shared `Mutex` per cache moved its lock — and the reference counts of the `Arc`s it
//! handed out — between the cores on every request; with a shard per thread each core keeps
//! its own lines, and a lock is only ever contended by threads that share a shard.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Shards: more than the threads that matter (the gateway's one per CPU on the machines Kumo
/// runs on); threads beyond share them.
const SHARDS: usize = 8;

/// A `T` per thread shard. Each shard fills on its own (a cache then misses once per shard).
pub struct PerThread<T> {
    shards: Box<[Shard<T>]>,
}

/// One shard, alone on its cache lines.
#[repr(align(128))]
struct Shard<T>(Mutex<T>);

impl<T: Default> Default for PerThread<T> {
    fn default() -> PerThread<T> {
        PerThread {
            shards: (0..SHARDS).map(|_| Shard(Mutex::default())).collect(),
        }
    }
}

impl<T> PerThread<T> {
    /// Runs `f` on this thread's shard.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let shard = &self.shards[shard_of_this_thread() % self.shards.len()];
        // A panic mid-update leaves a cache entry at worst stale, never unsound: go on.
        f(&mut shard.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` on every shard in turn (invalidation, draining).
    pub fn each(&self, mut f: impl FnMut(&mut T)) {
        for shard in &self.shards {
            f(&mut shard.0.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }
}

/// This thread's shard number, dealt in the order threads first ask (so the gateway's I/O
/// threads, started together, get neighbouring numbers and different shards).
fn shard_of_this_thread() -> usize {
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = THREADS.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_writes_its_own_shard_and_each_sees_all() {
        let counts: PerThread<u32> = PerThread::default();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..100 {
                        counts.with(|n| *n += 1);
                    }
                });
            }
        });
        let mut total = 0;
        counts.each(|n| {
            total += *n;
            // All of a thread's increments went to its one shard.
            assert_eq!(*n % 100, 0, "{n}");
        });
        assert_eq!(total, 300);
        assert_eq!(counts.shards(), SHARDS);
        // A thread keeps its shard.
        let mine = counts.with(|n| {
            *n += 1_000;
            *n
        });
        assert_eq!(counts.with(|n| *n), mine);
    }
}
