//! `async` and `async-single`: tokio tasks, at most `workers` in flight
//! (a semaphore, like asyncio code that bounds its concurrency). `async` uses
//! the multi-threaded runtime with one thread per core (at most `workers`);
//! `async-single` a current-thread runtime, the asyncio/gevent analogue.
//! Runtime start-up is measured apart from the batch.

use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord};
use crate::workload::{TaskOutput, aio};
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

        let start = Instant::now();
        let outcome = runtime.block_on(run_batch(batch, start));
        // A timed-out batch may leave tasks running; do not wait for them.
        runtime.shutdown_timeout(Duration::from_millis(100));
        let records = outcome?;
        Ok(BatchOutcome {
            records,
            wall: start.elapsed(),
            startup: Some(startup),
            ..BatchOutcome::default()
        })
    }
}

async fn run_batch(batch: &Batch<'_>, start: Instant) -> Result<Vec<TaskRecord>, ModelError> {
    let permits = Arc::new(tokio::sync::Semaphore::new(batch.workers));
    let mut set = tokio::task::JoinSet::new();
    for task in batch.tasks {
        let task = task.clone();
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let out: anyhow::Result<TaskOutput> = aio::execute(&task, &aio::Inline).await;
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
                Some(Ok((out, at))) => records.push(TaskRecord {
                    output: out.map_err(ModelError::Task)?,
                    latency: at - start,
                }),
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
