//! Many machines, one report: `parabench report A.json B.json ...` puts the
//! same scenarios of results files from different machines side by side.
//! `merge` checks the set (each file its own machine, by
//! `MachineIdentity`, at most `MAX_MACHINES`) and labels each machine;
//! `side_by_side` lines up each scenario's cases across machines, one cell
//! per (case, machine), never an average across machines; `render` makes
//! the merged page and summary (`machines/html.rs`, `machines/markdown.rs`),
//! the per-machine speedup panels (`charts/machines.rs`) and each machine's
//! own full report in a directory of its own. Pure, but for `write_all`.

mod html;
mod markdown;

use super::charts::machines::{self as machine_charts, MachineRun as ChartRun};
use super::{Artifact, RenderedChart};
use crate::compare::CaseKey;
use crate::results::identity::distinct_labels;
use crate::results::{CaseResult, RunReport, ScenarioInfo};
use anyhow::Context;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The most results files one merged report takes: each gets a panel in
/// every speedup chart and two columns in every table.
pub const MAX_MACHINES: usize = 8;

/// Why a set of results files cannot be merged; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(
        "{} and {} come from the same machine ({identity}); a merged report puts different \
         machines side by side and never mixes two runs of one machine into its series: \
         compare them with `parabench compare {} {}`, or follow runs over time with `parabench history`",
        first.display(), second.display(), first.display(), second.display()
    )]
    SameMachine {
        first: PathBuf,
        second: PathBuf,
        identity: String,
    },
    #[error(
        "{n} results files given, but a merged report takes at most {MAX_MACHINES}: pass fewer"
    )]
    TooMany { n: usize },
}

/// One machine's results in a merged report.
#[derive(Debug)]
pub struct MachineReport {
    /// The file it was read from, as the user named it.
    pub source: PathBuf,
    pub report: RunReport,
    /// Short and unique among the report's machines (`identity::distinct_labels`).
    pub label: String,
    /// Its directory in the output: its own full report lives there.
    pub slug: String,
}

/// Results files from different machines, checked and labelled, in the
/// order given.
#[derive(Debug)]
pub struct Merged {
    pub machines: Vec<MachineReport>,
}

/// Checks that every file comes from its own machine and labels each.
pub fn merge(inputs: Vec<(PathBuf, RunReport)>) -> Result<Merged, MergeError> {
    if inputs.len() > MAX_MACHINES {
        return Err(MergeError::TooMany { n: inputs.len() });
    }
    for (idx, (path, report)) in inputs.iter().enumerate() {
        let identity = report.machine.identity();
        if let Some((first, _)) = inputs[..idx]
            .iter()
            .find(|(_, earlier)| earlier.machine.identity() == identity)
        {
            return Err(MergeError::SameMachine {
                first: first.clone(),
                second: path.clone(),
                identity: identity.to_string(),
            });
        }
    }
    let labels = distinct_labels(&inputs.iter().map(|(_, r)| &r.machine).collect::<Vec<_>>());
    let mut slugs = crate::text::Slugs::new();
    let machines = inputs
        .into_iter()
        .zip(labels)
        .map(|((source, report), label)| MachineReport {
            slug: slugs.claim(&format!("machine {label}")),
            source,
            report,
            label,
        })
        .collect();
    Ok(Merged { machines })
}

/// One case lined up across machines: the case's key and, per machine in
/// the merged order, that machine's own case (None where it did not run).
#[derive(Debug)]
pub struct SideRow<'a> {
    pub key: CaseKey,
    pub cells: Vec<Option<&'a CaseResult>>,
}

/// A scenario as the merged report shows it.
#[derive(Debug)]
pub struct SideScenario<'a> {
    /// The first machine's description of it (names match across files).
    pub info: &'a ScenarioInfo,
    /// Which machines ran it.
    pub ran: Vec<bool>,
    pub rows: Vec<SideRow<'a>>,
}

impl Merged {
    fn chart_runs(&self) -> Vec<ChartRun<'_>> {
        self.machines
            .iter()
            .map(|m| ChartRun {
                label: &m.label,
                report: &m.report,
            })
            .collect()
    }
}

