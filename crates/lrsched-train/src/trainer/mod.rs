//! The training loop: batches through the model, the optimizer driven by an lrsched
//! schedule, validation, metrics, early stopping, checkpoints and exact resume.

mod metrics;
mod run;

use crate::checkpoint::CheckpointError;
use crate::data::Split;
use crate::divergence::DivergenceRule;
use crate::model::ModelSpec;
use crate::optim::{OptimError, OptimizerConfig};
use lrsched::driver::Interval;
use lrsched::{AnySchedule, ScheduleError};
pub use metrics::steps_path;
pub(crate) use run::{fast_step, initial_state, TargetRows};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Which implementation computes forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The fused dense path (default): hand-written passes on the GEMM kernel.
    #[default]
    Fast,
    /// candle's tensors and autodiff.
    Candle,
}

/// A validation quantity a plateau schedule or early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Validation loss (lower is better).
    ValLoss,
    /// Validation accuracy (higher is better).
    ValAcc,
    /// Mean training loss of the epoch (lower is better).
    TrainLoss,
}

impl Monitor {
    /// Parses `val_loss`, `val_acc` or `train_loss`.
    pub fn parse(s: &str) -> Result<Monitor, String> {
        match s {
            "val_loss" => Ok(Monitor::ValLoss),
            "val_acc" | "val_accuracy" => Ok(Monitor::ValAcc),
            "train_loss" => Ok(Monitor::TrainLoss),
            other => Err(format!(
                "unknown monitor `{other}`: use val_loss, val_acc or train_loss"
            )),
        }
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        self == Monitor::ValAcc
    }

    /// The monitor's name as the flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Monitor::ValLoss => "val_loss",
            Monitor::ValAcc => "val_acc",
            Monitor::TrainLoss => "train_loss",
        }
    }

    /// Sets the `mode` of every reduce-on-plateau schedule in a config tree (native
    /// `plateau`, PyTorch's `ReduceLROnPlateau`, transformers' and timm's plateau forms)
    /// from this monitor when the config leaves it out, and refuses a stated mode that
    /// contradicts the monitor. The trainer feeds the metric as it is and the schedule's
    /// mode decides what counts as better, as PyTorch's `ReduceLROnPlateau` does; flipping
    /// the sign instead breaks the relative threshold (`best * (1 - threshold)` of a
    /// negative number moves the wrong way) and double-flips an explicit `mode = max`.
    ///
    /// ```
    /// use lrsched_train::trainer::Monitor;
    /// let mut c = serde_json::json!({"type": "plateau", "lr": 0.1});
    /// Monitor::ValAcc.apply_mode(&mut c).unwrap();
    /// assert_eq!(c["mode"], "max");
    /// let mut wrong = serde_json::json!({"type": "ReduceLROnPlateau", "lr": 0.1, "mode": "min"});
    /// assert!(Monitor::ValAcc.apply_mode(&mut wrong).is_err());
    /// ```
    pub fn apply_mode(self, config: &mut serde_json::Value) -> Result<(), String> {
        const PLATEAUS: [&str; 4] = [
            "plateau",
            "ReduceLROnPlateau",
            "transformers.get_reduce_on_plateau_schedule",
            "timm.PlateauLRScheduler",
        ];
        let wanted = if self.higher_is_better() {
            "max"
        } else {
            "min"
        };
        match config {
            serde_json::Value::Object(map) => {
                let is_plateau = map
                    .get("type")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|t| PLATEAUS.contains(&t));
                if is_plateau {
                    match map.get("mode").and_then(serde_json::Value::as_str) {
                        None => {
                            map.insert("mode".into(), wanted.into());
                        }
                        Some(m) if m == wanted => {}
                        Some(m) => {
                            return Err(format!(
                                "plateau `mode` = {m:?} contradicts the monitor {}: {} is {} \
                                 is better, so the mode must be {wanted:?} (or left out)",
                                self.name(),
                                self.name(),
                                if self.higher_is_better() {
                                    "higher"
                                } else {
                                    "lower"
                                }
                            ))
                        }
                    }
                }
                for v in map.values_mut() {
                    self.apply_mode(v)?;
                }
                Ok(())
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().try_for_each(|v| self.apply_mode(v))
            }
            _ => Ok(()),
        }
    }

    fn read(self, r: &EpochRecord) -> f64 {
        match self {
            Monitor::ValLoss => r.val_loss,
            Monitor::ValAcc => r.val_acc.unwrap_or(f64::NAN),
            Monitor::TrainLoss => r.train_loss,
        }
    }
}

