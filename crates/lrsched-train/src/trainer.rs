//! The training loop: batches through the model, the optimizer driven by an lrsched
//! schedule, validation, metrics, early stopping, checkpoints and exact resume.

use crate::checkpoint::{self, CheckpointError};
use crate::data::{BatchState, Batches, Split, Targets};
use crate::divergence::{DivergenceRule, Watch};
use crate::model::{BatchInput, BatchTargets, CandleMlp, Mlp, ModelSpec};
use crate::optim::{
    OptimError, Optimizer, OptimizerConfig, OptimizerKind, OptimizerState, ParamGroup,
};
use lrsched::driver::Interval;
use lrsched::{AnySchedule, Driver, DriverState, Schedule, ScheduleError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
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
    /// The final parameters (the best ones when `restore_best` applied).
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
    /// default this says so on stderr, once per run, at the step where it happens.
    fn on_nonpositive_lr(&mut self, epoch: u64, step: u64, lr: f64) {
        let what = if lr == 0.0 {
            "applied: the weights do not move while it lasts"
        } else {
            "a negative rate is refused by the optimizer (as PyTorch's are), so the run stops here"
        };
        eprintln!("note: the schedule gives lr = {lr} at step {step} (epoch {epoch}): {what}");
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EarlyState {
    best: Option<f64>,
    best_epoch: Option<u64>,
    bad_epochs: u64,
    best_params: Option<Vec<f32>>,
    best_buffers: Option<Vec<f32>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedRun {
    config: serde_json::Value,
    epoch: u64,
    params: Vec<f32>,
    buffers: Vec<f32>,
    dropout_rng: u64,
    optimizer: OptimizerState,
    driver: DriverState,
    batches: (u64, u64, u64),
    early: EarlyState,
    history: Vec<EpochRecord>,
    /// The runaway-loss watch, so a resumed run diverges where the whole run would.
    #[serde(default)]
    watch: Option<Watch>,
    /// Set in the checkpoint of the epoch where early stopping ended the run, so a
    /// resume says there is nothing left to do instead of training on.
    #[serde(default)]
    early_stopped: bool,
}

/// The network of a run; one per run, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Net {
    Fast(Mlp),
    /// candle trains; the fused path (checked equal to it) evaluates.
    Candle {
        net: CandleMlp,
        eval: Mlp,
    },
}

impl Net {
    fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        match self {
            Net::Fast(m) => m.params_and_grads(),
            Net::Candle { net, .. } => net.params_and_grads(),
        }
    }
    fn params(&self) -> &[f32] {
        match self {
            Net::Fast(m) => m.params(),
            Net::Candle { net, .. } => net.params(),
        }
    }
    fn buffers(&self) -> &[f32] {
        match self {
            Net::Fast(m) => m.buffers(),
            Net::Candle { net, .. } => net.buffers(),
        }
    }
}

/// Trains `config.model` on `data` and returns what happened. Divergence ends the run
/// cleanly with [`Outcome::Diverged`]; the last good checkpoint stays.
pub fn train(
    config: &TrainConfig,
    data: &Split,
    observer: &mut dyn Observer,
) -> Result<Summary, TrainError> {
    let started = Instant::now();
    let train = &data.train;
    if config.batch_size == 0 {
        return Err(TrainError::Config(
            "`batch_size` = 0 is not allowed: must be at least 1".into(),
        ));
    }
    // A batch larger than the data is the whole data (as `Batches` takes it): every
    // buffer below is then sized by the rows, never by the number asked for.
    let bounded;
    let config = match train.len() {
        rows if rows > 0 && config.batch_size > rows => {
            bounded = TrainConfig {
                batch_size: rows,
                ..config.clone()
            };
            &bounded
        }
        _ => config,
    };
    if train.dim() != config.model.sizes[0] {
        return Err(TrainError::Config(format!(
            "the model takes {} inputs but the data has {} features",
            config.model.sizes[0],
            train.dim()
        )));
    }
    config.schedule.validate()?;
    if let (Some(m), Some(ck)) = (&config.metrics_out, &config.checkpoint) {
        for file in [m.clone(), steps_path(m)] {
            crate::outputs::refuse_in_checkpoints(&file, &ck.dir).map_err(TrainError::Config)?;
        }
    }
    let mut mlp =
        Mlp::new(config.model.clone(), config.seed, config.batch_size).with_threads(config.threads);
    let groups = param_groups(&mlp, config);
    let n_params = mlp.params().len();
    let mut optimizer = Optimizer::new(config.optimizer.clone(), groups, n_params)?;
    let mut driver = Driver::new(config.schedule.clone()).with_interval(config.interval);
    if let Some(m) = &config.momentum_schedule {
        driver = driver.with_momentum(m.clone());
    }
    let mut batches = Batches::new(train.len(), config.batch_size, config.seed)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let mut early = EarlyState {
        best: None,
        best_epoch: None,
        bad_epochs: 0,
        best_params: None,
        best_buffers: None,
    };
    let mut history = Vec::new();
    let mut first_epoch = 0;
    let mut watch = Watch::new(config.divergence);
    // Set when a resume finds the run already over: nothing is trained or written.
    let mut finished: Option<Outcome> = None;
    let mut folder_lock = None;

    if let Some(ck) = &config.checkpoint {
        std::fs::create_dir_all(&ck.dir).map_err(|source| CheckpointError::Io {
            path: ck.dir.clone(),
            source,
        })?;
        // One run per folder, held to the end of the run; then, a run killed while writing
        // a checkpoint leaves its temporary file behind.
        folder_lock = Some(crate::lock::FolderLock::acquire(&ck.dir).map_err(TrainError::Config)?);
        checkpoint::remove_stale_temporaries(&ck.dir);
        let found = checkpoint::list(&ck.dir)?;
        let best = checkpoint::best_path(&ck.dir);
        if !ck.resume && (!found.is_empty() || best.exists()) {
            if config.overwrite {
                for path in found.iter().map(|(_, p)| p).chain([&best]) {
                    match std::fs::remove_file(path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(CheckpointError::Io {
                                path: path.clone(),
                                source: e,
                            }
                            .into())
                        }
                        _ => {}
                    }
                }
            } else {
                let mut names: Vec<String> = found
                    .iter()
                    .map(|(_, p)| p.file_name().unwrap_or_default().to_string_lossy().into())
                    .collect();
                if best.exists() {
                    names.push("best.ckpt".into());
                }
                return Err(TrainError::Config(format!(
                    "checkpoint folder {} holds another run's checkpoints ({}): continue that run \
                     with `resume`, use another folder, or replace them with `overwrite`",
                    ck.dir.display(),
                    names.join(", ")
                )));
            }
        }
        if ck.resume && found.is_empty() && best.exists() {
            return Err(TrainError::Config(format!(
                "`resume`: {} holds best.ckpt but no epoch checkpoint to continue from (best.ckpt \
                 is the best epoch's state, not where the run stopped); nothing was changed. To go \
                 on from the best epoch, copy best.ckpt to epoch-NNNNNN.ckpt (NNNNNN its epoch)",
                ck.dir.display()
            )));
        }
        if ck.resume {
            if let Some((_, path)) = found.last().cloned() {
                let saved: SavedRun = checkpoint::read(&path)?;
                let mut saved_config = saved.config;
                // Checkpoints before threads left the run's identity still carry them.
                if let Some(map) = saved_config.as_object_mut() {
                    map.remove("threads");
                }
                let mut differences = Vec::new();
                lrsched::config::diff(
                    "config",
                    &saved_config,
                    &config.identity(),
                    &mut differences,
                );
                if !differences.is_empty() {
                    return Err(TrainError::Mismatch { path, differences });
                }
                if !mlp.load(&saved.params, &saved.buffers) {
                    return Err(TrainError::Mismatch {
                        path,
                        differences: vec!["parameter count".into()],
                    });
                }
                mlp.set_rng_state(saved.dropout_rng);
                optimizer.restore(&saved.optimizer)?;
                driver = driver.restore(&saved.driver)?;
                let (seed, epoch, position) = saved.batches;
                batches = Batches::resume(
                    train.len(),
                    config.batch_size,
                    BatchState {
                        seed,
                        epoch,
                        position,
                    },
                )
                .map_err(|e| TrainError::Config(e.to_string()))?;
                early = saved.early;
                history = saved.history;
                first_epoch = saved.epoch;
                watch = saved.watch.unwrap_or(watch);
                if saved.epoch > config.epochs {
                    return Err(TrainError::Config(format!(
                        "`epochs` = {} is fewer than the {} epochs {} has already run: give at \
                         least {} to continue it",
                        config.epochs,
                        saved.epoch,
                        path.display(),
                        saved.epoch
                    )));
                }
                if saved.early_stopped {
                    finished = Some(Outcome::EarlyStopped);
                } else if saved.epoch == config.epochs {
                    finished = Some(Outcome::Completed);
                }
            }
        }
    }
    if let Some(outcome) = finished {
        let params = match (&config.early_stop, &early.best_params) {
            (Some(es), Some(best)) if es.restore_best => best.clone(),
            _ => mlp.params().to_vec(),
        };
        return Ok(Summary {
            outcome,
            history,
            best_epoch: early.best_epoch,
            seconds: started.elapsed().as_secs_f64(),
            epochs_run: 0,
            params,
        });
    }

    let mut net = match config.engine {
        Engine::Fast => Net::Fast(mlp),
        Engine::Candle => {
            let mut net = CandleMlp::new(
                config.model.clone(),
                mlp.params(),
                mlp.buffers(),
                config.seed,
            )
            .map_err(|e| TrainError::Engine(e.to_string()))?;
            net.set_rng_state(mlp.rng_state());
            Net::Candle { net, eval: mlp }
        }
    };

    let per_epoch = batches.per_epoch();
    let resume_step = first_epoch * per_epoch as u64;
    // `resume` continues what the folder holds, even nothing (a run killed in its first
    // epoch): its metrics files are then this run's, started again.
    let resuming = config.checkpoint.as_ref().is_some_and(|ck| ck.resume);
    let mut metrics = MetricsFiles::open(
        config.metrics_out.as_ref(),
        resuming.then_some((history.as_slice(), resume_step)),
        config.overwrite,
    )?;
    let uses_momentum = config.optimizer.kind != OptimizerKind::Sgd;
    let (threads, cuts) = match &net {
        Net::Fast(m) => (
            Some(m.threads()).filter(|t| t.is_parallel()),
            m.update_cuts(),
        ),
        Net::Candle { .. } => (None, Vec::new()),
    };
    let mut xbuf = Vec::with_capacity(config.batch_size * train.dim());
    let mut labels: Vec<u32> = Vec::with_capacity(config.batch_size);
    let mut values: Vec<f32> = Vec::with_capacity(config.batch_size);
    let mut eval_params = vec![0.0f32; n_params];
    // The rate of the step before a resume, so the resumed log repeats no change event.
    let mut last_lr = match driver.current_step() {
        0 => f64::NAN,
        s => driver.schedule().value(s - 1),
    };
    let mut outcome = Outcome::Completed;
    let mut diverged_lr = f64::NAN;
    let mut epochs_run = 0;
    let mut warned_nonpositive = false;
    let mut cached: (Option<u64>, f64, Option<f64>) = (None, f64::NAN, None);
    // The optimizer's buffers reach subnormal floats too.
    let _ftz = crate::model::FlushDenormals::new();

    for epoch in first_epoch..config.epochs {
        let t0 = Instant::now();
        let mut loss_sum = 0.0f64;
        let mut seen = 0usize;
        for b in 0..per_epoch {
            let rows = batches.next_batch();
            // The fused engine's threads gather their own slices' rows.
            if matches!(net, Net::Candle { .. }) {
                xbuf.clear();
                train.gather_features(rows, &mut xbuf);
            }
            let n = rows.len();
            let targets = match train.targets() {
                Targets::Classes(c) => {
                    labels.clear();
                    labels.extend(rows.iter().map(|&i| c[i]));
                    BatchTargets::Classes(&labels)
                }
                Targets::Values(v) => {
                    values.clear();
                    values.extend(rows.iter().map(|&i| v[i]));
                    BatchTargets::Values(&values)
                }
            };
            // The rate changes only when the driver steps (per epoch for PyTorch configs), and
            // a replayed PyTorch schedule is not free to ask: once per driver step is enough.
            if cached.0 != Some(driver.current_step()) {
                cached = (
                    Some(driver.current_step()),
                    // A rate that is not finite (an lr_lambda that divides by zero at
                    // this epoch) ends the run naming the step and the value; the
                    // optimizer would only refuse "lr = NaN".
                    driver.try_lr()?,
                    driver.momentum().filter(|_| uses_momentum),
                );
            }
            let (lr, momentum) = (cached.1, cached.2);
            let loss = match &mut net {
                Net::Fast(m) => m.train_step_from(
                    BatchInput::Gather(&|start, count, out: &mut Vec<f32>| {
                        train.gather_features(&rows[start..start + count], out)
                    }),
                    targets,
                    n,
                ),
                Net::Candle { net, .. } => net
                    .train_step(&xbuf, targets, n)
                    .map_err(|e| TrainError::Engine(e.to_string()))?,
            };
            let step = epoch * per_epoch as u64 + b as u64;
            // The fused engine checks its gradients while its threads write them.
            let grads_finite = match &net {
                Net::Fast(m) => m.grads_finite(),
                Net::Candle { .. } => finite_sum(net.params_and_grads().1),
            };
            let (params, grads) = net.params_and_grads();
            let what = if !loss.is_finite() {
                Some(format!("loss is {loss}"))
            } else if !grads_finite {
                Some("a gradient is not finite".to_string())
            } else {
                watch.observe(loss as f64)
            };
            if let Some(what) = what {
                diverged_lr = lr;
                outcome = Outcome::Diverged {
                    epoch: epoch + 1,
                    step,
                    what,
                };
                break;
            }
            if lr <= 0.0 && !warned_nonpositive {
                warned_nonpositive = true;
                observer.on_nonpositive_lr(epoch + 1, step, lr);
            }
            // A parameter the update overflows shows in the next step's loss. The fused
            // engine's threads share the update (the same bits as one thread).
            match &threads {
                Some(t) => {
                    optimizer.step_on(params, grads, lr, momentum, &|n, f| t.run(n, f), &cuts)?
                }
                None => optimizer.step(params, grads, lr, momentum)?,
            };
            if lr != last_lr {
                metrics.lr_change(step, epoch + 1, last_lr, lr)?;
                last_lr = lr;
            }
            metrics.step(step, lr, loss)?;
            loss_sum += loss as f64 * n as f64;
            seen += n;
            observer.on_step(epoch + 1, b + 1, per_epoch, loss, lr);
            if config.interval == Interval::Step {
                driver.step();
            }
            if observer.should_stop() {
                outcome = Outcome::Stopped;
                break;
            }
        }
        if outcome == Outcome::Stopped {
            break;
        }
        if let Outcome::Diverged { step, .. } = &outcome {
            // The step it diverged at (the updates done before it), and the rate that
            // step was given: the same numbers the message says.
            let record = EpochRecord {
                epoch: epoch + 1,
                step: *step,
                train_loss: f64::NAN,
                val_loss: f64::NAN,
                val_acc: None,
                lr: diverged_lr,
                momentum: driver.momentum(),
                epoch_seconds: t0.elapsed().as_secs_f64(),
                samples_per_sec: 0.0,
                diverged: true,
            };
            metrics.epoch(&record)?;
            history.push(record);
            break;
        }

        // Validation, on the schedule-free average where the optimizer keeps one.
        optimizer.eval_params(net.params(), &mut eval_params)?;
        let (val_loss, val_acc) = {
            let buffers = net.buffers().to_vec();
            let eval_net = match &mut net {
                Net::Fast(m) => m,
                Net::Candle { eval, .. } => eval,
            };
            let saved = eval_net.params().to_vec();
            eval_net.load(&eval_params, &buffers);
            let result = evaluate(eval_net, data);
            eval_net.load(&saved, &buffers);
            result
        };
        let seconds = t0.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: epoch + 1,
            step: epoch * per_epoch as u64 + per_epoch as u64,
            train_loss: loss_sum / seen.max(1) as f64,
            val_loss,
            val_acc,
            lr: last_lr,
            momentum: driver.momentum(),
            epoch_seconds: seconds,
            samples_per_sec: seen as f64 / seconds.max(1e-9),
            diverged: false,
        };
        metrics.epoch(&record)?;
        observer.on_epoch(&record);

        // The schedule hears the epoch's metric, then (per epoch) advances.
        // Fed as measured: the schedule's mode (set from the monitor by
        // `Monitor::apply_mode` when the config leaves it out) decides what is better.
        let fed = config.plateau_monitor.read(&record);
        let needs_metric = driver.schedule().needs_metric();
        match config.interval {
            Interval::Epoch if needs_metric => driver.step_with_metric(fed)?,
            Interval::Epoch => driver.step(),
            Interval::Step if needs_metric => driver.observe(fed)?,
            Interval::Step => {}
        }

        let stop = update_early(&mut early, config, &record, &net);
        history.push(record);
        epochs_run += 1;

        if let Some(ck) = &config.checkpoint {
            let batch_state = batches.state();
            let saved = SavedRun {
                config: config.identity(),
                epoch: epoch + 1,
                params: net.params().to_vec(),
                buffers: net.buffers().to_vec(),
                dropout_rng: match &net {
                    Net::Fast(m) => m.rng_state(),
                    Net::Candle { net, .. } => net.rng_state(),
                },
                optimizer: optimizer.state(),
                driver: driver.state(),
                batches: (batch_state.seed, batch_state.epoch, batch_state.position),
                early: early.clone(),
                history: history.clone(),
                watch: Some(watch),
                early_stopped: stop,
            };
            checkpoint::write_atomic(&checkpoint::epoch_path(&ck.dir, epoch + 1), &saved)?;
            if early.best_epoch == Some(epoch + 1) {
                checkpoint::write_atomic(&checkpoint::best_path(&ck.dir), &saved)?;
            }
            checkpoint::prune(&ck.dir, ck.keep_last)?;
        }
        if stop {
            outcome = Outcome::EarlyStopped;
            break;
        }
        if observer.should_stop() {
            outcome = Outcome::Stopped;
            break;
        }
    }

    let mut params = net.params().to_vec();
    if let (Some(es), Some(best)) = (&config.early_stop, &early.best_params) {
        if es.restore_best {
            params = best.clone();
        }
    }
    let summary = Ok(Summary {
        outcome,
        history,
        best_epoch: early.best_epoch,
        seconds: started.elapsed().as_secs_f64(),
        epochs_run,
        params,
    });
    drop(folder_lock);
    summary
}

