//! `warm_restarts`: cosine annealing with warm restarts (SGDR).

use super::declare::family;
use crate::{AfterEnd, Schedule, ScheduleError};
use std::f64::consts::PI;

family! {
    /// Cosine annealing with warm restarts (Loshchilov & Hutter, SGDR): PyTorch's
    /// `CosineAnnealingWarmRestarts` closed form, with timm's float `cycle_mul`,
    /// `cycle_decay` and `cycle_limit`.
    ///
    /// With `T0 = period` and `m = period_mult`, cycle `n` (from 0) starts at
    ///
    /// ```text
    /// B(n) = n * T0                          if m == 1
    ///      = T0 * (m^n - 1) / (m - 1)        otherwise
    /// ```
    ///
    /// and lasts `T_i = T0 * m^n` steps. For step `t` in cycle `n`, `T_cur = t - B(n)` and
    ///
    /// ```text
    /// peak  = lr * peak_decay^n                               (default)
    /// peak  = min_lr + (lr - min_lr) * peak_decay^n            (decay_height = true)
    /// lr(t) = min_lr + (peak - min_lr) * (1 + cos(pi * T_cur / T_i)) / 2
    /// ```
    ///
    /// By default `peak_decay` scales the peak, as timm's `cycle_decay` does; with
    /// `decay_height` it scales the height above `min_lr`, as Keras' `CosineDecayRestarts`
    /// `m_mul` does (the two agree when `min_lr` is 0).
    ///
    /// The cycle is found in O(1) from `n = floor(log_m(t / T0 * (m - 1) + 1))`, as PyTorch
    /// does, then checked against `B(n)` and `B(n + 1)` and moved by one where rounding put
    /// it on the wrong side of a boundary, so a restart lands exactly on its step (PyTorch's
    /// own `int(math.log(...))` can miss by one there). `period_mult` may be any float of
    /// at least 1 (PyTorch takes integers only); with a fractional one, cycles start at
    /// `ceil(B(n))`.
    ///
    /// Without `cycle_limit` the schedule has no length. With one, its length is
    /// `ceil(B(cycle_limit))` and past it `after_end` applies: `hold` (default) keeps
    /// `min_lr` exactly (as timm), `continue` ignores the limit, `restart` starts over from
    /// the first cycle.
    ///
    /// Config: `{"type": "warm_restarts", "lr": 0.1, "period": 10}` plus optional `min_lr`
    /// (0), `period_mult` (1), `peak_decay` (1), `cycle_limit`, `after_end`.
    ///
    /// ```
    /// use lrsched::{Schedule, WarmRestarts};
    /// let s = WarmRestarts::new(1.0, 10).with_period_mult(2.0);
    /// assert_eq!(s.value(0), 1.0);
    /// assert!((s.value(5) - 0.5).abs() < 1e-15);
    /// assert_eq!(s.value(10), 1.0); // restart; the next cycle is 20 steps
    /// assert_eq!(s.value(30), 1.0); // and the next 40
    /// assert_eq!(s.value(10 * ((1 << 40) - 1)), 1.0); // cycle 40 starts exactly here
    ///
    /// let limited = WarmRestarts::new(1.0, 10).with_peak_decay(0.5).with_cycle_limit(2);
    /// assert_eq!(limited.value(10), 0.5);
    /// assert_eq!(limited.len(), Some(20));
    /// assert_eq!(limited.value(20), 0.0);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct WarmRestarts("warm_restarts") {
        /// The peak of the first cycle; finite and >= 0.
        lr: f64, check non_negative;
        /// The value each cycle anneals towards (PyTorch's `eta_min`); finite and >= 0
        /// (default 0).
        min_lr: f64 = 0, check non_negative,
            with with_min_lr "Anneals towards `min_lr` instead of 0.";
        /// Steps in the first cycle (PyTorch's `T_0`); >= 1.
        period: u64, check at_least_one;
        /// Growth of the cycle length per restart (PyTorch's `T_mult`, timm's `cycle_mul`);
        /// finite and >= 1 (default 1).
        period_mult: f64 = 1, check at_least(1.0),
            with with_period_mult "Multiplies the cycle length by `period_mult` at each restart.";
        /// Factor on the peak per restart (timm's `cycle_decay`); in (0, 1] (default 1).
        peak_decay: f64 = 1, check in_half_open(0.0, 1.0),
            with with_peak_decay "Multiplies the peak by `peak_decay` at each restart.";
        /// Number of cycles before the schedule ends (timm's `cycle_limit`); >= 1; none by
        /// default.
        cycle_limit: Option<u64> = none, check_some at_least_one,
            with_some with_cycle_limit(u64) "Ends after `cycle_limit` cycles.";
        /// `peak_decay` scales the height above `min_lr` rather than the peak (Keras'
        /// `m_mul`); default false.
        decay_height: bool = false, with with_decay_height
            "Makes `peak_decay` scale the height above `min_lr` (Keras' `m_mul`).";
        /// What happens after `cycle_limit` cycles (default `hold`).
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy after the last cycle.";
    }
    /// Cosine from `lr` to 0 restarting every `period` steps.
    pub fn new;
}

