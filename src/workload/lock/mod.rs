//! The `lock` workload: units that each run `sections` critical sections on
//! one shared counter, `hold_us` of work inside the lock and `outside_us`
//! outside it, under a mutex, a re-entrant lock, a semaphore or no lock at
//! all (the race, shown live). `deadlock` turns it into the note's two
//! deadlocks: a unit that takes a non-reentrant lock twice, or two units
//! that take two locks in opposite order.
//!
//! Every unit maps the same shared-memory board (`board`): the counter, each
//! unit's progress, and which lock each unit holds and waits for, so the
//! harness can watch for a wait-for cycle (`graph`) whichever model runs
//! the units. The locks themselves are the model's own kind, which the
//! runner writes on the board: parking_lot locks between threads, POSIX
//! semaphores in the board between processes (`multiprocessing.Lock` is one),
//! tokio's semaphores between async tasks. The work in and out of the lock
//! is the calibrated CPU kernel, sliced for an emulated GIL.

pub mod board;
pub mod graph;
mod hist;
mod primitives;

pub use board::{LockBoard, LockBoardRef, Scope};
pub use hist::{Recorder, WaitHistogram};

use super::{Interpreter, Kernel, Task, combine};
use anyhow::Context;
use board::UnitState;
use primitives::{AsyncLocks, BlockingLocks};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How a lock scenario's units coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Primitive {
    /// `threading.Lock`: one holder; taken again by its holder, it deadlocks.
    Mutex,
    /// `threading.RLock`: one owner, which may take it again (`depth`).
    Rlock,
    /// `threading.Semaphore(permits)`: at most `permits` units inside.
    Semaphore,
    /// No lock: the counter's read-modify-write races.
    None,
}

impl Primitive {
    pub const ALL: [Primitive; 4] = [
        Primitive::Mutex,
        Primitive::Rlock,
        Primitive::Semaphore,
        Primitive::None,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Primitive::Mutex => "mutex",
            Primitive::Rlock => "rlock",
            Primitive::Semaphore => "semaphore",
            Primitive::None => "none",
        }
    }

    pub fn from_id(id: &str) -> Option<Primitive> {
        Primitive::ALL.into_iter().find(|p| p.id() == id)
    }

    /// Whether a unit can hold it and wait for it: what a deadlock needs.
    /// (A semaphore can deadlock too, but it has no single owner, so a
    /// wait-for graph cannot name who holds it.)
    pub fn can_deadlock(self) -> bool {
        matches!(self, Primitive::Mutex | Primitive::Rlock)
    }

    /// Whether the counter must come out exact: every primitive but `none`.
    pub fn protects(self) -> bool {
        self != Primitive::None
    }
}

/// The note's two deadlocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deadlock {
    /// Each section takes its lock, then takes it again before releasing it.
    Reacquire,
    /// Even units take L1 then L2, odd units L2 then L1.
    OppositeOrder,
}

impl Deadlock {
    pub const ALL: [Deadlock; 2] = [Deadlock::Reacquire, Deadlock::OppositeOrder];

    pub fn id(self) -> &'static str {
        match self {
            Deadlock::Reacquire => "reacquire",
            Deadlock::OppositeOrder => "opposite-order",
        }
    }

    pub fn from_id(id: &str) -> Option<Deadlock> {
        Deadlock::ALL.into_iter().find(|d| d.id() == id)
    }
}

/// A lock point's task shape, before calibration turns microseconds of work
/// into kernel iterations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LockShape {
    pub primitive: Primitive,
    /// Times an rlock is taken (nested) per section; 1 elsewhere.
    pub depth: u32,
    /// A semaphore's permits; 1 elsewhere.
    pub permits: u32,
    /// Critical sections per unit.
    pub sections: u64,
    pub hold_us: f64,
    pub outside_us: f64,
    pub deadlock: Option<Deadlock>,
}

