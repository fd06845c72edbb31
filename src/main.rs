//! parabench's entry point: parse the command line, carry out the command,
//! print the error chain and map the outcome to an exit code
//! (0 success, 1 failed cases or a confident regression, 2 bad input,
//! 130 interrupted).

use anyhow::Context;
use clap::Parser;
use parabench::cli::{Cli, Command, ListArgs, RunArgs};
use parabench::{console, plan, runner};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::List(args) => list(args),
        Command::Sysinfo => sysinfo(),
        Command::Worker(args) => parabench::worker::serve(args.pool).map(|()| 0),
        Command::Report(_) => Err(anyhow::anyhow!("report: not wired yet")),
        Command::Compare(_) => Err(anyhow::anyhow!("compare: not wired yet")),
        Command::Export(_) => Err(anyhow::anyhow!("export: not wired yet")),
        Command::History(_) => Err(anyhow::anyhow!("history: not wired yet")),
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
    if err.chain().any(|e| e.is::<plan::PlanError>()) {
        2
    } else {
        1
    }
}

fn run(args: RunArgs) -> anyhow::Result<u8> {
    let sources = plan::load_sources(&args.suites)?;
    let plan = plan::build(&sources, &args)?;
    parabench::limits::check(&plan, &parabench::limits::current())
        .map_err(|reason| plan::PlanError::Suite(format!("refusing to run: {reason}")))?;

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
    let failed = report
        .cases
        .iter()
        .filter(|c| !c.is_ok() && !c.status.starts_with("skipped"))
        .count();
    if report.interrupted {
        eprintln!("interrupted: {} cases saved", report.cases.len());
        return Ok(130);
    }
    if failed > 0 {
        eprintln!("{failed} case(s) failed; see their status");
        return Ok(1);
    }
    Ok(0)
}

fn list(args: ListArgs) -> anyhow::Result<u8> {
    let sources = plan::load_sources(&args.suites)?;
    let run_args = RunArgs::default();
    let plan = plan::build(&sources, &run_args)?;
    for s in &plan.scenarios {
        println!("{} ({})", s.name, s.workload.id());
        if !s.description.is_empty() {
            println!("  {}", s.description);
        }
        println!(
            "  workers {:?}, tasks {:?}{}, {} repetitions + {} warm-up",
            s.workers,
            s.tasks,
            if s.uses_time_size() {
                format!(", task_ms {:?}", s.task_ms)
            } else {
                String::new()
            },
            s.repetitions,
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
