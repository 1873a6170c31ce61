//! Adam and AdamW: `torch.optim.Adam`'s single-tensor rule (AdamW is Adam with decoupled
//! weight decay), operation for operation in f32, fused multiply-adds where PyTorch fuses.

/// The scalars of one group's Adam update.
#[derive(Debug, Clone, Copy)]
pub(super) struct Adam {
    /// The group's learning rate.
    pub lr: f64,
    /// L2 weight decay added to the gradient (0 when decoupled or off).
    pub l2: f64,
    /// Decoupled decay factor `1 - lr * wd` (1 when not decoupled).
    pub decay: f64,
    /// beta1 of this step (it may follow a schedule).
    pub beta1: f64,
    /// beta2.
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
    /// The step number, from 1.
    pub step: u64,
}

impl Adam {
    /// Updates `p` from `g` with first moment `m` and second moment `v`.
    // Inlined into the FMA-enabled caller (`fused`): target features do not reach
    // callees that are not inlined, and without them `mul_add` is a libm call.
    #[inline(always)]
    pub(super) fn apply(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        // PyTorch computes the bias corrections in f64 from the current betas (`**` is C's
        // pow, as is powf), then hands the kernels f32 scalars.
        let step = self.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(step);
        let bias_correction2 = 1.0 - self.beta2.powf(step);
        let neg_step_size = -(self.lr / bias_correction1) as f32;
        let bc2_sqrt = bias_correction2.powf(0.5) as f32;
        let lerp = super::Lerp::new(1.0 - self.beta1);
        let beta2 = self.beta2 as f32;
        let one_minus_beta2 = (1.0 - self.beta2) as f32;
        let eps = self.eps as f32;
        let l2 = self.l2 as f32;
        let decay = self.decay as f32;
        let use_l2 = self.l2 != 0.0;
        let use_decay = self.decay != 1.0;
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            if use_decay {
                *p *= decay;
            }
            let g = if use_l2 { l2.mul_add(*p, g) } else { g };
            *m = lerp.at(*m, g);
            *v = (one_minus_beta2 * g).mul_add(g, *v * beta2);
            let denom = v.sqrt() / bc2_sqrt + eps;
            // addcdiv: self + value * t1 / t2.
            *p += neg_step_size * *m / denom;
        }
    }
}
