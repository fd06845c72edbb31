//! Charts: `definitions` holds one entry per chart (file name, title, the
//! scenarios it applies to, how its series come out of the cases) and `plot`
//! the few renderers they share (lines over a sweep, bars, two panels) with
//! the drawing itself. Failed cases never appear; a chart whose data is
//! absent is not built at all. Pure: a report in, charts out.

mod coordination;
mod coroutine;
mod definitions;
mod granularity;
pub(crate) mod io_models;
pub(crate) mod machines;
mod plot;
mod wake;

use definitions::CHARTS;
pub use plot::Chart;

use crate::results::{RunReport, ScenarioInfo};

/// Every chart the data of one scenario supports, in reading order.
pub fn scenario_charts(report: &RunReport, scenario: &ScenarioInfo) -> Vec<Chart> {
    let cases = crate::report::query::scenario_cases(report, &scenario.name);
    let machine = format!(
        "{}, {} logical cores",
        report.machine.cpu_brand, report.machine.logical_cores
    );
    CHARTS
        .iter()
        .filter(|def| (def.applies)(scenario, &cases))
        .filter_map(|def| {
            let (fixed, plot, legend) = (def.build)(report, scenario, &cases)?;
            Some(Chart {
                slug: def.slug,
                title: format!("{}: {}", scenario.name, def.title),
                subtitle: if fixed.is_empty() {
                    machine.clone()
                } else {
                    format!("{machine} · {fixed}")
                },
                legend,
                plot,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::plot::{Plot, log_ticks};
    use super::*;
    use crate::report::palette::model_colour;
    use crate::report::render;
    use crate::report::tests::sample;
    use std::collections::BTreeMap;

    fn svgs(report: &RunReport) -> Vec<(String, String)> {
        render(report)
            .unwrap()
            .into_iter()
            .filter(|a| a.name.ends_with(".svg"))
            .map(|a| (a.name, String::from_utf8(a.bytes).unwrap()))
            .collect()
    }

    #[test]
    fn svg_is_well_formed_and_labelled() {
        let report = sample();
        for (name, svg) in svgs(&report) {
            assert!(
                svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"),
                "{name}"
            );
            for tag in ["text", "svg"] {
                let opened = svg.matches(&format!("<{tag}")).count();
                let closed = svg.matches(&format!("</{tag}>")).count();
                assert_eq!(opened, closed, "{name}: unbalanced <{tag}>");
            }
            assert!(
                svg.contains("AMD EPYC 7B13, 2 logical cores"),
                "{name}: no machine"
            );
        }
        let speedup = svgs(&report)
            .into_iter()
            .find(|(name, _)| name == "cpu-hash-speedup.svg")
            .unwrap()
            .1;
        for label in [
            "cpu-hash: speedup vs workers",
            "\nworkers\n",
            "speedup over sequential (×)",
            "\nideal\n",
        ] {
            assert!(speedup.contains(label), "speedup chart lacks {label:?}");
        }
    }

    /// Reads each legend swatch's colour from the SVG: the element drawn just
    /// before the model's legend text.
    #[test]
    fn a_model_has_the_same_colour_in_every_chart() {
        let report = sample();
        let models: Vec<&str> = report.cases.iter().map(|c| c.model.as_str()).collect();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut legends = 0;
        for (name, svg) in svgs(&report) {
            let lines: Vec<&str> = svg.lines().collect();
            for (idx, line) in lines.iter().enumerate().skip(2) {
                if !models.contains(line) || !lines[idx - 1].starts_with("<text") {
                    continue;
                }
                let swatch = lines[idx - 2];
                let Some(at) = swatch.find("=\"#") else {
                    continue;
                };
                let colour = swatch[at + 2..at + 9].to_string();
                legends += 1;
                let first = seen
                    .entry(line.to_string())
                    .or_insert_with(|| colour.clone());
                assert_eq!(*first, colour, "{line} changes colour in {name}");
            }
        }
        assert!(legends > 50, "only {legends} legend entries found");
        let mut colours: Vec<&String> = seen.values().collect();
        colours.sort();
        colours.dedup();
        assert_eq!(
            colours.len(),
            seen.len(),
            "two models share a colour: {seen:?}"
        );
    }

    #[test]
    fn failed_cases_never_reach_a_chart() {
        let report = sample();
        let failed = report.cases.iter().find(|c| !c.is_ok()).unwrap();
        let scenario = report
            .scenarios
            .iter()
            .find(|s| s.name == failed.scenario)
            .unwrap();
        let charts = scenario_charts(&report, scenario);
        let Some(Plot::Lines(speedup)) =
            charts.iter().find(|c| c.slug == "speedup").map(|c| &c.plot)
        else {
            panic!("{} has a speedup chart", scenario.name);
        };
        let failed_x = failed.workers as f64;
        let line = |colour| speedup.lines.iter().find(|l| l.colour == colour).unwrap();
        // The failed model's line stops short; another model reaches that point.
        assert!(
            line(model_colour(&failed.model))
                .points
                .iter()
                .all(|p| p.x != failed_x)
        );
        assert!(
            line(model_colour("thread"))
                .points
                .iter()
                .any(|p| p.x == failed_x)
        );
    }

    #[test]
    fn log_axes_tick_at_the_sweep_or_at_1_2_5() {
        assert_eq!(
            log_ticks(0.7, 90.0, &[1.0, 8.0, 64.0, 8.0]),
            vec![1.0, 8.0, 64.0]
        );
        assert_eq!(log_ticks(0.7, 30.0, &[]), vec![1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(
            log_ticks(0.5, 20_000.0, &[]),
            vec![1.0, 10.0, 100.0, 1e3, 1e4]
        );
    }

    #[test]
    fn charts_without_data_are_skipped() {
        let mut report = sample();
        for case in &mut report.cases {
            case.task_latency_ms = None;
            case.peak_rss_bytes = None;
            case.harness_peak_rss_bytes = None;
            case.repetitions.clear();
        }
        let kinds: Vec<&str> = report
            .scenarios
            .iter()
            .flat_map(|s| scenario_charts(&report, s))
            .map(|c| c.slug)
            .collect();
        assert!(!kinds.contains(&"latency"));
        assert!(!kinds.contains(&"memory-per-unit"));
        assert!(!kinds.contains(&"convoy"));
        assert!(kinds.contains(&"speedup"));
    }

    #[test]
    fn chart_file_names_are_unique() {
        let mut slugs: Vec<&str> = CHARTS.iter().map(|c| c.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), CHARTS.len());
    }
}
