//! The `cpython-*` models: the same workload run in the machine's real
//! python3 (threading, concurrent.futures, multiprocessing, asyncio) by
//! python/parabench_runner.py, one repetition per call, folded into the same
//! measurements as every other model. A case's calls share one runner, kept
//! until the end of its point (`end_sessions`). Skipped with a notice when python3 is
//! missing or too old.

use super::{Batch, BatchOutcome, Model, ModelError, ModelKind, PythonTag, TaskRecord};
use crate::cpython::{
    self, BoardRequest, CpythonModel as PyModel, CpythonRequest, EventRequest, FileRequest,
    LockRequest, PythonInfo, QueueRequest, SocketRequest, TaskRequest, TimerRequest,
};
use crate::measure::{ChildUsage, Usage};
use crate::workload::{Step, TaskOutput};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// A `cpython-*` kind, in the interpreter of that tag when a run has
/// several, else in the one `python()` gives.
pub struct CpythonModel(pub ModelKind, pub Option<PythonTag>);

/// The interpreter of the `cpython-*` models: the one the plan chose
/// (`use_python`), else `python3`, looked up once per process.
static PYTHON: RwLock<Option<Result<PythonInfo, String>>> = RwLock::new(None);

/// Runs the `cpython-*` models in `python` from now on; `None` goes back to
/// `python3` on PATH.
pub fn use_python(python: Option<PythonInfo>) {
    *PYTHON.write().unwrap_or_else(|e| e.into_inner()) = python.map(Ok);
}

/// The interpreter the `cpython-*` models run in, or why there is none.
pub fn python() -> Result<PythonInfo, String> {
    if let Some(found) = PYTHON.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return found.clone();
    }
    let mut slot = PYTHON.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| cpython::python3().map_err(|e| e.to_string()))
        .clone()
}

/// The interpreters of a run with several (`use_pythons`), by tag.
static PYTHONS: RwLock<Vec<(PythonTag, PythonInfo)>> = RwLock::new(Vec::new());

/// Runs the `cpython-*` models tagged with an interpreter's tag in it from
/// now on (a run of several interpreters); an empty list forgets them.
pub fn use_pythons(pythons: &[PythonInfo]) {
    *PYTHONS.write().unwrap_or_else(|e| e.into_inner()) = pythons
        .iter()
        .map(|p| (PythonTag::of(p), p.clone()))
        .collect();
}

/// The interpreter of `tag`, or `python()` for an untagged model.
pub fn python_for(tag: Option<PythonTag>) -> Result<PythonInfo, String> {
    let Some(tag) = tag else { return python() };
    PYTHONS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| format!("no Python {tag} among this run's interpreters (--python)"))
}

/// The python kernel's iterations per ms, from the first call that
/// calibrated it: later calls reuse it, so every call of a run does the same
/// work and repetitions pair up with the baseline's.
static PY_ITERS_PER_MS: OnceLock<f64> = OnceLock::new();

/// The same, per interpreter of a run with several: each interpreter's
/// kernel runs at its own speed, and each model is paired with its own
/// interpreter's baseline.
static TAGGED_ITERS_PER_MS: RwLock<Vec<(PythonTag, f64)>> = RwLock::new(Vec::new());

fn iters_per_ms(tag: Option<PythonTag>) -> Option<f64> {
    match tag {
        None => PY_ITERS_PER_MS.get().copied(),
        Some(tag) => TAGGED_ITERS_PER_MS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| *v),
    }
}

fn keep_iters_per_ms(tag: Option<PythonTag>, value: f64) {
    match tag {
        None => {
            let _ = PY_ITERS_PER_MS.set(value);
        }
        Some(tag) => {
            let mut all = TAGGED_ITERS_PER_MS
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if !all.iter().any(|(t, _)| *t == tag) {
                all.push((tag, value));
            }
        }
    }
}

/// What a runner is set up for by its first request and keeps: two
/// batches with the same key can share a runner (and its pools).
#[derive(Debug, Clone, PartialEq)]
struct SessionKey {
    python: std::path::PathBuf,
    model: PyModel,
    workers: usize,
    start_method: Option<String>,
    parent_mib: u64,
    switch_interval: Duration,
}

