//! The `timer` workload: one unit arms `timers` timers of `delay_ms` each,
//! one after another as fast as it can, and each timer's callback records
//! how late it ran: from its due time (when it was armed, plus the delay)
//! to the moment its callback runs. How the timers are armed is what the
//! model stands for (the board's `Mechanism`): a thread per timer that
//! sleeps its delay, as `threading.Timer` does; one scheduler thread with a
//! binary heap of due times and a condvar wait until the earliest; or
//! tokio's timer wheel, a task per timer sleeping on the runtime.

use super::WakeOutput;
use super::board::{Mechanism, WakeBoard, WakeBoardRef};
use crate::workload::lock::WaitHistogram;
use crate::workload::{Interpreter, Task, combine};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// A timer point's shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimerShape {
    pub timers: u32,
    pub delay_ms: f64,
}

impl TimerShape {
    pub fn delay(&self) -> Duration {
        Duration::from_secs_f64(self.delay_ms / 1e3)
    }
}

/// The timer unit (`Step::Timer`): a batch has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerStep {
    pub shape: TimerShape,
    pub board: WakeBoardRef,
}

/// Stack of a timer's thread: it only sleeps and reads the clock.
const TIMER_STACK: usize = 64 * 1024;

/// The checksum of a unit whose `fired` timers all ran.
fn checksum(fired: u64, shape: &TimerShape) -> u64 {
    combine(fired, (shape.delay_ms * 1e3).round() as u64 ^ 0x7143)
}

/// The checksum a correct batch's unit returns: every timer fired.
pub fn expected_part(shape: &TimerShape) -> u64 {
    checksum(u64::from(shape.timers), shape)
}

fn finish(lateness: impl IntoIterator<Item = Duration>, shape: &TimerShape) -> (u64, WakeOutput) {
    let mut late = WaitHistogram::recorder();
    let mut fired = 0;
    for l in lateness {
        late.record(l);
        fired += 1;
    }
    let out = WakeOutput {
        setter: false,
        wakes: fired,
        late: late.finish(),
    };
    (checksum(fired, shape), out)
}

/// Runs the unit on a thread (the blocking models): a thread per timer or
/// one scheduler thread, as the board says. Its thread waits with any
/// emulated GIL released.
pub fn run_blocking(
    interp: &mut impl Interpreter,
    _task: &Task,
    step: &TimerStep,
) -> anyhow::Result<(u64, WakeOutput)> {
    let board = interp.blocking(|| WakeBoard::open(&step.board.path))?;
    let limit = Instant::now() + step.board.limit();
    let shape = step.shape;
    let lateness = match board.mechanism()? {
        Mechanism::ThreadPerTimer => interp.blocking(|| thread_per_timer(&shape))?,
        Mechanism::Scheduler => interp.blocking(|| scheduler(&shape, limit))?,
        Mechanism::Wheel => anyhow::bail!("tokio's timer wheel runs only under the async models"),
    };
    Ok(finish(lateness, &shape))
}

