//! Trends across runs: reads several results files, orders them by start
//! time, and draws one chart per case and metric (median with its 95% CI)
//! as SVG and PNG, with an `index.md` listing them. Everything here is pure
//! except `write_history`, the one function that reads and writes files.

mod chart;

pub use chart::{png, svg};

use crate::cli::Metric;
use crate::compare::{CaseKey, median, metric};
use crate::load::load_report;
use crate::results::{Estimate, RunReport};
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
/// in order of first appearance, metrics in `metric::ALL` order.
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
                        _ => median_interval(&metric::samples(case, metric))?,
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

/// The median with a distribution-free 95% confidence interval: the order
/// statistics x(k) and x(n+1-k) for the largest k whose binomial coverage
/// is still at least 95%. Below 6 samples no pair reaches 95% and the
/// interval is the full range (93.75% for 5 samples).
pub fn median_interval(samples: &[f64]) -> Option<Estimate> {
    let median = median(samples)?;
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    // P(Binomial(n, 1/2) <= j), accumulated term by term; the terms are
    // tracked as logarithms because 0.5^n underflows for large n.
    let mut tail = 0.0;
    let mut ln_term = n as f64 * 0.5_f64.ln();
    let mut k = 1;
    for j in 0..n / 2 {
        tail += ln_term.exp();
        ln_term += ((n - j) as f64 / (j + 1) as f64).ln();
        // [x(j+2), x(n-j-1)] misses the median with probability 2 P(B <= j+1).
        if 2.0 * (tail + ln_term.exp()) > crate::compare::ALPHA {
            break;
        }
        k = j + 2;
    }
    Some(Estimate {
        median,
        low: sorted[k - 1],
        high: sorted[n - k],
    })
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
    fn small_samples_use_the_full_range() {
        let e = median_interval(&[3.0, 1.0, 2.0, 5.0, 4.0]).unwrap();
        assert_eq!((e.median, e.low, e.high), (3.0, 1.0, 5.0));
    }

    #[test]
    fn larger_samples_narrow_the_interval() {
        // n = 20: P(B <= 5) = 0.0207, so [x(6), x(15)] covers 95.9%.
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        let e = median_interval(&samples).unwrap();
        assert_eq!((e.low, e.high), (6.0, 15.0));
        assert_eq!(e.median, 10.5);
    }

    #[test]
    fn many_samples_keep_a_proper_interval() {
        let samples: Vec<f64> = (1..=3000).map(f64::from).collect();
        let e = median_interval(&samples).unwrap();
        // About 1.96 sqrt(n) / 2 = 54 ranks either side of the middle.
        assert!(e.low < e.median && e.median < e.high, "{e:?}");
        assert!((e.high - e.low - 108.0).abs() <= 4.0, "{e:?}");
    }

    #[test]
    fn no_samples_no_interval() {
        assert!(median_interval(&[]).is_none());
    }

    #[test]
    fn labels_are_short_times() {
        assert_eq!(run_label("2025-03-01T10:00:00Z"), "2025-03-01 10:00");
    }
}
