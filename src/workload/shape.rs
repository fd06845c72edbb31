//! A task's shape: what one task of a case does, in milliseconds and sizes,
//! before calibration turns it into `Step`s for this machine. `plan` makes
//! it, the runner builds tasks from it, and the CPython models hand it to
//! Python, which re-implements the workload.

use super::Kernel;
use serde::{Deserialize, Serialize};

/// What one task of a case does, before calibration turns milliseconds into
/// kernel iterations. It crosses to a contained deadlock case's child
/// (`model::contained`) as JSON, as `Task` does to a worker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskShape {
    pub cpu_ms: f64,
    pub kernel: Kernel,
    pub sleep_ms: f64,
    pub socket: Option<SocketShape>,
    pub file_kib: Option<u64>,
    /// KiB the task writes and holds until it ends (0: none).
    pub touch_kib: u64,
    pub releases_gil: bool,
    /// The lock workload's units (see `lock`); None elsewhere.
    pub lock: Option<super::lock::LockShape>,
    /// The queue workload's producers and consumers; None elsewhere.
    pub queue: Option<super::queue::QueueShape>,
    /// The event workload's waiters and rounds; None elsewhere.
    #[serde(default)]
    pub event: Option<super::wake::EventShape>,
    /// The timer workload's timers and delay; None elsewhere.
    #[serde(default)]
    pub timer: Option<super::wake::TimerShape>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SocketShape {
    pub round_trips: u32,
    pub message_bytes: u32,
    pub server_delay_ms: f64,
}
