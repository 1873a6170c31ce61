//! `inverse_sqrt`: decay with the inverse square root of the step.

use super::declare::family;
use crate::{check, Schedule, ScheduleError};

family! {
    /// Inverse-square-root decay, in one of two forms (exactly one of `k` and `timescale`
    /// is given):
    ///
    /// ```text
    /// t'    = max(t - warmup_steps, 0)
    /// lr(t) = lr / (1 + k * sqrt(t'))                          rate form (`k`)
    /// lr(t) = lr * (1 / sqrt((t' + timescale) / timescale))    timescale form (`timescale`)
    /// ```
    ///
    /// Both start at `lr` at `t' = 0` and fall towards 0 without reaching it, so the schedule
    /// has no length.
    ///
    /// The timescale form is Hugging Face transformers' `get_inverse_sqrt_schedule` after its
    /// warmup, `decay = 1 / sqrt((t + shift) / timescale)` with
    /// `shift = timescale - num_warmup_steps`, reproduced exactly (same operations, the sum
    /// taken in integers as Python does). Transformers' default `timescale` is
    /// `num_warmup_steps` (or 10,000 without warmup). There are two ways to put its linear
    /// warmup in front:
    ///
    /// - `Warmup::linear(w, InverseSqrt::timescale(lr, ts))`: the warmup hands this schedule
    ///   its local step `t - w`, and `(t - w) + ts = t + shift`, so `warmup_steps` stays 0;
    /// - where this schedule sees the global step (a `Join` with global time), set
    ///   `warmup_steps = w`: the steps before it hold `lr` (they are the warmup's) and the
    ///   decay is counted from their end.
    ///
    /// Config: `{"type": "inverse_sqrt", "lr": 0.1, "k": 0.1}` or
    /// `{"type": "inverse_sqrt", "lr": 0.1, "timescale": 1000}`.
    ///
    /// ```
    /// use lrsched::{InverseSqrt, Schedule};
    /// let s = InverseSqrt::new(1.0, 0.5);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(4), 0.5);
    /// let t = InverseSqrt::timescale(1.0, 100);
    /// assert_eq!(t.value(0), 1.0);
    /// assert_eq!(t.value(300), 0.5); // 1 / sqrt(400 / 100)
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct InverseSqrt("inverse_sqrt") {
        /// The value at step 0 (after `warmup_steps`); finite and >= 0.
        lr: f64, check non_negative;
        /// Rate form: `lr / (1 + k sqrt(t))`; finite and >= 0. Exclusive with `timescale`.
        k: Option<f64> = none;
        /// Timescale form: `lr / sqrt((t + timescale) / timescale)`; >= 1. Exclusive with `k`.
        timescale: Option<u64> = none;
        /// Steps of a warmup assumed in front, for use with global steps: `lr` is held
        /// through them and the decay counted from their end (default 0).
        warmup_steps: u64 = 0, with with_warmup_steps
            "Holds `lr` for `warmup_steps` steps and counts the decay from there.";
    }
    /// `lr` alone: neither `k` nor `timescale` yet.
    fn declared;
}

impl InverseSqrt {
    /// Rate form: `lr / (1 + k sqrt(t))`.
    pub fn new(lr: f64, k: f64) -> Self {
        InverseSqrt {
            k: Some(k),
            ..Self::declared(lr)
        }
    }
    /// Timescale form: `lr / sqrt((t + timescale) / timescale)`.
    pub fn timescale(lr: f64, timescale: u64) -> Self {
        InverseSqrt {
            timescale: Some(timescale),
            ..Self::declared(lr)
        }
    }
}

