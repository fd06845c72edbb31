use anyhow::Context;
use clap::Parser;
use parabench::cli::{Cli, Command, CompareArgs, ExportArgs, HistoryArgs};
use parabench::{compare, export, history, load};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Report(_) => Err(anyhow::anyhow!("report: not wired yet")),
        Command::Compare(args) => compare_command(&args),
        Command::Export(args) => export_command(&args),
        Command::History(args) => history_command(&args),
        _ => Err(anyhow::anyhow!("not wired yet")),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
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
