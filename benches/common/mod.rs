//! What both bench binaries share: start-up (the embedded chart font and the
//! worker binary the process models start), a `Batch` with a far
//! deadline, and the checksum check that proves a model really ran the tasks.
//! Lives in `common/mod.rs` so cargo does not take it for a bench of its own.

use parabench::model::{Batch, BatchOutcome, set_worker_exe};
use parabench::workload::{Task, expected_checksum};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Call first in every bench `main`, before criterion draws or spawns, or
/// any thread starts: it forks the launcher the `fork` start method needs,
/// as `parabench`'s own `main` does, while this process has one thread.
///
/// criterion shares our plotters build, whose only font is the one we
/// register, so its charts panic with `FontUnavailable` without it. The
/// process models re-execute "the harness" (the fork server) and start the
/// `parabench-worker` beside it (spawn); in a bench binary the harness must
/// be the real `parabench` binary, which cargo builds for every bench
/// target, with the worker beside it.
pub fn init() {
    if let Err(e) = parabench::model::start::fork_launcher() {
        panic!("forking the launcher: {e}");
    }
    parabench::fonts::register();
    set_worker_exe(env!("CARGO_BIN_EXE_parabench").into());
}

/// A batch that never times out during a bench and is never cancelled, its
/// processes started by spawn.
pub fn batch<'a>(tasks: &'a [Task], workers: usize, cancel: &'a AtomicBool) -> Batch<'a> {
    Batch {
        tasks,
        workers,
        deadline: Instant::now() + Duration::from_secs(3600),
        cancel,
        gil: None,
        shape: None,
        switch_interval: Duration::from_millis(5),
        start: Default::default(),
    }
}

/// Panics unless `outcome` holds one record per task with the checksum a
/// correct run produces: a broken model must not look fast.
pub fn verify(what: &str, tasks: &[Task], outcome: &BatchOutcome) {
    assert_eq!(outcome.records.len(), tasks.len(), "{what}: records");
    for rec in &outcome.records {
        let task = &tasks[rec.output.idx as usize];
        assert_eq!(
            rec.output.checksum,
            expected_checksum(task),
            "{what}: checksum of task {}",
            task.idx
        );
    }
}
