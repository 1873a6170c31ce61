//! Time in steps, epochs or a fraction of the run, and the run's shape that relates them.

use crate::check::fmt;

/// A length of time as a config may write it.
///
/// ```
/// use lrsched::time::Duration;
/// assert_eq!(Duration::parse("3ep"), Some(Duration::Epochs(3.0)));
/// assert_eq!(Duration::parse("10%"), Some(Duration::Fraction(0.1)));
/// assert_eq!(Duration::parse("0.25dur"), Some(Duration::Fraction(0.25)));
/// assert_eq!(Duration::parse("120ba"), Some(Duration::Steps(120)));
/// assert_eq!(Duration::parse("cosine"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Duration {
    /// Optimizer steps (`"120"` as a number, or `"120ba"`).
    Steps(u64),
    /// Epochs, possibly fractional (`"3ep"`, `"0.5ep"`).
    Epochs(f64),
    /// A fraction of the whole run (`"10%"`, `"0.1dur"`).
    Fraction(f64),
}

impl Duration {
    /// Parses `"<number>ep"`, `"<number>%"`, `"<number>dur"` or `"<integer>ba"`; `None`
    /// for any other string (so mode names and the like pass through untouched).
    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.trim();
        let num = |n: &str| {
            n.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        if let Some(n) = s.strip_suffix("ep") {
            num(n).map(Duration::Epochs)
        } else if let Some(n) = s.strip_suffix('%') {
            num(n).map(|v| Duration::Fraction(v / 100.0))
        } else if let Some(n) = s.strip_suffix("dur") {
            num(n).map(Duration::Fraction)
        } else if let Some(n) = s.strip_suffix("ba") {
            n.trim().parse::<u64>().ok().map(Duration::Steps)
        } else {
            None
        }
    }
}

/// The shape of a training run: how many optimizer steps an epoch has and how many the
/// run has in all, from the data size, batch size, gradient accumulation and workers.
///
/// One optimizer step consumes `batch_size * grad_accum * workers` samples, so a schedule
/// written in epochs means the same thing whatever the run's shape.
///
/// ```
/// use lrsched::time::RunShape;
/// let shape = RunShape::new(50_000, 128).with_grad_accum(2).with_workers(4).with_epochs(90);
/// assert_eq!(shape.steps_per_epoch(), 49); // ceil(50000 / 128 / 4) = 98 batches, / 2
/// assert_eq!(shape.total_steps(), 49 * 90);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RunShape {
    /// Training samples per epoch (the whole data set, across workers).
    pub samples: u64,
    /// Samples per batch on one worker.
    pub batch_size: u64,
    /// Batches accumulated into one optimizer step.
    pub grad_accum: u64,
    /// Data-parallel workers, each taking its own batch.
    pub workers: u64,
    /// Drop the last, incomplete batch of each epoch (PyTorch's `drop_last`).
    pub drop_last: bool,
    /// Epochs in the run (needed for fractions of the run).
    pub epochs: Option<f64>,
}

impl RunShape {
    /// A run over `samples` samples in batches of `batch_size`, one worker, no accumulation.
    pub fn new(samples: u64, batch_size: u64) -> Self {
        RunShape {
            samples,
            batch_size,
            grad_accum: 1,
            workers: 1,
            drop_last: false,
            epochs: None,
        }
    }
    /// Sets the batches accumulated per optimizer step.
    pub fn with_grad_accum(mut self, grad_accum: u64) -> Self {
        self.grad_accum = grad_accum;
        self
    }
    /// Sets the number of data-parallel workers.
    pub fn with_workers(mut self, workers: u64) -> Self {
        self.workers = workers;
        self
    }
    /// Sets whether incomplete last batches are dropped.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }
    /// Sets the run's length in epochs.
    pub fn with_epochs(mut self, epochs: impl Into<f64>) -> Self {
        self.epochs = Some(epochs.into());
        self
    }

