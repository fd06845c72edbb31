//! The results of `io-models` scenarios (see `workload::io_models`): one
//! record per (IO model, connections), with each repetition's figures and
//! their medians. The client's and the echo server's CPU are kept apart.

use super::CaseStatus;
use serde::{Deserialize, Serialize};

/// One IO model at one number of connections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IoModelResult {
    pub scenario: String,
    /// `blocking`, `nonblocking`, `multiplexed:epoll`, `signal`, `async`.
    pub io_model: String,
    pub connections: usize,
    /// Threads the client served its connections with.
    pub threads: usize,
    pub round_trips: u32,
    pub message_bytes: u32,
    pub server_delay_ms: f64,
    pub think_ms: f64,
    pub status: CaseStatus,
    /// The soft RLIMIT_NOFILE the client and server ran under (raised to
    /// the hard limit by the harness), and the hard one.
    pub nofile_soft: u64,
    pub nofile_hard: u64,
    pub repetitions: Vec<IoModelRep>,
    /// Medians over the repetitions; None when none ran.
    pub median: Option<IoModelRep>,
}

/// One client run's figures.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct IoModelRep {
    /// Round trips (requests) per second of the exchange.
    pub throughput_rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// The exchange, from the first request to the last reply.
    pub wall_s: f64,
    /// Opening every connection, before the exchange.
    pub connect_s: f64,
    /// The client's CPU (user + system) per request, over the exchange.
    pub client_cpu_us_per_request: f64,
    /// The echo server's CPU per request (its own process).
    pub server_cpu_us_per_request: f64,
    /// The client's CPU time over the exchange's wall time (1 = a core busy).
    pub client_cpu_share: f64,
    /// The client's voluntary + involuntary context switches per request.
    pub ctx_switches_per_request: f64,
    pub server_ctx_switches_per_request: f64,
    /// The client process's peak RSS (wait4's ru_maxrss): a fresh process
    /// per run, so the slope of this against connections is the memory
    /// each connection costs.
    pub client_peak_rss_bytes: f64,
}
