//! PyTorch compatibility: every `torch.optim.lr_scheduler` class, reproduced step for step.
//!
//! A config names the class as its `type` and takes the class's own keyword arguments,
//! with PyTorch's names and defaults; the optimizer's base learning rate is `lr` (a
//! number, or one number per param group) and its initial momentum `momentum` (SGD's
//! default 0):
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use lrsched::{config, Schedule};
//! let s = config::from_json_str(r#"{"type": "StepLR", "lr": 0.1, "step_size": 30, "gamma": 0.1}"#).unwrap();
//! assert_eq!(s.value(29), 0.1);
//! assert_eq!(s.value(30), 0.1 * 0.1); // PyTorch multiplies the running lr: same bits
//! # }
//! ```
//!
//! The numbers are PyTorch's own, quirks included: the recursive ("chainable") classes
//! multiply the optimizer's running lr at each step exactly as `lr_scheduler.py` does, so
//! this form *replays* the steps (value at step `n` costs `O(n)` up to [`REPLAY_LIMIT`], then
//! a bounded jump: see below); the native families
//! ([`crate::Cosine`], [`crate::StepDecay`], ...) are the closed forms. The
//! [`TorchSimulator`] is the stateful model of scheduler plus optimizer param groups that
//! both [`Schedule::value`] and golden tests use.
//!
//! Stepping is O(1): each schedule keeps its replay paused where it was last asked (a
//! cache, shared by [`Schedule::value`], [`Schedule::values`] and [`Schedule::momentum`],
//! ignored by `==`), so asking for the next step costs one step, from a [`crate::Driver`],
//! from a combinator around the schedule or from any loop; asking for an earlier step
//! replays again from the start. A stepped value is the random-access value, bit for bit.
//!
//! Value `i` is the one in force for optimizer step `i`: `get_last_lr()` after `i` calls
//! of `scheduler.step()` (for `ReduceLROnPlateau`, after a `step(metric)` for each metric
//! observed before step `i`: one per step, or one per epoch on a per-step schedule).
//!
//! # Far steps: the replay is bounded
//!
//! A replay of `n` steps would make `value(n)` hang for a large `n`, so
//! [`TorchSimulator::advance`] (which [`Schedule::value`] and [`Schedule::values`] use)
//! replays at most [`REPLAY_LIMIT`] steps one by one, counting only the steps it cannot
//! skip (see [`TorchSimulator::advance`]): **up to there every value is PyTorch's replay,
//! bit for bit, as before**. Past it, steps go in windows of 1024: the start of a step's
//! window is one jump from where the replay stopped (all but the last of its steps taken
//! by the closed forms below, the last a real step, so the step's own factor, and every
//! class that overwrites the lr, is exact), and the steps inside the window are replayed.
//! A value then costs `O(REPLAY_LIMIT + 1024 + milestones + schedulers)`, about 50 ms at
//! most, and stepping still costs one step (and a jump per window).
//!
//! Per class, from the replayed lr `lr` at epoch `m` to epoch `n = m + k`:
//! - `ExponentialLR`: `lr * gamma^k` (PyTorch's closed form `base_lr * gamma^n`, taken
//!   from where the replay stopped).
//! - `MultiplicativeLR`: with a factor that does not depend on the epoch (a number, or
//!   an expression without the variable), `lr * f^k`. With an epoch-dependent factor no
//!   bounded product exists: **the lr holds** at its value after the replay, and the last
//!   (real) step multiplies it by `f(n)`, so `value(n) = value(end of replay) * f(n)`.
//! - `StepLR`, `MultiStepLR`: `lr * gamma^c`, `c` the cuts at epochs in `(m, n]`;
//!   `ConstantLR`: `lr / factor` if `total_iters` is in `(m, n]`; `LinearLR`,
//!   `PolynomialLR`: `lr` times the ratio of PyTorch's closed forms at `n` and `m`
//!   (epochs capped at `total_iters`).
//! - `CosineAnnealingLR`: between two minima the recursion's factors telescope,
//!   `eta_min + (lr - eta_min) * (1 + cos(pi n / T_max)) / (1 + cos(pi m / T_max))`; at a minimum
//!   its factor `1 + cos(pi (2j+1))` is 0, so the lr is forgotten and from there on it is
//!   PyTorch's closed form `eta_min + (base_lr - eta_min) * (1 + cos(pi n / T_max)) / 2`.
//!   The scheduler's own epoch moves on by whole periods (`2 T_max`) fewer, which the
//!   cosines do not see but their precision does. The last minimum in reach and the step
//!   after it are real steps, so that in a `ChainedScheduler` the other schedulers'
//!   factors are forgotten there too.
//! - `CosineAnnealingWarmRestarts`: `T_cur` and `T_i` move on through PyTorch's restarts
//!   (exact while epochs are below `2^53`), and the lr is its own formula of them;
//!   `LambdaLR`, `CyclicLR`, `OneCycleLR`: pure functions of the epoch, exact.
//! - `SequentialLR` and `ChainedScheduler` nest in each other as in PyTorch (not a
//!   `ReduceLROnPlateau`, nor a composite that a milestone restarts: PyTorch raises there).
//! - `SequentialLR`: the running scheduler jumps to the step before each milestone in
//!   reach, and each milestone's step (its `_update_lr(0)`) is real: beyond its last
//!   milestone it is its last scheduler continuing, with that scheduler's own count.
//! - `ChainedScheduler`: each child jumps in turn on the shared lr, so the factors of
//!   the multiplicative children multiply. That is the replay up to rounding when every
//!   child is multiplicative (a `CosineAnnealingLR` with `eta_min = 0` included); a child
//!   with `eta_min > 0` among others applies its map over the whole jump rather than
//!   interleaved step by step with theirs, an approximation.
//! - `ReduceLROnPlateau` replays only the metrics it was given: never long.
//!
//! How far a jumped value may be from PyTorch's replay: the replay rounds at each of
//! its `k` multiplications where a jump rounds once, so the relative difference is
//! about `k` times `1e-16` (about `1e-7` at `10^9` steps); a cosine's is about `1e-16`
//! times `n / T_max`, of `base_lr - eta_min` (PyTorch's own `cos(pi n / T_max)` loses
//! that much).
//! Epochs stop at `2^63 - 2` (PyTorch's `last_epoch` is an int): later steps hold.
//!
//! # The one deliberate difference: no rounding negatives
//!
//! PyTorch's recursions can round a value that should be 0 to a negative:
//! `LinearLR(start_factor=1/3, end_factor=0)` at `total_iters` gives `-1.5e-18`, and
//! `CosineAnnealingLR` with `lr < eta_min` gives `-6e-14` back at its start (`T_max=33`)
//! or `-1.7e-5` (`T_max=49528`, `eta_min=479`: its quotient near each minimum loses
//! about `T_max^2 * 1e-16` of `eta_min`). [`Schedule::value`] and [`Schedule::values`]
//! return 0 for every negative value, the only place they differ from PyTorch. The
//! [`TorchSimulator`] keeps PyTorch's value, so every later step still follows PyTorch's
//! recursion.
//!
//! One exception: a schedule with a `OneCycleLR` keeps a negative larger than
//! [`ROUNDING_SLACK`] times its scale (its largest `lr`, `max_lr`, ...), because that is
//! PyTorch's real value and not rounding: with `anneal_strategy="linear"` it
//! extrapolates below 0 at `total_steps` (recorded in the golden traces), and holds it.

