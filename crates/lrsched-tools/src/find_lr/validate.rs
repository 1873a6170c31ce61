//! `--validate`: the range test checks itself. The rules read a rate off a curve of
//! *training* loss over a few hundred rising rates; whether that rate trains well is
//! another question, and on MNIST fastai's valley answers it 50x too low. So after the
//! sweeps, short trainings at a small log grid around the suggestions: each distinct
//! suggestion (the rules' medians over the seeds, rates within [`SAME_RATE`] of each
//! other counted once) times each factor (1/3, 1, 3 by default), each over the sweep's
//! seeds, through the same trainer with a constant rate. The rate whose runs end with the
//! best median validation metric is the validated rate.

use super::run::write_trial_json;
use super::{FindLrError, FindLrEvent, FindLrResult, OptionError};
use crate::protocol::{Line, TrialInput};
use crate::runner::run_all;
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult};
use serde_json::json;
use std::path::PathBuf;

/// The default grid around each suggestion: a third of it, it, three times it (half a
/// decade each way, so neighbouring suggestions' grids touch rather than overlap).
pub const DEFAULT_FACTORS: [f64; 3] = [1.0 / 3.0, 1.0, 3.0];
/// The default length of each validation run: one epoch, the shortest run that reports a
/// validation metric; the range test itself costs about that on MNIST.
pub const DEFAULT_EPOCHS: u64 = 1;
/// The most factors a grid may have.
pub const MAX_FACTORS: usize = 9;
/// The most epochs one validation run may have.
pub const MAX_EPOCHS: u64 = 1000;
/// The most validation runs one find-lr may start (grid points times seeds, counted
/// before the sweep with every rule giving its own rate).
pub const MAX_RUNS: usize = 500;
/// Rates closer than this (relative) are one rate: two rules that agree within 5% are
/// one suggestion, and a grid point 3x one suggestion that is 1x another is one run.
pub const SAME_RATE: f64 = 0.05;
/// The number of rules whose medians can make suggestions ([`lrsched_train::find_lr::RULES`]).
const RULES: usize = lrsched_train::find_lr::RULES.len();

/// What the validation runs: the factors around each suggestion, the epochs of each run,
/// how many run at once. The seeds are the sweep's.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidateSpec {
    /// The grid around each suggestion, as factors of it (each finite and > 0).
    pub factors: Vec<f64>,
    /// Epochs of each validation run (1 to [`MAX_EPOCHS`]).
    pub epochs: u64,
    /// Validation runs at once (at least 1).
    pub jobs: usize,
}

impl Default for ValidateSpec {
    fn default() -> Self {
        ValidateSpec {
            factors: DEFAULT_FACTORS.to_vec(),
            epochs: DEFAULT_EPOCHS,
            jobs: 1,
        }
    }
}

impl ValidateSpec {
    /// Checks the grid before any work, for `seeds` seeds: the factors, the epochs and
    /// the most runs it can take (every rule giving its own rate). The error names the
    /// field (`validate_factors`, `validate_epochs`, `seeds`, `jobs`).
    ///
    /// ```
    /// use lrsched_tools::find_lr::ValidateSpec;
    /// let v = ValidateSpec::default();
    /// assert!(v.validate(3).is_ok());
    /// let e = v.validate(100).unwrap_err();
    /// assert_eq!(e.field, "seeds");
    /// assert_eq!(e.to_string(), "seeds = 100 is not allowed: with validation at most 41 seeds: 4 rules x 3 factors x the seeds must be at most 500 runs");
    /// ```
    pub fn validate(&self, seeds: usize) -> Result<(), OptionError> {
        let err = |field, value: String, allowed: String| {
            Err(OptionError {
                field,
                value,
                allowed,
            })
        };
        let factors = || {
            self.factors
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        if self.factors.is_empty() || self.factors.len() > MAX_FACTORS {
            return err(
                "validate_factors",
                factors(),
                format!("must be 1 to {MAX_FACTORS} factors"),
            );
        }
        if let Some(f) = self.factors.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
            return err(
                "validate_factors",
                factors(),
                format!("{f} is not a factor: each must be finite and > 0"),
            );
        }
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return err(
                "validate_epochs",
                self.epochs.to_string(),
                format!("must be 1 to {MAX_EPOCHS}"),
            );
        }
        if self.jobs == 0 {
            return err("jobs", "0".into(), "must be at least 1".into());
        }
        let most = RULES * self.factors.len();
        if seeds == 0 || most.saturating_mul(seeds) > MAX_RUNS {
            return err(
                "seeds",
                seeds.to_string(),
                format!(
                    "with validation at most {} seeds: {RULES} rules x {} factors x the seeds must be at most {MAX_RUNS} runs",
                    MAX_RUNS / most,
                    self.factors.len(),
                ),
            );
        }
        Ok(())
    }
}

