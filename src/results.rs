//! The results schema: what `results.json` holds, versioned.
//!
//! This is the contract between the runner (which fills it), the renderers in
//! `report/`, `compare` and `export` (which only read it), and the users' own
//! tools. Only this module and `spec` derive serde for files. Bump
//! `SCHEMA_VERSION` on any change that breaks a reader.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod identity;
pub mod io_models;

/// Version of the `results.json` layout; readers refuse any other.
pub const SCHEMA_VERSION: u32 = 1;

/// One run of the harness: the machine, the settings and every measured case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub schema_version: u32,
    pub harness: Harness,
    pub machine: Machine,
    pub settings: Settings,
    pub calibration: Calibration,
    /// True when the run was stopped (Ctrl-C) before every case was measured.
    pub interrupted: bool,
    pub scenarios: Vec<ScenarioInfo>,
    pub cases: Vec<CaseResult>,
    /// How closely each emulated `+gil` case tracks its real-CPython twin
    /// measured in the same run (see `fidelity`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fidelity: Vec<Fidelity>,
    /// What the machine was doing around the run and how the harness was
    /// built (see `environment`); absent in older files.
    #[serde(default, skip_serializing_if = "Environment::is_empty")]
    pub environment: Environment,
    /// Where the run's CPU time went. Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_cpu: Option<HarnessCpu>,
    /// The raw OS mechanisms the run's models rest on, measured in the same
    /// run (see `floor`). Absent in older files and in runs without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floor: Vec<FloorMeasurement>,
    /// The `coroutine` scenarios' figures (see `coroutine`); absent in
    /// older files and in runs without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coroutine: Vec<CoroutineMeasurement>,
    /// What each `lifecycle` scenario saw on the OS (see `lifecycle`);
    /// absent in older files and in runs without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle: Vec<LifecycleResult>,
    /// Each `granularity` search: one model's efficiency against task
    /// duration and its METG (see `granularity`); absent in older files and
    /// in runs without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granularity: Vec<GranularitySweep>,
    /// What each `io-models` scenario measured (see `results::io_models`);
    /// absent in older files and in runs without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_models: Vec<io_models::IoModelResult>,
    /// The interpreter the `cpython-*` models ran in; absent in older files
    /// and in runs without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PythonRecord>,
    /// Every interpreter of a run with several (`--python 3.12,3.13`), each
    /// with its `tag`, as the `cpython-*` model ids name it
    /// (`cpython-thread@3.12`); `python` is then the first. Absent in older
    /// files and in runs of one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pythons: Vec<PythonRecord>,
}

/// One granularity search: a model at fixed workers and tasks, its task
/// duration swept downward until its efficiency fell below `threshold`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GranularitySweep {
    pub scenario: String,
    pub model: String,
    /// `cpu` or `sleep`.
    pub task_kind: String,
    pub workers: usize,
    pub tasks: usize,
    /// The units the ideal time divides the work among: min(workers,
    /// logical cores) for CPU tasks, workers for sleep tasks.
    pub parallelism: usize,
    pub threshold: f64,
    /// `ok`, or why the search stopped early (a batch failed, Ctrl-C).
    pub status: CaseStatus,
    /// Every duration measured, in the order the search asked for them.
    pub points: Vec<GranularityPoint>,
    pub metg: Metg,
    /// Seconds the search took.
    pub elapsed_s: f64,
}

/// One duration of a search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GranularityPoint {
    /// The nominal task duration.
    pub task_ms: f64,
    /// The sequential baseline's wall time in each round: the same tasks
    /// one after another, the ideal's measure (`baseline` is the model).
    pub baseline: String,
    pub baseline_wall_s: Vec<f64>,
    /// The model's wall time and efficiency in each round.
    pub wall_s: Vec<f64>,
    pub efficiency: Vec<f64>,
    pub median_efficiency: f64,
}

