//! Starting and ending worker processes: for the spawn start method
//! `parabench-worker` (or the harness's own binary re-executed as `parabench
//! worker`), with its pipes, a parent-death signal (the worker arms it
//! itself, `--parent`) so it never outlives the harness; the pipes of the
//! forked methods' workers (`start.rs`); and the set of live children a
//! timeout or Ctrl-C kills. Children are reaped with wait4, one by one, for
//! their rusage.

use super::worker::{Job, Reply, SOURCE_ID, SOURCE_ID_ARG, WorkerArgs};
use crate::measure::{Exit, Usage, reap};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

static WORKER_EXE: OnceLock<PathBuf> = OnceLock::new();
static SPAWN_EXE: OnceLock<PathBuf> = OnceLock::new();

/// The small worker binary built beside the harness
/// (src/bin/parabench-worker.rs).
pub const WORKER_BIN: &str = "parabench-worker";

/// Makes the process models start `exe` instead of the current executable
/// (test binaries are not parabench). Only the first call counts.
pub fn set_worker_exe(exe: PathBuf) {
    let _ = WORKER_EXE.set(exe);
}

/// The binary to re-execute for a child of the harness: this one, or the
/// one `set_worker_exe` named.
pub fn worker_exe() -> std::io::Result<PathBuf> {
    match WORKER_EXE.get() {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe(),
    }
}

/// What the spawn start method starts: `parabench-worker` beside the
/// harness, which starts faster, if it was built from the same sources, or
/// else the harness itself (`parabench worker`); both take the same command
/// line. Looked up once per run.
fn spawn_exe() -> std::io::Result<PathBuf> {
    if let Some(p) = SPAWN_EXE.get() {
        return Ok(p.clone());
    }
    let harness = worker_exe()?;
    let lean = harness.with_file_name(WORKER_BIN);
    let exe = if lean.is_file() && same_sources(&lean) {
        lean
    } else {
        harness
    };
    Ok(SPAWN_EXE.get_or_init(|| exe).clone())
}

/// Whether `exe source-id` prints this library's `SOURCE_ID` within a few
/// seconds. The child is killed after its answer (or the time limit) and
/// reaped, so no wait is unbounded.
pub fn same_sources(exe: &std::path::Path) -> bool {
    use std::os::fd::AsRawFd;
    let mut cmd = Command::new(exe);
    cmd.arg(SOURCE_ID_ARG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    crate::measure::die_with_harness(&mut cmd, false);
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    let mut answer = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut pipe = stdout.take(64);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut fd = libc::pollfd {
                fd: pipe.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, 10_000) as libc::c_int;
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut fd, 1, ms) } <= 0 {
                break; // no answer in time (or poll failed): not the same
            }
            let mut buf = [0u8; 64];
            match pipe.read(&mut buf) {
                Ok(n) if n > 0 => answer.extend_from_slice(&buf[..n]),
                _ => break,
            }
            if answer.ends_with(b"\n") {
                break;
            }
        }
    }
    // SAFETY: our unreaped child, so the pid cannot have been reused.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = reap(child.id());
    answer.trim_ascii() == SOURCE_ID.as_bytes()
}

/// A started worker. Spawn it from a thread that outlives it: the
/// parent-death signal fires when the spawning *thread* exits.
pub struct WorkerChild {
    pub pid: u32,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: ChildStderr,
    /// The job being sent and the reply being read, kept between jobs.
    buf: Vec<u8>,
    line: String,
}

