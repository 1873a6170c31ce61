//! `lrsched train`: the flags become a [`RunSpec`] once (`TrainArgs::spec`), the
//! library builds and checks the run (`lrsched_tools::run_spec`), this file trains it with
//! a progress bar and prints the summary.

use crate::UserError;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use lrsched::driver::Interval;
use lrsched_tools::run_spec::{self, RunSpec};
use lrsched_train::data;
use lrsched_train::model::{Activation, Init};
use lrsched_train::optim::OptimizerKind;
use lrsched_train::trainer::{train, Engine, EpochRecord, Observer, Outcome, Summary};
use std::path::PathBuf;

pub use lrsched_tools::run_spec::EXIT_DIVERGED;

use run_spec::DataKind as Data;
flag_enum!(DataKind => Data { Digits => Digits, Xor => Xor, Spirals => Spirals, Mnist => Mnist, Csv => Csv });
flag_enum!(OptimizerArg => OptimizerKind {
    Sgd => Sgd, Momentum => Momentum, Nesterov => Nesterov, Rmsprop => RmsProp, Adam => Adam,
    Adamw => AdamW,
    #[value(name = "sf-sgd")] SfSgd => ScheduleFreeSgd,
    #[value(name = "sf-adamw")] SfAdamw => ScheduleFreeAdamW,
    Prodigy => Prodigy,
    #[value(name = "dadapt-adam")] DadaptAdam => DAdaptAdam,
    #[value(name = "dadapt-sgd")] DadaptSgd => DAdaptSgd,
    Dog => Dog,
});
flag_enum!(IntervalArg => Interval { Epoch => Epoch, Step => Step });
flag_enum!(EngineArg => Engine { Fast => Fast, Candle => Candle });
flag_enum!(ActivationArg => Activation { Relu => Relu, Tanh => Tanh, Sigmoid => Sigmoid, Gelu => Gelu });
flag_enum!(InitArg => Init {
    Torch => Torch, HeUniform => HeUniform, HeNormal => HeNormal,
    XavierUniform => XavierUniform, XavierNormal => XavierNormal,
});

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
    /// Hidden sizes (`128`, `128-64`), or a full spec starting with the input size (`784-128-10`).
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

/// `lrsched train` itself: the run's flags, or (hidden) a spec a tool wrote for its
/// trials, which then replaces the flags.
#[derive(Args, Debug, Clone)]
pub struct TrainCmd {
    #[command(flatten)]
    pub train: TrainArgs,
    /// A run spec as JSON (`lrsched_tools::run_spec::RunSpec`), written by compare and
    /// tune for the trials they run as processes; the other flags are then not read.
    #[arg(long, hide = true, value_name = "FILE")]
    pub spec: Option<PathBuf>,
}

impl TrainArgs {
    /// The run the flags describe: the one step from raw flags to the library's spec.
    pub fn spec(&self) -> RunSpec {
        RunSpec {
            data: self.data.into(),
            data_dir: self.data_dir.clone(),
            download: self.download,
            download_url: self.download_url.clone(),
            data_path: self.data_path.clone(),
            target: self.target.clone(),
            spirals_size: self.spirals_size,
            spirals_noise: self.spirals_noise,
            model: self.model.clone(),
            activation: self.activation.into(),
            batch_norm: self.batch_norm,
            dropout: self.dropout,
            init: self.init.into(),
            optimizer: self.optimizer.into(),
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            decoupled_weight_decay: self.decoupled_weight_decay,
            no_decay_bias: self.no_decay_bias,
            l1: self.l1,
            clip_norm: self.clip_norm,
            clip_value: self.clip_value,
            batch_size: self.batch_size,
            epochs: self.epochs,
            schedule: self.schedule.clone(),
            schedule_config: self.schedule_config.clone(),
            schedule_interval: self.schedule_interval.map(Into::into),
            plateau_monitor: self.plateau_monitor.clone(),
            seed: self.seed,
            threads: self.threads,
            engine: self.engine.into(),
            metrics_out: self.metrics_out.clone(),
            checkpoint_dir: self.checkpoint_dir.clone(),
            keep_checkpoints: self.keep_checkpoints,
            resume: self.resume,
            overwrite: self.overwrite,
            early_stop_patience: self.early_stop_patience,
            early_stop_monitor: self.early_stop_monitor.clone(),
            early_stop_min_delta: self.early_stop_min_delta,
            no_restore_best: self.no_restore_best,
            quiet: self.quiet,
        }
    }
}

/// `epochs` checked (1 to `run_spec::MAX_EPOCHS`), as a user error.
pub fn check_epochs(epochs: u64) -> Result<(), UserError> {
    run_spec::check_epochs(epochs).map_err(UserError)
}

/// The data and the run's config from `spec`, rayon's global pool (candle's CPU
/// kernels, `--engine candle`) set to the run's threads once per process.
pub fn load(
    spec: &RunSpec,
) -> Result<
    (
        lrsched_train::data::Split,
        lrsched_train::trainer::TrainConfig,
    ),
    UserError,
> {
    let (name, split) = spec.load_data().map_err(UserError)?;
    let config = spec.build_config(name, &split).map_err(UserError)?;
    pool(config.threads);
    Ok((split, config))
}

/// rayon's global pool at `threads`, once per process (later calls change nothing).
pub fn pool(threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}

/// A progress bar on a terminal; nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: u64,
    quiet: bool,
}

impl Progress {
    pub fn new(epochs: u64, quiet: bool) -> Progress {
        let bar =
            crate::notes::progress_bar(quiet, 0, "{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}");
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

/// `lrsched train`: returns the exit status.
pub fn run(cmd: &TrainCmd) -> Result<u8, UserError> {
    let spec = match &cmd.spec {
        Some(path) => RunSpec::read(path).map_err(UserError)?,
        None => cmd.train.spec(),
    };
    let trial =
        lrsched::trial::Trial::from_env().map_err(|e| UserError(format!("trial protocol: {e}")))?;
    if let Some(trial) = trial {
        pool(lrsched_tools::cores::threads(spec.threads));
        return run_spec::run_trial(&spec, trial).map_err(UserError);
    }
    spec.refuse_outputs_over_inputs().map_err(UserError)?;
    // One run per metrics file, held until this process ends: a second train on the same
    // --metrics-out (with --overwrite too) is refused at once instead of both writing it.
    // The checkpoint folder has its own lock (taken by the trainer).
    let _metrics_lock = match &spec.metrics_out {
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
    let (split, config) = load(&spec)?;
    let mut progress = Progress::new(config.epochs, spec.quiet);
    let summary = train(&config, &split, &mut progress)
        .map_err(|e| UserError(run_spec::flag_names(&e.to_string())))?;
    drop(progress);
    if summary.epochs_run == 0 {
        if let Some(dir) = &spec.checkpoint_dir {
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
