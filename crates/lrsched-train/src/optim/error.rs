//! The error type of the optimizers.

use std::fmt;

/// Everything that can be wrong with an optimizer's config, its groups, the buffers handed
/// to a step, or a saved state.
///
/// Each variant names the offending setting or value, so a caller can print it on one line.
#[derive(Debug, Clone, PartialEq)]
pub enum OptimError {
    /// A hyperparameter (config key, group field or step argument) is out of range.
    InvalidValue {
        /// Where the value came from, e.g. `momentum`, `betas[0]`, `groups[1].lr_scale`.
        key: String,
        /// The offending value, printed.
        value: String,
        /// What would have been accepted.
        allowed: String,
    },
    /// A parameter group's range is empty-ended, past the end of the buffers, or overlaps
    /// another group.
    BadGroup {
        /// The group's position in the list handed to [`Optimizer::new`](super::Optimizer::new).
        index: usize,
        /// What is wrong, naming the ranges involved.
        reason: String,
    },
    /// A buffer handed to a call has the wrong length.
    LengthMismatch {
        /// Which buffer (`params`, `grads`, `out`, or a saved buffer's name).
        what: String,
        /// The length the optimizer was built for.
        expected: usize,
        /// The length it was given.
        got: usize,
    },
    /// A saved state does not belong to this optimizer (kind, groups or buffers differ).
    StateMismatch {
        /// What differs, naming both sides.
        reason: String,
    },
    /// A schedule-free optimizer was stepped while its parameters hold the evaluation
    /// weights (call [`Optimizer::to_train`](super::Optimizer::to_train) first).
    EvalMode,
}

impl OptimError {
    pub(crate) fn invalid(key: impl Into<String>, value: impl fmt::Display, allowed: &str) -> Self {
        OptimError::InvalidValue {
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }
}

impl fmt::Display for OptimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimError::InvalidValue {
                key,
                value,
                allowed,
            } => write!(
                f,
                "optimizer: {key} = {value} is invalid: expected {allowed}"
            ),
            OptimError::BadGroup { index, reason } => {
                write!(f, "optimizer: parameter group {index}: {reason}")
            }
            OptimError::LengthMismatch {
                what,
                expected,
                got,
            } => write!(f, "optimizer: {what} has {got} values, expected {expected}"),
            OptimError::StateMismatch { reason } => {
                write!(f, "optimizer: saved state does not fit: {reason}")
            }
            OptimError::EvalMode => write!(
                f,
                "optimizer: step called while the parameters hold the schedule-free evaluation \
                 weights; call to_train first"
            ),
        }
    }
}

impl std::error::Error for OptimError {}
