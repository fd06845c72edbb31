//! The demo process: `parabench lifecycle-child`, started by the harness and
//! single-threaded when it starts, so it may fork. It makes itself a child
//! subreaper, shows each state of a process's life on the OS (zombie,
//! orphan, daemon and non-daemon processes and threads, `terminate()` on a
//! lock holder and in the middle of a put), and prints one JSON line per
//! state (`results::LifecycleState`) to stdout as soon as it is seen.
//! Every wait ends at a deadline; every child is reaped before the next
//! step starts.

use super::mutex::{self, Kind, Locked, SharedMutexes};
use super::proc::{self, ProcStat};
use super::queue;
use super::sys::{self, Ended, ForkOptions};
use crate::results::{LifecycleEvent, LifecycleState};
use crate::workload::Kernel;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The longest one wait of a step may take (the demo's deadline may cut it).
const STEP_WAIT: Duration = Duration::from_secs(5);
/// How long the next locker of a plain mutex waits before it is judged
/// stuck: without a deadline it would wait for ever.
const PLAIN_LOCK_WAIT: Duration = Duration::from_millis(50);
/// Daemon and non-daemon children of each kind, processes and threads.
const PER_KIND: usize = 2;
/// A non-daemon child's work: iterations of the hash kernel, whose result
/// the demo checks.
const WORK_ITERS: u64 = 200_000;
/// The message a worker puts after a broken queue was replaced.
const RECOVERY_BYTES: usize = 1024;
/// Test-only: when set, the demo blocks for ever in the orphan step, with
/// the adopted grandchild alive, so that a test can check that the harness
/// kills and reaps everything when its timeout passes.
pub const HANG_VAR: &str = "PARABENCH_TEST_LIFECYCLE_HANG";

/// What each state is expected to show, in the order the demo shows them.
pub const EXPECTED: [(&str, &str); 8] = [
    (
        "zombie",
        "a child that exited and was not waited for stays in /proc as state Z, not alive; waitpid reaps it and its entry is gone",
    ),
    (
        "orphan",
        "a grandchild whose parent exits is re-parented to the nearest subreaper (the demo process): its ppid changes from its parent to the demo, which reaps it",
    ),
    (
        "daemon-process",
        "daemon processes are terminated (SIGTERM) when the main work ends, then reaped",
    ),
    (
        "non-daemon-process",
        "non-daemon processes are joined: the main work waits for them, and they exit 0 with their result",
    ),
    (
        "daemon-thread",
        "daemon threads are never joined: alive when their process exits, they end with it",
    ),
    (
        "non-daemon-thread",
        "non-daemon threads are joined before their process exits, with their result",
    ),
    (
        "terminate-lock",
        "terminate() on a worker that holds a process-shared lock leaves it held: a plain mutex stays locked (its next locker would wait for ever); a robust one gives the next locker EOWNERDEAD, and it recovers",
    ),
    (
        "terminate-queue",
        "terminate() in the middle of a put leaves a message cut short: the reader finds the queue broken instead of hanging, and a new queue carries the next message",
    ),
];

fn expected(state: &str) -> &'static str {
    EXPECTED
        .iter()
        .find(|(id, _)| *id == state)
        .map_or("", |(_, text)| text)
}

/// Runs the demo within `limit` and prints its states; the process exits
/// after this returns.
pub fn serve(limit: Duration) -> anyhow::Result<u8> {
    let demo = Demo {
        deadline: Instant::now() + limit,
        me: std::process::id(),
    };
    sys::set_name("pb-lifecycle");
    anyhow::ensure!(
        proc::own_threads() == Some(1),
        "the lifecycle demo must start single-threaded to fork soundly, and has {:?} threads",
        proc::own_threads()
    );
    sys::set_child_subreaper(true)?;
    type Step = fn(&Demo) -> Result<Vec<LifecycleState>, String>;
    let steps: [(&[&str], Step); 6] = [
        (&["zombie"], Demo::zombie),
        (&["orphan"], Demo::orphan),
        (&["daemon-process", "non-daemon-process"], Demo::processes),
        (&["daemon-thread", "non-daemon-thread"], Demo::threads),
        (&["terminate-lock"], Demo::terminate_lock),
        (&["terminate-queue"], Demo::terminate_queue),
    ];
    let mut out = std::io::stdout().lock();
    for (ids, step) in steps {
        let t0 = Instant::now();
        let mut states = step(&demo).unwrap_or_else(|why| {
            ids.iter()
                .map(|id| failed_state(id, &why, sys::ms_since(t0)))
                .collect()
        });
        // Nothing a step started may outlive it: a child left over fails it.
        let left = demo.reap_stragglers();
        if left > 0
            && let Some(last) = states.last_mut()
        {
            last.seen = false;
            last.observed.push_str(&format!(
                "; {left} child(ren) were left after the step and killed"
            ));
        }
        for state in &states {
            writeln!(out, "{}", serde_json::to_string(state)?)?;
        }
        out.flush()?;
    }
    Ok(0)
}

