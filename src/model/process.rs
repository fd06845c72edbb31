//! `process`: one child process per task (Python's multiprocessing.Process),
//! started by the batch's start method (`start.rs`: spawn starts a fresh
//! `parabench-worker`, fork and forkserver clone a fork server), the
//! task sent over its stdin, the result read from its stdout, the child
//! reaped with wait4. At most `workers` children are alive at once, all
//! watched from the calling thread (`child_set`).

use super::child::{Finished, LiveChildren};
use super::child_set::ChildSet;
use super::start;
use super::worker::{Job, Reply};
use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord};
use crate::measure::{ChildUsage, PssSampler};
use crate::results::GilCounters;
use std::time::{Duration, Instant};

pub struct ProcessPerTask;

impl Model for ProcessPerTask {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        // The parent's memory in place and the fork server up, off the clock.
        let _parent = start::prepare(batch.start).map_err(|e| ModelError::Setup(e.into()))?;
        let live = LiveChildren::default();
        let sampler = {
            let live = live.clone();
            PssSampler::start(move || live.pids())
        };
        let start = Instant::now();
        let mut children = ChildUsage::default();
        let mut gil = batch.gil.map(|_| GilCounters::default());
        let mut records = Vec::with_capacity(batch.tasks.len());
        // Watched from this thread alone (see child_set).
        let mut in_flight = ChildSet::default();
        let mut next = 0;
        let result = (|| {
            while records.len() < batch.tasks.len() {
                while in_flight.len() < batch.workers && next < batch.tasks.len() {
                    // Started here, on the long-lived calling thread (see
                    // child::spawn), its job sent and its stdin closed.
                    let job = Job {
                        task: batch.tasks[next].clone(),
                        gil: batch.gil,
                    };
                    let worker = start::one_shot(batch.start.method, &job, &live)
                        .map_err(|e| ModelError::Setup(e.into()))?;
                    next += 1;
                    in_flight.push(worker);
                }
                let (reply, at, finished) = in_flight.next_done(&live, batch, start)?;
                children.add(&finished.usage);
                records.push(TaskRecord {
                    output: into_output(reply, &finished, gil.as_mut())?,
                    latency: at - start,
                });
            }
            Ok(())
        })();
        let wall = start.elapsed();
        let children_peak_pss = sampler.finish();
        if result.is_err() {
            live.kill_all();
        }
        // Every child is reaped before returning, also after an error; killed
        // children end at once, so this wait is short, yet still bounded.
        for usage in in_flight.drain(&live, Duration::from_secs(10)) {
            children.add(&usage);
        }
        result?;
        Ok(BatchOutcome {
            records,
            wall,
            live_children: batch.workers.min(batch.tasks.len()),
            children_peak_pss,
            children,
            gil,
            ..BatchOutcome::default()
        })
    }
}

/// A reply, or the reason the worker gave none (its exit status and stderr).
fn into_output(
    reply: std::io::Result<Reply>,
    finished: &Finished,
    gil_total: Option<&mut GilCounters>,
) -> Result<crate::workload::TaskOutput, ModelError> {
    match reply {
        Ok(Reply::Done { output, gil }) => {
            if let (Some(total), Some(g)) = (gil_total, gil) {
                total.add(&g);
            }
            Ok(output)
        }
        Ok(Reply::Failed(msg)) => Err(ModelError::Task(anyhow::anyhow!(msg))),
        Err(_) => Err(ModelError::Worker(finished.describe())),
    }
}
