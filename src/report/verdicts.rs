//! Verdicts: the claims people make about concurrency models, judged from the
//! measured cases with their confidence intervals. Pure: a `RunReport` in,
//! verdicts out.
//!
//! Each claim is tested on the comparison it makes (threads against
//! processes, threads against the sequential baseline, ...), only on the
//! scenarios it speaks of, and once per interpreter world that ran it: the
//! emulated GIL (`+gil` models beside native ones) and real CPython
//! (`cpython-*`). An interval that straddles a threshold, one that rests on
//! fewer than [`MIN_SAMPLES`] repetitions, or a missing case makes a verdict
//! inconclusive and says why; the runner keeps sampling a point while a
//! verdict on it could still be decided by more repetitions.

mod coordination;
mod coroutine;
pub(crate) mod io_models;
mod wake;

pub use coordination::{PROCESS_QUEUE_COSTS, RLOCK_REENTERS, UPDATES_LOST};
pub use coroutine::{ASYNC_GEVENT_ALIKE, COROUTINES_CHEAPER};
pub use wake::TIMER_LATENESS_GROWS;

use super::query::{self, Ratio};
use super::table;
use crate::model::registry::{self, Interpreter};
use crate::model::{ModelId, ModelKind, PythonTag};
use crate::results::{CaseResult, Estimate, RunReport, ScenarioInfo};

/// Processes must beat GIL threads by 1 + this × (usable cores − 1): half of
/// the gain perfect scaling would give, so 1.5× on 2 cores. The same bar
/// applies to threads whose CPU work releases the GIL.
pub const PROCESS_GAIN_PER_EXTRA_CORE: f64 = 0.5;
/// The process advantage demanded never exceeds this: past it the claim is
/// proven, and a pool's fixed costs grow with its size.
pub const PROCESS_GAIN_CAP: f64 = 4.0;
/// Threads waiting on IO must reach this share of the best model's speedup.
pub const THREADS_IO_MIN_SHARE: f64 = 0.8;
/// Native threads must reach this share of the processes' speedup ("within 20%").
pub const NATIVE_THREADS_MIN_SHARE: f64 = 0.8;
/// GIL threads on CPU work may be at most this much faster than sequential.
pub const GIL_MAX_SPEEDUP: f64 = 1.1;
/// IO-bound work waits: its sequential baseline spends less than this share
/// of its wall time on the CPU. Above it "threads for IO" does not apply.
pub const IO_BOUND_MAX_CPU_SHARE: f64 = 0.5;
/// Paired repetitions a decision needs: with six, the interval between the
/// smallest and largest per-round ratio covers the median with 97% confidence
/// (1 − 2/2⁶); with fewer no 95% interval exists.
pub const MIN_SAMPLES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Holds,
    DoesNotHold,
    Inconclusive,
    /// No scenario of the run speaks to the claim (a run of other
    /// workloads: the floor, scale): nothing was measured for it.
    NotTested,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::DoesNotHold => "does not hold",
            Outcome::Inconclusive => "inconclusive",
            Outcome::NotTested => "not tested",
        }
    }

    /// A claim made of several checks fails if one fails and holds only if all hold.
    fn all(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        let mut result = Outcome::Holds;
        for outcome in outcomes {
            match outcome {
                Outcome::DoesNotHold => return Outcome::DoesNotHold,
                Outcome::Inconclusive | Outcome::NotTested => result = Outcome::Inconclusive,
                Outcome::Holds => {}
            }
        }
        result
    }
}

/// One measured comparison behind a verdict, with its numbers.
#[derive(Debug, Clone)]
pub struct Check {
    pub outcome: Outcome,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub claim: &'static str,
    /// Judged on the real-CPython models rather than the emulated GIL.
    pub cpython: bool,
    /// In a run of several interpreters, the one judged (`3.12`).
    pub python: Option<PythonTag>,
    /// What exactly is tested, thresholds included.
    pub test: String,
    /// The scenario judged; `None` when no scenario had the cases needed.
    pub scenario: Option<String>,
    pub outcome: Outcome,
    pub checks: Vec<Check>,
    /// The cases the verdict rests on, as readable labels (`case_label`).
    pub cases: Vec<String>,
    /// Why the verdict is inconclusive, when more repetitions cannot help
    /// (a case is missing, one core).
    pub note: Option<String>,
}

impl Verdict {
    /// A verdict about scenario `s`, inconclusive until its checks decide.
    fn pending(claim: &'static str, world: &World, test: String, s: &ScenarioInfo) -> Verdict {
        Verdict {
            claim,
            cpython: world.cpython,
            python: world.python,
            test,
            scenario: Some(s.name.clone()),
            outcome: Outcome::Inconclusive,
            checks: Vec::new(),
            cases: Vec::new(),
            note: None,
        }
    }

    /// The claim as shown: with "(real CPython)" when judged there, and
    /// its version in a run of several ("(real CPython 3.12)").
    pub fn title(&self) -> String {
        match (self.cpython, self.python) {
            (true, Some(tag)) => format!("{} (real CPython {tag})", self.claim),
            (true, None) => format!("{} (real CPython)", self.claim),
            (false, _) => self.claim.to_owned(),
        }
    }

    /// True when the verdict is inconclusive only because its intervals are
    /// still too wide: more repetitions of its cases could decide it.
    pub fn wants_samples(&self) -> bool {
        self.outcome == Outcome::Inconclusive && self.note.is_none() && !self.checks.is_empty()
    }

    /// Sets the outcome from the checks; a missing piece keeps a verdict
    /// that would hold inconclusive, and says what is missing.
    fn settle(mut self, missing: Vec<String>) -> Verdict {
        let mut seen = std::collections::HashSet::new();
        self.cases.retain(|c| seen.insert(c.clone()));
        self.outcome = Outcome::all(self.checks.iter().map(|c| c.outcome));
        if !missing.is_empty() {
            if self.outcome == Outcome::Holds {
                self.outcome = Outcome::Inconclusive;
            }
            self.note = Some(format!("missing: {}", missing.join("; ")));
        }
        self
    }
}

pub const PROCESSES_FOR_COMPUTE: &str = "Processes for compute";
pub const THREADS_FOR_IO: &str = "Threads for IO";
pub const NATIVE_THREADS_COMPUTE: &str = "Without a GIL, threads compute in parallel too";
pub const GIL_SERIALIZES: &str = "The GIL serializes compute";
pub const GIL_RELEASING: &str = "A GIL-releasing extension lets threads compute in parallel";

/// One interpreter world: the models that stand for sequential code, threads
/// and processes under a GIL. A real-CPython world is the emulated one's
/// twins (see `registry`), one per interpreter of a run with several.
struct World {
    cpython: bool,
    /// Which interpreter, in a run of several.
    python: Option<PythonTag>,
    sequential: ModelId,
    threads: [ModelId; 2],
    process_pool: ModelId,
}

impl World {
    /// The models whose speedups "the best model" is chosen from.
    fn has(&self, model: &str) -> bool {
        let interpreter = if self.cpython {
            Interpreter::Cpython
        } else {
            Interpreter::Rust
        };
        registry::parse(model)
            .is_some_and(|m| m.interpreter() == interpreter && m.python == self.python)
    }

