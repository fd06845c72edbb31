//! Task Bench's minimum effective task granularity (METG): the search that
//! sweeps one model's task duration downward (log steps, then bisection in
//! log space) until its efficiency falls below a threshold, and the METG
//! estimate with its interval from what the search measured. Pure: the
//! runner (`runner/granularity.rs`) measures and feeds efficiencies in.

/// How one sweep searches: from `start_ms` down by `step` each time, never
/// below `min_ms`, then `bisections` halvings (in log space) of the bracket
/// where efficiency crosses `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSpec {
    pub start_ms: f64,
    pub min_ms: f64,
    pub step: f64,
    pub bisections: u32,
    pub threshold: f64,
}

/// Where a finished search ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Efficient at `hi_ms`, not at `lo_ms` (`lo_ms < hi_ms`).
    Bracket { lo_ms: f64, hi_ms: f64 },
    /// Below the threshold already at the longest duration tried.
    NeverEfficient { start_ms: f64 },
    /// Still efficient at the shortest duration allowed.
    BelowRange { min_ms: f64 },
}

/// What the search wants next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Measure(f64),
    Done(Outcome),
}

/// The state of one sweep: the shortest duration found efficient and the
/// longest found inefficient so far.
#[derive(Debug, Clone)]
pub struct Search {
    spec: SearchSpec,
    efficient: Option<f64>,
    inefficient: Option<f64>,
    bisections: u32,
    next: Next,
}

impl Search {
    pub fn new(spec: SearchSpec) -> Search {
        Search {
            spec,
            efficient: None,
            inefficient: None,
            bisections: 0,
            next: Next::Measure(spec.start_ms),
        }
    }

    pub fn next(&self) -> Next {
        self.next
    }

    /// The bracket so far (longest inefficient, shortest efficient), once
    /// the efficiency has fallen below the threshold somewhere.
    pub fn bracket(&self) -> Option<(f64, f64)> {
        match (self.inefficient, self.efficient) {
            (Some(i), Some(e)) => Some((i.min(e), i.max(e))),
            _ => None,
        }
    }

    /// The efficiency measured at `task_ms` (the duration `next` asked for).
    /// A NaN counts as inefficient: a model that cannot be measured at a
    /// duration is not effective there.
    pub fn record(&mut self, task_ms: f64, efficiency: f64) {
        let s = self.spec;
        // Once a bracket exists, every measurement is a bisection of it.
        if self.efficient.is_some() && self.inefficient.is_some() {
            self.bisections += 1;
        }
        if efficiency >= s.threshold {
            self.efficient = Some(self.efficient.map_or(task_ms, |e| e.min(task_ms)));
        } else {
            self.inefficient = Some(self.inefficient.map_or(task_ms, |i| i.max(task_ms)));
        }
        self.next = match (self.efficient, self.inefficient) {
            (None, Some(_)) => Next::Done(Outcome::NeverEfficient {
                start_ms: s.start_ms,
            }),
            (Some(e), None) if e <= s.min_ms => {
                Next::Done(Outcome::BelowRange { min_ms: s.min_ms })
            }
            (Some(e), None) => Next::Measure((e / s.step).max(s.min_ms)),
            (Some(e), Some(i)) if i < e && self.bisections < s.bisections => {
                Next::Measure((e * i).sqrt())
            }
            (Some(e), Some(i)) if i < e => Next::Done(Outcome::Bracket { lo_ms: i, hi_ms: e }),
            // Noise: a longer duration was inefficient below a shorter
            // efficient one. The crossing is somewhere among them; report
            // the widest bracket they span.
            (Some(e), Some(i)) => Next::Done(Outcome::Bracket {
                lo_ms: e.min(i),
                hi_ms: e.max(i),
            }),
            (None, None) => Next::Measure(s.start_ms),
        };
    }
}

/// Runs a whole search against `efficiency` (a model of the machine, in
/// tests): every duration measured with its efficiency, and the outcome.
/// At most `max_steps` measurements.
pub fn search(
    spec: SearchSpec,
    max_steps: usize,
    mut efficiency: impl FnMut(f64) -> f64,
) -> (Vec<(f64, f64)>, Option<Outcome>) {
    let mut s = Search::new(spec);
    let mut seen = Vec::new();
    for _ in 0..max_steps {
        match s.next() {
            Next::Measure(d) => {
                let e = efficiency(d);
                seen.push((d, e));
                s.record(d, e);
            }
            Next::Done(o) => return (seen, Some(o)),
        }
    }
    match s.next() {
        Next::Done(o) => (seen, Some(o)),
        Next::Measure(_) => (seen, None),
    }
}