/// A search's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metg {
    /// `bracketed` (METG found), `below-range` (still efficient at the
    /// shortest duration allowed), `never-efficient` (below the threshold
    /// at the longest), `at-threshold` (even at its best duration, a round
    /// fell to the threshold or below: the model cannot clearly exceed it
    /// here, as one that runs on one core cannot exceed 50% of two, and
    /// where it crosses is noise), or `unfinished` (out of time, failed or
    /// interrupted before the search ended).
    pub outcome: String,
    /// The estimate, inside `bracket_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metg_ms: Option<f64>,
    /// The bisection's last bracket: efficient at the upper end, not at
    /// the lower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bracket_ms: Option<(f64, f64)>,
    /// Where repetitions disagree about the threshold (noise), holding the
    /// bracket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_ms: Option<(f64, f64)>,
    /// The shortest (below-range) or longest (never-efficient) duration
    /// tried, for the bound METG is known by; at-threshold: the duration of
    /// the best median efficiency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_ms: Option<f64>,
}

/// The interpreter of the `cpython-*` models, as it described itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PythonRecord {
    pub path: String,
    /// `major.minor.patch`.
    pub version: String,
    /// Built without a GIL (`Py_GIL_DISABLED`).
    pub free_threaded: bool,
    /// `sys._is_gil_enabled()` where it exists (3.13+).
    pub gil_enabled: Option<bool>,
    /// In a run of several interpreters, the tag its models carry
    /// (`3.12`, `3.13t`, `2.7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl PythonRecord {
    /// Whether its threads share one GIL.
    pub fn has_gil(&self) -> bool {
        self.gil_enabled.unwrap_or(!self.free_threaded)
    }

    /// "CPython 3.13.0 (free-threaded, GIL off) at PATH".
    pub fn describe(&self) -> String {
        let build = match (self.free_threaded, self.has_gil()) {
            (false, _) => "with a GIL",
            (true, false) => "free-threaded, GIL off",
            (true, true) => "free-threaded build, GIL turned on",
        };
        format!("CPython {} ({build}) at {}", self.version, self.path)
    }
}

/// One figure of a `coroutine` scenario (see `coroutine`): what creating
/// one unit (a stackful coroutine, an OS thread, a tokio task) costs, one
/// switch between two of them, or the memory one holds while parked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CoroutineMeasurement {
    /// `create`, `switch` or `memory`.
    pub measure: String,
    /// `coroutine`, `thread` or `task`.
    pub unit: String,
    /// What one operation is, as measured here.
    pub description: String,
    /// `ok`, or why not, as a case's status.
    pub status: CaseStatus,
    /// Timed samples (create and switch), or sweep points (memory).
    pub samples: usize,
    /// Create and switch: nanoseconds per operation, the median and its
    /// 95% interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<Estimate>,
    /// Memory: resident bytes per unit, the Theil–Sen slope of the sweep
    /// with its 95% interval (never a peak divided by a count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_unit: Option<Estimate>,
    /// Memory: each (units alive, resident bytes added) of the sweep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<(u64, f64)>,
    /// Seconds spent measuring it, set-up included.
    pub wall_s: f64,
}

/// One OS mechanism timed on its own (`floor`): many samples of one
/// operation, summarised as a median with its 95% interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FloorMeasurement {
    /// Stable id: `pthread-create-join`, `fork-exit-wait`, `posix-spawn`,
    /// `pipe-round-trip-same-core`, `pipe-round-trip-cross-core`,
    /// `channel-round-trip`, `tokio-spawn-current-thread`,
    /// `tokio-spawn-multi-thread`.
    pub mechanism: String,
    /// What one operation is, as measured here (the binary spawned, the
    /// CPUs pinned to).
    pub description: String,
    /// `ok`, `skipped: REASON` (not possible on this machine), the reason it
    /// failed, or `interrupted`, as a case's status.
    pub status: CaseStatus,
    /// Timed operations.
    pub samples: usize,
    /// One operation in nanoseconds: the median and its 95% interval.
    pub ns: Option<Estimate>,
    /// The 10th and 90th percentiles, in nanoseconds: round trips between
    /// cores come in two clusters, which a median alone hides.
    pub p10_ns: Option<f64>,
    pub p90_ns: Option<f64>,
    /// Seconds spent measuring it, set-up included.
    pub wall_s: f64,
    /// `fork-exit-wait` only: where a forked task's time goes, step by
    /// step, for each forked start method a 1-worker case used (see
    /// `model::fork_probe`). Absent in older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forked_tasks: Vec<ForkSteps>,
}

