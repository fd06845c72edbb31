//! The numbers table of a scenario and the unit formatting shared by the HTML
//! and Markdown renderers. Cells are plain text; each renderer escapes them
//! for its own format.

use super::query;
use crate::results::{CaseResult, Estimate, RunReport, ScenarioInfo};

pub const HEADER: [&str; 12] = [
    "Model",
    "Workers",
    "Tasks",
    "Work",
    "Wall median [95% CI]",
    "Speedup [95% CI]",
    "Efficiency",
    "CPU user / sys",
    "Peak RSS",
    "Ctx switches vol / invol",
    "Latency p50 / p99",
    "Status",
];

/// One case as table cells, in `HEADER` order.
#[derive(Debug)]
pub struct Row {
    pub model: String,
    pub ok: bool,
    pub cells: Vec<String>,
}

/// Every case of a scenario, failed ones included with their status.
pub fn rows(report: &RunReport, cases: &[&CaseResult]) -> Vec<Row> {
    cases.iter().map(|case| row(report, case)).collect()
}

fn row(report: &RunReport, case: &CaseResult) -> Row {
    let dash = || "–".to_string();
    let cells = vec![
        case.model.clone(),
        case.workers.to_string(),
        case.tasks.to_string(),
        work(case),
        case.wall_s.map_or_else(dash, seconds_interval),
        query::speedup(report, case).map_or_else(dash, ratio_interval),
        case.efficiency.map_or_else(dash, percent),
        match (case.cpu_user_s, case.cpu_sys_s) {
            (Some(user), Some(sys)) => format!("{} / {}", seconds(user), seconds(sys)),
            _ => dash(),
        },
        case.peak_rss_bytes.map_or_else(dash, bytes),
        match (case.ctx_voluntary, case.ctx_involuntary) {
            (Some(vol), Some(invol)) => format!("{vol} / {invol}"),
            _ => dash(),
        },
        case.task_latency_ms.map_or_else(dash, |lat| {
            format!("{} / {}", millis(lat.p50), millis(lat.p99))
        }),
        case.status.clone(),
    ];
    Row {
        model: case.model.clone(),
        ok: case.is_ok(),
        cells,
    }
}

/// The size of the work: task duration, kernel and workload parameters.
pub fn work(case: &CaseResult) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = case.task_ms {
        parts.push(millis(ms));
    }
    if let Some(kernel) = &case.kernel {
        parts.push(kernel.clone());
    }
    for (name, value) in &case.params {
        parts.push(format!("{name}={}", significant(*value)));
    }
    parts.join(", ")
}

