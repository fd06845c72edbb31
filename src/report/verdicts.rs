//! Verdicts: the claims people make about concurrency models, judged from the
//! measured cases with their confidence intervals. Pure: a `RunReport` in,
//! verdicts out. An interval that straddles a threshold, or a missing case,
//! makes a verdict inconclusive and says why.

use super::query::{self, SEQUENTIAL};
use super::table;
use crate::results::{CaseResult, Estimate, RunReport, ScenarioInfo};

/// Processes must beat GIL threads by 1 + this × (usable cores − 1): half of
/// the gain perfect scaling would give, so 1.5× on 2 cores.
pub const PROCESS_GAIN_PER_EXTRA_CORE: f64 = 0.5;
/// The process advantage demanded never exceeds this: past it the claim is
/// proven, and a pool's fixed costs grow with its size.
pub const PROCESS_GAIN_CAP: f64 = 4.0;
/// Threads waiting on IO must reach this share of the ideal speedup.
pub const THREADS_IO_MIN_EFFICIENCY: f64 = 0.8;
/// Native threads must reach this share of the processes' speedup ("within 20%").
pub const NATIVE_THREADS_MIN_SHARE: f64 = 0.8;
/// GIL threads on CPU work may be at most this much faster than sequential.
pub const GIL_MAX_SPEEDUP: f64 = 1.1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Holds,
    DoesNotHold,
    Inconclusive,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::DoesNotHold => "does not hold",
            Outcome::Inconclusive => "inconclusive",
        }
    }

    /// A claim made of several checks fails if one fails and holds only if all hold.
    fn all(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        let mut result = Outcome::Holds;
        for outcome in outcomes {
            match outcome {
                Outcome::DoesNotHold => return Outcome::DoesNotHold,
                Outcome::Inconclusive => result = Outcome::Inconclusive,
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
    /// What exactly is tested, thresholds included.
    pub test: String,
    /// The scenario judged; `None` when no scenario had the cases needed.
    pub scenario: Option<String>,
    pub outcome: Outcome,
    pub checks: Vec<Check>,
    /// The cases the verdict rests on, as readable labels.
    pub cases: Vec<String>,
    /// Why the verdict is inconclusive, when that is not a straddled interval.
    pub note: Option<String>,
}

impl Verdict {
    /// A verdict about scenario `s`, inconclusive until its checks decide.
    fn pending(claim: &'static str, test: String, s: &ScenarioInfo) -> Verdict {
        Verdict {
            claim,
            test,
            scenario: Some(s.name.clone()),
            outcome: Outcome::Inconclusive,
            checks: Vec::new(),
            cases: Vec::new(),
            note: None,
        }
    }
}

const PROCESSES_FOR_COMPUTE: &str = "Processes for compute";
const THREADS_FOR_IO: &str = "Threads for IO";
const NATIVE_THREADS_COMPUTE: &str = "Without a GIL, threads compute in parallel too";
const GIL_SERIALIZES: &str = "The GIL serializes compute";

const GIL_THREADS: [&str; 2] = ["thread+gil", "thread-pool+gil"];
const PROCESS_POOLS: [&str; 2] = ["process-pool+gil", "process-pool"];
const NATIVE_THREADS: [&str; 3] = ["thread", "thread-pool", "rayon"];
const PROCESSES: [&str; 3] = ["process-pool", "process", "process-pool+gil"];
const IO_THREADS: [&str; 3] = ["thread+gil", "thread", "thread-pool"];

/// Every verdict the data allows, in a fixed order of claims.
pub fn verdicts(report: &RunReport) -> Vec<Verdict> {
    let cores = report.machine.logical_cores;
    let cpu: Vec<&ScenarioInfo> = report.scenarios.iter().filter(|s| s.cpu_bound).collect();
    // Convoy scenarios add CPU threads on purpose; they do not measure IO scaling.
    let io: Vec<&ScenarioInfo> = report
        .scenarios
        .iter()
        .filter(|s| !s.cpu_bound && s.workload.starts_with("io"))
        .filter(|s| {
            query::scenario_cases(report, &s.name)
                .iter()
                .all(|case| !case.params.contains_key("cpu_threads"))
        })
        .collect();
    let mut out = Vec::new();
    out.extend(per_scenario(
        &cpu,
        PROCESSES_FOR_COMPUTE,
        "no CPU-bound scenario ran both a process pool and GIL threads",
        |s| processes_for_compute(report, s, cores),
    ));
    out.extend(per_scenario(
        &io,
        THREADS_FOR_IO,
        "no IO-bound scenario ran threads",
        |s| threads_for_io(report, s),
    ));
    out.extend(per_scenario(
        &cpu,
        NATIVE_THREADS_COMPUTE,
        "no CPU-bound scenario ran both native threads and processes",
        |s| native_threads_compute(report, s, cores),
    ));
    out.extend(per_scenario(
        &cpu,
        GIL_SERIALIZES,
        "no CPU-bound scenario ran thread+gil",
        |s| gil_serializes(report, s, cores),
    ));
    out
}

/// Judges `claim` on every scenario that has the models it needs (`judge`
/// returns `None` otherwise); one inconclusive verdict when none has them.
fn per_scenario(
    scenarios: &[&ScenarioInfo],
    claim: &'static str,
    missing: &str,
    judge: impl Fn(&ScenarioInfo) -> Option<Verdict>,
) -> Vec<Verdict> {
    let found: Vec<Verdict> = scenarios.iter().filter_map(|s| judge(s)).collect();
    if !found.is_empty() {
        return found;
    }
    vec![Verdict {
        claim,
        test: String::new(),
        scenario: None,
        outcome: Outcome::Inconclusive,
        checks: Vec::new(),
        cases: Vec::new(),
        note: Some(missing.to_string()),
    }]
}

fn at_least(value: Estimate, threshold: f64) -> Outcome {
    if value.low >= threshold {
        Outcome::Holds
    } else if value.high < threshold {
        Outcome::DoesNotHold
    } else {
        Outcome::Inconclusive
    }
}

fn at_most(value: Estimate, threshold: f64) -> Outcome {
    if value.high <= threshold {
        Outcome::Holds
    } else if value.low > threshold {
        Outcome::DoesNotHold
    } else {
        Outcome::Inconclusive
    }
}

fn scale(estimate: Estimate, by: f64) -> Estimate {
    Estimate {
        median: estimate.median * by,
        low: estimate.low * by,
        high: estimate.high * by,
    }
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
    preference: &[&'static str],
) -> Option<(&'static str, Vec<&'a CaseResult>)> {
    preference.iter().find_map(|model| {
        let found: Vec<&CaseResult> = cases
            .iter()
            .copied()
            .filter(|case| case.model == *model && case.is_ok() && case.wall_s.is_some())
            .collect();
        (!found.is_empty()).then_some((*model, found))
    })
}

/// The successful case of `model` that ran the same work with the same workers.
fn partner<'a>(cases: &[&'a CaseResult], of: &CaseResult, model: &str) -> Option<&'a CaseResult> {
    cases.iter().copied().find(|case| {
        case.model == model
            && case.workers == of.workers
            && case.is_ok()
            && case.wall_s.is_some()
            && query::same_work(case, of)
    })
}

