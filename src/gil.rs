//! An emulated CPython global interpreter lock, for the `+gil` models.
//!
//! `GilKind::New` follows CPython 3.2+ (`Python/ceval_gil.h`: `take_gil`,
//! `drop_gil`, `FORCE_SWITCHING`); `GilKind::Legacy` follows Python 2's
//! release-and-reacquire every `check_interval` ticks. Models hold a
//! [`GilHolder`] while they run "Python" work and call [`GilHolder::tick`]
//! between slices of it, where CPython would check its eval breaker.
//!
//! Invariants, all kept under `Gil::state`'s mutex:
//! - at most one thread holds the GIL (`State::locked` is its only owner flag);
//! - `switch_number` grows exactly when the GIL passes to a different thread
//!   than `last_holder`;
//! - a set `drop_request` was set by a thread that is still waiting inside
//!   `take_gil`, because every successful take clears it; so a holder that
//!   drops with a pending request and waits for a switch is always woken.

use crate::results::GilCounters;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// How much CPU work a model runs between two eval-breaker checks.
///
/// CPython checks its eval breaker every few bytecodes (sub-microsecond), so a
/// holder reacts to a drop request almost at once, while the waiter that
/// asked is still running: with two CPU threads that waiter usually wins the
/// GIL, and an IO thread waiting beside them loses again and again. A 50 µs
/// slice let the asker fall asleep first, so the GIL went to the longest
/// waiter instead, and the IO thread's convoy was a third shorter than
/// CPython's (2 intervals at the median instead of 3). 2 µs keeps the
/// reaction within a few microseconds, as CPython's; a tick (one relaxed
/// atomic load in the common case) still costs well under 1% of a slice.
pub const SLICE: Duration = Duration::from_micros(2);

/// Which GIL design to emulate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum GilKind {
    /// CPython 3.2+: a waiter asks the holder to drop the GIL after waiting
    /// `switch_interval` (`sys.setswitchinterval`, default 5 ms) and the holder
    /// then waits until another thread actually took it (forced switching).
    New { switch_interval: Duration },
    /// Python 2: every `check_interval` calls of [`GilHolder::tick`] the holder
    /// releases and at once re-acquires, which on a multicore machine it
    /// usually wins again before the woken waiter runs (the "convoy" thrash).
    Legacy { check_interval: u32 },
}

/// One emulated interpreter's GIL. `Send + Sync`: share it by `&` or `Arc`.
#[derive(Debug)]
pub struct Gil {
    kind: GilKind,
    state: Mutex<State>,
    /// Signalled when the GIL is dropped: wakes a thread waiting in `take_gil`.
    cond: Condvar,
    /// Signalled when the GIL is taken: wakes a holder that dropped it on a
    /// drop request and waits for the switch (CPython's `switch_cond`).
    switch_cond: Condvar,
    /// CPython's `gil_drop_request` eval-breaker bit: written under the mutex,
    /// read without it by the holder in `tick`, so a tick costs one load.
    drop_request: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    locked: bool,
    last_holder: Option<ThreadId>,
    switch_number: u64,
    counters: GilCounters,
    /// Threads waiting on `cond` in `take_gil`, and on `switch_cond` in
    /// `drop_gil`. A notify is sent only when one waits: std's futex
    /// condvar makes a system call for every notify, waiter or not (glibc's
    /// pthread_cond_signal, which CPython calls, does not), and a legacy
    /// GIL alone in its process lost 32% of its time to those calls
    /// at a release every 2 µs slice.
    waiting: u32,
    switch_waiting: u32,
}

/// Proof that the current thread holds the GIL; dropping it releases the GIL.
///
/// Acquiring again on a thread that already holds the GIL deadlocks, as it
/// would in CPython.
#[derive(Debug)]
pub struct GilHolder<'a> {
    gil: &'a Gil,
    /// The thread that acquired; it stays the logical holder if the holder
    /// moves, as a Python thread state would.
    me: ThreadId,
    /// False only while `allow_threads` runs its closure.
    held: bool,
    /// Ticks since the last legacy release.
    ticks: u32,
}

