//! `lrsched compare`: the same model on the same data under several schedules, each over
//! the same seeds, runs in parallel; a ranking table, a verdict, plots and a report.

use crate::report::{self, Section, Table};
use crate::train::{self, DataKind, InitArg, IntervalArg, OptimizerArg, TrainArgs};
use crate::UserError;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lrsched_report::{render_svg, Chart, Series};
use lrsched_train::data::Split;
use lrsched_train::trainer::{train as train_run, EpochRecord, Observer, Outcome, TrainConfig};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The flags of `lrsched compare`: every `train` flag, plus the comparison's own.
///
/// `--target` is the accuracy to reach here, so `train`'s `--target` (the CSV target
/// column) is `--target-column` in this command. Flags that make no sense for many runs
/// at once (one schedule, checkpoints, one metrics file, threads per run) are hidden and
/// refused.
#[derive(Args, Debug, Clone)]
#[command(
    mut_arg("target", |a| a.long("target-column")),
    mut_arg("epochs", |a| a.default_value("15").hide_default_value(false).help("Epochs per run [default: 15]")),
    mut_arg("schedule", |a| a.hide(true)),
    mut_arg("schedule_config", |a| a.hide(true)),
    mut_arg("threads", |a| a.hide(true)),
    mut_arg("metrics_out", |a| a.hide(true)),
    mut_arg("checkpoint_dir", |a| a.hide(true)),
    mut_arg("keep_checkpoints", |a| a.hide(true)),
    mut_arg("resume", |a| a.hide(true))
)]
pub struct CompareArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    /// Seeds per schedule (the same seeds, from --seed on, for every schedule).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Runs at once (default: the cores); each run uses one thread.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// A TOML or JSON list of named schedules, `[{name, schedule, optimizer?}]`, where
    /// `schedule` is a one-line form or a config (any form `train` accepts).
    #[arg(long)]
    pub schedules: Option<PathBuf>,
    /// The validation accuracy that counts as converged (default: 0.95 on digits, 0.97
    /// on MNIST, 1.0 on XOR, 0.9 otherwise); never reaching it is a result, not an error.
    #[arg(long = "target", id = "target_acc", value_name = "ACC")]
    pub target_acc: Option<f64>,
    /// A ready comparison: the seeds' XOR schedule study, or the MNIST StepLR recipe
    /// against the others (needs --data-dir).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Folder for report.html, metrics.jsonl, metrics.csv and steps.jsonl (default
    /// runs/compare-<timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The ready comparisons of `--preset`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum Preset {
    /// 2-2-1 with BatchNorm, Adam, He init, batch 4, 100 epochs: step, exponential,
    /// plateau, cosine, cyclic (crates/lrsched-train/examples/xor_schedules.rs).
    Xor,
    /// 784-128-10, SGD momentum 0.9, lr 0.1, batch 64, 20 epochs: StepLR against the rest.
    Mnist,
}

/// One schedule of the comparison.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    schedule: Value,
    optimizer: Option<OptimizerArg>,
    interval: Option<IntervalArg>,
}

/// One finished (or diverged) run.
struct Run {
    schedule: usize,
    seed: u64,
    history: Vec<EpochRecord>,
    /// `(step, lr, loss)` for every optimizer step.
    steps: Vec<(u64, f64, f64)>,
    diverged: Option<String>,
    seconds: f64,
}

/// True when `flag` was typed on the command line, to tell a default from a choice.
fn given(flag: &str) -> bool {
    let eq = format!("{flag}=");
    std::env::args().any(|a| a == flag || a.starts_with(&eq))
}

