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
    Greenlet,
    Gevent,
    CpythonSequential,
    CpythonThread,
    CpythonThreadPool,
    CpythonProcess,
    CpythonProcessPool,
    CpythonAsyncio,
    CpythonGreenlet,
    CpythonGevent,
    CpythonInterpreterPool,
}

impl ModelKind {
    pub const ALL: [ModelKind; 10] = [
        ModelKind::Sequential,
        ModelKind::Thread,
        ModelKind::Process,
        ModelKind::ThreadPool,
        ModelKind::Rayon,
        ModelKind::ProcessPool,
        ModelKind::Async,
        ModelKind::AsyncSingle,
        ModelKind::Greenlet,
        ModelKind::Gevent,
    ];

    /// The real-CPython reference models (run by python/parabench_runner.py).
    pub const CPYTHON: [ModelKind; 9] = [
        ModelKind::CpythonSequential,
        ModelKind::CpythonThread,
        ModelKind::CpythonThreadPool,
        ModelKind::CpythonProcess,
        ModelKind::CpythonProcessPool,
        ModelKind::CpythonAsyncio,
        ModelKind::CpythonGreenlet,
        ModelKind::CpythonGevent,
        ModelKind::CpythonInterpreterPool,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ModelKind::CpythonSequential => "cpython-sequential",
            ModelKind::CpythonThread => "cpython-thread",
            ModelKind::CpythonThreadPool => "cpython-thread-pool",
            ModelKind::CpythonProcess => "cpython-process",
            ModelKind::CpythonProcessPool => "cpython-process-pool",
            ModelKind::CpythonAsyncio => "cpython-asyncio",
            ModelKind::CpythonGreenlet => "cpython-greenlet",
            ModelKind::CpythonGevent => "cpython-gevent",
            ModelKind::CpythonInterpreterPool => "cpython-interpreter-pool",
            ModelKind::Sequential => "sequential",
            ModelKind::Thread => "thread",
            ModelKind::Process => "process",
            ModelKind::ThreadPool => "thread-pool",
            ModelKind::Rayon => "rayon",
            ModelKind::ProcessPool => "process-pool",
            ModelKind::Async => "async",
            ModelKind::AsyncSingle => "async-single",
            ModelKind::Greenlet => "greenlet",
            ModelKind::Gevent => "gevent",
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
            ModelKind::CpythonGreenlet => {
                "real CPython: one greenlet per task on one thread (needs `import greenlet`)"
            }
            ModelKind::CpythonGevent => {
                "real CPython: gevent greenlets in a Pool(workers), socket and time monkey-patched (needs `import gevent`)"
            }
            ModelKind::CpythonInterpreterPool => {
                "real CPython 3.14+: concurrent.futures.InterpreterPoolExecutor, one interpreter and GIL per worker (PEP 734); CPU and sleep tasks"
            }
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
            ModelKind::Greenlet => {
                "stackful coroutines on one thread, switching explicitly between CPU slices; IO blocks the thread (greenlet)"
            }
            ModelKind::Gevent => {
                "stackful coroutines on one thread whose sleeps and sockets yield to an epoll scheduler when they would block (gevent)"
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

    /// Whether `models = ["all"]` (and an ad-hoc run) includes the model:
    /// the coroutine models are named explicitly (workloads/coroutines.toml),
    /// so that suites written before them keep their cases and their time.
    pub fn in_all(self) -> bool {
        !matches!(self, ModelKind::Greenlet | ModelKind::Gevent)
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
                | ModelKind::Greenlet
                | ModelKind::Gevent
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
            // One scheduler thread: the calling one.
            ModelKind::Greenlet | ModelKind::Gevent => 0,
            ModelKind::CpythonAsyncio | ModelKind::CpythonGreenlet | ModelKind::CpythonGevent => 1,
            ModelKind::CpythonThread
            | ModelKind::CpythonThreadPool
            | ModelKind::CpythonInterpreterPool => live,
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

/// Which of a run's interpreters a `cpython-*` model runs in, when a run
/// has several (`--python python3.12,python3.13`): `major.minor`, with a
/// `t` for a free-threaded build (`3.13t`), as model ids show it
/// (`cpython-thread@3.12`). A run with one interpreter tags nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PythonTag {
    pub major: u8,
    pub minor: u8,
    pub free_threaded: bool,
}

impl PythonTag {
    /// The tag of an interpreter, as it described itself.
    pub fn of(python: &crate::cpython::PythonInfo) -> PythonTag {
        let narrow = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
        PythonTag {
            major: narrow(python.version.major),
            minor: narrow(python.version.minor),
            free_threaded: python.free_threaded,
        }
    }

    /// Parses `3.12`, `3.13t`, `2.7`.
    pub fn parse(text: &str) -> Option<PythonTag> {
        let (version, free_threaded) = match text.strip_suffix('t') {
            Some(v) => (v, true),
            None => (text, false),
        };
        let (major, minor) = version.split_once('.')?;
        let number = |s: &str| {
            (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        Some(PythonTag {
            major: number(major)?,
            minor: number(minor)?,
            free_threaded,
        })
    }

    /// Python 2, whose runner is `python/parabench_runner27.py`.
    pub fn is_legacy(self) -> bool {
        self.major < 3
    }
}

impl std::fmt::Display for PythonTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.free_threaded {
            f.write_str("t")?;
        }
        Ok(())
    }
}

/// A model as named in suites and results: a kind, optionally under the
/// emulated GIL (`thread+gil`), for a `cpython-*` kind in a run of several
/// interpreters which one (`cpython-thread@3.12`), and for the models that
/// start processes, how they start them (`process:fork`; `spawn`, the
/// default, is not named).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId {
    pub kind: ModelKind,
    pub gil: bool,
    /// Always `Spawn` for a kind that starts no process.
    pub start: StartMethod,
    /// Always `None` for a kind that is not `cpython-*`, and for every
    /// model of a run with one interpreter.
    pub python: Option<PythonTag>,
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
            python: None,
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

    /// The same model in the interpreter `tag`; unchanged for a kind that
    /// is not `cpython-*`.
    pub fn in_python(self, tag: Option<PythonTag>) -> ModelId {
        ModelId {
            python: if self.kind.is_cpython() { tag } else { None },
            ..self
        }
    }

    /// Parses a model as `Display` writes it, interpreter and start method
    /// included (`process+gil:fork`, `cpython-process@3.12:fork`), as
    /// results files name models.
    pub fn parse_started(name: &str) -> Option<ModelId> {
        let (base, start) = match name.split_once(':') {
            Some((base, method)) => (base, StartMethod::from_id(method)?),
            None => (name, StartMethod::Spawn),
        };
        let (base, python) = match base.split_once('@') {
            Some((base, tag)) => (base, Some(PythonTag::parse(tag)?)),
            None => (base, None),
        };
        let id = ModelId::parse(base)?;
        if python.is_some() && !id.kind.is_cpython() {
            return None;
        }
        let id = id.in_python(python);
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
        if let Some(tag) = self.python {
            write!(f, "@{tag}")?;
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
