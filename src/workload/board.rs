//! The convoy's board: a few bytes of shared memory through which a convoy's
//! CPU tasks and its probe agree on when timing starts and when it ends,
//! whichever model runs them (threads of one process, pool workers, or the
//! CPython runner and its children).
//!
//! It is a small file in the run's scratch directory, mapped `MAP_SHARED` by
//! every task that uses it. Layout, one byte per flag (a byte store is atomic
//! everywhere, so no reader sees half a write):
//! - byte 0: done: the probe sets it after its last round trip, or the runner
//!   when the batch ends for any reason (failure, timeout, Ctrl-C);
//! - bytes 1..5: the CPU the tasks pin their thread to while they take part,
//!   u32 little-endian, `u32::MAX` for none (written once, before any task
//!   opens the board);
//! - byte 5 + i: CPU task i has computed its first chunk and keeps computing.
//!
//! Why pin: threads that share one GIL (`thread+gil`, `cpython-thread`) hand
//! it over through a race. After its send the probe takes the GIL back,
//! unless the CPU thread it woke a moment before gets there first; and who
//! gets there first depends on whether that CPU thread wakes on the probe's
//! core or on another one, and how fast another core wakes. Unpinned, real
//! CPython's round trip on a 2-core VM waited one switch interval in some runs
//! and two in others (5.2 and 10.4 ms at 5 ms); with the probe and its CPU
//! threads on one core it waited one interval in every run, as the emulation
//! does. Only one of these threads computes at a time anyway (they share the
//! GIL), so one core costs them nothing.
//!
//! `python/parabench_runner.py` (`Board`) maps the same file the same way.
//! The runner makes a fresh file for every batch: a task left over from an
//! earlier batch still maps the old, finished one.

use super::shm::Mapping;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Where a convoy's tasks find their board, and how long any of them may
/// wait on it before giving up (the case timeout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardRef {
    pub path: PathBuf,
    /// CPU tasks the probe waits for (task indexes `0..cpu_tasks`).
    pub cpu_tasks: u32,
    /// The longest a CPU task computes, or the probe waits for the CPU tasks,
    /// before it fails: no wait is without a deadline.
    pub limit_ms: u64,
}

impl BoardRef {
    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms)
    }
}

/// One mapping of a board file.
#[derive(Debug)]
pub struct Board(Mapping);

/// What errors call the file.
const WHAT: &str = "convoy board";

impl Board {
    /// Replaces any board at `path` with a fresh, cleared one for
    /// `cpu_tasks` CPU tasks, whose tasks pin their thread to `pin` (a CPU
    /// number), and maps it.
    pub fn create(path: &Path, cpu_tasks: u32, pin: Option<u32>) -> anyhow::Result<Board> {
        let board = Board(Mapping::create(path, Board::size(cpu_tasks), WHAT)?);
        for (i, byte) in pin.unwrap_or(NO_PIN).to_le_bytes().into_iter().enumerate() {
            board.cell(1 + i).store(byte, Ordering::Release);
        }
        Ok(board)
    }

    /// Maps the board a runner created at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Board> {
        Ok(Board(Mapping::open(path, FLAGS, WHAT)?))
    }

    fn size(cpu_tasks: u32) -> usize {
        FLAGS + cpu_tasks as usize
    }

    fn cell(&self, i: usize) -> &AtomicU8 {
        self.0.byte(i)
    }

    /// CPU task `slot` says it is computing.
    pub fn mark_running(&self, slot: u32) {
        self.cell(FLAGS + slot as usize).store(1, Ordering::Release);
    }

    /// The CPU this convoy's tasks run on, if the runner pinned them.
    pub fn pin(&self) -> Option<u32> {
        let bytes = [1, 2, 3, 4].map(|i| self.cell(i).load(Ordering::Acquire));
        Some(u32::from_le_bytes(bytes)).filter(|&cpu| cpu != NO_PIN)
    }

    /// Pins the calling thread to the board's CPU, if it has one, until the
    /// returned guard drops. A pool thread goes back to its own CPUs after
    /// the task.
    pub fn pin_this_thread(&self) -> anyhow::Result<Option<PinnedThread>> {
        self.pin().map(PinnedThread::to).transpose()
    }

    /// How many CPU tasks said they are computing.
    pub fn running(&self) -> usize {
        (FLAGS..self.0.len())
            .filter(|&i| self.cell(i).load(Ordering::Acquire) != 0)
            .count()
    }

    /// Ends the convoy: every CPU task stops after its current chunk.
    pub fn finish(&self) {
        self.cell(0).store(1, Ordering::Release);
    }

    pub fn done(&self) -> bool {
        self.cell(0).load(Ordering::Acquire) != 0
    }
}

