//! Baseline against current: matches cases by their identity (`CaseKey`),
//! judges each change with one rule (`judge`) and says which regressed.
//! Pure: `load` reads the files, `render` turns a `Comparison` into text,
//! and the caller prints it and turns `has_regression` into exit code 1.

pub mod machines;
mod mann_whitney;
pub mod metric;
mod render;

pub use metric::Metric;
pub use render::render;

use crate::results::{CaseResult, CaseStatus, RunReport};
use crate::stats::median;
use std::collections::HashMap;
use std::fmt;

/// How `render` writes a comparison (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareFormat {
    #[default]
    Table,
    Markdown,
    Json,
}

impl CompareFormat {
    pub const ALL: [CompareFormat; 3] = [
        CompareFormat::Table,
        CompareFormat::Markdown,
        CompareFormat::Json,
    ];

    pub fn id(self) -> &'static str {
        match self {
            CompareFormat::Table => "table",
            CompareFormat::Markdown => "markdown",
            CompareFormat::Json => "json",
        }
    }
}

/// Significance level of the test: a change counts when p is below this.
pub const ALPHA: f64 = 0.05;

/// Repetitions per run that we recommend for comparisons. Four against four
/// can only reach p < 0.05 when every sample moved past every other; five
/// against five still does with two samples swapped (p = 8/252 = 0.032).
pub const RECOMMENDED_REPETITIONS: usize = 5;

/// What the user can get wrong when asking for a comparison.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("--threshold must be a percentage of 0 or more, got {0}; for example --threshold 10")]
    Threshold(f64),
}

/// How to compare: which metric, and the smallest change that counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    pub metric: Metric,
    /// Smallest relative change that counts, as a fraction (0.1 for 10%).
    pub threshold: f64,
}

impl CompareOptions {
    /// Checks a threshold given in percent, as on the command line.
    pub fn new(metric: Metric, threshold_pct: f64) -> Result<Self, CompareError> {
        if !threshold_pct.is_finite() || threshold_pct < 0.0 {
            return Err(CompareError::Threshold(threshold_pct));
        }
        Ok(Self {
            metric,
            threshold: threshold_pct / 100.0,
        })
    }
}

/// What identifies a case across runs: everything that decides what was
/// measured, nothing that was measured.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseKey {
    pub scenario: String,
    pub workload: String,
    pub kernel: Option<String>,
    pub model: String,
    pub workers: usize,
    pub tasks: usize,
    // Floats compare by their bits: they come from the same JSON text, and
    // this makes the key hashable without an ordered-float dependency.
    task_ms_bits: Option<u64>,
    param_bits: Vec<(String, u64)>,
}

impl CaseKey {
    pub fn of(case: &CaseResult) -> Self {
        Self {
            scenario: case.scenario.clone(),
            workload: case.workload.clone(),
            kernel: case.kernel.clone(),
            model: case.model.clone(),
            workers: case.workers,
            tasks: case.tasks,
            task_ms_bits: case.task_ms.map(f64::to_bits),
            param_bits: case
                .params
                .iter()
                .map(|(name, value)| (name.clone(), value.to_bits()))
                .collect(),
        }
    }
}

/// `scenario/model/workers=N/tasks=N[/task_ms=X][/kernel=K][/param=X...]`;
/// the workload is left out because a scenario has exactly one.
impl fmt::Display for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/workers={}/tasks={}",
            self.scenario, self.model, self.workers, self.tasks
        )?;
        if let Some(bits) = self.task_ms_bits {
            write!(f, "/task_ms={}", f64::from_bits(bits))?;
        }
        if let Some(kernel) = &self.kernel {
            write!(f, "/kernel={kernel}")?;
        }
        for (name, bits) in &self.param_bits {
            write!(f, "/{name}={}", f64::from_bits(*bits))?;
        }
        Ok(())
    }
}

