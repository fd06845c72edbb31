//! Pairs each emulated-GIL case with its real-CPython twin from the same run
//! and judges how closely the emulation tracks CPython. Pure: cases in,
//! figures and verdicts out.
//!
//! Three rules:
//! - `speedup` (not a convoy point): the speedups, each against its own
//!   sequential baseline, within [`TOLERANCE`] of each other;
//! - `convoy` (a convoy point whose CPU threads share the probe's
//!   interpreter): the probes' p50 and p99 round trips within [`TOLERANCE`],
//!   and their shares of delayed round trips at most [`DELAYED_SHARE_TOLERANCE`]
//!   apart;
//! - `no-convoy` (no CPU thread, or the CPU work in other processes): both
//!   agree there is no convoy: each p10 exceeds a round trip without any GIL
//!   by less than [`no_convoy_margin_ms`]. A convoy delays every round trip
//!   (every convoy case measured here had 100% of them delayed), so the
//!   fastest tenth shows it as surely as the median; the median of a round
//!   trip without a convoy does not repeat when both CPUs idle between round
//!   trips (a 2-core VM's wake-ups from idle are bimodal: 0.29 to 0.61 ms at
//!   the same point in three runs, with p10 at 0.27 to 0.30 ms). That floor
//!   is the p10 of the same
//!   model without a GIL at the same point (`process-pool` for
//!   `process-pool+gil`: the server's delay plus the wake-ups a round trip
//!   costs from that kind of worker on this machine), else the native
//!   `thread` case's, else the server's delay alone.

use crate::model::{ModelId, ModelKind, registry};
use crate::results::{CaseResult, ConvoyStats, Fidelity, FidelityCheck};

/// How far a ratio may stray from 1 and still count as a faithful emulation.
pub const TOLERANCE: f64 = 0.25;

/// How far apart the shares of delayed round trips may be at a convoy point.
pub const DELAYED_SHARE_TOLERANCE: f64 = 0.15;

/// The CPython model an emulated `+gil` model stands for (the registry's
/// twin), as results files name it.
pub fn reference_of(emulated: &str) -> Option<&'static str> {
    let twin = registry::parse(emulated)?.cpython_twin()?;
    Some(twin.kind.id())
}

/// The native model whose round trip at a convoy point is the floor without
/// any GIL, when the emulated model's own GIL-free form did not run.
const GIL_FREE: ModelId = ModelId::native(ModelKind::Thread);

/// Without a convoy, a probe's fastest tenth of round trips (p10) exceeds the
/// floor by less than this: a tenth of the switch interval or 0.1 ms,
/// whichever is larger (a round trip's own cost is tens of microseconds here).
pub fn no_convoy_margin_ms(switch_interval_ms: f64) -> f64 {
    (switch_interval_ms / 10.0).max(0.1)
}

/// Every (emulated, reference) pair measured at the same point, judged by
/// the rule that fits the point.
pub fn pairs(cases: &[CaseResult]) -> Vec<Fidelity> {
    let same_point = |a: &CaseResult, b: &CaseResult| {
        a.scenario == b.scenario
            && a.workers == b.workers
            && a.tasks == b.tasks
            && a.task_ms == b.task_ms
            && a.params == b.params
    };
    cases
        .iter()
        .filter(|c| c.is_ok())
        .flat_map(|emulated| {
            // One pair per interpreter of the run that ran the twin.
            let references: Vec<&CaseResult> = reference_of(&emulated.model)
                .map(|reference_id| {
                    cases
                        .iter()
                        .filter(|r| {
                            r.is_ok()
                                && same_point(emulated, r)
                                && twin_in_matching_python(emulated, r, reference_id)
                        })
                        .collect()
                })
                .unwrap_or_default();
            references
                .into_iter()
                .filter_map(move |reference| pair(cases, emulated, reference, &same_point))
        })
        .collect()
}

/// Whether `reference` is `reference_id` in an interpreter the emulation
/// stands for: in a run of several interpreters, the legacy GIL
/// (`legacy_gil_check_interval` among the point's parameters) stands for
/// Python 2 and the new one for Python 3; an untagged twin (a run of one
/// interpreter) is paired whatever the GIL.
fn twin_in_matching_python(
    emulated: &CaseResult,
    reference: &CaseResult,
    reference_id: &str,
) -> bool {
    let Some(model) = registry::parse(&reference.model) else {
        return false;
    };
    // As before interpreters were tagged: the twin started by spawn.
    if model.kind.id() != reference_id || model.start != crate::model::StartMethod::Spawn {
        return false;
    }
    let legacy = emulated.params.contains_key("legacy_gil_check_interval");
    model.python.is_none_or(|tag| tag.is_legacy() == legacy)
}

