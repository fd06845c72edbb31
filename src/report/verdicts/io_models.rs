//! The IO-model claims, judged from `io-models` results: multiplexing
//! serves many connections on one thread at a fraction of the memory a
//! thread per connection costs; non-blocking polling burns CPU while it
//! waits. Pure: a report in, verdicts out.

use super::{Check, Outcome, Verdict};
use crate::results::io_models::{IoModelRep, IoModelResult};
use crate::results::{CaseStatus, RunReport};

pub const MULTIPLEXING_MEMORY: &str = "Multiplexing serves many connections on one thread at a fraction of thread-per-connection memory";
pub const POLLING_BURNS_CPU: &str = "Non-blocking polling burns CPU while waiting";

/// Multiplexing's memory per connection must be at most this share of
/// blocking's to count as "a fraction".
pub const MEMORY_FRACTION: f64 = 0.5;
/// The fewest connections that count as "many".
pub const MANY_CONNECTIONS: usize = 100;
/// Polling must cost at least this many times a waiting client's CPU per
/// request.
pub const BURN_RATIO: f64 = 2.0;
/// A client that spends less than this share of its wall time on the CPU
/// mostly waits.
pub const WAITING_SHARE: f64 = 0.5;

pub fn verdicts(report: &RunReport) -> Vec<Verdict> {
    let mut scenarios: Vec<&str> = report
        .io_models
        .iter()
        .map(|r| r.scenario.as_str())
        .collect();
    scenarios.dedup();
    let mut out = Vec::new();
    for s in scenarios {
        let rows: Vec<&IoModelResult> = report
            .io_models
            .iter()
            .filter(|r| r.scenario == s)
            .collect();
        let has = |id: &str| rows.iter().any(|r| r.io_model == id);
        if has("blocking") && rows.iter().any(|r| r.io_model.starts_with("multiplexed")) {
            out.push(multiplexing_memory(s, &rows));
        }
        if has("nonblocking") && rows.iter().any(|r| waiting_model(&r.io_model)) {
            out.push(polling_burns(s, &rows));
        }
    }
    out
}

fn verdict(claim: &'static str, s: &str, test: String) -> Verdict {
    Verdict {
        claim,
        cpython: false,
        python: None,
        test,
        scenario: Some(s.to_owned()),
        outcome: Outcome::Inconclusive,
        checks: Vec::new(),
        cases: Vec::new(),
        note: None,
    }
}

fn inconclusive(mut v: Verdict, why: String) -> Verdict {
    v.outcome = Outcome::Inconclusive;
    v.note = Some(why);
    v
}

/// The model's measured runs, as (connections, repetition), ok ones only.
fn reps<'a>(rows: &[&'a IoModelResult], model: &str) -> Vec<(usize, &'a IoModelRep)> {
    rows.iter()
        .filter(|r| r.io_model == model && r.status == CaseStatus::Ok)
        .flat_map(|r| r.repetitions.iter().map(move |rep| (r.connections, rep)))
        .collect()
}

fn distinct(points: &[(usize, &IoModelRep)]) -> Vec<usize> {
    let mut c: Vec<usize> = points.iter().map(|p| p.0).collect();
    c.sort_unstable();
    c.dedup();
    c
}

