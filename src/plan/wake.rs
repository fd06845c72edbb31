//! Which models run the `event` and `timer` workloads, and which timer
//! mechanism each model stands for; the refusals name the `models` key.
//! (Their keys, `rounds`, `timers` and `delay_ms`, are coordination keys:
//! `plan::coordination` reads and layers them.)

use super::Scenario;
use super::coordination::Refusal;
use crate::model::{ModelId, ModelKind};
use crate::spec::WorkloadKind;
use crate::workload::wake::Mechanism;

/// The models an event's setter and waiters run under: every unit at once,
/// native threads, processes or tasks, and the `+gil` forms.
pub fn runs_event(model: ModelId) -> bool {
    matches!(
        model.kind,
        ModelKind::Thread
            | ModelKind::ThreadPool
            | ModelKind::Process
            | ModelKind::ProcessPool
            | ModelKind::Async
            | ModelKind::AsyncSingle
            | ModelKind::CpythonThread
            | ModelKind::CpythonProcess
            | ModelKind::CpythonAsyncio
    )
}

/// The timer mechanism a model stands for: `thread` starts a thread per
/// timer (threading.Timer), `thread-pool` hands its timers to one scheduler
/// thread (a pool's scheduled executor), the async models sleep on tokio's
/// timer wheel. None: the model does not run the timer workload.
pub fn mechanism(model: ModelId) -> Option<Mechanism> {
    if model.gil {
        return None;
    }
    match model.kind {
        ModelKind::Thread => Some(Mechanism::ThreadPerTimer),
        ModelKind::ThreadPool => Some(Mechanism::Scheduler),
        ModelKind::Async | ModelKind::AsyncSingle => Some(Mechanism::Wheel),
        _ => None,
    }
}

/// How a model arms a timer batch's timers, by name: a native mechanism's
/// id, or the CPython reference's (`threading.Timer` for cpython-thread,
/// `call_later` for cpython-asyncio). None: it does not run timers.
pub fn timer_mechanism(model: ModelId) -> Option<&'static str> {
    match model.kind {
        ModelKind::CpythonThread => Some("threading.Timer"),
        ModelKind::CpythonAsyncio => Some("call_later"),
        _ => mechanism(model).map(Mechanism::id),
    }
}

/// Threads a timer case starts besides its model's: one per timer for a
/// thread per timer (native or `threading.Timer`), one for a scheduler.
pub fn timer_threads(model: ModelId, timers: u32) -> usize {
    match timer_mechanism(model) {
        Some("thread-per-timer" | "threading.Timer") => timers as usize,
        Some("scheduler") => 1,
        _ => 0,
    }
}

pub fn refusal(s: &Scenario) -> Option<Refusal> {
    match s.workload {
        WorkloadKind::Event => {
            let m = s.models.iter().find(|m| !runs_event(**m))?;
            Some(Refusal {
                key: "models",
                message: format!(
                    "model `{m}` does not run the event workload: its setter and waiters must run at once"
                ),
                help: "use thread, thread-pool, process, process-pool, async, async-single and their +gil forms, or cpython-thread, cpython-process and cpython-asyncio".into(),
            })
        }
        WorkloadKind::Timer => {
            let m = s.models.iter().find(|m| timer_mechanism(**m).is_none())?;
            Some(Refusal {
                key: "models",
                message: format!(
                    "model `{m}` does not run the timer workload: no timer mechanism stands for it"
                ),
                help: "use thread (a thread per timer), thread-pool (one scheduler thread), async or async-single (tokio's timer wheel), cpython-thread (threading.Timer) or cpython-asyncio (loop.call_later)".into(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PlanOptions, Source, build};
    use super::*;

    fn plan(workload: &str, body: &str) -> super::super::Plan {
        let sources = vec![Source {
            name: "suite.toml".into(),
            text: format!("[[scenario]]\nname = \"w\"\nworkload = \"{workload}\"\n{body}"),
        }];
        build(&sources, &PlanOptions::default()).unwrap()
    }

    #[test]
    fn an_event_point_per_waiter_count_whose_tasks_are_the_waiters_and_the_setter() {
        let p = plan(
            "event",
            "models = [\"thread\", \"process+gil\", \"cpython-asyncio\"]\nworkers = [1, 8]\nrounds = 40\n",
        );
        let shapes: Vec<(usize, Vec<usize>)> = p
            .points
            .iter()
            .map(|p| (p.point.tasks, p.cases.iter().map(|c| c.workers).collect()))
            .collect();
        assert_eq!(shapes, [(2, vec![2, 2, 2]), (9, vec![9, 9, 9])]);
        let e = p.points[1].point.shape.event.unwrap();
        assert_eq!((e.waiters, e.rounds), (8, 40));
        assert!(p.points[0].params.contains(&("rounds", 40.0)));
    }

    #[test]
    fn a_timer_point_per_timer_count_with_one_unit_and_its_mechanism() {
        let p = plan(
            "timer",
            "models = [\"thread\", \"thread-pool\", \"async\", \"cpython-thread\"]\ntimers = [10, 10000]\ndelay_ms = 5\n",
        );
        assert_eq!(p.points.len(), 2);
        for (pp, n) in p.points.iter().zip([10, 10_000]) {
            assert_eq!(pp.point.tasks, 1);
            assert!(pp.cases.iter().all(|c| c.workers == 1));
            assert_eq!(pp.cases.len(), 4, "no baseline added");
            let t = pp.point.shape.timer.unwrap();
            assert_eq!((t.timers, t.delay_ms), (n, 5.0));
            assert!(pp.params.contains(&("timers", f64::from(n))));
        }
        let names: Vec<Option<&str>> = p.points[0]
            .cases
            .iter()
            .map(|c| timer_mechanism(c.model))
            .collect();
        assert_eq!(
            names,
            [
                Some("thread-per-timer"),
                Some("scheduler"),
                Some("wheel"),
                Some("threading.Timer")
            ]
        );
        let threads: Vec<usize> = p.points[1]
            .cases
            .iter()
            .map(|c| timer_threads(c.model, 10_000))
            .collect();
        assert_eq!(threads, [10_000, 1, 0, 10_000]);
    }
}
