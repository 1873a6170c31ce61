//! `keras.*` configs: the classes of `keras.optimizers.schedules`, with their own
//! constructor arguments (a `get_config()` dict pastes in as it is; `name` is accepted
//! and ignored).
//!
//! Each class is read into native schedules that reproduce it step for step:
//!
//! | Keras | native |
//! |---|---|
//! | `ExponentialDecay` | [`Exponential`] with `transition_steps = decay_steps` |
//! | `PiecewiseConstantDecay` | [`Join`] of [`Constant`]s switching one step after each boundary (Keras uses `step > boundary`) |
//! | `PolynomialDecay` | [`Polynomial`], `cycle` included |
//! | `InverseTimeDecay` | [`InverseTime`] |
//! | `CosineDecay` | [`Cosine`] to `alpha * lr`, behind a linear [`Warmup`] when `warmup_target` is given |
//! | `CosineDecayRestarts` | [`WarmRestarts`] with `decay_height` (`m_mul` scales the height above `alpha * lr`) |
//!
//! Refused where Keras would go on: a decay rate above 1 in `ExponentialDecay` (values
//! that grow without bound), `t_mul < 1` or `m_mul` outside (0, 1] in
//! `CosineDecayRestarts`, and boundaries that decrease in `PiecewiseConstantDecay`
//! (Keras adds the values of overlapping ranges).
//!
//! Keras computes in float32 (`floatx`); lrsched computes the same formulas in f64, so
//! its values are the exact ones that Keras' float32 results round, agreeing to about
//! 1e-7 relative. Where float32 rounding of Keras' `log` would put a
//! `CosineDecayRestarts` restart one step off (very large steps with a fractional
//! `t_mul`), lrsched restarts on the exact step.
//!
//! ```
//! use lrsched::{config, Schedule};
//! let s = config::from_json_str(
//!     r#"{"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.1, "first_decay_steps": 100}"#,
//! )
//! .unwrap();
//! assert_eq!(s.value(0), 0.1);
//! assert_eq!(s.value(100), 0.1); // restart; the next cycle lasts 200 steps
//! assert_eq!(s.value(300), 0.1);
//! ```

pub(crate) mod write;

use super::{read, Build};
use crate::catalog::TypeInfo;
use crate::{
    check, AnySchedule, Constant, Cosine, Exponential, InverseTime, Join, Polynomial,
    ScheduleError, WarmRestarts, Warmup,
};
use serde::Deserialize;

library! {
    "keras";
    "keras.ExponentialDecay" => read::<ExponentialDecay>,
        "initial_learning_rate * decay_rate^(step / decay_steps), optionally staircase",
        "initial_learning_rate, decay_steps, decay_rate, staircase=false, name=none",
        "keras.ExponentialDecay(initial_learning_rate=0.1, decay_steps=1000, decay_rate=0.96)";
    "keras.PiecewiseConstantDecay" => read::<PiecewiseConstantDecay>,
        "values[i] while boundaries[i-1] < step <= boundaries[i]",
        "boundaries, values, name=none",
        "keras.PiecewiseConstantDecay(boundaries=[1000, 2000], values=[0.1, 0.01, 0.001])";
    "keras.PolynomialDecay" => read::<PolynomialDecay>,
        "(lr - end) * (1 - step/decay_steps)^power + end, optionally cycling",
        "initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1, cycle=false, name=none",
        "keras.PolynomialDecay(initial_learning_rate=0.1, decay_steps=1000)";
    "keras.InverseTimeDecay" => read::<InverseTimeDecay>,
        "initial_learning_rate / (1 + decay_rate * step / decay_steps), optionally staircase",
        "initial_learning_rate, decay_steps, decay_rate, staircase=false, name=none",
        "keras.InverseTimeDecay(initial_learning_rate=0.1, decay_steps=1000, decay_rate=0.5)";
    "keras.CosineDecay" => read::<CosineDecay>,
        "cosine to alpha * its start over decay_steps, after an optional linear warmup to warmup_target",
        "initial_learning_rate, decay_steps, alpha=0, name=none, warmup_target=none, warmup_steps=0",
        "keras.CosineDecay(initial_learning_rate=0, decay_steps=1000, warmup_target=0.1, warmup_steps=100)";
    "keras.CosineDecayRestarts" => read::<CosineDecayRestarts>,
        "SGDR: cosine restarting with periods times t_mul and heights times m_mul",
        "initial_learning_rate, first_decay_steps, t_mul=2, m_mul=1, alpha=0, name=none",
        "keras.CosineDecayRestarts(initial_learning_rate=0.1, first_decay_steps=100)";
}

