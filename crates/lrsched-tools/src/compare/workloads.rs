//! Several workloads at once (`compare --workloads FILE`): the same schedules run on each
//! workload (a program of one's own or a built-in data set, each with its own target),
//! then scored across them as AlgoPerf scores its submissions: each schedule's time to
//! each workload's target (the median over seeds, infinite when missed), performance
//! ratios to the fastest, the performance profile `rho(tau)`, the integrated score up to
//! `tau = 4` and the geometric-mean speed-up over a baseline (docs/workloads.md).
//!
//! [`read_workloads`] reads and checks the file; each workload then runs as an ordinary
//! comparison in its own folder, whose `summary.json` [`times_from_summary`] reads back;
//! [`CrossWorkload::score`] scores them, [`CrossWorkload::to_json`] is `workloads.json`
//! and [`CrossWorkload::sections`] the report's chart and table.

use crate::scoring::{
    geometric_mean_speedup, integrated_score, integrated_score_grid, linspace_point,
    performance_profile, performance_ratios,
};
use lrsched_report::html::{Section, Table};
use lrsched_report::{render_svg, Chart, Series};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Most workloads one file may list: AlgoPerf has eight; past this a typo, not a plan.
pub const MAX_WORKLOADS: usize = 64;

/// AlgoPerf's `r_max`: a schedule slower than four times the fastest scores nothing there.
pub const R_MAX: f64 = 4.0;

/// Points of the profile written to `workloads.json` and integrated by AlgoPerf's
/// trapezoid (`np.linspace(1, 4, 100)`, `scoring/score_submissions.py`).
pub const PROFILE_POINTS: usize = 100;

/// What counts as time to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Epochs (whole epochs: the first whose metric reached the target).
    Epochs,
    /// Optimizer steps to that epoch (from the trials' step lines).
    Steps,
    /// Wall seconds to that epoch, as lrsched measured them (AlgoPerf's unit; noisy on a
    /// shared machine, and it charges an optimizer its own cost per step).
    Seconds,
}

impl TimeUnit {
    /// The unit's word in the file and in `workloads.json`.
    ///
    /// ```
    /// use lrsched_tools::compare::workloads::TimeUnit;
    /// assert_eq!(TimeUnit::Seconds.word(), "seconds");
    /// ```
    pub fn word(self) -> &'static str {
        match self {
            TimeUnit::Epochs => "epochs",
            TimeUnit::Steps => "steps",
            TimeUnit::Seconds => "seconds",
        }
    }

    /// The unit a word names, if any.
    ///
    /// ```
    /// use lrsched_tools::compare::workloads::TimeUnit;
    /// assert_eq!(TimeUnit::named("steps"), Some(TimeUnit::Steps));
    /// assert_eq!(TimeUnit::named("hours"), None);
    /// ```
    pub fn named(word: &str) -> Option<TimeUnit> {
        [TimeUnit::Epochs, TimeUnit::Steps, TimeUnit::Seconds]
            .into_iter()
            .find(|u| u.word() == word)
    }

    /// The `summary.json` key of the median time in this unit.
    fn summary_key(self) -> &'static str {
        match self {
            TimeUnit::Epochs => "median_epochs",
            TimeUnit::Steps => "median_steps",
            TimeUnit::Seconds => "median_seconds",
        }
    }
}

/// Who trains a workload.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A program of one's own, run per trial by the protocol (docs/protocol.md).
    Command {
        /// The command line.
        command: String,
        /// The folder it runs in (relative paths in the file are the file's folder's).
        cwd: Option<PathBuf>,
        /// Its steps per epoch, for programs that use no lrsched helper.
        steps_per_epoch: Option<u64>,
        /// Whether it honours `LRSCHED_OPTIMIZER` (docs/protocol.md), so compare may offer
        /// it the optimizer baselines.
        honours_optimizer: bool,
    },
    /// lrsched's built-in trainer on a data set (`digits`, `mnist`, `xor`, `spirals`,
    /// `csv`).
    Data(String),
}

