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
//!
//! # The interval: per step or per epoch
//!
//! One rule, the same for `lrsched train`, `lrsched trace`, the candle and burn adapters and
//! [`load_value`] (see [`interval_of`]):
//!
//! - the config's top-level `interval` key (`"step"` or `"epoch"`) when it has one;
//! - otherwise per epoch for PyTorch's classes, as PyTorch's examples step them, except
//!   `OneCycleLR` and `CyclicLR`, which PyTorch's docs say to step after every batch;
//! - and per step for everything else: native schedules and the transformers, timm, optax
//!   and Keras paste-ins, which those libraries step per optimizer step.
//!
//! Every loader accepts the `interval` key (JSON, TOML, the one-line form's `interval=step`);
//! the `from_*` functions return the schedule alone, the `load_*` functions the schedule
//! with its interval, as a [`Config`]. They are thin wrappers over the one schedule source,
//! [`ScheduleSpec`]: text or a value read into a spec (the interval kept typed beside the
//! config), built by [`from_value_with_shape`]. Code that hands a schedule on (a trial, a
//! task file) or adjusts it (a base rate, a plateau mode) uses the spec itself.
//!
//! ```
//! use lrsched::{config, Interval};
//! let c = config::load_json_str(r#"{"type": "StepLR", "lr": 0.1, "step_size": 30}"#, None).unwrap();
//! assert_eq!(c.interval, Interval::Epoch);
//! let c = config::load_json_str(
//!     r#"{"type": "StepLR", "lr": 0.1, "step_size": 30, "interval": "step"}"#, None).unwrap();
//! assert_eq!(c.interval, Interval::Step);
//! let c = config::load_json_str(r#"{"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 100}"#, None).unwrap();
//! assert_eq!(c.interval, Interval::Step);
//! ```

use crate::driver::{Driver, Interval};
use crate::spec::{ScheduleSpec, TextFormat};
use crate::time::RunShape;
use crate::{suggest, AnySchedule, Schedule, ScheduleError};
use serde::de::DeserializeSeed;
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

/// PyTorch classes whose docs say to step them after every batch; every other PyTorch class
/// is stepped per epoch by default.
pub const TORCH_PER_BATCH_CLASSES: &[&str] = &["OneCycleLR", "CyclicLR"];

/// The interval a schedule of config type `type_name` is stepped at when its config does not
/// say: per epoch for PyTorch's classes other than [`TORCH_PER_BATCH_CLASSES`], per step
/// for everything else (see [the module docs](self#the-interval-per-step-or-per-epoch)).
///
/// ```
/// use lrsched::{config, Interval};
/// assert_eq!(config::default_interval("StepLR"), Interval::Epoch);
/// assert_eq!(config::default_interval("ReduceLROnPlateau"), Interval::Epoch);
/// assert_eq!(config::default_interval("CyclicLR"), Interval::Step);
/// assert_eq!(config::default_interval("cosine"), Interval::Step);
/// assert_eq!(config::default_interval("optax.warmup_cosine_decay_schedule"), Interval::Step);
/// ```
pub fn default_interval(type_name: &str) -> Interval {
    if crate::torch::CLASS_NAMES.contains(&type_name)
        && !TORCH_PER_BATCH_CLASSES.contains(&type_name)
    {
        Interval::Epoch
    } else {
        Interval::Step
    }
}

/// The interval of a config, without building it: its top-level `interval` key when it has
/// one, else [`default_interval`] of its `type`.
///
/// Fails if `interval` is neither `"step"` nor `"epoch"`.
///
/// ```
/// use lrsched::{config, Interval};
/// let v = serde_json::json!({"type": "MultiStepLR", "lr": 0.1, "milestones": [30, 60]});
/// assert_eq!(config::interval_of(&v).unwrap(), Interval::Epoch);
/// let v = serde_json::json!({"type": "cosine", "lr": 0.1, "steps": 9, "interval": "epoch"});
/// assert_eq!(config::interval_of(&v).unwrap(), Interval::Epoch);
/// let bad = serde_json::json!({"type": "cosine", "lr": 0.1, "steps": 9, "interval": "batch"});
/// assert!(config::interval_of(&bad).unwrap_err().to_string().contains("\"step\" or \"epoch\""));
/// ```
pub fn interval_of(value: &Value) -> Result<Interval, ScheduleError> {
    let name = value.get("type").and_then(Value::as_str).unwrap_or("");
    match value.get("interval") {
        None => Ok(default_interval(name)),
        Some(Value::String(s)) if s == "step" => Ok(Interval::Step),
        Some(Value::String(s)) if s == "epoch" => Ok(Interval::Epoch),
        Some(other) => Err(ScheduleError::invalid(
            if name.is_empty() { "schedule" } else { name },
            "interval",
            other,
            "\"step\" or \"epoch\"",
        )),
    }
}

