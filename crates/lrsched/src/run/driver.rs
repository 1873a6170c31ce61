//! [`Driver`]: the thin stateful wrapper a training loop steps.
//!
//! A schedule is a pure function of the step; the driver only keeps the step count, the
//! parameter groups' scales and an optional separate momentum schedule. Its state is the
//! schedule's config, the step and the metric history of plateau schedules, so a resumed
//! driver continues bit-identically, and a restore into a different config says what
//! differs instead of silently mixing the two.

use crate::{AnySchedule, Schedule, ScheduleError};

/// When a training loop advances the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Interval {
    /// Once per optimizer step (batch).
    #[default]
    Step,
    /// Once per epoch.
    Epoch,
}

/// Steps a schedule through a training run.
///
/// Group `i`'s rate is the schedule's value times `group_scales[i]`, so each parameter
/// group can have its own base rate (e.g. a tenth of the rate for a pretrained backbone).
///
/// ```
/// use lrsched::{Driver, StepDecay};
/// let mut d = Driver::new(StepDecay::new(0.1, 2, 0.5)).with_group_scales(vec![1.0, 0.1]);
/// assert_eq!(d.lrs(), vec![0.1, 0.1 * 0.1]);
/// d.step();
/// d.step();
/// assert_eq!(d.lr(), 0.05);
/// assert_eq!(d.current_step(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    schedule: AnySchedule,
    momentum: Option<AnySchedule>,
    group_scales: Vec<f64>,
    interval: Interval,
    step: u64,
}

impl Driver {
    /// A driver at step 0 with one parameter group.
    pub fn new(schedule: impl Into<AnySchedule>) -> Self {
        Driver {
            schedule: schedule.into(),
            momentum: None,
            group_scales: vec![1.0],
            interval: Interval::Step,
            step: 0,
        }
    }

    /// Drives momentum (or Adam's beta1) from its own schedule, overriding any momentum the
    /// rate schedule itself cycles.
    pub fn with_momentum(mut self, momentum: impl Into<AnySchedule>) -> Self {
        self.momentum = Some(momentum.into());
        self
    }

    /// One scale per parameter group, multiplying the schedule's rate.
    pub fn with_group_scales(mut self, scales: Vec<f64>) -> Self {
        self.group_scales = scales;
        self
    }

    /// Whether the loop should call [`Driver::step`] per batch or per epoch.
    pub fn with_interval(mut self, interval: Interval) -> Self {
        self.interval = interval;
        self
    }

