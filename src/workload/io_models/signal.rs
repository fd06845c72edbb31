//! Signal-driven IO: every socket is O_ASYNC with F_SETSIG, so the kernel
//! queues a real-time signal naming the descriptor whenever the socket
//! becomes ready, addressed to this thread (F_SETOWN_EX). The signals are
//! blocked and read from a signalfd, many at a time. When the real-time
//! queue overflows the kernel sends a plain SIGIO instead, which names no
//! descriptor: then every waiting connection is tried.

use super::conn::{Conn, Exchange, Tracker, Want};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

// Linux's values (asm-generic, as on x86_64 and aarch64); the libc crate
// does not export them for glibc.
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;

#[repr(C)]
struct FOwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The signals this thread blocks and reads; restored when dropped, after
/// the sockets stop signalling and what is pending was read.
struct Blocked {
    old: libc::sigset_t,
    sfd: OwnedFd,
}

impl Blocked {
    fn new(sig: libc::c_int) -> io::Result<Blocked> {
        // SAFETY: sigset_t is plain data set through the sig* calls; the
        // mask changes only this thread's.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigaddset(&mut set, libc::SIGIO);
            check(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old))?;
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                let e = io::Error::last_os_error();
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                return Err(e);
            }
            Ok(Blocked {
                old,
                sfd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// Reads pending signals into `buf`; 0 when none is pending.
    fn read(&self, buf: &mut [libc::signalfd_siginfo]) -> io::Result<usize> {
        let bytes = std::mem::size_of_val(buf);
        // SAFETY: `buf` is a writable array of that many bytes.
        let n = unsafe { libc::read(self.sfd.as_raw_fd(), buf.as_mut_ptr().cast(), bytes) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize / std::mem::size_of::<libc::signalfd_siginfo>())
    }

    /// Waits until a signal is pending or `timeout_ms` passes.
    fn wait(&self, timeout_ms: i32) -> io::Result<()> {
        let mut p = libc::pollfd {
            fd: self.sfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let mut buf = [zeroed_info(); 64];
        while matches!(self.read(&mut buf), Ok(n) if n > 0) {}
        // SAFETY: restores this thread's mask as it was.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

fn zeroed_info() -> libc::signalfd_siginfo {
    // SAFETY: signalfd_siginfo is plain integers; all zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Turns signal-driven IO on (`on`) or off for one socket.
fn set_async(fd: libc::c_int, sig: libc::c_int, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer or struct arguments
    // that live across the call.
    unsafe {
        if on {
            let owner = FOwnerEx {
                kind: F_OWNER_TID,
                pid: libc::gettid(),
            };
            check(libc::fcntl(fd, F_SETOWN_EX, &owner))?;
            check(libc::fcntl(fd, F_SETSIG, sig))?;
        }
        let flags = check(libc::fcntl(fd, libc::F_GETFL))?;
        let flags = if on {
            flags | libc::O_ASYNC | libc::O_NONBLOCK
        } else {
            flags & !libc::O_ASYNC
        };
        check(libc::fcntl(fd, libc::F_SETFL, flags))?;
    }
    Ok(())
}

pub fn run(conns: &mut [Conn], ex: &Exchange, deadline: Instant) -> io::Result<()> {
    let sig = libc::SIGRTMIN() + 2;
    let blocked = Blocked::new(sig)?;
    let result = serve(&blocked, sig, conns, ex, deadline);
    for c in conns.iter() {
        set_async(c.fd(), sig, false)?;
    }
    drop(blocked);
    result
}

fn serve(
    blocked: &Blocked,
    sig: libc::c_int,
    conns: &mut [Conn],
    ex: &Exchange,
    deadline: Instant,
) -> io::Result<()> {
    let max_fd = conns.iter().map(Conn::fd).max().unwrap_or(0) as usize;
    let mut by_fd = vec![usize::MAX; max_fd + 1];
    for (i, c) in conns.iter().enumerate() {
        set_async(c.fd(), sig, true)?;
        by_fd[c.fd() as usize] = i;
    }
    let mut t = Tracker::new(conns.len());
    for (i, c) in conns.iter_mut().enumerate() {
        let w = c.drive(ex)?;
        t.set(i, w);
    }
    let mut buf = vec![zeroed_info(); 256];
    while t.left > 0 {
        t.wake_due(conns, ex, deadline, |t, i, w, _| {
            t.set(i, w);
            Ok(())
        })?;
        if t.left == 0 {
            break;
        }
        let n = blocked.read(&mut buf)?;
        if n == 0 {
            blocked.wait(t.timeout_ms(deadline))?;
            continue;
        }
        for info in &buf[..n] {
            if info.ssi_signo == sig as u32 {
                let i = by_fd
                    .get(info.ssi_fd as usize)
                    .copied()
                    .unwrap_or(usize::MAX);
                if i != usize::MAX && matches!(t.wants[i], Want::Read | Want::Write) {
                    let w = conns[i].drive(ex)?;
                    t.set(i, w);
                }
            } else {
                // SIGIO: the real-time queue overflowed; try everyone.
                for (i, c) in conns.iter_mut().enumerate() {
                    if matches!(t.wants[i], Want::Read | Want::Write) {
                        let w = c.drive(ex)?;
                        t.set(i, w);
                    }
                }
            }
        }
    }
    Ok(())
}
