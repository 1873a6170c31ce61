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

use crate::protocol::{Line, TrialInput};
use crate::runner::{launch, Launcher, TrialEvent};
use crate::scoring::{
    bootstrap_ci, iqm, median, paired_interval, poi_ci, probability_of_improvement,
    seeds_to_decide, BOOTSTRAP_REPS, BOOTSTRAP_SEED,
};
use crate::stats::Summary;
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched_report::html::{Section, Table};
use lrsched_report::{render_svg, Chart, Series};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// Runs every candidate over every seed, `spec.jobs` trials at once, and ranks them.
/// `events` hears each trial start, line and end (for progress bars).
///
/// ```
/// use lrsched_tools::compare::{compare, Candidate, CompareSpec};
/// use lrsched_tools::process::CommandTrainer;
/// use lrsched_tools::trainer::Trainer;
/// // A "training program" whose accuracy is its schedule's rate: the larger rate wins.
/// let program = Trainer::Command(CommandTrainer::new(
///     r#"lr=$(echo "$LRSCHED_SCHEDULE" | sed 's/.*"lr": *\([0-9.]*\).*/\1/');
///        echo "{\"epoch\": 1, \"val_acc\": $lr}" >> "$LRSCHED_METRICS""#,
/// ));
/// let cand = |name: &str, lr: f64| Candidate {
///     name: name.into(),
///     schedule: serde_json::json!({"type": "constant", "lr": lr}),
///     trainer: program.clone(),
/// };
/// let dir = tempfile::tempdir().unwrap();
/// let spec = CompareSpec {
///     candidates: vec![cand("small", 0.25), cand("large", 0.5)],
///     seeds: vec![1, 2],
///     epochs: 1,
///     metric: None,
///     target: None,
///     margin: None,
///     chance: None,
///     jobs: 2,
///     dir: dir.path().to_path_buf(),
///     launcher: Default::default(),
/// };
/// let r = compare(&spec, &|_| {}).unwrap();
/// assert_eq!(r.names[r.order[0]], "large");
/// assert_eq!(r.metric.name, "val_acc");
/// ```
pub fn compare(
    spec: &CompareSpec,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<CompareResult, String> {
    // A name is each trial's LRSCHED_TRIAL: a control character (NUL cannot be in an
    // environment variable) would fail every trial, so the spec is refused first.
    for (k, c) in spec.candidates.iter().enumerate() {
        if let Some(ch) = c.name.chars().find(|ch| ch.is_control()) {
            return Err(format!(
                "candidate {}: the name {} has a control character (U+{:04X}): use printable characters",
                k + 1,
                lrsched::shorten(&format!("{:?}", c.name)),
                ch as u32
            ));
        }
    }
    let started = std::time::Instant::now();
    let mut trials: Vec<(&Trainer, TrialInput)> = Vec::new();
    let mut slugs = BTreeSet::new();
    for c in &spec.candidates {
        let slug = unique_slug(&c.name, &mut slugs);
        for &seed in &spec.seeds {
            trials.push((
                &c.trainer,
                TrialInput {
                    name: format!("{}-seed{seed}", c.name),
                    schedule: c.schedule.clone(),
                    seed,
                    epochs: spec.epochs,
                    max_steps: None,
                    dir: spec.dir.join("trials").join(format!("{slug}-seed{seed}")),
                },
            ));
        }
    }
    // What this run writes, checked before any trial: a folder (or pipe) where a file
    // goes would be found only after every trial ran.
    for name in [
        "metrics.jsonl",
        "metrics.csv",
        "steps.jsonl",
        "report.html",
        "summary.json",
        "scores.jsonl",
    ] {
        crate::files::check_output_path(&spec.dir.join(name))?;
    }
    let (results, timings) = launch(
        &spec.launcher,
        spec.jobs,
        &trials,
        &|_, _: &Line| Control::Continue,
        events,
    )?;
    let n_seeds = spec.seeds.len();
    let mut runs: Vec<Run> = trials
        .into_iter()
        .zip(results)
        .enumerate()
        .map(|(k, ((_, input), result))| Run {
            candidate: k / n_seeds.max(1),
            seed: input.seed,
            input,
            result,
        })
        .collect();
    let metric = spec.metric.clone().unwrap_or_else(|| {
        let has_acc = runs.iter().any(|r| r.result.last("val_acc").is_some());
        Metric::named(if has_acc { "val_acc" } else { "val_loss" })
    });
    for run in &mut runs {
        let path = run.input.metrics_path();
        reject_out_of_range(&mut run.result, &metric, &path);
    }
    let (target, target_chosen) = match spec.target {
        Some(t) => (Some(t), false),
        None => (
            choose_target(&runs, spec.candidates.len(), &metric, spec.chance),
            true,
        ),
    };
    let stats: Vec<CandidateStats> = (0..spec.candidates.len())
        .map(|i| {
            candidate_stats(
                runs.iter().filter(|r| r.candidate == i),
                &spec.seeds,
                &metric,
                target,
                spec.chance,
            )
        })
        .collect();
    let order = rank(&stats, &metric);
    let names: Vec<String> = spec.candidates.iter().map(|c| c.name.clone()).collect();
    let board = score(
        &names,
        &stats,
        &order,
        &metric,
        target,
        spec.margin,
        spec.chance,
    );
    let verdict = verdict(&board, &stats, target_chosen);
    Ok(CompareResult {
        names,
        schedules: spec.candidates.iter().map(|c| c.schedule.clone()).collect(),
        seeds: spec.seeds.clone(),
        runs,
        metric,
        target,
        target_chosen,
        stats,
        order,
        verdict,
        board,
        wall_seconds: started.elapsed().as_secs_f64(),
        timings,
    })
}

/// A folder name from a candidate's name: letters, digits, `-`, `_`, unique.
fn unique_slug(name: &str, used: &mut BTreeSet<String>) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let base = if base.is_empty() {
        "schedule".into()
    } else {
        base
    };
    let mut slug = base.clone();
    let mut k = 2;
    while !used.insert(slug.clone()) {
        slug = format!("{base}-{k}");
        k += 1;
    }
    slug
}

/// The mean over seeds of `metric` at each epoch.
fn mean_curve(runs: &[&Run], metric: &str) -> Vec<(u64, f64)> {
    let mut epochs: Vec<u64> = runs
        .iter()
        .flat_map(|r| r.result.epochs.iter().map(|e| e.epoch))
        .collect();
    epochs.sort_unstable();
    epochs.dedup();
    epochs
        .into_iter()
        .filter_map(|ep| {
            let v = Summary::of(runs.iter().filter_map(|r| {
                r.result
                    .epochs
                    .iter()
                    .find(|e| e.epoch == ep)
                    .and_then(|e| e.get(metric))
            }));
            (v.n > 0).then_some((ep, v.mean))
        })
        .collect()
}

