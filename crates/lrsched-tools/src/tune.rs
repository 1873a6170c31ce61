//! Hyper-parameter search over a schedule: grid, seeded random, or asynchronous
//! successive halving (ASHA), on any [`Trainer`].
//!
//! A search is a [`TuneSpec`]: the [`Space`] (a schedule template and its parameters),
//! the strategy, the epoch budget and the output folder. Each configuration becomes one
//! trial, a [`TrialInput`] keyed by the first 16 hex digits of the SHA-256 of its
//! canonical JSON (schedule, seed, epochs, trainer), stored as `trials/KEY/trial.json`.
//! When a trial ends its outcome is written atomically to `trials/KEY/result.json`, so a
//! killed search leaves only whole results and a rerun with the same folder runs only
//! the trials that have none. Completed, pruned, diverged and failed trials are all
//! finished; a trial cancelled by Ctrl-C (or whose lrsched was killed) is not.
//!
//! [`output`] turns the [`TuneResult`] into files (results.csv/jsonl, best.json,
//! best_compare.json, score-vs-parameter plots) and report sections.

pub mod asha;
mod execute;
pub mod output;
pub mod predictive;
pub mod seeds;
pub mod space;

pub use execute::{collect_external, command_line_for, run};

use crate::protocol::TrialInput;
use crate::runner::{Launcher, TrialEvent};
use crate::trainer::Trainer;
use crate::trial::{TrialResult, TrialStatus};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use space::{canonical, Params, Space};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Configurations `--strategy predict` runs to confirm when `--top-k` is not given.
pub const DEFAULT_TOP_K: usize = 3;

/// How configurations are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Every combination: ranges at `points` values, choices at all of theirs.
    Grid {
        /// Values per range.
        points: usize,
    },
    /// `trials` distinct samples drawn with `seed`.
    Random {
        /// How many configurations.
        trials: usize,
        /// The sampling seed.
        seed: u64,
    },
    /// `trials` samples, weak ones stopped at rungs of `min_epochs * eta^k` epochs.
    Asha {
        /// How many configurations.
        trials: usize,
        /// The sampling seed.
        seed: u64,
        /// Keep the best `1/eta` at each rung.
        eta: u64,
        /// Epochs of the first rung.
        min_epochs: u64,
    },
    /// Two fitting runs (a constant and a cosine at `fit_lr`), the loss-curve law fitted
    /// to them predicts every point of the grid, and only the `top_k` best predicted run
    /// ([`predictive`]).
    Predict {
        /// Values per range of the grid predicted.
        points: usize,
        /// Configurations run to confirm the prediction.
        top_k: usize,
        /// The fitting runs' rate; `None`: the highest peak rate of the space.
        fit_lr: Option<f64>,
    },
}

/// A strategy as the command line names it, with the numbers that go with it.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyChoice<'a> {
    /// `grid`, `random` or `asha` (also `sha`, `successive-halving`).
    pub name: &'a str,
    /// Values per range of a grid.
    pub grid_points: usize,
    /// Configurations of random and asha.
    pub trials: usize,
    /// The sampling seed.
    pub seed: u64,
    /// asha's keep-the-top-1/eta factor.
    pub eta: u64,
    /// asha's first rung, in epochs.
    pub min_epochs: u64,
    /// Each trial's epoch budget.
    pub epochs: u64,
    /// predict: configurations run to confirm the prediction (`None`:
    /// [`DEFAULT_TOP_K`], or the whole grid when smaller).
    pub top_k: Option<usize>,
    /// predict: the fitting runs' rate (`None`: the space's peak).
    pub fit_lr: Option<f64>,
}

