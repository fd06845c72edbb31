//! The `io-models` workload through the executable: every IO model echoes
//! every byte (the checksum) on a few connections, the echo server and the
//! clients are separate processes that are all gone when the run ends, and
//! the C10K chart and the table reach the report.

use parabench::results::{CaseStatus, RunReport};
use std::process::Command;

const SUITE: &str = r#"
[settings]
repetitions = 2
warmup = 0
timeout_s = 30

[[scenario]]
name = "io"
workload = "io-models"
io_model = ["blocking", "nonblocking", "multiplexed", "signal", "async"]
multiplexer = ["epoll", "poll", "select"]
connections = [1, 20]
round_trips = 3
message_bytes = 100
server_delay_ms = 0.2
think_ms = 0.5
"#;

/// Processes running this test binary's parabench as an `io-peer`.
fn peers_left() -> Vec<u32> {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_parabench")).unwrap();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let is_peer = cmdline.split(|&b| b == 0).any(|a| a == b"io-peer");
        let same_exe = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe);
        if is_peer && same_exe {
            out.push(pid);
        }
    }
    out
}

#[test]
fn every_io_model_runs_with_checksums_and_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.toml"), SUITE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "suite.toml", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("out/results.json")).unwrap();
    let report: RunReport = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = report
        .io_models
        .iter()
        .map(|r| r.io_model.as_str())
        .collect();
    assert_eq!(
        report.io_models.len(),
        14,
        "7 models × 2 connection counts: {ids:?}"
    );
    for r in &report.io_models {
        match &r.status {
            // io_uring may be forbidden where this runs: then it says why.
            CaseStatus::Skipped(why) if r.io_model == "async" => {
                assert!(why.contains("io_uring"), "{why}")
            }
            CaseStatus::Ok => {
                assert_eq!(r.repetitions.len(), 2, "{}", r.io_model);
                let m = r.median.unwrap();
                // Every round trip waits the server's 0.2 ms at least.
                assert!(
                    m.p50_us >= 200.0 && m.p50_us <= m.p99_us,
                    "{}: {m:?}",
                    r.io_model
                );
                assert!(m.throughput_rps > 0.0 && m.client_peak_rss_bytes > 0.0);
                // The server's CPU is its own process's, measured apart.
                assert!(m.server_cpu_us_per_request > 0.0, "{}: {m:?}", r.io_model);
            }
            other => panic!("{} at {}: {other:?}", r.io_model, r.connections),
        }
        assert!(r.nofile_soft <= r.nofile_hard && r.nofile_soft > 20);
        let threads = if r.io_model == "blocking" {
            r.connections
        } else {
            1
        };
        assert_eq!(r.threads, threads);
    }
    assert!(dir.path().join("out/io-c10k.png").exists());
    let summary = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(summary.contains("memory per connection"), "{summary}");
    assert!(
        peers_left().is_empty(),
        "io-peer processes left: {:?}",
        peers_left()
    );
}

#[test]
fn select_above_fd_setsize_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let suite = "[[scenario]]\nname = \"s\"\nworkload = \"io-models\"\nio_model = \"multiplexed\"\nmultiplexer = \"select\"\nconnections = [10, 2000]\n";
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "suite.toml", "--out", "out"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("suite.toml:6:") && stderr.contains("FD_SETSIZE"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
}
