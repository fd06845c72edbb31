//! `Stop`: when the harness's own long steps give up. Calibration, the
//! reference checksums and the sleep floor check it between short slices of
//! work, so Ctrl-C stops each within a second and none outlives the case
//! timeout. The models bound their batches the same way through `Batch`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The cancel flag (set by Ctrl-C) and, optionally, a time limit.
#[derive(Debug, Clone, Copy)]
pub struct Stop<'a> {
    cancel: &'a AtomicBool,
    limit: Option<(Instant, Duration)>,
}

/// Why a step stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stopped {
    #[error("interrupted")]
    Cancelled,
    #[error("timed out after {0:.1?} (raise --timeout or shrink the case)")]
    TimedOut(Duration),
}

impl<'a> Stop<'a> {
    /// Stops only when `cancel` is set.
    pub fn on_cancel(cancel: &'a AtomicBool) -> Stop<'a> {
        Stop {
            cancel,
            limit: None,
        }
    }

    /// Stops when `cancel` is set or `timeout` from now has passed.
    pub fn within(cancel: &'a AtomicBool, timeout: Duration) -> Stop<'a> {
        Stop {
            cancel,
            limit: Some((Instant::now(), timeout)),
        }
    }

    /// Never stops: for callers (benches, tests) whose work is small and known.
    pub fn never() -> Stop<'static> {
        static NEVER: AtomicBool = AtomicBool::new(false);
        Stop::on_cancel(&NEVER)
    }

    /// Err once the flag is set or the time is up.
    pub fn check(&self) -> Result<(), Stopped> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stopped::Cancelled);
        }
        match self.limit {
            Some((start, timeout)) if start.elapsed() >= timeout => Err(Stopped::TimedOut(timeout)),
            _ => Ok(()),
        }
    }

    /// Time left before the limit (`None`: no limit).
    pub fn left(&self) -> Option<Duration> {
        self.limit
            .map(|(start, timeout)| timeout.saturating_sub(start.elapsed()))
    }

    /// Sleeps `d`, waking at least every `SLICE` to check; the sleep ends
    /// at the same instant as one long sleep would (each slice aims at the
    /// common end), so timing it measures one wake-up's overshoot.
    pub fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        const SLICE: Duration = Duration::from_millis(100);
        let end = Instant::now() + d;
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(SLICE));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `step` while another thread sets the cancel flag after 50 ms;
    /// returns what `step` returned and how long after the flag it took.
    pub fn cancelled_after_50ms<T>(step: impl FnOnce(&AtomicBool) -> T) -> (T, Duration) {
        let cancel = AtomicBool::new(false);
        std::thread::scope(|s| {
            let flag = &cancel;
            let setter = s.spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, Ordering::Relaxed);
                Instant::now()
            });
            let out = step(&cancel);
            let done = Instant::now();
            let set_at = setter.join().unwrap();
            (out, done.saturating_duration_since(set_at))
        })
    }

    #[test]
    fn a_long_sleep_stops_on_cancel() {
        let (out, after) =
            cancelled_after_50ms(|c| Stop::on_cancel(c).sleep(Duration::from_secs(3600)));
        assert_eq!(out, Err(Stopped::Cancelled));
        assert!(after < Duration::from_secs(1), "{after:?}");
    }

    #[test]
    fn a_limit_times_out() {
        let cancel = AtomicBool::new(false);
        let stop = Stop::within(&cancel, Duration::from_millis(20));
        assert_eq!(stop.check(), Ok(()));
        assert_eq!(
            stop.sleep(Duration::from_secs(3600)),
            Err(Stopped::TimedOut(Duration::from_millis(20)))
        );
        assert_eq!(stop.left(), Some(Duration::ZERO));
    }
}
