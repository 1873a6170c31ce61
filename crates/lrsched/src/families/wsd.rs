//! `wsd`: warmup, stable, decay (the "trapezoidal" schedule).

use super::declare::family;
use crate::{check, AfterEnd, Schedule, ScheduleError, WarmupShape};
use std::f64::consts::PI;

/// The shape of a WSD cooldown, as a factor of the progress `p` in `[0, 1)` through it
/// (transformers' `decay_type`, plus `1-square`):
///
/// ```text
/// linear:    1 - p
/// cosine:    0.5 * (1 + cos(pi * p))
/// 1-sqrt:    1 - sqrt(p)
/// 1-square:  1 - p^2
/// ```
///
/// ```
/// use lrsched::{Cooldown, Schedule, Wsd};
/// let s = Wsd::new(1.0, 0, 0, 4).with_cooldown(Cooldown::OneMinusSqrt);
/// assert_eq!(s.value(1), 0.5); // 1 - sqrt(1/4)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Cooldown {
    /// A straight line (the default).
    #[default]
    Linear,
    /// Half a cosine.
    Cosine,
    /// `1 - sqrt(p)`: a fast drop first (Hägele et al. 2024).
    #[cfg_attr(feature = "serde", serde(rename = "1-sqrt", alias = "one_minus_sqrt"))]
    OneMinusSqrt,
    /// `1 - p^2`: a slow drop first.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "1-square", alias = "one_minus_square")
    )]
    OneMinusSquare,
}

impl Cooldown {
    /// `true` for the default (`linear`), so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == Cooldown::Linear
    }

    /// The factor at progress `p` through the cooldown: 1 at `p = 0`, 0 at `p = 1`.
    pub fn factor(self, p: f64) -> f64 {
        match self {
            Cooldown::Linear => 1.0 - p,
            Cooldown::Cosine => 0.5 * (1.0 + (PI * p).cos()),
            Cooldown::OneMinusSqrt => 1.0 - p.max(0.0).sqrt(),
            Cooldown::OneMinusSquare => 1.0 - p * p,
        }
    }
}

family! {
    /// Warmup-stable-decay: a warmup to `lr`, a long plateau at `lr`, then a cooldown to
    /// `min_lr`, as transformers' `get_wsd_schedule`:
    ///
    /// ```text
    /// W = warmup_steps,  S = stable_steps,  D = decay_steps,  start = warmup_start_lr
    /// lr(t) = rise(start, lr, t / W)                                  t < W   (WarmupShape)
    ///       = lr                                                      t < W + S
    ///       = min_lr + (lr - min_lr) * cooldown((t - W - S) / D)      t < W + S + D
    ///       = min_lr                                                  t >= W + S + D
    /// ```
    ///
    /// The parameterisation is three phase lengths in steps (as transformers); a decay
    /// fraction of a total is written with durations in a config (`"decay_steps": "20%"`).
    /// `warmup_start_lr` defaults to `min_lr`, as in transformers, where the warmup factor
    /// starts at `min_lr_ratio`. The value is `min_lr` exactly from step `W + S + D` (the
    /// length) on; past it `after_end` `hold` (default) and `continue` keep `min_lr`,
    /// `restart` starts over.
    ///
    /// Config: `{"type": "wsd", "lr": 0.001, "warmup_steps": 100, "stable_steps": 800,
    /// "decay_steps": 100}` plus optional `min_lr` (0), `warmup_start_lr` (`min_lr`),
    /// `warmup_shape` (`linear`, `cosine`, `exponential`, `1-sqrt`), `cooldown` (`linear`,
    /// `cosine`, `1-sqrt`, `1-square`), `after_end`.
    ///
    /// ```
    /// use lrsched::{Cooldown, Schedule, Wsd};
    /// let s = Wsd::new(1.0, 10, 80, 10).with_cooldown(Cooldown::Cosine);
    /// assert_eq!(s.value(0), 0.0);
    /// assert_eq!(s.value(5), 0.5);
    /// assert_eq!(s.value(10), 1.0);
    /// assert_eq!(s.value(89), 1.0);
    /// assert!((s.value(95) - 0.5).abs() < 1e-15);
    /// assert_eq!(s.value(100), 0.0);
    /// assert_eq!(s.len(), Some(100));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Wsd("wsd") {
        /// The stable (peak) value; finite and >= 0.
        lr: f64, check non_negative;
        /// Steps of warmup (default 0).
        warmup_steps: u64 = 0;
        /// Steps at `lr` after the warmup.
        stable_steps: u64;
        /// Steps of cooldown after the stable phase.
        decay_steps: u64;
        /// The value at the end of the cooldown; finite and >= 0 (default 0).
        min_lr: f64 = 0, check non_negative, with with_min_lr
            "Cools down to `min_lr` instead of 0 (and warms up from it unless\n`warmup_start_lr` is set).";
        /// The value at step 0; finite and >= 0, > 0 for an exponential warmup; `None`
        /// (default) is `min_lr`.
        warmup_start_lr: Option<f64> = none,
            with_some with_warmup_start_lr(f64) "Starts the warmup at `start`.";
        /// The curve of the warmup (default `linear`).
        warmup_shape: WarmupShape = {WarmupShape::Linear} "linear",
            with with_warmup_shape "Sets the curve of the warmup.";
        /// The curve of the cooldown (default `linear`).
        cooldown: Cooldown = {Cooldown::Linear} "linear",
            with with_cooldown "Sets the curve of the cooldown.";
        /// What happens past the cooldown (default `hold`).
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past the cooldown.";
    }
    /// `lr`, `stable_steps` and `decay_steps`, no warmup, the rest at defaults.
    fn declared;
}

