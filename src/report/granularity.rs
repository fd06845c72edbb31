//! The METG of each model (`granularity` scenarios): the front page's table,
//! one row per model with its CPU-bound and sleep METG, and each scenario's
//! section, every search with its bracket, noise interval and what it
//! tried, beside Task Bench's efficiency chart. Pure renderers.

use super::table;
use crate::results::{GranularitySweep, RunReport, ScenarioInfo};
use crate::text::markdown as md_escape;
use std::fmt::Write;

pub const WORKLOAD: &str = "granularity";

/// The front table's header: the model and one column per task kind.
const FRONT_HEADER: [&str; 3] = ["Model", "METG, CPU-bound tasks", "METG, sleep tasks"];

/// One search's answer in a cell: `42 µs [38 µs, 47 µs]`, a bound, or why
/// there is none.
pub fn cell(g: &GranularitySweep) -> String {
    let m = &g.metg;
    let answer = match (m.metg_ms, m.bracket_ms, m.bound_ms) {
        (Some(metg), Some((lo, hi)), _) => format!(
            "{} [{}, {}]",
            table::millis(metg),
            table::millis(lo),
            table::millis(hi)
        ),
        (_, _, Some(b)) if m.outcome == "below-range" => {
            format!("< {} (efficient at the shortest tried)", table::millis(b))
        }
        (_, _, Some(b)) if m.outcome == "never-efficient" => format!(
            "> {} (below {} already there)",
            table::millis(b),
            g.threshold
        ),
        (_, _, Some(b)) if m.outcome == "at-threshold" => at_threshold(g, b),
        _ => "–".into(),
    };
    match (&g.status, m.outcome.as_str()) {
        (crate::results::CaseStatus::Ok, "unfinished") => format!("{answer} (out of time)"),
        (crate::results::CaseStatus::Ok, _) => answer,
        (status, _) => format!("{answer} ({status})"),
    }
}

/// A model that never clearly exceeds the threshold: its best efficiency
/// and the spread of its rounds there, instead of a duration.
fn at_threshold(g: &GranularitySweep, best_ms: f64) -> String {
    let pct = |e: f64| format!("{:.0}%", e * 100.0);
    let best = g.points.iter().find(|p| p.task_ms == best_ms);
    let spread = best.map_or_else(String::new, |p| {
        let lo = p.efficiency.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = p
            .efficiency
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        format!("{} [{}, {}] ", pct(p.median_efficiency), pct(lo), pct(hi))
    });
    format!(
        "none: at best {spread}at {}, never clearly above {} here",
        table::millis(best_ms),
        pct(g.threshold)
    )
}

/// One row per (scenario, model) with its CPU and sleep cells; the model
/// is prefixed by its scenario when the run has more than one.
pub fn front_rows(report: &RunReport) -> Vec<[String; 3]> {
    let mut scenarios: Vec<&str> = Vec::new();
    for g in &report.granularity {
        if !scenarios.contains(&g.scenario.as_str()) {
            scenarios.push(&g.scenario);
        }
    }
    let mut rows: Vec<(String, String, [String; 3])> = Vec::new();
    for g in &report.granularity {
        let label = if scenarios.len() > 1 {
            format!("{}: {}", g.scenario, g.model)
        } else {
            g.model.clone()
        };
        let at = match rows
            .iter()
            .position(|(s, m, _)| *s == g.scenario && *m == g.model)
        {
            Some(i) => i,
            None => {
                rows.push((
                    g.scenario.clone(),
                    g.model.clone(),
                    [label, "–".into(), "–".into()],
                ));
                rows.len() - 1
            }
        };
        let column = if g.task_kind == "cpu" { 1 } else { 2 };
        rows[at].2[column] = cell(g);
    }
    rows.into_iter().map(|(_, _, r)| r).collect()
}

const EXPLAIN: &str = "The shortest task duration at which each model still reaches the \
threshold efficiency (Task Bench's METG): efficiency is the ideal time (the same tasks run one \
after another by the model's sequential baseline in the same round, shared among min(workers, \
cores) units for CPU tasks and among the workers for sleep tasks) divided by the model's \
measured wall time. In brackets: the bisection's last bracket, efficient at its upper end and \
not at its lower.";

