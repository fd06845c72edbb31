//! The OS floor under criterion: each raw mechanism a model rests on
//! (pthread create + join, fork + _exit + wait, posix_spawn of /bin/true +
//! wait, a pipe round trip on one core and across two, a channel round
//! trip, a tokio spawn + await on each runtime), timed by the very code the
//! `floor` workload runs (`parabench::floor::sample`). Read beside
//! `dispatch`: a model's dispatch there over its mechanism's floor here is
//! the ratio the report's "Dispatch against the OS floor" table shows.
//!
//! Round trips across cores are bimodal on the 2-core VMs (benches/README.md):
//! compare medians, and look at the distributions in `target/criterion/`.

use criterion::Criterion;
use parabench::floor::{FloorError, Mechanism, sample};
use parabench::stop::Stop;
use std::time::Duration;

fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for m in Mechanism::ALL {
        // A mechanism this machine cannot run (across cores on one CPU) is
        // left out, with the reason, as the run records it.
        match sample(m, 1, &Stop::never()) {
            Ok(_) => {}
            Err(FloorError::Unavailable(why)) => {
                eprintln!("floor/{}: skipped: {why}", m.id());
                continue;
            }
            Err(e) => panic!("floor/{}: {e}", m.id()),
        }
        // Each call sets the mechanism up (threads, pipes, a runtime) and
        // times `iters` operations, one by one, after a short warm-up;
        // only the operations count.
        g.bench_function(m.id(), |b| {
            b.iter_custom(|iters| {
                let timed = sample(m, iters as usize, &Stop::never())
                    .unwrap_or_else(|e| panic!("floor/{}: {e}", m.id()));
                assert_eq!(timed.ns.len() as u64, iters, "floor/{}", m.id());
                Duration::from_nanos(timed.ns.iter().sum::<f64>() as u64)
            })
        });
    }
    g.finish();
}

fn main() {
    // fork + _exit + wait is timed in the launcher, as in a run: forked
    // first, while this process has one thread.
    if let Err(e) = parabench::model::start::fork_launcher() {
        panic!("forking the launcher: {e}");
    }
    // criterion draws its charts with our plotters build, whose only font is
    // the one we register (benches/common/mod.rs says why); this bench starts
    // no worker, so it needs nothing else from `common`.
    parabench::fonts::register();
    let mut c = Criterion::default().configure_from_args();
    floor(&mut c);
    c.final_summary();
}