/// One unit of a lock batch, calibrated (`Step::Lock`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockStep {
    pub primitive: Primitive,
    pub depth: u32,
    pub sections: u64,
    pub kernel: Kernel,
    pub hold_iters: u64,
    pub outside_iters: u64,
    pub slice_iters: u64,
    pub deadlock: Option<Deadlock>,
    pub board: LockBoardRef,
}

/// What one unit reports besides its checksum. Times are CLOCK_MONOTONIC
/// nanoseconds, one clock for every process of the machine, so the
/// harness can span the units of different processes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOutput {
    /// Critical sections this unit completed.
    pub sections: u64,
    /// When it began its first section (after the start barrier).
    pub start_ns: u64,
    /// When it ended its last.
    pub end_ns: u64,
    /// Time each section waited to take its lock (none for `none`).
    pub waits: WaitHistogram,
    /// The first unit to finish: every unit's sections at that moment
    /// (fairness); empty for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_first_finish: Vec<u64>,
    /// The last unit to finish: the counter, every other unit done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// The last unit to finish: the most units ever inside at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub most_inside: Option<u64>,
}

/// How long a unit of an opposite-order deadlock waits for the other
/// parity to take its first lock before it goes on alone (a model that
/// runs one unit at a time never does).
const RENDEZVOUS: Duration = Duration::from_secs(1);

/// How often a waiting unit looks at the board again.
const POLL: Duration = Duration::from_micros(100);

/// The checksum part a unit that completed every section returns.
pub fn expected_part(
    idx: u32,
    step: &LockStep,
    cpu: &mut dyn FnMut(Kernel, u64, u64) -> Result<u64, crate::stop::Stopped>,
) -> Result<u64, crate::stop::Stopped> {
    let hold = cpu(step.kernel, idx as u64, step.hold_iters)?;
    let outside = cpu(step.kernel, idx as u64, step.outside_iters)?;
    Ok(part(hold, outside, step.sections))
}

fn part(hold: u64, outside: u64, sections: u64) -> u64 {
    combine(combine(hold, outside), sections)
}

/// The locks a section takes, in order: L1 (index 0), or for an odd unit
/// of an opposite-order deadlock L2 then L1.
fn order(step: &LockStep, idx: u32) -> &'static [usize] {
    match step.deadlock {
        Some(Deadlock::OppositeOrder) if idx % 2 == 1 => &[1, 0],
        Some(Deadlock::OppositeOrder) => &[0, 1],
        _ => &[0],
    }
}

/// Times a section takes each lock (nested): `depth` for an rlock, twice for
/// a reacquire deadlock, else once.
fn takes(step: &LockStep) -> u32 {
    match step.deadlock {
        Some(Deadlock::Reacquire) => 2,
        _ => step.depth.max(1),
    }
}

