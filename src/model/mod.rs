//! Concurrency models: how a batch of tasks runs. One file per model behind
//! the `Model` trait, selected by `ModelKind` in `model_for`. A model never
//! knows what a task computes; it only runs the task's steps its own way
//! (a blocking call on a thread, a child process, an `.await`).

mod async_rt;
mod child;
mod cpython;
mod pool;
mod process;
pub mod process_pool;
mod rayon_pool;
mod sequential;
mod thread;
pub mod thread_pool;

use crate::gil::{Gil, GilKind};
use crate::measure::ChildUsage;
use crate::results::GilCounters;
use crate::workload::{NoGil, Task, TaskOutput, blocking};
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
    CpythonSequential,
    CpythonThread,
    CpythonThreadPool,
    CpythonProcess,
    CpythonProcessPool,
    CpythonAsyncio,
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

    /// The real-CPython reference models (run by python/parabench_runner.py).
    pub const CPYTHON: [ModelKind; 6] = [
        ModelKind::CpythonSequential,
        ModelKind::CpythonThread,
        ModelKind::CpythonThreadPool,
        ModelKind::CpythonProcess,
        ModelKind::CpythonProcessPool,
        ModelKind::CpythonAsyncio,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ModelKind::CpythonSequential => "cpython-sequential",
            ModelKind::CpythonThread => "cpython-thread",
            ModelKind::CpythonThreadPool => "cpython-thread-pool",
            ModelKind::CpythonProcess => "cpython-process",
            ModelKind::CpythonProcessPool => "cpython-process-pool",
            ModelKind::CpythonAsyncio => "cpython-asyncio",
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
            ModelKind::CpythonSequential => "real CPython (python3): tasks one after another",
            ModelKind::CpythonThread => "real CPython: one threading.Thread per task",
            ModelKind::CpythonThreadPool => "real CPython: concurrent.futures.ThreadPoolExecutor",
            ModelKind::CpythonProcess => "real CPython: one multiprocessing.Process per task",
            ModelKind::CpythonProcessPool => "real CPython: concurrent.futures.ProcessPoolExecutor",
            ModelKind::CpythonAsyncio => "real CPython: asyncio tasks on one event loop",
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
        matches!(
            self,
            ModelKind::Process
                | ModelKind::ProcessPool
                | ModelKind::CpythonProcess
                | ModelKind::CpythonProcessPool
        )
    }

    pub fn is_cpython(self) -> bool {
        ModelKind::CPYTHON.contains(&self)
    }

    /// Whether `+gil` makes sense: the models that run tasks on threads of
    /// one interpreter (thread, thread-pool, async) or one interpreter per
    /// process (process, process-pool).
    pub fn accepts_gil(self) -> bool {
        matches!(
            self,
            ModelKind::Thread
                | ModelKind::ThreadPool
                | ModelKind::Process
                | ModelKind::ProcessPool
                | ModelKind::Async
        )
    }

    /// The sequential baseline this model's speedup is measured against.
    pub fn baseline(self) -> ModelKind {
        if self.is_cpython() {
            ModelKind::CpythonSequential
        } else {
            ModelKind::Sequential
        }
    }

    /// OS threads the model starts for `workers` and `tasks`.
    pub fn threads_needed(self, workers: usize, tasks: usize) -> usize {
        let live = workers.min(tasks);
        match self {
            ModelKind::Sequential | ModelKind::AsyncSingle | ModelKind::CpythonSequential => 0,
            ModelKind::CpythonAsyncio => 1,
            ModelKind::CpythonThread | ModelKind::CpythonThreadPool => live,
            ModelKind::CpythonProcess | ModelKind::CpythonProcessPool => live,
            // The process models read each child's pipe on a thread of their own.
            ModelKind::Thread | ModelKind::Process | ModelKind::ProcessPool => live,
            ModelKind::ThreadPool | ModelKind::Rayon => workers,
            ModelKind::Async => workers.min(num_cpus()),
        }
    }

    pub fn from_id(id: &str) -> Option<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .chain(ModelKind::CPYTHON)
            .find(|m| m.id() == id)
    }
}

/// A model as named in suites and results: a kind, optionally under the
/// emulated GIL (`thread+gil`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId {
    pub kind: ModelKind,
    pub gil: bool,
}

impl ModelId {
    pub const fn native(kind: ModelKind) -> ModelId {
        ModelId { kind, gil: false }
    }

    /// Parses `thread`, `thread+gil`, `cpython-thread`, ...
    pub fn parse(id: &str) -> Option<ModelId> {
        let (base, gil) = match id.strip_suffix("+gil") {
            Some(base) => (base, true),
            None => (id, false),
        };
        let kind = ModelKind::from_id(base)?;
        (!gil || kind.accepts_gil()).then_some(ModelId { kind, gil })
    }

    /// Every id a suite may name, for error messages and `list`.
    pub fn all_ids() -> Vec<String> {
        let mut out: Vec<String> = ModelKind::ALL.iter().map(|k| k.id().to_owned()).collect();
        out.extend(
            ModelKind::ALL
                .iter()
                .filter(|k| k.accepts_gil())
                .map(|k| format!("{}+gil", k.id())),
        );
        out.extend(ModelKind::CPYTHON.iter().map(|k| k.id().to_owned()));
        out
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.id())?;
        if self.gil {
            f.write_str("+gil")?;
        }
        Ok(())
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
    /// Run under an emulated GIL of this kind (the `+gil` models).
    pub gil: Option<GilKind>,
    /// The point the tasks were built from, for the CPython models, which
    /// re-implement the workload in Python rather than run `tasks`.
    pub point: Option<&'a crate::plan::Point>,
    /// `sys.setswitchinterval` for the CPython models.
    pub switch_interval: Duration,
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
}

impl ModelError {
    /// The status a case ends with when a batch of it fails so: skipped
    /// and interrupted are not failures.
    pub fn into_status(self) -> crate::results::CaseStatus {
        use crate::results::CaseStatus;
        match self {
            ModelError::Skipped(reason) => CaseStatus::Skipped(reason),
            ModelError::Cancelled => CaseStatus::Interrupted,
            e => CaseStatus::Failed(e.to_string()),
        }
    }
}

pub trait Model {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError>;
}

pub fn model_for(kind: ModelKind) -> Box<dyn Model> {
    match kind {
        k if k.is_cpython() => Box::new(cpython::CpythonModel(k)),
        ModelKind::Sequential => Box::new(sequential::Sequential),
        ModelKind::Thread => Box::new(thread::ThreadPerTask),
        ModelKind::Process => Box::new(process::ProcessPerTask),
        ModelKind::ThreadPool => Box::new(thread_pool::ThreadPoolModel),
        ModelKind::Rayon => Box::new(rayon_pool::RayonModel),
        ModelKind::ProcessPool => Box::new(process_pool::ProcessPoolModel),
        ModelKind::Async => Box::new(async_rt::AsyncModel { single: false }),
        ModelKind::AsyncSingle => Box::new(async_rt::AsyncModel { single: true }),
        _ => unreachable!("CPython kinds are matched above"),
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
