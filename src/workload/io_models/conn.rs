//! One connection's side of the exchange as a state machine that every IO
//! model drives: send a request (the echo header and `message(idx, round)`),
//! receive the echo, fold it into the checksum, think, and again, until
//! `round_trips` are done. The models only decide when to call it.

use crate::workload::{combine, echo, fnv1a, message};
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// What a connection waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Its socket to take more of the request.
    Write,
    /// More of the echo.
    Read,
    /// The end of its think time.
    Until(Instant),
    Done,
}

/// The exchange's shape, shared by every connection.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    pub round_trips: u32,
    pub message_bytes: u32,
    pub server_delay_us: u64,
    pub think: Duration,
}

pub struct Conn {
    pub stream: TcpStream,
    pub idx: u32,
    round: u32,
    out: Vec<u8>,
    sent: usize,
    inbuf: Vec<u8>,
    got: usize,
    started: Instant,
    thinking_until: Option<Instant>,
    pub checksum: u64,
    /// Each round trip's time, from its first byte sent to its last echoed.
    pub latencies_ns: Vec<u64>,
}

/// What `rounds` round trips of connection `idx` echo, folded in order.
pub fn expected(idx: u32, rounds: u32, len: u32) -> u64 {
    (0..rounds).fold(0, |acc, round| {
        combine(acc, fnv1a(&message(idx, round, len)))
    })
}

impl Conn {
    pub fn new(stream: TcpStream, idx: u32, ex: &Exchange) -> Conn {
        let mut c = Conn {
            stream,
            idx,
            round: 0,
            out: Vec::with_capacity(echo::HEADER_LEN + ex.message_bytes as usize),
            sent: 0,
            inbuf: vec![0; ex.message_bytes as usize],
            got: 0,
            started: Instant::now(),
            thinking_until: None,
            checksum: 0,
            latencies_ns: Vec::with_capacity(ex.round_trips as usize),
        };
        c.prepare(ex);
        c
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    fn prepare(&mut self, ex: &Exchange) {
        self.out.clear();
        self.out
            .extend_from_slice(&echo::header(ex.message_bytes, ex.server_delay_us));
        self.out
            .extend_from_slice(&message(self.idx, self.round, ex.message_bytes));
        self.sent = 0;
        self.got = 0;
    }

    /// What the connection waits for now, without any system call.
    pub fn want(&self, ex: &Exchange) -> Want {
        if self.round >= ex.round_trips {
            Want::Done
        } else if let Some(t) = self.thinking_until {
            Want::Until(t)
        } else if self.sent < self.out.len() {
            Want::Write
        } else {
            Want::Read
        }
    }

    /// The unsent part of the request (io_uring sends it from here).
    pub fn unsent(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Where the rest of the echo goes (io_uring receives into it).
    pub fn unreceived(&mut self) -> &mut [u8] {
        &mut self.inbuf[self.got..]
    }

    /// `n` more bytes of the request went out.
    pub fn on_sent(&mut self, n: usize) {
        if self.sent == 0 && n > 0 {
            self.started = Instant::now();
        }
        self.sent = (self.sent + n).min(self.out.len());
    }

    /// `n` more bytes of the echo came in; a full echo ends the round trip.
    pub fn on_received(&mut self, n: usize, ex: &Exchange) -> io::Result<()> {
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection {}: the echo server closed it", self.idx),
            ));
        }
        self.got = (self.got + n).min(self.inbuf.len());
        if self.got < self.inbuf.len() {
            return Ok(());
        }
        let now = Instant::now();
        self.latencies_ns
            .push(now.duration_since(self.started).as_nanos() as u64);
        self.checksum = combine(self.checksum, fnv1a(&self.inbuf));
        self.round += 1;
        if self.round < ex.round_trips {
            self.prepare(ex);
            if !ex.think.is_zero() {
                self.thinking_until = Some(now + ex.think);
            }
        }
        Ok(())
    }

    /// The think time is over (or the caller slept through it).
    pub fn wake(&mut self) {
        self.thinking_until = None;
    }

    /// Makes every step the socket allows now with send(2) and recv(2):
    /// on a blocking socket each call waits, on a non-blocking one it stops
    /// at EAGAIN. Returns what the connection waits for then.
    pub fn drive(&mut self, ex: &Exchange) -> io::Result<Want> {
        loop {
            match self.want(ex) {
                Want::Until(t) if Instant::now() >= t => self.wake(),
                Want::Write => {
                    let rest = self.unsent();
                    // SAFETY: `rest` is a live buffer of that length.
                    let n = unsafe {
                        libc::send(
                            self.fd(),
                            rest.as_ptr().cast(),
                            rest.len(),
                            libc::MSG_NOSIGNAL,
                        )
                    };
                    match outcome(n)? {
                        Io::Moved(n) => self.on_sent(n),
                        Io::Again => return Ok(Want::Write),
                        Io::Interrupted => {}
                    }
                }
                Want::Read => {
                    let fd = self.fd();
                    let rest = self.unreceived();
                    // SAFETY: `rest` is a live, writable buffer of that length.
                    let n = unsafe { libc::recv(fd, rest.as_mut_ptr().cast(), rest.len(), 0) };
                    match outcome(n)? {
                        Io::Moved(n) => self.on_received(n, ex)?,
                        Io::Again => return Ok(Want::Read),
                        Io::Interrupted => {}
                    }
                }
                w => return Ok(w),
            }
        }
    }
}

