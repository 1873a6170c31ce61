//! `lrsched predict`: fit the loss-curve laws to finished runs and predict the final loss of
//! each schedule in a file, before running any of them (the law in `lrsched_predict`).
//!
//! Inputs are the runs' metrics files (or trial folders holding `metrics.jsonl`) and a
//! schedules file as `compare --schedules` reads it; outputs, in a fresh `--out` folder,
//! `predictions.json` (docs/predict.md), `report.html` with the fitted and predicted curves
//! over the observed ones, and the table returned for printing.

use crate::candidates::read_schedules;
use crate::files::{locked_out_dir, write_atomic};
use lrsched::time::RunShape;
use lrsched::{Interval, Schedule, ScheduleSpec};
use lrsched_predict::{predict, Candidate, LawChoice, Outcome, Run, MAX_STEPS};
use lrsched_report::html::{render_html, Section, Table};
use lrsched_report::{render_svg, Chart, Series};
use std::path::{Path, PathBuf};

/// The most bootstrap resamples `--resamples` takes: each is a whole refit.
pub const MAX_RESAMPLES: usize = 10_000;

/// A checked `lrsched predict` run.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictSpec {
    /// One to three finished runs: metrics files, or trial folders with `metrics.jsonl`.
    pub runs: Vec<PathBuf>,
    /// The candidates, a schedules file as `compare --schedules` reads it.
    pub schedules: PathBuf,
    /// Epochs of a candidate run: `"3ep"` durations are counted in epochs of
    /// `steps / epochs` steps.
    pub epochs: u64,
    /// Steps of a candidate run; `None`: the longest run's.
    pub steps: Option<u64>,
    /// The law or laws to fit.
    pub law: LawChoice,
    /// Bootstrap resamples for the intervals.
    pub resamples: usize,
    /// The bootstrap's seed.
    pub seed: u64,
    /// The output folder (fresh).
    pub out: Option<PathBuf>,
    /// Also search schedule shapes at the runs' peak rate for the lowest predicted final
    /// loss ([`optimize`]), written as `optimized.json`.
    pub optimize: bool,
}

/// A shape `--optimize` tried: its name, its one-line form and its predicted final loss.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shape {
    /// e.g. `wsd-cosine-20%`.
    pub name: String,
    /// The schedule in the one-line form, as `compare --schedules` takes it.
    pub schedule: String,
    /// The fitted law's final loss for it.
    pub predicted_final_loss: f64,
}

