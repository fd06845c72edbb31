//! Asynchronous IO with io_uring: the client hands the kernel each
//! connection's next send, receive or think timeout and reaps completions;
//! it never asks whether a socket is ready. One operation per connection is
//! in flight at a time, plus one timeout for the deadline.

use super::conn::{Conn, Exchange, Want, timed_out};
use io_uring::{IoUring, opcode, squeue, types};
use std::io;
use std::time::Instant;

/// The user_data of the deadline's timeout.
const DEADLINE: u64 = u64::MAX;
const SQ_ENTRIES: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    None,
    Send,
    Recv,
    Think,
}

/// Whether a ring can be set up here.
pub fn available() -> Result<(), String> {
    IoUring::new(8).map(|_| ()).map_err(|e| {
        format!("io_uring_setup failed: {e} (the kernel is too old, kernel.io_uring_disabled is set, or a seccomp filter forbids it)")
    })
}

fn ring(connections: usize) -> io::Result<IoUring> {
    // Room in the completion queue for every connection's operation and
    // the deadline's, so that none overflows.
    let cq = (connections as u32 + 1)
        .next_power_of_two()
        .max(2 * SQ_ENTRIES);
    IoUring::builder().setup_cqsize(cq).build(SQ_ENTRIES)
}

fn push(ring: &mut IoUring, e: &squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: every buffer and timespec an entry points to lives in
        // `Conn`s or `timespecs`, which outlive the ring's use of them (the
        // ring is dropped, cancelling what is in flight, before them).
        if unsafe { ring.submission().push(e) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

pub fn run(conns: &mut [Conn], ex: &Exchange, deadline: Instant) -> io::Result<()> {
    let mut ring = ring(conns.len())?;
    let mut ops = vec![Op::None; conns.len()];
    let mut timespecs = vec![types::Timespec::new(); conns.len()];
    let limit = deadline.saturating_duration_since(Instant::now());
    let deadline_ts = types::Timespec::new()
        .sec(limit.as_secs())
        .nsec(limit.subsec_nanos());
    push(
        &mut ring,
        &opcode::Timeout::new(&deadline_ts)
            .build()
            .user_data(DEADLINE),
    )?;
    let mut left = conns.len();
    for (i, c) in conns.iter_mut().enumerate() {
        if !submit(&mut ring, i, c, &mut ops, &mut timespecs, ex)? {
            left -= 1;
        }
    }
    let result = (|| {
        while left > 0 {
            ring.submit_and_wait(1)?;
            let done: Vec<(u64, i32)> = ring
                .completion()
                .map(|c| (c.user_data(), c.result()))
                .collect();
            for (data, res) in done {
                if data == DEADLINE {
                    return Err(timed_out(left));
                }
                let i = data as usize;
                let c = &mut conns[i];
                match ops[i] {
                    Op::Send | Op::Recv if res < 0 => {
                        return Err(io::Error::from_raw_os_error(-res));
                    }
                    Op::Send => c.on_sent(res as usize),
                    Op::Recv => c.on_received(res as usize, ex)?,
                    // -ETIME is a timeout that expired, as asked.
                    Op::Think if res == -libc::ETIME || res == 0 => c.wake(),
                    Op::Think => return Err(io::Error::from_raw_os_error(-res)),
                    Op::None => continue,
                }
                ops[i] = Op::None;
                if !submit(&mut ring, i, c, &mut ops, &mut timespecs, ex)? {
                    left -= 1;
                }
            }
        }
        Ok(())
    })();
    // Nothing may still point into the buffers once this returns: cancel
    // what is in flight (the deadline at least) and wait for it to end.
    drop(ring);
    result
}

/// Submits connection `i`'s next operation; false when it is done.
fn submit(
    ring: &mut IoUring,
    i: usize,
    c: &mut Conn,
    ops: &mut [Op],
    timespecs: &mut [types::Timespec],
    ex: &Exchange,
) -> io::Result<bool> {
    let fd = types::Fd(c.fd());
    let (op, entry) = match c.want(ex) {
        Want::Done => return Ok(false),
        Want::Write => {
            let rest = c.unsent();
            (
                Op::Send,
                opcode::Send::new(fd, rest.as_ptr(), rest.len() as u32)
                    .flags(libc::MSG_NOSIGNAL)
                    .build(),
            )
        }
        Want::Read => {
            let rest = c.unreceived();
            (
                Op::Recv,
                opcode::Recv::new(fd, rest.as_mut_ptr(), rest.len() as u32).build(),
            )
        }
        Want::Until(t) => {
            let d = t.saturating_duration_since(Instant::now());
            timespecs[i] = types::Timespec::new()
                .sec(d.as_secs())
                .nsec(d.subsec_nanos());
            (Op::Think, opcode::Timeout::new(&timespecs[i]).build())
        }
    };
    ops[i] = op;
    push(ring, &entry.user_data(i as u64))?;
    Ok(true)
}
