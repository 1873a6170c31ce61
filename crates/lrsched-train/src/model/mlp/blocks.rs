//! The units of work a step shares out to the threads: column blocks of a hidden layer's
//! forward and backward pass, row slices of the output layer and its loss, row blocks of
//! the weight gradients, each writing its own part of the batch-wide buffers; and the
//! subnormal flush every thread runs them under.

use super::kernels::{
    activate, activation_backward, batch_norm_backward, batch_norm_train, loss_scale, loss_sum,
    matmul, matmul_raw, transpose, Cols,
};
use super::passes::bias_activate;
use super::sparse::SparsePtrs;
use super::*;

/// A pointer that crosses threads: the units of a job write disjoint parts through it.
pub(super) struct SendPtr<T>(pub(super) *mut T);
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
impl<T> std::fmt::Debug for SendPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:p}", self.0)
    }
}
// SAFETY: each use says why its units' accesses are disjoint.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the field).
    pub(super) fn get(self) -> *mut T {
        self.0
    }
}

/// Where a step's batch-wide buffers of one layer are (null where the layer has none):
/// the units write disjoint blocks of them through these.
#[derive(Debug, Clone, Copy)]
pub(super) struct LayerPtrs {
    /// Hidden layers: the product plus the bias, then BatchNorm's output (pre-activation).
    pub(super) h: SendPtr<f32>,
    /// Hidden layers: the activation times the dropout mask (the next layer's input).
    pub(super) a: SendPtr<f32>,
    pub(super) mask: SendPtr<f32>,
    pub(super) xhat: SendPtr<f32>,
    pub(super) inv_std: SendPtr<f32>,
    /// The last layer: the logits.
    pub(super) z: SendPtr<f32>,
    /// d(loss)/d(linear output).
    pub(super) delta: SendPtr<f32>,
}

/// Columns `j0..j0 + m` of a block `c`, for a layer `fo` wide.
pub(super) fn block_cols(c: usize, fo: usize) -> (usize, usize) {
    let width = block_width(fo);
    let j0 = c * width;
    (j0, width.min(fo - j0))
}

/// Forward unit: columns of block `c` of hidden layer `l` for the whole batch of `rows`
/// rows: one product `h[:, cols] = input * W[cols]^T` (the block's weights packed once per
/// step), then its epilogue while the block is in cache: the bias, BatchNorm with the
/// batch's statistics of these columns (updating their running statistics), the
/// activation and the dropout mask.
///
/// # Safety
/// `p` holds this step's buffers (reserved for `rows` rows); the layer's input (`x` or
/// the previous layer's `a`) is complete and read-only; nothing else touches this block's
/// columns of `h`, `a`, `xhat`, `inv_std` or of the running statistics meanwhile, nor the
/// block's weights' place in `wt` (scratch laid out as the parameters from the second
/// layer's weights on, holding at least the hidden layers' weights after the first). With `sparse` (the batch's nonzero inputs, listed), the
/// first layer's product is over those alone.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn forward_block(
    net: View<'_>,
    p: &[LayerPtrs],
    l: usize,
    c: usize,
    rows: usize,
    x: &[f32],
    running: SendPtr<f32>,
    wt: SendPtr<f32>,
    sparse: Option<SparsePtrs>,
    dropout: bool,
) {
    let _ftz = FlushDenormals::new();
    let layer = &net.layers[l];
    let (fi, fo) = (layer.fan_in, layer.fan_out);
    let (j0, m) = block_cols(c, fo);
    let input = layer_input(p, l, x);
    let w = &net.params[layer.w + j0 * fi..layer.w + (j0 + m) * fi];
    let lp = &p[l];
    let out = lp.h.get().add(j0);
    // The block's weights transposed: as stored (the first layer's, which alone may take
    // the sparse product), or else into `wt` where that is fast (see `transpose`): the
    // same product on a layout gemm packs by whole vectors.
    if stored_transposed(net.layers, l) {
        transposed_product(rows, fi, input, w.as_ptr(), m, out, fo, sparse);
    } else {
        // `wt` starts at the second layer's weights (`l` is at least 1 here).
        let wt = wt.get().add(layer.w - net.layers[1].w + j0 * fi);
        if transpose(m, fi, w.as_ptr(), wt) {
            transposed_product(rows, fi, input, wt, m, out, fo, None);
        } else {
            matmul_raw(
                rows,
                m,
                fi,
                out,
                fo,
                1,
                false,
                input,
                fi,
                1,
                w.as_ptr(),
                1,
                fi,
            );
        }
    }
    let bias = &net.params[layer.b + j0..layer.b + j0 + m];
    let h = Cols::new(lp.h.get().add(j0), fo, rows, m);
    let a = Cols::new(lp.a.get().add(j0), fo, rows, m);
    let act = net.spec.activation;
    let mask = |r: usize| {
        dropout.then(|| std::slice::from_raw_parts(lp.mask.get().add(r * fo + j0), m) as &[f32])
    };
    let Some((g, beta, run)) = layer.bn else {
        for r in 0..rows {
            bias_activate(act, h.row(r), bias, a.row(r), mask(r));
        }
        return;
    };
    for r in 0..rows {
        for (v, b) in h.row(r).iter_mut().zip(bias) {
            *v += b;
        }
    }
    let xhat = Cols::new(lp.xhat.get().add(j0), fo, rows, m);
    let inv_std = std::slice::from_raw_parts_mut(lp.inv_std.get().add(j0), m);
    let mean_r = std::slice::from_raw_parts_mut(running.get().add(run + j0), m);
    let var_r = std::slice::from_raw_parts_mut(running.get().add(run + fo + j0), m);
    batch_norm_train(h, xhat, inv_std, mean_r, var_r);
    let gamma = &net.params[g + j0..g + j0 + m];
    let beta = &net.params[beta + j0..beta + j0 + m];
    for r in 0..rows {
        let (hr, xr, ar) = (h.row(r), xhat.row(r), a.row(r));
        for j in 0..m {
            hr[j] = gamma[j] * xr[j] + beta[j];
        }
        activate(act, hr, ar);
        if let Some(mask) = mask(r) {
            for (v, k) in ar.iter_mut().zip(mask) {
                *v *= *k;
            }
        }
    }
}