/// The shapes `--optimize` searches at peak rate `peak`: warmup-stable-decay with each
/// cooldown shape (linear, cosine, 1-sqrt, 1-square) over 5% to 90% of the run, and the
/// cosine to floors of 0, 1%, 5% and 10% of the peak; each predicted with `fit`, best first.
pub fn optimize(
    fit: &lrsched_predict::Fit,
    peak: f64,
    steps: u64,
    epochs: u64,
) -> Result<Vec<Shape>, String> {
    let mut grid = Vec::new();
    for cooldown in ["linear", "cosine", "1-sqrt", "1-square"] {
        for pct in [5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 90] {
            grid.push((
                format!("wsd-{cooldown}-{pct}%"),
                format!(
                    "wsd(lr={peak}, stable_steps=\"{}%\", decay_steps=\"{pct}%\", cooldown={cooldown})",
                    100 - pct
                ),
            ));
        }
    }
    for floor in [0.0, 0.01, 0.05, 0.1] {
        grid.push((
            format!("cosine-floor-{}%", floor * 100.0),
            format!("cosine(lr={peak}, steps=\"100%\", min_lr={})", peak * floor),
        ));
    }
    let mut shapes = grid
        .into_iter()
        .map(|(name, schedule)| {
            let spec = ScheduleSpec::parse(&schedule).map_err(|e| format!("{name}: {e}"))?;
            let lrs = rates(&spec, steps, epochs).map_err(|e| format!("{name}: {e}"))?;
            Ok(Shape {
                name,
                schedule,
                predicted_final_loss: fit.final_loss(&lrs),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    shapes.sort_by(|a, b| a.predicted_final_loss.total_cmp(&b.predicted_final_loss));
    Ok(shapes)
}

/// What a prediction produced: the outcome, the folder it wrote and the printed table.
#[derive(Debug)]
pub struct PredictRun {
    /// Fits and predictions.
    pub outcome: Outcome,
    /// Where `predictions.json` and `report.html` are.
    pub out: PathBuf,
    /// The table to print.
    pub table: String,
}

/// Reads a run from a metrics file or a trial folder.
pub fn read_run(path: &Path) -> Result<Run, String> {
    let file = if path.is_dir() {
        path.join("metrics.jsonl")
    } else {
        path.to_path_buf()
    };
    Run::read_metrics(&file).map_err(|e| e.to_string())
}

/// The rate at every one of `steps` steps of `spec`, for a run of `epochs` epochs.
pub fn rates(spec: &ScheduleSpec, steps: u64, epochs: u64) -> Result<Vec<f64>, String> {
    if lrsched::spec::PLATEAU_TYPES.contains(&spec.type_name()) {
        return Err(format!(
            "`{}` follows a metric, which no law predicts; predict takes schedules of the step alone",
            spec.type_name()
        ));
    }
    if spec.needs_base_lr() {
        return Err(format!(
            "`{}` takes the optimizer's base rate: give its `lr` in the schedules file",
            spec.type_name()
        ));
    }
    let per_epoch = (steps / epochs).max(1);
    let shape = RunShape::new(per_epoch, 1).with_epochs(epochs as f64);
    let schedule = spec.resolve(&shape).map_err(|e| e.to_string())?;
    let values: Vec<f64> = (0..steps)
        .map(|s| match spec.interval() {
            Interval::Step => schedule.value(s),
            Interval::Epoch => schedule.value(s / per_epoch),
        })
        .collect();
    if let Some((s, v)) = values
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(format!(
            "its rate at step {s} is {v}; the laws need rates >= 0"
        ));
    }
    Ok(values)
}

/// Runs `lrsched predict`: reads the runs and candidates, fits, predicts, writes
/// `predictions.json` and `report.html` into a fresh `--out`, and returns the table.
/// `command_line` is written at the top of the report.
pub fn run(spec: &PredictSpec, command_line: &str) -> Result<PredictRun, String> {
    if spec.runs.is_empty() || spec.runs.len() > 3 {
        return Err(format!(
            "--runs given {} times; predict fits one to three runs",
            spec.runs.len()
        ));
    }
    if spec.epochs == 0 || spec.epochs > 1_000_000 {
        return Err(format!("--epochs {}: allowed 1 to 1000000", spec.epochs));
    }
    if spec.resamples > MAX_RESAMPLES {
        return Err(format!(
            "--resamples {}: allowed 0 to {MAX_RESAMPLES}",
            spec.resamples
        ));
    }
    if let Some(steps) = spec.steps {
        if steps < 4 || steps > MAX_STEPS as u64 {
            return Err(format!("--steps {steps}: allowed 4 to {MAX_STEPS}"));
        }
    }
    let runs: Vec<Run> = spec
        .runs
        .iter()
        .map(|p| read_run(p))
        .collect::<Result<_, _>>()?;
    let steps = spec
        .steps
        .unwrap_or_else(|| runs.iter().map(|r| r.steps()).max().unwrap_or(0) as u64);
    let entries = read_schedules(&spec.schedules)?;
    let candidates: Vec<Candidate> = entries
        .iter()
        .map(|entry| {
            let at = |e: String| {
                format!(
                    "{}: schedule `{}`: {e}",
                    spec.schedules.display(),
                    entry.name
                )
            };
            let mut schedule =
                ScheduleSpec::from_value(entry.schedule.clone()).map_err(|e| at(e.to_string()))?;
            if let Some(interval) = entry.interval {
                schedule = schedule.with_interval(interval);
            }
            Ok(Candidate {
                name: entry.name.clone(),
                lrs: rates(&schedule, steps, spec.epochs).map_err(at)?,
            })
        })
        .collect::<Result<_, String>>()?;
    // Outputs are made only once every input has been read and checked.
    let (out, _lock) = locked_out_dir("predict", spec.out.as_deref(), true)?;
    let outcome = predict(&runs, &candidates, spec.law, spec.resamples, spec.seed)
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&outcome.to_json()).map_err(|e| e.to_string())?;
    write_atomic(
        &out.join("predictions.json"),
        format!("{json}\n").as_bytes(),
    )?;
    let html = report(&outcome, &runs, &candidates, command_line)?;
    write_atomic(&out.join("report.html"), html.as_bytes())?;
    let mut table = outcome.table();
    if spec.optimize {
        let peak = runs
            .iter()
            .flat_map(|r| r.lrs.iter())
            .cloned()
            .fold(0.0, f64::max);
        let shapes = optimize(&outcome.fit, peak, steps, spec.epochs)?;
        let best = &shapes[0];
        // The best shape as a schedules file `compare --schedules` runs as it is, with the
        // runner-up of the other family beside it for a real check.
        let mut chosen = vec![best];
        let other_family = |s: &&Shape| s.name.split('-').next() != best.name.split('-').next();
        chosen.extend(shapes.iter().find(other_family));
        let list: Vec<serde_json::Value> = chosen
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "schedule": s.schedule, "predicted_final_loss": s.predicted_final_loss}))
            .collect();
        let text = serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?;
        write_atomic(&out.join("optimized.json"), format!("{text}\n").as_bytes())?;
        table.push_str(&format!(
            "optimized: {} ({}) predicts {:.5}, best of {} shapes at peak {peak}; optimized.json holds it for compare --schedules\n",
            best.name,
            best.schedule,
            best.predicted_final_loss,
            shapes.len()
        ));
    }
    Ok(PredictRun {
        outcome,
        out,
        table,
    })
}