    /// The real-CPython world of one interpreter (`None`: a run of one).
    fn cpython_in(python: Option<PythonTag>) -> World {
        let id = |kind| native(kind).in_python(python);
        World {
            cpython: true,
            python,
            sequential: id(ModelKind::CpythonSequential),
            threads: [
                id(ModelKind::CpythonThread),
                id(ModelKind::CpythonThreadPool),
            ],
            process_pool: id(ModelKind::CpythonProcessPool),
        }
    }

    /// The model `kind` in this world's interpreter.
    fn model(&self, kind: ModelKind) -> ModelId {
        native(kind).in_python(self.python)
    }
}

/// The emulated world, then one real-CPython world per interpreter whose
/// models the report holds (untagged for a run of one), in the order met.
fn worlds(report: &RunReport) -> Vec<World> {
    let mut tags: Vec<Option<PythonTag>> = Vec::new();
    for m in report
        .cases
        .iter()
        .filter_map(|c| registry::parse(&c.model))
    {
        if m.kind.is_cpython() && !tags.contains(&m.python) {
            tags.push(m.python);
        }
    }
    if tags.is_empty() {
        tags.push(None);
    }
    std::iter::once(EMULATED)
        .chain(tags.into_iter().map(World::cpython_in))
        .collect()
}

const fn native(kind: ModelKind) -> ModelId {
    ModelId::native(kind)
}

const EMULATED: World = World {
    cpython: false,
    python: None,
    sequential: native(ModelKind::Sequential),
    threads: [
        ModelId::under_gil(ModelKind::Thread),
        ModelId::under_gil(ModelKind::ThreadPool),
    ],
    process_pool: ModelId::under_gil(ModelKind::ProcessPool),
};

/// Native threads, the other side of "threads for IO" in the emulated world.
const NATIVE_IO_THREADS: [ModelId; 2] = [native(ModelKind::Thread), native(ModelKind::ThreadPool)];
const NATIVE_THREADS: [ModelId; 3] = [
    native(ModelKind::Thread),
    native(ModelKind::ThreadPool),
    native(ModelKind::Rayon),
];
const PROCESSES: [ModelId; 3] = [
    native(ModelKind::ProcessPool),
    native(ModelKind::Process),
    ModelId::under_gil(ModelKind::ProcessPool),
];

/// Every verdict the data allows, in a fixed order of claims.
pub fn verdicts(report: &RunReport) -> Vec<Verdict> {
    let cores = report.machine.logical_cores;
    let cpu = |releasing: bool| -> Vec<&ScenarioInfo> {
        report
            .scenarios
            .iter()
            .filter(|s| s.cpu_bound && s.releases_gil == releasing)
            .collect()
    };
    let io: Vec<&ScenarioInfo> = io_scenarios(report).collect();
    let (gil_cpu, releasing) = (cpu(false), cpu(true));
    let all_cpu: Vec<&ScenarioInfo> = report.scenarios.iter().filter(|s| s.cpu_bound).collect();
    let mut out = Vec::new();
    let worlds = worlds(report);
    let worlds: Vec<&World> = worlds.iter().collect();
    for &world in &worlds {
        // A world none of whose models ran (no python3) gets no verdicts.
        if !report.cases.iter().any(|c| world.has(&c.model)) {
            continue;
        }
        out.extend(per_scenario(
            &gil_cpu,
            PROCESSES_FOR_COMPUTE,
            world,
            "no CPU-bound scenario ran both a process pool and GIL threads",
            |s| processes_for_compute(report, s, world, cores),
        ));
        out.extend(per_scenario(
            &gil_cpu,
            GIL_SERIALIZES,
            world,
            "no CPU-bound scenario ran GIL threads",
            |s| gil_serializes(report, s, world, cores),
        ));
        let waiting: Vec<&ScenarioInfo> = io
            .iter()
            .copied()
            .filter(|s| cpu_bound_share(report, s, world).is_none())
            .collect();
        out.extend(per_scenario(
            &waiting,
            THREADS_FOR_IO,
            world,
            "no IO-bound scenario ran threads",
            |s| threads_for_io(report, s, world),
        ));
    }
    out.extend(per_scenario(
        &all_cpu,
        NATIVE_THREADS_COMPUTE,
        &EMULATED,
        "no CPU-bound scenario ran both native threads and processes",
        |s| native_threads_compute(report, s, cores),
    ));
    // Only claimed where a scenario was built to show it.
    out.extend(
        releasing
            .iter()
            .filter_map(|s| gil_releasing(report, s, cores)),
    );
    out.extend(coordination::verdicts(report, &worlds));
    out.extend(wake::verdicts(report));
    out.extend(io_models::verdicts(report));
    out.extend(coroutine::verdicts(report, &worlds));
    out
}

/// The IO-bound scenarios "threads for IO" speaks of. Convoy scenarios add
/// CPU threads on purpose; they do not measure IO scaling.
fn io_scenarios(report: &RunReport) -> impl Iterator<Item = &ScenarioInfo> {
    report
        .scenarios
        .iter()
        .filter(|s| !s.cpu_bound && s.workload.starts_with("io"))
        .filter(|s| {
            query::scenario_cases(report, &s.name)
                .iter()
                .all(|case| !case.params.contains_key("cpu_threads"))
        })
}

/// The share of its wall time that a world's sequential baseline spent on
/// the CPU (user and system) in IO scenario `s`, when it is too large for the
/// work to count as waiting; None for work that waits (or no baseline).
fn cpu_bound_share(report: &RunReport, s: &ScenarioInfo, world: &World) -> Option<f64> {
    let seq = query::scenario_cases(report, &s.name)
        .into_iter()
        .find(|c| world.sequential.is(&c.model) && c.is_ok())?;
    let wall = seq.wall_s?.median;
    let share = (seq.cpu_user_s.unwrap_or(0.0) + seq.cpu_sys_s.unwrap_or(0.0)) / wall;
    (wall > 0.0 && share >= IO_BOUND_MAX_CPU_SHARE).then_some(share)
}

/// What the page says beside the verdicts: claims a scenario was not judged
/// on, and why (IO work that the machine does on the CPU rather than waiting,
/// a CPython that could not run).
pub fn notices(report: &RunReport) -> Vec<String> {
    let mut out: Vec<String> = python_notice(report)
        .into_iter()
        .chain(cpython_notice(report))
        .collect();
    for world in &worlds(report) {
        for s in io_scenarios(report) {
            if let Some(share) = cpu_bound_share(report, s, world) {
                out.push(format!(
                    "{THREADS_FOR_IO} is not judged on {}{}: its baseline ({}) spent {} of its time on \
                     the CPU (system calls, copies), not waiting, so on this machine the work is not \
                     IO-bound (the claim needs less than {})",
                    s.name,
                    match (world.cpython, world.python) {
                        (true, Some(tag)) => format!(" in real CPython {tag}"),
                        (true, None) => " in real CPython".to_owned(),
                        (false, _) => String::new(),
                    },
                    world.sequential,
                    table::percent(share),
                    table::percent(IO_BOUND_MAX_CPU_SHARE)
                ));
            }
        }
    }
    out
}

