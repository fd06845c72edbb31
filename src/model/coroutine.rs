//! The stackful-coroutine models' shared part: one scheduler thread (the
//! calling one) running each task as a corosensei coroutine, at most
//! `workers` alive, round-robin over the ready ones. A coroutine yields a
//! `Wait`: ready again at once (an explicit switch, `greenlet`), at a time
//! (a sleep as a timer, `gevent`), or when a file descriptor is ready (a
//! socket that would block, `gevent`, through epoll). `greenlet.rs` and
//! `gevent.rs` say what their tasks do; this file only schedules.

use super::{Batch, ModelError, TaskRecord};
use crate::cpython::{CpythonModel, PythonInfo};
use crate::workload::{Task, TaskOutput};
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Bytes reserved for each coroutine's stack, as the `coroutine` workload
/// measures it (`crate::coroutine`).
pub use crate::coroutine::STACK_BYTES;

/// What a suspended coroutine waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Nothing: run again after the other ready ones (an explicit switch).
    Ready,
    /// A timer: run again at this time.
    Until(Instant),
    /// Run again when `fd` has one of `events` (EPOLLIN, EPOLLOUT).
    Fd(RawFd, u32),
}

pub type TaskDone = (anyhow::Result<TaskOutput>, Instant);
pub type Green = Coroutine<(), Wait, TaskDone, DefaultStack>;
pub type GreenYielder = Yielder<(), Wait>;

/// Starts `task` as a coroutine running `body`.
pub fn spawn(
    task: Task,
    body: impl FnOnce(&GreenYielder, &Task) -> anyhow::Result<TaskOutput> + 'static,
) -> Result<Green, ModelError> {
    let stack = DefaultStack::new(STACK_BYTES).map_err(|e| ModelError::Setup(e.into()))?;
    Ok(Coroutine::with_stack(stack, move |y: &GreenYielder, ()| {
        let out = body(y, &task);
        (out, Instant::now())
    }))
}

/// An epoll instance, closed when dropped.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> Result<Epoll, ModelError> {
        // SAFETY: epoll_create1 takes no pointer; a non-negative result is a
        // new descriptor that only this value owns.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(ModelError::Setup(std::io::Error::last_os_error().into()));
        }
        // SAFETY: see above.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Waits once for `fd`: added with EPOLLONESHOT, so it fires once; the
    /// scheduler deletes it after, as the coroutine may close it.
    fn add(&self, fd: RawFd, events: u32, id: usize) -> std::io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events | libc::EPOLLONESHOT as u32,
            u64: id as u64,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        let rc = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn delete(&self, fd: RawFd) {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// The ids whose descriptors became ready within `timeout`.
    fn wait(&self, timeout: Duration, out: &mut Vec<usize>) -> std::io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: `events` holds 64 entries, as passed.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), 64, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        out.extend(events[..n as usize].iter().map(|e| e.u64 as usize));
        Ok(())
    }
}

