//! Runs a task's steps as a future: what the async models do. IO steps use
//! tokio's own sleep, sockets and files; CPU steps run inside the task and
//! block its executor thread, so users see what blocking an executor costs.
//! Under `async+gil` the GIL is held only inside CPU steps: an asyncio loop
//! holds it while it runs Python code and drops it only while it waits in
//! `epoll`, which is where every await here waits.

use super::{
    Board, BoardRef, NoGil, Step, Task, TaskOutput, combine, echo, file_bytes, file_path, fnv1a,
};
use anyhow::Context;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs CPU steps; the async models pass one that takes an emulated GIL
/// around the step when they run under one.
pub trait CpuStep: Sync {
    fn run(&self, task: &Task, kernel: super::Kernel, iters: u64, slice_iters: u64) -> u64;
    /// A convoy CPU task (`Step::Spin`), blocking its executor thread.
    fn spin(
        &self,
        task: &Task,
        kernel: super::Kernel,
        iters: (u64, u64),
        board: &BoardRef,
    ) -> anyhow::Result<u64>;
}

/// CPU steps straight on the executor thread.
pub struct Inline;
impl CpuStep for Inline {
    fn run(&self, task: &Task, kernel: super::Kernel, iters: u64, slice_iters: u64) -> u64 {
        super::blocking::cpu_step(task.idx, kernel, iters, slice_iters, &mut || {})
    }

    fn spin(
        &self,
        task: &Task,
        kernel: super::Kernel,
        iters: (u64, u64),
        board: &BoardRef,
    ) -> anyhow::Result<u64> {
        super::blocking::spin(&mut NoGil, task, kernel, iters, board)
    }
}

pub async fn execute(task: &Task, cpu: &impl CpuStep) -> anyhow::Result<TaskOutput> {
    let start = Instant::now();
    let mut sum = 0;
    let mut round_trips_ns = Vec::new();
    let mut lock = None;
    let mut queue = None;
    let mut wake = None;
    // Touched memory stays mapped until the task ends.
    let mut held = Vec::new();
    for step in &task.steps {
        let part = match step {
            Step::Cpu {
                kernel,
                iters,
                slice_iters,
            } => cpu.run(task, *kernel, *iters, *slice_iters),
            Step::Sleep { us } => {
                tokio::time::sleep(Duration::from_micros(*us)).await;
                *us
            }
            Step::Socket {
                addr,
                round_trips,
                message_bytes,
                server_delay_us,
            } => {
                let io = socket_round_trips(
                    task.idx,
                    *addr,
                    (0, *round_trips),
                    *message_bytes,
                    *server_delay_us,
                    &mut round_trips_ns,
                );
                tokio::time::timeout(super::blocking::IO_TIMEOUT, io)
                    .await
                    .context("echo server round trip timed out")??
            }
            Step::File { dir, kib } => file_round_trip(task.idx, dir, *kib).await?,
            Step::Touch { kib } => {
                held.push(super::touch::Touched::new(task.idx, *kib)?);
                0
            }
            Step::Spin {
                kernel,
                chunk_iters,
                slice_iters,
                board,
            } => cpu.spin(task, *kernel, (*chunk_iters, *slice_iters), board)?,
            Step::Probe {
                addr,
                warmup,
                round_trips,
                message_bytes,
                server_delay_us,
                board,
            } => {
                let board_ref = board;
                let board = super::board::FinishOnDrop(Board::open(&board_ref.path)?);
                let limit = Instant::now() + board_ref.limit();
                while !board.all_running(board_ref, limit)? {
                    tokio::time::sleep(super::blocking::BOARD_POLL).await;
                }
                let io = socket_round_trips(
                    task.idx,
                    *addr,
                    (*warmup, *round_trips),
                    *message_bytes,
                    *server_delay_us,
                    &mut round_trips_ns,
                );
                tokio::time::timeout(super::blocking::IO_TIMEOUT, io)
                    .await
                    .context("echo server round trip timed out")??
            }
            Step::Lock(step) => {
                let work = |iters| cpu.run(task, step.kernel, iters, step.slice_iters);
                let (part, out) = super::lock::run_async(task, step, work).await?;
                lock = Some(Box::new(out));
                part
            }
            Step::Queue(step) => {
                let (part, out) = super::queue::run_async(task, step).await?;
                queue = Some(Box::new(out));
                part
            }
            Step::Event(step) => {
                let (part, out) = super::wake::event::run_async(task, step).await?;
                wake = Some(Box::new(out));
                part
            }
            Step::Timer(step) => {
                let (part, out) = super::wake::timer::run_async(task, step).await?;
                wake = Some(Box::new(out));
                part
            }
        };
        sum = combine(sum, part);
    }
    // Read back at the end: the pages were held for the whole task.
    for touched in &held {
        sum = combine(sum, touched.checksum());
    }
    Ok(TaskOutput {
        idx: task.idx,
        checksum: sum,
        run_ns: start.elapsed().as_nanos() as u64,
        round_trips_ns,
        lock,
        queue,
        wake,
    })
}

/// Round trips on one connection; the first `untimed` are not timed.
async fn socket_round_trips(
    idx: u32,
    addr: std::net::SocketAddr,
    (untimed, timed): (u32, u32),
    len: u32,
    delay_us: u64,
    times_ns: &mut Vec<u64>,
) -> anyhow::Result<u64> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to the echo server at {addr}"))?;
    stream.set_nodelay(true)?;
    let mut sum = 0;
    let mut back = vec![0u8; len as usize];
    for round in 0..untimed + timed {
        let mut request = echo::header(len, delay_us).to_vec();
        request.extend_from_slice(&super::message(idx, round, len));
        let sent = Instant::now();
        stream.write_all(&request).await?;
        stream.read_exact(&mut back).await?;
        if round >= untimed {
            times_ns.push(sent.elapsed().as_nanos() as u64);
        }
        sum = combine(sum, fnv1a(&back));
    }
    Ok(sum)
}

async fn file_round_trip(idx: u32, dir: &std::path::Path, kib: u64) -> anyhow::Result<u64> {
    let path = file_path(dir, idx);
    let data = file_bytes(idx, kib);
    let result = async {
        let mut file = tokio::fs::File::create(&path).await?;
        file.write_all(&data).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::read(&path).await
    }
    .await
    .with_context(|| format!("write, fsync and read back {}", path.display()));
    let _ = tokio::fs::remove_file(&path).await;
    Ok(fnv1a(&result?))
}

#[cfg(test)]
mod tests {
    use super::super::{Kernel, Task, expected_checksum};
    use super::*;

    #[test]
    fn async_steps_reproduce_the_expected_checksum() {
        let server = echo::EchoServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let task = Task {
            idx: 9,
            steps: vec![
                Step::Cpu {
                    kernel: Kernel::Hash,
                    iters: 5_000,
                    slice_iters: 1_000,
                },
                Step::Sleep { us: 50 },
                Step::Socket {
                    addr: server.addr(),
                    round_trips: 3,
                    message_bytes: 32,
                    server_delay_us: 10,
                },
                Step::File {
                    dir: dir.path().to_owned(),
                    kib: 2,
                },
                Step::Touch { kib: 16 },
            ],
            releases_gil: false,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = rt.block_on(execute(&task, &Inline)).unwrap();
        assert_eq!(out.checksum, expected_checksum(&task));
    }
}
