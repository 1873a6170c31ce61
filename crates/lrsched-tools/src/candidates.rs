//! The schedules a comparison runs: the default set scaled to the run, the ready presets
//! (the seeds' XOR study, the MNIST StepLR recipe), and a `--schedules` file of one's own.
//!
//! Each [`Entry`] is a name, a schedule config value and, optionally, the optimizer and
//! interval it goes with; [`Entry::trial_schedule`] is the schedule a trial gets.

use crate::run_spec::{DataKind, RunSpec};
use lrsched::driver::Interval;
use lrsched_train::data::Split;
use lrsched_train::model::Init;
use lrsched_train::optim::OptimizerKind;
use serde_json::Value;
use std::path::Path;

/// One schedule of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its name in tables and trial folders.
    pub name: String,
    /// The schedule's config value.
    pub schedule: Value,
    /// The optimizer it goes with, if not the run's.
    pub optimizer: Option<OptimizerKind>,
    /// The interval it steps at, if stated.
    pub interval: Option<Interval>,
}

/// A ready comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 2-2-1 with BatchNorm, Adam, He init, batch 4, 100 epochs: step, exponential,
    /// plateau, cosine, cyclic (crates/lrsched-train/examples/xor_schedules.rs).
    Xor,
    /// 784-128-10, SGD momentum 0.9, lr 0.1, batch 64, 20 epochs: StepLR against the rest.
    Mnist,
}

/// What a preset chooses besides the run: the seeds and the target accuracy, unless the
/// user gave them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresetDefaults {
    /// Seeds per schedule.
    pub seeds: u64,
    /// The accuracy that counts as converged.
    pub target: f64,
}

impl Preset {
    /// Sets the preset's data, model, optimizer and batch on `spec` (its epochs too unless
    /// `epochs_given`), and returns its seeds and target.
    pub fn apply(self, spec: &mut RunSpec, epochs_given: bool) -> PresetDefaults {
        match self {
            Preset::Xor => {
                spec.data = DataKind::Xor;
                spec.model = "2".into();
                spec.batch_norm = true;
                spec.optimizer = OptimizerKind::Adam;
                spec.init = Init::HeNormal;
                spec.batch_size = 4;
                if !epochs_given {
                    spec.epochs = 100;
                }
                PresetDefaults {
                    seeds: 10,
                    target: 1.0,
                }
            }
            Preset::Mnist => {
                spec.data = DataKind::Mnist;
                spec.model = "128".into();
                spec.optimizer = OptimizerKind::Momentum;
                spec.lr = spec.lr.or(Some(0.1));
                spec.momentum = spec.momentum.or(Some(0.9));
                spec.batch_size = 64;
                if !epochs_given {
                    spec.epochs = 20;
                }
                PresetDefaults {
                    // One seed ranks nothing (the verdict says so); three tell large
                    // differences.
                    seeds: 3,
                    // 98%: most schedules reach it, late enough to tell them apart (97% is
                    // reached by nearly all in epoch 3).
                    target: 0.98,
                }
            }
        }
    }

    /// The preset's schedules, for the run `spec` (after [`Preset::apply`]).
    pub fn entries(self, spec: &RunSpec) -> Vec<Entry> {
        match self {
            Preset::Xor => xor_set(),
            Preset::Mnist => {
                let mut set = vec![Entry {
                    name: "StepLR (recipe)".into(),
                    schedule: serde_json::json!({"type": "StepLR", "step_size": 10, "gamma": 0.1, "lr": 0.1}),
                    optimizer: None,
                    interval: Some(Interval::Epoch),
                }];
                set.extend(default_set(spec));
                set
            }
        }
    }
}

impl Entry {
    /// The schedule as the trial gets it: `lr` of the run where a PyTorch config leaves
    /// its base rate out, the entry's interval (or the run's `schedule_interval`) as an
    /// `interval` key.
    pub fn trial_schedule(&self, spec: &RunSpec) -> Value {
        let mut schedule = self.schedule.clone();
        let name = schedule
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(map) = schedule.as_object_mut() {
            if lrsched::torch::CLASS_NAMES.contains(&name.as_str()) {
                if let Some(lr) = spec.lr {
                    map.entry("lr").or_insert(lr.into());
                }
            }
            let interval = self.interval.or(spec.schedule_interval).map(|i| match i {
                Interval::Step => "step",
                Interval::Epoch => "epoch",
            });
            if let Some(i) = interval {
                map.insert("interval".into(), i.into());
            }
        }
        schedule
    }

