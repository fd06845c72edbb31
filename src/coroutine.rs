//! The `coroutine` workload: what the note claims for stackful coroutines,
//! measured beside OS threads and tokio tasks in the same run. Creating
//! one unit and running it to its end; one switch, from a ping-pong of two
//! units on one core; and the memory one unit holds while parked, as the
//! slope of resident memory across a sweep of units alive (never a peak
//! divided by a count). The coroutines are the ones the `greenlet` and
//! `gevent` models run (corosensei, `STACK_BYTES` reserved each). Each figure is measured under a `Stop`; the runner calls
//! `measure` once per run and stores `results.coroutine`.

use crate::results::{CaseStatus, CoroutineMeasurement};
use crate::stats;
use crate::stop::{Stop, Stopped};
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Bytes reserved for each coroutine's stack (with a guard page below), in
/// the `greenlet` and `gevent` models and here. Only the pages a coroutine
/// touches become resident, which the memory figure measures. The socket
/// and file steps need about 20 KiB; 256 KiB leaves room for a debug
/// build's larger frames.
pub const STACK_BYTES: usize = 256 * 1024;

/// The most units the memory sweep holds alive at once (threads among
/// them: the machine's pid_max is shared by everything on it).
pub const MAX_UNITS: usize = 4096;

/// Round trips timed together as one switch sample: one round trip of a
/// coroutine is tens of nanoseconds, shorter than a clock reading is exact.
const COROUTINE_BLOCK: u32 = 1000;
const TASK_BLOCK: u32 = 200;
const THREAD_BLOCK: u32 = 20;

/// Untimed operations before the timed ones: the first pay for cold caches
/// and the allocator's first mappings.
const WARMUP: usize = 20;

/// What a `coroutine` scenario measures (`measure = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    Create,
    Switch,
    Memory,
}

impl Measure {
    pub const ALL: [Measure; 3] = [Measure::Create, Measure::Switch, Measure::Memory];

    pub fn id(self) -> &'static str {
        match self {
            Measure::Create => "create",
            Measure::Switch => "switch",
            Measure::Memory => "memory",
        }
    }

    pub fn from_id(id: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.id() == id)
    }
}

/// The concurrency units compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A corosensei stackful coroutine (greenlet, gevent).
    Coroutine,
    /// An OS thread (std::thread).
    Thread,
    /// A tokio task on a current-thread runtime (asyncio's analogue).
    Task,
}

impl Unit {
    pub const ALL: [Unit; 3] = [Unit::Coroutine, Unit::Thread, Unit::Task];

    pub fn id(self) -> &'static str {
        match self {
            Unit::Coroutine => "coroutine",
            Unit::Thread => "thread",
            Unit::Task => "task",
        }
    }

    fn describe(self, m: Measure) -> String {
        match (self, m) {
            (Unit::Coroutine, Measure::Create) => format!(
                "a corosensei coroutine with a {} KiB mmap'd stack: created, run to its end, dropped",
                STACK_BYTES / 1024
            ),
            (Unit::Thread, Measure::Create) => "std::thread::spawn of an empty closure + join".into(),
            (Unit::Task, Measure::Create) => {
                "tokio::spawn of an empty task + await, on a current-thread runtime".into()
            }
            (Unit::Coroutine, Measure::Switch) => format!(
                "half a resume + suspend round trip between two coroutines, {COROUTINE_BLOCK} round trips per sample"
            ),
            (Unit::Thread, Measure::Switch) => format!(
                "half a 1-byte pipe round trip between two threads pinned to one core (a context switch with its read and write), {THREAD_BLOCK} per sample"
            ),
            (Unit::Task, Measure::Switch) => format!(
                "half a round trip between two tokio tasks over two mpsc channels, {TASK_BLOCK} per sample"
            ),
            (Unit::Coroutine, Measure::Memory) => {
                "resident bytes per coroutine parked after its first suspend".into()
            }
            (Unit::Thread, Measure::Memory) => {
                "resident bytes per thread parked on a channel (user space only: the kernel's stack and task struct are not in RSS)".into()
            }
            (Unit::Task, Measure::Memory) => {
                "resident bytes per tokio task parked on a semaphore".into()
            }
        }
    }
}

