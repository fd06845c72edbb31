//! Task Bench's chart of a granularity scenario: efficiency against task
//! duration (log x), one line per model, the threshold dashed, one chart
//! per task kind (CPU-bound, sleep). Each point is a duration the search
//! measured: the median efficiency of its repetitions, their range as the
//! error bar. Pure: results in, a plot out.

use super::definitions::Built;
use super::plot::{Lines, Plot, Point, Swatch, entry, model_entries, model_line, reference_line};
use crate::results::{CaseResult, RunReport, ScenarioInfo};

pub(super) fn applies(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    s.workload == crate::report::granularity::WORKLOAD
}

pub(super) fn cpu(report: &RunReport, s: &ScenarioInfo, _: &[&CaseResult]) -> Built {
    efficiency(report, s, "cpu")
}

pub(super) fn sleep(report: &RunReport, s: &ScenarioInfo, _: &[&CaseResult]) -> Built {
    efficiency(report, s, "sleep")
}

fn efficiency(report: &RunReport, s: &ScenarioInfo, kind: &str) -> Built {
    let sweeps: Vec<_> = report
        .granularity
        .iter()
        .filter(|g| g.scenario == s.name && g.task_kind == kind && !g.points.is_empty())
        .collect();
    let first = sweeps.first()?;
    let mut lines = Vec::new();
    let mut models = Vec::new();
    let (mut lo, mut hi) = (f64::INFINITY, 0.0_f64);
    for g in &sweeps {
        let mut points: Vec<Point> = g
            .points
            .iter()
            .filter(|p| p.median_efficiency.is_finite() && p.task_ms > 0.0)
            .map(|p| {
                let min = p.efficiency.iter().copied().fold(f64::INFINITY, f64::min);
                let max = p.efficiency.iter().copied().fold(0.0, f64::max);
                Point {
                    // In µs: METGs of these models lie between 1 µs and a few ms.
                    x: p.task_ms * 1e3,
                    y: p.median_efficiency,
                    interval: (min.is_finite() && max >= min).then_some((min, max)),
                }
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        lo = lo.min(points[0].x);
        hi = hi.max(points[points.len() - 1].x);
        models.push(g.model.as_str());
        lines.push(model_line(&g.model, points));
    }
    if lines.is_empty() {
        return None;
    }
    let threshold = first.threshold;
    lines.push(reference_line(vec![(lo, threshold), (hi, threshold)]));
    let mut legend = model_entries(models, Swatch::Solid);
    legend.push(entry(
        format!("threshold {threshold}"),
        super::plot::INK,
        Swatch::Dashed,
    ));
    let fixed = format!(
        "{kind} tasks · {} workers · {} tasks a batch · ideal over {} units",
        first.workers, first.tasks, first.parallelism
    );
    Some((
        fixed,
        Plot::Lines(Lines {
            x_label: "task duration (µs)".into(),
            y_label: "efficiency (ideal time / measured)".into(),
            x_log: true,
            y_log: false,
            x_integer: false,
            lines,
        }),
        legend,
    ))
}
