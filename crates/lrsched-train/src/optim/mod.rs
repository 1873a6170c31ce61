//! Optimizers over flat f32 buffers: SGD, momentum, Nesterov, RMSProp, Adam, AdamW,
//! schedule-free SGD / AdamW and the LR-free Prodigy, D-Adaptation Adam / SGD and DoG, with
//! L2 or decoupled weight decay, L1, and gradient clipping by norm or value.
//!
//! The model keeps all its parameters in one contiguous `&mut [f32]` and the gradients in a
//! matching one; [`ParamGroup`]s are index ranges into them, each with its own learning-rate
//! factor and optionally its own weight decay (e.g. none for biases and BatchNorm).
//!
//! Every update follows PyTorch's single-tensor implementation (and the `schedulefree`
//! package's for the schedule-free kinds) operation for operation in f32, with PyTorch's
//! f64 scalar arithmetic, so that results match PyTorch's to the last bit or within an
//! f32 rounding (see `tests/optim_golden.rs`, whose fixture `scripts/torch_optim_golden.py`
//! makes). The LR-free kinds follow their reference packages (`prodigyopt`, `dadaptation`,
//! `dog-optimizer`) likewise, except that their sums over all parameters are compensated
//! f64 sums in a fixed order where PyTorch sums in f32 (see `tests/lrfree_optim_golden.rs`
//! and docs/optimizers.md).
//!
//! The learning rate, and optionally the momentum (SGD momentum, Nesterov, RMSProp,
//! schedule-free SGD) or beta1 (Adam, AdamW, schedule-free AdamW), come from the schedule
//! at every [`Optimizer::step`], as PyTorch's `OneCycleLR(cycle_momentum=True)` drives
//! `momentum` or `betas[0]`.
//!
//! A step allocates nothing and makes one pass over the buffers (two more when L1 or
//! clipping is on: clipping by norm needs the norm before any update); an LR-free step
//! makes two, since its step size needs sums over all parameters before any update (three
//! on D-Adaptation SGD's first step, which also measures the first gradient).
//!
//! ```
//! use lrsched_train::optim::{Optimizer, OptimizerConfig, OptimizerKind, ParamGroup};
//! let config = OptimizerConfig { weight_decay: 0.01, ..OptimizerConfig::new(OptimizerKind::AdamW) };
//! // Weights in 0..6 decay; biases in 6..8 do not, and learn at twice the rate.
//! let groups = vec![
//!     ParamGroup::new(0..6),
//!     ParamGroup::new(6..8).with_lr_scale(2.0).with_weight_decay(0.0),
//! ];
//! let mut opt = Optimizer::new(config, groups, 8).unwrap();
//! let mut params = vec![0.5f32; 8];
//! let mut grads = vec![0.1f32; 8];
//! opt.step(&mut params, &mut grads, 1e-3, None).unwrap();
//! assert!(params.iter().all(|&p| p < 0.5));
//! ```

mod adam;
mod clip;
mod config;
mod dadapt;
mod dog;
mod error;
mod kernel;
mod lrfree;
mod prodigy;
mod rmsprop;
mod schedule_free;
mod sgd;
mod state;
#[cfg(test)]
mod tests;

pub use config::{Clip, OptimizerConfig, OptimizerKind, ParamGroup};
pub use error::OptimError;
pub use state::{AdaptiveState, GroupState, NamedBuffer, OptimizerState};

use config::{check_beta, check_momentum};
use kernel::{apply_piece_dispatch, cut_pieces, plan_kernels, Kernel, Shared, Stats};

/// What a step reports.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepInfo {
    /// The total 2-norm of the gradients (after the L1 term, before scaling) when
    /// clipping by norm, the value `clip_grad_norm_` returns.
    pub grad_norm: Option<f32>,
}

/// A group with its resolved weight decay and schedule-free (or DoG) running values.
#[derive(Debug, Clone)]
struct Group {
    spec: ParamGroup,
    weight_decay: f64,
    weight_sum: f64,
    lr_max: f64,
    /// DoG: the largest distance from the initial point so far.
    rbar: f32,
    /// DoG: the sum of squared gradient norms, plus eps.
    grad_sq_sum: f32,
}

