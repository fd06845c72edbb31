//! Pure statistics over measured samples: medians with distribution-free
//! confidence intervals, slopes (Theil–Sen) with rank-based intervals,
//! speedup, and the ideal speedup a machine allows.
//! No clocks, threads or files here.

use crate::results::{ConvoyStats, Estimate};

/// The median of `samples` (the mean of the middle two for an even count).
/// None when empty.
///
/// ```
/// use parabench::stats::median;
/// assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
/// assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The median absolute deviation from the median, scaled by 1.4826 so that
/// it estimates the standard deviation of normal samples (as R's `mad` and
/// pyperf do). None when empty.
pub fn mad(samples: &[f64]) -> Option<f64> {
    let m = median(samples)?;
    let deviations: Vec<f64> = samples.iter().map(|x| (x - m).abs()).collect();
    median(&deviations).map(|d| d * 1.4826)
}

/// The samples more than `k` scaled MADs from their median; none when the
/// MAD is zero (most samples equal), where no spread can be told.
pub fn outliers(samples: &[f64], k: f64) -> Vec<f64> {
    match (median(samples), mad(samples)) {
        (Some(m), Some(mad)) if mad > 0.0 => samples
            .iter()
            .copied()
            .filter(|x| (x - m).abs() > k * mad)
            .collect(),
        _ => Vec::new(),
    }
}

/// Sample standard deviation over the mean. None for fewer than two
/// samples or a mean that is not positive.
pub fn coefficient_of_variation(samples: &[f64]) -> Option<f64> {
    let n = samples.len();
    if n < 2 {
        return None;
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    if mean <= 0.0 || !mean.is_finite() {
        return None;
    }
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(var.sqrt() / mean)
}

/// The `q` quantile (0 to 1) of sorted finite samples, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The `q` quantile (0 to 1) of `samples`, nearest rank; None when no
/// sample is finite.
///
/// ```
/// use parabench::stats::percentile;
/// let s = [5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0];
/// assert_eq!(percentile(&s, 0.1), Some(1.0));
/// assert_eq!(percentile(&s, 0.9), Some(9.0));
/// assert_eq!(percentile(&[], 0.5), None);
/// ```
pub fn percentile(samples: &[f64], q: f64) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    Some(quantile(&s, q.clamp(0.0, 1.0)))
}

/// A convoy probe's round trips (ms), every one kept: their percentiles and
/// the share that took `delayed_ms` or longer. None when empty.
pub fn convoy_stats(round_trips_ms: &[f64], delayed_ms: f64) -> Option<ConvoyStats> {
    let mut s: Vec<f64> = round_trips_ms
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let delayed = s.iter().filter(|&&ms| ms >= delayed_ms).count();
    Some(ConvoyStats {
        round_trips: s.len() as u64,
        p10_ms: quantile(&s, 0.10),
        p50_ms: quantile(&s, 0.50),
        p90_ms: quantile(&s, 0.90),
        p99_ms: quantile(&s, 0.99),
        delayed_share: delayed as f64 / s.len() as f64,
        delayed_ms,
    })
}

/// The median with a 95% confidence interval from order statistics: the
/// interval between the k-th smallest and k-th largest sample, with k the
/// largest rank whose binomial(n, 1/2) tail stays under 2.5%. It assumes
/// nothing about the distribution (timings are skewed). With fewer than six
/// samples no such k exists and the interval is [min, max], whose coverage is
/// then lower (93.75% at five, 75% at three): run more repetitions for a
/// tighter claim.
pub fn median_ci(samples: &[f64]) -> Option<Estimate> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    let med = median(&s)?;
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let k = ci_rank(n);
    Some(Estimate {
        median: med,
        low: s[k],
        high: s[n - 1 - k],
    })
}

/// The 0-based rank k such that P(Binomial(n, 1/2) <= k) <= 2.5% is largest.
fn ci_rank(n: usize) -> usize {
    let mut cdf = 0.0;
    let mut k = 0;
    for i in 0..n {
        cdf += binomial_half(n, i);
        if cdf > 0.025 {
            break;
        }
        k = i;
    }
    k.min((n - 1) / 2)
}