    /// Checks the schedules and the group scales.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        self.schedule.validate()?;
        if let Some(m) = &self.momentum {
            m.validate()?;
        }
        if self.group_scales.is_empty() {
            return Err(ScheduleError::invalid(
                "driver",
                "group_scales",
                "[]",
                "at least one group",
            ));
        }
        for (i, s) in self.group_scales.iter().enumerate() {
            crate::check::non_negative("driver", &format!("group_scales[{i}]"), *s)?;
        }
        Ok(())
    }

    /// The schedule being driven.
    pub fn schedule(&self) -> &AnySchedule {
        &self.schedule
    }

    /// The interval the loop steps at.
    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// Steps taken so far; the rate in force is the schedule's value at this step.
    pub fn current_step(&self) -> u64 {
        self.step
    }

    /// The rate of the first parameter group.
    pub fn lr(&self) -> f64 {
        self.schedule.value(self.step) * self.group_scales[0]
    }

    /// The rate of the first parameter group, or an error naming the step (the epoch of
    /// a per-epoch driver) and the value when it is not a finite number (see
    /// [`crate::check_rate`]). What a training loop hands its optimizer: [`Driver::lr`]
    /// returns the value as it is, NaN included.
    ///
    /// ```
    /// # #[cfg(feature = "serde")] {
    /// use lrsched::{config, Driver};
    /// let s = config::from_json_str(
    ///     r#"{"type": "MultiplicativeLR", "lr": 0.1, "lr_lambda": 10.0, "interval": "step"}"#,
    /// ).unwrap();
    /// let mut d = Driver::new(s);
    /// assert_eq!(d.try_lr(), Ok(0.1));
    /// d.seek(400); // 0.1 * 10^400 overflows
    /// assert_eq!(d.lr(), f64::INFINITY);
    /// assert!(d.try_lr().unwrap_err().to_string().contains("rate of inf at step 400"));
    /// # }
    /// ```
    pub fn try_lr(&self) -> Result<f64, ScheduleError> {
        // `lr` indexes the first scale; a driver without one (which `validate` refuses)
        // is an error here, not a panic.
        let Some(scale) = self.group_scales.first() else {
            return Err(ScheduleError::invalid(
                "driver",
                "group_scales",
                "[]",
                "at least one group",
            ));
        };
        self.checked(self.schedule.value(self.step) * scale)
    }

    /// The rate of every parameter group, as [`Driver::lrs`], or the error of
    /// [`Driver::try_lr`] for the first group whose rate is not a finite number (a scale
    /// can take a finite rate past `f64::MAX`).
    ///
    /// ```
    /// use lrsched::{Constant, Driver};
    /// let d = Driver::new(Constant::new(0.1)).with_group_scales(vec![1.0, 0.5]);
    /// assert_eq!(d.try_lrs(), Ok(vec![0.1, 0.05]));
    /// let d = Driver::new(Constant::new(1e300)).with_group_scales(vec![1.0, 1e300]);
    /// assert!(d.try_lrs().is_err());
    /// ```
    pub fn try_lrs(&self) -> Result<Vec<f64>, ScheduleError> {
        self.lrs().into_iter().map(|lr| self.checked(lr)).collect()
    }

    fn checked(&self, lr: f64) -> Result<f64, ScheduleError> {
        crate::check_rate(self.schedule.type_name(), self.interval, self.step, lr)
    }

    /// The rate of every parameter group.
    pub fn lrs(&self) -> Vec<f64> {
        let base = self.schedule.value(self.step);
        self.group_scales.iter().map(|s| base * s).collect()
    }

    /// The momentum in force, from the momentum schedule or the rate schedule's own cycle.
    pub fn momentum(&self) -> Option<f64> {
        match &self.momentum {
            Some(m) => Some(m.value(self.step)),
            None => self.schedule.momentum(self.step),
        }
    }

    /// Finishes the current step; the next rate is in force.
    ///
    /// Costs one step of the schedule, whatever the step count: a replayed PyTorch class
    /// keeps its replay between calls (see [`crate::torch`]). A per-epoch loop over a
    /// metric-driven schedule ends each epoch with [`Driver::end_epoch_with_metric`] (or
    /// [`Driver::step_with_metric`]): a plain `step` gives it no metric.
    pub fn step(&mut self) {
        self.step = self.step.saturating_add(1);
    }

    /// Feeds a metric measured at the end of the current step, then steps: PyTorch's
    /// `scheduler.step(metric)`.
    pub fn step_with_metric(&mut self, metric: f64) -> Result<(), ScheduleError> {
        self.observe(metric)?;
        self.step();
        Ok(())
    }

    /// Feeds a metric measured at the end of the current step without stepping (for a
    /// per-batch schedule fed a per-epoch validation metric). It takes effect from the
    /// next step.
    pub fn observe(&mut self, metric: f64) -> Result<(), ScheduleError> {
        self.schedule.observe(self.step, metric)?;
        if let Some(m) = &mut self.momentum {
            m.observe(self.step, metric)?;
        }
        Ok(())
    }

    /// Ends an epoch that has no metric to give: advances a per-epoch driver
    /// ([`Interval::Epoch`]) and leaves a per-step one alone (it advances per batch), so
    /// one loop serves both.
    ///
    /// A metric-driven schedule (`plateau`, `ReduceLROnPlateau`) reacts to the epoch's
    /// metric, so ending an epoch without one is a mistake: this refuses, and leaves the
    /// driver as it was. Use [`Driver::end_epoch_with_metric`].
    ///
    /// ```
    /// use lrsched::{Cosine, Driver, Interval, Plateau};
    /// let mut d = Driver::new(Cosine::new(0.1, 10)).with_interval(Interval::Epoch);
    /// d.end_epoch().unwrap();
    /// assert_eq!(d.current_step(), 1);
    ///
    /// let mut p = Driver::new(Plateau::new(0.1)).with_interval(Interval::Epoch);
    /// assert!(p.end_epoch().unwrap_err().to_string().contains("end_epoch_with_metric"));
    /// assert_eq!(p.current_step(), 0);
    /// ```
    pub fn end_epoch(&mut self) -> Result<(), ScheduleError> {
        let needs = self.schedule.needs_metric()
            || self.momentum.as_ref().is_some_and(|m| m.needs_metric());
        if needs {
            return Err(ScheduleError::Invalid {
                path: "driver".into(),
                message: "the schedule is metric-driven (plateau or ReduceLROnPlateau) and an epoch ended without its metric: end it with end_epoch_with_metric(metric)".into(),
            });
        }
        if self.interval == Interval::Epoch {
            self.step();
        }
        Ok(())
    }

    /// Ends an epoch with its validation metric, as PyTorch's `scheduler.step(val_loss)`
    /// once per epoch, for either interval:
    ///
    /// - [`Interval::Epoch`]: the metric is measured at the end of the current epoch,
    ///   then the driver steps; the next epoch's rate reflects it.
    /// - [`Interval::Step`]: the driver has already stepped past the epoch's last batch,
    ///   so the metric is measured after the last step taken and is in force from the
    ///   current step on. Any number of steps may pass between two metrics.
    ///
    /// Schedules that take no metric ignore it (and a per-step driver stays where it is).
    ///
    /// ```
    /// # #[cfg(feature = "serde")] {
    /// use lrsched::{config, Driver};
    /// // A per-step ReduceLROnPlateau validated once per epoch of 10 batches.
    /// let s = config::from_json_str(r#"{"type": "ReduceLROnPlateau", "lr": 0.1, "patience": 0}"#).unwrap();
    /// let mut d = Driver::new(s);
    /// for val_loss in [1.0, 2.0] {
    ///     for _ in 0..10 { d.step(); }
    ///     d.end_epoch_with_metric(val_loss).unwrap();
    /// }
    /// assert!((d.lr() - 0.01).abs() < 1e-15); // the second epoch was worse: cut
    /// # }
    /// ```
    pub fn end_epoch_with_metric(&mut self, metric: f64) -> Result<(), ScheduleError> {
        match self.interval {
            Interval::Epoch => self.step_with_metric(metric),
            Interval::Step => {
                let now = self.step;
                self.step = now.saturating_sub(1);
                let result = self.observe(metric);
                self.step = now;
                result
            }
        }
    }

    /// Jumps to `step` (pure schedules make this free; metric history is kept).
    pub fn seek(&mut self, step: u64) {
        self.step = step;
    }
}

