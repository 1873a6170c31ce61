//! The stateful side the PyTorch scheduler steps: the core's driver, and PyTorch's own
//! scheduler replayed (`_TorchSim`) for a pasted PyTorch class.

use crate::args::{float_arg, float_list, parse_interval, step_arg};
use crate::err;
use crate::schedule::PySchedule;
use crate::values::{py_to_value, value_to_py};
use lrsched::config::{self};
use lrsched::{AnySchedule, Driver, DriverState, Schedule};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use serde_json::{Number, Value};

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
pub(crate) fn json_number(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        // Rust prints them `NaN`, `inf` and `-inf`.
        None => Value::String(format!("{v}")),
    }
}

/// What [`json_number`] wrote, read back.
pub(crate) fn json_float(v: &Value) -> Option<f64> {
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
