//! Real CPython as the reference for the `+gil` models: finds `python3`, runs
//! the embedded `python/parabench_runner.py` with one JSON request on stdin
//! and reads one JSON response from stdout. The serde types here are that
//! protocol (not a file format); the runner script documents how it measures.

pub mod legacy;

use crate::measure::{self, Exit, Usage};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The runner script, shipped inside the binary so it runs from any directory.
pub const RUNNER: &str = include_str!("../python/parabench_runner.py");

/// Oldest Python the runner supports.
pub const MIN_VERSION: PythonVersion = PythonVersion {
    major: 3,
    minor: 8,
    patch: 0,
};

/// How much of the runner's stderr an error message quotes.
const STDERR_TAIL_BYTES: usize = 2_000;

/// After a kill, how long to wait for the runner's stderr to reach its end.
const STDERR_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PythonVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A usable interpreter, as it describes itself.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonInfo {
    pub path: PathBuf,
    pub version: PythonVersion,
    /// Built without a GIL (`Py_GIL_DISABLED`: a free-threaded build).
    pub free_threaded: bool,
    /// `sys._is_gil_enabled()` where it exists (3.13+): a free-threaded
    /// build can still turn the GIL on (`PYTHON_GIL=1`).
    pub gil_enabled: Option<bool>,
}

impl PythonInfo {
    /// Whether threads of this interpreter share one GIL.
    pub fn has_gil(&self) -> bool {
        self.gil_enabled.unwrap_or(!self.free_threaded)
    }
}

/// Why the `cpython-*` models cannot run; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum PythonUnavailable {
    #[error(
        "{0} was not found (a name is looked up on PATH); install Python {MIN_VERSION} or newer to run the cpython models"
    )]
    NotFound(String),
    #[error("`{path} --version` failed: {reason}")]
    VersionFailed { path: String, reason: String },
    #[error(
        "{path} is Python {version}; the cpython models need {MIN_VERSION} or newer (or 2.7, for cpython-sequential and cpython-thread)"
    )]
    TooOld {
        path: String,
        version: PythonVersion,
    },
}

/// The CPython concurrency model the runner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpythonModel {
    Sequential,
    /// One `threading.Thread` per task, at most `workers` alive.
    Thread,
    /// `concurrent.futures.ThreadPoolExecutor`.
    ThreadPool,
    /// One `multiprocessing.Process` per task, at most `workers` alive.
    Process,
    /// `concurrent.futures.ProcessPoolExecutor`.
    ProcessPool,
    /// `asyncio` tasks gathered under a `Semaphore(workers)`.
    Asyncio,
    /// One greenlet per task on one thread, at most `workers` alive.
    Greenlet,
    /// gevent greenlets in a `gevent.pool.Pool(workers)`, socket and time
    /// monkey-patched.
    Gevent,
    /// `concurrent.futures.InterpreterPoolExecutor` (Python 3.14+, PEP 734):
    /// each worker a thread with its own interpreter and GIL.
    InterpreterPool,
}

/// The first Python with `concurrent.futures.InterpreterPoolExecutor`.
pub const INTERPRETER_POOL_VERSION: PythonVersion = PythonVersion {
    major: 3,
    minor: 14,
    patch: 0,
};

impl CpythonModel {
    pub const ALL: [CpythonModel; 9] = [
        CpythonModel::Sequential,
        CpythonModel::Thread,
        CpythonModel::ThreadPool,
        CpythonModel::Process,
        CpythonModel::ProcessPool,
        CpythonModel::Asyncio,
        CpythonModel::Greenlet,
        CpythonModel::Gevent,
        CpythonModel::InterpreterPool,
    ];

    /// The module the model needs beyond the standard library, if any:
    /// the coroutine models are skipped with a notice where it is missing.
    pub fn needs_module(self) -> Option<&'static str> {
        match self {
            CpythonModel::Greenlet => Some("greenlet"),
            CpythonModel::Gevent => Some("gevent"),
            _ => None,
        }
    }

    /// The name on the wire, as the runner spells it.
    pub fn name(self) -> &'static str {
        match self {
            CpythonModel::Sequential => "sequential",
            CpythonModel::Thread => "thread",
            CpythonModel::ThreadPool => "thread-pool",
            CpythonModel::Process => "process",
            CpythonModel::ProcessPool => "process-pool",
            CpythonModel::Asyncio => "asyncio",
            CpythonModel::Greenlet => "greenlet",
            CpythonModel::Gevent => "gevent",
            CpythonModel::InterpreterPool => "interpreter-pool",
        }
    }
}

