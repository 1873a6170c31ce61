//! `warmup`: a rise from `start_lr` in front of any schedule.

use super::declare::family;
use crate::combinators::one_child::{one_child, OneChild};
use crate::{check, AnySchedule, Schedule, ScheduleError};
use std::f64::consts::PI;

/// The curve a warmup rises along, as a function of the progress `p = t / steps` in `[0, 1)`.
///
/// ```text
/// linear:       start + (target - start) * p
/// cosine:       start + (target - start) * 0.5 * (1 - cos(pi * p))
/// exponential:  start * (target / start)^p                  (needs start > 0)
/// 1-sqrt:       start + (target - start) * (1 - sqrt(1 - p)) (transformers' WSD warmup)
/// ```
///
/// ```
/// use lrsched::{Constant, Schedule, Warmup, WarmupShape};
/// let s = Warmup::linear(10, Constant::new(1.0)).with_shape(WarmupShape::Cosine);
/// assert!((s.value(5) - 0.5).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum WarmupShape {
    /// A straight line (the default).
    #[default]
    Linear,
    /// Half a cosine: slow at both ends.
    Cosine,
    /// Geometric interpolation: equal ratios per step; `start_lr` must be > 0.
    Exponential,
    /// `1 - sqrt(1 - p)`: fast at first, as transformers' `1-sqrt` warmup.
    #[cfg_attr(feature = "serde", serde(rename = "1-sqrt", alias = "one_minus_sqrt"))]
    OneMinusSqrt,
}

impl WarmupShape {
    /// `true` for the default shape (linear), so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == WarmupShape::Linear
    }

    /// The value at progress `p` in `[0, 1]` of a rise from `start` to `target`.
    ///
    /// Exactly `start` at `p = 0`. Exponential with `start <= 0` (invalid) falls back to
    /// linear so the value stays finite.
    pub(crate) fn rise(self, start: f64, target: f64, p: f64) -> f64 {
        match self {
            WarmupShape::Linear => start + (target - start) * p,
            WarmupShape::Cosine => start + (target - start) * (0.5 * (1.0 - (PI * p).cos())),
            WarmupShape::Exponential if start > 0.0 => start * (target / start).powf(p),
            WarmupShape::Exponential => start + (target - start) * p,
            WarmupShape::OneMinusSqrt => {
                start + (target - start) * (1.0 - (1.0 - p).max(0.0).sqrt())
            }
        }
    }
}

family! {
    /// Warmup in front of any schedule: over the first `steps` steps the value rises from
    /// `start_lr` to `schedule.value(0)` along `shape`; afterwards the inner schedule runs
    /// on local time `t - steps`:
    ///
    /// ```text
    /// target = schedule(0),  p = t / steps
    /// lr(t)  = rise(start_lr, target, p)      for t < steps   (see WarmupShape)
    /// lr(t)  = schedule(t - steps)            for t >= steps
    /// ```
    ///
    /// So `lr(0) = start_lr` and `lr(steps) = schedule(0)` exactly. `steps = 0` is no warmup.
    /// The length is `steps` plus the inner schedule's length (none if the inner has none);
    /// what happens past it is the inner schedule's `after_end`. Metrics fed with
    /// [`Schedule::observe`] and [`Schedule::momentum`] reach the inner schedule on local
    /// time `t.saturating_sub(steps)`, so during warmup they land on its step 0.
    ///
    /// Config: `{"type": "warmup", "steps": 100, "schedule": {"type": "cosine", "lr": 0.1,
    /// "steps": 1000}}` with optional `start_lr` (default 0) and `shape` (`linear`, `cosine`,
    /// `exponential`, `1-sqrt`).
    ///
    /// ```
    /// use lrsched::{Cosine, Schedule, Warmup, WarmupShape};
    /// let s = Warmup::linear(100, Cosine::new(0.1, 1000));
    /// assert_eq!(s.value(0), 0.0);
    /// assert!((s.value(50) - 0.05).abs() < 1e-15);
    /// assert_eq!(s.value(100), 0.1);
    /// assert_eq!(s.value(1100), 0.0);
    /// assert_eq!(s.len(), Some(1100));
    ///
    /// // Exponential warmup from 1e-4 up to 0.1: equal ratios per step.
    /// let e = Warmup::exponential(3, 1e-4, Cosine::new(0.1, 1000));
    /// assert!((e.value(1) / e.value(0) - 10.0).abs() < 1e-9);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Warmup("warmup") {
        /// Steps of warmup; 0 means none.
        steps: u64;
        /// The value at step 0; finite (may be <= 0, as optax allows), and > 0 for exponential (default 0).
        start_lr: f64 = 0, with with_start_lr "Starts the rise at `start_lr` instead of 0.";
        /// The curve of the rise (default `linear`).
        shape: WarmupShape = {WarmupShape::Linear} "linear",
            with with_shape "Sets the curve of the rise.";
        /// The schedule after warmup; it starts at its own step 0 at step `steps`.
        schedule: child;
    }
    /// Warmup of `steps` steps along the default shape from 0 into `schedule`.
    fn declared;
}

