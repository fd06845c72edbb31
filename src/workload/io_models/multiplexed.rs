//! IO multiplexing: one thread waits on every socket at once and serves the
//! ones that are ready. epoll keeps the interest set in the kernel (one
//! epoll_ctl when a connection's interest changes); poll and select pass
//! every descriptor on every wait, and select cannot name a descriptor at or
//! above FD_SETSIZE (1024), which `plan` refuses before anything runs.

use super::Multiplexer;
use super::conn::{Conn, Exchange, Tracker, Want};
use std::io;
use std::time::Instant;

pub fn run(
    mux: Multiplexer,
    conns: &mut [Conn],
    ex: &Exchange,
    deadline: Instant,
) -> io::Result<()> {
    match mux {
        Multiplexer::Epoll => epoll(conns, ex, deadline),
        Multiplexer::Poll | Multiplexer::Select => scan(mux, conns, ex, deadline),
    }
}

fn interest(w: Want) -> u32 {
    match w {
        Want::Read => libc::EPOLLIN as u32,
        Want::Write => libc::EPOLLOUT as u32,
        Want::Until(_) | Want::Done => 0,
    }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn epoll(conns: &mut [Conn], ex: &Exchange, deadline: Instant) -> io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: epoll_create1 takes a flag and returns a new descriptor.
    let ep = unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
    let ctl = |op, fd, events: u32, i: usize| -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: i as u64,
        };
        // SAFETY: `ev` lives across the call.
        check(unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fd, &mut ev) }).map(|_| ())
    };
    let mut t = Tracker::new(conns.len());
    // What each connection is registered for; None once removed.
    let mut registered: Vec<Option<u32>> = vec![None; conns.len()];
    let mut update = |t: &mut Tracker, i: usize, w: Want, conns: &[Conn]| -> io::Result<()> {
        t.set(i, w);
        let fd = conns[i].fd();
        match (registered[i], w) {
            (Some(_), Want::Done) => {
                ctl(libc::EPOLL_CTL_DEL, fd, 0, i)?;
                registered[i] = None;
            }
            (None, Want::Done) => {}
            (None, w) => {
                ctl(libc::EPOLL_CTL_ADD, fd, interest(w), i)?;
                registered[i] = Some(interest(w));
            }
            (Some(now), w) if now != interest(w) => {
                ctl(libc::EPOLL_CTL_MOD, fd, interest(w), i)?;
                registered[i] = Some(interest(w));
            }
            _ => {}
        }
        Ok(())
    };
    for i in 0..conns.len() {
        let w = conns[i].drive(ex)?;
        update(&mut t, i, w, conns)?;
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    while t.left > 0 {
        t.wake_due(conns, ex, deadline, |t, i, w, conns| update(t, i, w, conns))?;
        if t.left == 0 {
            break;
        }
        let timeout = t.timeout_ms(deadline);
        // SAFETY: `events` has room for the count passed.
        let n = unsafe {
            libc::epoll_wait(
                ep.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let i = ev.u64 as usize;
            let w = conns[i].drive(ex)?;
            update(&mut t, i, w, conns)?;
        }
    }
    Ok(())
}

/// poll and select: the interest set is rebuilt from `Tracker.wants` and
/// passed whole on every wait.
fn scan(mux: Multiplexer, conns: &mut [Conn], ex: &Exchange, deadline: Instant) -> io::Result<()> {
    if mux == Multiplexer::Select
        && let Some(c) = conns.iter().find(|c| c.fd() as usize >= super::FD_SETSIZE)
    {
        return Err(io::Error::other(format!(
            "select cannot watch descriptor {}: fd_set holds only descriptors below FD_SETSIZE ({})",
            c.fd(),
            super::FD_SETSIZE
        )));
    }
    let mut t = Tracker::new(conns.len());
    for (i, c) in conns.iter_mut().enumerate() {
        let w = c.drive(ex)?;
        t.set(i, w);
    }
    let mut ready: Vec<usize> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(conns.len());
    let mut idx: Vec<usize> = Vec::with_capacity(conns.len());
    while t.left > 0 {
        t.wake_due(conns, ex, deadline, |t, i, w, _| {
            t.set(i, w);
            Ok(())
        })?;
        if t.left == 0 {
            break;
        }
        fds.clear();
        idx.clear();
        for (i, w) in t.wants.iter().enumerate() {
            let events = match w {
                Want::Read => libc::POLLIN,
                Want::Write => libc::POLLOUT,
                _ => continue,
            };
            fds.push(libc::pollfd {
                fd: conns[i].fd(),
                events,
                revents: 0,
            });
            idx.push(i);
        }
        let timeout = t.timeout_ms(deadline);
        ready.clear();
        match mux {
            Multiplexer::Select => select_wait(&fds, &idx, timeout, &mut ready)?,
            _ => {
                // SAFETY: `fds` is a live array of that length.
                let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                ready.extend(
                    fds.iter()
                        .zip(&idx)
                        .filter(|(p, _)| p.revents != 0)
                        .map(|(_, &i)| i),
                );
            }
        }
        for &i in &ready {
            let w = conns[i].drive(ex)?;
            t.set(i, w);
        }
    }
    Ok(())
}

fn select_wait(
    fds: &[libc::pollfd],
    idx: &[usize],
    timeout_ms: i32,
    ready: &mut Vec<usize>,
) -> io::Result<()> {
    // SAFETY: fd_set is plain data; FD_ZERO/FD_SET/FD_ISSET get descriptors
    // checked against FD_SETSIZE above (every connection's was).
    unsafe {
        let mut rd: libc::fd_set = std::mem::zeroed();
        let mut wr: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut rd);
        libc::FD_ZERO(&mut wr);
        let mut max = -1;
        for p in fds {
            if p.events == libc::POLLIN {
                libc::FD_SET(p.fd, &mut rd);
            } else {
                libc::FD_SET(p.fd, &mut wr);
            }
            max = max.max(p.fd);
        }
        let mut tv = libc::timeval {
            tv_sec: (timeout_ms / 1000) as libc::time_t,
            tv_usec: ((timeout_ms % 1000) * 1000) as libc::suseconds_t,
        };
        let n = libc::select(max + 1, &mut rd, &mut wr, std::ptr::null_mut(), &mut tv);
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        for (p, &i) in fds.iter().zip(idx) {
            if libc::FD_ISSET(p.fd, &rd) || libc::FD_ISSET(p.fd, &wr) {
                ready.push(i);
            }
        }
    }
    Ok(())
}
