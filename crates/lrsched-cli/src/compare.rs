//! `lrsched compare`: the same model on the same data under several schedules, each over
//! the same seeds, runs in parallel; a ranking table, a verdict, plots and a report.

use crate::report::{self, Table};
use crate::train::{self, OptimizerArg, TrainArgs};
use crate::trial_flags::{self, CommandArgs, LauncherArgs};
use crate::UserError;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use indicatif::ProgressBar;
use lrsched_tools::candidates;
use lrsched_tools::compare::{self as tool, Candidate, CompareSpec, Metric};
use lrsched_tools::cores;
use lrsched_tools::process::CommandTrainer;
use lrsched_tools::protocol::Line;
use lrsched_tools::run_spec::RunSpec;
use lrsched_tools::runner::TrialEvent;
use lrsched_tools::trainer::{BuiltIn, Trainer};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

mod workloads;

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
    /// Several workloads at once: a TOML or JSON list of `[[workloads]]`, each a name, a
    /// `target` and either a `command` or a built-in `data` set (docs/workloads.md); the
    /// same schedules run on each, in one folder of --out per workload, scored across
    /// them as AlgoPerf does (workloads.json, report.html).
    #[arg(long, value_name = "FILE")]
    pub workloads: Option<PathBuf>,
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
    /// The --command program honours LRSCHED_OPTIMIZER (docs/protocol.md): it builds the
    /// optimizer a trial asks for and says so in optimizer.json, so the schedule-free and
    /// LR-free baselines (and --schedules entries with an `optimizer`) are offered to it.
    /// A trial that does not confirm its optimizer is bad output, never ranked.
    #[arg(long, requires = "command")]
    pub honours_optimizer: bool,
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

impl From<Preset> for candidates::Preset {
    fn from(p: Preset) -> Self {
        match p {
            Preset::Xor => candidates::Preset::Xor,
            Preset::Mnist => candidates::Preset::Mnist,
        }
    }
}

/// `lrsched compare`: flags to a [`CompareSpec`] once, the comparison in
/// `lrsched_tools::compare`, then the table, the verdict and the files; with
/// `--workloads`, that for each workload and the score across them ([`workloads`]).
pub fn run(args: &CompareArgs, matches: &ArgMatches) -> Result<(), UserError> {
    if let Some(file) = &args.workloads {
        return workloads::run(file, args, matches);
    }
    let result = run_one(args, matches)?;
    if !result.runs.iter().any(|r| r.result.status.is_usable()) {
        report::exit_no_trial_completed(&report::count_outcomes(
            result.runs.iter().map(|r| r.result.status.word()),
        ));
    }
    Ok(())
}

