//! One schedule source: [`ScheduleSpec`], a schedule's config as written with the interval
//! it is stepped at, read by one rule from any text a user gives and built by one
//! pipeline for a given run.
//!
//! Every entry point (the `config` and `oneline` loaders, the trial protocol, the command
//! line's `--schedule` and `--schedule-config`, the tools, the Python package) reads a
//! schedule into a `ScheduleSpec` and builds it from there, so a schedule is told apart,
//! checked, given its base rate and plateau mode, and resolved against the run's length
//! the same way, with the same messages, wherever it comes from.
//!
//! ```
//! use lrsched::{time::RunShape, Interval, Schedule, ScheduleSpec};
//! // The one-line form, JSON and TOML are told apart by one rule (see `TextFormat`).
//! let spec = ScheduleSpec::parse("StepLR(lr=0.1, step_size=\"1ep\", gamma=0.5)").unwrap();
//! assert_eq!(spec.interval(), Interval::Epoch); // PyTorch steps StepLR per epoch
//! let json = ScheduleSpec::parse(r#"{"type": "StepLR", "lr": 0.1, "step_size": "1ep", "gamma": 0.5}"#).unwrap();
//! assert_eq!(json, spec);
//! // Built for a run of 3 epochs of 100 steps: stepped per epoch, "1ep" is one of its steps.
//! let s = spec.resolve(&RunShape::new(100, 1).with_epochs(3)).unwrap();
//! assert_eq!(s.value(1), 0.05);
//! ```
//!
//! A spec travels as its config, the `interval` key kept where it was stated (serde), so a
//! trial's file, a SLURM task or a tune trial carries it typed and reads it back equal:
//!
//! ```
//! use lrsched::ScheduleSpec;
//! let spec = ScheduleSpec::parse("cosine(lr=0.1, steps=\"10%\", interval=epoch)").unwrap();
//! let text = serde_json::to_string(&spec).unwrap();
//! assert_eq!(text, r#"{"interval":"epoch","lr":0.1,"steps":"10%","type":"cosine"}"#);
//! assert_eq!(serde_json::from_str::<ScheduleSpec>(&text).unwrap(), spec);
//! ```

use crate::config::{self, Config};
use crate::driver::Interval;
use crate::time::RunShape;
use crate::{AnySchedule, PlateauMode, ScheduleError};
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// The config types of the reduce-on-plateau schedules, whose `mode` says whether a lower
/// or a higher metric is better: native `plateau`, PyTorch's `ReduceLROnPlateau`, and the
/// transformers and timm paste-ins ([`ScheduleSpec::with_plateau_mode`] sets it).
pub const PLATEAU_TYPES: &[&str] = &[
    "plateau",
    "ReduceLROnPlateau",
    "transformers.get_reduce_on_plateau_schedule",
    "timm.PlateauLRScheduler",
];

/// The stand-in run [`ScheduleSpec::check`] resolves durations against: 2^20 steps in one
/// epoch, long enough that no fraction of it rounds to 0 steps.
const CHECK_STEPS_PER_EPOCH: u64 = 1 << 20;

/// Which syntax a schedule's text is written in.
///
/// The one rule ([`TextFormat::detect`]) every entry point tells them apart by:
///
/// - a file named `*.toml` is TOML and one named `*.json` JSON;
/// - otherwise text that starts with a name and `(` (`cosine(`, `StepLR (`,
///   `transformers.get_cosine_schedule_with_warmup(`) is the one-line form;
/// - text that starts with `{`, or with `[` but not `[[` (a TOML array of tables), is JSON;
/// - anything else is TOML.
///
/// ```
/// use lrsched::spec::TextFormat;
/// use std::path::Path;
/// assert_eq!(TextFormat::detect("cosine(lr=0.1, steps=10)", None), TextFormat::OneLine);
/// assert_eq!(TextFormat::detect(" {\"type\": \"cosine\"}", None), TextFormat::Json);
/// assert_eq!(TextFormat::detect("type = \"cosine\"", None), TextFormat::Toml);
/// assert_eq!(TextFormat::detect("[[schedules]]\nname = \"a\"", None), TextFormat::Toml);
/// assert_eq!(TextFormat::detect("{\"type\": 1}", Some(Path::new("s.toml"))), TextFormat::Toml);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// A JSON config object.
    Json,
    /// A TOML config table (the top-level table is the config).
    Toml,
    /// The one-line form, `cosine(lr=0.1, steps=1000)` ([`crate::oneline`]).
    OneLine,
}

