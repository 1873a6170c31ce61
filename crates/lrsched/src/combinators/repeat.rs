//! `repeat`: a schedule started over every `period` steps.

use crate::combinators::one_child::{one_child, OneChild};
use crate::families::declare::family;
use crate::{check, AfterEnd, AnySchedule, Schedule, ScheduleError};

family! {
    /// A schedule restarted every `period` steps, for ever or `times` times:
    ///
    /// ```text
    /// p     = period, or the inner schedule's length when period is absent
    /// lr(t) = schedule(t mod p)                         (no `times`, or t < p * times)
    /// ```
    ///
    /// With `times = n` the length is `p * n`, and past it `after_end` applies: `hold`
    /// (default) keeps `schedule(p)`, the value the last repetition would reach next (a
    /// decay of length `p` ends exactly on its minimum); `continue` lets the last repetition
    /// run on, `schedule(t - p * (n - 1))`; `restart` repeats for ever as if `times` were
    /// absent. A `period` longer than the inner schedule's length holds its end value (by
    /// the inner schedule's own `after_end`) until the next repetition; a shorter one cuts
    /// each repetition short. O(1) at any step. Momentum and metrics read the same
    /// repeating clock, so a metric-driven schedule inside sees time go back at each start.
    ///
    /// Config: `{"type": "repeat", "schedule": {...}}`, optional `"period"`, `"times"`,
    /// `"after_end"`.
    ///
    /// ```
    /// use lrsched::{Cosine, Repeat, Schedule};
    /// let c = Cosine::new(1.0, 10);
    /// let s = Repeat::new(c.clone()).with_times(3);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(13), c.value(3));
    /// assert_eq!(s.value(29), c.value(9));
    /// assert_eq!(s.value(30), 0.0);
    /// assert_eq!(s.len(), Some(30));
    /// assert_eq!(Repeat::new(c.clone()).value(1_000_000_003), c.value(3));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Repeat("repeat") {
        /// The schedule repeated.
        schedule: child;
        /// Steps between two starts; >= 1. Default: the inner schedule's length (then
        /// required when it has none).
        period: Option<u64> = none, with_some with_period(u64) "Sets the steps between two starts.";
        /// How many repetitions; >= 1. Default: for ever.
        times: Option<u64> = none, check_some at_least_one,
            with_some with_times(u64) "Stops after `times` repetitions.";
        /// What happens after `times` repetitions (default `hold`); unused without `times`.
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy after the last repetition.";
    }
    /// `schedule` repeated for ever, every `schedule.len()` steps.
    pub fn new;
}

impl Repeat {
    /// `schedule` repeated for ever, every `period` steps.
    pub fn every(schedule: impl Into<AnySchedule>, period: u64) -> Self {
        Repeat::new(schedule).with_period(period)
    }

    fn period_len(&self) -> Option<u64> {
        self.period.or_else(|| self.schedule.len())
    }
}

impl OneChild for Repeat {
    const NAME: &'static str = "repeat";

    fn inner_step(&self, step: u64) -> u64 {
        let Some(p) = self.period_len().filter(|&p| p > 0) else {
            // Invalid (no period, or 0): read the inner schedule unrepeated.
            return step;
        };
        let Some(n) = self.times else {
            return step % p;
        };
        // Saturating, as `len()`: a total past u64 ends at step u64::MAX.
        let total = p.saturating_mul(n);
        let t = self.after_end.local_step(step, total);
        if t < total {
            t % p
        } else if self.after_end == AfterEnd::Continue {
            t.saturating_sub(p.saturating_mul(n.saturating_sub(1)))
        } else {
            p
        }
    }

    fn own_checks(&self) -> Result<(), ScheduleError> {
        match self.period {
            Some(p) => check::at_least_one("repeat", "period", p)?,
            None => match self.schedule.len() {
                Some(0) => {
                    return Err(ScheduleError::invalid(
                        "repeat",
                        "period",
                        "none",
                        "an integer >= 1 (the schedule's length is 0)",
                    ))
                }
                Some(_) => {}
                None => {
                    return Err(ScheduleError::invalid(
                        "repeat",
                        "period",
                        "none",
                        format!(
                            "an integer >= 1: `{}` has no length to repeat",
                            self.schedule.type_name()
                        ),
                    ))
                }
            },
        }
        self.declared_checks()
    }

    fn wrap_len(&self, _child: &AnySchedule) -> Option<u64> {
        let n = self.times?;
        Some(self.period_len()?.saturating_mul(n))
    }
}

