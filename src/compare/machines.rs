//! `parabench compare` on runs from different hardware: not a regression
//! test but two machines side by side. Each scenario's cases are lined up
//! (by `CaseKey`), each side showing its own machine's median of the metric
//! and the ratio current / baseline, with no verdict: a difference there is
//! the machines', not the code's. Pure: the caller prints what `render`
//! returns, in the format asked for.

use super::{CaseKey, CompareFormat, metric};
use crate::results::{CaseResult, RunReport};
use crate::stats::median;
use crate::text::{markdown as escape_markdown, markdown_code, terminal_line};
use serde_json::{Value, json};

/// One side's value of a case: its median, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Side {
    Median(f64),
    /// Failed, skipped or interrupted: its status.
    NotMeasured(String),
    NoSamples,
    NotRun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SideEntry {
    pub key: CaseKey,
    pub baseline: Side,
    pub current: Side,
}

impl SideEntry {
    /// current / baseline, where both have a median and the baseline's is not 0.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.baseline, &self.current) {
            (Side::Median(b), Side::Median(c)) if *b != 0.0 => Some(c / b),
            _ => None,
        }
    }
}

/// Two machines side by side, scenario by scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct SideBySide {
    pub metric: metric::Metric,
    /// `Machine::label` of each side.
    pub baseline_machine: String,
    pub current_machine: String,
    /// Each scenario, in the current run's order, then the baseline's.
    pub scenarios: Vec<(String, Vec<SideEntry>)>,
    /// The comparison's warnings (the machine difference first).
    pub warnings: Vec<String>,
}

/// The first case of `report` with `key` (as `compare` keeps the first).
fn find<'a>(report: &'a RunReport, key: &CaseKey) -> Option<&'a CaseResult> {
    report.cases.iter().find(|c| CaseKey::of(c) == *key)
}

fn side(case: Option<&CaseResult>, metric: metric::Metric) -> Side {
    match case {
        None => Side::NotRun,
        Some(case) if !case.is_ok() => Side::NotMeasured(case.status.to_string()),
        Some(case) => median(&metric::samples(case, metric)).map_or(Side::NoSamples, Side::Median),
    }
}

