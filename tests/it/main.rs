//! The one integration test binary: each module tests one area through the
//! public API or the `parabench` executable.

mod bad_input;
mod compare;
mod coordination;
mod export;
mod floor;
mod forkcost;
mod granularity;
mod history;
mod inputs;
mod io_models;
mod layers;
mod lifecycle;
mod machines;
mod memory;
mod models;
mod pythons;
mod report;
mod run;
mod start_methods;
mod stdout;
mod wake;
mod workflow;

/// The `fork` start method needs a launcher forked while this process has
/// one thread, as parabench's `main` forks it first thing. libtest starts
/// threads in `main`, so the launcher is forked before it, from the binary's
/// constructors (`.init_array`).
#[used]
#[unsafe(link_section = ".init_array")]
static FORK_LAUNCHER: extern "C" fn() = fork_launcher;

extern "C" fn fork_launcher() {
    // Refused only with a second thread, which the fork tests then report.
    let _ = parabench::model::start::fork_launcher();
}
