//! Every model, on every workload, reproduces the sequential checksum; the
//! pools keep their executor semantics; no child is left a zombie.

use parabench::model::{Batch, ModelId, ModelKind, Start, StartMethod, model_for};
use parabench::plan::Point;
use parabench::runner::build_tasks;
use parabench::workload::echo::EchoServer;
use parabench::workload::{Kernel, expected_checksum};
use parabench::workload::{SocketShape, TaskShape};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The process models re-execute the parabench cargo built (test binaries
/// are not parabench) for the fork server, and start the `parabench-worker`
/// beside it for spawn.
pub fn use_built_worker() {
    parabench::model::set_worker_exe(env!("CARGO_BIN_EXE_parabench").into());
}

fn shape() -> TaskShape {
    TaskShape {
        cpu_ms: 0.0,
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
    }
}

/// The models with and without the emulated GIL, the process models by
/// every start method.
fn every_model() -> Vec<ModelId> {
    let mut out: Vec<ModelId> = ModelKind::ALL.map(ModelId::native).to_vec();
    out.extend(
        ModelKind::ALL
            .into_iter()
            .filter(|k| k.accepts_gil())
            .map(ModelId::under_gil),
    );
    out.iter()
        .flat_map(|&id| StartMethod::ALL.map(|m| id.started_by(m)))
        .fold(Vec::new(), |mut all, id| {
            if !all.contains(&id) {
                all.push(id);
            }
            all
        })
}

fn check_all_models(name: &str, shape: TaskShape, echo: Option<&EchoServer>) {
    use_built_worker();
    let dir = tempfile::tempdir().unwrap();
    let point = Point {
        cpu_threads: None,
        tasks: 6,
        task_ms: None,
        shape,
        parent_mib: 0,
    };
    // A small, fixed iteration count keeps this deterministic and fast.
    let tasks = build_tasks(
        &point,
        200.0,
        echo.map(EchoServer::addr),
        dir.path(),
        Duration::from_secs(60),
    )
    .unwrap();
    let expected: Vec<u64> = tasks.iter().map(expected_checksum).collect();
    let cancel = AtomicBool::new(false);
    for id in every_model() {
        let batch = Batch {
            tasks: &tasks,
            workers: 3,
            deadline: Instant::now() + Duration::from_secs(60),
            cancel: &cancel,
            gil: id.gil.then_some(parabench::gil::GilKind::New {
                switch_interval: Duration::from_millis(1),
            }),
            shape: Some(&point.shape),
            switch_interval: Duration::from_millis(5),
            start: Start {
                method: id.start,
                parent_mib: 0,
            },
        };
        let outcome = model_for(id.kind)
            .run(&batch)
            .unwrap_or_else(|e| panic!("{name}/{id}: {e}"));
        let mut got: Vec<(u32, u64)> = outcome
            .records
            .iter()
            .map(|r| (r.output.idx, r.output.checksum))
            .collect();
        got.sort();
        let want: Vec<(u32, u64)> = expected
            .iter()
            .enumerate()
            .map(|(i, &c)| (i as u32, c))
            .collect();
        assert_eq!(got, want, "{name}/{id}: checksums differ from sequential");
        assert_eq!(outcome.gil.is_some(), id.gil, "{name}/{id}: GIL counters");
        if id.kind.uses_processes() {
            assert!(
                !outcome.children.peak_rss.is_empty(),
                "{name}/{id}: children were reaped with their usage"
            );
        }
    }
    // Files written by io-file tasks are removed again.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn cpu_hash() {
    check_all_models(
        "cpu-hash",
        TaskShape {
            cpu_ms: 2.0,
            ..shape()
        },
        None,
    );
}

#[test]
fn cpu_mandelbrot() {
    let s = TaskShape {
        cpu_ms: 2.0,
        kernel: Kernel::Mandelbrot,
        ..shape()
    };
    check_all_models("cpu-mandelbrot", s, None);
}

#[test]
fn io_sleep_socket_file_and_mixed() {
    let echo = EchoServer::start().unwrap();
    check_all_models(
        "io-sleep",
        TaskShape {
            sleep_ms: 1.0,
            ..shape()
        },
        None,
    );
    let socket = TaskShape {
        socket: Some(SocketShape {
            round_trips: 2,
            message_bytes: 48,
            server_delay_ms: 0.2,
        }),
        ..shape()
    };
    check_all_models("io-socket", socket, Some(&echo));
    check_all_models(
        "io-file",
        TaskShape {
            file_kib: Some(8),
            ..shape()
        },
        None,
    );
    let mixed = TaskShape {
        cpu_ms: 1.0,
        sleep_ms: 1.0,
        ..shape()
    };
    check_all_models("mixed", mixed, None);
    let touch = TaskShape {
        sleep_ms: 1.0,
        touch_kib: 64,
        ..shape()
    };
    check_all_models("touch", touch, None);
}

/// Zombies among our own children, seen twice 300 ms apart (a child of a
/// concurrently running test may be a zombie for a moment before its wait).
pub fn lasting_zombies() -> Vec<u32> {
    let scan = || -> Vec<u32> {
        let me = std::process::id();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    return false;
                };
                // Fields after the parenthesized command: state, ppid, ...
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let mut f = rest.split_whitespace();
                let state = f.next().unwrap_or("");
                let ppid: u32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                state == "Z" && ppid == me
            })
            .collect()
    };
    let first = scan();
    if first.is_empty() {
        return first;
    }
    std::thread::sleep(Duration::from_millis(300));
    scan().into_iter().filter(|p| first.contains(p)).collect()
}