fn failed_state(id: &str, why: &str, step_ms: f64) -> LifecycleState {
    LifecycleState {
        state: id.into(),
        expected: expected(id).into(),
        observed: format!("error: {why}"),
        seen: false,
        step_ms,
        counts: BTreeMap::new(),
        timings_ms: BTreeMap::new(),
        events: Vec::new(),
    }
}

/// The events of a step as they are seen, timed from its start.
struct Recorder {
    t0: Instant,
    events: Vec<LifecycleEvent>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            t0: Instant::now(),
            events: Vec::new(),
        }
    }

    fn push(&mut self, role: &str, pid: u32, what: &str, stat: Option<&ProcStat>) {
        self.events.push(LifecycleEvent {
            at_ms: sys::ms_since(self.t0),
            role: role.into(),
            what: what.into(),
            pid,
            ppid: stat.map(|s| s.ppid),
            proc_state: stat.map(|s| s.state.to_string()),
            is_alive: stat.is_some_and(ProcStat::is_alive),
        });
    }

    /// Process `pid` as /proc shows it now.
    fn see(&mut self, role: &str, pid: u32, what: &str) -> Option<ProcStat> {
        let stat = ProcStat::read(pid);
        self.push(role, pid, what, stat.as_ref());
        stat
    }

    /// Thread `tid` of process `pid` as /proc shows it now.
    fn see_thread(&mut self, role: &str, pid: u32, tid: u32, what: &str) -> Option<ProcStat> {
        let stat = ProcStat::read_task(pid, tid);
        self.push(role, tid, what, stat.as_ref());
        stat
    }

    fn ms(&self) -> f64 {
        sys::ms_since(self.t0)
    }

    /// A state from this step's events of the given roles (all when empty).
    fn state(
        &self,
        id: &str,
        roles: &[&str],
        observed: String,
        seen: bool,
        counts: &[(&str, u64)],
        timings: &[(&str, f64)],
    ) -> LifecycleState {
        LifecycleState {
            state: id.into(),
            expected: expected(id).into(),
            observed,
            seen,
            step_ms: self.ms(),
            counts: counts.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
            timings_ms: timings.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
            events: self
                .events
                .iter()
                .filter(|e| roles.is_empty() || roles.contains(&e.role.as_str()))
                .cloned()
                .collect(),
        }
    }
}

fn opts<'a>(name: &'a str, keep: &'a [i32]) -> ForkOptions<'a> {
    ForkOptions {
        name,
        keep,
        die_with_parent: true,
    }
}

fn err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn show(end: Option<Ended>) -> String {
    end.map_or("still running".into(), |e| e.to_string())
}

struct Demo {
    deadline: Instant,
    me: u32,
}

impl Demo {
    /// When one wait of a step gives up.
    fn wait_deadline(&self) -> Instant {
        self.deadline.min(Instant::now() + STEP_WAIT)
    }

    /// Waits for child `pid` and reaps it.
    fn join(&self, pid: u32) -> Result<Option<Ended>, String> {
        sys::wait_until(pid, self.wait_deadline(), None).map_err(err("waiting for a child"))
    }

