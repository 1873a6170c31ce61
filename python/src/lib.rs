//! `lrsched_rs._lrsched`: the extension module behind the `lrsched` Python package.
//!
//! A thin layer over the `lrsched` crate: every schedule, every config form, every error
//! message is the crate's own. Python sees [`PySchedule`] (`lrsched_rs.Schedule`), the
//! catalog, conversions, a driver the PyTorch scheduler steps, and the trial protocol.
//! The Python package (`python/lrsched_rs/`) adds the PyTorch subclass and the trial helpers
//! on top. Errors raise `lrsched_rs.ScheduleError`, a `ValueError`, with the message the
//! CLI prints.
//!
//! The functions the module is built from are plain Rust too, so the crate's own tests
//! check the conversions between Python values and configs without a Python package:
//!
//! ```
//! use _lrsched::load_text;
//! let (s, interval) = load_text("StepLR(lr=0.1, step_size=2)", None).unwrap();
//! assert_eq!(lrsched::Schedule::value(&s, 2), 0.1 * 0.1);
//! assert_eq!(interval, lrsched::Interval::Epoch);
//! ```

use lrsched::config::{self, Config};
use lrsched::convert::{self, Target};
use lrsched::time::RunShape;
use lrsched::trial::{Metrics, Trial};
use lrsched::{catalog, oneline, AnySchedule, Driver, DriverState, Interval, Schedule};
use pyo3::create_exception;
use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyDict, PyFloat, PyInt, PyList, PySequence, PyString, PyTuple,
};
use serde_json::{Map, Number, Value};
use std::path::Path;

/// The most values [`PySchedule::values`] returns from one call: the most `lrsched trace
/// --steps` prints (`MAX_TRACE_STEPS` in `crates/lrsched-cli/src/main.rs`, private there,
/// so the number is stated again here). A billion float64s are 8 GB; more is a typo, and
/// a count past memory used to abort the interpreter.
pub const MAX_VALUES: u64 = 1_000_000_000;

/// Steps computed per chunk by [`PySchedule::values`]: the GIL is released while a chunk
/// is computed and Ctrl-C is checked between chunks.
const VALUES_CHUNK: u64 = 1 << 16;

/// The most steps a run's shape may have, per epoch and in all (epochs x steps per
/// epoch): durations (`"3ep"`, `"10%"`) are resolved in floating point, exact up to 2^53
/// steps; past that a duration would be rounded or clamped, not resolved.
pub const MAX_RUN_STEPS: u64 = 1 << 53;

/// The longest metrics line the trial protocol reads, newline included: lrsched's reader
/// refuses longer ones, so the writer refuses them before writing anything.
pub use lrsched::trial::MAX_LINE_BYTES;

/// Why a step is at most `u64::MAX`, for [`int_arg`]'s message.
const STEP_RANGE: &str = " (steps are 64-bit counts)";

create_exception!(
    lrsched_rs,
    ScheduleError,
    PyValueError,
    "A schedule, config, state or trial that lrsched refuses.\n\n\
     The message is the one the `lrsched` command line prints: the key, the value, what is\n\
     allowed and, for a misspelling, the nearest spelling. A `ValueError`, so code that\n\
     catches `ValueError` catches it too.\n\n\
     >>> import lrsched_rs\n\
     >>> try:\n\
     ...     lrsched_rs.Schedule({\"type\": \"cosine\", \"lr\": 0.1, \"stepz\": 100})\n\
     ... except lrsched_rs.ScheduleError as e:\n\
     ...     print(\"did you mean `steps`\" in str(e))\n\
     True"
);

/// A `ScheduleError` with `e`'s text, every quoted part cut as the CLI cuts it
/// ([`lrsched::shorten`]).
fn err(e: impl std::fmt::Display) -> PyErr {
    ScheduleError::new_err(lrsched::shorten(&e.to_string()).into_owned())
}

/// A Python value as an error message shows it: its `str()`, cut to
/// [`lrsched::MAX_QUOTE`] characters; an integer too long for `str()` (Python's digit
/// limit) by its size in bits.
fn shown(obj: &Bound<'_, PyAny>) -> String {
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
fn shown_repr(obj: &Bound<'_, PyAny>) -> String {
    match obj.repr() {
        Ok(s) => lrsched::quote(&s.to_string_lossy()).into_owned(),
        Err(_) => format!("(a {})", type_name(obj)),
    }
}

/// A Python string as UTF-8 text. A string holding a lone surrogate (what a
/// `surrogateescape` decode of bad bytes leaves) has none: the error says so, naming
/// `what` the string is.
fn utf8(s: &Bound<'_, PyString>, what: impl FnOnce(String) -> String) -> PyResult<String> {
    s.to_cow().map(|t| t.into_owned()).map_err(|_| {
        err(format!(
            "{} is not valid Unicode (it holds a lone surrogate, as a bad decode leaves): text must be UTF-8",
            what(shown_repr(s.as_any()))
        ))
    })
}

/// `operator.index(obj)`: the int Python takes `obj` as where it stands for an index.
fn index<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.py().import("operator")?.call_method1("index", (obj,))
}

/// An integer argument in `min..=max`: whatever Python takes as an index (an int, a
/// numpy integer, a 0-d integer array). Out of range, a `ScheduleError` naming `name`,
/// the value and the range (`why` says where an upper bound comes from); not an
/// integer, a `TypeError`. Never an `OverflowError`, whatever the size.
fn int_arg(obj: &Bound<'_, PyAny>, name: &str, min: u64, max: u64, why: &str) -> PyResult<u64> {
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
fn float_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
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
fn list_copy<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyTuple>>> {
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        Ok(Some(obj.downcast::<PySequence>()?.to_tuple()?))
    } else {
        Ok(None)
    }
}

