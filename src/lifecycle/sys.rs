//! The system calls the lifecycle needs, each wrapped once: `fork` (only from
//! a single-threaded process), pipes, reads and waits that end at a
//! deadline, signals, thread ids and the subreaper flag. Every wait here
//! takes a deadline; the only unbounded ones are a forked child's blocking
//! reads, which end when the demo closes the other end or dies.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a child ended, from waitpid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signalled(i32),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Ended::Exited(code) => write!(f, "exit code {code}"),
            Ended::Signalled(libc::SIGTERM) => f.write_str("signal 15 (SIGTERM)"),
            Ended::Signalled(libc::SIGKILL) => f.write_str("signal 9 (SIGKILL)"),
            Ended::Signalled(sig) => write!(f, "signal {sig}"),
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}"))
}

/// A pipe, close-on-exec (nothing here execs, but nothing may inherit it
/// through an exec either): (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What a forked child is called, which descriptors it keeps, and whether
/// it dies with its parent.
pub struct ForkOptions<'a> {
    /// Its command name in /proc (at most 15 bytes are kept).
    pub name: &'a str,
    /// Descriptors above stderr that it keeps; every other one is closed.
    pub keep: &'a [RawFd],
    /// `PR_SET_PDEATHSIG`: killed when its parent exits. Off only for the
    /// orphan, which must outlive its parent.
    pub die_with_parent: bool,
}

/// Forks a child that runs `body` and exits with what it returns (101 on a
/// panic); returns the child's pid. `body` should capture only plain values
/// (raw descriptors, numbers): the parent drops its copy of the closure.
///
/// Refuses, without forking, unless this process has exactly one thread:
/// in the child of a threaded process a lock another thread held (the
/// allocator's, stdout's) stays locked forever, so only async-signal-safe
/// calls would be allowed before `_exit`, and `body` allocates.
pub fn fork(opts: &ForkOptions, body: impl FnOnce() -> i32) -> io::Result<u32> {
    match super::proc::own_threads() {
        Some(1) => {}
        n => {
            return Err(io::Error::other(format!(
                "refusing to fork from a process with {} threads: fork is sound here only from a single-threaded one",
                n.map_or("an unknown number of".into(), |n| n.to_string())
            )));
        }
    }
    let parent = std::process::id();
    // SAFETY: this process is single-threaded (checked above), so the child
    // is a complete copy with no lock held by a thread that is not there.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                enter_child(opts, parent);
                body()
            }))
            .unwrap_or(101);
            // SAFETY: _exit ends the child at once, without the parent's
            // exit handlers or flushing buffers the parent owns.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid as u32),
    }
}

/// The first steps of every forked child: tie it to its parent, name it,
/// point stdout at /dev/null (the demo's stdout is its report to the
/// harness, which must see it close when the demo exits) and close every
/// descriptor it does not keep, so that a pipe's reader sees EOF when the
/// writers it knows of are gone.
fn enter_child(opts: &ForkOptions, parent: u32) {
    // SAFETY: plain system calls on values we own; the process is a
    // single-threaded copy of its parent.
    unsafe {
        if opts.die_with_parent {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The parent may have died before the line above.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
        }
        set_name(opts.name);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 1);
            libc::close(null);
        }
    }
    close_other_fds(opts.keep);
}

/// Closes every descriptor above stderr but `keep`.
fn close_other_fds(keep: &[RawFd]) {
    let open: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => return,
    };
    for fd in open.into_iter().filter(|fd| *fd > 2 && !keep.contains(fd)) {
        // SAFETY: closing a descriptor this child inherited and does not
        // use; the listing's own, already closed, gives EBADF, ignored.
        unsafe {
            libc::close(fd);
        }
    }
}

/// Sets this thread's command name (`/proc/PID/comm`).
pub fn set_name(name: &str) {
    let mut buf = [0u8; 16];
    for (b, c) in buf.iter_mut().zip(name.bytes().take(15)) {
        *b = c;
    }
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, buf.as_ptr());
    }
}

