//! `MultiplicativeLR`: the running lr times a function of the epoch, every epoch.

use super::lambda_lr::Lambdas;
use super::sim::{lrs, Group, LeafState};
use crate::ScheduleError;

/// `torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lr_lambda)`: after
/// construction, each step multiplies the running lr by `lr_lambda(epoch)`; `lr_lambda`
/// is as for [`super::LambdaLR`].
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use lrsched::{config, Schedule};
/// let s = config::from_json_str(
///     r#"{"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": 0.5}"#).unwrap();
/// assert_eq!(s.values(0..4), vec![1.0, 0.5, 0.25, 0.125]);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct MultiplicativeLR {
    /// The per-epoch factor as a function of the epoch.
    pub lr_lambda: Lambdas,
}

impl MultiplicativeLR {
    /// `MultiplicativeLR(lr_lambda)`.
    pub fn new(lr_lambda: Lambdas) -> Self {
        MultiplicativeLR { lr_lambda }
    }
    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        self.lr_lambda.check("MultiplicativeLR", groups)
    }
    pub(crate) fn get_lr(&self, st: &LeafState, groups: &[Group]) -> Vec<f64> {
        if st.is_initial {
            return lrs(groups);
        }
        groups
            .iter()
            .enumerate()
            .map(|(i, g)| g.lr * self.lr_lambda.at(i).eval(st.last_epoch))
            .collect()
    }
}
