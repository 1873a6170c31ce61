//! `tune --strategy predict`: two fitting runs pin down the loss-curve law, the law
//! predicts every point of the grid, and only the few it ranks best are run.
//!
//! The fitting runs are a constant and a cosine (to 0 over the run) at one rate (by default
//! the highest peak rate among the grid's schedules), each the whole budget, ordinary trials
//! of the folder keyed by their schedules, so a rerun finds them. Their step lines
//! (`{"step", "lr", "loss"}`, docs/protocol.md) fit both laws of `lrsched_predict`, the
//! better one predicting; every grid point's rates, resolved at the fitting runs' steps per
//! epoch, get a predicted final training loss (the mean over the last 5% of steps); the
//! `top_k` lowest run as ordinary trials, and the ranking, `best.json` and the rest come
//! from them as from any search. [`PredictiveResult`] sets each confirmed trial's predicted
//! loss beside its measured one, and the trials and seconds spent beside what running the
//! whole grid would have cost.

use super::{execute, write_inputs, Plan, PlannedTrial, Strategy, TuneResult};
use super::{space::Params, TuneSpec};
use crate::predict::{drawn_curve, observed, rates};
use crate::runner::TrialEvent;
use crate::trainer::Trainer;
use lrsched_predict::{median_relative_error, predict, spearman, Candidate, LawChoice, Run};
use lrsched_predict::{Outcome, MAX_STEPS};
use lrsched_report::html::{Section, Table};
use lrsched_report::{render_svg, Chart, Series};
use serde_json::{json, Value};
use std::path::Path;

/// Bootstrap refits behind each prediction's interval: enough for a 95% interval's ends
/// to settle to a few percent, a fraction of a second on a run of a few thousand steps.
pub const FIT_RESAMPLES: usize = 100;

/// The fewest confirmed trials whose rank correlation is reported (`--top-k 5` or more).
pub const MIN_SPEARMAN: usize = 5;

/// Steps per epoch assumed before any run has said its own: only to find the grid's
/// peak rate and to refuse schedules no law predicts, before anything runs.
const NOMINAL_STEPS_PER_EPOCH: u64 = 1000;

/// A fitting run as it ended.
#[derive(Debug, Clone)]
pub struct FittingRun {
    /// `constant` or `cosine`.
    pub name: &'static str,
    /// Its schedule, one line.
    pub line: String,
    /// Its trial key.
    pub key: String,
    /// Its measured final loss (mean step loss over the last 5% of steps).
    pub final_loss: f64,
    /// The fitted law's final loss for its rates.
    pub fitted_final_loss: f64,
    /// Its wall-clock seconds.
    pub seconds: f64,
}

/// One grid point's prediction and, when it was run, what it measured.
#[derive(Debug, Clone)]
pub struct Predicted {
    /// Its trial key.
    pub key: String,
    /// Its schedule, one line.
    pub line: String,
    /// The parameters' values.
    pub params: Params,
    /// The predicted final training loss.
    pub final_loss: f64,
    /// The 95% interval of the fit's uncertainty.
    pub interval: [f64; 2],
    /// Whether it was run to confirm.
    pub confirmed: bool,
    /// Its measured final training loss, when run and it reported step lines.
    pub measured: Option<f64>,
    /// Its score in the search's metric, when run and scored.
    pub score: Option<f64>,
}

/// What `tune --strategy predict` found: the confirmed trials ranked as any search's, and
/// the prediction beside them.
#[derive(Debug, Clone)]
pub struct PredictiveResult {
    /// The confirmed trials, ranked.
    pub result: TuneResult,
    /// The rate of the fitting runs.
    pub fit_lr: f64,
    /// The fitting runs.
    pub fitting: Vec<FittingRun>,
    /// The fit and every grid point's prediction (named by key).
    pub outcome: Outcome,
    /// Every grid point, lowest predicted loss first.
    pub predicted: Vec<Predicted>,
    /// Spearman's correlation of predicted and measured loss over the confirmed trials
    /// (`None` under [`MIN_SPEARMAN`]).
    pub spearman: Option<f64>,
    /// The median relative error of the predicted final loss over the confirmed trials.
    pub median_error: Option<f64>,
    /// Seconds the fitting and confirming trials took.
    pub seconds_run: f64,
    /// What the whole grid would have taken at their mean seconds per trial.
    pub seconds_all: f64,
    /// Fitting and confirming trials.
    pub trials_run: usize,
    /// The runs behind the fit, with their losses (for the report's chart).
    runs: Vec<Run>,
    /// The confirmed trials' runs (for the report's chart), when they reported steps.
    confirmed_runs: Vec<(String, Run)>,
}

