//! What the machine was doing around a run, as pyperf and hyperfine record
//! it: CPU frequency and governor, turbo and SMT (sysfs, where readable),
//! the load average and the other busy processes (sysinfo), how the harness
//! was built (`build.rs`) and whether the git tree was dirty. The runner
//! takes a snapshot at the start and at the end of a run; `report::noise`
//! judges them. Anything unreadable is recorded as unknown, never an error.

use crate::results::{BuildInfo, BusyProcess, Environment, Snapshot};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

/// At most this many busy processes are recorded per snapshot.
const BUSY_PROCESSES: usize = 5;
/// A process counts as busy from this share of one core (percent).
const BUSY_CPU_PERCENT: f64 = 5.0;
/// `git status` gets this long; a slower one leaves the tree's state unknown.
const GIT_DEADLINE: Duration = Duration::from_secs(3);

impl Environment {
    /// The build and a snapshot of the machine, before the run does anything.
    pub fn at_start() -> Environment {
        Environment {
            build: build_info(),
            start: Some(snapshot()),
            end: None,
        }
    }

    /// Adds the snapshot at the end of the run.
    pub fn finish(&mut self) {
        self.end = Some(snapshot());
    }
}

/// How this binary was built, and the state of the git tree it runs in.
pub fn build_info() -> BuildInfo {
    let known = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    BuildInfo {
        rustc: known(env!("PARABENCH_RUSTC_VERSION")),
        profile: known(env!("PARABENCH_PROFILE")),
        git_dirty: git_dirty(),
    }
}

/// The machine now. Takes about 200 ms: CPU use of other processes is a
/// difference between two readings.
pub fn snapshot() -> Snapshot {
    let cpus = Path::new("/sys/devices/system/cpu");
    Snapshot {
        at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        load_average: System::load_average()
            .ok()
            .map(|l| [l.one, l.five, l.fifteen]),
        cpu_mhz: cpu_mhz(cpus),
        governor: read_trimmed(&cpus.join("cpu0/cpufreq/scaling_governor")),
        turbo: turbo(cpus),
        smt: read_trimmed(&cpus.join("smt/active")).and_then(|s| flag(&s)),
        busy_processes: busy_processes(),
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn flag(text: &str) -> Option<bool> {
    match text {
        "1" | "on" => Some(true),
        "0" | "off" => Some(false),
        _ => None,
    }
}

/// intel_pstate says whether turbo is off; acpi-cpufreq and amd-pstate
/// whether boost is on.
fn turbo(cpus: &Path) -> Option<bool> {
    if let Some(no_turbo) = read_trimmed(&cpus.join("intel_pstate/no_turbo")) {
        return flag(&no_turbo).map(|off| !off);
    }
    read_trimmed(&cpus.join("cpufreq/boost")).and_then(|s| flag(&s))
}

/// Each logical CPU's current frequency: cpufreq's `scaling_cur_freq` (kHz)
/// where the kernel has it, else the `cpu MHz` lines of /proc/cpuinfo (VMs).
fn cpu_mhz(cpus: &Path) -> Vec<f64> {
    let from_sysfs: Vec<f64> = (0..crate::model::num_cpus())
        .map_while(|idx| {
            let path = cpus.join(format!("cpu{idx}/cpufreq/scaling_cur_freq"));
            read_trimmed(&path)?
                .parse::<f64>()
                .ok()
                .map(|khz| khz / 1000.0)
        })
        .collect();
    if !from_sysfs.is_empty() {
        return from_sysfs;
    }
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|text| parse_cpuinfo_mhz(&text))
        .unwrap_or_default()
}

fn parse_cpuinfo_mhz(cpuinfo: &str) -> Vec<f64> {
    cpuinfo
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "cpu MHz").then(|| value.trim().parse().ok())?
        })
        .collect()
}

/// The busiest processes other than this one and its children, by CPU use
/// over sysinfo's minimum sampling interval.
fn busy_processes() -> Vec<BusyProcess> {
    let Ok(mut sys) = System::new() else {
        return Vec::new();
    };
    let kind = ProcessRefreshKind::nothing().with_cpu().without_tasks();
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let me = sysinfo::Pid::from_u32(std::process::id());
    let mut busy: Vec<BusyProcess> = sys
        .processes()
        .values()
        .filter(|p| p.pid() != me && p.parent() != Some(me) && p.thread_kind().is_none())
        .map(|p| BusyProcess {
            pid: p.pid().as_u32(),
            name: p.name().to_string_lossy().into_owned(),
            // One decimal is all a 200 ms window can tell.
            cpu_percent: (f64::from(p.cpu_usage()) * 10.0).round() / 10.0,
        })
        .filter(|p| p.cpu_percent >= BUSY_CPU_PERCENT)
        .collect();
    busy.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
    busy.truncate(BUSY_PROCESSES);
    busy
}

/// Whether tracked files in the git tree of the current directory differ
/// from its HEAD (a linked worktree counts as its own tree). `None` when git
/// is absent, this is no repository, or git takes too long.
fn git_dirty() -> Option<bool> {
    let out = run_with_deadline(
        Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            // A read-only question: do not refresh the index under another git.
            .env("GIT_OPTIONAL_LOCKS", "0"),
        GIT_DEADLINE,
    )?;
    Some(!out.trim().is_empty())
}

/// Runs `cmd` and returns its stdout when it succeeds before `deadline`;
/// kills and reaps it otherwise.
fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Read on a thread, so that a long output cannot fill the pipe and stall
    // the child while this thread waits for it.
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).ok().map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = reader.join().ok().flatten();
    status.filter(|s| s.success()).and(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_gives_one_frequency_per_cpu() {
        let text = "processor\t: 0\ncpu MHz\t\t: 2445.406\nflags\t: fpu\n\nprocessor\t: 1\ncpu MHz\t\t: 1200\n";
        assert_eq!(parse_cpuinfo_mhz(text), vec![2445.406, 1200.0]);
        assert!(parse_cpuinfo_mhz("model name: x\n").is_empty());
    }

    #[test]
    fn flags_read_sysfs_spellings() {
        assert_eq!(flag("1"), Some(true));
        assert_eq!(flag("off"), Some(false));
        assert_eq!(flag("notsupported"), None);
    }

    #[test]
    fn a_snapshot_describes_this_machine() {
        let env = Environment::at_start();
        let start = env.start.unwrap();
        assert!(start.load_average.is_some());
        assert!(start.busy_processes.len() <= BUSY_PROCESSES);
        assert_eq!(
            env.build.profile.as_deref(),
            Some(if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            })
        );
        assert!(env.build.rustc.unwrap().starts_with("rustc "));
    }

    #[test]
    fn a_missing_program_is_unknown_not_an_error() {
        let mut cmd = Command::new("/nonexistent/parabench-no-such-git");
        assert_eq!(run_with_deadline(&mut cmd, GIT_DEADLINE), None);
        let mut slow = Command::new("sleep");
        slow.arg("5");
        let started = Instant::now();
        assert_eq!(
            run_with_deadline(&mut slow, Duration::from_millis(100)),
            None
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
