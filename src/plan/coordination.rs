//! The coordination workloads' keys (`lock`: `primitive`, `depth`,
//! `permits`, `sections`, `hold_us`, `outside_us`, `deadlock`; `queue`:
//! `producers`, `consumers`, `capacity`, `item_bytes`, `items`,
//! `semantics`, `daemon`; `event`: `rounds`; `timer`: `timers`,
//! `delay_ms`): their override layer, their defaults, and the
//! checks that relate them to each other and to the models, each refusal
//! naming the file, line and key (or the flag) before anything runs. A lock
//! point's units are its `workers`: the plan makes one point per value,
//! whose tasks are its units; a queue scenario has one point whose tasks
//! are its producers and consumers. An event point's tasks are its
//! `workers` waiters and the setter; a timer scenario has a point per
//! `timers` value, whose one task arms them all.

use super::{PlanError, Point, Scenario, Source, located, not_here, take};
use crate::model::{ModelId, ModelKind};
use crate::spec::{ScenarioSpec, WorkloadKind};
use crate::workload::lock::{Deadlock, LockShape, Primitive};
use crate::workload::queue::{QueueShape, Semantics};
use crate::workload::wake::{EventShape, TimerShape};
use std::ops::Range;
use toml::Spanned;

/// A lock scenario's resolved keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Coordination {
    pub primitive: Primitive,
    pub depth: u32,
    pub permits: u32,
    pub sections: u64,
    pub hold_us: f64,
    pub outside_us: f64,
    pub deadlock: Option<Deadlock>,
    pub producers: u32,
    pub consumers: u32,
    pub capacity: u32,
    pub item_bytes: u32,
    pub items: u64,
    pub semantics: Semantics,
    pub daemon: bool,
    pub rounds: u32,
    pub timers: Vec<usize>,
    pub delay_ms: f64,
}

impl Default for Coordination {
    fn default() -> Self {
        Coordination {
            primitive: Primitive::Mutex,
            depth: 1,
            permits: 1,
            sections: 1000,
            hold_us: 1.0,
            outside_us: 1.0,
            deadlock: None,
            producers: 2,
            consumers: 2,
            capacity: 100,
            item_bytes: 64,
            items: 10_000,
            semantics: Semantics::Queue,
            daemon: false,
            rounds: 200,
            timers: vec![10, 100, 1000],
            delay_ms: 20.0,
        }
    }
}

impl Coordination {
    pub fn lock_shape(&self) -> LockShape {
        LockShape {
            primitive: self.primitive,
            depth: self.depth,
            permits: self.permits,
            sections: self.sections,
            hold_us: self.hold_us,
            outside_us: self.outside_us,
            deadlock: self.deadlock,
        }
    }

    /// What identifies a lock case in results besides its model and units
    /// (the primitive and the deadlock are in its `lock` record).
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("sections", self.sections as f64),
            ("hold_us", self.hold_us),
            ("outside_us", self.outside_us),
        ];
        match self.primitive {
            Primitive::Rlock => out.push(("depth", f64::from(self.depth))),
            Primitive::Semaphore => out.push(("permits", f64::from(self.permits))),
            Primitive::Mutex | Primitive::None => {}
        }
        out
    }

    pub fn queue_shape(&self) -> QueueShape {
        QueueShape {
            producers: self.producers,
            consumers: self.consumers,
            capacity: self.capacity,
            item_bytes: self.item_bytes,
            items: self.items,
            semantics: self.semantics,
            daemon: self.daemon,
        }
    }

    /// What identifies a queue case in results besides its model.
    pub fn queue_params(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("producers", f64::from(self.producers)),
            ("consumers", f64::from(self.consumers)),
            ("capacity", f64::from(self.capacity)),
            ("item_bytes", f64::from(self.item_bytes)),
            ("items", self.items as f64),
            (
                "joinable",
                f64::from(u8::from(self.semantics == Semantics::Joinable)),
            ),
            ("daemon", f64::from(u8::from(self.daemon))),
        ]
    }

    pub fn event_shape(&self, waiters: usize) -> EventShape {
        EventShape {
            waiters: waiters as u32,
            rounds: self.rounds,
        }
    }

    pub fn timer_shape(&self, timers: usize) -> TimerShape {
        TimerShape {
            timers: timers as u32,
            delay_ms: self.delay_ms,
        }
    }

    /// Every numeric key with its value, for the range checks (`timers`,
    /// a sweep, is checked value by value in `bounds`).
    pub fn values(&self) -> [(&'static str, f64); 12] {
        [
            ("depth", f64::from(self.depth)),
            ("permits", f64::from(self.permits)),
            ("sections", self.sections as f64),
            ("hold_us", self.hold_us),
            ("outside_us", self.outside_us),
            ("producers", f64::from(self.producers)),
            ("consumers", f64::from(self.consumers)),
            ("capacity", f64::from(self.capacity)),
            ("item_bytes", f64::from(self.item_bytes)),
            ("items", self.items as f64),
            ("rounds", f64::from(self.rounds)),
            ("delay_ms", self.delay_ms),
        ]
    }
}