impl WarmRestarts {
    /// Whether the cycles grow; an invalid multiplier (< 1, NaN) counts as 1 so that
    /// `value` stays total.
    fn grows(&self) -> bool {
        self.period_mult.is_finite() && self.period_mult > 1.0
    }

    /// `B(n)`: where cycle `n` starts, as PyTorch computes it.
    fn boundary(&self, n: f64) -> f64 {
        let m = self.period_mult;
        self.period as f64 * (m.powf(n) - 1.0) / (m - 1.0)
    }

    /// `(n, T_cur, T_i)` for step `t`: its cycle, the steps into it and its length.
    pub(crate) fn locate(&self, t: u64) -> (f64, f64, f64) {
        let t0 = self.period as f64;
        if self.period == 0 {
            return (0.0, 0.0, 1.0);
        }
        if t < self.period {
            return (0.0, t as f64, t0);
        }
        if !self.grows() {
            return ((t / self.period) as f64, (t % self.period) as f64, t0);
        }
        let m = self.period_mult;
        let tf = t as f64;
        let mut n = ((tf / t0 * (m - 1.0)).ln_1p() / (m - 1.0).ln_1p()).floor();
        if !n.is_finite() || n < 0.0 {
            n = 0.0;
        }
        // The log is only right to rounding: settle n against the boundaries themselves,
        // which need at most a step or two.
        for _ in 0..4 {
            if n > 0.0 && self.boundary(n) > tf {
                n -= 1.0;
            } else if self.boundary(n + 1.0) <= tf {
                n += 1.0;
            } else {
                break;
            }
        }
        let t_cur = tf - self.boundary(n);
        let t_i = t0 * m.powf(n);
        (n, t_cur, t_i)
    }

    /// The length of `cycles` cycles, saturating.
    fn cycles_len(&self, cycles: u64) -> u64 {
        if self.grows() {
            let b = self.boundary(cycles as f64).ceil();
            if b.is_nan() {
                0
            } else {
                // `as` saturates at u64::MAX for huge and infinite lengths.
                b as u64
            }
        } else {
            self.period.saturating_mul(cycles)
        }
    }
}

