//! The queues themselves, by scope. Threads of one process: a bounded
//! crossbeam channel (`queue.Queue` hands over references, so does this:
//! an item moves, it is not copied). Processes: a pipe (the board's FIFO)
//! with a feeder thread in each producer that encodes items into frames and
//! writes them under the writers' lock, a readers' lock, and a semaphore of
//! free slots, as `multiprocessing.Queue(maxsize)` is built; every item is
//! copied into bytes and back. Async tasks: tokio's bounded mpsc channel,
//! its receiver shared under a tokio mutex. Units of one process find the
//! same queue through a registry keyed by the board's path.

use super::Item;
use super::board::{QueueBoard, QueueBoardRef, Slot};
use crate::workload::Interpreter;
use anyhow::Context;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a daemon consumer waits before it looks whether the main work
/// is over.
pub(super) const DAEMON_POLL: Duration = Duration::from_millis(10);

/// The queue of one board, for the threads or tasks of one process.
pub struct InProcess {
    tx: crossbeam_channel::Sender<Item>,
    rx: crossbeam_channel::Receiver<Item>,
    /// `join` waits here for `task_done` (queue.Queue's all_tasks_done).
    joined: (parking_lot::Mutex<()>, parking_lot::Condvar),
    async_tx: tokio::sync::mpsc::Sender<Item>,
    async_rx: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Item>>,
    async_joined: tokio::sync::Notify,
}

impl InProcess {
    fn new(capacity: u32) -> InProcess {
        let (tx, rx) = crossbeam_channel::bounded(capacity as usize);
        let (async_tx, async_rx) = tokio::sync::mpsc::channel(capacity as usize);
        InProcess {
            tx,
            rx,
            joined: (parking_lot::Mutex::new(()), parking_lot::Condvar::new()),
            async_tx,
            async_rx: tokio::sync::Mutex::new(async_rx),
            async_joined: tokio::sync::Notify::new(),
        }
    }
}

static REGISTRY: crate::workload::shm::ByPath<InProcess> = crate::workload::shm::ByPath::new();

fn in_process(path: &Path, capacity: u32) -> Arc<InProcess> {
    REGISTRY.get_or_make(path, || InProcess::new(capacity))
}

/// Holds a board's in-process queue for as long as it lives: a consumer
/// that starts late still finds the queue (and its sentinel) even when
/// every other unit has finished.
pub struct Keep(#[allow(dead_code)] Arc<InProcess>);

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keep")
    }
}

pub(super) fn keep(path: &Path, capacity: u32) -> Keep {
    Keep(in_process(path, capacity))
}

/// A queue for blocking units (threads, processes).
pub(super) enum BlockingQueue {
    InProcess(Arc<InProcess>),
    Shared(Box<Pipe>),
}

/// The process-shared queue: the FIFO, this unit's feeder (a producer's),
/// and the board's semaphores.
pub(super) struct Pipe {
    fifo: std::fs::File,
    feeder: Option<(
        crossbeam_channel::Sender<Item>,
        std::thread::JoinHandle<anyhow::Result<()>>,
    )>,
}

impl BlockingQueue {
    pub(super) fn for_board(board: &QueueBoard, r: &QueueBoardRef) -> anyhow::Result<Self> {
        if !board.shared() {
            return Ok(BlockingQueue::InProcess(in_process(
                &r.path,
                board.capacity(),
            )));
        }
        // Read and write: opening a FIFO so never waits for the other end.
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(r.fifo())
            .with_context(|| format!("opening the queue's FIFO {}", r.fifo().display()))?;
        Ok(BlockingQueue::Shared(Box::new(Pipe { fifo, feeder: None })))
    }

