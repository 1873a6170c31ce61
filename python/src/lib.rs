//! `lrsched._lrsched`: the extension module behind the `lrsched` Python package.
//!
//! A thin layer over the `lrsched` crate: every schedule, every config form, every error
//! message is the crate's own. Python sees [`PySchedule`] (`lrsched.Schedule`), the
//! catalog, conversions, a driver the PyTorch scheduler steps, and the trial protocol.
//! The Python package (`python/lrsched/`) adds the PyTorch subclass and the trial helpers
//! on top. Errors raise `lrsched.ScheduleError`, a `ValueError`, with the message the
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
use lrsched::trial::{Metrics, Trial, TrialError};
use lrsched::{catalog, oneline, AnySchedule, Driver, DriverState, Interval, Schedule};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use std::path::Path;

create_exception!(
    lrsched,
    ScheduleError,
    PyValueError,
    "A schedule, config, state or trial that lrsched refuses.\n\n\
     The message is the one the `lrsched` command line prints: the key, the value, what is\n\
     allowed and, for a misspelling, the nearest spelling. A `ValueError`, so code that\n\
     catches `ValueError` catches it too.\n\n\
     >>> import lrsched\n\
     >>> try:\n\
     ...     lrsched.Schedule({\"type\": \"cosine\", \"lr\": 0.1, \"stepz\": 100})\n\
     ... except lrsched.ScheduleError as e:\n\
     ...     print(\"did you mean `steps`\" in str(e))\n\
     True"
);