/// The keys this module owns, as suite files name them, with the workload
/// each applies to.
pub const KEYS: [(&str, WorkloadKind); 17] = [
    ("primitive", WorkloadKind::Lock),
    ("depth", WorkloadKind::Lock),
    ("permits", WorkloadKind::Lock),
    ("sections", WorkloadKind::Lock),
    ("hold_us", WorkloadKind::Lock),
    ("outside_us", WorkloadKind::Lock),
    ("deadlock", WorkloadKind::Lock),
    ("producers", WorkloadKind::Queue),
    ("consumers", WorkloadKind::Queue),
    ("capacity", WorkloadKind::Queue),
    ("item_bytes", WorkloadKind::Queue),
    ("items", WorkloadKind::Queue),
    ("semantics", WorkloadKind::Queue),
    ("daemon", WorkloadKind::Queue),
    ("rounds", WorkloadKind::Event),
    ("timers", WorkloadKind::Timer),
    ("delay_ms", WorkloadKind::Timer),
];

/// Whether `key` applies to `w`; None for a key this module does not own.
pub fn applies(key: &str, w: WorkloadKind) -> Option<bool> {
    KEYS.iter().find(|(k, _)| *k == key).map(|(_, on)| *on == w)
}

/// One layer of coordination keys (a scenario table, its quick table).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    pub primitive: Option<Primitive>,
    pub depth: Option<u32>,
    pub permits: Option<u32>,
    pub sections: Option<u64>,
    pub hold_us: Option<f64>,
    pub outside_us: Option<f64>,
    pub deadlock: Option<Deadlock>,
    pub producers: Option<u32>,
    pub consumers: Option<u32>,
    pub capacity: Option<u32>,
    pub item_bytes: Option<u32>,
    pub items: Option<u64>,
    pub semantics: Option<Semantics>,
    pub daemon: Option<bool>,
    pub rounds: Option<u32>,
    pub timers: Option<Vec<usize>>,
    pub delay_ms: Option<f64>,
}

impl Layer {
    /// `self`, with every value `over` sets replaced by `over`'s.
    pub fn then(&self, over: &Layer) -> Layer {
        Layer {
            primitive: over.primitive.or(self.primitive),
            depth: over.depth.or(self.depth),
            permits: over.permits.or(self.permits),
            sections: over.sections.or(self.sections),
            hold_us: over.hold_us.or(self.hold_us),
            outside_us: over.outside_us.or(self.outside_us),
            deadlock: over.deadlock.or(self.deadlock),
            producers: over.producers.or(self.producers),
            consumers: over.consumers.or(self.consumers),
            capacity: over.capacity.or(self.capacity),
            item_bytes: over.item_bytes.or(self.item_bytes),
            items: over.items.or(self.items),
            semantics: over.semantics.or(self.semantics),
            daemon: over.daemon.or(self.daemon),
            rounds: over.rounds.or(self.rounds),
            timers: over.timers.clone().or_else(|| self.timers.clone()),
            delay_ms: over.delay_ms.or(self.delay_ms),
        }
    }

