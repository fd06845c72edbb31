//! Pure queries over a `RunReport` that every renderer shares: the cases of a
//! scenario, the sequential baseline of a case, speedup intervals, memory per
//! unit (the slope across a sweep), and the one slice of a sweep that a chart
//! can show.

use crate::model::{ModelKind, registry};
use crate::results::{CaseResult, Estimate, Repetition, RunReport};
use crate::stats;
use std::collections::BTreeMap;

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
    a.tasks == b.tasks && same_tasks(a, b)
}

/// The same scenario and task, whatever the number of tasks.
fn same_tasks(a: &CaseResult, b: &CaseResult) -> bool {
    a.scenario == b.scenario
        && a.workload == b.workload
        && a.kernel == b.kernel
        && a.task_ms == b.task_ms
        && a.params == b.params
}

/// The model a case's speedup is measured against: `sequential` for native
/// and `+gil` models, `cpython-sequential` for the `cpython-*` models (and
/// `sequential` for a model this harness does not know), in the same
/// interpreter (`cpython-sequential@3.12` for `cpython-thread@3.12`).
pub fn baseline_model(model: &str) -> String {
    registry::parse(model).map_or_else(
        || ModelKind::Sequential.id().to_owned(),
        |m| m.baseline().to_string(),
    )
}

/// True for the sequential baselines themselves (native and CPython), which
/// run once per work size, at one worker.
pub fn is_baseline(model: &str) -> bool {
    registry::parse(model).is_some_and(|m| m.is_baseline())
}

/// The successful baseline case that ran the same work as `case`.
pub fn baseline<'a>(report: &'a RunReport, case: &CaseResult) -> Option<&'a CaseResult> {
    let model = baseline_model(&case.model);
    report
        .cases
        .iter()
        .find(|seq| seq.model == model && seq.is_ok() && same_work(seq, case))
}

/// A ratio of two cases' wall times with its 95% interval, and the number of
/// samples that interval rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub estimate: Estimate,
    pub samples: usize,
}

/// `num`'s wall time over `den`'s. Cases of one point ran in the same
/// interleaved rounds, so their repetitions pair up: the ratio is the median
/// of the per-round ratios with its interval (drift that hits a whole round
/// cancels out), over the rounds both ran (`stats::paired_ratio`). Cases
/// without samples get the widest interval their two wall intervals allow.
pub fn wall_ratio(num: &CaseResult, den: &CaseResult) -> Option<Ratio> {
    if let Some(estimate) = stats::paired_ratio(&num.samples_wall_s, &den.samples_wall_s) {
        return Some(Ratio {
            estimate,
            samples: num.samples_wall_s.len().min(den.samples_wall_s.len()),
        });
    }
    let (n, d) = (num.wall_s?, den.wall_s?);
    Some(Ratio {
        estimate: Estimate {
            median: n.median / d.median,
            low: n.low / d.high,
            high: n.high / d.low,
        },
        samples: num.samples_wall_s.len().min(den.samples_wall_s.len()),
    })
}

/// Speedup of a successful case over its baseline (see `wall_ratio`).
pub fn speedup_ratio(report: &RunReport, case: &CaseResult) -> Option<Ratio> {
    if !case.is_ok() {
        return None;
    }
    wall_ratio(baseline(report, case)?, case)
}

/// Speedup of a successful case over its baseline, with its interval.
pub fn speedup(report: &RunReport, case: &CaseResult) -> Option<Estimate> {
    speedup_ratio(report, case).map(|r| r.estimate)
}

/// Units that actually run at once: a case cannot use more workers than tasks.
pub fn units(case: &CaseResult) -> usize {
    case.workers.min(case.tasks).max(1)
}

/// What a model's memory figures are: processes are counted by PSS, where
/// shared pages count once in all; threads and tasks by the harness's RSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMetric {
    /// Harness peak RSS + the children's peak PSS (see `Repetition`).
    Pss,
    /// Harness peak RSS + the children's peak RSS (each child counts the
    /// pages it shares in full; results from before PSS was recorded).
    Rss,
}

impl MemoryMetric {
    pub fn label(self) -> &'static str {
        match self {
            MemoryMetric::Pss => "PSS",
            MemoryMetric::Rss => "RSS",
        }
    }

    /// One repetition's memory in bytes, or None when not recorded.
    pub fn of(self, rep: &Repetition) -> Option<f64> {
        let children = match self {
            MemoryMetric::Pss => rep.children_peak_pss_bytes?,
            MemoryMetric::Rss => rep.children_peak_rss_bytes,
        };
        Some((rep.harness_peak_rss_bytes + children) as f64)
    }
}

