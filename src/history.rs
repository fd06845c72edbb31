//! Trends across runs: reads several results files, orders them by start
//! time, and draws one chart per case and metric (median with its 95% CI)
//! as SVG and PNG, with an `index.md` listing them. Everything here is pure
//! except `write_history`, the one function that reads and writes files
//! (through `load` and `atomic_file`).

mod chart;

pub use chart::{png, svg};

use crate::compare::Metric;
use crate::compare::{CaseKey, metric};
use crate::load::load_report;
use crate::results::RunReport;
use crate::stats::median_ci;
use crate::text::{markdown, markdown_code};
use anyhow::Context;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// What the user can get wrong when asking for a history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "no results files in {inputs}; pass results.json files, or directories holding *.json results or */results.json"
    )]
    NoResults { inputs: String },
}

/// One run on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSource {
    pub started_at: String,
    pub git_commit: Option<String>,
    pub source: PathBuf,
}

/// One case's metric at one run: the median and its 95% CI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendPoint {
    pub run_idx: usize,
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

/// Everything one chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub key: CaseKey,
    pub metric: Metric,
    pub points: Vec<TrendPoint>,
}

/// Orders runs by `harness.started_at` (RFC 3339), then by source path so
/// that equal times still give one order.
pub fn order_runs(runs: &mut [(PathBuf, RunReport)]) {
    runs.sort_by_cached_key(|(path, report)| {
        let started = &report.harness.started_at;
        (
            humantime::parse_rfc3339_weak(started).ok(),
            started.clone(),
            path.clone(),
        )
    });
}

/// One series per case and metric with at least one measured point, cases
/// in order of first appearance, metrics in `metric::ALL` order. Wall time
/// uses the runner's recorded estimate; the others `stats::median_ci` of
/// the per-repetition samples, the same method.
pub fn series(runs: &[RunReport]) -> Vec<Series> {
    let mut keys = Vec::new();
    let mut seen = HashSet::new();
    for case in runs.iter().flat_map(|run| &run.cases) {
        let key = CaseKey::of(case);
        if case.is_ok() && seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    let mut all = Vec::new();
    for key in keys {
        for metric in metric::ALL {
            let points: Vec<TrendPoint> = runs
                .iter()
                .enumerate()
                .filter_map(|(run_idx, run)| {
                    let case = run
                        .cases
                        .iter()
                        .find(|c| c.is_ok() && CaseKey::of(c) == key)?;
                    let estimate = match (metric, case.wall_s) {
                        // The runner's own estimate, so charts agree with its reports.
                        (Metric::Wall, Some(estimate)) => estimate,
                        _ => median_ci(&metric::samples(case, metric))?,
                    };
                    Some(TrendPoint {
                        run_idx,
                        median: estimate.median,
                        low: estimate.low,
                        high: estimate.high,
                    })
                })
                .collect();
            if !points.is_empty() {
                all.push(Series {
                    key: key.clone(),
                    metric,
                    points,
                });
            }
        }
    }
    all
}

/// File-name stem for each series: the case key as a bounded slug, unique
/// among the cases (`text::Slugs`), then the metric.
pub fn chart_stems(series: &[Series]) -> Vec<String> {
    let mut slugs = crate::text::Slugs::new();
    series
        .iter()
        .map(|s| {
            let slug = slugs.claim(&s.key.to_string());
            format!("{slug}-{}", metric::name(s.metric))
        })
        .collect()
}

/// `index.md`: the runs in order, then every case with its charts.
pub fn index_markdown(runs: &[RunSource], series: &[Series], stems: &[String]) -> String {
    let mut out = format!(
        "# parabench history\n\n{} runs, oldest first. Each chart shows the median per run and its 95% confidence interval.\n\n",
        runs.len()
    );
    out.push_str("| run | started (UTC) | commit | file |\n| ---: | --- | --- | --- |\n");
    for (run_idx, run) in runs.iter().enumerate() {
        let commit = run.git_commit.as_deref().map_or("-".to_owned(), |c| {
            markdown_code(&c.chars().take(12).collect::<String>())
        });
        out.push_str(&format!(
            "| {} | {} | {commit} | {} |\n",
            run_idx + 1,
            markdown(&run.started_at),
            markdown_code(&run.source.display().to_string())
        ));
    }
    let mut current_case = None;
    for (s, stem) in series.iter().zip(stems) {
        if current_case != Some(&s.key) {
            out.push_str(&format!("\n## {}\n\n", markdown(&s.key.to_string())));
            current_case = Some(&s.key);
        }
        out.push_str(&format!(
            "![{desc}]({stem}.svg)\n[{desc} (PNG)]({stem}.png)\n\n",
            desc = metric::description(s.metric)
        ));
    }
    out
}

/// What `write_history` produced.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySummary {
    pub n_runs: usize,
    pub n_charts: usize,
    pub index: PathBuf,
}