one_child!(Repeat);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, Join, StepDecay};

    #[test]
    fn repeats_for_ever_in_closed_form() {
        let c = Cosine::new(1.0, 10);
        let s = Repeat::new(c.clone());
        for t in [0, 5, 10, 15, 1_000_000_007, u64::MAX] {
            assert_eq!(s.value(t), c.value(t % 10), "step {t}");
        }
        assert_eq!(s.len(), None);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn explicit_period() {
        let longer = Repeat::every(Cosine::new(1.0, 10), 12);
        assert_eq!(longer.value(10), 0.0);
        assert_eq!(longer.value(11), 0.0);
        assert_eq!(longer.value(12), 1.0);
        let shorter = Repeat::every(StepDecay::new(1.0, 3, 0.5), 4).with_times(2);
        let v: Vec<f64> = (0..10).map(|t| shorter.value(t)).collect();
        assert_eq!(v, [1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]);
        assert_eq!(shorter.len(), Some(8));
    }

    #[test]
    fn after_the_last_repetition() {
        let c = Cosine::new(1.0, 10).with_min_lr(0.1);
        let hold = Repeat::new(c.clone()).with_times(2);
        assert_eq!(hold.value(19), c.value(9));
        assert_eq!(hold.value(20), 0.1);
        assert_eq!(hold.value(u64::MAX), 0.1);
        let cont = Repeat::every(StepDecay::new(1.0, 3, 0.5), 4)
            .with_times(2)
            .with_after_end(AfterEnd::Continue);
        assert_eq!(cont.value(8), 0.5);
        assert_eq!(cont.value(10), 0.25);
        assert!(cont.value(u64::MAX).is_finite());
        let restart = Repeat::new(c.clone())
            .with_times(2)
            .with_after_end(AfterEnd::Restart);
        assert_eq!(restart.value(23), c.value(3));
        // A total length past u64 saturates, as `len()` does.
        let huge = Repeat::every(c.clone(), u64::MAX).with_times(3);
        assert_eq!(huge.len(), Some(u64::MAX));
        assert_eq!(huge.value(u64::MAX), 0.1);
    }

    #[test]
    fn nesting() {
        let warm_then_decay =
            Join::sequence(vec![(Constant::new(0.5).into(), 2)], Cosine::new(1.0, 8));
        let s = Repeat::new(warm_then_decay.clone()).with_times(3);
        assert_eq!(s.len(), Some(30));
        assert_eq!(s.value(21), 0.5);
        assert_eq!(s.value(22), 1.0);
        assert_eq!(s.value(30), 0.0);
        let twice = Repeat::every(s, 40);
        assert_eq!(twice.value(41), 0.5);
    }

    #[test]
    fn invalid_parameters_never_panic() {
        let no_len = Repeat::new(Constant::new(1.0));
        let e = no_len.validate().unwrap_err().to_string();
        assert!(e.contains("`period`") && e.contains("no length"), "{e}");
        assert_eq!(no_len.value(u64::MAX), 1.0);
        let zero = Repeat::every(Cosine::new(1.0, 10), 0);
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`period`"));
        assert_eq!(zero.value(5), Cosine::new(1.0, 10).value(5));
        let zero_len = Repeat::new(Cosine::new(1.0, 0));
        assert!(zero_len
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`period`"));
        let _ = zero_len.value(5);
        let never = Repeat::new(Cosine::new(1.0, 10)).with_times(0);
        assert!(never
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`times`"));
        for ae in [AfterEnd::Hold, AfterEnd::Continue, AfterEnd::Restart] {
            let s = never.clone().with_after_end(ae);
            for t in [0, 1, u64::MAX] {
                assert!(s.value(t).is_finite());
            }
        }
        let e = Repeat::every(Cosine::new(f64::NAN, 10), 3)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("repeat: `schedule.lr`"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        for s in [
            Repeat::new(Cosine::new(1.0, 10)),
            Repeat::every(Cosine::new(1.0, 10), 12)
                .with_times(3)
                .with_after_end(AfterEnd::Continue),
        ] {
            let s: AnySchedule = s.into();
            let v = to_value(&s);
            assert_eq!(from_value(v).unwrap(), s);
        }
        let v = to_value(&Repeat::new(Cosine::new(1.0, 10)).into());
        assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
        let bad =
            serde_json::json!({"type": "repeat", "schedule": {"type": "constant", "lr": 1.0}});
        assert!(from_value(bad).is_err());
    }
}