    /// The schedule as the run of this entry reads it.
    pub fn schedule_spec(&self) -> Result<lrsched::ScheduleSpec, String> {
        lrsched::ScheduleSpec::from_value(self.schedule.clone()).map_err(|e| e.to_string())
    }

    /// The run of this entry: `spec` with the entry's optimizer and interval.
    pub fn run_spec(&self, spec: &RunSpec) -> RunSpec {
        let mut s = spec.clone();
        s.schedule = None;
        s.schedule_config = None;
        if let Some(o) = self.optimizer {
            s.optimizer = o;
        }
        if self.interval.is_some() {
            s.schedule_interval = self.interval;
        }
        s.metrics_out = None;
        s.checkpoint_dir = None;
        s.resume = false;
        s
    }
}

/// The default set, scaled to the run: durations are fractions of the run ("100%"), so
/// the shapes are the same whatever the epochs are.
pub fn default_set(spec: &RunSpec) -> Vec<Entry> {
    let adaptive = matches!(
        spec.optimizer,
        OptimizerKind::Adam
            | OptimizerKind::AdamW
            | OptimizerKind::RmsProp
            | OptimizerKind::ScheduleFreeAdamW
    );
    // An LR-free optimizer's rate is a multiplier of its own estimate: its references'
    // default (1), unless the user gave one.
    let lr = spec
        .lr
        .or(spec.optimizer.default_lr())
        .unwrap_or(if adaptive { 0.003 } else { 0.05 });
    // Schedule-free AdamW wants an Adam-sized rate.
    let sf_lr = if adaptive { lr } else { 0.003 };
    let one = |name: &str, text: String| Entry {
        name: name.into(),
        schedule: lrsched::oneline::parse_value(&text).expect("the default set parses"),
        optimizer: None,
        interval: None,
    };
    let mut set = vec![
        one("constant", format!("constant(lr={lr})")),
        one("step", format!("step(lr={lr}, step_size=33%, gamma=0.1)")),
        one(
            "exponential",
            format!("exponential(lr={lr}, gamma=0.01, transition_steps=100%)"),
        ),
        one(
            "time-based",
            format!("inverse_time(lr={lr}, k=1, decay_steps=10%)"),
        ),
        one("cosine", format!("cosine(lr={lr}, steps=100%)")),
        one(
            "warmup+cosine",
            format!("warmup(steps=10%, schedule=cosine(lr={lr}, steps=90%))"),
        ),
        one(
            "cyclic",
            format!(
                "cyclic(base_lr={}, max_lr={lr}, step_size_up=10%, mode=triangular2)",
                lr / 10.0
            ),
        ),
        one(
            "one-cycle",
            format!("one_cycle(max_lr={}, total_steps=100%)", lr * 2.0),
        ),
        one(
            "reduce-on-plateau",
            format!("plateau(lr={lr}, factor=0.5, patience=1)"),
        ),
        one(
            "warmup-stable-decay",
            format!("wsd(lr={lr}, warmup_steps=5%, stable_steps=75%, decay_steps=20%)"),
        ),
    ];
    let mut sf = one("schedule-free AdamW", format!("constant(lr={sf_lr})"));
    sf.optimizer = Some(OptimizerKind::ScheduleFreeAdamW);
    set.push(sf);
    // The LR-free optimizers exist so that nobody tunes a rate: each at its references'
    // default multiplier (1.0), with no schedule, beside the scheduled runs.
    for (name, kind) in [
        ("Prodigy (LR-free)", OptimizerKind::Prodigy),
        ("D-Adapt Adam (LR-free)", OptimizerKind::DAdaptAdam),
        ("D-Adapt SGD (LR-free)", OptimizerKind::DAdaptSgd),
        ("DoG (LR-free)", OptimizerKind::Dog),
    ] {
        let lr = kind.default_lr().unwrap_or(1.0);
        let mut entry = one(name, format!("constant(lr={lr})"));
        entry.optimizer = Some(kind);
        set.push(entry);
    }
    set
}

