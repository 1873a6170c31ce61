//! The learning-rate range test (Smith 2017, as fastai's `lr_find`) over any trainer: the
//! built-in one in-process, or a user's program speaking the trial protocol.
//!
//! Each seed is one trial whose schedule is the sweep itself, a native lrsched config
//! (exponential or linear from `start` to `end` over `steps` updates, stepped per update,
//! `max_steps` = `steps`). The trial reports one step line per update (`{"step", "lr",
//! "loss"}`); the loss is smoothed as fastai does (moving average, beta 0.98,
//! bias-corrected) and the trial is stopped once the smoothed loss passes 4x its best,
//! which is what "diverging" means in a range test, or once the steps are done. The rules
//! of `lrsched_train::find_lr` (valley, steepest, minimum/10, slide) read a rate off each
//! seed's curve; their spread over the seeds (the interval from the smallest to the
//! largest seed's rate) shows how much one sweep's answer is noise. [`validate`] then
//! checks the rules by training: short runs at a small log grid around the suggestions,
//! ranked by their validation metric.
//!
//! A seed whose trial fails, hangs, writes garbage or reports NaN before any step is a
//! result with its status and the end of its stderr; the suggestions come from the seeds
//! that worked.

use crate::runner::TrialEvent;
use crate::trial::TrialStatus;
use lrsched_train::find_lr::validate_sweep;
pub use lrsched_train::find_lr::{
    OptionError, RangeMode, Stop, Suggestions, DEFAULT_END, DEFAULT_START, DEFAULT_STEPS,
    MAX_STEPS, MIN_STEPS, SMOOTH_BETA, STOP_FACTOR,
};
use serde_json::{json, Value};
use std::fmt;
use std::path::PathBuf;

mod output;
mod run;
#[cfg(test)]
mod tests;
mod validate;

pub use output::{chart, cost_line, fmt_lr, sections, to_json, Apply};
pub use run::find_lr;
pub use validate::{
    factor_name, grid_rates, validate, GridPoint, ValidateSpec, Validation, DEFAULT_EPOCHS,
    DEFAULT_FACTORS, MAX_EPOCHS, MAX_FACTORS, MAX_RUNS, SAME_RATE,
};

/// The most seeds one run may sweep.
pub const MAX_SEEDS: usize = 1000;

/// What a program must report for the range test, said when it reports no step line.
pub const NEEDS_STEP_LINES: &str =
    "find-lr needs step lines {\"step\", \"lr\", \"loss\"}: see docs/protocol.md";

/// How far (relative) a reported `lr` may be from the rate the sweep gave at its step:
/// a program that prints its rate as an `f32` (7 significant digits) is within it.
pub const RATE_TOLERANCE: f64 = 1e-6;

/// The rates the sweep hands a trial: its schedule's value at each step, as the program
/// computes it from `LRSCHED_SCHEDULE`.
struct GivenRates<'a> {
    spec: &'a FindLrSpec,
    schedule: Option<lrsched::AnySchedule>,
}

impl<'a> GivenRates<'a> {
    fn new(spec: &'a FindLrSpec) -> Self {
        let schedule = spec.schedule_spec().build(None).ok();
        GivenRates { spec, schedule }
    }

    /// The rate at `step`.
    fn at(&self, step: u64) -> f64 {
        use lrsched::Schedule;
        match &self.schedule {
            Some(s) => s.value(step),
            None => self.spec.rate(step),
        }
    }

    /// Why a reported `lr` is not the rate given at `step`; `None` when it is (within
    /// [`RATE_TOLERANCE`]) or not reported (absent or `null`).
    fn wrong(&self, step: u64, lr: Option<f64>) -> Option<String> {
        let got = lr.filter(|v| !v.is_nan())?;
        let expected = self.at(step);
        if (got - expected).abs() <= RATE_TOLERANCE * expected.abs() {
            return None;
        }
        Some(format!(
            "step {step}: `lr` = {got:e} is not the rate find-lr gave: expected {expected:.3e} (within a relative {RATE_TOLERANCE:e}); the program must train with the sweep's rates (LRSCHED_SCHEDULE) and report them"
        ))
    }
}

