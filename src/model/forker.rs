//! The single-threaded fork server that the `fork` and `forkserver` start
//! methods rest on, and the harness's side of it.
//!
//! fork() is safe in Rust only from a process with one thread: a lock held
//! by another thread at that moment (the allocator's, stdout's) stays held
//! forever in the child. So the harness never forks a worker itself. A fork
//! server does, on request, over a unix socket: the harness sends the
//! worker's three pipe ends (SCM_RIGHTS), the server checks that it still
//! has one thread (/proc/self/status), clones itself with
//! `CLONE_PARENT | SIGCHLD` so that the worker is the *harness's* child
//! (reaped by wait4 with its rusage, killed on a timeout, tied to the
//! harness by its parent-death signal), and answers with the pid. The worker
//! puts the pipes on fds 0-2 and runs the worker loop where it is, no exec.
//!
//! Two servers speak this protocol: the launcher (`fork`), forked by `main`
//! before any thread exists, a copy of the parent program; and the fork
//! server (`forkserver`), the harness re-executed as `parabench forkserver`,
//! a small fresh program, as in Python.

use std::io::{self, Read, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

const OP_FORK: u32 = 1;
const OP_BALLAST: u32 = 2;
const OP_THREADS: u32 = 3;

/// The reply when the server finds a second thread in itself.
const NOT_SINGLE_THREADED: i32 = libc::EDEADLK;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Request {
    op: u32,
    /// OP_FORK: a pool worker (serves until stdin closes).
    pool: u32,
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
    // Kept open and re-read from the start: cheaper than opening it at
    // every fork, and the check is on every fork.
    let mut status = std::fs::File::open("/proc/self/status").ok();
    let mut held: Option<super::ballast::Ballast> = None;
    loop {
        let mut req = Request::default();
        let (n, fds) = match recv_msg(sock.as_raw_fd(), bytes_of_mut(&mut req)) {
            Ok(got) => got,
            // SAFETY: _exit ends this process without running anything of the
            // parent program's (no atexit handlers, no destructors).
            Err(_) => unsafe { libc::_exit(1) },
        };
        if n == 0 {
            // The harness is done with us.
            unsafe { libc::_exit(0) }
        }
        let answer = if n != size_of::<Request>() {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        } else {
            match req.op {
                OP_FORK => single_threaded(status.as_mut()).and_then(|()| {
                    fork_worker(&sock, status.as_ref(), fds, req.pool != 0, harness)
                }),
                OP_BALLAST => {
                    // The old one goes first: the two never add up.
                    drop(held.take());
                    super::ballast::Ballast::new(req.mib).map(|b| {
                        held = b;
                        held.as_ref().map_or(0, |b| b.bytes() as i64)
                    })
                }
                OP_THREADS => single_threaded(status.as_mut()).map(|()| 1),
                _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            }
        };
        let reply = match answer {
            Ok(value) => Reply {
                value,
                ..Reply::default()
            },
            Err(e) => Reply {
                value: -1,
                errno: e.raw_os_error().unwrap_or(libc::EIO),
                _pad: 0,
            },
        };
        if send_msg(sock.as_raw_fd(), bytes_of(&reply), &[]).is_err() {
            unsafe { libc::_exit(1) }
        }
    }
}

/// Ok when this process has exactly one thread: the condition for fork().
fn single_threaded(status: Option<&mut std::fs::File>) -> io::Result<()> {
    let threads = match status {
        Some(f) => {
            let mut text = String::new();
            f.rewind()?;
            f.read_to_string(&mut text)?;
            threads_in(&text)?
        }
        None => threads_now()?,
    };
    if threads == 1 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(NOT_SINGLE_THREADED))
    }
}

