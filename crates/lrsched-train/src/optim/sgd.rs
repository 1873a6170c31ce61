//! SGD, SGD with momentum and Nesterov momentum: `torch.optim.SGD`'s single-tensor rule,
//! operation for operation in f32 (fused multiply-adds where PyTorch's kernels fuse), so
//! results match PyTorch bit for bit.

/// The scalars of one group's SGD update.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sgd {
    /// The group's learning rate.
    pub lr: f64,
    /// L2 weight decay added to the gradient (0 when decoupled or off).
    pub l2: f64,
    /// Decoupled decay factor `1 - lr * wd` (1 when not decoupled).
    pub decay: f64,
    /// Momentum factor; 0 is plain SGD (the buffer is left alone, as PyTorch does).
    pub momentum: f64,
    /// Dampening of the momentum buffer's gradient term.
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// First momentum step: the buffer is seeded with the gradient, as PyTorch does.
    pub first: bool,
}

impl Sgd {
    /// Updates `p` from `g`, with momentum buffer `buf` (all the group's slices; no
    /// buffer for plain SGD).
    // Inlined into the FMA-enabled caller (`fused`): target features do not reach
    // callees that are not inlined, and without them `mul_add` is a libm call.
    #[inline(always)]
    pub(super) fn apply(&self, p: &mut [f32], g: &[f32], buf: Option<&mut [f32]>) {
        // Scalars are rounded to f32 once, as PyTorch converts a Python float to the
        // tensor's type before the kernel runs.
        let neg_lr = -self.lr as f32;
        let l2 = self.l2 as f32;
        let decay = self.decay as f32;
        let use_l2 = self.l2 != 0.0;
        let use_decay = self.decay != 1.0;
        let pre = |p: &mut f32, g: f32| {
            if use_decay {
                *p *= decay;
            }
            if use_l2 {
                // add(alpha): PyTorch's kernels fuse the multiply-add.
                l2.mul_add(*p, g)
            } else {
                g
            }
        };
        let m = self.momentum as f32;
        let one_minus_damp = (1.0 - self.dampening) as f32;
        let (nesterov, first) = (self.nesterov, self.first);
        match buf.filter(|_| self.momentum != 0.0) {
            None => {
                for (p, &g) in p.iter_mut().zip(g) {
                    let d = pre(p, g);
                    *p = neg_lr.mul_add(d, *p);
                }
            }
            // The common case (momentum, no decay, not the first step) as its own loop
            // with no branch inside, so it vectorises: the same operations, the same bits.
            Some(buf) if !use_decay && !use_l2 && !first => {
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    *b = one_minus_damp.mul_add(g, *b * m);
                    let d = if nesterov { m.mul_add(*b, g) } else { *b };
                    *p = neg_lr.mul_add(d, *p);
                }
            }
            Some(buf) => {
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let d = pre(p, g);
                    // mul_ then add_(alpha): a rounded product, then a fused multiply-add.
                    *b = if first {
                        d
                    } else {
                        one_minus_damp.mul_add(d, *b * m)
                    };
                    let d = if nesterov { m.mul_add(*b, d) } else { *b };
                    *p = neg_lr.mul_add(d, *p);
                }
            }
        }
    }
}