/// The most measurements a search of `spec` can take: the log steps from
/// the start to the minimum, one more, and the bisections.
pub fn max_measurements(spec: &SearchSpec) -> usize {
    let steps = ((spec.start_ms / spec.min_ms).ln() / spec.step.ln())
        .ceil()
        .max(0.0);
    steps.min(1e6) as usize + 2 + spec.bisections as usize
}

/// Efficiency of one batch: the ideal time, the same tasks run one after
/// another (`sequential_s`, measured in the same round) shared among
/// `parallelism` units, over the batch's measured wall time.
pub fn efficiency(sequential_s: f64, parallelism: usize, wall_s: f64) -> f64 {
    let valid = |s: f64| s.is_finite() && s > 0.0;
    if !valid(wall_s) || !valid(sequential_s) || parallelism == 0 {
        return f64::NAN;
    }
    sequential_s / parallelism as f64 / wall_s
}

/// One duration a sweep measured: its median efficiency, and the lowest
/// and highest of its repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub task_ms: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// METG with its two intervals: the bisection's bracket, and the durations
/// over which the repetitions disagree about the threshold (noise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub metg_ms: f64,
    pub bracket_ms: (f64, f64),
    pub noise_ms: (f64, f64),
}

/// The duration where the median efficiency crosses `threshold`, by
/// interpolating linearly in log(duration) between the bracket's ends
/// (clamped into the bracket), with the bracket and the noise interval: the
/// shortest duration where some repetition still reached the threshold and
/// the longest where some repetition fell below it, widened to hold the
/// bracket.
pub fn estimate(measured: &[Measured], lo_ms: f64, hi_ms: f64, threshold: f64) -> Estimate {
    let at = |d: f64| measured.iter().find(|m| m.task_ms == d).map(|m| m.median);
    let geometric = (lo_ms * hi_ms).sqrt();
    let metg_ms = match (at(lo_ms), at(hi_ms)) {
        (Some(e_lo), Some(e_hi)) if e_hi > e_lo && e_lo.is_finite() && e_hi.is_finite() => {
            let f = ((threshold - e_lo) / (e_hi - e_lo)).clamp(0.0, 1.0);
            (lo_ms.ln() + f * (hi_ms.ln() - lo_ms.ln())).exp()
        }
        _ => geometric,
    };
    let reached = measured
        .iter()
        .filter(|m| m.max >= threshold)
        .map(|m| m.task_ms)
        .fold(lo_ms, f64::min);
    let fell = measured
        .iter()
        .filter(|m| m.min < threshold || m.min.is_nan())
        .map(|m| m.task_ms)
        .fold(hi_ms, f64::max);
    Estimate {
        metg_ms: metg_ms.clamp(lo_ms, hi_ms),
        bracket_ms: (lo_ms, hi_ms),
        noise_ms: (reached.min(lo_ms), fell.max(hi_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SearchSpec {
        SearchSpec {
            start_ms: 10.0,
            min_ms: 0.001,
            step: 4.0,
            bisections: 4,
            threshold: 0.5,
        }
    }

    /// A model with a fixed overhead per task: efficiency d / (d + o),
    /// which is 0.5 exactly at d = o.
    fn overhead(o: f64) -> impl Fn(f64) -> f64 {
        move |d| d / (d + o)
    }

    #[test]
    fn a_fixed_overhead_is_bracketed_around_its_crossing() {
        for o in [0.003, 0.05, 0.2, 1.7] {
            let (seen, outcome) = search(spec(), 100, overhead(o));
            let Some(Outcome::Bracket { lo_ms, hi_ms }) = outcome else {
                panic!("{o}: {outcome:?}");
            };
            assert!(lo_ms < o && o <= hi_ms, "{o}: [{lo_ms}, {hi_ms}]");
            // Four bisections of a factor-4 bracket: 4^(1/16) wide.
            assert!(
                hi_ms / lo_ms <= 4f64.powf(1.0 / 16.0) * 1.0001,
                "{o}: {seen:?}"
            );
            // The descent went down by 4 each time until it fell.
            assert_eq!(seen[0].0, 10.0);
            assert!(seen.len() <= max_measurements(&spec()), "{seen:?}");
        }
    }

    #[test]
    fn the_estimate_lies_in_the_bracket_near_the_true_crossing() {
        let o = 0.2;
        let (seen, outcome) = search(spec(), 100, overhead(o));
        let Some(Outcome::Bracket { lo_ms, hi_ms }) = outcome else {
            panic!("{outcome:?}");
        };
        let measured: Vec<Measured> = seen
            .iter()
            .map(|&(d, e)| Measured {
                task_ms: d,
                median: e,
                min: e,
                max: e,
            })
            .collect();
        let est = estimate(&measured, lo_ms, hi_ms, 0.5);
        assert!(lo_ms <= est.metg_ms && est.metg_ms <= hi_ms);
        assert!((est.metg_ms / o - 1.0).abs() < 0.05, "{est:?}");
        // Without noise the noise interval is the bracket.
        assert_eq!(est.noise_ms, est.bracket_ms);
    }

    #[test]
    fn noise_widens_the_interval_beyond_the_bracket() {
        let measured = [
            Measured {
                task_ms: 1.0,
                median: 0.8,
                min: 0.45,
                max: 0.9,
            },
            Measured {
                task_ms: 0.25,
                median: 0.3,
                min: 0.2,
                max: 0.55,
            },
            Measured {
                task_ms: 0.5,
                median: 0.6,
                min: 0.5,
                max: 0.7,
            },
        ];
        let est = estimate(&measured, 0.25, 0.5, 0.5);
        assert_eq!(est.bracket_ms, (0.25, 0.5));
        // A repetition at 0.25 reached 0.5; one at 1.0 fell below it.
        assert_eq!(est.noise_ms, (0.25, 1.0));
        assert!(est.metg_ms > 0.25 && est.metg_ms < 0.5);
    }

    #[test]
    fn a_model_never_efficient_stops_at_the_first_measurement() {
        let (seen, outcome) = search(spec(), 100, |_| 0.3);
        assert_eq!(seen.len(), 1);
        assert_eq!(outcome, Some(Outcome::NeverEfficient { start_ms: 10.0 }));
        // NaN (a batch that could not be timed) counts as inefficient.
        let (_, outcome) = search(spec(), 100, |_| f64::NAN);
        assert_eq!(outcome, Some(Outcome::NeverEfficient { start_ms: 10.0 }));
    }

    #[test]
    fn a_model_efficient_everywhere_stops_at_the_minimum() {
        let s = SearchSpec {
            min_ms: 0.01,
            ..spec()
        };
        let (seen, outcome) = search(s, 100, |_| 0.9);
        assert_eq!(outcome, Some(Outcome::BelowRange { min_ms: 0.01 }));
        assert_eq!(seen.last().unwrap().0, 0.01);
        // 10, 2.5, 0.625, 0.156, 0.039, then the minimum.
        assert_eq!(seen.len(), 6, "{seen:?}");
    }

    #[test]
    fn a_non_monotone_curve_still_ends_with_a_bracket() {
        // Efficient at 10, inefficient at 2.5, efficient again below: the
        // search brackets the first crossing from above.
        let (_, outcome) = search(
            spec(),
            100,
            |d| if (1.0..5.0).contains(&d) { 0.2 } else { 0.9 },
        );
        let Some(Outcome::Bracket { lo_ms, hi_ms }) = outcome else {
            panic!("{outcome:?}");
        };
        assert!(
            lo_ms < hi_ms && hi_ms <= 10.0 && lo_ms >= 0.001,
            "{lo_ms} {hi_ms}"
        );
    }

    #[test]
    fn zero_bisections_report_the_descent_bracket() {
        let s = SearchSpec {
            bisections: 0,
            ..spec()
        };
        let (seen, outcome) = search(s, 100, overhead(0.2));
        assert_eq!(
            outcome,
            Some(Outcome::Bracket {
                lo_ms: 10.0 / 64.0,
                hi_ms: 10.0 / 16.0
            })
        );
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn efficiency_is_ideal_over_measured() {
        // 80 ms one after another on 2 units: 40 ms ideal; 80 ms measured.
        assert!((efficiency(0.080, 2, 0.080) - 0.5).abs() < 1e-12);
        assert!(efficiency(0.080, 2, 0.0).is_nan());
        assert!(efficiency(0.0, 2, 1.0).is_nan());
        assert!(efficiency(0.080, 0, 1.0).is_nan());
    }
}