/// Clones this (single-threaded) server into a worker that is the harness's
/// child, and returns its pid; the worker never returns from here.
fn fork_worker(
    sock: &OwnedFd,
    status: Option<&std::fs::File>,
    fds: Vec<OwnedFd>,
    pool: bool,
    harness: libc::pid_t,
) -> io::Result<i64> {
    if fds.len() != 3 {
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
    if pid == 0 {
        let keep = [sock.as_raw_fd()]
            .into_iter()
            .chain(status.map(AsRawFd::as_raw_fd));
        worker_child(keep.collect(), &fds, pool, harness);
    }
    // The worker holds the pipe ends now; ours close here.
    drop(fds);
    Ok(pid)
}

/// The worker, just cloned: tie it to the harness, put its pipes on 0-2,
/// close the server's descriptors, and run the worker loop. Never returns:
/// returning would run the server's loop in the worker.
fn worker_child(server_fds: Vec<RawFd>, pipes: &[OwnedFd], pool: bool, harness: libc::pid_t) -> ! {
    // SAFETY: plain system calls on our own process and descriptors.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != harness {
            // The harness is gone already: do not outlive it.
            libc::_exit(1);
        }
        // Like the server, and like a spawned worker (`worker::ignore_ctrl_c`),
        // the worker ignores Ctrl-C: the harness ends the batch and kills it.
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        for (i, fd) in pipes.iter().enumerate() {
            if libc::dup2(fd.as_raw_fd(), i as RawFd) < 0 {
                libc::_exit(1);
            }
        }
        for fd in pipes {
            libc::close(fd.as_raw_fd());
        }
        for fd in server_fds {
            // The fork server's socket may be its fd 0, now our stdin.
            if fd > 2 {
                libc::close(fd);
            }
        }
        libc::prctl(libc::PR_SET_NAME, c"pb-worker".as_ptr());
    }
    let code = match std::panic::catch_unwind(|| super::worker::serve(pool)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            use std::io::Write;
            let _ = writeln!(io::stderr(), "error: {e:#}");
            1
        }
        Err(_) => 101,
    };
    // SAFETY: ends the worker; nothing of the server must run in it.
    unsafe { libc::_exit(code) }
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
}

/// A worker forked by a server: the harness's child, with the harness's
/// ends of its stdin, stdout and stderr.
pub struct Forked {
    pub pid: u32,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

impl Server {
    fn new(sock: OwnedFd, pid: u32) -> Server {
        Server {
            sock: Some(sock),
            pid,
            ballast_mib: 0,
            broken: false,
        }
    }

    pub fn is_usable(&self) -> bool {
        self.sock.is_some() && !self.broken
    }

    fn call(&mut self, req: Request, fds: &[RawFd], timeout: Duration) -> io::Result<i64> {
        let sock = match (&self.sock, self.broken) {
            (Some(s), false) => s.as_raw_fd(),
            _ => return Err(io::Error::other("the fork server is gone")),
        };
        let sent = set_timeout(sock, timeout).and_then(|()| {
            send_msg(sock, bytes_of(&req), fds)?;
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
                return Err(io::Error::other(format!("fork server {}: {why}", self.pid)));
            }
        };
        match reply.errno {
            0 => Ok(reply.value),
            NOT_SINGLE_THREADED => Err(io::Error::other(format!(
                "fork server {} refused to fork: it has more than one thread",
                self.pid
            ))),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }

    /// Forks a worker (a pool worker when `pool`).
    pub fn fork(&mut self, pool: bool, timeout: Duration) -> io::Result<Forked> {
        let (stdin_r, stdin_w) = pipe()?;
        let (stdout_r, stdout_w) = pipe()?;
        let (stderr_r, stderr_w) = pipe()?;
        let req = Request {
            op: OP_FORK,
            pool: u32::from(pool),
            mib: 0,
        };
        let fds = [
            stdin_r.as_raw_fd(),
            stdout_w.as_raw_fd(),
            stderr_w.as_raw_fd(),
        ];
        let pid = self.call(req, &fds, timeout)?;
        // Only the worker may hold these: its exit must read as EOF here.
        drop((stdin_r, stdout_w, stderr_w));
        Ok(Forked {
            pid: u32::try_from(pid).map_err(|_| io::Error::other("a bad pid"))?,
            stdin: stdin_w,
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
            pool: 0,
            mib,
        };
        self.call(req, &[], timeout)?;
        self.ballast_mib = mib;
        Ok(())
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
            pool: 1,
            mib: 7,
        };
        send_msg(a.as_raw_fd(), bytes_of(&req), &[w.as_raw_fd()]).unwrap();
        drop(w);
        let mut got = Request::default();
        let (n, fds) = recv_msg(b.as_raw_fd(), bytes_of_mut(&mut got)).unwrap();
        assert_eq!(
            (n, got.op, got.pool, got.mib),
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
        let err = server.fork(false, Duration::from_secs(1)).err().unwrap();
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
}
