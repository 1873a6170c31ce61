//! One slice's passes: its forward pass, loss and backward pass down to the deltas.

use super::kernels::{
    activate, activation_backward, batch_norm_backward, batch_norm_train, gelu, matmul, sigmoid,
};
use super::*;

/// One slice's forward pass, loss and backward pass down to the deltas (no weight
/// gradients: [`all_grads`] sums those over the slices).
pub(super) fn slice_pass(
    net: View<'_>,
    ws: &mut Workspace,
    input: BatchInput<'_>,
    first_z: &[f32],
    targets: BatchTargets<'_>,
    stats: Stats<'_>,
    batch_rows: usize,
) {
    // Each thread of the pool sets its own flags: the same arithmetic on every thread.
    let _ftz = FlushDenormals::new();
    let (start, rows) = (ws.start, ws.rows);
    let inputs = net.layers[0].fan_in;
    let last = net.layers.len() - 1;
    let outputs = net.layers[last].fan_out;
    // The slice's rows were fetched in phase 0, and its first linear output made there.
    let own = std::mem::take(&mut ws.x);
    let xs: &[f32] = match input {
        BatchInput::Rows(x) => &x[start * inputs..(start + rows) * inputs],
        BatchInput::Gather(_) => &own,
    };
    forward(
        net,
        ws,
        xs,
        rows,
        stats,
        net.spec.dropout > 0.0,
        Some(first_z),
    );
    ws.x = own;
    let part = targets.rows(start, rows, outputs);
    // Scaled by the whole batch: the gradient of the batch's mean loss.
    let scale = loss_scale(net.spec.loss, targets, batch_rows, outputs);
    let (saved, delta) = (&ws.saved[last], &mut ws.delta[last]);
    ws.loss = loss_sum(
        net.spec.loss,
        &saved.z[..rows * outputs],
        part,
        outputs,
        Some(&mut delta[..rows * outputs]),
        scale,
    );
    backward(net, ws, rows);
}

/// The forward pass of `rows` rows of `x` through the workspace; `dropout` applies the
/// masks already drawn into it.
/// `first_z`: the first layer's linear output of these rows, already made (phase 0 of a
/// training step, for the whole batch); read in place.
pub(super) fn forward(
    net: View<'_>,
    ws: &mut Workspace,
    x: &[f32],
    rows: usize,
    mut stats: Stats<'_>,
    dropout: bool,
    first_z: Option<&[f32]>,
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
        let z_own = &mut saved.z[..rows * fo];
        // The product alone (no bias: gemm then writes z without reading it); the bias is
        // added in the pass that follows, fused with the activation.
        let done = first_z.filter(|_| l == 0);
        if done.is_none() {
            // z = input (rows x fi) * W^T (fi x fo): W is fo x fi row-major; after the
            // first layer its transpose is at hand (`Mlp::transposed`), row-major.
            let (w, w_rs, w_cs) = if l > 0 {
                (net.weights_t(l), fo, 1)
            } else {
                (&net.params[layer.w..layer.b], 1, fi)
            };
            matmul(
                rows, fo, fi, z_own, fo, 1, false, input, fi, 1, w, w_rs, w_cs,
            );
        }
        if l + 1 == count {
            // The logits, z + b, kept in `z`, where the loss reads them.
            if let Some(done) = done {
                z_own.copy_from_slice(done);
            }
            for row in z_own.chunks_exact_mut(fo) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
            break;
        }
        let z: &[f32] = done.unwrap_or(z_own);
        let h = &mut saved.h[..rows * fo];
        let a = &mut saved.a[..rows * fo];
        let mask = dropout.then(|| &saved.mask[..rows * fo]);
        let Some((g, beta, run)) = layer.bn else {
            // One pass: h = z + b, a = act(h), times the dropout mask.
            bias_activate(net.spec.activation, z, bias, h, a, mask);
            continue;
        };
        for (hr, zr) in h.chunks_exact_mut(fo).zip(z.chunks_exact(fo)) {
            for j in 0..fo {
                hr[j] = zr[j] + bias[j];
            }
        }
        let (gamma, beta) = (&net.params[g..g + fo], &net.params[beta..beta + fo]);
        let xhat = &mut saved.xhat[..rows * fo];
        let inv_std = &mut saved.inv_std[..fo];
        match &mut stats {
            Stats::Batch(running) => {
                let (mean_r, var_r) = running[run..run + 2 * fo].split_at_mut(fo);
                batch_norm_train(h, rows, fo, xhat, inv_std, mean_r, var_r);
            }
            Stats::Running(running) => {
                let (mean_r, var_r) = running[run..run + 2 * fo].split_at(fo);
                for j in 0..fo {
                    inv_std[j] = 1.0 / (var_r[j] + BN_EPS).sqrt();
                }
                for (zr, xr) in h.chunks_exact(fo).zip(xhat.chunks_exact_mut(fo)) {
                    for j in 0..fo {
                        xr[j] = (zr[j] - mean_r[j]) * inv_std[j];
                    }
                }
            }
        }
        for (xr, hr) in xhat.chunks_exact(fo).zip(h.chunks_exact_mut(fo)) {
            for j in 0..fo {
                hr[j] = gamma[j] * xr[j] + beta[j];
            }
        }
        activate(net.spec.activation, h, a);
        if let Some(mask) = mask {
            for (v, m) in a.iter_mut().zip(mask) {
                *v *= *m;
            }
        }
    }
}

