//! `lrsched train`: one training run with a schedule in the loop.

use crate::UserError;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lrsched::driver::Interval;
use lrsched::time::RunShape;
use lrsched::{config, oneline, AnySchedule};
use lrsched_train::data::{self, csv::CsvOptions, spirals::SpiralsOptions, Source, Split};
use lrsched_train::model::{Activation, Init, ModelSpec};
use lrsched_train::optim::{Clip, OptimizerConfig, OptimizerKind};
use lrsched_train::trainer::{
    train, CheckpointOptions, EarlyStop, Engine, EpochRecord, Monitor, Observer, Outcome, Summary,
    TrainConfig,
};
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Exit status of a run that diverged.
pub const EXIT_DIVERGED: u8 = 3;

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum DataKind {
    Digits,
    Xor,
    Spirals,
    Mnist,
    Csv,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum OptimizerArg {
    Sgd,
    Momentum,
    Nesterov,
    Rmsprop,
    Adam,
    Adamw,
    #[value(name = "sf-sgd")]
    SfSgd,
    #[value(name = "sf-adamw")]
    SfAdamw,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum IntervalArg {
    Epoch,
    Step,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum EngineArg {
    Fast,
    Candle,
}

/// The flags `train` (and later `compare`) take.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The data set: built-in digits, xor or spirals; MNIST from --data-dir; a CSV file.
    #[arg(long, value_enum, default_value = "digits")]
    pub data: DataKind,
    /// Folder with the MNIST IDX files (gzip or not), or the download cache.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Fetch MNIST into --data-dir (checked by SHA-256) if it is not there.
    #[arg(long)]
    pub download: bool,
    /// Where --download fetches from: folder addresses (https:// or http://) tried in
    /// turn; repeat the flag or separate them with commas. Root certificates: the
    /// built-in Mozilla set, or the PEM file named by LRSCHED_CA_CERT.
    #[arg(long, value_delimiter = ',', default_values = data::mnist::DEFAULT_MIRRORS)]
    pub download_url: Vec<String>,
    /// The CSV file for --data csv.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// The CSV target column (default: the last).
    #[arg(long)]
    pub target: Option<String>,
    /// Points of --data spirals (4 to 10000000).
    #[arg(long, default_value_t = 1000)]
    pub spirals_size: usize,
    /// Noise of --data spirals.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.05)]
    pub spirals_noise: f64,
    /// Hidden sizes (`128`, `64-32`), or a full spec starting with the input size (`784-128-10`).
    #[arg(long, default_value = "64")]
    pub model: String,
    /// Hidden activation.
    #[arg(long, value_enum, default_value = "relu")]
    pub activation: ActivationArg,
    /// BatchNorm after each hidden layer.
    #[arg(long)]
    pub batch_norm: bool,
    /// Dropout probability after each hidden activation.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.0)]
    pub dropout: f32,
    /// Weight initialisation.
    #[arg(long, value_enum, default_value = "torch")]
    pub init: InitArg,
    /// The optimizer.
    #[arg(long, value_enum, default_value = "momentum")]
    pub optimizer: OptimizerArg,
    /// Base learning rate: the rate with no schedule, and `lr` of a PyTorch config without one.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Momentum (SGD kinds, RMSProp) or beta1 (Adam kinds).
    #[arg(long, allow_hyphen_values = true)]
    pub momentum: Option<f64>,
    /// Weight decay (L2 for SGD/Adam/RMSProp, decoupled for AdamW).
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Decoupled weight decay for every optimizer (as AdamW does).
    #[arg(long)]
    pub decoupled_weight_decay: bool,
    /// Exempt biases and BatchNorm parameters from weight decay.
    #[arg(long)]
    pub no_decay_bias: bool,
    /// L1 penalty on the weights.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.0)]
    pub l1: f64,
    /// Clip the gradients' total norm to this.
    #[arg(long, allow_hyphen_values = true, conflicts_with = "clip_value")]
    pub clip_norm: Option<f64>,
    /// Clip each gradient to [-v, v].
    #[arg(long, allow_hyphen_values = true)]
    pub clip_value: Option<f64>,
    /// Samples per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Epochs, 1 to 1000000.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// The schedule in the one-line form, e.g. "warmup(steps=100, schedule=cosine(lr=0.1, steps=1000))";
    /// durations may be "3ep" or "10%".
    #[arg(long, conflicts_with = "schedule_config")]
    pub schedule: Option<String>,
    /// A schedule config file (JSON or TOML), PyTorch's included.
    #[arg(long)]
    pub schedule_config: Option<PathBuf>,
    /// Step the schedule per epoch or per batch (default: the config's "interval" if it
    /// has one, else per epoch for PyTorch classes but OneCycleLR and CyclicLR, which
    /// PyTorch steps per batch, else per batch).
    #[arg(long, value_enum)]
    pub schedule_interval: Option<IntervalArg>,
    /// What a metric-driven (plateau) schedule is fed.
    #[arg(long, default_value = "val_loss")]
    pub plateau_monitor: String,
    /// Seed of initialisation, batch order and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads that share each training step, 1 to 256 (default: the machine's cores);
    /// the results are the same bits for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The engine: the fused dense path, or candle's autodiff.
    #[arg(long, value_enum, default_value = "fast")]
    pub engine: EngineArg,
    /// Epoch metrics as JSON lines; per-step lr and loss go to <stem>.steps.jsonl.
    #[arg(long)]
    pub metrics_out: Option<PathBuf>,
    /// Write a checkpoint after every epoch into this folder.
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Epoch checkpoints to keep (besides best.ckpt).
    #[arg(long, default_value_t = 3)]
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint in --checkpoint-dir.
    #[arg(long, requires = "checkpoint_dir")]
    pub resume: bool,
    /// Replace what another run left: its checkpoints in --checkpoint-dir and an existing
    /// --metrics-out file (without it, a new run refuses to start over them).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Stop after this many epochs without improvement.
    #[arg(long)]
    pub early_stop_patience: Option<u64>,
    /// What early stopping watches.
    #[arg(long, default_value = "val_loss")]
    pub early_stop_monitor: String,
    /// The smallest change that counts as an improvement.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.0)]
    pub early_stop_min_delta: f64,
    /// Keep the last weights instead of the best ones when early stopping ends a run.
    #[arg(long)]
    pub no_restore_best: bool,
    /// No progress bar and no per-epoch lines (the summary is still printed).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum ActivationArg {
    Relu,
    Tanh,
    Sigmoid,
    Gelu,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum InitArg {
    Torch,
    HeUniform,
    HeNormal,
    XavierUniform,
    XavierNormal,
}

/// The most epochs a run may ask for: past it a typo, not a plan (a million epochs of
/// one step each is already hours), and counts that multiply epochs stay far from
/// overflow.
pub const MAX_EPOCHS: u64 = 1_000_000;

/// `--epochs`: between 1 and [`MAX_EPOCHS`].
pub fn check_epochs(epochs: u64) -> Result<(), UserError> {
    if epochs == 0 || epochs > MAX_EPOCHS {
        return Err(UserError(format!(
            "--epochs {epochs} is not allowed: must be between 1 and {MAX_EPOCHS}"
        )));
    }
    Ok(())
}

/// The most `--spirals-size` points: 10^7 is 80 MB of features, far more than the
/// problem needs; a typo of 10^12 would otherwise abort on the allocation.
pub const MAX_SPIRALS: usize = 10_000_000;

/// The most `--threads`: a matrix product of these sizes gains nothing past a few dozen,
/// and every thread costs start-up time and memory, so more is a typo.
pub const MAX_THREADS: usize = 256;

/// The flags that bound sizes and counts, checked before any data is loaded or any work
/// starts: each bad value is one line naming the flag and what is allowed.
pub fn check_flags(a: &TrainArgs) -> Result<(), UserError> {
    check_epochs(a.epochs)?;
    // Every number flag: finite first (serde would later call NaN "null" and name a
    // config key, not the flag), then the range that does not depend on other flags;
    // the rest (momentum per optimizer) is the optimizer's check, named by flag below.
    let number = |flag: &str, v: Option<f64>, ok: fn(f64) -> bool, allowed: &str| match v {
        Some(v) if !v.is_finite() || !ok(v) => Err(UserError(format!(
            "{flag} {v} is not allowed: must be a finite number{allowed}"
        ))),
        _ => Ok(()),
    };
    number("--lr", a.lr, |v| v > 0.0, " > 0")?;
    number("--momentum", a.momentum, |_| true, "")?;
    number(
        "--weight-decay",
        Some(a.weight_decay),
        |v| v >= 0.0,
        " >= 0",
    )?;
    number("--l1", Some(a.l1), |v| v >= 0.0, " >= 0")?;
    number("--clip-norm", a.clip_norm, |v| v > 0.0, " > 0")?;
    number("--clip-value", a.clip_value, |v| v > 0.0, " > 0")?;
    if !(0.0..1.0).contains(&a.dropout) {
        // f32: printed as typed (widened to f64 it would print -0.10000000149011612).
        return Err(UserError(format!(
            "--dropout {} is not allowed: must be a finite number in [0, 1)",
            a.dropout
        )));
    }
    number(
        "--spirals-noise",
        Some(a.spirals_noise),
        |v| v >= 0.0,
        " >= 0",
    )?;
    number(
        "--early-stop-min-delta",
        Some(a.early_stop_min_delta),
        |v| v >= 0.0,
        " >= 0",
    )?;
    if a.data == DataKind::Spirals && !(4..=MAX_SPIRALS).contains(&a.spirals_size) {
        return Err(UserError(format!(
            "--spirals-size {} is not allowed: must be between 4 and {MAX_SPIRALS}",
            a.spirals_size
        )));
    }
    if let Some(t) = a.threads {
        if t == 0 || t > MAX_THREADS {
            return Err(UserError(format!(
                "--threads {t} is not allowed: must be between 1 and {MAX_THREADS}"
            )));
        }
    }
    Ok(())
}

/// Loads the data the flags name, after [`check_flags`].
pub fn load_data(a: &TrainArgs) -> Result<(String, Split), UserError> {
    check_flags(a)?;
    let (name, source) = match a.data {
        DataKind::Digits => ("digits".to_string(), Source::Digits),
        DataKind::Xor => ("xor".to_string(), Source::Xor),
        DataKind::Spirals => (
            format!("spirals:{}:{}", a.spirals_size, a.spirals_noise),
            Source::Spirals(SpiralsOptions {
                size: a.spirals_size,
                noise: a.spirals_noise,
                seed: data::DEFAULT_SPLIT_SEED,
            }),
        ),
        DataKind::Mnist => {
            let dir = a.data_dir.clone().ok_or_else(|| {
                UserError("--data mnist needs --data-dir DIR (the folder with the IDX files, or where --download puts them)".into())
            })?;
            if a.download {
                let options = data::mnist::DownloadOptions {
                    mirrors: a.download_url.clone(),
                    progress: !a.quiet,
                    ..Default::default()
                };
                data::mnist::download_with(&dir, &options).map_err(|e| UserError(e.to_string()))?;
            }
            ("mnist".to_string(), Source::Mnist { dir })
        }
        DataKind::Csv => {
            let path = a
                .data_path
                .clone()
                .ok_or_else(|| UserError("--data csv needs --data-path FILE".into()))?;
            let mut o = CsvOptions::new(path.clone());
            o.target = a.target.clone();
            (format!("csv:{}", path.display()), Source::Csv(o))
        }
    };
    let split = source.load().map_err(|e| UserError(e.to_string()))?;
    Ok((name, split))
}

/// Resolves the schedule flags into a schedule and its interval.
pub fn resolve_schedule(
    a: &TrainArgs,
    train_rows: usize,
) -> Result<(AnySchedule, Interval), UserError> {
    let value: Value = match (&a.schedule, &a.schedule_config) {
        (Some(text), _) => oneline::parse_value(text)?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UserError(format!("cannot read {}: {e}", path.display())))?;
            config::text_value(&text, path)
                .map_err(|e| UserError(format!("{}: {e}", path.display())))?
        }
        (None, None) => serde_json::json!({"type": "constant", "lr": a.lr.unwrap_or(0.01)}),
    };
    resolve_schedule_value(a, value, train_rows)
}

/// As [`resolve_schedule`], for a schedule already read into a config value (a one-line
/// form parsed, or one entry of `compare --schedules`).
pub fn resolve_schedule_value(
    a: &TrainArgs,
    mut value: Value,
    train_rows: usize,
) -> Result<(AnySchedule, Interval), UserError> {
    let name = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let is_torch = lrsched::torch::CLASS_NAMES.contains(&name.as_str());
    Monitor::parse(&a.plateau_monitor)
        .and_then(|m| m.apply_mode(&mut value))
        .map_err(|e| UserError(format!("--plateau-monitor: {e}")))?;
    // The one interval rule (lrsched::config::interval_of): the config's `interval` key,
    // else per epoch for PyTorch classes but OneCycleLR/CyclicLR, else per step.
    let stated = config::take_interval(&mut value)?;
    if is_torch {
        if let (Some(map), Some(lr)) = (value.as_object_mut(), a.lr) {
            map.entry("lr").or_insert(lr.into());
        }
    } else if a.lr.is_some() && (a.schedule.is_some() || a.schedule_config.is_some()) {
        eprintln!("note: --lr is ignored: the `{name}` schedule sets its own rates");
    }
    let interval = match a.schedule_interval {
        Some(IntervalArg::Step) => Interval::Step,
        Some(IntervalArg::Epoch) => Interval::Epoch,
        None => stated,
    };
    let shape = match interval {
        Interval::Step => RunShape::new(train_rows as u64, a.batch_size as u64),
        Interval::Epoch => RunShape::new(1, 1),
    }
    .with_epochs(a.epochs as f64);
    let schedule = config::from_value_with_shape(value, Some(&shape))?;
    Ok((schedule, interval))
}

/// Builds the run's config from the flags and the loaded data.
pub fn build_config(
    a: &TrainArgs,
    data_name: String,
    split: &Split,
) -> Result<TrainConfig, UserError> {
    let activation = match a.activation {
        ActivationArg::Relu => Activation::Relu,
        ActivationArg::Tanh => Activation::Tanh,
        ActivationArg::Sigmoid => Activation::Sigmoid,
        ActivationArg::Gelu => Activation::Gelu,
    };
    let init = match a.init {
        InitArg::Torch => Init::Torch,
        InitArg::HeUniform => Init::HeUniform,
        InitArg::HeNormal => Init::HeNormal,
        InitArg::XavierUniform => Init::XavierUniform,
        InitArg::XavierNormal => Init::XavierNormal,
    };
    let model = ModelSpec::parse(
        &a.model,
        split.train.dim(),
        split.train.task(),
        activation,
        init,
    )
    .and_then(|m| m.with_batch_norm(a.batch_norm).with_dropout(a.dropout))
    .map_err(|e| UserError(flag_names(&e.to_string())))?;
    let kind = match a.optimizer {
        OptimizerArg::Sgd => OptimizerKind::Sgd,
        OptimizerArg::Momentum => OptimizerKind::Momentum,
        OptimizerArg::Nesterov => OptimizerKind::Nesterov,
        OptimizerArg::Rmsprop => OptimizerKind::RmsProp,
        OptimizerArg::Adam => OptimizerKind::Adam,
        OptimizerArg::Adamw => OptimizerKind::AdamW,
        OptimizerArg::SfSgd => OptimizerKind::ScheduleFreeSgd,
        OptimizerArg::SfAdamw => OptimizerKind::ScheduleFreeAdamW,
    };
    let mut optimizer = OptimizerConfig::new(kind);
    if let Some(m) = a.momentum {
        if kind.uses_betas() {
            optimizer.betas.0 = m;
        } else {
            optimizer.momentum = Some(m);
        }
    }
    optimizer.weight_decay = a.weight_decay;
    optimizer.decoupled_weight_decay = a.decoupled_weight_decay;
    optimizer.l1 = a.l1;
    optimizer.clip = match (a.clip_norm, a.clip_value) {
        (Some(n), _) => Clip::Norm(n),
        (None, Some(v)) => Clip::Value(v),
        (None, None) => Clip::None,
    };
    optimizer.validate().map_err(|e| optimizer_error(&e))?;
    let batch_size = bound_batch(a.batch_size, split.train.len())?;
    check_epochs(a.epochs)?;
    let typed = a;
    let bounded;
    let a = if batch_size == a.batch_size {
        a
    } else {
        bounded = TrainArgs {
            batch_size,
            ..a.clone()
        };
        &bounded
    };
    let (schedule, interval) = resolve_schedule(a, split.train.len())?;
    let monitor =
        |s: &str, flag: &str| Monitor::parse(s).map_err(|e| UserError(format!("{flag}: {e}")));
    let plateau_monitor = monitor(&a.plateau_monitor, "--plateau-monitor")?;
    let early_stop = match a.early_stop_patience {
        Some(patience) => Some(EarlyStop {
            monitor: monitor(&a.early_stop_monitor, "--early-stop-monitor")?,
            patience,
            min_delta: a.early_stop_min_delta,
            restore_best: !a.no_restore_best,
        }),
        None => None,
    };
    let config = TrainConfig {
        data: data_name,
        model,
        engine: match a.engine {
            EngineArg::Fast => Engine::Fast,
            EngineArg::Candle => Engine::Candle,
        },
        optimizer,
        no_decay_on_bias_and_norm: a.no_decay_bias,
        schedule,
        interval,
        momentum_schedule: None,
        batch_size: a.batch_size,
        epochs: a.epochs,
        seed: a.seed,
        threads: threads(a.threads),
        plateau_monitor,
        early_stop,
        checkpoint: a.checkpoint_dir.clone().map(|dir| CheckpointOptions {
            dir,
            keep_last: a.keep_checkpoints.max(1),
            resume: a.resume,
        }),
        metrics_out: a.metrics_out.clone(),
        divergence: Default::default(),
        overwrite: a.overwrite,
    };
    check_memory(typed, &config, split, 1, true)?;
    Ok(config)
}

/// Refuses a run, or `runs` runs at once (compare's and find-lr's share the data in one
/// process: `shared_data`; tune's are processes of their own), whose buffers would not
/// fit in the memory the machine has free (`lrsched_train::memory`): each size flag is
/// within its own limit, but their product may not be. One line naming the flags and
/// the size, before any work.
pub fn check_memory(
    a: &TrainArgs,
    config: &TrainConfig,
    split: &Split,
    runs: usize,
    shared_data: bool,
) -> Result<(), UserError> {
    use lrsched_train::memory;
    let one = memory::estimate(
        &config.model,
        config.optimizer.kind,
        config.batch_size,
        config.threads,
        split.train.len(),
        split.val.len(),
    );
    let needed = one.times(runs, shared_data);
    let Err(e) = memory::check(&needed, memory::available()) else {
        return Ok(());
    };
    let data = match a.data {
        DataKind::Spirals => format!("--spirals-size {}", a.spirals_size),
        DataKind::Csv => format!(
            "--data-path {}",
            a.data_path
                .as_deref()
                .map_or(String::new(), |p| p.display().to_string())
        ),
        DataKind::Mnist => "--data mnist".to_string(),
        DataKind::Digits => "--data digits".to_string(),
        DataKind::Xor => "--data xor".to_string(),
    };
    let threads = match a.threads {
        Some(t) => format!(", --threads {t}"),
        None => format!(" ({} threads)", config.threads),
    };
    let who = if runs > 1 {
        format!("{runs} runs at once (--jobs) need")
    } else {
        "the run needs".to_string()
    };
    Err(UserError(format!(
        "--model {}, --batch-size {}, {data}{threads}: {who} about {} (parameters and optimizer state {}, activations {}, data {}), more than the {} this machine has free ({}); use a smaller --batch-size or --model{}",
        a.model,
        a.batch_size,
        memory::bytes(needed.total()),
        memory::bytes(needed.parameters),
        memory::bytes(needed.activations),
        memory::bytes(needed.data),
        memory::bytes(e.available.bytes),
        e.available.source,
        if runs > 1 { ", or fewer --jobs" } else { "" }
    )))
}

/// `--batch-size` bounded by the data: at least 1, and a batch larger than the `rows`
/// training rows is the whole set, so it becomes `rows` (a note says so, once per
/// process). The run is the same either way (one batch of every row per epoch), but the
/// buffers are then sized by the data, not by the number typed.
pub fn bound_batch(batch_size: usize, rows: usize) -> Result<usize, UserError> {
    if batch_size == 0 {
        return Err(UserError(
            "--batch-size 0 is not allowed: must be at least 1".into(),
        ));
    }
    if batch_size > rows && rows > 0 {
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            eprintln!(
                "note: --batch-size {batch_size} is more than the {rows} training rows: using {rows} (one batch per epoch)"
            )
        });
        return Ok(rows);
    }
    Ok(batch_size)
}

