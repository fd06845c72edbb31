//! Suite files and command-line overrides in, a validated `Plan` out. Every
//! check on input happens here, before anything runs, and each error names
//! the file, line, column and key (or the flag) and says what is allowed.
//! Pure: no clock, thread or measurement; it only reads the suite files.

pub mod bounds;
pub mod coordination;
pub mod granularity;
pub mod io_models;
pub mod python;
mod start_method;
pub mod wake;

use crate::cpython::PythonInfo;
use crate::gil::GilKind;
use crate::model::id::{ModelId, ModelKind, StartMethod};
use crate::spec::{self, ScenarioSpec, Sweep, WorkloadKind};
use crate::workload::{Kernel, SocketShape, TaskShape};
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// The suite embedded in the binary, used when no file is given.
pub const DEFAULT_SUITE: &str = include_str!("../workloads/default.toml");
pub const DEFAULT_SUITE_NAME: &str = "<builtin default>";

pub const DEFAULT_REPETITIONS: u32 = 5;
pub const DEFAULT_WARMUP: u32 = 1;
pub const DEFAULT_TIMEOUT_S: f64 = 120.0;
/// Repetitions under `--quick` when a scenario says nothing else.
pub const QUICK_REPETITIONS: u32 = 3;
/// The most measured repetitions a point gets while a verdict on it is undecided.
pub const DEFAULT_MAX_REPETITIONS: u32 = 30;
pub const QUICK_MAX_REPETITIONS: u32 = 30;
/// Seconds a point may spend on extra repetitions for an undecided verdict.
pub const DEFAULT_POINT_BUDGET_S: f64 = 40.0;
pub const QUICK_POINT_BUDGET_S: f64 = 7.0;
/// Timed runs of each mechanism in a `floor` scenario, and under `--quick`
/// (see `floor`).
pub const DEFAULT_FLOOR_SAMPLES: u32 = 1000;
pub const QUICK_FLOOR_SAMPLES: u32 = 100;
/// Units alive at each point of a `coroutine` scenario's memory sweep.
pub const DEFAULT_COROUTINE_UNITS: [usize; 4] = [250, 500, 1000, 2000];

/// A suite file's name and text.
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Reads the suite files named on the command line, or the built-in default.
pub fn load_sources(paths: &[std::path::PathBuf]) -> Result<Vec<Source>, PlanError> {
    if paths.is_empty() {
        return Ok(vec![Source {
            name: DEFAULT_SUITE_NAME.into(),
            text: DEFAULT_SUITE.into(),
        }]);
    }
    paths
        .iter()
        .map(|p| {
            let text = crate::input::read_text(p, crate::input::MAX_SUITE_BYTES).map_err(|e| {
                PlanError::Read {
                    file: p.display().to_string(),
                    reason: e.to_string(),
                }
            })?;
            Ok(Source {
                name: p.display().to_string(),
                text,
            })
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{file}:{line}:{column}: {message}\n{snippet}{help}")]
    At {
        file: String,
        line: usize,
        column: usize,
        message: String,
        snippet: String,
        help: String,
    },
    #[error("cannot read suite file {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("{0}")]
    Suite(String),
}

/// Builds a located error: `file:line:col: key `k`: message`, the offending
/// line with a caret, and a hint.
/// Refuses a key at its span when it does not apply to the scenario's
/// workload (each workload module's keys are checked with one).
pub(crate) type KeyCheck<'a> = &'a dyn Fn(&str, Range<usize>) -> Result<(), PlanError>;

/// The error for `key`, set at `span` on workload `w`, which it does not
/// apply to; `on` names the workloads it applies to.
fn not_here(
    source: &Source,
    span: Range<usize>,
    key: &str,
    w: WorkloadKind,
    on: &str,
) -> PlanError {
    located(
        source,
        span,
        Some(key),
        &format!("does not apply to workload `{}`", w.id()),
        &format!("remove it; `{key}` applies to: {on}"),
    )
}

/// A key's value where the file sets it, after `check` lets it through.
pub(crate) fn take<T, U>(
    v: &Option<Spanned<T>>,
    key: &str,
    check: KeyCheck,
    conv: impl FnOnce(&T) -> U,
) -> Result<Option<U>, PlanError> {
    match v {
        Some(v) => {
            check(key, v.span())?;
            Ok(Some(conv(v.get_ref())))
        }
        None => Ok(None),
    }
}

fn located(
    source: &Source,
    span: Range<usize>,
    key: Option<&str>,
    message: &str,
    help: &str,
) -> PlanError {
    let text = &source.text;
    let at = span.start.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line_no = text[..at].matches('\n').count() + 1;
    let column = text[line_start..at].chars().count() + 1;
    let line_text = &text[line_start..line_end];
    let key = key.map(str::to_owned).or_else(|| key_of_line(line_text));
    let message = match key {
        Some(k) => format!("key `{k}`: {message}"),
        None => message.to_owned(),
    };
    let gutter = line_no.to_string().len();
    let (shown, caret) = snippet_window(line_text, column - 1);
    let snippet = format!(
        "{:gutter$} |\n{line_no} | {shown}\n{:gutter$} | {}^",
        "",
        "",
        " ".repeat(caret)
    );
    PlanError::At {
        file: source.name.clone(),
        line: line_no,
        column,
        message,
        snippet,
        help: if help.is_empty() {
            String::new()
        } else {
            format!("\n  help: {help}")
        },
    }
}

/// At most `SNIPPET_CHARS` of a line around the character at `at`, with
/// `…` where it was cut, and where the caret goes under it: an error about a
/// 5000-character value quotes the start of it, not all of it.
fn snippet_window(line: &str, at: usize) -> (String, usize) {
    const SNIPPET_CHARS: usize = 120;
    let n = line.chars().count();
    if n <= SNIPPET_CHARS {
        return (line.to_owned(), at);
    }
    let start = at.saturating_sub(SNIPPET_CHARS / 3).min(n - SNIPPET_CHARS);
    let mut shown: String = line.chars().skip(start).take(SNIPPET_CHARS).collect();
    let mut caret = at - start;
    if start > 0 {
        shown.insert(0, '…');
        caret += 1;
    }
    if start + SNIPPET_CHARS < n {
        shown.push('…');
    }
    (shown, caret)
}

/// The key assigned on a TOML line (`tasks = [0]` -> `tasks`), if any.
fn key_of_line(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_owned())
}

/// Run-wide settings after defaults, files and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub case_timeout: Duration,
    pub quick: bool,
    pub sources: Vec<String>,
    /// Time a point may spend on repetitions beyond its minimum while a
    /// verdict on it is undecided (see `runner`).
    pub point_budget: Duration,
    /// What `plan` added on its own (a missing baseline), for the user to see.
    pub notices: Vec<String>,
    /// The interpreter the `cpython-*` models run in, where the suite
    /// (`python = ...`) or `--python` chose one: found and asked what it is
    /// before anything runs. `None`: `python3` on PATH, if any. With
    /// several, the first.
    pub python: Option<PythonInfo>,
    /// Every interpreter named, when `python` names several (at most
    /// [`python`]'s bound): the `cpython-*` models run once in each, tagged
    /// (`cpython-thread@3.12`). Empty for one.
    pub pythons: Vec<PythonInfo>,
}

/// One scenario, resolved: every value known and valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub workload: WorkloadKind,
    pub models: Vec<ModelId>,
    pub workers: Vec<usize>,
    pub tasks: Vec<usize>,
    /// Convoy: CPU-bound threads beside the IO probe, swept.
    pub cpu_threads: Vec<usize>,
    /// Target duration of one task, for the workloads sized in time.
    pub task_ms: Vec<f64>,
    pub kernel: Kernel,
    pub cpu_fraction: f64,
    pub server_delay_ms: f64,
    pub round_trips: u32,
    pub message_bytes: u32,
    pub file_kib: u64,
    /// KiB each task writes and holds while it runs (0: none).
    pub touch_kib: u64,
    pub releases_gil: bool,
    /// Whether a sequential baseline runs (`baseline = false`: speedups
    /// against tasks × the task's time instead, for runs at scale).
    pub baseline: bool,
    /// The emulated GIL for `+gil` models: new (CPython 3.2+) or legacy (Python 2).
    pub legacy_gil: bool,
    /// `sys.setswitchinterval`, for the new GIL and the CPython models.
    pub switch_interval_us: f64,
    /// Ticks between forced releases of the legacy GIL.
    pub check_interval: u32,
    /// The fewest measured repetitions of every case.
    pub repetitions: u32,
    /// The most, while a verdict on the point is undecided (≥ `repetitions`).
    pub max_repetitions: u32,
    pub warmup: u32,
    /// Whether its tasks are CPU-bound (decides the ideal line); set once
    /// every override is in.
    pub cpu_bound: bool,
    /// Floor: timed runs of each OS mechanism; coroutine: of each figure.
    pub samples: u32,
    /// Coroutine: the figures to measure.
    pub measure: Vec<crate::coroutine::Measure>,
    /// Coroutine: units alive at each point of the memory sweep.
    pub units: Vec<usize>,
    /// How the process models start workers; each process model runs once
    /// per method (`process`, `process:fork`, ...), see `plan/start_method.rs`.
    pub start_method: Vec<StartMethod>,
    /// MiB the parent program holds while it starts workers, swept.
    pub parent_mib: Vec<u64>,
    /// The lock workload's keys (`coordination`).
    pub coordination: coordination::Coordination,
    /// The granularity scenario's keys (`granularity`).
    pub granularity: granularity::Granularity,
    /// The io-models workload's keys (`io_models`).
    pub io_models: io_models::IoModels,
}

