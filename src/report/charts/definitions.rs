//! Every chart of a scenario, one entry each in `CHARTS`: its file name,
//! title, the scenarios it applies to, and how its series come out of the
//! cases (the axes and values it plots). Drawing is `plot`'s business.

use super::plot::{
    Bar, BarRow, Bars, INK, LegendEntry, Line, Lines, MUTED, Marker, Plot, Point, Swatch, entry,
    model_entries, reference_line, shade_entries, shaded_rows, spans, spans_decades, sweep_lines,
    time_axis,
};
use crate::model::{ModelId, ModelKind, registry};
use crate::report::palette::model_colour;
use crate::report::query::{self, Axis};
use crate::report::table;
use crate::results::{CaseResult, RunReport, ScenarioInfo};

/// One chart a scenario may have.
pub(super) struct ChartDef {
    /// The chart's part of its file name: `<scenario slug>-<slug>.svg`.
    pub(super) slug: &'static str,
    /// Follows the scenario's name in the chart's title.
    pub(super) title: &'static str,
    /// Whether the chart can apply to the scenario at all; it is still left
    /// out when `build` finds no data.
    pub(super) applies: fn(&ScenarioInfo, &[&CaseResult]) -> bool,
    pub(super) build: Builder,
}

/// What a chart builder returns: the fixed dimensions for the subtitle, the
/// plot and its legend; `None` when the scenario has no data for the chart.
pub(super) type Built = Option<(String, Plot, Vec<LegendEntry>)>;
pub(super) type Builder = fn(&RunReport, &ScenarioInfo, &[&CaseResult]) -> Built;

/// Every chart, in reading order. File names are a contract (the page, the
/// tests and `.ci/check-report` name them): change a slug only with them.
pub(super) const CHARTS: [ChartDef; 16] = [
    ChartDef {
        slug: "speedup",
        title: "speedup vs workers",
        applies: any,
        build: speedup,
    },
    ChartDef {
        slug: "wall-vs-tasks",
        title: "wall time vs number of tasks",
        applies: any,
        build: wall_vs_tasks,
    },
    ChartDef {
        slug: "latency",
        title: "per-task latency percentiles",
        applies: any,
        build: latency,
    },
    ChartDef {
        slug: "cpu-and-switches",
        title: "CPU time vs wall time, and context switches",
        applies: any,
        build: cpu_and_switches,
    },
    ChartDef {
        slug: "memory-per-unit",
        title: "memory per concurrency unit",
        applies: any,
        build: memory_per_unit,
    },
    ChartDef {
        slug: "gil-speedup",
        title: "speedup with and without the GIL",
        applies: runs_under_gil,
        build: gil_speedup,
    },
    ChartDef {
        slug: "convoy",
        title: "IO latency under CPU contention",
        applies: has_cpu_threads,
        build: convoy,
    },
    ChartDef {
        slug: "start-up",
        title: "worker start-up vs the parent's size, by start method",
        applies: has_parent_mib,
        build: start_up,
    },
    ChartDef {
        slug: "coordination-throughput",
        title: "throughput against units (lock: sections/s; queue: items/s)",
        applies: super::coordination::applies,
        build: super::coordination::throughput,
    },
    ChartDef {
        slug: "coordination-latency",
        title: "lock waits, or a queue's put-to-get latency",
        applies: super::coordination::applies,
        build: super::coordination::latency,
    },
    ChartDef {
        slug: "event-latency",
        title: "event wake-up latency per model",
        applies: super::wake::applies_event,
        build: super::wake::event_latency,
    },
    ChartDef {
        slug: "timer-lateness",
        title: "timer lateness against the number of timers, per mechanism",
        applies: super::wake::applies_timer,
        build: super::wake::timer_lateness,
    },
    ChartDef {
        slug: "efficiency-cpu",
        title: "efficiency vs task duration, CPU-bound tasks (METG)",
        applies: super::granularity::applies,
        build: super::granularity::cpu,
    },
    ChartDef {
        slug: "efficiency-sleep",
        title: "efficiency vs task duration, sleep tasks (METG)",
        applies: super::granularity::applies,
        build: super::granularity::sleep,
    },
    ChartDef {
        slug: "c10k",
        title: "throughput and p99 against connections, per IO model",
        applies: super::io_models::applies,
        build: super::io_models::c10k,
    },
    ChartDef {
        slug: "coroutine-costs",
        title: "coroutines, threads and tasks: memory per unit, create and switch",
        applies: super::coroutine::applies,
        build: super::coroutine::costs,
    },
];