defaults! {
    alpha: f64 = 0.0;
    staircase: bool = false;
    cycle: bool = false;
}

// Serde's defaults for keys outside `defaults!`: adding them there would change what the
// writer leaves out (its `all()` list), so they are declared here, each once.
crate::check::serde_defaults! {
    end_learning_rate: f64 = 1e-4;
    t_mul: f64 = 2.0;
}

/// Keras raises for `decay_steps <= 0`.
fn steps(name: &str, key: &str, v: u64) -> Result<u64, ScheduleError> {
    if v == 0 {
        return Err(ScheduleError::invalid(
            name,
            key,
            0,
            "> 0 (Keras raises otherwise)",
        ));
    }
    Ok(v)
}

/// The arguments `ExponentialDecay` and `InverseTimeDecay` share.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecayArgs {
    initial_learning_rate: f64,
    decay_steps: u64,
    decay_rate: f64,
    #[serde(default = "defaults::staircase")]
    staircase: bool,
    #[serde(default, rename = "name")]
    _name: Option<String>,
}

#[derive(Deserialize)]
#[serde(transparent)]
struct ExponentialDecay(DecayArgs);

impl Build for ExponentialDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let a = self.0;
        check::non_negative(name, "initial_learning_rate", a.initial_learning_rate)?;
        let decay_steps = steps(name, "decay_steps", a.decay_steps)?;
        if !(a.decay_rate > 0.0 && a.decay_rate <= 1.0) {
            return Err(ScheduleError::invalid(
                name,
                "decay_rate",
                check::fmt(a.decay_rate),
                "a number in (0, 1] (lrsched refuses values that grow without bound)",
            ));
        }
        Ok(Exponential::new(a.initial_learning_rate, a.decay_rate)
            .with_transition_steps(decay_steps)
            .with_staircase(a.staircase)
            .into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PiecewiseConstantDecay {
    boundaries: Vec<i64>,
    values: Vec<f64>,
    #[serde(default, rename = "name")]
    _name: Option<String>,
}

impl Build for PiecewiseConstantDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        if self.boundaries.is_empty() || self.values.len() != self.boundaries.len() + 1 {
            return Err(ScheduleError::invalid(
                name,
                "values",
                format!("a list of {}", self.values.len()),
                format!(
                    "one value more than `boundaries` ({}), with at least one boundary (Keras fails otherwise)",
                    self.boundaries.len()
                ),
            ));
        }
        if self.boundaries.windows(2).any(|w| w[1] < w[0]) {
            return Err(ScheduleError::invalid(
                name,
                "boundaries",
                format!("{:?}", self.boundaries),
                "non-decreasing (Keras adds up the values of overlapping ranges)",
            ));
        }
        for &v in &self.values {
            check::non_negative(name, "values", v)?;
        }
        // Keras' value i holds while boundaries[i-1] < step <= boundaries[i], so each
        // switch happens one step after its boundary.
        let boundaries = self
            .boundaries
            .iter()
            .map(|&b| b.saturating_add(1).max(0) as u64)
            .collect();
        let parts = self
            .values
            .iter()
            .map(|&v| Constant::new(v).into())
            .collect();
        Ok(Join::new(parts, boundaries).into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolynomialDecay {
    initial_learning_rate: f64,
    decay_steps: u64,
    #[serde(default = "serde_defaults::end_learning_rate")]
    end_learning_rate: f64,
    #[serde(default = "check::one")]
    power: f64,
    #[serde(default = "defaults::cycle")]
    cycle: bool,
    #[serde(default, rename = "name")]
    _name: Option<String>,
}

impl Build for PolynomialDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::non_negative(name, "initial_learning_rate", self.initial_learning_rate)?;
        check::non_negative(name, "end_learning_rate", self.end_learning_rate)?;
        check::positive(name, "power", self.power)?;
        let decay_steps = steps(name, "decay_steps", self.decay_steps)?;
        Ok(Polynomial::new(self.initial_learning_rate, decay_steps)
            .with_end_lr(self.end_learning_rate)
            .with_power(self.power)
            .with_cycle(self.cycle)
            .into())
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
struct InverseTimeDecay(DecayArgs);

impl Build for InverseTimeDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let a = self.0;
        check::non_negative(name, "initial_learning_rate", a.initial_learning_rate)?;
        check::non_negative(name, "decay_rate", a.decay_rate)?;
        let decay_steps = steps(name, "decay_steps", a.decay_steps)?;
        Ok(InverseTime::new(a.initial_learning_rate, a.decay_rate)
            .with_decay_steps(decay_steps)
            .with_staircase(a.staircase)
            .into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineDecay {
    initial_learning_rate: f64,
    decay_steps: u64,
    #[serde(default = "defaults::alpha")]
    alpha: f64,
    #[serde(default, rename = "name")]
    _name: Option<String>,
    #[serde(default)]
    warmup_target: Option<f64>,
    #[serde(default)]
    warmup_steps: u64,
}

impl Build for CosineDecay {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        check::non_negative(name, "initial_learning_rate", self.initial_learning_rate)?;
        check::non_negative(name, "alpha", self.alpha)?;
        let decay_steps = steps(name, "decay_steps", self.decay_steps)?;
        let cosine = |from: f64| Cosine::new(from, decay_steps).with_min_lr(self.alpha * from);
        // Without a warmup_target Keras ignores warmup_steps.
        let Some(target) = self.warmup_target else {
            return Ok(cosine(self.initial_learning_rate).into());
        };
        check::non_negative(name, "warmup_target", target)?;
        if self.warmup_steps == 0 {
            return Ok(cosine(target).into());
        }
        Ok(Warmup::linear(self.warmup_steps, cosine(target))
            .with_start_lr(self.initial_learning_rate)
            .into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosineDecayRestarts {
    initial_learning_rate: f64,
    first_decay_steps: u64,
    #[serde(default = "serde_defaults::t_mul")]
    t_mul: f64,
    #[serde(default = "check::one")]
    m_mul: f64,
    #[serde(default = "defaults::alpha")]
    alpha: f64,
    #[serde(default, rename = "name")]
    _name: Option<String>,
}

impl Build for CosineDecayRestarts {
    fn build(self, name: &str) -> Result<AnySchedule, ScheduleError> {
        let lr = self.initial_learning_rate;
        check::non_negative(name, "initial_learning_rate", lr)?;
        check::non_negative(name, "alpha", self.alpha)?;
        let period = steps(name, "first_decay_steps", self.first_decay_steps)?;
        if !(self.t_mul.is_finite() && self.t_mul >= 1.0) {
            return Err(ScheduleError::invalid(
                name,
                "t_mul",
                check::fmt(self.t_mul),
                "a finite number >= 1 (shrinking periods end in NaN in Keras)",
            ));
        }
        if !(self.m_mul > 0.0 && self.m_mul <= 1.0) {
            return Err(ScheduleError::invalid(
                name,
                "m_mul",
                check::fmt(self.m_mul),
                "a number in (0, 1] (lrsched refuses values that grow without bound)",
            ));
        }
        Ok(WarmRestarts::new(lr, period)
            .with_period_mult(self.t_mul)
            .with_peak_decay(self.m_mul)
            .with_min_lr(self.alpha * lr)
            // Keras: lr * ((1 - alpha) * m_mul^i * c + alpha), the height above alpha * lr
            // shrinks; the two forms agree when nothing shrinks or the floor is 0.
            .with_decay_height(self.alpha != 0.0 && self.m_mul != 1.0)
            .into())
    }
}

#[cfg(test)]
mod tests {
    use crate::{config, Schedule};
    use serde_json::json;

    #[test]
    fn native_forms_and_refusals() {
        let s = config::from_value(json!({"type": "keras.PiecewiseConstantDecay",
            "boundaries": [2, 4], "values": [1.0, 0.5, 0.1], "name": "PiecewiseConstant"}))
        .unwrap();
        let v: Vec<f64> = (0..7).map(|t| s.value(t)).collect();
        assert_eq!(v, [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1]);
        let r = config::from_value(json!({"type": "keras.CosineDecayRestarts",
            "initial_learning_rate": 1.0, "first_decay_steps": 10, "t_mul": 1.0,
            "m_mul": 0.5, "alpha": 0.2}))
        .unwrap();
        assert_eq!(r.value(10), 0.2 + 0.8 * 0.5);
        let err = |v: serde_json::Value| config::from_value(v).unwrap_err().to_string();
        assert!(err(
            json!({"type": "keras.ExponentialDecay", "initial_learning_rate": 0.1,
            "decay_steps": 10, "decay_rate": 1.5})
        )
        .contains("`decay_rate`"));
        assert!(err(json!({"type": "keras.PiecewiseConstantDecay",
            "boundaries": [5, 3], "values": [1.0, 0.5, 0.1]}))
        .contains("`boundaries`"));
        assert!(err(json!({"type": "keras.CosineDecayRestarts",
            "initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 0.5}))
        .contains("`t_mul`"));
    }
}
