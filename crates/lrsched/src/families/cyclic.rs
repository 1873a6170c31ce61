//! `cyclic`: PyTorch's `CyclicLR` (cyclical learning rates, Smith 2017) as a closed form.

use super::declare::family;
use crate::{Schedule, ScheduleError};
use std::f64::consts::PI;

/// The amplitude function of a cyclic schedule (PyTorch's `mode`, or a named `scale_fn`).
///
/// Each is a function of `x`, the cycle number (from 1) or the step, per
/// [`CyclicScaleMode`]; its default argument is given in brackets:
///
/// ```text
/// triangular:   1                         [cycle]
/// triangular2:  1 / 2^(x - 1)             [cycle]       amplitude halves every cycle
/// exp_range:    gamma^x                   [iterations]
/// sine:         0.5 * (1 + sin(x * pi/2)) [cycle]       the custom scale_fn of PyTorch's docs
/// ```
///
/// ```
/// use lrsched::{Cyclic, CyclicMode, Schedule};
/// let s = Cyclic::new(0.0, 1.0, 2).with_mode(CyclicMode::Triangular2);
/// assert_eq!(s.value(2), 1.0); // peak of cycle 1
/// assert_eq!(s.value(6), 0.5); // peak of cycle 2
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CyclicMode {
    /// Constant amplitude (the default).
    #[default]
    Triangular,
    /// Amplitude halved each cycle.
    Triangular2,
    /// Amplitude `gamma^x`.
    ExpRange,
    /// Amplitude `0.5 * (1 + sin(x * pi / 2))`.
    Sine,
}

impl CyclicMode {
    /// `true` for the default (`triangular`), so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == CyclicMode::Triangular
    }

    /// What the amplitude function is evaluated on unless `scale_mode` says otherwise.
    pub fn default_scale_mode(self) -> CyclicScaleMode {
        match self {
            CyclicMode::ExpRange => CyclicScaleMode::Iterations,
            _ => CyclicScaleMode::Cycle,
        }
    }

    fn scale(self, gamma: f64, x: f64) -> f64 {
        match self {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2.0f64.powf(x - 1.0),
            CyclicMode::ExpRange => gamma.powf(x),
            CyclicMode::Sine => 0.5 * (1.0 + (x * PI / 2.0).sin()),
        }
    }
}

/// What the amplitude function of [`CyclicMode`] is evaluated on (PyTorch's `scale_mode`).
///
/// ```
/// use lrsched::{CyclicMode, CyclicScaleMode};
/// assert_eq!(CyclicMode::ExpRange.default_scale_mode(), CyclicScaleMode::Iterations);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CyclicScaleMode {
    /// The cycle number, from 1.
    #[default]
    Cycle,
    /// The step (PyTorch's `last_epoch`).
    Iterations,
}

family! {
    /// Cyclical learning rates between `base_lr` and `max_lr`, exactly as PyTorch's
    /// `CyclicLR` computes them (same order of operations):
    ///
    /// ```text
    /// total = step_size_up + step_size_down,   ratio = step_size_up / total
    /// cycle = floor(1 + t / total),            x = 1 + t / total - cycle
    /// f     = x / ratio                 if x <= ratio   (rising)
    ///       = (x - 1) / (ratio - 1)     otherwise       (falling)
    /// lr(t) = base_lr + (max_lr - base_lr) * f * scale(cycle or t)
    /// ```
    ///
    /// `scale` is the amplitude function named by `mode` (see [`CyclicMode`]), evaluated on
    /// the cycle or the step per `scale_mode` (default: the mode's own). PyTorch's custom
    /// `scale_fn` + `scale_mode` is the closed set of named modes here, with `scale_mode`
    /// free to override. With `cycle_momentum` the momentum moves inversely:
    /// `max_momentum - (max_momentum - base_momentum) * f * scale(...)`, returned by
    /// [`Schedule::momentum`]. The schedule has no length: it cycles forever.
    ///
    /// Config: `{"type": "cyclic", "base_lr": 0.001, "max_lr": 0.1, "step_size_up": 2000}`
    /// plus optional `step_size_down` (default `step_size_up`), `mode`, `gamma` (1),
    /// `scale_mode`, `cycle_momentum` (false), `base_momentum` (0.8), `max_momentum` (0.9).
    ///
    /// ```
    /// use lrsched::{Cyclic, Schedule};
    /// let s = Cyclic::new(0.1, 0.5, 4).with_momentum(Some((0.8, 0.9)));
    /// assert_eq!(s.value(0), 0.1);
    /// assert_eq!(s.value(4), 0.5);
    /// assert_eq!(s.value(8), 0.1);
    /// assert_eq!(s.momentum(4), Some(0.8));
    /// assert!(s.value(1_000_000_002).is_finite());
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Cyclic("cyclic") {
        /// The lower bound of the cycle; finite and >= 0.
        base_lr: f64, check non_negative;
        /// The upper bound of the cycle; finite and >= 0.
        max_lr: f64, check non_negative;
        /// Steps from `base_lr` up to `max_lr`; >= 1 (default 2000).
        step_size_up: u64 = 2000 keep, check at_least_one;
        /// Steps back down; `None` means `step_size_up` (default).
        step_size_down: Option<u64> = none,
            with_some with_step_size_down(u64) "Sets the steps of the falling half.";
        /// The amplitude function (default `triangular`).
        mode: CyclicMode = {CyclicMode::Triangular} "triangular",
            with with_mode "Sets the amplitude function.";
        /// The base of `exp_range`'s amplitude; in (0, 1] (default 1).
        gamma: f64 = 1, check in_half_open(0.0, 1.0);
        /// What the amplitude function is evaluated on; `None` (default) is the mode's own.
        scale_mode: Option<CyclicScaleMode> = none, with_some with_scale_mode(CyclicScaleMode)
            "Evaluates the amplitude function on the cycle or the step.";
        /// Cycle the momentum inversely to the rate (default false).
        cycle_momentum: bool = false;
        /// The momentum at `max_lr`; in [0, 1] (default 0.8).
        base_momentum: f64 = 0.8, check in_closed(0.0, 1.0);
        /// The momentum at `base_lr`; in [0, 1] (default 0.9).
        max_momentum: f64 = 0.9, check in_closed(0.0, 1.0);
    }
    /// A triangular cycle between `base_lr` and `max_lr` with the default step sizes.
    fn declared;
}

