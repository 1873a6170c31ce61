//! lrsched schedules as [burn](https://burn.dev) learning-rate schedulers.
//!
//! [`LrschedScheduler`] implements burn's [`LrScheduler`] for every lrsched schedule
//! (warmup in front of anything, one-cycle, WSD, plateau, PyTorch's classes, ...), so burn's
//! `Learner` takes it where it takes burn's own schedulers, in one line:
//!
//! ```
//! use burn::lr_scheduler::LrScheduler;
//! use lrsched::{Cosine, Schedule, Warmup};
//! use lrsched_burn::LrschedScheduler;
//!
//! let schedule = Warmup::linear(100, Cosine::new(1e-3, 900));
//! // Before: Learner::new(model, optim, CosineAnnealingLrSchedulerConfig::new(1e-3, 1000).init()?)
//! // After:  Learner::new(model, optim, LrschedScheduler::new(schedule)?)
//! let mut scheduler = LrschedScheduler::new(schedule.clone()).unwrap();
//! for step in 0..1000 {
//!     // burn calls `step()` once before every optimizer step and uses the rate it returns.
//!     assert_eq!(scheduler.step(), schedule.value(step));
//! }
//! ```
//!
//! The rate of burn's `i`-th optimizer step (the first is 0) is `schedule.value(i)`, which is
//! what `lrsched trace` prints. The scheduler's [record](LrSchedulerRecord) holds the whole
//! driver state (config, step, plateau history), so burn's own checkpointing saves it and a
//! run resumed with `SupervisedTraining::checkpoint(epoch)` continues exactly. Resuming with
//! a changed schedule is refused loudly (burn's `load_record` panics with every difference
//! named, as burn does for a model record that does not fit), never a silent restart at
//! step 0 under a model that continues; [`LrschedScheduler::try_load_record`] returns the
//! refusal instead.
//!
//! Metric-driven (plateau) schedules take validation metrics through a [`MetricFeed`], a
//! handle the model's validation step (burn's `InferenceStep`) can hold; see
//! [`MetricFeed`]. Momentum schedules are ignored (with a `log::warn!`): burn's
//! [`LrScheduler`] gives an optimizer only its rate, so a pasted `OneCycleLR` cycles the
//! rate but not Adam's beta1 as PyTorch would.
//!
//! # Per step or per epoch
//!
//! The interval follows lrsched's one rule ([`lrsched::config::default_interval`]), the same
//! as `lrsched train`, `lrsched trace` and the candle adapter: a config's `interval` key when
//! it has one (pass the [`Config`] of `lrsched::config::load_json_str`); otherwise per
//! epoch for a pasted PyTorch class (`StepLR`, `ReduceLROnPlateau`, ...) except `OneCycleLR`
//! and `CyclicLR`, and per optimizer step for everything else. burn steps its scheduler once
//! per optimizer step and tells it nothing of epochs, so a per-epoch schedule needs the
//! number of batches per epoch: [`LrschedScheduler::per_epoch`]. [`LrschedScheduler::new`]
//! refuses a per-epoch schedule with a message that says so, rather than stepping it per
//! batch.
//!
//! ```
//! use burn::lr_scheduler::LrScheduler;
//! use lrsched::config;
//! use lrsched_burn::LrschedScheduler;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = r#"{"type": "StepLR", "lr": 0.1, "step_size": 2}"#; // pasted from PyTorch
//! let steplr = config::load_json_str(text, None)?;
//! assert!(LrschedScheduler::new(steplr.clone()).unwrap_err().to_string().contains("per_epoch"));
//! // Epochs of 3 batches: the rate drops after 2 epochs, i.e. 6 optimizer steps.
//! let mut s = LrschedScheduler::per_epoch(steplr, 3)?;
//! let rates: Vec<f64> = (0..7).map(|_| s.step()).collect();
//! assert_eq!(rates[..6], [0.1; 6]);
//! assert!((rates[6] - 0.01).abs() < 1e-15);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::sync::{Arc, Mutex, MutexGuard};

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;
use lrsched::config::Config;
use lrsched::{Driver, DriverState, Interval, ScheduleError};

