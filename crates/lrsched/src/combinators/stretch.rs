//! `stretch`: a schedule stretched (or squeezed) in time.

use crate::combinators::one_child::{one_child, OneChild};
use crate::families::declare::family;
use crate::{AnySchedule, Schedule, ScheduleError};

family! {
    /// A schedule run `ratio` times as long, as Composer's `scale_schedule_ratio`:
    ///
    /// ```text
    /// lr(t) = schedule(floor(t / ratio))
    /// ```
    ///
    /// With `ratio = 2` each inner step lasts two steps; with `ratio = 0.5` every other
    /// inner step is skipped. The rounding is `floor`, so the stretched schedule always
    /// starts at `schedule(0)` and an inner milestone `m` (a step decay, the end of a
    /// warmup) moves to the first step `t` with `floor(t / ratio) >= m`, that is
    /// `ceil(m * ratio)`. In particular a schedule of length `L` has length `ceil(L * ratio)`
    /// and reaches its final value `schedule(L)` exactly there, bit for bit. A quotient
    /// within `1e-9` (relative) of an integer counts as that integer, so `t / ratio` that
    /// is a whole number in decimal (`33 / 1.1`) is not floored one step short by binary
    /// rounding. Momentum and metrics read the same stretched clock.
    ///
    /// Config: `{"type": "stretch", "schedule": {...}, "ratio": 1.5}`.
    ///
    /// ```
    /// use lrsched::{Cosine, Schedule, StepDecay, Stretch};
    /// let s = Stretch::new(StepDecay::new(1.0, 30, 0.1), 2.0);
    /// assert_eq!(s.value(59), 1.0);
    /// assert_eq!(s.value(60), 0.1);
    /// let c = Stretch::new(Cosine::new(1.0, 100).with_min_lr(0.01), 1.5);
    /// assert_eq!(c.len(), Some(150));
    /// assert_eq!(c.value(150), 0.01);
    /// assert!(c.value(149) > 0.01);
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Stretch("stretch") {
        /// The schedule stretched.
        schedule: child;
        /// How many times longer it runs; finite and > 0 (< 1 squeezes it).
        ratio: f64, check positive;
    }
    /// `schedule` run `ratio` times as long.
    pub fn new;
}

impl OneChild for Stretch {
    const NAME: &'static str = "stretch";

    /// Monotone in `step`.
    fn inner_step(&self, step: u64) -> u64 {
        let x = step as f64 / self.ratio;
        let n = x.round();
        let snapped = if (x - n).abs() <= 1e-9 * n.max(1.0) {
            n
        } else {
            x.floor()
        };
        // Float-to-int casts saturate (NaN gives 0), so an invalid ratio cannot panic.
        snapped as u64
    }

    fn own_checks(&self) -> Result<(), ScheduleError> {
        self.declared_checks()
    }

    /// The first step at which the inner schedule reads its length.
    fn wrap_len(&self, child: &AnySchedule) -> Option<u64> {
        let len = child.len()?;
        if len == 0 {
            return Some(0);
        }
        // `ceil(len * ratio)` is within a step or two of the first such step; nudge it
        // until it agrees with `inner_step` exactly (bounded: this is no search).
        let mut t = (len as f64 * self.ratio).ceil() as u64;
        for _ in 0..4 {
            if self.inner_step(t) < len {
                t = t.saturating_add(1);
            }
        }
        for _ in 0..4 {
            if t > 0 && self.inner_step(t - 1) >= len {
                t -= 1;
            }
        }
        Some(t)
    }
}

one_child!(Stretch);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, Join, Repeat, StepDecay};

    #[test]
    fn holds_each_inner_step_ratio_times() {
        let s = Stretch::new(StepDecay::new(1.0, 1, 0.5), 3.0);
        let v: Vec<f64> = (0..7).map(|t| s.value(t)).collect();
        assert_eq!(v, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
        let squeezed = Stretch::new(StepDecay::new(1.0, 1, 0.5), 0.5);
        assert_eq!(squeezed.value(1), 0.25);
        assert_eq!(Stretch::new(Constant::new(1.0), 2.0).len(), None);
    }

    #[test]
    fn ends_exactly_on_the_final_value() {
        for ratio in [
            0.1,
            0.3,
            0.5,
            0.7,
            1.0,
            1.1,
            4.0 / 3.0,
            1.5,
            2.0,
            2.5,
            3.7,
            10.0,
        ] {
            for steps in [1u64, 3, 7, 10, 33, 97, 1000, 123_457] {
                let c = Cosine::new(1.0, steps).with_min_lr(0.05);
                let s = Stretch::new(c, ratio);
                let len = s.len().unwrap();
                assert_eq!(s.value(len), 0.05, "ratio {ratio} steps {steps}");
                if len > 0 {
                    assert!(s.value(len - 1) > 0.05, "ratio {ratio} steps {steps}");
                }
                let want = (steps as f64 * ratio).ceil() as u64;
                assert!(
                    len.abs_diff(want) <= 1,
                    "ratio {ratio} steps {steps}: {len}"
                );
            }
        }
        let s = Stretch::new(Cosine::new(1.0, 30), 1.1);
        assert_eq!(s.len(), Some(33));
        assert_eq!(s.inner_step(33), 30);
    }

    #[test]
    fn extremes_and_invalid_never_panic() {
        for ratio in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e300] {
            let s = Stretch::new(Cosine::new(1.0, 100), ratio);
            if !(ratio.is_finite() && ratio > 0.0) {
                assert!(s.validate().unwrap_err().to_string().contains("`ratio`"));
            }
            for t in [0, 1, u64::MAX] {
                assert!(s.value(t).is_finite());
            }
            let _ = s.len();
        }
        let s = Stretch::new(Cosine::new(1.0, 100), 2.0);
        assert_eq!(s.value(u64::MAX), 0.0);
        let e = Stretch::new(Cosine::new(1.0, 0), 2.0)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("stretch: `schedule.steps`"), "{e}");
    }

    #[test]
    fn nesting() {
        let inner = Join::sequence(vec![(Constant::new(0.5).into(), 2)], Cosine::new(1.0, 8));
        let s = Repeat::new(Stretch::new(inner, 2.0));
        assert_eq!(s.value(3), 0.5);
        assert_eq!(s.value(4), 1.0);
        assert_eq!(s.value(20), 0.5);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        let s: AnySchedule = Stretch::new(Cosine::new(1.0, 10), 1.5).into();
        let v = to_value(&s);
        assert_eq!(v["ratio"], 1.5);
        assert_eq!(from_value(v).unwrap(), s);
    }
}