/// A list or tuple of numbers (`name[i]` named in an error), read from a copy made
/// first: a value whose `__float__` changes the list changes nothing here.
fn float_list(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
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

/// Whether `text` reads as the one-line form (`name(...)`) rather than TOML or JSON.
fn is_oneline(text: &str) -> bool {
    let t = text.trim_start();
    let name_end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(t.len());
    name_end > 0 && t[name_end..].trim_start().starts_with('(')
}

/// A config's text (JSON, TOML or the one-line form) read into a schedule and its interval,
/// durations resolved with `shape`. JSON starts with `{`; the one-line form is `name(...)`;
/// anything else is TOML.
///
/// ```
/// use _lrsched::load_text;
/// assert!(load_text("{\"type\": \"cosine\", \"lr\": 0.1, \"steps\": 10}", None).is_ok());
/// assert!(load_text("type = \"cosine\"\nlr = 0.1\nsteps = 10\n", None).is_ok());
/// assert!(load_text("cosine(lr=0.1, steps=10)", None).is_ok());
/// let e = load_text("cosine(lr=0.1, stepz=10)", None).unwrap_err();
/// assert!(e.to_string().contains("did you mean `steps`"), "{e}");
/// ```
pub fn load_text(
    text: &str,
    shape: Option<&RunShape>,
) -> Result<(AnySchedule, Interval), lrsched::ScheduleError> {
    let Config { schedule, interval } = config::load_value(text_config(text)?, shape)?;
    Ok((schedule, interval))
}

/// A config's text (JSON, TOML or the one-line form) as a config value, unbuilt: as
/// [`load_text`] reads it.
pub fn text_config(text: &str) -> Result<Value, lrsched::ScheduleError> {
    if is_oneline(text) {
        oneline::parse_value(text)
    } else {
        config::text_value(text, Path::new("config"))
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Whether `obj` is numpy's boolean scalar (`np.True_`): a boolean, as Python's `True`
/// is, not the number its `__float__` gives.
fn is_numpy_bool(obj: &Bound<'_, PyAny>) -> bool {
    obj.get_type()
        .fully_qualified_name()
        .is_ok_and(|n| matches!(n.to_string_lossy().as_ref(), "numpy.bool" | "numpy.bool_"))
}

/// A Python value (dict, list, str, number, bool, None) as a config value; `path` names
/// where it sits, for the error.
///
/// Numbers are what Python takes as numbers: an int or anything with `__index__` (numpy
/// integers, 0-d integer arrays) is an integer; a float or anything else with
/// `__float__` (numpy floats, 0-d arrays, `Decimal`, `Fraction`) is a float; numpy's
/// bool is a boolean. Dicts and lists are read from a copy of their items made first, so
/// a value whose conversion changes its container (a `__float__` that adds a key)
/// changes nothing here: the container is read as it was.
fn py_to_value(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    if depth > oneline::MAX_DEPTH {
        return Err(err(format!(
            "config nested deeper than {} levels at `{path}`",
            oneline::MAX_DEPTH
        )));
    }
    let here = if path.is_empty() { "config" } else { path };
    let py = obj.py();
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.is_truthy()?));
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        return Ok(Value::String(utf8(s, |r| format!("`{here}` = {r}"))?));
    }
    if obj.is_instance_of::<PyInt>() {
        return int_value(obj, here);
    }
    if obj.is_instance_of::<PyFloat>() {
        return float_value(obj, here);
    }
    if let Ok(dict) = obj.downcast::<PyDict>() {
        let mut map = Map::new();
        for item in dict.as_mapping().items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let Ok(k) = k.downcast::<PyString>() else {
                return Err(err(format!(
                    "`{here}` has a key {} of Python type {}: config keys are strings",
                    shown_repr(&k),
                    type_name(&k)
                )));
            };
            let key = utf8(k, |r| format!("`{here}` has a key {r} that"))?;
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let value = py_to_value(&v, &child, depth + 1)?;
            if map.insert(key, value).is_some() {
                // Only str subclasses with their own `__eq__`/`__hash__` get here.
                return Err(err(format!("`{here}` has the key `{child}` twice")));
            }
        }
        return Ok(Value::Object(map));
    }
    if let Some(items) = list_copy(obj)? {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(py_to_value(&item, &format!("{here}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(s) = obj.downcast::<PySchedule>() {
        return Ok(s.borrow().config_value());
    }
    if is_numpy_bool(obj) {
        return Ok(Value::Bool(obj.is_truthy()?));
    }
    if obj.hasattr("__index__")? {
        match index(obj) {
            Ok(int) => return int_value(&int, here),
            // A float array's `__index__` refuses: it may still be a number.
            Err(e) if e.is_instance_of::<PyTypeError>(py) && obj.hasattr("__float__")? => {}
            Err(e) => {
                return Err(err(format!(
                    "`{here}` = {} is not allowed: must be a number ({})",
                    shown(obj),
                    e.value(py)
                )))
            }
        }
    }
    if obj.hasattr("__float__")? {
        return float_value(obj, here);
    }
    Err(err(format!(
        "`{here}` is a {}: a config holds numbers, strings, booleans, None, lists and dicts",
        type_name(obj)
    )))
}

/// A Python int as a config integer: within 64 bits, signed or not.
fn int_value(int: &Bound<'_, PyAny>, here: &str) -> PyResult<Value> {
    if let Ok(i) = int.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = int.extract::<u64>() {
        return Ok(Value::from(u));
    }
    Err(err(format!(
        "`{here}` = {} is not allowed: must be an integer within 64 bits",
        shown(int)
    )))
}

/// What `float()` makes of `obj`, as a config number: finite.
fn float_value(obj: &Bound<'_, PyAny>, here: &str) -> PyResult<Value> {
    let py = obj.py();
    let finite = || {
        err(format!(
            "`{here}` = {} is not allowed: a config number must be finite",
            shown(obj)
        ))
    };
    match obj.extract::<f64>() {
        Ok(f) => Number::from_f64(f).map(Value::Number).ok_or_else(finite),
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => Err(finite()),
        Err(e) => Err(err(format!(
            "`{here}` = {} is not allowed: must be a number ({})",
            shown(obj),
            e.value(py)
        ))),
    }
}

/// A config value as the Python value `json.loads` would give.
fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// Why a run's steps are at most [`MAX_RUN_STEPS`], for the messages.
const RUN_RANGE: &str = " (durations such as \"3ep\" and \"10%\" are resolved in floating point, exact up to 2^53 steps)";

/// The run's shape `Schedule(..., steps_per_epoch=, epochs=)` describes: steps per epoch
/// in `1..=2^53`, epochs finite and above 0, and the run's steps (epochs x steps per
/// epoch) at most 2^53, so that every duration resolves exactly and none is clamped.
fn shape_of(
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

fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::Step => "step",
        Interval::Epoch => "epoch",
    }
}

fn parse_interval(s: &str) -> PyResult<Interval> {
    match s {
        "step" => Ok(Interval::Step),
        "epoch" => Ok(Interval::Epoch),
        other => Err(err(format!(
            "`interval` = {other:?} is not allowed: must be \"step\" or \"epoch\""
        ))),
    }
}

/// A step argument: an integer in `0..=u64::MAX`.
fn step_arg(step: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    int_arg(step, name, 0, u64::MAX, STEP_RANGE)
}

/// A learning-rate schedule: a pure function of the step, computed by lrsched's Rust core.
///
/// `Schedule(config, *, steps_per_epoch=None, epochs=None)`: `config` is a dict (native, or
/// pasted from PyTorch, transformers, timm, optax or Keras), a JSON or TOML string, the
/// one-line form, or another Schedule. `steps_per_epoch` and `epochs` resolve durations
/// written `"3ep"` or `"10%"` (the run's steps, epochs x steps per epoch, at most 2^53, so
/// every duration resolves exactly). Numbers in a config dict are what Python takes as
/// numbers (numpy scalars and 0-d arrays, `Decimal`, `Fraction`). Bad configs raise
/// `lrsched_rs.ScheduleError` (a `ValueError`) with the message the `lrsched` command line
/// prints; so do steps outside `0 .. 2**64`.
///
/// >>> import lrsched_rs
/// >>> s = lrsched_rs.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 2, "gamma": 0.5})
/// >>> s.value(2), s.interval
/// (0.05, 'epoch')
/// >>> [float(v) for v in s.values(4)]
/// [0.1, 0.1, 0.05, 0.05]
/// >>> str(lrsched_rs.Schedule("cosine(lr=0.1, steps=100, min_lr=0)"))
/// 'cosine(lr=0.1, steps=100)'
/// >>> lrsched_rs.Schedule(s.to_config()) == s
/// True
#[pyclass(name = "Schedule", module = "lrsched_rs", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PySchedule {
    schedule: AnySchedule,
    interval: Interval,
}

