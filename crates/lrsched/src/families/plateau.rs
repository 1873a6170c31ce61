//! `plateau`: reduce the rate when a metric stops improving, on top of any schedule.

use super::declare::family;
use crate::{check, AnySchedule, Schedule, ScheduleError};

/// Whether a lower or a higher metric is better (PyTorch's `mode`).
///
/// ```
/// use lrsched::PlateauMode;
/// assert_eq!(PlateauMode::default(), PlateauMode::Min);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum PlateauMode {
    /// Lower is better (a loss); the default.
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` measures a significant improvement (PyTorch's `threshold_mode`).
///
/// ```text
/// rel, min:  a < best * (1 - threshold)      abs, min:  a < best - threshold
/// rel, max:  a > best * (1 + threshold)      abs, max:  a > best + threshold
/// ```
///
/// ```
/// use lrsched::ThresholdMode;
/// assert_eq!(ThresholdMode::default(), ThresholdMode::Rel);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ThresholdMode {
    /// Relative to the best value so far; the default.
    #[default]
    Rel,
    /// An absolute margin.
    Abs,
}

family! {
    /// Reduce-on-plateau, with PyTorch's `ReduceLROnPlateau` rules, over a constant `lr` or
    /// any `schedule`.
    ///
    /// Each metric fed with [`Schedule::observe`]`(step, metric)` is measured at the end of
    /// `step`, and PyTorch's `step(metrics)` runs on it:
    ///
    /// ```text
    /// if is_better(metric, best): best = metric, num_bad_epochs = 0   (see ThresholdMode)
    /// else:                       num_bad_epochs += 1
    /// if cooldown_counter > 0:    cooldown_counter -= 1, num_bad_epochs = 0
    /// if num_bad_epochs > patience:
    ///     old = lr(step + 1),  new = max(inner(step + 1) * scale * factor, min_lr)
    ///     if old - new > eps: scale *= factor from step + 1 on
    ///     cooldown_counter = cooldown, num_bad_epochs = 0
    /// ```
    ///
    /// and the value is a pure function of the step and the reductions so far:
    ///
    /// ```text
    /// lr(t) = max(inner(t) * scale(t), min_lr)
    /// ```
    ///
    /// where `inner` is `schedule` (or the constant `lr`) and `scale(t)` is the product of
    /// the factors of the reductions in force at `t` (1 before any), found by binary search.
    /// `min_lr` is a floor at every step. A NaN metric is never better, so it counts as a
    /// bad epoch (as in PyTorch, where `nan < best` is false). Metrics must come in step
    /// order (several for one step are fine). With `lr` only, the values match PyTorch to
    /// rounding: `lr * (f * f)` here, `(lr * f) * f` there.
    ///
    /// The state (best, counters, reductions) is not part of the config; it is saved and
    /// restored with [`Schedule::save_state`] / [`Schedule::load_state`].
    ///
    /// Config: `{"type": "plateau", "lr": 0.1}` or `{"type": "plateau", "schedule": {...}}`
    /// plus optional `mode` (`min`), `factor` (0.1), `patience` (10), `threshold` (1e-4),
    /// `threshold_mode` (`rel`), `cooldown` (0), `min_lr` (0), `eps` (1e-8).
    ///
    /// ```
    /// use lrsched::{Plateau, Schedule};
    /// let mut s = Plateau::new(0.1).with_patience(1).with_factor(0.5);
    /// for (step, loss) in [(0, 1.0), (1, 1.0), (2, 1.0)] {
    ///     s.observe(step, loss).unwrap();
    /// }
    /// // Two steps without improvement (> patience 1) at step 2: halved from step 3 on.
    /// assert_eq!(s.value(2), 0.1);
    /// assert_eq!(s.value(3), 0.05);
    /// assert!(s.needs_metric());
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Plateau("plateau") {
        /// The constant rate that is reduced, when there is no `schedule`; finite and >= 0.
        lr: Option<f64> = none;
        /// The schedule that is reduced, instead of a constant `lr`.
        schedule: Option<Box<AnySchedule>> = none;
        /// Lower or higher metric is better (default `min`).
        mode: PlateauMode = {PlateauMode::Min} "min",
            with with_mode "Sets whether a lower or a higher metric is better.";
        /// Factor of each reduction; in [0, 1) (default 0.1).
        factor: f64 = 0.1, check in_right_open(0.0, 1.0),
            with with_factor "Sets the factor of each reduction.";
        /// Bad epochs tolerated before a reduction (default 10).
        patience: u64 = 10,
            with with_patience "Sets the bad epochs tolerated before a reduction.";
        /// Margin of a significant improvement; finite and >= 0 (default 1e-4).
        threshold: f64 = 0.0001, check non_negative;
        /// Relative or absolute `threshold` (default `rel`).
        threshold_mode: ThresholdMode = {ThresholdMode::Rel} "rel";
        /// Epochs after a reduction during which bad epochs are not counted (default 0).
        cooldown: u64 = 0, with with_cooldown "Sets the cooldown after each reduction.";
        /// The floor of the rate; finite and >= 0 (default 0).
        min_lr: f64 = 0, check non_negative, with with_min_lr "Sets the floor of the rate.";
        /// Reductions smaller than this are skipped; finite and >= 0 (default 1e-8).
        eps: f64 = 0.00000001, check non_negative,
            with with_eps "Sets the smallest reduction applied.";
        state best: Option<f64>;
        state num_bad_epochs: u64;
        state cooldown_counter: u64;
        state last_step: Option<u64>;
        state history: Vec<(u64, f64)>;
    }
    /// Neither `lr` nor `schedule` yet, PyTorch's defaults for the rest.
    fn blank;
}

