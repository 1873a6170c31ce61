//! `optax.*` configs: optax's schedule functions, with their own keyword arguments.
//!
//! Each function is read into native schedules ([`Constant`], [`Linear`],
//! [`Polynomial`], [`Exponential`], [`Cosine`], [`Warmup`], [`Join`]) that reproduce it
//! step for step, quirks included:
//!
//! * `transition_steps <= 0` in `linear_schedule`, `polynomial_schedule` and
//!   `exponential_decay` is a constant `init_value` (so `warmup_constant_schedule` with
//!   `warmup_steps = 0` stays at `init_value`, as optax's does);
//! * `exponential_decay`'s `end_value` is a floor when `decay_rate < 1` and a ceiling
//!   otherwise, applied at every step (an `end_value` on the far side of `init_value`
//!   makes the whole schedule that constant); a growing rate without an `end_value`
//!   grows without bound, as in optax (an `exponential` with `max_lr` the largest f64);
//! * values may be negative or zero where optax's are (a negative `init_value` of
//!   `piecewise_constant_schedule`, a negative `end_value` of
//!   `warmup_cosine_decay_schedule`): they are reproduced, not refused; a training loop
//!   tells them apart with [`crate::is_usable_rate`]. `exponential_decay` (whose
//!   `end_value` clip lrsched's `exponential` floors at 0) still needs a non-negative
//!   `init_value`;
//! * `warmup_cosine_decay_schedule` with `peak_value` 0 ignores `end_value`, as optax
//!   does (it decays to `alpha * peak` with `alpha = 0`);
//! * `piecewise_interpolate_schedule` (and the one-cycle schedules built on it) gives a
//!   boundary at 0 or two equal boundaries a segment that is never in force, and a
//!   one-cycle whose computed boundaries collide keeps the later scale, as Python's dict
//!   literal does;
//! * `join_schedules` hands each part the steps since its boundary.
//!
//! A `boundaries_and_scales` dict is a JSON object whose keys are steps written as
//! strings: `{"1000": 0.1, "2000": 0.1}`.
//!
//! optax computes in float32; lrsched computes the same formulas in f64, so its values
//! are the exact ones that optax's float32 results round, agreeing to about 1e-7
//! relative (the golden test holds them to 2e-6, with an absolute allowance near 0
//! where float32 cancellation in the cosine leaves optax a few 1e-8 of the peak away
//! from 0).
//!
//! ```
//! use lrsched::{config, Schedule};
//! let s = config::from_json_str(
//!     r#"{"type": "optax.warmup_cosine_decay_schedule", "init_value": 0.0,
//!         "peak_value": 1e-3, "warmup_steps": 100, "decay_steps": 1000}"#,
//! )
//! .unwrap();
//! assert_eq!(s.value(0), 0.0);
//! assert_eq!(s.value(100), 1e-3);
//! assert_eq!(s.value(1000), 0.0);
//! ```

pub(crate) mod write;

use super::{read, Build};
use crate::catalog::TypeInfo;
use crate::{
    check, AnySchedule, Constant, Cosine, Exponential, Join, Linear, Polynomial, Schedule,
    ScheduleError, Warmup,
};
use serde::Deserialize;
use std::collections::BTreeMap;

