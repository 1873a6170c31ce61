//! D-Adaptation Adam and SGD (Defazio & Mishchenko 2023, "Learning-Rate-Free Learning by
//! D-Adaptation"), following `dadaptation.DAdaptAdam` and `dadaptation.DAdaptSGD`
//! (version 3.2) operation for operation: scalars in f64 as Python computes them, tensor
//! operations in f32 with fused multiply-adds where PyTorch's kernels fuse.
//!
//! As for Prodigy, a step is two passes around one update of D from the sums of all
//! groups; D-Adaptation SGD's first step takes one more, for the first gradient's norm.

use super::config::OptimizerConfig;
use super::{py_max, py_min, Adaptive, Sum, Sums};

/// D-Adaptation Adam's scalars, fixed before the first pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct AdamBegin {
    beta1: f64,
    beta2: f64,
    sqrt_beta2: f64,
    dlr: f64,
}

impl AdamBegin {
    /// The reference's prologue: `lr` is the largest group rate.
    pub(super) fn new(c: &OptimizerConfig, a: &Adaptive, beta1: f64, lr: f64) -> Self {
        let beta2 = c.betas.1;
        let k1 = (a.k + 1) as f64;
        let bias_correction = if c.bias_correction {
            (1.0 - beta2.powf(k1)).powf(0.5) / (1.0 - beta1.powf(k1))
        } else {
            1.0
        };
        AdamBegin {
            beta1,
            beta2,
            sqrt_beta2: beta2.powf(0.5),
            dlr: a.d * lr * bias_correction,
        }
    }

    /// The first pass's scalars for a group of weight decay `decay` and layer scale `r`
    /// (the group's `lr_scale`); `active`: the rate is not 0.
    pub(super) fn stats(&self, c: &OptimizerConfig, decay: f64, r: f64, active: bool) -> AdamStats {
        AdamStats {
            active,
            l2: (decay != 0.0 && !c.is_decoupled()).then_some(decay as f32),
            eps: c.eps as f32,
            beta1: self.beta1 as f32,
            m_alpha: (r * self.dlr * (1.0 - self.beta1)) as f32,
            beta2: self.beta2 as f32,
            v_value: (1.0 - self.beta2) as f32,
            sqrt_beta2: self.sqrt_beta2 as f32,
            s_alpha: (self.dlr * (1.0 - self.sqrt_beta2)) as f32,
        }
    }

    /// Updates D from the groups' sums (`[<g, s / denom>, |s|_1]`, with each group's layer
    /// scale and whether it is active); false when the reference returns early.
    pub(super) fn estimate(
        &self,
        c: &OptimizerConfig,
        a: &mut Adaptive,
        lr: f64,
        sums: impl Iterator<Item = ([f64; 2], f64, bool)>,
    ) -> bool {
        let mut numerator_acum = 0.0;
        let mut sk_l1 = 0.0;
        for (s, r, active) in sums {
            if active {
                numerator_acum += r * self.dlr * f64::from(s[0] as f32);
                sk_l1 += r * f64::from(s[1] as f32);
            }
        }
        let numerator = self.sqrt_beta2 * a.numerator + (1.0 - self.sqrt_beta2) * numerator_acum;
        if sk_l1 == 0.0 {
            return false;
        }
        if lr > 0.0 {
            let d_hat = numerator / ((1.0 - self.sqrt_beta2) * sk_l1);
            let growth = c.growth_rate.unwrap_or(f64::INFINITY);
            a.d = py_max(a.d, py_min(d_hat, a.d * growth));
        }
        a.numerator = numerator;
        a.k += 1;
        true
    }

    /// The second pass's scalars for a group of weight decay `decay`.
    pub(super) fn update(&self, c: &OptimizerConfig, decay: f64) -> AdamUpdate {
        AdamUpdate {
            eps: c.eps as f32,
            decay: (c.is_decoupled() && decay != 0.0).then(|| (-decay * self.dlr) as f32),
        }
    }
}

/// D-Adaptation Adam's first pass over a group.
#[derive(Debug, Clone, Copy)]
pub(super) struct AdamStats {
    active: bool,
    l2: Option<f32>,
    eps: f32,
    beta1: f32,
    m_alpha: f32,
    beta2: f32,
    v_value: f32,
    sqrt_beta2: f32,
    s_alpha: f32,
}

impl AdamStats {
    /// Advances `m`, `v` and `s`; returns `[<g, s / (sqrt(v) + eps)>, sum |s|]` with the
    /// `s` and `v` of before and after the update respectively.
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(
        &self,
        p: &[f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        s: &mut [f32],
    ) -> Sums {
        let (mut dot, mut l1) = (Sum::default(), Sum::default());
        if !self.active {
            return [dot, l1];
        }
        for i in 0..p.len() {
            let g = match self.l2 {
                Some(l2) => l2.mul_add(p[i], g[i]),
                None => g[i],
            };
            let denom = v[i].sqrt() + self.eps;
            // s.div(denom) is its own tensor (rounded); the products are exact in f64.
            dot.add(f64::from(g) * f64::from(s[i] / denom));
            // mul_ then add_(alpha) / addcmul_(value): a rounded product, then fused.
            m[i] = self.m_alpha.mul_add(g, m[i] * self.beta1);
            v[i] = (self.v_value * g).mul_add(g, v[i] * self.beta2);
            s[i] = self.s_alpha.mul_add(g, s[i] * self.sqrt_beta2);
            l1.add(f64::from(s[i].abs()));
        }
        [dot, l1]
    }
}

/// D-Adaptation Adam's second pass over a group.
#[derive(Debug, Clone, Copy)]
pub(super) struct AdamUpdate {
    eps: f32,
    decay: Option<f32>,
}

impl AdamUpdate {
    /// `p -= m / (sqrt(v) + eps)`, after the decoupled decay if any (the step size is in
    /// `m` already).
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(&self, p: &mut [f32], m: &[f32], v: &[f32]) {
        for i in 0..p.len() {
            let denom = v[i].sqrt() + self.eps;
            if let Some(decay) = self.decay {
                p[i] = decay.mul_add(p[i], p[i]);
            }
            // addcdiv_(m, denom, value=-1).
            p[i] += -m[i] / denom;
        }
    }
}

/// D-Adaptation SGD's scalars, fixed before the first pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct SgdBegin {
    dlr: f64,
    g0_norm: f64,
    ck: f64,
}

