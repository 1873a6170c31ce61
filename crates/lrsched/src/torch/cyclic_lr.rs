//! `CyclicLR`: triangular cycles between `base_lr` and `max_lr`, momentum inverted.

use super::expr::Expr;
use super::sim::{Group, LeafState};
use super::PerGroup;
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr, step_size_up=2000,
/// step_size_down=None, mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
/// cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)`.
///
/// At epoch `t`, with `total = up + down`: `cycle = floor(1 + t / total)`, `x = 1 + t /
/// total - cycle`, `s = x / (up / total)` while rising, `(x - 1) / (up / total - 1)`
/// while falling; `lr = base_lr + (max_lr - base_lr) * s * scale`, and with
/// `cycle_momentum` the momentum goes the other way, `max_momentum - (max_momentum -
/// base_momentum) * s * scale`. `scale` is 1 (`triangular`), `1 / 2 ** (cycle - 1)`
/// (`triangular2`), `gamma ** t` (`exp_range`), or the expression `scale_fn` in `x`
/// evaluated at `cycle` or `t` by `scale_mode` (PyTorch ignores `scale_mode` unless a
/// `scale_fn` is given). The optimizer's `lr` is replaced by `base_lr`.
///
/// ```
/// use lrsched::torch::{CyclicLR, PerGroup, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let c = CyclicLR::new(PerGroup::One(0.1), PerGroup::One(0.5)).with_step_size_up(2);
/// let s = TorchSchedule::new(vec![0.1], TorchClass::CyclicLR(c));
/// assert_eq!(s.values(0..5), vec![0.1, 0.30000000000000004, 0.5, 0.30000000000000004, 0.1]);
/// assert_eq!(s.momentum(2), Some(0.8));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct CyclicLR {
    /// The cycle's lower lr (per group); finite and >= 0.
    pub base_lr: PerGroup,
    /// The cycle's upper lr (per group); finite and >= 0.
    pub max_lr: PerGroup,
    /// Epochs rising (default 2000); >= 1.
    #[cfg_attr(feature = "serde", serde(default = "defaults::step_size_up"))]
    pub step_size_up: u64,
    /// Epochs falling (default: `step_size_up`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub step_size_down: Option<u64>,
    /// `triangular` (default), `triangular2` or `exp_range`.
    #[cfg_attr(feature = "serde", serde(default = "defaults::mode"))]
    pub mode: String,
    /// Base of `exp_range`'s scale (default 1.0); finite and > 0.
    #[cfg_attr(feature = "serde", serde(default = "crate::check::one"))]
    pub gamma: f64,
    /// A custom scale, an expression in `x` (replaces `mode`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub scale_fn: Option<Expr>,
    /// `cycle` (default) or `iterations`: what `scale_fn` is evaluated at.
    #[cfg_attr(feature = "serde", serde(default = "defaults::scale_mode"))]
    pub scale_mode: String,
    /// Cycle the optimizer's momentum inversely (default true).
    #[cfg_attr(feature = "serde", serde(default = "defaults::cycle_momentum"))]
    pub cycle_momentum: bool,
    /// Lower momentum (default 0.8).
    #[cfg_attr(feature = "serde", serde(default = "defaults::base_momentum"))]
    pub base_momentum: PerGroup,
    /// Upper momentum (default 0.9).
    #[cfg_attr(feature = "serde", serde(default = "defaults::max_momentum"))]
    pub max_momentum: PerGroup,
}

class_defaults! {
    step_size_up: u64 = 2000;
    mode: String = "triangular".into();
    scale_mode: String = "cycle".into();
    cycle_momentum: bool = true;
    base_momentum: PerGroup = PerGroup::One(0.8);
    max_momentum: PerGroup = PerGroup::One(0.9);
}