    /// Kills and reaps every child still there (adopted orphans included);
    /// returns how many there were.
    fn reap_stragglers(&self) -> usize {
        let deadline = Instant::now() + STEP_WAIT;
        let mut n = 0;
        loop {
            let left = proc::children_of(self.me);
            if left.is_empty() || Instant::now() >= deadline {
                return n;
            }
            for pid in left {
                let _ = sys::signal(pid as i32, libc::SIGKILL);
                if let Ok(Some(_)) = sys::wait_until(pid, deadline, None) {
                    n += 1;
                }
            }
        }
    }

    fn zombie(&self) -> Result<Vec<LifecycleState>, String> {
        const CODE: i32 = 7;
        let mut rec = Recorder::new();
        let pid = sys::fork(&opts("pb-zombie", &[]), || CODE).map_err(err("fork"))?;
        rec.see("child", pid, "forked; it exits at once with code 7");
        let exited = sys::wait_exited(pid, self.wait_deadline(), None)
            .map_err(err("waiting for the child's exit"))?;
        if !exited {
            return Err("the child did not exit in time".into());
        }
        let exited_ms = rec.ms();
        let zombie = rec.see("child", pid, "exited, not yet waited for");
        let state = zombie.as_ref().map(|s| s.state);
        let t = Instant::now();
        let ended = sys::reap(pid).map_err(err("waitpid"))?;
        let reap_ms = sys::ms_since(t);
        let gone = rec.see("child", pid, "waited for (waitpid)").is_none();
        let seen = state == Some('Z')
            && zombie
                .as_ref()
                .is_some_and(|z| z.ppid == self.me && !z.is_alive())
            && ended == Some(Ended::Exited(CODE))
            && gone;
        let observed = format!(
            "after its exit it stayed in /proc as state {} with ppid {} and is_alive {}; waitpid returned {}; then /proc/{pid} was {}",
            state.map_or("(none)".into(), String::from),
            zombie
                .as_ref()
                .map_or("(none)".into(), |z| z.ppid.to_string()),
            zombie.as_ref().is_some_and(ProcStat::is_alive),
            show(ended),
            if gone { "gone" } else { "still there" }
        );
        Ok(vec![rec.state(
            "zombie",
            &[],
            observed,
            seen,
            &[
                ("zombies_seen", u64::from(state == Some('Z'))),
                ("reaped", u64::from(ended.is_some())),
            ],
            &[("exit_seen_ms", exited_ms), ("waitpid_ms", reap_ms)],
        )])
    }

    fn orphan(&self) -> Result<Vec<LifecycleState>, String> {
        let mut rec = Recorder::new();
        let subreaper = sys::is_child_subreaper();
        let (report_r, report_w) = sys::pipe().map_err(err("pipe"))?;
        let (release_r, release_w) = sys::pipe().map_err(err("pipe"))?;
        let (hold_r, hold_w) = sys::pipe().map_err(err("pipe"))?;
        let (rw, rr, hr) = (
            report_w.as_raw_fd(),
            release_r.as_raw_fd(),
            hold_r.as_raw_fd(),
        );
        let parent = sys::fork(&opts("pb-orphan-par", &[rw, rr, hr]), move || {
            // The grandchild must outlive its parent: no parent-death signal.
            // It ends when the demo closes `hold` (or dies).
            let grandchild = ForkOptions {
                name: "pb-orphan",
                keep: &[hr],
                die_with_parent: false,
            };
            let Ok(g) = sys::fork(&grandchild, move || {
                let _ = sys::read_blocking(hr, &mut [0u8; 1]);
                0
            }) else {
                return 2;
            };
            if sys::write_all(rw, &g.to_le_bytes()).is_err() {
                return 3;
            }
            // Exit when the demo says so (or is gone).
            let _ = sys::read_blocking(rr, &mut [0u8; 1]);
            0
        })
        .map_err(err("fork"))?;
        drop((report_w, release_r, hold_r));
        let mut buf = [0u8; 4];
        let n = sys::read_full_until(report_r.as_raw_fd(), &mut buf, self.wait_deadline())
            .map_err(err("reading the grandchild's pid"))?;
        if n != 4 {
            return Err(format!(
                "the parent ended without naming its child ({n} bytes)"
            ));
        }
        let g = u32::from_le_bytes(buf);
        rec.see("parent", parent, "forked the grandchild");
        let before = rec.see("grandchild", g, "while its parent runs");
        sys::write_all(release_w.as_raw_fd(), b"x").map_err(err("releasing the parent"))?;
        let t = Instant::now();
        let parent_end = self.join(parent)?;
        rec.see(
            "parent",
            parent,
            &format!("exited ({}) and reaped", show(parent_end)),
        );
        let after = rec.see("grandchild", g, "after its parent exited");
        let reparent_ms = sys::ms_since(t);
        hang_for_test();
        drop(hold_w);
        // waitpid works on it only because it is now the demo's child.
        let g_end = self.join(g)?;
        let gone = rec
            .see("grandchild", g, "reaped by the subreaper")
            .is_none();
        let ppid = |s: &Option<ProcStat>| s.as_ref().map(|s| s.ppid);
        let adopted = ppid(&after) == Some(self.me);
        let seen = subreaper
            && ppid(&before) == Some(parent)
            && adopted
            && after.as_ref().is_some_and(ProcStat::is_alive)
            && parent_end == Some(Ended::Exited(0))
            && g_end == Some(Ended::Exited(0))
            && gone;
        let observed = format!(
            "the grandchild's ppid was {} (its parent, {parent}) and became {} (the demo, {}, subreaper: {subreaper}) once its parent exited; it stayed alive; the demo reaped it ({})",
            ppid(&before).map_or("(gone)".into(), |p| p.to_string()),
            ppid(&after).map_or("(gone)".into(), |p| p.to_string()),
            self.me,
            show(g_end)
        );
        Ok(vec![rec.state(
            "orphan",
            &[],
            observed,
            seen,
            &[
                ("orphans_adopted", u64::from(adopted)),
                (
                    "reaped",
                    u64::from(parent_end.is_some()) + u64::from(g_end.is_some()),
                ),
            ],
            &[("parent_exit_to_adoption_ms", reparent_ms)],
        )])
    }

