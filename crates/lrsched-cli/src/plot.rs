//! `lrsched plot`: schedules (one-line forms, config files) or a saved run's metrics drawn
//! to PNG and SVG, or to the terminal in braille.

use crate::{read, read_metrics, UserError};
use lrsched::time::RunShape;
use lrsched::{oneline, AnySchedule, Schedule};
use lrsched_report::{Chart, Marker, SecondaryAxis, Series};
use std::path::{Path, PathBuf};

/// More steps than this would only draw the same pixels slower.
const MAX_STEPS: u64 = 10_000_000;
/// A trace with more detected jumps than this (noise, a short cycle) is not marked: a
/// forest of dashed lines says less than none.
const MAX_MARKERS: usize = 40;
/// Legend labels longer than this are cut with an ellipsis.
const MAX_LABEL: usize = 56;

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
        Some(path) => run_charts(path, args)?,
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

fn shape(args: &PlotArgs) -> Option<RunShape> {
    args.steps_per_epoch
        .map(|spe| {
            let shape = RunShape::new(spe, 1);
            match args.epochs {
                Some(e) => shape.with_epochs(e),
                None => shape,
            }
        })
        .or_else(|| args.epochs.map(|e| RunShape::new(1, 1).with_epochs(e)))
}

/// The schedules in command-line order: one-line forms first, then config files, each
/// with its legend label.
fn load(args: &PlotArgs) -> Result<Vec<(String, AnySchedule)>, UserError> {
    let shape = shape(args);
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
    let mut schedules = load(args)?;
    let metrics = args.metrics.as_deref().map(read_metrics).transpose()?;
    for (label, s) in &mut schedules {
        if !s.needs_metric() {
            continue;
        }
        let Some(metrics) = &metrics else {
            return Err(UserError(format!(
                "`{label}` is driven by a metric: give --metrics FILE with one value per line"
            )));
        };
        for (i, m) in metrics.iter().enumerate() {
            s.observe(i as u64, *m)?;
        }
        if (metrics.len() as u64) + 1 < n {
            return Err(UserError(format!(
                "{}: {} metrics cover steps 0..{}, but --steps {n} needs {}",
                args.metrics
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                metrics.len(),
                metrics.len() + 1,
                n - 1
            )));
        }
    }

    let steps = if n == 1 {
        "1 step".to_string()
    } else {
        format!("{n} steps")
    };
    let title = if schedules.len() == 1 {
        format!("Learning rate over {steps}")
    } else {
        format!("{} schedules over {steps}", schedules.len())
    };
    let mut chart = Chart::new(title, "step", "learning rate").with_log_y(args.log_y);
    let mut momenta = Vec::new();
    for (i, (label, s)) in schedules.iter().enumerate() {
        let values = s.values(0..n);
        let points = values
            .iter()
            .enumerate()
            .map(|(step, v)| (step as f64, *v))
            .collect();
        chart
            .series
            .push(Series::new(label.clone(), points).with_color(i));
        let mut marks = markers(&values);
        if let AnySchedule::Join(j) = s {
            for &b in j.boundaries.iter().filter(|&&b| b > 0 && b < n) {
                if !marks.iter().any(|m| m.0 == b) {
                    marks.push((b, "join".into()));
                }
            }
        }
        chart
            .markers
            .extend(marks.into_iter().map(|(x, l)| Marker::new(x as f64, l)));
        if args.momentum {
            let m: Vec<(f64, f64)> = s
                .momenta(0..n)
                .into_iter()
                .enumerate()
                .filter_map(|(step, m)| Some((step as f64, m?)))
                .collect();
            if !m.is_empty() {
                let name = if schedules.len() == 1 {
                    "momentum".to_string()
                } else {
                    format!("momentum: {}", truncate(label, MAX_LABEL - 10))
                };
                momenta.push(Series::new(name, m).with_color(i));
            }
        }
    }
    if args.momentum {
        if momenta.is_empty() {
            return Err(UserError(
                "--momentum: none of the schedules sets a momentum (one_cycle, cyclic and PyTorch's OneCycleLR/CyclicLR with cycle_momentum do)".into(),
            ));
        }
        chart.secondary = Some(SecondaryAxis {
            label: "momentum".into(),
            series: momenta,
        });
    }
    Ok(chart)
}

