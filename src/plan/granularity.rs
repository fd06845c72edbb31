//! The `granularity` scenario's keys (`metg_efficiency`, `metg_tasks`,
//! `metg_min_us`, `metg_step`, `metg_bisections`, `metg_budget_s`): their
//! override layer and defaults, the keys of other workloads it takes
//! (`models`, one `workers`, one `tasks`, one `task_ms` where the search
//! starts, `kernel`, repetitions and the GIL's), the checks that refuse
//! what cannot run, and the sweeps the runner searches: one per (task
//! kind, model), each a `PointPlan` at any duration it asks for.

use super::{CasePlan, Plan, PlanError, PointPlan, Scenario, Source, located, not_here, take};
use crate::granularity::SearchSpec;
use crate::model::ModelId;
use crate::spec::{Names, ScenarioSpec, WorkloadKind};
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// What a granularity sweep's tasks do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Compute for the task's duration (the scenario's `kernel`).
    Cpu,
    /// Sleep for it.
    Sleep,
}

impl TaskKind {
    pub const ALL: [TaskKind; 2] = [TaskKind::Cpu, TaskKind::Sleep];

    pub fn id(self) -> &'static str {
        match self {
            TaskKind::Cpu => "cpu",
            TaskKind::Sleep => "sleep",
        }
    }

    pub fn from_id(id: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.id() == id)
    }
}

/// A granularity scenario's resolved keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Granularity {
    /// The efficiency below which a duration is too small (Task Bench: 0.5).
    pub efficiency: f64,
    pub tasks: Vec<TaskKind>,
    /// The shortest task duration the search tries, in µs.
    pub min_us: f64,
    /// The factor between two durations of the downward sweep.
    pub step: f64,
    /// Bisections of the bracket once efficiency fell below the threshold.
    pub bisections: u32,
    /// Seconds one sweep (one model, one task kind) may take; it stops
    /// with the bracket it has when they are spent.
    pub budget_s: f64,
}

impl Default for Granularity {
    fn default() -> Self {
        Granularity {
            efficiency: 0.5,
            tasks: TaskKind::ALL.to_vec(),
            min_us: 1.0,
            step: 4.0,
            bisections: 4,
            budget_s: 20.0,
        }
    }
}

impl Granularity {
    /// Every numeric key with its value, for the range checks.
    pub fn values(&self) -> [(&'static str, f64); 5] {
        [
            ("metg_efficiency", self.efficiency),
            ("metg_min_us", self.min_us),
            ("metg_step", self.step),
            ("metg_bisections", f64::from(self.bisections)),
            ("metg_budget_s", self.budget_s),
        ]
    }
}

/// The keys this module owns, as suite files name them.
pub const KEYS: [&str; 6] = [
    "metg_efficiency",
    "metg_tasks",
    "metg_min_us",
    "metg_step",
    "metg_bisections",
    "metg_budget_s",
];

/// Whether `key` applies to `w`, for the keys of a granularity scenario
/// (its own and those of the other workloads); None when neither.
pub fn applies(key: &str, w: WorkloadKind) -> Option<bool> {
    if KEYS.contains(&key) {
        return Some(w == WorkloadKind::Granularity);
    }
    if w != WorkloadKind::Granularity {
        return None;
    }
    Some(matches!(
        key,
        "models"
            | "workers"
            | "tasks"
            | "task_ms"
            | "kernel"
            | "repetitions"
            | "warmup"
            | "releases_gil"
            | "gil"
            | "switch_interval_us"
            | "check_interval"
            | "start_method"
    ))
}

/// One layer of granularity keys (a scenario table, its quick table).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    pub efficiency: Option<f64>,
    pub tasks: Option<Vec<TaskKind>>,
    pub min_us: Option<f64>,
    pub step: Option<f64>,
    pub bisections: Option<u32>,
    pub budget_s: Option<f64>,
}

impl Layer {
    /// `self`, with every value `over` sets replaced by `over`'s.
    pub fn then(&self, over: &Layer) -> Layer {
        Layer {
            efficiency: over.efficiency.or(self.efficiency),
            tasks: over.tasks.clone().or_else(|| self.tasks.clone()),
            min_us: over.min_us.or(self.min_us),
            step: over.step.or(self.step),
            bisections: over.bisections.or(self.bisections),
            budget_s: over.budget_s.or(self.budget_s),
        }
    }

