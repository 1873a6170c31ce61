//! What `lrsched predict` computes: both laws fitted, one chosen, every candidate predicted
//! with its interval; as `predictions.json` and a table.

use crate::{bootstrap, fit, Fit, Law, PredictError, Run};
use serde::Serialize;

/// A schedule to predict: its name and its rate at every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The name it had in the schedules file.
    pub name: String,
    /// The rate at each step.
    pub lrs: Vec<f64>,
}

/// Which laws to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LawChoice {
    /// Only this one.
    One(Law),
    /// Both, and predict with the one that fits better (the annealing law, with fewer
    /// parameters, unless the multi-power law's error is clearly lower).
    Both,
}

/// One candidate's prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The candidate's name.
    pub name: String,
    /// The predicted final loss: the mean step loss over its last 5% of steps.
    pub final_loss: f64,
    /// The 95% bootstrap interval of that prediction.
    pub interval: [f64; 2],
    /// The predicted loss at every step (for the report; not written to the JSON).
    #[serde(skip)]
    pub curve: Vec<f64>,
}

/// The outcome of a prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The law the predictions come from.
    pub law: Law,
    /// Its fit.
    pub fit: Fit,
    /// Every law fitted (one or both), the chosen one among them.
    pub fits: Vec<Fit>,
    /// Why this law was chosen.
    pub chosen_because: String,
    /// The runs' measured final losses beside the fit's final losses for them.
    pub runs: Vec<RunCheck>,
    /// One prediction a candidate, in the order given.
    pub predictions: Vec<Prediction>,
}

/// A fitting run: its measured final loss and what the fit says it is.
#[derive(Debug, Clone, Serialize)]
pub struct RunCheck {
    /// Where the run came from.
    pub name: String,
    /// Its steps.
    pub steps: usize,
    /// The measured mean loss over its last 5% of steps.
    pub final_loss: f64,
    /// The fitted law's final loss for its rates.
    pub fitted_final_loss: f64,
}

/// Fits the laws `choice` names to `runs` (one to three) and predicts every candidate,
/// with `resamples` bootstrap fits (seeded by `seed`) for the intervals.
///
/// ```
/// use lrsched_predict::{predict, Candidate, Law, LawChoice, Run};
/// let truth = [0.5, 2.0, 0.4, 0.02, 0.99];
/// let steps: Vec<usize> = (0..300).collect();
/// let make = |lrs: Vec<f64>| {
///     let losses = Law::Annealing.evaluate(&truth, &lrs, &steps);
///     Run::new("r", lrs, steps.iter().cloned().zip(losses).collect()).unwrap()
/// };
/// let runs = [make(vec![0.1; 300]), make((0..300).map(|s| 0.1 - s as f64 / 3000.0).collect())];
/// let candidates = [Candidate { name: "half".into(), lrs: vec![0.05; 300] }];
/// let outcome = predict(&runs, &candidates, LawChoice::One(Law::Annealing), 20, 1).unwrap();
/// assert_eq!(outcome.predictions[0].name, "half");
/// assert!(outcome.fit.quality.poor.is_none());
/// ```
pub fn predict(
    runs: &[Run],
    candidates: &[Candidate],
    choice: LawChoice,
    resamples: usize,
    seed: u64,
) -> Result<Outcome, PredictError> {
    if runs.is_empty() || runs.len() > 3 {
        return Err(PredictError::new(format!(
            "{} runs given; predict fits one to three",
            runs.len()
        )));
    }
    let laws: Vec<Law> = match choice {
        LawChoice::One(law) => vec![law],
        LawChoice::Both => Law::ALL.to_vec(),
    };
    let fits: Vec<Fit> = laws
        .iter()
        .map(|&law| fit(law, runs))
        .collect::<Result<_, _>>()?;
    let (chosen, chosen_because) = choose(&fits);
    let fit = fits[chosen].clone();
    let lrs: Vec<Vec<f64>> = candidates.iter().map(|c| c.lrs.clone()).collect();
    let intervals = bootstrap(&fit, runs, &lrs, resamples, seed);
    let predictions = candidates
        .iter()
        .zip(intervals)
        .map(|(c, i)| Prediction {
            name: c.name.clone(),
            final_loss: i.value,
            interval: [i.lo, i.hi],
            curve: fit.curve(&c.lrs),
        })
        .collect();
    let runs = runs
        .iter()
        .map(|r| RunCheck {
            name: r.name.clone(),
            steps: r.steps(),
            final_loss: r.final_loss(),
            fitted_final_loss: fit.final_loss(&r.lrs),
        })
        .collect();
    Ok(Outcome {
        law: fit.law,
        fit,
        fits,
        chosen_because,
        runs,
        predictions,
    })
}

