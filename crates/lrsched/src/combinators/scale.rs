//! `scale`: a schedule multiplied by a constant.

use crate::combinators::one_child::{one_child, OneChild};
use crate::families::declare::family;
use crate::{AnySchedule, Schedule, ScheduleError};

family! {
    /// A schedule times a constant factor: `lr(t) = schedule(t) * factor`.
    ///
    /// For the same schedule at a different peak (a per-parameter-group rate, a batch-size
    /// rule). The momentum the inner schedule sets is passed through unscaled: `factor`
    /// scales the rate only. Length, metrics and state are the inner schedule's.
    ///
    /// Config: `{"type": "scale", "schedule": {...}, "factor": 0.5}`.
    ///
    /// ```
    /// use lrsched::{Cosine, Scale, Schedule};
    /// let s = Scale::new(Cosine::new(1.0, 100), 0.1);
    /// assert_eq!(s.value(0), 0.1);
    /// assert_eq!(s.value(100), 0.0);
    /// assert_eq!(s.len(), Some(100));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Scale("scale") {
        /// The schedule scaled.
        schedule: child;
        /// The factor; any finite number (a negative one flips the sign: how the optax
        /// paste-ins carry the negative values optax computes).
        factor: f64, check finite;
    }
    /// `schedule` multiplied by `factor`.
    pub fn new;
}

impl OneChild for Scale {
    const NAME: &'static str = "scale";

    fn wrap_value(&self, child: &AnySchedule, step: u64) -> f64 {
        child.value(step) * self.factor
    }

    fn own_checks(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }
}

one_child!(Scale);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Join, StepDecay};

    #[test]
    fn scales_values() {
        let s = Scale::new(StepDecay::new(1.0, 10, 0.5), 3.0);
        assert_eq!(s.value(0), 3.0);
        assert_eq!(s.value(10), 1.5);
        assert_eq!(s.value(u64::MAX), 0.0);
        assert_eq!(s.len(), None);
        let nested = Scale::new(
            Join::sequence(vec![(s.into(), 20)], Constant::new(1.0)),
            0.5,
        );
        assert_eq!(nested.value(0), 1.5);
        assert_eq!(nested.value(20), 0.5);
    }

    #[test]
    fn invalid_parameters() {
        // A negative factor flips the sign (optax's negative values): allowed.
        assert_eq!(Scale::new(Constant::new(0.1), -1.0).validate(), Ok(()));
        for bad in [f64::NAN, f64::INFINITY] {
            let s = Scale::new(Constant::new(1.0), bad);
            assert!(s.validate().unwrap_err().to_string().contains("`factor`"));
            let _ = s.value(u64::MAX);
        }
        let e = Scale::new(Constant::new(f64::NAN), 1.0)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("scale: `schedule.lr`"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        let s: AnySchedule = Scale::new(StepDecay::new(1.0, 10, 0.5), 0.25).into();
        let v = to_value(&s);
        assert_eq!(v["schedule"]["type"], "step");
        assert_eq!(from_value(v).unwrap(), s);
    }
}
