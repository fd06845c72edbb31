//! Command-line definitions (clap) and nothing else: values are checked and
//! resolved in `plan`, and the commands are carried out in `main`. Part of
//! the binary, not the library (`mod cli` in main.rs): the library takes
//! its options as plain structs (`plan::PlanOptions`) and never sees clap.
//! It names library items by `parabench::` so that tests can include it.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use parabench::compare::{CompareFormat, Metric, metric};
use parabench::export::ExportFormat;
use parabench::model::StartMethod;
use parabench::plan::PlanOptions;
use parabench::spec::WorkloadKind;
use std::path::PathBuf;

/// A value parser for one of a library enum's values, by their ids: `--help`
/// lists them and a typo gets clap's suggestion.
fn one_of<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    id: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(|&v| id(v))).map(move |name| {
        *all.iter()
            .find(|&&v| id(v) == name)
            .expect("clap admits only the listed names")
    })
}

#[derive(Debug, Parser)]
#[command(
    name = "parabench",
    version,
    about = "Measures how concurrency models really behave on this machine",
    long_about = "Runs CPU-bound, IO-bound and mixed workloads under threads, processes, pools, \
                  async tasks and an emulated GIL, and reports measured times, speedups and verdicts."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: boxing `RunArgs` would save nothing worth the noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite (the built-in default when no file is given) and write results
    Run(RunArgs),
    /// Show the scenarios and models of a suite without running anything
    List(ListArgs),
    /// Print the machine record that results are tagged with
    Sysinfo,
    /// Regenerate the HTML, charts and summary from a results file
    Report(ReportArgs),
    /// Compare two results files and flag confident regressions (exit 1)
    Compare(CompareArgs),
    /// Convert a results file for other tools (Bencher, github-action-benchmark, CSV)
    Export(ExportArgs),
    /// Draw trend charts from several results files
    History(HistoryArgs),
    /// Internal: run tasks sent over stdin (used by the process models)
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// Internal: the lifecycle scenario's demo process (started by `run`)
    #[command(hide = true)]
    LifecycleChild(LifecycleChildArgs),
    /// Internal: fork workers on request (the forkserver start method)
    #[command(hide = true)]
    Forkserver,
    /// Internal: run one batch sent over stdin where it can be killed (deadlock cases)
    #[command(hide = true)]
    Contained,
    /// Internal: the io-models workload's echo server or one client run (started by `run`)
    #[command(hide = true)]
    IoPeer(IoPeerArgs),
}

#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    /// Suite files (TOML); the built-in default suite when none is given
    pub suites: Vec<PathBuf>,
    /// Shrink every sweep so the default suite finishes in about a minute
    #[arg(long)]
    pub quick: bool,
    /// Output directory
    #[arg(long, default_value = "reports/latest")]
    pub out: PathBuf,
    /// Run only these scenarios (comma-separated names)
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run only these models (comma-separated ids, see `parabench list`)
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Measured repetitions per case: exactly N, or the fewest with --max-repetitions
    #[arg(long)]
    pub repetitions: Option<u32>,
    /// The most repetitions a point gets while a verdict on it is undecided
    #[arg(long)]
    pub max_repetitions: Option<u32>,
    /// Seconds a point may spend on extra repetitions for an undecided verdict
    #[arg(long, value_name = "SECONDS")]
    pub point_budget: Option<f64>,
    /// Unmeasured warm-up runs per case
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Seconds after which one batch of a case is abandoned and reported as failed
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Ad-hoc mode: run this workload without a suite file
    #[arg(long, conflicts_with = "suites", value_parser = one_of(&WorkloadKind::ALL, WorkloadKind::id))]
    pub workload: Option<WorkloadKind>,
    /// Target duration of one task in milliseconds (overrides the suite)
    #[arg(long, value_name = "MS", value_delimiter = ',')]
    pub task_ms: Vec<f64>,
    /// Number of tasks per batch, comma-separated for a sweep (overrides the suite)
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<usize>,
    /// Concurrency levels, comma-separated for a sweep (overrides the suite)
    #[arg(long, value_delimiter = ',')]
    pub workers: Vec<usize>,
    /// Convoy: CPU-bound threads beside the IO thread, comma-separated for a sweep (overrides the suite)
    #[arg(long, value_delimiter = ',')]
    pub cpu_threads: Vec<usize>,
    /// CPU kernel: hash or mandelbrot (overrides the suite)
    #[arg(long)]
    pub kernel: Option<String>,
    /// Share of each mixed task spent computing, 0 to 1 (overrides the suite)
    #[arg(long)]
    pub cpu_fraction: Option<f64>,
    /// KiB written, fsynced and read back by each io-file task (overrides the suite)
    #[arg(long)]
    pub file_kib: Option<u64>,
    /// KiB each cpu, io-sleep or mixed task writes and holds while it runs (overrides the suite)
    #[arg(long, value_name = "KIB")]
    pub touch_kib: Option<u64>,
    /// Server-side delay of the loopback echo server in ms (overrides the suite)
    #[arg(long, value_name = "MS")]
    pub server_delay_ms: Option<f64>,
    /// Round trips per io-socket task (overrides the suite)
    #[arg(long)]
    pub round_trips: Option<u32>,
    /// Floor: timed runs of each OS mechanism (overrides the suite)
    #[arg(long)]
    pub samples: Option<u32>,
    /// How the process models start workers, comma-separated for a sweep (overrides the suite)
    #[arg(long, value_delimiter = ',', value_parser = one_of(&StartMethod::ALL, StartMethod::id))]
    pub start_method: Vec<StartMethod>,
    /// MiB the parent program holds while workers start, comma-separated for a sweep (overrides the suite)
    #[arg(long, value_name = "MIB", value_delimiter = ',')]
    pub parent_mib: Vec<u64>,
    /// The interpreter of the cpython-* models: a name on PATH or in pyenv (python3.12), a version (3.12, 2.7) or a path (default: python3); several, comma-separated (3.12,3.13), run each cpython-* model once per interpreter
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<String>,
    /// Run no sequential baseline: speedups against tasks x the task's time (cpu and io-sleep only, for runs at scale)
    #[arg(long)]
    pub no_baseline: bool,
    /// Do not write index.html, charts and summary.md (results.json only)
    #[arg(long)]
    pub no_report: bool,
    /// Compare against this results file (or a name under reports/baselines/)
    #[arg(long, value_name = "FILE|NAME")]
    pub baseline: Option<String>,
    /// Judge regressions against --baseline even when it comes from another
    /// machine (otherwise such a comparison exits 3)
    #[arg(long, requires = "baseline")]
    pub allow_machine_mismatch: bool,
    /// Save the results as a named baseline under reports/baselines/
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
}