#[test]
fn process_models_leave_no_zombie() {
    use_built_worker();
    let point = Point {
        cpu_threads: None,
        tasks: 5,
        task_ms: None,
        shape: TaskShape {
            cpu_ms: 1.0,
            ..shape()
        },
        parent_mib: 0,
    };
    let tasks = build_tasks(
        &point,
        100.0,
        None,
        std::path::Path::new("/tmp"),
        Duration::from_secs(60),
    )
    .unwrap();
    let cancel = AtomicBool::new(false);
    for kind in [ModelKind::Process, ModelKind::ProcessPool] {
        for method in StartMethod::ALL {
            let batch = Batch {
                tasks: &tasks,
                workers: 2,
                deadline: Instant::now() + Duration::from_secs(60),
                cancel: &cancel,
                gil: None,
                shape: None,
                switch_interval: Duration::from_millis(5),
                start: Start {
                    method,
                    parent_mib: 0,
                },
            };
            let outcome = model_for(kind).run(&batch).unwrap();
            // Every child the batch started was reaped, with its usage.
            let started = if kind == ModelKind::Process { 5 } else { 2 };
            assert_eq!(outcome.children.peak_rss.len(), started, "{kind}:{method}");
        }
    }
    assert_eq!(lasting_zombies(), Vec::<u32>::new());
}

#[test]
fn process_pool_map_keeps_order_and_shutdown_reaps() {
    use parabench::model::process_pool::ProcessPool;
    use parabench::model::worker::{Job, Reply};
    use_built_worker();
    let point = Point {
        cpu_threads: None,
        tasks: 6,
        task_ms: None,
        shape: TaskShape {
            sleep_ms: 1.0,
            ..shape()
        },
        parent_mib: 0,
    };
    let mut tasks = build_tasks(
        &point,
        1.0,
        None,
        std::path::Path::new("/tmp"),
        Duration::from_secs(60),
    )
    .unwrap();
    // Early tasks sleep longer, so they finish last.
    for (i, t) in tasks.iter_mut().enumerate() {
        t.steps = vec![parabench::workload::Step::Sleep {
            us: (6 - i as u64) * 3_000,
        }];
    }
    let cancel = AtomicBool::new(false);
    let batch = Batch {
        tasks: &tasks,
        workers: 3,
        deadline: Instant::now() + Duration::from_secs(60),
        cancel: &cancel,
        gil: None,
        shape: None,
        switch_interval: Duration::from_millis(5),
        start: Start::default(),
    };
    let pool = ProcessPool::start(3, &batch).unwrap();
    let jobs = tasks.iter().map(|t| Job {
        task: t.clone(),
        gil: None,
    });
    let results = pool.map(jobs, &batch, Instant::now()).unwrap();
    let order: Vec<u32> = results
        .into_iter()
        .map(|r| match r.unwrap().0 {
            Reply::Done { output, .. } => output.idx,
            Reply::Failed(e) => panic!("{e}"),
        })
        .collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
    let usage = pool.shutdown(true, Duration::from_secs(10));
    assert_eq!(usage.peak_rss.len(), 3, "every worker reaped");
}