/// One comparison from its flags: run, printed, written into its `--out`; a comparison
/// where no trial completed is returned too (the caller decides what that ends).
fn run_one(args: &CompareArgs, matches: &ArgMatches) -> Result<tool::CompareResult, UserError> {
    let a = &args.train;
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
    let mut spec = a.spec();
    // The default of 15 epochs (set on the flag): long enough for the schedules to
    // differ, short enough to finish in seconds; a preset sets its own.
    let preset = args.preset.map(candidates::Preset::from);
    let defaults = preset.map(|p| p.apply(&mut spec, epochs_given));
    let seeds = args.seeds.or(defaults.map(|d| d.seeds));
    let target = args.target_acc.or(defaults.map(|d| d.target));
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
        if !t.is_finite() || (metric_is_accuracy(args) && !(0.0..=1.0).contains(&t)) {
            return Err(UserError(format!(
                "--target {t} is not allowed: an accuracy between 0 and 1 (or any finite value of --metric)"
            )));
        }
    }
    check_margin_and_chance(args)?;
    let mut entries = match (&args.schedules, preset) {
        (Some(path), _) => candidates::read_schedules(path).map_err(UserError)?,
        (None, Some(p)) => p.entries(&spec),
        (None, None) => candidates::default_set(&spec),
    };
    if command.is_some() && !args.trials.honours_optimizer {
        // A baseline of another optimizer (schedule-free, LR-free) needs the program to
        // build that optimizer; one that did not declare it honours LRSCHED_OPTIMIZER
        // trains with its own, so the baseline would only be a constant rate under
        // another name.
        if let (Some(path), Some(e)) = (
            &args.schedules,
            entries.iter().find(|e| e.optimizer.is_some()),
        ) {
            return Err(UserError(format!(
                "{}: `{}` names an optimizer, which a --command program builds only if it honours LRSCHED_OPTIMIZER: add --honours-optimizer if it does (docs/protocol.md), or remove the entry's `optimizer`",
                path.display(),
                e.name
            )));
        }
        let before = entries.len();
        entries.retain(|e| e.optimizer.is_none());
        if entries.len() < before {
            eprintln!(
                "note: the schedule-free and LR-free baselines are left out: they change the optimizer, which a --command program builds only if it honours LRSCHED_OPTIMIZER (--honours-optimizer, docs/protocol.md)"
            );
        }
    }
    args.launch.check()?;
    let slurm = args.launch.is_slurm();
    // A SLURM comparison may be run again on its folder to go on (tasks still queued are
    // watched, finished ones collected); any other folder in use is refused.
    let resumable = slurm
        && args
            .out
            .as_ref()
            .is_some_and(|o| o.join("slurm").join(COMPARE_IDENTITY).exists());
    let trials = entries.len() * seeds as usize;
    // Built-in runs share the cores: as many at once as there are cores (or --jobs), the
    // cores split among them; on a cluster, the scheduler decides how many run at once
    // and each task uses its own allocation.
    let (jobs, threads) = if slurm {
        let jobs = args.jobs.filter(|j| *j > 0).unwrap_or(MAX_JOBS);
        (jobs.min(MAX_JOBS), 1)
    } else {
        let (jobs, threads) =
            cores::share(trials, args.jobs.filter(|j| *j > 0), cores::available());
        (jobs.min(MAX_JOBS), threads)
    };
    let mut chance = args.chance;
    // On a cluster the built-in trainer is this program's `train` on each node, reading
    // its entry's run spec from a file in --out (written once the folder exists).
    let mut node_specs: Vec<RunSpec> = Vec::new();
    let (mut candidates, setup, trainer_text) = match &command {
        Some(c) => {
            let trainer = Trainer::Command(c.clone());
            let mut candidates = Vec::new();
            for e in &entries {
                let mut schedule = e.trial_schedule(&spec);
                if let Some(n) = c.steps_per_epoch {
                    let shape = lrsched::time::RunShape::new(n, 1).with_epochs(spec.epochs as f64);
                    lrsched::config::resolve_durations_with(&mut schedule, &shape)
                        .map_err(|err| UserError(format!("schedule `{}`: {err}", e.name)))?;
                }
                // An optimizer baseline asks the program for its optimizer (only reached
                // with --honours-optimizer, above); the trial must confirm it.
                let trainer = match (&trainer, candidates::optimizer_request(e)) {
                    (Trainer::Command(c), Some(request)) => {
                        let mut c = c.clone();
                        c.optimizer = Some(request);
                        Trainer::Command(c)
                    }
                    _ => trainer.clone(),
                };
                candidates.push(Candidate {
                    name: e.name.clone(),
                    schedule,
                    trainer,
                });
            }
            let setup = format!(
                "{} schedules x {seeds} seeds, {} epochs, {jobs} trials at once.",
                entries.len(),
                spec.epochs
            );
            (candidates, setup, trainer.describe())
        }
        None => {
            let (data_name, split) = spec.load_data().map_err(UserError)?;
            train::pool(cores::threads(spec.threads));
            if chance.is_none() && metric_is_accuracy(args) {
                chance = candidates::majority_share(&split);
            }
            let split = Arc::new(split);
            let mut candidates = Vec::new();
            for e in &entries {
                let run = e.run_spec(&spec);
                let named = |err: String| UserError(format!("schedule `{}`: {err}", e.name));
                let mut config = e
                    .schedule_spec()
                    .and_then(|s| run.build_config_with(data_name.clone(), &split, Some(s)))
                    .map_err(named)?;
                // The cores shared among the runs at once (`cores::share`); the numbers
                // are the same bits for any thread count, so --jobs changes only the time.
                config.threads = threads;
                let trainer = if slurm {
                    node_specs.push(run.for_trials());
                    // Replaced by the node's command once --out exists (below).
                    Trainer::Command(CommandTrainer::new(String::new()))
                } else {
                    // The runs at once share the data, each with its own model and buffers.
                    spec.check_memory(&config, &split, jobs, true)
                        .map_err(UserError)?;
                    Trainer::BuiltIn(Box::new(BuiltIn {
                        config,
                        split: split.clone(),
                    }))
                };
                candidates.push(Candidate {
                    name: e.name.clone(),
                    schedule: e.trial_schedule(&spec),
                    trainer,
                });
            }
            let at_once = if slurm {
                "trials on the SLURM cluster".to_string()
            } else {
                format!(
                    "{jobs} trial(s) at once, {threads} thread(s) each ({} cores)",
                    cores::available()
                )
            };
            let setup = format!(
                "{} schedules x {seeds} seeds on {data_name}: model {}, optimizer {:?}, batch {}, {} epochs; {at_once}.",
                entries.len(),
                spec.model,
                optimizer_label(spec.optimizer),
                // As trained: a batch above the rows is the rows.
                spec.batch_size.min(split.train.len()),
                spec.epochs
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
    let spec_path = |i: usize| out.join("slurm").join(format!("run-spec-{i}.json"));
    for (i, c) in candidates.iter_mut().enumerate().take(node_specs.len()) {
        let command = trial_flags::built_in_command(&spec_path(i))?;
        c.trainer = Trainer::Command(CommandTrainer::new(command));
    }
    let launcher = args.launch.launcher(&out, "compare")?;
    let run = spec;
    let spec = CompareSpec {
        candidates,
        seeds: (0..seeds).map(|i| run.seed + i).collect(),
        epochs: run.epochs,
        metric: args.trials.metric(),
        target,
        margin: args.margin,
        chance,
        jobs,
        dir: out.clone(),
        launcher,
    };
    if slurm {
        check_identity(&spec, &node_specs, args.out.is_some() && resumable)?;
        for (i, s) in node_specs.iter().enumerate() {
            s.write(&spec_path(i)).map_err(UserError)?;
        }
    }
    let bar = Bar::new(&spec, run.quiet);
    let result = tool::compare(&spec, &|e| bar.event(e));
    bar.finish();
    let result = result.map_err(UserError)?;
    if let (Some(t), false) = (&result.timings, run.quiet) {
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
    Ok(result)
}

/// The optimizer as the setup line has always shown it: its flag value's enum name
/// (`Momentum`, `SfAdamw`).
fn optimizer_label(kind: lrsched_train::optim::OptimizerKind) -> String {
    let flag = candidates::OPTIMIZERS.iter().find(|(_, k)| *k == kind);
    match flag.and_then(|(name, _)| OptimizerArg::from_str(name, false).ok()) {
        Some(arg) => format!("{arg:?}"),
        None => format!("{kind:?}"),
    }
}

/// Whether `--metric` (or the default, val_acc) is an accuracy, bounded by 0 and 1: the
/// library's one rule ([`Metric::is_fraction`]), so what is refused here is what scoring
/// treats as a fraction (a name with "acc" that `--mode min` turns is not one).
fn metric_is_accuracy(args: &CompareArgs) -> bool {
    args.trials.metric().is_none_or(|m| m.is_fraction())
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
        let bar = crate::notes::progress_bar(
            quiet,
            (trials as u64).saturating_mul(spec.epochs),
            "{prefix} [{bar:20}] {pos}/{len} epochs  ETA {eta}  {msg}",
        );
        if let Some(bar) = &bar {
            bar.set_prefix(format!("trials 0/{trials}"));
        }
        Bar {
            bar,
            trials,
            quiet,
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn event(&self, e: TrialEvent<'_>) {
        report::queue_or_note(&e, self.bar.as_ref(), self.quiet, |b, l| b.set_message(l));
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

/// The file in `--out/slurm/` naming the comparison a SLURM run there belongs to.
const COMPARE_IDENTITY: &str = "compare.json";

/// A SLURM comparison's folder holds one comparison: its trials (names, schedules,
/// seeds, epochs, trainers) are written on the first run and must match on a rerun, so
/// a rerun with other schedules never collects another comparison's results.
fn check_identity(spec: &CompareSpec, runs: &[RunSpec], rerun: bool) -> Result<(), UserError> {
    let id = serde_json::json!({
        "candidates": spec.candidates.iter().enumerate().map(|(i, c)| serde_json::json!({
            "name": c.name,
            "schedule": c.schedule,
            "trainer": c.trainer.describe(),
            "run": runs.get(i),
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
