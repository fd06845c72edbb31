//! What /proc says about a process or thread: its state, parent and process
//! group (`/proc/PID/stat`), its thread count (`/proc/PID/status`), its
//! environment (`/proc/PID/environ`), and the scan for what a scenario left
//! behind. The parsers are pure functions of the text.

/// The fields of `/proc/PID/stat` the lifecycle reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// The command name, up to 15 bytes; it may hold spaces and parentheses.
    pub comm: String,
    /// `R` running, `S` sleeping, `D` in IO, `Z` zombie, `T` stopped, ...
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
}

impl ProcStat {
    /// Parses `pid (comm) state ppid pgrp ...`. The command name runs from
    /// the first `(` to the *last* `)`, since it may contain both.
    pub fn parse(text: &str) -> Option<ProcStat> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        if close < open {
            return None;
        }
        let pid = text[..open].trim().parse().ok()?;
        let comm = text[open + 1..close].to_owned();
        let mut rest = text[close + 1..].split_ascii_whitespace();
        let mut state_field = rest.next()?.chars();
        let state = state_field.next()?;
        if state_field.next().is_some() {
            return None;
        }
        let ppid = rest.next()?.parse().ok()?;
        let pgrp = rest.next()?.parse().ok()?;
        Some(ProcStat {
            pid,
            comm,
            state,
            ppid,
            pgrp,
        })
    }

    /// Process `pid` now; None when it is gone (or /proc cannot be read).
    pub fn read(pid: u32) -> Option<ProcStat> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Thread `tid` of process `pid` now; None when it is gone.
    pub fn read_task(pid: u32, tid: u32) -> Option<ProcStat> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?)
    }

    /// Alive as Python's `is_alive()` means it: started and not yet exited.
    /// A zombie has exited: it is only an entry left for its parent to read.
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// The `Threads:` count of a `/proc/PID/status` text.
pub fn parse_threads(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// How many threads this process has now.
pub fn own_threads() -> Option<u32> {
    parse_threads(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Where process `pid` sleeps in the kernel (`/proc/PID/wchan`: a
/// function name such as `pipe_write`), where the kernel shows it (some
/// hide it and give `0`).
pub fn wchan(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?;
    let text = text.trim();
    (!text.is_empty() && text != "0").then(|| text.to_owned())
}

/// The thread ids of process `pid` (`/proc/PID/task`), sorted.
pub fn tasks_of(pid: u32) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// The processes whose parent is `ppid` now.
pub fn children_of(ppid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| ProcStat::read(pid).is_some_and(|s| s.ppid == ppid))
        .collect()
}

/// Whether a NUL-separated environment block holds `entry` (`KEY=value`).
pub fn environ_has(environ: &[u8], entry: &str) -> bool {
    environ.split(|&b| b == 0).any(|e| e == entry.as_bytes())
}

/// What a scenario left behind: zombies (whose parent is the harness, or
/// which belong to the scenario) and other processes of the scenario still
/// there. A process belongs to the scenario when it is in the demo's process
/// group or carries its marker in its environment (a zombie's environment
/// is gone, so the group is what finds it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    pub zombies: Vec<u32>,
    pub strays: Vec<u32>,
}

/// Scans /proc for what the scenario whose demo led process group `group`
/// and carried `marker` left behind, as seen by harness `harness`.
pub fn leftovers(harness: u32, group: u32, marker: &str) -> Leftovers {
    let mut out = Leftovers::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == harness {
            continue;
        }
        let Some(stat) = ProcStat::read(pid) else {
            continue;
        };
        let belongs = stat.pgrp == group
            || std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ_has(&environ, marker));
        if stat.state == 'Z' && (stat.ppid == harness || belongs) {
            out.zombies.push(pid);
        } else if belongs {
            out.strays.push(pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_hostile_command_names() {
        let plain = "4242 (parabench) S 4200 4242 4200 0 -1 4194560 123 0 0 0 1 2 0 0 20 0 1 0";
        assert_eq!(
            ProcStat::parse(plain),
            Some(ProcStat {
                pid: 4242,
                comm: "parabench".into(),
                state: 'S',
                ppid: 4200,
                pgrp: 4242,
            })
        );
        // A name may hold spaces and parentheses: it ends at the last `)`.
        let odd = ProcStat::parse("7 (a) Z (b) c) Z 1 7 7 0").unwrap();
        assert_eq!(
            (odd.comm.as_str(), odd.state, odd.ppid),
            ("a) Z (b) c", 'Z', 1)
        );
        assert!(!odd.is_alive());
        // The kernel's own threads have parent 0.
        let kthread = ProcStat::parse("2 (kthreadd) S 0 0 0 0").unwrap();
        assert!(kthread.is_alive() && kthread.ppid == 0);
        for bad in [
            "",
            "12 parabench S 1 1",
            "12 (x) S",
            "12 (x) S one 1",
            "x (y) S 1 1",
            "12 (x) SS 1 1",
            ") 12 ( S 1 1",
        ] {
            assert_eq!(ProcStat::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn own_stat_and_threads_are_read() {
        let me = ProcStat::read(std::process::id()).expect("our own stat");
        assert_eq!(me.pid, std::process::id());
        assert!(me.is_alive(), "{me:?}");
        assert!(own_threads().is_some_and(|n| n >= 1));
        assert!(tasks_of(std::process::id()).contains(&std::process::id()));
        assert_eq!(ProcStat::read(u32::MAX / 2), None);
    }

    #[test]
    fn thread_counts_and_environments_parse() {
        let status = "Name:\tparabench\nState:\tS (sleeping)\nThreads:\t3\nVmRSS:\t1 kB\n";
        assert_eq!(parse_threads(status), Some(3));
        assert_eq!(parse_threads("Name:\tx\n"), None);
        assert_eq!(parse_threads("Threads:\tmany\n"), None);
        let env = b"PATH=/bin\0PARABENCH_LIFECYCLE=12-0\0HOME=/root\0";
        assert!(environ_has(env, "PARABENCH_LIFECYCLE=12-0"));
        assert!(!environ_has(env, "PARABENCH_LIFECYCLE=12-1"));
        assert!(!environ_has(env, "PARABENCH_LIFECYCLE=12"));
        assert!(!environ_has(b"", "A=1"));
    }
}
