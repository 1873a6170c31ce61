//! `cosine`: half a cosine from `lr` down to `min_lr`.

use super::decay::decay;
use super::declare::family;
use crate::{AfterEnd, Schedule, ScheduleError};
use std::f64::consts::PI;

family! {
    /// Cosine decay over `steps` steps, with optax's exponent and timm's k-decay:
    ///
    /// ```text
    /// p(t)  = (t / steps)^k_decay
    /// lr(t) = min_lr + (lr - min_lr) * (0.5 * (1 + cos(pi * num_cycles * 2 * p(t))))^exponent   for t < steps
    /// lr(t) = min_lr                                                                            for t >= steps
    /// ```
    ///
    /// `num_cycles` is transformers' argument of that name: the number of whole cosine waves
    /// over `steps`; the default 0.5 is the half cosine from `lr` down to `min_lr` (and
    /// `pi * 0.5 * 2 * p` is `pi * p` exactly, so the default changes no value). Another
    /// number of cycles only makes sense with `after_end = continue` (transformers'
    /// `get_cosine_schedule_with_warmup(num_cycles=...)`): under `hold` the value from
    /// `steps` on is still `min_lr`.
    ///
    /// With `exponent = k_decay = 1` this is PyTorch's `CosineAnnealingLR` closed form. The
    /// last value is `min_lr` exactly. Past `steps` the schedule follows `after_end`:
    /// `hold` (default) stays at `min_lr`, `continue` keeps the cosine (it rises again, as
    /// PyTorch's closed form does), `restart` starts over (a warm restart with a fixed period).
    ///
    /// ```
    /// use lrsched::{Cosine, Schedule};
    /// let s = Cosine::new(1.0, 100).with_min_lr(0.1);
    /// assert_eq!(s.value(0), 1.0);
    /// assert!((s.value(50) - 0.55).abs() < 1e-15);
    /// assert_eq!(s.value(100), 0.1);
    /// assert_eq!(s.value(500), 0.1);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Cosine("cosine") {
        /// The starting (peak) value; finite (may be <= 0, as optax allows).
        lr: f64, check non_negative;
        /// Steps of decay; >= 1.
        steps: u64, check at_least_one;
        /// The value reached at `steps`; finite, may be <= 0 as optax allows (default 0).
        min_lr: f64 = 0, check rate, with with_min_lr "Ends at `min_lr` instead of 0.";
        /// Power applied to the cosine factor (optax's `exponent`); > 0 (default 1).
        exponent: f64 = 1, check positive,
            with with_exponent "Raises the cosine factor to `exponent`.";
        /// Power applied to the progress (timm's `k_decay`); > 0 (default 1).
        k_decay: f64 = 1, check positive, with with_k_decay "Raises the progress to `k_decay`.";
        /// Whole cosine waves over `steps` (transformers' `num_cycles`); finite and > 0
        /// (default 0.5, the half cosine).
        num_cycles: f64 = 0.5, check positive, with with_num_cycles
            "Sets the number of whole cosine waves over `steps` (transformers' `num_cycles`).";
        /// What happens past `steps` (default `hold`).
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past `steps`.";
    }
    /// Cosine decay from `lr` to 0 over `steps` steps.
    pub fn new;
}

impl Cosine {
    /// The value `x` steps into a decay of `len` steps (both may be fractional) from
    /// `peak` to `min_lr`: what [`crate::Cycles`] asks of each cycle.
    pub(crate) fn at(&self, peak: f64, x: f64, len: f64) -> f64 {
        let p = (x / len).powf(self.k_decay);
        // transformers' order of operations: math.pi * num_cycles * 2.0 * progress.
        let factor = 0.5 * (1.0 + (PI * self.num_cycles * 2.0 * p).cos());
        self.min_lr + (peak - self.min_lr) * factor.powf(self.exponent)
    }
}

impl Schedule for Cosine {
    fn value(&self, step: u64) -> f64 {
        decay(self.after_end, self.steps, step, self.min_lr, |t| {
            self.at(self.lr, t as f64, self.steps as f64)
        })
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }
    fn len(&self) -> Option<u64> {
        Some(self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lands_on_min_exactly_and_holds() {
        for (lr, min, exp, k) in [
            (0.1, 0.0, 1.0, 1.0),
            (3e-4, 1e-6, 2.0, 0.5),
            (1.0, 0.3, 1.0, 3.0),
        ] {
            let s = Cosine::new(lr, 97)
                .with_min_lr(min)
                .with_exponent(exp)
                .with_k_decay(k);
            assert_eq!(s.value(0), lr);
            assert_eq!(s.value(97), min);
            assert_eq!(s.value(u64::MAX), min);
            let v = s.values(0..98);
            assert!(v.windows(2).all(|w| w[1] <= w[0]), "monotone {v:?}");
        }
    }

    #[test]
    fn continue_and_restart() {
        let c = Cosine::new(1.0, 10).with_after_end(AfterEnd::Continue);
        assert!((c.value(20) - 1.0).abs() < 1e-15);
        let r = Cosine::new(1.0, 10).with_after_end(AfterEnd::Restart);
        assert_eq!(r.value(10), 1.0);
        assert_eq!(r.value(13), r.value(3));
    }

    #[test]
    fn num_cycles_is_transformers_waves() {
        let half = Cosine::new(1.0, 10).with_after_end(AfterEnd::Continue);
        let same = half.clone().with_num_cycles(0.5);
        for t in 0..30 {
            assert_eq!(half.value(t), same.value(t));
        }
        // One whole wave: down at steps / 2, back up at steps.
        let one = Cosine::new(1.0, 10)
            .with_num_cycles(1.0)
            .with_after_end(AfterEnd::Continue);
        assert_eq!(one.value(5), 0.0);
        assert!((one.value(10) - 1.0).abs() < 1e-15);
        assert_eq!(one.clone().with_after_end(AfterEnd::Hold).value(10), 0.0);
        assert!(Cosine::new(1.0, 10)
            .with_num_cycles(0.0)
            .validate()
            .is_err());
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Cosine::new(0.1, 0).validate().is_err());
        assert!(Cosine::new(0.1, 10).with_exponent(0.0).validate().is_err());
        assert!(Cosine::new(0.1, 10)
            .with_min_lr(f64::NAN)
            .validate()
            .is_err());
    }
}