/// `lrsched compare`.
pub fn run(args: &CompareArgs) -> Result<(), UserError> {
    let mut a = args.train.clone();
    if a.schedule.is_some() || a.schedule_config.is_some() {
        return Err(UserError(
            "compare takes its schedules from --schedules FILE (or the default set), not --schedule/--schedule-config".into(),
        ));
    }
    if a.checkpoint_dir.is_some() || a.resume || a.metrics_out.is_some() || a.threads.is_some() {
        return Err(UserError(
            "compare writes its own metrics into --out and runs each training on one thread: --checkpoint-dir, --resume, --metrics-out and --threads are not for compare (--jobs sets the runs at once)".into(),
        ));
    }
    let mut seeds = args.seeds;
    match args.preset {
        Some(Preset::Xor) => {
            a.data = DataKind::Xor;
            a.model = "2".into();
            a.batch_norm = true;
            a.optimizer = OptimizerArg::Adam;
            a.init = InitArg::HeNormal;
            a.batch_size = 4;
            if !given("--epochs") {
                a.epochs = 100;
            }
            seeds = seeds.or(Some(10));
        }
        Some(Preset::Mnist) => {
            a.data = DataKind::Mnist;
            a.model = "128".into();
            a.optimizer = OptimizerArg::Momentum;
            a.lr = a.lr.or(Some(0.1));
            a.momentum = a.momentum.or(Some(0.9));
            a.batch_size = 64;
            if !given("--epochs") {
                a.epochs = 20;
            }
            seeds = seeds.or(Some(1));
        }
        // The default of 15 epochs (set on the flag): long enough for the schedules to
        // differ, short enough to finish in seconds.
        None => {}
    }
    let seeds = seeds.unwrap_or(3);
    if seeds == 0 {
        return Err(UserError(
            "--seeds 0 is not allowed: must be at least 1".into(),
        ));
    }
    if let Some(t) = args.target_acc {
        if !(0.0..=1.0).contains(&t) {
            return Err(UserError(format!(
                "--target {t} is not allowed: an accuracy between 0 and 1"
            )));
        }
    }
    let entries = match (&args.schedules, args.preset) {
        (Some(path), _) => read_schedules(path)?,
        (None, Some(Preset::Xor)) => xor_set(),
        (None, Some(Preset::Mnist)) => {
            let mut set = vec![Entry {
                name: "StepLR (recipe)".into(),
                schedule: json!({"type": "StepLR", "step_size": 10, "gamma": 0.1, "lr": 0.1}),
                optimizer: None,
                interval: Some(IntervalArg::Epoch),
            }];
            set.extend(default_set(&a));
            set
        }
        (None, None) => default_set(&a),
    };
    let out = report::out_dir("compare", args.out.as_deref())?;
    let (data_name, split) = train::load_data(&a)?;
    let target = args.target_acc.unwrap_or(match a.data {
        DataKind::Xor => 1.0,
        DataKind::Mnist => 0.97,
        DataKind::Digits => 0.95,
        _ => 0.9,
    });
    // One config per schedule; the seeds only change `seed`.
    let mut configs = Vec::with_capacity(entries.len());
    for e in &entries {
        configs.push(entry_config(&a, e, &data_name, &split)?);
    }
    let jobs = args
        .jobs
        .filter(|j| *j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let seed_list: Vec<u64> = (0..seeds).map(|i| a.seed + i).collect();
    let started = Instant::now();
    let runs = run_all(&configs, &entries, &seed_list, &split, jobs, a.quiet)?;
    let wall = started.elapsed().as_secs_f64();

    let has_acc = runs
        .iter()
        .any(|r| r.history.iter().any(|h| h.val_acc.is_some()));
    let stats: Vec<Stats> = (0..entries.len())
        .map(|i| Stats::of(runs.iter().filter(|r| r.schedule == i), target, has_acc))
        .collect();
    let order = rank(&stats, has_acc);
    let table = ranking_table(&entries, &stats, &order, target, has_acc);
    let verdict = verdict(&entries, &stats, &order, target, has_acc);

    write_metrics(&out, &entries, &runs)?;
    let per_epoch = split.train.len().div_ceil(a.batch_size.max(1)) as f64;
    let charts = charts(&entries, &runs, per_epoch, has_acc);
    let mut svgs = Vec::new();
    for c in &charts {
        svgs.push(render_svg(c).map_err(|e| UserError(format!("plot: {e}")))?);
    }
    let setup = format!(
        "{} schedules x {} seeds ({}) on {data_name}: model {}, optimizer {:?}, batch {}, {} epochs; {} runs in parallel, {:.1}s in all.",
        entries.len(),
        seeds,
        seed_list
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        a.model,
        a.optimizer,
        a.batch_size,
        a.epochs,
        jobs,
        wall
    );
    let schedules_table = Table {
        header: vec!["schedule".into(), "optimizer".into(), "config".into()],
        rows: entries
            .iter()
            .zip(&configs)
            .map(|(e, c)| {
                vec![
                    e.name.clone(),
                    format!("{:?}", c.optimizer.kind),
                    e.schedule.to_string(),
                ]
            })
            .collect(),
    };
    let sections = vec![
        Section {
            heading: "Ranking".into(),
            text: vec![verdict.clone(), setup.clone(), explain(target, has_acc)],
            svgs: vec![],
            table: Some(two_line(&table)),
        },
        Section {
            heading: "Curves".into(),
            text: vec![
                "Each line is the mean over seeds; the shaded band is one standard deviation either side of it (within the lowest and highest seed). The tables give the full range.".into(),
            ],
            svgs,
            table: None,
        },
        Section {
            heading: "Schedules".into(),
            text: vec![],
            svgs: vec![],
            table: Some(schedules_table),
        },
    ];
    let html = out.join("report.html");
    report::write_html(&html, "lrsched compare", &report::command_line(), &sections)?;
    // The comparison itself succeeded, so the exit status stays 0; say which runs diverged.
    for r in runs.iter().filter(|r| r.diverged.is_some()) {
        eprintln!(
            "note: `{}` seed {} diverged at {}",
            entries[r.schedule].name,
            r.seed,
            r.diverged.as_deref().unwrap_or("")
        );
    }
    print_table(&compact(&table));
    println!("\n{verdict}");
    println!("report: {}", html.display());
    Ok(())
}

/// The default set, scaled to the run: durations are fractions of the run ("100%"), so
/// the shapes are the same whatever --epochs is.
fn default_set(a: &TrainArgs) -> Vec<Entry> {
    let adaptive = matches!(
        a.optimizer,
        OptimizerArg::Adam | OptimizerArg::Adamw | OptimizerArg::Rmsprop | OptimizerArg::SfAdamw
    );
    let lr = a.lr.unwrap_or(if adaptive { 0.003 } else { 0.05 });
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
    sf.optimizer = Some(OptimizerArg::SfAdamw);
    set.push(sf);
    set
}

/// The seeds' XOR study: rates in epochs, stepped per epoch (one step per epoch anyway).
fn xor_set() -> Vec<Entry> {
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
        interval: Some(IntervalArg::Epoch),
    })
    .collect()
}