impl Plateau {
    /// Reduce-on-plateau over a constant `lr`, with PyTorch's defaults.
    pub fn new(lr: f64) -> Self {
        Plateau {
            lr: Some(lr),
            ..Plateau::blank()
        }
    }
    /// Reduce-on-plateau over `schedule`, with PyTorch's defaults.
    pub fn over(schedule: impl Into<AnySchedule>) -> Self {
        Plateau {
            schedule: Some(Box::new(schedule.into())),
            ..Plateau::blank()
        }
    }
    /// Sets the improvement threshold and how it is measured.
    pub fn with_threshold(mut self, threshold: f64, mode: ThresholdMode) -> Self {
        self.threshold = threshold;
        self.threshold_mode = mode;
        self
    }

    /// The reductions so far: `(first step in force, scale)`, sorted by step.
    pub fn reductions(&self) -> &[(u64, f64)] {
        &self.history
    }

    /// The best metric so far, if any.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Metrics since the last improvement (PyTorch's `num_bad_epochs`).
    pub fn num_bad_epochs(&self) -> u64 {
        self.num_bad_epochs
    }

    /// Forgets every observed metric and reduction (the inner schedule keeps its own).
    pub fn reset(&mut self) {
        self.best = None;
        self.num_bad_epochs = 0;
        self.cooldown_counter = 0;
        self.last_step = None;
        self.history.clear();
    }

    fn inner(&self, step: u64) -> f64 {
        match &self.schedule {
            Some(s) => s.value(step),
            None => self.lr.unwrap_or(0.0),
        }
    }

    fn scale_at(&self, step: u64) -> f64 {
        let i = self.history.partition_point(|&(s, _)| s <= step);
        if i == 0 {
            1.0
        } else {
            self.history[i - 1].1
        }
    }

    /// PyTorch's `is_better`, with `best` starting at the worst value of the mode.
    fn is_better(&self, a: f64) -> bool {
        let best = self.best.unwrap_or(match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        });
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }

    fn reduce(&mut self, step: u64) {
        let from = step.saturating_add(1);
        let old = self.value(from);
        let scale = self.scale_at(from) * self.factor;
        let new = (self.inner(from) * scale).max(self.min_lr);
        if old - new > self.eps {
            self.history.push((from, scale));
        }
    }
}