impl PySchedule {
    /// Calls `f` with the values of steps `start ..= start + n - 1` (the last at most
    /// `u64::MAX`), [`VALUES_CHUNK`] at a time: each chunk computed without the GIL,
    /// Ctrl-C checked between chunks.
    fn each_chunk(
        &self,
        py: Python<'_>,
        start: u64,
        n: u64,
        mut f: impl FnMut(&[f64]) -> PyResult<()>,
    ) -> PyResult<()> {
        let mut done = 0;
        while done < n {
            let count = (n - done).min(VALUES_CHUNK);
            let first = start + done;
            let values = py.allow_threads(|| match first.checked_add(count) {
                Some(end) => self.schedule.values(first..end),
                // The chunk ends at the last step there is, which no exclusive range reaches.
                None => {
                    let mut v = self.schedule.values(first..u64::MAX);
                    v.push(self.schedule.value(u64::MAX));
                    v
                }
            });
            f(&values)?;
            py.check_signals()?;
            done += count;
        }
        Ok(())
    }

    /// The config with its `interval` key where it is not the type's default.
    fn config_value(&self) -> Value {
        let mut v = config::to_value(&self.schedule);
        if self.interval != config::default_interval(self.schedule.type_name()) {
            if let Value::Object(map) = &mut v {
                map.insert("interval".into(), interval_name(self.interval).into());
            }
        }
        v
    }

    fn from_any(
        config: &Bound<'_, PyAny>,
        shape: Option<&RunShape>,
    ) -> PyResult<(AnySchedule, Interval)> {
        if let Ok(s) = config.downcast::<PySchedule>() {
            let s = s.get();
            return Ok((s.schedule.clone(), s.interval));
        }
        if let Ok(text) = config.downcast::<PyString>() {
            let text = utf8(text, |r| format!("the config text {r}"))?;
            return load_text(&text, shape).map_err(err);
        }
        if config.is_instance_of::<PyDict>() {
            let value = py_to_value(config, "", 0)?;
            let c = config::load_value(value, shape).map_err(err)?;
            return Ok((c.schedule, c.interval));
        }
        Err(PyTypeError::new_err(format!(
            "a schedule is a dict, a JSON, TOML or one-line string, or an lrsched_rs.Schedule, not a {}",
            type_name(config)
        )))
    }
}

#[pymethods]
impl PySchedule {
    #[new]
    #[pyo3(signature = (config, *, steps_per_epoch=None, epochs=None))]
    fn new(
        config: &Bound<'_, PyAny>,
        steps_per_epoch: Option<&Bound<'_, PyAny>>,
        epochs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let shape = shape_of(steps_per_epoch, epochs)?;
        let (schedule, interval) = Self::from_any(config, shape.as_ref())?;
        Ok(PySchedule { schedule, interval })
    }

    /// The rate in force for optimizer step `step` (from 0).
    fn value(&self, py: Python<'_>, step: &Bound<'_, PyAny>) -> PyResult<f64> {
        let step = step_arg(step, "step")?;
        Ok(py.allow_threads(|| self.schedule.value(step)))
    }

    /// The momentum (or Adam's beta1) the schedule sets at `step`, or None.
    fn momentum(&self, step: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
        Ok(self.schedule.momentum(step_arg(step, "step")?))
    }