    /// Optimizer steps in one epoch (at least 1 for a non-empty data set).
    pub fn steps_per_epoch(&self) -> u64 {
        let per_batch = self.batch_size.max(1).saturating_mul(self.workers.max(1));
        let batches = if self.drop_last {
            self.samples / per_batch
        } else {
            self.samples.div_ceil(per_batch)
        };
        let accum = self.grad_accum.max(1);
        if self.drop_last {
            batches / accum
        } else {
            batches.div_ceil(accum)
        }
    }

    /// Optimizer steps in the whole run (0 when `epochs` is unknown), saturating at
    /// `u64::MAX` for a run longer than a step count holds; [`RunShape::steps`] of
    /// `Duration::Fraction(1.0)` refuses such a run instead.
    pub fn total_steps(&self) -> u64 {
        self.epochs
            .map(|e| saturating_steps(e * self.steps_per_epoch() as f64))
            .unwrap_or(0)
    }

    /// A duration in steps (rounded to the nearest step); an error when the run's length
    /// is needed and unknown, or when the steps do not fit in a `u64` (a float-to-int
    /// cast would clamp `"1e30ep"` to `u64::MAX` silently).
    ///
    /// ```
    /// use lrsched::time::{Duration, RunShape};
    /// let shape = RunShape::new(1000, 10).with_epochs(4); // 100 steps an epoch
    /// assert_eq!(shape.steps(Duration::Epochs(2.5)), Ok(250));
    /// assert_eq!(shape.steps(Duration::Fraction(0.5)), Ok(200));
    /// let e = shape.steps(Duration::Epochs(1e30)).unwrap_err();
    /// assert!(e.contains("1e32 steps") && e.contains("at most 18446744073709551615"), "{e}");
    /// assert!(RunShape::new(10, 1).steps(Duration::Fraction(0.1)).is_err());
    /// ```
    pub fn steps(&self, d: Duration) -> Result<u64, String> {
        let spe = self.steps_per_epoch();
        match d {
            Duration::Steps(s) => Ok(s),
            Duration::Epochs(e) => whole_steps(e * spe as f64).ok_or_else(|| {
                too_long(e * spe as f64, &format!("{} epochs of {spe} steps", fmt(e)))
            }),
            Duration::Fraction(f) => {
                let Some(epochs) = self.epochs else {
                    return Err("a fraction of the run needs the run's length in epochs".into());
                };
                // The whole run first, rounded as `total_steps` rounds it, then the part.
                let total = whole_steps(epochs * spe as f64).ok_or_else(|| {
                    let what = format!("a run of {} epochs of {spe} steps", fmt(epochs));
                    too_long(epochs * spe as f64, &what)
                })?;
                whole_steps(f * total as f64).ok_or_else(|| {
                    too_long(
                        f * total as f64,
                        &format!("{} of a run of {total} steps", fmt(f)),
                    )
                })
            }
        }
    }
}

/// `x` rounded to the nearest whole step, `None` when that is not a step count: not a
/// finite number >= 0, or 2^64 and beyond.
fn whole_steps(x: f64) -> Option<u64> {
    let r = x.round();
    // 2^64 is exact in an f64; every float below it converts exactly once rounded.
    // NaN is in no range.
    (0.0..18_446_744_073_709_551_616.0)
        .contains(&r)
        .then_some(r as u64)
}

/// As [`whole_steps`], clamped: `u64::MAX` for too many, 0 for not a number or < 0.
fn saturating_steps(x: f64) -> u64 {
    match whole_steps(x) {
        Some(n) => n,
        None if x > 0.0 => u64::MAX,
        None => 0,
    }
}

fn too_long(steps: f64, what: &str) -> String {
    if steps.is_finite() && steps >= 0.0 {
        format!(
            "{what} is {} steps: at most {} fit in a step count",
            fmt(steps.round()),
            u64::MAX
        )
    } else {
        format!(
            "{what} is {} steps: must be a finite number >= 0",
            fmt(steps)
        )
    }
}
