//! The trial protocol, program side: read the trial lrsched hands a training program and
//! report its metrics back (docs/protocol.md is the full specification).
//!
//! `lrsched compare --command`, `find-lr --command` and `tune --command` run a user's
//! training program once per trial. The program learns what to do from `LRSCHED_*`
//! environment variables and appends JSON lines to a metrics file; nothing else is
//! shared, so any language can take part. This module makes it a few lines in Rust:
//!
//! ```no_run
//! # fn main() -> Result<(), lrsched::trial::TrialError> {
//! let trial = lrsched::trial::Trial::from_env()?.expect("run me through lrsched");
//! let steps_per_epoch = 120; // the program's own data size / batch size
//! let mut driver = trial.driver(Some(steps_per_epoch))?;
//! let mut metrics = trial.metrics()?;
//! let per_step = trial.interval() == lrsched::Interval::Step;
//! let mut step = 0; // optimizer steps, from 0
//! for epoch in 1..=trial.epochs() {
//!     for _ in 0..steps_per_epoch {
//!         // An error naming the step where the rate is not finite (NaN, inf).
//!         let lr = driver.try_lr()?; // set it on the optimizer, train one batch
//!         metrics.step(step, lr, 0.42)?;
//!         step += 1;
//!         if per_step {
//!             driver.step();
//!         }
//!     }
//!     metrics.epoch(epoch, &[("val_loss", 0.31), ("val_acc", 0.91)])?;
//!     if !per_step {
//!         driver.step();
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The interval follows the one rule of [`crate::config`]: a config's `interval` key when
//! it has one; [`Trial::interval`] says which applies, and [`Trial::driver`] resolves
//! `"3ep"` / `"10%"` durations with the program's steps per epoch. The schedule is read
//! and built as every entry point reads and builds one, through [`ScheduleSpec`]
//! ([`Trial::spec`]).

use crate::driver::Interval;
use crate::spec::TextFormat;
use crate::time::RunShape;
use crate::{Driver, ScheduleError, ScheduleSpec};
use serde_json::Value;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The protocol version this module speaks (`LRSCHED_PROTOCOL`).
pub const PROTOCOL_VERSION: u32 = 1;

/// `LRSCHED_PROTOCOL`: the protocol version, `1`.
pub const ENV_PROTOCOL: &str = "LRSCHED_PROTOCOL";
/// `LRSCHED_TRIAL`: the trial's name (e.g. `cosine-seed1`), for logs.
pub const ENV_TRIAL: &str = "LRSCHED_TRIAL";
/// `LRSCHED_SCHEDULE`: the schedule as one line of JSON config.
pub const ENV_SCHEDULE: &str = "LRSCHED_SCHEDULE";
/// `LRSCHED_SCHEDULE_FILE`: the path of a file holding the same JSON config.
pub const ENV_SCHEDULE_FILE: &str = "LRSCHED_SCHEDULE_FILE";
/// `LRSCHED_INTERVAL`: `step` or `epoch`, how often the program advances the schedule.
pub const ENV_INTERVAL: &str = "LRSCHED_INTERVAL";
/// `LRSCHED_SEED`: the seed (an unsigned integer).
pub const ENV_SEED: &str = "LRSCHED_SEED";
/// `LRSCHED_EPOCHS`: the epoch budget (an integer >= 1).
pub const ENV_EPOCHS: &str = "LRSCHED_EPOCHS";
/// `LRSCHED_MAX_STEPS`: optional; the program may stop after this many optimizer steps
/// (the range test's length).
pub const ENV_MAX_STEPS: &str = "LRSCHED_MAX_STEPS";
/// `LRSCHED_STEPS_PER_EPOCH`: optional; set when the user told lrsched the program's
/// steps per epoch, in which case the schedule's durations are already resolved.
pub const ENV_STEPS_PER_EPOCH: &str = "LRSCHED_STEPS_PER_EPOCH";
/// `LRSCHED_OUT_DIR`: the trial's own folder (exists; the program may write there).
pub const ENV_OUT_DIR: &str = "LRSCHED_OUT_DIR";
/// `LRSCHED_METRICS`: the file the program appends its JSON lines to.
pub const ENV_METRICS: &str = "LRSCHED_METRICS";
/// The longest metrics line lrsched reads, newline included: a program's helper refuses
/// to write a longer one ([`Metrics`]), since lrsched would reject it as bad output.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The schedule's variables as lrsched sets them for a trial: [`ENV_SCHEDULE`], the spec's
/// config as one line of JSON (with its `interval` key where one was stated, as
/// [`ScheduleSpec::to_value`] writes it), and [`ENV_INTERVAL`], the interval it is stepped
/// at. [`Trial::from_vars`] reads them back to the same schedule and interval: the writer
/// beside the reader, so the two sides of the protocol cannot drift apart.
///
/// ```
/// use lrsched::{trial, ScheduleSpec};
/// let spec = ScheduleSpec::parse("StepLR(lr=0.1, step_size=2)").unwrap();
/// assert_eq!(trial::schedule_vars(&spec), [
///     ("LRSCHED_SCHEDULE", r#"{"lr":0.1,"step_size":2,"type":"StepLR"}"#.to_string()),
///     ("LRSCHED_INTERVAL", "epoch".to_string()),
/// ]);
/// ```
pub fn schedule_vars(spec: &ScheduleSpec) -> [(&'static str, String); 2] {
    let interval = match spec.interval() {
        Interval::Step => "step",
        Interval::Epoch => "epoch",
    };
    [
        (ENV_SCHEDULE, spec.to_value().to_string()),
        (ENV_INTERVAL, interval.to_string()),
    ]
}

/// What can go wrong reading a trial or writing its metrics.
#[derive(Debug)]
pub enum TrialError {
    /// An `LRSCHED_*` variable is missing or malformed.
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// The trial's schedule is not a valid config.
    Schedule(ScheduleError),
    /// Writing the metrics file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A metric value that JSON cannot hold or a name that is reserved.
    Metric(String),
}

impl fmt::Display for TrialError {
    /// Quoted input is cut to [`crate::MAX_QUOTE`] characters ([`crate::shorten`]), as
    /// in every error of the crate: a variable holding a 400-digit number came back whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = match self {
            TrialError::Env { name, problem } => format!("{name}: {problem}"),
            TrialError::Schedule(e) => format!("{ENV_SCHEDULE}: {e}"),
            TrialError::Io { path, error } => format!("{}: {error}", path.display()),
            TrialError::Metric(m) => m.clone(),
        };
        f.write_str(&crate::shorten(&full))
    }
}

