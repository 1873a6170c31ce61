//! Learning-rate schedules as values.
//!
//! The main trait is [`Schedule`]: `value(step)` is a pure function of the step for every
//! family except the metric-driven [`Plateau`], whose value is a pure function of the step
//! *and the metrics it has observed*. So a run can be plotted, checked or resumed at any
//! step without replaying it. [`AnySchedule`] is the one value type that every family,
//! combinator and PyTorch-compatible config becomes; [`Driver`] is the thin stateful
//! wrapper a training loop steps.
//!
//! ```
//! use lrsched::{AnySchedule, Cosine, Schedule, Warmup};
//! // Linear warmup over 100 steps from 0 into a cosine decay from 0.1 to 0 over 1000 steps.
//! let s = Warmup::linear(100, Cosine::new(0.1, 1000));
//! assert_eq!(s.value(0), 0.0);
//! assert_eq!(s.value(100), 0.1);
//! assert_eq!(s.value(1100), 0.0);
//! ```
//!
//! With the `serde` feature, every schedule reads and writes as JSON (and TOML with the
//! `toml` feature) and as the compact one-line form described in [`oneline`].
#![deny(missing_docs)]

mod any;
pub mod catalog;
mod check;
#[cfg(feature = "serde")]
pub mod compat;
#[cfg(feature = "serde")]
pub mod convert;
mod error;
pub mod torch;

// What the folders hold (ARCHITECTURE.md): families/ one family a file, combinators/ one
// combinator a file, formats/ the readers and writers of configs, run/ the run-time side.
// The glob imports keep `crate::cosine`-style paths short inside the crate.
mod combinators;
mod families;
#[cfg(feature = "serde")]
mod formats;
mod run;
use combinators::*;
use families::*;
use run::after_end;

#[cfg(feature = "serde")]
pub use formats::{config, oneline, spec, spec::ScheduleSpec};
#[cfg(feature = "serde")]
pub use run::trial;
pub use run::{driver, time};

/// Whether `lr` is a rate an optimizer can step with: finite and > 0.
///
/// Schedules read from paste-in configs give the library's values, and some libraries
/// compute values <= 0 (optax's `piecewise_constant_schedule` with a negative
/// `init_value`, `warmup_cosine_decay_schedule` with a negative `end_value`, a cosine
/// ending at 0): `value`, [`Driver::lr`] and the tools that trace, plot or convert a
/// schedule return them as they are, never refusing or clamping them. Code that hands
/// a rate to an optimizer asks this at each step and says so where it is false.
///
/// ```
/// use lrsched::{is_usable_rate, Constant, Driver, Scale, Schedule};
/// // What optax.piecewise_constant_schedule(init_value=-0.1) reads into: a rate (`lr` is
/// // >= 0 in every family) scaled by -1.
/// let s = Scale::new(Constant::new(0.1), -1.0);
/// assert!(s.validate().is_ok());
/// let d = Driver::new(s.clone());
/// assert!(d.validate().is_ok());
/// assert_eq!(d.lr(), -0.1);
/// assert!(!is_usable_rate(s.value(0)));
/// assert!(!is_usable_rate(0.0) && !is_usable_rate(f64::NAN) && is_usable_rate(1e-3));
/// ```
pub fn is_usable_rate(lr: f64) -> bool {
    lr.is_finite() && lr > 0.0
}

/// `lr`, the rate `schedule` gives at step (or epoch) `at`, when it is a finite number;
/// otherwise an error naming the schedule, the step and the value.
///
/// Validation checks a schedule's parameters, not every one of its values: a PyTorch
/// `lr_lambda` such as `1 / (1000 - epoch)` or `exp(epoch)` is valid and still has no
/// finite rate at some epochs (where Python would raise, the value is NaN). Whatever
/// hands a rate to an optimizer, or prints one, checks each with this (or
/// [`Driver::try_lr`]) and stops there. Rates <= 0 are values, not errors (see
/// [`is_usable_rate`]).
///
/// ```
/// use lrsched::{check_rate, Interval};
/// assert_eq!(check_rate("cosine", Interval::Step, 7, 0.05), Ok(0.05));
/// assert_eq!(check_rate("optax.constant_schedule", Interval::Step, 0, -0.1), Ok(-0.1));
/// let e = check_rate("LambdaLR", Interval::Epoch, 1000, f64::NAN).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "`LambdaLR` gives a rate of NaN at epoch 1000: a rate must be a finite number (NaN: where Python would raise, e.g. a division by zero)"
/// );
/// ```
pub fn check_rate(
    schedule: &str,
    interval: Interval,
    at: u64,
    lr: f64,
) -> Result<f64, ScheduleError> {
    if lr.is_finite() {
        return Ok(lr);
    }
    let unit = match interval {
        Interval::Step => "step",
        Interval::Epoch => "epoch",
    };
    let why = if lr.is_nan() {
        " (NaN: where Python would raise, e.g. a division by zero)"
    } else {
        " (an overflow)"
    };
    Err(ScheduleError::Invalid {
        path: String::new(),
        message: format!(
            "`{schedule}` gives a rate of {} at {unit} {at}: a rate must be a finite number{why}",
            check::fmt(lr)
        ),
    })
}

pub use after_end::AfterEnd;
pub use any::{AnySchedule, NATIVE_TYPES};
pub use error::{quote, shorten, suggest, ScheduleError, MAX_MESSAGE, MAX_QUOTE};