/// A model's memory per unit in one scenario: the marginal cost of one more
/// thread, process or task alive, as the slope of memory against units
/// across its sweep of workers (same work), never a total divided by a count.
#[derive(Debug, Clone)]
pub struct MemoryPerUnit<'a> {
    pub model: &'a str,
    pub metric: MemoryMetric,
    /// Bytes per unit: the Theil–Sen slope and its 95% interval (see
    /// `stats::theil_sen`).
    pub per_unit: Estimate,
    /// Bytes at zero units on the fitted line (the model's fixed cost).
    pub intercept: f64,
    /// Every repetition's (units, bytes).
    pub points: Vec<(usize, f64)>,
    /// The cases the points come from, by units.
    pub cases: Vec<&'a CaseResult>,
}

/// Why a model has no memory per unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMemorySlope {
    /// No successful case of the model in the scenario.
    NoCases,
    /// Its cases recorded no memory.
    NoMemory,
    /// Its sweep has a single unit count (`min(workers, tasks)`), so there
    /// is no slope; dividing by it would charge the fixed cost to the units.
    OneUnitCount(usize),
}

impl std::fmt::Display for NoMemorySlope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoMemorySlope::NoCases => f.write_str("no successful case"),
            NoMemorySlope::NoMemory => f.write_str("no memory recorded"),
            NoMemorySlope::OneUnitCount(n) => write!(
                f,
                "one unit count ({n}): a slope needs two or more worker counts"
            ),
        }
    }
}

/// Memory per unit of `model` in `scenario`: the slope of memory against
/// units (`units`) over every repetition of its successful cases that ran
/// the same work. Where the scenario sweeps several works (task counts,
/// sizes), the one with the most distinct unit counts is used, ties to the
/// most tasks. Processes are counted by PSS where every repetition has it.
pub fn memory_per_unit<'a>(
    report: &'a RunReport,
    scenario: &str,
    model: &str,
) -> Result<MemoryPerUnit<'a>, NoMemorySlope> {
    let cases: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|case| case.scenario == scenario && case.model == model && case.is_ok())
        .collect();
    let model = cases.first().ok_or(NoMemorySlope::NoCases)?.model.as_str();
    let distinct_units = |group: &[&CaseResult]| {
        let mut u: Vec<usize> = group.iter().map(|case| units(case)).collect();
        u.sort_unstable();
        u.dedup();
        u.len()
    };
    let mut groups: Vec<Vec<&CaseResult>> = Vec::new();
    // Where every task runs at once (workers ≥ tasks), the units are the
    // tasks, and a sweep of tasks is a sweep of units.
    let all_at_once = |c: &CaseResult| c.workers >= c.tasks;
    let same = |a: &CaseResult, b: &CaseResult| {
        same_work(a, b) || (all_at_once(a) && all_at_once(b) && same_tasks(a, b))
    };
    for case in cases {
        match groups.iter_mut().find(|g| same(g[0], case)) {
            Some(group) => group.push(case),
            None => groups.push(vec![case]),
        }
    }
    let mut group = groups
        .into_iter()
        .max_by_key(|g| (distinct_units(g), g[0].tasks))
        .expect("at least one case");
    group.sort_by_key(|case| units(case));
    let reps = || group.iter().flat_map(|case| case.repetitions.iter());
    let metric = if reps().next().is_some() && reps().all(|r| r.children_peak_pss_bytes.is_some()) {
        MemoryMetric::Pss
    } else {
        MemoryMetric::Rss
    };
    let mut points: Vec<(usize, f64)> = Vec::new();
    for case in &group {
        if case.repetitions.is_empty() {
            // Summaries without repetitions: the case's medians, one point.
            if let (Some(h), Some(c)) = (case.harness_peak_rss_bytes, case.children_peak_rss_bytes)
            {
                points.push((units(case), (h + c) as f64));
            }
        }
        points.extend(
            case.repetitions
                .iter()
                .filter_map(|rep| Some((units(case), metric.of(rep)?))),
        );
    }
    if points.is_empty() {
        return Err(NoMemorySlope::NoMemory);
    }
    let xy: Vec<(f64, f64)> = points.iter().map(|&(u, b)| (u as f64, b)).collect();
    let fit = crate::stats::theil_sen(&xy).ok_or(NoMemorySlope::OneUnitCount(points[0].0))?;
    Ok(MemoryPerUnit {
        model,
        metric,
        per_unit: fit.slope,
        intercept: fit.intercept,
        points,
        cases: group,
    })
}

