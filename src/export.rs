//! Converts a results file for other tools: Bencher Metric Format (BMF),
//! github-action-benchmark's `customSmallerIsBetter` JSON, CSV with one row
//! per repetition, and a Markdown table. Pure: `export` returns the text and
//! the caller writes it. Case names are `compare::CaseKey`'s, so they match.
//! Names from the results file are escaped for Markdown and neutralised for
//! CSV by `text`; JSON needs nothing beyond serde's own escaping.

use crate::compare::{CaseKey, Metric, metric};
use crate::results::{CaseResult, Estimate, RunReport};
use crate::stats::median;
use crate::text::{self, markdown_code};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const NS_PER_S: f64 = 1e9;
const MS_PER_S: f64 = 1e3;

/// The formats `export` writes (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Bmf,
    GithubActionBenchmark,
    Csv,
    Markdown,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 4] = [
        ExportFormat::Bmf,
        ExportFormat::GithubActionBenchmark,
        ExportFormat::Csv,
        ExportFormat::Markdown,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ExportFormat::Bmf => "bmf",
            ExportFormat::GithubActionBenchmark => "github-action-benchmark",
            ExportFormat::Csv => "csv",
            ExportFormat::Markdown => "markdown",
        }
    }
}

/// The whole file in the asked format, ending with a newline.
pub fn export(report: &RunReport, format: ExportFormat) -> String {
    match format {
        ExportFormat::Bmf => pretty_json(&bmf(report)),
        ExportFormat::GithubActionBenchmark => pretty_json(&github_action_benchmark(report)),
        ExportFormat::Csv => csv(report),
        ExportFormat::Markdown => markdown(report),
    }
}

fn pretty_json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    text.push('\n');
    text::json(text)
}

/// The wall-time estimate of a measured case: the recorded one, or the
/// median of the samples (without bounds) when the runner recorded none.
fn wall_estimate(case: &CaseResult) -> Option<(f64, Option<(f64, f64)>)> {
    if !case.is_ok() {
        return None;
    }
    match case.wall_s {
        Some(Estimate { median, low, high }) => Some((median, Some((low, high)))),
        None => median(&case.samples_wall_s).map(|m| (m, None)),
    }
}

/// Bencher's built-in measures: `latency` in nanoseconds (one batch) and
/// `throughput` in operations per second (tasks per second). Failed cases
/// have no values and are left out.
fn bmf(report: &RunReport) -> Value {
    let mut benchmarks = Map::new();
    for case in &report.cases {
        let Some((median_s, bounds)) = wall_estimate(case) else {
            continue;
        };
        let tasks = case.tasks as f64;
        let mut latency = json!({ "value": median_s * NS_PER_S });
        let mut throughput = json!({ "value": tasks / median_s });
        if let Some((low, high)) = bounds {
            latency["lower_value"] = json!(low * NS_PER_S);
            latency["upper_value"] = json!(high * NS_PER_S);
            // The slowest batch gives the lowest throughput.
            throughput["lower_value"] = json!(tasks / high);
            throughput["upper_value"] = json!(tasks / low);
        }
        benchmarks.insert(
            CaseKey::of(case).to_string(),
            json!({ "latency": latency, "throughput": throughput }),
        );
    }
    Value::Object(benchmarks)
}

/// `[{"name", "unit", "value", "range", "extra"}]`, wall time in ms.
fn github_action_benchmark(report: &RunReport) -> Value {
    let entries: Vec<Value> = report
        .cases
        .iter()
        .filter_map(|case| {
            let (median_s, bounds) = wall_estimate(case)?;
            let mut entry = json!({
                "name": CaseKey::of(case).to_string(),
                "unit": "ms",
                "value": median_s * MS_PER_S,
                "extra": format!(
                    "median of {} repetitions; model {}, workers={}, tasks={}",
                    case.samples_wall_s.len(),
                    case.model,
                    case.workers,
                    case.tasks
                ),
            });
            if let Some((low, high)) = bounds {
                // The action shows range as text; half the 95% CI reads as "± x".
                entry["range"] = json!(format!("± {:.3}", (high - low) / 2.0 * MS_PER_S));
            }
            Some(entry)
        })
        .collect();
    Value::Array(entries)
}

