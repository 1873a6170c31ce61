//! The phases of [`super::train`], in the order a run goes through them: the inputs
//! checked ([`checked`]), the model, optimizer, schedule and batch order built
//! ([`Start::build`]), the checkpoint folder claimed and a saved run restored
//! ([`Start::claim_folder`], [`Start::resume`]), then the epochs ([`Training::epoch`]: the
//! batches' steps, a divergence's record, validation, the schedule's metric, early
//! stopping, the checkpoint) and the summary ([`Training::finish`]).

use super::metrics::{steps_path, MetricsFiles};
use super::{Engine, EpochRecord, Monitor, Observer, Outcome, Summary, TrainConfig, TrainError};
use crate::checkpoint::{self, CheckpointError};
use crate::data::{BatchState, Batches, Dataset, Split, Targets};
use crate::divergence::Watch;
use crate::lock::FolderLock;
use crate::model::{BatchInput, BatchTargets, CandleMlp, Mlp};
use crate::optim::{Optimizer, OptimizerKind, OptimizerState, ParamGroup};
use lrsched::driver::Interval;
use lrsched::{Driver, DriverState, Schedule};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EarlyState {
    best: Option<f64>,
    best_epoch: Option<u64>,
    bad_epochs: u64,
    /// In PyTorch's order, as everything a checkpoint holds.
    best_params: Option<Vec<f32>>,
    best_buffers: Option<Vec<f32>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedRun {
    config: serde_json::Value,
    epoch: u64,
    /// In PyTorch's order (`Mlp::to_torch_order`), as are the optimizer's per-parameter
    /// buffers: the same file for either engine and any storage order.
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
    /// The parameters in PyTorch's order (what checkpoints and summaries hold).
    fn torch_params(&self) -> Vec<f32> {
        match self {
            Net::Fast(m) => torch_order(m, m.params().to_vec()),
            Net::Candle { net, .. } => net.params().to_vec(),
        }
    }
    /// The optimizer's state with its per-parameter buffers in PyTorch's order.
    fn torch_state(&self, mut state: OptimizerState) -> OptimizerState {
        if let Net::Fast(m) = self {
            reorder_state(&mut state, m.params().len(), |v| m.to_torch_order(v));
        }
        state
    }
    fn buffers(&self) -> &[f32] {
        match self {
            Net::Fast(m) => m.buffers(),
            Net::Candle { net, .. } => net.buffers(),
        }
    }
}

/// `values` (laid out as `mlp`'s parameters) in PyTorch's order.
fn torch_order(mlp: &Mlp, mut values: Vec<f32>) -> Vec<f32> {
    mlp.to_torch_order(&mut values);
    values
}

/// `reorder` applied to each of an optimizer state's per-parameter buffers (those
/// `n_params` long, the model's parameter count: every one a restorable state holds; a
/// state that does not fit is refused by `Optimizer::restore`, naming the difference).
fn reorder_state(state: &mut OptimizerState, n_params: usize, reorder: impl Fn(&mut [f32])) {
    for buffer in &mut state.buffers {
        if buffer.values.len() == n_params {
            reorder(&mut buffer.values);
        }
    }
}

/// A batch's targets, gathered into buffers allocated once: the one gathering of the
/// trainer's steps and of the range test ([`crate::find_lr::range_test`]).
pub(crate) struct TargetRows {
    labels: Vec<u32>,
    values: Vec<f32>,
}

impl TargetRows {
    /// Room for batches of `batch` rows.
    pub(crate) fn new(batch: usize) -> TargetRows {
        TargetRows {
            labels: Vec::with_capacity(batch),
            values: Vec::with_capacity(batch),
        }
    }

    /// The targets of `rows` of `data`, in their order.
    pub(crate) fn gather<'a>(&'a mut self, data: &Dataset, rows: &[usize]) -> BatchTargets<'a> {
        match data.targets() {
            Targets::Classes(c) => {
                self.labels.clear();
                self.labels.extend(rows.iter().map(|&i| c[i]));
                BatchTargets::Classes(&self.labels)
            }
            Targets::Values(v) => {
                self.values.clear();
                self.values.extend(rows.iter().map(|&i| v[i]));
                BatchTargets::Values(&self.values)
            }
        }
    }
}

