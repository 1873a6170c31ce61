//! The trial protocol, the program's side: the trial lrsched handed this process and the
//! metrics file it appends to.

use crate::args::{
    float_arg, int_arg, interval_name, list_copy, step_arg, type_name, utf8, RUN_RANGE,
};
use crate::schedule::PySchedule;
use crate::values::value_to_py;
use crate::{err, MAX_LINE_BYTES, MAX_RUN_STEPS};
use lrsched::config::{self};
use lrsched::trial::{Metrics, Trial};
use lrsched::Interval;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::{Number, Value};
use std::path::Path;

/// The run's shape a trial's durations are resolved with (as [`Trial::driver`] makes it)
/// within [`MAX_RUN_STEPS`]: the epoch budget, the steps per epoch (`steps_per_epoch`,
/// else `LRSCHED_STEPS_PER_EPOCH`) and their product, each named where it is too large.
pub(crate) fn check_trial_shape(trial: &Trial, steps_per_epoch: Option<u64>) -> PyResult<()> {
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
        // A pasted PyTorch class without `lr` takes the optimizer's rate (the core's rule).
        if !self.trial.spec().needs_base_lr() {
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
        trial.schedule = trial.spec().with_base_lr(1.0).into_parts().0;
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
pub(crate) fn line_bytes(key: &str, at: u64, values: &[(&str, f64)]) -> usize {
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
pub(crate) fn check_line(key: &str, at: u64, values: &[(&str, f64)]) -> PyResult<()> {
    let bytes = line_bytes(key, at, values);
    if bytes > MAX_LINE_BYTES {
        return Err(err(format!(
            "the {key} {at} line would be {bytes} bytes: the trial protocol reads lines of at most {MAX_LINE_BYTES} bytes (64 KiB); report fewer or shorter metric names"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
