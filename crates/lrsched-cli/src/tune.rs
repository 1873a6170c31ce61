//! `lrsched tune`: the flags become a [`TuneSpec`] and a trainer once, then
//! `lrsched_tools::tune` runs the search; this file only prints (progress, the table)
//! and writes the report.
//!
//! Every trial runs as a program speaking the trial protocol (docs/protocol.md): the
//! user's `--command`, or, without it, this very executable's `train` with the training
//! flags given here, so the built-in trainer runs exactly as a user's program would.

use crate::report::{self, Section};
use crate::train::{self, TrainArgs};
use crate::trial_flags::{
    built_in_command, typed_train_flags, CommandArgs, LauncherArgs, PER_TRIAL,
};
use crate::UserError;
use clap::{ArgMatches, Args};
use indicatif::ProgressBar;
use lrsched_tools::process::CommandTrainer;
use lrsched_tools::protocol::Line;
use lrsched_tools::run_spec::RunSpec;
use lrsched_tools::runner::TrialEvent;
use lrsched_tools::trainer::Trainer;
use lrsched_tools::tune::{
    self as lib, output, predictive, seeds, space::Space, Mode, ScoreBy, Strategy, TuneSpec,
};
use lrsched_tools::{candidates, cores};
use serde_json::{json, Map};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The search-space format, shown in `--help`.
pub const SPACE_HELP: &str = "Search space (--space FILE, TOML):
  schedule = \"warmup(steps={warmup}, schedule=cosine(lr={lr}, steps=100%))\"
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
    #[arg(long)]
    pub space: PathBuf,
    /// grid, random, asha (asynchronous successive halving: weak trials stop at rungs) or
    /// predict (two fitting runs, the loss-curve law predicts the grid, the --top-k best run).
    #[arg(long, default_value = "random")]
    pub strategy: String,
    /// Values per range of the grid (choices always give all of theirs); default 3 for
    /// --strategy grid, 9 for predict (predicting a point costs no run).
    #[arg(long)]
    pub grid_points: Option<usize>,
    /// predict: configurations run to confirm the prediction, the best predicted first
    /// (default 3, or the whole grid when smaller).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Re-evaluate the top configurations over this many seeds (from --seed on) before
    /// naming a best; 1: the search's one seed, and configurations within the margin of the
    /// best are said to be a tie.
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// With --seeds: how many of the top configurations to re-evaluate (default 3; every
    /// one tied with the best at one seed is added).
    #[arg(long)]
    pub reevaluate: Option<usize>,
    /// predict: the fitting runs' rate (default: the highest peak rate of the grid).
    #[arg(long)]
    pub fit_lr: Option<f64>,
    /// Configurations for --strategy random and asha.
    #[arg(long, default_value_t = 9)]
    pub trials: usize,
    /// Seed of the random sampling (default: --seed).
    #[arg(long)]
    pub search_seed: Option<u64>,
    /// asha: a trial goes on past a rung only in the top 1/eta of those that reached it.
    #[arg(long, default_value_t = 3)]
    pub eta: u64,
    /// asha: epochs of the first rung; rungs grow by eta below --epochs.
    #[arg(long, default_value_t = 1)]
    pub min_epochs: u64,
    /// The metric that scores (default: val_acc when the trials report it, else val_loss).
    #[arg(long)]
    pub metric: Option<String>,
    /// max or min (default: max for names with acc/accuracy/auc/f1/score/iou/map/bleu/r2).
    #[arg(long)]
    pub mode: Option<String>,
    /// Score by the metric at the last epoch (final) or its best epoch (best).
    #[arg(long, default_value = "final")]
    pub score: String,
    /// Trials run at once (default: the cores); the built-in trainer's runs share the cores
    /// among them (--threads overrides), which changes no result, only the time.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output folder (default runs/tune-<timestamp>/); rerun with the same one to resume.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one shell line per pending trial (environment + command) and exit, for a
    /// cluster's scheduler; the next tune on the folder collects what they wrote.
    #[arg(long)]
    pub print_trials: bool,
    /// How a trial runs when it is a program of yours; --trial-timeout bounds the
    /// built-in trainer's trials too (each is a process).
    #[command(flatten)]
    pub command: CommandArgs,
    #[command(flatten)]
    pub launch: LauncherArgs,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `lrsched tune`.
