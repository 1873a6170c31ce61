//! Fitting a law to runs: Levenberg-Marquardt on log losses, from several starts.

use crate::law::Range;
use crate::run::final_window_start;
use crate::{Law, PredictError, Run};
use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{DMatrix, DVector, Dyn, Owned};
use serde::Serialize;

/// Logged losses are averaged over at most this many windows a run: a step's loss is one
/// batch's and noisy, a window's mean is what the law describes, and the fit's cost stays
/// bounded however long the run.
const WINDOWS_PER_RUN: usize = 100;

/// A law fitted to runs.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// The law.
    pub law: Law,
    /// Its parameters, in the order of [`Law::parameters`].
    pub parameters: Vec<f64>,
    /// How well it describes the runs it was fitted to.
    pub quality: Quality,
    /// The fitted parameters in the fit's own coordinates (logs, logits): where a refit
    /// (the bootstrap) starts.
    #[serde(skip)]
    pub(crate) internal: Vec<f64>,
}

/// How well a fit describes its runs, and whether to trust its predictions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quality {
    /// R^2 of the log window losses (1 is perfect).
    pub r2: f64,
    /// The root-mean-square relative error of the window losses (0.02 is 2%).
    pub rms_relative_error: f64,
    /// What the step losses' own noise alone would give as that error: the
    /// root-mean-square relative standard error of the window means.
    pub rms_noise: f64,
    /// Parameters the fit drove to the edge of their range: a sign the law does not
    /// describe these runs, or that they do not pin it down.
    pub at_bounds: Vec<String>,
    /// Why the predictions should not be trusted, or `None` when nothing says so.
    pub poor: Option<String>,
}

/// One run's windows: the step at each window's centre and its mean loss.
#[derive(Debug, Clone)]
pub(crate) struct Windows {
    pub lrs: Vec<f64>,
    pub steps: Vec<usize>,
    pub losses: Vec<f64>,
    /// Each window mean's relative standard error: the step losses' own noise, which no
    /// law can fit and a fit's error is judged against.
    pub noise: Vec<f64>,
}

/// The share of a run's first steps left out of the fit: a network's first steps fall
/// from the loss at initialisation, which neither law describes (both go to infinity as
/// the area under the rate goes to 0); the papers fit after warmup for the same reason.
pub const SKIPPED_START: f64 = 0.02;

