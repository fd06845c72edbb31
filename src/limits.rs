//! Checks a plan against the machine's limits before anything is spawned:
//! processes and threads (RLIMIT_NPROC, threads-max, pid_max), file
//! descriptors (RLIMIT_NOFILE, raised to its hard limit first) and memory.
//! A plan that would exhaust one is refused with the case and the limit named.

use crate::model::ModelKind;
use crate::plan::{CasePlan, Plan};

/// The largest case of a plan, in what it asks of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    pub what: String,
    pub threads: usize,
    pub processes: usize,
    pub fds: usize,
    /// Bytes of `touch_kib` held at once, and of `parent_mib`.
    pub touched: u64,
    /// Bytes of io-file files on disk at once (each is also held in memory
    /// twice, written and read back).
    pub file_bytes: u64,
}

/// What the machine allows; `None` where unknown or unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub nproc: Option<u64>,
    pub threads_max: Option<u64>,
    pub pid_max: Option<u64>,
    pub nofile: Option<u64>,
    pub available_memory: u64,
    pub harness_rss: u64,
    /// Free bytes where io-file tasks write (the temporary directory).
    pub free_disk: Option<u64>,
}

/// What each case of the plan asks of the machine.
fn demands(plan: &Plan) -> Vec<Demand> {
    let mut out = Vec::new();
    for p in &plan.points {
        let (tasks, shape) = (p.point.tasks, &p.point.shape);
        for &CasePlan { model: m, workers } in &p.cases {
            let live = workers.min(tasks);
            let processes = if m.kind.uses_processes() { live } else { 0 };
            // Client and server ends of every socket in flight.
            let sockets = match shape.socket {
                Some(_) if m.kind == ModelKind::Sequential => 2,
                Some(_) => 2 * live,
                None => 0,
            };
            out.push(Demand {
                what: format!(
                    "scenario `{}`, model {m}, {workers} workers, {tasks} tasks",
                    p.scenario
                ),
                // A thread per timer (`thread` at a timer point) or the
                // scheduler's one.
                threads: m.kind.threads_needed(workers, tasks)
                    + shape
                        .timer
                        .map_or(0, |t| crate::plan::wake::timer_threads(m, t.timers)),
                processes,
                // Three pipes per child, sockets, and a margin for files.
                fds: 3 * processes + sockets + 64,
                // `touch_kib` held by every task alive, and the parent's
                // `parent_mib` (its fork children share it copy-on-write).
                touched: live as u64 * shape.touch_kib * 1024
                    + if m.kind.uses_processes() {
                        p.point.parent_mib << 20
                    } else {
                        0
                    },
                file_bytes: live as u64 * shape.file_kib.unwrap_or(0) * 1024,
            });
        }
    }
    out.extend(io_models_demands(plan));
    out
}

/// An io-models scenario's largest client: a descriptor per connection in
/// the client process (and as many in the server's), and for the blocking
/// model a thread per connection.
fn io_models_demands(plan: &Plan) -> Vec<Demand> {
    use crate::workload::io_models::CLIENT_RESERVED_FDS;
    let mut out = Vec::new();
    for s in &plan.scenarios {
        if s.workload != crate::spec::WorkloadKind::IoModels {
            continue;
        }
        let c = s.io_models.connections.iter().copied().max().unwrap_or(0);
        for m in &s.io_models.models {
            out.push(Demand {
                what: format!(
                    "scenario `{}`, io model {}, {c} connections (`connections`)",
                    s.name,
                    m.id()
                ),
                threads: m.threads(c) + 1,
                processes: 2,
                fds: c + CLIENT_RESERVED_FDS,
                touched: 0,
                file_bytes: 0,
            });
        }
    }
    out
}

