//! The documented range of every numeric key and flag, and the least time a
//! case can take, checked in `plan` before anything runs. A value outside
//! its range, or a case that cannot finish within the case timeout, is
//! refused with the key, the value, the limit and the reason. What depends
//! on the machine (threads, processes, descriptors, memory, disk) is
//! checked next, in `limits`. Pure: no clock, no file.

use super::{Point, PointPlan, Scenario};
use crate::model::ModelId;

/// The range of one key, as README.md's "Limits" table documents it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub key: &'static str,
    /// The flag that sets it on the command line, if one does.
    pub flag: Option<&'static str>,
    pub min: f64,
    pub max: f64,
    pub why: &'static str,
}

/// Every numeric key a suite file or a flag can set. The README table is
/// checked against this list by a test, so the two cannot drift apart.
pub const BOUNDS: &[Bound] = &[
    Bound {
        key: "workers",
        flag: Some("--workers"),
        min: 1.0,
        max: 1_000_000.0,
        why: "each worker is a thread, a process or a task; the machine's own limits are checked next",
    },
    Bound {
        key: "tasks",
        flag: Some("--tasks"),
        min: 1.0,
        max: 1_000_000.0,
        why: "every task of every repetition is kept in memory until its point is summarised",
    },
    Bound {
        key: "cpu_threads",
        flag: Some("--cpu-threads"),
        min: 0.0,
        max: 1_024.0,
        why: "each is a worker spinning beside the convoy's probe",
    },
    Bound {
        key: "task_ms",
        flag: Some("--task-ms"),
        min: 0.001,
        max: 3_600_000.0,
        why: "below 1 µs a task is shorter than one timer reading; above an hour no case timeout allows it",
    },
    Bound {
        key: "cpu_fraction",
        flag: Some("--cpu-fraction"),
        min: 0.0,
        max: 1.0,
        why: "the share of a mixed task spent computing",
    },
    Bound {
        key: "server_delay_ms",
        flag: Some("--server-delay-ms"),
        min: 0.0,
        max: 60_000.0,
        why: "the echo server's delay per round trip",
    },
    Bound {
        key: "round_trips",
        flag: Some("--round-trips"),
        min: 1.0,
        max: 10_000_000.0,
        why: "round trips per socket task; their latencies are kept",
    },
    Bound {
        key: "message_bytes",
        flag: None,
        min: 1.0,
        max: 1_048_576.0,
        why: "one message is held in memory at each end of every socket",
    },
    Bound {
        key: "file_kib",
        flag: Some("--file-kib"),
        min: 1.0,
        max: 1_048_576.0,
        why: "every io-file task holds its file in memory twice (written and read back) and on disk once",
    },
    Bound {
        key: "touch_kib",
        flag: Some("--touch-kib"),
        min: 0.0,
        max: 16_777_216.0,
        why: "KiB each task holds while it runs; memory for all tasks alive is checked next",
    },
    Bound {
        key: "parent_mib",
        flag: Some("--parent-mib"),
        min: 0.0,
        max: 16_384.0,
        why: "MiB the parent program holds, every page written, while the process models start workers; memory is checked next",
    },
    Bound {
        key: "switch_interval_us",
        flag: None,
        min: 1.0,
        max: 10_000_000.0,
        why: "sys.setswitchinterval in microseconds: 1 µs to 10 s",
    },
    Bound {
        key: "check_interval",
        flag: None,
        min: 1.0,
        max: 1_000_000_000.0,
        why: "ticks between forced releases of the legacy GIL",
    },
    Bound {
        key: "depth",
        flag: None,
        min: 1.0,
        max: 64.0,
        why: "times an rlock is taken, nested, per critical section",
    },
    Bound {
        key: "permits",
        flag: None,
        min: 1.0,
        max: 1_024.0,
        why: "units a semaphore lets in at once; 0 would let none in",
    },
    Bound {
        key: "sections",
        flag: None,
        min: 1.0,
        max: 10_000_000.0,
        why: "critical sections per unit",
    },
    Bound {
        key: "hold_us",
        flag: None,
        min: 0.0,
        max: 1_000_000.0,
        why: "work inside the lock per section, in µs: a second at most",
    },
    Bound {
        key: "outside_us",
        flag: None,
        min: 0.0,
        max: 1_000_000.0,
        why: "work outside the lock per section, in µs: a second at most",
    },
    Bound {
        key: "producers",
        flag: None,
        min: 1.0,
        max: 1_024.0,
        why: "units putting items into the queue",
    },
    Bound {
        key: "consumers",
        flag: None,
        min: 1.0,
        max: 1_024.0,
        why: "units getting items from the queue",
    },
    Bound {
        key: "capacity",
        flag: None,
        min: 1.0,
        max: 1_000_000.0,
        why: "items the queue holds at most; 0 would hold none (Python's 0 means unbounded)",
    },
    Bound {
        key: "item_bytes",
        flag: None,
        min: 0.0,
        max: 16_777_216.0,
        why: "payload bytes per item",
    },
    Bound {
        key: "items",
        flag: None,
        min: 1.0,
        max: 100_000_000.0,
        why: "items through the queue per batch",
    },
    Bound {
        key: "rounds",
        flag: None,
        min: 1.0,
        max: 100_000.0,
        why: "times an event is set per batch; each waiter keeps a histogram, not every wake-up",
    },
    Bound {
        key: "timers",
        flag: None,
        min: 1.0,
        max: 10_000.0,
        why: "timers armed per batch; a thread per timer is checked against the thread limits next",
    },
    Bound {
        key: "delay_ms",
        flag: None,
        min: 0.1,
        max: 60_000.0,
        why: "each timer's delay; a minute at most",
    },
    Bound {
        key: "metg_efficiency",
        flag: None,
        min: 0.01,
        max: 1.0,
        why: "the efficiency (ideal over measured time) below which a task duration is too small",
    },
    Bound {
        key: "metg_min_us",
        flag: None,
        min: 1.0,
        max: 3_600_000_000.0,
        why: "the shortest task duration a granularity search tries; 1 µs is one timer reading",
    },
    Bound {
        key: "metg_step",
        flag: None,
        min: 1.5,
        max: 100.0,
        why: "the factor between two durations of the downward sweep",
    },
    Bound {
        key: "metg_bisections",
        flag: None,
        min: 0.0,
        max: 20.0,
        why: "bisections of the bracket; 20 narrow it a millionfold",
    },
    Bound {
        key: "metg_budget_s",
        flag: None,
        min: 0.1,
        max: 3_600.0,
        why: "seconds one search (one model, one task kind) may take before it stops with its bracket",
    },
    Bound {
        key: "repetitions",
        flag: Some("--repetitions"),
        min: 1.0,
        max: 10_000.0,
        why: "measured repetitions of every case",
    },
    Bound {
        key: "max_repetitions",
        flag: Some("--max-repetitions"),
        min: 1.0,
        max: 10_000.0,
        why: "repetitions while a verdict is undecided",
    },
    Bound {
        key: "warmup",
        flag: Some("--warmup"),
        min: 0.0,
        max: 1_000.0,
        why: "unmeasured runs before the first repetition",
    },
    Bound {
        key: "samples",
        flag: Some("--samples"),
        min: 1.0,
        max: 100_000.0,
        why: "timed runs of each OS mechanism of the floor; each mechanism also stops at the case timeout",
    },
    Bound {
        key: "connections",
        flag: None,
        min: 1.0,
        max: 100_000.0,
        why: "concurrent connections of one io-models client; each is a descriptor in the client and one in the server, and RLIMIT_NOFILE is checked next",
    },
    Bound {
        key: "think_ms",
        flag: None,
        min: 0.0,
        max: 60_000.0,
        why: "each io-models connection's pause between a reply and its next request; a minute at most",
    },
    Bound {
        key: "units",
        flag: None,
        min: 2.0,
        max: 4_096.0,
        why: "coroutine memory sweep: units held alive at once, threads among them (pid_max is shared by the machine)",
    },
    Bound {
        key: "timeout_s",
        flag: Some("--timeout"),
        min: 0.001,
        max: 86_400.0,
        why: "seconds one batch of a case may take; a day at most",
    },
    Bound {
        key: "point_budget_s",
        flag: Some("--point-budget"),
        min: 0.0,
        max: 86_400.0,
        why: "seconds a point may spend on extra repetitions; a day at most",
    },
    Bound {
        key: "pythons",
        flag: Some("--python"),
        min: 1.0,
        max: 4.0,
        why: "interpreters in one `python` value; every cpython-* model runs once in each",
    },
];

