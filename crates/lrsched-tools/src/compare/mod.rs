//! Compare schedules on any trainer: every candidate over the same seeds, scored as
//! rliable and AlgoPerf score (docs/summary.md), and one verdict per schedule that says
//! what the seeds can and cannot tell.
//!
//! The rules, so a reader knows what to trust:
//! - **Per trial**: the metric's last value, and the time to the target in epochs, steps
//!   and seconds; a trial that failed, diverged, ended at chance level or never reached
//!   the target takes infinitely long (AlgoPerf).
//! - **Per schedule**: median and interquartile mean (IQM) of the final values over the
//!   seeds, 95% percentile intervals from a bootstrap with a fixed RNG seed (so a report
//!   repeats), the median time to target, and the probability of improving on the best
//!   (rliable; [`crate::scoring`]).
//! - **Complete**: every seed finished normally, reported the metric and ended better
//!   than chance (`chance`; for an accuracy, more than two points above it). Only a
//!   complete schedule can be `best`; the others are `incomplete`, shown with the failure,
//!   and rank below every complete one.
//! - **Best**: the complete schedule with the best IQM of final values.
//! - **Equivalent**: the 90% paired t interval of its per-seed differences from the best
//!   lies within ±`margin` (two one-sided tests at 5%), so identical schedules are
//!   equivalent, not undecided.
//! - **Worse**: the 95% paired t interval of the differences excludes zero on the best's
//!   side.
//! - **Undecided**: neither, with the seeds that would decide
//!   ([`crate::scoring::seeds_to_decide`], always more than were run); with one seed the
//!   spread is unknown and every other schedule is undecided.
//! - **Target**: the value that counts as reached (`--target`); when not given, the median
//!   over candidates of their best mean value, rounded to a round number on the easy side,
//!   so about half the candidates reach it and it measures something.

use crate::protocol::TrialInput;
use crate::runner::Launcher;
use crate::stats::Summary;
use crate::trainer::Trainer;
use crate::trial::{TrialResult, TrialStatus};
use serde_json::Value;
use std::path::{Path, PathBuf};

mod curves;
mod report;
mod run;
mod score;
mod sentences;
#[cfg(test)]
mod tests;
pub mod workloads;

pub use curves::{charts, write_metrics};
pub use report::{failures_table, interval_bars, ranking_table, sections, show_target, show_value};
pub use run::compare;
pub(crate) use score::against_best;
pub use score::{write_summary, ScheduleScore, Scoreboard, Verdict};

/// One schedule under comparison.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its name in tables and plots.
    pub name: String,
    /// The schedule's JSON config (may keep an `interval` key and durations).
    pub schedule: Value,
    /// Who trains it (the built-in trainer with this candidate's optimizer, or a command).
    pub trainer: Trainer,
}

/// The metric that scores, and which way is better.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The key in the trials' epoch lines.
    pub name: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
}

impl Metric {
    /// A metric by name, its direction guessed from the name: larger is better for
    /// accuracies and scores (`acc`, `auc`, `f1`, `score`, `iou`, `map`, `bleu`, `r2`).
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// assert!(Metric::named("val_acc").higher_is_better);
    /// assert!(!Metric::named("val_loss").higher_is_better);
    /// ```
    pub fn named(name: &str) -> Metric {
        let lower = name.to_ascii_lowercase();
        let higher = ["acc", "auc", "f1", "score", "iou", "map", "bleu", "r2"]
            .iter()
            .any(|k| lower.contains(k));
        Metric {
            name: name.to_string(),
            higher_is_better: higher,
        }
    }

    /// Whether `a` is better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }

    /// Whether `v` has reached `target`.
    pub fn reached(&self, v: f64, target: f64) -> bool {
        if self.higher_is_better {
            v >= target - 1e-12
        } else {
            v <= target + 1e-12
        }
    }

    /// Whether `v` is a value this metric can take, so it may be ranked: an accuracy
    /// ([`Metric::is_fraction`]) lies in `[0, 1]`, any metric is finite. A value outside
    /// (`1e308` as an accuracy, shown as `inf%`, would win every ranking) makes its trial
    /// bad output ([`check_range`]).
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// let acc = Metric::named("val_acc");
    /// assert!(acc.allows(0.97) && !acc.allows(1e308) && !acc.allows(-0.1));
    /// assert!(Metric::named("val_loss").allows(1e9) && !Metric::named("val_loss").allows(f64::NAN));
    /// ```
    pub fn allows(&self, v: f64) -> bool {
        v.is_finite() && (!self.is_fraction() || (0.0..=1.0).contains(&v))
    }

