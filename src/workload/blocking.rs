//! Runs a task's steps with blocking calls on the current thread: what
//! threads, processes, pools and rayon do. IO steps go through
//! `Interpreter::blocking` so an emulated GIL is released around them.

use super::{Interpreter, Step, Task, TaskOutput, combine, echo, file_bytes, file_path, fnv1a};
use anyhow::Context;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// No single socket read or write waits longer than this, so a thread whose
/// case timed out still ends on its own.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

pub fn execute(task: &Task, interp: &mut impl Interpreter) -> anyhow::Result<TaskOutput> {
    let start = Instant::now();
    let mut sum = 0;
    let mut round_trips_ns = Vec::new();
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
            } => socket_round_trips(
                interp,
                task.idx,
                *addr,
                (*round_trips, *message_bytes, *server_delay_us),
                &mut round_trips_ns,
            )?,
            Step::File { dir, kib } => interp.blocking(|| file_round_trip(task.idx, dir, *kib))?,
            Step::Touch { kib } => {
                held.push(super::touch::Touched::new(task.idx, *kib)?);
                0
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

/// Round trips on one connection. Each send+receive is one blocking call, as
/// in a Python loop of `sendall`/`recv`: under a GIL the thread releases it
/// for the call and must take it back before the next round, which is where
/// the convoy effect shows.
fn socket_round_trips(
    interp: &mut impl Interpreter,
    idx: u32,
    addr: std::net::SocketAddr,
    (round_trips, len, delay_us): (u32, u32, u64),
    times_ns: &mut Vec<u64>,
) -> anyhow::Result<u64> {
    let mut stream = interp.blocking(|| connect(addr))?;
    let mut sum = 0;
    let mut back = vec![0u8; len as usize];
    for round in 0..round_trips {
        let msg = super::message(idx, round, len);
        let mut request = echo::header(len, delay_us).to_vec();
        request.extend_from_slice(&msg);
        let sent = Instant::now();
        interp.blocking(|| -> anyhow::Result<()> {
            stream
                .write_all(&request)
                .context("sending to the echo server")?;
            stream
                .read_exact(&mut back)
                .context("reading the echo server's reply")
        })?;
        times_ns.push(sent.elapsed().as_nanos() as u64);
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

fn file_round_trip(idx: u32, dir: &std::path::Path, kib: u64) -> anyhow::Result<u64> {
    let path = file_path(dir, idx);
    let data = file_bytes(idx, kib);
    let result = (|| {
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&data)?;
        file.sync_all()?;
        drop(file);
        std::fs::read(&path)
    })()
    .with_context(|| format!("write, fsync and read back {}", path.display()));
    let _ = std::fs::remove_file(&path);
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

        let mut released = t.clone();
        released.releases_gil = true;
        let mut count = Count::default();
        execute(&released, &mut count).unwrap();
        assert_eq!((count.slices, count.blocking), (0, 2));
    }
}