/// A schedule read from a config, with the interval it is stepped at (see
/// [`interval_of`]).
///
/// Anything that converts into an [`AnySchedule`] converts into a `Config` with the
/// [`default_interval`] of its type, so the adapters take a schedule or a loaded config
/// alike.
///
/// ```
/// use lrsched::{config::Config, Cosine, Interval};
/// let c: Config = Cosine::new(0.1, 100).into();
/// assert_eq!(c.interval, Interval::Step);
/// assert_eq!(c.driver().interval(), Interval::Step);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The schedule, validated.
    pub schedule: AnySchedule,
    /// When it advances: per optimizer step or per epoch.
    pub interval: Interval,
}

impl Config {
    /// A driver at step 0 stepping the schedule at the config's interval.
    pub fn driver(&self) -> Driver {
        Driver::new(self.schedule.clone()).with_interval(self.interval)
    }
}

impl<T: Into<AnySchedule>> From<T> for Config {
    fn from(schedule: T) -> Self {
        let schedule = schedule.into();
        let interval = default_interval(schedule.type_name());
        Config { schedule, interval }
    }
}

/// Reads a schedule and its interval from a parsed config (the one-line form's
/// [`parse_value`](crate::oneline::parse_value) included), resolving durations with
/// `shape` as [`from_value_with_shape`] does.
///
/// ```
/// use lrsched::{config, oneline, Interval};
/// let v = oneline::parse_value("StepLR(lr=0.1, step_size=3, interval=step)").unwrap();
/// assert_eq!(config::load_value(v, None).unwrap().interval, Interval::Step);
/// ```
///
/// A thin wrapper of [`ScheduleSpec`]: `ScheduleSpec::from_value(value)?.load(shape)`.
pub fn load_value(value: Value, shape: Option<&RunShape>) -> Result<Config, ScheduleError> {
    ScheduleSpec::from_value(value)?.load(shape)
}

/// Reads a schedule and its interval from JSON text (see [`load_value`]); a thin wrapper
/// of [`ScheduleSpec::parse_as`] with [`TextFormat::Json`].
pub fn load_json_str(text: &str, shape: Option<&RunShape>) -> Result<Config, ScheduleError> {
    ScheduleSpec::parse_as(text, TextFormat::Json)?.load(shape)
}

/// Reads a schedule and its interval from TOML text (see [`load_value`]).
///
/// ```
/// use lrsched::{config, Interval};
/// let c = config::load_toml_str("type = \"StepLR\"\nlr = 0.1\nstep_size = 3\n", None).unwrap();
/// assert_eq!(c.interval, Interval::Epoch);
/// ```
#[cfg(feature = "toml")]
pub fn load_toml_str(text: &str, shape: Option<&RunShape>) -> Result<Config, ScheduleError> {
    ScheduleSpec::parse_as(text, TextFormat::Toml)?.load(shape)
}

/// Reads a schedule from JSON text; syntax errors carry the line and column. A top-level
/// `interval` key is accepted and checked; [`load_json_str`] returns it with the schedule.
pub fn from_json_str(text: &str) -> Result<AnySchedule, ScheduleError> {
    from_json_str_with_shape(text, None)
}

/// As [`from_json_str`], resolving `"3ep"` / `"10%"` durations against `shape`.
pub fn from_json_str_with_shape(
    text: &str,
    shape: Option<&RunShape>,
) -> Result<AnySchedule, ScheduleError> {
    Ok(load_json_str(text, shape)?.schedule)
}

