//! The locks themselves, by scope: between threads of one process,
//! parking_lot's raw mutexes and a counting semaphore of a parking_lot
//! mutex and condition variable (what `threading.Semaphore` is: a
//! `Condition` and a counter); between processes, the board's POSIX
//! semaphores (`multiprocessing.Lock` is a `sem_t` of value 1); between
//! async tasks, tokio's semaphores (tokio's `Mutex` is a one-permit
//! semaphore). Threads and tasks of one process find the same locks
//! through a registry keyed by the board's path.

use super::board::{LockBoard, Scope};
use parking_lot::lock_api::RawMutex as _;
use std::path::Path;
use std::sync::Arc;

/// The locks of one board, for the units of one process.
pub struct InProcess {
    locks: [parking_lot::RawMutex; 2],
    sem: (parking_lot::Mutex<u32>, parking_lot::Condvar),
    tokio_locks: [tokio::sync::Semaphore; 2],
    tokio_sem: tokio::sync::Semaphore,
}

impl InProcess {
    fn new(permits: u32) -> InProcess {
        InProcess {
            locks: [parking_lot::RawMutex::INIT, parking_lot::RawMutex::INIT],
            sem: (
                parking_lot::Mutex::new(permits),
                parking_lot::Condvar::new(),
            ),
            tokio_locks: [
                tokio::sync::Semaphore::new(1),
                tokio::sync::Semaphore::new(1),
            ],
            tokio_sem: tokio::sync::Semaphore::new(permits as usize),
        }
    }
}

static REGISTRY: crate::workload::shm::ByPath<InProcess> = crate::workload::shm::ByPath::new();

fn in_process(path: &Path, permits: u32) -> Arc<InProcess> {
    REGISTRY.get_or_make(path, || InProcess::new(permits))
}

/// Holds a board's in-process locks for as long as it lives: a unit that
/// starts late still finds the locks the others use, even when every unit
/// before it has finished (and dropped them).
pub struct Keep(#[allow(dead_code)] Arc<InProcess>);

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keep")
    }
}

pub(super) fn keep(path: &Path, permits: u32) -> Keep {
    Keep(in_process(path, permits))
}

/// Locks for blocking units (threads and processes).
pub(super) enum BlockingLocks {
    InProcess(Arc<InProcess>),
    Shared,
}

impl BlockingLocks {
    pub(super) fn for_board(board: &LockBoard, path: &Path) -> anyhow::Result<BlockingLocks> {
        Ok(match board.scope() {
            Scope::Process => BlockingLocks::InProcess(in_process(path, board.permits())),
            Scope::Shared => BlockingLocks::Shared,
        })
    }

    pub(super) fn try_lock(&self, board: &LockBoard, which: usize) -> bool {
        match self {
            // The guard is a zero-sized marker: the lock stays held until
            // `unlock`.
            BlockingLocks::InProcess(p) => p.locks[which].try_lock().is_some(),
            BlockingLocks::Shared => board.sem(which).try_wait(),
        }
    }

    /// Blocks until lock `which` is taken: a lock taken twice by its holder
    /// waits forever, as `threading.Lock` does.
    pub(super) fn lock(&self, board: &LockBoard, which: usize) -> std::io::Result<()> {
        match self {
            BlockingLocks::InProcess(p) => {
                let _held = p.locks[which].lock();
                Ok(())
            }
            BlockingLocks::Shared => board.sem(which).wait(),
        }
    }

    pub(super) fn unlock(&self, board: &LockBoard, which: usize) {
        match self {
            // SAFETY: `Unit::give` releases only a lock this unit's thread
            // took (the blocking units run on one thread each).
            BlockingLocks::InProcess(p) => unsafe { p.locks[which].unlock(Default::default()) },
            BlockingLocks::Shared => board.sem(which).post(),
        }
    }

    pub(super) fn try_sem(&self, board: &LockBoard) -> bool {
        match self {
            BlockingLocks::InProcess(p) => {
                let mut permits = p.sem.0.lock();
                let free = *permits > 0;
                if free {
                    *permits -= 1;
                }
                free
            }
            BlockingLocks::Shared => board.sem(2).try_wait(),
        }
    }

    pub(super) fn sem(&self, board: &LockBoard) -> std::io::Result<()> {
        match self {
            BlockingLocks::InProcess(p) => {
                let mut permits = p.sem.0.lock();
                while *permits == 0 {
                    p.sem.1.wait(&mut permits);
                }
                *permits -= 1;
                Ok(())
            }
            BlockingLocks::Shared => board.sem(2).wait(),
        }
    }

    pub(super) fn sem_post(&self, board: &LockBoard) {
        match self {
            BlockingLocks::InProcess(p) => {
                *p.sem.0.lock() += 1;
                p.sem.1.notify_one();
            }
            BlockingLocks::Shared => board.sem(2).post(),
        }
    }
}

/// Locks for async units: tokio's, shared by the tasks of one runtime.
pub(super) struct AsyncLocks(Arc<InProcess>);

impl AsyncLocks {
    pub(super) fn for_board(board: &LockBoard, path: &Path) -> anyhow::Result<AsyncLocks> {
        anyhow::ensure!(
            board.scope() == Scope::Process,
            "async units share one process: their lock board must not be process-shared"
        );
        Ok(AsyncLocks(in_process(path, board.permits())))
    }

    /// Waits for lock `which`; a task that holds it waits forever.
    pub(super) async fn lock(&self, which: usize) -> anyhow::Result<()> {
        self.0.tokio_locks[which].acquire().await?.forget();
        Ok(())
    }

    pub(super) fn unlock(&self, which: usize) {
        self.0.tokio_locks[which].add_permits(1);
    }

    pub(super) async fn sem(&self) -> anyhow::Result<()> {
        self.0.tokio_sem.acquire().await?.forget();
        Ok(())
    }

    pub(super) fn sem_post(&self) {
        self.0.tokio_sem.add_permits(1);
    }
}