impl StrategyChoice<'_> {
    /// The checked strategy over `space`; errors are one line naming the flag
    /// (`--grid-points`, `--trials`, `--eta`, ...). A grid's size is counted by multiplying
    /// each parameter's number of values (saturating), never by making the points, so a
    /// huge `--grid-points` is refused at once.
    pub fn strategy(&self, space: &Space) -> Result<Strategy, String> {
        let max = space::MAX_TRIALS;
        match self.name {
            "predict" => {
                let Strategy::Grid { points } = (StrategyChoice {
                    name: "grid",
                    ..self.clone()
                })
                .strategy(space)?
                else {
                    unreachable!("a grid choice gives a grid")
                };
                let size = space.grid_size(points);
                let top_k = self.top_k.unwrap_or(DEFAULT_TOP_K.min(size));
                if top_k == 0 || top_k > size {
                    return Err(format!(
                        "--top-k {top_k} is not allowed: must be between 1 and the grid's {size} configurations"
                    ));
                }
                if let Some(lr) = self.fit_lr {
                    if !(lr.is_finite() && lr > 0.0 && lr <= 1e6) {
                        return Err(format!(
                            "--fit-lr {lr} is not allowed: must be a rate above 0 and at most 1e6"
                        ));
                    }
                }
                Ok(Strategy::Predict {
                    points,
                    top_k,
                    fit_lr: self.fit_lr,
                })
            }
            "grid" => {
                if self.grid_points == 0 {
                    return Err("--grid-points 0 is not allowed: must be at least 1".into());
                }
                let size = space.grid_size(self.grid_points);
                if size > max {
                    return Err(format!(
                        "--grid-points {} is not allowed: the grid would have {} trials, at most {max}",
                        self.grid_points,
                        if size == usize::MAX {
                            "more than 18446744073709551615".to_string()
                        } else {
                            size.to_string()
                        },
                    ));
                }
                Ok(Strategy::Grid {
                    points: self.grid_points,
                })
            }
            s @ ("random" | "asha" | "sha" | "successive-halving") => {
                if self.trials == 0 || self.trials > max {
                    return Err(format!(
                        "--trials {} is not allowed: must be between 1 and {max}",
                        self.trials
                    ));
                }
                let (trials, seed) = (self.trials, self.seed);
                if s == "random" {
                    return Ok(Strategy::Random { trials, seed });
                }
                asha::rungs(self.min_epochs, self.epochs, self.eta).map_err(|e| {
                    e.replace("eta =", "--eta")
                        .replace("min epochs =", "--min-epochs")
                        .replace("the epochs", "--epochs")
                })?;
                Ok(Strategy::Asha {
                    trials,
                    seed,
                    eta: self.eta,
                    min_epochs: self.min_epochs,
                })
            }
            s => Err(format!(
                "--strategy `{s}` is unknown: must be grid, random, asha or predict"
            )),
        }
    }
}

impl Strategy {
    /// The most trials it plans over `space`.
    pub fn trials(&self, space: &Space) -> usize {
        match self {
            Strategy::Grid { points } => space.grid_size(*points),
            // Two fitting runs, then the confirming ones.
            Strategy::Predict { top_k, .. } => (*top_k).max(2),
            Strategy::Random { trials, .. } | Strategy::Asha { trials, .. } => *trials,
        }
    }
}

/// Whether higher or lower scores are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Higher is better (accuracy).
    Max,
    /// Lower is better (loss).
    Min,
}

impl Mode {
    /// The natural direction of a metric: max for names that contain acc, accuracy, auc,
    /// f1, score, iou, map, bleu or r2; min for everything else (losses, errors).
    ///
    /// ```
    /// use lrsched_tools::tune::Mode;
    /// assert_eq!(Mode::for_metric("val_acc"), Mode::Max);
    /// assert_eq!(Mode::for_metric("val_loss"), Mode::Min);
    /// ```
    pub fn for_metric(name: &str) -> Mode {
        // The one rule of which metrics are better higher, shared with compare.
        if crate::compare::Metric::named(name).higher_is_better {
            Mode::Max
        } else {
            Mode::Min
        }
    }

    /// `max` or `min` (`--mode`).
    pub fn from_name(name: &str) -> Result<Mode, String> {
        match name {
            "max" => Ok(Mode::Max),
            "min" => Ok(Mode::Min),
            x => Err(format!("--mode `{x}` is unknown: must be max or min")),
        }
    }

    /// `value` as goodness: higher is better.
    pub fn goodness(self, value: f64) -> f64 {
        match self {
            Mode::Max => value,
            Mode::Min => -value,
        }
    }
}

/// The metric that scores, as compare's [`crate::compare::Metric`]: its direction from
/// `mode`, which values it may take ([`crate::compare::Metric::allows`]).
fn scoring(metric: &str, mode: Mode) -> crate::compare::Metric {
    crate::compare::Metric {
        name: metric.to_string(),
        higher_is_better: mode == Mode::Max,
    }
}