/// The seeds' XOR study: rates in epochs, stepped per epoch (one step per epoch anyway).
pub fn xor_set() -> Vec<Entry> {
    [
        ("step", "step(lr=0.1, step_size=20, gamma=0.1)"),
        ("exponential", "exponential(lr=0.1, k=0.05)"),
        ("plateau", "plateau(lr=0.1, factor=0.5, patience=5)"),
        ("cosine", "cosine(lr=0.1, min_lr=0.001, steps=50)"),
        (
            "cyclic",
            "cyclic(base_lr=0.001, max_lr=0.1, step_size_up=10)",
        ),
    ]
    .into_iter()
    .map(|(name, text)| Entry {
        name: name.into(),
        schedule: lrsched::oneline::parse_value(text).expect("the XOR set parses"),
        optimizer: None,
        interval: Some(Interval::Epoch),
    })
    .collect()
}

/// The optimizer names a schedules file (and `--optimizer`) takes, with their kinds.
pub const OPTIMIZERS: [(&str, OptimizerKind); 12] = [
    ("sgd", OptimizerKind::Sgd),
    ("momentum", OptimizerKind::Momentum),
    ("nesterov", OptimizerKind::Nesterov),
    ("rmsprop", OptimizerKind::RmsProp),
    ("adam", OptimizerKind::Adam),
    ("adamw", OptimizerKind::AdamW),
    ("sf-sgd", OptimizerKind::ScheduleFreeSgd),
    ("sf-adamw", OptimizerKind::ScheduleFreeAdamW),
    ("prodigy", OptimizerKind::Prodigy),
    ("dadapt-adam", OptimizerKind::DAdaptAdam),
    ("dadapt-sgd", OptimizerKind::DAdaptSgd),
    ("dog", OptimizerKind::Dog),
];

/// What a `--command` program that honours `LRSCHED_OPTIMIZER` is asked to build for an
/// entry with an optimizer: `{"name": NAME, "lr": LR}`, the name as [`OPTIMIZERS`] spells
/// it and the rate the entry's schedule starts at (for an LR-free optimizer, the
/// multiplier of its own step size); `None` for an entry that keeps the run's optimizer.
///
/// ```
/// use lrsched_tools::candidates::{default_set, optimizer_request};
/// let set = default_set(&Default::default());
/// let prodigy = set.iter().find(|e| e.name.starts_with("Prodigy")).unwrap();
/// assert_eq!(optimizer_request(prodigy), Some(serde_json::json!({"name": "prodigy", "lr": 1.0})));
/// assert_eq!(optimizer_request(&set[0]), None);
/// ```
pub fn optimizer_request(entry: &Entry) -> Option<Value> {
    let kind = entry.optimizer?;
    let name = OPTIMIZERS.iter().find(|(_, k)| *k == kind)?.0;
    let mut request = serde_json::json!({ "name": name });
    let lr = lrsched::ScheduleSpec::from_value(entry.schedule.clone())
        .ok()
        .and_then(|s| s.build(None).ok())
        .map(|s| lrsched::Schedule::value(&s, 0))
        .filter(|lr| lr.is_finite() && *lr > 0.0);
    if let Some(lr) = lr {
        request["lr"] = lr.into();
    }
    Some(request)
}

/// The optimizer `name` (any case) names, if one.
pub fn optimizer_named(name: &str) -> Option<OptimizerKind> {
    OPTIMIZERS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| *k)
}

