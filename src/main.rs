use anyhow::Context;
use clap::Parser;
use parabench::cli::{Cli, Command, ReportArgs};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Report(args) => report(&args),
        Command::Compare(_) => Err(anyhow::anyhow!("compare: not wired yet")),
        Command::Export(_) => Err(anyhow::anyhow!("export: not wired yet")),
        Command::History(_) => Err(anyhow::anyhow!("history: not wired yet")),
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

/// `parabench report`: renders a results file's report again, beside it or
/// into `--out`, and prints the paths written.
fn report(args: &ReportArgs) -> anyhow::Result<u8> {
    let results = parabench::report::load(&args.results)?;
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