/// The runners of the point being measured, one per case, kept across its
/// repetitions: a repetition then pays neither the interpreter's start nor
/// its pool's (timed once, by the first). `end_point` ends them.
static SESSIONS: Mutex<Vec<(SessionKey, cpython::Session)>> = Mutex::new(Vec::new());

/// A kept runner starts a fresh pool for its first requests, so that a
/// pool's start-up has several samples per case (a slope across the sweep
/// needs more than one pair of points for an interval), and keeps the last.
const POOL_STARTS: u32 = 2;

/// How long a runner may take to shut its pools down and exit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Ends every kept runner: each shuts its pools down and exits, or is
/// killed; all are reaped. Called at the end of every point, so that no
/// idle interpreter or pool outlives the cases it served.
pub fn end_sessions() {
    let sessions = std::mem::take(&mut *SESSIONS.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, session) in sessions {
        // A runner that will not exit is killed and reaped all the same.
        let _ = session.close(CLOSE_TIMEOUT);
    }
}

/// Runs `request` in the kept runner for `key`, starting one if there is
/// none; a runner that fails is ended, not kept.
fn run_in_session(
    python: &PythonInfo,
    key: SessionKey,
    request: &CpythonRequest,
    timeout: Duration,
) -> anyhow::Result<cpython::CpythonResponse> {
    let kept = {
        let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| sessions.swap_remove(i).1)
    };
    let mut session = match kept {
        Some(session) => session,
        None => cpython::Session::start(python, request.model)?,
    };
    let request = CpythonRequest {
        fresh_pool: session.served() < POOL_STARTS,
        ..request.clone()
    };
    let response = session.request(&request, timeout)?;
    SESSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((key, session));
    Ok(response)
}

/// The runner's model for a `cpython-*` kind; None for any other kind,
/// which is an error, never a fallback to some other model.
fn python_model(kind: ModelKind) -> Option<PyModel> {
    Some(match kind {
        ModelKind::CpythonSequential => PyModel::Sequential,
        ModelKind::CpythonThread => PyModel::Thread,
        ModelKind::CpythonThreadPool => PyModel::ThreadPool,
        ModelKind::CpythonProcess => PyModel::Process,
        ModelKind::CpythonProcessPool => PyModel::ProcessPool,
        ModelKind::CpythonAsyncio => PyModel::Asyncio,
        ModelKind::CpythonGreenlet => PyModel::Greenlet,
        ModelKind::CpythonGevent => PyModel::Gevent,
        ModelKind::CpythonInterpreterPool => PyModel::InterpreterPool,
        _ => return None,
    })
}

