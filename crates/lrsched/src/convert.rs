//! Converting a schedule into the config of another library: what `lrsched convert` prints.
//!
//! [`convert`] takes any schedule (a native tree, or a paste-in config from transformers,
//! timm, optax or Keras once read, since those become native trees) and writes the closest
//! config in the [`Target`] library's own form: its function or class as `type`, its own
//! keyword arguments. The result is a config this crate reads back, so the claim that it
//! is exact is *checked*, not assumed: the produced config is parsed with
//! [`crate::config::from_value`] and its values are compared with the source's over the
//! source's length and some steps past it (metric-driven schedules are fed the same
//! synthetic metrics). [`Conversion::exact`] is `true` only when every value agrees to a
//! relative 1e-10 (with an allowance of a few ulps of the schedule's peak for values that
//! cancel to near 0); otherwise [`Conversion::notes`] says by how much and from which
//! step the two differ.
//!
//! Where a library has several forms for a schedule, the idiomatic one is tried first and
//! kept when it is exact; for PyTorch, a `LambdaLR` whose `lr_lambda` is the schedule's
//! formula written as a Python expression is the universal fallback, exact for every
//! closed-form family. optax and Keras compute in float32: a form that agrees here to
//! 1e-10 agrees with the real library to its float32 rounding (about 1e-7).
//!
//! ```
//! use lrsched::convert::{convert, Target};
//! use lrsched::{config, oneline};
//! let s = config::from_json_str(
//!     r#"{"type": "transformers.get_cosine_schedule_with_warmup", "lr": 0.001,
//!         "num_warmup_steps": 10, "num_training_steps": 110}"#,
//! )
//! .unwrap();
//! let native = convert(&s, Target::Native).unwrap();
//! assert!(native.exact);
//! let optax = convert(&s, Target::Optax).unwrap();
//! assert_eq!(optax.config["type"], "optax.warmup_cosine_decay_schedule");
//! // transformers' cosine goes on rising past num_training_steps; optax's holds at 0.
//! assert!(!optax.exact);
//! assert!(optax.notes.iter().any(|n| n.contains("from step 111")));
//! let torch = convert(&s, Target::Torch).unwrap();
//! assert!(torch.exact);
//! println!("{}", oneline::print_value(&torch.config));
//! ```

use crate::{
    AfterEnd, Anneal, AnySchedule, CyclicMode, JoinTime, NoiseKind, Schedule, ScheduleError,
    ThresholdMode, WarmupShape,
};
use serde_json::{json, Map, Value};
use std::fmt;

/// The library a schedule is converted into.
///
/// ```
/// use lrsched::convert::Target;
/// let t: Target = "optax".parse().unwrap();
/// assert_eq!(t, Target::Optax);
/// assert_eq!(t.to_string(), "optax");
/// assert!("opatx".parse::<Target>().unwrap_err().to_string().contains("optax"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// This crate's own config form (always exact).
    Native,
    /// `torch.optim.lr_scheduler` classes.
    Torch,
    /// Hugging Face transformers' `get_*_schedule*` functions.
    Transformers,
    /// timm's `*LRScheduler` classes.
    Timm,
    /// optax's schedule functions.
    Optax,
    /// `keras.optimizers.schedules` classes.
    Keras,
}

impl Target {
    /// Every target, in the order `lrsched convert --help` lists them.
    pub const ALL: [Target; 6] = [
        Target::Native,
        Target::Torch,
        Target::Transformers,
        Target::Timm,
        Target::Optax,
        Target::Keras,
    ];

