//! Running a batch where it can be ended: in a child, the harness's own
//! binary re-executed as `parabench contained`, which runs the batch under
//! its model and answers with the outcome. The deadlock cases run this way.
//! Threads stuck on a lock cannot be killed, but their process can: while
//! the child runs, the caller's `watch` looks for a deadlock (the lock
//! board's wait-for graph); when it finds one, or at the deadline or on
//! Ctrl-C, the child's whole process group is killed and reaped, and the
//! sweep goes on. The child leads its own group, so worker processes and a
//! CPython runner it starts die with it (the runner also by its
//! parent-death signal, from its own group).

use super::{Batch, BatchOutcome, ModelError, ModelId, TaskRecord, model_for};
use crate::gil::GilKind;
use crate::measure::{self, ChildUsage, Exit, Usage};
use crate::results::GilCounters;
use crate::workload::{Task, TaskOutput, TaskShape};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the parent looks at the child, the watch and the clock.
const POLL: Duration = Duration::from_millis(10);

/// The batch, as the child rebuilds it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ContainedJob {
    pub model: String,
    pub workers: usize,
    pub tasks: Vec<Task>,
    pub gil: Option<GilKind>,
    pub shape: Option<TaskShape>,
    pub switch_interval_ns: u64,
    /// MiB the parent holds while a process model starts workers (the
    /// start method travels in `model`).
    pub parent_mib: u64,
    /// The child's own deadline; the parent's comes first.
    pub timeout_ms: u64,
    /// The interpreter of a `cpython-*` model, as the parent found it.
    #[serde(default)]
    pub python: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainedReply {
    Done {
        /// Each task's output and its latency in ns.
        records: Vec<(TaskOutput, u64)>,
        wall_ns: u64,
        startup_ns: Option<u64>,
        gil: Option<GilCounters>,
        live_children: usize,
        children_peak_pss: Option<u64>,
        self_verified: bool,
    },
    Failed {
        kind: String,
        message: String,
    },
}