impl std::error::Error for TrialError {}

impl From<ScheduleError> for TrialError {
    fn from(e: ScheduleError) -> Self {
        TrialError::Schedule(e)
    }
}

/// The trial lrsched handed this process.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The trial's name.
    pub name: String,
    /// The schedule's JSON config, `interval` key removed.
    pub schedule: Value,
    /// How often the schedule advances.
    pub interval: Interval,
    /// The seed.
    pub seed: u64,
    /// The epoch budget.
    pub epochs: u64,
    /// Optional cap on optimizer steps (the range test).
    pub max_steps: Option<u64>,
    /// Steps per epoch, when lrsched was told it.
    pub steps_per_epoch: Option<u64>,
    /// The trial's folder.
    pub out_dir: PathBuf,
    /// The metrics file.
    pub metrics_path: PathBuf,
}

impl Trial {
    /// The trial from the process's environment; `Ok(None)` when the process was not
    /// started by lrsched (no `LRSCHED_PROTOCOL`), so a program can run on its own too.
    pub fn from_env() -> Result<Option<Trial>, TrialError> {
        Trial::from_vars(|k| std::env::var(k).ok())
    }

    /// As [`Trial::from_env`], reading variables through `get` (for tests and embedding).
    ///
    /// ```
    /// use lrsched::trial::Trial;
    /// let vars = [("LRSCHED_PROTOCOL", "1"), ("LRSCHED_SCHEDULE", r#"{"type": "cosine", "lr": 0.1, "steps": "100%"}"#),
    ///     ("LRSCHED_SEED", "7"), ("LRSCHED_EPOCHS", "3"), ("LRSCHED_OUT_DIR", "/tmp/t"),
    ///     ("LRSCHED_METRICS", "/tmp/t/metrics.jsonl")];
    /// let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    /// let trial = Trial::from_vars(get).unwrap().unwrap();
    /// assert_eq!((trial.seed, trial.epochs), (7, 3));
    /// let driver = trial.driver(Some(10)).unwrap(); // 100% of 3 epochs x 10 steps
    /// assert_eq!(lrsched::Schedule::len(driver.schedule()), Some(30));
    /// ```
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<Trial>, TrialError> {
        let Some(version) = get(ENV_PROTOCOL) else {
            return Ok(None);
        };
        if version.trim() != PROTOCOL_VERSION.to_string() {
            return Err(TrialError::Env {
                name: ENV_PROTOCOL,
                problem: format!(
                    "version {version:?} is not supported: this program speaks version {PROTOCOL_VERSION}"
                ),
            });
        }
        let required = |name: &'static str| {
            get(name).ok_or(TrialError::Env {
                name,
                problem: "missing: lrsched sets it for every trial".into(),
            })
        };
        let number = |name: &'static str, text: String, min: u64| {
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or(TrialError::Env {
                    name,
                    problem: format!("{text:?} is not allowed: must be an integer >= {min}"),
                })
        };
        let schedule_text = match get(ENV_SCHEDULE) {
            Some(t) => t,
            None => {
                let path = required(ENV_SCHEDULE_FILE)?;
                std::fs::read_to_string(&path).map_err(|e| TrialError::Env {
                    name: ENV_SCHEDULE_FILE,
                    problem: format!("cannot read {path}: {e}"),
                })?
            }
        };
        // The protocol's schedule is JSON, read by the loaders' own reader: a key given
        // twice is refused here as in a file.
        let spec = ScheduleSpec::parse_as(&schedule_text, TextFormat::Json)?;
        let spec = match get(ENV_INTERVAL).as_deref().map(str::trim) {
            None => spec,
            Some("step") => spec.with_interval(Interval::Step),
            Some("epoch") => spec.with_interval(Interval::Epoch),
            Some(other) => {
                return Err(TrialError::Env {
                    name: ENV_INTERVAL,
                    problem: format!("{other:?} is not allowed: must be \"step\" or \"epoch\""),
                })
            }
        };
        let optional = |name: &'static str| -> Result<Option<u64>, TrialError> {
            get(name).map(|t| number(name, t, 1)).transpose()
        };
        let (schedule, interval) = spec.into_parts();
        Ok(Some(Trial {
            name: get(ENV_TRIAL).unwrap_or_default(),
            schedule,
            interval,
            seed: number(ENV_SEED, required(ENV_SEED)?, 0)?,
            epochs: number(ENV_EPOCHS, required(ENV_EPOCHS)?, 1)?,
            max_steps: optional(ENV_MAX_STEPS)?,
            steps_per_epoch: optional(ENV_STEPS_PER_EPOCH)?,
            out_dir: PathBuf::from(required(ENV_OUT_DIR)?),
            metrics_path: PathBuf::from(required(ENV_METRICS)?),
        }))
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The epoch budget.
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// How often the program advances the schedule.
    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// The trial's schedule as a [`ScheduleSpec`]: its config with the trial's interval
    /// stated (`LRSCHED_INTERVAL` when lrsched set it, else the config's rule), as a tool
    /// hands it on (its `to_value()` is the config with `interval` written).
    ///
    /// ```
    /// use lrsched::{trial::Trial, Interval};
    /// let vars = [("LRSCHED_PROTOCOL", "1"), ("LRSCHED_SCHEDULE", r#"{"type": "StepLR", "lr": 0.1, "step_size": 2}"#),
    ///     ("LRSCHED_SEED", "7"), ("LRSCHED_EPOCHS", "3"), ("LRSCHED_OUT_DIR", "/tmp/t"),
    ///     ("LRSCHED_METRICS", "/tmp/t/metrics.jsonl")];
    /// let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    /// let spec = Trial::from_vars(get).unwrap().unwrap().spec();
    /// assert_eq!(spec.interval(), Interval::Epoch);
    /// assert_eq!(spec.to_value()["interval"], "epoch");
    /// ```
    pub fn spec(&self) -> ScheduleSpec {
        ScheduleSpec::from_parts(self.schedule.clone(), self.interval)
    }

    /// The trial's schedule in a [`Driver`], `"3ep"` / `"10%"` durations resolved with
    /// the program's steps per epoch (`steps_per_epoch`, else `LRSCHED_STEPS_PER_EPOCH`;
    /// neither is needed for a schedule written in steps, or one stepped per epoch):
    /// [`ScheduleSpec::resolve`] for the trial's run.
    pub fn driver(&self, steps_per_epoch: Option<u64>) -> Result<Driver, TrialError> {
        let spec = self.spec();
        let epochs = self.epochs as f64;
        let run = match self.interval {
            // Counted in epochs: the steps per epoch do not matter.
            Interval::Epoch => Some(RunShape::new(1, 1).with_epochs(epochs)),
            Interval::Step => steps_per_epoch
                .or(self.steps_per_epoch)
                .map(|n| RunShape::new(n.max(1), 1).with_epochs(epochs)),
        };
        let schedule = match run {
            Some(run) => spec.resolve(&run)?,
            None => spec.build(None)?,
        };
        Ok(Driver::new(schedule).with_interval(self.interval))
    }

    /// The metrics file, opened for appending.
    pub fn metrics(&self) -> Result<Metrics, TrialError> {
        Metrics::append(&self.metrics_path)
    }

    /// The trial's own folder.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }
}