/// Runs one unit with blocking calls (threads, processes, pools): every wait
/// on a lock releases an emulated GIL, as CPython's `acquire` does when it
/// cannot take the lock at once.
pub fn run_blocking(
    interp: &mut impl Interpreter,
    task: &Task,
    step: &LockStep,
) -> anyhow::Result<(u64, LockOutput)> {
    let board = interp.blocking(|| LockBoard::open(&step.board.path))?;
    let locks = BlockingLocks::for_board(&board, &step.board.path)?;
    let unit = Unit::new(&board, task.idx, step);
    unit.arrive();
    let limit = Instant::now() + step.board.limit();
    while !unit.all_arrived(limit) {
        interp.blocking(|| std::thread::sleep(POLL));
    }
    let mut waits = WaitHistogram::recorder();
    let start_ns = board::monotonic_ns();
    let (mut hold, mut outside) = (0, 0);
    let work = |iters: u64, interp: &mut dyn FnMut()| {
        super::blocking::cpu_step(task.idx, step.kernel, iters, step.slice_iters, interp)
    };
    for s in 0..step.sections {
        let t0 = Instant::now();
        match step.primitive {
            Primitive::None => {
                let v = board.counter_load();
                // CPython's eval breaker may switch threads between the
                // load and the store of `counter += 1`.
                interp.between_slices();
                hold = work(step.hold_iters, &mut || interp.between_slices());
                interp.between_slices();
                board.counter_store(v + 1);
            }
            Primitive::Semaphore => {
                if !locks.try_sem(&board) {
                    interp
                        .blocking(|| locks.sem(&board))
                        .context("waiting on the semaphore")?;
                }
                waits.record(t0.elapsed());
                board.enter();
                hold = work(step.hold_iters, &mut || interp.between_slices());
                board.counter_add();
                board.leave();
                locks.sem_post(&board);
            }
            Primitive::Mutex | Primitive::Rlock => {
                let mut waited = Duration::ZERO;
                let order = order(step, task.idx);
                for (k, &which) in order.iter().enumerate() {
                    for _ in 0..takes(step) {
                        waited += unit.take(which, &mut || {
                            if locks.try_lock(&board, which) {
                                return Ok(());
                            }
                            interp.blocking(|| locks.lock(&board, which))
                        })?;
                    }
                    if k == 0 && order.len() > 1 && s == 0 && board.barrier() > 1 {
                        let until = Instant::now() + RENDEZVOUS.min(step.board.limit());
                        while !unit.other_parity_holds_first(until) {
                            interp.blocking(|| std::thread::sleep(POLL));
                        }
                    }
                }
                waits.record(waited);
                let v = board.counter_load();
                hold = work(step.hold_iters, &mut || interp.between_slices());
                board.counter_store(v + 1);
                for &which in order.iter().rev() {
                    for _ in 0..takes(step) {
                        unit.give(which, || locks.unlock(&board, which));
                    }
                }
            }
        }
        outside = work(step.outside_iters, &mut || interp.between_slices());
        unit.progress(s + 1);
    }
    if step.sections == 0 {
        hold = work(step.hold_iters, &mut || {});
        outside = work(step.outside_iters, &mut || {});
    }
    let end_ns = board::monotonic_ns();
    Ok((
        part(hold, outside, step.sections),
        unit.finish(start_ns, end_ns, waits.finish()),
    ))
}

/// Runs one unit as a future (the async models). Locks are tokio's
/// semaphores; every wait is an `.await`, and a unit yields after each
/// section, as an asyncio loop body that awaits something would, so units
/// interleave between sections but never inside one unless a lock waits.
/// `work(iters)` runs that much of the kernel (inline, or under an emulated
/// GIL).
pub async fn run_async(
    task: &Task,
    step: &LockStep,
    work: impl Fn(u64) -> u64,
) -> anyhow::Result<(u64, LockOutput)> {
    let board = LockBoard::open(&step.board.path)?;
    let locks = AsyncLocks::for_board(&board, &step.board.path)?;
    let unit = Unit::new(&board, task.idx, step);
    unit.arrive();
    let limit = Instant::now() + step.board.limit();
    while !unit.all_arrived(limit) {
        tokio::time::sleep(POLL).await;
    }
    let mut waits = WaitHistogram::recorder();
    let start_ns = board::monotonic_ns();
    let (mut hold, mut outside) = (0, 0);
    for s in 0..step.sections {
        let t0 = Instant::now();
        match step.primitive {
            Primitive::None => {
                let v = board.counter_load();
                hold = work(step.hold_iters);
                board.counter_store(v + 1);
            }
            Primitive::Semaphore => {
                locks.sem().await?;
                waits.record(t0.elapsed());
                board.enter();
                hold = work(step.hold_iters);
                board.counter_add();
                board.leave();
                locks.sem_post();
            }
            Primitive::Mutex | Primitive::Rlock => {
                let mut waited = Duration::ZERO;
                let order = order(step, task.idx);
                for (k, &which) in order.iter().enumerate() {
                    for _ in 0..takes(step) {
                        if let Some(t) = unit.try_reenter(which) {
                            waited += t;
                            continue;
                        }
                        unit.will_wait(which);
                        let t = Instant::now();
                        locks.lock(which).await?;
                        waited += t.elapsed();
                        unit.took(which);
                    }
                    if k == 0 && order.len() > 1 && s == 0 && board.barrier() > 1 {
                        let until = Instant::now() + RENDEZVOUS.min(step.board.limit());
                        while !unit.other_parity_holds_first(until) {
                            tokio::time::sleep(POLL).await;
                        }
                    }
                }
                waits.record(waited);
                let v = board.counter_load();
                hold = work(step.hold_iters);
                board.counter_store(v + 1);
                for &which in order.iter().rev() {
                    for _ in 0..takes(step) {
                        unit.give(which, || locks.unlock(which));
                    }
                }
            }
        }
        outside = work(step.outside_iters);
        unit.progress(s + 1);
        tokio::task::yield_now().await;
    }
    if step.sections == 0 {
        hold = work(step.hold_iters);
        outside = work(step.outside_iters);
    }
    let end_ns = board::monotonic_ns();
    Ok((
        part(hold, outside, step.sections),
        unit.finish(start_ns, end_ns, waits.finish()),
    ))
}

