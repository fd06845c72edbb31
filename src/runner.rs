//! Runs a plan: calibrates, then for each point of the plan (a scenario's
//! (tasks, size) point, resolved by `plan` with its cases) runs every
//! (model, workers) case for warm-up and measured repetitions,
//! interleaved so drift hits all models alike, verifies every checksum,
//! summarizes, and rewrites results.json atomically after every point.
//! The only place that measures.

mod coordination;
mod granularity;
mod io_models;
mod wake;

use crate::measure::{self, Latencies};
use crate::model::{Batch, BatchOutcome, Model, ModelError, ModelId, ModelKind, model_for};
use crate::plan::{CasePlan, Plan, Point, PointPlan, Scenario};
use crate::results::{
    Calibration, CaseResult, CaseStatus, GilCounters, Harness, HarnessCpu, PythonRecord,
    Repetition, RunReport, SCHEMA_VERSION, ScenarioInfo, Settings, TimerFloor,
};
use crate::spec::WorkloadKind;
use crate::stats;
use crate::stop::{Stop, Stopped};
use crate::workload::{
    Board, BoardRef, Kernel, PROBE_WARMUP_ROUND_TRIPS, Step, Task, echo::EchoServer,
    expected_checksum_with,
};
use anyhow::Context;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct RunOptions {
    pub out_dir: PathBuf,
    pub command_line: Vec<String>,
}

/// Called as the run goes, for the progress bar.
pub enum Event<'a> {
    Planned {
        runs: u64,
    },
    /// A point needs another round of its cases (an undecided verdict).
    MoreRuns {
        runs: u64,
    },
    Calibrating,
    Running {
        scenario: &'a str,
        model: ModelId,
        workers: usize,
    },
    RunDone,
    CaseDone(&'a CaseResult),
}

/// Which implementation runs a model kind: `model_for`, or in tests a fake.
pub type Models<'a> = &'a dyn Fn(ModelKind) -> Box<dyn Model>;

/// Runs the whole plan. Returns the report; it is also in `out_dir/results.json`.
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> anyhow::Result<RunReport> {
    run_with(plan, opts, cancel, on_event, &model_for)
}

/// `run`, with the models from `models`: a deterministic fake makes the
/// runner testable without processes or timing.
pub fn run_with(
    plan: &Plan,
    opts: &RunOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
    models: Models,
) -> anyhow::Result<RunReport> {
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("creating the output directory {}", opts.out_dir.display()))?;
    let results_path = opts.out_dir.join("results.json");

    on_event(Event::Planned {
        runs: plan
            .points
            .iter()
            .map(|p| p.cases.len() as u64 * (p.warmup + p.repetitions) as u64)
            .sum(),
    });
    let environment = crate::results::Environment::at_start();
    crate::model::use_python(plan.settings.python.clone());
    crate::model::use_pythons(&plan.settings.pythons);
    let runs_cpython = plan
        .scenarios
        .iter()
        .any(|s| s.models.iter().any(|m| m.kind.is_cpython()));
    let record = |p: &crate::cpython::PythonInfo, tag: Option<String>| PythonRecord {
        path: p.path.display().to_string(),
        version: p.version.to_string(),
        free_threaded: p.free_threaded,
        gil_enabled: p.gil_enabled,
        tag,
    };
    let python = runs_cpython
        .then(|| crate::model::python().ok())
        .flatten()
        .map(|p| record(&p, None));
    let pythons: Vec<PythonRecord> = plan
        .settings
        .pythons
        .iter()
        .filter(|_| runs_cpython)
        .map(|p| record(p, Some(crate::model::PythonTag::of(p).to_string())))
        .collect();
    on_event(Event::Calibrating);
    let run_started = (measure::self_usage(), measure::reaped_children_usage());
    let before = measure::self_usage();
    let (calibration, calibrated) = calibrate(plan, cancel);
    let calibration_cpu = measure::self_usage().since(&before);
    let (mut floor, floor_done) = match calibrated {
        Ok(()) => measure_floor(plan, cancel),
        Err(_) => (Vec::new(), Ok(())),
    };
    if floor_done.is_ok() {
        explain_fork_floor(plan, &mut floor, cancel);
    }
    // The coroutine figures, once per run, each within the case timeout.
    let (coroutine, coroutine_done) = match (&calibrated, &floor_done, plan.coroutine_request()) {
        (Ok(()), Ok(()), Some(req)) => {
            crate::coroutine::measure(&req, plan.settings.case_timeout, cancel)
        }
        _ => (Vec::new(), Ok(())),
    };
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        harness: Harness {
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: crate::machine::git_commit(),
            started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            command_line: opts.command_line.clone(),
        },
        machine: crate::machine::record(),
        settings: Settings {
            repetitions: 0,
            min_repetitions: plan.points.iter().map(|p| p.repetitions).min().unwrap_or(0),
            max_repetitions: plan
                .points
                .iter()
                .map(|p| p.max_repetitions)
                .max()
                .unwrap_or(0),
            point_budget_s: plan.settings.point_budget.as_secs_f64(),
            warmup: plan.points.iter().map(|p| p.warmup).max().unwrap_or(0),
            quick: plan.settings.quick,
            case_timeout_s: plan.settings.case_timeout.as_secs_f64(),
            sources: plan.settings.sources.clone(),
        },
        calibration,
        interrupted: calibrated.is_err() || floor_done.is_err() || coroutine_done.is_err(),
        // A floor scenario has no cases: its figures are `floor`.
        scenarios: plan
            .scenarios
            .iter()
            .filter(|s| s.workload != WorkloadKind::Floor)
            .map(scenario_info)
            .collect(),
        cases: Vec::new(),
        fidelity: Vec::new(),
        lifecycle: Vec::new(),
        io_models: Vec::new(),
        python,
        pythons,
        environment,
        harness_cpu: Some(HarnessCpu {
            calibration_s: cpu_seconds(&calibration_cpu),
            ..HarnessCpu::default()
        }),
        floor,
        granularity: Vec::new(),
        coroutine,
    };
    crate::atomic_file::write(&results_path, &serde_json::to_vec_pretty(&report)?)?;
    if report.interrupted {
        return Ok(report);
    }

    let echo = if plan.points.iter().any(|p| p.point.shape.socket.is_some()) {
        Some(EchoServer::start()?)
    } else {
        None
    };
    let scratch = tempfile::Builder::new()
        .prefix("parabench-")
        .tempdir()
        .context("creating the io-file scratch directory")?;
    let env = Env {
        calibration: report.calibration.clone(),
        echo: echo.as_ref().map(EchoServer::addr),
        scratch: scratch.path(),
        cores: report.machine.logical_cores,
        timeout: plan.settings.case_timeout,
        point_budget: plan.settings.point_budget,
        cancel,
        convoy_cpu: crate::workload::board::convoy_cpu(),
        references: RefCell::default(),
        cpu: RefCell::new(report.harness_cpu.unwrap_or_default()),
        models,
    };

    for point in &plan.points {
        let undecided = |cases: &[CaseResult]| undecided_verdicts(&report, cases);
        let cases = run_point(point, &env, &undecided, on_event);
        for case in &cases {
            on_event(Event::CaseDone(case));
        }
        report.cases.extend(cases);
        report.settings.repetitions = report
            .cases
            .iter()
            .map(|c| c.repetitions.len() as u32)
            .max()
            .unwrap_or(0);
        report.fidelity = crate::fidelity::pairs(&report.cases);
        report.harness_cpu = Some(HarnessCpu {
            total_s: cpu_seconds(&measure::self_usage().since(&run_started.0))
                + cpu_seconds(&measure::reaped_children_usage().since(&run_started.1)),
            ..*env.cpu.borrow()
        });
        report.interrupted = cancel.load(Ordering::Relaxed);
        crate::atomic_file::write(&results_path, &serde_json::to_vec_pretty(&report)?)?;
        if report.interrupted {
            break;
        }
    }
    // Granularity searches have no points: each asks for its own.
    for sweep in plan.granularity_sweeps() {
        if report.interrupted {
            break;
        }
        let done = granularity::run_sweep(&sweep, &env, on_event);
        report.granularity.push(done);
        report.interrupted = cancel.load(Ordering::Relaxed);
        crate::atomic_file::write(&results_path, &serde_json::to_vec_pretty(&report)?)?;
    }
    // Lifecycle scenarios have no points: each is one run of its demo.
    for s in plan
        .scenarios
        .iter()
        .filter(|s| s.workload == WorkloadKind::Lifecycle)
    {
        if report.interrupted {
            break;
        }
        report.lifecycle.push(crate::lifecycle::run(
            &s.name,
            plan.settings.case_timeout,
            cancel,
        ));
        report.interrupted = cancel.load(Ordering::Relaxed);
        crate::atomic_file::write(&results_path, &serde_json::to_vec_pretty(&report)?)?;
    }
    // IO-model scenarios have no points either: each runs its own sweep
    // of connections against its own echo server process.
    for s in plan
        .scenarios
        .iter()
        .filter(|s| s.workload == WorkloadKind::IoModels)
    {
        if report.interrupted {
            break;
        }
        let mut saved: anyhow::Result<()> = Ok(());
        io_models::run(s, plan.settings.case_timeout, cancel, &mut |r| {
            report.io_models.push(r);
            if saved.is_ok() {
                saved = serde_json::to_vec_pretty(&report)
                    .map_err(anyhow::Error::from)
                    .and_then(|bytes| crate::atomic_file::write(&results_path, &bytes));
            }
        });
        saved?;
        report.interrupted = cancel.load(Ordering::Relaxed);
    }
    report.environment.finish();
    crate::atomic_file::write(&results_path, &serde_json::to_vec_pretty(&report)?)?;
    Ok(report)
}

