//! Python 2.7 as the reference of the legacy-GIL emulation (`gil =
//! "legacy"`): which requests it can run (`cpython-sequential` and
//! `cpython-thread`, CPU and sleep steps) and a one-shot call of the
//! embedded `python/parabench_runner27.py`, which speaks the Python 3
//! runner's protocol in Python 2 syntax. Everything else is skipped with a
//! notice that says so, before any process starts.

use super::{CpythonModel, CpythonRequest, CpythonResponse, PythonInfo, PythonVersion, Session};
use crate::measure::Exit;
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};

/// The Python 2 runner, shipped inside the binary like the Python 3 one.
pub const RUNNER27: &str = include_str!("../../python/parabench_runner27.py");

/// The one Python 2 the legacy runner supports.
pub const VERSION: (u32, u32) = (2, 7);

/// True for an interpreter the legacy runner serves (2.7.x).
pub fn runs(version: PythonVersion) -> bool {
    (version.major, version.minor) == VERSION
}

/// Why `model` cannot run in `python`, for a Python 2: every model but
/// sequential and thread. `None` for a Python 3.
pub fn unsupported(python: &PythonInfo, model: CpythonModel) -> Option<String> {
    if python.version.major >= 3 {
        return None;
    }
    (!matches!(model, CpythonModel::Sequential | CpythonModel::Thread)).then(|| {
        format!(
            "cpython-{} needs Python {} or newer; Python {} ({}) runs only cpython-sequential \
             and cpython-thread",
            model.name(),
            super::MIN_VERSION,
            python.version,
            python.path.display()
        )
    })
}

/// Why Python 2 cannot run `request`: any step but CPU and sleep, or any
/// workload with a board, lock, queue, event or timer. `None` when it can.
pub fn refused(request: &CpythonRequest) -> Option<String> {
    let task = &request.task;
    let what = if task.socket.is_some() || request.convoy {
        "socket round trips (io-socket, convoy)"
    } else if task.file.is_some() {
        "file steps"
    } else if task.touch_kib > 0 {
        "touch_kib"
    } else if request.lock.is_some() {
        "the lock workload"
    } else if request.queue.is_some() {
        "the queue workload"
    } else if request.event.is_some() || request.timer.is_some() {
        "the event and timer workloads"
    } else if request.start_method.is_some() {
        "process models"
    } else {
        return None;
    };
    Some(format!(
        "the Python 2.7 runner runs CPU and sleep tasks only, not {what}"
    ))
}

