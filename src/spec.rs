//! The serde mirror of a suite file (TOML). It checks shapes, types, unknown
//! keys and single values while parsing, so those errors carry toml's line
//! and column; everything that relates keys to each other is checked in
//! `plan`. No logic beyond that lives here.

use serde::de::{self, Deserializer, IntoDeserializer};
use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    #[serde(default)]
    pub settings: SettingsSpec,
    #[serde(default)]
    pub scenario: Vec<Spanned<ScenarioSpec>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsSpec {
    pub repetitions: Option<NonZeroU32>,
    pub max_repetitions: Option<NonZeroU32>,
    pub warmup: Option<u32>,
    pub timeout_s: Option<Positive>,
    pub point_budget_s: Option<NonNegative>,
    /// The interpreter of the `cpython-*` models: a name on PATH or in
    /// pyenv, or a path.
    pub python: Option<Spanned<String>>,
}

type NonZeroU32 = std::num::NonZeroU32;

/// The workloads, by the id suites and `--workload` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    Cpu,
    IoSleep,
    IoSocket,
    IoFile,
    Mixed,
    Convoy,
    /// No tasks: the raw OS mechanisms the models rest on (`floor`).
    Floor,
    /// Each state of a process's life, shown on the OS (see `lifecycle`).
    Lifecycle,
    Lock,
    Queue,
    Event,
    Timer,
    /// Each model's minimum effective task granularity (see `granularity`).
    Granularity,
    /// The five IO models on many connections (see `workload::io_models`).
    IoModels,
    /// No tasks: coroutine creation, switch and memory beside threads and
    /// tokio tasks (`coroutine`).
    Coroutine,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 15] = [
        WorkloadKind::Cpu,
        WorkloadKind::IoSleep,
        WorkloadKind::IoSocket,
        WorkloadKind::IoFile,
        WorkloadKind::Mixed,
        WorkloadKind::Convoy,
        WorkloadKind::Floor,
        WorkloadKind::Lifecycle,
        WorkloadKind::Lock,
        WorkloadKind::Queue,
        WorkloadKind::Event,
        WorkloadKind::Timer,
        WorkloadKind::Granularity,
        WorkloadKind::IoModels,
        WorkloadKind::Coroutine,
    ];

    pub fn id(self) -> &'static str {
        match self {
            WorkloadKind::Cpu => "cpu",
            WorkloadKind::IoSleep => "io-sleep",
            WorkloadKind::IoSocket => "io-socket",
            WorkloadKind::IoFile => "io-file",
            WorkloadKind::Mixed => "mixed",
            WorkloadKind::Convoy => "convoy",
            WorkloadKind::Floor => "floor",
            WorkloadKind::Lifecycle => "lifecycle",
            WorkloadKind::Lock => "lock",
            WorkloadKind::Queue => "queue",
            WorkloadKind::Event => "event",
            WorkloadKind::Timer => "timer",
            WorkloadKind::Granularity => "granularity",
            WorkloadKind::IoModels => "io-models",
            WorkloadKind::Coroutine => "coroutine",
        }
    }
}