mod cursor;
pub mod expr;
mod sim;
#[cfg(feature = "serde")]
pub(crate) mod write;

/// A class's keyword-argument defaults, PyTorch's, stated once: its `new()` and serde's
/// `default = "defaults::key"` both call the function of the key's name. (A class whose
/// every argument has a default states them once in its `Default` instead, which serde's
/// container `default` reads.)
macro_rules! class_defaults {
    ($($key:ident: $ty:ty = $value:expr;)*) => {
        mod defaults {
            #[allow(unused_imports)]
            use super::*;
            $(
                pub(super) fn $key() -> $ty {
                    $value
                }
            )*
        }
    };
}

mod chained_scheduler;
mod constant_lr;
mod cosine_annealing_lr;
mod cosine_annealing_warm_restarts;
mod cyclic_lr;
mod exponential_lr;
mod lambda_lr;
mod linear_lr;
mod multi_step_lr;
mod multiplicative_lr;
mod one_cycle_lr;
mod polynomial_lr;
mod reduce_lr_on_plateau;
mod sequential_lr;
mod step_lr;

pub use chained_scheduler::ChainedScheduler;
pub use constant_lr::ConstantLR;
pub use cosine_annealing_lr::CosineAnnealingLR;
pub use cosine_annealing_warm_restarts::CosineAnnealingWarmRestarts;
pub use cyclic_lr::CyclicLR;
pub use exponential_lr::ExponentialLR;
pub use lambda_lr::{LambdaLR, Lambdas, LrLambda};
pub use linear_lr::LinearLR;
pub use multi_step_lr::MultiStepLR;
pub use multiplicative_lr::MultiplicativeLR;
pub use one_cycle_lr::OneCycleLR;
pub use polynomial_lr::PolynomialLR;
pub use reduce_lr_on_plateau::ReduceLROnPlateau;
pub use sequential_lr::SequentialLR;
pub use sim::{PlateauSnapshot, TorchSimulator};
pub use step_lr::StepLR;