/// The most cases one run may hold (points × models × worker counts, over
/// all scenarios): beyond it a run would take days even at a second a case.
pub const MAX_CASES: usize = 10_000;

/// Refuses a run whose sweeps multiply into more than [`MAX_CASES`] cases,
/// counted without building them.
pub fn check_size(scenarios: &[Scenario]) -> Result<(), String> {
    let mut total: usize = 0;
    for s in scenarios {
        use crate::spec::WorkloadKind;
        let (per_point_workers, points) = if s.workload == WorkloadKind::Floor {
            (0, 0)
        } else if s.workload == WorkloadKind::Granularity {
            // One search per task kind and model, of a bounded number of
            // batches each (`granularity::max_measurements`).
            (1, s.granularity.tasks.len())
        } else if s.workload == WorkloadKind::Convoy {
            (1, s.cpu_threads.len())
        } else if s.workload == crate::spec::WorkloadKind::Queue {
            (1, 1)
        } else if matches!(s.workload, WorkloadKind::Lock | WorkloadKind::Event) {
            (1, s.workers.len())
        } else if s.workload == WorkloadKind::Timer {
            (1, s.coordination.timers.len())
        } else {
            let sizes = if s.uses_time_size() {
                s.task_ms.len()
            } else {
                1
            };
            (s.workers.len(), s.tasks.len().saturating_mul(sizes))
        };
        let cases = points
            .saturating_mul(per_point_workers)
            .saturating_mul(s.models.len());
        total = total.saturating_add(cases);
        if total > MAX_CASES {
            return Err(format!(
                "scenario `{}` brings the run to more than {MAX_CASES} cases (points × models × worker counts); shorten its sweeps (`workers`, `tasks`, `task_ms`, `cpu_threads`) or `models`, or split the suite",
                s.name
            ));
        }
    }
    Ok(())
}

