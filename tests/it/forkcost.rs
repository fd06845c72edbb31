//! What a forked worker costs and holds: only its three pipes, and a
//! dispatch within reach of the OS floor's fork + _exit + wait
//! (`model::fork_probe`, which times each step apart).

use super::models::{lasting_zombies, use_built_worker};
use parabench::model::StartMethod;
use parabench::model::fork_probe::{PHASES, probe};
use parabench::model::start;
use parabench::stop::Stop;

/// The descriptors `pid` has open: (number, what it is).
fn open_fds(pid: u32) -> Vec<(u32, String)> {
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((n, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn a_forked_worker_holds_its_three_pipes_and_nothing_of_its_server() {
    use_built_worker();
    for method in [StartMethod::Fork, StartMethod::Forkserver] {
        let live = Default::default();
        let mut worker = start::worker(method, true, &live).unwrap();
        // A pool worker says `ready` once it serves: its set-up is done.
        assert_eq!(worker.read_line().unwrap().trim(), "ready", "{method}");
        let fds = open_fds(worker.pid);
        assert_eq!(
            fds.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [0, 1, 2],
            "{method}: {fds:?}"
        );
        assert!(
            fds.iter().all(|(_, what)| what.starts_with("pipe:")),
            "{method}: {fds:?}"
        );
        // Its stdin closed, it ends on its own and is reaped.
        let finished = worker.finish(&live);
        assert_eq!(finished.exit.to_string(), "exit code 0", "{method}");
    }
    assert_eq!(lasting_zombies(), Vec::<u32>::new());
}

#[test]
fn each_step_of_a_forked_task_is_timed_and_the_whole_stays_near_the_floor() {
    use_built_worker();
    for method in [StartMethod::Fork, StartMethod::Forkserver] {
        let p = probe(method, 20, false, &Stop::never()).unwrap();
        assert_eq!(p.total_ns.len(), 20, "{method}");
        assert_eq!(p.floor_ns.len(), 20, "{method}");
        for (name, ns) in PHASES.iter().zip(&p.ns) {
            assert_eq!(ns.len(), 20, "{method}: {name}");
        }
        // The steps are consecutive marks on one clock: they add up to the
        // total (to rounding), and none is negative.
        for i in 0..20 {
            let sum: f64 = p.ns.iter().map(|s| s[i]).sum();
            assert!(
                (sum - p.total_ns[i]).abs() < 1e3,
                "{method}: {sum} vs {}",
                p.total_ns[i]
            );
        }
        // Generous on purpose: a shared 2-core machine under load. The
        // target is 1.5x (README, "Dispatch against the OS floor").
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for (name, ns) in PHASES.iter().zip(&p.ns) {
            println!("{method} {name}: {:.1} µs", median(ns) / 1e3);
        }
        let ratio = median(&p.total_ns) / median(&p.floor_ns);
        println!("{method}: total / floor {ratio:.2}");
        assert!(
            ratio < 8.0,
            "{method}: a forked task costs {ratio:.1}x the floor"
        );
    }
    assert_eq!(lasting_zombies(), Vec::<u32>::new());
}

/// A one-shot job of about `bytes` bytes of JSON: a sleep of 300 ms (time
/// to look at the worker), then CPU steps of one hash.
fn job_of_size(bytes: usize) -> parabench::model::worker::Job {
    use parabench::workload::{Kernel, Step, Task};
    let step = Step::Cpu {
        kernel: Kernel::Hash,
        iters: 1,
        slice_iters: 1,
    };
    let one = serde_json::to_vec(&step).unwrap().len() + 1;
    let mut steps = vec![Step::Sleep { us: 300_000 }];
    steps.extend(vec![step; bytes / one + 1]);
    parabench::model::worker::Job {
        task: Task {
            idx: 7,
            steps,
            releases_gil: false,
        },
        gil: None,
    }
}

#[test]
fn a_fork_worker_inherits_a_small_job_and_reads_a_large_one_from_its_stdin() {
    use parabench::model::start::MAX_INHERITED_JOB;
    use parabench::model::worker::Reply;
    use_built_worker();
    for bytes in [100, MAX_INHERITED_JOB + 1000] {
        let job = job_of_size(bytes);
        let live = Default::default();
        let mut worker = start::one_shot(StartMethod::Fork, &job, &live).unwrap();
        let pid = worker.pid;
        // While it sleeps, what it holds: an inherited job leaves no stdin
        // pipe, only /dev/null on fd 0. It names itself pb-worker last
        // thing before its job.
        let named = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap() != "pb-worker\n" {
            assert!(
                std::time::Instant::now() < named,
                "worker {pid} never set up"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let fds = open_fds(pid);
        assert_eq!(
            fds.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [0, 1, 2],
            "{fds:?}"
        );
        let stdin = &fds[0].1;
        if bytes <= MAX_INHERITED_JOB {
            assert_eq!(stdin, "/dev/null", "{fds:?}");
        } else {
            assert!(stdin.starts_with("pipe:"), "{fds:?}");
        }
        let reply = worker.recv().unwrap();
        let Reply::Done { output, .. } = reply else {
            panic!("{bytes} bytes: {reply:?}");
        };
        assert_eq!(output.idx, 7, "{bytes} bytes");
        let finished = worker.finish(&live);
        assert_eq!(finished.exit.to_string(), "exit code 0", "{bytes} bytes");
    }
    assert_eq!(lasting_zombies(), Vec::<u32>::new());
}

#[test]
fn the_fork_floor_is_timed_in_the_launcher() {
    use parabench::floor::{Mechanism, sample};
    let s = sample(Mechanism::ForkExitWait, 5, &Stop::never()).unwrap();
    assert_eq!(s.ns.len(), 5);
    assert!(s.description.contains("launcher"), "{}", s.description);
}
