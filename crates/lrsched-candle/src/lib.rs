//! lrsched schedules driving [candle](https://github.com/huggingface/candle) optimizers.
//!
//! candle ships no learning-rate scheduler: its [`Optimizer`] trait has only
//! `learning_rate` / `set_learning_rate`. [`Scheduled`] wraps any candle optimizer and sets
//! the rate (and, for optimizers that implement [`Momentum`], the momentum or Adam's beta1)
//! from an lrsched schedule before every step. It implements [`Optimizer`] itself, so a
//! training loop written for candle changes in one line:
//!
//! ```
//! use candle_core::{DType, Device, Tensor, Var};
//! use candle_nn::{Optimizer, SGD};
//! use lrsched::{Cosine, Schedule, Warmup};
//! use lrsched_candle::Scheduled;
//!
//! # fn main() -> candle_core::Result<()> {
//! let w = Var::zeros(2, DType::F64, &Device::Cpu)?;
//! let schedule = Warmup::linear(2, Cosine::new(0.1, 8));
//! // Before: let mut opt = SGD::new(vec![w.clone()], 0.1)?;
//! let mut opt = Scheduled::new(SGD::new(vec![w.clone()], 0.1)?, schedule.clone())?;
//! for step in 0..10 {
//!     assert_eq!(opt.learning_rate(), schedule.value(step)); // the rate this step uses
//!     let loss = w.as_tensor().sub(&Tensor::new(&[1.0, 2.0], &Device::Cpu)?)?.sqr()?.sum_all()?;
//!     opt.backward_step(&loss)?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What the wrapper refuses is lrsched's [`ScheduleError`], in this crate's [`Error`]: match
//! on it (`Err(lrsched_candle::Error(ScheduleError::StateMismatch { .. }))`), or let `?`
//! turn it into `candle_core::Error` (its message unchanged), so candle code that returns
//! `candle_core::Result` uses `?` as it is.
//!
//! Rates follow the schedule exactly: the rate of optimizer step `i` (the first is 0) is
//! `schedule.value(i)`, which is what `lrsched trace` prints. Metric-driven (plateau)
//! schedules take validation metrics through [`Scheduled::observe`] or
//! [`Scheduled::end_epoch_with_metric`].
//!
//! # Per step or per epoch
//!
//! The interval follows lrsched's one rule ([`lrsched::config::default_interval`]), the same
//! as `lrsched train` and `lrsched trace`: a config's `interval` key when it has one
//! (pass the [`Config`](lrsched::config::Config) of `lrsched::config::load_json_str`);
//! otherwise per epoch for a pasted PyTorch class (`StepLR`, `ReduceLROnPlateau`, ...) except
//! `OneCycleLR` and `CyclicLR`, and per optimizer step for everything else. A per-epoch
//! schedule advances at [`Scheduled::end_epoch`], so call it after every epoch (it does
//! nothing to a per-step schedule, so one loop serves both); [`Scheduled::per_step`] and
//! [`Scheduled::per_epoch`] (or [`Scheduled::from_driver`] with [`Driver::with_interval`])
//! say the interval at construction instead.
//!
//! A per-epoch schedule that the rule chose ([`Scheduled::new`], [`Scheduled::from_config`])
//! and that has run [`STEPS_WITHOUT_EPOCH_END`] optimizer steps without an `end_epoch` is
//! almost surely a per-step loop that never ends an epoch, where its rate would stay at
//! its first value forever: the wrapper says so once, as a `log::warn!` (and in
//! [`Scheduled::notes`]), naming the two fixes.
//!
//! ```
//! use candle_nn::{Optimizer, SGD};
//! use lrsched::{config, Interval};
//! use lrsched_candle::Scheduled;
//! # fn main() -> candle_core::Result<()> {
//! let text = r#"{"type": "StepLR", "lr": 0.1, "step_size": 2}"#;
//! let steplr = config::from_json_str(text).map_err(candle_core::Error::wrap)?;
//! let mut opt = Scheduled::new(SGD::new(vec![], 0.1)?, steplr)?;
//! assert_eq!(opt.driver().interval(), Interval::Epoch);
//! for _epoch in 0..2 {
//!     // ... opt.backward_step(&loss)? for every batch: the rate stays 0.1 ...
//!     opt.end_epoch();
//! }
//! assert!((opt.learning_rate() - 0.01).abs() < 1e-15);
//! # Ok(())
//! # }
//! ```
//!
//! # Pasted configs
//!
//! [`Scheduled::from_config`] reads a config value; a pasted PyTorch class that leaves out
//! `lr` takes the optimizer's rate, as PyTorch's scheduler takes it from the optimizer:
//!
//! ```
//! use candle_nn::{Optimizer, SGD};
//! use lrsched_candle::Scheduled;
//! # fn main() -> candle_core::Result<()> {
//! let pasted = serde_json::json!({"type": "StepLR", "step_size": 2, "gamma": 0.5});
//! let mut opt = Scheduled::from_config(SGD::new(vec![], 0.05)?, pasted)?;
//! assert_eq!(opt.learning_rate(), 0.05);
//! opt.end_epoch()?;
//! opt.end_epoch()?;
//! assert_eq!(opt.learning_rate(), 0.025);
//! # Ok(())
//! # }
//! ```
//!
//! # Momentum
//!
//! When the schedule carries a momentum (PyTorch's `OneCycleLR`, and `CyclicLR` with
//! `cycle_momentum`, by default; a native `one_cycle` or `cyclic` given one; a
//! [`Driver::with_momentum`] schedule), [`AdamW`]'s beta1 follows it, as PyTorch cycles
//! Adam's `betas[0]`; a schedule without one leaves beta1 as it is (`OneCycleLR` with
//! `cycle_momentum: false` too). candle's [`SGD`](candle_nn::SGD) has no momentum, so a
//! momentum schedule is ignored for it. For an optimizer of your own, implement
//! [`Momentum`] and call [`Scheduled::with_momentum`].
#![deny(missing_docs)]