#[cfg(feature = "serde")]
use crate::suggest;
use crate::{check, Schedule, ScheduleError};

/// The `torch.optim.lr_scheduler` class names a config may use.
pub const CLASS_NAMES: &[&str] = &[
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
];

/// How many steps [`Schedule::value`] replays one by one (counting only the steps that
/// change the lr, not those a class can skip) before it jumps the rest of the way with a
/// closed form: see the module docs. Some 10 to 50 ms of replay at most, optimised.
pub const REPLAY_LIMIT: u64 = 500_000;

/// In a schedule with a `OneCycleLR`, a negative value no larger than this times the
/// schedule's scale (its largest `lr`, `eta_min`, `max_lr`, ...) is rounding, and
/// [`Schedule::value`] gives 0; a larger one is `OneCycleLR`'s own (see the module docs).
/// Other schedules give 0 for every negative.
pub const ROUNDING_SLACK: f64 = 1e-9;

/// SGD's default learning rate, used where a config leaves `lr` out (only `CyclicLR` and
/// `OneCycleLR`, which overwrite it, may).
pub const DEFAULT_LR: f64 = 1e-3;

/// A parameter given once for every param group, or once per group (PyTorch's
/// `float | list[float]`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(untagged)
)]
pub enum PerGroup {
    /// The same value for every group.
    One(f64),
    /// One value per group, in group order.
    Each(Vec<f64>),
}

impl PerGroup {
    /// The value for group `i` (a short list repeats its last value, an empty one is NaN,
    /// so lookups never panic; [`TorchSchedule::validate`] rejects both).
    pub fn get(&self, i: usize) -> f64 {
        match self {
            PerGroup::One(v) => *v,
            PerGroup::Each(v) => v.get(i).or(v.last()).copied().unwrap_or(f64::NAN),
        }
    }

    /// Every value, as a list.
    pub fn values(&self) -> Vec<f64> {
        match self {
            PerGroup::One(v) => vec![*v],
            PerGroup::Each(v) => v.clone(),
        }
    }

    pub(crate) fn check(
        &self,
        class: &str,
        key: &str,
        groups: usize,
        each: impl Fn(&str, &str, f64) -> Result<(), ScheduleError>,
    ) -> Result<(), ScheduleError> {
        if let PerGroup::Each(v) = self {
            if v.len() != groups {
                return Err(ScheduleError::invalid(
                    class,
                    key,
                    format!("{v:?}"),
                    format!("a number or a list of {groups} numbers (one per param group)"),
                ));
            }
        }
        for v in self.values() {
            each(class, key, v)?;
        }
        Ok(())
    }
}

/// A string argument that must be one of `choices`, as PyTorch's `if mode not in ...:
/// raise` has it.
pub(crate) fn one_of(
    class: &str,
    key: &str,
    value: &str,
    choices: &[&str],
) -> Result<(), ScheduleError> {
    if choices.contains(&value) {
        return Ok(());
    }
    let allowed = format!("one of {}", choices.join(", "));
    Err(ScheduleError::invalid(class, key, value, allowed))
}

/// `base_momentum` and `max_momentum` of a class that cycles momentum, checked only when
/// it does (PyTorch reads them only then).
pub(crate) fn check_momenta(
    class: &str,
    cycle: bool,
    (base, max): (&PerGroup, &PerGroup),
    groups: usize,
) -> Result<(), ScheduleError> {
    if cycle {
        base.check(class, "base_momentum", groups, check::non_negative)?;
        max.check(class, "max_momentum", groups, check::non_negative)?;
    }
    Ok(())
}

/// One `torch.optim.lr_scheduler` class with its keyword arguments.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum TorchClass {
    LambdaLR(LambdaLR),
    MultiplicativeLR(MultiplicativeLR),
    StepLR(StepLR),
    MultiStepLR(MultiStepLR),
    ConstantLR(ConstantLR),
    LinearLR(LinearLR),
    ExponentialLR(ExponentialLR),
    PolynomialLR(PolynomialLR),
    CosineAnnealingLR(CosineAnnealingLR),
    CosineAnnealingWarmRestarts(CosineAnnealingWarmRestarts),
    CyclicLR(CyclicLR),
    OneCycleLR(OneCycleLR),
    SequentialLR(SequentialLR),
    ChainedScheduler(ChainedScheduler),
    ReduceLROnPlateau(ReduceLROnPlateau),
}

