//! One training run of the built-in trainer as a serialisable value: [`RunSpec`] holds
//! everything `lrsched train` needs (data, model, optimizer, epochs, batch, seed, threads,
//! schedule, outputs), is checked once, and builds the trainer's [`TrainConfig`].
//!
//! The command line fills one from its flags in a single step; a tool hands the same
//! value to its trials (in-process, or as a file that a child `lrsched train --spec`
//! reads), so no setting travels back into flags. Messages name each field by the
//! `lrsched train` flag that sets it (`--batch-size 0 is not allowed ...`), the words
//! a user of the command typed; the fields have the flags' names.

use crate::cores;
use lrsched::driver::Interval;
use lrsched::spec::TextFormat;
use lrsched::time::RunShape;
use lrsched::{AnySchedule, PlateauMode, ScheduleSpec};
use lrsched_train::data::{self, csv::CsvOptions, spirals::SpiralsOptions, Source, Split};
use lrsched_train::model::{Activation, Init, ModelSpec};
use lrsched_train::optim::{Clip, OptimizerConfig, OptimizerKind};
use lrsched_train::trainer::{CheckpointOptions, EarlyStop, Engine, Monitor, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use crate::cores::MAX_THREADS;

/// Exit status of a run that diverged.
pub const EXIT_DIVERGED: u8 = 3;

/// The most epochs a run may ask for: past it a typo, not a plan (a million epochs of
/// one step each is already hours), and counts that multiply epochs stay far from
/// overflow.
pub const MAX_EPOCHS: u64 = 1_000_000;

/// The most `--spirals-size` points: 10^7 is 80 MB of features, far more than the
/// problem needs; a typo of 10^12 would otherwise abort on the allocation.
pub const MAX_SPIRALS: usize = 10_000_000;

/// Which data set a run trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// The built-in 8x8 digits.
    Digits,
    /// The four XOR points.
    Xor,
    /// Two generated spirals.
    Spirals,
    /// MNIST's IDX files from `data_dir`.
    Mnist,
    /// A CSV file (`data_path`).
    Csv,
}

impl DataKind {
    /// The flag value that names it (`digits`, `mnist`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DataKind::Digits => "digits",
            DataKind::Xor => "xor",
            DataKind::Spirals => "spirals",
            DataKind::Mnist => "mnist",
            DataKind::Csv => "csv",
        }
    }
}

