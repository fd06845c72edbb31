//! The merged report's `summary.md`: the machines table, then per scenario
//! the chart's file and the cases side by side, a column pair per machine.
//! Every string from a results file is escaped for Markdown.

use super::super::table;
use super::{
    KEY_HEADER, MACHINE_HEADER, Merged, RenderedChart, SideScenario, VerdictRow, cells, key_cells,
};
use crate::text::markdown as escape;
use std::fmt::Write;

pub(super) fn render(
    merged: &Merged,
    verdicts: &[VerdictRow],
    scenarios: &[SideScenario],
    charts: &[Option<RenderedChart>],
) -> String {
    let mut md = format!(
        "# parabench summary: {} machines\n\nThe same scenarios side by side; every number comes \
         from its own machine's results file, and each speedup is against that machine's own \
         sequential run.\n\n## Machines\n\n\
         | Machine | Host | CPU | Logical cores | Physical cores | Memory | Kernel | Results file |\n\
         |---|---|---|---:|---:|---:|---|---|\n",
        merged.machines.len()
    );
    for machine in &merged.machines {
        let m = &machine.report.machine;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            escape(&machine.label),
            escape(m.hostname.as_deref().unwrap_or("unknown")),
            escape(&m.cpu_brand),
            m.logical_cores,
            m.physical_cores.map_or("unknown".into(), |n| n.to_string()),
            table::bytes(m.memory_bytes),
            escape(&m.kernel),
            escape(&machine.source.display().to_string()),
        );
    }
    md.push_str("\n## Verdicts per machine\n\n| Claim | Scenario |");
    for machine in &merged.machines {
        let _ = write!(md, " {} |", escape(&machine.label));
    }
    let _ = writeln!(md, "\n|---|---|{}", "---|".repeat(merged.machines.len()));
    for row in verdicts {
        let _ = write!(
            md,
            "| {} | {} |",
            escape(&row.claim),
            row.scenario.as_deref().map_or("–".into(), escape)
        );
        for outcome in &row.outcomes {
            let _ = write!(md, " {} |", outcome.map_or("–", |o| o.label()));
        }
        md.push('\n');
    }
    for (scenario, chart) in scenarios.iter().zip(charts) {
        let _ = writeln!(
            md,
            "\n## {}\n\n{}\n",
            escape(&scenario.info.name),
            escape(&scenario.info.description)
        );
        if let Some(chart) = chart {
            let _ = writeln!(
                md,
                "Speedup per machine, one panel each: `{}.svg`, `{}.png`\n",
                chart.stem, chart.stem
            );
        }
        if scenario.rows.is_empty() {
            md.push_str("No cases: see each machine's own report.\n");
            continue;
        }
        let mut header: Vec<String> = KEY_HEADER.iter().map(|h| escape(h)).collect();
        for machine in &merged.machines {
            for heading in MACHINE_HEADER {
                header.push(format!("{}: {}", escape(&machine.label), escape(heading)));
            }
        }
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
        for row in &scenario.rows {
            let mut line: Vec<String> = key_cells(row).iter().map(|c| escape(c)).collect();
            for (machine, case) in merged.machines.iter().zip(&row.cells) {
                line.extend(cells(&machine.report, *case).iter().map(|c| escape(c)));
            }
            let _ = writeln!(md, "| {} |", line.join(" | "));
        }
    }
    md
}
