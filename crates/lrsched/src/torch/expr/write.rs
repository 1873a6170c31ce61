//! The schedule's formula as a Python expression, the `lr_lambda` of the `LambdaLR` that
//! `lrsched convert --to torch` falls back on: the text [`super`] reads back.

use crate::convert::ratio;
use crate::{AfterEnd, AnySchedule, JoinTime, Schedule, WarmupShape};

/// A number as Python reads it back to the same f64, parenthesised when negative.
fn num(x: f64) -> String {
    if x < 0.0 {
        format!("({x:?})")
    } else {
        format!("{x:?}")
    }
}

/// `coef * rest`, leaving out a coefficient of 1.
fn coef(c: &str, rest: &str) -> String {
    if c == "1.0" {
        rest.to_string()
    } else {
        format!("{c} * {rest}")
    }
}

/// `a + (b - a) * f`, shorter when `a` is 0.
fn between(a: &str, b: &str, f: &str) -> String {
    if a == "0.0" {
        coef(b, f)
    } else {
        format!("{a} + ({b} - {a}) * {f}")
    }
}

/// `a * (b)`, leaving out a factor of 1.
fn times(a: f64, b: &str) -> String {
    if a == 1.0 {
        b.to_string()
    } else {
        format!("{} * ({b})", num(a))
    }
}

/// The local time of a schedule with a length, after its `after_end`.
fn local(t: &str, len: u64, after_end: AfterEnd) -> String {
    match after_end {
        AfterEnd::Hold => format!("min({t}, {len})"),
        AfterEnd::Continue => t.to_string(),
        AfterEnd::Restart => format!("({t} % {len})"),
    }
}

/// The fraction of `steps` done at step `t`, staircase or not.
fn fraction(t: &str, steps: u64, staircase: bool) -> String {
    match (staircase, steps) {
        (true, _) => format!("({t} // {steps})"),
        (false, 1) => t.to_string(),
        (false, _) => format!("({t} / {steps})"),
    }
}

