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
//! - byte 1 + i: CPU task i has computed its first chunk and keeps computing.
//!
//! `python/parabench_runner.py` (`Board`) maps the same file the same way.
//! The runner makes a fresh file for every batch: a task left over from an
//! earlier batch still maps the old, finished one.

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
pub struct Board {
    ptr: *mut u8,
    len: usize,
}

// The mapping is only ever accessed through atomics.
unsafe impl Send for Board {}
unsafe impl Sync for Board {}

impl Board {
    /// Replaces any board at `path` with a fresh, cleared one for
    /// `cpu_tasks` CPU tasks and maps it.
    pub fn create(path: &Path, cpu_tasks: u32) -> anyhow::Result<Board> {
        let _ = std::fs::remove_file(path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("creating the convoy board {}", path.display()))?;
        file.set_len(Board::size(cpu_tasks) as u64)?;
        Board::map(&file, path)
    }

    /// Maps the board a runner created at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Board> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening the convoy board {}", path.display()))?;
        Board::map(&file, path)
    }

    fn size(cpu_tasks: u32) -> usize {
        1 + cpu_tasks as usize
    }

    fn map(file: &std::fs::File, path: &Path) -> anyhow::Result<Board> {
        use std::os::fd::AsRawFd;
        let len = file.metadata()?.len() as usize;
        anyhow::ensure!(len >= 1, "the convoy board {} is empty", path.display());
        // SAFETY: a fresh shared mapping of a file we hold open; the mapping
        // outlives the descriptor and is unmapped once, in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("mapping the convoy board {}", path.display()));
        }
        Ok(Board {
            ptr: ptr.cast(),
            len,
        })
    }

    fn cell(&self, i: usize) -> &AtomicU8 {
        assert!(i < self.len, "board cell {i} out of {}", self.len);
        // SAFETY: in bounds of a live mapping; AtomicU8 has u8's layout.
        unsafe { AtomicU8::from_ptr(self.ptr.add(i)) }
    }

    /// CPU task `slot` says it is computing.
    pub fn mark_running(&self, slot: u32) {
        self.cell(1 + slot as usize).store(1, Ordering::Release);
    }

    /// How many CPU tasks said they are computing.
    pub fn running(&self) -> usize {
        (1..self.len)
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

impl Drop for Board {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped exactly once.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_see_each_others_flags_and_a_new_board_starts_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board");
        let runner = Board::create(&path, 2).unwrap();
        let task = Board::open(&path).unwrap();
        assert_eq!((task.running(), task.done()), (0, false));
        task.mark_running(1);
        assert_eq!(runner.running(), 1);
        runner.finish();
        assert!(task.done());

        // The next batch's board is a new file: the old mapping keeps its
        // finished state, the new one starts clear.
        let next = Board::create(&path, 2).unwrap();
        assert!(task.done());
        assert_eq!((next.running(), next.done()), (0, false));
    }

    #[test]
    fn a_missing_board_is_an_error_that_names_it() {
        let err = Board::open(Path::new("/nonexistent/board")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/board"), "{err:#}");
    }
}