/// The running estimates of the LR-free kinds, shared by all groups (see
/// [`AdaptiveState`] for each one's meaning).
#[derive(Debug, Clone, Copy)]
struct Adaptive {
    k: u64,
    d: f64,
    d_max: f64,
    numerator: f64,
    g0_norm: f64,
}

/// Python's `max(a, b)`: `a` unless `b` is greater (so NaN in `b` loses, in `a` wins).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `a` unless `b` is smaller.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Per-parameter buffer slots.
const NBUF: usize = 4;

/// A compensated (Neumaier) sum in f64: the sums behind the LR-free estimates are dot
/// products that cancel heavily as training settles, and this keeps them correctly
/// rounded to the f32 the references' reductions return, in a fixed order.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    #[inline(always)]
    fn add(&mut self, x: f64) {
        let t = self.s + x;
        self.c += if self.s.abs() >= x.abs() {
            (self.s - t) + x
        } else {
            (x - t) + self.s
        };
        self.s = t;
    }

    fn merge(&mut self, other: Sum) {
        self.add(other.s);
        self.add(other.c);
    }

    fn value(self) -> f64 {
        self.s + self.c
    }
}

/// The two sums a first pass takes over a piece (or a group).
type Sums = [Sum; 2];

/// An optimizer over flat parameter and gradient buffers.
///
/// Build it with [`Optimizer::new`], call [`step`](Optimizer::step) once per batch with the
/// scheduled learning rate, save [`state`](Optimizer::state) with checkpoints and
/// [`restore`](Optimizer::restore) it to resume bit for bit.
///
/// Schedule-free kinds keep the parameters at the gradient point `y` while training; the
/// weights to evaluate (or to ship) are the average `x`: get them with
/// [`eval_params`](Optimizer::eval_params) into a separate buffer, or switch the parameters
/// in place with [`to_eval`](Optimizer::to_eval) and back with
/// [`to_train`](Optimizer::to_train) (the package's `eval()` / `train()`; the round trip
/// is exact only up to f32 rounding, as in PyTorch). For other kinds all three are plain
/// copies or no-ops.
#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    groups: Vec<Group>,
    n_params: usize,
    steps: u64,
    started: bool,
    eval_mode: bool,
    beta: f64,
    /// Per-parameter buffers, each `n_params` long or empty when the kind does not use it;
    /// their meaning per kind is in `buffer_names`.
    bufs: [Vec<f32>; NBUF],
    /// The kernels of the step being taken and its pieces, kept so a step allocates
    /// nothing.
    plan: Vec<(std::ops::Range<usize>, Kernel)>,
    pieces: Vec<(usize, std::ops::Range<usize>)>,
    /// LR-free kinds: their running estimates.
    adaptive: Adaptive,
    /// LR-free kinds: the first pass's kernels (one per group), its pieces (fixed: cut
    /// at [`PIECE`] within each group whatever the caller's cuts, so that the sums do not
    /// depend on them), each piece's sums and each group's.
    stats: Vec<(std::ops::Range<usize>, Stats)>,
    fixed: Vec<(usize, std::ops::Range<usize>)>,
    piece_sums: Vec<Sums>,
    group_sums: Vec<[f64; 2]>,
}

