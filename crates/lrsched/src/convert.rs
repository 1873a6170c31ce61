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
//! Each library's writer stands beside its reader, so the two read one set of names and
//! defaults: `compat::<library>::write` (transformers, timm, optax, Keras; their
//! `defaults!` table is both the reader's serde defaults and what the writer leaves out)
//! and `torch::write` (classes; the `LambdaLR` formula text is `torch::expr::write`, the
//! twin of the expression reader). This module only dispatches, strips defaults and
//! checks. Carrying a new family parameter over to a library is one arm in that library's
//! `write.rs`; the check here proves the result exact or says where it differs.
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

use crate::{AnySchedule, Schedule, ScheduleError, WarmupShape};
use serde_json::Value;
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

pub(crate) fn type_of(v: &Value) -> String {
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
pub(crate) struct Candidate {
    pub(crate) config: Value,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn cand(config: Value) -> Candidate {
    Candidate {
        config,
        notes: Vec::new(),
    }
}

fn candidates(s: &AnySchedule, to: Target) -> Vec<Candidate> {
    use crate::compat::{keras, optax, timm, transformers};
    let mut out = raw_candidates(s, to);
    // The defaults are the readers' own, so a left-out argument reads back the same.
    let defaults = match to {
        Target::Native => Vec::new(),
        Target::Torch => crate::torch::write::defaults(),
        Target::Transformers => transformers::defaults::all(),
        Target::Timm => timm::defaults::all(),
        Target::Optax => optax::defaults::all(),
        Target::Keras => keras::defaults::all(),
    };
    for c in &mut out {
        strip_defaults(&mut c.config, &defaults);
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

/// Each target's forms of `s`, written by that library's writer beside its reader:
/// `torch::write`, `compat::<library>::write`.
fn raw_candidates(s: &AnySchedule, to: Target) -> Vec<Candidate> {
    use crate::compat::{keras, optax, timm, transformers};
    match to {
        Target::Native => vec![cand(crate::config::to_value(s))],
        Target::Torch => crate::torch::write::candidates(s),
        Target::Transformers => transformers::write::write(s)
            .map(cand)
            .into_iter()
            .collect(),
        Target::Timm => timm::write::write(s).into_iter().collect(),
        Target::Optax => optax::write::write(s).map(cand).into_iter().collect(),
        Target::Keras => keras::write::write(s).map(cand).into_iter().collect(),
    }
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
pub(crate) fn horizon(s: &AnySchedule) -> u64 {
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
pub(crate) fn split_warmup(s: &AnySchedule) -> (u64, f64, &AnySchedule) {
    match s {
        AnySchedule::Warmup(w) if w.shape == WarmupShape::Linear => {
            (w.steps, w.start_lr, &*w.schedule)
        }
        _ => (0, 0.0, s),
    }
}

/// A plain half cosine: no exponent, k-decay or other waves.
pub(crate) fn plain_cosine(c: &crate::Cosine) -> bool {
    c.exponent == 1.0 && c.k_decay == 1.0 && c.num_cycles == 0.5
}

pub(crate) fn ratio(part: f64, whole: f64) -> f64 {
    if whole == 0.0 {
        0.0
    } else {
        part / whole
    }
}

pub(crate) fn to_json<T: serde::Serialize>(x: &T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

/// Multi-step milestones as `(step, times)`, in order, repeats merged.
pub(crate) fn milestone_counts(milestones: &[u64]) -> Vec<(u64, i32)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use serde_json::json;

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
