//! Reading and writing schedules as configs: JSON, TOML and plain `serde_json::Value`s.
//!
//! A config is an object with a `type` key naming the schedule and the schedule's own
//! parameters beside it. Native types are snake_case (`cosine`, `one_cycle`); PyTorch
//! classes keep PyTorch's names and keyword arguments (`StepLR`, `step_size`, `gamma`)
//! with the optimizer's base rate as `lr`.
//!
//! ```
//! use lrsched::{config, Schedule};
//! let s = config::from_json_str(r#"{"type": "cosine", "lr": 0.1, "steps": 100}"#).unwrap();
//! assert_eq!(s.value(100), 0.0);
//! let e = config::from_json_str(r#"{"type": "cosine", "lr": 0.1, "stepz": 100}"#).unwrap_err();
//! assert!(e.to_string().contains("did you mean `steps`"));
//! ```
//!
//! Durations may be written as steps (`100`), epochs (`"3ep"`) or a fraction of the run
//! (`"10%"`, `"0.1dur"`) when a [`RunShape`] is given: see [`from_value_with_shape`].

use crate::time::RunShape;
use crate::{suggest, AnySchedule, Schedule, ScheduleError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every `type` a config may name: native schedules, PyTorch classes, then the paste-in
/// types of transformers, timm, optax and Keras.
pub fn all_type_names() -> Vec<&'static str> {
    crate::NATIVE_TYPES
        .iter()
        .chain(crate::torch::CLASS_NAMES)
        .copied()
        .chain(crate::compat::type_names())
        .collect()
}

/// Reads a schedule from JSON text; syntax errors carry the line and column.
pub fn from_json_str(text: &str) -> Result<AnySchedule, ScheduleError> {
    from_json_str_with_shape(text, None)
}

/// As [`from_json_str`], resolving `"3ep"` / `"10%"` durations against `shape`.
pub fn from_json_str_with_shape(
    text: &str,
    shape: Option<&RunShape>,
) -> Result<AnySchedule, ScheduleError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ScheduleError::Syntax {
        format: "JSON",
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    from_value_with_shape(value, shape)
}

/// Reads a schedule from TOML text: the top-level table is the config.
#[cfg(feature = "toml")]
pub fn from_toml_str(text: &str) -> Result<AnySchedule, ScheduleError> {
    from_toml_str_with_shape(text, None)
}

/// As [`from_toml_str`], resolving durations against `shape`.
#[cfg(feature = "toml")]
pub fn from_toml_str_with_shape(
    text: &str,
    shape: Option<&RunShape>,
) -> Result<AnySchedule, ScheduleError> {
    let value: Value = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ScheduleError::Syntax {
            format: "TOML",
            line,
            column,
            message: e.message().trim().lines().collect::<Vec<_>>().join("; "),
        }
    })?;
    from_value_with_shape(value, shape)
}

/// Reads a schedule from a parsed config and validates it.
pub fn from_value(value: Value) -> Result<AnySchedule, ScheduleError> {
    from_value_with_shape(value, None)
}

/// Reads a schedule from a parsed config, first turning duration strings (`"3ep"`,
/// `"10%"`, `"0.25dur"`) into steps with `shape`; without a shape they are an error.
///
/// ```
/// use lrsched::{config, time::RunShape, Schedule};
/// let shape = RunShape::new(1000, 100).with_epochs(10); // 10 steps per epoch, 100 in all
/// let v = serde_json::json!({"type": "cosine", "lr": 1.0, "steps": "50%"});
/// let s = config::from_value_with_shape(v, Some(&shape)).unwrap();
/// assert_eq!(s.len(), Some(50));
/// ```
pub fn from_value_with_shape(
    mut value: Value,
    shape: Option<&RunShape>,
) -> Result<AnySchedule, ScheduleError> {
    check_depth(&value)?;
    resolve_durations(&mut value, shape, "")?;
    let s = parse_value(value)?;
    s.validate()?;
    Ok(s)
}