    /// Puts `item`, waiting while the queue is full, until `limit`.
    pub(super) fn put(
        &mut self,
        interp: &mut impl Interpreter,
        board: &QueueBoard,
        item: Item,
        limit: Instant,
    ) -> anyhow::Result<()> {
        let full = || anyhow::anyhow!("the queue stayed full until the case timeout");
        match self {
            BlockingQueue::InProcess(q) => match q.tx.try_send(item) {
                Ok(()) => Ok(()),
                Err(crossbeam_channel::TrySendError::Full(item)) => interp
                    .blocking(|| q.tx.send_deadline(item, limit))
                    .map_err(|_| full()),
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                    anyhow::bail!("the queue's consumers are gone")
                }
            },
            BlockingQueue::Shared(pipe) => {
                let free = board.sem(Slot::Free);
                if !free.try_wait() && !interp.blocking(|| free.wait_until(limit))? {
                    return Err(full());
                }
                pipe.feed(board, item)
            }
        }
    }

    /// A producer's end: its feeder has written every item (Queue.close()
    /// and join_thread()).
    pub(super) fn flush(&mut self, interp: &mut impl Interpreter) -> anyhow::Result<()> {
        if let BlockingQueue::Shared(pipe) = self
            && let Some((tx, feeder)) = pipe.feeder.take()
        {
            drop(tx);
            interp
                .blocking(|| feeder.join())
                .map_err(|_| anyhow::anyhow!("the queue's feeder thread panicked"))??;
        }
        Ok(())
    }

    /// The next item; None once `daemon_done` says the main work is over
    /// (daemon consumers), an error at `limit`.
    pub(super) fn get(
        &mut self,
        interp: &mut impl Interpreter,
        board: &QueueBoard,
        daemon: bool,
        limit: Instant,
    ) -> anyhow::Result<Option<Item>> {
        loop {
            let now = Instant::now();
            anyhow::ensure!(now < limit, "the queue stayed empty until the case timeout");
            let until = if daemon {
                (now + DAEMON_POLL).min(limit)
            } else {
                limit
            };
            let got = match self {
                BlockingQueue::InProcess(q) => match q.rx.try_recv() {
                    Ok(item) => Some(item),
                    Err(_) => interp.blocking(|| q.rx.recv_deadline(until)).ok(),
                },
                BlockingQueue::Shared(pipe) => interp.blocking(|| pipe.get(board, until))?,
            };
            if got.is_some() {
                return Ok(got);
            }
            if daemon && board.finished() {
                return Ok(None);
            }
        }
    }

    /// Joinable: one item processed.
    pub(super) fn task_done(&self, board: &QueueBoard) {
        match self {
            BlockingQueue::InProcess(q) => {
                let _held = q.joined.0.lock();
                if board.task_done() {
                    q.joined.1.notify_all();
                }
            }
            BlockingQueue::Shared(_) => {
                board.task_done();
            }
        }
    }

    /// A producer put its last item; true for the last producer.
    pub(super) fn producer_done(&self, board: &QueueBoard) -> bool {
        match self {
            BlockingQueue::InProcess(q) => {
                let _held = q.joined.0.lock();
                let last = board.producer_done();
                q.joined.1.notify_all();
                last
            }
            BlockingQueue::Shared(_) => board.producer_done(),
        }
    }

    /// Joinable: waits until every producer is done and every item was
    /// marked done, or `limit`. Processes look at the board every 100 µs
    /// (JoinableQueue waits on a shared condition; this polls its counter).
    pub(super) fn join(
        &self,
        interp: &mut impl Interpreter,
        board: &QueueBoard,
        limit: Instant,
    ) -> anyhow::Result<()> {
        let late = || anyhow::anyhow!("join(): items still unfinished at the case timeout");
        match self {
            BlockingQueue::InProcess(q) => interp.blocking(|| {
                let mut held = q.joined.0.lock();
                while !board.all_done() {
                    anyhow::ensure!(Instant::now() < limit, late());
                    q.joined.1.wait_for(&mut held, DAEMON_POLL);
                }
                Ok(())
            }),
            BlockingQueue::Shared(_) => {
                while !board.all_done() {
                    anyhow::ensure!(Instant::now() < limit, late());
                    interp.blocking(|| std::thread::sleep(Duration::from_micros(100)));
                }
                Ok(())
            }
        }
    }
}

/// A frame's header: the length of what follows, then the item's seq and
/// the time it was put.
const FRAME_HEADER: usize = 4 + 8 + 8;

impl Pipe {
    /// Hands `item` to this producer's feeder thread, started at the first
    /// put.
    fn feed(&mut self, board: &QueueBoard, item: Item) -> anyhow::Result<()> {
        if self.feeder.is_none() {
            let (tx, rx) = crossbeam_channel::unbounded::<Item>();
            let mut fifo = self.fifo.try_clone()?;
            let writers = board.sem(Slot::Writers);
            let handle = std::thread::Builder::new()
                .name("queue-feeder".into())
                .spawn(move || -> anyhow::Result<()> {
                    for item in rx {
                        // Serialised here, off the producer's thread, as
                        // multiprocessing's feeder pickles.
                        let frame = encode(&item);
                        writers.wait()?;
                        let written = fifo.write_all(&frame);
                        writers.post();
                        written.context("writing to the queue's FIFO")?;
                    }
                    Ok(())
                })?;
            self.feeder = Some((tx, handle));
        }
        let (tx, _) = self.feeder.as_ref().expect("started above");
        tx.send(item)
            .map_err(|_| anyhow::anyhow!("the queue's feeder thread ended early"))
    }