    /// The values for steps `start .. start + n`: a float64 numpy array when numpy is
    /// installed (filled here, no Python loop), else a list of floats. At most
    /// 1,000,000,000 values a call, as `lrsched trace --steps`.
    #[pyo3(signature = (n, start=None), text_signature = "(self, n, start=0)")]
    fn values<'py>(
        &self,
        py: Python<'py>,
        n: &Bound<'py, PyAny>,
        start: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = int_arg(
            n,
            "n",
            0,
            MAX_VALUES,
            " (the most values one call returns, as `lrsched trace --steps`: take more in slices with `start`)",
        )?;
        let start = match start {
            Some(s) => step_arg(s, "start")?,
            None => 0,
        };
        if n > 0 && start.checked_add(n - 1).is_none() {
            return Err(err(format!(
                "start = {start} with n = {n} is not allowed: the last step, start + n - 1, must be at most {}{STEP_RANGE}",
                u64::MAX
            )));
        }
        match py.import("numpy") {
            Ok(np) => {
                let len = usize::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_mul(8))
                    .ok_or_else(|| {
                        PyMemoryError::new_err(format!("{n} values do not fit in memory here"))
                    })?;
                // Written straight into the buffer numpy then wraps: no copy of the whole
                // on either side, and a buffer Python cannot allocate is a MemoryError.
                let buffer = PyByteArray::new_with(py, len, |bytes| {
                    let mut out = bytes.chunks_exact_mut(8);
                    self.each_chunk(py, start, n, |values| {
                        // `values` first: zip asks its first iterator first, and an
                        // exhausted `values` must not take a slot of `out` with it.
                        for (v, chunk) in values.iter().zip(&mut out) {
                            chunk.copy_from_slice(&v.to_ne_bytes());
                        }
                        Ok(())
                    })
                })?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("dtype", "float64")?;
                np.call_method("frombuffer", (buffer,), Some(&kwargs))
            }
            Err(_) => {
                let list = PyList::empty(py);
                self.each_chunk(py, start, n, |values| {
                    values.iter().try_for_each(|v| list.append(*v))
                })?;
                Ok(list.into_any())
            }
        }
    }

    /// The schedule's length in steps (where its decay ends), or None.
    #[getter]
    fn length(&self) -> Option<u64> {
        self.schedule.len()
    }

    /// `"step"` or `"epoch"`: how often a training loop advances the schedule.
    #[getter]
    fn interval(&self) -> &'static str {
        interval_name(self.interval)
    }

    /// Whether the schedule reacts to a metric (plateau, ReduceLROnPlateau).
    #[getter]
    fn needs_metric(&self) -> bool {
        self.schedule.needs_metric()
    }

    /// The config `type`.
    #[getter]
    fn r#type(&self) -> &'static str {
        self.schedule.type_name()
    }

    /// The schedule as a config dict (parameters at their defaults left out).
    fn to_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.config_value())
    }

    /// The config as JSON text.
    fn to_json(&self) -> String {
        self.config_value().to_string()
    }

    /// The closest config in another library's form: `native`, `torch`, `transformers`,
    /// `timm`, `optax` or `keras`.
    fn convert(&self, to: &str) -> PyResult<PyConversion> {
        let target: Target = to.parse().map_err(err)?;
        let c = convert::convert(&self.schedule, target).map_err(err)?;
        Ok(PyConversion {
            config: c.config,
            exact: c.exact,
            notes: c.notes,
        })
    }

    fn __str__(&self) -> String {
        oneline::print_value(&self.config_value())
    }

    fn __repr__(&self) -> String {
        format!("lrsched_rs.Schedule({})", Value::String(self.__str__()))
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((
            py.get_type::<PySchedule>().into_any(),
            (slf.get().to_json(),),
        ))
    }
}

/// A schedule converted into another library's config form.
#[pyclass(name = "Conversion", module = "lrsched_rs", frozen)]
pub struct PyConversion {
    config: Value,
    exact: bool,
    notes: Vec<String>,
}

#[pymethods]
impl PyConversion {
    /// The config in the target library's form (a dict `lrsched_rs.Schedule` reads back).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.config)
    }

    /// Whether the config's values agree with the source's at every step checked.
    #[getter]
    fn exact(&self) -> bool {
        self.exact
    }

    /// What differs and by how much, and anything else worth knowing about the form.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    /// The config in the one-line form.
    fn __str__(&self) -> String {
        oneline::print_value(&self.config)
    }

    fn __repr__(&self) -> String {
        format!(
            "lrsched_rs.Conversion(config={}, exact={}, notes={:?})",
            self.config,
            if self.exact { "True" } else { "False" },
            self.notes
        )
    }
}

/// Every schedule type: name, group, summary, parameters (key -> default or None when
/// required) and a one-line example.
#[pyfunction]
fn catalog_list<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for t in catalog::all() {
        let d = PyDict::new(py);
        d.set_item("name", t.name)?;
        d.set_item("group", t.group)?;
        d.set_item("summary", t.summary)?;
        let params = PyDict::new(py);
        for (k, v) in t.param_list() {
            params.set_item(k, v)?;
        }
        d.set_item("params", params)?;
        d.set_item("example", t.example)?;
        out.append(d)?;
    }
    Ok(out)
}

/// The stateful driver behind `lrsched_rs.torch.LRScheduler`: the step count, the groups'
/// scales and the plateau history; one call per training step.
#[pyclass(name = "_Driver", module = "lrsched_rs")]
pub struct PyDriver {
    driver: Driver,
}

#[pymethods]
impl PyDriver {
    #[new]
    #[pyo3(signature = (schedule, group_scales, interval))]
    fn new(
        schedule: &PySchedule,
        group_scales: &Bound<'_, PyAny>,
        interval: &str,
    ) -> PyResult<Self> {
        let group_scales = float_list(group_scales, "group_scales")?;
        let driver = Driver::new(schedule.schedule.clone())
            .with_group_scales(group_scales)
            .with_interval(parse_interval(interval)?);
        driver.validate().map_err(err)?;
        Ok(PyDriver { driver })
    }

    /// Steps (feeding `metric` first when given) and returns the new rates and momentum.
    #[pyo3(signature = (metric=None))]
    fn step(&mut self, metric: Option<&Bound<'_, PyAny>>) -> PyResult<(Vec<f64>, Option<f64>)> {
        match metric {
            Some(m) => {
                let m = float_arg(m, "metric")?;
                self.driver.step_with_metric(m).map_err(err)?
            }
            None => self.driver.step(),
        }
        Ok((self.driver.lrs(), self.driver.momentum()))
    }