    pub fn keys(&self) -> Vec<&'static str> {
        let set = [
            self.efficiency.is_some(),
            self.tasks.is_some(),
            self.min_us.is_some(),
            self.step.is_some(),
            self.bisections.is_some(),
            self.budget_s.is_some(),
        ];
        KEYS.into_iter()
            .zip(set)
            .filter_map(|(k, on)| on.then_some(k))
            .collect()
    }

    /// Writes the values set into `s`, a granularity scenario only.
    pub fn apply(&self, s: &mut Scenario) {
        if s.workload != WorkloadKind::Granularity {
            return;
        }
        let g = &mut s.granularity;
        g.efficiency = self.efficiency.unwrap_or(g.efficiency);
        if let Some(t) = &self.tasks {
            g.tasks = t.clone();
        }
        g.min_us = self.min_us.unwrap_or(g.min_us);
        g.step = self.step.unwrap_or(g.step);
        g.bisections = self.bisections.unwrap_or(g.bisections);
        g.budget_s = self.budget_s.unwrap_or(g.budget_s);
    }

    /// The keys a scenario table sets; one on another workload, or a task
    /// kind that does not exist, is an error at its line.
    pub fn from_spec(
        source: &Source,
        w: WorkloadKind,
        spec: &ScenarioSpec,
    ) -> Result<Layer, PlanError> {
        let check = |key: &str, span: Range<usize>| {
            if w == WorkloadKind::Granularity {
                return Ok(());
            }
            Err(not_here(source, span, key, w, "granularity"))
        };
        let tasks = match &spec.metg_tasks {
            Some(v) => {
                check("metg_tasks", v.span())?;
                Some(parse_kinds(source, v)?)
            }
            None => None,
        };
        Ok(Layer {
            efficiency: take(&spec.metg_efficiency, "metg_efficiency", &check, |f| f.0)?,
            tasks,
            min_us: take(&spec.metg_min_us, "metg_min_us", &check, |p| p.0)?,
            step: take(&spec.metg_step, "metg_step", &check, |p| p.0)?,
            bisections: take(&spec.metg_bisections, "metg_bisections", &check, |n| *n)?,
            budget_s: take(&spec.metg_budget_s, "metg_budget_s", &check, |p| p.0)?,
        })
    }
}

