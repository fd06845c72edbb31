//! `parabench-worker`: the process models' worker and nothing else, built
//! from the same library as `parabench` and installed beside it. `process`
//! starts one per task, so its start-up is the model's cost per task, and
//! this binary does as little as it can before its job arrives:
//!
//! - it is an eighth of the harness's code and loads no libm, so exec, the
//!   dynamic loader and the first page faults have less to do;
//! - it has its own C `main` (`#![no_main]`), which skips std's run-time
//!   start-up: that reads /proc/self/maps to find the main thread's stack
//!   and maps a signal stack for its stack-overflow message. What that
//!   start-up also did is done here: SIGPIPE is ignored (a closed pipe is an
//!   error, not a death), and a panic ends the worker with std's exit code
//!   101 instead of unwinding into C. std's flush of stdout at exit is not
//!   needed: the worker flushes each reply.
//!
//! Measured on the 2-core VMs (posix_spawn to wait4, stdin empty, medians):
//! `/bin/true` 0.52-0.57 ms, this binary 0.66-0.67 ms, the same code with
//! std's `main` 0.80-0.82 ms, `parabench worker` 1.3-1.6 ms (busier minute).
//!
//! It takes the same command line as `parabench worker` (`worker [--pool]
//! [--parent PID]`), so either can serve; the harness falls back to its own
//! `worker` command where this binary is missing or was built from other
//! sources (`parabench-worker source-id` prints the fingerprint of its
//! sources; `cargo run` rebuilds only the harness).

// Under `cargo test --all-targets` (which builds every binary's tests,
// `test = false` or not) the test harness brings its own `main`, and the
// worker's code is unused.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(unused))]

use parabench::console;
use parabench::model::worker;
use std::ffi::{c_char, c_int};
use std::panic::AssertUnwindSafe;

/// The worker's entry point, called by the C run-time. std's arguments come
/// from glibc's start-up (std reads them in an `.init_array` function), so
/// `std::env::args_os` works without std's `main`.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // SAFETY: setting SIGPIPE's disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    std::panic::catch_unwind(AssertUnwindSafe(run)).unwrap_or(101)
}

fn run() -> c_int {
    let mut args = std::env::args_os().skip(1);
    if let (Some(arg), None) = (args.next(), args.next())
        && arg == worker::SOURCE_ID_ARG
    {
        // The harness asks which sources this binary was built from.
        return match console::print(&format!("{}\n", worker::SOURCE_ID)) {
            Ok(()) => 0,
            Err(_) => 1,
        };
    }
    let Some(args) = worker::lean_args(std::env::args_os()) else {
        console::eprint(
            "usage: parabench-worker worker [--pool] [--parent PID]\n\
             (started by parabench's process models, which send it jobs on stdin)\n",
        );
        return 2;
    };
    match worker::serve_as(args) {
        Ok(()) => 0,
        Err(err) => {
            console::eprint(&format!("error: {err:#}\n"));
            1
        }
    }
}