pub fn run(a: &TuneArgs, m: &ArgMatches) -> Result<(), UserError> {
    train::check_epochs(a.train.epochs)?;
    // The space first: the grid's size is known from it before any trial is made.
    let space = Space::read(&a.space).map_err(UserError)?;
    let strategy = lib::StrategyChoice {
        name: &a.strategy,
        grid_points: a
            .grid_points
            .unwrap_or(if a.strategy == "predict" { 9 } else { 3 }),
        trials: a.trials,
        seed: a.search_seed.unwrap_or(a.train.seed),
        eta: a.eta,
        min_epochs: a.min_epochs,
        epochs: a.train.epochs,
        top_k: a.top_k,
        fit_lr: a.fit_lr,
    }
    .strategy(&space)
    .map_err(UserError)?;
    let mode = a
        .mode
        .as_deref()
        .map(Mode::from_name)
        .transpose()
        .map_err(UserError)?;
    let score = ScoreBy::from_name(&a.score).map_err(UserError)?;
    check_seeds(a)?;
    crate::compare::check_jobs(a.jobs)?;
    if a.jobs == Some(0) {
        return Err(UserError(
            "--jobs 0 is not allowed: must be at least 1".into(),
        ));
    }
    let command = a.command.checked(true)?;
    let timeout = a.command.timeout()?;
    // How the built-in runs share the cores: said once every flag is known good.
    let mut sharing = None;
    let (command, trainer_id, compare_extra, run) = match command {
        Some(mut t) => {
            if let Some((_, long)) = typed_train_flags(m, &PER_TRIAL).first() {
                return Err(UserError(format!(
                    "{long} is not allowed with --command: the program chooses its own data, model and optimizer (tune gives it only the schedule, --seed and --epochs)"
                )));
            }
            // Read the metrics every 10 ms, not 50: a trial's end is seen sooner (the
            // per-trial cost measured in the reply), and reading a small file is cheap.
            t.poll = Duration::from_millis(10);
            let c = &a.command;
            let id =
                json!({"command": c.command, "cwd": c.cwd, "steps_per_epoch": c.steps_per_epoch});
            (Some(t), id.to_string(), Map::new(), None)
        }
        None => {
            // Threads per trial: the user's, or the cores shared among the trials at once
            // (on a cluster, each task's own allocation, which `train` reads itself).
            let mut shared = None;
            let threads = match a.train.threads {
                Some(t) => Some(t),
                None if a.launch.is_slurm() => None,
                None => {
                    let trials = strategy.trials(&space);
                    let (jobs, threads) = cores::share(trials, a.jobs, cores::available());
                    shared = Some(jobs);
                    Some(threads)
                }
            };
            if let (Some(jobs), Some(threads)) = (shared, threads) {
                sharing = Some(format!(
                    "{jobs} trial(s) at once, {threads} thread(s) each ({} cores)",
                    cores::available()
                ));
            }
            // Trials at once, for the memory they need together.
            let runs = match shared {
                Some(jobs) => jobs,
                None if a.launch.is_slurm() => 1,
                None => cores::jobs(a.jobs, None),
            };
            let (run, id, extra) = built_in(a, m, threads, runs)?;
            (None, id, extra, Some(run))
        }
    };
    a.launch.check()?;
    let predictive = matches!(strategy, Strategy::Predict { .. });
    if a.print_trials && predictive {
        return Err(UserError(
            "--print-trials is not allowed with --strategy predict: which trials run depends on the fitting runs' results".into(),
        ));
    }
    if a.print_trials && a.launch.is_slurm() {
        return Err(UserError(
            "--print-trials prints the trials for a scheduler of your own; --launcher slurm submits them itself: give one".into(),
        ));
    }
    let dir = report::out_dir("tune", a.out.as_deref())?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let launcher = a.launch.launcher(&dir, "tune")?;
    let jobs = match a.jobs {
        // The cluster decides how many run; lrsched does not throttle it.
        None if a.launch.is_slurm() => lib::space::MAX_TRIALS,
        jobs => cores::jobs(jobs, None),
    };
    let spec = TuneSpec {
        space,
        strategy,
        epochs: a.train.epochs,
        seed: a.train.seed,
        metric: a.metric.clone(),
        mode,
        score,
        jobs,
        out: dir.clone(),
        trainer_id,
        launcher,
    };
    let lock = lib::OutLock::acquire(&spec.out).map_err(UserError)?;
    // The built-in trainer is this program's `train` per trial, reading the run from a
    // spec file in --out (written under the lock).
    let trainer = match (command, run) {
        (Some(t), _) => t,
        (None, run) => {
            let path = dir.join("run_spec.json");
            run.expect("the built-in trainer has a run spec")
                .write(&path)
                .map_err(UserError)?;
            let mut t = CommandTrainer::new(built_in_command(&path)?);
            t.timeout = timeout;
            t.poll = Duration::from_millis(10);
            t
        }
    };
    let mut plan = lib::plan(&spec).map_err(UserError)?;
    if let Strategy::Random { trials, .. } | Strategy::Asha { trials, .. } = spec.strategy {
        if plan.trials.len() < trials && !a.train.quiet {
            eprintln!(
                "note: the space holds {} distinct schedules (values are written to a few significant digits): {} trials, not {trials}",
                plan.trials.len(),
                plan.trials.len()
            );
        }
    }
    if predictive {
        let total = plan.trials.len();
        let Strategy::Predict { top_k, .. } = spec.strategy else {
            unreachable!("a predictive search has the predict strategy")
        };
        predictive::grid_peak(&plan, spec.epochs).map_err(UserError)?;
        let progress = Progress::new(2 + top_k, a.train.quiet, a.train.epochs);
        if !a.train.quiet {
            eprintln!(
                "predicting {total} configuration(s) from 2 fitting runs; the {top_k} best predicted run to confirm"
            );
            if let Some(line) = &sharing {
                eprintln!("{line}");
            }
        }
        let trainer = Trainer::Command(trainer);
        let found = predictive::run(&spec, plan, &trainer, &|ev| progress.hear(ev));
        progress.finish();
        let mut found = found.map_err(UserError)?;
        let seeded = over_seeds(a, &spec, &mut found.result, &trainer)?;
        drop(lock);
        return finish_predictive(&found, &spec.out, &compare_extra, seeded);
    }
    lib::write_inputs(&spec, &plan).map_err(UserError)?;
    let collected = lib::collect_external(&spec, &mut plan).map_err(UserError)?;
    if collected > 0 && !a.train.quiet {
        eprintln!("collected {collected} trial(s) run from --print-trials lines");
    }
    if a.print_trials {
        let pending = plan.pending();
        for t in &pending {
            println!("{}", lib::command_line_for(&trainer, &t.input));
        }
        if pending.is_empty() {
            eprintln!("every trial has a result: nothing to run");
        } else if matches!(spec.strategy, Strategy::Asha { .. }) {
            eprintln!("note: trials run from these lines go to the end: pruning needs lrsched to watch them");
        }
        return Ok(());
    }
    let pending = plan.pending().len();
    if let (Some(line), false, true) = (&sharing, a.train.quiet, pending > 0) {
        eprintln!("{line}");
    }
    let progress = Progress::new(pending, a.train.quiet, a.train.epochs);
    let trainer = Trainer::Command(trainer);
    let result = lib::run(&spec, plan, &trainer, &|ev| progress.hear(ev));
    progress.finish();
    let mut result = result.map_err(UserError)?;
    if let (Some(t), false) = (&result.timings, a.train.quiet) {
        eprintln!("slurm: {}", lrsched_tools::slurm::describe_timings(t));
    }
    let seeded = over_seeds(a, &spec, &mut result, &trainer)?;
    drop(lock);
    finish(&result, &spec.out, &compare_extra, Vec::new(), seeded)
}