impl Optimizer {
    /// An optimizer of `config` over `n_params` parameters, updating the parameters in
    /// `groups` (ranges must lie within `0..n_params` and not overlap; parameters in no
    /// group are never touched). Errors name the bad hyperparameter or group.
    pub fn new(
        config: OptimizerConfig,
        groups: Vec<ParamGroup>,
        n_params: usize,
    ) -> Result<Self, OptimError> {
        config.validate()?;
        for (i, g) in groups.iter().enumerate() {
            let r = &g.range;
            if r.start > r.end || r.end > n_params {
                return Err(OptimError::BadGroup {
                    index: i,
                    reason: format!(
                        "range {}..{} does not lie within the {n_params} parameters",
                        r.start, r.end
                    ),
                });
            }
            if !(g.lr_scale.is_finite() && g.lr_scale >= 0.0) {
                return Err(OptimError::invalid(
                    format!("groups[{i}].lr_scale"),
                    g.lr_scale,
                    "a finite number >= 0",
                ));
            }
            if let Some(wd) = g.weight_decay {
                if !(wd.is_finite() && wd >= 0.0) {
                    return Err(OptimError::invalid(
                        format!("groups[{i}].weight_decay"),
                        wd,
                        "a finite number >= 0",
                    ));
                }
            }
            for (j, h) in groups[..i].iter().enumerate() {
                let s = &h.range;
                if r.start < s.end && s.start < r.end {
                    return Err(OptimError::BadGroup {
                        index: i,
                        reason: format!(
                            "range {}..{} overlaps group {j}'s range {}..{}",
                            r.start, r.end, s.start, s.end
                        ),
                    });
                }
            }
        }
        let kind = config.kind;
        let n = n_params;
        let used = |b: bool| if b { vec![0.0f32; n] } else { Vec::new() };
        let bufs = match kind {
            OptimizerKind::Sgd => [used(false), used(false), used(false), used(false)],
            OptimizerKind::Momentum
            | OptimizerKind::Nesterov
            | OptimizerKind::ScheduleFreeSgd
            | OptimizerKind::Dog => [used(true), used(false), used(false), used(false)],
            OptimizerKind::RmsProp => [
                used(true),
                used(config.centered),
                used(config.effective_momentum() > 0.0),
                used(false),
            ],
            OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::ScheduleFreeAdamW => {
                [used(true), used(true), used(false), used(false)]
            }
            OptimizerKind::DAdaptSgd => [used(true), used(true), used(false), used(false)],
            OptimizerKind::DAdaptAdam => [used(true), used(true), used(true), used(false)],
            OptimizerKind::Prodigy => [used(true), used(true), used(true), used(true)],
        };
        if matches!(kind, OptimizerKind::Prodigy | OptimizerKind::DAdaptSgd) {
            // The references take one rate for all groups, or 0 for a frozen group.
            let first = groups.iter().map(|g| g.lr_scale).find(|&s| s != 0.0);
            if let Some((i, g)) = groups
                .iter()
                .enumerate()
                .find(|(_, g)| g.lr_scale != 0.0 && Some(g.lr_scale) != first)
            {
                return Err(OptimError::BadGroup {
                    index: i,
                    reason: format!(
                        "lr_scale {} differs from another group's {}: {} takes one learning \
                         rate for all groups (or 0 to freeze a group), as its reference does",
                        g.lr_scale,
                        first.unwrap_or(0.0),
                        kind.name()
                    ),
                });
            }
        }
        let beta = if kind.uses_betas() {
            config.betas.0
        } else {
            config.effective_momentum()
        };
        let groups = groups
            .into_iter()
            .map(|spec| Group {
                weight_decay: spec.weight_decay.unwrap_or(config.weight_decay),
                spec,
                weight_sum: 0.0,
                lr_max: -1.0,
                rbar: 0.0,
                grad_sq_sum: 0.0,
            })
            .collect::<Vec<_>>();
        let mut fixed = Vec::new();
        let mut stats = Vec::new();
        if kind.is_lr_free() {
            // Only the ranges matter to the cut; the kernels are set at each step.
            stats = groups
                .iter()
                .map(|g| (g.spec.range.clone(), Stats::None))
                .collect();
            let ranges: Vec<_> = stats.iter().map(|(r, _)| (r.clone(), ())).collect();
            cut_pieces(&ranges, &[], &mut fixed);
        }
        let adaptive = Adaptive {
            k: 0,
            d: config.d0,
            d_max: config.d0,
            numerator: 0.0,
            g0_norm: 0.0,
        };
        Ok(Optimizer {
            config,
            groups,
            n_params,
            steps: 0,
            started: false,
            eval_mode: false,
            beta,
            bufs,
            plan: Vec::new(),
            pieces: Vec::new(),
            adaptive,
            piece_sums: vec![Sums::default(); fixed.len()],
            group_sums: vec![[0.0; 2]; stats.len()],
            stats,
            fixed,
        })
    }

    /// The config it was built with.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// The parameter groups it was built with.
    pub fn groups(&self) -> impl Iterator<Item = &ParamGroup> {
        self.groups.iter().map(|g| &g.spec)
    }

    /// The number of parameters it was built for.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether the parameters hold the schedule-free evaluation weights (after
    /// [`to_eval`](Optimizer::to_eval)); always false for other kinds.
    pub fn is_eval_mode(&self) -> bool {
        self.eval_mode
    }

