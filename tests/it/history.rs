//! `parabench history`: runs ordered by start time whatever the argument
//! order, directories expanded, one SVG and PNG per case and metric.

use crate::compare::fixture;
use std::process::Command;

fn history(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .arg("history")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn charts_and_index_in_start_time_order() {
    let out_dir = tempfile::tempdir().unwrap();
    let slower = fixture("slower.json");
    let base = fixture("base.json");
    let missing = fixture("missing.json");
    let out = history(&[
        slower.as_os_str(),
        missing.as_os_str(),
        base.as_os_str(),
        "--out".as_ref(),
        out_dir.path().as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = std::fs::read_to_string(out_dir.path().join("index.md")).unwrap();
    let position = |name: &str| index.find(name).unwrap();
    assert!(position("base.json") < position("slower.json"));
    assert!(position("slower.json") < position("missing.json"));
    // Every chart the index links to exists in both formats.
    let mut n_charts = 0;
    for line in index.lines().filter(|l| l.starts_with("![")) {
        let stem = line.split('(').nth(1).unwrap().trim_end_matches(".svg)");
        let svg = std::fs::read_to_string(out_dir.path().join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"));
        let png = std::fs::read(out_dir.path().join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        n_charts += 1;
    }
    // Five measured cases in base plus the one only in missing.json, four metrics each.
    assert_eq!(n_charts, 6 * 4);
}

#[test]
fn directories_contribute_their_results_files() {
    let runs = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("base.json"), runs.path().join("a.json")).unwrap();
    std::fs::create_dir(runs.path().join("latest")).unwrap();
    std::fs::copy(
        fixture("faster.json"),
        runs.path().join("latest/results.json"),
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = history(&[
        runs.path().as_os_str(),
        "--out".as_ref(),
        out_dir.path().as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("from 2 runs"));
}

#[test]
fn unreadable_results_and_empty_directories_exit_two() {
    let out_dir = tempfile::tempdir().unwrap();
    // The fixture folder holds truncated.json: history refuses to skip it silently.
    let out = history(&[
        fixture("").as_os_str(),
        "--out".as_ref(),
        out_dir.path().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let empty = tempfile::tempdir().unwrap();
    let out = history(&[empty.path().as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no results files"));
}
