//! `offset`: a schedule shifted in time.

use crate::combinators::one_child::{one_child, OneChild};
use crate::families::declare::family;
use crate::{AnySchedule, Schedule, ScheduleError};

family! {
    /// A schedule moved along the step axis by `shift` steps:
    ///
    /// ```text
    /// lr(t) = schedule(max(t + shift, 0))
    /// ```
    ///
    /// A positive `shift` starts the inner schedule part-way through (resume a run whose
    /// schedule was built from step 0 at step `shift`); a negative `shift` delays it by
    /// `-shift` steps, holding its first value `schedule(0)` meanwhile. Only time moves: to
    /// change values use [`crate::Scale`]. Momentum and metrics read the same shifted clock
    /// (a metric observed during a delay reaches the inner schedule at its step 0). The
    /// length is where the inner schedule ends on the outer clock, `len - shift` (at least 0).
    ///
    /// Config: `{"type": "offset", "schedule": {...}, "shift": -100}`.
    ///
    /// ```
    /// use lrsched::{Cosine, Offset, Schedule};
    /// let delayed = Offset::delay(Cosine::new(1.0, 100), 10);
    /// assert_eq!(delayed.value(0), 1.0);
    /// assert_eq!(delayed.value(60), Cosine::new(1.0, 100).value(50));
    /// assert_eq!(delayed.len(), Some(110));
    /// let resumed = Offset::advance(Cosine::new(1.0, 100), 50);
    /// assert_eq!(resumed.value(0), Cosine::new(1.0, 100).value(50));
    /// assert_eq!(resumed.len(), Some(50));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Offset("offset") {
        /// The schedule shifted.
        schedule: child;
        /// Steps added to the step before the inner schedule reads it: > 0 skips ahead,
        /// < 0 delays. Any integer.
        shift: i64;
    }
    /// `schedule` read at `step + shift` (never below step 0).
    pub fn new;
}

impl Offset {
    /// `schedule` starting `steps` steps late, at its first value until then.
    pub fn delay(schedule: impl Into<AnySchedule>, steps: u64) -> Self {
        Offset::new(schedule, -(steps.min(i64::MAX as u64) as i64))
    }
    /// `schedule` starting at its own step `steps`.
    pub fn advance(schedule: impl Into<AnySchedule>, steps: u64) -> Self {
        Offset::new(schedule, steps.min(i64::MAX as u64) as i64)
    }
}

impl OneChild for Offset {
    const NAME: &'static str = "offset";

    fn own_checks(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }

    fn inner_step(&self, step: u64) -> u64 {
        if self.shift >= 0 {
            step.saturating_add(self.shift.unsigned_abs())
        } else {
            step.saturating_sub(self.shift.unsigned_abs())
        }
    }

    fn wrap_len(&self, child: &AnySchedule) -> Option<u64> {
        let len = child.len()?;
        Some(if self.shift >= 0 {
            len.saturating_sub(self.shift.unsigned_abs())
        } else {
            len.saturating_add(self.shift.unsigned_abs())
        })
    }
}

one_child!(Offset);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, Join, StepDecay};

    #[test]
    fn shifts_both_ways() {
        let inner = StepDecay::new(1.0, 10, 0.5);
        let late = Offset::delay(inner.clone(), 5);
        assert_eq!(late.shift, -5);
        for t in 0..=5 {
            assert_eq!(late.value(t), 1.0);
        }
        assert_eq!(late.value(15), 0.5);
        let early = Offset::advance(inner.clone(), 5);
        assert_eq!(early.value(5), 0.5);
        assert_eq!(Offset::new(inner, 0).value(10), 0.5);
        assert_eq!(late.len(), None);
    }

    #[test]
    fn extremes_do_not_overflow() {
        let c = Cosine::new(1.0, 100);
        for shift in [i64::MIN, -1, 0, 1, i64::MAX] {
            let s = Offset::new(c.clone(), shift);
            for t in [0, 1, u64::MAX - 1, u64::MAX] {
                assert!(s.value(t).is_finite());
            }
            assert!(s.len().is_some());
        }
        assert_eq!(
            Offset::new(c.clone(), i64::MIN).len(),
            Some(100 + (1u64 << 63))
        );
        assert_eq!(Offset::new(c.clone(), i64::MAX).len(), Some(0));
        assert_eq!(Offset::delay(c, u64::MAX).shift, -i64::MAX);
    }

    #[test]
    fn nesting_and_invalid() {
        let s = Offset::delay(
            Join::sequence(vec![(Constant::new(2.0).into(), 3)], Cosine::new(1.0, 10)),
            7,
        );
        assert_eq!(s.value(9), 2.0);
        assert_eq!(s.value(10), 1.0);
        assert_eq!(s.len(), Some(20));
        let e = Offset::delay(Cosine::new(1.0, 0), 3)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("offset: `schedule.steps`"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        for shift in [-7, 0, 7] {
            let s: AnySchedule = Offset::new(Cosine::new(1.0, 10), shift).into();
            let v = to_value(&s);
            assert_eq!(v["shift"], shift);
            assert_eq!(from_value(v).unwrap(), s);
        }
    }
}