impl TextFormat {
    /// The format of `text`, read from the file `path` when there is one (its extension
    /// decides when it is `.toml` or `.json`), by the rule in [the type's docs](TextFormat).
    pub fn detect(text: &str, path: Option<&Path>) -> TextFormat {
        match path.and_then(Path::extension).and_then(|e| e.to_str()) {
            Some("toml") => return TextFormat::Toml,
            Some("json") => return TextFormat::Json,
            _ => {}
        }
        let t = text.trim_start();
        let name_end = t
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(t.len());
        if name_end > 0 && t[name_end..].trim_start().starts_with('(') {
            TextFormat::OneLine
        } else if t.starts_with('{') || (t.starts_with('[') && !t.starts_with("[[")) {
            TextFormat::Json
        } else {
            TextFormat::Toml
        }
    }

    /// The text as a config value, durations as written.
    pub fn read(self, text: &str) -> Result<Value, ScheduleError> {
        match self {
            TextFormat::Json => config::json_value(text),
            TextFormat::OneLine => crate::oneline::parse_value(text),
            #[cfg(feature = "toml")]
            TextFormat::Toml => config::toml_value(text),
            #[cfg(not(feature = "toml"))]
            TextFormat::Toml => Err(ScheduleError::Invalid {
                path: String::new(),
                message:
                    "TOML configs need lrsched's `toml` feature; give JSON or the one-line form"
                        .into(),
            }),
        }
    }
}

/// A schedule as a user gave it: its config (durations such as `"3ep"` and `"10%"` as
/// written, unresolved) and the interval it is stepped at, typed.
///
/// The interval follows the one rule of [`config::interval_of`]: the config's `interval`
/// key when it states one (kept apart here, [`ScheduleSpec::stated_interval`]), else per
/// epoch for PyTorch's classes but `OneCycleLR` and `CyclicLR`, else per step.
///
/// Made by [`ScheduleSpec::parse`] (any text), [`ScheduleSpec::parse_file`] (a file's
/// text) or [`ScheduleSpec::from_value`] (a config value); built by
/// [`ScheduleSpec::resolve`] for a run, [`ScheduleSpec::build`] for a shape in the
/// schedule's own steps, or only checked by [`ScheduleSpec::check`].
///
/// ```
/// use lrsched::{Interval, PlateauMode, ScheduleSpec};
/// let spec = ScheduleSpec::parse("warmup(steps=\"1ep\", schedule=plateau(lr=0.1))")
///     .unwrap()
///     .with_plateau_mode(PlateauMode::Max, "val_acc")
///     .unwrap();
/// assert_eq!(spec.config()["schedule"]["mode"], "max");
/// assert_eq!(spec.interval(), Interval::Step);
/// assert!(spec.check().is_ok());
/// assert_eq!(spec.to_string(), "warmup(schedule=plateau(lr=0.1, mode=max), steps=1ep)");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// The config without its `interval` key.
    config: Value,
    /// The interval the config (or the caller, [`ScheduleSpec::with_interval`]) stated.
    stated: Option<Interval>,
}

impl ScheduleSpec {
    /// Reads a schedule from text in any of its syntaxes, told apart by
    /// [`TextFormat::detect`]: the one-line form, JSON or TOML. Syntax errors carry the
    /// line and column; an `interval` other than `"step"` or `"epoch"` is refused.
    ///
    /// ```
    /// use lrsched::ScheduleSpec;
    /// let a = ScheduleSpec::parse("cosine(lr=0.1, steps=100)").unwrap();
    /// let b = ScheduleSpec::parse("type = \"cosine\"\nlr = 0.1\nsteps = 100\n").unwrap();
    /// assert_eq!(a, b);
    /// let e = ScheduleSpec::parse("cosine(lr=0.1, steps=100, interval=batch)").unwrap_err();
    /// assert!(e.to_string().contains("\"step\" or \"epoch\""), "{e}");
    /// ```
    pub fn parse(text: &str) -> Result<ScheduleSpec, ScheduleError> {
        ScheduleSpec::parse_as(text, TextFormat::detect(text, None))
    }