    /// Daemon and non-daemon processes, ended as multiprocessing's exit
    /// handler ends them: daemons terminated, the others joined.
    fn processes(&self) -> Result<Vec<LifecycleState>, String> {
        let mut rec = Recorder::new();
        let mut daemons = Vec::new();
        for _ in 0..PER_KIND {
            let (r, w) = sys::pipe().map_err(err("pipe"))?;
            let rr = r.as_raw_fd();
            // Serves until terminated: nothing is ever written to it.
            let pid = sys::fork(&opts("pb-daemon", &[rr]), move || {
                let _ = sys::read_blocking(rr, &mut [0u8; 1]);
                0
            })
            .map_err(err("fork"))?;
            rec.see("daemon", pid, "started; serves until the main work ends");
            daemons.push((pid, w));
        }
        let mut workers = Vec::new();
        for seed in 0..PER_KIND as u64 {
            let (r, w) = sys::pipe().map_err(err("pipe"))?;
            let ww = w.as_raw_fd();
            let pid = sys::fork(&opts("pb-non-daemon", &[ww]), move || {
                let sum = Kernel::Hash.run(seed, WORK_ITERS);
                i32::from(sys::write_all(ww, &sum.to_le_bytes()).is_err())
            })
            .map_err(err("fork"))?;
            drop(w);
            rec.see(
                "non-daemon",
                pid,
                "started; computes its result, then exits",
            );
            workers.push((pid, r, seed));
        }
        for (pid, _) in &daemons {
            rec.see("daemon", *pid, "when the main work ended");
        }
        for (pid, ..) in &workers {
            rec.see("non-daemon", *pid, "when the main work ended");
        }
        let t = Instant::now();
        let mut terminated = 0;
        for (pid, _) in &daemons {
            sys::signal(*pid as i32, libc::SIGTERM).map_err(err("terminate"))?;
            let end = self.join(*pid)?;
            rec.see(
                "daemon",
                *pid,
                &format!("terminated: {}; reaped", show(end)),
            );
            terminated += u64::from(end == Some(Ended::Signalled(libc::SIGTERM)));
        }
        let terminate_ms = sys::ms_since(t);
        let t = Instant::now();
        let (mut joined, mut verified) = (0, 0);
        for (pid, r, seed) in &workers {
            let mut buf = [0u8; 8];
            let n = sys::read_full_until(r.as_raw_fd(), &mut buf, self.wait_deadline())
                .map_err(err("reading a result"))?;
            let end = self.join(*pid)?;
            rec.see("non-daemon", *pid, &format!("joined: {}", show(end)));
            joined += u64::from(end == Some(Ended::Exited(0)));
            verified +=
                u64::from(n == 8 && u64::from_le_bytes(buf) == Kernel::Hash.run(*seed, WORK_ITERS));
        }
        let join_ms = sys::ms_since(t);
        drop(daemons);
        let n = PER_KIND as u64;
        Ok(vec![
            rec.state(
                "daemon-process",
                &["daemon"],
                format!("{terminated} of {n} daemons ended by SIGTERM when the main work ended, and were reaped"),
                terminated == n,
                &[("started", n), ("terminated", terminated)],
                &[("terminate_and_reap_ms", terminate_ms)],
            ),
            rec.state(
                "non-daemon-process",
                &["non-daemon"],
                format!("{joined} of {n} non-daemons joined with exit code 0; {verified} of {n} results checked"),
                joined == n && verified == n,
                &[("started", n), ("joined", joined), ("results_checked", verified)],
                &[("join_ms", join_ms)],
            ),
        ])
    }

