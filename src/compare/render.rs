//! Turns a `Comparison` into text: an aligned table for terminals, Markdown
//! for pull requests and `$GITHUB_STEP_SUMMARY`, JSON for other tools.
//! Pure: the caller prints or writes what these return. Text from the
//! results files is escaped here, for the terminal or for Markdown.

use super::CompareFormat;
use super::{ALPHA, Comparison, Entry, EntryOutcome, RunInfo, metric};
use crate::text::{markdown as escape_markdown, markdown_code, terminal_line};
use serde_json::{Value, json};

/// Renders the comparison in the asked format, ending with a newline.
pub fn render(comparison: &Comparison, format: CompareFormat) -> String {
    match format {
        CompareFormat::Table => table(comparison),
        CompareFormat::Markdown => markdown(comparison),
        CompareFormat::Json => {
            let mut text = serde_json::to_string_pretty(&to_json(comparison))
                .expect("a JSON value always serializes");
            text.push('\n');
            crate::text::json(text)
        }
    }
}

const HEADERS: [&str; 6] = ["case", "baseline", "current", "change", "p", "verdict"];

/// The six cells of one row, as plain text.
fn cells(comparison: &Comparison, entry: &Entry) -> [String; 6] {
    let metric = comparison.options.metric;
    let dash = || "-".to_owned();
    let (baseline, current, change, p) = match &entry.outcome {
        EntryOutcome::Compared(change) => (
            metric::format(metric, change.baseline_median),
            metric::format(metric, change.current_median),
            format_relative(change.relative),
            format!("{:.3}", change.p_value),
        ),
        _ => (dash(), dash(), dash(), dash()),
    };
    let verdict = match &entry.outcome {
        EntryOutcome::Failed {
            baseline_status,
            current_status,
        } => format!("failed (baseline: {baseline_status}; current: {current_status})"),
        other => other.label().to_owned(),
    };
    [entry.key.to_string(), baseline, current, change, p, verdict]
}

fn format_relative(relative: f64) -> String {
    if relative.is_finite() {
        format!("{:+.1}%", relative * 100.0)
    } else {
        "from 0".to_owned()
    }
}

fn heading(comparison: &Comparison) -> String {
    let metric = comparison.options.metric;
    format!(
        "{} ({}): a change counts above {}% when the Mann-Whitney U test gives p < {ALPHA}",
        metric::name(metric),
        metric::description(metric),
        comparison.options.threshold * 100.0
    )
}

fn run_label(run: &RunInfo) -> String {
    match &run.git_commit {
        Some(commit) => format!(
            "{} (commit {}, parabench {})",
            run.started_at,
            commit.get(..12).unwrap_or(commit),
            run.version
        ),
        None => format!("{} (parabench {})", run.started_at, run.version),
    }
}

fn summary(comparison: &Comparison) -> String {
    let t = comparison.tally();
    let mut parts = vec![
        format!("{} regressed", t.regressed),
        format!("{} improved", t.improved),
        format!("{} no change", t.no_change),
        format!("{} inconclusive", t.inconclusive),
    ];
    for (count, label) in [
        (t.no_samples, "no samples"),
        (t.failed, "failed"),
        (t.only_in_baseline, "only in baseline"),
        (t.only_in_current, "only in current"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {label}"));
        }
    }
    parts.join(", ")
}

fn table(comparison: &Comparison) -> String {
    let mut out = format!(
        "compare {}\nbaseline: {}\ncurrent:  {}\n",
        heading(comparison),
        terminal_line(&run_label(&comparison.baseline)),
        terminal_line(&run_label(&comparison.current))
    );
    for warning in &comparison.warnings {
        out.push_str(&format!("WARNING: {}\n", terminal_line(warning)));
    }
    out.push('\n');
    let rows: Vec<[String; 6]> = comparison
        .entries
        .iter()
        .map(|entry| cells(comparison, entry).map(|cell| terminal_line(&cell)))
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headers = HEADERS.map(str::to_owned);
    for row in std::iter::once(&headers).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(col, (cell, width))| {
                // Text columns align left, numbers right, as people read them.
                if col == 0 || col == 5 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!("\n{}\n", summary(comparison)));
    out
}