impl Gil {
    pub fn new(kind: GilKind) -> Gil {
        Gil {
            kind,
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            switch_cond: Condvar::new(),
            drop_request: AtomicBool::new(false),
        }
    }

    /// Blocks until the calling thread holds the GIL (`take_gil`).
    pub fn acquire(&self) -> GilHolder<'_> {
        let me = thread::current().id();
        self.take_gil(me);
        GilHolder {
            gil: self,
            me,
            held: true,
            ticks: 0,
        }
    }

    /// Counters since the GIL was created.
    pub fn counters(&self) -> GilCounters {
        self.lock().counters
    }

    /// How many times the GIL passed to a different thread. Legacy thrashing
    /// shows as many acquisitions but few switches.
    pub fn switches(&self) -> u64 {
        self.lock().switch_number
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this mutex, so a poisoned state is still
        // consistent and the poison can be ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_gil(&self, me: ThreadId) {
        let start = Instant::now();
        let mut st = self.lock();
        while st.locked {
            st.waiting += 1;
            st = match self.kind {
                GilKind::New { switch_interval } => {
                    let saved_switch = st.switch_number;
                    let (guard, waited) = self
                        .cond
                        .wait_timeout(st, switch_interval)
                        .unwrap_or_else(PoisonError::into_inner);
                    let mut st = guard;
                    // A whole interval passed and nobody else got the GIL
                    // either: ask the holder to drop it.
                    if waited.timed_out()
                        && st.locked
                        && st.switch_number == saved_switch
                        && !self.drop_request.swap(true, Ordering::Relaxed)
                    {
                        st.counters.drop_requests += 1;
                    }
                    st
                }
                GilKind::Legacy { .. } => {
                    self.cond.wait(st).unwrap_or_else(PoisonError::into_inner)
                }
            };
            st.waiting -= 1;
        }
        st.locked = true;
        st.counters.acquisitions += 1;
        if st.last_holder != Some(me) {
            st.last_holder = Some(me);
            st.switch_number += 1;
        }
        // Whoever takes the GIL satisfies any pending request.
        self.drop_request.store(false, Ordering::Relaxed);
        if st.switch_waiting > 0 {
            self.switch_cond.notify_all();
        }
        st.counters.wait_s += start.elapsed().as_secs_f64();
    }

    /// Releases the GIL. Unless `final_release`, a pending drop request makes
    /// the caller wait until another thread has taken it (`FORCE_SWITCHING`):
    /// without that the dropping thread, already running, would usually take
    /// it straight back before the woken waiter is scheduled.
    fn drop_gil(&self, final_release: bool) {
        let mut st = self.lock();
        debug_assert!(st.locked, "dropping a GIL that is not held");
        st.locked = false;
        if st.waiting > 0 {
            self.cond.notify_one();
        }
        if final_release || !self.drop_request.load(Ordering::Relaxed) {
            return;
        }
        let start = Instant::now();
        self.drop_request.store(false, Ordering::Relaxed);
        let seen = st.switch_number;
        while st.switch_number == seen {
            st.switch_waiting += 1;
            st = self
                .switch_cond
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
            st.switch_waiting -= 1;
        }
        st.counters.forced_switches += 1;
        st.counters.wait_s += start.elapsed().as_secs_f64();
    }
}

impl GilHolder<'_> {
    /// The eval-breaker check between slices of Python work.
    pub fn tick(&mut self) {
        match self.gil.kind {
            GilKind::New { .. } => {
                if self.gil.drop_request.load(Ordering::Relaxed) {
                    self.gil.drop_gil(false);
                    self.gil.take_gil(self.me);
                }
            }
            GilKind::Legacy { check_interval } => {
                self.ticks += 1;
                if self.ticks >= check_interval {
                    self.ticks = 0;
                    // Python 2 dropped a plain lock here: no drop request
                    // exists, so this never waits for a switch.
                    self.gil.drop_gil(false);
                    self.gil.take_gil(self.me);
                }
            }
        }
    }

    /// Runs blocking work without the GIL (`Py_BEGIN/END_ALLOW_THREADS`).
    ///
    /// As in CPython's `PyEval_SaveThread`, a drop request pending at that
    /// moment still makes the release wait for the switch; otherwise the
    /// release does not wait.
    pub fn allow_threads<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.gil.drop_gil(false);
        // If `f` panics the holder must not release a GIL it does not hold.
        self.held = false;
        let out = f();
        self.gil.take_gil(self.me);
        self.held = true;
        out
    }
}

