//! The coroutine claims: "coroutines are cheaper to create and switch than
//! threads", judged on a `coroutine` scenario's figures (`results.coroutine`),
//! and "async and gevent-style coroutines serve IO alike", judged on the IO
//! scenarios that ran both, in each interpreter world.

use super::{Bound, Check, MIN_SAMPLES, Outcome, Verdict, World, case_label, decide, partner};
use crate::model::{ModelId, ModelKind};
use crate::report::query;
use crate::report::table;
use crate::results::{CaseStatus, CoroutineMeasurement, Estimate, RunReport, ScenarioInfo};

pub const COROUTINES_CHEAPER: &str = "Coroutines are cheaper to create and switch than threads";
pub const ASYNC_GEVENT_ALIKE: &str = "Async and gevent-style coroutines serve IO alike";

/// gevent's wall over async's may differ by at most this factor either way
/// for the two to count as alike: a quarter, as "within 20%" is elsewhere
/// (`THREADS_IO_MIN_SHARE`), seen from both sides.
pub const ALIKE_FACTOR: f64 = 1.25;

/// Every coroutine verdict the data allows.
pub fn verdicts(report: &RunReport, worlds: &[&World]) -> Vec<Verdict> {
    let mut out: Vec<Verdict> = report
        .scenarios
        .iter()
        .filter(|s| s.workload == "coroutine")
        .take(1)
        .filter_map(|s| cheaper(report, s))
        .collect();
    let io: Vec<&ScenarioInfo> = super::io_scenarios(report).collect();
    for world in worlds {
        let (gevent, asyncs) = sides(world);
        out.extend(
            io.iter()
                .filter_map(|s| alike(report, s, world, gevent, &asyncs)),
        );
    }
    out
}

/// The gevent model of a world and the async models it is compared with,
/// in order of preference (one thread first, as gevent's hub).
fn sides(world: &World) -> (ModelId, Vec<ModelId>) {
    if world.cpython {
        (
            world.model(ModelKind::CpythonGevent),
            vec![world.model(ModelKind::CpythonAsyncio)],
        )
    } else {
        (
            ModelId::native(ModelKind::Gevent),
            vec![
                ModelId::native(ModelKind::AsyncSingle),
                ModelId::native(ModelKind::Async),
            ],
        )
    }
}

/// Thread over coroutine: the ratio of two medians, with the widest
/// interval the two 95% intervals allow.
fn ratio(thread: Estimate, coroutine: Estimate) -> Option<Estimate> {
    (coroutine.low > 0.0 && coroutine.median > 0.0).then(|| Estimate {
        median: thread.median / coroutine.median,
        low: thread.low / coroutine.high,
        high: thread.high / coroutine.low,
    })
}

fn figure<'a>(
    report: &'a RunReport,
    measure: &str,
    unit: &str,
) -> Option<&'a CoroutineMeasurement> {
    report
        .coroutine
        .iter()
        .find(|m| m.measure == measure && m.unit == unit && m.status == CaseStatus::Ok)
}

fn cheaper(report: &RunReport, s: &ScenarioInfo) -> Option<Verdict> {
    if report.coroutine.is_empty() {
        return None;
    }
    let mut verdict = Verdict {
        claim: COROUTINES_CHEAPER,
        cpython: false,
        python: None,
        test: "a thread's median create + join, and its switch (half a pipe round trip on one \
               core), over a stackful coroutine's create + run + drop and its switch (half a \
               resume + suspend): both ratios > 1 with their whole 95% intervals"
            .into(),
        scenario: Some(s.name.clone()),
        outcome: Outcome::Inconclusive,
        checks: Vec::new(),
        cases: Vec::new(),
        note: None,
    };
    let mut missing = Vec::new();
    for measure in ["create", "switch"] {
        let (Some(t), Some(c)) = (
            figure(report, measure, "thread"),
            figure(report, measure, "coroutine"),
        ) else {
            missing.push(format!("the thread and coroutine {measure} figures"));
            continue;
        };
        let Some(r) = t.ns.zip(c.ns).and_then(|(t, c)| ratio(t, c)) else {
            missing.push(format!("the {measure} times"));
            continue;
        };
        let outcome = if r.low > 1.0 {
            Outcome::Holds
        } else if r.high < 1.0 {
            Outcome::DoesNotHold
        } else {
            Outcome::Inconclusive
        };
        let ns = |e: Option<Estimate>| {
            e.map_or("-".into(), |e| {
                format!("{} ns", table::significant(e.median))
            })
        };
        verdict.checks.push(Check {
            outcome,
            text: format!(
                "{measure}: a thread {} against a coroutine {}: {}× [{}, {}] (needs > 1)",
                ns(t.ns),
                ns(c.ns),
                table::significant(r.median),
                table::significant(r.low),
                table::significant(r.high),
            ),
        });
    }
    Some(verdict.settle(missing))
}

