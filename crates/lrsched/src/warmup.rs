//! TODO: being written.
use crate::{Schedule, ScheduleError};

/// TODO
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Warmup {}
/// TODO
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WarmupShape {}
impl Schedule for Warmup { fn value(&self, _step: u64) -> f64 { 0.0 } fn validate(&self) -> Result<(), ScheduleError> { Ok(()) } }
impl Warmup { /// TODO
pub fn linear(_steps: u64, _s: impl Into<crate::AnySchedule>) -> Self { Warmup {} } }
