//! `lrsched plot`: schedules (one-line forms, config files) or a saved run's metrics drawn
//! to PNG and SVG, or to the terminal in braille.

use crate::{read_metrics, UserError};
use lrsched::{oneline, AnySchedule};
use lrsched_report::Chart;
use lrsched_tools::charts::{self, truncate, MAX_LABEL};
use std::path::PathBuf;

/// More steps than this would only draw the same pixels slower.
const MAX_STEPS: u64 = 10_000_000;

#[derive(clap::Args)]
pub struct PlotArgs {
    /// A schedule in the one-line form, e.g. "cosine(lr=0.1, steps=1000)"; repeat to overlay several.
    #[arg(long = "schedule", value_name = "ONE-LINE")]
    schedules: Vec<String>,
    /// A JSON or TOML config file; repeat to overlay several.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,
    /// A saved run: the epoch metrics that `lrsched train --metrics-out FILE` wrote. Its
    /// `<stem>.steps.jsonl` beside it, if there, adds the per-step rate and loss.
    #[arg(long, value_name = "METRICS.jsonl", conflicts_with_all = ["schedules", "configs"])]
    run: Option<PathBuf>,
    /// How many steps to draw (steps 0..N-1); needed for schedules.
    #[arg(long, value_name = "N")]
    steps: Option<u64>,
    /// Logarithmic learning-rate axis (steps where the rate is 0 are left out).
    #[arg(long)]
    log_y: bool,
    /// Draw the momentum (or Adam beta1) the schedules set, on a second axis.
    #[arg(long)]
    momentum: bool,
    /// Folder for the pictures (default runs/plot-<timestamp>/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// File name of the pictures, without extension.
    #[arg(long, default_value = "plot")]
    name: String,
    /// Draw in the terminal with Unicode braille instead of writing files (with --out, both).
    #[arg(long)]
    terminal: bool,
    /// Width: pixels (default 1000), or characters with --terminal (default: the terminal's).
    #[arg(long, value_name = "W")]
    width: Option<u32>,
    /// Height: pixels (default 600, 800 for a run), or lines with --terminal (default 24).
    #[arg(long, value_name = "H")]
    height: Option<u32>,
    /// A file with one metric per line, fed to metric-driven (plateau) schedules: value i
    /// is the one after the metric on line i.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Steps per epoch, to resolve durations such as "3ep" in the schedules.
    #[arg(long)]
    steps_per_epoch: Option<u64>,
    /// Epochs in the run, to resolve fractions such as "10%".
    #[arg(long, allow_hyphen_values = true)]
    epochs: Option<f64>,
}

pub fn run(args: &PlotArgs) -> Result<(), UserError> {
    if args.name.is_empty() || args.name.contains(['/', '\\']) {
        return Err(UserError(format!(
            "--name `{}` must be a plain file name without a folder",
            args.name
        )));
    }
    crate::check_run_epochs(args.epochs)?;
    if !args.terminal || args.out.is_some() {
        check_picture(args.width, args.height)?;
    }
    let charts = match &args.run {
        Some(path) => charts::run_charts(path, args.log_y, args.momentum).map_err(UserError)?,
        None => vec![schedule_chart(args)?],
    };
    if args.terminal {
        let (w, h) = terminal_size(args);
        let h = h.max(8 * charts.len());
        let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let text = lrsched_report::stacked_terminal(&charts, w, h, color)
            .map_err(|e| UserError(e.to_string()))?;
        print!("{text}");
        if args.out.is_none() {
            return Ok(());
        }
    }
    let stacked = charts.len() > 1;
    let width = args.width.unwrap_or(1000);
    let height = args.height.unwrap_or(if stacked { 800 } else { 600 });
    let png = lrsched_report::stacked_png(&charts, width, height)
        .map_err(|e| UserError(e.to_string()))?;
    let svg = lrsched_report::stacked_svg(&charts, width, height)
        .map_err(|e| UserError(e.to_string()))?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/plot-{}", crate::report::timestamp())));
    std::fs::create_dir_all(&dir).map_err(|e| {
        UserError(format!(
            "cannot create output folder {}: {e}",
            dir.display()
        ))
    })?;
    for (ext, bytes) in [("png", png.as_slice()), ("svg", svg.as_bytes())] {
        let path = dir.join(format!("{}.{ext}", args.name));
        std::fs::write(&path, bytes)
            .map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// `--width`/`--height` of a picture, checked before any chart is computed: each side
/// within what a chart needs and [`lrsched_report::MAX_SIDE`], and at most
/// [`lrsched_report::MAX_PIXELS`] in all (a typo such as 100000 would otherwise allocate
/// tens of gigabytes). The height a stack of charts needs is checked once their number is
/// known.
fn check_picture(width: Option<u32>, height: Option<u32>) -> Result<(), UserError> {
    use lrsched_report::{MAX_PIXELS, MAX_SIDE};
    let (min_w, min_h) = (240, 160);
    for (flag, value, min, what) in [
        ("--width", width, min_w, "wide"),
        ("--height", height, min_h, "high"),
    ] {
        if let Some(v) = value {
            if v < min || v > MAX_SIDE {
                return Err(UserError(format!(
                    "{flag} {v} is not allowed: a picture is {min} to {MAX_SIDE} pixels {what}"
                )));
            }
        }
    }
    let (w, h) = (width.unwrap_or(1000) as u64, height.unwrap_or(800) as u64);
    if w * h > MAX_PIXELS {
        return Err(UserError(format!(
            "--width {w} --height {h} is not allowed: {} pixels, at most {MAX_PIXELS} in all",
            w * h
        )));
    }
    Ok(())
}

fn terminal_size(args: &PlotArgs) -> (usize, usize) {
    let cols = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(80);
    let w = args.width.map_or(cols, |w| w as usize).clamp(30, 1000);
    let h = args.height.map_or(24, |h| h as usize).clamp(8, 1000);
    (w, h)
}

/// The schedules in command-line order: one-line forms first, then config files, each
/// with its legend label.
fn load(args: &PlotArgs) -> Result<Vec<(String, AnySchedule)>, UserError> {
    let shape = crate::run_shape(args.steps_per_epoch, args.epochs);
    let mut out = Vec::new();
    for text in &args.schedules {
        let s = oneline::parse_with_shape(text, shape.as_ref())
            .map_err(|e| UserError(format!("--schedule `{}`: {e}", truncate(text, 60))))?;
        out.push((truncate(text.trim(), MAX_LABEL), s));
    }
    for path in &args.configs {
        let s = crate::load_config(path, shape.as_ref())?;
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        out.push((truncate(&label, MAX_LABEL), s));
    }
    Ok(out)
}

fn schedule_chart(args: &PlotArgs) -> Result<Chart, UserError> {
    if args.schedules.is_empty() && args.configs.is_empty() {
        return Err(UserError(
            "nothing to draw: give --schedule ONE-LINE, --config FILE or --run METRICS.jsonl"
                .into(),
        ));
    }
    let n = args
        .steps
        .ok_or_else(|| UserError("--steps N is needed to draw schedules".into()))?;
    if n == 0 || n > MAX_STEPS {
        return Err(UserError(format!(
            "--steps {n}: draw between 1 and {MAX_STEPS} steps"
        )));
    }
    let schedules = load(args)?;
    let metrics = args.metrics.as_deref().map(read_metrics).transpose()?;
    let metrics = args.metrics.as_deref().zip(metrics.as_deref());
    charts::schedule_chart(schedules, n, metrics, args.log_y, args.momentum).map_err(UserError)
}