/// One workload of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Its name: the folder its comparison goes in and its column in the tables.
    pub name: String,
    /// The metric's value that counts as reached.
    pub target: f64,
    /// Who trains it.
    pub source: Source,
    /// The metric that scores (default as compare's: `val_acc` when reported, else
    /// `val_loss`).
    pub metric: Option<String>,
    /// `max` or `min`: which way the metric is better (default from its name).
    pub mode: Option<String>,
    /// Epochs per trial (default: compare's `--epochs`).
    pub epochs: Option<u64>,
    /// The metric's value at chance level (compare's `--chance`).
    pub chance: Option<f64>,
    /// The equivalence margin (compare's `--margin`).
    pub margin: Option<f64>,
    /// A trial running longer is timed out (seconds; compare's `--trial-timeout`).
    pub trial_timeout: Option<f64>,
    /// The built-in trainer's other settings (`model`, `optimizer`, `lr`, ...), each a
    /// `train` flag by its long name with `_` for `-`, and its value (a string, number or
    /// boolean), in the file's order; paths already made absolute.
    pub options: Vec<(String, Value)>,
}

/// A workloads file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadsFile {
    /// The workloads, in the file's order.
    pub workloads: Vec<Workload>,
    /// The schedule the speed-up is measured against (default: the first schedule).
    pub baseline: Option<String>,
    /// What counts as time (default: epochs).
    pub time: TimeUnit,
}

/// The keys of the built-in trainer a workload may set: `train`'s flags that describe
/// one run (a flag that belongs to the whole comparison or to one trial is not here).
/// The CLI's tests check each against `train`'s flags.
pub const BUILT_IN_KEYS: [&str; 28] = [
    "data_dir",
    "download",
    "data_path",
    "target_column",
    "spirals_size",
    "spirals_noise",
    "model",
    "activation",
    "batch_norm",
    "dropout",
    "init",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "decoupled_weight_decay",
    "no_decay_bias",
    "l1",
    "clip_norm",
    "clip_value",
    "batch_size",
    "schedule_interval",
    "plateau_monitor",
    "engine",
    "early_stop_patience",
    "early_stop_monitor",
    "early_stop_min_delta",
    "no_restore_best",
];

/// Keys whose value is a path, made absolute against the file's folder.
const PATH_KEYS: [&str; 3] = ["data_dir", "data_path", "cwd"];

/// Keys every workload may have.
const COMMON_KEYS: [&str; 8] = [
    "name",
    "target",
    "metric",
    "mode",
    "epochs",
    "chance",
    "margin",
    "trial_timeout",
];

/// Keys only a `command` workload may have.
const COMMAND_KEYS: [&str; 4] = ["command", "cwd", "steps_per_epoch", "honours_optimizer"];

/// Reads a workloads file: TOML with `[[workloads]]` tables (or JSON, `{"workloads":
/// [...]}` or a bare list), each with `name`, `target` and either `command` or `data`;
/// top-level `baseline` and `time` are optional. Errors are one line starting with the
/// file's path and naming the workload and the key.
///
/// ```
/// use lrsched_tools::compare::workloads::{read_workloads, Source, TimeUnit};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("w.toml");
/// std::fs::write(&path, r#"
/// time = "steps"
/// [[workloads]]
/// name = "digits"
/// data = "digits"
/// target = 0.9
/// model = "32"
/// [[workloads]]
/// name = "mine"
/// command = "python train.py"
/// target = 0.5
/// metric = "val_loss"
/// "#).unwrap();
/// let w = read_workloads(&path).unwrap();
/// assert_eq!(w.time, TimeUnit::Steps);
/// assert_eq!(w.workloads[0].options, vec![("model".to_string(), serde_json::json!("32"))]);
/// assert!(matches!(&w.workloads[1].source, Source::Command { command, .. } if command == "python train.py"));
///
/// std::fs::write(&path, "[[workloads]]\nname = \"a\"\ndata = \"digits\"\n").unwrap();
/// let e = read_workloads(&path).unwrap_err();
/// assert!(e.ends_with("workload `a`: has no `target`: the metric's value that counts as reached (e.g. target = 0.95)"), "{e}");
/// ```
pub fn read_workloads(path: &Path) -> Result<WorkloadsFile, String> {
    let at = |m: String| format!("{}: {m}", path.display());
    let doc = crate::files::read_toml_or_json(path).map_err(|e| format!("--workloads: {e}"))?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    parse_workloads(&doc, &base).map_err(at)
}

