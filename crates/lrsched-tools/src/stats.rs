//! Small statistics over seeds: mean, spread and Student's t quantiles, the ground of
//! [`crate::scoring`]'s paired intervals, so a verdict says when two schedules cannot be
//! told apart instead of ranking noise.

/// Mean, sample standard deviation and range of the finite values.
///
/// ```
/// use lrsched_tools::stats::Summary;
/// let s = Summary::of([0.9, 0.92, 0.94]);
/// assert!((s.mean - 0.92).abs() < 1e-12);
/// assert!((s.sd - 0.02).abs() < 1e-12);
/// assert_eq!((s.min, s.max, s.n), (0.9, 0.94, 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Mean (NaN when no finite value).
    pub mean: f64,
    /// Sample standard deviation (0 for one value, NaN for none).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// How many finite values.
    pub n: usize,
}

impl Summary {
    /// Summarises `values`, skipping non-finite ones.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Summary {
        let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return Summary {
                mean: f64::NAN,
                sd: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                n,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Summary {
            mean,
            sd,
            min: v.iter().cloned().fold(f64::INFINITY, f64::min),
            max: v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            n,
        }
    }

    /// Half the width of the 95% confidence interval of the mean (Student's t); NaN with
    /// fewer than two values, where the spread between seeds is unknown.
    pub fn ci95(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        t975(self.n - 1) * self.sd / (self.n as f64).sqrt()
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95%).
///
/// ```
/// assert_eq!(lrsched_tools::stats::t975(4), 2.776);
/// assert!((lrsched_tools::stats::t975(1000) - 1.96).abs() < 0.01);
/// ```
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    // One Cornish-Fisher term alone is 0.003 low at df 31, caught by
    // tests/scoring_reference.rs; `t_quantile` uses two.
    t_quantile(&TABLE, 1.959_964, df)
}

/// Student's t quantile for `df` degrees of freedom from `table` (df 1 to 30) and, beyond
/// it, from the normal quantile `z` plus two Cornish-Fisher terms; NaN at df 0.
pub(crate) fn t_quantile(table: &[f64; 30], z: f64, df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => table[df - 1],
        _ => cornish_fisher(z, df),
    }
}

/// Student's t quantile from the normal quantile `z` for `df` degrees of freedom: the
/// first two terms of the Cornish-Fisher expansion, within 1e-4 from df 30 on.
fn cornish_fisher(z: f64, df: usize) -> f64 {
    let n = df as f64;
    z + (z.powi(3) + z) / (4.0 * n)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
}
