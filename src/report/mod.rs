//! Reports: turns a `RunReport` into `index.html` (charts inline), one PNG and
//! one SVG per chart, and `summary.md`. Every renderer is pure (data in, bytes
//! out); `write_all` is the only function here that writes files, and `load`
//! the only one that reads them.

mod charts;
pub mod floor;
pub mod granularity;
mod html;
pub mod io_models;
mod lifecycle;
pub mod machines;
mod markdown;
pub mod noise;
mod palette;
pub mod query;
mod table;
pub mod verdicts;

use crate::results::{RunReport, ScenarioInfo};
use anyhow::Context;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One file of a report: its name inside the output directory and its bytes.
#[derive(Debug)]
pub struct Artifact {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A scenario with its rendered charts, as the HTML page lays them out.
#[derive(Debug)]
struct Section<'a> {
    scenario: &'a ScenarioInfo,
    /// Unique among the report's sections; prefixes the chart file names.
    slug: String,
    charts: Vec<RenderedChart>,
}

/// A chart drawn, with the file stem it is written under; the single and
/// the merged report both show and write their charts through it.
#[derive(Debug)]
struct RenderedChart {
    /// File name without extension: `<scenario slug>-<chart kind>`.
    stem: String,
    title: String,
    svg: String,
    png: Vec<u8>,
}

impl RenderedChart {
    fn draw(stem: String, chart: &charts::Chart) -> anyhow::Result<RenderedChart> {
        Ok(RenderedChart {
            stem,
            title: chart.title.clone(),
            svg: chart.svg()?,
            png: chart.png()?,
        })
    }

    /// The chart inline in a page, with links to its two files.
    fn figure(&self) -> String {
        use html::escape;
        format!(
            "<figure class=\"chart\" data-chart=\"{stem}\">{}<figcaption>{} · \
             <a href=\"{stem}.png\">PNG</a> · <a href=\"{stem}.svg\">SVG</a></figcaption></figure>",
            html::inline_svg(&self.svg),
            escape(&self.title),
            stem = escape(&self.stem),
        )
    }

    /// Its SVG and PNG files.
    fn into_artifacts(self) -> [Artifact; 2] {
        [
            Artifact {
                name: format!("{}.svg", self.stem),
                bytes: self.svg.into_bytes(),
            },
            Artifact {
                name: format!("{}.png", self.stem),
                bytes: self.png,
            },
        ]
    }
}

/// Renders every file of the report, in memory.
pub fn render(report: &RunReport) -> anyhow::Result<Vec<Artifact>> {
    let verdicts = verdicts::verdicts(report);
    // Bounded, and unique even for names that differ only in punctuation.
    let mut slugs = crate::text::Slugs::new();
    let mut sections = Vec::new();
    for scenario in &report.scenarios {
        let slug = slugs.claim(&scenario.name);
        // Drawing dominates the time to render a report; charts are
        // independent, so they are drawn on all cores.
        let charts = charts::scenario_charts(report, scenario)
            .par_iter()
            .map(|chart| RenderedChart::draw(format!("{slug}-{}", chart.slug), chart))
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| format!("drawing the charts of scenario {}", scenario.name))?;
        sections.push(Section {
            scenario,
            slug,
            charts,
        });
    }
    let mut artifacts = vec![
        Artifact {
            name: "index.html".into(),
            bytes: html::render(report, &verdicts, &sections).into_bytes(),
        },
        Artifact {
            name: "summary.md".into(),
            bytes: markdown::render(report, &verdicts).into_bytes(),
        },
    ];
    for chart in sections.into_iter().flat_map(|section| section.charts) {
        artifacts.extend(chart.into_artifacts());
    }
    Ok(artifacts)
}

/// Renders the report and writes each file atomically into `out_dir`
/// (created if needed); returns the paths written.
pub fn write_all(report: &RunReport, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let artifacts = render(report)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    write_artifacts(artifacts, out_dir)
}

