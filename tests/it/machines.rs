//! Many machines, one report: `parabench report A.json B.json` on two
//! results files crafted from the sample (the same run, another machine
//! record, every non-baseline wall time divided by three), its refusals
//! (a missing file, a file that is not results JSON, another schema
//! version, one machine twice), and `parabench compare` across machines.
//! Deterministic: no run, only files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sample() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results-sample.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The sample on a 16-core machine where every model but the sequential
/// baseline ran three times as fast: its speedups are three times A's.
fn bigger_machine() -> serde_json::Value {
    let mut b = sample();
    b["machine"] = serde_json::json!({
        "cpu_brand": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        "logical_cores": 16,
        "physical_cores": 8,
        "memory_bytes": 64u64 << 30,
        "os": "Ubuntu 24.04",
        "kernel": "6.8.0-1015-aws",
        "hostname": "big-runner",
    });
    for case in b["cases"].as_array_mut().unwrap() {
        if case["model"] == "sequential" {
            continue;
        }
        for sample in case["samples_wall_s"].as_array_mut().unwrap() {
            *sample = (sample.as_f64().unwrap() / 3.0).into();
        }
        if let Some(wall) = case["wall_s"].as_object_mut() {
            for value in wall.values_mut() {
                *value = (value.as_f64().unwrap() / 3.0).into();
            }
        }
    }
    b
}

fn write(dir: &Path, name: &str, value: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
    path
}