/// Runs one request in a Python 2.7, killing it (and anything it started)
/// if it takes longer than `timeout`. As `super::run`, from a thread that
/// outlives the call.
pub fn run(
    python: &PythonInfo,
    request: &CpythonRequest,
    timeout: Duration,
) -> Result<CpythonResponse> {
    if let Some(why) = unsupported(python, request.model).or_else(|| refused(request)) {
        bail!("{why}");
    }
    let deadline = Instant::now() + timeout;
    // Isolated from the user's site and PYTHON*, no site-packages, unbuffered.
    let mut session = Session::start_script(
        python,
        ("parabench_runner27.py", RUNNER27),
        &["-E", "-s", "-S", "-u"],
        &[],
    )
    .context("starting the Python 2.7 runner")?;
    let mut response = session.request(request, timeout)?;
    let (status, usage) = session.close(deadline.saturating_duration_since(Instant::now()))?;
    if status != Exit::Code(0) {
        bail!("Python 2.7 runner ended ({status}) after its response");
    }
    response.process = usage;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::super::{SocketRequest, TaskRequest};
    use super::*;

    fn request(model: CpythonModel, cpu_ms: f64, sleep_ms: f64) -> CpythonRequest {
        CpythonRequest {
            model,
            workers: 2,
            tasks: 2,
            repetitions: 2,
            warmup: 0,
            task: TaskRequest {
                cpu_ms,
                kernel: "hash".into(),
                iters_per_ms: None,
                sleep_ms,
                socket: None,
                file: None,
                touch_kib: 0,
            },
            switch_interval_s: Some(0.005),
            convoy: false,
            board: None,
            start_method: None,
            parent_mib: 0,
            lock: None,
            queue: None,
            event: None,
            timer: None,
            fresh_pool: false,
        }
    }

    /// The pyenv Python 2.7 of these machines, if there is one.
    pub(crate) fn python27_or_skip() -> Option<PythonInfo> {
        match super::super::find("python2.7") {
            Ok(p) if runs(p.version) => Some(p),
            Ok(p) => {
                eprintln!("skipping: python2.7 is {}", p.version);
                None
            }
            Err(e) => {
                eprintln!("skipping the Python 2.7 test: {e}");
                None
            }
        }
    }

    #[test]
    fn only_sequential_and_thread_with_cpu_and_sleep_run_in_python2() {
        let py = |major, minor| PythonInfo {
            path: "/py".into(),
            version: PythonVersion {
                major,
                minor,
                patch: 0,
            },
            free_threaded: false,
            gil_enabled: None,
        };
        assert_eq!(unsupported(&py(3, 12), CpythonModel::Asyncio), None);
        assert_eq!(unsupported(&py(2, 7), CpythonModel::Thread), None);
        let why = unsupported(&py(2, 7), CpythonModel::ProcessPool).unwrap();
        assert!(
            why.contains("cpython-process-pool needs Python 3.8.0 or newer")
                && why.contains("2.7.0"),
            "{why}"
        );
        assert_eq!(refused(&request(CpythonModel::Thread, 1.0, 1.0)), None);
        let mut socket = request(CpythonModel::Thread, 0.0, 0.0);
        socket.task.socket = Some(SocketRequest {
            addr: "127.0.0.1:1".parse().unwrap(),
            warmup_round_trips: 0,
            round_trips: 1,
            message_bytes: 8,
            server_delay_us: 0,
        });
        assert!(refused(&socket).unwrap().contains("socket"));
        assert!(runs(py(2, 7).version) && !runs(py(2, 6).version) && !runs(py(3, 7).version));
    }

    #[test]
    fn the_interpreter_pool_is_skipped_before_3_14_with_the_version_it_needs() {
        let py = |minor| PythonInfo {
            path: format!("/usr/bin/python3.{minor}").into(),
            version: PythonVersion {
                major: 3,
                minor,
                patch: 0,
            },
            free_threaded: false,
            gil_enabled: None,
        };
        let why = super::super::missing_module(&py(13), CpythonModel::InterpreterPool).unwrap();
        assert!(
            why.contains("cpython-interpreter-pool needs Python 3.14.0 or newer")
                && why.contains("InterpreterPoolExecutor")
                && why.contains("/usr/bin/python3.13 is Python 3.13.0"),
            "{why}"
        );
        assert_eq!(
            super::super::missing_module(&py(14), CpythonModel::InterpreterPool),
            None
        );
        assert_eq!(
            super::super::missing_module(&py(13), CpythonModel::ThreadPool),
            None
        );
    }

    #[test]
    fn python27_runs_sequential_and_thread_tasks() {
        let Some(py) = python27_or_skip() else { return };
        for model in [CpythonModel::Sequential, CpythonModel::Thread] {
            let r = run(&py, &request(model, 5.0, 1.0), Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("{}: {e:#}", model.name()));
            assert_eq!(r.model, model);
            assert!(r.python_version.starts_with("2.7"), "{}", r.python_version);
            assert!(r.checksum_ok);
            assert!(r.calibration.as_ref().unwrap().iters_per_task > 0);
            assert_eq!(r.repetitions.len(), 2);
            for rep in &r.repetitions {
                assert_eq!(rep.task_run_ms.len(), 2);
                // Each task computed, then slept 1 ms.
                assert!(rep.task_run_ms.iter().all(|&ms| ms >= 1.0), "{rep:?}");
                assert!(rep.wall_s > 0.0 && rep.peak_rss_bytes > 1 << 20);
            }
        }
        // What it cannot run, it refuses with the reason, in Rust first.
        let err = run(
            &py,
            &request(CpythonModel::Asyncio, 1.0, 0.0),
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("cpython-asyncio needs Python"));
    }
}
