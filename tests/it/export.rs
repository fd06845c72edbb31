//! `parabench export` on the fixed results files: each format parses back
//! and carries every measured case (CSV every repetition too).

use crate::compare::fixture;
use parabench::compare::CaseKey;
use parabench::export::ExportFormat;
use parabench::export::export;
use parabench::load::load_report;
use std::process::Command;

fn base() -> parabench::results::RunReport {
    load_report(&fixture("base.json")).unwrap()
}

/// Splits RFC 4180 CSV into records, honouring quotes; enough to check ours.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

#[test]
fn bmf_has_latency_in_ns_and_throughput_for_every_measured_case() {
    let report = base();
    let bmf: serde_json::Value = serde_json::from_str(&export(&report, ExportFormat::Bmf)).unwrap();
    let benchmarks = bmf.as_object().unwrap();
    let measured: Vec<_> = report.cases.iter().filter(|c| c.is_ok()).collect();
    assert_eq!(benchmarks.len(), measured.len());
    for case in measured {
        let entry = &benchmarks[&CaseKey::of(case).to_string()];
        let wall = case.wall_s.unwrap();
        let latency = &entry["latency"];
        assert!((latency["value"].as_f64().unwrap() - wall.median * 1e9).abs() < 1e-3);
        assert!(latency["lower_value"].as_f64() <= latency["value"].as_f64());
        assert!(latency["upper_value"].as_f64() >= latency["value"].as_f64());
        let throughput = entry["throughput"]["value"].as_f64().unwrap();
        assert!((throughput - case.tasks as f64 / wall.median).abs() < 1e-9);
    }
}

#[test]
fn github_action_benchmark_lists_name_unit_value() {
    let report = base();
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&export(&report, ExportFormat::GithubActionBenchmark)).unwrap();
    assert_eq!(
        entries.len(),
        report.cases.iter().filter(|c| c.is_ok()).count()
    );
    for entry in &entries {
        assert!(entry["name"].is_string());
        assert_eq!(entry["unit"], "ms");
        assert!(entry["value"].as_f64().unwrap() > 0.0);
        assert!(entry["range"].as_str().unwrap().starts_with("± "));
    }
}

#[test]
fn csv_has_a_row_per_repetition_and_survives_commas() {
    let report = base();
    let records = parse_csv(&export(&report, ExportFormat::Csv));
    let (header, rows) = records.split_first().unwrap();
    let expected_rows: usize = report
        .cases
        .iter()
        .map(|c| c.repetitions.len().max(1))
        .sum();
    assert_eq!(rows.len(), expected_rows);
    assert!(rows.iter().all(|row| row.len() == header.len()));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert!(
        rows.iter()
            .any(|row| row[col("scenario")] == "mixed, half cpu")
    );
    assert!(
        rows.iter()
            .any(|row| row[col("param_cpu_fraction")] == "0.5")
    );
    let failed: Vec<_> = rows
        .iter()
        .filter(|row| row[col("status")] != "ok")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0][col("repetition")], "");
    let first = &report.cases[0].repetitions[0];
    assert_eq!(rows[0][col("wall_s")].parse::<f64>().unwrap(), first.wall_s);
}

#[test]
fn markdown_lists_every_case_and_failure() {
    let report = base();
    let text = export(&report, ExportFormat::Markdown);
    for case in &report.cases {
        assert!(text.contains(&CaseKey::of(case).to_string()));
    }
    assert!(text.contains("timed out after 30 s"));
}

#[test]
fn output_option_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bmf.json");
    let status = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["export", "base.json", "--format", "bmf", "--output"])
        .arg(&out)
        .current_dir(fixture(""))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert!(written.is_object());
}

#[test]
fn bad_input_exits_two() {
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["export", "truncated.json", "--format", "csv"])
        .current_dir(fixture(""))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated.json"));
}