fn parse_kinds(source: &Source, v: &Spanned<Names>) -> Result<Vec<TaskKind>, PlanError> {
    let mut out = Vec::new();
    for name in &v.get_ref().0 {
        let Some(kind) = TaskKind::from_id(name) else {
            return Err(located(
                source,
                v.span(),
                Some("metg_tasks"),
                &format!("unknown task kind `{name}`"),
                "use `cpu`, `sleep` or both",
            ));
        };
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

/// Where a scenario table sets one of this module's keys.
pub fn key_span(spec: &ScenarioSpec, key: &str) -> Option<Range<usize>> {
    match key {
        "metg_efficiency" => spec.metg_efficiency.as_ref().map(Spanned::span),
        "metg_tasks" => spec.metg_tasks.as_ref().map(Spanned::span),
        "metg_min_us" => spec.metg_min_us.as_ref().map(Spanned::span),
        "metg_step" => spec.metg_step.as_ref().map(Spanned::span),
        "metg_bisections" => spec.metg_bisections.as_ref().map(Spanned::span),
        "metg_budget_s" => spec.metg_budget_s.as_ref().map(Spanned::span),
        _ => None,
    }
}

/// The defaults a granularity scenario starts from: two workers, 100 tasks,
/// the search starting at 4 ms.
pub fn defaults(s: &mut Scenario) {
    s.workers = vec![2];
    s.tasks = vec![100];
    s.task_ms = vec![4.0];
}

/// Refuses a resolved granularity scenario that cannot be searched: a sweep
/// of `workers`, `tasks` or `task_ms` (each sweep is one search at one
/// setting), a minimum above the start, or more workers than a search may
/// start in every batch. Points at the key's line (or the scenario's name).
pub fn check(source: &Source, spec: &ScenarioSpec, s: &Scenario) -> Result<(), PlanError> {
    if s.workload != WorkloadKind::Granularity {
        return Ok(());
    }
    let at = |key: &str| {
        super::key_span(spec, key)
            .or_else(|| spec.name.as_ref().map(Spanned::span))
            .unwrap_or(0..0)
    };
    let refusal = refusal(s);
    match refusal {
        None => Ok(()),
        Some((key, message, help)) => Err(located(source, at(key), Some(key), &message, &help)),
    }
}

/// The same checks for values a flag set (`build` calls it after the flags).
pub fn check_flags(scenarios: &[Scenario]) -> Result<(), PlanError> {
    for s in scenarios {
        if let Some((key, message, _)) = refusal(s) {
            return Err(PlanError::Flag {
                flag: super::bounds::flag_of(key),
                message: format!("scenario `{}`: {message}", s.name),
            });
        }
    }
    Ok(())
}

/// Refuses a search whose first batch cannot end within the case timeout
/// even with no overhead: the sequential baseline's, which runs the tasks
/// one after another. It would only fail.
pub fn check_time(scenarios: &[Scenario], timeout_s: f64) -> Result<(), PlanError> {
    for s in scenarios
        .iter()
        .filter(|s| s.workload == WorkloadKind::Granularity)
    {
        let least_s = s.tasks[0] as f64 * s.task_ms[0] / 1e3;
        if least_s > timeout_s {
            return Err(PlanError::Suite(format!(
                "scenario `{}`: key `task_ms`: the sequential baseline's batch of {} tasks of {} ms takes at least {least_s:.1} s, beyond the case timeout of {timeout_s} s; lower `task_ms` or `tasks`, or raise `timeout_s`",
                s.name, s.tasks[0], s.task_ms[0]
            )));
        }
    }
    Ok(())
}

/// The most workers a granularity search runs: each of its batches starts
/// them afresh, and the machine's limits are checked on points, which a
/// search has none of.
pub const MAX_WORKERS: usize = 256;

fn refusal(s: &Scenario) -> Option<(&'static str, String, String)> {
    if s.workload != WorkloadKind::Granularity {
        return None;
    }
    for (key, n) in [
        ("workers", s.workers.len()),
        ("tasks", s.tasks.len()),
        ("task_ms", s.task_ms.len()),
    ] {
        if n != 1 {
            return Some((
                key,
                format!("a granularity search takes one value, not {n}"),
                "give one number; the search sweeps the task duration itself".into(),
            ));
        }
    }
    if s.workers[0] > MAX_WORKERS {
        return Some((
            "workers",
            format!(
                "{} workers: a granularity search starts at most {MAX_WORKERS} in each of its batches",
                s.workers[0]
            ),
            "use fewer workers".into(),
        ));
    }
    let g = &s.granularity;
    if g.min_us / 1e3 >= s.task_ms[0] {
        return Some((
            "metg_min_us",
            format!(
                "the search starts at task_ms = {} and cannot go down to {} µs",
                s.task_ms[0], g.min_us
            ),
            "give a metg_min_us below task_ms × 1000".into(),
        ));
    }
    if g.tasks.is_empty() {
        return Some((
            "metg_tasks",
            "names no task kind".into(),
            "use `cpu`, `sleep` or both".into(),
        ));
    }
    None
}

/// One search: a model's METG for one task kind.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    pub kind: TaskKind,
    pub model: ModelId,
    pub workers: usize,
    pub tasks: usize,
    pub search: SearchSpec,
    /// When the search stops with what it has.
    pub budget: Duration,
    /// The point at the start duration with its one case; `at` moves it.
    base: PointPlan,
}

impl SweepPlan {
    /// The point at `task_ms`: the model's sequential baseline (the ideal's
    /// measure) at one worker and the model at its workers, interleaved
    /// round by round; the baseline alone when the model is one.
    pub fn at(&self, task_ms: f64) -> PointPlan {
        let mut p = self.base.clone();
        p.point.task_ms = Some(task_ms);
        match self.kind {
            TaskKind::Cpu => p.point.shape.cpu_ms = task_ms,
            TaskKind::Sleep => p.point.shape.sleep_ms = task_ms,
        }
        p
    }

    pub fn scenario(&self) -> &str {
        &self.base.scenario
    }
}

impl Plan {
    /// Every granularity search of the plan, in run order: each scenario's
    /// task kinds, each kind's models.
    pub fn granularity_sweeps(&self) -> Vec<SweepPlan> {
        let mut out = Vec::new();
        for s in self
            .scenarios
            .iter()
            .filter(|s| s.workload == WorkloadKind::Granularity)
        {
            let g = &s.granularity;
            let (workers, tasks, start_ms) = (s.workers[0], s.tasks[0], s.task_ms[0]);
            for &kind in &g.tasks {
                for &model in &s.models {
                    let point = super::Point {
                        tasks,
                        task_ms: Some(start_ms),
                        shape: s.shape(0.0),
                        cpu_threads: None,
                        parent_mib: 0,
                    };
                    let base = PointPlan {
                        scenario: s.name.clone(),
                        workload: s.workload,
                        kernel: (kind == TaskKind::Cpu).then_some(s.kernel),
                        params: vec![],
                        point,
                        cases: {
                            let baseline = model.baseline();
                            let mut cases = vec![CasePlan {
                                model: baseline,
                                workers: 1,
                            }];
                            if model != baseline {
                                cases.push(CasePlan { model, workers });
                            }
                            cases
                        },
                        warmup: s.warmup,
                        repetitions: s.repetitions,
                        max_repetitions: s.repetitions,
                        gil: s.gil_kind(),
                        switch_interval: s.switch_interval(),
                        timeout: self.settings.case_timeout,
                        // The ideal's measure: always timed.
                        baseline: true,
                    };
                    let sweep = SweepPlan {
                        kind,
                        model,
                        workers,
                        tasks,
                        search: SearchSpec {
                            start_ms,
                            min_ms: g.min_us / 1e3,
                            step: g.step,
                            bisections: g.bisections,
                            threshold: g.efficiency,
                        },
                        budget: Duration::from_secs_f64(g.budget_s),
                        base,
                    };
                    out.push(sweep);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{PlanOptions, Source, build};

    fn suite(text: &str) -> Vec<Source> {
        vec![Source {
            name: "g.toml".into(),
            text: text.into(),
        }]
    }

    const BASE: &str = "[[scenario]]\nname = \"g\"\nworkload = \"granularity\"\nmodels = [\"thread\", \"process\"]\n";

    #[test]
    fn a_granularity_scenario_has_one_sweep_per_kind_and_model_and_no_point() {
        let plan = build(&suite(BASE), &PlanOptions::default()).unwrap();
        assert!(plan.points.is_empty());
        let sweeps = plan.granularity_sweeps();
        let ids: Vec<String> = sweeps
            .iter()
            .map(|s| format!("{}:{}", s.kind.id(), s.model))
            .collect();
        assert_eq!(
            ids,
            ["cpu:thread", "cpu:process", "sleep:thread", "sleep:process"]
        );
        // No sequential baseline is added: efficiency needs none.
        assert_eq!(sweeps[0].workers, 2);
        assert_eq!(sweeps[0].tasks, 100);
        let p = sweeps[0].at(0.25);
        assert_eq!((p.point.shape.cpu_ms, p.point.shape.sleep_ms), (0.25, 0.0));
        let p = sweeps[2].at(0.25);
        assert_eq!((p.point.shape.cpu_ms, p.point.shape.sleep_ms), (0.0, 0.25));
        assert_eq!(sweeps[0].search.threshold, 0.5);
        // Each point times the sequential baseline beside the model.
        let cases: Vec<String> = p
            .cases
            .iter()
            .map(|c| format!("{}@{}", c.model, c.workers))
            .collect();
        assert_eq!(cases, ["sequential@1", "thread@2"]);
        let text = BASE.replace(
            "\"thread\", \"process\"",
            "\"sequential\", \"cpython-thread\"",
        );
        let plan = build(&suite(&text), &PlanOptions::default()).unwrap();
        let cases: Vec<Vec<String>> = plan
            .granularity_sweeps()
            .iter()
            .take(2)
            .map(|s| {
                s.at(1.0)
                    .cases
                    .iter()
                    .map(|c| format!("{}@{}", c.model, c.workers))
                    .collect()
            })
            .collect();
        assert_eq!(
            cases,
            [
                vec!["sequential@1"],
                vec!["cpython-sequential@1", "cpython-thread@2"]
            ]
        );
    }

    #[test]
    fn the_metg_keys_are_read_and_quick_tables_change_them() {
        let text = format!(
            "{BASE}metg_efficiency = 0.8\nmetg_tasks = \"sleep\"\nmetg_min_us = 5\nmetg_step = 2\n\
             metg_bisections = 2\nmetg_budget_s = 3\n[scenario.quick]\nmetg_bisections = 1\n"
        );
        let plan = build(&suite(&text), &PlanOptions::default()).unwrap();
        let s = &plan.granularity_sweeps()[0];
        assert_eq!(s.search.threshold, 0.8);
        assert_eq!(s.search.min_ms, 0.005);
        assert_eq!(s.search.step, 2.0);
        assert_eq!(s.search.bisections, 2);
        assert_eq!(s.budget.as_secs(), 3);
        assert_eq!(plan.granularity_sweeps().len(), 2);
        let quick = PlanOptions {
            quick: true,
            ..PlanOptions::default()
        };
        let plan = build(&suite(&text), &quick).unwrap();
        assert_eq!(plan.granularity_sweeps()[0].search.bisections, 1);
    }

    #[test]
    fn bad_granularity_input_is_refused_at_its_line_and_key() {
        for (line, key, why) in [
            ("metg_efficiency = 1.5", "metg_efficiency", "fraction"),
            ("metg_tasks = [\"disk\"]", "metg_tasks", "unknown task kind"),
            ("metg_min_us = 0", "metg_min_us", "greater than 0"),
            ("metg_min_us = 5000", "metg_min_us", "cannot go down"),
            ("metg_step = 1", "metg_step", "out of range"),
            ("metg_bisections = 100", "metg_bisections", "out of range"),
            ("metg_budget_s = 100000", "metg_budget_s", "out of range"),
            ("workers = [1, 2]", "workers", "one value"),
            ("task_ms = [1, 2]", "task_ms", "one value"),
            ("workers = 1000", "workers", "at most 256"),
            ("touch_kib = 4", "touch_kib", "does not apply"),
            ("samples = 4", "samples", "does not apply"),
            ("metg_tipo = 4", "metg_tipo", "unknown field"),
        ] {
            let text = format!("{BASE}{line}\n");
            let err = build(&suite(&text), &PlanOptions::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("g.toml:5:"), "{line}: {err}");
            assert!(err.contains(key) && err.contains(why), "{line}: {err}");
        }
        // A metg key on another workload.
        let text = "[[scenario]]\nname = \"c\"\nworkload = \"cpu\"\nmetg_step = 2\n";
        let err = build(&suite(text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("g.toml:4:") && err.contains("applies to: granularity"),
            "{err}"
        );
    }

    #[test]
    fn a_first_batch_beyond_the_timeout_is_refused() {
        let text = format!("[settings]\ntimeout_s = 1\n{BASE}task_ms = 1000\ntasks = 10\n");
        let err = build(&suite(&text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("task_ms") && err.contains("timeout"), "{err}");
        let text = format!("[settings]\ntimeout_s = 11\n{BASE}task_ms = 1000\ntasks = 10\n");
        assert!(build(&suite(&text), &PlanOptions::default()).is_ok());
    }

    #[test]
    fn a_flag_sweep_is_refused_for_a_granularity_search() {
        let flags = PlanOptions {
            workers: vec![1, 2],
            ..PlanOptions::default()
        };
        let err = build(&suite(BASE), &flags).unwrap_err().to_string();
        assert!(
            err.starts_with("--workers") && err.contains("one value"),
            "{err}"
        );
    }
}
