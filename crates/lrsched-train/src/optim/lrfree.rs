//! The LR-free kinds' two passes (Prodigy, D-Adaptation Adam / SGD, DoG): the first
//! pass over fixed pieces takes the sums their step size needs, the estimate is made once
//! from all groups' sums in group order, then the second pass's kernels are planned.

use super::kernel::{stats_piece_dispatch, Kernel, Shared, SharedSums, Stats};
use super::{dadapt, dog, prodigy, py_max, Group, Optimizer, OptimizerKind, Parallel, Sums};

impl Optimizer {
    /// An LR-free step up to its update: the first pass (moments and the sums the
    /// estimate needs, over fixed pieces so the sums are the same for any threads and
    /// cuts), the estimate, once, from all groups' sums in group order, and the second
    /// pass's kernels into `plan` (left empty where the reference skips the update).
    pub(super) fn plan_lr_free(
        &mut self,
        params: &mut [f32],
        grads: &mut [f32],
        lr: f64,
        beta: f64,
        par: Parallel<'_>,
        plan: &mut Vec<(std::ops::Range<usize>, Kernel)>,
    ) {
        plan.clear();
        let kind = self.config.kind;
        let first = !self.started;
        let rate = |g: &Group| {
            if kind == OptimizerKind::DAdaptAdam {
                // Its groups scale by `layer_scale` (here lr_scale), not by their rate.
                lr
            } else {
                lr * g.spec.lr_scale
            }
        };
        // Python's max over the groups' rates (there is at least one group here).
        let Some(lr_max) = self.groups.iter().map(rate).reduce(py_max) else {
            self.started = true;
            return;
        };
        let c = self.config.clone();
        let mut a = self.adaptive;
        match kind {
            OptimizerKind::Prodigy => {
                let b = prodigy::Begin::new(&c, &a, beta, lr_max);
                for (st, g) in self.stats.iter_mut().zip(&self.groups) {
                    st.1 = Stats::Prodigy(b.stats(&c, &a, g.weight_decay, rate(g) > 0.0, first));
                }
                self.reduce(params, grads, par);
                self.started = true;
                let sums = self.group_sums.iter().zip(&self.groups);
                if b.estimate(&c, &mut a, lr_max, sums.map(|(s, g)| (*s, rate(g) > 0.0))) {
                    for g in &self.groups {
                        let u = b.update(&c, &a, g.weight_decay);
                        plan.push((g.spec.range.clone(), Kernel::Prodigy(u)));
                    }
                }
            }
            OptimizerKind::DAdaptAdam => {
                let b = dadapt::AdamBegin::new(&c, &a, beta, lr_max);
                for (st, g) in self.stats.iter_mut().zip(&self.groups) {
                    let r = g.spec.lr_scale;
                    st.1 = Stats::DAdaptAdam(b.stats(&c, g.weight_decay, r, rate(g) > 0.0));
                }
                self.reduce(params, grads, par);
                self.started = true;
                let sums = self.group_sums.iter().zip(&self.groups);
                let sums = sums.map(|(s, g)| (*s, g.spec.lr_scale, rate(g) > 0.0));
                if b.estimate(&c, &mut a, lr_max, sums) {
                    for g in &self.groups {
                        let u = b.update(&c, g.weight_decay);
                        plan.push((g.spec.range.clone(), Kernel::DAdaptAdam(u)));
                    }
                }
            }
            OptimizerKind::DAdaptSgd => {
                let g0_norm = if a.k == 0 {
                    // The first gradient's norm, over the groups with a rate.
                    for (st, g) in self.stats.iter_mut().zip(&self.groups) {
                        st.1 = if rate(g) > 0.0 {
                            Stats::GradSq
                        } else {
                            Stats::None
                        };
                    }
                    self.reduce(params, grads, par);
                    let g_sq: f64 = self.group_sums.iter().map(|s| f64::from(s[0] as f32)).sum();
                    g_sq.sqrt()
                } else {
                    a.g0_norm
                };
                // A zero first gradient: the reference divides by zero; nothing happens.
                let Some(b) = dadapt::SgdBegin::new(&a, beta, lr_max, g0_norm) else {
                    return;
                };
                for (st, g) in self.stats.iter_mut().zip(&self.groups) {
                    st.1 = Stats::DAdaptSgd(b.stats(g.weight_decay, rate(g) > 0.0, first));
                }
                self.reduce(params, grads, par);
                self.started = true;
                let sums = self.group_sums.iter().zip(&self.groups);
                if b.estimate(&c, &mut a, lr_max, sums.map(|(s, g)| (*s, rate(g) > 0.0))) {
                    for g in &self.groups {
                        plan.push((g.spec.range.clone(), Kernel::DAdaptSgd(b.update())));
                    }
                }
            }
            OptimizerKind::Dog => {
                for (st, g) in self.stats.iter_mut().zip(&self.groups) {
                    st.1 = Stats::Dog(dog::Stats::new(g.weight_decay, first));
                }
                self.reduce(params, grads, par);
                self.started = true;
                for (g, s) in self.groups.iter_mut().zip(&self.group_sums) {
                    let eta = dog::step_size(
                        &c,
                        lr * g.spec.lr_scale,
                        first,
                        *s,
                        &mut g.rbar,
                        &mut g.grad_sq_sum,
                    );
                    let u = dog::Update::new(eta, g.weight_decay);
                    plan.push((g.spec.range.clone(), Kernel::Dog(u)));
                }
            }
            _ => unreachable!("only LR-free kinds reach plan_lr_free"),
        }
        self.adaptive = a;
    }

    /// Runs the first-pass kernels in `stats` over the fixed pieces, then sums each
    /// group's pieces in order into `group_sums`.
    pub(super) fn reduce(&mut self, params: &mut [f32], grads: &mut [f32], par: Parallel<'_>) {
        let bufs = self.buf_ptrs();
        let (p, g) = (Shared(params.as_mut_ptr()), Shared(grads.as_mut_ptr()));
        let out = SharedSums(self.piece_sums.as_mut_ptr());
        let (stats, fixed) = (&self.stats, &self.fixed);
        par(fixed.len(), &|unit| {
            if let Some((k, r)) = fixed.get(unit).cloned() {
                // SAFETY: as for the update in `step_on`: the buffers are `n_params` long,
                // the fixed pieces lie within their groups and do not overlap, each unit
                // is one piece and writes its own slot of `piece_sums` (as long as
                // `fixed`).
                unsafe {
                    let sums = stats_piece_dispatch(
                        stats[k].1,
                        r,
                        p.get(),
                        g.get(),
                        bufs.map(Shared::get),
                    );
                    *out.get().add(unit) = sums;
                }
            }
        });
        for (k, total) in self.group_sums.iter_mut().enumerate() {
            let mut sums = Sums::default();
            for ((g, _), piece) in self.fixed.iter().zip(&self.piece_sums) {
                if *g == k {
                    sums[0].merge(piece[0]);
                    sums[1].merge(piece[1]);
                }
            }
            *total = [sums[0].value(), sums[1].value()];
        }
    }
}