enum Io {
    Moved(usize),
    /// EAGAIN: the socket is not ready.
    Again,
    /// EINTR: try again at once.
    Interrupted,
}

/// What a send(2) or recv(2) return value means.
fn outcome(n: isize) -> io::Result<Io> {
    if n >= 0 {
        return Ok(Io::Moved(n as usize));
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock => Ok(Io::Again),
        io::ErrorKind::Interrupted => Ok(Io::Interrupted),
        _ => Err(e),
    }
}

/// What the single-threaded models keep per connection: what each waits
/// for, the think timers in order, and how many are not done.
pub struct Tracker {
    pub wants: Vec<Want>,
    timers: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
    pub left: usize,
}

impl Tracker {
    pub fn new(n: usize) -> Tracker {
        Tracker {
            wants: vec![Want::Write; n],
            timers: std::collections::BinaryHeap::new(),
            left: n,
        }
    }

    /// Records what connection `i` waits for now.
    pub fn set(&mut self, i: usize, w: Want) {
        if let Want::Until(t) = w {
            self.timers.push(std::cmp::Reverse((t, i)));
        }
        if w == Want::Done && self.wants[i] != Want::Done {
            self.left -= 1;
        }
        self.wants[i] = w;
    }

    /// A connection whose think time is over, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let std::cmp::Reverse((t, i)) = *self.timers.peek()?;
        (t <= now).then(|| {
            self.timers.pop();
            i
        })
    }

    /// Fails once `deadline` has passed; else wakes and drives every
    /// connection whose think time is over, and `apply` records what each
    /// wants next (a model may also change what it waits on).
    pub fn wake_due(
        &mut self,
        conns: &mut [Conn],
        ex: &Exchange,
        deadline: Instant,
        mut apply: impl FnMut(&mut Tracker, usize, Want, &mut [Conn]) -> io::Result<()>,
    ) -> io::Result<()> {
        let now = Instant::now();
        if now > deadline {
            return Err(timed_out(self.left));
        }
        while let Some(i) = self.pop_due(now) {
            if matches!(self.wants[i], Want::Until(_)) {
                conns[i].wake();
                let w = conns[i].drive(ex)?;
                apply(self, i, w, conns)?;
            }
        }
        Ok(())
    }

    /// How long a wait may last: until the next timer or the deadline,
    /// whichever comes first, in whole milliseconds rounded up.
    pub fn timeout_ms(&self, deadline: Instant) -> i32 {
        let next = self.timers.peek().map_or(deadline, |r| r.0.0.min(deadline));
        let d = next.saturating_duration_since(Instant::now());
        d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
    }
}

/// The error a model returns when its deadline passes.
pub fn timed_out(left: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{left} connections were not done by the deadline"),
    )
}