    /// One frame, read whole under the readers' lock; None when nothing
    /// came by `until`.
    fn get(&mut self, board: &QueueBoard, until: Instant) -> anyhow::Result<Option<Item>> {
        use std::os::fd::AsRawFd;
        let readers = board.sem(Slot::Readers);
        if !readers.wait_until(until)? {
            return Ok(None);
        }
        let result = (|| {
            let left = until.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.fifo.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one pollfd that lives for the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready <= 0 {
                return Ok(None);
            }
            let mut head = [0u8; FRAME_HEADER];
            self.fifo.read_exact(&mut head)?;
            let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
            anyhow::ensure!(len >= 16, "a queue frame of {len} bytes is too short");
            let mut payload = vec![0u8; len - 16];
            self.fifo.read_exact(&mut payload)?;
            Ok(Some(Item {
                seq: u64::from_le_bytes(head[4..12].try_into().expect("8 bytes")),
                put_ns: u64::from_le_bytes(head[12..20].try_into().expect("8 bytes")),
                payload,
            }))
        })();
        readers.post();
        let item = result.context("reading the queue's FIFO")?;
        if item.is_some() {
            board.sem(Slot::Free).post();
        }
        Ok(item)
    }
}

fn encode(item: &Item) -> Vec<u8> {
    let len = (16 + item.payload.len()) as u32;
    let mut frame = Vec::with_capacity(FRAME_HEADER + item.payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&item.seq.to_le_bytes());
    frame.extend_from_slice(&item.put_ns.to_le_bytes());
    frame.extend_from_slice(&item.payload);
    frame
}

/// The queue for async units: tokio's.
pub(super) struct AsyncQueue(Arc<InProcess>);

impl AsyncQueue {
    pub(super) fn for_board(board: &QueueBoard, r: &QueueBoardRef) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !board.shared(),
            "async units share one process: their queue board must not be process-shared"
        );
        Ok(AsyncQueue(in_process(&r.path, board.capacity())))
    }

    pub(super) async fn put(&self, item: Item, limit: Instant) -> anyhow::Result<()> {
        let left = limit.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, self.0.async_tx.send(item))
            .await
            .map_err(|_| anyhow::anyhow!("the queue stayed full until the case timeout"))?
            .map_err(|_| anyhow::anyhow!("the queue's consumers are gone"))
    }

    pub(super) async fn get(
        &self,
        board: &QueueBoard,
        daemon: bool,
        limit: Instant,
    ) -> anyhow::Result<Option<Item>> {
        let mut rx = self.0.async_rx.lock().await;
        // An item already there needs no timer.
        if let Ok(item) = rx.try_recv() {
            return Ok(Some(item));
        }
        loop {
            let now = Instant::now();
            anyhow::ensure!(now < limit, "the queue stayed empty until the case timeout");
            let wait = if daemon {
                DAEMON_POLL.min(limit - now)
            } else {
                limit - now
            };
            if let Ok(got) = tokio::time::timeout(wait, rx.recv()).await {
                return got
                    .map(Some)
                    .ok_or_else(|| anyhow::anyhow!("the queue's producers are gone"));
            }
            if daemon && board.finished() {
                return Ok(None);
            }
        }
    }

    pub(super) fn task_done(&self, board: &QueueBoard) {
        if board.task_done() {
            self.0.async_joined.notify_waiters();
        }
    }

    pub(super) fn producer_done(&self, board: &QueueBoard) -> bool {
        let last = board.producer_done();
        self.0.async_joined.notify_waiters();
        last
    }

    pub(super) async fn join(&self, board: &QueueBoard, limit: Instant) -> anyhow::Result<()> {
        loop {
            let woken = self.0.async_joined.notified();
            if board.all_done() {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < limit,
                "join(): items still unfinished at the case timeout"
            );
            let _ = tokio::time::timeout(DAEMON_POLL, woken).await;
        }
    }
}