/// A value the plan refuses, with what the user needs to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfBounds {
    /// The key as a suite file names it (`task_ms`); `plan` turns it into
    /// a flag (`--task-ms`) when the value came from the command line.
    pub key: &'static str,
    pub message: String,
}

/// The bound of `key`.
pub fn bound(key: &str) -> &'static Bound {
    BOUNDS
        .iter()
        .find(|b| b.key == key)
        .unwrap_or_else(|| panic!("no bound for `{key}`: add it to BOUNDS"))
}

/// The flag that sets `key`, or the key itself where no flag does.
pub fn flag_of(key: &'static str) -> &'static str {
    bound(key).flag.unwrap_or(key)
}

/// Checks one value of `key` against its range.
///
/// ```
/// use parabench::plan::bounds::check_value;
/// assert!(check_value("tasks", 64.0).is_ok());
/// let err = check_value("task_ms", f64::NAN).unwrap_err();
/// assert_eq!(err.key, "task_ms");
/// assert!(err.message.contains("0.001 to 3600000"), "{}", err.message);
/// ```
pub fn check_value(key: &'static str, value: f64) -> Result<(), OutOfBounds> {
    let b = bound(key);
    if value.is_finite() && (b.min..=b.max).contains(&value) {
        return Ok(());
    }
    Err(OutOfBounds {
        key,
        message: format!(
            "{} is out of range: give {} to {} ({})",
            fmt_value(value),
            fmt_value(b.min),
            fmt_value(b.max),
            b.why
        ),
    })
}

fn fmt_value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && (v.abs() >= 1e15 || (v != 0.0 && v.abs() < 1e-3)) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Checks every value of a resolved scenario against its range.
pub fn check_ranges(s: &Scenario) -> Result<(), OutOfBounds> {
    let lists: [(&'static str, Vec<f64>); 7] = [
        ("units", s.units.iter().map(|&n| n as f64).collect()),
        ("workers", s.workers.iter().map(|&n| n as f64).collect()),
        (
            "parent_mib",
            s.parent_mib.iter().map(|&n| n as f64).collect(),
        ),
        ("tasks", s.tasks.iter().map(|&n| n as f64).collect()),
        (
            "cpu_threads",
            s.cpu_threads.iter().map(|&n| n as f64).collect(),
        ),
        ("task_ms", s.task_ms.clone()),
        (
            "timers",
            s.coordination.timers.iter().map(|&n| n as f64).collect(),
        ),
    ];
    for (key, values) in lists {
        for v in values {
            check_value(key, v)?;
        }
    }
    for (key, v) in [
        ("cpu_fraction", s.cpu_fraction),
        ("server_delay_ms", s.server_delay_ms),
        ("round_trips", f64::from(s.round_trips)),
        ("message_bytes", f64::from(s.message_bytes)),
        ("file_kib", s.file_kib as f64),
        ("touch_kib", s.touch_kib as f64),
        ("switch_interval_us", s.switch_interval_us),
        ("check_interval", f64::from(s.check_interval)),
        ("repetitions", f64::from(s.repetitions)),
        ("max_repetitions", f64::from(s.max_repetitions)),
        ("warmup", f64::from(s.warmup)),
        ("samples", f64::from(s.samples)),
    ] {
        check_value(key, v)?;
    }
    for (key, v) in s.coordination.values() {
        check_value(key, v)?;
    }
    for (key, v) in s.granularity.values() {
        check_value(key, v)?;
    }
    for (key, v) in super::io_models::values(s) {
        check_value(key, v)?;
    }
    Ok(())
}

/// Refuses a plan with a case that cannot finish one batch within its
/// timeout even with no overhead at all: it would only fail, after the
/// whole timeout, every repetition.
pub fn check_time(points: &[PointPlan]) -> Result<(), OutOfBounds> {
    for p in points {
        let timeout = p.timeout.as_secs_f64();
        for case in &p.cases {
            let least = least_batch_time(&p.point, case.model, case.workers);
            if least > timeout {
                let (key, what) = dominant_key(&p.point);
                return Err(OutOfBounds {
                    key,
                    message: format!(
                        "scenario `{}`: {} with {} workers and {} tasks needs at least {least:.0} s per batch ({what}), more than the case timeout of {} s; lower `{key}` or `tasks`, or raise the timeout (`timeout_s`, --timeout)",
                        p.scenario,
                        case.model,
                        case.workers,
                        p.point.tasks,
                        fmt_value(timeout),
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The key whose value makes a point's tasks long, and how it adds up.
fn dominant_key(point: &Point) -> (&'static str, &'static str) {
    let shape = point.shape;
    if shape.lock.is_some() {
        return (
            "sections",
            "units × sections × hold_us one unit at a time, or one unit's sections",
        );
    }
    match shape.socket {
        Some(sock) if sock.server_delay_ms * f64::from(sock.round_trips) > shape.cpu_ms => (
            "server_delay_ms",
            "round trips × server delay, one task after another per worker",
        ),
        _ => (
            "task_ms",
            "tasks × task_ms, spread over the workers at best",
        ),
    }
}

/// The least wall time, in seconds, one batch of `model` with `workers`
/// can take at `point`: its work spread perfectly over the workers (or
/// serialised, for the models that run one task at a time or hold a GIL).
/// A lower bound on purpose: it refuses only what cannot fit.
pub fn least_batch_time(point: &Point, model: ModelId, workers: usize) -> f64 {
    let shape = point.shape;
    let socket_ms = shape
        .socket
        .map_or(0.0, |s| s.server_delay_ms * f64::from(s.round_trips));
    let tasks = point.tasks as f64;
    if let Some(s) = super::coordination::least_batch_s(point) {
        return s;
    }
    if point.cpu_threads.is_some() {
        // A convoy's CPU tasks run until its probe is done: the probe alone
        // bounds the batch.
        return socket_ms / 1e3;
    }
    use crate::model::ModelKind::*;
    let live = workers.clamp(1, point.tasks.max(1)) as f64;
    let waits_parallel = match model.kind {
        Sequential | CpythonSequential => 1.0,
        _ => live,
    };
    // One thread, or a GIL, lets one task compute at a time.
    // (A `+gil` process model has one GIL per process: it computes in
    // parallel.)
    let one_interpreter = (model.gil && !model.kind.uses_processes())
        || matches!(model.kind, CpythonThread | CpythonThreadPool);
    let serial_compute = matches!(
        model.kind,
        Sequential | AsyncSingle | CpythonSequential | CpythonAsyncio
    ) || (one_interpreter && !shape.releases_gil);
    let cpu_parallel = if serial_compute { 1.0 } else { live };
    let waits = (tasks / waits_parallel).ceil() * (shape.sleep_ms + socket_ms);
    let compute = tasks * shape.cpu_ms / cpu_parallel;
    (compute + waits) / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gil_serialises_threads_but_not_processes() {
        use crate::model::{ModelId, ModelKind};
        use crate::workload::TaskShape;
        let point = Point {
            tasks: 8,
            task_ms: Some(1000.0),
            shape: TaskShape {
                cpu_ms: 1000.0,
                kernel: crate::workload::Kernel::Hash,
                sleep_ms: 0.0,
                socket: None,
                file_kib: None,
                touch_kib: 0,
                releases_gil: false,
                lock: None,
                queue: None,
                event: None,
                timer: None,
            },
            cpu_threads: None,
            parent_mib: 0,
        };
        let secs = |kind, gil| {
            let id = ModelId {
                gil,
                ..ModelId::native(kind)
            };
            least_batch_time(&point, id, 4)
        };
        assert_eq!(secs(ModelKind::Sequential, false), 8.0);
        assert_eq!(secs(ModelKind::Thread, false), 2.0);
        assert_eq!(
            secs(ModelKind::Thread, true),
            8.0,
            "one GIL: one task at a time"
        );
        assert_eq!(secs(ModelKind::ProcessPool, true), 2.0, "a GIL per process");
        assert_eq!(secs(ModelKind::CpythonThread, false), 8.0);
        assert_eq!(secs(ModelKind::CpythonProcessPool, false), 2.0);
    }

    #[test]
    fn every_bound_is_a_proper_range() {
        for b in BOUNDS {
            assert!(b.min <= b.max && b.min >= 0.0, "{b:?}");
        }
    }

    #[test]
    fn values_outside_their_range_are_refused_with_the_limit() {
        for (key, value) in [
            ("tasks", 0.0),
            ("tasks", 1e19),
            ("task_ms", f64::NAN),
            ("task_ms", f64::INFINITY),
            ("task_ms", -1.0),
            ("file_kib", 1e12),
            ("timeout_s", 1e30),
        ] {
            let err = check_value(key, value).unwrap_err();
            assert_eq!(err.key, key);
            assert!(err.message.contains("out of range"), "{}", err.message);
        }
        assert!(check_value("tasks", 8.0).is_ok());
        assert!(check_value("touch_kib", 0.0).is_ok());
    }

    #[test]
    fn the_readme_documents_every_bound() {
        let readme = include_str!("../../README.md");
        for b in BOUNDS {
            let flag = b.flag.map_or("".to_owned(), |f| format!("`{f}`"));
            let row = format!(
                "| `{}` | {} | {} | {flag} |",
                b.key,
                fmt_value(b.min),
                fmt_value(b.max)
            );
            assert!(
                readme.contains(&row),
                "README.md lacks the row `{row}` for `{}`",
                b.key
            );
        }
    }

    mod property {
        use crate::limits::{self, Limits};
        use crate::plan::PlanOptions;
        use crate::spec::WorkloadKind;
        use proptest::prelude::*;

        /// Small, typical, boundary and absurd values alike.
        fn count() -> impl Strategy<Value = usize> {
            prop_oneof![0..64usize, Just(usize::MAX), 1usize..10_000_000]
        }

        fn number() -> impl Strategy<Value = f64> {
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(-1.0),
                Just(0.0),
                Just(1e300),
                0.0001f64..100.0,
                0.0f64..1e9,
            ]
        }

        fn workload() -> impl Strategy<Value = WorkloadKind> {
            proptest::sample::select(WorkloadKind::ALL.to_vec())
        }

        /// A machine like CI's: 24 GiB, 80 GiB of disk, ordinary limits.
        fn machine() -> Limits {
            Limits {
                nproc: Some(95_000),
                threads_max: Some(190_000),
                pid_max: Some(32_768),
                nofile: Some(1_048_576),
                available_memory: 24 << 30,
                harness_rss: 20 << 20,
                free_disk: Some(80 << 30),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Whatever the flags, `plan` refuses or yields a plan whose every
            /// value is in range and every case fits the case timeout; and
            /// the machine check never panics on what `plan` accepted.
            #[test]
            fn plan_refuses_or_fits(
                w in workload(),
                workers in proptest::collection::vec(count(), 1..3),
                tasks in proptest::collection::vec(count(), 1..3),
                task_ms in proptest::collection::vec(number(), 1..3),
                file_kib in proptest::option::of(any::<u64>()),
                touch_kib in proptest::option::of(any::<u64>()),
                round_trips in proptest::option::of(any::<u32>()),
                server_delay_ms in proptest::option::of(number()),
                timeout in proptest::option::of(number()),
                repetitions in proptest::option::of(any::<u32>()),
            ) {
                let args = PlanOptions {
                    workload: Some(w),
                    workers,
                    tasks,
                    task_ms,
                    file_kib,
                    touch_kib,
                    round_trips,
                    server_delay_ms,
                    timeout,
                    repetitions,
                    ..PlanOptions::default()
                };
                let Ok(plan) = crate::plan::build(&[], &args) else {
                    return Ok(());
                };
                for s in &plan.scenarios {
                    prop_assert!(super::check_ranges(s).is_ok());
                }
                for p in &plan.points {
                    for case in &p.cases {
                        let least = super::least_batch_time(&p.point, case.model, case.workers);
                        prop_assert!(least.is_finite() && least <= p.timeout.as_secs_f64());
                    }
                }
                let _ = limits::check(&plan, &machine());
            }
        }
    }
}
