//! Pairs each emulated-GIL case with its real-CPython twin from the same run
//! and says how closely the emulation tracks CPython. Pure: cases in,
//! figures out.

use crate::results::{CaseResult, Fidelity};

/// How far a ratio may stray from 1 and still count as a faithful emulation.
pub const TOLERANCE: f64 = 0.25;

/// The CPython model an emulated `+gil` model stands for.
pub fn reference_of(emulated: &str) -> Option<&'static str> {
    Some(match emulated {
        "thread+gil" => "cpython-thread",
        "thread-pool+gil" => "cpython-thread-pool",
        "process+gil" => "cpython-process",
        "process-pool+gil" => "cpython-process-pool",
        "async+gil" => "cpython-asyncio",
        _ => return None,
    })
}

/// Every (emulated, reference) pair measured at the same point, compared on
/// speedup against each one's own sequential baseline or, at convoy points
/// (those with `cpu_threads`), on the IO thread's median round trip.
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
        .filter_map(|emulated| {
            let reference_id = reference_of(&emulated.model)?;
            let reference = cases
                .iter()
                .find(|r| r.is_ok() && r.model == reference_id && same_point(emulated, r))?;
            let (metric, value): (&str, fn(&CaseResult) -> Option<f64>) =
                if emulated.params.contains_key("cpu_threads") {
                    ("io_round_trip_p50_ms", |c| c.task_latency_ms.map(|p| p.p50))
                } else {
                    ("speedup", |c| c.speedup)
                };
            let (e, r) = (value(emulated)?, value(reference)?);
            (r > 0.0).then(|| Fidelity {
                scenario: emulated.scenario.clone(),
                emulated: emulated.model.clone(),
                reference: reference.model.clone(),
                workers: emulated.workers,
                tasks: emulated.tasks,
                task_ms: emulated.task_ms,
                params: emulated.params.clone(),
                metric: metric.into(),
                emulated_value: e,
                reference_value: r,
                ratio: e / r,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Percentiles;

    fn case(model: &str, workers: usize, speedup: f64) -> CaseResult {
        let text = include_str!("../tests/fixtures/results-sample.json");
        let report: crate::results::RunReport = serde_json::from_str(text).unwrap();
        let mut c = report.cases[0].clone();
        c.scenario = "s".into();
        c.model = model.into();
        c.workers = workers;
        c.status = "ok".into();
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

    #[test]
    fn convoy_points_compare_round_trip_latency() {
        let mut a = case("thread+gil", 2, 0.0);
        let mut b = case("cpython-thread", 2, 0.0);
        for (c, p50) in [(&mut a, 5.0), (&mut b, 4.0)] {
            c.params.insert("cpu_threads".into(), 1.0);
            c.task_latency_ms = Some(Percentiles {
                p50,
                p90: p50,
                p99: p50,
                max: p50,
            });
        }
        let f = pairs(&[a, b]);
        assert_eq!(f[0].metric, "io_round_trip_p50_ms");
        assert!((f[0].ratio - 1.25).abs() < 1e-9);
    }

    #[test]
    fn failed_cases_are_not_paired() {
        let mut failed = case("cpython-thread", 2, 1.0);
        failed.status = "timed out".into();
        assert!(pairs(&[case("thread+gil", 2, 1.0), failed]).is_empty());
    }
}
