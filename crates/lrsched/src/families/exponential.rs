//! `exponential`: exponential decay, per step (`gamma`) or continuous (`k`).

use super::declare::family;
use crate::{check, Schedule, ScheduleError};

family! {
    /// Exponential decay, with optax's `transition_steps`, `transition_begin`, `staircase`
    /// and a floor (optax's `end_value` for a decay):
    ///
    /// ```text
    /// d(t)  = t - transition_begin
    /// p(t)  = d(t) / transition_steps                (floor(d(t) / transition_steps) if staircase)
    /// lr(t) = lr                                      for t <= transition_begin
    /// lr(t) = max(min_lr, lr * gamma^p(t))            with `gamma`
    /// lr(t) = max(min_lr, lr * exp(-k * p(t)))        with `k`
    /// lr(t) = min(max_lr, ...)                        when `max_lr` is given
    /// ```
    ///
    /// Exactly one of `gamma` (the factor per `transition_steps` steps) and `k` (a continuous
    /// rate, `lr0 * exp(-k t)`) is given. With `gamma` and the defaults this is PyTorch's
    /// `ExponentialLR` closed form `lr * gamma^t`; with all options it is optax's
    /// `exponential_decay` for a decay rate <= 1. `gamma` is at most 1 and `k` at least 0, so
    /// the value never grows without bound, unless a ceiling `max_lr` is given: then
    /// `gamma > 1` (or `k < 0`) is a growth that stops at `max_lr` (optax's `end_value` for a
    /// decay rate > 1). Once the value reaches `min_lr` (or `max_lr`) it is that bound
    /// exactly. The schedule has no length.
    ///
    /// Config: `{"type": "exponential", "lr": 0.1, "gamma": 0.99}` or
    /// `{"type": "exponential", "lr": 0.1, "k": 0.01, "min_lr": 1e-4}`.
    ///
    /// ```
    /// use lrsched::{Exponential, Schedule};
    /// let s = Exponential::new(1.0, 0.5);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(2), 0.25);
    /// let c = Exponential::rate(1.0, 0.1).with_transition_begin(10).with_min_lr(0.1);
    /// assert_eq!(c.value(10), 1.0);
    /// assert!((c.value(20) - (-1.0f64).exp()).abs() < 1e-15);
    /// assert_eq!(c.value(1_000), 0.1);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Exponential("exponential") {
        /// The value up to `transition_begin`; finite and >= 0.
        lr: f64, check non_negative;
        /// Factor per `transition_steps` steps; in (0, 1]. Exclusive with `k`.
        gamma: Option<f64> = none;
        /// Continuous decay rate per `transition_steps` steps; finite and >= 0. Exclusive
        /// with `gamma`.
        k: Option<f64> = none;
        /// Steps per unit of the exponent; >= 1 (default 1).
        transition_steps: u64 = 1, check at_least_one, with with_transition_steps
            "Counts the exponent in units of `transition_steps` steps.";
        /// Steps held at `lr` before the decay starts (default 0).
        transition_begin: u64 = 0, with with_transition_begin
            "Holds `lr` for the first `transition_begin` steps.";
        /// Decay in whole stairs of `transition_steps` steps (default false).
        staircase: bool = false, with with_staircase
            "Decays in whole stairs of `transition_steps` steps.";
        /// The floor the decay stops at; finite and >= 0 (default 0).
        min_lr: f64 = 0, check non_negative, with with_min_lr "Stops the decay at `min_lr`.";
        /// The ceiling a growth stops at; finite and >= 0. Required when `gamma > 1` or
        /// `k < 0`; none by default.
        max_lr: Option<f64> = none, check_some non_negative,
            with_some with_max_lr(f64) "Stops a growth (`gamma > 1` or `k < 0`) at `max_lr`.";
    }
    /// `lr` alone: neither `gamma` nor `k` yet.
    fn declared;
}

impl Exponential {
    /// Multiply `lr` by `gamma` every step.
    pub fn new(lr: f64, gamma: f64) -> Self {
        Exponential {
            gamma: Some(gamma),
            ..Self::declared(lr)
        }
    }
    /// Continuous decay `lr * exp(-k t)`.
    pub fn rate(lr: f64, k: f64) -> Self {
        Exponential {
            gamma: None,
            k: Some(k),
            ..Exponential::new(lr, 1.0)
        }
    }
}