    /// One update of `params` from `grads` with learning rate `lr` (each group's is
    /// `lr * lr_scale`).
    ///
    /// `momentum`, when given, replaces the config's momentum (SGD momentum, Nesterov,
    /// RMSProp, schedule-free SGD) or beta1 (Adam, AdamW, schedule-free AdamW) from this
    /// step on, as a momentum schedule does; plain SGD ignores it.
    ///
    /// Before the update, `grads` gets the L1 term and clipping in place (PyTorch's
    /// `clip_grad_*_` also clip in place), over all groups together; weight decay is not
    /// written back.
    ///
    /// Errors, leaving everything untouched: buffers of the wrong length, a negative or
    /// non-finite `lr`, a momentum or beta out of range, a momentum > 0 for an RMSProp
    /// built without momentum (it has no buffer), or a schedule-free optimizer in eval mode.
    pub fn step(
        &mut self,
        params: &mut [f32],
        grads: &mut [f32],
        lr: f64,
        momentum: Option<f64>,
    ) -> Result<StepInfo, OptimError> {
        self.step_on(params, grads, lr, momentum, &|n, f| (0..n).for_each(f), &[])
    }

    /// [`step`](Optimizer::step) with the update shared among threads: `par` runs the
    /// update's pieces, cut at `cuts` (sorted parameter indices: where the caller's own
    /// units of work start, so that piece `k` is the parameters its unit `k` wrote and
    /// the same thread takes both), or, without cuts, of at most 16384 parameters. The
    /// update is elementwise (the LR-free kinds' sums are taken over fixed pieces, added
    /// in a fixed order): the same bits as `step`'s for any threads and cuts.
    ///
    /// ```
    /// use lrsched_train::optim::{Optimizer, OptimizerConfig, OptimizerKind, ParamGroup};
    /// let config = OptimizerConfig::new(OptimizerKind::Adam);
    /// let n = 100_000;
    /// let mut one = Optimizer::new(config.clone(), vec![ParamGroup::new(0..n)], n).unwrap();
    /// let mut two = one.clone();
    /// let (mut p1, mut g1) = (vec![0.5f32; n], vec![0.1f32; n]);
    /// let (mut p2, mut g2) = (p1.clone(), g1.clone());
    /// one.step(&mut p1, &mut g1, 1e-3, None).unwrap();
    /// // Here two scoped threads take the odd and even pieces.
    /// two.step_on(&mut p2, &mut g2, 1e-3, None, &|n, f| {
    ///     std::thread::scope(|s| {
    ///         s.spawn(|| (0..n).step_by(2).for_each(f));
    ///         (1..n).step_by(2).for_each(f);
    ///     })
    /// }, &[1000, 50_000])
    /// .unwrap();
    /// assert_eq!(p1, p2);
    /// ```
    pub fn step_on(
        &mut self,
        params: &mut [f32],
        grads: &mut [f32],
        lr: f64,
        momentum: Option<f64>,
        par: Parallel<'_>,
        cuts: &[usize],
    ) -> Result<StepInfo, OptimError> {
        self.check_len("params", params.len())?;
        self.check_len("grads", grads.len())?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(OptimError::invalid("lr", lr, "a finite number >= 0"));
        }
        let kind = self.config.kind;
        let beta = match momentum {
            None => self.beta,
            Some(b) if kind.uses_betas() => {
                check_beta("momentum (beta1)", b)?;
                if kind.is_schedule_free() && b == 0.0 {
                    return Err(OptimError::invalid(
                        "momentum (beta1)",
                        b,
                        "0 < beta1 < 1 for schedule-free",
                    ));
                }
                b
            }
            Some(m) => {
                check_momentum(kind, "momentum", m)?;
                if kind == OptimizerKind::RmsProp && m > 0.0 && self.bufs[2].is_empty() {
                    return Err(OptimError::invalid(
                        "momentum",
                        m,
                        "0 for an RMSProp built with momentum 0 (set config momentum > 0 \
                         to schedule it)",
                    ));
                }
                m
            }
        };
        if self.eval_mode {
            return Err(OptimError::EvalMode);
        }
        let grad_norm = clip::prepare(
            params,
            grads,
            self.groups.iter().map(|g| g.spec.range.clone()),
            self.config.l1,
            self.config.clip,
        );
        self.beta = beta;
        self.steps += 1;
        let (first, step) = (!self.started, self.steps);
        let mut plan = std::mem::take(&mut self.plan);
        if kind.is_lr_free() {
            self.plan_lr_free(params, grads, lr, beta, par, &mut plan);
        } else {
            plan_kernels(
                kind,
                &self.config,
                &mut self.groups,
                lr,
                beta,
                first,
                step,
                &mut plan,
            );
        }
        let bufs = self.buf_ptrs();
        let (p, g) = (Shared(params.as_mut_ptr()), Shared(grads.as_mut_ptr()));
        let mut cut = std::mem::take(&mut self.pieces);
        cut_pieces(&plan, cuts, &mut cut);
        let plan_ref = &plan;
        let cut_ref = &cut;
        par(cut.len(), &|unit| {
            if let Some((k, r)) = cut_ref.get(unit).cloned() {
                // SAFETY: the buffers are `n_params` long (checked above, and at build),
                // each piece's range lies in its group's, groups do not overlap, and each
                // unit is one piece.
                unsafe {
                    apply_piece_dispatch(plan_ref[k].1, r, p.get(), g.get(), bufs.map(Shared::get))
                };
            }
        });
        self.plan = plan;
        self.pieces = cut;
        // SGD seeds its momentum buffer only on a step with momentum, as PyTorch does; the
        // LR-free kinds say themselves (D-Adaptation SGD's first step may take nothing).
        if !kind.is_lr_free() {
            self.started |= kind != OptimizerKind::Sgd
                && !(matches!(kind, OptimizerKind::Momentum | OptimizerKind::Nesterov)
                    && beta == 0.0);
        }
        Ok(StepInfo { grad_norm })
    }

    /// The buffers as pointers for the pieces of a pass (null for an unused one).
    fn buf_ptrs(&mut self) -> [Shared; NBUF] {
        let ptr = |b: &mut Vec<f32>| {
            if b.is_empty() {
                Shared(std::ptr::null_mut())
            } else {
                Shared(b.as_mut_ptr())
            }
        };
        let [a, b, c, d] = &mut self.bufs;
        [ptr(a), ptr(b), ptr(c), ptr(d)]
    }

    /// Writes the weights to evaluate into `out`: for schedule-free kinds in training mode,
    /// the average `x = y + (1 - 1/beta) (z - y)` (what the package's `eval()` puts in the
    /// parameters), with the beta of the last step; otherwise a copy of `params`.
    /// Parameters in no group, and all of them before the first step, are copied.
    pub fn eval_params(&self, params: &[f32], out: &mut [f32]) -> Result<(), OptimError> {
        self.check_len("params", params.len())?;
        self.check_len("out", out.len())?;
        out.copy_from_slice(params);
        if self.config.kind.is_schedule_free() && self.started && !self.eval_mode {
            fused(|| {
                for g in &self.groups {
                    let r = g.spec.range.clone();
                    schedule_free::eval_into(
                        &params[r.clone()],
                        &self.bufs[0][r.clone()],
                        &mut out[r],
                        self.beta,
                    );
                }
            });
        }
        Ok(())
    }

    /// Schedule-free: switches `params` in place to the evaluation weights (the package's
    /// `eval()`); a no-op when already switched, before the first step (but it still
    /// enters eval mode), and for other kinds.
    pub fn to_eval(&mut self, params: &mut [f32]) -> Result<(), OptimError> {
        self.check_len("params", params.len())?;
        if self.config.kind.is_schedule_free() && !self.eval_mode {
            self.switch(params, 1.0 - 1.0 / self.beta);
            self.eval_mode = true;
        }
        Ok(())
    }

    /// Schedule-free: switches `params` back to the training point `y` (the package's
    /// `train()`); a no-op when not in eval mode and for other kinds.
    pub fn to_train(&mut self, params: &mut [f32]) -> Result<(), OptimError> {
        self.check_len("params", params.len())?;
        if self.eval_mode {
            self.switch(params, 1.0 - self.beta);
            self.eval_mode = false;
        }
        Ok(())
    }

    fn switch(&self, params: &mut [f32], weight: f64) {
        if !self.started {
            return;
        }
        fused(|| {
            for g in &self.groups {
                let r = g.spec.range.clone();
                schedule_free::switch(&mut params[r.clone()], &self.bufs[0][r], weight);
            }
        });
    }

    /// A copy of everything the optimizer learned, for a checkpoint.
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            kind: self.config.kind,
            n_params: self.n_params,
            steps: self.steps,
            started: self.started,
            eval_mode: self.eval_mode,
            beta: self.beta,
            groups: self
                .groups
                .iter()
                .map(|g| GroupState {
                    range: g.spec.range.clone(),
                    weight_sum: g.weight_sum,
                    lr_max: g.lr_max,
                })
                .collect(),
            adaptive: self.config.kind.is_lr_free().then(|| {
                let a = self.adaptive;
                AdaptiveState {
                    k: a.k,
                    d: a.d,
                    d_max: a.d_max,
                    numerator: a.numerator,
                    g0_norm: a.g0_norm,
                    rbar: self.groups.iter().map(|g| g.rbar).collect(),
                    grad_sq_sum: self.groups.iter().map(|g| g.grad_sq_sum).collect(),
                }
            }),
            buffers: self
                .buffer_names()
                .into_iter()
                .zip(&self.bufs)
                .filter(|(_, b)| !b.is_empty())
                .map(|(name, b)| NamedBuffer {
                    name: name.to_string(),
                    values: b.clone(),
                })
                .collect(),
        }
    }

    /// Puts a saved state back, so that the next step continues bit for bit. The state must
    /// come from an optimizer of the same kind, parameter count, group ranges and buffers;
    /// otherwise the error names the difference and nothing changes. The hyperparameters
    /// are this optimizer's (a resumed run may change them).
    pub fn restore(&mut self, state: &OptimizerState) -> Result<(), OptimError> {
        let mismatch = |reason: String| Err(OptimError::StateMismatch { reason });
        if state.kind != self.config.kind {
            return mismatch(format!(
                "it was saved by {}, this optimizer is {}",
                state.kind.name(),
                self.config.kind.name()
            ));
        }
        if state.n_params != self.n_params {
            return mismatch(format!(
                "it has {} parameters, this optimizer {}",
                state.n_params, self.n_params
            ));
        }
        let ranges: Vec<_> = self.groups.iter().map(|g| g.spec.range.clone()).collect();
        let saved: Vec<_> = state.groups.iter().map(|g| g.range.clone()).collect();
        if ranges != saved {
            return mismatch(format!(
                "its group ranges are {saved:?}, this optimizer's {ranges:?}"
            ));
        }
        let names = self.buffer_names();
        let own: Vec<&str> = names
            .iter()
            .zip(&self.bufs)
            .filter(|(_, b)| !b.is_empty())
            .map(|(n, _)| *n)
            .collect();
        let theirs: Vec<&str> = state.buffers.iter().map(|b| b.name.as_str()).collect();
        if own != theirs {
            return mismatch(format!("it has buffers {theirs:?}, this optimizer {own:?}"));
        }
        let adaptive = match (&state.adaptive, self.config.kind.is_lr_free()) {
            (Some(a), true) => {
                let n = self.groups.len();
                if a.rbar.len() != n || a.grad_sq_sum.len() != n {
                    return mismatch(format!(
                        "it has {} and {} DoG group values, this optimizer {n} groups",
                        a.rbar.len(),
                        a.grad_sq_sum.len()
                    ));
                }
                Some(a)
            }
            (None, false) => None,
            (None, true) => return mismatch("it has no LR-free estimates".to_string()),
            (Some(_), false) => {
                return mismatch("it has LR-free estimates, this optimizer none".to_string())
            }
        };
        if let Some(b) = state
            .buffers
            .iter()
            .find(|b| b.values.len() != self.n_params)
        {
            return Err(OptimError::LengthMismatch {
                what: format!("saved buffer {}", b.name),
                expected: self.n_params,
                got: b.values.len(),
            });
        }
        let mut saved = state.buffers.iter();
        for buf in self.bufs.iter_mut().filter(|b| !b.is_empty()) {
            if let Some(s) = saved.next() {
                // copy_from_slice keeps the allocation: restoring allocates nothing.
                buf.copy_from_slice(&s.values);
            }
        }
        for (g, s) in self.groups.iter_mut().zip(&state.groups) {
            g.weight_sum = s.weight_sum;
            g.lr_max = s.lr_max;
        }
        if let Some(a) = adaptive {
            self.adaptive = Adaptive {
                k: a.k,
                d: a.d,
                d_max: a.d_max,
                numerator: a.numerator,
                g0_norm: a.g0_norm,
            };
            for (i, g) in self.groups.iter_mut().enumerate() {
                g.rbar = a.rbar[i];
                g.grad_sq_sum = a.grad_sq_sum[i];
            }
        }
        self.steps = state.steps;
        self.started = state.started;
        self.eval_mode = state.eval_mode;
        self.beta = state.beta;
        Ok(())
    }

    /// PyTorch's (or the reference's) names of the buffer slots for this kind.
    fn buffer_names(&self) -> [&'static str; NBUF] {
        match self.config.kind {
            OptimizerKind::RmsProp => ["square_avg", "grad_avg", "momentum_buffer", "unused"],
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                ["exp_avg", "exp_avg_sq", "unused", "unused"]
            }
            OptimizerKind::ScheduleFreeSgd => ["z", "unused", "unused", "unused"],
            OptimizerKind::ScheduleFreeAdamW => ["z", "exp_avg_sq", "unused", "unused"],
            OptimizerKind::Prodigy => ["exp_avg", "exp_avg_sq", "s", "p0"],
            OptimizerKind::DAdaptAdam => ["exp_avg", "exp_avg_sq", "s", "unused"],
            OptimizerKind::DAdaptSgd => ["s", "x0", "unused", "unused"],
            OptimizerKind::Dog => ["init_buffer", "unused", "unused", "unused"],
            _ => ["momentum_buffer", "unused", "unused", "unused"],
        }
    }

    fn check_len(&self, what: &str, got: usize) -> Result<(), OptimError> {
        if got == self.n_params {
            Ok(())
        } else {
            Err(OptimError::LengthMismatch {
                what: what.to_string(),
                expected: self.n_params,
                got,
            })
        }
    }
}