/// The median over candidates of their best mean value, rounded to the easy side. Only
/// candidates whose every run finished normally above chance count (when any does): a
/// schedule that learned nothing would pull the target down to where it measures nothing.
fn choose_target(
    runs: &[Run],
    candidates: usize,
    metric: &Metric,
    chance: Option<f64>,
) -> Option<f64> {
    let sound = |i: usize| {
        runs.iter().filter(|r| r.candidate == i).all(|r| {
            r.result.status.is_usable()
                && r.result
                    .last(&metric.name)
                    .is_some_and(|v| chance.is_none_or(|c| !metric.at_chance(v, c)))
        })
    };
    let any_sound = (0..candidates).any(sound);
    let mut bests: Vec<f64> = (0..candidates)
        .filter(|&i| !any_sound || sound(i))
        .filter_map(|i| {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.candidate == i && r.result.status.is_usable())
                .collect();
            let curve = mean_curve(&mine, &metric.name);
            curve
                .iter()
                .map(|p| p.1)
                .reduce(|a, b| if metric.better(b, a) { b } else { a })
        })
        .filter(|v| v.is_finite())
        .collect();
    if bests.is_empty() {
        return None;
    }
    bests.sort_by(f64::total_cmp);
    let median = bests[(bests.len() - 1) / 2];
    Some(round_easy(median, metric))
}

/// Rounds toward the easier side: down for higher-is-better, up otherwise, to a step of
/// 0.5% for fractions (accuracy) and two significant digits else.
fn round_easy(v: f64, metric: &Metric) -> f64 {
    let step = if metric.is_fraction() && (0.0..=1.0).contains(&v) {
        0.005
    } else if v == 0.0 {
        return 0.0;
    } else {
        10f64.powf(v.abs().log10().floor() - 1.0)
    };
    let q = v / step;
    let r = if metric.higher_is_better {
        (q + 1e-9).floor()
    } else {
        (q - 1e-9).ceil()
    };
    // Round the step multiple itself so 0.975 prints as 0.975, not 0.97499999.
    (r * step * 1e9).round() / 1e9
}

fn candidate_stats<'a>(
    runs: impl Iterator<Item = &'a Run>,
    seeds: &[u64],
    metric: &Metric,
    target: Option<f64>,
    chance: Option<f64>,
) -> CandidateStats {
    let runs: Vec<&Run> = runs.collect();
    let usable: Vec<&Run> = runs
        .iter()
        .copied()
        .filter(|r| r.result.status.is_usable())
        .collect();
    let last = |r: &Run| r.result.last(&metric.name);
    let per_seed_final = seeds
        .iter()
        .map(|s| {
            usable
                .iter()
                .find(|r| r.seed == *s)
                .and_then(|r| last(r))
                .unwrap_or(f64::NAN)
        })
        .collect();
    let best = |r: &Run| {
        r.result
            .series(&metric.name)
            .into_iter()
            .map(|p| p.1)
            .reduce(|a, b| if metric.better(b, a) { b } else { a })
    };
    let mut to_epochs = Vec::new();
    let mut to_seconds = Vec::new();
    if let Some(t) = target {
        for r in &usable {
            if let Some(e) = r
                .result
                .epochs
                .iter()
                .find(|e| e.get(&metric.name).is_some_and(|v| metric.reached(v, t)))
            {
                to_epochs.push(e.epoch as f64);
                to_seconds.push(e.elapsed.unwrap_or(f64::NAN));
            }
        }
    }
    // Per seed: what it scored, and why it did not complete where it did not.
    let mut failed: Vec<(u64, &'static str, String)> = Vec::new();
    let mut scores = Vec::new();
    for r in &runs {
        let final_value = if r.result.status.is_usable() {
            last(r)
        } else {
            None
        };
        let problem: Option<(&'static str, String)> = if !r.result.status.is_usable() {
            Some((r.result.status.word(), r.result.status.to_string()))
        } else if final_value.is_none() {
            Some(("no value", format!("reported no {}", metric.name)))
        } else {
            chance
                .zip(final_value)
                .filter(|(c, v)| metric.at_chance(*v, *c))
                .map(|(c, v)| {
                    (
                        "chance level",
                        format!(
                            "ended at chance level: {} {} against chance {}",
                            metric.name,
                            show_value(metric, v),
                            show_value(metric, c)
                        ),
                    )
                })
        };
        let completed = problem.is_none();
        if let Some((word, what)) = problem {
            failed.push((r.seed, word, what));
        }
        let reached = target.filter(|_| completed).and_then(|t| {
            r.result
                .epochs
                .iter()
                .find(|e| e.get(&metric.name).is_some_and(|v| metric.reached(v, t)))
        });
        let (epochs, steps, seconds) = match reached {
            Some(e) => {
                // The trial's own steps per epoch, from the step lines it wrote.
                let steps = r
                    .result
                    .steps
                    .last()
                    .filter(|_| !r.result.epochs.is_empty())
                    .map_or(f64::NAN, |s| {
                        let per_epoch = (s.step + 1) as f64 / r.result.epochs.len() as f64;
                        (e.epoch as f64 * per_epoch).round()
                    });
                (e.epoch as f64, steps, e.elapsed.unwrap_or(f64::NAN))
            }
            None => (f64::INFINITY, f64::INFINITY, f64::INFINITY),
        };
        scores.push(TrialScore {
            seed: r.seed,
            final_value,
            epochs_to_target: epochs,
            steps_to_target: steps,
            seconds_to_target: seconds,
            completed,
        });
    }
    let finals: Vec<f64> = scores.iter().filter_map(|t| t.final_value).collect();
    CandidateStats {
        runs: runs.len(),
        completed: scores.iter().filter(|t| t.completed).count(),
        final_median: median(&finals),
        final_iqm: iqm(&finals),
        scores,
        failed,
        per_seed_final,
        final_value: Summary::of(usable.iter().filter_map(|r| last(r))),
        best_value: Summary::of(usable.iter().filter_map(|r| best(r))),
        reached: to_epochs.len(),
        epochs_to_target: Summary::of(to_epochs),
        seconds_to_target: Summary::of(to_seconds),
        seconds: Summary::of(runs.iter().map(|r| r.result.seconds)),
    }
}

/// Best first: complete candidates (every seed completed) before the others; then by the
/// IQM of final values; candidates with no value last.
fn rank(stats: &[CandidateStats], metric: &Metric) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stats.len()).collect();
    let key = |s: &CandidateStats| {
        let v = s.final_iqm;
        let signed = if metric.higher_is_better { -v } else { v };
        (
            !s.failed.is_empty() || s.completed < s.runs,
            s.final_value.n == 0,
            if signed.is_finite() {
                signed
            } else {
                f64::INFINITY
            },
        )
    };
    order.sort_by(|&i, &j| {
        let (a, b) = (key(&stats[i]), key(&stats[j]));
        a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.total_cmp(&b.2))
    });
    order
}

/// A value for text: a percentage for accuracies, else 4 significant digits.
pub fn show_value(metric: &Metric, v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if metric.is_fraction() {
        format!("{:.2}%", v * 100.0)
    } else {
        format!("{v:.4}")
    }
}

/// A target for headers and sentences: `97.5%` for an accuracy (no trailing zeros).
pub fn show_target(metric: &Metric, t: f64) -> String {
    if metric.is_fraction() {
        let p = ((t * 100.0) * 100.0).round() / 100.0;
        format!("{p}%")
    } else {
        format!("{t}")
    }
}

fn show_spread(metric: &Metric, s: &Summary) -> String {
    if s.n == 0 {
        return "-".into();
    }
    let scale = if metric.is_fraction() { 100.0 } else { 1.0 };
    if s.n < 2 {
        return show_value(metric, s.mean);
    }
    let digits = if metric.is_fraction() { 2 } else { 4 };
    format!("{} ± {:.digits$}", show_value(metric, s.mean), s.sd * scale)
}