impl TorchClass {
    /// The PyTorch class name.
    pub fn name(&self) -> &'static str {
        match self {
            TorchClass::LambdaLR(_) => "LambdaLR",
            TorchClass::MultiplicativeLR(_) => "MultiplicativeLR",
            TorchClass::StepLR(_) => "StepLR",
            TorchClass::MultiStepLR(_) => "MultiStepLR",
            TorchClass::ConstantLR(_) => "ConstantLR",
            TorchClass::LinearLR(_) => "LinearLR",
            TorchClass::ExponentialLR(_) => "ExponentialLR",
            TorchClass::PolynomialLR(_) => "PolynomialLR",
            TorchClass::CosineAnnealingLR(_) => "CosineAnnealingLR",
            TorchClass::CosineAnnealingWarmRestarts(_) => "CosineAnnealingWarmRestarts",
            TorchClass::CyclicLR(_) => "CyclicLR",
            TorchClass::OneCycleLR(_) => "OneCycleLR",
            TorchClass::SequentialLR(_) => "SequentialLR",
            TorchClass::ChainedScheduler(_) => "ChainedScheduler",
            TorchClass::ReduceLROnPlateau(_) => "ReduceLROnPlateau",
        }
    }

    fn is_composite(&self) -> bool {
        matches!(
            self,
            TorchClass::SequentialLR(_) | TorchClass::ChainedScheduler(_)
        )
    }

    /// Whether the class writes the optimizer's momentum.
    fn cycles_momentum(&self) -> bool {
        match self {
            TorchClass::CyclicLR(c) => c.cycle_momentum,
            TorchClass::OneCycleLR(c) => c.cycle_momentum,
            TorchClass::SequentialLR(c) => c.schedulers.iter().any(|s| s.class.cycles_momentum()),
            TorchClass::ChainedScheduler(c) => {
                c.schedulers.iter().any(|s| s.class.cycles_momentum())
            }
            _ => false,
        }
    }

    fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        match self {
            TorchClass::LambdaLR(c) => c.check(groups),
            TorchClass::MultiplicativeLR(c) => c.check(groups),
            TorchClass::StepLR(c) => c.check(),
            TorchClass::MultiStepLR(c) => c.check(),
            TorchClass::ConstantLR(c) => c.check(),
            TorchClass::LinearLR(c) => c.check(),
            TorchClass::ExponentialLR(c) => c.check(),
            TorchClass::PolynomialLR(c) => c.check(),
            TorchClass::CosineAnnealingLR(c) => c.check(),
            TorchClass::CosineAnnealingWarmRestarts(c) => c.check(),
            TorchClass::CyclicLR(c) => c.check(groups),
            TorchClass::OneCycleLR(c) => c.check(groups),
            TorchClass::SequentialLR(c) => c.check(groups),
            TorchClass::ChainedScheduler(c) => c.check(groups),
            TorchClass::ReduceLROnPlateau(c) => c.check(groups),
        }
    }

    fn len(&self) -> Option<u64> {
        match self {
            TorchClass::ConstantLR(c) => Some(c.total_iters),
            TorchClass::LinearLR(c) => Some(c.total_iters),
            TorchClass::PolynomialLR(c) => Some(c.total_iters),
            TorchClass::CosineAnnealingLR(c) => Some(c.t_max),
            TorchClass::OneCycleLR(c) => Some(c.steps()),
            _ => None,
        }
    }
}

/// A `torch.optim.lr_scheduler` class applied to an SGD optimizer, reproduced exactly.
///
/// [`Schedule::value`] is group 0's lr after `step` calls of `scheduler.step()`, replayed
/// with a [`TorchSimulator`]; [`Schedule::values`] and [`Schedule::momenta`] replay once
/// for a whole range.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use lrsched::{config, Schedule};
/// let s = config::from_value(serde_json::json!({
///     "type": "SequentialLR", "lr": 1.0, "milestones": [2],
///     "schedulers": [
///         {"type": "ConstantLR", "factor": 0.5, "total_iters": 2},
///         {"type": "ExponentialLR", "gamma": 0.5},
///     ],
/// })).unwrap();
/// assert_eq!(s.values(0..5), vec![0.5, 0.5, 1.0, 0.5, 0.25]);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TorchSchedule {
    /// The optimizer's learning rate per param group (empty in a sub-scheduler config
    /// of `SequentialLR`/`ChainedScheduler`, which uses the outer one).
    pub lr: Vec<f64>,
    /// The optimizer's initial momentum (SGD's `momentum`), if the config gives one.
    pub momentum: Option<PerGroup>,
    /// The class and its keyword arguments.
    pub class: TorchClass,
    /// The metrics observed and the replay cache, boxed: most schedules have neither,
    /// and `AnySchedule` holds this struct inline.
    run: Box<Run>,
}

