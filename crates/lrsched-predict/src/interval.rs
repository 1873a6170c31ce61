//! Prediction intervals from the fit's uncertainty: a bootstrap over the runs' windows.

use crate::fitting::{final_loss, natural, refit, windows, Windows};
use crate::{Fit, Run};
use serde::Serialize;

/// A prediction with its interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Interval {
    /// The prediction of the fit itself.
    pub value: f64,
    /// The 2.5th percentile of the resampled fits' predictions.
    pub lo: f64,
    /// The 97.5th percentile.
    pub hi: f64,
}

/// Each candidate's predicted final loss with a 95% interval: `resamples` fits to the
/// runs' loss windows drawn with replacement (each run's own, so every run keeps its
/// weight), each starting from `fit`, seeded by `seed` so a report repeats. A resample
/// whose fit fails is left out; with fewer than 10 left the interval is the whole line
/// (`lo = 0`, `hi = inf`), which says plainly the fit is not stable.
///
/// ```
/// use lrsched_predict::{bootstrap, fit, Law, Run};
/// let truth = [0.5, 2.0, 0.4, 0.02, 0.99];
/// let steps: Vec<usize> = (0..300).collect();
/// let runs: Vec<Run> = [vec![0.1; 300], (0..300).map(|s| 0.1 - s as f64 / 3000.0).collect()]
///     .into_iter()
///     .map(|lrs| {
///         let mut losses = Law::Annealing.evaluate(&truth, &lrs, &steps);
///         // A little deterministic noise, as batch losses have.
///         for (i, l) in losses.iter_mut().enumerate() {
///             *l *= 1.0 + 0.01 * ((i * 7919 % 13) as f64 / 6.0 - 1.0);
///         }
///         Run::new("r", lrs, steps.iter().cloned().zip(losses).collect()).unwrap()
///     })
///     .collect();
/// let fitted = fit(Law::Annealing, &runs).unwrap();
/// let candidate = vec![0.05; 300];
/// let i = bootstrap(&fitted, &runs, &[candidate], 30, 7)[0];
/// assert!(i.lo <= i.value && i.value <= i.hi);
/// ```
pub fn bootstrap(
    fit: &Fit,
    runs: &[Run],
    candidates: &[Vec<f64>],
    resamples: usize,
    seed: u64,
) -> Vec<Interval> {
    let data: Vec<Windows> = runs.iter().map(windows).collect();
    let mut draws: Vec<Vec<f64>> = vec![Vec::new(); candidates.len()];
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(1);
        lrsched::splitmix64(state)
    };
    for _ in 0..resamples {
        let resampled: Vec<Windows> = data
            .iter()
            .map(|w| {
                let n = w.steps.len();
                let mut picks: Vec<usize> = (0..n).map(|_| (next() % n as u64) as usize).collect();
                // The laws take steps in increasing order.
                picks.sort_unstable();
                Windows {
                    lrs: w.lrs.clone(),
                    steps: picks.iter().map(|&i| w.steps[i]).collect(),
                    losses: picks.iter().map(|&i| w.losses[i]).collect(),
                    noise: picks.iter().map(|&i| w.noise[i]).collect(),
                }
            })
            .collect();
        let Some(u) = refit(fit.law, &resampled, &fit.internal) else {
            continue;
        };
        let theta = natural(fit.law, &u);
        for (draw, lrs) in draws.iter_mut().zip(candidates) {
            let v = final_loss(fit.law, &theta, lrs);
            if v.is_finite() {
                draw.push(v);
            }
        }
    }
    candidates
        .iter()
        .zip(draws)
        .map(|(lrs, mut draw)| {
            let value = fit.final_loss(lrs);
            if draw.len() < 10 {
                return Interval {
                    value,
                    lo: 0.0,
                    hi: f64::INFINITY,
                };
            }
            draw.sort_by(f64::total_cmp);
            let at = |q: f64| draw[((draw.len() - 1) as f64 * q).round() as usize];
            Interval {
                value,
                lo: at(0.025).min(value),
                hi: at(0.975).max(value),
            }
        })
        .collect()
}
