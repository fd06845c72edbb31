//! The timer claim, judged from timer cases: "thread-per-timer lateness
//! grows with N, a timer wheel's does not". Each mechanism's p99 lateness
//! at the fewest timers is compared with its p99 at the most, repetition
//! by repetition, at one delay. Native models only: the CPython reference
//! of the timer workload is not built yet.

use super::{Check, Outcome, Verdict, case_label};
use crate::report::table;
use crate::results::{CaseResult, RunReport};

pub const TIMER_LATENESS_GROWS: &str =
    "Thread-per-timer lateness grows with N, a timer wheel's does not";

/// Lateness "grows" when every repetition's p99 at the most timers is at
/// least this many times every repetition's p99 at the fewest; it "does
/// not grow" when every one is below this many times every one.
pub const GROWTH: f64 = 2.0;

/// The fewest repetitions at each end for a decision.
pub const MIN_REPS: usize = 3;

/// The most timers over the fewest a comparison needs.
pub const MIN_SPAN: f64 = 10.0;

/// How one mechanism's lateness changed from the fewest timers to the most.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Growth {
    Grows,
    Flat,
    Unclear,
}

struct Ends<'a> {
    few: &'a CaseResult,
    many: &'a CaseResult,
}

fn wake(c: &CaseResult) -> Option<&crate::results::WakeStats> {
    c.wake.as_ref().filter(|w| w.kind == "timer")
}

/// The ok cases of `mechanism` at the fewest and the most timers, at the
/// delay of its first case (the first model of `models` that has cases).
fn ends<'a>(cases: &[&'a CaseResult], mechanism: &str, models: &[&str]) -> Option<Ends<'a>> {
    let model = models.iter().find(|m| {
        cases.iter().any(|c| {
            c.model == **m && wake(c).and_then(|w| w.mechanism.as_deref()) == Some(mechanism)
        })
    })?;
    let mine: Vec<&CaseResult> = cases
        .iter()
        .copied()
        .filter(|c| c.model == *model && c.is_ok())
        .filter(|c| wake(c).is_some_and(|w| w.mechanism.as_deref() == Some(mechanism)))
        .collect();
    let delay = wake(mine.first()?)?.delay_ms;
    let at_delay: Vec<&CaseResult> = mine
        .into_iter()
        .filter(|c| wake(c).is_some_and(|w| w.delay_ms == delay))
        .collect();
    let timers = |c: &&&CaseResult| wake(c).and_then(|w| w.timers).unwrap_or(0);
    let few = *at_delay.iter().min_by_key(timers)?;
    let many = *at_delay.iter().max_by_key(timers)?;
    Some(Ends { few, many })
}