/// Whether every value is finite, in one vectorisable pass: the sum of finite f32s is
/// finite (a sum that overflows is a divergence too), while any NaN or inf makes it so.
fn finite_sum(values: &[f32]) -> bool {
    let mut lanes = [0.0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v.abs();
        }
    }
    let rest: f32 = chunks.remainder().iter().map(|v| v.abs()).sum();
    (lanes.iter().sum::<f32>() + rest).is_finite()
}

/// Groups: everything in one group, or weights apart from biases and norms (no decay).
pub(crate) fn param_groups(mlp: &Mlp, config: &TrainConfig) -> Vec<ParamGroup> {
    let n = mlp.params().len();
    if !config.no_decay_on_bias_and_norm {
        return vec![ParamGroup::new(0..n)];
    }
    let (weights, other) = mlp.weight_and_other_ranges();
    weights
        .into_iter()
        .map(ParamGroup::new)
        .chain(
            other
                .into_iter()
                .map(|r| ParamGroup::new(r).with_weight_decay(0.0)),
        )
        .collect()
}

fn evaluate(mlp: &mut Mlp, data: &Split) -> (f64, Option<f64>) {
    let val = &data.val;
    match val.targets() {
        Targets::Classes(c) => mlp.evaluate(val.features(), BatchTargets::Classes(c), val.len()),
        Targets::Values(v) => mlp.evaluate(val.features(), BatchTargets::Values(v), val.len()),
    }
}

