//! parabench's entry point: parse the command line, carry out the command,
//! print the error chain and map the outcome to an exit code
//! (0 success, 1 failed cases or a confident regression, 2 bad input,
//! 3 a comparison across different machines, 130 interrupted).

mod cli;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, CompareArgs, ExportArgs, HistoryArgs, ListArgs, ReportArgs, RunArgs};
use parabench::text::{self, terminal_line};
use parabench::{compare, console, export, history, input, load, plan, runner};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `println!` through `console::print`: a closed stdout (`| head`) ends the
/// output quietly instead of panicking. Untrusted text must still be escaped.
macro_rules! outln {
    ($($arg:tt)*) => {
        console::print(&format!("{}\n", format_args!($($arg)*))).context("writing to stdout")?
    };
}

/// `eprintln!` through `console::eprint`, which escapes control characters
/// and never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        console::eprint(&format!("{}\n", format_args!($($arg)*)))
    };
}

fn main() -> ExitCode {
    // Under `process` a worker starts for every task: it goes to work before
    // clap builds the other commands' arguments (model::worker).
    if let Some(args) = parabench::model::worker::lean_args(std::env::args_os()) {
        return finish(parabench::model::worker::serve_as(args).map(|()| 0));
    }
    // The `fork` start method's launcher is forked now, while this process
    // has one thread: before clap, the Ctrl-C handler, tokio or anything
    // else can start one (see model/forker.rs). Only `run` starts workers,
    // and `contained`, which runs a deadlock case's batch in a child.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "run" || a == "contained")
        && let Err(e) = parabench::model::start::fork_launcher()
    {
        errln!("warning: the fork start method is unavailable: {e}");
    }
    let code = run_command();
    parabench::model::start::shutdown();
    code
}

fn run_command() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(usage_error(&err)),
    };
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::List(args) => list(args),
        Command::Sysinfo => sysinfo(),
        Command::Worker(args) => {
            parabench::model::worker::serve_as(parabench::model::worker::WorkerArgs {
                pool: args.pool,
                parent: args.parent,
            })
            .map(|()| 0)
        }
        Command::LifecycleChild(args) => {
            parabench::lifecycle::serve(std::time::Duration::from_millis(args.limit_ms))
        }
        Command::Forkserver => parabench::model::start::serve_forkserver(),
        Command::Contained => parabench::model::contained::serve().map(|()| 0),
        Command::IoPeer(args) => {
            parabench::workload::io_models::server::serve_role(&args.role).map(|()| 0)
        }
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare_command(&args),
        Command::Export(args) => export_command(&args),
        Command::History(args) => history_command(&args),
    };
    finish(result)
}

/// The exit code of a command's outcome, printing the error chain if any.
fn finish(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            errln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Prints clap's message for a bad command line (or `--help`,
/// `--version`) and returns its exit code. Clap would print the offending
/// value raw; it goes through `console::eprint`, which escapes control
/// characters, so `--workers=$'\e[2J'` cannot clear the terminal.
fn usage_error(err: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let text = err.render().to_string();
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = console::print(&text);
            0
        }
        _ => {
            console::eprint(&text);
            2
        }
    }
}

/// Input the user can fix exits 2; anything else that went wrong exits 1.
fn exit_code(err: &anyhow::Error) -> u8 {
    let user_error = |e: &(dyn std::error::Error + 'static)| {
        e.is::<plan::PlanError>()
            || e.is::<load::LoadError>()
            || e.is::<compare::CompareError>()
            || e.is::<history::HistoryError>()
            || e.is::<parabench::report::machines::MergeError>()
    };
    if err.chain().any(user_error) { 2 } else { 1 }
}