use std::any::Any;

use candle_core::backprop::GradStore;
use candle_core::Var;
use candle_nn::{AdamW, Optimizer};
use lrsched::config::Config;
use lrsched::{Driver, DriverState, Interval, ScheduleError};

/// The README's code blocks, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Optimizer steps a per-epoch schedule chosen by lrsched's rule may take without an
/// `end_epoch` before the wrapper notes, once, that its rate has not moved: more than an
/// epoch of any common data set (ImageNet at batch 256 has 5,005 steps), so a loop that
/// does end its epochs never sees it.
pub const STEPS_WITHOUT_EPOCH_END: u64 = 10_000;

/// What the wrapper refuses: lrsched's [`ScheduleError`] (a bad schedule, a state saved
/// from another config, a plateau without its metric), to match on. `?` turns it into
/// `candle_core::Error` with the same message and no backtrace appended (candle's own
/// `Error::wrap` appends one under `RUST_BACKTRACE=1`), and it is a `std::error::Error`
/// for `Box<dyn Error>` or `anyhow`.
///
/// ```
/// use candle_nn::{Optimizer, SGD};
/// use lrsched::{Cosine, ScheduleError};
/// use lrsched_candle::{Error, Scheduled};
/// let mut opt = Scheduled::new(SGD::new(vec![], 0.1).unwrap(), Cosine::new(0.1, 100)).unwrap();
/// let other = Scheduled::new(SGD::new(vec![], 0.1).unwrap(), Cosine::new(0.2, 100)).unwrap();
/// let Err(Error(ScheduleError::StateMismatch { differences })) = opt.restore(&other.state()) else {
///     panic!("a state of another config is refused");
/// };
/// assert_eq!(differences, ["schedule.lr: 0.2 -> 0.1"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub ScheduleError);

/// The result of the wrapper's own methods.
pub type Result<T> = std::result::Result<T, Error>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<ScheduleError> for Error {
    fn from(e: ScheduleError) -> Self {
        Error(e)
    }
}

/// Into candle's error, the message unchanged: `?` in code returning `candle_core::Result`.
/// Not `candle_core::Error::wrap`: it appends a backtrace to the message whenever
/// `RUST_BACKTRACE` is set, and a refused schedule is a message for the user, not a bug.
impl From<Error> for candle_core::Error {
    fn from(e: Error) -> Self {
        candle_core::Error::Wrapped(Box::new(e))
    }
}

// Sets AdamW's beta1; other optimizers have no momentum this crate knows of without
// `Momentum` (see `with_momentum`). Checked by type, since the generic wrapper cannot ask
// whether `O` implements a trait.
fn set_adamw_beta1<O: 'static>(optimizer: &mut O, momentum: f64) {
    if let Some(adamw) = (optimizer as &mut dyn Any).downcast_mut::<AdamW>() {
        adamw.set_momentum(momentum);
    }
}

/// An optimizer whose momentum (or Adam's beta1) can be set between steps.
///
/// ```
/// use candle_nn::{AdamW, Optimizer, ParamsAdamW};
/// use lrsched_candle::Momentum;
/// let mut opt = AdamW::new(vec![], ParamsAdamW::default()).unwrap();
/// opt.set_momentum(0.85);
/// assert_eq!(opt.momentum(), 0.85);
/// ```
pub trait Momentum {
    /// The momentum in force.
    fn momentum(&self) -> f64;
    /// Sets the momentum for the next steps.
    fn set_momentum(&mut self, momentum: f64);
}

