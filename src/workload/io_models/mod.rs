//! The five IO models of the `io-models` workload: one client drives C
//! connections to the echo server (`server.rs`, its own process) and each
//! connection makes `round_trips` request/response round trips, thinking
//! `think_us` between two. The models differ only in how the client learns
//! that a socket is ready: a blocked thread per connection (`blocking`), a
//! loop trying every socket (`nonblocking`), epoll/poll/select (`multiplexed`),
//! a real-time signal per ready socket read from a signalfd (`signal`), or
//! io_uring completions (`uring`). Every model drives the same `Conn` state
//! machine (`conn.rs`), so the bytes sent and the checksum of the bytes
//! echoed are the same; `client.rs` runs one job in the `io-peer` child.

mod blocking;
pub mod client;
pub mod conn;
mod multiplexed;
mod nonblocking;
pub mod server;
mod signal;
mod uring;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// How a multiplexed client waits on many sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Multiplexer {
    Epoll,
    Poll,
    Select,
}

impl Multiplexer {
    pub const ALL: [Multiplexer; 3] = [Multiplexer::Epoll, Multiplexer::Poll, Multiplexer::Select];

    pub fn id(self) -> &'static str {
        match self {
            Multiplexer::Epoll => "epoll",
            Multiplexer::Poll => "poll",
            Multiplexer::Select => "select",
        }
    }

    pub fn parse(s: &str) -> Option<Multiplexer> {
        Multiplexer::ALL.into_iter().find(|m| m.id() == s)
    }
}

/// `select`'s `fd_set` holds descriptors below this (glibc's FD_SETSIZE).
pub const FD_SETSIZE: usize = libc::FD_SETSIZE;

/// Descriptors the client child holds besides its connections (stdio, the
/// epoll or signal descriptor, the io_uring ring, a margin), so that
/// `connections + CLIENT_RESERVED_FDS` is what it needs.
pub const CLIENT_RESERVED_FDS: usize = 24;

/// The most connections `select` can watch: every descriptor must be below
/// FD_SETSIZE.
pub const SELECT_MAX_CONNECTIONS: usize = FD_SETSIZE - CLIENT_RESERVED_FDS;

/// One of the five IO models (`io_model`), the multiplexed one with its
/// multiplexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoModel {
    /// A thread per connection, blocking sockets.
    Blocking,
    /// O_NONBLOCK sockets, one thread trying each in turn without waiting.
    Nonblocking,
    /// One thread waiting on every socket at once.
    Multiplexed(Multiplexer),
    /// O_ASYNC + F_SETSIG: a real-time signal per ready socket, read from a
    /// signalfd by one thread.
    Signal,
    /// io_uring: the kernel does the sends and receives, one thread reaps
    /// completions.
    Async,
}

impl IoModel {
    /// The names `io_model` takes.
    pub const NAMES: [&str; 5] = ["blocking", "nonblocking", "multiplexed", "signal", "async"];

    /// The id in results: `multiplexed:epoll` for the multiplexed model.
    pub fn id(self) -> String {
        match self {
            IoModel::Blocking => "blocking".into(),
            IoModel::Nonblocking => "nonblocking".into(),
            IoModel::Multiplexed(m) => format!("multiplexed:{}", m.id()),
            IoModel::Signal => "signal".into(),
            IoModel::Async => "async".into(),
        }
    }

    /// Reads an id back (`multiplexed` alone is `multiplexed:epoll`).
    pub fn parse(s: &str) -> Option<IoModel> {
        match s {
            "blocking" => Some(IoModel::Blocking),
            "nonblocking" => Some(IoModel::Nonblocking),
            "multiplexed" => Some(IoModel::Multiplexed(Multiplexer::Epoll)),
            "signal" => Some(IoModel::Signal),
            "async" => Some(IoModel::Async),
            _ => s
                .strip_prefix("multiplexed:")
                .and_then(Multiplexer::parse)
                .map(IoModel::Multiplexed),
        }
    }

    /// Threads the client uses for its connections.
    pub fn threads(self, connections: usize) -> usize {
        match self {
            IoModel::Blocking => connections,
            _ => 1,
        }
    }
}

/// What the harness asks one client child to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientJob {
    /// `IoModel::id`.
    pub model: String,
    pub addr: SocketAddr,
    pub connections: u32,
    pub round_trips: u32,
    pub message_bytes: u32,
    pub server_delay_us: u64,
    pub think_us: u64,
    /// The exchange gives up after this long (the harness kills the child
    /// a little later).
    pub limit_ms: u64,
}

/// What a client child measured, on its own side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientOutput {
    /// Every echoed byte, folded per connection and then across them in
    /// connection order (`expected_checksum`).
    pub checksum: u64,
    pub requests: u64,
    /// Opening every connection (not part of the exchange's figures).
    pub connect_ns: u64,
    /// The exchange: from the first request until the last reply.
    pub wall_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// The client process's CPU (user + system) over the exchange.
    pub cpu_ns: u64,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    /// Why the model could not run here (io_uring refused), instead of figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The checksum a correct exchange gives, computed without any IO.
pub fn expected_checksum(connections: u32, round_trips: u32, message_bytes: u32) -> u64 {
    (0..connections).fold(0, |acc, idx| {
        super::combine(acc, conn::expected(idx, round_trips, message_bytes))
    })
}

/// Whether io_uring works here: `Err` says why not (an old kernel,
/// `kernel.io_uring_disabled`, a seccomp filter).
pub fn uring_available() -> Result<(), String> {
    uring::available()
}