    /// What [`Metric::allows`], for messages.
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// assert_eq!(Metric::named("val_acc").allowed(), "an accuracy must be between 0 and 1");
    /// ```
    pub fn allowed(&self) -> &'static str {
        if self.is_fraction() {
            "an accuracy must be between 0 and 1"
        } else {
            "a metric must be a finite number"
        }
    }

    /// Whether values are fractions shown as percentages (accuracies).
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// assert!(Metric::named("val_acc").is_fraction());
    /// assert!(!Metric::named("val_loss").is_fraction());
    /// ```
    pub fn is_fraction(&self) -> bool {
        self.higher_is_better && self.name.to_ascii_lowercase().contains("acc")
    }

    /// `v` turned so that higher is better (a loss negated), as [`crate::scoring`] wants.
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// assert_eq!(Metric::named("val_loss").orient(0.3), -0.3);
    /// ```
    pub fn orient(&self, v: f64) -> f64 {
        if self.higher_is_better {
            v
        } else {
            -v
        }
    }

    /// Whether a final value `v` is no better than `chance` (what a model that learned
    /// nothing scores) by more than the slack: two points for an accuracy, 2% of chance's
    /// size otherwise. Such a run completed but learned nothing, so it never ranks.
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// let acc = Metric::named("val_acc");
    /// assert!(acc.at_chance(0.1065, 0.1) && !acc.at_chance(0.5, 0.1));
    /// assert!(Metric::named("val_loss").at_chance(2.29, 2.3));
    /// ```
    pub fn at_chance(&self, v: f64, chance: f64) -> bool {
        let slack = if self.is_fraction() {
            0.02
        } else {
            0.02 * chance.abs()
        };
        self.orient(v) <= self.orient(chance) + slack
    }

    /// The default equivalence margin: half a percentage point for an accuracy, else 1%
    /// of the best schedule's IQM (`best`; 0 when unknown).
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// assert_eq!(Metric::named("val_acc").default_margin(0.97), 0.005);
    /// assert_eq!(Metric::named("val_loss").default_margin(-0.25), 0.0025);
    /// ```
    pub fn default_margin(&self, best: f64) -> f64 {
        if self.is_fraction() {
            0.005
        } else if best.is_finite() {
            0.01 * best.abs()
        } else {
            0.0
        }
    }

    /// A margin as a reader reads it: `±0.5 percentage points` for an accuracy.
    ///
    /// ```
    /// use lrsched_tools::compare::Metric;
    /// assert_eq!(Metric::named("val_acc").show_margin(0.005), "±0.5 percentage points");
    /// assert_eq!(Metric::named("val_loss").show_margin(0.0025), "±0.0025");
    /// ```
    pub fn show_margin(&self, m: f64) -> String {
        if self.is_fraction() {
            format!("±{} percentage points", (m * 100.0 * 1e6).round() / 1e6)
        } else {
            format!("±{}", number(m))
        }
    }
}

/// Why a trial's values of `metric` cannot be ranked: the first epoch whose value is
/// outside what the metric allows ([`Metric::allows`]), named with the value and the
/// range; `None` when every value is allowed.
///
/// ```
/// use lrsched_tools::compare::{check_range, Metric};
/// use lrsched_tools::protocol::parse_line;
/// let mut r = lrsched_tools::trial::TrialResult::new();
/// r.push(parse_line(r#"{"epoch": 1, "val_acc": 0.5}"#).unwrap());
/// r.push(parse_line(r#"{"epoch": 2, "val_acc": 1e308}"#).unwrap());
/// assert_eq!(check_range(&r, &Metric::named("val_acc")).unwrap(),
///     "epoch 2: `val_acc` = 1e308 is not allowed: an accuracy must be between 0 and 1");
/// ```
pub fn check_range(result: &TrialResult, metric: &Metric) -> Option<String> {
    result.epochs.iter().find_map(|e| {
        let v = e.get(&metric.name)?;
        (!metric.allows(v)).then(|| {
            format!(
                "epoch {}: `{}` = {} is not allowed: {}",
                e.epoch,
                metric.name,
                number(v),
                metric.allowed()
            )
        })
    })
}

