//! Writing a schedule as a `timm.*LRScheduler` config, for `lrsched convert --to timm`:
//! the reader's classes (in [`super`]) run backwards.

use crate::convert::{split_warmup, to_json, type_of, Candidate};
use crate::{AfterEnd, AnySchedule, JoinTime, NoiseKind, Schedule, ThresholdMode, WarmupShape};
use serde_json::json;

/// The timm class that writes `s`, if any, with what it does not carry over.
pub(crate) fn write(s: &AnySchedule) -> Option<Candidate> {
    if let AnySchedule::Noise(n) = s {
        // timm's noise is a truncated normal on the noise-free value.
        if n.kind != NoiseKind::Normal {
            return None;
        }
        let mut c = write(&n.schedule)?;
        if type_of(&c.config) == "timm.PlateauLRScheduler" {
            return None;
        }
        let range = match n.end {
            Some(e) => json!([n.start, e]),
            None => json!(n.start),
        };
        let o = c.config.as_object_mut()?;
        o.insert("noise_range_t".into(), range);
        o.insert("noise_pct".into(), json!(n.pct));
        o.insert("noise_std".into(), json!(n.std));
        o.insert("noise_seed".into(), json!(n.seed));
        c.notes.push(
            "timm draws its noise from torch's generator seeded with noise_seed + t: the same range, shape and bounds, different draws".into(),
        );
        return Some(c);
    }
    let (mut w, mut start, mut inner) = split_warmup(s);
    let mut prefix = true;
    // timm's own warmup without warmup_prefix: the schedule reads the global step and the
    // warmup (to the schedule's lr) hides its first steps.
    if let AnySchedule::Join(j) = s {
        if let ([AnySchedule::Warmup(warm), rest], [b], JoinTime::Global) =
            (j.schedules.as_slice(), j.boundaries.as_slice(), j.time)
        {
            if warm.shape == WarmupShape::Linear && warm.steps == *b {
                if let AnySchedule::Constant(c) = &*warm.schedule {
                    if c.lr == rest.value(0) {
                        (w, start, inner, prefix) = (*b, warm.start_lr, rest, false);
                    }
                }
            }
        }
    }
    let mut notes = Vec::new();
    let mut v = match inner {
        AnySchedule::Cosine(c) if plain_cosine_k(c) && c.after_end != AfterEnd::Restart => {
            json!({"type": "timm.CosineLRScheduler", "lr": c.lr, "t_initial": c.steps,
                "lr_min": c.min_lr, "k_decay": c.k_decay})
        }
        AnySchedule::WarmRestarts(x) if x.after_end == AfterEnd::Hold && !x.decay_height => {
            json!({"type": "timm.CosineLRScheduler", "lr": x.lr, "t_initial": x.period,
                "lr_min": x.min_lr, "cycle_mul": x.period_mult, "cycle_decay": x.peak_decay,
                "cycle_limit": x.cycle_limit?})
        }
        // timm's own cycles: the first cycle's class with the cycle arguments.
        AnySchedule::Cycles(x) if !matches!(*x.schedule, AnySchedule::Cycles(_)) => {
            let limit = x.cycle_limit?;
            let mut first = write(&x.schedule)?.config;
            let o = first.as_object_mut()?;
            o.insert("cycle_mul".into(), json!(x.cycle_mul));
            o.insert("cycle_decay".into(), json!(x.cycle_decay));
            o.insert("cycle_limit".into(), json!(limit));
            first
        }
        AnySchedule::Tanh(x) if x.after_end == AfterEnd::Hold => {
            json!({"type": "timm.TanhLRScheduler", "lr": x.lr, "t_initial": x.steps,
                "lb": x.lb, "ub": x.ub, "lr_min": x.min_lr})
        }
        AnySchedule::Polynomial(x) if !x.cycle && x.after_end == AfterEnd::Hold => {
            json!({"type": "timm.PolyLRScheduler", "lr": x.lr, "t_initial": x.steps,
                "power": x.power, "lr_min": x.end_lr, "k_decay": x.k_decay})
        }
        AnySchedule::Step(x) => json!({"type": "timm.StepLRScheduler", "lr": x.lr,
            "decay_t": x.step_size, "decay_rate": x.gamma}),
        AnySchedule::MultiStep(x) => {
            // timm drops one step before each of its milestones.
            let decay_t: Vec<u64> = x.milestones.iter().map(|m| m.saturating_add(1)).collect();
            json!({"type": "timm.MultiStepLRScheduler", "lr": x.lr, "decay_t": decay_t,
                "decay_rate": x.gamma})
        }
        AnySchedule::Constant(c) => {
            notes
                .push("timm has no constant scheduler: a StepLRScheduler with decay_rate 1".into());
            json!({"type": "timm.StepLRScheduler", "lr": c.lr, "decay_t": 1, "decay_rate": 1.0})
        }
        AnySchedule::Plateau(p)
            if w == 0 && p.schedule.is_none() && p.threshold_mode == ThresholdMode::Rel =>
        {
            json!({"type": "timm.PlateauLRScheduler", "lr": p.lr?, "decay_rate": p.factor,
                "patience_t": p.patience, "threshold": p.threshold, "cooldown_t": p.cooldown,
                "lr_min": p.min_lr, "mode": to_json(&p.mode)})
        }
        _ => return None,
    };
    if w > 0 {
        let o = v.as_object_mut()?;
        o.insert("warmup_t".into(), json!(w));
        o.insert("warmup_lr_init".into(), json!(start));
        o.insert("warmup_prefix".into(), json!(prefix));
    }
    Some(Candidate { config: v, notes })
}

/// A cosine timm's CosineLRScheduler has: k-decay allowed, no exponent or extra waves.
fn plain_cosine_k(c: &crate::Cosine) -> bool {
    c.exponent == 1.0 && c.num_cycles == 0.5
}