    pub fn keys(&self) -> Vec<&'static str> {
        let set = [
            self.primitive.is_some(),
            self.depth.is_some(),
            self.permits.is_some(),
            self.sections.is_some(),
            self.hold_us.is_some(),
            self.outside_us.is_some(),
            self.deadlock.is_some(),
            self.producers.is_some(),
            self.consumers.is_some(),
            self.capacity.is_some(),
            self.item_bytes.is_some(),
            self.items.is_some(),
            self.semantics.is_some(),
            self.daemon.is_some(),
            self.rounds.is_some(),
            self.timers.is_some(),
            self.delay_ms.is_some(),
        ];
        KEYS.into_iter()
            .zip(set)
            .filter_map(|((k, _), on)| on.then_some(k))
            .collect()
    }

    /// Writes the values set into `s`, the keys of its workload only.
    pub fn apply(&self, s: &mut Scenario) {
        let w = s.workload;
        let c = &mut s.coordination;
        if w == WorkloadKind::Event {
            c.rounds = self.rounds.unwrap_or(c.rounds);
        }
        if w == WorkloadKind::Timer {
            c.timers = self.timers.clone().unwrap_or_else(|| c.timers.clone());
            c.delay_ms = self.delay_ms.unwrap_or(c.delay_ms);
        }
        if w == WorkloadKind::Queue {
            c.producers = self.producers.unwrap_or(c.producers);
            c.consumers = self.consumers.unwrap_or(c.consumers);
            c.capacity = self.capacity.unwrap_or(c.capacity);
            c.item_bytes = self.item_bytes.unwrap_or(c.item_bytes);
            c.items = self.items.unwrap_or(c.items);
            c.semantics = self.semantics.unwrap_or(c.semantics);
            c.daemon = self.daemon.unwrap_or(c.daemon);
        }
        if w != WorkloadKind::Lock {
            return;
        }
        c.primitive = self.primitive.unwrap_or(c.primitive);
        c.depth = self.depth.unwrap_or(c.depth);
        c.permits = self.permits.unwrap_or(c.permits);
        c.sections = self.sections.unwrap_or(c.sections);
        c.hold_us = self.hold_us.unwrap_or(c.hold_us);
        c.outside_us = self.outside_us.unwrap_or(c.outside_us);
        c.deadlock = self.deadlock.or(c.deadlock);
    }

    /// The keys a scenario table sets; one that does not apply to `w`, or
    /// a name that is no primitive or deadlock, is an error at its line.
    pub fn from_spec(
        source: &Source,
        w: WorkloadKind,
        spec: &ScenarioSpec,
    ) -> Result<Layer, PlanError> {
        let check = |key: &str, span: Range<usize>| {
            if applies(key, w) == Some(true) {
                return Ok(());
            }
            let on = KEYS
                .iter()
                .find(|(k, _)| *k == key)
                .map_or("lock", |(_, on)| on.id());
            Err(not_here(source, span, key, w, on))
        };
        let primitive = match &spec.primitive {
            Some(v) => {
                check("primitive", v.span())?;
                Some(Primitive::from_id(v.get_ref()).ok_or_else(|| {
                    located(
                        source,
                        v.span(),
                        Some("primitive"),
                        &format!("unknown primitive `{}`", v.get_ref()),
                        "use one of: mutex, rlock, semaphore, none",
                    )
                })?)
            }
            None => None,
        };
        let deadlock = match &spec.deadlock {
            Some(v) => {
                check("deadlock", v.span())?;
                Some(Deadlock::from_id(v.get_ref()).ok_or_else(|| {
                    located(
                        source,
                        v.span(),
                        Some("deadlock"),
                        &format!("unknown deadlock `{}`", v.get_ref()),
                        "use `reacquire` (a unit takes its lock twice) or `opposite-order` (two units take two locks in opposite order)",
                    )
                })?)
            }
            None => None,
        };
        let semantics = match &spec.semantics {
            Some(v) => {
                check("semantics", v.span())?;
                Some(Semantics::from_id(v.get_ref()).ok_or_else(|| {
                    located(
                        source,
                        v.span(),
                        Some("semantics"),
                        &format!("unknown semantics `{}`", v.get_ref()),
                        "use `queue` (queue.Queue) or `joinable` (JoinableQueue: task_done and join)",
                    )
                })?)
            }
            None => None,
        };
        Ok(Layer {
            producers: take(&spec.producers, "producers", &check, |n| *n)?,
            consumers: take(&spec.consumers, "consumers", &check, |n| *n)?,
            capacity: take(&spec.capacity, "capacity", &check, |n| *n)?,
            item_bytes: take(&spec.item_bytes, "item_bytes", &check, |n| *n)?,
            items: take(&spec.items, "items", &check, |n| *n)?,
            semantics,
            daemon: take(&spec.daemon, "daemon", &check, |b| *b)?,
            rounds: take(&spec.rounds, "rounds", &check, |n| *n)?,
            timers: take(&spec.timers, "timers", &check, |v| {
                v.0.iter().map(|n| n.get()).collect()
            })?,
            delay_ms: take(&spec.delay_ms, "delay_ms", &check, |d| d.0)?,
            primitive,
            depth: take(&spec.depth, "depth", &check, |n| *n)?,
            permits: take(&spec.permits, "permits", &check, |n| *n)?,
            sections: take(&spec.sections, "sections", &check, |n| *n)?,
            hold_us: take(&spec.hold_us, "hold_us", &check, |d| d.0)?,
            outside_us: take(&spec.outside_us, "outside_us", &check, |d| d.0)?,
            deadlock,
        })
    }
}

