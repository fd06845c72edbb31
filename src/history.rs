//! Trends across runs: reads several results files, orders them by start
//! time, and draws one chart per case and metric (median with its 95% CI)
//! as SVG and PNG, with an `index.md` listing them. Everything here is pure
//! except `write_history`, the one function that reads and writes files.

mod chart;

pub use chart::{png, svg};

use crate::compare::Metric;
use crate::compare::{CaseKey, metric};
use crate::load::load_report;
use crate::results::RunReport;
use crate::stats::median_ci;
use anyhow::Context;
use std::collections::{BTreeSet, HashMap, HashSet};
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
pub struct Point {
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
    pub points: Vec<Point>,
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
            let points: Vec<Point> = runs
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
                    Some(Point {
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

/// File-name stem for each series: the case key made safe for any file
/// system, then the metric; repeated stems get a numeric suffix.
pub fn chart_stems(series: &[Series]) -> Vec<String> {
    let mut used = HashMap::new();
    series
        .iter()
        .map(|s| {
            let mut slug = String::new();
            for c in s.key.to_string().chars() {
                if c.is_ascii_alphanumeric() || c == '.' {
                    slug.push(c.to_ascii_lowercase());
                } else if !slug.ends_with('-') {
                    slug.push('-');
                }
            }
            let stem = format!("{}-{}", slug.trim_matches('-'), metric::name(s.metric));
            let count = used.entry(stem.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                stem
            } else {
                format!("{stem}-{count}")
            }
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
        out.push_str(&format!(
            "| {} | {} | {} | `{}` |\n",
            run_idx + 1,
            run.started_at,
            run.git_commit
                .as_deref()
                .map_or("-", |c| c.get(..12).unwrap_or(c)),
            run.source.display()
        ));
    }
    let mut current_case = None;
    for (s, stem) in series.iter().zip(stems) {
        if current_case != Some(&s.key) {
            out.push_str(&format!(
                "\n## {}\n\n",
                crate::export::escape_markdown(&s.key.to_string())
            ));
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
    for (s, stem) in series.iter().zip(&stems) {
        let svg_path = out.join(format!("{stem}.svg"));
        std::fs::write(&svg_path, svg(s, &labels)?)
            .with_context(|| format!("writing {}", svg_path.display()))?;
        let png_path = out.join(format!("{stem}.png"));
        std::fs::write(&png_path, png(s, &labels)?)
            .with_context(|| format!("writing {}", png_path.display()))?;
    }
    let index = out.join("index.md");
    std::fs::write(&index, index_markdown(&infos, &series, &stems))
        .with_context(|| format!("writing {}", index.display()))?;
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
}
