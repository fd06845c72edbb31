//! Charts: what each chart shows (built from the data, pure) and one drawing
//! routine per plot shape, generic over the plotters backend so the SVG and
//! the PNG of a chart come from the same code. Failed cases never appear;
//! a chart whose data is absent is not built at all.

use super::palette::model_colour;
use super::query::{self, Axis};
use super::table;
use crate::model::{ModelId, ModelKind, registry};
use crate::results::{CaseResult, RunReport, ScenarioInfo};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 600;
const HEADER_HEIGHT: u32 = 64;
const LEGEND_WIDTH: u32 = 200;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(40, 40, 40);
const MUTED: RGBColor = RGBColor(100, 100, 100);
const GRID: RGBColor = RGBColor(225, 225, 225);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Speedup,
    WallVsTasks,
    Latency,
    CpuAndSwitches,
    MemoryPerUnit,
    GilSpeedup,
    Convoy,
}

impl ChartKind {
    /// The chart's part of its file name.
    pub fn slug(self) -> &'static str {
        match self {
            ChartKind::Speedup => "speedup",
            ChartKind::WallVsTasks => "wall-vs-tasks",
            ChartKind::Latency => "latency",
            ChartKind::CpuAndSwitches => "cpu-and-switches",
            ChartKind::MemoryPerUnit => "memory-per-unit",
            ChartKind::GilSpeedup => "gil-speedup",
            ChartKind::Convoy => "convoy",
        }
    }
}

/// A chart ready to draw: texts, legend and plotted values.
#[derive(Debug)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    pub subtitle: String,
    legend: Vec<LegendEntry>,
    plot: Plot,
}

#[derive(Debug)]
enum Plot {
    Lines(Lines),
    Bars(Bars),
    /// Two panels side by side.
    Split(Lines, Bars),
}

#[derive(Debug)]
struct Lines {
    x_label: String,
    y_label: String,
    x_log: bool,
    y_log: bool,
    /// Integer axes (workers, tasks) label only whole numbers.
    x_integer: bool,
    lines: Vec<Line>,
}

#[derive(Debug)]
struct Line {
    colour: RGBColor,
    dashed: bool,
    /// False for a scatter of points.
    connect: bool,
    marker: Marker,
    points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    None,
    Circle,
    Triangle,
}

#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    /// The 95% interval of `y`, drawn as an error bar.
    interval: Option<(f64, f64)>,
}

/// Horizontal bars, grouped by row (one row per model or family).
#[derive(Debug)]
struct Bars {
    value_label: String,
    log: bool,
    rows: Vec<BarRow>,
    /// A dashed vertical line, such as the ideal speedup.
    reference: Option<(String, f64)>,
}

#[derive(Debug)]
struct BarRow {
    label: String,
    bars: Vec<Bar>,
}

#[derive(Debug)]
struct Bar {
    colour: RGBColor,
    /// Lighter shades tell apart bars of one model (p50, p90, p99).
    opacity: f64,
    value: f64,
    interval: Option<(f64, f64)>,
    text: Option<String>,
}

#[derive(Debug, Clone)]
struct LegendEntry {
    label: String,
    colour: RGBColor,
    opacity: f64,
    swatch: Swatch,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    Solid,
    Dashed,
    Block,
}

fn entry(label: impl Into<String>, colour: RGBColor, swatch: Swatch) -> LegendEntry {
    LegendEntry {
        label: label.into(),
        colour,
        opacity: 1.0,
        swatch,
    }
}

fn model_entries<'a>(
    models: impl IntoIterator<Item = &'a str>,
    swatch: Swatch,
) -> Vec<LegendEntry> {
    models
        .into_iter()
        .map(|model| entry(model, model_colour(model), swatch))
        .collect()
}

/// True when values span two decades or more, where a log axis reads better.
fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
    spans(values, 100.0)
}

/// True when the largest positive value is at least `ratio` times the smallest.
fn spans(values: impl IntoIterator<Item = f64>, ratio: f64) -> bool {
    let (low, high) = values
        .into_iter()
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    high / low >= ratio
}

