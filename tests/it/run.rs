//! `parabench run`, `list` and `sysinfo` through the executable: input errors
//! are caught before anything runs, with file, line, key and a hint; faults
//! in workers fail their case only; `--quick` writes a valid results.json.

use parabench::results::{RunReport, SCHEMA_VERSION};
use std::path::Path;
use std::process::{Command, Output};

fn parabench(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("parabench runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a suite file with `text` and returns the failed run's output.
fn run_suite(text: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.toml"), text).unwrap();
    let out = parabench(&["run", "suite.toml", "--out", "out"], dir.path());
    (out, dir)
}

fn assert_input_error(text: &str, must_contain: &[&str]) {
    let (out, dir) = run_suite(text);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "exit code for bad input: {err}");
    for needle in must_contain {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    assert!(
        !dir.path().join("out").exists(),
        "nothing may run on bad input"
    );
}

const GOOD: &str =
    "[[scenario]]\nname = \"a\"\nworkload = \"cpu\"\ntask_ms = 1\ntasks = 2\nworkers = [1, 2]\n";

#[test]
fn unknown_key_names_file_line_and_allowed_keys() {
    assert_input_error(
        "[[scenario]]\nname = \"a\"\nworkload = \"cpu\"\nwrkers = [1]\n",
        &["suite.toml:4:1", "wrkers", "expected one of", "workers"],
    );
}

#[test]
fn zero_tasks_is_refused_with_its_line() {
    assert_input_error(
        &GOOD.replace("tasks = 2", "tasks = 0"),
        &["suite.toml:5:", "key `tasks`", "nonzero"],
    );
}

#[test]
fn negative_duration_is_refused() {
    assert_input_error(
        &GOOD.replace("task_ms = 1", "task_ms = -5"),
        &["suite.toml:4:", "key `task_ms`", "greater than 0"],
    );
}

#[test]
fn unknown_model_lists_the_models() {
    assert_input_error(
        &format!("{GOOD}models = [\"thread\", \"fibers\"]\n"),
        &[
            "suite.toml:7:",
            "unknown model `fibers`",
            "thread-pool",
            "process-pool+gil",
        ],
    );
}

#[test]
fn unknown_workload_lists_the_workloads() {
    assert_input_error(
        &GOOD.replace("\"cpu\"", "\"gpu\""),
        &["suite.toml:3:", "gpu", "io-sleep"],
    );
}

#[test]
fn a_key_for_another_workload_is_refused() {
    assert_input_error(
        &format!("{GOOD}file_kib = 4\n"),
        &[
            "suite.toml:7:",
            "key `file_kib`",
            "does not apply to workload `cpu`",
            "io-file",
        ],
    );
}

#[test]
fn malformed_toml_is_located() {
    assert_input_error("[[scenario]\nname = \"a\"\n", &["suite.toml:1:"]);
}

#[test]
fn wrong_type_is_located() {
    assert_input_error(
        &GOOD.replace("tasks = 2", "tasks = \"many\""),
        &["suite.toml:5:", "key `tasks`"],
    );
}

#[test]
fn bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["run", "--workload", "cpu", "--tasks", "0"][..],
        &["run", "--workload", "cpu", "--models", "nope"][..],
        &["run", "--workload", "cpu", "--only", "nothing"][..],
        &["run", "--workload", "cpu", "--task-ms", "-1"][..],
    ] {
        let out = parabench(args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!dir.path().join("reports").exists(), "{args:?} ran");
    }
}

#[test]
fn a_missing_suite_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = parabench(&["run", "nope.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.toml"));
}