fn one_core_note() -> Option<String> {
    Some("this machine has 1 logical core: nothing can compute in parallel, so no claim about scaling can be tested".into())
}

fn processes_for_compute(report: &RunReport, s: &ScenarioInfo, cores: usize) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (thread_model, threads) = first_model(&cases, &GIL_THREADS)?;
    let (process_model, _) = first_model(&cases, &PROCESS_POOLS)?;
    let mut verdict = Verdict::pending(
        PROCESSES_FOR_COMPUTE,
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
    let usable = cores.min(thread.workers) as f64;
    let threshold = (1.0 + PROCESS_GAIN_PER_EXTRA_CORE * (usable - 1.0)).min(PROCESS_GAIN_CAP);
    let advantage = query::ratio(thread.wall_s?, process.wall_s?);
    let outcome = at_least(advantage, threshold);
    verdict.checks.push(Check {
        outcome,
        text: format!(
            "{process_model} is {} faster than {thread_model} at {} workers (needs ≥ {}×)",
            table::ratio_interval(advantage),
            thread.workers,
            table::significant(threshold)
        ),
    });
    verdict.outcome = outcome;
    verdict.cases = vec![case_label(thread), case_label(process)];
    Some(verdict)
}

fn threads_for_io(report: &RunReport, s: &ScenarioInfo) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (thread_model, threads) = first_model(&cases, &IO_THREADS)?;
    let thread = threads
        .iter()
        .copied()
        .filter(|case| query::baseline(report, case).is_some())
        .max_by_key(|case| (case.workers, case.tasks))?;
    let mut verdict = Verdict::pending(
        THREADS_FOR_IO,
        format!(
            "{thread_model} reaches ≥ {} of the ideal speedup, and threads use less memory and start \
             faster per unit than processes",
            table::percent(THREADS_IO_MIN_EFFICIENCY)
        ),
        s,
    );
    verdict.cases.push(case_label(thread));
    let mut missing = Vec::new();
    match (query::speedup(report, thread), thread.ideal_speedup) {
        (Some(speedup), Some(ideal)) if ideal > 0.0 => {
            let efficiency = scale(speedup, 1.0 / ideal);
            verdict.checks.push(Check {
                outcome: at_least(efficiency, THREADS_IO_MIN_EFFICIENCY),
                text: format!(
                    "{thread_model} at {} workers: speedup {} of ideal {}×, efficiency {} [{}, {}]",
                    thread.workers,
                    table::ratio_interval(speedup),
                    table::significant(ideal),
                    table::percent(efficiency.median),
                    table::percent(efficiency.low),
                    table::percent(efficiency.high)
                ),
            });
        }
        _ => missing.push(format!("the ideal speedup of {}", case_label(thread))),
    }

    let process = ["process", "process-pool", "process-pool+gil"]
        .iter()
        .find_map(|model| partner(&cases, thread, model));
    match (process, thread.peak_rss_bytes) {
        (Some(process), Some(thread_rss)) if process.peak_rss_bytes.is_some() => {
            let per_thread = thread_rss / query::units(thread) as u64;
            let per_process = process.peak_rss_bytes? / query::units(process) as u64;
            verdict.checks.push(Check {
                outcome: if per_thread < per_process {
                    Outcome::Holds
                } else {
                    Outcome::DoesNotHold
                },
                text: format!(
                    "peak RSS per unit: {thread_model} {}, {} {}",
                    table::bytes(per_thread),
                    process.model,
                    table::bytes(per_process)
                ),
            });
            verdict.cases.push(case_label(process));
        }
        _ => missing.push(format!(
            "a process or process-pool case with RSS at {} workers",
            thread.workers
        )),
    }

    let (thread_pool, process_pool) = if thread_model.ends_with("+gil") {
        ("thread-pool+gil", "process-pool+gil")
    } else {
        ("thread-pool", "process-pool")
    };
    let pools = partner(&cases, thread, thread_pool).zip(partner(&cases, thread, process_pool));
    match pools.and_then(|(t, p)| Some((t, p, t.startup_s?, p.startup_s?))) {
        Some((t, p, t_start, p_start)) => {
            let t_unit = scale(t_start, 1.0 / query::units(t) as f64);
            let p_unit = scale(p_start, 1.0 / query::units(p) as f64);
            let outcome = if t_unit.high < p_unit.low {
                Outcome::Holds
            } else if t_unit.low > p_unit.high {
                Outcome::DoesNotHold
            } else {
                Outcome::Inconclusive
            };
            verdict.checks.push(Check {
                outcome,
                text: format!(
                    "start-up per unit: {thread_pool} {}, {process_pool} {}",
                    table::seconds_interval(t_unit),
                    table::seconds_interval(p_unit)
                ),
            });
            verdict.cases.extend([case_label(t), case_label(p)]);
        }
        None => missing.push(format!(
            "{thread_pool} and {process_pool} start-up times at {} workers",
            thread.workers
        )),
    }

    verdict.outcome = Outcome::all(verdict.checks.iter().map(|c| c.outcome));
    if !missing.is_empty() {
        if verdict.outcome == Outcome::Holds {
            verdict.outcome = Outcome::Inconclusive;
        }
        verdict.note = Some(format!("missing: {}", missing.join("; ")));
    }
    Some(verdict)
}