/// At most this many points a drawn curve: enough for the eye, small enough for a page.
const DRAWN_POINTS: usize = 400;

fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let every = points.len().div_ceil(DRAWN_POINTS).max(1);
    points.into_iter().step_by(every).collect()
}

/// A predicted curve from where the fit starts (its first steps, which the laws do not
/// describe and where they run to infinity, would flatten the rest of the chart).
pub(crate) fn drawn_curve(curve: &[f64]) -> Vec<(f64, f64)> {
    let from = (curve.len() as f64 * lrsched_predict::SKIPPED_START) as usize;
    thin(
        curve
            .iter()
            .enumerate()
            .skip(from)
            .map(|(s, l)| (s as f64, *l))
            .collect(),
    )
}

/// A run's name in a legend: its file name, or folder and file for a trial folder's
/// `metrics.jsonl`.
fn short_name(name: &str) -> String {
    let path = Path::new(name);
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(|p| p.file_name()) {
        Some(dir) if file == "metrics.jsonl" => format!("{}/{file}", dir.to_string_lossy()),
        _ if file.is_empty() => name.to_string(),
        _ => file,
    }
}

/// Window means of a run's logged losses, as the fit saw them.
pub(crate) fn observed(run: &Run) -> Vec<(f64, f64)> {
    let n = run.losses.len();
    let count = n.clamp(1, DRAWN_POINTS / 2);
    (0..count)
        .map(|w| {
            let part = &run.losses[w * n / count..(w + 1) * n / count];
            let mean = part.iter().map(|(_, l)| l).sum::<f64>() / part.len() as f64;
            (part[part.len() / 2].0 as f64, mean)
        })
        .collect()
}

