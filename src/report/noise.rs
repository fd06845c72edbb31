//! Was the machine quiet enough to trust this run? Judged after the fact
//! from the `RunReport` alone, as pyperf's checks do: the load and other
//! busy processes the environment record saw, a CPU frequency that moved
//! between the start and the end, and cases whose repetitions have outliers
//! or vary too much. Pure; the page, the summary and stderr show the same
//! warnings.

use crate::results::{CaseResult, RunReport, Snapshot};
use crate::stats;

/// Load average per logical core at the start of a run above which the
/// machine counts as busy. Only the start is judged: by the end, the 1-minute
/// average mostly measures the run itself.
pub const MAX_LOAD_PER_CORE: f64 = 0.5;
/// Share of one core (percent) from which another process counts as noise.
pub const BUSY_PROCESS_PERCENT: f64 = 25.0;
/// Relative change of the mean CPU frequency between start and end.
pub const MAX_FREQUENCY_CHANGE: f64 = 0.05;
/// A repetition this many scaled MADs from its case's median is an outlier.
pub const OUTLIER_MADS: f64 = 3.0;
/// Coefficient of variation of a case's wall times above which it is noisy
/// (pyperf warns from 10% too).
pub const MAX_CV: f64 = 0.10;
/// Fewer repetitions than this say nothing about a case's spread.
const MIN_SAMPLES: usize = 3;
/// Cases named in one warning; the rest are counted.
const NAMED_CASES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    Load,
    BusyProcesses,
    Frequency,
    Outliers,
    Variation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoiseWarning {
    pub kind: NoiseKind,
    pub text: String,
}

/// Every sign of noise the report holds, in a fixed order; empty for a
/// quiet run.
pub fn warnings(report: &RunReport) -> Vec<NoiseWarning> {
    let env = &report.environment;
    let cores = report.machine.logical_cores.max(1);
    let mut out = Vec::new();
    let mut warn = |kind, text: String| out.push(NoiseWarning { kind, text });
    if let Some(load) = env.start.as_ref().and_then(|s| s.load_average) {
        let limit = MAX_LOAD_PER_CORE * cores as f64;
        if load[0] > limit {
            warn(
                NoiseKind::Load,
                format!(
                    "the load average was {:.2} when the run started, on {cores} logical cores \
                     (above {limit:.2}): other work was running, or had just ended",
                    load[0]
                ),
            );
        }
    }
    for (when, snapshot) in [("start", &env.start), ("end", &env.end)] {
        if let Some(text) = snapshot.as_ref().and_then(busy_text) {
            warn(
                NoiseKind::BusyProcesses,
                format!("other processes were busy at the {when} of the run: {text}"),
            );
        }
    }
    if let (Some(start), Some(end)) = (&env.start, &env.end)
        && let (Some(a), Some(b)) = (mean(&start.cpu_mhz), mean(&end.cpu_mhz))
        && a > 0.0
        && ((b - a) / a).abs() > MAX_FREQUENCY_CHANGE
    {
        let governor = start
            .governor
            .as_deref()
            .map(|g| format!(" (governor {g})"))
            .unwrap_or_default();
        warn(
            NoiseKind::Frequency,
            format!(
                "the CPU frequency changed during the run, from {a:.0} MHz to {b:.0} MHz on \
                 average{governor}: more than {:.0}%",
                MAX_FREQUENCY_CHANGE * 100.0
            ),
        );
    }
    let measured: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| c.is_ok() && c.samples_wall_s.len() >= MIN_SAMPLES)
        .collect();
    let with_outliers: Vec<(&CaseResult, usize)> = measured
        .iter()
        .map(|c| (*c, stats::outliers(&c.samples_wall_s, OUTLIER_MADS).len()))
        .filter(|(_, n)| *n > 0)
        .collect();
    if !with_outliers.is_empty() {
        let named = with_outliers
            .iter()
            .take(NAMED_CASES)
            .map(|(c, n)| format!("{} ({n} of {})", label(c), c.samples_wall_s.len()))
            .collect::<Vec<_>>()
            .join("; ");
        warn(
            NoiseKind::Outliers,
            format!(
                "{} of {} cases have repetitions more than {OUTLIER_MADS} MADs from their \
                 median wall time: {named}{}",
                with_outliers.len(),
                measured.len(),
                more(with_outliers.len())
            ),
        );
    }
    let mut varying: Vec<(&CaseResult, f64)> = measured
        .iter()
        .filter_map(|c| Some((*c, stats::coefficient_of_variation(&c.samples_wall_s)?)))
        .filter(|(_, cv)| *cv > MAX_CV)
        .collect();
    if !varying.is_empty() {
        varying.sort_by(|a, b| b.1.total_cmp(&a.1));
        let named = varying
            .iter()
            .take(NAMED_CASES)
            .map(|(c, cv)| format!("{} ({:.0}%)", label(c), cv * 100.0))
            .collect::<Vec<_>>()
            .join("; ");
        warn(
            NoiseKind::Variation,
            format!(
                "{} of {} cases vary by more than {:.0}% between repetitions (coefficient of \
                 variation of the wall time), the most: {named}{}",
                varying.len(),
                measured.len(),
                MAX_CV * 100.0,
                more(varying.len())
            ),
        );
    }
    out
}