/// With `--seeds N` (N > 1), the search's top configurations re-evaluated over seeds,
/// their best named the search's best (`result.chosen`); `None` at one seed.
fn over_seeds(
    a: &TuneArgs,
    spec: &TuneSpec,
    result: &mut lib::TuneResult,
    trainer: &Trainer,
) -> Result<Option<seeds::Reevaluation>, UserError> {
    if a.seeds < 2 || result.best().is_none() {
        return Ok(None);
    }
    let count = a.reevaluate.unwrap_or(seeds::DEFAULT_REEVALUATE);
    if !a.train.quiet {
        eprintln!(
            "re-evaluating the top {count} configuration(s) (and any tied with the best) at {} more seed(s)",
            a.seeds - 1
        );
    }
    let progress = Progress::new(count * (a.seeds - 1), a.train.quiet, a.train.epochs);
    let found = seeds::reevaluate(
        spec,
        result,
        trainer,
        &|ev| progress.hear(ev),
        a.seeds,
        count,
    );
    progress.finish();
    let found = found.map_err(UserError)?;
    result.chosen = found.best().map(|c| c.key.clone());
    Ok(Some(found))
}

/// Checks `--seeds` and `--reevaluate` before anything runs.
fn check_seeds(a: &TuneArgs) -> Result<(), UserError> {
    if a.seeds == 0 || a.seeds > seeds::MAX_SEEDS {
        return Err(UserError(format!(
            "--seeds {} is not allowed: must be between 1 and {}",
            a.seeds,
            seeds::MAX_SEEDS
        )));
    }
    if let Some(k) = a.reevaluate {
        if k == 0 || k > seeds::MAX_REEVALUATE {
            return Err(UserError(format!(
                "--reevaluate {k} is not allowed: must be between 1 and {}",
                seeds::MAX_REEVALUATE
            )));
        }
        if a.seeds < 2 {
            return Err(UserError(format!(
                "--reevaluate {k} needs --seeds 2 or more: it says how many configurations the extra seeds re-run"
            )));
        }
    }
    Ok(())
}