/// Which interpreter the real-CPython claims were checked in (each, in a
/// run of several), and for one without a GIL, what that means for them.
fn python_notice(report: &RunReport) -> Vec<String> {
    let several = !report.pythons.is_empty();
    let pythons: Vec<&crate::results::PythonRecord> = if several {
        report.pythons.iter().collect()
    } else {
        report.python.iter().collect()
    };
    pythons
        .into_iter()
        .map(|python| {
            let (name, thread) = match python.tag.as_deref().filter(|_| several) {
                Some(tag) => (
                    format!("Real CPython {tag}"),
                    format!("cpython-thread@{tag}"),
                ),
                None => ("Real CPython".to_owned(), "cpython-thread".to_owned()),
            };
            let mut text = format!("{name}: {}.", python.describe());
            if !python.has_gil() {
                text.push_str(&format!(
                    " Its threads compute in parallel: in real CPython, \"the GIL serializes \
                     compute\" is expected not to hold, and its {thread} cases are threads \
                     without a GIL."
                ));
            }
            text
        })
        .collect()
}

/// Why the claims were not checked on an interpreter although the run
/// asked for `cpython-*` models: every one of its cases was skipped
/// (python3 missing or too old), and this says so with the reason; and
/// which models an interpreter cannot run at all (Python 2.7 runs only
/// cpython-sequential and cpython-thread). Empty when all ran or none was
/// asked for.
fn cpython_notice(report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    for world in worlds(report).iter().filter(|w| w.cpython) {
        let name = match world.python {
            Some(tag) => format!("Real CPython {tag}"),
            None => "Real CPython".to_owned(),
        };
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| world.has(&c.model))
            .collect();
        let Some(first) = cases.first() else { continue };
        if cases.iter().all(|c| c.status.is_skipped()) {
            out.push(format!(
                "{name}: the claims were not checked against it, because every cpython-* case was {}",
                first.status
            ));
            continue;
        }
        // A model the interpreter is too old for, named once.
        let mut too_old: Vec<&str> = Vec::new();
        let mut why = None;
        for c in &cases {
            if let crate::results::CaseStatus::Skipped(reason) = &c.status
                && reason.contains("needs Python")
            {
                if !too_old.contains(&c.model.as_str()) {
                    too_old.push(&c.model);
                }
                why.get_or_insert(reason.as_str());
            }
        }
        if let Some(why) = why {
            out.push(format!("{name}: skipped {} ({why})", too_old.join(", ")));
        }
    }
    out
}

/// Judges `claim` on every scenario that has the models it needs (`judge`
/// returns `None` otherwise); one inconclusive verdict when none has them.
fn per_scenario(
    scenarios: &[&ScenarioInfo],
    claim: &'static str,
    world: &World,
    missing: &str,
    judge: impl Fn(&ScenarioInfo) -> Option<Verdict>,
) -> Vec<Verdict> {
    let found: Vec<Verdict> = scenarios.iter().filter_map(|s| judge(s)).collect();
    if !found.is_empty() {
        return found;
    }
    vec![Verdict {
        claim,
        cpython: world.cpython,
        python: world.python,
        test: String::new(),
        scenario: None,
        outcome: Outcome::NotTested,
        checks: Vec::new(),
        cases: Vec::new(),
        note: Some(missing.to_string()),
    }]
}

/// Whether the ratio is at least (`Above`) or at most (`Below`) a threshold.
#[derive(Clone, Copy)]
enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

/// The outcome of one comparison: decided when the whole interval is on one
/// side of the threshold and rests on enough repetitions.
fn decide(ratio: Ratio, bound: Bound) -> Outcome {
    let Estimate { low, high, .. } = ratio.estimate;
    let outcome = match bound {
        Bound::AtLeast(t) if low >= t => Outcome::Holds,
        Bound::AtLeast(t) if high < t => Outcome::DoesNotHold,
        Bound::AtMost(t) if high <= t => Outcome::Holds,
        Bound::AtMost(t) if low > t => Outcome::DoesNotHold,
        _ => Outcome::Inconclusive,
    };
    if ratio.samples < MIN_SAMPLES {
        Outcome::Inconclusive
    } else {
        outcome
    }
}

/// A check on a ratio, its text followed by the bound and the sample count.
fn check(ratio: Ratio, bound: Bound, text: String) -> Check {
    let (sign, t) = match bound {
        Bound::AtLeast(t) => ("≥", t),
        Bound::AtMost(t) => ("≤", t),
    };
    let few = if ratio.samples < MIN_SAMPLES {
        format!("; {MIN_SAMPLES} needed")
    } else {
        String::new()
    };
    Check {
        outcome: decide(ratio, bound),
        text: format!(
            "{text} (needs {sign} {}; {} repetitions{few})",
            table::significant(t),
            ratio.samples
        ),
    }
}

fn share_text(ratio: Ratio) -> String {
    let e = ratio.estimate;
    format!(
        "{} [{}, {}]",
        table::percent(e.median),
        table::percent(e.low),
        table::percent(e.high)
    )
}

pub fn case_label(case: &CaseResult) -> String {
    format!(
        "{}: {}, {} workers, {} tasks ({})",
        case.scenario,
        case.model,
        case.workers,
        case.tasks,
        table::work(case)
    )
}

/// Successful cases of the first model in `preference` that has any.
fn first_model<'a>(
    cases: &[&'a CaseResult],
    preference: &[ModelId],
) -> Option<(ModelId, Vec<&'a CaseResult>)> {
    preference.iter().find_map(|model| {
        let found: Vec<&CaseResult> = cases
            .iter()
            .copied()
            .filter(|case| model.is(&case.model) && case.is_ok() && case.wall_s.is_some())
            .collect();
        (!found.is_empty()).then_some((*model, found))
    })
}

/// The successful case of `model` that ran the same work with the same workers.
fn partner<'a>(
    cases: &[&'a CaseResult],
    of: &CaseResult,
    model: ModelId,
) -> Option<&'a CaseResult> {
    cases.iter().copied().find(|case| {
        model.is(&case.model)
            && case.workers == of.workers
            && case.is_ok()
            && case.wall_s.is_some()
            && query::same_work(case, of)
    })
}

fn one_core_note() -> Option<String> {
    Some("this machine has 1 logical core: nothing can compute in parallel, so no claim about scaling can be tested".into())
}

/// The gain over sequential that counts as computing in parallel at `workers`.
fn parallel_gain(cores: usize, workers: usize) -> f64 {
    let usable = cores.min(workers) as f64;
    (1.0 + PROCESS_GAIN_PER_EXTRA_CORE * (usable - 1.0)).min(PROCESS_GAIN_CAP)
}

fn processes_for_compute(
    report: &RunReport,
    s: &ScenarioInfo,
    world: &World,
    cores: usize,
) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (thread_model, threads) = first_model(&cases, &world.threads)?;
    let process_model = world.process_pool;
    first_model(&cases, &[process_model])?;
    let mut verdict = Verdict::pending(
        PROCESSES_FOR_COMPUTE,
        world,
        format!(
            "with workers ≥ {cores} logical cores, {process_model} is faster than {thread_model} by at least \
             1 + {PROCESS_GAIN_PER_EXTRA_CORE} × (usable cores − 1), capped at {PROCESS_GAIN_CAP}×"
        ),
        s,
    );
    if cores <= 1 {
        verdict.note = one_core_note();
        return Some(verdict);
    }
    // The cleanest point: the fewest workers that cover every core, the most tasks.
    let pair = threads
        .iter()
        .filter(|t| t.workers >= cores)
        .filter_map(|t| Some((*t, partner(&cases, t, process_model)?)))
        .min_by_key(|(t, _)| (t.workers, std::cmp::Reverse(t.tasks)));
    let Some((thread, process)) = pair else {
        verdict.note = Some(format!(
            "no {thread_model} and {process_model} cases of the same work with workers ≥ {cores}"
        ));
        return Some(verdict);
    };
    let advantage = query::wall_ratio(thread, process)?;
    verdict.checks.push(check(
        advantage,
        Bound::AtLeast(parallel_gain(cores, thread.workers)),
        format!(
            "{process_model} is {} faster than {thread_model} at {} workers",
            table::ratio_interval(advantage.estimate),
            thread.workers
        ),
    ));
    verdict.cases = vec![case_label(thread), case_label(process)];
    Some(verdict.settle(Vec::new()))
}

