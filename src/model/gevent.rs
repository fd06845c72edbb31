//! `gevent`: each task a stackful coroutine on the calling thread, whose
//! IO yields to the scheduler (`coroutine::run_batch`) when it would block,
//! as gevent's monkey-patched `socket` and `time.sleep` do: a sleep is a
//! timer, a socket is non-blocking and waits in epoll. The task code reads
//! as blocking code (a loop of send and receive); CPU work and file IO block
//! the thread, as under gevent. Under `gevent+gil` a CPU step holds the GIL
//! for its duration and ticks it between slices; the scheduler waits in
//! epoll without it, as gevent's hub does (and as `async+gil` does).

use super::coroutine::{self, GreenYielder, Wait};
use super::{Batch, BatchOutcome, Model, ModelError};
use crate::gil::Gil;
use crate::workload::{Step, Task, TaskOutput, blocking, combine, echo, fnv1a};
use anyhow::Context;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct GeventModel;

impl Model for GeventModel {
    fn run(&self, batch: &Batch) -> Result<BatchOutcome, ModelError> {
        super::greenlet::refuse_coordination("gevent", batch)?;
        let gil = batch.gil.map(|k| Arc::new(Gil::new(k)));
        let start = Instant::now();
        let make = |task| {
            let gil = gil.clone();
            coroutine::spawn(task, move |y, task| execute(task, y, gil.as_deref()))
        };
        let records = coroutine::run_batch(batch, start, &make)?;
        Ok(BatchOutcome {
            records,
            wall: start.elapsed(),
            gil: gil.map(|g| g.counters()),
            ..BatchOutcome::default()
        })
    }
}

/// A task's steps, as `blocking::execute` runs them, with sleeps and
/// sockets that yield.
pub(crate) fn execute(
    task: &Task,
    y: &GreenYielder,
    gil: Option<&Gil>,
) -> anyhow::Result<TaskOutput> {
    let start = Instant::now();
    let mut sum = 0;
    let mut round_trips_ns = Vec::new();
    let mut held = Vec::new();
    for step in &task.steps {
        let part = match step {
            Step::Cpu {
                kernel,
                iters,
                slice_iters,
            } => {
                let run = |between: &mut dyn FnMut()| {
                    blocking::cpu_step(task.idx, *kernel, *iters, *slice_iters, between)
                };
                match gil {
                    Some(gil) if !task.releases_gil => {
                        let mut holder = gil.acquire();
                        run(&mut || holder.tick())
                    }
                    _ => run(&mut || {}),
                }
            }
            Step::Sleep { us } => {
                sleep(y, Duration::from_micros(*us));
                *us
            }
            Step::Socket {
                addr,
                round_trips,
                message_bytes,
                server_delay_us,
            } => {
                let mut stream = connect(y, *addr)?;
                let mut sum = 0;
                let mut back = vec![0u8; *message_bytes as usize];
                for round in 0..*round_trips {
                    let msg = crate::workload::message(task.idx, round, *message_bytes);
                    let mut request = echo::header(*message_bytes, *server_delay_us).to_vec();
                    request.extend_from_slice(&msg);
                    let sent = Instant::now();
                    write_all(y, &mut stream, &request).context("sending to the echo server")?;
                    read_exact(y, &mut stream, &mut back)
                        .context("reading the echo server's reply")?;
                    round_trips_ns.push(sent.elapsed().as_nanos() as u64);
                    sum = combine(sum, fnv1a(&back));
                }
                sum
            }
            // gevent leaves files blocking: they block the one thread.
            Step::File { dir, kib } => {
                blocking::file_round_trip(&mut crate::workload::NoGil, task.idx, dir, *kib)?
            }
            Step::Touch { kib } => {
                held.push(crate::workload::touch::Touched::new(task.idx, *kib)?);
                0
            }
            other => return Err(coroutine::unsupported("gevent", other)),
        };
        sum = combine(sum, part);
    }
    for touched in &held {
        sum = combine(sum, touched.checksum());
    }
    Ok(TaskOutput {
        idx: task.idx,
        checksum: sum,
        run_ns: start.elapsed().as_nanos() as u64,
        round_trips_ns,
        lock: None,
        queue: None,
        wake: None,
    })
}

/// `time.sleep` under gevent: a timer in the scheduler.
fn sleep(y: &GreenYielder, d: Duration) {
    let until = Instant::now() + d;
    // A timer may fire early by the scheduler's rounding; wait out the rest.
    while Instant::now() < until {
        y.suspend(Wait::Until(until));
    }
}

/// A non-blocking connect: EINPROGRESS, then wait until writable and read
/// the outcome from SO_ERROR.
fn connect(y: &GreenYielder, addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let SocketAddr::V4(v4) = addr else {
        anyhow::bail!("gevent connects over IPv4 only, not {addr}");
    };
    // SAFETY: plain socket(2); a non-negative result is a new descriptor
    // owned by the TcpStream below.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    anyhow::ensure!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh socket nobody else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::connect(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        anyhow::ensure!(
            e.raw_os_error() == Some(libc::EINPROGRESS),
            "connecting to the echo server at {addr}: {e}"
        );
        y.suspend(Wait::Fd(fd, libc::EPOLLOUT as u32));
        if let Some(e) = stream.take_error()? {
            anyhow::bail!("connecting to the echo server at {addr}: {e}");
        }
    }
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn write_all(y: &GreenYielder, s: &mut TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                y.suspend(Wait::Fd(s.as_raw_fd(), libc::EPOLLOUT as u32));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn read_exact(y: &GreenYielder, s: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => anyhow::bail!("the echo server closed the connection"),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                y.suspend(Wait::Fd(s.as_raw_fd(), libc::EPOLLIN as u32));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
