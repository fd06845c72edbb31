//! The runner's part of the event and timer workloads: a point's units (an
//! event's setter and waiters; a timer point's one unit), a fresh board per
//! batch with what the model decides (a process-shared event or one
//! process's; the timer mechanism the model stands for), the batch check
//! (every waiter woke every round, every timer fired) and the figures
//! summed over a case's repetitions (how late each wake-up ran).

use crate::model::{BatchOutcome, ModelId};
use crate::plan::Point;
use crate::results::{Percentiles, WakeStats};
use crate::workload::lock::WaitHistogram;
use crate::workload::wake::board::Setup;
use crate::workload::wake::{EventStep, Mechanism, TimerStep, WakeBoard, WakeBoardRef, WakeOutput};
use crate::workload::{Step, Task};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn board_ref(scratch: &Path, limit: Duration) -> WakeBoardRef {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    WakeBoardRef {
        path: scratch.join(format!(
            "wake-board-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        )),
        limit_ms: limit.as_millis() as u64,
    }
}

/// An event or timer point's units, all on one board in `scratch`; None
/// at other points.
pub fn tasks(point: &Point, scratch: &Path, limit: Duration) -> Option<Vec<Task>> {
    let task = |idx: u32, step: Step| Task {
        idx,
        steps: vec![step],
        releases_gil: false,
    };
    if let Some(shape) = point.shape.event {
        let step = EventStep {
            shape,
            board: board_ref(scratch, limit),
        };
        return Some(
            (0..point.tasks as u32)
                .map(|idx| task(idx, Step::Event(step.clone())))
                .collect(),
        );
    }
    let shape = point.shape.timer?;
    let step = TimerStep {
        shape,
        board: board_ref(scratch, limit),
    };
    Some(vec![task(0, Step::Timer(step))])
}

/// A fresh board for one batch of `model`, when the tasks are event or
/// timer units.
pub fn create_board(tasks: &[Task], model: ModelId) -> anyhow::Result<Option<WakeBoard>> {
    let Some((board, waiters)) = tasks.iter().find_map(|t| {
        t.steps.iter().find_map(|s| match s {
            Step::Event(e) => Some((&e.board, e.shape.waiters)),
            Step::Timer(t) => Some((&t.board, 0)),
            _ => None,
        })
    }) else {
        return Ok(None);
    };
    let setup = Setup {
        shared: model.kind.uses_processes() && !model.kind.is_cpython(),
        waiters,
        // Read only by a native timer unit on a blocking model (thread,
        // thread-pool); event boards, the async units and the CPython
        // runner ignore it.
        mechanism: crate::plan::wake::mechanism(model).unwrap_or(Mechanism::Wheel),
    };
    WakeBoard::create(board, setup).map(Some)
}

fn outputs(outcome: &BatchOutcome) -> impl Iterator<Item = &WakeOutput> {
    outcome
        .records
        .iter()
        .filter_map(|r| r.output.wake.as_deref())
}

/// Every waiter woke every round; every timer fired (the checksums say so
/// too: this names what went wrong).
pub fn check(outcome: &BatchOutcome, point: &Point) -> Result<(), String> {
    if let Some(e) = point.shape.event {
        let waiters: Vec<&WakeOutput> = outputs(outcome).filter(|o| !o.setter).collect();
        if let Some(short) = waiters.iter().find(|o| o.wakes != u64::from(e.rounds)) {
            return Err(format!(
                "a waiter woke {} times in {} rounds",
                short.wakes, e.rounds
            ));
        }
        if waiters.len() != e.waiters as usize {
            return Err(format!(
                "{} of {} waiters reported",
                waiters.len(),
                e.waiters
            ));
        }
    }
    if let Some(t) = point.shape.timer {
        let fired: u64 = outputs(outcome).map(|o| o.wakes).sum();
        if fired != u64::from(t.timers) {
            return Err(format!("{fired} of {} timers fired", t.timers));
        }
    }
    Ok(())
}

/// An event or timer case's figures as its repetitions accumulate.
#[derive(Debug, Default)]
pub struct WakeAcc {
    late: WaitHistogram,
    p99_ms: Vec<f64>,
}

impl WakeAcc {
    pub fn record(&mut self, outcome: &BatchOutcome) {
        let mut batch = WaitHistogram::default();
        for o in outputs(outcome) {
            batch.merge(&o.late);
        }
        if let Some(p99) = batch.quantile_ns(0.99) {
            self.p99_ms.push(p99 / 1e6);
        }
        self.late.merge(&batch);
    }
}

/// An event or timer point's record in results.
pub fn stats(point: &Point, model: ModelId, acc: &WakeAcc) -> Option<WakeStats> {
    let (event, timer) = (point.shape.event, point.shape.timer);
    if event.is_none() && timer.is_none() {
        return None;
    }
    let ms = |q: f64| acc.late.quantile_ns(q).map(|ns| ns / 1e6);
    let late_ms = (|| {
        Some(Percentiles {
            p50: ms(0.5)?,
            p90: ms(0.9)?,
            p99: ms(0.99)?,
            max: ms(1.0)?,
        })
    })();
    Some(WakeStats {
        kind: if event.is_some() { "event" } else { "timer" }.into(),
        waiters: event.map(|e| e.waiters),
        rounds: event.map(|e| e.rounds),
        timers: timer.map(|t| t.timers),
        delay_ms: timer.map(|t| t.delay_ms),
        mechanism: timer
            .and_then(|_| crate::plan::wake::timer_mechanism(model))
            .map(str::to_owned),
        late_ms,
        wakes: acc.late.count(),
        p99_ms_per_repetition: acc.p99_ms.clone(),
    })
}