/// Trivial tasks run one at a time through the real fork server and
/// worker, each step timed apart, with this floor's fork + _exit + wait
/// timed between them: why a forked task costs what it costs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForkSteps {
    /// `fork` or `forkserver`.
    pub start_method: String,
    pub tasks: usize,
    /// In the order they happen.
    pub steps: Vec<ForkStep>,
    pub total: ForkStep,
    /// fork + _exit + wait, timed between the tasks.
    pub floor: ForkStep,
}

/// One step's median and 10th and 90th percentiles, in nanoseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForkStep {
    pub name: String,
    pub median_ns: f64,
    pub p10_ns: f64,
    pub p90_ns: f64,
}

/// One run of a `lifecycle` scenario: each state of a process's life, shown
/// on the real OS by a demo process (`parabench lifecycle-child`), with what
/// was expected, what was seen, and what was left behind once it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LifecycleResult {
    pub scenario: String,
    /// `ok` when every state was seen as expected and nothing was left
    /// behind; otherwise why not.
    pub status: CaseStatus,
    /// The harness, and the demo process it started (the leader of a process
    /// group that holds every process of the scenario).
    pub harness_pid: u32,
    pub demo_pid: u32,
    /// The environment entry every process of the scenario carries, by which
    /// the stray scan finds them.
    pub marker: String,
    /// From starting the demo process to reaping it.
    pub wall_s: f64,
    pub states: Vec<LifecycleState>,
    /// After the demo was reaped: zombies whose parent is the harness or a
    /// process of the scenario, and processes of the scenario still alive.
    pub zombies_left: u32,
    pub strays_left: u32,
}

impl LifecycleResult {
    /// True when every state was seen as expected.
    pub fn all_seen(&self) -> bool {
        !self.states.is_empty() && self.states.iter().all(|s| s.seen)
    }
}

/// One state of the lifecycle (`zombie`, `orphan`, `daemon-process`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LifecycleState {
    pub state: String,
    pub expected: String,
    pub observed: String,
    /// Whether what was observed is what was expected.
    pub seen: bool,
    /// How long the step that showed it took, in milliseconds.
    pub step_ms: f64,
    /// What was counted (`reaped`, `terminated`, `joined`, ...).
    pub counts: BTreeMap<String, u64>,
    /// How long the steps that show it took, in milliseconds (a lock's
    /// answer, a zombie's reaping, ...).
    pub timings_ms: BTreeMap<String, f64>,
    /// What was seen of each process or thread, in order.
    pub events: Vec<LifecycleEvent>,
}

/// A process or thread as seen at one moment: its pid (a thread's id for a
/// thread), its parent and state from `/proc/PID/stat`, and `is_alive` as
/// Python means it (started and not yet exited: a zombie is not alive).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LifecycleEvent {
    /// Milliseconds since the step began.
    pub at_ms: f64,
    /// `child`, `parent`, `grandchild`, `daemon`, `worker`, ...
    pub role: String,
    pub what: String,
    pub pid: u32,
    /// None once the process is gone from /proc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// The state letter of /proc/PID/stat (`R`, `S`, `Z`, ...); None when gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc_state: Option<String>,
    pub is_alive: bool,
}

/// The conditions of a run, as pyperf and hyperfine record them: the build,
/// and the machine's state at the start and at the end. Every field is
/// `None` (or empty) where it could not be read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    #[serde(default)]
    pub build: BuildInfo,
    #[serde(default)]
    pub start: Option<Snapshot>,
    #[serde(default)]
    pub end: Option<Snapshot>,
}

impl Environment {
    /// True for the record of an older file, which has none.
    pub fn is_empty(&self) -> bool {
        *self == Environment::default()
    }
}

/// How the harness binary was built and from what.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BuildInfo {
    /// `rustc -V` of the compiler that built the harness.
    #[serde(default)]
    pub rustc: Option<String>,
    /// Cargo profile: `debug` or `release`.
    #[serde(default)]
    pub profile: Option<String>,
    /// Whether the git tree the run started in had uncommitted changes to
    /// tracked files; `None` when unknown (no git, not a repository).
    #[serde(default)]
    pub git_dirty: Option<bool>,
}