/// The built-in trainer's run for every trial, checked here once (bad data or model
/// flags fail before any trial; --download happens here), with the key that names it
/// and what best_compare.json takes from the flags.
fn built_in(
    a: &TuneArgs,
    m: &ArgMatches,
    threads: Option<usize>,
    runs: usize,
) -> Result<(RunSpec, String, Map<String, serde_json::Value>), UserError> {
    for (id, long) in typed_train_flags(m, &[]) {
        if matches!(id.as_str(), "schedule" | "schedule_config") {
            return Err(UserError(format!(
                "{long} is not allowed: tune takes the schedule from --space"
            )));
        }
        if matches!(
            id.as_str(),
            "metrics_out" | "checkpoint_dir" | "resume" | "keep_checkpoints" | "overwrite"
        ) {
            return Err(UserError(format!(
                "{long} is not allowed with tune: each trial writes its own result"
            )));
        }
    }
    let spec = a.train.spec();
    let (split, mut config) = train::load(&spec)?;
    // Each trial is a process of its own (its own data too), `runs` of them at once.
    if let Some(n) = threads {
        config.threads = n;
    }
    spec.check_memory(&config, &split, runs, false)
        .map_err(UserError)?;
    let run = RunSpec {
        threads,
        ..spec.for_trials()
    };
    // The key names the run, not what each trial sets (seed, epochs) nor the threads
    // (they change no result).
    let key = RunSpec {
        threads: None,
        seed: 0,
        epochs: 1,
        ..run.clone()
    };
    let id = json!({ "built_in": key }).to_string();
    let mut extra = Map::new();
    if typed_train_flags(m, &[])
        .iter()
        .any(|(id, _)| id == "optimizer")
    {
        // compare --schedules takes the optimizer with the schedule.
        let flag = candidates::OPTIMIZERS
            .iter()
            .find(|(_, k)| *k == spec.optimizer);
        if let Some((name, _)) = flag {
            extra.insert("optimizer".into(), json!(name));
        }
    }
    Ok((run, id, extra))
}

