//! `noise`: reproducible multiplicative noise on any schedule.

use super::declare::family;
use crate::combinators::one_child::{one_child, OneChild};
use crate::{AnySchedule, Schedule, ScheduleError};
use std::f64::consts::PI;

/// The distribution of the relative noise `n` in `lr(t) * (1 + n)`.
///
/// ```text
/// uniform:  n = 2 * (u - 0.5) * pct,  u ~ U[0, 1)            so n in [-pct, pct)
/// normal:   n ~ N(0, std), redrawn until |n| < pct (as timm), clamped after 32 draws
/// ```
///
/// ```
/// use lrsched::NoiseKind;
/// assert_eq!(NoiseKind::default(), NoiseKind::Uniform);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum NoiseKind {
    /// Uniform in `[-pct, pct)` (the default).
    #[default]
    Uniform,
    /// Normal with standard deviation `std`, truncated to `(-pct, pct)`.
    Normal,
}

impl NoiseKind {
    /// `true` for the default (`uniform`), so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == NoiseKind::Uniform
    }
}

family! {
    /// Multiplicative noise on any schedule, in the style of timm's `noise_range_t` /
    /// `noise_pct` / `noise_std` / `noise_seed`:
    ///
    /// ```text
    /// v     = schedule(t)
    /// lr(t) = max(v + v * n(seed, t), 0)    for start <= t < end
    /// lr(t) = v                             otherwise
    /// ```
    ///
    /// The noise `n` (see [`NoiseKind`]) is drawn from a counter-based generator keyed by
    /// `(seed, t)` (splitmix64 hashing, Box-Muller for the normal): no generator state is
    /// stored, so `value` stays a pure function of the step, the same at any step on any
    /// machine, and a resumed run sees exactly the noise it would have seen. The numbers
    /// differ from timm's (which seeds a torch generator with `seed + t`). The length,
    /// momentum and metrics are the inner schedule's.
    ///
    /// Config: `{"type": "noise", "schedule": {...}}` plus optional `kind` (`uniform`),
    /// `pct` (0.67), `std` (1), `start` (0), `end` (none: to the end), `seed` (42).
    ///
    /// ```
    /// use lrsched::{Constant, Noise, Schedule};
    /// let s = Noise::new(Constant::new(0.1), 0.1).with_seed(7);
    /// let v = s.value(123);
    /// assert!((0.09..0.11).contains(&v));
    /// assert_eq!(v, s.clone().value(123)); // reproducible
    /// let quiet = s.with_range(10, Some(20));
    /// assert_eq!(quiet.value(5), 0.1); // no noise outside the range
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Noise("noise") {
        /// The distribution (default `uniform`).
        kind: NoiseKind = {NoiseKind::Uniform} "uniform";
        /// The largest relative deviation; in [0, 1] (default 0.67, as timm).
        pct: f64 = 0.67, check in_closed(0.0, 1.0);
        /// The standard deviation of the normal noise; finite and > 0 (default 1).
        std: f64 = 1, check positive;
        /// The first step with noise (default 0).
        start: u64 = 0;
        /// The first step without noise again; `None` (default) is never; >= `start`.
        end: Option<u64> = none;
        /// The seed of the noise (default 42, as timm).
        seed: u64 = 42, with with_seed "Sets the seed.";
        /// The schedule the noise multiplies.
        schedule: child;
    }
    /// Uniform noise at the default `pct` on `schedule`.
    fn declared;
}

/// Draws of the truncated normal before the last one is clamped; the chance of needing
/// them all is at most `P(|N| >= pct)^32`, negligible for useful `pct`.
const NORMAL_TRIES: u64 = 32;