    /// Reads a schedule from the text of the file `path`: its extension decides when it is
    /// `.toml` or `.json`, else the text as [`ScheduleSpec::parse`] reads it.
    pub fn parse_file(text: &str, path: &Path) -> Result<ScheduleSpec, ScheduleError> {
        ScheduleSpec::parse_as(text, TextFormat::detect(text, Some(path)))
    }

    /// Reads a schedule from text in the given syntax (`--schedule` takes only the
    /// one-line form, the trial protocol only JSON).
    pub fn parse_as(text: &str, format: TextFormat) -> Result<ScheduleSpec, ScheduleError> {
        ScheduleSpec::from_value(format.read(text)?)
    }

    /// A schedule from its config value (a parsed JSON or TOML config, the one-line form's
    /// [`parse_value`](crate::oneline::parse_value), a Python dict): the top-level
    /// `interval` key is checked and kept apart; nothing is built yet.
    ///
    /// ```
    /// use lrsched::{Interval, ScheduleSpec};
    /// let v = serde_json::json!({"type": "cosine", "lr": 0.1, "steps": 9, "interval": "epoch"});
    /// let spec = ScheduleSpec::from_value(v).unwrap();
    /// assert_eq!(spec.interval(), Interval::Epoch);
    /// assert!(spec.config().get("interval").is_none());
    /// ```
    pub fn from_value(mut value: Value) -> Result<ScheduleSpec, ScheduleError> {
        let stated = value.get("interval").is_some();
        let interval = config::take_interval(&mut value)?;
        Ok(ScheduleSpec {
            config: value,
            stated: stated.then_some(interval),
        })
    }

    /// A spec from a config already without its `interval` key and the interval stated
    /// for it (a trial's, which `LRSCHED_INTERVAL` may have set).
    pub(crate) fn from_parts(config: Value, interval: Interval) -> ScheduleSpec {
        ScheduleSpec {
            config,
            stated: Some(interval),
        }
    }

