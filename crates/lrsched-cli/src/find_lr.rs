//! `lrsched find-lr`: the learning-rate range test over one or more seeds, its
//! suggestions and their spread, a plot, a report and (with `--apply`) a ready config.

use crate::report::{self, Section, Table};
use crate::train::{build_config, load_data, TrainArgs};
use crate::UserError;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lrsched_report::{Chart, Marker, Series};
use lrsched_train::find_lr::{
    initial_state, range_test_observed, RangeMode, RangeTest, RangeTestOptions, Stop, Suggestions,
    DEFAULT_END, DEFAULT_START, DEFAULT_STEPS,
};
use lrsched_train::trainer::Engine;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

/// The flags of `find-lr`: every `train` flag (model, data, optimizer, batch size, seed),
/// and the range test's own.
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
    /// Updates per sweep (fastai's 100: at most one epoch once an epoch has 100 batches).
    #[arg(long)]
    pub steps: Option<usize>,
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
}

#[derive(Clone, Copy, PartialEq)]
enum Apply {
    OneCycle,
    Cosine,
}

/// Spread of one rule's suggestion over the seeds.
struct Spread {
    name: &'static str,
    values: Vec<f64>,
}

impl Spread {
    fn min(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::min)
    }
    fn max(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::max)
    }
    /// The median; for an even count the geometric mean of the middle two, since rates
    /// live on a log scale.
    fn median(&self) -> Option<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] * v[n / 2]).sqrt()),
        }
    }
}

fn spreads(tests: &[RangeTest]) -> Vec<Spread> {
    let names = Suggestions::default().named().map(|(n, _)| n);
    names
        .iter()
        .enumerate()
        .map(|(k, name)| Spread {
            name,
            values: tests
                .iter()
                .filter_map(|t| t.suggestions.named()[k].1)
                .collect(),
        })
        .collect()
}

fn fmt_lr(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3e}"))
}