/// [`read_workloads`] on a value already read; relative paths are taken from `base`.
pub fn parse_workloads(doc: &Value, base: &Path) -> Result<WorkloadsFile, String> {
    const SHAPE: &str = "expected [[workloads]] tables (JSON: {\"workloads\": [...]}), each with `name`, `target` and `command` or `data`";
    let (list, top) = match doc {
        Value::Array(l) => (l, None),
        Value::Object(m) => match m.get("workloads") {
            Some(Value::Array(l)) => (l, Some(m)),
            _ => return Err(SHAPE.into()),
        },
        _ => return Err(SHAPE.into()),
    };
    let mut baseline = None;
    let mut time = TimeUnit::Epochs;
    if let Some(m) = top {
        for (k, v) in m {
            match (k.as_str(), v) {
                ("workloads", _) => {}
                ("baseline", Value::String(s)) if !s.trim().is_empty() => {
                    baseline = Some(s.clone())
                }
                ("baseline", other) => {
                    return Err(format!(
                        "baseline = {} is not allowed: must be a schedule's name",
                        short(other)
                    ))
                }
                ("time", v) => {
                    time = v.as_str().and_then(TimeUnit::named).ok_or_else(|| {
                        format!(
                        "time = {} is not allowed: must be \"epochs\", \"steps\" or \"seconds\"",
                        short(v)
                    )
                    })?
                }
                (k, _) => {
                    return Err(format!(
                    "unknown top-level key `{}`: allowed are `workloads`, `baseline` and `time`",
                    lrsched::shorten(k)
                ))
                }
            }
        }
    }
    if list.is_empty() {
        return Err("the list of workloads is empty".into());
    }
    if list.len() > MAX_WORKLOADS {
        return Err(format!(
            "{} workloads is not allowed: at most {MAX_WORKLOADS}",
            list.len()
        ));
    }
    let mut workloads: Vec<Workload> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let w = parse_one(i + 1, item, base)?;
        if workloads.iter().any(|o| o.name == w.name) {
            return Err(format!(
                "two workloads are named `{}`: names must be unique (each is a folder)",
                w.name
            ));
        }
        workloads.push(w);
    }
    Ok(WorkloadsFile {
        workloads,
        baseline,
        time,
    })
}

fn short(v: &Value) -> String {
    lrsched::shorten(&v.to_string()).into_owned()
}

/// A workload's name: a folder name and a table column, so letters, digits, `-` and `_`.
fn check_name(n: usize, v: Option<&Value>) -> Result<String, String> {
    let Some(Value::String(s)) = v else {
        return Err(format!(
            "workload {n} has no `name` (a short name: letters, digits, - and _)"
        ));
    };
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!(
            "workload {n}: name = {} is not allowed: 1 to 64 letters, digits, - and _ (it names the workload's folder)",
            lrsched::shorten(&format!("{s:?}"))
        ));
    }
    Ok(s.clone())
}

