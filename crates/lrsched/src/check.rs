//! Parameter checks shared by every family, so each error reads the same way.

use crate::{AnySchedule, Schedule, ScheduleError};

/// `Ok` when `ok`, else the error every float check gives: the key, the value as configs
/// write it ([`fmt`]) and what is allowed.
fn require(
    ok: bool,
    schedule: &str,
    key: &str,
    v: f64,
    allowed: impl Into<String>,
) -> Result<(), ScheduleError> {
    if ok {
        Ok(())
    } else {
        Err(ScheduleError::invalid(schedule, key, fmt(v), allowed))
    }
}

/// A finite number > 0.
pub(crate) fn positive(schedule: &str, key: &str, v: f64) -> Result<(), ScheduleError> {
    let ok = v.is_finite() && v > 0.0;
    require(ok, schedule, key, v, "a finite number > 0")
}

/// A finite number >= 0.
pub(crate) fn non_negative(schedule: &str, key: &str, v: f64) -> Result<(), ScheduleError> {
    let ok = v.is_finite() && v >= 0.0;
    require(ok, schedule, key, v, "a finite number >= 0")
}

/// A value a schedule takes (a rate, its start, end or floor): any finite number.
/// Negative and zero values are allowed because the libraries whose configs lrsched
/// reads compute them (optax's `piecewise_constant_schedule` with a negative
/// `init_value`, a negative `end_value` of `warmup_cosine_decay_schedule`) and a paste-in
/// must give the library's values; what an optimizer does with a rate <= 0 is for the
/// training side to say (see [`crate::is_usable_rate`]).
pub(crate) fn rate(schedule: &str, key: &str, v: f64) -> Result<(), ScheduleError> {
    finite(schedule, key, v)
}

/// Any finite number.
pub(crate) fn finite(schedule: &str, key: &str, v: f64) -> Result<(), ScheduleError> {
    require(v.is_finite(), schedule, key, v, "a finite number")
}

/// A finite number >= `lo`.
pub(crate) fn at_least(schedule: &str, key: &str, v: f64, lo: f64) -> Result<(), ScheduleError> {
    let ok = v.is_finite() && v >= lo;
    require(ok, schedule, key, v, format!("a finite number >= {lo}"))
}

/// A finite number in an interval written as in the message: `'['` or `'('` opens it,
/// `']'` or `')'` closes it.
fn interval(
    (schedule, key): (&str, &str),
    v: f64,
    (open, lo): (char, f64),
    (hi, close): (f64, char),
) -> Result<(), ScheduleError> {
    let above = if open == '(' { v > lo } else { v >= lo };
    let below = if close == ')' { v < hi } else { v <= hi };
    let ok = v.is_finite() && above && below;
    require(
        ok,
        schedule,
        key,
        v,
        format!("a number in {open}{lo}, {hi}{close}"),
    )
}

// The intervals the families check, each one line: `check in_closed(0.0, 1.0)`.
macro_rules! intervals {
    ($($(#[$doc:meta])* $name:ident $open:literal $close:literal;)*) => {$(
        $(#[$doc])*
        pub(crate) fn $name(s: &str, k: &str, v: f64, lo: f64, hi: f64) -> Result<(), ScheduleError> {
            interval((s, k), v, ($open, lo), (hi, $close))
        }
    )*};
}

intervals! {
    /// A finite number in `[lo, hi]`.
    in_closed '[' ']';
    /// A finite number in `(lo, hi)`.
    in_open '(' ')';
    /// A finite number in `(lo, hi]`.
    in_half_open '(' ']';
    /// A finite number in `[lo, hi)`.
    in_right_open '[' ')';
}

/// An integer count >= 1.
pub(crate) fn at_least_one(schedule: &str, key: &str, v: u64) -> Result<(), ScheduleError> {
    if v >= 1 {
        Ok(())
    } else {
        Err(ScheduleError::invalid(schedule, key, v, "an integer >= 1"))
    }
}

/// A list of at least one schedule (`join`'s and `product`'s parts).
pub(crate) fn one_or_more(
    schedule: &str,
    key: &str,
    v: &[AnySchedule],
) -> Result<(), ScheduleError> {
    if v.is_empty() {
        Err(ScheduleError::invalid(
            schedule,
            key,
            "[]",
            "a list of at least one schedule",
        ))
    } else {
        Ok(())
    }
}

/// Every schedule of the list valid; an error names its place (`schedules[1].lr`).
pub(crate) fn each_valid(outer: &str, key: &str, v: &[AnySchedule]) -> Result<(), ScheduleError> {
    for (i, s) in v.iter().enumerate() {
        crate::join::in_child(outer, &format!("{key}[{i}]"), s.validate())?;
    }
    Ok(())
}

/// A list that never decreases (`strict`: strictly increases).
pub(crate) fn increasing(
    schedule: &str,
    key: &str,
    v: &[u64],
    strict: bool,
) -> Result<(), ScheduleError> {
    let bad = v
        .windows(2)
        .any(|w| if strict { w[1] <= w[0] } else { w[1] < w[0] });
    if bad {
        let allowed = if strict {
            "a strictly increasing list"
        } else {
            "a non-decreasing list"
        };
        Err(ScheduleError::invalid(
            schedule,
            key,
            format!("{v:?}"),
            allowed,
        ))
    } else {
        Ok(())
    }
}

/// Formats a float so NaN and infinities read as in configs, and a huge one in
/// exponent form: `{}` writes 1e300 as 301 digits, which a message then cuts to its
/// first 80 and the magnitude is lost.
pub(crate) fn fmt(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v.abs() >= 1e16 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Serde's per-field defaults, each stated once: `key: Type = value;` lines become a
/// private `serde_defaults` module of `key()` functions, which fields name as
/// `#[serde(default = "serde_defaults::key")]`. Unlike compat's `defaults!`, nothing else
/// reads the list, so a key declared here does not change what any writer leaves out.
/// The module is compiled only with the `serde` feature (nothing else calls it), and sees
/// its parent's names, so a value may use the file's types and helpers.
macro_rules! serde_defaults {
    ($($key:ident: $ty:ty = $value:expr;)*) => {
        /// The defaults serde gives fields a config leaves out.
        #[cfg(feature = "serde")]
        mod serde_defaults {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("`", stringify!($key), "` when a config leaves it out.")]
                pub(crate) fn $key() -> $ty {
                    $value
                }
            )*
        }
    };
}
pub(crate) use serde_defaults;

// Serde defaults and "is default" tests, so configs can omit (and printed forms skip)
// parameters left at their defaults.
#[cfg(feature = "serde")]
pub(crate) fn one() -> f64 {
    1.0
}
#[cfg(feature = "serde")]
pub(crate) fn is_zero(v: &f64) -> bool {
    *v == 0.0
}
