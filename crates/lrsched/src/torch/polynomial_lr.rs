//! `PolynomialLR`: polynomial decay to 0 over `total_iters`.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=1.0)`.
///
/// Chainable form: each epoch `1 <= t <= total_iters` multiplies the running lr by
/// `((1 - t / total_iters) / (1 - (t - 1) / total_iters)) ** power`, so it reaches
/// exactly 0 at `total_iters` and stays there. Closed form: `base_lr * (1 - min(total_iters,
/// t) / total_iters) ** power`.
///
/// ```
/// use lrsched::torch::{PolynomialLR, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let s = TorchSchedule::new(vec![1.0], TorchClass::PolynomialLR(PolynomialLR::new(2, 1.0)));
/// assert_eq!(s.values(0..4), vec![1.0, 0.5, 0.0, 0.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields, default)
)]
pub struct PolynomialLR {
    /// Epochs of the decay (default 5); >= 1.
    pub total_iters: u64,
    /// The polynomial's power (default 1.0); finite and >= 0.
    pub power: f64,
}

impl Default for PolynomialLR {
    fn default() -> Self {
        PolynomialLR::new(5, 1.0)
    }
}

impl PolynomialLR {
    /// `PolynomialLR(total_iters, power)`.
    pub fn new(total_iters: u64, power: f64) -> Self {
        PolynomialLR { total_iters, power }
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        check::at_least_one("PolynomialLR", "total_iters", self.total_iters)?;
        check::non_negative("PolynomialLR", "power", self.power)
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        if st.is_initial || st.last_epoch as i128 > self.total_iters as i128 {
            return lrs(groups);
        }
        let t = st.last_epoch as f64;
        let n = self.total_iters as f64;
        let decay = ((1.0 - t / n) / (1.0 - (t - 1.0) / n)).powf(self.power);
        groups.iter().map(|g| g.lr * decay).collect()
    }
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        let t = (self.total_iters as i128).min(st.last_epoch as i128) as f64;
        let n = self.total_iters as f64;
        st.base_lrs
            .iter()
            .map(|b| b * (1.0 - t / n).powf(self.power))
            .collect()
    }
}