/// Writes each artifact atomically under `out_dir`, whose directories
/// exist; returns the paths written.
pub(crate) fn write_artifacts(
    artifacts: Vec<Artifact>,
    out_dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    artifacts
        .into_iter()
        .map(|artifact| {
            let path = out_dir.join(&artifact.name);
            crate::atomic_file::write(&path, &artifact.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The realistic results file shared by the renderers' tests.
    /// The sample report with one emulated-vs-CPython pair, named `scenario`.
    pub(crate) fn with_fidelity(scenario: &str) -> RunReport {
        let mut report = sample();
        report.fidelity.push(crate::results::Fidelity {
            scenario: scenario.into(),
            emulated: "thread+gil".into(),
            reference: "cpython-thread".into(),
            workers: 2,
            tasks: 8,
            task_ms: Some(20.0),
            params: Default::default(),
            metric: "speedup".into(),
            emulated_value: 0.99,
            reference_value: 1.5,
            ratio: 0.66,
            rule: None,
            checks: Vec::new(),
            faithful: None,
            emulated_convoy: None,
            reference_convoy: None,
        });
        report
    }

    pub(crate) fn sample() -> RunReport {
        let text = include_str!("../../tests/fixtures/results-sample.json");
        serde_json::from_str(text).expect("fixture parses")
    }

    #[test]
    fn long_and_clashing_names_get_distinct_bounded_files() {
        let mut report = sample();
        let long = "x".repeat(crate::text::MAX_NAME_CHARS);
        let names = [
            format!("{long}a"),
            format!("{long}b"),
            "CPU hash".into(),
            "cpu-hash".into(),
        ];
        for (scenario, name) in report.scenarios.iter_mut().zip(&names) {
            for case in report
                .cases
                .iter_mut()
                .filter(|c| c.scenario == scenario.name)
            {
                case.scenario = name.clone();
            }
            scenario.name = name.clone();
        }
        let artifacts = render(&report).unwrap();
        let names: std::collections::HashSet<&str> =
            artifacts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names.len(), artifacts.len(), "two charts share a file name");
        assert!(names.iter().all(|name| name.len() < 200), "{names:?}");
    }

    #[test]
    fn renders_every_file_with_stable_names() {
        let artifacts = render(&sample()).unwrap();
        let names: Vec<&str> = artifacts.iter().map(|a| a.name.as_str()).collect();
        for expected in [
            "index.html",
            "summary.md",
            "cpu-hash-speedup.svg",
            "cpu-hash-speedup.png",
            "cpu-hash-latency.png",
            "cpu-hash-cpu-and-switches.svg",
            "cpu-hash-memory-per-unit.svg",
            "cpu-hash-gil-speedup.svg",
            "spawn-many-wall-vs-tasks.svg",
            "io-sleep-speedup.svg",
            "io-sleep-gil-speedup.png",
            "convoy-convoy.svg",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        // Charts that need a sweep the scenario lacks are skipped, not drawn empty.
        assert!(!names.contains(&"spawn-many-speedup.svg"));
        assert!(!names.contains(&"convoy-speedup.svg"));
        assert!(!names.contains(&"cpu-hash-wall-vs-tasks.svg"));
        assert!(!names.contains(&"spawn-many-gil-speedup.svg"));
        for png in artifacts.iter().filter(|a| a.name.ends_with(".png")) {
            assert!(png.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", png.name);
            assert!(
                png.bytes.len() > 10_000,
                "{} is suspiciously small",
                png.name
            );
        }
    }

    #[test]
    fn write_all_writes_what_render_returns() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/report");
        let paths = write_all(&sample(), &out).unwrap();
        assert_eq!(paths.len(), render(&sample()).unwrap().len());
        for path in &paths {
            let meta = std::fs::metadata(path).unwrap();
            assert!(meta.len() > 0, "{}", path.display());
            assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        }
        // Nothing but the report: no temporary files left behind.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), paths.len());
    }
}