impl Schedule for Exponential {
    fn value(&self, step: u64) -> f64 {
        if step <= self.transition_begin {
            return self.lr;
        }
        let d = step - self.transition_begin;
        let p = if self.staircase {
            d.checked_div(self.transition_steps).unwrap_or(0) as f64
        } else {
            d as f64 / self.transition_steps as f64
        };
        let decayed = match (self.gamma, self.k) {
            // `powf` is C's `pow`, as Python's `gamma ** t`.
            (Some(gamma), _) => self.lr * gamma.powf(p),
            (None, Some(k)) => self.lr * (-k * p).exp(),
            (None, None) => self.lr,
        };
        let floored = decayed.max(self.min_lr);
        match self.max_lr {
            Some(max_lr) => floored.min(max_lr),
            None => floored,
        }
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        match (self.gamma, self.k) {
            (Some(gamma), None) if self.max_lr.is_some() => {
                check::positive("exponential", "gamma", gamma)?
            }
            (Some(gamma), None) => {
                if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) {
                    return Err(ScheduleError::invalid(
                        "exponential",
                        "gamma",
                        check::fmt(gamma),
                        "a number in (0, 1] (or > 1 with a ceiling `max_lr`)",
                    ));
                }
            }
            (None, Some(k)) if self.max_lr.is_some() => check::finite("exponential", "k", k)?,
            (None, Some(k)) => check::non_negative("exponential", "k", k)?,
            (Some(_), Some(k)) => {
                return Err(ScheduleError::invalid(
                    "exponential",
                    "k",
                    check::fmt(k),
                    "absent when `gamma` is given (give exactly one of `gamma` and `k`)",
                ))
            }
            (None, None) => {
                return Err(ScheduleError::invalid(
                    "exponential",
                    "gamma",
                    "missing",
                    "given, or `k` given instead (exactly one of `gamma` and `k`)",
                ))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::round_trips;
    #[cfg(feature = "serde")]
    use crate::AnySchedule;

    #[test]
    fn per_step_matches_pytorch_closed_form() {
        let s = Exponential::new(0.1, 0.9);
        for t in [0u64, 1, 7, 100] {
            assert_eq!(s.value(t), 0.1 * 0.9f64.powf(t as f64));
        }
        assert_eq!(s.value(u64::MAX), 0.0);
        assert_eq!(s.len(), None);
    }

    #[test]
    fn transition_begin_steps_and_staircase() {
        let s = Exponential::new(1.0, 0.5)
            .with_transition_begin(10)
            .with_transition_steps(4);
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(10), 1.0);
        assert_eq!(s.value(14), 0.5);
        assert_eq!(s.value(12), 0.5f64.powf(0.5));
        let st = s.clone().with_staircase(true);
        assert_eq!(st.value(13), 1.0);
        assert_eq!(st.value(14), 0.5);
        assert_eq!(st.value(17), 0.5);
        assert_eq!(st.value(18), 0.25);
        assert_eq!(st.value(u64::MAX), 0.0);
    }

    #[test]
    fn continuous_rate_and_floor() {
        let s = Exponential::rate(2.0, 0.01);
        assert_eq!(s.value(0), 2.0);
        assert_eq!(s.value(100), 2.0 * (-1.0f64).exp());
        let f = s.clone().with_min_lr(0.5);
        assert_eq!(f.value(10_000), 0.5);
        assert_eq!(f.value(u64::MAX), 0.5);
        let zero = Exponential::rate(2.0, 0.0);
        assert_eq!(zero.value(u64::MAX), 2.0);
    }

    #[test]
    fn growth_stops_at_the_ceiling() {
        let s = Exponential::new(1.0, 2.0).with_max_lr(5.0);
        assert!(s.validate().is_ok());
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(2), 4.0);
        assert_eq!(s.value(3), 5.0);
        assert_eq!(s.value(u64::MAX), 5.0);
        let k = Exponential::rate(1.0, -0.5).with_max_lr(2.0);
        assert!(k.validate().is_ok());
        assert_eq!(k.value(u64::MAX), 2.0);
        assert!(Exponential::new(1.0, 2.0).validate().is_err());
        assert!(Exponential::rate(1.0, -0.5).validate().is_err());
        let e = Exponential::new(1.0, 2.0)
            .with_max_lr(f64::NAN)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("`max_lr`"), "{e}");
        #[cfg(feature = "serde")]
        {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            assert_eq!(v["max_lr"], 5.0);
            assert_eq!(crate::config::from_value(v).unwrap(), AnySchedule::from(s));
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut both = Exponential::new(0.1, 0.5);
        both.k = Some(0.1);
        let mut neither = Exponential::new(0.1, 0.5);
        neither.gamma = None;
        let cases = [
            (Exponential::new(-0.1, 0.5), "`lr`"),
            (Exponential::new(0.1, 0.0), "`gamma`"),
            (Exponential::new(0.1, 1.5), "`gamma`"),
            (Exponential::new(0.1, f64::NAN), "`gamma`"),
            (Exponential::rate(0.1, -1.0), "`k`"),
            (Exponential::rate(0.1, f64::INFINITY), "`k`"),
            (both, "`k`"),
            (neither, "`gamma`"),
            (
                Exponential::new(0.1, 0.5).with_transition_steps(0),
                "`transition_steps`",
            ),
            (Exponential::new(0.1, 0.5).with_min_lr(f64::NAN), "`min_lr`"),
        ];
        for (s, key) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
            let _ = s.value(u64::MAX);
            let _ = s.value(3);
            let _ = s.clone().with_staircase(true).value(3);
        }
        assert!(Exponential::new(0.1, 1.0).validate().is_ok());
    }

    #[test]
    fn serde_round_trip() {
        let s = Exponential::rate(0.1, 0.01)
            .with_transition_steps(10)
            .with_transition_begin(5)
            .with_staircase(true)
            .with_min_lr(1e-4);
        round_trips([s.clone(), Exponential::new(0.1, 0.9)]);
    }
}
