//! Where a forked worker's time goes: one trivial task at a time, through
//! the real fork server and the real worker, each step timed apart as the
//! harness, the server and the worker see it (CLOCK_MONOTONIC, shared by
//! every process), and the OS floor's fork + `_exit` + wait timed between
//! them, so the two are compared in the same minute. What
//! `examples/fork_phases.rs` prints; the model itself (`process.rs`) takes
//! the same steps without the clock reads.

use super::forker::{ForkTiming, now_ns};
use super::id::StartMethod;
use super::start;
use super::worker::{Job, Reply};
use crate::floor::{Mechanism, sample};
use crate::measure::{Exit, reap};
use crate::stop::Stop;
use crate::workload::{Kernel, Step, Task};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The steps of one task, in order; `PHASES[i]` names `Probe::ns[i]`.
pub const PHASES: [&str; 9] = [
    "pipes made (forkserver: the job written ahead)",
    "request sent → server awake",
    "server: job decoded (fork), thread check, clone → worker runs",
    "worker's pid sent → harness awake",
    "harness closes the worker's pipe ends",
    "pidfd_open",
    "worker gets its job, runs it, replies, exits → harness awake",
    "reply and pipe ends read",
    "wait4 (reap)",
];

/// Every task's steps (ns), and the floor's fork + exit + wait (ns) timed
/// between tasks.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub ns: [Vec<f64>; PHASES.len()],
    pub total_ns: Vec<f64>,
    pub floor_ns: Vec<f64>,
}

/// Makes the worker, not the server, answer fork requests from now on: the
/// experiment `examples/fork_phases.rs` runs with `worker-answers`.
pub fn set_worker_answers(on: bool) {
    super::forker::set_worker_answers(on);
}

/// The job goes through the worker's stdin under `fork` too: the
/// experiment `examples/fork_phases.rs` runs with `job-via-stdin`.
static JOB_VIA_STDIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes a `fork` worker read its job from stdin from now on, as a
/// `forkserver` one does, instead of inheriting it.
pub fn set_job_via_stdin(on: bool) {
    JOB_VIA_STDIN.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Each step's median and percentiles, the total and the floor, as a
/// results file keeps them.
pub fn summarize(method: StartMethod, p: &Probe) -> crate::results::ForkSteps {
    use crate::stats::percentile;
    let step = |name: &str, ns: &[f64]| crate::results::ForkStep {
        name: name.to_owned(),
        median_ns: percentile(ns, 0.5).unwrap_or(0.0),
        p10_ns: percentile(ns, 0.1).unwrap_or(0.0),
        p90_ns: percentile(ns, 0.9).unwrap_or(0.0),
    };
    crate::results::ForkSteps {
        start_method: method.id().to_owned(),
        tasks: p.total_ns.len(),
        steps: PHASES
            .iter()
            .zip(&p.ns)
            .map(|(n, ns)| step(n, ns))
            .collect(),
        total: step("total", &p.total_ns),
        floor: step("fork + _exit + wait", &p.floor_ns),
    }
}

/// How long one task may take before the probe gives up on it.
const TASK_LIMIT: Duration = Duration::from_secs(10);

/// Runs `n` trivial tasks on one-shot workers forked by `method`'s server
/// (`fork` or `forkserver`), alternating with the floor's fork + exit +
/// wait; stops early at `stop`.
/// With `sample_pss`, the model's `PssSampler` reads the live worker's
/// memory meanwhile, as it does during a `process` batch.
pub fn probe(method: StartMethod, n: usize, sample_pss: bool, stop: &Stop) -> io::Result<Probe> {
    if method == StartMethod::Spawn {
        return Err(io::Error::other("spawn has no fork server to probe"));
    }
    let job = Job {
        task: Task {
            idx: 0,
            steps: vec![Step::Cpu {
                kernel: Kernel::Hash,
                iters: 1,
                slice_iters: 1,
            }],
            releases_gil: false,
        },
        gil: None,
    };
    let line = start::job_line(&job)?;
    let live = std::sync::Arc::new(std::sync::Mutex::new(None::<u32>));
    let sampler = sample_pss.then(|| {
        let live = live.clone();
        crate::measure::PssSampler::start(move || {
            live.lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .collect()
        })
    });
    let mut out = Probe::default();
    for _ in 0..n {
        if stop.check().is_err() {
            break;
        }
        let floor = sample(Mechanism::ForkExitWait, 1, stop).map_err(io::Error::other)?;
        out.floor_ns.extend(floor.ns);
        let (steps, total) = one_task(method, &line, &live)?;
        for (all, step) in out.ns.iter_mut().zip(steps) {
            all.push(step);
        }
        out.total_ns.push(total);
    }
    if let Some(s) = sampler {
        s.finish();
    }
    Ok(out)
}

/// One task's steps and its total, in ns.
fn one_task(
    method: StartMethod,
    line: &[u8],
    live: &std::sync::Mutex<Option<u32>>,
) -> io::Result<([f64; PHASES.len()], f64)> {
    let t0 = now_ns();
    let forked = if JOB_VIA_STDIN.load(std::sync::atomic::Ordering::Relaxed) {
        start::fork_reading_job(method, line, TASK_LIMIT)?
    } else {
        start::fork_one_shot(method, line, TASK_LIMIT)?
    };
    let ForkTiming {
        requested_ns,
        received_ns,
        started_ns,
        answered_ns,
    } = forked.timing;
    let pid = forked.pid;
    *live.lock().unwrap_or_else(|e| e.into_inner()) = Some(pid);
    let (stdout, stderr) = (forked.stdout, forked.stderr);
    drop(forked.stdin);
    let returned = now_ns();
    // SAFETY: pidfd_open on our unreaped child; a non-negative result is a
    // new descriptor we own.
    let pidfd = unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
        if fd < 0 {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
            let _ = reap(pid);
            return Err(io::Error::last_os_error());
        }
        OwnedFd::from_raw_fd(fd as i32)
    };
    let opened = now_ns();
    let mut fd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut fd, 1, TASK_LIMIT.as_millis() as i32) };
    if ready != 1 {
        // SAFETY: our unreaped child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        let _ = reap(pid);
        return Err(io::Error::other(format!(
            "worker {pid} did not exit within {TASK_LIMIT:?}"
        )));
    }
    let exited = now_ns();
    // The worker has exited: both pipes are at their end after its output.
    let mut reply = Vec::new();
    std::fs::File::from(stdout).read_to_end(&mut reply)?;
    let mut err = Vec::new();
    std::fs::File::from(stderr).read_to_end(&mut err)?;
    let read = now_ns();
    *live.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let (exit, _) = reap(pid)?;
    let reaped = now_ns();
    let end = reply
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(reply.len());
    match serde_json::from_slice::<Reply>(&reply[..end]) {
        Ok(Reply::Done { .. }) if matches!(exit, Exit::Code(0)) => {}
        _ => {
            return Err(io::Error::other(format!(
                "worker {pid} ({exit}) gave no result: {}",
                String::from_utf8_lossy(&err).trim()
            )));
        }
    }
    let marks = [
        t0,
        requested_ns,
        received_ns,
        started_ns,
        answered_ns,
        returned,
        opened,
        exited,
        read,
        reaped,
    ];
    let mut steps = [0.0; PHASES.len()];
    for (i, step) in steps.iter_mut().enumerate() {
        *step = marks[i + 1].saturating_sub(marks[i]) as f64;
    }
    Ok((steps, (reaped - t0) as f64))
}