/// What every case of the run shares.
struct Env<'a> {
    calibration: Calibration,
    echo: Option<std::net::SocketAddr>,
    scratch: &'a Path,
    cores: usize,
    timeout: Duration,
    point_budget: Duration,
    cancel: &'a AtomicBool,
    /// The CPU a convoy's GIL-sharing threads run on (`board::convoy_cpu`).
    convoy_cpu: Option<u32>,
    /// Reference checksums of CPU work, by (kernel, seed, iterations):
    /// each distinct task is computed once per run, however many points,
    /// models and repetitions share it.
    references: RefCell<HashMap<(Kernel, u64, u64), u64>>,
    /// The CPU time spent so far, by purpose.
    cpu: RefCell<HarnessCpu>,
    models: Models<'a>,
}

fn cpu_seconds(u: &measure::Usage) -> f64 {
    (u.user + u.sys).as_secs_f64()
}

/// Which of `cases` (a point's cases, not yet in `report`) the verdicts
/// that are undecided for want of repetitions rest on: `wanted[i]` for
/// `cases[i]`. All false when every verdict on them is decided.
fn undecided_verdicts(report: &RunReport, cases: &[CaseResult]) -> Vec<bool> {
    use crate::report::verdicts;
    let mut provisional = report.clone();
    provisional.cases.extend(cases.iter().cloned());
    let undecided: Vec<verdicts::Verdict> = verdicts::verdicts(&provisional)
        .into_iter()
        .filter(|v| v.wants_samples())
        .collect();
    cases
        .iter()
        .map(|c| {
            let label = verdicts::case_label(c);
            undecided.iter().any(|v| v.cases.contains(&label))
        })
        .collect()
}

fn scenario_info(s: &Scenario) -> ScenarioInfo {
    ScenarioInfo {
        name: s.name.clone(),
        description: s.description.clone(),
        workload: s.workload.id().into(),
        cpu_bound: s.cpu_bound,
        releases_gil: s.releases_gil && s.cpu_bound,
        baseline_estimated: !s.baseline,
        models: s.models.iter().map(ModelId::to_string).collect(),
    }
}

/// Measures the kernels the plan uses and the sleep floor of its sleeps;
/// stops early (with what it has, and `Err`) when Ctrl-C comes.
fn calibrate(plan: &Plan, cancel: &AtomicBool) -> (Calibration, Result<(), Stopped>) {
    let min_run = if plan.settings.quick {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(60)
    };
    let mut calibration = Calibration {
        kernels: BTreeMap::new(),
        timer_floor: Vec::new(),
    };
    let mut kernels = Vec::new();
    let mut sleeps: Vec<f64> = Vec::new();
    let sweeps = plan.granularity_sweeps();
    let searched = sweeps
        .iter()
        .filter(|s| s.kind == crate::plan::granularity::TaskKind::Cpu)
        .map(|s| s.at(s.search.start_ms));
    let points: Vec<crate::plan::PointPlan> = plan.points.iter().cloned().chain(searched).collect();
    for shape in points.iter().map(|p| &p.point.shape) {
        let computes = shape.cpu_ms > 0.0 || shape.lock.is_some();
        if computes && !kernels.contains(&shape.kernel) {
            kernels.push(shape.kernel);
        }
        if shape.sleep_ms > 0.0 && !sleeps.contains(&shape.sleep_ms) {
            sleeps.push(shape.sleep_ms);
        }
    }
    let samples = if plan.settings.quick { 5 } else { 15 };
    let done = (|| {
        for kernel in kernels {
            // Bounded by construction (a few runs of about `min_run`).
            let rate = crate::workload::cpu::calibrate(kernel, min_run, &Stop::on_cancel(cancel))?;
            calibration.kernels.insert(kernel.id().to_owned(), rate);
        }
        for ms in sleeps {
            let d = Duration::from_secs_f64(ms / 1e3);
            // Each sleep size gets at most a case's time.
            let stop = Stop::within(cancel, plan.settings.case_timeout);
            calibration.timer_floor.push(TimerFloor {
                nominal_ms: ms,
                measured_ms: sleep_floor(d, samples, &stop)?,
            });
        }
        Ok(())
    })();
    (calibration, done)
}

/// Timed operations of each mechanism when the run has no floor scenario,
/// and the most time each may take: what the run's models rest on, in a
/// few hundred milliseconds at most (only a spawn or a fork, at 0.5 to 2 ms
/// each on a loaded 2-core VM, reaches the limit).
const FLOOR_SAMPLES: usize = 100;
const FLOOR_LIMIT: Duration = Duration::from_millis(100);

/// The OS floor, once per run: with a `floor` scenario, every mechanism,
/// its `samples` each, within the case timeout each; otherwise the
/// mechanisms the models of the 1-worker time-sized cases rest on (the ones
/// the report's dispatch table compares), `FLOOR_SAMPLES` each within
/// `FLOOR_LIMIT` each. Ctrl-C ends it with what it has, and `Err`.
fn measure_floor(
    plan: &Plan,
    cancel: &AtomicBool,
) -> (Vec<crate::results::FloorMeasurement>, Result<(), Stopped>) {
    use crate::floor::{Mechanism, measure};
    if let Some(samples) = plan.floor_samples() {
        return measure(
            &Mechanism::ALL,
            samples as usize,
            plan.settings.case_timeout,
            cancel,
        );
    }
    let mechanisms = floor_mechanisms(plan);
    if mechanisms.is_empty() {
        return (Vec::new(), Ok(()));
    }
    measure(&mechanisms, FLOOR_SAMPLES, FLOOR_LIMIT, cancel)
}

/// Trivial tasks timed step by step for each forked start method.
const FORK_STEP_TASKS: usize = 30;
const FORK_STEP_LIMIT: Duration = Duration::from_millis(500);

