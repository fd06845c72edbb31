//! Which model: `ModelKind` (the selector) and `ModelId` (a kind, maybe
//! under the emulated GIL, as suites and results name it). Plain data that
//! `plan`, `limits`, the runner and the models share; it knows nothing of
//! scenarios or tasks.

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
                "one child process per task (a fresh worker binary), at most `workers` at once"
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

/// How a process model starts a worker, named as Python's multiprocessing
/// names its start methods (see `model::start` for how each is done here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StartMethod {
    /// A fresh program: the harness re-executed as `parabench worker`.
    #[default]
    Spawn,
    /// A copy of the parent, made by fork() from a single-threaded process.
    Fork,
    /// A copy of a small server that was itself started fresh.
    Forkserver,
}

impl StartMethod {
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Spawn,
        StartMethod::Fork,
        StartMethod::Forkserver,
    ];

    pub fn id(self) -> &'static str {
        match self {
            StartMethod::Spawn => "spawn",
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
        }
    }

    pub fn from_id(id: &str) -> Option<StartMethod> {
        StartMethod::ALL.into_iter().find(|m| m.id() == id)
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// A model as named in suites and results: a kind, optionally under the
/// emulated GIL (`thread+gil`), and for the models that start processes,
/// how they start them (`process:fork`; `spawn`, the default, is not named).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId {
    pub kind: ModelKind,
    pub gil: bool,
    /// Always `Spawn` for a kind that starts no process.
    pub start: StartMethod,
}

impl ModelId {
    /// True when the model's tasks are threads of one interpreter that share
    /// one GIL, emulated or real: only one of them computes at a time.
    pub fn threads_share_one_gil(self) -> bool {
        (self.gil && matches!(self.kind, ModelKind::Thread | ModelKind::ThreadPool))
            || matches!(
                self.kind,
                ModelKind::CpythonThread | ModelKind::CpythonThreadPool
            )
    }

    pub const fn native(kind: ModelKind) -> ModelId {
        ModelId {
            kind,
            gil: false,
            start: StartMethod::Spawn,
        }
    }

    /// The same model starting its workers with `method`; unchanged for a
    /// kind that starts no process.
    pub fn started_by(self, method: StartMethod) -> ModelId {
        ModelId {
            start: if self.kind.uses_processes() {
                method
            } else {
                StartMethod::Spawn
            },
            ..self
        }
    }

    /// Parses `thread`, `thread+gil`, `cpython-thread`, ... as a suite
    /// names models: without a start method, which `start_method` sets.
    pub fn parse(id: &str) -> Option<ModelId> {
        let (base, gil) = match id.strip_suffix("+gil") {
            Some(base) => (base, true),
            None => (id, false),
        };
        let kind = ModelKind::from_id(base)?;
        (!gil || kind.accepts_gil()).then_some(ModelId {
            gil,
            ..ModelId::native(kind)
        })
    }

    /// Parses a model as `Display` writes it, start method included
    /// (`process+gil:fork`), as results files name models.
    pub fn parse_started(name: &str) -> Option<ModelId> {
        let (base, start) = match name.split_once(':') {
            Some((base, method)) => (base, StartMethod::from_id(method)?),
            None => (name, StartMethod::Spawn),
        };
        let id = ModelId::parse(base)?;
        // `spawn` is never written out, and only process models have one.
        let named = name.contains(':');
        (!named || (start != StartMethod::Spawn && id.kind.uses_processes()))
            .then(|| id.started_by(start))
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
        if self.start != StartMethod::Spawn {
            write!(f, ":{}", self.start)?;
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