fn native_threads_compute(report: &RunReport, s: &ScenarioInfo, cores: usize) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (process_model, processes) = first_model(&cases, &PROCESSES)?;
    NATIVE_THREADS
        .iter()
        .find(|model| first_model(&cases, &[**model]).is_some())?;
    let mut verdict = Verdict::pending(
        NATIVE_THREADS_COMPUTE,
        format!(
            "at the most workers measured, thread, thread-pool and rayon each reach ≥ {} of {process_model}'s speedup",
            table::percent(NATIVE_THREADS_MIN_SHARE)
        ),
        s,
    );
    if cores <= 1 {
        verdict.note = one_core_note();
        return Some(verdict);
    }
    let point = processes
        .iter()
        .filter(|p| p.workers.min(cores) >= 2)
        .filter(|p| {
            NATIVE_THREADS
                .iter()
                .any(|m| partner(&cases, p, m).is_some())
        })
        .max_by_key(|p| (p.workers, p.tasks));
    let Some(process) = point else {
        verdict.note = Some(format!(
            "no native thread and {process_model} cases of the same work with 2 or more workers"
        ));
        return Some(verdict);
    };
    verdict.cases.push(case_label(process));
    for model in NATIVE_THREADS {
        let Some(thread) = partner(&cases, process, model) else {
            continue;
        };
        // Native speedup over process speedup is the inverse ratio of their walls.
        let share = query::ratio(process.wall_s?, thread.wall_s?);
        verdict.checks.push(Check {
            outcome: at_least(share, NATIVE_THREADS_MIN_SHARE),
            text: format!(
                "{model} reaches {} [{}, {}] of {process_model}'s speedup at {} workers",
                table::percent(share.median),
                table::percent(share.low),
                table::percent(share.high),
                process.workers
            ),
        });
        verdict.cases.push(case_label(thread));
    }
    verdict.outcome = Outcome::all(verdict.checks.iter().map(|c| c.outcome));
    Some(verdict)
}

