//! `sequential`: the baseline. One task after another on the calling thread.

use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord};
use crate::workload::{NoGil, blocking};
use std::time::Instant;

pub struct Sequential;

impl Model for Sequential {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        let start = Instant::now();
        let mut records = Vec::with_capacity(batch.tasks.len());
        for task in batch.tasks {
            if Instant::now() >= batch.deadline {
                return Err(ModelError::TimedOut(start.elapsed()));
            }
            if batch.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(ModelError::Cancelled);
            }
            let output = blocking::execute(task, &mut NoGil).map_err(ModelError::Task)?;
            records.push(TaskRecord {
                output,
                latency: start.elapsed(),
            });
        }
        Ok(BatchOutcome {
            records,
            wall: start.elapsed(),
            ..BatchOutcome::default()
        })
    }
}
