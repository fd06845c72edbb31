//! The C10K chart of an `io-models` scenario: throughput (left) and p99
//! latency (right) against connections, both on log axes, one line per IO
//! model, each point the median over its repetitions. Pure: results in, a
//! plot out.

use super::definitions::Built;
use super::plot::{Line, Lines, Marker, Plot, Point, Swatch, entry};
use crate::results::io_models::IoModelResult;
use crate::results::{CaseResult, CaseStatus, RunReport, ScenarioInfo};
use plotters::style::RGBColor;

/// The workload id of an io-models scenario in results.json.
pub(crate) const WORKLOAD: &str = "io-models";

pub(super) fn applies(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    s.workload == WORKLOAD
}

/// A fixed colour per IO model, so that a model keeps its colour across
/// scenarios and runs.
fn colour(model: &str) -> RGBColor {
    match model {
        "blocking" => RGBColor(214, 39, 40),
        "nonblocking" => RGBColor(255, 127, 14),
        "multiplexed:epoll" => RGBColor(31, 119, 180),
        "multiplexed:poll" => RGBColor(23, 190, 207),
        "multiplexed:select" => RGBColor(148, 103, 189),
        "signal" => RGBColor(140, 86, 75),
        "async" => RGBColor(44, 160, 44),
        _ => RGBColor(127, 127, 127),
    }
}

/// The scenario's models in the order they ran, with their measured points.
fn by_model<'a>(report: &'a RunReport, s: &ScenarioInfo) -> Vec<(&'a str, Vec<&'a IoModelResult>)> {
    let mut out: Vec<(&str, Vec<&IoModelResult>)> = Vec::new();
    for r in report.io_models.iter().filter(|r| r.scenario == s.name) {
        if r.status != CaseStatus::Ok || r.median.is_none() {
            continue;
        }
        match out.iter_mut().find(|(m, _)| *m == r.io_model) {
            Some((_, rows)) => rows.push(r),
            None => out.push((r.io_model.as_str(), vec![r])),
        }
    }
    out
}

pub(super) fn c10k(report: &RunReport, s: &ScenarioInfo, _: &[&CaseResult]) -> Built {
    let models = by_model(report, s);
    if models.is_empty() {
        return None;
    }
    let line = |model: &str, rows: &[&IoModelResult], y: fn(&IoModelResult) -> f64| Line {
        colour: colour(model),
        dashed: false,
        connect: true,
        marker: Marker::Circle,
        points: rows
            .iter()
            .map(|r| Point {
                x: r.connections as f64,
                y: y(r),
                interval: None,
            })
            .collect(),
    };
    let throughput = Lines {
        x_label: "connections".into(),
        y_label: "round trips per second".into(),
        x_log: true,
        y_log: true,
        x_integer: true,
        lines: models
            .iter()
            .map(|(m, rows)| line(m, rows, |r| r.median.unwrap_or_default().throughput_rps))
            .collect(),
    };
    let p99 = Lines {
        x_label: "connections".into(),
        y_label: "p99 round trip (ms)".into(),
        x_log: true,
        y_log: true,
        x_integer: true,
        lines: models
            .iter()
            .map(|(m, rows)| line(m, rows, |r| r.median.unwrap_or_default().p99_us / 1e3))
            .collect(),
    };
    let legend = models
        .iter()
        .map(|(m, _)| entry(*m, colour(m), Swatch::Solid))
        .collect();
    let first = models[0].1[0];
    let fixed = format!(
        "{} round trips of {} B per connection, server delay {} ms, think {} ms",
        first.round_trips, first.message_bytes, first.server_delay_ms, first.think_ms
    );
    Some((fixed, Plot::Pair(throughput, p99), legend))
}