/// Which of a trial's epochs scores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreBy {
    /// The last epoch it reported.
    Final,
    /// Its best epoch.
    Best,
}

impl ScoreBy {
    /// `final` or `best` (`--score`).
    pub fn from_name(name: &str) -> Result<ScoreBy, String> {
        match name {
            "final" => Ok(ScoreBy::Final),
            "best" => Ok(ScoreBy::Best),
            s => Err(format!("--score `{s}` is unknown: must be final or best")),
        }
    }
}

/// A search.
#[derive(Debug, Clone)]
pub struct TuneSpec {
    /// The search space.
    pub space: Space,
    /// How configurations are chosen.
    pub strategy: Strategy,
    /// Each trial's epoch budget.
    pub epochs: u64,
    /// Each trial's training seed.
    pub seed: u64,
    /// The metric that scores (default: `val_acc` when the trials report it, else `val_loss`).
    pub metric: Option<String>,
    /// Higher or lower is better (default: [`Mode::for_metric`]).
    pub mode: Option<Mode>,
    /// Final or best epoch.
    pub score: ScoreBy,
    /// Trials at once.
    pub jobs: usize,
    /// The output folder (trials go to `trials/KEY/` in it).
    pub out: PathBuf,
    /// What trains, as part of every trial's key: the same schedule on another program is
    /// another trial (e.g. the command line, or the built-in trainer's flags).
    pub trainer_id: String,
    /// Where the trials run: here, or on a SLURM cluster (state in `out/slurm/`).
    pub launcher: Launcher,
}

/// One trial of a plan.
#[derive(Debug, Clone)]
pub struct PlannedTrial {
    /// The key (16 hex digits).
    pub key: String,
    /// The parameters' values.
    pub params: Params,
    /// The schedule's config.
    pub schedule: Value,
    /// The schedule as one line.
    pub line: String,
    /// What the trainer gets.
    pub input: TrialInput,
}

impl PlannedTrial {
    /// The trial of `schedule` (the values `params`) at `seed` in `spec`'s folder, keyed
    /// by [`trial_key`]; `Err((line, why))` when its `interval` is neither step nor epoch.
    pub fn new(
        spec: &TuneSpec,
        params: Params,
        schedule: Value,
        seed: u64,
    ) -> Result<PlannedTrial, (String, String)> {
        let key = trial_key(&schedule, seed, spec.epochs, &spec.trainer_id);
        let line = lrsched::oneline::print_value(&schedule);
        let input_schedule = match lrsched::ScheduleSpec::from_value(schedule.clone()) {
            Ok(s) => s,
            Err(e) => return Err((line, e.to_string())),
        };
        let dir = spec.out.join("trials").join(&key);
        Ok(PlannedTrial {
            line,
            input: TrialInput {
                name: key.clone(),
                schedule: input_schedule,
                seed,
                epochs: spec.epochs,
                max_steps: None,
                dir,
            },
            key,
            params,
            schedule,
        })
    }

    /// The trial as stored in `trial.json`.
    pub fn to_json(&self, trainer_id: &str) -> Value {
        json!({
            "key": self.key,
            "name": self.input.name,
            "params": self.params,
            "schedule": self.schedule,
            "schedule_line": self.line,
            "seed": self.input.seed,
            "epochs": self.input.epochs,
            "max_steps": self.input.max_steps,
            "trainer": trainer_id,
            "dir": self.input.dir,
        })
    }
}

/// The trials of a search and those already finished in its folder.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every trial, in the strategy's order.
    pub trials: Vec<PlannedTrial>,
    /// Results already in the folder, by key.
    pub finished: HashMap<String, TrialRecord>,
}

impl Plan {
    /// A plan of `trials` with the results their folders already hold: a phase of a
    /// search (fitting runs, confirmations, more seeds) that a rerun finds finished.
    pub fn with_finished(trials: Vec<PlannedTrial>) -> Plan {
        let finished = trials
            .iter()
            .filter_map(|t| {
                TrialRecord::read(&t.input.dir.join("result.json")).map(|r| (t.key.clone(), r))
            })
            .collect();
        Plan { trials, finished }
    }

    /// The trials without a result, in order.
    pub fn pending(&self) -> Vec<&PlannedTrial> {
        self.trials
            .iter()
            .filter(|t| !self.finished.contains_key(&t.key))
            .collect()
    }
}