/// Appends the protocol's JSON lines to a metrics file, one `write` per line so a reader
/// never sees half a line and a killed program leaves every line it finished.
#[derive(Debug)]
pub struct Metrics {
    file: std::fs::File,
    path: PathBuf,
}

impl Metrics {
    /// Opens (creating if needed) `path` for appending.
    pub fn append(path: &Path) -> Result<Metrics, TrialError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| TrialError::Io {
                path: path.to_path_buf(),
                error,
            })?;
        Ok(Metrics {
            file,
            path: path.to_path_buf(),
        })
    }

    /// One epoch's line: `{"epoch": 3, "val_loss": 0.31, ...}`. A NaN or infinite value
    /// is written `NaN` / `Infinity` / `-Infinity`, as Python's `json` module writes it;
    /// lrsched reads those back and treats the trial as diverged.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("lrsched-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("m.jsonl");
    /// let mut m = lrsched::trial::Metrics::append(&path).unwrap();
    /// m.epoch(1, &[("val_acc", 0.5)]).unwrap();
    /// m.epoch(2, &[("val_loss", f64::NAN)]).unwrap();
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert_eq!(text, "{\"epoch\":1,\"val_acc\":0.5}\n{\"epoch\":2,\"val_loss\":NaN}\n");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn epoch(&mut self, epoch: u64, values: &[(&str, f64)]) -> Result<(), TrialError> {
        self.line("epoch", epoch, values)
    }

    /// One optimizer step's line: `{"step": 120, "lr": 0.05, "loss": 0.42}` (step counted
    /// from 0, the lr used for that step and its training loss).
    pub fn step(&mut self, step: u64, lr: f64, loss: f64) -> Result<(), TrialError> {
        self.line("step", step, &[("lr", lr), ("loss", loss)])
    }

    fn line(&mut self, key: &str, at: u64, values: &[(&str, f64)]) -> Result<(), TrialError> {
        let mut text = format!("{{\"{key}\":{at}");
        for (name, v) in values {
            if matches!(*name, "epoch" | "step") {
                return Err(TrialError::Metric(format!(
                    "metric name `{name}` is reserved by the protocol"
                )));
            }
            text.push(',');
            text.push_str(&Value::String((*name).to_string()).to_string());
            text.push(':');
            text.push_str(&match serde_json::Number::from_f64(*v) {
                Some(n) => n.to_string(),
                None if v.is_nan() => "NaN".into(),
                None if *v > 0.0 => "Infinity".into(),
                None => "-Infinity".into(),
            });
        }
        text.push_str("}\n");
        if text.len() > MAX_LINE_BYTES {
            // Refused before anything is written: lrsched would reject the line, and a
            // part of it in the file would break the lines after it too.
            return Err(TrialError::Metric(format!(
                "a {key} line of {} bytes is longer than the protocol's {MAX_LINE_BYTES}: \
                 fewer or shorter metric names",
                text.len()
            )));
        }
        self.file
            .write_all(text.as_bytes())
            .map_err(|error| TrialError::Io {
                path: self.path.clone(),
                error,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_reads_back_the_schedule_vars_it_was_given() {
        for text in [
            "StepLR(lr=0.1, step_size=2)",
            "StepLR(lr=0.1, step_size=2, interval=step)",
            "cosine(lr=0.1, steps=\"100%\", interval=epoch)",
            "OneCycleLR(max_lr=0.1, total_steps=\"1ep\")",
        ] {
            let spec = ScheduleSpec::parse(text).unwrap();
            let mut vars: Vec<(&str, String)> = schedule_vars(&spec).into();
            vars.extend([
                (ENV_PROTOCOL, "1".to_string()),
                (ENV_SEED, "1".into()),
                (ENV_EPOCHS, "3".into()),
                (ENV_OUT_DIR, "/tmp/t".into()),
                (ENV_METRICS, "/tmp/t/m.jsonl".into()),
            ]);
            let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
            let trial = Trial::from_vars(get).unwrap().unwrap();
            assert_eq!(trial.interval, spec.interval(), "{text}");
            assert_eq!(&trial.schedule, spec.config(), "{text}");
            assert_eq!(
                trial.spec(),
                spec.clone().with_interval(spec.interval()),
                "{text}"
            );
            let run = RunShape::new(10, 1).with_epochs(3);
            assert_eq!(
                trial.driver(Some(10)).unwrap().schedule(),
                &spec.resolve(&run).unwrap(),
                "{text}"
            );
        }
    }
}
