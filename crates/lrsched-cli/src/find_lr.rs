//! `lrsched find-lr`: the flags turned into a `lrsched_tools::find_lr::FindLrSpec` and a
//! trainer once, the library's range test run with a progress bar, the suggestions
//! printed and the files written. Everything after the trainer (smoothing, stop rule,
//! rules, spread, report) is the library's, for the built-in trainer and `--command` alike.

use crate::report;
use crate::train::{self, TrainArgs};
use crate::trial_flags::{self, CommandArgs};
use crate::UserError;
use clap::{ArgMatches, Args};
use lrsched_tools::find_lr::{
    self, Apply, FindLrError, FindLrEvent, FindLrSpec, OptionError, RangeMode, ValidateSpec,
    DEFAULT_END, DEFAULT_START, DEFAULT_STEPS,
};
use lrsched_tools::runner::TrialEvent;
use lrsched_tools::trainer::{BuiltIn, Trainer};
use lrsched_tools::{find_lr_files, process};
use lrsched_train::trainer::Engine;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Exit status when no seed gave a curve.
const EXIT_ALL_FAILED: u8 = 1;
/// Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
const EXIT_CANCELLED: u8 = 130;

/// The flags of `find-lr`: every `train` flag (model, data, optimizer, batch size, seed)
/// for the built-in trainer, the range test's own, and the flags that run a program.
#[derive(Args, Debug, Clone)]
pub struct FindLrArgs {
    /// Model, data and optimizer flags, as `lrsched train` takes them.
    #[command(flatten)]
    pub train: TrainArgs,
    /// The first learning rate of the sweep.
    #[arg(long, default_value_t = DEFAULT_START, allow_hyphen_values = true)]
    pub start: f64,
    /// The rate the sweep rises towards.
    #[arg(long, default_value_t = DEFAULT_END, allow_hyphen_values = true)]
    pub end: f64,
    /// Updates per sweep (fastai's 100: at most one epoch once an epoch has 100 batches;
    /// at most 100000).
    #[arg(long, allow_hyphen_values = true)]
    pub steps: Option<String>,
    /// How the rate rises: exp (equal ratios per step) or linear.
    #[arg(long, default_value = "exp")]
    pub mode: String,
    /// Sweeps with seeds --seed, --seed+1, ...: each suggestion's spread shows how much
    /// one sweep's answer is noise.
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// Write suggested.json, a schedule built on the suggested rate (the validated one
    /// with --validate): onecycle, cosine (a 5% linear warmup, then cosine to zero) or
    /// constant. It is one schedule config: `train --schedule-config` and
    /// `compare --schedules` take it.
    #[arg(long)]
    pub apply: Option<String>,
    /// After the sweeps, train briefly at 1/3x, 1x and 3x each distinct suggestion
    /// (constant rate, the sweep's seeds, the same trainer) and report which trained best
    /// (median last val_acc, else val_loss); suggested.json then uses that rate.
    #[arg(long)]
    pub validate: bool,
    /// Epochs of each validation run (default 1; at most 1000).
    #[arg(long, value_name = "N")]
    pub validate_epochs: Option<u64>,
    /// The grid around each suggestion as factors, comma-separated (default
    /// 0.3333,1,3; at most 9).
    #[arg(long, value_name = "F,F,...")]
    pub validate_factors: Option<String>,
    /// Output folder (default runs/find-lr-<timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The program to sweep instead of the built-in trainer (one run per seed); it speaks
    /// the trial protocol (docs/protocol.md) and must write step lines.
    #[command(flatten)]
    pub command: CommandArgs,
    /// Sweeps at once (default: 1 for the built-in trainer, which uses every core; the
    /// cores, at most --seeds, for --command).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// A field of the spec as its flag: the library names fields, the user typed flags.
fn flag_error(e: OptionError, steps_text: Option<&str>) -> UserError {
    let flag = format!("--{}", e.field.replace('_', "-"));
    let value = match (e.field, steps_text) {
        ("steps", Some(t)) => t.to_string(),
        _ => e.value,
    };
    UserError(format!("{flag} {value} is not allowed: {}", e.allowed))
}

/// `--validate-factors` as typed: positive numbers separated by commas (a fraction
/// `1/3` allowed), checked for count and range by [`ValidateSpec::validate`].
fn parse_factors(text: &str) -> Result<Vec<f64>, UserError> {
    text.split(',')
        .map(|part| {
            let p = part.trim();
            let v = match p.split_once('/') {
                Some((a, b)) => a
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .zip(b.trim().parse::<f64>().ok())
                    .map(|(a, b)| a / b),
                None => p.parse::<f64>().ok(),
            };
            v.ok_or_else(|| {
                UserError(format!(
                    "--validate-factors `{}` is not allowed: `{}` is not a number; use factors such as 1/3,1,3",
                    lrsched::shorten(text),
                    lrsched::shorten(p)
                ))
            })
        })
        .collect()
}

/// A validation field as its flag, the factors as typed.
fn validate_error(e: OptionError, a: &FindLrArgs) -> UserError {
    let value = match (e.field, &a.validate_factors) {
        ("validate_factors", Some(t)) => lrsched::shorten(t).into_owned(),
        _ => e.value,
    };
    let flag = format!("--{}", e.field.replace('_', "-"));
    UserError(format!("{flag} {value} is not allowed: {}", e.allowed))
}

/// `--steps` as typed: a whole number, in plain or e-notation (`1e3`), so a huge value
/// meets the cap's message rather than a parse error.
fn parse_steps(text: &str) -> Result<u64, UserError> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 => Ok(v.min(u64::MAX as f64) as u64),
        _ => Err(UserError(format!(
            "--steps `{text}` is not allowed: must be a whole number of updates, {} to {}",
            find_lr::MIN_STEPS,
            find_lr::MAX_STEPS
        ))),
    }
}