fn gil_serializes(
    report: &RunReport,
    s: &ScenarioInfo,
    world: &World,
    cores: usize,
) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (model, threads) = first_model(&cases, &world.threads)?;
    let sequential = world.sequential;
    let mut verdict = Verdict::pending(
        GIL_SERIALIZES,
        world,
        format!(
            "{model} with 2 or more workers is at most {GIL_MAX_SPEEDUP}× faster than {sequential}"
        ),
        s,
    );
    if cores <= 1 {
        verdict.note = one_core_note();
        return Some(verdict);
    }
    let point = threads
        .iter()
        .copied()
        .filter(|case| case.workers >= 2 && query::baseline(report, case).is_some())
        .max_by_key(|case| (case.workers, case.tasks));
    let Some(thread) = point else {
        verdict.note = Some(format!(
            "no {model} case with 2 or more workers and a {sequential} baseline"
        ));
        return Some(verdict);
    };
    speedup_verdict(report, verdict, thread, Bound::AtMost(GIL_MAX_SPEEDUP))
}

/// Settles `verdict` on one check: `thread`'s speedup over its baseline
/// against `bound`.
fn speedup_verdict(
    report: &RunReport,
    mut verdict: Verdict,
    thread: &CaseResult,
    bound: Bound,
) -> Option<Verdict> {
    let speedup = query::speedup_ratio(report, thread)?;
    verdict.checks.push(check(
        speedup,
        bound,
        format!(
            "{} at {} workers: speedup {}",
            thread.model,
            thread.workers,
            table::ratio_interval(speedup.estimate)
        ),
    ));
    verdict.cases = vec![
        case_label(thread),
        case_label(query::baseline(report, thread)?),
    ];
    Some(verdict.settle(Vec::new()))
}

/// The claim the note makes for IO: threads overlap waiting as well as any
/// model does, here processes, at a fraction of the memory and start-up cost.
fn threads_for_io(report: &RunReport, s: &ScenarioInfo, world: &World) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    first_model(&cases, &world.threads)?;
    // The point with the most concurrency that GIL threads ran.
    let point = cases
        .iter()
        .copied()
        .filter(|c| world.threads.iter().any(|m| m.is(&c.model)) && c.is_ok())
        .max_by_key(|c| (c.workers, c.tasks))?;
    let mut sides: Vec<(&str, &[ModelId])> = vec![("GIL threads", &world.threads)];
    if !world.cpython {
        sides.insert(0, ("native threads", &NATIVE_IO_THREADS));
    }
    let sides_text = sides
        .iter()
        .map(|(_, models)| {
            let names: Vec<String> = models.iter().map(ToString::to_string).collect();
            names.join(" or ")
        })
        .collect::<Vec<_>>()
        .join(", and ");
    let mut verdict = Verdict::pending(
        THREADS_FOR_IO,
        world,
        format!(
            "at the most workers measured, {sides_text} (the faster of each pair) reach ≥ {} of the \
             best model's speedup on the same work; and threads cost less memory and start-up per unit \
             than processes (slopes across the sweep, intervals apart)",
            table::percent(THREADS_IO_MIN_SHARE)
        ),
        s,
    );
    let mut missing = Vec::new();
    // The fastest model of this world at that point.
    let best = cases
        .iter()
        .copied()
        .filter(|c| {
            world.has(&c.model)
                && c.is_ok()
                && c.workers == point.workers
                && query::same_work(c, point)
        })
        .filter_map(|c| Some((c, c.wall_s?.median)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)?;
    // Which case is the best, and which thread model is the faster of its
    // pair, can change with more rounds: the verdict rests on every case
    // that could be either.
    verdict.cases.extend(
        cases
            .iter()
            .filter(|c| {
                world.has(&c.model) && c.workers == point.workers && query::same_work(c, point)
            })
            .map(|c| case_label(c)),
    );
    for (side, models) in sides {
        let thread = models
            .iter()
            .filter_map(|m| partner(&cases, point, *m))
            .filter_map(|c| Some((c, c.wall_s?.median)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c);
        let Some(thread) = thread else {
            missing.push(format!("{side} at {} workers", point.workers));
            continue;
        };
        // The thread model's speedup over the best one's is the inverse ratio of their walls.
        let share = query::wall_ratio(best, thread)?;
        let ideal = thread
            .ideal_speedup
            .zip(query::speedup(report, thread))
            .map(|(ideal, speedup)| {
                format!(
                    "; speedup {} of ideal {}×",
                    table::ratio_interval(speedup),
                    table::significant(ideal)
                )
            })
            .unwrap_or_default();
        verdict.checks.push(check(
            share,
            Bound::AtLeast(THREADS_IO_MIN_SHARE),
            format!(
                "{} at {} workers reaches {} of the speedup of {}, the best model here{ideal}",
                thread.model,
                thread.workers,
                share_text(share),
                best.model
            ),
        ));
    }
    cost_per_unit(report, s, world, &mut verdict, &mut missing);
    Some(verdict.settle(missing))
}

/// Outcome of "`a` is smaller than `b`", two intervals.
fn smaller(a: Estimate, b: Estimate) -> Outcome {
    if a.high < b.low {
        Outcome::Holds
    } else if a.low > b.high {
        Outcome::DoesNotHold
    } else {
        Outcome::Inconclusive
    }
}

/// The "fraction of the memory and start-up cost" half of threads for IO:
/// memory per unit (threads against processes) and start-up per worker
/// (thread pool against process pool), each a slope across the sweep.
fn cost_per_unit(
    report: &RunReport,
    s: &ScenarioInfo,
    world: &World,
    verdict: &mut Verdict,
    missing: &mut Vec<String>,
) {
    let (threads, processes): (Vec<ModelId>, Vec<ModelId>) = if world.cpython {
        (
            world.threads.to_vec(),
            vec![world.process_pool, world.model(ModelKind::CpythonProcess)],
        )
    } else {
        (
            [&world.threads[..], &NATIVE_IO_THREADS[..]].concat(),
            vec![
                world.process_pool,
                native(ModelKind::ProcessPool),
                native(ModelKind::Process),
            ],
        )
    };
    let memory = |models: &[ModelId]| {
        models
            .iter()
            .find_map(|m| query::memory_per_unit(report, &s.name, &m.to_string()).ok())
    };
    // The slopes rest on every case of their models across the sweep.
    let mut rest_on = |model: &str| {
        let cases = query::scenario_cases(report, &s.name);
        let labels = cases
            .iter()
            .filter(|c| c.model == model)
            .map(|c| case_label(c));
        verdict.cases.extend(labels);
    };
    let memory_models = memory(&threads).zip(memory(&processes));
    if let Some((t, p)) = &memory_models {
        rest_on(t.model);
        rest_on(p.model);
    }
    let pools = [
        (world.threads[1], world.process_pool),
        (
            native(ModelKind::ThreadPool),
            native(ModelKind::ProcessPool),
        ),
    ];
    let startup = pools.iter().find_map(|(t, p)| {
        Some((
            *t,
            query::startup_per_unit(report, &s.name, &t.to_string())?,
            *p,
            query::startup_per_unit(report, &s.name, &p.to_string())?,
        ))
    });
    if let Some((t, _, p, _)) = &startup {
        rest_on(&t.to_string());
        rest_on(&p.to_string());
    }
    match memory_models {
        Some((t, p)) => verdict.checks.push(Check {
            outcome: smaller(t.per_unit, p.per_unit),
            text: format!(
                "memory per unit (the slope across the sweep): {} {}, {} {} ({})",
                t.model,
                table::bytes_interval(t.per_unit),
                p.model,
                table::bytes_interval(p.per_unit),
                p.metric.label()
            ),
        }),
        None => missing.push("memory per unit of a thread and a process model".into()),
    }
    match startup {
        Some((t, t_unit, p, p_unit)) => verdict.checks.push(Check {
            outcome: smaller(t_unit, p_unit),
            text: format!(
                "start-up per worker (the slope across the sweep): {t} {}, {p} {}",
                table::seconds_interval(t_unit),
                table::seconds_interval(p_unit)
            ),
        }),
        None => missing.push(format!(
            "start-up times of {} and {} at two or more worker counts",
            world.threads[1], world.process_pool
        )),
    }
}

/// The process model a native thread model is compared with: like with
/// like, one thread per task against one process per task where the
/// scenario ran it (both pay a start per task), pools against the process
/// pool.
fn process_partner(thread: ModelId, cases: &[&CaseResult]) -> ModelId {
    let process = native(ModelKind::Process);
    if thread == native(ModelKind::Thread) && first_model(cases, &[process]).is_some() {
        process
    } else {
        native(ModelKind::ProcessPool)
    }
}

fn native_threads_compute(report: &RunReport, s: &ScenarioInfo, cores: usize) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    first_model(&cases, &PROCESSES)?;
    NATIVE_THREADS
        .iter()
        .find(|model| first_model(&cases, &[**model]).is_some())?;
    let [t, tp, r] = NATIVE_THREADS;
    let mut verdict = Verdict::pending(
        NATIVE_THREADS_COMPUTE,
        &EMULATED,
        format!(
            "at the most workers measured, {t}, {tp} and {r} each reach ≥ {} of the speedup of processes started the same way ({} for {t} where it ran, else {})",
            table::percent(NATIVE_THREADS_MIN_SHARE),
            native(ModelKind::Process),
            native(ModelKind::ProcessPool)
        ),
        s,
    );
    if cores <= 1 {
        verdict.note = one_core_note();
        return Some(verdict);
    }
    for model in NATIVE_THREADS {
        let process_model = process_partner(model, &cases);
        // The most workers (2 or more on the cores) where both ran.
        let pair = cases
            .iter()
            .copied()
            .filter(|p| process_model.is(&p.model) && p.is_ok() && p.wall_s.is_some())
            .filter(|p| p.workers.min(cores) >= 2)
            .filter_map(|p| Some((p, partner(&cases, p, model)?)))
            .max_by_key(|(p, _)| (p.workers, p.tasks));
        let Some((process, thread)) = pair else {
            continue;
        };
        // Native speedup over process speedup is the inverse ratio of their walls.
        let share = query::wall_ratio(process, thread)?;
        verdict.checks.push(check(
            share,
            Bound::AtLeast(NATIVE_THREADS_MIN_SHARE),
            format!(
                "{model} reaches {} of {process_model}'s speedup at {} workers",
                share_text(share),
                process.workers
            ),
        ));
        verdict.cases.push(case_label(process));
        verdict.cases.push(case_label(thread));
    }
    if verdict.checks.is_empty() {
        verdict.note = Some(
            "no native thread model and its process model ran the same work with 2 or more workers"
                .into(),
        );
        return Some(verdict);
    }
    verdict.cases.sort();
    verdict.cases.dedup();
    Some(verdict.settle(Vec::new()))
}