/// AdamW's momentum is its first-moment decay beta1, as in PyTorch's one-cycle and cyclic
/// schedules (`cycle_momentum` with Adam cycles `betas[0]`).
impl Momentum for AdamW {
    fn momentum(&self) -> f64 {
        self.params().beta1
    }
    fn set_momentum(&mut self, momentum: f64) {
        let mut params = self.params().clone();
        params.beta1 = momentum;
        self.set_params(params);
    }
}

/// A candle optimizer whose learning rate (and optionally momentum) follows an lrsched
/// schedule.
///
/// The rate in force is always set on the wrapped optimizer, so
/// [`Optimizer::learning_rate`] reads the rate the next step will use. With
/// [`Interval::Step`] the schedule advances after every optimizer step; with
/// [`Interval::Epoch`] it advances at [`Scheduled::end_epoch`] (which interval applies:
/// [the crate docs](crate#per-step-or-per-epoch)).
///
/// ```
/// use candle_core::{DType, Device, Var};
/// use candle_nn::{AdamW, Optimizer, ParamsAdamW};
/// use lrsched::{Driver, Interval, Plateau};
/// use lrsched_candle::Scheduled;
///
/// # fn main() -> candle_core::Result<()> {
/// let w = Var::zeros(3, DType::F32, &Device::Cpu)?;
/// // ReduceLROnPlateau stepped per epoch: halve the rate after 1 epoch without improvement.
/// let driver = Driver::new(Plateau::new(1e-3).with_factor(0.5).with_patience(1))
///     .with_interval(Interval::Epoch);
/// let adamw = AdamW::new(vec![w.clone()], ParamsAdamW::default())?;
/// let mut opt = Scheduled::from_driver(adamw, driver)?;
/// for val_loss in [1.0, 0.9, 0.95, 0.97] {
///     // ... opt.backward_step(&loss)? for every batch of the epoch ...
///     opt.end_epoch_with_metric(val_loss)?;
/// }
/// assert_eq!(opt.learning_rate(), 5e-4);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Scheduled<O> {
    optimizer: O,
    driver: Driver,
    // How the momentum is set: AdamW's beta1 by default, an optimizer's `Momentum` after
    // `with_momentum`.
    set_momentum: fn(&mut O, f64),
    // Whether the first zero or negative rate has been reported (once per run).
    noted_nonpositive: bool,
    // Whether the interval was said at construction (`per_step`, `per_epoch`,
    // `from_driver`) rather than chosen by lrsched's rule.
    interval_said: bool,
    // Optimizer steps since the last `end_epoch` (or the start).
    since_epoch_end: u64,
    // What the wrapper has said through `log`.
    notes: Vec<String>,
}

