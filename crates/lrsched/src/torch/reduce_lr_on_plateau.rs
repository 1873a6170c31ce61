//! `ReduceLROnPlateau`: cut the lr when a metric stops improving.

use super::PerGroup;
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1,
/// patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8)`.
///
/// Each `step(metric)`: a metric better than the best so far (`rel`: `< best * (1 -
/// threshold)` in `min` mode, `> best * (1 + threshold)` in `max` mode; `abs`: `< best -
/// threshold` / `> best + threshold`) resets the count of bad epochs; during `cooldown`
/// epochs after a cut, bad epochs are not counted; once more than `patience` bad epochs
/// pass, each group's lr becomes `max(lr * factor, min_lr)`, unless that changes it by
/// `eps` or less. Value `i` is the lr after `step(metrics[i - 1])`: feed metrics with
/// [`crate::Schedule::observe`].
///
/// ```
/// use lrsched::torch::{ReduceLROnPlateau, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let mut s = TorchSchedule::new(vec![1.0], TorchClass::ReduceLROnPlateau(
///     ReduceLROnPlateau::default().with_patience(1)));
/// for (step, m) in [3.0, 2.0, 2.0, 2.0].into_iter().enumerate() {
///     s.observe(step as u64, m).unwrap();
/// }
/// assert_eq!(s.values(0..5), vec![1.0, 1.0, 1.0, 1.0, 0.1]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields, default)
)]
pub struct ReduceLROnPlateau {
    /// `min` (default: lower is better) or `max`.
    pub mode: String,
    /// Factor of each cut (default 0.1); in [0, 1).
    pub factor: f64,
    /// Bad epochs tolerated before a cut (default 10).
    pub patience: u64,
    /// Improvement needed to count as better (default 1e-4); finite and >= 0.
    pub threshold: f64,
    /// `rel` (default) or `abs`.
    pub threshold_mode: String,
    /// Epochs after a cut during which bad epochs are not counted (default 0).
    pub cooldown: u64,
    /// Lowest lr (per group, default 0); finite and >= 0.
    pub min_lr: PerGroup,
    /// Smallest change applied (default 1e-8); finite and >= 0.
    pub eps: f64,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau {
            mode: "min".into(),
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: "rel".into(),
            cooldown: 0,
            min_lr: PerGroup::One(0.0),
            eps: 1e-8,
        }
    }
}

impl ReduceLROnPlateau {
    /// Sets `patience`.
    pub fn with_patience(mut self, patience: u64) -> Self {
        self.patience = patience;
        self
    }
    /// Sets `factor`.
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }
    /// Sets `mode` (`min` or `max`).
    pub fn with_mode(mut self, mode: &str) -> Self {
        self.mode = mode.into();
        self
    }
    /// Sets `cooldown`.
    pub fn with_cooldown(mut self, cooldown: u64) -> Self {
        self.cooldown = cooldown;
        self
    }

    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        const C: &str = "ReduceLROnPlateau";
        super::one_of(C, "mode", &self.mode, &["min", "max"])?;
        super::one_of(C, "threshold_mode", &self.threshold_mode, &["rel", "abs"])?;
        if !(self.factor.is_finite() && (0.0..1.0).contains(&self.factor)) {
            return Err(ScheduleError::invalid(
                C,
                "factor",
                check::fmt(self.factor),
                "a number in [0, 1)",
            ));
        }
        check::non_negative(C, "threshold", self.threshold)?;
        self.min_lr
            .check(C, "min_lr", groups, check::non_negative)?;
        check::non_negative(C, "eps", self.eps)
    }

    pub(crate) fn mode_worse(&self) -> f64 {
        if self.mode == "max" {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    }

    pub(crate) fn is_better(&self, a: f64, best: f64) -> bool {
        match (self.mode.as_str(), self.threshold_mode.as_str()) {
            ("min", "rel") => a < best * (1.0 - self.threshold),
            ("min", _) => a < best - self.threshold,
            (_, "rel") => a > best * (self.threshold + 1.0),
            _ => a > best + self.threshold,
        }
    }
}
