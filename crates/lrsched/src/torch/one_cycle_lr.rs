//! `OneCycleLR`: the 1cycle policy, in two or three phases.

use super::sim::{lrs, Group, LeafState};
use super::PerGroup;
use crate::{check, ScheduleError};
use std::f64::consts::PI;

/// `torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=None, epochs=None,
/// steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos", cycle_momentum=True,
/// base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4,
/// three_phase=False)`.
///
/// The run has `total_steps` steps (or `epochs * steps_per_epoch`). The lr anneals from
/// `initial_lr = max_lr / div_factor` up to `max_lr` by step `pct_start * total_steps - 1`,
/// then down to `min_lr = initial_lr / final_div_factor` at step `total_steps - 1` (with
/// `three_phase`, first back to `initial_lr` by step `2 * pct_start * total_steps - 2`).
/// Each phase interpolates with `end + (start - end) / 2 * (cos(pi * pct) + 1)` (`cos`) or
/// `(end - start) * pct + start` (`linear`), `pct` being the position within the phase.
/// Momentum goes the other way between `max_momentum` and `base_momentum`.
///
/// Like PyTorch, step `total_steps` itself is computed (`pct` slightly above 1, so the
/// lr there extrapolates the last phase); PyTorch raises after it, this holds that value.
///
/// ```
/// use lrsched::torch::{OneCycleLR, PerGroup, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let c = OneCycleLR::new(PerGroup::One(1.0), 10);
/// let s = TorchSchedule::new(vec![1.0], TorchClass::OneCycleLR(c));
/// assert!((s.value(0) - 1.0 / 25.0).abs() < 1e-15);
/// assert_eq!(s.value(2), 1.0);
/// assert_eq!(s.value(9), 1.0 / 25.0 / 1e4);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct OneCycleLR {
    /// The peak lr (per group); finite and > 0.
    pub max_lr: PerGroup,
    /// Steps in the cycle; >= 1. Given, it wins over `epochs * steps_per_epoch`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub total_steps: Option<u64>,
    /// Epochs (with `steps_per_epoch`, when `total_steps` is not given); >= 1.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub epochs: Option<u64>,
    /// Steps per epoch; >= 1.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub steps_per_epoch: Option<u64>,
    /// Fraction of the cycle spent rising (default 0.3); in (0, 1).
    #[cfg_attr(feature = "serde", serde(default = "defaults::pct_start"))]
    pub pct_start: f64,
    /// `cos` (default) or `linear`.
    #[cfg_attr(feature = "serde", serde(default = "defaults::anneal_strategy"))]
    pub anneal_strategy: String,
    /// Cycle the optimizer's momentum inversely (default true).
    #[cfg_attr(feature = "serde", serde(default = "defaults::cycle_momentum"))]
    pub cycle_momentum: bool,
    /// Lowest momentum (default 0.85).
    #[cfg_attr(feature = "serde", serde(default = "defaults::base_momentum"))]
    pub base_momentum: PerGroup,
    /// Highest momentum (default 0.95).
    #[cfg_attr(feature = "serde", serde(default = "defaults::max_momentum"))]
    pub max_momentum: PerGroup,
    /// `initial_lr = max_lr / div_factor` (default 25); finite and > 0.
    #[cfg_attr(feature = "serde", serde(default = "defaults::div_factor"))]
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (default 1e4); finite and > 0.
    #[cfg_attr(feature = "serde", serde(default = "defaults::final_div_factor"))]
    pub final_div_factor: f64,
    /// Three phases: up, back down to `initial_lr`, then to `min_lr` (default false).
    #[cfg_attr(feature = "serde", serde(default))]
    pub three_phase: bool,
}

#[derive(Clone, Copy)]
enum Key {
    Initial,
    Max,
    Min,
    MaxM,
    BaseM,
}

fn read(g: &Group, k: Key) -> f64 {
    match k {
        Key::Initial => g.initial_lr.unwrap_or(g.lr),
        Key::Max => g.max_lr,
        Key::Min => g.min_lr,
        Key::MaxM => g.max_momentum,
        Key::BaseM => g.base_momentum,
    }
}

class_defaults! {
    pct_start: f64 = 0.3;
    anneal_strategy: String = "cos".into();
    cycle_momentum: bool = true;
    base_momentum: PerGroup = PerGroup::One(0.85);
    max_momentum: PerGroup = PerGroup::One(0.95);
    div_factor: f64 = 25.0;
    final_div_factor: f64 = 1e4;
}

impl OneCycleLR {
    /// `OneCycleLR(max_lr, total_steps)` with PyTorch's defaults.
    pub fn new(max_lr: PerGroup, total_steps: u64) -> Self {
        OneCycleLR {
            max_lr,
            total_steps: Some(total_steps),
            epochs: None,
            steps_per_epoch: None,
            pct_start: defaults::pct_start(),
            anneal_strategy: defaults::anneal_strategy(),
            cycle_momentum: defaults::cycle_momentum(),
            base_momentum: defaults::base_momentum(),
            max_momentum: defaults::max_momentum(),
            div_factor: defaults::div_factor(),
            final_div_factor: defaults::final_div_factor(),
            three_phase: false,
        }
    }
    /// Sets `pct_start`.
    pub fn with_pct_start(mut self, pct: f64) -> Self {
        self.pct_start = pct;
        self
    }
    /// Sets `anneal_strategy` (`cos` or `linear`).
    pub fn with_anneal_strategy(mut self, s: &str) -> Self {
        self.anneal_strategy = s.into();
        self
    }
    /// Sets `three_phase`.
    pub fn with_three_phase(mut self, on: bool) -> Self {
        self.three_phase = on;
        self
    }

