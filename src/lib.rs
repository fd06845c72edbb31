//! parabench: measures how concurrency models really behave on this machine.
//!
//! The library has no command line of its own: the binary's `cli` (clap)
//! fills in `plan::PlanOptions` and the other options structs.
//!
//! The pipeline, start to end (see ARCHITECTURE.md):
//! suite TOML -> `spec` -> `plan` (validated cases) -> `runner` (models run
//! workloads, `measure` records) -> `stats` -> `results::RunReport` -> `report`.

pub mod atomic_file;

pub mod compare;
pub mod console;
pub mod cpython;
pub mod environment;
pub mod export;
pub mod fidelity;
pub mod floor;
pub mod fonts;
pub mod gil;
pub mod granularity;
pub mod history;
pub mod input;
pub mod lifecycle;
pub mod limits;
pub mod load;
pub mod machine;
pub mod measure;
pub mod model;
pub mod plan;
pub mod report;
pub mod results;
pub mod runner;
pub mod spec;
pub mod stats;
pub mod stop;
pub mod text;
pub mod workload;
