//! The trainers a tool can drive: the built-in one, in-process, and any program behind
//! the trial protocol. Both take a [`TrialInput`] and return a [`TrialResult`], so the
//! tools never know which one ran.

use crate::process::{self, CommandTrainer};
use crate::protocol::{EpochLine, Line, StepLine, TrialInput};
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched::time::RunShape;
use lrsched_train::data::Split;
use lrsched_train::trainer::{self, EpochRecord, Observer, Outcome, TrainConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// lrsched's own trainer, run in-process: a base config (data, model, optimizer, batch)
/// whose schedule, seed and epochs each trial replaces.
#[derive(Debug, Clone)]
pub struct BuiltIn {
    /// Everything but the trial's schedule, seed and epochs.
    pub config: TrainConfig,
    /// The data, loaded once and shared by the trials.
    pub split: Arc<Split>,
}

/// Who trains a trial.
#[derive(Debug, Clone)]
pub enum Trainer {
    /// The built-in MLP trainer, in-process.
    BuiltIn(Box<BuiltIn>),
    /// A user's program speaking the trial protocol.
    Command(CommandTrainer),
}

impl Trainer {
    /// Runs one trial; `control` hears every line as it is reported and may stop it.
    pub fn run(
        &self,
        input: &TrialInput,
        control: &mut dyn FnMut(&Line) -> Control,
    ) -> TrialResult {
        match self {
            Trainer::BuiltIn(b) => b.run(input, control),
            Trainer::Command(c) => process::run(c, input, control),
        }
    }

    /// What it is, for reports: the command line, or `built-in trainer`.
    pub fn describe(&self) -> String {
        match self {
            Trainer::BuiltIn(b) => format!("built-in trainer on {}", b.config.data),
            Trainer::Command(c) => format!("command: {}", c.command),
        }
    }

    /// Whether this is the built-in trainer.
    pub fn is_built_in(&self) -> bool {
        matches!(self, Trainer::BuiltIn(_))
    }
}

impl BuiltIn {
    /// The config this trial trains: the base with the trial's schedule (read by the
    /// core's `ScheduleSpec`: its interval, plateau modes set from the monitor, durations
    /// resolved for the run's real shape), seed and epochs.
    pub fn trial_config(&self, input: &TrialInput) -> Result<TrainConfig, String> {
        let mut c = self.config.clone();
        let monitor = c.plateau_monitor;
        let spec = input
            .schedule
            .clone()
            .with_plateau_mode(crate::run_spec::plateau_mode(monitor), monitor.name())
            .map_err(|e| e.to_string())?;
        let run = RunShape::new(self.split.train.len() as u64, c.batch_size as u64)
            .with_epochs(input.epochs as f64);
        c.schedule = spec.resolve(&run).map_err(|e| e.to_string())?;
        c.interval = spec.interval();
        c.seed = input.seed;
        c.epochs = input.epochs;
        c.metrics_out = None;
        c.checkpoint = None;
        Ok(c)
    }

    /// Runs one trial in this process.
    pub fn run(
        &self,
        input: &TrialInput,
        control: &mut dyn FnMut(&Line) -> Control,
    ) -> TrialResult {
        let mut result = TrialResult::new();
        let config = match self.trial_config(input) {
            Ok(c) => c,
            Err(message) => {
                result.status = TrialStatus::Failed {
                    code: None,
                    signal: None,
                    message: Some(message),
                };
                return result;
            }
        };
        let mut obs = Relay {
            control,
            result: &mut result,
            stop: None,
            max_steps: input.max_steps,
            elapsed: 0.0,
        };
        let summary = trainer::train(&config, &self.split, &mut obs);
        let stop = obs.stop.take();
        match summary {
            Ok(s) => {
                result.seconds = s.seconds;
                result.status = match s.outcome {
                    Outcome::Completed | Outcome::EarlyStopped => TrialStatus::Completed,
                    Outcome::Stopped => TrialStatus::Stopped {
                        reason: stop.unwrap_or_else(|| "stopped".into()),
                    },
                    Outcome::Diverged { epoch, step, what } => TrialStatus::Diverged {
                        at: format!("epoch {epoch} (step {step})"),
                        what,
                    },
                };
            }
            Err(e) => {
                result.status = TrialStatus::Failed {
                    code: None,
                    signal: None,
                    message: Some(e.to_string()),
                }
            }
        }
        result
    }
}

/// Turns the trainer's callbacks into protocol lines, as a program would write them.
struct Relay<'a> {
    control: &'a mut dyn FnMut(&Line) -> Control,
    result: &'a mut TrialResult,
    stop: Option<String>,
    max_steps: Option<u64>,
    elapsed: f64,
}

impl Relay<'_> {
    fn hear(&mut self, line: Line) {
        if self.stop.is_none() {
            if let Control::Stop(reason) = (self.control)(&line) {
                self.stop = Some(reason);
            }
        }
        self.result.push(line);
    }
}

impl Observer for Relay<'_> {
    fn on_step(&mut self, epoch: u64, batch: usize, batches: usize, loss: f32, lr: f64) {
        let step = (epoch - 1) * batches as u64 + batch as u64 - 1;
        self.hear(Line::Step(StepLine {
            step,
            lr: Some(lr),
            loss: Some(loss as f64),
        }));
        if self.max_steps.is_some_and(|m| step + 1 >= m) && self.stop.is_none() {
            self.stop = Some(format!("reached {} steps", step + 1));
        }
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        self.elapsed += r.epoch_seconds;
        let mut line = epoch_line(r);
        line.elapsed = Some(self.elapsed);
        self.hear(Line::Epoch(line));
    }

    fn should_stop(&mut self) -> bool {
        self.stop.is_some()
    }

    /// Quiet in a tool: a warmup from 0 gives every trial a zero first rate, and 33 notes
    /// of it buried the table; a negative rate ends the trial with the optimizer's error,
    /// which its result reports.
    fn on_nonpositive_lr(&mut self, _epoch: u64, _step: u64, _lr: f64) {}
}

/// The built-in trainer's epoch record as the protocol line a program would write.
pub fn epoch_line(r: &EpochRecord) -> EpochLine {
    let mut values = BTreeMap::new();
    values.insert("train_loss".to_string(), r.train_loss);
    values.insert("val_loss".to_string(), r.val_loss);
    if let Some(a) = r.val_acc {
        values.insert("val_acc".to_string(), a);
    }
    values.insert("lr".to_string(), r.lr);
    values.insert("epoch_seconds".to_string(), r.epoch_seconds);
    EpochLine {
        epoch: r.epoch,
        values,
        elapsed: None,
    }
}