fn parse_one(n: usize, item: &Value, base: &Path) -> Result<Workload, String> {
    let Value::Object(m) = item else {
        return Err(format!(
            "workload {n} is not a table with `name`, `target` and `command` or `data`"
        ));
    };
    let name = check_name(n, m.get("name"))?;
    let at = |msg: String| format!("workload `{name}`: {msg}");
    let has_command = m.contains_key("command");
    let has_data = m.contains_key("data");
    if has_command == has_data {
        return Err(at(if has_command {
            "has both `command` and `data`: give one (your program, or a built-in data set)".into()
        } else {
            "has neither `command` (your program) nor `data` (a built-in data set: digits, mnist, xor, spirals, csv)".into()
        }));
    }
    for k in m.keys() {
        let known = COMMON_KEYS.contains(&k.as_str())
            || (has_command && COMMAND_KEYS.contains(&k.as_str()))
            || (has_data && (k == "data" || BUILT_IN_KEYS.contains(&k.as_str())));
        if !known {
            let allowed = if has_command {
                "a command workload takes name, target, command, cwd, steps_per_epoch, honours_optimizer, metric, mode, epochs, chance, margin, trial_timeout".to_string()
            } else {
                format!(
                    "a data workload takes name, target, data, metric, mode, epochs, chance, margin, trial_timeout and the built-in trainer's {}",
                    BUILT_IN_KEYS.join(", ")
                )
            };
            return Err(at(format!(
                "unknown key `{}` ({allowed})",
                lrsched::shorten(k)
            )));
        }
    }
    let number = |key: &str| -> Result<Option<f64>, String> {
        match m.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(at(format!(
                    "{key} = {} is not allowed: must be a finite number",
                    short(v)
                ))),
            },
        }
    };
    let count = |key: &str| -> Result<Option<u64>, String> {
        match m.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(x) if x >= 1 => Ok(Some(x)),
                _ => Err(at(format!(
                    "{key} = {} is not allowed: must be an integer >= 1",
                    short(v)
                ))),
            },
        }
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(v) => Err(at(format!(
                "{key} = {} is not allowed: must be a non-empty string",
                short(v)
            ))),
        }
    };
    let path = |s: String| -> PathBuf {
        let p = PathBuf::from(s);
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let target = number("target")?.ok_or_else(|| {
        at(
            "has no `target`: the metric's value that counts as reached (e.g. target = 0.95)"
                .into(),
        )
    })?;
    let mode = text("mode")?;
    if let Some(md) = &mode {
        if md != "max" && md != "min" {
            return Err(at(format!(
                "mode = {md:?} is not allowed: must be \"max\" or \"min\""
            )));
        }
        if !m.contains_key("metric") {
            return Err(at(
                "`mode` needs `metric` (the metric it is the direction of)".into(),
            ));
        }
    }
    let source = if has_command {
        let honours_optimizer = match m.get("honours_optimizer") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(at(format!(
                    "honours_optimizer = {} is not allowed: must be true or false",
                    short(v)
                )))
            }
        };
        Source::Command {
            command: text("command")?.expect("checked above"),
            cwd: text("cwd")?.map(path),
            steps_per_epoch: count("steps_per_epoch")?,
            honours_optimizer,
        }
    } else {
        Source::Data(text("data")?.expect("checked above"))
    };
    let mut options = Vec::new();
    if has_data {
        for (k, v) in m {
            if !BUILT_IN_KEYS.contains(&k.as_str()) {
                continue;
            }
            let v = match v {
                Value::String(s) if PATH_KEYS.contains(&k.as_str()) => {
                    Value::String(path(s.clone()).display().to_string())
                }
                Value::String(_) | Value::Number(_) | Value::Bool(_) => v.clone(),
                other => {
                    return Err(at(format!(
                        "{k} = {} is not allowed: must be a string, a number or true/false",
                        short(other)
                    )))
                }
            };
            options.push((k.clone(), v));
        }
    }
    let trial_timeout = number("trial_timeout")?;
    if trial_timeout.is_some_and(|t| t <= 0.0) {
        return Err(at("trial_timeout must be seconds > 0".into()));
    }
    Ok(Workload {
        target,
        source,
        metric: text("metric")?,
        mode,
        epochs: count("epochs")?,
        chance: number("chance")?,
        margin: number("margin")?,
        trial_timeout,
        options,
        name,
    })
}