fn pair(
    cases: &[CaseResult],
    emulated: &CaseResult,
    reference: &CaseResult,
    same_point: &dyn Fn(&CaseResult, &CaseResult) -> bool,
) -> Option<Fidelity> {
    match emulated.params.get("cpu_threads") {
        Some(&k) => {
            let at_point = |m: ModelId| {
                cases
                    .iter()
                    .find(|c| c.is_ok() && m.is(&c.model) && same_point(emulated, c))
            };
            let own = registry::parse(&emulated.model).map(|m| ModelId::native(m.kind));
            let gil_free = own.and_then(at_point).or_else(|| at_point(GIL_FREE));
            convoy_pair(emulated, reference, k, gil_free)
        }
        None => speedup_pair(emulated, reference),
    }
}

fn speedup_pair(emulated: &CaseResult, reference: &CaseResult) -> Option<Fidelity> {
    let (e, r) = (emulated.speedup?, reference.speedup?);
    (r > 0.0).then(|| {
        let check = ratio_check("speedup", e, r);
        fidelity(emulated, reference, "speedup", (e, r), vec![check])
    })
}

fn convoy_pair(
    emulated: &CaseResult,
    reference: &CaseResult,
    cpu_threads: f64,
    gil_free: Option<&CaseResult>,
) -> Option<Fidelity> {
    let (e, r) = (emulated.convoy?, reference.convoy?);
    if r.p50_ms <= 0.0 {
        return None;
    }
    // CPU threads in the probe's own interpreter make a convoy; in other
    // processes (or none at all) they cannot.
    let in_processes = registry::parse(&emulated.model).is_some_and(|m| m.kind.uses_processes());
    let mut out = if cpu_threads >= 1.0 && !in_processes {
        let checks = vec![
            ratio_check("p50_ms", e.p50_ms, r.p50_ms),
            ratio_check("p99_ms", e.p99_ms, r.p99_ms),
            FidelityCheck {
                figure: "delayed_share".into(),
                emulated: e.delayed_share,
                reference: r.delayed_share,
                test: "difference".into(),
                limit: DELAYED_SHARE_TOLERANCE,
                pass: (e.delayed_share - r.delayed_share).abs() <= DELAYED_SHARE_TOLERANCE,
            },
        ];
        fidelity(emulated, reference, "convoy", (e.p50_ms, r.p50_ms), checks)
    } else {
        let interval_ms = emulated
            .params
            .get("switch_interval_us")
            .copied()
            .unwrap_or(5000.0)
            / 1e3;
        let floor_ms = match gil_free.and_then(|c| c.convoy) {
            Some(c) => c.p10_ms,
            None => emulated
                .params
                .get("server_delay_ms")
                .copied()
                .unwrap_or(0.0),
        };
        let limit = floor_ms + no_convoy_margin_ms(interval_ms);
        let check = FidelityCheck {
            figure: "p10_ms".into(),
            emulated: e.p10_ms,
            reference: r.p10_ms,
            test: "both below".into(),
            limit,
            pass: e.p10_ms < limit && r.p10_ms < limit,
        };
        fidelity(
            emulated,
            reference,
            "no-convoy",
            (e.p50_ms, r.p50_ms),
            vec![check],
        )
    };
    out.metric = "io_round_trip_p50_ms".into();
    out.emulated_convoy = Some(e);
    out.reference_convoy = Some(r);
    Some(out)
}

fn ratio_check(figure: &str, emulated: f64, reference: f64) -> FidelityCheck {
    let ratio = emulated / reference;
    FidelityCheck {
        figure: figure.into(),
        emulated,
        reference,
        test: "ratio".into(),
        limit: TOLERANCE,
        pass: reference > 0.0 && (ratio - 1.0).abs() <= TOLERANCE,
    }
}

