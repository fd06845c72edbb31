//! The coordination chapter's claims, judged from lock and queue cases: a
//! counter without a lock loses updates when units run in parallel; an
//! RLock can be taken again by its holder where a Lock deadlocks; a process
//! queue costs more per item than a thread queue. Each is judged once per
//! interpreter world, like the other claims.

use super::{Bound, Check, MIN_SAMPLES, Outcome, Verdict, World, case_label, check};
use crate::model::{ModelId, ModelKind, registry};
use crate::report::query::{self, Ratio};
use crate::report::table;
use crate::results::{CaseResult, CaseStatus, RunReport};

pub const UPDATES_LOST: &str = "Without a lock, updates are lost";
pub const RLOCK_REENTERS: &str = "An RLock can be re-entered, a Lock deadlocks";
pub const PROCESS_QUEUE_COSTS: &str = "A process queue costs more per item than a thread queue";

/// Why a counter without a lock loses updates, for the page.
pub const WHY_LOST: &str = "each unit reads the counter, works, then writes back what it read plus \
    one; when two units read the same value, the second write overwrites the first and one \
    increment is gone";

/// The verdicts of this chapter, for every world whose models ran lock cases.
pub fn verdicts(report: &RunReport, worlds: &[&World]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for world in worlds {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.lock.is_some() && world.has(&c.model))
            .collect();
        if cases.is_empty() {
            continue;
        }
        out.extend(updates_lost(&cases, world));
        out.extend(rlock_reenters(&cases, world));
    }
    for world in worlds {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.queue.is_some() && world.has(&c.model))
            .collect();
        if !cases.is_empty() {
            out.push(process_queue_costs(&cases, world));
        }
    }
    out
}

/// The thread and process models of a world, in order of preference.
fn queue_sides(world: &World) -> ([ModelId; 2], [ModelId; 2]) {
    let n = |kind| world.model(kind);
    if world.cpython {
        (
            [n(ModelKind::CpythonThread), n(ModelKind::CpythonThread)],
            [n(ModelKind::CpythonProcess), n(ModelKind::CpythonProcess)],
        )
    } else {
        (
            [n(ModelKind::Thread), n(ModelKind::ThreadPool)],
            [n(ModelKind::Process), n(ModelKind::ProcessPool)],
        )
    }
}

/// Holds when, at the same queue shape, the thread queue's items per second
/// over the process queue's, round by round, is above 1 with its whole
/// interval; does not hold when the interval is below 1.
fn process_queue_costs(cases: &[&CaseResult], world: &World) -> Verdict {
    let (threads, processes) = queue_sides(world);
    let mut verdict = pending(
        PROCESS_QUEUE_COSTS,
        world,
        format!(
            "at the same producers, consumers, capacity, item size and items, {} moves more items \
             per second than {} (their ratio, round by round, is above 1 with its whole 95% \
             interval): each item a process queue carries is serialised, written to a pipe and \
             read back, where a thread queue hands over a reference",
            threads[0], processes[0]
        ),
    );
    let ok = |c: &&&CaseResult, side: &[ModelId; 2]| {
        side.iter().any(|m| m.is(&c.model))
            && c.is_ok()
            && c.queue
                .as_ref()
                .is_some_and(|q| !q.samples_items_per_s.is_empty())
    };
    let pairs: Vec<(&CaseResult, &CaseResult)> = cases
        .iter()
        .filter(|c| ok(c, &threads))
        .filter_map(|t| {
            let p = cases
                .iter()
                .find(|p| ok(p, &processes) && query::same_work(t, p))?;
            Some((*t, *p))
        })
        .collect();
    let Some(&(thread, process)) = pairs.first() else {
        verdict.note = Some(format!(
            "no queue scenario ran both a thread model ({}) and a process model ({}) to the end",
            threads[0], processes[0]
        ));
        return verdict;
    };
    let (tq, pq) = (
        thread.queue.as_ref().expect("ok"),
        process.queue.as_ref().expect("ok"),
    );
    let ratio = query_ratio(&tq.samples_items_per_s, &pq.samples_items_per_s);
    verdict.scenario = Some(thread.scenario.clone());
    if let Some(ratio) = ratio {
        let cpu = match (tq.cpu_us_per_item, pq.cpu_us_per_item) {
            (Some(t), Some(p)) => format!(
                "; CPU per item {} µs against {} µs",
                table::significant(p),
                table::significant(t)
            ),
            _ => String::new(),
        };
        verdict.checks.push(check(
            ratio,
            Bound::AtLeast(1.0),
            format!(
                "{} moves {} the items per second of {}{cpu}",
                thread.model,
                table::ratio_interval(ratio.estimate),
                process.model
            ),
        ));
    }
    verdict.cases = vec![case_label(thread), case_label(process)];
    verdict.settle(Vec::new())
}

