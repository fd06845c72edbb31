//! Pure queries over a `RunReport` that every renderer shares: the cases of a
//! scenario, the sequential baseline of a case, speedup intervals, and the one
//! slice of a sweep that a chart can show.

use crate::results::{CaseResult, Estimate, RunReport};
use std::collections::BTreeMap;

/// The model every speedup is measured against.
pub const SEQUENTIAL: &str = "sequential";

/// Cases of one scenario, in the order the runner recorded them.
pub fn scenario_cases<'a>(report: &'a RunReport, scenario: &str) -> Vec<&'a CaseResult> {
    report
        .cases
        .iter()
        .filter(|case| case.scenario == scenario)
        .collect()
}

/// True when two cases ran the same work (workload, kernel, tasks and size),
/// whatever model and concurrency ran it.
pub fn same_work(a: &CaseResult, b: &CaseResult) -> bool {
    a.scenario == b.scenario
        && a.workload == b.workload
        && a.kernel == b.kernel
        && a.tasks == b.tasks
        && a.task_ms == b.task_ms
        && a.params == b.params
}

/// The successful `sequential` case that ran the same work as `case`.
pub fn baseline<'a>(report: &'a RunReport, case: &CaseResult) -> Option<&'a CaseResult> {
    report
        .cases
        .iter()
        .find(|seq| seq.model == SEQUENTIAL && seq.is_ok() && same_work(seq, case))
}

/// `num / den` with the widest interval the two intervals allow.
pub fn ratio(num: Estimate, den: Estimate) -> Estimate {
    Estimate {
        median: num.median / den.median,
        low: num.low / den.high,
        high: num.high / den.low,
    }
}

/// Speedup of a successful case over its sequential baseline, with an interval
/// derived from both wall-time intervals.
pub fn speedup(report: &RunReport, case: &CaseResult) -> Option<Estimate> {
    if !case.is_ok() {
        return None;
    }
    Some(ratio(baseline(report, case)?.wall_s?, case.wall_s?))
}

/// Units that actually run at once: a case cannot use more workers than tasks.
pub fn units(case: &CaseResult) -> usize {
    case.workers.min(case.tasks).max(1)
}

/// The dimension a chart puts on its x axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Axis<'a> {
    Workers,
    Tasks,
    Param(&'a str),
}

impl Axis<'_> {
    pub fn value(&self, case: &CaseResult) -> Option<f64> {
        match self {
            Axis::Workers => Some(case.workers as f64),
            Axis::Tasks => Some(case.tasks as f64),
            Axis::Param(name) => case.params.get(*name).copied(),
        }
    }

    /// Whether the task count moves with this axis: a convoy point runs one
    /// task per CPU thread plus its IO task, so along `cpu_threads` the task
    /// count is not held fixed.
    fn moves_tasks(&self) -> bool {
        matches!(self, Axis::Tasks | Axis::Param("cpu_threads"))
    }
}

/// One line of a chart: a model's successful cases, ordered along the axis.
#[derive(Debug)]
pub struct Series<'a> {
    pub model: &'a str,
    pub cases: Vec<&'a CaseResult>,
}

/// The cases a chart shows along `axis`, every other dimension held fixed.
#[derive(Debug)]
pub struct Slice<'a> {
    /// What was held fixed, for the chart's subtitle (`tasks=16 task_ms=20`).
    pub fixed: String,
    pub series: Vec<Series<'a>>,
}

impl Slice<'_> {
    /// True when some model has at least two points, so a line means something.
    pub fn has_lines(&self) -> bool {
        self.series.iter().any(|series| series.cases.len() >= 2)
    }
}

/// What identifies a case apart from its model, workers and the axis value.
fn fixed_key(case: &CaseResult, axis: Axis) -> String {
    let mut parts = Vec::new();
    if !axis.moves_tasks() {
        parts.push(format!("tasks={}", case.tasks));
    }
    if let Some(ms) = case.task_ms {
        parts.push(format!("task_ms={ms}"));
    }
    if let Some(kernel) = &case.kernel {
        parts.push(format!("kernel={kernel}"));
    }
    for (name, value) in &case.params {
        if axis != Axis::Param(name) {
            parts.push(format!("{name}={value}"));
        }
    }
    parts.join(" ")
}