fn err(e: impl std::fmt::Display) -> PyErr {
    ScheduleError::new_err(e.to_string())
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

/// A Python value (dict, list, str, number, bool, None) as a config value; `path` names
/// where it sits, for the error.
fn py_to_value(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    if depth > oneline::MAX_DEPTH {
        return Err(err(format!(
            "config nested deeper than {} levels at `{path}`",
            oneline::MAX_DEPTH
        )));
    }
    let here = if path.is_empty() { "config" } else { path };
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::String(obj.extract()?));
    }
    let number = |f: f64| {
        Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            err(format!(
                "`{here}` = {f} is not allowed: a config number must be finite"
            ))
        })
    };
    if obj.is_instance_of::<PyInt>()
        || (!obj.is_instance_of::<PyFloat>() && obj.hasattr("__index__")?)
    {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(err(format!(
            "`{here}` = {} is not allowed: must be an integer within 64 bits",
            obj.str()?
        )));
    }
    if obj.is_instance_of::<PyFloat>() || obj.hasattr("__float__")? {
        return number(obj.extract::<f64>()?);
    }
    if let Ok(dict) = obj.downcast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            let Ok(key) = k.extract::<String>() else {
                return Err(err(format!(
                    "`{here}` has a key {} of Python type {}: config keys are strings",
                    k.repr()?,
                    type_name(&k)
                )));
            };
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let value = py_to_value(&v, &child, depth + 1)?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            items.push(py_to_value(&item?, &format!("{here}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(s) = obj.downcast::<PySchedule>() {
        return Ok(s.borrow().config_value());
    }
    Err(err(format!(
        "`{here}` is a {}: a config holds numbers, strings, booleans, None, lists and dicts",
        type_name(obj)
    )))
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

fn shape_of(steps_per_epoch: Option<u64>, epochs: Option<f64>) -> PyResult<Option<RunShape>> {
    match (steps_per_epoch, epochs) {
        (None, None) => Ok(None),
        (Some(0), _) => Err(err(
            "`steps_per_epoch` = 0 is not allowed: must be an integer >= 1",
        )),
        (spe, e) => {
            let e = e.unwrap_or(1.0);
            if !(e.is_finite() && e > 0.0) {
                return Err(err(format!(
                    "`epochs` = {e} is not allowed: must be a finite number > 0"
                )));
            }
            Ok(Some(RunShape::new(spe.unwrap_or(1), 1).with_epochs(e)))
        }
    }
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

fn step_arg(step: i64) -> PyResult<u64> {
    u64::try_from(step).map_err(|_| {
        err(format!(
            "step = {step} is not allowed: must be an integer >= 0"
        ))
    })
}

/// A learning-rate schedule: a pure function of the step, computed by lrsched's Rust core.
///
/// `Schedule(config, *, steps_per_epoch=None, epochs=None)`: `config` is a dict (native, or
/// pasted from PyTorch, transformers, timm, optax or Keras), a JSON or TOML string, the
/// one-line form, or another Schedule. `steps_per_epoch` and `epochs` resolve durations
/// written `"3ep"` or `"10%"`. Bad configs raise `lrsched.ScheduleError` (a `ValueError`)
/// with the message the `lrsched` command line prints.
///
/// >>> import lrsched
/// >>> s = lrsched.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 2, "gamma": 0.5})
/// >>> s.value(2), s.interval
/// (0.05, 'epoch')
/// >>> [float(v) for v in s.values(4)]
/// [0.1, 0.1, 0.05, 0.05]
/// >>> str(lrsched.Schedule("cosine(lr=0.1, steps=100, min_lr=0)"))
/// 'cosine(lr=0.1, steps=100)'
/// >>> lrsched.Schedule(s.to_config()) == s
/// True
#[pyclass(name = "Schedule", module = "lrsched", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PySchedule {
    schedule: AnySchedule,
    interval: Interval,
}

impl PySchedule {
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
            return load_text(&text.to_cow()?, shape).map_err(err);
        }
        if config.is_instance_of::<PyDict>() {
            let value = py_to_value(config, "", 0)?;
            let c = config::load_value(value, shape).map_err(err)?;
            return Ok((c.schedule, c.interval));
        }
        Err(PyTypeError::new_err(format!(
            "a schedule is a dict, a JSON, TOML or one-line string, or an lrsched.Schedule, not a {}",
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
        steps_per_epoch: Option<u64>,
        epochs: Option<f64>,
    ) -> PyResult<Self> {
        let shape = shape_of(steps_per_epoch, epochs)?;
        let (schedule, interval) = Self::from_any(config, shape.as_ref())?;
        Ok(PySchedule { schedule, interval })
    }

    /// The rate in force for optimizer step `step` (from 0).
    fn value(&self, py: Python<'_>, step: i64) -> PyResult<f64> {
        let step = step_arg(step)?;
        Ok(py.allow_threads(|| self.schedule.value(step)))
    }

    /// The momentum (or Adam's beta1) the schedule sets at `step`, or None.
    fn momentum(&self, step: i64) -> PyResult<Option<f64>> {
        Ok(self.schedule.momentum(step_arg(step)?))
    }

    /// The values for steps `start .. start + n`: a float64 numpy array when numpy is
    /// installed (filled here, no Python loop), else a list of floats.
    #[pyo3(signature = (n, start=0))]
    fn values<'py>(&self, py: Python<'py>, n: i64, start: i64) -> PyResult<Bound<'py, PyAny>> {
        let n = u64::try_from(n)
            .map_err(|_| err(format!("n = {n} is not allowed: must be an integer >= 0")))?;
        let start = step_arg(start)?;
        let values = py.allow_threads(|| self.schedule.values(start..start.saturating_add(n)));
        match py.import("numpy") {
            Ok(np) => {
                // Written straight into the buffer numpy then wraps: no copy on either side.
                let buffer = PyByteArray::new_with(py, values.len() * 8, |bytes| {
                    for (chunk, v) in bytes.chunks_exact_mut(8).zip(&values) {
                        chunk.copy_from_slice(&v.to_ne_bytes());
                    }
                    Ok(())
                })?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("dtype", "float64")?;
                np.call_method("frombuffer", (buffer,), Some(&kwargs))
            }
            Err(_) => Ok(PyList::new(py, values)?.into_any()),
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
        format!("lrsched.Schedule({})", Value::String(self.__str__()))
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
#[pyclass(name = "Conversion", module = "lrsched", frozen)]
pub struct PyConversion {
    config: Value,
    exact: bool,
    notes: Vec<String>,
}

#[pymethods]
impl PyConversion {
    /// The config in the target library's form (a dict `lrsched.Schedule` reads back).
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
            "lrsched.Conversion(config={}, exact={}, notes={:?})",
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

/// The stateful driver behind `lrsched.torch.LRScheduler`: the step count, the groups'
/// scales and the plateau history; one call per training step.
#[pyclass(name = "_Driver", module = "lrsched")]
pub struct PyDriver {
    driver: Driver,
}

#[pymethods]
impl PyDriver {
    #[new]
    #[pyo3(signature = (schedule, group_scales, interval))]
    fn new(schedule: &PySchedule, group_scales: Vec<f64>, interval: &str) -> PyResult<Self> {
        let driver = Driver::new(schedule.schedule.clone())
            .with_group_scales(group_scales)
            .with_interval(parse_interval(interval)?);
        driver.validate().map_err(err)?;
        Ok(PyDriver { driver })
    }

    /// Steps (feeding `metric` first when given) and returns the new rates and momentum.
    #[pyo3(signature = (metric=None))]
    fn step(&mut self, metric: Option<f64>) -> PyResult<(Vec<f64>, Option<f64>)> {
        match metric {
            Some(m) => self.driver.step_with_metric(m).map_err(err)?,
            None => self.driver.step(),
        }
        Ok((self.driver.lrs(), self.driver.momentum()))
    }

    /// Feeds a metric measured at the end of the current step, without stepping.
    fn observe(&mut self, metric: f64) -> PyResult<()> {
        self.driver.observe(metric).map_err(err)
    }

    /// Ends an epoch (with its metric when given), as `Driver::end_epoch[_with_metric]`.
    #[pyo3(signature = (metric=None))]
    fn end_epoch(&mut self, metric: Option<f64>) -> PyResult<(Vec<f64>, Option<f64>)> {
        match metric {
            Some(m) => self.driver.end_epoch_with_metric(m).map_err(err)?,
            None => self.driver.end_epoch().map_err(err)?,
        }
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
                "not an lrsched scheduler state ({e}): load a state_dict() of lrsched.torch.LRScheduler"
            ))
        })?;
        self.driver = self.driver.clone().restore(&st).map_err(err)?;
        Ok(())
    }
}

fn trial_err(e: TrialError) -> PyErr {
    err(e)
}

/// The trial lrsched handed this process (the `LRSCHED_*` variables).
#[pyclass(name = "_Trial", module = "lrsched", frozen)]
pub struct PyTrial {
    trial: Trial,
}

#[pymethods]
impl PyTrial {
    /// The trial from the environment, or None when lrsched did not start this process.
    #[staticmethod]
    fn from_env() -> PyResult<Option<PyTrial>> {
        Ok(Trial::from_env()
            .map_err(trial_err)?
            .map(|trial| PyTrial { trial }))
    }

    /// The trial's schedule, durations resolved with the program's steps per epoch.
    #[pyo3(signature = (steps_per_epoch=None))]
    fn schedule(&self, steps_per_epoch: Option<u64>) -> PyResult<PySchedule> {
        if steps_per_epoch == Some(0) {
            return Err(err(
                "`steps_per_epoch` = 0 is not allowed: must be an integer >= 1",
            ));
        }
        let d = self.trial.driver(steps_per_epoch).map_err(trial_err)?;
        Ok(PySchedule {
            schedule: d.schedule().clone(),
            interval: d.interval(),
        })
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
#[pyclass(name = "_Metrics", module = "lrsched")]
pub struct PyMetrics {
    metrics: Metrics,
}

#[pymethods]
impl PyMetrics {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        Ok(PyMetrics {
            metrics: Metrics::append(Path::new(path)).map_err(trial_err)?,
        })
    }

    /// One epoch's line.
    fn epoch(&mut self, epoch: u64, values: Vec<(String, f64)>) -> PyResult<()> {
        let values: Vec<(&str, f64)> = values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.metrics.epoch(epoch, &values).map_err(trial_err)
    }

    /// One optimizer step's line.
    fn step(&mut self, step: u64, lr: f64, loss: f64) -> PyResult<()> {
        self.metrics.step(step, lr, loss).map_err(trial_err)
    }
}

/// A config's text (JSON, TOML or the one-line form) as a dict, without building it (the
/// PyTorch scheduler fills in the optimizer's `lr` where a pasted class config leaves it out).
#[pyfunction]
fn parse_config<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    value_to_py(py, &text_config(text).map_err(err)?)
}

#[pymodule]
fn _lrsched(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScheduleError", m.py().get_type::<ScheduleError>())?;
    m.add_class::<PySchedule>()?;
    m.add_class::<PyConversion>()?;
    m.add_class::<PyDriver>()?;
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
    fn errors_are_the_cores_messages() {
        let e = load_text("type = \"cosin\"\nlr = 0.1\n", None).unwrap_err();
        assert!(e.to_string().contains("did you mean `cosine`"), "{e}");
        let e = load_text("{\"type\": ", None).unwrap_err();
        assert!(e.to_string().contains("JSON"), "{e}");
    }
}
