//! `OneChild`: what every schedule built around one inner `schedule` shares.
//!
//! Offset, stretch, scale, clamp, repeat, cycles, noise and warmup each wrap one child
//! and differ only in a few places: the clock the child reads (`inner_step`), what is
//! done to its value, their own parameter checks and their length. A wrapper states
//! those in its `impl OneChild` and `one_child!(Type)` writes its [`Schedule`] impl: the
//! child's momentum and metrics on the same inner clock, the child listed as the only
//! one, its validation error re-rooted under `schedule.` (see [`in_child`]).

use crate::join::in_child;
use crate::{AnySchedule, Schedule, ScheduleError};

/// The parts a one-child wrapper decides; every method has the pass-through default.
pub(crate) trait OneChild {
    /// The config `type`, which errors name.
    const NAME: &'static str;

    /// The step the child reads at outer step `step` (its momentum and metrics too).
    fn inner_step(&self, step: u64) -> u64 {
        step
    }

    /// The value at `step` given the child: by default its value on the inner clock.
    fn wrap_value(&self, child: &AnySchedule, step: u64) -> f64 {
        child.value(self.inner_step(step))
    }

    /// The wrapper's own parameter checks, run before the child's.
    fn own_checks(&self) -> Result<(), ScheduleError> {
        Ok(())
    }

    /// The whole check: own parameters, then the child's (its keys under `schedule.`).
    fn wrap_validate(&self, child: &AnySchedule) -> Result<(), ScheduleError> {
        self.own_checks()?;
        in_child(Self::NAME, "schedule", child.validate())
    }

    /// The length given the child: by default the child's.
    fn wrap_len(&self, child: &AnySchedule) -> Option<u64> {
        child.len()
    }
}

/// Writes `impl Schedule` for a wrapper whose child is the field `schedule`, from its
/// `impl OneChild`.
macro_rules! one_child {
    ($t:ty) => {
        impl $crate::Schedule for $t {
            fn value(&self, step: u64) -> f64 {
                $crate::combinators::one_child::OneChild::wrap_value(self, &self.schedule, step)
            }
            fn validate(&self) -> Result<(), $crate::ScheduleError> {
                $crate::combinators::one_child::OneChild::wrap_validate(self, &self.schedule)
            }
            fn len(&self) -> Option<u64> {
                $crate::combinators::one_child::OneChild::wrap_len(self, &self.schedule)
            }
            fn momentum(&self, step: u64) -> Option<f64> {
                let t = $crate::combinators::one_child::OneChild::inner_step(self, step);
                self.schedule.momentum(t)
            }
            fn observe(&mut self, step: u64, metric: f64) -> Result<(), $crate::ScheduleError> {
                let t = $crate::combinators::one_child::OneChild::inner_step(self, step);
                self.schedule.observe(t, metric)
            }
            fn children(&self) -> Vec<&$crate::AnySchedule> {
                vec![&*self.schedule]
            }
            fn children_mut(&mut self) -> Vec<&mut $crate::AnySchedule> {
                vec![&mut *self.schedule]
            }
        }
    };
}

pub(crate) use one_child;