/// `out[r, 0..m]` (rows `os` apart) `= input[r] (fi values) * wt` for rows `0..rows`, where
/// `wt` holds a block of `m` columns' weights transposed (`fi x m`): over the listed nonzero
/// inputs alone with `sparse`, else one gemm product.
///
/// # Safety
/// `input` holds `rows x fi` values (and `sparse`, when given, lists them); `wt` holds
/// `fi x m` values; `out` is valid for writes of `rows` rows of `m` values, `os` apart, that
/// nothing else touches meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn transposed_product(
    rows: usize,
    fi: usize,
    input: *const f32,
    wt: *const f32,
    m: usize,
    out: *mut f32,
    os: usize,
    sparse: Option<SparsePtrs>,
) {
    match sparse {
        Some(sparse) => sparse.forward(rows, wt, m, out, os),
        None => matmul_raw(rows, m, fi, out, os, 1, false, input, fi, 1, wt, m, 1),
    }
}

/// Output unit: the slice's rows through the last layer (logits `z = input W^T + b`),
/// their summed loss (returned) and the logits' delta, scaled by the whole batch's
/// [`loss_scale`]. With `rows_back` (the last hidden layer has no BatchNorm, so its
/// backward step is row by row), also that layer's delta for these rows:
/// `d = delta W`, times the dropout mask, times the activation's derivative.
///
/// # Safety
/// `p` holds this step's buffers; the last layer's input is complete and read-only;
/// nothing else touches the slice's rows of the logits and of the deltas written.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn output_slice(
    net: View<'_>,
    p: &[LayerPtrs],
    start: usize,
    rows: usize,
    x: &[f32],
    targets: BatchTargets<'_>,
    batch_rows: usize,
    rows_back: bool,
    dropout: bool,
) -> f32 {
    let _ftz = FlushDenormals::new();
    let last = net.layers.len() - 1;
    let layer = &net.layers[last];
    let (fi, fo) = (layer.fan_in, layer.fan_out);
    let input = std::slice::from_raw_parts(layer_input(p, last, x).add(start * fi), rows * fi);
    let z = std::slice::from_raw_parts_mut(p[last].z.get().add(start * fo), rows * fo);
    let w = &net.params[layer.w..layer.b];
    matmul(rows, fo, fi, z, fo, 1, false, input, fi, 1, w, 1, fi);
    let bias = &net.params[layer.b..layer.b + fo];
    for row in z.chunks_exact_mut(fo) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
    let delta = std::slice::from_raw_parts_mut(p[last].delta.get().add(start * fo), rows * fo);
    // Scaled by the whole batch: the gradient of the batch's mean loss.
    let scale = loss_scale(net.spec.loss, targets, batch_rows, fo);
    let part = targets.rows(start, rows, fo);
    let loss = loss_sum(net.spec.loss, z, part, fo, Some(delta), scale);
    if rows_back {
        let below = &p[last - 1];
        let d = std::slice::from_raw_parts_mut(below.delta.get().add(start * fi), rows * fi);
        // d input (rows x fi) = delta (rows x fo) * W (fo x fi)
        matmul(rows, fi, fo, d, fi, 1, false, delta, fo, 1, w, fi, 1);
        let mask = dropout
            .then(|| std::slice::from_raw_parts(below.mask.get().add(start * fi), rows * fi));
        let h = std::slice::from_raw_parts(below.h.get().add(start * fi), rows * fi);
        activation_backward(net.spec.activation, h, d, mask);
    }
    loss
}

