//! The coordination workloads through the executable: a lock scenario's
//! counter and figures in results.json, and deadlock cases that end with
//! status `deadlock` and the cycle named, well within the case timeout,
//! with nothing they started left running.

use parabench::results::{CaseStatus, RunReport};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs parabench on `suite` in a fresh directory with `tag` in its
/// environment (which every process it starts inherits), and reads the
/// results back.
fn run(suite: &str, tag: &str) -> (RunReport, Duration, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "suite.toml", "--out", "out", "--no-report"])
        .current_dir(dir.path())
        .env("PARABENCH_COORDINATION_TEST", tag)
        .output()
        .expect("parabench runs");
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let text = std::fs::read(dir.path().join("out/results.json")).expect(&err);
    (serde_json::from_slice(&text).unwrap(), took, dir)
}

/// Live processes (not zombies) whose environment holds `tag`.
fn tagged(tag: &str) -> Vec<String> {
    let needle = format!("PARABENCH_COORDINATION_TEST={tag}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            env.split(|&b| b == 0).any(|v| v == needle.as_bytes())
        })
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z" | "X") | None)
        })
        .collect()
}

fn tag(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[test]
fn deadlocks_are_caught_named_and_cleaned_up_and_an_rlock_completes() {
    let suite = "[settings]\nrepetitions = 1\nwarmup = 0\ntimeout_s = 20\n\
        [[scenario]]\nname = \"reacquire-lock\"\nworkload = \"lock\"\nmodels = [\"thread\", \"process\", \"async\"]\n\
        workers = 2\nprimitive = \"mutex\"\ndeadlock = \"reacquire\"\nsections = 10\n\
        [[scenario]]\nname = \"reacquire-rlock\"\nworkload = \"lock\"\nmodels = [\"thread\", \"process\", \"async\"]\n\
        workers = 2\nprimitive = \"rlock\"\ndeadlock = \"reacquire\"\nsections = 10\n\
        [[scenario]]\nname = \"opposite\"\nworkload = \"lock\"\nmodels = [\"thread+gil\", \"process\"]\n\
        workers = 2\nprimitive = \"mutex\"\ndeadlock = \"opposite-order\"\nsections = 10\n\
        start_method = [\"spawn\", \"fork\"]\n";
    let tag = tag("deadlock");
    let (report, took, _dir) = run(suite, &tag);
    // Nine cases (the opposite-order process case under spawn and fork),
    // six of them deadlocked: each is found within a fraction of its 20 s
    // timeout.
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_eq!(report.cases.len(), 9);
    for case in &report.cases {
        let want_deadlock = case.scenario != "reacquire-rlock";
        match (&case.status, want_deadlock) {
            (CaseStatus::Deadlock(cycle), true) => {
                if case.scenario == "opposite" {
                    assert_eq!(
                        cycle,
                        "unit 0 holds L1 and waits for L2; unit 1 holds L2 and waits for L1"
                    );
                } else {
                    assert!(
                        cycle.ends_with("holds L1 and waits for L1"),
                        "{}: {cycle}",
                        case.model
                    );
                }
            }
            (CaseStatus::Ok, false) => {
                let lock = case.lock.as_ref().expect("a lock record");
                assert_eq!(lock.lost_updates, [0]);
            }
            (status, _) => panic!("{} {}: {status}", case.scenario, case.model),
        }
    }
    // Killed and reaped: nothing the run started is left running.
    let until = Instant::now() + Duration::from_secs(5);
    while !tagged(&tag).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(tagged(&tag), Vec::<String>::new(), "stray processes");
}

#[test]
fn a_lock_scenario_reports_its_counter_waits_and_fairness() {
    let suite = "[settings]\nrepetitions = 2\nwarmup = 0\n\
        [[scenario]]\nname = \"mutex\"\nworkload = \"lock\"\nmodels = [\"thread\", \"process-pool\", \"async\"]\n\
        workers = 3\nprimitive = \"mutex\"\nsections = 300\nhold_us = 2\n\
        [[scenario]]\nname = \"semaphore\"\nworkload = \"lock\"\nmodels = [\"thread\", \"process\"]\n\
        workers = 4\nprimitive = \"semaphore\"\npermits = 2\nsections = 200\nhold_us = 5\n";
    let (report, _, _dir) = run(suite, &tag("lock"));
    assert_eq!(report.cases.len(), 5);
    for case in &report.cases {
        assert!(
            case.is_ok(),
            "{} {}: {}",
            case.scenario,
            case.model,
            case.status
        );
        let lock = case.lock.as_ref().expect("a lock record");
        assert_eq!(lock.lost_updates, [0, 0], "{}", case.model);
        assert!(lock.sections_per_s.is_some_and(|e| e.median > 0.0));
        assert!(lock.wait_ms.is_some());
        let (min, max) = (lock.fairness_min.unwrap(), lock.fairness_max.unwrap());
        assert!(0.0 <= min && min <= max && max <= 1.0, "{min} {max}");
        if case.scenario == "semaphore" {
            assert!(lock.most_inside.is_some_and(|m| (1..=2).contains(&m)));
        }
    }
}

#[test]
fn real_cpython_deadlocks_the_same_way_and_its_locks_keep_the_count() {
    if let Err(e) = parabench::cpython::python3() {
        eprintln!("skipping: {e}");
        return;
    }
    let suite = "[settings]\nrepetitions = 1\nwarmup = 0\ntimeout_s = 30\n\
        [[scenario]]\nname = \"reacquire-lock\"\nworkload = \"lock\"\nmodels = [\"cpython-thread\", \"cpython-process\"]\n\
        workers = 2\nprimitive = \"mutex\"\ndeadlock = \"reacquire\"\nsections = 10\n\
        [[scenario]]\nname = \"reacquire-rlock\"\nworkload = \"lock\"\nmodels = [\"cpython-thread\", \"cpython-process\"]\n\
        workers = 2\nprimitive = \"rlock\"\ndeadlock = \"reacquire\"\nsections = 10\n\
        [[scenario]]\nname = \"semaphore\"\nworkload = \"lock\"\nmodels = [\"cpython-thread\", \"cpython-process\", \"cpython-asyncio\"]\n\
        workers = 3\nprimitive = \"semaphore\"\npermits = 2\nsections = 50\nhold_us = 10\n";
    let tag = tag("cpython");
    let (report, _, _dir) = run(suite, &tag);
    assert_eq!(report.cases.len(), 7);
    for case in &report.cases {
        let what = format!("{} {}: {}", case.scenario, case.model, case.status);
        match case.scenario.as_str() {
            "reacquire-lock" => assert!(
                matches!(&case.status, CaseStatus::Deadlock(c) if c.ends_with("holds L1 and waits for L1")),
                "{what}"
            ),
            _ => {
                assert!(case.is_ok(), "{what}");
                let lock = case.lock.as_ref().unwrap();
                assert_eq!(lock.lost_updates, [0], "{what}");
                if case.scenario == "semaphore" {
                    assert!(
                        lock.most_inside.is_some_and(|m| (1..=2).contains(&m)),
                        "{what}"
                    );
                }
            }
        }
    }
    let until = Instant::now() + Duration::from_secs(5);
    while !tagged(&tag).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(tagged(&tag), Vec::<String>::new(), "stray processes");
}

#[test]
fn every_item_goes_through_a_queue_once_under_every_model() {
    let python = parabench::cpython::python3().is_ok();
    let models = if python {
        "[\"thread\", \"process\", \"async\", \"thread+gil\", \"cpython-thread\", \"cpython-process\", \"cpython-asyncio\"]"
    } else {
        "[\"thread\", \"process\", \"async\", \"thread+gil\"]"
    };
    let suite = format!(
        "[settings]\nrepetitions = 2\nwarmup = 0\ntimeout_s = 60\n\
        [[scenario]]\nname = \"queue\"\nworkload = \"queue\"\nmodels = {models}\n\
        producers = 2\nconsumers = 3\ncapacity = 8\nitem_bytes = 300\nitems = 600\n\
        [[scenario]]\nname = \"joinable\"\nworkload = \"queue\"\nmodels = {models}\n\
        producers = 2\nconsumers = 2\ncapacity = 4\nitems = 300\nsemantics = \"joinable\"\ndaemon = true\n"
    );
    let tag = tag("queue");
    let (report, _, _dir) = run(&suite, &tag);
    assert_eq!(report.cases.len(), if python { 14 } else { 8 });
    for case in &report.cases {
        assert!(
            case.is_ok(),
            "{} {}: {}",
            case.scenario,
            case.model,
            case.status
        );
        let q = case.queue.as_ref().expect("a queue record");
        // A point gets more rounds while a verdict on it is undecided.
        assert_eq!(
            q.samples_items_per_s.len(),
            case.repetitions.len(),
            "{}",
            case.model
        );
        assert!(case.repetitions.len() >= 2);
        assert!(q.latency_ms.is_some_and(|l| l.p50 <= l.p99));
        assert!(q.cpu_us_per_item.is_some_and(|c| c > 0.0));
    }
    assert!(
        tagged(&tag).is_empty(),
        "stray processes: {:?}",
        tagged(&tag)
    );
}
