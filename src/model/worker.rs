//! The child side of the process models: `parabench worker [--pool]` reads
//! jobs as JSON lines on stdin and answers each with a JSON line on stdout.
//! A pool worker first says `ready`, then serves jobs until stdin closes; a
//! one-shot worker serves one job and exits.
//!
//! A worker starts once per task under `process`, so it starts lean: the
//! binary hands a command line of the shape `child::spawn` writes to
//! `lean_args` before clap or anything else runs (`main.rs`), and the worker
//! arms its own parent-death signal (`--parent`), which lets the harness
//! start it with posix_spawn instead of a fork of itself.
//!
//! `PARABENCH_WORKER_FAULT=crash|hang` makes a worker abort or hang on its
//! first job: the fault-injection hook the tests use to prove a crashing or
//! hanging worker fails its case instead of hanging the harness.

use crate::gil::{Gil, GilKind};
use crate::results::GilCounters;
use crate::workload::{Task, TaskOutput};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{BufRead, Write};

pub const READY: &str = "ready";
pub const FAULT_ENV: &str = "PARABENCH_WORKER_FAULT";

/// The fingerprint of the sources this library was built from (build.rs).
/// `parabench-worker source-id` prints its own, and the harness starts that
/// binary only when it prints the harness's.
pub const SOURCE_ID: &str = env!("PARABENCH_SOURCE_ID");

/// The argument that asks `parabench-worker` for its `SOURCE_ID`.
pub const SOURCE_ID_ARG: &str = "source-id";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub task: Task,
    /// Run under this process's own emulated GIL (`process+gil`).
    pub gil: Option<GilKind>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Done {
        output: TaskOutput,
        gil: Option<GilCounters>,
    },
    Failed(String),
}

/// Runs one job where it is; what both worker kinds do per job. A process
/// has one GIL of its own, made at its first `+gil` job and kept for the
/// next ones; the reply carries what this job added to its counters.
pub fn run_job(job: &Job, gil: &mut Option<Gil>) -> Reply {
    let gil = job
        .gil
        .map(|kind| &*gil.get_or_insert_with(|| Gil::new(kind)));
    let before = gil.map(Gil::counters);
    match super::run_task(&job.task, gil) {
        Ok(output) => Reply::Done {
            output,
            gil: gil.zip(before).map(|(g, b)| g.counters().since(&b)),
        },
        Err(e) => Reply::Failed(format!("{e:#}")),
    }
}

/// How a worker was asked to run: `parabench worker [--pool] [--parent PID]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerArgs {
    /// Serve jobs until stdin closes, after saying `ready`.
    pub pool: bool,
    /// The harness's pid: the worker ties itself to it (`die_with_parent`).
    pub parent: Option<u32>,
}

impl WorkerArgs {
    /// The arguments after the binary's path, as `lean_args` reads them.
    pub fn to_args(self) -> Vec<String> {
        let mut args = vec!["worker".to_owned()];
        if self.pool {
            args.push("--pool".to_owned());
        }
        if let Some(pid) = self.parent {
            args.extend(["--parent".to_owned(), pid.to_string()]);
        }
        args
    }
}