/// Backward unit: columns of block `c` of layer `l - 1`'s delta (`l >= 1`) for the whole
/// batch: `d[:, cols] = delta_l * W_l[:, cols]`, then back through that layer's dropout,
/// activation and BatchNorm (whose gamma and beta gradients of these columns it writes,
/// returning their absolute sum). When `l - 1` is the first layer, also that layer's weight
/// block `c` ([`weight_block`], with `sparse`) while its delta is in cache, its sum in
/// `sums[c]`.
///
/// # Safety
/// `p` holds this step's buffers; `delta_l` is complete and read-only; nothing else
/// touches this block's columns of layer `l - 1`'s delta, nor the gradients written.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn backward_block(
    net: View<'_>,
    p: &[LayerPtrs],
    l: usize,
    c: usize,
    rows: usize,
    x: &[f32],
    grads: SendPtr<f32>,
    sums: SendPtr<f32>,
    sparse: Option<SparsePtrs>,
    dropout: bool,
) -> f32 {
    let _ftz = FlushDenormals::new();
    let layer = &net.layers[l];
    let (fi, fo) = (layer.fan_in, layer.fan_out);
    let (j0, m) = block_cols(c, fi);
    let below = &p[l - 1];
    // d[:, cols] (rows x m) = delta_l (rows x fo) * W_l[:, cols] (fo x m)
    let w = net.params[layer.w..layer.b].as_ptr().add(j0);
    let delta = p[l].delta.get() as *const f32;
    matmul_raw(
        rows,
        m,
        fo,
        below.delta.get().add(j0),
        fi,
        1,
        false,
        delta,
        fo,
        1,
        w,
        fi,
        1,
    );
    let d = Cols::new(below.delta.get().add(j0), fi, rows, m);
    let h = Cols::new(below.h.get().add(j0), fi, rows, m);
    for r in 0..rows {
        let mask =
            dropout.then(|| std::slice::from_raw_parts(below.mask.get().add(r * fi + j0), m));
        activation_backward(net.spec.activation, h.row(r), d.row(r), mask);
    }
    let mut sum = 0.0;
    if let Some((g, beta, _)) = net.layers[l - 1].bn {
        let xhat = Cols::new(below.xhat.get().add(j0), fi, rows, m);
        let inv_std = std::slice::from_raw_parts(below.inv_std.get().add(j0), m);
        let d_gamma = std::slice::from_raw_parts_mut(grads.get().add(g + j0), m);
        let d_beta = std::slice::from_raw_parts_mut(grads.get().add(beta + j0), m);
        let gamma = &net.params[g + j0..g + j0 + m];
        batch_norm_backward(d, xhat, inv_std, gamma, d_gamma, d_beta);
        sum = abs_sum(d_gamma) + abs_sum(d_beta);
    }
    if l == 1 {
        *sums.get().add(c) = weight_block(net, p, 0, c, rows, x, grads, sparse);
    }
    sum
}