/// The paired ratio of two cases' per-repetition figures.
fn query_ratio(num: &[f64], den: &[f64]) -> Option<Ratio> {
    let estimate = crate::stats::paired_ratio(num, den)?;
    Some(Ratio {
        estimate,
        samples: num.len().min(den.len()),
    })
}

fn pending(claim: &'static str, world: &World, test: String) -> Verdict {
    Verdict {
        claim,
        cpython: world.cpython,
        python: world.python,
        test,
        scenario: None,
        outcome: Outcome::Inconclusive,
        checks: Vec::new(),
        cases: Vec::new(),
        note: None,
    }
}

/// Whether a model runs its units at once, able to interrupt one between
/// its read and its write: threads (a GIL switches between them too),
/// processes, multi-threaded async. The sequential models and one-thread
/// event loops run a section to its end before another unit runs.
fn parallel(model: &str) -> bool {
    registry::parse(model).is_some_and(|m| {
        !matches!(
            m.kind,
            ModelKind::Sequential
                | ModelKind::CpythonSequential
                | ModelKind::AsyncSingle
                | ModelKind::CpythonAsyncio
        )
    })
}

fn scenarios(cases: &[&CaseResult]) -> Option<String> {
    let mut names: Vec<&str> = cases.iter().map(|c| c.scenario.as_str()).collect();
    names.dedup();
    (!names.is_empty()).then(|| names.join(", "))
}

/// Holds when a case of `primitive = "none"` with units in parallel lost
/// an update in some repetition; does not hold when every such case ran
/// enough repetitions and lost none; inconclusive otherwise.
fn updates_lost(cases: &[&CaseResult], world: &World) -> Option<Verdict> {
    let races: Vec<&CaseResult> = cases
        .iter()
        .copied()
        .filter(|c| c.lock.as_ref().is_some_and(|l| l.primitive == "none"))
        .collect();
    if races.is_empty() {
        return None;
    }
    let mut verdict = pending(
        UPDATES_LOST,
        world,
        format!(
            "with primitive = \"none\" and 2 or more units running at once (threads, processes, \
             multi-threaded async), the counter ends below the sections done in at least one \
             repetition; why: {WHY_LOST}"
        ),
    );
    let judged: Vec<&CaseResult> = races
        .iter()
        .copied()
        .filter(|c| {
            c.is_ok() && parallel(&c.model) && c.lock.as_ref().is_some_and(|l| l.units >= 2)
        })
        .collect();
    verdict.scenario = scenarios(&judged);
    for case in &judged {
        let lock = case.lock.as_ref().expect("filtered on lock");
        let reps = lock.lost_updates.len();
        let lossy = lock.lost_updates.iter().filter(|&&n| n > 0).count();
        let most = lock.lost_updates.iter().max().copied().unwrap_or(0);
        let done = lock.sections_per_unit * lock.units as u64;
        let outcome = if lossy > 0 {
            Outcome::Holds
        } else if reps >= MIN_SAMPLES {
            Outcome::DoesNotHold
        } else {
            Outcome::Inconclusive
        };
        verdict.checks.push(Check {
            outcome,
            text: format!(
                "{} with {} units: updates lost in {lossy} of {reps} repetitions, at most {most} of {done}",
                case.model, lock.units
            ),
        });
        verdict.cases.push(case_label(case));
    }
    // One case that lost an update shows the claim, whatever the others did.
    verdict.outcome = if verdict.checks.iter().any(|c| c.outcome == Outcome::Holds) {
        Outcome::Holds
    } else {
        Outcome::all_or_inconclusive(verdict.checks.iter().map(|c| c.outcome))
    };
    if judged.is_empty() {
        verdict.note =
            Some("no lock case without a lock ran 2 or more units at once and completed".into());
    }
    Some(verdict)
}

