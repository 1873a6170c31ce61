//! DoG, distance over gradients (Ivgi, Hinder & Carmon 2023, "DoG is SGD's Best Friend"),
//! following `dog.DoG` of the `dog-optimizer` package (version 1.0.3): per group, the step
//! size is `lr * rbar / sqrt(G)`, where `rbar` is the largest distance from the initial
//! point so far (at first `reps_rel * (1 + |x0|)`) and `G` the sum of squared gradient
//! norms (plus eps). The reference keeps `rbar`, `G` and the step size as f32 tensors,
//! and so does this: the group's scalars are f32 operations in the reference's order.
//!
//! A step is two passes: the first takes each group's norms (and the initial point on the
//! first step), the second moves the parameters by the group's step size.

use super::config::OptimizerConfig;
use super::{Sum, Sums};

/// A group's first pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    first: bool,
    l2: Option<f32>,
}

impl Stats {
    /// The first pass's scalars for a group of weight decay `decay`.
    pub(super) fn new(decay: f64, first: bool) -> Self {
        Stats {
            first,
            l2: (decay > 0.0).then_some(decay as f32),
        }
    }

    /// Takes the initial point `x0` on the first step; returns `[|x - x0|^2 (or |x0|^2
    /// on the first step), sum g*g]`, the gradient's squares each a rounded f32 as
    /// `(grad ** 2).sum()` makes them.
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(&self, p: &[f32], g: &[f32], x0: &mut [f32]) -> Sums {
        let (mut dist, mut gsq) = (Sum::default(), Sum::default());
        if self.first {
            x0.copy_from_slice(p);
        }
        for i in 0..p.len() {
            let x = if self.first { p[i] } else { p[i] - x0[i] };
            dist.add(f64::from(x) * f64::from(x));
            let g = match self.l2 {
                // p.grad.add_(p, alpha=weight_decay).
                Some(l2) => l2.mul_add(p[i], g[i]),
                None => g[i],
            };
            gsq.add(f64::from(g * g));
        }
        [dist, gsq]
    }
}

/// Advances a group's `rbar` and `G` from its sums and returns its step size `eta`.
pub(super) fn step_size(
    c: &OptimizerConfig,
    lr: f64,
    first: bool,
    sums: [f64; 2],
    rbar: &mut f32,
    grad_sq_sum: &mut f32,
) -> f32 {
    // The norm correctly rounded to the f32 `torch.norm` returns.
    let dist = sums[0].sqrt() as f32;
    let gsq = sums[1] as f32;
    if first {
        // With init_eta the reference sets reps_rel to 0.
        let reps_rel = if c.init_eta.is_some() {
            0.0
        } else {
            c.reps_rel
        };
        *rbar = reps_rel as f32 * (1.0 + dist);
        *grad_sq_sum = gsq + c.eps as f32;
    } else {
        // torch.maximum: NaN wins.
        *rbar = if dist.is_nan() || dist > *rbar {
            dist
        } else {
            *rbar
        };
        *grad_sq_sum += gsq;
    }
    let eta = lr as f32 * *rbar / grad_sq_sum.sqrt();
    match c.init_eta {
        Some(e) if first => eta * 0.0 + e as f32,
        _ => eta,
    }
}

/// A group's second pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Update {
    neg_eta: f32,
    l2: Option<f32>,
}

impl Update {
    /// The update by step size `eta` for a group of weight decay `decay`.
    pub(super) fn new(eta: f32, decay: f64) -> Self {
        Update {
            neg_eta: -eta,
            l2: (decay > 0.0).then_some(decay as f32),
        }
    }

    /// `p -= eta * g`, `g` with the weight decay the first pass added.
    // Inlined into the FMA-enabled caller: see `fused` in mod.rs.
    #[inline(always)]
    pub(super) fn apply(&self, p: &mut [f32], g: &[f32]) {
        for i in 0..p.len() {
            let g = match self.l2 {
                Some(l2) => l2.mul_add(p[i], g[i]),
                None => g[i],
            };
            // p.add_(grad, alpha=-eta).
            p[i] = self.neg_eta.mul_add(g, p[i]);
        }
    }
}
