//! Reports: turns a `RunReport` into `index.html` (charts inline), one PNG and
//! one SVG per chart, and `summary.md`. Every renderer is pure (data in, bytes
//! out); `write_all` is the only function here that writes files, and `load`
//! the only one that reads them.

mod charts;
mod html;
mod markdown;
mod palette;
mod query;
mod table;
pub mod verdicts;

use crate::results::{RunReport, SCHEMA_VERSION, ScenarioInfo};
use anyhow::Context;
use rayon::prelude::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
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

#[derive(Debug)]
struct RenderedChart {
    /// File name without extension: `<scenario slug>-<chart kind>`.
    stem: String,
    title: String,
    svg: String,
    png: Vec<u8>,
}

/// A results file that cannot be reported on; the user can fix it (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {} (truncated, or not a results file?)", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} has schema_version {found}, this parabench reads version {SCHEMA_VERSION}",
        path.display()
    )]
    Version { path: PathBuf, found: u64 },
    #[error("{} has no schema_version: not a parabench results file", path.display())]
    NoVersion { path: PathBuf },
}

/// Reads and checks a results file: it must exist, parse, and carry the
/// schema version this build reads.
pub fn load(path: &Path) -> Result<RunReport, LoadError> {
    let owned = || path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: owned(),
        source,
    })?;
    let parse = |source| LoadError::Parse {
        path: owned(),
        source,
    };
    // The version is checked first, so that a future layout is reported as
    // such rather than as a missing field.
    let value: serde_json::Value = serde_json::from_str(&text).map_err(parse)?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(found) => {
            return Err(LoadError::Version {
                path: owned(),
                found,
            });
        }
        None => return Err(LoadError::NoVersion { path: owned() }),
    }
    serde_json::from_value(value).map_err(parse)
}

/// Renders every file of the report, in memory.
pub fn render(report: &RunReport) -> anyhow::Result<Vec<Artifact>> {
    let verdicts = verdicts::verdicts(report);
    let mut slugs: Vec<String> = Vec::new();
    let mut sections = Vec::new();
    for scenario in &report.scenarios {
        let slug = unique(slugify(&scenario.name), &slugs);
        slugs.push(slug.clone());
        // Drawing dominates the time to render a report; charts are
        // independent, so they are drawn on all cores.
        let charts = charts::scenario_charts(report, scenario)
            .par_iter()
            .map(|chart| {
                Ok(RenderedChart {
                    stem: format!("{slug}-{}", chart.kind.slug()),
                    title: chart.title.clone(),
                    svg: chart.svg()?,
                    png: chart.png()?,
                })
            })
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
        artifacts.push(Artifact {
            name: format!("{}.svg", chart.stem),
            bytes: chart.svg.into_bytes(),
        });
        artifacts.push(Artifact {
            name: format!("{}.png", chart.stem),
            bytes: chart.png,
        });
    }
    Ok(artifacts)
}

/// Renders the report and writes each file atomically into `out_dir`
/// (created if needed); returns the paths written.
pub fn write_all(report: &RunReport, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let artifacts = render(report)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    artifacts
        .into_iter()
        .map(|artifact| {
            let path = out_dir.join(&artifact.name);
            write_atomically(&path, &artifact.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// Writes a temporary file beside `path` and renames it over `path`, so a
/// reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    // Temporary files are private (0600); a report is meant to be shared.
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    file.persist(path)?;
    Ok(())
}

/// Lower-case ASCII letters and digits, other runs of characters as one `-`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "scenario".to_string()
    } else {
        slug.to_string()
    }
}

/// `slug`, or `slug-2`, `slug-3`... when another scenario already took it.
fn unique(slug: String, taken: &[String]) -> String {
    if !taken.contains(&slug) {
        return slug;
    }
    (2..)
        .map(|n| format!("{slug}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("an unused suffix exists")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The realistic results file shared by the renderers' tests.
    pub(crate) fn sample() -> RunReport {
        let text = include_str!("../../tests/fixtures/results-sample.json");
        serde_json::from_str(text).expect("fixture parses")
    }

    #[test]
    fn slugs_are_stable_and_unique() {
        assert_eq!(slugify("CPU hash (4 MiB)"), "cpu-hash-4-mib");
        assert_eq!(
            slugify("<script>alert(1)</script>"),
            "script-alert-1-script"
        );
        assert_eq!(slugify("ééé"), "scenario");
        let taken = vec!["cpu".to_string(), "cpu-2".to_string()];
        assert_eq!(unique("cpu".into(), &taken), "cpu-3");
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

    #[test]
    fn load_rejects_missing_truncated_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.json");
        let err = format!("{:#}", load(&missing).unwrap_err());
        assert!(err.contains("absent.json"), "{err}");

        let text = include_str!("../../tests/fixtures/results-sample.json");
        let truncated = dir.path().join("truncated.json");
        std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
        let err = format!("{:#}", load(&truncated).unwrap_err());
        assert!(
            err.contains("parsing") && err.contains("truncated.json"),
            "{err}"
        );

        let future = dir.path().join("future.json");
        std::fs::write(
            &future,
            text.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1),
        )
        .unwrap();
        let err = format!("{:#}", load(&future).unwrap_err());
        assert!(err.contains("schema_version 99"), "{err}");

        let good = dir.path().join("results.json");
        std::fs::write(&good, text).unwrap();
        assert_eq!(load(&good).unwrap(), sample());
    }
}