    /// Feeds a metric measured at the end of the current step, without stepping.
    fn observe(&mut self, metric: &Bound<'_, PyAny>) -> PyResult<()> {
        let metric = float_arg(metric, "metric")?;
        self.driver.observe(metric).map_err(err)
    }

    /// Ends an epoch (with its metric when given), as `Driver::end_epoch[_with_metric]`.
    #[pyo3(signature = (metric=None))]
    fn end_epoch(
        &mut self,
        metric: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Vec<f64>, Option<f64>)> {
        match metric {
            Some(m) => {
                let m = float_arg(m, "metric")?;
                self.driver.end_epoch_with_metric(m).map_err(err)?
            }
            None => self.driver.end_epoch().map_err(err)?,
        }
        Ok((self.driver.lrs(), self.driver.momentum()))
    }

    /// Jumps to `step` (PyTorch's deprecated `scheduler.step(epoch)`: a native schedule is a
    /// closed form, so the value at any step is the schedule's) and returns its rates.
    fn seek(&mut self, step: &Bound<'_, PyAny>) -> PyResult<(Vec<f64>, Option<f64>)> {
        self.driver.seek(step_arg(step, "epoch")?);
        Ok((self.driver.lrs(), self.driver.momentum()))
    }

    /// The rates and momentum in force.
    fn current(&self) -> (Vec<f64>, Option<f64>) {
        (self.driver.lrs(), self.driver.momentum())
    }

    #[getter]
    fn step_count(&self) -> u64 {
        self.driver.current_step()
    }

    #[getter]
    fn needs_metric(&self) -> bool {
        self.driver.schedule().needs_metric()
    }

    /// The state to checkpoint, as a dict of plain values.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = serde_json::to_value(self.driver.state()).map_err(err)?;
        value_to_py(py, &v)
    }

    /// Continues from a saved state; refuses one saved from another config, naming every
    /// difference.
    fn restore(&mut self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = py_to_value(state, "state", 0)?;
        let st: DriverState = serde_json::from_value(v).map_err(|e| {
            err(format!(
                "not an lrsched scheduler state ({e}): load a state_dict() of lrsched_rs.torch.LRScheduler"
            ))
        })?;
        self.driver = self.driver.clone().restore(&st).map_err(err)?;
        Ok(())
    }
}

/// One call a [`PyTorchSim`] was given, as its state records it to replay on restore.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    /// `k` plain `step()` calls in a row.
    Steps(u64),
    /// `step(epoch)`.
    Epoch(f64),
}

/// PyTorch's scheduler over the optimizer's param groups (the core's [`TorchSimulator`]),
/// stepped as `torch.optim.lr_scheduler` steps it: `step()`, `step(epoch)` (the deprecated
/// closed-form path, and `CosineAnnealingWarmRestarts`' fractional epochs) and
/// `step(metrics)`; every group's rate and momentum as PyTorch leaves them, its own
/// rounding included. What `lrsched_rs.torch.LRScheduler` runs for a pasted PyTorch class.
#[pyclass(name = "_TorchSim", module = "lrsched_rs")]
pub struct PyTorchSim {
    schedule: lrsched::torch::TorchSchedule,
    sim: lrsched::torch::TorchSimulator,
    /// PyTorch's `last_epoch`, as the class keeps it (`floor(epoch)` after a fractional one).
    last_epoch: i64,
    /// The calls since construction that decide the state, replayed by `restore`: plain
    /// steps counted, and an epoch call forgets what came before it (its rate is a closed
    /// form of the epoch, or warm restarts' formula of it), except for `MultiplicativeLR`,
    /// whose `step(epoch)` multiplies the rate it finds. `ReduceLROnPlateau`'s metrics are
    /// not kept: its state is PyTorch's few numbers (`TorchSimulator::plateau_state`).
    log: Vec<Call>,
}

impl PyTorchSim {
    fn rates(&self) -> (Vec<f64>, Option<Vec<f64>>) {
        (
            self.sim.last_lr().to_vec(),
            self.sim.momentum().map(|m| m.to_vec()),
        )
    }

    /// `OneCycleLR`'s refusal of a step past `total_steps`: PyTorch raises
    /// `ValueError("Tried to step N times. ...")` rather than hold a rate, which would
    /// hide an off-by-one loop.
    fn check_one_cycle(&self, step_num: i64) -> PyResult<()> {
        if let lrsched::torch::TorchClass::OneCycleLR(c) = &self.schedule.class {
            let total = c.steps();
            if step_num > 0 && step_num as u64 > total {
                return Err(err(format!(
                    "Tried to step {step_num} times. The specified number of total steps is {total}"
                )));
            }
        }
        Ok(())
    }

    fn record(&mut self, call: Call) {
        match (&call, self.log.last_mut()) {
            (Call::Steps(k), Some(Call::Steps(n))) => *n = n.saturating_add(*k),
            (Call::Epoch(_), _)
                if !matches!(
                    self.schedule.class,
                    lrsched::torch::TorchClass::MultiplicativeLR(_)
                ) =>
            {
                self.log.clear();
                self.log.push(call);
            }
            _ => self.log.push(call),
        }
    }

    fn plain_step(&mut self) -> PyResult<()> {
        self.check_one_cycle(self.last_epoch.saturating_add(1))?;
        self.sim.step();
        self.last_epoch = self.last_epoch.saturating_add(1);
        Ok(())
    }

    fn epoch_step(&mut self, epoch: f64) -> PyResult<()> {
        use lrsched::torch::TorchClass;
        if matches!(
            self.schedule.class,
            TorchClass::SequentialLR(_) | TorchClass::ChainedScheduler(_)
        ) {
            return Err(PyTypeError::new_err(format!(
                "{}.step() takes no epoch (PyTorch's takes none either): call step()",
                self.schedule.class_name()
            )));
        }
        if epoch >= 0.0 && epoch.is_finite() {
            self.check_one_cycle(epoch.floor() as i64)?;
        }
        self.sim.step_to_epoch(epoch).map_err(err)?;
        self.last_epoch = epoch.floor() as i64;
        Ok(())
    }