fn markdown(comparison: &Comparison) -> String {
    let mut out = format!(
        "## parabench compare\n\n{}\n\n- baseline: {}\n- current: {}\n\n",
        escape_markdown(&heading(comparison)),
        escape_markdown(&run_label(&comparison.baseline)),
        escape_markdown(&run_label(&comparison.current))
    );
    for warning in &comparison.warnings {
        out.push_str(&format!("> **Warning:** {}\n\n", escape_markdown(warning)));
    }
    out.push_str(&format!("**{}**\n\n", summary(comparison)));
    out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
    out.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
    for entry in &comparison.entries {
        let plain = cells(comparison, entry);
        let mut row = plain.clone().map(|cell| escape_markdown(&cell));
        row[0] = markdown_code(&plain[0]);
        if let EntryOutcome::Compared(change) = &entry.outcome
            && change.verdict == super::Judgement::Regressed
        {
            row[5] = format!("**{}**", row[5]);
        }
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

fn to_json(comparison: &Comparison) -> Value {
    let metric = comparison.options.metric;
    let t = comparison.tally();
    let run = |run: &RunInfo| {
        json!({
            "started_at": run.started_at,
            "git_commit": run.git_commit,
            "version": run.version,
        })
    };
    let cases: Vec<Value> = comparison
        .entries
        .iter()
        .map(|entry| {
            let key = &entry.key;
            let mut case = json!({
                "case": key.to_string(),
                "scenario": key.scenario,
                "workload": key.workload,
                "model": key.model,
                "workers": key.workers,
                "tasks": key.tasks,
                "verdict": entry.outcome.label(),
            });
            match &entry.outcome {
                EntryOutcome::Compared(change) => {
                    case["baseline_median"] = json!(change.baseline_median);
                    case["current_median"] = json!(change.current_median);
                    // JSON has no infinity: a change from 0 is null.
                    case["change_pct"] = if change.relative.is_finite() {
                        json!(change.relative * 100.0)
                    } else {
                        Value::Null
                    };
                    case["p_value"] = json!(change.p_value);
                    case["n_baseline"] = json!(change.n_baseline);
                    case["n_current"] = json!(change.n_current);
                }
                EntryOutcome::Failed {
                    baseline_status,
                    current_status,
                } => {
                    case["baseline_status"] = json!(baseline_status);
                    case["current_status"] = json!(current_status);
                }
                EntryOutcome::NoSamples
                | EntryOutcome::OnlyInBaseline
                | EntryOutcome::OnlyInCurrent => {}
            }
            case
        })
        .collect();
    json!({
        "metric": metric::name(metric),
        "unit": metric::unit(metric),
        "threshold_pct": comparison.options.threshold * 100.0,
        "alpha": ALPHA,
        "baseline": run(&comparison.baseline),
        "current": run(&comparison.current),
        "warnings": comparison.warnings,
        "regression": comparison.has_regression(),
        "summary": {
            "regressed": t.regressed,
            "improved": t.improved,
            "no_change": t.no_change,
            "inconclusive": t.inconclusive,
            "no_samples": t.no_samples,
            "failed": t.failed,
            "only_in_baseline": t.only_in_baseline,
            "only_in_current": t.only_in_current,
        },
        "cases": cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Metric;
    use crate::compare::{CompareOptions, compare};
    use crate::results::RunReport;
    use crate::text::hostile;

    /// The sample report with every name, status and run label holding
    /// `name`; `cpu` tells the two runs' machines apart, for a warning.
    fn hostile_run(name: &str, cpu: &str) -> RunReport {
        let mut report = crate::report::tests::sample();
        for case in &mut report.cases {
            case.scenario = format!("{name}-{}", case.scenario);
            case.model = format!("{name}-{}", case.model);
            if !case.is_ok() {
                case.status = crate::results::CaseStatus::parse(&format!("{name}-{}", case.status));
            }
        }
        report.harness.started_at = name.to_owned();
        report.harness.git_commit = Some(name.to_owned());
        report.harness.version = name.to_owned();
        report.machine.cpu_brand = format!("{name}{cpu}");
        report
    }

    #[test]
    fn hostile_names_stay_inert_in_every_format() {
        let options = CompareOptions::new(Metric::Wall, 10.0).unwrap();
        let plain = compare(&hostile_run("n", "a"), &hostile_run("n", "b"), &options);
        let plain_rows = render(&plain, CompareFormat::Table).lines().count();
        for name in hostile::names() {
            let comparison = compare(&hostile_run(&name, "a"), &hostile_run(&name, "b"), &options);
            assert!(!comparison.warnings.is_empty());
            let table = render(&comparison, CompareFormat::Table);
            hostile::assert_no_hazard(&table);
            assert_eq!(table.lines().count(), plain_rows, "{table}");
            hostile::assert_inert_markdown(&render(&comparison, CompareFormat::Markdown));
            let json = render(&comparison, CompareFormat::Json);
            hostile::assert_no_hazard(&json);
            let json: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(json["current"]["version"], name.as_str());
        }
    }
}