    /// The name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Target::Native => "native",
            Target::Torch => "torch",
            Target::Transformers => "transformers",
            Target::Timm => "timm",
            Target::Optax => "optax",
            Target::Keras => "keras",
        }
    }

    /// Whether the library computes in float32 (optax and Keras by default).
    fn float32(self) -> bool {
        matches!(self, Target::Optax | Target::Keras)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Target {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        // The names users also write for these libraries.
        let alias = match lower.as_str() {
            "pytorch" => Some(Target::Torch),
            "hf" | "huggingface" => Some(Target::Transformers),
            "tf" | "tensorflow" => Some(Target::Keras),
            _ => None,
        };
        if let Some(t) = Target::ALL
            .into_iter()
            .find(|t| t.name() == lower)
            .or(alias)
        {
            return Ok(t);
        }
        let names = Target::ALL.map(Target::name);
        // A misspelt alias (`pytroch`) suggests the name the alias stands for.
        let spellings = names
            .into_iter()
            .chain(["pytorch", "huggingface", "tensorflow"]);
        let hint = crate::suggest(&lower, spellings)
            .map(|n| n.parse::<Target>().map_or(n.to_string(), |t| t.to_string()))
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        Err(ScheduleError::Invalid {
            path: "--to".into(),
            message: format!(
                "unknown target `{s}`: {hint}expected one of {}",
                names.join(", ")
            ),
        })
    }
}

/// A converted schedule: the config in the target library's form, whether it reproduces
/// the source, and what differs where it does not.
///
/// ```
/// use lrsched::convert::{convert, Target};
/// use lrsched::{Cosine, Schedule};
/// let c = convert(&Cosine::new(0.1, 100).into(), Target::Keras).unwrap();
/// assert_eq!(c.config["type"], "keras.CosineDecay");
/// assert!(c.exact); // notes still say that Keras computes in float32
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The config, in the target library's form; [`crate::config::from_value`] reads it.
    pub config: Value,
    /// `true` when the config's values agree with the source's at every step checked.
    pub exact: bool,
    /// What differs and by how much (and anything else worth knowing about the form).
    pub notes: Vec<String>,
}

/// Relative agreement that counts as exact.
const TOLERANCE: f64 = 1e-10;
/// The most steps compared (PyTorch forms replay every step).
const MAX_CHECK: u64 = 200_000;

/// Converts `s` into `to`'s config form; an error when the target has nothing close.
///
/// ```
/// use lrsched::convert::{convert, Target};
/// use lrsched::StepDecay;
/// let c = convert(&StepDecay::new(0.1, 30, 0.5).into(), Target::Optax).unwrap();
/// assert_eq!(c.config["type"], "optax.exponential_decay");
/// assert_eq!(c.config["staircase"], true);
/// assert!(c.exact);
/// let e = convert(&StepDecay::new(0.1, 30, 0.5).into(), Target::Transformers).unwrap_err();
/// assert!(e.to_string().contains("transformers"));
/// ```
pub fn convert(s: &AnySchedule, to: Target) -> Result<Conversion, ScheduleError> {
    if to == Target::Native {
        return Ok(Conversion {
            config: crate::config::to_value(s),
            exact: true,
            notes: Vec::new(),
        });
    }
    let candidates = candidates(s, to);
    if candidates.is_empty() {
        return Err(no_counterpart(s, to));
    }
    let h = horizon(s);
    let mut best: Option<(Candidate, Diff)> = None;
    let mut first_inexact: Option<(String, Diff)> = None;
    let mut parse_error = None;
    for cand in candidates {
        let parsed = match crate::config::from_value(cand.config.clone()) {
            Ok(p) => p,
            Err(e) => {
                parse_error.get_or_insert(e);
                continue;
            }
        };
        let diff = compare(s, parsed, h);
        if diff.is_exact() {
            best = Some((cand, diff));
            break;
        }
        if first_inexact.is_none() {
            first_inexact = Some((type_of(&cand.config), diff.clone()));
        }
        if best.as_ref().is_none_or(|(_, d)| diff.worst < d.worst) {
            best = Some((cand, diff));
        }
    }
    let Some((cand, diff)) = best else {
        // Every candidate was refused by its own library's reader (e.g. a parameter the
        // library does not allow); that reader's message says why.
        return Err(parse_error.unwrap_or_else(|| no_counterpart(s, to)));
    };
    let exact = diff.is_exact();
    let mut notes = cand.notes;
    if !exact {
        notes.extend(diff.describe(s.type_name()));
    } else if let Some((ty, d)) = first_inexact {
        if ty != type_of(&cand.config) {
            let mut why = d.describe(s.type_name());
            let first = why.drain(..).next().unwrap_or_default();
            notes.push(format!(
                "`{ty}` is the usual form but not exact ({first}); this form is"
            ));
        }
    }
    if to.float32() {
        notes.push(format!(
            "{to} computes in float32 by default: expect a relative 1e-7 from float32 rounding"
        ));
    }
    if h >= MAX_CHECK {
        notes.push(format!("compared over steps 0..{MAX_CHECK} only"));
    }
    Ok(Conversion {
        config: cand.config,
        exact,
        notes,
    })
}

