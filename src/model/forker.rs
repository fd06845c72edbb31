//! The single-threaded fork server that the `fork` and `forkserver` start
//! methods rest on, and the harness's side of it.
//!
//! fork() is safe in Rust only from a process with one thread: a lock held
//! by another thread at that moment (the allocator's, stdout's) stays held
//! forever in the child. So the harness never forks a worker itself. A fork
//! server does, on request, over a unix socket: the harness sends the
//! worker's three pipe ends (SCM_RIGHTS), the server checks that it still
//! has one thread (/proc/self/stat), clones itself with
//! `CLONE_PARENT | SIGCHLD` so that the worker is the *harness's* child
//! (reaped by wait4 with its rusage, killed on a timeout, tied to the
//! harness by its parent-death signal), and answers with the pid (or, as
//! an experiment's switch, the worker answers with its own, first thing, on
//! the socket it inherited: a wake-up across cores that cost more). A
//! request that fails or times out after the clone leaves no zombie:
//! `Server::recover` shuts the harness's side of the socket, so the server
//! answers what it serves and exits, and reaps every pid read until the
//! socket's end. The worker puts the pipes on fds 0-2, closes every other
//! descriptor, and runs the worker loop where it is, no exec. A one-shot
//! worker's job is in its stdin pipe before the request leaves, so it never
//! waits for it.
//!
//! Two servers speak this protocol: the launcher (`fork`), forked by `main`
//! before any thread exists, a copy of the parent program; and the fork
//! server (`forkserver`), the harness re-executed as `parabench forkserver`,
//! a small fresh program, as in Python.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

const OP_FORK: u32 = 1;
const OP_BALLAST: u32 = 2;
const OP_THREADS: u32 = 3;
/// OP_FORK with the one-shot worker's job in the message, after the
/// request: the server reads it, and the worker it clones inherits it in
/// memory, as a child of Python's fork inherits its Process object.
const OP_FORK_JOB: u32 = 4;

/// The OS floor's fork + _exit + wait, timed in the server (`time_fork`).
const OP_TIME_FORK: u32 = 5;

/// The largest job that travels in a fork request (`OP_FORK_JOB`); a larger
/// one goes through the worker's stdin.
pub const MAX_INHERITED_JOB: usize = 48 * 1024;

const POOL: u32 = 1;
/// The server answers with the pid as soon as it has cloned; without it the
/// worker answers, first thing.
const SERVER_ANSWERS: u32 = 2;

