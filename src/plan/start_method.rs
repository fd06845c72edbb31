//! The plan's side of the start methods: `start_method` names read with
//! their line, each process model expanded into one model per method
//! (`process`, `process:fork`, `process:forkserver`), and `start_method` or
//! `parent_mib` refused where no model of the scenario (or of the run, for
//! a flag) starts a process, since they would change nothing.

use super::{Overrides, PlanError, Scenario, Source, flag_err, located};
use crate::model::id::{ModelId, StartMethod};
use crate::spec::{Names, ScenarioSpec};
use toml::Spanned;

fn ids() -> String {
    StartMethod::ALL.map(StartMethod::id).join(", ")
}

/// A `start_method` value, without repeats; an unknown name is an error at
/// its line.
pub(super) fn parse_names(
    source: &Source,
    names: &Spanned<Names>,
) -> Result<Vec<StartMethod>, PlanError> {
    let mut out = Vec::new();
    for name in &names.get_ref().0 {
        let method = StartMethod::from_id(name).ok_or_else(|| {
            located(
                source,
                names.span(),
                Some("start_method"),
                &format!("unknown start method `{name}`"),
                &format!("use one or more of: {}", ids()),
            )
        })?;
        if !out.contains(&method) {
            out.push(method);
        }
    }
    Ok(out)
}

/// `--start-method`'s values without repeats; `None` when it was not given.
pub(super) fn dedup(methods: &[StartMethod]) -> Option<Vec<StartMethod>> {
    let mut out: Vec<StartMethod> = Vec::new();
    for &m in methods {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn starts_processes(s: &Scenario) -> bool {
    s.models.iter().any(|m| m.kind.uses_processes())
}

/// True when the scenario sets the parent's size, which then names its
/// points in results (`parent_mib`); left out otherwise, so results of
/// scenarios without it keep their shape.
pub(super) fn sweeps_parent(s: &Scenario) -> bool {
    s.parent_mib != [0]
}

/// Every model that starts processes, once per start method, in the order
/// the models and the methods were given.
pub(super) fn expand_models(s: &mut Scenario) {
    let mut out: Vec<ModelId> = Vec::new();
    for &m in &s.models {
        let methods: &[StartMethod] = if m.kind.uses_processes() {
            &s.start_method
        } else {
            &[StartMethod::Spawn]
        };
        for &method in methods {
            let id = m.started_by(method);
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    s.models = out;
}

/// A scenario table (or its quick table) that sets `start_method` or
/// `parent_mib` while none of its models starts a process.
pub(super) fn check_file_keys(
    source: &Source,
    spec: &ScenarioSpec,
    s: &Scenario,
) -> Result<(), PlanError> {
    if starts_processes(s) {
        return Ok(());
    }
    let tables = std::iter::once(spec).chain(spec.quick.as_ref().map(|q| &**q.get_ref()));
    for table in tables {
        for (key, span) in [
            (
                "start_method",
                table.start_method.as_ref().map(Spanned::span),
            ),
            ("parent_mib", table.parent_mib.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                return Err(located(
                    source,
                    span,
                    Some(key),
                    "none of this scenario's models starts a process, so it would change nothing",
                    "add a process model (process, process-pool, their +gil forms, cpython-process, cpython-process-pool) or remove it",
                ));
            }
        }
    }
    Ok(())
}

/// `--start-method` or `--parent-mib` in a run where no model starts a
/// process.
pub(super) fn refuse_unused_flags(
    scenarios: &[Scenario],
    flags: &Overrides,
) -> Result<(), PlanError> {
    if scenarios.iter().any(starts_processes) {
        return Ok(());
    }
    for (flag, set) in [
        ("--start-method", flags.start_method.is_some()),
        ("--parent-mib", flags.parent_mib.is_some()),
    ] {
        if set {
            return Err(flag_err(
                flag,
                "no model of this run starts a process, so it would change nothing; \
                 add one with --models (process, process-pool, cpython-process, ...)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::id::StartMethod;
    use crate::plan::{PlanError, PlanOptions, Source, build};
    use crate::spec::WorkloadKind;

    fn suite(text: &str) -> Vec<Source> {
        vec![Source {
            name: "suite.toml".into(),
            text: text.into(),
        }]
    }

    #[test]
    fn each_process_model_runs_once_per_method_and_parent_size() {
        let text = "[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\n\
            models = [\"thread\", \"process\", \"cpython-process-pool\"]\n\
            start_method = [\"spawn\", \"fork\", \"fork\"]\nparent_mib = [0, 64]\n";
        let plan = build(&suite(text), &PlanOptions::default()).unwrap();
        let models: Vec<String> = plan.scenarios[0]
            .models
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            models,
            [
                "cpython-sequential",
                "sequential",
                "thread",
                "process",
                "process:fork",
                "cpython-process-pool",
                "cpython-process-pool:fork"
            ]
        );
        let sizes: Vec<u64> = plan.points.iter().map(|p| p.point.parent_mib).collect();
        assert_eq!(sizes, [0, 64]);
        assert!(plan.points[1].params.contains(&("parent_mib", 64.0)));
        // The flag has the last word.
        let flags = PlanOptions {
            start_method: vec![StartMethod::Forkserver],
            parent_mib: vec![8],
            ..PlanOptions::default()
        };
        let plan = build(&suite(text), &flags).unwrap();
        assert!(
            plan.scenarios[0]
                .models
                .iter()
                .any(|m| m.to_string() == "process:forkserver")
        );
        assert!(
            !plan.scenarios[0]
                .models
                .iter()
                .any(|m| m.to_string() == "process")
        );
        assert_eq!(plan.points.len(), 1);
        assert_eq!(plan.points[0].point.parent_mib, 8);
    }

    #[test]
    fn without_the_keys_nothing_changes() {
        let opts = PlanOptions {
            workload: Some(WorkloadKind::Cpu),
            models: vec!["process".into()],
            ..PlanOptions::default()
        };
        let plan = build(&[], &opts).unwrap();
        assert!(plan.points.iter().all(|p| p.params.is_empty()));
        assert_eq!(
            plan.scenarios[0].models.last().unwrap().to_string(),
            "process"
        );
    }

    #[test]
    fn the_keys_are_refused_where_no_model_starts_a_process() {
        let text = "[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\nmodels = [\"thread\"]\n\
            start_method = \"fork\"\n";
        let err = build(&suite(text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("suite.toml:5:"), "{err}");
        assert!(err.contains("key `start_method`"), "{err}");
        let text = "[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\nmodels = [\"thread\"]\n\
            [scenario.quick]\nparent_mib = 4\n";
        let err = build(&suite(text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("suite.toml:6:") && err.contains("`parent_mib`"),
            "{err}"
        );
        let opts = PlanOptions {
            workload: Some(WorkloadKind::Cpu),
            models: vec!["thread".into()],
            start_method: vec![StartMethod::Fork],
            ..PlanOptions::default()
        };
        match build(&[], &opts) {
            Err(PlanError::Flag { flag, .. }) => assert_eq!(flag, "--start-method"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_method_is_refused_at_its_line() {
        let text = "[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\n\
            start_method = [\"fork\", \"vfork\"]\n";
        let err = build(&suite(text), &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("suite.toml:4:16:"), "{err}");
        assert!(
            err.contains("key `start_method`: unknown start method `vfork`"),
            "{err}"
        );
        assert!(err.contains("spawn, fork, forkserver"), "{err}");
    }
}