/// A (tasks, size) point of a scenario's sweep; each is run under every model
/// and worker count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub tasks: usize,
    pub task_ms: Option<f64>,
    pub shape: TaskShape,
    /// Convoy points: this many CPU-bound tasks run beside one IO task that
    /// does the round trips (the probe), each on a worker of its own.
    pub cpu_threads: Option<usize>,
    /// MiB the parent program holds while the process models start workers.
    pub parent_mib: u64,
}

/// One point of a scenario's sweep with every case to run at it, resolved
/// once into plain data: all the runner needs, so that it never calls back
/// into the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PointPlan {
    pub scenario: String,
    pub workload: WorkloadKind,
    /// The CPU kernel, when the workload has one (results' `kernel`).
    pub kernel: Option<Kernel>,
    /// What identifies the point's cases in results besides workload,
    /// model, workers, tasks and task_ms (`cpu_threads` of a convoy too).
    pub params: Vec<(&'static str, f64)>,
    pub point: Point,
    /// The sequential baselines once, at 1 worker; every other model at
    /// every worker count.
    pub cases: Vec<CasePlan>,
    pub warmup: u32,
    /// The fewest measured repetitions of every case.
    pub repetitions: u32,
    /// The most, while a verdict on the point is undecided.
    pub max_repetitions: u32,
    /// The emulated GIL of the `+gil` cases.
    pub gil: GilKind,
    /// `sys.setswitchinterval` for the CPython models.
    pub switch_interval: Duration,
    /// When one batch of a case is abandoned.
    pub timeout: Duration,
    /// Whether a sequential baseline runs (the scenario's `baseline`).
    pub baseline: bool,
}

/// One case of a point: a model at a worker count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CasePlan {
    pub model: ModelId,
    pub workers: usize,
}

impl Scenario {
    pub fn uses_time_size(&self) -> bool {
        applies("task_ms", self.workload)
    }

    fn uses_kernel(&self) -> bool {
        applies("kernel", self.workload)
    }

    /// Every point of the sweep with its cases, in sweep order.
    fn plan_points(&self, timeout: Duration) -> Vec<PointPlan> {
        let params = self.params();
        self.points()
            .into_iter()
            .map(|point| PointPlan {
                scenario: self.name.clone(),
                workload: self.workload,
                kernel: self.uses_kernel().then_some(self.kernel),
                params: params
                    .iter()
                    .copied()
                    .chain(point.cpu_threads.map(|k| ("cpu_threads", k as f64)))
                    .chain(point.shape.timer.map(|t| ("timers", f64::from(t.timers))))
                    .chain(
                        start_method::sweeps_parent(self)
                            .then_some(("parent_mib", point.parent_mib as f64)),
                    )
                    .collect(),
                cases: self.cases_at(&point),
                point,
                warmup: self.warmup,
                repetitions: self.repetitions,
                max_repetitions: self.max_repetitions,
                gil: self.gil_kind(),
                switch_interval: self.switch_interval(),
                baseline: self.baseline,
                timeout,
            })
            .collect()
    }

    /// The (model, workers) cases of a point; the sequential baselines
    /// (native and CPython) once, at 1 worker. A convoy point runs at one
    /// worker per task.
    fn cases_at(&self, point: &Point) -> Vec<CasePlan> {
        let is_baseline = |m: &ModelId| m.kind.baseline() == m.kind && !m.gil;
        let workers = match point.cpu_threads {
            Some(k) => vec![k + 1],
            // A lock point's units are its workers, one point per value.
            None if matches!(
                self.workload,
                WorkloadKind::Lock | WorkloadKind::Queue | WorkloadKind::Event
            ) =>
            {
                vec![point.tasks]
            }
            // A timer point's one unit arms every timer itself.
            None if self.workload == WorkloadKind::Timer => vec![1],
            None => self.workers.clone(),
        };
        let mut out: Vec<CasePlan> = self
            .models
            .iter()
            .filter(|m| is_baseline(m))
            .map(|&model| CasePlan { model, workers: 1 })
            .collect();
        for workers in workers {
            for &model in self.models.iter().filter(|m| !is_baseline(m)) {
                out.push(CasePlan { model, workers });
            }
        }
        out
    }

    /// Every (tasks, size) point, in sweep order; none for a floor scenario
    /// (the runner measures the floor itself) or a lifecycle scenario, which
    /// the runner runs apart (`lifecycle::run`).
    fn points(&self) -> Vec<Point> {
        if matches!(
            self.workload,
            WorkloadKind::Floor
                | WorkloadKind::Lifecycle
                | WorkloadKind::Granularity
                | WorkloadKind::IoModels
                | WorkloadKind::Coroutine
        ) {
            return Vec::new();
        }
        let sizes: Vec<Option<f64>> = if self.uses_time_size() {
            self.task_ms.iter().map(|&ms| Some(ms)).collect()
        } else {
            vec![None]
        };
        let mut out = Vec::new();
        if self.workload == WorkloadKind::Convoy {
            for &k in &self.cpu_threads {
                for &task_ms in &sizes {
                    out.push(Point {
                        tasks: k + 1,
                        task_ms,
                        shape: self.shape(task_ms.unwrap_or(0.0)),
                        cpu_threads: Some(k),
                        parent_mib: 0,
                    });
                }
            }
            return out;
        }
        if self.workload == WorkloadKind::Queue {
            let c = &self.coordination;
            return vec![Point {
                tasks: (c.producers + c.consumers) as usize,
                task_ms: None,
                shape: self.shape(0.0),
                cpu_threads: None,
                parent_mib: 0,
            }];
        }
        if self.workload == WorkloadKind::Event {
            // The waiters and the setter.
            return self
                .workers
                .iter()
                .map(|&waiters| Point {
                    tasks: waiters + 1,
                    task_ms: None,
                    shape: TaskShape {
                        event: Some(self.coordination.event_shape(waiters)),
                        ..self.shape(0.0)
                    },
                    cpu_threads: None,
                    parent_mib: 0,
                })
                .collect();
        }
        if self.workload == WorkloadKind::Timer {
            return self
                .coordination
                .timers
                .iter()
                .map(|&timers| Point {
                    tasks: 1,
                    task_ms: None,
                    shape: TaskShape {
                        timer: Some(self.coordination.timer_shape(timers)),
                        ..self.shape(0.0)
                    },
                    cpu_threads: None,
                    parent_mib: 0,
                })
                .collect();
        }
        if self.workload == WorkloadKind::Lock {
            return self
                .workers
                .iter()
                .map(|&units| Point {
                    tasks: units,
                    task_ms: None,
                    shape: self.shape(0.0),
                    cpu_threads: None,
                    parent_mib: 0,
                })
                .collect();
        }
        for &tasks in &self.tasks {
            for &task_ms in &sizes {
                for &parent_mib in &self.parent_mib {
                    out.push(Point {
                        tasks,
                        task_ms,
                        shape: self.shape(task_ms.unwrap_or(0.0)),
                        cpu_threads: None,
                        parent_mib,
                    });
                }
            }
        }
        out
    }

    fn shape(&self, task_ms: f64) -> TaskShape {
        let (cpu_ms, sleep_ms) = match self.workload {
            WorkloadKind::Cpu => (task_ms, 0.0),
            // A convoy's CPU tasks compute in chunks until its probe is done.
            WorkloadKind::Convoy => (crate::workload::CONVOY_CHUNK_MS, 0.0),
            WorkloadKind::IoSleep => (0.0, task_ms),
            WorkloadKind::Mixed => (
                task_ms * self.cpu_fraction,
                task_ms * (1.0 - self.cpu_fraction),
            ),
            WorkloadKind::IoSocket
            | WorkloadKind::IoFile
            | WorkloadKind::Lifecycle
            | WorkloadKind::Floor
            | WorkloadKind::Coroutine
            | WorkloadKind::Lock
            | WorkloadKind::Queue
            | WorkloadKind::Event
            | WorkloadKind::Timer
            // A granularity search sets the duration of each batch itself.
            | WorkloadKind::Granularity
            | WorkloadKind::IoModels => (0.0, 0.0),
        };
        TaskShape {
            cpu_ms,
            kernel: self.kernel,
            sleep_ms,
            socket: matches!(self.workload, WorkloadKind::IoSocket | WorkloadKind::Convoy)
                .then_some(SocketShape {
                    round_trips: self.round_trips,
                    message_bytes: self.message_bytes,
                    server_delay_ms: self.server_delay_ms,
                }),
            file_kib: (self.workload == WorkloadKind::IoFile).then_some(self.file_kib),
            touch_kib: self.touch_kib,
            releases_gil: self.releases_gil,
            lock: (self.workload == WorkloadKind::Lock).then(|| self.coordination.lock_shape()),
            queue: (self.workload == WorkloadKind::Queue).then(|| self.coordination.queue_shape()),
            event: None,
            timer: None,
        }
    }

    fn gil_kind(&self) -> GilKind {
        if self.legacy_gil {
            GilKind::Legacy {
                check_interval: self.check_interval,
            }
        } else {
            GilKind::New {
                switch_interval: self.switch_interval(),
            }
        }
    }

    fn switch_interval(&self) -> Duration {
        Duration::from_secs_f64(self.switch_interval_us / 1e6)
    }