/// Every scenario of any machine, in the order first met, with its cases
/// lined up by `CaseKey`: a row per case any machine ran, a cell per
/// machine holding that machine's case only.
pub fn side_by_side(merged: &Merged) -> Vec<SideScenario<'_>> {
    let mut scenarios: Vec<SideScenario> = Vec::new();
    for machine in &merged.machines {
        for info in &machine.report.scenarios {
            if scenarios.iter().all(|s| s.info.name != info.name) {
                scenarios.push(SideScenario {
                    info,
                    ran: Vec::new(),
                    rows: Vec::new(),
                });
            }
        }
    }
    let n = merged.machines.len();
    for scenario in &mut scenarios {
        scenario.ran = merged
            .machines
            .iter()
            .map(|m| {
                m.report
                    .scenarios
                    .iter()
                    .any(|s| s.name == scenario.info.name)
            })
            .collect();
        for (idx, machine) in merged.machines.iter().enumerate() {
            for case in machine
                .report
                .cases
                .iter()
                .filter(|c| c.scenario == scenario.info.name)
            {
                let key = CaseKey::of(case);
                let row = match scenario.rows.iter_mut().position(|r| r.key == key) {
                    Some(at) => &mut scenario.rows[at],
                    None => {
                        scenario.rows.push(SideRow {
                            key,
                            cells: vec![None; n],
                        });
                        scenario.rows.last_mut().expect("just pushed")
                    }
                };
                // A repeated case in one file keeps its first result, as
                // `compare` does.
                row.cells[idx].get_or_insert(case);
            }
        }
    }
    scenarios
}

/// One claim on one scenario, judged on each machine from its own results:
/// what "What changes on a bigger machine" comes down to.
#[derive(Debug)]
pub struct VerdictRow {
    pub claim: String,
    /// `None` for a claim no scenario of that machine could test.
    pub scenario: Option<String>,
    /// Per machine, in the merged order; `None` where it made no such verdict.
    pub outcomes: Vec<Option<super::verdicts::Outcome>>,
}