/// One range test over seeds: the sweep, the seeds and where the trials' folders go.
#[derive(Debug, Clone, PartialEq)]
pub struct FindLrSpec {
    /// The first rate (> 0).
    pub start: f64,
    /// The rate the sweep rises towards (> `start`; reached after `steps` updates).
    pub end: f64,
    /// Updates per sweep ([`MIN_STEPS`] to [`MAX_STEPS`]).
    pub steps: u64,
    /// Exponential (equal ratios per step) or linear rise.
    pub mode: RangeMode,
    /// The first seed; the sweeps use `seed`, `seed + 1`, ...
    pub seed: u64,
    /// How many sweeps (1 to [`MAX_SEEDS`]).
    pub seeds: usize,
    /// Sweeps run at once (at least 1).
    pub jobs: usize,
    /// The folder the trials' folders go in (`trials/seed-<seed>/`).
    pub dir: PathBuf,
}

impl FindLrSpec {
    /// fastai's sweep (1e-7 to 10, exponential, [`DEFAULT_STEPS`] steps), seed 0, one
    /// sweep at a time, trials under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FindLrSpec {
            start: DEFAULT_START,
            end: DEFAULT_END,
            steps: DEFAULT_STEPS as u64,
            mode: RangeMode::Exponential,
            seed: 0,
            seeds: 1,
            jobs: 1,
            dir: dir.into(),
        }
    }

    /// Checks every field before any work; the error names the field (`start`, `end`,
    /// `steps`, `seeds`, `jobs`) so a front end can name its own spelling of it.
    ///
    /// ```
    /// let mut s = lrsched_tools::find_lr::FindLrSpec::new("out");
    /// s.steps = 100_000_000_000;
    /// assert_eq!(s.validate().unwrap_err().to_string(),
    ///     "steps = 100000000000 is not allowed: must be at most 100000 (the rules read a rate off a few hundred points)");
    /// ```
    pub fn validate(&self) -> Result<(), OptionError> {
        validate_sweep(self.start, self.end, self.steps)?;
        if self.seeds == 0 || self.seeds > MAX_SEEDS {
            return Err(OptionError {
                field: "seeds",
                value: self.seeds.to_string(),
                allowed: format!("must be 1 to {MAX_SEEDS}"),
            });
        }
        if self.jobs == 0 {
            return Err(OptionError {
                field: "jobs",
                value: "0".into(),
                allowed: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The seeds swept, in order.
    pub fn seed_list(&self) -> Vec<u64> {
        (0..self.seeds as u64)
            .map(|k| self.seed.wrapping_add(k))
            .collect()
    }

    /// The rate of update `i`: `start * (end/start)^(i/steps)` or `start + (end -
    /// start) * i/steps`; `end` itself is never reached (fastai's `SchedExp`/`SchedLin`).
    pub fn rate(&self, i: u64) -> f64 {
        self.mode
            .rate(self.start, self.end, i as usize, self.steps as usize)
    }

    /// The sweep as the trial gets it: [`FindLrSpec::schedule`] read as a spec.
    ///
    /// ```
    /// use lrsched::Schedule;
    /// let s = lrsched_tools::find_lr::FindLrSpec::new("out");
    /// let spec = s.schedule_spec();
    /// assert_eq!(spec.interval(), lrsched::Interval::Step);
    /// let schedule = spec.build(None).unwrap();
    /// assert_eq!(schedule.value(0), 1e-7);
    /// assert_eq!(schedule.value(50), s.rate(50));
    /// ```
    pub fn schedule_spec(&self) -> lrsched::ScheduleSpec {
        // The config states `interval: "step"`, the one key reading it checks.
        lrsched::ScheduleSpec::from_value(self.schedule())
            .expect("the sweep's config states a valid interval")
    }

    /// The sweep as the native lrsched config handed to the trial, stepped per update
    /// (its `interval` key says so).
    ///
    /// ```
    /// let s = lrsched_tools::find_lr::FindLrSpec::new("out");
    /// assert_eq!(s.schedule()["interval"], "step");
    /// ```
    pub fn schedule(&self) -> Value {
        match self.mode {
            // lr * gamma^(t / transition_steps) with gamma = end/start is fastai's
            // start * (end/start)^(t/steps), the same operations; the ceiling lets
            // a growing exponential validate and is never reached within the steps.
            RangeMode::Exponential => json!({
                "type": "exponential",
                "lr": self.start,
                "gamma": self.end / self.start,
                "transition_steps": self.steps,
                "max_lr": self.end,
                "interval": "step",
            }),
            RangeMode::Linear => json!({
                "type": "linear",
                "start_lr": self.start,
                "end_lr": self.end,
                "steps": self.steps,
                "interval": "step",
            }),
        }
    }
}

/// Why the range test could not start.
#[derive(Debug, Clone, PartialEq)]
pub enum FindLrError {
    /// A field of the spec is not allowed.
    Spec(OptionError),
    /// A trial's folder could not be written.
    Io(String),
}

impl fmt::Display for FindLrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindLrError::Spec(e) => write!(f, "{e}"),
            FindLrError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FindLrError {}

/// What happens while the sweeps run, for progress bars.
#[derive(Debug)]
pub enum FindLrEvent<'a> {
    /// A trial started, reported a line or ended.
    Trial(TrialEvent<'a>),
    /// A sweep took a step.
    Step {
        /// The trial's position (seed order).
        index: usize,
        /// Its seed.
        seed: u64,
        /// Steps read so far in this sweep.
        count: u64,
        /// The rate of this step.
        lr: f64,
        /// The smoothed loss after it.
        smoothed: f64,
    },
    /// A validation run started, reported a line or ended ([`validate`]).
    Validate(TrialEvent<'a>),
}

/// One seed's sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// The trial's folder.
    pub dir: PathBuf,
    /// How the trial ended.
    pub status: TrialStatus,
    /// Why the seed gives no curve, when it gives none (a failed trial, no step lines).
    pub problem: Option<String>,
    /// Why the curve ends: all steps, the 4x rule, a NaN/infinite loss.
    pub stop: Stop,
    /// The rate of each step on the curve.
    pub lrs: Vec<f64>,
    /// The raw loss of each step on the curve.
    pub losses: Vec<f64>,
    /// The smoothed loss of each step on the curve.
    pub smoothed: Vec<f64>,
    /// Step lines the trial reported (the curve may stop before the last).
    pub steps_read: usize,
    /// What the rules read off the curve.
    pub suggestions: Suggestions,
    /// Wall-clock seconds of the trial.
    pub seconds: f64,
    /// The last lines of its standard error (command trials).
    pub stderr_tail: Vec<String>,
}

impl SeedRun {
    /// Whether its curve counts towards the suggestions.
    pub fn usable(&self) -> bool {
        self.problem.is_none()
    }

    /// Steps on the curve.
    pub fn steps_run(&self) -> usize {
        self.lrs.len()
    }

    /// One line on how the sweep ended, for people.
    pub fn describe(&self, steps: u64) -> String {
        if let Some(p) = &self.problem {
            return format!("{}: {p}", self.status.word());
        }
        let at = self.lrs.last().copied().unwrap_or(f64::NAN);
        match self.stop {
            Stop::Diverging => format!("stopped at lr {at:.2e}: smoothed loss passed 4x its best"),
            Stop::NotFinite => format!("stopped at lr {at:.2e}: the loss became NaN or infinite"),
            Stop::Completed if self.lrs.len() as u64 >= steps => "all steps".into(),
            Stop::Completed => format!(
                "the program ended after {} of {steps} steps",
                self.lrs.len()
            ),
        }
    }
}

/// Each rule's median over the seeds, in rule order, for the rules that gave one: the
/// suggestions (the first is the rules' rate; all of them seed `--validate`'s grid).
///
/// ```
/// use lrsched_tools::find_lr::{rule_medians, Spread};
/// let spread = [
///     Spread { name: "valley", values: vec![] },
///     Spread { name: "steepest", values: vec![1e-3, 4e-3, 2e-3] },
/// ];
/// assert_eq!(rule_medians(&spread), [("steepest", 2e-3)]);
/// ```
pub fn rule_medians(spread: &[Spread]) -> Vec<(&'static str, f64)> {
    spread
        .iter()
        .filter_map(|s| s.median().map(|m| (s.name, m)))
        .collect()
}

/// One rule's suggestion over the seeds that worked.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The rule: `valley`, `steepest`, `minimum/10` or `slide`.
    pub name: &'static str,
    /// Its suggestion per usable seed that gave one.
    pub values: Vec<f64>,
}

impl Spread {
    /// The smallest suggestion.
    pub fn min(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::min)
    }

    /// The largest suggestion.
    pub fn max(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::max)
    }

    /// The median; for an even count the geometric mean of the middle two, since rates
    /// live on a log scale.
    ///
    /// ```
    /// use lrsched_tools::find_lr::Spread;
    /// let s = Spread { name: "valley", values: vec![1e-3, 1e-1] };
    /// assert!((s.median().unwrap() - 1e-2).abs() < 1e-15);
    /// ```
    pub fn median(&self) -> Option<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] * v[n / 2]).sqrt()),
        }
    }

    /// The interval the seeds' answers span: (smallest, largest), the whole range over
    /// the usable seeds (with few seeds a percentile interval would be the same two).
    ///
    /// ```
    /// use lrsched_tools::find_lr::Spread;
    /// let s = Spread { name: "slide", values: vec![2e-2, 1e-2, 5e-2] };
    /// assert_eq!(s.interval(), Some((1e-2, 5e-2)));
    /// ```
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.min().zip(self.max())
    }

    /// Largest over smallest: how far apart the seeds' answers are.
    pub fn ratio(&self) -> Option<f64> {
        match (self.min(), self.max()) {
            (Some(lo), Some(hi)) if lo > 0.0 => Some(hi / lo),
            _ => None,
        }
    }
}

