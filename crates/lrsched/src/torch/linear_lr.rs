//! `LinearLR`: the lr's factor moves linearly from `start_factor` to `end_factor`.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1/3, end_factor=1.0,
/// total_iters=5)`.
///
/// Chainable form: epoch 0 multiplies the running lr by `start_factor`; each epoch
/// `1 <= t <= total_iters` by `1 + (end - start) / (total_iters * start + (t - 1) * (end -
/// start))`; later epochs keep it. Closed form: `base_lr * (start + (end - start) *
/// min(total_iters, t) / total_iters)`.
///
/// ```
/// use lrsched::torch::{LinearLR, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let s = TorchSchedule::new(vec![1.0], TorchClass::LinearLR(LinearLR::new(0.5, 1.0, 2)));
/// assert_eq!(s.values(0..4), vec![0.5, 0.75, 1.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields, default)
)]
pub struct LinearLR {
    /// Factor at epoch 0 (default 1/3); in (0, 1].
    pub start_factor: f64,
    /// Factor from `total_iters` on (default 1.0); in [0, 1].
    pub end_factor: f64,
    /// Epochs of the ramp (default 5); >= 1.
    pub total_iters: u64,
}

impl Default for LinearLR {
    fn default() -> Self {
        LinearLR::new(1.0 / 3.0, 1.0, 5)
    }
}

impl LinearLR {
    /// `LinearLR(start_factor, end_factor, total_iters)`.
    pub fn new(start_factor: f64, end_factor: f64, total_iters: u64) -> Self {
        LinearLR {
            start_factor,
            end_factor,
            total_iters,
        }
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        if !(self.start_factor > 0.0 && self.start_factor <= 1.0) {
            return Err(ScheduleError::invalid(
                "LinearLR",
                "start_factor",
                check::fmt(self.start_factor),
                "a number in (0, 1]",
            ));
        }
        check::in_closed("LinearLR", "end_factor", self.end_factor, 0.0, 1.0)?;
        // PyTorch's closed form (SequentialLR milestones) divides by it.
        check::at_least_one("LinearLR", "total_iters", self.total_iters)
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        if st.last_epoch == 0 {
            return groups.iter().map(|g| g.lr * self.start_factor).collect();
        }
        if st.is_initial || st.last_epoch as i128 > self.total_iters as i128 {
            return lrs(groups);
        }
        let (s, e) = (self.start_factor, self.end_factor);
        let f =
            1.0 + (e - s) / (self.total_iters as f64 * s + (st.last_epoch - 1) as f64 * (e - s));
        groups.iter().map(|g| g.lr * f).collect()
    }
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        let (s, e) = (self.start_factor, self.end_factor);
        let t = (self.total_iters as i128).min(st.last_epoch as i128) as f64;
        st.base_lrs
            .iter()
            .map(|b| b * (s + (e - s) * t / self.total_iters as f64))
            .collect()
    }
}
