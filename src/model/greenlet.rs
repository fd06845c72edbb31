//! `greenlet`: each task a stackful coroutine on the calling thread,
//! switching explicitly to the next ready one between two slices of CPU
//! work (at most every `SWITCH_EVERY`), as a greenlet loop calls `switch()`. Nothing else switches: a sleep,
//! a socket or a file blocks the one thread, as in greenlet without gevent.
//! The task code is the blocking world's (`blocking::execute`); under
//! `greenlet+gil` the running coroutine holds the GIL, ticks it between
//! slices and releases it around each blocking call and each switch.

use super::coroutine::{self, GreenYielder, Wait};
use super::{Batch, BatchOutcome, Model, ModelError};
use crate::gil::{Gil, GilHolder};
use crate::workload::{Interpreter, Step, blocking};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct GreenletModel;

/// The least CPU time between two switches: a loop that switches every few
/// iterations, not at every 2 µs slice, whose switch and GIL hand-over
/// would then cost more than the work (the switch's own cost is the
/// `coroutine` workload's figure).
pub const SWITCH_EVERY: Duration = Duration::from_micros(50);

/// The interpreter hooks of a task running as a greenlet.
struct Switching<'a> {
    yielder: &'a GreenYielder,
    gil: Option<&'a Gil>,
    holder: Option<GilHolder<'a>>,
    last_switch: Instant,
}

impl Interpreter for Switching<'_> {
    fn between_slices(&mut self) {
        if let Some(h) = self.holder.as_mut() {
            h.tick();
        }
        if self.last_switch.elapsed() < SWITCH_EVERY {
            return;
        }
        // The GIL stays with the thread in CPython; here every coroutine
        // takes it on its own, so it is dropped while another one runs.
        self.holder = None;
        self.yielder.suspend(Wait::Ready);
        self.holder = self.gil.map(Gil::acquire);
        self.last_switch = Instant::now();
    }

    fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        match self.holder.as_mut() {
            Some(h) => h.allow_threads(f),
            None => f(),
        }
    }
}

impl Model for GreenletModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        refuse_coordination("greenlet", batch)?;
        let gil = batch.gil.map(|k| Arc::new(Gil::new(k)));
        let start = Instant::now();
        let make = |task| {
            let gil = gil.clone();
            coroutine::spawn(task, move |yielder, task| {
                let gil = gil.as_deref();
                let mut interp = Switching {
                    yielder,
                    gil,
                    holder: gil.map(Gil::acquire),
                    last_switch: Instant::now(),
                };
                blocking::execute(task, &mut interp)
            })
        };
        let records = coroutine::run_batch(batch, start, &make)?;
        Ok(BatchOutcome {
            records,
            wall: start.elapsed(),
            gil: gil.map(|g| g.counters()),
            ..BatchOutcome::default()
        })
    }
}

/// Fails a batch with convoy, lock or queue steps: on one thread of
/// coroutines, a task that waits for another would never let it run.
pub(super) fn refuse_coordination(model: &str, batch: &Batch) -> Result<(), ModelError> {
    let bad = batch.tasks.iter().flat_map(|t| &t.steps).find(|s| {
        matches!(
            s,
            Step::Spin { .. } | Step::Probe { .. } | Step::Lock(_) | Step::Queue(_)
        )
    });
    match bad {
        Some(step) => Err(ModelError::Task(coroutine::unsupported(model, step))),
        None => Ok(()),
    }
}
