//! parabench: measures how concurrency models really behave on this machine.
//!
//! The pipeline, start to end (see ARCHITECTURE.md):
//! suite TOML -> `spec` -> `plan` (validated cases) -> `runner` (models run
//! workloads, `measure` records) -> `stats` -> `results::RunReport` -> `report`.

pub mod cli;
pub mod fonts;
pub mod report;
pub mod results;
