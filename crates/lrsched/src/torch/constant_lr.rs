//! `ConstantLR`: the lr times `factor` until `total_iters`, then the lr.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1/3, total_iters=5)`.
///
/// Chainable form: at epoch 0 the running lr is multiplied by `factor`, at
/// `last_epoch == total_iters` by `1.0 / factor` (which is why a `ChainedScheduler` with
/// a `ConstantLR` does not always come back to bit-identical values); closed form:
/// `base_lr * (factor + (last_epoch >= total_iters) * (1 - factor))`.
///
/// ```
/// use lrsched::torch::{ConstantLR, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let s = TorchSchedule::new(vec![1.0], TorchClass::ConstantLR(ConstantLR::new(0.5, 2)));
/// assert_eq!(s.values(0..4), vec![0.5, 0.5, 1.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields, default)
)]
pub struct ConstantLR {
    /// Factor applied until `total_iters` (default 1/3); in (0, 1].
    pub factor: f64,
    /// Epochs the factor applies (default 5).
    pub total_iters: u64,
}

impl Default for ConstantLR {
    fn default() -> Self {
        ConstantLR::new(1.0 / 3.0, 5)
    }
}

impl ConstantLR {
    /// `ConstantLR(factor, total_iters)`.
    pub fn new(factor: f64, total_iters: u64) -> Self {
        ConstantLR {
            factor,
            total_iters,
        }
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        // PyTorch allows 0, but then divides by it at total_iters (0 * inf = NaN).
        if !(self.factor > 0.0 && self.factor <= 1.0) {
            return Err(ScheduleError::invalid(
                "ConstantLR",
                "factor",
                check::fmt(self.factor),
                "a number in (0, 1]",
            ));
        }
        Ok(())
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        if st.last_epoch == 0 {
            return groups.iter().map(|g| g.lr * self.factor).collect();
        }
        if st.last_epoch as i128 != self.total_iters as i128 {
            return lrs(groups);
        }
        groups.iter().map(|g| g.lr * (1.0 / self.factor)).collect()
    }
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        let after = if st.last_epoch as i128 >= self.total_iters as i128 {
            1.0
        } else {
            0.0
        };
        st.base_lrs
            .iter()
            .map(|b| b * (self.factor + after * (1.0 - self.factor)))
            .collect()
    }
}