/// One batch to run `warmup + repetitions` times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpythonRequest {
    pub model: CpythonModel,
    pub workers: usize,
    pub tasks: usize,
    pub repetitions: u32,
    pub warmup: u32,
    pub task: TaskRequest,
    /// `sys.setswitchinterval`; Python's default (5 ms) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch_interval_s: Option<f64>,
    /// Convoy: `tasks - 1` CPU-bound tasks run beside one IO task (the last)
    /// that does the socket round trips and times each one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub convoy: bool,
    /// Convoy: the board the CPU tasks and the probe share (see
    /// `workload::board`): the CPU tasks compute `cpu_ms` chunks until the
    /// probe is done; the probe waits until every CPU task runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardRequest>,
    /// The process models: `multiprocessing.get_context(start_method)`;
    /// Linux's default (`fork` before Python 3.14) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_method: Option<String>,
    /// MiB the runner holds (a `bytearray`, every page written) while it
    /// starts workers: what a `fork` child inherits and the others do not.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub parent_mib: u64,
    /// The lock workload: every task is a unit on this board.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockRequest>,
    /// The queue workload: tasks `0..producers` put, the others get.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueRequest>,
    /// The event workload: task 0 sets, the others wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRequest>,
    /// The timer workload: the one task arms every timer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerRequest>,
    /// The pool models: start a new pool (and time its start-up) even if
    /// the runner kept one from an earlier request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fresh_pool: bool,
}

/// An event batch (see `workload::wake::event`): `threading.Event`
/// (thread), `multiprocessing.Event` (process), `asyncio.Event`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRequest {
    pub waiters: u32,
    pub rounds: u32,
    pub limit_s: f64,
}

/// A timer batch (see `workload::wake::timer`): `threading.Timer` per
/// timer (thread) or `loop.call_later` (asyncio).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimerRequest {
    pub timers: u32,
    pub delay_ms: f64,
    pub limit_s: f64,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A queue batch (see `workload::queue`): `queue.Queue` (thread),
/// `multiprocessing.Queue`/`JoinableQueue` (process), `asyncio.Queue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRequest {
    pub board: PathBuf,
    pub producers: u32,
    pub consumers: u32,
    pub capacity: u32,
    pub item_bytes: u32,
    pub items: u64,
    /// `queue` or `joinable`.
    pub semantics: String,
    pub daemon: bool,
    pub limit_s: f64,
}

/// A lock batch (see `workload::lock`): the runner's locks are
/// `threading.Lock`/`RLock`/`Semaphore` (thread, sequential),
/// `multiprocessing`'s (process) or `asyncio`'s; `hold_us` and `outside_us`
/// are the pure-Python kernel, calibrated like `cpu_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockRequest {
    pub board: PathBuf,
    /// `mutex`, `rlock`, `semaphore` or `none`.
    pub primitive: String,
    pub depth: u32,
    pub permits: u32,
    pub sections: u64,
    pub hold_us: f64,
    pub outside_us: f64,
    /// `reacquire` or `opposite-order`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadlock: Option<String>,
    /// The longest a unit waits at the start barrier.
    pub limit_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoardRequest {
    pub path: PathBuf,
    pub cpu_tasks: u32,
    /// How long a CPU task computes, or the probe waits, before failing.
    pub limit_s: f64,
}

/// What one task does, steps in this order: cpu, sleep, socket, file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRequest {
    /// Pure-Python kernel time per task on one core; 0 for none. The runner
    /// calibrates its own iteration count (see `PythonCalibration`).
    pub cpu_ms: f64,
    /// Kernel id; the runner knows `hash`.
    pub kernel: String,
    /// The kernel's speed from an earlier call of this run, so that every
    /// call does the same work; the runner calibrates when it is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iters_per_ms: Option<f64>,
    /// `time.sleep` / `asyncio.sleep`; 0 for none.
    pub sleep_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SocketRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRequest>,
    /// KiB each task writes and holds while it runs (`bytearray`); 0 for none.
    pub touch_kib: u64,
}

/// Round trips to parabench's echo server (`workload::echo`'s protocol: a
/// 12-byte header with the length and the server-side delay, then
/// `message_bytes`, read back).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SocketRequest {
    pub addr: SocketAddr,
    /// Round trips made before the timed ones (convoy probes), not timed.
    #[serde(skip_serializing_if = "is_zero")]
    pub warmup_round_trips: u32,
    pub round_trips: u32,
    pub message_bytes: usize,
    pub server_delay_us: u64,
}