    /// The config, without its `interval` key; durations as written.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The config's `type` (`""` when it has none: building it then says so).
    pub fn type_name(&self) -> &str {
        self.config
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The interval the schedule is stepped at: the stated one, else the default of its
    /// type ([`config::default_interval`]).
    pub fn interval(&self) -> Interval {
        self.stated
            .unwrap_or_else(|| config::default_interval(self.type_name()))
    }

    /// The interval the config (or [`ScheduleSpec::with_interval`]) stated, if any.
    pub fn stated_interval(&self) -> Option<Interval> {
        self.stated
    }

    /// The same schedule stepped at `interval` (a `--schedule-interval` flag, the trial
    /// protocol's `LRSCHED_INTERVAL`), stated from now on.
    pub fn with_interval(mut self, interval: Interval) -> ScheduleSpec {
        self.stated = Some(interval);
        self
    }

    /// The config as it travels: with its `interval` key where one was stated.
    pub fn to_value(&self) -> Value {
        let mut v = self.config.clone();
        if let (Some(i), Value::Object(map)) = (self.stated, &mut v) {
            map.insert("interval".into(), interval_name(i).into());
        }
        v
    }

    /// The config (without `interval`) and the interval.
    pub fn into_parts(self) -> (Value, Interval) {
        let interval = self.interval();
        (self.config, interval)
    }

    /// Whether the schedule's base rate is the optimizer's: a pasted PyTorch class, whose
    /// `lr` may be left out and filled in by [`ScheduleSpec::with_base_lr`]. Every other
    /// schedule states its own rates.
    pub fn takes_base_lr(&self) -> bool {
        crate::torch::CLASS_NAMES.contains(&self.type_name())
    }

    /// Whether the schedule still needs the optimizer's base rate: a PyTorch class
    /// without `lr`.
    pub fn needs_base_lr(&self) -> bool {
        self.takes_base_lr() && self.config.get("lr").is_none()
    }

    /// The schedule with the optimizer's base rate `lr` where it needs one
    /// ([`ScheduleSpec::needs_base_lr`]); unchanged otherwise (a stated `lr` wins).
    ///
    /// ```
    /// use lrsched::ScheduleSpec;
    /// let spec = ScheduleSpec::parse("StepLR(step_size=3)").unwrap();
    /// assert!(spec.needs_base_lr());
    /// let spec = spec.with_base_lr(0.1);
    /// assert_eq!(spec.config()["lr"], 0.1);
    /// assert_eq!(spec.with_base_lr(0.5).config()["lr"], 0.1);
    /// ```
    pub fn with_base_lr(mut self, lr: f64) -> ScheduleSpec {
        if self.takes_base_lr() {
            if let Value::Object(map) = &mut self.config {
                map.entry("lr").or_insert(lr.into());
            }
        }
        self
    }

    /// Sets the `mode` of every reduce-on-plateau schedule in the config tree
    /// ([`PLATEAU_TYPES`]) to `mode` where the config leaves it out, and refuses a stated
    /// mode that contradicts it; `monitor` names the metric for the message. The metric is
    /// fed as it is and the mode decides what counts as better, as PyTorch's
    /// `ReduceLROnPlateau` does (flipping the metric's sign instead breaks the relative
    /// threshold and double-flips an explicit `mode = max`).
    ///
    /// ```
    /// use lrsched::{PlateauMode, ScheduleSpec};
    /// let spec = ScheduleSpec::parse("ReduceLROnPlateau(lr=0.1, mode=min)").unwrap();
    /// let e = spec.with_plateau_mode(PlateauMode::Max, "val_acc").unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "plateau `mode` = \"min\" contradicts the monitor val_acc: val_acc is higher is better, so the mode must be \"max\" (or left out)"
    /// );
    /// ```
    pub fn with_plateau_mode(
        mut self,
        mode: PlateauMode,
        monitor: &str,
    ) -> Result<ScheduleSpec, ScheduleError> {
        set_plateau_mode(&mut self.config, mode, monitor)?;
        Ok(self)
    }

    /// The shape `run` has in the schedule's own steps: `run` itself for a schedule
    /// stepped per optimizer step; one step per epoch over `run`'s epochs for one stepped
    /// per epoch (its `"3ep"` is 3 of its steps).
    pub fn shape_in_steps(&self, run: &RunShape) -> RunShape {
        match self.interval() {
            Interval::Step => run.clone(),
            Interval::Epoch => {
                let shape = RunShape::new(1, 1);
                match run.epochs {
                    Some(e) => shape.with_epochs(e),
                    None => shape,
                }
            }
        }
    }

    /// The schedule built for a training run of shape `run` (its data, batch size and
    /// epochs): durations resolved with [`ScheduleSpec::shape_in_steps`], then checked.
    ///
    /// ```
    /// use lrsched::{time::RunShape, Schedule, ScheduleSpec};
    /// let spec = ScheduleSpec::parse("cosine(lr=0.1, steps=\"100%\")").unwrap();
    /// let s = spec.resolve(&RunShape::new(1000, 100).with_epochs(3)).unwrap();
    /// assert_eq!(s.len(), Some(30)); // 10 steps per epoch, 3 epochs
    /// ```
    pub fn resolve(&self, run: &RunShape) -> Result<AnySchedule, ScheduleError> {
        self.build(Some(&self.shape_in_steps(run)))
    }

    /// The schedule built with durations resolved against `shape` as given, in the
    /// schedule's own steps (none without a shape: a duration is then an error), checked.
    pub fn build(&self, shape: Option<&RunShape>) -> Result<AnySchedule, ScheduleError> {
        config::from_value_with_shape(self.config.clone(), shape)
    }

    /// The schedule built as [`ScheduleSpec::build`] builds it, with its interval.
    pub fn load(&self, shape: Option<&RunShape>) -> Result<Config, ScheduleError> {
        Ok(Config {
            schedule: self.build(shape)?,
            interval: self.interval(),
        })
    }

    /// Checks the schedule without a run: the type, its keys and values, and that its
    /// durations resolve (against a stand-in run of 2^20 steps; the run resolves them with
    /// its own shape). What a tool checks once before it starts any trial.
    ///
    /// ```
    /// use lrsched::ScheduleSpec;
    /// assert!(ScheduleSpec::parse("cosine(lr=0.1, steps=\"10%\")").unwrap().check().is_ok());
    /// let e = ScheduleSpec::parse("cosine(lr=0.1, stepz=10)").unwrap().check().unwrap_err();
    /// assert!(e.to_string().contains("did you mean `steps`"), "{e}");
    /// ```
    pub fn check(&self) -> Result<(), ScheduleError> {
        let stand_in = RunShape::new(CHECK_STEPS_PER_EPOCH, 1).with_epochs(1.0);
        self.build(Some(&stand_in)).map(drop)
    }
}

/// The name the config and the trial protocol write an interval as.
fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::Step => "step",
        Interval::Epoch => "epoch",
    }
}

