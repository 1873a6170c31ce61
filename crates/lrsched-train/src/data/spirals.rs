//! Two interleaved spirals, the classic test that a network can learn a curved,
//! non-convex boundary.
//!
//! Class `k` (0 or 1) has points `r * (sin t, cos t)` with `r = i / m` and
//! `t = 1.75 * 2π * r + kπ` for `i` in `0..m`, plus Gaussian noise of standard deviation
//! `noise` on each coordinate. The radius runs from 0 to just under 1, so `noise` is in
//! units of the spiral's radius and the features need no scaling.

use super::{DataError, Dataset, Rng, Split, DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION};

/// How to generate the spirals.
#[derive(Debug, Clone, PartialEq)]
pub struct SpiralsOptions {
    /// Total points, both classes together (class 0 gets the odd one out). At least 4.
    pub size: usize,
    /// Standard deviation of the Gaussian noise on each coordinate; 0 for none.
    pub noise: f64,
    /// Seed of the noise and of the train/validation split.
    pub seed: u64,
}

impl Default for SpiralsOptions {
    /// 1,000 points, noise 0.05 (the arms stay separable), the default split seed.
    fn default() -> Self {
        SpiralsOptions {
            size: 1000,
            noise: 0.05,
            seed: DEFAULT_SPLIT_SEED,
        }
    }
}

/// All `size` points, class 0 first, features `x, y`.
pub fn dataset(opts: &SpiralsOptions) -> Result<Dataset, DataError> {
    if opts.size < 4 {
        return Err(DataError::invalid(
            "spirals",
            format!("size {} is too small; need at least 4 points", opts.size),
        ));
    }
    if !(opts.noise.is_finite() && opts.noise >= 0.0) {
        return Err(DataError::invalid(
            "spirals",
            format!("noise {} must be a finite number >= 0", opts.noise),
        ));
    }
    let mut rng = Rng::new(opts.seed);
    let mut features = Vec::with_capacity(opts.size * 2);
    let mut labels = Vec::with_capacity(opts.size);
    for class in 0..2u32 {
        let m = if class == 0 {
            opts.size.div_ceil(2)
        } else {
            opts.size / 2
        };
        for i in 0..m {
            let r = i as f64 / m as f64;
            let t = 1.75 * std::f64::consts::TAU * r + class as f64 * std::f64::consts::PI;
            let x = r * t.sin() + opts.noise * rng.normal();
            let y = r * t.cos() + opts.noise * rng.normal();
            features.push(x as f32);
            features.push(y as f32);
            labels.push(class);
        }
    }
    Dataset::classification("spirals", features, 2, labels, 2)?
        .with_feature_names(vec!["x".into(), "y".into()])
}

/// The points with a stratified 20% held out for validation, both chosen by the seed.
pub fn split(opts: &SpiralsOptions) -> Result<Split, DataError> {
    // A different stream for the split than for the noise, from the same seed.
    dataset(opts)?.split(DEFAULT_VAL_FRACTION, opts.seed ^ 0x5_9A1)
}
