//! TODO: being written: PyTorch-compatible schedulers.
use crate::{Schedule, ScheduleError};

/// The `torch.optim.lr_scheduler` class names a config may use.
pub const CLASS_NAMES: &[&str] = &[];

/// TODO
#[derive(Debug, Clone, PartialEq)]
pub struct TorchSchedule {}

impl TorchSchedule {
    /// The class name.
    pub fn class_name(&self) -> &'static str { "" }
    /// From a config object.
    #[cfg(feature = "serde")]
    pub fn from_value(_v: &serde_json::Value) -> Result<Self, ScheduleError> { todo!() }
    /// To a config object.
    #[cfg(feature = "serde")]
    pub fn to_value(&self) -> serde_json::Value { todo!() }
}
impl Schedule for TorchSchedule { fn value(&self, _step: u64) -> f64 { 0.0 } fn validate(&self) -> Result<(), ScheduleError> { Ok(()) } }