/// Reads `--schedules FILE`: a JSON list (or `{"schedules": [...]}`), or TOML with
/// `[[schedules]]` tables.
fn read_schedules(path: &Path) -> Result<Vec<Entry>, UserError> {
    let at = |m: String| UserError(format!("{}: {m}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read {}: {e}", path.display())))?;
    let is_toml = path.extension().is_some_and(|e| e == "toml")
        || !matches!(text.trim_start().chars().next(), Some('[' | '{'))
        || text.trim_start().starts_with("[[");
    let doc: Value = if is_toml {
        let t: toml::Value = toml::from_str(&text).map_err(|e| {
            at(format!(
                "not valid TOML: {}",
                e.message().lines().next().unwrap_or("")
            ))
        })?;
        serde_json::to_value(t).map_err(|e| at(e.to_string()))?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            at(format!(
                "not valid JSON: line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?
    };
    let list = match &doc {
        Value::Array(l) => l,
        Value::Object(m) => match m.get("schedules") {
            Some(Value::Array(l)) => l,
            _ => {
                return Err(at(
                    "expected a list of {name, schedule} (in TOML: [[schedules]] tables)".into(),
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
            Some(Value::String(s)) => Some(OptimizerArg::from_str(s, true).map_err(|_| {
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
            Some(Value::String(s)) if s == "step" => Some(IntervalArg::Step),
            Some(Value::String(s)) if s == "epoch" => Some(IntervalArg::Epoch),
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

/// The run config of one schedule, built as `train` builds it, on one thread.
fn entry_config(
    a: &TrainArgs,
    e: &Entry,
    data_name: &str,
    split: &Split,
) -> Result<TrainConfig, UserError> {
    let mut a = a.clone();
    a.schedule = None;
    a.schedule_config = None;
    if let Some(o) = e.optimizer {
        a.optimizer = o;
    }
    if e.interval.is_some() {
        a.schedule_interval = e.interval;
    }
    a.metrics_out = None;
    a.checkpoint_dir = None;
    a.resume = false;
    let named = |err: UserError| UserError(format!("schedule `{}`: {}", e.name, err.0));
    let mut config = train::build_config(&a, data_name.to_string(), split).map_err(named)?;
    let (schedule, interval) =
        train::resolve_schedule_value(&a, e.schedule.clone(), split.train.len()).map_err(named)?;
    config.schedule = schedule;
    config.interval = interval;
    // Runs parallelise across cores, one thread each: no contention, and the same numbers
    // whatever --jobs is.
    config.threads = 1;
    Ok(config)
}

/// Records steps and moves the shared bar.
struct Recorder<'a> {
    steps: Vec<(u64, f64, f64)>,
    bar: Option<&'a ProgressBar>,
    label: String,
}

impl Observer for Recorder<'_> {
    fn on_step(&mut self, epoch: u64, batch: usize, batches: usize, loss: f32, lr: f64) {
        let step = (epoch - 1) * batches as u64 + batch as u64 - 1;
        self.steps.push((step, lr, loss as f64));
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar {
            bar.inc(1);
            bar.set_message(format!("{} epoch {}", self.label, r.epoch));
        }
    }
}

fn run_all(
    configs: &[TrainConfig],
    entries: &[Entry],
    seeds: &[u64],
    split: &Split,
    jobs: usize,
    quiet: bool,
) -> Result<Vec<Run>, UserError> {
    use rayon::prelude::*;
    let jobs_list: Vec<(usize, u64)> = (0..configs.len())
        .flat_map(|i| seeds.iter().map(move |s| (i, *s)))
        .collect();
    let total_epochs: u64 = configs.iter().map(|c| c.epochs).sum::<u64>() * seeds.len() as u64;
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(total_epochs);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:20}] {pos}/{len} epochs  {msg}  ETA {eta}",
            )
            .unwrap()
            .progress_chars("=> "),
        );
        bar
    });
    let done = std::sync::atomic::AtomicUsize::new(0);
    let n = jobs_list.len();
    if let Some(bar) = &bar {
        bar.set_prefix(format!("runs 0/{n}"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| UserError(format!("cannot start {jobs} threads: {e}")))?;
    let results: Vec<Result<Run, UserError>> = pool.install(|| {
        jobs_list
            .par_iter()
            .map(|&(i, seed)| {
                let mut config = configs[i].clone();
                config.seed = seed;
                let mut rec = Recorder {
                    steps: Vec::new(),
                    bar: bar.as_ref(),
                    label: format!("{} seed {seed}", entries[i].name),
                };
                let summary = train_run(&config, split, &mut rec)
                    .map_err(|e| UserError(format!("schedule `{}`: {e}", entries[i].name)))?;
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if let Some(bar) = &bar {
                    bar.set_prefix(format!("runs {k}/{n}"));
                }
                Ok(Run {
                    schedule: i,
                    seed,
                    history: summary.history,
                    steps: rec.steps,
                    diverged: match summary.outcome {
                        Outcome::Diverged { epoch, what, .. } => {
                            Some(format!("epoch {epoch}: {what}"))
                        }
                        _ => None,
                    },
                    seconds: summary.seconds,
                })
            })
            .collect()
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    results.into_iter().collect()
}

/// Mean and spread over seeds.
#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    mean: f64,
    min: f64,
    max: f64,
    n: usize,
}

impl Agg {
    fn of(values: impl IntoIterator<Item = f64>) -> Agg {
        let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Agg {
                mean: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                n: 0,
            };
        }
        Agg {
            mean: v.iter().sum::<f64>() / v.len() as f64,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: v.len(),
        }
    }

    /// `mean (min–max)`, or `-` when no seed has a value.
    fn show(&self, digits: usize, scale: f64) -> String {
        if self.n == 0 {
            return "-".into();
        }
        let (m, lo, hi) = (self.mean * scale, self.min * scale, self.max * scale);
        if self.n == 1 || (hi - lo).abs() < 0.5 * 10f64.powi(-(digits as i32)) {
            format!("{m:.digits$}")
        } else {
            format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
        }
    }
}

/// One schedule's numbers over its seeds.
#[derive(Debug, Clone, Default)]
struct Stats {
    runs: usize,
    diverged: usize,
    final_acc: Agg,
    best_acc: Agg,
    final_loss: Agg,
    best_loss: Agg,
    /// Over the seeds that reached the target.
    epochs_to_target: Agg,
    seconds_to_target: Agg,
    reached: usize,
    auc: Agg,
    /// Standard deviation of the validation loss over the last epochs.
    late_spread: Agg,
    rises: Agg,
    seconds: Agg,
}

/// How many final epochs the stability spread looks at.
const LATE_EPOCHS: usize = 5;

impl Stats {
    fn of<'a>(runs: impl Iterator<Item = &'a Run>, target: f64, has_acc: bool) -> Stats {
        let runs: Vec<&Run> = runs.collect();
        let good = |r: &&Run| r.diverged.is_none();
        let ok: Vec<&Run> = runs.iter().copied().filter(good).collect();
        let last = |r: &Run| r.history.last().cloned();
        let mut s = Stats {
            runs: runs.len(),
            diverged: runs.len() - ok.len(),
            ..Stats::default()
        };
        s.final_acc = Agg::of(ok.iter().filter_map(|r| last(r).and_then(|h| h.val_acc)));
        s.best_acc = Agg::of(ok.iter().map(|r| {
            r.history
                .iter()
                .filter_map(|h| h.val_acc)
                .fold(f64::NAN, f64::max)
        }));
        s.final_loss = Agg::of(ok.iter().filter_map(|r| last(r).map(|h| h.val_loss)));
        s.best_loss = Agg::of(ok.iter().map(|r| {
            r.history
                .iter()
                .map(|h| h.val_loss)
                .fold(f64::NAN, f64::min)
        }));
        let mut to_target = Vec::new();
        let mut secs_to_target = Vec::new();
        if has_acc {
            for r in &ok {
                let mut secs = 0.0;
                for h in &r.history {
                    secs += h.epoch_seconds;
                    if h.val_acc.is_some_and(|a| a >= target - 1e-12) {
                        to_target.push(h.epoch as f64);
                        secs_to_target.push(secs);
                        break;
                    }
                }
            }
        }
        s.reached = to_target.len();
        s.epochs_to_target = Agg::of(to_target);
        s.seconds_to_target = Agg::of(secs_to_target);
        // The area under the validation loss against epoch (trapezoids from epoch 1): low
        // when the loss came down early and stayed down.
        s.auc = Agg::of(ok.iter().map(|r| {
            r.history
                .windows(2)
                .map(|w| 0.5 * (w[0].val_loss + w[1].val_loss))
                .sum::<f64>()
        }));
        s.late_spread = Agg::of(ok.iter().map(|r| {
            let tail: Vec<f64> = r
                .history
                .iter()
                .rev()
                .take(LATE_EPOCHS)
                .map(|h| h.val_loss)
                .collect();
            let m = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
            (tail.iter().map(|x| (x - m).powi(2)).sum::<f64>() / tail.len().max(1) as f64).sqrt()
        }));
        s.rises = Agg::of(ok.iter().map(|r| {
            r.history
                .windows(2)
                .filter(|w| w[1].val_loss > w[0].val_loss)
                .count() as f64
        }));
        s.seconds = Agg::of(runs.iter().map(|r| r.seconds));
        s
    }
}

/// Schedules best first: by final validation accuracy (loss where there is none, or on a
/// tie); a schedule with a diverged seed ranks below every one without.
fn rank(stats: &[Stats], has_acc: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stats.len()).collect();
    let key = |s: &Stats| {
        let acc = if has_acc && s.final_acc.n > 0 {
            -s.final_acc.mean
        } else {
            0.0
        };
        let loss = if s.final_loss.n > 0 {
            s.final_loss.mean
        } else {
            f64::INFINITY
        };
        (s.diverged > 0, s.final_loss.n == 0, acc, loss)
    };
    order.sort_by(|&i, &j| {
        let (a, b) = (key(&stats[i]), key(&stats[j]));
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.total_cmp(&b.3))
    });
    order
}

fn ranking_table(
    entries: &[Entry],
    stats: &[Stats],
    order: &[usize],
    target: f64,
    has_acc: bool,
) -> Table {
    let mut header = vec!["#".to_string(), "schedule".to_string()];
    if has_acc {
        header.extend([
            "final acc %".into(),
            "best acc %".into(),
            format!("epochs to {}", pct(target)),
            format!("seconds to {}", pct(target)),
        ]);
    }
    header.extend([
        "final val loss".into(),
        "best val loss".into(),
        "val loss AUC".into(),
        format!("late spread (last {LATE_EPOCHS})"),
        "loss rises".into(),
        "diverged".into(),
    ]);
    let rows = order
        .iter()
        .enumerate()
        .map(|(place, &i)| {
            let s = &stats[i];
            let mut row = vec![(place + 1).to_string(), entries[i].name.clone()];
            if has_acc {
                let reach = |agg: &Agg, digits: usize| {
                    if s.reached == 0 {
                        "not reached".to_string()
                    } else if s.reached < s.runs {
                        format!("{} ({}/{} seeds)", agg.show(digits, 1.0), s.reached, s.runs)
                    } else {
                        agg.show(digits, 1.0)
                    }
                };
                row.extend([
                    s.final_acc.show(2, 100.0),
                    s.best_acc.show(2, 100.0),
                    reach(&s.epochs_to_target, 1),
                    reach(&s.seconds_to_target, 3),
                ]);
            }
            row.extend([
                s.final_loss.show(4, 1.0),
                s.best_loss.show(4, 1.0),
                s.auc.show(3, 1.0),
                s.late_spread.show(4, 1.0),
                s.rises.show(1, 1.0),
                if s.diverged == 0 {
                    "no".into()
                } else {
                    format!("diverged ({}/{} seeds)", s.diverged, s.runs)
                },
            ]);
            row
        })
        .collect();
    Table { header, rows }
}

/// One sentence: which converged fastest and which ended best.
fn verdict(
    entries: &[Entry],
    stats: &[Stats],
    order: &[usize],
    target: f64,
    has_acc: bool,
) -> String {
    let Some(&best) = order.first().filter(|&&i| stats[i].final_loss.n > 0) else {
        return "Every run diverged: no schedule converged.".into();
    };
    let end = if has_acc && stats[best].final_acc.n > 0 {
        format!(
            "{} ended best ({:.2}% final validation accuracy, mean over seeds)",
            entries[best].name,
            stats[best].final_acc.mean * 100.0
        )
    } else {
        format!(
            "{} ended best (final validation loss {:.4}, mean over seeds)",
            entries[best].name, stats[best].final_loss.mean
        )
    };
    // Fastest: fewest mean epochs to the target among those where every seed reached it;
    // where none did, the smallest area under the validation loss.
    let all_reached = (0..stats.len())
        .filter(|&i| stats[i].reached == stats[i].runs && stats[i].runs > 0)
        .min_by(|&i, &j| {
            stats[i]
                .epochs_to_target
                .mean
                .total_cmp(&stats[j].epochs_to_target.mean)
                // Whole epochs tie often: the area under the loss breaks the tie.
                .then(stats[i].auc.mean.total_cmp(&stats[j].auc.mean))
        });
    let fast = match all_reached.filter(|_| has_acc) {
        Some(i) => format!(
            "{} converged fastest ({} validation accuracy after {:.1} epochs, mean over seeds)",
            entries[i].name,
            pct(target),
            stats[i].epochs_to_target.mean
        ),
        None if has_acc && stats.iter().any(|s| s.reached > 0) => {
            // Some seeds got there: the schedule that got the most there is the news
            // (XOR: most seeds never converge, whatever the schedule).
            let i = (0..stats.len())
                .max_by(|&i, &j| {
                    stats[i].reached.cmp(&stats[j].reached).then(
                        stats[j]
                            .epochs_to_target
                            .mean
                            .total_cmp(&stats[i].epochs_to_target.mean),
                    )
                })
                .unwrap_or(best);
            format!(
                "No schedule reached {} on every seed; {} got there on the most ({}/{} seeds, after {:.1} epochs on average)",
                pct(target),
                entries[i].name,
                stats[i].reached,
                stats[i].runs,
                stats[i].epochs_to_target.mean
            )
        }
        None => {
            let i = (0..stats.len())
                .filter(|&i| stats[i].auc.n > 0)
                .min_by(|&i, &j| stats[i].auc.mean.total_cmp(&stats[j].auc.mean))
                .unwrap_or(best);
            let why = if has_acc {
                format!("no schedule reached {} on every seed; ", pct(target))
            } else {
                String::new()
            };
            format!(
                "{} converged fastest ({why}smallest area under the validation loss, {:.3})",
                entries[i].name, stats[i].auc.mean
            )
        }
    };
    format!("{fast}; {end}.")
}

/// An accuracy as a percentage, with a decimal only where it has one (95%, 99.5%).
fn pct(a: f64) -> String {
    let p = a * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{}%", (p * 100.0).round() / 100.0)
    }
}

