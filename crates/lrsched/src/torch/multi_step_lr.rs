//! `MultiStepLR`: multiply the lr by `gamma` at each milestone.

use super::sim::{lrs, Group, LeafState};
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1)`.
///
/// Milestones are counted (PyTorch keeps a `Counter`): a milestone listed twice multiplies
/// by `gamma ** 2` at once. Chainable form: at `last_epoch == m` the running lr is
/// multiplied by `gamma ** count(m)`; closed form: `base_lr * gamma ** bisect_right(sorted
/// milestones, last_epoch)`.
///
/// ```
/// use lrsched::torch::{MultiStepLR, TorchClass, TorchSchedule};
/// use lrsched::Schedule;
/// let s = TorchSchedule::new(vec![1.0], TorchClass::MultiStepLR(MultiStepLR::new(vec![1, 1]).with_gamma(0.5)));
/// assert_eq!(s.values(0..3), vec![1.0, 0.25, 0.25]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct MultiStepLR {
    /// Epochs at which to decay, in any order; repeats count.
    pub milestones: Vec<u64>,
    /// Multiplicative factor (default 0.1); finite and >= 0.
    #[cfg_attr(feature = "serde", serde(default = "serde_defaults::gamma"))]
    pub gamma: f64,
}

crate::check::serde_defaults! {
    gamma: f64 = 0.1;
}

impl MultiStepLR {
    /// `MultiStepLR(milestones)` with PyTorch's default `gamma = 0.1`.
    pub fn new(milestones: Vec<u64>) -> Self {
        MultiStepLR {
            milestones,
            gamma: 0.1,
        }
    }
    /// Sets `gamma`.
    pub fn with_gamma(mut self, gamma: f64) -> Self {
        self.gamma = gamma;
        self
    }
    pub(crate) fn check(&self) -> Result<(), ScheduleError> {
        check::non_negative("MultiStepLR", "gamma", self.gamma)
    }
    /// The chainable form. `milestones` must be sorted: the simulator sorts its own copy
    /// once (see `Leaf::construct`), so each step is two binary searches, not a count over
    /// every milestone.
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        let e = st.last_epoch;
        let count =
            super::bisect_right(&self.milestones, e) - bisect_left(&self.milestones, e as i128);
        if count == 0 {
            return lrs(groups);
        }
        groups
            .iter()
            .map(|g| g.lr * self.gamma.powf(count as f64))
            .collect()
    }
    /// The closed form; `milestones` sorted, as for `get_lr`.
    pub(crate) fn closed_form(&self, st: &LeafState) -> Vec<f64> {
        let k = super::bisect_right(&self.milestones, st.last_epoch);
        st.base_lrs
            .iter()
            .map(|b| b * self.gamma.powf(k as f64))
            .collect()
    }
}

/// Python's `bisect.bisect_left` on a sorted list: the first index whose milestone is not
/// below `x`.
fn bisect_left(xs: &[u64], x: i128) -> usize {
    xs.partition_point(|&m| (m as i128) < x)
}