/// Beside the floor's fork + _exit + wait, where a forked task's time goes
/// (`model::fork_probe`), for each forked start method of a 1-worker
/// `process` case sized in time: `FORK_STEP_TASKS` tasks, within
/// `FORK_STEP_LIMIT` each. Why a fork case costs what it costs over its
/// floor, measured rather than told. A probe that fails (no launcher) adds
/// nothing; the cases themselves then fail and say why.
fn explain_fork_floor(
    plan: &Plan,
    floor: &mut [crate::results::FloorMeasurement],
    cancel: &AtomicBool,
) {
    use crate::model::{ModelKind, StartMethod, fork_probe};
    let Some(fork_floor) = floor
        .iter_mut()
        .find(|f| f.mechanism == crate::floor::Mechanism::ForkExitWait.id())
    else {
        return;
    };
    let mut methods = Vec::new();
    for case in one_worker_timed_cases(plan) {
        let method = case.model.start;
        if case.model.kind == ModelKind::Process
            && method != StartMethod::Spawn
            && !methods.contains(&method)
        {
            methods.push(method);
        }
    }
    for method in methods {
        let stop = Stop::within(cancel, FORK_STEP_LIMIT);
        if let Ok(p) = fork_probe::probe(method, FORK_STEP_TASKS, false, &stop)
            && !p.total_ns.is_empty()
        {
            fork_floor
                .forked_tasks
                .push(fork_probe::summarize(method, &p));
        }
    }
}

/// The cases with one worker of the plan's points sized in time: those the
/// report's dispatch table compares with their floor.
fn one_worker_timed_cases(plan: &Plan) -> impl Iterator<Item = &crate::plan::CasePlan> {
    plan.points
        .iter()
        .filter(|p| p.point.task_ms.is_some())
        .flat_map(|p| &p.cases)
        .filter(|c| c.workers == 1)
}

/// The mechanisms the models of the plan's 1-worker cases sized in time
/// rest on, each once.
fn floor_mechanisms(plan: &Plan) -> Vec<crate::floor::Mechanism> {
    let mut out = Vec::new();
    for case in one_worker_timed_cases(plan) {
        if let Some(m) = crate::report::floor::floor_of(case.model.kind, case.model.start)
            && !out.contains(&m)
        {
            out.push(m);
        }
    }
    out
}

