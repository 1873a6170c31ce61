//! Python arguments read as the core takes them: integers, floats, lists, strings, the run's
//! shape and the interval, with the messages the package raises.

use crate::{err, ScheduleError, MAX_RUN_STEPS, STEP_RANGE};
use lrsched::time::RunShape;
use lrsched::Interval;
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PySequence, PyString, PyTuple};

/// A Python value as an error message shows it: its `str()`, cut to
/// [`lrsched::MAX_QUOTE`] characters; an integer too long for `str()` (Python's digit
/// limit) by its size in bits.
pub(crate) fn shown(obj: &Bound<'_, PyAny>) -> String {
    match obj.str() {
        Ok(s) => lrsched::quote(&s.to_string_lossy()).into_owned(),
        Err(_) => match obj
            .call_method0("bit_length")
            .and_then(|b| b.extract::<u64>())
        {
            Ok(bits) => format!("(an integer of {bits} bits)"),
            Err(_) => format!("(a {} that cannot be printed)", type_name(obj)),
        },
    }
}

/// A string as an error message quotes it: its `repr()` (escapes for what is not
/// printable, a lone surrogate included), cut to [`lrsched::MAX_QUOTE`] characters.
pub(crate) fn shown_repr(obj: &Bound<'_, PyAny>) -> String {
    match obj.repr() {
        Ok(s) => lrsched::quote(&s.to_string_lossy()).into_owned(),
        Err(_) => format!("(a {})", type_name(obj)),
    }
}

/// A Python string as UTF-8 text. A string holding a lone surrogate (what a
/// `surrogateescape` decode of bad bytes leaves) has none: the error says so, naming
/// `what` the string is.
pub(crate) fn utf8(
    s: &Bound<'_, PyString>,
    what: impl FnOnce(String) -> String,
) -> PyResult<String> {
    s.to_cow().map(|t| t.into_owned()).map_err(|_| {
        err(format!(
            "{} is not valid Unicode (it holds a lone surrogate, as a bad decode leaves): text must be UTF-8",
            what(shown_repr(s.as_any()))
        ))
    })
}

/// `operator.index(obj)`: the int Python takes `obj` as where it stands for an index.
pub(crate) fn index<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.py().import("operator")?.call_method1("index", (obj,))
}

/// An integer argument in `min..=max`: whatever Python takes as an index (an int, a
/// numpy integer, a 0-d integer array). Out of range, a `ScheduleError` naming `name`,
/// the value and the range (`why` says where an upper bound comes from); not an
/// integer, a `TypeError`. Never an `OverflowError`, whatever the size.
pub(crate) fn int_arg(
    obj: &Bound<'_, PyAny>,
    name: &str,
    min: u64,
    max: u64,
    why: &str,
) -> PyResult<u64> {
    let py = obj.py();
    let int = if obj.is_instance_of::<PyInt>() {
        obj.clone()
    } else {
        match index(obj) {
            Ok(i) => i,
            Err(e) if e.is_instance_of::<PyTypeError>(py) => {
                return Err(PyTypeError::new_err(format!(
                    "{name} = {} is not allowed: must be an integer, not a {}",
                    shown_repr(obj),
                    type_name(obj)
                )))
            }
            Err(e) => return Err(e),
        }
    };
    if let Ok(v) = int.extract::<u64>() {
        if (min..=max).contains(&v) {
            return Ok(v);
        }
    }
    Err(err(if int.lt(min)? {
        format!(
            "{name} = {} is not allowed: must be an integer >= {min}",
            shown(&int)
        )
    } else {
        format!(
            "{name} = {} is not allowed: must be an integer <= {max}{why}",
            shown(&int)
        )
    }))
}