/// Scale and unit that keep the largest duration between 1 and 1000.
fn time_axis(max_seconds: f64) -> (f64, &'static str) {
    match max_seconds {
        s if s >= 1.0 => (1.0, "s"),
        s if s >= 1e-3 => (1e3, "ms"),
        _ => (1e6, "µs"),
    }
}

/// Every chart the data of one scenario supports, in reading order.
pub fn scenario_charts(report: &RunReport, scenario: &ScenarioInfo) -> Vec<Chart> {
    let cases = query::scenario_cases(report, &scenario.name);
    let machine = format!(
        "{}, {} logical cores",
        report.machine.cpu_brand, report.machine.logical_cores
    );
    let builders: [(ChartKind, Builder); 7] = [
        (ChartKind::Speedup, speedup),
        (ChartKind::WallVsTasks, wall_vs_tasks),
        (ChartKind::Latency, latency),
        (ChartKind::CpuAndSwitches, cpu_and_switches),
        (ChartKind::MemoryPerUnit, memory_per_unit),
        (ChartKind::GilSpeedup, gil_speedup),
        (ChartKind::Convoy, convoy),
    ];
    builders
        .into_iter()
        .filter_map(|(kind, build)| {
            let (fixed, plot, legend) = build(report, scenario, &cases)?;
            Some(Chart {
                kind,
                title: format!("{}: {}", scenario.name, title(kind)),
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

fn title(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::Speedup => "speedup vs workers",
        ChartKind::WallVsTasks => "wall time vs number of tasks",
        ChartKind::Latency => "per-task latency percentiles",
        ChartKind::CpuAndSwitches => "CPU time vs wall time, and context switches",
        ChartKind::MemoryPerUnit => "memory per concurrency unit",
        ChartKind::GilSpeedup => "speedup with and without the GIL",
        ChartKind::Convoy => "IO latency under CPU contention",
    }
}

/// What a chart builder returns: the fixed dimensions for the subtitle, the
/// plot and its legend; `None` when the scenario has no data for the chart.
type Built = Option<(String, Plot, Vec<LegendEntry>)>;
type Builder = fn(&RunReport, &ScenarioInfo, &[&CaseResult]) -> Built;

fn speedup(report: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Workers);
    if !slice.has_lines() {
        return None;
    }
    let mut lines = Vec::new();
    let mut models = Vec::new();
    let mut ideal: Vec<(f64, f64)> = Vec::new();
    for series in &slice.series {
        let points: Vec<Point> = series
            .cases
            .iter()
            .filter_map(|case| {
                let speedup = query::speedup(report, case)?;
                if let Some(best) = case.ideal_speedup {
                    let x = case.workers as f64;
                    match ideal.iter_mut().find(|(ix, _)| *ix == x) {
                        Some((_, iy)) => *iy = iy.max(best),
                        None => ideal.push((x, best)),
                    }
                }
                Some(Point {
                    x: case.workers as f64,
                    y: speedup.median,
                    interval: Some((speedup.low, speedup.high)),
                })
            })
            .collect();
        if !points.is_empty() {
            models.push(series.model);
            lines.push(model_line(series.model, points));
        }
    }
    if lines.is_empty() {
        return None;
    }
    let mut legend = model_entries(models, Swatch::Solid);
    if !ideal.is_empty() {
        ideal.sort_by(|a, b| a.0.total_cmp(&b.0));
        lines.push(reference_line(ideal));
        legend.push(entry("ideal", INK, Swatch::Dashed));
    }
    // Worker sweeps double; from a tenfold span on, log-log axes keep the
    // small counts readable and the ideal line straight.
    let log = spans(
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.x)),
        10.0,
    );
    let plot = Plot::Lines(Lines {
        x_label: "workers".into(),
        y_label: "speedup over sequential (×)".into(),
        x_log: log,
        y_log: log,
        x_integer: true,
        lines,
    });
    Some((slice.fixed, plot, legend))
}

fn model_line(model: &str, points: Vec<Point>) -> Line {
    Line {
        colour: model_colour(model),
        dashed: false,
        connect: true,
        marker: Marker::Circle,
        points,
    }
}

fn reference_line(points: Vec<(f64, f64)>) -> Line {
    Line {
        colour: INK,
        dashed: true,
        connect: true,
        marker: Marker::None,
        points: points
            .into_iter()
            .map(|(x, y)| Point {
                x,
                y,
                interval: None,
            })
            .collect(),
    }
}

fn wall_vs_tasks(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Tasks);
    if !slice.has_lines() {
        return None;
    }
    let max_wall = slice
        .series
        .iter()
        .flat_map(|series| series.cases.iter().filter_map(|c| c.wall_s.map(|w| w.high)))
        .fold(0.0, f64::max);
    let (scale, unit) = time_axis(max_wall);
    let mut lines = Vec::new();
    let mut models = Vec::new();
    for series in &slice.series {
        let points: Vec<Point> = series
            .cases
            .iter()
            .filter_map(|case| {
                let wall = case.wall_s?;
                Some(Point {
                    x: case.tasks as f64,
                    y: wall.median * scale,
                    interval: Some((wall.low * scale, wall.high * scale)),
                })
            })
            .collect();
        if !points.is_empty() {
            models.push(series.model);
            lines.push(model_line(series.model, points));
        }
    }
    let points = || lines.iter().flat_map(|l| l.points.iter());
    let plot = Plot::Lines(Lines {
        x_label: "tasks per batch".into(),
        y_label: format!("wall time per batch ({unit})"),
        x_log: spans_decades(points().map(|p| p.x)),
        y_log: spans_decades(points().map(|p| p.y)),
        x_integer: true,
        lines,
    });
    Some((slice.fixed, plot, model_entries(models, Swatch::Solid)))
}

