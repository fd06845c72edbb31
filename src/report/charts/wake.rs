//! The event and timer charts: an event's wake-up latency per model (p50,
//! p90, p99 from `set()` until each waiter ran), and timer lateness against
//! the number of timers, one line per timer mechanism (p99 solid, p50
//! dashed), log axes. Pure: cases in, a plot out.

use super::definitions::Built;
use super::plot::{
    Bars, Line, Lines, Marker, Point, Swatch, entry, model_entries, shade_entries, shaded_rows,
    spans_decades,
};
use crate::report::palette::model_colour;
use crate::results::{CaseResult, RunReport, ScenarioInfo, WakeStats};

pub(super) fn applies_event(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    s.workload == "event"
}

pub(super) fn applies_timer(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    s.workload == "timer"
}

fn wake(c: &CaseResult) -> Option<&WakeStats> {
    c.wake.as_ref().filter(|_| c.is_ok())
}

pub(super) fn event_latency(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    // Models in the scenario's order, each at every waiter count.
    let mut rows_of: Vec<&CaseResult> = Vec::new();
    for m in &s.models {
        let mut mine: Vec<&CaseResult> = cases
            .iter()
            .copied()
            .filter(|c| c.model == *m && wake(c).is_some_and(|w| w.late_ms.is_some()))
            .collect();
        mine.sort_by_key(|c| c.tasks);
        rows_of.extend(mine);
    }
    if rows_of.is_empty() {
        return None;
    }
    let rows = shaded_rows(&rows_of, |c| {
        let p = wake(c)?.late_ms?;
        Some([p.p50, p.p90, p.p99])
    });
    let values = rows.iter().flat_map(|r| r.bars.iter().map(|b| b.value));
    let plot = Bars {
        value_label: "from set() until the waiter runs (ms)".into(),
        log: spans_decades(values),
        rows,
        reference: None,
    };
    let mut names: Vec<&str> = rows_of.iter().map(|c| c.model.as_str()).collect();
    names.dedup();
    let mut legend = model_entries(names, Swatch::Block);
    legend.extend(shade_entries(["p50", "p90", "p99"]));
    let note = rows_of
        .iter()
        .find_map(|c| {
            let w = wake(c)?;
            Some(format!(
                "one setter, {} rounds per batch; workers = waiters + the setter",
                w.rounds?
            ))
        })
        .unwrap_or_default();
    Some((note, super::plot::Plot::Bars(plot), legend))
}

pub(super) fn timer_lateness(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let mut lines = Vec::new();
    let mut legend = Vec::new();
    for m in &s.models {
        let mine: Vec<&WakeStats> = cases
            .iter()
            .filter(|c| c.model == *m)
            .filter_map(|c| wake(c))
            .collect();
        let Some(mechanism) = mine.iter().find_map(|w| w.mechanism.clone()) else {
            continue;
        };
        for (dashed, pick) in [
            (
                false,
                (|p: &crate::results::Percentiles| p.p99) as fn(&_) -> f64,
            ),
            (true, |p: &crate::results::Percentiles| p.p50),
        ] {
            let mut points: Vec<Point> = mine
                .iter()
                .filter_map(|w| {
                    Some(Point {
                        x: f64::from(w.timers?),
                        // A log axis has no 0: a lateness below 1 µs reads as 1 µs.
                        y: pick(w.late_ms.as_ref()?).max(1e-3),
                        interval: None,
                    })
                })
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            if points.is_empty() {
                continue;
            }
            lines.push(Line {
                colour: model_colour(m),
                dashed,
                connect: true,
                marker: if dashed {
                    Marker::Triangle
                } else {
                    Marker::Circle
                },
                points,
            });
            legend.push(entry(
                format!("{m} ({mechanism}) {}", if dashed { "p50" } else { "p99" }),
                model_colour(m),
                if dashed {
                    Swatch::Dashed
                } else {
                    Swatch::Solid
                },
            ));
        }
    }
    if lines.is_empty() {
        return None;
    }
    let plot = Lines {
        x_label: "timers armed at once".into(),
        y_label: "lateness: callback run minus due time (ms)".into(),
        x_log: true,
        y_log: true,
        x_integer: true,
        lines,
    };
    let note = cases
        .iter()
        .find_map(|c| Some(format!("each timer's delay {} ms", wake(c)?.delay_ms?)))
        .unwrap_or_default();
    Some((note, super::plot::Plot::Lines(plot), legend))
}