    fn metric_step(&mut self, metric: f64) {
        self.sim.step_with_metric(metric);
        self.last_epoch = self.last_epoch.saturating_add(1);
    }

    /// The saved state's `plateau` entry read back (see [`PyTorchSim::state`]).
    fn plateau_snapshot(v: &Value) -> Option<lrsched::torch::PlateauSnapshot> {
        Some(lrsched::torch::PlateauSnapshot {
            best: json_float(v.get("best")?)?,
            num_bad_epochs: v.get("num_bad_epochs")?.as_u64()?,
            cooldown_counter: v.get("cooldown_counter")?.as_u64()?,
            last_epoch: v.get("last_epoch")?.as_i64()?,
            lrs: v
                .get("lrs")?
                .as_array()?
                .iter()
                .map(json_float)
                .collect::<Option<Vec<f64>>>()?,
        })
    }
}

#[pymethods]
impl PyTorchSim {
    #[new]
    fn new(schedule: &PySchedule) -> PyResult<Self> {
        let AnySchedule::Torch(t) = &schedule.schedule else {
            return Err(err(format!(
                "`{}` is not a PyTorch class: only those run as PyTorch's scheduler",
                schedule.schedule.type_name()
            )));
        };
        Ok(PyTorchSim {
            sim: lrsched::torch::TorchSimulator::new(t),
            schedule: t.clone(),
            last_epoch: 0,
            log: Vec::new(),
        })
    }

    /// `scheduler.step()`; the groups' rates and momenta (None without one).
    fn step(&mut self) -> PyResult<(Vec<f64>, Option<Vec<f64>>)> {
        self.plain_step()?;
        self.record(Call::Steps(1));
        Ok(self.rates())
    }

    /// `scheduler.step(epoch)`: PyTorch's closed form at `epoch` where the class has one
    /// (its get_lr at that epoch otherwise); warm restarts take fractional epochs.
    fn step_epoch(&mut self, epoch: &Bound<'_, PyAny>) -> PyResult<(Vec<f64>, Option<Vec<f64>>)> {
        let epoch = float_arg(epoch, "epoch")?;
        self.epoch_step(epoch)?;
        self.record(Call::Epoch(epoch));
        Ok(self.rates())
    }

    /// `ReduceLROnPlateau.step(metrics)` (other classes: `step()`).
    fn step_metric(&mut self, metric: &Bound<'_, PyAny>) -> PyResult<(Vec<f64>, Option<Vec<f64>>)> {
        let metric = float_arg(metric, "metric")?;
        if !self.schedule.needs_metric() {
            return self.step();
        }
        // Not logged: the plateau's state is its own few numbers (`state`).
        self.metric_step(metric);
        Ok(self.rates())
    }

    /// The rates and momenta in force.
    fn current(&self) -> (Vec<f64>, Option<Vec<f64>>) {
        self.rates()
    }

    /// PyTorch's `last_epoch`.
    #[getter]
    fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    #[getter]
    fn needs_metric(&self) -> bool {
        self.schedule.needs_metric()
    }

    /// The state to checkpoint: the config and the calls that decide the rates (plain
    /// steps counted), as plain values.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let log: Vec<Value> = self
            .log
            .iter()
            .map(|c| match c {
                Call::Steps(k) => serde_json::json!({ "steps": k }),
                Call::Epoch(e) => serde_json::json!({ "epoch": json_number(*e) }),
            })
            .collect();
        let mut v = serde_json::json!({
            "version": 1,
            "config": config::to_value(&AnySchedule::Torch(self.schedule.clone())),
            "calls": log,
        });
        // ReduceLROnPlateau: PyTorch's own state (a few numbers), not the metrics seen.
        if let Some(p) = self.sim.plateau_state() {
            v["plateau"] = serde_json::json!({
                "best": json_number(p.best),
                "num_bad_epochs": p.num_bad_epochs,
                "cooldown_counter": p.cooldown_counter,
                "last_epoch": p.last_epoch,
                "lrs": p.lrs.iter().map(|&lr| json_number(lr)).collect::<Vec<_>>(),
            });
        }
        value_to_py(py, &v)
    }

    /// Continues from a saved state (replaying its calls); refuses one saved from another
    /// config, naming every difference, and is then unchanged.
    fn restore(&mut self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = py_to_value(state, "state", 0)?;
        let bad = |what: &str| {
            err(format!(
                "not an lrsched scheduler state ({what}): load a state_dict() of lrsched_rs.torch.LRScheduler"
            ))
        };
        // `schedule`: a native driver's state, whose config is named the same way.
        let saved = v
            .get("config")
            .or_else(|| v.get("schedule"))
            .ok_or_else(|| bad("no `config`"))?;
        let mut differences = Vec::new();
        let mine = config::to_value(&AnySchedule::Torch(self.schedule.clone()));
        config::diff("schedule", saved, &mine, &mut differences);
        if !differences.is_empty() {
            return Err(err(lrsched::ScheduleError::StateMismatch { differences }));
        }
        let calls = v
            .get("calls")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no `calls` list"))?;
        let mut again = PyTorchSim {
            sim: lrsched::torch::TorchSimulator::new(&self.schedule),
            schedule: self.schedule.clone(),
            last_epoch: 0,
            log: Vec::new(),
        };
        for c in calls {
            if let Some(k) = c.get("steps").and_then(Value::as_u64) {
                for _ in 0..k {
                    again.plain_step()?;
                }
                again.record(Call::Steps(k));
            } else if let Some(e) = c.get("epoch").and_then(json_float) {
                again.epoch_step(e)?;
                again.record(Call::Epoch(e));
            } else {
                return Err(bad(&format!("call {c} is not steps, epoch or metric")));
            }
        }
        if let Some(p) = v.get("plateau") {
            let snapshot = Self::plateau_snapshot(p)
                .ok_or_else(|| bad(&format!("its plateau entry {p} does not read")))?;
            again.sim.restore_plateau(&snapshot).map_err(err)?;
            again.last_epoch = snapshot.last_epoch;
        }
        *self = again;
        Ok(())
    }
}