/// The fixed dimensions of the representative cases, for the subtitle.
fn representatives_note(cases: &[&CaseResult]) -> String {
    match cases.first() {
        Some(case) => format!(
            "each model at its most workers (w), tasks={}, {}",
            case.tasks,
            table::work(case)
        ),
        None => String::new(),
    }
}

fn row_label(case: &CaseResult) -> String {
    format!("{} (w={})", case.model, case.workers)
}

const SHADES: [f64; 3] = [1.0, 0.6, 0.3];

fn shade_entries(labels: [&str; 3]) -> Vec<LegendEntry> {
    labels
        .iter()
        .zip(SHADES)
        .map(|(label, opacity)| LegendEntry {
            opacity,
            ..entry(*label, MUTED, Swatch::Block)
        })
        .collect()
}

fn latency(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let reps: Vec<&CaseResult> = query::representatives(cases, &s.models)
        .into_iter()
        .filter(|case| case.task_latency_ms.is_some())
        .collect();
    if reps.is_empty() {
        return None;
    }
    let rows: Vec<BarRow> = reps
        .iter()
        .filter_map(|case| {
            let lat = case.task_latency_ms?;
            Some(BarRow {
                label: row_label(case),
                bars: [lat.p50, lat.p90, lat.p99]
                    .into_iter()
                    .zip(SHADES)
                    .map(|(value, opacity)| Bar {
                        colour: model_colour(&case.model),
                        opacity,
                        value,
                        interval: None,
                        text: None,
                    })
                    .collect(),
            })
        })
        .collect();
    let values = rows.iter().flat_map(|r| r.bars.iter().map(|b| b.value));
    let plot = Plot::Bars(Bars {
        value_label: "task latency, submit to result (ms)".into(),
        log: spans_decades(values),
        rows,
        reference: None,
    });
    let mut legend = model_entries(reps.iter().map(|c| c.model.as_str()), Swatch::Block);
    legend.extend(shade_entries(["p50", "p90", "p99"]));
    Some((representatives_note(&reps), plot, legend))
}

