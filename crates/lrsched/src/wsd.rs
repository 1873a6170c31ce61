//! TODO: being written.
use crate::{Schedule, ScheduleError};

/// TODO
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Wsd {}
/// TODO
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Cooldown {}
impl Schedule for Wsd { fn value(&self, _step: u64) -> f64 { 0.0 } fn validate(&self) -> Result<(), ScheduleError> { Ok(()) } }
