//! The `event` workload: task 0 sets an event `rounds` times, tasks
//! `1..=waiters` wait for it each round. A round starts when every waiter
//! waits (the `arrived` futex word counts them); the setter writes the time
//! and sets; each waiter measures from that time until it runs again (under
//! a GIL, once it has taken the GIL back). Threads of one process wait on a
//! mutex and condvar (what `threading.Event` is), processes on a futex word
//! in the board's shared memory, async tasks on tokio's `Notify`.

use super::WakeOutput;
use super::board::{WakeBoard, WakeBoardRef, futex_wait, futex_wake, local};
use crate::workload::lock::WaitHistogram;
use crate::workload::shm::monotonic_ns;
use crate::workload::{Interpreter, Task, combine};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// An event point's shape: its waiters (the point's tasks are one more,
/// the setter) and its rounds per batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventShape {
    pub waiters: u32,
    pub rounds: u32,
}

/// One unit of an event batch (`Step::Event`): task 0 is the setter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventStep {
    pub shape: EventShape,
    pub board: WakeBoardRef,
}

/// A process waiter may see the count of arrivals complete a moment before
/// it sleeps on the futex: the setter lets it get there first. The other
/// scopes need no pause: a condvar waiter arrives under the mutex the
/// setter must take to set, and an async waiter registers before it counts
/// itself.
pub const SETTLE: Duration = Duration::from_micros(200);

/// How long one futex sleep lasts at most before the waiter looks again.
const NAP: Duration = Duration::from_millis(100);

/// The checksum task `idx` of a correct batch returns: the setter's and
/// each waiter's count every round.
pub fn expected_part(idx: u32, shape: &EventShape) -> u64 {
    checksum(idx, u64::from(shape.rounds))
}

/// What unit `idx` returns after `wakes` rounds.
fn checksum(idx: u32, wakes: u64) -> u64 {
    combine(wakes, u64::from(idx) ^ 0xE7E7)
}

fn timed_out(what: &str, round: u32) -> anyhow::Error {
    anyhow::anyhow!("the event's {what} waited past the case timeout in round {round}")
}

/// Runs one unit with blocking calls (threads, processes): every wait
/// releases an emulated GIL and takes it back before the clock is read.
pub fn run_blocking(
    interp: &mut impl Interpreter,
    task: &Task,
    step: &EventStep,
) -> anyhow::Result<(u64, WakeOutput)> {
    let board = interp.blocking(|| WakeBoard::open(&step.board.path))?;
    let limit = Instant::now() + step.board.limit();
    let shape = step.shape;
    let shared = board.shared();
    let ev = (!shared).then(|| local(&step.board.path));
    let mut out = WakeOutput {
        setter: task.idx == 0,
        ..WakeOutput::default()
    };
    if out.setter {
        for round in 0..shape.rounds {
            let target = shape.waiters * (round + 1);
            interp.blocking(|| {
                loop {
                    let now = board.arrived().load(Ordering::Acquire);
                    if now >= target {
                        return Ok(());
                    }
                    if Instant::now() >= limit {
                        return Err(timed_out("setter", round));
                    }
                    futex_wait(board.arrived(), now, limit.min(Instant::now() + NAP));
                }
            })?;
            if shared {
                interp.blocking(|| std::thread::sleep(SETTLE));
            }
            match &ev {
                Some(ev) => {
                    let mut sets = ev.sets.lock();
                    board.set_ns().store(monotonic_ns(), Ordering::Release);
                    *sets = round + 1;
                    ev.cond.notify_all();
                }
                None => {
                    board.set_ns().store(monotonic_ns(), Ordering::Release);
                    board.sets().store(round + 1, Ordering::Release);
                    futex_wake(board.sets(), i32::MAX);
                }
            }
            out.wakes += 1;
        }
        return Ok((checksum(0, out.wakes), out));
    }
    let mut late = WaitHistogram::recorder();
    for round in 0..shape.rounds {
        let target = shape.waiters * (round + 1);
        let arrive = || {
            if board.arrived().fetch_add(1, Ordering::AcqRel) + 1 == target {
                futex_wake(board.arrived(), 1);
            }
        };
        interp.blocking(|| match &ev {
            Some(ev) => {
                let mut sets = ev.sets.lock();
                arrive();
                while *sets <= round {
                    if ev.cond.wait_until(&mut sets, limit).timed_out() && *sets <= round {
                        return Err(timed_out("waiter", round));
                    }
                }
                Ok(())
            }
            None => {
                arrive();
                loop {
                    let sets = board.sets().load(Ordering::Acquire);
                    if sets > round {
                        return Ok(());
                    }
                    if Instant::now() >= limit {
                        return Err(timed_out("waiter", round));
                    }
                    futex_wait(board.sets(), sets, limit.min(Instant::now() + NAP));
                }
            }
        })?;
        let at = monotonic_ns();
        let set = board.set_ns().load(Ordering::Acquire);
        late.record(Duration::from_nanos(at.saturating_sub(set)));
        out.wakes += 1;
    }
    out.late = late.finish();
    Ok((checksum(task.idx, out.wakes), out))
}

/// Runs one unit as a future (the async models), on tokio's `Notify`.
pub async fn run_async(task: &Task, step: &EventStep) -> anyhow::Result<(u64, WakeOutput)> {
    let board = WakeBoard::open(&step.board.path)?;
    let limit = tokio::time::Instant::now() + step.board.limit();
    let shape = step.shape;
    let ev = local(&step.board.path);
    let mut out = WakeOutput {
        setter: task.idx == 0,
        ..WakeOutput::default()
    };
    if out.setter {
        for round in 0..shape.rounds {
            let target = shape.waiters * (round + 1);
            loop {
                let arrived = ev.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if board.arrived().load(Ordering::Acquire) >= target {
                    break;
                }
                tokio::time::timeout_at(limit, arrived)
                    .await
                    .map_err(|_| timed_out("setter", round))?;
            }
            board.set_ns().store(monotonic_ns(), Ordering::Release);
            ev.async_sets.store(round + 1, Ordering::Release);
            ev.set.notify_waiters();
            out.wakes += 1;
        }
        return Ok((checksum(0, out.wakes), out));
    }
    let mut late = WaitHistogram::recorder();
    for round in 0..shape.rounds {
        let target = shape.waiters * (round + 1);
        let mut counted = false;
        loop {
            let set = ev.set.notified();
            tokio::pin!(set);
            set.as_mut().enable();
            if !counted {
                counted = true;
                if board.arrived().fetch_add(1, Ordering::AcqRel) + 1 == target {
                    ev.arrived.notify_one();
                }
            }
            if ev.async_sets.load(Ordering::Acquire) > round {
                break;
            }
            tokio::time::timeout_at(limit, set)
                .await
                .map_err(|_| timed_out("waiter", round))?;
        }
        let at = monotonic_ns();
        let set = board.set_ns().load(Ordering::Acquire);
        late.record(Duration::from_nanos(at.saturating_sub(set)));
        out.wakes += 1;
    }
    out.late = late.finish();
    Ok((checksum(task.idx, out.wakes), out))
}
