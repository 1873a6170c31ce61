//! `rex`: the REX decay ("reflected exponential") from `lr` to `min_lr`.

use super::declare::family;
use crate::{AfterEnd, Schedule, ScheduleError};

family! {
    /// REX decay over `steps` steps (Chen, Wolfe and Kyrillidis, "REX: Revisiting Budgeted
    /// Training with an Improved Schedule", MLSys 2022):
    ///
    /// ```text
    /// z(t)  = t / steps
    /// lr(t) = min_lr + (lr - min_lr) * ((1 - z) / (0.5 + 0.5 * (1 - z)))    for t < steps
    /// lr(t) = min_lr                                                          for t >= steps
    /// ```
    ///
    /// The factor is the paper's `(1 - z) / (1/2 + 1/2 (1 - z))` (equal to
    /// `(1 - z) / (1 - z/2)`): it stays higher than a linear decay for longer and drops to
    /// `min_lr` at the end, which the value at `steps` is exactly.
    ///
    /// Past `steps` the schedule follows `after_end`: `hold` (default) stays at `min_lr`,
    /// `restart` starts over every `steps` steps. `continue` is refused: past its end the
    /// factor goes negative (and divides by zero at `z = 2`).
    ///
    /// Config: `{"type": "rex", "lr": 0.1, "steps": 1000, "min_lr": 1e-5}`.
    ///
    /// ```
    /// use lrsched::{Rex, Schedule};
    /// let s = Rex::new(1.0, 100);
    /// assert_eq!(s.value(0), 1.0);
    /// assert!((s.value(50) - 2.0 / 3.0).abs() < 1e-15);
    /// assert_eq!(s.value(100), 0.0);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Rex("rex") {
        /// The value at step 0; finite and >= 0.
        lr: f64, check non_negative;
        /// Steps of decay; >= 1.
        steps: u64, check at_least_one;
        /// The value at `steps` and after; finite and >= 0 (default 0).
        min_lr: f64 = 0, check non_negative, with with_min_lr "Ends at `min_lr` instead of 0.";
        /// What happens past `steps`: `hold` (default) or `restart`.
        after_end: AfterEnd = {AfterEnd::Hold} "hold",
            with with_after_end "Sets the policy past `steps`.";
    }
    /// REX decay from `lr` to 0 over `steps` steps.
    pub fn new;
}

impl Schedule for Rex {
    fn value(&self, step: u64) -> f64 {
        let t = self.after_end.local_step(step, self.steps);
        if t >= self.steps && self.after_end != AfterEnd::Continue {
            return self.min_lr;
        }
        let z = t as f64 / self.steps as f64;
        let factor = (1.0 - z) / (0.5 + 0.5 * (1.0 - z));
        self.min_lr + (self.lr - self.min_lr) * factor
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.after_end == AfterEnd::Continue {
            return Err(ScheduleError::invalid(
                "rex",
                "after_end",
                "continue",
                "`hold` or `restart` (past `steps` the REX factor goes negative)",
            ));
        }
        Ok(())
    }
    fn len(&self) -> Option<u64> {
        Some(self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::testing::round_trips;

    #[test]
    fn lands_on_min_exactly_and_holds() {
        for (lr, min) in [(0.1, 0.0), (3e-4, 1e-6), (1.0, 0.3)] {
            let s = Rex::new(lr, 97).with_min_lr(min);
            assert!(s.validate().is_ok());
            assert!((s.value(0) - lr).abs() <= 1e-15 * lr);
            assert_eq!(s.value(97), min);
            assert_eq!(s.value(98), min);
            assert_eq!(s.value(u64::MAX), min);
            let v = s.values(0..98);
            assert!(v.windows(2).all(|w| w[1] <= w[0]), "monotone {v:?}");
            assert_eq!(s.len(), Some(97));
        }
    }

    #[test]
    fn matches_paper_factor() {
        let s = Rex::new(1.0, 10);
        for t in 0..10u64 {
            let z = t as f64 / 10.0;
            let want = (1.0 - z) / (1.0 - z / 2.0);
            assert!((s.value(t) - want).abs() < 1e-15, "t={t}");
            // Above a linear decay everywhere inside.
            assert!(t == 0 || s.value(t) > 1.0 - z);
        }
    }

    #[test]
    fn restart() {
        let s = Rex::new(1.0, 10).with_after_end(AfterEnd::Restart);
        assert_eq!(s.value(10), 1.0);
        assert_eq!(s.value(13), s.value(3));
        let _ = s.value(u64::MAX);
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (Rex::new(-0.1, 10), "`lr`"),
            (Rex::new(f64::INFINITY, 10), "`lr`"),
            (Rex::new(0.1, 0), "`steps`"),
            (Rex::new(0.1, 10).with_min_lr(-1.0), "`min_lr`"),
            (
                Rex::new(0.1, 10).with_after_end(AfterEnd::Continue),
                "`after_end`",
            ),
        ];
        for (s, key) in cases {
            let e = s.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
            for t in [0, 5, 10, 20, 21, u64::MAX] {
                let _ = s.value(t);
            }
        }
        for a in [AfterEnd::Hold, AfterEnd::Continue, AfterEnd::Restart] {
            let _ = Rex::new(0.1, 0).with_after_end(a).value(3);
        }
    }

    #[test]
    fn serde_round_trip() {
        let s = Rex::new(0.1, 100)
            .with_min_lr(1e-5)
            .with_after_end(AfterEnd::Restart);
        round_trips([s.clone(), Rex::new(0.1, 100)]);
    }
}