/// Seconds as a reader reads them: `1.25 s`, and milliseconds below a tenth of a second
/// (a digits epoch takes a few), never `0.00 s`.
fn show_seconds(x: f64) -> String {
    if x < 0.1 {
        format!("{:.1} ms", x * 1000.0)
    } else {
        format!("{x:.2} s")
    }
}

/// Names joined as `a`, `a and b`, `a, b and c`.
fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => a.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One schedule's verdict (module docs): exactly one per schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The complete schedule with the best IQM.
    Best,
    /// Within the margin of the best (an equivalence test).
    Equivalent,
    /// Worse than the best (a paired t-test at 5%).
    Worse,
    /// The seeds cannot tell; `seeds_needed` would (always more than were run; `None`
    /// with one seed, where the spread is unknown).
    Undecided {
        /// Seeds that would decide.
        seeds_needed: Option<u64>,
    },
    /// A seed failed, diverged, was cut, reported nothing or ended at chance level.
    Incomplete {
        /// What happened, seed by seed.
        failure: String,
    },
}

impl Verdict {
    /// The verdict's word, as `summary.json` and the table write it.
    ///
    /// ```
    /// use lrsched_tools::compare::Verdict;
    /// assert_eq!(Verdict::Undecided { seeds_needed: Some(9) }.word(), "undecided");
    /// ```
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Best => "best",
            Verdict::Equivalent => "equivalent",
            Verdict::Worse => "worse",
            Verdict::Undecided { .. } => "undecided",
            Verdict::Incomplete { .. } => "incomplete",
        }
    }

    /// The word with what it needs, on one line: `undecided: about 12 seeds`.
    pub fn cell(&self) -> String {
        match self {
            Verdict::Undecided {
                seeds_needed: Some(n),
            } => format!("undecided: about {n} seeds"),
            other => other.word().to_string(),
        }
    }
}

/// One schedule's scores and verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleScore {
    /// Its name.
    pub name: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds that completed.
    pub completed: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// Median of the final values (NaN when none).
    pub final_median: f64,
    /// Interquartile mean of the final values.
    pub final_iqm: f64,
    /// 95% bootstrap interval of that IQM.
    pub final_ci95: (f64, f64),
    /// Median epochs to the target over all seeds (infinite when half or more missed it).
    pub median_epochs: f64,
    /// Median steps to the target (NaN when the trials wrote no step lines).
    pub median_steps: f64,
    /// Median seconds to the target.
    pub median_seconds: f64,
    /// 95% bootstrap interval of the median epochs.
    pub epochs_ci95: (f64, f64),
    /// Probability that a seed of this schedule beats a seed of the best, with its 95%
    /// bootstrap interval; `None` for the best itself and when there is no best.
    pub p_improvement: Option<(f64, f64, f64)>,
}

/// Every schedule's scores and verdict: the one source of the printed verdict, the
/// report's table and `summary.json` ([`Scoreboard::to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Scoreboard {
    /// The metric that scored.
    pub metric: Metric,
    /// The target, if any.
    pub target: Option<f64>,
    /// The equivalence margin, in the metric's units.
    pub margin: f64,
    /// Whether the margin is the default (not `--margin`).
    pub margin_default: bool,
    /// What the metric is at chance, if known.
    pub chance: Option<f64>,
    /// Index of the best schedule; `None` when no schedule completed every seed.
    pub best: Option<usize>,
    /// Per schedule, in the spec's order.
    pub schedules: Vec<ScheduleScore>,
    /// Schedules, best first.
    pub order: Vec<usize>,
}

/// `summary.json`'s shape, field by field in the order of docs/summary.md (a struct, so
/// the file keeps that order; non-finite numbers are written as `null`).
#[derive(serde::Serialize)]
struct SummaryJson<'a> {
    metric: &'a str,
    higher_is_better: bool,
    target: Option<f64>,
    margin: f64,
    best: Option<&'a str>,
    schedules: Vec<ScheduleJson<'a>>,
}

#[derive(serde::Serialize)]
struct ScheduleJson<'a> {
    name: &'a str,
    seeds: usize,
    completed: usize,
    verdict: &'static str,
    #[serde(rename = "final")]
    final_: FinalJson,
    time_to_target: TimeJson,
    p_improvement_vs_best: Option<PoiJson>,
    seeds_needed: Option<u64>,
    note: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct FinalJson {
    median: Option<f64>,
    iqm: Option<f64>,
    ci95: [Option<f64>; 2],
}

#[derive(serde::Serialize)]
struct TimeJson {
    median_epochs: Option<f64>,
    median_seconds: Option<f64>,
    ci95: [Option<f64>; 2],
    median_steps: Option<f64>,
}

#[derive(serde::Serialize)]
struct PoiJson {
    p: Option<f64>,
    ci95: [Option<f64>; 2],
}

/// A finite number, or `None` (written `null`) for an infinite time or no value.
fn num(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Scoreboard {
    fn summary(&self) -> SummaryJson<'_> {
        let schedules = self
            .order
            .iter()
            .map(|&i| {
                let s = &self.schedules[i];
                ScheduleJson {
                    name: &s.name,
                    seeds: s.seeds,
                    completed: s.completed,
                    verdict: s.verdict.word(),
                    final_: FinalJson {
                        median: num(s.final_median),
                        iqm: num(s.final_iqm),
                        ci95: [num(s.final_ci95.0), num(s.final_ci95.1)],
                    },
                    time_to_target: TimeJson {
                        median_epochs: num(s.median_epochs),
                        median_seconds: num(s.median_seconds),
                        ci95: [num(s.epochs_ci95.0), num(s.epochs_ci95.1)],
                        median_steps: num(s.median_steps),
                    },
                    p_improvement_vs_best: s.p_improvement.map(|(p, lo, hi)| PoiJson {
                        p: num(p),
                        ci95: [num(lo), num(hi)],
                    }),
                    seeds_needed: match s.verdict {
                        Verdict::Undecided { seeds_needed } => seeds_needed,
                        _ => None,
                    },
                    note: match &s.verdict {
                        Verdict::Incomplete { failure } => Some(failure.as_str()),
                        _ => None,
                    },
                }
            })
            .collect();
        SummaryJson {
            metric: &self.metric.name,
            higher_is_better: self.metric.higher_is_better,
            target: self.target.and_then(num),
            margin: self.margin,
            best: self.best.map(|i| self.schedules[i].name.as_str()),
            schedules,
        }
    }

    /// `summary.json` (docs/summary.md) as a value: the metric, target, margin, the best
    /// schedule's name and every schedule's verdict and scores, in the ranking's order.
    /// Infinite or unknown numbers are `null`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.summary()).expect("plain data serialises")
    }

    /// `summary.json`'s text: [`Scoreboard::to_json`] with its keys in the documented
    /// order, pretty-printed.
    pub fn to_json_text(&self) -> String {
        serde_json::to_string_pretty(&self.summary()).expect("plain data serialises") + "\n"
    }
}

