//! `async` and `async-single`: tokio tasks, at most `workers` in flight
//! (a semaphore, like asyncio code that bounds its concurrency). `async` uses
//! the multi-threaded runtime with one thread per core (at most `workers`);
//! `async-single` a current-thread runtime, the asyncio/gevent analogue.
//! Runtime start-up is measured apart from the batch.

use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord};
use crate::gil::Gil;
use crate::workload::{Interpreter, Kernel, Task, TaskOutput, aio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub struct AsyncModel {
    pub single: bool,
}

impl Model for AsyncModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        let boot = Instant::now();
        let runtime = if self.single {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(batch.workers.min(super::num_cpus()).max(1))
                .enable_all()
                .build()
        }
        .map_err(|e| ModelError::Setup(e.into()))?;
        let startup = boot.elapsed();

        let gil = batch.gil.map(|k| Arc::new(Gil::new(k)));
        let start = Instant::now();
        let outcome = runtime.block_on(run_batch(batch, start, gil.clone()));
        // A timed-out batch may leave tasks running; do not wait for them.
        runtime.shutdown_timeout(Duration::from_millis(100));
        let records = outcome?;
        Ok(BatchOutcome {
            records,
            wall: start.elapsed(),
            startup: Some(startup),
            gil: gil.map(|g| g.counters()),
            ..BatchOutcome::default()
        })
    }
}

/// Under `async+gil`, a CPU step takes the GIL for its duration (there is no
/// `.await` inside one) and ticks between slices; awaits happen without it.
struct GilCpu(Arc<Gil>);

impl aio::CpuStep for GilCpu {
    fn run(&self, task: &Task, kernel: Kernel, iters: u64, slice_iters: u64) -> u64 {
        let mut holder = self.0.acquire();
        let mut between = || holder.between_slices();
        crate::workload::blocking::cpu_step(task.idx, kernel, iters, slice_iters, &mut between)
    }

    fn spin(
        &self,
        task: &Task,
        kernel: Kernel,
        iters: (u64, u64),
        board: &crate::workload::BoardRef,
    ) -> anyhow::Result<u64> {
        crate::workload::blocking::spin(&mut self.0.acquire(), task, kernel, iters, board)
    }
}

async fn run_batch(
    batch: &Batch<'_>,
    start: Instant,
    gil: Option<Arc<Gil>>,
) -> Result<Vec<TaskRecord>, ModelError> {
    let permits = Arc::new(tokio::sync::Semaphore::new(batch.workers));
    let mut set = tokio::task::JoinSet::new();
    for task in batch.tasks {
        let task = task.clone();
        let permits = permits.clone();
        let gil = gil.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let out: anyhow::Result<TaskOutput> = match gil {
                Some(gil) => aio::execute(&task, &GilCpu(gil)).await,
                None => aio::execute(&task, &aio::Inline).await,
            };
            (out, Instant::now())
        });
    }
    let mut records = Vec::with_capacity(batch.tasks.len());
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    let deadline = tokio::time::Instant::from_std(batch.deadline);
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                None => return Ok(records),
                Some(Ok((out, at))) => records.push(TaskRecord::new(out, at, start)?),
                Some(Err(e)) => return Err(ModelError::Task(e.into())),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(ModelError::TimedOut(start.elapsed()));
            }
            _ = ticker.tick() => {
                if batch.cancel.load(Ordering::Relaxed) {
                    return Err(ModelError::Cancelled);
                }
            }
        }
    }
}
