//! Blocking IO: a thread per connection, each blocked in send(2) or recv(2)
//! until its socket is ready and sleeping through its think time. Threads
//! use std's default stack (2 MiB reserved, only what is touched is
//! resident): what a plain Rust program gets.

use super::conn::{Conn, Exchange, Want};
use std::io;
use std::sync::{Arc, Barrier};
use std::time::Instant;

pub fn run(conns: Vec<Conn>, ex: &Exchange, deadline: Instant) -> io::Result<Vec<Conn>> {
    let limit = deadline.saturating_duration_since(Instant::now());
    for c in &conns {
        // A blocked read or write gives up at the deadline.
        c.stream
            .set_read_timeout(Some(limit.max(std::time::Duration::from_millis(1))))?;
        c.stream
            .set_write_timeout(Some(limit.max(std::time::Duration::from_millis(1))))?;
    }
    // Every thread starts its exchange once all exist, as the other models
    // start theirs with every connection ready.
    let start = Arc::new(Barrier::new(conns.len()));
    let mut handles = Vec::with_capacity(conns.len());
    let mut spawn_error = None;
    for mut c in conns {
        let ex = *ex;
        let start = Arc::clone(&start);
        let spawned = std::thread::Builder::new()
            .name("io-blocking".into())
            .spawn(move || {
                start.wait();
                let r = (|| -> io::Result<()> {
                    loop {
                        match c.drive(&ex)? {
                            Want::Done => return Ok(()),
                            Want::Until(t) => {
                                std::thread::sleep(t.saturating_duration_since(Instant::now()));
                                c.wake();
                            }
                            // A blocking socket only stops early on EINTR.
                            Want::Read | Want::Write => {}
                        }
                    }
                })();
                r.map(|()| c)
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                spawn_error = Some(e);
                break;
            }
        }
    }
    if let Some(e) = spawn_error {
        // The threads started wait at the barrier for ones that will never
        // come: this process cannot go on (the harness reaps it).
        return Err(io::Error::other(format!(
            "starting thread {} for its connection: {e}",
            handles.len() + 1
        )));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.join() {
            Ok(r) => out.push(r?),
            Err(_) => return Err(io::Error::other("a connection's thread panicked")),
        }
    }
    Ok(out)
}