/// A progress bar fed by the trials' reports: trials done, the latest epoch and metric.
struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    total: usize,
    epochs: u64,
    done: AtomicUsize,
}

impl Progress {
    fn new(total: usize, quiet: bool, epochs: u64) -> Progress {
        let bar = crate::notes::progress_bar(
            quiet || total == 0,
            total as u64,
            "{prefix} [{bar:30}] {pos}/{len} trials {msg} ETA {eta}",
        );
        Progress {
            bar,
            quiet,
            total,
            epochs,
            done: AtomicUsize::new(0),
        }
    }

    fn hear(&self, ev: TrialEvent<'_>) {
        match ev {
            TrialEvent::Line {
                input,
                line: Line::Epoch(e),
                ..
            } => {
                if let Some(b) = &self.bar {
                    let m = e
                        .get("val_acc")
                        .map(|v| format!("val_acc {:.2}%", v * 100.0))
                        .or_else(|| e.get("val_loss").map(|v| format!("val_loss {v:.4}")))
                        .unwrap_or_default();
                    b.set_message(format!(
                        "({} epoch {}/{} {m})",
                        input.name, e.epoch, self.epochs
                    ));
                }
            }
            ev @ (TrialEvent::Note { .. } | TrialEvent::Queue { .. }) => {
                report::queue_or_note(&ev, self.bar.as_ref(), self.quiet, |b, l| b.set_prefix(l));
            }
            TrialEvent::Finished { input, result, .. } => {
                let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
                match &self.bar {
                    Some(b) => b.set_position(n as u64),
                    None if !self.quiet => {
                        eprintln!("trial {n}/{} {}: {}", self.total, input.name, result.status)
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A predicted search's tables, files and report: the confirmed trials as any search's,
/// with the prediction beside them.
fn finish_predictive(
    found: &predictive::PredictiveResult,
    dir: &std::path::Path,
    extra: &Map<String, serde_json::Value>,
    seeded: Option<seeds::Reevaluation>,
) -> Result<(), UserError> {
    println!("{}", found.fit_line());
    let (header, rows) = found.table(5);
    print!("{}", output::format_table(&header, &rows));
    println!("{}", found.accuracy_line());
    println!("{}\n", found.compute_line());
    found.write(dir).map_err(UserError)?;
    let section = found.section().map_err(UserError)?;
    finish(&found.result, dir, extra, vec![section], seeded)?;
    println!("wrote {}", dir.join("predictions.json").display());
    Ok(())
}

/// Table, files, plots and report (`extra_sections` after the best in the report), the
/// re-evaluation over seeds when there was one, else the tie at one seed when there is one.
fn finish(
    r: &lib::TuneResult,
    dir: &std::path::Path,
    extra: &Map<String, serde_json::Value>,
    mut extra_sections: Vec<Section>,
    seeded: Option<seeds::Reevaluation>,
) -> Result<(), UserError> {
    let (header, rows) = output::table(r);
    print!("{}", output::format_table(&header, &rows));
    let verdict = match &seeded {
        Some(found) => {
            let (header, rows) = found.table(r);
            println!("\n{}:", found.heading());
            print!("{}", output::format_table(&header, &rows));
            found.write(dir).map_err(UserError)?;
            extra_sections.insert(0, found.section(r));
            Some(found.sentence())
        }
        None => seeds::tie_at_one_seed(r).map(|t| {
            extra_sections.insert(0, t.section());
            t.sentence()
        }),
    };
    let w = output::write_files(r, dir, extra).map_err(UserError)?;
    for n in &w.notes {
        eprintln!("note: {n}");
    }
    match (r.best(), &w.best, &w.best_compare) {
        (Some(b), Some(best), Some(cmp)) => {
            let score = match seeded
                .as_ref()
                .and_then(|f| Some((f.best()?, f.seeds.len())))
            {
                Some((c, n)) => format!(
                    "IQM {} {} over {n} seeds",
                    r.metric,
                    output::fmt_score(r, Some(c.iqm))
                ),
                None => format!(
                    "{} {}",
                    output::score_name(r),
                    output::fmt_score(r, b.score)
                ),
            };
            println!(
                "\nbest: {score} with {} ({} epochs; trial {})",
                b.line, b.budget, b.key
            );
            println!(
                "wrote {} (for train --schedule-config) and {} (for compare --schedules)",
                best.display(),
                cmp.display()
            );
        }
        _ => println!(
            "\nno trial has a score (every one diverged, failed or was stopped): no best.json"
        ),
    }
    if let Some(v) = &verdict {
        println!("{v}");
    }
    let mut sections: Vec<Section> = output::sections(r, &w.svgs);
    for (i, s) in extra_sections.into_iter().enumerate() {
        sections.insert(1 + i, s);
    }
    report::write_html(
        &dir.join("report.html"),
        "lrsched tune",
        &report::command_line(),
        &sections,
    )?;
    println!("wrote {}", dir.join("report.html").display());
    if !r.rows.iter().any(|t| t.record.is_usable()) {
        report::exit_no_trial_completed(&report::count_outcomes(
            r.rows.iter().map(|t| t.record.outcome.as_str()),
        ));
    }
    Ok(())
}

/// `--help` text for the subcommand: examples and the space format.
pub fn after_help() -> String {
    format!(
        "Examples:\n  lrsched tune --space space.toml --strategy grid --grid-points 3 --epochs 5 --out runs/tune1\n  lrsched tune --space space.toml --strategy random --trials 20 --search-seed 1 --jobs 2\n  lrsched tune --space space.toml --strategy asha --trials 27 --eta 3 --min-epochs 1 --epochs 9\n  lrsched tune --space space.toml --strategy predict --grid-points 9 --top-k 3 --epochs 3\n  lrsched tune --space space.toml --command \"python train.py --data-dir data\" --strategy asha --trial-timeout 600\n  lrsched tune --space space.toml --command \"python train.py\" --launcher slurm --slurm-args \"--gres=gpu:1 --time=02:00:00\" --jobs 16 --out /shared/tune1\n  lrsched tune --space space.toml --out runs/tune1 --print-trials | while read -r c; do sbatch --wrap \"$c\"; done\n  lrsched train --schedule-config runs/tune1/best.json --epochs 5\n\n{SPACE_HELP}\n\nEach trial runs a program speaking the trial protocol (docs/protocol.md): --command CMD, or\nthis program's `train` with the training flags given here. Its key is the first 16 hex digits\nof the SHA-256 of its schedule, seed, epochs and trainer; its input is trials/KEY/trial.json and\nits outcome trials/KEY/result.json (written atomically when it ends). A rerun with the same\n--out runs only trials without a result; a second tune on the same --out is refused (lock).\nA trial that fails, hangs past --trial-timeout, reports NaN or writes a bad line is a result.\nWith --launcher slurm the trials are one job array (docs/slurm.md): a rerun on the same --out\nwatches tasks still queued or running and submits only the rest; Ctrl-C cancels them.\nOutputs in --out: results.csv, results.jsonl, best.json (for train --schedule-config),\nbest_compare.json (for compare --schedules), score-vs-<param>.png/.svg, report.html;\nwith --strategy predict also predictions.json (docs/predict.md)."
    )
}
