//! `ChainedScheduler`: several schedulers stepped together on one optimizer.

use super::TorchSchedule;
use crate::ScheduleError;

/// `torch.optim.lr_scheduler.ChainedScheduler(schedulers)`.
///
/// Config: `"schedulers": [{...}, ...]`, each a scheduler config without `lr`. Each is
/// constructed in order (its initial step acting on the lr the previous ones left), and
/// each `step()` steps them all in order, so the recursive classes multiply each other's
/// factors into the shared lr, PyTorch's rounding included.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use lrsched::{config, Schedule};
/// let s = config::from_value(serde_json::json!({
///     "type": "ChainedScheduler", "lr": 1.0,
///     "schedulers": [{"type": "ConstantLR", "factor": 0.5, "total_iters": 2},
///                    {"type": "ExponentialLR", "gamma": 0.5}],
/// })).unwrap();
/// assert_eq!(s.values(0..4), vec![0.5, 0.25, 0.25, 0.125]);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedScheduler {
    /// The schedulers, in order (any but `ReduceLROnPlateau`, as in PyTorch).
    pub schedulers: Vec<TorchSchedule>,
}

impl ChainedScheduler {
    /// `ChainedScheduler(schedulers)`.
    pub fn new(schedulers: Vec<TorchSchedule>) -> Self {
        ChainedScheduler { schedulers }
    }
    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        if self.schedulers.is_empty() {
            return Err(ScheduleError::invalid(
                "ChainedScheduler",
                "schedulers",
                "[]",
                "a list of at least one scheduler",
            ));
        }
        super::sequential_lr::check_subs("ChainedScheduler", &self.schedulers, groups)
    }
}