/// The README's code blocks, compiled as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// An lrsched schedule stepped by burn.
///
/// Cloning gives an independent scheduler (burn clones schedulers when it clones a
/// `Learner`) that shares the original's [`MetricFeed`].
///
/// ```
/// use burn::lr_scheduler::LrScheduler;
/// use lrsched::{OneCycle, Schedule};
/// use lrsched_burn::LrschedScheduler;
///
/// let one_cycle = OneCycle::new(0.01, 50);
/// let mut a = LrschedScheduler::new(one_cycle.clone()).unwrap();
/// for _ in 0..20 {
///     a.step();
/// }
/// // What burn's checkpointer saves, and loads into a fresh scheduler on resume.
/// let record = a.to_record();
/// let mut b = LrschedScheduler::new(one_cycle.clone()).unwrap();
/// b.load_record(record);
/// assert_eq!(b.step(), one_cycle.value(20));
/// assert_eq!(a.step(), one_cycle.value(20));
/// assert_eq!(b.step(), a.step());
/// ```
#[derive(Debug, Clone)]
pub struct LrschedScheduler {
    driver: Driver,
    // `step()` calls so far, i.e. burn optimizer steps taken: the driver's step is derived
    // from it, so a per-epoch schedule needs no epoch signal from burn.
    calls: u64,
    steps_per_epoch: u64,
    feed: MetricFeed,
}

impl LrschedScheduler {
    /// A scheduler advancing `schedule` (a schedule, or a [`Config`] read with its
    /// `interval`) once per optimizer step.
    ///
    /// Fails (naming the parameter) if the schedule is invalid, and if lrsched's rule says it
    /// steps per epoch (a pasted PyTorch class but `OneCycleLR`/`CyclicLR`, or a config
    /// saying `"interval": "epoch"`): use [`LrschedScheduler::per_epoch`] for those.
    pub fn new(schedule: impl Into<Config>) -> Result<Self, ScheduleError> {
        Self::from_driver(schedule.into().driver())
    }

    /// A scheduler advancing `schedule` once per epoch of `steps_per_epoch` optimizer steps
    /// (burn steps its scheduler per optimizer step and tells it nothing of epochs), whatever
    /// interval the schedule would have by default.
    ///
    /// Fails if the schedule is invalid or `steps_per_epoch` is 0.
    pub fn per_epoch(
        schedule: impl Into<Config>,
        steps_per_epoch: u64,
    ) -> Result<Self, ScheduleError> {
        Self::build(
            schedule.into().driver().with_interval(Interval::Epoch),
            steps_per_epoch,
        )
    }

    /// A scheduler stepping a [`Driver`] (for a driver restored from an lrsched state).
    /// Only the first parameter group's scale applies; burn gives each parameter group its
    /// own scheduler (`ModuleLrScheduler`).
    ///
    /// Fails (naming the parameter) if the driver is invalid, and if it steps per epoch
    /// ([`Interval::Epoch`]): [`LrschedScheduler::per_epoch`] takes the epoch's length.
    pub fn from_driver(driver: Driver) -> Result<Self, ScheduleError> {
        if driver.interval() == Interval::Epoch {
            let name = driver.schedule().type_name();
            return Err(ScheduleError::Invalid {
                path: name.to_string(),
                message: format!(
                    "`{name}` steps per epoch (lrsched's rule: PyTorch's classes but OneCycleLR and CyclicLR do, unless the config says \"interval\": \"step\"), and burn steps its scheduler per batch: give the batches per epoch with LrschedScheduler::per_epoch(schedule, batches_per_epoch), or step it per batch with \"interval\": \"step\""
                ),
            });
        }
        Self::build(driver, 1)
    }

    fn build(driver: Driver, steps_per_epoch: u64) -> Result<Self, ScheduleError> {
        driver.validate()?;
        if driver.momentum().is_some() {
            log::warn!(
                "lrsched-burn: the `{}` schedule's momentum is not applied: burn's LrScheduler sets only the learning rate",
                driver.schedule().type_name()
            );
        }
        LrschedScheduler {
            driver,
            calls: 0,
            steps_per_epoch: 1,
            feed: MetricFeed::default(),
        }
        .with_steps_per_epoch(steps_per_epoch)
    }

