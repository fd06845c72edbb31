//! The `queue` workload: `producers` units put `items` items of
//! `item_bytes` bytes through one bounded queue (`capacity`) to `consumers`
//! units. With `semantics = "joinable"` consumers mark each item done and
//! producers `join()` until every item is; consumers end on a sentinel each
//! (put by the last producer), or as daemons when the main work is over.
//! Every item must arrive exactly once: consumers sum a hash of what they
//! got, and the harness checks the sum and the count for the batch.
//!
//! Tasks `0..producers` are the producers, the rest the consumers; a
//! producer puts items `p, p + producers, ...`. See `transport` for the
//! queue each kind of model uses.

pub mod board;
mod transport;

pub use board::{QueueBoard, QueueBoardRef};

use super::lock::WaitHistogram;
use super::shm::monotonic_ns;
use super::{Interpreter, Task, combine, cpu};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use transport::{AsyncQueue, BlockingQueue};

/// `queue.Queue` or `JoinableQueue` (`task_done()` and `join()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Semantics {
    Queue,
    Joinable,
}

impl Semantics {
    pub const ALL: [Semantics; 2] = [Semantics::Queue, Semantics::Joinable];

    pub fn id(self) -> &'static str {
        match self {
            Semantics::Queue => "queue",
            Semantics::Joinable => "joinable",
        }
    }

    pub fn from_id(id: &str) -> Option<Semantics> {
        Semantics::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// A queue point's shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueueShape {
    pub producers: u32,
    pub consumers: u32,
    pub capacity: u32,
    pub item_bytes: u32,
    pub items: u64,
    pub semantics: Semantics,
    pub daemon: bool,
}

/// One unit of a queue batch (`Step::Queue`): its role follows from its
/// task index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStep {
    pub shape: QueueShape,
    pub board: QueueBoardRef,
}

/// What one unit reports besides its checksum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueOutput {
    pub producer: bool,
    /// Items this unit put, or got.
    pub items: u64,
    /// A consumer's wrapping sum of `item_hash` over what it got.
    pub sum: u64,
    /// CLOCK_MONOTONIC ns: a producer's first put, a consumer's start.
    pub start_ns: u64,
    /// A producer's end (its last put, flushed), a consumer's last get.
    pub end_ns: u64,
    /// Consumers: from each item's put to its get.
    #[serde(default)]
    pub latency: WaitHistogram,
}

/// One item on its way.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub seq: u64,
    pub put_ns: u64,
    pub payload: Vec<u8>,
}

/// A consumer stops at this seq (not an item).
const SENTINEL: u64 = u64::MAX;

/// What a consumer's task returns as its checksum: which items it got
/// depends on timing, so the batch check (`expected_sum`) stands for it.
pub const CONSUMER_CHECKSUM: u64 = 0xC0_5E_ED;

/// The hash of item `seq` that consumers sum.
pub fn item_hash(seq: u64) -> u64 {
    cpu::mix64(seq ^ 0x5155_4555_4500_0000)
}

/// The items producer `p` puts.
fn seqs(shape: &QueueShape, p: u32) -> impl Iterator<Item = u64> + use<> {
    (u64::from(p)..shape.items).step_by(shape.producers.max(1) as usize)
}

/// The wrapping sum of every item's hash: what the consumers must sum to.
pub fn expected_sum(shape: &QueueShape) -> u64 {
    (0..shape.items).fold(0u64, |acc, s| acc.wrapping_add(item_hash(s)))
}

/// The checksum task `idx` of a correct batch returns.
pub fn expected_part(idx: u32, shape: &QueueShape) -> u64 {
    if idx < shape.producers {
        let (n, sum) = seqs(shape, idx).fold((0u64, 0u64), |(n, sum), s| {
            (n + 1, sum.wrapping_add(item_hash(s)))
        });
        combine(n, sum)
    } else {
        CONSUMER_CHECKSUM
    }
}

fn item(seq: u64, bytes: u32) -> Item {
    Item {
        seq,
        put_ns: monotonic_ns(),
        payload: vec![seq as u8; bytes as usize],
    }
}

/// Checks an item got whole: its size, and its bytes at both ends.
fn check(item: &Item, shape: &QueueShape) -> anyhow::Result<()> {
    let want = item.seq as u8;
    anyhow::ensure!(
        item.seq < shape.items
            && item.payload.len() == shape.item_bytes as usize
            && item.payload.first().is_none_or(|&b| b == want)
            && item.payload.last().is_none_or(|&b| b == want),
        "item {} arrived damaged ({} bytes)",
        item.seq,
        item.payload.len()
    );
    Ok(())
}