/// What a [`TorchSchedule`] gathers while it is used.
#[derive(Debug, Clone, Default)]
struct Run {
    /// Metrics fed to `ReduceLROnPlateau`, in order.
    metrics: Vec<f64>,
    /// The step each metric was measured at (increasing): it is in force from the next.
    metric_steps: Vec<u64>,
    /// Where the last replay stopped, so the next step costs one step (a cache: not
    /// compared, see [`cursor`]).
    cache: cursor::CursorCache,
}

/// Metrics compare by their bits, so that a schedule that has seen a NaN metric equals
/// itself (and its restored copy).
impl PartialEq for TorchSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.lr == other.lr
            && self.momentum == other.momentum
            && self.class == other.class
            && self.run.metrics.len() == other.run.metrics.len()
            && self.run.metric_steps == other.run.metric_steps
            && self
                .run
                .metrics
                .iter()
                .zip(&other.run.metrics)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl TorchSchedule {
    /// A schedule of `class` on an optimizer with one param group at learning rate `lr`.
    ///
    /// ```
    /// use lrsched::torch::{StepLR, TorchClass, TorchSchedule};
    /// use lrsched::Schedule;
    /// let s = TorchSchedule::new(vec![0.1], TorchClass::StepLR(StepLR::new(2)));
    /// assert_eq!(s.values(0..4), vec![0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]);
    /// ```
    pub fn new(lr: Vec<f64>, class: TorchClass) -> Self {
        TorchSchedule {
            lr,
            momentum: None,
            class,
            run: Box::default(),
        }
    }

    /// Sets the optimizer's initial momentum.
    pub fn with_momentum(mut self, momentum: PerGroup) -> Self {
        self.momentum = Some(momentum);
        self
    }

    /// The class name.
    pub fn class_name(&self) -> &'static str {
        self.class.name()
    }

    /// The metrics observed so far (only `ReduceLROnPlateau` keeps them).
    pub fn metrics(&self) -> &[f64] {
        &self.run.metrics
    }

    /// The step each of [`TorchSchedule::metrics`] was measured at.
    pub fn metric_steps(&self) -> &[u64] {
        &self.run.metric_steps
    }

    /// Number of param groups.
    pub fn groups(&self) -> usize {
        self.lr.len().max(1)
    }

    /// Whether [`Schedule::momentum`] reports a momentum.
    pub fn tracks_momentum(&self) -> bool {
        self.momentum.is_some() || self.class.cycles_momentum()
    }

    fn check_top(&self, nested: bool) -> Result<(), ScheduleError> {
        let name = self.class_name();
        // PyTorch nests SequentialLR and ChainedScheduler in each other, but refuses a
        // ReduceLROnPlateau in either (its step needs a metric).
        if nested && matches!(self.class, TorchClass::ReduceLROnPlateau(_)) {
            return Err(ScheduleError::invalid(
                name,
                "type",
                name,
                "a scheduler other than ReduceLROnPlateau inside `schedulers` (PyTorch's SequentialLR and ChainedScheduler refuse it: its step needs a metric)",
            ));
        }
        if !nested {
            if self.lr.is_empty() {
                return Err(ScheduleError::MissingKey {
                    schedule: name.into(),
                    key: "lr".into(),
                });
            }
            for &lr in &self.lr {
                check::non_negative(name, "lr", lr)?;
            }
            if let Some(m) = &self.momentum {
                m.check(name, "momentum", self.groups(), check::non_negative)?;
            }
        }
        self.class.check(self.groups())
    }

    /// The largest `|v|` among the numbers a value is computed from: a negative value no
    /// larger than [`ROUNDING_SLACK`] times this is rounding, not a schedule going below 0.
    fn scale(&self) -> f64 {
        fn class_scale(c: &TorchClass) -> f64 {
            let most = |p: &PerGroup| p.values().iter().fold(0.0f64, |a, v| a.max(v.abs()));
            match c {
                TorchClass::CosineAnnealingLR(c) => c.eta_min.abs(),
                TorchClass::CosineAnnealingWarmRestarts(c) => c.eta_min.abs(),
                TorchClass::CyclicLR(c) => most(&c.base_lr).max(most(&c.max_lr)),
                TorchClass::OneCycleLR(c) => most(&c.max_lr),
                TorchClass::ReduceLROnPlateau(c) => most(&c.min_lr),
                TorchClass::SequentialLR(c) => c
                    .schedulers
                    .iter()
                    .fold(0.0, |a, s| a.max(class_scale(&s.class))),
                TorchClass::ChainedScheduler(c) => c
                    .schedulers
                    .iter()
                    .fold(0.0, |a, s| a.max(class_scale(&s.class))),
                _ => 0.0,
            }
        }
        self.lr
            .iter()
            .fold(class_scale(&self.class), |a, v| a.max(v.abs()))
    }

    /// Whether a `OneCycleLR` is in the tree: the one class that goes below 0 itself.
    fn has_one_cycle(&self) -> bool {
        match &self.class {
            TorchClass::OneCycleLR(_) => true,
            TorchClass::SequentialLR(c) => c.schedulers.iter().any(|s| s.has_one_cycle()),
            TorchClass::ChainedScheduler(c) => c.schedulers.iter().any(|s| s.has_one_cycle()),
            _ => false,
        }
    }

    /// `v`, with a negative that is rounding (see the module docs) raised to 0; `slack`
    /// the largest such negative's size.
    fn clamp(&self, v: f64, slack: f64) -> f64 {
        if v < 0.0 && -v <= slack {
            0.0
        } else {
            v
        }
    }

    /// The lr and momentum at `step`, from the shared cursor.
    fn at(&self, step: u64) -> (f64, Option<f64>) {
        self.run.cache.with(self, |c| c.at(self, step))
    }

    /// The lrs and momenta of a range, walked once by the shared cursor.
    fn range(&self, start: u64, count: u64) -> (Vec<f64>, Vec<Option<f64>>) {
        self.run.cache.with(self, |c| {
            (0..count)
                .map(|i| c.at(self, start.saturating_add(i)))
                .unzip()
        })
    }
}