#[cfg(feature = "serde")]
mod state {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// A driver's saved state: enough to continue bit-identically.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct DriverState {
        /// Format version, so older states are recognised.
        pub version: u32,
        /// The rate schedule's config.
        pub schedule: Value,
        /// The momentum schedule's config, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub momentum: Option<Value>,
        /// The group scales.
        pub group_scales: Vec<f64>,
        /// The interval.
        pub interval: Interval,
        /// Steps taken.
        pub step: u64,
        /// What metric-driven schedules have gathered, in tree order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub history: Vec<Value>,
    }

    impl Driver {
        /// The state to save with a checkpoint.
        ///
        /// ```
        /// use lrsched::{Cosine, Driver};
        /// let mut a = Driver::new(Cosine::new(0.1, 1000));
        /// for _ in 0..400 { a.step(); }
        /// let saved = serde_json::to_string(&a.state()).unwrap();
        /// let b = Driver::new(Cosine::new(0.1, 1000))
        ///     .restore(&serde_json::from_str(&saved).unwrap())
        ///     .unwrap();
        /// assert_eq!(a, b);
        /// ```
        pub fn state(&self) -> DriverState {
            let mut history = Vec::new();
            self.schedule.save_state(&mut history);
            if let Some(m) = &self.momentum {
                m.save_state(&mut history);
            }
            DriverState {
                version: 1,
                schedule: crate::config::to_value(&self.schedule),
                momentum: self.momentum.as_ref().map(crate::config::to_value),
                group_scales: self.group_scales.clone(),
                interval: self.interval,
                step: self.step,
                history,
            }
        }

        /// A driver resumed from `state` in one call: `schedule` with the state's momentum
        /// schedule, group scales and interval, at the saved step with the saved metric
        /// history. The caller's `schedule` is the authority, the state's copy of it only
        /// the check: a state saved from another config is refused, naming every
        /// difference, as [`Driver::restore`] does (which this is, on a driver built from
        /// the state's own settings).
        ///
        /// ```
        /// use lrsched::{Cosine, Driver, DriverState, Interval};
        /// let mut a = Driver::new(Cosine::new(0.1, 1000))
        ///     .with_group_scales(vec![1.0, 0.1])
        ///     .with_interval(Interval::Epoch);
        /// for _ in 0..400 { a.step(); }
        /// let saved: DriverState = serde_json::from_str(&serde_json::to_string(&a.state()).unwrap()).unwrap();
        /// let b = Driver::from_state(Cosine::new(0.1, 1000), &saved).unwrap();
        /// assert_eq!(a, b);
        /// assert!(Driver::from_state(Cosine::new(0.2, 1000), &saved).is_err());
        /// ```
        pub fn from_state(
            schedule: impl Into<AnySchedule>,
            state: &DriverState,
        ) -> Result<Driver, ScheduleError> {
            let mut driver = Driver::new(schedule)
                .with_group_scales(state.group_scales.clone())
                .with_interval(state.interval);
            if let Some(momentum) = &state.momentum {
                driver = driver.with_momentum(crate::config::from_value(momentum.clone())?);
            }
            driver.restore(state)
        }

        /// Continues from `state` on this driver's config; refuses (naming every
        /// difference) when the state was saved from another config.
        pub fn restore(mut self, state: &DriverState) -> Result<Driver, ScheduleError> {
            let mut differences = Vec::new();
            crate::config::diff(
                "schedule",
                &state.schedule,
                &crate::config::to_value(&self.schedule),
                &mut differences,
            );
            let mine = self.momentum.as_ref().map(crate::config::to_value);
            crate::config::diff(
                "momentum",
                &state.momentum.clone().unwrap_or(Value::Null),
                &mine.unwrap_or(Value::Null),
                &mut differences,
            );
            if state.group_scales != self.group_scales {
                differences.push(format!(
                    "group_scales: {:?} -> {:?}",
                    state.group_scales, self.group_scales
                ));
            }
            if state.interval != self.interval {
                differences.push(format!(
                    "interval: {:?} -> {:?}",
                    state.interval, self.interval
                ));
            }
            if !differences.is_empty() {
                return Err(ScheduleError::StateMismatch { differences });
            }
            let mut saved = state.history.clone().into_iter();
            self.schedule.load_state(&mut saved)?;
            if let Some(m) = &mut self.momentum {
                m.load_state(&mut saved)?;
            }
            if saved.next().is_some() {
                return Err(ScheduleError::Invalid {
                    path: "history".into(),
                    message: "the saved state has more metric history than the schedule uses"
                        .into(),
                });
            }
            self.step = state.step;
            Ok(self)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::{Cosine, StepDecay};

        #[test]
        fn from_state_resumes_momentum_groups_interval_and_plateau_history() {
            use crate::{Constant, Plateau};
            let plateau: AnySchedule = Plateau::new(0.1).with_patience(0).into();
            let mut a = Driver::new(plateau.clone())
                .with_momentum(Constant::new(0.9))
                .with_group_scales(vec![1.0, 0.5])
                .with_interval(Interval::Epoch);
            for m in [1.0, 2.0, 3.0] {
                a.end_epoch_with_metric(m).unwrap();
            }
            assert!(a.lr() < 0.1, "the plateau reduced: {}", a.lr());
            let mut b = Driver::from_state(plateau.clone(), &a.state()).unwrap();
            assert_eq!(a, b);
            // The restored history goes on deciding as the original does.
            a.end_epoch_with_metric(4.0).unwrap();
            b.end_epoch_with_metric(4.0).unwrap();
            assert_eq!(a.lrs(), b.lrs());
            assert_eq!(b.momentum(), Some(0.9));
            // The same as building the driver by hand and restoring.
            let by_hand = Driver::new(plateau)
                .with_momentum(Constant::new(0.9))
                .with_group_scales(vec![1.0, 0.5])
                .with_interval(Interval::Epoch)
                .restore(&a.state())
                .unwrap();
            assert_eq!(
                by_hand,
                Driver::from_state(by_hand.schedule().clone(), &a.state()).unwrap()
            );
        }

        #[test]
        fn from_state_refuses_another_schedule_and_a_broken_momentum() {
            let mut state = Driver::new(Cosine::new(0.1, 1000)).state();
            let err = Driver::from_state(Cosine::new(0.2, 1000), &state).unwrap_err();
            assert_eq!(
                err.to_string(),
                "saved state does not match the config: schedule.lr: 0.1 -> 0.2"
            );
            state.momentum = Some(serde_json::json!({"type": "no_such_family"}));
            assert!(Driver::from_state(Cosine::new(0.1, 1000), &state).is_err());
        }

        #[test]
        fn restore_into_another_config_names_the_difference() {
            let a = Driver::new(Cosine::new(0.1, 1000));
            let err = Driver::new(Cosine::new(0.2, 1000))
                .restore(&a.state())
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "saved state does not match the config: schedule.lr: 0.1 -> 0.2"
            );
            let err = Driver::new(StepDecay::new(0.1, 10, 0.5))
                .restore(&a.state())
                .unwrap_err();
            assert!(err
                .to_string()
                .contains("schedule.type: \"cosine\" -> \"step\""));
        }
    }
}

#[cfg(feature = "serde")]
pub use state::DriverState;
