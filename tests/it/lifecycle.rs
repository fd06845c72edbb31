//! The `lifecycle` scenario through the executable: every state is seen on
//! the OS and nothing is left behind, checked here by a /proc scan of our
//! own; a demo that hangs is killed with everything it started when its
//! timeout passes; keys and flags that do not apply are refused.

use parabench::plan::{PlanOptions, Source, build};
use parabench::results::{CaseStatus, LifecycleResult, LifecycleState, RunReport};
use parabench::spec::WorkloadKind;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The two runs below scan /proc for what they leave; one at a time keeps
/// the scans about one run.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `parabench run --workload lifecycle` in `dir` with `args` and `env`;
/// returns its exit code, how long it took, its pid and its report.
fn run_lifecycle(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, Duration, u32, RunReport) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "--workload", "lifecycle", "--out", "out"])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("parabench runs");
    let pid = child.id();
    // The harness bounds its own run; the test's bound is far beyond it.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "parabench did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(dir.join("out/results.json")).unwrap();
    (
        status.code(),
        elapsed,
        pid,
        serde_json::from_str(&text).unwrap(),
    )
}

/// (state, ppid, pgrp) of a process, from /proc/PID/stat.
fn stat(pid: u32) -> Option<(char, u32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = text.rsplit_once(')')?.1.split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// Every process now in the demo's process group or carrying its marker.
fn processes_of(l: &LifecycleResult) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let in_group = stat(pid).is_some_and(|(_, _, pgrp)| pgrp == l.demo_pid);
            let marked = std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|entry| entry == l.marker.as_bytes())
            });
            in_group || marked
        })
        .collect()
}

fn state<'a>(l: &'a LifecycleResult, id: &str) -> &'a LifecycleState {
    l.states
        .iter()
        .find(|s| s.state == id)
        .unwrap_or_else(|| panic!("no state {id} in {l:#?}"))
}

#[test]
fn every_state_is_seen_and_nothing_is_left_behind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let zombies_before = super::models::lasting_zombies();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, harness, report) = run_lifecycle(dir.path(), &[], &[]);
    assert_eq!(code, Some(0), "{:#?}", report.lifecycle);
    assert!(report.cases.is_empty());
    let [l] = report.lifecycle.as_slice() else {
        panic!("one lifecycle run: {:#?}", report.lifecycle)
    };
    assert_eq!(l.status, CaseStatus::Ok, "{l:#?}");
    assert_eq!(
        (l.harness_pid, l.zombies_left, l.strays_left),
        (harness, 0, 0)
    );
    assert!(
        l.marker
            .starts_with(&format!("PARABENCH_LIFECYCLE={harness}-"))
    );
    let ids: Vec<&str> = l.states.iter().map(|s| s.state.as_str()).collect();
    let expected: Vec<&str> = parabench::lifecycle::EXPECTED
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, expected);
    assert!(l.all_seen(), "{l:#?}");

    // What each state rests on, in the events /proc gave.
    let zombie = state(l, "zombie");
    assert!(
        zombie
            .events
            .iter()
            .any(|e| e.proc_state.as_deref() == Some("Z")
                && !e.is_alive
                && e.ppid == Some(l.demo_pid))
    );
    assert!(
        zombie.events.last().unwrap().proc_state.is_none(),
        "reaped: gone"
    );
    let orphan = state(l, "orphan");
    let parent = orphan
        .events
        .iter()
        .find(|e| e.role == "parent")
        .unwrap()
        .pid;
    let ppids: Vec<Option<u32>> = orphan
        .events
        .iter()
        .filter(|e| e.role == "grandchild")
        .map(|e| e.ppid)
        .collect();
    assert_eq!(ppids, [Some(parent), Some(l.demo_pid), None], "{orphan:#?}");
    assert_eq!(state(l, "daemon-process").counts["terminated"], 2);
    assert_eq!(state(l, "non-daemon-process").counts["joined"], 2);
    assert_eq!(state(l, "daemon-thread").counts["alive_at_exit"], 2);
    assert_eq!(state(l, "non-daemon-thread").counts["joined"], 2);
    let lock = state(l, "terminate-lock");
    assert_eq!(lock.counts["owner_dead_seen"], 1);
    assert_eq!(lock.counts["recovered"], 1);
    // The plain mutex's next locker waited its whole deadline; the robust
    // one's was told at once (a ratio, not a time: 50 ms against microseconds).
    assert!(lock.timings_ms["eownerdead_ms"] * 10.0 < lock.timings_ms["plain_lock_wait_ms"]);
    let queue = state(l, "terminate-queue");
    assert_eq!(queue.counts["broken_messages"], 1);
    assert!(queue.counts["bytes_lost"] > 0);
    assert_eq!(queue.counts["recovered_messages"], 1);

    // Our own scan: every pid the run showed is gone (or someone else's
    // now), nothing of the scenario is left, and no zombie of ours.
    assert_eq!(processes_of(l), Vec::<u32>::new());
    for e in l.states.iter().flat_map(|s| &s.events) {
        if let Some((_, _, pgrp)) = stat(e.pid) {
            assert_ne!(pgrp, l.demo_pid, "{e:?} is still there");
        }
    }
    assert_eq!(super::models::lasting_zombies(), zombies_before);

    // The page and the summary show it.
    let md = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(
        md.contains("left behind: 0 zombie(s), 0 stray process(es)"),
        "{md}"
    );
    assert_eq!(md.matches("| yes |").count(), expected.len());
    let html = std::fs::read_to_string(dir.path().join("out/index.html")).unwrap();
    assert_eq!(html.matches("what /proc showed").count(), expected.len());
}

