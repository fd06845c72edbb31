//! The one integration test binary: each module tests one area through the
//! public API or the `parabench` executable.

mod bad_input;
mod compare;
mod export;
mod floor;
mod history;
mod inputs;
mod layers;
mod memory;
mod models;
mod report;
mod run;
mod stdout;
mod workflow;