fn cpu_and_switches(report: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Workers);
    let cpu = |case: &CaseResult| Some(case.cpu_user_s? + case.cpu_sys_s?);
    let max = slice
        .series
        .iter()
        .flat_map(|series| series.cases.iter())
        .filter_map(|case| Some(cpu(case)?.max(case.wall_s?.median)))
        .fold(0.0, f64::max);
    if max <= 0.0 {
        return None;
    }
    let (scale, unit) = time_axis(max);
    let mut lines = Vec::new();
    let mut models = Vec::new();
    for series in &slice.series {
        let points: Vec<Point> = series
            .cases
            .iter()
            .filter_map(|case| {
                Some(Point {
                    x: case.wall_s?.median * scale,
                    y: cpu(case)? * scale,
                    interval: None,
                })
            })
            .collect();
        if !points.is_empty() {
            models.push(series.model);
            lines.push(Line {
                connect: false,
                ..model_line(series.model, points)
            });
        }
    }
    let max_wall = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.x))
        .fold(0.0, f64::max);
    let cores = report.machine.logical_cores;
    let mut legend = model_entries(models, Swatch::Block);
    lines.push(Line {
        colour: MUTED,
        ..reference_line(vec![(0.0, 0.0), (max_wall, max_wall)])
    });
    legend.push(entry("CPU = wall", MUTED, Swatch::Dashed));
    lines.push(reference_line(vec![
        (0.0, 0.0),
        (max_wall, max_wall * cores as f64),
    ]));
    legend.push(entry(format!("CPU = {cores} × wall"), INK, Swatch::Dashed));
    let scatter = Lines {
        x_label: format!("wall time per batch ({unit})"),
        y_label: format!("CPU time, user + sys ({unit})"),
        x_log: false,
        y_log: false,
        x_integer: false,
        lines,
    };
    let reps: Vec<&CaseResult> = query::representatives(cases, &s.models)
        .into_iter()
        .filter(|case| case.ctx_voluntary.is_some() && case.ctx_involuntary.is_some())
        .collect();
    let rows: Vec<BarRow> = reps
        .iter()
        .filter_map(|case| {
            let per_task = |n: u64| n as f64 / case.tasks.max(1) as f64;
            Some(BarRow {
                label: row_label(case),
                bars: [case.ctx_voluntary?, case.ctx_involuntary?]
                    .into_iter()
                    .zip(SHADES)
                    .map(|(n, opacity)| Bar {
                        colour: model_colour(&case.model),
                        opacity,
                        value: per_task(n),
                        interval: None,
                        text: None,
                    })
                    .collect(),
            })
        })
        .collect();
    if rows.is_empty() {
        return Some((slice.fixed, Plot::Lines(scatter), legend));
    }
    legend.extend(
        shade_entries(["voluntary", "involuntary", ""])
            .into_iter()
            .take(2),
    );
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.value))
        .collect();
    let bars = Bars {
        value_label: "context switches per task".into(),
        // A log axis cannot show zero switches.
        log: values.iter().all(|v| *v > 0.0) && spans_decades(values.iter().copied()),
        rows,
        reference: None,
    };
    Some((slice.fixed, Plot::Split(scatter, bars), legend))
}