fn run(args: RunArgs) -> anyhow::Result<u8> {
    let sources = plan::load_sources(&args.suites)?;
    let plan = plan::build(&sources, &args.plan_options())?;
    parabench::limits::check(&plan, &parabench::limits::current())
        .map_err(|reason| plan::PlanError::Suite(format!("refusing to run: {reason}")))?;
    // Every flag is checked before anything runs: a bad baseline name or
    // file, or an output path that is a file, must not cost a whole run.
    if args.out.exists() && !args.out.is_dir() {
        return Err(plan::PlanError::Flag {
            flag: "--out",
            message: format!(
                "{} exists and is not a directory; name a directory (it is created if missing)",
                args.out.display()
            ),
        }
        .into());
    }
    let save_path = args
        .save_baseline
        .as_deref()
        .map(baseline_path)
        .transpose()?;
    let baseline = match &args.baseline {
        Some(name) => {
            let path = resolve_baseline(name);
            Some((load::load_report(&path)?, path))
        }
        None => None,
    };
    for notice in &plan.settings.notices {
        errln!("note: {notice}");
    }

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: the user does not want to wait for cleanup.
                std::process::exit(130);
            }
            errln!("\ninterrupted: finishing the current run and saving what was measured (Ctrl-C again to quit now)");
        })
        .context("installing the Ctrl-C handler")?;
    }
    let progress = console::Progress::new();
    let opts = runner::RunOptions {
        out_dir: args.out.clone(),
        command_line: std::env::args().collect(),
    };
    let report = runner::run(&plan, &opts, &cancel, &mut |e| progress.on_event(e));
    progress.finish();
    let report = report?;
    console::print(&console::table(&report)).context("writing to stdout")?;
    // errln! escapes control characters: names in the text come from suite files.
    for warning in parabench::report::noise::warnings(&report) {
        errln!("warning: noisy machine: {}", warning.text);
    }
    errln!("results: {}", args.out.join("results.json").display());
    if !args.no_report {
        let written = parabench::report::write_all(&report, &args.out)?;
        errln!(
            "report: {} ({} files)",
            args.out.join("index.html").display(),
            written.len()
        );
    }
    if let Some(path) = &save_path {
        std::fs::create_dir_all(BASELINE_DIR)
            .with_context(|| format!("creating {BASELINE_DIR}"))?;
        parabench::atomic_file::write(path, &serde_json::to_vec_pretty(&report)?)?;
        errln!("baseline saved: {}", path.display());
    }
    let mut compared = 0;
    if let Some((baseline, path)) = &baseline {
        let options = compare::CompareOptions::new(compare::Metric::Wall, 10.0)?;
        let comparison = compare::compare(baseline, &report, &options);
        for w in &comparison.warnings {
            errln!("warning: {w}");
        }
        outln!(
            "\ncompared with {}:",
            terminal_line(&path.display().to_string())
        );
        let table = comparison_text(
            baseline,
            &report,
            &comparison,
            args.allow_machine_mismatch,
            compare::CompareFormat::Table,
        );
        console::print(&table).context("writing to stdout")?;
        compared = comparison.exit_code(args.allow_machine_mismatch);
        if compared == compare::EXIT_DIFFERENT_MACHINES {
            errln!(
                "note: not judged: the baseline comes from a different machine (exit {compared}); \
                 pass --allow-machine-mismatch to judge it anyway"
            );
        }
    }
    let failed = report
        .cases
        .iter()
        .filter(|c| c.status.is_failure())
        .count()
        + report
            .lifecycle
            .iter()
            .filter(|l| l.status.is_failure())
            .count();
    if report.interrupted {
        errln!("interrupted: {} cases saved", report.cases.len());
        return Ok(130);
    }
    if failed > 0 {
        errln!("{failed} case(s) failed; see their status");
        return Ok(1);
    }
    Ok(compared)
}

/// Named baselines live under reports/baselines/NAME.json.
const BASELINE_DIR: &str = "reports/baselines";

fn baseline_path(name: &str) -> anyhow::Result<std::path::PathBuf> {
    // The name becomes a file name: keep it well under the 255 bytes a file
    // system allows, and refuse it here rather than after the whole run.
    let valid = !name.is_empty()
        && name.len() <= parabench::text::MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !valid {
        return Err(plan::PlanError::Flag {
            flag: "--save-baseline",
            message: format!(
                "`{name}` is not a usable name: use up to {} letters, digits, '-', '_' and '.'",
                parabench::text::MAX_NAME_CHARS
            ),
        }
        .into());
    }
    Ok(Path::new(BASELINE_DIR).join(format!("{name}.json")))
}

/// `--baseline` takes a file path, or the name of a saved baseline.
fn resolve_baseline(name: &str) -> std::path::PathBuf {
    let named = Path::new(BASELINE_DIR).join(format!("{name}.json"));
    if !Path::new(name).exists() && named.exists() {
        named
    } else {
        name.into()
    }
}

