//! The per-kind kernels of a step and how a pass runs them: each group's kernel for
//! this step ([`plan_kernels`]), the pieces a pass is cut into ([`cut_pieces`]), and the
//! unsafe per-piece application, compiled for FMA and AVX2 where the CPU has them.

use super::{adam, dadapt, dog, prodigy, rmsprop, schedule_free, sgd};
use super::{Group, OptimizerConfig, OptimizerKind, Sums, NBUF};

/// [`update_groups`] compiled with AVX2 and FMA (it is inlined here whole).
/// One group's update with this step's scalars fixed: elementwise, so the group's range
/// may be cut into pieces updated in any order, on any thread, with the same bits.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kernel {
    Sgd(sgd::Sgd),
    RmsProp(rmsprop::RmsProp),
    Adam(adam::Adam),
    /// Schedule-free SGD; `true` on the first step (z starts at the parameters).
    SfSgd(schedule_free::SfSgd, bool),
    /// Schedule-free AdamW; `true` on the first step.
    SfAdamW(schedule_free::SfAdamW, bool),
    /// Prodigy's update (its moments were advanced by the first pass).
    Prodigy(prodigy::Update),
    /// D-Adaptation Adam's update.
    DAdaptAdam(dadapt::AdamUpdate),
    /// D-Adaptation SGD's update.
    DAdaptSgd(dadapt::SgdUpdate),
    /// DoG's update.
    Dog(dog::Update),
}

/// The first pass of an LR-free step over one group: elementwise state updates and the
/// sums the estimate needs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stats {
    /// Nothing (a group D-Adaptation SGD's first-norm pass leaves out).
    None,
    Prodigy(prodigy::Stats),
    DAdaptAdam(dadapt::AdamStats),
    /// D-Adaptation SGD's first gradient norm.
    GradSq,
    DAdaptSgd(dadapt::SgdStats),
    Dog(dog::Stats),
}

/// Parameters per piece of a parallel update: large enough that a piece costs far more
/// than handing it to a thread, small enough that two threads share a layer evenly.
const PIECE: usize = 16 * 1024;

/// The kernel of each group for this step (the schedule-free averaging weights, which
/// are per group, are advanced here, once).
#[allow(clippy::too_many_arguments)]
pub(super) fn plan_kernels(
    kind: OptimizerKind,
    c: &OptimizerConfig,
    groups: &mut [Group],
    lr: f64,
    beta: f64,
    first: bool,
    step: u64,
    out: &mut Vec<(std::ops::Range<usize>, Kernel)>,
) {
    out.clear();
    for grp in groups {
        let r = grp.spec.range.clone();
        let lr = lr * grp.spec.lr_scale;
        let wd = grp.weight_decay;
        let (l2, decay) = if c.is_decoupled() {
            (0.0, 1.0 - lr * wd)
        } else {
            (wd, 1.0)
        };
        let kernel = match kind {
            OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov => {
                Kernel::Sgd(sgd::Sgd {
                    lr,
                    l2,
                    decay,
                    momentum: if kind == OptimizerKind::Sgd {
                        0.0
                    } else {
                        beta
                    },
                    dampening: c.dampening,
                    nesterov: kind == OptimizerKind::Nesterov,
                    first,
                })
            }
            OptimizerKind::RmsProp => Kernel::RmsProp(rmsprop::RmsProp {
                lr,
                l2,
                decay,
                alpha: c.alpha,
                eps: c.eps,
                centered: c.centered,
                momentum: beta,
            }),
            OptimizerKind::Adam | OptimizerKind::AdamW => Kernel::Adam(adam::Adam {
                lr,
                l2,
                decay,
                beta1: beta,
                beta2: c.betas.1,
                eps: c.eps,
                step,
            }),
            OptimizerKind::Prodigy
            | OptimizerKind::DAdaptAdam
            | OptimizerKind::DAdaptSgd
            | OptimizerKind::Dog => unreachable!("LR-free kinds are planned by plan_lr_free"),
            OptimizerKind::ScheduleFreeSgd | OptimizerKind::ScheduleFreeAdamW => {
                let avg = schedule_free::averaging(
                    lr,
                    step - 1,
                    c.warmup_steps,
                    c.r,
                    c.weight_lr_power,
                    &mut grp.weight_sum,
                    &mut grp.lr_max,
                );
                if kind == OptimizerKind::ScheduleFreeSgd {
                    Kernel::SfSgd(
                        schedule_free::SfSgd {
                            avg,
                            momentum: beta,
                            wd,
                        },
                        first,
                    )
                } else {
                    Kernel::SfAdamW(
                        schedule_free::SfAdamW {
                            avg,
                            beta1: beta,
                            beta2: c.betas.1,
                            eps: c.eps,
                            wd,
                            k: step - 1,
                        },
                        first,
                    )
                }
            }
        };
        out.push((r, kernel));
    }
}