/// The median time a sleep of `d` really takes here (timer slack, wakeup),
/// over up to `samples` sleeps: as many as fit in `stop`'s time, else the
/// nominal `d`. Ctrl-C ends it within one wake-up slice.
fn sleep_floor(d: Duration, samples: usize, stop: &Stop) -> Result<f64, Stopped> {
    let mut taken = Vec::with_capacity(samples);
    while taken.len() < samples && stop.left().is_none_or(|left| left >= d) {
        let t = Instant::now();
        match stop.sleep(d) {
            Ok(()) => taken.push(t.elapsed().as_secs_f64() * 1e3),
            Err(Stopped::TimedOut(_)) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(stats::median(&taken).unwrap_or(d.as_secs_f64() * 1e3))
}

/// The checksums a correct run of `tasks` produces, with each task's CPU
/// work computed here at most once per run (`env.references`), within the
/// case timeout and until Ctrl-C. The work is as large as one sequential
/// run of the tasks; the cache makes it one such run per distinct task
/// shape, however many models, worker counts and repetitions check against
/// it.
fn reference_checksums(tasks: &[Task], env: &Env) -> Result<Vec<u64>, CaseStatus> {
    let before = measure::self_usage();
    let stop = Stop::within(env.cancel, env.timeout);
    let mut references = env.references.borrow_mut();
    let mut cpu = |kernel: Kernel, seed: u64, iters: u64| {
        if let Some(&sum) = references.get(&(kernel, seed, iters)) {
            return Ok(sum);
        }
        let sum = kernel.run_until(seed, iters, &stop)?;
        references.insert((kernel, seed, iters), sum);
        Ok(sum)
    };
    let expected = tasks
        .iter()
        .map(|t| expected_checksum_with(t, &mut cpu))
        .collect::<Result<Vec<u64>, Stopped>>();
    env.cpu.borrow_mut().reference_s += cpu_seconds(&measure::self_usage().since(&before));
    expected.map_err(|e| match e {
        Stopped::Cancelled => CaseStatus::Interrupted,
        e => CaseStatus::Failed(format!("computing the reference checksums {e}")),
    })
}

/// Turns a point's task shape into concrete tasks for this machine. At a
/// convoy point, `limit` bounds every wait on the convoy's board.
pub fn build_tasks(
    point: &Point,
    iters_per_ms: f64,
    echo: Option<std::net::SocketAddr>,
    scratch: &Path,
    limit: Duration,
) -> anyhow::Result<Vec<Task>> {
    let shape = point.shape;
    let cpu_iters = (shape.cpu_ms * iters_per_ms).round().max(1.0) as u64;
    let slice_iters = crate::gil::slice_iters(iters_per_ms);
    if let Some(k) = point.cpu_threads {
        return convoy_tasks(point, k, (cpu_iters, slice_iters), echo, scratch, limit);
    }
    if let Some(queue) = &shape.queue {
        return Ok(coordination::queue_tasks(point, queue, scratch, limit));
    }
    if let Some(tasks) = wake::tasks(point, scratch, limit) {
        return Ok(tasks);
    }
    if let Some(lock) = &shape.lock {
        let calibrated = (iters_per_ms, slice_iters);
        return Ok(coordination::lock_tasks(
            point,
            lock,
            shape.kernel,
            calibrated,
            scratch,
            limit,
        ));
    }
    let mut steps = Vec::new();
    // First, so the memory is held through every other step.
    if shape.touch_kib > 0 {
        steps.push(Step::Touch {
            kib: shape.touch_kib,
        });
    }
    if shape.cpu_ms > 0.0 {
        steps.push(Step::Cpu {
            kernel: shape.kernel,
            iters: cpu_iters,
            slice_iters,
        });
    }
    if shape.sleep_ms > 0.0 {
        steps.push(Step::Sleep {
            us: (shape.sleep_ms * 1e3).round() as u64,
        });
    }
    if let Some(sock) = shape.socket {
        steps.push(Step::Socket {
            addr: echo.context("io-socket needs the echo server")?,
            round_trips: sock.round_trips,
            message_bytes: sock.message_bytes,
            server_delay_us: (sock.server_delay_ms * 1e3).round() as u64,
        });
    }
    if let Some(kib) = shape.file_kib {
        steps.push(Step::File {
            dir: scratch.to_owned(),
            kib,
        });
    }
    Ok((0..point.tasks)
        .map(|idx| Task {
            idx: idx as u32,
            steps: steps.clone(),
            releases_gil: shape.releases_gil,
        })
        .collect())
}

/// A convoy point: `k` CPU tasks that compute in chunks until the probe (the
/// last task) is done, all sharing one board in the scratch directory.
fn convoy_tasks(
    point: &Point,
    k: usize,
    (chunk_iters, slice_iters): (u64, u64),
    echo: Option<std::net::SocketAddr>,
    scratch: &Path,
    limit: Duration,
) -> anyhow::Result<Vec<Task>> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sock = point
        .shape
        .socket
        .context("a convoy needs a socket shape")?;
    let board = BoardRef {
        path: scratch.join(format!(
            "convoy-board-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        )),
        cpu_tasks: k as u32,
        limit_ms: limit.as_millis() as u64,
    };
    let spin = Step::Spin {
        kernel: point.shape.kernel,
        chunk_iters,
        slice_iters,
        board: board.clone(),
    };
    let probe = Step::Probe {
        addr: echo.context("a convoy needs the echo server")?,
        warmup: PROBE_WARMUP_ROUND_TRIPS,
        round_trips: sock.round_trips,
        message_bytes: sock.message_bytes,
        server_delay_us: (sock.server_delay_ms * 1e3).round() as u64,
        board,
    };
    Ok((0..=k)
        .map(|idx| Task {
            idx: idx as u32,
            steps: vec![if idx < k { spin.clone() } else { probe.clone() }],
            releases_gil: point.shape.releases_gil,
        })
        .collect())
}

/// One case's measurements as they accumulate.
struct CaseRun {
    model: ModelId,
    workers: usize,
    reps: Vec<Repetition>,
    latency: Latencies,
    wait: Latencies,
    run: Latencies,
    gil: Option<GilCounters>,
    /// Convoy points: every timed round trip of the probe (ms).
    round_trips_ms: Vec<f64>,
    /// Lock points: sections per second, waits, fairness, lost updates.
    lock: coordination::LockAcc,
    /// Queue points: items per second and latencies.
    queue: coordination::QueueAcc,
    /// Event and timer points: how late each wake-up ran.
    wake: wake::WakeAcc,
    /// Why the case stopped early (failed, skipped, interrupted).
    failure: Option<CaseStatus>,
    /// A start-up timed in a warm-up round by a model that times it once
    /// (a kept CPython pool): it counts with the first measured repetition.
    warmup_startup: Option<f64>,
}

/// Runs every case of a point in interleaved rounds: the scenario's minimum
/// of measured repetitions, then more while `undecided` says a verdict on the
/// point's cases could still be decided by them, until the most repetitions
/// allowed or the point's time budget (a decision's minimum of
/// `verdicts::MIN_SAMPLES` repetitions always fits).
///
/// An extra round times only the cases that undecided verdicts rest on, and
/// a case left out once is never timed again: so every case's repetitions
/// are its point's first rounds, and any two cases pair up round by round
/// over the rounds both ran (`stats::paired_ratio`). A point with one
/// undecided claim among thirty cases spends its budget on that claim's two.
fn run_point(
    plan: &PointPlan,
    env: &Env,
    undecided: &dyn Fn(&[CaseResult]) -> Vec<bool>,
    on_event: &mut dyn FnMut(Event),
) -> Vec<CaseResult> {
    let started = Instant::now();
    let point = &plan.point;
    let iters_per_ms = env
        .calibration
        .kernels
        .get(point.shape.kernel.id())
        .copied()
        .unwrap_or(1.0);
    let mut cases: Vec<CaseRun> = plan
        .cases
        .iter()
        .map(|&CasePlan { model, workers }| CaseRun {
            model,
            workers,
            reps: Vec::new(),
            latency: Latencies::default(),
            wait: Latencies::default(),
            run: Latencies::default(),
            gil: None,
            round_trips_ms: Vec::new(),
            lock: coordination::LockAcc::default(),
            queue: coordination::QueueAcc::default(),
            wake: wake::WakeAcc::default(),
            failure: None,
            warmup_startup: None,
        })
        .collect();
    let prepared = build_tasks(point, iters_per_ms, env.echo, env.scratch, plan.timeout)
        .map_err(|e| CaseStatus::Failed(format!("{e:#}")))
        .and_then(|tasks| Ok((reference_checksums(&tasks, env)?, tasks)));
    let (expected, tasks) = match prepared {
        Ok(prepared) => prepared,
        Err(status) => {
            for c in &mut cases {
                c.failure = Some(status.clone());
            }
            (Vec::new(), Vec::new())
        }
    };

    let min_rounds = plan.warmup + plan.repetitions;
    let max_rounds = plan.warmup + plan.max_repetitions;
    let mut active = vec![true; cases.len()];
    for round in 0..max_rounds {
        if round >= min_rounds {
            let done = round - plan.warmup;
            let budget_spent = done as usize >= crate::report::verdicts::MIN_SAMPLES
                && started.elapsed() >= env.point_budget;
            if env.cancel.load(Ordering::Relaxed) || budget_spent {
                break;
            }
            let wanted = undecided(&summarize(plan, &cases, env));
            for (on, wanted) in active.iter_mut().zip(wanted) {
                *on &= wanted;
            }
            let runs = active.iter().filter(|&&on| on).count();
            if runs == 0 {
                break;
            }
            on_event(Event::MoreRuns { runs: runs as u64 });
        }
        let measured = round >= plan.warmup;
        for idx in round_order(&cases, round as usize) {
            if !active[idx] {
                continue;
            }
            if env.cancel.load(Ordering::Relaxed) {
                break;
            }
            let case = &mut cases[idx];
            on_event(Event::Running {
                scenario: &plan.scenario,
                model: case.model,
                workers: case.workers,
            });
            if case.failure.is_none() {
                match run_once(plan, case, &tasks, &expected, env) {
                    Ok((mut rep, outcome)) if measured => {
                        rep.startup_s = rep.startup_s.or(case.warmup_startup.take());
                        if let Some(g) = &outcome.gil {
                            case.gil.get_or_insert_with(GilCounters::default).add(g);
                        }
                        for d in latency_samples(&outcome, point) {
                            case.latency.record(d);
                            if point.cpu_threads.is_some() {
                                case.round_trips_ms.push(d.as_secs_f64() * 1e3);
                            }
                        }
                        for r in reported(&outcome, point) {
                            case.wait.record(r.queue_wait());
                            case.run.record(r.output.run());
                        }
                        if let Some(lock) = &point.shape.lock {
                            case.lock.record(&outcome, lock);
                        }
                        case.queue.record(&outcome);
                        case.wake.record(&outcome);
                        case.reps.push(rep);
                    }
                    Ok((rep, _)) => case.warmup_startup = rep.startup_s,
                    Err(e) => case.failure = Some(e),
                }
            }
            on_event(Event::RunDone);
        }
    }
    // The CPython runners kept for this point's cases, and their pools.
    crate::model::end_sessions();
    summarize(plan, &cases, env)
}

/// The order of a round's cases: each model family (native and `+gil`, then
/// `cpython-*`) together, rotated by one every round so that no model always
/// runs first or last. A family's cases run back to back because they are
/// compared with each other round by round, and the machine's speed drifts
/// (on shared VMs, real CPython's by up to 1.6× within a second).
fn round_order(cases: &[CaseRun], round: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(cases.len());
    for cpython in [false, true] {
        let family: Vec<usize> = (0..cases.len())
            .filter(|&i| cases[i].model.kind.is_cpython() == cpython)
            .collect();
        let n = family.len().max(1);
        order.extend((0..family.len()).map(|k| family[(k + round) % n]));
    }
    order
}

/// Runs one batch and measures it. An error is the case's status.
fn run_once(
    plan: &PointPlan,
    case: &CaseRun,
    tasks: &[Task],
    expected: &[u64],
    env: &Env,
) -> Result<(Repetition, BatchOutcome), CaseStatus> {
    let point = &plan.point;
    let batch = Batch {
        tasks,
        workers: case.workers,
        deadline: Instant::now() + plan.timeout,
        cancel: env.cancel,
        gil: case.model.gil.then_some(plan.gil),
        shape: Some(&point.shape),
        switch_interval: plan.switch_interval,
        start: crate::model::Start {
            method: case.model.start,
            parent_mib: point.parent_mib,
        },
    };
    let model = case.model.kind;
    // A convoy gets a fresh board per batch, marked done once the batch
    // ends however it ends, so no CPU task outlives its batch for long.
    let board = match tasks
        .iter()
        .find_map(|t| t.steps.iter().find_map(Step::board))
    {
        Some(b) => Some(
            Board::create(
                &b.path,
                b.cpu_tasks,
                case.model
                    .threads_share_one_gil()
                    .then_some(env.convoy_cpu)
                    .flatten(),
            )
            .map_err(|e| CaseStatus::Failed(format!("{e:#}")))?,
        ),
        None => None,
    };
    let permits = point.shape.lock.map_or(1, |l| l.permits);
    let lock_board = coordination::create_board(tasks, case.model, permits)
        .map_err(|e| CaseStatus::Failed(format!("{e:#}")))?;
    let _queue_board = coordination::create_queue_board(tasks, case.model)
        .map_err(|e| CaseStatus::Failed(format!("{e:#}")))?;
    let _wake_board =
        wake::create_board(tasks, case.model).map_err(|e| CaseStatus::Failed(format!("{e:#}")))?;
    measure::reset_peak_rss();
    let before = measure::self_usage();
    let deadlock = point.shape.lock.and_then(|l| l.deadlock);
    let outcome = match (&lock_board, deadlock) {
        // A deadlock case runs where it can be ended, watched for a cycle.
        (Some(board), Some(_)) => {
            let mut watch = crate::workload::lock::graph::Watch::new();
            crate::model::contained::run(case.model, &batch, &mut || watch.poll(board))
        }
        // A model of one of several interpreters runs in its own.
        _ if case.model.python.is_some() => crate::model::model_for_id(case.model).run(&batch),
        _ => (env.models)(model).run(&batch),
    }
    .map_err(ModelError::into_status);
    if let Some(board) = &board {
        board.finish();
    }
    let harness = measure::self_usage().since(&before);
    env.cpu.borrow_mut().batches_s += cpu_seconds(&harness)
        + outcome
            .as_ref()
            .map_or(0.0, |o| (o.children.user + o.children.sys).as_secs_f64());
    let outcome = outcome?;
    let harness_peak = measure::peak_rss();
    if !outcome.self_verified {
        verify(&outcome, expected).map_err(CaseStatus::Failed)?;
    }
    if let Some(lock) = &point.shape.lock {
        coordination::check(&outcome, lock).map_err(CaseStatus::Failed)?;
    }
    if let Some(queue) = &point.shape.queue {
        coordination::check_queue(&outcome, queue).map_err(CaseStatus::Failed)?;
    }
    wake::check(&outcome, point).map_err(CaseStatus::Failed)?;
    let p99 = {
        let mut l = Latencies::default();
        latency_samples(&outcome, point).for_each(|d| l.record(d));
        l.percentiles().map_or(0.0, |p| p.p99)
    };
    // The probe's round trips per second of its run (convoy points).
    let io_round_trips_per_s = reported(&outcome, point)
        .find(|r| !r.output.round_trips_ns.is_empty() && point.cpu_threads.is_some())
        .map(|r| r.output.round_trips_ns.len() as f64 / r.output.run().as_secs_f64().max(1e-9));
    let c = &outcome.children;
    let rep = Repetition {
        wall_s: outcome.wall.as_secs_f64(),
        startup_s: outcome.startup.map(|d| d.as_secs_f64()),
        cpu_user_s: (harness.user + c.user).as_secs_f64(),
        cpu_sys_s: (harness.sys + c.sys).as_secs_f64(),
        harness_peak_rss_bytes: harness_peak,
        children_peak_rss_bytes: c.concurrent_peak(outcome.live_children),
        // Sampled together during the batch; else each child's own peak.
        children_peak_pss_bytes: outcome
            .children_peak_pss
            .or_else(|| c.concurrent_peak_pss(outcome.live_children)),
        ctx_voluntary: harness.ctx_voluntary + c.ctx_voluntary,
        ctx_involuntary: harness.ctx_involuntary + c.ctx_involuntary,
        latency_p99_ms: p99,
        io_round_trips_per_s,
    };
    Ok((rep, outcome))
}

/// The tasks whose waits and run times a case reports: all of them, or at a
/// convoy point only the probe (the IO task, the last one).
fn reported<'a>(
    outcome: &'a BatchOutcome,
    point: &Point,
) -> impl Iterator<Item = &'a crate::model::TaskRecord> + use<'a> {
    let probe = point.cpu_threads.map(|k| k as u32);
    outcome
        .records
        .iter()
        .filter(move |r| probe.is_none_or(|p| r.output.idx == p))
}

/// The latencies a case reports: each task's submit-to-result time, or at a
/// convoy point each of the probe's round trips as its thread saw them.
fn latency_samples<'a>(
    outcome: &'a BatchOutcome,
    point: &Point,
) -> Box<dyn Iterator<Item = Duration> + 'a> {
    if point.cpu_threads.is_some() {
        Box::new(reported(outcome, point).flat_map(|r| {
            r.output
                .round_trips_ns
                .iter()
                .map(|&ns| Duration::from_nanos(ns))
        }))
    } else {
        Box::new(outcome.records.iter().map(|r| r.latency))
    }
}