/// Picks the most populated combination of the other dimensions (ties go to
/// more tasks, the heavier load), then one case per model and axis value: the
/// one with the most workers, as the most concurrent configuration.
/// `models` gives the series order; failed cases never appear.
pub fn slice<'a>(cases: &[&'a CaseResult], models: &'a [String], axis: Axis) -> Slice<'a> {
    let usable: Vec<&CaseResult> = cases
        .iter()
        .copied()
        .filter(|case| case.is_ok() && axis.value(case).is_some())
        .collect();
    // Sequential runs once per work size and would not tell combinations apart.
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for case in usable.iter().filter(|case| case.model != SEQUENTIAL) {
        let entry = counts.entry(fixed_key(case, axis)).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(case.tasks);
    }
    let Some(fixed) = counts
        .into_iter()
        .max_by_key(|(_, rank)| *rank)
        .map(|(key, _)| key)
    else {
        return Slice {
            fixed: String::new(),
            series: Vec::new(),
        };
    };
    let series = models
        .iter()
        .filter_map(|model| {
            let mut picked: Vec<&CaseResult> = Vec::new();
            for case in usable
                .iter()
                .filter(|case| case.model == *model && fixed_key(case, axis) == fixed)
            {
                match picked
                    .iter_mut()
                    .find(|seen| axis.value(seen) == axis.value(case))
                {
                    Some(seen) if seen.workers < case.workers => *seen = case,
                    Some(_) => {}
                    None => picked.push(case),
                }
            }
            picked.sort_by(|a, b| axis.value(a).partial_cmp(&axis.value(b)).expect("finite"));
            (!picked.is_empty()).then_some(Series {
                model,
                cases: picked,
            })
        })
        .collect();
    Slice { fixed, series }
}

/// One case per model for per-model charts and tables: the most workers in
/// the workers slice.
pub fn representatives<'a>(cases: &[&'a CaseResult], models: &'a [String]) -> Vec<&'a CaseResult> {
    slice(cases, models, Axis::Workers)
        .series
        .into_iter()
        .filter_map(|series| series.cases.last().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn convoy_points_line_up_although_their_task_counts_differ() {
        let report = sample();
        let mut cases: Vec<CaseResult> = Vec::new();
        for k in 0..3 {
            let mut case = report.cases.iter().find(|c| c.is_ok()).unwrap().clone();
            case.model = "thread+gil".into();
            case.tasks = k + 1;
            case.workers = k + 1;
            case.params = [("cpu_threads".to_owned(), k as f64)].into();
            cases.push(case);
        }
        let refs: Vec<&CaseResult> = cases.iter().collect();
        let models = vec!["thread+gil".to_owned()];
        let slice = slice(&refs, &models, Axis::Param("cpu_threads"));
        assert_eq!(slice.series[0].cases.len(), 3);
    }

    #[test]
    fn speedup_interval_brackets_the_runner_speedup() {
        let report = sample();
        for case in report.cases.iter().filter(|case| case.is_ok()) {
            let estimate = speedup(&report, case).expect("every sample case has a baseline");
            let recorded = case.speedup.expect("recorded");
            assert!((estimate.median - recorded).abs() < 1e-3 * recorded);
            assert!(estimate.low <= estimate.median && estimate.median <= estimate.high);
        }
    }

    #[test]
    fn failed_cases_have_no_speedup_and_stay_out_of_slices() {
        let report = sample();
        let failed = report
            .cases
            .iter()
            .find(|case| !case.is_ok())
            .expect("fixture has one");
        assert!(speedup(&report, failed).is_none());
        let info = &report
            .scenarios
            .iter()
            .find(|s| s.name == failed.scenario)
            .unwrap();
        let cases = scenario_cases(&report, &info.name);
        let workers = slice(&cases, &info.models, Axis::Workers);
        let process = workers
            .series
            .iter()
            .find(|s| s.model == failed.model)
            .unwrap();
        assert!(process.cases.iter().all(|case| case.is_ok()));
    }

    #[test]
    fn tasks_sweep_is_sliced_along_tasks_with_most_workers() {
        let report = sample();
        let info = report
            .scenarios
            .iter()
            .find(|s| s.name == "spawn-many")
            .unwrap();
        let cases = scenario_cases(&report, &info.name);
        let tasks = slice(&cases, &info.models, Axis::Tasks);
        assert!(tasks.has_lines());
        let thread = tasks.series.iter().find(|s| s.model == "thread").unwrap();
        assert_eq!(thread.cases.len(), 4);
        assert!(!slice(&cases, &info.models, Axis::Workers).has_lines());
        let reps = representatives(&cases, &info.models);
        assert!(reps.iter().all(|case| case.tasks == 10_000));
    }
}