/// The pieces of a plan, in order, into `out`: `(kernel index, range)`, each group cut
/// at `cuts` (increasing parameter indices) when given, else into pieces of at most
/// [`PIECE`].
pub(super) fn cut_pieces<K>(
    plan: &[(std::ops::Range<usize>, K)],
    cuts: &[usize],
    out: &mut Vec<(usize, std::ops::Range<usize>)>,
) {
    out.clear();
    for (k, (r, _)) in plan.iter().enumerate() {
        let mut lo = r.start;
        if cuts.is_empty() {
            while lo < r.end {
                let hi = (lo + PIECE).min(r.end);
                out.push((k, lo..hi));
                lo = hi;
            }
        } else {
            for &c in cuts.iter().filter(|c| **c > r.start && **c < r.end) {
                if c > lo {
                    out.push((k, lo..c));
                    lo = c;
                }
            }
            if lo < r.end {
                out.push((k, lo..r.end));
            }
        }
    }
}

/// Applies `kernel` to the parameters in `r`.
///
/// # Safety
/// The pointers are the optimizer's buffers (`params`, `grads`, and `bufs`, each null or
/// `n_params` long) and `r` lies within them; nothing else touches `r` of any of them
/// meanwhile.
#[inline(always)]
unsafe fn apply_piece(
    kernel: Kernel,
    r: std::ops::Range<usize>,
    params: *mut f32,
    grads: *const f32,
    bufs: [*mut f32; NBUF],
) {
    let n = r.end - r.start;
    let p = std::slice::from_raw_parts_mut(params.add(r.start), n);
    let g = std::slice::from_raw_parts(grads.add(r.start), n);
    let buf = |i: usize| -> Option<&mut [f32]> {
        (!bufs[i].is_null()).then(|| std::slice::from_raw_parts_mut(bufs[i].add(r.start), n))
    };
    match kernel {
        Kernel::Sgd(k) => k.apply(p, g, buf(0)),
        Kernel::RmsProp(k) => k.apply(
            p,
            g,
            buf(0).expect("RMSProp keeps its square average"),
            buf(1),
            buf(2),
        ),
        Kernel::Adam(k) => k.apply(
            p,
            g,
            buf(0).expect("Adam keeps its first moment"),
            buf(1).expect("Adam keeps its second moment"),
        ),
        Kernel::SfSgd(k, first) => {
            let z = buf(0).expect("schedule-free keeps z");
            if first {
                z.copy_from_slice(p);
            }
            k.apply(p, g, z)
        }
        Kernel::SfAdamW(k, first) => {
            let z = buf(0).expect("schedule-free keeps z");
            if first {
                z.copy_from_slice(p);
            }
            k.apply(
                p,
                g,
                z,
                buf(1).expect("schedule-free AdamW keeps its second moment"),
            )
        }
        Kernel::Prodigy(k) => k.apply(
            p,
            g,
            buf(0).expect("Prodigy keeps its first moment"),
            buf(1).expect("Prodigy keeps its second moment"),
        ),
        Kernel::DAdaptAdam(k) => k.apply(
            p,
            buf(0).expect("D-Adaptation Adam keeps its first moment"),
            buf(1).expect("D-Adaptation Adam keeps its second moment"),
        ),
        Kernel::DAdaptSgd(k) => k.apply(
            p,
            buf(0).expect("D-Adaptation SGD keeps s"),
            buf(1).expect("D-Adaptation SGD keeps x0"),
        ),
        Kernel::Dog(k) => k.apply(p, g),
    }
}

