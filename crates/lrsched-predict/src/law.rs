//! The two loss-curve laws: what each predicts for a rate sequence, given its parameters.

use serde::Serialize;

/// A law of the training loss as a function of the learning-rate schedule.
///
/// ```
/// use lrsched_predict::Law;
/// // Under a constant rate the annealing term is 0: the loss is L0 + A * S1^-alpha.
/// let loss = Law::Annealing.evaluate(&[1.0, 2.0, 0.5, 3.0, 0.99], &[0.5; 8], &[7]);
/// assert!((loss[0] - (1.0 + 2.0 * 4.0f64.powf(-0.5))).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Law {
    /// Tissue et al. 2024: `L(s) = L0 + A * S1(s)^-alpha - C * S2(s)`, with
    /// `S1(s) = sum_{i<=s} eta_i`, `m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i)`,
    /// `S2(s) = sum_{i<=s} m_i`. Parameters `[L0, A, alpha, C, lambda]`.
    Annealing,
    /// Luo et al. 2025: `L(t) = L0 + A * S1(t)^-alpha - B * LD(t)`, with
    /// `LD(t) = sum_{k=1..t} (eta_{k-1} - eta_k) * (1 - (1 + C * eta_k^-gamma * S_k(t))^-beta)`,
    /// `S_k(t) = sum_{tau=k..t} eta_tau`. Parameters `[L0, A, alpha, B, C, beta, gamma]`.
    MultiPower,
}

/// How a parameter is kept in its range during the fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Range {
    /// > 0: fitted as its logarithm.
    Positive,
    /// In (0, 1): fitted through the logistic function.
    Unit,
}

impl Law {
    /// Both laws, in the order reports list them.
    pub const ALL: [Law; 2] = [Law::Annealing, Law::MultiPower];

    /// The name written in `predictions.json` and accepted by `--law`.
    ///
    /// ```
    /// assert_eq!(lrsched_predict::Law::MultiPower.name(), "multi-power");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Law::Annealing => "annealing",
            Law::MultiPower => "multi-power",
        }
    }

    /// The law named `name` (`annealing` or `multi-power`), or an error listing both.
    pub fn from_name(name: &str) -> Result<Law, crate::PredictError> {
        Law::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .ok_or_else(|| {
                crate::PredictError::new(format!(
                    "unknown law `{}`; allowed: annealing, multi-power, both",
                    lrsched::shorten(name)
                ))
            })
    }

    /// The parameters' names, in the order [`Law::evaluate`] takes them.
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            Law::Annealing => &["L0", "A", "alpha", "C", "lambda"],
            Law::MultiPower => &["L0", "A", "alpha", "B", "C", "beta", "gamma"],
        }
    }

    pub(crate) fn ranges(self) -> &'static [Range] {
        use Range::*;
        match self {
            Law::Annealing => &[Positive, Positive, Positive, Positive, Unit],
            Law::MultiPower => &[Positive; 7],
        }
    }

    /// The loss the law predicts at each step of `at` (increasing, each below
    /// `lrs.len()`) for the rate sequence `lrs`, with parameters `theta`.
    pub fn evaluate(self, theta: &[f64], lrs: &[f64], at: &[usize]) -> Vec<f64> {
        match self {
            Law::Annealing => annealing(theta, lrs, at),
            Law::MultiPower => multi_power(theta, lrs, at),
        }
    }
}

fn annealing(theta: &[f64], lrs: &[f64], at: &[usize]) -> Vec<f64> {
    let [l0, a, alpha, c, lambda] = [theta[0], theta[1], theta[2], theta[3], theta[4]];
    let mut out = Vec::with_capacity(at.len());
    let (mut s1, mut s2, mut m) = (0.0, 0.0, 0.0);
    let mut next = at.iter().peekable();
    let last = at.last().copied().unwrap_or(0);
    for (s, &lr) in lrs.iter().enumerate().take(last + 1) {
        let previous = if s == 0 { lr } else { lrs[s - 1] };
        m = lambda * m + (previous - lr);
        s1 += lr;
        s2 += m;
        while next.peek() == Some(&&s) {
            next.next();
            out.push(l0 + a * s1.max(f64::MIN_POSITIVE).powf(-alpha) - c * s2);
        }
    }
    out
}