/// JSON text as a config value: the one JSON reader of every loader (and of the trial
/// protocol's `LRSCHED_SCHEDULE`). Syntax errors carry the line and column; a key given
/// twice in one object is refused, naming the key and where the object is, as TOML and
/// the one-line form refuse it (serde_json alone keeps the last value, so
/// `"lr": 0.1, "lr": 0.2` silently trained at 0.2).
///
/// ```
/// use lrsched::config;
/// let v = config::json_value(r#"{"type": "cosine", "lr": 0.1, "steps": 100}"#).unwrap();
/// assert_eq!(v["lr"], 0.1);
/// let e = config::json_value(r#"{"type": "cosine", "lr": 0.1, "lr": 0.2}"#).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "invalid JSON at line 1, column 34: duplicate key `lr`: a key may be given only once in an object"
/// );
/// let e = config::json_value(r#"{"type": "warmup", "schedule": {"steps": 1, "steps": 2}}"#)
///     .unwrap_err();
/// assert!(e.to_string().contains("duplicate key `steps` in `schedule`"), "{e}");
/// ```
pub fn json_value(text: &str) -> Result<Value, ScheduleError> {
    let mut de = serde_json::Deserializer::from_str(text);
    UniqueKeys { path: "" }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| ScheduleError::Syntax {
            format: "JSON",
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })
}

/// Builds a [`Value`] as `Value::deserialize` does, refusing a key given twice in one
/// object; `path` is where the value being read is (`schedules[1].schedule`), for the
/// message.
///
/// Recursion is bounded by the deserializer (serde_json stops at 128 levels), as for
/// `Value` itself.
pub(crate) struct UniqueKeys<'a> {
    pub(crate) path: &'a str,
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As `Value` reads it: a float JSON cannot hold is null.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, items.len());
            match seq.next_element_seed(UniqueKeys { path: &path })? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let at = if self.path.is_empty() {
                    String::new()
                } else {
                    format!(" in `{}`", self.path)
                };
                return Err(serde::de::Error::custom(format!(
                    "duplicate key `{key}`{at}: a key may be given only once in an object"
                )));
            }
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let value = map.next_value_seed(UniqueKeys { path: &path })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
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
    Ok(load_toml_str(text, shape)?.schedule)
}

/// TOML text as a config value, syntax errors with their line and column.
#[cfg(feature = "toml")]
pub fn toml_value(text: &str) -> Result<Value, ScheduleError> {
    toml::from_str(text).map_err(|e| {
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
    })
}

/// A config file's text as a config value, its syntax told by the one rule of
/// [`TextFormat::detect`]: a `.toml` file is TOML and a `.json` file JSON; any other name
/// is the one-line form when its text is `name(...)`, JSON when it starts with `{` or `[`
/// (not `[[`), TOML otherwise. Durations (`"3ep"`, `"10%"`) stay as written for the caller
/// to resolve with its run's shape, whichever the format. [`ScheduleSpec::parse_file`]
/// reads the same text into a spec.
///
/// ```
/// use std::path::Path;
/// let v = lrsched::config::text_value("type = \"cosine\"\nsteps = \"10%\"\n", Path::new("s.toml")).unwrap();
/// assert_eq!(v["steps"], "10%");
/// let v = lrsched::config::text_value(r#"{"type": "cosine"}"#, Path::new("s.conf")).unwrap();
/// assert_eq!(v["type"], "cosine");
/// ```
#[cfg(feature = "toml")]
pub fn text_value(text: &str, path: &std::path::Path) -> Result<Value, ScheduleError> {
    TextFormat::detect(text, Some(path)).read(text)
}

/// Reads a schedule from a parsed config and validates it.
pub fn from_value(value: Value) -> Result<AnySchedule, ScheduleError> {
    from_value_with_shape(value, None)
}