pub(crate) fn windows(run: &Run) -> Windows {
    let skip = (run.steps() as f64 * SKIPPED_START) as usize;
    let kept: Vec<(usize, f64)> = run
        .losses
        .iter()
        .filter(|(s, _)| *s >= skip)
        .cloned()
        .collect();
    let kept = if kept.len() >= 4 {
        kept
    } else {
        run.losses.clone()
    };
    let n = kept.len();
    let count = n.min(WINDOWS_PER_RUN);
    let (mut steps, mut losses, mut noise) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for w in 0..count {
        let part = &kept[w * n / count..(w + 1) * n / count];
        let k = part.len() as f64;
        let mean = part.iter().map(|(_, l)| l).sum::<f64>() / k;
        let var = part.iter().map(|(_, l)| (l - mean).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
        steps.push(part[part.len() / 2].0);
        losses.push(mean);
        noise.push(if k > 1.0 {
            (var / k).sqrt() / mean
        } else {
            0.0
        });
    }
    Windows {
        lrs: run.lrs.clone(),
        steps,
        losses,
        noise,
    }
}

/// Fits `law` to `runs` (one to three, as `lrsched predict` takes them).
///
/// The residuals are the differences of log losses over each run's windows (at most 100 a
/// run), so every run weighs the same and a loss's scale does not; several starting points
/// are tried and the best kept. See the crate's example.
pub fn fit(law: Law, runs: &[Run]) -> Result<Fit, PredictError> {
    if runs.is_empty() {
        return Err(PredictError::new("no runs to fit; give one to three"));
    }
    let data: Vec<Windows> = runs.iter().map(windows).collect();
    let points: usize = data.iter().map(|w| w.steps.len()).sum();
    if points < law.parameters().len() + 2 {
        return Err(PredictError::new(format!(
            "{points} loss windows over the runs, too few for the {} parameters of the {} law",
            law.parameters().len(),
            law.name()
        )));
    }
    let mut best: Option<(f64, Vec<f64>)> = None;
    let mut all_starts = starts(law, &data);
    if law == Law::MultiPower {
        // The power-law part is the same in both laws: the annealing law's fit (cheap)
        // places it, and the multi-power fit starts there with a few loss-drop scales.
        if let Ok(annealing) = fit(Law::Annealing, runs) {
            let [l0, a, alpha] = [
                annealing.parameters[0],
                annealing.parameters[1],
                annealing.parameters[2],
            ];
            let peak = data
                .iter()
                .flat_map(|w| w.lrs.iter())
                .cloned()
                .fold(0.0, f64::max);
            let low = data
                .iter()
                .flat_map(|w| w.losses.iter())
                .cloned()
                .fold(f64::INFINITY, f64::min);
            for b_share in [0.3, 3.0, 30.0] {
                let c = peak.powf(0.5 - 1.0) / 100.0;
                all_starts.push(internal(
                    law,
                    &[
                        l0.max(low * 1e-3),
                        a,
                        alpha,
                        b_share * low / peak,
                        c,
                        0.5,
                        0.5,
                    ],
                ));
            }
        }
    }
    for start in all_starts {
        let (u, cost) = minimize(law, &data, start);
        if cost.is_finite() && best.as_ref().is_none_or(|(b, _)| cost < *b) {
            best = Some((cost, u));
        }
    }
    let Some((_, internal)) = best else {
        return Err(PredictError::new(format!(
            "the {} law could not be fitted to these runs (every start gave a non-finite loss)",
            law.name()
        )));
    };
    Ok(finish(law, &data, internal))
}

/// Refits from a known fit's parameters (the bootstrap's resamples).
pub(crate) fn refit(law: Law, data: &[Windows], from: &[f64]) -> Option<Vec<f64>> {
    let (u, cost) = minimize(law, data, from.to_vec());
    cost.is_finite().then_some(u)
}

pub(crate) fn finish(law: Law, data: &[Windows], internal: Vec<f64>) -> Fit {
    let parameters = natural(law, &internal);
    let quality = quality(law, data, &parameters, &internal);
    Fit {
        law,
        parameters,
        quality,
        internal,
    }
}

impl Fit {
    /// The predicted loss at every step of a run with rates `lrs`.
    pub fn curve(&self, lrs: &[f64]) -> Vec<f64> {
        let at: Vec<usize> = (0..lrs.len()).collect();
        self.law.evaluate(&self.parameters, lrs, &at)
    }

    /// The predicted final loss of a run with rates `lrs`: the mean predicted step loss
    /// over its last 5% of steps (at least one), as [`Run::final_loss`] measures it.
    pub fn final_loss(&self, lrs: &[f64]) -> f64 {
        final_loss(self.law, &self.parameters, lrs)
    }
}

pub(crate) fn final_loss(law: Law, theta: &[f64], lrs: &[f64]) -> f64 {
    let at: Vec<usize> = (final_window_start(lrs.len())..lrs.len()).collect();
    let losses = law.evaluate(theta, lrs, &at);
    losses.iter().sum::<f64>() / losses.len().max(1) as f64
}

pub(crate) fn natural(law: Law, u: &[f64]) -> Vec<f64> {
    law.ranges()
        .iter()
        .zip(u)
        .map(|(range, &x)| match range {
            Range::Positive => x.exp(),
            Range::Unit => 1.0 / (1.0 + (-x).exp()),
        })
        .collect()
}

fn internal(law: Law, theta: &[f64]) -> Vec<f64> {
    law.ranges()
        .iter()
        .zip(theta)
        .map(|(range, &x)| match range {
            Range::Positive => x.ln(),
            Range::Unit => (x / (1.0 - x)).ln(),
        })
        .collect()
}

/// Starting points from the data's scale: the floor below the lowest loss, the power law
/// through the first window, an annealing term worth a fraction of the loss.
fn starts(law: Law, data: &[Windows]) -> Vec<Vec<f64>> {
    let low = data
        .iter()
        .flat_map(|w| w.losses.iter())
        .cloned()
        .fold(f64::INFINITY, f64::min);
    let peak = data
        .iter()
        .flat_map(|w| w.lrs.iter())
        .cloned()
        .fold(0.0, f64::max);
    let first = &data[0];
    let area_first: f64 = first.lrs[..=first.steps[0]].iter().sum::<f64>().max(1e-12);
    let mut out = Vec::new();
    for l0_share in [0.3, 0.9] {
        let l0 = low * l0_share;
        for alpha in [0.3, 0.8] {
            let a = ((first.losses[0] - l0).max(low * 0.1)) * area_first.powf(alpha);
            match law {
                Law::Annealing => {
                    for lambda in [0.99, 0.999] {
                        for c_share in [0.1, 1.0] {
                            // C * S2 at most about C * peak / (1 - lambda).
                            let c = c_share * low * (1.0 - lambda) / peak;
                            out.push(internal(law, &[l0, a, alpha, c, lambda]));
                        }
                    }
                }
                Law::MultiPower => {
                    for b_share in [0.3, 3.0, 30.0] {
                        let b = b_share * low / peak;
                        // Saturation after about 100 steps at the peak rate.
                        let c = peak.powf(0.5 - 1.0) / 100.0;
                        out.push(internal(law, &[l0, a, alpha, b, c, 0.5, 0.5]));
                    }
                }
            }
        }
    }
    out
}

struct Problem<'a> {
    law: Law,
    data: &'a [Windows],
    u: DVector<f64>,
}