/// The front page's METG table in Markdown; empty without searches.
pub(super) fn markdown(report: &RunReport) -> String {
    let rows = front_rows(report);
    if rows.is_empty() {
        return String::new();
    }
    let mut md = String::from("\n## Minimum effective task granularity (METG)\n\n");
    let _ = writeln!(md, "{}\n", md_escape(EXPLAIN));
    let _ = writeln!(md, "| {} |", FRONT_HEADER.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(FRONT_HEADER.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md
}

/// The front page's METG table in HTML; empty without searches.
pub(super) fn html(report: &RunReport) -> String {
    let rows = front_rows(report);
    if rows.is_empty() {
        return String::new();
    }
    let escape = super::html::escape;
    let mut page =
        String::from("<section id=\"metg\">\n<h2>Minimum effective task granularity (METG)</h2>\n");
    let _ = write!(page, "<p>{}</p>\n<table>\n<tr>", escape(EXPLAIN));
    for name in FRONT_HEADER {
        let _ = write!(page, "<th>{name}</th>");
    }
    page.push_str("</tr>\n");
    for row in rows {
        page.push_str("<tr>");
        for c in row {
            let _ = write!(page, "<td>{}</td>", escape(&c));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n</section>\n");
    page
}

const DETAIL_HEADER: [&str; 7] = [
    "Model",
    "Tasks",
    "METG [bracket]",
    "Noise interval",
    "Durations tried (median efficiency)",
    "Search time",
    "Outcome",
];

/// Every search of a scenario, one row each.
fn detail_rows(report: &RunReport, scenario: &ScenarioInfo) -> Vec<[String; 7]> {
    report
        .granularity
        .iter()
        .filter(|g| g.scenario == scenario.name)
        .map(|g| {
            let mut tried: Vec<_> = g.points.iter().collect();
            tried.sort_by(|a, b| b.task_ms.total_cmp(&a.task_ms));
            let tried: Vec<String> = tried
                .iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        table::millis(p.task_ms),
                        table::significant(p.median_efficiency)
                    )
                })
                .collect();
            [
                g.model.clone(),
                g.task_kind.clone(),
                cell(g),
                g.metg.noise_ms.map_or("–".into(), |(lo, hi)| {
                    format!("{} to {}", table::millis(lo), table::millis(hi))
                }),
                tried.join(", "),
                table::seconds(g.elapsed_s),
                g.metg.outcome.clone(),
            ]
        })
        .collect()
}

fn meta(report: &RunReport, scenario: &ScenarioInfo) -> String {
    match report
        .granularity
        .iter()
        .find(|g| g.scenario == scenario.name)
    {
        Some(g) => format!(
            "{} workers, {} tasks a batch, threshold {}; CPU tasks' ideal divides among {} units",
            g.workers,
            g.tasks,
            g.threshold,
            g.workers.min(report.machine.logical_cores.max(1))
        ),
        None => "no search ran".into(),
    }
}

/// A granularity scenario's section body in Markdown.
pub(super) fn markdown_section(report: &RunReport, scenario: &ScenarioInfo) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "{}\n", md_escape(&meta(report, scenario)));
    let rows = detail_rows(report, scenario);
    if rows.is_empty() {
        return md;
    }
    let _ = writeln!(md, "| {} |", DETAIL_HEADER.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(DETAIL_HEADER.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md
}

/// A granularity scenario's section in HTML, with its charts.
pub(super) fn html_section(page: &mut String, report: &RunReport, section: &super::Section) {
    let escape = super::html::escape;
    let scenario = section.scenario;
    let stems: Vec<&str> = section.charts.iter().map(|c| c.stem.as_str()).collect();
    let _ = write!(
        page,
        "<section class=\"scenario\" id=\"scenario-{}\" data-charts=\"{}\">\n<h2>{}</h2>\n<p>{}</p>\n\
         <p class=\"meta\">{}</p>\n",
        section.slug,
        stems.join(" "),
        escape(&scenario.name),
        escape(&scenario.description),
        escape(&meta(report, scenario)),
    );
    for chart in &section.charts {
        let _ = writeln!(page, "{}", chart.figure());
    }
    page.push_str("<table>\n<tr>");
    for name in DETAIL_HEADER {
        let _ = write!(page, "<th>{name}</th>");
    }
    page.push_str("</tr>\n");
    for row in detail_rows(report, scenario) {
        page.push_str("<tr>");
        for c in row {
            let _ = write!(page, "<td>{}</td>", escape(&c));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CaseStatus, GranularityPoint, Metg};

    fn sweep(model: &str, kind: &str, metg: Metg) -> GranularitySweep {
        let point = |task_ms: f64, e: f64| GranularityPoint {
            task_ms,
            baseline: "sequential".into(),
            baseline_wall_s: vec![0.2, 0.22],
            wall_s: vec![0.1, 0.11],
            efficiency: vec![e - 0.05, e + 0.05],
            median_efficiency: e,
        };
        GranularitySweep {
            scenario: "metg".into(),
            model: model.into(),
            task_kind: kind.into(),
            workers: 2,
            tasks: 100,
            parallelism: 2,
            threshold: 0.5,
            status: CaseStatus::Ok,
            points: vec![point(4.0, 0.95), point(1.0, 0.8), point(0.25, 0.3)],
            metg,
            elapsed_s: 1.5,
        }
    }

    fn report() -> RunReport {
        let mut report = crate::report::tests::sample();
        report.scenarios.push(ScenarioInfo {
            name: "metg".into(),
            description: "METG".into(),
            workload: WORKLOAD.into(),
            cpu_bound: false,
            releases_gil: false,
            baseline_estimated: false,
            models: vec!["thread".into(), "process".into()],
        });
        let bracketed = Metg {
            outcome: "bracketed".into(),
            metg_ms: Some(0.4),
            bracket_ms: Some((0.25, 0.5)),
            noise_ms: Some((0.25, 1.0)),
            bound_ms: None,
        };
        let never = Metg {
            outcome: "never-efficient".into(),
            metg_ms: None,
            bracket_ms: None,
            noise_ms: None,
            bound_ms: Some(4.0),
        };
        report.granularity = vec![
            sweep("thread", "cpu", bracketed.clone()),
            sweep("process", "cpu", never),
            sweep("thread", "sleep", bracketed),
        ];
        report
    }

    #[test]
    fn a_model_that_never_clearly_exceeds_the_threshold_gets_no_duration() {
        let at = Metg {
            outcome: "at-threshold".into(),
            metg_ms: None,
            bracket_ms: Some((0.25, 1.0)),
            noise_ms: None,
            bound_ms: Some(4.0),
        };
        let mut g = sweep("async-single", "cpu", at);
        g.points[0].efficiency = vec![0.48, 0.51, 0.53];
        g.points[0].median_efficiency = 0.51;
        assert_eq!(
            cell(&g),
            "none: at best 51% [48%, 53%] at 4 ms, never clearly above 50% here"
        );
    }

    #[test]
    fn the_front_page_has_one_row_per_model_with_both_kinds() {
        let rows = front_rows(&report());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], "thread");
        assert!(
            rows[0][1].starts_with("400 µs [250 µs, 500 µs]"),
            "{:?}",
            rows[0]
        );
        assert!(rows[0][2].starts_with("400 µs"), "{:?}", rows[0]);
        assert_eq!(rows[1][0], "process");
        assert!(rows[1][1].starts_with("> 4 ms"), "{:?}", rows[1]);
        assert_eq!(rows[1][2], "–");
        assert!(front_rows(&crate::report::tests::sample()).is_empty());
    }

    #[test]
    fn summary_page_and_chart_show_the_metg() {
        let artifacts = crate::report::render(&report()).unwrap();
        let file = |name: &str| {
            artifacts
                .iter()
                .find(|a| a.name == name)
                .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
                .unwrap_or_else(|| panic!("no {name}"))
        };
        let md = file("summary.md");
        assert!(
            md.contains("## Minimum effective task granularity (METG)"),
            "{md}"
        );
        assert!(md.contains("| thread | 400 µs"), "{md}");
        assert!(
            md.contains("1 ms: 0.8"),
            "the section lists the durations tried: {md}"
        );
        let html = file("index.html");
        assert!(html.contains("<section id=\"metg\">") && html.contains("href=\"#metg\""));
        let svg = file("metg-efficiency-cpu.svg");
        for label in ["task duration (µs)", "threshold 0.5", "thread", "process"] {
            assert!(svg.contains(label), "the chart lacks {label}");
        }
        assert!(html.contains("data-chart=\"metg-efficiency-sleep\""));
    }

    #[test]
    fn an_unfinished_or_failed_search_says_so() {
        let mut g = sweep(
            "thread",
            "cpu",
            Metg {
                outcome: "unfinished".into(),
                metg_ms: Some(0.4),
                bracket_ms: Some((0.25, 0.5)),
                noise_ms: None,
                bound_ms: None,
            },
        );
        assert!(cell(&g).ends_with("(out of time)"), "{}", cell(&g));
        g.status = CaseStatus::Failed("timed out".into());
        assert!(cell(&g).ends_with("(timed out)"), "{}", cell(&g));
    }
}