/// Every task ran once and produced the checksum the sequential reference
/// computes; otherwise the model is broken and its case fails.
fn verify(outcome: &BatchOutcome, expected: &[u64]) -> Result<(), String> {
    if outcome.records.len() != expected.len() {
        return Err(format!(
            "returned {} results for {} tasks",
            outcome.records.len(),
            expected.len()
        ));
    }
    let mut seen = vec![false; expected.len()];
    for r in &outcome.records {
        let idx = r.output.idx as usize;
        match expected.get(idx) {
            Some(&want) if r.output.checksum == want && !seen[idx] => seen[idx] = true,
            Some(&want) if r.output.checksum != want => {
                return Err(format!(
                    "checksum mismatch on task {idx}: got {:#x}, expected {want:#x}",
                    r.output.checksum
                ));
            }
            _ => return Err(format!("task {idx} reported twice or out of range")),
        }
    }
    Ok(())
}

fn summarize(plan: &PointPlan, cases: &[CaseRun], env: &Env) -> Vec<CaseResult> {
    let point = &plan.point;
    let wall = |c: &CaseRun| stats::median(&c.reps.iter().map(|r| r.wall_s).collect::<Vec<_>>());
    // Each model's baseline is its own interpreter's (`cpython-sequential@3.12`
    // for `cpython-thread@3.12`).
    let baseline = |model: ModelId| {
        cases
            .iter()
            .find(|c| c.model == model.baseline() && c.failure.is_none())
    };
    // One task's IO cost when run alone: the measured sleep floor, or for
    // sockets and files the median task run time of the sequential baseline
    // of the case's own family (native or CPython), else of the other.
    let io_ms_of = |model: ModelId| match plan.workload {
        WorkloadKind::Cpu
        | WorkloadKind::Convoy
        | WorkloadKind::Lifecycle
        | WorkloadKind::Floor
        | WorkloadKind::Coroutine
        | WorkloadKind::Lock
        | WorkloadKind::Queue
        | WorkloadKind::Event
        | WorkloadKind::Timer
        | WorkloadKind::Granularity
        | WorkloadKind::IoModels => 0.0,
        WorkloadKind::IoSleep | WorkloadKind::Mixed => env
            .calibration
            .timer_floor
            .iter()
            .find(|f| f.nominal_ms == point.shape.sleep_ms)
            .map_or(point.shape.sleep_ms, |f| f.measured_ms),
        WorkloadKind::IoSocket | WorkloadKind::IoFile => {
            // The case's own baseline (its interpreter's), else the other family's.
            let run_p50 = |m: ModelId| baseline(m)?.run.percentiles().map(|p| p.p50);
            let other = ModelId::native(if model.kind.is_cpython() {
                ModelKind::Sequential
            } else {
                ModelKind::CpythonSequential
            });
            run_p50(model).or_else(|| run_p50(other)).unwrap_or(0.0)
        }
    };
    // A convoy's round trip without any GIL: the native `thread` case's
    // median here when the point has one (the server's delay plus the
    // wake-ups a round trip costs), else the server's delay. A round trip
    // half a switch interval longer than this waited for the GIL.
    let gil_free_ms = cases
        .iter()
        .find(|c| c.model == ModelId::native(ModelKind::Thread) && c.failure.is_none())
        .and_then(|c| stats::median(&c.round_trips_ms))
        .unwrap_or_else(|| point.shape.socket.map_or(0.0, |s| s.server_delay_ms));
    let mut baseline_ids: Vec<ModelId> = cases.iter().map(|c| c.model.baseline()).collect();
    baseline_ids.sort();
    baseline_ids.dedup();
    let baseline_walls: Vec<(ModelId, Option<f64>, Vec<f64>)> = baseline_ids
        .into_iter()
        .map(|id| {
            let case = baseline(id);
            let samples = case.map(|c| c.reps.iter().map(|r| r.wall_s).collect());
            (id, case.and_then(wall), samples.unwrap_or_default())
        })
        .collect();
    cases
        .iter()
        .map(|c| {
            let (seq_wall, seq_samples) = baseline_walls
                .iter()
                .find(|(id, _, _)| *id == c.model.baseline())
                .map_or((None, &[][..]), |(_, w, s)| (*w, &s[..]));
            // Without a baseline (`baseline = false`), the sequential time
            // of cpu and io-sleep tasks is known: tasks × the CPU time asked
            // for, or × the measured sleep.
            let io_ms = io_ms_of(c.model);
            let seq_wall = seq_wall.or_else(|| {
                (!plan.baseline
                    && matches!(plan.workload, WorkloadKind::Cpu | WorkloadKind::IoSleep))
                .then(|| point.tasks as f64 * (point.shape.cpu_ms + io_ms) / 1e3)
            });
            let med = |f: &dyn Fn(&Repetition) -> f64| {
                stats::median(&c.reps.iter().map(f).collect::<Vec<_>>())
            };
            let samples: Vec<f64> = c.reps.iter().map(|r| r.wall_s).collect();
            let wall_est = stats::median_ci(&samples);
            // A convoy batch is not a faster way to do the same work: it has
            // no speedup; its figures are the probe's latency and throughput.
            let convoy = point.cpu_threads.is_some();
            // Paired round by round with the baseline where the rounds line up.
            let speedup = match (seq_wall, wall_est) {
                _ if convoy => None,
                _ if let Some(paired) = stats::paired_ratio(seq_samples, &samples) => {
                    Some(paired.median)
                }
                (Some(s), Some(m)) => stats::speedup(s, m.median),
                _ => None,
            };
            let ideal = (!convoy).then(|| {
                stats::ideal_speedup(point.tasks, c.workers, env.cores, point.shape.cpu_ms, io_ms)
            });
            let startups: Vec<f64> = c.reps.iter().filter_map(|r| r.startup_s).collect();
            let status = match (&c.failure, c.reps.is_empty()) {
                (Some(f), _) => f.clone(),
                (None, true) => CaseStatus::Interrupted,
                (None, false) => CaseStatus::Ok,
            };
            let harness_rss = med(&|r| r.harness_peak_rss_bytes as f64).map(|v| v as u64);
            let children_rss = med(&|r| r.children_peak_rss_bytes as f64).map(|v| v as u64);
            CaseResult {
                scenario: plan.scenario.clone(),
                workload: plan.workload.id().into(),
                kernel: plan.kernel.map(|k| k.id().to_owned()),
                model: c.model.to_string(),
                workers: c.workers,
                tasks: point.tasks,
                task_ms: point.task_ms,
                params: plan
                    .params
                    .iter()
                    .map(|&(k, v)| (k.to_owned(), v))
                    .collect(),
                status,
                wall_s: wall_est,
                samples_wall_s: samples,
                startup_s: stats::median_ci(&startups),
                speedup,
                ideal_speedup: ideal,
                efficiency: speedup.zip(ideal).map(|(s, i)| s / i),
                io_round_trips_per_s: stats::median(
                    &c.reps
                        .iter()
                        .filter_map(|r| r.io_round_trips_per_s)
                        .collect::<Vec<_>>(),
                ),
                cpu_user_s: med(&|r| r.cpu_user_s),
                cpu_sys_s: med(&|r| r.cpu_sys_s),
                peak_rss_bytes: harness_rss.zip(children_rss).map(|(h, c)| h + c),
                harness_peak_rss_bytes: harness_rss,
                children_peak_rss_bytes: children_rss,
                children_peak_pss_bytes: stats::median(
                    &c.reps
                        .iter()
                        .filter_map(|r| r.children_peak_pss_bytes.map(|b| b as f64))
                        .collect::<Vec<_>>(),
                )
                .map(|v| v as u64),
                ctx_voluntary: med(&|r| r.ctx_voluntary as f64).map(|v| v as u64),
                ctx_involuntary: med(&|r| r.ctx_involuntary as f64).map(|v| v as u64),
                task_latency_ms: c.latency.percentiles(),
                queue_wait_ms: c.wait.percentiles(),
                task_run_ms: c.run.percentiles(),
                convoy: if convoy {
                    stats::convoy_stats(
                        &c.round_trips_ms,
                        gil_free_ms + plan.switch_interval.as_secs_f64() * 1e3 / 2.0,
                    )
                } else {
                    None
                },
                gil: c.gil.map(|g| per_repetition(g, c.reps.len())),
                lock: coordination::stats(point, &c.lock),
                queue: coordination::queue_stats(
                    point,
                    &c.queue,
                    med(&|r| r.cpu_user_s + r.cpu_sys_s),
                ),
                wake: wake::stats(point, c.model, &c.wake),
                repetitions: c.reps.clone(),
                start_method: c
                    .model
                    .kind
                    .uses_processes()
                    .then(|| c.model.start.id().to_owned()),
            }
        })
        .collect()
}

