//! `timm.*` configs: the schedulers of `timm.scheduler`, read into native schedules.
//!
//! `type` is the class name (`timm.CosineLRScheduler`); `lr` is the optimizer's base rate
//! and every other key is the class's own keyword argument with its own default. The value
//! at step `t` is timm's `_get_lr(t)` with its noise, i.e. the rate after
//! `scheduler.step_update(t)` with `t_in_epochs=False` (or after `scheduler.step(t)` with
//! epochs: the numbers as a function of `t` are the same, so `t_in_epochs` is accepted and
//! changes nothing). Checked step by step against timm 1.0.31 to a relative 1e-10 in
//! `tests/transformers_timm_golden.rs`.
//!
//! What each class becomes:
//!
//! - `CosineLRScheduler`, `TanhLRScheduler`, `PolyLRScheduler`: cycle `i` (from 0) is a
//!   native `cosine` (with `k_decay`), `tanh` (`lb`, `ub`) or `polynomial` (`power`,
//!   `k_decay`) from `lr * cycle_decay^i` to `lr_min` over `t_initial * cycle_mul^i` steps;
//!   after `cycle_limit` cycles the value is `lr_min`. With `cycle_mul = 1` and
//!   `cycle_decay = 1` that is the family with `after_end = restart` joined with a constant
//!   `lr_min`; otherwise the native [`crate::Cycles`] around the first cycle, which
//!   computes the cycle index, its length and the (possibly fractional) steps into it with
//!   timm's own float formula, `floor(log(1 - t / t_initial * (1 - cycle_mul),
//!   cycle_mul))`, so any float `cycle_mul > 0` (1.5, 2.5, 0.5) gives timm's values, at
//!   every step and O(1), including the boundaries where that `floor(log)` lands one
//!   cycle early (for `cycle_mul = 3`, the start of cycle 5) and timm does not restart.
//!   A `cycle_mul <= 0` is refused (timm's log raises at the first step); below 1 the
//!   cycles shrink towards `t_initial / (1 - cycle_mul)`, where timm's log raises and
//!   lrsched holds `lr_min`.
//! - `StepLRScheduler`: native `step` (`decay_t` a whole number of steps; a fractional
//!   `decay_t` is a `stretch` of a `step` by `decay_t`).
//! - `MultiStepLRScheduler`: native `multi_step` with every milestone one step earlier,
//!   as timm counts `bisect_right(decay_t, t + 1)`: the rate drops at `decay_t[i] - 1`.
//! - `PlateauLRScheduler`: native `plateau` (mode `max` by default, as timm) after the
//!   warmup, in a `join` so that metrics measured during the warmup are not seen, as timm
//!   does not pass them on. timm's plateau scheduler is driven by epochs: the value at `t`
//!   is the rate after `scheduler.step(t, metric)` with the metric observed at `t - 1`.
//!
//! The warmup (`warmup_t`, `warmup_lr_init`) rises linearly to `lr` (for `TanhLRScheduler`
//! without `warmup_prefix`, to the tanh's value at `warmup_t`, as timm). With
//! `warmup_prefix` the schedule starts after the warmup (a local `join`); without, it reads
//! the global step and the warmup hides its first `warmup_t` steps (a global `join`).
//!
//! Noise (`noise_range_t` a step or `[start, end]`, `noise_pct`, `noise_std`, `noise_seed`,
//! and `noise_type` where the class has it) becomes the native `noise` with the same
//! range, shape (truncated normal by default, as timm) and bounds: the value stays within
//! `(1 ± noise_pct)` times the noise-free value. The draws themselves differ: timm seeds a
//! torch generator with `noise_seed + t`, lrsched uses its own counter-based generator, so
//! noisy steps match timm's in distribution and bounds, not number for number.
//!
//! ```
//! use lrsched::{config, Schedule};
//! let s = config::from_json_str(
//!     r#"{"type": "timm.CosineLRScheduler", "lr": 0.1, "t_initial": 100,
//!         "warmup_t": 5, "warmup_lr_init": 0.001}"#,
//! )
//! .unwrap();
//! assert_eq!(s.value(0), 0.001);
//! assert!((s.value(50) - 0.05).abs() < 1e-15);
//! assert_eq!(s.value(100), 0.0);
//! ```