/// The verdict on one case measured in both runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// Smaller by more than the threshold, and significant.
    Improved,
    /// Larger by more than the threshold, and significant.
    Regressed,
    /// The medians differ by no more than the threshold.
    NoChange,
    /// The medians differ by more than the threshold, but the samples do not
    /// show it at the 5% level (too noisy, or too few repetitions).
    Inconclusive,
}

impl Judgement {
    pub fn label(self) -> &'static str {
        match self {
            Judgement::Improved => "improved",
            Judgement::Regressed => "regressed",
            Judgement::NoChange => "no change",
            Judgement::Inconclusive => "inconclusive",
        }
    }
}

/// One metric of one case, judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub verdict: Judgement,
    pub baseline_median: f64,
    pub current_median: f64,
    /// `(current - baseline) / baseline`; infinite when the baseline is 0
    /// and the current value is not.
    pub relative: f64,
    /// Two-sided Mann-Whitney U p-value.
    pub p_value: f64,
    pub n_baseline: usize,
    pub n_current: usize,
}

/// Judges one metric of one case from both runs' per-repetition samples,
/// where smaller is better. `threshold` is a fraction (0.1 for 10%).
///
/// The rule, the same for every metric:
/// 1. `relative` = median(current) / median(baseline) - 1.
/// 2. If `|relative| <= threshold`: **no change**.
/// 3. Otherwise, if the two-sided Mann-Whitney U test of the two sample
///    sets gives p < `ALPHA` (0.05): **regressed** when `relative > 0`,
///    **improved** when `relative < 0`.
/// 4. Otherwise: **inconclusive**.
///
/// The test is exact (the permutation distribution of the ranks, ties
/// included) up to 50 samples in all, normal-approximated beyond. With
/// n against m samples the smallest reachable p is 2 / C(n+m, n): 0.1 for
/// 3 against 3, so such runs can never show a change; 0.008 for 5 against 5.
///
/// Returns `None` when either side has no samples.
pub fn judge(baseline: &[f64], current: &[f64], threshold: f64) -> Option<Change> {
    let baseline_median = median(baseline)?;
    let current_median = median(current)?;
    let relative = if baseline_median == current_median {
        0.0
    } else if baseline_median == 0.0 {
        f64::INFINITY.copysign(current_median)
    } else {
        current_median / baseline_median - 1.0
    };
    let p_value = mann_whitney::p_value(baseline, current);
    let verdict = if relative.abs() <= threshold {
        Judgement::NoChange
    } else if p_value >= ALPHA {
        Judgement::Inconclusive
    } else if relative > 0.0 {
        Judgement::Regressed
    } else {
        Judgement::Improved
    };
    Some(Change {
        verdict,
        baseline_median,
        current_median,
        relative,
        p_value,
        n_baseline: baseline.len(),
        n_current: current.len(),
    })
}

/// What became of one case.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryOutcome {
    /// Measured in both runs and judged.
    Compared(Change),
    /// Both runs measured it, but one recorded no samples of this metric.
    NoSamples,
    /// At least one run reports it failed; the statuses say why ("ok" for the other).
    Failed {
        baseline_status: CaseStatus,
        current_status: CaseStatus,
    },
    OnlyInBaseline,
    OnlyInCurrent,
}

impl EntryOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            EntryOutcome::Compared(change) => change.verdict.label(),
            EntryOutcome::NoSamples => "no samples",
            EntryOutcome::Failed { .. } => "failed",
            EntryOutcome::OnlyInBaseline => "only in baseline",
            EntryOutcome::OnlyInCurrent => "only in current",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: CaseKey,
    pub outcome: EntryOutcome,
}

/// Where a run came from, to label the two sides.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub started_at: String,
    pub git_commit: Option<String>,
    pub version: String,
}

impl RunInfo {
    fn of(report: &RunReport) -> Self {
        Self {
            started_at: report.harness.started_at.clone(),
            git_commit: report.harness.git_commit.clone(),
            version: report.harness.version.clone(),
        }
    }
}