/// Accounts for one item a consumer got: checks it whole, records its
/// put-to-get latency, and adds it to the count and sum.
fn consumed(
    out: &mut QueueOutput,
    latency: &mut super::lock::Recorder,
    got: &Item,
    shape: &QueueShape,
) -> anyhow::Result<()> {
    let at = monotonic_ns();
    check(got, shape)?;
    latency.record(std::time::Duration::from_nanos(
        at.saturating_sub(got.put_ns),
    ));
    out.items += 1;
    out.sum = out.sum.wrapping_add(item_hash(got.seq));
    out.end_ns = at;
    Ok(())
}

/// Runs one unit with blocking calls (threads, processes): every wait on
/// the queue releases an emulated GIL.
pub fn run_blocking(
    interp: &mut impl Interpreter,
    task: &Task,
    step: &QueueStep,
) -> anyhow::Result<(u64, QueueOutput)> {
    let board = interp.blocking(|| QueueBoard::open(&step.board.path))?;
    let mut q = BlockingQueue::for_board(&board, &step.board)?;
    let limit = Instant::now() + step.board.limit();
    let shape = &step.shape;
    let joinable = shape.semantics == Semantics::Joinable;
    let mut out = QueueOutput {
        producer: task.idx < shape.producers,
        start_ns: monotonic_ns(),
        ..QueueOutput::default()
    };
    if out.producer {
        for seq in seqs(shape, task.idx) {
            if joinable {
                board.put_one();
            }
            q.put(interp, &board, item(seq, shape.item_bytes), limit)?;
            out.items += 1;
            out.sum = out.sum.wrapping_add(item_hash(seq));
        }
        q.flush(interp)?;
        if q.producer_done(&board) && !shape.daemon {
            for _ in 0..shape.consumers {
                q.put(interp, &board, item(SENTINEL, 0), limit)?;
            }
            q.flush(interp)?;
        }
        if joinable {
            q.join(interp, &board, limit)?;
            board.finish();
        }
        out.end_ns = monotonic_ns();
        return Ok((combine(out.items, out.sum), out));
    }
    let mut latency = WaitHistogram::recorder();
    while let Some(got) = q.get(interp, &board, shape.daemon, limit)? {
        if got.seq == SENTINEL {
            break;
        }
        consumed(&mut out, &mut latency, &got, shape)?;
        if joinable {
            q.task_done(&board);
        }
    }
    out.latency = latency.finish();
    Ok((CONSUMER_CHECKSUM, out))
}

/// Runs one unit as a future (the async models), on tokio's channel.
pub async fn run_async(task: &Task, step: &QueueStep) -> anyhow::Result<(u64, QueueOutput)> {
    let board = QueueBoard::open(&step.board.path)?;
    let q = AsyncQueue::for_board(&board, &step.board)?;
    let limit = Instant::now() + step.board.limit();
    let shape = &step.shape;
    let joinable = shape.semantics == Semantics::Joinable;
    let mut out = QueueOutput {
        producer: task.idx < shape.producers,
        start_ns: monotonic_ns(),
        ..QueueOutput::default()
    };
    if out.producer {
        for seq in seqs(shape, task.idx) {
            if joinable {
                board.put_one();
            }
            q.put(item(seq, shape.item_bytes), limit).await?;
            out.items += 1;
            out.sum = out.sum.wrapping_add(item_hash(seq));
        }
        if q.producer_done(&board) && !shape.daemon {
            for _ in 0..shape.consumers {
                q.put(item(SENTINEL, 0), limit).await?;
            }
        }
        if joinable {
            q.join(&board, limit).await?;
            board.finish();
        }
        out.end_ns = monotonic_ns();
        return Ok((combine(out.items, out.sum), out));
    }
    let mut latency = WaitHistogram::recorder();
    while let Some(got) = q.get(&board, shape.daemon, limit).await? {
        if got.seq == SENTINEL {
            break;
        }
        consumed(&mut out, &mut latency, &got, shape)?;
        if joinable {
            q.task_done(&board);
        }
    }
    out.latency = latency.finish();
    Ok((CONSUMER_CHECKSUM, out))
}
