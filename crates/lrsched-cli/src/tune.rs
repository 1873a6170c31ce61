//! `lrsched tune`: search a schedule's hyper-parameters.
//!
//! The search space is a TOML file: a schedule template with `{placeholders}` and one
//! `[params]` entry per placeholder (a range, a log range or a list of choices). A strategy
//! (grid, random, or successive halving) turns it into trials; each trial is its concrete
//! schedule, the train flags and its epochs, keyed by the first 16 hex digits of the
//! SHA-256 of that (canonical JSON). Trials run as separate processes
//! (`lrsched tune --run-trial KEY --out DIR`), which read `trials/KEY/trial.json` and write
//! `trials/KEY/result.json` atomically: a killed search leaves only whole results, and a
//! rerun with the same `--out` skips every trial that has one. The same command lines can
//! be handed to a cluster's scheduler (`--print-trials`).

use crate::report::{self, Section, Table};
use crate::train::{self, TrainArgs};
use crate::UserError;
use clap::{Args, FromArgMatches};
use indicatif::{ProgressBar, ProgressStyle};
use lrsched_report::{render_png, render_svg, Chart, Marker, Series};
use lrsched_train::checkpoint::write_bytes_atomic;
use lrsched_train::trainer::{train as run_training, Outcome, Quiet};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The search-space format, shown in `--help`.
pub const SPACE_HELP: &str = "Search space (--space FILE, TOML):
  schedule = \"warmup(steps={warmup}, schedule=cosine(lr={lr}, steps=100%, min_lr={min_lr}))\"
  [params]
  lr = { log_range = [1e-3, 1.0] }          # log-uniform; grid points spaced evenly in log
  warmup = { range = [0, 200], int = true } # uniform; int = true rounds to whole numbers
  min_lr = { choice = [0.0, 1e-4] }         # any values, strings too (spliced in verbatim)