/// Every machine's verdicts, lined up by (claim, scenario).
pub fn verdict_rows(merged: &Merged) -> Vec<VerdictRow> {
    let n = merged.machines.len();
    let mut rows: Vec<VerdictRow> = Vec::new();
    for (idx, machine) in merged.machines.iter().enumerate() {
        for verdict in super::verdicts::verdicts(&machine.report) {
            let claim = verdict.title();
            let at = rows
                .iter()
                .position(|r| r.claim == claim && r.scenario == verdict.scenario);
            let row = match at {
                Some(at) => &mut rows[at],
                None => {
                    rows.push(VerdictRow {
                        claim,
                        scenario: verdict.scenario.clone(),
                        outcomes: vec![None; n],
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            row.outcomes[idx].get_or_insert(verdict.outcome);
        }
    }
    rows
}

/// The two cells a machine gets in a row: the wall time and the speedup
/// over that machine's own baseline, each with its 95% interval; a failed
/// case shows its status, a case the machine did not run says so.
fn cells(report: &RunReport, case: Option<&CaseResult>) -> [String; 2] {
    let dash = || "–".to_owned();
    match case {
        None => ["not run".into(), dash()],
        Some(case) if !case.is_ok() => [case.status.to_string(), dash()],
        Some(case) => [
            case.wall_s
                .map_or_else(dash, super::table::seconds_interval),
            super::query::speedup(report, case).map_or_else(dash, super::table::ratio_interval),
        ],
    }
}

/// The columns before the machines': what the case is.
const KEY_HEADER: [&str; 4] = ["Model", "Workers", "Tasks", "Work"];
/// Each machine's columns.
const MACHINE_HEADER: [&str; 2] = ["Wall median [95% CI]", "Speedup [95% CI]"];

/// The key cells of a row, from whichever machine ran it first.
fn key_cells(row: &SideRow) -> [String; 4] {
    let case = row.cells.iter().flatten().next();
    [
        row.key.model.clone(),
        row.key.workers.to_string(),
        row.key.tasks.to_string(),
        case.map_or_else(String::new, |c| super::table::work(c)),
    ]
}

/// Renders every file of the merged report, in memory: `index.html`,
/// `summary.md`, each scenario's `<slug>-speedup-by-machine` chart, and
/// under `<machine slug>/` each machine's own full report and results.
pub fn render(merged: &Merged) -> anyhow::Result<Vec<Artifact>> {
    let scenarios = side_by_side(merged);
    let runs = merged.chart_runs();
    let mut slugs = crate::text::Slugs::new();
    // Machine directories are claimed first so no scenario slug takes one.
    for machine in &merged.machines {
        slugs.claim(&format!("machine {}", machine.label));
    }
    let scenario_slugs: Vec<String> = scenarios
        .iter()
        .map(|s| slugs.claim(&s.info.name))
        .collect();
    let stems: Vec<String> = scenario_slugs
        .iter()
        .map(|slug| format!("{slug}-{}", machine_charts::SLUG))
        .collect();
    let charts: Vec<Option<RenderedChart>> = scenarios
        .par_iter()
        .zip(&stems)
        .map(|(scenario, stem)| {
            machine_charts::speedup_by_machine(&scenario.info.name, &runs)
                .map(|chart| RenderedChart::draw(stem.clone(), &chart))
                .transpose()
                .with_context(|| format!("drawing the machines chart of {}", scenario.info.name))
        })
        .collect::<anyhow::Result<_>>()?;
    let verdicts = verdict_rows(merged);
    let page = html::render(merged, &verdicts, &scenarios, &charts, &scenario_slugs);
    let summary = markdown::render(merged, &verdicts, &scenarios, &charts);
    let mut artifacts = vec![
        Artifact {
            name: "index.html".into(),
            bytes: page.into_bytes(),
        },
        Artifact {
            name: "summary.md".into(),
            bytes: summary.into_bytes(),
        },
    ];
    for chart in charts.into_iter().flatten() {
        artifacts.extend(chart.into_artifacts());
    }
    for machine in &merged.machines {
        let own = super::render(&machine.report)
            .with_context(|| format!("rendering the report of {}", machine.source.display()))?;
        for artifact in own {
            artifacts.push(Artifact {
                name: format!("{}/{}", machine.slug, artifact.name),
                bytes: artifact.bytes,
            });
        }
        // Its page links to results.json beside it.
        artifacts.push(Artifact {
            name: format!("{}/results.json", machine.slug),
            bytes: serde_json::to_vec_pretty(&machine.report)?,
        });
    }
    Ok(artifacts)
}

/// Renders the merged report and writes each file atomically under
/// `out_dir` (created if needed, with a directory per machine); returns
/// the paths written.
pub fn write_all(merged: &Merged, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let artifacts = render(merged)?;
    for machine in &merged.machines {
        let dir = out_dir.join(&machine.slug);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    super::write_artifacts(artifacts, out_dir)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::tests::sample;

    /// The sample run, and the same run recorded on another machine whose
    /// every wall time is three times the sample's.
    pub(crate) fn two_machines() -> Vec<(PathBuf, RunReport)> {
        let a = sample();
        let mut b = sample();
        b.machine.cpu_brand = "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz".into();
        b.machine.logical_cores = 16;
        b.machine.physical_cores = Some(8);
        b.machine.memory_bytes = 64 << 30;
        b.machine.kernel = "6.8.0-1015-aws".into();
        b.machine.hostname = Some("big-runner".into());
        for case in &mut b.cases {
            for s in &mut case.samples_wall_s {
                *s *= 3.0;
            }
            if let Some(wall) = &mut case.wall_s {
                wall.median *= 3.0;
                wall.low *= 3.0;
                wall.high *= 3.0;
            }
        }
        vec![("a/results.json".into(), a), ("b/results.json".into(), b)]
    }

    #[test]
    fn each_cell_holds_its_own_machines_case() {
        let merged = merge(two_machines()).unwrap();
        assert_eq!(
            merged.machines[1].label,
            "16 cores · Intel Xeon Platinum 8375C · 64 GiB"
        );
        let scenarios = side_by_side(&merged);
        let names: Vec<&str> = scenarios.iter().map(|s| s.info.name.as_str()).collect();
        assert_eq!(names.len(), sample().scenarios.len(), "{names:?}");
        let mut cells = 0;
        for scenario in &scenarios {
            for row in &scenario.rows {
                let [Some(a), Some(b)] = row.cells[..] else {
                    panic!("{} not on both machines", row.key)
                };
                assert_eq!(CaseKey::of(a), row.key);
                assert_eq!(CaseKey::of(b), row.key);
                if let (Some(wa), Some(wb)) = (a.wall_s, b.wall_s) {
                    assert!((wb.median / wa.median - 3.0).abs() < 1e-9, "{}", row.key);
                    cells += 1;
                }
            }
        }
        assert!(cells > 20, "only {cells} rows with walls");
    }

    #[test]
    fn each_machine_is_judged_on_its_own_results() {
        let merged = merge(two_machines()).unwrap();
        let rows = verdict_rows(&merged);
        let own = crate::report::verdicts::verdicts(&merged.machines[0].report);
        assert!(!own.is_empty());
        for verdict in &own {
            let row = rows
                .iter()
                .find(|r| r.claim == verdict.title() && r.scenario == verdict.scenario)
                .expect("every verdict of a machine has its row");
            assert_eq!(row.outcomes[0], Some(verdict.outcome));
            assert!(row.outcomes[1].is_some(), "{}", row.claim);
        }
    }

    #[test]
    fn the_same_machine_twice_is_refused_and_too_many_files_too() {
        let mut inputs = two_machines();
        let again = sample();
        inputs.push(("c/results.json".into(), again));
        let err = merge(inputs).unwrap_err().to_string();
        assert!(
            err.contains("a/results.json")
                && err.contains("c/results.json")
                && err.contains("same machine")
                && err.contains("parabench compare"),
            "{err}"
        );
        let many: Vec<(PathBuf, RunReport)> = (0..=MAX_MACHINES)
            .map(|n| {
                let mut report = sample();
                report.machine.logical_cores = n + 1;
                (format!("{n}.json").into(), report)
            })
            .collect();
        assert!(matches!(merge(many), Err(MergeError::TooMany { .. })));
    }

    #[test]
    fn hostile_text_stays_inert_in_the_page_and_the_summary() {
        for name in crate::text::hostile::names() {
            let mut inputs = two_machines();
            let b = &mut inputs[1].1;
            b.machine.cpu_brand = name.clone();
            b.machine.hostname = Some(name.clone());
            b.machine.kernel = name.clone();
            let old = b.scenarios[0].name.clone();
            b.scenarios[0].name = name.clone();
            b.scenarios[0].description = name.clone();
            for case in b.cases.iter_mut().filter(|c| c.scenario == old) {
                case.scenario = name.clone();
                case.model = name.clone();
            }
            inputs[1].0 = PathBuf::from(&name);
            let merged = merge(inputs).unwrap();
            let scenarios = side_by_side(&merged);
            let charts: Vec<Option<RenderedChart>> = scenarios.iter().map(|_| None).collect();
            let slugs: Vec<String> = (0..scenarios.len()).map(|n| format!("s{n}")).collect();
            let verdicts = verdict_rows(&merged);
            let page = html::render(&merged, &verdicts, &scenarios, &charts, &slugs);
            assert!(
                !page.contains("<b>") && !page.contains("<script"),
                "{name:?}"
            );
            crate::text::hostile::assert_inert_markdown(&markdown::render(
                &merged, &verdicts, &scenarios, &charts,
            ));
            assert!(merged.machines.iter().all(|m| m.slug.len() < 100));
        }
    }

    #[test]
    fn render_writes_the_page_panels_and_each_machines_report() {
        let merged = merge(two_machines()).unwrap();
        let artifacts = render(&merged).unwrap();
        let names: Vec<&str> = artifacts.iter().map(|a| a.name.as_str()).collect();
        let dir_a = &merged.machines[0].slug;
        let dir_b = &merged.machines[1].slug;
        assert_ne!(dir_a, dir_b);
        for expected in [
            "index.html".to_owned(),
            "summary.md".to_owned(),
            "cpu-hash-speedup-by-machine.svg".to_owned(),
            "cpu-hash-speedup-by-machine.png".to_owned(),
            format!("{dir_a}/index.html"),
            format!("{dir_b}/cpu-hash-speedup.svg"),
            format!("{dir_b}/results.json"),
        ] {
            assert!(
                names.contains(&expected.as_str()),
                "{expected} missing from {names:?}"
            );
        }
        let unique: std::collections::HashSet<&&str> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        let svg = artifacts
            .iter()
            .find(|a| a.name == "cpu-hash-speedup-by-machine.svg")
            .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
            .unwrap();
        for label in &merged.machines {
            assert!(svg.contains(&label.label), "{} has no panel", label.label);
        }
        let copy = artifacts
            .iter()
            .find(|a| a.name == format!("{dir_b}/results.json"))
            .unwrap();
        let back =
            crate::load::parse_report(std::str::from_utf8(&copy.bytes).unwrap(), Path::new("copy"))
                .unwrap();
        // serde_json may round a float by an ulp on the way back: compare
        // what identifies the run.
        assert_eq!(back.machine, merged.machines[1].report.machine);
        assert_eq!(back.cases.len(), merged.machines[1].report.cases.len());
    }
}
