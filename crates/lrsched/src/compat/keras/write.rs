//! Writing a schedule as a `keras.*` config, for `lrsched convert --to keras`: the
//! reader's classes (in [`super`]) run backwards.

use crate::convert::{milestone_counts, plain_cosine, ratio};
use crate::{AfterEnd, AnySchedule, WarmupShape};
use serde_json::{json, Value};

/// The Keras class that writes `s`, if any.
pub(crate) fn write(s: &AnySchedule) -> Option<Value> {
    Some(match s {
        AnySchedule::Constant(c) => json!({"type": "keras.ExponentialDecay",
            "initial_learning_rate": c.lr, "decay_steps": 1, "decay_rate": 1.0}),
        AnySchedule::Exponential(x)
            if x.transition_begin == 0 && x.min_lr == 0.0 && x.max_lr.is_none() =>
        {
            let rate = match (x.gamma, x.k) {
                (Some(g), _) => g,
                (None, Some(k)) => (-k * x.transition_steps as f64).exp(),
                (None, None) => 1.0,
            };
            json!({"type": "keras.ExponentialDecay", "initial_learning_rate": x.lr,
                "decay_steps": x.transition_steps, "decay_rate": rate, "staircase": x.staircase})
        }
        AnySchedule::Step(x) => json!({"type": "keras.ExponentialDecay",
            "initial_learning_rate": x.lr, "decay_steps": x.step_size, "decay_rate": x.gamma,
            "staircase": true}),
        AnySchedule::MultiStep(x) => {
            let counts = milestone_counts(&x.milestones);
            let mut values = vec![x.lr];
            let mut boundaries = Vec::new();
            let mut v = x.lr;
            for (m, n) in counts {
                v *= x.gamma.powi(n);
                // Keras switches once step > boundary.
                boundaries.push(m as i64 - 1);
                values.push(v);
            }
            if boundaries.is_empty() {
                return write(&crate::Constant::new(x.lr).into());
            }
            json!({"type": "keras.PiecewiseConstantDecay", "boundaries": boundaries,
                "values": values})
        }
        AnySchedule::Join(j) => {
            let values: Vec<f64> = j
                .schedules
                .iter()
                .map(|p| match p {
                    AnySchedule::Constant(c) => Some(c.lr),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            let boundaries: Vec<i64> = j.boundaries.iter().map(|&b| b as i64 - 1).collect();
            json!({"type": "keras.PiecewiseConstantDecay", "boundaries": boundaries,
                "values": values})
        }
        AnySchedule::Polynomial(x)
            if x.k_decay == 1.0 && (x.cycle || x.after_end == AfterEnd::Hold) =>
        {
            json!({"type": "keras.PolynomialDecay", "initial_learning_rate": x.lr,
                "decay_steps": x.steps, "end_learning_rate": x.end_lr, "power": x.power,
                "cycle": x.cycle})
        }
        AnySchedule::Linear(x) if x.after_end == AfterEnd::Hold => {
            json!({"type": "keras.PolynomialDecay", "initial_learning_rate": x.start_lr,
                "decay_steps": x.steps, "end_learning_rate": x.end_lr, "power": 1.0})
        }
        AnySchedule::InverseTime(x) => json!({"type": "keras.InverseTimeDecay",
            "initial_learning_rate": x.lr, "decay_steps": x.decay_steps, "decay_rate": x.k,
            "staircase": x.staircase}),
        AnySchedule::Cosine(c) if plain_cosine(c) => match c.after_end {
            AfterEnd::Restart => json!({"type": "keras.CosineDecayRestarts",
                "initial_learning_rate": c.lr, "first_decay_steps": c.steps, "t_mul": 1.0,
                "m_mul": 1.0, "alpha": ratio(c.min_lr, c.lr)}),
            _ => json!({"type": "keras.CosineDecay", "initial_learning_rate": c.lr,
                "decay_steps": c.steps, "alpha": ratio(c.min_lr, c.lr)}),
        },
        AnySchedule::Warmup(w) if w.shape == WarmupShape::Linear => match &*w.schedule {
            AnySchedule::Cosine(c) if plain_cosine(c) && c.after_end != AfterEnd::Restart => {
                json!({"type": "keras.CosineDecay", "initial_learning_rate": w.start_lr,
                    "warmup_target": c.lr, "warmup_steps": w.steps, "decay_steps": c.steps,
                    "alpha": ratio(c.min_lr, c.lr)})
            }
            _ => return None,
        },
        AnySchedule::WarmRestarts(x) if x.cycle_limit.is_none() => {
            json!({"type": "keras.CosineDecayRestarts", "initial_learning_rate": x.lr,
                "first_decay_steps": x.period, "t_mul": x.period_mult, "m_mul": x.peak_decay,
                "alpha": ratio(x.min_lr, x.lr)})
        }
        _ => return None,
    })
}