/// The machine's state at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// RFC 3339 UTC time of the snapshot.
    #[serde(default)]
    pub at: String,
    /// Load average over 1, 5 and 15 minutes.
    #[serde(default)]
    pub load_average: Option<[f64; 3]>,
    /// Current frequency of each logical CPU in MHz, from cpufreq where the
    /// kernel exposes it, else from /proc/cpuinfo.
    #[serde(default)]
    pub cpu_mhz: Vec<f64>,
    /// cpufreq scaling governor of CPU 0 (`performance`, `powersave`, ...).
    #[serde(default)]
    pub governor: Option<String>,
    /// Whether turbo or boost is on.
    #[serde(default)]
    pub turbo: Option<bool>,
    /// Whether simultaneous multithreading (hyper-threading) is active.
    #[serde(default)]
    pub smt: Option<bool>,
    /// Other processes using the CPU, busiest first.
    #[serde(default)]
    pub busy_processes: Vec<BusyProcess>,
}

/// A process other than the harness that was using the CPU.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BusyProcess {
    pub pid: u32,
    pub name: String,
    /// Share of one core, in percent, over a short sampling window.
    pub cpu_percent: f64,
}

/// The harness's own CPU time (user + sys, seconds) beside the batches it
/// measured: the cost of measuring, which should stay a small fraction of
/// `batches_s`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct HarnessCpu {
    /// Calibrating the kernels and the sleep floor.
    pub calibration_s: f64,
    /// Computing the reference checksums the workers' results must match
    /// (once per distinct CPU task of the run).
    pub reference_s: f64,
    /// Every batch, warm-ups included: the harness process (the threads
    /// that run tasks included) and its children.
    pub batches_s: f64,
    /// The whole run so far: the harness process and every child it
    /// reaped. `total_s - batches_s` is all the harness spent on itself.
    #[serde(default)]
    pub total_s: f64,
}

/// An emulated-GIL case against the real-CPython case of the same scenario,
/// workers, tasks and size: the ratio of their figures, each against its own
/// sequential baseline (speedup), or for convoy points the IO thread's median
/// round trip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fidelity {
    pub scenario: String,
    pub emulated: String,
    pub reference: String,
    pub workers: usize,
    pub tasks: usize,
    pub task_ms: Option<f64>,
    pub params: BTreeMap<String, f64>,
    /// `speedup` or `io_round_trip_p50_ms`.
    pub metric: String,
    pub emulated_value: f64,
    pub reference_value: f64,
    /// `emulated_value / reference_value`; 1 is a perfect match.
    pub ratio: f64,
    /// The rule the pair was judged by: `speedup`, `convoy` or `no-convoy`
    /// (see README, "The convoy effect"). Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Each figure the rule checks; the pair is faithful when all pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<FidelityCheck>,
    /// Whether every check passed. Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faithful: Option<bool>,
    /// Convoy points: both probes' round-trip distributions, side by side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulated_convoy: Option<ConvoyStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_convoy: Option<ConvoyStats>,
}

/// One figure of a fidelity rule: the emulated and CPython values, what was
/// compared (`ratio`, `difference` or `both below`) and the limit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FidelityCheck {
    /// `speedup`, `p50_ms`, `p99_ms` or `delayed_share`.
    pub figure: String,
    pub emulated: f64,
    pub reference: f64,
    /// `ratio` (within `limit` of 1), `difference` (at most `limit` apart)
    /// or `both below` (each under `limit`).
    pub test: String,
    pub limit: f64,
    pub pass: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Harness {
    pub version: String,
    /// `git rev-parse HEAD` of the working directory when available.
    pub git_commit: Option<String>,
    /// RFC 3339 UTC time when the run started.
    pub started_at: String,
    /// The command line, for reproduction.
    pub command_line: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub cpu_brand: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// The most measured repetitions any case took.
    pub repetitions: u32,
    /// The fewest measured repetitions asked of every case.
    #[serde(default)]
    pub min_repetitions: u32,
    /// The most a point could get while a verdict on it was undecided.
    #[serde(default)]
    pub max_repetitions: u32,
    /// Seconds a point could spend on repetitions beyond its minimum.
    #[serde(default)]
    pub point_budget_s: f64,
    pub warmup: u32,
    pub quick: bool,
    pub case_timeout_s: f64,
    /// Workload files the suite came from (`<builtin default>` for the embedded one).
    pub sources: Vec<String>,
}

