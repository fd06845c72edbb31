//! Several interpreters in one run (`--python 3.12,2.7`): each `cpython-*`
//! model once per interpreter, tagged, against its own baseline, with
//! verdicts per interpreter; Python 2.7 runs cpython-sequential and
//! cpython-thread through its own runner, is paired with the legacy-GIL
//! emulation, and skips the rest with a notice. Uses the interpreters the
//! machine has (pyenv's on these machines) and skips with a message where
//! there are too few.

use parabench::results::{CaseStatus, RunReport};
use std::process::Command;

/// The first Python 3 (3.8+) found, newest first, and Python 2.7 if present,
/// as `--python` names them.
fn interpreters() -> (Option<String>, Option<String>) {
    let py3 = ["3.13", "3.12", "3.11", "3.10", "3.9", "3.8"]
        .into_iter()
        .find(|v| parabench::cpython::find(&format!("python{v}")).is_ok())
        .map(str::to_owned);
    let py27 = parabench::cpython::find("python2.7")
        .ok()
        .map(|_| "2.7".to_owned());
    (py3, py27)
}

fn run(suite: &str, python: &str) -> (RunReport, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "suite.toml", "--out", "out", "--python", python])
        .current_dir(dir.path())
        .output()
        .expect("parabench runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("out/results.json")).expect(&stderr);
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    (serde_json::from_str(&text).unwrap(), summary)
}

fn case<'a>(report: &'a RunReport, model: &str) -> &'a parabench::results::CaseResult {
    report
        .cases
        .iter()
        .find(|c| c.model == model)
        .unwrap_or_else(|| panic!("no {model} case: {:#?}", report.cases))
}

#[test]
fn two_interpreters_each_with_its_own_baseline_verdicts_and_fidelity_row() {
    let (py3, py27) = interpreters();
    let (Some(a), Some(b)) = (
        py3.clone(),
        py27.clone().or_else(|| {
            // Without 2.7, two Python 3s.
            ["3.8", "3.9", "3.10", "3.11"]
                .into_iter()
                .find(|v| {
                    Some(*v) != py3.as_deref()
                        && parabench::cpython::find(&format!("python{v}")).is_ok()
                })
                .map(str::to_owned)
        }),
    ) else {
        eprintln!("skipping: fewer than two usable interpreters here ({py3:?}, {py27:?})");
        return;
    };
    // CPU tasks long enough that a 2.7 thread pair's thrash shows, short
    // enough for a 2-core machine shared with others.
    let suite = "[settings]\nrepetitions = 2\nwarmup = 0\ntimeout_s = 60\n\
        [[scenario]]\nname = \"cpu\"\nworkload = \"cpu\"\ntasks = 2\nworkers = [2]\ntask_ms = 30\ngil = \"legacy\"\n\
        models = [\"thread+gil\", \"cpython-thread\", \"cpython-thread-pool\"]\n";
    let (report, summary) = run(suite, &format!("{a},{b}"));
    let tags: Vec<&str> = report
        .pythons
        .iter()
        .filter_map(|p| p.tag.as_deref())
        .collect();
    assert_eq!(tags, [a.as_str(), b.as_str()], "{:?}", report.pythons);
    assert_eq!(report.python.as_ref().map(|p| p.tag.as_deref()), Some(None));
    for tag in [&a, &b] {
        let seq = case(&report, &format!("cpython-sequential@{tag}"));
        let thread = case(&report, &format!("cpython-thread@{tag}"));
        assert!(
            seq.is_ok() && thread.is_ok(),
            "{}: {}",
            thread.model,
            thread.status
        );
        // Each thread case is measured against its own interpreter's baseline.
        assert!(thread.speedup.is_some_and(|s| s > 0.0), "{thread:?}");
        let version = &report
            .pythons
            .iter()
            .find(|p| p.tag.as_deref() == Some(tag))
            .unwrap()
            .version;
        assert!(version.starts_with(tag.as_str()), "{version} for {tag}");
        // The verdict lines name the interpreter they were judged in.
        assert!(
            summary.contains(&format!("The GIL serializes compute (real CPython {tag})")),
            "{summary}"
        );
    }
    assert!(
        !summary.contains("(real CPython) |"),
        "no untagged CPython world: {summary}"
    );
    if b == "2.7" {
        let pool = case(&report, "cpython-thread-pool@2.7");
        assert!(
            matches!(&pool.status, CaseStatus::Skipped(why) if why.contains("needs Python 3.8")),
            "{}",
            pool.status
        );
        assert!(case(&report, &format!("cpython-thread-pool@{a}")).is_ok());
        assert!(
            summary.contains("Real CPython 2.7: skipped cpython-thread-pool@2.7"),
            "{summary}"
        );
        // The legacy emulation is paired with Python 2 only.
        let pairs: Vec<(&str, &str)> = report
            .fidelity
            .iter()
            .map(|f| (f.emulated.as_str(), f.reference.as_str()))
            .collect();
        assert_eq!(pairs, [("thread+gil", "cpython-thread@2.7")], "{pairs:?}");
        let thrash = case(&report, "cpython-thread@2.7").speedup.unwrap();
        eprintln!(
            "Python 2.7: two CPU threads at {thrash:.2}x of sequential; thread+gil (legacy) at {:.2}x",
            case(&report, "thread+gil").speedup.unwrap_or(f64::NAN)
        );
    }
}

#[test]
fn one_interpreter_keeps_untagged_ids() {
    let (Some(py3), _) = interpreters() else {
        eprintln!("skipping: no Python 3.8+ here");
        return;
    };
    let suite = "[settings]\nrepetitions = 1\nwarmup = 0\ntimeout_s = 60\n\
        [[scenario]]\nname = \"cpu\"\nworkload = \"cpu\"\ntasks = 2\nworkers = [2]\ntask_ms = 5\n\
        models = [\"cpython-thread\", \"cpython-interpreter-pool\"]\n";
    let (report, _) = run(suite, &py3);
    let models: Vec<&str> = report.cases.iter().map(|c| c.model.as_str()).collect();
    assert_eq!(
        models,
        [
            "cpython-sequential",
            "cpython-thread",
            "cpython-interpreter-pool"
        ]
    );
    assert!(report.pythons.is_empty());
    assert!(report.python.is_some());
    // No Python here has InterpreterPoolExecutor (3.14+): the case says which
    // version it needs.
    let pool = &report.cases[2];
    let version = parabench::cpython::find(&format!("python{py3}"))
        .unwrap()
        .version;
    if version < parabench::cpython::INTERPRETER_POOL_VERSION {
        assert!(
            matches!(&pool.status, CaseStatus::Skipped(why)
                if why.contains("cpython-interpreter-pool needs Python 3.14.0 or newer")),
            "{}",
            pool.status
        );
    }
}
