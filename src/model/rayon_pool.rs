//! `rayon`: the same tasks on rayon's work-stealing pool with `workers`
//! threads, as the Rust-native reference. The pool is built per batch and its
//! start-up is measured apart from the batch.

use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord, recv_until};
use crate::workload::{NoGil, blocking};
use rayon::prelude::*;
use std::time::Instant;

pub struct RayonModel;

impl Model for RayonModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        let boot = Instant::now();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(batch.workers)
            .build()
            .map_err(|e| ModelError::Setup(e.into()))?;
        // rayon starts its threads lazily; one broadcast makes them all run.
        pool.broadcast(|_| ());
        let startup = boot.elapsed();

        // rayon cannot be interrupted, so it runs on a thread of its own and
        // this one waits with the deadline; a batch that times out is left
        // to finish in the background.
        let tasks = batch.tasks.to_vec();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let start = Instant::now();
        std::thread::Builder::new()
            .name("rayon-batch".into())
            .spawn(move || {
                let results: Vec<_> = pool.install(|| {
                    tasks
                        .par_iter()
                        .with_max_len(1)
                        .map(|t| (blocking::execute(t, &mut NoGil), Instant::now()))
                        .collect()
                });
                let _ = tx.send(results);
            })
            .map_err(|e| ModelError::Setup(e.into()))?;
        let results = recv_until(&rx, batch, start)?;
        let wall = start.elapsed();
        let records = results
            .into_iter()
            .map(|(out, at)| TaskRecord::new(out, at, start))
            .collect::<Result<_, ModelError>>()?;
        Ok(BatchOutcome {
            records,
            wall,
            startup: Some(startup),
            ..BatchOutcome::default()
        })
    }
}
