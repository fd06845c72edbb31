//! The CPU kernels: deterministic, sliceable compute whose checksum proves the
//! work was done. Sizes are in kernel iterations; `calibrate` turns a target
//! duration into iterations on this machine.

use crate::stop::{Stop, Stopped};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Iterations between two looks at a `Stop` when the harness itself runs a
/// kernel: at most a few milliseconds of work for either kernel.
const CHUNK_ITERS: u64 = 1 << 16;

/// A compute kernel. Each has a different character so users see more than one
/// kind of CPU work: `Hash` is integer-only and register-bound, `Mandelbrot`
/// is floating-point with data-dependent branching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernel {
    Hash,
    Mandelbrot,
}

impl Kernel {
    pub const ALL: [Kernel; 2] = [Kernel::Hash, Kernel::Mandelbrot];

    pub fn id(self) -> &'static str {
        match self {
            Kernel::Hash => "hash",
            Kernel::Mandelbrot => "mandelbrot",
        }
    }

    pub fn from_id(id: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.id() == id)
    }

    /// Runs `iters` iterations continuing from `state`; returns the new state.
    /// Running n then m iterations equals running n + m, so slicing (for the
    /// GIL's eval breaker) never changes the checksum.
    pub fn advance(self, state: u64, iters: u64) -> u64 {
        match self {
            Kernel::Hash => hash_advance(state, iters),
            Kernel::Mandelbrot => mandelbrot_advance(state, iters),
        }
    }

    /// The whole kernel for one task, in one call.
    pub fn run(self, seed: u64, iters: u64) -> u64 {
        self.advance(seed_state(seed), iters)
    }

    /// `run` in chunks, looking at `stop` between two: the same result,
    /// but a task of any size can be given up within milliseconds.
    pub fn run_until(self, seed: u64, iters: u64, stop: &Stop) -> Result<u64, Stopped> {
        let mut state = seed_state(seed);
        let mut left = iters;
        loop {
            stop.check()?;
            if left == 0 {
                return Ok(state);
            }
            let n = left.min(CHUNK_ITERS);
            state = self.advance(state, n);
            left -= n;
        }
    }
}

