//! `parabench-worker`: the process models' worker and nothing else, built
//! from the same library as `parabench` and installed beside it. `process`
//! starts one per task, and this binary starts in about two thirds of the
//! time `parabench worker` takes (measured on the 2-core VMs: 0.9-1.1 ms
//! against 1.3-1.6 ms from posix_spawn to wait4): it is an eighth of the
//! code and loads no libm, so exec, the dynamic loader and the first page
//! faults have less to do. It takes the same command line as `parabench
//! worker` (`worker [--pool] [--parent PID]`), so either can serve; the
//! harness falls back to its own `worker` command where this one is missing.

use parabench::console;
use parabench::model::worker;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(args) = worker::lean_args(std::env::args_os()) else {
        console::eprint(
            "usage: parabench-worker worker [--pool] [--parent PID]\n\
             (started by parabench's process models, which send it jobs on stdin)\n",
        );
        return ExitCode::from(2);
    };
    match worker::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            console::eprint(&format!("error: {err:#}\n"));
            ExitCode::from(1)
        }
    }
}