library! {
    "optax";
    "optax.constant_schedule" => read::<ConstantSchedule>,
        "value at every step",
        "value",
        "optax.constant_schedule(value=0.1)";
    "optax.linear_schedule" => read::<LinearSchedule>,
        "a line from init_value to end_value over transition_steps, after transition_begin",
        "init_value, end_value, transition_steps, transition_begin=0",
        "optax.linear_schedule(init_value=0.1, end_value=0.001, transition_steps=1000)";
    "optax.polynomial_schedule" => read::<PolynomialSchedule>,
        "(init - end) * (1 - t/transition_steps)^power + end, after transition_begin",
        "init_value, end_value, power, transition_steps, transition_begin=0",
        "optax.polynomial_schedule(init_value=0.1, end_value=0.001, power=2, transition_steps=1000)";
    "optax.piecewise_constant_schedule" => read::<PiecewiseConstant>,
        "init_value times every scale whose step is reached",
        "init_value, boundaries_and_scales=none",
        "optax.piecewise_constant_schedule(init_value=0.1, boundaries_and_scales={1000=0.1, 2000=0.1})";
    "optax.piecewise_interpolate_schedule" => read::<PiecewiseInterpolate>,
        "linear or cosine interpolation between init_value times the scales reached",
        "interpolate_type, init_value, boundaries_and_scales=none",
        "optax.piecewise_interpolate_schedule(interpolate_type=cosine, init_value=0.1, boundaries_and_scales={100=10, 1000=0.01})";
    "optax.exponential_decay" => read::<ExponentialDecay>,
        "init_value * decay_rate^((t - transition_begin)/transition_steps), staircase, end_value bound",
        "init_value, transition_steps, decay_rate, transition_begin=0, staircase=false, end_value=none",
        "optax.exponential_decay(init_value=0.1, transition_steps=100, decay_rate=0.5)";
    "optax.cosine_decay_schedule" => read::<CosineDecay>,
        "cosine from init_value to alpha * init_value over decay_steps (exponent)",
        "init_value, decay_steps, alpha=0, exponent=1",
        "optax.cosine_decay_schedule(init_value=0.1, decay_steps=1000)";
    "optax.warmup_cosine_decay_schedule" => read::<WarmupCosineDecay>,
        "linear warmup to peak_value, then cosine to end_value; decay_steps includes the warmup",
        "init_value, peak_value, warmup_steps, decay_steps, end_value=0, exponent=1",
        "optax.warmup_cosine_decay_schedule(init_value=0, peak_value=0.001, warmup_steps=100, decay_steps=1000)";
    "optax.warmup_constant_schedule" => read::<WarmupConstant>,
        "linear warmup to peak_value, then constant",
        "init_value, peak_value, warmup_steps",
        "optax.warmup_constant_schedule(init_value=0, peak_value=0.1, warmup_steps=100)";
    "optax.warmup_exponential_decay_schedule" => read::<WarmupExponentialDecay>,
        "linear warmup to peak_value, then optax.exponential_decay from it",
        "init_value, peak_value, warmup_steps, transition_steps, decay_rate, transition_begin=0, staircase=false, end_value=none",
        "optax.warmup_exponential_decay_schedule(init_value=0, peak_value=0.1, warmup_steps=100, transition_steps=1000, decay_rate=0.5)";
    "optax.cosine_onecycle_schedule" => read::<CosineOnecycle>,
        "one cycle by cosine interpolation: up to peak_value, down to peak/(div*final_div)",
        "transition_steps, peak_value, pct_start=0.3, div_factor=25, final_div_factor=10000",
        "optax.cosine_onecycle_schedule(transition_steps=1000, peak_value=0.1)";
    "optax.linear_onecycle_schedule" => read::<LinearOnecycle>,
        "one cycle by linear interpolation: up to peak_value, back down, then to init/final_div",
        "transition_steps, peak_value, pct_start=0.3, pct_final=0.85, div_factor=25, final_div_factor=10000",
        "optax.linear_onecycle_schedule(transition_steps=1000, peak_value=0.1)";
    "optax.join_schedules" => read::<JoinSchedules>,
        "schedules one after another; each sees the steps since its boundary",
        "schedules, boundaries",
        "optax.join_schedules(schedules=[optax.constant_schedule(value=0.01), optax.cosine_decay_schedule(init_value=0.1, decay_steps=900)], boundaries=[100])";
    "optax.sgdr_schedule" => read::<Sgdr>,
        "warmup-cosine cycles one after another, one per dict of warmup_cosine_decay_schedule arguments",
        "cosine_kwargs",
        "optax.sgdr_schedule(cosine_kwargs=[{init_value=0, peak_value=0.1, warmup_steps=10, decay_steps=100}, {init_value=0, peak_value=0.05, warmup_steps=10, decay_steps=200}])";
}

defaults! {
    exponent: f64 = 1.0;
    alpha: f64 = 0.0;
    transition_begin: i64 = 0;
    staircase: bool = false;
}