/// Early stopping, as Keras' `EarlyStopping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// What to watch.
    pub monitor: Monitor,
    /// Epochs without improvement before stopping.
    pub patience: u64,
    /// The smallest change that counts as an improvement.
    pub min_delta: f64,
    /// Put back the best epoch's weights when stopping (or at the end).
    pub restore_best: bool,
}

/// Where and how often checkpoints are written.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointOptions {
    /// The folder (created if missing).
    pub dir: PathBuf,
    /// How many epoch checkpoints to keep besides `best.ckpt`.
    pub keep_last: usize,
    /// Continue from the newest checkpoint in `dir`.
    pub resume: bool,
}

/// A whole training run's settings. Everything here except the output options must be
/// the same for a resume as for the run that wrote the checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// What the data is (recorded in checkpoints; the caller loads it).
    pub data: String,
    /// The network.
    pub model: ModelSpec,
    /// Which engine computes the passes.
    pub engine: Engine,
    /// The optimizer's kind and hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Exempt biases and BatchNorm parameters from weight decay.
    pub no_decay_on_bias_and_norm: bool,
    /// The learning-rate schedule, in units of `interval`.
    pub schedule: AnySchedule,
    /// Whether the schedule advances per batch or per epoch.
    pub interval: Interval,
    /// A separate momentum / beta1 schedule, if any.
    pub momentum_schedule: Option<AnySchedule>,
    /// Samples per batch.
    pub batch_size: usize,
    /// Epochs to run.
    pub epochs: u64,
    /// Seeds the initialisation, batch order and dropout.
    pub seed: u64,
    /// Threads that share each step's work (the fused engine's pool); the results are the
    /// same bits for any count, so it is not part of the run's identity.
    pub threads: usize,
    /// What a metric-driven schedule is fed.
    pub plateau_monitor: Monitor,
    /// Early stopping, if any.
    pub early_stop: Option<EarlyStop>,
    /// Checkpointing, if any.
    pub checkpoint: Option<CheckpointOptions>,
    /// Where epoch metrics go (JSON lines); step metrics go beside it as
    /// `<stem>.steps.jsonl`.
    pub metrics_out: Option<PathBuf>,
    /// When a loss that is still finite counts as diverged ([`crate::divergence`]).
    pub divergence: DivergenceRule,
    /// Replace what another run left: its checkpoints in the checkpoint folder, an
    /// existing metrics file. Without it a fresh run refuses to start over them.
    pub overwrite: bool,
}

impl TrainConfig {
    /// The settings a resumed run must share, as a config value (to name differences).
    /// Threads are not among them: the results are the same bits for any thread count.
    pub fn identity(&self) -> serde_json::Value {
        serde_json::json!({
            "data": self.data,
            "model": self.model,
            "engine": self.engine,
            "optimizer": self.optimizer,
            "no_decay_on_bias_and_norm": self.no_decay_on_bias_and_norm,
            "schedule": self.schedule,
            "interval": self.interval,
            "momentum_schedule": self.momentum_schedule,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "plateau_monitor": self.plateau_monitor,
            "early_stop": self.early_stop,
        })
    }
}

/// One epoch's metrics: one line of the metrics file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: u64,
    /// Optimizer steps so far.
    pub step: u64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Validation accuracy (`null` for regression).
    pub val_acc: Option<f64>,
    /// The rate in force at the epoch's last step.
    pub lr: f64,
    /// The momentum / beta1 in force, if the schedule sets one.
    pub momentum: Option<f64>,
    /// Wall time of the epoch (training and validation).
    pub epoch_seconds: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// `true` on the record of a run that diverged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diverged: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// All epochs ran.
    Completed,
    /// Early stopping ended it.
    EarlyStopped,
    /// The observer asked to stop ([`Observer::should_stop`]).
    Stopped,
    /// A loss or gradient became NaN or infinite.
    Diverged {
        /// The epoch (from 1) and step at which it happened.
        epoch: u64,
        /// Global optimizer step.
        step: u64,
        /// What was not finite.
        what: String,
    },
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How it ended.
    pub outcome: Outcome,
    /// Every epoch's metrics, including those before a resume.
    pub history: Vec<EpochRecord>,
    /// The best epoch by the early-stopping monitor (or validation loss).
    pub best_epoch: Option<u64>,
    /// Total seconds spent in this process.
    pub seconds: f64,
    /// Epochs trained in this process: 0 when a resume found the run already finished.
    pub epochs_run: u64,
    /// The final parameters (the best ones when `restore_best` applied), in PyTorch's
    /// order: per layer its weights (out x in, row-major), biases, BatchNorm's gamma and
    /// beta.
    pub params: Vec<f32>,
}