/// Where a trace jumps or restarts, with a label. Kept simple on purpose:
/// - a change between two steps more than 4x larger than the change on either side
///   (and not float noise) is a jump: a drop is labelled with its factor (`×0.1`), a rise
///   after a decrease `restart`, any other rise `jump`;
/// - a smooth rise right after a decrease (a triangular cycle's trough) is `restart`.
///
/// A trace with more than [`MAX_MARKERS`] such places (noise, short cycles) gets none.
fn markers(v: &[f64]) -> Vec<(u64, String)> {
    let scale = v
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    if scale == 0.0 {
        return Vec::new();
    }
    let eps = 1e-9 * scale;
    let diff = |i: usize| -> f64 {
        let d = v[i] - v[i - 1];
        if d.is_finite() && d.abs() > eps {
            d
        } else {
            0.0
        }
    };
    let mut out = Vec::new();
    for i in 1..v.len() {
        let d = diff(i);
        if d == 0.0 {
            continue;
        }
        let before = if i >= 2 { diff(i - 1) } else { 0.0 };
        let after = if i + 1 < v.len() { diff(i + 1) } else { 0.0 };
        let was_falling = (1..i)
            .rev()
            .map(diff)
            .find(|d| *d != 0.0)
            .is_some_and(|d| d < 0.0);
        if d.abs() > 4.0 * before.abs().max(after.abs()) {
            let label = if d < 0.0 && v[i - 1] != 0.0 {
                format!("×{}", short(v[i] / v[i - 1]))
            } else if d < 0.0 {
                "drop".to_string()
            } else if was_falling {
                "restart".to_string()
            } else {
                "jump".to_string()
            };
            out.push((i as u64, label));
        } else if d > 0.0 && before < 0.0 {
            out.push((i as u64 - 1, "restart".to_string()));
        }
        if out.len() > MAX_MARKERS {
            return Vec::new();
        }
    }
    out
}

/// Two significant digits: a factor in a label.
fn short(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits = (1 - x.abs().log10().floor() as i32).clamp(0, 10) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// One epoch's values, as any metrics file lrsched writes holds them. A value written as
/// `null` (or `NaN`: a diverged run) is NaN, a gap in its curve.
struct Epoch {
    epoch: f64,
    /// The optimizer steps after the epoch, where the file says (train's records).
    step: Option<f64>,
    train_loss: f64,
    val_loss: f64,
    lr: f64,
    momentum: Option<f64>,
}

/// One optimizer step's rate and loss.
struct Step {
    step: f64,
    lr: f64,
    loss: f64,
}

/// One run's lines in a file: a file of `train --metrics-out` or a trial's
/// `metrics.jsonl` holds one; compare's `metrics.jsonl` one per schedule and seed.
#[derive(Default)]
struct Run {
    label: String,
    epochs: Vec<Epoch>,
    steps: Vec<Step>,
}

/// The runs of a metrics file, in the order they first appear.
#[derive(Default)]
struct Runs(Vec<Run>);

impl Runs {
    fn get(&mut self, label: String) -> &mut Run {
        match self.0.iter().position(|r| r.label == label) {
            Some(i) => &mut self.0[i],
            None => {
                self.0.push(Run {
                    label,
                    ..Run::default()
                });
                self.0.last_mut().expect("just pushed")
            }
        }
    }

    /// Reads every line of `text` (from `path`): epoch records (train's, with `step`;
    /// a protocol `{"epoch": ...}` line; compare's rows with `schedule` and `seed`),
    /// step lines (`{"step", "lr", "loss"}`), train's `lr_change` events (skipped).
    fn read(&mut self, path: &Path, text: &str) -> Result<(), UserError> {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: &str| {
                UserError(format!(
                    "{}: line {}: {why} (expected the metrics lrsched writes: `train --metrics-out`, a trial's metrics.jsonl, compare's metrics.jsonl)",
                    path.display(),
                    i + 1
                ))
            };
            let v = read_line(line).map_err(|e| bad(&e))?;
            let serde_json::Value::Object(map) = &v else {
                return Err(bad("not a JSON object"));
            };
            // train's `lr_change` events repeat what the step lines already say.
            if map.contains_key("event") {
                continue;
            }
            let num = |key: &str| -> Result<Option<f64>, UserError> {
                match map.get(key) {
                    None => Ok(None),
                    Some(serde_json::Value::Null) => Ok(Some(f64::NAN)),
                    Some(x) => x
                        .as_f64()
                        .map(Some)
                        .ok_or_else(|| bad(&format!("`{key}` is not a number"))),
                }
            };
            let label = match (map.get("schedule"), map.get("seed")) {
                (Some(serde_json::Value::String(s)), Some(seed)) => format!("{s} seed {seed}"),
                (Some(serde_json::Value::String(s)), None) => s.clone(),
                _ => String::new(),
            };
            let run = self.get(label);
            match (num("epoch")?, num("step")?) {
                (Some(epoch), step) => run.epochs.push(Epoch {
                    epoch,
                    step,
                    train_loss: num("train_loss")?.unwrap_or(f64::NAN),
                    val_loss: num("val_loss")?.unwrap_or(f64::NAN),
                    lr: num("lr")?.unwrap_or(f64::NAN),
                    momentum: num("momentum")?.filter(|m| !m.is_nan()),
                }),
                (None, Some(step)) => run.steps.push(Step {
                    step,
                    lr: num("lr")?.unwrap_or(f64::NAN),
                    loss: num("loss")?.unwrap_or(f64::NAN),
                }),
                (None, None) => return Err(bad("no `epoch` or `step`")),
            }
        }
        Ok(())
    }
}