/// Memory against units, every repetition a point with each model's fitted
/// line, beside the slope (memory per unit) with its 95% interval. Models
/// with a single unit count have no slope and appear in neither panel; the
/// table says why.
fn memory_per_unit(report: &RunReport, s: &ScenarioInfo, _: &[&CaseResult]) -> Built {
    let fits: Vec<query::MemoryPerUnit> = s
        .models
        .iter()
        .filter_map(|model| query::memory_per_unit(report, &s.name, model).ok())
        .collect();
    if fits.is_empty() {
        return None;
    }
    let mib = 1.0 / (1024.0 * 1024.0);
    let mut lines = Vec::new();
    for fit in &fits {
        let colour = model_colour(fit.model);
        lines.push(Line {
            colour,
            dashed: false,
            connect: false,
            marker: Marker::Circle,
            points: fit
                .points
                .iter()
                .map(|&(units, bytes)| Point {
                    x: units as f64,
                    y: bytes * mib,
                    interval: None,
                })
                .collect(),
        });
        let (lo, hi) = fit
            .points
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), p| {
                (lo.min(p.0 as f64), hi.max(p.0 as f64))
            });
        let on_line = |x: f64| (fit.intercept + fit.per_unit.median * x) * mib;
        lines.push(Line {
            colour,
            ..reference_line(vec![(lo, on_line(lo)), (hi, on_line(hi))])
        });
    }
    let xs = fits
        .iter()
        .flat_map(|f| f.points.iter().map(|p| p.0 as f64));
    let scatter = Lines {
        x_label: "units alive at once, min(workers, tasks)".into(),
        y_label: "peak memory of the batch (MiB)".into(),
        x_log: spans(xs, 16.0),
        y_log: false,
        x_integer: true,
        lines,
    };
    let max = fits
        .iter()
        .map(|f| f.per_unit.high.abs().max(f.per_unit.median.abs()))
        .fold(0.0, f64::max);
    let (scale, unit) = if max >= 1024.0 * 1024.0 {
        (mib, "MiB")
    } else {
        (1.0 / 1024.0, "KiB")
    };
    let rows: Vec<BarRow> = fits
        .iter()
        .map(|fit| BarRow {
            label: format!("{} ({})", fit.model, fit.metric.label()),
            bars: vec![Bar {
                colour: model_colour(fit.model),
                opacity: 1.0,
                value: fit.per_unit.median * scale,
                interval: Some((fit.per_unit.low * scale, fit.per_unit.high * scale)),
                text: Some(table::bytes_signed(fit.per_unit.median)),
            }],
        })
        .collect();
    let bars = Bars {
        value_label: format!("memory per unit: slope across the sweep ({unit})"),
        // A slope may be zero or negative within its noise: no log axis.
        log: false,
        rows,
        reference: None,
    };
    let legend = model_entries(fits.iter().map(|f| f.model), Swatch::Block);
    let fixed = fits
        .first()
        .and_then(|f| f.cases.first())
        .map(|case| format!("tasks={}, {}", case.tasks, table::work(case)))
        .unwrap_or_default();
    Some((fixed, Plot::Split(scatter, bars), legend))
}

/// One row per model that accepts the GIL and ran under it: the native
/// model, its emulated-GIL variant and its real-CPython twin, in family order.
fn gil_rows() -> Vec<(&'static str, Vec<ModelId>)> {
    let mut kinds: Vec<ModelKind> = ModelKind::ALL
        .into_iter()
        .filter(|k| k.accepts_gil())
        .collect();
    kinds.sort_by_key(|k| k.family());
    kinds
        .into_iter()
        .map(|kind| {
            let mut members = vec![ModelId::native(kind), ModelId::under_gil(kind)];
            members.extend(kind.cpython_twin().map(ModelId::native));
            (kind.family().label(), members)
        })
        .collect()
}

fn gil_speedup(report: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let reps = query::representatives(cases, &s.models);
    let under_gil = |case: &CaseResult| registry::parse(&case.model).is_some_and(|m| m.gil);
    if !reps.iter().any(|case| under_gil(case)) {
        return None;
    }
    let mut rows = Vec::new();
    let mut models = Vec::new();
    let mut ideal: f64 = 0.0;
    for (family, members) in gil_rows() {
        let present: Vec<&CaseResult> = members
            .iter()
            .filter_map(|model| reps.iter().copied().find(|case| model.is(&case.model)))
            .collect();
        // A family without its GIL variant has nothing to compare.
        if !present.iter().any(|case| under_gil(case)) {
            continue;
        }
        let bars: Vec<Bar> = present
            .into_iter()
            .filter_map(|case| {
                let model = case.model.as_str();
                let speedup = query::speedup(report, case)?;
                ideal = ideal.max(case.ideal_speedup.unwrap_or(0.0));
                models.push(model);
                Some(Bar {
                    colour: model_colour(model),
                    opacity: 1.0,
                    value: speedup.median,
                    interval: Some((speedup.low, speedup.high)),
                    text: Some(format!(
                        "{}× (w={})",
                        table::significant(speedup.median),
                        case.workers
                    )),
                })
            })
            .collect();
        if !bars.is_empty() {
            rows.push(BarRow {
                label: family.to_string(),
                bars,
            });
        }
    }
    if rows.is_empty() {
        return None;
    }
    let plot = Plot::Bars(Bars {
        value_label: "speedup over sequential (×)".into(),
        log: false,
        rows,
        reference: (ideal > 0.0).then(|| (format!("ideal {}×", table::significant(ideal)), ideal)),
    });
    let mut legend = model_entries(models, Swatch::Block);
    if ideal > 0.0 {
        legend.push(entry("ideal", INK, Swatch::Dashed));
    }
    Some((representatives_note(&reps), plot, legend))
}

