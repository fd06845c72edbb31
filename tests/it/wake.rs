//! The event and timer workloads through the executable: every waiter of
//! every model woke every round, every timer of every mechanism fired, the
//! figures are in results.json, the charts are drawn and the timer verdict
//! is judged.

use parabench::results::RunReport;
use std::process::Command;

#[test]
fn every_waiter_wakes_every_round_and_every_timer_fires() {
    let suite = "[settings]\nrepetitions = 3\nwarmup = 0\ntimeout_s = 20\n\
        [[scenario]]\nname = \"event\"\nworkload = \"event\"\nrounds = 30\nworkers = [1, 3]\n\
        models = [\"thread\", \"thread-pool\", \"process\", \"async\", \"async-single\", \"thread+gil\"]\n\
        [[scenario]]\nname = \"timer\"\nworkload = \"timer\"\ntimers = [10, 100]\ndelay_ms = 2\n\
        models = [\"thread\", \"thread-pool\", \"async\"]\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "suite.toml", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .expect("parabench runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let text = std::fs::read(dir.path().join("out/results.json")).expect(&err);
    let report: RunReport = serde_json::from_slice(&text).unwrap();
    assert_eq!(report.cases.len(), 12 + 6, "{err}");
    for case in &report.cases {
        assert!(
            case.is_ok(),
            "{} {}: {:?}",
            case.scenario,
            case.model,
            case.status
        );
        let wake = case.wake.as_ref().expect("a wake record");
        let reps = case.repetitions.len() as u64;
        let late = wake.late_ms.expect("percentiles");
        assert!(late.p50 <= late.p99 && late.p99 <= late.max, "{late:?}");
        if case.scenario == "event" {
            let waiters = u64::from(wake.waiters.unwrap());
            assert_eq!(case.tasks as u64, waiters + 1);
            assert_eq!(wake.wakes, waiters * 30 * reps, "{}", case.model);
        } else {
            assert_eq!(wake.wakes, u64::from(wake.timers.unwrap()) * reps);
            let want = match case.model.as_str() {
                "thread" => "thread-per-timer",
                "thread-pool" => "scheduler",
                _ => "wheel",
            };
            assert_eq!(wake.mechanism.as_deref(), Some(want));
        }
        assert_eq!(wake.p99_ms_per_repetition.len() as u64, reps);
    }
    for chart in ["event-latency", "timer-lateness"] {
        let drawn = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(chart));
        assert!(drawn, "no {chart} chart");
    }
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(
        summary.contains("Thread-per-timer lateness grows with N"),
        "{summary}"
    );
}