fn fidelity(
    emulated: &CaseResult,
    reference: &CaseResult,
    rule: &str,
    (e, r): (f64, f64),
    checks: Vec<FidelityCheck>,
) -> Fidelity {
    Fidelity {
        scenario: emulated.scenario.clone(),
        emulated: emulated.model.clone(),
        reference: reference.model.clone(),
        workers: emulated.workers,
        tasks: emulated.tasks,
        task_ms: emulated.task_ms,
        params: emulated.params.clone(),
        metric: rule.into(),
        emulated_value: e,
        reference_value: r,
        ratio: e / r,
        rule: Some(rule.into()),
        faithful: Some(checks.iter().all(|c| c.pass)),
        checks,
        emulated_convoy: None::<ConvoyStats>,
        reference_convoy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(model: &str, workers: usize, speedup: f64) -> CaseResult {
        let text = include_str!("../tests/fixtures/results-sample.json");
        let report: crate::results::RunReport = serde_json::from_str(text).unwrap();
        let mut c = report.cases[0].clone();
        c.scenario = "s".into();
        c.model = model.into();
        c.workers = workers;
        c.status = crate::results::CaseStatus::Ok;
        c.speedup = Some(speedup);
        c.params.clear();
        c
    }

    #[test]
    fn pairs_match_model_and_point() {
        let cases = vec![
            case("thread+gil", 2, 0.99),
            case("cpython-thread", 2, 1.1),
            case("cpython-thread", 4, 3.0),
            case("process-pool+gil", 2, 1.9),
        ];
        let f = pairs(&cases);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].emulated.as_str(), f[0].reference.as_str()),
            ("thread+gil", "cpython-thread")
        );
        assert!((f[0].ratio - 0.9).abs() < 1e-9);
        assert_eq!(f[0].metric, "speedup");
    }

    fn stats(p50: f64, p99: f64, delayed_share: f64) -> ConvoyStats {
        ConvoyStats {
            round_trips: 1000,
            p10_ms: p50 * 0.9,
            p50_ms: p50,
            p90_ms: (p50 + p99) / 2.0,
            p99_ms: p99,
            delayed_share,
            delayed_ms: 2.7,
        }
    }

    /// A convoy case at 5 ms with a 0.2 ms server delay.
    fn convoy_case(model: &str, cpu_threads: f64, convoy: ConvoyStats) -> CaseResult {
        let mut c = case(model, cpu_threads as usize + 1, 0.0);
        c.speedup = None;
        c.params = [
            ("cpu_threads", cpu_threads),
            ("switch_interval_us", 5000.0),
            ("server_delay_ms", 0.2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        c.convoy = Some(convoy);
        c
    }

    fn judge(emulated: ConvoyStats, reference: ConvoyStats, model: &str, k: f64) -> Fidelity {
        let reference_model = reference_of(model).unwrap();
        let f = pairs(&[
            convoy_case(model, k, emulated),
            convoy_case(reference_model, k, reference),
        ]);
        assert_eq!(f.len(), 1, "{f:?}");
        f[0].clone()
    }

    fn failed(f: &Fidelity) -> Vec<&str> {
        f.checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.figure.as_str())
            .collect()
    }

    #[test]
    fn convoy_pairs_pass_on_p50_p99_and_delayed_share() {
        let f = judge(
            stats(5.4, 10.4, 0.97),
            stats(5.5, 11.0, 0.99),
            "thread+gil",
            1.0,
        );
        assert_eq!(f.rule.as_deref(), Some("convoy"));
        assert_eq!(f.metric, "io_round_trip_p50_ms");
        assert_eq!(f.faithful, Some(true), "{f:?}");
        assert!(f.emulated_convoy.is_some() && f.reference_convoy.is_some());
    }

    #[test]
    fn convoy_pairs_fail_on_each_figure_alone() {
        let cpython = stats(5.5, 11.0, 0.99);
        // The old emulation: the IO thread never waited.
        let f = judge(stats(0.02, 0.03, 0.0), cpython, "thread+gil", 1.0);
        assert_eq!(failed(&f), ["p50_ms", "p99_ms", "delayed_share"]);
        let f = judge(stats(7.0, 11.0, 0.99), cpython, "thread+gil", 2.0);
        assert_eq!(failed(&f), ["p50_ms"]);
        let f = judge(stats(5.5, 14.0, 0.99), cpython, "thread+gil", 2.0);
        assert_eq!(failed(&f), ["p99_ms"]);
        let f = judge(stats(5.5, 11.0, 0.8), cpython, "thread+gil", 1.0);
        assert_eq!(
            (failed(&f), f.faithful),
            (vec!["delayed_share"], Some(false))
        );
    }

    #[test]
    fn pairs_without_a_convoy_pass_when_both_fastest_tenths_stay_near_the_server_delay() {
        // 5 ms interval, 0.2 ms server delay: below 0.2 + 0.5 ms is no convoy.
        let quick = stats(0.25, 0.4, 0.0);
        let f = judge(quick, stats(0.31, 0.9, 0.0), "thread+gil", 0.0);
        assert_eq!(
            (f.rule.as_deref(), f.faithful),
            (Some("no-convoy"), Some(true))
        );
        assert!((f.checks[0].limit - 0.7).abs() < 1e-9);
        // CPU work in other processes: no convoy either, whatever the count.
        let f = judge(quick, stats(0.3, 0.5, 0.0), "process-pool+gil", 2.0);
        assert_eq!(
            (f.rule.as_deref(), f.faithful),
            (Some("no-convoy"), Some(true))
        );
        // One side waited for a GIL it should not have shared.
        let f = judge(
            stats(5.3, 6.0, 1.0),
            stats(0.3, 0.5, 0.0),
            "process-pool+gil",
            1.0,
        );
        assert_eq!(
            (f.rule.as_deref(), f.faithful),
            (Some("no-convoy"), Some(false))
        );
        let f = judge(quick, stats(0.9, 5.0, 0.2), "thread+gil", 0.0);
        assert_eq!(f.faithful, Some(false));
        // A median pushed up by slow wake-ups from idle, the fastest tenth
        // still at the floor: no convoy.
        let mut bimodal = stats(0.61, 1.3, 0.7);
        bimodal.p10_ms = 0.3;
        let f = judge(quick, bimodal, "process-pool+gil", 0.0);
        assert_eq!(f.faithful, Some(true), "{f:?}");
        assert_eq!(f.checks[0].figure, "p10_ms");
    }

    #[test]
    fn a_measured_gil_free_round_trip_sets_the_no_convoy_floor() {
        // 1 ms interval: margin 0.1 ms; the server's 0.2 ms alone would make
        // the limit 0.3 ms, but a GIL-free round trip here takes 0.29 ms.
        let at_1ms = |model: &str, p10: f64| {
            let mut convoy = stats(2.0 * p10, 4.0 * p10, 0.0);
            convoy.p10_ms = p10;
            let mut c = convoy_case(model, 1.0, convoy);
            c.params.insert("switch_interval_us".into(), 1000.0);
            c
        };
        let pair = [
            at_1ms("process-pool+gil", 0.31),
            at_1ms("cpython-process-pool", 0.33),
        ];
        let f = pairs(&pair);
        assert_eq!(f[0].faithful, Some(false), "{f:?}");
        let mut with_floor = pair.to_vec();
        with_floor.push(at_1ms("thread", 0.29));
        let f = pairs(&with_floor);
        assert!((f[0].checks[0].limit - 0.39).abs() < 1e-9, "{f:?}");
        assert_eq!(f[0].faithful, Some(true));
        // The same kind of worker without a GIL sets it when it ran: a round
        // trip from a pool process costs more wake-ups than from a thread.
        with_floor.push(at_1ms("process-pool", 0.35));
        let f = pairs(&with_floor);
        assert!((f[0].checks[0].limit - 0.45).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn the_no_convoy_margin_is_a_tenth_of_the_interval_but_at_least_100_us() {
        assert!((no_convoy_margin_ms(5.0) - 0.5).abs() < 1e-12);
        assert!((no_convoy_margin_ms(1.0) - 0.1).abs() < 1e-12);
        assert!((no_convoy_margin_ms(0.1) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn speedup_pairs_pass_within_25_percent_and_fail_beyond() {
        let f = pairs(&[case("thread+gil", 2, 1.0), case("cpython-thread", 2, 1.1)]);
        assert_eq!(
            (f[0].rule.as_deref(), f[0].faithful),
            (Some("speedup"), Some(true))
        );
        let f = pairs(&[case("thread+gil", 2, 1.0), case("cpython-thread", 2, 1.5)]);
        assert_eq!(f[0].faithful, Some(false));
    }

    #[test]
    fn failed_cases_are_not_paired() {
        let mut failed = case("cpython-thread", 2, 1.0);
        failed.status = crate::results::CaseStatus::Failed("timed out".into());
        assert!(pairs(&[case("thread+gil", 2, 1.0), failed]).is_empty());
    }
}
