//! The `io-models` workload's keys: `io_model` (which of the five IO models
//! run), `multiplexer` (epoll, poll, select for the multiplexed one),
//! `connections` (swept) and `think_ms`, beside the socket keys it shares
//! with `io-socket` (`server_delay_ms`, `round_trips`, `message_bytes`).
//! Their override layer, their defaults, and the refusals that relate them:
//! select above FD_SETSIZE, a run that cannot fit its case timeout.
//!
//! `io_model` is a key of its own workload rather than a model id: an IO
//! model is how one client waits on many sockets, not a way to run tasks,
//! so it does not fit `trait Model`; the scenario is run apart by the
//! runner (`runner::io_models`), like the lifecycle demo.

use super::{PlanError, Scenario, Source, located, not_here};
use crate::spec::{Names, ScenarioSpec, WorkloadKind};
use crate::workload::io_models::{IoModel, Multiplexer, SELECT_MAX_CONNECTIONS};
use std::ops::Range;
use toml::Spanned;

/// An io-models scenario's resolved keys.
#[derive(Debug, Clone, PartialEq)]
pub struct IoModels {
    /// Each model to run, the multiplexed one once per multiplexer.
    pub models: Vec<IoModel>,
    /// Concurrent connections, swept in ascending order.
    pub connections: Vec<usize>,
    /// Each connection's pause between a reply and its next request.
    pub think_ms: f64,
}

impl Default for IoModels {
    fn default() -> Self {
        IoModels {
            models: expand(&IoModel::NAMES.map(String::from), &[Multiplexer::Epoll]),
            connections: vec![1, 10, 100, 1000],
            think_ms: 0.0,
        }
    }
}