impl Wsd {
    /// Linear warmup from 0 to `lr`, `stable_steps` at `lr`, linear cooldown to 0.
    pub fn new(lr: f64, warmup_steps: u64, stable_steps: u64, decay_steps: u64) -> Self {
        Wsd {
            warmup_steps,
            ..Self::declared(lr, stable_steps, decay_steps)
        }
    }

    fn total(&self) -> u64 {
        self.warmup_steps
            .saturating_add(self.stable_steps)
            .saturating_add(self.decay_steps)
    }
}

impl Schedule for Wsd {
    fn value(&self, step: u64) -> f64 {
        let total = self.total();
        let t = self.after_end.local_step(step, total);
        if t >= total {
            return self.min_lr;
        }
        if t < self.warmup_steps {
            let start = self.warmup_start_lr.unwrap_or(self.min_lr);
            let p = t as f64 / self.warmup_steps as f64;
            return self.warmup_shape.rise(start, self.lr, p);
        }
        let into_decay = t - self.warmup_steps;
        if into_decay < self.stable_steps {
            return self.lr;
        }
        let p = (into_decay - self.stable_steps) as f64 / self.decay_steps as f64;
        self.min_lr + (self.lr - self.min_lr) * self.cooldown.factor(p)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        const NAME: &str = "wsd";
        self.declared_checks()?;
        let start = self.warmup_start_lr.unwrap_or(self.min_lr);
        let key = if self.warmup_start_lr.is_some() {
            "warmup_start_lr"
        } else {
            "min_lr"
        };
        if self.warmup_shape == WarmupShape::Exponential && self.warmup_steps > 0 {
            if !(start.is_finite() && start > 0.0) {
                return Err(ScheduleError::invalid(
                    NAME,
                    key,
                    check::fmt(start),
                    "a finite number > 0 (an exponential warmup starts there)",
                ));
            }
        } else {
            check::non_negative(NAME, key, start)?;
        }
        Ok(())
    }
    fn len(&self) -> Option<u64> {
        Some(self.total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// transformers' `_get_wsd_scheduler_lambda` times `lr`.
    fn transformers(lr: f64, w: u64, s: u64, d: u64, ratio: f64, kind: Cooldown, t: u64) -> f64 {
        let f = if t < w {
            let p = t as f64 / w.max(1) as f64;
            p * (1.0 - ratio) + ratio
        } else if t < w + s {
            1.0
        } else if t < w + s + d {
            let p = (t - w - s) as f64 / d.max(1) as f64;
            let f = match kind {
                Cooldown::Linear => 1.0 - p,
                Cooldown::Cosine => 0.5 * (1.0 + (PI * p).cos()),
                Cooldown::OneMinusSqrt => 1.0 - p.sqrt(),
                Cooldown::OneMinusSquare => 1.0 - p * p,
            };
            (f * (1.0 - ratio) + ratio).max(0.0)
        } else {
            ratio
        };
        lr * f
    }

    #[test]
    fn matches_transformers() {
        for kind in [
            Cooldown::Linear,
            Cooldown::Cosine,
            Cooldown::OneMinusSqrt,
            Cooldown::OneMinusSquare,
        ] {
            for ratio in [0.0, 0.1] {
                let lr = 3e-4;
                let s = Wsd::new(lr, 7, 20, 13)
                    .with_min_lr(lr * ratio)
                    .with_cooldown(kind);
                assert!(s.validate().is_ok());
                for t in 0..45 {
                    let want = transformers(lr, 7, 20, 13, ratio, kind, t);
                    let got = s.value(t);
                    assert!(
                        (got - want).abs() <= 1e-15 * lr,
                        "{kind:?} t={t} {got} {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn exact_ends_and_monotone_cooldown() {
        for kind in [
            Cooldown::Linear,
            Cooldown::Cosine,
            Cooldown::OneMinusSqrt,
            Cooldown::OneMinusSquare,
        ] {
            let s = Wsd::new(0.7, 3, 5, 11)
                .with_min_lr(0.07)
                .with_cooldown(kind);
            assert_eq!(s.value(0), 0.07);
            assert_eq!(s.value(3), 0.7);
            assert_eq!(s.value(8), 0.7);
            for t in [19, 20, u64::MAX] {
                assert_eq!(s.value(t), 0.07);
            }
            let v = s.values(8..20);
            assert!(v.windows(2).all(|w| w[1] < w[0]), "{kind:?} {v:?}");
        }
    }

    #[test]
    fn warmup_shapes_and_start() {
        let s = Wsd::new(1.0, 4, 0, 4)
            .with_warmup_start_lr(0.01)
            .with_warmup_shape(WarmupShape::Exponential);
        assert_eq!(s.value(0), 0.01);
        assert!((s.value(2) - 0.1).abs() < 1e-15);
        assert_eq!(s.value(4), 1.0);
        let e = Wsd::new(1.0, 4, 0, 4).with_warmup_shape(WarmupShape::Exponential);
        assert!(e.validate().unwrap_err().to_string().contains("`min_lr`"));
        assert!(e.values(0..10).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn empty_phases_and_after_end() {
        let s = Wsd::new(1.0, 0, 0, 0);
        assert_eq!(s.value(0), 0.0);
        assert_eq!(s.len(), Some(0));
        let s = Wsd::new(1.0, 0, 3, 0).with_min_lr(0.5);
        assert_eq!(s.values(0..5), [1.0, 1.0, 1.0, 0.5, 0.5]);
        let r = Wsd::new(1.0, 2, 2, 2).with_after_end(AfterEnd::Restart);
        assert_eq!(r.value(6), 0.0);
        assert_eq!(r.value(9), r.value(3));
        let c = Wsd::new(1.0, 2, 2, 2).with_after_end(AfterEnd::Continue);
        assert_eq!(c.value(6), 0.0);
        assert_eq!(c.value(u64::MAX), 0.0);
        let huge = Wsd::new(1.0, u64::MAX, u64::MAX, u64::MAX);
        assert_eq!(huge.len(), Some(u64::MAX));
        assert!(huge.value(u64::MAX - 1).is_finite());
    }

    #[test]
    fn rejects_bad_parameters() {
        let msg = |s: Wsd| s.validate().unwrap_err().to_string();
        assert!(msg(Wsd::new(-1.0, 1, 1, 1)).contains("`lr`"));
        assert!(msg(Wsd::new(1.0, 1, 1, 1).with_min_lr(f64::NAN)).contains("`min_lr`"));
        assert!(
            msg(Wsd::new(1.0, 1, 1, 1).with_warmup_start_lr(-1.0)).contains("`warmup_start_lr`")
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::AnySchedule;
        for s in [
            Wsd::new(1e-3, 100, 800, 100),
            Wsd::new(1e-3, 0, 800, 100)
                .with_min_lr(1e-5)
                .with_warmup_start_lr(1e-6)
                .with_warmup_shape(WarmupShape::OneMinusSqrt)
                .with_cooldown(Cooldown::OneMinusSquare)
                .with_after_end(AfterEnd::Restart),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(s), "{v}");
        }
        let s = crate::config::from_value(serde_json::json!({"type": "wsd", "lr": 1.0,
            "stable_steps": 0, "decay_steps": 4, "cooldown": "1-sqrt"}))
        .unwrap();
        assert_eq!(s.value(1), 0.5);
    }
}