#[test]
fn an_impossible_sweep_is_refused_before_spawning() {
    let dir = tempfile::tempdir().unwrap();
    let out = parabench(
        &[
            "run",
            "--workload",
            "io-sleep",
            "--models",
            "process",
            "--workers",
            "50000",
            "--tasks",
            "50000",
            "--task-ms",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing to run"), "{}", stderr(&out));
}

fn read_report(path: &Path) -> RunReport {
    let text = std::fs::read_to_string(path).expect("results.json written");
    serde_json::from_str(&text).expect("results.json matches the schema")
}

/// Orphaned worker processes of this test binary's parabench: workers whose
/// parent is not a `parabench run` that is still going (other tests run
/// concurrently and have live workers of their own). A worker is either
/// binary's `worker` command.
fn leftover_workers() -> usize {
    let exe = env!("CARGO_BIN_EXE_parabench").as_bytes();
    let worker_exe = env!("CARGO_BIN_EXE_parabench-worker").as_bytes();
    let cmdline = |pid: &str| -> Vec<Vec<u8>> {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .map(<[u8]>::to_vec)
            .collect()
    };
    let is = |args: &[Vec<u8>], sub: &[u8]| {
        args.first().map(Vec::as_slice) == Some(exe) && args.get(1).map(Vec::as_slice) == Some(sub)
    };
    let parent = |pid: &str| -> Option<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        rest.split_whitespace().nth(1).map(str::to_owned)
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            let args = cmdline(pid);
            is(&args, b"worker")
                || (args.first().map(Vec::as_slice) == Some(worker_exe)
                    && args.get(1).map(Vec::as_slice) == Some(b"worker"))
        })
        .filter(|pid| !parent(pid).is_some_and(|ppid| is(&cmdline(&ppid), b"run")))
        .count()
}

fn run_with_fault(fault: &str) -> (Output, RunReport) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args([
            "run",
            "--workload",
            "cpu",
            "--task-ms",
            "1",
            "--tasks",
            "3",
            "--workers",
            "2",
            "--models",
            "sequential,thread,process,process-pool",
            "--repetitions",
            "1",
            "--warmup",
            "0",
            "--timeout",
            "3",
            "--out",
            "out",
            "--no-report",
        ])
        .env(parabench::model::worker::FAULT_ENV, fault)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = read_report(&dir.path().join("out/results.json"));
    (out, report)
}

fn status(report: &RunReport, model: &str) -> String {
    report
        .cases
        .iter()
        .find(|c| c.model == model)
        .unwrap()
        .status
        .to_string()
}

#[test]
fn a_crashing_worker_fails_its_case_and_the_sweep_goes_on() {
    let (out, report) = run_with_fault("crash");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(status(&report, "thread"), "ok");
    assert_eq!(status(&report, "sequential"), "ok");
    for model in ["process", "process-pool"] {
        let s = status(&report, model);
        assert!(s.contains("signal 6"), "{model}: {s}");
    }
    assert_eq!(leftover_workers(), 0);
}

#[test]
fn a_hanging_worker_times_out_and_is_killed() {
    let (out, report) = run_with_fault("hang");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(status(&report, "thread"), "ok");
    for model in ["process", "process-pool"] {
        let s = status(&report, model);
        assert!(s.contains("timed out"), "{model}: {s}");
    }
    assert_eq!(leftover_workers(), 0);
    assert_eq!(super::models::lasting_zombies(), Vec::<u32>::new());
}