/// A line as JSON; the bare `NaN` / `Infinity` tokens a Python program writes are read
/// through the protocol's own parser.
fn read_line(line: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str(line) {
        Ok(v) => Ok(v),
        Err(e) => match lrsched_tools::protocol::parse_line(line) {
            Ok(lrsched_tools::protocol::Line::Epoch(l)) => {
                let mut m = serde_json::Map::new();
                m.insert("epoch".into(), l.epoch.into());
                for (k, v) in l.values {
                    m.insert(
                        k,
                        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
                    );
                }
                Ok(m.into())
            }
            Ok(lrsched_tools::protocol::Line::Step(s)) => Ok(serde_json::json!({
                "step": s.step,
                "lr": s.lr.and_then(serde_json::Number::from_f64),
                "loss": s.loss.and_then(serde_json::Number::from_f64),
            })),
            Err(_) => Err(format!("not JSON: {e}")),
        },
    }
}

/// Whether `points` has one a chart can draw (finite; positive on a log axis).
fn drawable(points: &[(f64, f64)], log_y: bool) -> bool {
    points
        .iter()
        .any(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
}

/// Learning rate and loss against step, stacked, for every run in the file: per-step
/// values from the step lines (in the file, or `<stem>.steps.jsonl` beside it, or
/// compare's `steps.jsonl`), the epoch records otherwise. Null and NaN values are gaps.
fn run_charts(path: &Path, args: &PlotArgs) -> Result<Vec<Chart>, UserError> {
    let text = read(path)?;
    let mut runs = Runs::default();
    runs.read(path, &text)?;
    if runs
        .0
        .iter()
        .all(|r| r.epochs.is_empty() && r.steps.is_empty())
    {
        return Err(UserError(format!(
            "{}: no epoch records in the file",
            path.display()
        )));
    }
    if runs.0.iter().all(|r| r.steps.is_empty()) {
        let beside = path.with_extension("steps.jsonl");
        let compare = path.with_file_name("steps.jsonl");
        let labelled = runs.0.iter().any(|r| !r.label.is_empty());
        let steps_path = if beside.is_file() {
            Some(beside)
        } else if labelled && compare.is_file() {
            Some(compare)
        } else {
            None
        };
        if let Some(p) = steps_path {
            let text = read(&p)?;
            runs.read(&p, &text)?;
        }
    }
    runs.0
        .retain(|r| !(r.epochs.is_empty() && r.steps.is_empty()));
    let many = runs.0.len() > 1;
    // Every epoch at a step: its own `step`, else its end at the run's steps per epoch;
    // without any step, the axis is epochs.
    let by_step = runs
        .0
        .iter()
        .any(|r| !r.steps.is_empty() || r.epochs.iter().any(|e| e.step.is_some()));
    let x_name = if by_step { "step" } else { "epoch" };

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut lr = Chart::new(format!("Run {name}"), x_name, "learning rate").with_log_y(args.log_y);
    let mut loss = Chart::new("Loss", x_name, "loss");
    let mut momenta = Vec::new();
    for (i, run) in runs.0.iter().enumerate() {
        let named = |what: &str| {
            if run.label.is_empty() {
                what.to_string()
            } else {
                truncate(&format!("{}: {what}", run.label), MAX_LABEL)
            }
        };
        let last_step = run.steps.iter().map(|s| s.step).fold(f64::NAN, f64::max);
        let last_epoch = run.epochs.iter().map(|e| e.epoch).fold(f64::NAN, f64::max);
        let per_epoch = if last_step.is_finite() && last_epoch > 0.0 {
            (last_step + 1.0) / last_epoch
        } else {
            1.0
        };
        let at = |e: &Epoch| {
            if !by_step {
                e.epoch
            } else {
                e.step
                    .filter(|s| s.is_finite())
                    .unwrap_or(e.epoch * per_epoch)
            }
        };
        // Colours: one per run when there are several, else one per curve.
        let color = |k: usize| if many { i } else { k };
        let add = |chart: &mut Chart, s: Series| {
            if drawable(&s.points, chart.log_y) {
                chart.series.push(s);
            }
        };
        if run.steps.is_empty() {
            add(
                &mut lr,
                Series::new(
                    named("learning rate (end of epoch)"),
                    run.epochs.iter().map(|e| (at(e), e.lr)).collect(),
                )
                .with_color(color(0)),
            );
        } else {
            add(
                &mut lr,
                Series::new(
                    named("learning rate"),
                    run.steps.iter().map(|s| (s.step, s.lr)).collect(),
                )
                .with_color(color(0)),
            );
            if !many {
                let rates: Vec<f64> = run.steps.iter().map(|s| s.lr).collect();
                lr.markers = markers(&rates)
                    .into_iter()
                    .filter_map(|(k, l)| Some(Marker::new(run.steps.get(k as usize)?.step, l)))
                    .collect();
            }
            add(
                &mut loss,
                Series::new(
                    named("training loss (step)"),
                    run.steps.iter().map(|s| (s.step, s.loss)).collect(),
                )
                .with_color(color(0)),
            );
        }
        // An epoch's mean training loss is drawn at its middle step, where a mean
        // belongs; validation at its end.
        let mut before = 0.0;
        let middles: Vec<(f64, f64)> = run
            .epochs
            .iter()
            .map(|e| {
                let end = at(e);
                let mid = if by_step { (before + end) / 2.0 } else { end };
                before = end;
                (mid, e.train_loss)
            })
            .collect();
        let k = usize::from(!run.steps.is_empty());
        add(
            &mut loss,
            Series::new(named("training loss (epoch mean)"), middles).with_color(color(k)),
        );
        add(
            &mut loss,
            Series::new(
                named("validation loss (epoch)"),
                run.epochs.iter().map(|e| (at(e), e.val_loss)).collect(),
            )
            .with_color(color(k + 1)),
        );
        if args.momentum {
            let m: Vec<(f64, f64)> = run
                .epochs
                .iter()
                .filter_map(|e| Some((at(e), e.momentum?)))
                .collect();
            if !m.is_empty() {
                momenta.push(
                    Series::new(named("momentum (end of epoch)"), m).with_color(if many {
                        i
                    } else {
                        1
                    }),
                );
            }
        }
    }
    if args.momentum {
        if momenta.is_empty() {
            return Err(UserError(format!(
                "--momentum: {} records no momentum (the run's schedule set none)",
                path.display()
            )));
        }
        lr.secondary = Some(SecondaryAxis {
            label: "momentum".into(),
            series: momenta,
        });
    }
    let charts: Vec<Chart> = [lr, loss]
        .into_iter()
        .filter(|c| !c.series.is_empty() || c.secondary.is_some())
        .collect();
    if charts.is_empty() {
        return Err(UserError(format!(
            "{}: nothing to draw: no rate or loss in the file is a finite number{}",
            path.display(),
            if args.log_y { " above 0 (--log-y)" } else { "" }
        )));
    }
    Ok(charts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_drops_are_marked_with_their_factor() {
        let v: Vec<f64> = (0..100).map(|s| 0.1 * 0.1f64.powi(s / 30)).collect();
        let m = markers(&v);
        assert_eq!(
            m,
            vec![
                (30, "×0.1".to_string()),
                (60, "×0.1".to_string()),
                (90, "×0.1".to_string())
            ]
        );
    }

    #[test]
    fn smooth_curves_have_no_markers_and_restarts_do() {
        let cosine: Vec<f64> = (0..200)
            .map(|s| 0.05 * (1.0 + (std::f64::consts::PI * s as f64 / 199.0).cos()))
            .collect();
        assert!(markers(&cosine).is_empty());
        let warm: Vec<f64> = (0..60)
            .map(|s| 0.05 * (1.0 + (std::f64::consts::PI * (s % 20) as f64 / 20.0).cos()))
            .collect();
        let m = markers(&warm);
        assert_eq!(m.iter().map(|x| x.0).collect::<Vec<_>>(), [20, 40]);
        assert!(m.iter().all(|x| x.1 == "restart"));
        let warmup: Vec<f64> = (0..50)
            .map(|s| {
                if s < 10 {
                    0.01 * s as f64
                } else {
                    0.1 - 0.001 * (s - 10) as f64
                }
            })
            .collect();
        assert!(markers(&warmup).is_empty());
    }
}