/// Start-up per worker of a pool `model` in `scenario`: the slope of its
/// measured start-up time against workers over every repetition of its
/// successful cases that ran the same work, with its interval (never the
/// start-up of one pool divided by its size). None without start-up times at
/// two or more worker counts.
pub fn startup_per_unit(report: &RunReport, scenario: &str, model: &str) -> Option<Estimate> {
    let cases: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|case| case.scenario == scenario && case.model == model && case.is_ok())
        .collect();
    // The work with the most worker counts, as for memory.
    let first = cases.iter().copied().max_by_key(|case| {
        let mut workers: Vec<usize> = cases
            .iter()
            .filter(|other| same_work(other, case))
            .map(|other| other.workers)
            .collect();
        workers.sort_unstable();
        workers.dedup();
        (workers.len(), case.tasks)
    })?;
    let points: Vec<(f64, f64)> = cases
        .iter()
        .filter(|case| same_work(case, first))
        .flat_map(|case| {
            case.repetitions
                .iter()
                .filter_map(|rep| Some((case.workers as f64, rep.startup_s?)))
        })
        .collect();
    stats::theil_sen(&points).map(|fit| fit.slope)
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
    for case in usable.iter().filter(|case| !is_baseline(&case.model)) {
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
    fn paired_speedup_lies_within_the_unpaired_bound() {
        let report = sample();
        for case in report.cases.iter().filter(|case| case.is_ok()) {
            let estimate = speedup(&report, case).expect("every sample case has a baseline");
            assert!(estimate.low <= estimate.median && estimate.median <= estimate.high);
            // With five repetitions each, the paired interval lies inside the
            // widest interval the two wall intervals allow.
            let (seq, own) = (
                baseline(&report, case).unwrap().wall_s.unwrap(),
                case.wall_s.unwrap(),
            );
            let eps = 1e-9;
            assert!(estimate.low >= seq.low / own.high - eps, "{case:?}");
            assert!(estimate.high <= seq.high / own.low + eps, "{case:?}");
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

    /// `model` at `workers` (8 tasks), three repetitions whose harness peak
    /// is 10 MiB + `per_unit` per unit and whose children hold `child`
    /// (RSS) or `child / 2` (PSS) each.
    fn memory_cases(model: &str, workers: &[usize], per_unit: u64, pss: bool) -> Vec<CaseResult> {
        let template = sample().cases.into_iter().find(|c| c.is_ok()).unwrap();
        workers
            .iter()
            .map(|&w| {
                let mut case = template.clone();
                case.scenario = "mem".into();
                case.model = model.into();
                case.workers = w;
                case.tasks = 8;
                let rep = case.repetitions[0].clone();
                case.repetitions = (0..3)
                    .map(|_| Repetition {
                        harness_peak_rss_bytes: (10 << 20) + per_unit * w as u64,
                        children_peak_rss_bytes: if pss { (4 << 20) * w as u64 } else { 0 },
                        children_peak_pss_bytes: pss.then_some((2 << 20) * w as u64),
                        ..rep.clone()
                    })
                    .collect();
                case
            })
            .collect()
    }

    #[test]
    fn memory_per_unit_is_the_slope_not_a_division() {
        let mut report = sample();
        report.cases = memory_cases("thread", &[1, 4, 8], 2048 * 1024, false);
        report
            .cases
            .extend(memory_cases("process", &[1, 4, 8], 0, true));
        report.cases.extend(memory_cases("async", &[4], 0, false));
        let thread = memory_per_unit(&report, "mem", "thread").unwrap();
        assert_eq!(thread.metric, MemoryMetric::Rss);
        assert_eq!(thread.per_unit.median, 2048.0 * 1024.0);
        assert!(thread.per_unit.low <= thread.per_unit.median);
        assert_eq!(thread.intercept, 10.0 * 1024.0 * 1024.0);
        assert_eq!(thread.points.len(), 9);
        let process = memory_per_unit(&report, "mem", "process").unwrap();
        assert_eq!(process.metric, MemoryMetric::Pss);
        assert_eq!(process.per_unit.median, 2.0 * 1024.0 * 1024.0);
        assert_eq!(
            memory_per_unit(&report, "mem", "async").unwrap_err(),
            NoMemorySlope::OneUnitCount(4)
        );
        assert_eq!(
            memory_per_unit(&report, "mem", "rayon").unwrap_err(),
            NoMemorySlope::NoCases
        );
    }

    #[test]
    fn a_sweep_of_tasks_that_all_run_at_once_is_a_sweep_of_units() {
        let mut report = sample();
        // 1 KiB per task alive: a sweep of tasks, each with as many workers.
        for tasks in [1000, 2000, 4000] {
            let mut case = memory_cases("async", &[tasks], 0, false).remove(0);
            case.tasks = tasks;
            for rep in &mut case.repetitions {
                rep.harness_peak_rss_bytes = (10 << 20) + 1024 * tasks as u64;
            }
            report.cases.push(case);
        }
        let m = memory_per_unit(&report, "mem", "async").unwrap();
        assert_eq!(m.per_unit.median, 1024.0);
        assert_eq!(m.points.len(), 9);
        // Workers beyond the tasks add no unit: one unit count.
        report.cases = memory_cases("async-single", &[250, 500, 1000], 64, false);
        assert_eq!(
            memory_per_unit(&report, "mem", "async-single").unwrap_err(),
            NoMemorySlope::OneUnitCount(8)
        );
    }

    #[test]
    fn old_results_without_pss_use_rss() {
        let report = sample();
        let m = memory_per_unit(&report, "io-sleep", "process").unwrap();
        assert_eq!(m.metric, MemoryMetric::Rss);
        assert!(m.per_unit.low <= m.per_unit.median && m.per_unit.median <= m.per_unit.high);
    }
}
