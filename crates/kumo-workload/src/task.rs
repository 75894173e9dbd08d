//! Job tasks: run to completion with a timeout and cancellation.

use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::process::{ExitInfo, LogSink, Runtime, StartError, StartSpec};

/// Cancellation handle (clone freely); `cancel()` stops every task watching it.
#[derive(Debug, Clone)]
pub struct CancelToken {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    pub fn new() -> Self {
        Self {
            tx: std::sync::Arc::new(watch::channel(false).0),
        }
    }
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    Exited,
    /// Killed because the task timeout elapsed.
    TimedOut,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub end: TaskEnd,
    pub exit: ExitInfo,
    pub started: SystemTime,
    pub finished: SystemTime,
}

impl TaskOutcome {
    /// Cloud Run counts a task as succeeded only on exit code 0.
    pub fn succeeded(&self) -> bool {
        self.end == TaskEnd::Exited && self.exit.code == Some(0)
    }
}

/// Runs one task attempt. `spec.listen` should be false (tasks get no PORT).
pub async fn run_task<R: Runtime + ?Sized>(
    rt: &R,
    spec: StartSpec,
    timeout: Duration,
    grace: Duration,
    cancel: &CancelToken,
    logs: LogSink,
) -> Result<TaskOutcome, StartError> {
    let inst = rt.start(spec, timeout, logs).await?;
    let started = inst.started;
    let end = tokio::select! {
        _ = inst.wait() => TaskEnd::Exited,
        _ = tokio::time::sleep(timeout) => TaskEnd::TimedOut,
        _ = cancel.cancelled() => TaskEnd::Cancelled,
    };
    let exit = if end == TaskEnd::Exited {
        inst.wait().await
    } else {
        inst.stop(grace).await
    };
    Ok(TaskOutcome {
        end,
        exit,
        started,
        finished: SystemTime::now(),
    })
}
