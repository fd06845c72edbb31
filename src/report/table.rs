//! The numbers table of a scenario and the unit formatting shared by the HTML
//! and Markdown renderers. Cells are plain text; each renderer escapes them
//! for its own format.

use super::query;
use crate::results::{
    CaseResult, ConvoyStats, Environment, Estimate, FidelityCheck, RunReport, ScenarioInfo,
    Snapshot,
};

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
        case.status.to_string(),
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

/// What a scenario's speedups are against when no sequential baseline ran
/// (`baseline = false`); None when one did.
pub fn baseline_note(scenario: &ScenarioInfo) -> Option<&'static str> {
    scenario.baseline_estimated.then_some(
        "No sequential baseline ran (`baseline = false`): each speedup is against tasks × \
         the task's time, the CPU time asked for or the sleep as measured here, so an \
         efficiency of 100% is a wall of one task's time per wave of workers.",
    )
}

/// Columns of the emulation-vs-CPython table.
pub const FIDELITY_HEADER: [&str; 7] = [
    "Scenario", "Point", "Rule", "Emulated", "CPython", "Checks", "Faithful",
];

/// One row per emulated-GIL case paired with its real-CPython twin; at
/// convoy points both round-trip distributions side by side.
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
            let side = |model: &str, value: f64, convoy: Option<&ConvoyStats>| match convoy {
                Some(c) => format!("{model} {}", distribution(c)),
                None if f.metric == "speedup" => format!("{model} {}×", significant(value)),
                None => format!("{model} {}", millis(value)),
            };
            let checks = if f.checks.is_empty() {
                format!("ratio {:.2}", f.ratio)
            } else {
                f.checks.iter().map(check).collect::<Vec<_>>().join("; ")
            };
            let faithful = f
                .faithful
                .unwrap_or((f.ratio - 1.0).abs() <= crate::fidelity::TOLERANCE);
            vec![
                f.scenario.clone(),
                point,
                f.rule.clone().unwrap_or_else(|| f.metric.replace('_', " ")),
                side(&f.emulated, f.emulated_value, f.emulated_convoy.as_ref()),
                side(&f.reference, f.reference_value, f.reference_convoy.as_ref()),
                checks,
                if faithful { "yes" } else { "no" }.into(),
            ]
        })
        .collect()
}

/// A probe's round trips: p10 / p50 / p90 / p99 and the delayed share.
pub fn distribution(c: &ConvoyStats) -> String {
    format!(
        "p10 {} · p50 {} · p90 {} · p99 {}, {} delayed (≥ {})",
        millis(c.p10_ms),
        millis(c.p50_ms),
        millis(c.p90_ms),
        millis(c.p99_ms),
        percent(c.delayed_share),
        millis(c.delayed_ms)
    )
}

fn check(c: &FidelityCheck) -> String {
    let mark = if c.pass { "✓" } else { "✗" };
    let figure = c.figure.trim_end_matches("_ms").replace('_', " ");
    match c.test.as_str() {
        "ratio" => format!(
            "{figure} {:.2}× (±{}) {mark}",
            c.emulated / c.reference,
            percent(c.limit)
        ),
        "difference" => format!(
            "{figure} Δ{:.2} (≤ {:.2}) {mark}",
            (c.emulated - c.reference).abs(),
            c.limit
        ),
        _ => format!("{figure} both < {} {mark}", millis(c.limit)),
    }
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

/// The environment record as (name, value) rows for the machine table:
/// the build, then the start and end snapshots side by side.
pub fn environment_rows(env: &Environment) -> Vec<(&'static str, String)> {
    let unknown = || "unknown".to_string();
    let b = &env.build;
    let mut rows = vec![
        ("Compiler", b.rustc.clone().unwrap_or_else(unknown)),
        ("Build profile", b.profile.clone().unwrap_or_else(unknown)),
        (
            "Git tree",
            match b.git_dirty {
                Some(true) => "dirty (uncommitted changes)".into(),
                Some(false) => "clean".into(),
                None => unknown(),
            },
        ),
    ];
    let both = |f: &dyn Fn(&Snapshot) -> Option<String>| {
        let side = |s: &Option<Snapshot>| s.as_ref().and_then(f).unwrap_or_else(unknown);
        format!(
            "{} at the start, {} at the end",
            side(&env.start),
            side(&env.end)
        )
    };
    if env.start.is_none() && env.end.is_none() {
        return rows;
    }
    let yes_no = |v: Option<bool>| v.map(|on| if on { "on" } else { "off" }.to_string());
    rows.push((
        "Load average (1, 5, 15 min)",
        both(&|s| {
            s.load_average
                .map(|l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]))
        }),
    ));
    rows.push((
        "CPU frequency",
        both(&|s| {
            let n = s.cpu_mhz.len();
            (n > 0).then(|| format!("{:.0} MHz", s.cpu_mhz.iter().sum::<f64>() / n as f64))
        }),
    ));
    rows.push(("Governor", both(&|s| s.governor.clone())));
    rows.push(("Turbo / boost", both(&|s| yes_no(s.turbo))));
    rows.push(("SMT", both(&|s| yes_no(s.smt))));
    rows.push((
        "Busy processes",
        both(&|s| {
            let busy: Vec<String> = s
                .busy_processes
                .iter()
                .map(|p| format!("{} {:.0}%", p.name, p.cpu_percent))
                .collect();
            Some(if busy.is_empty() {
                "none".into()
            } else {
                busy.join(", ")
            })
        }),
    ));
    rows
}

/// One row per model of the scenario: its memory per unit (the slope across
/// its sweep), or a dash and the reason there is none.
pub fn memory_rows(report: &RunReport, scenario: &ScenarioInfo) -> Vec<Vec<String>> {
    scenario
        .models
        .iter()
        .filter(|model| !query::is_baseline(model))
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
        assert_eq!(row.cells[11], failed.status.to_string());
        assert_eq!(row.cells[4], "–");
    }

    #[test]
    fn convoy_pairs_show_both_distributions_and_each_check() {
        let mut report = sample();
        let stats = |p50: f64| ConvoyStats {
            round_trips: 2000,
            p10_ms: 5.19,
            p50_ms: p50,
            p90_ms: 8.2,
            p99_ms: 10.8,
            delayed_share: 0.99,
            delayed_ms: 2.8,
        };
        let cases: Vec<CaseResult> = [("thread+gil", 5.28), ("cpython-thread", 7.5)]
            .into_iter()
            .map(|(model, p50)| {
                let mut c = report.cases[0].clone();
                c.scenario = "convoy-5ms".into();
                c.model = model.into();
                c.status = crate::results::CaseStatus::Ok;
                c.params = [("cpu_threads".to_owned(), 1.0)].into();
                c.convoy = Some(stats(p50));
                c
            })
            .collect();
        report.fidelity = crate::fidelity::pairs(&cases);
        let rows = fidelity_rows(&report);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row[2], "convoy");
        assert!(
            row[3].starts_with("thread+gil p10 5.19 ms · p50 5.28 ms"),
            "{row:?}"
        );
        assert!(
            row[4].starts_with("cpython-thread p10 5.19 ms · p50 7.50 ms"),
            "{row:?}"
        );
        assert!(row[4].ends_with("99% delayed (≥ 2.80 ms)"), "{row:?}");
        assert!(row[5].contains("p50 0.70× (±25%) ✗"), "{row:?}");
        assert!(row[5].contains("p99 1.00× (±25%) ✓"), "{row:?}");
        assert!(row[5].contains("delayed share Δ0.00 (≤ 0.15) ✓"), "{row:?}");
        assert_eq!(row[6], "no");
    }
}
