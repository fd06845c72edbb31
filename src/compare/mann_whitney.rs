//! The two-sided Mann-Whitney U test (Wilcoxon rank-sum), pure and small:
//! exact for the sample sizes a benchmark run has, normal approximation
//! beyond. `compare` uses it to decide whether two runs' samples differ.

/// Up to this many samples in total the p-value is exact; the counting
/// table grows with the cube of this, and beyond it the normal
/// approximation is accurate to well under a percent of alpha.
const EXACT_MAX_TOTAL: usize = 50;

/// Two-sided p-value of the hypothesis that `a` and `b` come from the same
/// distribution. Ties get mid-ranks, and the exact test then counts the
/// permutation distribution of those mid-ranks, so ties stay exact too.
/// Returns 1 when either side is empty or every value is tied.
pub fn p_value(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let ranks = doubled_midranks(a, b);
    if ranks.iter().all(|&r| r == ranks[0]) {
        return 1.0;
    }
    if ranks.len() <= EXACT_MAX_TOTAL {
        exact_p(&ranks, a.len())
    } else {
        normal_p(&ranks, a.len(), b.len())
    }
}

/// The smallest two-sided p-value the test can give with `n_a` against `n_b`
/// untied samples: when it is not below alpha, no difference can be shown.
pub fn min_p_value(n_a: usize, n_b: usize) -> f64 {
    if n_a == 0 || n_b == 0 {
        return 1.0;
    }
    // Only the two most extreme of the C(n, k) equally likely rank sets reach it.
    let (n, k) = (n_a + n_b, n_a.min(n_b));
    let combinations = (0..k).fold(1.0_f64, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
    (2.0 / combinations).min(1.0)
}

/// Ranks of `a` followed by `b` in the pooled sample, doubled so that
/// mid-ranks of ties stay integers.
fn doubled_midranks(a: &[f64], b: &[f64]) -> Vec<u64> {
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let mut order: Vec<usize> = (0..pooled.len()).collect();
    order.sort_by(|&i, &j| pooled[i].total_cmp(&pooled[j]));
    let mut ranks = vec![0; pooled.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && pooled[order[end]] == pooled[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; twice their mean is start+1+end.
        for &idx in &order[start..end] {
            ranks[idx] = (start + 1 + end) as u64;
        }
        start = end;
    }
    ranks
}

/// Exact permutation p-value of the rank sum of the first `n_a` ranks.
fn exact_p(ranks: &[u64], n_a: usize) -> f64 {
    let n = ranks.len();
    let observed: u64 = ranks[..n_a].iter().sum();
    let total: u64 = ranks.iter().sum();
    let max_sum = total as usize;
    // ways[j][s]: how many j-element subsets of the ranks seen so far sum to s.
    let mut ways = vec![vec![0.0_f64; max_sum + 1]; n_a + 1];
    ways[0][0] = 1.0;
    for (seen, &rank) in ranks.iter().enumerate() {
        let rank = rank as usize;
        for j in (1..=n_a.min(seen + 1)).rev() {
            let (lower, upper) = ways.split_at_mut(j);
            for s in (rank..=max_sum).rev() {
                upper[0][s] += lower[j - 1][s - rank];
            }
        }
    }
    // The expected rank sum is n_a (n + 1) / 2, an integer once doubled.
    let mean = (n_a * (n + 1)) as i64;
    let observed_distance = (observed as i64 - mean).abs();
    let (mut extreme, mut all) = (0.0, 0.0);
    for (s, &count) in ways[n_a].iter().enumerate() {
        all += count;
        if (s as i64 - mean).abs() >= observed_distance {
            extreme += count;
        }
    }
    (extreme / all).min(1.0)
}

/// Normal approximation with the tie correction and a continuity correction.
fn normal_p(ranks: &[u64], n_a: usize, n_b: usize) -> f64 {
    let n = (n_a + n_b) as f64;
    let (na, nb) = (n_a as f64, n_b as f64);
    let rank_sum = ranks[..n_a].iter().sum::<u64>() as f64 / 2.0;
    let u = rank_sum - na * (na + 1.0) / 2.0;
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable();
    let tie_term: f64 = sorted
        .chunk_by(|x, y| x == y)
        .map(|group| {
            let t = group.len() as f64;
            t * t * t - t
        })
        .sum();
    let variance = na * nb / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let z = ((u - na * nb / 2.0).abs() - 0.5).max(0.0) / variance.sqrt();
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Complementary error function (Numerical Recipes' `erfcc`), relative error
/// below 1.2e-7: plenty for comparing a p-value with alpha.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn three_against_three_cannot_go_below_one_tenth() {
        let p = p_value(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!(close(p, 0.1, 1e-12), "{p}");
        assert!(close(min_p_value(3, 3), 0.1, 1e-12));
    }

    #[test]
    fn five_against_five_separated_reaches_two_in_252() {
        let p = p_value(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!(close(p, 2.0 / 252.0, 1e-12), "{p}");
        assert!(close(min_p_value(5, 5), 2.0 / 252.0, 1e-12));
    }

    #[test]
    fn identical_samples_give_one() {
        let x = [1.0, 1.5, 2.0, 2.5];
        assert!(close(p_value(&x, &x), 1.0, 1e-12));
        assert!(close(p_value(&[3.0; 4], &[3.0; 5]), 1.0, 1e-12));
    }

    #[test]
    fn test_is_symmetric() {
        let a = [1.0, 4.0, 2.0, 8.0, 5.0];
        let b = [3.0, 9.0, 7.0, 6.0, 10.0, 11.0];
        assert!(close(p_value(&a, &b), p_value(&b, &a), 1e-12));
    }

    #[test]
    fn known_exact_value_with_interleaving() {
        // a = {1,2,4} vs b = {3,5,6}: rank sum 7, 3.5 below the mean 10.5.
        // Subsets of size 3 of 1..6 with sum <= 7 or >= 14: {1,2,3},{1,2,4},{3,5,6},{4,5,6} -> 4/20.
        let p = p_value(&[1.0, 2.0, 4.0], &[3.0, 5.0, 6.0]);
        assert!(close(p, 0.2, 1e-12), "{p}");
    }

    #[test]
    fn ties_are_counted_exactly() {
        // Pooled 1,1,2,2 with a = {1,1}: doubled ranks 3,3,7,7; only {1,1} and {2,2}
        // are as extreme, 2 of the C(4,2) = 6 subsets.
        let p = p_value(&[1.0, 1.0], &[2.0, 2.0]);
        assert!(close(p, 2.0 / 6.0, 1e-12), "{p}");
    }

    #[test]
    fn normal_approximation_agrees_with_exact_near_the_limit() {
        let a: Vec<f64> = (0..25).map(|i| f64::from(i) * 1.1).collect();
        let b: Vec<f64> = (0..25).map(|i| f64::from(i) * 1.1 + 6.05).collect();
        let ranks = doubled_midranks(&a, &b);
        let exact = exact_p(&ranks, a.len());
        let approx = normal_p(&ranks, a.len(), b.len());
        assert!(close(exact, approx, 0.01), "exact {exact} approx {approx}");
    }

    #[test]
    fn large_separated_samples_are_significant() {
        let a: Vec<f64> = (0..40).map(f64::from).collect();
        let b: Vec<f64> = (0..40).map(|i| f64::from(i) + 100.0).collect();
        assert!(p_value(&a, &b) < 1e-6);
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
    }
}
