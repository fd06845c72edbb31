//! The child side of the process models: `parabench worker [--pool]` reads
//! jobs as JSON lines on stdin and answers each with a JSON line on stdout.
//! A pool worker first says `ready`, then serves jobs until stdin closes; a
//! one-shot worker serves one job and exits.
//!
//! `PARABENCH_WORKER_FAULT=crash|hang` makes a worker abort or hang on its
//! first job: the fault-injection hook the tests use to prove a crashing or
//! hanging worker fails its case instead of hanging the harness.

use crate::gil::{Gil, GilKind};
use crate::results::GilCounters;
use crate::workload::{Task, TaskOutput};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

pub const READY: &str = "ready";
pub const FAULT_ENV: &str = "PARABENCH_WORKER_FAULT";

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

/// The `worker` subcommand.
pub fn serve(pool: bool) -> anyhow::Result<()> {
    ignore_ctrl_c();
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    if pool {
        writeln!(stdout, "{READY}")?;
        stdout.flush()?;
    }
    let mut gil = None;
    for line in stdin.lines() {
        let line = line.context("reading a job from stdin")?;
        let job: Job = serde_json::from_str(&line).context("decoding a job")?;
        inject_fault();
        let reply = run_job(&job, &mut gil);
        serde_json::to_writer(&mut stdout, &reply)?;
        writeln!(stdout)?;
        stdout.flush()?;
        if !pool {
            break;
        }
    }
    Ok(())
}

fn inject_fault() {
    match std::env::var(FAULT_ENV).as_deref() {
        Ok("crash") => std::process::abort(),
        Ok("hang") => loop {
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
