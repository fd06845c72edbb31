//! "Dispatch against the OS floor": each 1-worker case's dispatch cost per
//! task beside the floor of the mechanism its model rests on (`floor`,
//! measured in the same run), as a ratio. `floor_of` is the one mapping from
//! a model to its mechanism; the runner asks it which mechanisms to measure.
//! Pure: rows of text from a `RunReport`.

use super::table;
use crate::floor::Mechanism;
use crate::model::{ModelId, ModelKind, StartMethod};
use crate::results::{CaseResult, CaseStatus, Estimate, FloorMeasurement, RunReport};
use StartMethod::{Fork, Forkserver, Spawn};

/// The raw OS mechanism a model's dispatch of one task rests on, by its
/// start method where it starts processes (`spawn` re-executes the
/// harness; `fork` and `forkserver` fork a single-threaded server). `None`
/// for a model with no dispatch (`sequential`) or no floor yet (the
/// `cpython-*` models). `+gil` models rest on the same mechanism as their
/// native form.
pub fn floor_of(model: ModelKind, start: StartMethod) -> Option<Mechanism> {
    use ModelKind::*;
    match model {
        Sequential => None,
        Thread => Some(Mechanism::PthreadCreateJoin),
        Process => Some(match start {
            Spawn => Mechanism::PosixSpawn,
            // A fork server forks each worker too; the request to it and
            // the pipes passed back come on top of the fork.
            Fork | Forkserver => Mechanism::ForkExitWait,
        }),
        // A job handed to a waiting pool thread and its result back; rayon
        // wakes a sleeping worker the same way.
        ThreadPool | Rayon => Some(Mechanism::ChannelRoundTrip),
        // A job written to a worker process's pipe and its answer read back,
        // however the worker was started; the worker runs wherever the
        // scheduler puts it, mostly on the other core.
        ProcessPool => Some(Mechanism::PipeCrossCore),
        Async => Some(Mechanism::TokioMultiThread),
        AsyncSingle => Some(Mechanism::TokioCurrentThread),
        // Their floor, a coroutine's creation and switch, is the
        // `coroutine` workload's (`crate::coroutine`), not an OS mechanism.
        Greenlet | Gevent => None,
        CpythonSequential
        | CpythonThread
        | CpythonThreadPool
        | CpythonProcess
        | CpythonProcessPool
        | CpythonAsyncio
        | CpythonGreenlet
        | CpythonGevent
        | CpythonInterpreterPool => None,
    }
}

/// The most a model's dispatch may cost per task, as a multiple of its
/// floor: the targets issue 10 set for parabench's own models. `None` where
/// no target is set (pools of threads and runtimes, the fork server, the
/// `+gil` forms and the reference models).
pub fn target_of(model: ModelId) -> Option<f64> {
    if model.gil {
        return None;
    }
    match (model.kind, model.start) {
        (ModelKind::Thread, _) => Some(1.5),
        (ModelKind::Process, Spawn) => Some(2.0),
        (ModelKind::Process, Fork) => Some(1.5),
        (ModelKind::ProcessPool, _) => Some(1.5),
        _ => None,
    }
}

/// Whether a ratio's interval is within its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The whole interval is at or below the target.
    Met,
    /// The whole interval is above the target.
    NotMet,
    /// The interval spans the target.
    Unclear,
}

impl Target {
    pub fn judge(ratio: Estimate, target: f64) -> Target {
        if ratio.high <= target {
            Target::Met
        } else if ratio.low > target {
            Target::NotMet
        } else {
            Target::Unclear
        }
    }
}

/// Seconds one task's own work takes, without any dispatch: the CPU time
/// asked for, and for a sleep its measured duration (the calibration's
/// sleep floor, which includes timer slack) where the run measured it.
/// None for workloads not sized in time (sockets, files, convoys).
pub fn task_seconds(report: &RunReport, case: &CaseResult) -> Option<f64> {
    let ms = case.task_ms?;
    let sleep = |nominal: f64| {
        report
            .calibration
            .timer_floor
            .iter()
            .find(|f| f.nominal_ms == nominal)
            .map_or(nominal, |f| f.measured_ms)
    };
    let total_ms = match case.workload.as_str() {
        "cpu" => ms,
        "io-sleep" => sleep(ms),
        "mixed" => {
            let cpu = case.params.get("cpu_fraction").copied()?;
            ms * cpu + sleep(ms * (1.0 - cpu))
        }
        _ => return None,
    };
    Some(total_ms / 1e3)
}

