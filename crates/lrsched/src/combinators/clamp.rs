//! `clamp`: a floor and an optional ceiling under and over a schedule.

use crate::combinators::one_child::{one_child, OneChild};
use crate::families::declare::family;
use crate::{check, AnySchedule, Schedule, ScheduleError};

family! {
    /// A schedule kept within `[min, max]`:
    ///
    /// ```text
    /// lr(t) = min(max(schedule(t), min), max)       (no ceiling when max is absent)
    /// ```
    ///
    /// A floor under a decay that would otherwise reach 0, or under a reduce-on-plateau
    /// (PyTorch's `min_lr`, for any schedule); a ceiling over a schedule that could grow
    /// (a product with a noise factor). The bounds apply to the rate only: momentum, length,
    /// metrics and state are the inner schedule's.
    ///
    /// Config: `{"type": "clamp", "schedule": {...}, "min": 1e-5}`, optional `"max"`.
    ///
    /// ```
    /// use lrsched::{Clamp, Cosine, Schedule};
    /// let s = Clamp::floor(Cosine::new(1.0, 100), 0.1);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(100), 0.1);
    /// let capped = Clamp::new(Cosine::new(1.0, 100)).with_max(0.5);
    /// assert_eq!(capped.value(0), 0.5);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Clamp("clamp") {
        /// The schedule clamped.
        schedule: child;
        /// The floor; finite, >= 0 and <= `max` (default 0).
        min: f64 = 0, check non_negative, with with_min "Sets the floor.";
        /// The ceiling, if any; finite and >= `min` (default none).
        max: Option<f64> = none, check_some finite, with_some with_max(f64) "Sets the ceiling.";
    }
    /// `schedule` with a floor at 0 and no ceiling; add bounds with the builders.
    pub fn new;
}

impl Clamp {
    /// `schedule` never below `min`.
    pub fn floor(schedule: impl Into<AnySchedule>, min: f64) -> Self {
        Clamp::new(schedule).with_min(min)
    }
    /// `schedule` kept within `[min, max]`.
    pub fn between(schedule: impl Into<AnySchedule>, min: f64, max: f64) -> Self {
        Clamp::new(schedule).with_min(min).with_max(max)
    }
}

impl OneChild for Clamp {
    const NAME: &'static str = "clamp";

    fn wrap_value(&self, child: &AnySchedule, step: u64) -> f64 {
        // `f64::max`/`min` ignore a NaN side, so a NaN from the inner schedule or a NaN
        // bound never turns into a panic (`f64::clamp` would panic on min > max).
        let v = child.value(step).max(self.min);
        match self.max {
            Some(hi) => v.min(hi),
            None => v,
        }
    }

    fn own_checks(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if let Some(hi) = self.max {
            if hi < self.min {
                return Err(ScheduleError::invalid(
                    "clamp",
                    "max",
                    check::fmt(hi),
                    format!("a finite number >= `min` ({})", check::fmt(self.min)),
                ));
            }
        }
        Ok(())
    }
}

one_child!(Clamp);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, Scale, StepDecay};

    #[test]
    fn floor_and_ceiling() {
        let s = Clamp::between(StepDecay::new(1.0, 10, 0.5), 0.1, 0.6);
        assert_eq!(s.value(0), 0.6);
        assert_eq!(s.value(10), 0.5);
        assert_eq!(s.value(40), 0.1);
        assert_eq!(s.value(u64::MAX), 0.1);
        assert_eq!(Clamp::new(Cosine::new(1.0, 10)).value(10), 0.0);
        let nested = Scale::new(Clamp::floor(Cosine::new(1.0, 10), 0.2), 2.0);
        assert_eq!(nested.value(10), 0.4);
        assert_eq!(nested.len(), Some(10));
        let equal = Clamp::between(Constant::new(3.0), 1.0, 1.0);
        assert!(equal.validate().is_ok());
        assert_eq!(equal.value(0), 1.0);
    }

    #[test]
    fn invalid_parameters_never_panic() {
        let crossed = Clamp::between(Constant::new(0.5), 1.0, 0.1);
        let e = crossed.validate().unwrap_err().to_string();
        assert!(e.contains("`max`") && e.contains(">= `min`"), "{e}");
        let _ = crossed.value(0);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let s = Clamp::floor(Constant::new(0.5), bad);
            assert!(s.validate().unwrap_err().to_string().contains("`min`"));
            let _ = s.value(0);
            let s = Clamp::new(Constant::new(0.5)).with_max(bad);
            assert!(s.validate().unwrap_err().to_string().contains("`max`"));
            let _ = s.value(0);
        }
        let e = Clamp::new(Constant::new(f64::NAN)).validate().unwrap_err();
        assert!(e.to_string().contains("`schedule.lr`"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        for s in [
            Clamp::new(Cosine::new(1.0, 10)),
            Clamp::floor(Cosine::new(1.0, 10), 0.1),
            Clamp::between(Cosine::new(1.0, 10), 0.1, 0.5),
        ] {
            let s: AnySchedule = s.into();
            let v = to_value(&s);
            assert_eq!(from_value(v).unwrap(), s);
        }
        let v = to_value(&Clamp::new(Constant::new(1.0)).into());
        assert!(v.get("min").is_none() && v.get("max").is_none(), "{v}");
    }
}
