//! Passes over rows: the evaluation's forward pass, and the epilogue of a hidden layer's
//! product that the step's units run on their blocks too.

use super::kernels::{activate, gelu, matmul, sigmoid};
use super::sparse::SparsePtrs;
use super::*;

/// The evaluation's forward pass of `rows` rows of `x` through the workspace (BatchNorm
/// with its running statistics, no dropout). Each layer is one product for the rows;
/// with `sparse` (the rows' nonzeros, listed), the first layer's is over those alone.
pub(super) fn forward(
    net: View<'_>,
    ws: &mut Workspace,
    x: &[f32],
    rows: usize,
    running: &[f32],
    sparse: Option<SparsePtrs>,
) {
    let count = net.layers.len();
    for (l, layer) in net.layers.iter().enumerate() {
        let (fi, fo) = (layer.fan_in, layer.fan_out);
        let (before, rest) = ws.saved.split_at_mut(l);
        let saved = &mut rest[0];
        let input: &[f32] = if l == 0 {
            &x[..rows * fi]
        } else {
            &before[l - 1].a[..rows * fi]
        };
        let bias = &net.params[layer.b..layer.b + fo];
        let w = &net.params[layer.w..layer.b];
        // out = input (rows x fi) * W^T (fi x fo): W is fo x fi row-major (or stored
        // transposed). Hidden layers write the product into `h`, where the epilogue adds
        // the bias in place.
        let out = if l + 1 == count {
            &mut saved.z[..rows * fo]
        } else {
            &mut saved.h[..rows * fo]
        };
        if stored_transposed(net.layers, l) {
            // Stored transposed block by block (see `Mlp::params`): a product per block.
            for c in 0..block_count(fo) {
                let (j0, m) = super::blocks::block_cols(c, fo);
                let block = &w[j0 * fi..(j0 + m) * fi];
                // SAFETY: `input` holds `rows x fi` values (listed in `sparse`), `block`
                // the block's `fi x m` weights; `out` holds `rows` rows of `fo >= j0 + m`
                // values and is this pass's alone.
                unsafe {
                    super::blocks::transposed_product(
                        rows,
                        fi,
                        input.as_ptr(),
                        block.as_ptr(),
                        m,
                        out[j0..].as_mut_ptr(),
                        fo,
                        sparse,
                    )
                };
            }
        } else {
            matmul(rows, fo, fi, out, fo, 1, false, input, fi, 1, w, 1, fi);
        }
        if l + 1 == count {
            // The logits, z + b, kept in `z`, where the loss reads them.
            for row in out.chunks_exact_mut(fo) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
            break;
        }
        let h = &mut saved.h[..rows * fo];
        let a = &mut saved.a[..rows * fo];
        let Some((g, beta, run)) = layer.bn else {
            for (hr, ar) in h.chunks_exact_mut(fo).zip(a.chunks_exact_mut(fo)) {
                bias_activate(net.spec.activation, hr, bias, ar, None);
            }
            continue;
        };
        let (gamma, beta) = (&net.params[g..g + fo], &net.params[beta..beta + fo]);
        let (mean_r, var_r) = running[run..run + 2 * fo].split_at(fo);
        let inv_std = &mut saved.inv_std[..fo];
        for j in 0..fo {
            inv_std[j] = 1.0 / (var_r[j] + BN_EPS).sqrt();
        }
        for hr in h.chunks_exact_mut(fo) {
            for j in 0..fo {
                let xhat = (hr[j] + bias[j] - mean_r[j]) * inv_std[j];
                hr[j] = gamma[j] * xhat + beta[j];
            }
        }
        activate(net.spec.activation, h, a);
    }
}

/// The epilogue of a hidden layer's product without BatchNorm, on one row (or one row's
/// part): `h += b` (kept for the backward pass), `a = act(h)`, times the dropout mask when
/// there is one. Fused, each value is read once while in L1.
pub(super) fn bias_activate(
    act: Activation,
    h: &mut [f32],
    bias: &[f32],
    a: &mut [f32],
    mask: Option<&[f32]>,
) {
    // Generic over the activation, so each is its own loop (ReLU's vectorises).
    fn pass(
        f: impl Fn(f32) -> f32,
        h: &mut [f32],
        bias: &[f32],
        a: &mut [f32],
        mask: Option<&[f32]>,
    ) {
        for ((hv, b), av) in h.iter_mut().zip(bias).zip(a.iter_mut()) {
            *hv += b;
            *av = f(*hv);
        }
        if let Some(mask) = mask {
            for (v, m) in a.iter_mut().zip(mask) {
                *v *= *m;
            }
        }
    }
    match act {
        Activation::Relu => pass(|h| h.max(0.0), h, bias, a, mask),
        Activation::Tanh => pass(f32::tanh, h, bias, a, mask),
        Activation::Sigmoid => pass(sigmoid, h, bias, a, mask),
        Activation::Gelu => pass(gelu, h, bias, a, mask),
    }
}