/// The most groups of rate changes the multi-power law sums over (see `multi_power`).
const MAX_DROPS: usize = 256;

fn multi_power(theta: &[f64], lrs: &[f64], at: &[usize]) -> Vec<f64> {
    let [l0, a, alpha, b, c, beta, gamma] = [
        theta[0], theta[1], theta[2], theta[3], theta[4], theta[5], theta[6],
    ];
    // A rate of exactly 0 (a decay that ends at 0) would make eta^-gamma infinite; the
    // floor keeps the drop term's limit (the full decrease) without an inf * 0.
    let peak = lrs.iter().cloned().fold(0.0, f64::max);
    let floor = peak * 1e-9;
    // prefix[s] = sum of lrs[0..s].
    let mut prefix = Vec::with_capacity(lrs.len() + 1);
    prefix.push(0.0);
    for &lr in lrs {
        prefix.push(prefix[prefix.len() - 1] + lr);
    }
    // Only the steps where the rate changes contribute to LD. A smooth decay changes it
    // at every step; its changes are gathered into at most MAX_DROPS runs of consecutive
    // steps (each run's decreases summed, at its last step's rate and position), which
    // keeps an evaluation O(points * MAX_DROPS) instead of O(points * steps). Within a run
    // of 1/MAX_DROPS of the schedule the saturation term barely moves.
    let step_changes: Vec<usize> = (1..lrs.len()).filter(|&k| lrs[k] != lrs[k - 1]).collect();
    let per_block = step_changes.len().div_ceil(MAX_DROPS).max(1);
    let changes: Vec<(usize, f64, f64)> = step_changes
        .chunks(per_block)
        .map(|block| {
            let (first, last) = (block[0], block[block.len() - 1]);
            (
                last,
                lrs[first - 1] - lrs[last],
                lrs[last].max(floor).powf(-gamma),
            )
        })
        .collect();
    at.iter()
        .map(|&t| {
            let s1 = prefix[t + 1];
            let mut drop = 0.0;
            for &(k, delta, scale) in changes.iter().take_while(|(k, _, _)| *k <= t) {
                let sk = prefix[t + 1] - prefix[k];
                drop += delta * (1.0 - (1.0 + c * scale * sk).powf(-beta));
            }
            l0 + a * s1.max(f64::MIN_POSITIVE).powf(-alpha) - b * drop
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annealing_area_follows_the_momentum_recursion() {
        // A drop from 1 to 0.5 at step 2, lambda 0.5: m = 0, 0, 0.5, 0.25; S2 = 0, 0, 0.5, 0.75.
        let lrs = [1.0, 1.0, 0.5, 0.5];
        let got = Law::Annealing.evaluate(&[0.0, 0.0, 1.0, 1.0, 0.5], &lrs, &[0, 1, 2, 3]);
        assert_eq!(got, vec![0.0, 0.0, -0.5, -0.75]);
    }

    #[test]
    fn the_multi_power_drop_saturates_at_the_decrease() {
        // One decrease of 0.5 at step 1; with a huge C the drop term is the whole 0.5.
        let lrs = [1.0, 0.5, 0.5, 0.5];
        let theta = [0.0, 0.0, 1.0, 1.0, 1e12, 1.0, 0.5];
        let got = Law::MultiPower.evaluate(&theta, &lrs, &[0, 3]);
        assert_eq!(got[0], 0.0);
        assert!((got[1] + 0.5).abs() < 1e-9, "{got:?}");
    }

    #[test]
    fn a_rate_that_ends_at_zero_gives_finite_losses() {
        let lrs: Vec<f64> = (0..10).map(|s| 1.0 - s as f64 / 9.0).collect();
        let theta = [1.0, 1.0, 0.5, 1.0, 1.0, 0.5, 0.5];
        assert!(Law::MultiPower
            .evaluate(&theta, &lrs, &[0, 5, 9])
            .iter()
            .all(|v| v.is_finite()));
    }
}