/// Holds when every `deadlock = "reacquire"` case of a mutex deadlocked and
/// every one of an rlock completed, with at least one of each.
fn rlock_reenters(cases: &[&CaseResult], world: &World) -> Option<Verdict> {
    let reacquire = |primitive: &str| -> Vec<&CaseResult> {
        cases
            .iter()
            .copied()
            .filter(|c| {
                c.lock.as_ref().is_some_and(|l| {
                    l.primitive == primitive && l.deadlock.as_deref() == Some("reacquire")
                })
            })
            .collect()
    };
    let (locks, rlocks) = (reacquire("mutex"), reacquire("rlock"));
    if locks.is_empty() && rlocks.is_empty() {
        return None;
    }
    let mut verdict = pending(
        RLOCK_REENTERS,
        world,
        "with deadlock = \"reacquire\" (each section takes its lock, then takes it again), every \
         rlock case completes and every mutex case ends in a deadlock the harness sees as a \
         wait-for cycle"
            .into(),
    );
    let mut both: Vec<&CaseResult> = locks.clone();
    both.extend(&rlocks);
    verdict.scenario = scenarios(&both);
    let mut unsure = false;
    for case in &locks {
        let (outcome, what) = match &case.status {
            CaseStatus::Deadlock(cycle) => (Outcome::Holds, format!("deadlocked: {cycle}")),
            CaseStatus::Ok => (Outcome::DoesNotHold, "completed".to_owned()),
            other => {
                unsure = true;
                (Outcome::Inconclusive, other.to_string())
            }
        };
        verdict.checks.push(Check {
            outcome,
            text: format!("mutex under {}: {what}", case.model),
        });
        verdict.cases.push(case_label(case));
    }
    for case in &rlocks {
        let (outcome, what) = match &case.status {
            CaseStatus::Ok => (Outcome::Holds, "completed".to_owned()),
            CaseStatus::Deadlock(cycle) => (Outcome::DoesNotHold, format!("deadlocked: {cycle}")),
            other => {
                unsure = true;
                (Outcome::Inconclusive, other.to_string())
            }
        };
        verdict.checks.push(Check {
            outcome,
            text: format!("rlock under {}: {what}", case.model),
        });
        verdict.cases.push(case_label(case));
    }
    let mut missing = Vec::new();
    if locks.is_empty() {
        missing.push("a mutex case with deadlock = \"reacquire\"".to_owned());
    }
    if rlocks.is_empty() {
        missing.push("an rlock case with deadlock = \"reacquire\"".to_owned());
    }
    let mut verdict = verdict.settle(missing);
    if unsure && verdict.note.is_none() {
        // A failed or skipped case is not decided by more repetitions.
        verdict.note = Some("a case neither completed nor deadlocked".into());
    }
    Some(verdict)
}

