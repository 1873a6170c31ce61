//! `inverse_time`: time-based decay `lr / (1 + k t)`.

use crate::{check, Schedule, ScheduleError};

/// Inverse-time decay, Keras' `InverseTimeDecay`:
///
/// ```text
/// p(t)  = t / decay_steps            (floor(t / decay_steps) if staircase)
/// lr(t) = lr / (1 + k * p(t))
/// ```
///
/// With the defaults (`decay_steps = 1`, no staircase) this is the classic time-based
/// decay `lr / (1 + k t)`; `k` is Keras' `decay_rate`. The value falls towards 0 without
/// reaching it, so the schedule has no length.
///
/// Config: `{"type": "inverse_time", "lr": 0.1, "k": 0.5, "decay_steps": 100}`.
///
/// ```
/// use lrsched::{InverseTime, Schedule};
/// let s = InverseTime::new(1.0, 0.5);
/// assert_eq!(s.value(0), 1.0);
/// assert_eq!(s.value(2), 0.5);
/// let st = InverseTime::new(1.0, 1.0).with_decay_steps(10).with_staircase(true);
/// assert_eq!(st.value(9), 1.0);
/// assert_eq!(st.value(10), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct InverseTime {
    /// The value at step 0; finite and >= 0.
    pub lr: f64,
    /// The decay rate per `decay_steps` steps (Keras' `decay_rate`); finite and >= 0.
    pub k: f64,
    /// Steps per unit of time; >= 1 (default 1).
    #[cfg_attr(
        feature = "serde",
        serde(default = "default_one", skip_serializing_if = "is_one_u64")
    )]
    pub decay_steps: u64,
    /// Count time in whole units of `decay_steps` (default false).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "check::is_false")
    )]
    pub staircase: bool,
}

#[cfg(feature = "serde")]
fn default_one() -> u64 {
    1
}
#[cfg(feature = "serde")]
fn is_one_u64(v: &u64) -> bool {
    *v == 1
}

impl InverseTime {
    /// `lr / (1 + k t)`.
    pub fn new(lr: f64, k: f64) -> Self {
        InverseTime {
            lr,
            k,
            decay_steps: 1,
            staircase: false,
        }
    }
    /// Counts time in units of `decay_steps` steps.
    pub fn with_decay_steps(mut self, decay_steps: u64) -> Self {
        self.decay_steps = decay_steps;
        self
    }
    /// Counts time in whole units of `decay_steps`.
    pub fn with_staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }
}

impl Schedule for InverseTime {
    fn value(&self, step: u64) -> f64 {
        // A zero `decay_steps` is rejected by validate(); treating it as 1 here keeps
        // value() free of 0/0.
        let decay_steps = self.decay_steps.max(1);
        let p = if self.staircase {
            (step / decay_steps) as f64
        } else {
            step as f64 / decay_steps as f64
        };
        // Keras' order: initial_learning_rate / (1 + decay_rate * p).
        self.lr / (1.0 + self.k * p)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        check::non_negative("inverse_time", "lr", self.lr)?;
        check::non_negative("inverse_time", "k", self.k)?;
        check::at_least_one("inverse_time", "decay_steps", self.decay_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AnySchedule;

    #[test]
    fn edges() {
        let s = InverseTime::new(0.1, 0.01);
        assert_eq!(s.value(0), 0.1);
        assert_eq!(s.value(100), 0.1 / (1.0 + 0.01 * 100.0));
        let far = s.value(u64::MAX);
        assert!(far.is_finite() && far > 0.0 && far < 1e-15, "{far}");
        assert_eq!(s.len(), None);
        assert_eq!(InverseTime::new(0.1, 0.0).value(u64::MAX), 0.1);
    }

    #[test]
    fn decay_steps_and_staircase() {
        let s = InverseTime::new(1.0, 0.5).with_decay_steps(4);
        assert_eq!(s.value(2), 1.0 / (1.0 + 0.5 * 0.5));
        assert_eq!(s.value(8), 0.5);
        let st = s.with_staircase(true);
        assert_eq!(st.value(3), 1.0);
        assert_eq!(st.value(4), 1.0 / 1.5);
        assert_eq!(st.value(7), 1.0 / 1.5);
        assert_eq!(st.value(8), 0.5);
        assert!(st.value(u64::MAX) > 0.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (InverseTime::new(-0.1, 0.5), "`lr`"),
            (InverseTime::new(f64::INFINITY, 0.5), "`lr`"),
            (InverseTime::new(0.1, -0.5), "`k`"),
            (InverseTime::new(0.1, f64::NAN), "`k`"),
            (
                InverseTime::new(0.1, 0.5).with_decay_steps(0),
                "`decay_steps`",
            ),
        ];
        for (s, key) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
            let _ = s.value(u64::MAX);
            let _ = s.clone().with_staircase(true).value(5);
        }
    }

    #[test]
    fn serde_round_trip() {
        let s = InverseTime::new(0.1, 0.5)
            .with_decay_steps(100)
            .with_staircase(true);
        #[cfg(feature = "serde")]
        for s in [s.clone(), InverseTime::new(0.1, 0.5)] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            assert_eq!(crate::config::from_value(v).unwrap(), AnySchedule::from(s));
        }
        let _ = AnySchedule::from(s);
    }
}