/// What to measure: which figures, timed samples of each, and the units
/// alive at each point of the memory sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub measures: Vec<Measure>,
    pub samples: u32,
    pub units: Vec<usize>,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error("{0}")]
    Failed(String),
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Failed(format!("{what}: {e}"))
}

/// Every figure `req` asks for, each within `limit`; Ctrl-C ends it with
/// what it has, and `Err`.
pub fn measure(
    req: &Request,
    limit: Duration,
    cancel: &AtomicBool,
) -> (Vec<CoroutineMeasurement>, Result<(), Stopped>) {
    let mut out = Vec::new();
    for m in Measure::ALL
        .into_iter()
        .filter(|m| req.measures.contains(m))
    {
        for unit in Unit::ALL {
            let started = Instant::now();
            let stop = Stop::within(cancel, limit);
            let result = match m {
                Measure::Create => {
                    time_each(req.samples as usize, &stop, |stop| create_one(unit, stop))
                        .map(Sampled::Ns)
                }
                Measure::Switch => {
                    // Each sample timed a block of round trips, two switches each.
                    let per = 2.0 * f64::from(block_of(unit));
                    switch_samples(unit, req.samples as usize, &stop)
                        .map(|ns| Sampled::Ns(ns.into_iter().map(|b| b / per).collect()))
                }
                Measure::Memory => memory_sweep(unit, &req.units, &stop).map(Sampled::Points),
            };
            let interrupted = matches!(result, Err(Error::Stopped(Stopped::Cancelled)));
            out.push(record(m, unit, result, started.elapsed()));
            if interrupted {
                return (out, Err(Stopped::Cancelled));
            }
        }
    }
    (out, Ok(()))
}

enum Sampled {
    Ns(Vec<f64>),
    Points(Vec<(u64, f64)>),
}

fn record(
    m: Measure,
    unit: Unit,
    result: Result<Sampled, Error>,
    took: Duration,
) -> CoroutineMeasurement {
    let mut out = CoroutineMeasurement {
        measure: m.id().to_owned(),
        unit: unit.id().to_owned(),
        description: unit.describe(m),
        status: CaseStatus::Ok,
        samples: 0,
        ns: None,
        bytes_per_unit: None,
        points: Vec::new(),
        wall_s: took.as_secs_f64(),
    };
    match result {
        Ok(Sampled::Ns(ns)) => {
            out.samples = ns.len();
            out.ns = stats::median_ci(&ns);
        }
        Ok(Sampled::Points(points)) => {
            out.samples = points.len();
            let xy: Vec<(f64, f64)> = points.iter().map(|&(n, b)| (n as f64, b)).collect();
            out.bytes_per_unit = stats::theil_sen(&xy).map(|s| s.slope);
            out.points = points;
        }
        Err(Error::Stopped(Stopped::Cancelled)) => out.status = CaseStatus::Interrupted,
        Err(e) => out.status = CaseStatus::Failed(e.to_string()),
    }
    if out.status == CaseStatus::Ok && out.ns.is_none() && out.bytes_per_unit.is_none() {
        out.status = CaseStatus::Failed(format!(
            "no sample finished within the time limit of {took:.1?}"
        ));
    }
    out
}

/// Runs `op` `WARMUP + n` times and keeps the last `n` durations (ns);
/// stops early, with what it has, when `stop`'s time limit passes.
fn time_each(
    n: usize,
    stop: &Stop,
    mut op: impl FnMut(&Stop) -> Result<Duration, Error>,
) -> Result<Vec<f64>, Error> {
    let mut ns = Vec::with_capacity(n);
    for i in 0..WARMUP + n {
        match stop.check() {
            Err(Stopped::TimedOut(_)) => break,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        let took = op(stop)?;
        if i >= WARMUP {
            ns.push(took.as_nanos() as f64);
        }
    }
    Ok(ns)
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| failed("starting a tokio runtime", e))
}

