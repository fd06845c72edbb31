//! The speedup chart of one scenario run on several machines: one panel per
//! machine, each built by the single-machine speedup chart's builder from
//! that machine's results alone, so a line is always one (machine, model)
//! pair and no series mixes machines. The panels share their axes. Pure.

use super::definitions;
use super::plot::{Chart, LegendEntry, Lines, Panel, Plot};
use crate::report::query;
use crate::results::RunReport;

/// The chart's part of its file name: `<scenario slug>-speedup-by-machine`.
pub const SLUG: &str = "speedup-by-machine";

/// One machine as the chart sees it: its label and its results.
#[derive(Debug, Clone, Copy)]
pub struct MachineRun<'a> {
    pub label: &'a str,
    pub report: &'a RunReport,
}

/// The chart of `scenario` with one panel per machine (in `machines`'
/// order; a machine that did not run it, or has no sweep of workers there,
/// gets an empty panel that says so); `None` when no machine has a line.
pub fn speedup_by_machine(scenario: &str, machines: &[MachineRun]) -> Option<Chart> {
    let mut legend: Vec<LegendEntry> = Vec::new();
    let mut panels = Vec::new();
    for machine in machines {
        let built = machine
            .report
            .scenarios
            .iter()
            .find(|s| s.name == scenario)
            .and_then(|info| {
                let cases = query::scenario_cases(machine.report, scenario);
                definitions::speedup(machine.report, info, &cases)
            });
        let panel = match built {
            Some((fixed, Plot::Lines(lines), entries)) => {
                for entry in entries {
                    if !legend.iter().any(|e| e.label == entry.label) {
                        legend.push(entry);
                    }
                }
                Panel {
                    title: machine.label.to_owned(),
                    note: fixed,
                    lines,
                }
            }
            _ => Panel {
                title: machine.label.to_owned(),
                note: String::new(),
                lines: empty_lines(),
            },
        };
        panels.push(panel);
    }
    if panels.iter().all(|p| p.lines.lines.is_empty()) {
        return None;
    }
    // The ideal line's entry goes last, as in the single-machine chart.
    legend.sort_by_key(|e| e.label == "ideal");
    // One scale for all: a log axis on any panel puts every panel on one.
    let log = panels.iter().any(|p| p.lines.x_log);
    for panel in &mut panels {
        panel.lines.x_log = log;
        panel.lines.y_log = log;
    }
    Some(Chart {
        slug: SLUG,
        title: format!("{scenario}: speedup vs workers, per machine"),
        subtitle: format!(
            "one panel per machine, each from its own results file · {} machines",
            machines.len()
        ),
        legend,
        plot: Plot::Panels(panels),
    })
}

fn empty_lines() -> Lines {
    Lines {
        x_label: "workers".into(),
        y_label: "speedup over sequential (×)".into(),
        x_log: false,
        y_log: false,
        x_integer: true,
        lines: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::palette::model_colour;
    use crate::report::tests::sample;

    /// The sample, and a copy on another machine whose sequential baselines
    /// took twice as long: every speedup there is twice the sample's.
    fn two_machines() -> (RunReport, RunReport) {
        let a = sample();
        let mut b = sample();
        b.machine.cpu_brand = "Other CPU".into();
        b.machine.logical_cores = 8;
        for case in b.cases.iter_mut().filter(|c| query::is_baseline(&c.model)) {
            for s in &mut case.samples_wall_s {
                *s *= 2.0;
            }
            if let Some(wall) = &mut case.wall_s {
                wall.median *= 2.0;
                wall.low *= 2.0;
                wall.high *= 2.0;
            }
        }
        (a, b)
    }

    fn panels(chart: &Chart) -> &[Panel] {
        match &chart.plot {
            Plot::Panels(panels) => panels,
            other => panic!("not panels: {other:?}"),
        }
    }

    #[test]
    fn each_panel_is_one_machine_and_no_line_mixes_them() {
        let (a, b) = two_machines();
        let machines = [
            MachineRun {
                label: "A",
                report: &a,
            },
            MachineRun {
                label: "B",
                report: &b,
            },
        ];
        let chart = speedup_by_machine("cpu-hash", &machines).unwrap();
        let [pa, pb] = panels(&chart) else {
            panic!("two panels expected")
        };
        assert_eq!((pa.title.as_str(), pb.title.as_str()), ("A", "B"));
        assert!(pa.note.contains("tasks=16"), "{}", pa.note);
        let mut compared = 0;
        // The baseline's own line is 1 everywhere, on every machine.
        let sequential = model_colour("sequential");
        for line_a in pa
            .lines
            .lines
            .iter()
            .filter(|l| !l.dashed && l.colour != sequential)
        {
            let line_b = pb
                .lines
                .lines
                .iter()
                .find(|l| l.colour == line_a.colour && !l.dashed)
                .expect("the same model on both machines");
            assert_eq!(line_a.points.len(), line_b.points.len());
            for (pa, pb) in line_a.points.iter().zip(&line_b.points) {
                assert_eq!(pa.x, pb.x);
                // B's own baseline, not A's: twice the speedup.
                assert!((pb.y / pa.y - 2.0).abs() < 1e-9, "{} vs {}", pa.y, pb.y);
                compared += 1;
            }
        }
        assert!(compared >= 4, "only {compared} points compared");
        // The legend names each model once, whatever the number of panels.
        let labels: Vec<&str> = chart.legend.iter().map(|e| e.label.as_str()).collect();
        let unique: std::collections::HashSet<&&str> = labels.iter().collect();
        assert_eq!(labels.len(), unique.len(), "{labels:?}");
        assert_eq!(labels.last(), Some(&"ideal"));
        assert!(
            chart
                .legend
                .iter()
                .any(|e| e.colour == model_colour("thread"))
        );
    }

    #[test]
    fn a_machine_without_the_scenario_gets_an_empty_panel() {
        let (a, mut b) = two_machines();
        b.scenarios.retain(|s| s.name != "cpu-hash");
        b.cases.retain(|c| c.scenario != "cpu-hash");
        let machines = [
            MachineRun {
                label: "A",
                report: &a,
            },
            MachineRun {
                label: "B",
                report: &b,
            },
            MachineRun {
                label: "C",
                report: &a,
            },
        ];
        let chart = speedup_by_machine("cpu-hash", &machines).unwrap();
        let found = panels(&chart);
        assert_eq!(found.len(), 3);
        assert!(found[1].lines.lines.is_empty() && found[1].title == "B");
        // Three panels: two rows, drawn in both formats.
        assert!(
            chart
                .svg()
                .unwrap()
                .contains("no speedup sweep on this machine")
        );
        assert!(chart.png().unwrap().starts_with(b"\x89PNG"));
        // A scenario no machine has a sweep of workers in gets no chart.
        assert!(speedup_by_machine("spawn-many", &machines).is_none());
        assert!(speedup_by_machine("no-such-scenario", &machines).is_none());
    }
}