/// One case's dispatch cost beside its floor.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch<'a> {
    pub case: &'a CaseResult,
    /// Seconds per task: (wall − tasks × task time) / tasks, at the wall's
    /// median and at each end of its interval.
    pub per_task: Estimate,
    pub mechanism: Option<Mechanism>,
    /// The mechanism's record in this run, measured or not.
    pub floor: Option<&'a FloorMeasurement>,
    /// `per_task` over the floor's median; the interval joins both
    /// intervals (the dispatch's low end over the floor's high end, and the
    /// other way round). None without a measured floor, or when the
    /// dispatch cost is not above zero.
    pub ratio: Option<Estimate>,
    /// The most `ratio` may be (`target_of`).
    pub target: Option<f64>,
}

/// Every measured case with one worker and a task time, in results order.
pub fn dispatches(report: &RunReport) -> Vec<Dispatch<'_>> {
    report
        .cases
        .iter()
        .filter(|c| c.workers == 1 && c.is_ok() && c.tasks > 0)
        .filter_map(|case| {
            let wall = case.wall_s?;
            let task = task_seconds(report, case)?;
            let tasks = case.tasks as f64;
            let per = |wall: f64| (wall - tasks * task) / tasks;
            let per_task = Estimate {
                median: per(wall.median),
                low: per(wall.low),
                high: per(wall.high),
            };
            let model = crate::model::registry::parse(&case.model)?;
            // The start method is part of the model's name (`process:fork`).
            let mechanism = floor_of(model.kind, model.start);
            let floor = mechanism.and_then(|m| report.floor.iter().find(|f| f.mechanism == m.id()));
            let ratio = floor
                .filter(|f| f.status == CaseStatus::Ok)
                .and_then(|f| f.ns)
                .filter(|ns| ns.low > 0.0 && per_task.median > 0.0)
                .map(|ns| Estimate {
                    median: per_task.median / (ns.median / 1e9),
                    low: per_task.low.max(0.0) / (ns.high / 1e9),
                    high: per_task.high / (ns.low / 1e9),
                });
            Some(Dispatch {
                case,
                per_task,
                mechanism,
                floor,
                ratio,
                target: target_of(model),
            })
        })
        .collect()
}

/// Columns of the floor table.
pub const FLOOR_HEADER: [&str; 6] = [
    "Mechanism",
    "One operation",
    "Samples",
    "Median [95% CI]",
    "p10 / p90",
    "Status",
];

/// One row per mechanism measured, in run order.
pub fn floor_rows(report: &RunReport) -> Vec<Vec<String>> {
    let dash = || "–".to_owned();
    report
        .floor
        .iter()
        .map(|f| {
            vec![
                f.mechanism.clone(),
                f.description.clone(),
                f.samples.to_string(),
                f.ns.map_or_else(dash, |ns| table::seconds_interval(scaled(ns, 1e-9))),
                match (f.p10_ns, f.p90_ns) {
                    (Some(p10), Some(p90)) => format!(
                        "{} / {}",
                        table::seconds(p10 / 1e9),
                        table::seconds(p90 / 1e9)
                    ),
                    _ => dash(),
                },
                f.status.to_string(),
            ]
        })
        .collect()
}

/// Columns of a forked task's steps.
pub const FORK_STEPS_HEADER: [&str; 4] = ["Step", "Median", "p10 / p90", "Share of the total"];

