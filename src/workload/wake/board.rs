//! The wake board: a file in the scratch directory, fresh per batch, mapped
//! by every unit of an event or timer batch and by the harness. It carries
//! what the model decides (`scope`: the event lives in this shared memory or
//! in one process; `mechanism`: how a timer unit arms its timers), and the
//! event's two futex words: `sets`, how many times the event was set (the
//! event itself, for processes), and `arrived`, how many waits the waiters
//! have started (the setter sleeps on it until every waiter of a round
//! waits). `set_ns` is the setter's CLOCK_MONOTONIC at its latest `set()`.
//! Units that are threads or tasks of one process also share an in-process
//! event (`Local`), found by the board's path.

use crate::workload::shm::{ByPath, Mapping};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where a batch's units find their board, and how long any of them may
/// wait (the case timeout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WakeBoardRef {
    pub path: PathBuf,
    pub limit_ms: u64,
}

impl WakeBoardRef {
    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms)
    }
}

/// How a timer unit arms its timers: what the model stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// A thread per timer that sleeps its delay (`threading.Timer`).
    ThreadPerTimer,
    /// One scheduler thread: a binary heap of due times and a condvar wait
    /// until the earliest (`sched` in a thread, a scheduled executor).
    Scheduler,
    /// tokio's timer wheel: a task per timer sleeping on the runtime.
    Wheel,
}

impl Mechanism {
    pub const ALL: [Mechanism; 3] = [
        Mechanism::ThreadPerTimer,
        Mechanism::Scheduler,
        Mechanism::Wheel,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Mechanism::ThreadPerTimer => "thread-per-timer",
            Mechanism::Scheduler => "scheduler",
            Mechanism::Wheel => "wheel",
        }
    }

    fn code(self) -> u64 {
        self as u64 + 1
    }

    fn from_code(code: u64) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.code() == code)
    }
}

const SCOPE: usize = 0;
const MECHANISM: usize = 8;
const WAITERS: usize = 16;
const SET_NS: usize = 24;
const GEN: usize = 64;
const ARRIVED: usize = 128;
const SIZE: usize = 192;

/// What the runner writes on a fresh board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    /// The units are processes: the event is the futex word `sets`.
    pub shared: bool,
    pub waiters: u32,
    pub mechanism: Mechanism,
}

/// The event of the units of one process: a mutex and condvar round the
/// generation, as `threading.Event` is a Condition round a flag, and for
/// async tasks tokio's `Notify` (one for the set, one for the arrivals).
#[derive(Default)]
pub struct Local {
    pub sets: parking_lot::Mutex<u32>,
    pub cond: parking_lot::Condvar,
    pub async_sets: AtomicU32,
    pub set: tokio::sync::Notify,
    pub arrived: tokio::sync::Notify,
}

static LOCAL: ByPath<Local> = ByPath::new();

/// The in-process event of the board at `path`.
pub fn local(path: &Path) -> Arc<Local> {
    LOCAL.get_or_make(path, Local::default)
}

pub struct WakeBoard {
    map: Mapping,
    /// The runner's board keeps the in-process event alive for the batch.
    _keep: Option<Arc<Local>>,
}

impl std::fmt::Debug for WakeBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeBoard").field("map", &self.map).finish()
    }
}

impl WakeBoard {
    pub fn create(r: &WakeBoardRef, setup: Setup) -> anyhow::Result<WakeBoard> {
        let board = WakeBoard {
            map: Mapping::create(&r.path, SIZE, "wake board")?,
            _keep: (!setup.shared).then(|| local(&r.path)),
        };
        board
            .cell(SCOPE)
            .store(u64::from(setup.shared), Ordering::Relaxed);
        board
            .cell(MECHANISM)
            .store(setup.mechanism.code(), Ordering::Relaxed);
        board
            .cell(WAITERS)
            .store(setup.waiters.into(), Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        Ok(board)
    }

    pub fn open(path: &Path) -> anyhow::Result<WakeBoard> {
        Ok(WakeBoard {
            map: Mapping::open(path, SIZE, "wake board")?,
            _keep: None,
        })
    }

    fn cell(&self, offset: usize) -> &AtomicU64 {
        self.map.at(offset)
    }

    /// The 32-bit futex word at the start of the cell at `offset`.
    fn word(&self, offset: usize) -> &AtomicU32 {
        let cell = self.map.at(offset);
        // SAFETY: the first four bytes of an 8-byte aligned cell of a live
        // mapping; only ever used as this u32.
        unsafe { AtomicU32::from_ptr(cell.as_ptr().cast()) }
    }

    pub fn shared(&self) -> bool {
        self.cell(SCOPE).load(Ordering::Acquire) != 0
    }

    pub fn mechanism(&self) -> anyhow::Result<Mechanism> {
        let code = self.cell(MECHANISM).load(Ordering::Acquire);
        Mechanism::from_code(code)
            .ok_or_else(|| anyhow::anyhow!("the wake board names no timer mechanism ({code})"))
    }

    pub fn waiters(&self) -> u32 {
        self.cell(WAITERS).load(Ordering::Acquire) as u32
    }

    pub fn sets(&self) -> &AtomicU32 {
        self.word(GEN)
    }

    pub fn arrived(&self) -> &AtomicU32 {
        self.word(ARRIVED)
    }

    pub fn set_ns(&self) -> &AtomicU64 {
        self.cell(SET_NS)
    }
}

/// Sleeps while `word` holds `expected`, until woken, `until` or a spurious
/// wake-up (callers loop). Process-shared: no FUTEX_PRIVATE_FLAG.
pub fn futex_wait(word: &AtomicU32, expected: u32, until: Instant) {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    let ts = libc::timespec {
        tv_sec: left.as_secs() as libc::time_t,
        tv_nsec: left.subsec_nanos() as libc::c_long,
    };
    // SAFETY: a live, aligned u32 of a shared mapping and a timespec that
    // lives for the call; FUTEX_WAIT reads the word and sleeps.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        );
    }
}

/// Wakes up to `n` sleepers on `word`.
pub fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: as in `futex_wait`; FUTEX_WAKE only reads the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        );
    }
}
