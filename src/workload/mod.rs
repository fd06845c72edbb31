//! What one task does, as data: a list of steps (compute, sleep, socket round
//! trips, file write+fsync+read, memory held for the rest of the task). A workload never knows which model runs it;
//! `blocking` and `aio` execute the same steps, each in its own way.
//!
//! `Task` crosses process boundaries as JSON (the worker protocol), so it
//! derives serde besides the spec and the results schema.

pub mod aio;
pub mod blocking;
pub mod board;
pub mod cpu;
pub mod echo;
pub mod io_models;
pub mod lock;
pub mod queue;
pub mod shape;
pub mod shm;
pub mod touch;
pub mod wake;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use board::{Board, BoardRef};
pub use cpu::Kernel;
pub use shape::{SocketShape, TaskShape};

/// A convoy's CPU tasks compute in chunks of this much work and look at the
/// board between two chunks, so they stop within about a chunk of the probe's
/// end.
pub const CONVOY_CHUNK_MS: f64 = 1.0;

/// Round trips a convoy's probe makes before it starts timing: the first ones
/// pay for the connection, cold caches and the CPU threads settling.
pub const PROBE_WARMUP_ROUND_TRIPS: u32 = 20;

/// One task: its index in the batch (it seeds the work) and its steps, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub idx: u32,
    pub steps: Vec<Step>,
    /// CPU work done by a C extension that drops the GIL (numpy, hashlib).
    #[serde(default)]
    pub releases_gil: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Cpu {
        kernel: Kernel,
        iters: u64,
        /// Iterations between two eval-breaker checks under a GIL.
        slice_iters: u64,
    },
    Sleep {
        us: u64,
    },
    Socket {
        addr: SocketAddr,
        round_trips: u32,
        message_bytes: u32,
        server_delay_us: u64,
    },
    File {
        dir: PathBuf,
        kib: u64,
    },
    /// Map `kib` KiB, write every page, and hold them until the task ends
    /// (`touch_kib`: a known memory cost per task alive).
    Touch {
        kib: u64,
    },
    /// A convoy's CPU task: computes `chunk_iters` from its seed again and
    /// again (each chunk must give the same result, its checksum), says it
    /// runs on the board after the first chunk and stops when the board says
    /// done. Task `idx` uses board slot `idx`.
    Spin {
        kernel: Kernel,
        chunk_iters: u64,
        slice_iters: u64,
        board: BoardRef,
    },
    /// A convoy's probe: waits until every CPU task on the board runs, makes
    /// `warmup` untimed and then `round_trips` timed round trips on one
    /// connection, and marks the board done, whatever happened.
    Probe {
        addr: SocketAddr,
        warmup: u32,
        round_trips: u32,
        message_bytes: u32,
        server_delay_us: u64,
        board: BoardRef,
    },
    /// A lock unit: `sections` critical sections on the shared counter of
    /// its board (see `lock`).
    Lock(lock::LockStep),
    /// A producer or a consumer of one bounded queue (see `queue`).
    Queue(queue::QueueStep),
    /// The setter or a waiter of one event (see `wake::event`).
    Event(wake::EventStep),
    /// The unit that arms a timer batch's timers (see `wake::timer`).
    Timer(wake::TimerStep),
}

impl Step {
    /// The convoy board this step uses, if any.
    pub fn board(&self) -> Option<&BoardRef> {
        match self {
            Step::Spin { board, .. } | Step::Probe { board, .. } => Some(board),
            _ => None,
        }
    }
}

/// What a task returns: a checksum that every model must reproduce, how
/// long it ran once started, and the time of each of its socket round trips
/// (all measured where it ran).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutput {
    pub idx: u32,
    pub checksum: u64,
    pub run_ns: u64,
    /// Each round trip as the task's thread saw it: from the send until it
    /// could go on computing (under a GIL, after taking it back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round_trips_ns: Vec<u64>,
    /// A lock unit's sections, waits and what it saw on the board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Box<lock::LockOutput>>,
    /// A queue unit's items, sum and latencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Box<queue::QueueOutput>>,
    /// An event or timer unit's wake-ups and how late each ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<Box<wake::WakeOutput>>,
}

impl TaskOutput {
    pub fn run(&self) -> Duration {
        Duration::from_nanos(self.run_ns)
    }
}

