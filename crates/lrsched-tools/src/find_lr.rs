//! The learning-rate range test (Smith 2017, as fastai's `lr_find`) over any trainer: the
//! built-in one in-process, or a user's program speaking the trial protocol.
//!
//! Each seed is one trial whose schedule is the sweep itself, a native lrsched config
//! (exponential or linear from `start` to `end` over `steps` updates, stepped per update,
//! `max_steps` = `steps`). The trial reports one step line per update (`{"step", "lr",
//! "loss"}`); the loss is smoothed as fastai does (moving average, beta 0.98,
//! bias-corrected) and the trial is stopped once the smoothed loss passes 4x its best,
//! which is what "diverging" means in a range test, or once the steps are done. The rules
//! of `lrsched_train::find_lr` (valley, steepest, minimum/10) read a rate off each seed's
//! curve; their spread over the seeds shows how much one sweep's answer is noise.
//!
//! A seed whose trial fails, hangs, writes garbage or reports NaN before any step is a
//! result with its status and the end of its stderr; the suggestions come from the seeds
//! that worked.

use crate::protocol::{Line, TrialInput};
use crate::runner::{run_all, TrialEvent};
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched_report::html::{Section, Table};
use lrsched_report::{Chart, Marker, Series};
use lrsched_train::find_lr::{suggest, validate_sweep, Smoother};
pub use lrsched_train::find_lr::{
    OptionError, RangeMode, Stop, Suggestions, DEFAULT_END, DEFAULT_START, DEFAULT_STEPS,
    MAX_STEPS, MIN_STEPS, SMOOTH_BETA, STOP_FACTOR,
};
use serde_json::{json, Value};
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

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
        let mut config = spec.schedule();
        let schedule = lrsched::config::take_interval(&mut config)
            .ok()
            .and_then(|_| lrsched::config::from_value(config).ok());
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

    /// The sweep as the native lrsched config handed to the trial, stepped per update.
    ///
    /// ```
    /// use lrsched::Schedule;
    /// let s = lrsched_tools::find_lr::FindLrSpec::new("out");
    /// let mut config = s.schedule();
    /// let interval = lrsched::config::take_interval(&mut config).unwrap();
    /// assert_eq!(interval, lrsched::Interval::Step);
    /// let schedule = lrsched::config::from_value(config).unwrap();
    /// assert_eq!(schedule.value(0), 1e-7);
    /// assert_eq!(schedule.value(50), s.rate(50));
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

/// One rule's suggestion over the seeds that worked.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The rule: `valley`, `steepest` or `minimum/10`.
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
    /// Each rule's spread over the usable seeds: valley, steepest, minimum/10.
    pub spread: Vec<Spread>,
    /// The rate to train with: the median of the first rule that gave one (valley,
    /// else steepest, else minimum/10), and that rule.
    pub suggested: Option<(&'static str, f64)>,
}