/// One run of the built-in trainer: the fields of `lrsched train`'s flags, with their
/// defaults ([`RunSpec::default`]).
///
/// ```
/// use lrsched_tools::run_spec::RunSpec;
/// let mut spec = RunSpec::default();
/// spec.data = lrsched_tools::run_spec::DataKind::Xor;
/// spec.model = "4".into();
/// spec.epochs = 2;
/// spec.check().unwrap();
/// let (name, split) = spec.load_data().unwrap();
/// let config = spec.build_config(name, &split).unwrap();
/// assert_eq!(config.epochs, 2);
/// // It travels as JSON and comes back the same.
/// let text = serde_json::to_string(&spec).unwrap();
/// assert_eq!(serde_json::from_str::<RunSpec>(&text).unwrap(), spec);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSpec {
    /// The data set.
    pub data: DataKind,
    /// MNIST's folder (or the download cache).
    pub data_dir: Option<PathBuf>,
    /// Fetch MNIST into `data_dir` first.
    pub download: bool,
    /// Where `download` fetches from, tried in turn.
    pub download_url: Vec<String>,
    /// The CSV file.
    pub data_path: Option<PathBuf>,
    /// The CSV target column (default: the last).
    pub target: Option<String>,
    /// Points of the spirals.
    pub spirals_size: usize,
    /// Noise of the spirals.
    pub spirals_noise: f64,
    /// Hidden sizes (`128`, `64-32`) or a full spec (`784-128-10`).
    pub model: String,
    /// Hidden activation.
    pub activation: Activation,
    /// BatchNorm after each hidden layer.
    pub batch_norm: bool,
    /// Dropout probability after each hidden activation.
    pub dropout: f32,
    /// Weight initialisation.
    pub init: Init,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Base learning rate (no schedule; a PyTorch config's missing `lr`).
    pub lr: Option<f64>,
    /// Momentum (SGD kinds, RMSProp) or beta1 (Adam kinds).
    pub momentum: Option<f64>,
    /// Weight decay.
    pub weight_decay: f64,
    /// Decoupled weight decay for every optimizer.
    pub decoupled_weight_decay: bool,
    /// No weight decay on biases and BatchNorm parameters.
    pub no_decay_bias: bool,
    /// L1 penalty on the weights.
    pub l1: f64,
    /// Clip the gradients' total norm.
    pub clip_norm: Option<f64>,
    /// Clip each gradient to [-v, v].
    pub clip_value: Option<f64>,
    /// Samples per batch.
    pub batch_size: usize,
    /// Epochs.
    pub epochs: u64,
    /// The schedule's one-line form.
    pub schedule: Option<String>,
    /// A schedule config file (JSON or TOML).
    pub schedule_config: Option<PathBuf>,
    /// Step per epoch or per batch (default: the config's rule).
    pub schedule_interval: Option<Interval>,
    /// What a metric-driven schedule is fed.
    pub plateau_monitor: String,
    /// Seed of initialisation, batch order and dropout.
    pub seed: u64,
    /// Threads of each training step (default: the cores).
    pub threads: Option<usize>,
    /// The engine.
    pub engine: Engine,
    /// Epoch metrics as JSON lines.
    pub metrics_out: Option<PathBuf>,
    /// A checkpoint after every epoch into this folder.
    pub checkpoint_dir: Option<PathBuf>,
    /// Epoch checkpoints kept.
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint.
    pub resume: bool,
    /// Replace another run's checkpoints and metrics.
    pub overwrite: bool,
    /// Stop after this many epochs without improvement.
    pub early_stop_patience: Option<u64>,
    /// What early stopping watches.
    pub early_stop_monitor: String,
    /// The smallest change that counts as an improvement.
    pub early_stop_min_delta: f64,
    /// Keep the last weights, not the best, when early stopping ends a run.
    pub no_restore_best: bool,
    /// No progress output.
    pub quiet: bool,
}

impl Default for RunSpec {
    /// `lrsched train` with no flags: digits, 64 hidden units, SGD momentum, batch 64, 10
    /// epochs, a constant rate.
    fn default() -> Self {
        RunSpec {
            data: DataKind::Digits,
            data_dir: None,
            download: false,
            download_url: data::mnist::DEFAULT_MIRRORS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            data_path: None,
            target: None,
            spirals_size: 1000,
            spirals_noise: 0.05,
            model: "64".into(),
            activation: Activation::Relu,
            batch_norm: false,
            dropout: 0.0,
            init: Init::Torch,
            optimizer: OptimizerKind::Momentum,
            lr: None,
            momentum: None,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            no_decay_bias: false,
            l1: 0.0,
            clip_norm: None,
            clip_value: None,
            batch_size: 64,
            epochs: 10,
            schedule: None,
            schedule_config: None,
            schedule_interval: None,
            plateau_monitor: "val_loss".into(),
            seed: 0,
            threads: None,
            engine: Engine::Fast,
            metrics_out: None,
            checkpoint_dir: None,
            keep_checkpoints: 3,
            resume: false,
            overwrite: false,
            early_stop_patience: None,
            early_stop_monitor: "val_loss".into(),
            early_stop_min_delta: 0.0,
            no_restore_best: false,
            quiet: false,
        }
    }
}

/// `epochs`: between 1 and [`MAX_EPOCHS`].
pub fn check_epochs(epochs: u64) -> Result<(), String> {
    if epochs == 0 || epochs > MAX_EPOCHS {
        return Err(format!(
            "--epochs {epochs} is not allowed: must be between 1 and {MAX_EPOCHS}"
        ));
    }
    Ok(())
}