fn binomial_half(n: usize, i: usize) -> f64 {
    // ln C(n, i) - n ln 2, summed in logs to stay finite for large n.
    let ln_c: f64 = (0..i)
        .map(|j| ((n - j) as f64).ln() - ((j + 1) as f64).ln())
        .sum();
    (ln_c - n as f64 * std::f64::consts::LN_2).exp()
}

/// The median of the element-wise ratios `num[i] / den[i]` with its 95%
/// interval (see `median_ci`): for samples taken in pairs, such as two models
/// timed in the same round. Samples pair by position over the shorter of the
/// two: the runner times a point's cases in the same rounds, and a case it
/// stops timing is never timed again, so the first `n` samples of any two
/// cases of a point come from the same `n` rounds. None when either is empty.
pub fn paired_ratio(num: &[f64], den: &[f64]) -> Option<Estimate> {
    let ratios: Vec<f64> = num.iter().zip(den).map(|(n, d)| n / d).collect();
    if ratios.is_empty() {
        return None;
    }
    median_ci(&ratios)
}

/// A straight-line fit `y = intercept + slope * x`: the slope with its 95%
/// confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    pub slope: Estimate,
    /// The median of `y - slope * x`, for drawing the line.
    pub intercept: f64,
}

/// The Theil–Sen slope of `points` (x, y): the median of the slopes of every
/// pair of points with different x, which one outlier cannot move. Its 95%
/// interval is Sen's (1968), from the distribution of Kendall's S: the
/// pairwise slopes of ranks (N - C) / 2 and (N + C) / 2 + 1 among the N
/// sorted ones, with C = 1.96 * sd(S), the variance corrected for ties in x
/// (many repetitions at one x). It assumes only independent errors, not their
/// distribution. With too few points for such ranks (C >= N) the interval is
/// the full range of pairwise slopes. None with fewer than two distinct x.
///
/// ```
/// // Memory against units: a fixed 20 MiB plus 2 MiB per unit.
/// use parabench::stats::theil_sen;
/// let mib = |n: f64| (20.0 + 2.0 * n) * 1024.0 * 1024.0;
/// let points: Vec<(f64, f64)> = [2.0, 4.0, 8.0].iter().map(|&n| (n, mib(n))).collect();
/// let slope = theil_sen(&points).unwrap();
/// assert_eq!(slope.slope.median, 2.0 * 1024.0 * 1024.0);
/// assert!(theil_sen(&[(1.0, 5.0), (1.0, 6.0)]).is_none(), "one x: no slope");
/// ```
pub fn theil_sen(points: &[(f64, f64)]) -> Option<Slope> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut slopes = Vec::new();
    for (i, &(xi, yi)) in pts.iter().enumerate() {
        for &(xj, yj) in &pts[i + 1..] {
            if xi != xj {
                slopes.push((yj - yi) / (xj - xi));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let slope = median(&slopes)?;
    let n_pairs = slopes.len();
    // Var(S) = [n(n-1)(2n+5) - sum over groups of tied x of t(t-1)(2t+5)] / 18.
    let term = |t: usize| (t * t.saturating_sub(1) * (2 * t + 5)) as f64;
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    let ties: f64 = xs
        .chunk_by(|a, b| a == b)
        .map(|group| term(group.len()))
        .sum();
    let c = 1.96 * ((term(pts.len()) - ties) / 18.0).max(0.0).sqrt();
    // 1-based ranks M1 = (N - C) / 2 and M2 + 1 = (N + C) / 2 + 1, rounded
    // outwards; as 0-based indexes, M1 - 1 and M2.
    let low_rank = ((n_pairs as f64 - c) / 2.0).floor();
    let high_rank = ((n_pairs as f64 + c) / 2.0).ceil() + 1.0;
    let (low, high) = if low_rank >= 1.0 && high_rank <= n_pairs as f64 {
        (
            slopes[low_rank as usize - 1],
            slopes[high_rank as usize - 1],
        )
    } else {
        (slopes[0], slopes[n_pairs - 1])
    };
    let residuals: Vec<f64> = pts.iter().map(|(x, y)| y - slope * x).collect();
    Some(Slope {
        slope: Estimate {
            median: slope,
            low: low.min(slope),
            high: high.max(slope),
        },
        intercept: median(&residuals)?,
    })
}

/// How much faster a model is than the sequential baseline.
pub fn speedup(sequential: f64, model: f64) -> Option<f64> {
    (sequential > 0.0 && model > 0.0).then(|| sequential / model)
}

/// The best speedup this machine allows for a batch, given the measured
/// cost of one task's CPU part and IO part when run alone.
///
/// Sequentially the batch takes `tasks * (cpu + io)`. With `workers` running
/// at once, it can finish no sooner than the longer of: the CPU work spread
/// over the cores that can run it, `tasks * cpu / min(workers, cores)`; and
/// the rounds of tasks, `ceil(tasks / workers) * (cpu + io)` (each task takes
/// its own time, whatever else runs). For pure CPU work this is about
/// min(workers, tasks, cores); for pure IO, the concurrency bound.
pub fn ideal_speedup(tasks: usize, workers: usize, cores: usize, cpu: f64, io: f64) -> f64 {
    let tasks = tasks.max(1) as f64;
    let workers = workers.max(1) as f64;
    let cores = cores.max(1) as f64;
    let per_task = cpu + io;
    if per_task <= 0.0 {
        return 1.0;
    }
    let sequential = tasks * per_task;
    let cpu_bound = tasks * cpu / workers.min(cores);
    let rounds = (tasks / workers).ceil() * per_task;
    sequential / cpu_bound.max(rounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_measures() {
        let quiet = [1.0, 1.01, 0.99, 1.0, 1.02];
        assert!(outliers(&quiet, 3.0).is_empty());
        assert!(coefficient_of_variation(&quiet).unwrap() < 0.02);
        let spiky = [1.0, 1.01, 0.99, 1.0, 1.5];
        assert_eq!(outliers(&spiky, 3.0), vec![1.5]);
        assert!((mad(&[1.0, 2.0, 3.0]).unwrap() - 1.4826).abs() < 1e-9);
        assert!(outliers(&[1.0, 1.0, 1.0, 2.0], 3.0).is_empty());
        assert_eq!(coefficient_of_variation(&[1.0]), None);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn small_samples_use_the_full_range() {
        let e = median_ci(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((e.low, e.median, e.high), (1.0, 3.0, 5.0));
    }

    #[test]
    fn larger_samples_trim_the_extremes() {
        // n = 20: the classic table gives ranks 6 and 15 (1-based).
        let s: Vec<f64> = (1..=20).map(f64::from).collect();
        let e = median_ci(&s).unwrap();
        assert_eq!((e.low, e.high), (6.0, 15.0));
        assert!(e.low <= e.median && e.median <= e.high);
    }

    #[test]
    fn ci_rank_matches_binomial_tables() {
        // Known 95% ranks for the median (0-based k): n=6 -> 0, n=10 -> 1, n=30 -> 9.
        assert_eq!(ci_rank(6), 0);
        assert_eq!(ci_rank(10), 1);
        assert_eq!(ci_rank(30), 9);
    }

    #[test]
    fn ideal_speedup_for_cpu_io_and_mixed() {
        // CPU: bounded by cores.
        assert!((ideal_speedup(8, 4, 2, 20.0, 0.0) - 2.0).abs() < 1e-9);
        assert!((ideal_speedup(8, 1, 2, 20.0, 0.0) - 1.0).abs() < 1e-9);
        // IO: bounded by concurrency.
        assert!((ideal_speedup(64, 64, 2, 0.0, 50.0) - 64.0).abs() < 1e-9);
        assert!((ideal_speedup(10, 4, 2, 0.0, 50.0) - 10.0 / 3.0).abs() < 1e-9);
        // Mixed, 30% CPU, 8 workers, 2 cores: CPU spread over 2 cores limits it.
        let s = ideal_speedup(16, 8, 2, 3.0, 7.0);
        assert!((s - 160.0 / 24.0).abs() < 1e-9, "{s}");
    }

    #[test]
    fn paired_ratio_pairs_samples_by_position() {
        // Round 3 ran slow for both: pairing cancels it.
        let a = [2.0, 2.2, 4.0, 2.1, 1.9, 2.0];
        let b = [1.0, 1.1, 2.0, 1.05, 0.95, 1.0];
        let r = paired_ratio(&a, &b).unwrap();
        assert_eq!((r.low, r.median, r.high), (2.0, 2.0, 2.0));
        // A case timed in fewer rounds pairs with the other's first rounds.
        let r = paired_ratio(&a[..2], &b).unwrap();
        assert_eq!((r.low, r.median, r.high), (2.0, 2.0, 2.0));
        assert_eq!(paired_ratio(&a, &[]), None);
        assert_eq!(paired_ratio(&[], &[]), None);
    }

    #[test]
    fn speedup_guards_against_zero() {
        assert_eq!(speedup(2.0, 1.0), Some(2.0));
        assert_eq!(speedup(2.0, 0.0), None);
    }

    #[test]
    fn theil_sen_recovers_an_exact_line() {
        // y = 100 + 2048 x, three repetitions at each of 1, 4, 8.
        let points: Vec<(f64, f64)> = [1.0, 4.0, 8.0]
            .iter()
            .flat_map(|&x| [(x, 100.0 + 2048.0 * x); 3])
            .collect();
        let fit = theil_sen(&points).unwrap();
        assert_eq!(fit.slope.median, 2048.0);
        assert_eq!((fit.slope.low, fit.slope.high), (2048.0, 2048.0));
        assert_eq!(fit.intercept, 100.0);
    }

    #[test]
    fn theil_sen_interval_brackets_a_noisy_slope_and_ignores_an_outlier() {
        // y = 10 + 3 x with deterministic noise of +-1, and one wild point.
        let mut points: Vec<(f64, f64)> = (0..30)
            .map(|i| {
                let x = (i % 6) as f64;
                let noise = [0.7, -1.0, 0.2, 0.9, -0.4, -0.6][i / 6 % 6];
                (x, 10.0 + 3.0 * x + noise)
            })
            .collect();
        points.push((2.0, 1e6));
        let fit = theil_sen(&points).unwrap();
        let s = fit.slope;
        assert!(s.low <= s.median && s.median <= s.high, "{s:?}");
        assert!(s.low < 3.0 && 3.0 < s.high, "{s:?}");
        assert!((s.median - 3.0).abs() < 0.3, "{s:?}");
        assert!(s.high - s.low < 1.0, "{s:?}");
    }

    #[test]
    fn theil_sen_needs_two_distinct_x() {
        assert_eq!(theil_sen(&[]), None);
        assert_eq!(theil_sen(&[(4.0, 1.0), (4.0, 2.0), (4.0, 3.0)]), None);
        // Two points: the one slope, with nothing to widen it.
        let two = theil_sen(&[(1.0, 1.0), (3.0, 5.0)]).unwrap();
        assert_eq!(
            (two.slope.low, two.slope.median, two.slope.high),
            (2.0, 2.0, 2.0)
        );
    }

    #[test]
    fn theil_sen_with_few_points_uses_the_full_range() {
        // Three points, three pairwise slopes 1, 2, 3: C >= N, full range.
        let fit = theil_sen(&[(0.0, 0.0), (1.0, 1.0), (2.0, 4.0)]).unwrap();
        assert_eq!(
            (fit.slope.low, fit.slope.median, fit.slope.high),
            (1.0, 2.0, 3.0)
        );
    }

    #[test]
    fn convoy_stats_keep_the_whole_distribution() {
        // 100 round trips: 70 quick ones and 30 that waited an interval.
        let mut rts: Vec<f64> = (0..70).map(|i| 0.02 + i as f64 * 1e-4).collect();
        rts.extend((0..30).map(|i| 5.1 + i as f64 * 0.01));
        let c = convoy_stats(&rts, 2.5).unwrap();
        assert_eq!(c.round_trips, 100);
        assert!((c.p10_ms - 0.0209).abs() < 1e-9, "{c:?}");
        assert!(
            c.p50_ms < 0.03 && c.p90_ms > 5.0 && c.p99_ms > c.p90_ms,
            "{c:?}"
        );
        assert!((c.delayed_share - 0.3).abs() < 1e-9);
        assert!(convoy_stats(&[], 1.0).is_none());
    }
}
