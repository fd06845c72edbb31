//! Reading what the OS knows about us: CPU time and context switches
//! (getrusage, and wait4 per child), peak memory (VmHWM, reset per
//! repetition through /proc/self/clear_refs; a live child's peak PSS from
//! /proc/PID/smaps_rollup), and per-task latency histograms. Only the runner
//! and the models call these.

use crate::results::Percentiles;
use std::time::Duration;

/// CPU time and context switches, from one `rusage`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub user: Duration,
    pub sys: Duration,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    /// Peak resident set size; for a child, its own lifetime peak.
    pub max_rss_bytes: u64,
    /// A peak proportional set size (see `peak_pss`), where one was
    /// sampled (the CPython runner reports its own).
    pub peak_pss_bytes: Option<u64>,
}

impl Usage {
    fn from_rusage(ru: &libc::rusage) -> Usage {
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        Usage {
            user: tv(ru.ru_utime),
            sys: tv(ru.ru_stime),
            ctx_voluntary: ru.ru_nvcsw as u64,
            ctx_involuntary: ru.ru_nivcsw as u64,
            max_rss_bytes: ru.ru_maxrss as u64 * 1024,
            peak_pss_bytes: None,
        }
    }

    /// What happened between `earlier` and `self` (peak RSS is not a counter
    /// and is taken from `self`).
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
            ctx_voluntary: self.ctx_voluntary.saturating_sub(earlier.ctx_voluntary),
            ctx_involuntary: self.ctx_involuntary.saturating_sub(earlier.ctx_involuntary),
            max_rss_bytes: self.max_rss_bytes,
            peak_pss_bytes: self.peak_pss_bytes,
        }
    }
}

/// The whole harness process: every thread, not the children.
pub fn self_usage() -> Usage {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        Usage::from_rusage(&ru)
    }
}

/// Every child reaped so far and their reaped descendants (RUSAGE_CHILDREN):
/// for whole-run totals only, see `ChildUsage` for one batch.
pub fn reaped_children_usage() -> Usage {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        Usage::from_rusage(&ru)
    }
}

/// Usage summed over the children of one batch, reaped one by one with wait4
/// (RUSAGE_CHILDREN would only count children already waited for, and its
/// peak RSS is the largest child, not a sum).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChildUsage {
    pub user: Duration,
    pub sys: Duration,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    /// Each reaped child's peak RSS.
    pub peak_rss: Vec<u64>,
    /// Each reaped child's peak PSS, where it was sampled.
    pub peak_pss: Vec<Option<u64>>,
}

impl ChildUsage {
    pub fn add(&mut self, u: &Usage) {
        self.user += u.user;
        self.sys += u.sys;
        self.ctx_voluntary += u.ctx_voluntary;
        self.ctx_involuntary += u.ctx_involuntary;
        self.peak_rss.push(u.max_rss_bytes);
        self.peak_pss.push(u.peak_pss_bytes);
    }

    pub fn merge(&mut self, other: ChildUsage) {
        self.user += other.user;
        self.sys += other.sys;
        self.ctx_voluntary += other.ctx_voluntary;
        self.ctx_involuntary += other.ctx_involuntary;
        self.peak_rss.extend(other.peak_rss);
        self.peak_pss.extend(other.peak_pss);
    }

    /// Peak memory of the children that can have been alive together: at most
    /// `live` at a time, so the sum of the `live` largest peaks. For pools
    /// (all workers live throughout) this is exactly their sum.
    pub fn concurrent_peak(&self, live: usize) -> u64 {
        let mut peaks = self.peak_rss.clone();
        peaks.sort_unstable_by(|a, b| b.cmp(a));
        peaks.iter().take(live).sum()
    }

    /// The same sum over the children's peak PSS: shared pages (the
    /// executable, libraries, pages a fork shares) count once in all, not
    /// once per child. None unless every reaped child was sampled.
    pub fn concurrent_peak_pss(&self, live: usize) -> Option<u64> {
        let mut peaks: Vec<u64> = self.peak_pss.iter().copied().collect::<Option<_>>()?;
        if peaks.is_empty() {
            return None;
        }
        peaks.sort_unstable_by(|a, b| b.cmp(a));
        Some(peaks.iter().take(live).sum())
    }
}

/// What /proc says about one live process's memory, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcMemory {
    /// Proportional set size: each shared page divided by its sharers.
    pub pss: u64,
    pub rss: u64,
    /// Peak RSS (VmHWM).
    pub hwm: u64,
}