pub(crate) mod write;

use crate::catalog::TypeInfo;
use crate::config::typed;
use crate::{
    AfterEnd, AnySchedule, Constant, Cosine, Cycles, Join, JoinTime, MultiStep, Noise, Plateau,
    PlateauMode, Polynomial, Schedule, ScheduleError, StepDecay, Stretch, Tanh, ThresholdMode,
    Warmup,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

library! {
    "timm";
    "timm.CosineLRScheduler" => read_cycle::<CosineArgs>,
        "cosine cycles (cycle_mul, cycle_decay, cycle_limit, k_decay) with warmup and noise",
        "lr, t_initial, lr_min=0, cycle_mul=1, cycle_decay=1, cycle_limit=1, warmup_t=0, warmup_lr_init=0, warmup_prefix=false, t_in_epochs=true, noise_range_t=none, noise_pct=0.67, noise_std=1, noise_seed=42, k_decay=1",
        "timm.CosineLRScheduler(lr=0.1, t_initial=300, warmup_t=5, warmup_lr_init=0.0001)";
    "timm.TanhLRScheduler" => read_cycle::<TanhArgs>,
        "tanh cycles (lb, ub, cycle_mul, cycle_decay, cycle_limit) with warmup and noise",
        "lr, t_initial, lb=-7, ub=3, lr_min=0, cycle_mul=1, cycle_decay=1, cycle_limit=1, warmup_t=0, warmup_lr_init=0, warmup_prefix=false, t_in_epochs=true, noise_range_t=none, noise_pct=0.67, noise_std=1, noise_seed=42",
        "timm.TanhLRScheduler(lr=0.1, t_initial=100)";
    "timm.StepLRScheduler" => read::<StepArgs>,
        "lr * decay_rate^(t // decay_t) with warmup and noise",
        "lr, decay_t, decay_rate=1, warmup_t=0, warmup_lr_init=0, warmup_prefix=true, t_in_epochs=true, noise_range_t=none, noise_pct=0.67, noise_std=1, noise_seed=42",
        "timm.StepLRScheduler(lr=0.1, decay_t=30, decay_rate=0.1)";
    "timm.MultiStepLRScheduler" => read::<MultiStepArgs>,
        "lr * decay_rate per milestone of decay_t (timm drops one step before each) with warmup and noise",
        "lr, decay_t, decay_rate=1, warmup_t=0, warmup_lr_init=0, warmup_prefix=true, t_in_epochs=true, noise_range_t=none, noise_pct=0.67, noise_std=1, noise_seed=42",
        "timm.MultiStepLRScheduler(lr=0.1, decay_t=[30, 60], decay_rate=0.1)";
    "timm.PolyLRScheduler" => read_cycle::<PolyArgs>,
        "polynomial cycles (power, cycle_mul, cycle_decay, cycle_limit, k_decay) with warmup and noise",
        "lr, t_initial, power=0.5, lr_min=0, cycle_mul=1, cycle_decay=1, cycle_limit=1, warmup_t=0, warmup_lr_init=0, warmup_prefix=false, t_in_epochs=true, noise_range_t=none, noise_pct=0.67, noise_std=1, noise_seed=42, k_decay=1",
        "timm.PolyLRScheduler(lr=0.1, t_initial=100, power=2)";
    "timm.PlateauLRScheduler" => read::<PlateauArgs>,
        "ReduceLROnPlateau (mode max by default) after a warmup, with noise",
        "lr, decay_rate=0.1, patience_t=10, threshold=0.0001, cooldown_t=0, warmup_t=0, warmup_lr_init=0, lr_min=0, mode=max, noise_range_t=none, noise_type=normal, noise_pct=0.67, noise_std=1, noise_seed=42",
        "timm.PlateauLRScheduler(lr=0.1, decay_rate=0.5, patience_t=2, mode=min)";
}

/// A class's own keyword arguments, turned into a native schedule with the warmup and
/// noise every class takes.
trait Build {
    fn build(self, name: &str, common: Common) -> Result<AnySchedule, ScheduleError>;
}

/// A cycle-aware class's own keyword arguments, turned into a native schedule with the
/// cycles, warmup and noise they share.
trait BuildCycle {
    fn build(self, name: &str, cycle: Cycle, common: Common) -> Result<AnySchedule, ScheduleError>;
}

fn read<T: DeserializeOwned + Build>(
    name: &str,
    mut body: Map<String, Value>,
) -> Result<AnySchedule, ScheduleError> {
    known_keys(name, &body, &[fields_of::<T>(), fields_of::<Common>()])?;
    let common = take::<Common>(name, &mut body)?;
    typed::<T>(name, Value::Object(body))?.build(name, common)
}

fn read_cycle<T: DeserializeOwned + BuildCycle>(
    name: &str,
    mut body: Map<String, Value>,
) -> Result<AnySchedule, ScheduleError> {
    let structs = [
        fields_of::<T>(),
        fields_of::<Cycle>(),
        fields_of::<Common>(),
    ];
    known_keys(name, &body, &structs)?;
    let common = take::<Common>(name, &mut body)?;
    let cycle = take::<Cycle>(name, &mut body)?;
    typed::<T>(name, Value::Object(body))?.build(name, cycle, common)
}

/// An unknown key is reported first, listing every key the class takes across the
/// structs its arguments are split into (as one struct with `deny_unknown_fields` did).
fn known_keys(
    name: &str,
    body: &Map<String, Value>,
    structs: &[&[&str]],
) -> Result<(), ScheduleError> {
    let allowed = || structs.iter().flat_map(|s| s.iter().copied());
    match body.keys().find(|k| !allowed().any(|a| a == k.as_str())) {
        None => Ok(()),
        Some(key) => Err(ScheduleError::UnknownKey {
            schedule: name.to_string(),
            key: key.clone(),
            suggestion: crate::suggest(key, allowed()),
            allowed: allowed().map(String::from).collect(),
        }),
    }
}

/// Moves the keys of struct `S` out of `body` and reads them into an `S`.
fn take<S: DeserializeOwned>(
    name: &str,
    body: &mut Map<String, Value>,
) -> Result<S, ScheduleError> {
    let part: Map<String, Value> = fields_of::<S>()
        .iter()
        .filter_map(|k| body.remove_entry(*k))
        .collect();
    typed::<S>(name, Value::Object(part))
}

/// The field names of a plain (not flattened) struct, as its derived `Deserialize`
/// passes them to `deserialize_struct`: one list, so a shared struct's keys are written
/// once.
fn fields_of<S: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{value::Error, Error as _, Visitor};
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            *self.0 = fields;
            Err(Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = S::deserialize(Probe(&mut fields));
    fields
}

defaults! {
    k_decay: f64 = 1.0;
    lr_min: f64 = 0.0;
    cycle_mul: f64 = 1.0;
    cycle_decay: f64 = 1.0;
}

// Serde's defaults for keys outside `defaults!`: adding them there would change what the
// writer leaves out (its `all()` list), so they are declared here, each once.
// `decay_rate`, `patience`, `threshold` and `mode` are timm's plateau scheduler's, not torch's.
crate::check::serde_defaults! {
    noise_pct: f64 = 0.67;
    noise_seed: u64 = 42;
    lb: f64 = -7.0;
    ub: f64 = 3.0;
    power: f64 = 0.5;
    decay_rate: f64 = 0.1;
    patience: u64 = 10;
    threshold: f64 = 1e-4;
    mode: PlateauMode = PlateauMode::Max;
}

fn one() -> f64 {
    1.0
}
fn one_u64() -> u64 {
    1
}
fn yes() -> bool {
    true
}

/// `noise_range_t`: a first noisy step, or `[start, end)`.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum NoiseRange {
    From(u64),
    Range(Vec<u64>),
}