`schedule` is a one-line schedule with {name} placeholders, or a config table whose
values may be \"{name}\" (replaced by the value itself), e.g.
  schedule = { type = \"cosine\", lr = \"{lr}\", steps = \"100%\" }
Every placeholder needs a [params] entry and every entry a placeholder. The base rate is
the schedule's own `lr` (or `max_lr`, ...): put a placeholder there.";

/// `lrsched tune`'s flags; every `lrsched train` flag works as it does there.
#[derive(Args, Debug, Clone)]
pub struct TuneArgs {
    /// The search space (TOML; format below).
    #[arg(long, required_unless_present = "run_trial")]
    pub space: Option<PathBuf>,
    /// grid, random or asha (successive halving: weak trials stop at short runs).
    #[arg(long, default_value = "random")]
    pub strategy: String,
    /// Values per range for --strategy grid (choices always give all of theirs).
    #[arg(long, default_value_t = 3)]
    pub grid_points: usize,
    /// Configurations for --strategy random and asha.
    #[arg(long, default_value_t = 9)]
    pub trials: usize,
    /// Seed of the random sampling (default: --seed).
    #[arg(long)]
    pub search_seed: Option<u64>,
    /// asha: keep the best 1/eta of each rung for the next.
    #[arg(long, default_value_t = 3)]
    pub eta: u64,
    /// asha: epochs of the first rung; rungs grow by eta up to --epochs.
    #[arg(long, default_value_t = 1)]
    pub min_epochs: u64,
    /// What a trial is scored by: val_acc (higher is better) or val_loss (lower is better).
    #[arg(long, default_value = "val_acc")]
    pub metric: String,
    /// Score by the metric at the last epoch (final) or its best epoch (best).
    #[arg(long, default_value = "final")]
    pub score: String,
    /// Trials run at once, each a process training on one thread (default: the cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output folder (default runs/tune-<timestamp>/); rerun with the same one to resume.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one command line per pending trial and exit (for a cluster's job scheduler).
    #[arg(long)]
    pub print_trials: bool,
    /// Run the one trial in --out DIR/trials/KEY/trial.json (what tune itself spawns).
    #[arg(long, value_name = "KEY", requires = "out")]
    pub run_trial: Option<String>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `lrsched tune`.
pub fn run(a: &TuneArgs) -> Result<(), UserError> {
    if let Some(key) = &a.run_trial {
        return run_trial(key, a.out.as_deref().expect("clap requires --out"));
    }
    let o = Options::check(a)?;
    let space_path = a.space.as_deref().expect("clap requires --space");
    let space = Space::read(space_path)?;
    let train_args = train_flags(a)?;
    // Fails on bad data flags before any folder is made; --download happens here, once.
    let (data_name, split) = train::load_data(&a.train)?;
    let dir = report::out_dir("tune", a.out.as_deref())?;
    std::fs::create_dir_all(dir.join("trials"))
        .map_err(|e| UserError(format!("cannot create {}/trials: {e}", dir.display())))?;

    let configs = match o.strategy {
        Strategy::Grid => space.grid(a.grid_points)?,
        Strategy::Random | Strategy::Asha => space.sample(a.trials, o.seed),
    };
    let rungs = match o.strategy {
        Strategy::Asha => rungs(a.min_epochs, a.train.epochs, a.eta)?,
        _ => vec![a.train.epochs],
    };
    let mut current = configs;
    let mut all: Vec<Row> = Vec::new();
    let mut printed = false;
    for (ri, &epochs) in rungs.iter().enumerate() {
        let mut trials = Vec::new();
        for params in &current {
            trials.push(space.trial(params, epochs, &train_args)?);
        }
        let mut rows: Vec<Row> = Vec::new();
        let mut pending = Vec::new();
        for t in &trials {
            let tdir = dir.join("trials").join(&t.key);
            // A schedule that cannot be built (warmup longer than the run...) is a result,
            // not a reason to stop the others; it is not written, so nothing is ever cached
            // for it.
            if let Err(e) = trial_args(&t.spec)
                .and_then(|ta| train::build_config(&ta, data_name.clone(), &split).map(|_| ()))
            {
                rows.push(Row::invalid(t, &e.0));
                continue;
            }
            std::fs::create_dir_all(&tdir)
                .map_err(|e| UserError(format!("cannot create {}: {e}", tdir.display())))?;
            let spec_path = tdir.join("trial.json");
            let text = serde_json::to_string_pretty(&t.spec).expect("JSON values serialise");
            if std::fs::read_to_string(&spec_path).ok().as_deref() != Some(text.as_str()) {
                write_bytes_atomic(&spec_path, text.as_bytes())
                    .map_err(|e| UserError(e.to_string()))?;
            }
            if !tdir.join("result.json").exists() {
                pending.push(t.key.clone());
            }
        }
        if rows.len() == trials.len() {
            return Err(UserError(format!(
                "every trial's schedule is invalid, e.g. `{}`: {}",
                trials[0].line,
                rows[0].message.as_deref().unwrap_or("")
            )));
        }
        if a.print_trials {
            if !pending.is_empty() {
                print_commands(&dir, &pending)?;
                if ri + 1 < rungs.len() {
                    eprintln!(
                        "note: these are rung {} of {} ({epochs} epochs); the next rungs depend on their results: run --print-trials again once they finish",
                        ri + 1,
                        rungs.len()
                    );
                }
                printed = true;
                break;
            }
        } else if !pending.is_empty() {
            run_pending(&dir, &pending, o.jobs, a.train.quiet, epochs)?;
        }
        for t in &trials {
            if rows.iter().any(|r| r.key == t.key) {
                continue;
            }
            rows.push(Row::read(t, &dir.join("trials").join(&t.key), &o));
        }
        rows.sort_by(|x, y| o.order(x, y));
        if ri + 1 < rungs.len() {
            let keep = (rows.len() / a.eta as usize).max(1);
            current = rows
                .iter()
                .filter(|r| r.score.is_some())
                .take(keep)
                .map(|r| r.params.clone())
                .collect();
        }
        all.extend(rows);
        if current.is_empty() {
            break;
        }
    }
    if a.print_trials {
        if !printed {
            eprintln!("every trial has a result: nothing to run");
        }
        return Ok(());
    }
    all.sort_by(|x, y| y.epochs.cmp(&x.epochs).then(o.order(x, y)));
    finish(a, &o, &space, &dir, &all)
}

/// Checked, derived options.
struct Options {
    strategy: Strategy,
    maximize: bool,
    metric: &'static str,
    best: bool,
    seed: u64,
    jobs: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    Grid,
    Random,
    Asha,
}

impl Options {
    fn check(a: &TuneArgs) -> Result<Options, UserError> {
        let strategy = match a.strategy.as_str() {
            "grid" => Strategy::Grid,
            "random" => Strategy::Random,
            "asha" | "sha" | "successive-halving" => Strategy::Asha,
            s => {
                return Err(UserError(format!(
                    "--strategy `{s}` is unknown: must be grid, random or asha"
                )))
            }
        };
        let (metric, maximize) = match a.metric.as_str() {
            "val_acc" => ("val_acc", true),
            "val_loss" => ("val_loss", false),
            m => {
                return Err(UserError(format!(
                    "--metric `{m}` is unknown: must be val_acc or val_loss"
                )))
            }
        };
        let best = match a.score.as_str() {
            "final" => false,
            "best" => true,
            s => {
                return Err(UserError(format!(
                    "--score `{s}` is unknown: must be final or best"
                )))
            }
        };
        if strategy == Strategy::Grid && a.grid_points == 0 {
            return Err(UserError(
                "--grid-points 0 is not allowed: must be at least 1".into(),
            ));
        }
        if strategy != Strategy::Grid && a.trials == 0 {
            return Err(UserError(
                "--trials 0 is not allowed: must be at least 1".into(),
            ));
        }
        if a.jobs == Some(0) {
            return Err(UserError(
                "--jobs 0 is not allowed: must be at least 1".into(),
            ));
        }
        if a.train.epochs == 0 {
            return Err(UserError(
                "--epochs 0 is not allowed: must be at least 1".into(),
            ));
        }
        let jobs = a
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Ok(Options {
            strategy,
            maximize,
            metric,
            best,
            seed: a.search_seed.unwrap_or(a.train.seed),
            jobs,
        })
    }

    /// Better scores first; trials with no score (diverged, invalid) last; then by key so
    /// the order never depends on the order trials finished in.
    fn order(&self, x: &Row, y: &Row) -> std::cmp::Ordering {
        let k = |r: &Row| match r.score {
            Some(s) if self.maximize => -s,
            Some(s) => s,
            None => f64::INFINITY,
        };
        k(x).total_cmp(&k(y)).then_with(|| x.key.cmp(&y.key))
    }

    fn score_of(&self, result: &Value) -> Option<f64> {
        if result["outcome"] != "completed" && result["outcome"] != "early_stopped" {
            return None;
        }
        let field = format!(
            "{}_{}",
            if self.best { "best" } else { "final" },
            self.metric
        );
        result[&field].as_f64().filter(|s| s.is_finite())
    }
}

/// The epochs of each successive-halving rung: min, min*eta, ... and last the full run.
fn rungs(min: u64, max: u64, eta: u64) -> Result<Vec<u64>, UserError> {
    if eta < 2 {
        return Err(UserError(format!(
            "--eta {eta} is not allowed: must be at least 2"
        )));
    }
    if min == 0 || min > max {
        return Err(UserError(format!(
            "--min-epochs {min} is not allowed: must be between 1 and --epochs ({max})"
        )));
    }
    let mut r = vec![min];
    while *r.last().unwrap() < max {
        let next = r.last().unwrap().saturating_mul(eta).min(max);
        r.push(next);
    }
    Ok(r)
}

/// The train flags given on the command line, as flags again: what every trial's process
/// is started with, and part of each trial's key.
fn train_flags(a: &TuneArgs) -> Result<Vec<String>, UserError> {
    const OWN: [&str; 2] = ["schedule", "schedule_config"];
    const PER_TRIAL: [&str; 5] = [
        "metrics_out",
        "checkpoint_dir",
        "resume",
        "keep_checkpoints",
        "early_stop_patience",
    ];
    // Dropped: tune sets them per trial, or they act once in this process (--download).
    const SKIP: [&str; 5] = ["epochs", "threads", "quiet", "download", "download_url"];
    let argv: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .skip_while(|s| s != "tune")
        .skip(1)
        .collect();
    let cmd = TuneArgs::augment_args(clap::Command::new("tune").no_binary_name(true));
    let m = cmd
        .try_get_matches_from(argv)
        .map_err(|e| UserError(e.to_string().lines().next().unwrap_or("").into()))?;
    let mut out = Vec::new();
    let train_cmd = TrainArgs::augment_args(clap::Command::new("train"));
    for arg in train_cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        let long = format!("--{}", arg.get_long().unwrap_or(id));
        if OWN.contains(&id) {
            return Err(UserError(format!(
                "{long} is not allowed: tune takes the schedule from --space"
            )));
        }
        if PER_TRIAL.contains(&id) && id != "early_stop_patience" {
            return Err(UserError(format!(
                "{long} is not allowed with tune: each trial writes its own result"
            )));
        }
        if SKIP.contains(&id) {
            continue;
        }
        if arg.get_action().takes_values() {
            for v in m.get_raw(id).into_iter().flatten() {
                let mut v = v.to_string_lossy().into_owned();
                // Trials may run from another folder (a cluster node): make paths absolute.
                if matches!(id, "data_dir" | "data_path") {
                    if let Ok(p) = std::fs::canonicalize(&v) {
                        v = p.display().to_string();
                    }
                }
                out.push(long.clone());
                out.push(v);
            }
        } else {
            out.push(long);
        }
    }
    out.push("--threads".into());
    out.push(a.train.threads.unwrap_or(1).max(1).to_string());
    Ok(out)
}

/// One parameter's values.
#[derive(Debug, Clone)]
enum Param {
    Range {
        lo: f64,
        hi: f64,
        log: bool,
        int: bool,
    },
    Choice(Vec<Value>),
}

/// How the trials' schedules are written.
#[derive(Debug, Clone)]
enum Template {
    /// A one-line form with `{name}` spliced in as text.
    Line(String),
    /// A config object whose strings may hold `{name}`.
    Config(Value),
}

/// A parsed search space.
#[derive(Debug, Clone)]
struct Space {
    template: Template,
    params: Vec<(String, Param)>,
}

/// One concrete trial.
struct Trial {
    key: String,
    line: String,
    spec: Value,
}

impl Space {
    fn read(path: &Path) -> Result<Space, UserError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UserError(format!("cannot read --space {}: {e}", path.display())))?;
        Space::parse(&text).map_err(|e| UserError(format!("{}: {}", path.display(), e.0)))
    }

    fn parse(text: &str) -> Result<Space, UserError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            });
            UserError(format!(
                "line {line}: {}",
                e.message().trim().replace('\n', ": ")
            ))
        })?;
        let mut template = None;
        let mut params = Vec::new();
        for (k, v) in &table {
            match (k.as_str(), v) {
                ("schedule", toml::Value::String(s)) => template = Some(Template::Line(s.clone())),
                ("schedule", toml::Value::Table(_)) => {
                    template = Some(Template::Config(to_json(v)))
                }
                ("schedule", _) => {
                    return Err(UserError(
                        "`schedule` must be a one-line schedule (a string) or a config table"
                            .into(),
                    ))
                }
                ("params", toml::Value::Table(t)) => {
                    for (name, spec) in t {
                        params.push((name.clone(), Param::parse(name, spec)?));
                    }
                }
                ("params", _) => return Err(UserError("`params` must be a table".into())),
                (other, _) => {
                    return Err(UserError(format!(
                        "unknown key `{other}`: a search space has `schedule` and `[params]`"
                    )))
                }
            }
        }
        let template = template.ok_or_else(|| {
            UserError("no `schedule`: give a one-line template, e.g. schedule = \"cosine(lr={lr}, steps=100%)\"".into())
        })?;
        if params.is_empty() {
            return Err(UserError(
                "no [params]: give at least one, e.g. lr = { log_range = [1e-3, 1.0] }".into(),
            ));
        }
        let mut used = BTreeSet::new();
        match &template {
            Template::Line(s) => placeholders(s, &mut used)?,
            Template::Config(v) => walk_strings(v, &mut |s| placeholders(s, &mut used))?,
        }
        for name in &used {
            if !params.iter().any(|(n, _)| n == name) {
                return Err(UserError(format!(
                    "placeholder {{{name}}} has no entry in [params]"
                )));
            }
        }
        for (name, _) in &params {
            if !used.contains(name) {
                return Err(UserError(format!(
                    "param `{name}` is not used: the schedule has no {{{name}}} placeholder"
                )));
            }
        }
        Ok(Space { template, params })
    }

    /// Every combination: ranges at `points` values, choices at all of theirs.
    fn grid(&self, points: usize) -> Result<Vec<Map<String, Value>>, UserError> {
        let mut out = vec![Map::new()];
        for (name, p) in &self.params {
            let values = p.grid(points);
            if out.len().saturating_mul(values.len()) > 100_000 {
                return Err(UserError(format!(
                    "the grid has more than 100000 points: lower --grid-points ({points})"
                )));
            }
            out = out
                .into_iter()
                .flat_map(|m| {
                    values.iter().map(move |v| {
                        let mut m = m.clone();
                        m.insert(name.clone(), v.clone());
                        m
                    })
                })
                .collect();
        }
        Ok(out)
    }

    /// `n` samples (fewer when the space has fewer distinct points).
    fn sample(&self, n: usize, seed: u64) -> Vec<Map<String, Value>> {
        let mut rng = lrsched_train::data::Rng::new(seed ^ 0x5EED_7E57_0000_0000);
        let mut out: Vec<Map<String, Value>> = Vec::new();
        // Duplicates are dropped; the bound stops a tiny space from looping forever.
        for _ in 0..n.saturating_mul(20) {
            if out.len() == n {
                break;
            }
            let m: Map<String, Value> = self
                .params
                .iter()
                .map(|(name, p)| (name.clone(), p.sample(&mut rng)))
                .collect();
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// The trial for one assignment of values at `epochs`.
    fn trial(
        &self,
        params: &Map<String, Value>,
        epochs: u64,
        train_args: &[String],
    ) -> Result<Trial, UserError> {
        let schedule = match &self.template {
            Template::Line(s) => {
                let text = substitute(s, params);
                lrsched::oneline::parse_value(&text)
                    .map_err(|e| UserError(format!("schedule `{text}`: {e}")))?
            }
            Template::Config(v) => substitute_value(v, params),
        };
        let line = lrsched::oneline::print_value(&schedule);
        let keyed = json!({"schedule": schedule, "train_args": train_args, "epochs": epochs});
        let digest = Sha256::digest(canonical(&keyed).as_bytes());
        let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let spec = json!({
            "key": key,
            "params": params,
            "schedule": schedule,
            "schedule_line": line,
            "epochs": epochs,
            "train_args": train_args,
        });
        Ok(Trial { key, line, spec })
    }
}

impl Param {
    fn parse(name: &str, spec: &toml::Value) -> Result<Param, UserError> {
        let err = |m: String| UserError(format!("param `{name}`: {m}"));
        let t = spec.as_table().ok_or_else(|| {
            err("must be a table: { range = [lo, hi] }, { log_range = [lo, hi] } or { choice = [...] }".into())
        })?;
        let mut kind = None;
        let mut int = false;
        for (k, v) in t {
            match k.as_str() {
                "range" | "log_range" | "choice" if kind.is_some() => {
                    return Err(err("give one of range, log_range and choice".into()))
                }
                "range" | "log_range" | "choice" => kind = Some((k.as_str(), v)),
                "int" => {
                    int = v
                        .as_bool()
                        .ok_or_else(|| err("`int` must be true or false".into()))?
                }
                other => {
                    return Err(err(format!(
                        "unknown key `{other}`: use range, log_range, choice, int"
                    )))
                }
            }
        }
        let (kind, v) = kind.ok_or_else(|| {
            err("give range = [lo, hi], log_range = [lo, hi] or choice = [...]".into())
        })?;
        let list = v
            .as_array()
            .ok_or_else(|| err(format!("`{kind}` must be a list")))?;
        if kind == "choice" {
            if list.is_empty() {
                return Err(err("`choice` is empty: give at least one value".into()));
            }
            return Ok(Param::Choice(list.iter().map(to_json).collect()));
        }
        let nums: Vec<f64> = list
            .iter()
            .map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
            .collect::<Option<_>>()
            .filter(|n: &Vec<f64>| n.len() == 2 && n.iter().all(|x| x.is_finite()))
            .ok_or_else(|| err(format!("`{kind}` must be two finite numbers [lo, hi]")))?;
        let (lo, hi) = (nums[0], nums[1]);
        if lo >= hi {
            return Err(err(format!(
                "{kind} [{lo}, {hi}] is {}: lo must be below hi (a single value is choice = [{lo}])",
                if lo > hi { "inverted" } else { "empty" }
            )));
        }
        let log = kind == "log_range";
        if log && lo <= 0.0 {
            return Err(err(format!(
                "log_range [{lo}, {hi}] must be above zero (use range for 0)"
            )));
        }
        if int && lo.ceil() > hi.floor() {
            return Err(err(format!(
                "{kind} [{lo}, {hi}] holds no whole number, as int = true needs"
            )));
        }
        Ok(Param::Range { lo, hi, log, int })
    }

    fn grid(&self, points: usize) -> Vec<Value> {
        match self {
            Param::Choice(c) => c.clone(),
            &Param::Range { lo, hi, log, int } => {
                let mut out: Vec<Value> = Vec::new();
                for i in 0..points {
                    let f = if points == 1 {
                        0.5
                    } else {
                        i as f64 / (points - 1) as f64
                    };
                    let x = if log {
                        (lo.ln() + f * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + f * (hi - lo)
                    };
                    let v = number(x, lo, hi, int);
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                out
            }
        }
    }

    fn sample(&self, rng: &mut lrsched_train::data::Rng) -> Value {
        match self {
            Param::Choice(c) => c[(rng.next_u64() % c.len() as u64) as usize].clone(),
            &Param::Range { lo, hi, log, int } => {
                let u = rng.next_f64();
                let x = match (log, int) {
                    (false, true) => {
                        // Every whole number equally likely, the ends included.
                        let (a, b) = (lo.ceil(), hi.floor());
                        a + (u * (b - a + 1.0)).floor().min(b - a)
                    }
                    (true, _) => (lo.ln() + u * (hi.ln() - lo.ln())).exp(),
                    (false, false) => lo + u * (hi - lo),
                };
                number(x, lo, hi, int)
            }
        }
    }

    fn is_log(&self) -> bool {
        matches!(self, Param::Range { log: true, .. })
    }
}

/// A value as a trial gets it: a whole number, or 4 significant digits (so tables, keys
/// and schedules read `0.0123`, not `0.012345678901234`), kept inside [lo, hi].
fn number(x: f64, lo: f64, hi: f64, int: bool) -> Value {
    if int {
        let r = x.round().clamp(lo.ceil(), hi.floor());
        return json!(r as i64);
    }
    let r: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    json!(r.clamp(lo, hi))
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Collects the `{name}`s of `s`.
fn placeholders(s: &str, used: &mut BTreeSet<String>) -> Result<(), UserError> {
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| UserError(format!("unclosed placeholder in `{s}`")))?;
        let name = &after[..end];
        let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(UserError(format!(
                "placeholder {{{name}}} in `{s}` is not a name (letters, digits, _)"
            )));
        }
        used.insert(name.to_string());
        rest = &after[end + 1..];
    }
    Ok(())
}

fn walk_strings(
    v: &Value,
    f: &mut dyn FnMut(&str) -> Result<(), UserError>,
) -> Result<(), UserError> {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().try_for_each(|x| walk_strings(x, f)),
        Value::Object(m) => m.values().try_for_each(|x| walk_strings(x, f)),
        _ => Ok(()),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn substitute(s: &str, params: &Map<String, Value>) -> String {
    let mut out = s.to_string();
    for (name, v) in params {
        out = out.replace(&format!("{{{name}}}"), &text_of(v));
    }
    out
}

fn substitute_value(v: &Value, params: &Map<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            let whole = s
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|n| params.get(n));
            match whole {
                Some(x) => x.clone(),
                None => Value::String(substitute(s, params)),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_value(x, params)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute_value(x, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// JSON with object keys sorted at every level and no spaces: the same bytes for the same
/// trial whatever order its keys were built in.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The `train` flags of one trial.
fn trial_args(spec: &Value) -> Result<TrainArgs, UserError> {
    let mut argv: Vec<String> = spec["train_args"]
        .as_array()
        .map(|a| a.iter().map(text_of).collect())
        .unwrap_or_default();
    argv.extend([
        "--epochs".into(),
        spec["epochs"].to_string(),
        "--quiet".into(),
        "--schedule".into(),
        spec["schedule_line"].as_str().unwrap_or("").into(),
    ]);
    let cmd = TrainArgs::augment_args(clap::Command::new("trial").no_binary_name(true));
    let m = cmd
        .try_get_matches_from(argv)
        .map_err(|e| UserError(e.to_string().lines().next().unwrap_or("").into()))?;
    TrainArgs::from_arg_matches(&m).map_err(|e| UserError(e.to_string()))
}

/// `lrsched tune --run-trial KEY --out DIR`: trains one trial and writes its result.
fn run_trial(key: &str, dir: &Path) -> Result<(), UserError> {
    // The key names a folder: anything but the 16 hex digits tune makes could escape it.
    if key.len() != 16 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UserError(format!(
            "--run-trial `{key}` is not a trial key (16 hex digits, as --print-trials prints)"
        )));
    }
    let tdir = dir.join("trials").join(key);
    let result_path = tdir.join("result.json");
    if result_path.exists() {
        eprintln!("trial {key} already has {}", result_path.display());
        return Ok(());
    }
    let spec_path = tdir.join("trial.json");
    let text = std::fs::read_to_string(&spec_path)
        .map_err(|e| UserError(format!("cannot read {}: {e}", spec_path.display())))?;
    let spec: Value = serde_json::from_str(&text)
        .map_err(|e| UserError(format!("{}: {e}", spec_path.display())))?;
    let ta = trial_args(&spec)?;
    let (name, split) = train::load_data(&ta)?;
    let mut result = json!({
        "key": key,
        "params": spec["params"],
        "schedule": spec["schedule_line"],
        "epochs": spec["epochs"],
    });
    let fields = match train::build_config(&ta, name, &split)
        .and_then(|c| run_training(&c, &split, &mut Quiet).map_err(|e| UserError(e.to_string())))
    {
        Err(e) => json!({"outcome": "failed", "message": e.0}),
        Ok(s) => {
            let accs: Vec<Option<f64>> = s.history.iter().map(|r| r.val_acc).collect();
            let losses: Vec<f64> = s.history.iter().map(|r| r.val_loss).collect();
            let fin = |x: f64| x.is_finite().then_some(x);
            let (outcome, message) = match &s.outcome {
                Outcome::Completed => ("completed", None),
                Outcome::EarlyStopped => ("early_stopped", None),
                Outcome::Stopped => ("stopped", None),
                Outcome::Diverged { epoch, step, what } => (
                    "diverged",
                    Some(format!("diverged at epoch {epoch}, step {step}: {what}")),
                ),
            };
            json!({
                "outcome": outcome,
                "message": message,
                "epochs_run": s.history.len(),
                "final_val_acc": accs.last().copied().flatten(),
                "best_val_acc": s.best_accuracy().map(|b| b.1),
                "final_val_loss": losses.last().copied().and_then(fin),
                "best_val_loss": losses.iter().copied().filter(|x| x.is_finite()).reduce(f64::min),
                "val_acc": accs,
                "val_loss": losses.iter().map(|&x| fin(x)).collect::<Vec<_>>(),
                "seconds": s.seconds,
            })
        }
    };
    if let (Value::Object(r), Value::Object(f)) = (&mut result, fields) {
        r.extend(f);
    }
    let bytes = serde_json::to_vec_pretty(&result).expect("JSON values serialise");
    write_bytes_atomic(&result_path, &bytes).map_err(|e| UserError(e.to_string()))
}

fn print_commands(dir: &Path, keys: &[String]) -> Result<(), UserError> {
    let exe = std::env::current_exe()
        .map_err(|e| UserError(format!("cannot find this program's path: {e}")))?;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for k in keys {
        println!(
            "{} tune --run-trial {k} --out {}",
            report::shell_quote(&exe.display().to_string()),
            report::shell_quote(&dir.display().to_string())
        );
    }
    Ok(())
}

/// Runs the trials `keys` as child processes, `jobs` at a time. A trial whose process
/// fails leaves no result (its log says why) and is tried again by the next rerun.
fn run_pending(
    dir: &Path,
    keys: &[String],
    jobs: usize,
    quiet: bool,
    epochs: u64,
) -> Result<(), UserError> {
    let exe = std::env::current_exe()
        .map_err(|e| UserError(format!("cannot find this program's path: {e}")))?;
    let queue = Mutex::new(keys.iter().cloned().collect::<VecDeque<_>>());
    let failed = Mutex::new(Vec::new());
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(keys.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} trials {msg} ETA {eta}")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epochs} epochs"));
        bar
    });
    let done = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(keys.len()) {
            s.spawn(|| loop {
                let Some(key) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let tdir = dir.join("trials").join(&key);
                let log = std::fs::File::create(tdir.join("log.txt"));
                let mut cmd = Command::new(&exe);
                cmd.args(["tune", "--run-trial", &key, "--out"])
                    .arg(dir)
                    .stdin(Stdio::null());
                match log.and_then(|l| Ok((l.try_clone()?, l))) {
                    Ok((a, b)) => cmd.stdout(a).stderr(b),
                    Err(_) => cmd.stdout(Stdio::null()).stderr(Stdio::null()),
                };
                let ok =
                    cmd.status().is_ok_and(|st| st.success()) && tdir.join("result.json").exists();
                if !ok {
                    failed.lock().unwrap().push(key.clone());
                }
                let n = {
                    let mut d = done.lock().unwrap();
                    *d += 1;
                    *d
                };
                match &bar {
                    Some(b) => {
                        b.set_position(n as u64);
                        b.set_message(format!("(last {key})"));
                    }
                    None if !quiet => eprintln!(
                        "trial {n}/{} {key} ({epochs} epochs) {}",
                        keys.len(),
                        if ok {
                            "done"
                        } else {
                            "FAILED (see its log.txt)"
                        }
                    ),
                    None => {}
                }
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let failed = failed.into_inner().unwrap();
    if let Some(k) = failed.first() {
        eprintln!(
            "warning: {} trial(s) failed to run, e.g. {k}: see {}; rerun to retry them",
            failed.len(),
            dir.join("trials").join(k).join("log.txt").display()
        );
    }
    Ok(())
}

/// One trial's line in the results.
#[derive(Debug, Clone)]
struct Row {
    key: String,
    params: Map<String, Value>,
    line: String,
    epochs: u64,
    outcome: String,
    message: Option<String>,
    score: Option<f64>,
    result: Value,
}

impl Row {
    fn invalid(t: &Trial, message: &str) -> Row {
        Row {
            key: t.key.clone(),
            params: t.spec["params"].as_object().cloned().unwrap_or_default(),
            line: t.line.clone(),
            epochs: t.spec["epochs"].as_u64().unwrap_or(0),
            outcome: "invalid".into(),
            message: Some(message.to_string()),
            score: None,
            result: json!({"outcome": "invalid", "message": message}),
        }
    }

    fn read(t: &Trial, tdir: &Path, o: &Options) -> Row {
        let result: Value = std::fs::read_to_string(tdir.join("result.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| json!({"outcome": "not run", "message": "no result.json (the trial's process failed: see its log.txt)"}));
        Row {
            outcome: result["outcome"].as_str().unwrap_or("?").to_string(),
            message: result["message"].as_str().map(str::to_string),
            score: o.score_of(&result),
            result,
            ..Row::invalid(t, "")
        }
    }
}

fn fmt_score(o: &Options, s: Option<f64>) -> String {
    match s {
        Some(s) if o.metric == "val_acc" => format!("{:.2}%", s * 100.0),
        Some(s) => format!("{s:.4}"),
        None => "-".into(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Table, files, plots and report.
fn finish(
    a: &TuneArgs,
    o: &Options,
    space: &Space,
    dir: &Path,
    rows: &[Row],
) -> Result<(), UserError> {
    let names: Vec<&str> = space.params.iter().map(|(n, _)| n.as_str()).collect();
    let score_name = format!("{} {}", if o.best { "best" } else { "final" }, o.metric);
    let mut header: Vec<String> = vec!["rank".into(), score_name.clone()];
    header.extend(names.iter().map(|n| n.to_string()));
    header.extend(["epochs", "outcome", "seconds", "key"].map(String::from));
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = vec![(i + 1).to_string(), fmt_score(o, r.score)];
            row.extend(
                names
                    .iter()
                    .map(|n| r.params.get(*n).map_or("".into(), text_of)),
            );
            row.push(r.epochs.to_string());
            row.push(r.outcome.clone());
            row.push(
                r.result["seconds"]
                    .as_f64()
                    .map_or("-".into(), |s| format!("{s:.2}")),
            );
            row.push(r.key.clone());
            row
        })
        .collect();
    print_table(&header, &table_rows);

    // results.csv and results.jsonl.
    let mut csv = format!(
        "rank,key,epochs,outcome,score,final_val_acc,best_val_acc,final_val_loss,best_val_loss,seconds,{},schedule,message\n",
        names.join(",")
    );
    let mut jsonl = String::new();
    for (i, r) in rows.iter().enumerate() {
        let num = |f: &str| {
            r.result[f]
                .as_f64()
                .map_or(String::new(), |x| x.to_string())
        };
        let mut cells = vec![
            (i + 1).to_string(),
            r.key.clone(),
            r.epochs.to_string(),
            r.outcome.clone(),
            r.score.map_or(String::new(), |s| s.to_string()),
            num("final_val_acc"),
            num("best_val_acc"),
            num("final_val_loss"),
            num("best_val_loss"),
            num("seconds"),
        ];
        cells.extend(
            names
                .iter()
                .map(|n| r.params.get(*n).map_or("".into(), text_of)),
        );
        cells.push(r.line.clone());
        cells.push(r.message.clone().unwrap_or_default());
        csv.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
        let mut j = r.result.clone();
        if let Value::Object(m) = &mut j {
            m.insert("rank".into(), json!(i + 1));
            m.insert("key".into(), json!(r.key));
            m.insert("score".into(), json!(r.score));
            m.insert("params".into(), json!(r.params));
            m.insert("schedule".into(), json!(r.line));
            m.insert("epochs".into(), json!(r.epochs));
        }
        jsonl.push_str(&j.to_string());
        jsonl.push('\n');
    }
    report::write_atomic(&dir.join("results.csv"), csv.as_bytes())?;
    report::write_atomic(&dir.join("results.jsonl"), jsonl.as_bytes())?;

    // best.json: rows are sorted longest runs first, then by score.
    let best = rows.iter().find(|r| r.score.is_some());
    let mut text = Vec::new();
    match best {
        Some(b) => {
            let spec_path = dir.join("trials").join(&b.key).join("trial.json");
            let spec: Value = std::fs::read_to_string(&spec_path)
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            let config = serde_json::to_string_pretty(&spec["schedule"]).expect("JSON") + "\n";
            report::write_atomic(&dir.join("best.json"), config.as_bytes())?;
            // compare --schedules takes a list of named entries; the optimizer goes with
            // the schedule when the search used another than compare's default.
            let mut entry = json!({"name": "tuned", "schedule": spec["schedule"]});
            let flags: Vec<&str> = spec["train_args"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(i) = flags.iter().position(|f| *f == "--optimizer") {
                if let Some(opt) = flags.get(i + 1) {
                    entry["optimizer"] = json!(opt);
                }
            }
            let list = serde_json::to_string_pretty(&json!([entry])).expect("JSON") + "\n";
            report::write_atomic(&dir.join("best_compare.json"), list.as_bytes())?;
            let line = format!(
                "best: {} {} with {} ({} epochs; trial {})",
                score_name,
                fmt_score(o, b.score),
                b.line,
                b.epochs,
                b.key
            );
            println!("\n{line}");
            println!(
                "wrote {} (for train --schedule-config) and {} (for compare --schedules)",
                dir.join("best.json").display(),
                dir.join("best_compare.json").display()
            );
            text.push(line);
        }
        None => {
            println!(
                "\nno trial has a score (every one diverged, failed or was invalid): no best.json"
            );
            text.push("No trial has a score: no best.json.".into());
        }
    }
    let bad = rows.iter().filter(|r| r.score.is_none()).count();
    if bad > 0 {
        text.push(format!(
            "{bad} trial(s) have no score (diverged, failed or invalid); they rank last and are not plotted."
        ));
    }

    // One plot per parameter.
    let mut svgs = Vec::new();
    for (name, p) in &space.params {
        match plot_param(o, name, p, rows, best, &score_name) {
            Ok(Some(chart)) => {
                let svg = render_svg(&chart).map_err(|e| UserError(e.to_string()))?;
                let png = render_png(&chart, 960, 560).map_err(|e| UserError(e.to_string()))?;
                let stem = format!("score-vs-{name}");
                report::write_atomic(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
                report::write_atomic(&dir.join(format!("{stem}.png")), &png)?;
                svgs.push(svg);
            }
            Ok(None) => {}
            Err(e) => eprintln!("note: no plot for `{name}`: {e}"),
        }
    }

    let how = match o.strategy {
        Strategy::Grid => format!("Grid search, {} points per range.", a.grid_points),
        Strategy::Random => format!(
            "Random search, {} trials, seed {}.",
            a.trials, o.seed
        ),
        Strategy::Asha => format!(
            "Successive halving: {} configurations, rungs of {} epochs, the best 1/{} of each rung go on; {} epochs trained in all (a full search would be {}).",
            a.trials,
            rungs(a.min_epochs, a.train.epochs, a.eta)
                .unwrap_or_default()
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            a.eta,
            rows.iter().map(|r| r.epochs).sum::<u64>(),
            a.trials as u64 * a.train.epochs
        ),
    };
    text.push(format!(
        "{how} Score: the {} validation {} of each trial ({}).",
        if o.best {
            "best epoch's"
        } else {
            "last epoch's"
        },
        if o.metric == "val_acc" {
            "accuracy"
        } else {
            "loss"
        },
        if o.maximize {
            "higher is better"
        } else {
            "lower is better"
        }
    ));
    let sections = vec![
        Section {
            heading: "Best".into(),
            text,
            ..Section::default()
        },
        Section {
            heading: "Score against each parameter".into(),
            text: vec!["Each dot is one trial; a dashed line marks the best trial's value.".into()],
            svgs,
            table: None,
        },
        Section {
            heading: "All trials".into(),
            text: vec![],
            svgs: vec![],
            table: Some(Table {
                header,
                rows: table_rows,
            }),
        },
    ];
    report::write_html(
        &dir.join("report.html"),
        "lrsched tune",
        &report::command_line(),
        &sections,
    )?;
    println!("wrote {}", dir.join("report.html").display());
    Ok(())
}

fn print_table(header: &[String], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(header[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(header));
    for r in rows {
        println!("{}", line(r));
    }
}

/// Score against one parameter: a dot per trial, one colour per run length (rung).
fn plot_param(
    o: &Options,
    name: &str,
    p: &Param,
    rows: &[Row],
    best: Option<&Row>,
    score_name: &str,
) -> Result<Option<Chart>, String> {
    // Choices that are not numbers go on the x axis by their position in the list.
    let choices: Option<&Vec<Value>> = match p {
        Param::Choice(c) if c.iter().any(|v| !v.is_number()) => Some(c),
        _ => None,
    };
    let x_of = |v: &Value| match choices {
        Some(c) => c.iter().position(|x| x == v).map(|i| i as f64),
        None => v.as_f64(),
    };
    let scale = if o.metric == "val_acc" { 100.0 } else { 1.0 };
    let x_label = match choices {
        Some(c) => format!(
            "{name} ({})",
            c.iter()
                .enumerate()
                .map(|(i, v)| format!("{i} = {}", text_of(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => name.to_string(),
    };
    let y_label = if o.metric == "val_acc" {
        format!("{score_name} (%)")
    } else {
        score_name.to_string()
    };
    let mut chart =
        Chart::new(format!("{score_name} against {name}"), x_label, y_label).with_log_x(p.is_log());
    let mut epochs: Vec<u64> = rows.iter().map(|r| r.epochs).collect();
    epochs.sort_unstable();
    epochs.dedup();
    for (i, e) in epochs.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.epochs == *e)
            .filter_map(|r| Some((x_of(r.params.get(name)?)?, r.score? * scale)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // A gap after every point: the renderer draws each lone point as a dot, not a line.
        let dots: Vec<(f64, f64)> = pts.iter().flat_map(|&p| [p, (p.0, f64::NAN)]).collect();
        let label = if epochs.len() > 1 {
            format!("{e} epoch{}", if *e == 1 { "" } else { "s" })
        } else {
            "one dot per trial".into()
        };
        chart = chart.with_series(Series::new(label, dots).with_color(i));
    }
    if chart.series.is_empty() {
        return Ok(None);
    }
    // The x axis spans exactly the data, which puts the extreme trials on its edges (half
    // hidden by the axis line). A band widens the axis like data does; two entries at the
    // same y enclose no area, but leave a faint hairline: it goes where the x axis hides
    // it (y = 0, when the axis starts there anyway) or else along the lowest score.
    let pts = || chart.series.iter().flat_map(|s| &s.points);
    let ext = |v: Vec<f64>| {
        v.into_iter()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
    };
    let (lo, hi) = ext(pts().map(|p| p.0).collect());
    let (ylo, yhi) = ext(pts().map(|p| p.1).collect());
    let y = if ylo >= 0.0 && ylo <= 0.35 * yhi {
        0.0
    } else {
        ylo
    };
    let (plo, phi) = if p.is_log() {
        let f = (hi / lo).powf(0.04).max(1.1);
        (lo / f, hi * f)
    } else {
        let d = if hi > lo {
            (hi - lo) * 0.04
        } else {
            lo.abs().max(1.0) * 0.5
        };
        (lo - d, hi + d)
    };
    let first = chart.series.remove(0);
    chart
        .series
        .insert(0, first.with_band(vec![(plo, y, y), (phi, y, y)]));
    if let Some(x) = best.and_then(|b| x_of(b.params.get(name)?)) {
        chart = chart.with_marker(Marker::new(x, "best"));
    }
    Ok(Some(chart))
}

/// `--help` text for the subcommand: examples and the space format.
pub fn after_help() -> String {
    format!(
        "Examples:\n  lrsched tune --space space.toml --strategy grid --grid-points 3 --epochs 5 --out runs/tune1\n  lrsched tune --space space.toml --strategy random --trials 20 --search-seed 1 --jobs 2\n  lrsched tune --space space.toml --strategy asha --trials 27 --eta 3 --min-epochs 1 --epochs 9\n  lrsched tune --space space.toml --out runs/tune1 --print-trials | while read -r c; do sbatch --wrap \"$c\"; done\n  lrsched train --schedule-config runs/tune1/best.json --epochs 5\n\n{SPACE_HELP}\n\nEach trial is a process (`lrsched tune --run-trial KEY --out DIR`) training on one thread; its\nkey is the first 16 hex digits of the SHA-256 of its schedule, train flags and epochs. A rerun\nwith the same --out skips trials that have trials/KEY/result.json (written atomically).\nOutputs in --out: results.csv, results.jsonl, best.json (for train --schedule-config),\nbest_compare.json (for compare --schedules), score-vs-<param>.png/.svg, report.html. A diverged trial scores worst."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T>(r: Result<T, UserError>) -> T {
        r.unwrap_or_else(|e| panic!("{}", e.0))
    }

    #[test]
    fn space_errors_are_one_line() {
        let bad = [
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [1.0, 0.1] }", "inverted"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [0.1, 0.1] }", "empty"),
            ("schedule = \"cosine(lr={lr}, steps={n})\"\n[params]\nlr = { range = [0.1, 1] }", "{n}"),
            ("schedule = \"cosine(lr=0.1, steps=100%)\"\n[params]\nlr = { range = [0.1, 1] }", "not used"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { choice = [] }", "empty"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { log_range = [0, 1] }", "above zero"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [0.1, 0.9], int = true }", "whole"),
            ("schedule = [", "line 1"),
        ];
        for (text, want) in bad {
            let e = Space::parse(text).unwrap_err().0;
            assert!(e.contains(want), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn grid_and_sample() {
        let s = ok(Space::parse(
            "schedule = \"cosine(lr={lr}, steps=100%, min_lr={m})\"\n[params]\nlr = { log_range = [1e-3, 1.0] }\nm = { choice = [0.0, 1e-4] }",
        ));
        let g = ok(s.grid(4));
        assert_eq!(g.len(), 8);
        assert_eq!(g[0]["lr"], json!(0.001));
        assert_eq!(g[6]["lr"], json!(1.0));
        assert_eq!(g[2]["lr"], json!(0.01));
        let a = s.sample(5, 7);
        assert_eq!(a, s.sample(5, 7));
        assert_ne!(a, s.sample(5, 8));
        for m in &a {
            let lr = m["lr"].as_f64().unwrap();
            assert!((1e-3..=1.0).contains(&lr));
        }
        let t = ok(s.trial(&g[0], 2, &["--data".into(), "digits".into()]));
        assert_eq!(t.key.len(), 16);
        assert_eq!(t.line, "cosine(lr=0.001, min_lr=0, steps=\"100%\")");
        let t2 = ok(s.trial(&g[0], 3, &["--data".into(), "digits".into()]));
        assert_ne!(t.key, t2.key);
    }

    #[test]
    fn config_template_keeps_types() {
        let s = ok(Space::parse(
            "[schedule]\ntype = \"step\"\nlr = \"{lr}\"\nstep_size = \"{k}\"\n[params]\nlr = { choice = [0.1] }\nk = { range = [1, 5], int = true }",
        ));
        let g = ok(s.grid(2));
        let t = ok(s.trial(&g[1], 2, &[]));
        assert_eq!(
            t.spec["schedule"],
            json!({"type": "step", "lr": 0.1, "step_size": 5})
        );
    }

    #[test]
    fn rungs_grow_by_eta_to_the_end() {
        assert_eq!(ok(rungs(1, 9, 3)), vec![1, 3, 9]);
        assert_eq!(ok(rungs(1, 10, 3)), vec![1, 3, 9, 10]);
        assert_eq!(ok(rungs(2, 2, 3)), vec![2]);
        assert!(rungs(0, 2, 3).is_err());
        assert!(rungs(1, 2, 1).is_err());
    }
}