impl RunSpec {
    /// The fields that bound sizes and counts, checked before any data is loaded or any
    /// work starts: each bad value is one line naming the flag and what is allowed.
    pub fn check(&self) -> Result<(), String> {
        check_epochs(self.epochs)?;
        // Every number: finite first (serde would later call NaN "null" and name a config
        // key, not the flag), then the range that does not depend on other fields; the
        // rest (momentum per optimizer) is the optimizer's check, named by flag.
        let number = |flag: &str, v: Option<f64>, ok: fn(f64) -> bool, allowed: &str| match v {
            Some(v) if !v.is_finite() || !ok(v) => Err(format!(
                "{flag} {v} is not allowed: must be a finite number{allowed}"
            )),
            _ => Ok(()),
        };
        number("--lr", self.lr, |v| v > 0.0, " > 0")?;
        number("--momentum", self.momentum, |_| true, "")?;
        number(
            "--weight-decay",
            Some(self.weight_decay),
            |v| v >= 0.0,
            " >= 0",
        )?;
        number("--l1", Some(self.l1), |v| v >= 0.0, " >= 0")?;
        number("--clip-norm", self.clip_norm, |v| v > 0.0, " > 0")?;
        number("--clip-value", self.clip_value, |v| v > 0.0, " > 0")?;
        if !(0.0..1.0).contains(&self.dropout) {
            // f32: printed as typed (widened to f64 it would print -0.10000000149011612).
            return Err(format!(
                "--dropout {} is not allowed: must be a finite number in [0, 1)",
                self.dropout
            ));
        }
        number(
            "--spirals-noise",
            Some(self.spirals_noise),
            |v| v >= 0.0,
            " >= 0",
        )?;
        number(
            "--early-stop-min-delta",
            Some(self.early_stop_min_delta),
            |v| v >= 0.0,
            " >= 0",
        )?;
        if self.data == DataKind::Spirals && !(4..=MAX_SPIRALS).contains(&self.spirals_size) {
            return Err(format!(
                "--spirals-size {} is not allowed: must be between 4 and {MAX_SPIRALS}",
                self.spirals_size
            ));
        }
        if let Some(t) = self.threads {
            if t == 0 || t > MAX_THREADS {
                return Err(format!(
                    "--threads {t} is not allowed: must be between 1 and {MAX_THREADS}"
                ));
            }
        }
        Ok(())
    }

    /// Loads the data, after [`RunSpec::check`]; `--download` fetches MNIST first.
    /// Returns the data's name for reports (`digits`, `spirals:1000:0.05`, ...) and the
    /// split.
    pub fn load_data(&self) -> Result<(String, Split), String> {
        self.check()?;
        let (name, source) = match self.data {
            DataKind::Digits => ("digits".to_string(), Source::Digits),
            DataKind::Xor => ("xor".to_string(), Source::Xor),
            DataKind::Spirals => (
                format!("spirals:{}:{}", self.spirals_size, self.spirals_noise),
                Source::Spirals(SpiralsOptions {
                    size: self.spirals_size,
                    noise: self.spirals_noise,
                    seed: data::DEFAULT_SPLIT_SEED,
                }),
            ),
            DataKind::Mnist => {
                let dir = self.data_dir.clone().ok_or_else(|| {
                    "--data mnist needs --data-dir DIR (the folder with the IDX files, or where --download puts them)".to_string()
                })?;
                if self.download {
                    let options = data::mnist::DownloadOptions {
                        mirrors: self.download_url.clone(),
                        progress: !self.quiet,
                        ..Default::default()
                    };
                    data::mnist::download_with(&dir, &options).map_err(|e| e.to_string())?;
                }
                ("mnist".to_string(), Source::Mnist { dir })
            }
            DataKind::Csv => {
                let path = self
                    .data_path
                    .clone()
                    .ok_or_else(|| "--data csv needs --data-path FILE".to_string())?;
                let mut o = CsvOptions::new(path.clone());
                o.target = self.target.clone();
                (format!("csv:{}", path.display()), Source::Csv(o))
            }
        };
        let split = source.load().map_err(|e| e.to_string())?;
        Ok((name, split))
    }

