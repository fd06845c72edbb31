//! The `event` and `timer` workloads: a unit waits, something wakes it, and
//! the figure is how late it runs. `event`: one setter and N waiters, round
//! after round; each waiter measures from the setter's `set()` until it runs
//! again (`event.rs`). `timer`: one unit arms N timers of one delay and each
//! measures how late it fired (`timer.rs`), by the mechanism the model stands
//! for. `board.rs` is the shared memory both meet on, with its futex words.
//!
//! What the model decides and the workload cannot know (a process-shared
//! event or one process's, which timer mechanism) is on the board, written
//! by the runner per batch, as the lock board carries whose locks.

pub mod board;
pub mod event;
pub mod timer;

pub use board::{Mechanism, WakeBoard, WakeBoardRef};
pub use event::{EventShape, EventStep};
pub use timer::{TimerShape, TimerStep};

use super::lock::WaitHistogram;
use serde::{Deserialize, Serialize};

/// What one unit of an event or timer batch reports besides its checksum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeOutput {
    /// The event's setter (it measures nothing itself).
    #[serde(default)]
    pub setter: bool,
    /// Wake-ups this unit saw: an event waiter's rounds, a timer unit's
    /// timers fired.
    pub wakes: u64,
    /// From `set()` to the waiter running again, or from a timer's due
    /// time to its callback running (its lateness).
    pub late: WaitHistogram,
}
