//! `SequentialLR`: one scheduler after another, switching at milestones.

use super::TorchSchedule;
use crate::{check, ScheduleError};

/// `torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers, milestones)`.
///
/// Config: `"schedulers": [{...}, ...]`, each a scheduler config without `lr` (they share
/// the outer optimizer), and `milestones` one fewer. As in PyTorch, every sub-scheduler
/// is constructed first (each applying its initial step to the shared lr), then the lr is
/// reset to `initial_lr` and the first scheduler's initial step is run again; at a
/// milestone the next scheduler restarts at epoch 0 with its closed form where it has one
/// (`scheduler._update_lr(0)`), so the step at the milestone is its closed form at 0.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use lrsched::{config, Schedule};
/// let s = config::from_value(serde_json::json!({
///     "type": "SequentialLR", "lr": 1.0, "milestones": [3],
///     "schedulers": [{"type": "LinearLR", "start_factor": 0.25, "total_iters": 3},
///                    {"type": "StepLR", "step_size": 2, "gamma": 0.5}],
/// })).unwrap();
/// assert_eq!(s.values(0..7), vec![0.25, 0.5, 0.75, 1.0, 1.0, 0.5, 0.5]);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SequentialLR {
    /// The schedulers, in order (not `ReduceLROnPlateau`; a `SequentialLR` or
    /// `ChainedScheduler` only where no milestone restarts it, as in PyTorch).
    pub schedulers: Vec<TorchSchedule>,
    /// The epochs at which to switch to the next scheduler; `schedulers.len() - 1` of
    /// them, non-decreasing.
    pub milestones: Vec<u64>,
}

impl SequentialLR {
    /// `SequentialLR(schedulers, milestones)`.
    pub fn new(schedulers: Vec<TorchSchedule>, milestones: Vec<u64>) -> Self {
        SequentialLR {
            schedulers,
            milestones,
        }
    }
    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        const C: &str = "SequentialLR";
        if self.schedulers.is_empty() {
            return Err(ScheduleError::invalid(
                C,
                "schedulers",
                "[]",
                "a list of at least one scheduler",
            ));
        }
        if self.milestones.len() + 1 != self.schedulers.len() {
            return Err(ScheduleError::invalid(
                C,
                "milestones",
                format!("{:?}", self.milestones),
                format!(
                    "a list of {} epochs (one fewer than the schedulers)",
                    self.schedulers.len() - 1
                ),
            ));
        }
        check::increasing(C, "milestones", &self.milestones, false)?;
        // At a milestone PyTorch restarts the next scheduler with `_update_lr(0)`, which
        // only single schedulers have: a SequentialLR or ChainedScheduler restarted there
        // raises NotImplementedError. One that starts at step 0, or that a later
        // scheduler with the same milestone replaces, is never restarted.
        for (i, s) in self.schedulers.iter().enumerate().skip(1) {
            let m = self.milestones[i - 1];
            let restarted = m > 0 && super::bisect_right(&self.milestones, m as i64) == i;
            if restarted && s.class.is_composite() {
                return Err(ScheduleError::Invalid {
                    path: format!("{C}.schedulers[{i}]"),
                    message: format!(
                        "PyTorch cannot restart a {} at milestone {m} (SequentialLR calls its `_update_lr(0)`, which raises NotImplementedError): only a single scheduler may start at a milestone > 0; nest it the other way round or start it at step 0",
                        s.class_name()
                    ),
                });
            }
        }
        check_subs(C, &self.schedulers, groups)
    }
}

pub(crate) fn check_subs(
    class: &str,
    subs: &[TorchSchedule],
    groups: usize,
) -> Result<(), ScheduleError> {
    for (i, s) in subs.iter().enumerate() {
        if !s.lr.is_empty() || s.momentum.is_some() {
            return Err(ScheduleError::Invalid {
                path: format!("{class}.schedulers[{i}]"),
                message: "sub-schedulers share the outer optimizer: give `lr` and `momentum` on the outer config only".into(),
            });
        }
        let mut sub = s.clone();
        sub.lr = vec![f64::NAN; groups];
        sub.check_top(true).map_err(|e| match e {
            ScheduleError::Invalid { path, message } => ScheduleError::Invalid {
                path: format!("{class}.schedulers[{i}].{path}"),
                message,
            },
            other => other,
        })?;
    }
    Ok(())
}