/// Reads a schedules file: a JSON list (or `{"schedules": [...]}`), or TOML with
/// `[[schedules]]` tables, each with `name`, `schedule` (a one-line form or a config
/// table) and optionally `optimizer` and `interval`. A file that is one schedule config
/// (a table with a `type`, as `train --schedule-config` takes and `find-lr --apply`
/// writes as `suggested.json`) is one entry named after the file's stem. Errors are one
/// line starting with the file's path.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("suggested.json");
/// std::fs::write(&path, r#"{"type": "one_cycle", "max_lr": 0.1, "total_steps": "100%"}"#).unwrap();
/// let entries = lrsched_tools::candidates::read_schedules(&path).unwrap();
/// assert_eq!(entries.len(), 1);
/// assert_eq!(entries[0].name, "suggested");
/// assert_eq!(entries[0].schedule["max_lr"], 0.1);
/// ```
pub fn read_schedules(path: &Path) -> Result<Vec<Entry>, String> {
    let at = |m: String| format!("{}: {m}", path.display());
    let doc = crate::files::read_toml_or_json(path)?;
    let list = match &doc {
        Value::Array(l) => l,
        Value::Object(m) => match m.get("schedules") {
            Some(Value::Array(l)) => l,
            None if m.contains_key("type") => return Ok(vec![one_config(path, &doc)]),
            _ => {
                return Err(at(
                    "expected a list of {name, schedule} (in TOML: [[schedules]] tables), or one schedule config with a `type`".into(),
                ))
            }
        },
        _ => return Err(at("expected a list of {name, schedule}".into())),
    };
    if list.is_empty() {
        return Err(at("the list of schedules is empty".into()));
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let n = i + 1;
        let Value::Object(m) = item else {
            return Err(at(format!(
                "entry {n} is not a table with `name` and `schedule`"
            )));
        };
        let name = match m.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(at(format!("entry {n} has no `name`"))),
        };
        // The name is the trial's LRSCHED_TRIAL and part of its folder's name: a control
        // character (NUL cannot be in an environment variable) would fail every trial.
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(at(format!(
                "entry {n}: the name {} has a control character (U+{:04X}): names are shown in tables and passed to the trials; use printable characters",
                lrsched::shorten(&format!("{name:?}")),
                c as u32
            )));
        }
        if entries.iter().any(|e| e.name == name) {
            return Err(at(format!("two entries are named `{name}`")));
        }
        let schedule = match m.get("schedule") {
            Some(Value::String(s)) => {
                lrsched::oneline::parse_value(s).map_err(|e| at(format!("`{name}`: {e}")))?
            }
            Some(v @ Value::Object(_)) => v.clone(),
            _ => {
                return Err(at(format!(
                    "`{name}` has no `schedule` (a one-line form or a config table)"
                )))
            }
        };
        let optimizer = match m.get("optimizer") {
            None => None,
            Some(Value::String(s)) => Some(optimizer_named(s).ok_or_else(|| {
                at(format!(
                    "`{name}`: unknown optimizer `{s}` (sgd, momentum, nesterov, rmsprop, adam, adamw, sf-sgd, sf-adamw)"
                ))
            })?),
            Some(other) => {
                return Err(at(format!(
                    "`{name}`: optimizer = {other} must be a name"
                )))
            }
        };
        let interval = match m.get("interval") {
            None => None,
            Some(Value::String(s)) if s == "step" => Some(Interval::Step),
            Some(Value::String(s)) if s == "epoch" => Some(Interval::Epoch),
            Some(other) => {
                return Err(at(format!(
                    "`{name}`: interval = {other} must be \"step\" or \"epoch\""
                )))
            }
        };
        entries.push(Entry {
            name,
            schedule,
            optimizer,
            interval,
        });
    }
    Ok(entries)
}

/// A file that is one schedule config as one entry, named after the file's stem.
fn one_config(path: &Path, config: &Value) -> Entry {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if stem.trim().is_empty() || stem.chars().any(char::is_control) {
        "schedule".to_string()
    } else {
        stem
    };
    Entry {
        name,
        schedule: config.clone(),
        optimizer: None,
        interval: None,
    }
}

/// What an accuracy is for a model that learned nothing: the largest class's share of
/// the validation rows (predicting it always scores that); `None` without labels.
pub fn majority_share(split: &Split) -> Option<f64> {
    let labels = split.val.labels()?;
    if labels.is_empty() {
        return None;
    }
    let mut counts = std::collections::BTreeMap::new();
    for l in labels {
        *counts.entry(*l).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max()?;
    Some(most as f64 / labels.len() as f64)
}
