//! The units of work a step shares out to the threads: blocks of the weight transpose,
//! of the first layer's product and of the weight gradients, each writing its own part
//! of a shared buffer; and the subnormal flush every thread runs them under.

use super::kernels::matmul;
use super::*;

/// A pointer that crosses threads: the units of a job write disjoint parts through it.
pub(super) struct SendPtr<T>(pub(super) *mut T);
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: each use says why its units' accesses are disjoint.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the field).
    pub(super) fn get(self) -> *mut T {
        self.0
    }
}

/// The units of [`transpose_block`]: blocks of [`BLOCK_ROWS`] weight rows of each layer
/// after the first.
pub(super) fn transpose_units(layers: &[Layer]) -> usize {
    layers[1..]
        .iter()
        .map(|l| l.fan_out.div_ceil(BLOCK_ROWS))
        .sum()
}

/// Transpose unit `unit`: rows `j0..j0 + BLOCK_ROWS` of one later layer's weights W (fan_out
/// x fan_in) written as columns of its W^T (fan_in x fan_out) in `out`. In tiles of 16
/// inputs, so the lines written stay in L1 while the block's rows are read.
///
/// # Safety
/// `out` is [`Mlp::transposed`] for `layers`, and nothing else touches this unit's columns
/// meanwhile.
pub(super) unsafe fn transpose_block(
    layers: &[Layer],
    params: &[f32],
    out: SendPtr<f32>,
    unit: usize,
) {
    let mut block = unit;
    for (l, layer) in layers.iter().enumerate().skip(1) {
        let (fi, fo) = (layer.fan_in, layer.fan_out);
        let here = fo.div_ceil(BLOCK_ROWS);
        if block >= here {
            block -= here;
            continue;
        }
        let j0 = block * BLOCK_ROWS;
        let j1 = (j0 + BLOCK_ROWS).min(fo);
        let w = &params[layer.w..layer.b];
        let at = transposed_at(layers, l);
        debug_assert!(at + fi * fo <= transposed_at(layers, layers.len()));
        for i0 in (0..fi).step_by(16) {
            let i1 = (i0 + 16).min(fi);
            for j in j0..j1 {
                for (i, &v) in (i0..i1).zip(&w[j * fi + i0..j * fi + i1]) {
                    // Within this layer's fi x fo (i < fi, j < fo), in this unit's columns.
                    *out.get().add(at + i * fo + j) = v;
                }
            }
        }
        return;
    }
}

/// Block `b` (columns `b * BLOCK_ROWS..`) of the first layer's product for the whole
/// batch of `rows` rows of `x`: `z[:, cols] = x * W[cols]^T`, one product, so the block's
/// weights are packed once per step (the bias is added by the slices' [`forward`], fused
/// with the activation).
///
/// # Safety
/// `z` points to the batch's first linear output, rows x fan_out, of which nothing else
/// touches this block's columns meanwhile.
pub(super) unsafe fn first_linear_block(
    net: View<'_>,
    b: usize,
    z: SendPtr<f32>,
    rows: usize,
    x: &[f32],
) {
    let _ftz = FlushDenormals::new();
    let layer = &net.layers[0];
    let (fi, fo) = (layer.fan_in, layer.fan_out);
    let j0 = b * BLOCK_ROWS;
    let m = BLOCK_ROWS.min(fo - j0);
    if rows == 0 {
        return;
    }
    let w = &net.params[layer.w + j0 * fi..layer.w + (j0 + m) * fi];
    // This block's columns of z (row stride fan_out).
    let z = std::slice::from_raw_parts_mut(z.get().add(j0), (rows - 1) * fo + m);
    matmul(rows, m, fi, z, fo, 1, false, x, fi, 1, w, 1, fi);
}

/// Block `block` (rows `block * BLOCK_ROWS..`) of layer `l`'s weight gradient, from the
/// slices' deltas: the sum over the slices, in order, of `g^T (rows x block) * input`; block 0
/// also writes the layer's bias gradient and BatchNorm's gamma and beta gradients.
/// Returns the sum of the absolute values it wrote (the divergence check's part).
///
/// # Safety
/// `grads` points to the model's gradient buffer, of which nothing else reads or writes
/// these parts meanwhile.
pub(super) unsafe fn weight_block(
    net: View<'_>,
    l: usize,
    block: usize,
    grads: SendPtr<f32>,
    slices: &[Workspace],
    x: BatchInput<'_>,
) -> f32 {
    // Each thread sets its own flags: the same arithmetic on every thread.
    let _ftz = FlushDenormals::new();
    let layer = &net.layers[l];
    let (fi, fo) = (layer.fan_in, layer.fan_out);
    let j0 = block * BLOCK_ROWS;
    let m = BLOCK_ROWS.min(fo - j0);
    let dst = std::slice::from_raw_parts_mut(grads.get().add(layer.w + j0 * fi), m * fi);
    for (s, ws) in slices.iter().enumerate() {
        let rows = ws.rows;
        let g = &ws.delta[l][..rows * fo];
        let input: &[f32] = if l == 0 {
            x.rows_of(ws, fi)
        } else {
            &ws.saved[l - 1].a[..rows * fi]
        };
        matmul(
            m,
            fi,
            rows,
            dst,
            fi,
            1,
            s > 0,
            &g[j0..],
            1,
            fo,
            input,
            fi,
            1,
        );
    }
    let mut sum = abs_sum(dst);
    if block != 0 {
        return sum;
    }
    // Biases: the deltas summed over the batch's rows in order, as one pass would.
    let db = std::slice::from_raw_parts_mut(grads.get().add(layer.b), fo);
    db.fill(0.0);
    for ws in slices {
        for row in ws.delta[l][..ws.rows * fo].chunks_exact(fo) {
            for j in 0..fo {
                db[j] += row[j];
            }
        }
    }
    if let Some((gamma, _, _)) = layer.bn {
        // Only a single, whole-batch slice has BatchNorm: d gamma then d beta.
        let norm = std::slice::from_raw_parts_mut(grads.get().add(gamma), 2 * fo);
        norm.copy_from_slice(&slices[0].d_norm[l][..2 * fo]);
        sum += abs_sum(norm);
    }
    sum + abs_sum(db)
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
