//! The `lifecycle` scenario: each state of a process's life (a zombie, an
//! orphan, daemon and non-daemon processes and threads, `terminate()` on a
//! lock holder and in the middle of a put), shown on the real OS and
//! recorded. `run` is the harness's side: it starts the demo process
//! (`parabench lifecycle-child`, `demo.rs`) in a process group of its own,
//! reads the states it prints, kills the whole group when the timeout
//! passes or Ctrl-C comes, reaps everything, and scans /proc for anything
//! left behind. The runner calls `run`; `main` calls `serve` in the demo.

mod demo;
mod mutex;
pub mod proc;
mod queue;
mod sys;

pub use demo::{EXPECTED, HANG_VAR, serve};

use crate::results::{CaseStatus, LifecycleResult, LifecycleState};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use sys::Ended;

/// The environment variable every process of a scenario carries (forked
/// children inherit it), which the stray scan looks for.
pub const MARKER_VAR: &str = "PARABENCH_LIFECYCLE";
/// The most the demo may print: its states, a few KiB each.
const MAX_REPORT_BYTES: u64 = 4 << 20;
const MAX_STDERR_BYTES: u64 = 64 << 10;
/// How long the harness waits for killed processes to be gone, and for the
/// demo's pipes to drain once it has ended.
const CLEANUP_WAIT: Duration = Duration::from_secs(5);

/// How the demo process ended.
enum Outcome {
    Ended(Ended),
    TimedOut,
    Interrupted,
    Failed(String),
}

/// Runs the demo for scenario `scenario`, giving it `timeout`; Ctrl-C
/// (`cancel`) ends it within 100 ms. Never panics; every failure is in the
/// result's status.
pub fn run(scenario: &str, timeout: Duration, cancel: &AtomicBool) -> LifecycleResult {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let harness_pid = std::process::id();
    let mut result = LifecycleResult {
        scenario: scenario.into(),
        status: CaseStatus::Ok,
        harness_pid,
        demo_pid: 0,
        marker: format!(
            "{MARKER_VAR}={harness_pid}-{}",
            RUNS.fetch_add(1, Ordering::Relaxed)
        ),
        wall_s: 0.0,
        states: Vec::new(),
        zombies_left: 0,
        strays_left: 0,
    };
    let started = Instant::now();
    // While the demo runs, the harness is a subreaper too: what the demo
    // leaves when it is killed comes back here, not to init (which in a
    // container may never reap it), and is reaped below. The runner starts
    // no other child meanwhile.
    let subreaper = sys::set_child_subreaper(true).is_ok();
    let outcome = supervise(&mut result, timeout, cancel);
    if subreaper {
        let _ = sys::set_child_subreaper(false);
    }
    result.wall_s = started.elapsed().as_secs_f64();
    result.status = judge(&result, &outcome, timeout);
    result
}