/// [`ScheduleSpec::with_plateau_mode`] on a config value, every level of the tree: for
/// code that holds a raw config (`lrsched_train::trainer::Monitor::apply_mode`), so the
/// list of plateau types and the message stay the core's.
///
/// ```
/// use lrsched::{spec, PlateauMode};
/// let mut v = serde_json::json!({"type": "warmup", "steps": 5, "schedule": {"type": "plateau", "lr": 0.1}});
/// spec::set_plateau_mode(&mut v, PlateauMode::Max, "val_acc").unwrap();
/// assert_eq!(v["schedule"]["mode"], "max");
/// ```
pub fn set_plateau_mode(
    config: &mut Value,
    mode: PlateauMode,
    monitor: &str,
) -> Result<(), ScheduleError> {
    let (wanted, better) = match mode {
        PlateauMode::Max => ("max", "higher"),
        PlateauMode::Min => ("min", "lower"),
    };
    match config {
        Value::Object(map) => {
            let is_plateau = map
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| PLATEAU_TYPES.contains(&t));
            if is_plateau {
                match map.get("mode").and_then(Value::as_str) {
                    None => {
                        map.insert("mode".into(), wanted.into());
                    }
                    Some(m) if m == wanted => {}
                    Some(m) => {
                        return Err(ScheduleError::Invalid {
                            path: String::new(),
                            message: format!(
                                "plateau `mode` = {m:?} contradicts the monitor {monitor}: \
                                 {monitor} is {better} is better, so the mode must be \
                                 {wanted:?} (or left out)"
                            ),
                        })
                    }
                }
            }
            map.values_mut()
                .try_for_each(|v| set_plateau_mode(v, mode, monitor))
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| set_plateau_mode(v, mode, monitor)),
        _ => Ok(()),
    }
}

impl std::str::FromStr for ScheduleSpec {
    type Err = ScheduleError;

    /// [`ScheduleSpec::parse`].
    fn from_str(text: &str) -> Result<ScheduleSpec, ScheduleError> {
        ScheduleSpec::parse(text)
    }
}

impl fmt::Display for ScheduleSpec {
    /// The one-line form of [`ScheduleSpec::to_value`], which [`ScheduleSpec::parse`]
    /// reads back equal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::oneline::print_value(&self.to_value()))
    }
}

impl From<AnySchedule> for ScheduleSpec {
    /// A built schedule's config, stepped at its type's default interval.
    fn from(schedule: AnySchedule) -> ScheduleSpec {
        ScheduleSpec {
            config: config::to_value(&schedule),
            stated: None,
        }
    }
}

impl From<Config> for ScheduleSpec {
    /// A loaded config: its interval is stated where it is not its type's default.
    fn from(c: Config) -> ScheduleSpec {
        let stated =
            (c.interval != config::default_interval(c.schedule.type_name())).then_some(c.interval);
        ScheduleSpec {
            config: config::to_value(&c.schedule),
            stated,
        }
    }
}

