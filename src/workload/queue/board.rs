//! The queue board: the counters a queue batch's producers and consumers
//! share, whichever model runs them, and for processes the semaphores of
//! their pipe-backed queue (free slots, the writers' and the readers'
//! locks, as `multiprocessing.Queue` has them). A file in the scratch
//! directory, fresh per batch; the FIFO beside it (`<board>.fifo`) carries
//! the items between processes. `python/parabench_runner.py`'s
//! `QueueBoard` maps the same cells.
//!
//! Cells (u64 each): `units`, `scope` (0: one process, 1: processes),
//! `producers`, `consumers`, `capacity`, `producers_done` (producers that
//! put their last item), `unfinished` (joinable: items put and not yet
//! `task_done`), `done` (the main work is over: daemon consumers end),
//! `first_put_ns`; then three semaphores: free slots, the writers' lock,
//! the readers' lock.

use crate::workload::shm::{Mapping, SEM_SLOT, Sem};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where a queue batch's units find their board, and how long any of them
/// may wait (the case timeout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueBoardRef {
    pub path: PathBuf,
    pub limit_ms: u64,
}

impl QueueBoardRef {
    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms)
    }

    /// The FIFO processes send items through.
    pub fn fifo(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".fifo");
        PathBuf::from(p)
    }
}

const UNITS: usize = 0;
const SCOPE: usize = 1;
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 3;
const CAPACITY: usize = 4;
const PRODUCERS_DONE: usize = 5;
const UNFINISHED: usize = 6;
const DONE: usize = 7;
const HEADER: usize = 128;
const SEMS: usize = 3;
const SIZE: usize = HEADER + SEMS * SEM_SLOT;

/// Which semaphore.
#[derive(Debug, Clone, Copy)]
pub enum Slot {
    /// Free places in the queue: a put takes one, a get gives one back.
    Free = 0,
    /// One writer at a time on the FIFO (a frame is written whole).
    Writers = 1,
    /// One reader at a time (a frame is read whole).
    Readers = 2,
}

/// What the runner writes on a fresh board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    pub producers: u32,
    pub consumers: u32,
    pub capacity: u32,
    /// The units are processes: the semaphores and the FIFO are used.
    pub shared: bool,
}

#[derive(Debug)]
pub struct QueueBoard {
    map: Mapping,
    /// The runner's board keeps its in-process queue alive for the batch.
    _keep: Option<super::transport::Keep>,
    /// And the FIFO open: a pipe drops what it holds when its last
    /// descriptor closes, so a consumer that starts after every other unit
    /// has finished would lose its sentinel.
    _fifo: Option<std::fs::File>,
}

impl QueueBoard {
    /// A fresh board at `path`, and for processes the FIFO beside it.
    pub fn create(r: &QueueBoardRef, setup: Setup) -> anyhow::Result<QueueBoard> {
        anyhow::ensure!(
            setup.producers >= 1 && setup.consumers >= 1 && setup.capacity >= 1,
            "a queue needs a producer, a consumer and room for an item"
        );
        let mut board = QueueBoard {
            map: Mapping::create(&r.path, SIZE, "queue board")?,
            _keep: (!setup.shared).then(|| super::transport::keep(&r.path, setup.capacity)),
            _fifo: None,
        };
        let units = u64::from(setup.producers) + u64::from(setup.consumers);
        for (cell, v) in [
            (UNITS, units),
            (SCOPE, u64::from(setup.shared)),
            (PRODUCERS, setup.producers.into()),
            (CONSUMERS, setup.consumers.into()),
            (CAPACITY, setup.capacity.into()),
        ] {
            board.cell(cell).store(v, Ordering::Relaxed);
        }
        if setup.shared {
            board.sem(Slot::Free).init(setup.capacity)?;
            board.sem(Slot::Writers).init(1)?;
            board.sem(Slot::Readers).init(1)?;
            make_fifo(&r.fifo())?;
            board._fifo = Some(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(r.fifo())?,
            );
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        Ok(board)
    }

    pub fn open(path: &Path) -> anyhow::Result<QueueBoard> {
        Ok(QueueBoard {
            map: Mapping::open(path, SIZE, "queue board")?,
            _keep: None,
            _fifo: None,
        })
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        self.map.at(i * 8)
    }

    pub fn sem(&self, slot: Slot) -> Sem {
        self.map.sem(HEADER + slot as usize * SEM_SLOT)
    }

    pub fn shared(&self) -> bool {
        self.cell(SCOPE).load(Ordering::Acquire) != 0
    }

    pub fn producers(&self) -> u32 {
        self.cell(PRODUCERS).load(Ordering::Acquire) as u32
    }

    pub fn consumers(&self) -> u32 {
        self.cell(CONSUMERS).load(Ordering::Acquire) as u32
    }

    pub fn capacity(&self) -> u32 {
        self.cell(CAPACITY).load(Ordering::Acquire).max(1) as u32
    }

    /// A producer has put its last item; true for the last producer.
    pub fn producer_done(&self) -> bool {
        self.cell(PRODUCERS_DONE).fetch_add(1, Ordering::AcqRel) + 1 == u64::from(self.producers())
    }

    pub fn all_produced(&self) -> bool {
        self.cell(PRODUCERS_DONE).load(Ordering::Acquire) >= u64::from(self.producers())
    }

    /// Joinable: an item was put.
    pub fn put_one(&self) {
        self.cell(UNFINISHED).fetch_add(1, Ordering::AcqRel);
    }

    /// Joinable: an item is done; true when it was the last outstanding one.
    pub fn task_done(&self) -> bool {
        self.cell(UNFINISHED).fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Every producer finished and every item put was marked done.
    pub fn all_done(&self) -> bool {
        self.all_produced() && self.cell(UNFINISHED).load(Ordering::Acquire) == 0
    }

    /// The main work is over: daemon consumers end.
    pub fn finish(&self) {
        self.cell(DONE).store(1, Ordering::Release);
    }

    pub fn finished(&self) -> bool {
        self.cell(DONE).load(Ordering::Acquire) != 0
    }
}

fn make_fifo(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path that lives for the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error())
            .map_err(|e| anyhow::anyhow!("creating the queue's FIFO {}: {e}", path.display()));
    }
    Ok(())
}