/// Which side answers a fork request (`SERVER_ANSWERS`); an experiment's
/// switch (`fork_probe`).
static WORKER_ANSWERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes the worker, not the server, answer fork requests from now on.
pub fn set_worker_answers(on: bool) {
    WORKER_ANSWERS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The reply when the server finds a second thread in itself.
const NOT_SINGLE_THREADED: i32 = libc::EDEADLK;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Request {
    op: u32,
    /// OP_FORK: `POOL` (a pool worker, which serves until stdin closes) and
    /// `SERVER_ANSWERS`.
    flags: u32,
    /// OP_BALLAST: MiB the server holds from now on.
    mib: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Reply {
    /// A pid, a thread count, or 0.
    value: i64,
    /// 0, or the errno of what failed.
    errno: i32,
    _pad: u32,
    /// A forked worker's answer: when the server read the request, and when
    /// the worker first ran (CLOCK_MONOTONIC, ns), for `ForkTiming`.
    received_ns: u64,
    started_ns: u64,
}

/// CLOCK_MONOTONIC in ns: the clock every process on the machine shares.
pub fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass (vDSO, no syscall).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// When each step of a fork request happened (CLOCK_MONOTONIC, ns): the
/// harness sent it (pipes made and the input written), the server read it,
/// the worker first ran, and the harness read the worker's pid.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForkTiming {
    pub requested_ns: u64,
    pub received_ns: u64,
    pub started_ns: u64,
    pub answered_ns: u64,
}

/// The bytes of a plain `repr(C)` value of integers.
fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is one of the integer-only repr(C) structs above.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

fn bytes_of_mut<T: Copy>(v: &mut T) -> &mut [u8] {
    // SAFETY: as above; any bit pattern is a valid value of these structs.
    unsafe { std::slice::from_raw_parts_mut((v as *mut T).cast::<u8>(), size_of::<T>()) }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A connected pair of message sockets, close-on-exec.
fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into `fds`.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: both are fresh descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe, close-on-exec: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both are fresh descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Room for the control message of three descriptors, aligned for cmsghdr.
#[repr(C, align(8))]
struct ControlBuf([u8; 64]);

/// Sends one message with `fds` attached.
fn send_msg(sock: RawFd, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut control = ControlBuf([0; 64]);
    // SAFETY: msghdr is plain data; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let len = std::mem::size_of_val(fds);
        // SAFETY: CMSG_* compute sizes and pointers inside `control`, which
        // holds CMSG_SPACE(len) bytes for up to three descriptors.
        unsafe {
            let space = libc::CMSG_SPACE(len as u32) as usize;
            assert!(space <= control.0.len(), "at most three descriptors");
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(len as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), len);
        }
    }
    loop {
        // SAFETY: `msg` points at live buffers. MSG_NOSIGNAL: a closed peer
        // is an error, not a SIGPIPE.
        let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return if r as usize == bytes.len() {
                Ok(())
            } else {
                Err(io::Error::other("short message"))
            };
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Receives one message into `buf` and the descriptors attached to it
/// (close-on-exec). 0 bytes: the peer closed its end.
fn recv_msg(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = ControlBuf([0; 64]);
    // SAFETY: msghdr is plain data; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    let n = loop {
        // SAFETY: `msg` points at live buffers.
        let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if r >= 0 {
            break r as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control` with well-formed control messages;
    // each SCM_RIGHTS descriptor is new to this process and now ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let len = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                for i in 0..len / size_of::<RawFd>() {
                    let fd = data
                        .add(i * size_of::<RawFd>())
                        .cast::<RawFd>()
                        .read_unaligned();
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & (libc::MSG_CTRUNC | libc::MSG_TRUNC) != 0 {
        return Err(io::Error::other("a truncated message"));
    }
    Ok((n, fds))
}

/// This process's thread count, from /proc/self/status.
pub fn threads_now() -> io::Result<u64> {
    let mut text = String::new();
    std::fs::File::open("/proc/self/status")?.read_to_string(&mut text)?;
    threads_in(&text)
}

fn threads_in(status: &str) -> io::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

// ---- the server side: one thread, never returns ----

/// Serves fork requests on `sock` until the harness closes its end, then
/// exits. Call only in a process that has one thread.
fn serve(sock: OwnedFd) -> ! {
    // SAFETY: getppid has no preconditions.
    let harness = unsafe { libc::getppid() };
    // What the harness inherited (a jobserver's pipe, a caller's descriptor)
    // is not the workers' business: every worker would hold it open, and
    // each fork would copy it.
    close_all_but_stdio_and(sock.as_raw_fd());
    // Kept open and read again with one pread at every fork: /proc/self/stat
    // is short and cheap to generate, where reading /proc/self/status took
    // eight reads, a seek and a statx per fork.
    let stat = std::fs::File::open("/proc/self/stat").ok();
    // Read here, once: a forked worker that reads its environment pays for
    // it in page faults.
    let fault = std::env::var(super::worker::FAULT_ENV).ok();
    let mut held: Option<super::ballast::Ballast> = None;
    let mut message = vec![0u8; size_of::<Request>() + MAX_INHERITED_JOB];
    loop {
        let (n, fds) = match recv_msg(sock.as_raw_fd(), &mut message) {
            Ok(got) => got,
            // SAFETY: _exit ends this process without running anything of the
            // parent program's (no atexit handlers, no destructors).
            Err(_) => unsafe { libc::_exit(1) },
        };
        let received_ns = now_ns();
        if n == 0 {
            // The harness is done with us.
            unsafe { libc::_exit(0) }
        }
        let mut req = Request::default();
        let answer = if n < size_of::<Request>() {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        } else {
            bytes_of_mut(&mut req).copy_from_slice(&message[..size_of::<Request>()]);
            let payload = &message[size_of::<Request>()..n];
            let job = match req.op {
                OP_FORK_JOB => serde_json::from_slice::<super::worker::Job>(payload)
                    .map(Some)
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL)),
                _ if payload.is_empty() => Ok(None),
                _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            };
            match req.op {
                OP_FORK | OP_FORK_JOB => match job.and_then(|job| {
                    single_threaded(stat.as_ref())?;
                    let worker = Worker {
                        pipes: fds,
                        pool: req.flags & POOL != 0,
                        job,
                        fault: fault.as_deref(),
                    };
                    fork_worker(
                        &sock,
                        stat.as_ref(),
                        worker,
                        req.flags,
                        harness,
                        received_ns,
                    )
                }) {
                    // The worker answered for itself.
                    Ok(None) => continue,
                    Ok(Some(reply)) => Ok(reply),
                    Err(e) => Err(e),
                },
                OP_BALLAST => {
                    // The old one goes first: the two never add up.
                    drop(held.take());
                    super::ballast::Ballast::new(req.mib)
                        .map(|b| {
                            held = b;
                            held.as_ref().map_or(0, |b| b.bytes() as i64)
                        })
                        .map(reply_of_value)
                }
                OP_THREADS => single_threaded(stat.as_ref()).map(|()| reply_of_value(1)),
                OP_TIME_FORK => single_threaded(stat.as_ref())
                    .and_then(|()| time_fork())
                    .map(|ns| reply_of_value(ns as i64)),
                _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            }
        };
        if send_msg(sock.as_raw_fd(), bytes_of(&reply_of(answer)), &[]).is_err() {
            unsafe { libc::_exit(1) }
        }
    }
}

fn reply_of_value(value: i64) -> Reply {
    Reply {
        value,
        ..Reply::default()
    }
}

fn reply_of(answer: io::Result<Reply>) -> Reply {
    match answer {
        Ok(reply) => reply,
        Err(e) => Reply {
            value: -1,
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            ..Reply::default()
        },
    }
}

/// Closes every descriptor from `first` up (close_range, Linux 5.9).
fn close_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range closes descriptors of this process only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Closes every descriptor but 0-2 and `keep`; where close_range is
/// missing, those /proc/self/fd lists.
fn close_all_but_stdio_and(keep: RawFd) {
    // SAFETY: close_range closes descriptors of this process only.
    let ranged = keep <= 2
        || unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                (keep - 1) as libc::c_uint,
                0,
            )
        } == 0;
    if ranged && close_from((keep + 1).max(3)).is_ok() {
        return;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let open: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && fd != keep {
            // SAFETY: closes a descriptor of ours that nothing here uses; the
            // one read_dir held is closed already and fails harmlessly.
            unsafe { libc::close(fd) };
        }
    }
}

/// Ok when this process has exactly one thread: the condition for fork().
fn single_threaded(stat: Option<&std::fs::File>) -> io::Result<()> {
    let threads = match stat {
        Some(f) => {
            use std::os::unix::fs::FileExt;
            let mut buf = [0u8; 1024];
            let n = f.read_at(&mut buf, 0)?;
            threads_in_stat(&buf[..n])?
        }
        None => threads_now()?,
    };
    if threads == 1 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(NOT_SINGLE_THREADED))
    }
}

/// One fork + _exit + wait from this single-threaded server, in ns: the
/// OS floor of the `fork` start method, from the process its workers come
/// from. The child is the server's own and calls nothing but `_exit`; it
/// ends at once, so the blocking wait is short.
fn time_fork() -> io::Result<u64> {
    let started = now_ns();
    // SAFETY: this process has one thread (checked by the caller).
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        // SAFETY: ends the child at once; nothing of the server runs in it.
        unsafe { libc::_exit(0) }
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for the child just forked; writes `status`.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let took = now_ns().saturating_sub(started);
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(took)
    } else {
        Err(io::Error::other(format!(
            "the forked child ended with status {status}"
        )))
    }
}

/// The thread count in a /proc/PID/stat line: the 20th field, the 18th after
/// the command name, which is in parentheses and may hold spaces and ')'.
fn threads_in_stat(stat: &[u8]) -> io::Result<u64> {
    let after = stat
        .iter()
        .rposition(|&b| b == b')')
        .map(|i| &stat[i + 1..])
        .unwrap_or_default();
    std::str::from_utf8(after)
        .ok()
        .and_then(|rest| rest.split_ascii_whitespace().nth(17))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("no thread count in /proc/self/stat"))
}

/// What a fork request asks the worker to be.
struct Worker<'a> {
    /// stdin, stdout and stderr; stdout and stderr alone with a `job`.
    pipes: Vec<OwnedFd>,
    /// Serve jobs from stdin until it closes.
    pool: bool,
    /// A one-shot worker's job, inherited rather than read.
    job: Option<super::worker::Job>,
    /// `PARABENCH_WORKER_FAULT`, as the server read it.
    fault: Option<&'a str>,
}

/// Clones this (single-threaded) server into a worker that is the harness's
/// child. Returns the answer to send, or None when the worker sends it (it
/// never returns from here).
fn fork_worker(
    sock: &OwnedFd,
    stat: Option<&std::fs::File>,
    worker: Worker,
    flags: u32,
    harness: libc::pid_t,
    received_ns: u64,
) -> io::Result<Option<Reply>> {
    let pipes = if worker.job.is_some() { 2 } else { 3 };
    if worker.pipes.len() != pipes || (worker.pool && worker.job.is_some()) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: clone without CLONE_VM and with no new stack behaves as fork,
    // and this process has one thread (checked just before). CLONE_PARENT
    // makes the harness the child's parent; SIGCHLD is what it gets at exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let server_answers = flags & SERVER_ANSWERS != 0;
    if pid == 0 {
        let stat = stat.map(AsRawFd::as_raw_fd);
        let answer = (!server_answers).then_some(received_ns);
        worker_child(sock.as_raw_fd(), stat, &worker, harness, answer);
    }
    // The worker holds the pipe ends now; ours close here.
    drop(worker);
    Ok(server_answers.then(|| Reply {
        value: pid,
        received_ns,
        started_ns: now_ns(),
        ..Reply::default()
    }))
}

/// The worker, just cloned: answer the request with our pid, tie ourselves
/// to the harness, put the pipes on 0-2 (1-2 with an inherited job), close
/// the server's descriptors, and run the worker loop, or the inherited job.
/// Never returns: returning would run the server's loop in the worker.
fn worker_child(
    sock: RawFd,
    stat: Option<RawFd>,
    worker: &Worker,
    harness: libc::pid_t,
    answer: Option<u64>,
) -> ! {
    let pipes = &worker.pipes;
    // With an inherited job the worker has no stdin pipe: its pipes go on
    // 1 and 2, and 0 stays the server's (/dev/null in the launcher).
    let first = if worker.job.is_some() { 1 } else { 0 };
    // Each call below goes through libc's one `syscall` function: every
    // page of code a fresh fork runs first costs it a page fault (about
    // 5 µs here, and more again when it exits), and libc's wrappers (prctl,
    // getppid, dup2, _exit) lie on pages of their own.
    // SAFETY: plain system calls on our own process and descriptors.
    let sys = |n: libc::c_long, a: usize, b: usize| unsafe { libc::syscall(n, a, b, 0usize) };
    let exit = |code: i32| -> ! {
        sys(libc::SYS_exit_group, code as usize, 0);
        // SAFETY: not reached; _exit as a last resort.
        unsafe { libc::_exit(code) }
    };
    // When we answer: first, before anything that can fail. Once the
    // harness has our pid it reaps us however we end; a worker that ended
    // unannounced would be a zombie nobody knows.
    if let Some(received_ns) = answer {
        let me = Reply {
            value: sys(libc::SYS_getpid, 0, 0),
            received_ns,
            started_ns: now_ns(),
            ..Reply::default()
        };
        if send_msg(sock, bytes_of(&me), &[]).is_err() {
            exit(1);
        }
    }
    let deathsig = sys(
        libc::SYS_prctl,
        libc::PR_SET_PDEATHSIG as usize,
        libc::SIGKILL as usize,
    );
    if deathsig != 0 || sys(libc::SYS_getppid, 0, 0) != i64::from(harness) {
        // The harness is gone already: do not outlive it.
        exit(1);
    }
    // Ctrl-C is ignored as the server ignores it (the disposition is
    // inherited), like a spawned worker (`worker::ignore_ctrl_c`): the
    // harness ends the batch and kills its workers itself.
    for (i, fd) in pipes.iter().enumerate() {
        let to = first + i;
        if sys(libc::SYS_dup2, fd.as_raw_fd() as usize, to) < 0 {
            exit(1);
        }
    }
    // The fork server's socket is its fd 0: not the worker's to hold.
    if first == 1 && sock == 0 {
        // SAFETY: opens /dev/null and moves it onto fd 0.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        if null < 0 || sys(libc::SYS_dup2, null as usize, 0) < 0 {
            exit(1);
        }
        sys(libc::SYS_close, null as usize, 0);
    }
    // The pipes' first descriptors, the server's socket and its stat file:
    // a worker holds its pipes and nothing else.
    if close_from(3).is_err() {
        for fd in pipes
            .iter()
            .map(AsRawFd::as_raw_fd)
            .chain([sock])
            .chain(stat)
        {
            if fd > 2 {
                sys(libc::SYS_close, fd as usize, 0);
            }
        }
    }
    sys(
        libc::SYS_prctl,
        libc::PR_SET_NAME as usize,
        c"pb-worker".as_ptr() as usize,
    );
    let run = || match &worker.job {
        Some(job) => super::worker::serve_inherited(job, worker.fault),
        None => super::worker::serve(worker.pool),
    };
    let code = match std::panic::catch_unwind(run) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            use std::io::Write;
            let _ = writeln!(io::stderr(), "error: {e:#}");
            1
        }
        Err(_) => 101,
    };
    // Ends the worker; nothing of the server must run in it.
    exit(code)
}

// ---- the harness side ----

/// A fork server as the harness holds it: the socket, its pid, and what
/// it was last asked to hold.
pub struct Server {
    sock: Option<OwnedFd>,
    pub pid: u32,
    ballast_mib: u64,
    /// A request failed midway: the protocol may be out of step, so the
    /// server is not used again.
    broken: bool,
    /// The socket's receive timeout, set again only when it changes.
    timeout: Option<Duration>,
}

/// A worker forked by a server: the harness's child, with the harness's
/// ends of its stdin (None when its whole input was written and the end
/// closed before the fork), stdout and stderr.
pub struct Forked {
    pub pid: u32,
    pub timing: ForkTiming,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// How long `recover` waits for the workers of a failed request to report.
const RECOVER_LIMIT: Duration = Duration::from_secs(5);

impl Server {
    fn new(sock: OwnedFd, pid: u32) -> Server {
        Server {
            sock: Some(sock),
            pid,
            ballast_mib: 0,
            broken: false,
            timeout: None,
        }
    }

    pub fn is_usable(&self) -> bool {
        self.sock.is_some() && !self.broken
    }

    fn call(&mut self, req: Request, fds: &[RawFd], timeout: Duration) -> io::Result<i64> {
        self.call_with(req, &[], fds, timeout).map(|r| r.value)
    }

    /// Sends `req`, with `payload` after it in the same message and `fds`
    /// attached, and reads the server's reply.
    fn call_with(
        &mut self,
        req: Request,
        payload: &[u8],
        fds: &[RawFd],
        timeout: Duration,
    ) -> io::Result<Reply> {
        let sock = match (&self.sock, self.broken) {
            (Some(s), false) => s.as_raw_fd(),
            _ => return Err(io::Error::other("the fork server is gone")),
        };
        let timed = if self.timeout == Some(timeout) {
            Ok(())
        } else {
            set_timeout(sock, timeout).map(|()| self.timeout = Some(timeout))
        };
        let sent = timed.and_then(|()| {
            if payload.is_empty() {
                send_msg(sock, bytes_of(&req), fds)?;
            } else {
                send_msg(sock, &[bytes_of(&req), payload].concat(), fds)?;
            }
            let mut reply = Reply::default();
            let (n, _) = recv_msg(sock, bytes_of_mut(&mut reply))?;
            if n != size_of::<Reply>() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the fork server ended",
                ));
            }
            Ok(reply)
        });
        let reply = match sent {
            Ok(r) => r,
            Err(e) => {
                self.broken = true;
                let why = if e.kind() == io::ErrorKind::WouldBlock {
                    format!("no answer within {timeout:?}")
                } else {
                    e.to_string()
                };
                let server = self.pid;
                if matches!(req.op, OP_FORK | OP_FORK_JOB) {
                    // A worker may have been cloned, its pid not yet read.
                    self.recover(RECOVER_LIMIT);
                }
                return Err(io::Error::other(format!("fork server {server}: {why}")));
            }
        };
        match reply.errno {
            0 => Ok(reply),
            NOT_SINGLE_THREADED => Err(io::Error::other(format!(
                "fork server {} refused to fork: it has more than one thread",
                self.pid
            ))),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }

    /// After a fork request failed midway: closes the harness's side of the
    /// socket, so that the server answers the request it is serving, if
    /// any, and exits, then reads every pid left on the socket until its end
    /// (the server's copy and every worker's are closed by then), and kills
    /// and reaps each: a worker cloned for a request the harness gave up on
    /// is no one's child to reap otherwise. Bounded by `limit`, after which
    /// the server is killed. Returns the pids it reaped.
    fn recover(&mut self, limit: Duration) -> Vec<u32> {
        let Some(sock) = self.sock.take() else {
            return Vec::new();
        };
        // The server reads the end after the request it is serving, answers
        // it and exits; workers close their copies as they start.
        // SAFETY: shutdown on our own socket.
        unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_WR) };
        let until = std::time::Instant::now() + limit;
        let mut reaped = Vec::new();
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || set_timeout(sock.as_raw_fd(), left).is_err() {
                break;
            }
            let mut reply = Reply::default();
            match recv_msg(sock.as_raw_fd(), bytes_of_mut(&mut reply)) {
                Ok((n, _)) if n == size_of::<Reply>() => {
                    if reply.errno == 0
                        && let Ok(pid) = u32::try_from(reply.value)
                        && pid > 0
                    {
                        // SAFETY: our unreaped child (CLONE_PARENT): its pid
                        // cannot have been reused.
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                        let _ = crate::measure::reap(pid);
                        reaped.push(pid);
                    }
                }
                // The end: nobody holds the other side any more.
                Ok((0, _)) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // Gone by now, or stuck (killed here; a server killed between its
        // clone and its answer would leave that worker unknown).
        self.stop();
        reaped
    }

    /// Forks a worker (a pool worker when `pool`). With `input`, the worker's
    /// whole stdin: written to the pipe before the request leaves and the
    /// pipe closed, so the worker finds its job there and never waits for it
    /// (what fits in the pipe; the rest is written after the fork).
    pub fn fork(
        &mut self,
        pool: bool,
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> io::Result<Forked> {
        let (stdin_r, stdin_w) = pipe()?;
        let mut stdin_w = Some(stdin_w);
        let mut rest: &[u8] = &[];
        if let (Some(bytes), Some(w)) = (input, &stdin_w) {
            rest = &bytes[write_ahead(w, bytes)?..];
            if rest.is_empty() {
                // All of it is in: the worker reads it, then the end.
                stdin_w = None;
            }
        }
        let mut forked = self.request_fork(OP_FORK, pool, Some(stdin_r), &[], timeout)?;
        forked.stdin = match (input, stdin_w) {
            (Some(_), Some(w)) => {
                set_blocking(&w)?;
                // A failed write shows as a worker without a reply, with its
                // exit status and stderr, as for spawn.
                let _ = std::io::Write::write_all(&mut std::fs::File::from(w), rest);
                None
            }
            (_, w) => w,
        };
        Ok(forked)
    }

    /// Forks a one-shot worker that inherits `job` (a `worker::Job` as JSON,
    /// at most `MAX_INHERITED_JOB` bytes) in its memory instead of reading
    /// it: the server decodes it before it clones, as Python's fork child
    /// inherits its Process object. The worker has no stdin pipe.
    pub fn fork_with_job(&mut self, job: &[u8], timeout: Duration) -> io::Result<Forked> {
        if job.len() > MAX_INHERITED_JOB {
            return Err(io::Error::other(format!(
                "a job of {} bytes is larger than a fork request carries ({MAX_INHERITED_JOB})",
                job.len()
            )));
        }
        self.request_fork(OP_FORK_JOB, false, None, job, timeout)
    }

    /// Sends a fork request with the worker's stdin read end (if any) and
    /// new stdout and stderr pipes, and returns the worker with the
    /// harness's ends of its output.
    fn request_fork(
        &mut self,
        op: u32,
        pool: bool,
        stdin_r: Option<OwnedFd>,
        payload: &[u8],
        timeout: Duration,
    ) -> io::Result<Forked> {
        let (stdout_r, stdout_w) = pipe()?;
        let (stderr_r, stderr_w) = pipe()?;
        let answers = if WORKER_ANSWERS.load(std::sync::atomic::Ordering::Relaxed) {
            0
        } else {
            SERVER_ANSWERS
        };
        let req = Request {
            op,
            flags: if pool { POOL } else { 0 } | answers,
            mib: 0,
        };
        let fds: Vec<RawFd> = stdin_r
            .iter()
            .chain([&stdout_w, &stderr_w])
            .map(AsRawFd::as_raw_fd)
            .collect();
        let requested_ns = now_ns();
        let reply = self.call_with(req, payload, &fds, timeout)?;
        let timing = ForkTiming {
            requested_ns,
            received_ns: reply.received_ns,
            started_ns: reply.started_ns,
            answered_ns: now_ns(),
        };
        // Only the worker may hold these: its exit must read as EOF here.
        drop((stdin_r, stdout_w, stderr_w));
        let pid = u32::try_from(reply.value).map_err(|_| io::Error::other("a bad pid"))?;
        Ok(Forked {
            pid,
            timing,
            stdin: None,
            stdout: stdout_r,
            stderr: stderr_r,
        })
    }

    /// Makes the server hold `mib` MiB of touched memory from now on.
    pub fn hold(&mut self, mib: u64, timeout: Duration) -> io::Result<()> {
        if mib == self.ballast_mib {
            return Ok(());
        }
        let req = Request {
            op: OP_BALLAST,
            flags: 0,
            mib,
        };
        self.call(req, &[], timeout)?;
        self.ballast_mib = mib;
        Ok(())
    }

    /// Times one fork + _exit + wait in the server (see `time_fork`).
    pub fn time_fork(&mut self, timeout: Duration) -> io::Result<Duration> {
        let req = Request {
            op: OP_TIME_FORK,
            ..Request::default()
        };
        let ns = self.call(req, &[], timeout)?;
        Ok(Duration::from_nanos(ns.max(0) as u64))
    }

    /// Asks the server whether it has exactly one thread.
    pub fn check_single_threaded(&mut self, timeout: Duration) -> io::Result<()> {
        let req = Request {
            op: OP_THREADS,
            ..Request::default()
        };
        self.call(req, &[], timeout).map(drop)
    }

    /// Closes the socket (the server exits at once), kills it in case it
    /// did not, and reaps it.
    pub fn stop(&mut self) {
        self.sock = None;
        self.broken = true;
        // 0: a server of a unit test, which has no process (and kill(0)
        // would signal our whole process group).
        if self.pid != 0 {
            // SAFETY: the pid is our unreaped child, so it cannot be reused.
            unsafe {
                libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            }
            let _ = crate::measure::reap(self.pid);
            self.pid = 0;
        }
    }
}

/// Writes what fits of `bytes` into the empty pipe `w` without blocking (the
/// reader does not exist yet); returns how many bytes went in.
fn write_ahead(w: &OwnedFd, bytes: &[u8]) -> io::Result<usize> {
    let fd = w.as_raw_fd();
    if bytes.len() <= libc::PIPE_BUF {
        // An empty pipe takes PIPE_BUF bytes at once, whatever its size
        // limit: one plain write, no flags to change.
        // SAFETY: writes from a live slice.
        let r = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if r == bytes.len() as isize {
            return Ok(bytes.len());
        }
    }
    // SAFETY: fcntl on our own descriptor; O_NONBLOCK affects only this
    // end's open file, not the read end the worker gets.
    unsafe {
        let flags = check(libc::fcntl(fd, libc::F_GETFL))?;
        check(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    let mut done = 0;
    while done < bytes.len() {
        // SAFETY: writes from a live slice.
        let r = unsafe { libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done) };
        if r > 0 {
            done += r as usize;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => break,
            _ => return Err(err),
        }
    }
    Ok(done)
}

fn set_blocking(w: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on our own descriptor.
    unsafe {
        let flags = check(libc::fcntl(w.as_raw_fd(), libc::F_GETFL))?;
        check(libc::fcntl(
            w.as_raw_fd(),
            libc::F_SETFL,
            flags & !libc::O_NONBLOCK,
        ))
        .map(drop)
    }
}

fn set_timeout(sock: RawFd, timeout: Duration) -> io::Result<()> {
    let t = timeout.max(Duration::from_millis(1));
    let tv = libc::timeval {
        tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: setsockopt reads the timeval we pass.
    check(unsafe {
        libc::setsockopt(
            sock,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Forks the launcher: a copy of this process, which must have one thread
/// (call it first thing in `main`, or before `main` in a test binary). The
/// child serves fork requests for the rest of the run; the parent gets its
/// `Server`.
pub fn fork_launcher() -> io::Result<Server> {
    let threads = threads_now()?;
    if threads != 1 {
        return Err(io::Error::other(format!(
            "cannot fork the launcher: this process has {threads} threads, and fork is safe only with one"
        )));
    }
    let (ours, theirs) = socketpair()?;
    // SAFETY: getpid has no preconditions.
    let harness = unsafe { libc::getpid() };
    // SAFETY: this process has one thread (checked above), so the child gets
    // every lock in the state it was in: free.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        drop(ours);
        // SAFETY: plain system calls on the launcher itself.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != harness
            {
                libc::_exit(0);
            }
            quiet_server();
            libc::prctl(libc::PR_SET_NAME, c"pb-launcher".as_ptr());
            // The harness's stdin and stdout are not the launcher's business;
            // holding them would keep a reader of the harness's output waiting.
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null >= 0 {
                libc::dup2(null, 0);
                libc::dup2(null, 1);
                if null > 2 {
                    libc::close(null);
                }
            }
        }
        serve(theirs);
    }
    drop(theirs);
    Ok(Server::new(ours, pid as u32))
}

/// Signals a server process takes as it takes them: Ctrl-C is for the
/// harness (which then ends the server), a closed pipe is an error.
unsafe fn quiet_server() {
    // SAFETY: changing our own signal dispositions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Starts the fork server: the harness's executable as `parabench
/// forkserver`, its socket on the server's stdin. Started from a thread
/// that never ends, since the parent-death signal of the server, and of
/// every worker it clones, fires when the *thread* that started it ends.
pub fn start_forkserver(exe: &std::path::Path, timeout: Duration) -> io::Result<Server> {
    use std::process::{Command, Stdio};
    let (ours, theirs) = socketpair()?;
    let mut cmd = Command::new(exe);
    cmd.arg("forkserver")
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    crate::measure::die_with_harness(&mut cmd, false);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("forkserver-parent".into())
        .spawn(move || {
            let _ = tx.send(cmd.spawn().map(|c| c.id()));
            drop(cmd);
            loop {
                std::thread::park();
            }
        })?;
    let pid = rx
        .recv_timeout(timeout)
        .map_err(|_| io::Error::other("the fork server did not start"))??;
    let mut server = Server::new(ours, pid);
    // Up, and single-threaded: or it is stopped and reaped here.
    if let Err(e) = server.check_single_threaded(timeout) {
        server.stop();
        return Err(e);
    }
    Ok(server)
}

/// The `forkserver` subcommand: serves requests on stdin (a socket) until
/// the harness closes it. Never returns.
pub fn serve_forkserver() -> ! {
    // SAFETY: plain system calls on this process.
    unsafe {
        quiet_server();
        libc::prctl(libc::PR_SET_NAME, c"pb-forkserver".as_ptr());
    }
    // SAFETY: fd 0 is the socket the harness passed; nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(0) };
    serve(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_travel_with_a_message() {
        let (a, b) = socketpair().unwrap();
        let (r, w) = pipe().unwrap();
        let req = Request {
            op: OP_FORK,
            flags: POOL,
            mib: 7,
        };
        send_msg(a.as_raw_fd(), bytes_of(&req), &[w.as_raw_fd()]).unwrap();
        drop(w);
        let mut got = Request::default();
        let (n, fds) = recv_msg(b.as_raw_fd(), bytes_of_mut(&mut got)).unwrap();
        assert_eq!(
            (n, got.op, got.flags, got.mib),
            (size_of::<Request>(), OP_FORK, 1, 7)
        );
        assert_eq!(fds.len(), 1);
        // The received end writes into the pipe we kept.
        let mut file = std::fs::File::from(fds.into_iter().next().unwrap());
        std::io::Write::write_all(&mut file, b"hi").unwrap();
        drop(file);
        let mut text = String::new();
        std::fs::File::from(r).read_to_string(&mut text).unwrap();
        assert_eq!(text, "hi");
        // A closed peer reads as 0 bytes.
        drop(a);
        assert_eq!(
            recv_msg(b.as_raw_fd(), bytes_of_mut(&mut got)).unwrap().0,
            0
        );
    }

    #[test]
    fn the_launcher_is_refused_in_a_threaded_process() {
        // libtest runs this on a thread of its own: two threads at least.
        let err = fork_launcher().err().expect("refused");
        assert!(err.to_string().contains("threads"), "{err}");
        assert_eq!(threads_in("Name:\tx\nThreads:\t3\n").unwrap(), 3);
        assert!(threads_in("Name:\tx\n").is_err());
    }

    #[test]
    fn a_call_to_a_dead_server_fails_and_is_not_retried() {
        let (ours, theirs) = socketpair().unwrap();
        drop(theirs);
        let mut server = Server::new(ours, 0);
        assert!(
            server
                .check_single_threaded(Duration::from_secs(1))
                .is_err()
        );
        assert!(!server.is_usable());
        let err = server
            .fork(false, None, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(err.to_string().contains("gone"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let (ours, _theirs) = socketpair().unwrap();
        let mut server = Server::new(ours, 0);
        let started = std::time::Instant::now();
        let err = server.hold(4, Duration::from_millis(50)).unwrap_err();
        assert!(err.to_string().contains("no answer"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn threads_are_read_from_a_stat_line() {
        let line = b"42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 100 1000 50";
        assert_eq!(threads_in_stat(line).unwrap(), 7);
        assert!(threads_in_stat(b"42 (x) S 1").is_err());
        assert!(threads_in_stat(b"").is_err());
        // This process (libtest's threads and ours) by both files alike.
        let stat = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(single_threaded(Some(&stat)).is_err());
    }

    #[test]
    fn a_worker_that_reports_after_the_timeout_is_reaped_not_left_a_zombie() {
        let (ours, theirs) = socketpair().unwrap();
        // A server that clones, whose worker reports its pid only after the
        // harness gave up on the request: a child of this process stands
        // in for the worker (`CLONE_PARENT` makes a real one ours too).
        let server = std::thread::spawn(move || {
            let mut req = Request::default();
            let (n, fds) = recv_msg(theirs.as_raw_fd(), bytes_of_mut(&mut req)).unwrap();
            assert_eq!((n, req.op, fds.len()), (size_of::<Request>(), OP_FORK, 3));
            // The job was in the pipe before the request, its end closed.
            let mut input = String::new();
            std::fs::File::from(fds.into_iter().next().unwrap())
                .read_to_string(&mut input)
                .unwrap();
            // Reaped by the harness's `recover` (wait4 by pid), which is
            // what this test checks.
            #[allow(clippy::zombie_processes)]
            let worker = std::process::Command::new("sleep")
                .arg("60")
                .spawn()
                .unwrap();
            // Late by construction: well past the harness's 50 ms.
            std::thread::sleep(Duration::from_millis(300));
            let me = Reply {
                value: i64::from(worker.id()),
                ..Reply::default()
            };
            send_msg(theirs.as_raw_fd(), bytes_of(&me), &[]).unwrap();
            (input, worker.id())
        });
        let mut harness = Server::new(ours, 0);
        let err = harness
            .fork(false, Some(b"job\n"), Duration::from_millis(50))
            .err()
            .expect("no answer in time");
        assert!(err.to_string().contains("no answer"), "{err}");
        assert!(!harness.is_usable());
        let (input, pid) = server.join().unwrap();
        assert_eq!(input, "job\n");
        // Killed and reaped: no child of that pid is left, not even a zombie.
        // SAFETY: waitpid with WNOHANG on a pid, no pointers kept.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(r, -1, "child {pid} is still ours to reap");
        assert_eq!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::ECHILD)
        );
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn input_larger_than_the_pipe_is_written_after_the_fork() {
        let (ours, theirs) = socketpair().unwrap();
        let input = vec![b'x'; 300 << 10];
        let server = std::thread::spawn(move || {
            let mut req = Request::default();
            let (_, fds) = recv_msg(theirs.as_raw_fd(), bytes_of_mut(&mut req)).unwrap();
            let reader = std::thread::spawn({
                let stdin = std::fs::File::from(fds.into_iter().next().unwrap());
                move || std::io::Read::bytes(stdin).count()
            });
            // What the worker sends first: a pid (this process's own
            // serves; nothing reaps it).
            let me = Reply {
                value: i64::from(std::process::id()),
                ..Reply::default()
            };
            send_msg(theirs.as_raw_fd(), bytes_of(&me), &[]).unwrap();
            reader.join().unwrap()
        });
        let mut harness = Server::new(ours, 0);
        let forked = harness
            .fork(false, Some(&input), Duration::from_secs(10))
            .unwrap();
        assert!(forked.stdin.is_none(), "closed after the input");
        assert_eq!(server.join().unwrap(), input.len());
    }
}