impl Warmup {
    /// Warmup of `steps` steps along `shape` from 0 into `schedule`.
    pub fn new(steps: u64, shape: WarmupShape, schedule: impl Into<AnySchedule>) -> Self {
        Warmup {
            shape,
            ..Self::declared(steps, schedule)
        }
    }
    /// Linear warmup of `steps` steps from 0 into `schedule`.
    pub fn linear(steps: u64, schedule: impl Into<AnySchedule>) -> Self {
        Warmup::new(steps, WarmupShape::Linear, schedule)
    }
    /// Cosine warmup of `steps` steps from 0 into `schedule`.
    pub fn cosine(steps: u64, schedule: impl Into<AnySchedule>) -> Self {
        Warmup::new(steps, WarmupShape::Cosine, schedule)
    }
    /// Exponential warmup of `steps` steps from `start_lr` (> 0) into `schedule`.
    pub fn exponential(steps: u64, start_lr: f64, schedule: impl Into<AnySchedule>) -> Self {
        Warmup::new(steps, WarmupShape::Exponential, schedule).with_start_lr(start_lr)
    }
}

impl OneChild for Warmup {
    const NAME: &'static str = "warmup";

    /// During the warmup the child reads its step 0.
    fn inner_step(&self, step: u64) -> u64 {
        step.saturating_sub(self.steps)
    }

    fn wrap_value(&self, child: &AnySchedule, step: u64) -> f64 {
        if step >= self.steps {
            return child.value(step - self.steps);
        }
        let target = child.value(0);
        let p = step as f64 / self.steps as f64;
        self.shape.rise(self.start_lr, target, p)
    }

    fn own_checks(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.shape == WarmupShape::Exponential {
            check::positive("warmup", "start_lr", self.start_lr)?;
        } else {
            check::rate("warmup", "start_lr", self.start_lr)?;
        }
        Ok(())
    }

    /// The child's errors as they are: warmup does not re-root them.
    fn wrap_validate(&self, child: &AnySchedule) -> Result<(), ScheduleError> {
        self.own_checks()?;
        child.validate()
    }

    fn wrap_len(&self, child: &AnySchedule) -> Option<u64> {
        child.len().map(|n| n.saturating_add(self.steps))
    }
}

one_child!(Warmup);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine};

    #[test]
    fn crate_doc_example() {
        let s = Warmup::linear(100, Cosine::new(0.1, 1000));
        assert_eq!(s.value(0), 0.0);
        assert_eq!(s.value(100), 0.1);
        assert_eq!(s.value(1100), 0.0);
        assert_eq!(s.value(u64::MAX), 0.0);
        assert_eq!(s.len(), Some(1100));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn every_shape_hits_both_ends_and_rises() {
        for shape in [
            WarmupShape::Linear,
            WarmupShape::Cosine,
            WarmupShape::Exponential,
            WarmupShape::OneMinusSqrt,
        ] {
            let s = Warmup::new(7, shape, Constant::new(0.5)).with_start_lr(1e-3);
            assert!(s.validate().is_ok());
            assert_eq!(s.value(0), 1e-3, "{shape:?}");
            assert_eq!(s.value(7), 0.5, "{shape:?}");
            let v = s.values(0..8);
            assert!(v.windows(2).all(|w| w[1] > w[0]), "{shape:?} {v:?}");
        }
    }

    #[test]
    fn start_above_target_warms_down() {
        let s = Warmup::linear(4, Constant::new(0.1)).with_start_lr(0.5);
        assert_eq!(s.value(0), 0.5);
        assert!((s.value(2) - 0.3).abs() < 1e-15);
        assert_eq!(s.value(4), 0.1);
    }

    #[test]
    fn zero_steps_is_the_inner_schedule() {
        let s = Warmup::linear(0, Cosine::new(1.0, 10));
        for t in [0, 3, 10, u64::MAX] {
            assert_eq!(s.value(t), Cosine::new(1.0, 10).value(t));
        }
        assert_eq!(s.len(), Some(10));
    }

    #[test]
    fn no_length_without_inner_length_and_no_overflow() {
        assert_eq!(Warmup::linear(5, Constant::new(1.0)).len(), None);
        let s = Warmup::linear(u64::MAX, Cosine::new(1.0, 10));
        assert_eq!(s.len(), Some(u64::MAX));
        assert!(s.value(u64::MAX - 1).is_finite());
        assert_eq!(s.value(u64::MAX), 1.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        let e = Warmup::exponential(10, 0.0, Constant::new(1.0))
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("`start_lr`"), "{e}");
        assert!(Warmup::linear(10, Constant::new(1.0))
            .with_start_lr(f64::NAN)
            .validate()
            .is_err());
        let e = Warmup::linear(10, Constant::new(f64::NAN))
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("`lr`"), "{e}");
        // Invalid but still finite, never a panic.
        let s = Warmup::exponential(10, 0.0, Constant::new(1.0));
        assert!(s.values(0..12).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn children_are_exposed() {
        let mut s = Warmup::linear(10, Constant::new(1.0));
        assert_eq!(s.children().len(), 1);
        assert_eq!(s.children_mut().len(), 1);
        assert!(!s.needs_metric());
        assert_eq!(s.momentum(3), None);
        assert!(s.observe(3, 1.0).is_ok());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        for s in [
            Warmup::linear(100, Cosine::new(0.1, 1000)),
            Warmup::exponential(5, 1e-5, Constant::new(0.3)).with_shape(WarmupShape::Exponential),
            Warmup::cosine(3, Constant::new(0.3)).with_start_lr(0.01),
            Warmup::new(3, WarmupShape::OneMinusSqrt, Constant::new(0.3)),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(s), "{v}");
        }
        let v = crate::config::to_value(&Warmup::linear(10, Constant::new(1.0)).into());
        assert_eq!(
            v,
            serde_json::json!({"type": "warmup", "steps": 10,
                "schedule": {"type": "constant", "lr": 1.0}})
        );
    }
}