/// Where a scenario table sets one of this module's keys.
pub fn key_span(spec: &ScenarioSpec, key: &str) -> Option<Range<usize>> {
    match key {
        "primitive" => spec.primitive.as_ref().map(Spanned::span),
        "depth" => spec.depth.as_ref().map(Spanned::span),
        "permits" => spec.permits.as_ref().map(Spanned::span),
        "sections" => spec.sections.as_ref().map(Spanned::span),
        "hold_us" => spec.hold_us.as_ref().map(Spanned::span),
        "outside_us" => spec.outside_us.as_ref().map(Spanned::span),
        "deadlock" => spec.deadlock.as_ref().map(Spanned::span),
        "producers" => spec.producers.as_ref().map(Spanned::span),
        "consumers" => spec.consumers.as_ref().map(Spanned::span),
        "capacity" => spec.capacity.as_ref().map(Spanned::span),
        "item_bytes" => spec.item_bytes.as_ref().map(Spanned::span),
        "items" => spec.items.as_ref().map(Spanned::span),
        "semantics" => spec.semantics.as_ref().map(Spanned::span),
        "daemon" => spec.daemon.as_ref().map(Spanned::span),
        "rounds" => spec.rounds.as_ref().map(Spanned::span),
        "timers" => spec.timers.as_ref().map(Spanned::span),
        "delay_ms" => spec.delay_ms.as_ref().map(Spanned::span),
        _ => None,
    }
}

/// A combination the plan refuses: the key to point at, why, and how to
/// fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub key: &'static str,
    pub message: String,
    pub help: String,
}

/// The CPython models that run the lock workload: the pools would need
/// their locks passed to workers at start-up, which the runner does not do.
pub fn runs_lock(model: ModelId) -> bool {
    !matches!(
        model.kind,
        ModelKind::CpythonThreadPool
            | ModelKind::CpythonProcessPool
            | ModelKind::CpythonInterpreterPool
            // One thread of coroutines: a unit that waits for another holds
            // the only thread (the coroutine models run no coordination).
            | ModelKind::Greenlet
            | ModelKind::Gevent
            | ModelKind::CpythonGreenlet
            | ModelKind::CpythonGevent
    )
}