/// Three significant digits, without a float's noise.
pub fn significant(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || magnitude == 0.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Picks a unit for a duration so that the figure has 1 to 3 integer digits.
fn time_unit(seconds: f64) -> (f64, &'static str) {
    match seconds.abs() {
        s if s >= 1.0 => (1.0, "s"),
        s if s >= 1e-3 => (1e3, "ms"),
        s if s >= 1e-6 || s == 0.0 => (1e6, "µs"),
        _ => (1e9, "ns"),
    }
}

pub fn seconds(value: f64) -> String {
    let (scale, unit) = time_unit(value);
    format!("{} {unit}", significant(value * scale))
}

pub fn millis(value: f64) -> String {
    seconds(value / 1e3)
}

/// `12.3 ms [12.1, 12.6]`: the interval in the median's unit.
pub fn seconds_interval(estimate: Estimate) -> String {
    let (scale, unit) = time_unit(estimate.median);
    format!(
        "{} {unit} [{}, {}]",
        significant(estimate.median * scale),
        significant(estimate.low * scale),
        significant(estimate.high * scale)
    )
}

pub fn ratio_interval(estimate: Estimate) -> String {
    format!(
        "{}× [{}, {}]",
        significant(estimate.median),
        significant(estimate.low),
        significant(estimate.high)
    )
}

/// Columns of the emulation-vs-CPython table.
pub const FIDELITY_HEADER: [&str; 7] = [
    "Scenario",
    "Point",
    "Emulated",
    "CPython",
    "Figure",
    "Emulated / CPython",
    "Within 25%",
];

/// One row per emulated-GIL case paired with its real-CPython twin.
pub fn fidelity_rows(report: &RunReport) -> Vec<Vec<String>> {
    report
        .fidelity
        .iter()
        .map(|f| {
            let mut point = format!("{} workers, {} tasks", f.workers, f.tasks);
            if let Some(ms) = f.task_ms {
                point.push_str(&format!(", {}", millis(ms)));
            }
            for (key, value) in &f.params {
                point.push_str(&format!(", {key} {}", significant(*value)));
            }
            let figure = |v: f64| match f.metric.as_str() {
                "speedup" => format!("{}×", significant(v)),
                _ => millis(v),
            };
            vec![
                f.scenario.clone(),
                point,
                format!("{} {}", f.emulated, figure(f.emulated_value)),
                format!("{} {}", f.reference, figure(f.reference_value)),
                f.metric.replace('_', " "),
                format!("{:.2}", f.ratio),
                if (f.ratio - 1.0).abs() <= crate::fidelity::TOLERANCE {
                    "yes"
                } else {
                    "no"
                }
                .into(),
            ]
        })
        .collect()
}

pub fn percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

/// `bytes` for a figure that may be negative (a slope within its noise).
pub fn bytes_signed(value: f64) -> String {
    if value < 0.0 {
        format!("-{}", bytes((-value).round() as u64))
    } else {
        bytes(value.round() as u64)
    }
}

/// A byte figure with its interval: `1.5 MiB [1.2 MiB, 1.9 MiB]`.
pub fn bytes_interval(e: Estimate) -> String {
    format!(
        "{} [{}, {}]",
        bytes_signed(e.median),
        bytes_signed(e.low),
        bytes_signed(e.high)
    )
}

/// Columns of a scenario's memory-per-unit table.
pub const MEMORY_HEADER: [&str; 5] = [
    "Model",
    "Memory per unit [95% CI]",
    "Measured as",
    "Units",
    "Fixed cost",
];

/// One row per model of the scenario: its memory per unit (the slope across
/// its sweep), or a dash and the reason there is none.
pub fn memory_rows(report: &RunReport, scenario: &ScenarioInfo) -> Vec<Vec<String>> {
    scenario
        .models
        .iter()
        .filter(|model| model.as_str() != query::SEQUENTIAL)
        .map(
            |model| match query::memory_per_unit(report, &scenario.name, model) {
                Ok(m) => {
                    let mut units: Vec<usize> = m.points.iter().map(|p| p.0).collect();
                    units.dedup();
                    vec![
                        model.clone(),
                        bytes_interval(m.per_unit),
                        match m.metric {
                            query::MemoryMetric::Pss => "harness RSS + children PSS",
                            query::MemoryMetric::Rss => "RSS",
                        }
                        .into(),
                        units
                            .iter()
                            .map(usize::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        bytes_signed(m.intercept),
                    ]
                }
                Err(why) => vec![
                    model.clone(),
                    "–".into(),
                    why.to_string(),
                    "–".into(),
                    "–".into(),
                ],
            },
        )
        .collect()
}

pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if value < 1024 {
        return format!("{value} B");
    }
    let mut scaled = value as f64 / 1024.0;
    let mut unit = 0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", significant(scaled), UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn units_read_naturally() {
        assert_eq!(seconds(0.3328), "333 ms");
        assert_eq!(seconds(4.2e-5), "42 µs");
        assert_eq!(seconds(2.5), "2.50 s");
        assert_eq!(bytes(6 * 1024 * 1024), "6 MiB");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(percent(0.974), "97%");
        let wall = Estimate {
            median: 0.0123,
            low: 0.0121,
            high: 0.0126,
        };
        assert_eq!(seconds_interval(wall), "12.3 ms [12.1, 12.6]");
    }

    #[test]
    fn failed_case_keeps_its_status_and_has_no_numbers() {
        let report = sample();
        let failed = report.cases.iter().find(|case| !case.is_ok()).unwrap();
        let row = row(&report, failed);
        assert!(!row.ok);
        assert_eq!(row.cells.len(), HEADER.len());
        assert_eq!(row.cells[11], failed.status);
        assert_eq!(row.cells[4], "–");
    }
}