/// One workload's times to its target, per schedule (the median over seeds in `unit`,
/// infinite when half the seeds or more missed it), read from its comparison's
/// `summary.json` (docs/summary.md, where `null` is a time never reached). A time that is
/// `null` while the epochs are known was not measured (steps from a program that writes
/// no step lines): an error naming the workload, since counting it as missed would be
/// false.
///
/// ```
/// use lrsched_tools::compare::workloads::{times_from_summary, TimeUnit};
/// let s = serde_json::json!({"schedules": [
///     {"name": "cosine", "time_to_target": {"median_epochs": 3.0, "median_steps": 30.0}},
///     {"name": "constant", "time_to_target": {"median_epochs": null, "median_steps": null}}]});
/// let t = times_from_summary("digits", &s, TimeUnit::Steps).unwrap();
/// assert_eq!(t, vec![("cosine".to_string(), 30.0), ("constant".to_string(), f64::INFINITY)]);
/// let s = serde_json::json!({"schedules": [
///     {"name": "cosine", "time_to_target": {"median_epochs": 3.0, "median_steps": null}}]});
/// assert!(times_from_summary("mine", &s, TimeUnit::Steps).unwrap_err().contains("wrote no step lines"));
/// ```
pub fn times_from_summary(
    workload: &str,
    summary: &Value,
    unit: TimeUnit,
) -> Result<Vec<(String, f64)>, String> {
    let bad = || {
        format!("workload `{workload}`: its summary.json is not compare's (no `schedules` list)")
    };
    let list = summary
        .get("schedules")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    let mut out = Vec::new();
    for s in list {
        let name = s.get("name").and_then(Value::as_str).ok_or_else(bad)?;
        let t = s.get("time_to_target");
        let get = |key: &str| t.and_then(|t| t.get(key)).and_then(Value::as_f64);
        let time = match get(unit.summary_key()) {
            Some(x) => x,
            None if unit != TimeUnit::Epochs && get("median_epochs").is_some() => {
                return Err(format!(
                    "workload `{workload}`: schedule `{name}` reached the target but its {} were not measured (its trials wrote no step lines, or ran where lrsched could not time them): use time = \"epochs\"",
                    unit.word()
                ))
            }
            None => f64::INFINITY,
        };
        out.push((name.to_string(), time));
    }
    Ok(out)
}

/// One workload's side of the cross-workload score.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadTimes {
    /// The workload's name.
    pub name: String,
    /// Its target.
    pub target: f64,
    /// The metric the target is of.
    pub metric: String,
    /// Per schedule run on it: the median time to its target (infinite when missed).
    pub times: Vec<(String, f64)>,
}

/// The schedules scored across workloads (AlgoPerf's scoring, module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossWorkload {
    /// What counts as time.
    pub unit: TimeUnit,
    /// The schedules scored: those run on every workload, in the first workload's order.
    pub schedules: Vec<String>,
    /// Schedules left out, with why (not run on some workload).
    pub left_out: Vec<(String, String)>,
    /// The workloads, with their targets.
    pub workloads: Vec<WorkloadTimes>,
    /// `times[s][w]`: schedule `s`'s median time to workload `w`'s target.
    pub times: Vec<Vec<f64>>,
    /// `times` over the fastest on each workload ([`performance_ratios`]).
    pub ratios: Vec<Vec<f64>>,
    /// Per schedule: the exact area under `rho` from 1 to [`R_MAX`], over `R_MAX - 1`
    /// ([`integrated_score`]).
    pub scores: Vec<f64>,
    /// Per schedule: AlgoPerf's own number, the trapezoid over [`PROFILE_POINTS`] points
    /// ([`integrated_score_grid`]); within 0.006 of `scores`.
    pub scores_grid: Vec<f64>,
    /// The schedule the speed-up is against.
    pub baseline: usize,
    /// Per schedule: how many times faster than the baseline, as a geometric mean over
    /// the workloads both reached ([`geometric_mean_speedup`]); NaN when none.
    pub speedups: Vec<f64>,
    /// Per schedule: the workloads both it and the baseline reached.
    pub speedup_over: Vec<usize>,
}

