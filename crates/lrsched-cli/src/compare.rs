//! `lrsched compare`: the same model on the same data under several schedules, each over
//! the same seeds, runs in parallel; a ranking table, a verdict, plots and a report.

use crate::report::{self, Table};
use crate::train::{self, DataKind, InitArg, IntervalArg, OptimizerArg, TrainArgs};
use crate::trial_flags::{self, CommandArgs, LauncherArgs};
use crate::UserError;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lrsched_tools::compare::{self as tool, Candidate, CompareSpec, Metric};
use lrsched_tools::process::CommandTrainer;
use lrsched_tools::protocol::Line;
use lrsched_tools::runner::TrialEvent;
use lrsched_tools::trainer::{BuiltIn, Trainer};
use lrsched_train::data::Split;
use lrsched_train::trainer::TrainConfig;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("overwrite", |a| a.hide(true))
)]
pub struct CompareArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    /// Seeds per schedule (the same seeds, from --seed on, for every schedule).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Runs at once (default: the cores, at most one per run); the cores are shared among
    /// them (one run alone gets them all), which changes no result, only the time.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// A TOML or JSON list of named schedules, `[{name, schedule, optimizer?}]`, where
    /// `schedule` is a one-line form or a config (any form `train` accepts).
    #[arg(long)]
    pub schedules: Option<PathBuf>,
    /// The validation accuracy that counts as converged (default: 0.95 on digits, 0.97
    /// on MNIST, 1.0 on XOR, 0.9 otherwise); never reaching it is a result, not an error.
    #[arg(
        long = "target",
        id = "target_acc",
        value_name = "ACC",
        allow_hyphen_values = true
    )]
    pub target_acc: Option<f64>,
    /// Differences in the metric that do not matter: a schedule whose paired differences
    /// from the best stay within ±MARGIN is `equivalent` (default: 0.005, half a
    /// percentage point, for an accuracy; 1% of the best's value otherwise).
    #[arg(long, value_name = "MARGIN", allow_hyphen_values = true)]
    pub margin: Option<f64>,
    /// The metric's value for a model that learned nothing: a seed that ends no better
    /// (within two points for an accuracy) makes its schedule `incomplete` (default with
    /// the built-in trainer and val_acc: the largest class's share of the validation rows;
    /// with --command: not checked).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub chance: Option<f64>,
    /// A ready comparison: the seeds' XOR schedule study, or the MNIST StepLR recipe
    /// against the others (needs --data-dir).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Folder for report.html, summary.json, metrics.jsonl, metrics.csv, steps.jsonl and
    /// one folder per trial (default runs/compare-<timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub trials: TrialArgs,
    #[command(flatten)]
    pub launch: LauncherArgs,
}

/// How trials run when they are a user's program (docs/protocol.md), and what scores them.
#[derive(Args, Debug, Clone, Default)]
pub struct TrialArgs {
    #[command(flatten)]
    pub command: CommandArgs,
    /// The epoch metric that scores (default: val_acc when the trials report it, else
    /// val_loss).
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,
    /// Whether a higher or lower --metric is better (default: from its name; higher for
    /// accuracies and scores).
    #[arg(long, value_enum, requires = "metric")]
    pub mode: Option<MetricMode>,
}

/// Which way a metric is better.
#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum MetricMode {
    /// Higher is better.
    Max,
    /// Lower is better.
    Min,
}

