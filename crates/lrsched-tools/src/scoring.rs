//! Scores over seeds, as rliable and AlgoPerf compute them: median, interquartile mean,
//! percentile intervals from a seeded bootstrap (so a report repeats bit for bit), and the
//! probability that one schedule improves on another.
//!
//! Every function here assumes **higher is better**: a caller scoring a loss negates it
//! first. Values may be infinite (a time to target that was never reached is `+inf`, as
//! AlgoPerf counts it; a failed seed's score is `-inf`), and every function is defined for
//! them; NaN is never passed in by the tools.
//!
//! The bootstrap draws its indices from [`SplitMix64`] (not an OS or library RNG), so
//! `scripts/scoring_reference.py` draws the very same indices and checks every number
//! here exactly (`tests/scoring_reference.rs`).
//!
//! With one workload the stratified bootstrap of rliable is the ordinary bootstrap over
//! seeds (its strata are the tasks); several workloads would resample within each.

/// How many bootstrap resamples an interval takes: enough that the 2.5% and 97.5%
/// points move by well under the seeds' own spread from one RNG seed to another.
pub const BOOTSTRAP_REPS: usize = 5000;

/// The RNG seed of every interval in a report, so the same trials give the same report.
pub const BOOTSTRAP_SEED: u64 = 0x1a5c_5eed;

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny RNG whose every output is easy to
/// reproduce in any language, which is what a checked bootstrap needs.
///
/// ```
/// use lrsched_tools::scoring::SplitMix64;
/// let mut r = SplitMix64::new(0);
/// assert_eq!(r.next_u64(), 0xe220a8397b1dcdaf);
/// assert!(r.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// An RNG starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (`n > 0`): the high half of the 128-bit product
    /// (Lemire), which needs no loop and is one line in Python.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// The `q`-th percentile (0 to 100) of sorted values by linear interpolation between
/// the closest ranks, numpy's default; NaN for no values. Equal neighbours (two
/// infinities) give that value, not `inf - inf`.
///
/// ```
/// use lrsched_tools::scoring::percentile_sorted;
/// assert_eq!(percentile_sorted(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
/// assert_eq!(percentile_sorted(&[1.0, f64::INFINITY, f64::INFINITY], 75.0), f64::INFINITY);
/// ```
pub fn percentile_sorted(s: &[f64], q: f64) -> f64 {
    if s.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 100.0) / 100.0 * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    let frac = pos - lo as f64;
    if frac == 0.0 || s[lo] == s[hi] {
        return s[lo];
    }
    s[lo] + frac * (s[hi] - s[lo])
}

/// The median (the mean of the middle two for an even count); NaN for no values.
///
/// ```
/// use lrsched_tools::scoring::median;
/// assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(median(&[4.0, 1.0, 2.0, f64::INFINITY]), 3.0);
/// ```
pub fn median(v: &[f64]) -> f64 {
    percentile_sorted(&sorted(v), 50.0)
}

/// The interquartile mean, rliable's IQM: the mean of what is left after cutting
/// `floor(n / 4)` values from each end (`scipy.stats.trim_mean(v, 0.25)`). With three
/// seeds or fewer nothing is cut, so it is the mean. NaN for no values.
///
/// ```
/// use lrsched_tools::scoring::iqm;
/// assert!((iqm(&[0.1, 0.8, 0.9, 1.0]) - 0.85).abs() < 1e-12);
/// assert_eq!(iqm(&[0.25, 0.5, 0.75]), 0.5);
/// ```
pub fn iqm(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let s = sorted(v);
    let cut = s.len() / 4;
    let kept = &s[cut..s.len() - cut];
    let sum: f64 = kept.iter().sum();
    if sum.is_nan() {
        // +inf and -inf among the kept values: the middle is unbounded both ways.
        return f64::NAN;
    }
    sum / kept.len() as f64
}

