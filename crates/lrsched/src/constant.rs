//! `constant`: the same value at every step.

use crate::{check, Schedule, ScheduleError};

/// A constant value: `lr(t) = lr`.
///
/// Config: `{"type": "constant", "lr": 0.1}`; one-line: `constant(lr=0.1)`.
///
/// ```
/// use lrsched::{Constant, Schedule};
/// assert_eq!(Constant::new(0.1).value(1_000_000_000), 0.1);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Constant {
    /// The value at every step; finite (negative and zero values are allowed, as optax computes them).
    pub lr: f64,
}

impl Constant {
    /// A constant schedule at `lr`.
    pub fn new(lr: f64) -> Self {
        Constant { lr }
    }
}

impl Schedule for Constant {
    fn value(&self, _step: u64) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        check::rate("constant", "lr", self.lr)
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
        // Negative and zero values are values optax computes: allowed.
        for v in [-1.0, 0.0] {
            assert!(Constant::new(v).validate().is_ok());
            assert_eq!(Constant::new(v).value(3), v);
        }
    }
}