fn any(_: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    true
}

fn runs_under_gil(s: &ScenarioInfo, _: &[&CaseResult]) -> bool {
    s.models
        .iter()
        .any(|m| registry::parse(m).is_some_and(|m| m.gil))
}

const CPU_THREADS: &str = "cpu_threads";

fn has_cpu_threads(_: &ScenarioInfo, cases: &[&CaseResult]) -> bool {
    cases.iter().any(|c| c.params.contains_key(CPU_THREADS))
}

pub(super) fn speedup(report: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Workers);
    if !slice.has_lines() {
        return None;
    }
    let mut ideal: Vec<(f64, f64)> = Vec::new();
    let drawn = sweep_lines(&slice.series, |case| {
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
    });
    if drawn.is_empty() {
        return None;
    }
    let (models, mut lines): (Vec<&str>, Vec<Line>) = drawn.into_iter().unzip();
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
    let (models, lines): (Vec<&str>, Vec<Line>) = sweep_lines(&slice.series, |case| {
        let wall = case.wall_s?;
        Some(Point {
            x: case.tasks as f64,
            y: wall.median * scale,
            interval: Some((wall.low * scale, wall.high * scale)),
        })
    })
    .into_iter()
    .unzip();
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

fn latency(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let reps: Vec<&CaseResult> = query::representatives(cases, &s.models)
        .into_iter()
        .filter(|case| case.task_latency_ms.is_some())
        .collect();
    if reps.is_empty() {
        return None;
    }
    let rows = shaded_rows(&reps, |case| {
        let lat = case.task_latency_ms?;
        Some([lat.p50, lat.p90, lat.p99])
    });
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
    let (models, mut lines): (Vec<&str>, Vec<Line>) = sweep_lines(&slice.series, |case| {
        Some(Point {
            x: case.wall_s?.median * scale,
            y: cpu(case)? * scale,
            interval: None,
        })
    })
    .into_iter()
    .map(|(model, line)| {
        let scatter = Line {
            connect: false,
            ..line
        };
        (model, scatter)
    })
    .unzip();
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
    let rows = shaded_rows(&reps, |case| {
        let per_task = |n: u64| n as f64 / case.tasks.max(1) as f64;
        Some([
            per_task(case.ctx_voluntary?),
            per_task(case.ctx_involuntary?),
        ])
    });
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

/// One row per model that accepts the GIL: the native model, its
/// emulated-GIL variant and its real-CPython twin, in family order.
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

/// The IO thread's p50 (solid) and p99 (dashed) round trip against the
/// number of busy CPU threads beside it.
fn convoy(_: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Param(CPU_THREADS));
    if !slice.has_lines() {
        return None;
    }
    let series: Vec<query::Series> = slice
        .series
        .into_iter()
        .filter(|s| !query::is_baseline(s.model))
        .collect();
    let point = |p99: bool| {
        move |case: &CaseResult| {
            let lat = case.task_latency_ms?;
            Some(Point {
                x: case.params.get(CPU_THREADS).copied()?,
                y: if p99 { lat.p99 } else { lat.p50 },
                interval: None,
            })
        }
    };
    // A case has both percentiles or neither: the lines pair up.
    let p50 = sweep_lines(&series, point(false));
    let p99 = sweep_lines(&series, point(true));
    let mut models = Vec::new();
    let mut lines = Vec::new();
    for ((model, median), (_, tail)) in p50.into_iter().zip(p99) {
        models.push(model);
        lines.push(median);
        lines.push(Line {
            dashed: true,
            marker: Marker::Triangle,
            ..tail
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

const PARENT_MIB: &str = "parent_mib";

fn has_parent_mib(_: &ScenarioInfo, cases: &[&CaseResult]) -> bool {
    cases.iter().any(|c| c.params.contains_key(PARENT_MIB))
}

/// What starting one worker cost a case, in seconds: a pool's start-up over
/// its workers; for one process per task, the wall time per task over the
/// workers that ran at once (at most the cores), less the task's own run.
fn start_up_per_worker(report: &RunReport, case: &CaseResult) -> Option<f64> {
    if let Some(startup) = case.startup_s {
        return Some(startup.median / case.workers.max(1) as f64);
    }
    let parallel = query::units(case).min(report.machine.logical_cores.max(1)) as f64;
    let run_s = case.task_run_ms.map_or(0.0, |r| r.p50 / 1e3);
    Some((case.wall_s?.median * parallel / case.tasks.max(1) as f64 - run_s).max(0.0))
}

/// One line per process model and start method (`process`,
/// `process:fork`, ...): what starting a worker cost against the memory the
/// parent program held (`parent_mib`), where fork's page-table copy shows.
fn start_up(report: &RunReport, s: &ScenarioInfo, cases: &[&CaseResult]) -> Built {
    let slice = query::slice(cases, &s.models, Axis::Param(PARENT_MIB));
    let series: Vec<query::Series> = slice
        .series
        .into_iter()
        .filter(|series| registry::parse(series.model).is_some_and(|m| m.kind.uses_processes()))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            s.cases
                .iter()
                .filter_map(|c| start_up_per_worker(report, c))
        })
        .collect();
    let (scale, unit) = time_axis(ys.iter().copied().fold(0.0, f64::max));
    let (models, lines): (Vec<&str>, Vec<Line>) = sweep_lines(&series, |case| {
        Some(Point {
            x: case.params.get(PARENT_MIB).copied()?,
            y: start_up_per_worker(report, case)? * scale,
            interval: None,
        })
    })
    .into_iter()
    .unzip();
    if lines.iter().all(|l| l.points.len() < 2) {
        return None;
    }
    let plot = Plot::Lines(Lines {
        x_label: "memory the parent holds (MiB)".into(),
        y_label: format!("start-up per worker ({unit})"),
        x_log: false,
        y_log: spans_decades(ys.iter().copied().filter(|&y| y > 0.0)),
        x_integer: true,
        lines,
    });
    let note = format!(
        "{}; pools: start-up ÷ workers, else wall per task − run",
        slice.fixed
    );
    Some((note, plot, model_entries(models, Swatch::Solid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Estimate;

    /// `model` at `parent_mib` MiB, its pool start-up or its wall time
    /// growing with the parent's size as `per_mib` says.
    fn case(report: &RunReport, model: &str, mib: f64, per_mib: f64) -> CaseResult {
        let mut c = report.cases.iter().find(|c| c.is_ok()).unwrap().clone();
        c.scenario = "start".into();
        c.model = model.into();
        c.workers = 1;
        c.tasks = 10;
        c.task_ms = Some(0.001);
        c.params = [(PARENT_MIB.to_owned(), mib)].into();
        c.task_run_ms = None;
        let at = |s: f64| Estimate {
            median: s,
            low: s,
            high: s,
        };
        let cost = 0.001 + per_mib * mib;
        if model.starts_with("process-pool") {
            c.startup_s = Some(at(cost));
        } else {
            c.startup_s = None;
            c.wall_s = Some(at(cost * 10.0));
        }
        c
    }

    #[test]
    fn start_up_has_a_line_per_model_and_method_against_the_parents_size() {
        let report = crate::report::tests::sample();
        let mut cases = Vec::new();
        for mib in [0.0, 256.0, 1024.0] {
            cases.push(case(&report, "sequential", mib, 0.0));
            cases.push(case(&report, "process", mib, 1e-6));
            cases.push(case(&report, "process:fork", mib, 1e-5));
            cases.push(case(&report, "process-pool:forkserver", mib, 0.0));
        }
        let models: Vec<String> = [
            "sequential",
            "process",
            "process:fork",
            "process-pool:forkserver",
        ]
        .map(str::to_owned)
        .to_vec();
        let info = ScenarioInfo {
            name: "start".into(),
            description: String::new(),
            workload: "cpu".into(),
            cpu_bound: true,
            releases_gil: false,
            baseline_estimated: false,
            models: models.clone(),
        };
        let refs: Vec<&CaseResult> = cases.iter().collect();
        assert!(has_parent_mib(&info, &refs));
        let (_, plot, legend) = start_up(&report, &info, &refs).expect("a chart");
        let Plot::Lines(lines) = plot else {
            panic!("a line chart")
        };
        // The baseline starts no process: three lines, one per method.
        let names: Vec<&str> = legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            names,
            ["process", "process:fork", "process-pool:forkserver"]
        );
        let fork = &lines.lines[1];
        let xs: Vec<f64> = fork.points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [0.0, 256.0, 1024.0]);
        // In ms: 1 ms + 10 µs per MiB.
        assert!((fork.points[2].y - 11.24).abs() < 1e-6, "{:?}", fork.points);
        assert!((lines.lines[2].points[2].y - 1.0).abs() < 1e-9);
        assert!(!has_parent_mib(&info, &refs[..0]));
    }
}
