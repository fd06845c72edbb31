//! Per-task dispatch cost of every concurrency model: the time to hand one
//! trivial task (a one-iteration hash step, nanoseconds of work) to the model
//! and get its result back. This is the fixed overhead each model adds per
//! task, which decides how small a task can be before the model stops paying
//! off; suites' speedup figures should be read against it.
//!
//! Pools and runtimes are built once outside the timed loop, so their figures
//! are the submit-to-result round trip; `thread` and `process` run their
//! model on one task: the spawn, the task, and the join or wait. The
//! `per-task` group runs every native model on batches of trivial tasks and
//! reports the cost per task, pipelining included (`parabench run --task-ms
//! 0.001 --workers 1`). The GIL group times
//! how long a waiter takes to get the emulated GIL from a holder that never
//! blocks, only ticks (a forced switch).
//!
//! Waking a thread on the other core costs 40-70 µs on the 2-core VMs against
//! 2-4 µs on the same core (benches/README.md), so round trips here are bimodal:
//! compare medians, and look at the distributions in `target/criterion/`.

mod common;

use criterion::{BenchmarkId, Criterion};
use parabench::gil::{Gil, GilKind};
use parabench::model::process_pool::ProcessPool;
use parabench::model::thread_pool::ThreadPool;
use parabench::model::worker::{Job, Reply};
use parabench::model::{ModelKind, model_for, run_task};
use parabench::stop::Stop;
use parabench::workload::cpu::{Kernel, calibrate};
use parabench::workload::{Step, Task, TaskOutput, aio, expected_checksum};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One task with as little work as a task can have.
fn trivial_task() -> Task {
    Task {
        idx: 0,
        steps: vec![Step::Cpu {
            kernel: Kernel::Hash,
            iters: 1,
            slice_iters: 1,
        }],
        releases_gil: false,
    }
}

/// Runs a task on this thread, no GIL.
fn run_one(task: &Task) -> TaskOutput {
    run_task(task, None).expect("trivial task failed")
}

/// Checks one dispatched task's result, outside the timed loop.
fn check(what: &str, task: &Task, out: &TaskOutput) {
    assert_eq!(out.checksum, expected_checksum(task), "{what}: checksum");
}

fn threads(c: &mut Criterion) {
    let task = Arc::new(trivial_task());
    let cancel = AtomicBool::new(false);
    let tasks = [(*task).clone()];
    let batch = common::batch(&tasks, 1, &cancel);
    let mut g = c.benchmark_group("dispatch");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    // The whole thread model with one task: start a thread, run the task,
    // take its result, join the thread.
    let model = model_for(ModelKind::Thread);
    let run = || model.run(&batch).expect("thread model failed");
    common::verify("thread", &tasks, &run());
    g.bench_function("thread", |b| b.iter(|| black_box(run())));

    let pool = ThreadPool::new(1).expect("starting the thread pool");
    let submit = |task: &Arc<Task>| {
        let task = Arc::clone(task);
        pool.submit(move || run_task(&task, None))
            .wait(&batch, Instant::now())
            .expect("thread pool round trip")
            .expect("trivial task failed")
    };
    check("thread-pool", &task, &submit(&task));
    g.bench_function("thread-pool", |b| b.iter(|| black_box(submit(&task))));
    pool.shutdown(true);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("starting the rayon pool");
    // From outside the pool, as the rayon model submits its batch: an
    // injection into the pool's queue and a wake-up back.
    check(
        "rayon",
        &task,
        &pool.install(|| run_task(&task, None)).unwrap(),
    );
    g.bench_function("rayon-install", |b| {
        b.iter(|| black_box(pool.install(|| run_task(&task, None))))
    });
    // Inside the pool: one fork-join of two tasks, the per-split cost of a
    // parallel iterator. The second half is usually popped back by the same
    // thread rather than stolen, which is rayon's cheap path.
    g.bench_function("rayon-join", |b| {
        b.iter_custom(|iters| {
            pool.install(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(rayon::join(|| run_one(&task), || run_one(&task)));
                }
                start.elapsed()
            })
        })
    });

    for (name, rt) in [
        (
            "async",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        ),
        (
            "async-single",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        ),
    ] {
        let rt = rt.expect("building the tokio runtime");
        let spawn_join = || {
            let task = Arc::clone(&task);
            rt.block_on(async move {
                tokio::spawn(async move { aio::execute(&task, &aio::Inline).await })
                    .await
                    .expect("async task panicked")
                    .expect("trivial task failed")
            })
        };
        check(name, &task, &spawn_join());
        g.bench_function(name, |b| b.iter(|| black_box(spawn_join())));
    }
    g.finish();
}

fn processes(c: &mut Criterion) {
    let tasks = [trivial_task()];
    let cancel = AtomicBool::new(false);
    let batch = common::batch(&tasks, 1, &cancel);
    let mut g = c.benchmark_group("dispatch");
    // A spawn costs about 0.5-1 ms here: fewer, longer samples.
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    // The whole process model with one task: spawn, send the task, read the
    // reply, reap the child with wait4.
    let model = model_for(ModelKind::Process);
    let run = || model.run(&batch).expect("process model failed");
    common::verify("process", &tasks, &run());
    g.bench_function("process", |b| b.iter(|| black_box(run())));

    // Started from this (long-lived) thread, as the parent-death signal needs.
    let pool = ProcessPool::start(1, &batch).expect("starting the process pool");
    let submit = || {
        let job = Job {
            task: tasks[0].clone(),
            gil: None,
        };
        match pool.submit(job).wait(&batch, Instant::now()) {
            Ok(Ok((Reply::Done { output, .. }, _))) => output,
            other => panic!("process pool round trip failed: {other:?}"),
        }
    };
    check("process-pool", &tasks[0], &submit());
    g.bench_function("process-pool", |b| b.iter(|| black_box(submit())));
    // Every worker is reaped before the next bench starts.
    let usage = pool.shutdown(true, Duration::from_secs(5));
    black_box(usage);
    g.finish();
}

