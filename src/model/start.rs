//! How the process models start a worker, by start method (named as
//! Python's multiprocessing names them), and where the parent program's
//! memory (`parent_mib`) lives meanwhile:
//!
//! - `spawn`: the harness re-executed as `parabench worker` (`child.rs`);
//!   the harness holds `parent_mib`, and std forks it before the exec.
//! - `fork`: the launcher, forked by `main` before any thread exists,
//!   clones itself (`forker.rs`); it holds `parent_mib`, which its workers
//!   inherit copy-on-write, as Python's fork children inherit the heap.
//! - `forkserver`: the fork server, itself started by exec, clones itself;
//!   the harness holds `parent_mib`, which the server never sees.
//!
//! Every worker is the harness's own child whatever the method, so reaping,
//! killing on a timeout and the parent-death signal work the same for all.

use super::ballast::Ballast;
use super::child::{self, LiveChildren, WorkerChild};
pub use super::forker::MAX_INHERITED_JOB;
use super::forker::{self, Server};
use super::id::StartMethod;
use super::worker::Job;
use std::io;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How a batch's workers start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Start {
    pub method: StartMethod,
    /// MiB the parent program holds, every page written (see module docs).
    pub parent_mib: u64,
}

/// The launcher, when this process forked one at start-up.
static LAUNCHER: OnceLock<Mutex<Server>> = OnceLock::new();
/// The fork server, started on first use and restarted if it died.
static FORKSERVER: Mutex<Option<Server>> = Mutex::new(None);

/// How long a fork request may take before its server counts as broken.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Forks the launcher the `fork` start method needs. Call it while this
/// process has one thread: first thing in `main` (before clap, tokio or
/// anything that may start a thread); it refuses otherwise.
/// The OS floor's fork + _exit + wait is then timed in the launcher.
pub fn fork_launcher() -> io::Result<()> {
    let server = forker::fork_launcher()?;
    LAUNCHER.set(Mutex::new(server)).map_err(|mut m| {
        m.get_mut().unwrap_or_else(|e| e.into_inner()).stop();
        io::Error::other("the launcher was forked already")
    })?;
    crate::floor::time_forks_with(|limit| launcher()?.time_fork(limit));
    Ok(())
}

/// The launcher's pid, when there is one.
pub fn launcher_pid() -> Option<u32> {
    LAUNCHER
        .get()
        .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).pid)
        .filter(|&pid| pid != 0)
}

/// The fork server's pid, when one is running.
pub fn forkserver_pid() -> Option<u32> {
    lock(&FORKSERVER)
        .as_ref()
        .filter(|s| s.is_usable())
        .map(|s| s.pid)
}

/// The `forkserver` subcommand.
pub fn serve_forkserver() -> ! {
    forker::serve_forkserver()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn launcher() -> io::Result<MutexGuard<'static, Server>> {
    let server = LAUNCHER.get().ok_or_else(|| {
        io::Error::other(
            "the fork start method needs the launcher parabench forks at start-up, \
             before any thread exists, and this process has none",
        )
    })?;
    Ok(lock(server))
}

/// The running fork server, started (or restarted) if needed.
pub(super) fn forkserver() -> io::Result<MutexGuard<'static, Option<Server>>> {
    let mut slot = lock(&FORKSERVER);
    if !slot.as_ref().is_some_and(Server::is_usable) {
        if let Some(mut dead) = slot.take() {
            dead.stop();
        }
        *slot = Some(forker::start_forkserver(
            &child::worker_exe()?,
            REQUEST_TIMEOUT,
        )?);
    }
    Ok(slot)
}

/// Time to write `mib` MiB, generously.
fn hold_timeout(mib: u64) -> Duration {
    REQUEST_TIMEOUT + Duration::from_millis(mib.saturating_mul(10))
}

/// What a batch of a process model holds while it runs: the parent's
/// memory, where the method puts it in the harness.
#[must_use = "the parent's memory is released when this is dropped"]
pub struct Prepared {
    _ballast: Option<Ballast>,
}