pub fn spawn(pool: bool, live: &LiveChildren) -> std::io::Result<WorkerChild> {
    let mut cmd = Command::new(spawn_exe()?);
    // The worker arms its own parent-death signal (`--parent`): without a
    // `pre_exec` hook std starts it with posix_spawn (a vfork) instead of
    // forking the whole harness, which cost a millisecond per task here.
    let args = WorkerArgs {
        pool,
        parent: Some(std::process::id()),
    };
    cmd.args(args.to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // std's pipes are close-on-exec, so no child inherits another's stdin.
    let mut child = cmd.spawn()?;
    live.insert(child.id());
    Ok(WorkerChild {
        pid: child.id(),
        stdin: child.stdin.take(),
        stdout: BufReader::new(child.stdout.take().expect("stdout is piped")),
        stderr: child.stderr.take().expect("stderr is piped"),
        buf: Vec::new(),
        line: String::new(),
    })
}

impl WorkerChild {
    /// A worker a fork server started (see `start`), added to `live`.
    pub(super) fn forked(f: super::forker::Forked, live: &LiveChildren) -> WorkerChild {
        live.insert(f.pid);
        WorkerChild {
            pid: f.pid,
            stdin: f.stdin.map(ChildStdin::from),
            stdout: BufReader::new(ChildStdout::from(f.stdout)),
            stderr: ChildStderr::from(f.stderr),
            buf: Vec::new(),
            line: String::new(),
        }
    }

    pub fn send(&mut self, job: &Job) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("worker stdin already closed"))?;
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, job)?;
        self.buf.push(b'\n');
        stdin.write_all(&self.buf)?;
        stdin.flush()
    }

    /// Closes stdin: a pool worker then exits, a one-shot one after its job.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The pid and the output pipes, stdin closed, for a caller that watches
    /// them itself (`ChildSet`). Nothing may have been read yet.
    pub fn into_pipes(self) -> (u32, ChildStdout, ChildStderr) {
        debug_assert!(self.stdout.buffer().is_empty(), "a line was read already");
        (self.pid, self.stdout.into_inner(), self.stderr)
    }

    pub fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "worker closed its output",
            ));
        }
        Ok(line)
    }

    pub fn recv(&mut self) -> std::io::Result<Reply> {
        self.line.clear();
        if self.stdout.read_line(&mut self.line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "worker closed its output",
            ));
        }
        serde_json::from_str(&self.line).map_err(std::io::Error::other)
    }

    /// Closes stdin, collects stderr and reaps the child. Blocks until the
    /// child exits: callers kill it first when a deadline has passed. Its
    /// memory is sampled alive by the model's `PssSampler`, not here.
    pub fn finish(mut self, live: &LiveChildren) -> Finished {
        self.close_stdin();
        let mut stderr = String::new();
        let _ = self.stderr.read_to_string(&mut stderr);
        live.remove(self.pid);
        let (exit, usage) = reap(self.pid).unwrap_or((Exit::Code(-1), Usage::default()));
        Finished {
            exit,
            usage,
            stderr,
        }
    }
}

pub struct Finished {
    pub exit: Exit,
    pub usage: Usage,
    pub stderr: String,
}

impl Finished {
    /// Why a worker that did not answer died, in one line.
    pub fn describe(&self) -> String {
        let tail = self.stderr.trim().lines().last().unwrap_or("").trim();
        if tail.is_empty() {
            format!("worker {}", self.exit)
        } else {
            format!("worker {}: {tail}", self.exit)
        }
    }
}

/// Children started and not yet reaped. A pid leaves the set just before it
/// is reaped, under the lock, so `kill_all` never signals a reused pid.
#[derive(Clone, Default)]
pub struct LiveChildren(Arc<Mutex<HashSet<u32>>>);

impl LiveChildren {
    fn insert(&self, pid: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
    }

    pub(super) fn remove(&self, pid: u32) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
    }

    pub fn kill_all(&self) {
        let live = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for pid in live.iter() {
            // SAFETY: the pid is our unreaped child, so it cannot be reused yet.
            unsafe {
                libc::kill(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }

    /// The children alive now, for the memory sampler. A pid read here may
    /// be reaped before it is sampled; its reuse within one pass is unlikely
    /// and would only skew one sample.
    pub fn pids(&self) -> Vec<u32> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
}