impl Outcome {
    /// `all`, except that a verdict with no check at all is inconclusive.
    fn all_or_inconclusive(outcomes: impl Iterator<Item = Outcome>) -> Outcome {
        let outcomes: Vec<Outcome> = outcomes.collect();
        if outcomes.is_empty() {
            Outcome::Inconclusive
        } else {
            Outcome::all(outcomes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::verdicts as all_verdicts;
    use super::*;
    use crate::results::LockStats;

    fn lock(primitive: &str, deadlock: Option<&str>, lost: &[u64]) -> LockStats {
        LockStats {
            primitive: primitive.into(),
            deadlock: deadlock.map(str::to_owned),
            units: 2,
            sections_per_unit: 1000,
            sections_per_s: None,
            wait_ms: None,
            fairness_min: None,
            fairness_max: None,
            lost_updates: lost.to_vec(),
            most_inside: None,
        }
    }

    /// The sample report with only `cases` added (its own cases kept, so
    /// the other claims still have their data).
    fn report(cases: &[(&str, &str, CaseStatus, LockStats)]) -> RunReport {
        let mut r: RunReport =
            serde_json::from_str(include_str!("../../../tests/fixtures/results-sample.json"))
                .unwrap();
        let template = r.cases[0].clone();
        for (scenario, model, status, lock) in cases {
            let mut c = template.clone();
            c.scenario = (*scenario).into();
            c.workload = "lock".into();
            c.model = (*model).into();
            c.status = status.clone();
            c.lock = Some(lock.clone());
            r.cases.push(c);
        }
        r
    }

    fn queue_case(model: &str, ips: &[f64]) -> (String, crate::results::QueueStats) {
        let stats = crate::results::QueueStats {
            producers: 2,
            consumers: 2,
            capacity: 100,
            item_bytes: 64,
            items: 10_000,
            semantics: "queue".into(),
            daemon: false,
            items_per_s: crate::stats::median_ci(ips),
            samples_items_per_s: ips.to_vec(),
            latency_ms: None,
            cpu_us_per_item: Some(2.0),
        };
        (model.to_owned(), stats)
    }

    fn queue_report(sides: &[(String, crate::results::QueueStats)]) -> RunReport {
        let mut r = report(&[]);
        let template = r.cases[0].clone();
        for (model, stats) in sides {
            let mut c = template.clone();
            c.scenario = "queue".into();
            c.workload = "queue".into();
            c.model = model.clone();
            c.params = [("items".to_owned(), 10_000.0)].into();
            c.status = CaseStatus::Ok;
            c.queue = Some(stats.clone());
            r.cases.push(c);
        }
        r
    }

    #[test]
    fn process_queue_costs_holds_fails_or_is_undecided() {
        let rounds = |base: f64| -> Vec<f64> {
            [1.0, 1.02, 0.98, 1.01, 0.99, 1.0]
                .iter()
                .map(|f| base * f)
                .collect()
        };
        let judge = |thread: Vec<f64>, process: Vec<f64>| {
            let r = queue_report(&[
                queue_case("thread", &thread),
                queue_case("process", &process),
            ]);
            find(&all_verdicts(&r), PROCESS_QUEUE_COSTS, false).clone()
        };
        // Threads move 5× the items per second.
        let v = judge(rounds(200_000.0), rounds(40_000.0));
        assert_eq!(v.outcome, Outcome::Holds, "{v:#?}");
        assert!(v.checks[0].text.contains("moves 5×"), "{v:#?}");
        assert_eq!(
            judge(rounds(40_000.0), rounds(200_000.0)).outcome,
            Outcome::DoesNotHold
        );
        // Rounds that straddle 1: undecided, and more rounds could decide it.
        let straddle = vec![90.0, 110.0, 90.0, 110.0, 90.0, 110.0];
        let v = judge(straddle, vec![100.0; 6]);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.wants_samples());
        // No process case: inconclusive, and it says so.
        let r = queue_report(&[queue_case("thread", &rounds(1.0))]);
        let v = find(&all_verdicts(&r), PROCESS_QUEUE_COSTS, false).clone();
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.note.is_some());
    }

    fn find<'a>(v: &'a [Verdict], claim: &str, cpython: bool) -> &'a Verdict {
        v.iter()
            .find(|v| v.claim == claim && v.cpython == cpython)
            .unwrap_or_else(|| panic!("no verdict {claim}: {v:#?}"))
    }

    #[test]
    fn updates_lost_holds_fails_or_waits_for_repetitions() {
        let six_clean = [0; 6];
        let r = report(&[
            (
                "race",
                "thread",
                CaseStatus::Ok,
                lock("none", None, &[0, 12, 0]),
            ),
            (
                "race",
                "process",
                CaseStatus::Ok,
                lock("none", None, &six_clean),
            ),
        ]);
        let v = find(&all_verdicts(&r), UPDATES_LOST, false).clone();
        assert_eq!(v.outcome, Outcome::Holds, "{v:#?}");
        assert!(v.test.contains("overwrites"), "the page says why");
        assert!(
            v.checks[0]
                .text
                .contains("lost in 1 of 3 repetitions, at most 12 of 2000")
        );

        let r = report(&[(
            "race",
            "thread",
            CaseStatus::Ok,
            lock("none", None, &six_clean),
        )]);
        assert_eq!(
            find(&all_verdicts(&r), UPDATES_LOST, false).outcome,
            Outcome::DoesNotHold
        );

        // Too few repetitions without a loss: more could decide it.
        let r = report(&[(
            "race",
            "thread",
            CaseStatus::Ok,
            lock("none", None, &[0, 0]),
        )]);
        let v = find(&all_verdicts(&r), UPDATES_LOST, false).clone();
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.wants_samples());

        // An event loop on one thread cannot lose one: it is not judged.
        let r = report(&[(
            "race",
            "async-single",
            CaseStatus::Ok,
            lock("none", None, &six_clean),
        )]);
        let v = find(&all_verdicts(&r), UPDATES_LOST, false).clone();
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.note.is_some() && !v.wants_samples());
    }

    #[test]
    fn rlock_reenters_holds_fails_or_is_missing_a_side() {
        let dead = || CaseStatus::Deadlock("unit 0 holds L1 and waits for L1".into());
        let mutex = || lock("mutex", Some("reacquire"), &[]);
        let rlock = || lock("rlock", Some("reacquire"), &[0]);
        let r = report(&[
            ("re-lock", "thread", dead(), mutex()),
            ("re-lock", "process", dead(), mutex()),
            ("re-rlock", "thread", CaseStatus::Ok, rlock()),
        ]);
        let v = find(&all_verdicts(&r), RLOCK_REENTERS, false).clone();
        assert_eq!(v.outcome, Outcome::Holds, "{v:#?}");
        assert_eq!(v.checks.len(), 3);
        assert_eq!(v.scenario.as_deref(), Some("re-lock, re-rlock"));

        // A mutex taken twice that completed: the claim fails.
        let r = report(&[
            ("re-lock", "thread", CaseStatus::Ok, mutex()),
            ("re-rlock", "thread", CaseStatus::Ok, rlock()),
        ]);
        assert_eq!(
            find(&all_verdicts(&r), RLOCK_REENTERS, false).outcome,
            Outcome::DoesNotHold
        );

        // No rlock case: inconclusive, and it says what is missing.
        let r = report(&[("re-lock", "thread", dead(), mutex())]);
        let v = find(&all_verdicts(&r), RLOCK_REENTERS, false).clone();
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.note.unwrap().contains("an rlock case"));

        // A timed-out case decides nothing.
        let r = report(&[
            (
                "re-lock",
                "thread",
                CaseStatus::Failed("timed out".into()),
                mutex(),
            ),
            ("re-rlock", "thread", CaseStatus::Ok, rlock()),
        ]);
        let v = find(&all_verdicts(&r), RLOCK_REENTERS, false).clone();
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(!v.wants_samples());
    }
}
