//! Runs the plan's granularity searches (`plan::granularity`): for each
//! (task kind, model), batches at the durations the search asks for
//! (`granularity::Search`), each timed like any point's case (`run_point`:
//! warm-up, repetitions, checksums, the batch timeout), its efficiency the
//! ideal time over each repetition's wall. A search stops at its outcome,
//! at its time budget, on a failed batch or on Ctrl-C; whatever it has is
//! recorded and results.json is rewritten after every search.

use super::{Env, Event, run_point};
use crate::granularity::{self, Measured, Next, Outcome, Search};
use crate::plan::granularity::{SweepPlan, TaskKind};
use crate::results::{CaseStatus, GranularityPoint, GranularitySweep, Metg};
use crate::stats;
use crate::stop::{Stop, Stopped};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Sleeps timed per duration for the sleep floor.
const FLOOR_SAMPLES: usize = 7;

/// One search, to its end or its budget.
pub(super) fn run_sweep(
    sweep: &SweepPlan,
    env: &Env,
    floors: &mut HashMap<u64, f64>,
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
        let ideal_task_ms = match sweep.kind {
            TaskKind::Cpu => d,
            TaskKind::Sleep => match floor_ms(d, env, floors) {
                Ok(ms) => ms,
                Err(_) => {
                    status = CaseStatus::Interrupted;
                    break None;
                }
            },
        };
        let point = sweep.at(d);
        on_event(Event::MoreRuns {
            runs: u64::from(point.warmup + point.repetitions),
        });
        let none_undecided = |cases: &[crate::results::CaseResult]| vec![false; cases.len()];
        let cases = run_point(&point, env, &none_undecided, on_event);
        let Some(case) = cases.into_iter().next() else {
            status = CaseStatus::Failed("the point had no case".into());
            break None;
        };
        for c in std::iter::once(&case) {
            on_event(Event::CaseDone(c));
        }
        if case.status != CaseStatus::Ok {
            status = case.status;
            break None;
        }
        let efficiency: Vec<f64> = case
            .samples_wall_s
            .iter()
            .map(|&w| granularity::efficiency(sweep.tasks, ideal_task_ms, parallelism, w))
            .collect();
        let median = stats::median(&efficiency).unwrap_or(f64::NAN);
        search.record(d, median);
        points.push(GranularityPoint {
            task_ms: d,
            ideal_task_ms,
            wall_s: case.samples_wall_s,
            efficiency,
            median_efficiency: median,
        });
    };
    GranularitySweep {
        scenario: sweep.scenario().to_owned(),
        model: sweep.model.to_string(),
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

/// The least time a sleep of `d` ms takes here (nominal, timer slack and
/// wake-up), measured once per duration of the run: the shortest of
/// `FLOOR_SAMPLES` sleeps, since no sleep ends before its floor, while a
/// loaded machine makes some end much later (a median of them, taken at
/// another moment than the batch, made efficiencies above 1 here at a
/// load average of 10). At least the nominal duration.
fn floor_ms(d: f64, env: &Env, floors: &mut HashMap<u64, f64>) -> Result<f64, Stopped> {
    let key = d.to_bits();
    if let Some(&ms) = floors.get(&key) {
        return Ok(ms);
    }
    let stop = Stop::within(env.cancel, env.timeout);
    let nominal = Duration::from_secs_f64(d / 1e3);
    let mut least = f64::INFINITY;
    for _ in 0..FLOOR_SAMPLES {
        if stop.left().is_some_and(|left| left < nominal) {
            break;
        }
        let t = Instant::now();
        match stop.sleep(nominal) {
            Ok(()) => least = least.min(t.elapsed().as_secs_f64() * 1e3),
            Err(Stopped::TimedOut(_)) => break,
            Err(e) => return Err(e),
        }
    }
    let ms = if least.is_finite() { least.max(d) } else { d };
    floors.insert(key, ms);
    Ok(ms)
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
