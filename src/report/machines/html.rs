//! The merged report's `index.html`: the machines table (cores, CPU,
//! memory, kernel, each linking to that machine's own report), then per
//! scenario the per-machine speedup panels and the cases side by side.
//! Same page rules as the single-machine page: inline CSS and SVG, no
//! script, no network, every string from a results file escaped.

use super::super::html::{STYLE, escape};
use super::super::palette::hex;
use super::super::palette::model_colour;
use super::super::table;
use super::{
    KEY_HEADER, MACHINE_HEADER, Merged, RenderedChart, SideScenario, VerdictRow, cells, key_cells,
};
use std::fmt::Write;

pub(super) fn render(
    merged: &Merged,
    verdicts: &[VerdictRow],
    scenarios: &[SideScenario],
    charts: &[Option<RenderedChart>],
    slugs: &[String],
) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>parabench report: {n} machines</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>parabench report: {n} machines</h1>\n\
         <p class=\"meta\">The same scenarios side by side, one column pair and one chart panel per machine. \
         Every number comes from its own machine's results file: no line, cell or speedup mixes machines, \
         and each speedup is against that machine's own sequential run.</p>\n<nav><a href=\"#machines\">Machines</a><a href=\"#verdicts\">Verdicts</a>",
        n = merged.machines.len()
    );
    for (scenario, slug) in scenarios.iter().zip(slugs) {
        let _ = write!(
            page,
            "<a href=\"#scenario-{}\">{}</a>",
            escape(slug),
            escape(&scenario.info.name)
        );
    }
    page.push_str("</nav>\n</header>\n<main>\n");
    render_machines(&mut page, merged);
    render_verdicts(&mut page, merged, verdicts);
    for ((scenario, chart), slug) in scenarios.iter().zip(charts).zip(slugs) {
        render_scenario(&mut page, merged, scenario, chart.as_ref(), slug);
    }
    page.push_str(
        "</main>\n<footer>\n<p class=\"meta\">Regenerate this page with \
         <code>parabench report A.json B.json ...</code>; each machine's directory holds its \
         own full report and results.json.</p>\n</footer>\n</body>\n</html>\n",
    );
    page
}

fn render_machines(page: &mut String, merged: &Merged) {
    page.push_str(
        "<section id=\"machines\">\n<h2>Machines</h2>\n<div class=\"table-wrap\"><table>\n<thead><tr>",
    );
    for heading in MACHINES_HEADER {
        let _ = write!(page, "<th>{heading}</th>");
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for machine in &merged.machines {
        let m = &machine.report.machine;
        let h = &machine.report.harness;
        let text = [
            machine.label.clone(),
            m.hostname.clone().unwrap_or_else(|| "unknown".into()),
            m.cpu_brand.clone(),
        ];
        page.push_str("<tr>");
        for cell in text {
            let _ = write!(page, "<td>{}</td>", escape(&cell));
        }
        for cell in [
            m.logical_cores.to_string(),
            m.physical_cores.map_or("unknown".into(), |n| n.to_string()),
            table::bytes(m.memory_bytes),
        ] {
            let _ = write!(page, "<td class=\"num\">{}</td>", escape(&cell));
        }
        let started = if machine.report.interrupted {
            format!("{} (interrupted)", h.started_at)
        } else {
            h.started_at.clone()
        };
        for cell in [
            m.os.clone(),
            m.kernel.clone(),
            started,
            h.version.clone(),
            machine.source.display().to_string(),
        ] {
            let _ = write!(page, "<td>{}</td>", escape(&cell));
        }
        let _ = writeln!(
            page,
            "<td><a href=\"{slug}/index.html\">report</a> · <a href=\"{slug}/results.json\">results.json</a></td></tr>",
            slug = escape(&machine.slug)
        );
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}

/// Each claim on each machine, judged from that machine's results alone.
fn render_verdicts(page: &mut String, merged: &Merged, verdicts: &[VerdictRow]) {
    page.push_str(
        "<section id=\"verdicts\">\n<h2>Verdicts per machine</h2>\n\
         <p class=\"meta\">Each machine's verdicts come from its own results; its report has the evidence.</p>\n\
         <div class=\"table-wrap\"><table>\n<thead><tr><th>Claim</th><th>Scenario</th>",
    );
    for machine in &merged.machines {
        let _ = write!(page, "<th>{}</th>", escape(&machine.label));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in verdicts {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td>",
            escape(&row.claim),
            escape(row.scenario.as_deref().unwrap_or("–"))
        );
        for outcome in &row.outcomes {
            let _ = write!(page, "<td>{}</td>", outcome.map_or("–", |o| o.label()));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}

const MACHINES_HEADER: [&str; 12] = [
    "Machine",
    "Host",
    "CPU",
    "Logical cores",
    "Physical cores",
    "Memory",
    "OS",
    "Kernel",
    "Run started",
    "parabench",
    "Results file",
    "Full report",
];

fn render_scenario(
    page: &mut String,
    merged: &Merged,
    scenario: &SideScenario,
    chart: Option<&RenderedChart>,
    slug: &str,
) {
    let info = scenario.info;
    let ran: Vec<&str> = merged
        .machines
        .iter()
        .zip(&scenario.ran)
        .filter(|(_, ran)| **ran)
        .map(|(m, _)| m.label.as_str())
        .collect();
    let _ = write!(
        page,
        "<section class=\"scenario\" id=\"scenario-{}\">\n<h2>{}</h2>\n<p>{}</p>\n\
         <p class=\"meta\">Workload {} · ran on {} of {} machines: {}</p>\n",
        escape(slug),
        escape(&info.name),
        escape(&info.description),
        escape(&info.workload),
        ran.len(),
        merged.machines.len(),
        escape(&ran.join("; ")),
    );
    if let Some(chart) = chart {
        let _ = writeln!(page, "{}", chart.figure());
    }
    if scenario.rows.is_empty() {
        page.push_str(
            "<p class=\"meta\">No cases: see each machine's own report.</p>\n</section>\n",
        );
        return;
    }
    page.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    let _ = write!(page, "<th colspan=\"{}\"></th>", KEY_HEADER.len());
    for machine in &merged.machines {
        let _ = write!(
            page,
            "<th colspan=\"{}\">{}</th>",
            MACHINE_HEADER.len(),
            escape(&machine.label)
        );
    }
    page.push_str("</tr>\n<tr>");
    for heading in KEY_HEADER {
        let _ = write!(page, "<th>{heading}</th>");
    }
    for _ in &merged.machines {
        for heading in MACHINE_HEADER {
            let _ = write!(page, "<th>{}</th>", escape(heading));
        }
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in &scenario.rows {
        let key = key_cells(row);
        let _ = write!(
            page,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>",
            hex(model_colour(&row.key.model)),
            escape(&key[0]),
            escape(&key[1]),
            escape(&key[2]),
            escape(&key[3]),
        );
        for (machine, case) in merged.machines.iter().zip(&row.cells) {
            for cell in cells(&machine.report, *case) {
                let _ = write!(page, "<td class=\"num\">{}</td>", escape(&cell));
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}
