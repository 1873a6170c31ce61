//! `step`: multiply by `gamma` every `step_size` steps.

use super::declare::family;
use crate::{check, Schedule, ScheduleError};

family! {
    /// Step decay: `lr(t) = lr * gamma^floor(t / step_size)`.
    ///
    /// PyTorch's `StepLR`, as a closed form. Config:
    /// `{"type": "step", "lr": 0.1, "step_size": 30, "gamma": 0.1}`.
    ///
    /// ```
    /// use lrsched::{Schedule, StepDecay};
    /// let s = StepDecay::new(1.0, 10, 0.5);
    /// assert_eq!(s.value(9), 1.0);
    /// assert_eq!(s.value(10), 0.5);
    /// assert_eq!(s.value(25), 0.25);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct StepDecay("step") {
        /// The value before the first decay; finite and >= 0.
        lr: f64, check non_negative;
        /// Steps between two decays; >= 1.
        step_size: u64, check at_least_one;
        /// Factor applied at each decay; finite and > 0 (default 0.1).
        gamma: f64 = 0.1 keep;
    }
    /// `lr` and `step_size`, `gamma` at its default.
    fn declared;
}

impl StepDecay {
    /// Decay `lr` by `gamma` every `step_size` steps.
    pub fn new(lr: f64, step_size: u64, gamma: f64) -> Self {
        StepDecay {
            gamma,
            ..Self::declared(lr, step_size)
        }
    }
}

impl Schedule for StepDecay {
    fn value(&self, step: u64) -> f64 {
        let k = step.checked_div(self.step_size).unwrap_or(0);
        self.lr * pow_u64(self.gamma, k)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        decay_factor("step", self.gamma)
    }
}

/// A decay's factor must be in (0, 1]: a factor above 1 grows without bound and reaches
/// infinity at large steps (use `exponential` with `max_lr` for a bounded growth).
pub(crate) fn decay_factor(schedule: &str, gamma: f64) -> Result<(), ScheduleError> {
    if gamma.is_finite() && gamma > 0.0 && gamma <= 1.0 {
        Ok(())
    } else {
        Err(ScheduleError::invalid(
            schedule,
            "gamma",
            check::fmt(gamma),
            "a factor in (0, 1] (for growth use exponential with max_lr)",
        ))
    }
}

/// `base^k` for any `k`, exact for the small exponents that real runs reach.
pub(crate) fn pow_u64(base: f64, k: u64) -> f64 {
    if k <= i32::MAX as u64 {
        base.powi(k as i32)
    } else {
        base.powf(k as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        let s = StepDecay::new(0.1, 3, 0.5);
        let v: Vec<f64> = (0..7).map(|t| s.value(t)).collect();
        assert_eq!(v, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
        // Far past any real run: no overflow, no panic, decays to zero.
        assert_eq!(s.value(u64::MAX), 0.0);
    }

    #[test]
    fn growth_is_refused() {
        let e = StepDecay::new(0.1, 10, 2.0)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("`gamma` = 2"), "{e}");
    }

    #[test]
    fn zero_step_size_is_an_error_not_a_panic() {
        let s = StepDecay::new(0.1, 0, 0.5);
        assert!(s.validate().is_err());
        assert_eq!(s.value(5), 0.1);
    }
}