/// A thread per timer, each sleeping until its due time: the threads that
/// started are joined whatever happens (none sleeps longer than the delay).
fn thread_per_timer(shape: &TimerShape) -> anyhow::Result<Vec<Duration>> {
    let delay = shape.delay();
    let mut handles = Vec::with_capacity(shape.timers as usize);
    let mut failed = None;
    for i in 0..shape.timers {
        let due = Instant::now() + delay;
        let spawned = std::thread::Builder::new()
            .name(format!("timer-{i}"))
            .stack_size(TIMER_STACK)
            .spawn(move || {
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                Instant::now().saturating_duration_since(due)
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                failed = Some(anyhow::anyhow!(
                    "starting timer thread {i} of {}: {e}",
                    shape.timers
                ));
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.join()
                .map_err(|_| anyhow::anyhow!("a timer thread panicked"))?,
        );
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The scheduler's state: due times, earliest first, and the callbacks'
/// lateness so far.
struct Heap {
    due: BinaryHeap<Reverse<(Instant, u32)>>,
    fired: Vec<Duration>,
    give_up: bool,
}

/// One scheduler thread: the unit pushes each due time on the heap (and
/// wakes the scheduler when it is the new earliest); the scheduler sleeps
/// on the condvar until the earliest is due, pops it and runs its callback.
fn scheduler(shape: &TimerShape, limit: Instant) -> anyhow::Result<Vec<Duration>> {
    use parking_lot::{Condvar, Mutex};
    use std::sync::Arc;
    let n = shape.timers as usize;
    let state = Arc::new((
        Mutex::new(Heap {
            due: BinaryHeap::with_capacity(n),
            fired: Vec::with_capacity(n),
            give_up: false,
        }),
        Condvar::new(),
    ));
    let worker = {
        let state = Arc::clone(&state);
        std::thread::Builder::new()
            .name("timer-scheduler".into())
            .spawn(move || {
                let (heap, cond) = &*state;
                let mut h = heap.lock();
                while h.fired.len() < n && !h.give_up {
                    let now = Instant::now();
                    match h.due.peek().copied() {
                        Some(Reverse((due, _))) if due <= now => {
                            h.due.pop();
                            // The callback: it notes when it ran.
                            h.fired.push(Instant::now().saturating_duration_since(due));
                        }
                        Some(Reverse((due, _))) => {
                            cond.wait_until(&mut h, due.min(limit));
                        }
                        None => {
                            cond.wait_until(&mut h, limit);
                        }
                    }
                    if Instant::now() >= limit {
                        h.give_up = true;
                    }
                }
                std::mem::take(&mut h.fired)
            })?
    };
    let delay = shape.delay();
    for i in 0..shape.timers {
        let due = Instant::now() + delay;
        let (heap, cond) = &*state;
        let mut h = heap.lock();
        let earliest = h.due.peek().is_none_or(|Reverse((d, _))| due < *d);
        h.due.push(Reverse((due, i)));
        drop(h);
        if earliest {
            cond.notify_one();
        }
    }
    let fired = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the timer scheduler panicked"))?;
    anyhow::ensure!(
        fired.len() == n,
        "the scheduler fired {} timers of {n} before the case timeout",
        fired.len()
    );
    Ok(fired)
}

/// Runs the unit as a future (the async models): a task per timer, each
/// sleeping on tokio's timer wheel until its due time.
pub async fn run_async(_task: &Task, step: &TimerStep) -> anyhow::Result<(u64, WakeOutput)> {
    let limit = tokio::time::Instant::now() + step.board.limit();
    let shape = step.shape;
    let delay = shape.delay();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..shape.timers {
        let due = tokio::time::Instant::now() + delay;
        set.spawn(async move {
            tokio::time::sleep_until(due).await;
            tokio::time::Instant::now().saturating_duration_since(due)
        });
    }
    let mut lateness = Vec::with_capacity(shape.timers as usize);
    while let Some(joined) = tokio::time::timeout_at(limit, set.join_next())
        .await
        .map_err(|_| anyhow::anyhow!("the timers had not all fired by the case timeout"))?
    {
        lateness.push(joined.map_err(|e| anyhow::anyhow!("a timer task failed: {e}"))?);
    }
    Ok(finish(lateness, &shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mechanism_fires_every_timer_no_earlier_than_due() {
        let shape = TimerShape {
            timers: 50,
            delay_ms: 2.0,
        };
        let limit = Instant::now() + Duration::from_secs(10);
        for lateness in [
            thread_per_timer(&shape).unwrap(),
            scheduler(&shape, limit).unwrap(),
        ] {
            assert_eq!(lateness.len(), 50);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let step = TimerStep {
            shape,
            board: WakeBoardRef {
                path: dir.path().join("b"),
                limit_ms: 10_000,
            },
        };
        let task = Task {
            idx: 0,
            steps: vec![],
            releases_gil: false,
        };
        let (sum, out) = rt.block_on(run_async(&task, &step)).unwrap();
        assert_eq!((sum, out.wakes), (expected_part(&shape), 50));
    }
}
