//! `cycles`: a decay repeated in cycles that grow and shrink by float factors (timm's
//! `cycle_mul`, `cycle_decay`, `cycle_limit`).

use crate::combinators::one_child::{one_child, OneChild};
use crate::families::declare::family;
use crate::join::in_child;
use crate::{AnySchedule, Schedule, ScheduleError};

family! {
    /// A `cosine`, `tanh` or `polynomial` decay run in cycles, as timm's
    /// `CosineLRScheduler`, `TanhLRScheduler` and `PolyLRScheduler` run them.
    ///
    /// With `T0` the inner decay's `steps`, `m = cycle_mul`, `d = cycle_decay`, at step `t`
    /// (timm's own arithmetic, in floats):
    ///
    /// ```text
    /// m == 1:  i = t div T0,   T_i = T0,          t_cur = t - T0 * i
    /// m != 1:  i = floor(ln(1 - t / T0 * (1 - m)) / ln(m))
    ///          T_i = m^i * T0, t_cur = t - (1 - m^i) / (1 - m) * T0
    /// lr(t) = decay(peak = lr * d^i, t_cur steps into T_i steps)     if i < cycle_limit
    ///       = the decay's end value (min_lr, end_lr)                  otherwise
    /// ```
    ///
    /// So a cycle may start and last a fractional number of steps (`m = 1.5`: cycles of 10,
    /// 15, 22.5, ... steps starting at 0, 10, 25, 47.5, ...). The cycle index comes from the
    /// same `floor(log)` timm computes, rounding included: where that lands one cycle early
    /// exactly on a boundary (for `m = 3`, the start of cycle 5), the value is the end of the
    /// earlier cycle, as in timm. A `cycle_mul` below 1 makes the cycles shrink towards step
    /// `T0 / (1 - m)`, past which timm's `log` has no value (it raises): there, as past
    /// `cycle_limit`, the value is the end value. O(1) at any step.
    ///
    /// `len()` is the first step of cycle `cycle_limit` (none without a limit).
    ///
    /// Config: `{"type": "cycles", "schedule": {"type": "cosine", "lr": 0.1, "steps": 10},
    /// "cycle_mul": 1.5}` plus optional `cycle_decay` (1) and `cycle_limit` (none). Only the
    /// inner decay's shape parameters are read (its `after_end` is not used).
    ///
    /// ```
    /// use lrsched::{Cosine, Cycles, Schedule};
    /// let s = Cycles::new(Cosine::new(1.0, 10))
    ///     .with_cycle_mul(1.5)
    ///     .with_cycle_decay(0.5)
    ///     .with_cycle_limit(3);
    /// assert_eq!(s.value(0), 1.0);
    /// assert_eq!(s.value(10), 0.5); // cycle 1: 15 steps from step 10
    /// assert!((s.value(25) - 0.25).abs() < 1e-15); // cycle 2: 22.5 steps from step 25
    /// assert!(s.value(26) < 0.25);
    /// assert_eq!(s.len(), Some(48)); // cycle 3 would start at 47.5
    /// assert_eq!(s.value(48), 0.0);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Cycles("cycles") {
        /// The first cycle: a `cosine`, `tanh` or `polynomial` (not `cycle`) decay; its
        /// `steps` is timm's `t_initial`, its `lr` the first peak.
        schedule: child;
        /// Factor on the cycle length per cycle (timm's `cycle_mul`); finite and > 0
        /// (default 1).
        cycle_mul: f64 = 1, check positive,
            with with_cycle_mul "Multiplies the cycle length by `cycle_mul` at each restart.";
        /// Factor on the peak per cycle (timm's `cycle_decay`); finite and >= 0 (default 1).
        cycle_decay: f64 = 1, check non_negative,
            with with_cycle_decay "Multiplies the peak by `cycle_decay` at each restart.";
        /// Number of cycles before the end value holds (timm's `cycle_limit`); >= 1; none
        /// (for ever) by default.
        cycle_limit: Option<u64> = none, check_some at_least_one,
            with_some with_cycle_limit(u64) "Holds the end value from cycle `cycle_limit` on.";
    }
    /// `schedule` restarted every `schedule.len()` steps for ever (add a factor with
    /// [`Cycles::with_cycle_mul`]).
    pub fn new;
}