/// `lrsched find-lr`; returns the exit status (0, 1 when no seed gave a curve, 130 after
/// Ctrl-C). `matches` are the subcommand's, to tell typed flags from defaults.
pub fn run(a: &FindLrArgs, matches: Option<&ArgMatches>) -> Result<u8, UserError> {
    // Settings first, so a typo costs no data loading and no program start.
    let t = &a.train;
    if t.checkpoint_dir.is_some() || t.resume || t.overwrite || t.metrics_out.is_some() {
        return Err(UserError(
            "find-lr writes its curves and report into --out: --checkpoint-dir, --resume, --overwrite and --metrics-out are not for find-lr".into(),
        ));
    }
    let mode = RangeMode::from_name(&a.mode).ok_or_else(|| {
        UserError(format!(
            "--mode `{}` is not known: use exp or linear",
            a.mode
        ))
    })?;
    let apply = match a.apply.as_deref() {
        None => None,
        Some(name) => Some(Apply::from_name(name).ok_or_else(|| {
            UserError(format!(
                "--apply `{name}` is not known: use onecycle, cosine or constant"
            ))
        })?),
    };
    let steps = match &a.steps {
        Some(t) => parse_steps(t)?,
        None => DEFAULT_STEPS as u64,
    };
    crate::compare::check_jobs(a.jobs)?;
    let jobs = match (a.jobs, &a.command.command) {
        (Some(j), _) => j,
        (None, None) => 1,
        (None, Some(_)) => lrsched_tools::cores::jobs(None, Some(a.seeds)),
    };
    let mut spec = FindLrSpec {
        start: a.start,
        end: a.end,
        steps,
        mode,
        seed: a.train.seed,
        seeds: a.seeds,
        jobs,
        dir: PathBuf::new(),
    };
    spec.validate()
        .map_err(|e| flag_error(e, a.steps.as_deref()))?;
    // The validation grid is bounded here, before any sweep: a typo costs nothing.
    let vspec = if a.validate {
        let mut v = ValidateSpec {
            jobs,
            ..ValidateSpec::default()
        };
        if let Some(e) = a.validate_epochs {
            v.epochs = e;
        }
        if let Some(f) = &a.validate_factors {
            v.factors = parse_factors(f)?;
        }
        v.validate(spec.seeds).map_err(|e| validate_error(e, a))?;
        Some(v)
    } else {
        if a.validate_epochs.is_some() || a.validate_factors.is_some() {
            return Err(UserError(
                "--validate-epochs and --validate-factors set up --validate: add --validate, or leave them out".into(),
            ));
        }
        None
    };
    let trainer = match a.command.trainer()? {
        Some(c) => {
            if let Some(m) = matches {
                trial_flags::refuse_built_in_flags(m, &["seed", "quiet"], &[])?;
            }
            Trainer::Command(c)
        }
        None => {
            let spec = a.train.spec();
            let (split, mut config) = train::load(&spec)?;
            // The sweeps at once share the data, each with its own model and buffers.
            spec.check_memory(&config, &split, jobs, true)
                .map_err(UserError)?;
            if config.engine == Engine::Candle {
                eprintln!("note: the range test runs on the fast engine (same initial weights and updates as candle's)");
                config.engine = Engine::Fast;
            }
            Trainer::BuiltIn(Box::new(BuiltIn {
                config,
                split: Arc::new(split),
            }))
        }
    };
    // Locked until this process ends: a second find-lr on the folder is refused at once.
    let (out, _lock) = report::locked_out_dir("find-lr", a.out.as_deref(), true)?;
    spec.dir = out.clone();

    // Ctrl-C is main's `process::cancel_on_interrupt`: every trial's process group is
    // killed and lrsched exits; a library caller's `cancel_all` ends the sweeps as below.
    let bar = crate::notes::progress_bar(
        a.train.quiet,
        steps.saturating_mul(spec.seeds as u64),
        "{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
    );
    if let Some(bar) = &bar {
        bar.set_prefix(format!("find-lr 0/{}", spec.seeds));
    }
    // Steps counted per sweep, so a sweep that stops early moves the bar to its end and
    // the ETA stays honest.
    let counted = Mutex::new(vec![0u64; spec.seeds]);
    let finished = Mutex::new(0usize);
    let events = |e: FindLrEvent<'_>| {
        let Some(bar) = &bar else { return };
        match e {
            FindLrEvent::Step {
                index,
                seed,
                count,
                lr,
                smoothed,
            } => {
                if let Ok(mut c) = counted.lock() {
                    c[index] = count.min(steps);
                }
                bar.inc(1);
                bar.set_message(format!(
                    "seed {seed} step {count} lr {lr:.2e} loss {smoothed:.4}"
                ));
            }
            FindLrEvent::Trial(TrialEvent::Finished { index, .. }) => {
                let done = counted.lock().map(|c| c[index]).unwrap_or(0);
                bar.inc(steps.saturating_sub(done));
                if let Ok(mut f) = finished.lock() {
                    *f += 1;
                    bar.set_prefix(format!("find-lr {}/{}", *f, spec.seeds));
                }
            }
            FindLrEvent::Trial(_) | FindLrEvent::Validate(_) => {}
        }
    };
    let result = find_lr::find_lr(&spec, &trainer, &events).map_err(|e| match e {
        FindLrError::Spec(e) => flag_error(e, a.steps.as_deref()),
        FindLrError::Io(e) => UserError(e),
    })?;
    if let Some(code) = finish(bar, "every sweep was stopped; partial trials are in", &out) {
        return Ok(code);
    }

    let mut result = result;
    if let (Some(v), Some(_)) = (&vspec, result.suggested) {
        // The sweeps' files first, whole, so a validation cut short leaves them.
        find_lr_files::write_files(&out, &result, &trainer, None, &report::command_line())
            .map_err(UserError)?;
        let chance = match &trainer {
            Trainer::BuiltIn(b) => lrsched_tools::candidates::majority_share(&b.split),
            Trainer::Command(_) => None,
        };
        let points = result.validation_grid(&v.factors).len();
        let runs = points * spec.seeds;
        if !a.train.quiet {
            eprintln!(
                "validating: {points} constant rates x {} seed(s), {} epoch(s) each ({runs} runs)",
                spec.seeds, v.epochs
            );
        }
        let bar = crate::notes::progress_bar(
            a.train.quiet,
            runs as u64,
            "validate [{bar:30}] {pos}/{len} runs {msg} ETA {eta}",
        );
        let events = |e: FindLrEvent<'_>| {
            if let (Some(bar), FindLrEvent::Validate(TrialEvent::Finished { input, .. })) =
                (&bar, e)
            {
                bar.inc(1);
                bar.set_message(input.name.clone());
            }
        };
        let validation =
            find_lr::validate(&result, v, &trainer, chance, &events).map_err(|e| match e {
                FindLrError::Spec(e) => validate_error(e, a),
                FindLrError::Io(e) => UserError(e),
            })?;
        let stopped = "the validation runs were stopped; the sweeps' results are in";
        if let Some(code) = finish(bar, stopped, &out) {
            return Ok(code);
        }
        result.validation = Some(validation);
    } else if vspec.is_some() && result.usable().next().is_some() {
        eprintln!("note: --validate: no rule gave a rate, so there is nothing to validate");
    }

    print!("{}", find_lr_files::summary(&result, &trainer));

    let applied =
        find_lr_files::write_suggested(&out, &result, &trainer, apply).map_err(UserError)?;
    let notes = find_lr_files::write_files(
        &out,
        &result,
        &trainer,
        applied.as_ref(),
        &report::command_line(),
    )
    .map_err(UserError)?;
    for n in notes {
        eprintln!("note: {n}");
    }

    if let Some(summary) = result.all_failed() {
        eprintln!("error: {summary}");
        println!("wrote {}", out.display());
        return Ok(EXIT_ALL_FAILED);
    }
    if apply.is_some() && applied.is_none() {
        return Err(UserError(
            "--apply: no rule gave a rate (the sweep was too short); nothing written".into(),
        ));
    }
    if let Some(applied) = &applied {
        println!(
            "wrote {} (from the {} rate {:.3e}). {}",
            applied.path.display(),
            applied.rule,
            applied.lr,
            find_lr_files::how_to_use(&applied.path, &trainer)
        );
    }
    println!("wrote {}", out.display());
    Ok(0)
}

/// Clears a phase's progress bar; when Ctrl-C stopped the phase, says so (`stopped`: what
/// stopped and where what was done lies, before the folder) and gives the exit code.
fn finish(bar: Option<indicatif::ProgressBar>, stopped: &str, out: &Path) -> Option<u8> {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    process::cancelled().then(|| {
        eprintln!("cancelled: {stopped} {}", out.display());
        EXIT_CANCELLED
    })
}