/// Weight unit: rows of block `c` of layer `l`'s weight gradient, one product over the
/// whole batch, `dW[cols] = delta[:, cols]^T * input`, and the same columns' bias
/// gradient (the deltas summed over the rows in order). Returns the absolute sum of what
/// it wrote (the divergence check's part). The gradient is in the order the weights are
/// stored (see [`super::Mlp::params`]: the first hidden layer's block in x out). With
/// `sparse` (the batch's nonzero inputs, listed), the first layer's is made over those
/// alone.
///
/// # Safety
/// `p` holds this step's buffers; layer `l`'s delta columns of the block and its input are
/// complete and read-only; nothing else touches these gradients meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn weight_block(
    net: View<'_>,
    p: &[LayerPtrs],
    l: usize,
    c: usize,
    rows: usize,
    x: &[f32],
    grads: SendPtr<f32>,
    sparse: Option<SparsePtrs>,
) -> f32 {
    let _ftz = FlushDenormals::new();
    let layer = &net.layers[l];
    let (fi, fo) = (layer.fan_in, layer.fan_out);
    let (j0, m) = block_cols(c, fo);
    let input = layer_input(p, l, x);
    let dst = std::slice::from_raw_parts_mut(grads.get().add(layer.w + j0 * fi), m * fi);
    let delta = p[l].delta.get().add(j0) as *const f32;
    // The gradient in the weights' order: transposed (in x out) where they are stored so.
    let (dst_rs, dst_cs) = if stored_transposed(net.layers, l) {
        (1, m)
    } else {
        (fi, 1)
    };
    match sparse {
        Some(sparse) if l == 0 => sparse.weight_grad(delta, fo, m, dst.as_mut_ptr()),
        // (m x fi) = delta[:, cols]^T (m x rows) * input (rows x fi)
        _ => matmul_raw(
            m,
            fi,
            rows,
            dst.as_mut_ptr(),
            dst_rs,
            dst_cs,
            false,
            delta,
            1,
            fo,
            input,
            fi,
            1,
        ),
    }
    let db = std::slice::from_raw_parts_mut(grads.get().add(layer.b + j0), m);
    db.fill(0.0);
    let d = Cols::new(p[l].delta.get().add(j0), fo, rows, m);
    for r in 0..rows {
        for (s, v) in db.iter_mut().zip(d.row(r).iter()) {
            *s += v;
        }
    }
    abs_sum(dst) + abs_sum(db)
}

/// The sum of absolute values, in 16 lanes (vectorised): finite exactly when every value
/// is and the sum does not overflow.
pub(crate) fn abs_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v.abs();
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().map(|v| v.abs()).sum::<f32>()
}

/// Flushes subnormal floats to zero on this thread while alive (x86's FTZ and DAZ bits),
/// restoring the previous mode on drop.
///
/// Training drives softmax probabilities, gradients and momentum buffers into the
/// subnormal range, where each operation costs a hundred cycles: measured on MNIST, epochs
/// slowed from 0.40 s to 0.58 s as training went on. PyTorch's CPU kernels avoid the same
/// slowdown. The flush changes results only in the subnormal range (below 1.2e-38).
pub(crate) struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushDenormals {
    #[allow(deprecated)] // _mm_getcsr/_mm_setcsr: std's only stable access to MXCSR.
    pub(crate) fn new() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: reading and writing MXCSR's FTZ (bit 15) and DAZ (bit 6) bits only
            // changes how subnormal results and inputs are treated on this thread.
            let saved = unsafe { std::arch::x86_64::_mm_getcsr() };
            unsafe { std::arch::x86_64::_mm_setcsr(saved | 0x8040) };
            FlushDenormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushDenormals {}
    }
}

impl Drop for FlushDenormals {
    #[allow(deprecated)]
    fn drop(&mut self) {
        // SAFETY: restores the mode read in `new`.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.saved)
        };
    }
}

/// What layer `l` reads: the batch's inputs for the first layer, the layer below's
/// activations for the others.
fn layer_input(p: &[LayerPtrs], l: usize, x: &[f32]) -> *const f32 {
    if l == 0 {
        x.as_ptr()
    } else {
        p[l - 1].a.get() as *const f32
    }
}
