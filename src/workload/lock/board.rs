//! The lock board: the shared memory a lock batch's units meet on, whichever
//! model runs them. A file in the run's scratch directory, made fresh by
//! the runner for every batch and mapped `MAP_SHARED` by every unit, by the
//! harness (which watches it for a deadlock) and by the CPython runner.
//!
//! Layout, every cell a little-endian u64 at an 8-byte aligned offset
//! (`python/parabench_runner.py`'s `LockBoard` uses the same offsets):
//! - header: `units`, `barrier` (units the model runs at once; the start
//!   barrier waits for that many), `scope` (0: the units share one
//!   process, 1: processes), `permits`, the `counter`, `arrived`,
//!   `finished`, `inside` and `most_inside` (units inside a semaphore),
//!   `first_done`, and per lock L1, L2 the rlock `owner` (unit + 1, 0 for
//!   none) and `count`;
//! - three POSIX semaphores (L1, L2, the semaphore), used by processes;
//! - per unit: `progress` (sections done), `holds` (bit 0: L1, bit 1: L2),
//!   `waits` (0: none, 1: L1, 2: L2) and `state` (0 not started, 1
//!   running, 2 finished).
//!
//! A unit publishes `waits` before it blocks and clears it once it holds the
//! lock; it sets `holds` after taking a lock and clears it before letting
//! go. So a holder the board names really holds the lock, and a wait-for
//! cycle the board shows (`graph`) that stays put is a deadlock.

use crate::workload::shm::{Mapping, SEM_SLOT, Sem};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::workload::shm::monotonic_ns;

/// Where a lock batch's units find their board, and how long any of them
/// may wait on it (the case timeout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockBoardRef {
    pub path: PathBuf,
    pub units: u32,
    pub limit_ms: u64,
}

impl LockBoardRef {
    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms)
    }
}

/// Whose locks the units take: the model decides, the runner writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Threads or tasks of one process: parking_lot and tokio locks.
    Process,
    /// Processes: POSIX semaphores in the board.
    Shared,
}

/// One unit as the board shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnitView {
    pub progress: u64,
    /// Bit 0: holds L1; bit 1: holds L2.
    pub holds: u64,
    /// The lock it waits for (0: L1, 1: L2), if any.
    pub waits: Option<usize>,
    pub state: UnitState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnitState {
    #[default]
    NotStarted,
    Running,
    Finished,
}

// Header cells, by index (× 8 for the byte offset).
const UNITS: usize = 0;
const BARRIER: usize = 1;
const SCOPE: usize = 2;
const PERMITS: usize = 3;
const COUNTER: usize = 4;
const ARRIVED: usize = 5;
const FINISHED: usize = 6;
const INSIDE: usize = 7;
const MOST_INSIDE: usize = 8;
const FIRST_DONE: usize = 9;
const OWNER: [usize; 2] = [10, 12];
const COUNT: [usize; 2] = [11, 13];
/// Bytes of the header; the semaphores follow.
const HEADER: usize = 128;
const SEMS: usize = 3;
/// Where the units' cells start.
const UNITS_AT: usize = HEADER + SEM_SLOT * SEMS;
const UNIT_CELLS: usize = 4;

/// The most units a board holds (the `workers` bound of lock scenarios is
/// far below).
pub const MAX_UNITS: u32 = 1 << 16;

/// What the runner writes on a fresh board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    pub units: u32,
    /// Units the model runs at once (1 for the sequential models).
    pub barrier: u32,
    pub scope: Scope,
    pub permits: u32,
}

/// One mapping of a lock board.
#[derive(Debug)]
pub struct LockBoard {
    map: Mapping,
    units: u32,
    /// The runner's board keeps its in-process locks alive for the batch.
    _keep: Option<super::primitives::Keep>,
}

impl LockBoard {
    fn size(units: u32) -> usize {
        UNITS_AT + units as usize * UNIT_CELLS * 8
    }