fn supervise(result: &mut LifecycleResult, timeout: Duration, cancel: &AtomicBool) -> Outcome {
    let exe = match crate::model::worker_exe() {
        Ok(exe) => exe,
        Err(e) => return Outcome::Failed(format!("finding the harness binary: {e}")),
    };
    let marker_value = result
        .marker
        .split_once('=')
        .map_or("", |(_, v)| v)
        .to_owned();
    let mut cmd = Command::new(exe);
    cmd.arg("lifecycle-child")
        .arg("--limit-ms")
        .arg(timeout.as_millis().max(1).to_string())
        .env(MARKER_VAR, &marker_value)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that one kill ends it and all it started.
    crate::measure::die_with_harness(&mut cmd, true);
    let deadline = Instant::now() + timeout;
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(format!("starting the demo process: {e}")),
    };
    let pid = child.id();
    result.demo_pid = pid;
    let lines = {
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = crossbeam_channel::unbounded::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout.take(MAX_REPORT_BYTES)).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let stderr = {
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = crossbeam_channel::bounded::<String>(1);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = (&mut pipe).take(MAX_STDERR_BYTES).read_to_string(&mut text);
            let _ = tx.send(text);
        });
        rx
    };
    let outcome = match sys::wait_until(pid, deadline, Some(cancel)) {
        Ok(Some(end)) => Outcome::Ended(end),
        waited => {
            // Past its time, Ctrl-C, or no way to wait: end the demo and
            // everything it started, reap it, and reap what came back here.
            let _ = sys::signal(-(pid as i32), libc::SIGKILL);
            let _ = sys::wait_until(pid, Instant::now() + CLEANUP_WAIT, None);
            reap_group(pid, &result.marker);
            match waited {
                Err(e) => Outcome::Failed(format!("waiting for the demo process: {e}")),
                _ if cancel.load(Ordering::Relaxed) => Outcome::Interrupted,
                _ => Outcome::TimedOut,
            }
        }
    };
    // Only now: anything of the scenario still here was left behind.
    let left = proc::leftovers(result.harness_pid, pid, &result.marker);
    result.zombies_left = left.zombies.len() as u32;
    result.strays_left = left.strays.len() as u32;
    if !left.strays.is_empty() || !left.zombies.is_empty() {
        for stray in &left.strays {
            let _ = sys::signal(*stray as i32, libc::SIGKILL);
        }
        reap_group(pid, &result.marker);
    }
    // The pipes close once the demo and everything it started are gone.
    let until = Instant::now() + CLEANUP_WAIT;
    while let Ok(line) = lines.recv_deadline(until) {
        match serde_json::from_str::<LifecycleState>(&line) {
            Ok(state) => result.states.push(state),
            Err(e) => {
                return Outcome::Failed(format!(
                    "the demo printed a line that is not a state: {e}"
                ));
            }
        }
    }
    if let Outcome::Ended(end) = outcome
        && end != Ended::Exited(0)
    {
        let text = stderr.recv_deadline(until).unwrap_or_default();
        let tail = text.trim().lines().last().unwrap_or("").trim().to_owned();
        return Outcome::Failed(format!("the demo process ended with {end}: {tail}"));
    }
    outcome
}

/// Reaps the scenario's processes that were re-parented to the harness
/// (its subreaper flag) once the demo died, until none of the demo's group
/// or marker is left or `CLEANUP_WAIT` has passed. Killed processes take a
/// moment to die; this polls /proc every millisecond meanwhile.
fn reap_group(group: u32, marker: &str) {
    let me = std::process::id();
    let deadline = Instant::now() + CLEANUP_WAIT;
    loop {
        let left = proc::leftovers(me, group, marker);
        if left.zombies.is_empty() && left.strays.is_empty() {
            return;
        }
        for pid in left.zombies.iter().chain(&left.strays) {
            if proc::ProcStat::read(*pid).is_some_and(|s| s.ppid == me) {
                let _ = sys::reap(*pid);
            }
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn judge(result: &LifecycleResult, outcome: &Outcome, timeout: Duration) -> CaseStatus {
    let mut why = Vec::new();
    match outcome {
        Outcome::Interrupted => return CaseStatus::Interrupted,
        Outcome::TimedOut => why.push(format!(
            "timed out after {} s: the demo and its process group were killed (raise --timeout)",
            timeout.as_secs_f64()
        )),
        Outcome::Failed(reason) => why.push(reason.clone()),
        Outcome::Ended(_) => {
            let missing: Vec<&str> = EXPECTED
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !result.states.iter().any(|s| s.state == *id && s.seen))
                .collect();
            if !missing.is_empty() {
                why.push(format!("not seen as expected: {}", missing.join(", ")));
            }
        }
    }
    if result.zombies_left > 0 || result.strays_left > 0 {
        why.push(format!(
            "left behind: {} zombie(s), {} stray process(es)",
            result.zombies_left, result.strays_left
        ));
    }
    if why.is_empty() {
        CaseStatus::Ok
    } else {
        CaseStatus::Failed(why.join("; "))
    }
}