/// The highest rate any of `plan`'s schedules reaches over `epochs` epochs at a nominal
/// shape; refuses, before anything runs, a schedule no law predicts (one that follows a
/// metric, or takes the optimizer's base rate) naming it.
pub fn grid_peak(plan: &Plan, epochs: u64) -> Result<f64, String> {
    let steps = (NOMINAL_STEPS_PER_EPOCH * epochs).min(MAX_STEPS as u64);
    let mut peak: f64 = 0.0;
    for t in &plan.trials {
        let lrs = rates(&t.input.schedule, steps, epochs)
            .map_err(|e| format!("tune --strategy predict cannot predict `{}`: {e}", t.line))?;
        peak = lrs.iter().cloned().fold(peak, f64::max);
    }
    if peak > 0.0 {
        Ok(peak)
    } else {
        Err("tune --strategy predict: every schedule of the space has rate 0".into())
    }
}

/// Runs the fitting trials, predicts every point of `plan` and runs the `top_k` best
/// predicted (the caller holds the folder's lock). A fitting run that does not complete,
/// or reports no step lines, ends it with a one-line error saying what to change.
pub fn run(
    spec: &TuneSpec,
    plan: Plan,
    trainer: &Trainer,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<PredictiveResult, String> {
    let Strategy::Predict { top_k, fit_lr, .. } = spec.strategy else {
        return Err("tune's predictive run needs --strategy predict".into());
    };
    if plan.trials.is_empty() {
        return Err("tune --strategy predict: the space has no schedule to predict".into());
    }
    let peak = grid_peak(&plan, spec.epochs)?;
    let fit_lr = fit_lr.unwrap_or(peak);
    let shapes = [
        ("constant", json!({"type": "constant", "lr": fit_lr})),
        (
            "cosine",
            json!({"type": "cosine", "lr": fit_lr, "steps": "100%"}),
        ),
    ];
    let mut fit_trials = Vec::new();
    for (name, schedule) in shapes {
        let mut params = Params::new();
        params.insert("fitting run".into(), json!(name));
        let t = PlannedTrial::new(spec, params, schedule, spec.seed)
            .map_err(|(line, e)| format!("the fitting run `{line}`: {e}"))?;
        fit_trials.push((name, t));
    }
    let fit_plan = Plan::with_finished(fit_trials.iter().map(|(_, t)| t.clone()).collect());
    write_inputs(spec, &fit_plan)?;
    let fitted = execute::run(spec, fit_plan, trainer, events)?;
    let mut runs = Vec::new();
    for (_, t) in &fit_trials {
        let row = fitted.rows.iter().find(|r| r.key == t.key);
        match row {
            Some(r) if r.record.is_usable() && r.record.outcome == "completed" => {}
            Some(r) => {
                return Err(format!(
                    "the fitting run `{}` ended {} ({}): the law needs both fitting runs whole; give --fit-lr a rate that trains (the grid's peak is {peak})",
                    t.line,
                    r.record.outcome,
                    r.record.note()
                ))
            }
            None => return Err(format!("the fitting run `{}` has no result", t.line)),
        }
        let run = Run::read_metrics(&t.input.metrics_path()).map_err(|e| {
            format!(
                "the fitting run `{}`: {e}; tune --strategy predict needs the program's step lines {{\"step\", \"lr\", \"loss\"}} (docs/protocol.md)",
                t.line
            )
        })?;
        runs.push(run);
    }
    let steps = runs.iter().map(Run::steps).max().unwrap_or(0) as u64;
    let candidates = plan
        .trials
        .iter()
        .map(|t| {
            Ok(Candidate {
                name: t.key.clone(),
                lrs: rates(&t.input.schedule, steps, spec.epochs)
                    .map_err(|e| format!("`{}`: {e}", t.line))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let outcome = predict(
        &runs,
        &candidates,
        LawChoice::Both,
        FIT_RESAMPLES,
        spec.seed,
    )
    .map_err(|e| format!("tune --strategy predict: {e}"))?;
    let mut order: Vec<usize> = (0..plan.trials.len()).collect();
    // Lowest predicted loss first; a point the law cannot put a number on goes last.
    order.sort_by(|&a, &b| {
        let key = |i: usize| {
            let v = outcome.predictions[i].final_loss;
            if v.is_finite() {
                v
            } else {
                f64::INFINITY
            }
        };
        key(a).total_cmp(&key(b)).then(a.cmp(&b))
    });
    let top: Vec<PlannedTrial> = order
        .iter()
        .take(top_k)
        .map(|&i| plan.trials[i].clone())
        .collect();
    let confirm_plan = Plan::with_finished(top.clone());
    write_inputs(spec, &confirm_plan)?;
    let result = execute::run(spec, confirm_plan, trainer, events)?;
    let mut confirmed_runs = Vec::new();
    for t in &top {
        if let Ok(r) = Run::read_metrics(&t.input.metrics_path()) {
            confirmed_runs.push((t.key.clone(), r));
        }
    }
    let predicted: Vec<Predicted> = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let t = &plan.trials[i];
            let p = &outcome.predictions[i];
            let row = result.rows.iter().find(|r| r.key == t.key);
            Predicted {
                key: t.key.clone(),
                line: t.line.clone(),
                params: t.params.clone(),
                final_loss: p.final_loss,
                interval: p.interval,
                confirmed: rank < top_k,
                // A trial that diverged or failed measured no final loss worth comparing.
                measured: row
                    .filter(|r| r.record.outcome == "completed")
                    .and_then(|_| confirmed_runs.iter().find(|(k, _)| *k == t.key))
                    .map(|(_, r)| r.final_loss())
                    .filter(|v| v.is_finite()),
                score: row.and_then(|r| r.score),
            }
        })
        .collect();
    let pairs: (Vec<f64>, Vec<f64>) = predicted
        .iter()
        .filter_map(|p| Some((p.final_loss, p.measured?)))
        .unzip();
    let seconds: Vec<f64> = fitted
        .rows
        .iter()
        .chain(&result.rows)
        .map(|r| r.record.seconds)
        .collect();
    let seconds_run: f64 = seconds.iter().sum();
    let per_trial = seconds_run / seconds.len().max(1) as f64;
    let fitting = fit_trials
        .iter()
        .zip(&runs)
        .map(|((name, t), run)| FittingRun {
            name,
            line: t.line.clone(),
            key: t.key.clone(),
            final_loss: run.final_loss(),
            fitted_final_loss: outcome.fit.final_loss(&run.lrs),
            seconds: fitted
                .rows
                .iter()
                .find(|r| r.key == t.key)
                .map_or(f64::NAN, |r| r.record.seconds),
        })
        .collect();
    Ok(PredictiveResult {
        fit_lr,
        fitting,
        // Three or four points give a rank correlation of +-1 or +-0.8 by chance alone:
        // none is shown below five.
        spearman: (pairs.0.len() >= MIN_SPEARMAN)
            .then(|| spearman(&pairs.0, &pairs.1))
            .flatten(),
        median_error: median_relative_error(&pairs.0, &pairs.1),
        seconds_run,
        seconds_all: per_trial * plan.trials.len() as f64,
        trials_run: seconds.len(),
        predicted,
        outcome,
        result,
        runs,
        confirmed_runs,
    })
}

/// A loss with 5 significant digits, `-` when unknown.
fn loss(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.5}"),
        _ => "-".into(),
    }
}

impl PredictiveResult {
    /// The compute line: trials and seconds run against the whole grid's.
    pub fn compute_line(&self) -> String {
        let saved = 1.0 - self.seconds_run / self.seconds_all;
        format!(
            "compute: {} trials ({} fitting + {} confirming) in {:.1} s, instead of the grid's {} trials (about {:.1} s at {:.2} s a trial): about {:.0}% saved, an estimate",
            self.trials_run,
            self.fitting.len(),
            self.trials_run - self.fitting.len(),
            self.seconds_run,
            self.predicted.len(),
            self.seconds_all,
            self.seconds_all / self.predicted.len() as f64,
            if saved.is_finite() { saved * 100.0 } else { 0.0 },
        )
    }

    /// The accuracy line: how far the confirmed trials' losses were from the predictions.
    pub fn accuracy_line(&self) -> String {
        let n = self
            .predicted
            .iter()
            .filter(|p| p.measured.is_some())
            .count();
        format!(
            "prediction error over the {n} confirmed trial(s): median {}; Spearman {}",
            self.median_error
                .map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
            self.spearman.map_or(
                format!("- (needs {MIN_SPEARMAN} measured trials)"),
                |r| format!("{r:.3}")
            ),
        )
    }

    /// The fit line: the law, its quality, and a warning when it should not be trusted.
    pub fn fit_line(&self) -> String {
        let q = &self.outcome.fit.quality;
        let mut s = format!(
            "fit: {} law on a constant and a cosine at lr {} (R^2 {:.4}, error {:.2}% against noise {:.2}%)",
            self.outcome.law.name(),
            self.fit_lr,
            q.r2,
            q.rms_relative_error * 100.0,
            q.rms_noise * 100.0
        );
        if let Some(poor) = &q.poor {
            s.push_str(&format!(
                "; the fit is poor ({poor}): the ranking below may be wrong, --strategy grid runs every point"
            ));
        }
        s
    }

    /// The predicted-against-measured table: the confirmed trials first, then the best of
    /// the rest (at most `rest` of them), as header and rows.
    pub fn table(&self, rest: usize) -> (Vec<String>, Vec<Vec<String>>) {
        let header = [
            "predicted rank",
            "predicted loss",
            "95% fit interval",
            "measured loss",
            "error",
            "score",
            "schedule",
        ]
        .map(String::from)
        .to_vec();
        let confirmed = self.predicted.iter().filter(|p| p.confirmed).count();
        let rows = self
            .predicted
            .iter()
            .take(confirmed + rest)
            .enumerate()
            .map(|(i, p)| {
                vec![
                    (i + 1).to_string(),
                    loss(Some(p.final_loss)),
                    format!(
                        "{} to {}",
                        loss(Some(p.interval[0])),
                        loss(Some(p.interval[1]))
                    ),
                    if p.confirmed {
                        loss(p.measured)
                    } else {
                        "not run".into()
                    },
                    p.measured.map_or("-".into(), |m| {
                        format!("{:+.1}%", (p.final_loss - m) / m * 100.0)
                    }),
                    super::output::fmt_score(&self.result, p.score),
                    p.line.clone(),
                ]
            })
            .collect();
        (header, rows)
    }

    /// `predictions.json`: the fit, the fitting runs, every grid point's prediction (with
    /// what the confirmed ones measured), the accuracy and the compute.
    pub fn to_json(&self) -> Value {
        let f = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        json!({
            "law": self.outcome.law.name(),
            // The fit as `lrsched predict` writes it (parameters by name).
            "fit": self.outcome.to_json()["fit"],
            "chosen_because": self.outcome.chosen_because,
            "fit_lr": self.fit_lr,
            "fitting_runs": self.fitting.iter().map(|r| json!({
                "name": r.name, "schedule": r.line, "key": r.key,
                "final_loss": f(r.final_loss), "fitted_final_loss": f(r.fitted_final_loss),
                "seconds": f(r.seconds),
            })).collect::<Vec<_>>(),
            "predictions": self.predicted.iter().map(|p| json!({
                "key": p.key, "schedule": p.line, "params": p.params,
                "final_loss": f(p.final_loss), "interval": [f(p.interval[0]), f(p.interval[1])],
                "confirmed": p.confirmed, "measured_final_loss": p.measured, "score": p.score,
            })).collect::<Vec<_>>(),
            "confirmed": {
                "spearman": self.spearman,
                "median_relative_error": self.median_error,
            },
            "compute": {
                "trials_run": self.trials_run,
                "grid_trials": self.predicted.len(),
                "seconds_run": f(self.seconds_run),
                "seconds_whole_grid_estimated": f(self.seconds_all),
            },
        })
    }

    /// Writes `predictions.json` into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(|e| e.to_string())?;
        crate::files::write_atomic(
            &dir.join("predictions.json"),
            format!("{text}\n").as_bytes(),
        )
    }

    /// The report's section: the lines above, the table, and the fitting and confirmed
    /// runs' observed curves beside the law's.
    pub fn section(&self) -> Result<Section, String> {
        let mut chart = Chart::new(
            "Fitting and confirmed runs: observed (window means) and the law's curves",
            "step",
            "training loss",
        )
        .with_log_y(true);
        let curves = self
            .runs
            .iter()
            .zip(&self.fitting)
            .map(|(r, f)| (f.name.to_string(), r))
            .chain(self.confirmed_runs.iter().map(|(k, r)| (k.clone(), r)));
        for (i, (name, run)) in curves.enumerate() {
            chart = chart
                .with_series(Series::new(format!("{name} (observed)"), observed(run)).with_color(i))
                .with_series(
                    Series::new(
                        format!("{name} (law)"),
                        drawn_curve(&self.outcome.fit.curve(&run.lrs)),
                    )
                    .with_color(i),
                );
        }
        let (header, rows) = self.table(10);
        Ok(Section {
            heading: "Predicted, then confirmed".into(),
            text: vec![
                self.fit_line(),
                self.accuracy_line(),
                self.compute_line(),
                "Loss: the mean training loss over the last 5% of steps. The interval is the fit's uncertainty (bootstrap over the fitting runs' windows), not the law's own error on a new shape.".into(),
            ],
            svgs: vec![render_svg(&chart).map_err(|e| e.to_string())?],
            table: Some(Table { header, rows }),
        })
    }
}