const CPU_THREADS: &str = "cpu_threads";

fn convoy(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Param(CPU_THREADS));
    if !slice.has_lines() {
        return None;
    }
    let mut lines = Vec::new();
    let mut models = Vec::new();
    for series in slice.series.iter().filter(|s| !query::is_baseline(s.model)) {
        let point = |case: &&CaseResult, p99: bool| {
            let lat = case.task_latency_ms?;
            Some(Point {
                x: case.params.get(CPU_THREADS).copied()?,
                y: if p99 { lat.p99 } else { lat.p50 },
                interval: None,
            })
        };
        let p50: Vec<Point> = series
            .cases
            .iter()
            .filter_map(|c| point(c, false))
            .collect();
        let p99: Vec<Point> = series.cases.iter().filter_map(|c| point(c, true)).collect();
        if p50.is_empty() {
            continue;
        }
        models.push(series.model);
        lines.push(model_line(series.model, p50));
        lines.push(Line {
            dashed: true,
            marker: Marker::Triangle,
            ..model_line(series.model, p99)
        });
    }
    if lines.is_empty() {
        return None;
    }
    let mut legend = model_entries(models, Swatch::Solid);
    legend.push(entry("p50", MUTED, Swatch::Solid));
    legend.push(entry("p99", MUTED, Swatch::Dashed));
    let ys = lines.iter().flat_map(|l| l.points.iter().map(|p| p.y));
    let plot = Plot::Lines(Lines {
        x_label: "busy CPU threads beside the IO tasks".into(),
        y_label: "IO thread's round trip (ms)".into(),
        x_log: false,
        y_log: spans_decades(ys),
        x_integer: true,
        lines,
    });
    Some((slice.fixed, plot, legend))
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> anyhow::Result<String> {
        crate::fonts::register();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present()?;
        }
        Ok(svg)
    }

    /// The chart as PNG bytes.
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        crate::fonts::register();
        let mut rgb = vec![0_u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present()?;
        }
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Charts are flat colours: the fast filter compresses them well enough.
        encoder.set_compression(png::Compression::Fast);
        encoder.write_header()?.write_image_data(&rgb)?;
        Ok(png)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER_HEIGHT);
        header.draw_text(
            &self.title,
            &(FONT, 22).into_font().style(FontStyle::Bold).color(&INK),
            (16, 10),
        )?;
        header.draw_text(
            &self.subtitle,
            &(FONT, 14).into_font().color(&MUTED),
            (16, 40),
        )?;
        let (plot, legend) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
        draw_legend(&legend, &self.legend)?;
        match &self.plot {
            Plot::Lines(lines) => draw_lines(&plot, lines),
            Plot::Bars(bars) => draw_bars(&plot, bars),
            Plot::Split(lines, bars) => {
                let (left, right) = plot.split_horizontally((WIDTH - LEGEND_WIDTH) / 2);
                draw_lines(&left, lines)?;
                draw_bars(&right, bars)
            }
        }
    }
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let text = (FONT, 14).into_font().color(&INK);
    for (idx, legend) in entries.iter().enumerate() {
        let y = 24 + 22 * idx as i32;
        let colour = legend.colour.mix(legend.opacity);
        match legend.swatch {
            Swatch::Block => {
                area.draw(&Rectangle::new([(4, y - 6), (26, y + 6)], colour.filled()))?
            }
            Swatch::Solid => {
                area.draw(&PathElement::new(
                    vec![(2, y), (28, y)],
                    colour.stroke_width(3),
                ))?;
            }
            Swatch::Dashed => {
                for x in [2, 12, 22] {
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + 6, y)],
                        colour.stroke_width(3),
                    ))?;
                }
            }
        }
        area.draw_text(
            &legend.label,
            &text.pos(Pos::new(HPos::Left, VPos::Center)),
            (36, y),
        )?;
    }
    Ok(())
}