impl Cyclic {
    /// A triangular cycle between `base_lr` and `max_lr`, `step_size_up` steps each way.
    pub fn new(base_lr: f64, max_lr: f64, step_size_up: u64) -> Self {
        Cyclic {
            step_size_up,
            ..Self::declared(base_lr, max_lr)
        }
    }
    /// `exp_range` with base `gamma`.
    pub fn with_gamma(mut self, gamma: f64) -> Self {
        self.mode = CyclicMode::ExpRange;
        self.gamma = gamma;
        self
    }
    /// Cycles the momentum inversely between `(base, max)`, or not with `None`.
    pub fn with_momentum(mut self, range: Option<(f64, f64)>) -> Self {
        let kept = (self.base_momentum, self.max_momentum);
        (self.cycle_momentum, self.base_momentum, self.max_momentum) = momentum_range(range, kept);
        self
    }

    /// `(scale_factor * scale_fn(...))` at step `t`, in PyTorch's order.
    fn factors(&self, t: u64) -> (f64, f64) {
        let up = self.step_size_up as f64;
        let down = self.step_size_down.unwrap_or(self.step_size_up) as f64;
        let total_size = up + down;
        let step_ratio = up / total_size;
        let last_epoch = t as f64;
        let cycle = (1.0 + last_epoch / total_size).floor();
        let x = 1.0 + last_epoch / total_size - cycle;
        let scale_factor = if x <= step_ratio {
            x / step_ratio
        } else {
            (x - 1.0) / (step_ratio - 1.0)
        };
        let arg = match self.scale_mode.unwrap_or(self.mode.default_scale_mode()) {
            CyclicScaleMode::Cycle => cycle,
            CyclicScaleMode::Iterations => last_epoch,
        };
        (scale_factor, self.mode.scale(self.gamma, arg))
    }
}

impl Schedule for Cyclic {
    fn value(&self, step: u64) -> f64 {
        let (scale_factor, scale) = self.factors(step);
        let base_height = (self.max_lr - self.base_lr) * scale_factor;
        self.base_lr + base_height * scale
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        if !self.cycle_momentum {
            return None;
        }
        let (scale_factor, scale) = self.factors(step);
        let base_height = (self.max_momentum - self.base_momentum) * scale_factor;
        Some(self.max_momentum - base_height * scale)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }
}