/// Exit code of a comparison across different machines (see README.md,
/// "Exit codes"): not a regression, not a pass; CI shows it as a notice.
pub const EXIT_DIFFERENT_MACHINES: u8 = 3;

/// The whole comparison: one entry per case of either run, current's order
/// first, and warnings that qualify every verdict (different machines, too
/// few repetitions, interrupted runs).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub options: CompareOptions,
    pub baseline: RunInfo,
    pub current: RunInfo,
    pub entries: Vec<Entry>,
    pub warnings: Vec<String>,
    /// The two runs come from different hardware: a difference may be the
    /// machine's, not the code's (`main` exits 3 unless told to judge anyway).
    pub different_machines: bool,
}

/// How many entries got each outcome, in the order summaries print them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub regressed: usize,
    pub improved: usize,
    pub no_change: usize,
    pub inconclusive: usize,
    pub no_samples: usize,
    pub failed: usize,
    pub only_in_baseline: usize,
    pub only_in_current: usize,
}

impl Comparison {
    /// True when at least one case confidently regressed: exit code 1.
    pub fn has_regression(&self) -> bool {
        self.tally().regressed > 0
    }

    /// The exit code the comparison ends with: 1 for a confident
    /// regression, 0 for none, and [`EXIT_DIFFERENT_MACHINES`] when the
    /// runs come from different hardware and `allow_machine_mismatch` was
    /// not given, whatever the verdicts, since they may be the machine's.
    pub fn exit_code(&self, allow_machine_mismatch: bool) -> u8 {
        if self.different_machines && !allow_machine_mismatch {
            EXIT_DIFFERENT_MACHINES
        } else {
            u8::from(self.has_regression())
        }
    }

    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for entry in &self.entries {
            let slot = match &entry.outcome {
                EntryOutcome::Compared(change) => match change.verdict {
                    Judgement::Regressed => &mut tally.regressed,
                    Judgement::Improved => &mut tally.improved,
                    Judgement::NoChange => &mut tally.no_change,
                    Judgement::Inconclusive => &mut tally.inconclusive,
                },
                EntryOutcome::NoSamples => &mut tally.no_samples,
                EntryOutcome::Failed { .. } => &mut tally.failed,
                EntryOutcome::OnlyInBaseline => &mut tally.only_in_baseline,
                EntryOutcome::OnlyInCurrent => &mut tally.only_in_current,
            };
            *slot += 1;
        }
        tally
    }
}

/// Compares every case of `current` with the same case of `baseline`.
pub fn compare(baseline: &RunReport, current: &RunReport, options: &CompareOptions) -> Comparison {
    let mut warnings = Vec::new();
    let machine = machine_warning(baseline, current);
    let different_machines = !baseline.machine.same_hardware(&current.machine);
    warnings.extend(machine);
    for (side, report) in [("baseline", baseline), ("current", current)] {
        if report.interrupted {
            warnings.push(format!(
                "the {side} run was interrupted before every case was measured; its missing cases are listed as only in the other run"
            ));
        }
    }
    let baseline_cases = index_cases(baseline, "baseline", &mut warnings);
    let current_cases = index_cases(current, "current", &mut warnings);
    let in_baseline: HashMap<&CaseKey, &CaseResult> =
        baseline_cases.iter().map(|(k, c)| (k, *c)).collect();
    let in_current: HashMap<&CaseKey, &CaseResult> =
        current_cases.iter().map(|(k, c)| (k, *c)).collect();

    let mut entries = Vec::new();
    for (key, cur) in &current_cases {
        let outcome = match in_baseline.get(key) {
            None => EntryOutcome::OnlyInCurrent,
            Some(base) => judge_case(base, cur, options),
        };
        entries.push(Entry {
            key: key.clone(),
            outcome,
        });
    }
    for (key, _) in &baseline_cases {
        if !in_current.contains_key(key) {
            entries.push(Entry {
                key: key.clone(),
                outcome: EntryOutcome::OnlyInBaseline,
            });
        }
    }
    if let Some(warning) = few_samples_warning(&entries) {
        warnings.push(warning);
    }
    Comparison {
        options: *options,
        baseline: RunInfo::of(baseline),
        current: RunInfo::of(current),
        entries,
        warnings,
        different_machines,
    }
}