fn explain(target: f64, has_acc: bool) -> String {
    let mut s =
        String::from("Each cell is the mean over seeds, with the lowest–highest seed under it. ");
    if has_acc {
        s += &format!("“epochs to {}” is the first epoch whose validation accuracy reached it, over the seeds that did. ", pct(target));
    }
    s += "“val loss AUC” is the area under the validation loss against epoch (small: came down early and stayed down); “late spread” is the standard deviation of the validation loss over the last epochs; “loss rises” counts epochs whose validation loss rose. A schedule with a diverged seed ranks last; its other seeds still count.";
    s
}

/// The table for the report: `mean (lo–hi) (k/n seeds)` as the mean over a smaller line
/// `lo–hi, k/n seeds`, so the columns stay narrow enough for a page.
fn two_line(t: &Table) -> Table {
    let cell = |c: &String| match c.split_once(" (") {
        Some((main, rest)) => {
            let rest = rest.replace(") (", ", ");
            format!("{main}\n{}", rest.trim_end_matches(')'))
        }
        None => c.clone(),
    };
    Table {
        header: t.header.clone(),
        rows: t
            .rows
            .iter()
            .map(|r| r.iter().map(cell).collect())
            .collect(),
    }
}

/// The ranking's main columns, to fit a terminal; report.html has them all.
fn compact(t: &Table) -> Table {
    let keep: Vec<usize> = t
        .header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            !(h.starts_with("best val") || h.starts_with("seconds") || h.starts_with("late"))
        })
        .map(|(i, _)| i)
        .collect();
    let pick = |row: &Vec<String>| {
        keep.iter()
            .map(|&i| row.get(i).cloned().unwrap_or_default())
            .collect()
    };
    Table {
        header: pick(&t.header),
        rows: t.rows.iter().map(pick).collect(),
    }
}

