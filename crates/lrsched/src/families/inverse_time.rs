//! `inverse_time`: time-based decay `lr / (1 + k t)`.

use super::declare::family;
use crate::{Schedule, ScheduleError};

family! {
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
    pub struct InverseTime("inverse_time") {
        /// The value at step 0; finite and >= 0.
        lr: f64, check non_negative;
        /// The decay rate per `decay_steps` steps (Keras' `decay_rate`); finite and >= 0.
        k: f64, check non_negative;
        /// Steps per unit of time; >= 1 (default 1).
        decay_steps: u64 = 1, check at_least_one,
            with with_decay_steps "Counts time in units of `decay_steps` steps.";
        /// Count time in whole units of `decay_steps` (default false).
        staircase: bool = false,
            with with_staircase "Counts time in whole units of `decay_steps`.";
    }
    /// `lr / (1 + k t)`.
    pub fn new;
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
        self.declared_checks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::round_trips;

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
        round_trips([s.clone(), InverseTime::new(0.1, 0.5)]);
    }
}
