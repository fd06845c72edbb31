//! The one-shot workers of `process` in flight, watched from the calling
//! thread alone: one poll(2) over each child's stdout, stderr and pidfd says
//! which has answered and which has exited, and a child is reaped (wait4,
//! rusage kept) once it has exited and both pipes are at their end.
//!
//! This replaced a reader thread per child: starting that thread and the
//! hand-offs between it, the child and the calling thread cost more than the
//! rest of the parent's side of a task (each wake-up on the other core costs
//! 40-70 µs here, more on a loaded machine).

use super::child::{Finished, LiveChildren, WorkerChild};
use super::worker::Reply;
use super::{Batch, ModelError};
use crate::measure::{Exit, Usage, reap};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{ChildStderr, ChildStdout};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A child's reply (or why there is none), when it arrived, and how the
/// child ended.
pub type Done = (std::io::Result<Reply>, Instant, Finished);

/// Read in slices of this much; a reply is one short line.
const CHUNK: usize = 4096;

/// How often a wait looks at the cancel flag.
const CANCEL_SLICE: Duration = Duration::from_millis(50);

struct Pending {
    pid: u32,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// Readable once the child has exited; None where the kernel has no
    /// pidfd_open (Linux < 5.3): the child is then reaped once both pipes
    /// are at their end, as a blocking wait4 on a child that is exiting.
    pidfd: Option<OwnedFd>,
    exited: bool,
    out: Vec<u8>,
    err: Vec<u8>,
    /// When the first line of stdout was complete.
    replied: Option<Instant>,
}

impl Pending {
    fn finished(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none() && (self.exited || self.pidfd.is_none())
    }
}

/// Children started, their job sent and their stdin closed, not yet reaped.
#[derive(Default)]
pub struct ChildSet {
    pending: Vec<Pending>,
}

impl ChildSet {
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Watches `child`, whose job was sent and whose stdin is closed.
    pub fn push(&mut self, child: WorkerChild) {
        let (pid, stdout, stderr) = child.into_pipes();
        self.pending.push(Pending {
            pid,
            stdout: Some(stdout),
            stderr: Some(stderr),
            pidfd: pidfd_open(pid),
            exited: false,
            out: Vec::new(),
            err: Vec::new(),
            replied: None,
        });
    }

    /// Waits until one child has exited and is reaped, until the batch's
    /// deadline or Ctrl-C.
    pub fn next_done(
        &mut self,
        live: &LiveChildren,
        batch: &Batch,
        started: Instant,
    ) -> Result<Done, ModelError> {
        loop {
            if let Some(done) = self.reap_one(live) {
                return Ok(done);
            }
            if batch.cancel.load(Ordering::Relaxed) {
                return Err(ModelError::Cancelled);
            }
            let now = Instant::now();
            if now >= batch.deadline {
                return Err(ModelError::TimedOut(now - started));
            }
            self.poll((batch.deadline - now).min(CANCEL_SLICE))
                .map_err(|e| ModelError::Worker(format!("watching workers: {e}")))?;
        }
    }

    /// Reaps every child left, after they were killed; gives up after
    /// `limit` (a child that cannot die is left to the parent-death signal).
    /// Returns what each reaped child used.
    pub fn drain(&mut self, live: &LiveChildren, limit: Duration) -> Vec<Usage> {
        let until = Instant::now() + limit;
        let mut usage = Vec::new();
        while !self.is_empty() {
            while let Some((_, _, finished)) = self.reap_one(live) {
                usage.push(finished.usage);
            }
            let left = until.saturating_duration_since(Instant::now());
            if self.is_empty() || left.is_zero() || self.poll(left.min(CANCEL_SLICE)).is_err() {
                break;
            }
        }
        usage
    }

    /// One poll over every open pipe and pidfd, for at most `timeout`; reads
    /// what is ready.
    fn poll(&mut self, timeout: Duration) -> std::io::Result<()> {
        // (index into pending, which: 0 stdout, 1 stderr, 2 pidfd)
        let mut which = Vec::with_capacity(self.pending.len() * 3);
        let mut fds = Vec::with_capacity(self.pending.len() * 3);
        for (i, p) in self.pending.iter().enumerate() {
            let mut watch = |fd: RawFd, what: u8| {
                which.push((i, what));
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            };
            if let Some(s) = &p.stdout {
                watch(s.as_raw_fd(), 0);
            }
            if let Some(s) = &p.stderr {
                watch(s.as_raw_fd(), 1);
            }
            if let (Some(fd), false) = (&p.pidfd, p.exited) {
                watch(fd.as_raw_fd(), 2);
            }
        }
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return match err.kind() {
                std::io::ErrorKind::Interrupted => Ok(()),
                _ => Err(err),
            };
        }
        for (fd, &(i, what)) in fds.iter().zip(&which) {
            if fd.revents == 0 {
                continue;
            }
            let p = &mut self.pending[i];
            match what {
                0 => {
                    if !read_some(&mut p.stdout, &mut p.out) {
                        p.stdout = None;
                    }
                    if p.replied.is_none() && p.out.contains(&b'\n') {
                        p.replied = Some(Instant::now());
                    }
                }
                1 => {
                    if !read_some(&mut p.stderr, &mut p.err) {
                        p.stderr = None;
                    }
                }
                _ => p.exited = true,
            }
        }
        Ok(())
    }

    /// Reaps a child that has exited with both pipes at their end, if any.
    fn reap_one(&mut self, live: &LiveChildren) -> Option<Done> {
        let i = self.pending.iter().position(Pending::finished)?;
        let p = self.pending.swap_remove(i);
        live.remove(p.pid);
        let (exit, usage) = reap(p.pid).unwrap_or((Exit::Code(-1), Usage::default()));
        let finished = Finished {
            exit,
            usage,
            stderr: String::from_utf8_lossy(&p.err).into_owned(),
        };
        let at = p.replied.unwrap_or_else(Instant::now);
        let reply = match p.out.iter().position(|&b| b == b'\n') {
            Some(end) => serde_json::from_slice(&p.out[..end]).map_err(std::io::Error::other),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "worker closed its output",
            )),
        };
        Some((reply, at, finished))
    }
}

/// One read from a pipe poll said is ready; false at its end (or on an
/// error, which ends it too).
fn read_some(pipe: &mut Option<impl Read>, buf: &mut Vec<u8>) -> bool {
    let Some(pipe) = pipe else { return false };
    let len = buf.len();
    buf.resize(len + CHUNK, 0);
    let n = loop {
        match pipe.read(&mut buf[len..]) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r.unwrap_or(0),
        }
    };
    buf.truncate(len + n);
    n > 0
}

/// A pidfd for our unreaped child `pid` (it cannot be reused before we reap
/// it), or None where the kernel has none.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a new fd that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
