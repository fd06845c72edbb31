//! `parabench compare`, `load` and the fixture files, end to end: verdicts,
//! exit codes (0 no confident regression, 1 regression, 2 bad input) and
//! the messages a user sees.

use parabench::compare::Metric;
use parabench::compare::{self, CompareOptions, EntryOutcome, Judgement};
use parabench::load::{LoadError, load_report};
use parabench::results::RunReport;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compare")
        .join(name)
}

fn load(name: &str) -> RunReport {
    load_report(&fixture(name)).unwrap()
}

fn parabench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .current_dir(fixture(""))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn verdicts(current: &str, metric: Metric) -> Vec<(String, &'static str)> {
    let options = CompareOptions::new(metric, 10.0).unwrap();
    compare::compare(&load("base.json"), &load(current), &options)
        .entries
        .iter()
        .map(|entry| (entry.key.to_string(), entry.outcome.label()))
        .collect()
}

const VALID_FIXTURES: [&str; 7] = [
    "base.json",
    "identical.json",
    "slower.json",
    "faster.json",
    "noisy.json",
    "missing.json",
    "other_machine.json",
];

#[test]
fn fixtures_round_trip_through_the_results_schema() {
    for name in VALID_FIXTURES {
        let original: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
        let report = load(name);
        // Equal JSON values after a round trip mean the fixture has no field
        // the schema would drop and lacks none it needs.
        assert_eq!(serde_json::to_value(&report).unwrap(), original, "{name}");
    }
}

#[test]
fn thirty_percent_slower_regresses_on_every_metric() {
    for metric in compare::metric::ALL {
        for (case, verdict) in verdicts("slower.json", metric) {
            if case.starts_with("io-file/") {
                assert_eq!(verdict, "failed", "{case}");
            } else {
                assert_eq!(verdict, "regressed", "{case} {metric:?}");
            }
        }
    }
}

#[test]
fn slower_exits_one_and_names_the_regressions() {
    let out = parabench(&["compare", "base.json", "slower.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("5 regressed"), "{stdout}");
    assert!(stdout.contains("+30.0%"), "{stdout}");
}

#[test]
fn identical_copy_is_no_change_and_exits_zero() {
    assert!(
        verdicts("identical.json", Metric::Wall)
            .iter()
            .all(|(_, v)| *v == "no change" || *v == "failed")
    );
    let out = parabench(&["compare", "base.json", "identical.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn noisy_overlapping_samples_are_inconclusive_not_regressed() {
    let options = CompareOptions::new(Metric::Wall, 10.0).unwrap();
    let comparison = compare::compare(&load("base.json"), &load("noisy.json"), &options);
    for entry in &comparison.entries {
        if let EntryOutcome::Compared(change) = &entry.outcome {
            assert!(change.relative > options.threshold, "{entry:?}");
            assert_eq!(change.verdict, Judgement::Inconclusive, "{entry:?}");
        }
    }
    assert!(!comparison.has_regression());
    let out = parabench(&["compare", "base.json", "noisy.json"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn faster_copy_improves_and_exits_zero() {
    assert!(
        verdicts("faster.json", Metric::Wall)
            .iter()
            .all(|(_, v)| *v == "improved" || *v == "failed")
    );
    let out = parabench(&["compare", "base.json", "faster.json", "--metric", "p99"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("5 improved"));
}

#[test]
fn cases_in_one_file_only_are_listed() {
    let verdicts = verdicts("missing.json", Metric::Wall);
    assert!(verdicts.contains(&(
        "cpu-scaling/processes/workers=2/tasks=8/task_ms=10/kernel=hash".to_owned(),
        "only in baseline"
    )));
    assert!(verdicts.contains(&(
        "cpu-scaling/threads/workers=4/tasks=8/task_ms=10/kernel=hash".to_owned(),
        "only in current"
    )));
    let out = parabench(&["compare", "base.json", "missing.json"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 only in baseline, 1 only in current"),
        "{stdout}"
    );
}

#[test]
fn failed_cases_are_listed_with_their_reason() {
    let out = parabench(&[
        "compare",
        "base.json",
        "identical.json",
        "--format",
        "markdown",
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("failed (baseline: timed out after 30 s"),
        "{stdout}"
    );
}

#[test]
fn different_machines_warn_and_exit_3_unless_allowed() {
    let args = [
        "compare",
        "base.json",
        "other_machine.json",
        "--format",
        "markdown",
    ];
    let out = parabench(&args);
    assert_eq!(out.status.code(), Some(3), "not judged across machines");
    assert!(text(&out.stderr).contains("DIFFERENT MACHINES"));
    assert!(text(&out.stderr).contains("--allow-machine-mismatch"));
    assert!(text(&out.stdout).contains("DIFFERENT MACHINES"));
    let allowed = parabench(&[&args[..], &["--allow-machine-mismatch"]].concat());
    assert_eq!(allowed.status.code(), Some(0), "judged: no regression");
    assert!(text(&allowed.stdout).contains("DIFFERENT MACHINES"));
}

#[test]
fn json_output_parses_and_flags_the_regression() {
    let out = parabench(&["compare", "base.json", "slower.json", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["regression"], true);
    assert_eq!(value["summary"]["regressed"], 5);
    assert_eq!(value["metric"], "wall");
}

#[test]
fn truncated_file_is_a_clear_input_error() {
    assert!(matches!(
        load_report(&fixture("truncated.json")),
        Err(LoadError::Truncated { .. })
    ));
    let out = parabench(&["compare", "base.json", "truncated.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("truncated.json") && stderr.contains("cut short"),
        "{stderr}"
    );
}

#[test]
fn wrong_schema_version_is_a_clear_input_error() {
    let out = parabench(&["compare", "wrong_schema.json", "base.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("wrong_schema.json") && stderr.contains("schema version 2"),
        "{stderr}"
    );
}

#[test]
fn missing_file_and_bad_threshold_exit_two() {
    let out = parabench(&["compare", "base.json", "no-such-results.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-results.json"));
    let out = parabench(&["compare", "base.json", "identical.json", "--threshold=-5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--threshold"));
}