impl ProcMemory {
    /// The process's peak PSS, estimated at a sample taken after the peak:
    /// its PSS now plus what its RSS has fallen since its high-water mark.
    /// Memory freed since the peak is private (heap, task buffers), so it
    /// counts in full, as it did in PSS when it was resident. PSS itself has
    /// no high-water mark.
    pub fn peak_pss(&self) -> u64 {
        self.pss + self.hwm.saturating_sub(self.rss)
    }
}

/// Samples the summed PSS of a changing set of live processes on a thread of
/// its own while a batch runs, and keeps the largest sum: what the processes
/// alive together held at once, shared pages counted once in all. Each pass
/// reads every process's smaps_rollup; the next waits ten times as long as
/// the pass took (at least 2 ms), so sampling costs under a tenth of a core.
pub struct PssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<Option<u64>>>,
}

impl PssSampler {
    /// Starts sampling the processes `pids` lists at each pass.
    pub fn start(pids: impl Fn() -> Vec<u32> + Send + 'static) -> PssSampler {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::Builder::new()
            .name("pss-sampler".into())
            .spawn(move || {
                let mut peak: Option<u64> = None;
                loop {
                    let pass = std::time::Instant::now();
                    let sum: u64 = pids()
                        .into_iter()
                        .filter_map(proc_memory)
                        .map(|m| m.pss)
                        .sum();
                    if sum > 0 {
                        peak = Some(peak.map_or(sum, |p| p.max(sum)));
                    }
                    // One last pass after the stop request, then out.
                    if stopped.load(Ordering::Acquire) {
                        return peak;
                    }
                    let wait = (pass.elapsed() * 10).max(Duration::from_millis(2));
                    std::thread::park_timeout(wait);
                }
            })
            .ok();
        PssSampler { stop, handle }
    }

    /// Takes a last sample now and returns the largest sum seen (None when
    /// no process was ever readable). Waits for at most one pass.
    pub fn finish(mut self) -> Option<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let handle = self.handle.take()?;
        handle.thread().unpark();
        handle.join().ok().flatten()
    }
}

impl Drop for PssSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Some(h) = &self.handle {
            h.thread().unpark();
        }
    }
}

/// Samples process `pid` (`/proc/PID/smaps_rollup` and `status`); None when it
/// has exited, is a zombie, or the kernel lacks smaps_rollup (Linux < 4.14).
pub fn proc_memory(pid: u32) -> Option<ProcMemory> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcMemory {
        pss: kib_field(&rollup, "Pss:")? * 1024,
        rss: kib_field(&rollup, "Rss:")? * 1024,
        hwm: kib_field(&status, "VmHWM:")? * 1024,
    })
}

/// How a child ended, from wait4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// Blocks until child `pid` ends and returns how, with its rusage. Call it
/// only for a child that is ending or was killed (the models bound every wait
/// by killing the child first when a deadline passes).
pub fn reap(pid: u32) -> std::io::Result<(Exit, Usage)> {
    // SAFETY: wait4 writes the status and the rusage we pass.
    unsafe {
        let mut status = 0;
        let mut ru: libc::rusage = std::mem::zeroed();
        loop {
            let r = libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru);
            if r == pid as libc::pid_t {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        let exit = if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        };
        Ok((exit, Usage::from_rusage(&ru)))
    }
}

/// Ties a child about to be spawned to the harness: `PR_SET_PDEATHSIG`
/// kills it when the spawning thread ends (spawn from a long-lived thread),
/// and with `own_group` it leads a process group of its own, so that a
/// timeout can kill it and everything it started at once (`kill(-pid)`).
/// Every child the harness starts goes through here, or arms the same signal
/// itself with `die_with_parent` (the process models' workers), so that none
/// outlives it and each is reaped by `reap`.
pub fn die_with_harness(cmd: &mut std::process::Command, own_group: bool) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setpgid and prctl are async-signal-safe, which is all
    // pre_exec may call between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if own_group && libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The child's half of `die_with_harness`, for a child started without a
/// `pre_exec` hook (std then starts it with posix_spawn, a vfork that shares
/// the harness's memory instead of copying its page tables; with the hook it
/// forks). The child calls it first thing: `PR_SET_PDEATHSIG` ties it to the
/// thread that spawned it, and if its parent is no longer `parent` (the
/// harness died before the signal was armed) it must exit at once: Err.
pub fn die_with_parent(parent: u32) -> std::io::Result<()> {
    // SAFETY: prctl with these arguments and getppid only set and read this
    // process's own attributes.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() as u32 != parent {
            return Err(std::io::Error::other(format!(
                "parent {parent} is gone: not starting"
            )));
        }
    }
    Ok(())
}

