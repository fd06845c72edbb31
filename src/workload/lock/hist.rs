//! A compact histogram of lock waits: logarithmic buckets, eight per power
//! of two (about 9% wide), from 1 ns to hours, kept sparse on the wire so a
//! unit of a million sections still answers with a few hundred numbers.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Buckets per power of two.
const PER_OCTAVE: f64 = 8.0;
/// Bucket 0 holds waits of 0 ns; 8 per octave up to 2^50 ns (13 days).
const BUCKETS: usize = 8 * 50 + 2;
/// 2^(j/8) for j = 1 to 7: where the eighths of an octave begin.
const EIGHTHS: [f64; 7] = [
    1.090_507_732_665_257_7,
    1.189_207_115_002_721,
    1.296_839_554_651_009_6,
    std::f64::consts::SQRT_2,
    1.542_210_825_407_940_8,
    1.681_792_830_507_429,
    1.834_008_086_409_342_4,
];

/// `(bucket, count)` pairs, bucket ascending, counts non-zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitHistogram(pub Vec<(u16, u64)>);

/// Where a unit records its waits while it runs.
pub struct Recorder(Box<[u64; BUCKETS]>);

impl WaitHistogram {
    pub fn recorder() -> Recorder {
        Recorder(Box::new([0; BUCKETS]))
    }

    /// The bucket of a wait of `ns` nanoseconds: floor(8 log2 ns) + 1. The
    /// octave comes from the leading bit and the eighth within it from the
    /// boundaries 2^(j/8), with no call to libm's log2: this runs in the
    /// process models' worker, which links no libm so that it starts faster
    /// (loading libm cost 60 µs a start here).
    pub fn bucket(ns: u64) -> u16 {
        if ns == 0 {
            return 0;
        }
        let octave = 63 - ns.leading_zeros();
        // In [1, 2): the power of two divides exactly.
        let within = ns as f64 / (1u64 << octave) as f64;
        let eighth = EIGHTHS.iter().filter(|&&edge| within >= edge).count();
        let b = octave as usize * PER_OCTAVE as usize + eighth + 1;
        b.min(BUCKETS - 1) as u16
    }

    /// A bucket's representative wait: the geometric middle of its range.
    pub fn value_ns(bucket: u16) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        2f64.powf((f64::from(bucket) - 0.5) / PER_OCTAVE)
    }

    pub fn count(&self) -> u64 {
        self.0.iter().map(|&(_, n)| n).sum()
    }

    /// Adds `other`'s counts to this one's.
    pub fn merge(&mut self, other: &WaitHistogram) {
        let mut dense = [0u64; BUCKETS];
        for &(b, n) in self.0.iter().chain(&other.0) {
            if let Some(slot) = dense.get_mut(b as usize) {
                *slot += n;
            }
        }
        *self = sparse(&dense);
    }

    /// The wait at quantile `q` (0 to 1), in nanoseconds; None when empty.
    pub fn quantile_ns(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(b, n) in &self.0 {
            seen += n;
            if seen >= rank {
                return Some(WaitHistogram::value_ns(b));
            }
        }
        self.0.last().map(|&(b, _)| WaitHistogram::value_ns(b))
    }
}

impl Recorder {
    pub fn record(&mut self, wait: Duration) {
        let ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.0[WaitHistogram::bucket(ns) as usize] += 1;
    }

    pub fn finish(self) -> WaitHistogram {
        sparse(&self.0)
    }
}

fn sparse(dense: &[u64; BUCKETS]) -> WaitHistogram {
    WaitHistogram(
        dense
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(b, &n)| (b as u16, n))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_fall_within_a_bucket_of_the_truth() {
        let mut r = WaitHistogram::recorder();
        for us in 1..=1000u64 {
            r.record(Duration::from_micros(us));
        }
        let h = r.finish();
        assert_eq!(h.count(), 1000);
        let p50 = h.quantile_ns(0.5).unwrap();
        let p99 = h.quantile_ns(0.99).unwrap();
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.1, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.1, "{p99}");
        assert_eq!(WaitHistogram::default().quantile_ns(0.5), None);
    }

    #[test]
    fn buckets_are_eighths_of_octaves_as_log2_puts_them() {
        // The formula the CPython runner uses (python/parabench_runner.py).
        let by_log2 =
            |ns: u64| ((((ns as f64).log2() * 8.0).floor() as usize + 1).min(BUCKETS - 1)) as u16;
        let mut ns = 1u64;
        while ns < u64::MAX / 2 {
            for n in [ns, ns + 1, ns + ns / 3, ns + ns / 2, ns + ns / 10 * 9] {
                assert_eq!(WaitHistogram::bucket(n), by_log2(n), "{n} ns");
            }
            ns *= 2;
        }
        for n in 1..200_000 {
            assert_eq!(WaitHistogram::bucket(n), by_log2(n), "{n} ns");
        }
        for (j, edge) in EIGHTHS.iter().enumerate() {
            assert!((edge - 2f64.powf((j + 1) as f64 / 8.0)).abs() < 1e-15);
        }
    }

    #[test]
    fn merging_adds_counts_and_extremes_stay_in_range() {
        let mut a = WaitHistogram::recorder();
        a.record(Duration::ZERO);
        a.record(Duration::MAX);
        let mut h = a.finish();
        let mut b = WaitHistogram::recorder();
        b.record(Duration::ZERO);
        h.merge(&b.finish());
        assert_eq!(h.0.first(), Some(&(0, 2)));
        assert_eq!(h.count(), 3);
        // Buckets from outside (a corrupt reply) are dropped, not a panic.
        h.merge(&WaitHistogram(vec![(u16::MAX, 5)]));
        assert_eq!(h.count(), 3);
    }
}