/// `(cycle_momentum, base_momentum, max_momentum)` after `with_momentum(range)` (cyclic
/// and one-cycle): a range turns cycling on with its bounds, `None` turns it off and
/// keeps the bounds.
pub(crate) fn momentum_range(range: Option<(f64, f64)>, kept: (f64, f64)) -> (bool, f64, f64) {
    match range {
        Some((base, max)) => (true, base, max),
        None => (false, kept.0, kept.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_shape_and_asymmetric_halves() {
        let s = Cyclic::new(1.0, 3.0, 2);
        let v = s.values(0..9);
        assert_eq!(v, [1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]);
        let a = Cyclic::new(0.0, 1.0, 1).with_step_size_down(3);
        let v = a.values(0..5);
        assert_eq!(v[0], 0.0);
        assert_eq!(v[1], 1.0);
        assert!((v[2] - 2.0 / 3.0).abs() < 1e-15);
        assert!((v[3] - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(v[4], 0.0);
    }

    #[test]
    fn matches_pytorch_literal_transcription() {
        // CyclicLR(base_lr=0.001, max_lr=0.006, step_size_up=5, step_size_down=3,
        //          mode="exp_range", gamma=0.99, cycle_momentum=True)
        let s = Cyclic::new(0.001, 0.006, 5)
            .with_step_size_down(3)
            .with_gamma(0.99)
            .with_momentum(Some((0.8, 0.9)));
        for t in 0u64..40 {
            let total = 5.0 + 3.0;
            let ratio = 5.0 / total;
            let cycle = (1.0 + t as f64 / total).floor();
            let x = 1.0 + t as f64 / total - cycle;
            let f = if x <= ratio {
                x / ratio
            } else {
                (x - 1.0) / (ratio - 1.0)
            };
            let lr = 0.001 + (0.006 - 0.001) * f * 0.99f64.powf(t as f64);
            let m = 0.9 - (0.9 - 0.8) * f * 0.99f64.powf(t as f64);
            assert_eq!(s.value(t), lr, "t={t}");
            assert_eq!(s.momentum(t), Some(m), "t={t}");
        }
    }

    #[test]
    fn scale_modes() {
        let tri2 = Cyclic::new(0.0, 1.0, 2).with_mode(CyclicMode::Triangular2);
        assert_eq!(tri2.value(10), 0.25);
        let per_cycle = Cyclic::new(0.0, 1.0, 2)
            .with_gamma(0.5)
            .with_scale_mode(CyclicScaleMode::Cycle);
        assert_eq!(per_cycle.value(2), 0.5);
        assert_eq!(per_cycle.value(6), 0.25);
        let sine = Cyclic::new(0.0, 1.0, 2).with_mode(CyclicMode::Sine);
        assert_eq!(sine.value(2), 1.0); // 0.5 * (1 + sin(pi/2))
        assert!((sine.value(6) - 0.5).abs() < 1e-15); // cycle 2: 0.5 * (1 + sin(pi))
        assert!(sine.value(10).abs() < 1e-15); // cycle 3: 0.5 * (1 + sin(3 pi / 2))
        assert_eq!(Cyclic::new(0.0, 1.0, 2).momentum(1), None);
    }

    #[test]
    fn far_steps_never_panic() {
        for mode in [
            CyclicMode::Triangular,
            CyclicMode::Triangular2,
            CyclicMode::ExpRange,
            CyclicMode::Sine,
        ] {
            let s = Cyclic::new(0.1, 1.0, 3).with_mode(mode).with_gamma(0.9);
            let s = Cyclic { mode, ..s };
            for t in [1_000_000_000, u64::MAX] {
                let v = s.value(t);
                assert!(v.is_finite() && v >= 0.0, "{mode:?} {v}");
            }
        }
        // Invalid: zero sizes give NaN but never panic.
        let z = Cyclic::new(0.1, 1.0, 0).with_step_size_down(0);
        let _ = z.value(5);
    }

    #[test]
    fn rejects_bad_parameters() {
        let msg = |s: Cyclic| s.validate().unwrap_err().to_string();
        assert!(msg(Cyclic::new(0.1, 1.0, 0)).contains("`step_size_up`"));
        assert!(msg(Cyclic::new(-0.1, 1.0, 1)).contains("`base_lr`"));
        assert!(msg(Cyclic::new(0.1, f64::NAN, 1)).contains("`max_lr`"));
        assert!(msg(Cyclic::new(0.1, 1.0, 1).with_gamma(1.5)).contains("`gamma`"));
        assert!(msg(Cyclic::new(0.1, 1.0, 1).with_gamma(0.0)).contains("`gamma`"));
        assert!(
            msg(Cyclic::new(0.1, 1.0, 1).with_momentum(Some((-0.1, 0.9))))
                .contains("`base_momentum`")
        );
        assert!(Cyclic::new(0.1, 1.0, 1)
            .with_step_size_down(0)
            .validate()
            .is_ok());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::AnySchedule;
        for s in [
            Cyclic::new(0.001, 0.1, 2000),
            Cyclic::new(0.001, 0.1, 20)
                .with_step_size_down(10)
                .with_gamma(0.999)
                .with_scale_mode(CyclicScaleMode::Cycle)
                .with_momentum(Some((0.85, 0.95))),
            Cyclic::new(0.0, 1.0, 3).with_mode(CyclicMode::Sine),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(s), "{v}");
        }
        let s = crate::config::from_value(
            serde_json::json!({"type": "cyclic", "base_lr": 0.1, "max_lr": 1.0, "mode": "exp_range", "gamma": 0.5}),
        )
        .unwrap();
        assert_eq!(s.value(2000), 0.1 + 0.9 * 0.5f64.powf(2000.0));
    }
}