/// Axis bounds with some room around the data; zero-based for linear axes.
fn bounds(values: impl IntoIterator<Item = f64>, log: bool, from_zero: bool) -> (f64, f64) {
    let (low, high) = values
        .into_iter()
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !low.is_finite() {
        return (if log { 0.1 } else { 0.0 }, 1.0);
    }
    if log {
        (low / 1.5, high * 1.5)
    } else if from_zero {
        (low.min(0.0), if high > 0.0 { high * 1.1 } else { 1.0 })
    } else {
        let pad = if high > low { (high - low) * 0.06 } else { 0.5 };
        (low - pad, high + pad)
    }
}

fn draw_lines<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, plot: &Lines) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let points = || plot.lines.iter().flat_map(|l| l.points.iter());
    let (x0, x1) = bounds(points().map(|p| p.x), plot.x_log, false);
    let ys = points().flat_map(|p| [Some(p.y), p.interval.map(|i| i.0), p.interval.map(|i| i.1)]);
    let (y0, y1) = bounds(ys.flatten(), plot.y_log, true);
    // Log axes get ticks at the measured x values (sweeps are usually powers
    // of two) or at 1-2-5 steps, since plotters would label decades only.
    let xs: Vec<f64> = points().map(|p| p.x).collect();
    let x_ticks = || log_ticks(x0, x1, &xs);
    let y_ticks = || log_ticks(y0, y1, &[]);
    match (plot.x_log, plot.y_log) {
        (false, false) => lines_in(area, plot, x0..x1, y0..y1),
        (true, false) => lines_in(
            area,
            plot,
            (x0..x1).log_scale().with_key_points(x_ticks()),
            y0..y1,
        ),
        (false, true) => lines_in(
            area,
            plot,
            x0..x1,
            (y0..y1).log_scale().with_key_points(y_ticks()),
        ),
        (true, true) => lines_in(
            area,
            plot,
            (x0..x1).log_scale().with_key_points(x_ticks()),
            (y0..y1).log_scale().with_key_points(y_ticks()),
        ),
    }
}

/// Ticks for a log axis over `low..high`: the distinct `measured` values when
/// there are a few, else 1, 2 and 5 times powers of ten (thinned to decades
/// when those would crowd the axis).
fn log_ticks(low: f64, high: f64, measured: &[f64]) -> Vec<f64> {
    let mut distinct: Vec<f64> = measured.iter().copied().filter(|v| *v > 0.0).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if (2..=12).contains(&distinct.len()) {
        return distinct;
    }
    let decades = (low.log10().floor() as i32)..=(high.log10().ceil() as i32);
    let steps: &[f64] = if decades.clone().count() > 4 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    decades
        .flat_map(|exp| steps.iter().map(move |step| step * 10f64.powi(exp)))
        .filter(|v| *v >= low && *v <= high)
        .collect()
}

/// Tick labels: at most three significant digits, no trailing zeros.
fn tick(value: f64) -> String {
    let text = table::significant(value);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn axis_label(value: f64, integer: bool) -> String {
    if integer && value.fract().abs() > 1e-9 {
        String::new()
    } else {
        tick(value)
    }
}

fn lines_in<DB, X, Y>(area: &DrawingArea<DB, Shift>, plot: &Lines, x: X, y: Y) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(76)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(plot.x_label.as_str())
        .y_desc(plot.y_label.as_str())
        // Few ticks: the left panel of a split chart is only 400 pixels wide.
        .x_labels(6)
        .x_label_formatter(&|v| axis_label(*v, plot.x_integer))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 14).into_font().color(&INK))
        .axis_desc_style((FONT, 15).into_font().color(&INK))
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .draw()?;
    for line in &plot.lines {
        let style = line.colour.stroke_width(2);
        let coords = || line.points.iter().map(|p| (p.x, p.y));
        if line.connect && line.dashed {
            chart.draw_series(DashedLineSeries::new(coords(), 9, 6, style))?;
        } else if line.connect {
            chart.draw_series(LineSeries::new(coords(), style))?;
        }
        chart.draw_series(line.points.iter().filter_map(|p| {
            let (low, high) = p.interval?;
            Some(ErrorBar::new_vertical(
                p.x,
                low,
                p.y,
                high,
                line.colour.stroke_width(1),
                10,
            ))
        }))?;
        match line.marker {
            Marker::None => {}
            Marker::Circle => {
                chart.draw_series(coords().map(|c| Circle::new(c, 4, line.colour.filled())))?;
            }
            Marker::Triangle => {
                chart.draw_series(
                    coords().map(|c| TriangleMarker::new(c, 5, line.colour.filled())),
                )?;
            }
        }
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, plot: &Bars) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let values = plot.rows.iter().flat_map(|row| {
        row.bars.iter().flat_map(|bar| {
            [
                Some(bar.value),
                bar.interval.map(|i| i.1),
                bar.text.as_ref().map(|_| bar.value * 1.25),
            ]
        })
    });
    let reference = plot.reference.as_ref().map(|(_, v)| *v);
    let (x0, x1) = bounds(values.flatten().chain(reference), plot.log, true);
    if plot.log {
        let ticks = log_ticks(x0, x1, &[]);
        bars_in(area, plot, (x0..x1).log_scale().with_key_points(ticks), x0)
    } else {
        bars_in(area, plot, x0..x1, x0)
    }
}