#[cfg(feature = "serde")]
mod parse;

impl Schedule for TorchSchedule {
    fn value(&self, step: u64) -> f64 {
        self.at(step).0
    }

    fn validate(&self) -> Result<(), ScheduleError> {
        self.check_top(false)
    }

    fn len(&self) -> Option<u64> {
        self.class.len()
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        if !self.tracks_momentum() {
            return None;
        }
        self.at(step).1
    }

    fn values(&self, steps: std::ops::Range<u64>) -> Vec<f64> {
        let n = steps.end.saturating_sub(steps.start);
        self.range(steps.start, n).0
    }

    fn momenta(&self, steps: std::ops::Range<u64>) -> Vec<Option<f64>> {
        if !self.tracks_momentum() {
            return steps.map(|_| None).collect();
        }
        let n = steps.end.saturating_sub(steps.start);
        self.range(steps.start, n).1
    }

    fn observe(&mut self, step: u64, metric: f64) -> Result<(), ScheduleError> {
        if !matches!(self.class, TorchClass::ReduceLROnPlateau(_)) {
            return Ok(());
        }
        // Observing a step again (or an earlier one) rewrites history from there: a
        // resumed run. Any number of steps may pass between metrics (one per epoch on a
        // per-step schedule): PyTorch's plateau counts the calls, not the steps.
        let keep = self.run.metric_steps.partition_point(|&s| s < step);
        self.run.metrics.truncate(keep);
        self.run.metric_steps.truncate(keep);
        self.run.metrics.push(metric);
        self.run.metric_steps.push(step);
        self.run.cache.forget_stale(keep, step);
        Ok(())
    }

    fn needs_metric(&self) -> bool {
        matches!(self.class, TorchClass::ReduceLROnPlateau(_))
    }

    #[cfg(feature = "serde")]
    fn save_state(&self, out: &mut Vec<serde_json::Value>) {
        if self.needs_metric() {
            // JSON has no NaN or infinity (serde_json writes them as null): name them.
            let metrics: Vec<serde_json::Value> = self
                .run
                .metrics
                .iter()
                .map(|&m| match m {
                    m if m.is_finite() => serde_json::json!(m),
                    m if m.is_nan() => serde_json::json!("NaN"),
                    m if m > 0.0 => serde_json::json!("inf"),
                    _ => serde_json::json!("-inf"),
                })
                .collect();
            // A metric every step (the steps 0, 1, 2, ...) needs no steps: the format
            // states had before metrics could skip steps.
            let dense = self
                .run
                .metric_steps
                .iter()
                .enumerate()
                .all(|(i, &s)| s == i as u64);
            if dense {
                out.push(serde_json::json!({ "metrics": metrics }));
            } else {
                out.push(serde_json::json!({ "metrics": metrics, "steps": self.run.metric_steps }));
            }
        }
    }

