//! `thread`: one OS thread per task, started for the task and joined after
//! it, with at most `workers` alive at once (a new one starts as one ends).
//! The threads are bare pthreads (`os_thread`), which cost half what
//! std::thread's do here.

use super::os_thread::{self, OsThread};
use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord, recv_until};
use crate::gil::Gil;
use crate::workload::TaskOutput;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

pub struct ThreadPerTask;

impl Model for ThreadPerTask {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        let gil = batch.gil.map(|k| Arc::new(Gil::new(k)));
        let start = Instant::now();
        let (done_tx, done_rx) =
            crossbeam_channel::unbounded::<(usize, anyhow::Result<TaskOutput>, Instant)>();
        let mut handles: Vec<Option<OsThread>> = Vec::new();
        let mut records = Vec::with_capacity(batch.tasks.len());
        let mut next = 0;
        let mut in_flight = 0;
        while records.len() < batch.tasks.len() {
            while in_flight < batch.workers && next < batch.tasks.len() {
                let task = batch.tasks[next].clone();
                let tx = done_tx.clone();
                let gil = gil.clone();
                let slot = next;
                let handle = os_thread::spawn(move || {
                    let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        super::run_task(&task, gil.as_deref())
                    }))
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the task's thread panicked")));
                    let _ = tx.send((slot, out, Instant::now()));
                })
                .map_err(|e| ModelError::Setup(e.into()))?;
                handles.push(Some(handle));
                next += 1;
                in_flight += 1;
            }
            // A thread that outlives its deadline cannot be killed; it is
            // detached and ends on its own (every IO step has a timeout).
            let (slot, out, at) = recv_until(&done_rx, batch, start)?;
            if let Some(h) = handles[slot].take() {
                // It has sent its result and is ending.
                let _ = h.join_until(batch.deadline);
            }
            in_flight -= 1;
            records.push(TaskRecord::new(out, at, start)?);
        }
        Ok(BatchOutcome {
            records,
            wall: start.elapsed(),
            gil: gil.map(|g| g.counters()),
            ..BatchOutcome::default()
        })
    }
}
