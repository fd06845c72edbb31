//! The `coroutine` scenario's chart: resident memory against units alive
//! for each unit (the points and their slope), beside the create and switch
//! times of each unit as bars on a log axis. From `results.coroutine`.

use super::definitions::Built;
use super::plot::{
    Bar, BarRow, Bars, LegendEntry, Line, Lines, Marker, Plot, Point, Swatch, entry,
};
use crate::model::{ModelId, ModelKind};
use crate::report::palette::model_colour;
use crate::results::{CaseResult, CaseStatus, CoroutineMeasurement, RunReport, ScenarioInfo};
use plotters::style::RGBColor;

pub(super) fn applies(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    s.workload == "coroutine"
}

/// Each unit drawn in the colour of the model built on it.
fn colour(unit: &str) -> RGBColor {
    let kind = match unit {
        "coroutine" => ModelKind::Greenlet,
        "thread" => ModelKind::Thread,
        _ => ModelKind::AsyncSingle,
    };
    model_colour(&ModelId::native(kind).to_string())
}

const UNITS: [&str; 3] = ["coroutine", "thread", "task"];

fn ok<'a>(report: &'a RunReport, measure: &str, unit: &str) -> Option<&'a CoroutineMeasurement> {
    report
        .coroutine
        .iter()
        .find(|m| m.measure == measure && m.unit == unit && m.status == CaseStatus::Ok)
}

pub(super) fn costs(report: &RunReport, _: &ScenarioInfo, _: &[&CaseResult]) -> Built {
    let mut legend: Vec<LegendEntry> = UNITS
        .iter()
        .map(|u| entry(*u, colour(u), Swatch::Block))
        .collect();
    let mut lines = Vec::new();
    for unit in UNITS {
        let Some(m) = ok(report, "memory", unit) else {
            continue;
        };
        let points: Vec<Point> = m
            .points
            .iter()
            .map(|&(n, bytes)| Point {
                x: n as f64,
                y: bytes / 1024.0,
                interval: None,
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        lines.push(Line {
            colour: colour(unit),
            dashed: false,
            connect: false,
            marker: Marker::Circle,
            points,
        });
        if let Some(slope) = m.bytes_per_unit {
            let xs = m.points.iter().map(|p| p.0 as f64);
            let (lo, hi) = xs.fold((f64::MAX, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
            lines.push(Line {
                colour: colour(unit),
                dashed: true,
                connect: true,
                marker: Marker::None,
                points: [lo, hi]
                    .iter()
                    .map(|&x| Point {
                        x,
                        y: slope.median * x / 1024.0,
                        interval: None,
                    })
                    .collect(),
            });
        }
    }
    let rows: Vec<BarRow> = ["create", "switch"]
        .iter()
        .filter_map(|measure| {
            let bars: Vec<Bar> = UNITS
                .iter()
                .filter_map(|unit| {
                    let ns = ok(report, measure, unit)?.ns?;
                    Some(Bar {
                        colour: colour(unit),
                        opacity: 1.0,
                        value: ns.median,
                        interval: Some((ns.low, ns.high)),
                        text: Some(format!(
                            "{} ns",
                            crate::report::table::significant(ns.median)
                        )),
                    })
                })
                .collect();
            (!bars.is_empty()).then(|| BarRow {
                label: (*measure).to_owned(),
                bars,
            })
        })
        .collect();
    let bars = Bars {
        value_label: "nanoseconds per operation (log)".into(),
        log: true,
        rows,
        reference: None,
    };
    let fixed = "memory: resident KiB added against units alive (dashed: the slope)".to_owned();
    match (lines.is_empty(), bars.rows.is_empty()) {
        (true, true) => None,
        (true, false) => Some((fixed, Plot::Bars(bars), legend)),
        (false, _) => {
            legend.push(entry(
                "slope (bytes per unit)",
                colour("coroutine"),
                Swatch::Dashed,
            ));
            let lines = Lines {
                x_label: "units alive".into(),
                y_label: "resident memory added (KiB)".into(),
                x_log: false,
                y_log: false,
                x_integer: true,
                lines,
            };
            Some((
                fixed,
                if bars.rows.is_empty() {
                    Plot::Lines(lines)
                } else {
                    Plot::Split(lines, bars)
                },
                legend,
            ))
        }
    }
}