/// One training step of the fused engine on `rows` of `data`: its threads gather their
/// own slices' rows. The step of the trainer and of the range test.
pub(crate) fn fast_step(
    mlp: &mut Mlp,
    data: &Dataset,
    rows: &[usize],
    targets: BatchTargets<'_>,
) -> f32 {
    mlp.train_step_from(
        BatchInput::Gather(&|start, count, out: &mut [f32]| {
            data.gather_features_into(&rows[start..start + count], out)
        }),
        targets,
        rows.len(),
    )
}

/// Phase 1: the settings checked against the data. A batch larger than the data is the
/// whole data (as `Batches` takes it): every buffer is then sized by the rows, never by
/// the number asked for.
pub(super) fn checked<'a>(
    config: &'a TrainConfig,
    data: &Split,
) -> Result<Cow<'a, TrainConfig>, TrainError> {
    let train = &data.train;
    if config.batch_size == 0 {
        return Err(TrainError::Config(
            "`batch_size` = 0 is not allowed: must be at least 1".into(),
        ));
    }
    let config = match train.len() {
        rows if rows > 0 && config.batch_size > rows => Cow::Owned(TrainConfig {
            batch_size: rows,
            ..config.clone()
        }),
        _ => Cow::Borrowed(config),
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
    Ok(config)
}

/// The model and optimizer a run of `config` starts from: its initialisation, parameter
/// groups and optimizer settings.
pub(crate) fn initial_state(config: &TrainConfig) -> Result<(Mlp, Optimizer), TrainError> {
    let mlp =
        Mlp::new(config.model.clone(), config.seed, config.batch_size).with_threads(config.threads);
    let groups = param_groups(&mlp, config);
    let n_params = mlp.params().len();
    let optimizer = Optimizer::new(config.optimizer.clone(), groups, n_params)?;
    Ok((mlp, optimizer))
}

/// A claimed checkpoint folder: its lock, and the epoch checkpoints it holds.
pub(super) type Claimed = (FolderLock, Vec<(u64, std::path::PathBuf)>);

/// A run before its first epoch: built fresh, then perhaps restored from a checkpoint.
pub(super) struct Start<'a> {
    config: &'a TrainConfig,
    data: &'a Split,
    mlp: Mlp,
    run: Progress,
}

/// What a run carries from its start through its epochs: the optimizer, the schedule's
/// driver, the batch order, early stopping's state, the history, the divergence watch
/// (and, before any epoch of this process, the epoch it starts from).
struct Progress {
    optimizer: Optimizer,
    driver: Driver,
    batches: Batches,
    early: EarlyState,
    history: Vec<EpochRecord>,
    first_epoch: u64,
    watch: Watch,
}

impl<'a> Start<'a> {
    /// Phase 2: the model, optimizer, schedule driver and batch order of a fresh run.
    pub(super) fn build(config: &'a TrainConfig, data: &'a Split) -> Result<Self, TrainError> {
        let (mlp, optimizer) = initial_state(config)?;
        let mut driver = Driver::new(config.schedule.clone()).with_interval(config.interval);
        if let Some(m) = &config.momentum_schedule {
            driver = driver.with_momentum(m.clone());
        }
        let batches = Batches::new(data.train.len(), config.batch_size, config.seed)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(Start {
            config,
            data,
            mlp,
            run: Progress {
                optimizer,
                driver,
                batches,
                early: EarlyState {
                    best: None,
                    best_epoch: None,
                    bad_epochs: 0,
                    best_params: None,
                    best_buffers: None,
                },
                history: Vec::new(),
                first_epoch: 0,
                watch: Watch::new(config.divergence),
            },
        })
    }

    /// Phase 3: the checkpoint folder made and locked (one run per folder, held to the end
    /// of the run), a killed run's temporary files removed, and another run's checkpoints
    /// refused or (with `overwrite`) removed. Returns the lock and the epoch checkpoints
    /// found.
    pub(super) fn claim_folder(&self) -> Result<Option<Claimed>, TrainError> {
        let (config, Some(ck)) = (self.config, &self.config.checkpoint) else {
            return Ok(None);
        };
        std::fs::create_dir_all(&ck.dir).map_err(|source| CheckpointError::Io {
            path: ck.dir.clone(),
            source,
        })?;
        let lock = FolderLock::acquire(&ck.dir).map_err(TrainError::Config)?;
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
        Ok(Some((lock, found)))
    }