/// Scores every candidate and gives each its verdict (module docs). `order` is
/// [`rank`]'s; `margin` `None` takes [`Metric::default_margin`] of the best's IQM.
fn score(
    names: &[String],
    stats: &[CandidateStats],
    order: &[usize],
    metric: &Metric,
    target: Option<f64>,
    margin: Option<f64>,
    chance: Option<f64>,
) -> Scoreboard {
    let complete = |i: usize| {
        let s = &stats[i];
        s.runs > 0 && s.completed == s.runs && s.failed.is_empty()
    };
    let best = order.first().copied().filter(|&i| complete(i));
    let margin_default = margin.is_none();
    let margin = margin
        .unwrap_or_else(|| metric.default_margin(best.map_or(f64::NAN, |b| stats[b].final_iqm)));
    // Oriented finals per seed, once per schedule (the best's are compared with every
    // other's); a seed without a value counts as the worst possible.
    let oriented: Vec<Vec<f64>> = stats
        .iter()
        .map(|s| {
            s.scores
                .iter()
                .map(|t| {
                    t.final_value
                        .map_or(f64::NEG_INFINITY, |v| metric.orient(v))
                })
                .collect()
        })
        .collect();
    let schedules = (0..stats.len())
        .map(|i| {
            let s = &stats[i];
            let finals: Vec<f64> = s.scores.iter().filter_map(|t| t.final_value).collect();
            let epochs: Vec<f64> = s.scores.iter().map(|t| t.epochs_to_target).collect();
            let steps: Vec<f64> = s.scores.iter().map(|t| t.steps_to_target).collect();
            // Unmeasured seconds (a cluster task read at its end) are left out, not guessed.
            let seconds: Vec<f64> = s
                .scores
                .iter()
                .map(|t| t.seconds_to_target)
                .filter(|x| !x.is_nan())
                .collect();
            let verdict = if !complete(i) {
                Verdict::Incomplete {
                    failure: if s.failed.is_empty() {
                        "no trial ran".to_string()
                    } else {
                        s.failed
                            .iter()
                            .map(|(seed, _, what)| format!("seed {seed}: {what}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                }
            } else if Some(i) == best {
                Verdict::Best
            } else if let Some(b) = best {
                let d: Vec<f64> = oriented[b]
                    .iter()
                    .zip(&oriented[i])
                    .map(|(x, y)| x - y)
                    .collect();
                against_best(&d, margin)
            } else {
                // Unreachable by the ranking (complete schedules rank first, so a complete
                // one means a best), but a verdict is never a panic.
                Verdict::Undecided { seeds_needed: None }
            };
            let p_improvement = best.filter(|&b| b != i).map(|b| {
                let (x, y) = (&oriented[i], &oriented[b]);
                let (lo, hi) = poi_ci(x, y, BOOTSTRAP_REPS, BOOTSTRAP_SEED);
                (probability_of_improvement(x, y), lo, hi)
            });
            ScheduleScore {
                name: names[i].clone(),
                seeds: s.runs,
                completed: s.completed,
                verdict,
                final_median: s.final_median,
                final_iqm: s.final_iqm,
                final_ci95: bootstrap_ci(&finals, iqm, BOOTSTRAP_REPS, BOOTSTRAP_SEED),
                median_epochs: median(&epochs),
                median_steps: median(&steps),
                median_seconds: median(&seconds),
                epochs_ci95: if target.is_some() {
                    bootstrap_ci(&epochs, median, BOOTSTRAP_REPS, BOOTSTRAP_SEED)
                } else {
                    (f64::NAN, f64::NAN)
                },
                p_improvement,
            }
        })
        .collect();
    Scoreboard {
        metric: metric.clone(),
        target,
        margin,
        margin_default,
        chance,
        best,
        schedules,
        order: order.to_vec(),
    }
}

/// A complete schedule's verdict from `d`, the best's oriented finals less its own seed
/// by seed: equivalent when the 90% paired t interval lies within `margin`, worse when
/// the 95% one excludes zero, else undecided with the seeds that would decide.
fn against_best(d: &[f64], margin: f64) -> Verdict {
    match (paired_interval(d, 0.90), paired_interval(d, 0.95)) {
        (Some((_, lo, hi)), _) if lo >= -margin && hi <= margin => Verdict::Equivalent,
        (_, Some((_, lo, _))) if lo > 0.0 => Verdict::Worse,
        _ => {
            let spread = Summary::of(d.iter().copied());
            Verdict::Undecided {
                seeds_needed: seeds_to_decide(spread.mean, spread.sd, margin, d.len()),
            }
        }
    }
}

/// `summary.json` in `dir`, from the same [`Scoreboard`] as the verdict and the report,
/// and `scores.jsonl`: one line per trial with what it scored (docs/summary.md).
pub fn write_summary(dir: &Path, r: &CompareResult) -> Result<(), String> {
    crate::files::write_atomic(&dir.join("summary.json"), r.board.to_json_text().as_bytes())?;
    let mut lines = String::new();
    for (i, st) in r.stats.iter().enumerate() {
        for t in &st.scores {
            let status = r
                .runs
                .iter()
                .find(|run| run.candidate == i && run.seed == t.seed)
                .map_or("", |run| run.result.status.word());
            let row = json!({
                "schedule": r.names[i],
                "seed": t.seed,
                "status": status,
                "completed": t.completed,
                "final": t.final_value.and_then(num),
                "epochs_to_target": num(t.epochs_to_target),
                "steps_to_target": num(t.steps_to_target),
                "seconds_to_target": num(t.seconds_to_target),
            });
            lines.push_str(&row.to_string());
            lines.push('\n');
        }
    }
    crate::files::write_atomic(&dir.join("scores.jsonl"), lines.as_bytes())
}

/// An interval for sentences, with the seeds it is over (a bootstrap interval over a
/// handful of seeds is narrower than what they can tell): `95% bootstrap CI over 3 seeds
/// 94.10% to 95.30%`.
fn show_ci(metric: &Metric, (lo, hi): (f64, f64), seeds: usize) -> String {
    format!(
        "95% bootstrap CI over {seeds} seed{} {} to {}",
        if seeds == 1 { "" } else { "s" },
        show_value(metric, lo),
        show_value(metric, hi)
    )
}

/// The verdict's sentences, all from `board`.
fn verdict(board: &Scoreboard, stats: &[CandidateStats], target_chosen: bool) -> Vec<String> {
    let metric = &board.metric;
    let mut out = Vec::new();
    let names: Vec<&str> = board.schedules.iter().map(|s| s.name.as_str()).collect();
    if !stats.iter().any(|s| s.final_value.n > 0) {
        out.push(format!(
            "No trial reported {}: nothing to rank (see each trial's status below).",
            metric.name
        ));
        return out;
    }
    let way = if metric.higher_is_better {
        "higher"
    } else {
        "lower"
    };
    let with = |v: &dyn Fn(&Verdict) -> bool| -> Vec<usize> {
        board
            .order
            .iter()
            .copied()
            .filter(|&i| v(&board.schedules[i].verdict))
            .collect()
    };
    let seeds = stats.first().map_or(0, |s| s.runs);
    match board.best {
        None => out.push(format!(
            "No schedule completed every seed, so none is called best: {} (see Failures).",
            with(&|v| matches!(v, Verdict::Incomplete { .. }))
                .iter()
                .map(|&i| names[i])
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(b) => {
            let s = &board.schedules[b];
            let spread = if seeds > 1 {
                format!(
                    ", {}",
                    show_ci(metric, s.final_ci95, stats[b].final_value.n)
                )
            } else {
                String::new()
            };
            out.push(format!(
                "{} has the best final {} ({}, the interquartile mean over {} seed{}{spread}; {way} is better): verdict best.",
                s.name,
                metric.name,
                show_value(metric, s.final_iqm),
                seeds,
                if seeds == 1 { "" } else { "s" },
            ));
            if seeds < 2 {
                out.push("With one seed the spread between seeds is unknown, so no other schedule can be called equivalent or worse (each is undecided): rerun with --seeds 5 or more to tell which differences are real.".into());
            }
            let group = |v: &dyn Fn(&Verdict) -> bool| -> Vec<&str> {
                with(v).iter().map(|&i| names[i]).collect()
            };
            let eq = group(&|v| *v == Verdict::Equivalent);
            if !eq.is_empty() {
                out.push(format!(
                    "Equivalent to {} within {}: {} (the 90% interval of the paired differences lies inside the margin; two one-sided t-tests at 5%).",
                    s.name,
                    metric.show_margin(board.margin),
                    join_names(&eq)
                ));
            }
            let worse = group(&|v| *v == Verdict::Worse);
            if !worse.is_empty() {
                out.push(format!(
                    "Worse than {}: {} (paired t-test over {seeds} seeds, 5% level).",
                    s.name,
                    join_names(&worse)
                ));
            }
            let undecided: Vec<String> = with(&|v| matches!(v, Verdict::Undecided { .. }))
                .iter()
                .map(|&i| match board.schedules[i].verdict {
                    Verdict::Undecided {
                        seeds_needed: Some(n),
                    } => format!("{} (about {n} seeds would decide)", names[i]),
                    _ => names[i].to_string(),
                })
                .collect();
            if !undecided.is_empty() && seeds > 1 {
                let list: Vec<&str> = undecided.iter().map(String::as_str).collect();
                out.push(format!(
                    "Undecided against {} at {seeds} seeds: {}.",
                    s.name,
                    join_names(&list)
                ));
            }
        }
    }
    let incomplete = with(&|v| matches!(v, Verdict::Incomplete { .. }));
    if !incomplete.is_empty() {
        let list: Vec<String> = incomplete
            .iter()
            .map(|&i| {
                let s = &stats[i];
                format!(
                    "{} ({} of {} seeds did not complete: {})",
                    names[i],
                    s.runs - s.completed,
                    s.runs,
                    s.failed
                        .iter()
                        .map(|f| f.1)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        let list: Vec<&str> = list.iter().map(String::as_str).collect();
        out.push(format!(
            "Incomplete, so never ranked above a complete schedule: {}.",
            join_names(&list)
        ));
    }
    out.push(format!(
        "Margin: {}{}.",
        metric.show_margin(board.margin),
        if board.margin_default {
            " (the default; --margin sets it)"
        } else {
            " (--margin)"
        }
    ));
    time_to_target(&mut out, board, stats, target_chosen);
    out
}

/// The time-to-target sentence: who reached the target first on every seed.
fn time_to_target(
    out: &mut Vec<String>,
    board: &Scoreboard,
    stats: &[CandidateStats],
    target_chosen: bool,
) {
    let metric = &board.metric;
    let names: Vec<&str> = board.schedules.iter().map(|s| s.name.as_str()).collect();
    if let Some(t) = board.target {
        let tv = show_target(metric, t);
        let how = if target_chosen {
            format!(
                "{tv} (chosen: the median best of the complete schedules, so about half reach it)"
            )
        } else {
            tv.clone()
        };
        let all: Vec<usize> = (0..stats.len())
            .filter(|&i| stats[i].runs > 0 && stats[i].reached == stats[i].runs)
            .collect();
        if all.is_empty() {
            let most = (0..stats.len()).max_by_key(|&i| stats[i].reached);
            match most.filter(|&i| stats[i].reached > 0) {
                Some(i) => out.push(format!(
                    "No schedule reached {how} on every seed; {} got there on the most ({}/{} seeds).",
                    names[i], stats[i].reached, stats[i].runs
                )),
                None => out.push(format!("No schedule reached {how}.")),
            }
        } else {
            let fastest = all
                .iter()
                .map(|&i| board.schedules[i].median_epochs)
                .fold(f64::INFINITY, f64::min);
            let tied: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| (board.schedules[i].median_epochs - fastest).abs() < 1e-9)
                .collect();
            // Seconds are unknown where a trial's lines were read only at its end (a fast
            // task on a cluster): said only where measured.
            let secs = tied
                .iter()
                .filter(|&&i| board.schedules[i].median_seconds.is_finite())
                .map(|&i| {
                    format!(
                        "; {} {}",
                        names[i],
                        show_seconds(board.schedules[i].median_seconds)
                    )
                })
                .collect::<String>();
            let who = tied.iter().map(|&i| names[i]).collect::<Vec<_>>();
            let tie = if who.len() == 1 { "" } else { " (a tie)" };
            let mut s = format!(
                "{} reached {how} first{tie}, after {:.1} epochs (median over seeds{secs})",
                join_names(&who),
                fastest
            );
            if all.len() == stats.len() && fastest <= 1.0 + 1e-9 && tied.len() == all.len() {
                s.push_str(": every schedule reached it in its first epoch, so this target measures nothing");
            }
            s.push('.');
            out.push(s);
        }
    }
}

/// The ranking table: one row per candidate, best first, with its verdict (from the
/// same [`Scoreboard`] as the sentences and `summary.json`).
pub fn ranking_table(r: &CompareResult) -> Table {
    let m = &r.metric;
    let mut header = vec![
        "#".to_string(),
        "schedule".to_string(),
        "verdict".to_string(),
        format!("final {} (IQM)", m.name),
        format!("best {}", m.name),
    ];
    if let Some(t) = r.target {
        header.push(format!("epochs to {}", show_target(m, t)));
        header.push(format!("seconds to {}", show_target(m, t)));
    }
    if r.board.best.is_some() {
        header.push("P(beats the best)".into());
    }
    header.push("trials".into());
    let rows = r
        .order
        .iter()
        .enumerate()
        .map(|(place, &i)| {
            let s = &r.stats[i];
            let b = &r.board.schedules[i];
            let final_cell = if s.final_value.n == 0 {
                "-".to_string()
            } else if s.final_value.n < 2 {
                show_value(m, b.final_iqm)
            } else {
                format!(
                    "{}\n{}; median {}",
                    show_value(m, b.final_iqm),
                    show_ci(m, b.final_ci95, s.final_value.n),
                    show_value(m, b.final_median)
                )
            };
            let mut row = vec![
                (place + 1).to_string(),
                r.names[i].clone(),
                b.verdict.cell(),
                final_cell,
                show_spread(m, &s.best_value),
            ];
            if r.target.is_some() {
                // Medians over every seed, a missed target counting as infinite
                // (AlgoPerf): "not reached" once half the seeds missed it.
                let reach = |x: f64, digits: usize| {
                    let v = if x.is_infinite() {
                        "not reached".to_string()
                    } else if x.is_nan() {
                        "-".to_string()
                    } else if x < 0.1 {
                        // A digits epoch takes milliseconds: never a row of 0.00.
                        format!("{x:.4}")
                    } else {
                        format!("{x:.digits$}")
                    };
                    if s.reached < s.runs {
                        format!("{v}\n{}/{} seeds", s.reached, s.runs)
                    } else {
                        v
                    }
                };
                row.push(reach(b.median_epochs, 1));
                row.push(reach(b.median_seconds, 2));
            }
            if r.board.best.is_some() {
                row.push(match b.p_improvement {
                    Some((p, lo, hi)) => format!(
                        "{p:.2}\n95% bootstrap CI over {} seeds {lo:.2} to {hi:.2}",
                        s.runs
                    ),
                    None => "-".into(),
                });
            }
            row.push(if s.failed.is_empty() {
                format!("{} ok", s.runs)
            } else {
                let mut words: Vec<&str> = s.failed.iter().map(|f| f.1).collect();
                words.dedup();
                let counts: Vec<String> = words
                    .iter()
                    .map(|w| format!("{} {w}", s.failed.iter().filter(|f| f.1 == *w).count()))
                    .collect();
                format!(
                    "{}/{} ok, {}\n{}",
                    s.runs - s.failed.len(),
                    s.runs,
                    counts.join(", "),
                    s.failed
                        .iter()
                        .map(|(seed, _, what)| format!("seed {seed}: {what}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            });
            row
        })
        .collect();
    Table { header, rows }
}

/// The verdict's intervals as bars: per schedule, best first, its final IQM (a dot) and
/// 95% bootstrap interval (a bar), coloured by verdict, on one shared axis. `None` when
/// no schedule has a value.
pub fn interval_bars(r: &CompareResult) -> Option<String> {
    use lrsched_report::html::escape;
    use std::fmt::Write as _;
    let b = &r.board;
    let rows: Vec<&ScheduleScore> = b
        .order
        .iter()
        .map(|&i| &b.schedules[i])
        .filter(|s| s.final_iqm.is_finite())
        .collect();
    let values = rows
        .iter()
        .flat_map(|s| [s.final_iqm, s.final_ci95.0, s.final_ci95.1])
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), v| {
        (a.min(v), z.max(v))
    });
    if rows.is_empty() || !lo.is_finite() {
        return None;
    }
    // The seeds each bar is over: those with a final value.
    let ns: Vec<usize> = b
        .order
        .iter()
        .filter(|&&i| b.schedules[i].final_iqm.is_finite())
        .map(|&i| r.stats[i].final_value.n)
        .collect();
    let (fewest, most) = (ns.iter().min(), ns.iter().max());
    let seeds_shown = match (fewest, most) {
        (Some(1), Some(1)) => "1 seed".to_string(),
        (Some(a), Some(z)) if a == z => format!("{a} seeds"),
        (Some(a), Some(z)) => format!("{a} to {z} seeds"),
        _ => "the seeds".to_string(),
    };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let (left, right, row_h) = (230.0, 700.0, 22.0);
    let x = |v: f64| left + (v - lo) / (hi - lo) * (right - left);
    let height = rows.len() as f64 * row_h + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"bars\" width=\"720\" height=\"{height}\" viewBox=\"0 0 720 {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    for (k, s) in rows.iter().enumerate() {
        let y = 16.0 + k as f64 * row_h;
        let color = match s.verdict {
            Verdict::Best => "#1a7f37",
            Verdict::Equivalent => "#2f6db3",
            Verdict::Worse => "#6e7781",
            Verdict::Undecided { .. } => "#b35900",
            Verdict::Incomplete { .. } => "#cf222e",
        };
        let name: String = s.name.chars().take(24).collect();
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" fill=\"#1d2430\">{} ({})</text>",
            y + 4.0,
            escape(&name),
            s.verdict.word()
        );
        if s.final_ci95.0.is_finite() && s.final_ci95.1.is_finite() {
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"4\" stroke-linecap=\"round\"/>",
                x(s.final_ci95.0),
                x(s.final_ci95.1)
            );
        }
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"white\" stroke=\"{color}\" stroke-width=\"2\"/>",
            x(s.final_iqm)
        );
    }
    let axis_y = rows.len() as f64 * row_h + 10.0;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" x2=\"{right}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#d9dee5\"/><text x=\"{left}\" y=\"{:.1}\" fill=\"#5b6573\">{}</text><text x=\"{right}\" y=\"{:.1}\" fill=\"#5b6573\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#5b6573\" text-anchor=\"middle\">final {} (IQM, 95% bootstrap interval over {})</text></svg>",
        axis_y + 16.0,
        escape(&show_value(&r.metric, lo)),
        axis_y + 16.0,
        escape(&show_value(&r.metric, hi)),
        (left + right) / 2.0,
        axis_y + 16.0,
        escape(&r.metric.name),
        seeds_shown
    );
    Some(svg)
}

/// The failures table: every trial that did not finish normally, with its stderr tail.
pub fn failures_table(r: &CompareResult) -> Option<Table> {
    let rows: Vec<Vec<String>> = r
        .runs
        .iter()
        .filter(|run| !run.result.status.is_usable())
        .map(|run| {
            vec![
                r.names[run.candidate].clone(),
                run.seed.to_string(),
                run.result.status.to_string(),
                run.result.stderr_tail.join("\n"),
                run.input.dir.display().to_string(),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        header: vec![
            "schedule".into(),
            "seed".into(),
            "outcome".into(),
            "last lines of stderr".into(),
            "trial folder".into(),
        ],
        rows,
    })
}

/// The report's sections: ranking and verdict, curves, failures, schedules. `setup` is a
/// sentence on what ran (trainer, data, epochs); `trainer` names the command or trainer.
pub fn sections(r: &CompareResult, setup: &str, trainer: &str) -> Vec<Section> {
    let mut text = r.verdict.clone();
    text.push(setup.to_string());
    text.push(format!("Trained by: {trainer}."));
    text.push(format!(
        "The final {m} is the interquartile mean over seeds (rliable's IQM: the mean of the middle half; with 3 seeds or fewer, the mean) with its 95% bootstrap interval ({} resamples, fixed RNG seed, so the report repeats); best {m} is the mean ± sd of each seed's best. Verdicts (one per schedule): best is the complete schedule with the best IQM; equivalent: the 90% paired t interval of its differences from the best lies within the margin {} (two one-sided tests at 5%); worse: the 95% paired t interval excludes zero; undecided: neither, with about how many seeds would decide; incomplete: a seed failed, diverged, timed out, reported no {m} or ended at chance level{}, so it never ranks above a complete schedule. Time to target is the median over all seeds of the first epoch whose {m} reached it, a seed that failed or never reached it counting as infinite (AlgoPerf), and the seconds to that epoch; P(beats the best) is the probability that a seed of the schedule ends better than a seed of the best, ties counting one half (rliable). A bootstrap interval over a handful of seeds is too narrow (it never sees a value the seeds did not draw: P(beats the best) 0.00 to 0.00 at 3 seeds says only that every seed was below every seed of the best), so the verdicts come from Student's t, which allows for that. summary.json holds the same numbers.",
        crate::scoring::BOOTSTRAP_REPS,
        r.metric.show_margin(r.board.margin),
        r.board
            .chance
            .map(|c| format!(" (chance: {})", show_value(&r.metric, c)))
            .unwrap_or_default(),
        m = r.metric.name,
    ));
    let mut sections = vec![Section {
        heading: "Ranking".into(),
        text,
        svgs: interval_bars(r).into_iter().collect(),
        table: Some(ranking_table(r)),
    }];
    let svgs: Vec<String> = charts(r)
        .iter()
        .filter_map(|c| render_svg(c).ok())
        .collect();
    sections.push(Section {
        heading: "Curves".into(),
        text: vec!["Each line is the mean over seeds; the band is one standard deviation either side (within the lowest and highest seed).".into()],
        svgs,
        table: None,
    });
    if let Some(t) = failures_table(r) {
        sections.push(Section {
            heading: "Failures".into(),
            text: vec!["Trials that did not finish normally; the others went on. Their logs are in each trial folder (stdout.log, stderr.log).".into()],
            svgs: vec![],
            table: Some(t),
        });
    }
    sections.push(Section {
        heading: "Schedules".into(),
        text: vec![],
        svgs: vec![],
        table: Some(Table {
            header: vec!["schedule".into(), "config".into()],
            rows: r
                .names
                .iter()
                .zip(&r.schedules)
                .map(|(n, s)| vec![n.clone(), s.to_string()])
                .collect(),
        }),
    });
    sections
}

/// `metrics.jsonl` and `metrics.csv` (one row per trial and epoch, every metric the
/// trials reported) and `steps.jsonl` (one row per step) in `dir`.
pub fn write_metrics(dir: &Path, r: &CompareResult) -> Result<(), String> {
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for run in &r.runs {
        for e in &run.result.epochs {
            keys.extend(e.values.keys().map(String::as_str));
        }
    }
    let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let csv_num = |x: Option<f64>| {
        x.filter(|v| v.is_finite())
            .map_or(String::new(), |v| format!("{v:?}"))
    };
    let csv_text = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut jsonl = String::new();
    let mut csv = format!(
        "schedule,seed,epoch,{},elapsed_seconds,status\n",
        keys.iter().copied().collect::<Vec<_>>().join(",")
    );
    let mut steps = String::new();
    for run in &r.runs {
        let name = &r.names[run.candidate];
        let status = run.result.status.word();
        for e in &run.result.epochs {
            let mut row = json!({"schedule": name, "seed": run.seed, "epoch": e.epoch});
            for (k, v) in &e.values {
                row[k] = num(*v);
            }
            row["elapsed_seconds"] = e.elapsed.map_or(Value::Null, num);
            row["status"] = status.into();
            jsonl.push_str(&row.to_string());
            jsonl.push('\n');
            let cells: Vec<String> = keys.iter().map(|k| csv_num(e.get(k))).collect();
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_text(name),
                run.seed,
                e.epoch,
                cells.join(","),
                csv_num(e.elapsed),
                status
            ));
        }
        for s in &run.result.steps {
            let row = json!({"schedule": name, "seed": run.seed, "step": s.step,
                "lr": s.lr.map_or(Value::Null, num), "loss": s.loss.map_or(Value::Null, num)});
            steps.push_str(&row.to_string());
            steps.push('\n');
        }
    }
    crate::files::write_atomic(&dir.join("metrics.jsonl"), jsonl.as_bytes())?;
    crate::files::write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
    crate::files::write_atomic(&dir.join("steps.jsonl"), steps.as_bytes())
}

/// A mean curve and its `(x, lo, hi)` band over seeds.
type Banded = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

fn mean_band(per_seed: &[Vec<(f64, f64)>]) -> Banded {
    let mut xs: Vec<f64> = per_seed.iter().flatten().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut mean = Vec::new();
    let mut band = Vec::new();
    for x in xs {
        let vals: Vec<f64> = per_seed
            .iter()
            .filter_map(|s| s.iter().find(|p| p.0 == x).map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        if vals.is_empty() {
            continue;
        }
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
        // Mean ± one standard deviation, kept within the seeds' range: with many seeds a
        // min–max band is set by the single worst seed and hides everything else.
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mean.push((x, m));
        band.push((x, (m - sd).max(lo), (m + sd).min(hi)));
    }
    (mean, band)
}

/// Every `k`-th point, so a long run's step curves stay a few hundred points.
fn thin<T: Clone>(v: &[T], most: usize) -> Vec<T> {
    let k = v.len().div_ceil(most.max(1)).max(1);
    v.iter().step_by(k).cloned().collect()
}

/// A moving average over `w` points, so the per-batch loss shows its trend.
fn smooth(v: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    let w = w.max(1);
    let mut out = Vec::with_capacity(v.len());
    let mut sum = 0.0;
    for i in 0..v.len() {
        sum += v[i].1;
        if i >= w {
            sum -= v[i - w].1;
        }
        let n = (i + 1).min(w);
        out.push((v[i].0, sum / n as f64));
    }
    out
}

/// Steps per epoch as the trials reported them (the largest step count over epochs).
fn steps_per_epoch(r: &CompareResult) -> f64 {
    r.runs
        .iter()
        .filter_map(|run| {
            let epochs = run.result.epochs.len() as f64;
            let steps = run.result.steps.last()?.step as f64 + 1.0;
            (epochs > 0.0).then_some(steps / epochs)
        })
        .fold(0.0, f64::max)
        .max(1.0)
}

/// The top of the learning-rate chart: 1.5x the highest rate of a trial that finished
/// normally; `None` when none did (then nothing is clipped).
fn lr_cap(r: &CompareResult) -> Option<f64> {
    let top = r
        .runs
        .iter()
        .filter(|run| run.result.status.is_usable())
        .flat_map(|run| run.result.steps.iter().filter_map(|s| s.lr))
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    (top.is_finite() && top > 0.0).then_some(1.5 * top)
}

/// The report's charts: learning rate, the metric (and its error on a log scale for an
/// accuracy), every other loss the trials reported per epoch, the per-step loss.
pub fn charts(r: &CompareResult) -> Vec<Chart> {
    let per_epoch = steps_per_epoch(r);
    let m = &r.metric;
    let mut lr = Chart::new("Learning rate", "epoch", "learning rate");
    // A diverged run's rate (1e30) would flatten every other curve: rates are drawn up to
    // 1.5x the highest rate of the trials that finished normally, and a clipped curve
    // says so in its label.
    let lr_cap = lr_cap(r);
    let mut metric = Chart::new(&m.name, "epoch", &m.name);
    let mut error = Chart::new(
        format!("Error (1 - {}), log scale", m.name),
        "epoch",
        "error",
    )
    .with_log_y(true);
    let loss_keys: Vec<&str> = ["val_loss", "train_loss"]
        .into_iter()
        .filter(|k| *k != m.name)
        .filter(|k| r.runs.iter().any(|run| run.result.last(k).is_some()))
        .collect();
    let mut losses: Vec<Chart> = loss_keys
        .iter()
        .map(|k| Chart::new(*k, "epoch", *k).with_log_y(true))
        .collect();
    let mut step_loss = Chart::new(
        "Training loss per step (moving average over half an epoch)",
        "step",
        "training loss",
    )
    .with_log_y(true);
    for (i, name) in r.names.iter().enumerate() {
        let mine: Vec<&Run> = r.runs.iter().filter(|run| run.candidate == i).collect();
        let label = if mine.iter().any(|run| !run.result.status.is_usable()) {
            format!(
                "{name} ({})",
                mine.iter()
                    .find(|x| !x.result.status.is_usable())
                    .map_or("", |x| x.result.status.word())
            )
        } else {
            name.clone()
        };
        let epoch_curve = |key: &str, f: &dyn Fn(f64) -> f64| {
            let per_seed: Vec<Vec<(f64, f64)>> = mine
                .iter()
                .map(|run| {
                    run.result
                        .series(key)
                        .into_iter()
                        .map(|(e, v)| (e as f64, f(v)))
                        .collect()
                })
                .collect();
            mean_band(&per_seed)
        };
        let add = |chart: &mut Chart, (mean, band): Banded| {
            // A log axis leaves out values <= 0: a curve with nothing left is not drawn.
            if mean
                .iter()
                .any(|p| p.1.is_finite() && (!chart.log_y || p.1 > 0.0))
            {
                chart.series.push(
                    Series::new(label.clone(), mean)
                        .with_band(band)
                        .with_color(i),
                );
            }
        };
        add(&mut metric, epoch_curve(&m.name, &|v| v));
        if m.is_fraction() {
            add(&mut error, epoch_curve(&m.name, &|v| 1.0 - v));
        }
        for (chart, key) in losses.iter_mut().zip(&loss_keys) {
            add(chart, epoch_curve(key, &|v| v));
        }
        let mut clipped = false;
        let lr_per_seed: Vec<Vec<(f64, f64)>> = mine
            .iter()
            .map(|run| {
                thin(&run.result.steps, 600)
                    .iter()
                    .filter_map(|s| {
                        let v = s.lr?;
                        let v = match lr_cap {
                            Some(cap) if v.is_nan() || v > cap => {
                                clipped = true;
                                cap
                            }
                            _ => v,
                        };
                        Some(((s.step + 1) as f64 / per_epoch, v))
                    })
                    .collect()
            })
            .collect();
        let (mean, band) = mean_band(&lr_per_seed);
        if mean.iter().any(|p| p.1.is_finite()) {
            let shown = if clipped {
                format!("{label}, rate clipped")
            } else {
                label.clone()
            };
            lr.series
                .push(Series::new(shown, mean).with_band(band).with_color(i));
        }
        let w = (per_epoch / 2.0).round() as usize;
        let loss_per_seed: Vec<Vec<(f64, f64)>> = mine
            .iter()
            .map(|run| {
                let raw: Vec<(f64, f64)> = run
                    .result
                    .steps
                    .iter()
                    .filter_map(|s| s.loss.map(|l| (s.step as f64, l)))
                    .collect();
                thin(&smooth(&raw, w), 600)
            })
            .collect();
        add(&mut step_loss, mean_band(&loss_per_seed));
    }
    let mut out = vec![lr, metric];
    if m.is_fraction() {
        out.push(error);
    }
    out.extend(losses);
    out.push(step_loss);
    out.retain(|c| !c.series.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_to_the_easy_side() {
        let acc = Metric::named("val_acc");
        assert_eq!(round_easy(0.9787, &acc), 0.975);
        let loss = Metric::named("val_loss");
        assert_eq!(round_easy(0.1234, &loss), 0.13);
    }

    #[test]
    fn names_join_as_a_sentence() {
        assert_eq!(join_names(&["a", "b", "c"]), "a, b and c");
        assert_eq!(join_names(&["a"]), "a");
    }

    fn stats(per_seed: &[f64], epochs_to_target: &[f64]) -> CandidateStats {
        let scores: Vec<TrialScore> = per_seed
            .iter()
            .enumerate()
            .map(|(k, &v)| TrialScore {
                seed: k as u64,
                final_value: Some(v),
                epochs_to_target: epochs_to_target.get(k).copied().unwrap_or(f64::INFINITY),
                steps_to_target: f64::NAN,
                seconds_to_target: epochs_to_target.get(k).map_or(f64::INFINITY, |e| e * 0.1),
                completed: true,
            })
            .collect();
        CandidateStats {
            runs: per_seed.len(),
            completed: per_seed.len(),
            per_seed_final: per_seed.to_vec(),
            final_value: Summary::of(per_seed.iter().copied()),
            final_median: median(per_seed),
            final_iqm: iqm(per_seed),
            scores,
            reached: epochs_to_target.len(),
            epochs_to_target: Summary::of(epochs_to_target.iter().copied()),
            seconds_to_target: Summary::of(epochs_to_target.iter().map(|e| e * 0.1)),
            ..CandidateStats::default()
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn verdict_names_equivalent_worse_and_undecided_schedules() {
        let m = Metric::named("val_acc");
        // b overlaps a seed by seed (undecided), c is clearly worse, d is a's twin.
        let s = vec![
            stats(&[0.95, 0.93, 0.96], &[3.0, 3.0, 3.0]),
            stats(&[0.94, 0.94, 0.95], &[3.0, 3.0, 3.0]),
            stats(&[0.80, 0.81, 0.79], &[]),
            stats(&[0.95, 0.93, 0.96], &[3.0, 3.0, 3.0]),
        ];
        let order = rank(&s, &m);
        assert_eq!(order[0], 0);
        let board = score(
            &names(&["a", "b", "c", "d"]),
            &s,
            &order,
            &m,
            Some(0.9),
            None,
            None,
        );
        let words: Vec<&str> = board.schedules.iter().map(|x| x.verdict.word()).collect();
        assert_eq!(words, ["best", "undecided", "worse", "equivalent"]);
        let Verdict::Undecided {
            seeds_needed: Some(n),
        } = board.schedules[1].verdict
        else {
            panic!("{:?}", board.schedules[1]);
        };
        assert!(n > 3, "{n}");
        let v = verdict(&board, &s, false);
        assert!(v[0].starts_with("a has the best final val_acc"), "{v:?}");
        assert!(
            v.iter()
                .any(|l| l.starts_with("Equivalent to a within ±0.5 percentage points: d")),
            "{v:?}"
        );
        assert!(v.iter().any(|l| l.starts_with("Worse than a: c")), "{v:?}");
        assert!(
            v.iter()
                .any(|l| l.contains(&format!("b (about {n} seeds would decide)"))),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|l| l.starts_with("a, b and d reached 90% first (a tie)")),
            "{v:?}"
        );
        assert_eq!(board.to_json()["best"], "a");
    }

    #[test]
    fn one_seed_calls_every_other_schedule_undecided() {
        let m = Metric::named("val_acc");
        let s = vec![stats(&[0.9832], &[1.0]), stats(&[0.9806], &[1.0])];
        let board = score(&names(&["a", "b"]), &s, &[0, 1], &m, Some(0.97), None, None);
        assert_eq!(
            board.schedules[1].verdict,
            Verdict::Undecided { seeds_needed: None }
        );
        let v = verdict(&board, &s, false);
        assert!(v[1].contains("With one seed"), "{v:?}");
        assert!(v.iter().any(|l| l.contains("measures nothing")), "{v:?}");
    }

    #[test]
    fn an_incomplete_schedule_is_never_best_even_with_the_best_values() {
        let m = Metric::named("val_acc");
        let mut top = stats(&[0.99, 0.99], &[1.0, 1.0]);
        top.completed = 1;
        top.failed = vec![(1, "failed", "exited with status 1".into())];
        let s = vec![top, stats(&[0.5, 0.52], &[])];
        let order = rank(&s, &m);
        assert_eq!(order, vec![1, 0]);
        let board = score(&names(&["top", "low"]), &s, &order, &m, None, None, None);
        assert_eq!(board.best, Some(1));
        assert!(
            matches!(&board.schedules[0].verdict, Verdict::Incomplete { failure } if failure == "seed 1: exited with status 1")
        );
        let j = board.to_json();
        assert_eq!(j["schedules"][0]["name"], "low");
        assert_eq!(j["schedules"][1]["note"], "seed 1: exited with status 1");
    }
}
