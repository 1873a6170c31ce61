//! Paste-in schedules from transformers, timm, optax and Keras.
//!
//! A config whose `type` is `<library>.<function or class>` takes that function's own
//! keyword arguments, names and defaults; it is read into the native schedules of this
//! crate (there is no second implementation of any family), so everything native works on
//! it: random access, combinators, the driver, `lrsched convert`.
//!
//! ```
//! use lrsched::{config, Schedule};
//! # if lrsched::compat::transformers::CATALOG.is_empty() { return; }
//! let s = config::from_json_str(r#"{"type": "transformers.get_constant_schedule", "lr": 0.1}"#).unwrap();
//! assert_eq!(s.value(100), 0.1);
//! ```

use crate::catalog::TypeInfo;
use crate::{AnySchedule, ScheduleError};
use serde_json::{Map, Value};

pub mod keras;
pub mod optax;
pub mod timm;
pub mod transformers;

/// Each library's prefix and catalog.
pub const LIBRARIES: &[(&str, &[TypeInfo])] = &[
    ("transformers", transformers::CATALOG),
    ("timm", timm::CATALOG),
    ("optax", optax::CATALOG),
    ("keras", keras::CATALOG),
];

/// The native schedule for a library's value `v`, which optax computes below 0 too, where
/// a native family's `lr` is a rate (a finite number >= 0, the one rule of every family,
/// PyTorch's classes included): `build(sign)` makes the schedule with its values times
/// `sign`; for a negative `v` that is the schedule of `-v`, scaled by -1, which negates
/// every value exactly (the library's bits).
pub(crate) fn signed(v: f64, build: impl FnOnce(f64) -> AnySchedule) -> AnySchedule {
    if v < 0.0 {
        crate::Scale::new(build(-1.0), -1.0).into()
    } else {
        build(1.0)
    }
}

/// Every paste-in `type` name, library by library.
pub fn type_names() -> impl Iterator<Item = &'static str> {
    LIBRARIES.iter().flat_map(|(_, c)| c.iter().map(|t| t.name))
}

/// Reads a paste-in config (`name` is the whole `type`, `body` the other keys); `None`
/// when `name` is not a paste-in type.
pub(crate) fn from_value(
    name: &str,
    body: Map<String, Value>,
) -> Option<Result<AnySchedule, ScheduleError>> {
    let (library, function) = name.split_once('.')?;
    match library {
        "transformers" => transformers::from_value(function, body),
        "timm" => timm::from_value(function, body),
        "optax" => optax::from_value(function, body),
        "keras" => keras::from_value(function, body),
        _ => None,
    }
}