/// Removes a config's `interval` key and says how often the schedule advances: the one
/// rule every entry point follows (`lrsched train`, the trial protocol, the adapters).
///
/// The `interval` key when the config has one (`"step"` or `"epoch"`); when it has none,
/// per epoch for PyTorch's classes except `OneCycleLR` and `CyclicLR` (PyTorch's docs step
/// those per batch and the rest per epoch), and per step for everything else (native,
/// transformers, timm, optax, Keras).
///
/// ```
/// use lrsched::{config, driver::Interval};
/// let mut c = serde_json::json!({"type": "StepLR", "lr": 0.1, "step_size": 30});
/// assert_eq!(config::take_interval(&mut c).unwrap(), Interval::Epoch);
/// let mut c = serde_json::json!({"type": "cosine", "lr": 0.1, "steps": 100, "interval": "epoch"});
/// assert_eq!(config::take_interval(&mut c).unwrap(), Interval::Epoch);
/// assert!(c.get("interval").is_none());
/// ```
pub fn take_interval(value: &mut Value) -> Result<crate::driver::Interval, ScheduleError> {
    use crate::driver::Interval;
    let name = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match value.as_object_mut().and_then(|m| m.remove("interval")) {
        None if crate::torch::CLASS_NAMES.contains(&name.as_str())
            && !matches!(name.as_str(), "OneCycleLR" | "CyclicLR") =>
        {
            Ok(Interval::Epoch)
        }
        None => Ok(Interval::Step),
        Some(Value::String(s)) if s == "step" => Ok(Interval::Step),
        Some(Value::String(s)) if s == "epoch" => Ok(Interval::Epoch),
        Some(other) => Err(ScheduleError::Invalid {
            path: "interval".into(),
            message: format!("{other} is not allowed: must be \"step\" or \"epoch\""),
        }),
    }
}

/// Writes a schedule as a config object (parameters at their defaults are left out).
pub fn to_value(s: &AnySchedule) -> Value {
    crate::any::native_to_value(s)
}

fn parse_value(value: Value) -> Result<AnySchedule, ScheduleError> {
    let Value::Object(mut map) = value else {
        return Err(ScheduleError::Invalid {
            path: String::new(),
            message: format!(
                "a schedule must be an object with a `type` key, found {}",
                kind(&value)
            ),
        });
    };
    let name = match map.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ScheduleError::Invalid {
                path: "type".into(),
                message: format!("`type` must be a string, found {}", kind(other)),
            })
        }
        None => {
            return Err(ScheduleError::MissingKey {
                schedule: "schedule".into(),
                key: "type".into(),
            })
        }
    };
    if crate::torch::CLASS_NAMES.contains(&name.as_str()) {
        return crate::torch::TorchSchedule::from_value(&Value::Object(map)).map(Into::into);
    }
    map.remove("type");
    if name.contains('.') {
        if let Some(result) = crate::compat::from_value(&name, map.clone()) {
            return result;
        }
    }
    crate::any::native_from_value(&name, Value::Object(map)).unwrap_or_else(|| {
        Err(ScheduleError::UnknownType {
            suggestion: suggest(&name, all_type_names()),
            name,
        })
    })
}

/// Deserializes one family's parameters (the config without `type`), turning serde's
/// messages into typed errors that name the key.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    schedule: &str,
    body: Value,
) -> Result<T, ScheduleError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        serde_message_to_error(schedule, &path, &message)
    })
}

/// Maps serde's wording for unknown and missing fields onto typed errors.
pub(crate) fn serde_message_to_error(schedule: &str, path: &str, message: &str) -> ScheduleError {
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("unknown field") && !ticked.is_empty() {
        let allowed: Vec<String> = ticked[1..].iter().map(|s| s.to_string()).collect();
        return ScheduleError::UnknownKey {
            schedule: schedule.to_string(),
            key: ticked[0].to_string(),
            suggestion: suggest(ticked[0], allowed.iter().map(String::as_str)),
            allowed,
        };
    }
    if message.starts_with("missing field") && !ticked.is_empty() {
        return ScheduleError::MissingKey {
            schedule: schedule.to_string(),
            key: ticked[0].to_string(),
        };
    }
    let path = if path == "." { "" } else { path };
    ScheduleError::Invalid {
        path: if path.is_empty() {
            schedule.to_string()
        } else {
            format!("{schedule}.{path}")
        },
        message: message.to_string(),
    }
}