/// Where a forked task's time goes, one table per forked start method
/// probed: a caption, and one row per step, then the total, the floor
/// timed between the tasks and their ratio.
pub fn fork_step_tables(report: &RunReport) -> Vec<(String, Vec<Vec<String>>)> {
    let seconds = |ns: f64| table::seconds(ns / 1e9);
    report
        .floor
        .iter()
        .flat_map(|f| &f.forked_tasks)
        .map(|f| {
            let total = f.total.median_ns;
            let row = |s: &crate::results::ForkStep, share: bool| {
                vec![
                    s.name.clone(),
                    seconds(s.median_ns),
                    format!("{} / {}", seconds(s.p10_ns), seconds(s.p90_ns)),
                    if share && total > 0.0 {
                        format!("{:.0}%", 100.0 * s.median_ns / total)
                    } else {
                        "–".to_owned()
                    },
                ]
            };
            let mut rows: Vec<Vec<String>> = f.steps.iter().map(|s| row(s, true)).collect();
            rows.push(row(&f.total, false));
            rows.push(row(&f.floor, false));
            let ratio = if f.floor.median_ns > 0.0 {
                format!("{:.2}×", total / f.floor.median_ns)
            } else {
                "–".to_owned()
            };
            rows.push(vec![
                "total / floor (medians)".to_owned(),
                ratio,
                "–".to_owned(),
                "–".to_owned(),
            ]);
            let caption = format!(
                "Where a task of process:{} goes: {} trivial tasks, one at a time, through the \
                 real fork server and worker, each step timed apart on the clock every process \
                 shares, with fork + _exit + wait timed between them. Steps of one task can \
                 overlap (the worker runs while the harness reads its pid), so the shares are \
                 of the medians and need not add up to 100%.",
                f.start_method, f.tasks
            );
            (caption, rows)
        })
        .collect()
}

/// Columns of the dispatch table.
pub const DISPATCH_HEADER: [&str; 9] = [
    "Scenario",
    "Model",
    "Tasks",
    "Work",
    "Dispatch per task [95% CI]",
    "Floor",
    "Floor median",
    "Ratio [95% CI]",
    "Target",
];

/// One row per 1-worker case with a task time.
pub fn dispatch_rows(report: &RunReport) -> Vec<Vec<String>> {
    dispatches(report)
        .iter()
        .map(|d| {
            let floor_median = match (d.mechanism, d.floor) {
                (None, _) => "none".to_owned(),
                (Some(_), None) => "not measured".to_owned(),
                (Some(_), Some(f)) => match f.ns {
                    Some(ns) if f.status == CaseStatus::Ok => table::seconds(ns.median / 1e9),
                    _ => f.status.to_string(),
                },
            };
            let ratio = match d.ratio {
                Some(r) => table::ratio_interval(r),
                None if d.per_task.median <= 0.0 => "– (no cost above the task time)".to_owned(),
                None => "–".to_owned(),
            };
            let target = match (d.target, d.ratio) {
                (None, _) => "none".to_owned(),
                (Some(t), None) => format!("≤ {t}×: not judged"),
                (Some(t), Some(r)) => match Target::judge(r, t) {
                    Target::Met => format!("≤ {t}×: met"),
                    Target::NotMet => format!("≤ {t}×: not met"),
                    Target::Unclear => format!("≤ {t}×: unclear, the interval spans it"),
                },
            };
            vec![
                d.case.scenario.clone(),
                d.case.model.clone(),
                d.case.tasks.to_string(),
                table::work(d.case),
                table::seconds_interval(d.per_task),
                d.mechanism.map_or("none", Mechanism::id).to_owned(),
                floor_median,
                ratio,
                target,
            ]
        })
        .collect()
}

/// What the section shows and how, for both renderers.
const INTRO: &str = "The raw OS mechanism each model rests on, measured in this run, \
    many times alone: a median with its 95% interval. Beside it, each case with one worker: \
    its dispatch cost per task, (wall − tasks × task time) / tasks, where the task time is \
    the CPU time asked for plus the measured duration of its sleep, and its ratio to the \
    floor of its model's mechanism (thread: pthread create + join; process: posix_spawn \
    with the spawn start method, which re-executes the harness, and fork + exit + wait \
    with fork or forkserver; thread-pool and rayon: a channel round trip; \
    process-pool: a pipe round trip across cores; async: a tokio spawn). The ratio's \
    interval joins both intervals. A pool or a runtime is handed a batch's tasks all at \
    once and can overlap their hand-offs, so its ratio can fall below 1. The target is \
    the most parabench's own models may cost over their floor (thread and fork: 1.5×; \
    spawn: 2×; process-pool: 1.5×): met when the whole interval is at or below it, not \
    met when the whole interval is above it.";

