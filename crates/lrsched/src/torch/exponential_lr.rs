//! `ExponentialLR`: multiply the lr by `gamma` every epoch.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)`.
///
/// Chainable form: the running lr times `gamma` at every step after construction; closed
/// form: `base_lr * gamma ** last_epoch`.
///
/// ```
/// use lrsched::torch::{ExponentialLR, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let s = TorchSchedule::new(vec![1.0], TorchClass::ExponentialLR(ExponentialLR::new(0.5)));
/// assert_eq!(s.values(0..3), vec![1.0, 0.5, 0.25]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct ExponentialLR {
    /// Multiplicative factor per epoch; finite and >= 0.
    pub gamma: f64,
}

impl ExponentialLR {
    /// `ExponentialLR(gamma)`.
    pub fn new(gamma: f64) -> Self {
        ExponentialLR { gamma }
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        check::non_negative("ExponentialLR", "gamma", self.gamma)
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        if st.is_initial {
            return lrs(groups);
        }
        groups.iter().map(|g| g.lr * self.gamma).collect()
    }
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        st.base_lrs
            .iter()
            .map(|b| b * self.gamma.powf(st.last_epoch as f64))
            .collect()
    }
}