/// One rate of the grid and how its runs ended.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint {
    /// The rate (three significant digits, as `suggested.json` writes it).
    pub lr: f64,
    /// Which suggestions and factors give it (`valley x3`, `steepest x1`).
    pub from: Vec<String>,
    /// The seeds run.
    pub seeds: Vec<u64>,
    /// Each seed's final metric; `None` where the run failed, diverged or learned nothing
    /// (at chance), which ranks below any number.
    pub values: Vec<Option<f64>>,
    /// Each seed's run: `ok`, `diverged`, `failed`, ..., or `at chance`.
    pub outcomes: Vec<String>,
    /// The runs' folders.
    pub dirs: Vec<PathBuf>,
    /// The median of `values` over all seeds, a failed run counting as the worst; `None`
    /// when the median is a failed run.
    pub median: Option<f64>,
    /// Seeds whose run gave a number.
    pub completed: usize,
}

impl GridPoint {
    /// The smallest and largest value over the seeds whose run gave one.
    pub fn range(&self) -> Option<(f64, f64)> {
        let mut v = self.values.iter().flatten().copied();
        let first = v.next()?;
        Some(v.fold((first, first), |(lo, hi), x| (lo.min(x), hi.max(x))))
    }
}

/// What the validation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// The metric ranked: `val_acc` (higher is better) when any run reported it, else
    /// `val_loss` (lower is better).
    pub metric: String,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// Epochs of each run.
    pub epochs: u64,
    /// The factors around each suggestion.
    pub factors: Vec<f64>,
    /// The accuracy of a model that learned nothing (the built-in trainer's largest
    /// class share), when known: runs at most 1 point above it count as failed.
    pub chance: Option<f64>,
    /// The grid, by rate.
    pub points: Vec<GridPoint>,
    /// The point that trained best, if any run gave a number.
    pub best: Option<usize>,
}

impl Validation {
    /// The best point.
    pub fn best_point(&self) -> Option<&GridPoint> {
        self.best.and_then(|i| self.points.get(i))
    }

    /// The validated rate: the best point's.
    pub fn lr(&self) -> Option<f64> {
        self.best_point().map(|p| p.lr)
    }

    /// The point that trained second best (by median), so a reader sees how far apart the
    /// winner and the next are before trusting the winner.
    pub fn runner_up(&self) -> Option<&GridPoint> {
        let best = self.best?;
        let next = best_median(&self.points, self.higher_is_better, Some(best))?;
        self.points.get(next)
    }

