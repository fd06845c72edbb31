//! The io-models section of the page and the summary: per IO model and
//! connection count, the medians of throughput, latency, the client's and
//! the server's CPU per request, context switches per request and the
//! client's peak memory; then each model's memory per connection (the
//! slope across the sweep) and the RLIMIT_NOFILE it ran under. Pure.

use crate::results::io_models::{IoModelRep, IoModelResult};
use crate::results::{CaseStatus, RunReport, ScenarioInfo};
use std::fmt::Write;

pub(super) use super::charts::io_models::WORKLOAD;

pub const HEADER: [&str; 12] = [
    "IO model",
    "connections",
    "threads",
    "round trips/s",
    "p50 ms",
    "p99 ms",
    "client CPU µs/req",
    "server CPU µs/req",
    "server cores busy",
    "ctx switches/req",
    "client peak RSS MiB",
    "status",
];

pub const MEMORY_HEADER: [&str; 3] = ["IO model", "memory per connection [95% CI]", "connections"];

fn results<'a>(report: &'a RunReport, s: &ScenarioInfo) -> Vec<&'a IoModelResult> {
    report
        .io_models
        .iter()
        .filter(|r| r.scenario == s.name)
        .collect()
}

fn status(st: &CaseStatus) -> String {
    match st {
        CaseStatus::Ok => "ok".into(),
        CaseStatus::Failed(why) => format!("failed: {why}"),
        CaseStatus::Skipped(why) => format!("skipped: {why}"),
        CaseStatus::Interrupted => "interrupted".into(),
        CaseStatus::Deadlock(why) => format!("deadlock: {why}"),
    }
}

/// One row per (model, connections), in run order.
pub fn rows(report: &RunReport, s: &ScenarioInfo) -> Vec<Vec<String>> {
    results(report, s)
        .into_iter()
        .map(|r| {
            let m = r.median;
            let f = |v: Option<f64>, digits: usize| {
                v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
            };
            vec![
                r.io_model.clone(),
                r.connections.to_string(),
                r.threads.to_string(),
                f(m.map(|m| m.throughput_rps), 0),
                f(m.map(|m| m.p50_us / 1e3), 2),
                f(m.map(|m| m.p99_us / 1e3), 2),
                f(m.map(|m| m.client_cpu_us_per_request), 1),
                f(m.map(|m| m.server_cpu_us_per_request), 1),
                // The echo server's CPU over the exchange's wall time: near
                // the machine's cores, the server was the bottleneck.
                f(
                    m.map(|m| m.server_cpu_us_per_request * m.throughput_rps / 1e6),
                    2,
                ),
                f(m.map(|m| m.ctx_switches_per_request), 2),
                f(m.map(|m| m.client_peak_rss_bytes / (1 << 20) as f64), 1),
                status(&r.status),
            ]
        })
        .collect()
}

/// Each model's memory per connection: the Theil–Sen slope of the client's
/// peak RSS against connections over every repetition, or why there is none.
pub fn memory_rows(report: &RunReport, s: &ScenarioInfo) -> Vec<[String; 3]> {
    let all = results(report, s);
    let mut models: Vec<&str> = Vec::new();
    for r in &all {
        if !models.contains(&r.io_model.as_str()) {
            models.push(&r.io_model);
        }
    }
    models
        .into_iter()
        .map(|m| {
            let points: Vec<(f64, f64)> = all
                .iter()
                .filter(|r| r.io_model == m && r.status == CaseStatus::Ok)
                .flat_map(|r| {
                    r.repetitions
                        .iter()
                        .map(|rep| (r.connections as f64, rep.client_peak_rss_bytes))
                })
                .collect();
            let mut cs: Vec<f64> = points.iter().map(|p| p.0).collect();
            cs.dedup();
            let range = match (cs.first(), cs.last()) {
                (Some(a), Some(b)) => format!("{a} – {b}"),
                _ => "–".into(),
            };
            let cell = match crate::stats::theil_sen(&points) {
                Some(fit) => format!(
                    "{:.1} KiB [{:.1} – {:.1}]",
                    fit.slope.median / 1024.0,
                    fit.slope.low / 1024.0,
                    fit.slope.high / 1024.0
                ),
                None => "no slope: fewer than two connection counts ran".into(),
            };
            [m.to_owned(), cell, range]
        })
        .collect()
}

fn limits_line(report: &RunReport, s: &ScenarioInfo) -> Option<String> {
    let r = results(report, s).into_iter().next()?;
    Some(format!(
        "Client and echo server (a process of its own) ran with RLIMIT_NOFILE {} (soft, raised to the hard limit {}); each client run is a fresh process, so its peak RSS is that run's.",
        r.nofile_soft, r.nofile_hard
    ))
}