    /// Phase 4: with `resume`, the run continued from the newest epoch checkpoint in
    /// `found`, refused when it belongs to another run. Returns the outcome when the
    /// saved run is already over (nothing is then trained or written).
    pub(super) fn resume(
        &mut self,
        found: &[(u64, std::path::PathBuf)],
    ) -> Result<Option<Outcome>, TrainError> {
        let config = self.config;
        if !config.checkpoint.as_ref().is_some_and(|ck| ck.resume) {
            return Ok(None);
        }
        let Some((_, path)) = found.last().cloned() else {
            return Ok(None);
        };
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
        // Checkpoints hold PyTorch's order; the fused engine's optimizer works in its own.
        let mut params = saved.params;
        let mut optimizer = saved.optimizer;
        if params.len() == self.mlp.params().len() {
            self.mlp.from_torch_order(&mut params);
            if config.engine == Engine::Fast {
                let n = self.mlp.params().len();
                reorder_state(&mut optimizer, n, |v| self.mlp.from_torch_order(v));
            }
        }
        if !self.mlp.load(&params, &saved.buffers) {
            return Err(TrainError::Mismatch {
                path,
                differences: vec!["parameter count".into()],
            });
        }
        self.mlp.set_rng_state(saved.dropout_rng);
        self.run.optimizer.restore(&optimizer)?;
        self.run.driver = self.run.driver.clone().restore(&saved.driver)?;
        let (seed, epoch, position) = saved.batches;
        self.run.batches = Batches::resume(
            self.data.train.len(),
            config.batch_size,
            BatchState {
                seed,
                epoch,
                position,
            },
        )
        .map_err(|e| TrainError::Config(e.to_string()))?;
        self.run.early = saved.early;
        self.run.history = saved.history;
        self.run.first_epoch = saved.epoch;
        self.run.watch = saved.watch.unwrap_or(self.run.watch);
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
        Ok(if saved.early_stopped {
            Some(Outcome::EarlyStopped)
        } else if saved.epoch == config.epochs {
            Some(Outcome::Completed)
        } else {
            None
        })
    }

    /// The summary of a resumed run that was already over: nothing trained.
    pub(super) fn finished(self, outcome: Outcome, started: Instant) -> Summary {
        let params = match (&self.config.early_stop, &self.run.early.best_params) {
            (Some(es), Some(best)) if es.restore_best => best.clone(),
            _ => torch_order(&self.mlp, self.mlp.params().to_vec()),
        };
        Summary {
            outcome,
            history: self.run.history,
            best_epoch: self.run.early.best_epoch,
            seconds: started.elapsed().as_secs_f64(),
            epochs_run: 0,
            params,
        }
    }

    /// Phase 5: the engine that trains, the metrics files opened (cut back to the
    /// checkpoint on a resume), and the buffers of the steps.
    pub(super) fn into_training(self) -> Result<Training<'a>, TrainError> {
        let config = self.config;
        let net = match config.engine {
            Engine::Fast => Net::Fast(self.mlp),
            Engine::Candle => {
                let mut net = CandleMlp::new(
                    config.model.clone(),
                    &torch_order(&self.mlp, self.mlp.params().to_vec()),
                    self.mlp.buffers(),
                    config.seed,
                )
                .map_err(|e| TrainError::Engine(e.to_string()))?;
                net.set_rng_state(self.mlp.rng_state());
                Net::Candle {
                    net,
                    eval: self.mlp,
                }
            }
        };
        let per_epoch = self.run.batches.per_epoch();
        let resume_step = self.run.first_epoch * per_epoch as u64;
        // `resume` continues what the folder holds, even nothing (a run killed in its first
        // epoch): its metrics files are then this run's, started again.
        let resuming = config.checkpoint.as_ref().is_some_and(|ck| ck.resume);
        let metrics = MetricsFiles::open(
            config.metrics_out.as_ref(),
            resuming.then_some((self.run.history.as_slice(), resume_step)),
            config.overwrite,
        )?;
        let (threads, cuts) = match &net {
            Net::Fast(m) => (
                Some(m.threads()).filter(|t| t.is_parallel()),
                m.update_cuts(),
            ),
            Net::Candle { .. } => (None, Vec::new()),
        };
        // The rate of the step before a resume, so the resumed log repeats no change event.
        let last_lr = match self.run.driver.current_step() {
            0 => f64::NAN,
            s => self.run.driver.schedule().value(s - 1),
        };
        let n_params = net.params().len();
        Ok(Training {
            config,
            data: self.data,
            net,
            run: self.run,
            per_epoch,
            metrics,
            uses_momentum: config.optimizer.kind != OptimizerKind::Sgd,
            threads,
            cuts,
            xbuf: Vec::with_capacity(config.batch_size * self.data.train.dim()),
            targets: TargetRows::new(config.batch_size),
            eval_params: vec![0.0f32; n_params],
            last_lr,
            warned_nonpositive: false,
            cached: (None, f64::NAN, None),
            epochs_run: 0,
        })
    }
}