/// A float as JSON: a number, or `"NaN"` / `"inf"` / `"-inf"` (JSON has none of them).
fn json_number(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        // Rust prints them `NaN`, `inf` and `-inf`.
        None => Value::String(format!("{v}")),
    }
}

/// What [`json_number`] wrote, read back.
fn json_float(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        v => v.as_f64(),
    }
}

/// The run's shape a trial's durations are resolved with (as [`Trial::driver`] makes it)
/// within [`MAX_RUN_STEPS`]: the epoch budget, the steps per epoch (`steps_per_epoch`,
/// else `LRSCHED_STEPS_PER_EPOCH`) and their product, each named where it is too large.
fn check_trial_shape(trial: &Trial, steps_per_epoch: Option<u64>) -> PyResult<()> {
    use lrsched::trial::{ENV_EPOCHS, ENV_STEPS_PER_EPOCH};
    let epochs = trial.epochs;
    if epochs > MAX_RUN_STEPS {
        return Err(err(format!(
            "{ENV_EPOCHS} = {epochs} is not allowed: must be at most {MAX_RUN_STEPS}{RUN_RANGE}"
        )));
    }
    if trial.interval == Interval::Epoch {
        return Ok(());
    }
    let (spe, name) = match (steps_per_epoch, trial.steps_per_epoch) {
        (Some(n), _) => (n, "`steps_per_epoch`"),
        (None, Some(n)) => (n, ENV_STEPS_PER_EPOCH),
        (None, None) => return Ok(()),
    };
    if spe > MAX_RUN_STEPS {
        return Err(err(format!(
            "{name} = {spe} is not allowed: must be an integer <= {MAX_RUN_STEPS}{RUN_RANGE}"
        )));
    }
    if u128::from(spe) * u128::from(epochs) > u128::from(MAX_RUN_STEPS) {
        return Err(err(format!(
            "{name} = {spe} is not allowed with {ENV_EPOCHS} = {epochs}: the run's steps (epochs x steps per epoch) must be at most {MAX_RUN_STEPS}{RUN_RANGE}"
        )));
    }
    Ok(())
}

/// Whether `config` is a pasted PyTorch class that leaves `lr` to the optimizer.
fn is_torch_without_lr(config: &Value) -> bool {
    config
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| lrsched::torch::CLASS_NAMES.contains(&t))
        && config.get("lr").is_none()
}

/// The trial lrsched handed this process (the `LRSCHED_*` variables).
#[pyclass(name = "_Trial", module = "lrsched_rs", frozen)]
pub struct PyTrial {
    trial: Trial,
}

#[pymethods]
impl PyTrial {
    /// The trial from the environment, or None when lrsched did not start this process.
    #[staticmethod]
    fn from_env() -> PyResult<Option<PyTrial>> {
        Ok(Trial::from_env()
            .map_err(err)?
            .map(|trial| PyTrial { trial }))
    }

    /// The trial's schedule, durations resolved with the program's steps per epoch; for a
    /// pasted PyTorch class without `lr`, its config dict (durations resolved, the trial's
    /// `interval`), whose rate comes from the program's optimizer, as in PyTorch.
    #[pyo3(signature = (steps_per_epoch=None))]
    fn schedule<'py>(
        &self,
        py: Python<'py>,
        steps_per_epoch: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let steps_per_epoch = steps_per_epoch
            .map(|n| int_arg(n, "`steps_per_epoch`", 1, MAX_RUN_STEPS, RUN_RANGE))
            .transpose()?;
        check_trial_shape(&self.trial, steps_per_epoch)?;
        if !is_torch_without_lr(&self.trial.schedule) {
            let d = self.trial.driver(steps_per_epoch).map_err(err)?;
            let s = PySchedule {
                schedule: d.schedule().clone(),
                interval: d.interval(),
            };
            return Ok(Bound::new(py, s)?.into_any());
        }
        // Built with a stand-in rate, to check it and resolve its durations as any trial's;
        // the rate is then left out again for the optimizer's.
        let mut trial = self.trial.clone();
        trial.schedule["lr"] = Value::from(1.0);
        let d = trial.driver(steps_per_epoch).map_err(err)?;
        let mut v = config::to_value(d.schedule());
        if let Value::Object(map) = &mut v {
            map.remove("lr");
            map.insert("interval".into(), interval_name(d.interval()).into());
        }
        value_to_py(py, &v)
    }

    #[getter]
    fn name(&self) -> String {
        self.trial.name.clone()
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.trial.seed
    }
    #[getter]
    fn epochs(&self) -> u64 {
        self.trial.epochs
    }
    #[getter]
    fn interval(&self) -> &'static str {
        interval_name(self.trial.interval)
    }
    #[getter]
    fn max_steps(&self) -> Option<u64> {
        self.trial.max_steps
    }
    #[getter]
    fn steps_per_epoch(&self) -> Option<u64> {
        self.trial.steps_per_epoch
    }
    #[getter]
    fn out_dir(&self) -> String {
        self.trial.out_dir.display().to_string()
    }
    #[getter]
    fn metrics_path(&self) -> String {
        self.trial.metrics_path.display().to_string()
    }
}

/// Appends the protocol's JSON lines to a metrics file.
#[pyclass(name = "_Metrics", module = "lrsched_rs")]
pub struct PyMetrics {
    metrics: Metrics,
}