/// Waits until `fd` is readable (data, end of file or an error) or
/// `deadline` passes; false when it passed.
pub fn wait_readable(fd: RawFd, deadline: Instant) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one pollfd we pass.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return Ok(true);
        }
        if r == 0 {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            continue;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Reads what is there, waiting until `deadline` for something: 0 at end
/// of file, a `TimedOut` error when nothing came.
pub fn read_until(fd: RawFd, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    if !wait_readable(fd, deadline)? {
        return Err(timed_out("reading a pipe"));
    }
    read_blocking(fd, buf)
}

/// Fills `buf` unless end of file comes first; returns how much was read.
pub fn read_full_until(fd: RawFd, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match read_until(fd, &mut buf[got..], deadline)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Everything until end of file, at most `max` bytes.
pub fn read_to_end_until(fd: RawFd, max: usize, deadline: Instant) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match read_until(fd, &mut buf, deadline)? {
            0 => return Ok(out),
            n if out.len() + n > max => {
                return Err(io::Error::other(format!("more than {max} bytes")));
            }
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// One blocking read: for a forked child waiting on its parent, which ends
/// it by writing, closing the pipe or dying (the child then sees EOF).
pub fn read_blocking(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: read writes at most `buf.len()` bytes into `buf`.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Writes all of `bytes`; blocks while the pipe is full.
pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: write reads at most `bytes.len()` bytes from `bytes`.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Bytes waiting in a pipe (`FIONREAD`).
pub fn bytes_waiting(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as usize)
}

/// A pipe's capacity in bytes (`F_GETPIPE_SZ`).
pub fn pipe_capacity(fd: RawFd) -> io::Result<usize> {
    // SAFETY: F_GETPIPE_SZ only reads the pipe's size.
    let n = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Waits until child `pid` has exited, without reaping it: it stays a
/// zombie, readable in /proc, until `reap` or `wait_until`. False when
/// `deadline` passed first, or `cancel` was set (checked every 100 ms).
/// Uses a pidfd, which becomes readable when the process exits.
pub fn wait_exited(pid: u32, deadline: Instant, cancel: Option<&AtomicBool>) -> io::Result<bool> {
    // SAFETY: pidfd_open returns a new descriptor (or -1) and takes no pointer.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    use std::os::fd::AsRawFd;
    loop {
        let slice = match cancel {
            Some(_) => deadline.min(Instant::now() + Duration::from_millis(100)),
            None => deadline,
        };
        if wait_readable(pidfd.as_raw_fd(), slice)? {
            return Ok(true);
        }
        let cancelled = cancel.is_some_and(|c| c.load(Ordering::Relaxed));
        if cancelled || Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

/// Reaps child `pid` if it has exited; None while it runs.
pub fn reap(pid: u32) -> io::Result<Option<Ended>> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status we pass.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        if r == 0 {
            return Ok(None);
        }
        if r == pid as libc::pid_t {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(Some(if libc::WIFSIGNALED(status) {
        Ended::Signalled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(libc::WEXITSTATUS(status))
    }))
}

/// Waits for child `pid` to exit and reaps it: None when it is still
/// running at `deadline` (or `cancel` was set); it is then not reaped.
pub fn wait_until(
    pid: u32,
    deadline: Instant,
    cancel: Option<&AtomicBool>,
) -> io::Result<Option<Ended>> {
    if !wait_exited(pid, deadline, cancel)? {
        return Ok(None);
    }
    reap(pid)
}

/// Sends `sig` to process `pid`, or to process group `-pid`.
pub fn signal(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes no pointer.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The calling thread's id.
pub fn gettid() -> u32 {
    // SAFETY: gettid takes no argument and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Makes this process the reaper of its orphaned descendants (or stops it):
/// a process whose parent exits is re-parented to its nearest living
/// ancestor that is a subreaper, instead of init.
pub fn set_child_subreaper(on: bool) -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a flag, no pointer.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on)) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this process is a child subreaper.
pub fn is_child_subreaper() -> bool {
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int.
    unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut flag) == 0 && flag != 0 }
}

/// Milliseconds since `t0`.
pub fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn reads_end_at_their_deadline_or_at_eof() {
        let (r, w) = pipe().unwrap();
        let t = Instant::now();
        let err =
            read_until(r.as_raw_fd(), &mut [0; 4], t + Duration::from_millis(30)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(30));
        write_all(w.as_raw_fd(), b"abc").unwrap();
        assert_eq!(bytes_waiting(r.as_raw_fd()).unwrap(), 3);
        assert!(pipe_capacity(r.as_raw_fd()).unwrap() >= 4096);
        drop(w);
        let mut buf = [0u8; 8];
        let far = Instant::now() + Duration::from_secs(5);
        assert_eq!(read_full_until(r.as_raw_fd(), &mut buf, far).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(read_until(r.as_raw_fd(), &mut buf, far).unwrap(), 0);
    }

    #[test]
    fn fork_is_refused_in_a_threaded_process() {
        // The test harness runs tests on threads of its own.
        let _other = std::thread::spawn(|| std::thread::park_timeout(Duration::from_secs(2)));
        let opts = ForkOptions {
            name: "never",
            keep: &[],
            die_with_parent: true,
        };
        let err = fork(&opts, || 0).unwrap_err().to_string();
        assert!(err.contains("refusing to fork"), "{err}");
    }

    #[test]
    fn ended_reads_as_python_would_say_it() {
        assert_eq!(Ended::Exited(7).to_string(), "exit code 7");
        assert_eq!(
            Ended::Signalled(libc::SIGTERM).to_string(),
            "signal 15 (SIGTERM)"
        );
    }
}
