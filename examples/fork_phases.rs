//! Where a forked worker's time goes, step by step, beside the OS floor's
//! fork + _exit + wait timed between the tasks (`parabench::model::fork_probe`):
//!
//! ```text
//! cargo run --release --example fork_phases -- [fork|forkserver] [tasks] [worker-answers] [pss] [job-via-stdin]
//! ```
//!
//! `worker-answers`: the worker, not the server, sends its pid; `pss`: the
//! model's memory sampler runs meanwhile, as in a `process` batch;
//! `job-via-stdin`: a `fork` worker reads its job from its stdin, as a
//! `forkserver` one does, instead of inheriting it.
//!
//! Prints each step's median and its 10th and 90th percentiles in µs. The
//! launcher is forked first thing, while this process has one thread, as
//! parabench's `main` does.

use parabench::model::StartMethod;
use parabench::model::fork_probe::{PHASES, probe};
use parabench::stop::Stop;

fn main() {
    if let Err(e) = parabench::model::start::fork_launcher() {
        eprintln!("error: forking the launcher: {e}");
        std::process::exit(1);
    }
    // The fork server is `parabench forkserver`: cargo builds the binary
    // beside `examples/`.
    if let Ok(me) = std::env::current_exe()
        && let Some(dir) = me.parent().and_then(|d| d.parent())
    {
        parabench::model::set_worker_exe(dir.join("parabench"));
    }
    let mut args = std::env::args().skip(1);
    let method = match args.next().as_deref() {
        None | Some("fork") => StartMethod::Fork,
        Some("forkserver") => StartMethod::Forkserver,
        Some(other) => {
            eprintln!("error: {other}: the method is fork or forkserver");
            std::process::exit(2);
        }
    };
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 500,
        Some(Ok(n)) if (1..=100_000).contains(&n) => n,
        Some(_) => {
            eprintln!("error: tasks: a whole number from 1 to 100000");
            std::process::exit(2);
        }
    };
    let mut sample_pss = false;
    for arg in args {
        match arg.as_str() {
            "worker-answers" => parabench::model::fork_probe::set_worker_answers(true),
            "pss" => sample_pss = true,
            "job-via-stdin" => parabench::model::fork_probe::set_job_via_stdin(true),
            other => {
                eprintln!("error: {other}: the options are worker-answers, pss and job-via-stdin");
                std::process::exit(2);
            }
        }
    }
    let code = match probe(method, n, sample_pss, &Stop::never()) {
        Ok(p) => {
            let q = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(f64::total_cmp);
                let at = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize] / 1e3;
                (at(0.5), at(0.1), at(0.9))
            };
            println!("{n} tasks, {method:?}; µs: median [p10-p90]");
            for (name, ns) in PHASES.iter().zip(&p.ns) {
                let (m, lo, hi) = q(ns);
                println!("  {name:<52} {m:>8.1} [{lo:.1}-{hi:.1}]");
            }
            let (t, tlo, thi) = q(&p.total_ns);
            let (f, flo, fhi) = q(&p.floor_ns);
            println!("  {:<52} {t:>8.1} [{tlo:.1}-{thi:.1}]", "total");
            println!(
                "  {:<52} {f:>8.1} [{flo:.1}-{fhi:.1}]",
                "floor: fork + _exit + wait"
            );
            println!("  total / floor (medians): {:.2}", t / f);
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    parabench::model::start::shutdown();
    std::process::exit(code);
}