/// A run in its epochs.
pub(super) struct Training<'a> {
    config: &'a TrainConfig,
    data: &'a Split,
    net: Net,
    run: Progress,
    per_epoch: usize,
    metrics: MetricsFiles,
    uses_momentum: bool,
    /// The fused engine's threads, which share the optimizer's update, and its cuts.
    threads: Option<crate::model::Threads>,
    cuts: Vec<usize>,
    /// The candle engine's input rows (the fused engine's threads gather their own).
    xbuf: Vec<f32>,
    targets: TargetRows,
    eval_params: Vec<f32>,
    /// The rate of the last step, for the step log's change events.
    last_lr: f64,
    warned_nonpositive: bool,
    /// The rate and momentum of the driver step they were read at.
    cached: (Option<u64>, f64, Option<f64>),
    epochs_run: u64,
}

/// How a run's batches of one epoch ended.
enum EpochBatches {
    /// Every batch trained, with the summed loss and the samples seen.
    Done { loss_sum: f64, seen: usize },
    /// The run ends here with this outcome (stopped, or diverged at a step given `lr`).
    End(Outcome, f64),
}

impl Training<'_> {
    /// The epochs the run still has.
    pub(super) fn epochs(&self) -> std::ops::Range<u64> {
        self.run.first_epoch..self.config.epochs
    }

    /// Phase 6: one epoch (from 0), trained, validated, fed to the schedule and saved.
    /// Returns how the run ends when it ends here.
    pub(super) fn epoch(
        &mut self,
        epoch: u64,
        observer: &mut dyn Observer,
    ) -> Result<Option<Outcome>, TrainError> {
        let t0 = Instant::now();
        let (loss_sum, seen) = match self.train_batches(epoch, observer)? {
            EpochBatches::Done { loss_sum, seen } => (loss_sum, seen),
            EpochBatches::End(Outcome::Stopped, _) => return Ok(Some(Outcome::Stopped)),
            EpochBatches::End(diverged, lr) => {
                self.record_divergence(epoch, &diverged, lr, t0)?;
                return Ok(Some(diverged));
            }
        };
        let (val_loss, val_acc) = self.validate()?;
        let seconds = t0.elapsed().as_secs_f64();
        let per_epoch = self.per_epoch as u64;
        let record = EpochRecord {
            epoch: epoch + 1,
            step: epoch * per_epoch + per_epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            val_loss,
            val_acc,
            lr: self.last_lr,
            momentum: self.run.driver.momentum(),
            epoch_seconds: seconds,
            samples_per_sec: seen as f64 / seconds.max(1e-9),
            diverged: false,
        };
        self.metrics.epoch(&record)?;
        observer.on_epoch(&record);
        self.feed_schedule(&record)?;
        let stop = self.update_early(&record);
        self.run.history.push(record);
        self.epochs_run += 1;
        self.save_checkpoint(epoch, stop)?;
        if stop {
            return Ok(Some(Outcome::EarlyStopped));
        }
        if observer.should_stop() {
            return Ok(Some(Outcome::Stopped));
        }
        Ok(None)
    }

    /// The epoch's batches, one optimizer step each.
    fn train_batches(
        &mut self,
        epoch: u64,
        observer: &mut dyn Observer,
    ) -> Result<EpochBatches, TrainError> {
        let data: &Split = self.data;
        let train = &data.train;
        let per_epoch = self.per_epoch;
        let mut loss_sum = 0.0f64;
        let mut seen = 0usize;
        for b in 0..per_epoch {
            let rows = self.run.batches.next_batch();
            // The fused engine's threads gather their own slices' rows.
            if matches!(self.net, Net::Candle { .. }) {
                self.xbuf.clear();
                train.gather_features(rows, &mut self.xbuf);
            }
            let n = rows.len();
            let targets = self.targets.gather(train, rows);
            // The rate changes only when the driver steps (per epoch for PyTorch configs),
            // and a replayed PyTorch schedule is not free to ask: once per driver step is
            // enough.
            if self.cached.0 != Some(self.run.driver.current_step()) {
                self.cached = (
                    Some(self.run.driver.current_step()),
                    // A rate that is not finite (an lr_lambda that divides by zero at
                    // this epoch) ends the run naming the step and the value; the
                    // optimizer would only refuse "lr = NaN".
                    self.run.driver.try_lr()?,
                    self.run.driver.momentum().filter(|_| self.uses_momentum),
                );
            }
            let (lr, momentum) = (self.cached.1, self.cached.2);
            let loss = match &mut self.net {
                Net::Fast(m) => fast_step(m, train, rows, targets),
                Net::Candle { net, .. } => net
                    .train_step(&self.xbuf, targets, n)
                    .map_err(|e| TrainError::Engine(e.to_string()))?,
            };
            let step = epoch * per_epoch as u64 + b as u64;
            // The fused engine checks its gradients while its threads write them.
            let grads_finite = match &mut self.net {
                Net::Fast(m) => m.grads_finite(),
                Net::Candle { net, .. } => {
                    crate::model::abs_sum(net.params_and_grads().1).is_finite()
                }
            };
            let (params, grads) = self.net.params_and_grads();
            let what = if !loss.is_finite() {
                Some(format!("loss is {loss}"))
            } else if !grads_finite {
                Some("a gradient is not finite".to_string())
            } else {
                self.run.watch.observe(loss as f64)
            };
            if let Some(what) = what {
                let outcome = Outcome::Diverged {
                    epoch: epoch + 1,
                    step,
                    what,
                };
                return Ok(EpochBatches::End(outcome, lr));
            }
            if lr <= 0.0 && !self.warned_nonpositive {
                self.warned_nonpositive = true;
                observer.on_nonpositive_lr(epoch + 1, step, lr);
            }
            // A parameter the update overflows shows in the next step's loss. The fused
            // engine's threads share the update (the same bits as one thread).
            match &self.threads {
                Some(t) => self.run.optimizer.step_on(
                    params,
                    grads,
                    lr,
                    momentum,
                    &|n, f| t.run(n, f),
                    &self.cuts,
                )?,
                None => self.run.optimizer.step(params, grads, lr, momentum)?,
            };
            if lr != self.last_lr {
                self.metrics.lr_change(step, epoch + 1, self.last_lr, lr)?;
                self.last_lr = lr;
            }
            self.metrics.step(step, lr, loss)?;
            loss_sum += loss as f64 * n as f64;
            seen += n;
            observer.on_step(epoch + 1, b + 1, per_epoch, loss, lr);
            if self.config.interval == Interval::Step {
                self.run.driver.step();
            }
            if observer.should_stop() {
                return Ok(EpochBatches::End(Outcome::Stopped, lr));
            }
        }
        Ok(EpochBatches::Done { loss_sum, seen })
    }

    /// The record of the epoch a run diverged in: the step it diverged at (the updates
    /// done before it), and the rate that step was given, the same numbers the message
    /// says.
    fn record_divergence(
        &mut self,
        epoch: u64,
        outcome: &Outcome,
        lr: f64,
        t0: Instant,
    ) -> Result<(), TrainError> {
        let Outcome::Diverged { step, .. } = outcome else {
            return Ok(());
        };
        let record = EpochRecord {
            epoch: epoch + 1,
            step: *step,
            train_loss: f64::NAN,
            val_loss: f64::NAN,
            val_acc: None,
            lr,
            momentum: self.run.driver.momentum(),
            epoch_seconds: t0.elapsed().as_secs_f64(),
            samples_per_sec: 0.0,
            diverged: true,
        };
        self.metrics.epoch(&record)?;
        self.run.history.push(record);
        Ok(())
    }

    /// Validation loss and accuracy, on the schedule-free average where the optimizer
    /// keeps one.
    fn validate(&mut self) -> Result<(f64, Option<f64>), TrainError> {
        self.run
            .optimizer
            .eval_params(self.net.params(), &mut self.eval_params)?;
        let buffers = self.net.buffers().to_vec();
        let candle = matches!(self.net, Net::Candle { .. });
        let eval_net = match &mut self.net {
            Net::Fast(m) => m,
            Net::Candle { eval, .. } => eval,
        };
        let saved = eval_net.params().to_vec();
        if candle {
            // candle's parameters are in PyTorch's order, the evaluating engine's not.
            eval_net.from_torch_order(&mut self.eval_params);
        }
        eval_net.load(&self.eval_params, &buffers);
        let result = evaluate(eval_net, self.data);
        eval_net.load(&saved, &buffers);
        Ok(result)
    }

    /// The schedule hears the epoch's metric, then (per epoch) advances. Fed as measured:
    /// the schedule's mode (set from the monitor by `Monitor::apply_mode` when the config
    /// leaves it out) decides what is better.
    fn feed_schedule(&mut self, record: &EpochRecord) -> Result<(), TrainError> {
        let fed = self.config.plateau_monitor.read(record);
        let needs_metric = self.run.driver.schedule().needs_metric();
        match self.config.interval {
            Interval::Epoch if needs_metric => self.run.driver.step_with_metric(fed)?,
            Interval::Epoch => self.run.driver.step(),
            Interval::Step if needs_metric => self.run.driver.observe(fed)?,
            Interval::Step => {}
        }
        Ok(())
    }

    /// Records the epoch for early stopping; `true` when patience has run out.
    fn update_early(&mut self, record: &EpochRecord) -> bool {
        let early = &mut self.run.early;
        let (monitor, min_delta, patience, keep) = match &self.config.early_stop {
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
                early.best_params = Some(self.net.torch_params());
                early.best_buffers = Some(self.net.buffers().to_vec());
            }
        } else {
            early.bad_epochs += 1;
        }
        patience.is_some_and(|p| early.bad_epochs > p)
    }

    /// The epoch's checkpoint (and `best.ckpt` at the best epoch), then the old ones
    /// pruned; `early_stopped` when early stopping ends the run here.
    fn save_checkpoint(&self, epoch: u64, early_stopped: bool) -> Result<(), TrainError> {
        let Some(ck) = &self.config.checkpoint else {
            return Ok(());
        };
        let batch_state = self.run.batches.state();
        let saved = SavedRun {
            config: self.config.identity(),
            epoch: epoch + 1,
            params: self.net.torch_params(),
            buffers: self.net.buffers().to_vec(),
            dropout_rng: match &self.net {
                Net::Fast(m) => m.rng_state(),
                Net::Candle { net, .. } => net.rng_state(),
            },
            optimizer: self.net.torch_state(self.run.optimizer.state()),
            driver: self.run.driver.state(),
            batches: (batch_state.seed, batch_state.epoch, batch_state.position),
            early: self.run.early.clone(),
            history: self.run.history.clone(),
            watch: Some(self.run.watch),
            early_stopped,
        };
        checkpoint::write_atomic(&checkpoint::epoch_path(&ck.dir, epoch + 1), &saved)?;
        if self.run.early.best_epoch == Some(epoch + 1) {
            checkpoint::write_atomic(&checkpoint::best_path(&ck.dir), &saved)?;
        }
        checkpoint::prune(&ck.dir, ck.keep_last)?;
        Ok(())
    }

    /// Phase 7: the summary, with the best epoch's parameters where `restore_best` asks.
    pub(super) fn finish(self, outcome: Outcome, started: Instant) -> Summary {
        let mut params = self.net.torch_params();
        if let (Some(es), Some(best)) = (&self.config.early_stop, &self.run.early.best_params) {
            if es.restore_best {
                params = best.clone();
            }
        }
        Summary {
            outcome,
            history: self.run.history,
            best_epoch: self.run.early.best_epoch,
            seconds: started.elapsed().as_secs_f64(),
            epochs_run: self.epochs_run,
            params,
        }
    }
}

/// Groups: everything in one group, or weights apart from biases and norms (no decay).
fn param_groups(mlp: &Mlp, config: &TrainConfig) -> Vec<ParamGroup> {
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