/// Prefers epoll, the multiplexer built for many connections.
fn multiplexed_of(rows: &[&IoModelResult]) -> String {
    if rows.iter().any(|r| r.io_model == "multiplexed:epoll") {
        return "multiplexed:epoll".into();
    }
    rows.iter()
        .find(|r| r.io_model.starts_with("multiplexed"))
        .map_or_else(String::new, |r| r.io_model.clone())
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// Holds when the multiplexed client's memory per connection (the slope of
/// its peak RSS against connections) is below `MEMORY_FRACTION` of the
/// blocking client's with both 95% intervals, having served at least
/// `MANY_CONNECTIONS` on one thread; does not hold when it is above with
/// both intervals.
fn multiplexing_memory(s: &str, rows: &[&IoModelResult]) -> Verdict {
    let mux = multiplexed_of(rows);
    let v = verdict(
        MULTIPLEXING_MEMORY,
        s,
        format!(
            "the slope of the client's peak RSS against connections (Theil–Sen, every repetition) for {mux}, on one thread, is below {MEMORY_FRACTION} × blocking's (a thread per connection), the whole 95% intervals apart, with {mux} serving {MANY_CONNECTIONS} connections or more"
        ),
    );
    let (m, b) = (reps(rows, &mux), reps(rows, "blocking"));
    let common: Vec<usize> = distinct(&m)
        .into_iter()
        .filter(|c| distinct(&b).contains(c))
        .collect();
    if common.len() < 2 {
        return inconclusive(
            v,
            format!("{mux} and blocking did not both run at two connection counts or more"),
        );
    }
    let most = common.iter().copied().max().unwrap_or(0);
    if most < MANY_CONNECTIONS {
        return inconclusive(
            v,
            format!("the most connections both ran is {most}, fewer than {MANY_CONNECTIONS}"),
        );
    }
    let slope = |pts: &[(usize, &IoModelRep)]| {
        let xy: Vec<(f64, f64)> = pts
            .iter()
            .filter(|p| common.contains(&p.0))
            .map(|(c, r)| (*c as f64, r.client_peak_rss_bytes))
            .collect();
        crate::stats::theil_sen(&xy)
    };
    let (Some(ms), Some(bs)) = (slope(&m), slope(&b)) else {
        return inconclusive(v, "no slope could be fitted".into());
    };
    let (ms, bs) = (ms.slope, bs.slope);
    let text = format!(
        "per connection: {mux} {} [{} – {}], blocking {} [{} – {}] (ratio {:.2}), up to {most} connections",
        kib(ms.median),
        kib(ms.low),
        kib(ms.high),
        kib(bs.median),
        kib(bs.low),
        kib(bs.high),
        if bs.median > 0.0 {
            ms.median / bs.median
        } else {
            f64::NAN
        },
    );
    let outcome = if bs.low > 0.0 && ms.high < MEMORY_FRACTION * bs.low {
        Outcome::Holds
    } else if ms.low >= MEMORY_FRACTION * bs.high {
        Outcome::DoesNotHold
    } else {
        Outcome::Inconclusive
    };
    let mut v = v;
    v.checks.push(Check { outcome, text });
    v.outcome = outcome;
    if outcome == Outcome::Inconclusive {
        v.note = Some("the two slopes' intervals overlap the threshold".into());
    }
    v
}

/// The models that wait for readiness or completion instead of polling.
fn waiting_model(id: &str) -> bool {
    id.starts_with("multiplexed") || id == "signal" || id == "async"
}

/// Holds when, at the connection count where the waiting client (epoll
/// first) waited most, the polling client's CPU per request is at least
/// `BURN_RATIO` times the waiting one's in every pairing of their
/// repetitions; does not hold when it is below in every pairing.
fn polling_burns(s: &str, rows: &[&IoModelResult]) -> Verdict {
    let waiter = if rows.iter().any(|r| r.io_model.starts_with("multiplexed")) {
        multiplexed_of(rows)
    } else {
        rows.iter()
            .find(|r| waiting_model(&r.io_model))
            .map_or_else(String::new, |r| r.io_model.clone())
    };
    let v = verdict(
        POLLING_BURNS_CPU,
        s,
        format!(
            "where {waiter} waited most (the least CPU share of its wall time, which must be under {WAITING_SHARE}), nonblocking's client CPU per request is at least {BURN_RATIO} × {waiter}'s in every pairing of their repetitions"
        ),
    );
    let ok = |model: &str, c: usize| -> Option<&IoModelResult> {
        rows.iter().copied().find(|r| {
            r.io_model == model
                && r.connections == c
                && r.status == CaseStatus::Ok
                && !r.repetitions.is_empty()
        })
    };
    let at = rows
        .iter()
        .filter(|r| r.io_model == waiter)
        .filter_map(|r| Some((r, ok("nonblocking", r.connections)?, r.median?)))
        .filter(|(r, _, _)| r.status == CaseStatus::Ok && !r.repetitions.is_empty())
        .min_by(|a, b| a.2.client_cpu_share.total_cmp(&b.2.client_cpu_share));
    let Some((w, nb, wm)) = at else {
        return inconclusive(
            v,
            format!("nonblocking and {waiter} did not both run at one connection count"),
        );
    };
    if wm.client_cpu_share >= WAITING_SHARE {
        return inconclusive(
            v,
            format!(
                "{waiter} used {:.0}% of its wall time on the CPU at {} connections: the client hardly waited, so there was no waiting to burn",
                wm.client_cpu_share * 100.0,
                w.connections
            ),
        );
    }
    let cpu = |r: &IoModelResult| -> Vec<f64> {
        r.repetitions
            .iter()
            .map(|x| x.client_cpu_us_per_request)
            .collect()
    };
    let (n, m) = (cpu(nb), cpu(w));
    let lo =
        n.iter().copied().fold(f64::INFINITY, f64::min) / m.iter().copied().fold(0.0, f64::max);
    let hi =
        n.iter().copied().fold(0.0, f64::max) / m.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |x: &[f64]| crate::stats::median(x).unwrap_or(f64::NAN);
    let text = format!(
        "at {} connections: nonblocking {:.1} µs of client CPU per request ({:.0}% of a core), {waiter} {:.1} µs ({:.0}%); ratio {:.1} (every pairing {:.1} – {:.1})",
        w.connections,
        median(&n),
        nb.median.map_or(f64::NAN, |r| r.client_cpu_share * 100.0),
        median(&m),
        wm.client_cpu_share * 100.0,
        median(&n) / median(&m),
        lo,
        hi,
    );
    let outcome = if lo >= BURN_RATIO {
        Outcome::Holds
    } else if hi < BURN_RATIO {
        Outcome::DoesNotHold
    } else {
        Outcome::Inconclusive
    };
    let mut v = v;
    v.checks.push(Check { outcome, text });
    v.outcome = outcome;
    if outcome == Outcome::Inconclusive {
        v.note = Some("the repetitions fall on both sides of the threshold".into());
    }
    v
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A result of `model` at `c` connections whose repetitions have these
    /// (peak RSS, client CPU µs per request, CPU share) figures.
    pub(crate) fn row(model: &str, c: usize, reps: &[(f64, f64, f64)]) -> IoModelResult {
        let reps: Vec<IoModelRep> = reps
            .iter()
            .map(|&(rss, cpu, share)| IoModelRep {
                throughput_rps: 1000.0 * c as f64,
                p50_us: 1000.0,
                p99_us: 2000.0,
                client_cpu_us_per_request: cpu,
                client_cpu_share: share,
                client_peak_rss_bytes: rss,
                ..IoModelRep::default()
            })
            .collect();
        IoModelResult {
            scenario: "io".into(),
            io_model: model.into(),
            connections: c,
            threads: if model == "blocking" { c } else { 1 },
            round_trips: 10,
            message_bytes: 64,
            server_delay_ms: 1.0,
            think_ms: 0.0,
            status: CaseStatus::Ok,
            nofile_soft: 20_000,
            nofile_hard: 20_000,
            median: crate::report::io_models::median_rep(&reps),
            repetitions: reps,
        }
    }

    fn report(rows: Vec<IoModelResult>) -> RunReport {
        let mut r = crate::report::tests::sample();
        r.io_models = rows;
        r
    }

    fn judged(rows: Vec<IoModelResult>, claim: &str) -> Verdict {
        verdicts(&report(rows))
            .into_iter()
            .find(|v| v.claim == claim)
            .expect("the claim is judged")
    }

    /// Memory: a base of 10 MiB plus `per` bytes per connection, with a
    /// little noise per repetition.
    fn memory_rows(model: &str, per: f64) -> Vec<IoModelResult> {
        [1, 10, 100, 1000]
            .iter()
            .map(|&c| {
                let base = 10.0 * 1048576.0 + per * c as f64;
                row(
                    model,
                    c,
                    &[
                        (base, 10.0, 0.1),
                        (base + 4096.0, 10.0, 0.1),
                        (base - 4096.0, 10.0, 0.1),
                    ],
                )
            })
            .collect()
    }

    #[test]
    fn multiplexing_memory_holds_fails_or_is_inconclusive_from_the_data() {
        let mut rows = memory_rows("blocking", 16384.0);
        rows.extend(memory_rows("multiplexed:epoll", 512.0));
        let v = judged(rows, MULTIPLEXING_MEMORY);
        assert_eq!(v.outcome, Outcome::Holds, "{:?}", v.checks);
        assert!(
            v.checks[0].text.contains("16.0 KiB"),
            "{}",
            v.checks[0].text
        );

        let mut rows = memory_rows("blocking", 16384.0);
        rows.extend(memory_rows("multiplexed:epoll", 16000.0));
        assert_eq!(
            judged(rows, MULTIPLEXING_MEMORY).outcome,
            Outcome::DoesNotHold
        );

        // Only 1 and 10 connections: not "many".
        let mut rows = memory_rows("blocking", 16384.0);
        rows.extend(memory_rows("multiplexed:epoll", 512.0));
        rows.retain(|r| r.connections <= 10);
        let v = judged(rows, MULTIPLEXING_MEMORY);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.note.unwrap().contains("fewer than 100"));

        // The multiplexed client failed beyond one point: no slope to compare.
        let mut rows = memory_rows("blocking", 16384.0);
        rows.extend(memory_rows("multiplexed:epoll", 512.0));
        for r in rows
            .iter_mut()
            .filter(|r| r.io_model != "blocking" && r.connections > 1)
        {
            r.status = CaseStatus::Failed("timed out".into());
        }
        assert_eq!(
            judged(rows, MULTIPLEXING_MEMORY).outcome,
            Outcome::Inconclusive
        );
    }

    #[test]
    fn polling_burns_cpu_holds_fails_or_is_inconclusive_from_the_data() {
        let rss = 1e7;
        // At 1 connection epoll waits (5% of a core), polling spins.
        let data = |nb: [f64; 3], ep: [f64; 3], share: f64| {
            vec![
                row("nonblocking", 1, &nb.map(|c| (rss, c, 0.9))),
                row("multiplexed:epoll", 1, &ep.map(|c| (rss, c, share))),
                row("nonblocking", 1000, &[(rss, 12.0, 0.9)]),
                row("multiplexed:epoll", 1000, &[(rss, 12.0, 0.6)]),
            ]
        };
        let v = judged(
            data([900.0, 1000.0, 1100.0], [60.0, 70.0, 80.0], 0.05),
            POLLING_BURNS_CPU,
        );
        assert_eq!(v.outcome, Outcome::Holds, "{:?}", v.checks);
        assert!(
            v.checks[0].text.contains("at 1 connections"),
            "{}",
            v.checks[0].text
        );
        let v = judged(
            data([70.0, 75.0, 80.0], [60.0, 70.0, 80.0], 0.05),
            POLLING_BURNS_CPU,
        );
        assert_eq!(v.outcome, Outcome::DoesNotHold);
        // Repetitions on both sides of 2×.
        let v = judged(
            data([100.0, 150.0, 200.0], [60.0, 70.0, 80.0], 0.05),
            POLLING_BURNS_CPU,
        );
        assert_eq!(v.outcome, Outcome::Inconclusive);
        // The waiting client never waited: nothing to judge.
        let v = judged(
            data([900.0, 1000.0, 1100.0], [60.0, 70.0, 80.0], 0.8),
            POLLING_BURNS_CPU,
        );
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.note.unwrap().contains("hardly waited"));
    }

    #[test]
    fn no_io_models_no_verdicts() {
        assert!(verdicts(&report(Vec::new())).is_empty());
    }
}