#[test]
fn quick_default_suite_writes_a_schema_valid_results_file() {
    let dir = tempfile::tempdir().unwrap();
    // Two repetitions exactly: this checks the schema, not the verdicts.
    let out = parabench(
        &[
            "run",
            "--quick",
            "--repetitions",
            "2",
            "--out",
            "q",
            "--no-report",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = read_report(&dir.path().join("q/results.json"));
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert!(!report.interrupted);
    assert!(report.machine.logical_cores >= 1 && report.machine.memory_bytes > 0);
    assert!(report.calibration.kernels.contains_key("hash"));
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    // Without python3 the cpython-* models are skipped, with the reason.
    let python = report
        .cases
        .iter()
        .any(|c| c.model.starts_with("cpython-") && c.is_ok());
    for case in report
        .cases
        .iter()
        .filter(|c| python || !c.model.starts_with("cpython-"))
    {
        // The suite's deadlock case deadlocks, as it is built to.
        if let parabench::results::CaseStatus::Deadlock(cycle) = &case.status {
            assert_eq!(case.scenario, "deadlock-lock", "{case:?}");
            assert!(cycle.contains("holds L1 and waits for L1"), "{cycle}");
            continue;
        }
        assert!(case.is_ok(), "{case:?}");
        assert_eq!(case.repetitions.len(), 2);
        assert!(names.contains(&case.scenario.as_str()));
        let wall = case.wall_s.expect("wall time");
        assert!(wall.low <= wall.median && wall.median <= wall.high);
        assert_eq!(case.samples_wall_s.len(), case.repetitions.len());
        assert!(case.task_latency_ms.is_some() && case.cpu_user_s.is_some());
        assert!(case.peak_rss_bytes.unwrap() > 0);
        if case.model == "sequential" {
            assert!((case.speedup.unwrap() - 1.0).abs() < 1e-9);
        }
    }
    // Every workload of the default suite ran under every model it lists.
    for s in &report.scenarios {
        for m in &s.models {
            assert!(
                report
                    .cases
                    .iter()
                    .any(|c| c.scenario == s.name && &c.model == m),
                "{} {m}",
                s.name
            );
        }
    }
    // The lifecycle scenario saw every state and left nothing behind.
    let lifecycle = &report.lifecycle;
    assert_eq!(lifecycle.len(), 1, "{lifecycle:?}");
    let ok = parabench::results::CaseStatus::Ok;
    assert!(
        lifecycle[0].status == ok && lifecycle[0].all_seen(),
        "{lifecycle:?}"
    );
    // The stdout table lists every case, the lifecycle's states, then every
    // verdict, each conclusive.
    let table = String::from_utf8_lossy(&out.stdout);
    let (cases, verdicts) = table.split_once("\nverdicts:\n").expect("a verdicts block");
    let (cases, states) = cases
        .split_once("\n\nlifecycle ")
        .expect("a lifecycle block");
    assert_eq!(cases.lines().count(), report.cases.len() + 1);
    assert_eq!(states.lines().count(), 1 + lifecycle[0].states.len());
    assert!(verdicts.lines().count() >= 4, "{verdicts}");
}

#[test]
fn list_and_sysinfo_work_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = parabench(&["list"], dir.path());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cpu-scaling") && text.contains("process-pool"));
    let out = parabench(&["sysinfo"], dir.path());
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let machine: parabench::results::Machine =
        serde_json::from_value(record["machine"].clone()).unwrap();
    assert!(machine.logical_cores >= 1);
    let environment: parabench::results::Environment =
        serde_json::from_value(record["environment"].clone()).unwrap();
    let start = environment.start.expect("a snapshot of the machine");
    assert!(start.load_average.is_some());
    assert!(environment.build.rustc.is_some() && environment.build.profile.is_some());
}

#[test]
fn cpu_threads_scale_and_sleeping_tasks_overlap() {
    // Ratios with generous margins only: the machine is shared and noisy.
    let dir = tempfile::tempdir().unwrap();
    let out = parabench(
        &[
            "run",
            "--workload",
            "io-sleep",
            "--task-ms",
            "20",
            "--tasks",
            "16",
            "--workers",
            "16",
            "--models",
            "sequential,thread,async",
            "--repetitions",
            "3",
            "--warmup",
            "0",
            "--out",
            "o",
            "--no-report",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = read_report(&dir.path().join("o/results.json"));
    for m in ["thread", "async"] {
        let c = report.cases.iter().find(|c| c.model == m).unwrap();
        // 16 sleeps at once against one after another: ideally 16x.
        assert!(c.speedup.unwrap() > 4.0, "{m}: {:?}", c.speedup);
    }
}

#[test]
fn convoy_keys_are_checked_like_any_other() {
    let convoy = "[[scenario]]\nname = \"c\"\nworkload = \"convoy\"\n";
    assert_input_error(
        &format!("{convoy}tasks = 4\n"),
        &[
            "suite.toml:4:",
            "key `tasks`",
            "does not apply to workload `convoy`",
        ],
    );
    assert_input_error(
        &GOOD.replace("workers = [1, 2]", "cpu_threads = [1]"),
        &["suite.toml:6:", "key `cpu_threads`", "convoy"],
    );
}

/// The convoy effect through the CLI: under the emulated GIL, the IO thread's
/// round trips wait for the switch interval once a CPU thread runs; without
/// it, or with the CPU work in another process, they do not. Ratios only.
#[test]
fn the_emulated_gil_shows_the_convoy_effect() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("convoy.toml"),
        "[[scenario]]\nname = \"convoy\"\nworkload = \"convoy\"\ncpu_threads = [0, 1]\n\
         round_trips = 10\nserver_delay_ms = 0.2\nswitch_interval_us = 5000\nrepetitions = 1\nwarmup = 0\n\
         models = [\"thread\", \"thread+gil\", \"process-pool+gil\", \"cpython-thread\"]\n",
    )
    .unwrap();
    let out = parabench(
        &["run", "convoy.toml", "--out", "o", "--no-report"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = read_report(&dir.path().join("o/results.json"));
    let p50 = |model: &str, cpu_threads: f64| {
        let case = report
            .cases
            .iter()
            .find(|c| c.model == model && c.params.get("cpu_threads") == Some(&cpu_threads))
            .unwrap_or_else(|| panic!("no {model} case at {cpu_threads}"));
        assert!(case.speedup.is_none() && case.io_round_trips_per_s.unwrap() > 0.0);
        case.task_latency_ms.unwrap().p50
    };
    // One CPU thread under the GIL: a round trip waits for the switch
    // interval (5 ms) to get the lock back. Load from other tests can only
    // lengthen round trips, so the GIL side is bounded below by the interval
    // and compared with the others by generous ratios.
    let convoy = p50("thread+gil", 1.0);
    let others = [
        p50("thread+gil", 0.0),
        p50("thread", 1.0),
        p50("process-pool+gil", 1.0),
    ];
    assert!(
        convoy >= 2.5,
        "p50 {convoy} ms, under half the switch interval"
    );
    assert!(
        others.iter().all(|&o| convoy > 3.0 * o),
        "{convoy} ms against {others:?}"
    );
    // Real CPython, when present, is paired with the emulation.
    let cpython_ran = report
        .cases
        .iter()
        .any(|c| c.model == "cpython-thread" && c.is_ok());
    let paired = report
        .fidelity
        .iter()
        .filter(|f| f.metric == "io_round_trip_p50_ms")
        .count();
    assert_eq!(paired, if cpython_ran { 2 } else { 0 });
}

/// A model family without its baseline gets it added, with a notice, so
/// that every speedup cell holds a number.
#[test]
fn missing_baselines_are_added_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let out = small_cpu_run(&["--models", "thread+gil,cpython-thread"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for baseline in ["sequential", "cpython-sequential"] {
        assert!(
            err.contains(&format!("added {baseline} as the baseline")),
            "{err}"
        );
    }
    let report = read_report(&dir.path().join("o/results.json"));
    for case in report.cases.iter().filter(|c| c.is_ok()) {
        assert!(case.speedup.is_some(), "{case:?}");
    }
    assert!(report.cases.iter().any(|c| c.model == "sequential"));
}

/// A point whose verdict rests on too few repetitions gets more of them
/// (up to the six a decision needs, even with no time budget left); a point
/// no verdict rests on keeps the minimum. `--repetitions` alone is exact.
#[test]
fn undecided_verdicts_get_more_repetitions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "[settings]\nrepetitions = 2\nmax_repetitions = 9\npoint_budget_s = 0\nwarmup = 0\n\
         [[scenario]]\nname = \"judged\"\nworkload = \"cpu\"\ntask_ms = 1\ntasks = 4\nworkers = 2\n\
         models = [\"sequential\", \"thread+gil\"]\n\
         [[scenario]]\nname = \"unjudged\"\nworkload = \"mixed\"\ntask_ms = 1\ntasks = 4\nworkers = 2\n\
         models = [\"sequential\", \"thread\"]\n",
    )
    .unwrap();
    let reps = |args: &[&str]| {
        let mut all = vec!["run", "s.toml", "--out", "o", "--no-report"];
        all.extend_from_slice(args);
        let out = parabench(&all, dir.path());
        assert!(out.status.success(), "{}", stderr(&out));
        let report = read_report(&dir.path().join("o/results.json"));
        let of = |scenario: &str| {
            report
                .cases
                .iter()
                .filter(|c| c.scenario == scenario)
                .map(|c| c.repetitions.len())
                .collect::<Vec<_>>()
        };
        (of("judged"), of("unjudged"), report.settings)
    };
    let (judged, unjudged, settings) = reps(&[]);
    assert_eq!(judged, [6, 6]);
    assert_eq!(unjudged, [2, 2]);
    assert_eq!(
        (
            settings.min_repetitions,
            settings.max_repetitions,
            settings.repetitions
        ),
        (2, 9, 6)
    );
    let (judged, unjudged, _) = reps(&["--repetitions", "3"]);
    assert_eq!((judged, unjudged), (vec![3, 3], vec![3, 3]));
}

/// Flags that are only used after the run are still checked before it: a bad
/// baseline name or file, or an output path that is a file, exits 2 with
/// nothing run.
#[test]
fn late_flags_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), "keep me").unwrap();
    let quick = ["run", "--workload", "cpu", "--task-ms", "1", "--tasks", "1"];
    for (extra, needle) in [
        (
            &["--save-baseline", "bad name", "--out", "o"][..],
            "--save-baseline",
        ),
        (
            &["--baseline", "missing.json", "--out", "o"][..],
            "missing.json",
        ),
        (&["--out", "a-file"][..], "--out"),
    ] {
        let args: Vec<&str> = quick.iter().chain(extra).copied().collect();
        let out = parabench(&args, dir.path());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!dir.path().join("o").exists(), "{extra:?} ran anyway");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a-file")).unwrap(),
        "keep me"
    );
}

