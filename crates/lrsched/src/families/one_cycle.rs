//! `one_cycle`: PyTorch's `OneCycleLR` as a closed form.

use super::cyclic::momentum_range;
use super::declare::family;
use crate::{check, AfterEnd, Schedule, ScheduleError};
use std::f64::consts::PI;

/// How one-cycle anneals within a phase (PyTorch's `anneal_strategy`).
///
/// ```text
/// cos:     end + (start - end) / 2 * (cos(pi * pct) + 1)
/// linear:  (end - start) * pct + start
/// ```
///
/// ```
/// use lrsched::Anneal;
/// assert_eq!(Anneal::default(), Anneal::Cos);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Anneal {
    /// Cosine annealing (the default).
    #[default]
    Cos,
    /// Linear annealing.
    Linear,
}

impl Anneal {
    /// `true` for the default (`cos`), so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == Anneal::Cos
    }

    /// PyTorch's `_annealing_cos` / `_annealing_linear`, in the same order of operations.
    pub(crate) fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => {
                let cos_out = (PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

family! {
    /// The 1cycle policy (Smith & Topin), exactly as PyTorch's `OneCycleLR` computes it:
    ///
    /// ```text
    /// initial_lr = max_lr / div_factor
    /// min_lr     = initial_lr / final_div_factor
    /// two-phase:   [0, e1]: initial_lr -> max_lr,  (e1, T-1]: max_lr -> min_lr
    ///              e1 = pct_start * T - 1
    /// three-phase: [0, e1]: initial_lr -> max_lr,  (e1, e2]: max_lr -> initial_lr,
    ///              (e2, T-1]: initial_lr -> min_lr,  e2 = 2 * pct_start * T - 2
    /// in a phase from s to e:  pct = (t - s) / (e - s),  lr = anneal(start, end, pct)
    /// ```
    ///
    /// where `T = total_steps`. With `cycle_momentum` (the default), the momentum (or Adam
    /// beta1) moves inversely: `max_momentum -> base_momentum` while the rate rises, back to
    /// `max_momentum` while it falls (three-phase: held at `max_momentum` in the last phase),
    /// and [`Schedule::momentum`] returns it.
    ///
    /// PyTorch raises past `T`; here the last step `T - 1` is `min_lr` exactly, and past it
    /// `after_end` applies: `hold` (default) keeps `min_lr` (and `max_momentum`),
    /// `continue` evaluates the last phase's formula on (cos rises again, linear is
    /// floored at 0), `restart` starts a new cycle every `T` steps.
    ///
    /// Config: `{"type": "one_cycle", "max_lr": 0.1, "total_steps": 1000}` plus optional
    /// `pct_start` (0.3), `anneal_strategy` (`cos`/`linear`), `div_factor` (25),
    /// `final_div_factor` (1e4), `three_phase` (false), `cycle_momentum` (true),
    /// `base_momentum` (0.85), `max_momentum` (0.95), `after_end`.
    ///
    /// ```
    /// use lrsched::{OneCycle, Schedule};
    /// let s = OneCycle::new(0.1, 100);
    /// assert!((s.value(0) - 0.1 / 25.0).abs() < 1e-17);
    /// assert_eq!(s.value(29), 0.1); // the peak: end of phase 1 at 0.3 * 100 - 1
    /// assert_eq!(s.value(99), 0.1 / 25.0 / 1e4);
    /// assert_eq!(s.value(1_000_000), 0.1 / 25.0 / 1e4);
    /// assert_eq!(s.momentum(0), Some(0.95));
    /// assert_eq!(s.momentum(29), Some(0.85));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct OneCycle("one_cycle") {
        /// The peak rate; finite and >= 0.
        max_lr: f64, check non_negative;
        /// Steps in the cycle (PyTorch's `total_steps`); >= 1.
        total_steps: u64, check at_least_one;
        /// Fraction of the cycle spent rising; in (0, 1) (default 0.3).
        pct_start: f64 = 0.3, check in_open(0.0, 1.0),
            with with_pct_start "Sets the fraction of the cycle spent rising.";
        /// Cosine or linear annealing (default `cos`).
        anneal_strategy: Anneal = {Anneal::Cos} "cos",
            with with_anneal_strategy "Sets the annealing curve.";
        /// `initial_lr = max_lr / div_factor`; finite and > 0 (default 25).
        div_factor: f64 = 25, check positive;
        /// `min_lr = initial_lr / final_div_factor`; finite and > 0 (default 1e4).
        final_div_factor: f64 = 10000, check positive;
        /// Three phases (up, back down to `initial_lr`, then to `min_lr`) instead of two
        /// (default false).
        three_phase: bool = false,
            with with_three_phase "Uses three phases instead of two.";
        /// Cycle the momentum inversely to the rate (default true).
        cycle_momentum: bool = true;
        /// The momentum at the peak rate; in [0, 1] (default 0.85).
        base_momentum: f64 = 0.85, check in_closed(0.0, 1.0);
        /// The momentum at the lowest rates; in [0, 1] (default 0.95).
        max_momentum: f64 = 0.95, check in_closed(0.0, 1.0);
        /// What happens past `total_steps` (default `hold`).
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past `total_steps`.";
    }
    /// A two-phase cosine cycle peaking at `max_lr` over `total_steps` steps, with
    /// PyTorch's defaults for everything else.
    pub fn new;
}

/// One phase: where it ends (PyTorch's float `end_step`) and its endpoints.
#[derive(Clone, Copy)]
struct Phase {
    end_step: f64,
    start_lr: f64,
    end_lr: f64,
    start_momentum: f64,
    end_momentum: f64,
}

impl OneCycle {
    /// Sets `div_factor` and `final_div_factor`.
    pub fn with_div_factors(mut self, div_factor: f64, final_div_factor: f64) -> Self {
        self.div_factor = div_factor;
        self.final_div_factor = final_div_factor;
        self
    }
    /// Sets the momentum range, or turns momentum cycling off with `None`.
    pub fn with_momentum(mut self, range: Option<(f64, f64)>) -> Self {
        let kept = (self.base_momentum, self.max_momentum);
        (self.cycle_momentum, self.base_momentum, self.max_momentum) = momentum_range(range, kept);
        self
    }

    /// `max_lr / div_factor`: the value at step 0.
    pub fn initial_lr(&self) -> f64 {
        self.max_lr / self.div_factor
    }

    /// `initial_lr / final_div_factor`: the value at the last step.
    pub fn min_lr(&self) -> f64 {
        self.initial_lr() / self.final_div_factor
    }

    fn phases(&self) -> ([Phase; 3], usize) {
        let initial = self.initial_lr();
        let min = self.min_lr();
        let (lo, hi) = (self.base_momentum, self.max_momentum);
        let total = self.total_steps as f64;
        let last = total - 1.0;
        let e1 = self.pct_start * total - 1.0;
        let up = Phase {
            end_step: e1,
            start_lr: initial,
            end_lr: self.max_lr,
            start_momentum: hi,
            end_momentum: lo,
        };
        if self.three_phase {
            let e2 = 2.0 * self.pct_start * total - 2.0;
            let down = Phase {
                end_step: e2,
                start_lr: self.max_lr,
                end_lr: initial,
                start_momentum: lo,
                end_momentum: hi,
            };
            let tail = Phase {
                end_step: last,
                start_lr: initial,
                end_lr: min,
                start_momentum: hi,
                end_momentum: hi,
            };
            ([up, down, tail], 3)
        } else {
            let down = Phase {
                end_step: last,
                start_lr: self.max_lr,
                end_lr: min,
                start_momentum: lo,
                end_momentum: hi,
            };
            ([up, down, down], 2)
        }
    }

    /// PyTorch's phase walk: `(lr, momentum)` at local step `t`.
    fn at(&self, t: u64) -> (f64, f64) {
        let (phases, n) = self.phases();
        let step_num = t as f64;
        let mut start_step = 0.0;
        for (i, phase) in phases[..n].iter().enumerate() {
            if step_num <= phase.end_step || i == n - 1 {
                let span = phase.end_step - start_step;
                // Only an invalid (zero-length) phase gets here with span 0; PyTorch
                // divides by zero there.
                let pct = if span != 0.0 {
                    (step_num - start_step) / span
                } else {
                    1.0
                };
                let a = self.anneal_strategy;
                return (
                    a.anneal(phase.start_lr, phase.end_lr, pct),
                    a.anneal(phase.start_momentum, phase.end_momentum, pct),
                );
            }
            start_step = phase.end_step;
        }
        (self.min_lr(), self.max_momentum)
    }

    /// The local step, or `None` once the cycle is over and the end values are held.
    fn local(&self, step: u64) -> Option<u64> {
        let last = self.total_steps.saturating_sub(1);
        let t = self.after_end.local_step(step, self.total_steps);
        match self.after_end {
            AfterEnd::Continue if t > last => Some(t),
            _ if t >= last => None,
            _ => Some(t),
        }
    }
}

impl Schedule for OneCycle {
    fn value(&self, step: u64) -> f64 {
        match self.local(step) {
            Some(t) => self.at(t).0.max(0.0),
            None => self.min_lr(),
        }
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        if !self.cycle_momentum {
            return None;
        }
        // Continued past the end, a linear phase runs on without bound; momentum stays
        // within the range the cycle moves it through, as the rate stays >= 0.
        let (lo, hi) = (
            self.base_momentum.min(self.max_momentum),
            self.base_momentum.max(self.max_momentum),
        );
        Some(match self.local(step) {
            Some(t) => self.at(t).1.clamp(lo, hi),
            None => self.max_momentum,
        })
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        const NAME: &str = "one_cycle";
        self.declared_checks()?;
        let (phases, n) = self.phases();
        let mut start = 0.0;
        for phase in &phases[..n] {
            if phase.end_step == start {
                return Err(ScheduleError::invalid(
                    NAME,
                    "pct_start",
                    check::fmt(self.pct_start),
                    format!(
                        "a fraction that gives every phase a non-zero length with total_steps = {} \
                         (a phase ending at step {} has none)",
                        self.total_steps, phase.end_step
                    ),
                ));
            }
            start = phase.end_step;
        }
        Ok(())
    }
    fn len(&self) -> Option<u64> {
        Some(self.total_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's `get_lr` transcribed literally (the `for ... else` phase loop).
    fn torch(s: &OneCycle, step: u64) -> (f64, f64) {
        let total = s.total_steps as f64;
        let initial = s.max_lr / s.div_factor;
        let min = initial / s.final_div_factor;
        let (b, m) = (s.base_momentum, s.max_momentum);
        let phases: Vec<(f64, f64, f64, f64, f64)> = if s.three_phase {
            vec![
                (s.pct_start * total - 1.0, initial, s.max_lr, m, b),
                (2.0 * s.pct_start * total - 2.0, s.max_lr, initial, b, m),
                (total - 1.0, initial, min, m, m),
            ]
        } else {
            vec![
                (s.pct_start * total - 1.0, initial, s.max_lr, m, b),
                (total - 1.0, s.max_lr, min, b, m),
            ]
        };
        let f = |a: f64, e: f64, p: f64| match s.anneal_strategy {
            Anneal::Cos => e + (a - e) / 2.0 * ((PI * p).cos() + 1.0),
            Anneal::Linear => (e - a) * p + a,
        };
        let mut start = 0.0;
        let t = step as f64;
        for (i, ph) in phases.iter().enumerate() {
            if t <= ph.0 || i == phases.len() - 1 {
                let pct = (t - start) / (ph.0 - start);
                return (f(ph.1, ph.2, pct), f(ph.3, ph.4, pct));
            }
            start = ph.0;
        }
        unreachable!()
    }

    #[test]
    fn matches_pytorch_bit_for_bit() {
        for three in [false, true] {
            for anneal in [Anneal::Cos, Anneal::Linear] {
                for (lr, total, pct) in [(0.1, 100, 0.3), (1.0, 37, 0.25), (3e-3, 1000, 0.1)] {
                    let s = OneCycle::new(lr, total)
                        .with_pct_start(pct)
                        .with_three_phase(three)
                        .with_anneal_strategy(anneal);
                    assert!(s.validate().is_ok());
                    for t in 0..total - 1 {
                        let (l, m) = torch(&s, t);
                        assert_eq!(s.value(t), l, "{s:?} t={t}");
                        assert_eq!(s.momentum(t), Some(m), "{s:?} t={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn ends_exactly_and_holds() {
        for anneal in [Anneal::Cos, Anneal::Linear] {
            for three in [false, true] {
                let s = OneCycle::new(0.7, 53)
                    .with_anneal_strategy(anneal)
                    .with_three_phase(three);
                let min = 0.7 / 25.0 / 1e4;
                for t in [52, 53, 54, 1_000_000_000, u64::MAX] {
                    assert_eq!(s.value(t), min);
                    assert_eq!(s.momentum(t), Some(0.95));
                }
                // PyTorch's cos annealing lands on its start only to rounding.
                assert!((s.value(0) - 0.7 / 25.0).abs() < 1e-16);
            }
        }
    }

    #[test]
    fn after_end_policies() {
        let r = OneCycle::new(1.0, 10).with_after_end(AfterEnd::Restart);
        assert_eq!(r.value(10), r.value(0));
        assert_eq!(r.value(23), r.value(3));
        assert_eq!(r.value(19), r.min_lr());
        let c = OneCycle::new(1.0, 10).with_after_end(AfterEnd::Continue);
        assert_eq!(c.value(9), c.min_lr());
        assert!(c.value(12) > c.min_lr());
        assert!(c.value(u64::MAX).is_finite());
        let l = c.with_anneal_strategy(Anneal::Linear);
        assert!(l.value(1000) >= 0.0);
    }

    #[test]
    fn momentum_stays_in_range_when_continued() {
        for anneal in [Anneal::Linear, Anneal::Cos] {
            let s = OneCycle::new(1.0, 100)
                .with_anneal_strategy(anneal)
                .with_after_end(AfterEnd::Continue);
            for step in [99, 100, 1_000, 1_000_000_000, u64::MAX] {
                let m = s.momentum(step).unwrap();
                assert!((0.85..=0.95).contains(&m), "{anneal:?} {step}: {m}");
            }
        }
    }

    #[test]
    fn momentum_off() {
        let s = OneCycle::new(1.0, 10).with_momentum(None);
        assert_eq!(s.momentum(3), None);
        let s = OneCycle::new(1.0, 10).with_momentum(Some((0.8, 0.9)));
        assert_eq!(s.momentum(0), Some(0.9));
        assert_eq!(s.momentum(2), Some(0.8));
    }

    #[test]
    fn rejects_bad_parameters() {
        let key = |s: OneCycle| s.validate().unwrap_err().to_string();
        assert!(key(OneCycle::new(1.0, 0)).contains("`total_steps`"));
        assert!(key(OneCycle::new(1.0, 10).with_pct_start(1.0)).contains("`pct_start`"));
        assert!(key(OneCycle::new(1.0, 10).with_pct_start(0.0)).contains("`pct_start`"));
        // pct_start * total_steps = 1: PyTorch divides by zero.
        assert!(key(OneCycle::new(1.0, 10).with_pct_start(0.1)).contains("`pct_start`"));
        assert!(key(OneCycle::new(1.0, 10).with_div_factors(0.0, 1.0)).contains("`div_factor`"));
        assert!(key(OneCycle::new(1.0, 10).with_div_factors(1.0, f64::NAN))
            .contains("`final_div_factor`"));
        assert!(key(OneCycle::new(-1.0, 10)).contains("`max_lr`"));
        assert!(
            key(OneCycle::new(1.0, 10).with_momentum(Some((0.8, 2.0)))).contains("`max_momentum`")
        );
        // Invalid schedules still never panic.
        for s in [
            OneCycle::new(1.0, 0),
            OneCycle::new(1.0, 10).with_pct_start(0.1),
            OneCycle::new(f64::NAN, 1).with_pct_start(f64::NAN),
        ] {
            for t in [0, 1, 5, 9, 10, u64::MAX] {
                let _ = s.value(t);
                let _ = s.momentum(t);
            }
        }
    }

    #[test]
    fn tiny_cycles() {
        // pct_start * T < 1: phase 1 ends before step 0, as in PyTorch.
        let s = OneCycle::new(1.0, 2).with_pct_start(0.3);
        assert!(s.validate().is_ok());
        assert_eq!(s.value(0), torch(&s, 0).0);
        assert_eq!(s.value(1), s.min_lr());
        let one = OneCycle::new(1.0, 1);
        assert!(one.validate().is_ok());
        assert_eq!(one.value(0), one.min_lr());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::AnySchedule;
        for s in [
            OneCycle::new(0.1, 100),
            OneCycle::new(0.1, 100)
                .with_pct_start(0.25)
                .with_anneal_strategy(Anneal::Linear)
                .with_div_factors(10.0, 100.0)
                .with_three_phase(true)
                .with_momentum(None)
                .with_after_end(AfterEnd::Restart),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(s), "{v}");
        }
        let v = crate::config::to_value(&OneCycle::new(0.1, 100).into());
        assert_eq!(
            v,
            serde_json::json!({"type": "one_cycle", "max_lr": 0.1, "total_steps": 100})
        );
    }
}
