//! Runs the plan's granularity searches (`plan::granularity`): for each
//! (task kind, model), batches at the durations the search asks for
//! (`granularity::Search`), each a point of two cases timed like any
//! (`run_point`: warm-up, repetitions interleaved, checksums, the batch
//! timeout): the model's sequential baseline and the model. A round's
//! efficiency is the baseline's wall shared among the model's parallel
//! units over the model's wall in the same round, so load on the machine
//! slows both sides alike. A search stops at its outcome, at its time
//! budget, on a failed batch or on Ctrl-C; whatever it has is recorded.

use super::{Env, Event, run_point};
use crate::granularity::{self, Measured, Next, Outcome, Search};
use crate::plan::granularity::{SweepPlan, TaskKind};
use crate::results::{CaseResult, CaseStatus, GranularityPoint, GranularitySweep, Metg};
use crate::stats;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// One search, to its end or its budget.
pub(super) fn run_sweep(
    sweep: &SweepPlan,
    env: &Env,
    on_event: &mut dyn FnMut(Event),
) -> GranularitySweep {
    let started = Instant::now();
    let parallelism = match sweep.kind {
        TaskKind::Cpu => sweep.workers.min(env.cores.max(1)),
        TaskKind::Sleep => sweep.workers,
    };
    let mut search = Search::new(sweep.search);
    let mut points: Vec<GranularityPoint> = Vec::new();
    let mut status = CaseStatus::Ok;
    // Bounded by construction; the cap guards against a search that never
    // settles on noisy input.
    let most = granularity::max_measurements(&sweep.search);
    let model = sweep.model.to_string();
    let outcome = loop {
        let d = match search.next() {
            Next::Done(outcome) => break Some(outcome),
            Next::Measure(d) => d,
        };
        if points.len() >= most || started.elapsed() >= sweep.budget {
            break None;
        }
        if env.cancel.load(Ordering::Relaxed) {
            status = CaseStatus::Interrupted;
            break None;
        }
        let point = sweep.at(d);
        on_event(Event::MoreRuns {
            runs: u64::from(point.warmup + point.repetitions) * point.cases.len() as u64,
        });
        let none_undecided = |cases: &[CaseResult]| vec![false; cases.len()];
        let cases = run_point(&point, env, &none_undecided, on_event);
        for c in &cases {
            on_event(Event::CaseDone(c));
        }
        if let Some(bad) = cases.iter().find(|c| c.status != CaseStatus::Ok) {
            status = match &bad.status {
                CaseStatus::Failed(why) if bad.model != model => {
                    CaseStatus::Failed(format!("baseline {}: {why}", bad.model))
                }
                s => s.clone(),
            };
            break None;
        }
        let baseline = &cases[0];
        let measured = cases.iter().find(|c| c.model == model).unwrap_or(baseline);
        // Both ran every round (no extra rounds), in the same order.
        let efficiency: Vec<f64> = baseline
            .samples_wall_s
            .iter()
            .zip(&measured.samples_wall_s)
            .map(|(&seq, &wall)| granularity::efficiency(seq, parallelism, wall))
            .collect();
        let median = stats::median(&efficiency).unwrap_or(f64::NAN);
        search.record(d, median);
        points.push(GranularityPoint {
            task_ms: d,
            baseline: baseline.model.clone(),
            baseline_wall_s: baseline.samples_wall_s.clone(),
            wall_s: measured.samples_wall_s.clone(),
            efficiency,
            median_efficiency: median,
        });
    };
    GranularitySweep {
        scenario: sweep.scenario().to_owned(),
        model,
        task_kind: sweep.kind.id().into(),
        workers: sweep.workers,
        tasks: sweep.tasks,
        parallelism,
        threshold: sweep.search.threshold,
        status,
        metg: metg(&search, outcome, &points, sweep.search.threshold),
        points,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

/// The search's answer from its outcome (None: it did not finish) and
/// what it measured.
fn metg(
    search: &Search,
    outcome: Option<Outcome>,
    points: &[GranularityPoint],
    threshold: f64,
) -> Metg {
    let measured: Vec<Measured> = points
        .iter()
        .map(|p| Measured {
            task_ms: p.task_ms,
            median: p.median_efficiency,
            min: p.efficiency.iter().copied().fold(f64::INFINITY, f64::min),
            max: p
                .efficiency
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
        })
        .collect();
    let bracketed = |name: &str, (lo, hi): (f64, f64)| {
        let e = granularity::estimate(&measured, lo, hi, threshold);
        Metg {
            outcome: name.into(),
            metg_ms: Some(e.metg_ms),
            bracket_ms: Some(e.bracket_ms),
            noise_ms: Some(e.noise_ms),
            bound_ms: None,
        }
    };
    let bound = |name: &str, ms: f64| Metg {
        outcome: name.into(),
        metg_ms: None,
        bracket_ms: None,
        noise_ms: None,
        bound_ms: Some(ms),
    };
    match outcome {
        Some(Outcome::Bracket { lo_ms, hi_ms }) => bracketed("bracketed", (lo_ms, hi_ms)),
        Some(Outcome::NeverEfficient { start_ms }) => bound("never-efficient", start_ms),
        Some(Outcome::BelowRange { min_ms }) => bound("below-range", min_ms),
        None => match search.bracket() {
            Some(b) => bracketed("unfinished", b),
            None => Metg {
                outcome: "unfinished".into(),
                metg_ms: None,
                bracket_ms: None,
                noise_ms: None,
                bound_ms: None,
            },
        },
    }
}