#[test]
fn a_hanging_demo_is_killed_and_reaped_at_its_timeout() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let timeout = 2.0;
    let (code, elapsed, _, report) = run_lifecycle(
        dir.path(),
        &["--timeout", "2"],
        &[(parabench::lifecycle::HANG_VAR, "1")],
    );
    assert_eq!(code, Some(1), "a timed-out scenario fails the run");
    let [l] = report.lifecycle.as_slice() else {
        panic!("one lifecycle run: {:#?}", report.lifecycle)
    };
    let CaseStatus::Failed(why) = &l.status else {
        panic!("{l:#?}")
    };
    assert!(why.contains("timed out after 2 s"), "{why}");
    // It hung in the orphan step: the zombie's state, printed before, is kept.
    assert!(state(l, "zombie").seen);
    assert!(!l.states.iter().any(|s| s.state == "orphan"));
    // The harness waited for its timeout, and not much longer.
    assert!(elapsed.as_secs_f64() >= timeout, "{elapsed:?}");
    assert!(elapsed.as_secs_f64() < 10.0 * timeout, "{elapsed:?}");
    // The demo, its adopted grandchild and the rest were killed and reaped.
    assert_eq!((l.zombies_left, l.strays_left), (0, 0));
    assert_eq!(processes_of(l), Vec::<u32>::new());
    assert_eq!(super::models::lasting_zombies(), Vec::<u32>::new());
}

#[test]
fn keys_and_flags_do_not_apply_to_a_lifecycle_scenario() {
    let suite = |extra: &str| {
        vec![Source {
            name: "suite.toml".into(),
            text: format!("[[scenario]]\nname = \"l\"\nworkload = \"lifecycle\"\n{extra}"),
        }]
    };
    let plan = build(&suite(""), &PlanOptions::default()).unwrap();
    assert!(plan.points.is_empty());
    assert!(plan.scenarios[0].models.is_empty());
    for key in [
        "tasks = 4",
        "models = [\"thread\"]",
        "repetitions = 3",
        "gil = \"legacy\"",
    ] {
        let err = build(&suite(key), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        let name = key.split(' ').next().unwrap();
        assert!(err.starts_with("suite.toml:4:"), "{err}");
        assert!(
            err.contains(&format!(
                "key `{name}`: does not apply to workload `lifecycle`"
            )),
            "{err}"
        );
    }
    let flags = PlanOptions {
        workload: Some(WorkloadKind::Lifecycle),
        tasks: vec![4],
        ..PlanOptions::default()
    };
    let err = build(&[], &flags).unwrap_err().to_string();
    assert!(
        err.starts_with("--tasks: no scenario of this run uses it"),
        "{err}"
    );
}
