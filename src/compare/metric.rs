//! What each `--metric` reads from a case, per repetition, and how its
//! values are named and printed. Shared by `compare`, `export` and `history`
//! so that the three agree on what "cpu" or "rss" means.

use crate::results::CaseResult;

/// What a comparison or a trend judges a case by (`--metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    #[default]
    Wall,
    Cpu,
    Rss,
    P99,
}

/// Every metric, in the order reports list them.
pub const ALL: [Metric; 4] = [Metric::Wall, Metric::Cpu, Metric::Rss, Metric::P99];

/// One value per measured repetition, in the metric's base unit (`unit`).
pub fn samples(case: &CaseResult, metric: Metric) -> Vec<f64> {
    match metric {
        Metric::Wall => case.samples_wall_s.clone(),
        Metric::Cpu => case
            .repetitions
            .iter()
            .map(|rep| rep.cpu_user_s + rep.cpu_sys_s)
            .collect(),
        // Bytes as f64 are exact up to 8 PiB, far beyond any peak RSS.
        Metric::Rss => case
            .repetitions
            .iter()
            .map(|rep| (rep.harness_peak_rss_bytes + rep.children_peak_rss_bytes) as f64)
            .collect(),
        Metric::P99 => case
            .repetitions
            .iter()
            .map(|rep| rep.latency_p99_ms)
            .collect(),
    }
}

/// The name used on the command line and in file names.
pub fn name(metric: Metric) -> &'static str {
    match metric {
        Metric::Wall => "wall",
        Metric::Cpu => "cpu",
        Metric::Rss => "rss",
        Metric::P99 => "p99",
    }
}

/// What the metric measures, for titles and table headers.
pub fn description(metric: Metric) -> &'static str {
    match metric {
        Metric::Wall => "wall time of one batch",
        Metric::Cpu => "CPU time, user + system",
        Metric::Rss => "peak RSS, harness + children",
        Metric::P99 => "p99 task latency",
    }
}

/// The base unit `samples` returns.
pub fn unit(metric: Metric) -> &'static str {
    match metric {
        Metric::Wall | Metric::Cpu => "s",
        Metric::Rss => "bytes",
        Metric::P99 => "ms",
    }
}

/// A value of this metric with a readable unit and three significant digits.
pub fn format(metric: Metric, value: f64) -> String {
    match metric {
        Metric::Wall | Metric::Cpu => format_seconds(value),
        Metric::Rss => format_bytes(value),
        Metric::P99 => format_seconds(value / 1e3),
    }
}

fn format_seconds(seconds: f64) -> String {
    let (scaled, unit) = if seconds.abs() >= 1.0 || seconds == 0.0 {
        (seconds, "s")
    } else if seconds.abs() >= 1e-3 {
        (seconds * 1e3, "ms")
    } else if seconds.abs() >= 1e-6 {
        (seconds * 1e6, "µs")
    } else {
        (seconds * 1e9, "ns")
    };
    format!("{} {unit}", three_significant(scaled))
}

fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = bytes;
    let mut unit_idx = 0;
    while scaled.abs() >= 1024.0 && unit_idx + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit_idx += 1;
    }
    format!("{} {}", three_significant(scaled), UNITS[unit_idx])
}

fn three_significant(value: f64) -> String {
    let decimals = match value.abs() {
        v if v >= 100.0 || v == 0.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_with_fitting_units() {
        assert_eq!(format(Metric::Wall, 1.234), "1.23 s");
        assert_eq!(format(Metric::Wall, 0.0456), "45.6 ms");
        assert_eq!(format(Metric::Cpu, 0.000_25), "250 µs");
        assert_eq!(format(Metric::P99, 12.5), "12.5 ms");
        assert_eq!(format(Metric::Rss, 3.0 * 1024.0 * 1024.0), "3.00 MiB");
        assert_eq!(format(Metric::Rss, 512.0), "512 B");
    }
}