impl NoiseRange {
    fn bounds(&self, name: &str) -> Result<(u64, Option<u64>), ScheduleError> {
        match self {
            NoiseRange::From(s) => Ok((*s, None)),
            NoiseRange::Range(r) if r.len() == 2 => Ok((r[0], Some(r[1].max(r[0])))),
            NoiseRange::Range(r) => Err(ScheduleError::invalid(
                name,
                "noise_range_t",
                format!("{r:?}"),
                "a step or a list of two steps [start, end]",
            )),
        }
    }
}

/// The warmup and noise arguments every timm class takes, with timm's defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    #[serde(default)]
    warmup_t: u64,
    #[serde(default)]
    warmup_lr_init: f64,
    #[serde(default)]
    noise_range_t: Option<NoiseRange>,
    #[serde(default = "serde_defaults::noise_pct")]
    noise_pct: f64,
    #[serde(default = "one")]
    noise_std: f64,
    #[serde(default = "serde_defaults::noise_seed")]
    noise_seed: u64,
}

impl Common {
    /// timm's noise: `v + v * n` with `n` a normal of `noise_std` truncated to
    /// `|n| < noise_pct` (`normal`) or a uniform in `[-noise_pct, noise_pct)`, for `t` in
    /// the range; `first` is the first step timm may add noise at (after a plateau
    /// warmup).
    fn noise(
        &self,
        name: &str,
        s: AnySchedule,
        normal: bool,
        first: u64,
    ) -> Result<AnySchedule, ScheduleError> {
        let Some(range) = &self.noise_range_t else {
            return Ok(s);
        };
        let (start, end) = range.bounds(name)?;
        let start = start.max(first);
        let end = end.map(|e| e.max(start));
        let noise = if normal {
            Noise::normal(s, self.noise_pct, self.noise_std)
        } else {
            Noise::new(s, self.noise_pct)
        };
        Ok(noise
            .with_range(start, end)
            .with_seed(self.noise_seed)
            .into())
    }

