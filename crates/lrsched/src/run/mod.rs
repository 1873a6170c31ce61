//! The run-time side: the stateful driver a loop steps, time units, the trial protocol's
//! inputs, and what a schedule does past its end.

pub(crate) mod after_end;
pub mod driver;
pub mod time;
#[cfg(feature = "serde")]
pub mod trial;