/// Runs `f(unit)` for every unit in `0..n`, each once, on any threads: how a caller
/// lends its threads to [`Optimizer::step_on`] (the fused engine lends its pool).
pub type Parallel<'a> = &'a (dyn Fn(usize, &(dyn Fn(usize) + Sync)) + Sync);

/// Runs `f`, compiled for FMA and AVX2 when the CPU has them.
///
/// The kernels use `mul_add` wherever PyTorch's CPU kernels fuse a multiply-add, which is
/// what makes them match PyTorch bit for bit. `mul_add` is exact on every target, but
/// without hardware FMA enabled at compile time it is a call to libm's `fmaf` and the loops
/// do not vectorise; here the closure is inlined into a function compiled with the
/// features, chosen at run time, so the common x86-64 CPU gets vector FMA loops while the
/// results stay the same everywhere.
#[inline(always)]
fn fused<F: FnOnce()>(f: F) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2") {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn run<F: FnOnce()>(f: F) {
                f()
            }
            // SAFETY: the CPU supports the features `run` is compiled for (checked above).
            unsafe { run(f) };
            return;
        }
    }
    f()
}

/// `torch.lerp` with a scalar weight, as PyTorch's CPU kernel computes it: from the
/// nearer end, so that weight 1 gives `end` exactly.
#[derive(Clone, Copy)]
struct Lerp {
    w: f32,
    small: bool,
}

impl Lerp {
    fn new(weight: f64) -> Self {
        let w = weight as f32;
        Lerp {
            w,
            small: w.abs() < 0.5,
        }
    }

    #[inline(always)]
    fn at(self, start: f32, end: f32) -> f32 {
        // PyTorch's vectorised kernel: fma(w, end - start, start) for small weights,
        // fma(w - 1, end - start, end) otherwise; its scalar tail compiles to the same.
        if self.small {
            self.w.mul_add(end - start, start)
        } else {
            (self.w - 1.0).mul_add(end - start, end)
        }
    }
}