/// Each native model's cost per task, as `parabench run --task-ms 0.001
/// --workers 1` sees it: one iteration is one trivial task, and a sample is
/// one batch of as many tasks as criterion asks for, run by the model on one
/// worker, timed from the first submit to the last result (`wall`; a pool's
/// or a runtime's start-up is apart, as in the report). Pools and runtimes
/// overlap one task's hand-off with the next, so theirs is a throughput
/// cost; `thread` and `process` start and end a thread or a process per task.
/// Read each beside its floor (the `floor` measurements): pthread create +
/// join, posix_spawn of a tiny binary + wait, a pipe round trip, a channel
/// hand-off, a tokio spawn.
fn per_task(c: &mut Criterion) {
    let cancel = AtomicBool::new(false);
    let mut g = c.benchmark_group("per-task");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    use parabench::model::StartMethod::{Fork, Forkserver, Spawn};
    for (kind, method) in [
        (ModelKind::Sequential, Spawn),
        (ModelKind::Thread, Spawn),
        (ModelKind::ThreadPool, Spawn),
        (ModelKind::Rayon, Spawn),
        (ModelKind::ProcessPool, Spawn),
        (ModelKind::ProcessPool, Fork),
        (ModelKind::Async, Spawn),
        (ModelKind::AsyncSingle, Spawn),
        (ModelKind::Process, Spawn),
        (ModelKind::Process, Fork),
        (ModelKind::Process, Forkserver),
    ] {
        let model = model_for(kind);
        // Named as the report names them: `process:fork`; spawn unwritten.
        let name = match method {
            Spawn => kind.id().to_owned(),
            _ => format!("{}:{method}", kind.id()),
        };
        g.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let tasks: Vec<Task> = (0..iters.max(1) as u32)
                    .map(|idx| Task {
                        idx,
                        ..trivial_task()
                    })
                    .collect();
                let mut batch = common::batch(&tasks, 1, &cancel);
                batch.start.method = method;
                let outcome = model.run(&batch).unwrap_or_else(|e| panic!("{name}: {e}"));
                common::verify(&name, &tasks, &outcome);
                outcome.wall
            })
        });
    }
    g.finish();
}

/// A waiter takes the GIL from a holder that runs CPU work and ticks every
/// ~1 µs: the figure is `switch_interval` (the waiter's patience before it
/// asks for a drop) plus the forced switch itself (the request seen at the
/// next tick, the drop, the waiter woken and taking the GIL). The `+gil`
/// models tick every `gil::SLICE` and so add up to one slice on top.
///
/// The intervals are 1 ms and the suites' default of 5 ms; the excess over
/// the interval is the switch cost. Measured here, on a loaded 2-core VM:
/// 50-150 µs, of which about 40 µs is the kernel's default 50 µs timer slack
/// on the waiter's timed wait (`PR_SET_TIMERSLACK` 1 cut 88 µs to 48 µs) and
/// the rest a cross-core wake-up; a longer sleep is more often woken late
/// under load. An interval of 0 is no shortcut: the waiter then polls
/// `wait_timeout(0)`, paced only by that slack, and without the slack it
/// starves a holder on its own core for a 4 ms tick (benches/README.md).
fn gil_handoff(c: &mut Criterion) {
    let tick_iters = (calibrate(Kernel::Hash, Duration::from_millis(20), &Stop::never())
        .expect("nothing cancels a bench")
        / 1e3)
        .max(1.0) as u64;
    let mut g = c.benchmark_group("gil-handoff");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for interval_ms in [1u64, 5] {
        let interval = Duration::from_millis(interval_ms);
        g.bench_with_input(
            BenchmarkId::new("forced-switch-interval-ms", interval_ms),
            &interval,
            |b, &switch_interval| {
                b.iter_custom(|iters| forced_switches(switch_interval, tick_iters, iters))
            },
        );
    }
    g.finish();
}

/// Times `iters` acquisitions against a ticking holder thread; returns the
/// total time spent acquiring.
fn forced_switches(switch_interval: Duration, tick_iters: u64, iters: u64) -> Duration {
    let gil = Gil::new(GilKind::New { switch_interval });
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut h = gil.acquire();
            let mut state = 1u64;
            while !stop.load(Ordering::Relaxed) {
                state = Kernel::Hash.advance(state, tick_iters);
                h.tick();
            }
            black_box(state);
        });
        let mut total = Duration::ZERO;
        // Wait until the holder has the GIL, so the first acquire contends.
        wait_for_switches(&gil, 1);
        for _ in 0..iters {
            let start = Instant::now();
            let h = gil.acquire();
            total += start.elapsed();
            let mine = gil.switches();
            drop(h);
            // The holder takes the GIL back before the next timed acquire.
            wait_for_switches(&gil, mine + 1);
        }
        stop.store(true, Ordering::Relaxed);
        total
    })
}

fn wait_for_switches(gil: &Gil, n: u64) {
    while gil.switches() < n {
        std::thread::yield_now();
    }
}

fn main() {
    common::init();
    let mut c = Criterion::default().configure_from_args();
    threads(&mut c);
    processes(&mut c);
    per_task(&mut c);
    gil_handoff(&mut c);
    c.final_summary();
}