fn judge_case(base: &CaseResult, cur: &CaseResult, options: &CompareOptions) -> EntryOutcome {
    if !base.is_ok() || !cur.is_ok() {
        return EntryOutcome::Failed {
            baseline_status: base.status.clone(),
            current_status: cur.status.clone(),
        };
    }
    let base_samples = metric::samples(base, options.metric);
    let cur_samples = metric::samples(cur, options.metric);
    judge(&base_samples, &cur_samples, options.threshold)
        .map_or(EntryOutcome::NoSamples, EntryOutcome::Compared)
}

/// The cases of a run with their keys, in file order; a repeated key keeps
/// its first case and adds a warning, since it cannot be matched reliably.
fn index_cases<'a>(
    report: &'a RunReport,
    side: &str,
    warnings: &mut Vec<String>,
) -> Vec<(CaseKey, &'a CaseResult)> {
    let mut seen = std::collections::HashSet::new();
    let mut cases = Vec::new();
    for case in &report.cases {
        let key = CaseKey::of(case);
        if seen.insert(key.clone()) {
            cases.push((key, case));
        } else {
            warnings.push(format!(
                "the {side} run has case {key} more than once; only its first result is compared"
            ));
        }
    }
    cases
}

fn machine_warning(baseline: &RunReport, current: &RunReport) -> Option<String> {
    let (a, b) = (&baseline.machine, &current.machine);
    let mut differences = Vec::new();
    if a.cpu_brand != b.cpu_brand {
        differences.push(format!("CPU {:?} vs {:?}", a.cpu_brand, b.cpu_brand));
    }
    if a.logical_cores != b.logical_cores {
        differences.push(format!(
            "{} vs {} logical cores",
            a.logical_cores, b.logical_cores
        ));
    }
    if a.memory_bytes != b.memory_bytes {
        differences.push(format!(
            "{} vs {} memory",
            metric::format(Metric::Rss, a.memory_bytes as f64),
            metric::format(Metric::Rss, b.memory_bytes as f64)
        ));
    }
    (!differences.is_empty()).then(|| {
        format!(
            "DIFFERENT MACHINES: baseline and current ran on different hardware ({}); \
             a verdict may reflect the machine rather than the code: compare runs from one machine",
            differences.join(", ")
        )
    })
}

