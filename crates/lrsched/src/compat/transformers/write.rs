//! Writing a schedule as a `transformers.get_*_schedule*` config, for `lrsched convert
//! --to transformers`: the reader's functions (in [`super`]) run backwards.

use crate::convert::{plain_cosine, ratio, split_warmup, to_json};
use crate::{AfterEnd, AnySchedule, WarmupShape};
use serde_json::{json, Value};

/// The transformers function that writes `s`, if any.
pub(crate) fn write(s: &AnySchedule) -> Option<Value> {
    let (w, start, inner) = split_warmup(s);
    // transformers' warmups all rise from 0.
    if w > 0 && start != 0.0 {
        return None;
    }
    Some(match inner {
        AnySchedule::Constant(c) if w == 0 => {
            json!({"type": "transformers.get_constant_schedule", "lr": c.lr})
        }
        AnySchedule::Constant(c) => {
            json!({"type": "transformers.get_constant_schedule_with_warmup",
            "lr": c.lr, "num_warmup_steps": w})
        }
        AnySchedule::Linear(x) if x.end_lr == 0.0 && x.after_end == AfterEnd::Hold => {
            json!({"type": "transformers.get_linear_schedule_with_warmup", "lr": x.start_lr,
                "num_warmup_steps": w, "num_training_steps": w + x.steps})
        }
        AnySchedule::Cosine(c)
            if c.exponent == 1.0 && c.k_decay == 1.0 && c.after_end != AfterEnd::Restart =>
        {
            let mut v = json!({"type": "transformers.get_cosine_schedule_with_warmup",
                "lr": c.lr, "num_warmup_steps": w, "num_training_steps": w + c.steps,
                "num_cycles": c.num_cycles});
            if c.min_lr != 0.0 {
                v["type"] = json!("transformers.get_cosine_with_min_lr_schedule_with_warmup");
                v["min_lr"] = json!(c.min_lr);
            }
            v
        }
        AnySchedule::Cosine(c) if plain_cosine(c) && c.min_lr == 0.0 => {
            json!({"type": "transformers.get_cosine_with_hard_restarts_schedule_with_warmup",
                "lr": c.lr, "num_warmup_steps": w, "num_training_steps": w + c.steps,
                "num_cycles": 1})
        }
        AnySchedule::WarmRestarts(x)
            if x.period_mult == 1.0
                && x.peak_decay == 1.0
                && x.min_lr == 0.0
                && x.after_end == AfterEnd::Hold =>
        {
            let n = x.cycle_limit.unwrap_or(1);
            json!({"type": "transformers.get_cosine_with_hard_restarts_schedule_with_warmup",
                "lr": x.lr, "num_warmup_steps": w,
                "num_training_steps": w + x.period.checked_mul(n)?, "num_cycles": n})
        }
        AnySchedule::Polynomial(x)
            if x.k_decay == 1.0 && !x.cycle && x.after_end == AfterEnd::Hold && x.end_lr < x.lr =>
        {
            json!({"type": "transformers.get_polynomial_decay_schedule_with_warmup",
                "lr": x.lr, "num_warmup_steps": w, "num_training_steps": w + x.steps,
                "lr_end": x.end_lr, "power": x.power})
        }
        AnySchedule::InverseSqrt(x) if x.k.is_none() && x.warmup_steps == 0 => {
            json!({"type": "transformers.get_inverse_sqrt_schedule", "lr": x.lr,
                "num_warmup_steps": w, "timescale": x.timescale?})
        }
        AnySchedule::Wsd(x)
            if w == 0
                && x.warmup_start_lr.is_none_or(|v| v == x.min_lr)
                && x.cooldown != crate::Cooldown::OneMinusSquare
                && x.warmup_shape != WarmupShape::Exponential =>
        {
            json!({"type": "transformers.get_wsd_schedule", "lr": x.lr,
                "num_warmup_steps": x.warmup_steps, "num_stable_steps": x.stable_steps,
                "num_decay_steps": x.decay_steps, "warmup_type": to_json(&x.warmup_shape),
                "decay_type": to_json(&x.cooldown), "min_lr_ratio": ratio(x.min_lr, x.lr)})
        }
        AnySchedule::Plateau(p) if w == 0 && p.schedule.is_none() => {
            json!({"type": "transformers.get_reduce_on_plateau_schedule", "lr": p.lr?,
                "mode": to_json(&p.mode), "factor": p.factor, "patience": p.patience,
                "threshold": p.threshold, "threshold_mode": to_json(&p.threshold_mode),
                "cooldown": p.cooldown, "min_lr": p.min_lr, "eps": p.eps})
        }
        _ => return None,
    })
}