/// What the harness measured about the machine before running cases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    /// Kernel id (`hash`, `mandelbrot`) -> iterations per millisecond on one core.
    pub kernels: BTreeMap<String, f64>,
    /// Measured duration of sleeps, by nominal sleep in ms: the floor an IO task cannot beat.
    pub timer_floor: Vec<TimerFloor>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimerFloor {
    pub nominal_ms: f64,
    pub measured_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    /// Workload id: `cpu`, `io-sleep`, `io-socket`, `io-file` or `mixed`.
    pub workload: String,
    /// True when the scenario's tasks are CPU-bound (decides the ideal line).
    pub cpu_bound: bool,
    /// True when the CPU work runs without the GIL (`releases_gil`): the
    /// scenario shows a GIL-releasing extension, not the GIL.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub releases_gil: bool,
    /// True when no sequential baseline ran (`baseline = false`): speedups
    /// are against tasks × the task's time (the CPU time asked for, or the
    /// measured sleep).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline_estimated: bool,
    pub models: Vec<String>,
}

/// One (scenario, model, workers, tasks, size) point, summarized over its repetitions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseResult {
    pub scenario: String,
    pub workload: String,
    /// CPU kernel id for `cpu` and `mixed` workloads.
    pub kernel: Option<String>,
    pub model: String,
    pub workers: usize,
    pub tasks: usize,
    /// Target duration of one task, when the workload is sized in time.
    pub task_ms: Option<f64>,
    /// Other workload parameters that identify the case (`cpu_fraction`, `file_kib`, ...).
    pub params: BTreeMap<String, f64>,
    /// Whether the case was measured; on the wire "ok", "interrupted",
    /// "skipped: REASON" or the reason it failed (see `CaseStatus`).
    pub status: CaseStatus,
    /// Wall time of one batch (first submit to last result), median and 95% CI.
    pub wall_s: Option<Estimate>,
    pub samples_wall_s: Vec<f64>,
    /// Pool or runtime start-up, measured apart from `wall_s` (pools and async only).
    pub startup_s: Option<Estimate>,
    /// `sequential` median wall over this model's median wall, same workload and tasks.
    pub speedup: Option<f64>,
    /// The best speedup this machine allows for this case (see README, efficiency).
    pub ideal_speedup: Option<f64>,
    /// `speedup / ideal_speedup`.
    pub efficiency: Option<f64>,
    /// Medians over repetitions of the harness plus its children.
    pub cpu_user_s: Option<f64>,
    pub cpu_sys_s: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub harness_peak_rss_bytes: Option<u64>,
    pub children_peak_rss_bytes: Option<u64>,
    /// Process models: the children's peak PSS summed over those alive at
    /// once (median over repetitions); see `Repetition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children_peak_pss_bytes: Option<u64>,
    pub ctx_voluntary: Option<u64>,
    pub ctx_involuntary: Option<u64>,
    /// Submit-to-result latency of one task, over every task of every repetition.
    pub task_latency_ms: Option<Percentiles>,
    /// Time a task waited before it started running.
    pub queue_wait_ms: Option<Percentiles>,
    /// Time a task ran once started.
    pub task_run_ms: Option<Percentiles>,
    /// Convoy points: the IO thread's round trips per second (median over
    /// repetitions); its round-trip times are `task_latency_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_round_trips_per_s: Option<f64>,
    /// Convoy points: the probe's round trips, every one of every measured
    /// repetition, as a distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convoy: Option<ConvoyStats>,
    /// GIL counters, for `+gil` models.
    pub gil: Option<GilCounters>,
    /// Lock points: throughput, waits, fairness and lost updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockStats>,
    /// Queue points: items per second, latency, CPU per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueStats>,
    /// Event and timer points: how late each waiter or timer ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<WakeStats>,
    /// Every measured repetition, in order.
    pub repetitions: Vec<Repetition>,
    /// How the model started its worker processes (`spawn`, `fork`,
    /// `forkserver`; also a suffix of `model` when not `spawn`); absent for
    /// models that start none, and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_method: Option<String>,
}

