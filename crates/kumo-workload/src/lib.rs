//! kumo-workload: runs Cloud Run revision instances and job tasks as local processes.
//!
//! `Runtime` is the seam for drivers; `ProcessRuntime` is the only one today. A later container
//! driver implements the same trait. This crate depends on no other kumo crate.

mod image;
mod pool;
mod process;
mod task;

pub use image::{ImageCommand, ImageError, ImageMap, strip_tag};
pub use pool::{CrashEvent, InstancePool, PoolConfig, PoolError, SlotGuard};
pub use process::{
    BoxFuture, DEFAULT_GRACE, ExitInfo, Instance, LogLine, LogPayload, LogSink, ProcessRuntime,
    Runtime, StartError, StartSpec, Stream, WorkloadKind, free_port,
};
pub use task::{CancelToken, TaskEnd, TaskOutcome, run_task};
