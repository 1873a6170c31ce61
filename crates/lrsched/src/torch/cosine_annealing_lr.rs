//! `CosineAnnealingLR`: cosine annealing, in PyTorch's recursive form.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};
use std::f64::consts::PI;

/// `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0.0)`.
///
/// Chainable form, as PyTorch computes it at epoch `t`:
/// - where `(t - 1 - T_max) % (2 T_max) == 0`: `lr + (base_lr - eta_min) * (1 - cos(pi /
///   T_max)) / 2`;
/// - otherwise `(1 + cos(pi t / T_max)) / (1 + cos(pi (t - 1) / T_max)) * (lr - eta_min)
///   + eta_min`.
///
/// Where the quotient's denominator rounds to 0 (PyTorch raises `ZeroDivisionError`:
/// `T_max` above about `7e7`, at the epoch just before a minimum) the lr is the closed
/// form instead.
///
/// Past `T_max` it does not hold at `eta_min`: it climbs back up, a period of `2 T_max`.
/// Closed form: `eta_min + (base_lr - eta_min) * (1 + cos(pi t / T_max)) / 2`.
///
/// ```
/// use lrsched::torch::{CosineAnnealingLR, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let s = TorchSchedule::new(vec![1.0], TorchClass::CosineAnnealingLR(CosineAnnealingLR::new(2)));
/// let v = s.values(0..5);
/// assert!((v[1] - 0.5).abs() < 1e-15 && v[2].abs() < 1e-15 && (v[4] - 1.0).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct CosineAnnealingLR {
    /// Half-period in epochs; >= 1.
    #[cfg_attr(feature = "serde", serde(rename = "T_max"))]
    pub t_max: u64,
    /// The minimum lr (default 0.0); finite and >= 0.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "crate::check::is_zero")
    )]
    pub eta_min: f64,
}

impl CosineAnnealingLR {
    /// `CosineAnnealingLR(T_max)`.
    pub fn new(t_max: u64) -> Self {
        CosineAnnealingLR {
            t_max,
            eta_min: 0.0,
        }
    }
    /// Sets `eta_min`.
    pub fn with_eta_min(mut self, eta_min: f64) -> Self {
        self.eta_min = eta_min;
        self
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        check::at_least_one("CosineAnnealingLR", "T_max", self.t_max)?;
        check::non_negative("CosineAnnealingLR", "eta_min", self.eta_min)
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        let eta = self.eta_min;
        let tm = self.t_max as f64;
        let t = st.last_epoch;
        if st.is_initial {
            return lrs(groups);
        }
        if st.step_count == 1 && t > 0 {
            return st
                .base_lrs
                .iter()
                .map(|b| eta + (b - eta) * (1.0 + (t as f64 * PI / tm).cos()) / 2.0)
                .collect();
        }
        let period = 2 * (self.t_max.max(1) as i128);
        if (t as i128 - 1 - self.t_max as i128).rem_euclid(period) == 0 {
            return groups
                .iter()
                .zip(&st.base_lrs)
                .map(|(g, b)| g.lr + (b - eta) * (1.0 - (PI / tm).cos()) / 2.0)
                .collect();
        }
        let den = 1.0 + (PI * (t - 1) as f64 / tm).cos();
        if den == 0.0 {
            // Python raises ZeroDivisionError here (T_max above ~7e7, the epoch before a
            // minimum): no value to match, and the closed form is the one meant.
            return self.closed_form(st);
        }
        let f = (1.0 + (PI * t as f64 / tm).cos()) / den;
        groups.iter().map(|g| f * (g.lr - eta) + eta).collect()
    }
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        let eta = self.eta_min;
        let tm = self.t_max as f64;
        st.base_lrs
            .iter()
            .map(|b| eta + (b - eta) * (1.0 + (PI * st.last_epoch as f64 / tm).cos()) / 2.0)
            .collect()
    }
}