impl<O: Optimizer + 'static> Scheduled<O> {
    /// Drives `optimizer` from `schedule` (a schedule, or a [`Config`] read with its
    /// `interval`), stepped at the interval of lrsched's rule (see [the crate
    /// docs](crate#per-step-or-per-epoch)); the optimizer's rate is set to the schedule's
    /// value at step 0, and AdamW's beta1 to its momentum if it carries one.
    ///
    /// Fails (naming the parameter) if the schedule is invalid.
    pub fn new(optimizer: O, schedule: impl Into<Config>) -> Result<Self> {
        Self::build(optimizer, schedule.into().driver(), false)
    }

    /// As [`Scheduled::new`], the schedule advancing after every optimizer step whatever
    /// its kind (a pasted per-epoch PyTorch class in a per-batch loop included).
    ///
    /// ```
    /// use candle_nn::{Optimizer, SGD};
    /// use lrsched::{config, Interval};
    /// use lrsched_candle::Scheduled;
    /// let s = config::from_json_str(r#"{"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 1000}"#).unwrap();
    /// let opt = Scheduled::per_step(SGD::new(vec![], 0.1).unwrap(), s).unwrap();
    /// assert_eq!(opt.driver().interval(), Interval::Step);
    /// ```
    pub fn per_step(optimizer: O, schedule: impl Into<Config>) -> Result<Self> {
        let driver = schedule.into().driver().with_interval(Interval::Step);
        Self::build(optimizer, driver, true)
    }

    /// As [`Scheduled::new`], the schedule advancing only at [`Scheduled::end_epoch`] (or
    /// [`Scheduled::end_epoch_with_metric`]), whatever its kind.
    pub fn per_epoch(optimizer: O, schedule: impl Into<Config>) -> Result<Self> {
        let driver = schedule.into().driver().with_interval(Interval::Epoch);
        Self::build(optimizer, driver, true)
    }

    /// Drives `optimizer` from a config value (native, or pasted from PyTorch,
    /// transformers, timm, optax or Keras), stepped at the interval of lrsched's rule. A
    /// pasted PyTorch class that leaves out `lr` takes the optimizer's rate, as PyTorch's
    /// scheduler takes it from the optimizer ([the crate docs](crate#pasted-configs)).
    ///
    /// Fails (naming the key) if the config is invalid.
    pub fn from_config(optimizer: O, mut config: serde_json::Value) -> Result<Self> {
        let torch_class = config
            .get("type")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|t| lrsched::torch::CLASS_NAMES.contains(&t));
        if let Some(map) = config.as_object_mut().filter(|_| torch_class) {
            if !map.contains_key("lr") {
                map.insert("lr".into(), optimizer.learning_rate().into());
            }
        }
        let config = lrsched::config::load_value(config, None)?;
        Self::build(optimizer, config.driver(), false)
    }

    /// Drives `optimizer` from a [`Driver`], for an interval of your choice, a separate
    /// momentum schedule or a driver restored from a checkpoint. Only the first parameter
    /// group's scale applies: a candle optimizer has one rate.
    ///
    /// Fails (naming the parameter) if the driver is invalid.
    pub fn from_driver(optimizer: O, driver: Driver) -> Result<Self> {
        Self::build(optimizer, driver, true)
    }

    fn build(optimizer: O, driver: Driver, interval_said: bool) -> Result<Self> {
        driver.validate()?;
        let mut s = Scheduled {
            optimizer,
            driver,
            set_momentum: set_adamw_beta1::<O>,
            noted_nonpositive: false,
            interval_said,
            since_epoch_end: 0,
            notes: Vec::new(),
        };
        s.apply();
        Ok(s)
    }
}

impl<O: Optimizer> Scheduled<O> {
    /// The wrapped optimizer.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The wrapped optimizer, mutably. A rate set on it lasts until the schedule next sets
    /// one (the next step, epoch or metric).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Unwraps the optimizer, with the rate of the current step set.
    pub fn into_inner(self) -> O {
        self.optimizer
    }

    /// The driver: the schedule, the step reached and the interval.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Steps (or epochs, with [`Interval::Epoch`]) taken so far.
    pub fn current_step(&self) -> u64 {
        self.driver.current_step()
    }

    /// Ends an epoch: advances a per-epoch schedule ([`Interval::Epoch`]) and sets the next
    /// rate. Does nothing for a per-step schedule, so one loop serves both.
    ///
    /// Fails on a metric-driven (plateau) schedule, which needs the epoch's metric: use
    /// [`Scheduled::end_epoch_with_metric`] ([`Driver::end_epoch`]).
    pub fn end_epoch(&mut self) -> Result<()> {
        self.driver.end_epoch()?;
        self.since_epoch_end = 0;
        self.apply();
        Ok(())
    }

    /// Feeds the epoch's validation metric to a metric-driven schedule, then ends the epoch
    /// (PyTorch's `scheduler.step(val_loss)` for a per-epoch schedule); with a per-step
    /// schedule the metric is in force from the next optimizer step
    /// ([`Driver::end_epoch_with_metric`]).
    pub fn end_epoch_with_metric(&mut self, metric: f64) -> Result<()> {
        let result = self.driver.end_epoch_with_metric(metric);
        self.since_epoch_end = 0;
        self.apply();
        Ok(result?)
    }

    /// Feeds a metric to a metric-driven schedule (others ignore it). It counts as measured
    /// after the last optimizer step taken (per-step schedules) or in the current epoch
    /// (per-epoch schedules), and changes the rate from the next step or epoch on, as
    /// `lrsched trace --metrics` does.
    ///
    /// Fails on a metric the schedule refuses; the schedule is then unchanged.
    pub fn observe(&mut self, metric: f64) -> Result<()> {
        let now = self.driver.current_step();
        // A per-step driver has already moved past the step the metric was measured after
        // (it advances right after each optimizer step), so the metric belongs to the step
        // before; before any step there is no earlier step to give it to.
        let measured_at = match self.driver.interval() {
            Interval::Step => now.saturating_sub(1),
            Interval::Epoch => now,
        };
        self.driver.seek(measured_at);
        let result = self.driver.observe(metric);
        self.driver.seek(now);
        self.apply();
        Ok(result?)
    }

    /// The state to save with a checkpoint (needs nothing from the optimizer, whose own
    /// state candle does not serialize).
    pub fn state(&self) -> DriverState {
        self.driver.state()
    }