    /// Advances the schedule once every `steps_per_epoch` optimizer steps, for a native
    /// schedule written in epochs (`StepDecay` every 30 epochs, a plateau's patience in
    /// epochs): burn steps its scheduler once per optimizer step and tells it nothing of
    /// epochs. ([`LrschedScheduler::per_epoch`] does the same in one call, and takes the
    /// schedules `new` refuses as per-epoch.)
    ///
    /// Fails if `steps_per_epoch` is 0.
    ///
    /// ```
    /// use burn::lr_scheduler::LrScheduler;
    /// use lrsched::StepDecay;
    /// use lrsched_burn::LrschedScheduler;
    /// // Halve every 2 epochs of 3 batches.
    /// let mut s = LrschedScheduler::new(StepDecay::new(0.1, 2, 0.5))
    ///     .unwrap()
    ///     .with_steps_per_epoch(3)
    ///     .unwrap();
    /// let rates: Vec<f64> = (0..9).map(|_| s.step()).collect();
    /// assert_eq!(rates, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05]);
    /// ```
    pub fn with_steps_per_epoch(mut self, steps_per_epoch: u64) -> Result<Self, ScheduleError> {
        if steps_per_epoch == 0 {
            return Err(ScheduleError::invalid(
                "burn scheduler",
                "steps_per_epoch",
                0,
                "at least 1",
            ));
        }
        self.steps_per_epoch = steps_per_epoch;
        Ok(self)
    }

    /// The handle that feeds metrics to a metric-driven schedule (shared by clones).
    pub fn metric_feed(&self) -> MetricFeed {
        self.feed.clone()
    }

    /// The driver: the schedule and the step it was last at.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Optimizer steps taken so far (calls of [`LrScheduler::step`]).
    pub fn steps_taken(&self) -> u64 {
        self.calls
    }

    /// Optimizer steps per schedule step (1 unless set by
    /// [`LrschedScheduler::with_steps_per_epoch`]).
    pub fn steps_per_epoch(&self) -> u64 {
        self.steps_per_epoch
    }

    // The schedule step in force for optimizer step `call`.
    fn schedule_step(&self, call: u64) -> u64 {
        call / self.steps_per_epoch
    }

    // Gives `metrics` to the driver as measured after the last optimizer step taken, so they
    // change the rate from the next schedule step on (`lrsched trace --metrics`). A metric
    // the schedule refuses is reported on the feed and skipped.
    fn observe_all(driver: &mut Driver, measured_at: u64, metrics: &[f64], feed: &MetricFeed) {
        driver.seek(measured_at);
        for &m in metrics {
            if let Err(e) = driver.observe(m) {
                feed.report(format!("metric {m} refused: {e}"));
            }
        }
    }

    fn measured_at(&self) -> u64 {
        self.schedule_step(self.calls.saturating_sub(1))
    }

    fn state_with_pending(&self) -> DriverState {
        let pending = self.feed.peek();
        if pending.is_empty() {
            return self.driver.state();
        }
        // A checkpoint taken after validation but before the next training step: the
        // metrics are not in the driver yet, but the resumed run must see them.
        let mut driver = self.driver.clone();
        Self::observe_all(
            &mut driver,
            self.measured_at(),
            &pending,
            &MetricFeed::default(),
        );
        driver.state()
    }

    fn try_load(&self, record: &LrSchedulerRecord) -> Result<(Driver, u64), Refused> {
        let calls: u64 = record
            .scalar(KEY_CALLS)
            .ok_or_else(|| Refused::Record("the record has no step count".into()))?;
        let spe: u64 = record
            .scalar(KEY_STEPS_PER_EPOCH)
            .ok_or_else(|| Refused::Record("the record has no steps_per_epoch".into()))?;
        if spe != self.steps_per_epoch {
            return Err(Refused::Schedule(ScheduleError::StateMismatch {
                differences: vec![format!(
                    "steps_per_epoch: {spe} -> {}",
                    self.steps_per_epoch
                )],
            }));
        }
        let bytes = unpack(record)
            .ok_or_else(|| Refused::Record("the record's driver state is incomplete".into()))?;
        let state: DriverState = serde_json::from_slice(&bytes).map_err(|e| {
            Refused::Record(format!("the record's driver state does not read: {e}"))
        })?;
        let driver = self
            .driver
            .clone()
            .restore(&state)
            .map_err(Refused::Schedule)?;
        Ok((driver, calls))
    }
}

const KEY_CALLS: &str = "lrsched.calls";
const KEY_STEPS_PER_EPOCH: &str = "lrsched.steps_per_epoch";
const KEY_STATE_LEN: &str = "lrsched.state.len";
const KEY_STATE: &str = "lrsched.state";

// burn's records hold only numeric scalars, so the driver state's JSON travels as
// little-endian 8-byte words, losslessly.
fn pack(mut record: LrSchedulerRecord, bytes: &[u8]) -> LrSchedulerRecord {
    record = record.with_scalar(KEY_STATE_LEN, bytes.len() as u64);
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        record = record.with_scalar(&format!("{KEY_STATE}.{i}"), u64::from_le_bytes(word));
    }
    record
}