impl CrossWorkload {
    /// Scores the schedules over `workloads`; `baseline` names the schedule speed-ups are
    /// against (default: the first scored). Schedules not run on every workload are left
    /// out with a reason (a `--command` workload runs no optimizer baseline unless it
    /// honours `LRSCHED_OPTIMIZER`): a workload never run is not a target missed.
    ///
    /// ```
    /// use lrsched_tools::compare::workloads::{CrossWorkload, TimeUnit, WorkloadTimes};
    /// let inf = f64::INFINITY;
    /// let w = |name: &str, a: f64, b: f64| WorkloadTimes {
    ///     name: name.into(), target: 0.9, metric: "val_acc".into(),
    ///     times: vec![("a".into(), a), ("b".into(), b)],
    /// };
    /// let c = CrossWorkload::score(vec![w("x", 2.0, 4.0), w("y", 3.0, inf)], None, TimeUnit::Epochs).unwrap();
    /// assert_eq!(c.ratios, vec![vec![1.0, 1.0], vec![2.0, inf]]);
    /// assert_eq!(c.scores, vec![1.0, (4.0 - 2.0) / 3.0 / 2.0]);
    /// assert_eq!(c.speedups[1], 0.5); // b takes twice as long where both reached
    /// ```
    pub fn score(
        workloads: Vec<WorkloadTimes>,
        baseline: Option<&str>,
        unit: TimeUnit,
    ) -> Result<CrossWorkload, String> {
        let first = workloads
            .first()
            .ok_or_else(|| "no workloads to score".to_string())?;
        let mut schedules = Vec::new();
        let mut left_out = Vec::new();
        let mut all: Vec<String> = Vec::new();
        for w in &workloads {
            for (s, _) in &w.times {
                if !all.contains(s) {
                    all.push(s.clone());
                }
            }
        }
        for s in all {
            let missing: Vec<&str> = workloads
                .iter()
                .filter(|w| !w.times.iter().any(|(n, _)| *n == s))
                .map(|w| w.name.as_str())
                .collect();
            if missing.is_empty() {
                schedules.push(s);
            } else {
                left_out.push((s, format!("not run on {}", missing.join(", "))));
            }
        }
        // The first workload's order (its ranking), which every scored schedule is in.
        let pos = |s: &String| first.times.iter().position(|(n, _)| n == s);
        schedules.sort_by_key(pos);
        if schedules.is_empty() {
            return Err("no schedule ran on every workload: nothing to score across them".into());
        }
        let times: Vec<Vec<f64>> = schedules
            .iter()
            .map(|s| {
                workloads
                    .iter()
                    .map(|w| {
                        w.times
                            .iter()
                            .find(|(n, _)| n == s)
                            .map_or(f64::INFINITY, |(_, t)| *t)
                    })
                    .collect()
            })
            .collect();
        let baseline = match baseline {
            None => 0,
            Some(b) => schedules.iter().position(|s| s == b).ok_or_else(|| {
                let why = left_out
                    .iter()
                    .find(|(s, _)| s == b)
                    .map(|(_, why)| format!(" (it was {why})"))
                    .unwrap_or_default();
                format!(
                    "baseline = \"{b}\" is not a schedule scored on every workload{why}: choose one of {}",
                    schedules.join(", ")
                )
            })?,
        };
        let ratios = performance_ratios(&times);
        let scores = ratios.iter().map(|r| integrated_score(r, R_MAX)).collect();
        let scores_grid = ratios
            .iter()
            .map(|r| integrated_score_grid(r, R_MAX, PROFILE_POINTS))
            .collect();
        let speedups = times
            .iter()
            .map(|t| geometric_mean_speedup(&times[baseline], t))
            .collect();
        let speedup_over = times
            .iter()
            .map(|t| {
                t.iter()
                    .zip(&times[baseline])
                    .filter(|(a, b)| a.is_finite() && b.is_finite() && **a > 0.0 && **b > 0.0)
                    .count()
            })
            .collect();
        Ok(CrossWorkload {
            unit,
            schedules,
            left_out,
            workloads,
            times,
            ratios,
            scores,
            scores_grid,
            baseline,
            speedups,
            speedup_over,
        })
    }

