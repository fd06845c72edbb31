//! `summary.md`: the verdicts and each scenario's numbers as GitHub-flavoured
//! Markdown, short enough for a CI job summary.

use super::verdicts::{Outcome, Verdict};
use super::{query, table};
use crate::results::RunReport;
use crate::text::markdown as escape;
use std::fmt::Write;

/// A header row's cells, escaped like any cell (`[95% CI]` is text).
fn header(cells: &[&str]) -> String {
    cells
        .iter()
        .map(|cell| escape(cell))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn mark(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Holds => "✅",
        Outcome::DoesNotHold => "❌",
        Outcome::Inconclusive => "❔",
        Outcome::NotTested => "➖",
    }
}

pub(super) fn render(report: &RunReport, verdicts: &[Verdict]) -> String {
    let m = &report.machine;
    let s = &report.settings;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# parabench summary\n\n{}, {} logical cores · {} · run started {} · {} repetitions, {} warm-up\n",
        escape(&m.cpu_brand),
        m.logical_cores,
        escape(&m.os),
        escape(&report.harness.started_at),
        s.repetitions,
        s.warmup
    );
    if report.interrupted {
        md.push_str("> **Interrupted**: some cases were never measured.\n\n");
    }
    let noise = super::noise::warnings(report);
    if !noise.is_empty() {
        md.push_str("> **Noisy machine**: read small differences with care.\n");
        for warning in &noise {
            let _ = writeln!(md, "> - {}", escape(&warning.text));
        }
        md.push('\n');
    }
    md.push_str("## Verdicts\n\n");
    for notice in super::verdicts::notices(report) {
        let _ = writeln!(md, "{}\n", escape(&notice));
    }
    md.push_str("| Claim | Scenario | Verdict | Evidence |\n|---|---|---|---|\n");
    for verdict in verdicts {
        let mut evidence: Vec<String> = verdict
            .checks
            .iter()
            .map(|check| format!("{} {}", mark(check.outcome), escape(&check.text)))
            .collect();
        evidence.extend(verdict.note.iter().map(|note| escape(note)));
        let _ = writeln!(
            md,
            "| {} | {} | {} {} | {} |",
            escape(&verdict.title()),
            verdict.scenario.as_deref().map_or("–".into(), escape),
            mark(verdict.outcome),
            verdict.outcome.label(),
            evidence.join("<br>")
        );
    }
    let fidelity = table::fidelity_rows(report);
    if !fidelity.is_empty() {
        md.push_str("\n## GIL emulation against real CPython\n\n");
        let _ = writeln!(md, "| {} |", header(&table::FIDELITY_HEADER));
        let _ = writeln!(md, "|{}", "---|".repeat(table::FIDELITY_HEADER.len()));
        for row in fidelity {
            let cells: Vec<String> = row.iter().map(|cell| escape(cell)).collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
    }
    md.push_str(&super::granularity::markdown(report));
    md.push_str(&super::floor::markdown(report));
    for scenario in &report.scenarios {
        let _ = writeln!(
            md,
            "\n## {}\n\n{}\n",
            escape(&scenario.name),
            escape(&scenario.description)
        );
        if let Some(note) = table::baseline_note(scenario) {
            let _ = writeln!(md, "{}\n", escape(note));
        }
        if scenario.workload == super::lifecycle::WORKLOAD {
            md.push_str(&super::lifecycle::markdown(report, scenario));
            continue;
        }
        if scenario.workload == super::granularity::WORKLOAD {
            md.push_str(&super::granularity::markdown_section(report, scenario));
            continue;
        }
        if scenario.workload == super::io_models::WORKLOAD {
            md.push_str(&super::io_models::markdown(report, scenario));
            continue;
        }
        let _ = writeln!(md, "| {} |", header(&table::HEADER));
        let _ = writeln!(md, "|{}", "---|".repeat(table::HEADER.len()));
        let cases = query::scenario_cases(report, &scenario.name);
        for row in table::rows(report, &cases) {
            let cells: Vec<String> = row.cells.iter().map(|cell| escape(cell)).collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        let memory = table::memory_rows(report, scenario);
        if !memory.is_empty() {
            md.push_str("\nMemory per unit (the slope across the sweep of workers):\n\n");
            let _ = writeln!(md, "| {} |", header(&table::MEMORY_HEADER));
            let _ = writeln!(md, "|{}", "---|".repeat(table::MEMORY_HEADER.len()));
            for row in memory {
                let cells: Vec<String> = row.iter().map(|cell| escape(cell)).collect();
                let _ = writeln!(md, "| {} |", cells.join(" | "));
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;
    use crate::report::verdicts::verdicts;

    #[test]
    fn fidelity_pairs_get_a_table() {
        let report = crate::report::tests::with_fidelity("gil-cpu");
        let md = render(&report, &verdicts(&report));
        assert!(md.contains("## GIL emulation against real CPython"));
        assert!(md.contains("| gil-cpu | 2 workers, 8 tasks"), "{md}");
        assert!(!render(&sample(), &[]).contains("against real CPython"));
    }

    #[test]
    fn one_table_row_per_case_and_per_verdict() {
        let report = sample();
        let verdicts = verdicts(&report);
        let md = render(&report, &verdicts);
        let table_rows = md
            .lines()
            .filter(|line| {
                line.starts_with("| ")
                    && !line.starts_with("| Claim")
                    && !line.starts_with("| Model")
            })
            .count();
        let memory_rows: usize = report
            .scenarios
            .iter()
            .map(|s| table::memory_rows(&report, s).len())
            .sum();
        assert_eq!(
            table_rows,
            report.cases.len() + verdicts.len() + memory_rows
        );
        let separators = md.lines().filter(|line| line.starts_with("|---")).count();
        assert_eq!(separators, 1 + 2 * report.scenarios.len());
        for verdict in &verdicts {
            assert!(md.contains(&format!("| {} |", escape(&verdict.title()))));
        }
        assert!(md.contains(verdicts[0].outcome.label()));
        assert!(md.contains("spawn failed"));
    }

    #[test]
    fn hostile_names_stay_inert() {
        for name in crate::text::hostile::names() {
            let mut report = crate::report::tests::with_fidelity(&name);
            let rename = |old: &str| format!("{name}-{old}");
            for case in &mut report.cases {
                case.scenario = rename(&case.scenario);
                case.status = crate::results::CaseStatus::parse(&rename(&case.status.to_string()));
            }
            for scenario in &mut report.scenarios {
                scenario.name = rename(&scenario.name);
                scenario.description = name.clone();
            }
            report.machine.cpu_brand = name.clone();
            report.machine.os = name.clone();
            report.harness.started_at = name.clone();
            let md = render(&report, &verdicts(&report));
            crate::text::hostile::assert_inert_markdown(&md);
        }
    }
}