/// Reads every results file among `inputs`, draws the charts and writes
/// them with `index.md` into `out`.
pub fn write_history(inputs: &[PathBuf], out: &Path) -> anyhow::Result<HistorySummary> {
    let files = results_files(inputs)?;
    let mut runs = Vec::new();
    for path in files {
        let report = load_report(&path)?;
        runs.push((path, report));
    }
    order_runs(&mut runs);
    let infos: Vec<RunSource> = runs
        .iter()
        .map(|(path, report)| RunSource {
            started_at: report.harness.started_at.clone(),
            git_commit: report.harness.git_commit.clone(),
            source: path.clone(),
        })
        .collect();
    let reports: Vec<RunReport> = runs.into_iter().map(|(_, report)| report).collect();
    let series = series(&reports);
    let stems = chart_stems(&series);
    let labels: Vec<String> = infos.iter().map(|run| run_label(&run.started_at)).collect();

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |path: &Path, bytes: &[u8]| {
        crate::atomic_file::write(path, bytes)
            .with_context(|| format!("writing {}", path.display()))
    };
    for (s, stem) in series.iter().zip(&stems) {
        write(
            &out.join(format!("{stem}.svg")),
            svg(s, &labels)?.as_bytes(),
        )?;
        write(&out.join(format!("{stem}.png")), &png(s, &labels)?)?;
    }
    let index = out.join("index.md");
    write(&index, index_markdown(&infos, &series, &stems).as_bytes())?;
    Ok(HistorySummary {
        n_runs: infos.len(),
        n_charts: series.len(),
        index,
    })
}

/// `2025-03-01T10:00:00Z` -> `2025-03-01 10:00`, short enough for an axis.
fn run_label(started_at: &str) -> String {
    started_at.replacen('T', " ", 1).chars().take(16).collect()
}

/// Files are taken as given; a directory contributes its `*.json` files and
/// the `results.json` of each subdirectory (so both `reports/` and a folder
/// of saved baselines work). Each file is read once, in path order.
fn results_files(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = BTreeSet::new();
    for input in inputs {
        if !input.is_dir() {
            files.insert(input.clone());
            continue;
        }
        let entries =
            std::fs::read_dir(input).with_context(|| format!("listing {}", input.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing {}", input.display()))?
                .path();
            if path.is_dir() {
                let nested = path.join("results.json");
                if nested.is_file() {
                    files.insert(nested);
                }
            } else if path.extension().is_some_and(|ext| ext == "json") {
                files.insert(path);
            }
        }
    }
    if files.is_empty() {
        let inputs = inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(HistoryError::NoResults { inputs }.into());
    }
    Ok(files.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_times() {
        assert_eq!(run_label("2025-03-01T10:00:00Z"), "2025-03-01 10:00");
    }

    /// The sample report cut to its first `n_cases` measured cases, each
    /// scenario renamed `<name>-<old name>`.
    fn renamed_run(name: &str, n_cases: usize) -> RunReport {
        let mut report = crate::report::tests::sample();
        report.cases.retain(|case| case.is_ok());
        report.cases.truncate(n_cases);
        for case in &mut report.cases {
            case.scenario = format!("{name}-{}", case.scenario);
        }
        report
    }

    #[test]
    fn hostile_names_stay_inert_in_the_index() {
        for name in crate::text::hostile::names() {
            let runs = [renamed_run(&name, 6), renamed_run(&name, 6)];
            let infos: Vec<RunSource> = (0..runs.len())
                .map(|_| RunSource {
                    started_at: name.clone(),
                    git_commit: Some(name.clone()),
                    source: PathBuf::from(format!("runs/{name}.json")),
                })
                .collect();
            let series = series(&runs);
            let stems = chart_stems(&series);
            let md = index_markdown(&infos, &series, &stems);
            crate::text::hostile::assert_inert_markdown(&md);
            let unique: HashSet<&String> = stems.iter().collect();
            assert_eq!(unique.len(), stems.len());
            for stem in &stems {
                assert!(stem.len() < 200, "{stem}");
                assert!(
                    stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                    "{stem}"
                );
            }
        }
    }

    #[test]
    fn long_names_make_bounded_distinct_files() {
        let dir = tempfile::tempdir().unwrap();
        let long = "n".repeat(crate::text::MAX_NAME_CHARS);
        for (idx, suffix) in ["a", "b"].iter().enumerate() {
            let report = renamed_run(&format!("{long}{suffix}"), 1);
            let path = dir.path().join(format!("run{idx}.json"));
            std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
        }
        let out = dir.path().join("history");
        let summary = write_history(&[dir.path().to_owned()], &out).unwrap();
        assert_eq!(summary.n_runs, 2);
        // Two distinct cases, four metrics each, two files per chart, and the index.
        assert_eq!(summary.n_charts, 2 * 4);
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2 * 4 * 2 + 1);
    }
}
