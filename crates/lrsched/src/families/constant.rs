//! `constant`: the same value at every step.

use super::declare::family;
use crate::{Schedule, ScheduleError};

family! {
    /// A constant value: `lr(t) = lr`.
    ///
    /// Config: `{"type": "constant", "lr": 0.1}`; one-line: `constant(lr=0.1)`.
    ///
    /// ```
    /// use lrsched::{Constant, Schedule};
    /// assert_eq!(Constant::new(0.1).value(1_000_000_000), 0.1);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Constant("constant") {
        /// The value at every step: a rate, a finite number >= 0 (the rule of every family's
        /// `lr`; optax's negative constants are read as this scaled by -1).
        lr: f64, check non_negative;
    }
    /// A constant schedule at `lr`.
    pub fn new;
}

impl Schedule for Constant {
    fn value(&self, _step: u64) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_everywhere() {
        let s = Constant::new(0.3);
        for step in [0, 1, 17, u64::MAX] {
            assert_eq!(s.value(step), 0.3);
        }
    }

    #[test]
    fn rejects_bad_rate() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = Constant::new(bad).validate().unwrap_err();
            assert!(e.to_string().contains("`lr`"), "{e}");
        }
        // A rate: 0 is one, a negative one is refused as in every family.
        assert_eq!(Constant::new(0.0).validate(), Ok(()));
        let e = Constant::new(-1.0).validate().unwrap_err().to_string();
        assert!(e.ends_with("must be a finite number >= 0"), "{e}");
    }
}
