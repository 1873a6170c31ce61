//! `lrsched_rs.Schedule`: a schedule read from any config form, its values, conversions
//! and the catalog.

use crate::args::{int_arg, interval_name, shape_of, step_arg, type_name, utf8};
use crate::values::{py_to_value, value_to_py};
use crate::{err, MAX_VALUES, STEP_RANGE};
use lrsched::config::Config;
use lrsched::convert::{self, Target};
use lrsched::spec::TextFormat;
use lrsched::time::RunShape;
use lrsched::{catalog, oneline, AnySchedule, Interval, Schedule, ScheduleSpec};
use pyo3::exceptions::{PyMemoryError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyDict, PyList, PyString};
use serde_json::Value;

/// Steps computed per chunk by [`PySchedule::values`]: the GIL is released while a chunk
/// is computed and Ctrl-C is checked between chunks.
const VALUES_CHUNK: u64 = 1 << 16;

/// A config's text (JSON, TOML or the one-line form) read into a schedule and its interval,
/// durations resolved with `shape`: the core's [`ScheduleSpec::parse`], by its one rule
/// (the one-line form is `name(...)`, JSON starts with `{` or `[`, anything else is TOML).
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
    let Config { schedule, interval } = ScheduleSpec::parse(text)?.load(shape)?;
    Ok((schedule, interval))
}

/// A config's text (JSON, TOML or the one-line form) as a config value, unbuilt and
/// unchecked: told apart by the same rule as [`load_text`].
pub fn text_config(text: &str) -> Result<Value, lrsched::ScheduleError> {
    TextFormat::detect(text, None).read(text)
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
    pub(crate) schedule: AnySchedule,
    pub(crate) interval: Interval,
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
    pub(crate) fn config_value(&self) -> Value {
        ScheduleSpec::from(Config {
            schedule: self.schedule.clone(),
            interval: self.interval,
        })
        .to_value()
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
            let c = ScheduleSpec::from_value(value)
                .and_then(|spec| spec.load(shape))
                .map_err(err)?;
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
pub(crate) fn catalog_list<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
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

/// A config's text (JSON, TOML or the one-line form) as a dict, without building it (the
/// PyTorch scheduler fills in the optimizer's `lr` where a pasted class config leaves it out).
#[pyfunction]
pub(crate) fn parse_config<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let text = utf8(text, |r| format!("the config text {r}"))?;
    value_to_py(py, &text_config(&text).map_err(err)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneline_is_told_from_toml_and_json() {
        // The core's one rule (`lrsched::spec::TextFormat::detect`), as the package reads text.
        for (text, key) in [
            ("cosine(lr=0.1, steps=10)", "steps"),
            (
                "  optax.cosine_decay_schedule (init_value=0.1, decay_steps=10)",
                "decay_steps",
            ),
            ("type = \"cosine\"\nsteps = 10", "steps"),
            ("{\"type\": \"cosine\", \"steps\": 10}", "steps"),
        ] {
            assert_eq!(text_config(text).unwrap()[key], 10, "{text}");
        }
        assert!(text_config("").unwrap().as_object().unwrap().is_empty());
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