    /// The cycle's length in steps (0 when neither form is given).
    pub fn steps(&self) -> u64 {
        match (self.total_steps, self.epochs, self.steps_per_epoch) {
            (Some(t), _, _) => t,
            (None, Some(e), Some(s)) => e.saturating_mul(s),
            _ => 0,
        }
    }

    fn phases(&self) -> Vec<(f64, Key, Key, Key, Key)> {
        let total = self.steps();
        let p1 = (self.pct_start * total as f64) - 1.0;
        if self.three_phase {
            vec![
                (p1, Key::Initial, Key::Max, Key::MaxM, Key::BaseM),
                (
                    (2.0 * self.pct_start * total as f64) - 2.0,
                    Key::Max,
                    Key::Initial,
                    Key::BaseM,
                    Key::MaxM,
                ),
                (
                    total as f64 - 1.0,
                    Key::Initial,
                    Key::Min,
                    Key::MaxM,
                    Key::MaxM,
                ),
            ]
        } else {
            vec![
                (p1, Key::Initial, Key::Max, Key::MaxM, Key::BaseM),
                (
                    total as f64 - 1.0,
                    Key::Max,
                    Key::Min,
                    Key::BaseM,
                    Key::MaxM,
                ),
            ]
        }
    }

    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        const C: &str = "OneCycleLR";
        self.max_lr.check(C, "max_lr", groups, check::positive)?;
        match (self.total_steps, self.epochs, self.steps_per_epoch) {
            (Some(t), _, _) => check::at_least_one(C, "total_steps", t)?,
            (None, Some(e), Some(s)) => {
                check::at_least_one(C, "epochs", e)?;
                check::at_least_one(C, "steps_per_epoch", s)?;
            }
            _ => {
                return Err(ScheduleError::MissingKey {
                    schedule: C.into(),
                    key: "total_steps (or epochs and steps_per_epoch)".into(),
                })
            }
        }
        check::in_open(C, "pct_start", self.pct_start, 0.0, 1.0)?;
        super::one_of(
            C,
            "anneal_strategy",
            &self.anneal_strategy,
            &["cos", "linear"],
        )?;
        check::positive(C, "div_factor", self.div_factor)?;
        check::positive(C, "final_div_factor", self.final_div_factor)?;
        let momenta = (&self.base_momentum, &self.max_momentum);
        super::check_momenta(C, self.cycle_momentum, momenta, groups)?;
        // PyTorch divides by each phase's length in steps: refuse a phase it would use
        // with length 0 (it raises ZeroDivisionError there).
        let phases = self.phases();
        let first_empty = phases[0].0 == 0.0;
        let last = phases.len() - 1;
        let last_empty = phases[last].0 == phases[last - 1].0;
        if first_empty || last_empty {
            return Err(ScheduleError::invalid(
                C,
                "pct_start",
                self.pct_start,
                format!(
                    "a fraction that leaves every phase of the {}-step cycle at least one step long",
                    self.steps()
                ),
            ));
        }
        Ok(())
    }

    /// The constructor's writes to the param groups.
    pub(crate) fn setup(&self, groups: &mut [Group]) {
        for (i, g) in groups.iter_mut().enumerate() {
            let max_lr = self.max_lr.get(i);
            let initial = max_lr / self.div_factor;
            g.initial_lr = Some(initial);
            g.max_lr = max_lr;
            g.min_lr = initial / self.final_div_factor;
            if self.cycle_momentum {
                g.momentum = self.max_momentum.get(i);
                g.max_momentum = self.max_momentum.get(i);
                g.base_momentum = self.base_momentum.get(i);
            }
        }
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        if self.anneal_strategy == "linear" {
            (end - start) * pct + start
        } else {
            let cos_out = (PI * pct).cos() + 1.0;
            end + (start - end) / 2.0 * cos_out
        }
    }

    pub(crate) fn get_lr(&self, st: &LeafState, groups: &mut [Group]) -> Vec<f64> {
        let step = st.last_epoch;
        if step as i128 > self.steps() as i128 {
            // PyTorch raises here ("Tried to step N times"); hold the last value.
            return lrs(groups);
        }
        let step = step as f64;
        let phases = self.phases();
        let mut out = Vec::with_capacity(groups.len());
        for g in groups.iter_mut() {
            let mut start_step = 0.0;
            let mut lr = g.lr;
            let mut mom = None;
            for (i, &(end_step, s_lr, e_lr, s_m, e_m)) in phases.iter().enumerate() {
                if step <= end_step || i == phases.len() - 1 {
                    let pct = (step - start_step) / (end_step - start_step);
                    lr = self.anneal(read(g, s_lr), read(g, e_lr), pct);
                    if self.cycle_momentum {
                        mom = Some(self.anneal(read(g, s_m), read(g, e_m), pct));
                    }
                    break;
                }
                start_step = end_step;
            }
            out.push(lr);
            if let Some(m) = mom {
                g.momentum = m;
            }
        }
        out
    }
}
