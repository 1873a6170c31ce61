//! `linear`: a straight line from `start_lr` to `end_lr`.

use super::declare::family;
use crate::polynomial::polynomial_value;
use crate::{AfterEnd, Schedule, ScheduleError};

family! {
    /// A straight line from `start_lr` to `end_lr` over `steps` steps:
    ///
    /// ```text
    /// lr(t) = (start_lr - end_lr) * (1 - t / steps) + end_lr     for t < steps
    /// lr(t) = end_lr                                              for t >= steps
    /// ```
    ///
    /// optax's `linear_schedule(init_value, end_value, transition_steps)`, in its order of
    /// operations (a [`crate::Polynomial`] with power 1). It falls or rises; the values at
    /// step 0 and at `steps` are `start_lr` and `end_lr` exactly.
    ///
    /// Past `steps` the schedule follows `after_end`: `hold` (default) stays at `end_lr`,
    /// `restart` starts over every `steps` steps, and `continue` extends the line — allowed
    /// only for a rising line (`end_lr >= start_lr`), since a falling one would go negative.
    ///
    /// Config: `{"type": "linear", "start_lr": 0.1, "end_lr": 0.0, "steps": 1000}`.
    ///
    /// ```
    /// use lrsched::{Linear, Schedule};
    /// let s = Linear::new(1.0, 0.0, 4);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(1), 0.75);
    /// assert_eq!(s.value(4), 0.0);
    /// assert_eq!(s.value(100), 0.0);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Linear("linear") {
        /// The value at step 0; finite (may be <= 0, as optax allows).
        start_lr: f64, check rate;
        /// The value reached at `steps`; finite (may be <= 0, as optax allows).
        end_lr: f64, check rate;
        /// Steps from `start_lr` to `end_lr`; >= 1.
        steps: u64, check at_least_one;
        /// What happens past `steps` (default `hold`).
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past `steps`.";
    }
    /// A line from `start_lr` to `end_lr` over `steps` steps.
    pub fn new;
}

impl Schedule for Linear {
    fn value(&self, step: u64) -> f64 {
        let t = self.after_end.local_step(step, self.steps);
        if t >= self.steps && self.after_end != AfterEnd::Continue {
            return self.end_lr;
        }
        let frac = 1.0 - t as f64 / self.steps as f64;
        polynomial_value(self.start_lr, self.end_lr, frac, 1.0)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.after_end == AfterEnd::Continue && self.end_lr < self.start_lr {
            return Err(ScheduleError::invalid(
                "linear",
                "after_end",
                "continue",
                "`hold` or `restart` for a falling line (continuing it would go below 0)",
            ));
        }
        Ok(())
    }
    fn len(&self) -> Option<u64> {
        Some(self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::round_trips;

    #[test]
    fn lands_on_end_exactly_and_holds() {
        for (a, b) in [(0.1, 0.0), (0.0, 0.1), (3e-4, 1e-6), (1e-6, 3e-4)] {
            let s = Linear::new(a, b, 97);
            assert!(s.validate().is_ok());
            assert_eq!(s.value(0), a);
            assert_eq!(s.value(97), b);
            assert_eq!(s.value(u64::MAX), b);
            assert_eq!(s.len(), Some(97));
        }
    }

    #[test]
    fn matches_optax_order() {
        let s = Linear::new(0.3, 0.01, 7);
        for t in 0..7u64 {
            let want = (0.3 - 0.01) * (1.0 - t as f64 / 7.0) + 0.01;
            assert_eq!(s.value(t), want);
        }
    }

    #[test]
    fn continue_and_restart() {
        let up = Linear::new(0.0, 1.0, 10).with_after_end(AfterEnd::Continue);
        assert!(up.validate().is_ok());
        assert_eq!(up.value(10), 1.0);
        assert_eq!(up.value(20), 2.0);
        let far = up.value(u64::MAX);
        assert!(far.is_finite() && far > 0.0, "{far}");
        let r = Linear::new(1.0, 0.0, 10).with_after_end(AfterEnd::Restart);
        assert_eq!(r.value(10), 1.0);
        assert_eq!(r.value(13), r.value(3));
        let _ = r.value(u64::MAX);
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (Linear::new(f64::NEG_INFINITY, 0.0, 10), "`start_lr`"),
            (Linear::new(f64::NAN, 0.0, 10), "`start_lr`"),
            (Linear::new(0.1, f64::INFINITY, 10), "`end_lr`"),
            (Linear::new(0.1, 0.0, 0), "`steps`"),
            (
                Linear::new(0.1, 0.0, 10).with_after_end(AfterEnd::Continue),
                "`after_end`",
            ),
        ];
        for (s, key) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
            let _ = s.value(5);
            let _ = s.value(u64::MAX);
        }
        for a in [AfterEnd::Hold, AfterEnd::Continue, AfterEnd::Restart] {
            let _ = Linear::new(0.1, 0.0, 0).with_after_end(a).value(3);
        }
    }

    #[test]
    fn serde_round_trip() {
        let s = Linear::new(0.0, 0.1, 100).with_after_end(AfterEnd::Continue);
        round_trips([s.clone(), Linear::new(0.1, 0.0, 10)]);
    }
}