/// Records the epoch for early stopping; `true` when patience has run out.
fn update_early(
    early: &mut EarlyState,
    config: &TrainConfig,
    record: &EpochRecord,
    net: &Net,
) -> bool {
    let (monitor, min_delta, patience, keep) = match &config.early_stop {
        Some(es) => (es.monitor, es.min_delta, Some(es.patience), es.restore_best),
        None => (Monitor::ValLoss, 0.0, None, false),
    };
    let v = monitor.read(record);
    let improved = v.is_finite()
        && match early.best {
            None => true,
            Some(b) if monitor.higher_is_better() => v > b + min_delta,
            Some(b) => v < b - min_delta,
        };
    if improved {
        early.best = Some(v);
        early.best_epoch = Some(record.epoch);
        early.bad_epochs = 0;
        if keep {
            early.best_params = Some(net.params().to_vec());
            early.best_buffers = Some(net.buffers().to_vec());
        }
    } else {
        early.bad_epochs += 1;
    }
    patience.is_some_and(|p| early.bad_epochs > p)
}

/// Where the per-step log of `--metrics-out` goes: `<stem>.steps.jsonl` beside it.
///
/// ```
/// use std::path::Path;
/// let p = lrsched_train::trainer::steps_path(Path::new("runs/a.jsonl"));
/// assert_eq!(p, Path::new("runs/a.steps.jsonl"));
/// ```
pub fn steps_path(metrics_out: &Path) -> PathBuf {
    metrics_out.with_extension("steps.jsonl")
}