impl Cycles {
    /// `(steps, peak, end value)` of the inner decay; `None` for another family.
    fn shape(&self) -> Option<(u64, f64, f64)> {
        match &*self.schedule {
            AnySchedule::Cosine(c) => Some((c.steps, c.lr, c.min_lr)),
            AnySchedule::Tanh(c) => Some((c.steps, c.lr, c.min_lr)),
            AnySchedule::Polynomial(c) if !c.cycle => Some((c.steps, c.lr, c.end_lr)),
            _ => None,
        }
    }

    /// `(i, T_i, t_cur)` at step `t` as timm computes them; `i` is infinite or NaN past
    /// the end of shrinking cycles.
    fn locate(&self, t: u64, steps: u64) -> (f64, f64, f64) {
        let t0 = steps as f64;
        let m = self.cycle_mul;
        if m == 1.0 {
            return ((t / steps) as f64, t0, (t % steps) as f64);
        }
        // timm: math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul)),
        // and Python's two-argument log is log(x) / log(base): the same libm calls, in
        // the same order, so the same cycle at every step, boundaries included.
        let tf = t as f64;
        let i = ((1.0 - tf / t0 * (1.0 - m)).ln() / m.ln()).floor();
        let mi = m.powf(i);
        (i, mi * t0, tf - (1.0 - mi) / (1.0 - m) * t0)
    }

    /// Whether step `t` is past `cycle_limit` cycles (or past shrinking cycles' end).
    fn ended(&self, i: f64) -> bool {
        !i.is_finite() || self.cycle_limit.is_some_and(|l| i >= l as f64)
    }
}

impl OneChild for Cycles {
    const NAME: &'static str = "cycles";

    fn wrap_value(&self, _child: &AnySchedule, step: u64) -> f64 {
        let Some((steps, lr, end)) = self.shape() else {
            // Invalid (validate says so): read the inner schedule as it is.
            return self.schedule.value(step);
        };
        if steps == 0 {
            return end;
        }
        let (i, t_i, t_cur) = self.locate(step, steps);
        if self.ended(i) {
            return end;
        }
        let peak = lr * self.cycle_decay.powf(i);
        match &*self.schedule {
            AnySchedule::Cosine(c) => c.at(peak, t_cur, t_i),
            AnySchedule::Tanh(c) => c.at(peak, t_cur, t_i),
            AnySchedule::Polynomial(c) => c.at(peak, t_cur, t_i),
            _ => end,
        }
    }

    fn wrap_validate(&self, _child: &AnySchedule) -> Result<(), ScheduleError> {
        const NAME: &str = "cycles";
        if self.shape().is_none() {
            return Err(ScheduleError::invalid(
                NAME,
                "schedule",
                self.schedule.type_name(),
                "a cosine, tanh or polynomial (without cycle) decay",
            ));
        }
        in_child(NAME, "schedule", self.schedule.validate())?;
        self.declared_checks()
    }

    fn wrap_len(&self, _child: &AnySchedule) -> Option<u64> {
        let limit = self.cycle_limit?;
        let (steps, _, _) = self.shape()?;
        if steps == 0 {
            return Some(0);
        }
        let m = self.cycle_mul;
        if m == 1.0 {
            return Some(steps.saturating_mul(limit));
        }
        // `ceil(B(limit))` is within a step of the first step timm's floor(log) puts in
        // cycle `limit`; nudge it until the two agree (bounded: no search).
        let b = (steps as f64 * (1.0 - m.powf(limit as f64)) / (1.0 - m)).ceil();
        if b.is_nan() {
            return Some(u64::MAX);
        }
        // `as` saturates at u64::MAX for huge and infinite lengths.
        let mut t = b as u64;
        for _ in 0..4 {
            if t < u64::MAX && !self.ended(self.locate(t, steps).0) {
                t += 1;
            }
        }
        for _ in 0..4 {
            if t > 0 && self.ended(self.locate(t - 1, steps).0) {
                t -= 1;
            }
        }
        Some(t)
    }
}