    /// The run's schedule: the one-line form, the config file, or a constant rate of `lr`
    /// (0.01 without it), read by the core's one reader (`lrsched::ScheduleSpec`).
    pub fn schedule_spec(&self) -> Result<ScheduleSpec, String> {
        match (&self.schedule, &self.schedule_config) {
            (Some(text), _) => {
                ScheduleSpec::parse_as(text, TextFormat::OneLine).map_err(|e| e.to_string())
            }
            (None, Some(path)) => {
                let text = crate::files::read_input(path, crate::files::MAX_INPUT_BYTES)?;
                ScheduleSpec::parse_file(&text, path)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            (None, None) => ScheduleSpec::from_value(
                serde_json::json!({"type": "constant", "lr": self.lr.or(self.optimizer.default_lr()).unwrap_or(0.01)}),
            )
            .map_err(|e| e.to_string()),
        }
    }

    /// A schedule made ready for this run: the plateau mode set from `plateau_monitor`,
    /// `lr` filled into a PyTorch config that leaves it out, the interval
    /// `schedule_interval` where given, durations resolved with the run's shape over
    /// `train_rows` rows.
    pub fn resolve_schedule(
        &self,
        spec: ScheduleSpec,
        train_rows: usize,
    ) -> Result<(AnySchedule, Interval), String> {
        let monitor =
            Monitor::parse(&self.plateau_monitor).map_err(|e| format!("--plateau-monitor: {e}"))?;
        let mut spec = spec
            .with_plateau_mode(plateau_mode(monitor), monitor.name())
            .map_err(|e| format!("--plateau-monitor: {e}"))?;
        if spec.takes_base_lr() {
            if let Some(lr) = self.lr {
                spec = spec.with_base_lr(lr);
            }
        } else if self.lr.is_some() && (self.schedule.is_some() || self.schedule_config.is_some()) {
            log::warn!(
                "--lr is ignored: the `{}` schedule sets its own rates",
                spec.type_name()
            );
        }
        if let Some(i) = self.schedule_interval {
            spec = spec.with_interval(i);
        }
        let run = RunShape::new(train_rows as u64, self.batch_size as u64)
            .with_epochs(self.epochs as f64);
        let schedule = spec.resolve(&run).map_err(|e| e.to_string())?;
        Ok((schedule, spec.interval()))
    }

    /// The trainer's config for this run on `split` (named `data_name` in reports), with
    /// the spec's own schedule ([`RunSpec::schedule_value`]).
    pub fn build_config(&self, data_name: String, split: &Split) -> Result<TrainConfig, String> {
        self.build_config_with(data_name, split, None)
    }

    /// As [`RunSpec::build_config`], with `schedule` (e.g. one entry of a comparison) in
    /// place of the spec's own.
    pub fn build_config_with(
        &self,
        data_name: String,
        split: &Split,
        schedule: Option<ScheduleSpec>,
    ) -> Result<TrainConfig, String> {
        let model = ModelSpec::parse(
            &self.model,
            split.train.dim(),
            split.train.task(),
            self.activation,
            self.init,
        )
        .and_then(|m| {
            m.with_batch_norm(self.batch_norm)
                .with_dropout(self.dropout)
        })
        .map_err(|e| flag_names(&e.to_string()))?;
        let kind = self.optimizer;
        let mut optimizer = OptimizerConfig::new(kind);
        if let Some(m) = self.momentum {
            if kind.uses_betas() {
                optimizer.betas.0 = m;
            } else {
                optimizer.momentum = Some(m);
            }
        }
        optimizer.weight_decay = self.weight_decay;
        optimizer.decoupled_weight_decay = self.decoupled_weight_decay;
        optimizer.l1 = self.l1;
        optimizer.clip = match (self.clip_norm, self.clip_value) {
            (Some(n), _) => Clip::Norm(n),
            (None, Some(v)) => Clip::Value(v),
            (None, None) => Clip::None,
        };
        optimizer.validate().map_err(|e| optimizer_error(&e))?;
        let batch_size = bound_batch(self.batch_size, split.train.len())?;
        check_epochs(self.epochs)?;
        let typed = self;
        let bounded;
        let a = if batch_size == self.batch_size {
            self
        } else {
            bounded = RunSpec {
                batch_size,
                ..self.clone()
            };
            &bounded
        };
        let spec = match schedule {
            Some(s) => s,
            None => a.schedule_spec()?,
        };
        let (schedule, interval) = a.resolve_schedule(spec, split.train.len())?;
        let monitor = |s: &str, flag: &str| Monitor::parse(s).map_err(|e| format!("{flag}: {e}"));
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
            engine: a.engine,
            optimizer,
            no_decay_on_bias_and_norm: a.no_decay_bias,
            schedule,
            interval,
            momentum_schedule: None,
            batch_size: a.batch_size,
            epochs: a.epochs,
            seed: a.seed,
            threads: cores::threads(a.threads),
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
        typed.check_memory(&config, split, 1, true)?;
        Ok(config)
    }

    /// Refuses a run, or `runs` runs at once (compare's and find-lr's share the data in
    /// one process: `shared_data`; tune's are processes of their own), whose buffers
    /// would not fit in the memory the machine has free (`lrsched_train::memory`): each
    /// size is within its own limit, but their product may not be. One line naming the
    /// flags and the size, before any work.
    pub fn check_memory(
        &self,
        config: &TrainConfig,
        split: &Split,
        runs: usize,
        shared_data: bool,
    ) -> Result<(), String> {
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
        let data = match self.data {
            DataKind::Spirals => format!("--spirals-size {}", self.spirals_size),
            DataKind::Csv => format!(
                "--data-path {}",
                self.data_path
                    .as_deref()
                    .map_or(String::new(), |p| p.display().to_string())
            ),
            other => format!("--data {}", other.name()),
        };
        let threads = match self.threads {
            Some(t) => format!(", --threads {t}"),
            None => format!(" ({} threads)", config.threads),
        };
        let who = if runs > 1 {
            format!("{runs} runs at once (--jobs) need")
        } else {
            "the run needs".to_string()
        };
        Err(format!(
            "--model {}, --batch-size {}, {data}{threads}: {who} about {} (parameters and optimizer state {}, activations {}, data {}), more than the {} this machine has free ({}); use a smaller --batch-size or --model{}",
            self.model,
            self.batch_size,
            memory::bytes(needed.total()),
            memory::bytes(needed.parameters),
            memory::bytes(needed.activations),
            memory::bytes(needed.data),
            memory::bytes(e.available.bytes),
            e.available.source,
            if runs > 1 { ", or fewer --jobs" } else { "" }
        ))
    }

    /// Refuses a `metrics_out` (or its step log) that is one of the run's inputs: the
    /// CSV trained on, the schedule config, a file of `data_dir`, a checkpoint.
    pub fn refuse_outputs_over_inputs(&self) -> Result<(), String> {
        let Some(metrics) = &self.metrics_out else {
            return Ok(());
        };
        let steps = lrsched_train::trainer::steps_path(metrics);
        let mut inputs: Vec<(&str, PathBuf)> = Vec::new();
        if let Some(p) = &self.data_path {
            inputs.push(("--data-path", p.clone()));
        }
        if let Some(p) = &self.schedule_config {
            inputs.push(("--schedule-config", p.clone()));
        }
        // Folders: the files read from them (MNIST's IDX files, checkpoints), not whatever
        // else lives there: a resumed run's own metrics file may sit beside its checkpoints.
        let folders = [
            ("--data-dir", &self.data_dir, "ubyte"),
            ("--checkpoint-dir", &self.checkpoint_dir, ".ckpt"),
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
                return Err(format!(
                    "--metrics-out: {} is an lrsched checkpoint: choose another path",
                    file.display()
                ));
            }
        }
        let inputs: Vec<(&str, &Path)> = inputs.iter().map(|(f, p)| (*f, p.as_path())).collect();
        lrsched_train::outputs::refuse_overlap(
            &[
                ("--metrics-out", metrics),
                ("--metrics-out's step log", &steps),
            ],
            &inputs,
        )
    }

