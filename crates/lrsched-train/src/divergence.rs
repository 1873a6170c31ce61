//! When a run has diverged: the one rule `train`, `compare`, `tune` and `find-lr` share.
//!
//! A run has diverged when
//! - a loss (or a reported metric) is NaN or infinite, or
//! - its loss ran away: it stayed above [`DivergenceRule::factor`] times its first value
//!   for [`DivergenceRule::patience`] updates in a row (10 steps, or 1 epoch where only
//!   epoch losses are known).
//!
//! "Its first value" is the loss of the first batch, before any update: the untrained
//! network's loss (the first loss that is not exactly 0, by its magnitude: a 0 gives no
//! scale, so the runaway check waits for a loss that does). A run that trains to a loss several times worse than where it started,
//! and stays there, has not learnt anything (`--lr 1e6` ends at a training loss of 1.8e6
//! with chance accuracy); a warm restart or a noisy batch that rises for a step or two does
//! not count. The range test (`find_lr`) stops on its own, stricter rule, fastai's: the
//! smoothed loss past 4x its best, since it raises the rate until that happens.

use serde::{Deserialize, Serialize};

/// The words that start a runaway-loss divergence's description, for callers that tell it
/// from a NaN.
pub const RAN_AWAY: &str = "the loss ran away";

/// The runaway-loss half of the rule (NaN and infinities always count).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DivergenceRule {
    /// The loss is too high above `factor` times its first value; 0 turns the runaway
    /// check off (NaN and infinities still count).
    pub factor: f64,
    /// Consecutive updates above the line before the run counts as diverged.
    pub patience: u64,
}

impl Default for DivergenceRule {
    /// 4x the first loss for 10 steps in a row.
    fn default() -> Self {
        DivergenceRule {
            factor: 4.0,
            patience: 10,
        }
    }
}

impl DivergenceRule {
    /// The rule for a series of epoch losses: the same factor, one epoch of patience
    /// (an epoch's mean loss is already many steps).
    ///
    /// ```
    /// use lrsched_train::divergence::DivergenceRule;
    /// assert_eq!(DivergenceRule::default().per_epoch().patience, 1);
    /// ```
    pub fn per_epoch(self) -> DivergenceRule {
        DivergenceRule {
            patience: 1,
            ..self
        }
    }
}

/// Watches one run's losses, one at a time.
///
/// ```
/// use lrsched_train::divergence::{DivergenceRule, Watch};
/// let mut w = Watch::new(DivergenceRule::default());
/// assert_eq!(w.observe(2.3), None);
/// // A noisy step is not a divergence...
/// assert_eq!(w.observe(50.0), None);
/// assert_eq!(w.observe(1.0), None);
/// // ...ten in a row far above the start are.
/// let said: Vec<_> = (0..10).filter_map(|_| w.observe(1.8e6)).collect();
/// assert_eq!(said.len(), 1);
/// assert!(said[0].contains("4x its first value"), "{}", said[0]);
/// assert_eq!(w.observe(f64::NAN).as_deref(), Some("loss is NaN"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    rule: DivergenceRule,
    first: Option<f64>,
    above: u64,
}

impl Watch {
    /// A watch that has seen nothing yet.
    pub fn new(rule: DivergenceRule) -> Watch {
        Watch {
            rule,
            first: None,
            above: 0,
        }
    }

    /// Takes the next loss; `Some(what happened)` once the run has diverged.
    pub fn observe(&mut self, loss: f64) -> Option<String> {
        if !loss.is_finite() {
            return Some(format!("loss is {}", name(loss)));
        }
        // The reference is the first loss that is not 0: a loss of exactly 0 (a program
        // that reports 0 before it has a loss, a perfectly fitted first batch) is no scale
        // to measure a runaway against, and would make every later loss "infinitely"
        // worse. Until such a loss is seen there is nothing to run away from.
        if self.first.is_none() && loss != 0.0 {
            self.first = Some(loss);
        }
        let first = self.first?;
        let line = self.rule.factor * first.abs();
        if self.rule.factor > 0.0 && loss > line {
            self.above += 1;
        } else {
            self.above = 0;
        }
        (self.rule.factor > 0.0 && self.above >= self.rule.patience.max(1)).then(|| {
            format!(
                "{RAN_AWAY}: {loss:.4e}, above {}x its first value ({first:.4}) for {} update{} in a row",
                self.rule.factor,
                self.above,
                if self.above == 1 { "" } else { "s" }
            )
        })
    }
}

/// `NaN`, `inf` or `-inf` as Python and the protocol's lines write them.
fn name(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_that_comes_back_down_resets_the_count() {
        let mut w = Watch::new(DivergenceRule::default());
        w.observe(1.0);
        for _ in 0..9 {
            assert_eq!(w.observe(100.0), None);
        }
        assert_eq!(w.observe(0.5), None);
        for _ in 0..9 {
            assert_eq!(w.observe(100.0), None);
        }
        assert!(w.observe(100.0).is_some());
    }

    #[test]
    fn a_first_loss_of_zero_is_not_the_reference() {
        // Before: the reference was max(0, 1e-12), so any ordinary later loss "ran away".
        let mut w = Watch::new(DivergenceRule::default());
        assert_eq!(w.observe(0.0), None);
        for _ in 0..50 {
            assert_eq!(
                w.observe(0.7),
                None,
                "0.7 is the first real loss, not a runaway"
            );
        }
        let said: Vec<_> = (0..10).filter_map(|_| w.observe(2.9)).collect();
        assert_eq!(said.len(), 1, "2.9 > 4 x 0.7 for 10 updates is a runaway");
        assert!(said[0].contains("(0.7000)"), "{}", said[0]);
        // Only zeros: nothing to run away from, and no false alarm.
        let mut w = Watch::new(DivergenceRule::default());
        assert!((0..100).all(|_| w.observe(0.0).is_none()));
    }

    #[test]
    fn factor_zero_keeps_only_the_non_finite_check() {
        let mut w = Watch::new(DivergenceRule {
            factor: 0.0,
            patience: 1,
        });
        w.observe(1.0);
        assert_eq!(w.observe(1e30), None);
        assert_eq!(w.observe(f64::INFINITY).as_deref(), Some("loss is inf"));
    }

    #[test]
    fn per_epoch_flags_the_first_epoch_past_the_line() {
        let mut w = Watch::new(DivergenceRule::default().per_epoch());
        assert_eq!(w.observe(2.0), None);
        assert_eq!(w.observe(1.0), None);
        assert!(w.observe(9.0).is_some());
    }
}