/// Runs the batch's tasks as coroutines made by `make`, at most `workers`
/// alive, until all have returned, the deadline passes or Ctrl-C comes
/// (the coroutines left are dropped, which unwinds their stacks and closes
/// their sockets).
pub fn run_batch(
    batch: &Batch,
    start: Instant,
    make: &dyn Fn(Task) -> Result<Green, ModelError>,
) -> Result<Vec<TaskRecord>, ModelError> {
    let n = batch.tasks.len();
    let epoll = Epoll::new()?;
    let mut slots: Vec<Option<Green>> = (0..n).map(|_| None).collect();
    let mut waiting_fd: Vec<Option<RawFd>> = vec![None; n];
    let mut ready = VecDeque::new();
    let mut timers: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let mut woken = Vec::new();
    let mut records = Vec::with_capacity(n);
    let (mut next, mut alive) = (0, 0);
    while records.len() < n {
        while alive < batch.workers && next < n {
            slots[next] = Some(make(batch.tasks[next].clone())?);
            ready.push_back(next);
            next += 1;
            alive += 1;
        }
        if batch.cancel.load(Ordering::Relaxed) {
            return Err(ModelError::Cancelled);
        }
        let now = Instant::now();
        if now >= batch.deadline {
            return Err(ModelError::TimedOut(now - start));
        }
        while let Some(&Reverse((at, id))) = timers.peek() {
            if at > now {
                break;
            }
            timers.pop();
            ready.push_back(id);
        }
        let Some(id) = ready.pop_front() else {
            // Nothing to run: wait in epoll for a socket, the next timer,
            // the deadline, or 50 ms (to see Ctrl-C).
            let mut until = batch.deadline.min(now + Duration::from_millis(50));
            if let Some(Reverse((at, _))) = timers.peek() {
                until = until.min(*at);
            }
            epoll
                .wait(until - now, &mut woken)
                .map_err(|e| ModelError::Worker(format!("epoll_wait: {e}")))?;
            for id in woken.drain(..) {
                if let Some(fd) = waiting_fd[id].take() {
                    epoll.delete(fd);
                    ready.push_back(id);
                }
            }
            continue;
        };
        let Some(co) = slots[id].as_mut() else {
            continue;
        };
        match co.resume(()) {
            CoroutineResult::Yield(Wait::Ready) => ready.push_back(id),
            CoroutineResult::Yield(Wait::Until(at)) => timers.push(Reverse((at, id))),
            CoroutineResult::Yield(Wait::Fd(fd, events)) => {
                epoll
                    .add(fd, events, id)
                    .map_err(|e| ModelError::Worker(format!("epoll_ctl: {e}")))?;
                waiting_fd[id] = Some(fd);
            }
            CoroutineResult::Return((out, at)) => {
                slots[id] = None;
                alive -= 1;
                records.push(TaskRecord::new(out, at, start)?);
            }
        }
    }
    Ok(records)
}

/// Skips a `cpython-greenlet`/`cpython-gevent` case with a notice where its
/// module does not import in `python` (never a failure).
pub fn python_module_or_skip(python: &PythonInfo, model: CpythonModel) -> Result<(), ModelError> {
    match crate::cpython::missing_module(python, model) {
        Some(why) => Err(ModelError::Skipped(why)),
        None => Ok(()),
    }
}