one_child!(Cycles);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, Polynomial, Tanh};

    /// timm's `_get_lr` for a cosine, written as timm writes it.
    fn timm_cosine(t: u64, lr: f64, min: f64, t0: u64, m: f64, d: f64, limit: u64) -> f64 {
        let t0f = t0 as f64;
        let tf = t as f64;
        let (i, t_i, t_curr) = if m != 1.0 {
            let i = ((1.0 - tf / t0f * (1.0 - m)).ln() / m.ln()).floor();
            (i, m.powf(i) * t0f, tf - (1.0 - m.powf(i)) / (1.0 - m) * t0f)
        } else {
            let i = (t / t0) as f64;
            (i, t0f, tf - t0f * i)
        };
        if i < limit as f64 {
            let peak = lr * d.powf(i);
            min + 0.5 * (peak - min) * (1.0 + (std::f64::consts::PI * t_curr / t_i).cos())
        } else {
            min
        }
    }

    #[test]
    fn float_cycle_mul_is_timms_formula() {
        for (t0, m, d, limit) in [
            (10, 1.5, 0.5, 5),
            (7, 2.5, 0.9, 4),
            (4, 3.0, 1.0, 7),
            (3, 1.1, 0.8, 12),
            (16, 0.5, 0.7, 3),
            (5, 1.0, 0.5, 4),
        ] {
            let s = Cycles::new(Cosine::new(0.1, t0).with_min_lr(0.001))
                .with_cycle_mul(m)
                .with_cycle_decay(d)
                .with_cycle_limit(limit);
            s.validate().unwrap();
            for t in 0..1500 {
                let want = timm_cosine(t, 0.1, 0.001, t0, m, d, limit);
                let got = s.value(t);
                // The cycle is timm's exactly; the cosine's operations are ordered as
                // transformers writes them, a few ulps from timm's order.
                assert!(
                    (got - want).abs() <= 1e-14 * want.abs(),
                    "t0={t0} m={m} t={t}: {got} vs {want}"
                );
            }
            let len = s.len().unwrap();
            assert!(len > 0 && s.value(len) == 0.001 && s.value(len - 1) != 0.001);
        }
    }

    #[test]
    fn timms_early_boundary_is_kept() {
        // floor(log(243) / log(3)) = 4: timm puts step 484 (the start of cycle 5 for
        // t_initial 4) at the end of cycle 4.
        let s = Cycles::new(Cosine::new(1.0, 4))
            .with_cycle_mul(3.0)
            .with_cycle_limit(8);
        assert!(s.value(484) < 1e-12);
        assert_eq!(s.value(485), Cosine::new(1.0, 4).at(1.0, 1.0, 972.0));
        assert_eq!(s.value(160), 1.0); // the start of cycle 4
    }

    #[test]
    fn shrinking_cycles_end_at_their_limit_point() {
        let s = Cycles::new(Tanh::new(1.0, 8).with_min_lr(0.1)).with_cycle_mul(0.5);
        assert_eq!(s.len(), None);
        assert!(s.value(15) > 0.1);
        // timm's log has no value from t = 8 / (1 - 0.5) = 16 on.
        for t in [16, 17, 1_000_000, u64::MAX] {
            assert_eq!(s.value(t), 0.1);
        }
    }

    #[test]
    fn polynomial_cycles_and_bad_input() {
        let p = Cycles::new(Polynomial::new(1.0, 5).with_power(2.0))
            .with_cycle_mul(1.5)
            .with_cycle_limit(2);
        assert_eq!(p.value(0), 1.0);
        assert_eq!(p.value(5), 1.0);
        assert_eq!(p.len(), Some(13));
        assert_eq!(p.value(13), 0.0);
        let msg = |s: Cycles| s.validate().unwrap_err().to_string();
        assert!(msg(Cycles::new(Constant::new(1.0))).contains("`schedule`"));
        let c = || Cycles::new(Cosine::new(1.0, 5));
        assert!(msg(c().with_cycle_mul(0.0)).contains("`cycle_mul`"));
        assert!(msg(c().with_cycle_mul(f64::NAN)).contains("`cycle_mul`"));
        assert!(msg(c().with_cycle_decay(-0.5)).contains("`cycle_decay`"));
        assert!(msg(c().with_cycle_limit(0)).contains("`cycle_limit`"));
        assert!(msg(Cycles::new(Cosine::new(1.0, 0))).contains("`schedule.steps`"));
        for s in [
            c().with_cycle_mul(0.0),
            c().with_cycle_mul(1e300).with_cycle_limit(9),
            c().with_cycle_mul(1.000_000_1).with_cycle_limit(u64::MAX),
            Cycles::new(Cosine::new(1.0, 0)).with_cycle_limit(3),
            Cycles::new(Constant::new(1.0)),
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
        let s = Cycles::new(Cosine::new(0.1, 10).with_k_decay(0.5))
            .with_cycle_mul(1.5)
            .with_cycle_decay(0.9)
            .with_cycle_limit(4);
        let v = crate::config::to_value(&AnySchedule::from(s.clone()));
        assert_eq!(v["type"], "cycles");
        let back = crate::config::from_value(v.clone()).unwrap();
        assert_eq!(back, AnySchedule::from(s), "{v}");
    }
}
