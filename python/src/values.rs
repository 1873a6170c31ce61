//! Python values and config values, each way: what Python takes as a number, a list or a
//! dict is what the config holds.

use crate::args::{index, list_copy, shown, shown_repr, type_name, utf8};
use crate::err;
use crate::schedule::PySchedule;
use lrsched::oneline;
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Number, Value};

/// Whether `obj` is numpy's boolean scalar (`np.True_`): a boolean, as Python's `True`
/// is, not the number its `__float__` gives.
pub(crate) fn is_numpy_bool(obj: &Bound<'_, PyAny>) -> bool {
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
pub(crate) fn py_to_value(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
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
pub(crate) fn int_value(int: &Bound<'_, PyAny>, here: &str) -> PyResult<Value> {
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
pub(crate) fn float_value(obj: &Bound<'_, PyAny>, here: &str) -> PyResult<Value> {
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
pub(crate) fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
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
