//! Concurrency models: how a batch of tasks runs. One file per model behind
//! the `Model` trait, selected by `ModelKind` in `model_for`. A model never
//! knows what a task computes; it only runs the task's steps its own way
//! (a blocking call on a thread, a child process, an `.await`).

mod async_rt;
mod ballast;
mod child;
mod child_set;
pub mod contained;
pub mod coroutine;
mod cpython;
pub mod fork_probe;
mod forker;
mod gevent;
mod greenlet;
pub mod id;
mod os_thread;
mod pool;
mod process;
pub mod process_pool;
mod rayon_pool;
pub mod registry;
mod sequential;
pub mod start;
mod thread;
pub mod thread_pool;
pub mod worker;

use crate::gil::{Gil, GilKind};
use crate::measure::ChildUsage;
use crate::results::GilCounters;
use crate::workload::{NoGil, Task, TaskOutput, TaskShape, blocking};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use child::{set_worker_exe, worker_exe};
pub use cpython::{end_sessions, python, python_for, use_python, use_pythons};
pub use id::{ModelId, ModelKind, PythonTag, StartMethod, num_cpus};
pub use pool::Handle;
pub use start::Start;

/// One batch of tasks for a model to run.
pub struct Batch<'a> {
    pub tasks: &'a [Task],
    /// Concurrency: threads, processes or tasks in flight at most.
    pub workers: usize,
    /// When the batch is abandoned and reported as timed out.
    pub deadline: Instant,
    /// Set by Ctrl-C; models stop waiting when they see it.
    pub cancel: &'a AtomicBool,
    /// Run under an emulated GIL of this kind (the `+gil` models).
    pub gil: Option<GilKind>,
    /// What each task does, before calibration, for the CPython models,
    /// which re-implement the workload in Python rather than run `tasks`.
    pub shape: Option<&'a TaskShape>,
    /// `sys.setswitchinterval` for the CPython models.
    pub switch_interval: Duration,
    /// How the process models start their workers, and the size of the
    /// parent meanwhile (`start.rs`); the others ignore it.
    pub start: Start,
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
    /// The largest summed PSS of the children alive together, sampled
    /// during the batch (process models).
    pub children_peak_pss: Option<u64>,
    pub gil: Option<GilCounters>,
    /// True when the model checked its tasks' checksums itself against a
    /// reference of its own (the CPython runner's pure-Python kernel, whose
    /// checksums differ from Rust's), instead of returning Rust checksums.
    pub self_verified: bool,
}

#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub output: TaskOutput,
    /// Submit to result, as seen by the submitter.
    pub latency: Duration,
}

impl TaskRecord {
    /// A task's result as it reached the submitter at `at`; a task error
    /// fails the batch.
    pub fn new(
        out: anyhow::Result<TaskOutput>,
        at: Instant,
        submitted: Instant,
    ) -> Result<TaskRecord, ModelError> {
        Ok(TaskRecord {
            output: out.map_err(ModelError::Task)?,
            latency: at - submitted,
        })
    }

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
    /// The model cannot run on this machine (python3 missing); not a failure.
    #[error("skipped: {0}")]
    Skipped(String),
    /// The batch deadlocked (a deadlock case, run contained): the cycle.
    #[error("deadlock: {0}")]
    Deadlock(String),
}

impl ModelError {
    /// The status a case ends with when a batch of it fails so: skipped
    /// and interrupted are not failures.
    pub fn into_status(self) -> crate::results::CaseStatus {
        use crate::results::CaseStatus;
        match self {
            ModelError::Skipped(reason) => CaseStatus::Skipped(reason),
            ModelError::Cancelled => CaseStatus::Interrupted,
            ModelError::Deadlock(cycle) => CaseStatus::Deadlock(cycle),
            e => CaseStatus::Failed(e.to_string()),
        }
    }
}

pub trait Model {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError>;
}

pub fn model_for(kind: ModelKind) -> Box<dyn Model> {
    match kind {
        k if k.is_cpython() => Box::new(cpython::CpythonModel(k, None)),
        ModelKind::Sequential => Box::new(sequential::Sequential),
        ModelKind::Thread => Box::new(thread::ThreadPerTask),
        ModelKind::Process => Box::new(process::ProcessPerTask),
        ModelKind::ThreadPool => Box::new(thread_pool::ThreadPoolModel),
        ModelKind::Rayon => Box::new(rayon_pool::RayonModel),
        ModelKind::ProcessPool => Box::new(process_pool::ProcessPoolModel),
        ModelKind::Async => Box::new(async_rt::AsyncModel { single: false }),
        ModelKind::AsyncSingle => Box::new(async_rt::AsyncModel { single: true }),
        ModelKind::Greenlet => Box::new(greenlet::GreenletModel),
        ModelKind::Gevent => Box::new(gevent::GeventModel),
        _ => unreachable!("CPython kinds are matched above"),
    }
}

/// The model `id` names: `model_for` its kind, and for a `cpython-*` model
/// of a run with several interpreters, in its own one.
pub fn model_for_id(id: ModelId) -> Box<dyn Model> {
    match id.python {
        Some(tag) if id.kind.is_cpython() => Box::new(cpython::CpythonModel(id.kind, Some(tag))),
        _ => model_for(id.kind),
    }
}

/// Runs one task on this thread, under `gil` when given: the holder takes the
/// GIL for the task, ticks between CPU slices and releases it around IO.
pub fn run_task(task: &Task, gil: Option<&Gil>) -> anyhow::Result<TaskOutput> {
    match gil {
        Some(gil) => blocking::execute(task, &mut gil.acquire()),
        None => blocking::execute(task, &mut NoGil),
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