/// Checks a resolved lock scenario's keys against each other and its
/// models. `explicit` says which keys the suite set (a default never
/// conflicts).
pub fn refusal(s: &Scenario, explicit: &dyn Fn(&str) -> bool) -> Option<Refusal> {
    if s.workload == WorkloadKind::Convoy
        && let Some(m) = s.models.iter().find(|m| {
            matches!(
                m.kind,
                ModelKind::Greenlet
                    | ModelKind::Gevent
                    | ModelKind::CpythonGreenlet
                    | ModelKind::CpythonGevent
            )
        })
    {
        return Some(Refusal {
            key: "models",
            message: format!(
                "model `{m}` does not run the convoy workload: its probe and CPU tasks \
                 must be threads, and a coroutine model runs every task on one thread"
            ),
            help: "use thread, thread+gil, thread-pool+gil, process-pool+gil, cpython-thread \
                   or cpython-thread-pool"
                .into(),
        });
    }
    if s.workload == WorkloadKind::Queue {
        return queue_refusal(s);
    }
    if matches!(s.workload, WorkloadKind::Event | WorkloadKind::Timer) {
        return super::wake::refusal(s);
    }
    if s.workload != WorkloadKind::Lock {
        return None;
    }
    let c = &s.coordination;
    let p = c.primitive.id();
    if let Some(d) = c.deadlock {
        if !c.primitive.can_deadlock() {
            return Some(Refusal {
                key: "deadlock",
                message: format!(
                    "primitive `{p}` cannot deadlock this way: a deadlock needs a lock that one unit holds while it waits (`mutex` or `rlock`)"
                ),
                help: "use primitive = \"mutex\" (it deadlocks) or \"rlock\" (re-entry completes), or remove `deadlock`".into(),
            });
        }
        if d == Deadlock::Reacquire && c.depth > 1 {
            return Some(Refusal {
                key: "depth",
                message: "`depth` and deadlock = \"reacquire\" both say how often a section takes its lock".into(),
                help: "remove `depth`: a reacquire takes the lock twice".into(),
            });
        }
        if d == Deadlock::OppositeOrder && s.workers.iter().any(|&w| w < 2) {
            return Some(Refusal {
                key: "workers",
                message: "deadlock = \"opposite-order\" needs two units or more to take the locks in opposite order".into(),
                help: "make every `workers` value 2 or more".into(),
            });
        }
    }
    if c.depth > 1 && c.primitive != Primitive::Rlock {
        return Some(Refusal {
            key: "depth",
            message: format!(
                "only an rlock can be taken again by its holder; a `{p}` taken twice deadlocks"
            ),
            help: "use primitive = \"rlock\", or deadlock = \"reacquire\" to show the deadlock"
                .into(),
        });
    }
    if explicit("permits") && c.primitive != Primitive::Semaphore {
        return Some(Refusal {
            key: "permits",
            message: format!("applies to primitive = \"semaphore\" only, not `{p}`"),
            help: "remove `permits`, or use primitive = \"semaphore\"".into(),
        });
    }
    if let Some(m) = s.models.iter().find(|m| !runs_lock(**m)) {
        return Some(Refusal {
            key: "models",
            message: format!("model `{m}` does not run the lock workload"),
            help: "use cpython-thread, cpython-process, cpython-asyncio or cpython-sequential for the CPython reference".into(),
        });
    }
    if c.primitive == Primitive::Rlock
        && let Some(m) = s
            .models
            .iter()
            .find(|m| m.kind == ModelKind::CpythonAsyncio)
    {
        return Some(Refusal {
            key: "models",
            message: format!("model `{m}` has no re-entrant lock: asyncio has no RLock"),
            help: "drop cpython-asyncio from `models` for an rlock scenario".into(),
        });
    }
    None
}

/// The most bytes a queue may hold at once: `capacity × item_bytes`.
pub const MAX_QUEUED_BYTES: u64 = 1 << 30;

fn queue_refusal(s: &Scenario) -> Option<Refusal> {
    let c = &s.coordination;
    if c.daemon && c.semantics != Semantics::Joinable {
        return Some(Refusal {
            key: "daemon",
            message: "daemon consumers end with the main work, and without `join()` the main work does not wait for the items to be consumed".into(),
            help: "use semantics = \"joinable\" with daemon = true".into(),
        });
    }
    let bytes = u64::from(c.capacity) * u64::from(c.item_bytes);
    if bytes > MAX_QUEUED_BYTES {
        return Some(Refusal {
            key: "capacity",
            message: format!(
                "capacity × item_bytes is {bytes} bytes, more than the {MAX_QUEUED_BYTES} a queue may hold at once"
            ),
            help: "lower `capacity` or `item_bytes`".into(),
        });
    }
    if let Some(m) = s.models.iter().find(|m| {
        !runs_lock(**m) || matches!(m.kind, ModelKind::Sequential | ModelKind::CpythonSequential)
    }) {
        return Some(Refusal {
            key: "models",
            message: format!(
                "model `{m}` does not run the queue workload: its producers and consumers must run at once"
            ),
            help: "use thread, process, async and their +gil forms, or cpython-thread, cpython-process and cpython-asyncio".into(),
        });
    }
    None
}