/// The steps a coroutine model runs, for its error on any other.
pub fn unsupported(model: &str, step: &crate::workload::Step) -> anyhow::Error {
    let what = match step {
        crate::workload::Step::Spin { .. } | crate::workload::Step::Probe { .. } => "convoy",
        crate::workload::Step::Lock(_) => "lock",
        crate::workload::Step::Queue(_) => "queue",
        _ => "this",
    };
    anyhow::anyhow!(
        "{model} does not run {what} steps: its tasks share one thread, and one that waits for another would hold it"
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Batch, Model, ModelError, Start, StartMethod};
    use crate::workload::{Kernel, Step, Task, echo, expected_checksum};
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    fn tasks(n: u32, steps: &[Step]) -> Vec<Task> {
        (0..n)
            .map(|idx| Task {
                idx,
                steps: steps.to_vec(),
                releases_gil: false,
            })
            .collect()
    }

    fn run(
        model: &dyn Model,
        tasks: &[Task],
        workers: usize,
        limit: Duration,
        gil: bool,
    ) -> Result<super::super::BatchOutcome, ModelError> {
        let cancel = AtomicBool::new(false);
        model.run(&Batch {
            tasks,
            workers,
            deadline: Instant::now() + limit,
            cancel: &cancel,
            gil: gil.then_some(crate::gil::GilKind::New {
                switch_interval: Duration::from_millis(5),
            }),
            shape: None,
            switch_interval: Duration::from_millis(5),
            start: Start {
                method: StartMethod::Spawn,
                parent_mib: 0,
            },
        })
    }

    fn checksums_match(out: &super::super::BatchOutcome, tasks: &[Task]) {
        assert_eq!(out.records.len(), tasks.len());
        for r in &out.records {
            let t = &tasks[r.output.idx as usize];
            assert_eq!(r.output.checksum, expected_checksum(t), "task {}", t.idx);
        }
    }

    #[test]
    fn both_models_reproduce_every_checksum_with_and_without_the_gil() {
        let server = echo::EchoServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let steps = [
            Step::Cpu {
                kernel: Kernel::Mandelbrot,
                iters: 3_000,
                slice_iters: 100,
            },
            Step::Sleep { us: 200 },
            Step::Socket {
                addr: server.addr(),
                round_trips: 3,
                message_bytes: 100,
                server_delay_us: 100,
            },
            Step::File {
                dir: dir.path().to_owned(),
                kib: 4,
            },
            Step::Touch { kib: 16 },
        ];
        let ts = tasks(6, &steps);
        for gil in [false, true] {
            for model in [
                &super::super::greenlet::GreenletModel as &dyn Model,
                &super::super::gevent::GeventModel,
            ] {
                let out = run(model, &ts, 4, Duration::from_secs(30), gil).unwrap();
                checksums_match(&out, &ts);
                assert_eq!(out.gil.is_some(), gil);
                // Three round trips each, every one timed.
                assert!(
                    out.records
                        .iter()
                        .all(|r| r.output.round_trips_ns.len() == 3)
                );
            }
        }
    }

    /// gevent overlaps sleeps on one thread; greenlet, whose sleeps block
    /// the thread, does not. Ratios with wide margins, never absolute times.
    #[test]
    fn gevent_overlaps_waits_and_greenlet_does_not() {
        let ts = tasks(8, &[Step::Sleep { us: 20_000 }]);
        let wall = |model: &dyn Model| {
            let out = run(model, &ts, 8, Duration::from_secs(30), false).unwrap();
            checksums_match(&out, &ts);
            out.wall.as_secs_f64()
        };
        let one = 0.020;
        let gevent = wall(&super::super::gevent::GeventModel);
        let greenlet = wall(&super::super::greenlet::GreenletModel);
        assert!(
            gevent < 4.0 * one,
            "gevent took {gevent}s for 8 overlapped 20 ms sleeps"
        );
        assert!(
            greenlet > 6.0 * one,
            "greenlet took {greenlet}s for 8 blocking 20 ms sleeps"
        );
        // At most `workers` alive: two at a time make four rounds.
        let out = run(
            &super::super::gevent::GeventModel,
            &ts,
            2,
            Duration::from_secs(30),
            false,
        )
        .unwrap();
        assert!(out.wall.as_secs_f64() > 3.5 * one, "{:?}", out.wall);
    }

    #[test]
    fn the_deadline_ends_a_batch_and_coordination_is_refused() {
        let ts = tasks(4, &[Step::Sleep { us: 2_000_000 }]);
        let started = Instant::now();
        let err = run(
            &super::super::gevent::GeventModel,
            &ts,
            4,
            Duration::from_millis(100),
            false,
        )
        .unwrap_err();
        assert!(matches!(err, ModelError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));

        let dir = tempfile::tempdir().unwrap();
        let board = crate::workload::BoardRef {
            path: dir.path().join("board"),
            cpu_tasks: 1,
            limit_ms: 1000,
        };
        let spin = tasks(
            1,
            &[Step::Spin {
                kernel: Kernel::Hash,
                chunk_iters: 10,
                slice_iters: 10,
                board,
            }],
        );
        for model in [
            &super::super::greenlet::GreenletModel as &dyn Model,
            &super::super::gevent::GeventModel,
        ] {
            let err = run(model, &spin, 1, Duration::from_secs(5), false).unwrap_err();
            assert!(err.to_string().contains("convoy"), "{err}");
        }
    }
}