/// Threads whose CPU work runs in an extension that drops the GIL (numpy,
/// hashlib) compute in parallel although they hold a GIL otherwise.
fn gil_releasing(report: &RunReport, s: &ScenarioInfo, cores: usize) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (model, threads) = first_model(&cases, &EMULATED.threads)?;
    let mut verdict = Verdict::pending(
        GIL_RELEASING,
        &EMULATED,
        format!(
            "with workers ≥ {cores} logical cores, {model} whose CPU work releases the GIL is faster than \
             sequential by at least 1 + {PROCESS_GAIN_PER_EXTRA_CORE} × (usable cores − 1)"
        ),
        s,
    );
    if cores <= 1 {
        verdict.note = one_core_note();
        return Some(verdict);
    }
    let point = threads
        .iter()
        .copied()
        .filter(|c| c.workers >= cores && query::baseline(report, c).is_some())
        .min_by_key(|c| (c.workers, std::cmp::Reverse(c.tasks)));
    let Some(thread) = point else {
        verdict.note = Some(format!(
            "no {model} case with workers ≥ {cores} and a sequential baseline"
        ));
        return Some(verdict);
    };
    let bound = Bound::AtLeast(parallel_gain(cores, thread.workers));
    speedup_verdict(report, verdict, thread, bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;
    use crate::results::CaseStatus;

    fn find<'a>(verdicts: &'a [Verdict], claim: &str, scenario: &str) -> &'a Verdict {
        verdicts
            .iter()
            .find(|v| v.claim == claim && !v.cpython && v.scenario.as_deref() == Some(scenario))
            .unwrap_or_else(|| panic!("no verdict {claim} on {scenario}: {verdicts:#?}"))
    }

    /// Sets every repetition of the matching cases to `walls`, round by round.
    fn set_walls(
        report: &mut RunReport,
        scenario: &str,
        model: &str,
        workers: usize,
        walls: &[f64],
    ) {
        let mut found = false;
        for case in report
            .cases
            .iter_mut()
            .filter(|c| c.scenario == scenario && c.model == model && c.workers == workers)
        {
            case.samples_wall_s = walls.to_vec();
            case.wall_s = crate::stats::median_ci(walls);
            found = true;
        }
        assert!(found, "no case {scenario}/{model}/{workers}");
    }

    /// Crafted walls: `base` for six rounds with ±2% of round-to-round noise
    /// that every model of a round shares.
    fn walls(base: f64) -> Vec<f64> {
        [1.0, 1.02, 0.98, 1.01, 0.99, 1.0]
            .iter()
            .map(|f| base * f)
            .collect()
    }

    /// The sample with six crafted repetitions for every case that a claim on
    /// `scenario` compares: `set(model, workers, wall)`.
    fn crafted(scenario: &str, set: &[(&str, usize, f64)]) -> RunReport {
        let mut report = sample();
        // Every other case of the scenario gets the same six rounds too, so
        // that every pairing is possible.
        for case in report.cases.iter_mut().filter(|c| c.scenario == scenario) {
            let base = case.wall_s.map_or(1.0, |w| w.median);
            case.samples_wall_s = walls(base);
            case.wall_s = crate::stats::median_ci(&case.samples_wall_s);
        }
        for (model, workers, wall) in set {
            set_walls(&mut report, scenario, model, *workers, &walls(*wall));
        }
        report
    }

    /// A wall for `model` that straddles `threshold`: rounds alternate above
    /// and below it.
    fn straddling(
        report: &mut RunReport,
        scenario: &str,
        model: &str,
        workers: usize,
        around: f64,
    ) {
        let ws: Vec<f64> = [0.8, 1.2, 0.8, 1.2, 0.8, 1.2]
            .iter()
            .map(|f| around * f)
            .collect();
        set_walls(report, scenario, model, workers, &ws);
    }

    fn outcome(report: &RunReport, claim: &str, scenario: &str) -> Outcome {
        find(&verdicts(report), claim, scenario).outcome
    }

    #[test]
    fn the_interpreter_is_named_and_a_free_threaded_one_is_labelled() {
        let mut report = sample();
        assert!(python_notice(&report).is_empty());
        report.python = Some(crate::results::PythonRecord {
            tag: None,
            path: "/usr/bin/python3.13t".into(),
            version: "3.13.0".into(),
            free_threaded: true,
            gil_enabled: Some(false),
        });
        let notice = python_notice(&report).remove(0);
        assert!(
            notice.contains("CPython 3.13.0 (free-threaded, GIL off)"),
            "{notice}"
        );
        assert!(notice.contains("expected not to hold"), "{notice}");
        assert!(notices(&report).contains(&notice));
        let python = report.python.as_mut().unwrap();
        python.gil_enabled = Some(true);
        let notice = python_notice(&report).remove(0);
        assert!(notice.contains("GIL turned on") && !notice.contains("expected not to hold"));
    }

    #[test]
    fn sample_verdicts_hold_without_python() {
        let verdicts = verdicts(&sample());
        // The sample ran no cpython-* model: no CPython verdict is made up.
        assert!(verdicts.iter().all(|v| !v.cpython), "{verdicts:#?}");
        // spawn-many has no GIL threads: no verdict is made up for it.
        assert!(
            verdicts
                .iter()
                .all(|v| v.scenario.as_deref() != Some("spawn-many")
                    || v.claim == NATIVE_THREADS_COMPUTE)
        );
    }

    #[test]
    fn gil_serializes_has_three_outcomes() {
        // Sequential 100 ms; thread+gil at 4 workers 100 ms (1×), 50 ms (2×), ~91 ms (1.1×).
        let holds = crafted(
            "cpu-hash",
            &[("sequential", 1, 0.1), ("thread+gil", 4, 0.1)],
        );
        assert_eq!(outcome(&holds, GIL_SERIALIZES, "cpu-hash"), Outcome::Holds);
        let fails = crafted(
            "cpu-hash",
            &[("sequential", 1, 0.1), ("thread+gil", 4, 0.05)],
        );
        assert_eq!(
            outcome(&fails, GIL_SERIALIZES, "cpu-hash"),
            Outcome::DoesNotHold
        );
        let mut unsure = crafted("cpu-hash", &[("sequential", 1, 0.1)]);
        straddling(&mut unsure, "cpu-hash", "thread+gil", 4, 0.1 / 1.1);
        let verdict = find(&verdicts(&unsure), GIL_SERIALIZES, "cpu-hash").clone();
        assert_eq!(verdict.outcome, Outcome::Inconclusive);
        assert!(verdict.wants_samples(), "{verdict:#?}");
    }

    #[test]
    fn processes_for_compute_has_three_outcomes() {
        let at = |thread: f64, process: f64| {
            crafted(
                "cpu-hash",
                &[("thread+gil", 2, thread), ("process-pool+gil", 2, process)],
            )
        };
        assert_eq!(
            outcome(&at(0.1, 0.05), PROCESSES_FOR_COMPUTE, "cpu-hash"),
            Outcome::Holds
        );
        assert_eq!(
            outcome(&at(0.1, 0.09), PROCESSES_FOR_COMPUTE, "cpu-hash"),
            Outcome::DoesNotHold
        );
        let mut unsure = at(0.1, 0.05);
        straddling(&mut unsure, "cpu-hash", "process-pool+gil", 2, 0.1 / 1.5);
        assert_eq!(
            outcome(&unsure, PROCESSES_FOR_COMPUTE, "cpu-hash"),
            Outcome::Inconclusive
        );
    }

    #[test]
    fn native_threads_compute_has_three_outcomes() {
        let set = |rayon: f64| {
            crafted(
                "cpu-hash",
                &[
                    ("process-pool", 4, 0.05),
                    ("thread", 4, 0.05),
                    ("thread-pool", 4, 0.05),
                    ("rayon", 4, rayon),
                ],
            )
        };
        assert_eq!(
            outcome(&set(0.05), NATIVE_THREADS_COMPUTE, "cpu-hash"),
            Outcome::Holds
        );
        let slow = find(&verdicts(&set(0.1)), NATIVE_THREADS_COMPUTE, "cpu-hash").clone();
        assert_eq!(slow.outcome, Outcome::DoesNotHold);
        assert_eq!(slow.checks.len(), 3);
        let mut unsure = set(0.05);
        straddling(&mut unsure, "cpu-hash", "rayon", 4, 0.05 / 0.8);
        assert_eq!(
            outcome(&unsure, NATIVE_THREADS_COMPUTE, "cpu-hash"),
            Outcome::Inconclusive
        );
    }

    #[test]
    fn a_thread_per_task_is_compared_with_a_process_per_task_where_one_ran() {
        // Thread per task pays its starts: 80% of the pool's speedup is not
        // reached, but it beats a process per task.
        let cases = |process: Option<f64>| {
            let mut cases = vec![
                ("process-pool", 4, 0.05),
                ("thread", 4, 0.07),
                ("thread-pool", 4, 0.05),
                ("rayon", 4, 0.05),
            ];
            cases.extend(process.map(|wall| ("process", 4, wall)));
            let mut report = crafted("cpu-hash", &cases);
            if process.is_none() {
                report
                    .cases
                    .retain(|c| !(c.scenario == "cpu-hash" && c.model == "process"));
            }
            report
        };
        let with = find(
            &verdicts(&cases(Some(0.08))),
            NATIVE_THREADS_COMPUTE,
            "cpu-hash",
        )
        .clone();
        assert_eq!(with.outcome, Outcome::Holds, "{:?}", with.checks);
        assert!(
            with.checks[0].text.contains("of process's speedup"),
            "{}",
            with.checks[0].text
        );
        assert_eq!(
            outcome(&cases(Some(0.05)), NATIVE_THREADS_COMPUTE, "cpu-hash"),
            Outcome::DoesNotHold
        );
        let without = find(&verdicts(&cases(None)), NATIVE_THREADS_COMPUTE, "cpu-hash").clone();
        assert_eq!(without.outcome, Outcome::DoesNotHold);
        assert!(without.checks[0].text.contains("of process-pool's speedup"));
    }

    #[test]
    fn threads_for_io_compares_threads_with_the_best_model() {
        // At 64 workers: async is best at 11 ms; threads at 11.5 ms reach 96% of it.
        let base = [
            ("async", 64, 0.011),
            ("thread", 64, 0.0115),
            ("thread-pool", 64, 0.0118),
            ("thread+gil", 64, 0.0115),
            ("thread-pool+gil", 64, 0.012),
            ("process-pool", 64, 0.0125),
            ("process-pool+gil", 64, 0.0125),
        ];
        let holds = crafted("io-sleep", &base);
        let verdict = find(&verdicts(&holds), THREADS_FOR_IO, "io-sleep").clone();
        assert_eq!(verdict.outcome, Outcome::Holds, "{verdict:#?}");
        // Native and GIL threads against the best model, then memory and
        // start-up per unit against processes.
        assert_eq!(verdict.checks.len(), 4, "{verdict:#?}");

        // GIL threads twice as slow as the best model: the claim fails,
        // whatever the ideal bound says.
        let mut slow = crafted("io-sleep", &base);
        set_walls(&mut slow, "io-sleep", "thread+gil", 64, &walls(0.022));
        set_walls(&mut slow, "io-sleep", "thread-pool+gil", 64, &walls(0.025));
        assert_eq!(
            outcome(&slow, THREADS_FOR_IO, "io-sleep"),
            Outcome::DoesNotHold
        );

        let mut unsure = crafted("io-sleep", &base);
        straddling(&mut unsure, "io-sleep", "thread+gil", 64, 0.011 / 0.8);
        set_walls(&mut unsure, "io-sleep", "thread-pool+gil", 64, &walls(0.05));
        assert_eq!(
            outcome(&unsure, THREADS_FOR_IO, "io-sleep"),
            Outcome::Inconclusive
        );
    }

    /// Sets every repetition of `model` in io-sleep to `per_unit` bytes per
    /// unit (with ±1% noise) over a 20 MiB base, and `startup` seconds per
    /// worker.
    fn set_costs(report: &mut RunReport, model: &str, per_unit: f64, startup: f64) {
        for case in report
            .cases
            .iter_mut()
            .filter(|c| c.scenario == "io-sleep" && c.model == model)
        {
            let units = query::units(case) as f64;
            let workers = case.workers as f64;
            for (i, rep) in case.repetitions.iter_mut().enumerate() {
                let noise = 1.0 + 0.01 * (i as f64 - 2.0);
                rep.harness_peak_rss_bytes = (20.0 * 1048576.0 + units * per_unit * noise) as u64;
                rep.children_peak_rss_bytes = 0;
                rep.children_peak_pss_bytes = Some(0);
                rep.startup_s = Some(workers * startup * noise);
            }
        }
    }

    #[test]
    fn threads_for_io_weighs_memory_and_start_up_per_unit() {
        let costs = |thread_bytes: f64, thread_startup: f64| {
            let mut report = crafted("io-sleep", &[]);
            for model in ["thread+gil", "thread-pool+gil", "thread", "thread-pool"] {
                set_costs(&mut report, model, thread_bytes, thread_startup);
            }
            for model in ["process-pool+gil", "process-pool", "process"] {
                set_costs(&mut report, model, 2_000_000.0, 0.001);
            }
            let verdict = find(&verdicts(&report), THREADS_FOR_IO, "io-sleep").clone();
            let outcome_of = |what: &str| {
                verdict
                    .checks
                    .iter()
                    .find(|c| c.text.starts_with(what))
                    .unwrap_or_else(|| panic!("no {what} check: {verdict:#?}"))
                    .outcome
            };
            (outcome_of("memory"), outcome_of("start-up"))
        };
        // Threads at 40 KiB and 20 µs per unit against processes at 2 MB and 1 ms.
        assert_eq!(costs(40_000.0, 20e-6), (Outcome::Holds, Outcome::Holds));
        // Threads dearer than processes.
        assert_eq!(
            costs(4_000_000.0, 0.01),
            (Outcome::DoesNotHold, Outcome::DoesNotHold)
        );
        // The same cost: the intervals overlap.
        assert_eq!(
            costs(2_000_000.0, 0.001),
            (Outcome::Inconclusive, Outcome::Inconclusive)
        );
    }

    #[test]
    fn gil_releasing_extension_has_its_own_claim() {
        let mut report = crafted(
            "cpu-hash",
            &[("sequential", 1, 0.1), ("thread+gil", 2, 0.05)],
        );
        report
            .scenarios
            .iter_mut()
            .find(|s| s.name == "cpu-hash")
            .unwrap()
            .releases_gil = true;
        let all = verdicts(&report);
        // The scenario built to show threads scaling is not judged by "the GIL serializes".
        assert!(
            all.iter()
                .all(|v| v.claim != GIL_SERIALIZES || v.scenario.as_deref() != Some("cpu-hash")),
            "{all:#?}"
        );
        assert_eq!(outcome(&report, GIL_RELEASING, "cpu-hash"), Outcome::Holds);
        set_walls(&mut report, "cpu-hash", "thread+gil", 2, &walls(0.1));
        assert_eq!(
            outcome(&report, GIL_RELEASING, "cpu-hash"),
            Outcome::DoesNotHold
        );
        straddling(&mut report, "cpu-hash", "thread+gil", 2, 0.1 / 1.5);
        assert_eq!(
            outcome(&report, GIL_RELEASING, "cpu-hash"),
            Outcome::Inconclusive
        );
    }

    #[test]
    fn cpython_cases_get_verdicts_of_their_own() {
        let mut report = sample();
        let twins: Vec<CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.scenario == "cpu-hash")
            .filter_map(|c| {
                let model = match c.model.as_str() {
                    "sequential" => "cpython-sequential",
                    "thread+gil" => "cpython-thread",
                    "process-pool+gil" => "cpython-process-pool",
                    _ => return None,
                };
                let mut twin = c.clone();
                twin.model = model.into();
                Some(twin)
            })
            .collect();
        report.cases.extend(twins);
        let all = verdicts(&report);
        let real: Vec<&Verdict> = all.iter().filter(|v| v.cpython).collect();
        assert!(
            real.iter()
                .any(|v| v.claim == GIL_SERIALIZES && v.scenario.as_deref() == Some("cpu-hash")),
            "{real:#?}"
        );
        assert!(real.iter().all(|v| v.title().ends_with("(real CPython)")));
        let gil = real
            .iter()
            .find(|v| v.claim == GIL_SERIALIZES && v.scenario.is_some())
            .unwrap();
        assert!(
            gil.cases.iter().any(|c| c.contains("cpython-sequential")),
            "{gil:#?}"
        );
    }

    #[test]
    fn without_python_the_page_says_why_cpython_was_not_judged() {
        let mut report = sample();
        assert!(cpython_notice(&report).is_empty(), "none was asked for");
        let mut twin = report.cases[0].clone();
        twin.model = "cpython-thread".into();
        twin.status = CaseStatus::Skipped("python3 was not found on PATH".into());
        report.cases.push(twin.clone());
        let notice = cpython_notice(&report).remove(0);
        assert!(notice.contains("python3 was not found"), "{notice}");
        twin.status = CaseStatus::Ok;
        report.cases.push(twin);
        assert!(cpython_notice(&report).is_empty(), "one ran");
    }

    /// The sample's cpu-hash cases again as the real-CPython models of each
    /// interpreter in `tags` (`cpython-thread@3.12`, ...).
    fn with_interpreters(tags: &[&str]) -> RunReport {
        let mut report = sample();
        let mut twins = Vec::new();
        for tag in tags {
            for c in report.cases.iter().filter(|c| c.scenario == "cpu-hash") {
                let model = match c.model.as_str() {
                    "sequential" => "cpython-sequential",
                    "thread+gil" => "cpython-thread",
                    "process-pool+gil" => "cpython-process-pool",
                    _ => continue,
                };
                let mut twin = c.clone();
                twin.model = format!("{model}@{tag}");
                twins.push(twin);
            }
        }
        report.cases.extend(twins);
        report
    }

    #[test]
    fn each_interpreter_of_a_run_is_judged_on_its_own_models() {
        let mut report = with_interpreters(&["3.12", "2.7"]);
        // 3.12's threads serialize; 2.7's thrash: slower than sequential.
        for (tag, thread_wall) in [("3.12", 1.0), ("2.7", 1.4)] {
            let seq = format!("cpython-sequential@{tag}");
            let thread = format!("cpython-thread@{tag}");
            let pool = format!("cpython-process-pool@{tag}");
            for c in report.cases.iter_mut().filter(|c| c.scenario == "cpu-hash") {
                let wall = if c.model == seq {
                    1.0
                } else if c.model == thread {
                    thread_wall
                } else if c.model == pool {
                    0.55
                } else {
                    continue;
                };
                c.samples_wall_s = walls(wall);
                c.wall_s = crate::stats::median_ci(&c.samples_wall_s);
            }
        }
        let all = verdicts(&report);
        for tag in ["3.12", "2.7"] {
            let gil = all
                .iter()
                .find(|v| {
                    v.claim == GIL_SERIALIZES
                        && v.python.map(|t| t.to_string()).as_deref() == Some(tag)
                        && v.scenario.is_some()
                })
                .unwrap_or_else(|| panic!("no verdict for {tag}: {all:#?}"));
            assert!(gil.cpython);
            assert_eq!(
                gil.title(),
                format!("{GIL_SERIALIZES} (real CPython {tag})")
            );
            assert_eq!(gil.outcome, Outcome::Holds, "{gil:#?}");
            // Each rests on its own interpreter's baseline and threads only.
            assert!(
                gil.cases.iter().all(|c| c.contains(&format!("@{tag}"))),
                "{gil:#?}"
            );
            assert!(
                gil.cases
                    .iter()
                    .any(|c| c.contains(&format!("cpython-sequential@{tag}"))),
                "{gil:#?}"
            );
        }
        // No untagged real-CPython world is made up beside them.
        assert!(all.iter().all(|v| !v.cpython || v.python.is_some()));
        let mut notices = cpython_notice(&report);
        assert!(notices.is_empty(), "{notices:?}");
        // Python 2.7 cannot run a thread pool: the page says so once.
        for c in report
            .cases
            .iter_mut()
            .filter(|c| c.model == "cpython-process-pool@2.7")
        {
            c.status = CaseStatus::Skipped(
                "cpython-process-pool needs Python 3.8.0 or newer; Python 2.7.18 runs only \
                 cpython-sequential and cpython-thread"
                    .into(),
            );
        }
        notices = cpython_notice(&report);
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].starts_with("Real CPython 2.7: skipped cpython-process-pool@2.7 (")
                && notices[0].contains("needs Python 3.8.0"),
            "{notices:?}"
        );
    }

    #[test]
    fn every_interpreter_of_a_run_is_named_and_a_free_threaded_one_labelled() {
        let mut report = with_interpreters(&["3.12", "3.13t"]);
        let record = |tag: &str, version: &str, free_threaded| crate::results::PythonRecord {
            tag: Some(tag.into()),
            path: format!("/usr/bin/python{tag}"),
            version: version.into(),
            free_threaded,
            gil_enabled: free_threaded.then_some(false),
        };
        report.python = Some(record("3.12", "3.12.1", false));
        report.pythons = vec![
            record("3.12", "3.12.1", false),
            record("3.13t", "3.13.0", true),
        ];
        let notices = python_notice(&report);
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[0].starts_with("Real CPython 3.12: CPython 3.12.1 (with a GIL)"));
        assert!(!notices[0].contains("expected not to hold"));
        assert!(
            notices[1].starts_with("Real CPython 3.13t: CPython 3.13.0 (free-threaded, GIL off)")
        );
        assert!(notices[1].contains("its cpython-thread@3.13t cases are threads without a GIL"));
    }

    #[test]
    fn io_work_done_on_the_cpu_is_not_judged_as_waiting() {
        let base = [("async", 64, 0.011), ("thread-pool", 64, 0.0115)];
        let mut report = crafted("io-sleep", &base);
        let judged = |report: &RunReport| {
            verdicts(report)
                .iter()
                .any(|v| v.claim == THREADS_FOR_IO && v.scenario.as_deref() == Some("io-sleep"))
        };
        assert!(judged(&report));
        assert!(notices(&report).is_empty(), "{:?}", notices(&report));
        // The sequential tasks spent 60% of their time in system calls.
        let seq = report
            .cases
            .iter_mut()
            .find(|c| c.scenario == "io-sleep" && c.model == "sequential")
            .unwrap();
        let wall = seq.wall_s.unwrap().median;
        (seq.cpu_user_s, seq.cpu_sys_s) = (Some(0.1 * wall), Some(0.5 * wall));
        assert!(!judged(&report));
        let notice = notices(&report).join("\n");
        assert!(
            notice.contains("not judged on io-sleep") && notice.contains("60%"),
            "{notice}"
        );
    }

    #[test]
    fn too_few_repetitions_are_inconclusive_but_resolvable() {
        let mut report = crafted("cpu-hash", &[("sequential", 1, 0.1)]);
        set_walls(&mut report, "cpu-hash", "sequential", 1, &[0.1, 0.1, 0.1]);
        set_walls(&mut report, "cpu-hash", "thread+gil", 4, &[0.1, 0.1, 0.1]);
        let verdict = find(&verdicts(&report), GIL_SERIALIZES, "cpu-hash").clone();
        assert_eq!(verdict.outcome, Outcome::Inconclusive);
        assert!(verdict.wants_samples());
        assert!(
            verdict.checks[0].text.contains("3 repetitions"),
            "{verdict:#?}"
        );
    }

    #[test]
    fn missing_cases_are_not_tested_and_one_core_is_inconclusive_each_saying_why() {
        let mut report = sample();
        report.cases.retain(|c| !c.model.starts_with("process"));
        let all = verdicts(&report);
        let compute = all
            .iter()
            .find(|v| v.claim == PROCESSES_FOR_COMPUTE)
            .unwrap();
        assert_eq!(compute.outcome, Outcome::NotTested);
        assert!(compute.scenario.is_none() && compute.note.is_some());
        assert!(!compute.wants_samples());

        let mut one_core = sample();
        one_core.machine.logical_cores = 1;
        let verdict = find(&verdicts(&one_core), GIL_SERIALIZES, "cpu-hash").clone();
        assert_eq!(verdict.outcome, Outcome::Inconclusive);
        assert!(verdict.note.unwrap().contains("1 logical core"));
    }
}