impl Model for CpythonModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        let python = python_for(self.1).map_err(ModelError::Skipped)?;
        let python = &python;
        let model = python_model(self.0).ok_or_else(|| {
            ModelError::Setup(anyhow::anyhow!("`{}` is not a CPython model", self.0))
        })?;
        let legacy = python.version.major < 3;
        if let Some(why) = cpython::legacy::unsupported(python, model) {
            return Err(ModelError::Skipped(why));
        }
        if !legacy {
            super::coroutine::python_module_or_skip(python, model)?;
        }
        let shape = batch
            .shape
            .ok_or_else(|| ModelError::Setup(anyhow::anyhow!("no task shape for python")))?;
        // The last task has every IO step (at a convoy point, it is the probe).
        let steps = batch.tasks.last().map_or(&[][..], |t| &t.steps[..]);
        let board = steps.iter().find_map(Step::board);
        let request = CpythonRequest {
            model,
            workers: batch.workers,
            tasks: batch.tasks.len(),
            repetitions: 1,
            warmup: 0,
            task: TaskRequest {
                cpu_ms: shape.cpu_ms,
                kernel: shape.kernel.id().into(),
                iters_per_ms: iters_per_ms(self.1),
                sleep_ms: shape.sleep_ms,
                socket: steps.iter().find_map(|s| {
                    let (addr, warmup, round_trips, message_bytes, server_delay_us) = match s {
                        Step::Socket {
                            addr,
                            round_trips,
                            message_bytes,
                            server_delay_us,
                        } => (addr, &0, round_trips, message_bytes, server_delay_us),
                        Step::Probe {
                            addr,
                            warmup,
                            round_trips,
                            message_bytes,
                            server_delay_us,
                            ..
                        } => (addr, warmup, round_trips, message_bytes, server_delay_us),
                        _ => return None,
                    };
                    Some(SocketRequest {
                        addr: *addr,
                        warmup_round_trips: *warmup,
                        round_trips: *round_trips,
                        message_bytes: *message_bytes as usize,
                        server_delay_us: *server_delay_us,
                    })
                }),
                file: steps.iter().find_map(|s| match s {
                    Step::File { dir, kib } => Some(FileRequest {
                        dir: dir.clone(),
                        kib: *kib,
                    }),
                    _ => None,
                }),
                touch_kib: steps
                    .iter()
                    .find_map(|s| match s {
                        Step::Touch { kib } => Some(*kib),
                        _ => None,
                    })
                    .unwrap_or(0),
            },
            switch_interval_s: Some(batch.switch_interval.as_secs_f64()),
            // Only a convoy's tasks meet on a board.
            convoy: board.is_some(),
            board: board.map(|b| BoardRequest {
                path: b.path.clone(),
                cpu_tasks: b.cpu_tasks,
                limit_s: b.limit().as_secs_f64(),
            }),
            start_method: self
                .0
                .uses_processes()
                .then(|| batch.start.method.id().to_owned()),
            parent_mib: if self.0.uses_processes() {
                batch.start.parent_mib
            } else {
                0
            },
            lock: lock_request(steps, shape),
            queue: queue_request(steps),
            event: steps.iter().find_map(|s| match s {
                Step::Event(e) => Some(EventRequest {
                    waiters: e.shape.waiters,
                    rounds: e.shape.rounds,
                    limit_s: e.board.limit().as_secs_f64(),
                }),
                _ => None,
            }),
            timer: steps.iter().find_map(|s| match s {
                Step::Timer(t) => Some(TimerRequest {
                    timers: t.shape.timers,
                    delay_ms: t.shape.delay_ms,
                    limit_s: t.board.limit().as_secs_f64(),
                }),
                _ => None,
            }),
            fresh_pool: false,
        };
        if let Some(why) = legacy.then(|| cpython::legacy::refused(&request)).flatten() {
            return Err(ModelError::Skipped(why));
        }
        let timeout = batch.deadline.saturating_duration_since(Instant::now());
        let started = Instant::now();
        let response = if legacy {
            // Python 2's runner is one-shot: a fresh interpreter per call.
            cpython::legacy::run(python, &request, timeout)
        } else {
            let key = SessionKey {
                python: python.path.clone(),
                model,
                workers: batch.workers,
                start_method: request.start_method.clone(),
                parent_mib: request.parent_mib,
                switch_interval: batch.switch_interval,
            };
            run_in_session(python, key, &request, timeout)
        };
        let response = response.map_err(|e| {
            // The driver kills python at `timeout`; report that as the case's timeout.
            if Instant::now() >= batch.deadline {
                ModelError::TimedOut(started.elapsed())
            } else {
                ModelError::Worker(format!("{e:#}"))
            }
        })?;
        if let Some(cal) = &response.calibration {
            keep_iters_per_ms(self.1, cal.iters_per_ms);
        }
        if request.start_method.is_some() && response.start_method != request.start_method {
            return Err(ModelError::Worker(format!(
                "python started its workers by {:?}, not {:?}",
                response.start_method, request.start_method
            )));
        }
        if !response.checksum_ok {
            return Err(ModelError::Worker(
                "python's tasks did not reproduce its sequential checksum".into(),
            ));
        }
        let rep = response
            .repetitions
            .first()
            .ok_or_else(|| ModelError::Worker("python returned no repetition".into()))?;
        let ms = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1e3);
        let last = rep.task_run_ms.len().saturating_sub(1);
        let records = rep
            .task_latency_ms
            .iter()
            .zip(&rep.task_run_ms)
            .enumerate()
            .map(|(idx, (&latency, &run))| TaskRecord {
                output: TaskOutput {
                    idx: idx as u32,
                    // Python checked its checksums against its own reference.
                    checksum: 0,
                    run_ns: ms(run).as_nanos() as u64,
                    // Python times the round trips of its last (IO) task.
                    round_trips_ns: if idx == last {
                        rep.round_trips_ms
                            .iter()
                            .map(|&t| ms(t).as_nanos() as u64)
                            .collect()
                    } else {
                        Vec::new()
                    },
                    lock: rep.lock_units.get(idx).cloned().map(Box::new),
                    queue: rep.queue_units.get(idx).cloned().map(Box::new),
                    wake: rep.wake_units.get(idx).cloned().map(Box::new),
                },
                latency: ms(latency),
            })
            .collect();
        // The python process and its children: CPU and switches from the
        // runner's getrusage deltas, memory as the interpreter's peak plus
        // its largest child's for every child that can be alive at once
        // (RSS), or as the runner's own sum of their peak PSS.
        let live = if self.0.uses_processes() {
            batch.workers.min(batch.tasks.len())
        } else {
            0
        };
        let mut children = ChildUsage::default();
        children.add(&Usage {
            user: Duration::from_secs_f64(rep.cpu_user_s.max(0.0)),
            sys: Duration::from_secs_f64(rep.cpu_sys_s.max(0.0)),
            ctx_voluntary: rep.ctx_voluntary,
            ctx_involuntary: rep.ctx_involuntary,
            max_rss_bytes: rep.peak_rss_bytes,
            // The runner sums the peak PSS of itself and its live children.
            peak_pss_bytes: rep.peak_pss_bytes,
        });
        children
            .peak_rss
            .extend(std::iter::repeat_n(rep.children_peak_rss_bytes, live));
        // Already inside the runner's sum above.
        children.peak_pss.extend(std::iter::repeat_n(Some(0), live));
        Ok(BatchOutcome {
            records,
            wall: Duration::from_secs_f64(rep.wall_s),
            startup: rep.startup_s.map(Duration::from_secs_f64),
            children,
            live_children: 1 + live,
            children_peak_pss: None,
            gil: None,
            self_verified: true,
        })
    }
}