    /// How far the best point is from the runner-up, in what the seeds can tell: both
    /// medians, each with its seeds' range, and whether the ranges keep apart (every seed
    /// of the best beat every seed of the next), overlap, or, with one seed, cannot say.
    /// `None` without a runner-up.
    ///
    /// ```
    /// use lrsched_tools::find_lr::{GridPoint, Validation};
    /// let point = |lr: f64, values: Vec<f64>| GridPoint {
    ///     lr, from: vec![], seeds: (0..values.len() as u64).collect(),
    ///     median: Some(values[values.len() / 2]), completed: values.len(),
    ///     values: values.into_iter().map(Some).collect(), outcomes: vec![], dirs: vec![],
    /// };
    /// let v = Validation {
    ///     metric: "val_acc".into(), higher_is_better: true, epochs: 1, factors: vec![1.0],
    ///     chance: None, best: Some(1),
    ///     points: vec![point(0.01, vec![0.90, 0.95, 0.96]), point(0.03, vec![0.94, 0.97, 0.98])],
    /// };
    /// assert_eq!(
    ///     v.margin().unwrap(),
    ///     "median val_acc 0.9700 over 3 seeds (0.9400..0.9800), next 1.00e-2 at 0.9500 \
    ///      (0.9000..0.9600): the seeds' ranges overlap, so they do not tell the two apart"
    /// );
    /// ```
    pub fn margin(&self) -> Option<String> {
        let (best, next) = (self.best_point()?, self.runner_up()?);
        let median = |p: &GridPoint| p.median.map_or("-".into(), |m| format!("{m:.4}"));
        let range = |p: &GridPoint| {
            p.range().map_or("none completed".into(), |(lo, hi)| {
                format!("{lo:.4}..{hi:.4}")
            })
        };
        let seeds = best.seeds.len();
        if seeds < 2 {
            return Some(format!(
                "{} {} from 1 seed, next {:.2e} at {}: one seed does not tell the two apart",
                self.metric,
                median(best),
                next.lr,
                median(next)
            ));
        }
        let apart = match (best.range(), next.range()) {
            (Some((blo, bhi)), Some((nlo, nhi))) => {
                if self.higher_is_better {
                    blo > nhi
                } else {
                    bhi < nlo
                }
            }
            _ => false,
        };
        let verdict = if apart {
            "every seed of the best beat every seed of the next"
        } else {
            "the seeds' ranges overlap, so they do not tell the two apart"
        };
        Some(format!(
            "median {} {} over {seeds} seeds ({}), next {:.2e} at {} ({}): {verdict}",
            self.metric,
            median(best),
            range(best),
            next.lr,
            median(next),
            range(next)
        ))
    }

    /// `Some("highest")` or `Some("lowest")` when the best point is the grid's highest
    /// or lowest rate (of two or more): a rate beyond it may train better still.
    pub fn at_edge(&self) -> Option<&'static str> {
        let best = self.best?;
        match self.points.len() {
            0 | 1 => None,
            n if best + 1 == n => Some("highest"),
            _ if best == 0 => Some("lowest"),
            _ => None,
        }
    }

    /// Validation runs started.
    pub fn runs(&self) -> usize {
        self.points.iter().map(|p| p.seeds.len()).sum()
    }

    /// As `find_lr.json`'s `"validated"` holds it.
    pub fn to_json(&self) -> serde_json::Value {
        let best = self.best_point();
        json!({
            "lr": best.map(|p| p.lr),
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "value": best.and_then(|p| p.median),
            "from_rule": best.map(|p| p.from.join(", ")),
            "at_edge": self.at_edge(),
            "epochs": self.epochs,
            "factors": self.factors,
            "chance": self.chance,
            "score": "the median over the seeds of the metric's last value; a failed, diverged or at-chance run counts as the worst",
            "grid": self.points.iter().map(|p| json!({
                "lr": p.lr,
                "from_rule": p.from.join(", "),
                "seeds": p.seeds,
                "values": p.values,
                "outcomes": p.outcomes,
                "median": p.median,
                "completed": p.completed,
            })).collect::<Vec<_>>(),
        })
    }
}

/// A factor as the grid names it: `x1`, `x3`, `x1/3`.
///
/// ```
/// use lrsched_tools::find_lr::factor_name;
/// assert_eq!(factor_name(1.0 / 3.0), "x1/3");
/// assert_eq!(factor_name(3.0), "x3");
/// assert_eq!(factor_name(0.7), "x0.7");
/// ```
pub fn factor_name(f: f64) -> String {
    let inv = 1.0 / f;
    if f >= 1.0 && (f - f.round()).abs() < 1e-9 {
        format!("x{}", f.round())
    } else if f < 1.0 && (inv - inv.round()).abs() < 1e-6 {
        format!("x1/{}", inv.round())
    } else {
        format!("x{f}")
    }
}

