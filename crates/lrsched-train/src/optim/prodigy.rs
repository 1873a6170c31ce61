//! Prodigy (Mishchenko & Defazio 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free
//! Learner"), following `prodigyopt.Prodigy` (version 1.1.2) operation for operation: its
//! scalars in f64 as Python computes them, its tensor operations in f32 with fused
//! multiply-adds where PyTorch's kernels fuse.
//!
//! A step is two passes: the first takes the sums the D estimate needs (`<g, x0 - x>` and
//! `|s|_1`) while it advances the moments and `s`; then D is updated, once, from the sums
//! of all groups; the second pass moves the parameters by the new D's denominator and the
//! step size of the old D, as the reference does.

use super::config::OptimizerConfig;
use super::{py_max, py_min, Adaptive, Sum, Sums};

/// The step's scalars, fixed before the first pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Begin {
    beta1: f64,
    beta2: f64,
    beta3: f64,
    /// D times the learning rate (and the bias correction): this step's size.
    dlr: f64,
    /// The decayed numerator of the D estimate, before this step's terms.
    numerator: f64,
}

impl Begin {
    /// The reference's prologue: `lr` is the largest group rate.
    pub(super) fn new(c: &OptimizerConfig, a: &Adaptive, beta1: f64, lr: f64) -> Self {
        let beta2 = c.betas.1;
        let beta3 = c.beta3.unwrap_or_else(|| beta2.sqrt());
        let k1 = (a.k + 1) as f64;
        let bias_correction = if c.bias_correction {
            (1.0 - beta2.powf(k1)).powf(0.5) / (1.0 - beta1.powf(k1))
        } else {
            1.0
        };
        Begin {
            beta1,
            beta2,
            beta3,
            dlr: a.d * lr * bias_correction,
            numerator: a.numerator * beta3,
        }
    }

    /// The first pass's scalars for a group with weight decay `decay`; `active`: its rate
    /// is not 0 (a group at rate 0 only has its initial point taken).
    pub(super) fn stats(
        &self,
        c: &OptimizerConfig,
        a: &Adaptive,
        decay: f64,
        active: bool,
        first: bool,
    ) -> Stats {
        let d = a.d;
        let s_alpha = if c.safeguard_warmup {
            (d / c.d0) * d
        } else {
            (d / c.d0) * self.dlr
        };
        Stats {
            active,
            first,
            l2: coupled(c, decay),
            use_m: self.beta1 > 0.0,
            beta1: self.beta1 as f32,
            m_alpha: (d * (1.0 - self.beta1)) as f32,
            beta2: self.beta2 as f32,
            v_value: (d * d * (1.0 - self.beta2)) as f32,
            beta3: self.beta3 as f32,
            s_alpha: s_alpha as f32,
        }
    }

    /// Updates the estimate from the groups' sums (`[<g, x0 - x>, |s|_1]` each, with
    /// whether the group is active); false when the reference returns early (no
    /// gradient reached `s`), and then nothing changes.
    pub(super) fn estimate(
        &self,
        c: &OptimizerConfig,
        a: &mut Adaptive,
        lr: f64,
        sums: impl Iterator<Item = ([f64; 2], bool)>,
    ) -> bool {
        let (d, d0) = (a.d, c.d0);
        let mut delta_numerator = 0.0;
        let mut d_denom = 0.0;
        for (s, active) in sums {
            if active {
                // `.item()` of PyTorch's f32 reductions.
                delta_numerator += (d / d0) * self.dlr * f64::from(s[0] as f32);
                d_denom += f64::from(s[1] as f32);
            }
        }
        if d_denom == 0.0 {
            return false;
        }
        if lr > 0.0 {
            let numerator = self.numerator + delta_numerator;
            let d_hat = c.d_coef * numerator / d_denom;
            let mut d = d;
            if d == d0 {
                d = py_max(d, d_hat);
            }
            a.d_max = py_max(a.d_max, d_hat);
            a.d = py_min(a.d_max, d * c.growth_rate.unwrap_or(f64::INFINITY));
            a.numerator = numerator;
        }
        a.k += 1;
        true
    }