    #[cfg(feature = "serde")]
    fn load_state(
        &mut self,
        saved: &mut dyn Iterator<Item = serde_json::Value>,
    ) -> Result<(), ScheduleError> {
        if !self.needs_metric() {
            return Ok(());
        }
        let bad = |message: String| ScheduleError::Invalid {
            path: "ReduceLROnPlateau".into(),
            message,
        };
        let v = saved
            .next()
            .ok_or_else(|| bad("saved state has no entry for ReduceLROnPlateau".into()))?;
        // Numbers, the names save_state gives non-finite metrics, and null (what older
        // states hold for a NaN).
        let metric = |m: &serde_json::Value| match m {
            serde_json::Value::Null => Some(f64::NAN),
            serde_json::Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "nan" => Some(f64::NAN),
                "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
                "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                _ => None,
            },
            m => m.as_f64(),
        };
        let metrics = v
            .get("metrics")
            .and_then(|m| m.as_array())
            .and_then(|ms| ms.iter().map(metric).collect::<Option<Vec<f64>>>())
            .ok_or_else(|| {
                bad(format!(
                    "saved state {v} is not {{\"metrics\": [numbers, \"NaN\", \"inf\" or \"-inf\"]}}"
                ))
            })?;
        let steps = match v.get("steps") {
            None => (0..metrics.len() as u64).collect(),
            Some(steps) => steps
                .as_array()
                .and_then(|a| a.iter().map(|s| s.as_u64()).collect::<Option<Vec<u64>>>())
                .filter(|a| a.len() == metrics.len() && a.windows(2).all(|w| w[0] < w[1]))
                .ok_or_else(|| {
                    bad(format!(
                        "saved steps {steps} are not {} increasing steps, one per metric",
                        metrics.len()
                    ))
                })?,
        };
        self.run.metrics = metrics;
        self.run.metric_steps = steps;
        self.run.cache.clear();
        Ok(())
    }
}

/// The keys a class takes in a config, besides `type` (and `lr`/`momentum` at the top).
pub fn class_keys(name: &str) -> &'static [&'static str] {
    match name {
        "LambdaLR" | "MultiplicativeLR" => &["lr_lambda"],
        "StepLR" => &["step_size", "gamma"],
        "MultiStepLR" => &["milestones", "gamma"],
        "ConstantLR" => &["factor", "total_iters"],
        "LinearLR" => &["start_factor", "end_factor", "total_iters"],
        "ExponentialLR" => &["gamma"],
        "PolynomialLR" => &["total_iters", "power"],
        "CosineAnnealingLR" => &["T_max", "eta_min"],
        "CosineAnnealingWarmRestarts" => &["T_0", "T_mult", "eta_min"],
        "CyclicLR" => &[
            "base_lr",
            "max_lr",
            "step_size_up",
            "step_size_down",
            "mode",
            "gamma",
            "scale_fn",
            "scale_mode",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
        ],
        "OneCycleLR" => &[
            "max_lr",
            "total_steps",
            "epochs",
            "steps_per_epoch",
            "pct_start",
            "anneal_strategy",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
            "div_factor",
            "final_div_factor",
            "three_phase",
        ],
        "SequentialLR" => &["schedulers", "milestones"],
        "ChainedScheduler" => &["schedulers"],
        "ReduceLROnPlateau" => &[
            "mode",
            "factor",
            "patience",
            "threshold",
            "threshold_mode",
            "cooldown",
            "min_lr",
            "eps",
        ],
        _ => &[],
    }
}

/// An [`ScheduleError::UnknownKey`] for `key` in a config of `class`.
#[cfg(feature = "serde")]
pub(crate) fn unknown_key(class: &str, key: &str, nested: bool) -> ScheduleError {
    let mut allowed: Vec<String> = Vec::new();
    if !nested {
        allowed.push("lr".into());
        allowed.push("momentum".into());
    }
    allowed.extend(class_keys(class).iter().map(|k| k.to_string()));
    ScheduleError::UnknownKey {
        schedule: class.to_string(),
        key: key.to_string(),
        suggestion: suggest(key, allowed.iter().map(String::as_str)),
        allowed,
    }
}

/// Python's `bisect.bisect_right` on a sorted list: a binary search, as Python's is (a
/// `SequentialLR` asks at every step, and a scan made its replay quadratic in its
/// schedulers). On an unsorted (invalid) list it still returns an index `<= xs.len()`.
pub(crate) fn bisect_right(xs: &[u64], x: i64) -> usize {
    xs.partition_point(|&m| (m as i128) <= x as i128)
}