    /// Replaces any board at `path` with a fresh one and maps it; in the
    /// shared scope it initialises the process-shared semaphores.
    pub fn create(path: &Path, setup: Setup) -> anyhow::Result<LockBoard> {
        anyhow::ensure!(
            (1..=MAX_UNITS).contains(&setup.units) && setup.permits >= 1,
            "a lock board needs 1 to {MAX_UNITS} units and at least one permit"
        );
        let board = LockBoard {
            map: Mapping::create(path, LockBoard::size(setup.units), "lock board")?,
            units: setup.units,
            _keep: (setup.scope == Scope::Process)
                .then(|| super::primitives::keep(path, setup.permits)),
        };
        board
            .cell(UNITS)
            .store(setup.units.into(), Ordering::Relaxed);
        board.cell(BARRIER).store(
            setup.barrier.clamp(1, setup.units).into(),
            Ordering::Relaxed,
        );
        let scope = match setup.scope {
            Scope::Process => 0,
            Scope::Shared => 1,
        };
        board.cell(SCOPE).store(scope, Ordering::Relaxed);
        board
            .cell(PERMITS)
            .store(setup.permits.into(), Ordering::Relaxed);
        if setup.scope == Scope::Shared {
            for (slot, value) in [(0, 1), (1, 1), (2, setup.permits)] {
                board.sem(slot).init(value)?;
            }
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        Ok(board)
    }

    /// Maps the board the runner created at `path`.
    pub fn open(path: &Path) -> anyhow::Result<LockBoard> {
        let map = Mapping::open(path, UNITS_AT, "lock board")?;
        let units = map.at(UNITS * 8).load(Ordering::Acquire);
        anyhow::ensure!(
            units <= u64::from(MAX_UNITS) && LockBoard::size(units as u32) <= map.len(),
            "the lock board {} claims {units} units but is {} bytes",
            path.display(),
            map.len()
        );
        Ok(LockBoard {
            map,
            units: units as u32,
            _keep: None,
        })
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        self.map.at(i * 8)
    }

    fn unit_cell(&self, unit: u32, field: usize) -> &AtomicU64 {
        assert!(unit < self.units, "unit {unit} of {}", self.units);
        self.map
            .at(UNITS_AT + (unit as usize * UNIT_CELLS + field) * 8)
    }

    /// Process-shared semaphore `slot` (0: L1, 1: L2, 2: the semaphore).
    pub(super) fn sem(&self, slot: usize) -> Sem {
        assert!(slot < SEMS);
        self.map.sem(HEADER + slot * SEM_SLOT)
    }

    pub fn units(&self) -> u32 {
        self.units
    }

    pub fn barrier(&self) -> u32 {
        self.cell(BARRIER).load(Ordering::Acquire) as u32
    }

    pub fn scope(&self) -> Scope {
        match self.cell(SCOPE).load(Ordering::Acquire) {
            0 => Scope::Process,
            _ => Scope::Shared,
        }
    }

    pub fn permits(&self) -> u32 {
        self.cell(PERMITS).load(Ordering::Acquire).max(1) as u32
    }

    /// The counter's plain load and store: `counter += 1` in two steps, as
    /// Python does it, so that without a lock updates get lost.
    pub fn counter_load(&self) -> u64 {
        self.cell(COUNTER).load(Ordering::Acquire)
    }

    pub fn counter_store(&self, v: u64) {
        self.cell(COUNTER).store(v, Ordering::Release);
    }

    /// One atomic increment (inside a semaphore, where several units may be
    /// at once: the semaphore bounds them, it does not exclude them).
    pub fn counter_add(&self) {
        self.cell(COUNTER).fetch_add(1, Ordering::AcqRel);
    }

    pub fn arrive(&self) {
        self.cell(ARRIVED).fetch_add(1, Ordering::AcqRel);
    }

    pub fn arrived(&self) -> u64 {
        self.cell(ARRIVED).load(Ordering::Acquire)
    }

    /// A unit enters a semaphore's section.
    pub fn enter(&self) {
        let now = self.cell(INSIDE).fetch_add(1, Ordering::AcqRel) + 1;
        self.cell(MOST_INSIDE).fetch_max(now, Ordering::AcqRel);
    }

    pub fn leave(&self) {
        self.cell(INSIDE).fetch_sub(1, Ordering::AcqRel);
    }

    pub fn most_inside(&self) -> u64 {
        self.cell(MOST_INSIDE).load(Ordering::Acquire)
    }

    /// True for the one caller that finishes first.
    pub fn first_to_finish(&self) -> bool {
        self.cell(FIRST_DONE).swap(1, Ordering::AcqRel) == 0
    }

    /// Counts one more unit finished; true for the last one, which then
    /// sees every other unit's writes.
    pub fn finish_one(&self) -> bool {
        self.cell(FINISHED).fetch_add(1, Ordering::AcqRel) + 1 == u64::from(self.units)
    }

    pub fn owner(&self, lock: usize) -> u64 {
        self.cell(OWNER[lock]).load(Ordering::Acquire)
    }

    pub fn set_owner(&self, lock: usize, owner: u64) {
        self.cell(OWNER[lock]).store(owner, Ordering::Release);
    }

    pub fn count(&self, lock: usize) -> u64 {
        self.cell(COUNT[lock]).load(Ordering::Acquire)
    }

    pub fn set_count(&self, lock: usize, n: u64) {
        self.cell(COUNT[lock]).store(n, Ordering::Release);
    }

    pub fn unit(&self, unit: u32) -> UnitView {
        let waits = self.unit_cell(unit, 2).load(Ordering::Acquire);
        UnitView {
            progress: self.unit_cell(unit, 0).load(Ordering::Acquire),
            holds: self.unit_cell(unit, 1).load(Ordering::Acquire),
            waits: (1..=2).contains(&waits).then(|| waits as usize - 1),
            state: match self.unit_cell(unit, 3).load(Ordering::Acquire) {
                0 => UnitState::NotStarted,
                1 => UnitState::Running,
                _ => UnitState::Finished,
            },
        }
    }

    pub fn set_progress(&self, unit: u32, sections: u64) {
        self.unit_cell(unit, 0).store(sections, Ordering::Release);
    }

    pub fn set_holds(&self, unit: u32, lock: usize, held: bool) {
        let bit = 1u64 << lock;
        let cell = self.unit_cell(unit, 1);
        if held {
            cell.fetch_or(bit, Ordering::AcqRel);
        } else {
            cell.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    pub fn set_waits(&self, unit: u32, lock: Option<usize>) {
        let v = lock.map_or(0, |l| l as u64 + 1);
        self.unit_cell(unit, 2).store(v, Ordering::Release);
    }

    pub fn set_state(&self, unit: u32, state: UnitState) {
        let v = match state {
            UnitState::NotStarted => 0,
            UnitState::Running => 1,
            UnitState::Finished => 2,
        };
        self.unit_cell(unit, 3).store(v, Ordering::Release);
    }

    /// Every unit as the board shows it now.
    pub fn snapshot(&self) -> Vec<UnitView> {
        (0..self.units).map(|u| self.unit(u)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(units: u32) -> Setup {
        Setup {
            units,
            barrier: units,
            scope: Scope::Shared,
            permits: 2,
        }
    }

    #[test]
    fn two_mappings_share_every_cell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock-board");
        let runner = LockBoard::create(&path, setup(3)).unwrap();
        let unit = LockBoard::open(&path).unwrap();
        assert_eq!((unit.units(), unit.barrier(), unit.permits()), (3, 3, 2));
        assert_eq!(runner.snapshot().len(), 3);
        assert_eq!(unit.scope(), Scope::Shared);
        unit.counter_store(41);
        runner.counter_add();
        assert_eq!(unit.counter_load(), 42);
        unit.set_holds(2, 1, true);
        unit.set_waits(2, Some(0));
        unit.set_progress(2, 7);
        unit.set_state(2, UnitState::Running);
        assert_eq!(
            runner.unit(2),
            UnitView {
                progress: 7,
                holds: 2,
                waits: Some(0),
                state: UnitState::Running
            }
        );
        assert!(runner.first_to_finish() && !unit.first_to_finish());
        assert!(!unit.finish_one() && !unit.finish_one() && runner.finish_one());
        // The next batch's board starts clear.
        let next = LockBoard::create(&path, setup(3)).unwrap();
        assert_eq!(next.counter_load(), 0);
        assert_eq!(next.unit(2), UnitView::default());
    }

    #[test]
    fn a_board_that_lies_about_its_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock-board");
        let board = LockBoard::create(&path, setup(2)).unwrap();
        board.cell(UNITS).store(1 << 40, Ordering::Relaxed);
        let err = LockBoard::open(&path).unwrap_err();
        assert!(format!("{err:#}").contains("claims"), "{err:#}");
        assert!(LockBoard::open(Path::new("/nonexistent/board")).is_err());
    }
}