    fn interpreted(&self) -> bool {
        self.models.iter().any(|m| m.gil || m.kind.is_cpython())
    }

    /// Parameters that identify a case besides workload, model, workers,
    /// tasks and task_ms (they go into results.json).
    fn params(&self) -> Vec<(&'static str, f64)> {
        let mut out = self.workload_params();
        if self.touch_kib > 0 {
            out.push(("touch_kib", self.touch_kib as f64));
        }
        if self.interpreted() {
            if self.legacy_gil {
                out.push(("legacy_gil_check_interval", self.check_interval as f64));
            } else {
                out.push(("switch_interval_us", self.switch_interval_us));
            }
        }
        out
    }

    fn workload_params(&self) -> Vec<(&'static str, f64)> {
        match self.workload {
            WorkloadKind::Cpu => vec![],
            WorkloadKind::IoSleep => vec![],
            WorkloadKind::Mixed => vec![("cpu_fraction", self.cpu_fraction)],
            WorkloadKind::IoSocket | WorkloadKind::Convoy | WorkloadKind::IoModels => vec![
                ("server_delay_ms", self.server_delay_ms),
                ("round_trips", self.round_trips as f64),
                ("message_bytes", self.message_bytes as f64),
            ],
            WorkloadKind::IoFile => vec![("file_kib", self.file_kib as f64)],
            WorkloadKind::Lifecycle | WorkloadKind::Floor | WorkloadKind::Coroutine => vec![],
            WorkloadKind::Lock => self.coordination.params(),
            WorkloadKind::Queue => self.coordination.queue_params(),
            WorkloadKind::Event => vec![("rounds", f64::from(self.coordination.rounds))],
            WorkloadKind::Timer => vec![("delay_ms", self.coordination.delay_ms)],
            WorkloadKind::Granularity => vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub settings: Settings,
    /// Every scenario as resolved, for `list` and the results' scenario table.
    pub scenarios: Vec<Scenario>,
    /// Every point of every scenario with its cases, in run order.
    pub points: Vec<PointPlan>,
}

impl Plan {
    /// The samples of each mechanism a `floor` scenario asks for (the most,
    /// when several do); `None` when the run has no floor scenario.
    pub fn floor_samples(&self) -> Option<u32> {
        self.scenarios
            .iter()
            .filter(|s| s.workload == WorkloadKind::Floor)
            .map(|s| s.samples)
            .max()
    }

    /// What the run's `coroutine` scenarios ask for, together: every figure
    /// any asks for, the most samples, every count of their sweeps; `None`
    /// without one.
    pub fn coroutine_request(&self) -> Option<crate::coroutine::Request> {
        let mut scenarios = self
            .scenarios
            .iter()
            .filter(|s| s.workload == WorkloadKind::Coroutine)
            .peekable();
        scenarios.peek()?;
        let mut req = crate::coroutine::Request {
            measures: Vec::new(),
            samples: 0,
            units: Vec::new(),
        };
        for s in scenarios {
            req.measures.extend(&s.measure);
            req.samples = req.samples.max(s.samples);
            req.units.extend(&s.units);
        }
        req.measures.sort();
        req.measures.dedup();
        req.units.sort();
        req.units.dedup();
        Some(req)
    }
}

/// True when the scenario's quick table leaves it out of `--quick` runs.
fn skips_quick(spec: &ScenarioSpec) -> bool {
    let quick = spec.quick.as_ref().map(|q| q.get_ref());
    quick
        .and_then(|q| q.skip.as_ref())
        .is_some_and(|s| *s.get_ref())
}

/// Which keys apply to which workloads, for "does not apply" errors.
fn applies(key: &str, w: WorkloadKind) -> bool {
    use WorkloadKind::*;
    if let Some(on) = granularity::applies(key, w) {
        return on;
    }
    // The floor runs no task and no model: only its number of samples.
    if w == Floor {
        return key == "samples";
    }
    // An io-models scenario runs no task model: its own keys, the socket's,
    // and how often to repeat.
    if w == IoModels {
        return matches!(
            key,
            "server_delay_ms" | "round_trips" | "message_bytes" | "repetitions" | "warmup"
        ) || io_models::applies(key, w) == Some(true);
    }
    // Nor does the coroutine workload: its figures, samples and sweep.
    if w == Coroutine {
        return matches!(key, "samples" | "measure" | "units");
    }
    match key {
        // The lifecycle demo has nothing to size or sweep.
        _ if w == Lifecycle => false,
        "task_ms" => matches!(w, Cpu | IoSleep | Mixed),
        "kernel" => matches!(w, Cpu | Mixed | Convoy),
        "cpu_fraction" => w == Mixed,
        "server_delay_ms" | "round_trips" | "message_bytes" => matches!(w, IoSocket | Convoy),
        "cpu_threads" => w == Convoy,
        // A convoy point's tasks and workers follow from its CPU threads;
        // a lock point's units are its workers; a queue's, its producers
        // and consumers.
        // An event point's waiters are its workers; a timer's units, one.
        "workers" => !matches!(w, Convoy | Queue | Timer),
        "tasks" => !matches!(w, Convoy | Lock | Queue | Event | Timer),
        "file_kib" => w == IoFile,
        "touch_kib" => matches!(w, Cpu | IoSleep | Mixed),
        "samples" | "measure" | "units" => false,
        // A convoy's points follow from its CPU threads alone; a lock's from
        // its units, a queue's is one.
        "parent_mib" => !matches!(w, Convoy | Lock | Queue | Event | Timer),
        k => coordination::applies(k, w)
            .or_else(|| io_models::applies(k, w))
            .unwrap_or(true),
    }
}

fn applies_to(key: &str) -> String {
    WorkloadKind::ALL
        .into_iter()
        .filter(|w| applies(key, *w))
        .map(WorkloadKind::id)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn model_ids() -> String {
    ModelId::all_ids().join(", ")
}

/// `all` is every native model; `+gil` and `cpython-*` are named one by one.
/// The native models `all` names.
fn all_native() -> Vec<ModelId> {
    ModelKind::ALL
        .into_iter()
        .filter(|k| k.in_all())
        .map(ModelId::native)
        .collect()
}

fn expand_model(id: &str) -> Option<Vec<ModelId>> {
    if id == "all" {
        Some(all_native())
    } else {
        ModelId::parse(id).map(|m| vec![m])
    }
}

/// What the command line asks of a plan, as the library takes it (the
/// binary's `RunArgs` fills it in): raw values, checked in `build`, whose
/// errors name the flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions {
    pub quick: bool,
    /// Ad-hoc mode: this workload, without a suite.
    pub workload: Option<WorkloadKind>,
    pub only: Vec<String>,
    pub models: Vec<String>,
    pub repetitions: Option<u32>,
    pub max_repetitions: Option<u32>,
    pub point_budget: Option<f64>,
    pub warmup: Option<u32>,
    pub timeout: Option<f64>,
    pub task_ms: Vec<f64>,
    pub tasks: Vec<usize>,
    pub workers: Vec<usize>,
    pub cpu_threads: Vec<usize>,
    pub kernel: Option<String>,
    pub cpu_fraction: Option<f64>,
    pub file_kib: Option<u64>,
    pub touch_kib: Option<u64>,
    pub server_delay_ms: Option<f64>,
    pub round_trips: Option<u32>,
    /// Floor: timed runs of each mechanism.
    pub samples: Option<u32>,
    /// `--start-method`: how the process models start workers, swept.
    pub start_method: Vec<StartMethod>,
    /// `--parent-mib`, swept.
    pub parent_mib: Vec<u64>,
    /// `--python`: the interpreter of the `cpython-*` models.
    pub python: Option<String>,
    /// `--no-baseline`: `baseline = false` in every scenario.
    pub no_baseline: bool,
}

/// Builds the plan from suite sources and the command line.
///
/// ```
/// use parabench::plan::{PlanOptions, Source, build};
/// let suite = "[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\ntasks = 4\nworkers = [1, 2]\nmodels = [\"thread\"]\n";
/// let sources = [Source { name: "suite.toml".into(), text: suite.into() }];
/// let plan = build(&sources, &PlanOptions::default()).unwrap();
/// // `sequential` is added as the baseline of thread's speedups.
/// let cases: Vec<String> = plan.points[0].cases.iter().map(|c| format!("{}@{}", c.model, c.workers)).collect();
/// assert_eq!(cases, ["sequential@1", "thread@1", "thread@2"]);
///
/// // A value out of its range is refused with the file, line and key.
/// let bad = [Source { name: "bad.toml".into(), text: suite.replace("tasks = 4", "tasks = 0") }];
/// let err = build(&bad, &PlanOptions::default()).unwrap_err().to_string();
/// assert!(err.starts_with("bad.toml:4:") && err.contains("tasks"), "{err}");
/// ```
pub fn build(sources: &[Source], args: &PlanOptions) -> Result<Plan, PlanError> {
    let mut scenarios = Vec::new();
    // Scenarios whose quick table says `skip = true`, under --quick.
    let mut skipped: Vec<String> = Vec::new();
    let mut timeout_s = None;
    let mut budget_s = None;
    let mut pythons: Vec<PythonInfo> = Vec::new();
    if let Some(workload) = args.workload {
        // `--quick` shortens the floor as a quick table would.
        let quick_floor =
            args.quick && matches!(workload, WorkloadKind::Floor | WorkloadKind::Coroutine);
        let o = Overrides {
            samples: quick_floor.then_some(QUICK_FLOOR_SAMPLES),
            ..Overrides::default()
        };
        scenarios.push((adhoc(workload), o));
    } else {
        for source in sources {
            let suite = spec::parse(&source.text).map_err(|e| {
                let span = e.span().unwrap_or(0..0);
                located(
                    source,
                    span,
                    None,
                    e.message().trim(),
                    "see README.md, \"Workload files\"",
                )
            })?;
            timeout_s = suite.settings.timeout_s.map(|t| t.0).or(timeout_s);
            budget_s = suite.settings.point_budget_s.map(|t| t.0).or(budget_s);
            if let Some(spec) = &suite.settings.python {
                pythons = find_python(spec.get_ref()).map_err(|e| {
                    located(
                        source,
                        spec.span(),
                        Some("python"),
                        &e,
                        "name an interpreter on PATH or in pyenv (`pyenv versions` lists them), \
                         or give its path; several are separated by commas",
                    )
                })?;
            }
            if suite.scenario.is_empty() {
                return Err(PlanError::Suite(format!(
                    "{}: no [[scenario]] table: a suite needs at least one",
                    source.name
                )));
            }
            for sc in &suite.scenario {
                let resolved = resolve(source, sc, &suite.settings, args.quick)?;
                if args.quick && skips_quick(sc.get_ref()) {
                    skipped.push(resolved.0.name.clone());
                }
                if scenarios
                    .iter()
                    .any(|(s, _): &(Scenario, Overrides)| s.name == resolved.0.name)
                {
                    let span = sc.get_ref().name.as_ref().map_or(sc.span(), |n| n.span());
                    return Err(located(
                        source,
                        span,
                        Some("name"),
                        &format!("scenario `{}` is defined twice", resolved.0.name),
                        "give every scenario a unique name",
                    ));
                }
                scenarios.push(resolved);
            }
        }
    }
    // The command line has the last word: the file sets the scene, the
    // flags try a variation. Every layer is one `Overrides`, applied once.
    let flags = Overrides::from_flags(args)?;
    let mut scenarios: Vec<Scenario> = scenarios
        .into_iter()
        .map(|(mut s, files)| {
            files.then(&flags).apply(&mut s);
            s
        })
        .collect();
    if !args.only.is_empty() {
        for name in &args.only {
            if !scenarios.iter().any(|s| &s.name == name) {
                return Err(PlanError::Flag {
                    flag: "--only",
                    message: format!(
                        "no scenario named `{name}`; the suite has: {}",
                        scenarios
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        scenarios.retain(|s| args.only.contains(&s.name));
    }
    let mut quick_notices = Vec::new();
    scenarios.retain(|s| {
        let skip = skipped.contains(&s.name) && !args.only.contains(&s.name);
        if skip {
            quick_notices.push(format!(
                "{}: left out under --quick (its quick table says `skip = true`); \
                 `--only {}` runs it",
                s.name, s.name
            ));
        }
        !skip
    });
    refuse_unused_flags(&scenarios, &flags)?;
    if args.no_baseline {
        for s in &mut scenarios {
            if !matches!(s.workload, WorkloadKind::Cpu | WorkloadKind::IoSleep) {
                return Err(flag_err(
                    "--no-baseline",
                    format!(
                        "applies to cpu and io-sleep scenarios only, and `{}` is {}; \
                         pick them with --only",
                        s.name,
                        s.workload.id()
                    ),
                ));
            }
            s.baseline = false;
        }
    }
    start_method::refuse_unused_flags(&scenarios, &flags)?;
    for s in &mut scenarios {
        start_method::expand_models(s);
    }
    // File values passed in `resolve`: what fails now came from a flag.
    for s in &scenarios {
        bounds::check_ranges(s).map_err(|e| flag_err(bounds::flag_of(e.key), e.message))?;
    }
    coordination::check_flags(&scenarios)?;
    granularity::check_flags(&scenarios)?;
    let timeout = args.timeout.or(timeout_s).unwrap_or(DEFAULT_TIMEOUT_S);
    bounds::check_value("timeout_s", timeout)
        .map_err(|e| setting_err(e, args.timeout.is_some()))?;
    granularity::check_time(&scenarios, timeout)?;
    let default_budget = if args.quick {
        QUICK_POINT_BUDGET_S
    } else {
        DEFAULT_POINT_BUDGET_S
    };
    // --quick caps the suite's budget; a flag is taken as given.
    let budget = args.point_budget.unwrap_or_else(|| match budget_s {
        Some(b) if args.quick => b.min(default_budget),
        Some(b) => b,
        None => default_budget,
    });
    bounds::check_value("point_budget_s", budget)
        .map_err(|e| setting_err(e, args.point_budget.is_some()))?;
    bounds::check_size(&scenarios).map_err(PlanError::Suite)?;
    io_models::check_time(&scenarios, timeout).map_err(PlanError::Suite)?;
    if let Some(spec) = &args.python {
        pythons = find_python(spec).map_err(|e| flag_err("--python", e))?;
    }
    let notices = quick_notices
        .into_iter()
        .chain(scenarios.iter_mut().flat_map(add_baselines))
        .collect();
    // After the baselines, so that each interpreter gets its own.
    for s in &mut scenarios {
        python::tag_models(s, &pythons);
    }
    bounds::check_size(&scenarios).map_err(PlanError::Suite)?;
    for s in &mut scenarios {
        s.cpu_bound = s.workload == WorkloadKind::Cpu
            || (s.workload == WorkloadKind::Mixed && s.cpu_fraction >= 0.5);
    }
    let case_timeout = Duration::from_secs_f64(timeout);
    let points: Vec<PointPlan> = scenarios
        .iter()
        .flat_map(|s| s.plan_points(case_timeout))
        .collect();
    bounds::check_time(&points).map_err(|e| PlanError::Suite(e.message))?;
    Ok(Plan {
        settings: Settings {
            case_timeout,
            quick: args.quick,
            sources: if args.workload.is_some() {
                vec!["<command line>".into()]
            } else {
                sources.iter().map(|s| s.name.clone()).collect()
            },
            point_budget: Duration::from_secs_f64(budget),
            notices,
            python: pythons.first().cloned(),
            pythons: if pythons.len() > 1 {
                pythons
            } else {
                Vec::new()
            },
        },
        scenarios,
        points,
    })
}

/// The interpreters `spec` names (see `plan::python`), asked what they
/// are; the error says why one cannot run the `cpython-*` models.
fn find_python(spec: &str) -> Result<Vec<PythonInfo>, String> {
    python::resolve(spec, &|name| {
        crate::cpython::find(name).map_err(|e| e.to_string())
    })
}

/// Adds the baseline of every model family a scenario runs and lacks
/// (`sequential`, `cpython-sequential`), so that every speedup has one;
/// returns a notice for each. Convoy and lock points have no speedup and
/// need none.
fn add_baselines(s: &mut Scenario) -> Vec<String> {
    if !s.baseline
        || matches!(
            s.workload,
            WorkloadKind::Convoy
                | WorkloadKind::Lock
                | WorkloadKind::Queue
                | WorkloadKind::Event
                | WorkloadKind::Timer
                | WorkloadKind::Granularity
        )
    {
        return Vec::new();
    }
    let mut notices = Vec::new();
    for baseline in [ModelKind::Sequential, ModelKind::CpythonSequential] {
        let id = ModelId::native(baseline);
        let needed = s.models.iter().any(|m| m.kind.baseline() == baseline);
        if needed && !s.models.contains(&id) {
            s.models.insert(0, id);
            notices.push(format!(
                "scenario `{}`: added {} as the baseline of its speedups",
                s.name,
                baseline.id()
            ));
        }
    }
    notices
}

fn defaults(name: String, workload: WorkloadKind) -> Scenario {
    let convoy = workload == WorkloadKind::Convoy;
    let floor = workload == WorkloadKind::Floor;
    let mut s = Scenario {
        name,
        description: String::new(),
        workload,
        // The floor, the lifecycle demo, the IO models and the coroutine figures run no model.
        models: if floor
            || matches!(
                workload,
                WorkloadKind::Lifecycle | WorkloadKind::IoModels | WorkloadKind::Coroutine
            ) {
            Vec::new()
        } else {
            all_native()
        },
        workers: vec![1, 2, 4],
        tasks: vec![8],
        cpu_threads: vec![0, 1, 2],
        task_ms: vec![10.0],
        kernel: Kernel::Hash,
        cpu_fraction: 0.5,
        server_delay_ms: if convoy { 0.0 } else { 1.0 },
        // Enough timed round trips for a convoy's p99 to mean something.
        round_trips: match workload {
            WorkloadKind::Convoy => 1000,
            // Enough round trips per connection for a p99 at small C.
            WorkloadKind::IoModels => 10,
            _ => 1,
        },
        message_bytes: 64,
        file_kib: 64,
        touch_kib: 0,
        releases_gil: false,
        baseline: true,
        legacy_gil: false,
        switch_interval_us: 5000.0,
        // Python 2 released every 100 bytecodes, 0.34-0.39 µs here, less
        // than one 2 µs slice: so at every slice (README, "Python 2.7 and
        // the legacy GIL").
        check_interval: 1,
        repetitions: DEFAULT_REPETITIONS,
        max_repetitions: DEFAULT_MAX_REPETITIONS,
        warmup: DEFAULT_WARMUP,
        cpu_bound: false,
        samples: DEFAULT_FLOOR_SAMPLES,
        measure: crate::coroutine::Measure::ALL.to_vec(),
        units: DEFAULT_COROUTINE_UNITS.to_vec(),
        start_method: vec![StartMethod::Spawn],
        parent_mib: vec![0],
        coordination: coordination::Coordination::default(),
        granularity: granularity::Granularity::default(),
        io_models: io_models::IoModels::default(),
    };
    if workload == WorkloadKind::Granularity {
        granularity::defaults(&mut s);
    }
    s
}

fn adhoc(kind: WorkloadKind) -> Scenario {
    let mut s = defaults(format!("adhoc-{}", kind.id()), kind);
    s.description = format!("ad-hoc {} run from the command line", kind.id());
    s
}

/// A scenario table: its defaults, and the overrides its settings, its
/// keys and (under `--quick`) its quick table make, merged in that order.
fn resolve(
    source: &Source,
    sc: &Spanned<ScenarioSpec>,
    settings: &spec::SettingsSpec,
    quick: bool,
) -> Result<(Scenario, Overrides), PlanError> {
    let spec = sc.get_ref();
    let Some(name) = &spec.name else {
        return Err(located(
            source,
            sc.span(),
            Some("name"),
            "missing: every scenario needs a name",
            "add `name = \"...\"`",
        ));
    };
    if name.get_ref().trim().is_empty() {
        return Err(located(
            source,
            name.span(),
            Some("name"),
            "is empty",
            "give the scenario a name",
        ));
    }
    if let Err(why) = crate::text::check_name(name.get_ref()) {
        let help = "use a shorter name of printable characters";
        return Err(located(
            source,
            name.span(),
            Some("name"),
            &why.to_string(),
            help,
        ));
    }
    let Some(workload) = &spec.workload else {
        return Err(located(
            source,
            name.span(),
            Some("workload"),
            &format!("missing in scenario `{}`", name.get_ref()),
            &format!(
                "add `workload = ...`, one of: {}",
                WorkloadKind::ALL.map(WorkloadKind::id).join(", ")
            ),
        ));
    };
    let mut s = defaults(name.get_ref().clone(), *workload.get_ref());
    if let Some(d) = &spec.description {
        s.description = d.get_ref().clone();
    }
    if let Some(b) = &spec.baseline {
        if !*b.get_ref() && !matches!(s.workload, WorkloadKind::Cpu | WorkloadKind::IoSleep) {
            return Err(located(
                source,
                b.span(),
                Some("baseline"),
                &format!(
                    "`baseline = false` applies to cpu and io-sleep scenarios only, not {}",
                    s.workload.id()
                ),
                "their sequential time is known without running it (tasks × the task's time); \
                 remove the key to run the sequential baseline",
            ));
        }
        s.baseline = *b.get_ref();
    }
    let mut o = Overrides {
        repetitions: settings.repetitions.map(|n| n.get()),
        max_repetitions: settings.max_repetitions.map(|n| n.get()),
        warmup: settings.warmup,
        ..Overrides::default()
    }
    .then(&Overrides::from_spec(source, s.workload, spec)?);
    if let Some(skip) = &spec.skip {
        return Err(located(
            source,
            skip.span(),
            Some("skip"),
            "can only be set in a [scenario.quick] table",
            "to leave the scenario out of --quick runs, put `skip = true` under [scenario.quick]",
        ));
    }
    if let Some(q) = &spec.quick {
        let q_spec = q.get_ref();
        for (key, set) in [
            ("name", q_spec.name.is_some()),
            ("description", q_spec.description.is_some()),
            ("workload", q_spec.workload.is_some()),
            ("baseline", q_spec.baseline.is_some()),
            ("models", q_spec.models.is_some()),
            ("quick", q_spec.quick.is_some()),
        ] {
            if set {
                return Err(located(
                    source,
                    q.span(),
                    Some(key),
                    "cannot be set in a [scenario.quick] table",
                    "a quick table only changes sizes: workers, tasks, task_ms, repetitions, warmup and the workload parameters",
                ));
            }
        }
        let quick_table = Overrides::from_spec(source, s.workload, q_spec)?;
        if quick {
            o = o.then(&quick_table);
        }
    }
    if quick {
        // Fewer repetitions and no warm-up, unless the quick table says.
        let table = spec.quick.as_ref().map(|q| q.get_ref());
        if table.is_none_or(|q| q.repetitions.is_none()) {
            let n = o.repetitions.unwrap_or(s.repetitions);
            o.repetitions = Some(n.min(QUICK_REPETITIONS));
        }
        let max = o.max_repetitions.unwrap_or(s.max_repetitions);
        o.max_repetitions = Some(max.min(QUICK_MAX_REPETITIONS));
        if table.is_none_or(|q| q.warmup.is_none()) {
            o.warmup = Some(0);
        }
        if matches!(s.workload, WorkloadKind::Floor | WorkloadKind::Coroutine)
            && table.is_none_or(|q| q.samples.is_none())
        {
            let n = o.samples.unwrap_or(s.samples);
            o.samples = Some(n.min(QUICK_FLOOR_SAMPLES));
        }
    }
    // The file's values, checked here where their lines are known; what a
    // flag sets is checked in `build`.
    let mut checked = s.clone();
    o.apply(&mut checked);
    start_method::check_file_keys(source, spec, &checked)?;
    bounds::check_ranges(&checked).map_err(|e| {
        // The quick table's value wins under --quick, so point at it first.
        let quick_spec = spec
            .quick
            .as_ref()
            .filter(|_| quick)
            .map(|q| q.get_ref().as_ref());
        let span = quick_spec
            .and_then(|q| key_span(q, e.key))
            .or_else(|| key_span(spec, e.key))
            .unwrap_or_else(|| name.span());
        located(
            source,
            span,
            Some(e.key),
            &e.message,
            "see README.md, \"Ranges\"",
        )
    })?;
    coordination::check(source, spec, &checked, quick)?;
    granularity::check(source, spec, &checked)?;
    io_models::check(source, spec, &checked)?;
    Ok((s, o))
}

/// Where a scenario table sets `key`, for errors found after resolving it.
fn key_span(spec: &ScenarioSpec, key: &str) -> Option<Range<usize>> {
    match key {
        "workers" => spec.workers.as_ref().map(Spanned::span),
        "tasks" => spec.tasks.as_ref().map(Spanned::span),
        "cpu_threads" => spec.cpu_threads.as_ref().map(Spanned::span),
        "task_ms" => spec.task_ms.as_ref().map(Spanned::span),
        "cpu_fraction" => spec.cpu_fraction.as_ref().map(Spanned::span),
        "server_delay_ms" => spec.server_delay_ms.as_ref().map(Spanned::span),
        "round_trips" => spec.round_trips.as_ref().map(Spanned::span),
        "message_bytes" => spec.message_bytes.as_ref().map(Spanned::span),
        "file_kib" => spec.file_kib.as_ref().map(Spanned::span),
        "touch_kib" => spec.touch_kib.as_ref().map(Spanned::span),
        "switch_interval_us" => spec.switch_interval_us.as_ref().map(Spanned::span),
        "check_interval" => spec.check_interval.as_ref().map(Spanned::span),
        "repetitions" => spec.repetitions.as_ref().map(Spanned::span),
        "warmup" => spec.warmup.as_ref().map(Spanned::span),
        "samples" => spec.samples.as_ref().map(Spanned::span),
        "measure" => spec.measure.as_ref().map(Spanned::span),
        "units" => spec.units.as_ref().map(Spanned::span),
        "parent_mib" => spec.parent_mib.as_ref().map(Spanned::span),
        "start_method" => spec.start_method.as_ref().map(Spanned::span),
        k => coordination::key_span(spec, k)
            .or_else(|| granularity::key_span(spec, k))
            .or_else(|| io_models::key_span(spec, k)),
    }
}

/// `measure = "create"` or a list of `create`, `switch`, `memory`.
fn parse_measures(
    source: &Source,
    names: &Spanned<spec::Names>,
) -> Result<Vec<crate::coroutine::Measure>, PlanError> {
    use crate::coroutine::Measure;
    let mut out = Vec::new();
    for name in &names.get_ref().0 {
        let Some(m) = Measure::from_id(name) else {
            return Err(located(
                source,
                names.span(),
                Some("measure"),
                &format!("unknown figure `{name}`"),
                "use some of: create, switch, memory",
            ));
        };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

fn parse_models(
    source: &Source,
    models: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<ModelId>, PlanError> {
    if models.get_ref().is_empty() {
        return Err(located(
            source,
            models.span(),
            Some("models"),
            "is empty",
            &format!("list some of: all, {}", model_ids()),
        ));
    }
    let mut out: Vec<ModelId> = Vec::new();
    for m in models.get_ref() {
        let id = m.get_ref().as_str();
        let Some(kinds) = expand_model(id) else {
            return Err(located(
                source,
                m.span(),
                Some("models"),
                &format!("unknown model `{id}`"),
                &format!("use `all` or some of: {}", model_ids()),
            ));
        };
        for k in kinds {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    Ok(out)
}

/// Calls `$m!` with every field of `Overrides`, so that `then` and `apply`
/// cannot miss one: the list is written once, here.
macro_rules! every_override {
    ($m:ident) => {
        $m!(
            models,
            workers,
            tasks,
            cpu_threads,
            task_ms,
            kernel,
            cpu_fraction,
            server_delay_ms,
            round_trips,
            message_bytes,
            file_kib,
            touch_kib,
            releases_gil,
            legacy_gil,
            switch_interval_us,
            check_interval,
            repetitions,
            max_repetitions,
            warmup,
            samples,
            measure,
            units,
            start_method,
            parent_mib
        )
    };
}

/// What replaces a scenario's defaults: from its suite's `[settings]`, its
/// table, its quick table, or the command line. Every layer is one of these;
/// `then` stacks them and `apply` writes the result into a scenario once,
/// so a key means the same wherever it is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub models: Option<Vec<ModelId>>,
    pub workers: Option<Vec<usize>>,
    pub tasks: Option<Vec<usize>>,
    pub cpu_threads: Option<Vec<usize>>,
    pub task_ms: Option<Vec<f64>>,
    pub kernel: Option<Kernel>,
    pub cpu_fraction: Option<f64>,
    pub server_delay_ms: Option<f64>,
    pub round_trips: Option<u32>,
    pub message_bytes: Option<u32>,
    pub file_kib: Option<u64>,
    pub touch_kib: Option<u64>,
    pub releases_gil: Option<bool>,
    pub legacy_gil: Option<bool>,
    pub switch_interval_us: Option<f64>,
    pub check_interval: Option<u32>,
    pub repetitions: Option<u32>,
    pub max_repetitions: Option<u32>,
    pub warmup: Option<u32>,
    pub samples: Option<u32>,
    pub measure: Option<Vec<crate::coroutine::Measure>>,
    pub units: Option<Vec<usize>>,
    pub start_method: Option<Vec<StartMethod>>,
    pub parent_mib: Option<Vec<u64>>,
    /// The lock workload's keys, a layer of their own (`coordination`).
    pub coordination: coordination::Layer,
    /// The granularity scenario's keys, a layer of their own.
    pub granularity: granularity::Layer,
    /// The io-models workload's keys, a layer of their own (`io_models`).
    pub io_models: io_models::Layer,
}

impl Overrides {
    /// `self`, with every value `over` sets replaced by `over`'s.
    pub fn then(&self, over: &Overrides) -> Overrides {
        macro_rules! pick {
            ($($field:ident),*) => {
                Overrides {
                    $($field: over.$field.clone().or_else(|| self.$field.clone()),)*
                    coordination: self.coordination.then(&over.coordination),
                    granularity: self.granularity.then(&over.granularity),
                    io_models: self.io_models.then(&over.io_models),
                }
            };
        }
        every_override!(pick)
    }

    /// The keys this layer sets, by their names in a suite file.
    fn keys(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! collect {
            ($($field:ident),*) => {
                $(if self.$field.is_some() {
                    out.push(stringify!($field));
                })*
            };
        }
        every_override!(collect);
        out.extend(self.coordination.keys());
        out.extend(self.granularity.keys());
        out.extend(self.io_models.keys());
        out
    }

    /// Writes every value set into `s`, the keys of its workload only (a
    /// flag changes the scenarios its key applies to and leaves the others;
    /// a file's key that does not apply was refused already).
    pub fn apply(&self, s: &mut Scenario) {
        let w = s.workload;
        macro_rules! set {
            ($($field:ident),*) => {
                $(if let (Some(v), true) = (&self.$field, applies(stringify!($field), w)) {
                    s.$field = v.clone();
                })*
            };
        }
        every_override!(set);
        self.coordination.apply(s);
        self.granularity.apply(s);
        self.io_models.apply(s);
        s.max_repetitions = s.max_repetitions.max(s.repetitions);
    }

    /// The keys a scenario table (or its quick table) sets; a key that
    /// does not apply to `w` is an error at its line.
    fn from_spec(
        source: &Source,
        w: WorkloadKind,
        spec: &ScenarioSpec,
    ) -> Result<Overrides, PlanError> {
        let check = |key: &str, span: Range<usize>| {
            if applies(key, w) {
                Ok(())
            } else {
                Err(not_here(source, span, key, w, &applies_to(key)))
            }
        };
        macro_rules! take {
            ($field:ident, $conv:expr) => {
                match &spec.$field {
                    Some(v) => {
                        check(stringify!($field), v.span())?;
                        Some($conv(v.get_ref()))
                    }
                    None => None,
                }
            };
        }
        // Keys every workload with tasks takes; the floor refuses them.
        for (key, span) in [
            ("models", spec.models.as_ref().map(Spanned::span)),
            (
                "releases_gil",
                spec.releases_gil.as_ref().map(Spanned::span),
            ),
            ("gil", spec.gil.as_ref().map(Spanned::span)),
            (
                "switch_interval_us",
                spec.switch_interval_us.as_ref().map(Spanned::span),
            ),
            (
                "check_interval",
                spec.check_interval.as_ref().map(Spanned::span),
            ),
            ("repetitions", spec.repetitions.as_ref().map(Spanned::span)),
            ("warmup", spec.warmup.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                check(key, span)?;
            }
        }
        let sweep = |v: &Sweep<std::num::NonZeroUsize>| v.0.iter().map(|n| n.get()).collect();
        let kernel = match &spec.kernel {
            Some(v) => {
                check("kernel", v.span())?;
                Some(Kernel::from_id(v.get_ref()).ok_or_else(|| {
                    located(
                        source,
                        v.span(),
                        Some("kernel"),
                        &format!("unknown kernel `{}`", v.get_ref()),
                        &format!("use one of: {}", Kernel::ALL.map(Kernel::id).join(", ")),
                    )
                })?)
            }
            None => None,
        };
        // Keys read without `take!` are checked here.
        for (key, span) in [
            ("models", spec.models.as_ref().map(Spanned::span)),
            (
                "releases_gil",
                spec.releases_gil.as_ref().map(Spanned::span),
            ),
            ("gil", spec.gil.as_ref().map(Spanned::span)),
            (
                "switch_interval_us",
                spec.switch_interval_us.as_ref().map(Spanned::span),
            ),
            (
                "check_interval",
                spec.check_interval.as_ref().map(Spanned::span),
            ),
            ("repetitions", spec.repetitions.as_ref().map(Spanned::span)),
            ("warmup", spec.warmup.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                check(key, span)?;
            }
        }
        let legacy_gil = match &spec.gil {
            Some(v) => Some(match v.get_ref().as_str() {
                "new" => false,
                "legacy" => true,
                other => {
                    return Err(located(
                        source,
                        v.span(),
                        Some("gil"),
                        &format!("unknown GIL `{other}`"),
                        "use `new` (CPython 3.2+, the default) or `legacy` (Python 2's tick-based check)",
                    ));
                }
            }),
            None => None,
        };
        Ok(Overrides {
            models: spec
                .models
                .as_ref()
                .map(|m| parse_models(source, m))
                .transpose()?,
            workers: take!(workers, sweep),
            tasks: take!(tasks, sweep),
            cpu_threads: take!(cpu_threads, |v: &Sweep<usize>| v.0.clone()),
            task_ms: take!(task_ms, |v: &Sweep<spec::Positive>| v
                .0
                .iter()
                .map(|p| p.0)
                .collect()),
            kernel,
            cpu_fraction: take!(cpu_fraction, |f: &spec::Fraction| f.0),
            server_delay_ms: take!(server_delay_ms, |d: &spec::NonNegative| d.0),
            round_trips: take!(round_trips, |n: &std::num::NonZeroU32| n.get()),
            message_bytes: take!(message_bytes, |n: &std::num::NonZeroU32| n.get()),
            file_kib: take!(file_kib, |n: &std::num::NonZeroU64| n.get()),
            touch_kib: take!(touch_kib, |n: &u64| *n),
            releases_gil: spec.releases_gil.as_ref().map(|v| *v.get_ref()),
            legacy_gil,
            switch_interval_us: spec.switch_interval_us.as_ref().map(|v| v.get_ref().0),
            check_interval: spec.check_interval.as_ref().map(|v| v.get_ref().get()),
            repetitions: spec.repetitions.as_ref().map(|v| v.get_ref().get()),
            max_repetitions: None,
            warmup: spec.warmup.as_ref().map(|v| *v.get_ref()),
            samples: take!(samples, |n: &std::num::NonZeroU32| n.get()),
            measure: match &spec.measure {
                Some(v) => {
                    check("measure", v.span())?;
                    Some(parse_measures(source, v)?)
                }
                None => None,
            },
            units: take!(units, sweep),
            start_method: spec
                .start_method
                .as_ref()
                .map(|v| start_method::parse_names(source, v))
                .transpose()?,
            parent_mib: take!(parent_mib, |v: &Sweep<u64>| v.0.clone()),
            coordination: coordination::Layer::from_spec(source, w, spec)?,
            granularity: granularity::Layer::from_spec(source, w, spec)?,
            io_models: io_models::Layer::from_spec(source, w, spec)?,
        })
    }
}

/// A flag that no scenario of the run uses would be silently ignored:
/// refuse it, so that a mistyped experiment does not measure something else.
fn refuse_unused_flags(scenarios: &[Scenario], flags: &Overrides) -> Result<(), PlanError> {
    for key in flags.keys() {
        if scenarios.iter().any(|s| applies(key, s.workload)) {
            continue;
        }
        let workloads: Vec<&str> = scenarios.iter().map(|s| s.workload.id()).collect();
        // Every key whose use depends on the workload has a bound, and so a
        // flag name there, but the kernel, the models and the start method.
        let flag = match key {
            "kernel" => "--kernel",
            "models" => "--models",
            "start_method" => "--start-method",
            _ => bounds::flag_of(key),
        };
        return Err(flag_err(
            flag,
            format!(
                "no scenario of this run uses it (workloads: {}); it applies to: {}",
                if workloads.is_empty() {
                    "none".to_owned()
                } else {
                    workloads.join(", ")
                },
                applies_to(key)
            ),
        ));
    }
    Ok(())
}

/// A `[settings]` value out of range names the flag when one set it.
fn setting_err(e: bounds::OutOfBounds, from_flag: bool) -> PlanError {
    if from_flag {
        flag_err(bounds::flag_of(e.key), e.message)
    } else {
        PlanError::Suite(format!("[settings] key `{}`: {}", e.key, e.message))
    }
}

fn flag_err(flag: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::Flag {
        flag,
        message: message.into(),
    }
}

impl Overrides {
    /// The command line's values, checked; errors name the flag.
    fn from_flags(args: &PlanOptions) -> Result<Overrides, PlanError> {
        let zero = [
            ("--workers", args.workers.contains(&0)),
            ("--tasks", args.tasks.contains(&0)),
            ("--repetitions", args.repetitions == Some(0)),
            ("--max-repetitions", args.max_repetitions == Some(0)),
            ("--file-kib", args.file_kib == Some(0)),
            ("--round-trips", args.round_trips == Some(0)),
            ("--samples", args.samples == Some(0)),
        ];
        if let Some((flag, _)) = zero.into_iter().find(|(_, is_zero)| *is_zero) {
            return Err(flag_err(flag, "0 is not allowed: give 1 or more"));
        }
        if let Some(ms) = args
            .task_ms
            .iter()
            .find(|ms| !(ms.is_finite() && **ms > 0.0))
        {
            return Err(flag_err(
                "--task-ms",
                format!("{ms} is not allowed: give a number greater than 0"),
            ));
        }
        if let Some(f) = args.cpu_fraction.filter(|f| !(0.0..=1.0).contains(f)) {
            return Err(flag_err(
                "--cpu-fraction",
                format!("{f} is not allowed: give a fraction from 0 to 1"),
            ));
        }
        if let Some(d) = args
            .server_delay_ms
            .filter(|d| !(d.is_finite() && *d >= 0.0))
        {
            return Err(flag_err(
                "--server-delay-ms",
                format!("{d} is not allowed: give 0 or more"),
            ));
        }
        let kernel = match &args.kernel {
            Some(k) => Some(Kernel::from_id(k).ok_or_else(|| {
                flag_err(
                    "--kernel",
                    format!(
                        "unknown kernel `{k}`; use one of: {}",
                        Kernel::ALL.map(Kernel::id).join(", ")
                    ),
                )
            })?),
            None => None,
        };
        let models = if args.models.is_empty() {
            None
        } else {
            let mut out = Vec::new();
            for id in &args.models {
                let kinds = expand_model(id).ok_or_else(|| {
                    flag_err(
                        "--models",
                        format!(
                            "unknown model `{id}`; use `all` or some of: {}",
                            model_ids()
                        ),
                    )
                })?;
                for k in kinds {
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
            }
            Some(out)
        };
        let list = |v: &Vec<usize>| (!v.is_empty()).then(|| v.clone());
        Ok(Overrides {
            models,
            workers: list(&args.workers),
            tasks: list(&args.tasks),
            cpu_threads: list(&args.cpu_threads),
            task_ms: (!args.task_ms.is_empty()).then(|| args.task_ms.clone()),
            kernel,
            cpu_fraction: args.cpu_fraction,
            server_delay_ms: args.server_delay_ms,
            round_trips: args.round_trips,
            message_bytes: None,
            file_kib: args.file_kib,
            touch_kib: args.touch_kib,
            releases_gil: None,
            legacy_gil: None,
            switch_interval_us: None,
            check_interval: None,
            // `--repetitions N` alone asks for exactly N; with
            // `--max-repetitions` it is the minimum.
            repetitions: args.repetitions,
            max_repetitions: args.max_repetitions.or(args.repetitions),
            warmup: args.warmup,
            samples: args.samples,
            measure: None,
            units: None,
            start_method: start_method::dedup(&args.start_method),
            parent_mib: (!args.parent_mib.is_empty()).then(|| args.parent_mib.clone()),
            coordination: coordination::Layer::default(),
            granularity: granularity::Layer::default(),
            io_models: io_models::Layer::default(),
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_long_line_is_quoted_around_the_error_only() {
        let line = format!("name = \"{}\"", "n".repeat(5000));
        let (shown, caret) = super::snippet_window(&line, 7);
        assert!(shown.chars().count() <= 121, "{}", shown.len());
        assert!(shown.starts_with("name = \"n") && shown.ends_with('…'));
        assert_eq!(caret, 7);
        let (shown, caret) = super::snippet_window(&line, 3000);
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(shown.chars().nth(caret), Some('n'));
        assert_eq!(
            super::snippet_window("tasks = 0", 8),
            ("tasks = 0".to_owned(), 8)
        );
    }

    use super::*;

    fn suite(text: &str) -> Vec<Source> {
        vec![Source {
            name: "suite.toml".into(),
            text: text.into(),
        }]
    }

    #[test]
    fn baseline_false_runs_no_sequential_and_is_refused_where_its_time_is_unknown() {
        let text = "[[scenario]]\nname = \"s\"\nworkload = \"io-sleep\"\nbaseline = false\n\
                    tasks = 4\nworkers = [2, 4]\nmodels = [\"async\", \"cpython-asyncio\"]\n";
        let plan = build(&suite(text), &PlanOptions::default()).unwrap();
        assert!(!plan.scenarios[0].baseline && !plan.points[0].baseline);
        let models: Vec<String> = plan.points[0]
            .cases
            .iter()
            .map(|c| c.model.to_string())
            .collect();
        assert!(
            !models.iter().any(|m| m.ends_with("sequential")),
            "{models:?}"
        );
        assert!(
            plan.settings.notices.is_empty(),
            "{:?}",
            plan.settings.notices
        );
        // With the key left out, the baselines come back.
        let plan = build(
            &suite(&text.replace("baseline = false\n", "")),
            &PlanOptions::default(),
        )
        .unwrap();
        assert!(
            plan.points[0]
                .cases
                .iter()
                .any(|c| c.model.to_string() == "sequential")
        );
        // A socket's sequential time is not known without running it.
        let err = build(
            &suite(&text.replace("io-sleep", "io-socket")),
            &PlanOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("suite.toml:4:12") && err.contains("key `baseline`"),
            "{err}"
        );
        let quick = text.replace("baseline = false\n", "") + "[scenario.quick]\nbaseline = false\n";
        let err = build(&suite(&quick), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("key `baseline`"), "{err}");
        // The flag does the same to every scenario, and is refused the same way.
        let flagged = PlanOptions {
            no_baseline: true,
            ..PlanOptions::default()
        };
        let plan = build(&suite(&text.replace("baseline = false\n", "")), &flagged).unwrap();
        assert!(!plan.points[0].baseline);
        let err = build(
            &suite(
                &text
                    .replace("io-sleep", "io-socket")
                    .replace("baseline = false\n", ""),
            ),
            &flagged,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--no-baseline"), "{err}");
    }

    fn adhoc_opts(workload: WorkloadKind) -> PlanOptions {
        PlanOptions {
            workload: Some(workload),
            ..PlanOptions::default()
        }
    }

    #[test]
    fn every_case_is_resolved_once_baselines_first() {
        let opts = PlanOptions {
            models: vec!["thread".into(), "cpython-thread".into()],
            tasks: vec![4, 8],
            task_ms: vec![1.0, 5.0],
            workers: vec![1, 2],
            ..adhoc_opts(WorkloadKind::Cpu)
        };
        let plan = build(&[], &opts).unwrap();
        // tasks x task_ms, in sweep order.
        let sweep: Vec<(usize, Option<f64>)> = plan
            .points
            .iter()
            .map(|p| (p.point.tasks, p.point.task_ms))
            .collect();
        assert_eq!(
            sweep,
            [
                (4, Some(1.0)),
                (4, Some(5.0)),
                (8, Some(1.0)),
                (8, Some(5.0))
            ]
        );
        let p = &plan.points[0];
        let ids: Vec<String> = p
            .cases
            .iter()
            .map(|c| format!("{}@{}", c.model, c.workers))
            .collect();
        // The added baselines once at 1 worker, then every model at every count.
        assert_eq!(
            ids,
            [
                "cpython-sequential@1",
                "sequential@1",
                "thread@1",
                "cpython-thread@1",
                "thread@2",
                "cpython-thread@2"
            ]
        );
        assert_eq!(plan.settings.notices.len(), 2);
        assert_eq!(p.kernel, Some(Kernel::Hash));
        assert_eq!(p.point.shape.cpu_ms, 1.0);
        assert_eq!(p.timeout, Duration::from_secs_f64(DEFAULT_TIMEOUT_S));
        assert!(plan.scenarios[0].cpu_bound);
        // Interpreted models make the switch interval a parameter of the case.
        assert_eq!(p.params, [("switch_interval_us", 5000.0)]);
    }

    #[test]
    fn a_convoy_point_runs_one_worker_per_task() {
        let opts = PlanOptions {
            models: vec!["thread+gil".into()],
            cpu_threads: vec![0, 2],
            ..adhoc_opts(WorkloadKind::Convoy)
        };
        let plan = build(&[], &opts).unwrap();
        let shapes: Vec<(usize, Option<usize>, Vec<usize>)> = plan
            .points
            .iter()
            .map(|p| {
                let workers = p.cases.iter().map(|c| c.workers).collect();
                (p.point.tasks, p.point.cpu_threads, workers)
            })
            .collect();
        assert_eq!(shapes, [(1, Some(0), vec![1]), (3, Some(2), vec![3])]);
        assert!(plan.points[1].params.contains(&("cpu_threads", 2.0)));
        // No speedup, so no baseline is added.
        assert!(plan.settings.notices.is_empty());
    }

    #[test]
    fn a_quick_table_can_leave_its_scenario_out_of_quick_runs() {
        let text = "[[scenario]]\nname = \"a\"\nworkload = \"cpu\"\nmodels = [\"thread\"]\n\n\
            [[scenario]]\nname = \"b\"\nworkload = \"io-file\"\nmodels = [\"thread\"]\n\
            [scenario.quick]\nskip = true\n";
        let sources = suite(text);
        let names = |opts: &PlanOptions| {
            let plan = build(&sources, opts).unwrap();
            let names: Vec<String> = plan.scenarios.iter().map(|s| s.name.clone()).collect();
            (names, plan.settings.notices)
        };
        assert_eq!(names(&PlanOptions::default()).0, ["a", "b"]);
        let quick = PlanOptions {
            quick: true,
            ..PlanOptions::default()
        };
        let (kept, notices) = names(&quick);
        assert_eq!(kept, ["a"]);
        assert!(
            notices
                .iter()
                .any(|n| n.starts_with("b: left out under --quick")),
            "{notices:?}"
        );
        // Named by --only, it runs.
        let only_b = PlanOptions {
            only: vec!["b".into()],
            ..quick
        };
        assert_eq!(names(&only_b).0, ["b"]);
        // Outside a quick table the key is refused where it stands.
        let bad = suite(&text.replace("[scenario.quick]\nskip", "skip"));
        let err = build(&bad, &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(":10:") && err.contains("key `skip`"), "{err}");
    }

    #[test]
    fn overrides_stack_settings_then_table_then_quick_table_then_flags() {
        let text = "[settings]\nrepetitions = 7\nwarmup = 2\n\n\
            [[scenario]]\nname = \"a\"\nworkload = \"cpu\"\ntasks = [2, 4]\ntask_ms = 3\n\
            [scenario.quick]\ntasks = 1\n\n\
            [[scenario]]\nname = \"b\"\nworkload = \"io-file\"\nfile_kib = 16\n";
        let sources = suite(text);
        let full = build(&sources, &PlanOptions::default()).unwrap();
        let a = &full.scenarios[0];
        assert_eq!(
            (a.tasks.clone(), a.task_ms.clone()),
            (vec![2, 4], vec![3.0])
        );
        assert_eq!((a.repetitions, a.warmup), (7, 2));
        assert_eq!(full.scenarios[1].file_kib, 16);

        let quick = PlanOptions {
            quick: true,
            ..PlanOptions::default()
        };
        let q = build(&sources, &quick).unwrap();
        let a = &q.scenarios[0];
        // The quick table's tasks; repetitions capped, no warm-up.
        assert_eq!(a.tasks, [1]);
        assert_eq!((a.repetitions, a.warmup), (QUICK_REPETITIONS, 0));
        assert_eq!(a.max_repetitions, QUICK_MAX_REPETITIONS);

        // Flags have the last word, on the scenarios their key applies to.
        let flags = PlanOptions {
            quick: true,
            tasks: vec![9],
            file_kib: Some(32),
            repetitions: Some(4),
            ..PlanOptions::default()
        };
        let f = build(&sources, &flags).unwrap();
        let (a, b) = (&f.scenarios[0], &f.scenarios[1]);
        assert_eq!(a.tasks, [9]);
        assert_eq!((a.repetitions, a.max_repetitions), (4, 4));
        assert_eq!(a.file_kib, 64, "file_kib does not apply to cpu");
        assert_eq!(b.file_kib, 32);
        assert_eq!(b.tasks, [9]);
    }

    #[test]
    fn then_keeps_what_the_upper_layer_leaves_unset() {
        let lower = Overrides {
            tasks: Some(vec![2]),
            warmup: Some(3),
            ..Overrides::default()
        };
        let upper = Overrides {
            tasks: Some(vec![5]),
            ..Overrides::default()
        };
        let merged = lower.then(&upper);
        assert_eq!(merged.tasks, Some(vec![5]));
        assert_eq!(merged.warmup, Some(3));
        let mut s = defaults("s".into(), WorkloadKind::Cpu);
        Overrides {
            repetitions: Some(50),
            ..merged
        }
        .apply(&mut s);
        assert_eq!((s.tasks.clone(), s.warmup), (vec![5], 3));
        // The most repetitions is never below the fewest.
        assert_eq!((s.repetitions, s.max_repetitions), (50, 50));
    }

    #[test]
    fn a_floor_has_samples_and_no_point() {
        let plan = build(&[], &adhoc_opts(WorkloadKind::Floor)).unwrap();
        assert!(plan.points.is_empty());
        assert_eq!(plan.floor_samples(), Some(DEFAULT_FLOOR_SAMPLES));
        assert!(plan.settings.notices.is_empty());
        let quick = PlanOptions {
            quick: true,
            ..adhoc_opts(WorkloadKind::Floor)
        };
        assert_eq!(
            build(&[], &quick).unwrap().floor_samples(),
            Some(QUICK_FLOOR_SAMPLES)
        );
        let flagged = PlanOptions {
            samples: Some(20),
            ..quick
        };
        assert_eq!(build(&[], &flagged).unwrap().floor_samples(), Some(20));
        // Not a floor: none.
        let cpu = build(&[], &adhoc_opts(WorkloadKind::Cpu)).unwrap();
        assert_eq!(cpu.floor_samples(), None);

        let text = "[[scenario]]\nname = \"f\"\nworkload = \"floor\"\nsamples = 300\n\
            [scenario.quick]\nsamples = 30\n\n\
            [[scenario]]\nname = \"c\"\nworkload = \"cpu\"\ntasks = 2\n";
        let plan = build(&suite(text), &PlanOptions::default()).unwrap();
        assert_eq!(plan.floor_samples(), Some(300));
        assert!(plan.points.iter().all(|p| p.scenario == "c"));
        let quick = PlanOptions {
            quick: true,
            ..PlanOptions::default()
        };
        assert_eq!(
            build(&suite(text), &quick).unwrap().floor_samples(),
            Some(30)
        );
    }

    #[test]
    fn keys_and_flags_of_tasks_are_refused_for_the_floor() {
        for key in [
            "models = [\"thread\"]",
            "workers = 2",
            "tasks = 2",
            "repetitions = 2",
            "gil = \"legacy\"",
        ] {
            let text = format!("[[scenario]]\nname = \"f\"\nworkload = \"floor\"\n{key}\n");
            let err = build(&suite(&text), &PlanOptions::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("suite.toml:4:"), "{err}");
            assert!(err.contains("does not apply to workload `floor`"), "{err}");
        }
        let text = "[[scenario]]\nname = \"c\"\nworkload = \"cpu\"\nsamples = 5\n";
        let err = build(&suite(text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key `samples`: does not apply to workload `cpu`"),
            "{err}"
        );
        assert!(err.contains("applies to: floor"), "{err}");
        for (opts, flag) in [
            (
                PlanOptions {
                    models: vec!["thread".into()],
                    ..adhoc_opts(WorkloadKind::Floor)
                },
                "--models",
            ),
            (
                PlanOptions {
                    workers: vec![2],
                    ..adhoc_opts(WorkloadKind::Floor)
                },
                "--workers",
            ),
            (
                PlanOptions {
                    samples: Some(5),
                    ..adhoc_opts(WorkloadKind::Cpu)
                },
                "--samples",
            ),
            (
                PlanOptions {
                    samples: Some(0),
                    ..adhoc_opts(WorkloadKind::Floor)
                },
                "--samples",
            ),
            (
                PlanOptions {
                    samples: Some(100_001),
                    ..adhoc_opts(WorkloadKind::Floor)
                },
                "--samples",
            ),
        ] {
            match build(&[], &opts) {
                Err(PlanError::Flag { flag: f, .. }) => assert_eq!(f, flag),
                other => panic!("{flag}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_key_that_does_not_apply_is_refused_at_its_line() {
        let text = "[[scenario]]\nname = \"a\"\nworkload = \"cpu\"\nfile_kib = 4\n";
        let err = build(&suite(text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("suite.toml:4:"), "{err}");
        assert!(
            err.contains("key `file_kib`: does not apply to workload `cpu`"),
            "{err}"
        );
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (opts, flag) in [
            (
                PlanOptions {
                    tasks: vec![0],
                    ..adhoc_opts(WorkloadKind::Cpu)
                },
                "--tasks",
            ),
            (
                PlanOptions {
                    kernel: Some("nope".into()),
                    ..adhoc_opts(WorkloadKind::Cpu)
                },
                "--kernel",
            ),
            (
                PlanOptions {
                    models: vec!["nope".into()],
                    ..adhoc_opts(WorkloadKind::Cpu)
                },
                "--models",
            ),
            (
                PlanOptions {
                    only: vec!["nope".into()],
                    ..adhoc_opts(WorkloadKind::Cpu)
                },
                "--only",
            ),
        ] {
            match build(&[], &opts) {
                Err(PlanError::Flag { flag: f, .. }) => assert_eq!(f, flag),
                other => panic!("{flag}: {other:?}"),
            }
        }
    }
}
