//! What a person sees in the terminal: the progress bar with ETA on stderr
//! (hidden when stderr is not a terminal) and the compact results table on
//! stdout.

use crate::results::{CaseResult, RunReport};
use crate::runner::Event;
use indicatif::{ProgressBar, ProgressStyle};

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
                .set_message(format!("{scenario}: {model} x{workers}")),
            Event::RunDone => self.bar.inc(1),
            Event::CaseDone(case) if !case.is_ok() => self.bar.println(format!(
                "warning: {} / {} x{}: {}",
                case.scenario, case.model, case.workers, case.status
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
    let header = format!(
        "{:<16} {:<20} {:>4} {:>6} {:>9} {:>21} {:>8} {:>6} {:>4}  {}\n",
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
    out.push_str(&header);
    for c in &report.cases {
        out.push_str(&row(c));
    }
    out.push_str("\nverdicts:\n");
    for notice in crate::report::verdicts::notices(report) {
        out.push_str(&format!("  note: {notice}\n"));
    }
    for v in crate::report::verdicts::verdicts(report) {
        out.push_str(&format!(
            "  {:<13} {}{}\n",
            v.outcome.label(),
            v.title(),
            v.scenario
                .as_deref()
                .map_or(String::new(), |s| format!(" on {s}"))
        ));
    }
    out
}

fn row(c: &CaseResult) -> String {
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
        "{:<16} {:<20} {:>4} {:>6} {:>9} {:>21} {:>8} {:>6} {:>4}  {}\n",
        truncate(&c.scenario, 16),
        c.model,
        c.workers,
        c.tasks,
        opt(c.task_ms, 1),
        wall,
        opt(c.speedup, 2),
        opt(c.efficiency.map(|e| e * 100.0), 0) + if c.efficiency.is_some() { "%" } else { "" },
        c.repetitions.len(),
        c.status
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