/// The header's bytes: done, then the pinned CPU.
const FLAGS: usize = 5;
const NO_PIN: u32 = u32::MAX;

/// The calling thread's CPUs before [`Board::pin_this_thread`]; dropping it
/// gives them back.
pub struct PinnedThread {
    before: libc::cpu_set_t,
}

impl PinnedThread {
    fn to(cpu: u32) -> anyhow::Result<PinnedThread> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        anyhow::ensure!(
            (cpu as usize) < 8 * size,
            "convoy board: CPU {cpu} is beyond what a CPU set holds"
        );
        // SAFETY: a zeroed cpu_set_t is a valid empty set; pid 0 is the
        // calling thread; the sets live for the calls.
        unsafe {
            let mut before: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut before) != 0 {
                return Err(std::io::Error::last_os_error()).context("reading this thread's CPUs");
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut one);
            if libc::sched_setaffinity(0, size, &one) != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("pinning a convoy thread to CPU {cpu}"));
            }
            Ok(PinnedThread { before })
        }
    }
}

impl Drop for PinnedThread {
    fn drop(&mut self) {
        // SAFETY: as in `to`; the set was read from this very thread.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.before);
        }
    }
}

/// The CPU a convoy pins its GIL-sharing threads to: the last one this
/// process may run on, so the first (where the kernel starts most work)
/// stays freer for the echo server and the harness.
pub fn convoy_cpu() -> Option<u32> {
    // SAFETY: as in `PinnedThread::to`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .map(|cpu| cpu as u32)
    }
}

/// Marks its board done when dropped, so a probe ends the convoy however it
/// ends (an error, a panic).
pub struct FinishOnDrop(pub Board);

impl FinishOnDrop {
    /// Whether every CPU task of `board_ref` runs yet; an error once `limit`
    /// has passed without. The probe polls this, sleeping its own way.
    pub fn all_running(&self, board_ref: &BoardRef, limit: Instant) -> anyhow::Result<bool> {
        let running = self.0.running();
        if running >= board_ref.cpu_tasks as usize {
            return Ok(true);
        }
        anyhow::ensure!(
            Instant::now() < limit,
            "convoy probe: {running} of {} CPU tasks running after {:?}",
            board_ref.cpu_tasks,
            board_ref.limit()
        );
        Ok(false)
    }
}

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_see_each_others_flags_and_a_new_board_starts_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board");
        let runner = Board::create(&path, 2, None).unwrap();
        let task = Board::open(&path).unwrap();
        assert_eq!((task.running(), task.done(), task.pin()), (0, false, None));
        task.mark_running(1);
        assert_eq!(runner.running(), 1);
        runner.finish();
        assert!(task.done());

        // The next batch's board is a new file: the old mapping keeps its
        // finished state, the new one starts clear.
        let next = Board::create(&path, 2, Some(300)).unwrap();
        assert!(task.done());
        assert_eq!((next.running(), next.done()), (0, false));
        assert_eq!(Board::open(&path).unwrap().pin(), Some(300));
    }

    #[test]
    fn a_pinned_thread_runs_on_the_boards_cpu_and_gets_its_cpus_back() {
        let allowed = || {
            // SAFETY: as in `PinnedThread::to`.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
                (0..libc::CPU_SETSIZE as usize)
                    .filter(|&c| libc::CPU_ISSET(c, &set))
                    .collect::<Vec<_>>()
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let cpu = convoy_cpu().expect("this process runs on some CPU");
        let path = dir.path().join("board");
        let _runner = Board::create(&path, 1, Some(cpu)).unwrap();
        std::thread::spawn(move || {
            let before = allowed();
            let board = Board::open(&path).unwrap();
            {
                let _pinned = board
                    .pin_this_thread()
                    .unwrap()
                    .expect("the board has a CPU");
                assert_eq!(allowed(), [cpu as usize]);
                // SAFETY: no arguments.
                assert_eq!(unsafe { libc::sched_getcpu() }, cpu as i32);
            }
            assert_eq!(allowed(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_missing_board_is_an_error_that_names_it() {
        let err = Board::open(Path::new("/nonexistent/board")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/board"), "{err:#}");
    }
}
