//! The start methods: fork only ever from a single-threaded process, and no
//! process of any start method left behind after a run, a timeout or
//! Ctrl-C. (Each method's checksums are checked with every model in
//! `models.rs`.)

use super::models::{lasting_zombies, use_built_worker};
use parabench::model::{Batch, ModelKind, Start, StartMethod, model_for};
use parabench::plan::Point;
use parabench::runner::build_tasks;
use parabench::workload::{Kernel, TaskShape};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn field(pid: u32, file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

/// Runs one small batch of `kind` started by `method`, with `parent_mib`.
fn batch_of(kind: ModelKind, method: StartMethod, parent_mib: u64) {
    use_built_worker();
    let point = Point {
        cpu_threads: None,
        tasks: 3,
        task_ms: None,
        shape: TaskShape {
            cpu_ms: 0.5,
            kernel: Kernel::Hash,
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
        parent_mib,
    };
    let tasks = build_tasks(
        &point,
        100.0,
        None,
        Path::new("/tmp"),
        Duration::from_secs(60),
    )
    .unwrap();
    let cancel = AtomicBool::new(false);
    let batch = Batch {
        tasks: &tasks,
        workers: 2,
        deadline: Instant::now() + Duration::from_secs(60),
        cancel: &cancel,
        gil: None,
        shape: None,
        switch_interval: Duration::from_millis(5),
        start: Start { method, parent_mib },
    };
    let outcome = model_for(kind)
        .run(&batch)
        .unwrap_or_else(|e| panic!("{kind}:{method}: {e}"));
    assert_eq!(outcome.records.len(), 3);
}

#[test]
fn the_fork_servers_fork_with_one_thread() {
    batch_of(ModelKind::Process, StartMethod::Fork, 32);
    batch_of(ModelKind::ProcessPool, StartMethod::Forkserver, 0);
    let launcher = parabench::model::start::launcher_pid()
        .expect("the test binary forks the launcher before main");
    let server = parabench::model::start::forkserver_pid().expect("started on first use");
    for pid in [launcher, server] {
        assert_eq!(
            field(pid, "status", "Threads:").as_deref(),
            Some("1"),
            "{pid}"
        );
        // A child of this process, as every worker they clone is.
        assert_eq!(
            field(pid, "status", "PPid:"),
            Some(std::process::id().to_string())
        );
    }
    assert_eq!(lasting_zombies(), Vec::<u32>::new());
}

/// Every live process whose environment holds `tag`.
fn tagged(tag: &str) -> Vec<(u32, String)> {
    let needle = format!("PARABENCH_TEST_TAG={tag}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
        })
        .map(|pid| (pid, field(pid, "status", "Name:").unwrap_or_default()))
        .collect()
}

/// Waits until no process carries `tag` (killed ones take a moment to go).
fn assert_none_left(tag: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = tagged(tag);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: processes left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// parabench with `args` in a process group of its own (so that Ctrl-C can
/// go to the group, as a terminal sends it), every descendant tagged.
fn start(args: &[&str], dir: &Path, tag: &str, fault: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parabench"));
    cmd.args(args)
        .current_dir(dir)
        .env("PARABENCH_TEST_TAG", tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(fault) = fault {
        cmd.env("PARABENCH_WORKER_FAULT", fault);
    }
    cmd.spawn().unwrap()
}

fn wait(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("parabench did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(child: &mut std::process::Child) -> String {
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    err
}

const EVERY_METHOD: &[&str] = &[
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
    "process,process-pool+gil",
    "--start-method",
    "spawn,fork,forkserver",
    "--repetitions",
    "1",
    "--warmup",
    "0",
    "--no-report",
    "--out",
    "out",
];

#[test]
fn a_run_leaves_no_process_of_any_start_method_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tag = format!("run-{}", std::process::id());
    let mut child = start(EVERY_METHOD, dir.path(), &tag, None);
    let code = wait(&mut child, Duration::from_secs(120));
    let err = stderr(&mut child);
    assert_eq!(code, Some(0), "{err}");
    let text = std::fs::read_to_string(dir.path().join("out/results.json")).unwrap();
    let report: parabench::results::RunReport = serde_json::from_str(&text).unwrap();
    let mut started: Vec<(String, Option<String>)> = report
        .cases
        .iter()
        .filter(|c| c.model != "sequential")
        .map(|c| (c.model.clone(), c.start_method.clone()))
        .collect();
    started.sort();
    let want = |m: &str, s: &str| (m.to_owned(), Some(s.to_owned()));
    assert_eq!(
        started,
        [
            want("process", "spawn"),
            want("process-pool+gil", "spawn"),
            want("process-pool+gil:fork", "fork"),
            want("process-pool+gil:forkserver", "forkserver"),
            want("process:fork", "fork"),
            want("process:forkserver", "forkserver"),
        ]
    );
    assert!(report.cases.iter().all(|c| c.is_ok()), "{err}");
    assert_none_left(&tag, "after a run");
}

#[test]
fn a_timeout_leaves_no_process_of_any_start_method_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tag = format!("timeout-{}", std::process::id());
    let mut args = EVERY_METHOD.to_vec();
    args.extend(["--timeout", "1"]);
    // Every worker hangs at its first job: each case times out.
    let mut child = start(&args, dir.path(), &tag, Some("hang"));
    let code = wait(&mut child, Duration::from_secs(120));
    let err = stderr(&mut child);
    assert_eq!(code, Some(1), "failed cases: {err}");
    let text = std::fs::read_to_string(dir.path().join("out/results.json")).unwrap();
    let report: parabench::results::RunReport = serde_json::from_str(&text).unwrap();
    let timed_out = report
        .cases
        .iter()
        .filter(|c| c.status.to_string().contains("timed out"))
        .count();
    assert_eq!(timed_out, 6, "{err}");
    assert_none_left(&tag, "after a timeout");
}

#[test]
fn ctrl_c_leaves_no_process_of_any_start_method_behind() {
    for method in ["fork", "forkserver", "spawn"] {
        let dir = tempfile::tempdir().unwrap();
        let tag = format!("ctrl-c-{method}-{}", std::process::id());
        let args = [
            "run",
            "--workload",
            "cpu",
            "--task-ms",
            "1",
            "--tasks",
            "4",
            "--workers",
            "2",
            "--models",
            "process-pool",
            "--start-method",
            method,
            "--repetitions",
            "1",
            "--warmup",
            "0",
            "--no-report",
            "--out",
            "out",
        ];
        let mut child = start(&args, dir.path(), &tag, Some("hang"));
        // Until its workers hang at their jobs (named pb-worker when forked).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !tagged(&tag).iter().any(|(pid, name)| {
            name == "pb-worker"
                || std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"worker"))
        }) {
            assert!(Instant::now() < deadline, "{method}: no worker started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // A terminal's Ctrl-C reaches the whole foreground group.
        // SAFETY: kill only sends a signal to the group we started.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
        let code = wait(&mut child, Duration::from_secs(30));
        let err = stderr(&mut child);
        assert_eq!(code, Some(130), "{method}: {err}");
        assert_none_left(&tag, &format!("{method}: after Ctrl-C"));
    }
}
