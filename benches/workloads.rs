//! Whole batches through every native model, as the runner drives them
//! (`model_for(kind).run(&batch)`, pool or runtime start-up included): one
//! small CPU-bound batch (8 tasks of ~2 ms of the hash kernel, 2 workers) and
//! one IO-bound batch (16 tasks sleeping 2 ms, 16 workers).
//!
//! These catch regressions in the models themselves (scheduling, channels,
//! the worker protocol) on workloads where the answer is known: the CPU batch
//! cannot beat 8 ms on 2 cores, and the IO batch cannot beat one sleep plus
//! the timer slack (about 2.1 ms); the sequential model is the baseline.
//! Every model's checksums are verified once before it is timed.

mod common;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use parabench::gil;
use parabench::model::{ModelKind, model_for};
use parabench::stop::Stop;
use parabench::workload::cpu::{Kernel, calibrate};
use parabench::workload::{Step, Task};
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn tasks(n_tasks: u32, step: &Step) -> Vec<Task> {
    (0..n_tasks)
        .map(|idx| Task {
            idx,
            steps: vec![step.clone()],
            releases_gil: false,
        })
        .collect()
}

/// Benches `tasks` on `workers` under every native model.
fn every_model(g: &mut BenchmarkGroup<'_, WallTime>, tasks: &[Task], workers: usize) {
    let cancel = AtomicBool::new(false);
    for kind in ModelKind::ALL {
        let model = model_for(kind);
        let batch = common::batch(tasks, workers, &cancel);
        let run = || model.run(&batch).unwrap_or_else(|e| panic!("{kind}: {e}"));
        common::verify(kind.id(), tasks, &run());
        g.bench_function(kind.id(), |b| b.iter(|| black_box(run())));
    }
}

fn cpu(c: &mut Criterion) {
    // Calibrated once, as the runner does per kernel.
    let iters_per_ms = calibrate(Kernel::Hash, Duration::from_millis(20), &Stop::never())
        .expect("nothing cancels a bench");
    let step = Step::Cpu {
        kernel: Kernel::Hash,
        iters: (2.0 * iters_per_ms).round() as u64,
        slice_iters: gil::slice_iters(iters_per_ms),
    };
    let mut g = c.benchmark_group("cpu-8x2ms-2-workers");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    every_model(&mut g, &tasks(8, &step), 2);
    g.finish();
}

fn io(c: &mut Criterion) {
    let step = Step::Sleep { us: 2_000 };
    let mut g = c.benchmark_group("io-16x2ms-sleep-16-workers");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    every_model(&mut g, &tasks(16, &step), 16);
    g.finish();
}

fn main() {
    common::init();
    let mut c = Criterion::default().configure_from_args();
    cpu(&mut c);
    io(&mut c);
    c.final_summary();
}