/// Refuses a lock scenario's combination of file values, at the key's line
/// (its quick table's under `--quick`).
pub fn check(
    source: &Source,
    spec: &ScenarioSpec,
    s: &Scenario,
    quick: bool,
) -> Result<(), PlanError> {
    let quick_spec = spec
        .quick
        .as_ref()
        .filter(|_| quick)
        .map(|q| q.get_ref().as_ref());
    let span_of = |key: &str| {
        let local = |sp: &ScenarioSpec| key_span(sp, key).or_else(|| super::key_span(sp, key));
        let models = |sp: &ScenarioSpec| {
            (key == "models")
                .then(|| sp.models.as_ref().map(Spanned::span))
                .flatten()
        };
        quick_spec
            .and_then(|q| local(q).or_else(|| models(q)))
            .or_else(|| local(spec))
            .or_else(|| models(spec))
    };
    let explicit = |key: &str| span_of(key).is_some();
    match refusal(s, &explicit) {
        None => Ok(()),
        Some(r) => {
            let span = span_of(r.key)
                .or_else(|| span_of("primitive"))
                .or_else(|| span_of("deadlock"))
                .or_else(|| spec.name.as_ref().map(Spanned::span))
                .unwrap_or(0..0);
            Err(located(source, span, Some(r.key), &r.message, &r.help))
        }
    }
}

/// The same checks once the flags are in: what fails now came from a flag
/// (`--workers`, `--models`).
pub fn check_flags(scenarios: &[Scenario]) -> Result<(), PlanError> {
    for s in scenarios {
        if let Some(r) = refusal(s, &|_| false) {
            let flag = match r.key {
                "workers" => "--workers",
                "models" => "--models",
                _ => {
                    return Err(PlanError::Suite(format!(
                        "scenario `{}`: key `{}`: {}",
                        s.name, r.key, r.message
                    )));
                }
            };
            return Err(PlanError::Flag {
                flag,
                message: format!("scenario `{}`: {}; {}", s.name, r.message, r.help),
            });
        }
    }
    Ok(())
}

/// The least wall time, in seconds, a lock batch can take: every unit's own
/// sections back to back, or every unit's time inside the lock one after
/// another where the lock lets one unit in at a time.
pub fn least_batch_s(point: &Point) -> Option<f64> {
    let lock = point.shape.lock?;
    let sections = lock.sections as f64;
    let units = point.tasks as f64;
    let own = sections * (lock.hold_us + lock.outside_us);
    let inside = match lock.primitive {
        Primitive::Mutex | Primitive::Rlock => units * sections * lock.hold_us,
        Primitive::Semaphore => units * sections * lock.hold_us / f64::from(lock.permits.max(1)),
        Primitive::None => 0.0,
    };
    Some(own.max(inside) / 1e6)
}

#[cfg(test)]
mod tests {
    use super::super::{PlanOptions, build};
    use super::*;

    fn suite(body: &str) -> Vec<Source> {
        vec![Source {
            name: "suite.toml".into(),
            text: format!("[[scenario]]\nname = \"l\"\nworkload = \"lock\"\n{body}"),
        }]
    }

    #[test]
    fn a_lock_point_per_worker_count_whose_tasks_are_its_units() {
        let plan = build(
            &suite("models = [\"thread\", \"process\"]\nworkers = [2, 8]\nprimitive = \"semaphore\"\npermits = 3\nsections = 50\n"),
            &PlanOptions::default(),
        )
        .unwrap();
        let shapes: Vec<(usize, Vec<usize>)> = plan
            .points
            .iter()
            .map(|p| (p.point.tasks, p.cases.iter().map(|c| c.workers).collect()))
            .collect();
        assert_eq!(shapes, [(2, vec![2, 2]), (8, vec![8, 8])]);
        // No sequential baseline is added: a lock case has no speedup.
        assert!(plan.settings.notices.is_empty());
        let lock = plan.points[0].point.shape.lock.unwrap();
        assert_eq!(
            (lock.primitive, lock.permits, lock.sections),
            (Primitive::Semaphore, 3, 50)
        );
        assert!(plan.points[0].params.contains(&("permits", 3.0)));
        assert!(plan.points[0].params.contains(&("sections", 50.0)));
    }

