//! `process-pool`: `workers` pre-started worker processes fed over pipes,
//! with the semantics of Python's ProcessPoolExecutor: `submit` returns a
//! handle, `map` keeps input order, `shutdown(wait)` drains the queue or
//! kills the workers. Each worker has a feeder thread that owns its pipes and
//! hands it one job at a time. Pool start-up (spawn until every worker said
//! `ready`) is measured apart from the batch.

use super::child::{Finished, LiveChildren};
use super::pool::{Handle, handle, wait_all};
use super::start;
use super::worker::{Job, Reply};
use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord, recv_until};
use crate::measure::{ChildUsage, PssSampler};
use crate::results::GilCounters;
use std::time::{Duration, Instant};

/// A reply and when it arrived, or why the worker gave none.
pub type JobResult = Result<(Reply, Instant), String>;
type Queued = (Job, crossbeam_channel::Sender<JobResult>);

pub struct ProcessPool {
    jobs: Option<crossbeam_channel::Sender<Queued>>,
    finished: crossbeam_channel::Receiver<Finished>,
    live: LiveChildren,
    n_workers: usize,
    n_finished: usize,
    children: ChildUsage,
    /// Why the last worker that died without answering died.
    death: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl ProcessPool {
    /// Starts `n` workers by the batch's start method and waits until each
    /// is ready (or `deadline`). Call it from a thread that outlives the
    /// pool (see `child::spawn`).
    pub fn start(n: usize, batch: &Batch) -> Result<ProcessPool, ModelError> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Queued>();
        let (finished_tx, finished_rx) = crossbeam_channel::unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<bool>();
        let mut pool = ProcessPool {
            jobs: Some(jobs_tx),
            finished: finished_rx,
            live: LiveChildren::default(),
            n_workers: 0,
            n_finished: 0,
            children: ChildUsage::default(),
            death: Default::default(),
        };
        let started = Instant::now();
        for _ in 0..n.max(1) {
            let mut worker = start::worker(batch.start.method, true, &pool.live)
                .map_err(|e| ModelError::Setup(e.into()))?;
            pool.n_workers += 1;
            let (jobs_rx, finished_tx, ready_tx) =
                (jobs_rx.clone(), finished_tx.clone(), ready_tx.clone());
            let live = pool.live.clone();
            let death = pool.death.clone();
            std::thread::Builder::new()
                .name(format!("feeder-{}", worker.pid))
                .spawn(move || {
                    let ready = worker.read_line().is_ok();
                    let _ = ready_tx.send(ready);
                    let mut broken = None;
                    if ready {
                        for (job, reply_tx) in jobs_rx.iter() {
                            match worker.send(&job).and_then(|()| worker.recv()) {
                                Ok(reply) => {
                                    let _ = reply_tx.send(Ok((reply, Instant::now())));
                                }
                                Err(_) => {
                                    broken = Some(reply_tx);
                                    break;
                                }
                            }
                        }
                    }
                    let finished = worker.finish(&live);
                    if let Some(reply_tx) = broken {
                        let why = finished.describe();
                        *death.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                        let _ = reply_tx.send(Err(why));
                    }
                    // The queue disconnects when the last feeder lets go of
                    // it, and a caller waiting on a queued job then asks
                    // `death` why: so only after it is written.
                    drop(jobs_rx);
                    let _ = finished_tx.send(finished);
                })
                .map_err(|e| ModelError::Setup(e.into()))?;
        }
        for _ in 0..pool.n_workers {
            if !recv_until(&ready_rx, batch, started)? {
                return Err(ModelError::Worker(
                    "a pool worker died before it was ready".into(),
                ));
            }
        }
        Ok(pool)
    }

    pub fn submit(&self, job: Job) -> Handle<JobResult> {
        let (tx, h) = handle();
        if let Some(jobs) = &self.jobs {
            // Fails only when every feeder has ended; the handle then reports it.
            let _ = jobs.send((job, tx));
        }
        h
    }

    /// Submits every job and returns the results in the order of `jobs`.
    pub fn map(
        &self,
        jobs: impl IntoIterator<Item = Job>,
        batch: &Batch,
        started: Instant,
    ) -> Result<Vec<JobResult>, ModelError> {
        let handles: Vec<_> = jobs.into_iter().map(|j| self.submit(j)).collect();
        wait_all(&handles, batch, started).map_err(|e| match e {
            // Every worker is gone: say what killed them, not only that.
            ModelError::Worker(_) => {
                match self.death.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                    Some(why) => ModelError::Worker(why),
                    None => e,
                }
            }
            e => e,
        })
    }

    /// Stops taking jobs and reaps every worker. With `wait`, workers finish
    /// the queue first (bounded by `grace`); without, they are killed now.
    /// Returns the workers' usage.
    pub fn shutdown(mut self, wait: bool, grace: Duration) -> ChildUsage {
        self.close(wait, grace);
        std::mem::take(&mut self.children)
    }

    fn close(&mut self, wait: bool, grace: Duration) {
        self.jobs = None;
        if !wait {
            self.live.kill_all();
        }
        let deadline = Instant::now() + grace;
        while self.n_finished < self.n_workers {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .finished
                .recv_timeout(left.max(Duration::from_millis(1)))
            {
                Ok(f) => {
                    self.children.add(&f.usage);
                    self.n_finished += 1;
                }
                Err(_) if !self.live.is_empty() && left > Duration::ZERO => {}
                Err(_) => {
                    // Past the grace period: kill what is left and reap it.
                    self.live.kill_all();
                    if let Ok(f) = self.finished.recv_timeout(Duration::from_secs(5)) {
                        self.children.add(&f.usage);
                        self.n_finished += 1;
                    } else {
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        if self.n_finished < self.n_workers {
            self.close(false, Duration::from_secs(5));
        }
    }
}

pub struct ProcessPoolModel;

impl Model for ProcessPoolModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        // The parent's memory in place and the fork server up, off the clock.
        let _parent = start::prepare(batch.start).map_err(|e| ModelError::Setup(e.into()))?;
        let boot = Instant::now();
        let pool = ProcessPool::start(batch.workers, batch)?;
        let startup = boot.elapsed();
        let sampler = {
            let live = pool.live.clone();
            PssSampler::start(move || live.pids())
        };
        let start = Instant::now();
        let jobs = batch.tasks.iter().map(|t| Job {
            task: t.clone(),
            gil: batch.gil,
        });
        let results = pool.map(jobs, batch, start);
        let wall = start.elapsed();
        // Its last pass sees every worker alive, before the shutdown.
        let children_peak_pss = sampler.finish();
        let children = pool.shutdown(results.is_ok(), Duration::from_secs(5));
        let mut gil = batch.gil.map(|_| GilCounters::default());
        let records = results?
            .into_iter()
            .map(|r| {
                let (reply, at) = r.map_err(ModelError::Worker)?;
                let output = match reply {
                    Reply::Done { output, gil: g } => {
                        if let (Some(total), Some(g)) = (gil.as_mut(), g) {
                            total.add(&g);
                        }
                        output
                    }
                    Reply::Failed(msg) => return Err(ModelError::Task(anyhow::anyhow!(msg))),
                };
                Ok(TaskRecord {
                    output,
                    latency: at - start,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(BatchOutcome {
            records,
            wall,
            startup: Some(startup),
            live_children: batch.workers,
            children_peak_pss,
            children,
            gil,
            ..BatchOutcome::default()
        })
    }
}
