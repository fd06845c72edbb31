//! The renderers every chart shares: the plot data a definition builds
//! (lines over a sweep, rows of bars, the two side by side), a few builders
//! of that data from cases (model lines across a sweep, shaded bars per
//! case), and the drawing, generic over the plotters backend so the SVG and
//! the PNG of a chart come from the same code. Knows no chart by name.

use super::super::palette::model_colour;
use super::super::query::Series;
use super::super::table;
use crate::results::CaseResult;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 600;
const HEADER_HEIGHT: u32 = 64;
const LEGEND_WIDTH: u32 = 200;
const FONT: &str = "sans-serif";
pub(super) const INK: RGBColor = RGBColor(40, 40, 40);
pub(super) const MUTED: RGBColor = RGBColor(100, 100, 100);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// A chart ready to draw: texts, legend and plotted values.
#[derive(Debug)]
pub struct Chart {
    /// The chart's part of its file name: `<scenario slug>-<slug>.svg`.
    pub slug: &'static str,
    pub title: String,
    pub subtitle: String,
    pub(super) legend: Vec<LegendEntry>,
    pub(super) plot: Plot,
}

#[derive(Debug)]
pub(super) enum Plot {
    Lines(Lines),
    Bars(Bars),
    /// Two panels side by side.
    Split(Lines, Bars),
    /// Two line panels side by side (the C10K chart).
    Pair(Lines, Lines),
    /// One titled line panel per machine, on common axes, two to a row
    /// (`parabench report` of several machines).
    Panels(Vec<Panel>),
}

/// One panel of `Plot::Panels`: its title, a line under it (what was held
/// fixed) and its lines.
#[derive(Debug)]
pub(super) struct Panel {
    pub(super) title: String,
    pub(super) note: String,
    pub(super) lines: Lines,
}

/// Height of a row of panels when there are more than two (two rows or more).
const PANEL_ROW_HEIGHT: u32 = 340;
/// Height of a panel's title strip.
const PANEL_TITLE_HEIGHT: u32 = 40;

#[derive(Debug)]
pub(super) struct Lines {
    pub(super) x_label: String,
    pub(super) y_label: String,
    pub(super) x_log: bool,
    pub(super) y_log: bool,
    /// Integer axes (workers, tasks) label only whole numbers.
    pub(super) x_integer: bool,
    pub(super) lines: Vec<Line>,
}

#[derive(Debug)]
pub(super) struct Line {
    pub(super) colour: RGBColor,
    pub(super) dashed: bool,
    /// False for a scatter of points.
    pub(super) connect: bool,
    pub(super) marker: Marker,
    pub(super) points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Marker {
    None,
    Circle,
    Triangle,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    pub(super) x: f64,
    pub(super) y: f64,
    /// The 95% interval of `y`, drawn as an error bar.
    pub(super) interval: Option<(f64, f64)>,
}

/// Horizontal bars, grouped by row (one row per model or family).
#[derive(Debug)]
pub(super) struct Bars {
    pub(super) value_label: String,
    pub(super) log: bool,
    pub(super) rows: Vec<BarRow>,
    /// A dashed vertical line, such as the ideal speedup.
    pub(super) reference: Option<(String, f64)>,
}

#[derive(Debug)]
pub(super) struct BarRow {
    pub(super) label: String,
    pub(super) bars: Vec<Bar>,
}

#[derive(Debug)]
pub(super) struct Bar {
    pub(super) colour: RGBColor,
    /// Lighter shades tell apart bars of one model (p50, p90, p99).
    pub(super) opacity: f64,
    pub(super) value: f64,
    pub(super) interval: Option<(f64, f64)>,
    pub(super) text: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) colour: RGBColor,
    pub(super) opacity: f64,
    pub(super) swatch: Swatch,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Swatch {
    Solid,
    Dashed,
    Block,
}

pub(super) fn entry(label: impl Into<String>, colour: RGBColor, swatch: Swatch) -> LegendEntry {
    LegendEntry {
        label: label.into(),
        colour,
        opacity: 1.0,
        swatch,
    }
}

pub(super) fn model_entries<'a>(
    models: impl IntoIterator<Item = &'a str>,
    swatch: Swatch,
) -> Vec<LegendEntry> {
    models
        .into_iter()
        .map(|model| entry(model, model_colour(model), swatch))
        .collect()
}

/// True when values span two decades or more, where a log axis reads better.
pub(super) fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
    spans(values, 100.0)
}

/// True when the largest positive value is at least `ratio` times the smallest.
pub(super) fn spans(values: impl IntoIterator<Item = f64>, ratio: f64) -> bool {
    let (low, high) = values
        .into_iter()
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    high / low >= ratio
}

/// Scale and unit that keep the largest duration between 1 and 1000.
pub(super) fn time_axis(max_seconds: f64) -> (f64, &'static str) {
    match max_seconds {
        s if s >= 1.0 => (1.0, "s"),
        s if s >= 1e-3 => (1e3, "ms"),
        _ => (1e6, "µs"),
    }
}

pub(super) fn model_line(model: &str, points: Vec<Point>) -> Line {
    Line {
        colour: model_colour(model),
        dashed: false,
        connect: true,
        marker: Marker::Circle,
        points,
    }
}