/// The schedule's value at step `t` divided by `base`, as a Python expression in the
/// variable of `t`; `None` for what has no closed form here (metric-driven, noise,
/// PyTorch classes).
pub(crate) fn expr(s: &AnySchedule, t: &str, base: f64) -> Option<String> {
    let r = |x: f64| num(ratio(x, base));
    Some(match s {
        AnySchedule::Constant(c) => r(c.lr),
        AnySchedule::Step(x) => {
            format!("{} * {} ** ({t} // {})", r(x.lr), num(x.gamma), x.step_size)
        }
        AnySchedule::MultiStep(x) => {
            if x.milestones.is_empty() {
                r(x.lr)
            } else {
                let passed: Vec<String> = x
                    .milestones
                    .iter()
                    .map(|m| format!("({t} >= {m})"))
                    .collect();
                format!("{} * {} ** ({})", r(x.lr), num(x.gamma), passed.join(" + "))
            }
        }
        AnySchedule::Exponential(x) => {
            let d = if x.transition_begin > 0 {
                format!("max({t} - {}, 0)", x.transition_begin)
            } else {
                t.to_string()
            };
            let p = fraction(&d, x.transition_steps, x.staircase);
            let mut e = match (x.gamma, x.k) {
                (Some(g), _) => format!("{} * {} ** {p}", r(x.lr), num(g)),
                (None, Some(k)) => format!("{} * exp({} * {p})", r(x.lr), num(-k)),
                (None, None) => r(x.lr),
            };
            if x.min_lr > 0.0 {
                e = format!("max({e}, {})", r(x.min_lr));
            }
            if let Some(m) = x.max_lr {
                e = format!("min({e}, {})", r(m));
            }
            if x.transition_begin > 0 {
                // The bounds apply only once the decay has begun.
                e = format!("({} if {t} <= {} else {e})", r(x.lr), x.transition_begin);
            }
            e
        }
        AnySchedule::InverseTime(x) => format!(
            "{} / (1 + {} * {})",
            r(x.lr),
            num(x.k),
            fraction(t, x.decay_steps, x.staircase)
        ),
        AnySchedule::InverseSqrt(x) => {
            let tt = if x.warmup_steps > 0 {
                format!("max({t} - {}, 0)", x.warmup_steps)
            } else {
                t.to_string()
            };
            match (x.k, x.timescale) {
                (Some(k), _) => format!("{} / (1 + {} * sqrt({tt}))", r(x.lr), num(k)),
                (None, Some(ts)) => {
                    format!("{} * (1 / sqrt(({tt} + {ts}) / {ts}))", r(x.lr))
                }
                (None, None) => r(x.lr),
            }
        }
        AnySchedule::Polynomial(x) => {
            let (tt, over) = if x.cycle {
                (
                    t.to_string(),
                    format!("({} * max(ceil({t} / {}), 1))", x.steps, x.steps),
                )
            } else {
                (local(t, x.steps, x.after_end), x.steps.to_string())
            };
            let mut p = format!("({tt} / {over})");
            if x.k_decay != 1.0 {
                p = format!("{p} ** {}", num(x.k_decay));
            }
            let mut frac = format!("(1 - {p})");
            if x.power != 1.0 {
                frac = format!("{frac} ** {}", num(x.power));
            }
            if x.end_lr == 0.0 {
                coef(&r(x.lr), &frac)
            } else {
                format!("({} - {}) * {frac} + {}", r(x.lr), r(x.end_lr), r(x.end_lr))
            }
        }
        AnySchedule::Linear(x) => {
            let tt = local(t, x.steps, x.after_end);
            format!(
                "({} - {}) * (1 - {tt} / {}) + {}",
                r(x.start_lr),
                r(x.end_lr),
                x.steps,
                r(x.end_lr)
            )
        }
        AnySchedule::Cosine(c) => {
            let tt = local(t, c.steps, c.after_end);
            let mut p = format!("{tt} / {}", c.steps);
            if c.k_decay != 1.0 {
                p = format!("({p}) ** {}", num(c.k_decay));
            }
            let arg = if c.num_cycles == 0.5 {
                format!("pi * {p}")
            } else {
                format!("pi * {} * 2 * {p}", num(c.num_cycles))
            };
            let mut f = format!("0.5 * (1 + cos({arg}))");
            if c.exponent != 1.0 {
                f = format!("({f}) ** {}", num(c.exponent));
            }
            if c.min_lr == 0.0 {
                coef(&r(c.lr), &f)
            } else {
                format!("{} + ({} - {}) * {f}", r(c.min_lr), r(c.lr), r(c.min_lr))
            }
        }
        AnySchedule::Tanh(x) => {
            let tt = local(t, x.steps, x.after_end);
            let tr = format!("({tt} / {})", x.steps);
            // 1 - tanh(y) = 2 / (1 + exp(2 y)): Python's math has no tanh here.
            let e = format!(
                "{} + ({} - {}) / (1 + exp(2 * ({} * (1 - {tr}) + {} * {tr})))",
                r(x.min_lr),
                r(x.lr),
                r(x.min_lr),
                num(x.lb),
                num(x.ub)
            );
            if x.after_end == AfterEnd::Continue {
                e
            } else {
                format!("({e} if {tt} < {} else {})", x.steps, r(x.min_lr))
            }
        }
        AnySchedule::Rex(x) => {
            let tt = local(t, x.steps, x.after_end);
            let z = format!("({tt} / {})", x.steps);
            format!(
                "{} + ({} - {}) * (1 - {z}) / (0.5 + 0.5 * (1 - {z}))",
                r(x.min_lr),
                r(x.lr),
                r(x.min_lr)
            )
        }
        AnySchedule::Noam(x) => {
            let n = format!("({t} + 1)");
            times(
                ratio(x.factor, base),
                &format!(
                    "{} ** (-0.5) * min({n} ** (-0.5), {n} * {} ** (-1.5))",
                    x.d_model, x.warmup_steps
                ),
            )
        }
        AnySchedule::WarmRestarts(w) => {
            if w.period == 0 || w.period_mult < 1.0 {
                return None;
            }
            let p = w.period;
            let (tt, limit) = match (w.cycle_limit, w.after_end) {
                (Some(n), AfterEnd::Hold) => (t.to_string(), Some(n)),
                (Some(n), AfterEnd::Restart) => {
                    if w.period_mult != 1.0 {
                        return None;
                    }
                    (format!("({t} % {})", p.checked_mul(n)?), None)
                }
                _ => (t.to_string(), None),
            };
            let (n, cur, len) = if w.period_mult == 1.0 {
                (
                    format!("({tt} // {p})"),
                    format!("({tt} % {p})"),
                    p.to_string(),
                )
            } else {
                let m = w.period_mult;
                // The cycle from the log, nudged up so that a boundary that the log
                // lands a hair below still starts the new cycle.
                let n = format!(
                    "floor(log(1 + {tt} / {p} * {}) / log({}) + 1e-9)",
                    num(m - 1.0),
                    num(m)
                );
                (
                    n.clone(),
                    format!("({tt} - {p} * ({} ** {n} - 1) / {})", num(m), num(m - 1.0)),
                    format!("({p} * {} ** {n})", num(m)),
                )
            };
            let decay = if w.peak_decay == 1.0 {
                "1".to_string()
            } else {
                format!("{} ** {n}", num(w.peak_decay))
            };
            let peak = if w.decay_height {
                format!(
                    "({} + ({} - {}) * {decay})",
                    r(w.min_lr),
                    r(w.lr),
                    r(w.min_lr)
                )
            } else {
                format!("({} * {decay})", r(w.lr))
            };
            let e = format!(
                "{} + ({peak} - {}) * (1 + cos(pi * {cur} / {len})) / 2",
                r(w.min_lr),
                r(w.min_lr)
            );
            match limit {
                Some(n) if w.period_mult == 1.0 => {
                    format!("({e} if {t} < {} else {})", p.checked_mul(n)?, r(w.min_lr))
                }
                Some(_) => return None,
                None => e,
            }
        }
        AnySchedule::Warmup(w) => {
            let child = expr(&w.schedule, &format!("({t} - {})", w.steps), base)?;
            if w.steps == 0 {
                return Some(child);
            }
            let target = w.schedule.value(0);
            let p = format!("{t} / {}", w.steps);
            let (a, b) = (r(w.start_lr), r(target));
            let rise = match w.shape {
                WarmupShape::Linear => between(&a, &b, &p),
                WarmupShape::Cosine => between(&a, &b, &format!("(0.5 * (1 - cos(pi * {p})))")),
                WarmupShape::Exponential if w.start_lr > 0.0 => {
                    format!("{a} * {} ** ({p})", num(target / w.start_lr))
                }
                WarmupShape::Exponential => between(&a, &b, &p),
                WarmupShape::OneMinusSqrt => {
                    format!("{a} + ({b} - {a}) * (1 - sqrt(max(1 - {p}, 0)))")
                }
            };
            format!("({rise} if {t} < {} else {child})", w.steps)
        }
        AnySchedule::Wsd(x) => {
            let total = x.warmup_steps + x.stable_steps + x.decay_steps;
            let tt = match x.after_end {
                AfterEnd::Restart => format!("({t} % {total})"),
                _ => t.to_string(),
            };
            let (w, ws) = (x.warmup_steps, x.warmup_steps + x.stable_steps);
            let p = format!("({tt} - {ws}) / {}", x.decay_steps);
            let f = match x.cooldown {
                crate::Cooldown::Linear => format!("(1 - {p})"),
                crate::Cooldown::Cosine => format!("0.5 * (1 + cos(pi * {p}))"),
                crate::Cooldown::OneMinusSqrt => format!("(1 - sqrt(max({p}, 0)))"),
                crate::Cooldown::OneMinusSquare => format!("(1 - ({p}) * ({p}))"),
            };
            let mut e = format!(
                "({} if {tt} >= {total} else ({} if {tt} < {ws} else {} + ({} - {}) * {f}))",
                r(x.min_lr),
                r(x.lr),
                r(x.min_lr),
                r(x.lr),
                r(x.min_lr)
            );
            if w > 0 {
                let start = r(x.warmup_start_lr.unwrap_or(x.min_lr));
                let wp = format!("{tt} / {w}");
                let lr = r(x.lr);
                let s0 = x.warmup_start_lr.unwrap_or(x.min_lr);
                let rise = match x.warmup_shape {
                    WarmupShape::Exponential if s0 > 0.0 => {
                        format!("{start} * {} ** ({wp})", num(x.lr / s0))
                    }
                    WarmupShape::Linear | WarmupShape::Exponential => {
                        format!("{start} + ({lr} - {start}) * {wp}")
                    }
                    WarmupShape::Cosine => {
                        format!("{start} + ({lr} - {start}) * (0.5 * (1 - cos(pi * {wp})))")
                    }
                    WarmupShape::OneMinusSqrt => {
                        format!("{start} + ({lr} - {start}) * (1 - sqrt(max(1 - {wp}, 0)))")
                    }
                };
                e = format!("({rise} if {tt} < {w} else {e})");
            }
            e
        }
        AnySchedule::Join(j) => {
            let n = j.schedules.len();
            if n == 0 || j.boundaries.len() + 1 != n {
                return None;
            }
            let time = |i: usize| match (j.time, i) {
                (JoinTime::Global, _) | (_, 0) => t.to_string(),
                (JoinTime::Local, i) => format!("({t} - {})", j.boundaries[i - 1]),
            };
            // `(p0 if t < b0 else (p1 if t < b1 else ... pn))`, written front to back into
            // one string: wrapping the expression so far once per part copied it each
            // time, quadratic in the parts (a join of 100k parts took seconds).
            let mut out = String::new();
            for (i, part) in j.schedules.iter().enumerate().take(n - 1) {
                let part = expr(part, &time(i), base)?;
                out.push_str(&format!("({part} if {t} < {} else ", j.boundaries[i]));
            }
            out.push_str(&expr(&j.schedules[n - 1], &time(n - 1), base)?);
            out.push_str(&")".repeat(n - 1));
            out
        }
        AnySchedule::Scale(x) => times(x.factor, &expr(&x.schedule, t, base)?),
        AnySchedule::Product(p) => {
            let mut parts = Vec::new();
            for (i, c) in p.schedules.iter().enumerate() {
                // Only the first factor is relative to the optimizer's lr.
                let b = if i == 0 { base } else { 1.0 };
                parts.push(format!("({})", expr(c, t, b)?));
            }
            if parts.is_empty() {
                r(1.0)
            } else {
                parts.join(" * ")
            }
        }
        AnySchedule::Clamp(c) => {
            let mut e = format!("max({}, {})", expr(&c.schedule, t, base)?, r(c.min));
            if let Some(m) = c.max {
                e = format!("min({e}, {})", r(m));
            }
            e
        }
        AnySchedule::Offset(o) => {
            let shifted = if o.shift >= 0 {
                format!("({t} + {})", o.shift)
            } else {
                format!("max({t} - {}, 0)", o.shift.unsigned_abs())
            };
            expr(&o.schedule, &shifted, base)?
        }
        AnySchedule::Repeat(x) if x.times.is_none() => {
            let p = x.period.or_else(|| x.schedule.len()).filter(|&p| p > 0)?;
            expr(&x.schedule, &format!("({t} % {p})"), base)?
        }
        _ => return None,
    })
}
