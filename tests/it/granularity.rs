//! `parabench run` on a granularity suite: each model's search ends with an
//! answer, efficiency falls as tasks shrink, a model that starts a process
//! per task needs longer tasks than one that starts a thread, and the METG
//! reaches stdout, summary.md, index.html and the chart. Assertions are
//! ratios and orders, never absolute times.

use parabench::results::{CaseStatus, GranularitySweep, RunReport};
use std::process::Command;

const SUITE: &str = r#"
[settings]
repetitions = 2
warmup = 0
timeout_s = 30

[[scenario]]
name = "metg-small"
description = "A small METG search"
workload = "granularity"
models = ["thread", "process"]
workers = 2
tasks = 8
task_ms = 20
metg_tasks = ["sleep"]
metg_min_us = 10
metg_bisections = 1
metg_budget_s = 8
"#;

/// The METG, or the bound it is known by: a model efficient down to the
/// minimum counts as the minimum, one never efficient as the start.
fn metg_or_bound(g: &GranularitySweep) -> f64 {
    g.metg
        .metg_ms
        .or(g.metg.bound_ms)
        .unwrap_or_else(|| panic!("{} has no answer: {:?}", g.model, g.metg))
}

#[test]
fn a_small_search_finds_process_per_task_coarser_than_thread_per_task() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g.toml"), SUITE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "g.toml", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("out/results.json")).unwrap();
    let report: RunReport = serde_json::from_str(&text).unwrap();
    assert!(report.cases.is_empty(), "a search adds no cases");
    assert_eq!(report.granularity.len(), 2);
    for g in &report.granularity {
        assert_eq!(g.status, CaseStatus::Ok, "{}", g.model);
        assert_eq!(g.task_kind, "sleep");
        assert_eq!(g.parallelism, 2);
        // Eight 20 ms sleeps on two threads overlap: a thread per task is
        // efficient at the start. (A process per task may not be: spawning
        // the debug harness takes 5-10 ms on a loaded VM.)
        if g.model == "thread" {
            assert!(g.metg.outcome != "never-efficient", "{:?}", g.points);
        }
        // Efficiency falls as tasks shrink: the longest duration tried is
        // more efficient than the shortest.
        let longest = g
            .points
            .iter()
            .max_by(|a, b| a.task_ms.total_cmp(&b.task_ms))
            .unwrap();
        let shortest = g
            .points
            .iter()
            .min_by(|a, b| a.task_ms.total_cmp(&b.task_ms))
            .unwrap();
        if g.points.len() > 1 {
            assert!(
                longest.median_efficiency > shortest.median_efficiency,
                "{}: {:?}",
                g.model,
                g.points
            );
        }
        // The ideal is the sequential baseline's wall, round by round.
        for p in &g.points {
            assert_eq!(p.baseline, "sequential");
            assert_eq!(p.baseline_wall_s.len(), p.wall_s.len());
        }
        if let (Some(m), Some((lo, hi))) = (g.metg.metg_ms, g.metg.bracket_ms) {
            assert!(lo <= m && m <= hi && lo < hi);
            let (nlo, nhi) = g.metg.noise_ms.unwrap();
            assert!(nlo <= lo && hi <= nhi);
        }
    }
    let of = |model: &str| {
        report
            .granularity
            .iter()
            .find(|g| g.model == model)
            .map(metg_or_bound)
            .unwrap()
    };
    // A process per task costs a spawn (0.5-2 ms here), a thread per task
    // a pthread_create (15-40 µs): the process model needs longer tasks.
    assert!(
        of("process") >= of("thread"),
        "process {} ms, thread {} ms",
        of("process"),
        of("thread")
    );
    assert!(stdout.contains("METG"), "{stdout}");
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(summary.contains("## Minimum effective task granularity (METG)"));
    assert!(
        summary.contains("| thread |") && summary.contains("| process |"),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.path().join("out/index.html")).unwrap();
    assert!(html.contains("id=\"metg\""));
    let svg = std::fs::read_to_string(dir.path().join("out/metg-small-efficiency-sleep.svg"))
        .expect("the efficiency chart");
    assert!(svg.contains("task duration (µs)"));
    assert!(
        !dir.path()
            .join("out/metg-small-efficiency-cpu.svg")
            .exists()
    );
}