/// The epoch and step metrics files.
struct MetricsFiles {
    epochs: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    steps: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
}

impl MetricsFiles {
    /// Opens the files for appending. A fresh run refuses files that exist (another run's
    /// measurements) unless `overwrite`. On a resume the files are first cut back to what
    /// the checkpoint covers (its epochs, and steps before `resume_step`), since a run
    /// killed after its last checkpoint may have written lines the resumed run writes
    /// again; the cut-back file replaces the old one atomically, so a kill at any moment
    /// leaves either the old lines or the kept ones, never an empty file.
    fn open(
        path: Option<&PathBuf>,
        resumed: Option<(&[EpochRecord], u64)>,
        overwrite: bool,
    ) -> Result<MetricsFiles, TrainError> {
        let Some(path) = path else {
            return Ok(MetricsFiles {
                epochs: None,
                steps: None,
            });
        };
        let steps_path = steps_path(path);
        let metrics_err = |p: &PathBuf| {
            let p = p.clone();
            move |source| TrainError::Metrics { path: p, source }
        };
        let start = |p: &PathBuf, head: &str| -> Result<(), TrainError> {
            checkpoint::write_bytes_atomic(p, head.as_bytes()).map_err(|e| match e {
                CheckpointError::Io { source, .. } => TrainError::Metrics {
                    path: p.clone(),
                    source,
                },
                other => other.into(),
            })
        };
        match resumed {
            Some((history, resume_step)) => {
                let mut epoch_lines = String::new();
                for r in history {
                    epoch_lines.push_str(&Self::epoch_line(r).to_string());
                    epoch_lines.push('\n');
                }
                let mut step_lines = String::new();
                let old = match std::fs::read_to_string(&steps_path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(e) => return Err(metrics_err(&steps_path)(e)),
                };
                for line in old.lines() {
                    let step = serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v.get("step").and_then(|s| s.as_u64()));
                    if step.is_some_and(|s| s < resume_step) {
                        step_lines.push_str(line);
                        step_lines.push('\n');
                    }
                }
                start(path, &epoch_lines)?;
                start(&steps_path, &step_lines)?;
            }
            None => {
                for p in [path, &steps_path] {
                    if p.exists() && !overwrite {
                        return Err(TrainError::Config(format!(
                            "`metrics_out`: {} exists and may hold another run's measurements: \
                             choose a new path, or replace it with `overwrite`",
                            p.display()
                        )));
                    }
                }
                start(path, "")?;
                start(&steps_path, "")?;
            }
        }
        let append = |p: &PathBuf| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(p)
                .map(std::io::BufWriter::new)
                .map_err(metrics_err(p))
        };
        Ok(MetricsFiles {
            epochs: Some((path.clone(), append(path)?)),
            steps: Some((steps_path.clone(), append(&steps_path)?)),
        })
    }

    fn write(
        file: &mut Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
        line: &serde_json::Value,
        flush: bool,
    ) -> Result<(), TrainError> {
        if let Some((path, w)) = file {
            let result = writeln!(w, "{line}").and_then(|_| if flush { w.flush() } else { Ok(()) });
            result.map_err(|source| TrainError::Metrics {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// An epoch's line, the same bytes whether written live or again on a resume.
    fn epoch_line(r: &EpochRecord) -> serde_json::Value {
        serde_json::to_value(r).unwrap_or_default()
    }

    fn epoch(&mut self, r: &EpochRecord) -> Result<(), TrainError> {
        let line = Self::epoch_line(r);
        Self::write(&mut self.epochs, &line, true)?;
        // Steps are flushed with each epoch so a killed run leaves whole lines.
        if let Some((path, w)) = &mut self.steps {
            w.flush().map_err(|source| TrainError::Metrics {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn step(&mut self, step: u64, lr: f64, loss: f32) -> Result<(), TrainError> {
        if self.steps.is_none() {
            return Ok(());
        }
        Self::write(
            &mut self.steps,
            &serde_json::json!({"step": step, "lr": lr, "loss": loss}),
            false,
        )
    }

    fn lr_change(&mut self, step: u64, epoch: u64, from: f64, to: f64) -> Result<(), TrainError> {
        if self.steps.is_none() {
            return Ok(());
        }
        let from = if from.is_nan() {
            serde_json::Value::Null
        } else {
            from.into()
        };
        Self::write(
            &mut self.steps,
            &serde_json::json!({"event": "lr_change", "step": step, "epoch": epoch, "from": from, "to": to}),
            false,
        )
    }
}