impl Drop for GilHolder<'_> {
    fn drop(&mut self) {
        if self.held {
            self.gil.drop_gil(true);
        }
    }
}

/// Runs `total_iters` of CPU work as `step(n)` calls of at most `slice_iters`
/// each, ticking the eval breaker between slices.
pub fn run_sliced(
    holder: &mut GilHolder<'_>,
    total_iters: u64,
    slice_iters: u64,
    mut step: impl FnMut(u64),
) {
    let slice_iters = slice_iters.max(1);
    let mut left = total_iters;
    while left > 0 {
        let n = left.min(slice_iters);
        step(n);
        left -= n;
        if left > 0 {
            holder.tick();
        }
    }
}

/// Iterations of a kernel that make one [`SLICE`], given its calibration.
pub fn slice_iters(iters_per_ms: f64) -> u64 {
    let per_slice = iters_per_ms * SLICE.as_secs_f64() * 1e3;
    (per_slice.round() as u64).max(1)
}

/// Under the emulated GIL, the eval breaker runs between CPU slices and
/// blocking IO releases the lock (Py_BEGIN/END_ALLOW_THREADS).
impl crate::workload::Interpreter for GilHolder<'_> {
    fn between_slices(&mut self) {
        self.tick();
    }

    fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.allow_threads(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;
    use std::sync::Barrier;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;

    const INTERVAL: Duration = Duration::from_millis(2);

    fn new_gil() -> Gil {
        Gil::new(GilKind::New {
            switch_interval: INTERVAL,
        })
    }

    /// A small CPU kernel the optimizer cannot remove.
    fn spin(iters: u64) -> u64 {
        let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
        for _ in 0..iters {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        black_box(x)
    }

    /// Iterations of `spin` per millisecond on this machine, best of a few.
    fn spin_per_ms() -> f64 {
        let iters = 200_000;
        let best = (0..5)
            .map(|_| {
                let t = Instant::now();
                spin(iters);
                t.elapsed()
            })
            .min()
            .unwrap();
        iters as f64 / (best.as_secs_f64() * 1e3).max(1e-6)
    }

    #[test]
    fn never_two_holders() {
        for kind in [
            GilKind::New {
                switch_interval: Duration::from_micros(200),
            },
            GilKind::Legacy { check_interval: 3 },
        ] {
            let gil = Gil::new(kind);
            let inside = AtomicUsize::new(0);
            thread::scope(|s| {
                for _ in 0..8 {
                    s.spawn(|| {
                        for round in 0..200 {
                            let mut h = gil.acquire();
                            for _ in 0..5 {
                                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                                spin(2_000);
                                inside.fetch_sub(1, Ordering::SeqCst);
                                h.tick();
                            }
                            if round % 7 == 0 {
                                h.allow_threads(|| spin(500));
                            }
                        }
                    });
                }
            });
            let c = gil.counters();
            assert!(c.acquisitions >= 8 * 200, "{kind:?}: {c:?}");
        }
    }

    #[test]
    fn waiter_gets_gil_through_forced_switch() {
        let gil = new_gil();
        let stop = AtomicBool::new(false);
        let (held_tx, held_rx) = mpsc::channel();
        thread::scope(|s| {
            s.spawn(|| {
                let mut h = gil.acquire();
                held_tx.send(()).unwrap();
                // CPU-bound "Python" that never blocks: only the drop request
                // can take the GIL from it.
                while !stop.load(Ordering::Relaxed) {
                    spin(1_000);
                    h.tick();
                }
            });
            held_rx.recv().unwrap();
            let t = Instant::now();
            let h = gil.acquire();
            let waited = t.elapsed();
            stop.store(true, Ordering::Relaxed);
            drop(h);
            // One interval plus a slice is the design; allow a loaded machine
            // a wide margin.
            assert!(waited < INTERVAL * 50, "waited {waited:?}");
        });
        let c = gil.counters();
        assert!(c.drop_requests >= 1, "{c:?}");
        assert!(c.forced_switches >= 1, "{c:?}");
        assert!(c.wait_s > 0.0, "{c:?}");
        assert!(gil.switches() >= 2);
    }

    #[test]
    fn allow_threads_releases() {
        let gil = &new_gil();
        let (inside_tx, inside_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        thread::scope(|s| {
            s.spawn(move || {
                let mut h = gil.acquire();
                h.allow_threads(|| {
                    inside_tx.send(()).unwrap();
                    // Fails instead of hanging if the GIL was not released.
                    done_rx
                        .recv_timeout(Duration::from_secs(10))
                        .expect("other thread never got the GIL");
                });
            });
            inside_rx.recv().unwrap();
            let h = gil.acquire();
            done_tx.send(()).unwrap();
            drop(h);
        });
        let c = gil.counters();
        assert_eq!(c.acquisitions, 3, "{c:?}");
        assert_eq!(c.forced_switches, 0, "{c:?}");
    }

    #[test]
    fn legacy_never_forces_a_switch() {
        let gil = Gil::new(GilKind::Legacy { check_interval: 2 });
        let barrier = Barrier::new(2);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    barrier.wait();
                    let mut h = gil.acquire();
                    for _ in 0..2_000 {
                        spin(200);
                        h.tick();
                    }
                });
            }
        });
        let c = gil.counters();
        assert_eq!(c.forced_switches, 0, "{c:?}");
        assert_eq!(c.drop_requests, 0, "{c:?}");
        // Each thread's first take, plus one re-take every two ticks.
        assert_eq!(c.acquisitions, 2 + 2 * (2_000 / 2), "{c:?}");
    }

    #[test]
    fn run_sliced_covers_every_iteration() {
        let gil = new_gil();
        let mut h = gil.acquire();
        let mut slices = Vec::new();
        run_sliced(&mut h, 10, 4, |n| slices.push(n));
        assert_eq!(slices, [4, 4, 2]);
        assert_eq!(slice_iters(0.0), 1);
        assert_eq!(slice_iters(1_000.0), 2);
        assert_eq!(slice_iters(100_000.0), 200);
    }

    /// Wall time of `threads` threads each running `iters` of `spin`, under
    /// `gil` or free.
    fn wall(gil: Option<&Gil>, threads: usize, iters: u64, slice: u64) -> f64 {
        let barrier = Barrier::new(threads);
        let t = Instant::now();
        thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    barrier.wait();
                    match gil {
                        Some(g) => {
                            let mut h = g.acquire();
                            run_sliced(&mut h, iters, slice, |n| {
                                spin(n);
                            });
                        }
                        None => {
                            spin(iters);
                        }
                    }
                });
            }
        });
        t.elapsed().as_secs_f64()
    }

    /// The median over five rounds of `a / b`, each round timing both back to
    /// back, so load from other tests hits both sides of each ratio alike.
    fn median_ratio(a: impl Fn() -> f64, b: impl Fn() -> f64) -> f64 {
        let mut ratios: Vec<f64> = (0..5).map(|_| a() / b()).collect();
        ratios.sort_by(f64::total_cmp);
        ratios[2]
    }

    #[test]
    fn gil_prevents_parallel_speedup() {
        let per_ms = spin_per_ms();
        let iters = (per_ms * 30.0) as u64;
        let slice = slice_iters(per_ms);
        let gil = Gil::new(GilKind::New {
            switch_interval: Duration::from_millis(5),
        });
        // Two threads under the GIL against one thread doing both shares.
        let ratio = median_ratio(
            || wall(Some(&gil), 2, iters, slice),
            || wall(None, 1, 2 * iters, slice),
        );
        assert!(
            ratio > 0.7,
            "two threads under the GIL took {ratio:.2}x the time of one doing all the work"
        );
        // Whether free threads do run in parallel depends on a second core
        // being idle, which a shared test machine cannot promise; that half
        // is measured by the harness itself (`thread` vs `thread+gil`).
    }
}