fn growth(e: &Ends) -> (Growth, String) {
    let p99s = |c: &CaseResult| wake(c).map_or(Vec::new(), |w| w.p99_ms_per_repetition.clone());
    let (few, many) = (p99s(e.few), p99s(e.many));
    let n = |c: &CaseResult| wake(c).and_then(|w| w.timers).unwrap_or(0);
    let (n_few, n_many) = (n(e.few), n(e.many));
    let median = |v: &[f64]| crate::stats::median(v).unwrap_or(f64::NAN);
    let text = format!(
        "{}: p99 lateness {} ms at {n_few} timers, {} ms at {n_many} (median of {} and {} repetitions)",
        e.few.model,
        table::significant(median(&few)),
        table::significant(median(&many)),
        few.len(),
        many.len()
    );
    if f64::from(n_many) < MIN_SPAN * f64::from(n_few.max(1))
        || few.len() < MIN_REPS
        || many.len() < MIN_REPS
    {
        return (Growth::Unclear, text);
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    let g = if min(&many) >= GROWTH * max(&few) {
        Growth::Grows
    } else if max(&many) < GROWTH * min(&few) {
        Growth::Flat
    } else {
        Growth::Unclear
    };
    (g, text)
}

/// The verdict, when the report has timer cases.
pub fn verdicts(report: &RunReport) -> Vec<Verdict> {
    let cases: Vec<&CaseResult> = report.cases.iter().filter(|c| wake(c).is_some()).collect();
    if cases.is_empty() {
        return Vec::new();
    }
    let mut verdict = Verdict {
        claim: TIMER_LATENESS_GROWS,
        cpython: false,
        python: None,
        test: format!(
            "at one delay, from the fewest timers to the most (at least {MIN_SPAN}× as many), the \
             p99 lateness of a thread per timer (model thread) grows: every repetition's at the \
             most is at least {GROWTH}× every repetition's at the fewest; and tokio's timer \
             wheel's (async, else async-single) does not: every one stays below {GROWTH}×. At \
             least {MIN_REPS} repetitions at each end"
        ),
        scenario: None,
        outcome: Outcome::Inconclusive,
        checks: Vec::new(),
        cases: Vec::new(),
        note: None,
    };
    let threads = ends(&cases, "thread-per-timer", &["thread"]);
    let wheel = ends(&cases, "wheel", &["async", "async-single"]);
    let (Some(threads), Some(wheel)) = (threads, wheel) else {
        // Nothing was measured for one side of the claim.
        verdict.outcome = Outcome::NotTested;
        verdict.note = Some(
            "no timer scenario ran both a thread per timer (thread) and tokio's timer wheel (async or async-single) to the end"
                .into(),
        );
        return vec![verdict];
    };
    let (t, t_text) = growth(&threads);
    let (w, w_text) = growth(&wheel);
    let outcome_of = |g: Growth, wanted: Growth| match g {
        Growth::Unclear => Outcome::Inconclusive,
        g if g == wanted => Outcome::Holds,
        _ => Outcome::DoesNotHold,
    };
    let word = |g: Growth| match g {
        Growth::Grows => "grows",
        Growth::Flat => "does not grow",
        Growth::Unclear => "undecided",
    };
    verdict.checks.push(Check {
        outcome: outcome_of(t, Growth::Grows),
        text: format!("{t_text}: {}", word(t)),
    });
    verdict.checks.push(Check {
        outcome: outcome_of(w, Growth::Flat),
        text: format!("{w_text}: {}", word(w)),
    });
    verdict.outcome = Outcome::all(verdict.checks.iter().map(|c| c.outcome));
    verdict.scenario = Some(threads.many.scenario.clone());
    verdict.cases = [threads.few, threads.many, wheel.few, wheel.many]
        .into_iter()
        .map(case_label)
        .collect();
    vec![verdict]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CaseStatus, WakeStats};

    fn case(
        template: &CaseResult,
        model: &str,
        mechanism: &str,
        timers: u32,
        p99: &[f64],
    ) -> CaseResult {
        let mut c = template.clone();
        c.scenario = "timer".into();
        c.workload = "timer".into();
        c.model = model.into();
        c.status = CaseStatus::Ok;
        c.params = [("timers".to_owned(), f64::from(timers))].into();
        c.wake = Some(WakeStats {
            kind: "timer".into(),
            waiters: None,
            rounds: None,
            timers: Some(timers),
            delay_ms: Some(20.0),
            mechanism: Some(mechanism.into()),
            late_ms: None,
            wakes: u64::from(timers) * p99.len() as u64,
            p99_ms_per_repetition: p99.to_vec(),
        });
        c
    }

    fn judge(thread: (&[f64], &[f64]), wheel: (&[f64], &[f64])) -> Verdict {
        let mut r: RunReport =
            serde_json::from_str(include_str!("../../../tests/fixtures/results-sample.json"))
                .unwrap();
        let template = r.cases[0].clone();
        for (model, mech, (few, many)) in [
            ("thread", "thread-per-timer", thread),
            ("async", "wheel", wheel),
        ] {
            r.cases.push(case(&template, model, mech, 10, few));
            r.cases.push(case(&template, model, mech, 10_000, many));
        }
        let all = super::super::verdicts(&r);
        all.into_iter()
            .find(|v| v.claim == TIMER_LATENESS_GROWS)
            .expect("the timer verdict")
    }

    #[test]
    fn the_timer_claim_holds_fails_or_is_undecided_from_the_data() {
        let flat = (&[1.0, 1.1, 0.9][..], &[1.2, 1.0, 1.3][..]);
        let grows = (&[0.1, 0.12, 0.11][..], &[5.0, 6.0, 4.0][..]);
        let v = judge(grows, flat);
        assert_eq!(v.outcome, Outcome::Holds, "{v:?}");
        assert_eq!(v.cases.len(), 4);
        // The wheel grows as well: the claim does not hold.
        let v = judge(grows, grows);
        assert_eq!(v.outcome, Outcome::DoesNotHold, "{v:?}");
        // Threads stay flat: it does not hold either.
        assert_eq!(judge(flat, flat).outcome, Outcome::DoesNotHold);
        // Repetitions that straddle the threshold decide nothing.
        let straddles = (&[1.0, 1.0, 1.0][..], &[1.5, 2.5, 3.0][..]);
        assert_eq!(judge(straddles, flat).outcome, Outcome::Inconclusive);
        // Too few repetitions decide nothing.
        let short = (&[0.1][..], &[5.0][..]);
        assert_eq!(judge(short, flat).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn without_both_mechanisms_the_timer_claim_is_not_tested_and_says_why() {
        let mut r: RunReport =
            serde_json::from_str(include_str!("../../../tests/fixtures/results-sample.json"))
                .unwrap();
        let template = r.cases[0].clone();
        r.cases
            .push(case(&template, "thread", "thread-per-timer", 10, &[1.0; 3]));
        let v = super::super::verdicts(&r)
            .into_iter()
            .find(|v| v.claim == TIMER_LATENESS_GROWS)
            .unwrap();
        assert_eq!(v.outcome, Outcome::NotTested);
        assert!(v.note.unwrap().contains("timer wheel"));
    }
}