#[pymethods]
impl PyMetrics {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        Ok(PyMetrics {
            metrics: Metrics::append(Path::new(path)).map_err(err)?,
        })
    }

    /// One epoch's line: `values` is a list of `(name, number)` pairs. A line longer
    /// than the protocol reads (64 KiB) is refused before anything is written.
    fn epoch(&mut self, epoch: &Bound<'_, PyAny>, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let epoch = int_arg(epoch, "epoch", 1, u64::MAX, " (epochs are 64-bit counts)")?;
        // A copy made first: nothing a value's conversion does to the list changes it.
        let Some(items) = list_copy(values)? else {
            return Err(PyTypeError::new_err(format!(
                "metrics must be a list of (name, number) pairs, not a {}",
                type_name(values)
            )));
        };
        let mut pairs = Vec::with_capacity(items.len());
        for item in items.iter() {
            let (name, value): (Bound<'_, PyString>, Bound<'_, PyAny>) = item.extract()?;
            let name = utf8(&name, |r| format!("metric name {r}"))?;
            let value = float_arg(&value, &format!("metric `{name}`"))?;
            pairs.push((name, value));
        }
        let values: Vec<(&str, f64)> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        check_line("epoch", epoch, &values)?;
        self.metrics.epoch(epoch, &values).map_err(err)
    }

    /// One optimizer step's line.
    fn step(
        &mut self,
        step: &Bound<'_, PyAny>,
        lr: &Bound<'_, PyAny>,
        loss: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let step = step_arg(step, "step")?;
        let (lr, loss) = (float_arg(lr, "lr")?, float_arg(loss, "loss")?);
        let values = [("lr", lr), ("loss", loss)];
        check_line("step", step, &values)?;
        self.metrics.step(step, lr, loss).map_err(err)
    }
}

/// The bytes of the line [`Metrics`] writes for `{key: at, values...}`, newline included:
/// JSON numbers as serde_json prints them, `NaN` / `Infinity` / `-Infinity` otherwise.
fn line_bytes(key: &str, at: u64, values: &[(&str, f64)]) -> usize {
    let number = |v: f64| match Number::from_f64(v) {
        Some(n) => n.to_string().len(),
        None if v.is_nan() => "NaN".len(),
        None if v > 0.0 => "Infinity".len(),
        None => "-Infinity".len(),
    };
    let head = format!("{{\"{key}\":{at}").len();
    let body: usize = values
        .iter()
        .map(|(name, v)| 1 + Value::String((*name).to_string()).to_string().len() + 1 + number(*v))
        .sum();
    head + body + "}\n".len()
}

/// Refuses a line over [`MAX_LINE_BYTES`], naming its size and the limit: lrsched would
/// refuse the trial's metrics file at that line.
fn check_line(key: &str, at: u64, values: &[(&str, f64)]) -> PyResult<()> {
    let bytes = line_bytes(key, at, values);
    if bytes > MAX_LINE_BYTES {
        return Err(err(format!(
            "the {key} {at} line would be {bytes} bytes: the trial protocol reads lines of at most {MAX_LINE_BYTES} bytes (64 KiB); report fewer or shorter metric names"
        )));
    }
    Ok(())
}

/// A config's text (JSON, TOML or the one-line form) as a dict, without building it (the
/// PyTorch scheduler fills in the optimizer's `lr` where a pasted class config leaves it out).
#[pyfunction]
fn parse_config<'py>(py: Python<'py>, text: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
    let text = utf8(text, |r| format!("the config text {r}"))?;
    value_to_py(py, &text_config(&text).map_err(err)?)
}

#[pymodule]
fn _lrsched(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScheduleError", m.py().get_type::<ScheduleError>())?;
    m.add_class::<PySchedule>()?;
    m.add_class::<PyConversion>()?;
    m.add_class::<PyDriver>()?;
    m.add_class::<PyTorchSim>()?;
    m.add_class::<PyTrial>()?;
    m.add_class::<PyMetrics>()?;
    m.add_function(wrap_pyfunction!(catalog_list, m)?)?;
    m.add_function(wrap_pyfunction!(parse_config, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneline_is_told_from_toml_and_json() {
        assert!(is_oneline("cosine(lr=0.1)"));
        assert!(is_oneline("  optax.cosine_decay_schedule (x=1)"));
        assert!(!is_oneline("type = \"cosine\""));
        assert!(!is_oneline("{\"type\": \"cosine\"}"));
        assert!(!is_oneline(""));
    }

    #[test]
    fn every_text_form_reads_the_same_schedule() {
        let json = load_text(r#"{"type": "StepLR", "lr": 0.1, "step_size": 3}"#, None).unwrap();
        let toml = load_text("type = \"StepLR\"\nlr = 0.1\nstep_size = 3\n", None).unwrap();
        let line = load_text("StepLR(lr=0.1, step_size=3)", None).unwrap();
        assert_eq!(json, toml);
        assert_eq!(json, line);
        assert_eq!(json.1, Interval::Epoch);
    }

    #[test]
    fn line_bytes_is_the_size_of_the_line_metrics_writes() {
        let dir = std::env::temp_dir().join(format!("lrsched-python-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let mut m = Metrics::append(&path).unwrap();
        let name = "quote\" back\\ tab\t é \u{1}".repeat(3);
        type Line<'a> = (&'a str, u64, Vec<(&'a str, f64)>);
        let cases: [Line; 4] = [
            ("epoch", 1, vec![("val_loss", 0.25), ("val_acc", 1.0 / 3.0)]),
            (
                "epoch",
                u64::MAX,
                vec![(&name, f64::NAN), ("a", f64::INFINITY)],
            ),
            (
                "epoch",
                7,
                vec![("b", -f64::INFINITY), ("c", -1e-300), ("d", 1e300)],
            ),
            ("step", 120, vec![("lr", 0.05), ("loss", 0.42)]),
        ];
        let mut expected = 0;
        for (key, at, values) in &cases {
            if *key == "step" {
                m.step(*at, values[0].1, values[1].1).unwrap();
            } else {
                m.epoch(*at, values).unwrap();
            }
            expected += line_bytes(key, *at, values);
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, expected);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_are_the_cores_messages() {
        let e = load_text("type = \"cosin\"\nlr = 0.1\n", None).unwrap_err();
        assert!(e.to_string().contains("did you mean `cosine`"), "{e}");
        let e = load_text("{\"type\": ", None).unwrap_err();
        assert!(e.to_string().contains("JSON"), "{e}");
    }
}