/// SplitMix64's output for state `x` (Steele, Lea & Flood 2014): the golden-gamma
/// increment and the bijective 64-bit finaliser. The one copy every lrsched crate uses
/// (noise here, the training crate's generator, tune's sampler), so their streams are
/// fixed by this code alone.
///
/// ```
/// // The reference stream for seed 0: state 0 -> 0xE220A8397B1DCDAF.
/// assert_eq!(lrsched::splitmix64(0), 0xE220_A839_7B1D_CDAF);
/// ```
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` from the 53 high bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl Noise {
    /// Uniform noise of up to `pct` (relative) on `schedule`, everywhere, seed 42.
    pub fn new(schedule: impl Into<AnySchedule>, pct: f64) -> Self {
        Noise {
            pct,
            ..Self::declared(schedule)
        }
    }
    /// Normal noise with standard deviation `std`, truncated to `(-pct, pct)`.
    pub fn normal(schedule: impl Into<AnySchedule>, pct: f64, std: f64) -> Self {
        Noise {
            kind: NoiseKind::Normal,
            std,
            ..Noise::new(schedule, pct)
        }
    }
    /// Applies the noise only for `start <= t < end` (`end = None`: to the end).
    pub fn with_range(mut self, start: u64, end: Option<u64>) -> Self {
        self.start = start;
        self.end = end;
        self
    }

    /// The `i`-th random word for `step`: a pure function of `(seed, step, i)`.
    fn word(&self, step: u64, i: u64) -> u64 {
        let key = splitmix64(self.seed ^ splitmix64(step));
        splitmix64(key.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }

    /// The relative noise at `step` (0 outside the range).
    pub fn noise(&self, step: u64) -> f64 {
        let inside = step >= self.start && self.end.is_none_or(|e| step < e);
        if !inside || self.pct.is_nan() || self.pct <= 0.0 {
            return 0.0;
        }
        match self.kind {
            NoiseKind::Uniform => 2.0 * (unit(self.word(step, 0)) - 0.5) * self.pct,
            NoiseKind::Normal => {
                let mut z = 0.0;
                for j in 0..NORMAL_TRIES {
                    let u1 = 1.0 - unit(self.word(step, 2 * j)); // (0, 1]: ln is finite
                    let u2 = unit(self.word(step, 2 * j + 1));
                    z = (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos() * self.std;
                    if z.abs() < self.pct {
                        return z;
                    }
                }
                z.clamp(-self.pct, self.pct)
            }
        }
    }
}

impl OneChild for Noise {
    const NAME: &'static str = "noise";

    fn wrap_value(&self, child: &AnySchedule, step: u64) -> f64 {
        let v = child.value(step);
        let n = self.noise(step);
        if n == 0.0 {
            return v;
        }
        (v + v * n).max(0.0)
    }

    fn own_checks(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if let Some(end) = self.end {
            if end < self.start {
                return Err(ScheduleError::invalid(
                    "noise",
                    "end",
                    end,
                    format!("a step >= start ({})", self.start),
                ));
            }
        }
        Ok(())
    }

    /// The child's errors as they are: noise does not re-root them.
    fn wrap_validate(&self, child: &AnySchedule) -> Result<(), ScheduleError> {
        self.own_checks()?;
        child.validate()
    }
}

one_child!(Noise);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine};

    #[test]
    fn reproducible_bounded_and_seed_dependent() {
        let s = Noise::new(Constant::new(1.0), 0.2).with_seed(3);
        let a = s.values(0..2000);
        assert_eq!(a, s.clone().values(0..2000));
        assert!(a.iter().all(|v| (0.8..1.2).contains(v)), "bounded");
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        let b = s.clone().with_seed(4).values(0..2000);
        assert!(a.iter().zip(&b).filter(|(x, y)| x == y).count() < 5);
        // Out of order, far away: the same number each time.
        assert_eq!(s.value(1_000_000_007), s.value(1_000_000_007));
        assert!(s.value(u64::MAX).is_finite());
    }

    #[test]
    fn normal_is_truncated_with_the_right_spread() {
        let s = Noise::normal(Constant::new(1.0), 0.5, 0.1);
        let n: Vec<f64> = (0..5000).map(|t| s.noise(t)).collect();
        assert!(n.iter().all(|x| x.abs() < 0.5));
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let sd = (n.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n.len() as f64).sqrt();
        assert!(mean.abs() < 0.01 && (sd - 0.1).abs() < 0.01, "{mean} {sd}");
        // A truncation almost never met: clamped, finite, never negative.
        let hard = Noise::normal(Constant::new(1.0), 1e-9, 10.0);
        for t in [0, 1, u64::MAX] {
            let v = hard.value(t);
            assert!((v - 1.0).abs() <= 1.1e-9 && v >= 0.0);
        }
    }

    #[test]
    fn range_and_forwarding() {
        let s = Noise::new(Cosine::new(1.0, 100), 0.5).with_range(10, Some(20));
        let c = Cosine::new(1.0, 100);
        for t in (0..10).chain(20..30) {
            assert_eq!(s.value(t), c.value(t));
        }
        assert!((10..20).any(|t| s.value(t) != c.value(t)));
        assert_eq!(s.len(), Some(100));
        assert_eq!(s.value(100), 0.0);
        assert_eq!(s.children().len(), 1);
        let open = Noise::new(Constant::new(1.0), 0.5).with_range(5, None);
        assert_eq!(open.value(4), 1.0);
        assert_ne!(open.value(u64::MAX), 1.0);
        let full = Noise::new(Constant::new(1.0), 1.0);
        assert!(full.values(0..1000).iter().all(|v| *v >= 0.0));
    }

    #[test]
    fn rejects_bad_parameters() {
        let msg = |s: Noise| s.validate().unwrap_err().to_string();
        assert!(msg(Noise::new(Constant::new(1.0), 1.5)).contains("`pct`"));
        assert!(msg(Noise::new(Constant::new(1.0), f64::NAN)).contains("`pct`"));
        assert!(msg(Noise::normal(Constant::new(1.0), 0.5, 0.0)).contains("`std`"));
        assert!(msg(Noise::new(Constant::new(1.0), 0.5).with_range(5, Some(4))).contains("`end`"));
        assert!(msg(Noise::new(Constant::new(f64::NAN), 0.5)).contains("`lr`"));
        // Invalid, still no panic and never negative.
        let s = Noise::new(Constant::new(1.0), 5.0);
        assert!(s.values(0..100).iter().all(|v| *v >= 0.0));
        let s = Noise::normal(Constant::new(1.0), 0.5, f64::NAN);
        let _ = s.value(3);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        for s in [
            Noise::new(Constant::new(0.1), 0.67),
            Noise::normal(Cosine::new(0.1, 10), 0.3, 0.5)
                .with_range(2, Some(8))
                .with_seed(u64::MAX),
        ] {
            let v = crate::config::to_value(&AnySchedule::from(s.clone()));
            let back = crate::config::from_value(v.clone()).unwrap();
            assert_eq!(back, AnySchedule::from(s.clone()), "{v}");
            assert_eq!(back.values(0..10), s.values(0..10));
        }
    }
}