/// A number as a person reads it: `1.5`, `-0.25`, `1e308` (not 309 digits), `NaN`.
fn number(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A trial that finished normally but reported a value of `metric` it cannot take
/// ([`check_range`]) becomes bad output, so it is never ranked, let alone best.
/// `metrics` is its metrics file, named in the status.
///
/// ```
/// use lrsched_tools::compare::{reject_out_of_range, Metric};
/// use lrsched_tools::protocol::parse_line;
/// let mut r = lrsched_tools::trial::TrialResult::new();
/// r.push(parse_line(r#"{"epoch": 1, "val_acc": 1.5}"#).unwrap());
/// reject_out_of_range(&mut r, &Metric::named("val_acc"), std::path::Path::new("m.jsonl"));
/// assert_eq!(r.status.to_string(),
///     "bad protocol line: m.jsonl: epoch 1: `val_acc` = 1.5 is not allowed: an accuracy must be between 0 and 1");
/// ```
pub fn reject_out_of_range(result: &mut TrialResult, metric: &Metric, metrics: &Path) {
    if !result.status.is_usable() {
        return;
    }
    if let Some(problem) = check_range(result, metric) {
        result.status = TrialStatus::Malformed(crate::protocol::ProtocolError {
            path: metrics.to_path_buf(),
            line: 0,
            problem,
        });
    }
}

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct CompareSpec {
    /// The schedules.
    pub candidates: Vec<Candidate>,
    /// The same seeds for every candidate.
    pub seeds: Vec<u64>,
    /// Epochs per trial.
    pub epochs: u64,
    /// The metric; `None`: `val_acc` when the trials report it, else `val_loss`.
    pub metric: Option<Metric>,
    /// The value that counts as reached; `None`: chosen to discriminate (module docs).
    pub target: Option<f64>,
    /// Differences in the metric's units that do not matter (equivalence); `None`:
    /// [`Metric::default_margin`].
    pub margin: Option<f64>,
    /// What the metric is for a model that learned nothing (an accuracy: the largest
    /// class's share); a seed no better ([`Metric::at_chance`]) makes its schedule
    /// incomplete. `None`: not checked.
    pub chance: Option<f64>,
    /// Trials at once.
    pub jobs: usize,
    /// Trial folders go in `dir/trials/`.
    pub dir: PathBuf,
    /// Where the trials run: here, or on a SLURM cluster (state in `dir/slurm/`).
    pub launcher: Launcher,
}

/// One trial of the comparison.
#[derive(Debug, Clone)]
pub struct Run {
    /// Index into the spec's candidates.
    pub candidate: usize,
    /// The seed.
    pub seed: u64,
    /// What it was given.
    pub input: TrialInput,
    /// What it reported and how it ended.
    pub result: TrialResult,
}

/// One candidate's numbers over its seeds.
#[derive(Debug, Clone, Default)]
pub struct CandidateStats {
    /// Trials run.
    pub runs: usize,
    /// Trials that failed, diverged, timed out ...: (seed, the status word, what happened).
    pub failed: Vec<(u64, &'static str, String)>,
    /// The metric's last value, per seed in the spec's order (NaN where none).
    pub per_seed_final: Vec<f64>,
    /// Over the usable seeds: the metric's last value.
    pub final_value: Summary,
    /// The metric's best value.
    pub best_value: Summary,
    /// First epoch at the target, over the seeds that reached it.
    pub epochs_to_target: Summary,
    /// Seconds to the target, over the seeds that reached it.
    pub seconds_to_target: Summary,
    /// Seeds that reached the target.
    pub reached: usize,
    /// Seconds per trial.
    pub seconds: Summary,
    /// Per seed, in the spec's order: what it scored.
    pub scores: Vec<TrialScore>,
    /// Seeds that completed (finished normally, reported the metric, beat chance).
    pub completed: usize,
    /// Median of the final values over the seeds that reported one.
    pub final_median: f64,
    /// Interquartile mean of the same values ([`crate::scoring::iqm`]).
    pub final_iqm: f64,
}

/// What one trial scored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrialScore {
    /// The seed.
    pub seed: u64,
    /// The metric's last value, if the trial ended usable and reported one.
    pub final_value: Option<f64>,
    /// First epoch at the target; infinite when failed, at chance or never reached.
    pub epochs_to_target: f64,
    /// Steps to that epoch (from the trial's step lines; NaN when it wrote none).
    pub steps_to_target: f64,
    /// Seconds to that epoch (NaN when unmeasured, infinite when never reached).
    pub seconds_to_target: f64,
    /// Whether the seed completed.
    pub completed: bool,
}

/// The outcome of [`compare`].
#[derive(Debug, Clone)]
pub struct CompareResult {
    /// Candidate names, in the spec's order.
    pub names: Vec<String>,
    /// Candidate schedules, in the spec's order.
    pub schedules: Vec<Value>,
    /// Whether a candidate's `lr` multiplies an LR-free optimizer's own step size (Prodigy,
    /// D-Adaptation, DoG) rather than being a rate: such curves stay off the learning-rate
    /// chart, where their 1.0 would flatten every real rate.
    pub rate_multiplier: Vec<bool>,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Every trial.
    pub runs: Vec<Run>,
    /// The metric that scored.
    pub metric: Metric,
    /// The target used, if the metric has values.
    pub target: Option<f64>,
    /// Whether the target was chosen by lrsched.
    pub target_chosen: bool,
    /// Per candidate.
    pub stats: Vec<CandidateStats>,
    /// Candidates best first.
    pub order: Vec<usize>,
    /// Sentences a reader can trust (module docs), made from `board`.
    pub verdict: Vec<String>,
    /// The scores and one verdict per schedule: what the table, the sentences and
    /// `summary.json` all say.
    pub board: Scoreboard,
    /// Wall-clock seconds for all trials.
    pub wall_seconds: f64,
    /// How long a SLURM run's tasks waited and took (none for a local run).
    pub timings: Option<crate::slurm::Timings>,
}