/// What a queue case measured over its repetitions; its memory is the
/// case's peak RSS/PSS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueStats {
    pub producers: u32,
    pub consumers: u32,
    pub capacity: u32,
    pub item_bytes: u32,
    pub items: u64,
    /// `queue` or `joinable`.
    pub semantics: String,
    pub daemon: bool,
    /// Items per second from the first put to the last get, median and
    /// 95% CI over repetitions.
    pub items_per_s: Option<Estimate>,
    /// Each repetition's items per second, in order (paired with another
    /// model's round by round).
    pub samples_items_per_s: Vec<f64>,
    /// From an item's put to its get, over every item of every repetition.
    pub latency_ms: Option<Percentiles>,
    /// CPU time (user + sys, harness and children) per item, in µs.
    pub cpu_us_per_item: Option<f64>,
}

/// What an event or timer case measured over its repetitions (see
/// `workload::wake`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WakeStats {
    /// `event` or `timer`.
    pub kind: String,
    /// Event: the waiters woken each round, and the rounds per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiters: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// Timer: the timers armed per batch, each one's delay, and how they
    /// were armed (`thread-per-timer`, `scheduler`, `wheel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// Event: from `set()` until each waiter ran again; timer: from each
    /// timer's due time until its callback ran. Over every wake-up of
    /// every measured repetition.
    pub late_ms: Option<Percentiles>,
    /// Wake-ups measured, over every repetition.
    pub wakes: u64,
    /// Each repetition's p99 (ms), in order.
    pub p99_ms_per_repetition: Vec<f64>,
}

/// What a lock case measured over its repetitions. A deadlock case has
/// no repetitions: its status names the cycle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockStats {
    /// `mutex`, `rlock`, `semaphore` or `none`.
    pub primitive: String,
    /// `reacquire` or `opposite-order` for a deadlock scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlock: Option<String>,
    pub units: usize,
    pub sections_per_unit: u64,
    /// Critical sections per second, from the first unit's start to the
    /// last unit's end (start-up excluded), median and 95% CI over
    /// repetitions.
    pub sections_per_s: Option<Estimate>,
    /// Time a section waited for its lock, over every section of every
    /// repetition (ms; none for `none`).
    pub wait_ms: Option<Percentiles>,
    /// When the first unit finished, the fewest and the most sections any
    /// unit had done, as shares of `sections_per_unit` (medians over
    /// repetitions): 1 and 1 is perfectly fair.
    pub fairness_min: Option<f64>,
    pub fairness_max: Option<f64>,
    /// Each repetition's lost updates: sections done minus the counter.
    /// Only `none` may lose any; a lock that lost one fails its case.
    pub lost_updates: Vec<u64>,
    /// Semaphore: the most units seen inside at once (≤ permits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub most_inside: Option<u64>,
}

impl CaseResult {
    pub fn is_ok(&self) -> bool {
        self.status == CaseStatus::Ok
    }
}

/// How a case ended. In `results.json` it is one string, as it has always
/// been, so older files load unchanged: `ok`, `interrupted`,
/// `skipped: REASON`, or any other text, which is the reason it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseStatus {
    /// Every repetition ran and verified.
    Ok,
    /// Failed (timed out, crashed, wrong checksum, ...); why, in one line.
    Failed(String),
    /// The model cannot run on this machine (python3 missing): not a failure.
    Skipped(String),
    /// Ctrl-C came before any repetition was measured.
    Interrupted,
    /// A deadlock case deadlocked, as it was built to: the harness saw a
    /// wait-for cycle, named here, and ended it. Not a failure.
    Deadlock(String),
}

impl CaseStatus {
    const SKIPPED: &'static str = "skipped: ";
    const DEADLOCK: &'static str = "deadlock: ";

    pub fn is_skipped(&self) -> bool {
        matches!(self, CaseStatus::Skipped(_))
    }

    /// A failure the run must report (exit 1): neither ok nor skipped.
    pub fn is_failure(&self) -> bool {
        matches!(self, CaseStatus::Failed(_) | CaseStatus::Interrupted)
    }