    /// The schedules best first: by integrated score, then speed-up, then name.
    pub fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.schedules.len()).collect();
        let key = |x: f64| if x.is_nan() { f64::NEG_INFINITY } else { x };
        order.sort_by(|&a, &b| {
            key(self.scores[b])
                .total_cmp(&key(self.scores[a]))
                .then(key(self.speedups[b]).total_cmp(&key(self.speedups[a])))
                .then(self.schedules[a].cmp(&self.schedules[b]))
        });
        order
    }

    /// `tau` at the [`PROFILE_POINTS`] points from 1 to [`R_MAX`] (`np.linspace`).
    pub fn taus() -> Vec<f64> {
        (0..PROFILE_POINTS)
            .map(|k| linspace_point(1.0, R_MAX, PROFILE_POINTS, k))
            .collect()
    }

    /// Schedule `s`'s profile as a step function from `tau = 1` to [`R_MAX`]: a point
    /// where it starts and two at each jump (before and after), for a chart.
    ///
    /// ```
    /// use lrsched_tools::compare::workloads::{CrossWorkload, TimeUnit, WorkloadTimes};
    /// let w = |name: &str, a: f64, b: f64| WorkloadTimes {
    ///     name: name.into(), target: 0.9, metric: "val_acc".into(),
    ///     times: vec![("a".into(), a), ("b".into(), b)],
    /// };
    /// let c = CrossWorkload::score(vec![w("x", 2.0, 4.0), w("y", 3.0, 3.0)], None, TimeUnit::Epochs).unwrap();
    /// assert_eq!(c.steps(1), vec![(1.0, 0.5), (2.0, 0.5), (2.0, 1.0), (4.0, 1.0)]);
    /// ```
    pub fn steps(&self, s: usize) -> Vec<(f64, f64)> {
        let r = &self.ratios[s];
        let mut jumps: Vec<f64> = r
            .iter()
            .copied()
            .filter(|&x| x > 1.0 && x <= R_MAX)
            .collect();
        jumps.sort_by(f64::total_cmp);
        jumps.dedup();
        let mut points = vec![(1.0, performance_profile(r, 1.0))];
        for x in jumps {
            let before = points.last().map_or(0.0, |p| p.1);
            points.push((x, before));
            points.push((x, performance_profile(r, x)));
        }
        let end = points.last().map_or(0.0, |p| p.1);
        points.push((R_MAX, end));
        points
    }

    /// `workloads.json` (docs/workloads.md): the unit, the workloads and their targets,
    /// and per schedule (best first) its times, ratios, sampled profile, scores and
    /// speed-up. Infinite or unknown numbers are `null`.
    pub fn to_json(&self) -> Value {
        let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
        let taus = Self::taus();
        let schedules: Vec<Value> = self
            .order()
            .into_iter()
            .map(|s| {
                let per = |v: &[f64]| -> Map<String, Value> {
                    self.workloads
                        .iter()
                        .zip(v)
                        .map(|(w, x)| (w.name.clone(), num(*x)))
                        .collect()
                };
                json!({
                    "name": self.schedules[s],
                    "time_to_target": per(&self.times[s]),
                    "ratio": per(&self.ratios[s]),
                    "score": num(self.scores[s]),
                    "score_trapezoid": num(self.scores_grid[s]),
                    "speedup_vs_baseline": num(self.speedups[s]),
                    "speedup_workloads": self.speedup_over[s],
                    "rho": taus.iter().map(|&t| performance_profile(&self.ratios[s], t)).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "time": self.unit.word(),
            "r_max": R_MAX,
            "baseline": self.schedules[self.baseline],
            "workloads": self.workloads.iter().map(|w| json!({
                "name": w.name, "metric": w.metric, "target": num(w.target),
            })).collect::<Vec<_>>(),
            "tau": taus,
            "schedules": schedules,
            "left_out": self.left_out.iter().map(|(s, why)| json!({"name": s, "why": why})).collect::<Vec<_>>(),
        })
    }

    /// The report's sections: what the score means with the ranking's top, the profile
    /// chart (one step line per schedule, `tau` from 1 to 4) and the table.
    pub fn sections(&self) -> Result<Section, String> {
        let order = self.order();
        let unit = self.unit.word();
        let mut chart = Chart::new(
            format!("Performance profiles ({unit} to each workload's target)"),
            "tau (time over the fastest schedule's)",
            "share of workloads within tau",
        );
        for (k, &s) in order.iter().enumerate() {
            chart = chart.with_series(
                Series::new(
                    format!("{} ({:.3})", self.schedules[s], self.scores[s]),
                    self.steps(s),
                )
                .with_color(k),
            );
        }
        let svg = render_svg(&chart).map_err(|e| e.to_string())?;
        let mut header = vec!["schedule".to_string(), "score".to_string()];
        header.push(format!("speed-up vs {}", self.schedules[self.baseline]));
        for w in &self.workloads {
            header.push(format!("{} ({unit} to {})", w.name, w.target));
        }
        let show = |x: f64| {
            if x.is_finite() {
                format!("{}", (x * 1000.0).round() / 1000.0)
            } else {
                "missed".to_string()
            }
        };
        let rows = order
            .iter()
            .map(|&s| {
                let mut row = vec![
                    self.schedules[s].clone(),
                    format!("{:.3}", self.scores[s]),
                    if self.speedups[s].is_nan() {
                        "-".to_string()
                    } else {
                        format!(
                            "{:.2}x over {} workload{}",
                            self.speedups[s],
                            self.speedup_over[s],
                            if self.speedup_over[s] == 1 { "" } else { "s" }
                        )
                    },
                ];
                for (t, r) in self.times[s].iter().zip(&self.ratios[s]) {
                    row.push(if t.is_finite() {
                        format!("{} (x{})", show(*t), show(*r))
                    } else {
                        "missed".into()
                    });
                }
                row
            })
            .collect();
        let best = order[0];
        let mut text = vec![format!(
            "{} schedules over {} workloads, time in {unit}: each workload's time is the median over its seeds (a seed that failed or missed the target counts as never reaching it), divided by the fastest schedule's on that workload. rho(tau) is the share of workloads a schedule reaches within tau times the fastest; the score is the area under rho from 1 to {R_MAX} over {} (AlgoPerf's): 1 is fastest everywhere, 0 never within {R_MAX}x.",
            self.schedules.len(),
            self.workloads.len(),
            R_MAX - 1.0
        )];
        text.push(format!(
            "Highest score: {} ({:.3}). Speed-ups are geometric means over the workloads both schedules reached, against {}.",
            self.schedules[best], self.scores[best], self.schedules[self.baseline]
        ));
        for (s, why) in &self.left_out {
            text.push(format!("{s} is not scored: {why}."));
        }
        Ok(Section {
            heading: "Across workloads".into(),
            text,
            svgs: vec![svg],
            table: Some(Table { header, rows }),
        })
    }
}