fn alike(
    report: &RunReport,
    s: &ScenarioInfo,
    world: &World,
    gevent: ModelId,
    asyncs: &[ModelId],
) -> Option<Verdict> {
    let cases = query::scenario_cases(report, &s.name);
    // The point with the most concurrency gevent ran that an async model ran too.
    let (g, a) = cases
        .iter()
        .copied()
        .filter(|c| gevent.is(&c.model) && c.is_ok() && c.wall_s.is_some())
        .filter_map(|g| {
            asyncs
                .iter()
                .find_map(|m| partner(&cases, g, *m))
                .map(|a| (g, a))
        })
        .max_by_key(|(g, _)| (g.workers, g.tasks))?;
    let mut verdict = Verdict::pending(
        ASYNC_GEVENT_ALIKE,
        world,
        format!(
            "at the most workers both ran, {gevent}'s wall over {}'s (paired per round) lies \
             within {:.2}× either way",
            a.model, ALIKE_FACTOR
        ),
        s,
    );
    verdict.cases = vec![case_label(g), case_label(a)];
    let Some(r) = query::wall_ratio(g, a) else {
        return Some(verdict.settle(vec!["paired wall times".into()]));
    };
    // Both sides of the band in one check: decided only when the whole
    // interval is inside it, or wholly beyond one side.
    let outcome = Outcome::all([
        decide(r, Bound::AtLeast(1.0 / ALIKE_FACTOR)),
        decide(r, Bound::AtMost(ALIKE_FACTOR)),
    ]);
    let few = if r.samples < MIN_SAMPLES {
        format!("; {MIN_SAMPLES} needed")
    } else {
        String::new()
    };
    verdict.checks.push(Check {
        outcome,
        text: format!(
            "{} over {} at {} workers: {}× [{}, {}] (needs between {} and {}; {} repetitions{few})",
            g.model,
            a.model,
            g.workers,
            table::significant(r.estimate.median),
            table::significant(r.estimate.low),
            table::significant(r.estimate.high),
            table::significant(1.0 / ALIKE_FACTOR),
            table::significant(ALIKE_FACTOR),
            r.samples,
        ),
    });
    Some(verdict.settle(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    fn figure(measure: &str, unit: &str, ns: (f64, f64, f64)) -> CoroutineMeasurement {
        CoroutineMeasurement {
            measure: measure.into(),
            unit: unit.into(),
            description: String::new(),
            status: CaseStatus::Ok,
            samples: 100,
            ns: Some(Estimate {
                median: ns.1,
                low: ns.0,
                high: ns.2,
            }),
            bytes_per_unit: None,
            points: Vec::new(),
            wall_s: 0.1,
        }
    }

    /// The sample with a coroutine scenario and crafted figures:
    /// (thread create, coroutine create, thread switch, coroutine switch).
    fn with_figures(create: [(f64, f64, f64); 2], switch: [(f64, f64, f64); 2]) -> RunReport {
        let mut report = sample();
        let mut s = report.scenarios[0].clone();
        s.name = "coroutine-costs".into();
        s.workload = "coroutine".into();
        report.scenarios.push(s);
        report.coroutine = vec![
            figure("create", "thread", create[0]),
            figure("create", "coroutine", create[1]),
            figure("switch", "thread", switch[0]),
            figure("switch", "coroutine", switch[1]),
        ];
        report
    }

    fn cheaper_outcome(report: &RunReport) -> Outcome {
        verdicts(report, &[])
            .into_iter()
            .find(|v| v.claim == COROUTINES_CHEAPER)
            .expect("a verdict")
            .outcome
    }

    #[test]
    fn cheaper_has_three_outcomes() {
        // Threads 20 µs to create and 3 µs to switch; coroutines 2 µs and 20 ns.
        let holds = with_figures(
            [(19e3, 20e3, 21e3), (1.9e3, 2e3, 2.1e3)],
            [(2.9e3, 3e3, 3.1e3), (19.0, 20.0, 21.0)],
        );
        assert_eq!(cheaper_outcome(&holds), Outcome::Holds);
        let v = verdicts(&holds, &[]).remove(0);
        assert!(v.checks[0].text.contains("10×"), "{v:#?}");
        // Coroutines slower to create than threads: it does not hold.
        let fails = with_figures(
            [(19e3, 20e3, 21e3), (39e3, 40e3, 41e3)],
            [(2.9e3, 3e3, 3.1e3), (19.0, 20.0, 21.0)],
        );
        assert_eq!(cheaper_outcome(&fails), Outcome::DoesNotHold);
        // Switch intervals that overlap: undecided.
        let unsure = with_figures(
            [(19e3, 20e3, 21e3), (1.9e3, 2e3, 2.1e3)],
            [(2e3, 3e3, 4e3), (1.5e3, 2.5e3, 3.5e3)],
        );
        assert_eq!(cheaper_outcome(&unsure), Outcome::Inconclusive);
        // A figure missing (failed): inconclusive, and says what is missing.
        let mut missing = holds.clone();
        missing.coroutine[3].status = CaseStatus::Failed("x".into());
        let v = verdicts(&missing, &[]).remove(0);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.note.unwrap().contains("switch"));
        // No coroutine scenario: no verdict made up.
        assert!(
            verdicts(&sample(), &[])
                .iter()
                .all(|v| v.claim != COROUTINES_CHEAPER)
        );
    }

    /// An io-sleep scenario where gevent and async-single ran at 8 workers,
    /// six paired rounds, gevent at `factor` times async's wall.
    fn io_with_gevent(factor: f64, spread: f64) -> RunReport {
        let mut report = sample();
        let base = report
            .cases
            .iter()
            .find(|c| c.scenario == "io-sleep" && c.is_ok())
            .expect("the sample has an io-sleep case")
            .clone();
        let rounds = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0];
        let mut push = |model: &str, walls: Vec<f64>| {
            let mut c = base.clone();
            c.model = model.into();
            c.workers = 8;
            c.wall_s = crate::stats::median_ci(&walls);
            c.samples_wall_s = walls;
            report.cases.push(c);
        };
        push("async-single", rounds.iter().map(|f| 0.01 * f).collect());
        push(
            "gevent",
            rounds
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let wobble = if i % 2 == 0 {
                        1.0 - spread
                    } else {
                        1.0 + spread
                    };
                    0.01 * f * factor * wobble
                })
                .collect(),
        );
        report
    }

    fn alike_outcome(report: &RunReport) -> Outcome {
        let found: Vec<Verdict> = verdicts(report, &[&super::super::EMULATED])
            .into_iter()
            .filter(|v| v.claim == ASYNC_GEVENT_ALIKE)
            .collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        found[0].outcome
    }

    #[test]
    fn alike_has_three_outcomes() {
        assert_eq!(alike_outcome(&io_with_gevent(1.05, 0.0)), Outcome::Holds);
        assert_eq!(
            alike_outcome(&io_with_gevent(2.0, 0.0)),
            Outcome::DoesNotHold
        );
        assert_eq!(
            alike_outcome(&io_with_gevent(0.5, 0.0)),
            Outcome::DoesNotHold
        );
        // Rounds that swing ±30% around 1.1×: the interval crosses 1.25.
        assert_eq!(
            alike_outcome(&io_with_gevent(1.1, 0.3)),
            Outcome::Inconclusive
        );
        // Its cases are named, so the runner can give them more rounds.
        let v = verdicts(&io_with_gevent(1.1, 0.3), &[&super::super::EMULATED])
            .into_iter()
            .find(|v| v.claim == ASYNC_GEVENT_ALIKE)
            .unwrap();
        assert!(v.wants_samples() && v.cases.len() == 2, "{v:#?}");
    }
}
