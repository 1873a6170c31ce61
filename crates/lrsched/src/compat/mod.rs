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
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A library's keyword-argument defaults that hold across its functions, stated once:
/// the reader's `#[serde(default = "defaults::key")]` calls the function of that name,
/// and the writer ([`crate::convert`]) leaves out an argument given at its value (via
/// `defaults::all()`).
macro_rules! defaults {
    ($($key:ident: $ty:ty = $value:expr;)*) => {
        /// The keyword-argument defaults both the reader and the writer use.
        pub(crate) mod defaults {
            $(
                #[doc = concat!("`", stringify!($key), "`'s default.")]
                pub(crate) fn $key() -> $ty {
                    $value
                }
            )*

            /// Every default, by keyword, as the writer compares them.
            pub(crate) fn all() -> Vec<(&'static str, serde_json::Value)> {
                vec![$((stringify!($key), serde_json::json!($key())),)*]
            }
        }
    };
}

/// A library's catalog and readers from one list, so a type's name is written once:
/// `"lib.name" => reader, summary, params, example;` gives the `CATALOG` row `lrsched
/// list` shows and the `READERS` entry [`from_value`] dispatches on.
macro_rules! library {
    ($group:literal; $($name:literal => $reader:expr, $summary:literal, $params:literal, $example:literal;)*) => {
        #[doc = concat!("The `", $group, ".*` types `lrsched list` shows.")]
        pub const CATALOG: &[TypeInfo] = &[
            $(TypeInfo { name: $name, group: $group, summary: $summary, params: $params, example: $example },)*
        ];

        /// Each type's reader, by its whole name.
        pub(crate) const READERS: &[(&str, super::Reader)] = &[$(($name, $reader),)*];
    };
}

/// One function's or class's keyword arguments, read by serde with the library's names
/// and defaults, turned into native schedules.
pub(crate) trait Build: DeserializeOwned {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError>;
}

/// Reads `body` as `T`'s arguments and builds them; `name` (the whole `type`) is what
/// the errors name.
pub(crate) fn read<T: Build>(
    name: &str,
    body: Map<String, Value>,
) -> Result<AnySchedule, ScheduleError> {
    crate::config::typed::<T>(name, Value::Object(body))?.build(name)
}

/// The reader of one function or class: its whole `type` name and its arguments.
pub(crate) type Reader = fn(&str, Map<String, Value>) -> Result<AnySchedule, ScheduleError>;

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
    let (library, _) = name.split_once('.')?;
    let readers = match library {
        "transformers" => transformers::READERS,
        "timm" => timm::READERS,
        "optax" => optax::READERS,
        "keras" => keras::READERS,
        _ => return None,
    };
    let (_, read) = readers.iter().find(|(n, _)| *n == name)?;
    Some(read(name, body))
}