/// One unit's view of the board: what it publishes about itself, and the
/// rlock bookkeeping (owner and count live on the board, as CPython's
/// RLock keeps them in the lock).
struct Unit<'a> {
    board: &'a LockBoard,
    idx: u32,
    /// The owner id written on the board: never 0 (no owner).
    me: u64,
    rlock: bool,
}

impl<'a> Unit<'a> {
    fn new(board: &'a LockBoard, idx: u32, step: &LockStep) -> Unit<'a> {
        Unit {
            board,
            idx,
            me: idx as u64 + 1,
            rlock: step.primitive == Primitive::Rlock,
        }
    }

    fn arrive(&self) {
        self.board.set_state(self.idx, UnitState::Running);
        self.board.arrive();
    }

    /// True once the barrier is full (every unit the model runs at once
    /// has arrived); also true once `limit` has passed, to go on alone.
    fn all_arrived(&self, limit: Instant) -> bool {
        self.board.arrived() >= u64::from(self.board.barrier()) || Instant::now() >= limit
    }

    /// True once a unit of the other parity holds its first lock or is
    /// done, or `until` has passed.
    fn other_parity_holds_first(&self, until: Instant) -> bool {
        let first_of = |j: u32| if j % 2 == 1 { 1 } else { 0 };
        let others = (0..self.board.units()).filter(|j| j % 2 != self.idx % 2);
        let mut found = false;
        for j in others {
            let u = self.board.unit(j);
            if u.holds & (1 << first_of(j)) != 0 || u.state == UnitState::Finished {
                found = true;
            }
        }
        found || Instant::now() >= until
    }

    /// An rlock its owner takes again: counted, no wait.
    fn try_reenter(&self, which: usize) -> Option<Duration> {
        if self.rlock && self.board.owner(which) == self.me {
            self.board.set_count(which, self.board.count(which) + 1);
            return Some(Duration::ZERO);
        }
        None
    }

    fn will_wait(&self, which: usize) {
        self.board.set_waits(self.idx, Some(which));
    }

    fn took(&self, which: usize) {
        self.board.set_waits(self.idx, None);
        self.board.set_holds(self.idx, which, true);
        if self.rlock {
            self.board.set_owner(which, self.me);
            self.board.set_count(which, 1);
        }
    }

    /// Takes lock `which` (re-entering an owned rlock without waiting) with
    /// `acquire`, published on the board; returns the time it waited.
    fn take(
        &self,
        which: usize,
        acquire: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> anyhow::Result<Duration> {
        if let Some(t) = self.try_reenter(which) {
            return Ok(t);
        }
        self.will_wait(which);
        let t = Instant::now();
        acquire().with_context(|| format!("waiting for L{}", which + 1))?;
        let waited = t.elapsed();
        self.took(which);
        Ok(waited)
    }

    /// Gives back one hold of `which`; the lock itself (`release`) only
    /// when an rlock's count falls to 0.
    fn give(&self, which: usize, release: impl FnOnce()) {
        if self.rlock {
            let count = self.board.count(which).saturating_sub(1);
            self.board.set_count(which, count);
            if count > 0 {
                return;
            }
            self.board.set_owner(which, 0);
        }
        // Unpublished before the release: the board never names a holder
        // that has let go, so a cycle it shows is real.
        self.board.set_holds(self.idx, which, false);
        release();
    }

    fn progress(&self, sections: u64) {
        self.board.set_progress(self.idx, sections);
    }

    fn finish(&self, start_ns: u64, end_ns: u64, waits: WaitHistogram) -> LockOutput {
        let mut out = LockOutput {
            sections: self.board.unit(self.idx).progress,
            start_ns,
            end_ns,
            waits,
            ..LockOutput::default()
        };
        if self.board.first_to_finish() {
            out.at_first_finish = (0..self.board.units())
                .map(|j| self.board.unit(j).progress)
                .collect();
        }
        self.board.set_state(self.idx, UnitState::Finished);
        if self.board.finish_one() {
            out.counter = Some(self.board.counter_load());
            out.most_inside = Some(self.board.most_inside());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::board::Setup;
    use super::*;
    use crate::workload::{NoGil, Step, expected_checksum};

    fn units(dir: &std::path::Path, primitive: Primitive, n: u32) -> (LockStep, Vec<Task>) {
        let step = LockStep {
            primitive,
            depth: if primitive == Primitive::Rlock { 3 } else { 1 },
            sections: 2_000,
            kernel: Kernel::Hash,
            hold_iters: 50,
            outside_iters: 20,
            slice_iters: 10,
            deadlock: None,
            board: LockBoardRef {
                path: dir.join("board"),
                units: n,
                limit_ms: 30_000,
            },
        };
        let tasks = (0..n)
            .map(|idx| Task {
                idx,
                steps: vec![Step::Lock(step.clone())],
                releases_gil: false,
            })
            .collect();
        (step, tasks)
    }

    /// Runs every unit on a thread of its own against a fresh board.
    fn on_threads(step: &LockStep, tasks: &[Task], scope: Scope, permits: u32) -> Vec<LockOutput> {
        let board = LockBoard::create(
            &step.board.path,
            Setup {
                units: tasks.len() as u32,
                barrier: tasks.len() as u32,
                scope,
                permits,
            },
        )
        .unwrap();
        let outs: Vec<(u64, LockOutput)> = std::thread::scope(|s| {
            let handles: Vec<_> = tasks
                .iter()
                .map(|t| s.spawn(move || run_blocking(&mut NoGil, t, step).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Every unit's checksum is the reference's (a task of one step).
        for (t, (sum, _)) in tasks.iter().zip(&outs) {
            assert_eq!(combine(0, *sum), expected_checksum(t), "unit {}", t.idx);
        }
        assert_eq!(
            board.counter_load(),
            outs.iter().map(|(_, o)| o.sections).sum::<u64>()
        );
        outs.into_iter().map(|(_, o)| o).collect()
    }

    #[test]
    fn every_lock_keeps_the_counter_exact_in_both_scopes() {
        for scope in [Scope::Process, Scope::Shared] {
            for primitive in [Primitive::Mutex, Primitive::Rlock, Primitive::Semaphore] {
                let dir = tempfile::tempdir().unwrap();
                let (step, tasks) = units(dir.path(), primitive, 4);
                let outs = on_threads(&step, &tasks, scope, 2);
                let last: Vec<&LockOutput> = outs.iter().filter(|o| o.counter.is_some()).collect();
                assert_eq!(last.len(), 1, "{primitive:?} {scope:?}: one last unit");
                assert_eq!(last[0].counter, Some(4 * 2_000));
                let first = outs
                    .iter()
                    .filter(|o| !o.at_first_finish.is_empty())
                    .count();
                assert_eq!(first, 1, "one first unit");
                assert!(
                    outs.iter()
                        .all(|o| o.waits.count() == 2_000 && o.end_ns > o.start_ns)
                );
                if primitive == Primitive::Semaphore {
                    let most = last[0].most_inside.unwrap();
                    assert!(
                        (1..=2).contains(&most),
                        "{most} inside a 2-permit semaphore"
                    );
                }
            }
        }
    }

    #[test]
    fn without_a_lock_updates_can_be_lost_but_never_made_up() {
        let dir = tempfile::tempdir().unwrap();
        let (step, tasks) = units(dir.path(), Primitive::None, 2);
        let board = LockBoard::create(
            &step.board.path,
            Setup {
                units: 2,
                barrier: 2,
                scope: Scope::Process,
                permits: 1,
            },
        )
        .unwrap();
        let outs: Vec<LockOutput> = std::thread::scope(|s| {
            let handles: Vec<_> = tasks
                .iter()
                .map(|t| s.spawn(|| run_blocking(&mut NoGil, t, &step).unwrap().1))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let counter = outs.iter().find_map(|o| o.counter).unwrap();
        assert!((2_000..=4_000).contains(&counter), "{counter}");
        assert_eq!(board.counter_load(), counter);
        assert!(
            outs.iter().all(|o| o.waits.count() == 0),
            "no lock, no wait"
        );
    }

    #[test]
    fn async_units_share_tokio_locks() {
        let dir = tempfile::tempdir().unwrap();
        for primitive in [Primitive::Mutex, Primitive::Rlock, Primitive::Semaphore] {
            let (mut step, tasks) = units(dir.path(), primitive, 3);
            step.board.path = dir.path().join(primitive.id());
            let _board = LockBoard::create(
                &step.board.path,
                Setup {
                    units: 3,
                    barrier: 3,
                    scope: Scope::Process,
                    permits: 2,
                },
            )
            .unwrap();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let outs: Vec<LockOutput> = rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for t in tasks.clone() {
                    let step = step.clone();
                    set.spawn(async move {
                        let work = |iters| {
                            super::super::blocking::cpu_step(
                                t.idx,
                                step.kernel,
                                iters,
                                10,
                                &mut || {},
                            )
                        };
                        run_async(&t, &step, work).await.unwrap().1
                    });
                }
                let mut outs = Vec::new();
                while let Some(o) = set.join_next().await {
                    outs.push(o.unwrap());
                }
                outs
            });
            assert_eq!(
                outs.iter().find_map(|o| o.counter),
                Some(6_000),
                "{primitive:?}"
            );
        }
    }

    #[test]
    fn the_board_shows_a_reacquired_mutex_as_a_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let (mut step, tasks) = units(dir.path(), Primitive::Mutex, 1);
        step.deadlock = Some(Deadlock::Reacquire);
        let board = LockBoard::create(
            &step.board.path,
            Setup {
                units: 1,
                barrier: 1,
                scope: Scope::Shared,
                permits: 1,
            },
        )
        .unwrap();
        // The unit blocks for ever on its own semaphore; the thread is
        // left behind, blocked, when the test ends (what a contained child
        // is for).
        let task = tasks[0].clone();
        std::thread::spawn(move || run_blocking(&mut NoGil, &task, &step));
        let mut watch = graph::Watch::new();
        let until = Instant::now() + Duration::from_secs(10);
        let found = loop {
            if let Some(c) = watch.poll(&board) {
                break c;
            }
            assert!(Instant::now() < until, "no deadlock seen");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(found, "unit 0 holds L1 and waits for L1");
    }
}
