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
    // A model that cannot rise clearly above the threshold here (one that
    // runs on one core, at most 50% of two) crosses it by noise wherever
    // it crosses: no duration answers, so none is given.
    let best = measured.iter().max_by(|a, b| a.median.total_cmp(&b.median));
    let at_threshold = best.is_some_and(|b| b.min <= threshold);
    match outcome {
        Some(Outcome::Bracket { lo_ms, hi_ms }) if at_threshold => Metg {
            bracket_ms: Some((lo_ms, hi_ms)),
            ..bound("at-threshold", best.map_or(lo_ms, |b| b.task_ms))
        },
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

#[cfg(test)]
mod tests {
    use crate::model::{Batch, BatchOutcome, Model, ModelError, ModelKind, TaskRecord};
    use crate::plan::{PlanOptions, Source};
    use crate::results::{CaseStatus, RunReport};
    use crate::runner::{RunOptions, run_with};
    use crate::workload::{Step, TaskOutput};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    /// A machine on paper: each task sleeps its nominal duration plus the
    /// model's overhead per task (none for `sequential`), `workers` at a
    /// time, and nothing really sleeps. Efficiency is then d / (d + o),
    /// which crosses 0.5 at d = o. The Nth batch (from 0) sets the cancel
    /// flag as Ctrl-C would.
    struct Paper {
        overhead_us: u64,
        calls: Arc<AtomicUsize>,
        cancel_at: Option<usize>,
    }

    impl Model for Paper {
        fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
            if Some(self.calls.fetch_add(1, Ordering::SeqCst)) == self.cancel_at {
                batch.cancel.store(true, Ordering::SeqCst);
            }
            let us = batch.tasks[0]
                .steps
                .iter()
                .find_map(|s| match s {
                    Step::Sleep { us } => Some(*us),
                    _ => None,
                })
                .unwrap_or(0);
            let per_task = Duration::from_micros(us + self.overhead_us);
            let records = batch
                .tasks
                .iter()
                .map(|t| TaskRecord {
                    output: TaskOutput {
                        idx: t.idx,
                        checksum: crate::workload::expected_checksum(t),
                        run_ns: per_task.as_nanos() as u64,
                        round_trips_ns: Vec::new(),
                        lock: None,
                        queue: None,
                        wake: None,
                    },
                    latency: per_task,
                })
                .collect();
            let rounds = batch.tasks.len().div_ceil(batch.workers) as u32;
            Ok(BatchOutcome {
                records,
                wall: per_task * rounds,
                ..BatchOutcome::default()
            })
        }
    }

    const SUITE: &str = "[settings]\nrepetitions = 2\nwarmup = 0\n[[scenario]]\nname = \"g\"\n\
        workload = \"granularity\"\nmodels = [\"thread\", \"process\"]\nworkers = 2\ntasks = 8\n\
        task_ms = 4\nmetg_tasks = \"sleep\"\nmetg_min_us = 1\nmetg_bisections = 6\n";

    fn run(cancel_at: Option<usize>) -> (RunReport, RunReport) {
        let sources = [Source {
            name: "g.toml".into(),
            text: SUITE.into(),
        }];
        let plan = crate::plan::build(&sources, &PlanOptions::default()).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let models = move |kind: ModelKind| -> Box<dyn Model> {
            let overhead_us = match kind {
                ModelKind::Thread => 100,
                ModelKind::Process => 1000,
                _ => 0,
            };
            Box::new(Paper {
                overhead_us,
                calls: calls.clone(),
                cancel_at,
            })
        };
        let out = tempfile::tempdir().unwrap();
        let opts = RunOptions {
            out_dir: out.path().to_owned(),
            command_line: vec![],
        };
        let cancel = AtomicBool::new(false);
        let report = run_with(&plan, &opts, &cancel, &mut |_| {}, &models).unwrap();
        let saved =
            serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap())
                .unwrap();
        (report, saved)
    }

    #[test]
    fn each_search_brackets_its_models_overhead_and_is_saved() {
        let (report, saved) = run(None);
        // Saved as returned (to the last digit serde_json's parser keeps).
        let summary = |r: &RunReport| -> Vec<(String, String, usize)> {
            r.granularity
                .iter()
                .map(|g| (g.model.clone(), g.metg.outcome.clone(), g.points.len()))
                .collect()
        };
        assert_eq!(summary(&report), summary(&saved));
        assert!(report.cases.is_empty());
        let metg = |model: &str| {
            let g = report
                .granularity
                .iter()
                .find(|g| g.model == model)
                .unwrap();
            assert_eq!(g.status, CaseStatus::Ok);
            assert_eq!(g.metg.outcome, "bracketed", "{:?}", g.points);
            // Every point timed the baseline beside the model, round by round.
            assert!(
                g.points
                    .iter()
                    .all(|p| p.baseline == "sequential" && p.wall_s.len() == 2)
            );
            let (lo, hi) = g.metg.bracket_ms.unwrap();
            (lo, g.metg.metg_ms.unwrap(), hi)
        };
        // Efficiency d / (d + o) is 0.5 at d = o: 0.1 ms and 1 ms.
        for (model, o) in [("thread", 0.1), ("process", 1.0)] {
            let (lo, m, hi) = metg(model);
            assert!(lo < o && o <= hi, "{model}: [{lo}, {hi}]");
            assert!((m / o - 1.0).abs() < 0.1, "{model}: {m}");
        }
    }

    #[test]
    fn ctrl_c_ends_the_search_with_what_it_measured_and_saves_it() {
        // Each point is two batches (baseline, model) per repetition: the
        // fifth batch is the second point's first, and the point ends there
        // with its other case unmeasured.
        let (report, saved) = run(Some(4));
        assert!(report.interrupted && saved.interrupted);
        assert_eq!(saved.granularity.len(), 1, "no search starts after Ctrl-C");
        let g = &saved.granularity[0];
        assert_eq!(g.status, CaseStatus::Interrupted);
        assert_eq!(g.metg.outcome, "unfinished");
        assert_eq!(g.points.len(), 1, "{:?}", g.points);
        assert_eq!(g.points[0].task_ms, 4.0);
    }

    #[test]
    fn a_model_whose_best_rounds_touch_the_threshold_has_no_metg() {
        use crate::granularity::{Outcome, Search, SearchSpec};
        use crate::results::GranularityPoint;
        let point = |task_ms: f64, efficiency: Vec<f64>| {
            let mut sorted = efficiency.clone();
            sorted.sort_by(f64::total_cmp);
            GranularityPoint {
                task_ms,
                baseline: "sequential".into(),
                baseline_wall_s: vec![0.1; efficiency.len()],
                wall_s: vec![0.2; efficiency.len()],
                median_efficiency: sorted[sorted.len() / 2],
                efficiency,
            }
        };
        let search = Search::new(SearchSpec {
            start_ms: 4.0,
            min_ms: 0.001,
            step: 4.0,
            bisections: 3,
            threshold: 0.5,
        });
        let bracket = Some(Outcome::Bracket {
            lo_ms: 1.0,
            hi_ms: 4.0,
        });
        // One core of two: about 50% everywhere, above and below by noise.
        let flat = [
            point(4.0, vec![0.49, 0.52, 0.51]),
            point(1.0, vec![0.47, 0.49, 0.50]),
        ];
        let m = super::metg(&search, bracket, &flat, 0.5);
        assert_eq!(m.outcome, "at-threshold");
        assert_eq!((m.metg_ms, m.bound_ms), (None, Some(4.0)));
        // Clearly above at its best: a METG.
        let clear = [
            point(4.0, vec![0.88, 0.90, 0.93]),
            point(1.0, vec![0.40, 0.45, 0.47]),
        ];
        let m = super::metg(&search, bracket, &clear, 0.5);
        assert_eq!(m.outcome, "bracketed");
        assert!(m.metg_ms.is_some());
    }
}