fn unpack(record: &LrSchedulerRecord) -> Option<Vec<u8>> {
    let len: u64 = record.scalar(KEY_STATE_LEN)?;
    let len = usize::try_from(len).ok()?;
    let mut bytes = Vec::with_capacity(len.min(1 << 20));
    let mut i = 0;
    while bytes.len() < len {
        let word: u64 = record.scalar(&format!("{KEY_STATE}.{i}"))?;
        bytes.extend_from_slice(&word.to_le_bytes());
        i += 1;
    }
    bytes.truncate(len);
    Some(bytes)
}

impl LrScheduler for LrschedScheduler {
    /// The rate for the next optimizer step; metrics fed since the last step take effect
    /// first.
    fn step(&mut self) -> LearningRate {
        let pending = self.feed.take();
        if !pending.is_empty() {
            let at = self.measured_at();
            Self::observe_all(&mut self.driver, at, &pending, &self.feed);
        }
        self.driver.seek(self.schedule_step(self.calls));
        self.calls = self.calls.saturating_add(1);
        self.driver.lr()
    }

    /// The step count and the driver's state (config, step, plateau history), including
    /// metrics fed but not yet used.
    fn to_record(&self) -> LrSchedulerRecord {
        let state = self.state_with_pending();
        // Serializing a `DriverState` (JSON values, numbers, strings) cannot fail; an empty
        // state would be refused by `load_record` rather than silently accepted.
        let json = serde_json::to_vec(&state).unwrap_or_default();
        let record = LrSchedulerRecord::new()
            .with_scalar(KEY_CALLS, self.calls)
            .with_scalar(KEY_STEPS_PER_EPOCH, self.steps_per_epoch);
        pack(record, &json)
    }

    /// Continues from a record, as [`LrschedScheduler::try_load_record`], and panics with
    /// its one-line reason when the record cannot be restored: a record saved from another
    /// schedule (or not by this type). burn's `load_record` cannot return an error, and
    /// going on would silently restart the schedule at step 0 while the model and the
    /// optimizer continue from the checkpoint, so this refuses loudly, as burn refuses a
    /// model record that does not fit the model. An empty record (a fresh run) is no
    /// record: nothing changes.
    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Err(e) = self.try_load_record(record) {
            panic!("{e}");
        }
    }
}

impl LrschedScheduler {
    /// Continues from a record burn saved with [`LrScheduler::to_record`]: the step count
    /// and the driver state. A record saved from another schedule is refused, naming every
    /// difference (the scheduler is then unchanged, and the reason is also kept in
    /// [`MetricFeed::last_error`] and logged with `log::error!`); so is a record not saved
    /// by this type. An empty record (a fresh run) changes nothing.
    ///
    /// ```
    /// use burn::lr_scheduler::LrScheduler;
    /// use lrsched::{Cosine, ScheduleError};
    /// use lrsched_burn::LrschedScheduler;
    /// let mut a = LrschedScheduler::new(Cosine::new(0.1, 10)).unwrap();
    /// a.step();
    /// let mut changed = LrschedScheduler::new(Cosine::new(0.2, 10)).unwrap();
    /// let Err(ScheduleError::StateMismatch { differences }) = changed.try_load_record(a.to_record())
    /// else {
    ///     panic!("a record of another schedule is refused");
    /// };
    /// assert_eq!(differences, ["schedule.lr: 0.1 -> 0.2"]);
    /// ```
    pub fn try_load_record(&mut self, record: LrSchedulerRecord) -> Result<(), ScheduleError> {
        if record.is_empty() {
            return Ok(());
        }
        match self.try_load(&record) {
            Ok((driver, calls)) => {
                self.driver = driver;
                self.calls = calls;
                // Metrics fed before the load belong to the run being replaced; the
                // record already holds the ones its own run had fed.
                self.feed.take();
                Ok(())
            }
            Err(e) => {
                let e = match e {
                    Refused::Schedule(e @ ScheduleError::StateMismatch { .. }) => e,
                    other => ScheduleError::Invalid {
                        path: String::new(),
                        message: format!(
                            "lrsched scheduler record not restored: {}: not a record LrschedScheduler saved",
                            other.text()
                        ),
                    },
                };
                let message = match &e {
                    ScheduleError::StateMismatch { .. } => {
                        format!("lrsched scheduler record not restored: {e}")
                    }
                    _ => e.to_string(),
                };
                log::error!("{message}");
                self.feed.report(message);
                Err(e)
            }
        }
    }
}

