//! `polynomial`: polynomial decay from `lr` to `end_lr`.

use super::declare::family;
use crate::{AfterEnd, Schedule, ScheduleError};

family! {
    /// Polynomial decay over `steps` steps:
    ///
    /// ```text
    /// lr(t) = (lr - end_lr) * (1 - (t / steps)^k_decay)^power + end_lr     for t < steps
    /// lr(t) = end_lr                                                        for t >= steps
    /// ```
    ///
    /// `k_decay` (default 1) is timm's `PolyLRScheduler(k_decay=...)`: a power on the
    /// progress that shapes the decay (timm writes `t^k / steps^k`, equal to rounding).
    ///
    /// This is optax's `polynomial_schedule` and, with `end_lr = 0`, PyTorch's
    /// `PolynomialLR` closed form, in the same order of operations. The value at `steps` is
    /// `end_lr` exactly. `end_lr` may be above `lr` (a polynomial rise).
    ///
    /// Past `steps` the schedule follows `after_end`: `hold` (default) stays at `end_lr`,
    /// `restart` starts over every `steps` steps. `continue` is refused: the polynomial
    /// past its end leaves `[end_lr, lr]` (and is undefined for a fractional `power`).
    ///
    /// `cycle` is Keras' `PolynomialDecay(cycle=True)`: instead of holding, the decay is
    /// stretched over the next multiple of `steps`, `steps * ceil(t / steps)` (`steps` at
    /// `t = 0`), so the value jumps back up just after each multiple of `steps` and decays
    /// to `end_lr` at the next one. It never ends, so a cycling schedule has no length, and
    /// `after_end` must stay at `hold`.
    ///
    /// Config: `{"type": "polynomial", "lr": 0.1, "steps": 1000, "power": 2, "end_lr": 1e-4}`.
    ///
    /// ```
    /// use lrsched::{Polynomial, Schedule};
    /// let s = Polynomial::new(1.0, 10).with_power(2.0);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(5), 0.25);
    /// assert_eq!(s.value(10), 0.0);
    /// assert_eq!(s.value(11), 0.0);
    /// let c = Polynomial::new(1.0, 10).with_cycle(true);
    /// assert_eq!(c.value(10), 0.0);
    /// assert_eq!(c.value(15), 0.25); // (1 - 15/20)
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Polynomial("polynomial") {
        /// The value at step 0; finite (may be <= 0, as optax allows).
        lr: f64, check non_negative;
        /// Steps of decay; >= 1.
        steps: u64, check at_least_one;
        /// The value reached at `steps`; finite, may be <= 0 as optax allows (default 0).
        end_lr: f64 = 0, check rate, with with_end_lr "Ends at `end_lr` instead of 0.";
        /// The power of the remaining fraction; finite and > 0 (default 1, linear).
        power: f64 = 1, check positive,
            with with_power "Raises the remaining fraction to `power`.";
        /// Power applied to the progress `t / steps` (timm's `k_decay`); finite and > 0
        /// (default 1).
        k_decay: f64 = 1, check positive,
            with with_k_decay "Raises the progress to `k_decay` (timm's `k_decay`).";
        /// Keras' `cycle`: stretch the decay to the next multiple of `steps` rather than
        /// hold (default false).
        cycle: bool = false, with with_cycle
            "Stretches the decay to the next multiple of `steps` (Keras' `cycle=True`).";
        /// What happens past `steps`: `hold` (default) or `restart`.
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past `steps`.";
    }
    /// Linear decay from `lr` to 0 over `steps` steps (raise the power with
    /// [`Polynomial::with_power`]).
    pub fn new;
}

/// `(lr - end) * frac^power + end`, optax's and PyTorch's order of operations.
///
/// Shared with [`crate::Linear`] (power 1), as optax's `linear_schedule` is its
/// `polynomial_schedule` with power 1.
pub(crate) fn polynomial_value(lr: f64, end: f64, frac: f64, power: f64) -> f64 {
    // optax's order of operations everywhere but the start, where `(lr - end) + end`
    // can miss `lr` by an ulp: a schedule promises to start exactly where it says.
    if frac == 1.0 {
        return lr;
    }
    (lr - end) * frac.powf(power) + end
}

impl Polynomial {
    /// The value `x` steps into a decay of `len` steps (both may be fractional) from
    /// `peak` to `end_lr`: what [`crate::Cycles`] asks of each cycle.
    pub(crate) fn at(&self, peak: f64, x: f64, len: f64) -> f64 {
        // `powf(1.0)` is the identity, so the default k_decay changes no value. timm's
        // rounding can put `x` a hair past `len` at a cycle's end, where a fractional
        // power of the negative fraction would be NaN: that is the end value.
        let frac = (1.0 - (x / len).powf(self.k_decay)).max(0.0);
        polynomial_value(peak, self.end_lr, frac, self.power)
    }
}

