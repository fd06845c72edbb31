//! `parabench report` end to end: the binary on the sample results, its exit
//! codes on bad input, and the time to render a default-suite-sized report.

use parabench::results::RunReport;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results-sample.json")
}

fn parabench(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .output()
        .expect("parabench runs")
}

#[test]
fn report_command_writes_the_report_and_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = parabench(&[
        "report".as_ref(),
        fixture().as_os_str(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    for name in [
        "index.html",
        "summary.md",
        "cpu-hash-speedup.png",
        "convoy-convoy.svg",
        "results.json",
    ] {
        let path = dir.path().join(name);
        assert!(path.is_file(), "{name} not written");
        assert!(
            listed.contains(&path.display().to_string()),
            "{name} not listed"
        );
    }
    // The page's results.json link works in the new directory too.
    assert_eq!(
        std::fs::read(dir.path().join("results.json")).unwrap(),
        std::fs::read(fixture()).unwrap()
    );
}

#[test]
fn report_command_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("results.json");
    let text = std::fs::read_to_string(fixture()).unwrap();
    std::fs::write(&truncated, &text[..100]).unwrap();
    for (path, expected) in [
        (dir.path().join("missing.json"), "missing.json"),
        (truncated, "results.json"),
    ] {
        let out = parabench(&["report".as_ref(), path.as_os_str()]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}

/// The default suite records about 150 cases; its report must render in
/// under 2 s once optimized. Debug builds draw several times slower, so they
/// only guard against a pathological slowdown.
#[test]
fn a_default_suite_sized_report_renders_quickly() {
    let sample: RunReport =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let mut report = sample.clone();
    for copy in 1.. {
        if report.cases.len() >= 150 {
            break;
        }
        for scenario in &sample.scenarios {
            let mut scenario = scenario.clone();
            let original = scenario.name.clone();
            scenario.name = format!("{original}-{copy}");
            report.cases.extend(
                sample
                    .cases
                    .iter()
                    .filter(|c| c.scenario == original)
                    .map(|c| {
                        let mut case = c.clone();
                        case.scenario = scenario.name.clone();
                        case
                    }),
            );
            report.scenarios.push(scenario);
        }
    }
    let started = Instant::now();
    let artifacts = parabench::report::render(&report).unwrap();
    let took = started.elapsed();
    let limit = if cfg!(debug_assertions) {
        Duration::from_secs(20)
    } else {
        Duration::from_secs(2)
    };
    eprintln!(
        "{} cases, {} files in {took:?}",
        report.cases.len(),
        artifacts.len()
    );
    assert!(
        took < limit,
        "rendering {} cases took {took:?}",
        report.cases.len()
    );
}