/// A number argument: whatever Python's `float()` takes. One too large for a float
/// (`10**400`) is a `ScheduleError` naming `name`; not a number, a `TypeError`.
pub(crate) fn float_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    let py = obj.py();
    obj.extract::<f64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(py) {
            err(format!(
                "{name} = {} is not allowed: must be a finite number",
                shown(obj)
            ))
        } else if e.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(format!(
                "{name} = {} is not allowed: must be a number, not a {}",
                shown_repr(obj),
                type_name(obj)
            ))
        } else {
            e
        }
    })
}

/// A list's or tuple's items as a tuple copied first (None for anything else): what a
/// value's conversion then does to the list changes nothing of what is read.
pub(crate) fn list_copy<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyTuple>>> {
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        Ok(Some(obj.downcast::<PySequence>()?.to_tuple()?))
    } else {
        Ok(None)
    }
}

/// A list or tuple of numbers (`name[i]` named in an error), read from a copy made
/// first: a value whose `__float__` changes the list changes nothing here.
pub(crate) fn float_list(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let Some(items) = list_copy(obj)? else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a list of numbers, not a {}",
            type_name(obj)
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| float_arg(&v, &format!("{name}[{i}]")))
        .collect()
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Why a run's steps are at most [`MAX_RUN_STEPS`], for the messages.
pub(crate) const RUN_RANGE: &str = " (durations such as \"3ep\" and \"10%\" are resolved in floating point, exact up to 2^53 steps)";

/// The run's shape `Schedule(..., steps_per_epoch=, epochs=)` describes: steps per epoch
/// in `1..=2^53`, epochs finite and above 0, and the run's steps (epochs x steps per
/// epoch) at most 2^53, so that every duration resolves exactly and none is clamped.
pub(crate) fn shape_of(
    steps_per_epoch: Option<&Bound<'_, PyAny>>,
    epochs: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<RunShape>> {
    let spe = steps_per_epoch
        .map(|n| int_arg(n, "`steps_per_epoch`", 1, MAX_RUN_STEPS, RUN_RANGE))
        .transpose()?;
    let e = match epochs {
        None => None,
        Some(obj) => {
            let refused = || {
                err(format!(
                    "`epochs` = {} is not allowed: must be a finite number > 0",
                    shown(obj)
                ))
            };
            match float_arg(obj, "`epochs`") {
                Ok(e) if e.is_finite() && e > 0.0 => Some((e, obj)),
                Ok(_) => return Err(refused()),
                Err(e) if e.is_instance_of::<ScheduleError>(obj.py()) => return Err(refused()),
                Err(e) => return Err(e),
            }
        }
    };
    if spe.is_none() && e.is_none() {
        return Ok(None);
    }
    let spe_n = spe.unwrap_or(1);
    if let Some((e, obj)) = e {
        // Exact: spe_n <= 2^53, so it is a float as it is.
        if e * spe_n as f64 > MAX_RUN_STEPS as f64 {
            return Err(err(match spe {
                Some(n) => format!(
                    "`epochs` = {} is not allowed with `steps_per_epoch` = {n}: the run's steps (epochs x steps per epoch) must be at most {MAX_RUN_STEPS}{RUN_RANGE}",
                    shown(obj)
                ),
                None => format!(
                    "`epochs` = {} is not allowed: must be at most {MAX_RUN_STEPS}{RUN_RANGE}",
                    shown(obj)
                ),
            }));
        }
    }
    let e = e.map(|(e, _)| e).unwrap_or(1.0);
    Ok(Some(RunShape::new(spe_n, 1).with_epochs(e)))
}

pub(crate) fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::Step => "step",
        Interval::Epoch => "epoch",
    }
}

pub(crate) fn parse_interval(s: &str) -> PyResult<Interval> {
    match s {
        "step" => Ok(Interval::Step),
        "epoch" => Ok(Interval::Epoch),
        other => Err(err(format!(
            "`interval` = {other:?} is not allowed: must be \"step\" or \"epoch\""
        ))),
    }
}

/// A step argument: an integer in `0..=u64::MAX`.
pub(crate) fn step_arg(step: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    int_arg(step, name, 0, u64::MAX, STEP_RANGE)
}