/// Resets the harness's peak RSS (VmHWM) to its current RSS, so each
/// repetition reads its own peak. Linux >= 4.0; a no-op where refused.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The harness's peak RSS since the last reset, in bytes.
pub fn peak_rss() -> u64 {
    status_kib("VmHWM:").map_or_else(|| self_usage().max_rss_bytes, |kib| kib * 1024)
}

/// The harness's current RSS, in bytes.
pub fn current_rss() -> u64 {
    status_kib("VmRSS:").map_or(0, |kib| kib * 1024)
}

fn status_kib(key: &str) -> Option<u64> {
    kib_field(&std::fs::read_to_string("/proc/self/status").ok()?, key)
}

/// The value of a `Key:   123 kB` line of a /proc file, in KiB.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// A latency histogram in microseconds, 3 significant digits, up to an hour.
pub struct Latencies(hdrhistogram::Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Latencies(
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
        )
    }
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 3_600_000_000);
        self.0.saturating_record(us);
    }

    /// p50, p90, p99 and max in milliseconds, or None when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1e3;
        Some(Percentiles {
            p50: ms(self.0.value_at_quantile(0.50)),
            p90: ms(self.0.value_at_quantile(0.90)),
            p99: ms(self.0.value_at_quantile(0.99)),
            max: ms(self.0.max()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_usage_grows_with_work() {
        // Busy until 10 ms of CPU show, for at most 5 s of wall time: on a
        // loaded machine 30 ms of wall time gave less than 10 ms of CPU.
        let before = self_usage();
        let mut x = 1u64;
        let start = std::time::Instant::now();
        let mut d = Usage::default();
        while start.elapsed() < Duration::from_secs(5) && d.user + d.sys < Duration::from_millis(10)
        {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
            }
            d = self_usage().since(&before);
        }
        assert!(d.user + d.sys >= Duration::from_millis(10), "{d:?}");
    }

    #[test]
    fn concurrent_peak_sums_the_largest() {
        let mut c = ChildUsage::default();
        for rss in [5, 1, 9, 3] {
            c.add(&Usage {
                max_rss_bytes: rss,
                ..Usage::default()
            });
        }
        assert_eq!(c.concurrent_peak(2), 14);
        assert_eq!(c.concurrent_peak(10), 18);
    }

    #[test]
    fn reap_reports_exit_and_usage() {
        // Reaped by `reap` (wait4) below, not by std's wait.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let (exit, usage) = reap(child.id()).unwrap();
        assert_eq!(exit, Exit::Code(3));
        assert!(usage.max_rss_bytes > 0);
    }

    #[test]
    fn latency_percentiles_are_ordered() {
        let mut l = Latencies::default();
        assert!(l.percentiles().is_none());
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.percentiles().unwrap();
        assert!(
            (p.p50 - 50.0).abs() < 1.0 && (p.p99 - 99.0).abs() < 1.0,
            "{p:?}"
        );
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.max);
    }

    #[test]
    fn concurrent_peak_pss_needs_every_child_sampled() {
        let mut c = ChildUsage::default();
        assert_eq!(c.concurrent_peak_pss(2), None);
        for pss in [Some(5), Some(9), Some(3)] {
            c.add(&Usage {
                peak_pss_bytes: pss,
                ..Usage::default()
            });
        }
        assert_eq!(c.concurrent_peak_pss(2), Some(14));
        c.add(&Usage::default());
        assert_eq!(c.concurrent_peak_pss(2), None);
    }

    #[test]
    fn proc_memory_of_self_and_its_peak() {
        let m = proc_memory(std::process::id()).expect("smaps_rollup is readable");
        assert!(m.pss > 0 && m.pss <= m.rss && m.rss <= m.hwm, "{m:?}");
        assert!(m.peak_pss() >= m.pss);
        let freed = ProcMemory {
            pss: 10,
            rss: 20,
            hwm: 50,
        };
        assert_eq!(freed.peak_pss(), 40);
        assert_eq!(proc_memory(u32::MAX / 2), None);
    }

    #[test]
    fn sampler_sees_a_live_process() {
        let me = std::process::id();
        let sampler = PssSampler::start(move || vec![me]);
        std::thread::sleep(Duration::from_millis(10));
        let peak = sampler.finish().expect("our own PSS is readable");
        assert!(peak > 0);
        assert_eq!(PssSampler::start(Vec::new).finish(), None);
    }

    #[test]
    fn peak_rss_is_readable() {
        reset_peak_rss();
        assert!(peak_rss() > 0 && current_rss() > 0);
    }
}