/// The thread count to use (the fused engine's own pool takes it from the config), and
/// rayon's global pool set to it once per process, for candle's CPU kernels (`--engine
/// candle`).
pub fn threads(requested: Option<usize>) -> usize {
    let n = requested
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(MAX_THREADS);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}

/// A progress bar on a terminal; nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: u64,
    quiet: bool,
}

impl Progress {
    pub fn new(epochs: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                    .unwrap()
                    .progress_chars("=> "),
            );
            bar
        });
        Progress { bar, epochs, quiet }
    }
}

impl Observer for Progress {
    fn on_step(&mut self, epoch: u64, batch: usize, batches: usize, loss: f32, lr: f64) {
        if let Some(bar) = &self.bar {
            if batch == 1 {
                bar.set_length(batches as u64);
                bar.set_position(0);
                bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
            }
            if batch % 8 == 0 || batch == batches {
                bar.set_position(batch as u64);
                bar.set_message(format!("loss {loss:.4} lr {lr:.3e}"));
            }
        }
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        if self.quiet {
            return;
        }
        let line = format!(
            "epoch {:>3}  train_loss {:.4}  val_loss {:.4}  val_acc {}  lr {:.4e}  {:.3}s",
            r.epoch,
            r.train_loss,
            r.val_loss,
            r.val_acc
                .map_or("-".to_string(), |a| format!("{:.2}%", a * 100.0)),
            r.lr,
            r.epoch_seconds
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The optimizer's complaint about a value, said with the flag that set it.
fn optimizer_error(e: &lrsched_train::optim::OptimError) -> UserError {
    use lrsched_train::optim::OptimError;
    if let OptimError::InvalidValue {
        key,
        value,
        allowed,
    } = e
    {
        let flag = match key.as_str() {
            "momentum" | "betas[0]" => Some("--momentum"),
            "weight_decay" => Some("--weight-decay"),
            "l1" => Some("--l1"),
            "clip.norm" => Some("--clip-norm"),
            "clip.value" => Some("--clip-value"),
            "decoupled_weight_decay" => Some("--decoupled-weight-decay"),
            _ => None,
        };
        if let Some(flag) = flag {
            return UserError(format!(
                "{flag} {value} is not allowed with this optimizer: must be {allowed}"
            ));
        }
    }
    UserError(e.to_string())
}

/// The training crate's messages name a run spec's fields (`` `batch_size` = 0 ``); on the
/// command line the user typed flags, so say those.
pub fn flag_names(message: &str) -> String {
    [
        ("`batch_size` = ", "--batch-size "),
        ("`model` = ", "--model "),
        ("`dropout` = ", "--dropout "),
        ("`epochs` = ", "--epochs "),
        ("`resume`", "--resume"),
        ("`overwrite`", "--overwrite"),
        ("`metrics_out`", "--metrics-out"),
    ]
    .iter()
    .fold(message.to_string(), |m, (field, flag)| {
        m.replace(field, flag)
    })
}

/// `lrsched train`: returns the exit status.
pub fn run(a: &TrainArgs) -> Result<u8, UserError> {
    let trial =
        lrsched::trial::Trial::from_env().map_err(|e| UserError(format!("trial protocol: {e}")))?;
    if let Some(trial) = trial {
        return run_trial(a, trial);
    }
    refuse_outputs_over_inputs(a)?;
    // One run per metrics file, held until this process ends: a second train on the same
    // --metrics-out (with --overwrite too) is refused at once instead of both writing it.
    // The checkpoint folder has its own lock (taken by the trainer).
    let _metrics_lock = match &a.metrics_out {
        // A missing folder is the trainer's error to report, naming the flag.
        Some(path)
            if path
                .parent()
                .is_none_or(|p| p.as_os_str().is_empty() || p.is_dir()) =>
        {
            Some(lrsched_train::lock::FolderLock::for_file(path).map_err(UserError)?)
        }
        _ => None,
    };
    let (name, split) = load_data(a)?;
    let config = build_config(a, name, &split)?;
    let mut progress = Progress::new(config.epochs, a.quiet);
    let summary =
        train(&config, &split, &mut progress).map_err(|e| UserError(flag_names(&e.to_string())))?;
    drop(progress);
    if summary.epochs_run == 0 {
        if let Some(dir) = &a.checkpoint_dir {
            println!(
                "nothing to do: the run in {} already {} after {} epochs; its checkpoints and metrics are unchanged",
                dir.display(),
                if summary.outcome == Outcome::EarlyStopped {
                    "stopped early"
                } else {
                    "finished"
                },
                summary.history.last().map_or(0, |r| r.epoch)
            );
        }
    }
    print_summary(&summary);
    Ok(match summary.outcome {
        Outcome::Diverged { .. } => EXIT_DIVERGED,
        _ => 0,
    })
}

/// Refuses a `--metrics-out` (or its step log) that is one of the run's inputs: the CSV
/// trained on, the schedule config, a file of --data-dir, a checkpoint.
fn refuse_outputs_over_inputs(a: &TrainArgs) -> Result<(), UserError> {
    let Some(metrics) = &a.metrics_out else {
        return Ok(());
    };
    let steps = lrsched_train::trainer::steps_path(metrics);
    let mut inputs: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(p) = &a.data_path {
        inputs.push(("--data-path", p.clone()));
    }
    if let Some(p) = &a.schedule_config {
        inputs.push(("--schedule-config", p.clone()));
    }
    // Folders: the files read from them (MNIST's IDX files, checkpoints), not whatever
    // else lives there: a resumed run's own metrics file may sit beside its checkpoints.
    let folders = [
        ("--data-dir", &a.data_dir, "ubyte"),
        ("--checkpoint-dir", &a.checkpoint_dir, ".ckpt"),
    ];
    for (flag, dir, marker) in folders {
        if let Some(Ok(entries)) = dir.as_ref().map(std::fs::read_dir) {
            for e in entries.flatten().take(10_000) {
                if e.file_name().to_string_lossy().contains(marker) {
                    inputs.push((flag, e.path()));
                }
            }
        }
    }
    // A checkpoint is never a metrics file, even with --overwrite and wherever it lies.
    for file in [metrics, &steps] {
        if lrsched_train::checkpoint::is_checkpoint(file) {
            return Err(UserError(format!(
                "--metrics-out: {} is an lrsched checkpoint: choose another path",
                file.display()
            )));
        }
    }
    let inputs: Vec<(&str, &std::path::Path)> =
        inputs.iter().map(|(f, p)| (*f, p.as_path())).collect();
    lrsched_train::outputs::refuse_overlap(
        &[
            ("--metrics-out", metrics),
            ("--metrics-out's step log", &steps),
        ],
        &inputs,
    )
    .map_err(UserError)
}

/// `lrsched train` started by a tool as one trial (docs/protocol.md): the schedule,
/// seed and epochs come from the `LRSCHED_*` variables, the flags give everything else,
/// and the metrics go to `$LRSCHED_METRICS` as protocol lines. The built-in trainer is
/// then just one more program behind `--command`.
fn run_trial(a: &TrainArgs, trial: lrsched::trial::Trial) -> Result<u8, UserError> {
    use lrsched_tools::protocol::{Line, TrialInput};
    use lrsched_tools::trainer::BuiltIn;
    use lrsched_tools::trial::{Control, TrialStatus};
    if a.schedule.is_some() || a.schedule_config.is_some() {
        return Err(UserError(
            "this run is a trial (LRSCHED_PROTOCOL is set): its schedule comes from LRSCHED_SCHEDULE, so --schedule/--schedule-config are not allowed".into(),
        ));
    }
    let (name, split) = load_data(a)?;
    let config = build_config(a, name, &split)?;
    let mut schedule = trial.schedule.clone();
    if let Some(map) = schedule.as_object_mut() {
        let interval = match trial.interval {
            Interval::Step => "step",
            Interval::Epoch => "epoch",
        };
        map.insert("interval".into(), interval.into());
    }
    let input = TrialInput {
        name: trial.name.clone(),
        schedule,
        seed: trial.seed,
        epochs: trial.epochs,
        max_steps: trial.max_steps,
        dir: trial.out_dir.clone(),
    };
    let built_in = BuiltIn {
        config,
        split: std::sync::Arc::new(split),
    };
    let mut metrics = trial
        .metrics()
        .map_err(|e| UserError(format!("trial protocol: {e}")))?;
    let mut write_error = None;
    let result = built_in.run(&input, &mut |line| {
        let written = match line {
            Line::Epoch(e) => {
                let values: Vec<(&str, f64)> =
                    e.values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                metrics.epoch(e.epoch, &values)
            }
            Line::Step(s) => {
                metrics.step(s.step, s.lr.unwrap_or(f64::NAN), s.loss.unwrap_or(f64::NAN))
            }
        };
        match written {
            Ok(()) => Control::Continue,
            Err(e) => {
                write_error = Some(e.to_string());
                Control::Stop("cannot write metrics".into())
            }
        }
    });
    if let Some(e) = write_error {
        return Err(UserError(format!("trial protocol: {e}")));
    }
    if let TrialStatus::Diverged { .. } = &result.status {
        // The trainer stops before it reports the non-finite loss; the tool reading the
        // metrics learns of a divergence from a non-finite value (docs/protocol.md).
        let epoch = result.epochs.len() as u64 + 1;
        metrics
            .epoch(epoch, &[("train_loss", f64::NAN)])
            .map_err(|e| UserError(format!("trial protocol: {e}")))?;
    }
    match result.status {
        TrialStatus::Completed | TrialStatus::Stopped { .. } => Ok(0),
        TrialStatus::Diverged { at, what } => {
            eprintln!("diverged at {at}: {what}");
            Ok(EXIT_DIVERGED)
        }
        other => Err(UserError(other.to_string())),
    }
}

fn print_summary(s: &Summary) {
    // A diverged run's last record is the divergence (NaN losses), said on stderr.
    let last = s.history.iter().rev().find(|r| !r.diverged);
    match &s.outcome {
        Outcome::Diverged { epoch, step, what } => {
            eprintln!("diverged at epoch {epoch}, step {step}: {what}; the last good checkpoint (if any) is kept");
        }
        Outcome::EarlyStopped => {
            println!("stopped early after epoch {}", last.map_or(0, |r| r.epoch))
        }
        Outcome::Completed | Outcome::Stopped => {}
    }
    if let Some((epoch, acc)) = s.best_accuracy() {
        println!(
            "best val_acc {:.2}% (epoch {epoch}); final val_acc {}; {:.1}s",
            acc * 100.0,
            last.and_then(|r| r.val_acc)
                .map_or("-".into(), |a| format!("{:.2}%", a * 100.0)),
            s.seconds
        );
    } else if let Some(r) = last {
        println!("final val_loss {:.6}; {:.1}s", r.val_loss, s.seconds);
    } else {
        println!("no epoch finished; {:.1}s", s.seconds);
    }
}