fn few_samples_warning(entries: &[Entry]) -> Option<String> {
    let mut worst: Option<(usize, usize, f64)> = None;
    let mut n_cases = 0;
    for entry in entries {
        if let EntryOutcome::Compared(change) = &entry.outcome {
            let min_p = mann_whitney::min_p_value(change.n_baseline, change.n_current);
            if min_p >= ALPHA {
                n_cases += 1;
                if worst.is_none_or(|(_, _, p)| min_p > p) {
                    worst = Some((change.n_baseline, change.n_current, min_p));
                }
            }
        }
    }
    worst.map(|(n_base, n_cur, min_p)| {
        format!(
            "{n_cases} case(s) have too few repetitions for the test to reach p < {ALPHA} \
             ({n_base} against {n_cur} samples can give p = {min_p:.2} at best), so a real change \
             there can only be inconclusive; run both with --repetitions {RECOMMENDED_REPETITIONS} or more"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [f64; 5] = [1.00, 1.02, 0.98, 1.01, 0.99];

    fn scaled(factor: f64) -> Vec<f64> {
        BASE.iter().map(|x| x * factor).collect()
    }

    #[test]
    fn slower_by_thirty_percent_with_five_samples_regresses() {
        let change = judge(&BASE, &scaled(1.3), 0.1).unwrap();
        assert_eq!(change.verdict, Judgement::Regressed);
        assert!((change.relative - 0.3).abs() < 1e-9);
        assert!(change.p_value < ALPHA);
    }

    #[test]
    fn faster_improves() {
        let change = judge(&BASE, &scaled(0.7), 0.1).unwrap();
        assert_eq!(change.verdict, Judgement::Improved);
    }

    #[test]
    fn identical_is_no_change() {
        assert_eq!(
            judge(&BASE, &BASE, 0.1).unwrap().verdict,
            Judgement::NoChange
        );
    }

    #[test]
    fn significant_but_small_is_no_change() {
        assert_eq!(
            judge(&BASE, &scaled(1.05), 0.1).unwrap().verdict,
            Judgement::NoChange
        );
    }

    #[test]
    fn large_change_with_three_samples_is_inconclusive() {
        let change = judge(&BASE[..3], &scaled(2.0)[..3], 0.1).unwrap();
        assert_eq!(change.verdict, Judgement::Inconclusive);
    }

    #[test]
    fn overlapping_noisy_samples_are_inconclusive() {
        let noisy = [0.85, 1.25, 1.3, 1.4, 0.97];
        let change = judge(&BASE, &noisy, 0.1).unwrap();
        assert!(change.relative > 0.1, "{change:?}");
        assert_eq!(change.verdict, Judgement::Inconclusive);
    }

    #[test]
    fn zero_baseline_counts_as_an_infinite_change() {
        let change = judge(&[0.0; 5], &[1.0; 5], 0.1).unwrap();
        assert_eq!(change.relative, f64::INFINITY);
        assert_eq!(change.verdict, Judgement::Regressed);
        assert_eq!(
            judge(&[0.0; 5], &[0.0; 5], 0.1).unwrap().verdict,
            Judgement::NoChange
        );
    }

    #[test]
    fn no_samples_cannot_be_judged() {
        assert!(judge(&[], &BASE, 0.1).is_none());
    }

    fn fixture(text: &str) -> RunReport {
        crate::load::parse_report(text, std::path::Path::new("fixture")).unwrap()
    }

    fn keep_repetitions(report: &mut RunReport, n: usize) {
        for case in &mut report.cases {
            case.repetitions.truncate(n);
            case.samples_wall_s.truncate(n);
        }
    }

    #[test]
    fn three_repetitions_warn_that_nothing_can_be_shown() {
        let mut base = fixture(include_str!("../tests/fixtures/compare/base.json"));
        let mut slower = fixture(include_str!("../tests/fixtures/compare/slower.json"));
        keep_repetitions(&mut base, 3);
        keep_repetitions(&mut slower, 3);
        let options = CompareOptions::new(Metric::Wall, 10.0).unwrap();
        let comparison = compare(&base, &slower, &options);
        assert!(!comparison.has_regression());
        assert_eq!(comparison.tally().inconclusive, 5);
        let warning = comparison.warnings.join("\n");
        assert!(
            warning.contains("3 against 3") && warning.contains("--repetitions 5"),
            "{warning}"
        );
    }

    #[test]
    fn same_machine_gives_no_warning() {
        let base = fixture(include_str!("../tests/fixtures/compare/base.json"));
        let options = CompareOptions::new(Metric::Wall, 10.0).unwrap();
        assert!(compare(&base, &base, &options).warnings.is_empty());
    }

    #[test]
    fn threshold_must_be_a_non_negative_percentage() {
        assert!(CompareOptions::new(Metric::Wall, -1.0).is_err());
        assert!(CompareOptions::new(Metric::Wall, f64::NAN).is_err());
        let options = CompareOptions::new(Metric::Wall, 10.0).unwrap();
        assert!((options.threshold - 0.1).abs() < 1e-12);
    }
}