/// Readies `start` before a batch's clock starts: the parent's memory in
/// its place, the fork server running. The parent's memory in the harness
/// is released when the returned value is dropped; the launcher's stays
/// until another batch asks for another size.
pub fn prepare(start: Start) -> io::Result<Prepared> {
    let in_harness = match start.method {
        StartMethod::Fork => {
            launcher()?.hold(start.parent_mib, hold_timeout(start.parent_mib))?;
            0
        }
        StartMethod::Spawn | StartMethod::Forkserver => {
            if start.method == StartMethod::Forkserver {
                drop(forkserver()?);
            }
            // The launcher's memory would be nobody's: free it.
            if let Some(server) = LAUNCHER.get() {
                let mut server = lock(server);
                if server.is_usable() {
                    server.hold(0, REQUEST_TIMEOUT)?;
                }
            }
            start.parent_mib
        }
    };
    Ok(Prepared {
        _ballast: Ballast::new(in_harness)?,
    })
}

/// Starts one worker (a pool worker when `pool`) by `method` and adds it to
/// `live`. Call it from a thread that outlives the worker (see
/// `child::spawn`); the forked methods' workers are tied to the thread that
/// started their server, which lives as long as the harness.
pub fn worker(method: StartMethod, pool: bool, live: &LiveChildren) -> io::Result<WorkerChild> {
    if method == StartMethod::Spawn {
        return child::spawn(pool, live);
    }
    forked(method, pool, live)
}

/// Starts a one-shot worker for `job` by `method`, adds it to `live`, and
/// returns it with the job sent and its stdin closed. A `fork` worker
/// inherits its job in memory, as Python's fork child inherits its Process
/// object; a `forkserver` one finds it in its stdin pipe before it exists,
/// so it never waits for it; a `spawn` one is sent it once started. A job
/// that cannot be sent shows as a worker without a reply, with its exit
/// status and stderr. Call it from a thread that outlives the worker (see
/// `worker`).
pub fn one_shot(method: StartMethod, job: &Job, live: &LiveChildren) -> io::Result<WorkerChild> {
    if method == StartMethod::Spawn {
        let mut worker = child::spawn(false, live)?;
        let _ = worker.send(job);
        worker.close_stdin();
        return Ok(worker);
    }
    let line = job_line(job)?;
    Ok(WorkerChild::forked(
        fork_one_shot(method, &line, REQUEST_TIMEOUT)?,
        live,
    ))
}

/// A job as a worker reads it: one JSON line.
pub(super) fn job_line(job: &Job) -> io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(job).map_err(io::Error::other)?;
    line.push(b'\n');
    Ok(line)
}

/// Forks a one-shot worker for the job `line` (`job_line`) by `method`'s
/// server: the job inherited under `fork` where it fits in a request,
/// written ahead into its stdin otherwise.
pub(super) fn fork_one_shot(
    method: StartMethod,
    line: &[u8],
    timeout: Duration,
) -> io::Result<forker::Forked> {
    match method {
        StartMethod::Fork if line.len() <= forker::MAX_INHERITED_JOB => {
            launcher()?.fork_with_job(line, timeout)
        }
        _ => fork_reading_job(method, line, timeout),
    }
}

/// Forks a one-shot worker that reads the job `line` from its stdin, where
/// it was written ahead: what `forkserver` does, and `fork` with a job too
/// large for a request.
pub(super) fn fork_reading_job(
    method: StartMethod,
    line: &[u8],
    timeout: Duration,
) -> io::Result<forker::Forked> {
    with_server(method, |s| s.fork(false, Some(line), timeout))
}

fn forked(method: StartMethod, pool: bool, live: &LiveChildren) -> io::Result<WorkerChild> {
    let forked = with_server(method, |s| s.fork(pool, None, REQUEST_TIMEOUT))?;
    Ok(WorkerChild::forked(forked, live))
}

/// Runs `f` on `method`'s fork server: the launcher, or the fork server
/// (started if needed).
fn with_server<T>(
    method: StartMethod,
    f: impl FnOnce(&mut Server) -> io::Result<T>,
) -> io::Result<T> {
    match method {
        StartMethod::Fork => f(&mut *launcher()?),
        _ => f(forkserver()?
            .as_mut()
            .ok_or_else(|| io::Error::other("no fork server"))?),
    }
}

/// Stops and reaps the launcher and the fork server: the end of a run.
pub fn shutdown() {
    if let Some(server) = LAUNCHER.get() {
        lock(server).stop();
    }
    if let Some(mut server) = lock(&FORKSERVER).take() {
        server.stop();
    }
}