impl Schedule for WarmRestarts {
    fn value(&self, step: u64) -> f64 {
        let t = match (self.cycle_limit, self.after_end) {
            (Some(limit), AfterEnd::Hold) => {
                if step >= self.cycles_len(limit) {
                    return self.min_lr;
                }
                step
            }
            (Some(limit), AfterEnd::Restart) => {
                AfterEnd::Restart.local_step(step, self.cycles_len(limit))
            }
            _ => step,
        };
        let (n, t_cur, t_i) = self.locate(t);
        let peak = if self.decay_height {
            self.min_lr + (self.lr - self.min_lr) * self.peak_decay.powf(n)
        } else {
            self.lr * self.peak_decay.powf(n)
        };
        self.min_lr + (peak - self.min_lr) * (1.0 + (PI * t_cur / t_i).cos()) / 2.0
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }
    fn len(&self) -> Option<u64> {
        self.cycle_limit.map(|c| self.cycles_len(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cycle of `t` by walking the boundaries one by one.
    fn brute_cycle(s: &WarmRestarts, t: u64) -> f64 {
        let mut n = 0.0;
        while s.boundary(n + 1.0) <= t as f64 {
            n += 1.0;
        }
        n
    }

    #[test]
    fn fixed_period_is_pytorch() {
        let s = WarmRestarts::new(0.1, 7).with_min_lr(0.001);
        for t in 0..50u64 {
            let t_cur = (t % 7) as f64;
            let want = 0.001 + (0.1 - 0.001) * (1.0 + (PI * t_cur / 7.0).cos()) / 2.0;
            assert_eq!(s.value(t), want, "t={t}");
        }
        assert!(s.value(u64::MAX).is_finite());
        assert_eq!(s.len(), None);
    }

    #[test]
    fn integer_mult_restarts_exactly_at_every_boundary() {
        for (t0, m) in [(10u64, 2.0), (1, 2.0), (3, 3.0), (5, 10.0)] {
            let s = WarmRestarts::new(1.0, t0).with_period_mult(m);
            let mut start = 0u64;
            let mut len = t0;
            for n in 0..30 {
                let (cn, t_cur, t_i) = s.locate(start);
                assert_eq!(
                    (cn, t_cur, t_i),
                    (n as f64, 0.0, len as f64),
                    "t0={t0} m={m}"
                );
                assert_eq!(s.value(start), 1.0);
                if start > 0 {
                    let (pn, pcur, _) = s.locate(start - 1);
                    assert_eq!(pn, n as f64 - 1.0);
                    assert_eq!(pcur, (len / m as u64 - 1) as f64);
                }
                let Some(next) = start.checked_add(len) else {
                    break;
                };
                if next > 1 << 52 {
                    break;
                }
                start = next;
                len *= m as u64;
            }
        }
    }

    #[test]
    fn float_mult_matches_walking_the_boundaries() {
        for m in [1.5, 1.1, 1.000_001, 2.5] {
            let s = WarmRestarts::new(1.0, 13).with_period_mult(m);
            for t in (0..5000u64).chain([12, 13, 14, 33, 34, 1_000_000, 1_000_000_000]) {
                if m < 1.01 && t > 1_000_000 {
                    continue; // the brute walk would take too long; checked below
                }
                let (n, t_cur, t_i) = s.locate(t);
                assert_eq!(n, brute_cycle(&s, t), "m={m} t={t}");
                assert!(t_cur >= 0.0 && t_cur < t_i, "m={m} t={t}");
            }
        }
        // Far out with a multiplier close to 1: still O(1), in range, no panic.
        let s = WarmRestarts::new(1.0, 13).with_period_mult(1.000_001);
        for t in [1_000_000_000, u64::MAX / 2, u64::MAX] {
            let (n, t_cur, t_i) = s.locate(t);
            assert!(
                n.is_finite() && t_cur >= 0.0 && t_cur < t_i,
                "{t} {n} {t_cur} {t_i}"
            );
            let v = s.value(t);
            assert!((0.0..=1.0).contains(&v));
        }
    }

    #[test]
    fn peak_decay_and_cycle_limit() {
        let s = WarmRestarts::new(1.0, 10)
            .with_period_mult(2.0)
            .with_peak_decay(0.5)
            .with_min_lr(0.0)
            .with_cycle_limit(3);
        assert_eq!(s.value(10), 0.5);
        assert_eq!(s.value(30), 0.25);
        assert_eq!(s.len(), Some(70));
        assert!(s.value(69) > 0.0);
        for t in [70, 71, u64::MAX] {
            assert_eq!(s.value(t), 0.0);
        }
        let r = s.clone().with_after_end(AfterEnd::Restart);
        assert_eq!(r.value(70), 1.0);
        assert_eq!(r.value(80), 0.5);
        let c = s.with_after_end(AfterEnd::Continue);
        assert_eq!(c.value(70), 0.125);
        let f = WarmRestarts::new(1.0, 10)
            .with_period_mult(1.5)
            .with_cycle_limit(2)
            .with_min_lr(0.2);
        assert_eq!(f.len(), Some(25));
        assert!(f.value(24) > 0.2);
        assert_eq!(f.value(25), 0.2);
    }

    #[test]
    fn decay_height_scales_the_height_above_min() {
        let s = WarmRestarts::new(1.0, 10)
            .with_min_lr(0.2)
            .with_peak_decay(0.5)
            .with_decay_height(true);
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(10), 0.2 + 0.8 * 0.5);
        assert_eq!(s.value(20), 0.2 + 0.8 * 0.25);
        let timm = s.clone().with_decay_height(false);
        assert_eq!(timm.value(10), 0.5);
        let zero_min = WarmRestarts::new(1.0, 10).with_peak_decay(0.5);
        assert_eq!(
            zero_min.clone().with_decay_height(true).value(13),
            zero_min.value(13)
        );
    }

    #[test]
    fn rejects_bad_parameters_and_never_panics() {
        let msg = |s: WarmRestarts| s.validate().unwrap_err().to_string();
        assert!(msg(WarmRestarts::new(1.0, 0)).contains("`period`"));
        assert!(msg(WarmRestarts::new(-1.0, 5)).contains("`lr`"));
        assert!(msg(WarmRestarts::new(1.0, 5).with_min_lr(f64::NAN)).contains("`min_lr`"));
        assert!(msg(WarmRestarts::new(1.0, 5).with_period_mult(0.5)).contains("`period_mult`"));
        assert!(
            msg(WarmRestarts::new(1.0, 5).with_period_mult(f64::INFINITY))
                .contains("`period_mult`")
        );
        assert!(msg(WarmRestarts::new(1.0, 5).with_peak_decay(1.5)).contains("`peak_decay`"));
        assert!(msg(WarmRestarts::new(1.0, 5).with_cycle_limit(0)).contains("`cycle_limit`"));
        for s in [
            WarmRestarts::new(1.0, 0),
            WarmRestarts::new(1.0, 0).with_cycle_limit(0),
            WarmRestarts::new(1.0, 5).with_period_mult(f64::NAN),
            WarmRestarts::new(1.0, 5)
                .with_period_mult(1e300)
                .with_cycle_limit(9),
            WarmRestarts::new(1.0, 5)
                .with_cycle_limit(0)
                .with_after_end(AfterEnd::Restart),
        ] {
            for t in [0, 1, 5, 6, 1_000_000_000, u64::MAX] {
                let _ = s.value(t);
                let _ = s.len();
            }
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::AnySchedule;
        for s in [
            WarmRestarts::new(0.1, 10),
            WarmRestarts::new(0.1, 10)
                .with_min_lr(1e-5)
                .with_period_mult(1.5)
                .with_peak_decay(0.9)
                .with_cycle_limit(4)
                .with_after_end(AfterEnd::Restart),
            WarmRestarts::new(0.1, 10)
                .with_min_lr(0.01)
                .with_peak_decay(0.5)
                .with_decay_height(true),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(s), "{v}");
        }
    }
}