fn print_table(t: &Table) {
    let mut widths: Vec<usize> = t.header.iter().map(|h| h.chars().count()).collect();
    for row in &t.rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w.saturating_sub(c.chars().count());
                if i == 1 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{}", line(&t.header));
    for row in &t.rows {
        let _ = writeln!(out, "{}", line(row));
    }
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn csv_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else {
        String::new()
    }
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// metrics.jsonl and metrics.csv (one row per run and epoch), steps.jsonl (one per step).
fn write_metrics(out: &Path, entries: &[Entry], runs: &[Run]) -> Result<(), UserError> {
    let mut jsonl = String::new();
    let mut csv = String::from(
        "schedule,seed,epoch,step,train_loss,val_loss,val_acc,lr,momentum,epoch_seconds,diverged\n",
    );
    let mut steps = String::new();
    for r in runs {
        let name = &entries[r.schedule].name;
        for h in &r.history {
            let row = json!({
                "schedule": name, "seed": r.seed, "epoch": h.epoch, "step": h.step,
                "train_loss": num(h.train_loss), "val_loss": num(h.val_loss),
                "val_acc": h.val_acc.map_or(Value::Null, num), "lr": num(h.lr),
                "momentum": h.momentum.map_or(Value::Null, num),
                "epoch_seconds": num(h.epoch_seconds), "diverged": h.diverged,
            });
            jsonl.push_str(&row.to_string());
            jsonl.push('\n');
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                csv_text(name),
                r.seed,
                h.epoch,
                h.step,
                csv_num(h.train_loss),
                csv_num(h.val_loss),
                h.val_acc.map_or(String::new(), csv_num),
                csv_num(h.lr),
                h.momentum.map_or(String::new(), csv_num),
                csv_num(h.epoch_seconds),
                h.diverged
            ));
        }
        for &(step, lr, loss) in &r.steps {
            let row = json!({"schedule": name, "seed": r.seed, "step": step, "lr": num(lr), "loss": num(loss)});
            steps.push_str(&row.to_string());
            steps.push('\n');
        }
    }
    report::write_atomic(&out.join("metrics.jsonl"), jsonl.as_bytes())?;
    report::write_atomic(&out.join("metrics.csv"), csv.as_bytes())?;
    report::write_atomic(&out.join("steps.jsonl"), steps.as_bytes())
}