/// Runs `batch` under `model` in a contained child; `watch` is polled while
/// it runs and returns the cycle once it sees a deadlock.
pub fn run(
    model: ModelId,
    batch: &Batch,
    watch: &mut dyn FnMut() -> Option<String>,
) -> Result<BatchOutcome, ModelError> {
    let setup = |e: std::io::Error| ModelError::Setup(e.into());
    let left = batch.deadline.saturating_duration_since(Instant::now());
    let job = ContainedJob {
        model: model.to_string(),
        workers: batch.workers,
        tasks: batch.tasks.to_vec(),
        gil: batch.gil,
        shape: batch.shape.copied(),
        switch_interval_ns: batch.switch_interval.as_nanos() as u64,
        parent_mib: batch.start.parent_mib,
        // A second past the parent's: the parent decides the timeout.
        timeout_ms: left.as_millis() as u64 + 1000,
        python: model
            .kind
            .is_cpython()
            .then(|| {
                super::cpython::python_for(model.python)
                    .ok()
                    .map(|p| p.path)
            })
            .flatten(),
    };
    let body = serde_json::to_vec(&job).map_err(|e| ModelError::Setup(e.into()))?;
    let mut cmd = Command::new(super::child::worker_exe().map_err(setup)?);
    cmd.arg("contained")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so one kill ends everything it started.
    measure::die_with_harness(&mut cmd, true);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(setup)?;
    let mut group = Group {
        pid: child.id(),
        reaped: None,
    };
    let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_background(child.stderr.take().expect("stderr is piped"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A child that died at once closes its stdin; its stderr says why.
    let _ = stdin.write_all(&body);
    drop(stdin);

    let reply = loop {
        match stdout.recv_timeout(POLL) {
            Ok(bytes) => break bytes,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break Vec::new(),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
        }
        let stopped = if batch.cancel.load(Ordering::Relaxed) {
            Some(ModelError::Cancelled)
        } else if Instant::now() >= batch.deadline {
            Some(ModelError::TimedOut(started.elapsed()))
        } else {
            watch().map(ModelError::Deadlock)
        };
        if let Some(e) = stopped {
            group.kill();
            group.reap();
            return Err(e);
        }
    };
    // It has answered: whatever it left behind (a worker, a stuck
    // thread) ends with it. Killed before it is reaped, so the group id
    // cannot belong to anyone else yet.
    group.kill();
    let (exit, usage) = group.reap();
    let mut children = ChildUsage::default();
    children.add(&usage);
    let text = String::from_utf8_lossy(&reply);
    let parsed = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<ContainedReply>(l).ok());
    match parsed {
        Some(ContainedReply::Done {
            records,
            wall_ns,
            startup_ns,
            gil,
            live_children,
            children_peak_pss,
            self_verified,
        }) => Ok(BatchOutcome {
            records: records
                .into_iter()
                .map(|(output, latency_ns)| TaskRecord {
                    output,
                    latency: Duration::from_nanos(latency_ns),
                })
                .collect(),
            wall: Duration::from_nanos(wall_ns),
            startup: startup_ns.map(Duration::from_nanos),
            children,
            live_children: live_children + 1,
            children_peak_pss,
            gil,
            self_verified,
        }),
        Some(ContainedReply::Failed { kind, message }) => Err(error_of(&kind, message)),
        None => {
            let err = stderr.recv_timeout(POLL * 10).unwrap_or_default();
            let err = String::from_utf8_lossy(&err);
            let tail = err.trim().lines().last().unwrap_or("").trim().to_owned();
            Err(ModelError::Worker(format!(
                "the contained child ended ({exit}) without an answer{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            )))
        }
    }
}

fn kind_of(e: &ModelError) -> &'static str {
    match e {
        ModelError::TimedOut(_) => "timed-out",
        ModelError::Cancelled => "cancelled",
        ModelError::Worker(_) => "worker",
        ModelError::Task(_) => "task",
        ModelError::Setup(_) => "setup",
        ModelError::Skipped(_) => "skipped",
        ModelError::Deadlock(_) => "deadlock",
    }
}

fn error_of(kind: &str, message: String) -> ModelError {
    match kind {
        "timed-out" => ModelError::Worker(format!("the contained batch {message}")),
        "cancelled" => ModelError::Cancelled,
        "task" => ModelError::Task(anyhow::anyhow!(message)),
        "setup" => ModelError::Setup(anyhow::anyhow!(message)),
        "skipped" => ModelError::Skipped(message),
        "deadlock" => ModelError::Deadlock(message),
        _ => ModelError::Worker(message),
    }
}

/// The message of an error without its kind's prefix, as `error_of` takes it.
fn message_of(e: &ModelError) -> String {
    match e {
        ModelError::Worker(m) | ModelError::Skipped(m) | ModelError::Deadlock(m) => m.clone(),
        ModelError::Task(e) | ModelError::Setup(e) => format!("{e:#}"),
        e => e.to_string(),
    }
}

/// The `contained` subcommand: one job on stdin, one reply line on stdout.
pub fn serve() -> anyhow::Result<()> {
    use anyhow::Context;
    let mut body = String::new();
    std::io::stdin()
        .read_to_string(&mut body)
        .context("reading the job")?;
    let job: ContainedJob = serde_json::from_str(&body).context("decoding the job")?;
    let reply = match super::registry::parse(&job.model) {
        None => ContainedReply::Failed {
            kind: "setup".into(),
            message: format!("unknown model `{}`", job.model),
        },
        Some(model) => {
            if let Some(path) = job.python.as_deref().and_then(|p| p.to_str()) {
                // Asked again here: what the parent found, as this child sees it.
                super::cpython::use_python(crate::cpython::find(path).ok());
            }
            static NEVER: AtomicBool = AtomicBool::new(false);
            let batch = Batch {
                tasks: &job.tasks,
                workers: job.workers,
                deadline: Instant::now() + Duration::from_millis(job.timeout_ms),
                cancel: &NEVER,
                gil: job.gil,
                shape: job.shape.as_ref(),
                switch_interval: Duration::from_nanos(job.switch_interval_ns),
                start: super::Start {
                    method: model.start,
                    parent_mib: job.parent_mib,
                },
            };
            let outcome = model_for(model.kind).run(&batch);
            // A CPython runner ends with the batch, reaped by this child.
            super::end_sessions();
            match outcome {
                Ok(o) => ContainedReply::Done {
                    records: o
                        .records
                        .into_iter()
                        .map(|r| (r.output, r.latency.as_nanos() as u64))
                        .collect(),
                    wall_ns: o.wall.as_nanos() as u64,
                    startup_ns: o.startup.map(|d| d.as_nanos() as u64),
                    gil: o.gil,
                    live_children: o.live_children,
                    children_peak_pss: o.children_peak_pss,
                    self_verified: o.self_verified,
                },
                Err(e) => ContainedReply::Failed {
                    kind: kind_of(&e).into(),
                    message: message_of(&e),
                },
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &reply)?;
    writeln!(stdout)?;
    stdout.flush()?;
    Ok(())
}

/// Reads a pipe to its end on a helper thread.
fn read_in_background(
    mut pipe: impl Read + Send + 'static,
) -> crossbeam_channel::Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// The child and its process group: killed and reaped on every way out.
struct Group {
    pid: u32,
    reaped: Option<(Exit, Usage)>,
}

impl Group {
    fn kill(&self) {
        if self.reaped.is_some() {
            return;
        }
        // SAFETY: the child is not reaped, so its pid (and the group id
        // it set equal to it) cannot have been reused.
        unsafe {
            libc::kill(-(self.pid as libc::pid_t), libc::SIGKILL);
            libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
        }
    }

    /// Waits for the child (killed or ending) and keeps its usage.
    fn reap(&mut self) -> (Exit, Usage) {
        if let Some(done) = self.reaped {
            return done;
        }
        let done = measure::reap(self.pid).unwrap_or((Exit::Code(-1), Usage::default()));
        self.reaped = Some(done);
        done
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            self.kill();
            self.reap();
        }
    }
}