/// A family's parameters as a config object with its `type` first.
pub(crate) fn tagged<T: Serialize>(name: &str, params: &T) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("type".into(), Value::String(name.into()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(params) {
        out.extend(fields);
    }
    Value::Object(out)
}

impl Serialize for AnySchedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        to_value(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AnySchedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        parse_value(value).map_err(serde::de::Error::custom)
    }
}

/// Configs nest at most this deep (objects and lists), as the one-line form does, so every
/// config that reads also prints to a one-line form that reads back, and no tree is deep
/// enough to exhaust the stack.
pub const MAX_DEPTH: usize = crate::oneline::MAX_DEPTH;

/// Refuses a tree nested deeper than [`MAX_DEPTH`], without recursion (the tree may be
/// arbitrarily deep).
fn check_depth(value: &Value) -> Result<(), ScheduleError> {
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(m) => Box::new(m.values()),
            Value::Array(a) => Box::new(a.iter()),
            _ => continue,
        };
        if depth + 1 > MAX_DEPTH {
            return Err(ScheduleError::Invalid {
                path: String::new(),
                message: format!("the config is nested deeper than {MAX_DEPTH} levels"),
            });
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// Replaces duration strings with step counts, everywhere in the tree.
/// Turns the duration strings of a config (`"3ep"`, `"10%"`) into steps with `shape`,
/// leaving everything else as written (a paste-in stays a paste-in).
///
/// ```
/// use lrsched::{config, time::RunShape};
/// let mut v = serde_json::json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": "100%"});
/// config::resolve_durations_with(&mut v, &RunShape::new(100, 10).with_epochs(3)).unwrap();
/// assert_eq!(v["total_steps"], 30);
/// ```
pub fn resolve_durations_with(value: &mut Value, shape: &RunShape) -> Result<(), ScheduleError> {
    resolve_durations(value, Some(shape), "")
}

fn resolve_durations(
    value: &mut Value,
    shape: Option<&RunShape>,
    path: &str,
) -> Result<(), ScheduleError> {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                resolve_durations(v, shape, &p)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                resolve_durations(v, shape, &format!("{path}[{i}]"))?;
            }
        }
        Value::String(s) => {
            if let Some(d) = crate::time::Duration::parse(s) {
                let Some(shape) = shape else {
                    return Err(ScheduleError::Invalid {
                        path: path.to_string(),
                        message: format!(
                            "duration \"{s}\" needs the run's shape (steps per epoch, total steps); give steps as a number instead"
                        ),
                    });
                };
                *value = Value::from(shape.steps(d).map_err(|message| ScheduleError::Invalid {
                    path: path.to_string(),
                    message,
                })?);
            }
        }
        _ => {}
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(feature = "toml")]
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

/// Appends the paths where two configs differ, as `path: saved -> given`, so a refusal
/// to mix a saved state with another config can say exactly what changed.
///
/// ```
/// let mut out = Vec::new();
/// let a = serde_json::json!({"type": "cosine", "lr": 0.1, "steps": 100});
/// let b = serde_json::json!({"type": "cosine", "lr": 0.2, "steps": 100});
/// lrsched::config::diff("schedule", &a, &b, &mut out);
/// assert_eq!(out, ["schedule.lr: 0.1 -> 0.2"]);
/// ```
pub fn diff(path: &str, saved: &Value, given: &Value, out: &mut Vec<String>) {
    match (saved, given) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let null = Value::Null;
                diff(
                    &format!("{path}.{k}"),
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} -> {b}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_trees_are_refused_not_overflowed() {
        let mut v = serde_json::json!({"type": "constant", "lr": 0.1});
        // 200 levels: what the fuzzer found overflowing a debug thread's stack.
        for _ in 0..200 {
            v = serde_json::json!({"type": "scale", "factor": 1.0, "schedule": v});
        }
        let e = from_value(v).unwrap_err();
        assert!(e.to_string().contains("deeper than 64"), "{e}");
        let mut ok = serde_json::json!({"type": "constant", "lr": 0.1});
        for _ in 0..30 {
            ok = serde_json::json!({"type": "scale", "factor": 1.0, "schedule": ok});
        }
        let s = from_value(ok).unwrap();
        assert_eq!(
            crate::oneline::parse(&crate::oneline::print(&s)).unwrap(),
            s
        );
    }
}