impl Schedule for Polynomial {
    fn value(&self, step: u64) -> f64 {
        if self.cycle {
            let steps = self.steps.max(1) as f64;
            let t = step as f64;
            // Keras: multiplier = 1 at step 0, else ceil(step / decay_steps).
            let multiplier = if step == 0 { 1.0 } else { (t / steps).ceil() };
            let decay_steps = steps * multiplier;
            // Rounding at huge steps could push the fraction a hair below 0, where a
            // fractional power is NaN; for real steps the clamp changes nothing.
            let frac = (1.0 - (t / decay_steps).powf(self.k_decay)).max(0.0);
            return polynomial_value(self.lr, self.end_lr, frac, self.power);
        }
        let t = self.after_end.local_step(step, self.steps);
        if t >= self.steps && self.after_end != AfterEnd::Continue {
            return self.end_lr;
        }
        self.at(self.lr, t as f64, self.steps as f64)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.after_end == AfterEnd::Continue {
            return Err(ScheduleError::invalid(
                "polynomial",
                "after_end",
                "continue",
                "`hold` or `restart` (past `steps` the polynomial leaves [end_lr, lr])",
            ));
        }
        if self.cycle && self.after_end != AfterEnd::Hold {
            return Err(ScheduleError::invalid(
                "polynomial",
                "after_end",
                "restart",
                "`hold` when `cycle` is true (the cycle decides what follows each decay)",
            ));
        }
        Ok(())
    }
    fn len(&self) -> Option<u64> {
        if self.cycle {
            None
        } else {
            Some(self.steps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::round_trips;

    #[test]
    fn k_decay_shapes_the_progress() {
        let s = Polynomial::new(1.0, 100).with_k_decay(2.0);
        assert_eq!(s.value(50), 0.75); // 1 - 0.5^2
        assert_eq!(s.value(100), 0.0);
        let plain = Polynomial::new(1.0, 100).with_power(2.0);
        assert_eq!(plain.clone().with_k_decay(1.0).value(37), plain.value(37));
        assert!(Polynomial::new(1.0, 10)
            .with_k_decay(0.0)
            .validate()
            .is_err());
    }

    #[test]
    fn lands_on_end_exactly_and_holds() {
        for (lr, end, power) in [
            (0.1, 0.0, 1.0),
            (3e-4, 1e-6, 2.0),
            (1.0, 0.3, 0.5),
            (0.1, 0.7, 3.0),
        ] {
            let s = Polynomial::new(lr, 97).with_end_lr(end).with_power(power);
            assert!(s.validate().is_ok());
            // optax's order of operations: exact at the end, within an ulp or two at 0.
            assert!((s.value(0) - lr).abs() <= 1e-15 * lr, "{}", s.value(0));
            assert_eq!(s.value(97), end);
            assert_eq!(s.value(98), end);
            assert_eq!(s.value(u64::MAX), end);
            assert_eq!(s.len(), Some(97));
        }
    }

    #[test]
    fn matches_pytorch_polynomial_lr() {
        // base_lr * (1.0 - min(total_iters, epoch) / total_iters) ** power
        let s = Polynomial::new(0.05, 7).with_power(1.7);
        for t in 0..10u64 {
            let want = 0.05 * (1.0 - t.min(7) as f64 / 7.0).powf(1.7);
            assert_eq!(s.value(t), want, "t={t}");
        }
    }

    #[test]
    fn restart() {
        let s = Polynomial::new(1.0, 10).with_after_end(AfterEnd::Restart);
        assert_eq!(s.value(10), 1.0);
        assert_eq!(s.value(13), s.value(3));
        let _ = s.value(u64::MAX);
    }

    #[test]
    fn cycle_like_keras() {
        let s = Polynomial::new(1.0, 10).with_end_lr(0.1).with_cycle(true);
        assert_eq!(s.len(), None);
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(10), 0.1);
        // Step 11: decay_steps = 20, fraction 9/20.
        assert_eq!(s.value(11), 0.9 * (1.0 - 11.0 / 20.0) + 0.1);
        assert_eq!(s.value(20), 0.1);
        assert_eq!(s.value(30), 0.1);
        let far = s.clone().with_power(0.5).value(u64::MAX);
        assert!(far.is_finite() && far >= 0.1, "{far}");
        for t in [(1u64 << 60) + 1, (1 << 60) + 3, u64::MAX - 1] {
            assert!(s.clone().with_power(0.5).value(t).is_finite());
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (Polynomial::new(f64::INFINITY, 10), "`lr`"),
            (Polynomial::new(f64::NAN, 10), "`lr`"),
            (Polynomial::new(0.1, 0), "`steps`"),
            (Polynomial::new(0.1, 10).with_end_lr(f64::NAN), "`end_lr`"),
            (Polynomial::new(0.1, 10).with_power(0.0), "`power`"),
            (
                Polynomial::new(0.1, 10).with_power(f64::INFINITY),
                "`power`",
            ),
            (
                Polynomial::new(0.1, 10).with_after_end(AfterEnd::Continue),
                "`after_end`",
            ),
            (
                Polynomial::new(0.1, 10)
                    .with_cycle(true)
                    .with_after_end(AfterEnd::Restart),
                "`after_end`",
            ),
        ];
        for (s, key) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
            for t in [0, 5, 10, 11, u64::MAX] {
                let _ = s.value(t);
                let _ = s.clone().with_cycle(true).value(t);
            }
        }
        // Zero steps under every policy: no division panic.
        for a in [AfterEnd::Hold, AfterEnd::Continue, AfterEnd::Restart] {
            let _ = Polynomial::new(0.1, 0).with_after_end(a).value(3);
        }
    }

    #[test]
    fn serde_round_trip() {
        let s = Polynomial::new(0.1, 100)
            .with_end_lr(1e-4)
            .with_power(2.0)
            .with_after_end(AfterEnd::Restart);
        round_trips([s.clone(), Polynomial::new(0.1, 5).with_cycle(true)]);
    }
}