/// The worker's command line read without clap, so that a worker skips the
/// whole command-line model of the other commands. `args` is the full
/// command line, program name first. None unless it is exactly what
/// `WorkerArgs::to_args` writes; the binary then parses it with clap, which
/// also explains a malformed one.
pub fn lean_args(args: impl IntoIterator<Item = OsString>) -> Option<WorkerArgs> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != "worker" {
        return None;
    }
    let mut out = WorkerArgs::default();
    while let Some(arg) = args.next() {
        match arg.to_str()? {
            "--pool" if !out.pool => out.pool = true,
            "--parent" if out.parent.is_none() => {
                out.parent = Some(args.next()?.to_str()?.parse().ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The `worker` subcommand (`parabench worker`, `parabench-worker worker`):
/// ties itself to the harness first when told its pid (the spawn start
/// method), then serves.
pub fn serve_as(args: WorkerArgs) -> anyhow::Result<()> {
    if let Some(parent) = args.parent {
        crate::measure::die_with_parent(parent).context("tying the worker to the harness")?;
    }
    serve(args.pool)
}

/// Serves jobs on stdin: one, or until stdin closes when `pool` (after
/// saying `ready`).
pub fn serve(pool: bool) -> anyhow::Result<()> {
    ignore_ctrl_c();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    if pool {
        writeln!(stdout, "{READY}")?;
        stdout.flush()?;
    }
    let fault = std::env::var(FAULT_ENV).ok();
    let mut gil = None;
    // One buffer each way for the whole life of the worker, and each reply
    // leaves in one write: a pool worker's per-job cost is a few µs.
    let (mut line, mut out) = (String::new(), Vec::new());
    loop {
        line.clear();
        if stdin
            .read_line(&mut line)
            .context("reading a job from stdin")?
            == 0
        {
            break;
        }
        let job: Job = serde_json::from_str(&line).context("decoding a job")?;
        inject_fault(fault.as_deref());
        let reply = run_job(&job, &mut gil);
        out.clear();
        serde_json::to_writer(&mut out, &reply)?;
        out.push(b'\n');
        stdout.write_all(&out)?;
        stdout.flush()?;
        if !pool {
            break;
        }
    }
    Ok(())
}

/// A `fork` worker's whole life: its job came with it, in the memory it
/// inherited from the launcher, so there is nothing to read or decode. It
/// runs the job and writes the reply to fd 1 in one write, from a buffer on
/// the stack where it fits. Every page a forked process writes, or first
/// runs, costs it a page fault (about 5 µs here), so this path leaves out
/// std's stdin and stdout, the environment, the allocator and libc's
/// wrappers where it can: a worker that read and decoded its job took
/// about 90 µs more per task here. Ctrl-C is ignored already: the
/// disposition comes from the server.
pub fn serve_inherited(job: &Job, fault: Option<&str>) -> anyhow::Result<()> {
    inject_fault(fault);
    let reply = run_job(job, &mut None);
    let mut line = StackLine::default();
    if serde_json::to_writer(&mut line, &reply).is_ok() && line.write_all(b"\n").is_ok() {
        return write_stdout(line.as_bytes());
    }
    let mut line = serde_json::to_vec(&reply)?;
    line.push(b'\n');
    write_stdout(&line)
}

/// A reply line in a buffer on the stack, left uninitialised until written
/// (zeroing it first would run memset, one more page of code).
struct StackLine {
    buf: [std::mem::MaybeUninit<u8>; 2048],
    len: usize,
}

impl Default for StackLine {
    fn default() -> StackLine {
        StackLine {
            buf: [std::mem::MaybeUninit::uninit(); 2048],
            len: 0,
        }
    }
}

impl StackLine {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes were written by `write`.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast(), self.len) }
    }
}

impl Write for StackLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = &mut self.buf[self.len..];
        if bytes.len() > room.len() {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        for (slot, &b) in room.iter_mut().zip(bytes) {
            slot.write(b);
        }
        self.len += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes all of `bytes` to fd 1 with the write system call itself.
fn write_stdout(mut bytes: &[u8]) -> anyhow::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice to our stdout.
        let n = unsafe { libc::syscall(libc::SYS_write, 1, bytes.as_ptr(), bytes.len()) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err).context("writing the reply");
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// What `PARABENCH_WORKER_FAULT` asks for, on a job.
fn inject_fault(fault: Option<&str>) {
    match fault {
        Some("crash") => std::process::abort(),
        Some("hang") => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        _ => {}
    }
}

/// A worker shares the harness's process group, so a terminal's Ctrl-C
/// reaches it too. It ignores it: the harness, which gets the same signal,
/// ends the batch as interrupted and kills its workers itself. A worker
/// that died of the signal first would fail its case instead, a race that
/// `start_methods::ctrl_c_leaves_no_process_of_any_start_method_behind`
/// lost under load (exit 1 instead of 130).
pub fn ignore_ctrl_c() {
    // SAFETY: changing this process's own signal disposition.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[&str]) -> Option<WorkerArgs> {
        lean_args(line.iter().map(OsString::from))
    }

    #[test]
    fn lean_args_read_what_to_args_writes() {
        for pool in [false, true] {
            for parent in [None, Some(1), Some(4_194_304)] {
                let args = WorkerArgs { pool, parent };
                let mut line = vec!["parabench".to_owned()];
                line.extend(args.to_args());
                let line: Vec<&str> = line.iter().map(String::as_str).collect();
                assert_eq!(parse(&line), Some(args), "{line:?}");
            }
        }
    }

    #[test]
    fn lean_args_leave_everything_else_to_clap() {
        for line in [
            &["parabench"][..],
            &["parabench", "run"],
            &["parabench", "run", "worker"],
            &["parabench", "worker", "--help"],
            &["parabench", "worker", "--pool", "--pool"],
            &["parabench", "worker", "--parent"],
            &["parabench", "worker", "--parent", "x"],
            &["parabench", "worker", "--parent", "-1"],
            &["parabench", "worker", "--parent", "1", "--parent", "2"],
            &["parabench", "worker", "extra"],
        ] {
            assert_eq!(parse(line), None, "{line:?}");
        }
    }
}
