//! Writing a schedule as a PyTorch scheduler config, for `lrsched convert --to torch`:
//! the idiomatic class where one is exact, else `LambdaLR` with the schedule's formula as
//! Python text (written by [`super::expr::write`], the reader of that text's twin).

use super::expr::write::expr;
use crate::convert::{cand, horizon, plain_cosine, ratio, to_json, Candidate};
use crate::{AfterEnd, AnySchedule, CyclicMode, JoinTime, Schedule, WarmupShape};
use serde_json::{json, Value};

/// The keyword arguments [`candidates`] leaves out at their default: the reader's own
/// default, taken from its constructor.
pub(crate) fn defaults() -> Vec<(&'static str, Value)> {
    vec![("eta_min", json!(super::CosineAnnealingLR::new(1).eta_min))]
}

/// The PyTorch forms of `s`, the idiomatic one first: a PyTorch config stays as it is,
/// a class that reproduces `s`, then the universal `LambdaLR`.
pub(crate) fn candidates(s: &AnySchedule) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let AnySchedule::Torch(_) = s {
        out.push(cand(crate::config::to_value(s)));
        return out;
    }
    if let Some((lr, class)) = torch_class(s) {
        out.push(cand(torch_top(lr, class, s)));
    }
    out.extend(lambda_lr(s));
    out
}

/// A PyTorch class for `s` as `(base lr, class config without lr)`.
fn torch_class(s: &AnySchedule) -> Option<(f64, Value)> {
    Some(match s {
        AnySchedule::Constant(c) => (c.lr, json!({"type": "LambdaLR", "lr_lambda": 1.0})),
        AnySchedule::Step(x) => (
            x.lr,
            json!({"type": "StepLR", "step_size": x.step_size, "gamma": x.gamma}),
        ),
        AnySchedule::MultiStep(x) => (
            x.lr,
            json!({"type": "MultiStepLR", "milestones": x.milestones, "gamma": x.gamma}),
        ),
        AnySchedule::Exponential(x)
            if x.transition_steps == 1
                && x.transition_begin == 0
                && !x.staircase
                && x.min_lr == 0.0
                && x.max_lr.is_none() =>
        {
            let gamma = x.gamma.or(x.k.map(|k| (-k).exp()))?;
            (x.lr, json!({"type": "ExponentialLR", "gamma": gamma}))
        }
        AnySchedule::Polynomial(x)
            if x.end_lr == 0.0 && x.k_decay == 1.0 && !x.cycle && x.after_end == AfterEnd::Hold =>
        {
            (
                x.lr,
                json!({"type": "PolynomialLR", "total_iters": x.steps, "power": x.power}),
            )
        }
        AnySchedule::Linear(x) if x.after_end == AfterEnd::Hold => {
            // LinearLR's factors are of one base rate, the larger end, in (0, 1].
            let base = x.start_lr.max(x.end_lr);
            let (a, b) = (ratio(x.start_lr, base), ratio(x.end_lr, base));
            if a <= 0.0 {
                return None;
            }
            (
                base,
                json!({"type": "LinearLR", "start_factor": a, "end_factor": b, "total_iters": x.steps}),
            )
        }
        AnySchedule::Cosine(c) if plain_cosine(c) => match c.after_end {
            AfterEnd::Restart => (
                c.lr,
                json!({"type": "CosineAnnealingWarmRestarts", "T_0": c.steps, "eta_min": c.min_lr}),
            ),
            _ => (
                c.lr,
                json!({"type": "CosineAnnealingLR", "T_max": c.steps, "eta_min": c.min_lr}),
            ),
        },
        AnySchedule::WarmRestarts(w)
            if w.peak_decay == 1.0
                && w.cycle_limit.is_none()
                && w.period_mult.fract() == 0.0
                && w.period_mult >= 1.0
                && w.period_mult < 1e6 =>
        {
            (
                w.lr,
                json!({"type": "CosineAnnealingWarmRestarts", "T_0": w.period,
                    "T_mult": w.period_mult as u64, "eta_min": w.min_lr}),
            )
        }
        AnySchedule::Cyclic(c) if c.mode != CyclicMode::Sine && c.scale_mode.is_none() => {
            let mut v = json!({"type": "CyclicLR", "base_lr": c.base_lr, "max_lr": c.max_lr,
                "step_size_up": c.step_size_up, "mode": to_json(&c.mode), "gamma": c.gamma,
                "cycle_momentum": c.cycle_momentum});
            if let Some(d) = c.step_size_down {
                v["step_size_down"] = json!(d);
            }
            if c.cycle_momentum {
                v["base_momentum"] = json!(c.base_momentum);
                v["max_momentum"] = json!(c.max_momentum);
            }
            (c.base_lr, v)
        }
        AnySchedule::OneCycle(c) => {
            let mut v = json!({"type": "OneCycleLR", "max_lr": c.max_lr,
                "total_steps": c.total_steps, "pct_start": c.pct_start,
                "anneal_strategy": to_json(&c.anneal_strategy), "div_factor": c.div_factor,
                "final_div_factor": c.final_div_factor, "three_phase": c.three_phase,
                "cycle_momentum": c.cycle_momentum});
            if c.cycle_momentum {
                v["base_momentum"] = json!(c.base_momentum);
                v["max_momentum"] = json!(c.max_momentum);
            }
            (ratio(c.max_lr, c.div_factor), v)
        }
        AnySchedule::Plateau(p) if p.schedule.is_none() => (
            p.lr?,
            json!({"type": "ReduceLROnPlateau", "mode": to_json(&p.mode), "factor": p.factor,
                "patience": p.patience, "threshold": p.threshold,
                "threshold_mode": to_json(&p.threshold_mode), "cooldown": p.cooldown,
                "min_lr": p.min_lr, "eps": p.eps}),
        ),
        AnySchedule::Warmup(w) if w.shape == WarmupShape::Linear => {
            let (lr, class) = torch_class(&w.schedule)?;
            let target = w.schedule.value(0);
            if lr <= 0.0 || target != lr || w.start_lr <= 0.0 || w.steps == 0 {
                return None;
            }
            let warm = json!({"type": "LinearLR", "start_factor": w.start_lr / lr,
                "end_factor": 1.0, "total_iters": w.steps});
            (
                lr,
                json!({"type": "SequentialLR", "schedulers": [warm, class], "milestones": [w.steps]}),
            )
        }
        AnySchedule::Join(j) if j.time == JoinTime::Local => {
            let parts: Vec<(f64, Value)> =
                j.schedules.iter().map(torch_class).collect::<Option<_>>()?;
            let lr = parts.first()?.0;
            // SequentialLR's schedulers share one base rate.
            if parts.iter().any(|(l, _)| *l != lr) {
                return None;
            }
            let classes: Vec<Value> = parts.into_iter().map(|(_, c)| c).collect();
            (
                lr,
                json!({"type": "SequentialLR", "schedulers": classes, "milestones": j.boundaries}),
            )
        }
        _ => return None,
    })
}

