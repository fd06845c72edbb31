//! What a person sees in the terminal: the progress bar with ETA on stderr
//! (hidden when stderr is not a terminal), the compact results table on
//! stdout, and `print`/`eprint`, the one way the binary writes to either.
//! Names are escaped with `text::terminal_line` before they are shown.

use crate::results::{CaseResult, RunReport};
use crate::runner::Event;
use crate::text::terminal_line;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader has gone away; later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout. A reader that has gone away (`parabench list |
/// head -1`) is not an error: the rest of the output is dropped quietly and
/// the command finishes its work (a run still writes its report), with the
/// exit code its outcome gives. Other write errors (a full disk) are errors.
pub fn print(text: &str) -> std::io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// Writes a message to stderr, escaped for the terminal (`text::terminal`),
/// since messages quote names and paths. Errors are ignored: there is
/// nowhere left to report them, and `2>&1 | head` must not panic.
pub fn eprint(text: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(crate::text::terminal(text).as_bytes());
}

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new() -> Progress {
        // indicatif draws to stderr and hides itself when it is not a terminal.
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, ETA {eta}  {msg}",
            )
            .expect("static template is valid"),
        );
        Progress { bar }
    }

    pub fn on_event(&self, event: Event) {
        match event {
            Event::Planned { runs } => self.bar.set_length(runs),
            Event::MoreRuns { runs } => self.bar.inc_length(runs),
            Event::Calibrating => self.bar.set_message("calibrating"),
            Event::Running {
                scenario,
                model,
                workers,
            } => self
                .bar
                .set_message(format!("{}: {} x{workers}", terminal_line(scenario), model)),
            Event::RunDone => self.bar.inc(1),
            Event::CaseDone(case) if !case.is_ok() => self.bar.println(format!(
                "warning: {} / {} x{}: {}",
                terminal_line(&case.scenario),
                terminal_line(&case.model),
                case.workers,
                terminal_line(&case.status.to_string())
            )),
            Event::CaseDone(_) => {}
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// The compact table printed after a run: one line per case, then one line
/// per verdict.
pub fn table(report: &RunReport) -> String {
    let mut out = String::new();
    // Wide enough for a start method after the model (`process-pool:fork`).
    let model_w = report
        .cases
        .iter()
        .map(|c| c.model.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(20, 32);
    let header = format!(
        "{:<16} {:<model_w$} {:>4} {:>6} {:>9} {:>21} {:>8} {:>6} {:>4}  {}\n",
        "scenario",
        "model",
        "wkrs",
        "tasks",
        "task_ms",
        "wall ms [95% CI]",
        "speedup",
        "eff",
        "reps",
        "status"
    );
    // Runs of only METG or IO-model scenarios have no case rows.
    if !report.cases.is_empty() || !report.lifecycle.is_empty() {
        out.push_str(&header);
    }
    for c in &report.cases {
        out.push_str(&row(c, model_w));
    }
    for l in &report.lifecycle {
        out.push_str(&lifecycle_rows(l));
    }
    if !report.io_models.is_empty() {
        out.push_str(&io_model_rows(&report.io_models));
    }
    out.push_str("\nverdicts:\n");
    for notice in crate::report::verdicts::notices(report) {
        out.push_str(&format!("  note: {}\n", terminal_line(&notice)));
    }
    for v in crate::report::verdicts::verdicts(report) {
        out.push_str(&format!(
            "  {:<13} {}{}\n",
            v.outcome.label(),
            terminal_line(&v.title()),
            v.scenario
                .as_deref()
                .map_or(String::new(), |s| format!(" on {}", terminal_line(s)))
        ));
    }
    let metg = crate::report::granularity::front_rows(report);
    if !metg.is_empty() {
        out.push_str("\nMETG, the shortest efficient task (estimate [bracket]):\n");
        for [model, cpu, sleep] in metg {
            out.push_str(&format!(
                "  {:<24} cpu: {}\n  {:<24} sleep: {}\n",
                terminal_line(&model),
                terminal_line(&cpu),
                "",
                terminal_line(&sleep)
            ));
        }
    }
    if !report.floor.is_empty() {
        out.push_str("\nOS floor, one operation (median [95% CI]):\n");
        for f in &report.floor {
            let median = f.ns.map_or("-".to_owned(), |ns| {
                format!(
                    "{:.1} µs [{:.1}-{:.1}]",
                    ns.median / 1e3,
                    ns.low / 1e3,
                    ns.high / 1e3
                )
            });
            out.push_str(&format!(
                "  {:<28} {:>26}  {}\n",
                terminal_line(&f.mechanism),
                median,
                terminal_line(&f.status.to_string())
            ));
        }
    }
    out
}

/// One line per IO model and connection count: throughput and latency.
fn io_model_rows(results: &[crate::results::io_models::IoModelResult]) -> String {
    let mut out = format!(
        "\n{:<16} {:<20} {:>11} {:>14} {:>10} {:>10}  {}\n",
        "scenario", "io model", "connections", "round trips/s", "p50 µs", "p99 µs", "status"
    );
    for r in results {
        let (rps, p50, p99) = r.median.map_or(("-".into(), "-".into(), "-".into()), |m| {
            (
                format!("{:.0}", m.throughput_rps),
                format!("{:.0}", m.p50_us),
                format!("{:.0}", m.p99_us),
            )
        });
        out.push_str(&format!(
            "{:<16} {:<20} {:>11} {:>14} {:>10} {:>10}  {}\n",
            truncate(&terminal_line(&r.scenario), 16),
            truncate(&terminal_line(&r.io_model), 20),
            r.connections,
            rps,
            p50,
            p99,
            terminal_line(&r.status.to_string())
        ));
    }
    out
}

fn row(c: &CaseResult, model_w: usize) -> String {
    let opt = |v: Option<f64>, prec: usize| v.map_or("-".to_owned(), |v| format!("{v:.prec$}"));
    let wall = c.wall_s.map_or("-".to_owned(), |w| {
        format!(
            "{:.1} [{:.1}-{:.1}]",
            w.median * 1e3,
            w.low * 1e3,
            w.high * 1e3
        )
    });
    format!(
        "{:<16} {:<model_w$} {:>4} {:>6} {:>9} {:>21} {:>8} {:>6} {:>4}  {}\n",
        truncate(&terminal_line(&c.scenario), 16),
        truncate(&terminal_line(&c.model), model_w),
        c.workers,
        c.tasks,
        opt(c.task_ms, 1),
        wall,
        opt(c.speedup, 2),
        opt(c.efficiency.map(|e| e * 100.0), 0) + if c.efficiency.is_some() { "%" } else { "" },
        c.repetitions.len(),
        terminal_line(&c.status.to_string())
    )
}

/// A lifecycle run: one line for the run, one per state.
fn lifecycle_rows(l: &crate::results::LifecycleResult) -> String {
    let mut out = format!(
        "\nlifecycle {}: {} in {:.0} ms; left behind: {} zombie(s), {} stray process(es)\n",
        terminal_line(&l.scenario),
        terminal_line(&l.status.to_string()),
        l.wall_s * 1e3,
        l.zombies_left,
        l.strays_left
    );
    for s in &l.states {
        out.push_str(&format!(
            "  {:<20} {:<8} {:>8.1} ms  {}\n",
            truncate(&terminal_line(&s.state), 20),
            if s.seen { "seen" } else { "NOT SEEN" },
            s.step_ms,
            truncate(&terminal_line(&s.observed), 100)
        ));
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::hostile;

    /// The sample report with every scenario, model and status renamed
    /// through `rename`, one to one, so that the table keeps its shape.
    fn renamed(rename: &dyn Fn(&str) -> String) -> RunReport {
        let mut report = crate::report::tests::sample();
        for case in &mut report.cases {
            case.scenario = rename(&case.scenario);
            case.model = rename(&case.model);
            case.status = crate::results::CaseStatus::parse(&rename(&case.status.to_string()));
        }
        for scenario in &mut report.scenarios {
            scenario.name = rename(&scenario.name);
        }
        report
    }

    #[test]
    fn a_run_of_io_models_alone_has_their_rows_and_no_empty_case_header() {
        use crate::results::io_models::{IoModelRep, IoModelResult};
        let mut report = crate::report::tests::sample();
        report.cases.clear();
        report.lifecycle.clear();
        let rep = IoModelRep {
            throughput_rps: 20_600.0,
            p50_us: 410.0,
            p99_us: 87_000.0,
            ..IoModelRep::default()
        };
        report.io_models = vec![IoModelResult {
            scenario: "c10k".into(),
            io_model: "multiplexed:epoll".into(),
            connections: 1_000,
            threads: 1,
            round_trips: 10,
            message_bytes: 64,
            server_delay_ms: 0.0,
            think_ms: 0.0,
            status: crate::results::CaseStatus::Ok,
            nofile_soft: 4096,
            nofile_hard: 4096,
            repetitions: vec![rep],
            median: Some(rep),
        }];
        let text = table(&report);
        assert!(!text.contains("wall ms [95% CI]"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("c10k"))
            .unwrap_or_else(|| panic!("{text}"));
        for cell in ["multiplexed:epoll", "1000", "20600", "410", "87000", "ok"] {
            assert!(row.contains(cell), "{cell} in {row}");
        }
    }

    #[test]
    fn the_floor_follows_the_verdicts_one_line_each() {
        let mut report = crate::report::tests::sample();
        let plain = table(&report);
        for name in hostile::names() {
            report.floor = vec![crate::results::FloorMeasurement {
                mechanism: name.clone(),
                description: name.clone(),
                status: crate::results::CaseStatus::parse(&name),
                samples: 3,
                ns: Some(crate::results::Estimate {
                    median: 36_000.0,
                    low: 30_000.0,
                    high: 41_000.0,
                }),
                p10_ns: None,
                p90_ns: None,
                wall_s: 0.0,
                forked_tasks: Vec::new(),
            }];
            let out = table(&report);
            hostile::assert_no_hazard(&out);
            assert_eq!(out.lines().count(), plain.lines().count() + 3, "{name:?}");
            assert!(out.contains("36.0 µs [30.0-41.0]"), "{out}");
        }
    }

    #[test]
    fn hostile_names_cannot_reach_the_terminal_or_add_rows() {
        let plain = table(&renamed(&|old| format!("n-{old}")));
        for name in hostile::names() {
            let out = table(&renamed(&|old| format!("{name}-{old}")));
            hostile::assert_no_hazard(&out);
            assert_eq!(
                out.lines().count(),
                plain.lines().count(),
                "{name:?}:\n{out}"
            );
        }
    }
}