pub(super) fn reference_line(points: Vec<(f64, f64)>) -> Line {
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

pub(super) fn row_label(case: &CaseResult) -> String {
    format!("{} (w={})", case.model, case.workers)
}

pub(super) const SHADES: [f64; 3] = [1.0, 0.6, 0.3];

pub(super) fn shade_entries(labels: [&str; 3]) -> Vec<LegendEntry> {
    labels
        .iter()
        .zip(SHADES)
        .map(|(label, opacity)| LegendEntry {
            opacity,
            ..entry(*label, MUTED, Swatch::Block)
        })
        .collect()
}

/// One line per model of a sweep, through the points that `point` finds in
/// its cases, in the sweep's order; a model without any point is left out.
pub(super) fn sweep_lines<'a>(
    series: &[Series<'a>],
    mut point: impl FnMut(&CaseResult) -> Option<Point>,
) -> Vec<(&'a str, Line)> {
    series
        .iter()
        .filter_map(|series| {
            let points: Vec<Point> = series.cases.iter().filter_map(|c| point(c)).collect();
            (!points.is_empty()).then(|| (series.model, model_line(series.model, points)))
        })
        .collect()
}

/// A distribution per case: one row per case that has `values`, one bar
/// per value in lighter and lighter shades of its model's colour (p50, p90,
/// p99; voluntary and involuntary switches).
pub(super) fn shaded_rows<const N: usize>(
    cases: &[&CaseResult],
    values: impl Fn(&CaseResult) -> Option<[f64; N]>,
) -> Vec<BarRow> {
    cases
        .iter()
        .filter_map(|case| {
            Some(BarRow {
                label: row_label(case),
                bars: values(case)?
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
        .collect()
}

impl Chart {
    /// Pixels high: `HEIGHT`, or taller for more than two panels.
    fn height(&self) -> u32 {
        match &self.plot {
            Plot::Panels(panels) if panels.len() > 2 => {
                HEADER_HEIGHT + panels.len().div_ceil(2) as u32 * PANEL_ROW_HEIGHT
            }
            _ => HEIGHT,
        }
    }

    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> anyhow::Result<String> {
        crate::fonts::register();
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (WIDTH, self.height())).into_drawing_area();
            self.draw(&root)?;
            root.present()?;
        }
        Ok(svg)
    }

    /// The chart as PNG bytes.
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        crate::fonts::register();
        let height = self.height();
        let mut rgb = vec![0_u8; (WIDTH * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, height)).into_drawing_area();
            self.draw(&root)?;
            root.present()?;
        }
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, WIDTH, height);
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
            Plot::Pair(left_lines, right_lines) => {
                let (left, right) = plot.split_horizontally((WIDTH - LEGEND_WIDTH) / 2);
                draw_lines(&left, left_lines)?;
                draw_lines(&right, right_lines)
            }
            Plot::Panels(panels) => draw_panels(&plot, panels),
        }
    }
}

/// Panels two to a row, every one on the same axes so that the machines
/// read against each other; a panel without lines says so.
fn draw_panels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &[Panel],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1);
    let all = || {
        panels
            .iter()
            .flat_map(|p| p.lines.lines.iter().flat_map(|l| &l.points))
    };
    let (x_log, y_log) = panels
        .first()
        .map_or((false, false), |p| (p.lines.x_log, p.lines.y_log));
    let x = bounds(all().map(|p| p.x), x_log, false);
    let ys = all().flat_map(|p| [Some(p.y), p.interval.map(|i| i.0), p.interval.map(|i| i.1)]);
    let y = bounds(ys.flatten(), y_log, true);
    let xs: Vec<f64> = all().map(|p| p.x).collect();
    for (panel, cell) in panels.iter().zip(area.split_evenly((rows, cols))) {
        let (title, body) = cell.split_vertically(PANEL_TITLE_HEIGHT);
        title.draw_text(
            &panel.title,
            &(FONT, 13).into_font().style(FontStyle::Bold).color(&INK),
            (16, 4),
        )?;
        title.draw_text(&panel.note, &(FONT, 12).into_font().color(&MUTED), (16, 22))?;
        if panel.lines.lines.is_empty() {
            body.draw_text(
                "no speedup sweep on this machine",
                &(FONT, 14).into_font().color(&MUTED),
                (16, 16),
            )?;
            continue;
        }
        draw_lines_within(&body, &panel.lines, x, y, &xs)?;
    }
    Ok(())
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
    let x = bounds(points().map(|p| p.x), plot.x_log, false);
    let ys = points().flat_map(|p| [Some(p.y), p.interval.map(|i| i.0), p.interval.map(|i| i.1)]);
    let y = bounds(ys.flatten(), plot.y_log, true);
    let xs: Vec<f64> = points().map(|p| p.x).collect();
    draw_lines_within(area, plot, x, y, &xs)
}

/// Draws `plot` on the given axis bounds; `xs` are the measured x values a
/// log axis ticks at.
fn draw_lines_within<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &Lines,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    xs: &[f64],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    // Log axes get ticks at the measured x values (sweeps are usually powers
    // of two) or at 1-2-5 steps, since plotters would label decades only.
    let x_ticks = || log_ticks(x0, x1, xs);
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
pub(super) fn log_ticks(low: f64, high: f64, measured: &[f64]) -> Vec<f64> {
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