/// The 95% percentile interval of `stat` over `reps` bootstrap resamples of `v` (each
/// `v.len()` indices drawn with replacement from [`SplitMix64::new(seed)`]); `(NaN, NaN)`
/// for no values.
///
/// ```
/// use lrsched_tools::scoring::{bootstrap_ci, iqm};
/// let (lo, hi) = bootstrap_ci(&[0.90, 0.91, 0.93, 0.95], iqm, 2000, 7);
/// assert!(0.90 <= lo && lo <= 0.92 && 0.92 <= hi && hi <= 0.95);
/// assert_eq!(bootstrap_ci(&[0.5, 0.5], iqm, 100, 7), (0.5, 0.5));
/// ```
pub fn bootstrap_ci(v: &[f64], stat: fn(&[f64]) -> f64, reps: usize, seed: u64) -> (f64, f64) {
    if v.is_empty() || reps == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64::new(seed);
    let mut buf = vec![0.0; v.len()];
    let mut stats: Vec<f64> = (0..reps)
        .map(|_| {
            for b in buf.iter_mut() {
                *b = v[rng.below(v.len())];
            }
            stat(&buf)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    (
        percentile_sorted(&stats, 2.5),
        percentile_sorted(&stats, 97.5),
    )
}

/// The probability that a draw of `x` beats a draw of `y`, ties counted one half:
/// rliable's probability of improvement, the Mann-Whitney U statistic over `n * m`. 0.5
/// for identical samples; NaN when either is empty.
///
/// ```
/// use lrsched_tools::scoring::probability_of_improvement as poi;
/// assert_eq!(poi(&[0.9, 0.9], &[0.8, 0.8]), 1.0);
/// assert_eq!(poi(&[0.8, 0.9], &[0.8, 0.9]), 0.5);
/// assert_eq!(poi(&[1.0, 2.0], &[1.5, f64::NEG_INFINITY]), 0.75);
/// ```
pub fn probability_of_improvement(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let ys = sorted(y);
    // For each x, the ys below it and equal to it, by binary search: O((n + m) log m),
    // so a thousand seeds resampled thousands of times stay cheap.
    let mut wins = 0.0;
    for &a in x {
        let below = ys.partition_point(|&b| b.total_cmp(&a).is_lt());
        let upto = ys.partition_point(|&b| b.total_cmp(&a).is_le());
        wins += below as f64 + 0.5 * (upto - below) as f64;
    }
    wins / (x.len() as f64 * y.len() as f64)
}

/// The 95% percentile interval of [`probability_of_improvement`] over `reps` resamples
/// that draw `x` and `y` independently (rliable's independent bootstrap: the runs of two
/// algorithms are not paired there), each resample `x`'s indices first, then `y`'s.
///
/// ```
/// use lrsched_tools::scoring::poi_ci;
/// assert_eq!(poi_ci(&[0.9, 0.95], &[0.5, 0.6], 500, 1), (1.0, 1.0));
/// ```
pub fn poi_ci(x: &[f64], y: &[f64], reps: usize, seed: u64) -> (f64, f64) {
    if x.is_empty() || y.is_empty() || reps == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64::new(seed);
    let mut bx = vec![0.0; x.len()];
    let mut by = vec![0.0; y.len()];
    let mut stats: Vec<f64> = (0..reps)
        .map(|_| {
            for b in bx.iter_mut() {
                *b = x[rng.below(x.len())];
            }
            for b in by.iter_mut() {
                *b = y[rng.below(y.len())];
            }
            probability_of_improvement(&bx, &by)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    (
        percentile_sorted(&stats, 2.5),
        percentile_sorted(&stats, 97.5),
    )
}

/// Mean and the two-sided `(1 - 2 alpha)` Student-t interval of paired differences:
/// `level` 0.95 uses [`crate::stats::t975`], 0.90 uses [`t95`] (the interval TOST checks).
/// `None` with fewer than two finite differences: the spread is unknown.
///
/// ```
/// use lrsched_tools::scoring::paired_interval;
/// let (m, lo, hi) = paired_interval(&[0.01, 0.03], 0.95).unwrap();
/// assert!((m - 0.02).abs() < 1e-12 && (lo - (0.02 - 12.706 * 0.01)).abs() < 1e-9);
/// assert_eq!(paired_interval(&[0.0, 0.0, 0.0], 0.90), Some((0.0, 0.0, 0.0)));
/// assert_eq!(paired_interval(&[0.5], 0.95), None);
/// ```
pub fn paired_interval(d: &[f64], level: f64) -> Option<(f64, f64, f64)> {
    let s = crate::stats::Summary::of(d.iter().copied());
    if s.n < 2 || s.n != d.len() {
        return None;
    }
    let t = if level >= 0.925 {
        crate::stats::t975(s.n - 1)
    } else {
        t95(s.n - 1)
    };
    let half = t * s.sd / (s.n as f64).sqrt();
    Some((s.mean, s.mean - half, s.mean + half))
}

/// The 95% quantile of Student's t with `df` degrees of freedom (one-sided 5%, the
/// two one-sided tests of an equivalence test).
///
/// ```
/// assert_eq!(lrsched_tools::scoring::t95(2), 2.920);
/// assert!((lrsched_tools::scoring::t95(1000) - 1.645).abs() < 0.01);
/// ```
pub fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771,
        1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706,
        1.703, 1.701, 1.699, 1.697,
    ];
    crate::stats::t_quantile(&TABLE, 1.644_854, df)
}

/// Seeds that would settle an undecided comparison whose paired differences have mean
/// `diff` and spread `sd`, with `margin` the equivalence margin, at 80% power: the fewer
/// of those that would show a real difference (two-sided 5%: the smallest `n` with
/// `(t975(n - 1) + z80) sd / sqrt(n) <= |diff|`) and those that would show equivalence
/// (TOST at 5%, possible only when `|diff| < margin`: `t95` and `margin - |diff|` in its
/// place). Student's t, not the normal quantile, because at a handful of seeds it is the
/// t interval that has to shrink. Always at least `seeds + 1`, since the seeds run did not
/// decide; `None` when `sd` is unknown or zero.
///
/// ```
/// use lrsched_tools::scoring::seeds_to_decide;
/// // A difference of one spread: about 10 seeds show it.
/// assert_eq!(seeds_to_decide(0.01, 0.01, 0.001, 3), Some(10));
/// // Never fewer than one more than were run.
/// assert_eq!(seeds_to_decide(0.05, 0.01, 0.001, 5), Some(6));
/// ```
pub fn seeds_to_decide(diff: f64, sd: f64, margin: f64, seeds: usize) -> Option<u64> {
    if !(diff.is_finite() && sd.is_finite() && sd > 0.0 && margin.is_finite()) {
        return None;
    }
    const Z80: f64 = 0.841_621;
    // The smallest n >= seeds + 1 with (t(n - 1) + z80) sd / sqrt(n) <= gap; the normal
    // quantile's answer is a lower bound, so the search starts there and, t falling
    // towards it, ends within a few steps. Capped so a near-zero gap asks for 1e9, not
    // an overflow.
    let need = |gap: f64, t: fn(usize) -> f64, z: f64| -> u64 {
        let start = ((z + Z80) * sd / gap).powi(2).ceil().min(1e9) as u64;
        let mut n = start.max(seeds as u64 + 1).max(2);
        while n < 1_000_000_000 && (t(n as usize - 1) + Z80) * sd / (n as f64).sqrt() > gap {
            n += 1.max(n / 64);
        }
        n
    };
    let apart = (diff != 0.0).then(|| need(diff.abs(), crate::stats::t975, 1.959_964));
    let equal = (diff.abs() < margin).then(|| need(margin - diff.abs(), t95, 1.644_854));
    match (apart, equal) {
        (Some(a), Some(e)) => Some(a.min(e)),
        (a, e) => a.or(e),
    }
}

/// AlgoPerf's performance ratios: `times[s][w]` is schedule `s`'s time to workload `w`'s
/// target (`+inf` when missed); each is divided by the fastest time on its workload.
/// A workload nobody reached gives every schedule `+inf` there. The ground for
/// [`performance_profile`] and [`integrated_score`] once `compare` runs several workloads.
///
/// ```
/// use lrsched_tools::scoring::performance_ratios;
/// let inf = f64::INFINITY;
/// let r = performance_ratios(&[vec![10.0, 4.0], vec![20.0, inf]]);
/// assert_eq!(r, vec![vec![1.0, 1.0], vec![2.0, inf]]);
/// ```
pub fn performance_ratios(times: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let workloads = times.iter().map(Vec::len).max().unwrap_or(0);
    let best: Vec<f64> = (0..workloads)
        .map(|w| {
            times
                .iter()
                .filter_map(|t| t.get(w).copied())
                .filter(|t| !t.is_nan())
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    times
        .iter()
        .map(|t| {
            (0..workloads)
                .map(|w| match t.get(w) {
                    Some(&x) if x.is_finite() && best[w] > 0.0 => x / best[w],
                    // A time of 0 where the best is 0 too: as fast as the fastest.
                    Some(&x) if x.is_finite() => 1.0,
                    _ => f64::INFINITY,
                })
                .collect()
        })
        .collect()
}

/// A performance profile: the share of workloads on which the ratio is at most `tau`
/// (`rho(tau)`), for one schedule's [`performance_ratios`].
///
/// ```
/// use lrsched_tools::scoring::performance_profile;
/// assert_eq!(performance_profile(&[1.0, 2.0, f64::INFINITY, 1.5], 1.5), 0.5);
/// ```
pub fn performance_profile(ratios: &[f64], tau: f64) -> f64 {
    if ratios.is_empty() {
        return f64::NAN;
    }
    ratios.iter().filter(|&&r| r <= tau).count() as f64 / ratios.len() as f64
}

/// AlgoPerf's benchmark score: the area under the performance profile from `tau = 1` to
/// `r_max`, over `r_max - 1`, so 1 is fastest on every workload and 0 never within
/// `r_max` times the fastest (AlgoPerf takes `r_max = 4`). Exact: the profile is a step
/// function, so each workload adds `(r_max - r) / (r_max - 1)` for a ratio `r <= r_max`.
///
/// ```
/// use lrsched_tools::scoring::integrated_score;
/// assert_eq!(integrated_score(&[1.0, 1.0], 4.0), 1.0);
/// assert_eq!(integrated_score(&[2.5, f64::INFINITY], 4.0), 0.25);
/// assert!(integrated_score(&[f64::INFINITY], 4.0).is_sign_positive());
/// ```
pub fn integrated_score(ratios: &[f64], r_max: f64) -> f64 {
    if ratios.is_empty() || r_max.is_nan() || r_max <= 1.0 {
        return f64::NAN;
    }
    // A fold from +0.0, not `sum` (which starts from -0.0): no workload within r_max
    // scores 0, not -0.
    let area = ratios
        .iter()
        .filter(|&&r| r <= r_max)
        .map(|&r| r_max - r.max(1.0))
        .fold(0.0, |a, x| a + x);
    area / ((r_max - 1.0) * ratios.len() as f64)
}

/// AlgoPerf's own computation of [`integrated_score`], as `scoring/performance_profile.py`
/// and `score_submissions.py` do it: `rho` at `points` evenly spaced `tau` from 1 to
/// `r_max` (`np.linspace`), integrated by the trapezoid rule (`np.trapz`) and divided by
/// `r_max - 1`. A step function's trapezoid differs from its exact area by at most half a
/// grid step per jump, so by at most `1 / (2 (points - 1))`; NaN for no ratios, fewer than
/// two points or `r_max <= 1`.
///
/// ```
/// use lrsched_tools::scoring::{integrated_score, integrated_score_grid};
/// assert_eq!(integrated_score_grid(&[1.0, 1.0], 4.0, 100), 1.0);
/// let r = [1.3, 2.71, f64::INFINITY];
/// assert!((integrated_score_grid(&r, 4.0, 100) - integrated_score(&r, 4.0)).abs() <= 1.0 / 198.0);
/// ```
pub fn integrated_score_grid(ratios: &[f64], r_max: f64, points: usize) -> f64 {
    if ratios.is_empty() || points < 2 || r_max.is_nan() || r_max <= 1.0 {
        return f64::NAN;
    }
    let tau = |k: usize| linspace_point(1.0, r_max, points, k);
    let area: f64 = (1..points)
        .map(|k| {
            let (a, b) = (tau(k - 1), tau(k));
            (b - a) * (performance_profile(ratios, a) + performance_profile(ratios, b)) / 2.0
        })
        .sum();
    area / (r_max - 1.0)
}

/// Point `k` of `points` evenly spaced from `start` to `stop`, computed as `np.linspace`
/// computes it (`k * step + start`, the last point `stop` exactly), so a ratio that falls
/// on a grid point (2.0 on AlgoPerf's 100 points from 1 to 4) counts as numpy counts it.
///
/// ```
/// use lrsched_tools::scoring::linspace_point;
/// assert_eq!(linspace_point(1.0, 4.0, 100, 99), 4.0);
/// assert_eq!(linspace_point(1.0, 4.0, 100, 33), 33.0 * (3.0 / 99.0) + 1.0);
/// ```
pub fn linspace_point(start: f64, stop: f64, points: usize, k: usize) -> f64 {
    if points < 2 || k + 1 >= points {
        return if k == 0 { start } else { stop };
    }
    k as f64 * ((stop - start) / (points - 1) as f64) + start
}

/// How many times faster `times` are than `baseline`, workload by workload, as a
/// geometric mean over the workloads both reached; NaN when there are none.
///
/// ```
/// use lrsched_tools::scoring::geometric_mean_speedup;
/// assert!((geometric_mean_speedup(&[10.0, 40.0], &[5.0, 40.0]) - 2f64.sqrt()).abs() < 1e-12);
/// assert!(geometric_mean_speedup(&[10.0], &[f64::INFINITY]).is_nan());
/// ```
pub fn geometric_mean_speedup(baseline: &[f64], times: &[f64]) -> f64 {
    let logs: Vec<f64> = baseline
        .iter()
        .zip(times)
        .filter(|(b, t)| b.is_finite() && t.is_finite() && **b > 0.0 && **t > 0.0)
        .map(|(b, t)| (b / t).ln())
        .collect();
    if logs.is_empty() {
        return f64::NAN;
    }
    (logs.iter().sum::<f64>() / logs.len() as f64).exp()
}
