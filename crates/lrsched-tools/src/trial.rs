//! What a trial reports and how it ended: the one result type every trainer (built-in or
//! a command) returns and every tool reads.

use crate::protocol::{EpochLine, Line, ProtocolError, StepLine};
use std::fmt;

/// What a tool tells a running trial after each line it reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Let it run.
    Continue,
    /// End it now (the reason is recorded): a pruned trial, a range test past its stop.
    Stop(String),
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialStatus {
    /// It ran to its end and reported.
    Completed,
    /// lrsched ended it on purpose (pruned, range test done).
    Stopped {
        /// Why.
        reason: String,
    },
    /// It reported a NaN or infinite value, or its loss ran away.
    Diverged {
        /// Where (`epoch 3`, `step 120`).
        at: String,
        /// What (`val_loss = NaN`).
        what: String,
    },
    /// It exited non-zero, was killed by a signal, or could not start.
    Failed {
        /// The exit code, if it exited.
        code: Option<i32>,
        /// The signal that killed it, if one did.
        signal: Option<i32>,
        /// What lrsched could say beyond the status (a start failure).
        message: Option<String>,
    },
    /// It ran past the trial timeout.
    TimedOut {
        /// The limit.
        seconds: f64,
    },
    /// It wrote a line that breaks the protocol.
    Malformed(ProtocolError),
    /// It exited 0 without reporting anything.
    NoReport,
    /// The user cancelled the whole run (Ctrl-C).
    Cancelled,
}

impl TrialStatus {
    /// Whether the trial's numbers can be ranked (completed, stopped on purpose).
    pub fn is_usable(&self) -> bool {
        matches!(self, TrialStatus::Completed | TrialStatus::Stopped { .. })
    }

    /// A short word for tables: `ok`, `stopped`, `diverged`, `failed`, `timed out`, ...
    pub fn word(&self) -> &'static str {
        match self {
            TrialStatus::Completed => "ok",
            TrialStatus::Stopped { .. } => "stopped",
            TrialStatus::Diverged { .. } => "diverged",
            TrialStatus::Failed { .. } => "failed",
            TrialStatus::TimedOut { .. } => "timed out",
            TrialStatus::Malformed(_) => "bad output",
            TrialStatus::NoReport => "no report",
            TrialStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrialStatus::Completed => write!(f, "completed"),
            TrialStatus::Stopped { reason } => write!(f, "stopped: {reason}"),
            TrialStatus::Diverged { at, what } => write!(f, "diverged at {at}: {what}"),
            TrialStatus::Failed {
                code,
                signal,
                message,
            } => {
                match (code, signal) {
                    (Some(c), _) => write!(f, "exited with status {c}")?,
                    (None, Some(s)) => write!(f, "killed by signal {s}")?,
                    (None, None) => write!(f, "failed")?,
                }
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            TrialStatus::TimedOut { seconds } => write!(f, "timed out after {seconds:.0} s"),
            TrialStatus::Malformed(e) => write!(f, "bad protocol line: {e}"),
            TrialStatus::NoReport => write!(f, "exited 0 without reporting a metric"),
            TrialStatus::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// Everything one trial reported.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialResult {
    /// Epoch lines, in the order written.
    pub epochs: Vec<EpochLine>,
    /// Step lines, in the order written.
    pub steps: Vec<StepLine>,
    /// How it ended.
    pub status: TrialStatus,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The last lines of its standard error (command trials).
    pub stderr_tail: Vec<String>,
    /// Earlier attempts that failed and were retried (SLURM launcher), one line each.
    pub attempts: Vec<String>,
}

impl TrialResult {
    /// An empty result, completed.
    pub fn new() -> Self {
        TrialResult {
            epochs: Vec::new(),
            steps: Vec::new(),
            status: TrialStatus::Completed,
            seconds: 0.0,
            stderr_tail: Vec::new(),
            attempts: Vec::new(),
        }
    }

    /// Records a line.
    pub fn push(&mut self, line: Line) {
        match line {
            Line::Epoch(e) => self.epochs.push(e),
            Line::Step(s) => self.steps.push(s),
        }
    }

    /// The values of `metric` per epoch, as `(epoch, value)`.
    pub fn series(&self, metric: &str) -> Vec<(u64, f64)> {
        self.epochs
            .iter()
            .filter_map(|e| e.get(metric).map(|v| (e.epoch, v)))
            .collect()
    }

    /// The last reported value of `metric`.
    pub fn last(&self, metric: &str) -> Option<f64> {
        self.epochs.iter().rev().find_map(|e| e.get(metric))
    }
}

impl Default for TrialResult {
    fn default() -> Self {
        TrialResult::new()
    }
}