/// One `[[scenario]]` table. Its `[scenario.quick]` table has the same
/// shape; under `--quick` its keys replace the scenario's (`plan` refuses
/// `name`, `workload`, `models` and `description` there).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub workload: Option<Spanned<WorkloadKind>>,
    /// `false`: no sequential baseline runs; speedups are taken against
    /// tasks × the task's time (cpu and io-sleep only).
    pub baseline: Option<Spanned<bool>>,
    pub models: Option<Spanned<Vec<Spanned<String>>>>,
    pub workers: Option<Spanned<Sweep<NonZeroUsize>>>,
    pub tasks: Option<Spanned<Sweep<NonZeroUsize>>>,
    pub cpu_threads: Option<Spanned<Sweep<usize>>>,
    pub task_ms: Option<Spanned<Sweep<Positive>>>,
    pub kernel: Option<Spanned<String>>,
    pub cpu_fraction: Option<Spanned<Fraction>>,
    pub server_delay_ms: Option<Spanned<NonNegative>>,
    pub round_trips: Option<Spanned<NonZeroU32>>,
    pub message_bytes: Option<Spanned<NonZeroU32>>,
    pub file_kib: Option<Spanned<std::num::NonZeroU64>>,
    pub touch_kib: Option<Spanned<u64>>,
    pub releases_gil: Option<Spanned<bool>>,
    pub gil: Option<Spanned<String>>,
    pub switch_interval_us: Option<Spanned<Positive>>,
    pub check_interval: Option<Spanned<NonZeroU32>>,
    // The coordination workloads (`plan::coordination` checks them).
    pub primitive: Option<Spanned<String>>,
    pub depth: Option<Spanned<u32>>,
    pub permits: Option<Spanned<u32>>,
    pub sections: Option<Spanned<u64>>,
    pub hold_us: Option<Spanned<NonNegative>>,
    pub outside_us: Option<Spanned<NonNegative>>,
    pub deadlock: Option<Spanned<String>>,
    pub producers: Option<Spanned<u32>>,
    pub consumers: Option<Spanned<u32>>,
    pub capacity: Option<Spanned<u32>>,
    pub item_bytes: Option<Spanned<u32>>,
    pub items: Option<Spanned<u64>>,
    pub semantics: Option<Spanned<String>>,
    pub daemon: Option<Spanned<bool>>,
    pub rounds: Option<Spanned<u32>>,
    pub timers: Option<Spanned<Sweep<NonZeroUsize>>>,
    pub delay_ms: Option<Spanned<Positive>>,
    // The granularity scenario (`plan::granularity` checks them).
    pub metg_efficiency: Option<Spanned<Fraction>>,
    pub metg_tasks: Option<Spanned<Names>>,
    pub metg_min_us: Option<Spanned<Positive>>,
    pub metg_step: Option<Spanned<Positive>>,
    pub metg_bisections: Option<Spanned<u32>>,
    pub metg_budget_s: Option<Spanned<Positive>>,
    // The io-models workload (`plan::io_models` checks them).
    pub io_model: Option<Spanned<Names>>,
    pub multiplexer: Option<Spanned<Names>>,
    pub connections: Option<Spanned<Sweep<NonZeroUsize>>>,
    pub think_ms: Option<Spanned<NonNegative>>,
    pub repetitions: Option<Spanned<NonZeroU32>>,
    pub warmup: Option<Spanned<u32>>,
    /// Floor and coroutine: timed runs of each mechanism.
    pub samples: Option<Spanned<NonZeroU32>>,
    /// Coroutine: which figures, `create`, `switch` and `memory`.
    pub measure: Option<Spanned<Names>>,
    /// Coroutine: units alive at each point of the memory sweep.
    pub units: Option<Spanned<Sweep<NonZeroUsize>>>,
    /// Only in a `[scenario.quick]` table: `skip = true` leaves the scenario
    /// out of `--quick` runs (unless `--only` names it).
    pub skip: Option<Spanned<bool>>,
    /// How the process models start workers: `spawn`, `fork`, `forkserver`.
    pub start_method: Option<Spanned<Names>>,
    /// MiB the parent program holds while it starts workers, swept.
    pub parent_mib: Option<Spanned<Sweep<u64>>>,
    pub quick: Option<Spanned<Box<ScenarioSpec>>>,
}

/// One name or a list of them: `start_method = "fork"` and
/// `start_method = ["spawn", "fork"]` both work. Which names exist is
/// `plan`'s business.
#[derive(Debug, Clone, PartialEq)]
pub struct Names(pub Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a non-empty list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Names(vec![v.to_owned()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.push(name);
                }
                if out.is_empty() {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(Names(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or a list of them: `tasks = 8` and `tasks = [8, 64]` both work.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sweep<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = Sweep<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a non-empty list of numbers")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| Sweep(vec![t]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| Sweep(vec![t]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| Sweep(vec![t]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element()? {
                    out.push(t);
                }
                if out.is_empty() {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(Sweep(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A number > 0 (durations).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Positive(pub f64);

impl TryFrom<f64> for Positive {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 {
            Ok(Positive(v))
        } else {
            Err(format!(
                "{v} is not allowed here: give a number greater than 0"
            ))
        }
    }
}

/// A number >= 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct NonNegative(pub f64);

impl TryFrom<f64> for NonNegative {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v >= 0.0 {
            Ok(NonNegative(v))
        } else {
            Err(format!(
                "{v} is not allowed here: give a number of 0 or more"
            ))
        }
    }
}

/// A number between 0 and 1 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Fraction(pub f64);

impl TryFrom<f64> for Fraction {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&v) {
            Ok(Fraction(v))
        } else {
            Err(format!(
                "{v} is not allowed here: give a fraction from 0 to 1"
            ))
        }
    }
}

/// Parses a suite's text. Errors come back as toml's, with their span.
pub fn parse(text: &str) -> Result<SuiteSpec, toml::de::Error> {
    toml::from_str(text)
}