/// The key of a trial: the first 16 hex digits of the SHA-256 of its canonical JSON.
///
/// ```
/// use lrsched_tools::tune::trial_key;
/// let s = serde_json::json!({"type": "constant", "lr": 0.1});
/// let k = trial_key(&s, 0, 3, "cmd");
/// assert_eq!(k.len(), 16);
/// assert_eq!(k, trial_key(&s, 0, 3, "cmd"));
/// assert_ne!(k, trial_key(&s, 0, 4, "cmd"));
/// ```
pub fn trial_key(schedule: &Value, seed: u64, epochs: u64, trainer_id: &str) -> String {
    let keyed =
        json!({"schedule": schedule, "seed": seed, "epochs": epochs, "trainer": trainer_id});
    let digest = Sha256::digest(canonical(&keyed).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Checks the spec and makes its trials; reads the results already in its folder.
/// Counts are checked before any configuration is made.
pub fn plan(spec: &TuneSpec) -> Result<Plan, String> {
    if spec.epochs == 0 {
        return Err("epochs = 0 is not allowed: must be at least 1".into());
    }
    let configs = match &spec.strategy {
        Strategy::Grid { points } | Strategy::Predict { points, .. } => spec.space.grid(*points)?,
        Strategy::Random { trials, seed } => spec.space.sample(*trials, *seed)?,
        Strategy::Asha {
            trials,
            seed,
            eta,
            min_epochs,
        } => {
            asha::rungs(*min_epochs, spec.epochs, *eta)?;
            spec.space.sample(*trials, *seed)?
        }
    };
    let mut trials = Vec::with_capacity(configs.len());
    let mut finished = HashMap::new();
    // Two assignments can give one schedule (rounding to whole numbers, a value the
    // template ignores): one trial per key, found through a set (linear, not quadratic),
    // so no two trials share a folder.
    let mut keys = std::collections::HashSet::new();
    // An `interval` key that is neither "step" nor "epoch" (stated in the template or
    // drawn from a choice) cannot go to a trial: the first such schedule, kept for the
    // message after the loop.
    let mut bad_interval = None;
    for params in configs {
        let schedule = spec.space.schedule(&params)?;
        match PlannedTrial::new(spec, params, schedule, spec.seed) {
            Ok(t) if !keys.insert(t.key.clone()) => {}
            Ok(t) => {
                if let Some(r) = TrialRecord::read(&t.input.dir.join("result.json")) {
                    finished.insert(t.key.clone(), r);
                }
                trials.push(t);
            }
            Err(bad) => {
                bad_interval.get_or_insert(bad);
            }
        }
    }
    // A schedule that cannot be built is normally one trial's failure; when no trial's
    // can (a misspelt type), the space itself is wrong: say so before running anything.
    // The shape is nominal (1000 steps per epoch): only the program knows its own.
    if let Some((line, e)) = bad_interval {
        // Every trial's: the message the build check below gives an invalid space.
        if trials.is_empty() {
            return Err(format!(
                "every trial's schedule is invalid, e.g. `{line}`: {e}"
            ));
        }
        return Err(format!("the schedule `{line}` is invalid: {e}"));
    }
    let shape = lrsched::time::RunShape::new(1000, 1).with_epochs(spec.epochs as f64);
    let check = |t: &PlannedTrial| -> Result<(), String> {
        t.input
            .schedule
            .build(Some(&shape))
            .map(drop)
            .map_err(|e| e.to_string())
    };
    if let Some(first) = trials.first() {
        if let Err(e) = check(first) {
            if trials[1..].iter().all(|t| check(t).is_err()) {
                return Err(format!(
                    "every trial's schedule is invalid, e.g. `{}`: {e}",
                    first.line
                ));
            }
        }
    }
    Ok(Plan { trials, finished })
}

/// Writes each trial's `trial.json` (when it differs) and `schedule.json`: what a trial
/// run elsewhere (`--print-trials`) needs. Call it holding the folder's [`OutLock`]: it
/// also removes temporary files an earlier, killed search left half-written.
pub fn write_inputs(spec: &TuneSpec, plan: &Plan) -> Result<(), String> {
    for t in &plan.trials {
        std::fs::create_dir_all(&t.input.dir)
            .map_err(|e| format!("cannot create {}: {e}", t.input.dir.display()))?;
        // A search killed during an atomic write leaves its temporary file; the lock says
        // no one else writes here, so the leftovers of lrsched's own files can go.
        if let Ok(entries) = std::fs::read_dir(&t.input.dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let ours = ["trial.json", "schedule.json", "result.json"]
                    .iter()
                    .any(|f| name.starts_with(&format!(".{f}.tmp-")));
                if ours {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let text = serde_json::to_string_pretty(&t.to_json(&spec.trainer_id))
            .expect("JSON values serialise")
            + "\n";
        let path = t.input.dir.join("trial.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            replace_file(&path, text.as_bytes())?;
        }
        let sched = format!("{}\n", t.schedule);
        let sp = t.input.schedule_path();
        if std::fs::read_to_string(&sp).ok().as_deref() != Some(sched.as_str()) {
            replace_file(&sp, sched.as_bytes())?;
        }
    }
    Ok(())
}

/// Replaces `path` with `bytes` through a temporary file (`.NAME.tmp-PID`, the name
/// [`write_inputs`] clears) and a rename, so no half file ever has the final name, but
/// without `fsync`: a trial's inputs are made again from the plan by the next search, so
/// a power cut loses nothing, and 10000 trials' inputs take a second instead of the
/// 2 minutes their 40000 syncs took (results stay synced: they are the only copy).
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
}

/// The advisory lock on tune's output folder: a second search on the same folder is
/// refused instead of running every trial twice (the one lock of `lrsched_train::lock`).
pub use lrsched_train::lock::FolderLock as OutLock;

/// The largest `result.json` read back: far above any real record (one line of metrics per
/// epoch), and a bound on what a rerun reads from a folder others could write to.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

/// How one trial ended, as stored in `result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// The trial's key.
    pub key: String,
    /// `completed`, `pruned`, `stopped`, `diverged`, `failed`, `timed out`, `bad output`,
    /// `no report`.
    pub outcome: String,
    /// The whole status (`exited with status 1`, `pruned at rung 1 (epoch 1)`, ...).
    pub message: String,
    /// The exit code of a failed program.
    pub exit_code: Option<i32>,
    /// The signal that killed a failed program.
    pub signal: Option<i32>,
    /// The rung epoch a pruned trial stopped at.
    pub pruned_at: Option<u64>,
    /// Epoch lines reported.
    pub epochs_run: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The last lines of its standard error.
    pub stderr_tail: Vec<String>,
    /// The first line of its standard error that names an error (`Error: ...`, a panic),
    /// which a long backtrace can push out of the tail.
    #[serde(default)]
    pub error_line: Option<String>,
    /// Each epoch line's values (`epoch` included; non-finite values as null).
    pub metrics: Vec<BTreeMap<String, Option<f64>>>,
    /// Earlier attempts that failed and were retried (SLURM launcher), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<String>,
}

impl TrialRecord {
    /// The record of a trial that ended (`pruned_at`: the rung that stopped it).
    pub fn from_result(key: &str, r: &TrialResult, pruned_at: Option<u64>) -> TrialRecord {
        let (exit_code, signal) = match &r.status {
            TrialStatus::Failed { code, signal, .. } => (*code, *signal),
            _ => (None, None),
        };
        let outcome = match &r.status {
            TrialStatus::Completed => "completed",
            TrialStatus::Stopped { .. } if pruned_at.is_some() => "pruned",
            other => other.word(),
        };
        TrialRecord {
            key: key.to_string(),
            outcome: outcome.to_string(),
            message: r.status.to_string(),
            exit_code,
            signal,
            pruned_at,
            epochs_run: r.epochs.len() as u64,
            seconds: r.seconds,
            stderr_tail: r.stderr_tail.clone(),
            error_line: None,
            attempts: r.attempts.clone(),
            metrics: r
                .epochs
                .iter()
                .map(|e| {
                    let mut m: BTreeMap<String, Option<f64>> = e
                        .values
                        .iter()
                        .map(|(k, v)| (k.clone(), v.is_finite().then_some(*v)))
                        .collect();
                    m.insert("epoch".into(), Some(e.epoch as f64));
                    m
                })
                .collect(),
        }
    }

    /// Reads a `result.json`; `None` when absent, unreadable, not a regular file or over
    /// [`MAX_RESULT_BYTES`] (the trial then runs again).
    pub fn read(path: &Path) -> Option<TrialRecord> {
        // Never blocking on a FIFO the trial's program could have put in its folder.
        let bytes = crate::protocol::read_trial_file(path, MAX_RESULT_BYTES).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// `(epoch, value)` of `metric` per epoch (non-finite values as NaN).
    pub fn series(&self, metric: &str) -> Vec<(u64, f64)> {
        self.metrics
            .iter()
            .filter_map(|m| {
                let e = m.get("epoch").copied().flatten()? as u64;
                let v = m.get(metric)?.unwrap_or(f64::NAN);
                Some((e, v))
            })
            .collect()
    }

    /// Whether the trial's numbers count (completed, pruned at a rung, stopped on purpose).
    pub fn is_usable(&self) -> bool {
        matches!(self.outcome.as_str(), "completed" | "pruned" | "stopped")
    }

    /// Its score: the metric at its last epoch, or its best over the epochs up to `upto`.
    pub fn score(&self, metric: &str, mode: Mode, by: ScoreBy, upto: Option<u64>) -> Option<f64> {
        let s: Vec<f64> = self
            .series(metric)
            .into_iter()
            .filter(|(e, _)| upto.is_none_or(|u| *e <= u))
            .map(|(_, v)| v)
            .collect();
        match by {
            ScoreBy::Final => s.last().copied().filter(|v| v.is_finite()),
            ScoreBy::Best => s
                .into_iter()
                .filter(|v| v.is_finite())
                .max_by(|a, b| mode.goodness(*a).total_cmp(&mode.goodness(*b))),
        }
    }

    /// Exit code or signal, and the last stderr line: what a table shows of a failure.
    pub fn note(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.exit_code {
            parts.push(format!("exit {c}"));
        }
        if let Some(s) = self.signal {
            parts.push(format!("signal {s}"));
        }
        let unexplained_failure =
            self.outcome == "failed" && self.exit_code.is_none() && self.signal.is_none();
        if unexplained_failure || !matches!(self.outcome.as_str(), "completed" | "failed") {
            parts.push(self.message.clone());
        }
        if let Some(last) = self.attempts.last() {
            parts.push(format!(
                "retried {} time(s), last failure: {last}",
                self.attempts.len()
            ));
        }
        if self.outcome != "completed" && self.outcome != "pruned" {
            let last = self.stderr_tail.iter().rev().find(|l| !l.trim().is_empty());
            if let Some(l) = self.error_line.as_ref().or(last) {
                let l: String = l.trim().chars().take(80).collect();
                parts.push(format!("stderr: {l}"));
            }
        }
        parts.join("; ")
    }
}

/// One trial in the results.
#[derive(Debug, Clone)]
pub struct TrialRow {
    /// The key.
    pub key: String,
    /// The parameters' values.
    pub params: Params,
    /// The schedule's config.
    pub schedule: Value,
    /// The schedule as one line.
    pub line: String,
    /// The epochs it was to reach: its rung when pruned, else the budget.
    pub budget: u64,
    /// Its score, when its outcome counts.
    pub score: Option<f64>,
    /// How it ended.
    pub record: TrialRecord,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct TuneResult {
    /// Every finished trial, best first: scored trials by the epochs they reached (the
    /// full budget first) then by score; trials without a score last; ties by key.
    pub rows: Vec<TrialRow>,
    /// The metric that scored.
    pub metric: String,
    /// Its direction.
    pub mode: Mode,
    /// Final or best epoch.
    pub score: ScoreBy,
    /// The epoch budget.
    pub epochs: u64,
    /// The strategy.
    pub strategy: Strategy,
    /// The space searched.
    pub space: Space,
    /// The trainer, described.
    pub trainer: String,
    /// Trials run by this call (the others were finished before).
    pub ran: usize,
    /// How long a SLURM run's tasks waited and took (none for a local run).
    pub timings: Option<crate::slurm::Timings>,
    /// The key [`seeds::reevaluate`] named best over seeds; when set, [`TuneResult::best`]
    /// is that trial, not the best of one seed.
    pub chosen: Option<String>,
}

impl TuneResult {
    /// The best trial that ran the whole budget (or, failing that, the best scored one).
    pub fn best(&self) -> Option<&TrialRow> {
        if let Some(key) = &self.chosen {
            return self.rows.iter().find(|r| &r.key == key);
        }
        self.rows
            .iter()
            .find(|r| r.score.is_some() && r.budget == self.epochs)
            .or_else(|| self.rows.iter().find(|r| r.score.is_some()))
    }
}

/// Runs a search: locks `spec.out`, plans, runs the pending trials (`spec.jobs` at a
/// time) and returns every finished trial ranked. `events` hears each trial start, report
/// and end (indices count the pending trials).
///
/// ```
/// use lrsched_tools::process::CommandTrainer;
/// use lrsched_tools::trainer::Trainer;
/// use lrsched_tools::tune::{space::Space, tune, Mode, ScoreBy, Strategy, TuneSpec};
/// let dir = tempfile::tempdir().unwrap();
/// // A "program" whose accuracy is its rate: the search must pick the largest.
/// let t = Trainer::Command(CommandTrainer::new(
///     r#"lr=$(sed 's/.*"lr":\([0-9.e-]*\).*/\1/' "$LRSCHED_SCHEDULE_FILE"); echo "{\"epoch\": 1, \"val_acc\": $lr}" >> "$LRSCHED_METRICS""#,
/// ));
/// let spec = TuneSpec {
///     space: Space::parse("schedule = \"constant(lr={lr})\"\n[params]\nlr = { choice = [0.1, 0.3, 0.2] }").unwrap(),
///     strategy: Strategy::Grid { points: 3 },
///     epochs: 1, seed: 0, metric: None, mode: None, score: ScoreBy::Final, jobs: 2,
///     out: dir.path().to_path_buf(), trainer_id: t.describe(), launcher: Default::default(),
/// };
/// let r = tune(&spec, &t, &|_| {}).unwrap();
/// assert_eq!((r.metric.as_str(), r.mode), ("val_acc", Mode::Max));
/// assert_eq!(r.best().unwrap().params["lr"], 0.3);
/// // A rerun finds every trial finished and runs none.
/// assert_eq!(tune(&spec, &t, &|_| {}).unwrap().ran, 0);
/// ```
pub fn tune(
    spec: &TuneSpec,
    trainer: &Trainer,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<TuneResult, String> {
    std::fs::create_dir_all(&spec.out)
        .map_err(|e| format!("cannot create {}: {e}", spec.out.display()))?;
    let _lock = OutLock::acquire(&spec.out)?;
    let mut plan = plan(spec)?;
    write_inputs(spec, &plan)?;
    collect_external(spec, &mut plan)?;
    run(spec, plan, trainer, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(space: &str, strategy: Strategy) -> TuneSpec {
        TuneSpec {
            space: Space::parse(space).unwrap(),
            strategy,
            epochs: 1,
            seed: 0,
            metric: None,
            mode: None,
            score: ScoreBy::Final,
            jobs: 1,
            out: std::env::temp_dir().join("lrsched-plan-test-not-written"),
            trainer_id: "test".into(),
            launcher: Launcher::Local,
        }
    }

    #[test]
    fn one_trial_per_schedule() {
        // 0.1 and "0.1" splice to the same text: one trial, not two sharing a folder.
        let s = spec(
            "schedule = \"constant(lr={lr})\"\n[params]\nlr = { choice = [0.1, \"0.1\", 0.2] }",
            Strategy::Grid { points: 3 },
        );
        let p = plan(&s).unwrap();
        assert_eq!(p.trials.len(), 2);
        let keys: std::collections::HashSet<_> = p.trials.iter().map(|t| &t.key).collect();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn a_huge_search_is_refused_before_any_point_is_made() {
        let space = "schedule = \"cosine(lr={lr}, steps={n})\"\n[params]\nlr = { log_range = [1e-3, 1.0] }\nn = { range = [10, 1000], int = true }";
        let t = std::time::Instant::now();
        for strategy in [
            Strategy::Grid {
                points: 100_000_000,
            },
            Strategy::Grid { points: usize::MAX },
            Strategy::Random {
                trials: 100_000_000,
                seed: 1,
            },
        ] {
            let e = plan(&spec(space, strategy)).unwrap_err();
            assert!(e.contains(&space::MAX_TRIALS.to_string()), "{e}");
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
}
