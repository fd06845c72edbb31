//! parabench's entry point: parse the command line, carry out the command,
//! print the error chain and map the outcome to an exit code
//! (0 success, 1 failed cases or a confident regression, 2 bad input,
//! 130 interrupted).

mod cli;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, CompareArgs, ExportArgs, HistoryArgs, ListArgs, ReportArgs, RunArgs};
use parabench::{compare, console, export, history, load, plan, runner};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::List(args) => list(args),
        Command::Sysinfo => sysinfo(),
        Command::Worker(args) => parabench::model::worker::serve(args.pool).map(|()| 0),
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare_command(&args),
        Command::Export(args) => export_command(&args),
        Command::History(args) => history_command(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
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
        eprintln!("note: {notice}");
    }

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: the user does not want to wait for cleanup.
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current run and saving what was measured (Ctrl-C again to quit now)");
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
    print!("{}", console::table(&report));
    eprintln!("results: {}", args.out.join("results.json").display());
    if !args.no_report {
        let written = parabench::report::write_all(&report, &args.out)?;
        eprintln!(
            "report: {} ({} files)",
            args.out.join("index.html").display(),
            written.len()
        );
    }
    if let Some(path) = &save_path {
        std::fs::create_dir_all(BASELINE_DIR)
            .with_context(|| format!("creating {BASELINE_DIR}"))?;
        parabench::atomic_file::write(path, &serde_json::to_vec_pretty(&report)?)?;
        eprintln!("baseline saved: {}", path.display());
    }
    let mut regressed = false;
    if let Some((baseline, path)) = &baseline {
        let options = compare::CompareOptions::new(compare::Metric::Wall, 10.0)?;
        let comparison = compare::compare(baseline, &report, &options);
        for w in &comparison.warnings {
            eprintln!("warning: {w}");
        }
        println!("\ncompared with {}:", path.display());
        print!(
            "{}",
            compare::render(&comparison, compare::CompareFormat::Table)
        );
        regressed = comparison.has_regression();
    }
    let failed = report
        .cases
        .iter()
        .filter(|c| c.status.is_failure())
        .count();
    if report.interrupted {
        eprintln!("interrupted: {} cases saved", report.cases.len());
        return Ok(130);
    }
    if failed > 0 {
        eprintln!("{failed} case(s) failed; see their status");
        return Ok(1);
    }
    Ok(u8::from(regressed))
}

/// Named baselines live under reports/baselines/NAME.json.
const BASELINE_DIR: &str = "reports/baselines";

fn baseline_path(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !valid {
        return Err(plan::PlanError::Flag {
            flag: "--save-baseline",
            message: format!(
                "`{name}` is not a usable name: use letters, digits, '-', '_' and '.'"
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
        println!("{} ({})", s.name, s.workload.id());
        if !s.description.is_empty() {
            println!("  {}", s.description);
        }
        println!(
            "  workers {:?}, tasks {:?}{}, {} to {} repetitions + {} warm-up",
            s.workers,
            s.tasks,
            if s.uses_time_size() {
                format!(", task_ms {:?}", s.task_ms)
            } else {
                String::new()
            },
            s.repetitions,
            s.max_repetitions,
            s.warmup
        );
        println!(
            "  models: {}",
            s.models
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("\nmodels:");
    for m in parabench::model::ModelKind::ALL {
        println!("  {:<20} {}", m.id(), m.describe());
    }
    println!(
        "  {:<20} the same under an emulated CPython GIL (thread, thread-pool, process, process-pool, async)",
        "MODEL+gil"
    );
    for m in parabench::model::ModelKind::CPYTHON {
        println!("  {:<20} {}", m.id(), m.describe());
    }
    Ok(0)
}

fn sysinfo() -> anyhow::Result<u8> {
    let machine = parabench::machine::record();
    println!("{}", serde_json::to_string_pretty(&machine)?);
    Ok(0)
}

/// Exit 1 when at least one case confidently regressed, 0 otherwise.
fn compare_command(args: &CompareArgs) -> anyhow::Result<u8> {
    let options = compare::CompareOptions::new(args.metric, args.threshold)?;
    let baseline = load::load_report(&args.baseline)?;
    let current = load::load_report(&args.current)?;
    let comparison = compare::compare(&baseline, &current, &options);
    // Warnings also go to stderr, so that they are seen when stdout is
    // redirected to a file or a step summary.
    for warning in &comparison.warnings {
        eprintln!("warning: {warning}");
    }
    write_stdout(&compare::render(&comparison, args.format))?;
    Ok(u8::from(comparison.has_regression()))
}

fn export_command(args: &ExportArgs) -> anyhow::Result<u8> {
    let report = load::load_report(&args.results)?;
    let text = export::export(&report, args.format);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the export to {}", path.display()))?,
        None => write_stdout(&text)?,
    }
    Ok(0)
}

fn history_command(args: &HistoryArgs) -> anyhow::Result<u8> {
    let summary = history::write_history(&args.inputs, &args.out)?;
    eprintln!(
        "wrote {} charts from {} runs; see {}",
        summary.n_charts,
        summary.n_runs,
        summary.index.display()
    );
    Ok(0)
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
}

fn report(args: &ReportArgs) -> anyhow::Result<u8> {
    let results = parabench::load::load_report(&args.results)?;
    let beside = match args.results.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let out = args.out.as_deref().unwrap_or(beside);
    for path in parabench::report::write_all(&results, out)? {
        println!("{}", path.display());
    }
    // The page links to results.json beside it; keep that link working.
    let copy = out.join("results.json");
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(&copy, &args.results) {
        std::fs::copy(&args.results, &copy)
            .with_context(|| format!("copying {} to {}", args.results.display(), copy.display()))?;
        println!("{}", copy.display());
    }
    Ok(0)
}
