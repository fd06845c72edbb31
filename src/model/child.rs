//! Starting and ending worker processes: the harness's own binary re-executed
//! as `parabench worker`, with its pipes, a parent-death signal so it never
//! outlives the harness, and the set of live children a timeout or Ctrl-C
//! kills. Children are reaped with wait4, one by one, for their rusage.

use super::worker::{Job, Reply};
use crate::measure::{Exit, Usage, reap};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

static WORKER_EXE: OnceLock<PathBuf> = OnceLock::new();

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

/// A started worker. Spawn it from a thread that outlives it: the
/// parent-death signal fires when the spawning *thread* exits.
pub struct WorkerChild {
    pub pid: u32,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: ChildStderr,
}

pub fn spawn(pool: bool, live: &LiveChildren) -> std::io::Result<WorkerChild> {
    let mut cmd = Command::new(worker_exe()?);
    cmd.arg("worker");
    if pool {
        cmd.arg("--pool");
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::measure::die_with_harness(&mut cmd, false);
    // std's pipes are close-on-exec, so no child inherits another's stdin.
    let mut child = cmd.spawn()?;
    live.insert(child.id());
    Ok(WorkerChild {
        pid: child.id(),
        stdin: child.stdin.take(),
        stdout: BufReader::new(child.stdout.take().expect("stdout is piped")),
        stderr: child.stderr.take().expect("stderr is piped"),
    })
}

impl WorkerChild {
    /// A worker a fork server started (see `start`), added to `live`.
    pub(super) fn forked(f: super::forker::Forked, live: &LiveChildren) -> WorkerChild {
        live.insert(f.pid);
        WorkerChild {
            pid: f.pid,
            stdin: Some(ChildStdin::from(f.stdin)),
            stdout: BufReader::new(ChildStdout::from(f.stdout)),
            stderr: ChildStderr::from(f.stderr),
        }
    }

    pub fn send(&mut self, job: &Job) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("worker stdin already closed"))?;
        let mut line = serde_json::to_vec(job)?;
        line.push(b'\n');
        stdin.write_all(&line)?;
        stdin.flush()
    }

    /// Closes stdin: a pool worker then exits, a one-shot one after its job.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
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
        let line = self.read_line()?;
        serde_json::from_str(&line).map_err(std::io::Error::other)
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

    fn remove(&self, pid: u32) {
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
