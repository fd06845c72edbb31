//! A closed stdout (`parabench list | head -1`) is not an error: the output
//! stops quietly, the command still finishes its work, and the exit code is
//! the one its outcome gives. The reader is closed before the child starts,
//! so its first write always meets a broken pipe.

use crate::compare::fixture;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn with_closed_stdout(args: &[&str], dir: &Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .current_dir(dir)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("parabench runs")
}

fn assert_quiet_success(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {err}");
    assert!(
        !err.contains("error") && !err.contains("panicked") && !err.contains("Broken pipe"),
        "{what}: {err}"
    );
}

#[test]
fn list_sysinfo_compare_and_export_stop_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let base = fixture("base.json");
    let identical = fixture("identical.json");
    let (base, identical) = (base.to_str().unwrap(), identical.to_str().unwrap());
    for args in [
        &["list"][..],
        &["sysinfo"],
        &["compare", base, identical],
        &["compare", base, identical, "--format", "markdown"],
        &["export", base, "--format", "csv"],
    ] {
        assert_quiet_success(&with_closed_stdout(args, dir.path()), &args.join(" "));
    }
}

#[test]
fn a_run_piped_to_head_still_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--workload",
        "cpu",
        "--task-ms",
        "1",
        "--tasks",
        "1",
        "--models",
        "sequential",
        "--repetitions",
        "1",
        "--out",
        "o",
    ];
    let out = with_closed_stdout(&args, dir.path());
    assert_quiet_success(&out, "run");
    assert!(dir.path().join("o/results.json").is_file());
    assert!(dir.path().join("o/summary.md").is_file());
}
