//! `noam`: the Transformer schedule, linear warmup then inverse square root.

use super::declare::family;
use crate::{Schedule, ScheduleError};

family! {
    /// The schedule of "Attention Is All You Need" (section 5.3), named after Noam Shazeer:
    ///
    /// ```text
    /// n     = t + 1
    /// lr(t) = factor * (d_model^-0.5 * min(n^-0.5, n * warmup_steps^-1.5))
    /// ```
    ///
    /// The paper's `step_num` counts updates from 1, so the first optimizer step (`t = 0`)
    /// uses `n = 1`; this is also what the 2018 Annotated Transformer's `NoamOpt` and
    /// OpenNMT-py's `noam` decay do (their counter is incremented before the rate is taken),
    /// in the same order of operations. (The 2022 Annotated Transformer wraps `rate` in a
    /// `LambdaLR` with `max(step, 1)`: its first two steps both use `n = 1` and it runs one
    /// step behind this one from then on, i.e. it is this schedule delayed by one step.)
    /// The value rises
    /// linearly to its peak `factor * (d_model * warmup_steps)^-0.5` at
    /// `t = warmup_steps - 1` and decays as `n^-0.5` after; it has no length. There is no
    /// `lr`: `factor` scales the whole curve.
    ///
    /// Config: `{"type": "noam", "d_model": 512, "warmup_steps": 4000}`.
    ///
    /// ```
    /// use lrsched::{Noam, Schedule};
    /// let s = Noam::new(512, 4000);
    /// let peak = s.value(3999);
    /// assert!((peak - (512.0f64 * 4000.0).powf(-0.5)).abs() < 1e-15);
    /// assert!(s.value(0) < s.value(1) && s.value(4000) < peak);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Noam("noam") {
        /// The model width whose `-0.5` power scales the curve; >= 1.
        d_model: u64, check at_least_one;
        /// Steps of linear warmup (the peak is at `n = warmup_steps`); >= 1.
        warmup_steps: u64, check at_least_one;
        /// Multiplies the whole curve; finite and >= 0 (default 1).
        factor: f64 = 1, check non_negative,
            with with_factor "Scales the whole curve by `factor`.";
    }
    /// The Transformer schedule for width `d_model` with `warmup_steps` of warmup.
    pub fn new;
}

impl Schedule for Noam {
    fn value(&self, step: u64) -> f64 {
        let n = step.saturating_add(1) as f64;
        // `powf` is C's `pow`, as Python's `**`. A zero d_model or warmup (rejected by
        // validate()) gives inf rather than a panic.
        let d = (self.d_model as f64).powf(-0.5);
        let w = (self.warmup_steps as f64).powf(-1.5);
        self.factor * (d * n.powf(-0.5).min(n * w))
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::{rejects, round_trips};

    /// OpenNMT-py / NoamOpt: factor * (model_size ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)).
    fn reference(factor: f64, d: u64, w: u64, n: u64) -> f64 {
        let n = n as f64;
        factor * ((d as f64).powf(-0.5) * f64::min(n.powf(-0.5), n * (w as f64).powf(-1.5)))
    }

    #[test]
    fn matches_reference_counting_from_one() {
        let s = Noam::new(512, 4000).with_factor(2.0);
        for t in [0u64, 1, 2, 3998, 3999, 4000, 100_000] {
            assert_eq!(s.value(t), reference(2.0, 512, 4000, t + 1), "t={t}");
        }
        assert_eq!(s.len(), None);
    }

    #[test]
    fn rises_then_falls() {
        let s = Noam::new(64, 10);
        let v = s.values(0..30);
        assert!(v[..10].windows(2).all(|w| w[1] > w[0]), "{v:?}");
        assert!(v[9..].windows(2).all(|w| w[1] < w[0]), "{v:?}");
        let far = s.value(u64::MAX);
        assert!(far.is_finite() && far > 0.0, "{far}");
        let one = Noam::new(1, 1);
        assert_eq!(one.value(0), 1.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (Noam::new(0, 4000), "`d_model`"),
            (Noam::new(512, 0), "`warmup_steps`"),
            (Noam::new(512, 4000).with_factor(-1.0), "`factor`"),
            (Noam::new(512, 4000).with_factor(f64::NAN), "`factor`"),
        ];
        rejects(cases);
    }

    #[test]
    fn serde_round_trip() {
        let s = Noam::new(512, 4000).with_factor(2.0);
        round_trips([s.clone(), Noam::new(1024, 8000)]);
    }
}