impl CyclicLR {
    /// `CyclicLR(base_lr, max_lr)` with PyTorch's defaults.
    pub fn new(base_lr: PerGroup, max_lr: PerGroup) -> Self {
        CyclicLR {
            base_lr,
            max_lr,
            step_size_up: defaults::step_size_up(),
            step_size_down: None,
            mode: defaults::mode(),
            gamma: 1.0,
            scale_fn: None,
            scale_mode: defaults::scale_mode(),
            cycle_momentum: defaults::cycle_momentum(),
            base_momentum: defaults::base_momentum(),
            max_momentum: defaults::max_momentum(),
        }
    }
    /// Sets `step_size_up`.
    pub fn with_step_size_up(mut self, up: u64) -> Self {
        self.step_size_up = up;
        self
    }
    /// Sets `step_size_down`.
    pub fn with_step_size_down(mut self, down: u64) -> Self {
        self.step_size_down = Some(down);
        self
    }
    /// Sets `mode` (and `gamma`, used by `exp_range`).
    pub fn with_mode(mut self, mode: &str, gamma: f64) -> Self {
        self.mode = mode.into();
        self.gamma = gamma;
        self
    }
    /// Sets `cycle_momentum`.
    pub fn with_cycle_momentum(mut self, on: bool) -> Self {
        self.cycle_momentum = on;
        self
    }

    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        const C: &str = "CyclicLR";
        self.base_lr
            .check(C, "base_lr", groups, check::non_negative)?;
        self.max_lr
            .check(C, "max_lr", groups, check::non_negative)?;
        check::at_least_one(C, "step_size_up", self.step_size_up)?;
        super::one_of(
            C,
            "mode",
            &self.mode,
            &["triangular", "triangular2", "exp_range"],
        )?;
        super::one_of(C, "scale_mode", &self.scale_mode, &["cycle", "iterations"])?;
        check::positive(C, "gamma", self.gamma)?;
        let momenta = (&self.base_momentum, &self.max_momentum);
        super::check_momenta(C, self.cycle_momentum, momenta, groups)?;
        Ok(())
    }

    /// The constructor's writes to the param groups, before `LRScheduler.__init__`.
    pub(crate) fn setup(&self, groups: &mut [Group]) {
        for (i, g) in groups.iter_mut().enumerate() {
            g.lr = self.base_lr.get(i);
            if self.cycle_momentum {
                g.momentum = self.max_momentum.get(i);
                g.max_momentum = self.max_momentum.get(i);
                g.base_momentum = self.base_momentum.get(i);
            }
        }
    }

    fn scale(&self, x: f64) -> f64 {
        if let Some(f) = &self.scale_fn {
            return f.eval(x).unwrap_or(f64::NAN);
        }
        match self.mode.as_str() {
            "triangular2" => 1.0 / 2.0f64.powf(x - 1.0),
            "exp_range" => self.gamma.powf(x),
            _ => 1.0,
        }
    }

    fn scale_by_cycle(&self) -> bool {
        if self.scale_fn.is_some() {
            self.scale_mode == "cycle"
        } else {
            self.mode != "exp_range"
        }
    }

    pub(crate) fn get_lr(&self, st: &LeafState, groups: &mut [Group]) -> Vec<f64> {
        let up = self.step_size_up as f64;
        let down = self.step_size_down.map_or(up, |d| d as f64);
        let total = up + down;
        let ratio = up / total;
        let t = st.last_epoch as f64;
        let cycle = (1.0 + t / total).floor();
        let x = 1.0 + t / total - cycle;
        let factor = if x <= ratio {
            x / ratio
        } else {
            (x - 1.0) / (ratio - 1.0)
        };
        let scale = self.scale(if self.scale_by_cycle() { cycle } else { t });
        let out = st
            .base_lrs
            .iter()
            .enumerate()
            .map(|(i, base)| base + (self.max_lr.get(i) - base) * factor * scale)
            .collect();
        if self.cycle_momentum {
            for (i, g) in groups.iter_mut().enumerate() {
                let (b, m) = (self.base_momentum.get(i), self.max_momentum.get(i));
                g.momentum = m - (m - b) * factor * scale;
            }
        }
        out
    }
}
