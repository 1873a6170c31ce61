//! `multi_step`: multiply by `gamma` at each of a list of milestones.

use super::declare::family;
use crate::{check, Schedule, ScheduleError};

family! {
    /// Decay by `gamma` at each milestone:
    ///
    /// ```text
    /// lr(t) = lr * gamma^n(t),   n(t) = number of milestones m with m <= t
    /// ```
    ///
    /// PyTorch's `MultiStepLR`, as a closed form. A milestone listed twice counts twice
    /// (PyTorch keeps its milestones in a `Counter`), so `[30, 30]` multiplies by `gamma^2`
    /// at step 30. A milestone of 0 already applies at step 0. `n(t)` is found by binary
    /// search, so a value costs `O(log milestones)` at any step. The schedule has no length:
    /// after the last milestone it holds `lr * gamma^len(milestones)` for ever.
    ///
    /// Config: `{"type": "multi_step", "lr": 0.1, "milestones": [30, 80], "gamma": 0.1}`;
    /// one-line: `multi_step(lr=0.1, milestones=[30, 80])`.
    ///
    /// ```
    /// use lrsched::{MultiStep, Schedule};
    /// let s = MultiStep::new(1.0, vec![10, 20, 20]).with_gamma(0.5);
    /// assert_eq!(s.value(9), 1.0);
    /// assert_eq!(s.value(10), 0.5);
    /// assert_eq!(s.value(20), 0.125); // 20 is listed twice
    /// assert_eq!(s.value(1_000_000_000), 0.125);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct MultiStep("multi_step") {
        /// The value before the first milestone; finite and >= 0.
        lr: f64, check non_negative;
        /// The steps at which `gamma` is applied; non-decreasing, repeats allowed (each
        /// repeat applies `gamma` once more). May be empty (a constant).
        milestones: Vec<u64>;
        /// Factor applied at each milestone; finite and > 0 (default 0.1).
        gamma: f64 = 0.1, with with_gamma "Uses `gamma` as the factor at each milestone.";
    }
    /// Decay `lr` by 0.1 at each of `milestones`.
    pub fn new;
}

impl Schedule for MultiStep {
    fn value(&self, step: u64) -> f64 {
        // On an unsorted (invalid) list partition_point still returns some index
        // without panicking, which is all value() promises there.
        let n = self.milestones.partition_point(|&m| m <= step);
        // `powf` is C's `pow`, as Python's `gamma ** n`, so values agree with PyTorch.
        self.lr * self.gamma.powf(n as f64)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        check::increasing("multi_step", "milestones", &self.milestones, false)?;
        crate::step::decay_factor("multi_step", self.gamma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::rejects;
    use crate::AnySchedule;

    #[test]
    fn edges() {
        let s = MultiStep::new(1.0, vec![2, 4]).with_gamma(0.5);
        let v: Vec<f64> = (0..7).map(|t| s.value(t)).collect();
        assert_eq!(v, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25]);
        assert_eq!(s.value(u64::MAX), 0.25);
        assert_eq!(s.len(), None);
    }

    #[test]
    fn repeated_and_zero_milestones() {
        let s = MultiStep::new(1.0, vec![0, 3, 3, 3]).with_gamma(0.5);
        assert!(s.validate().is_ok());
        assert_eq!(s.value(0), 0.5);
        assert_eq!(s.value(2), 0.5);
        assert_eq!(s.value(3), 0.0625);
        let m = MultiStep::new(1.0, vec![u64::MAX]).with_gamma(0.5);
        assert_eq!(m.value(u64::MAX - 1), 1.0);
        assert_eq!(m.value(u64::MAX), 0.5);
    }

    #[test]
    fn empty_milestones_is_constant() {
        let s = MultiStep::new(0.3, vec![]);
        assert!(s.validate().is_ok());
        assert_eq!(s.value(0), 0.3);
        assert_eq!(s.value(u64::MAX), 0.3);
    }

    #[test]
    fn matches_pytorch_closed_form() {
        // base_lr * gamma ** bisect_right(milestones, epoch), PyTorch's default gamma.
        let s = MultiStep::new(0.1, vec![30, 80]);
        assert_eq!(s.value(29), 0.1);
        assert_eq!(s.value(30), 0.1 * 0.1f64.powf(1.0));
        assert_eq!(s.value(80), 0.1 * 0.1f64.powf(2.0));
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (MultiStep::new(-1.0, vec![1]), "`lr`"),
            (MultiStep::new(f64::NAN, vec![1]), "`lr`"),
            (MultiStep::new(0.1, vec![5, 3]), "`milestones`"),
            (MultiStep::new(0.1, vec![1]).with_gamma(0.0), "`gamma`"),
            (
                MultiStep::new(0.1, vec![1]).with_gamma(f64::INFINITY),
                "`gamma`",
            ),
            (MultiStep::new(0.1, vec![1]).with_gamma(-0.5), "`gamma`"),
        ];
        rejects(cases);
    }

    #[test]
    fn serde_round_trip() {
        let s = MultiStep::new(0.1, vec![3, 3, 9]).with_gamma(0.5);
        #[cfg(feature = "serde")]
        {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            assert_eq!(
                crate::config::from_value(v).unwrap(),
                AnySchedule::from(s.clone())
            );
            let d = MultiStep::new(0.1, vec![3]);
            let v = crate::config::to_value(&AnySchedule::from(d.clone()));
            assert!(v.get("gamma").is_none(), "{v}");
            assert_eq!(crate::config::from_value(v).unwrap(), AnySchedule::from(d));
        }
        let _ = AnySchedule::from(s);
    }
}