/// The fit to predict with, and why.
fn choose(fits: &[Fit]) -> (usize, String) {
    if fits.len() == 1 {
        return (0, "the only law asked for".to_string());
    }
    let trusted: Vec<bool> = fits.iter().map(|f| f.quality.poor.is_none()).collect();
    let error = |i: usize| fits[i].quality.rms_relative_error;
    // fits[0] is the annealing law (fewer parameters): kept unless the multi-power law is
    // trusted where it is not, or fits at least 10% better.
    if trusted[1] && !trusted[0] {
        return (
            1,
            "the annealing law's fit is poor and the multi-power law's is not".into(),
        );
    }
    if trusted[1] == trusted[0] && error(1) < 0.9 * error(0) {
        return (
            1,
            format!(
                "its error on the runs ({:.2}%) is clearly below the annealing law's ({:.2}%)",
                error(1) * 100.0,
                error(0) * 100.0
            ),
        );
    }
    let other = match &fits[1].quality.poor {
        Some(poor) => format!("the multi-power law's fit is poor: {poor}"),
        None => format!(
            "the multi-power law's error on the runs, {:.2}%, is not 10% below its {:.2}%",
            error(1) * 100.0,
            error(0) * 100.0
        ),
    };
    (0, format!("fewer parameters; {other}"))
}

impl Outcome {
    /// `predictions.json`: `{"law", "fit": {...}, "fits": [...], "runs": [...],
    /// "predictions": [{"name", "final_loss", "interval": [lo, hi]}]}` (docs/predict.md).
    pub fn to_json(&self) -> serde_json::Value {
        let fit_json = |f: &Fit| {
            serde_json::json!({
                "law": f.law,
                "parameters": f.law.parameters().iter().zip(&f.parameters)
                    .map(|(k, v)| ((*k).to_string(), serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>(),
                "r2": f.quality.r2,
                "rms_relative_error": f.quality.rms_relative_error,
                "rms_noise": f.quality.rms_noise,
                "at_bounds": f.quality.at_bounds,
                "poor": f.quality.poor,
            })
        };
        serde_json::json!({
            "law": self.law,
            "chosen_because": self.chosen_because,
            "fit": fit_json(&self.fit),
            "fits": self.fits.iter().map(fit_json).collect::<Vec<_>>(),
            "runs": self.runs,
            "predictions": self.predictions.iter().map(|p| serde_json::json!({
                "name": p.name,
                "final_loss": p.final_loss,
                "interval": [p.interval[0], finite_or_null(p.interval[1])],
            })).collect::<Vec<_>>(),
        })
    }

    /// The table `lrsched predict` prints: candidates from the lowest predicted loss.
    pub fn table(&self) -> String {
        let mut order: Vec<&Prediction> = self.predictions.iter().collect();
        order.sort_by(|a, b| a.final_loss.total_cmp(&b.final_loss));
        let width = order
            .iter()
            .map(|p| p.name.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(8, 48);
        let mut out = format!(
            "{:width$}  {:>12}  {:>25}\n",
            "schedule", "final loss", "95% fit interval"
        );
        for p in order {
            let name: String = p.name.chars().take(width).collect();
            out.push_str(&format!(
                "{name:width$}  {:>12.5}  {:>25}\n",
                p.final_loss,
                format!("[{:.5}, {}]", p.interval[0], bound(p.interval[1]))
            ));
        }
        out.push_str(&format!(
            "law: {} ({}); fit R^2 {:.3}, error {:.1}% (noise {:.1}%)\n",
            self.law.name(),
            self.chosen_because,
            self.fit.quality.r2,
            self.fit.quality.rms_relative_error * 100.0,
            self.fit.quality.rms_noise * 100.0
        ));
        if let Some(poor) = &self.fit.quality.poor {
            out.push_str(&format!(
                "warning: do not trust these predictions: {poor}\n"
            ));
        }
        out
    }
}

fn bound(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.5}")
    } else {
        "unbounded".to_string()
    }
}

fn finite_or_null(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}
