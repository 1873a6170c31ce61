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
//! Every fallible method returns `candle_core::Result`, so `?` works in candle code as it
//! is (a [`ScheduleError`] travels inside `candle_core::Error`, its message unchanged).
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
//! nothing to a per-step schedule, so one loop serves both); [`Scheduled::from_driver`]
//! with [`Driver::with_interval`] chooses explicitly.
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

// A schedule's refusal as candle's error, its message unchanged.
fn candle_error(e: ScheduleError) -> candle_core::Error {
    candle_core::Error::wrap(e)
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
}

impl<O: Optimizer + 'static> Scheduled<O> {
    /// Drives `optimizer` from `schedule` (a schedule, or a [`Config`] read with its
    /// `interval`), stepped at the interval of lrsched's rule (see [the crate
    /// docs](crate#per-step-or-per-epoch)); the optimizer's rate is set to the schedule's
    /// value at step 0, and AdamW's beta1 to its momentum if it carries one.
    ///
    /// Fails (naming the parameter) if the schedule is invalid.
    pub fn new(optimizer: O, schedule: impl Into<Config>) -> candle_core::Result<Self> {
        Self::from_driver(optimizer, schedule.into().driver())
    }

    /// Drives `optimizer` from a [`Driver`], for an interval of your choice, a separate
    /// momentum schedule or a driver restored from a checkpoint. Only the first parameter
    /// group's scale applies: a candle optimizer has one rate.
    ///
    /// Fails (naming the parameter) if the driver is invalid.
    pub fn from_driver(optimizer: O, driver: Driver) -> candle_core::Result<Self> {
        driver.validate().map_err(candle_error)?;
        let mut s = Scheduled {
            optimizer,
            driver,
            set_momentum: set_adamw_beta1::<O>,
            noted_nonpositive: false,
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
    pub fn end_epoch(&mut self) -> candle_core::Result<()> {
        self.driver.end_epoch().map_err(candle_error)?;
        self.apply();
        Ok(())
    }

    /// Feeds the epoch's validation metric to a metric-driven schedule, then ends the epoch
    /// (PyTorch's `scheduler.step(val_loss)` for a per-epoch schedule); with a per-step
    /// schedule the metric is in force from the next optimizer step
    /// ([`Driver::end_epoch_with_metric`]).
    pub fn end_epoch_with_metric(&mut self, metric: f64) -> candle_core::Result<()> {
        let result = self.driver.end_epoch_with_metric(metric);
        self.apply();
        result.map_err(candle_error)
    }

    /// Feeds a metric to a metric-driven schedule (others ignore it). It counts as measured
    /// after the last optimizer step taken (per-step schedules) or in the current epoch
    /// (per-epoch schedules), and changes the rate from the next step or epoch on, as
    /// `lrsched trace --metrics` does.
    ///
    /// Fails on a metric the schedule refuses; the schedule is then unchanged.
    pub fn observe(&mut self, metric: f64) -> candle_core::Result<()> {
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
        result.map_err(candle_error)
    }

    /// The state to save with a checkpoint (needs nothing from the optimizer, whose own
    /// state candle does not serialize).
    pub fn state(&self) -> DriverState {
        self.driver.state()
    }

    /// Continues from a saved state; refuses, naming every difference, a state saved from
    /// another schedule, and then leaves this one as it was.
    pub fn restore(&mut self, state: &DriverState) -> candle_core::Result<()> {
        self.driver = self.driver.clone().restore(state).map_err(candle_error)?;
        self.apply();
        Ok(())
    }

    // Sets the rate (and momentum, if driven) of the current step on the optimizer.
    //
    // A schedule may give a zero or negative rate on purpose (optax computes negative
    // ones); candle applies it as given, so the first such step is said on stderr, once:
    // zero leaves the weights where they are, negative climbs the loss.
    fn apply(&mut self) {
        let lr = self.driver.lr();
        if lr <= 0.0 && !self.noted_nonpositive {
            self.noted_nonpositive = true;
            eprintln!(
                "note: the schedule gives lr = {lr} at step {} (applied as given: {})",
                self.driver.current_step(),
                if lr == 0.0 {
                    "the weights do not move"
                } else {
                    "the optimizer climbs the loss"
                }
            );
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
        Scheduled::from_driver(O::new(vars, config)?, driver)
    }

    /// Takes an optimizer step at the scheduled rate, then advances a per-step schedule.
    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        self.optimizer.step(grads)?;
        if self.driver.interval() == Interval::Step {
            self.driver.step();
            self.apply();
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
