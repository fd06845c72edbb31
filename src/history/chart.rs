//! Draws one history `Series` with plotters: the median per run as a line
//! with markers, its 95% CI as a shaded band and error bars. Data in,
//! bytes out (SVG text or PNG); the caller writes the files.

use super::Series;
use crate::compare::metric;
use plotters::coord::Shift;
use plotters::prelude::*;

const SIZE: (u32, u32) = (960, 420);
/// At most this many run labels on the x axis, so that they stay legible.
const MAX_X_LABELS: usize = 8;
/// Headroom above the highest CI bound, as a fraction of it.
const Y_HEADROOM: f64 = 0.1;

/// The chart as an SVG document; `labels[run_idx]` names each run.
pub fn svg(series: &Series, labels: &[String]) -> anyhow::Result<String> {
    let mut text = String::new();
    draw(
        SVGBackend::with_string(&mut text, SIZE).into_drawing_area(),
        series,
        labels,
    )?;
    Ok(text)
}

/// The chart as a PNG file's bytes.
pub fn png(series: &Series, labels: &[String]) -> anyhow::Result<Vec<u8>> {
    let (width, height) = SIZE;
    let mut rgb = vec![0; width as usize * height as usize * 3];
    draw(
        BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area(),
        series,
        labels,
    )?;
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(bytes)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &Series,
    labels: &[String],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    crate::fonts::register();
    root.fill(&WHITE)?;
    let n_runs = labels.len().max(1);
    let y_max = series.points.iter().map(|p| p.high).fold(0.0, f64::max);
    // Starting at zero shows a change at its true size; an all-zero series
    // still needs a non-empty range.
    let y_top = if y_max > 0.0 {
        y_max * (1.0 + Y_HEADROOM)
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(series.key.to_string(), ("sans-serif", 15))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(84)
        .build_cartesian_2d(-0.5..(n_runs as f64 - 0.5), 0.0..y_top)?;
    let metric = series.metric;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n_runs.min(MAX_X_LABELS))
        .x_label_formatter(&|x| run_label_at(labels, *x))
        .y_label_formatter(&|y| metric::format(metric, *y))
        .x_desc("run, oldest first (start time, UTC)")
        .y_desc(metric::description(metric))
        .label_style(("sans-serif", 12))
        .draw()?;

    let color = BLUE;
    let x = |run_idx: usize| run_idx as f64;
    if series.points.len() > 1 {
        let band: Vec<(f64, f64)> = series
            .points
            .iter()
            .map(|p| (x(p.run_idx), p.high))
            .chain(series.points.iter().rev().map(|p| (x(p.run_idx), p.low)))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15))))?;
    }
    chart.draw_series(
        series
            .points
            .iter()
            .map(|p| PathElement::new(vec![(x(p.run_idx), p.low), (x(p.run_idx), p.high)], color)),
    )?;
    chart.draw_series(LineSeries::new(
        series.points.iter().map(|p| (x(p.run_idx), p.median)),
        color.stroke_width(2),
    ))?;
    chart.draw_series(
        series
            .points
            .iter()
            .map(|p| Circle::new((x(p.run_idx), p.median), 4, color.filled())),
    )?;
    root.present()?;
    Ok(())
}

/// The run label for an axis position, or nothing between runs.
fn run_label_at(labels: &[String], x: f64) -> String {
    let nearest = x.round();
    if (x - nearest).abs() > 1e-6 || nearest < 0.0 {
        return String::new();
    }
    labels.get(nearest as usize).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::CaseKey;
    use crate::compare::Metric;
    use crate::history::TrendPoint;
    use crate::results::CaseResult;

    fn series() -> Series {
        let case: CaseResult = serde_json::from_value(serde_json::json!({
            "scenario": "cpu-scaling", "workload": "cpu", "kernel": "hash", "model": "threads",
            "workers": 2, "tasks": 8, "task_ms": 10.0, "params": {}, "status": "ok",
            "wall_s": null, "samples_wall_s": [], "startup_s": null, "speedup": null,
            "ideal_speedup": null, "efficiency": null, "cpu_user_s": null, "cpu_sys_s": null,
            "peak_rss_bytes": null, "harness_peak_rss_bytes": null, "children_peak_rss_bytes": null,
            "ctx_voluntary": null, "ctx_involuntary": null, "task_latency_ms": null,
            "queue_wait_ms": null, "task_run_ms": null, "gil": null, "repetitions": []
        }))
        .unwrap();
        Series {
            key: CaseKey::of(&case),
            metric: Metric::Wall,
            points: vec![
                TrendPoint {
                    run_idx: 0,
                    median: 0.041,
                    low: 0.040,
                    high: 0.042,
                },
                TrendPoint {
                    run_idx: 2,
                    median: 0.053,
                    low: 0.052,
                    high: 0.055,
                },
            ],
        }
    }

    fn labels() -> Vec<String> {
        ["2025-03-01 10:00", "2025-03-02 10:00", "2025-03-03 10:00"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn svg_names_the_case_and_the_runs() {
        let text = svg(&series(), &labels()).unwrap();
        assert!(text.starts_with("<svg"));
        assert!(text.contains("cpu-scaling/threads/workers=2"));
        assert!(text.contains("2025-03-03 10:00"));
    }

    #[test]
    fn png_is_a_png_of_the_chart_size() {
        let bytes = png(&series(), &labels()).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(bytes.as_slice());
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), SIZE);
    }

    #[test]
    fn axis_labels_only_at_whole_runs() {
        assert_eq!(run_label_at(&labels(), 1.0), "2025-03-02 10:00");
        assert_eq!(run_label_at(&labels(), 0.5), "");
        assert_eq!(run_label_at(&labels(), 7.0), "");
    }
}