/// Rows run top to bottom in data order; the bars of a row share its height.
fn bars_in<DB, X>(area: &DrawingArea<DB, Shift>, plot: &Bars, x: X, base: f64) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let n_rows = plot.rows.len();
    let row_y = |row_idx: usize| (n_rows - 1 - row_idx) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(170)
        .build_cartesian_2d(x, -0.5..(n_rows as f64 - 0.5))?;
    let label = |v: &f64| {
        let idx = v.round();
        if (v - idx).abs() > 1e-6 || idx < 0.0 || idx as usize >= n_rows {
            return String::new();
        }
        plot.rows[n_rows - 1 - idx as usize].label.clone()
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n_rows)
        .y_label_formatter(&label)
        .x_label_formatter(&|v| tick(*v))
        .x_desc(plot.value_label.as_str())
        .label_style((FONT, 14).into_font().color(&INK))
        .axis_desc_style((FONT, 15).into_font().color(&INK))
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .draw()?;
    let text = (FONT, 13).into_font().color(&INK);
    for (row_idx, row) in plot.rows.iter().enumerate() {
        let slot = 0.8 / row.bars.len() as f64;
        for (bar_idx, bar) in row.bars.iter().enumerate() {
            let top = row_y(row_idx) + 0.4 - slot * bar_idx as f64;
            let bottom = top - slot * 0.88;
            let middle = (top + bottom) / 2.0;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(base, bottom), (bar.value, top)],
                bar.colour.mix(bar.opacity).filled(),
            )))?;
            if let Some((low, high)) = bar.interval {
                chart.draw_series(std::iter::once(ErrorBar::new_horizontal(
                    middle,
                    low,
                    bar.value,
                    high,
                    INK.stroke_width(1),
                    8,
                )))?;
            }
            if let Some(label) = &bar.text {
                let end = bar.interval.map_or(bar.value, |i| i.1);
                chart.draw_series(std::iter::once(
                    EmptyElement::at((end, middle))
                        + Text::new(
                            label.clone(),
                            (6, 0),
                            text.pos(Pos::new(HPos::Left, VPos::Center)),
                        ),
                ))?;
            }
        }
    }
    if let Some((label, value)) = &plot.reference {
        let top = n_rows as f64 - 0.5;
        chart.draw_series(DashedLineSeries::new(
            [(*value, -0.5), (*value, top)],
            9,
            6,
            INK.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((*value, top))
                + Text::new(
                    label.clone(),
                    (-6, 4),
                    text.pos(Pos::new(HPos::Right, VPos::Top)),
                ),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let Some(Plot::Lines(speedup)) = charts
            .iter()
            .find(|c| c.kind == ChartKind::Speedup)
            .map(|c| &c.plot)
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
        let kinds: Vec<ChartKind> = report
            .scenarios
            .iter()
            .flat_map(|s| scenario_charts(&report, s))
            .map(|c| c.kind)
            .collect();
        assert!(!kinds.contains(&ChartKind::Latency));
        assert!(!kinds.contains(&ChartKind::MemoryPerUnit));
        assert!(!kinds.contains(&ChartKind::Convoy));
        assert!(kinds.contains(&ChartKind::Speedup));
    }
}