/// `io_model` names with the multiplexed one once per multiplexer.
fn expand(names: &[String], muxes: &[Multiplexer]) -> Vec<IoModel> {
    let mut out = Vec::new();
    for n in names {
        let models: Vec<IoModel> = if n == "multiplexed" {
            muxes.iter().map(|&m| IoModel::Multiplexed(m)).collect()
        } else {
            IoModel::parse(n).into_iter().collect()
        };
        for m in models {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

pub const KEYS: [&str; 4] = ["io_model", "multiplexer", "connections", "think_ms"];

/// Whether `key` applies to `w`; None for a key this module does not own.
pub fn applies(key: &str, w: WorkloadKind) -> Option<bool> {
    KEYS.contains(&key).then_some(w == WorkloadKind::IoModels)
}

/// Where a scenario table sets one of these keys.
pub fn key_span(spec: &ScenarioSpec, key: &str) -> Option<Range<usize>> {
    match key {
        "io_model" => spec.io_model.as_ref().map(Spanned::span),
        "multiplexer" => spec.multiplexer.as_ref().map(Spanned::span),
        "connections" => spec.connections.as_ref().map(Spanned::span),
        "think_ms" => spec.think_ms.as_ref().map(Spanned::span),
        _ => None,
    }
}

/// One layer of these keys (a scenario table, its quick table).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    pub io_model: Option<Vec<String>>,
    pub multiplexer: Option<Vec<Multiplexer>>,
    pub connections: Option<Vec<usize>>,
    pub think_ms: Option<f64>,
}

impl Layer {
    pub fn then(&self, over: &Layer) -> Layer {
        Layer {
            io_model: over.io_model.clone().or_else(|| self.io_model.clone()),
            multiplexer: over
                .multiplexer
                .clone()
                .or_else(|| self.multiplexer.clone()),
            connections: over
                .connections
                .clone()
                .or_else(|| self.connections.clone()),
            think_ms: over.think_ms.or(self.think_ms),
        }
    }

    pub fn keys(&self) -> Vec<&'static str> {
        [
            ("io_model", self.io_model.is_some()),
            ("multiplexer", self.multiplexer.is_some()),
            ("connections", self.connections.is_some()),
            ("think_ms", self.think_ms.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }

    pub fn apply(&self, s: &mut Scenario) {
        if s.workload != WorkloadKind::IoModels {
            return;
        }
        let io = &mut s.io_models;
        if self.io_model.is_some() || self.multiplexer.is_some() {
            let names = self
                .io_model
                .clone()
                .unwrap_or_else(|| IoModel::NAMES.map(String::from).to_vec());
            let muxes = self.multiplexer.clone().unwrap_or(vec![Multiplexer::Epoll]);
            io.models = expand(&names, &muxes);
        }
        if let Some(c) = &self.connections {
            let mut c = c.clone();
            c.sort_unstable();
            c.dedup();
            io.connections = c;
        }
        if let Some(t) = self.think_ms {
            io.think_ms = t;
        }
    }

    /// The keys a table sets, each refused at its line where it does not
    /// apply or names something unknown.
    pub fn from_spec(
        source: &Source,
        w: WorkloadKind,
        spec: &ScenarioSpec,
    ) -> Result<Layer, PlanError> {
        let check = |key: &str, span: Range<usize>| {
            if w == WorkloadKind::IoModels {
                Ok(())
            } else {
                Err(not_here(source, span, key, w, "io-models"))
            }
        };
        let names =
            |key: &str, v: &Spanned<Names>, known: &[&str]| -> Result<Vec<String>, PlanError> {
                check(key, v.span())?;
                for n in &v.get_ref().0 {
                    if !known.contains(&n.as_str()) {
                        return Err(located(
                            source,
                            v.span(),
                            Some(key),
                            &format!("unknown {key} `{n}`"),
                            &format!("use one or more of: {}", known.join(", ")),
                        ));
                    }
                }
                Ok(v.get_ref().0.clone())
            };
        let io_model = spec
            .io_model
            .as_ref()
            .map(|v| names("io_model", v, &IoModel::NAMES))
            .transpose()?;
        let mux_names = Multiplexer::ALL.map(Multiplexer::id);
        let multiplexer = spec
            .multiplexer
            .as_ref()
            .map(|v| {
                names("multiplexer", v, &mux_names)
                    .map(|ns| ns.iter().filter_map(|n| Multiplexer::parse(n)).collect())
            })
            .transpose()?;
        let connections = match &spec.connections {
            Some(v) => {
                check("connections", v.span())?;
                Some(v.get_ref().0.iter().map(|n| n.get()).collect())
            }
            None => None,
        };
        let think_ms = match &spec.think_ms {
            Some(v) => {
                check("think_ms", v.span())?;
                Some(v.get_ref().0)
            }
            None => None,
        };
        Ok(Layer {
            io_model,
            multiplexer,
            connections,
            think_ms,
        })
    }
}

/// Refuses what the keys of a resolved io-models scenario cannot do
/// together, at the line of the key to change: select above FD_SETSIZE,
/// a multiplexer without the multiplexed model.
pub fn check(source: &Source, spec: &ScenarioSpec, s: &Scenario) -> Result<(), PlanError> {
    if s.workload != WorkloadKind::IoModels {
        return Ok(());
    }
    let span = |key: &str| {
        let quick = spec.quick.as_ref().map(|q| q.get_ref().as_ref());
        quick
            .and_then(|q| key_span(q, key))
            .or_else(|| key_span(spec, key))
            .or_else(|| spec.name.as_ref().map(Spanned::span))
            .unwrap_or(0..0)
    };
    if let Some(msg) = refusal(s) {
        let key = msg.0;
        return Err(located(source, span(key), Some(key), &msg.1, msg.2));
    }
    Ok(())
}

/// The first refusal of a resolved scenario: (key, message, hint).
pub fn refusal(s: &Scenario) -> Option<(&'static str, String, &'static str)> {
    let io = &s.io_models;
    let most = io.connections.iter().copied().max().unwrap_or(0);
    if io
        .models
        .contains(&IoModel::Multiplexed(Multiplexer::Select))
        && most > SELECT_MAX_CONNECTIONS
    {
        return Some((
            "connections",
            format!(
                "select cannot watch {most} connections: its fd_set holds only descriptors below FD_SETSIZE ({}), and the client needs {} of them for itself, so {SELECT_MAX_CONNECTIONS} is the most",
                crate::workload::io_models::FD_SETSIZE,
                crate::workload::io_models::CLIENT_RESERVED_FDS,
            ),
            "keep select's connections at 1000 or fewer (a scenario of its own), or use `multiplexer = \"epoll\"` or \"poll\"",
        ));
    }
    if io.models.is_empty() {
        return Some((
            "multiplexer",
            "leaves no IO model to run: `multiplexer` applies only to the multiplexed model".into(),
            "add \"multiplexed\" to `io_model`, or remove `multiplexer`",
        ));
    }
    None
}

/// The least time one client run takes: every connection's round trips,
/// each at least the server's delay, with the think time between them.
pub fn least_run_s(s: &Scenario) -> f64 {
    let rounds = f64::from(s.round_trips);
    (rounds * s.server_delay_ms + (rounds - 1.0).max(0.0) * s.io_models.think_ms) / 1e3
}

/// Every numeric value, for the range checks.
pub fn values(s: &Scenario) -> Vec<(&'static str, f64)> {
    s.io_models
        .connections
        .iter()
        .map(|&c| ("connections", c as f64))
        .chain([("think_ms", s.io_models.think_ms)])
        .collect()
}

/// Refuses an io-models scenario whose client runs cannot finish within the
/// case timeout even with no overhead at all.
pub fn check_time(scenarios: &[Scenario], timeout_s: f64) -> Result<(), String> {
    for s in scenarios
        .iter()
        .filter(|s| s.workload == WorkloadKind::IoModels)
    {
        let least = least_run_s(s);
        if least > timeout_s {
            return Err(format!(
                "scenario `{}`: each connection's round trips take at least {least:.0} s (round_trips × (server_delay_ms + think_ms)), more than the case timeout of {timeout_s} s; lower `round_trips`, `server_delay_ms` or `think_ms`, or raise the timeout (`timeout_s`, --timeout)",
                s.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{PlanOptions, build};
    use super::*;

    fn suite(body: &str) -> Vec<Source> {
        vec![Source {
            name: "suite.toml".into(),
            text: format!("[[scenario]]\nname = \"io\"\nworkload = \"io-models\"\n{body}"),
        }]
    }

    fn err(body: &str) -> String {
        build(&suite(body), &PlanOptions::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_keys_resolve_with_the_multiplexed_model_once_per_multiplexer() {
        let plan = build(
            &suite("io_model = [\"blocking\", \"multiplexed\"]\nmultiplexer = [\"epoll\", \"poll\"]\nconnections = [100, 1, 10]\nthink_ms = 2\n[scenario.quick]\nconnections = 5\n"),
            &PlanOptions::default(),
        )
        .unwrap();
        let s = &plan.scenarios[0];
        let ids: Vec<String> = s.io_models.models.iter().map(|m| m.id()).collect();
        assert_eq!(ids, ["blocking", "multiplexed:epoll", "multiplexed:poll"]);
        assert_eq!(
            s.io_models.connections,
            [1, 10, 100],
            "swept in ascending order"
        );
        assert_eq!(s.io_models.think_ms, 2.0);
        assert!(
            s.models.is_empty() && plan.points.is_empty(),
            "run apart, no task model"
        );
        let quick = build(
            &suite("connections = [100, 1000]\n[scenario.quick]\nconnections = 5\n"),
            &PlanOptions {
                quick: true,
                ..PlanOptions::default()
            },
        )
        .unwrap();
        assert_eq!(quick.scenarios[0].io_models.connections, [5]);
        // The defaults: all five models, epoll for the multiplexed one.
        let plain = build(&suite(""), &PlanOptions::default()).unwrap();
        assert_eq!(plain.scenarios[0].io_models.models.len(), 5);
    }

    #[test]
    fn bad_keys_are_refused_at_their_line() {
        let e = err("io_model = \"threads\"\n");
        assert!(
            e.starts_with("suite.toml:4:")
                && e.contains("io_model")
                && e.contains("unknown io_model `threads`"),
            "{e}"
        );
        let e = err("multiplexer = \"kqueue\"\n");
        assert!(
            e.starts_with("suite.toml:4:") && e.contains("multiplexer"),
            "{e}"
        );
        let e = err("think_ms = 100000\n");
        assert!(
            e.starts_with("suite.toml:4:") && e.contains("think_ms") && e.contains("out of range"),
            "{e}"
        );
        let e = err("connections = [10, 200000]\n");
        assert!(
            e.contains("connections") && e.contains("out of range"),
            "{e}"
        );
        let e = err("workers = 4\n");
        assert!(e.contains("does not apply to workload `io-models`"), "{e}");
        // And the new keys where they do not belong.
        let cpu = vec![Source {
            name: "cpu.toml".into(),
            text: "[[scenario]]\nname = \"c\"\nworkload = \"cpu\"\nconnections = 10\n".into(),
        }];
        let e = build(&cpu, &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cpu.toml:4:") && e.contains("`connections`") && e.contains("io-models"),
            "{e}"
        );
    }

    #[test]
    fn select_is_refused_above_fd_setsize() {
        let e = err(
            "io_model = \"multiplexed\"\nmultiplexer = [\"epoll\", \"select\"]\nconnections = [10, 10000]\n",
        );
        assert!(
            e.starts_with("suite.toml:6:")
                && e.contains("connections")
                && e.contains("FD_SETSIZE (1024)"),
            "{e}"
        );
        // At 1000 it fits; epoll alone takes 10,000.
        build(
            &suite("io_model = \"multiplexed\"\nmultiplexer = \"select\"\nconnections = 1000\n"),
            &PlanOptions::default(),
        )
        .unwrap();
        build(
            &suite("io_model = \"multiplexed\"\nconnections = 10000\n"),
            &PlanOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn a_run_longer_than_the_timeout_is_refused() {
        let src = vec![Source {
            name: "t.toml".into(),
            text: "[settings]\ntimeout_s = 5\n[[scenario]]\nname = \"io\"\nworkload = \"io-models\"\nround_trips = 100\nserver_delay_ms = 100\n".into(),
        }];
        let e = build(&src, &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at least 10 s") && e.contains("round_trips"),
            "{e}"
        );
    }
}
