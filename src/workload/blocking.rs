//! Runs a task's steps with blocking calls on the current thread: what
//! threads, processes, pools and rayon do. Every blocking system call goes
//! through `Interpreter::blocking` on its own, as CPython wraps each one in
//! `Py_BEGIN/END_ALLOW_THREADS`: an emulated GIL is released around each
//! connect, send, receive, open, write, fsync, read, close and sleep, and
//! must be taken back after each one.

use super::board::FinishOnDrop;
use super::{
    Board, BoardRef, Interpreter, Step, Task, TaskOutput, combine, echo, file_bytes, file_path,
    fnv1a,
};
use anyhow::Context;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// No single socket read or write waits longer than this, so a thread whose
/// case timed out still ends on its own.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a convoy's probe looks whether the CPU tasks run yet.
pub const BOARD_POLL: Duration = Duration::from_micros(200);

pub fn execute(task: &Task, interp: &mut impl Interpreter) -> anyhow::Result<TaskOutput> {
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
            } => {
                let run = |between: &mut dyn FnMut()| {
                    cpu_step(task.idx, *kernel, *iters, *slice_iters, between)
                };
                if task.releases_gil {
                    interp.blocking(|| run(&mut || {}))
                } else {
                    run(&mut || interp.between_slices())
                }
            }
            Step::Sleep { us } => {
                interp.blocking(|| std::thread::sleep(Duration::from_micros(*us)));
                *us
            }
            Step::Socket {
                addr,
                round_trips,
                message_bytes,
                server_delay_us,
            } => echo_session(
                interp,
                *addr,
                task.idx,
                (*message_bytes, *server_delay_us),
                (0, *round_trips),
                &mut round_trips_ns,
            )?,
            Step::File { dir, kib } => file_round_trip(interp, task.idx, dir, *kib)?,
            Step::Spin {
                kernel,
                chunk_iters,
                slice_iters,
                board,
            } => spin(interp, task, *kernel, (*chunk_iters, *slice_iters), board)?,
            Step::Probe {
                addr,
                warmup,
                round_trips,
                message_bytes,
                server_delay_us,
                board,
            } => probe(interp, board, |interp| {
                echo_session(
                    interp,
                    *addr,
                    task.idx,
                    (*message_bytes, *server_delay_us),
                    (*warmup, *round_trips),
                    &mut round_trips_ns,
                )
            })?,
            Step::Touch { kib } => {
                held.push(super::touch::Touched::new(task.idx, *kib)?);
                0
            }
            Step::Lock(step) => {
                let (part, out) = super::lock::run_blocking(interp, task, step)?;
                lock = Some(Box::new(out));
                part
            }
            Step::Queue(step) => {
                let (part, out) = super::queue::run_blocking(interp, task, step)?;
                queue = Some(Box::new(out));
                part
            }
            Step::Event(step) => {
                let (part, out) = super::wake::event::run_blocking(interp, task, step)?;
                wake = Some(Box::new(out));
                part
            }
            Step::Timer(step) => {
                let (part, out) = super::wake::timer::run_blocking(interp, task, step)?;
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

/// Runs a CPU step in slices of `slice_iters`, calling `between` between two
/// slices (the eval breaker of an emulated GIL).
pub fn cpu_step(
    idx: u32,
    kernel: super::Kernel,
    iters: u64,
    slice_iters: u64,
    between: &mut dyn FnMut(),
) -> u64 {
    let mut state = super::cpu::seed_state(idx as u64);
    let mut left = iters;
    while left > 0 {
        let n = left.min(slice_iters.max(1));
        state = kernel.advance(state, n);
        left -= n;
        if left > 0 {
            between();
        }
    }
    state
}

/// A convoy's CPU task: chunk after chunk until the board says done (or its
/// limit passes, which fails the task). Returns one chunk's result, which
/// every chunk must reproduce.
pub(crate) fn spin(
    interp: &mut impl Interpreter,
    task: &Task,
    kernel: super::Kernel,
    (chunk_iters, slice_iters): (u64, u64),
    board_ref: &BoardRef,
) -> anyhow::Result<u64> {
    let board = interp.blocking(|| Board::open(&board_ref.path))?;
    let _pinned = board.pin_this_thread()?;
    let limit = Instant::now() + board_ref.limit();
    let mut first = None;
    loop {
        let chunk = cpu_step(
            std::hint::black_box(task.idx),
            kernel,
            chunk_iters,
            slice_iters,
            &mut || interp.between_slices(),
        );
        match first {
            None => {
                first = Some(chunk);
                board.mark_running(task.idx);
            }
            Some(f) => anyhow::ensure!(
                f == chunk,
                "convoy CPU task {}: a chunk gave {chunk:#x}, the first gave {f:#x}",
                task.idx
            ),
        }
        if board.done() {
            return Ok(chunk);
        }
        anyhow::ensure!(
            Instant::now() < limit,
            "convoy CPU task {}: the probe did not finish within {:?}",
            task.idx,
            board_ref.limit()
        );
        // The loop around the chunks is Python code too.
        interp.between_slices();
    }
}

/// A convoy's probe: waits (sleeping, so without the GIL) until every CPU
/// task runs, then runs `round_trips`; marks the board done in every case.
fn probe<I: Interpreter>(
    interp: &mut I,
    board_ref: &BoardRef,
    round_trips: impl FnOnce(&mut I) -> anyhow::Result<u64>,
) -> anyhow::Result<u64> {
    let board = FinishOnDrop(interp.blocking(|| Board::open(&board_ref.path))?);
    let _pinned = board.0.pin_this_thread()?;
    let limit = Instant::now() + board_ref.limit();
    while !board.all_running(board_ref, limit)? {
        interp.blocking(|| std::thread::sleep(BOARD_POLL));
    }
    round_trips(interp)
}

/// Connects to the echo server (a blocking call of its own) and runs
/// `untimed + timed` round trips on that connection.
fn echo_session(
    interp: &mut impl Interpreter,
    addr: std::net::SocketAddr,
    idx: u32,
    shape: (u32, u64),
    (untimed, timed): (u32, u32),
    times_ns: &mut Vec<u64>,
) -> anyhow::Result<u64> {
    let mut stream = interp.blocking(|| connect(addr))?;
    socket_round_trips(interp, &mut stream, idx, shape, untimed, timed, times_ns)
}

/// Round trips on one connection, the first `untimed` of them not timed.
/// Each send and each receive is a blocking call of its own, as in a Python
/// loop of `sendall` and `recv_into`: under a GIL the thread releases it for
/// each call and must take it back after each, which is where the convoy
/// effect shows.
fn socket_round_trips(
    interp: &mut impl Interpreter,
    stream: &mut std::net::TcpStream,
    idx: u32,
    (len, delay_us): (u32, u64),
    untimed: u32,
    timed: u32,
    times_ns: &mut Vec<u64>,
) -> anyhow::Result<u64> {
    let mut sum = 0;
    let mut back = vec![0u8; len as usize];
    for round in 0..untimed + timed {
        let msg = super::message(idx, round, len);
        let mut request = echo::header(len, delay_us).to_vec();
        request.extend_from_slice(&msg);
        let sent = Instant::now();
        let mut written = 0;
        while written < request.len() {
            written += interp
                .blocking(|| stream.write(&request[written..]))
                .context("sending to the echo server")?;
        }
        let mut got = 0;
        while got < back.len() {
            let n = interp
                .blocking(|| stream.read(&mut back[got..]))
                .context("reading the echo server's reply")?;
            anyhow::ensure!(n > 0, "the echo server closed the connection");
            got += n;
        }
        if round >= untimed {
            times_ns.push(sent.elapsed().as_nanos() as u64);
        }
        sum = combine(sum, fnv1a(&back));
    }
    Ok(sum)
}

fn connect(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpStream> {
    let stream = std::net::TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("connecting to the echo server at {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Write, fsync, read back: each open, write, fsync, read, close and the
/// removal a blocking call of its own, as Python's unbuffered file IO does.
pub(crate) fn file_round_trip(
    interp: &mut impl Interpreter,
    idx: u32,
    dir: &std::path::Path,
    kib: u64,
) -> anyhow::Result<u64> {
    let path = file_path(dir, idx);
    let data = file_bytes(idx, kib);
    let result = (|| -> std::io::Result<Vec<u8>> {
        let mut file = interp.blocking(|| std::fs::File::create(&path))?;
        let mut written = 0;
        while written < data.len() {
            written += interp.blocking(|| file.write(&data[written..]))?;
        }
        interp.blocking(|| file.sync_all())?;
        interp.blocking(|| drop(file));
        let mut file = interp.blocking(|| std::fs::File::open(&path))?;
        let mut back = vec![0u8; data.len()];
        let mut got = 0;
        loop {
            // One read past the end, as `read()` to EOF does.
            if got == back.len() {
                back.resize(back.len() + 1024, 0);
            }
            let n = interp.blocking(|| file.read(&mut back[got..]))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        back.truncate(got);
        interp.blocking(|| drop(file));
        Ok(back)
    })()
    .with_context(|| format!("write, fsync and read back {}", path.display()));
    let _ = interp.blocking(|| std::fs::remove_file(&path));
    Ok(fnv1a(&result?))
}

#[cfg(test)]
mod tests {
    use super::super::{Kernel, NoGil, Task, expected_checksum};
    use super::*;

    fn task(steps: Vec<Step>) -> Task {
        Task {
            idx: 5,
            steps,
            releases_gil: false,
        }
    }

    #[test]
    fn every_step_reproduces_the_expected_checksum() {
        let server = echo::EchoServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let t = task(vec![
            Step::Cpu {
                kernel: Kernel::Mandelbrot,
                iters: 2_000,
                slice_iters: 300,
            },
            Step::Sleep { us: 100 },
            Step::Socket {
                addr: server.addr(),
                round_trips: 2,
                message_bytes: 64,
                server_delay_us: 0,
            },
            Step::File {
                dir: dir.path().to_owned(),
                kib: 4,
            },
            Step::Touch { kib: 64 },
        ]);
        let out = execute(&t, &mut NoGil).unwrap();
        assert_eq!(out.checksum, expected_checksum(&t));
        assert_eq!(out.idx, 5);
        // The file step cleans up after itself.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_wrong_kernel_size_changes_the_checksum() {
        let a = task(vec![Step::Cpu {
            kernel: Kernel::Hash,
            iters: 1_000,
            slice_iters: 100,
        }]);
        let mut b = a.clone();
        b.steps[0] = Step::Cpu {
            kernel: Kernel::Hash,
            iters: 999,
            slice_iters: 100,
        };
        assert_ne!(
            execute(&b, &mut NoGil).unwrap().checksum,
            expected_checksum(&a)
        );
    }

    #[test]
    fn interpreter_hooks_are_called_per_slice_and_per_io_step() {
        #[derive(Default)]
        struct Count {
            slices: u32,
            blocking: u32,
        }
        impl Interpreter for Count {
            fn between_slices(&mut self) {
                self.slices += 1;
            }
            fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
                self.blocking += 1;
                f()
            }
        }
        let t = task(vec![
            Step::Cpu {
                kernel: Kernel::Hash,
                iters: 1_000,
                slice_iters: 100,
            },
            Step::Sleep { us: 1 },
        ]);
        let mut count = Count::default();
        execute(&t, &mut count).unwrap();
        assert_eq!((count.slices, count.blocking), (9, 1));

        // As CPython does, each blocking system call releases the GIL on its
        // own: a connect, then per round trip one send and one receive (a
        // 64-byte reply arrives in one read); a file's create, write, fsync,
        // close, open, two reads (the data, then end of file), close and
        // removal.
        let server = echo::EchoServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let io = task(vec![
            Step::Socket {
                addr: server.addr(),
                round_trips: 3,
                message_bytes: 64,
                server_delay_us: 0,
            },
            Step::File {
                dir: dir.path().to_owned(),
                kib: 4,
            },
        ]);
        let mut count = Count::default();
        execute(&io, &mut count).unwrap();
        assert_eq!(count.blocking, (1 + 3 * 2) + 9);

        let mut released = t.clone();
        released.releases_gil = true;
        let mut count = Count::default();
        execute(&released, &mut count).unwrap();
        assert_eq!((count.slices, count.blocking), (0, 2));
    }
}