/// What a range test over seeds found.
#[derive(Debug, Clone, PartialEq)]
pub struct FindLrResult {
    /// What was asked.
    pub spec: FindLrSpec,
    /// Who trained (`built-in trainer on digits`, `command: ...`).
    pub trainer: String,
    /// The trainer's updates per epoch, where lrsched knows it.
    pub steps_per_epoch: Option<u64>,
    /// The epoch budget each trial was given (enough to cover the steps).
    pub epochs: u64,
    /// Each seed's sweep, in seed order.
    pub runs: Vec<SeedRun>,
    /// Each rule's spread over the usable seeds: valley, steepest, minimum/10, slide.
    pub spread: Vec<Spread>,
    /// The rules' rate: the median of the first rule that gave one (valley, else
    /// steepest, else minimum/10, else slide), and that rule.
    pub suggested: Option<(&'static str, f64)>,
    /// The validation grid's outcome, once [`validate`] ran (the caller sets it).
    pub validation: Option<Validation>,
}

impl FindLrResult {
    /// The rates `--validate` trains with these factors, and where each comes from:
    /// [`grid_rates`] around the [`rule_medians`].
    pub fn validation_grid(&self, factors: &[f64]) -> Vec<(f64, Vec<String>)> {
        grid_rates(&rule_medians(&self.spread), factors)
    }