    /// Reads the wire form back; the inverse of `Display`.
    pub fn parse(text: &str) -> CaseStatus {
        match text {
            "ok" => CaseStatus::Ok,
            "interrupted" => CaseStatus::Interrupted,
            _ => match (
                text.strip_prefix(Self::SKIPPED),
                text.strip_prefix(Self::DEADLOCK),
            ) {
                (Some(reason), _) => CaseStatus::Skipped(reason.to_owned()),
                (_, Some(cycle)) => CaseStatus::Deadlock(cycle.to_owned()),
                _ => CaseStatus::Failed(text.to_owned()),
            },
        }
    }
}

impl std::fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseStatus::Ok => f.write_str("ok"),
            CaseStatus::Failed(reason) => f.write_str(reason),
            CaseStatus::Skipped(reason) => write!(f, "{}{reason}", Self::SKIPPED),
            CaseStatus::Interrupted => f.write_str("interrupted"),
            CaseStatus::Deadlock(cycle) => write!(f, "{}{cycle}", Self::DEADLOCK),
        }
    }
}

impl Serialize for CaseStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CaseStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|text| CaseStatus::parse(&text))
    }
}

/// A median with its 95% confidence interval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Estimate {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The distribution of a convoy probe's round trips (milliseconds).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ConvoyStats {
    /// Timed round trips, over every measured repetition.
    pub round_trips: u64,
    pub p10_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Share of round trips that took `delayed_ms` or longer.
    pub delayed_share: f64,
    /// A GIL-free round trip (the native `thread` case's median at the same
    /// point, else the server's delay) plus half the switch interval: a
    /// round trip this long waited for the GIL.
    pub delayed_ms: f64,
}

/// What one measured repetition of a case recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Repetition {
    pub wall_s: f64,
    pub startup_s: Option<f64>,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    pub harness_peak_rss_bytes: u64,
    pub children_peak_rss_bytes: u64,
    /// Process models: the largest sum of the live children's PSS that the
    /// model's sampler saw during the batch; for `cpython-*` models the
    /// runner's own sum over itself and its children.
    /// Shared pages count once in all, where `children_peak_rss_bytes`
    /// counts them once per child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children_peak_pss_bytes: Option<u64>,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    pub latency_p99_ms: f64,
    /// Convoy points: the IO thread's round trips per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_round_trips_per_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct GilCounters {
    pub acquisitions: u64,
    pub forced_switches: u64,
    pub drop_requests: u64,
    /// Total time threads spent waiting to take the GIL.
    pub wait_s: f64,
}

impl GilCounters {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &GilCounters) -> GilCounters {
        GilCounters {
            acquisitions: self.acquisitions.saturating_sub(earlier.acquisitions),
            forced_switches: self.forced_switches.saturating_sub(earlier.forced_switches),
            drop_requests: self.drop_requests.saturating_sub(earlier.drop_requests),
            wait_s: (self.wait_s - earlier.wait_s).max(0.0),
        }
    }

    pub fn add(&mut self, other: &GilCounters) {
        self.acquisitions += other.acquisitions;
        self.forced_switches += other.forced_switches;
        self.drop_requests += other.drop_requests;
        self.wait_s += other.wait_s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_status_keeps_its_wire_form() {
        for (text, status) in [
            ("ok", CaseStatus::Ok),
            ("interrupted", CaseStatus::Interrupted),
            (
                "skipped: python3 was not found on PATH",
                CaseStatus::Skipped("python3 was not found on PATH".into()),
            ),
            (
                "deadlock: unit 0 holds L1 and waits for L1",
                CaseStatus::Deadlock("unit 0 holds L1 and waits for L1".into()),
            ),
            (
                "timed out after 30 s: raise --timeout",
                CaseStatus::Failed("timed out after 30 s: raise --timeout".into()),
            ),
        ] {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, serde_json::to_string(text).unwrap());
            assert_eq!(serde_json::from_str::<CaseStatus>(&json).unwrap(), status);
            assert_eq!(status.to_string(), text);
        }
    }

    #[test]
    fn old_results_files_still_load() {
        let text = include_str!("../tests/fixtures/results-sample.json");
        let report: RunReport = serde_json::from_str(text).unwrap();
        assert!(report.cases.iter().any(CaseResult::is_ok));
        assert!(report.cases.iter().any(|c| c.status.is_failure()));
    }
}