impl FindLrResult {
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

/// Runs the range test for each seed of `spec` on `trainer` and reads rates off the
/// curves. `events` hears the trials start, report and end, and each step with its
/// smoothed loss (for progress bars). Fails only on a bad spec or an unwritable folder:
/// a trial that fails is a [`SeedRun`] with its status.
///
/// ```
/// use lrsched_tools::find_lr::{find_lr, FindLrSpec};
/// use lrsched_tools::trainer::{BuiltIn, Trainer};
/// let split = lrsched_train::data::Source::Digits.load().unwrap();
/// # let config = lrsched_train::find_lr::doc_config(&split);
/// // config: a TrainConfig (model, optimizer, batch size), as `lrsched train` builds it.
/// let trainer = Trainer::BuiltIn(Box::new(BuiltIn { config, split: std::sync::Arc::new(split) }));
/// let dir = tempfile::tempdir().unwrap();
/// let mut spec = FindLrSpec::new(dir.path());
/// spec.steps = 40;
/// spec.seeds = 2;
/// let result = find_lr(&spec, &trainer, &|_| {}).unwrap();
/// assert_eq!(result.runs.len(), 2);
/// assert!(result.runs.iter().all(|r| r.usable() && r.steps_run() <= 40));
/// let (rule, lr) = result.suggested.unwrap();
/// assert!(rule == "valley" && lr > 1e-7 && lr < 10.0);
/// ```
pub fn find_lr(
    spec: &FindLrSpec,
    trainer: &Trainer,
    events: &(dyn Fn(FindLrEvent<'_>) + Sync),
) -> Result<FindLrResult, FindLrError> {
    spec.validate().map_err(FindLrError::Spec)?;
    let steps_per_epoch = match trainer {
        Trainer::BuiltIn(b) => Some(
            (b.split.train.len() as u64)
                .div_ceil(b.config.batch_size.max(1) as u64)
                .max(1),
        ),
        Trainer::Command(c) => c.steps_per_epoch.filter(|&s| s > 0),
    };
    // Enough epochs to cover the steps; a program whose epoch length lrsched does not
    // know gets one epoch per step (every epoch has at least one step) and is stopped
    // at the steps by LRSCHED_MAX_STEPS or by lrsched.
    let epochs = match steps_per_epoch {
        Some(s) => spec.steps.div_ceil(s),
        None => spec.steps,
    };
    let seeds = spec.seed_list();
    let inputs: Vec<TrialInput> = seeds
        .iter()
        .map(|&seed| TrialInput {
            name: format!("find-lr-seed{seed}"),
            schedule: spec.schedule(),
            seed,
            epochs,
            max_steps: Some(spec.steps),
            dir: spec.dir.join("trials").join(format!("seed-{seed}")),
        })
        .collect();
    for input in &inputs {
        write_trial_json(input, trainer, steps_per_epoch).map_err(FindLrError::Io)?;
    }
    let trials: Vec<(&Trainer, TrialInput)> = inputs.iter().map(|i| (trainer, i.clone())).collect();
    let states: Vec<Mutex<(Smoother, u64)>> = seeds
        .iter()
        .map(|_| Mutex::new((Smoother::new(SMOOTH_BETA), 0)))
        .collect();
    let given = GivenRates::new(spec);
    let control = |index: usize, line: &Line| -> Control {
        if crate::process::cancelled() {
            return Control::Stop("cancelled".into());
        }
        let Line::Step(s) = line else {
            return Control::Continue;
        };
        // A rate that is not the sweep's makes the curve meaningless: end the trial
        // (`seed_run` reports it as bad output).
        if let Some(why) = given.wrong(s.step, s.lr) {
            return Control::Stop(why);
        }
        let Ok(mut state) = states[index].lock() else {
            return Control::Continue;
        };
        let (smoother, count) = &mut *state;
        *count += 1;
        let Some(loss) = s.loss.filter(|l| l.is_finite()) else {
            return Control::Continue;
        };
        let lr =
            s.lr.filter(|r| r.is_finite())
                .unwrap_or_else(|| given.at(s.step));
        let smoothed = smoother.push(loss);
        events(FindLrEvent::Step {
            index,
            seed: seeds[index],
            count: *count,
            lr,
            smoothed,
        });
        if smoother.diverging(STOP_FACTOR) {
            Control::Stop(format!(
                "smoothed loss {smoothed:.4} passed {STOP_FACTOR}x its best {:.4} at lr {lr:.3e}",
                smoother.best()
            ))
        } else if *count >= spec.steps {
            Control::Stop(format!("all {} steps", spec.steps))
        } else {
            Control::Continue
        }
    };
    let results = run_all(spec.jobs, &trials, &control, &|e| {
        events(FindLrEvent::Trial(e))
    });
    let runs: Vec<SeedRun> = results
        .into_iter()
        .zip(&inputs)
        .map(|(r, input)| seed_run(spec, &given, input, r))
        .collect();
    let spread = spreads(&runs);
    let suggested = spread.iter().find_map(|s| s.median().map(|m| (s.name, m)));
    Ok(FindLrResult {
        spec: spec.clone(),
        trainer: trainer.describe(),
        steps_per_epoch,
        epochs,
        runs,
        spread,
        suggested,
    })
}

/// The trial's input as JSON in its folder, so a trial can be rerun or inspected without
/// the command line that made it.
fn write_trial_json(
    input: &TrialInput,
    trainer: &Trainer,
    steps_per_epoch: Option<u64>,
) -> Result<(), String> {
    std::fs::create_dir_all(&input.dir)
        .map_err(|e| format!("cannot create {}: {e}", input.dir.display()))?;
    let value = json!({
        "name": input.name,
        "schedule": input.schedule,
        "seed": input.seed,
        "epochs": input.epochs,
        "max_steps": input.max_steps,
        "dir": input.dir,
        "trainer": trainer.describe(),
        "steps_per_epoch": steps_per_epoch,
    });
    let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    crate::files::write_atomic(&input.dir.join("trial.json"), text.as_bytes())
}

/// A trial's step lines as a range-test curve, cut as the live stop rule cut it: at the
/// first point past 4x the best (kept, as fastai keeps it), before the first non-finite
/// loss, at the spec's steps.
fn seed_run(spec: &FindLrSpec, given: &GivenRates, input: &TrialInput, r: TrialResult) -> SeedRun {
    let mut r = r;
    // Every step line's rate must be the one the sweep gave at its step: a program that
    // trains (or reports) with another rate gives a curve against the wrong axis.
    let wrong = r.steps.iter().find_map(|s| given.wrong(s.step, s.lr));
    if let (Some(problem), false) = (wrong, r.status == TrialStatus::Cancelled) {
        r.status = TrialStatus::Malformed(crate::protocol::ProtocolError {
            path: input.metrics_path(),
            line: 0,
            problem,
        });
    }
    let mut smoother = Smoother::new(SMOOTH_BETA);
    let (mut lrs, mut losses, mut smoothed) = (Vec::new(), Vec::new(), Vec::new());
    let mut stop = None;
    for s in r.steps.iter().take(spec.steps as usize) {
        let Some(loss) = s.loss else { continue };
        if !loss.is_finite() {
            stop = Some(Stop::NotFinite);
            break;
        }
        let lr =
            s.lr.filter(|r| r.is_finite())
                .unwrap_or_else(|| given.at(s.step));
        lrs.push(lr);
        losses.push(loss);
        smoothed.push(smoother.push(loss));
        if smoother.diverging(STOP_FACTOR) {
            stop = Some(Stop::Diverging);
            break;
        }
    }
    let diverged = matches!(r.status, TrialStatus::Diverged { .. });
    let stop = stop.unwrap_or(match &r.status {
        // The trainer's runaway rule can end a sweep before the smoothed curve passes
        // the range test's own line: the same kind of end.
        TrialStatus::Diverged { what, .. }
            if what.contains(lrsched_train::divergence::RAN_AWAY) =>
        {
            Stop::Diverging
        }
        // The built-in trainer ends at a NaN loss without reporting that step.
        _ if diverged => Stop::NotFinite,
        _ => Stop::Completed,
    });
    let problem = match (&r.status, lrs.is_empty()) {
        (TrialStatus::Completed | TrialStatus::Stopped { .. }, true) => {
            Some(NEEDS_STEP_LINES.to_string())
        }
        (TrialStatus::Completed | TrialStatus::Stopped { .. }, false) => None,
        // A range test runs the rate up until the loss breaks: a NaN after some steps is
        // the end of the curve, not a failed sweep; before any step it is.
        (TrialStatus::Diverged { .. }, false) => None,
        (status, _) => Some(status.to_string()),
    };
    let suggestions = if problem.is_none() {
        suggest(&lrs, &smoothed, spec.steps as usize)
    } else {
        Suggestions::default()
    };
    SeedRun {
        seed: input.seed,
        dir: input.dir.clone(),
        status: r.status,
        problem,
        stop,
        lrs,
        losses,
        smoothed,
        steps_read: r.steps.len(),
        suggestions,
        seconds: r.seconds,
        stderr_tail: r.stderr_tail,
    }
}

fn spreads(runs: &[SeedRun]) -> Vec<Spread> {
    let names = Suggestions::default().named().map(|(n, _)| n);
    names
        .iter()
        .enumerate()
        .map(|(k, name)| Spread {
            name,
            values: runs
                .iter()
                .filter(|r| r.usable())
                .filter_map(|r| r.suggestions.named()[k].1)
                // A rate to train with is positive and finite, whatever a curve says.
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect(),
        })
        .collect()
}

/// A rate as the tables print it (`1.234e-2`, `-` for none).
pub fn fmt_lr(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3e}"))
}

/// The schedule `--apply` writes around the suggested rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// One-cycle peaking at the rate (fastai's `fit_one_cycle` with `lr_max` from
    /// `lr_find`).
    OneCycle,
    /// A 5% linear warmup to the rate, then cosine to zero.
    Cosine,
}

impl Apply {
    /// Reads `onecycle` (`one_cycle`, `one-cycle`) or `cosine`.
    pub fn from_name(name: &str) -> Option<Apply> {
        match name {
            "onecycle" | "one_cycle" | "one-cycle" => Some(Apply::OneCycle),
            "cosine" => Some(Apply::Cosine),
            _ => None,
        }
    }