    /// The refusal of `body`, which must name `key` at `line` (of the
    /// scenario table, whose first three lines are fixed).
    fn refused(body: &str, key: &str, line: usize) -> String {
        let err = build(&suite(body), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("suite.toml:{line}:")), "{err}");
        assert!(err.contains(&format!("key `{key}`")), "{err}");
        err
    }

    #[test]
    fn a_coroutine_model_is_refused_for_a_convoy_before_anything_runs() {
        let text = "[[scenario]]\nname = \"c\"\nworkload = \"convoy\"\n\
                    models = [\"thread+gil\", \"gevent\"]\n";
        let sources = [Source {
            name: "suite.toml".into(),
            text: text.into(),
        }];
        let err = build(&sources, &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("suite.toml:4:") && err.contains("key `models`"),
            "{err}"
        );
        assert!(
            err.contains("`gevent` does not run the convoy workload"),
            "{err}"
        );
        let fine = text.replace(", \"gevent\"", "");
        let sources = [Source {
            name: "suite.toml".into(),
            text: fine,
        }];
        assert!(build(&sources, &PlanOptions::default()).is_ok());
    }

    #[test]
    fn combinations_that_cannot_work_are_refused_at_their_key() {
        let err = refused(
            "primitive = \"none\"\ndeadlock = \"reacquire\"\n",
            "deadlock",
            5,
        );
        assert!(err.contains("cannot deadlock"), "{err}");
        refused(
            "primitive = \"semaphore\"\ndeadlock = \"opposite-order\"\n",
            "deadlock",
            5,
        );
        refused("permits = 2\n", "permits", 4);
        let err = refused("depth = 2\n", "depth", 4);
        assert!(err.contains("rlock"), "{err}");
        refused(
            "primitive = \"rlock\"\ndepth = 2\ndeadlock = \"reacquire\"\n",
            "depth",
            5,
        );
        refused(
            "workers = [1, 2]\ndeadlock = \"opposite-order\"\n",
            "workers",
            4,
        );
        refused("models = [\"cpython-thread-pool\"]\n", "models", 4);
        refused(
            "models = [\"cpython-asyncio\"]\nprimitive = \"rlock\"\n",
            "models",
            4,
        );
        refused("primitive = \"spinlock\"\n", "primitive", 4);
        refused("deadlock = \"livelock\"\n", "deadlock", 4);
        let err = refused("tasks = 4\n", "tasks", 4);
        assert!(err.contains("does not apply to workload `lock`"), "{err}");
        // Under --quick the quick table's value is the one refused.
        let text = "deadlock = \"opposite-order\"\n[scenario.quick]\nworkers = 1\n";
        let quick = PlanOptions {
            quick: true,
            ..PlanOptions::default()
        };
        let err = build(&suite(text), &quick).unwrap_err().to_string();
        assert!(
            err.starts_with("suite.toml:6:") && err.contains("`workers`"),
            "{err}"
        );
        // A lock key on another workload does not apply.
        let other = vec![Source {
            name: "suite.toml".into(),
            text: "[[scenario]]\nname = \"c\"\nworkload = \"cpu\"\nprimitive = \"mutex\"\n".into(),
        }];
        let err = build(&other, &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("suite.toml:4:") && err.contains("applies to: lock"),
            "{err}"
        );
    }

    #[test]
    fn a_queue_is_one_point_of_its_producers_and_consumers() {
        let text = "models = [\"thread\", \"cpython-process\"]\nproducers = 3\nconsumers = 2\nsemantics = \"joinable\"\ndaemon = true\n";
        let sources = vec![Source {
            name: "suite.toml".into(),
            text: format!("[[scenario]]\nname = \"q\"\nworkload = \"queue\"\n{text}"),
        }];
        let plan = build(&sources, &PlanOptions::default()).unwrap();
        assert_eq!(plan.points.len(), 1);
        let p = &plan.points[0];
        assert_eq!(p.point.tasks, 5);
        assert!(p.cases.iter().all(|c| c.workers == 5));
        assert_eq!(p.cases.len(), 2, "no baseline added");
        let q = p.point.shape.queue.unwrap();
        assert_eq!((q.semantics, q.daemon), (Semantics::Joinable, true));
        assert!(p.params.contains(&("daemon", 1.0)));
    }

    #[test]
    fn a_flag_that_breaks_a_deadlock_scenario_is_named() {
        let opts = PlanOptions {
            workers: vec![1],
            ..PlanOptions::default()
        };
        let text = "workers = 2\ndeadlock = \"opposite-order\"\n";
        match build(&suite(text), &opts) {
            Err(PlanError::Flag { flag, .. }) => assert_eq!(flag, "--workers"),
            other => panic!("{other:?}"),
        }
    }
}