/// A rate rounded to three significant digits, as `suggested.json` writes it.
fn round3(lr: f64) -> f64 {
    format!("{lr:.2e}").parse().unwrap_or(lr)
}

fn same(a: f64, b: f64) -> bool {
    (a / b - 1.0).abs() <= SAME_RATE || (b / a - 1.0).abs() <= SAME_RATE
}

/// The grid's rates and their origins, by rate: the distinct suggestions (`named`, the
/// rules' medians in rule order; within [`SAME_RATE`] of an earlier one is that one)
/// times each factor, points within [`SAME_RATE`] of each other merged.
///
/// ```
/// use lrsched_tools::find_lr::grid_rates;
/// let g = grid_rates(&[("valley", 1e-3), ("steepest", 3e-3), ("slide", 1.02e-3)], &[1.0 / 3.0, 1.0, 3.0]);
/// let lrs: Vec<f64> = g.iter().map(|(lr, _)| *lr).collect();
/// assert_eq!(lrs, [3.33e-4, 1e-3, 3e-3, 9e-3]);
/// assert_eq!(g[1].1, ["valley=slide x1", "steepest x1/3"]);
/// assert_eq!(g[2].1, ["valley=slide x3", "steepest x1"]);
/// ```
pub fn grid_rates(named: &[(&str, f64)], factors: &[f64]) -> Vec<(f64, Vec<String>)> {
    let mut distinct: Vec<(String, f64)> = Vec::new();
    for &(name, lr) in named {
        if !(lr.is_finite() && lr > 0.0) {
            continue;
        }
        match distinct.iter_mut().find(|(_, d)| same(*d, lr)) {
            Some((n, _)) => {
                n.push('=');
                n.push_str(name);
            }
            None => distinct.push((name.to_string(), lr)),
        }
    }
    let mut points: Vec<(f64, Vec<String>)> = Vec::new();
    for (name, lr) in &distinct {
        for &f in factors {
            let rate = round3(lr * f);
            let label = format!("{name} {}", factor_name(f));
            match points.iter_mut().find(|(p, _)| same(*p, rate)) {
                Some((_, from)) => from.push(label),
                None => points.push((rate, vec![label])),
            }
        }
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// The point with the best median, leaving out `except`; of equal medians the first, the
/// lower rate (the grid is by rate), the safer one.
fn best_median(points: &[GridPoint], higher: bool, except: Option<usize>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, p) in points.iter().enumerate() {
        let Some(m) = p.median.filter(|_| Some(i) != except) else {
            continue;
        };
        if best.is_none_or(|(_, b)| (higher && m > b) || (!higher && m < b)) {
            best = Some((i, m));
        }
    }
    best.map(|(i, _)| i)
}

/// The median of `values`, `None` (a failed run) counting as the worst; `None` when the
/// median falls on a failed run. For an even count, the mean of the middle two.
fn median(values: &[Option<f64>], higher_is_better: bool) -> Option<f64> {
    let worst = if higher_is_better {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    let mut v: Vec<f64> = values.iter().map(|x| x.unwrap_or(worst)).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = match n {
        0 => return None,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    m.is_finite().then_some(m)
}

/// Runs the validation grid around `result`'s suggestions on `trainer` (the one that
/// swept), over the sweep's seeds; the runs' folders go in `<dir>/validate/`. `chance`
/// is the accuracy of a model that learned nothing, where known. Fails on a bad spec or
/// an unwritable folder; a run that fails is a row, ranked last.
///
/// ```
/// use lrsched_tools::find_lr::{find_lr, validate, FindLrSpec, ValidateSpec};
/// use lrsched_tools::trainer::{BuiltIn, Trainer};
/// let split = lrsched_train::data::Source::Digits.load().unwrap();
/// # let config = lrsched_train::find_lr::doc_config(&split);
/// let trainer = Trainer::BuiltIn(Box::new(BuiltIn { config, split: std::sync::Arc::new(split) }));
/// let dir = tempfile::tempdir().unwrap();
/// let mut spec = FindLrSpec::new(dir.path());
/// spec.steps = 40;
/// let result = find_lr(&spec, &trainer, &|_| {}).unwrap();
/// let v = validate(&result, &ValidateSpec::default(), &trainer, None, &|_| {}).unwrap();
/// assert_eq!(v.metric, "val_acc");
/// assert!(v.points.len() >= 3 && v.lr().is_some());
/// ```
pub fn validate(
    result: &FindLrResult,
    vspec: &ValidateSpec,
    trainer: &Trainer,
    chance: Option<f64>,
    events: &(dyn Fn(FindLrEvent<'_>) + Sync),
) -> Result<Validation, FindLrError> {
    let spec = &result.spec;
    vspec.validate(spec.seeds).map_err(FindLrError::Spec)?;
    let rates = result.validation_grid(&vspec.factors);
    let seeds = spec.seed_list();
    let mut inputs = Vec::new();
    for (lr, _) in &rates {
        for &seed in &seeds {
            let schedule = lrsched::ScheduleSpec::from_value(json!({"type": "constant", "lr": lr}))
                .map_err(|e| FindLrError::Io(format!("the constant rate {lr:e}: {e}")))?;
            inputs.push(TrialInput {
                name: format!("validate-lr{lr:.2e}-seed{seed}"),
                schedule,
                seed,
                epochs: vspec.epochs,
                max_steps: None,
                dir: spec
                    .dir
                    .join("validate")
                    .join(format!("lr-{lr:.2e}-seed-{seed}")),
            });
        }
    }
    for input in &inputs {
        write_trial_json(input, trainer, result.steps_per_epoch).map_err(FindLrError::Io)?;
    }
    let trials: Vec<(&Trainer, TrialInput)> = inputs.iter().map(|i| (trainer, i.clone())).collect();
    let control = |_: usize, _: &Line| -> Control {
        if crate::process::cancelled() {
            Control::Stop("cancelled".into())
        } else {
            Control::Continue
        }
    };
    let results = run_all(vspec.jobs, &trials, &control, &|e| {
        events(FindLrEvent::Validate(e))
    });
    let acc = results
        .iter()
        .any(|r| r.status.is_usable() && r.last("val_acc").is_some());
    let (metric, higher) = if acc {
        ("val_acc", true)
    } else {
        ("val_loss", false)
    };
    let chance = chance.filter(|_| acc);
    let score = |r: &TrialResult| -> (Option<f64>, String) {
        if !r.status.is_usable() {
            return (None, r.status.word().to_string());
        }
        match r.last(metric) {
            Some(v) if v.is_finite() => {
                if chance.is_some_and(|c| v <= c + 0.01) {
                    (None, "at chance".into())
                } else {
                    (Some(v), "ok".into())
                }
            }
            _ => (None, format!("no {metric}")),
        }
    };
    let mut points = Vec::new();
    let mut results = results.into_iter();
    let mut dirs = inputs.iter().map(|i| i.dir.clone());
    for (lr, from) in rates {
        let mut p = GridPoint {
            lr,
            from,
            seeds: seeds.clone(),
            values: Vec::new(),
            outcomes: Vec::new(),
            dirs: Vec::new(),
            median: None,
            completed: 0,
        };
        for _ in &seeds {
            let r = results.next().unwrap_or_default();
            let (v, outcome) = score(&r);
            p.values.push(v);
            p.outcomes.push(outcome);
            p.dirs.extend(dirs.next());
        }
        p.completed = p.values.iter().flatten().count();
        p.median = median(&p.values, higher);
        points.push(p);
    }
    let best = best_median(&points, higher, None);
    Ok(Validation {
        metric: metric.to_string(),
        higher_is_better: higher,
        epochs: vspec.epochs,
        factors: vspec.factors.clone(),
        chance,
        points,
        best,
    })
}