/// The other processes that used at least `BUSY_PROCESS_PERCENT` of a core.
fn busy_text(snapshot: &Snapshot) -> Option<String> {
    let busy: Vec<String> = snapshot
        .busy_processes
        .iter()
        .filter(|p| p.cpu_percent >= BUSY_PROCESS_PERCENT)
        .map(|p| {
            format!(
                "{} (pid {}, {:.0}% of a core)",
                p.name, p.pid, p.cpu_percent
            )
        })
        .collect();
    (!busy.is_empty()).then(|| busy.join(", "))
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn label(case: &CaseResult) -> String {
    format!(
        "{}/{} w={} tasks={}",
        case.scenario, case.model, case.workers, case.tasks
    )
}

fn more(n: usize) -> String {
    if n > NAMED_CASES {
        format!("; and {} more", n - NAMED_CASES)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;
    use crate::results::{BusyProcess, Environment};

    fn snapshot(load: f64, mhz: f64, busy: &[(&str, f64)]) -> Snapshot {
        Snapshot {
            load_average: Some([load, load, load]),
            cpu_mhz: vec![mhz, mhz],
            busy_processes: busy
                .iter()
                .enumerate()
                .map(|(idx, (name, cpu))| BusyProcess {
                    pid: 100 + idx as u32,
                    name: (*name).into(),
                    cpu_percent: *cpu,
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    /// The sample with every case's repetitions set to `walls`.
    fn with_walls(environment: Environment, walls: &[f64]) -> RunReport {
        let mut report = sample();
        report.machine.logical_cores = 2;
        report.environment = environment;
        for case in report.cases.iter_mut().filter(|c| c.is_ok()) {
            let base = case.wall_s.map_or(1.0, |w| w.median);
            case.samples_wall_s = walls.iter().map(|w| w * base).collect();
        }
        report
    }

    fn quiet_environment() -> Environment {
        Environment {
            start: Some(snapshot(0.1, 2400.0, &[("sshd", 6.0)])),
            end: Some(snapshot(1.9, 2410.0, &[])),
            ..Environment::default()
        }
    }

    #[test]
    fn a_quiet_run_has_no_warnings() {
        let report = with_walls(quiet_environment(), &[1.0, 1.01, 0.99, 1.02, 0.98]);
        assert_eq!(warnings(&report), vec![]);
    }

    #[test]
    fn an_old_file_without_an_environment_is_judged_on_its_samples_only() {
        let report = with_walls(Environment::default(), &[1.0, 1.01, 0.99]);
        assert_eq!(warnings(&report), vec![]);
    }

    #[test]
    fn a_noisy_run_warns_of_each_sign() {
        let environment = Environment {
            start: Some(snapshot(1.6, 2400.0, &[("cc1plus", 97.0), ("sshd", 6.0)])),
            end: Some(snapshot(2.5, 1800.0, &[("cc1plus", 88.0)])),
            ..Environment::default()
        };
        let report = with_walls(environment, &[1.0, 1.01, 0.99, 1.0, 1.6]);
        let found = warnings(&report);
        let kinds: Vec<NoiseKind> = found.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [
                NoiseKind::Load,
                NoiseKind::BusyProcesses,
                NoiseKind::BusyProcesses,
                NoiseKind::Frequency,
                NoiseKind::Outliers,
                NoiseKind::Variation,
            ]
        );
        let text = |kind| &found.iter().find(|w| w.kind == kind).unwrap().text;
        assert!(text(NoiseKind::Load).contains("1.60"), "{found:?}");
        let busy = text(NoiseKind::BusyProcesses);
        assert!(busy.contains("cc1plus (pid 100, 97% of a core)") && !busy.contains("sshd"));
        assert!(text(NoiseKind::Frequency).contains("2400 MHz to 1800 MHz"));
        let ok = report.cases.iter().filter(|c| c.is_ok()).count();
        assert!(
            text(NoiseKind::Outliers).starts_with(&format!("{ok} of {ok} cases")),
            "{found:?}"
        );
        assert!(text(NoiseKind::Variation).contains("more"), "{found:?}");
    }

    #[test]
    fn spread_is_judged_only_with_enough_repetitions() {
        let report = with_walls(quiet_environment(), &[1.0, 1.5]);
        assert_eq!(warnings(&report), vec![]);
    }
}