impl Summary {
    /// The best validation accuracy and the epoch it came at.
    pub fn best_accuracy(&self) -> Option<(u64, f64)> {
        self.history
            .iter()
            .filter_map(|r| r.val_acc.map(|a| (r.epoch, a)))
            .fold(None, |best, (e, a)| match best {
                Some((_, b)) if b >= a => best,
                _ => Some((e, a)),
            })
    }
}

/// Why a run could not start or go on (a divergence is an [`Outcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad settings.
    #[error("{0}")]
    Config(String),
    /// The schedule rejected something.
    #[error("schedule: {0}")]
    Schedule(#[from] ScheduleError),
    /// The optimizer rejected something.
    #[error("optimizer: {0}")]
    Optimizer(#[from] OptimError),
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint belongs to another run.
    #[error("checkpoint {path} was written by a different run: {}", differences.join("; "))]
    Mismatch {
        /// The checkpoint.
        path: PathBuf,
        /// Every difference, `path: saved -> given`.
        differences: Vec<String>,
    },
    /// The metrics file could not be written.
    #[error("metrics file {path}: {source}")]
    Metrics {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The candle engine failed.
    #[error("candle: {0}")]
    Engine(String),
}

/// Hooks for progress display; every method has a no-op default.
pub trait Observer {
    /// After each optimizer step.
    fn on_step(&mut self, _epoch: u64, _batch: usize, _batches: usize, _loss: f32, _lr: f64) {}
    /// After each epoch's validation.
    fn on_epoch(&mut self, _record: &EpochRecord) {}
    /// The first step whose rate is zero or negative (a schedule may ask for it: optax
    /// computes negative rates). A decision made on purpose: a zero rate is applied (the
    /// weights stay where they are); a negative one is refused by the optimizer, as
    /// PyTorch's optimizers refuse a negative rate, and the run ends with that error. By
    /// default this says so once per run, at the step where it happens, as a `log::warn!`
    /// (a library user silences it with their logger; `lrsched` prints it as a note).
    fn on_nonpositive_lr(&mut self, epoch: u64, step: u64, lr: f64) {
        let what = if lr == 0.0 {
            "applied: the weights do not move while it lasts"
        } else {
            "a negative rate is refused by the optimizer (as PyTorch's are), so the run stops here"
        };
        log::warn!("the schedule gives lr = {lr} at step {step} (epoch {epoch}): {what}");
    }
    /// Asked after every step and epoch: `true` ends the run there with
    /// [`Outcome::Stopped`] (a tool pruning a trial, a range test past its stop rule).
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Trains `config.model` on `data` and returns what happened. Divergence ends the run
/// cleanly with [`Outcome::Diverged`]; the last good checkpoint stays.
///
/// The phases, in order: the settings checked against the data; the model, optimizer,
/// schedule and batch order built; the checkpoint folder claimed (one run per folder)
/// and, with `resume`, the saved run restored; then each epoch (its steps, validation,
/// the schedule's metric, early stopping, the checkpoint); then the summary.
///
/// ```
/// use lrsched_train::data::Source;
/// use lrsched_train::trainer::{train, Outcome, Quiet};
/// let split = Source::Xor.load().unwrap();
/// let config = lrsched_train::find_lr::doc_config(&split);
/// let summary = train(&config, &split, &mut Quiet)?;
/// assert_eq!(summary.outcome, Outcome::Completed);
/// assert_eq!(summary.history.len(), 1);
/// # Ok::<(), lrsched_train::trainer::TrainError>(())
/// ```
pub fn train(
    config: &TrainConfig,
    data: &Split,
    observer: &mut dyn Observer,
) -> Result<Summary, TrainError> {
    let started = Instant::now();
    let config = run::checked(config, data)?;
    let mut start = run::Start::build(&config, data)?;
    // Held to the end of the run.
    let claimed = start.claim_folder()?;
    let found = claimed.as_ref().map_or(&[][..], |(_, found)| found);
    if let Some(outcome) = start.resume(found)? {
        return Ok(start.finished(outcome, started));
    }
    let mut training = start.into_training()?;
    // The optimizer's buffers reach subnormal floats too.
    let _ftz = crate::model::FlushDenormals::new();
    let mut outcome = Outcome::Completed;
    for epoch in training.epochs() {
        if let Some(end) = training.epoch(epoch, observer)? {
            outcome = end;
            break;
        }
    }
    let summary = training.finish(outcome, started);
    drop(claimed);
    Ok(summary)
}