/// The section of `summary.md`; empty when the run measured no floor.
pub(super) fn markdown(report: &RunReport) -> String {
    use crate::text::markdown as escape;
    use std::fmt::Write;
    if report.floor.is_empty() {
        return String::new();
    }
    let mut md = format!("\n## Dispatch against the OS floor\n\n{}\n", escape(INTRO));
    let push_table = |md: &mut String, header: &[&str], rows: Vec<Vec<String>>| {
        let cells = |row: &[String]| row.iter().map(|c| escape(c)).collect::<Vec<_>>();
        let heads: Vec<String> = header.iter().map(|h| escape(h)).collect();
        let _ = writeln!(md, "\n| {} |", heads.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(md, "| {} |", cells(&row).join(" | "));
        }
    };
    push_table(&mut md, &FLOOR_HEADER, floor_rows(report));
    let dispatch = dispatch_rows(report);
    if !dispatch.is_empty() {
        push_table(&mut md, &DISPATCH_HEADER, dispatch);
    }
    for (caption, rows) in fork_step_tables(report) {
        let _ = write!(md, "\n{}\n", escape(&caption));
        push_table(&mut md, &FORK_STEPS_HEADER, rows);
    }
    md
}

/// The section of `index.html`; empty when the run measured no floor.
pub(super) fn html(report: &RunReport) -> String {
    use super::html::escape;
    use std::fmt::Write;
    if report.floor.is_empty() {
        return String::new();
    }
    let mut page = format!(
        "<section id=\"floor\">\n<h2>Dispatch against the OS floor</h2>\n<p>{}</p>\n",
        escape(INTRO)
    );
    let push_table = |page: &mut String, header: &[&str], rows: Vec<Vec<String>>| {
        page.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
        for heading in header {
            let _ = write!(page, "<th>{}</th>", escape(heading));
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            page.push_str("<tr>");
            for cell in row {
                let _ = write!(page, "<td>{}</td>", escape(&cell));
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</tbody></table></div>\n");
    };
    push_table(&mut page, &FLOOR_HEADER, floor_rows(report));
    let dispatch = dispatch_rows(report);
    if !dispatch.is_empty() {
        push_table(&mut page, &DISPATCH_HEADER, dispatch);
    }
    for (caption, rows) in fork_step_tables(report) {
        let _ = writeln!(page, "<p>{}</p>", escape(&caption));
        push_table(&mut page, &FORK_STEPS_HEADER, rows);
    }
    page.push_str("</section>\n");
    page
}

fn scaled(e: Estimate, by: f64) -> Estimate {
    Estimate {
        median: e.median * by,
        low: e.low * by,
        high: e.high * by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::TimerFloor;

    fn floor(mechanism: Mechanism, median_us: f64) -> FloorMeasurement {
        FloorMeasurement {
            mechanism: mechanism.id().into(),
            description: mechanism.describe().into(),
            status: CaseStatus::Ok,
            samples: 100,
            ns: Some(Estimate {
                median: median_us * 1e3,
                low: median_us * 0.9e3,
                high: median_us * 1.1e3,
            }),
            p10_ns: Some(median_us * 0.8e3),
            p90_ns: Some(median_us * 1.5e3),
            wall_s: 0.01,
            forked_tasks: Vec::new(),
        }
    }

    /// The sample report, its cases replaced by 1-worker `cpu` cases of 500
    /// tasks of 1 µs whose walls are given, and the floor given.
    fn crafted(walls: &[(&str, usize, f64)], floor: Vec<FloorMeasurement>) -> RunReport {
        let mut report = crate::report::tests::sample();
        let template = report.cases[0].clone();
        report.cases = walls
            .iter()
            .map(|&(model, workers, wall_s)| CaseResult {
                scenario: "spawn".into(),
                workload: "cpu".into(),
                model: model.into(),
                workers,
                tasks: 500,
                task_ms: Some(0.001),
                params: Default::default(),
                status: CaseStatus::Ok,
                wall_s: Some(Estimate {
                    median: wall_s,
                    low: wall_s * 0.9,
                    high: wall_s * 1.2,
                }),
                ..template.clone()
            })
            .collect();
        report.floor = floor;
        report
    }

    #[test]
    fn every_native_model_but_sequential_has_a_floor() {
        for kind in ModelKind::ALL {
            assert_eq!(
                floor_of(kind, Spawn).is_none(),
                matches!(
                    kind,
                    ModelKind::Sequential | ModelKind::Greenlet | ModelKind::Gevent
                )
            );
        }
        assert_eq!(
            floor_of(ModelKind::Process, Spawn),
            Some(Mechanism::PosixSpawn)
        );
        assert_eq!(
            floor_of(ModelKind::Process, Fork),
            Some(Mechanism::ForkExitWait)
        );
        assert_eq!(
            floor_of(ModelKind::Process, Forkserver),
            Some(Mechanism::ForkExitWait)
        );
        for start in StartMethod::ALL {
            assert_eq!(
                floor_of(ModelKind::ProcessPool, start),
                Some(Mechanism::PipeCrossCore)
            );
        }
        assert_eq!(floor_of(ModelKind::CpythonProcess, Fork), None);
    }

    #[test]
    fn targets_are_set_for_parabenchs_own_models_only() {
        let id = |name: &str| crate::model::registry::parse(name).unwrap();
        assert_eq!(target_of(id("thread")), Some(1.5));
        assert_eq!(target_of(id("process")), Some(2.0));
        assert_eq!(target_of(id("process:fork")), Some(1.5));
        assert_eq!(target_of(id("process-pool")), Some(1.5));
        assert_eq!(target_of(id("process:forkserver")), None);
        assert_eq!(target_of(id("thread+gil")), None);
        assert_eq!(target_of(id("async")), None);
        assert_eq!(target_of(id("cpython-process")), None);
    }

    #[test]
    fn a_target_is_met_not_met_or_unclear_by_the_whole_interval() {
        // 500 tasks of 1 µs over a pthread floor of 40 µs (36 to 44):
        // the thread's ratio interval is [(0.9 w - 0.5 ms) / 500 / 44 µs,
        // (1.2 w - 0.5 ms) / 500 / 36 µs].
        let judged = |wall_s: f64| {
            let report = crafted(
                &[("thread", 1, wall_s)],
                vec![floor(Mechanism::PthreadCreateJoin, 40.0)],
            );
            let d = &dispatches(&report)[0];
            (
                Target::judge(d.ratio.unwrap(), d.target.unwrap()),
                dispatch_rows(&report)[0][8].clone(),
            )
        };
        // 20.5 ms: 40 µs per task, [0.80, 1.34]: met.
        assert_eq!(judged(0.0205), (Target::Met, "≤ 1.5×: met".to_owned()));
        // 60.5 ms: 120 µs per task, [2.45, 4.0]: not met.
        assert_eq!(
            judged(0.0605),
            (Target::NotMet, "≤ 1.5×: not met".to_owned())
        );
        // 30.5 ms: 60 µs per task, [1.23, 2.01]: the interval spans 1.5.
        let (unclear, cell) = judged(0.0305);
        assert_eq!(unclear, Target::Unclear);
        assert!(cell.contains("unclear"), "{cell}");
    }

    #[test]
    fn dispatch_is_the_wall_beyond_the_tasks_work_per_task_over_the_floor() {
        // 500 tasks of 1 µs: 0.5 ms of work. A thread wall of 40.5 ms is
        // 80 µs of dispatch per task: 2x a floor of 40 µs.
        let report = crafted(
            &[
                ("thread", 1, 0.0405),
                ("thread", 2, 0.030),
                ("sequential", 1, 0.0010),
                ("process+gil", 1, 1.0005),
                ("process:fork", 1, 0.1005),
            ],
            vec![
                floor(Mechanism::PthreadCreateJoin, 40.0),
                floor(Mechanism::PosixSpawn, 500.0),
                floor(Mechanism::ForkExitWait, 100.0),
            ],
        );
        let rows = dispatches(&report);
        // Two workers: not a dispatch of one task at a time.
        let models: Vec<&str> = rows.iter().map(|d| d.case.model.as_str()).collect();
        assert_eq!(
            models,
            ["thread", "sequential", "process+gil", "process:fork"]
        );
        let thread = &rows[0];
        assert!((thread.per_task.median - 80e-6).abs() < 1e-9, "{thread:?}");
        let ratio = thread.ratio.unwrap();
        assert!((ratio.median - 2.0).abs() < 1e-9, "{ratio:?}");
        // The interval joins both: (36.45 ms - 0.5 ms) / 500 / 44 µs and
        // (48.6 ms - 0.5 ms) / 500 / 36 µs.
        assert!((ratio.low - 71.9 / 44.0).abs() < 1e-9, "{ratio:?}");
        assert!((ratio.high - 96.2 / 36.0).abs() < 1e-9, "{ratio:?}");
        // Sequential has no floor; a +gil process rests on the spawn's.
        assert_eq!((rows[1].mechanism, rows[1].ratio), (None, None));
        assert_eq!(rows[2].mechanism, Some(Mechanism::PosixSpawn));
        assert!((rows[2].ratio.unwrap().median - 4.0).abs() < 1e-9);
        // A forked process rests on the fork's: 200 µs over 100 µs.
        assert_eq!(rows[3].mechanism, Some(Mechanism::ForkExitWait));
        assert!((rows[3].ratio.unwrap().median - 2.0).abs() < 1e-9);
        let cells = dispatch_rows(&report);
        assert_eq!(cells[0].len(), DISPATCH_HEADER.len());
        assert_eq!(cells[0][5], "pthread-create-join");
        assert_eq!(cells[0][7], "2× [1.63, 2.67]");
        assert_eq!(cells[1][6], "none");
    }

    #[test]
    fn a_missing_or_skipped_floor_says_so_and_gives_no_ratio() {
        let mut skipped = floor(Mechanism::PipeCrossCore, 45.0);
        skipped.status = CaseStatus::Skipped("one CPU".into());
        skipped.ns = None;
        let report = crafted(
            &[("process-pool", 1, 0.05), ("async", 1, 0.01)],
            vec![skipped],
        );
        let rows = dispatch_rows(&report);
        assert_eq!(rows[0][6], "skipped: one CPU");
        assert_eq!(rows[0][7], "–");
        assert_eq!(rows[1][6], "not measured");
        // A wall below the tasks' own work: no cost to compare.
        let report = crafted(
            &[("thread", 1, 0.0004)],
            vec![floor(Mechanism::PthreadCreateJoin, 40.0)],
        );
        assert!(dispatches(&report)[0].ratio.is_none());
        assert!(dispatch_rows(&report)[0][7].contains("no cost above the task time"));
    }

    #[test]
    fn sleeps_count_at_their_measured_duration() {
        let mut report = crafted(&[("thread", 1, 1.0)], Vec::new());
        report.cases[0].workload = "io-sleep".into();
        report.cases[0].task_ms = Some(1.0);
        report.calibration.timer_floor = vec![TimerFloor {
            nominal_ms: 1.0,
            measured_ms: 1.075,
        }];
        assert_eq!(task_seconds(&report, &report.cases[0]), Some(1.075e-3));
        report.cases[0].workload = "mixed".into();
        report.cases[0].params.insert("cpu_fraction".into(), 0.5);
        report.calibration.timer_floor[0].nominal_ms = 0.5;
        report.calibration.timer_floor[0].measured_ms = 0.56;
        assert_eq!(task_seconds(&report, &report.cases[0]), Some(1.06e-3));
        report.cases[0].workload = "io-socket".into();
        assert_eq!(task_seconds(&report, &report.cases[0]), None);
    }

    #[test]
    fn both_renderers_show_the_section_only_with_a_floor() {
        let report = crafted(
            &[("thread", 1, 0.0405)],
            vec![floor(Mechanism::PthreadCreateJoin, 40.0)],
        );
        let md = markdown(&report);
        assert!(md.contains("## Dispatch against the OS floor"), "{md}");
        assert!(md.contains("| pthread-create-join |"), "{md}");
        assert!(md.contains("| spawn | thread | 500 |"), "{md}");
        // A header and separator per table, a row per mechanism and case.
        assert_eq!(md.lines().filter(|l| l.starts_with("|---")).count(), 2);
        assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 4);
        let page = html(&report);
        assert!(page.contains("<section id=\"floor\">"));
        assert_eq!(page.matches("<tr>").count(), 4);
        assert!(page.contains("<td>2× [1.63, 2.67]</td>"), "{page}");
        // The whole page links to the section.
        let full = crate::report::render(&report).unwrap();
        let index = String::from_utf8(full[0].bytes.clone()).unwrap();
        assert!(index.contains("href=\"#floor\"") && index.contains("id=\"floor\""));
        let summary = String::from_utf8(full[1].bytes.clone()).unwrap();
        assert!(summary.contains("## Dispatch against the OS floor"));
        let none = crafted(&[("thread", 1, 0.0405)], Vec::new());
        assert_eq!(
            (markdown(&none), html(&none)),
            (String::new(), String::new())
        );
    }

    #[test]
    fn hostile_names_stay_inert() {
        for name in crate::text::hostile::names() {
            let mut report = crafted(
                &[("thread", 1, 0.0405)],
                vec![floor(Mechanism::PthreadCreateJoin, 40.0)],
            );
            report.cases[0].scenario = name.clone();
            report.cases[0].params.insert(name.clone(), 1.0);
            report.floor[0].description = name.clone();
            report.floor[0].status = CaseStatus::parse(&name);
            let md = markdown(&report);
            crate::text::hostile::assert_inert_markdown(&md);
            let page = html(&report);
            assert!(
                !page.contains("<b>") && !page.contains("<script"),
                "{name:?}"
            );
        }
    }

    #[test]
    fn floor_rows_show_every_mechanism_with_its_status() {
        let mut skipped = floor(Mechanism::PipeCrossCore, 1.0);
        skipped.status = CaseStatus::Skipped("one CPU".into());
        skipped.ns = None;
        skipped.p10_ns = None;
        let report = crafted(&[], vec![floor(Mechanism::ForkExitWait, 126.0), skipped]);
        let rows = floor_rows(&report);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], "fork-exit-wait");
        assert_eq!(rows[0][3], "126 µs [113, 139]");
        assert_eq!(rows[0][4], "101 µs / 189 µs");
        assert_eq!(rows[1][3], "–");
        assert_eq!(rows[1][5], "skipped: one CPU");
    }

    #[test]
    fn a_forked_task_is_shown_step_by_step_with_its_share_and_ratio() {
        use crate::results::{ForkStep, ForkSteps};
        let step = |name: &str, median_us: f64| ForkStep {
            name: name.into(),
            median_ns: median_us * 1e3,
            p10_ns: median_us * 0.8e3,
            p90_ns: median_us * 1.2e3,
        };
        let mut fork = floor(Mechanism::ForkExitWait, 250.0);
        fork.forked_tasks = vec![ForkSteps {
            start_method: "fork".into(),
            tasks: 30,
            steps: vec![step("request", 100.0), step("clone", 300.0)],
            total: step("total", 500.0),
            floor: step("fork + _exit + wait", 200.0),
        }];
        let report = crafted(&[], vec![fork]);
        let tables = fork_step_tables(&report);
        let [(caption, rows)] = tables.as_slice() else {
            panic!("one table: {tables:?}");
        };
        assert!(caption.contains("process:fork") && caption.contains("30 trivial tasks"));
        let cells: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            cells,
            [
                ["request", "100 µs", "80 µs / 120 µs", "20%"],
                ["clone", "300 µs", "240 µs / 360 µs", "60%"],
                ["total", "500 µs", "400 µs / 600 µs", "–"],
                ["fork + _exit + wait", "200 µs", "160 µs / 240 µs", "–"],
                ["total / floor (medians)", "2.50×", "–", "–"],
            ]
        );
        let md = markdown(&report);
        assert!(md.contains("| total / floor (medians) | 2\\.50× |"), "{md}");
        assert!(html(&report).contains("<td>2.50×</td>"));
        // No probe, no table.
        assert!(
            fork_step_tables(&crafted(&[], vec![floor(Mechanism::ForkExitWait, 250.0)])).is_empty()
        );
    }
}