/// Write `kib` KiB to a new file in `dir`, fsync, read back, delete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRequest {
    pub dir: PathBuf,
    pub kib: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the runner measured.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CpythonResponse {
    pub python_version: String,
    pub implementation: String,
    pub model: CpythonModel,
    /// The multiprocessing start method, for the process models.
    pub start_method: Option<String>,
    pub switch_interval_s: f64,
    /// Present when tasks have a CPU part.
    pub calibration: Option<PythonCalibration>,
    /// Every task reproduced the sequential checksum (a mismatch is an error).
    pub checksum_ok: bool,
    /// Measured repetitions, warm-up excluded.
    pub repetitions: Vec<PyRepetition>,
    /// The runner process and all it reaped, whole run, from `wait4`.
    #[serde(skip)]
    pub process: Usage,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PythonCalibration {
    pub kernel: String,
    /// Kernel iterations per millisecond on one core, best of three.
    pub iters_per_ms: f64,
    pub iters_per_task: u64,
}

/// One repetition as the runner measured it, with its own clocks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PyRepetition {
    /// First submit to last result.
    pub wall_s: f64,
    /// Pool start with every worker running, or event loop start (asyncio).
    pub startup_s: Option<f64>,
    /// `getrusage` SELF + CHILDREN deltas over the repetition, pool start and
    /// shutdown included.
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// The children's share of user + sys.
    pub children_cpu_s: f64,
    /// The runner's high-water mark so far.
    pub peak_rss_bytes: u64,
    /// The largest single reaped child so far, not a sum.
    pub children_peak_rss_bytes: u64,
    /// The peak PSS of the runner plus that of every child that was alive
    /// at once (pool workers, or the largest `workers` one-shot children),
    /// each sampled alive from /proc (see `measure::ProcMemory::peak_pss`);
    /// absent where /proc/PID/smaps_rollup cannot be read.
    #[serde(default)]
    pub peak_pss_bytes: Option<u64>,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    /// Per task, by task index: batch start to the submitter seeing its result.
    pub task_latency_ms: Vec<f64>,
    /// Batch start to the task starting (includes process start-up for `process`).
    pub queue_wait_ms: Vec<f64>,
    pub task_run_ms: Vec<f64>,
    /// Convoy: each of the IO task's round trips, in order.
    #[serde(default)]
    pub round_trips_ms: Vec<f64>,
    /// Lock: each unit's sections, waits and board readings, by task index.
    #[serde(default)]
    pub lock_units: Vec<crate::workload::lock::LockOutput>,
    /// Queue: each unit's items, hash sum and latencies, by task index.
    #[serde(default)]
    pub queue_units: Vec<crate::workload::queue::QueueOutput>,
    /// Event and timer: each unit's wake-ups and how late each ran.
    #[serde(default)]
    pub wake_units: Vec<crate::workload::wake::WakeOutput>,
}