    /// The second pass's scalars for a group, with the updated estimate in `a`.
    pub(super) fn update(&self, c: &OptimizerConfig, a: &Adaptive, decay: f64) -> Update {
        Update {
            d_eps: (a.d * c.eps) as f32,
            decay: (c.is_decoupled() && decay != 0.0).then(|| (-decay * self.dlr) as f32),
            l2: coupled(c, decay),
            use_m: self.beta1 > 0.0,
            neg_dlr: (-self.dlr) as f32,
            neg_dlr_d: (-self.dlr * a.d) as f32,
        }
    }
}

/// The coupled (L2) weight decay added to the gradient, if any.
fn coupled(c: &OptimizerConfig, decay: f64) -> Option<f32> {
    (decay != 0.0 && !c.is_decoupled()).then_some(decay as f32)
}

/// The first pass over a group: moments, `s` and the sums.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    active: bool,
    first: bool,
    l2: Option<f32>,
    use_m: bool,
    beta1: f32,
    m_alpha: f32,
    beta2: f32,
    v_value: f32,
    beta3: f32,
    s_alpha: f32,
}

impl Stats {
    /// Advances `m`, `v` and `s` (and takes the initial point `p0` on the first step);
    /// returns `[<g, p0 - p>, sum |s|]` over the slices.
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(
        &self,
        p: &[f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        s: &mut [f32],
        p0: &mut [f32],
    ) -> Sums {
        if self.first {
            p0.copy_from_slice(p);
        }
        let (mut dot, mut l1) = (Sum::default(), Sum::default());
        if !self.active {
            return [dot, l1];
        }
        for i in 0..p.len() {
            let g = match self.l2 {
                // grad.add_(p, alpha=decay): one fused multiply-add.
                Some(l2) => l2.mul_add(p[i], g[i]),
                None => g[i],
            };
            // p0 - p is its own tensor (rounded); the f32 products are exact in f64.
            dot.add(f64::from(g) * f64::from(p0[i] - p[i]));
            if self.use_m {
                // mul_ then add_(alpha): a rounded product, then a fused multiply-add.
                m[i] = self.m_alpha.mul_add(g, m[i] * self.beta1);
            }
            // mul_ then addcmul_(value): (value * g) * g + v, the last fused.
            v[i] = (self.v_value * g).mul_add(g, v[i] * self.beta2);
            s[i] = self.s_alpha.mul_add(g, s[i] * self.beta3);
            l1.add(f64::from(s[i].abs()));
        }
        [dot, l1]
    }
}

/// The second pass over a group: the parameter update.
#[derive(Debug, Clone, Copy)]
pub(super) struct Update {
    d_eps: f32,
    decay: Option<f32>,
    l2: Option<f32>,
    use_m: bool,
    neg_dlr: f32,
    neg_dlr_d: f32,
}

impl Update {
    /// Moves `p` by `m` (or, with beta1 = 0, by the gradient) over `sqrt(v) + d * eps`.
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(&self, p: &mut [f32], g: &[f32], m: &[f32], v: &[f32]) {
        for i in 0..p.len() {
            // The gradient with the coupled decay the first pass added (the reference adds
            // it in place; here it is recomputed from the same, unchanged, parameters).
            let g = match self.l2 {
                Some(l2) => l2.mul_add(p[i], g[i]),
                None => g[i],
            };
            let denom = v[i].sqrt() + self.d_eps;
            if let Some(decay) = self.decay {
                // p.add_(p, alpha=-decay * dlr).
                p[i] = decay.mul_add(p[i], p[i]);
            }
            // addcdiv_: p + value * t1 / t2.
            p[i] += if self.use_m {
                self.neg_dlr * m[i] / denom
            } else {
                self.neg_dlr_d * g / denom
            };
        }
    }
}