/// One unit created, run to its end and cleaned up.
fn create_one(unit: Unit, _stop: &Stop) -> Result<Duration, Error> {
    match unit {
        Unit::Coroutine => {
            let started = Instant::now();
            let stack = DefaultStack::new(STACK_BYTES).map_err(|e| failed("mmap", e))?;
            let mut co: Coroutine<(), (), u64, DefaultStack> =
                Coroutine::with_stack(stack, |_, ()| black_box(1));
            let CoroutineResult::Return(v) = co.resume(()) else {
                return Err(Error::Failed("an empty coroutine suspended".into()));
            };
            drop(co);
            black_box(v);
            Ok(started.elapsed())
        }
        Unit::Thread => {
            let started = Instant::now();
            let h = std::thread::Builder::new()
                .spawn(|| black_box(1u64))
                .map_err(|e| failed("spawning a thread", e))?;
            // An empty closure ends at once; join cannot wait on anything else.
            let v = h
                .join()
                .map_err(|_| Error::Failed("a thread panicked".into()))?;
            black_box(v);
            Ok(started.elapsed())
        }
        Unit::Task => {
            // One runtime per batch of samples would be fairer to tokio, but
            // the runtime is built before the clock starts and only the
            // spawn + await is timed.
            let rt = current_thread_runtime()?;
            rt.block_on(async {
                let started = Instant::now();
                let v = tokio::spawn(async { black_box(1u64) })
                    .await
                    .map_err(|e| failed("a task", e))?;
                black_box(v);
                Ok(started.elapsed())
            })
        }
    }
}

fn block_of(unit: Unit) -> u32 {
    match unit {
        Unit::Coroutine => COROUTINE_BLOCK,
        Unit::Thread => THREAD_BLOCK,
        Unit::Task => TASK_BLOCK,
    }
}