pub fn current() -> Limits {
    raise_nofile();
    let rlimit = |res| {
        // SAFETY: getrlimit writes only the struct we pass.
        unsafe {
            let mut r: libc::rlimit = std::mem::zeroed();
            (libc::getrlimit(res, &mut r) == 0 && r.rlim_cur != libc::RLIM_INFINITY)
                .then_some(r.rlim_cur)
        }
    };
    let proc_num = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    Limits {
        nproc: rlimit(libc::RLIMIT_NPROC),
        threads_max: proc_num("/proc/sys/kernel/threads-max"),
        pid_max: proc_num("/proc/sys/kernel/pid_max"),
        nofile: rlimit(libc::RLIMIT_NOFILE),
        available_memory: crate::machine::available_memory(),
        harness_rss: crate::measure::current_rss(),
        free_disk: free_disk(&std::env::temp_dir()),
    }
}

/// Free bytes for an unprivileged user on the file system holding `dir`.
fn free_disk(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes only the struct we pass; `path` is NUL-terminated.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(path.as_ptr(), &mut st) == 0)
            .then(|| st.f_bavail as u64 * st.f_frsize as u64)
    }
}

/// Raises the soft limit on open files to the hard one: io-socket cases with
/// many tasks in flight need two descriptors per task.
pub fn raise_nofile() {
    // SAFETY: get/setrlimit only read and write the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Refuses the plan if one of its cases would pass a limit. Threads and
/// processes may use at most half of what the limits leave, since the rest of
/// the machine needs them too; each worker process is assumed to need as much
/// memory as the harness has now, each thread 256 KiB, each task alive its
/// `touch_kib`.
pub fn check(plan: &Plan, limits: &Limits) -> Result<(), String> {
    let half = |l: Option<u64>| l.map(|v| (v / 2) as usize);
    for d in demands(plan) {
        let tasks = d.threads + d.processes;
        for (name, limit, raise) in [
            (
                "`ulimit -u` (RLIMIT_NPROC)",
                half(limits.nproc),
                "`ulimit -u N`",
            ),
            (
                "/proc/sys/kernel/threads-max",
                half(limits.threads_max),
                "`sysctl -w kernel.threads-max=N` as root",
            ),
            (
                "/proc/sys/kernel/pid_max",
                half(limits.pid_max),
                "`sysctl -w kernel.pid_max=N` as root",
            ),
        ] {
            if let Some(limit) = limit
                && tasks > limit
            {
                return Err(format!(
                    "{} needs {tasks} threads and processes, more than half of {name} ({}) allows; \
                     lower `workers` (io-models: `connections`), or raise the limit with {raise} to at least {}",
                    d.what,
                    limit * 2,
                    2 * tasks
                ));
            }
        }
        if let Some(nofile) = limits.nofile
            && d.fds as u64 > nofile
        {
            return Err(format!(
                "{} needs about {} file descriptors, more than `ulimit -n` ({nofile}, already raised to its hard limit); lower `workers` (io-models: `connections`), or raise the hard limit (`ulimit -Hn N` as root, or `nofile` in /etc/security/limits.conf)",
                d.what, d.fds
            ));
        }
        if let Some(free) = limits.free_disk
            && d.file_bytes > free / 2
        {
            return Err(format!(
                "{} writes about {} MiB of files at once, more than half of the {} MiB free in {}; lower `file_kib` or `workers`",
                d.what,
                d.file_bytes >> 20,
                free >> 20,
                std::env::temp_dir().display()
            ));
        }
        let memory = d.processes as u64 * limits.harness_rss
            + d.threads as u64 * 256 * 1024
            + d.touched
            + 2 * d.file_bytes;
        if limits.available_memory > 0 && memory > limits.available_memory / 2 {
            return Err(format!(
                "{} needs about {} MiB, more than half of the {} MiB available; lower `workers` (or `touch_kib`, `file_kib`, `parent_mib`)",
                d.what,
                memory >> 20,
                limits.available_memory >> 20
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanOptions;
    use crate::spec::WorkloadKind;

    fn plan(workers: usize) -> Plan {
        let args = PlanOptions {
            workload: Some(WorkloadKind::IoSleep),
            workers: vec![workers],
            tasks: vec![workers],
            ..PlanOptions::default()
        };
        crate::plan::build(&[], &args).unwrap()
    }

    fn roomy() -> Limits {
        Limits {
            nproc: Some(100_000),
            threads_max: Some(100_000),
            pid_max: Some(100_000),
            nofile: Some(100_000),
            available_memory: 64 << 30,
            harness_rss: 8 << 20,
            free_disk: Some(100 << 30),
        }
    }

    #[test]
    fn a_thread_per_timer_counts_its_timers_against_the_thread_limits() {
        let suite = |models: &str| {
            let sources = vec![crate::plan::Source {
                name: "suite.toml".into(),
                text: format!(
                    "[[scenario]]\nname = \"t\"\nworkload = \"timer\"\ntimers = 10000\nmodels = [{models}]\n"
                ),
            }];
            crate::plan::build(&sources, &PlanOptions::default()).unwrap()
        };
        let limits = Limits {
            threads_max: Some(12_000),
            ..roomy()
        };
        let err = check(&suite("\"thread\""), &limits).unwrap_err();
        assert!(err.contains("threads-max"), "{err}");
        // One scheduler thread, or tokio's workers, fit.
        assert_eq!(check(&suite("\"thread-pool\", \"async\""), &limits), Ok(()));
    }

    #[test]
    fn io_models_connections_are_checked_against_nofile_and_threads() {
        let io = |connections: &str| {
            let text = format!(
                "[[scenario]]\nname = \"io\"\nworkload = \"io-models\"\nconnections = {connections}\n"
            );
            let src = [crate::plan::Source {
                name: "s.toml".into(),
                text,
            }];
            crate::plan::build(&src, &PlanOptions::default()).unwrap()
        };
        let limits = Limits {
            nofile: Some(20_000),
            ..roomy()
        };
        assert_eq!(check(&io("[1, 10000]"), &limits), Ok(()));
        let err = check(&io("[1, 30000]"), &limits).unwrap_err();
        assert!(
            err.contains("30000 connections")
                && err.contains("`ulimit -n` (20000")
                && err.contains("`connections`"),
            "{err}"
        );
        // The blocking model's thread per connection.
        let few_threads = Limits {
            threads_max: Some(5_000),
            ..roomy()
        };
        let err = check(&io("[1, 10000]"), &few_threads).unwrap_err();
        assert!(err.contains("io model blocking"), "{err}");
    }

    #[test]
    fn a_modest_plan_passes() {
        assert_eq!(check(&plan(64), &roomy()), Ok(()));
    }

    #[test]
    fn too_many_processes_are_refused_with_the_limit_named() {
        let limits = Limits {
            nproc: Some(100),
            ..roomy()
        };
        let err = check(&plan(64), &limits).unwrap_err();
        assert!(
            err.contains("ulimit -u") && err.contains("64 workers"),
            "{err}"
        );
    }

    #[test]
    fn io_files_larger_than_the_free_disk_are_refused() {
        let args = PlanOptions {
            workload: Some(WorkloadKind::IoFile),
            workers: vec![8],
            tasks: vec![8],
            file_kib: Some(1 << 20),
            ..PlanOptions::default()
        };
        let plan = crate::plan::build(&[], &args).unwrap();
        let limits = Limits {
            free_disk: Some(4 << 30),
            ..roomy()
        };
        let err = check(&plan, &limits).unwrap_err();
        assert!(err.contains("file_kib") && err.contains("free"), "{err}");
        assert_eq!(check(&plan, &roomy()), Ok(()));
    }

    #[test]
    fn memory_is_checked() {
        let limits = Limits {
            available_memory: 100 << 20,
            ..roomy()
        };
        let err = check(&plan(64), &limits).unwrap_err();
        assert!(err.contains("MiB"), "{err}");
    }
}