fn type_of(v: &Value) -> String {
    v.get("type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

fn no_counterpart(s: &AnySchedule, to: Target) -> ScheduleError {
    let others: Vec<&str> = Target::ALL
        .into_iter()
        .filter(|&t| t != to && t != Target::Native && !candidates(s, t).is_empty())
        .map(Target::name)
        .collect();
    let hint = if others.is_empty() {
        "only the native form (`--to native`) writes it".to_string()
    } else {
        format!("it converts to {}", others.join(", "))
    };
    ScheduleError::Invalid {
        path: s.type_name().to_string(),
        message: format!(
            "`{}` (as configured) has no counterpart in {to}: {hint}",
            s.type_name()
        ),
    }
}

/// A config in the target's form, with notes that hold whatever the numbers say.
struct Candidate {
    config: Value,
    notes: Vec<String>,
}

fn cand(config: Value) -> Candidate {
    Candidate {
        config,
        notes: Vec::new(),
    }
}

fn candidates(s: &AnySchedule, to: Target) -> Vec<Candidate> {
    let mut out = raw_candidates(s, to);
    let defaults: &[(&str, Value)] = match to {
        Target::Native => &[],
        Target::Torch => &[("eta_min", json!(0.0))],
        Target::Transformers => &[("num_cycles", json!(0.5))],
        Target::Timm => &[
            ("k_decay", json!(1.0)),
            ("lr_min", json!(0.0)),
            ("cycle_mul", json!(1.0)),
            ("cycle_decay", json!(1.0)),
        ],
        Target::Optax => &[
            ("exponent", json!(1.0)),
            ("alpha", json!(0.0)),
            ("transition_begin", json!(0)),
            ("staircase", json!(false)),
        ],
        Target::Keras => &[
            ("alpha", json!(0.0)),
            ("staircase", json!(false)),
            ("cycle", json!(false)),
        ],
    };
    for c in &mut out {
        strip_defaults(&mut c.config, defaults);
    }
    out
}

/// Leaves out keyword arguments given at the library's own default, for a shorter config
/// that reads the same.
fn strip_defaults(v: &mut Value, defaults: &[(&str, Value)]) {
    match v {
        Value::Object(o) => {
            o.retain(|k, x| {
                !defaults.iter().any(|(d, dv)| {
                    d == k && (x == dv || (x.as_f64().is_some() && x.as_f64() == dv.as_f64()))
                })
            });
            o.values_mut().for_each(|x| strip_defaults(x, defaults));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip_defaults(x, defaults)),
        _ => {}
    }
}

fn raw_candidates(s: &AnySchedule, to: Target) -> Vec<Candidate> {
    let mut out = Vec::new();
    match to {
        Target::Native => out.push(cand(crate::config::to_value(s))),
        Target::Torch => {
            if let AnySchedule::Torch(_) = s {
                out.push(cand(crate::config::to_value(s)));
                return out;
            }
            if let Some((lr, class)) = torch_class(s) {
                out.push(cand(torch_top(lr, class, s)));
            }
            if let Some(c) = lambda_lr(s) {
                out.push(c);
            }
        }
        Target::Transformers => out.extend(transformers(s).map(cand)),
        Target::Timm => out.extend(timm(s)),
        Target::Optax => out.extend(optax(s).map(cand)),
        Target::Keras => out.extend(keras(s).map(cand)),
    }
    out
}

// ---------------------------------------------------------------------------------------
// Checking.

/// How a candidate's values differ from the source's.
#[derive(Debug, Clone)]
struct Diff {
    /// The largest relative difference of the rate.
    worst: f64,
    /// The first step where the rate differs beyond the tolerance, and that step's values.
    first: Option<(u64, f64, f64)>,
    /// The step of the largest difference.
    worst_step: u64,
    /// The first step where the momentum differs (or is not set by the candidate).
    momentum: Option<(u64, Option<f64>, Option<f64>)>,
    /// Steps compared.
    steps: u64,
}

impl Diff {
    fn is_exact(&self) -> bool {
        self.first.is_none() && self.momentum.is_none()
    }

    fn describe(&self, family: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((step, want, got)) = self.first {
            out.push(format!(
                "differs from the source `{family}` from step {step} ({got:?} where the source has {want:?}); largest relative difference {:.3e} at step {} (steps 0..{} compared)",
                self.worst, self.worst_step, self.steps
            ));
        }
        if let Some((step, want, got)) = self.momentum {
            out.push(match got {
                None => "the momentum the source sets is not carried over".to_string(),
                Some(g) => format!(
                    "momentum differs from step {step} ({g:?} where the source has {})",
                    want.map_or("none".into(), |w| format!("{w:?}"))
                ),
            });
        }
        out
    }
}

/// The steps to compare: the source's length (or its longest step-count parameter) and
/// half as much again, so that behaviour past the end is compared too.
fn horizon(s: &AnySchedule) -> u64 {
    fn max_int(v: &Value, m: &mut u64) {
        match v {
            Value::Number(n) => {
                if let Some(i) = n.as_u64() {
                    *m = (*m).max(i);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| max_int(x, m)),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| *k != "seed")
                .for_each(|(_, x)| max_int(x, m)),
            _ => {}
        }
    }
    let mut m = s.len().unwrap_or(0);
    max_int(&crate::config::to_value(s), &mut m);
    let m = m.min(MAX_CHECK);
    m.saturating_add(m / 2)
        .saturating_add(20)
        .clamp(100, MAX_CHECK)
}

/// A metric sequence that improves, stalls and wobbles, so plateau forms get to reduce.
fn synthetic_metric(i: u64) -> f64 {
    let x = i as f64;
    if i < 20 {
        1.0 / (1.0 + x)
    } else {
        0.05 + 0.01 * ((x * 0.7).sin() + (i / 37 % 3) as f64)
    }
}

fn compare(source: &AnySchedule, mut got: AnySchedule, h: u64) -> Diff {
    let mut want = source.clone();
    if want.needs_metric() || got.needs_metric() {
        for i in 0..h {
            // A schedule that refuses a metric is compared as it stands.
            let _ = want.observe(i, synthetic_metric(i));
            let _ = got.observe(i, synthetic_metric(i));
        }
    }
    let a = want.values(0..h);
    let b = got.values(0..h);
    let peak = a.iter().fold(
        0.0f64,
        |m, v| if v.is_finite() { m.max(v.abs()) } else { m },
    );
    let mut d = Diff {
        worst: 0.0,
        first: None,
        worst_step: 0,
        momentum: None,
        steps: h,
    };
    for (i, (&x, &y)) in a.iter().zip(&b).enumerate() {
        let r = rel(x, y, peak);
        if r > d.worst {
            d.worst = r;
            d.worst_step = i as u64;
        }
        if r > TOLERANCE && d.first.is_none() {
            d.first = Some((i as u64, x, y));
        }
    }
    let ma = want.momenta(0..h);
    if ma.iter().any(Option::is_some) {
        let mb = got.momenta(0..h);
        d.momentum = ma
            .iter()
            .zip(&mb)
            .enumerate()
            .find(|(_, (x, y))| match (x, y) {
                (Some(x), Some(y)) => rel(*x, *y, 0.0) > TOLERANCE,
                (None, None) => false,
                _ => true,
            })
            .map(|(i, (x, y))| (i as u64, *x, *y));
    }
    d
}

/// `|x - y|` relative to the larger; differences within a few ulps of the schedule's
/// peak count as none, as formulas that cancel to near 0 (a cosine's end) differ there
/// only by rounding.
fn rel(x: f64, y: f64, peak: f64) -> f64 {
    if x == y {
        return 0.0;
    }
    if !(x.is_finite() && y.is_finite()) {
        return f64::INFINITY;
    }
    let diff = (x - y).abs();
    if diff <= 4.0 * f64::EPSILON * peak {
        return 0.0;
    }
    diff / x.abs().max(y.abs())
}

// ---------------------------------------------------------------------------------------
// Shapes shared by the targets.

/// A linear warmup's `(steps, start_lr)` and the schedule after it; `(0, 0, s)` without.
fn split_warmup(s: &AnySchedule) -> (u64, f64, &AnySchedule) {
    match s {
        AnySchedule::Warmup(w) if w.shape == WarmupShape::Linear => {
            (w.steps, w.start_lr, &*w.schedule)
        }
        _ => (0, 0.0, s),
    }
}

/// A plain half cosine: no exponent, k-decay or other waves.
fn plain_cosine(c: &crate::Cosine) -> bool {
    c.exponent == 1.0 && c.k_decay == 1.0 && c.num_cycles == 0.5
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole == 0.0 {
        0.0
    } else {
        part / whole
    }
}

fn to_json<T: serde::Serialize>(x: &T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

/// Multi-step milestones as `(step, times)`, in order, repeats merged.
fn milestone_counts(milestones: &[u64]) -> Vec<(u64, i32)> {
    let mut sorted = milestones.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(u64, i32)> = Vec::new();
    for m in sorted {
        match out.last_mut() {
            Some((last, n)) if *last == m => *n += 1,
            _ => out.push((m, 1)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// PyTorch.

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
fn expr(s: &AnySchedule, t: &str, base: f64) -> Option<String> {
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

// ---------------------------------------------------------------------------------------
// transformers.

fn transformers(s: &AnySchedule) -> Option<Value> {
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

// ---------------------------------------------------------------------------------------
// timm.

fn timm(s: &AnySchedule) -> Option<Candidate> {
    if let AnySchedule::Noise(n) = s {
        // timm's noise is a truncated normal on the noise-free value.
        if n.kind != NoiseKind::Normal {
            return None;
        }
        let mut c = timm(&n.schedule)?;
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
            let mut first = timm(&x.schedule)?.config;
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

// ---------------------------------------------------------------------------------------
// optax.

fn optax(s: &AnySchedule) -> Option<Value> {
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
                    let mut v = optax(&w.schedule)?;
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
                        "schedules": [rise, optax(other)?], "boundaries": [w.steps]})
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
            let parts: Vec<Value> = j.schedules.iter().map(optax).collect::<Option<_>>()?;
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

// ---------------------------------------------------------------------------------------
// Keras.

fn keras(s: &AnySchedule) -> Option<Value> {
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
                return keras(&crate::Constant::new(x.lr).into());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn parse(v: Value) -> AnySchedule {
        config::from_value(v).unwrap()
    }

    fn one(text: &str) -> AnySchedule {
        crate::oneline::parse(text).unwrap()
    }

    /// The converted config reads back and agrees (or not) as `exact` says.
    fn check(s: &AnySchedule, to: Target) -> Conversion {
        let c = convert(s, to).unwrap_or_else(|e| panic!("{} to {to}: {e}", s.type_name()));
        let back = config::from_value(c.config.clone()).unwrap();
        let h = horizon(s);
        let d = compare(s, back, h);
        assert_eq!(d.is_exact(), c.exact, "{to}: {:?} {:?}", c.config, c.notes);
        if !c.exact {
            assert!(
                c.notes.iter().any(|n| n.contains("differs")),
                "{:?}",
                c.notes
            );
        }
        c
    }

    #[test]
    fn native_is_exact_and_reads_back_equal() {
        let s = one("warmup(steps=5, schedule=cosine(lr=0.1, steps=50))");
        let c = convert(&s, Target::Native).unwrap();
        assert!(c.exact);
        assert_eq!(parse(c.config), s);
    }

    #[test]
    fn target_names_and_suggestions() {
        for t in Target::ALL {
            assert_eq!(t.name().parse::<Target>().unwrap(), t);
        }
        assert_eq!("PyTorch".parse::<Target>().unwrap(), Target::Torch);
        let e = "kears".parse::<Target>().unwrap_err().to_string();
        assert!(e.contains("did you mean `keras`"), "{e}");
    }

    #[test]
    fn families_to_torch_are_exact() {
        for text in [
            "constant(lr=0.1)",
            "step(lr=0.1, step_size=7, gamma=0.5)",
            "multi_step(lr=0.1, milestones=[5, 5, 20], gamma=0.3)",
            "exponential(lr=0.1, gamma=0.97)",
            "exponential(lr=0.1, gamma=0.5, transition_steps=10, staircase=true, min_lr=0.01)",
            "exponential(lr=0.1, k=0.01, transition_begin=20)",
            "inverse_time(lr=0.1, k=0.5, decay_steps=10)",
            "inverse_sqrt(lr=0.1, timescale=100, warmup_steps=10)",
            "polynomial(lr=0.1, steps=50, power=2)",
            "polynomial(lr=0.1, steps=50, end_lr=0.01, power=0.5, cycle=true)",
            "linear(start_lr=0.1, end_lr=0.01, steps=40)",
            "linear(start_lr=0, end_lr=0.1, steps=40)",
            "cosine(lr=0.1, steps=60, min_lr=0.001)",
            "cosine(lr=0.1, steps=60, after_end=restart)",
            "cosine(lr=0.1, steps=60, exponent=2, k_decay=0.5, num_cycles=1.5, after_end=continue)",
            "tanh(lr=0.1, steps=60)",
            "rex(lr=0.1, steps=60, min_lr=0.01)",
            "noam(d_model=512, warmup_steps=40)",
            "warm_restarts(lr=0.1, period=10, period_mult=2, min_lr=0.001)",
            "warm_restarts(lr=0.1, period=10, period_mult=1.5, peak_decay=0.5)",
            "warm_restarts(lr=0.1, period=10, cycle_limit=3, peak_decay=0.8)",
            "cyclic(base_lr=0.001, max_lr=0.1, step_size_up=10, mode=triangular2)",
            "warmup(steps=10, schedule=cosine(lr=0.1, steps=90))",
            "warmup(steps=10, start_lr=0.01, schedule=cosine(lr=0.1, steps=90))",
            "warmup(steps=10, shape=cosine, schedule=constant(lr=0.1))",
            "wsd(lr=0.1, warmup_steps=10, stable_steps=50, decay_steps=20, cooldown=1-sqrt)",
            "join(schedules=[constant(lr=0.1), cosine(lr=0.1, steps=90)], boundaries=[10])",
            "join(schedules=[constant(lr=0.05), step(lr=0.1, step_size=10)], boundaries=[10], time=global)",
            "scale(schedule=cosine(lr=1, steps=30), factor=0.1)",
            "product(schedules=[cosine(lr=0.1, steps=30), step(lr=1, step_size=10, gamma=0.5)])",
            "clamp(schedule=exponential(lr=0.1, gamma=0.9), min=0.01)",
            "offset(schedule=cosine(lr=0.1, steps=30), shift=-10)",
            "repeat(schedule=cosine(lr=0.1, steps=30))",
        ] {
            let c = check(&one(text), Target::Torch);
            assert!(c.exact, "{text}: {} {:?}", c.config, c.notes);
        }
    }

    #[test]
    fn idiomatic_torch_classes_when_exact() {
        let c = check(&one("step(lr=0.1, step_size=7, gamma=0.5)"), Target::Torch);
        assert_eq!(c.config["type"], "StepLR");
        let c = check(
            &one("cosine(lr=0.1, steps=60, after_end=restart)"),
            Target::Torch,
        );
        assert_eq!(c.config["type"], "CosineAnnealingWarmRestarts");
        let c = check(
            &one("one_cycle(max_lr=0.1, total_steps=100)"),
            Target::Torch,
        );
        // PyTorch's OneCycleLR has no steps past total_steps (it raises; the replay goes
        // on along its last phase): exact up to there only.
        assert_eq!(c.config["type"], "OneCycleLR");
        assert!(!c.exact);
        assert!(c.notes[0].contains("from step 100"), "{:?}", c.notes);
        // CosineAnnealingLR goes on past T_max; the exact form is a LambdaLR, and the note
        // says why the usual class was not used.
        let c = check(&one("cosine(lr=0.1, steps=60)"), Target::Torch);
        assert_eq!(c.config["type"], "LambdaLR");
        assert!(
            c.notes.iter().any(|n| n.contains("CosineAnnealingLR")),
            "{:?}",
            c.notes
        );
        let c = check(
            &one("plateau(lr=0.1, patience=2, factor=0.5)"),
            Target::Torch,
        );
        assert_eq!(c.config["type"], "ReduceLROnPlateau");
        assert!(c.exact, "{:?}", c.notes);
    }

    #[test]
    fn paste_ins_across_libraries() {
        let s = parse(
            json!({"type": "transformers.get_cosine_schedule_with_warmup",
            "lr": 3e-4, "num_warmup_steps": 50, "num_training_steps": 1000}),
        );
        let c = check(&s, Target::Transformers);
        assert!(c.exact);
        assert_eq!(
            c.config["type"],
            "transformers.get_cosine_schedule_with_warmup"
        );
        assert!(check(&s, Target::Torch).exact);
        // Everywhere else the cosine holds at 0 past the end, where transformers' rises.
        for t in [Target::Optax, Target::Keras, Target::Timm] {
            let c = check(&s, t);
            assert!(!c.exact, "{t}");
            assert!(
                c.notes.iter().any(|n| n.contains("from step 1001")),
                "{:?}",
                c.notes
            );
        }

        let s = parse(
            json!({"type": "optax.warmup_cosine_decay_schedule", "init_value": 0.0,
            "peak_value": 1e-3, "warmup_steps": 100, "decay_steps": 1000}),
        );
        for t in [Target::Optax, Target::Keras, Target::Timm, Target::Torch] {
            assert!(check(&s, t).exact, "{t}");
        }
        let c = check(&s, Target::Transformers);
        assert!(!c.exact);

        let s = parse(
            json!({"type": "timm.CosineLRScheduler", "lr": 0.1, "t_initial": 300,
            "warmup_t": 5, "warmup_lr_init": 1e-4}),
        );
        let c = check(&s, Target::Timm);
        assert!(c.exact, "{:?}", c.notes);
        assert!(check(&s, Target::Torch).exact);
        assert!(convert(&s, Target::Transformers).is_err());

        let s = parse(json!({"type": "keras.CosineDecayRestarts",
            "initial_learning_rate": 0.1, "first_decay_steps": 100}));
        assert!(check(&s, Target::Keras).exact);
        assert!(check(&s, Target::Torch).exact);
    }

    #[test]
    fn step_family_everywhere_it_exists() {
        let s = one("step(lr=0.1, step_size=30, gamma=0.5)");
        for t in [Target::Torch, Target::Timm, Target::Optax, Target::Keras] {
            assert!(check(&s, t).exact, "{t}");
        }
        let e = convert(&s, Target::Transformers).unwrap_err().to_string();
        assert!(e.contains("transformers") && e.contains("torch"), "{e}");
        let s = one("multi_step(lr=0.1, milestones=[10, 10, 30], gamma=0.5)");
        for t in [Target::Torch, Target::Timm, Target::Optax, Target::Keras] {
            assert!(check(&s, t).exact, "{t}");
        }
    }

    #[test]
    fn more_round_trips() {
        let cases: &[(&str, Target)] = &[
            ("polynomial(lr=0.1, steps=50, end_lr=0.001, power=2)", Target::Transformers),
            ("polynomial(lr=0.1, steps=50, end_lr=0.001, power=2)", Target::Timm),
            ("polynomial(lr=0.1, steps=50, end_lr=0.001, power=2)", Target::Optax),
            ("polynomial(lr=0.1, steps=50, end_lr=0.001, power=2, cycle=true)", Target::Keras),
            ("linear(start_lr=0.1, end_lr=0.0, steps=50)", Target::Transformers),
            ("linear(start_lr=0.1, end_lr=0.01, steps=50)", Target::Optax),
            ("linear(start_lr=0.1, end_lr=0.01, steps=50)", Target::Keras),
            ("exponential(lr=0.1, gamma=0.9, transition_steps=10, staircase=true)", Target::Keras),
            ("exponential(lr=0.1, gamma=0.9, transition_begin=5, min_lr=0.01)", Target::Optax),
            ("inverse_time(lr=0.1, k=0.5, decay_steps=10, staircase=true)", Target::Keras),
            ("tanh(lr=0.1, steps=60, min_lr=0.01)", Target::Timm),
            ("wsd(lr=0.1, warmup_steps=10, stable_steps=50, decay_steps=20)", Target::Transformers),
            ("warmup(steps=10, schedule=constant(lr=0.1))", Target::Transformers),
            ("warmup(steps=10, schedule=constant(lr=0.1))", Target::Optax),
            ("warmup(steps=10, schedule=inverse_sqrt(lr=0.1, timescale=10))", Target::Transformers),
            ("warmup(steps=10, start_lr=0.01, schedule=step(lr=0.1, step_size=10))", Target::Timm),
            ("warmup(steps=10, schedule=exponential(lr=0.1, gamma=0.9))", Target::Optax),
            ("warm_restarts(lr=0.1, period=10, period_mult=2, peak_decay=0.5)", Target::Keras),
            ("warm_restarts(lr=0.1, period=10, period_mult=2, cycle_limit=3, peak_decay=0.5)", Target::Timm),
            ("warm_restarts(lr=0.1, period=10, period_mult=2, cycle_limit=3, peak_decay=0.5)", Target::Optax),
            ("warm_restarts(lr=0.1, period=10, cycle_limit=3)", Target::Transformers),
            ("join(schedules=[constant(lr=0.1), constant(lr=0.01)], boundaries=[10])", Target::Keras),
            ("join(schedules=[constant(lr=0.1), cosine(lr=0.1, steps=90)], boundaries=[10])", Target::Optax),
            ("join(schedules=[constant(lr=0.1), cosine(lr=0.1, steps=90, after_end=restart)], boundaries=[10])", Target::Torch),
            ("plateau(lr=0.1, patience=2, factor=0.5)", Target::Transformers),
            ("noise(schedule=cosine(lr=0.1, steps=100), kind=normal, pct=0.1, start=10)", Target::Timm),
        ];
        for (text, to) in cases {
            let c = check(&one(text), *to);
            assert!(c.exact, "{text} to {to}: {} {:?}", c.config, c.notes);
        }
    }

    #[test]
    fn approximate_forms_say_by_how_much() {
        // optax's one-cycle phases end a step later than PyTorch's.
        let c = check(
            &one("one_cycle(max_lr=0.1, total_steps=100)"),
            Target::Optax,
        );
        assert!(!c.exact);
        assert!(
            c.notes[0].contains("largest relative difference"),
            "{:?}",
            c.notes
        );
        // PyTorch's LinearLR cannot start from 0; the LambdaLR can.
        let c = check(
            &one("warmup(steps=10, schedule=cosine(lr=0.1, steps=90))"),
            Target::Torch,
        );
        assert!(c.exact);
    }

    #[test]
    fn no_counterpart_is_an_error_naming_both() {
        let s = one("cyclic(base_lr=0.001, max_lr=0.1, step_size_up=10)");
        let e = convert(&s, Target::Optax).unwrap_err().to_string();
        assert!(e.contains("cyclic") && e.contains("optax"), "{e}");
        let s = one("noise(schedule=cosine(lr=0.1, steps=100))");
        let e = convert(&s, Target::Torch).unwrap_err().to_string();
        assert!(e.contains("noise") && e.contains("native"), "{e}");
        let s = parse(json!({"type": "StepLR", "lr": 0.1, "step_size": 3}));
        assert!(convert(&s, Target::Torch).unwrap().exact);
        assert!(convert(&s, Target::Keras).is_err());
    }
}