fn list(args: ListArgs) -> anyhow::Result<u8> {
    let sources = plan::load_sources(&args.suites)?;
    let plan = plan::build(&sources, &plan::PlanOptions::default())?;
    for s in &plan.scenarios {
        outln!("{} ({})", terminal_line(&s.name), s.workload.id());
        if !s.description.is_empty() {
            outln!("  {}", terminal_line(&s.description));
        }
        if s.workload == parabench::spec::WorkloadKind::Floor {
            outln!("  {} samples of each OS mechanism, no model", s.samples);
            continue;
        }
        if s.workload == parabench::spec::WorkloadKind::Lifecycle {
            outln!("  one run of the lifecycle demo, no sweep and no model");
            continue;
        }
        let c = &s.coordination;
        let size = match s.workload {
            parabench::spec::WorkloadKind::Lock => {
                format!("units {:?}, {} sections each", s.workers, c.sections)
            }
            parabench::spec::WorkloadKind::Queue => format!(
                "{} producers, {} consumers, {} items through a queue of {}",
                c.producers, c.consumers, c.items, c.capacity
            ),
            _ => format!("workers {:?}, tasks {:?}", s.workers, s.tasks),
        };
        outln!(
            "  {size}{}, {} to {} repetitions + {} warm-up",
            if s.uses_time_size() {
                format!(", task_ms {:?}", s.task_ms)
            } else {
                String::new()
            },
            s.repetitions,
            s.max_repetitions,
            s.warmup
        );
        outln!(
            "  models: {}",
            s.models
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    outln!("\nmodels:");
    for m in parabench::model::ModelKind::ALL {
        outln!("  {:<20} {}", m.id(), m.describe());
    }
    outln!(
        "  {:<20} the same under an emulated CPython GIL (thread, thread-pool, process, process-pool, async)",
        "MODEL+gil"
    );
    for m in parabench::model::ModelKind::CPYTHON {
        outln!("  {:<20} {}", m.id(), m.describe());
    }
    outln!(
        "  {:<20} a process model started by fork or forkserver (`start_method`; spawn is the default)",
        "MODEL:METHOD"
    );
    Ok(0)
}

/// The machine and environment records a run starts with, under the keys
/// results.json gives them.
fn sysinfo() -> anyhow::Result<u8> {
    let record = serde_json::json!({
        "machine": parabench::machine::record(),
        "environment": parabench::results::Environment::at_start(),
    });
    outln!("{}", text::json(serde_json::to_string_pretty(&record)?));
    Ok(0)
}

/// Exit 1 when at least one case confidently regressed, 3 when the runs
/// come from different machines (unless allowed), 0 otherwise.
fn compare_command(args: &CompareArgs) -> anyhow::Result<u8> {
    let options = compare::CompareOptions::new(args.metric, args.threshold)?;
    let baseline = load::load_report(&args.baseline)?;
    let current = load::load_report(&args.current)?;
    let comparison = compare::compare(&baseline, &current, &options);
    // Warnings also go to stderr, so that they are seen when stdout is
    // redirected to a file or a step summary.
    for warning in &comparison.warnings {
        errln!("warning: {warning}");
    }
    let text = comparison_text(
        &baseline,
        &current,
        &comparison,
        args.allow_machine_mismatch,
        args.format,
    );
    console::print(&text).context("writing to stdout")?;
    let code = comparison.exit_code(args.allow_machine_mismatch);
    if code == compare::EXIT_DIFFERENT_MACHINES {
        errln!(
            "note: not judged: the runs come from different machines (exit {code}); \
             pass --allow-machine-mismatch to judge them anyway"
        );
    }
    Ok(code)
}

/// The verdicts of a comparison; for runs from different hardware not
/// judged anyway, the two machines side by side instead (no verdicts).
fn comparison_text(
    baseline: &parabench::results::RunReport,
    current: &parabench::results::RunReport,
    comparison: &compare::Comparison,
    allow_machine_mismatch: bool,
    format: compare::CompareFormat,
) -> String {
    if comparison.different_machines && !allow_machine_mismatch {
        let sides = compare::machines::side_by_side(
            baseline,
            current,
            comparison.options.metric,
            &comparison.warnings,
        );
        compare::machines::render(&sides, format)
    } else {
        compare::render(comparison, format)
    }
}

fn export_command(args: &ExportArgs) -> anyhow::Result<u8> {
    let report = load::load_report(&args.results)?;
    let text = export::export(&report, args.format);
    match &args.output {
        Some(path) => parabench::atomic_file::write(path, text.as_bytes())
            .with_context(|| format!("writing the export to {}", path.display()))?,
        None => console::print(&text).context("writing to stdout")?,
    }
    Ok(0)
}

fn history_command(args: &HistoryArgs) -> anyhow::Result<u8> {
    let summary = history::write_history(&args.inputs, &args.out)?;
    errln!(
        "wrote {} charts from {} runs; see {}",
        summary.n_charts,
        summary.n_runs,
        summary.index.display()
    );
    Ok(0)
}

fn report(args: &ReportArgs) -> anyhow::Result<u8> {
    let [path] = &args.results[..] else {
        return report_machines(args);
    };
    let results = parabench::load::load_report(path)?;
    let beside = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let out = args.out.as_deref().unwrap_or(beside);
    for path in parabench::report::write_all(&results, out)? {
        outln!("{}", terminal_line(&path.display().to_string()));
    }
    // The page links to results.json beside it; keep that link working.
    let copy = out.join("results.json");
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(&copy, path) {
        let bytes = input::read(path, input::MAX_RESULTS_BYTES)
            .with_context(|| format!("reading {}", path.display()))?;
        parabench::atomic_file::write(&copy, &bytes)
            .with_context(|| format!("copying {} to {}", path.display(), copy.display()))?;
        outln!("{}", terminal_line(&copy.display().to_string()));
    }
    Ok(0)
}

/// `parabench report A.json B.json ...`: one report of several machines
/// side by side (`report::machines`), each machine's own report beside it.
fn report_machines(args: &ReportArgs) -> anyhow::Result<u8> {
    let mut inputs = Vec::new();
    for path in &args.results {
        inputs.push((path.clone(), load::load_report(path)?));
    }
    let merged = parabench::report::machines::merge(inputs)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports/machines").to_owned());
    for path in parabench::report::machines::write_all(&merged, &out)? {
        outln!("{}", terminal_line(&path.display().to_string()));
    }
    Ok(0)
}
