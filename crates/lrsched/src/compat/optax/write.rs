//! Writing a schedule as an `optax.*` config, for `lrsched convert --to optax`: the
//! reader's functions (in [`super`]) run backwards.

use crate::convert::{milestone_counts, ratio};
use crate::{AfterEnd, Anneal, AnySchedule, JoinTime, Schedule, WarmupShape};
use serde_json::{json, Map, Value};

/// The optax function that writes `s`, if any.
pub(crate) fn write(s: &AnySchedule) -> Option<Value> {
    Some(match s {
        AnySchedule::Constant(c) => json!({"type": "optax.constant_schedule", "value": c.lr}),
        AnySchedule::Linear(x) if x.after_end == AfterEnd::Hold => {
            json!({"type": "optax.linear_schedule", "init_value": x.start_lr,
                "end_value": x.end_lr, "transition_steps": x.steps})
        }
        AnySchedule::Polynomial(x)
            if x.k_decay == 1.0 && !x.cycle && x.after_end == AfterEnd::Hold =>
        {
            json!({"type": "optax.polynomial_schedule", "init_value": x.lr,
                "end_value": x.end_lr, "power": x.power, "transition_steps": x.steps})
        }
        AnySchedule::Exponential(x) => {
            let rate = match (x.gamma, x.k) {
                (Some(g), _) => g,
                (None, Some(k)) => (-k * x.transition_steps as f64).exp(),
                (None, None) => 1.0,
            };
            let mut v = json!({"type": "optax.exponential_decay", "init_value": x.lr,
                "transition_steps": x.transition_steps, "decay_rate": rate,
                "transition_begin": x.transition_begin, "staircase": x.staircase});
            if let Some(m) = x.max_lr {
                v["end_value"] = json!(m);
            } else if x.min_lr > 0.0 {
                v["end_value"] = json!(x.min_lr);
            }
            v
        }
        AnySchedule::Step(x) => json!({"type": "optax.exponential_decay", "init_value": x.lr,
            "transition_steps": x.step_size, "decay_rate": x.gamma, "staircase": true}),
        AnySchedule::MultiStep(x) => {
            let scales: Map<String, Value> = milestone_counts(&x.milestones)
                .into_iter()
                .map(|(m, n)| (m.to_string(), json!(x.gamma.powi(n))))
                .collect();
            json!({"type": "optax.piecewise_constant_schedule", "init_value": x.lr,
                "boundaries_and_scales": scales})
        }
        AnySchedule::Cosine(c)
            if c.k_decay == 1.0 && c.num_cycles == 0.5 && c.after_end != AfterEnd::Restart =>
        {
            json!({"type": "optax.cosine_decay_schedule", "init_value": c.lr,
                "decay_steps": c.steps, "alpha": ratio(c.min_lr, c.lr), "exponent": c.exponent})
        }
        AnySchedule::Warmup(w) if w.shape == WarmupShape::Linear && w.steps > 0 => {
            match &*w.schedule {
                AnySchedule::Cosine(c)
                    if c.k_decay == 1.0
                        && c.num_cycles == 0.5
                        && c.after_end != AfterEnd::Restart =>
                {
                    json!({"type": "optax.warmup_cosine_decay_schedule",
                        "init_value": w.start_lr, "peak_value": c.lr, "warmup_steps": w.steps,
                        "decay_steps": w.steps + c.steps, "end_value": c.min_lr,
                        "exponent": c.exponent})
                }
                AnySchedule::Constant(c) => json!({"type": "optax.warmup_constant_schedule",
                    "init_value": w.start_lr, "peak_value": c.lr, "warmup_steps": w.steps}),
                AnySchedule::Exponential(_) | AnySchedule::Step(_) => {
                    let mut v = write(&w.schedule)?;
                    let o = v.as_object_mut()?;
                    let peak = o.remove("init_value")?;
                    o.insert(
                        "type".into(),
                        json!("optax.warmup_exponential_decay_schedule"),
                    );
                    o.insert("init_value".into(), json!(w.start_lr));
                    o.insert("peak_value".into(), peak);
                    o.insert("warmup_steps".into(), json!(w.steps));
                    v
                }
                other => {
                    let rise = json!({"type": "optax.linear_schedule",
                        "init_value": w.start_lr, "end_value": other.value(0),
                        "transition_steps": w.steps});
                    json!({"type": "optax.join_schedules",
                        "schedules": [rise, write(other)?], "boundaries": [w.steps]})
                }
            }
        }
        AnySchedule::OneCycle(c) if !c.three_phase && c.anneal_strategy == Anneal::Cos => {
            json!({"type": "optax.cosine_onecycle_schedule", "transition_steps": c.total_steps,
                "peak_value": c.max_lr, "pct_start": c.pct_start, "div_factor": c.div_factor,
                "final_div_factor": c.final_div_factor})
        }
        AnySchedule::OneCycle(c) if c.anneal_strategy == Anneal::Linear => {
            let mut v = json!({"type": "optax.linear_onecycle_schedule",
                "transition_steps": c.total_steps, "peak_value": c.max_lr,
                "pct_start": c.pct_start, "div_factor": c.div_factor,
                "final_div_factor": c.final_div_factor});
            if c.three_phase {
                v["pct_final"] = json!(2.0 * c.pct_start);
            }
            v
        }
        AnySchedule::Join(j) if j.time == JoinTime::Local => {
            let parts: Vec<Value> = j.schedules.iter().map(write).collect::<Option<_>>()?;
            json!({"type": "optax.join_schedules", "schedules": parts, "boundaries": j.boundaries})
        }
        AnySchedule::WarmRestarts(x)
            if x.after_end == AfterEnd::Hold && (!x.decay_height || x.min_lr == 0.0) =>
        {
            let n = x.cycle_limit.filter(|&n| (1..=1000).contains(&n))?;
            let mut kwargs = Vec::new();
            let mut len = x.period as f64;
            for i in 0..n {
                let peak = x.lr * x.peak_decay.powi(i as i32);
                if len.fract() != 0.0 || len >= 1e12 {
                    return None;
                }
                kwargs.push(
                    json!({"init_value": peak, "peak_value": peak, "warmup_steps": 0,
                    "decay_steps": len as u64, "end_value": x.min_lr}),
                );
                len *= x.period_mult;
            }
            json!({"type": "optax.sgdr_schedule", "cosine_kwargs": kwargs})
        }
        _ => return None,
    })
}