    /// The config, its durations relative to the run so it fits any length.
    ///
    /// ```
    /// use lrsched_tools::find_lr::Apply;
    /// let c = Apply::OneCycle.config(0.012345);
    /// assert_eq!(c["max_lr"], 0.0123);
    /// let shape = lrsched::time::RunShape::new(1000, 10).with_epochs(5.0);
    /// assert!(lrsched::config::from_value_with_shape(c, Some(&shape)).is_ok());
    /// ```
    pub fn config(self, lr: f64) -> Value {
        // Three significant digits: the rule's own noise is far larger than that.
        let lr: f64 = format!("{lr:.2e}").parse().unwrap_or(lr);
        match self {
            Apply::OneCycle => json!({"type": "one_cycle", "max_lr": lr, "total_steps": "100%"}),
            Apply::Cosine => json!({
                "type": "warmup",
                "steps": "5%",
                "schedule": {"type": "cosine", "lr": lr, "steps": "95%"},
            }),
        }
    }
}

/// The result as `find_lr.json` holds it: the sweep, the suggestions and their spread,
/// the cost, and each seed's status and curve.
pub fn to_json(result: &FindLrResult) -> Value {
    let spec = &result.spec;
    let cost = result.cost();
    json!({
        "trainer": result.trainer,
        "start": spec.start,
        "end": spec.end,
        "mode": spec.mode.name(),
        "steps": spec.steps,
        "seed": spec.seed,
        "seeds": spec.seeds,
        "epochs": result.epochs,
        "steps_per_epoch": result.steps_per_epoch,
        "smooth_beta": SMOOTH_BETA,
        "stop_factor": STOP_FACTOR,
        "suggested": result.suggested.map(|(rule, lr)| json!({"rule": rule, "lr": lr})),
        "spread": result.spread.iter().map(|s| (s.name.to_string(), json!({
            "min": s.min(), "median": s.median(), "max": s.max(), "values": s.values,
        }))).collect::<serde_json::Map<String, Value>>(),
        "cost": {
            "updates_per_sweep": cost.updates_per_sweep,
            "epochs_per_sweep": cost.epochs_per_sweep,
            "seconds_per_sweep": cost.seconds_per_sweep,
        },
        "runs": result.runs.iter().map(|r| json!({
            "seed": r.seed,
            "dir": r.dir,
            "status": r.status.word(),
            "detail": r.status.to_string(),
            "problem": r.problem,
            "steps_run": r.steps_run(),
            "steps_read": r.steps_read,
            "stop": r.stop,
            "seconds": r.seconds,
            "suggestions": r.suggestions,
            "lrs": r.lrs,
            "losses": r.losses,
            "smoothed": r.smoothed,
            "stderr_tail": r.stderr_tail,
        })).collect::<Vec<_>>(),
    })
}

/// Loss against rate on a log axis: each usable seed's smoothed curve, cut where it
/// shoots up, and a marker per rule at its median suggestion.
pub fn chart(result: &FindLrResult) -> Chart {
    let runs: Vec<&SeedRun> = result.usable().collect();
    let title = if runs.len() == 1 {
        "LR range test: smoothed training loss".to_string()
    } else {
        format!(
            "LR range test: smoothed training loss, {} seeds (marks: median suggestions)",
            runs.len()
        )
    };
    // The last points of a sweep shoot up (a sweep stops only once past 4x its best, and
    // one step can jump far beyond that): drawn in full they squash the part that matters
    // into a flat line. Curves are cut where they pass the starting loss by half the
    // fall below it, as fastai's plot drops the last points.
    let first = runs
        .iter()
        .filter_map(|r| r.smoothed.first().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let best = runs
        .iter()
        .flat_map(|r| r.smoothed.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let cap = first + 0.5 * (first - best).max(0.05 * first.abs());
    let mut chart = Chart::new(title, "learning rate", "smoothed loss").with_log_x(true);
    for r in &runs {
        let points: Vec<(f64, f64)> = r
            .lrs
            .iter()
            .zip(&r.smoothed)
            .map(|(&x, &y)| (x, y))
            .take_while(|&(_, y)| !(cap.is_finite() && y > cap))
            .collect();
        let name = if runs.len() == 1 {
            "smoothed loss".to_string()
        } else {
            format!("seed {}", r.seed)
        };
        chart = chart.with_series(Series::new(name, points));
    }
    for s in &result.spread {
        if let Some(m) = s.median() {
            // Short labels: the chart has two rows for them, and a third that fits nowhere
            // is dropped.
            let name = if s.name == "minimum/10" {
                "min/10"
            } else {
                s.name
            };
            chart = chart.with_marker(Marker::new(m, format!("{name} {m:.1e}")));
        }
    }
    chart
}

/// The report's sections: the suggestions (text, chart, spread table), each seed's sweep,
/// and the failed seeds with the end of their stderr.
pub fn sections(result: &FindLrResult) -> Vec<Section> {
    let spec = &result.spec;
    let cost = result.cost();
    let svg = lrsched_report::render_svg(&chart(result)).unwrap_or_default();
    let usable = result.usable().count();
    let mut out = vec![Section {
        heading: "Suggestions".into(),
        text: vec![
            format!(
                "{} steps from {:e} to {:e} ({}) with {}, over {} seed(s), {usable} usable. Loss smoothed with an exponential moving average (beta {SMOOTH_BETA}, bias-corrected); a sweep stops once it passes {STOP_FACTOR}x its best (the range test's divergence rule). Rules as fastai's: valley (middle of the longest fall; fastai's default), steepest (fastest fall against log rate), minimum/10.",
                spec.steps, spec.start, spec.end, spec.mode.name(), result.trainer, spec.seeds
            ),
            match result.suggested {
                Some((rule, lr)) => format!("Suggested rate: {lr:.3e} (median {rule})."),
                None if usable == 0 => "No suggestion: no sweep gave a curve (see the seeds below).".into(),
                None => "No suggestion: the curve is too short.".into(),
            },
            cost_line(&cost, result.steps_per_epoch),
        ],
        svgs: if usable > 0 { vec![svg] } else { Vec::new() },
        table: Some(Table {
            header: ["rule", "min", "median", "max", "max/min"].map(String::from).to_vec(),
            rows: result
                .spread
                .iter()
                .map(|s| {
                    vec![
                        s.name.to_string(),
                        fmt_lr(s.min()),
                        fmt_lr(s.median()),
                        fmt_lr(s.max()),
                        s.ratio().map_or("-".into(), |r| format!("{r:.1}x")),
                    ]
                })
                .collect(),
        }),
    }];
    out.push(Section {
        heading: "Seeds".into(),
        text: Vec::new(),
        svgs: Vec::new(),
        table: Some(Table {
            header: [
                "seed",
                "status",
                "steps",
                "how it ended",
                "valley",
                "steepest",
                "minimum/10",
                "seconds",
            ]
            .map(String::from)
            .to_vec(),
            rows: result
                .runs
                .iter()
                .map(|r| {
                    let [v, s, m] = r.suggestions.named().map(|(_, x)| fmt_lr(x));
                    vec![
                        r.seed.to_string(),
                        r.status.word().to_string(),
                        format!("{}/{}", r.steps_run(), spec.steps),
                        r.describe(spec.steps),
                        v,
                        s,
                        m,
                        format!("{:.2}", r.seconds),
                    ]
                })
                .collect(),
        }),
    });
    let failed: Vec<&SeedRun> = result.runs.iter().filter(|r| !r.usable()).collect();
    if !failed.is_empty() {
        let mut text = Vec::new();
        for r in failed {
            text.push(format!(
                "seed {} ({}): {}",
                r.seed,
                r.dir.display(),
                r.problem.as_deref().unwrap_or("")
            ));
            if !r.stderr_tail.is_empty() {
                text.push(format!(
                    "last lines of stderr: {}",
                    r.stderr_tail.join(" | ")
                ));
            }
        }
        out.push(Section {
            heading: "Failed seeds".into(),
            text,
            ..Section::default()
        });
    }
    out
}

/// The cost line printed and reported: updates, epochs where known, seconds per sweep.
pub fn cost_line(cost: &Cost, steps_per_epoch: Option<u64>) -> String {
    let epochs = match (cost.epochs_per_sweep, steps_per_epoch) {
        (Some(e), Some(s)) => format!(" = {e:.2} epochs of batches ({s} per epoch)"),
        _ => String::new(),
    };
    format!(
        "cost: {:.0} updates per sweep{epochs}, {:.3} s per sweep",
        cost.updates_per_sweep, cost.seconds_per_sweep
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::CommandTrainer;
    use crate::trainer::BuiltIn;
    use std::sync::Arc;

    fn builtin() -> Trainer {
        let split = lrsched_train::data::Source::Digits.load().unwrap();
        let mut config = lrsched_train::find_lr::doc_config(&split);
        config.model = lrsched_train::model::ModelSpec::parse(
            "32",
            split.train.dim(),
            split.train.task(),
            lrsched_train::model::Activation::Relu,
            lrsched_train::model::Init::Torch,
        )
        .unwrap();
        config.batch_size = 64;
        Trainer::BuiltIn(Box::new(BuiltIn {
            config,
            split: Arc::new(split),
        }))
    }

    #[test]
    fn built_in_sweep_is_the_in_process_range_test() {
        // The same model, batches and rates as lrsched_train's range test on clones, so
        // moving the built-in path behind the Trainer changed no number.
        let trainer = builtin();
        let Trainer::BuiltIn(b) = &trainer else {
            unreachable!()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut spec = FindLrSpec::new(dir.path());
        spec.steps = 60;
        spec.seed = 3;
        let result = find_lr(&spec, &trainer, &|_| {}).unwrap();
        let mut config = b.config.clone();
        config.seed = 3;
        let (m, o) = lrsched_train::find_lr::initial_state(&config).unwrap();
        let mut opts = lrsched_train::find_lr::RangeTestOptions::new(64, 3).with_steps(60);
        opts.start = spec.start;
        opts.end = spec.end;
        let direct = lrsched_train::find_lr::range_test(&m, &o, &b.split, &opts).unwrap();
        let run = &result.runs[0];
        assert_eq!(run.lrs, direct.lrs);
        assert_eq!(run.losses, direct.losses);
        assert_eq!(run.smoothed, direct.smoothed);
        assert_eq!(run.suggestions, direct.suggestions);
        assert_eq!(result.steps_per_epoch, Some(23));
        assert_eq!(result.epochs, 3);
        assert!(dir.path().join("trials/seed-3/trial.json").exists());
    }

    #[test]
    fn a_huge_end_is_stopped_by_the_four_times_rule() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = FindLrSpec::new(dir.path());
        spec.start = 1e-4;
        spec.end = 1e4;
        spec.steps = 200;
        let result = find_lr(&spec, &builtin(), &|_| {}).unwrap();
        let run = &result.runs[0];
        assert!(run.usable(), "{:?}", run.problem);
        assert!(run.steps_run() < 200, "ran {}", run.steps_run());
        assert_ne!(run.stop, Stop::Completed);
    }

    fn sh(script: &str) -> Trainer {
        let mut c = CommandTrainer::new(script);
        c.poll = std::time::Duration::from_millis(5);
        c.grace = std::time::Duration::from_millis(500);
        Trainer::Command(c)
    }

    /// A program whose loss is a bowl in log rate, lowest at 1e-2: it reads the rate
    /// from the schedule lrsched hands it, as a real program would.
    const BOWL: &str = r#"awk -v n="$LRSCHED_MAX_STEPS" -v f="$LRSCHED_METRICS" 'BEGIN {
        for (i = 0; i < n; i++) { lr = 1e-7 * (1e8 ^ (i / n)); x = log(lr / 1e-2) / log(10);
          printf "{\"step\": %d, \"lr\": %.17g, \"loss\": %.17g}\n", i, lr, 1 + x * x / 4 >> f; fflush(f) } }'"#;

    #[test]
    fn a_command_sweep_reads_the_rate_off_its_step_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = FindLrSpec::new(dir.path());
        spec.seeds = 2;
        spec.jobs = 2;
        let steps = Mutex::new(0usize);
        let result = find_lr(&spec, &sh(BOWL), &|e| {
            if let FindLrEvent::Step { .. } = e {
                *steps.lock().unwrap() += 1;
            }
        })
        .unwrap();
        assert!(result.runs.iter().all(|r| r.usable()));
        // The bowl rises to 3.25 at the end from a best of about 1: never 4x, so every
        // step is read.
        assert!(result.runs.iter().all(|r| r.steps_run() == 100));
        assert_eq!(*steps.lock().unwrap(), 200);
        // The same curve computed here gives the same suggestions.
        let lrs: Vec<f64> = (0..100).map(|i| spec.rate(i)).collect();
        let losses: Vec<f64> = lrs
            .iter()
            .map(|lr| 1.0 + (lr / 1e-2).log10().powi(2) / 4.0)
            .collect();
        let want = suggest(
            &lrs,
            &lrsched_train::find_lr::smooth(&losses, SMOOTH_BETA),
            100,
        );
        for (got, want) in result.runs[0].suggestions.named().iter().zip(want.named()) {
            let (g, w) = (got.1.unwrap(), want.1.unwrap());
            assert!((g / w - 1.0).abs() < 1e-9, "{}: {g} vs {w}", got.0);
        }
        assert_eq!(result.epochs, 100);
        assert_eq!(result.steps_per_epoch, None);
    }

    #[test]
    fn failures_are_results_and_the_others_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = FindLrSpec::new(dir.path());
        spec.seeds = 3;
        // Seed 0 sweeps, seed 1 exits 1, seed 2 reports only epochs.
        let script = format!(
            r#"case $LRSCHED_SEED in 0) {BOWL} ;; 1) echo boom >&2; exit 1 ;; *) echo '{{"epoch": 1, "val_loss": 1}}' >> "$LRSCHED_METRICS" ;; esac"#
        );
        let result = find_lr(&spec, &sh(&script), &|_| {}).unwrap();
        assert!(result.runs[0].usable());
        assert_eq!(result.runs[1].status.word(), "failed");
        assert_eq!(result.runs[1].stderr_tail, vec!["boom".to_string()]);
        assert_eq!(result.runs[2].problem.as_deref(), Some(NEEDS_STEP_LINES));
        assert_eq!(result.spread[0].values.len(), 1);
        assert!(result.suggested.is_some());
        assert!(result.all_failed().is_none());
        let titles: Vec<_> = sections(&result).into_iter().map(|s| s.heading).collect();
        assert!(titles.contains(&"Failed seeds".to_string()));
    }

    #[test]
    fn nan_before_any_step_fails_the_seed_and_all_failed_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let spec = FindLrSpec::new(dir.path());
        let t =
            sh(r#"echo '{"step": 0, "lr": 1e-7, "loss": NaN}' >> "$LRSCHED_METRICS"; sleep 30"#);
        let started = std::time::Instant::now();
        let result = find_lr(&spec, &t, &|_| {}).unwrap();
        assert!(started.elapsed().as_secs() < 10, "not stopped at the NaN");
        assert_eq!(result.runs[0].status.word(), "diverged");
        assert!(!result.runs[0].usable());
        let why = result.all_failed().unwrap();
        assert!(why.contains("seed 0") && why.contains("NaN"), "{why}");
        assert!(result.suggested.is_none());
    }

    #[test]
    fn a_rate_that_is_not_the_sweeps_is_bad_output_naming_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = FindLrSpec::new(dir.path());
        spec.seeds = 3;
        // Seed 0 reports the sweep's rates as f32 text, seed 1 a rate of 0 at step 7,
        // seed 2 the negated rates.
        let script = format!(
            r#"case $LRSCHED_SEED in 0) {} ;; 1) {} ;; *) {} ;; esac"#,
            BOWL.replace("%.17g, \\\"loss", "%.7g, \\\"loss"),
            BOWL.replace(", i, lr, 1", ", i, (i == 7 ? 0 : lr), 1"),
            BOWL.replace(", i, lr, 1", ", i, -lr, 1"),
        );
        let result = find_lr(&spec, &sh(&script), &|_| {}).unwrap();
        assert!(result.runs[0].usable(), "{:?}", result.runs[0].problem);
        for (run, step) in [(&result.runs[1], 7), (&result.runs[2], 0)] {
            assert_eq!(run.status.word(), "bad output");
            let p = run.problem.as_deref().unwrap();
            assert!(p.contains(&format!("step {step}: `lr` = ")), "{p}");
            assert!(
                p.contains(&format!("expected {:.3e}", spec.rate(step))),
                "{p}"
            );
        }
        let (_, lr) = result.suggested.unwrap();
        assert!(lr > 0.0 && lr.is_finite());
        assert!(result.spread.iter().all(|s| s.values.len() == 1));
    }

    #[test]
    fn bad_specs_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        for (f, field) in [
            (
                Box::new(|s: &mut FindLrSpec| s.steps = 5) as Box<dyn Fn(&mut _)>,
                "steps",
            ),
            (
                Box::new(|s: &mut FindLrSpec| s.steps = MAX_STEPS as u64 + 1),
                "steps",
            ),
            (Box::new(|s: &mut FindLrSpec| s.end = 1e-9), "end"),
            (Box::new(|s: &mut FindLrSpec| s.seeds = 0), "seeds"),
            (Box::new(|s: &mut FindLrSpec| s.jobs = 0), "jobs"),
        ] {
            let mut spec = FindLrSpec::new(dir.path());
            f(&mut spec);
            match find_lr(&spec, &sh("true"), &|_| {}) {
                Err(FindLrError::Spec(e)) => assert_eq!(e.field, field),
                other => panic!("{other:?}"),
            }
        }
        // Nothing ran: no trial folder was made.
        assert!(!dir.path().join("trials").exists());
    }
}