impl serde::Serialize for ScheduleSpec {
    /// As [`ScheduleSpec::to_value`]: the config with its stated `interval`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for ScheduleSpec {
    /// A config object ([`ScheduleSpec::from_value`]), or a string in any of the
    /// syntaxes [`ScheduleSpec::parse`] reads (`schedule = "cosine(lr=0.1, steps=100)"` in
    /// a TOML file). A key given twice in one object is refused, as in JSON text.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::DeserializeSeed;
        let value = config::UniqueKeys { path: "" }.deserialize(deserializer)?;
        match value {
            Value::String(text) => ScheduleSpec::parse(&text),
            other => ScheduleSpec::from_value(other),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schedule;
    use serde_json::json;

    #[test]
    fn every_syntax_reads_to_the_same_spec() {
        let want = ScheduleSpec::from_value(json!({"type": "StepLR", "lr": 0.1, "step_size": 3,
            "interval": "step"}))
        .unwrap();
        let mut texts = vec![
            "StepLR(lr=0.1, step_size=3, interval=step)",
            "  StepLR (lr=0.1, step_size=3, interval=step)",
            r#"{"type": "StepLR", "lr": 0.1, "step_size": 3, "interval": "step"}"#,
        ];
        if cfg!(feature = "toml") {
            texts.push("type = \"StepLR\"\nlr = 0.1\nstep_size = 3\ninterval = \"step\"\n");
        }
        for text in texts {
            assert_eq!(ScheduleSpec::parse(text).unwrap(), want, "{text}");
        }
        assert_eq!(want.interval(), Interval::Step);
        assert_eq!(want.stated_interval(), Some(Interval::Step));
    }

    #[test]
    fn a_file_extension_decides_before_the_text() {
        let json = r#"{"type": "cosine", "lr": 0.1, "steps": 10}"#;
        assert!(ScheduleSpec::parse_file(json, Path::new("s.conf")).is_ok());
        assert!(ScheduleSpec::parse_file(json, Path::new("s.json")).is_ok());
        let e = ScheduleSpec::parse_file(json, Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("TOML"), "{e}");
        // A `.json` file holding the one-line form is not read as one.
        let e =
            ScheduleSpec::parse_file("cosine(lr=0.1, steps=10)", Path::new("s.json")).unwrap_err();
        assert!(e.to_string().contains("JSON"), "{e}");
    }

    #[test]
    fn loading_matches_the_config_loaders() {
        // The same schedule, interval and messages as `config::load_value`.
        for v in [
            json!({"type": "StepLR", "lr": 0.1, "step_size": 3}),
            json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}),
            json!({"type": "cosine", "lr": 0.1, "steps": "50%", "interval": "epoch"}),
            json!({"type": "cosine", "lr": 0.1, "stepz": 5}),
            json!({"type": "cosine", "lr": 0.1, "steps": 5, "interval": "batch"}),
            json!(3),
        ] {
            let shape = RunShape::new(10, 1).with_epochs(2);
            let old = config::load_value(v.clone(), Some(&shape)).map_err(|e| e.to_string());
            let new = ScheduleSpec::from_value(v.clone())
                .and_then(|s| s.load(Some(&shape)))
                .map_err(|e| e.to_string());
            assert_eq!(new, old, "{v}");
        }
    }

    #[test]
    fn resolve_counts_in_the_schedules_own_steps() {
        let run = RunShape::new(100, 10).with_epochs(4); // 10 steps per epoch
        let per_step = ScheduleSpec::parse("cosine(lr=1.0, steps=\"2ep\")").unwrap();
        assert_eq!(per_step.resolve(&run).unwrap().len(), Some(20));
        let per_epoch =
            ScheduleSpec::parse("cosine(lr=1.0, steps=\"2ep\", interval=epoch)").unwrap();
        assert_eq!(per_epoch.resolve(&run).unwrap().len(), Some(2));
        assert_eq!(per_epoch.shape_in_steps(&run).total_steps(), 4);
        // Without a shape a duration is an error that says what it needs.
        let e = per_step.build(None).unwrap_err().to_string();
        assert!(e.contains("needs the run's shape"), "{e}");
    }

    #[test]
    fn the_stated_interval_travels_and_the_default_does_not() {
        let plain = ScheduleSpec::parse("StepLR(lr=0.1, step_size=3)").unwrap();
        assert_eq!(plain.interval(), Interval::Epoch);
        assert_eq!(plain.stated_interval(), None);
        assert!(plain.to_value().get("interval").is_none());
        // Stated equal to the default: still written, as the user wrote it.
        let stated = ScheduleSpec::parse("StepLR(lr=0.1, step_size=3, interval=epoch)").unwrap();
        assert_eq!(stated.to_value()["interval"], "epoch");
        assert_ne!(stated, plain);
        let overridden = plain.clone().with_interval(Interval::Step);
        assert_eq!(overridden.interval(), Interval::Step);
        assert_eq!(overridden.to_value()["interval"], "step");
        for spec in [plain, stated, overridden] {
            let back: ScheduleSpec =
                serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
            assert_eq!(back, spec);
            assert_eq!(ScheduleSpec::parse(&spec.to_string()).unwrap(), spec);
        }
    }

    #[test]
    fn serde_takes_an_object_or_a_string_and_refuses_duplicate_keys() {
        let a: ScheduleSpec =
            serde_json::from_str(r#"{"type": "cosine", "lr": 0.1, "steps": 10}"#).unwrap();
        let b: ScheduleSpec = serde_json::from_str(r#""cosine(lr=0.1, steps=10)""#).unwrap();
        assert_eq!(a, b);
        let e = serde_json::from_str::<ScheduleSpec>(r#"{"type": "cosine", "lr": 0.1, "lr": 1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("duplicate key `lr`"), "{e}");
        let e = serde_json::from_str::<ScheduleSpec>(r#""cosine(lr=0.1, interval=sometimes)""#)
            .unwrap_err();
        assert!(e.to_string().contains("\"step\" or \"epoch\""), "{e}");
    }

    #[test]
    fn base_lr_fills_only_a_pytorch_class_without_one() {
        let torch = ScheduleSpec::parse("CosineAnnealingLR(T_max=10)").unwrap();
        assert!(torch.takes_base_lr() && torch.needs_base_lr());
        assert!(torch.build(None).is_err());
        let filled = torch.with_base_lr(0.2);
        assert!(!filled.needs_base_lr());
        assert_eq!(filled.build(None).unwrap().value(0), 0.2);
        let native = ScheduleSpec::parse("cosine(lr=0.1, steps=10)").unwrap();
        assert!(!native.takes_base_lr());
        assert_eq!(native.clone().with_base_lr(0.2), native);
    }

    #[test]
    fn plateau_modes_are_set_in_every_plateau_type_at_any_depth() {
        for &t in PLATEAU_TYPES {
            let v = json!({"type": "scale", "factor": 1.0, "schedule": {"type": t}});
            let spec = ScheduleSpec::from_value(v)
                .unwrap()
                .with_plateau_mode(PlateauMode::Max, "val_acc")
                .unwrap();
            assert_eq!(spec.config()["schedule"]["mode"], "max", "{t}");
        }
        let list = json!({"type": "ChainedScheduler", "schedulers": [{"type": "ReduceLROnPlateau", "mode": "max"}]});
        let e = ScheduleSpec::from_value(list)
            .unwrap()
            .with_plateau_mode(PlateauMode::Min, "val_loss")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "plateau `mode` = \"max\" contradicts the monitor val_loss: val_loss is lower is better, so the mode must be \"min\" (or left out)");
        // Other schedules' `mode` keys are theirs.
        let cyclic =
            ScheduleSpec::parse("cyclic(base_lr=0.01, max_lr=0.1, step_size_up=5, mode=exp_range)")
                .unwrap();
        assert_eq!(
            cyclic
                .clone()
                .with_plateau_mode(PlateauMode::Max, "val_acc")
                .unwrap(),
            cyclic
        );
    }

    #[test]
    fn check_resolves_durations_against_a_stand_in() {
        for ok in [
            "cosine(lr=0.1, steps=\"1%\")",
            "StepLR(lr=0.1, step_size=\"1ep\")",
        ] {
            ScheduleSpec::parse(ok).unwrap().check().unwrap();
        }
        let e = ScheduleSpec::parse("nope(lr=1)")
            .unwrap()
            .check()
            .unwrap_err();
        assert!(
            e.to_string().contains("unknown schedule type `nope`"),
            "{e}"
        );
    }
}
