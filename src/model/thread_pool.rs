//! `thread-pool`: `workers` long-lived threads fed through a crossbeam
//! channel, with the semantics of Python's ThreadPoolExecutor: `submit`
//! returns a handle to wait on, `map` keeps the order of its inputs, and
//! `shutdown(wait)` drains the queue (or abandons it) and joins the threads.

use super::pool::{Handle, handle, wait_all};
use super::{Batch, BatchOutcome, Model, ModelError, TaskRecord};
use crate::gil::Gil;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

type Job = Box<dyn FnOnce() + Send>;

pub struct ThreadPool {
    jobs: Option<crossbeam_channel::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl ThreadPool {
    /// Starts `n` threads; they block on the queue until jobs come.
    pub fn new(n: usize) -> std::io::Result<ThreadPool> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let threads = (0..n.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("pool-{i}"))
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(ThreadPool {
            jobs: Some(tx),
            threads,
        })
    }

    pub fn submit<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        let (tx, h) = handle();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        if let Some(jobs) = &self.jobs {
            // The receivers live as long as the threads, which outlive `self.jobs`.
            let _ = jobs.send(job);
        }
        h
    }

    /// Runs `f` over `items` and returns the results in the order of `items`,
    /// whatever order they finish in.
    pub fn map<I, T>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: impl Fn(I) -> T + Send + Sync + Clone + 'static,
        batch: &Batch,
        started: Instant,
    ) -> Result<Vec<T>, ModelError>
    where
        I: Send + 'static,
        T: Send + 'static,
    {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.submit(move || f(item))
            })
            .collect();
        wait_all(&handles, batch, started)
    }

    /// Stops taking jobs. With `wait`, runs what is queued and joins every
    /// thread; without, threads finish their current job and exit on their own.
    pub fn shutdown(mut self, wait: bool) {
        self.jobs = None;
        if wait {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

pub struct ThreadPoolModel;

impl Model for ThreadPoolModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        let boot = Instant::now();
        let pool = ThreadPool::new(batch.workers).map_err(|e| ModelError::Setup(e.into()))?;
        let startup = boot.elapsed();
        // One GIL shared by the whole pool, as in one CPython interpreter.
        let gil = batch.gil.map(|k| Arc::new(Gil::new(k)));
        let shared = gil.clone();
        let start = Instant::now();
        let results = pool.map(
            batch.tasks.to_vec(),
            move |task| (super::run_task(&task, shared.as_deref()), Instant::now()),
            batch,
            start,
        );
        let wall = start.elapsed();
        // On a timeout the queue is abandoned; threads end after their job.
        pool.shutdown(results.is_ok());
        let records = results?
            .into_iter()
            .map(|(out, at)| TaskRecord::new(out, at, start))
            .collect::<Result<_, ModelError>>()?;
        Ok(BatchOutcome {
            records,
            wall,
            startup: Some(startup),
            gil: gil.map(|g| g.counters()),
            ..BatchOutcome::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    fn batch(cancel: &AtomicBool) -> Batch<'_> {
        Batch {
            tasks: &[],
            workers: 2,
            deadline: Instant::now() + Duration::from_secs(30),
            cancel,
            gil: None,
            shape: None,
            switch_interval: Duration::from_millis(5),
            start: Default::default(),
        }
    }

    #[test]
    fn map_keeps_input_order_even_when_later_items_finish_first() {
        let pool = ThreadPool::new(4).unwrap();
        let cancel = AtomicBool::new(false);
        let out = pool
            .map(
                vec![40u64, 1, 20, 0],
                |ms| {
                    std::thread::sleep(Duration::from_millis(ms));
                    ms
                },
                &batch(&cancel),
                Instant::now(),
            )
            .unwrap();
        assert_eq!(out, vec![40, 1, 20, 0]);
        pool.shutdown(true);
    }

    #[test]
    fn shutdown_with_wait_drains_the_queue() {
        let pool = ThreadPool::new(1).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let done = done.clone();
                pool.submit(move || done.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
            })
            .collect();
        pool.shutdown(true);
        assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 10);
        assert!(handles.iter().all(|h| h.try_result().is_some()));
    }

    #[test]
    fn a_handle_times_out_at_the_deadline() {
        let pool = ThreadPool::new(1).unwrap();
        let cancel = AtomicBool::new(false);
        let h = pool.submit(|| std::thread::sleep(Duration::from_millis(300)));
        let b = Batch {
            deadline: Instant::now() + Duration::from_millis(20),
            ..batch(&cancel)
        };
        assert!(matches!(
            h.wait(&b, Instant::now()),
            Err(ModelError::TimedOut(_))
        ));
        pool.shutdown(true);
    }
}
