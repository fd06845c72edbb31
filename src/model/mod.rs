//! Concurrency models: how a batch of tasks runs. One file per model behind
//! the `Model` trait, selected by `ModelKind` in `model_for`. A model never
//! knows what a task computes; it only runs the task's steps its own way
//! (a blocking call on a thread, a child process, an `.await`).

mod async_rt;
mod child;
mod pool;
mod process;
pub mod process_pool;
mod rayon_pool;
mod sequential;
mod thread;
pub mod thread_pool;

use crate::measure::ChildUsage;
use crate::results::GilCounters;
use crate::workload::{Task, TaskOutput};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use child::set_worker_exe;
pub use pool::Handle;

/// The models, by stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    Sequential,
    Thread,
    Process,
    ThreadPool,
    Rayon,
    ProcessPool,
    Async,
    AsyncSingle,
}

impl ModelKind {
    pub const ALL: [ModelKind; 8] = [
        ModelKind::Sequential,
        ModelKind::Thread,
        ModelKind::Process,
        ModelKind::ThreadPool,
        ModelKind::Rayon,
        ModelKind::ProcessPool,
        ModelKind::Async,
        ModelKind::AsyncSingle,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ModelKind::Sequential => "sequential",
            ModelKind::Thread => "thread",
            ModelKind::Process => "process",
            ModelKind::ThreadPool => "thread-pool",
            ModelKind::Rayon => "rayon",
            ModelKind::ProcessPool => "process-pool",
            ModelKind::Async => "async",
            ModelKind::AsyncSingle => "async-single",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ModelKind::Sequential => "the baseline: one task after another on the calling thread",
            ModelKind::Thread => "one OS thread per task (start + join), at most `workers` at once",
            ModelKind::Process => {
                "one child process per task (the harness re-executed as a worker), at most `workers` at once"
            }
            ModelKind::ThreadPool => {
                "`workers` long-lived threads fed through a channel (ThreadPoolExecutor)"
            }
            ModelKind::Rayon => "rayon's work-stealing pool with `workers` threads",
            ModelKind::ProcessPool => {
                "`workers` pre-started worker processes fed over pipes (ProcessPoolExecutor)"
            }
            ModelKind::Async => {
                "tokio tasks on the multi-threaded runtime, at most `workers` in flight"
            }
            ModelKind::AsyncSingle => {
                "tokio tasks on a current-thread runtime (one thread, cooperative, like asyncio)"
            }
        }
    }

    /// True when the model starts child processes (limits, memory accounting).
    pub fn uses_processes(self) -> bool {
        matches!(self, ModelKind::Process | ModelKind::ProcessPool)
    }

    /// OS threads the model starts for `workers` and `tasks`.
    pub fn threads_needed(self, workers: usize, tasks: usize) -> usize {
        let live = workers.min(tasks);
        match self {
            ModelKind::Sequential | ModelKind::AsyncSingle => 0,
            // The process models read each child's pipe on a thread of their own.
            ModelKind::Thread | ModelKind::Process | ModelKind::ProcessPool => live,
            ModelKind::ThreadPool | ModelKind::Rayon => workers,
            ModelKind::Async => workers.min(num_cpus()),
        }
    }

    pub fn from_id(id: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|m| m.id() == id)
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

pub fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One batch of tasks for a model to run.
pub struct Batch<'a> {
    pub tasks: &'a [Task],
    /// Concurrency: threads, processes or tasks in flight at most.
    pub workers: usize,
    /// When the batch is abandoned and reported as timed out.
    pub deadline: Instant,
    /// Set by Ctrl-C; models stop waiting when they see it.
    pub cancel: &'a AtomicBool,
}

/// What a model reports about one batch; the runner adds what the OS measured.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// One record per task, in any order.
    pub records: Vec<TaskRecord>,
    /// First submit to last result.
    pub wall: Duration,
    /// Pool or runtime start-up, apart from `wall`.
    pub startup: Option<Duration>,
    /// Usage of the children this batch started and reaped.
    pub children: ChildUsage,
    /// How many children can have been alive at once.
    pub live_children: usize,
    pub gil: Option<GilCounters>,
}

#[derive(Debug, Clone, Copy)]
pub struct TaskRecord {
    pub output: TaskOutput,
    /// Submit to result, as seen by the submitter.
    pub latency: Duration,
}

impl TaskRecord {
    /// Time between submit and the start of the task (queueing, spawning,
    /// transfer): latency minus the run time measured where the task ran.
    pub fn queue_wait(&self) -> Duration {
        self.latency.saturating_sub(self.output.run())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("timed out after {0:.1?} (raise --timeout or shrink the case)")]
    TimedOut(Duration),
    #[error("interrupted")]
    Cancelled,
    #[error("worker failed: {0}")]
    Worker(String),
    #[error("task failed: {0:#}")]
    Task(anyhow::Error),
    #[error("could not start: {0:#}")]
    Setup(anyhow::Error),
}

pub trait Model {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError>;
}

pub fn model_for(kind: ModelKind) -> Box<dyn Model> {
    match kind {
        ModelKind::Sequential => Box::new(sequential::Sequential),
        ModelKind::Thread => Box::new(thread::ThreadPerTask),
        ModelKind::Process => Box::new(process::ProcessPerTask),
        ModelKind::ThreadPool => Box::new(thread_pool::ThreadPoolModel),
        ModelKind::Rayon => Box::new(rayon_pool::RayonModel),
        ModelKind::ProcessPool => Box::new(process_pool::ProcessPoolModel),
        ModelKind::Async => Box::new(async_rt::AsyncModel { single: false }),
        ModelKind::AsyncSingle => Box::new(async_rt::AsyncModel { single: true }),
    }
}

/// Waits for the next message, in short slices so Ctrl-C is noticed, until
/// the batch's deadline.
pub(crate) fn recv_until<T>(
    rx: &crossbeam_channel::Receiver<T>,
    batch: &Batch,
    started: Instant,
) -> Result<T, ModelError> {
    loop {
        if batch.cancel.load(Ordering::Relaxed) {
            return Err(ModelError::Cancelled);
        }
        let now = Instant::now();
        if now >= batch.deadline {
            return Err(ModelError::TimedOut(now - started));
        }
        let slice = (batch.deadline - now).min(Duration::from_millis(50));
        match rx.recv_timeout(slice) {
            Ok(v) => return Ok(v),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(ModelError::Worker(
                    "every worker ended before the batch was done".into(),
                ));
            }
        }
    }
}
