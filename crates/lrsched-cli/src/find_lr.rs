//! `lrsched find-lr`: the flags turned into a `lrsched_tools::find_lr::FindLrSpec` and a
//! trainer once, the library's range test run with a progress bar, the suggestions
//! printed and the files written. Everything after the trainer (smoothing, stop rule,
//! rules, spread, report) is the library's, for the built-in trainer and `--command` alike.

use crate::report;
use crate::train::{self, TrainArgs};
use crate::trial_flags::{self, CommandArgs};
use crate::UserError;
use clap::{ArgMatches, Args};
use indicatif::{ProgressBar, ProgressStyle};
use lrsched_report::html::Section;
use lrsched_tools::find_lr::{
    self, fmt_lr, Apply, FindLrError, FindLrEvent, FindLrResult, FindLrSpec, OptionError,
    RangeMode, DEFAULT_END, DEFAULT_START, DEFAULT_STEPS,
};
use lrsched_tools::process;
use lrsched_tools::runner::TrialEvent;
use lrsched_tools::trainer::{BuiltIn, Trainer};
use lrsched_train::trainer::Engine;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::PathBuf;
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
    /// Write suggested.json, a schedule built on the suggested rate: onecycle or cosine
    /// (a 5% linear warmup, then cosine to zero).
    #[arg(long)]
    pub apply: Option<String>,
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
                "--apply `{name}` is not known: use onecycle or cosine"
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
    let bar = (!a.train.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(steps.saturating_mul(spec.seeds as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("find-lr 0/{}", spec.seeds));
        bar
    });
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
            FindLrEvent::Trial(_) => {}
        }
    };
    let result = find_lr::find_lr(&spec, &trainer, &events).map_err(|e| match e {
        FindLrError::Spec(e) => flag_error(e, a.steps.as_deref()),
        FindLrError::Io(e) => UserError(e),
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if process::cancelled() {
        eprintln!(
            "cancelled: every sweep was stopped; partial trials are in {}",
            out.display()
        );
        return Ok(EXIT_CANCELLED);
    }

    print_summary(&result, &trainer);

    let applied = match (apply, result.suggested) {
        (Some(kind), Some((rule, lr))) => {
            let path = out.join("suggested.json");
            let value = kind.config(lr);
            // Read it back as train will, so a bad config is caught here and not later.
            let shape = match &trainer {
                Trainer::BuiltIn(b) => lrsched::time::RunShape::new(
                    b.split.train.len() as u64,
                    b.config.batch_size as u64,
                )
                .with_epochs(b.config.epochs as f64),
                Trainer::Command(_) => {
                    lrsched::time::RunShape::new(result.steps_per_epoch.unwrap_or(100), 1)
                        .with_epochs(10.0)
                }
            };
            lrsched::config::from_value_with_shape(value.clone(), Some(&shape))
                .map_err(|e| UserError(format!("the suggested config does not load: {e}")))?;
            let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
            report::write_atomic(&path, text.as_bytes())?;
            Some((path, rule, lr, value))
        }
        _ => None,
    };

    let mut json_value = find_lr::to_json(&result);
    if let Value::Object(map) = &mut json_value {
        map.insert("command".into(), json!(report::command_line()));
        if let Trainer::BuiltIn(b) = &trainer {
            map.insert("data".into(), json!(b.config.data));
            map.insert("batch_size".into(), json!(b.config.batch_size));
        }
        map.insert(
            "applied".into(),
            json!(applied
                .as_ref()
                .map(|(p, _, _, v)| json!({"path": p, "config": v}))),
        );
    }
    let text = serde_json::to_string_pretty(&json_value).unwrap_or_default() + "\n";
    report::write_atomic(&out.join("find_lr.json"), text.as_bytes())?;

    // The measurements are written first: a chart that cannot be drawn is a note, never
    // the loss of find_lr.json.
    if result.usable().count() > 0 {
        let chart = find_lr::chart(&result);
        let drawn = lrsched_report::render_svg(&chart)
            .and_then(|svg| Ok((svg, lrsched_report::render_png(&chart, 1200, 700)?)));
        match drawn {
            Ok((svg, png)) => {
                report::write_atomic(&out.join("loss_vs_lr.svg"), svg.as_bytes())?;
                report::write_atomic(&out.join("loss_vs_lr.png"), &png)?;
            }
            Err(e) => eprintln!("note: the loss-vs-rate chart was not drawn: {e}"),
        }
    }

    let mut sections = find_lr::sections(&result);
    if let Some((path, rule, lr, value)) = &applied {
        let how = match &trainer {
            Trainer::BuiltIn(_) => format!(
                "Train with: lrsched train --schedule-config {} (plus the same model, data and optimizer flags).",
                path.display()
            ),
            Trainer::Command(_) => format!(
                "Hand it to your program as its schedule, e.g. lrsched compare --command ... --schedules with {}.",
                path.display()
            ),
        };
        sections.push(Section {
            heading: "Ready config".into(),
            text: vec![
                format!("{} from the {rule} rate {lr:.3e}:", path.display()),
                serde_json::to_string(value).unwrap_or_default(),
                how,
            ],
            ..Section::default()
        });
    }
    report::write_html(
        &out.join("report.html"),
        "lrsched find-lr",
        &report::command_line(),
        &sections,
    )?;

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
    if let Some((path, _, _, _)) = &applied {
        match &trainer {
            Trainer::BuiltIn(_) => println!(
                "wrote {}: lrsched train --schedule-config {}",
                path.display(),
                path.display()
            ),
            Trainer::Command(_) => println!("wrote {}", path.display()),
        }
    }
    println!("wrote {}", out.display());
    Ok(0)
}

/// At most three lines of a failed program's stderr worth printing: the lines that say
/// what went wrong (`Error:`, `panicked`, a Python `Traceback`/`...Error:`) and the last
/// line, since the tail alone is often the bottom of a backtrace. The report and
/// find_lr.json keep the whole tail.
fn stderr_gist(tail: &[String]) -> Vec<&str> {
    let lines: Vec<&str> = tail
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let telling = |l: &&str| {
        let low = l.to_lowercase();
        low.contains("error") || low.contains("panicked") || low.contains("traceback")
    };
    let mut out: Vec<&str> = lines.iter().copied().filter(telling).take(2).collect();
    match lines.last() {
        Some(last) if !out.contains(last) => out.push(last),
        _ => {}
    }
    if out.len() < 2 {
        // Nothing says "error": the last lines are the best there is.
        out = lines[lines.len().saturating_sub(3)..].to_vec();
    }
    out
}

/// What a person reads first: the sweep, how each seed's sweep ended, the rules'
/// suggestions with their spread, the cost and the rate to use.
fn print_summary(result: &FindLrResult, trainer: &Trainer) {
    let spec = &result.spec;
    let who = match trainer {
        Trainer::BuiltIn(b) => format!("{}, batch {}", b.config.data, b.config.batch_size),
        Trainer::Command(c) => format!("`{}`", c.command),
    };
    println!(
        "range test on {who}: {} steps from {:e} to {:e} ({}), {} seed{}",
        spec.steps,
        spec.start,
        spec.end,
        spec.mode.name(),
        spec.seeds,
        if spec.seeds == 1 { "" } else { "s" }
    );
    for r in &result.runs {
        let all = r.usable() && r.steps_run() as u64 >= spec.steps;
        if spec.seeds > 1 || !all {
            println!(
                "  seed {}: {} steps, {}",
                r.seed,
                r.steps_run(),
                r.describe(spec.steps)
            );
        }
        if !r.usable() {
            for l in stderr_gist(&r.stderr_tail) {
                println!("    stderr: {l}");
            }
        }
    }
    if result.usable().count() == 0 {
        return;
    }
    if spec.seeds == 1 {
        for s in &result.spread {
            println!("{:<11} {}", s.name, fmt_lr(s.values.first().copied()));
        }
    } else {
        println!(
            "{:<11} {:>10} {:>10} {:>10}  max/min",
            "rule", "min", "median", "max"
        );
        for s in &result.spread {
            println!(
                "{:<11} {:>10} {:>10} {:>10}  {}",
                s.name,
                fmt_lr(s.min()),
                fmt_lr(s.median()),
                fmt_lr(s.max()),
                s.ratio().map_or("-".into(), |r| format!("{r:.1}x"))
            );
        }
    }
    println!(
        "{}",
        find_lr::cost_line(&result.cost(), result.steps_per_epoch)
    );
    match result.suggested {
        Some((rule, lr)) => println!("suggested lr: {lr:.3e} ({rule})"),
        None => println!(
            "no suggestion: the curve is too short (ran {:.0} of {} steps); try more --steps or a lower --start",
            result.cost().updates_per_sweep,
            spec.steps
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::stderr_gist;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stderr_gist_keeps_the_error_above_a_backtrace() {
        let tail = lines(&[
            "Error: cannot seed the CPU rng",
            "stack backtrace:",
            "   0: main",
            "  20: _start",
            "",
        ]);
        assert_eq!(
            stderr_gist(&tail),
            ["Error: cannot seed the CPU rng", "  20: _start"]
        );
        // Nothing says error: the last three non-empty lines.
        let tail = lines(&["a", "b", "c", "d", " "]);
        assert_eq!(stderr_gist(&tail), ["b", "c", "d"]);
        assert!(stderr_gist(&[]).is_empty());
    }
}