    /// Daemon and non-daemon threads, in a forked child process: its daemon
    /// threads end with it, so they must not be the demo's own.
    fn threads(&self) -> Result<Vec<LifecycleState>, String> {
        let mut rec = Recorder::new();
        let t0 = rec.t0;
        let (r, w) = sys::pipe().map_err(err("pipe"))?;
        let ww = w.as_raw_fd();
        let child = sys::fork(&opts("pb-threads", &[ww]), move || thread_child(ww, t0))
            .map_err(err("fork"))?;
        drop(w);
        rec.see(
            "process",
            child,
            "started; runs daemon and non-daemon threads",
        );
        // Its pipe reaches end of file once the child and all its threads are gone.
        let report = sys::read_to_end_until(r.as_raw_fd(), 1 << 20, self.wait_deadline())
            .map_err(err("reading the thread report"))?;
        let exited = sys::wait_exited(child, self.wait_deadline(), None)
            .map_err(err("waiting for the child's exit"))?;
        let tasks_after_exit = proc::tasks_of(child);
        rec.see("process", child, "exited; not yet reaped");
        let end = self.join(child)?;
        rec.see("process", child, &format!("reaped: {}", show(end)));
        let report: serde_json::Value =
            serde_json::from_slice(&report).map_err(|e| format!("the thread report: {e}"))?;
        let events: Vec<LifecycleEvent> = serde_json::from_value(report["events"].clone())
            .map_err(|e| format!("the thread report's events: {e}"))?;
        rec.events.extend(events);
        rec.events.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        let count = |key: &str| report[key].as_u64().unwrap_or(0);
        let (joined, verified) = (count("joined"), count("results_checked"));
        let (alive_at_exit, threads_at_exit) =
            (count("daemons_alive_at_exit"), count("threads_at_exit"));
        let daemon_tids: Vec<u32> = report["daemon_tids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64().map(|t| t as u32))
                    .collect()
            })
            .unwrap_or_default();
        let ended_with_it = daemon_tids
            .iter()
            .filter(|t| !tasks_after_exit.contains(t))
            .count() as u64;
        let n = PER_KIND as u64;
        let exit_ok = exited && end == Some(Ended::Exited(0));
        let roles = ["process", "daemon thread"];
        Ok(vec![
            rec.state(
                "daemon-thread",
                &roles,
                format!(
                    "{alive_at_exit} of {n} daemon threads were alive as the process exited ({threads_at_exit} threads then, the main one included); the process ended with {}; once it had exited, {ended_with_it} of {n} were gone from /proc/PID/task without being joined",
                    show(end)
                ),
                exit_ok && alive_at_exit == n && ended_with_it == n && threads_at_exit == n + 1,
                &[("started", n), ("alive_at_exit", alive_at_exit), ("ended_with_process", ended_with_it)],
                &[],
            ),
            rec.state(
                "non-daemon-thread",
                &["non-daemon thread"],
                format!("{joined} of {n} non-daemon threads joined before the process exited; {verified} of {n} results checked"),
                exit_ok && joined == n && verified == n,
                &[("started", n), ("joined", joined), ("results_checked", verified)],
                &[],
            ),
        ])
    }

    fn terminate_lock(&self) -> Result<Vec<LifecycleState>, String> {
        let mut rec = Recorder::new();
        let m = SharedMutexes::new().map_err(err("mapping the shared mutexes"))?;
        let (ready_r, ready_w) = sys::pipe().map_err(err("pipe"))?;
        let (hold_r, hold_w) = sys::pipe().map_err(err("pipe"))?;
        let (rw, hr) = (ready_w.as_raw_fd(), hold_r.as_raw_fd());
        let m_ref = &m;
        // The child's copy of `m` points at the same shared mapping.
        let worker = sys::fork(&opts("pb-lock-holder", &[rw, hr]), move || {
            if m_ref.lock(Kind::Robust, STEP_WAIT) != Locked::Acquired
                || m_ref.lock(Kind::Plain, STEP_WAIT) != Locked::Acquired
            {
                return 2;
            }
            if sys::write_all(rw, b"L").is_err() {
                return 3;
            }
            // In its critical section until terminated.
            let _ = sys::read_blocking(hr, &mut [0u8; 1]);
            m_ref.unlock(Kind::Plain);
            m_ref.unlock(Kind::Robust);
            0
        })
        .map_err(err("fork"))?;
        drop((ready_w, hold_r));
        let n = sys::read_until(ready_r.as_raw_fd(), &mut [0u8; 1], self.wait_deadline())
            .map_err(err("waiting for the worker to lock"))?;
        if n != 1 {
            return Err("the worker ended before taking the locks".into());
        }
        rec.see("worker", worker, "holds the robust and the plain mutex");
        let busy = m.try_lock(Kind::Robust);
        if busy == 0 {
            m.unlock(Kind::Robust);
        }
        sys::signal(worker as i32, libc::SIGTERM).map_err(err("terminate"))?;
        let end = self.join(worker)?;
        rec.see(
            "worker",
            worker,
            &format!("terminated while holding both: {}; reaped", show(end)),
        );
        let (plain, plain_ms) = mutex::timed(|| m.lock(Kind::Plain, PLAIN_LOCK_WAIT));
        if plain == Locked::Acquired {
            m.unlock(Kind::Plain);
        }
        let (robust, robust_ms) = mutex::timed(|| m.lock(Kind::Robust, STEP_WAIT));
        let consistent = match robust {
            Locked::OwnerDead => m.consistent(Kind::Robust),
            _ => -1,
        };
        if matches!(robust, Locked::OwnerDead | Locked::Acquired) {
            m.unlock(Kind::Robust);
        }
        let (relock, relock_ms) = mutex::timed(|| m.lock(Kind::Robust, STEP_WAIT));
        if relock == Locked::Acquired {
            m.unlock(Kind::Robust);
        }
        drop(hold_w);
        let seen = busy == libc::EBUSY
            && end == Some(Ended::Signalled(libc::SIGTERM))
            && plain == Locked::TimedOut
            && robust == Locked::OwnerDead
            && consistent == 0
            && relock == Locked::Acquired;
        let observed = format!(
            "while the worker held it, trylock returned {}; the worker ended by {}; then the plain mutex was still held (timedlock: {} after {plain_ms:.1} ms, where an untimed lock would wait for ever); the robust one answered {} in {robust_ms:.3} ms, pthread_mutex_consistent returned {consistent}, and it locked again ({})",
            errno_name(busy),
            show(end),
            lock_name(plain),
            lock_name(robust),
            lock_name(relock),
        );
        Ok(vec![rec.state(
            "terminate-lock",
            &[],
            observed,
            seen,
            &[
                ("terminated", u64::from(end.is_some())),
                ("plain_left_locked", u64::from(plain == Locked::TimedOut)),
                ("owner_dead_seen", u64::from(robust == Locked::OwnerDead)),
                (
                    "recovered",
                    u64::from(consistent == 0 && relock == Locked::Acquired),
                ),
            ],
            &[
                ("plain_lock_wait_ms", plain_ms),
                ("eownerdead_ms", robust_ms),
                ("relock_ms", relock_ms),
            ],
        )])
    }

    fn terminate_queue(&self) -> Result<Vec<LifecycleState>, String> {
        let mut rec = Recorder::new();
        let (r, w) = sys::pipe().map_err(err("pipe"))?;
        let capacity = sys::pipe_capacity(r.as_raw_fd()).map_err(err("F_GETPIPE_SZ"))?;
        // Four times the pipe: the put cannot finish until the reader reads.
        let len = 4 * capacity;
        let ww = w.as_raw_fd();
        let worker = sys::fork(&opts("pb-queue-put", &[ww]), move || {
            i32::from(queue::put(ww, &queue::pattern(len)).is_err())
        })
        .map_err(err("fork"))?;
        // The demo keeps no write end: once the worker is gone, nothing can
        // finish its message (multiprocessing's reader keeps one, and hangs).
        drop(w);
        rec.see(
            "worker",
            worker,
            &format!("putting a message of {len} bytes"),
        );
        // A put is stuck half-way once part of it is in the pipe and the
        // writer sleeps in the kernel's pipe write (where /proc shows it).
        let deadline = self.wait_deadline();
        let stuck = loop {
            let started = sys::bytes_waiting(r.as_raw_fd()).map_err(err("FIONREAD"))? > 0;
            let asleep = ProcStat::read(worker).is_some_and(|s| s.state == 'S');
            let in_write = proc::wchan(worker).is_none_or(|w| w.contains("pipe_write"));
            if started && asleep && in_write {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        if !stuck {
            return Err("the worker's put never filled the pipe".into());
        }
        let in_pipe = sys::bytes_waiting(r.as_raw_fd()).map_err(err("FIONREAD"))?;
        let wchan = proc::wchan(worker).unwrap_or_else(|| "not shown".into());
        rec.see(
            "worker",
            worker,
            &format!(
                "blocked in the middle of its put (kernel wait: {wchan}): {in_pipe} of {} bytes in the pipe",
                len + 4
            ),
        );
        sys::signal(worker as i32, libc::SIGTERM).map_err(err("terminate"))?;
        let end = self.join(worker)?;
        rec.see(
            "worker",
            worker,
            &format!("terminated mid-put: {}; reaped", show(end)),
        );
        let t = Instant::now();
        let got = queue::get(r.as_raw_fd(), len, self.wait_deadline());
        let detect_ms = sys::ms_since(t);
        let broken = matches!(got, Err(queue::GetError::Broken { .. }));
        let what = match &got {
            Ok(m) => format!("a whole message of {} bytes", m.len()),
            Err(e) => e.to_string(),
        };
        // Recovery: the broken queue is dropped, a new one carries on.
        drop(r);
        let (r2, w2) = sys::pipe().map_err(err("pipe"))?;
        let w2r = w2.as_raw_fd();
        let t = Instant::now();
        let next = sys::fork(&opts("pb-queue-put", &[w2r]), move || {
            i32::from(queue::put(w2r, &queue::pattern(RECOVERY_BYTES)).is_err())
        })
        .map_err(err("fork"))?;
        drop(w2);
        rec.see("worker", next, "a new worker puts on a new queue");
        let message = queue::get(r2.as_raw_fd(), RECOVERY_BYTES, self.wait_deadline());
        let next_end = self.join(next)?;
        let recover_ms = sys::ms_since(t);
        rec.see("worker", next, &format!("joined: {}", show(next_end)));
        let recovered = matches!(&message, Ok(m) if *m == queue::pattern(RECOVERY_BYTES));
        let seen = end == Some(Ended::Signalled(libc::SIGTERM))
            && broken
            && recovered
            && next_end == Some(Ended::Exited(0));
        let lost = match got {
            Err(queue::GetError::Broken { got, expected }) => (expected - got) as u64,
            _ => 0,
        };
        let observed = format!(
            "the worker ended by {} with {in_pipe} bytes in the pipe; the reader found: {what} ({detect_ms:.3} ms, no hang); a new queue then carried a {RECOVERY_BYTES}-byte message {}",
            show(end),
            if recovered { "intact" } else { "wrongly" }
        );
        Ok(vec![rec.state(
            "terminate-queue",
            &[],
            observed,
            seen,
            &[
                ("terminated", u64::from(end.is_some())),
                ("broken_messages", u64::from(broken)),
                ("bytes_lost", lost),
                ("recovered_messages", u64::from(recovered)),
            ],
            &[
                ("broken_detected_ms", detect_ms),
                ("recovery_ms", recover_ms),
            ],
        )])
    }
}

/// The child of the threads step: starts daemon and non-daemon threads,
/// joins the non-daemons only, reports on `report_fd` and exits with the
/// daemons still running, as Python does at interpreter exit.
fn thread_child(report_fd: i32, t0: Instant) -> i32 {
    let me = std::process::id();
    let mut rec = Recorder {
        t0,
        events: Vec::new(),
    };
    let (tx, rx) = std::sync::mpsc::channel::<(bool, u32)>();
    let mut joiners = Vec::new();
    for seed in 0..PER_KIND as u64 {
        let tx = tx.clone();
        joiners.push(std::thread::spawn(move || {
            let _ = tx.send((false, sys::gettid()));
            (seed, Kernel::Hash.run(seed + 100, WORK_ITERS))
        }));
    }
    for _ in 0..PER_KIND {
        let tx = tx.clone();
        // Never joined, never told to stop: it runs until its process ends.
        std::thread::spawn(move || {
            let _ = tx.send((true, sys::gettid()));
            loop {
                std::thread::park();
            }
        });
    }
    drop(tx);
    let mut daemon_tids = Vec::new();
    let mut worker_tids = Vec::new();
    for _ in 0..2 * PER_KIND {
        match rx.recv_timeout(STEP_WAIT) {
            Ok((true, tid)) => daemon_tids.push(tid),
            Ok((false, tid)) => worker_tids.push(tid),
            Err(_) => break,
        }
    }
    for &tid in &daemon_tids {
        rec.see_thread(
            "daemon thread",
            me,
            tid,
            "started; runs until its process ends",
        );
    }
    let (mut joined, mut checked) = (0u64, 0u64);
    for handle in joiners {
        if let Ok((seed, sum)) = handle.join() {
            joined += 1;
            checked += u64::from(sum == Kernel::Hash.run(seed + 100, WORK_ITERS));
        }
    }
    for &tid in &worker_tids {
        rec.see_thread(
            "non-daemon thread",
            me,
            tid,
            "joined; gone from /proc/PID/task",
        );
    }
    let mut alive = 0u64;
    for &tid in &daemon_tids {
        let stat = rec.see_thread("daemon thread", me, tid, "as its process exits, not joined");
        alive += u64::from(stat.is_some_and(|s| s.is_alive()));
    }
    let report = serde_json::json!({
        "events": rec.events,
        "joined": joined,
        "results_checked": checked,
        "daemons_alive_at_exit": alive,
        "daemon_tids": daemon_tids,
        "threads_at_exit": proc::own_threads().unwrap_or(0),
    });
    let ok = sys::write_all(report_fd, report.to_string().as_bytes()).is_ok();
    // `fork`'s _exit ends the process, daemon threads and all.
    i32::from(!ok)
}

fn errno_name(e: i32) -> String {
    match e {
        0 => "0 (taken)".into(),
        libc::EBUSY => "EBUSY".into(),
        libc::EOWNERDEAD => "EOWNERDEAD".into(),
        e => format!("error {e}"),
    }
}

fn lock_name(l: Locked) -> String {
    match l {
        Locked::Acquired => "acquired".into(),
        Locked::OwnerDead => "EOWNERDEAD".into(),
        Locked::TimedOut => "ETIMEDOUT".into(),
        Locked::Error(e) => errno_name(e),
    }
}

/// Test-only (`HANG_VAR`): blocks for ever, as a demo stuck on a lost
/// wake-up would. Reads a pipe whose write end it keeps, so no data and no
/// end of file ever come; the harness's timeout must end it.
fn hang_for_test() {
    if std::env::var_os(HANG_VAR).is_none() {
        return;
    }
    if let Ok((r, _w)) = sys::pipe() {
        let _ = sys::read_blocking(r.as_raw_fd(), &mut [0u8; 1]);
    }
}
