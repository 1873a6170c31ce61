//! Schedule-free SGD and AdamW (Defazio et al. 2024, "The Road Less Scheduled"), following
//! the `schedulefree` package's `SGDScheduleFree` and `AdamWScheduleFree` operation for
//! operation in f32, fused multiply-adds where PyTorch's kernels fuse.
//!
//! The parameter buffer holds `y`, the point where gradients are taken; the optimizer keeps
//! `z`, the base SGD/Adam iterate. The evaluation weights are the average
//! `x = y + (1 - 1/beta) (z - y)`; `y = x + (1 - beta) (z - x)` switches back.

use super::Lerp;

/// Per-group averaging scalars, updated once per step before the parameters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Averaging {
    /// The learning rate after warmup.
    pub lr: f64,
    /// The interpolation weight of this step, `c_{k+1}`.
    pub ckp1: f64,
}

/// Advances a group's running `weight_sum` and `lr_max` for step `k` (from 0) and returns
/// the learning rate and interpolation weight, as `schedulefree` does in f64.
pub(super) fn averaging(
    lr: f64,
    k: u64,
    warmup_steps: u64,
    r: f64,
    weight_lr_power: f64,
    weight_sum: &mut f64,
    lr_max: &mut f64,
) -> Averaging {
    let sched = if k < warmup_steps {
        (k + 1) as f64 / warmup_steps as f64
    } else {
        1.0
    };
    let lr = lr * sched;
    // Python's max(lr, lr_max) (both finite: lr is checked, lr_max starts at -1).
    if lr >= *lr_max {
        *lr_max = lr;
    }
    let weight = ((k + 1) as f64).powf(r) * lr_max.powf(weight_lr_power);
    *weight_sum += weight;
    // schedulefree catches ZeroDivisionError (a zero learning rate so far) and uses 0.
    let ckp1 = if *weight_sum == 0.0 {
        0.0
    } else {
        weight / *weight_sum
    };
    Averaging { lr, ckp1 }
}

/// Schedule-free SGD for one group.
#[derive(Debug, Clone, Copy)]
pub(super) struct SfSgd {
    /// Learning rate and interpolation weight of this step.
    pub avg: Averaging,
    /// Momentum (the interpolation beta).
    pub momentum: f64,
    /// Weight decay, added to the gradient at `y`.
    pub wd: f64,
}

impl SfSgd {
    /// Updates `y` (the parameters) and `z` from `g`.
    // Inlined into the FMA-enabled caller (`fused`): target features do not reach
    // callees that are not inlined, and without them `mul_add` is a libm call.
    #[inline(always)]
    pub(super) fn apply(&self, y: &mut [f32], g: &[f32], z: &mut [f32]) {
        let lerp = Lerp::new(self.avg.ckp1);
        let coef = (self.avg.lr * (self.momentum * (1.0 - self.avg.ckp1) - 1.0)) as f32;
        let neg_lr = -self.avg.lr as f32;
        let wd = self.wd as f32;
        let use_wd = self.wd != 0.0;
        for ((y, &g), z) in y.iter_mut().zip(g).zip(z.iter_mut()) {
            // add(alpha), lerp_, add_(alpha), sub_(alpha): each one fused multiply-add.
            let g = if use_wd { wd.mul_add(*y, g) } else { g };
            *y = lerp.at(*y, *z);
            *y = coef.mul_add(g, *y);
            *z = neg_lr.mul_add(g, *z);
        }
    }
}

/// Schedule-free AdamW for one group.
#[derive(Debug, Clone, Copy)]
pub(super) struct SfAdamW {
    /// Learning rate and interpolation weight of this step.
    pub avg: Averaging,
    /// beta1 (the interpolation beta).
    pub beta1: f64,
    /// beta2.
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
    /// Weight decay, added to the normalised gradient at `y`.
    pub wd: f64,
    /// The step number `k`, from 0.
    pub k: u64,
}

impl SfAdamW {
    /// Updates `y` (the parameters), `z` and the second moment `v` from `g`.
    // Inlined into the FMA-enabled caller (`fused`): target features do not reach
    // callees that are not inlined, and without them `mul_add` is a libm call.
    #[inline(always)]
    pub(super) fn apply(&self, y: &mut [f32], g: &[f32], z: &mut [f32], v: &mut [f32]) {
        let bias_correction2 = (1.0 - self.beta2.powf((self.k + 1) as f64)) as f32;
        let beta2 = self.beta2 as f32;
        let one_minus_beta2 = (1.0 - self.beta2) as f32;
        let eps = self.eps as f32;
        let lerp = Lerp::new(self.avg.ckp1);
        let coef = (self.avg.lr * (self.beta1 * (1.0 - self.avg.ckp1) - 1.0)) as f32;
        let neg_lr = -self.avg.lr as f32;
        let wd = self.wd as f32;
        let use_wd = self.wd != 0.0;
        for (((y, &g), z), v) in y.iter_mut().zip(g).zip(z.iter_mut()).zip(v.iter_mut()) {
            *v = (one_minus_beta2 * g).mul_add(g, *v * beta2);
            let denom = (*v / bias_correction2).sqrt() + eps;
            let mut gn = g / denom;
            if use_wd {
                gn = wd.mul_add(*y, gn);
            }
            *y = lerp.at(*y, *z);
            *y = coef.mul_add(gn, *y);
            *z = neg_lr.mul_add(gn, *z);
        }
    }
}

/// Moves `w` towards `z` by `weight` (`lerp_`), the switch between training and
/// evaluation weights.
// Inlined into the FMA-enabled caller (`fused`): target features do not reach
// callees that are not inlined, and without them `mul_add` is a libm call.
#[inline(always)]
pub(super) fn switch(w: &mut [f32], z: &[f32], weight: f64) {
    let lerp = Lerp::new(weight);
    for (w, &z) in w.iter_mut().zip(z) {
        *w = lerp.at(*w, z);
    }
}

/// Writes the evaluation weights of `y` into `out`.
// Inlined into the FMA-enabled caller (`fused`): target features do not reach
// callees that are not inlined, and without them `mul_add` is a libm call.
#[inline(always)]
pub(super) fn eval_into(y: &[f32], z: &[f32], out: &mut [f32], beta: f64) {
    let lerp = Lerp::new(1.0 - 1.0 / beta);
    for ((o, &y), &z) in out.iter_mut().zip(y).zip(z) {
        *o = lerp.at(y, z);
    }
}