/// Mean and a ± one standard deviation band over seeds at each x, skipping non-finite values.
/// A mean curve and its `(x, lo, hi)` band over seeds.
type Banded = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

fn mean_band(per_seed: &[Vec<(f64, f64)>]) -> Banded {
    let mut xs: Vec<f64> = per_seed.iter().flatten().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut mean = Vec::new();
    let mut band = Vec::new();
    for x in xs {
        let vals: Vec<f64> = per_seed
            .iter()
            .filter_map(|s| s.iter().find(|p| p.0 == x).map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        if vals.is_empty() {
            continue;
        }
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
        // Mean ± one standard deviation, kept within the seeds' range: with many seeds a
        // min–max band is set by the single worst seed and hides everything else.
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mean.push((x, m));
        band.push((x, (m - sd).max(lo), (m + sd).min(hi)));
    }
    (mean, band)
}

/// Every `k`-th point, so a long run's step curves stay a few hundred points.
fn thin<T: Clone>(v: &[T], most: usize) -> Vec<T> {
    let k = v.len().div_ceil(most.max(1)).max(1);
    v.iter().step_by(k).cloned().collect()
}

/// A moving average over `w` points, so the per-batch loss shows its trend.
fn smooth(v: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    let w = w.max(1);
    let mut out = Vec::with_capacity(v.len());
    let mut sum = 0.0;
    for i in 0..v.len() {
        sum += v[i].1;
        if i >= w {
            sum -= v[i - w].1;
        }
        let n = (i + 1).min(w);
        out.push((v[i].0, sum / n as f64));
    }
    out
}

fn charts(entries: &[Entry], runs: &[Run], per_epoch: f64, has_acc: bool) -> Vec<Chart> {
    let mut lr = Chart::new("Learning rate", "epoch", "learning rate");
    let mut train_loss = Chart::new("Training loss", "epoch", "training loss").with_log_y(true);
    let mut val_acc = Chart::new("Validation accuracy", "epoch", "validation accuracy");
    // Accuracy near the top is squeezed on a linear axis; the error on a log axis shows how
    // the schedules differ at the end, where it matters.
    let mut val_err = Chart::new(
        "Validation error (1 - accuracy), log scale",
        "epoch",
        "validation error",
    )
    .with_log_y(true);
    let mut val_loss = Chart::new("Validation loss", "epoch", "validation loss").with_log_y(true);
    let mut step_loss = Chart::new(
        "Training loss per step (moving average over half an epoch)",
        "step",
        "training loss",
    )
    .with_log_y(true);
    for (i, e) in entries.iter().enumerate() {
        let mine: Vec<&Run> = runs.iter().filter(|r| r.schedule == i).collect();
        let name = if mine.iter().any(|r| r.diverged.is_some()) {
            format!("{} (diverged)", e.name)
        } else {
            e.name.clone()
        };
        let epoch_curve = |f: &dyn Fn(&EpochRecord) -> Option<f64>| {
            let per_seed: Vec<Vec<(f64, f64)>> = mine
                .iter()
                .map(|r| {
                    r.history
                        .iter()
                        .filter(|h| !h.diverged)
                        .filter_map(|h| f(h).map(|v| (h.epoch as f64, v)))
                        .collect()
                })
                .collect();
            mean_band(&per_seed)
        };
        let add = |chart: &mut Chart, (m, b): Banded| {
            // A log axis leaves out values <= 0 (an error of exactly 0): a curve with
            // nothing left is not drawn rather than failing the chart.
            if m.iter().any(|p| !chart.log_y || p.1 > 0.0) {
                chart
                    .series
                    .push(Series::new(name.clone(), m).with_band(b).with_color(i));
            }
        };
        add(&mut train_loss, epoch_curve(&|h| Some(h.train_loss)));
        add(&mut val_loss, epoch_curve(&|h| Some(h.val_loss)));
        if has_acc {
            add(&mut val_acc, epoch_curve(&|h| h.val_acc));
            add(&mut val_err, epoch_curve(&|h| h.val_acc.map(|a| 1.0 - a)));
        }
        // Rates and losses per step: x in epochs for the rate, so its shape inside an
        // epoch (warmup, cycles) shows on the same axis as the epoch curves.
        let lr_per_seed: Vec<Vec<(f64, f64)>> = mine
            .iter()
            .map(|r| {
                thin(&r.steps, 600)
                    .iter()
                    .map(|&(s, lr, _)| ((s + 1) as f64 / per_epoch, lr))
                    .collect()
            })
            .collect();
        add(&mut lr, mean_band(&lr_per_seed));
        let w = (per_epoch / 2.0).round() as usize;
        let loss_per_seed: Vec<Vec<(f64, f64)>> = mine
            .iter()
            .map(|r| {
                let raw: Vec<(f64, f64)> = r.steps.iter().map(|&(s, _, l)| (s as f64, l)).collect();
                thin(&smooth(&raw, w), 600)
            })
            .collect();
        add(&mut step_loss, mean_band(&loss_per_seed));
    }
    let mut out = vec![lr, train_loss];
    if has_acc {
        out.push(val_acc);
        out.push(val_err);
    }
    out.push(val_loss);
    out.push(step_loss);
    out.retain(|c| !c.series.is_empty());
    out
}