    /// The warmup to `target` in front of `sched` (see [`with_warmup`]), then the noise.
    fn finish(
        &self,
        name: &str,
        target: f64,
        prefix: bool,
        sched: AnySchedule,
    ) -> Result<AnySchedule, ScheduleError> {
        let s = with_warmup(self.warmup_t, self.warmup_lr_init, target, prefix, sched);
        self.noise(name, s, true, 0)
    }
}

/// timm's linear warmup `warmup_lr_init + t * (target - warmup_lr_init) / warmup_t` in
/// front of `sched`, which reads the step after the warmup (`prefix`) or the global one.
fn with_warmup(w: u64, init: f64, target: f64, prefix: bool, sched: AnySchedule) -> AnySchedule {
    if w == 0 {
        return sched;
    }
    if prefix && sched.value(0) == target {
        return Warmup::linear(w, sched).with_start_lr(init).into();
    }
    let warm = Warmup::linear(w, Constant::new(target)).with_start_lr(init);
    let time = if prefix {
        JoinTime::Local
    } else {
        JoinTime::Global
    };
    Join::new(vec![warm.into(), sched], vec![w])
        .with_time(time)
        .into()
}

/// The cycle arguments of `CosineLRScheduler`, `TanhLRScheduler` and `PolyLRScheduler`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cycle {
    t_initial: u64,
    #[serde(default = "defaults::lr_min")]
    lr_min: f64,
    #[serde(default = "defaults::cycle_mul")]
    cycle_mul: f64,
    #[serde(default = "defaults::cycle_decay")]
    cycle_decay: f64,
    #[serde(default = "one_u64")]
    cycle_limit: u64,
    #[serde(default)]
    warmup_prefix: bool,
    #[serde(default = "yes")]
    #[allow(dead_code)]
    t_in_epochs: bool,
}

