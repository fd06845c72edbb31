//! Non-blocking IO: O_NONBLOCK sockets and one thread that tries each
//! connection in turn, again and again, never waiting: every try that finds
//! nothing is a wasted recv(2). This is the CPU that busy-waiting burns.

use super::conn::{Conn, Exchange, Want, timed_out};
use std::io;
use std::time::Instant;

pub fn run(conns: &mut [Conn], ex: &Exchange, deadline: Instant) -> io::Result<()> {
    let mut live: Vec<usize> = (0..conns.len()).collect();
    while !live.is_empty() {
        if Instant::now() > deadline {
            return Err(timed_out(live.len()));
        }
        let mut kept = 0;
        for k in 0..live.len() {
            let i = live[k];
            // A thinking connection is tried too: `drive` wakes it once
            // its time has come, so the loop spins through think times.
            if conns[i].drive(ex)? != Want::Done {
                live[kept] = i;
                kept += 1;
            }
        }
        live.truncate(kept);
    }
    Ok(())
}