/// Lines up every case of either run, grouped by scenario.
pub fn side_by_side(
    baseline: &RunReport,
    current: &RunReport,
    metric: metric::Metric,
    warnings: &[String],
) -> SideBySide {
    let mut keys: Vec<CaseKey> = Vec::new();
    for case in current.cases.iter().chain(&baseline.cases) {
        let key = CaseKey::of(case);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut scenarios: Vec<(String, Vec<SideEntry>)> = Vec::new();
    for key in keys {
        let entry = SideEntry {
            baseline: side(find(baseline, &key), metric),
            current: side(find(current, &key), metric),
            key,
        };
        match scenarios
            .iter_mut()
            .find(|(name, _)| *name == entry.key.scenario)
        {
            Some((_, entries)) => entries.push(entry),
            None => scenarios.push((entry.key.scenario.clone(), vec![entry])),
        }
    }
    SideBySide {
        metric,
        baseline_machine: baseline.machine.label(),
        current_machine: current.machine.label(),
        scenarios,
        warnings: warnings.to_vec(),
    }
}

/// Renders the comparison in the asked format, ending with a newline.
pub fn render(sides: &SideBySide, format: CompareFormat) -> String {
    match format {
        CompareFormat::Table => table(sides),
        CompareFormat::Markdown => markdown(sides),
        CompareFormat::Json => {
            let mut text = serde_json::to_string_pretty(&to_json(sides))
                .expect("a JSON value always serializes");
            text.push('\n');
            crate::text::json(text)
        }
    }
}

/// The case without its scenario, which heads its group.
fn case_label(key: &CaseKey) -> String {
    let full = key.to_string();
    full.strip_prefix(&format!("{}/", key.scenario))
        .map_or(full.clone(), str::to_owned)
}

fn cell(side: &Side, metric: metric::Metric) -> String {
    match side {
        Side::Median(value) => metric::format(metric, *value),
        Side::NotMeasured(status) => status.clone(),
        Side::NoSamples => "no samples".into(),
        Side::NotRun => "not run".into(),
    }
}

fn ratio_cell(entry: &SideEntry) -> String {
    entry
        .ratio()
        .map_or_else(|| "-".into(), |r| format!("{r:.2}×"))
}

fn intro(sides: &SideBySide) -> String {
    format!(
        "DIFFERENT MACHINES, side by side: baseline ran on {}, current on {}. \
         Each side is its own machine's median {} ({}); the ratio is current / baseline. \
         No verdicts: a difference between machines is not a regression \
         (pass --allow-machine-mismatch to judge anyway)",
        sides.baseline_machine,
        sides.current_machine,
        metric::name(sides.metric),
        metric::description(sides.metric)
    )
}

fn table(sides: &SideBySide) -> String {
    let mut out = format!("compare {}\n", terminal_line(&intro(sides)));
    for warning in &sides.warnings {
        out.push_str(&format!("WARNING: {}\n", terminal_line(warning)));
    }
    let headers = [
        "case".to_owned(),
        "baseline".into(),
        "current".into(),
        "current / baseline".into(),
    ];
    for (scenario, entries) in &sides.scenarios {
        out.push_str(&format!("\n{}\n", terminal_line(scenario)));
        let rows: Vec<[String; 4]> = entries
            .iter()
            .map(|e| {
                [
                    case_label(&e.key),
                    cell(&e.baseline, sides.metric),
                    cell(&e.current, sides.metric),
                    ratio_cell(e),
                ]
                .map(|c| terminal_line(&c))
            })
            .collect();
        let mut widths = headers.clone().map(|h| h.chars().count());
        for row in &rows {
            for (width, c) in widths.iter_mut().zip(row) {
                *width = (*width).max(c.chars().count());
            }
        }
        for row in std::iter::once(&headers).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(col, (c, width))| {
                    if col == 0 {
                        format!("  {c:<width$}")
                    } else {
                        format!("{c:>width$}")
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}

fn markdown(sides: &SideBySide) -> String {
    let mut out = format!(
        "## parabench compare: two machines\n\n{}\n\n- baseline: {}\n- current: {}\n\n",
        escape_markdown(&intro(sides)),
        escape_markdown(&sides.baseline_machine),
        escape_markdown(&sides.current_machine)
    );
    for warning in &sides.warnings {
        out.push_str(&format!("> **Warning:** {}\n\n", escape_markdown(warning)));
    }
    for (scenario, entries) in &sides.scenarios {
        out.push_str(&format!(
            "### {}\n\n| case | baseline | current | current / baseline |\n| --- | ---: | ---: | ---: |\n",
            escape_markdown(scenario)
        ));
        for e in entries {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                markdown_code(&case_label(&e.key)),
                escape_markdown(&cell(&e.baseline, sides.metric)),
                escape_markdown(&cell(&e.current, sides.metric)),
                ratio_cell(e)
            ));
        }
        out.push('\n');
    }
    out
}

fn to_json(sides: &SideBySide) -> Value {
    let value = |side: &Side| match side {
        Side::Median(v) => json!(v),
        _ => Value::Null,
    };
    let scenarios: Vec<Value> = sides
        .scenarios
        .iter()
        .map(|(scenario, entries)| {
            let cases: Vec<Value> = entries
                .iter()
                .map(|e| {
                    json!({
                        "case": e.key.to_string(),
                        "model": e.key.model,
                        "workers": e.key.workers,
                        "tasks": e.key.tasks,
                        "baseline": value(&e.baseline),
                        "current": value(&e.current),
                        "baseline_note": cell(&e.baseline, sides.metric),
                        "current_note": cell(&e.current, sides.metric),
                        "ratio": e.ratio(),
                    })
                })
                .collect();
            json!({ "scenario": scenario, "cases": cases })
        })
        .collect();
    json!({
        "different_machines": true,
        "judged": false,
        "metric": metric::name(sides.metric),
        "unit": metric::unit(sides.metric),
        "baseline_machine": sides.baseline_machine,
        "current_machine": sides.current_machine,
        "warnings": sides.warnings,
        "scenarios": scenarios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{CompareOptions, Metric, compare};
    use crate::text::hostile;

    fn fixture(text: &str) -> RunReport {
        crate::load::parse_report(text, std::path::Path::new("fixture")).unwrap()
    }

    fn two() -> (RunReport, RunReport) {
        let base = fixture(include_str!("../../tests/fixtures/compare/base.json"));
        let other = fixture(include_str!(
            "../../tests/fixtures/compare/other_machine.json"
        ));
        (base, other)
    }

    #[test]
    fn every_case_is_shown_per_scenario_with_its_own_machines_value() {
        let (base, other) = two();
        let options = CompareOptions::new(Metric::Wall, 10.0).unwrap();
        let comparison = compare(&base, &other, &options);
        assert!(comparison.different_machines);
        let sides = side_by_side(&base, &other, Metric::Wall, &comparison.warnings);
        let n: usize = sides.scenarios.iter().map(|(_, e)| e.len()).sum();
        assert_eq!(n, comparison.entries.len());
        for (scenario, entries) in &sides.scenarios {
            for e in entries {
                assert_eq!(&e.key.scenario, scenario);
                let own = |report: &RunReport| {
                    let case = report
                        .cases
                        .iter()
                        .find(|c| CaseKey::of(c) == e.key)
                        .unwrap();
                    side(Some(case), Metric::Wall)
                };
                assert_eq!(e.baseline, own(&base));
                assert_eq!(e.current, own(&other));
            }
        }
        let table = render(&sides, CompareFormat::Table);
        assert!(
            table.contains("DIFFERENT MACHINES") && table.contains("No verdicts"),
            "{table}"
        );
        assert!(
            !table.contains("regressed") && !table.contains("improved"),
            "{table}"
        );
        let json: Value = serde_json::from_str(&render(&sides, CompareFormat::Json)).unwrap();
        assert_eq!(json["judged"], false);
        assert!(render(&sides, CompareFormat::Markdown).contains("| case | baseline | current |"));
    }

    #[test]
    fn hostile_names_stay_inert() {
        let (mut base, other) = two();
        for name in hostile::names() {
            base.machine.cpu_brand = name.clone();
            for case in &mut base.cases {
                case.scenario = name.clone();
            }
            let sides = side_by_side(&base, &other, Metric::Wall, std::slice::from_ref(&name));
            hostile::assert_no_hazard(&render(&sides, CompareFormat::Table));
            hostile::assert_no_hazard(&render(&sides, CompareFormat::Json));
            hostile::assert_inert_markdown(&render(&sides, CompareFormat::Markdown));
        }
    }
}