    /// Continues from a saved state; refuses, naming every difference, a state saved from
    /// another schedule, and then leaves this one as it was.
    pub fn restore(&mut self, state: &DriverState) -> Result<()> {
        self.driver = self.driver.clone().restore(state)?;
        self.apply();
        Ok(())
    }

    /// What the wrapper has said (as `log::warn!`), in order: the first zero or negative rate, a
    /// per-epoch schedule never ended (see [the crate docs](crate#per-step-or-per-epoch)).
    /// Each is said once per run.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn note(&mut self, note: String) {
        log::warn!("{note}");
        self.notes.push(note);
    }

    // Counts an optimizer step of a per-epoch schedule the rule chose, and says once when
    // its epochs seem never to end.
    fn count_epochless_step(&mut self) {
        if self.interval_said || self.driver.interval() != Interval::Epoch {
            return;
        }
        self.since_epoch_end = self.since_epoch_end.saturating_add(1);
        if self.since_epoch_end == STEPS_WITHOUT_EPOCH_END {
            let name = self.driver.schedule().type_name();
            self.note(format!(
                "`{name}` steps per epoch (lrsched's rule for it) and {STEPS_WITHOUT_EPOCH_END} optimizer steps have passed without end_epoch(): its rate has not moved from {}; call opt.end_epoch() after every epoch, or build it with Scheduled::per_step to step it every batch",
                self.driver.lr()
            ));
        }
    }

    // Sets the rate (and momentum, if driven) of the current step on the optimizer.
    //
    // A schedule may give a zero or negative rate on purpose (optax computes negative
    // ones); candle applies it as given, so the first such step is said, once:
    // zero leaves the weights where they are, negative climbs the loss.
    fn apply(&mut self) {
        let lr = self.driver.lr();
        if lr <= 0.0 && !self.noted_nonpositive {
            self.noted_nonpositive = true;
            self.note(format!(
                "the schedule gives lr = {lr} at step {} (applied as given: {})",
                self.driver.current_step(),
                if lr == 0.0 {
                    "the weights do not move"
                } else {
                    "the optimizer climbs the loss"
                }
            ));
        }
        self.optimizer.set_learning_rate(lr);
        if let Some(m) = self.driver.momentum() {
            (self.set_momentum)(&mut self.optimizer, m);
        }
    }
}

impl<O: Optimizer + Momentum> Scheduled<O> {
    /// Drives the optimizer's momentum through its [`Momentum`] implementation, from the
    /// driver's momentum schedule or the rate schedule's own cycle (one-cycle, cyclic):
    /// for an optimizer of your own (AdamW's beta1 is driven without it). Schedules without
    /// a momentum leave the optimizer's as it is.
    ///
    /// ```
    /// use candle_nn::{AdamW, Optimizer, ParamsAdamW};
    /// use lrsched::OneCycle;
    /// use lrsched_candle::{Momentum, Scheduled};
    /// let adamw = AdamW::new(vec![], ParamsAdamW::default()).unwrap();
    /// let one_cycle = OneCycle::new(0.01, 100).with_momentum(Some((0.85, 0.95)));
    /// let opt = Scheduled::new(adamw, one_cycle).unwrap().with_momentum();
    /// assert_eq!(opt.optimizer().momentum(), 0.95);
    /// ```
    pub fn with_momentum(mut self) -> Self {
        self.set_momentum = <O as Momentum>::set_momentum;
        self.apply();
        self
    }
}

/// `Scheduled` is a candle optimizer itself, so code generic over [`Optimizer`] takes it.
/// (`O: 'static`, as every candle optimizer is: the wrapper recognises AdamW by its type to
/// drive beta1.)
impl<O: Optimizer + 'static> Optimizer for Scheduled<O> {
    /// The wrapped optimizer's config and the driver.
    type Config = (O::Config, Driver);

    fn new(vars: Vec<Var>, (config, driver): Self::Config) -> candle_core::Result<Self> {
        Ok(Scheduled::from_driver(O::new(vars, config)?, driver)?)
    }

    /// Takes an optimizer step at the scheduled rate, then advances a per-step schedule.
    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        self.optimizer.step(grads)?;
        if self.driver.interval() == Interval::Step {
            self.driver.step();
            self.apply();
        } else {
            self.count_epochless_step();
        }
        Ok(())
    }

    /// The rate the next step uses.
    fn learning_rate(&self) -> f64 {
        self.optimizer.learning_rate()
    }

    /// Overrides the rate until the schedule next sets one (the next step, epoch or metric).
    fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.set_learning_rate(lr)
    }
}