    /// The spec a tool's trials run: what one trial sets itself (schedule, seed, epochs)
    /// and what acts once in the tool (download, outputs) cleared, quiet, and the data
    /// paths absolute, since a trial may run from another folder (a cluster node).
    pub fn for_trials(&self) -> RunSpec {
        let absolute = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        };
        RunSpec {
            data_dir: absolute(&self.data_dir),
            data_path: absolute(&self.data_path),
            download: false,
            download_url: RunSpec::default().download_url,
            schedule: None,
            schedule_config: None,
            metrics_out: None,
            checkpoint_dir: None,
            keep_checkpoints: RunSpec::default().keep_checkpoints,
            resume: false,
            overwrite: false,
            quiet: true,
            ..self.clone()
        }
    }

    /// Writes the spec as JSON to `path` (atomically), for a trial to [`RunSpec::read`].
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        crate::files::write_atomic(path, text.as_bytes())
    }

    /// Reads a spec [`RunSpec::write`] wrote, checked.
    pub fn read(path: &Path) -> Result<RunSpec, String> {
        let text = crate::files::read_input(path, crate::files::MAX_INPUT_BYTES)?;
        let spec: RunSpec =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        spec.check()?;
        Ok(spec)
    }
}

/// The plateau mode a monitor asks for: max for one that is better higher.
pub fn plateau_mode(monitor: Monitor) -> PlateauMode {
    if monitor.higher_is_better() {
        PlateauMode::Max
    } else {
        PlateauMode::Min
    }
}