/// Why `model` cannot run in `python`: the module it needs does not import
/// (`pip install greenlet gevent`); `None` when it can. Asked once per
/// model and process.
pub fn missing_module(python: &PythonInfo, model: CpythonModel) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    // Per interpreter: a run of several may have greenlet in one only.
    static SEEN: Mutex<Option<HashMap<(PathBuf, &'static str), bool>>> = Mutex::new(None);
    if model == CpythonModel::InterpreterPool && python.version < INTERPRETER_POOL_VERSION {
        return Some(format!(
            "cpython-interpreter-pool needs Python {INTERPRETER_POOL_VERSION} or newer \
             (concurrent.futures.InterpreterPoolExecutor); {} is Python {}",
            python.path.display(),
            python.version
        ));
    }
    let module = model.needs_module()?;
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let imports = *seen
        .get_or_insert_with(HashMap::new)
        .entry((python.path.clone(), module))
        .or_insert_with(|| {
            // Bounded: an import that hangs is killed, and counts as missing.
            let mut cmd = Command::new(&python.path);
            // As `run` starts the runner for these models: isolated, with site.
            cmd.args(["-I", "-c", &format!("import {module}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            measure::die_with_harness(&mut cmd, false);
            let Ok(mut child) = cmd.spawn() else {
                return false;
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => return status.success(),
                    Ok(None) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return false;
                    }
                }
            }
        });
    (!imports).then(|| {
        format!(
            "`import {module}` fails in {} (pip install {module})",
            python.path.display()
        )
    })
}

/// Finds `python3` on PATH and checks it is recent enough.
pub fn python3() -> Result<PythonInfo, PythonUnavailable> {
    find("python3")
}

/// Finds the interpreter `spec` names (a name looked up on PATH, such as
/// `python3.12`, or a path), asks it what it is and checks it is recent
/// enough.
pub fn find(spec: &str) -> Result<PythonInfo, PythonUnavailable> {
    let mut first_error = None;
    for path in locate(spec) {
        match probe(path) {
            Ok(info) => return Ok(info),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| PythonUnavailable::NotFound(spec.to_owned())))
}

fn probe(path: PathBuf) -> Result<PythonInfo, PythonUnavailable> {
    let shown = path.display().to_string();
    let failed = |reason: String| PythonUnavailable::VersionFailed {
        path: shown.clone(),
        reason,
    };
    let out = Command::new(&path)
        .args(["-c", PROBE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first_line = stderr.lines().next().unwrap_or("").trim().to_owned();
        return Err(failed(format!("{}: {first_line}", out.status)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let probe =
        parse_probe(&text).ok_or_else(|| failed(format!("unexpected output {:?}", text.trim())))?;
    if probe.version < MIN_VERSION && !legacy::runs(probe.version) {
        return Err(PythonUnavailable::TooOld {
            path: shown,
            version: probe.version,
        });
    }
    // The interpreter behind a version manager's shim (pyenv's is a shell
    // script, over 100 ms at every start), paid once here instead of at
    // every call of a cpython-* case.
    let exe = PathBuf::from(&probe.executable);
    Ok(PythonInfo {
        path: if exe.is_absolute() && exe.is_file() {
            exe
        } else {
            path
        },
        version: probe.version,
        free_threaded: probe.free_threaded,
        gil_enabled: probe.gil_enabled,
    })
}

/// What an interpreter says of itself, one JSON line; it runs on Python 2.7
/// too, so that a too-old interpreter is named with its version.
const PROBE: &str = "import sys, json, sysconfig; \
    gil = getattr(sys, '_is_gil_enabled', None); \
    sys.stdout.write(json.dumps([sys.executable, list(sys.version_info[:3]), \
    bool(sysconfig.get_config_var('Py_GIL_DISABLED')), gil() if gil else None]))";

#[derive(Debug, PartialEq)]
struct Probe {
    executable: String,
    version: PythonVersion,
    free_threaded: bool,
    gil_enabled: Option<bool>,
}

fn parse_probe(text: &str) -> Option<Probe> {
    let (executable, version, free_threaded, gil_enabled): (String, [u32; 3], bool, Option<bool>) =
        serde_json::from_str(text.trim()).ok()?;
    Some(Probe {
        executable,
        version: PythonVersion {
            major: version[0],
            minor: version[1],
            patch: version[2],
        },
        free_threaded,
        gil_enabled,
    })
}

/// Where `spec` may be, in order. A name without a slash is looked up on
/// PATH, as a shell would, then in each pyenv version (`$PYENV_ROOT`, else
/// `~/.pyenv`): pyenv's shims run only the versions pyenv has selected, so
/// `python3.12` is found beside a global 3.11. Anything else is a path,
/// taken as it is.
fn locate(spec: &str) -> Vec<PathBuf> {
    if spec.contains('/') {
        let path = PathBuf::from(spec);
        return if is_executable(&path) {
            vec![path]
        } else {
            vec![]
        };
    }
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    let mut versions: Vec<PathBuf> = pyenv
        .and_then(|root| std::fs::read_dir(root.join("versions")).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.path().join("bin").join(spec)))
        .filter(|p| is_executable(p))
        .collect();
    versions.sort();
    find_on_path(spec).into_iter().chain(versions).collect()
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// Runs one request in `python`, killing it (and every process it started)
/// if it takes longer than `timeout`.
///
/// The runner gets `PR_SET_PDEATHSIG`, which fires when the *calling thread*
/// ends: call this from a thread that outlives the call (any thread does, as
/// the call returns only once the runner is reaped).
/// Runs one request in a fresh runner and ends it: the response carries the
/// whole runner's usage from `wait4`.
pub fn run(
    python: &PythonInfo,
    request: &CpythonRequest,
    timeout: Duration,
) -> Result<CpythonResponse> {
    run_with_env(python, request, timeout, &[])
}

fn run_with_env(
    python: &PythonInfo,
    request: &CpythonRequest,
    timeout: Duration,
    env: &[(&str, &str)],
) -> Result<CpythonResponse> {
    let deadline = Instant::now() + timeout;
    let mut session = Session::start_with_env(python, request.model, env)?;
    let mut response = session.request(request, timeout)?;
    let (status, usage) = session.close(deadline.saturating_duration_since(Instant::now()))?;
    if status != Exit::Code(0) {
        bail!("CPython runner ended ({status}) after its response");
    }
    response.process = usage;
    Ok(response)
}

/// A runner kept across requests: one interpreter, started once, that
/// answers one JSON request per line of its stdin with one JSON line, and
/// keeps its pools (and the modules a model needs) from one request to the
/// next. A case's repetitions share one session, so neither the
/// interpreter's start nor a pool's start is paid again per repetition.
///
/// Any error ends the session: its runner is killed and reaped, and the
/// caller starts a new one if it wants to go on.
pub struct Session {
    pid: libc::pid_t,
    /// Requests answered so far.
    served: u32,
    reaped: bool,
    stdin: Option<std::process::ChildStdin>,
    /// The runner's stdout, line by line; disconnected at its end.
    lines: mpsc::Receiver<io::Result<String>>,
    /// The runner's stderr so far, and the moment it ended.
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stderr_done: mpsc::Receiver<()>,
    /// Holds the script: spawned and forkserver children re-read it.
    _dir: tempfile::TempDir,
}

impl Session {
    pub fn start(python: &PythonInfo, model: CpythonModel) -> Result<Session> {
        Session::start_with_env(python, model, &[])
    }

    fn start_with_env(
        python: &PythonInfo,
        model: CpythonModel,
        env: &[(&str, &str)],
    ) -> Result<Session> {
        // Isolated, unbuffered, and without site-packages: the runner needs
        // the standard library only, and a site's .pth files cost tens of
        // milliseconds at every start. The coroutine models need greenlet or
        // gevent from site-packages.
        let flags: &[&str] = match model.needs_module() {
            None => &["-I", "-S", "-u"],
            Some(_) => &["-I", "-u"],
        };
        Session::start_script(python, ("parabench_runner.py", RUNNER), flags, env)
    }

    /// Starts `script` (its file name and text) in `python` with `flags`;
    /// any runner that speaks this module's line protocol.
    pub(crate) fn start_script(
        python: &PythonInfo,
        (name, text): (&str, &str),
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Session> {
        // A private directory: Python puts the script's directory first on
        // sys.path, and the flags keep user site-packages and PYTHON* out.
        let dir = tempfile::Builder::new()
            .prefix("parabench-python-")
            .tempdir()
            .context("creating a directory for the CPython runner")?;
        let script = dir.path().join(name);
        crate::atomic_file::write(&script, text.as_bytes())
            .with_context(|| format!("writing {}", script.display()))?;

        let mut command = Command::new(&python.path);
        command
            .args(flags)
            .arg(&script)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so a timeout kills its workers too.
        measure::die_with_harness(&mut command, true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", python.path.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        Ok(Session {
            pid: child.id() as libc::pid_t,
            served: 0,
            reaped: false,
            stdin: child.stdin.take(),
            lines: read_lines_in_background(stdout),
            stderr_done: keep_tail_in_background(stderr_pipe, stderr.clone()),
            stderr,
            _dir: dir,
        })
    }

    /// How many requests the runner has answered.
    pub fn served(&self) -> u32 {
        self.served
    }

    /// Sends one request and waits at most `timeout` for its response.
    pub fn request(
        &mut self,
        request: &CpythonRequest,
        timeout: Duration,
    ) -> Result<CpythonResponse> {
        let deadline = Instant::now() + timeout;
        let mut line = serde_json::to_vec(request).context("encoding the CPython request")?;
        line.push(b'\n');
        // A runner that died closed its stdin: what it printed says why.
        let write_error = match &mut self.stdin {
            Some(stdin) => stdin.write_all(&line).and_then(|()| stdin.flush()).err(),
            None => Some(io::Error::other("the session was closed")),
        };
        let reply = match write_error {
            None => self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            Some(_) => Err(mpsc::RecvTimeoutError::Disconnected),
        };
        let line = match reply {
            Ok(Ok(line)) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.kill();
                self.end();
                bail!(
                    "CPython runner timed out after {}, killed; stderr: {}",
                    humantime::format_duration(timeout),
                    self.stderr_tail()
                )
            }
            Ok(Err(e)) => {
                self.kill();
                let status = self.end();
                return Err(e).context(format!(
                    "reading the CPython runner's stdout ({status}); stderr: {}",
                    self.stderr_tail()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.end();
                let writing = write_error
                    .map(|e| format!(" (writing the request: {e})"))
                    .unwrap_or_default();
                bail!(
                    "CPython runner ended ({status}) without a valid response{writing}; stderr: {}",
                    self.stderr_tail()
                )
            }
        };
        match serde_json::from_str::<Reply>(&line) {
            Ok(Reply::Ok(response)) => {
                self.served += 1;
                Ok(*response)
            }
            Ok(Reply::Error { error }) => {
                self.end();
                bail!(
                    "CPython runner failed: {error}; stderr: {}",
                    self.stderr_tail()
                )
            }
            Err(e) => {
                self.kill();
                let status = self.end();
                bail!(
                    "CPython runner ({status}) answered what is not a response ({e}): {}; stderr: {}",
                    tail(line.as_bytes(), STDERR_TAIL_BYTES),
                    self.stderr_tail()
                )
            }
        }
    }

    /// Ends the session: the runner sees its stdin end, shuts its pools
    /// down and exits, or is killed at `timeout`; then it is reaped.
    pub fn close(mut self, timeout: Duration) -> Result<(Exit, Usage)> {
        self.finish(timeout)
            .context("waiting for the CPython runner")
    }

    /// Closes the runner's stdin and waits at most `grace` for its stdout to
    /// end (the runner and every process holding it have exited), kills its
    /// process group (whatever is left of it), and reaps it.
    fn finish(&mut self, grace: Duration) -> io::Result<(Exit, Usage)> {
        if self.reaped {
            return Err(io::Error::other("already reaped"));
        }
        drop(self.stdin.take());
        let deadline = Instant::now() + grace;
        while let Ok(Ok(_)) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {}
        self.kill();
        self.reaped = true;
        measure::reap(self.pid as u32)
    }

    /// Kills the runner's whole process group unless it was reaped already.
    fn kill(&self) {
        if self.reaped {
            return;
        }
        // SAFETY: plain syscalls on a child we have not reaped, so its pid
        // and group id (set equal by `setpgid(0, 0)`) are still ours.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
        }
    }

    /// Ends the runner after a failure and says how it ended.
    fn end(&mut self) -> String {
        match self.finish(STDERR_GRACE) {
            Ok((status, _)) => status.to_string(),
            Err(e) => format!("not reaped: {e}"),
        }
    }

    /// The last of the runner's stderr, once it has ended (or after a grace).
    fn stderr_tail(&self) -> String {
        let _ = self.stderr_done.recv_timeout(STDERR_GRACE);
        let bytes = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        tail(&bytes, STDERR_TAIL_BYTES)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let _ = self.finish(Duration::ZERO);
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Error { error: String },
    Ok(Box<CpythonResponse>),
}

/// Reads a pipe line by line on a helper thread; each line arrives on the
/// channel, which disconnects at the pipe's end.
fn read_lines_in_background(
    pipe: impl Read + Send + 'static,
) -> mpsc::Receiver<io::Result<String>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in io::BufReader::new(pipe).lines() {
            let failed = line.is_err();
            // The receiver is gone only if the session already ended.
            if tx.send(line).is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// Reads a pipe to its end on a helper thread, keeping its last bytes in
/// `tail`; the channel disconnects at the pipe's end.
fn keep_tail_in_background(
    mut pipe: impl Read + Send + 'static,
    tail: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let _done = tx;
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            let mut kept = tail.lock().unwrap_or_else(|e| e.into_inner());
            kept.extend_from_slice(&buf[..n]);
            let excess = kept.len().saturating_sub(4 * STDERR_TAIL_BYTES);
            kept.drain(..excess);
        }
    });
    rx
}

fn tail(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(max)..]);
    let text = text.trim();
    if text.is_empty() {
        "(empty)".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Runner tests each start processes; one at a time keeps their
    /// measurements and the zombie scan free of each other.
    static SERIAL: Mutex<()> = Mutex::new(());

    const TIMEOUT: Duration = Duration::from_secs(120);

    fn python_or_skip() -> Option<PythonInfo> {
        match python3() {
            Ok(info) => Some(info),
            Err(e) => {
                eprintln!("skipping CPython runner test: {e}");
                None
            }
        }
    }

    fn request(model: CpythonModel, task: TaskRequest) -> CpythonRequest {
        CpythonRequest {
            model,
            workers: 2,
            tasks: 4,
            repetitions: 2,
            warmup: 0,
            task,
            switch_interval_s: Some(0.005),
            convoy: false,
            board: None,
            start_method: None,
            parent_mib: 0,
            lock: None,
            queue: None,
            event: None,
            timer: None,
            fresh_pool: false,
        }
    }

    fn no_task() -> TaskRequest {
        TaskRequest {
            cpu_ms: 0.0,
            kernel: "hash".to_owned(),
            iters_per_ms: None,
            sleep_ms: 0.0,
            socket: None,
            file: None,
            touch_kib: 0,
        }
    }

    fn check_shape(r: &CpythonResponse, model: CpythonModel, tasks: usize) {
        let m = model.name();
        assert_eq!(r.model, model);
        assert!(r.checksum_ok, "{m}");
        assert_eq!(r.repetitions.len(), 2, "{m}");
        for rep in &r.repetitions {
            assert!(rep.wall_s > 0.0, "{m}: {rep:?}");
            assert!(rep.cpu_user_s + rep.cpu_sys_s >= 0.0, "{m}: {rep:?}");
            assert!(rep.peak_rss_bytes > 1 << 20, "{m}: {rep:?}");
            assert_eq!(rep.task_latency_ms.len(), tasks, "{m}");
            for i in 0..tasks {
                let (latency, wait, run) = (
                    rep.task_latency_ms[i],
                    rep.queue_wait_ms[i],
                    rep.task_run_ms[i],
                );
                assert!(run > 0.0 && wait >= 0.0, "{m}: {rep:?}");
                // A result is seen only after the task ended.
                assert!(latency + 1e-6 >= wait + run, "{m}: {rep:?}");
                assert!(latency <= rep.wall_s * 1e3 + 1e-6, "{m}: {rep:?}");
            }
        }
    }

    #[test]
    fn parses_what_an_interpreter_says_of_itself() {
        let v = |major, minor, patch| PythonVersion {
            major,
            minor,
            patch,
        };
        let probe = parse_probe(r#"["/usr/bin/python3.13t", [3, 13, 0], true, false]"#).unwrap();
        assert_eq!(probe.version, v(3, 13, 0));
        assert_eq!(
            (probe.free_threaded, probe.gil_enabled),
            (true, Some(false))
        );
        let probe = parse_probe(r#"["/usr/bin/python2.7", [2, 7, 18], false, null]"#).unwrap();
        assert_eq!((probe.version, probe.gil_enabled), (v(2, 7, 18), None));
        assert_eq!(parse_probe("Python 3.11.2"), None);
        assert!(v(3, 7, 9) < MIN_VERSION && MIN_VERSION <= v(3, 8, 0));
        let info = |free_threaded, gil_enabled| PythonInfo {
            path: "/p".into(),
            version: v(3, 13, 0),
            free_threaded,
            gil_enabled,
        };
        assert!(info(false, None).has_gil());
        assert!(!info(true, None).has_gil());
        assert!(!info(true, Some(false)).has_gil());
        // PYTHON_GIL=1 turns it back on in a free-threaded build.
        assert!(info(true, Some(true)).has_gil());
    }

    #[test]
    fn finds_an_interpreter_by_name_or_path_and_refuses_a_missing_or_old_one() {
        let Some(py) = python_or_skip() else { return };
        let by_path = find(py.path.to_str().unwrap()).unwrap();
        assert_eq!(
            (by_path.path, by_path.version),
            (py.path.clone(), py.version)
        );
        let missing = find("python-that-is-not-here").unwrap_err().to_string();
        assert!(
            missing.contains("python-that-is-not-here was not found"),
            "{missing}"
        );
        let not_a_file = find("/nonexistent/python3").unwrap_err().to_string();
        assert!(not_a_file.contains("/nonexistent/python3"), "{not_a_file}");
        // Any Python 3 older than 3.8 here (pyenv has 3.6 on these
        // machines) is named with its version; 2.7 runs the legacy runner.
        if let Some(old) = locate("python3.6").last() {
            let err = find(old.to_str().unwrap()).unwrap_err().to_string();
            assert!(err.contains("is Python 3.6"), "{err}");
        }
        if let Some(old) = locate("python2.7").last() {
            let py = find(old.to_str().unwrap()).unwrap();
            assert_eq!((py.version.major, py.version.minor), legacy::VERSION);
        }
    }

    #[test]
    fn every_model_reproduces_the_checksum() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for model in CpythonModel::ALL {
            if let Some(why) = missing_module(&py, model) {
                eprintln!("skipping {}: {why}", model.name());
                continue;
            }
            let task = TaskRequest {
                cpu_ms: 5.0,
                ..no_task()
            };
            let r = run(&py, &request(model, task), TIMEOUT)
                .unwrap_or_else(|e| panic!("{}: {e:#}", model.name()));
            check_shape(&r, model, 4);
            let cal = r.calibration.as_ref().expect("cpu tasks are calibrated");
            assert!(cal.iters_per_ms > 0.0 && cal.iters_per_task > 0);
            let pools = [CpythonModel::ThreadPool, CpythonModel::ProcessPool];
            assert_eq!(
                r.repetitions[0].startup_s.is_some(),
                pools.contains(&model)
                    || matches!(model, CpythonModel::Asyncio | CpythonModel::Gevent),
                "{}",
                model.name()
            );
            let forks = [CpythonModel::Process, CpythonModel::ProcessPool];
            assert_eq!(r.start_method.is_some(), forks.contains(&model));
            assert_eq!(r.switch_interval_s, 0.005);
            assert!(r.process.user > Duration::ZERO, "{:?}", r.process);
        }
    }

    #[test]
    fn every_start_method_reproduces_the_checksum_and_is_reported() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for model in [CpythonModel::Process, CpythonModel::ProcessPool] {
            for method in ["spawn", "fork", "forkserver"] {
                let req = CpythonRequest {
                    start_method: Some(method.to_owned()),
                    parent_mib: 8,
                    ..request(
                        model,
                        TaskRequest {
                            cpu_ms: 1.0,
                            ..no_task()
                        },
                    )
                };
                let r = run(&py, &req, TIMEOUT)
                    .unwrap_or_else(|e| panic!("{} {method}: {e:#}", model.name()));
                check_shape(&r, model, 4);
                assert_eq!(r.start_method.as_deref(), Some(method));
                // The runner held the parent's 8 MiB.
                assert!(r.repetitions[0].peak_rss_bytes > 8 << 20);
            }
        }
        let req = CpythonRequest {
            start_method: Some("vfork".to_owned()),
            ..request(CpythonModel::Process, no_task())
        };
        let err = run(&py, &req, TIMEOUT).unwrap_err();
        assert!(format!("{err:#}").contains("vfork"), "{err:#}");
    }

    /// A loopback echo server; counts the connections it served.
    fn echo_server() -> (SocketAddr, &'static AtomicUsize) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                served.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || echo(stream));
            }
        });
        (addr, served)
    }

    /// Speaks the harness's echo protocol: header (length, delay), payload back.
    fn echo(mut stream: TcpStream) {
        let mut head = [0u8; crate::workload::echo::HEADER_LEN];
        while stream.read_exact(&mut head).is_ok() {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let mut payload = vec![0u8; len];
            if stream.read_exact(&mut payload).is_err() || stream.write_all(&payload).is_err() {
                return;
            }
        }
    }

    #[test]
    fn io_steps_run_in_threads_and_asyncio() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (addr, served) = echo_server();
        let dir = tempfile::tempdir().unwrap();
        let models = [CpythonModel::Thread, CpythonModel::Asyncio];
        for model in models {
            let task = TaskRequest {
                sleep_ms: 1.0,
                socket: Some(SocketRequest {
                    addr,
                    warmup_round_trips: 0,
                    round_trips: 3,
                    message_bytes: 64,
                    server_delay_us: 100,
                }),
                file: Some(FileRequest {
                    dir: dir.path().to_owned(),
                    kib: 8,
                }),
                ..no_task()
            };
            let r = run(&py, &request(model, task), TIMEOUT)
                .unwrap_or_else(|e| panic!("{}: {e:#}", model.name()));
            check_shape(&r, model, 4);
            assert!(r.calibration.is_none());
            for rep in &r.repetitions {
                // Every task slept 1 ms before its socket and file steps.
                assert!(rep.task_run_ms.iter().all(|&ms| ms >= 1.0), "{rep:?}");
            }
        }
        // One connection per task per repetition.
        assert_eq!(served.load(Ordering::SeqCst), models.len() * 2 * 4);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The pids of processes whose parent is `ppid`.
    fn children_of(ppid: i32) -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|pid| proc_stat(pid).is_some_and(|(_, p)| p == ppid))
            .collect()
    }

    #[test]
    fn a_session_keeps_its_pool_counts_its_live_workers_and_ends_clean() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut session = Session::start(&py, CpythonModel::ProcessPool).unwrap();
        let pid = session.pid;
        let ask = |fresh_pool| CpythonRequest {
            repetitions: 1,
            fresh_pool,
            ..request(
                CpythonModel::ProcessPool,
                TaskRequest {
                    cpu_ms: 20.0,
                    ..no_task()
                },
            )
        };
        let first = session.request(&ask(true), TIMEOUT).unwrap();
        let workers = children_of(pid);
        assert_eq!(workers.len(), 2, "the pool's workers: {workers:?}");
        let second = session.request(&ask(false), TIMEOUT).unwrap();
        let third = session.request(&ask(true), TIMEOUT).unwrap();
        assert_eq!(session.served(), 3);
        let (startups, cpu): (Vec<_>, Vec<_>) = [&first, &second, &third]
            .iter()
            .map(|r| {
                let rep = &r.repetitions[0];
                (rep.startup_s.is_some(), rep.children_cpu_s)
            })
            .unzip();
        // Only a request that started a pool timed its start-up.
        assert_eq!(startups, [true, false, true]);
        // The kept pool's workers were not joined, yet their 80 ms of work
        // (4 tasks of 20 ms) is counted: generous, the VM is noisy.
        assert!(cpu[1] > 0.02, "children's CPU {cpu:?}");
        let (status, usage) = session.close(TIMEOUT).unwrap();
        assert_eq!(status, Exit::Code(0));
        assert!(usage.user > Duration::ZERO, "{usage:?}");
        let gone = |pid: &str| matches!(proc_stat(pid), None | Some(('Z' | 'X', _)));
        let wait_until = Instant::now() + Duration::from_secs(5);
        while !workers.iter().all(|p| gone(p)) && Instant::now() < wait_until {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(
            workers.iter().all(|p| gone(p)),
            "still running: {workers:?}"
        );
        assert!(our_zombies().is_empty(), "zombies: {:?}", our_zombies());
    }

    #[test]
    fn a_failed_request_ends_the_session_and_says_why() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut session = Session::start(&py, CpythonModel::Thread).unwrap();
        let good = request(CpythonModel::Thread, no_task());
        session.request(&good, TIMEOUT).unwrap();
        let bad = CpythonRequest {
            workers: 0,
            ..good.clone()
        };
        let err = format!("{:#}", session.request(&bad, TIMEOUT).unwrap_err());
        assert!(err.contains("workers must be a positive integer"), "{err}");
        let err = format!("{:#}", session.request(&good, TIMEOUT).unwrap_err());
        assert!(err.contains("closed"), "{err}");
        drop(session);
        assert!(our_zombies().is_empty(), "zombies: {:?}", our_zombies());
    }

    #[test]
    fn runner_errors_are_reported() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut req = request(CpythonModel::Thread, no_task());
        req.workers = 0;
        let err = run(&py, &req, TIMEOUT).unwrap_err().to_string();
        assert!(err.contains("workers must be a positive integer"), "{err}");
        assert!(err.contains("Traceback"), "{err}");
    }

    /// (state, ppid) from `/proc/PID/stat`; the command name may hold spaces.
    fn proc_stat(pid: &str) -> Option<(char, i32)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let mut after = stat[stat.rfind(')')? + 1..].split_whitespace();
        let state = after.next()?.chars().next()?;
        let ppid = after.next()?.parse().ok()?;
        Some((state, ppid))
    }

    fn our_zombies() -> Vec<String> {
        let me = std::process::id() as i32;
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|pid| proc_stat(pid) == Some(('Z', me)))
            .collect()
    }

    #[test]
    fn timeout_kills_and_reaps_the_whole_runner() {
        let Some(py) = python_or_skip() else { return };
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let req = request(CpythonModel::Sequential, no_task());
        let started = Instant::now();
        let err = run_with_env(
            &py,
            &req,
            Duration::from_millis(1_500),
            &[("PARABENCH_TEST_HANG", "1")],
        )
        .unwrap_err()
        .to_string();
        assert!(started.elapsed() < Duration::from_secs(30), "{err}");
        assert!(err.contains("timed out"), "{err}");
        // The hook names the runner and the child it forked.
        let pids: Vec<&str> = err
            .split_whitespace()
            .skip_while(|w| *w != "hanging:")
            .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        assert_eq!(pids.len(), 2, "{err}");
        // The grandchild is init's to reap once dead: it must not be running.
        let gone = |pid: &str| matches!(proc_stat(pid), None | Some(('Z' | 'X', _)));
        let wait_until = Instant::now() + Duration::from_secs(5);
        while !pids.iter().all(|p| gone(p)) && Instant::now() < wait_until {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(pids.iter().all(|p| gone(p)), "still running: {pids:?}");
        assert!(our_zombies().is_empty(), "zombies: {:?}", our_zombies());
    }
}
