//! TODO: being written.
use crate::{Schedule, ScheduleError};

/// TODO
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Clamp {}
impl Schedule for Clamp { fn value(&self, _step: u64) -> f64 { 0.0 } fn validate(&self) -> Result<(), ScheduleError> { Ok(()) } }
