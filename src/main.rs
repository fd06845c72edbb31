use clap::Parser;
use parabench::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Report(_) => Err(anyhow::anyhow!("report: not wired yet")),
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