impl Problem<'_> {
    fn residuals_at(&self, u: &[f64]) -> DVector<f64> {
        let theta = natural(self.law, u);
        let mut r = Vec::new();
        for w in self.data {
            let predicted = self.law.evaluate(&theta, &w.lrs, &w.steps);
            for (p, l) in predicted.iter().zip(&w.losses) {
                // A prediction <= 0 cannot be a loss: a large residual, not a NaN.
                let p = if p.is_finite() && *p > 0.0 { *p } else { 1e-12 };
                r.push(l.ln() - p.ln());
            }
        }
        DVector::from_vec(r)
    }
}

impl LeastSquaresProblem<f64, Dyn, Dyn> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, u: &DVector<f64>) {
        self.u.copy_from(u);
    }

    fn params(&self) -> DVector<f64> {
        self.u.clone()
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        let r = self.residuals_at(self.u.as_slice());
        r.iter().all(|v| v.is_finite()).then_some(r)
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        // Central differences: the laws' derivatives by hand would be a second copy of
        // each formula to keep in step with it.
        let base = self.u.as_slice().to_vec();
        let m = self.residuals_at(&base).len();
        let mut j = DMatrix::zeros(m, base.len());
        for i in 0..base.len() {
            let h = 1e-6 * base[i].abs().max(1.0);
            let (mut up, mut down) = (base.clone(), base.clone());
            up[i] += h;
            down[i] -= h;
            let column = (self.residuals_at(&up) - self.residuals_at(&down)) / (2.0 * h);
            j.set_column(i, &column);
        }
        j.iter().all(|v| v.is_finite()).then_some(j)
    }
}

fn minimize(law: Law, data: &[Windows], start: Vec<f64>) -> (Vec<f64>, f64) {
    let problem = Problem {
        law,
        data,
        u: DVector::from_vec(start),
    };
    let (problem, report) = LevenbergMarquardt::new()
        .with_patience(200)
        .minimize(problem);
    let cost = if report.objective_function.is_finite() {
        report.objective_function
    } else {
        f64::INFINITY
    };
    (problem.u.as_slice().to_vec(), cost)
}

fn quality(law: Law, data: &[Windows], theta: &[f64], u: &[f64]) -> Quality {
    let (mut sq, mut rel_sq, mut noise_sq, mut n) = (0.0, 0.0, 0.0, 0.0);
    let mut logs = Vec::new();
    for w in data {
        let predicted = law.evaluate(theta, &w.lrs, &w.steps);
        for ((p, l), e) in predicted.iter().zip(&w.losses).zip(&w.noise) {
            noise_sq += e * e;
            let r = l.ln() - p.max(1e-12).ln();
            sq += r * r;
            rel_sq += ((p - l) / l).powi(2);
            n += 1.0;
            logs.push(l.ln());
        }
    }
    let mean = logs.iter().sum::<f64>() / n;
    let total: f64 = logs.iter().map(|x| (x - mean).powi(2)).sum();
    let r2 = if total > 0.0 { 1.0 - sq / total } else { 0.0 };
    let rms = (rel_sq / n).sqrt();
    let rms_noise = (noise_sq / n).sqrt();
    let names = law.parameters();
    let mut at_bounds = Vec::new();
    for (i, (&x, range)) in u.iter().zip(law.ranges()).enumerate() {
        // Past these the parameter no longer moves the curve: e^20 or e^-20 times its
        // scale, a logistic within 2e-9 of 0 or 1.
        let edge = match range {
            Range::Positive => x.abs() > 20.0,
            Range::Unit => x.abs() > 20.0,
        };
        let exponent_out = matches!(names[i], "alpha" | "beta" | "gamma") && theta[i] > 5.0;
        // A floor driven to 0 is a training loss that keeps falling: a limit, not a
        // failure of the fit (the curve is still pinned by A and alpha).
        let floor_to_zero = names[i] == "L0" && x < -20.0;
        if (edge || exponent_out) && !floor_to_zero {
            at_bounds.push(format!("{} = {:.3e}", names[i], theta[i]));
        }
    }
    let poor = if !(r2.is_finite() && rms.is_finite()) {
        Some("the fit's errors are not finite".to_string())
    } else if r2 < 0.5 {
        Some(format!(
            "R^2 = {r2:.3} on the runs it was fitted to: the law explains less than half of their course"
        ))
    } else if rms > 0.05 && rms > 2.0 * rms_noise {
        Some(format!(
            "the fitted curve is {:.1}% off the runs' losses (root mean square), more than twice the {:.1}% their noise explains",
            rms * 100.0,
            rms_noise * 100.0
        ))
    } else if !at_bounds.is_empty() {
        Some(format!(
            "parameters at the edge of their range ({}): the runs do not pin the law down",
            at_bounds.join(", ")
        ))
    } else {
        None
    };
    Quality {
        r2,
        rms_relative_error: rms,
        rms_noise,
        at_bounds,
        poor,
    }
}