/// Columns describing the case, repeated on each of its rows.
const CASE_COLUMNS: [&str; 17] = [
    "run_started_at",
    "case",
    "scenario",
    "workload",
    "kernel",
    "model",
    "workers",
    "tasks",
    "task_ms",
    "status",
    "wall_median_s",
    "wall_low_s",
    "wall_high_s",
    "startup_median_s",
    "speedup",
    "ideal_speedup",
    "efficiency",
];

/// Columns of one repetition; empty on the single row of a case without any.
const REPETITION_COLUMNS: [&str; 10] = [
    "repetition",
    "wall_s",
    "startup_s",
    "cpu_user_s",
    "cpu_sys_s",
    "harness_peak_rss_bytes",
    "children_peak_rss_bytes",
    "ctx_voluntary",
    "ctx_involuntary",
    "latency_p99_ms",
];

/// One row per repetition of every case (one row for a case without
/// repetitions, such as a failed one), with a header. Workload parameters
/// get one `param_<name>` column each, the union over all cases.
fn csv(report: &RunReport) -> String {
    let param_names: BTreeSet<&str> = report
        .cases
        .iter()
        .flat_map(|case| case.params.keys().map(String::as_str))
        .collect();
    let mut out = String::new();
    let header: Vec<String> = CASE_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(param_names.iter().map(|name| format!("param_{name}")))
        .chain(REPETITION_COLUMNS.iter().map(|c| (*c).to_owned()))
        .collect();
    let header: Vec<String> = header.iter().map(|cell| text::csv_text(cell)).collect();
    push_csv_row(&mut out, &header);
    // Text cells go through `text::csv_text` (no formulas, no control
    // characters); numbers are written as numbers, negative ones included.
    for case in &report.cases {
        let estimate = |e: Option<Estimate>, pick: fn(Estimate) -> f64| opt(e.map(pick));
        let mut case_cells = vec![
            text::csv_text(&report.harness.started_at),
            text::csv_text(&CaseKey::of(case).to_string()),
            text::csv_text(&case.scenario),
            text::csv_text(&case.workload),
            text::csv_text(case.kernel.as_deref().unwrap_or_default()),
            text::csv_text(&case.model),
            case.workers.to_string(),
            case.tasks.to_string(),
            opt(case.task_ms),
            text::csv_text(&case.status.to_string()),
            estimate(case.wall_s, |e| e.median),
            estimate(case.wall_s, |e| e.low),
            estimate(case.wall_s, |e| e.high),
            estimate(case.startup_s, |e| e.median),
            opt(case.speedup),
            opt(case.ideal_speedup),
            opt(case.efficiency),
        ];
        case_cells.extend(
            param_names
                .iter()
                .map(|name| opt(case.params.get(*name).copied())),
        );
        if case.repetitions.is_empty() {
            let mut row = case_cells.clone();
            row.resize(header.len(), String::new());
            push_csv_row(&mut out, &row);
        }
        for (rep_idx, rep) in case.repetitions.iter().enumerate() {
            let mut row = case_cells.clone();
            row.extend([
                (rep_idx + 1).to_string(),
                rep.wall_s.to_string(),
                opt(rep.startup_s),
                rep.cpu_user_s.to_string(),
                rep.cpu_sys_s.to_string(),
                rep.harness_peak_rss_bytes.to_string(),
                rep.children_peak_rss_bytes.to_string(),
                rep.ctx_voluntary.to_string(),
                rep.ctx_involuntary.to_string(),
                rep.latency_p99_ms.to_string(),
            ]);
            push_csv_row(&mut out, &row);
        }
    }
    out
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn push_csv_row(out: &mut String, cells: &[String]) {
    let quoted: Vec<String> = cells.iter().map(|cell| csv_field(cell)).collect();
    out.push_str(&quoted.join(","));
    out.push('\n');
}

/// RFC 4180 quoting: a field holding a comma, a quote or a line break is
/// wrapped in quotes, with its quotes doubled. Leading or trailing spaces
/// are quoted too, since some readers trim them otherwise, and so is a `;`,
/// the separator of spreadsheets in many locales.
fn csv_field(cell: &str) -> String {
    let needs_quotes =
        cell.contains([',', '"', '\n', '\r', ';']) || cell.starts_with(' ') || cell.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

fn markdown(report: &RunReport) -> String {
    let machine = &report.machine;
    let mut out = format!(
        "## parabench results\n\nStarted {} on {} ({} logical cores), {} repetitions per case.\n\n",
        text::markdown(&report.harness.started_at),
        text::markdown(&machine.cpu_brand),
        machine.logical_cores,
        report.settings.repetitions
    );
    out.push_str(
        "| case | status | wall (median) | 95% CI | speedup | efficiency | CPU | peak RSS | p99 latency |\n",
    );
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let dash = || "-".to_owned();
    for case in &report.cases {
        let value = |metric: Metric| {
            median(&metric::samples(case, metric)).map_or_else(dash, |v| metric::format(metric, v))
        };
        let (wall, ci) = match wall_estimate(case) {
            Some((m, Some((low, high)))) => (
                metric::format(Metric::Wall, m),
                format!(
                    "{} – {}",
                    metric::format(Metric::Wall, low),
                    metric::format(Metric::Wall, high)
                ),
            ),
            Some((m, None)) => (metric::format(Metric::Wall, m), dash()),
            None => (dash(), dash()),
        };
        let cells = [
            markdown_code(&CaseKey::of(case).to_string()),
            text::markdown(&case.status.to_string()),
            wall,
            ci,
            case.speedup.map_or_else(dash, |s| format!("{s:.2}×")),
            case.efficiency
                .map_or_else(dash, |e| format!("{:.0}%", e * 100.0)),
            value(Metric::Cpu),
            value(Metric::Rss),
            value(Metric::P99),
        ];
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        assert_eq!(csv_field(""), "");
    }

    /// The sample report with every name and status holding `name`, and a
    /// negative number where a spreadsheet could mistake it for a formula.
    fn hostile_report(name: &str) -> RunReport {
        let mut report = crate::report::tests::sample();
        // A failed case and some measured ones are enough, and keep this fast.
        report.cases.sort_by_key(|case| case.is_ok());
        report.cases.truncate(8);
        for case in &mut report.cases {
            case.scenario = name.to_owned();
            case.model = format!("{name}-{}", case.model);
            case.kernel = Some(name.to_owned());
            case.status = crate::results::CaseStatus::Failed(name.to_owned());
            case.params.insert(name.to_owned(), -1.5);
        }
        report.harness.started_at = name.to_owned();
        report.machine.cpu_brand = name.to_owned();
        report
    }

    #[test]
    fn hostile_names_stay_inert_in_markdown_and_json() {
        for name in crate::text::hostile::names() {
            let report = hostile_report(&name);
            crate::text::hostile::assert_inert_markdown(&export(&report, ExportFormat::Markdown));
            for format in [ExportFormat::Bmf, ExportFormat::GithubActionBenchmark] {
                let json = export(&report, format);
                crate::text::hostile::assert_no_hazard(&json);
                let _: serde_json::Value = serde_json::from_str(&json).unwrap();
            }
        }
    }

    #[test]
    fn csv_has_no_formula_and_keeps_numbers_numeric() {
        for name in crate::text::hostile::names() {
            let out = export(&hostile_report(&name), ExportFormat::Csv);
            // Record ends are the only line feeds: every control in a cell is escaped.
            crate::text::hostile::assert_no_hazard(&out);
            let rows: Vec<Vec<&str>> = out.lines().map(|line| split_csv_line(line)).collect();
            let width = rows[0].len();
            let param_col = rows[0]
                .iter()
                .position(|h| *h == crate::text::csv_text(&format!("param_{name}")))
                .unwrap();
            let text_columns = [
                "run_started_at",
                "case",
                "scenario",
                "workload",
                "kernel",
                "model",
                "status",
            ];
            for row in &rows[1..] {
                assert_eq!(row.len(), width, "{name:?}: {row:?}");
                for (cell, column) in row.iter().zip(&rows[0]) {
                    if text_columns.contains(column) {
                        assert!(
                            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                            "{name:?}: formula in {column}: {cell:?}"
                        );
                    } else {
                        assert!(
                            cell.is_empty() || cell.parse::<f64>().is_ok(),
                            "{column}: {cell:?}"
                        );
                    }
                }
            }
            assert!(
                rows[1..].iter().all(|row| row[param_col] == "-1.5"),
                "{name:?}"
            );
        }
    }

    /// The cells of one CSV record, quotes removed (no quoted line breaks,
    /// which the check above already rules out).
    fn split_csv_line(line: &str) -> Vec<&str> {
        let mut cells = Vec::new();
        let (mut start, mut quoted) = (0, false);
        for (idx, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    cells.push(line[start..idx].trim_matches('"'));
                    start = idx + 1;
                }
                _ => {}
            }
        }
        cells.push(line[start..].trim_matches('"'));
        cells
    }
}