#[cfg(all(test, feature = "serde"))]
mod cursor_tests;
#[cfg(all(test, feature = "serde"))]
mod far_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(class: TorchClass) -> TorchSchedule {
        TorchSchedule::new(vec![1.0], class)
    }

    #[test]
    fn step_lr_multiplies_the_running_lr() {
        let s = leaf(TorchClass::StepLR(StepLR::new(3).with_gamma(0.1)));
        let v = s.values(0..10);
        assert_eq!(v[0], 1.0);
        assert_eq!(v[3], 0.1);
        assert_eq!(v[6], 0.1 * 0.1);
        assert_eq!(v[9], 0.1 * 0.1 * 0.1);
        assert_eq!(s.value(9), v[9]);
    }

    #[test]
    fn repeated_multistep_milestones_apply_gamma_squared() {
        let s = leaf(TorchClass::MultiStepLR(
            MultiStepLR::new(vec![2, 2, 4]).with_gamma(0.5),
        ));
        assert_eq!(s.values(0..6), vec![1.0, 1.0, 0.25, 0.25, 0.125, 0.125]);
    }

    #[test]
    fn multistep_milestones_in_any_order_replay_as_sorted() {
        // The replay sorts its own copy once; the config keeps the order it was given.
        let given = MultiStepLR::new(vec![9, 2, 40, 2, 4]).with_gamma(0.5);
        let sorted = MultiStepLR::new(vec![2, 2, 4, 9, 40]).with_gamma(0.5);
        let a = leaf(TorchClass::MultiStepLR(given.clone()));
        let b = leaf(TorchClass::MultiStepLR(sorted));
        assert_eq!(a.values(0..60), b.values(0..60));
        assert_eq!(a.value(1 << 40), b.value(1 << 40));
        assert_eq!(a.class, TorchClass::MultiStepLR(given));
        // Inside a SequentialLR (restarted at its milestone: the closed form at 0).
        let seq = |m: MultiStepLR| {
            leaf(TorchClass::SequentialLR(SequentialLR::new(
                vec![
                    TorchSchedule::new(vec![], TorchClass::StepLR(StepLR::new(3))),
                    TorchSchedule::new(vec![], TorchClass::MultiStepLR(m)),
                ],
                vec![5],
            )))
        };
        let a = seq(MultiStepLR::new(vec![7, 1, 3]).with_gamma(0.5));
        let b = seq(MultiStepLR::new(vec![1, 3, 7]).with_gamma(0.5));
        assert_eq!(a.values(0..30), b.values(0..30));
    }

    #[test]
    fn plateau_needs_and_uses_metrics() {
        let mut s = leaf(TorchClass::ReduceLROnPlateau(
            ReduceLROnPlateau::default().with_patience(0),
        ));
        assert!(s.needs_metric());
        s.observe(0, 1.0).unwrap();
        s.observe(1, 2.0).unwrap();
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(1), 1.0);
        assert!((s.value(2) - 0.1).abs() < 1e-15);
        assert_eq!(s.value(50), s.value(2));
        // Steps may pass between metrics (one per epoch on a per-step schedule): each
        // is in force from the step after the one it was measured at.
        s.observe(5, 2.0).unwrap();
        assert_eq!(s.value(5), s.value(2));
        assert!((s.value(6) - 0.01).abs() < 1e-15);
        assert_eq!(s.metric_steps(), &[0, 1, 5]);
        // Observing an earlier step again rewrites the history from there.
        s.observe(1, 0.5).unwrap();
        assert_eq!(s.metric_steps(), &[0, 1]);
        assert_eq!(s.value(6), 1.0);
    }

    #[test]
    fn momentum_is_reported_only_when_tracked() {
        let s = leaf(TorchClass::StepLR(StepLR::new(3)));
        assert_eq!(s.momentum(0), None);
        let s = s.with_momentum(PerGroup::One(0.9));
        assert_eq!(s.momentum(5), Some(0.9));
    }

    #[test]
    fn invalid_values_never_panic() {
        let s = leaf(TorchClass::StepLR(StepLR::new(0)));
        assert!(s.validate().is_err());
        let _ = s.values(0..5);
        let s = TorchSchedule::new(
            vec![],
            TorchClass::CosineAnnealingLR(CosineAnnealingLR::new(0)),
        );
        assert!(s.validate().is_err());
        let _ = s.values(0..5);
    }
}
