//! The coordination workloads' charts: throughput against units (lock:
//! sections per second per unit count and model; queue: items per second
//! per model), and the lock waits or the queue's put-to-get latency as
//! percentiles per model. Pure: cases in, a plot out.

use super::definitions::Built;
use super::plot::{
    Bar, BarRow, Bars, Lines, Point, Swatch, model_entries, model_line, shade_entries, shaded_rows,
    spans_decades,
};
use crate::report::palette::model_colour;
use crate::results::{CaseResult, Percentiles, RunReport, ScenarioInfo};

pub(super) fn applies(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    matches!(s.workload.as_str(), "lock" | "queue")
}

/// The scenario's successful cases, models in the scenario's order.
fn by_model<'a>(
    s: &'a ScenarioInfo,
    cases: &[&'a CaseResult],
) -> Vec<(&'a str, Vec<&'a CaseResult>)> {
    s.models
        .iter()
        .filter_map(|m| {
            let mine: Vec<&CaseResult> = cases
                .iter()
                .copied()
                .filter(|c| c.model == *m && c.is_ok())
                .collect();
            (!mine.is_empty()).then_some((m.as_str(), mine))
        })
        .collect()
}

pub(super) fn throughput(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let models = by_model(s, cases);
    if s.workload == "queue" {
        let rows: Vec<BarRow> = models
            .iter()
            .filter_map(|(model, cases)| {
                let e = cases.iter().find_map(|c| c.queue.as_ref()?.items_per_s)?;
                Some(BarRow {
                    label: (*model).to_owned(),
                    bars: vec![Bar {
                        colour: model_colour(model),
                        opacity: 1.0,
                        value: e.median,
                        interval: Some((e.low, e.high)),
                        text: None,
                    }],
                })
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        let legend = model_entries(rows.iter().map(|r| r.label.as_str()), Swatch::Block);
        let values = rows.iter().map(|r| r.bars[0].value);
        let plot = Bars {
            value_label: "items per second, first put to last get".into(),
            log: spans_decades(values),
            rows,
            reference: None,
        };
        return Some((queue_shape(cases), super::plot::Plot::Bars(plot), legend));
    }
    let mut drawn = Vec::new();
    for (model, cases) in &models {
        let mut points: Vec<Point> = cases
            .iter()
            .filter_map(|c| {
                let l = c.lock.as_ref()?;
                let e = l.sections_per_s?;
                Some(Point {
                    x: l.units as f64,
                    y: e.median,
                    interval: Some((e.low, e.high)),
                })
            })
            .collect();
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        if !points.is_empty() {
            drawn.push((*model, model_line(model, points)));
        }
    }
    if drawn.is_empty() {
        return None;
    }
    let (names, lines): (Vec<&str>, Vec<_>) = drawn.into_iter().unzip();
    let ys = lines
        .iter()
        .flat_map(|l: &super::plot::Line| l.points.iter().map(|p| p.y));
    let plot = Lines {
        x_label: "units".into(),
        y_label: "critical sections per second".into(),
        x_log: false,
        y_log: spans_decades(ys),
        x_integer: true,
        lines,
    };
    Some((
        lock_shape(cases),
        super::plot::Plot::Lines(plot),
        model_entries(names, Swatch::Solid),
    ))
}

pub(super) fn latency(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let queue = s.workload == "queue";
    let figures = |c: &CaseResult| -> Option<Percentiles> {
        if queue {
            c.queue.as_ref()?.latency_ms
        } else {
            c.lock.as_ref()?.wait_ms
        }
    };
    // Each model at its most units.
    let reps: Vec<&CaseResult> = by_model(s, cases)
        .into_iter()
        .filter_map(|(_, cases)| {
            cases
                .into_iter()
                .filter(|c| figures(c).is_some())
                .max_by_key(|c| c.tasks)
        })
        .collect();
    if reps.is_empty() {
        return None;
    }
    let rows = shaded_rows(&reps, |c| {
        let p = figures(c)?;
        Some([p.p50, p.p90, p.p99])
    });
    let values = rows.iter().flat_map(|r| r.bars.iter().map(|b| b.value));
    let plot = Bars {
        value_label: if queue {
            "latency from put to get (ms)".into()
        } else {
            "wait to take the lock, per section (ms)".into()
        },
        log: spans_decades(values),
        rows,
        reference: None,
    };
    let mut legend = model_entries(reps.iter().map(|c| c.model.as_str()), Swatch::Block);
    legend.extend(shade_entries(["p50", "p90", "p99"]));
    let note = if queue {
        queue_shape(cases)
    } else {
        format!("each model at its most units; {}", lock_shape(cases))
    };
    Some((note, super::plot::Plot::Bars(plot), legend))
}

fn lock_shape(cases: &[&CaseResult]) -> String {
    cases
        .iter()
        .find_map(|c| {
            let l = c.lock.as_ref()?;
            Some(format!(
                "{}, {} sections per unit",
                l.primitive, l.sections_per_unit
            ))
        })
        .unwrap_or_default()
}

fn queue_shape(cases: &[&CaseResult]) -> String {
    cases
        .iter()
        .find_map(|c| {
            let q = c.queue.as_ref()?;
            Some(format!(
                "{} producers, {} consumers, capacity {}, {} items of {} bytes, {}{}",
                q.producers,
                q.consumers,
                q.capacity,
                q.items,
                q.item_bytes,
                q.semantics,
                if q.daemon { ", daemon consumers" } else { "" }
            ))
        })
        .unwrap_or_default()
}