/// How a task's thread cooperates with an interpreter lock, if any. Without a
/// GIL both hooks do nothing; under the emulated GIL `between_slices` is the
/// eval breaker and `blocking` releases the lock around IO.
pub trait Interpreter {
    fn between_slices(&mut self) {}
    fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// No interpreter lock: native threads.
pub struct NoGil;
impl Interpreter for NoGil {}

/// The checksum a correct run of `task` must produce, computed without doing
/// any IO (the IO steps' checksums depend only on what they send or write).
/// Runs the task's CPU work here, in one go: for small tasks (tests,
/// benches); the runner uses `expected_checksum_with`.
pub fn expected_checksum(task: &Task) -> u64 {
    let mut run = |kernel: Kernel, seed, iters| Ok(kernel.run(seed, iters));
    expected_checksum_with(task, &mut run).expect("a plain kernel run never stops")
}

/// `expected_checksum`, with the CPU parts from `cpu(kernel, seed, iters)`:
/// the one costly part, which the runner computes under a deadline and the
/// cancel flag, and once per distinct (kernel, seed, iters).
pub fn expected_checksum_with(
    task: &Task,
    cpu: &mut dyn FnMut(Kernel, u64, u64) -> Result<u64, crate::stop::Stopped>,
) -> Result<u64, crate::stop::Stopped> {
    let mut sum = 0;
    for step in &task.steps {
        let part = match step {
            Step::Cpu { kernel, iters, .. } => cpu(*kernel, task.idx as u64, *iters)?,
            Step::Sleep { us } => *us,
            Step::Socket {
                round_trips,
                message_bytes,
                ..
            } => echoed_checksum(task.idx, *round_trips, *message_bytes),
            Step::File { kib, .. } => fnv1a(&file_bytes(task.idx, *kib)),
            // Read back when the task ends, below.
            Step::Touch { .. } => 0,
            // However many chunks ran, each gave the result of one.
            Step::Spin {
                kernel,
                chunk_iters,
                ..
            } => cpu(*kernel, task.idx as u64, *chunk_iters)?,
            Step::Probe {
                warmup,
                round_trips,
                message_bytes,
                ..
            } => echoed_checksum(task.idx, warmup + round_trips, *message_bytes),
            Step::Lock(step) => lock::expected_part(task.idx, step, cpu)?,
            Step::Queue(step) => queue::expected_part(task.idx, &step.shape),
            Step::Event(step) => wake::event::expected_part(task.idx, &step.shape),
            Step::Timer(step) => wake::timer::expected_part(&step.shape),
        };
        sum = combine(sum, part);
    }
    for step in &task.steps {
        if let Step::Touch { kib } = step {
            sum = combine(sum, touch::expected(task.idx, *kib));
        }
    }
    Ok(sum)
}

/// What `rounds` round trips of task `idx` read back, folded in order.
fn echoed_checksum(idx: u32, rounds: u32, len: u32) -> u64 {
    (0..rounds).fold(0, |acc, round| {
        combine(acc, fnv1a(&message(idx, round, len)))
    })
}

/// Folds one step's checksum into the task's, order-sensitively.
pub fn combine(acc: u64, part: u64) -> u64 {
    cpu::mix64(acc ^ part.rotate_left(17))
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The bytes task `idx` sends in round `round`: distinct per task and round,
/// so an echo server that mixed up connections would break the checksum.
pub fn message(idx: u32, round: u32, len: u32) -> Vec<u8> {
    let seed = cpu::mix64(((idx as u64) << 32) | round as u64);
    (0..len as u64)
        .map(|i| (cpu::mix64(seed ^ i) & 0xFF) as u8)
        .collect()
}

/// The bytes task `idx` writes to its file.
pub fn file_bytes(idx: u32, kib: u64) -> Vec<u8> {
    let seed = cpu::mix64(idx as u64 ^ 0xF11E);
    (0..kib * 1024)
        .map(|i| (cpu::mix64(seed ^ (i / 8)) >> ((i % 8) * 8)) as u8)
        .collect()
}

/// A name for one task's file that no other task or process will use.
pub fn file_path(dir: &std::path::Path, idx: u32) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("task-{idx}-{}-{n}", std::process::id()))
}
