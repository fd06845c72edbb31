//! The OS floor: the raw mechanism each model rests on (a thread created and
//! joined, a process forked or spawned and waited for, a round trip over a
//! pipe or a channel, a tokio task spawned and awaited), each timed alone,
//! many times, in the same run as the models. The runner calls `measure`;
//! the report sets each model's dispatch cost per task beside its floor
//! (`report::floor`). Every loop checks a `Stop`, every wait has a deadline,
//! and every child is reaped before its operation returns.

use crate::results::{CaseStatus, FloorMeasurement};
use crate::stats;
use crate::stop::{Stop, Stopped};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The mechanisms, by stable id (`FloorMeasurement::mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// Raw `pthread_create` of an empty function, then its join.
    PthreadCreateJoin,
    /// `fork`, the child `_exit`s at once, the parent waits for it.
    ForkExitWait,
    /// `posix_spawn` of a tiny binary (`/bin/true`), then a wait for it.
    PosixSpawn,
    /// One byte there and back over two pipes, both threads on one CPU.
    PipeSameCore,
    /// The same with the two threads pinned to two different CPUs.
    PipeCrossCore,
    /// A message there and back over two crossbeam channels (unpinned).
    ChannelRoundTrip,
    /// `tokio::spawn` of an empty task and its `.await`, current-thread runtime.
    TokioCurrentThread,
    /// The same on a multi-thread runtime with one worker thread.
    TokioMultiThread,
}

impl Mechanism {
    pub const ALL: [Mechanism; 8] = [
        Mechanism::PthreadCreateJoin,
        Mechanism::ForkExitWait,
        Mechanism::PosixSpawn,
        Mechanism::PipeSameCore,
        Mechanism::PipeCrossCore,
        Mechanism::ChannelRoundTrip,
        Mechanism::TokioCurrentThread,
        Mechanism::TokioMultiThread,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Mechanism::PthreadCreateJoin => "pthread-create-join",
            Mechanism::ForkExitWait => "fork-exit-wait",
            Mechanism::PosixSpawn => "posix-spawn",
            Mechanism::PipeSameCore => "pipe-round-trip-same-core",
            Mechanism::PipeCrossCore => "pipe-round-trip-cross-core",
            Mechanism::ChannelRoundTrip => "channel-round-trip",
            Mechanism::TokioCurrentThread => "tokio-spawn-current-thread",
            Mechanism::TokioMultiThread => "tokio-spawn-multi-thread",
        }
    }

    /// The mechanism a results file names; `None` for an unknown id.
    pub fn from_id(id: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.id() == id)
    }

    /// What one operation is, before the details only a run knows.
    pub fn describe(self) -> &'static str {
        match self {
            Mechanism::PthreadCreateJoin => {
                "pthread_create of an empty function (default attributes) + pthread_timedjoin_np"
            }
            Mechanism::ForkExitWait => "fork; the child calls _exit(0) at once; the parent waits",
            Mechanism::PosixSpawn => {
                "posix_spawn of a tiny binary, empty environment; the parent waits (pidfd poll + waitpid)"
            }
            Mechanism::PipeSameCore => "1-byte round trip over two pipes between two threads",
            Mechanism::PipeCrossCore => "1-byte round trip over two pipes between two threads",
            Mechanism::ChannelRoundTrip => {
                "round trip over two crossbeam unbounded channels between two unpinned threads"
            }
            Mechanism::TokioCurrentThread => {
                "tokio::spawn of an empty task + .await, current-thread runtime"
            }
            Mechanism::TokioMultiThread => {
                "tokio::spawn of an empty task + .await from block_on, multi-thread runtime with 1 worker"
            }
        }
    }
}

/// Unmeasured operations before the timed ones: the first fork or spawn
/// pages the binary in, the first round trip starts from cold caches.
const WARMUP: usize = 3;

/// The longest one operation may take (a child to exit, a thread to end)
/// before it is abandoned: a child is then killed and reaped.
const OP_LIMIT: Duration = Duration::from_secs(5);

/// How long a wait sleeps before it checks its `Stop` again.
const SLICE: Duration = Duration::from_millis(100);

/// Why a mechanism has no figure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FloorError {
    /// It cannot run on this machine (one CPU, no tiny binary): not a failure.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

fn failed(what: &str, err: std::io::Error) -> FloorError {
    FloorError::Failed(format!("{what}: {err}"))
}

/// What `sample` timed: one figure per operation, and the description of
/// the operation as it ran here.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub ns: Vec<f64>,
    pub description: String,
}

/// Times up to `n` operations of `m`, each on its own, after a short
/// unmeasured warm-up. When `stop`'s time limit passes it returns what it
/// has (maybe fewer than `n`); Ctrl-C gives `Stopped::Cancelled`.
pub fn sample(m: Mechanism, n: usize, stop: &Stop) -> Result<Sampled, FloorError> {
    let described = |detail: String| {
        if detail.is_empty() {
            m.describe().to_owned()
        } else {
            format!("{} ({detail})", m.describe())
        }
    };
    match m {
        Mechanism::PthreadCreateJoin => Ok(Sampled {
            ns: time_each(n, stop, |_| pthread_create_join())?,
            description: described(String::new()),
        }),
        Mechanism::ForkExitWait => Ok(Sampled {
            ns: time_each(n, stop, |_| fork_exit_wait())?,
            description: described(if FORK_TIMER.get().is_some() {
                FORKED_BY_LAUNCHER.to_owned()
            } else {
                "timed in this process: pidfd poll + waitpid".to_owned()
            }),
        }),
        Mechanism::PosixSpawn => {
            let exe = tiny_binary()?;
            let ns = time_each(n, stop, |_| posix_spawn_wait(&exe))?;
            Ok(Sampled {
                ns,
                description: described(exe.to_string_lossy().into_owned()),
            })
        }
        Mechanism::PipeSameCore | Mechanism::PipeCrossCore => {
            let cpus = allowed_cpus();
            let &first = cpus
                .first()
                .ok_or_else(|| FloorError::Failed("this thread may run on no CPU".into()))?;
            let (pair, detail) = if m == Mechanism::PipeSameCore {
                ((first, first), format!("both pinned to CPU {first}"))
            } else {
                let &second = cpus.get(1).ok_or_else(|| {
                    FloorError::Unavailable(
                        "this process may run on one CPU only: there is no other core to cross to"
                            .into(),
                    )
                })?;
                (
                    (first, second),
                    format!("pinned to CPUs {first} and {second}"),
                )
            };
            Ok(Sampled {
                ns: pipe_round_trips(pair, n, stop)?,
                description: described(detail),
            })
        }
        Mechanism::ChannelRoundTrip => Ok(Sampled {
            ns: channel_round_trips(n, stop)?,
            description: described(String::new()),
        }),
        Mechanism::TokioCurrentThread | Mechanism::TokioMultiThread => Ok(Sampled {
            ns: tokio_spawns(m == Mechanism::TokioMultiThread, n, stop)?,
            description: described(String::new()),
        }),
    }
}

/// Measures each of `mechanisms` (in `Mechanism::ALL` order, once each):
/// up to `samples` operations, for at most `limit` each. Ctrl-C ends it
/// with what was measured, the interrupted mechanism marked so, and `Err`.
pub fn measure(
    mechanisms: &[Mechanism],
    samples: usize,
    limit: Duration,
    cancel: &AtomicBool,
) -> (Vec<FloorMeasurement>, Result<(), Stopped>) {
    let mut out = Vec::new();
    for m in Mechanism::ALL
        .into_iter()
        .filter(|m| mechanisms.contains(m))
    {
        let started = Instant::now();
        let result = sample(m, samples, &Stop::within(cancel, limit));
        let interrupted = result == Err(FloorError::Stopped(Stopped::Cancelled));
        out.push(record(m, result, limit, started.elapsed()));
        if interrupted {
            return (out, Err(Stopped::Cancelled));
        }
    }
    (out, Ok(()))
}

/// The results record of one mechanism's sampling.
fn record(
    m: Mechanism,
    result: Result<Sampled, FloorError>,
    limit: Duration,
    took: Duration,
) -> FloorMeasurement {
    let (status, description, ns) = match result {
        Ok(s) if s.ns.is_empty() => (
            CaseStatus::Failed(format!(
                "not one operation finished within the time limit of {limit:.1?}"
            )),
            s.description,
            Vec::new(),
        ),
        Ok(s) => (CaseStatus::Ok, s.description, s.ns),
        Err(e) => {
            let status = match e {
                FloorError::Unavailable(why) => CaseStatus::Skipped(why),
                FloorError::Stopped(Stopped::Cancelled) => CaseStatus::Interrupted,
                e => CaseStatus::Failed(e.to_string()),
            };
            (status, m.describe().to_owned(), Vec::new())
        }
    };
    FloorMeasurement {
        mechanism: m.id().to_owned(),
        description,
        status,
        samples: ns.len(),
        ns: stats::median_ci(&ns),
        p10_ns: stats::percentile(&ns, 0.10),
        p90_ns: stats::percentile(&ns, 0.90),
        wall_s: took.as_secs_f64(),
        forked_tasks: Vec::new(),
    }
}

/// Runs `op` for `WARMUP + n` operations and keeps the last `n` durations
/// (ns); `op` times itself, so that its set-up stays outside. Stops early,
/// with what it has, when `stop`'s time limit passes.
fn time_each(
    n: usize,
    stop: &Stop,
    mut op: impl FnMut(&Stop) -> Result<Duration, FloorError>,
) -> Result<Vec<f64>, FloorError> {
    let mut ns = Vec::with_capacity(n);
    for i in 0..WARMUP.saturating_add(n) {
        let took = match stop
            .check()
            .map_err(FloorError::from)
            .and_then(|()| op(stop))
        {
            Ok(took) => took,
            Err(FloorError::Stopped(Stopped::TimedOut(_))) => break,
            Err(e) => return Err(e),
        };
        if i >= WARMUP {
            ns.push(took.as_nanos() as f64);
        }
    }
    Ok(ns)
}

extern "C" fn nothing(_: *mut libc::c_void) -> *mut libc::c_void {
    std::ptr::null_mut()
}

/// One raw pthread_create + join: what std::thread::spawn rests on, without
/// std's own bookkeeping (its name, its result packet, its Arc).
fn pthread_create_join() -> Result<Duration, FloorError> {
    // The join's deadline is read before the clock starts.
    let until = realtime_after(OP_LIMIT)?;
    let mut thread: libc::pthread_t = 0;
    let started = Instant::now();
    // SAFETY: `nothing` is a valid start routine that touches no data; the
    // attributes are the defaults (null).
    let rc = unsafe {
        libc::pthread_create(&mut thread, std::ptr::null(), nothing, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(failed(
            "pthread_create",
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    // SAFETY: `thread` was created above and is joined (or detached) once.
    let rc = unsafe { libc::pthread_timedjoin_np(thread, std::ptr::null_mut(), &until) };
    let took = started.elapsed();
    match rc {
        0 => Ok(took),
        libc::ETIMEDOUT => {
            // An empty function that has not ended cannot be killed; let it
            // end on its own.
            // SAFETY: not joined, so detaching it once is allowed.
            unsafe { libc::pthread_detach(thread) };
            Err(FloorError::Failed(format!(
                "a thread running an empty function did not end within {OP_LIMIT:?}"
            )))
        }
        rc => Err(failed(
            "pthread_join",
            std::io::Error::from_raw_os_error(rc),
        )),
    }
}

/// CLOCK_REALTIME `after` from now, as pthread_timedjoin_np takes it.
fn realtime_after(after: Duration) -> Result<libc::timespec, FloorError> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } != 0 {
        return Err(failed("clock_gettime", std::io::Error::last_os_error()));
    }
    let nanos = now.tv_nsec as u64 + u64::from(after.subsec_nanos());
    Ok(libc::timespec {
        tv_sec: now.tv_sec
            + after.as_secs() as libc::time_t
            + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as _,
    })
}

/// One fork + _exit + wait.
/// Times one fork + _exit + wait in another process: the launcher, where
/// the program forked one (`time_forks_with`).
type ForkTimer = fn(Duration) -> std::io::Result<Duration>;

static FORK_TIMER: std::sync::OnceLock<ForkTimer> = std::sync::OnceLock::new();

/// From now on, fork + _exit + wait is timed by `timer`: in the launcher, a
/// small single-threaded copy of the program made at start-up, the process
/// the `fork` start method's workers come from. Timed here instead, it
/// would count this process's size and threads: fork copies the page
/// tables of the whole process, and the harness's own fork + exit + wait
/// took 327 and 688 µs in two runs on the 2-core VM where the launcher's
/// took 238 and 240 µs. The first timer set stays.
pub fn time_forks_with(timer: ForkTimer) {
    let _ = FORK_TIMER.set(timer);
}

/// What the floor's fork runs in, for its description.
const FORKED_BY_LAUNCHER: &str = "timed in the launcher, the small single-threaded copy of parabench made at start-up that the fork start method forks its workers from: waitpid";

fn fork_exit_wait() -> Result<Duration, FloorError> {
    if let Some(timer) = FORK_TIMER.get() {
        return timer(OP_LIMIT).map_err(|e| failed("fork in the launcher", e));
    }
    let started = Instant::now();
    // SAFETY: the harness has threads by now, and fork copies only this one:
    // a lock another thread holds (the allocator's, stdout's, tokio's) stays
    // held in the child forever. So the child calls nothing but `_exit`,
    // which is async-signal-safe, the only kind of call POSIX allows in the
    // child of a multi-threaded process; no destructor, allocation, atexit
    // handler or stdio flush runs there. The child needs no parent-death
    // signal: it ends at once on its own.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return Err(failed("fork", std::io::Error::last_os_error()));
    }
    let status = wait_child(pid, started + OP_LIMIT)?;
    let took = started.elapsed();
    exited_cleanly("the forked child", status)?;
    Ok(took)
}

/// The smallest binary that ends at once with status 0.
fn tiny_binary() -> Result<std::ffi::CString, FloorError> {
    use std::os::unix::fs::PermissionsExt;
    ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|p| std::ffi::CString::new(p).expect("no NUL in a literal"))
        .ok_or_else(|| FloorError::Unavailable("no /bin/true or /usr/bin/true to spawn".into()))
}

/// One posix_spawn of `exe` + wait. The child gets no parent-death signal
/// (posix_spawn cannot set one); it ends at once on its own.
fn posix_spawn_wait(exe: &std::ffi::CStr) -> Result<Duration, FloorError> {
    let argv = [exe.as_ptr().cast_mut(), std::ptr::null_mut()];
    let envp = [std::ptr::null_mut()];
    let mut pid: libc::pid_t = 0;
    let started = Instant::now();
    // SAFETY: `exe`, `argv` and `envp` are NUL-terminated and outlive the
    // call; no file actions or attributes (null).
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            exe.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(failed(
            &format!("posix_spawn {}", exe.to_string_lossy()),
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    let status = wait_child(pid, started + OP_LIMIT)?;
    let took = started.elapsed();
    exited_cleanly(&exe.to_string_lossy(), status)?;
    Ok(took)
}

fn exited_cleanly(what: &str, status: libc::c_int) -> Result<(), FloorError> {
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(FloorError::Failed(format!(
            "{what} ended with wait status {status:#x}"
        )))
    }
}

/// Waits for child `pid` to end until `deadline`, then kills it (SIGKILL)
/// and reaps it; returns its wait status. The wait sleeps on a pidfd
/// (poll), so it wakes when the child exits, as a blocking waitpid would,
/// yet has a deadline; the reaping is a waitpid with WNOHANG. Kernels
/// without pidfd_open (before 5.3) poll waitpid every 20 µs instead.
fn wait_child(pid: libc::pid_t, deadline: Instant) -> Result<libc::c_int, FloorError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (close-on-exec) or -1; the pid is our unreaped child, so not reused.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a descriptor we now own.
    let pidfd = (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) });
    let reaped = |until: Instant| -> Result<Option<libc::c_int>, FloorError> {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status we pass.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                return Ok(Some(status));
            }
            if r < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(failed(&format!("waitpid({pid})"), err));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(None);
            }
            match &pidfd {
                Some(fd) => {
                    poll_readable(fd.as_raw_fd(), until - now);
                }
                None => std::thread::sleep((until - now).min(Duration::from_micros(20))),
            }
        }
    };
    if let Some(status) = reaped(deadline)? {
        return Ok(status);
    }
    // SAFETY: the pid is our unreaped child, so it cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let waited = OP_LIMIT;
    match reaped(Instant::now() + Duration::from_secs(1))? {
        Some(_) => Err(FloorError::Failed(format!(
            "child {pid} did not exit within {waited:?}: killed and reaped"
        ))),
        None => Err(FloorError::Failed(format!(
            "child {pid} did not exit within {waited:?} and survived SIGKILL for 1 s"
        ))),
    }
}

/// Sleeps until `fd` is readable or `timeout` has passed; true when readable
/// (or hung up). EINTR counts as not yet.
fn poll_readable(fd: libc::c_int, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // Round up, so that a wait of 0.3 ms does not spin at 0 ms.
    let ms = timeout
        .as_micros()
        .div_ceil(1000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    r > 0
}

/// Waits until `fd` is readable, checking `stop` every `SLICE`.
fn wait_readable(fd: libc::c_int, stop: &Stop) -> Result<(), FloorError> {
    loop {
        let slice = stop.left().map_or(SLICE, |left| left.min(SLICE));
        if poll_readable(fd, slice) {
            return Ok(());
        }
        stop.check()?;
    }
}

/// The CPUs this thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity writes the set we pass; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Pins the calling thread (only it) to `cpu`. Only the floor's own
/// short-lived threads call it.
fn pin_to(cpu: usize) -> Result<(), FloorError> {
    // SAFETY: CPU_SET writes the set we own; sched_setaffinity(0) reads it
    // and applies to the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(failed(
                &format!("pinning a thread to CPU {cpu}"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

/// A pipe whose both ends are closed on exec (a child spawned meanwhile
/// must not hold them open).
fn pipe() -> Result<(OwnedFd, OwnedFd), FloorError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(failed("pipe2", std::io::Error::last_os_error()));
    }
    // SAFETY: both are new descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// One byte through `fd`: Ok(false) at end of file.
fn read_byte(fd: &OwnedFd) -> Result<bool, FloorError> {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into `byte`.
        let r = unsafe { libc::read(fd.as_raw_fd(), (&raw mut byte).cast(), 1) };
        match r {
            1 => return Ok(true),
            0 => return Ok(false),
            _ => {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(failed("reading a pipe", err));
                }
            }
        }
    }
}

fn write_byte(fd: &OwnedFd) -> Result<(), FloorError> {
    loop {
        // SAFETY: writes one byte from a static.
        let r = unsafe { libc::write(fd.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        if r == 1 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(failed("writing a pipe", err));
        }
    }
}

/// Round trips of one byte between a timing thread pinned to `cpus.0` and
/// an echo thread pinned to `cpus.1`. The calling thread keeps its own
/// affinity: both ends run on threads of their own.
fn pipe_round_trips(cpus: (usize, usize), n: usize, stop: &Stop) -> Result<Vec<f64>, FloorError> {
    let (to_echo_r, to_echo_w) = pipe()?;
    let (from_echo_r, from_echo_w) = pipe()?;
    std::thread::scope(|s| {
        let echo = s.spawn(move || -> Result<(), FloorError> {
            pin_to(cpus.1)?;
            // Its blocking read ends when the timing thread closes its end,
            // whichever way that thread returns.
            while read_byte(&to_echo_r)? {
                write_byte(&from_echo_w)?;
            }
            Ok(())
        });
        let timer = s.spawn(move || -> Result<Vec<f64>, FloorError> {
            // Owned here: closed when this thread returns, which ends the echo.
            let (to_echo, from_echo) = (to_echo_w, from_echo_r);
            pin_to(cpus.0)?;
            time_each(n, stop, |stop| {
                let started = Instant::now();
                write_byte(&to_echo)?;
                wait_readable(from_echo.as_raw_fd(), stop)?;
                if !read_byte(&from_echo)? {
                    return Err(FloorError::Failed("the echo thread ended early".into()));
                }
                Ok(started.elapsed())
            })
        });
        let timed = timer
            .join()
            .unwrap_or_else(|_| Err(FloorError::Failed("the timing thread panicked".into())));
        let echoed = echo
            .join()
            .unwrap_or_else(|_| Err(FloorError::Failed("the echo thread panicked".into())));
        // The echo's own error (a refused pin) explains the timer's.
        echoed.and(timed)
    })
}

/// Round trips of a message over two crossbeam channels, as a thread pool
/// hands a job to a waiting worker and gets its result back.
fn channel_round_trips(n: usize, stop: &Stop) -> Result<Vec<f64>, FloorError> {
    let (to_echo, echo_in) = crossbeam_channel::unbounded::<()>();
    let (echo_out, from_echo) = crossbeam_channel::unbounded::<()>();
    std::thread::scope(|s| {
        // Its blocking receive ends when `to_echo` is dropped below.
        s.spawn(move || {
            for () in echo_in.iter() {
                if echo_out.send(()).is_err() {
                    break;
                }
            }
        });
        let timed = time_each(n, stop, |stop| {
            let started = Instant::now();
            to_echo
                .send(())
                .map_err(|_| FloorError::Failed("the echo thread ended early".into()))?;
            loop {
                let slice = stop.left().map_or(SLICE, |left| left.min(SLICE));
                match from_echo.recv_timeout(slice) {
                    Ok(()) => return Ok(started.elapsed()),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => stop.check()?,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                        return Err(FloorError::Failed("the echo thread ended early".into()));
                    }
                }
            }
        });
        drop(to_echo);
        timed
    })
}

/// `tokio::spawn` of an empty task and its `.await`, on a runtime built as
/// the `async` models build theirs (all drivers enabled; the multi-thread
/// one with one worker, as `async` has at 1 worker). An empty task cannot
/// block, so the await needs no timeout of its own; the loop checks `stop`
/// between tasks.
fn tokio_spawns(multi: bool, n: usize, stop: &Stop) -> Result<Vec<f64>, FloorError> {
    let runtime = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| failed("building the tokio runtime", e))?;
    let timed = runtime.block_on(async {
        let mut ns = Vec::with_capacity(n);
        for i in 0..WARMUP.saturating_add(n) {
            match stop.check() {
                Ok(()) => {}
                Err(Stopped::TimedOut(_)) => break,
                Err(e) => return Err(FloorError::from(e)),
            }
            let started = Instant::now();
            tokio::spawn(async {})
                .await
                .map_err(|e| FloorError::Failed(format!("the empty task failed: {e}")))?;
            let took = started.elapsed();
            if i >= WARMUP {
                ns.push(took.as_nanos() as f64);
            }
        }
        Ok(ns)
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    timed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `step` while another thread sets the cancel flag after `delay`;
    /// returns what `step` returned and how long after the flag it took.
    fn cancelled_after<T>(delay: Duration, step: impl FnOnce(&AtomicBool) -> T) -> (T, Duration) {
        use std::sync::atomic::Ordering;
        let cancel = AtomicBool::new(false);
        std::thread::scope(|s| {
            let flag = &cancel;
            let setter = s.spawn(move || {
                std::thread::sleep(delay);
                flag.store(true, Ordering::Relaxed);
                Instant::now()
            });
            let out = step(&cancel);
            let done = Instant::now();
            let set_at = setter.join().unwrap();
            (out, done.saturating_duration_since(set_at))
        })
    }

    /// Our own children, zombies included, from /proc.
    fn children() -> Vec<u32> {
        let me = std::process::id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                    rest.split_whitespace().nth(1) == Some(me.as_str())
                })
            })
            .collect()
    }

    #[test]
    fn ids_are_stable_and_parse_back() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_id(m.id()), Some(m));
        }
        assert_eq!(Mechanism::from_id("vfork"), None);
        assert_eq!(Mechanism::PosixSpawn.id(), "posix-spawn");
    }

    #[test]
    fn every_mechanism_measures_or_says_why_not() {
        let cancel = AtomicBool::new(false);
        let (records, done) = measure(&Mechanism::ALL, 5, Duration::from_secs(10), &cancel);
        assert_eq!(done, Ok(()));
        assert_eq!(records.len(), Mechanism::ALL.len());
        for r in &records {
            match &r.status {
                CaseStatus::Ok => {
                    assert_eq!(r.samples, 5, "{r:?}");
                    let ns = r.ns.expect("an estimate");
                    assert!(
                        ns.low > 0.0 && ns.low <= ns.median && ns.median <= ns.high,
                        "{r:?}"
                    );
                    assert!(r.p10_ns.unwrap() <= r.p90_ns.unwrap());
                }
                CaseStatus::Skipped(why) => assert!(!why.is_empty()),
                other => panic!("{}: {other}", r.mechanism),
            }
        }
        // One CPU or more: the same-core round trip always runs.
        let same = &records[3];
        assert_eq!(same.mechanism, "pipe-round-trip-same-core");
        assert!(same.status == CaseStatus::Ok, "{same:?}");
        assert!(same.description.contains("pinned to CPU"), "{same:?}");
    }

    #[test]
    fn processes_cost_more_than_a_pipe_round_trip() {
        // Generous on purpose: fork is ~30x a same-core round trip here.
        let cancel = AtomicBool::new(false);
        let mechanisms = [Mechanism::ForkExitWait, Mechanism::PipeSameCore];
        let (records, _) = measure(&mechanisms, 30, Duration::from_secs(10), &cancel);
        let median = |i: usize| records[i].ns.expect("measured").median;
        assert!(median(0) > 2.0 * median(1), "{records:?}");
    }

    #[test]
    fn a_child_that_never_exits_is_killed_and_reaped() {
        // SAFETY: the child calls only pause and _exit, both async-signal-safe.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            loop {
                // SAFETY: as above.
                unsafe { libc::pause() };
            }
        }
        assert!(pid > 0);
        let started = Instant::now();
        let err = wait_child(pid, Instant::now() + Duration::from_millis(50)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("killed and reaped"), "{err}");
        // Reaped: neither alive nor a zombie among our children.
        assert!(!children().contains(&(pid as u32)));
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn forks_and_spawns_leave_no_child() {
        let cancel = AtomicBool::new(false);
        let mechanisms = [Mechanism::ForkExitWait, Mechanism::PosixSpawn];
        let (records, _) = measure(&mechanisms, 20, Duration::from_secs(10), &cancel);
        for r in &records {
            assert!(
                matches!(r.status, CaseStatus::Ok | CaseStatus::Skipped(_)),
                "{r:?}"
            );
        }
        // Other tests of this binary (this module's too) start children at
        // the same time, each for a moment: a child of ours left behind is
        // one still there 300 ms later, a zombie (a forked copy that was
        // not waited for) or the tiny binary.
        let ours = |pid: &u32| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map_or("", |(_, r)| &r[..1]);
            exe.ends_with("true") || state == "Z"
        };
        let first: Vec<u32> = children().into_iter().filter(|p| ours(p)).collect();
        if !first.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
        let lasting: Vec<u32> = children()
            .into_iter()
            .filter(|p| ours(p) && first.contains(p))
            .collect();
        assert_eq!(lasting, Vec::<u32>::new());
    }

    #[test]
    fn ctrl_c_ends_every_mechanism_within_a_second() {
        // 10 ms of each, not more: forks and spawns in a loop slow the
        // timing tests that run beside this one.
        for m in Mechanism::ALL {
            let ((records, done), after) = cancelled_after(Duration::from_millis(10), |cancel| {
                measure(&[m], 100_000_000, Duration::from_secs(3600), cancel)
            });
            assert!(after < Duration::from_secs(1), "{m:?}: {after:?}");
            match done {
                Err(Stopped::Cancelled) => {
                    assert_eq!(records[0].status, CaseStatus::Interrupted, "{m:?}");
                }
                // Skipped at once on this machine (one CPU).
                Ok(()) => assert!(records[0].status.is_skipped(), "{m:?}: {records:?}"),
                Err(e) => panic!("{m:?}: {e}"),
            }
        }
    }

    #[test]
    fn the_time_limit_keeps_what_was_measured() {
        let cancel = AtomicBool::new(false);
        let started = Instant::now();
        let (records, done) = measure(
            &[Mechanism::PthreadCreateJoin],
            100_000_000,
            Duration::from_millis(30),
            &cancel,
        );
        assert_eq!(done, Ok(()));
        assert!(started.elapsed() < Duration::from_secs(2));
        let r = &records[0];
        assert_eq!(r.status, CaseStatus::Ok);
        assert!(r.samples > 0 && r.samples < 100_000_000, "{r:?}");
    }

    #[test]
    fn a_limit_too_short_for_one_operation_fails_with_the_reason() {
        let r = record(
            Mechanism::PosixSpawn,
            Ok(Sampled {
                ns: Vec::new(),
                description: "x".into(),
            }),
            Duration::from_millis(1),
            Duration::from_millis(1),
        );
        assert!(r.status.is_failure());
        assert!(r.status.to_string().contains("time limit"), "{r:?}");
        assert_eq!((r.samples, r.ns), (0, None));
    }
}