/// Spreads task indexes so neighbouring tasks do not start from similar states.
pub fn seed_state(seed: u64) -> u64 {
    mix64(seed.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

/// SplitMix64's finalizer: a cheap, well-spread 64-bit mix.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_advance(mut x: u64, iters: u64) -> u64 {
    // xorshift64*: a dependency chain the optimizer cannot shorten.
    if x == 0 {
        x = 1;
    }
    for _ in 0..iters {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    }
    x
}

const GRID: u64 = 64;
const MAX_ESCAPE: u32 = 256;

/// One iteration is one point of a 64x64 grid over the Mandelbrot window,
/// iterated until it escapes (at most 256 steps). The state packs the next
/// point index (low 32 bits) and a running checksum (high 32 bits). A task
/// covers many whole passes over the grid, so its cost per point is stable.
fn mandelbrot_advance(state: u64, iters: u64) -> u64 {
    let mut point = state & 0xFFFF_FFFF;
    let mut sum = (state >> 32) as u32;
    for _ in 0..iters {
        let p = point % (GRID * GRID);
        let cx = -2.0 + 2.5 * (p % GRID) as f64 / GRID as f64;
        let cy = -1.25 + 2.5 * (p / GRID) as f64 / GRID as f64;
        let (mut zx, mut zy) = (0.0f64, 0.0f64);
        let mut n = 0;
        while n < MAX_ESCAPE && zx * zx + zy * zy <= 4.0 {
            let t = zx * zx - zy * zy + cx;
            zy = 2.0 * zx * zy + cy;
            zx = t;
            n += 1;
        }
        sum = sum.wrapping_mul(31).wrapping_add(n);
        point = (point + 1) & 0xFFFF_FFFF;
    }
    ((sum as u64) << 32) | point
}

/// Iterations per millisecond of `kernel` on one core, measured now.
///
/// Doubles the iteration count until one run takes at least `min_run`, then
/// keeps the fastest of three runs at that size: the fastest run is the one
/// least disturbed by other load, which is what "task_ms on this machine"
/// should mean. Looks at `stop` before every run; no run takes much more
/// than twice `min_run`.
pub fn calibrate(kernel: Kernel, min_run: Duration, stop: &Stop) -> Result<f64, Stopped> {
    let mut iters = 1_000u64;
    loop {
        stop.check()?;
        let took = time_run(kernel, iters);
        if took >= min_run || iters > (1 << 40) {
            break;
        }
        iters *= 2;
    }
    let mut best = Duration::MAX;
    for _ in 0..3 {
        stop.check()?;
        best = best.min(time_run(kernel, iters));
    }
    Ok(iters as f64 / (best.as_secs_f64() * 1e3).max(1e-9))
}

fn time_run(kernel: Kernel, iters: u64) -> Duration {
    let start = Instant::now();
    std::hint::black_box(kernel.run(std::hint::black_box(7), iters));
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slicing_does_not_change_the_checksum() {
        for kernel in Kernel::ALL {
            let whole = kernel.run(3, 10_000);
            let mut state = seed_state(3);
            for _ in 0..10 {
                state = kernel.advance(state, 1_000);
            }
            assert_eq!(whole, state, "{kernel:?}");
        }
    }

    #[test]
    fn different_seeds_and_sizes_give_different_checksums() {
        for kernel in Kernel::ALL {
            assert_ne!(kernel.run(1, 5_000), kernel.run(2, 5_000), "{kernel:?}");
            assert_ne!(kernel.run(1, 5_000), kernel.run(1, 5_001), "{kernel:?}");
        }
    }

    #[test]
    fn run_until_gives_run_and_stops_on_cancel() {
        for kernel in Kernel::ALL {
            let whole = kernel.run(5, 3 * CHUNK_ITERS + 7);
            assert_eq!(
                kernel.run_until(5, 3 * CHUNK_ITERS + 7, &Stop::never()),
                Ok(whole)
            );
        }
        // A task of about a year stops within a second of Ctrl-C.
        let (out, after) = crate::stop::tests::cancelled_after_50ms(|cancel| {
            Kernel::Hash.run_until(1, u64::MAX, &Stop::on_cancel(cancel))
        });
        assert_eq!(out, Err(Stopped::Cancelled));
        assert!(after < Duration::from_secs(1), "{after:?}");
    }

    #[test]
    fn calibration_stops_on_cancel() {
        // Asked for runs of an hour, it would double far past a second.
        for kernel in Kernel::ALL {
            let (out, after) = crate::stop::tests::cancelled_after_50ms(|cancel| {
                calibrate(kernel, Duration::from_secs(3600), &Stop::on_cancel(cancel))
            });
            assert_eq!(out, Err(Stopped::Cancelled), "{kernel:?}");
            assert!(after < Duration::from_secs(1), "{kernel:?}: {after:?}");
        }
    }

    #[test]
    fn calibration_scales_with_work() {
        let rate = calibrate(Kernel::Hash, Duration::from_millis(5), &Stop::never()).unwrap();
        assert!(rate > 0.0);
        // Twice the iterations take clearly longer: the median of seven
        // back-to-back ratios, so load from other tests hits both sides alike.
        let n = (rate * 10.0) as u64;
        let mut ratios: Vec<f64> = (0..7)
            .map(|_| {
                let one = time_run(Kernel::Hash, n).as_secs_f64();
                let two = time_run(Kernel::Hash, 2 * n).as_secs_f64();
                two / one.max(1e-9)
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        assert!(ratios[3] > 1.3, "ratios {ratios:?}");
    }

    #[test]
    fn kernel_ids_round_trip() {
        for kernel in Kernel::ALL {
            assert_eq!(Kernel::from_id(kernel.id()), Some(kernel));
        }
        assert_eq!(Kernel::from_id("nope"), None);
    }
}