/// Reads a schedule from a parsed config, first turning duration strings (`"3ep"`,
/// `"10%"`, `"0.25dur"`) into steps with `shape`; without a shape they are an error. A
/// top-level `interval` key is checked and left out of the schedule ([`load_value`] returns
/// it).
///
/// The one builder every loader ends in ([`ScheduleSpec::build`] calls it).
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
    interval_of(&value)?;
    if let Value::Object(map) = &mut value {
        map.remove("interval");
    }
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
///
/// [`ScheduleSpec::from_value`] is this rule's one caller in the core: a spec keeps the
/// interval typed beside the config, so nothing takes it out and puts it back.
pub fn take_interval(value: &mut Value) -> Result<Interval, ScheduleError> {
    let interval = interval_of(value)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("interval");
    }
    Ok(interval)
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
    /// From any serde format; a key given twice in one object is refused, as
    /// [`json_value`] refuses it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = UniqueKeys { path: "" }.deserialize(deserializer)?;
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
                // The message names the duration as written: "1e30ep" (not what it
                // came to) is what the user can find and fix.
                *value = Value::from(shape.steps(d).map_err(|message| ScheduleError::Invalid {
                    path: path.to_string(),
                    message: format!("duration \"{s}\": {message}"),
                })?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// How messages name a JSON value's kind (`a number`, `a list`, ...).
pub(crate) fn kind(v: &Value) -> &'static str {
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

#[cfg(test)]
mod interval_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_interval_rule_for_every_family() {
        // Every PyTorch class but the two its docs step per batch: per epoch.
        for &name in crate::torch::CLASS_NAMES {
            let want = if name == "OneCycleLR" || name == "CyclicLR" {
                Interval::Step
            } else {
                Interval::Epoch
            };
            assert_eq!(default_interval(name), want, "{name}");
        }
        // Native schedules and the other libraries' paste-ins: per step.
        for name in all_type_names() {
            if !crate::torch::CLASS_NAMES.contains(&name) {
                assert_eq!(default_interval(name), Interval::Step, "{name}");
            }
        }
    }

    #[test]
    fn every_loader_accepts_interval_and_the_stated_one_wins() {
        let steplr = json!({"type": "StepLR", "lr": 0.1, "step_size": 3});
        let mut stated = steplr.clone();
        stated["interval"] = json!("step");
        let plain = from_value(steplr.clone()).unwrap();
        // The schedule is the same with or without the key; only the interval differs.
        assert_eq!(from_value(stated.clone()).unwrap(), plain);
        assert_eq!(
            from_json_str(&stated.to_string()).unwrap(),
            plain,
            "from_json_str"
        );
        assert_eq!(
            load_value(steplr.clone(), None).unwrap().interval,
            Interval::Epoch
        );
        let loaded = load_json_str(&stated.to_string(), None).unwrap();
        assert_eq!(loaded.interval, Interval::Step);
        assert_eq!(loaded.schedule, plain);
        assert_eq!(loaded.driver().interval(), Interval::Step);
        let oneline = "StepLR(lr=0.1, step_size=3, interval=step)";
        assert_eq!(crate::oneline::parse(oneline).unwrap(), plain);
        let v = crate::oneline::parse_value(oneline).unwrap();
        assert_eq!(load_value(v, None).unwrap().interval, Interval::Step);
        // A native schedule may be asked to step per epoch.
        let c = load_json_str(
            r#"{"type": "cosine", "lr": 0.1, "steps": 9, "interval": "epoch"}"#,
            None,
        )
        .unwrap();
        assert_eq!(c.interval, Interval::Epoch);
        // OneCycleLR steps per batch unless told otherwise.
        let c = load_value(
            json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}),
            None,
        )
        .unwrap();
        assert_eq!(c.interval, Interval::Step);
    }

    #[cfg(feature = "toml")]
    #[test]
    fn toml_accepts_interval() {
        let text = "type = \"StepLR\"\nlr = 0.1\nstep_size = 3\ninterval = \"step\"\n";
        assert_eq!(load_toml_str(text, None).unwrap().interval, Interval::Step);
        assert!(from_toml_str(text).is_ok());
    }

    #[test]
    fn a_bad_interval_names_the_value_and_what_is_allowed() {
        for bad in [json!("batch"), json!(1), json!(null)] {
            let v = json!({"type": "StepLR", "lr": 0.1, "step_size": 3, "interval": bad});
            let e = from_value(v.clone()).unwrap_err().to_string();
            assert!(
                e.contains("interval") && e.contains("\"step\" or \"epoch\""),
                "{e}"
            );
            assert_eq!(load_value(v, None).unwrap_err().to_string(), e);
        }
    }

    #[test]
    fn interval_is_only_a_top_level_key() {
        let v = json!({"type": "warmup", "steps": 2,
            "schedule": {"type": "cosine", "lr": 0.1, "steps": 9, "interval": "step"}});
        let e = from_value(v).unwrap_err().to_string();
        assert!(e.contains("interval"), "{e}");
    }
}
