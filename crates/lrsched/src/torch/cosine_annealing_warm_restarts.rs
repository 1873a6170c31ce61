//! `CosineAnnealingWarmRestarts`: SGDR, with fractional epochs.

use super::sim::LeafState;
use crate::{check, ScheduleError};
use std::f64::consts::PI;

/// `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0, T_mult=1,
/// eta_min=0.0)`.
///
/// `lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`, where `T_cur`
/// counts epochs since the last restart and `T_i`, the current period, starts at `T_0`
/// and is multiplied by `T_mult` at each restart. `scheduler.step(epoch)` with a
/// fractional epoch (see [`super::TorchSimulator::step_to_epoch`]) finds the period with
/// PyTorch's logarithm formula.
///
/// ```
/// use lrsched::torch::{CosineAnnealingWarmRestarts, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let c = CosineAnnealingWarmRestarts::new(2).with_t_mult(2);
/// let s = TorchSchedule::new(vec![1.0], TorchClass::CosineAnnealingWarmRestarts(c));
/// let v = s.values(0..7);
/// assert_eq!((v[0], v[2], v[6]), (1.0, 1.0, 1.0)); // restarts at 2 and 2 + 4
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct CosineAnnealingWarmRestarts {
    /// The first period, in epochs; >= 1.
    #[cfg_attr(feature = "serde", serde(rename = "T_0"))]
    pub t_0: u64,
    /// Growth of the period at each restart (default 1); >= 1.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "T_mult", default = "serde_defaults::t_mult")
    )]
    pub t_mult: u64,
    /// The minimum lr (default 0.0); finite and >= 0.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "crate::check::is_zero")
    )]
    pub eta_min: f64,
}

crate::check::serde_defaults! {
    t_mult: u64 = 1;
}

impl CosineAnnealingWarmRestarts {
    /// `CosineAnnealingWarmRestarts(T_0)`.
    pub fn new(t_0: u64) -> Self {
        CosineAnnealingWarmRestarts {
            t_0,
            t_mult: 1,
            eta_min: 0.0,
        }
    }
    /// Sets `T_mult`.
    pub fn with_t_mult(mut self, t_mult: u64) -> Self {
        self.t_mult = t_mult;
        self
    }
    /// Sets `eta_min`.
    pub fn with_eta_min(mut self, eta_min: f64) -> Self {
        self.eta_min = eta_min;
        self
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        check::at_least_one("CosineAnnealingWarmRestarts", "T_0", self.t_0)?;
        check::at_least_one("CosineAnnealingWarmRestarts", "T_mult", self.t_mult)?;
        check::non_negative("CosineAnnealingWarmRestarts", "eta_min", self.eta_min)
    }
    pub(crate) fn get_lr(&self, st: &LeafState) -> Vec<f64> {
        let eta = self.eta_min;
        st.base_lrs
            .iter()
            .map(|b| eta + (b - eta) * (1.0 + (PI * st.t_cur / st.t_i).cos()) / 2.0)
            .collect()
    }
    /// `(T_cur, T_i)` after `step(epoch)`, as PyTorch computes them.
    pub(crate) fn at_epoch(&self, epoch: f64) -> (f64, f64) {
        let t0 = self.t_0.max(1);
        let tm = self.t_mult.max(1);
        if epoch >= t0 as f64 {
            if tm == 1 {
                (epoch % t0 as f64, t0 as f64)
            } else {
                let x = epoch / t0 as f64 * (tm - 1) as f64 + 1.0;
                let n = (x.ln() / (tm as f64).ln()) as u32;
                let pow = tm.checked_pow(n).unwrap_or(u64::MAX);
                let num = t0.saturating_mul(pow - 1);
                let t_cur = epoch - num as f64 / (tm - 1) as f64;
                (t_cur, t0.saturating_mul(pow) as f64)
            }
        } else {
            (epoch, t0 as f64)
        }
    }
}