pub use clamp::Clamp;
pub use constant::Constant;
pub use cosine::Cosine;
pub use cycles::Cycles;
pub use cyclic::{Cyclic, CyclicMode, CyclicScaleMode};
#[cfg(feature = "serde")]
pub use driver::DriverState;
pub use driver::{Driver, Interval};
pub use exponential::Exponential;
pub use inverse_sqrt::InverseSqrt;
pub use inverse_time::InverseTime;
pub use join::{Join, JoinTime};
pub use linear::Linear;
pub use multi_step::MultiStep;
pub use noam::Noam;
pub use noise::{splitmix64, Noise, NoiseKind};
pub use offset::Offset;
pub use one_cycle::{Anneal, OneCycle};
pub use plateau::{Plateau, PlateauMode, ThresholdMode};
pub use polynomial::Polynomial;
pub use product::Product;
pub use repeat::Repeat;
pub use rex::Rex;
pub use scale::Scale;
pub use step::StepDecay;
pub use stretch::Stretch;
pub use tanh::Tanh;
pub use warm_restarts::WarmRestarts;
pub use warmup::{Warmup, WarmupShape};
pub use wsd::{Cooldown, Wsd};

/// A learning-rate (or momentum, or weight-decay) schedule.
///
/// `value(step)` is the value in force for optimizer step `step` (the first step is 0).
/// It never panics, even on a schedule that failed [`Schedule::validate`]; validated
/// schedules give finite values.
///
/// ```
/// use lrsched::{Schedule, StepDecay};
/// let s = StepDecay::new(0.1, 30, 0.1);
/// assert_eq!(s.value(29), 0.1);
/// assert!((s.value(30) - 0.01).abs() < 1e-15);
/// ```
// `len` is a duration in steps, not a container size: an `is_empty` would mean nothing.
#[allow(clippy::len_without_is_empty)]
pub trait Schedule: std::fmt::Debug + Send + Sync {
    /// The value in force for optimizer step `step`.
    fn value(&self, step: u64) -> f64;

    /// Checks every parameter; the error names the key, the value and what is allowed.
    fn validate(&self) -> Result<(), ScheduleError>;

    /// The schedule's length in steps, if it has one: where its decay ends, where a
    /// [`Join`] moves to the next part and what [`Repeat`] repeats.
    fn len(&self) -> Option<u64> {
        None
    }

    /// The momentum (or Adam beta1) this schedule sets at `step`, if it sets one
    /// (one-cycle and cyclic with `cycle_momentum`).
    fn momentum(&self, _step: u64) -> Option<f64> {
        None
    }

    /// Feeds a metric measured at the end of step `step` (only [`Plateau`] and
    /// `ReduceLROnPlateau` react; combinators pass it to their children).
    fn observe(&mut self, step: u64, metric: f64) -> Result<(), ScheduleError> {
        for c in self.children_mut() {
            c.observe(step, metric)?;
        }
        Ok(())
    }

    /// `true` if the schedule reacts to metrics, so a caller must feed them.
    fn needs_metric(&self) -> bool {
        self.children().iter().any(|c| c.needs_metric())
    }

    /// The values for a range of steps. Replayed forms (PyTorch's recursive classes)
    /// override this to walk the range once.
    fn values(&self, steps: std::ops::Range<u64>) -> Vec<f64> {
        steps.map(|s| self.value(s)).collect()
    }

    /// The momenta for a range of steps, as [`Schedule::momentum`].
    fn momenta(&self, steps: std::ops::Range<u64>) -> Vec<Option<f64>> {
        steps.map(|s| self.momentum(s)).collect()
    }

    /// The schedules this one is built from, in config order.
    fn children(&self) -> Vec<&AnySchedule> {
        Vec::new()
    }

    /// The schedules this one is built from, mutably.
    fn children_mut(&mut self) -> Vec<&mut AnySchedule> {
        Vec::new()
    }

    /// Appends the history this schedule (and its children, in order) has gathered from
    /// metrics; empty for pure schedules.
    #[cfg(feature = "serde")]
    fn save_state(&self, out: &mut Vec<serde_json::Value>) {
        for c in self.children() {
            c.save_state(out);
        }
    }

    /// Takes back what [`Schedule::save_state`] wrote, in the same order.
    #[cfg(feature = "serde")]
    fn load_state(
        &mut self,
        saved: &mut dyn Iterator<Item = serde_json::Value>,
    ) -> Result<(), ScheduleError> {
        for c in self.children_mut() {
            c.load_state(saved)?;
        }
        Ok(())
    }
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn value(&self, step: u64) -> f64 {
        (**self).value(step)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        (**self).validate()
    }
    fn len(&self) -> Option<u64> {
        (**self).len()
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        (**self).momentum(step)
    }
    fn observe(&mut self, step: u64, metric: f64) -> Result<(), ScheduleError> {
        (**self).observe(step, metric)
    }
    fn needs_metric(&self) -> bool {
        (**self).needs_metric()
    }
    fn values(&self, steps: std::ops::Range<u64>) -> Vec<f64> {
        (**self).values(steps)
    }
    fn momenta(&self, steps: std::ops::Range<u64>) -> Vec<Option<f64>> {
        (**self).momenta(steps)
    }
    fn children(&self) -> Vec<&AnySchedule> {
        (**self).children()
    }
    fn children_mut(&mut self) -> Vec<&mut AnySchedule> {
        (**self).children_mut()
    }
    #[cfg(feature = "serde")]
    fn save_state(&self, out: &mut Vec<serde_json::Value>) {
        (**self).save_state(out)
    }
    #[cfg(feature = "serde")]
    fn load_state(
        &mut self,
        saved: &mut dyn Iterator<Item = serde_json::Value>,
    ) -> Result<(), ScheduleError> {
        (**self).load_state(saved)
    }
}