impl SgdBegin {
    /// The reference's prologue: `lr` is the largest group rate, `g0_norm` the first
    /// gradient's norm (measured on step k = 0, kept after); `None` where the reference
    /// divides by a zero norm.
    pub(super) fn new(a: &Adaptive, momentum: f64, lr: f64, g0_norm: f64) -> Option<Self> {
        (g0_norm != 0.0).then(|| SgdBegin {
            dlr: a.d * lr / g0_norm,
            g0_norm,
            ck: 1.0 - momentum,
        })
    }

    /// The first pass's scalars for a group of weight decay `decay`.
    pub(super) fn stats(&self, decay: f64, active: bool, first: bool) -> SgdStats {
        SgdStats {
            active,
            first,
            l2: (decay != 0.0).then_some(decay as f32),
            dlr: self.dlr as f32,
        }
    }

    /// Updates D from the groups' sums (`[<g, s>, |s|^2]`, with whether the group is
    /// active); false when the reference returns early (or, with `|s| = 0`, divides by
    /// zero), and then nothing changes.
    pub(super) fn estimate(
        &self,
        c: &OptimizerConfig,
        a: &mut Adaptive,
        lr: f64,
        sums: impl Iterator<Item = ([f64; 2], bool)>,
    ) -> bool {
        let mut numerator = a.numerator;
        let mut sk_sq = 0.0;
        for (s, active) in sums {
            if active {
                numerator += self.dlr * f64::from(s[0] as f32);
                sk_sq += f64::from(s[1] as f32);
            }
        }
        if sk_sq == 0.0 {
            return false;
        }
        if lr > 0.0 {
            let d_hat = 2.0 * numerator / sk_sq.sqrt();
            let growth = c.growth_rate.unwrap_or(f64::INFINITY);
            a.d = py_max(a.d, py_min(d_hat, a.d * growth));
        }
        a.numerator = numerator;
        a.g0_norm = self.g0_norm;
        a.k += 1;
        true
    }

    /// The second pass's scalars.
    pub(super) fn update(&self) -> SgdUpdate {
        SgdUpdate {
            ck: self.ck as f32,
            keep: (1.0 - self.ck) as f32,
        }
    }
}

/// The first gradient's squared norm on the step k = 0: `sum g*g` (each square a rounded
/// f32, as `(grad * grad).sum()` makes them), without weight decay as the reference.
// Inlined into the FMA-enabled caller: see `fused` in mod.rs.
#[inline(always)]
pub(super) fn grad_sq(g: &[f32]) -> Sums {
    let mut sq = Sum::default();
    for &g in g {
        sq.add(f64::from(g * g));
    }
    [sq, Sum::default()]
}

/// D-Adaptation SGD's first pass over a group.
#[derive(Debug, Clone, Copy)]
pub(super) struct SgdStats {
    active: bool,
    first: bool,
    l2: Option<f32>,
    dlr: f32,
}

impl SgdStats {
    /// Takes the initial point `x0` on the first step and advances `s`; returns
    /// `[<g, s>, |s|^2]` with the `s` of before and after respectively.
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(&self, p: &[f32], g: &[f32], s: &mut [f32], x0: &mut [f32]) -> Sums {
        if self.first {
            x0.copy_from_slice(p);
        }
        let (mut dot, mut sq) = (Sum::default(), Sum::default());
        if !self.active {
            return [dot, sq];
        }
        for i in 0..p.len() {
            let g = match self.l2 {
                Some(l2) => l2.mul_add(p[i], g[i]),
                None => g[i],
            };
            dot.add(f64::from(g) * f64::from(s[i]));
            s[i] = self.dlr.mul_add(g, s[i]);
            // (s * s).sum(): each square rounded to f32.
            sq.add(f64::from(s[i] * s[i]));
        }
        [dot, sq]
    }
}

/// D-Adaptation SGD's second pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct SgdUpdate {
    ck: f32,
    keep: f32,
}

impl SgdUpdate {
    /// `z = x0 - s; p = (1 - ck) p + ck z` (the reference keeps `z` as state, but it is
    /// always `x0 - s`, so it is recomputed here instead of stored).
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(&self, p: &mut [f32], s: &[f32], x0: &[f32]) {
        for i in 0..p.len() {
            let z = x0[i] - s[i];
            // mul_(1 - ck).add_(z, alpha=ck).
            p[i] = self.ck.mul_add(z, p[i] * self.keep);
        }
    }
}