/// Ctrl-C during a long calibration (the sleep floor of a 50-minute task)
/// ends the run within seconds, exit 130, with results.json saved.
#[test]
fn ctrl_c_during_calibration_stops_the_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args([
            "run",
            "--workload",
            "io-sleep",
            "--task-ms",
            "3000000",
            "--tasks",
            "1",
            "--models",
            "sequential",
            "--timeout",
            "86400",
            "--no-report",
            "--out",
            "out",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Give it time to install the handler and start calibrating.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let sent = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("Ctrl-C did not stop the calibration within 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    let report = read_report(&dir.path().join("out/results.json"));
    assert!(report.interrupted);
}

/// `--python` runs the cpython models in the interpreter it names (here a
/// second pyenv version where one exists, else python3 by its path), and
/// results.json records which one and whether it has a GIL.
#[test]
fn the_cpython_models_run_in_the_interpreter_asked_for() {
    let Some(python3) = find_python("python3") else {
        eprintln!("skipping: no python3");
        return;
    };
    // Another minor version than python3's, where pyenv has one.
    let other = ["python3.12", "python3.10", "python3.9"]
        .into_iter()
        .find(|name| python_version(name).is_some_and(|v| v != python_version("python3").unwrap()));
    let asked = other.map_or(python3.clone(), str::to_owned);
    let expected = python_version(&asked).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = small_cpu_run(
        &["--models", "cpython-thread", "--python", &asked],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = read_report(&dir.path().join("o/results.json"));
    let python = report.python.expect("the interpreter is recorded");
    assert_eq!(python.version, expected, "{python:?}");
    assert!(!python.free_threaded && python.has_gil(), "{python:?}");
    assert!(
        report
            .cases
            .iter()
            .any(|c| c.model == "cpython-thread" && c.is_ok())
    );
}

/// An interpreter's version, as it reports it (None where it does not run).
fn python_version(name: &str) -> Option<String> {
    let path = find_python(name)?;
    let out = std::process::Command::new(path)
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `name` on PATH or in a pyenv version, as parabench looks for it.
fn find_python(name: &str) -> Option<String> {
    let root = std::env::var("PYENV_ROOT")
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.pyenv")))?;
    let mut found: Vec<String> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| format!("{dir}/{name}"))
        .chain(
            std::fs::read_dir(format!("{root}/versions"))
                .into_iter()
                .flatten()
                .filter_map(|e| Some(format!("{}/bin/{name}", e.ok()?.path().display()))),
        )
        .filter(|p| {
            std::process::Command::new(p)
                .args(["-c", "pass"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    (!found.is_empty()).then(|| found.remove(0))
}

/// Two 1 ms CPU tasks on 2 workers, one repetition, results only in `o/`.
fn small_cpu_run(extra: &[&str], dir: &Path) -> std::process::Output {
    let mut args = vec![
        "run",
        "--workload",
        "cpu",
        "--task-ms",
        "1",
        "--tasks",
        "2",
        "--workers",
        "2",
        "--repetitions",
        "1",
        "--warmup",
        "0",
        "--out",
        "o",
        "--no-report",
    ];
    args.extend_from_slice(extra);
    parabench(&args, dir)
}
