//! `transformers.*` configs: the schedules of Hugging Face transformers'
//! `transformers.optimization`, read into native schedules.
//!
//! Every `get_*_schedule*` function of transformers returns a `LambdaLR` (or, for
//! `get_reduce_on_plateau_schedule`, a `ReduceLROnPlateau`) over the optimizer's base rate;
//! here that base rate is the key `lr` and every other key is the function's own keyword
//! argument with its own default. The value at step `i` is transformers' learning rate after
//! `i` calls of `scheduler.step()`, `lr * lr_lambda(i)`, to a relative 1e-10 (checked step by
//! step against transformers 5.24 in `tests/transformers_timm_golden.rs`).
//!
//! What each function becomes (`W = num_warmup_steps`, `T = num_training_steps`,
//! `D = max(1, T - W)`; a linear warmup from 0 over `W` steps is put in front of each):
//!
//! | function | native form after the warmup |
//! |---|---|
//! | `get_constant_schedule` | `constant` |
//! | `get_constant_schedule_with_warmup` | `constant` |
//! | `get_linear_schedule_with_warmup` | `linear` from `lr` to 0 over `T - W` (0 when `T <= W`) |
//! | `get_cosine_schedule_with_warmup` | `cosine` over `D` with `num_cycles`, `after_end = continue` (transformers' cosine goes on past `T`) |
//! | `get_cosine_with_hard_restarts_schedule_with_warmup` | `cosine` restarting every `D / num_cycles` steps (a `stretch` by `1 / num_cycles` when that is not whole), then 0 from `T` |
//! | `get_polynomial_decay_schedule_with_warmup` | `polynomial` from `lr` to `lr_end` over `T - W` |
//! | `get_inverse_sqrt_schedule` | `inverse_sqrt` with `timescale` (default `W`, or 10,000 without warmup) |
//! | `get_cosine_with_min_lr_schedule_with_warmup` | `cosine` to `min_lr` (or `lr * min_lr_rate`), `after_end = continue` |
//! | `get_wsd_schedule` | `wsd` (a `join` with a `cosine` for a cosine decay with `num_cycles != 0.5`) |
//! | `get_reduce_on_plateau_schedule` | `plateau` with `ReduceLROnPlateau`'s keyword arguments |
//!
//! transformers' quirks are kept: `lr_end` of the polynomial decay is an absolute rate that
//! must be below `lr`; the cosine schedules rise again past `num_training_steps`; the hard
//! restarts and the linear decay stay at 0 from there. Rounding differs from transformers'
//! by a few ulps (the same formulas, sometimes grouped differently): a linear decay over `n`
//! steps agrees to about `n * 1e-16` relative at its last step, within 1e-10 for any real
//! run. `last_epoch` is not a key: resuming is the native checkpoint's business.
//!
//! ```
//! use lrsched::{config, Schedule};
//! let s = config::from_json_str(
//!     r#"{"type": "transformers.get_cosine_schedule_with_warmup", "lr": 0.001,
//!         "num_warmup_steps": 10, "num_training_steps": 110}"#,
//! )
//! .unwrap();
//! assert_eq!(s.value(5), 0.0005);
//! assert_eq!(s.value(10), 0.001);
//! assert!((s.value(60) - 0.0005).abs() < 1e-15);
//! assert_eq!(s.value(110), 0.0);
//! ```

pub(crate) mod write;

use super::{read, Build};
use crate::catalog::TypeInfo;
use crate::{
    AfterEnd, AnySchedule, Constant, Cooldown, Cosine, InverseSqrt, Join, Linear, Plateau,
    PlateauMode, Polynomial, Schedule, ScheduleError, Stretch, ThresholdMode, Warmup, WarmupShape,
    Wsd,
};
use serde::Deserialize;