impl Cycle {
    /// timm's cycles: cycle `i` is `piece(lr * cycle_decay^i, t_initial * cycle_mul^i)`,
    /// then `lr_min` after `cycle_limit` cycles. `piece(lr, t_initial, after_end)` is the
    /// first cycle.
    fn build(
        &self,
        name: &str,
        lr: f64,
        piece: impl Fn(f64, u64, AfterEnd) -> AnySchedule,
    ) -> Result<AnySchedule, ScheduleError> {
        let (t_initial, cycle_limit) = (self.t_initial, self.cycle_limit);
        let (mul, decay) = (self.cycle_mul, self.cycle_decay);
        if t_initial == 0 {
            return Err(ScheduleError::invalid(
                name,
                "t_initial",
                0,
                "a number of steps >= 1 (timm asserts t_initial > 0)",
            ));
        }
        if !(mul.is_finite() && mul > 0.0) {
            // timm's math.log(x, cycle_mul) raises at the first step for these.
            return Err(ScheduleError::invalid(
                name,
                "cycle_mul",
                crate::check::fmt(mul),
                "a finite number > 0 (timm's log of the cycle fails otherwise)",
            ));
        }
        if cycle_limit == 0 {
            return Ok(Constant::new(self.lr_min).into());
        }
        if cycle_limit == 1 {
            return Ok(piece(lr, t_initial, AfterEnd::Hold));
        }
        if mul == 1.0 && decay == 1.0 {
            let end = t_initial.checked_mul(cycle_limit).ok_or_else(|| {
                ScheduleError::invalid(
                    name,
                    "cycle_limit",
                    cycle_limit,
                    "fewer cycles (their length overflows)",
                )
            })?;
            let repeating = piece(lr, t_initial, AfterEnd::Restart);
            let hold = Constant::new(self.lr_min).into();
            return Ok(Join::new(vec![repeating, hold], vec![end]).into());
        }
        Ok(Cycles::new(piece(lr, t_initial, AfterEnd::Hold))
            .with_cycle_mul(mul)
            .with_cycle_decay(decay)
            .with_cycle_limit(cycle_limit)
            .into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineArgs {
    lr: f64,
    #[serde(default = "defaults::k_decay")]
    k_decay: f64,
}

impl BuildCycle for CosineArgs {
    fn build(self, name: &str, cycle: Cycle, common: Common) -> Result<AnySchedule, ScheduleError> {
        let (lr_min, k) = (cycle.lr_min, self.k_decay);
        let sched = cycle.build(name, self.lr, |peak, len, after_end| {
            Cosine::new(peak, len)
                .with_min_lr(lr_min)
                .with_k_decay(k)
                .with_after_end(after_end)
                .into()
        })?;
        common.finish(name, self.lr, cycle.warmup_prefix, sched)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TanhArgs {
    lr: f64,
    #[serde(default = "serde_defaults::lb")]
    lb: f64,
    #[serde(default = "serde_defaults::ub")]
    ub: f64,
}

impl BuildCycle for TanhArgs {
    fn build(self, name: &str, cycle: Cycle, common: Common) -> Result<AnySchedule, ScheduleError> {
        let (lr_min, lb, ub) = (cycle.lr_min, self.lb, self.ub);
        let sched = cycle.build(name, self.lr, |peak, len, after_end| {
            Tanh::new(peak, len)
                .with_min_lr(lr_min)
                .with_bounds(lb, ub)
                .with_after_end(after_end)
                .into()
        })?;
        // timm warms up to `_get_lr(warmup_t)` without the prefix, to `lr` with it.
        let target = if cycle.warmup_prefix {
            self.lr
        } else {
            sched.value(common.warmup_t)
        };
        common.finish(name, target, cycle.warmup_prefix, sched)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolyArgs {
    lr: f64,
    #[serde(default = "serde_defaults::power")]
    power: f64,
    #[serde(default = "defaults::k_decay")]
    k_decay: f64,
}

impl BuildCycle for PolyArgs {
    fn build(self, name: &str, cycle: Cycle, common: Common) -> Result<AnySchedule, ScheduleError> {
        let (lr_min, power, k) = (cycle.lr_min, self.power, self.k_decay);
        let sched = cycle.build(name, self.lr, |peak, len, after_end| {
            Polynomial::new(peak, len)
                .with_end_lr(lr_min)
                .with_power(power)
                .with_k_decay(k)
                .with_after_end(after_end)
                .into()
        })?;
        common.finish(name, self.lr, cycle.warmup_prefix, sched)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepArgs {
    lr: f64,
    decay_t: f64,
    #[serde(default = "one")]
    decay_rate: f64,
    #[serde(default = "yes")]
    warmup_prefix: bool,
    #[serde(default = "yes")]
    #[allow(dead_code)]
    t_in_epochs: bool,
}

impl Build for StepArgs {
    fn build(self, name: &str, common: Common) -> Result<AnySchedule, ScheduleError> {
        let d = self.decay_t;
        if !(d.is_finite() && d > 0.0) {
            return Err(ScheduleError::invalid(
                name,
                "decay_t",
                crate::check::fmt(d),
                "a number of steps > 0",
            ));
        }
        // timm: v * decay_rate ** (t // decay_t); decay_t may be a float.
        let sched: AnySchedule = if d.fract() == 0.0 && d < 2f64.powi(63) {
            StepDecay::new(self.lr, d as u64, self.decay_rate).into()
        } else {
            Stretch::new(StepDecay::new(self.lr, 1, self.decay_rate), d).into()
        };
        common.finish(name, self.lr, self.warmup_prefix, sched)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MultiStepArgs {
    lr: f64,
    decay_t: Vec<u64>,
    #[serde(default = "one")]
    decay_rate: f64,
    #[serde(default = "yes")]
    warmup_prefix: bool,
    #[serde(default = "yes")]
    #[allow(dead_code)]
    t_in_epochs: bool,
}

impl Build for MultiStepArgs {
    fn build(self, name: &str, common: Common) -> Result<AnySchedule, ScheduleError> {
        // timm: bisect_right(decay_t, t + 1) milestones have passed at t, so each drop
        // comes at decay_t[i] - 1.
        let milestones = self.decay_t.iter().map(|m| m.saturating_sub(1)).collect();
        let sched = MultiStep::new(self.lr, milestones).with_gamma(self.decay_rate);
        common.finish(name, self.lr, self.warmup_prefix, sched.into())
    }
}

fn normal_word() -> String {
    "normal".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlateauArgs {
    lr: f64,
    #[serde(default = "serde_defaults::decay_rate")]
    decay_rate: f64,
    #[serde(default = "serde_defaults::patience")]
    patience_t: u64,
    #[serde(default = "serde_defaults::threshold")]
    threshold: f64,
    #[serde(default)]
    cooldown_t: u64,
    #[serde(default = "defaults::lr_min")]
    lr_min: f64,
    #[serde(default = "serde_defaults::mode")]
    mode: PlateauMode,
    #[serde(default = "normal_word")]
    noise_type: String,
}

impl Build for PlateauArgs {
    fn build(self, name: &str, common: Common) -> Result<AnySchedule, ScheduleError> {
        let normal = match self.noise_type.as_str() {
            "normal" => true,
            "uniform" => false,
            other => {
                return Err(ScheduleError::invalid(
                    name,
                    "noise_type",
                    other,
                    "'normal' or 'uniform'",
                ))
            }
        };
        let plateau: AnySchedule = Plateau::new(self.lr)
            .with_mode(self.mode)
            .with_factor(self.decay_rate)
            .with_patience(self.patience_t)
            .with_threshold(self.threshold, ThresholdMode::Rel)
            .with_cooldown(self.cooldown_t)
            .with_min_lr(self.lr_min)
            .into();
        let w = common.warmup_t;
        // timm's step(epoch, metric) warms up while epoch <= warmup_t and ignores the
        // metric there: the metric observed at step w - 1 (fed at epoch w) is the last one
        // the plateau must not see, so it owns the steps from w on.
        let s = if w == 0 {
            plateau
        } else {
            let warm =
                Warmup::linear(w, Constant::new(self.lr)).with_start_lr(common.warmup_lr_init);
            Join::new(vec![warm.into(), plateau], vec![w]).into()
        };
        // Noise is added only once past the warmup (epoch > warmup_t).
        common.noise(name, s, normal, if w == 0 { 0 } else { w + 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<AnySchedule, ScheduleError> {
        crate::config::from_value(v)
    }

    #[test]
    fn cycle_limit_reached_gives_lr_min() {
        let s = parse(
            json!({"type": "timm.CosineLRScheduler", "lr": 1.0, "t_initial": 4,
            "lr_min": 0.1, "cycle_limit": 2}),
        )
        .unwrap();
        assert_eq!(s.value(4), 1.0);
        assert_eq!(s.value(8), 0.1);
        assert_eq!(s.value(1000), 0.1);
    }

    #[test]
    fn fractional_cycle_mul_is_timms() {
        // timm: cycles of 3, 4.5, 6.75 steps starting at 0, 3, 7.5.
        let s = parse(
            json!({"type": "timm.CosineLRScheduler", "lr": 1.0, "t_initial": 3,
            "cycle_mul": 1.5, "cycle_limit": 3}),
        )
        .unwrap();
        assert_eq!(s.type_name(), "cycles");
        assert_eq!(s.value(3), 1.0);
        let at = |t_curr: f64, t_i: f64| 0.5 * (1.0 + (std::f64::consts::PI * t_curr / t_i).cos());
        assert!((s.value(8) - at(0.5, 6.75)).abs() < 1e-15);
        assert_eq!(s.len(), Some(15));
        assert_eq!(s.value(15), 0.0);
        for bad in [0.0, -1.5] {
            let e = parse(
                json!({"type": "timm.TanhLRScheduler", "lr": 1.0, "t_initial": 3,
                "cycle_mul": bad, "cycle_limit": 3}),
            )
            .unwrap_err();
            assert!(e.to_string().contains("cycle_mul"), "{e}");
        }
    }

    #[test]
    fn shared_keys_are_listed_for_an_unknown_key() {
        let e = parse(
            json!({"type": "timm.PolyLRScheduler", "lr": 1.0, "t_initial": 3,
            "cycle_mull": 1.5}),
        )
        .unwrap_err();
        let ScheduleError::UnknownKey {
            allowed,
            suggestion,
            ..
        } = &e
        else {
            panic!("{e:?}");
        };
        for k in [
            "lr",
            "power",
            "t_initial",
            "cycle_mul",
            "noise_seed",
            "warmup_t",
        ] {
            assert!(allowed.iter().any(|a| a == k), "{k}: {e}");
        }
        assert_eq!(suggestion.as_deref(), Some("cycle_mul"));
        // The plateau takes the shared warmup and noise keys but no warmup_prefix.
        let e = parse(json!({"type": "timm.PlateauLRScheduler", "lr": 1.0,
            "warmup_prefix": true}))
        .unwrap_err();
        assert!(matches!(e, ScheduleError::UnknownKey { .. }), "{e}");
    }

    #[test]
    fn multistep_drops_one_step_early() {
        let s = parse(json!({"type": "timm.MultiStepLRScheduler", "lr": 1.0,
            "decay_t": [3, 3, 5], "decay_rate": 0.5}))
        .unwrap();
        assert_eq!(s.values(0..5), vec![1.0, 1.0, 0.25, 0.25, 0.125]);
    }

    #[test]
    fn unknown_class_is_none() {
        assert!(crate::compat::from_value("timm.CosineScheduler", Map::new()).is_none());
    }
}
