//! RMSProp: `torch.optim.RMSprop`'s single-tensor rule, operation for operation in f32.

/// The scalars of one group's RMSProp update.
#[derive(Debug, Clone, Copy)]
pub(super) struct RmsProp {
    /// The group's learning rate.
    pub lr: f64,
    /// L2 weight decay added to the gradient (0 when decoupled or off).
    pub l2: f64,
    /// Decoupled decay factor `1 - lr * wd` (1 when not decoupled).
    pub decay: f64,
    /// Smoothing constant of the averages.
    pub alpha: f64,
    /// Added to the root of the average.
    pub eps: f64,
    /// Normalise by the variance (subtract the squared mean gradient).
    pub centered: bool,
    /// Momentum factor; 0: no momentum buffer is used.
    pub momentum: f64,
}

impl RmsProp {
    /// Updates `p` from `g`; `sq` is the square average, `gavg` the gradient average
    /// (given when centered), `buf` the momentum buffer (given when momentum is on).
    // Inlined into the FMA-enabled caller (`fused`): target features do not reach
    // callees that are not inlined, and without them `mul_add` is a libm call.
    #[inline(always)]
    pub(super) fn apply(
        &self,
        p: &mut [f32],
        g: &[f32],
        sq: &mut [f32],
        gavg: Option<&mut [f32]>,
        buf: Option<&mut [f32]>,
    ) {
        let neg_lr = -self.lr as f32;
        let l2 = self.l2 as f32;
        let decay = self.decay as f32;
        let use_l2 = self.l2 != 0.0;
        let use_decay = self.decay != 1.0;
        let alpha = self.alpha as f32;
        let one_minus_alpha = (1.0 - self.alpha) as f32;
        let lerp = super::Lerp::new(1.0 - self.alpha);
        let eps = self.eps as f32;
        let m = self.momentum as f32;
        // The gradient after weight decay, and the updated square average.
        let pre = |p: &mut f32, g: f32, s: &mut f32| {
            if use_decay {
                *p *= decay;
            }
            let g = if use_l2 { l2.mul_add(*p, g) } else { g };
            // mul_ then addcmul_: self + (value * t1) * t2, the last step fused.
            *s = (one_minus_alpha * g).mul_add(g, *s * alpha);
            g
        };
        let centered = |s: f32, ga: &mut f32, g: f32| {
            *ga = lerp.at(*ga, g);
            (-*ga).mul_add(*ga, s).sqrt() + eps
        };
        // One loop per variant, so that each is a straight zip the compiler can vectorise.
        let ps = p.iter_mut().zip(g).zip(sq.iter_mut());
        let gavg = gavg.filter(|_| self.centered);
        let buf = buf.filter(|_| self.momentum > 0.0);
        match (gavg, buf) {
            (None, None) => {
                for ((p, &g), s) in ps {
                    let g = pre(p, g, s);
                    let avg = s.sqrt() + eps;
                    // addcdiv: self + value * t1 / t2, not fused (there is a division).
                    *p += neg_lr * g / avg;
                }
            }
            (Some(gavg), None) => {
                for (((p, &g), s), ga) in ps.zip(gavg.iter_mut()) {
                    let g = pre(p, g, s);
                    let avg = centered(*s, ga, g);
                    *p += neg_lr * g / avg;
                }
            }
            (None, Some(buf)) => {
                for (((p, &g), s), b) in ps.zip(buf.iter_mut()) {
                    let g = pre(p, g, s);
                    let avg = s.sqrt() + eps;
                    *b = *b * m + g / avg;
                    *p = neg_lr.mul_add(*b, *p);
                }
            }
            (Some(gavg), Some(buf)) => {
                for ((((p, &g), s), ga), b) in ps.zip(gavg.iter_mut()).zip(buf.iter_mut()) {
                    let g = pre(p, g, s);
                    let avg = centered(*s, ga, g);
                    *b = *b * m + g / avg;
                    *p = neg_lr.mul_add(*b, *p);
                }
            }
        }
    }
}