fn gil_serializes(report: &RunReport, s: &ScenarioInfo, cores: usize) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    let (model, threads) = first_model(&cases, &["thread+gil"])?;
    let mut verdict = Verdict::pending(
        GIL_SERIALIZES,
        format!(
            "{model} with 2 or more workers is at most {GIL_MAX_SPEEDUP}× faster than {SEQUENTIAL}"
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
            "no {model} case with 2 or more workers and a {SEQUENTIAL} baseline"
        ));
        return Some(verdict);
    };
    let speedup = query::speedup(report, thread)?;
    verdict.outcome = at_most(speedup, GIL_MAX_SPEEDUP);
    verdict.checks.push(Check {
        outcome: verdict.outcome,
        text: format!(
            "{model} at {} workers: speedup {} (needs ≤ {GIL_MAX_SPEEDUP}×)",
            thread.workers,
            table::ratio_interval(speedup)
        ),
    });
    verdict.cases = vec![
        case_label(thread),
        case_label(query::baseline(report, thread)?),
    ];
    Some(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    fn find<'a>(verdicts: &'a [Verdict], claim: &str, scenario: &str) -> &'a Verdict {
        verdicts
            .iter()
            .find(|v| v.claim == claim && v.scenario.as_deref() == Some(scenario))
            .unwrap_or_else(|| panic!("no verdict {claim} on {scenario}: {verdicts:#?}"))
    }

    fn set_wall(report: &mut RunReport, scenario: &str, model: &str, workers: usize, factor: f64) {
        for case in report
            .cases
            .iter_mut()
            .filter(|c| c.scenario == scenario && c.model == model && c.workers == workers)
        {
            let wall = case.wall_s.as_mut().unwrap();
            wall.median *= factor;
            wall.low *= factor;
            wall.high *= factor;
        }
    }

    #[test]
    fn sample_verdicts_hold() {
        let verdicts = verdicts(&sample());
        for (claim, scenario) in [
            (PROCESSES_FOR_COMPUTE, "cpu-hash"),
            (THREADS_FOR_IO, "io-sleep"),
            (NATIVE_THREADS_COMPUTE, "cpu-hash"),
            (GIL_SERIALIZES, "cpu-hash"),
        ] {
            let verdict = find(&verdicts, claim, scenario);
            assert_eq!(verdict.outcome, Outcome::Holds, "{verdict:#?}");
            assert!(!verdict.cases.is_empty());
        }
        // spawn-many has no GIL threads: no verdict is made up for it.
        assert!(
            verdicts
                .iter()
                .all(|v| v.scenario.as_deref() != Some("spawn-many")
                    || v.claim == NATIVE_THREADS_COMPUTE)
        );
    }

    #[test]
    fn doctored_gil_speedup_flips_the_verdict() {
        let mut report = sample();
        // thread+gil twice as fast as measured: it now scales, the GIL did not serialize.
        for workers in [2, 4] {
            set_wall(&mut report, "cpu-hash", "thread+gil", workers, 0.5);
        }
        let verdicts = verdicts(&report);
        assert_eq!(
            find(&verdicts, GIL_SERIALIZES, "cpu-hash").outcome,
            Outcome::DoesNotHold
        );
        assert_eq!(
            find(&verdicts, PROCESSES_FOR_COMPUTE, "cpu-hash").outcome,
            Outcome::DoesNotHold
        );
    }

    #[test]
    fn straddled_threshold_is_inconclusive() {
        let mut report = sample();
        let cases = &mut report.cases;
        let seq = cases
            .iter()
            .find(|c| c.scenario == "cpu-hash" && c.model == SEQUENTIAL)
            .unwrap()
            .wall_s
            .unwrap();
        // thread+gil at 4 workers: speedup interval [1.0, 1.2] around the 1.1 threshold.
        let case = cases
            .iter_mut()
            .find(|c| c.scenario == "cpu-hash" && c.model == "thread+gil" && c.workers == 4)
            .unwrap();
        case.wall_s = Some(Estimate {
            median: seq.median / 1.1,
            low: seq.high / 1.2,
            high: seq.low / 1.0,
        });
        let verdicts = verdicts(&report);
        assert_eq!(
            find(&verdicts, GIL_SERIALIZES, "cpu-hash").outcome,
            Outcome::Inconclusive
        );
    }

    #[test]
    fn slow_native_threads_do_not_hold() {
        let mut report = sample();
        set_wall(&mut report, "cpu-hash", "rayon", 4, 2.0);
        let verdict = find(&verdicts(&report), NATIVE_THREADS_COMPUTE, "cpu-hash").clone();
        assert_eq!(verdict.outcome, Outcome::DoesNotHold);
        assert_eq!(verdict.checks.len(), 3);
    }

    #[test]
    fn missing_cases_and_one_core_are_inconclusive_and_say_why() {
        let mut report = sample();
        report.cases.retain(|c| !c.model.starts_with("process"));
        let all = verdicts(&report);
        let io = find(&all, THREADS_FOR_IO, "io-sleep");
        assert_eq!(io.outcome, Outcome::Inconclusive);
        assert!(io.note.as_deref().unwrap().contains("process"), "{io:#?}");
        let compute = all
            .iter()
            .find(|v| v.claim == PROCESSES_FOR_COMPUTE)
            .unwrap();
        assert_eq!(compute.outcome, Outcome::Inconclusive);
        assert!(compute.scenario.is_none() && compute.note.is_some());

        let mut one_core = sample();
        one_core.machine.logical_cores = 1;
        let verdict = find(&verdicts(&one_core), GIL_SERIALIZES, "cpu-hash").clone();
        assert_eq!(verdict.outcome, Outcome::Inconclusive);
        assert!(verdict.note.unwrap().contains("1 logical core"));
    }

    #[test]
    fn io_threads_that_fall_short_of_ideal_do_not_hold() {
        let mut report = sample();
        set_wall(&mut report, "io-sleep", "thread+gil", 64, 2.0);
        let verdict = find(&verdicts(&report), THREADS_FOR_IO, "io-sleep").clone();
        assert_eq!(verdict.outcome, Outcome::DoesNotHold, "{verdict:#?}");
    }
}