impl Schedule for Plateau {
    fn value(&self, step: u64) -> f64 {
        (self.inner(step) * self.scale_at(step)).max(self.min_lr)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        const NAME: &str = "plateau";
        match (&self.lr, &self.schedule) {
            (Some(lr), None) => check::non_negative(NAME, "lr", *lr)?,
            (None, Some(s)) => s.validate()?,
            (Some(lr), Some(_)) => {
                return Err(ScheduleError::invalid(
                    NAME,
                    "lr",
                    check::fmt(*lr),
                    "absent when `schedule` is given (give one of `lr` and `schedule`)",
                ))
            }
            (None, None) => {
                return Err(ScheduleError::MissingKey {
                    schedule: NAME.into(),
                    key: "lr".into(),
                })
            }
        }
        self.declared_checks()
    }
    fn len(&self) -> Option<u64> {
        self.schedule.as_ref().and_then(|s| s.len())
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        self.schedule.as_ref().and_then(|s| s.momentum(step))
    }
    fn observe(&mut self, step: u64, metric: f64) -> Result<(), ScheduleError> {
        if let Some(last) = self.last_step {
            if step < last {
                return Err(ScheduleError::Invalid {
                    path: "plateau".into(),
                    message: format!(
                        "metrics must come in step order: step {step} after step {last}"
                    ),
                });
            }
        }
        if let Some(s) = &mut self.schedule {
            s.observe(step, metric)?;
        }
        self.last_step = Some(step);
        if self.is_better(metric) {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs = self.num_bad_epochs.saturating_add(1);
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            self.reduce(step);
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
        Ok(())
    }
    fn needs_metric(&self) -> bool {
        true
    }
    fn children(&self) -> Vec<&AnySchedule> {
        self.schedule.iter().map(|s| &**s).collect()
    }
    fn children_mut(&mut self) -> Vec<&mut AnySchedule> {
        self.schedule.iter_mut().map(|s| &mut **s).collect()
    }
    #[cfg(feature = "serde")]
    fn save_state(&self, out: &mut Vec<serde_json::Value>) {
        use serde_json::{json, Value};
        // JSON has no infinities: a metric of +-inf is kept as a string.
        let best = match self.best {
            None => Value::Null,
            Some(b) if b.is_finite() => json!(b),
            Some(b) => json!(check::fmt(b)),
        };
        out.push(json!({
            "best": best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "last_step": self.last_step,
            "reductions": self.history,
        }));
        for c in self.children() {
            c.save_state(out);
        }
    }
    #[cfg(feature = "serde")]
    fn load_state(
        &mut self,
        saved: &mut dyn Iterator<Item = serde_json::Value>,
    ) -> Result<(), ScheduleError> {
        use serde_json::Value;
        let bad = |message: String| ScheduleError::Invalid {
            path: "plateau state".into(),
            message,
        };
        let v = saved
            .next()
            .ok_or_else(|| bad("missing: the saved state has fewer entries".into()))?;
        let best = match v.get("best") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "inf" => Some(f64::INFINITY),
            Some(Value::String(s)) if s == "-inf" => Some(f64::NEG_INFINITY),
            Some(b) => Some(
                b.as_f64()
                    .ok_or_else(|| bad(format!("`best` must be a number, found {b}")))?,
            ),
        };
        let count = |key: &str| -> Result<u64, ScheduleError> {
            v.get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("`{key}` must be a non-negative integer")))
        };
        let num_bad_epochs = count("num_bad_epochs")?;
        let cooldown_counter = count("cooldown_counter")?;
        let last_step = match v.get("last_step") {
            None | Some(Value::Null) => None,
            Some(s) => Some(
                s.as_u64()
                    .ok_or_else(|| bad("`last_step` must be a step".into()))?,
            ),
        };
        let history: Vec<(u64, f64)> =
            serde_json::from_value(v.get("reductions").cloned().unwrap_or(Value::Array(vec![])))
                .map_err(|e| bad(format!("`reductions`: {e}")))?;
        if history.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err(bad("`reductions` must be sorted by step".into()));
        }
        self.best = best;
        self.num_bad_epochs = num_bad_epochs;
        self.cooldown_counter = cooldown_counter;
        self.last_step = last_step;
        self.history = history;
        for c in self.children_mut() {
            c.load_state(saved)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine};

    /// `torch.optim.lr_scheduler.ReduceLROnPlateau.step`, transcribed literally for one
    /// parameter group: the rate after each metric.
    fn torch(p: &Plateau, metrics: &[f64]) -> Vec<f64> {
        let mut lr = p.lr.unwrap();
        let worse = match p.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        let (mut best, mut bad, mut cd) = (worse, 0u64, 0u64);
        let mut out = Vec::new();
        for &a in metrics {
            let better = match (p.mode, p.threshold_mode) {
                (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - p.threshold),
                (PlateauMode::Min, ThresholdMode::Abs) => a < best - p.threshold,
                (PlateauMode::Max, ThresholdMode::Rel) => a > best * (p.threshold + 1.0),
                (PlateauMode::Max, ThresholdMode::Abs) => a > best + p.threshold,
            };
            if better {
                best = a;
                bad = 0;
            } else {
                bad += 1;
            }
            if cd > 0 {
                cd -= 1;
                bad = 0;
            }
            if bad > p.patience {
                let new = f64::max(lr * p.factor, p.min_lr);
                if lr - new > p.eps {
                    lr = new;
                }
                cd = p.cooldown;
                bad = 0;
            }
            out.push(lr);
        }
        out
    }

    fn run(mut p: Plateau, metrics: &[f64]) -> Plateau {
        for (i, &m) in metrics.iter().enumerate() {
            p.observe(i as u64, m).unwrap();
        }
        p
    }

    #[test]
    fn hand_computed_patience_cooldown_min_lr() {
        // min / rel 0.1, patience 2, cooldown 1, factor 0.5, min_lr 0.1 (worked by hand:
        // reductions at the ends of steps 3, 8, 12, 16; at 20 the floor stops it).
        let p = Plateau::new(1.0)
            .with_threshold(0.1, ThresholdMode::Rel)
            .with_patience(2)
            .with_cooldown(1)
            .with_factor(0.5)
            .with_min_lr(0.1);
        let mut metrics = vec![10.0, 9.5, 9.2, 9.1, 9.0, 8.0];
        metrics.extend([8.0; 15]);
        let p = run(p, &metrics);
        let want = [
            (0..4, 1.0),
            (4..9, 0.5),
            (9..13, 0.25),
            (13..17, 0.125),
            (17..30, 0.1),
        ];
        for (range, lr) in want {
            for t in range {
                assert_eq!(p.value(t), lr, "t={t}");
            }
        }
        assert_eq!(p.reductions().len(), 4);
        assert_eq!(p.best(), Some(8.0));
        let torch = torch(&p, &metrics);
        for (t, lr) in torch.iter().enumerate() {
            assert_eq!(p.value(t as u64 + 1), *lr, "t={t}");
        }
    }

    #[test]
    fn every_mode_matches_pytorch() {
        // A noisy sequence with plateaus, improvements and a NaN.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let metrics: Vec<f64> = (0..300)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i == 37 {
                    return f64::NAN;
                }
                let noise = (x % 1000) as f64 / 1000.0;
                1.0 + 5.0 / (1.0 + (i / 40) as f64) + 0.3 * noise
            })
            .collect();
        for mode in [PlateauMode::Min, PlateauMode::Max] {
            for (th, tm) in [
                (1e-4, ThresholdMode::Rel),
                (0.05, ThresholdMode::Abs),
                (0.0, ThresholdMode::Rel),
            ] {
                for (patience, cooldown) in [(0, 0), (3, 2), (10, 0)] {
                    let p = Plateau::new(0.3)
                        .with_mode(mode)
                        .with_threshold(th, tm)
                        .with_patience(patience)
                        .with_cooldown(cooldown)
                        .with_factor(0.7)
                        .with_min_lr(1e-3);
                    let want = torch(&p, &metrics);
                    let p = run(p, &metrics);
                    for (t, lr) in want.iter().enumerate() {
                        let got = p.value(t as u64 + 1);
                        assert!(
                            (got - lr).abs() <= 1e-15 * lr,
                            "{mode:?} {tm:?} {patience} {cooldown} t={t}: {got} vs {lr}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn eps_skips_tiny_reductions_but_resets_counters() {
        let p = Plateau::new(1e-7)
            .with_patience(0)
            .with_factor(0.5)
            .with_eps(1e-7);
        let p = run(p, &[1.0, 1.0, 1.0]);
        assert!(p.reductions().is_empty());
        assert_eq!(p.value(5), 1e-7);
        assert_eq!(p.num_bad_epochs(), 0);
    }

    #[test]
    fn nan_is_a_bad_epoch() {
        let p = run(Plateau::new(1.0).with_patience(1), &[f64::NAN, f64::NAN]);
        assert_eq!(p.best(), None);
        assert_eq!(p.reductions(), &[(2, 0.1)]);
    }

    #[test]
    fn reduces_any_schedule_and_floors_it() {
        let mut p = Plateau::over(Cosine::new(1.0, 100))
            .with_patience(0)
            .with_factor(0.5)
            .with_min_lr(0.01);
        p.observe(9, 1.0).unwrap(); // first metric: better than +inf
        p.observe(10, 1.0).unwrap(); // bad, > patience 0: halve from step 11
        let c = Cosine::new(1.0, 100);
        assert_eq!(p.value(10), c.value(10));
        assert_eq!(p.value(11), c.value(11) * 0.5);
        assert_eq!(p.value(100), 0.01);
        assert_eq!(p.value(u64::MAX), 0.01);
        assert_eq!(p.len(), Some(100));
        assert!(p.observe(5, 1.0).is_err(), "out of order");
        p.observe(10, 1.0).unwrap();
        assert_eq!(p.reductions(), &[(11, 0.5), (11, 0.25)]);
        assert_eq!(p.value(11), c.value(11) * 0.25);
        p.reset();
        assert_eq!(p.value(11), c.value(11));
        let mut far = Plateau::new(1.0).with_patience(0);
        far.observe(u64::MAX, 1.0).unwrap();
        far.observe(u64::MAX, 1.0).unwrap();
        assert!((far.value(u64::MAX) - 0.1).abs() < 1e-16);
    }

    #[test]
    fn rejects_bad_parameters() {
        let msg = |p: Plateau| p.validate().unwrap_err().to_string();
        assert!(msg(Plateau::new(-1.0)).contains("`lr`"));
        assert!(msg(Plateau::new(1.0).with_factor(1.0)).contains("`factor`"));
        assert!(msg(Plateau::new(1.0).with_factor(f64::NAN)).contains("`factor`"));
        assert!(
            msg(Plateau::new(1.0).with_threshold(-1.0, ThresholdMode::Abs)).contains("`threshold`")
        );
        assert!(msg(Plateau::new(1.0).with_min_lr(-1.0)).contains("`min_lr`"));
        assert!(msg(Plateau::new(1.0).with_eps(f64::NAN)).contains("`eps`"));
        let mut both = Plateau::over(Constant::new(1.0));
        both.lr = Some(1.0);
        assert!(msg(both).contains("`lr`"));
        let mut neither = Plateau::new(1.0);
        neither.lr = None;
        assert!(msg(neither.clone()).contains("`lr`"));
        assert_eq!(neither.value(3), 0.0);
        assert!(Plateau::new(1.0).with_factor(0.0).validate().is_ok());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip_and_state() {
        for p in [
            Plateau::new(0.1),
            Plateau::over(Cosine::new(0.1, 50))
                .with_mode(PlateauMode::Max)
                .with_threshold(0.01, ThresholdMode::Abs)
                .with_patience(3)
                .with_cooldown(2)
                .with_factor(0.5)
                .with_min_lr(1e-4)
                .with_eps(0.0),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(p.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(p.clone()), "{v}");

            // The state travels separately and restores the same values.
            let used = run(
                p.clone(),
                &[3.0, 2.0, 2.0, 2.0, 2.0, 2.0, f64::INFINITY, 2.0, 2.0],
            );
            let mut saved = Vec::new();
            used.save_state(&mut saved);
            let mut restored = back;
            restored.load_state(&mut saved.into_iter()).unwrap();
            assert_eq!(restored, AnySchedule::from(used));
        }
        let v = crate::config::to_value(&Plateau::new(0.1).into());
        assert_eq!(v, serde_json::json!({"type": "plateau", "lr": 0.1}));
        let mut p = Plateau::new(0.1);
        assert!(p.load_state(&mut std::iter::empty()).is_err());
        let junk = serde_json::json!({"num_bad_epochs": -1});
        assert!(p.load_state(&mut std::iter::once(junk)).is_err());
    }
}