    /// The rate to train with and where it comes from: the validated rate
    /// (`validated`) when a validation ran and a run trained, else the rules' rate.
    pub fn rate_to_use(&self) -> Option<(String, f64)> {
        match self.validation.as_ref().and_then(Validation::lr) {
            Some(lr) => Some(("validated".to_string(), lr)),
            None => self.suggested.map(|(rule, lr)| (rule.to_string(), lr)),
        }
    }

    /// The seeds whose curves count.
    pub fn usable(&self) -> impl Iterator<Item = &SeedRun> {
        self.runs.iter().filter(|r| r.usable())
    }

    /// Mean updates and seconds per usable sweep, and updates in epochs where known.
    pub fn cost(&self) -> Cost {
        let n = self.usable().count().max(1) as f64;
        let updates = self.usable().map(|r| r.steps_run()).sum::<usize>() as f64 / n;
        Cost {
            updates_per_sweep: updates,
            epochs_per_sweep: self.steps_per_epoch.map(|s| updates / s as f64),
            seconds_per_sweep: self.usable().map(|r| r.seconds).sum::<f64>() / n,
        }
    }

    /// One line on why no seed gave a curve, for the exit message; `None` if one did.
    pub fn all_failed(&self) -> Option<String> {
        if self.usable().next().is_some() {
            return None;
        }
        let first = self.runs.first()?;
        let why = first
            .problem
            .clone()
            .unwrap_or_else(|| first.status.to_string());
        let others = self.runs.len() - 1;
        Some(format!(
            "no sweep gave a curve ({} seed{} failed); seed {}: {why}{}",
            self.runs.len(),
            if self.runs.len() == 1 { "" } else { "s" },
            first.seed,
            if others > 0 {
                format!(" (and {others} more, see find_lr.json)")
            } else {
                String::new()
            }
        ))
    }
}

/// Mean cost of one sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Updates per sweep.
    pub updates_per_sweep: f64,
    /// The same in epochs of the trainer's data, where lrsched knows the epoch's length.
    pub epochs_per_sweep: Option<f64>,
    /// Wall-clock seconds per sweep (start and teardown of a program included).
    pub seconds_per_sweep: f64,
}
