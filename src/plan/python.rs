//! The interpreters of the `cpython-*` models: `python = "..."` and
//! `--python` take one, or several separated by commas (`python3.12,2.7`);
//! each is a name on PATH or in pyenv, a path, or a bare version (`3.12`
//! means `python3.12`). With several, every `cpython-*` model of every
//! scenario runs once per interpreter, tagged with it (`cpython-thread@3.12`,
//! whose baseline is `cpython-sequential@3.12`); with one, ids are untagged.

use super::{Scenario, bounds};
use crate::cpython::PythonInfo;
use crate::model::PythonTag;

/// The longest `python` value: PATH_MAX.
const MAX_SPEC_BYTES: usize = 4096;

/// The interpreters `spec` names, in order, each found and asked what it
/// is. `find` is `cpython::find`, or a fake in tests.
pub fn resolve(
    spec: &str,
    find: &dyn Fn(&str) -> Result<PythonInfo, String>,
) -> Result<Vec<PythonInfo>, String> {
    if spec.is_empty() || spec.len() > MAX_SPEC_BYTES || spec.contains('\0') {
        return Err(format!(
            "an interpreter is a name or a path of 1 to {MAX_SPEC_BYTES} bytes without NUL"
        ));
    }
    let names: Vec<&str> = spec.split(',').map(str::trim).collect();
    bounds::check_value("pythons", names.len() as f64)
        .map_err(|e| format!("{} interpreters: {}", names.len(), e.message))?;
    let mut found: Vec<PythonInfo> = Vec::with_capacity(names.len());
    for name in names {
        if name.is_empty() {
            return Err(format!("an empty interpreter name in {spec:?}"));
        }
        let python = find(&program(name))?;
        let tag = PythonTag::of(&python);
        if let Some(same) = found.iter().find(|p| PythonTag::of(p) == tag) {
            return Err(format!(
                "{} and {} are both Python {tag}; a run compares different versions (or a \
                 free-threaded build, {tag}t, beside a default one)",
                same.path.display(),
                python.path.display()
            ));
        }
        found.push(python);
    }
    Ok(found)
}

/// `3.12` -> `python3.12`, `3.13t` -> `python3.13t`; anything else as given.
pub fn program(name: &str) -> String {
    if PythonTag::parse(name).is_some() {
        format!("python{name}")
    } else {
        name.to_owned()
    }
}

/// With several interpreters, replaces each `cpython-*` model of `s` by one
/// per interpreter, in place and in the order given; with one, nothing.
pub fn tag_models(s: &mut Scenario, pythons: &[PythonInfo]) {
    if pythons.len() < 2 {
        return;
    }
    let tags: Vec<PythonTag> = pythons.iter().map(PythonTag::of).collect();
    s.models = s
        .models
        .iter()
        .flat_map(|m| {
            if m.kind.is_cpython() && m.python.is_none() {
                tags.iter().map(|&t| m.in_python(Some(t))).collect()
            } else {
                vec![*m]
            }
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpython::PythonVersion;
    use crate::model::{ModelId, ModelKind};

    fn fake(name: &str) -> Result<PythonInfo, String> {
        let (minor, free_threaded) = match name {
            "python3.12" | "/opt/py312/bin/python3" => (12, false),
            "python3.13" => (13, false),
            "python3.13t" => (13, true),
            _ => return Err(format!("{name} was not found")),
        };
        Ok(PythonInfo {
            path: format!("/usr/bin/{name}").into(),
            version: PythonVersion {
                major: 3,
                minor,
                patch: 0,
            },
            free_threaded,
            gil_enabled: None,
        })
    }

    #[test]
    fn a_comma_list_names_several_interpreters_by_name_path_or_version() {
        let found = resolve("3.12, python3.13,3.13t", &fake).unwrap();
        let tags: Vec<String> = found.iter().map(|p| PythonTag::of(p).to_string()).collect();
        assert_eq!(tags, ["3.12", "3.13", "3.13t"]);
        assert_eq!(program("2.7"), "python2.7");
        assert_eq!(program("python3"), "python3");
        assert_eq!(program("/usr/bin/3.12"), "/usr/bin/3.12");
    }

    #[test]
    fn too_many_empty_missing_or_twice_the_same_version_is_refused() {
        let err = |spec: &str| resolve(spec, &fake).unwrap_err();
        assert!(err("3.12,3.13,3.13t,3.12,3.13").contains("5 interpreters"));
        assert!(err("3.12,,3.13").contains("empty"));
        assert!(err("").contains("1 to 4096 bytes"));
        assert!(err("3.12,3.99").contains("python3.99 was not found"));
        let twice = err("3.12,/opt/py312/bin/python3");
        assert!(twice.contains("both Python 3.12"), "{twice}");
    }

    #[test]
    fn cpython_models_run_once_per_interpreter_and_the_others_once() {
        let pythons = resolve("3.12,3.13", &fake).unwrap();
        let mut s = super::super::defaults("s".into(), crate::spec::WorkloadKind::Cpu);
        s.models = [
            "sequential",
            "cpython-sequential",
            "thread",
            "cpython-thread",
        ]
        .iter()
        .map(|m| ModelId::parse(m).unwrap())
        .collect();
        let one = s.clone();
        tag_models(&mut s, &pythons[..1]);
        assert_eq!(s, one, "one interpreter tags nothing");
        tag_models(&mut s, &pythons);
        let names: Vec<String> = s.models.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "sequential",
                "cpython-sequential@3.12",
                "cpython-sequential@3.13",
                "thread",
                "cpython-thread@3.12",
                "cpython-thread@3.13"
            ]
        );
        assert_eq!(
            s.models[4].baseline(),
            s.models[1],
            "each interpreter has its own baseline"
        );
        assert_eq!(s.models[5].baseline().kind, ModelKind::CpythonSequential);
        // Tagging twice changes nothing.
        let tagged = s.clone();
        tag_models(&mut s, &pythons);
        assert_eq!(s, tagged);
    }
}