/// Applies the first-pass kernel `stats` to the parameters in `r` and returns its sums.
///
/// # Safety
/// As [`apply_piece`].
#[inline(always)]
unsafe fn stats_piece(
    stats: Stats,
    r: std::ops::Range<usize>,
    params: *mut f32,
    grads: *const f32,
    bufs: [*mut f32; NBUF],
) -> Sums {
    let n = r.end - r.start;
    let p = std::slice::from_raw_parts(params.add(r.start), n);
    let g = std::slice::from_raw_parts(grads.add(r.start), n);
    let buf = |i: usize| -> &mut [f32] {
        assert!(!bufs[i].is_null(), "the kind keeps buffer {i}");
        std::slice::from_raw_parts_mut(bufs[i].add(r.start), n)
    };
    match stats {
        Stats::None => Sums::default(),
        Stats::Prodigy(k) => k.apply(p, g, buf(0), buf(1), buf(2), buf(3)),
        Stats::DAdaptAdam(k) => k.apply(p, g, buf(0), buf(1), buf(2)),
        Stats::GradSq => dadapt::grad_sq(g),
        Stats::DAdaptSgd(k) => k.apply(p, g, buf(0), buf(1)),
        Stats::Dog(k) => k.apply(p, g, buf(0)),
    }
}

/// [`stats_piece`] compiled for FMA and AVX2 where the CPU has them (as
/// [`apply_piece_dispatch`]).
///
/// # Safety
/// As [`apply_piece`].
pub(super) unsafe fn stats_piece_dispatch(
    stats: Stats,
    r: std::ops::Range<usize>,
    params: *mut f32,
    grads: *const f32,
    bufs: [*mut f32; NBUF],
) -> Sums {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn with_fma(
            stats: Stats,
            r: std::ops::Range<usize>,
            params: *mut f32,
            grads: *const f32,
            bufs: [*mut f32; NBUF],
        ) -> Sums {
            stats_piece(stats, r, params, grads, bufs)
        }
        if std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2") {
            return with_fma(stats, r, params, grads, bufs);
        }
    }
    stats_piece(stats, r, params, grads, bufs)
}

/// [`apply_piece`] compiled for FMA and AVX2 where the CPU has them (see [`fused`]: a
/// closure would not carry the features into the kernels, and `mul_add` would become a
/// libm call per value).
///
/// # Safety
/// As [`apply_piece`].
pub(super) unsafe fn apply_piece_dispatch(
    kernel: Kernel,
    r: std::ops::Range<usize>,
    params: *mut f32,
    grads: *const f32,
    bufs: [*mut f32; NBUF],
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn with_fma(
            kernel: Kernel,
            r: std::ops::Range<usize>,
            params: *mut f32,
            grads: *const f32,
            bufs: [*mut f32; NBUF],
        ) {
            apply_piece(kernel, r, params, grads, bufs)
        }
        if std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2") {
            return with_fma(kernel, r, params, grads, bufs);
        }
    }
    apply_piece(kernel, r, params, grads, bufs)
}

/// A pointer the pieces of one update share; each piece touches its own range.
#[derive(Clone, Copy)]
pub(super) struct Shared(pub(super) *mut f32);
// SAFETY: the pieces of an update write disjoint ranges (see `apply_piece`).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}

/// The pieces' sums of a first pass; each piece writes its own slot.
#[derive(Clone, Copy)]
pub(super) struct SharedSums(pub(super) *mut Sums);
// SAFETY: each piece writes only its own slot (see `Optimizer::reduce`).
unsafe impl Send for SharedSums {}
unsafe impl Sync for SharedSums {}

impl SharedSums {
    pub(super) fn get(self) -> *mut Sums {
        self.0
    }
}