fn report(
    outcome: &Outcome,
    runs: &[Run],
    candidates: &[Candidate],
    command_line: &str,
) -> Result<String, String> {
    let svg = |c: &Chart| render_svg(c).map_err(|e| e.to_string());
    let mut fitted = Chart::new(
        "The runs: observed (window means) and fitted",
        "step",
        "training loss",
    )
    .with_log_y(true);
    for (i, run) in runs.iter().enumerate() {
        fitted = fitted
            .with_series(
                Series::new(
                    format!("{} (observed)", short_name(&run.name)),
                    observed(run),
                )
                .with_color(i),
            )
            .with_series(
                Series::new(
                    format!("{} (fitted)", short_name(&run.name)),
                    drawn_curve(&outcome.fit.curve(&run.lrs)),
                )
                .with_color(i),
            );
    }
    let mut predicted =
        Chart::new("Predicted loss curves", "step", "training loss").with_log_y(true);
    let mut lr_chart = Chart::new("The candidates' rates", "step", "learning rate");
    for (i, (p, c)) in outcome.predictions.iter().zip(candidates).enumerate() {
        predicted =
            predicted.with_series(Series::new(p.name.clone(), drawn_curve(&p.curve)).with_color(i));
        let lrs: Vec<(f64, f64)> = c
            .lrs
            .iter()
            .enumerate()
            .map(|(s, l)| (s as f64, *l))
            .collect();
        lr_chart = lr_chart.with_series(Series::new(c.name.clone(), thin(lrs)).with_color(i));
    }
    let mut order: Vec<usize> = (0..outcome.predictions.len()).collect();
    order.sort_by(|&a, &b| {
        outcome.predictions[a]
            .final_loss
            .total_cmp(&outcome.predictions[b].final_loss)
    });
    let rows = order
        .iter()
        .map(|&i| {
            let p = &outcome.predictions[i];
            vec![
                p.name.clone(),
                format!("{:.5}", p.final_loss),
                format!(
                    "{:.5} to {}",
                    p.interval[0],
                    if p.interval[1].is_finite() {
                        format!("{:.5}", p.interval[1])
                    } else {
                        "unbounded".into()
                    }
                ),
            ]
        })
        .collect();
    let mut fit_text = vec![format!(
        "Law: {} ({}). Parameters: {}. R^2 {:.4}; error {:.2}% root mean square against the runs' window means, whose own noise accounts for {:.2}%.",
        outcome.law.name(),
        outcome.chosen_because,
        outcome
            .law
            .parameters()
            .iter()
            .zip(&outcome.fit.parameters)
            .map(|(k, v)| format!("{k} = {v:.4e}"))
            .collect::<Vec<_>>()
            .join(", "),
        outcome.fit.quality.r2,
        outcome.fit.quality.rms_relative_error * 100.0,
        outcome.fit.quality.rms_noise * 100.0,
    )];
    if let Some(poor) = &outcome.fit.quality.poor {
        fit_text.push(format!("Do not trust these predictions: {poor}."));
    }
    fit_text.push(
        "Final loss: the mean training loss over the last 5% of steps. The interval is 95% of \
         the predictions of fits to resampled windows of the runs: the fit's uncertainty, not \
         the law's own error on a new shape."
            .into(),
    );
    for r in &outcome.runs {
        fit_text.push(format!(
            "Run {}: {} steps, final loss {:.5} measured, {:.5} fitted.",
            r.name, r.steps, r.final_loss, r.fitted_final_loss
        ));
    }
    let sections = [
        Section {
            heading: "Predictions".into(),
            text: vec![],
            svgs: vec![svg(&predicted)?, svg(&lr_chart)?],
            table: Some(Table {
                header: vec![
                    "schedule".into(),
                    "predicted final loss".into(),
                    "95% fit interval".into(),
                ],
                rows,
            }),
        },
        Section {
            heading: "The fit".into(),
            text: fit_text,
            svgs: vec![svg(&fitted)?],
            table: None,
        },
    ];
    Ok(render_html("lrsched predict", command_line, &sections))
}