impl RunArgs {
    /// What the plan takes from these flags.
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            quick: self.quick,
            workload: self.workload,
            only: self.only.clone(),
            models: self.models.clone(),
            repetitions: self.repetitions,
            max_repetitions: self.max_repetitions,
            point_budget: self.point_budget,
            warmup: self.warmup,
            timeout: self.timeout,
            task_ms: self.task_ms.clone(),
            tasks: self.tasks.clone(),
            workers: self.workers.clone(),
            cpu_threads: self.cpu_threads.clone(),
            kernel: self.kernel.clone(),
            cpu_fraction: self.cpu_fraction,
            file_kib: self.file_kib,
            touch_kib: self.touch_kib,
            server_delay_ms: self.server_delay_ms,
            round_trips: self.round_trips,
            samples: self.samples,
            start_method: self.start_method.clone(),
            parent_mib: self.parent_mib.clone(),
            python: self.python.clone(),
            no_baseline: self.no_baseline,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Suite files (TOML); the built-in default suite when none is given
    pub suites: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results.json written by `parabench run`; several, from different
    /// machines, for one report that puts them side by side
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output directory (default: the directory of the results file, or
    /// reports/machines for several)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub baseline: PathBuf,
    pub current: PathBuf,
    /// Smallest relative change, in percent, that counts
    #[arg(long, default_value_t = 10.0)]
    pub threshold: f64,
    #[arg(long, default_value = "wall", value_parser = one_of(&metric::ALL, metric::name))]
    pub metric: Metric,
    #[arg(long, default_value = "table", value_parser = one_of(&CompareFormat::ALL, CompareFormat::id))]
    pub format: CompareFormat,
    /// Judge regressions even when the two runs come from different machines
    /// (otherwise such a comparison exits 3)
    #[arg(long)]
    pub allow_machine_mismatch: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub results: PathBuf,
    #[arg(long, value_parser = one_of(&ExportFormat::ALL, ExportFormat::id))]
    pub format: ExportFormat,
    /// Write here instead of stdout
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Results files, or directories holding them
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[arg(long, default_value = "reports/history")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IoPeerArgs {
    /// `server`: the echo server; `client`: one client run, its job on stdin
    #[arg(value_parser = ["server", "client"])]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct LifecycleChildArgs {
    /// Milliseconds the demo may take in all (the harness's case timeout)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub limit_ms: u64,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Serve many tasks, one per line, until stdin closes (process pools)
    #[arg(long)]
    pub pool: bool,
    /// The harness's pid: the worker dies with it, and exits at once if it is gone
    #[arg(long)]
    pub parent: Option<u32>,
}