/// Why a record was not restored.
enum Refused {
    /// The driver refused the state (another config: every difference named).
    Schedule(ScheduleError),
    /// The record is not one this type saved.
    Record(String),
}

impl Refused {
    fn text(&self) -> String {
        match self {
            Refused::Schedule(e) => e.to_string(),
            Refused::Record(m) => m.clone(),
        }
    }
}

/// Feeds validation metrics to a metric-driven schedule from burn's training loop.
///
/// burn steps its scheduler with no arguments, so metrics travel through this shared
/// handle: give a clone to the model (a `#[module(skip)]` field) and record each
/// validation batch's loss in its `InferenceStep::step`; the weighted mean of the batches
/// recorded between two training steps (one validation epoch) becomes one metric, given
/// to the schedule at the next training step as measured after the last one, so it changes
/// the rate from the next epoch on, as PyTorch's `scheduler.step(val_loss)` does. A loop of
/// your own can call [`MetricFeed::observe`] with a whole metric instead.
///
/// ```
/// use burn::lr_scheduler::LrScheduler;
/// use lrsched::Plateau;
/// use lrsched_burn::LrschedScheduler;
///
/// // Plateau over 0.1, halved after 1 epoch without improvement; epochs of 2 batches.
/// let plateau = Plateau::new(0.1).with_factor(0.5).with_patience(0);
/// let mut s = LrschedScheduler::new(plateau).unwrap().with_steps_per_epoch(2).unwrap();
/// let feed = s.metric_feed();
/// let mut rates = Vec::new();
/// for val_loss in [[1.0, 0.8], [1.2, 1.0]] {
///     rates.push(s.step());
///     rates.push(s.step());
///     // The validation epoch: two batches of 32 samples.
///     for loss in val_loss {
///         feed.record(loss, 32.0);
///     }
/// }
/// rates.push(s.step());
/// // Epoch 0's mean 0.9 is the best so far; epoch 1's 1.1 is worse: halved from epoch 2.
/// assert_eq!(rates, [0.1, 0.1, 0.1, 0.1, 0.05]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricFeed {
    inner: Arc<Mutex<Feed>>,
}

#[derive(Debug, Default)]
struct Feed {
    metrics: Vec<f64>,
    batch_sum: f64,
    batch_weight: f64,
    error: Option<String>,
}

impl Feed {
    fn pending(&self) -> Vec<f64> {
        let mut out = self.metrics.clone();
        if self.batch_weight > 0.0 {
            out.push(self.batch_sum / self.batch_weight);
        }
        out
    }
}

impl MetricFeed {
    // A panic elsewhere while the lock was held leaves plain numbers behind, still usable.
    fn lock(&self) -> MutexGuard<'_, Feed> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds one whole metric (e.g. an epoch's validation loss computed by your own loop).
    pub fn observe(&self, metric: f64) {
        let mut f = self.lock();
        // Keep the order metrics arrived in: batches recorded before this one close first.
        if f.batch_weight > 0.0 {
            let mean = f.batch_sum / f.batch_weight;
            f.metrics.push(mean);
            f.batch_sum = 0.0;
            f.batch_weight = 0.0;
        }
        f.metrics.push(metric);
    }

    /// Records one validation batch's value (e.g. its mean loss) with its weight (e.g. its
    /// number of samples). A weight that is not a positive finite number is refused and
    /// reported in [`MetricFeed::last_error`].
    pub fn record(&self, value: f64, weight: f64) {
        let mut f = self.lock();
        if !(weight.is_finite() && weight > 0.0) {
            f.error = Some(format!(
                "batch weight {weight} refused: a positive finite number is needed"
            ));
            return;
        }
        f.batch_sum += value * weight;
        f.batch_weight += weight;
    }

    /// The last problem met: a refused metric or weight, or a record that could not be
    /// restored.
    pub fn last_error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    fn report(&self, message: String) {
        self.lock().error = Some(message);
    }

    fn peek(&self) -> Vec<f64> {
        self.lock().pending()
    }

    fn take(&self) -> Vec<f64> {
        let mut f = self.lock();
        let out = f.pending();
        f.metrics.clear();
        f.batch_sum = 0.0;
        f.batch_weight = 0.0;
        out
    }
}