/// GIL counters summed over `n` repetitions, as a per-repetition mean.
fn per_repetition(g: GilCounters, n: usize) -> GilCounters {
    let n = n.max(1) as u64;
    GilCounters {
        acquisitions: g.acquisitions / n,
        forced_switches: g.forced_switches / n,
        drop_requests: g.drop_requests / n,
        wait_s: g.wait_s / n as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskRecord;
    use crate::plan::PlanOptions;
    use crate::spec::WorkloadKind;
    use crate::stop::tests::cancelled_after_50ms;
    use crate::workload::TaskOutput;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// What the fake models do: every batch takes 10 ms per task per
    /// worker on paper (nothing sleeps), returns the right checksums, and
    /// fails, or sets the cancel flag as Ctrl-C would, when told to.
    #[derive(Default)]
    struct Script {
        fail: Option<ModelKind>,
        cancel_at_call: Option<usize>,
        /// The first call times a start-up, as a kept CPython pool does.
        startup_at_first_call: bool,
        calls: AtomicUsize,
    }

    struct Fake {
        kind: ModelKind,
        script: Arc<Script>,
    }

    impl Model for Fake {
        fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
            let call = self.script.calls.fetch_add(1, Ordering::SeqCst);
            if self.script.cancel_at_call == Some(call) {
                batch.cancel.store(true, Ordering::SeqCst);
            }
            if self.script.fail == Some(self.kind) {
                return Err(ModelError::Worker("boom".into()));
            }
            let per_task = Duration::from_millis(10);
            let records = batch
                .tasks
                .iter()
                .map(|t| TaskRecord {
                    output: TaskOutput {
                        idx: t.idx,
                        checksum: crate::workload::expected_checksum(t),
                        run_ns: per_task.as_nanos() as u64,
                        round_trips_ns: Vec::new(),
                        lock: None,
                        queue: None,
                        wake: None,
                    },
                    latency: per_task,
                })
                .collect();
            let rounds = batch.tasks.len().div_ceil(batch.workers) as u32;
            Ok(BatchOutcome {
                records,
                wall: per_task * rounds,
                startup: (self.script.startup_at_first_call && call == 0)
                    .then_some(Duration::from_millis(5)),
                ..BatchOutcome::default()
            })
        }
    }

    /// Two points (1 and 2 tasks of 1 µs sleeps), each with sequential at
    /// 1 worker and thread at 1 and 2: three cases a point.
    fn plan(repetitions: u32) -> Plan {
        let opts = PlanOptions {
            quick: true,
            workload: Some(WorkloadKind::IoSleep),
            models: vec!["sequential".into(), "thread".into()],
            workers: vec![1, 2],
            tasks: vec![1, 2],
            task_ms: vec![0.001],
            repetitions: Some(repetitions),
            warmup: Some(0),
            ..PlanOptions::default()
        };
        crate::plan::build(&[], &opts).unwrap()
    }

    fn fake(script: &Arc<Script>) -> impl Fn(ModelKind) -> Box<dyn Model> + use<> {
        let script = script.clone();
        move |kind| {
            Box::new(Fake {
                kind,
                script: script.clone(),
            })
        }
    }

    fn options(out: &Path) -> RunOptions {
        RunOptions {
            out_dir: out.to_owned(),
            command_line: Vec::new(),
        }
    }

    fn saved(out: &Path) -> RunReport {
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
    }

    #[test]
    fn a_failed_case_is_recorded_the_sweep_goes_on_and_every_point_is_saved() {
        let out = tempfile::tempdir().unwrap();
        let opts = options(out.path());
        let script = Arc::new(Script {
            fail: Some(ModelKind::Thread),
            ..Script::default()
        });
        let cancel = AtomicBool::new(false);
        // At each case's end, how many cases results.json held.
        let mut on_disk = Vec::new();
        let report = run_with(
            &plan(2),
            &opts,
            &cancel,
            &mut |e| {
                if let Event::CaseDone(_) = e {
                    on_disk.push(saved(out.path()).cases.len());
                }
            },
            &fake(&script),
        )
        .unwrap();
        // The first point's cases were on disk before the second's ended.
        assert_eq!(on_disk, [0, 0, 0, 3, 3, 3]);
        // (Whole reports are not compared: serde_json's float parsing may
        // differ from the written value in the last bit.)
        assert_eq!(saved(out.path()).cases.len(), 6);
        assert!(!report.interrupted);
        assert_eq!(report.cases.len(), 6);
        for case in &report.cases {
            match case.model.as_str() {
                "thread" => assert_eq!(
                    case.status,
                    CaseStatus::Failed("worker failed: boom".into())
                ),
                _ => {
                    assert!(case.is_ok(), "{case:?}");
                    assert_eq!(case.repetitions.len(), 2);
                }
            }
        }
        // A failed case is not run again after its first failure.
        assert_eq!(script.calls.load(Ordering::SeqCst), 2 * (2 + 2));
        // The floor of the one 1-worker model with a dispatch, saved too.
        let floor: Vec<String> = saved(out.path())
            .floor
            .into_iter()
            .map(|f| f.mechanism)
            .collect();
        assert_eq!(floor, ["pthread-create-join"]);
    }

    #[test]
    fn without_a_baseline_speedups_are_against_tasks_times_the_measured_sleep() {
        let out = tempfile::tempdir().unwrap();
        let opts = options(out.path());
        let plan = crate::plan::build(
            &[],
            &PlanOptions {
                quick: true,
                workload: Some(WorkloadKind::IoSleep),
                models: vec!["thread".into()],
                workers: vec![1, 2],
                tasks: vec![2],
                task_ms: vec![10.0],
                repetitions: Some(2),
                warmup: Some(0),
                no_baseline: true,
                ..PlanOptions::default()
            },
        )
        .unwrap();
        let script = Arc::new(Script::default());
        let report = run_with(
            &plan,
            &opts,
            &AtomicBool::new(false),
            &mut |_| {},
            &fake(&script),
        )
        .unwrap();
        assert!(report.scenarios[0].baseline_estimated);
        let sleep_ms = report.calibration.timer_floor[0].measured_ms;
        // No sequential case ran; the fake's wall is 10 ms per round.
        assert_eq!(report.cases.len(), 2, "{:?}", report.cases);
        for case in &report.cases {
            let rounds = 2usize.div_ceil(case.workers) as f64;
            let expected = 2.0 * sleep_ms / (10.0 * rounds);
            let speedup = case.speedup.unwrap();
            assert!(
                (speedup - expected).abs() < 1e-9,
                "{speedup} against {expected}"
            );
        }
    }

    #[test]
    fn a_floor_scenario_measures_every_mechanism_and_runs_no_case() {
        let out = tempfile::tempdir().unwrap();
        let opts = options(out.path());
        let plan = crate::plan::build(
            &[],
            &PlanOptions {
                workload: Some(WorkloadKind::Floor),
                samples: Some(3),
                ..PlanOptions::default()
            },
        )
        .unwrap();
        let script = Arc::new(Script::default());
        let cancel = AtomicBool::new(false);
        let report = run_with(&plan, &opts, &cancel, &mut |_| {}, &fake(&script)).unwrap();
        assert_eq!(script.calls.load(Ordering::SeqCst), 0);
        assert!(report.cases.is_empty() && report.scenarios.is_empty());
        assert_eq!(report.floor.len(), crate::floor::Mechanism::ALL.len());
        assert!(
            report
                .floor
                .iter()
                .all(|f| f.samples == 3 || f.status.is_skipped())
        );
        assert_eq!(saved(out.path()).floor.len(), report.floor.len());
    }

    #[test]
    fn ctrl_c_stops_the_run_after_the_point_and_saves_it() {
        let out = tempfile::tempdir().unwrap();
        let opts = options(out.path());
        // Ctrl-C during the second batch of the first point.
        let script = Arc::new(Script {
            cancel_at_call: Some(1),
            ..Script::default()
        });
        let cancel = AtomicBool::new(false);
        let report = run_with(&plan(3), &opts, &cancel, &mut |_| {}, &fake(&script)).unwrap();
        assert!(report.interrupted);
        let on_disk = saved(out.path());
        assert!(on_disk.interrupted);
        assert_eq!(on_disk.cases.len(), 3);
        // Only the first point, and no batch after the flag was seen.
        assert_eq!(report.cases.len(), 3);
        assert!(report.cases.iter().all(|c| c.tasks == 1));
        assert_eq!(script.calls.load(Ordering::SeqCst), 2);
        let interrupted = report
            .cases
            .iter()
            .filter(|c| c.status == CaseStatus::Interrupted)
            .count();
        assert_eq!(interrupted, 1);
    }

    #[test]
    fn a_start_up_timed_in_a_warm_up_round_counts_with_the_first_measured_one() {
        let cancel = AtomicBool::new(false);
        let script = Arc::new(Script {
            startup_at_first_call: true,
            ..Script::default()
        });
        let models = fake(&script);
        let mut env = env(&cancel, Path::new("/nonexistent"), Duration::from_secs(60));
        env.models = &models;
        env.point_budget = Duration::ZERO;
        let mut point = plan(2).points[0].clone();
        point.warmup = 1;
        let cases = run_point(
            &point,
            &env,
            &|c: &[CaseResult]| vec![false; c.len()],
            &mut |_| {},
        );
        let startups: Vec<Vec<Option<f64>>> = cases
            .iter()
            .map(|c| c.repetitions.iter().map(|r| r.startup_s).collect())
            .collect();
        // The warm-up round's first call timed it; one case has it, once.
        let timed: Vec<&Vec<Option<f64>>> = startups
            .iter()
            .filter(|s| s.iter().any(Option::is_some))
            .collect();
        assert_eq!(timed.len(), 1, "{startups:?}");
        assert_eq!(timed[0][0], Some(0.005), "{startups:?}");
        assert!(timed[0][1..].iter().all(Option::is_none), "{startups:?}");
    }

    #[test]
    fn adaptive_repetitions_stop_when_decided_or_out_of_budget() {
        let cancel = AtomicBool::new(false);
        let script = Arc::new(Script::default());
        let models = fake(&script);
        let mut env = env(&cancel, Path::new("/nonexistent"), Duration::from_secs(60));
        env.models = &models;
        let mut point = plan(2).points[0].clone();
        point.max_repetitions = 10;
        let all = |wanted: bool| move |cases: &[CaseResult]| vec![wanted; cases.len()];
        let reps = |env: &Env, undecided: &dyn Fn(&[CaseResult]) -> Vec<bool>| {
            let cases = run_point(&point, env, undecided, &mut |_| {});
            assert!(cases.iter().all(CaseResult::is_ok), "{cases:?}");
            let n: Vec<usize> = cases.iter().map(|c| c.repetitions.len()).collect();
            assert!(n.iter().all(|&k| k == n[0]), "rounds are whole: {n:?}");
            n[0]
        };
        // Decided: the minimum.
        assert_eq!(reps(&env, &all(false)), 2);
        // Undecided with time left: up to the most allowed.
        env.point_budget = Duration::from_secs(3600);
        assert_eq!(reps(&env, &all(true)), 10);
        // Undecided with the budget spent: as many as a decision needs.
        env.point_budget = Duration::ZERO;
        assert_eq!(reps(&env, &all(true)), crate::report::verdicts::MIN_SAMPLES);
        // Decided after the fourth round.
        env.point_budget = Duration::from_secs(3600);
        assert_eq!(
            reps(&env, &|cases| vec![
                cases[0].repetitions.len() < 4;
                cases.len()
            ]),
            4
        );
    }

    #[test]
    fn extra_rounds_time_only_the_cases_an_undecided_verdict_rests_on() {
        let cancel = AtomicBool::new(false);
        let script = Arc::new(Script::default());
        let models = fake(&script);
        let mut env = env(&cancel, Path::new("/nonexistent"), Duration::from_secs(60));
        env.models = &models;
        env.point_budget = Duration::from_secs(3600);
        let mut point = plan(2).points[0].clone();
        point.max_repetitions = 10;
        assert!(point.cases.len() >= 2, "{:?}", point.cases);
        let counts = |undecided: &dyn Fn(&[CaseResult]) -> Vec<bool>| {
            run_point(&point, &env, undecided, &mut |_| {})
                .iter()
                .map(|c| c.repetitions.len())
                .collect::<Vec<_>>()
        };
        // Only the first case is wanted: the others stop at the minimum.
        let n = counts(&|cases| (0..cases.len()).map(|i| i == 0).collect());
        assert_eq!((n[0], n[1]), (10, 2), "{n:?}");
        // The second is left out after its third repetition and wanted again
        // later: it is not timed again, so its samples stay the first rounds.
        let n = counts(&|cases| {
            let again = cases[0].repetitions.len() != 3;
            (0..cases.len())
                .map(|i| i == 0 || (i == 1 && again))
                .collect()
        });
        assert_eq!((n[0], n[1]), (10, 3), "{n:?}");
    }

    fn env<'a>(cancel: &'a AtomicBool, scratch: &'a Path, timeout: Duration) -> Env<'a> {
        Env {
            calibration: Calibration {
                kernels: BTreeMap::new(),
                timer_floor: Vec::new(),
            },
            echo: None,
            scratch,
            cores: 2,
            timeout,
            point_budget: Duration::from_secs(1),
            cancel,
            convoy_cpu: None,
            references: RefCell::default(),
            cpu: RefCell::default(),
            models: &model_for,
        }
    }

    fn cpu_task(idx: u32, iters: u64) -> Task {
        Task {
            idx,
            steps: vec![Step::Cpu {
                kernel: Kernel::Hash,
                iters,
                slice_iters: 1000,
            }],
            releases_gil: false,
        }
    }

    #[test]
    fn reference_checksums_match_and_are_computed_once_per_task() {
        let cancel = AtomicBool::new(false);
        let env = env(&cancel, Path::new("/nonexistent"), Duration::from_secs(60));
        let tasks: Vec<Task> = (0..3).map(|i| cpu_task(i, 5_000)).collect();
        let want: Vec<u64> = tasks
            .iter()
            .map(crate::workload::expected_checksum)
            .collect();
        assert_eq!(reference_checksums(&tasks, &env), Ok(want.clone()));
        assert_eq!(env.references.borrow().len(), 3);
        // A point with more tasks of the same shape computes only the new one.
        let more: Vec<Task> = (0..4).map(|i| cpu_task(i, 5_000)).collect();
        assert_eq!(reference_checksums(&more, &env).unwrap()[..3], want[..]);
        assert_eq!(env.references.borrow().len(), 4);
    }

    #[test]
    fn reference_checksums_stop_on_cancel_and_time_out() {
        let scratch = Path::new("/nonexistent");
        // About a year of hashing.
        let huge = [cpu_task(0, u64::MAX)];
        let (out, after) = cancelled_after_50ms(|cancel| {
            reference_checksums(&huge, &env(cancel, scratch, Duration::from_secs(3600)))
        });
        assert_eq!(out, Err(CaseStatus::Interrupted));
        assert!(after < Duration::from_secs(1), "{after:?}");

        let cancel = AtomicBool::new(false);
        let started = Instant::now();
        let out = reference_checksums(&huge, &env(&cancel, scratch, Duration::from_millis(50)));
        assert!(started.elapsed() < Duration::from_secs(2));
        match out {
            Err(CaseStatus::Failed(why)) => assert!(why.contains("timed out"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_floor_measured_is_that_of_the_one_worker_cases() {
        use crate::floor::Mechanism;
        use crate::model::StartMethod;
        let opts = PlanOptions {
            workload: Some(WorkloadKind::Cpu),
            models: vec![
                "thread".into(),
                "thread+gil".into(),
                "process-pool".into(),
                "cpython-thread".into(),
            ],
            workers: vec![1, 2],
            ..PlanOptions::default()
        };
        let plan = crate::plan::build(&[], &opts).unwrap();
        assert_eq!(
            floor_mechanisms(&plan),
            [Mechanism::PthreadCreateJoin, Mechanism::PipeCrossCore]
        );
        // Each start method of a process model rests on its own.
        let started = PlanOptions {
            models: vec!["process".into()],
            start_method: vec![StartMethod::Fork, StartMethod::Spawn],
            ..opts.clone()
        };
        assert_eq!(
            floor_mechanisms(&crate::plan::build(&[], &started).unwrap()),
            [Mechanism::ForkExitWait, Mechanism::PosixSpawn]
        );
        // Only at 2 workers: no dispatch table row, no floor.
        let opts = PlanOptions {
            workers: vec![2],
            ..opts
        };
        assert!(floor_mechanisms(&crate::plan::build(&[], &opts).unwrap()).is_empty());
        // Sockets have no task time to take off the wall.
        let opts = PlanOptions {
            workload: Some(WorkloadKind::IoSocket),
            models: vec!["thread".into()],
            ..PlanOptions::default()
        };
        assert!(floor_mechanisms(&crate::plan::build(&[], &opts).unwrap()).is_empty());
    }

    #[test]
    fn sleep_floor_stops_on_cancel_and_fits_its_time() {
        let (out, after) = cancelled_after_50ms(|cancel| {
            sleep_floor(Duration::from_secs(3600), 15, &Stop::on_cancel(cancel))
        });
        assert_eq!(out, Err(Stopped::Cancelled));
        assert!(after < Duration::from_secs(1), "{after:?}");
        // A sleep longer than the time given is not measured: the floor is
        // the nominal sleep.
        let cancel = AtomicBool::new(false);
        let stop = Stop::within(&cancel, Duration::from_millis(100));
        assert_eq!(
            sleep_floor(Duration::from_secs(3600), 15, &stop),
            Ok(3_600_000.0)
        );
        // Short sleeps: as many samples as asked, each at least the sleep.
        let floor = sleep_floor(Duration::from_millis(2), 3, &Stop::never()).unwrap();
        assert!(floor >= 2.0, "{floor}");
    }
}