/// A reply larger than a pipe's buffer (64 KiB): the worker blocks writing
/// it until the parent reads, so a parent that waited for the child's exit
/// before reading would hang until the deadline.
#[test]
fn a_reply_larger_than_a_pipe_buffer_reaches_the_harness() {
    use parabench::workload::{Step, Task};
    use_built_worker();
    let echo = EchoServer::start().unwrap();
    let round_trips = 16_000;
    let tasks = vec![Task {
        idx: 0,
        steps: vec![Step::Socket {
            addr: echo.addr(),
            round_trips,
            message_bytes: 1,
            server_delay_us: 0,
        }],
        releases_gil: false,
    }];
    let cancel = AtomicBool::new(false);
    for kind in [ModelKind::Process, ModelKind::ProcessPool] {
        let batch = Batch {
            tasks: &tasks,
            workers: 1,
            deadline: Instant::now() + Duration::from_secs(60),
            cancel: &cancel,
            gil: None,
            shape: None,
            switch_interval: Duration::from_millis(5),
            start: Start::default(),
        };
        let outcome = model_for(kind)
            .run(&batch)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let out = &outcome.records[0].output;
        assert_eq!(out.round_trips_ns.len(), round_trips as usize, "{kind:?}");
        assert_eq!(out.checksum, expected_checksum(&tasks[0]), "{kind:?}");
    }
}

/// A worker told that its parent is a process that is not its parent (the
/// harness died before the worker armed its parent-death signal) exits at
/// once instead of serving; both worker binaries.
#[test]
fn a_worker_whose_parent_is_gone_does_not_start() {
    for exe in [
        env!("CARGO_BIN_EXE_parabench-worker"),
        env!("CARGO_BIN_EXE_parabench"),
    ] {
        let out = std::process::Command::new(exe)
            .args(["worker", "--parent", "1"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{exe}: {stderr}");
        assert!(stderr.contains("parent 1 is gone"), "{exe}: {stderr}");
    }
}

/// The worker binary refuses a command line the harness never writes.
#[test]
fn the_worker_binary_explains_a_bad_command_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parabench-worker"))
        .args(["serve"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("usage: parabench-worker worker"),
        "{stderr}"
    );
}

/// `parabench-worker source-id` prints the fingerprint of the sources it was
/// built from, which is this library's.
#[test]
fn the_worker_binary_names_its_sources() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parabench-worker"))
        .arg("source-id")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        parabench::model::worker::SOURCE_ID
    );
}

/// The harness starts the `parabench-worker` beside it only when that was
/// built from the same sources (`cargo run` rebuilds only the harness), and
/// falls back to `parabench worker` otherwise. A stand-in worker that
/// answers `source-id` and fails every job shows which one served.
#[test]
fn a_worker_binary_from_other_sources_is_not_used() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let harness = dir.path().join("parabench");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_parabench"), &harness).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_parabench"), &harness).unwrap();
    }
    let run = |id: &str| {
        let script =
            format!("#!/bin/sh\nif [ \"$1\" = source-id ]; then echo {id}; else exit 7; fi\n");
        let fake = dir.path().join("parabench-worker");
        std::fs::write(&fake, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new(&harness)
            .args([
                "run",
                "--workload",
                "cpu",
                "--task-ms",
                "0.01",
                "--tasks",
                "2",
                "--workers",
                "1",
                "--models",
                "process",
                "--repetitions",
                "1",
                "--warmup",
                "0",
                "--out",
                "out",
                "--no-report",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let results = std::fs::read_to_string(dir.path().join("out/results.json")).unwrap();
        (out.status.code(), results)
    };
    // Other sources: the harness serves the tasks itself, and they pass.
    let (code, results) = run("0000000000000000");
    assert_eq!(code, Some(0), "{results}");
    // The same sources: the stand-in is started, and its exit 7 fails the case.
    let (code, results) = run(parabench::model::worker::SOURCE_ID);
    assert_eq!(code, Some(1), "{results}");
    assert!(results.contains("exit code 7"), "{results}");
}

/// `parabench-worker` loads no libm: loading it cost every worker start
/// 60-80 µs (`process` starts one per task), and a `log2` in code the worker
/// runs is enough to bring it back, as a merge once did.
#[test]
fn the_worker_binary_loads_no_libm() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parabench-worker"))
        .args(["worker", "--pool"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Loaded libraries are mapped by the time it says it is ready.
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(ready.trim(), parabench::model::worker::READY);
    assert!(maps.contains("libc.so"), "{maps}");
    assert!(!maps.contains("libm.so"), "{maps}");
}