library! {
    "transformers";
    "transformers.get_constant_schedule" => read::<ConstantArgs>,
        "the optimizer's lr at every step",
        "lr",
        "transformers.get_constant_schedule(lr=0.1)";
    "transformers.get_constant_schedule_with_warmup" => read::<ConstantWarmupArgs>,
        "linear warmup from 0, then lr",
        "lr, num_warmup_steps",
        "transformers.get_constant_schedule_with_warmup(lr=0.1, num_warmup_steps=100)";
    "transformers.get_linear_schedule_with_warmup" => read::<LinearArgs>,
        "linear warmup from 0, then a straight line to 0 at num_training_steps",
        "lr, num_warmup_steps, num_training_steps",
        "transformers.get_linear_schedule_with_warmup(lr=0.1, num_warmup_steps=100, num_training_steps=1000)";
    "transformers.get_cosine_schedule_with_warmup" => read::<CosineArgs>,
        "linear warmup from 0, then num_cycles cosine waves to num_training_steps (and on past it)",
        "lr, num_warmup_steps, num_training_steps, num_cycles=0.5",
        "transformers.get_cosine_schedule_with_warmup(lr=0.0003, num_warmup_steps=500, num_training_steps=10000)";
    "transformers.get_cosine_with_hard_restarts_schedule_with_warmup" => read::<HardRestartsArgs>,
        "linear warmup from 0, then num_cycles cosine decays restarting at lr, 0 from num_training_steps",
        "lr, num_warmup_steps, num_training_steps, num_cycles=1",
        "transformers.get_cosine_with_hard_restarts_schedule_with_warmup(lr=0.1, num_warmup_steps=10, num_training_steps=310, num_cycles=3)";
    "transformers.get_polynomial_decay_schedule_with_warmup" => read::<PolynomialArgs>,
        "linear warmup from 0, then (lr - lr_end) * remaining^power + lr_end (lr_end absolute, below lr)",
        "lr, num_warmup_steps, num_training_steps, lr_end=0.0000001, power=1",
        "transformers.get_polynomial_decay_schedule_with_warmup(lr=0.1, num_warmup_steps=10, num_training_steps=100, power=2)";
    "transformers.get_inverse_sqrt_schedule" => read::<InverseSqrtArgs>,
        "linear warmup from 0, then lr / sqrt((t + timescale - num_warmup_steps) / timescale)",
        "lr, num_warmup_steps, timescale=none",
        "transformers.get_inverse_sqrt_schedule(lr=0.1, num_warmup_steps=100)";
    "transformers.get_cosine_with_min_lr_schedule_with_warmup" => read::<CosineMinLrArgs>,
        "linear warmup from 0, then cosine waves down to min_lr (or lr * min_lr_rate)",
        "lr, num_warmup_steps, num_training_steps, num_cycles=0.5, min_lr=none, min_lr_rate=none",
        "transformers.get_cosine_with_min_lr_schedule_with_warmup(lr=0.1, num_warmup_steps=10, num_training_steps=100, min_lr_rate=0.1)";
    "transformers.get_wsd_schedule" => read::<WsdArgs>,
        "warmup (linear, cosine, 1-sqrt), stable at lr, decay (linear, cosine, 1-sqrt) to lr * min_lr_ratio",
        "lr, num_warmup_steps, num_decay_steps, num_training_steps=none, num_stable_steps=none, warmup_type=linear, decay_type=cosine, min_lr_ratio=0, num_cycles=0.5",
        "transformers.get_wsd_schedule(lr=0.1, num_warmup_steps=10, num_decay_steps=20, num_training_steps=100)";
    "transformers.get_reduce_on_plateau_schedule" => read::<PlateauArgs>,
        "ReduceLROnPlateau on lr, with its keyword arguments",
        "lr, mode=min, factor=0.1, patience=10, threshold=0.0001, threshold_mode=rel, cooldown=0, min_lr=0, eps=0.00000001",
        "transformers.get_reduce_on_plateau_schedule(lr=0.1, factor=0.5, patience=2)";
}

defaults! {
    num_cycles: f64 = 0.5;
}

// Serde's defaults for keys outside `defaults!`: adding them there would change what the
// writer leaves out (its `all()` list), so they are declared here, each once.
// The plateau's numeric defaults come from the torch class (`torch_plateau`), not stated again.
crate::check::serde_defaults! {
    lr_end: f64 = 1e-7;
    mode: PlateauMode = PlateauMode::Min;
    factor: f64 = torch_plateau().factor;
    patience: u64 = torch_plateau().patience;
    threshold: f64 = torch_plateau().threshold;
    threshold_mode: ThresholdMode = ThresholdMode::Rel;
    eps: f64 = torch_plateau().eps;
}

/// transformers' linear warmup `lr * t / W` in front of `decay` (which starts at step `W`
/// on its own clock); a `Join` where `decay` does not start at `lr`.
fn with_warmup(w: u64, lr: f64, decay: AnySchedule) -> AnySchedule {
    if w == 0 {
        decay
    } else if decay.value(0) == lr {
        Warmup::linear(w, decay).into()
    } else {
        Join::new(
            vec![Warmup::linear(w, Constant::new(lr)).into(), decay],
            vec![w],
        )
        .into()
    }
}