/// `lrsched find-lr`.
pub fn run(a: &FindLrArgs) -> Result<(), UserError> {
    // Settings first, so a typo costs no data loading.
    let mode = match a.mode.as_str() {
        "exp" | "exponential" => RangeMode::Exponential,
        "linear" | "lin" => RangeMode::Linear,
        other => {
            return Err(UserError(format!(
                "--mode `{other}` is not known: use exp or linear"
            )))
        }
    };
    let apply = match a.apply.as_deref() {
        None => None,
        Some("onecycle" | "one_cycle" | "one-cycle") => Some(Apply::OneCycle),
        Some("cosine") => Some(Apply::Cosine),
        Some(other) => {
            return Err(UserError(format!(
                "--apply `{other}` is not known: use onecycle or cosine"
            )))
        }
    };
    if a.seeds == 0 {
        return Err(UserError(
            "--seeds 0 is not allowed: must be at least 1".into(),
        ));
    }
    if a.seeds > 1000 {
        return Err(UserError(format!(
            "--seeds {} is too many: at most 1000",
            a.seeds
        )));
    }
    let mut probe = RangeTestOptions::new(a.train.batch_size.max(1), a.train.seed);
    probe.start = a.start;
    probe.end = a.end;
    probe.mode = mode;
    probe.steps = a.steps.unwrap_or(lrsched_train::find_lr::MIN_STEPS);
    probe.validate().map_err(UserError)?;

    let (name, split) = load_data(&a.train)?;
    let mut config = build_config(&a.train, name.clone(), &split)?;
    let out = report::out_dir("find-lr", a.out.as_deref())?;
    if config.engine == Engine::Candle {
        eprintln!("note: the range test runs on the fast engine (same initial weights and updates as candle's)");
        config.engine = Engine::Fast;
    }
    let per_epoch = split.train.len().div_ceil(config.batch_size);
    let steps = a.steps.unwrap_or(DEFAULT_STEPS);
    let base_seed = config.seed;

    let bar = (!a.train.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new((steps * a.seeds) as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let mut tests = Vec::with_capacity(a.seeds);
    for k in 0..a.seeds {
        config.seed = base_seed.wrapping_add(k as u64);
        let (model, optimizer) = initial_state(&config).map_err(|e| UserError(e.to_string()))?;
        let mut opts = RangeTestOptions::new(config.batch_size, config.seed).with_steps(steps);
        opts.start = a.start;
        opts.end = a.end;
        opts.mode = mode;
        if let Some(bar) = &bar {
            bar.set_prefix(format!("seed {}/{}", k + 1, a.seeds));
        }
        let done = (k * steps) as u64;
        let test = range_test_observed(&model, &optimizer, &split, &opts, &mut |i, lr, loss| {
            if let Some(bar) = &bar {
                bar.set_position(done + i as u64 + 1);
                bar.set_message(format!("lr {lr:.2e} loss {loss:.4}"));
            }
        })
        .map_err(|e| UserError(e.to_string()))?;
        tests.push(test);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let spread = spreads(&tests);
    let suggested = spread.iter().find_map(|s| s.median().map(|m| (s.name, m)));
    let mean_seconds = tests.iter().map(|t| t.seconds).sum::<f64>() / tests.len() as f64;
    let mean_steps = tests.iter().map(|t| t.steps_run).sum::<usize>() as f64 / tests.len() as f64;
    let mode_name = match mode {
        RangeMode::Exponential => "exponential",
        RangeMode::Linear => "linear",
    };

    // What a person reads first: the suggestions.
    println!(
        "range test on {name}: {steps} steps from {:e} to {:e} ({mode_name}), batch {}, {} seed{}",
        a.start,
        a.end,
        config.batch_size,
        a.seeds,
        if a.seeds == 1 { "" } else { "s" }
    );
    for (k, t) in tests.iter().enumerate() {
        let why = match t.stop {
            Stop::Completed => "all steps".to_string(),
            Stop::Diverging => format!(
                "stopped at lr {:.2e}: smoothed loss passed 4x its best",
                t.lrs.last().copied().unwrap_or(f64::NAN)
            ),
            Stop::NotFinite => format!(
                "stopped at lr {:.2e}: the loss became NaN or infinite",
                t.lrs.last().copied().unwrap_or(f64::NAN)
            ),
        };
        if a.seeds > 1 || t.stop != Stop::Completed {
            println!(
                "  seed {}: {} steps, {why}",
                base_seed.wrapping_add(k as u64),
                t.steps_run
            );
        }
    }
    if a.seeds == 1 {
        for s in &spread {
            println!("{:<11} {}", s.name, fmt_lr(s.values.first().copied()));
        }
    } else {
        println!(
            "{:<11} {:>10} {:>10} {:>10}  max/min",
            "rule", "min", "median", "max"
        );
        for s in &spread {
            let ratio = match (s.min(), s.max()) {
                (Some(lo), Some(hi)) if lo > 0.0 => format!("{:.1}x", hi / lo),
                _ => "-".into(),
            };
            println!(
                "{:<11} {:>10} {:>10} {:>10}  {ratio}",
                s.name,
                fmt_lr(s.min()),
                fmt_lr(s.median()),
                fmt_lr(s.max())
            );
        }
    }
    let epochs_cost = mean_steps / per_epoch as f64;
    let cost = format!(
        "cost: {mean_steps:.0} updates per sweep = {epochs_cost:.2} epochs of batches ({per_epoch} per epoch), {mean_seconds:.3} s per sweep"
    );
    println!("{cost}");
    match suggested {
        Some((rule, lr)) => println!("suggested lr: {lr:.3e} ({rule})"),
        None => println!(
            "no suggestion: the curve is too short (ran {mean_steps:.0} of {steps} steps); try more --steps or a lower --start"
        ),
    }

    // The picture: smoothed loss against rate, one curve per seed, rules marked.
    let chart = chart(&tests, &spread, base_seed);
    let svg = lrsched_report::render_svg(&chart).map_err(|e| UserError(e.to_string()))?;
    let png =
        lrsched_report::render_png(&chart, 1200, 700).map_err(|e| UserError(e.to_string()))?;
    report::write_atomic(&out.join("loss_vs_lr.svg"), svg.as_bytes())?;
    report::write_atomic(&out.join("loss_vs_lr.png"), &png)?;

    let applied = match (apply, suggested) {
        (Some(kind), Some((rule, lr))) => {
            let path = out.join("suggested.json");
            let value = applied_config(kind, lr);
            // Read it back as train will, so a bad config is caught here and not later.
            let shape =
                lrsched::time::RunShape::new(split.train.len() as u64, config.batch_size as u64)
                    .with_epochs(config.epochs as f64);
            lrsched::config::from_value_with_shape(value.clone(), Some(&shape))
                .map_err(|e| UserError(format!("the suggested config does not load: {e}")))?;
            let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
            report::write_atomic(&path, text.as_bytes())?;
            Some((path, rule, lr, value))
        }
        (Some(_), None) => {
            return Err(UserError(
                "--apply: no rule gave a rate (the sweep was too short); nothing written".into(),
            ))
        }
        _ => None,
    };

    let json_value = json!({
        "command": report::command_line(),
        "data": name,
        "start": a.start,
        "end": a.end,
        "mode": mode_name,
        "steps": steps,
        "batch_size": config.batch_size,
        "steps_per_epoch": per_epoch,
        "smooth_beta": lrsched_train::find_lr::SMOOTH_BETA,
        "stop_factor": lrsched_train::find_lr::STOP_FACTOR,
        "suggested": suggested.map(|(rule, lr)| json!({"rule": rule, "lr": lr})),
        "spread": spread.iter().map(|s| (s.name.to_string(), json!({
            "min": s.min(), "median": s.median(), "max": s.max(), "values": s.values,
        }))).collect::<serde_json::Map<String, Value>>(),
        "cost": {
            "updates_per_sweep": mean_steps,
            "epochs_per_sweep": epochs_cost,
            "seconds_per_sweep": mean_seconds,
        },
        "runs": tests.iter().enumerate().map(|(k, t)| json!({
            "seed": base_seed.wrapping_add(k as u64),
            "steps_run": t.steps_run,
            "stop": t.stop,
            "seconds": t.seconds,
            "suggestions": t.suggestions,
            "lrs": t.lrs,
            "losses": t.losses,
            "smoothed": t.smoothed,
        })).collect::<Vec<_>>(),
        "applied": applied.as_ref().map(|(p, _, _, v)| json!({"path": p, "config": v})),
    });
    let text = serde_json::to_string_pretty(&json_value).unwrap_or_default() + "\n";
    report::write_atomic(&out.join("find_lr.json"), text.as_bytes())?;

    let mut sections = vec![Section {
        heading: "Suggestions".into(),
        text: vec![
            format!("{steps} steps from {:e} to {:e} ({mode_name}) on {name}, batch {}, over {} seed(s). Loss smoothed with an exponential moving average (beta 0.98, bias-corrected); a sweep stops once it passes 4x its best. Rules as fastai's: valley (middle of the longest fall; fastai's default), steepest (fastest fall against log rate), minimum/10.", a.start, a.end, config.batch_size, a.seeds),
            match suggested {
                Some((rule, lr)) => format!("Suggested rate: {lr:.3e} (median {rule})."),
                None => "No suggestion: the curve is too short.".into(),
            },
            cost.clone(),
        ],
        svgs: vec![svg],
        table: Some(Table {
            header: ["rule", "min", "median", "max"].map(String::from).to_vec(),
            rows: spread
                .iter()
                .map(|s| vec![s.name.to_string(), fmt_lr(s.min()), fmt_lr(s.median()), fmt_lr(s.max())])
                .collect(),
        }),
    }];
    if let Some((path, rule, lr, value)) = &applied {
        sections.push(Section {
            heading: "Ready config".into(),
            text: vec![
                format!("{} from the {rule} rate {lr:.3e}:", path.display()),
                serde_json::to_string(value).unwrap_or_default(),
                format!(
                    "Train with: lrsched train --schedule-config {} (plus the same model, data and optimizer flags).",
                    path.display()
                ),
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

    if let Some((path, _, _, _)) = &applied {
        println!(
            "wrote {}: lrsched train --schedule-config {}",
            path.display(),
            path.display()
        );
    }
    println!("wrote {}", out.display());
    Ok(())
}

/// The config `--apply` writes: one-cycle peaking at the rate (fastai's `fit_one_cycle`
/// with `lr_max` from `lr_find`), or a 5% warmup to it then cosine to zero.
fn applied_config(kind: Apply, lr: f64) -> Value {
    // Three significant digits: the rule's own noise is far larger than that.
    let lr: f64 = format!("{lr:.2e}").parse().unwrap_or(lr);
    match kind {
        Apply::OneCycle => json!({"type": "one_cycle", "max_lr": lr, "total_steps": "100%"}),
        Apply::Cosine => json!({
            "type": "warmup",
            "steps": "5%",
            "schedule": {"type": "cosine", "lr": lr, "steps": "95%"},
        }),
    }
}

/// Loss against rate on a log axis: each seed's smoothed curve, and a marker per rule at
/// its median suggestion.
fn chart(tests: &[RangeTest], spread: &[Spread], base_seed: u64) -> Chart {
    let title = if tests.len() == 1 {
        "LR range test: smoothed training loss".to_string()
    } else {
        format!(
            "LR range test: smoothed training loss, {} seeds (marks: median suggestions)",
            tests.len()
        )
    };
    // The last points of a sweep shoot up (a sweep stops only once past 4x its best, and
    // one step can jump far beyond that): drawn in full they squash the part that matters
    // into a flat line. Curves are cut where they pass the starting loss by half the
    // fall below it, as fastai's plot drops the last points.
    let first = tests
        .iter()
        .filter_map(|t| t.smoothed.first().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let best = tests
        .iter()
        .flat_map(|t| t.smoothed.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let cap = first + 0.5 * (first - best).max(0.05 * first.abs());
    let mut chart = Chart::new(title, "learning rate", "smoothed loss").with_log_x(true);
    for (k, t) in tests.iter().enumerate() {
        let points: Vec<(f64, f64)> = t
            .lrs
            .iter()
            .zip(&t.smoothed)
            .map(|(&x, &y)| (x, y))
            .take_while(|&(_, y)| !(cap.is_finite() && y > cap))
            .collect();
        let name = if tests.len() == 1 {
            "smoothed loss".to_string()
        } else {
            format!("seed {}", base_seed.wrapping_add(k as u64))
        };
        chart = chart.with_series(Series::new(name, points));
    }
    for s in spread {
        if let Some(m) = s.median() {
            // Short labels: the chart has two rows for them, and a third that fits nowhere
            // is dropped.
            let name = if s.name == "minimum/10" {
                "min/10"
            } else {
                s.name
            };
            let label = format!("{name} {m:.1e}");
            chart = chart.with_marker(Marker::new(m, label));
        }
    }
    chart
}