/// The epilogue of a hidden layer's product without BatchNorm, one pass over the rows:
/// `h = z + b` (kept for the backward pass), `a = act(h)`, times the dropout mask when
/// there is one. The same operations as separate passes would do, in the same order, so
/// the same bits; fused, each value is read once while in L1 (before, the bias was
/// copied into `z` for the product to read back, and `h` copied from `z`).
pub(super) fn bias_activate(
    act: Activation,
    z: &[f32],
    bias: &[f32],
    h: &mut [f32],
    a: &mut [f32],
    mask: Option<&[f32]>,
) {
    // Generic over the activation, so each is its own loop (ReLU's vectorises).
    fn pass(
        f: impl Fn(f32) -> f32,
        z: &[f32],
        bias: &[f32],
        h: &mut [f32],
        a: &mut [f32],
        mask: Option<&[f32]>,
    ) {
        let fo = bias.len();
        let rows = z.chunks_exact(fo).zip(h.chunks_exact_mut(fo));
        for (r, ((zr, hr), ar)) in rows.zip(a.chunks_exact_mut(fo)).enumerate() {
            for j in 0..fo {
                hr[j] = zr[j] + bias[j];
                ar[j] = f(hr[j]);
            }
            if let Some(mask) = mask {
                for (v, m) in ar.iter_mut().zip(&mask[r * fo..(r + 1) * fo]) {
                    *v *= *m;
                }
            }
        }
    }
    match act {
        Activation::Relu => pass(|h| h.max(0.0), z, bias, h, a, mask),
        Activation::Tanh => pass(f32::tanh, z, bias, h, a, mask),
        Activation::Sigmoid => pass(sigmoid, z, bias, h, a, mask),
        Activation::Gelu => pass(gelu, z, bias, h, a, mask),
    }
}

/// The backward pass from the last layer's delta (already in the workspace) down to the
/// first layer's: each layer's delta is the gradient of its linear output.
pub(super) fn backward(net: View<'_>, ws: &mut Workspace, rows: usize) {
    for l in (1..net.layers.len()).rev() {
        let layer = &net.layers[l];
        let (fi, fo) = (layer.fan_in, layer.fan_out);
        let (lower, upper) = ws.delta.split_at_mut(l);
        let g = &upper[0][..rows * fo];
        // d input (rows x fi) = g (rows x fo) * W (fo x fi)
        let d_in = &mut lower[l - 1][..rows * fi];
        matmul(
            rows,
            fi,
            fo,
            d_in,
            fi,
            1,
            false,
            g,
            fo,
            1,
            &net.params[layer.w..layer.b],
            fi,
            1,
        );
        // Back through the previous layer's dropout, activation and BatchNorm.
        let prev = &net.layers[l - 1];
        let saved = &ws.saved[l - 1];
        let n = rows * fi;
        if net.spec.dropout > 0.0 {
            for (d, m) in d_in.iter_mut().zip(&saved.mask[..n]) {
                *d *= *m;
            }
        }
        activation_backward(net.spec.activation, &saved.h[..n], d_in);
        if let Some((gm, _, _)) = prev.bn {
            let (d_gamma, d_beta) = ws.d_norm[l - 1].split_at_mut(fi);
            batch_norm_backward(
                d_in,
                &saved.xhat[..n],
                &saved.inv_std[..fi],
                &net.params[gm..gm + fi],
                rows,
                fi,
                d_gamma,
                d_beta,
            );
        }
    }
}