/// A top-level PyTorch config: the class with the optimizer's `lr` (and `momentum` where
/// the class cycles it, as PyTorch requires an optimizer with momentum there).
fn torch_top(lr: f64, mut class: Value, s: &AnySchedule) -> Value {
    if let Value::Object(o) = &mut class {
        o.insert("lr".into(), json!(lr));
        if o.get("cycle_momentum") == Some(&Value::Bool(true)) {
            if let Some(m) = s.momentum(0) {
                o.insert("momentum".into(), json!(m));
            }
        }
    }
    class
}

/// PyTorch's universal form: `LambdaLR` with the schedule's formula as `lr_lambda`.
fn lambda_lr(s: &AnySchedule) -> Option<Candidate> {
    let v0 = s.value(0);
    // The factor is relative to the optimizer's lr: the start (or the peak of a schedule
    // that starts at 0) keeps the expression's numbers readable.
    let base = if v0 > 0.0 && v0.is_finite() {
        v0
    } else {
        let peak = s
            .values(0..horizon(s))
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        if peak > 0.0 {
            peak
        } else {
            1.0
        }
    };
    let e = expr(s, "epoch", base)?;
    Some(Candidate {
        config: json!({"type": "LambdaLR", "lr": base, "lr_lambda": format!("lambda epoch: {e}")}),
        notes: vec![format!(
            "PyTorch has no class for `{}` as configured: LambdaLR with its formula (lr times lr_lambda(epoch))",
            s.type_name()
        )],
    })
}
