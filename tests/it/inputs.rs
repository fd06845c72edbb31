//! Hostile inputs through the executable: names beyond the length cap, and
//! paths that are not small regular files (devices, directories, files past
//! the size limit) given as suite or results files. Each is refused before
//! anything runs or is read, with exit 2 and a message naming the problem.

use crate::compare::fixture;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

fn parabench<S: AsRef<OsStr>>(args: &[S], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("parabench runs")
}

/// Asserts exit 2 and that stderr holds every needle.
fn assert_refused(out: &Output, what: &str, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "{what}: missing `{needle}` in:\n{err}"
        );
    }
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn a_name_past_the_cap_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let name = "n".repeat(5000);
    let suite =
        format!("[[scenario]]\nname = \"{name}\"\nworkload = \"cpu\"\ntask_ms = 1\ntasks = 2\n");
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    for command in ["run", "list"] {
        let mut args = vec![command, "suite.toml"];
        if command == "run" {
            args.extend(["--out", "out"]);
        }
        let out = parabench(&args, dir.path());
        assert_refused(
            &out,
            command,
            &[
                "suite.toml:2:",
                "key `name`",
                "5000 characters",
                "at most 200",
            ],
        );
    }
    assert!(!dir.path().join("out").exists(), "nothing may run");
}

#[test]
fn control_characters_in_a_name_are_refused_and_never_echoed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let suite = "[[scenario]]\nname = \"a\\u001b]0;owned\\u0007\"\nworkload = \"cpu\"\n";
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    let out = parabench(&["list", "suite.toml"], dir.path());
    assert_refused(&out, "list", &["key `name`", "control character \\u{1b}"]);
    assert!(!out.stderr.contains(&0x1b) && !out.stderr.contains(&0x07));
}

#[test]
fn devices_directories_and_huge_files_are_refused_as_suites() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.toml");
    // Sparse: past the 1 MiB limit without writing a byte.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(parabench::input::MAX_SUITE_BYTES + 1)
        .unwrap();
    let cases: [(&Path, &str); 3] = [
        (Path::new("/dev/zero"), "it is a device"),
        (dir.path(), "it is a directory"),
        (&huge, "larger than 1 MiB"),
    ];
    for (path, needle) in cases {
        for command in ["run", "list"] {
            let out = parabench(&[OsStr::new(command), path.as_os_str()], dir.path());
            let what = format!("{command} {}", path.display());
            assert_refused(&out, &what, &["cannot read suite file", needle]);
        }
    }
}

#[test]
fn devices_directories_and_huge_files_are_refused_as_results() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(parabench::input::MAX_RESULTS_BYTES + 1)
        .unwrap();
    let base = fixture("base.json");
    let cases: [(&Path, &str); 3] = [
        (Path::new("/dev/zero"), "it is a device"),
        (dir.path(), "it is a directory"),
        (&huge, "larger than 64 MiB"),
    ];
    for (path, needle) in cases {
        let p = path.as_os_str();
        let invocations: Vec<Vec<&OsStr>> = vec![
            vec!["compare".as_ref(), base.as_os_str(), p],
            vec!["compare".as_ref(), p, base.as_os_str()],
            vec!["export".as_ref(), p, "--format".as_ref(), "csv".as_ref()],
            vec!["report".as_ref(), p, "--out".as_ref(), "r".as_ref()],
            vec![
                "run".as_ref(),
                "--workload".as_ref(),
                "cpu".as_ref(),
                "--baseline".as_ref(),
                p,
                "--out".as_ref(),
                "o".as_ref(),
            ],
        ];
        for args in invocations {
            let out = parabench(&args, dir.path());
            let what = format!("{args:?}");
            assert_refused(&out, &what, &["cannot read results file", needle]);
        }
        // A directory given to history is a folder of runs, not a results file.
        if path != dir.path() {
            let out = parabench(
                &["history".as_ref(), p, "--out".as_ref(), "h".as_ref()],
                dir.path(),
            );
            assert_refused(&out, "history", &["cannot read results file", needle]);
        }
    }
    assert!(!dir.path().join("o").exists() && !dir.path().join("r").exists());
}