/// A lock batch's request: the units' board and the shape's keys (Python
/// calibrates its own kernel for the work in and out of the lock).
fn lock_request(steps: &[Step], shape: &crate::workload::TaskShape) -> Option<LockRequest> {
    let lock = shape.lock?;
    let board = steps.iter().find_map(|s| match s {
        Step::Lock(l) => Some(&l.board),
        _ => None,
    })?;
    Some(LockRequest {
        board: board.path.clone(),
        primitive: lock.primitive.id().into(),
        depth: lock.depth,
        permits: lock.permits,
        sections: lock.sections,
        hold_us: lock.hold_us,
        outside_us: lock.outside_us,
        deadlock: lock.deadlock.map(|d| d.id().into()),
        limit_s: board.limit().as_secs_f64(),
    })
}

/// A queue batch's request: its board and shape.
fn queue_request(steps: &[Step]) -> Option<QueueRequest> {
    let step = steps.iter().find_map(|s| match s {
        Step::Queue(q) => Some(q),
        _ => None,
    })?;
    let q = &step.shape;
    Some(QueueRequest {
        board: step.board.path.clone(),
        producers: q.producers,
        consumers: q.consumers,
        capacity: q.capacity,
        item_bytes: q.item_bytes,
        items: q.items,
        semantics: q.semantics.id().into(),
        daemon: q.daemon,
        limit_s: step.board.limit().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpython_kind_has_its_own_python_model_and_no_other_kind_has_one() {
        let mapped: Vec<PyModel> = ModelKind::CPYTHON
            .into_iter()
            .map(|k| python_model(k).expect("a cpython kind"))
            .collect();
        assert_eq!(mapped, PyModel::ALL);
        for kind in ModelKind::ALL {
            assert_eq!(python_model(kind), None, "{kind}");
        }
    }

    #[test]
    fn a_native_kind_is_refused_not_run_as_asyncio() {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let batch = Batch {
            tasks: &[],
            workers: 1,
            deadline: Instant::now() + Duration::from_secs(5),
            cancel: &cancel,
            gil: None,
            shape: None,
            switch_interval: Duration::from_millis(5),
            start: Default::default(),
        };
        match CpythonModel(ModelKind::Thread, None).run(&batch) {
            Err(ModelError::Setup(e)) => assert!(e.to_string().contains("not a CPython model")),
            // Without python3 the model is skipped before it looks at its kind.
            Err(ModelError::Skipped(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}
