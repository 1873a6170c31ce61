//! `StepLR`: multiply the lr by `gamma` every `step_size` epochs.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)`.
///
/// Chainable form: at each step where `last_epoch > 0` and `last_epoch % step_size == 0`
/// the running lr is multiplied by `gamma`; closed form (used by `SequentialLR` at a
/// milestone): `base_lr * gamma ** (last_epoch // step_size)`.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// let s = lrsched::config::from_json_str(
///     r#"{"type": "StepLR", "lr": 0.1, "step_size": 30, "gamma": 0.1}"#).unwrap();
/// use lrsched::Schedule;
/// assert_eq!(s.value(30), 0.1 * 0.1);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct StepLR {
    /// Epochs between two decays; >= 1.
    pub step_size: u64,
    /// Multiplicative factor (default 0.1); finite and >= 0.
    #[cfg_attr(feature = "serde", serde(default = "serde_defaults::gamma"))]
    pub gamma: f64,
}

crate::check::serde_defaults! {
    gamma: f64 = 0.1;
}

impl StepLR {
    /// `StepLR(step_size)` with PyTorch's default `gamma = 0.1`.
    pub fn new(step_size: u64) -> Self {
        StepLR {
            step_size,
            gamma: 0.1,
        }
    }
    /// Sets `gamma`.
    pub fn with_gamma(mut self, gamma: f64) -> Self {
        self.gamma = gamma;
        self
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        check::at_least_one("StepLR", "step_size", self.step_size)?;
        check::non_negative("StepLR", "gamma", self.gamma)
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        let size = self.step_size.max(1) as i64;
        if st.last_epoch == 0 || st.last_epoch.rem_euclid(size) != 0 {
            return lrs(groups);
        }
        groups.iter().map(|g| g.lr * self.gamma).collect()
    }
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        let k = st.last_epoch.div_euclid(self.step_size.max(1) as i64);
        st.base_lrs
            .iter()
            .map(|b| b * self.gamma.powf(k as f64))
            .collect()
    }
}
