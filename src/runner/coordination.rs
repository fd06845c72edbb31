//! The runner's part of the lock workload: the units of a point, a fresh
//! board per batch with what the model decides (whose locks, how many
//! units run at once), the batch-level checks (the counter must come out
//! exact under a lock, a semaphore must hold its bound), and the figures
//! summed over a case's repetitions (sections per second, waits, fairness,
//! lost updates). The same for the queue workload: its producers and
//! consumers, a board and FIFO per batch, every item once, items per
//! second and latencies.

use crate::model::{BatchOutcome, ModelId, ModelKind};
use crate::plan::Point;
use crate::results::{LockStats, Percentiles, QueueStats};
use crate::stats;
use crate::workload::lock::{
    LockBoard, LockBoardRef, LockOutput, LockShape, LockStep, Primitive, Scope, WaitHistogram,
    board::Setup,
};
use crate::workload::queue::board::Setup as QueueSetup;
use crate::workload::queue::{QueueBoard, QueueBoardRef, QueueOutput, QueueShape, QueueStep};
use crate::workload::{Kernel, Step, Task};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A lock point's units, one task each, all on one board in `scratch`.
pub fn lock_tasks(
    point: &Point,
    lock: &LockShape,
    kernel: Kernel,
    (iters_per_ms, slice_iters): (f64, u64),
    scratch: &Path,
    limit: Duration,
) -> Vec<Task> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let iters = |us: f64| (us / 1e3 * iters_per_ms).round() as u64;
    let step = LockStep {
        primitive: lock.primitive,
        depth: lock.depth,
        sections: lock.sections,
        kernel,
        hold_iters: iters(lock.hold_us),
        outside_iters: iters(lock.outside_us),
        slice_iters,
        deadlock: lock.deadlock,
        board: LockBoardRef {
            path: scratch.join(format!(
                "lock-board-{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            )),
            units: point.tasks as u32,
            limit_ms: limit.as_millis() as u64,
        },
    };
    (0..point.tasks)
        .map(|idx| Task {
            idx: idx as u32,
            steps: vec![Step::Lock(step.clone())],
            releases_gil: false,
        })
        .collect()
}

fn lock_step(tasks: &[Task]) -> Option<&LockStep> {
    tasks.iter().find_map(|t| {
        t.steps.iter().find_map(|s| match s {
            Step::Lock(l) => Some(l),
            _ => None,
        })
    })
}

/// A fresh board for one batch of `model`, when the tasks are lock units:
/// processes share POSIX semaphores in it, threads and tasks of one process
/// their own locks; the sequential models run one unit at a time, so their
/// units do not wait for each other at the start.
pub fn create_board(
    tasks: &[Task],
    model: ModelId,
    permits: u32,
) -> anyhow::Result<Option<LockBoard>> {
    let Some(step) = lock_step(tasks) else {
        return Ok(None);
    };
    let serial = matches!(
        model.kind,
        ModelKind::Sequential | ModelKind::CpythonSequential
    );
    let setup = Setup {
        units: step.board.units,
        barrier: if serial { 1 } else { step.board.units },
        scope: if model.kind.uses_processes() && !model.kind.is_cpython() {
            Scope::Shared
        } else {
            Scope::Process
        },
        permits,
    };
    LockBoard::create(&step.board.path, setup).map(Some)
}

fn outputs(outcome: &BatchOutcome) -> impl Iterator<Item = &LockOutput> {
    outcome
        .records
        .iter()
        .filter_map(|r| r.output.lock.as_deref())
}

/// The batch-level checks: under a lock the counter equals the sections
/// done; a semaphore never let more than its permits in. `none` may lose
/// updates: that is reported, not failed.
pub fn check(outcome: &BatchOutcome, shape: &LockShape) -> Result<(), String> {
    let done: u64 = outputs(outcome).map(|o| o.sections).sum();
    let counter = outputs(outcome).find_map(|o| o.counter);
    if shape.primitive.protects() {
        match counter {
            Some(c) if c == done => {}
            Some(c) => {
                return Err(format!(
                    "the counter reads {c} after {done} critical sections under a {}: the lock let updates be lost",
                    shape.primitive.id()
                ));
            }
            None => return Err("no unit reported the counter at the end".into()),
        }
    }
    if let Some(most) = outputs(outcome).find_map(|o| o.most_inside)
        && shape.primitive == Primitive::Semaphore
        && most > u64::from(shape.permits)
    {
        return Err(format!(
            "{most} units were inside a semaphore of {} permits at once",
            shape.permits
        ));
    }
    Ok(())
}

/// A lock case's figures as its repetitions accumulate.
#[derive(Debug, Default)]
pub struct LockAcc {
    sections_per_s: Vec<f64>,
    waits: WaitHistogram,
    fairness: Vec<(f64, f64)>,
    lost: Vec<u64>,
    most_inside: Option<u64>,
}

impl LockAcc {
    /// Adds one measured batch.
    pub fn record(&mut self, outcome: &BatchOutcome, shape: &LockShape) {
        let outs: Vec<&LockOutput> = outputs(outcome).collect();
        if outs.is_empty() {
            return;
        }
        let done: u64 = outs.iter().map(|o| o.sections).sum();
        let start = outs.iter().map(|o| o.start_ns).min().unwrap_or(0);
        let end = outs.iter().map(|o| o.end_ns).max().unwrap_or(0);
        if end > start {
            self.sections_per_s
                .push(done as f64 / ((end - start) as f64 / 1e9));
        }
        for o in &outs {
            self.waits.merge(&o.waits);
        }
        let per_unit = shape.sections.max(1) as f64;
        if let Some(o) = outs.iter().find(|o| !o.at_first_finish.is_empty()) {
            let min = o.at_first_finish.iter().min().copied().unwrap_or(0);
            let max = o.at_first_finish.iter().max().copied().unwrap_or(0);
            self.fairness
                .push((min as f64 / per_unit, max as f64 / per_unit));
        }
        if let Some(c) = outs.iter().find_map(|o| o.counter) {
            self.lost.push(done.saturating_sub(c));
        }
        if let Some(m) = outs.iter().find_map(|o| o.most_inside) {
            self.most_inside = Some(self.most_inside.map_or(m, |n| n.max(m)));
        }
    }
}

/// A lock point's record in results.
pub fn stats(point: &Point, acc: &LockAcc) -> Option<LockStats> {
    let lock = point.shape.lock?;
    let wait_ms = percentiles(&acc.waits);
    let fairness = |pick: fn(&(f64, f64)) -> f64| {
        stats::median(&acc.fairness.iter().map(pick).collect::<Vec<_>>())
    };
    Some(LockStats {
        primitive: lock.primitive.id().to_owned(),
        deadlock: lock.deadlock.map(|d| d.id().to_owned()),
        units: point.tasks,
        sections_per_unit: lock.sections,
        sections_per_s: stats::median_ci(&acc.sections_per_s),
        wait_ms,
        fairness_min: fairness(|f| f.0),
        fairness_max: fairness(|f| f.1),
        lost_updates: acc.lost.clone(),
        most_inside: (lock.primitive == Primitive::Semaphore)
            .then_some(acc.most_inside)
            .flatten(),
    })
}

/// A queue point's producers and consumers, one task each, on one board.
pub fn queue_tasks(
    point: &Point,
    shape: &QueueShape,
    scratch: &Path,
    limit: Duration,
) -> Vec<Task> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let step = QueueStep {
        shape: *shape,
        board: QueueBoardRef {
            path: scratch.join(format!(
                "queue-board-{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            )),
            limit_ms: limit.as_millis() as u64,
        },
    };
    (0..point.tasks)
        .map(|idx| Task {
            idx: idx as u32,
            steps: vec![Step::Queue(step.clone())],
            releases_gil: false,
        })
        .collect()
}

/// A fresh queue board for one batch of `model`: processes share the FIFO
/// and its semaphores, the units of one process a queue of their own kind.
pub fn create_queue_board(tasks: &[Task], model: ModelId) -> anyhow::Result<Option<QueueBoard>> {
    let Some(step) = tasks.iter().find_map(|t| {
        t.steps.iter().find_map(|s| match s {
            Step::Queue(q) => Some(q),
            _ => None,
        })
    }) else {
        return Ok(None);
    };
    let setup = QueueSetup {
        producers: step.shape.producers,
        consumers: step.shape.consumers,
        capacity: step.shape.capacity,
        shared: model.kind.uses_processes() && !model.kind.is_cpython(),
    };
    QueueBoard::create(&step.board, setup).map(Some)
}

fn queue_outputs(outcome: &BatchOutcome) -> impl Iterator<Item = &QueueOutput> {
    outcome
        .records
        .iter()
        .filter_map(|r| r.output.queue.as_deref())
}

/// Every item arrived exactly once: the consumers got `items` items whose
/// hashes sum to every item's.
pub fn check_queue(outcome: &BatchOutcome, shape: &QueueShape) -> Result<(), String> {
    let consumers: Vec<&QueueOutput> = queue_outputs(outcome).filter(|o| !o.producer).collect();
    let got: u64 = consumers.iter().map(|o| o.items).sum();
    let sum = consumers
        .iter()
        .fold(0u64, |acc, o| acc.wrapping_add(o.sum));
    if got != shape.items {
        return Err(format!(
            "the consumers got {got} items of {}: items were lost or delivered twice",
            shape.items
        ));
    }
    if sum != crate::workload::queue::expected_sum(shape) {
        return Err(format!(
            "the consumers got {got} items, but not each item once (their checksum differs)"
        ));
    }
    Ok(())
}

/// A queue case's figures as its repetitions accumulate.
#[derive(Debug, Default)]
pub struct QueueAcc {
    items_per_s: Vec<f64>,
    latency: WaitHistogram,
}

impl QueueAcc {
    pub fn record(&mut self, outcome: &BatchOutcome) {
        let outs: Vec<&QueueOutput> = queue_outputs(outcome).collect();
        let start = outs.iter().filter(|o| o.producer).map(|o| o.start_ns).min();
        let end = outs.iter().filter(|o| !o.producer).map(|o| o.end_ns).max();
        let got: u64 = outs.iter().filter(|o| !o.producer).map(|o| o.items).sum();
        if let (Some(start), Some(end)) = (start, end)
            && end > start
        {
            self.items_per_s
                .push(got as f64 / ((end - start) as f64 / 1e9));
        }
        for o in &outs {
            self.latency.merge(&o.latency);
        }
    }
}

/// A queue point's record in results; `cpu_s` is the case's median CPU
/// time per repetition.
pub fn queue_stats(point: &Point, acc: &QueueAcc, cpu_s: Option<f64>) -> Option<QueueStats> {
    let q = point.shape.queue?;
    Some(QueueStats {
        producers: q.producers,
        consumers: q.consumers,
        capacity: q.capacity,
        item_bytes: q.item_bytes,
        items: q.items,
        semantics: q.semantics.id().to_owned(),
        daemon: q.daemon,
        items_per_s: stats::median_ci(&acc.items_per_s),
        samples_items_per_s: acc.items_per_s.clone(),
        latency_ms: percentiles(&acc.latency),
        cpu_us_per_item: cpu_s.map(|s| s * 1e6 / q.items.max(1) as f64),
    })
}

fn percentiles(h: &WaitHistogram) -> Option<Percentiles> {
    let ms = |q: f64| h.quantile_ns(q).map(|ns| ns / 1e6);
    Some(Percentiles {
        p50: ms(0.5)?,
        p90: ms(0.9)?,
        p99: ms(0.99)?,
        max: ms(1.0)?,
    })
}