/// The section's HTML body, after its heading, description and chart.
pub(super) fn html(page: &mut String, report: &RunReport, scenario: &ScenarioInfo) {
    use super::html::escape;
    if results(report, scenario).is_empty() {
        page.push_str("<p class=\"meta\">Not run.</p>\n");
        return;
    }
    if let Some(line) = limits_line(report, scenario) {
        let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(&line));
    }
    let table = |page: &mut String, header: &[&str], rows: Vec<Vec<String>>| {
        page.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
        for h in header {
            let _ = write!(page, "<th>{}</th>", escape(h));
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            page.push_str("<tr>");
            for cell in row {
                let _ = write!(page, "<td>{}</td>", escape(&cell));
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</tbody></table></div>\n");
    };
    table(page, &HEADER, rows(report, scenario));
    table(
        page,
        &MEMORY_HEADER,
        memory_rows(report, scenario)
            .into_iter()
            .map(Vec::from)
            .collect(),
    );
}

/// The section's Markdown body, after its heading and description.
pub(super) fn markdown(report: &RunReport, scenario: &ScenarioInfo) -> String {
    use crate::text::markdown as escape;
    let mut md = String::new();
    if results(report, scenario).is_empty() {
        md.push_str("Not run.\n");
        return md;
    }
    if let Some(line) = limits_line(report, scenario) {
        let _ = writeln!(md, "{}\n", escape(&line));
    }
    let mut table = |header: &[&str], rows: Vec<Vec<String>>| {
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md.push('\n');
    };
    table(&HEADER, rows(report, scenario));
    table(
        &MEMORY_HEADER,
        memory_rows(report, scenario)
            .into_iter()
            .map(Vec::from)
            .collect(),
    );
    md
}

/// The median of each figure over the repetitions.
pub fn median_rep(reps: &[IoModelRep]) -> Option<IoModelRep> {
    let m = |f: fn(&IoModelRep) -> f64| {
        crate::stats::median(&reps.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
    };
    (!reps.is_empty()).then(|| IoModelRep {
        throughput_rps: m(|r| r.throughput_rps),
        p50_us: m(|r| r.p50_us),
        p99_us: m(|r| r.p99_us),
        max_us: m(|r| r.max_us),
        wall_s: m(|r| r.wall_s),
        connect_s: m(|r| r.connect_s),
        client_cpu_us_per_request: m(|r| r.client_cpu_us_per_request),
        server_cpu_us_per_request: m(|r| r.server_cpu_us_per_request),
        client_cpu_share: m(|r| r.client_cpu_share),
        ctx_switches_per_request: m(|r| r.ctx_switches_per_request),
        server_ctx_switches_per_request: m(|r| r.server_ctx_switches_per_request),
        client_peak_rss_bytes: m(|r| r.client_peak_rss_bytes),
    })
}

#[cfg(test)]
mod tests {
    use crate::report::verdicts::io_models::tests::row;
    use crate::results::{CaseStatus, ScenarioInfo};

    fn report() -> crate::results::RunReport {
        let mut r = crate::report::tests::sample();
        r.scenarios.push(ScenarioInfo {
            name: "io".into(),
            description: "five IO models".into(),
            workload: "io-models".into(),
            cpu_bound: false,
            releases_gil: false,
            models: Vec::new(),
            baseline_estimated: false,
        });
        for model in ["blocking", "multiplexed:epoll"] {
            for c in [1, 100, 1000] {
                let per = if model == "blocking" { 16384.0 } else { 512.0 };
                r.io_models
                    .push(row(model, c, &[(1e7 + per * c as f64, 10.0, 0.1)]));
            }
        }
        let mut skipped = row("async", 1, &[]);
        skipped.status = CaseStatus::Skipped("io_uring_setup failed: EPERM".into());
        skipped.median = None;
        r.io_models.push(skipped);
        r
    }

    #[test]
    fn the_page_and_summary_show_the_table_the_slopes_and_the_c10k_chart() {
        let artifacts = crate::report::render(&report()).unwrap();
        let file = |name: &str| {
            artifacts
                .iter()
                .find(|a| a.name == name)
                .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
        };
        let svg = file("io-c10k.svg").expect("the C10K chart is drawn");
        assert!(svg.contains("round trips per second") && svg.contains("p99 round trip"));
        assert!(
            svg.contains("multiplexed:epoll") && !svg.contains(">async<"),
            "a skipped model draws no line"
        );
        let html = file("index.html").unwrap();
        assert!(html.contains("io-c10k") && html.contains("client peak RSS MiB"));
        assert!(html.contains("skipped: io_uring_setup failed: EPERM"));
        let md = file("summary.md").unwrap();
        // 16 KiB per blocking connection, 0.5 KiB per multiplexed one.
        let esc = crate::text::markdown;
        assert!(
            md.contains(&format!("| blocking | {}", esc("16.0 KiB"))),
            "{md}"
        );
        assert!(
            md.contains(&format!("| multiplexed:epoll | {}", esc("0.5 KiB"))),
            "{md}"
        );
        assert!(md.contains(&esc("RLIMIT_NOFILE 20000")), "{md}");
    }
}