fn parabench(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .output()
        .expect("parabench runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The number before `×` in a Markdown cell (`2\.91× \[2.89, 2.92\]`).
fn speedup(cell: &str) -> f64 {
    cell.replace('\\', "")
        .split('×')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no speedup in {cell:?}"))
}

const LABEL_A: &str = "2 cores · AMD EPYC 7B13 · 8 GiB";
const LABEL_B: &str = "16 cores · Intel Xeon Platinum 8375C · 64 GiB";

#[test]
fn two_machines_render_side_by_side_with_a_panel_each() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &sample());
    let b = write(dir.path(), "b.json", &bigger_machine());
    let out = dir.path().join("merged");
    let run = parabench(&[
        "report".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();

    // The machines table: cores, CPU, memory and kernel of each.
    for needle in [
        LABEL_A,
        LABEL_B,
        "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        "<td class=\"num\">16</td>",
        "64 GiB",
        "6.8.0-1015-aws",
        "big-runner",
    ] {
        assert!(page.contains(needle), "index.html lacks {needle:?}");
    }
    assert!(summary.contains(LABEL_A) && summary.contains(LABEL_B));
    assert!(
        summary.contains("| 16 | 8 | 64 GiB | 6\\.8.0-1015-aws |"),
        "{summary}"
    );

    // One speedup chart per scenario with a sweep, one panel per machine.
    for ext in ["svg", "png"] {
        assert!(
            out.join(format!("cpu-hash-speedup-by-machine.{ext}"))
                .is_file()
        );
    }
    assert!(page.contains("data-chart=\"cpu-hash-speedup-by-machine\"><svg"));
    let svg = std::fs::read_to_string(out.join("cpu-hash-speedup-by-machine.svg")).unwrap();
    assert!(
        svg.contains(LABEL_A) && svg.contains(LABEL_B),
        "a panel is missing"
    );

    // Each machine's own full report sits in its own directory.
    let dirs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for dir in &dirs {
        assert!(dir.join("index.html").is_file() && dir.join("results.json").is_file());
        assert!(dir.join("cpu-hash-speedup.svg").is_file());
    }

    // No series mixes machines: each machine's speedup of a case comes from
    // its own walls (B's are three times A's), in the page's summary table.
    let row = summary
        .lines()
        .find(|l| l.starts_with("| thread | 4 | 16 |"))
        .expect("cpu-hash's thread row at 4 workers");
    let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
    // Model, workers, tasks, work, then wall and speedup per machine.
    let (speedup_a, speedup_b) = (speedup(cells[5]), speedup(cells[7]));
    assert!(
        (speedup_b / speedup_a - 3.0).abs() < 0.02,
        "{speedup_a} vs {speedup_b}: {row}"
    );
}

#[test]
fn one_file_alone_renders_the_single_machine_report() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "results.json", &sample());
    let run = parabench(&["report".as_ref(), a.as_os_str()]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(dir.path().join("cpu-hash-speedup.svg").is_file());
    assert!(!dir.path().join("cpu-hash-speedup-by-machine.svg").exists());
    let dirs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(dirs, 0, "no machine directories for one machine");
}

#[test]
fn bad_files_are_refused_by_name_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &sample());
    let b = write(dir.path(), "b.json", &bigger_machine());
    let not_json = dir.path().join("notes.json");
    std::fs::write(&not_json, "these are notes, not results").unwrap();
    let mut other_version = sample();
    other_version["schema_version"] = 99.into();
    let other_version = write(dir.path(), "old.json", &other_version);
    let not_results = write(dir.path(), "config.json", &serde_json::json!({"name": "x"}));
    let missing = dir.path().join("missing.json");
    let out = dir.path().join("merged");
    for (bad, expected) in [
        (&missing, "does not exist"),
        (&not_json, "not valid JSON"),
        (&not_results, "no schema_version"),
        (&other_version, "schema version 99"),
        (&a, "same machine"),
    ] {
        let run = parabench(&[
            "report".as_ref(),
            a.as_os_str(),
            b.as_os_str(),
            bad.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(run.status.code(), Some(2), "{}", bad.display());
        let stderr = text(&run.stderr);
        assert!(
            stderr.contains(&bad.display().to_string()) && stderr.contains(expected),
            "{stderr}"
        );
    }
    assert!(
        !out.exists(),
        "nothing is written before every file is read"
    );
}

#[test]
fn compare_across_machines_shows_both_side_by_side_without_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &sample());
    let b = write(dir.path(), "b.json", &bigger_machine());
    let run = parabench(&["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("DIFFERENT MACHINES, side by side"),
        "{stdout}"
    );
    assert!(
        stdout.contains(LABEL_A) && stdout.contains(LABEL_B),
        "{stdout}"
    );
    // Per scenario, every case, no verdict column.
    for scenario in ["cpu-hash", "spawn-many", "io-sleep", "convoy"] {
        assert!(
            stdout.lines().any(|l| l == scenario),
            "{scenario}: {stdout}"
        );
    }
    assert!(!stdout.contains("regressed") && !stdout.contains("improved"));
    assert!(
        stdout.contains("0.33×"),
        "B's walls are a third of A's: {stdout}"
    );
    // Judged anyway on request: the usual verdicts.
    let judged = parabench(&[
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--allow-machine-mismatch".as_ref(),
    ]);
    assert!(text(&judged.stdout).contains("improved"));
}

/// bench.yml's matrix over runners uploads each results.json, and a final
/// job merges them all with one `parabench report`.
#[test]
fn the_workflow_merges_a_matrix_of_runners_into_one_report() {
    use yaml_rust2::YamlLoader;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/bench.yml");
    let doc = YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .remove(0);
    let matrix = &doc["jobs"]["machines"];
    let runners = matrix["strategy"]["matrix"]["runner"].as_vec().unwrap();
    assert!(runners.len() >= 2, "a matrix of one runner merges nothing");
    assert_eq!(matrix["runs-on"].as_str(), Some("${{ matrix.runner }}"));
    let merge = &doc["jobs"]["merge-machines"];
    assert_eq!(merge["needs"].as_str(), Some("machines"));
    let scripts: Vec<&str> = merge["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        scripts
            .iter()
            .any(|s| s.contains("parabench report machines/*/results.json")),
        "{scripts:?}"
    );
}