/// Switch samples: nanoseconds per block of `block_of(unit)` round trips.
fn switch_samples(unit: Unit, n: usize, stop: &Stop) -> Result<Vec<f64>, Error> {
    let block = block_of(unit);
    let per_switch = |d: Duration| -> Result<Duration, Error> { Ok(d) };
    match unit {
        Unit::Coroutine => {
            let stack = DefaultStack::new(STACK_BYTES).map_err(|e| failed("mmap", e))?;
            let mut co: Coroutine<u64, u64, (), DefaultStack> =
                Coroutine::with_stack(stack, |y, mut v: u64| {
                    loop {
                        v = y.suspend(black_box(v + 1));
                    }
                });
            let mut v = 0;
            let ns = time_each(n, stop, |_| {
                let started = Instant::now();
                for _ in 0..block {
                    if let CoroutineResult::Yield(next) = co.resume(v) {
                        v = next;
                    }
                }
                per_switch(started.elapsed())
            });
            // Dropping a suspended coroutine unwinds its stack.
            drop(co);
            ns
        }
        Unit::Task => {
            let rt = current_thread_runtime()?;
            rt.block_on(async {
                let (to_tx, mut to_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let (back_tx, mut back_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let echo = tokio::spawn(async move {
                    while let Some(v) = to_rx.recv().await {
                        if back_tx.send(v + 1).await.is_err() {
                            break;
                        }
                    }
                });
                let mut ns = Vec::with_capacity(n);
                for i in 0..WARMUP + n {
                    match stop.check() {
                        Err(Stopped::TimedOut(_)) => break,
                        Err(e) => return Err(e.into()),
                        Ok(()) => {}
                    }
                    let started = Instant::now();
                    for v in 0..u64::from(block) {
                        to_tx.send(v).await.map_err(|e| failed("a channel", e))?;
                        back_rx
                            .recv()
                            .await
                            .ok_or_else(|| Error::Failed("the echo task ended".into()))?;
                    }
                    if i >= WARMUP {
                        ns.push(per_switch(started.elapsed())?.as_nanos() as f64);
                    }
                }
                drop(to_tx);
                let _ = echo.await;
                Ok(ns)
            })
        }
        Unit::Thread => thread_ping_pong(n, block, stop),
    }
}

/// Two threads on one core bouncing a byte over two pipes; the harness's
/// own thread only waits for them, and every read has a deadline (poll).
fn thread_ping_pong(n: usize, block: u32, stop: &Stop) -> Result<Vec<f64>, Error> {
    use std::os::fd::AsRawFd;
    let pipe = || -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), Error> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`, owned below.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(failed("pipe2", std::io::Error::last_os_error()));
        }
        use std::os::fd::FromRawFd;
        // SAFETY: both are fresh descriptors nobody else owns.
        Ok(unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        })
    };
    let (ping_r, ping_w) = pipe()?;
    let (pong_r, pong_w) = pipe()?;
    // A byte within this, or the partner is gone.
    const WAIT_MS: i32 = 2000;
    fn read1(fd: i32) -> Result<(), Error> {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, WAIT_MS) };
        if rc <= 0 {
            return Err(Error::Failed(
                "the other thread did not answer within 2 s".into(),
            ));
        }
        let mut b = 0u8;
        // SAFETY: reads one byte into `b`.
        if unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) } != 1 {
            return Err(failed("read", std::io::Error::last_os_error()));
        }
        Ok(())
    }
    fn write1(fd: i32) -> Result<(), Error> {
        let b = 1u8;
        // SAFETY: writes one byte from `b`.
        if unsafe { libc::write(fd, (&b as *const u8).cast(), 1) } != 1 {
            return Err(failed("write", std::io::Error::last_os_error()));
        }
        Ok(())
    }
    let cpu = pin_cpu();
    std::thread::scope(|s| {
        let (pr, pw) = (ping_r.as_raw_fd(), pong_w.as_raw_fd());
        let echo = s.spawn(move || -> Result<(), Error> {
            pin_to(cpu)?;
            // Ends when the pinger closes its end (read of 0 fails) or
            // stops answering.
            while read1(pr).is_ok() {
                write1(pw)?;
            }
            Ok(())
        });
        let pinger = s.spawn(|| -> Result<Vec<f64>, Error> {
            pin_to(cpu)?;
            let (w, r) = (ping_w.as_raw_fd(), pong_r.as_raw_fd());
            let ns = time_each(n, stop, |_| {
                let started = Instant::now();
                for _ in 0..block {
                    write1(w)?;
                    read1(r)?;
                }
                Ok(started.elapsed())
            });
            drop(ping_w);
            ns
        });
        let ns = pinger
            .join()
            .map_err(|_| Error::Failed("the pinging thread panicked".into()))?;
        let _ = echo.join();
        ns
    })
}

/// The CPU this thread runs on now, where both ping-pong threads go.
fn pin_cpu() -> usize {
    // SAFETY: sched_getcpu takes no argument.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(0)
}

fn pin_to(cpu: usize) -> Result<(), Error> {
    // SAFETY: CPU_SET writes the set we own; sched_setaffinity(0) reads it
    // for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(failed("sched_setaffinity", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Resident bytes of this process (`/proc/self/statm`), after handing the
/// allocator's free memory back: otherwise the memory of units freed in an
/// earlier round is reused unseen and later rounds add nothing.
fn resident_bytes() -> Result<f64, Error> {
    // SAFETY: malloc_trim takes no pointer; it only releases free memory.
    unsafe { libc::malloc_trim(0) };
    let text =
        std::fs::read_to_string("/proc/self/statm").map_err(|e| failed("/proc/self/statm", e))?;
    let pages: f64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Failed(format!("unexpected /proc/self/statm: {text:?}")))?;
    // SAFETY: sysconf takes no pointer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    Ok(pages * page)
}

/// Rounds of the sweep: each count is measured this often, rounds
/// interleaved, so the slope rests on several points per count.
const MEMORY_ROUNDS: usize = 3;

/// (units alive, resident bytes added) for each count, `MEMORY_ROUNDS`
/// times.
fn memory_sweep(unit: Unit, counts: &[usize], stop: &Stop) -> Result<Vec<(u64, f64)>, Error> {
    let mut points = Vec::new();
    for _ in 0..MEMORY_ROUNDS {
        for &n in counts {
            match stop.check() {
                Err(Stopped::TimedOut(_)) => return Ok(points),
                Err(e) => return Err(e.into()),
                Ok(()) => {}
            }
            let n = n.min(MAX_UNITS);
            let added = match unit {
                Unit::Coroutine => coroutines_alive(n)?,
                Unit::Thread => threads_alive(n)?,
                Unit::Task => tasks_alive(n)?,
            };
            points.push((n as u64, added));
        }
    }
    Ok(points)
}

/// `n` coroutines, each suspended inside its first frame: resident bytes
/// added while they are alive.
fn coroutines_alive(n: usize) -> Result<f64, Error> {
    let mut alive = Vec::with_capacity(n);
    let before = resident_bytes()?;
    for i in 0..n {
        let stack = DefaultStack::new(STACK_BYTES).map_err(|e| failed("mmap", e))?;
        let mut co: Coroutine<(), (), u64, DefaultStack> =
            Coroutine::with_stack(stack, move |y, ()| {
                let frame = black_box([i as u8; 64]);
                y.suspend(());
                u64::from(black_box(frame)[0])
            });
        co.resume(());
        alive.push(co);
    }
    let after = resident_bytes()?;
    for mut co in alive {
        co.resume(());
    }
    Ok(after - before)
}

/// `n` threads, each parked on a channel until all were counted.
fn threads_alive(n: usize) -> Result<f64, Error> {
    let (started_tx, started_rx) = crossbeam_channel::unbounded::<()>();
    let (go_tx, go_rx) = crossbeam_channel::unbounded::<()>();
    let before = resident_bytes()?;
    let mut handles = Vec::with_capacity(n);
    let mut result = Ok(0.0);
    for _ in 0..n {
        let (started, go) = (started_tx.clone(), go_rx.clone());
        match std::thread::Builder::new().spawn(move || {
            let _ = started.send(());
            // Released when the sender is dropped, or after the limit.
            let _ = go.recv_timeout(Duration::from_secs(30));
        }) {
            Ok(h) => handles.push(h),
            Err(e) => {
                result = Err(failed("spawning a thread", e));
                break;
            }
        }
    }
    if result.is_ok() {
        for _ in 0..handles.len() {
            if started_rx.recv_timeout(Duration::from_secs(10)).is_err() {
                result = Err(Error::Failed("a thread did not start within 10 s".into()));
                break;
            }
        }
    }
    if result.is_ok() {
        result = resident_bytes().map(|after| after - before);
    }
    drop(go_tx);
    for h in handles {
        let _ = h.join();
    }
    result
}

/// `n` tokio tasks on a current-thread runtime, each parked on a semaphore.
fn tasks_alive(n: usize) -> Result<f64, Error> {
    let rt = current_thread_runtime()?;
    rt.block_on(async {
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let before = resident_bytes()?;
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let (gate, started) = (gate.clone(), started.clone());
            handles.push(tokio::spawn(async move {
                let frame = black_box([i as u8; 64]);
                started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _permit = gate.acquire().await;
                black_box(frame)[0]
            }));
        }
        // Every task polled once: parked in its acquire.
        let limit = Instant::now() + Duration::from_secs(10);
        while started.load(std::sync::atomic::Ordering::Relaxed) < n && Instant::now() < limit {
            tokio::task::yield_now().await;
        }
        let after = resident_bytes()?;
        gate.add_permits(n);
        for h in handles {
            let _ = h.await;
        }
        Ok(after - before)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_measured_with_its_interval() {
        let cancel = AtomicBool::new(false);
        let req = Request {
            measures: Measure::ALL.to_vec(),
            samples: 30,
            // Enough units that a page each stands out of the RSS noise of
            // the tests running beside this one in the same process.
            units: vec![250, 500, 1000],
        };
        let (out, done) = measure(&req, Duration::from_secs(20), &cancel);
        assert!(done.is_ok());
        assert_eq!(out.len(), 9);
        for m in &out {
            assert_eq!(m.status, CaseStatus::Ok, "{m:?}");
            match m.measure.as_str() {
                "memory" => {
                    assert_eq!(m.points.len(), 3 * MEMORY_ROUNDS);
                    let b = m.bytes_per_unit.unwrap();
                    assert!(b.low <= b.median && b.median <= b.high, "{m:?}");
                }
                _ => {
                    let ns = m.ns.unwrap();
                    assert!(ns.median > 0.0 && ns.low <= ns.median, "{m:?}");
                    assert_eq!(m.samples, 30);
                }
            }
        }
        // A parked coroutine touches at least one page of its stack (half
        // a page: the slope of a shared process's RSS, not a page count).
        let co = out
            .iter()
            .find(|m| m.measure == "memory" && m.unit == "coroutine")
            .unwrap();
        assert!(co.bytes_per_unit.unwrap().median >= 4096.0 * 0.5, "{co:?}");
    }

    #[test]
    fn ctrl_c_ends_it_with_what_it_has() {
        let cancel = AtomicBool::new(true);
        let req = Request {
            measures: vec![Measure::Create],
            samples: 1_000_000,
            units: vec![1],
        };
        let (out, done) = measure(&req, Duration::from_secs(60), &cancel);
        assert_eq!(done, Err(Stopped::Cancelled));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, CaseStatus::Interrupted);
    }
}
