//! `tanh`: hyperbolic-tangent decay from `lr` to `min_lr`.

use super::declare::family;
use crate::{check, AfterEnd, Schedule, ScheduleError};

family! {
    /// Hyperbolic-tangent decay over `steps` steps, timm's `TanhLRScheduler` shape:
    ///
    /// ```text
    /// r(t)  = t / steps
    /// lr(t) = min_lr + 0.5 * (lr - min_lr) * (1 - tanh(lb * (1 - r(t)) + ub * r(t)))   for t < steps
    /// lr(t) = min_lr                                                                   for t >= steps
    /// ```
    ///
    /// `lb` and `ub` are where the tanh is sampled at the start and the end (defaults -7 and
    /// 3, as timm). The curve itself starts a hair below `lr` (`tanh(-7)` is not quite -1)
    /// and ends a little above `min_lr` (about 0.5% of the range for `ub = 3`); like timm
    /// (whose single cycle gives `lr_min` from `t_initial` on), the value at `steps` and
    /// after is `min_lr` exactly. Same order of operations as timm.
    ///
    /// Past `steps` the schedule follows `after_end`: `hold` (default) stays at `min_lr`,
    /// `continue` keeps the curve (which keeps approaching `min_lr` from above), `restart`
    /// starts over every `steps` steps (timm's cycles without decay or growth).
    ///
    /// Config: `{"type": "tanh", "lr": 0.1, "steps": 1000, "min_lr": 1e-5}`.
    ///
    /// ```
    /// use lrsched::{Schedule, Tanh};
    /// let s = Tanh::new(1.0, 100);
    /// assert!((s.value(0) - 1.0).abs() < 1e-6);
    /// assert!(s.value(69) > 0.5 && s.value(71) < 0.5); // the tanh crosses 0 at r = 0.7
    /// assert_eq!(s.value(100), 0.0);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Tanh("tanh") {
        /// The peak value, approached at step 0; finite and >= 0.
        lr: f64, check non_negative;
        /// Steps of decay; >= 1.
        steps: u64, check at_least_one;
        /// The value at `steps` and after; finite and >= 0 (default 0).
        min_lr: f64 = 0, check non_negative, with with_min_lr "Ends at `min_lr` instead of 0.";
        /// Where the tanh is sampled at step 0; finite and < `ub` (default -7).
        lb: f64 = -7, check finite;
        /// Where the tanh is sampled at `steps`; finite and > `lb` (default 3).
        ub: f64 = 3, check finite;
        /// What happens past `steps` (default `hold`).
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past `steps`.";
    }
    /// Tanh decay from `lr` to 0 over `steps` steps, `lb = -7`, `ub = 3`.
    pub fn new;
}

impl Tanh {
    /// Samples the tanh on `[lb, ub]`.
    pub fn with_bounds(mut self, lb: f64, ub: f64) -> Self {
        self.lb = lb;
        self.ub = ub;
        self
    }
}

impl Tanh {
    /// The value `x` steps into a decay of `len` steps (both may be fractional) from
    /// `peak` to `min_lr`: what [`crate::Cycles`] asks of each cycle.
    pub(crate) fn at(&self, peak: f64, x: f64, len: f64) -> f64 {
        let tr = x / len;
        // timm: lr_min + 0.5 * (lr_max - lr_min) * (1 - tanh(lb * (1 - tr) + ub * tr)).
        self.min_lr
            + 0.5 * (peak - self.min_lr) * (1.0 - (self.lb * (1.0 - tr) + self.ub * tr).tanh())
    }
}

impl Schedule for Tanh {
    fn value(&self, step: u64) -> f64 {
        let t = self.after_end.local_step(step, self.steps);
        if t >= self.steps && self.after_end != AfterEnd::Continue {
            return self.min_lr;
        }
        self.at(self.lr, t as f64, self.steps as f64)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.ub <= self.lb {
            return Err(ScheduleError::invalid(
                "tanh",
                "ub",
                check::fmt(self.ub),
                format!("a number > `lb` ({})", check::fmt(self.lb)),
            ));
        }
        Ok(())
    }
    fn len(&self) -> Option<u64> {
        Some(self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::round_trips;

    /// timm's `_get_lr` for one cycle.
    fn timm(lr: f64, min: f64, lb: f64, ub: f64, t: u64, steps: u64) -> f64 {
        if t >= steps {
            return min;
        }
        let tr = t as f64 / steps as f64;
        min + 0.5 * (lr - min) * (1.0 - (lb * (1.0 - tr) + ub * tr).tanh())
    }

    #[test]
    fn matches_timm_and_lands_on_min() {
        for (lr, min, lb, ub) in [
            (0.1, 0.0, -7.0, 3.0),
            (3e-4, 1e-6, -5.0, 5.0),
            (1.0, 0.2, -1.0, 0.5),
        ] {
            let s = Tanh::new(lr, 50).with_min_lr(min).with_bounds(lb, ub);
            assert!(s.validate().is_ok());
            for t in [0, 1, 25, 49, 50, 51, 1000] {
                assert_eq!(s.value(t), timm(lr, min, lb, ub, t, 50), "t={t}");
            }
            assert_eq!(s.value(50), min);
            assert_eq!(s.value(u64::MAX), min);
            let v = s.values(0..51);
            assert!(v.windows(2).all(|w| w[1] <= w[0]), "monotone {v:?}");
            assert_eq!(s.len(), Some(50));
        }
    }

    #[test]
    fn continue_and_restart() {
        let c = Tanh::new(1.0, 10)
            .with_min_lr(0.1)
            .with_after_end(AfterEnd::Continue);
        assert!(c.value(10) > 0.1 && c.value(20) > 0.1 && c.value(20) < c.value(10));
        assert_eq!(c.value(u64::MAX), 0.1);
        let r = Tanh::new(1.0, 10).with_after_end(AfterEnd::Restart);
        assert_eq!(r.value(10), r.value(0));
        assert_eq!(r.value(13), r.value(3));
        let _ = r.value(u64::MAX);
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (Tanh::new(-0.1, 10), "`lr`"),
            (Tanh::new(0.1, 0), "`steps`"),
            (Tanh::new(0.1, 10).with_min_lr(f64::NAN), "`min_lr`"),
            (
                Tanh::new(0.1, 10).with_bounds(f64::NEG_INFINITY, 3.0),
                "`lb`",
            ),
            (Tanh::new(0.1, 10).with_bounds(-7.0, f64::NAN), "`ub`"),
            (Tanh::new(0.1, 10).with_bounds(3.0, 3.0), "`ub`"),
            (Tanh::new(0.1, 10).with_bounds(3.0, -7.0), "`ub`"),
        ];
        for (s, key) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
            let _ = s.value(5);
            let _ = s.value(u64::MAX);
        }
        for a in [AfterEnd::Hold, AfterEnd::Continue, AfterEnd::Restart] {
            let _ = Tanh::new(0.1, 0).with_after_end(a).value(3);
        }
    }

    #[test]
    fn serde_round_trip() {
        let s = Tanh::new(0.1, 100)
            .with_min_lr(1e-5)
            .with_bounds(-5.0, 2.0)
            .with_after_end(AfterEnd::Restart);
        round_trips([s.clone(), Tanh::new(0.1, 100)]);
    }
}