fn one() -> f64 {
    1.0
}
fn one_u64() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantArgs {
    lr: f64,
}

impl Build for ConstantArgs {
    fn build(self, _: &str) -> Result<AnySchedule, ScheduleError> {
        Ok(Constant::new(self.lr).into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantWarmupArgs {
    lr: f64,
    num_warmup_steps: u64,
}

impl Build for ConstantWarmupArgs {
    fn build(self, _: &str) -> Result<AnySchedule, ScheduleError> {
        Ok(with_warmup(
            self.num_warmup_steps,
            self.lr,
            Constant::new(self.lr).into(),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearArgs {
    lr: f64,
    num_warmup_steps: u64,
    num_training_steps: u64,
}

impl Build for LinearArgs {
    fn build(self, _: &str) -> Result<AnySchedule, ScheduleError> {
        let w = self.num_warmup_steps;
        // max(0, (T - t) / max(1, T - W)): nothing left to decay when T <= W.
        let decay: AnySchedule = match self.num_training_steps.checked_sub(w) {
            Some(d) if d > 0 => Linear::new(self.lr, 0.0, d).into(),
            _ => Constant::new(0.0).into(),
        };
        Ok(with_warmup(w, self.lr, decay))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineArgs {
    lr: f64,
    num_warmup_steps: u64,
    num_training_steps: u64,
    #[serde(default = "defaults::num_cycles")]
    num_cycles: f64,
}

impl Build for CosineArgs {
    fn build(self, _: &str) -> Result<AnySchedule, ScheduleError> {
        let w = self.num_warmup_steps;
        let d = self.num_training_steps.saturating_sub(w).max(1);
        let decay = Cosine::new(self.lr, d)
            .with_num_cycles(self.num_cycles)
            .with_after_end(AfterEnd::Continue);
        Ok(with_warmup(w, self.lr, decay.into()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HardRestartsArgs {
    lr: f64,
    num_warmup_steps: u64,
    num_training_steps: u64,
    #[serde(default = "one_u64")]
    num_cycles: u64,
}

impl Build for HardRestartsArgs {
    fn build(self, _: &str) -> Result<AnySchedule, ScheduleError> {
        let w = self.num_warmup_steps;
        let d = self.num_training_steps.saturating_sub(w).max(1);
        let n = self.num_cycles;
        // 0.5 * (1 + cos(pi * ((n * t / D) % 1))) for t < D, then 0.
        let cycles: AnySchedule = if n == 0 {
            Constant::new(self.lr).into()
        } else if d % n == 0 {
            Cosine::new(self.lr, d / n)
                .with_after_end(AfterEnd::Restart)
                .into()
        } else {
            // Step t of the restarts is step n * t of a cosine over D restarting every D
            // steps: (n t mod D) / D is the fractional part of n t / D.
            let inner = Cosine::new(self.lr, d).with_after_end(AfterEnd::Restart);
            Stretch::new(inner, 1.0 / n as f64).into()
        };
        let decay = Join::new(vec![cycles, Constant::new(0.0).into()], vec![d]);
        Ok(with_warmup(w, self.lr, decay.into()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolynomialArgs {
    lr: f64,
    num_warmup_steps: u64,
    num_training_steps: u64,
    #[serde(default = "serde_defaults::lr_end")]
    lr_end: f64,
    #[serde(default = "one")]
    power: f64,
}

impl Build for PolynomialArgs {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        // transformers: `if not (lr_init > lr_end): raise ValueError`.
        // `not (lr_init > lr_end)`, NaN included.
        if self.lr.partial_cmp(&self.lr_end) != Some(std::cmp::Ordering::Greater) {
            return Err(ScheduleError::invalid(
                name,
                "lr_end",
                crate::check::fmt(self.lr_end),
                format!(
                    "an absolute rate below `lr` ({}), as transformers requires",
                    crate::check::fmt(self.lr)
                ),
            ));
        }
        let w = self.num_warmup_steps;
        let t = self.num_training_steps;
        let decay: AnySchedule = if t > w {
            Polynomial::new(self.lr, t - w)
                .with_end_lr(self.lr_end)
                .with_power(self.power)
                .into()
        } else if t < w {
            // Every step after the warmup is past num_training_steps: lr_end.
            Constant::new(self.lr_end).into()
        } else {
            return Err(ScheduleError::invalid(
                name,
                "num_training_steps",
                t,
                format!(
                    "a number of steps other than `num_warmup_steps` ({w}): transformers divides by their difference"
                ),
            ));
        };
        Ok(with_warmup(w, self.lr, decay))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InverseSqrtArgs {
    lr: f64,
    num_warmup_steps: u64,
    #[serde(default)]
    timescale: Option<u64>,
}

impl Build for InverseSqrtArgs {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let w = self.num_warmup_steps;
        // transformers: `timescale = num_warmup_steps or 10_000` when not given.
        let ts = self.timescale.unwrap_or(if w > 0 { w } else { 10_000 });
        if ts == 0 {
            return Err(ScheduleError::invalid(
                name,
                "timescale",
                0,
                "a number of steps >= 1 (transformers divides by it)",
            ));
        }
        Ok(with_warmup(
            w,
            self.lr,
            InverseSqrt::timescale(self.lr, ts).into(),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineMinLrArgs {
    lr: f64,
    num_warmup_steps: u64,
    num_training_steps: u64,
    #[serde(default = "defaults::num_cycles")]
    num_cycles: f64,
    #[serde(default)]
    min_lr: Option<f64>,
    #[serde(default)]
    min_lr_rate: Option<f64>,
}

impl Build for CosineMinLrArgs {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let min_lr = match (self.min_lr, self.min_lr_rate) {
            (Some(m), None) => m,
            (None, Some(r)) => self.lr * r,
            (Some(_), Some(r)) => return Err(ScheduleError::invalid(
                name,
                "min_lr_rate",
                crate::check::fmt(r),
                "absent when `min_lr` is given (only one of min_lr or min_lr_rate should be set)",
            )),
            (None, None) => {
                return Err(ScheduleError::invalid(
                    name,
                    "min_lr",
                    "missing",
                    "given, or `min_lr_rate` given instead (one of them must be set)",
                ))
            }
        };
        let w = self.num_warmup_steps;
        let d = self.num_training_steps.saturating_sub(w).max(1);
        let decay = Cosine::new(self.lr, d)
            .with_min_lr(min_lr)
            .with_num_cycles(self.num_cycles)
            .with_after_end(AfterEnd::Continue);
        Ok(with_warmup(w, self.lr, decay.into()))
    }
}

fn linear_word() -> String {
    "linear".into()
}
fn cosine_word() -> String {
    "cosine".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WsdArgs {
    lr: f64,
    num_warmup_steps: u64,
    num_decay_steps: u64,
    #[serde(default)]
    num_training_steps: Option<u64>,
    #[serde(default)]
    num_stable_steps: Option<u64>,
    #[serde(default = "linear_word")]
    warmup_type: String,
    #[serde(default = "cosine_word")]
    decay_type: String,
    #[serde(default)]
    min_lr_ratio: f64,
    #[serde(default = "defaults::num_cycles")]
    num_cycles: f64,
}

impl Build for WsdArgs {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        const TYPES: &str = "'linear', 'cosine' or '1-sqrt'";
        let warmup_shape = match self.warmup_type.as_str() {
            "linear" => WarmupShape::Linear,
            "cosine" => WarmupShape::Cosine,
            "1-sqrt" => WarmupShape::OneMinusSqrt,
            other => return Err(ScheduleError::invalid(name, "warmup_type", other, TYPES)),
        };
        let cooldown = match self.decay_type.as_str() {
            "linear" => Cooldown::Linear,
            "cosine" => Cooldown::Cosine,
            "1-sqrt" => Cooldown::OneMinusSqrt,
            other => return Err(ScheduleError::invalid(name, "decay_type", other, TYPES)),
        };
        let (w, d) = (self.num_warmup_steps, self.num_decay_steps);
        // num_stable_steps wins when both are given (transformers warns and uses it).
        let s = match (self.num_stable_steps, self.num_training_steps) {
            (Some(s), _) => s,
            (None, Some(t)) => {
                t.checked_sub(w)
                    .and_then(|x| x.checked_sub(d))
                    .ok_or_else(|| {
                        ScheduleError::invalid(
                            name,
                            "num_training_steps",
                            t,
                            format!(
                                "at least num_warmup_steps + num_decay_steps ({})",
                                w.saturating_add(d)
                            ),
                        )
                    })?
            }
            (None, None) => {
                return Err(ScheduleError::invalid(
                    name,
                    "num_training_steps",
                    "missing",
                    "given, or `num_stable_steps` given (either must be specified)",
                ))
            }
        };
        let min_lr = self.lr * self.min_lr_ratio;
        let wsd = |decay_steps| {
            Wsd::new(self.lr, w, s, decay_steps)
                .with_min_lr(min_lr)
                .with_warmup_shape(warmup_shape)
                .with_cooldown(cooldown)
        };
        if cooldown == Cooldown::Cosine && self.num_cycles != 0.5 && d > 0 {
            // The native cooldown is the half cosine; other waves are a cosine's.
            let decay = Cosine::new(self.lr, d)
                .with_min_lr(min_lr)
                .with_num_cycles(self.num_cycles);
            let stable_end = w.saturating_add(s);
            return Ok(Join::new(vec![wsd(0).into(), decay.into()], vec![stable_end]).into());
        }
        Ok(wsd(d).into())
    }
}

// `get_reduce_on_plateau_schedule` is PyTorch's `ReduceLROnPlateau`: its numeric
// defaults are read from the torch class, not stated again.
fn torch_plateau() -> crate::torch::ReduceLROnPlateau {
    crate::torch::ReduceLROnPlateau::default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlateauArgs {
    lr: f64,
    #[serde(default = "serde_defaults::mode")]
    mode: PlateauMode,
    #[serde(default = "serde_defaults::factor")]
    factor: f64,
    #[serde(default = "serde_defaults::patience")]
    patience: u64,
    #[serde(default = "serde_defaults::threshold")]
    threshold: f64,
    #[serde(default = "serde_defaults::threshold_mode")]
    threshold_mode: ThresholdMode,
    #[serde(default)]
    cooldown: u64,
    #[serde(default)]
    min_lr: f64,
    #[serde(default = "serde_defaults::eps")]
    eps: f64,
}

impl Build for PlateauArgs {
    fn build(self, _: &str) -> Result<AnySchedule, ScheduleError> {
        Ok(Plateau::new(self.lr)
            .with_mode(self.mode)
            .with_factor(self.factor)
            .with_patience(self.patience)
            .with_threshold(self.threshold, self.threshold_mode)
            .with_cooldown(self.cooldown)
            .with_min_lr(self.min_lr)
            .with_eps(self.eps)
            .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn parse(v: Value) -> Result<AnySchedule, ScheduleError> {
        crate::config::from_value(v)
    }

    #[test]
    fn warmup_of_zero_and_training_before_warmup_end() {
        let s = parse(
            json!({"type": "transformers.get_linear_schedule_with_warmup",
            "lr": 1.0, "num_warmup_steps": 0, "num_training_steps": 4}),
        )
        .unwrap();
        assert_eq!(s.values(0..6), vec![1.0, 0.75, 0.5, 0.25, 0.0, 0.0]);
        let s = parse(
            json!({"type": "transformers.get_linear_schedule_with_warmup",
            "lr": 1.0, "num_warmup_steps": 4, "num_training_steps": 2}),
        )
        .unwrap();
        assert_eq!(s.values(0..6), vec![0.0, 0.25, 0.5, 0.75, 0.0, 0.0]);
    }

    #[test]
    fn quirks_are_errors_where_transformers_raises() {
        let e = parse(
            json!({"type": "transformers.get_polynomial_decay_schedule_with_warmup",
            "lr": 1e-8, "num_warmup_steps": 0, "num_training_steps": 4}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("lr_end"), "{e}");
        let e = parse(
            json!({"type": "transformers.get_cosine_with_min_lr_schedule_with_warmup",
            "lr": 1.0, "num_warmup_steps": 0, "num_training_steps": 4}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("min_lr"), "{e}");
        let e = parse(json!({"type": "transformers.get_wsd_schedule",
            "lr": 1.0, "num_warmup_steps": 0, "num_decay_steps": 4, "warmup_type": "cos"}))
        .unwrap_err();
        assert!(e.to_string().contains("warmup_type"), "{e}");
    }

    #[test]
    fn unknown_function_is_none() {
        assert!(crate::compat::from_value("transformers.get_nothing", Map::new()).is_none());
    }
}
