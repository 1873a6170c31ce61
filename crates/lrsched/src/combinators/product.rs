//! `product`: schedules multiplied step by step.

use crate::families::declare::family;
use crate::join::in_child;
use crate::{AnySchedule, Schedule, ScheduleError};

family! {
    /// The pointwise product of its parts:
    ///
    /// ```text
    /// lr(t) = schedules[0](t) * schedules[1](t) * ... * schedules[n-1](t)
    /// ```
    ///
    /// PyTorch's `ChainedScheduler` idea for multiplicative factors, without its replay: the
    /// first part usually carries the base rate and the others are factors around 1 (a
    /// warmup from 0 to 1, a decay, a noise factor), multiplied left to right in that order.
    /// The length is the longest of the parts' lengths (`None` when no part has one).
    /// [`Schedule::momentum`] is the first part's momentum that is set: momenta do not
    /// multiply. Every part receives every metric.
    ///
    /// Config: `{"type": "product", "schedules": [{...}, {...}]}`.
    ///
    /// ```
    /// use lrsched::{Constant, Cosine, Product, Schedule};
    /// // A base rate of 0.5 under a cosine factor from 1 to 0 over 100 steps.
    /// let s = Product::new(vec![Constant::new(0.5).into(), Cosine::new(1.0, 100).into()]);
    /// assert_eq!(s.value(0), 0.5);
    /// assert_eq!(s.value(50), 0.5 * Cosine::new(1.0, 100).value(50));
    /// assert_eq!(s.value(100), 0.0);
    /// assert_eq!(s.len(), Some(100));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Product("product") {
        /// The factors, in order; at least one.
        schedules: Vec<AnySchedule>;
    }
    /// The product of `schedules`.
    pub fn new;
}

impl Product {
    /// The product of two schedules: `base(t) * factor(t)`.
    pub fn of(base: impl Into<AnySchedule>, factor: impl Into<AnySchedule>) -> Self {
        Product::new(vec![base.into(), factor.into()])
    }

    /// Appends one more factor.
    pub fn times(mut self, factor: impl Into<AnySchedule>) -> Self {
        self.schedules.push(factor.into());
        self
    }
}

impl Schedule for Product {
    /// The empty product (an invalid config) is 1.
    fn value(&self, step: u64) -> f64 {
        let mut parts = self.schedules.iter();
        let Some(first) = parts.next() else {
            return 1.0;
        };
        parts.fold(first.value(step), |acc, s| acc * s.value(step))
    }

    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.schedules.is_empty() {
            return Err(ScheduleError::invalid(
                "product",
                "schedules",
                "[]",
                "a list of at least one schedule",
            ));
        }
        for (i, s) in self.schedules.iter().enumerate() {
            in_child("product", &format!("schedules[{i}]"), s.validate())?;
        }
        Ok(())
    }

    fn len(&self) -> Option<u64> {
        self.schedules.iter().filter_map(|s| s.len()).max()
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        self.schedules.iter().find_map(|s| s.momentum(step))
    }

    fn children(&self) -> Vec<&AnySchedule> {
        self.schedules.iter().collect()
    }

    fn children_mut(&mut self) -> Vec<&mut AnySchedule> {
        self.schedules.iter_mut().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, Join, StepDecay};

    fn sample() -> Product {
        Product::of(StepDecay::new(0.1, 10, 0.5), Cosine::new(1.0, 40))
    }

    #[test]
    fn multiplies_pointwise() {
        let s = sample();
        for t in [0, 1, 9, 10, 33, 40, 41, u64::MAX] {
            let want = StepDecay::new(0.1, 10, 0.5).value(t) * Cosine::new(1.0, 40).value(t);
            assert_eq!(s.value(t), want, "step {t}");
        }
        assert_eq!(s.len(), Some(40));
        assert_eq!(s.momentum(3), None);
        let three = sample().times(Constant::new(2.0));
        assert_eq!(three.value(10), 0.05 * Cosine::new(1.0, 40).value(10) * 2.0);
        assert_eq!(Product::new(vec![Constant::new(0.3).into()]).value(7), 0.3);
    }

    #[test]
    fn nesting_and_lengths() {
        let s = Product::of(
            Join::sequence(vec![(Constant::new(1.0).into(), 5)], Cosine::new(1.0, 10)),
            sample(),
        );
        assert_eq!(s.len(), Some(40));
        assert_eq!(s.value(15), 0.0);
        assert_eq!(
            Product::of(Constant::new(1.0), Constant::new(2.0)).len(),
            None
        );
    }

    #[test]
    fn invalid_parameters() {
        let empty = Product::new(vec![]);
        assert!(empty
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`schedules`"));
        assert_eq!(empty.value(u64::MAX), 1.0);
        let bad = Product::of(Constant::new(1.0), Cosine::new(1.0, 0));
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("product: `schedules[1].steps`"), "{e}");
        assert!(bad.value(0).is_nan() || bad.value(0).is_finite());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        let s: AnySchedule = sample().into();
        let v = to_value(&s);
        assert_eq!(v["type"], "product");
        assert_eq!(from_value(v).unwrap(), s);
    }
}