/// `batch_size` bounded by the data: at least 1, and a batch larger than the `rows`
/// training rows is the whole set, so it becomes `rows` (a note says so, once per
/// process). The run is the same either way (one batch of every row per epoch), but the
/// buffers are then sized by the data, not by the number typed.
pub fn bound_batch(batch_size: usize, rows: usize) -> Result<usize, String> {
    if batch_size == 0 {
        return Err("--batch-size 0 is not allowed: must be at least 1".into());
    }
    if batch_size > rows && rows > 0 {
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            log::warn!(
                "--batch-size {batch_size} is more than the {rows} training rows: using {rows} (one batch per epoch)"
            )
        });
        return Ok(rows);
    }
    Ok(batch_size)
}

/// The optimizer's complaint about a value, said with the flag that set it.
fn optimizer_error(e: &lrsched_train::optim::OptimError) -> String {
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
            return format!("{flag} {value} is not allowed with this optimizer: must be {allowed}");
        }
    }
    e.to_string()
}

/// The training crate's messages name a config's fields (`` `batch_size` = 0 ``); a spec
/// is set by flags, so say those.
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

/// Runs `spec` as one trial of a tool (docs/protocol.md): the schedule, seed and epochs
/// come from `trial` (the `LRSCHED_*` variables), the spec gives everything else, and the
/// metrics go to the trial's metrics file as protocol lines. The built-in trainer is then
/// one more program behind the protocol. Returns the exit status (0, or
/// [`EXIT_DIVERGED`]); `Err` is a one-line error.
pub fn run_trial(spec: &RunSpec, trial: lrsched::trial::Trial) -> Result<u8, String> {
    use crate::protocol::{Line, TrialInput};
    use crate::trainer::BuiltIn;
    use crate::trial::{Control, TrialStatus};
    if spec.schedule.is_some() || spec.schedule_config.is_some() {
        return Err(
            "this run is a trial (LRSCHED_PROTOCOL is set): its schedule comes from LRSCHED_SCHEDULE, so --schedule/--schedule-config are not allowed".into(),
        );
    }
    let (name, split) = spec.load_data()?;
    let config = spec.build_config(name, &split)?;
    let input = TrialInput {
        name: trial.name.clone(),
        schedule: trial.spec(),
        seed: trial.seed,
        epochs: trial.epochs,
        max_steps: trial.max_steps,
        dir: trial.out_dir.clone(),
    };
    let built_in = BuiltIn {
        config,
        split: std::sync::Arc::new(split),
    };
    let protocol = |e: &dyn std::fmt::Display| format!("trial protocol: {e}");
    let mut metrics = trial.metrics().map_err(|e| protocol(&e))?;
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
        return Err(protocol(&e));
    }
    if let TrialStatus::Diverged { .. } = &result.status {
        // The trainer stops before it reports the non-finite loss; the tool reading the
        // metrics learns of a divergence from a non-finite value (docs/protocol.md).
        let epoch = result.epochs.len() as u64 + 1;
        metrics
            .epoch(epoch, &[("train_loss", f64::NAN)])
            .map_err(|e| protocol(&e))?;
    }
    match result.status {
        TrialStatus::Completed | TrialStatus::Stopped { .. } => Ok(0),
        TrialStatus::Diverged { at, what } => {
            log::info!("diverged at {at}: {what}");
            Ok(EXIT_DIVERGED)
        }
        other => Err(other.to_string()),
    }
}
