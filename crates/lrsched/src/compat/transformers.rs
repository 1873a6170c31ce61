//! `transformers.*` configs. TODO: being written.

use crate::catalog::TypeInfo;
use crate::{AnySchedule, ScheduleError};
use serde_json::{Map, Value};

/// The `transformers.*` types `lrsched list` shows.
pub const CATALOG: &[TypeInfo] = &[];

/// Reads `transformers.<function>`; `None` for an unknown function.
pub(crate) fn from_value(
    _function: &str,
    _body: Map<String, Value>,
) -> Option<Result<AnySchedule, ScheduleError>> {
    None
}