impl TrialArgs {
    /// `--metric` with `--mode`, if given.
    pub fn metric(&self) -> Option<Metric> {
        self.metric.as_deref().map(|name| {
            let mut m = Metric::named(name);
            match self.mode {
                Some(MetricMode::Max) => m.higher_is_better = true,
                Some(MetricMode::Min) => m.higher_is_better = false,
                None => {}
            }
            m
        })
    }
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

/// `lrsched compare`: flags to a [`CompareSpec`] once, the comparison in
/// `lrsched_tools::compare`, then the table, the verdict and the files.
pub fn run(args: &CompareArgs, matches: &ArgMatches) -> Result<(), UserError> {
    let mut a = args.train.clone();
    if a.schedule.is_some() || a.schedule_config.is_some() {
        return Err(UserError(
            "compare takes its schedules from --schedules FILE (or the default set), not --schedule/--schedule-config".into(),
        ));
    }
    if a.checkpoint_dir.is_some()
        || a.resume
        || a.overwrite
        || a.metrics_out.is_some()
        || a.threads.is_some()
    {
        return Err(UserError(
            "compare writes its own metrics into --out and shares the cores among its runs: --checkpoint-dir, --resume, --overwrite, --metrics-out and --threads are not for compare (--jobs sets the runs at once)".into(),
        ));
    }
    train::check_epochs(a.epochs)?;
    check_jobs(args.jobs)?;
    let command = args.trials.command.trainer()?;
    if command.is_some() {
        trial_flags::refuse_built_in_flags(matches, &["seed", "epochs", "quiet"], &["preset"])?;
    }
    let epochs_given = matches.value_source("epochs") == Some(ValueSource::CommandLine);
    let mut seeds = args.seeds;
    let mut target = args.target_acc;
    match args.preset {
        Some(Preset::Xor) => {
            a.data = DataKind::Xor;
            a.model = "2".into();
            a.batch_norm = true;
            a.optimizer = OptimizerArg::Adam;
            a.init = InitArg::HeNormal;
            a.batch_size = 4;
            if !epochs_given {
                a.epochs = 100;
            }
            seeds = seeds.or(Some(10));
            target = target.or(Some(1.0));
        }
        Some(Preset::Mnist) => {
            a.data = DataKind::Mnist;
            a.model = "128".into();
            a.optimizer = OptimizerArg::Momentum;
            a.lr = a.lr.or(Some(0.1));
            a.momentum = a.momentum.or(Some(0.9));
            a.batch_size = 64;
            if !epochs_given {
                a.epochs = 20;
            }
            // One seed ranks nothing (the verdict says so); three tell large differences.
            seeds = seeds.or(Some(3));
            // 98%: most schedules reach it, late enough to tell them apart (97% is
            // reached by nearly all in epoch 3).
            target = target.or(Some(0.98));
        }
        // The default of 15 epochs (set on the flag): long enough for the schedules to
        // differ, short enough to finish in seconds.
        None => {}
    }
    if args.preset.is_some() && command.is_some() {
        return Err(UserError(
            "--preset chooses the built-in trainer's data and model: not with --command".into(),
        ));
    }
    let seeds = seeds.unwrap_or(3);
    if seeds == 0 || seeds > MAX_SEEDS {
        return Err(UserError(format!(
            "--seeds {seeds} is not allowed: must be between 1 and {MAX_SEEDS}"
        )));
    }
    if let Some(t) = args.target_acc {
        let is_acc = args
            .trials
            .metric()
            .is_none_or(|m| m.name.to_ascii_lowercase().contains("acc"));
        if !t.is_finite() || (is_acc && !(0.0..=1.0).contains(&t)) {
            return Err(UserError(format!(
                "--target {t} is not allowed: an accuracy between 0 and 1 (or any finite value of --metric)"
            )));
        }
    }
    check_margin_and_chance(args)?;
    let entries = match (&args.schedules, args.preset) {
        (Some(path), _) => read_schedules(path)?,
        (None, Some(Preset::Xor)) => xor_set(),
        (None, Some(Preset::Mnist)) => {
            let mut set = vec![Entry {
                name: "StepLR (recipe)".into(),
                schedule: serde_json::json!({"type": "StepLR", "step_size": 10, "gamma": 0.1, "lr": 0.1}),
                optimizer: None,
                interval: Some(IntervalArg::Epoch),
            }];
            set.extend(default_set(&a));
            set
        }
        (None, None) => default_set(&a),
    };
    args.launch.check()?;
    // A SLURM comparison may be run again on its folder to go on (tasks still queued are
    // watched, finished ones collected); any other folder in use is refused.
    let resumable = args.launch.is_slurm()
        && args
            .out
            .as_ref()
            .is_some_and(|o| o.join("slurm").join(COMPARE_IDENTITY).exists());
    let trials = entries.len() * seeds as usize;
    // Built-in runs share the cores: as many at once as there are cores (or --jobs), the
    // cores split among them; on a cluster, the scheduler decides how many run at once
    // and each task uses its own allocation.
    let (jobs, threads) = if args.launch.is_slurm() {
        (
            args.jobs
                .filter(|j| *j > 0)
                .unwrap_or(MAX_JOBS)
                .min(MAX_JOBS),
            1,
        )
    } else {
        let (jobs, threads) =
            trial_flags::share_cores(trials, args.jobs.filter(|j| *j > 0), trial_flags::cores());
        (jobs.min(MAX_JOBS), threads)
    };
    let mut chance = args.chance;
    let (candidates, setup, trainer_text) = match &command {
        Some(c) => {
            let trainer = Trainer::Command(c.clone());
            let mut candidates = Vec::new();
            for e in &entries {
                let mut schedule = candidate_schedule(&a, e);
                if let Some(n) = c.steps_per_epoch {
                    let shape = lrsched::time::RunShape::new(n, 1).with_epochs(a.epochs as f64);
                    lrsched::config::resolve_durations_with(&mut schedule, &shape)
                        .map_err(|err| UserError(format!("schedule `{}`: {err}", e.name)))?;
                }
                candidates.push(Candidate {
                    name: e.name.clone(),
                    schedule,
                    trainer: trainer.clone(),
                });
            }
            let setup = format!(
                "{} schedules x {seeds} seeds, {} epochs, {jobs} trials at once.",
                entries.len(),
                a.epochs
            );
            (candidates, setup, trainer.describe())
        }
        None => {
            let (data_name, split) = train::load_data(&a)?;
            if chance.is_none() && metric_is_accuracy(args) {
                chance = majority_share(&split);
            }
            let split = Arc::new(split);
            let mut candidates = Vec::new();
            for e in &entries {
                let config = entry_config(&a, e, &data_name, &split, threads)?;
                // The runs at once share the data, each with its own model and buffers
                // (on a cluster, each task checks its own node).
                if !args.launch.is_slurm() {
                    train::check_memory(&a, &config, &split, jobs, true)?;
                }
                let trainer = if args.launch.is_slurm() {
                    // On a node the built-in trainer is this program's `train`, given
                    // the same settings as flags.
                    Trainer::Command(CommandTrainer::new(trial_flags::built_in_command(
                        &entry_flags(&a, e, matches),
                    )?))
                } else {
                    Trainer::BuiltIn(Box::new(BuiltIn {
                        config,
                        split: split.clone(),
                    }))
                };
                candidates.push(Candidate {
                    name: e.name.clone(),
                    schedule: candidate_schedule(&a, e),
                    trainer,
                });
            }
            let at_once = if args.launch.is_slurm() {
                "trials on the SLURM cluster".to_string()
            } else {
                format!(
                    "{jobs} trial(s) at once, {threads} thread(s) each ({} cores)",
                    trial_flags::cores()
                )
            };
            let setup = format!(
                "{} schedules x {seeds} seeds on {data_name}: model {}, optimizer {:?}, batch {}, {} epochs; {at_once}.",
                entries.len(),
                a.model,
                a.optimizer,
                // As trained: a batch above the rows is the rows.
                a.batch_size.min(split.train.len()),
                a.epochs
            );
            (candidates, setup, "the built-in trainer".to_string())
        }
    };
    // The folder last, once every setting is known good (a refused run leaves none):
    // one run per folder, the lock held until this process ends, so a second compare on
    // the same --out is refused at once instead of mixing its trials' lines into this
    // one's (and a SLURM rerun never runs beside the run it continues).
    let (out, _lock) = report::locked_out_dir("compare", args.out.as_deref(), !resumable)?;
    let out = std::fs::canonicalize(&out).unwrap_or(out);
    let launcher = args.launch.launcher(&out, "compare")?;
    let spec = CompareSpec {
        candidates,
        seeds: (0..seeds).map(|i| a.seed + i).collect(),
        epochs: a.epochs,
        metric: args.trials.metric(),
        target,
        margin: args.margin,
        chance,
        jobs,
        dir: out.clone(),
        launcher,
    };
    if args.launch.is_slurm() {
        check_identity(&spec, args.out.is_some() && resumable)?;
    }
    let bar = Bar::new(&spec, a.quiet);
    let result = tool::compare(&spec, &|e| bar.event(e));
    bar.finish();
    let result = result.map_err(UserError)?;
    if let (Some(t), false) = (&result.timings, a.quiet) {
        eprintln!("slurm: {}", lrsched_tools::slurm::describe_timings(t));
    }

    let setup = format!("{setup} {:.1} s in all.", result.wall_seconds);
    tool::write_metrics(&out, &result).map_err(UserError)?;
    tool::write_summary(&out, &result).map_err(UserError)?;
    let sections = tool::sections(&result, &setup, &trainer_text);
    let html = out.join("report.html");
    report::write_html(&html, "lrsched compare", &report::command_line(), &sections)?;
    for run in result.runs.iter().filter(|r| !r.result.status.is_usable()) {
        eprintln!(
            "note: `{}` seed {}: {} ({})",
            result.names[run.candidate],
            run.seed,
            run.result.status,
            run.input.dir.display()
        );
    }
    print_table(&compact(&tool::ranking_table(&result)));
    println!();
    for line in &result.verdict {
        println!("{line}");
    }
    println!("report: {}", html.display());
    if !result.runs.iter().any(|r| r.result.status.is_usable()) {
        report::exit_no_trial_completed(&report::count_outcomes(
            result.runs.iter().map(|r| r.result.status.word()),
        ));
    }
    Ok(())
}

/// Whether `--metric` (or the default, val_acc) is an accuracy, bounded by 0 and 1.
fn metric_is_accuracy(args: &CompareArgs) -> bool {
    args.trials
        .metric()
        .is_none_or(|m| m.name.to_ascii_lowercase().contains("acc"))
}

/// `--margin` and `--chance`: finite, a margin not negative, and for an accuracy within
/// what an accuracy can be.
fn check_margin_and_chance(args: &CompareArgs) -> Result<(), UserError> {
    let acc = metric_is_accuracy(args);
    if let Some(m) = args.margin {
        if !m.is_finite() || m < 0.0 || (acc && m >= 1.0) {
            return Err(UserError(format!(
                "--margin {m} is not allowed: must be a finite number >= 0 in the metric's units (below 1 for an accuracy)"
            )));
        }
    }
    if let Some(c) = args.chance {
        if !c.is_finite() || (acc && !(0.0..=1.0).contains(&c)) {
            return Err(UserError(format!(
                "--chance {c} is not allowed: must be a finite number (between 0 and 1 for an accuracy)"
            )));
        }
    }
    Ok(())
}

/// What an accuracy is for a model that learned nothing: the largest class's share of
/// the validation rows (predicting it always scores that); `None` without labels.
fn majority_share(split: &Split) -> Option<f64> {
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

/// `--jobs` of compare, find-lr and tune: at most [`MAX_JOBS`] (each job is a thread and,
/// with --command, a process; more is a typo that would start thousands).
pub fn check_jobs(jobs: Option<usize>) -> Result<(), UserError> {
    match jobs {
        Some(j) if j > MAX_JOBS => Err(UserError(format!(
            "--jobs {j} is not allowed: must be between 1 and {MAX_JOBS}"
        ))),
        _ => Ok(()),
    }
}

/// Most seeds per schedule: enough for any test, and a bound on the work a typo asks for.
const MAX_SEEDS: u64 = 1000;
/// Most trials at once.
pub const MAX_JOBS: usize = 256;

/// A candidate's schedule as the trial gets it: `--lr` where a PyTorch config leaves its
/// base rate out, the entry's interval (or `--schedule-interval`) as an `interval` key.
fn candidate_schedule(a: &TrainArgs, e: &Entry) -> Value {
    let mut schedule = e.schedule.clone();
    let name = schedule
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(map) = schedule.as_object_mut() {
        if lrsched::torch::CLASS_NAMES.contains(&name.as_str()) {
            if let Some(lr) = a.lr {
                map.entry("lr").or_insert(lr.into());
            }
        }
        let interval = e.interval.or(a.schedule_interval).map(|i| match i {
            IntervalArg::Step => "step",
            IntervalArg::Epoch => "epoch",
        });
        if let Some(i) = interval {
            map.insert("interval".into(), i.into());
        }
    }
    schedule
}

/// The progress bar, fed by what the trials report: trials done, epochs, the last
/// metric, ETA.
struct Bar {
    bar: Option<ProgressBar>,
    trials: usize,
    quiet: bool,
    done: std::sync::atomic::AtomicUsize,
}

impl Bar {
    fn new(spec: &CompareSpec, quiet: bool) -> Bar {
        let trials = spec.candidates.len().saturating_mul(spec.seeds.len());
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new((trials as u64).saturating_mul(spec.epochs));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:20}] {pos}/{len} epochs  ETA {eta}  {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("trials 0/{trials}"));
            bar
        });
        Bar {
            bar,
            trials,
            quiet,
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn event(&self, e: TrialEvent<'_>) {
        match (&e, &self.bar) {
            (TrialEvent::Note { text }, Some(bar)) => bar.println(text),
            (TrialEvent::Note { text }, None) if !self.quiet => eprintln!("{text}"),
            (
                TrialEvent::Queue {
                    pending,
                    running,
                    done,
                    failed,
                },
                bar,
            ) => {
                let line = format!(
                    "queue: {pending} pending, {running} running, {done} done, {failed} failed"
                );
                match bar {
                    Some(b) => b.set_message(line),
                    None if !self.quiet => eprintln!("{line}"),
                    None => {}
                }
            }
            _ => {}
        }
        let Some(bar) = &self.bar else { return };
        match e {
            TrialEvent::Line {
                input,
                line: Line::Epoch(l),
                ..
            } => {
                bar.inc(1);
                let shown = ["val_acc", "val_loss"]
                    .iter()
                    .find_map(|k| l.get(k).map(|v| format!(" {k} {v:.4}")))
                    .unwrap_or_default();
                let mut msg = format!("{} epoch {}{shown}", input.name, l.epoch);
                msg.truncate(40);
                bar.set_message(msg);
            }
            TrialEvent::Finished { input, result, .. } => {
                let k = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                bar.set_prefix(format!("trials {k}/{}", self.trials));
                // A trial that ended early leaves its remaining epochs to account for.
                let reported = result.epochs.len() as u64;
                bar.inc(input.epochs.saturating_sub(reported));
            }
            _ => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
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
        // The core's one JSON reader: a key given twice is refused, naming it.
        lrsched::config::json_value(&text).map_err(|e| at(e.to_string()))?
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

/// The file in `--out/slurm/` naming the comparison a SLURM run there belongs to.
const COMPARE_IDENTITY: &str = "compare.json";

/// A SLURM comparison's folder holds one comparison: its trials (names, schedules,
/// seeds, epochs, trainers) are written on the first run and must match on a rerun, so
/// a rerun with other schedules never collects another comparison's results.
fn check_identity(spec: &CompareSpec, rerun: bool) -> Result<(), UserError> {
    let id = serde_json::json!({
        "candidates": spec.candidates.iter().map(|c| serde_json::json!({
            "name": c.name,
            "schedule": c.schedule,
            "trainer": c.trainer.describe(),
        })).collect::<Vec<_>>(),
        "seeds": spec.seeds,
        "epochs": spec.epochs,
    });
    let path = spec.dir.join("slurm").join(COMPARE_IDENTITY);
    let text = serde_json::to_string_pretty(&id).expect("JSON values serialise") + "\n";
    if rerun {
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        if before != text {
            return Err(UserError(format!(
                "--out {} holds another comparison (other schedules, seeds, epochs or trainer; see {}): choose a new folder, or rerun with the same flags to go on",
                spec.dir.display(),
                path.display()
            )));
        }
        return Ok(());
    }
    std::fs::create_dir_all(spec.dir.join("slurm"))
        .map_err(|e| UserError(format!("cannot create {}: {e}", spec.dir.display())))?;
    lrsched_tools::files::write_atomic(&path, text.as_bytes()).map_err(UserError)
}

/// The `train` flags that make a node's `lrsched train` train as `entry_config` does
/// here: the flags typed (data paths absolute), with the preset's and the entry's own
/// settings (optimizer) in place of the typed ones, on one thread.
fn entry_flags(a: &TrainArgs, e: &Entry, m: &ArgMatches) -> Vec<String> {
    fn name<T: ValueEnum>(v: T) -> String {
        v.to_possible_value()
            .map(|p| p.get_name().to_string())
            .unwrap_or_default()
    }
    // What a preset or an entry may set, written from the effective settings.
    const SET_HERE: [&str; 8] = [
        "data",
        "model",
        "batch_norm",
        "init",
        "optimizer",
        "batch_size",
        "lr",
        "momentum",
    ];
    let mut flags: Vec<String> = trial_flags::given_train_flags(m)
        .into_iter()
        .filter(|(id, _)| {
            !trial_flags::PER_TRIAL.contains(&id.as_str())
                && !SET_HERE.contains(&id.as_str())
                && !matches!(id.as_str(), "schedule_interval")
        })
        .flat_map(|(_, w)| w)
        .collect();
    flags.extend(["--data".into(), name(a.data)]);
    flags.extend(["--model".into(), a.model.clone()]);
    if a.batch_norm {
        flags.push("--batch-norm".into());
    }
    flags.extend(["--init".into(), name(a.init)]);
    flags.extend([
        "--optimizer".into(),
        name(e.optimizer.unwrap_or(a.optimizer)),
    ]);
    flags.extend(["--batch-size".into(), a.batch_size.to_string()]);
    if let Some(lr) = a.lr {
        flags.extend(["--lr".into(), lr.to_string()]);
    }
    if let Some(m) = a.momentum {
        flags.extend(["--momentum".into(), m.to_string()]);
    }
    // No --threads: on a node, `train` uses the cores the task was given.
    flags
}

/// The run config of one schedule, built as `train` builds it, on one thread.
fn entry_config(
    a: &TrainArgs,
    e: &Entry,
    data_name: &str,
    split: &Split,
    threads: usize,
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
    // The cores shared among the runs at once (`share_cores`); the numbers are the same
    // bits for any thread count, so --jobs changes only the time.
    config.threads = threads;
    Ok(config)
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

/// The ranking's main columns on one line each, to fit a terminal; report.html has them
/// all.
fn compact(t: &Table) -> Table {
    let keep: Vec<usize> = t
        .header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            !(h.starts_with("best ") || h.starts_with("seconds") || h.starts_with("P("))
        })
        .map(|(i, _)| i)
        .collect();
    let pick = |row: &Vec<String>| {
        keep.iter()
            .map(|&i| {
                let cell = row.get(i).cloned().unwrap_or_default();
                // A failure's detail stays in the report; the terminal gets the count.
                cell.split('\n').next().unwrap_or("").to_string()
            })
            .collect()
    };
    Table {
        header: pick(&t.header),
        rows: t.rows.iter().map(pick).collect(),
    }
}