// Serde's defaults for keys outside `defaults!`: adding them there would change what the
// writer leaves out (its `all()` list), so they are declared here, each once.
crate::check::serde_defaults! {
    pct_start: f64 = 0.3;
    pct_final: f64 = 0.85;
    div_factor: f64 = 25.0;
    final_div_factor: f64 = 1e4;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantSchedule {
    value: f64,
}

impl Build for ConstantSchedule {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::rate(name, "value", self.value)?;
        Ok(super::signed(self.value, |s| {
            Constant::new(s * self.value).into()
        }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearSchedule {
    init_value: f64,
    end_value: f64,
    transition_steps: i64,
    #[serde(default = "defaults::transition_begin")]
    transition_begin: i64,
}

impl Build for LinearSchedule {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        polynomial(
            name,
            self.init_value,
            self.end_value,
            1.0,
            self.transition_steps,
            self.transition_begin,
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolynomialSchedule {
    init_value: f64,
    end_value: f64,
    power: f64,
    transition_steps: i64,
    #[serde(default = "defaults::transition_begin")]
    transition_begin: i64,
}

impl Build for PolynomialSchedule {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        polynomial(
            name,
            self.init_value,
            self.end_value,
            self.power,
            self.transition_steps,
            self.transition_begin,
        )
    }
}

/// optax's `polynomial_schedule`: constant `init` for `transition_steps <= 0` (and for
/// power 0, where `frac ** 0` is 1 throughout), held at `init` for `begin` steps.
fn polynomial(
    name: &str,
    init: f64,
    end: f64,
    power: f64,
    steps: i64,
    begin: i64,
) -> Result<AnySchedule, ScheduleError> {
    check::rate(name, "init_value", init)?;
    if steps <= 0 || power == 0.0 {
        return Ok(super::signed(init, |s| Constant::new(s * init).into()));
    }
    check::rate(name, "end_value", end)?;
    let steps = steps as u64;
    let core: AnySchedule = if power == 1.0 {
        Linear::new(init, end, steps).into()
    } else {
        super::signed(init, |s| {
            Polynomial::new(s * init, steps)
                .with_end_lr(s * end)
                .with_power(power)
                .into()
        })
    };
    Ok(held(init, begin, core))
}

/// `core` after `begin` steps at `init` (a negative `begin` counts as 0, as in optax).
fn held(init: f64, begin: i64, core: AnySchedule) -> AnySchedule {
    if begin > 0 {
        Join::new(
            vec![
                super::signed(init, |s| Constant::new(s * init).into()),
                core,
            ],
            vec![begin as u64],
        )
        .into()
    } else {
        core
    }
}

/// `boundaries_and_scales` as `(step, scale)` sorted by step; string keys in JSON.
fn steps_and_scales(
    name: &str,
    map: Option<BTreeMap<String, f64>>,
    negative_ok: bool,
) -> Result<Vec<(i64, f64)>, ScheduleError> {
    let mut out = Vec::new();
    for (key, scale) in map.unwrap_or_default() {
        let step: i64 = key.trim().parse().map_err(|_| ScheduleError::Invalid {
            path: format!("{name}.boundaries_and_scales"),
            message: format!("key \"{key}\" is not a step (an integer written as a string)"),
        })?;
        if step < 0 && !negative_ok {
            return Err(ScheduleError::invalid(
                name,
                "boundaries_and_scales",
                format!("{{\"{key}\": {scale}}}"),
                "keyed by steps >= 0",
            ));
        }
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(ScheduleError::invalid(
                name,
                "boundaries_and_scales",
                format!("{{\"{key}\": {}}}", check::fmt(scale)),
                "non-negative scale factors (optax raises otherwise)",
            ));
        }
        out.push((step, scale));
    }
    out.sort_by_key(|&(step, _)| step);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PiecewiseConstant {
    init_value: f64,
    #[serde(default)]
    boundaries_and_scales: Option<BTreeMap<String, f64>>,
}

impl Build for PiecewiseConstant {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::rate(name, "init_value", self.init_value)?;
        // A step below 0 is reached from the start, as step 0 is.
        let entries = steps_and_scales(name, self.boundaries_and_scales, true)?;
        if entries.is_empty() {
            return Ok(super::signed(self.init_value, |s| {
                Constant::new(s * self.init_value).into()
            }));
        }
        let mut value = self.init_value;
        let mut parts: Vec<AnySchedule> =
            vec![super::signed(value, |s| Constant::new(s * value).into())];
        let mut boundaries = Vec::new();
        for (step, scale) in entries {
            value *= scale;
            parts.push(super::signed(value, |s| Constant::new(s * value).into()));
            boundaries.push(step.max(0) as u64);
        }
        Ok(Join::new(parts, boundaries).into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PiecewiseInterpolate {
    interpolate_type: String,
    init_value: f64,
    #[serde(default)]
    boundaries_and_scales: Option<BTreeMap<String, f64>>,
}

impl Build for PiecewiseInterpolate {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let cosine = match self.interpolate_type.as_str() {
            "linear" => false,
            "cosine" => true,
            other => {
                return Err(ScheduleError::invalid(
                    name,
                    "interpolate_type",
                    format!("\"{other}\""),
                    "\"linear\" or \"cosine\"",
                ))
            }
        };
        let entries = steps_and_scales(name, self.boundaries_and_scales, false)?;
        interpolate(name, cosine, self.init_value, &entries)
    }
}

/// optax's `piecewise_interpolate_schedule`: segment `i` runs from `values[i]` to
/// `values[i + 1]` between consecutive boundaries (the first from step 0), the last value
/// holds after the last boundary. A segment of zero steps is never in force.
fn interpolate(
    name: &str,
    cosine: bool,
    init: f64,
    entries: &[(i64, f64)],
) -> Result<AnySchedule, ScheduleError> {
    check::rate(name, "init_value", init)?;
    if entries.is_empty() {
        return Ok(super::signed(init, |s| Constant::new(s * init).into()));
    }
    let mut parts: Vec<AnySchedule> = Vec::with_capacity(entries.len() + 1);
    let mut boundaries = Vec::with_capacity(entries.len());
    let (mut start, mut value) = (0u64, init);
    for &(step, scale) in entries {
        let step = step as u64;
        let next = value * scale;
        let size = step - start;
        parts.push(if size == 0 {
            super::signed(next, |s| Constant::new(s * next).into())
        } else if cosine {
            super::signed(value, |s| {
                Cosine::new(s * value, size).with_min_lr(s * next).into()
            })
        } else {
            Linear::new(value, next, size).into()
        });
        boundaries.push(step);
        (start, value) = (step, next);
    }
    parts.push(super::signed(value, |s| Constant::new(s * value).into()));
    Ok(Join::new(parts, boundaries).into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExponentialDecay {
    init_value: f64,
    transition_steps: i64,
    decay_rate: f64,
    #[serde(default = "defaults::transition_begin")]
    transition_begin: i64,
    #[serde(default = "defaults::staircase")]
    staircase: bool,
    #[serde(default)]
    end_value: Option<f64>,
}

impl Build for ExponentialDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        exponential(
            name,
            self.init_value,
            self.transition_steps,
            self.decay_rate,
            self.transition_begin,
            self.staircase,
            self.end_value,
        )
    }
}

/// optax's `exponential_decay`, its bound included.
fn exponential(
    name: &str,
    init: f64,
    steps: i64,
    rate: f64,
    begin: i64,
    staircase: bool,
    end: Option<f64>,
) -> Result<AnySchedule, ScheduleError> {
    check::non_negative(name, "init_value", init)?;
    if steps <= 0 || rate == 0.0 {
        return Ok(super::signed(init, |s| Constant::new(s * init).into()));
    }
    check::positive(name, "decay_rate", rate)?;
    let base = Exponential::new(init, rate)
        .with_transition_steps(steps as u64)
        .with_transition_begin(begin.max(0) as u64)
        .with_staircase(staircase);
    Ok(match end {
        // A growing rate without a ceiling grows without bound, as in optax (range tests
        // use it). lrsched's `exponential` asks a growth for a ceiling so that no native
        // config grows by mistake: the largest float is one that never binds (optax's
        // float32 overflows to inf long before f64 reaches it).
        None if rate > 1.0 => base.with_max_lr(f64::MAX).into(),
        None => base.into(),
        // optax clips every step, the held start included: a floor above `init_value`
        // or a ceiling below it is the whole schedule.
        Some(end) if rate < 1.0 && end > init => constant(name, end)?,
        Some(end) if rate < 1.0 => base.with_min_lr(end.max(0.0)).into(),
        Some(end) if end <= init => constant(name, end)?,
        Some(end) => base.with_max_lr(end).into(),
    })
}

fn constant(name: &str, value: f64) -> Result<AnySchedule, ScheduleError> {
    check::non_negative(name, "end_value", value)?;
    Ok(super::signed(value, |s| Constant::new(s * value).into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineDecay {
    init_value: f64,
    decay_steps: i64,
    #[serde(default = "defaults::alpha")]
    alpha: f64,
    #[serde(default = "defaults::exponent")]
    exponent: f64,
}

impl Build for CosineDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::rate(name, "init_value", self.init_value)?;
        if self.decay_steps <= 0 {
            return Err(ScheduleError::invalid(
                name,
                "decay_steps",
                self.decay_steps,
                "> 0 (optax raises otherwise)",
            ));
        }
        check::finite(name, "alpha", self.alpha)?;
        check::positive(name, "exponent", self.exponent)?;
        let init = self.init_value;
        Ok(super::signed(init, |s| {
            Cosine::new(s * init, self.decay_steps as u64)
                .with_min_lr(s * (self.alpha * init))
                .with_exponent(self.exponent)
                .into()
        }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarmupCosineDecay {
    init_value: f64,
    peak_value: f64,
    warmup_steps: u64,
    decay_steps: u64,
    #[serde(default)]
    end_value: f64,
    #[serde(default = "defaults::exponent")]
    exponent: f64,
}

impl Build for WarmupCosineDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::rate(name, "init_value", self.init_value)?;
        check::rate(name, "peak_value", self.peak_value)?;
        // optax ignores end_value for a zero peak (alpha = 0), so only a value it uses
        // is checked.
        if self.peak_value != 0.0 {
            check::rate(name, "end_value", self.end_value)?;
        }
        check::positive(name, "exponent", self.exponent)?;
        if self.decay_steps <= self.warmup_steps {
            return Err(ScheduleError::invalid(
                name,
                "decay_steps",
                self.decay_steps,
                format!(
                    "> warmup_steps = {} (decay_steps includes the warmup; optax raises otherwise)",
                    self.warmup_steps
                ),
            ));
        }
        // optax decays to alpha * peak with alpha = end / peak, and alpha = 0 for a zero
        // peak.
        let end = if self.peak_value == 0.0 {
            0.0
        } else {
            self.end_value
        };
        let peak = self.peak_value;
        let decay = super::signed(peak, |s| {
            Cosine::new(s * peak, self.decay_steps - self.warmup_steps)
                .with_min_lr(s * end)
                .with_exponent(self.exponent)
                .into()
        });
        Ok(warmed(self.init_value, self.warmup_steps, decay))
    }
}

/// A linear warmup from `init` over `steps` into `after` (which starts at the peak).
fn warmed(init: f64, steps: u64, after: AnySchedule) -> AnySchedule {
    if steps == 0 {
        after
    } else {
        Warmup::linear(steps, after).with_start_lr(init).into()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarmupConstant {
    init_value: f64,
    peak_value: f64,
    warmup_steps: u64,
}

impl Build for WarmupConstant {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::rate(name, "init_value", self.init_value)?;
        check::rate(name, "peak_value", self.peak_value)?;
        // optax's is a `linear_schedule` over `warmup_steps`, which is constant at
        // `init_value` for zero steps.
        if self.warmup_steps == 0 {
            return Ok(super::signed(self.init_value, |s| {
                Constant::new(s * self.init_value).into()
            }));
        }
        Ok(warmed(
            self.init_value,
            self.warmup_steps,
            super::signed(self.peak_value, |s| {
                Constant::new(s * self.peak_value).into()
            }),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarmupExponentialDecay {
    init_value: f64,
    peak_value: f64,
    warmup_steps: u64,
    transition_steps: i64,
    decay_rate: f64,
    #[serde(default = "defaults::transition_begin")]
    transition_begin: i64,
    #[serde(default = "defaults::staircase")]
    staircase: bool,
    #[serde(default)]
    end_value: Option<f64>,
}

impl Build for WarmupExponentialDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::non_negative(name, "init_value", self.init_value)?;
        check::non_negative(name, "peak_value", self.peak_value)?;
        let decay = exponential(
            name,
            self.peak_value,
            self.transition_steps,
            self.decay_rate,
            self.transition_begin,
            self.staircase,
            self.end_value,
        )?;
        if self.warmup_steps == 0 {
            return Ok(decay);
        }
        // The warmup rises to `peak_value` even where the bound moves the decay's start
        // elsewhere; a plain warmup rises to where the schedule after it starts.
        if decay.value(0) == self.peak_value {
            Ok(warmed(self.init_value, self.warmup_steps, decay))
        } else {
            let rise = Linear::new(self.init_value, self.peak_value, self.warmup_steps);
            Ok(Join::new(vec![rise.into(), decay], vec![self.warmup_steps]).into())
        }
    }
}

/// Python's `int(x)` of a float: truncation towards zero.
fn int(x: f64) -> i64 {
    x.trunc() as i64
}

/// What both one-cycle schedules refuse: no steps, or a factor that is not > 0.
fn onecycle_checks(name: &str, steps: i64, div: f64, final_div: f64) -> Result<(), ScheduleError> {
    if steps <= 0 {
        return Err(ScheduleError::invalid(
            name,
            "transition_steps",
            steps,
            "> 0 (optax raises otherwise)",
        ));
    }
    check::positive(name, "div_factor", div)?;
    check::positive(name, "final_div_factor", final_div)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineOnecycle {
    transition_steps: i64,
    peak_value: f64,
    #[serde(default = "serde_defaults::pct_start")]
    pct_start: f64,
    #[serde(default = "serde_defaults::div_factor")]
    div_factor: f64,
    #[serde(default = "serde_defaults::final_div_factor")]
    final_div_factor: f64,
}

impl Build for CosineOnecycle {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let (div, final_div) = (self.div_factor, self.final_div_factor);
        onecycle_checks(name, self.transition_steps, div, final_div)?;
        let t = self.transition_steps;
        // A dict literal: a repeated key keeps its later value.
        let mut scales = BTreeMap::new();
        scales.insert(int(self.pct_start * t as f64), self.div_factor);
        scales.insert(t, 1.0 / (self.div_factor * self.final_div_factor));
        onecycle(name, true, self.peak_value / self.div_factor, scales)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearOnecycle {
    transition_steps: i64,
    peak_value: f64,
    #[serde(default = "serde_defaults::pct_start")]
    pct_start: f64,
    #[serde(default = "serde_defaults::pct_final")]
    pct_final: f64,
    #[serde(default = "serde_defaults::div_factor")]
    div_factor: f64,
    #[serde(default = "serde_defaults::final_div_factor")]
    final_div_factor: f64,
}

impl Build for LinearOnecycle {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let (div, final_div) = (self.div_factor, self.final_div_factor);
        onecycle_checks(name, self.transition_steps, div, final_div)?;
        let t = self.transition_steps;
        let mut scales = BTreeMap::new();
        scales.insert(int(self.pct_start * t as f64), self.div_factor);
        scales.insert(int(self.pct_final * t as f64), 1.0 / self.div_factor);
        scales.insert(t, 1.0 / self.final_div_factor);
        onecycle(name, false, self.peak_value / self.div_factor, scales)
    }
}

fn onecycle(
    name: &str,
    cosine: bool,
    init: f64,
    scales: BTreeMap<i64, f64>,
) -> Result<AnySchedule, ScheduleError> {
    if let Some((&step, _)) = scales.iter().find(|(&s, _)| s < 0) {
        return Err(ScheduleError::invalid(
            name,
            "pct_start",
            step,
            "a fraction that puts every phase at a step >= 0",
        ));
    }
    let entries: Vec<(i64, f64)> = scales.into_iter().collect();
    interpolate(name, cosine, init, &entries)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinSchedules {
    schedules: Vec<AnySchedule>,
    boundaries: Vec<u64>,
}

impl Build for JoinSchedules {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let n = self.schedules.len();
        if n == 0 || self.boundaries.len() + 1 != n {
            return Err(ScheduleError::invalid(
                name,
                "boundaries",
                format!("{:?}", self.boundaries),
                format!(
                    "one step fewer than `schedules` ({n}), and `schedules` not empty (optax fails otherwise)"
                ),
            ));
        }
        if self.boundaries.windows(2).any(|w| w[1] < w[0]) {
            return Err(ScheduleError::invalid(
                name,
                "boundaries",
                format!("{:?}", self.boundaries),
                "non-decreasing (lrsched refuses parts that override earlier ones out of order)",
            ));
        }
        Ok(Join::new(self.schedules, self.boundaries).into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sgdr {
    cosine_kwargs: Vec<WarmupCosineDecay>,
}

impl Build for Sgdr {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        if self.cosine_kwargs.is_empty() {
            return Err(ScheduleError::invalid(
                name,
                "cosine_kwargs",
                "[]",
                "a list of at least one dict of warmup_cosine_decay_schedule arguments",
            ));
        }
        let mut parts = Vec::with_capacity(self.cosine_kwargs.len());
        let mut boundaries = Vec::with_capacity(self.cosine_kwargs.len());
        let mut at = 0u64;
        for kwargs in self.cosine_kwargs {
            at = at.saturating_add(kwargs.decay_steps);
            parts.push(kwargs.build(name)?);
            boundaries.push(at);
        }
        boundaries.pop();
        if parts.len() == 1 {
            return Ok(parts.remove(0));
        }
        Ok(Join::new(parts, boundaries).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use serde_json::{json, Value};

    fn parse(v: Value) -> AnySchedule {
        config::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[test]
    fn native_forms() {
        let s = parse(json!({"type": "optax.linear_schedule", "init_value": 0.1,
            "end_value": 0.0, "transition_steps": 10, "transition_begin": 5}));
        assert_eq!(s.type_name(), "join");
        assert_eq!(s.value(5), 0.1);
        assert_eq!(s.value(15), 0.0);
        let e = parse(
            json!({"type": "optax.exponential_decay", "init_value": 0.01,
            "transition_steps": 1, "decay_rate": 2.0, "end_value": 0.1}),
        );
        assert_eq!(e.value(1), 0.02);
        assert_eq!(e.value(u64::MAX), 0.1);
        let c = parse(
            json!({"type": "optax.warmup_constant_schedule", "init_value": 0.05,
            "peak_value": 0.1, "warmup_steps": 0}),
        );
        assert_eq!(c.value(7), 0.05);
    }

    #[test]
    fn quirks_and_refusals() {
        let err = |v: Value| config::from_value(v).unwrap_err().to_string();
        // Growth without an end_value grows, as in optax.
        let g = parse(json!({"type": "optax.exponential_decay", "init_value": 0.1,
            "transition_steps": 1, "decay_rate": 1.5}));
        assert_eq!(g.value(2), 0.1 * 1.5f64.powf(2.0));
        assert!(err(
            json!({"type": "optax.piecewise_constant_schedule", "init_value": 0.1,
            "boundaries_and_scales": {"x": 0.5}})
        )
        .contains("not a step"));
        assert!(err(json!({"type": "optax.join_schedules",
            "schedules": [{"type": "optax.constant_schedule", "value": 0.1}], "boundaries": [3]}))
        .contains("`boundaries`"));
        assert!(
            err(json!({"type": "optax.sgdr_schedule", "cosine_kwargs": []}))
                .contains("`cosine_kwargs`")
        );
        // A boundary at 0 and a one-cycle whose phases collide.
        let s = parse(json!({"type": "optax.piecewise_interpolate_schedule",
            "interpolate_type": "linear", "init_value": 1.0,
            "boundaries_and_scales": {"0": 2.0, "4": 0.5}}));
        assert_eq!(s.value(0), 2.0);
        assert_eq!(s.value(4), 1.0);
        let o = parse(json!({"type": "optax.cosine_onecycle_schedule",
            "transition_steps": 7, "peak_value": 0.5, "pct_start": 1.0}));
        assert_eq!(o.value(0), 0.02);
        assert!(o.value(7) < 1e-7);
    }
}