impl Schedule for InverseSqrt {
    fn value(&self, step: u64) -> f64 {
        let t = step.saturating_sub(self.warmup_steps);
        match (self.k, self.timescale) {
            (Some(k), _) => self.lr / (1.0 + k * (t as f64).sqrt()),
            (None, Some(ts)) => {
                // A zero timescale (rejected by validate()) would give 0/0 here.
                let ts = ts.max(1);
                // Transformers' order: 1.0 / math.sqrt((current_step + shift) / timescale).
                self.lr * (1.0 / (t.saturating_add(ts) as f64 / ts as f64).sqrt())
            }
            (None, None) => self.lr,
        }
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        match (self.k, self.timescale) {
            (Some(k), None) => check::non_negative("inverse_sqrt", "k", k),
            (None, Some(ts)) => check::at_least_one("inverse_sqrt", "timescale", ts),
            (Some(_), Some(ts)) => Err(ScheduleError::invalid(
                "inverse_sqrt",
                "timescale",
                ts,
                "absent when `k` is given (give exactly one of `k` and `timescale`)",
            )),
            (None, None) => Err(ScheduleError::invalid(
                "inverse_sqrt",
                "k",
                "missing",
                "given, or `timescale` given instead (exactly one of `k` and `timescale`)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::{rejects, round_trips};

    /// Transformers' `_get_inverse_sqrt_schedule_lr_lambda` times the base lr, for
    /// `t >= w` (before that it is the warmup, not this schedule).
    fn transformers(lr: f64, t: u64, w: u64, ts: u64) -> f64 {
        let shift = ts as i64 - w as i64;
        lr * (1.0 / ((t as i64 + shift) as f64 / ts as f64).sqrt())
    }

    #[test]
    fn rate_form_edges() {
        let s = InverseSqrt::new(0.1, 0.2);
        assert_eq!(s.value(0), 0.1);
        assert_eq!(s.value(25), 0.1 / (1.0 + 0.2 * 5.0));
        let far = s.value(u64::MAX);
        assert!(far.is_finite() && far > 0.0, "{far}");
        assert_eq!(s.len(), None);
        assert_eq!(InverseSqrt::new(0.1, 0.0).value(u64::MAX), 0.1);
    }

    #[test]
    fn timescale_form_matches_transformers() {
        let lr = 3e-4;
        for (w, ts) in [(100u64, 100u64), (100, 500), (1000, 100), (0, 10_000)] {
            // Local steps, as a warmup combinator hands them over.
            let local = InverseSqrt::timescale(lr, ts);
            // Global steps.
            let global = InverseSqrt::timescale(lr, ts).with_warmup_steps(w);
            for t in [w, w + 1, w + 17, w + 12_345, w + 10_000_000] {
                let want = transformers(lr, t, w, ts);
                assert_eq!(local.value(t - w), want, "w={w} ts={ts} t={t}");
                assert_eq!(global.value(t), want, "w={w} ts={ts} t={t}");
            }
            assert_eq!(global.value(0), lr);
            let far = global.value(u64::MAX);
            assert!(far.is_finite() && far > 0.0, "{far}");
        }
    }

    #[test]
    fn warmup_steps_hold_then_decay() {
        let s = InverseSqrt::new(1.0, 1.0).with_warmup_steps(10);
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(10), 1.0);
        assert_eq!(s.value(14), 1.0 / 3.0);
        assert_eq!(
            InverseSqrt::new(1.0, 1.0)
                .with_warmup_steps(u64::MAX)
                .value(5),
            1.0
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut both = InverseSqrt::new(0.1, 0.5);
        both.timescale = Some(10);
        let mut neither = InverseSqrt::new(0.1, 0.5);
        neither.k = None;
        let cases = [
            (InverseSqrt::new(-0.1, 0.5), "`lr`"),
            (InverseSqrt::new(f64::NAN, 0.5), "`lr`"),
            (InverseSqrt::new(0.1, -0.5), "`k`"),
            (InverseSqrt::new(0.1, f64::INFINITY), "`k`"),
            (InverseSqrt::timescale(0.1, 0), "`timescale`"),
            (both, "`timescale`"),
            (neither, "`k`"),
        ];
        rejects(cases);
    }

    #[test]
    fn serde_round_trip() {
        let s = InverseSqrt::timescale(0.1, 1000).with_warmup_steps(1000);
        round_trips([s.clone(), InverseSqrt::new(0.1, 0.01)]);
    }
}
