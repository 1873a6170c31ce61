//! The arithmetic the passes are made of: the GEMM call, activations and their
//! derivatives, BatchNorm, the losses and the accuracy count.

use super::*;

/// `dst (m x n) = [dst +] lhs (m x k) * rhs (k x n)` with arbitrary strides (row, col).
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    // The bounds checks that make the unsafe call below sound.
    assert!(dst.len() >= last(m, n, dst_rs, dst_cs));
    assert!(lhs.len() >= last(m, k, lhs_rs, lhs_cs));
    assert!(rhs.len() >= last(k, n, rhs_rs, rhs_cs));
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.iter_mut().for_each(|v| *v = 0.0);
        }
        return;
    }
    // Single-threaded: the callers share work among threads in fixed units, so that no
    // result depends on the thread count (gemm's own threading does not start at these
    // sizes anyway).
    // SAFETY: every index gemm touches is within the slices, as asserted above, and dst
    // does not alias lhs or rhs (it is a distinct &mut borrow).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

pub(super) fn activate(act: Activation, h: &[f32], a: &mut [f32]) {
    match act {
        Activation::Relu => a.iter_mut().zip(h).for_each(|(a, &h)| *a = h.max(0.0)),
        Activation::Tanh => a.iter_mut().zip(h).for_each(|(a, &h)| *a = h.tanh()),
        Activation::Sigmoid => a.iter_mut().zip(h).for_each(|(a, &h)| *a = sigmoid(h)),
        Activation::Gelu => a.iter_mut().zip(h).for_each(|(a, &h)| *a = gelu(h)),
    }
}

pub(super) fn gelu(h: f32) -> f32 {
    0.5 * h * (1.0 + libm::erff(h * std::f32::consts::FRAC_1_SQRT_2))
}

/// Multiplies `d` (the gradient w.r.t. the activation's output) by its derivative at `h`.
pub(super) fn activation_backward(act: Activation, h: &[f32], d: &mut [f32]) {
    match act {
        // A select, not a conditional store: this form vectorises (the store compiled to
        // lane-by-lane extracts), with the same result (NaN keeps `d`, as before).
        Activation::Relu => d
            .iter_mut()
            .zip(h)
            .for_each(|(d, &h)| *d = if h <= 0.0 { 0.0 } else { *d }),
        Activation::Tanh => d.iter_mut().zip(h).for_each(|(d, &h)| {
            let t = h.tanh();
            *d *= 1.0 - t * t
        }),
        Activation::Sigmoid => d.iter_mut().zip(h).for_each(|(d, &h)| {
            let s = sigmoid(h);
            *d *= s * (1.0 - s)
        }),
        Activation::Gelu => d.iter_mut().zip(h).for_each(|(d, &h)| {
            let cdf = 0.5 * (1.0 + libm::erff(h * std::f32::consts::FRAC_1_SQRT_2));
            let pdf = (-0.5 * h * h).exp() * 0.398_942_3;
            *d *= cdf + h * pdf
        }),
    }
}

pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Normalises `z` in place with batch statistics into `xhat` and updates the running
/// statistics as PyTorch does (unbiased variance for the running estimate).
pub(super) fn batch_norm_train(
    z: &[f32],
    rows: usize,
    width: usize,
    xhat: &mut [f32],
    inv_std: &mut [f32],
    mean_r: &mut [f32],
    var_r: &mut [f32],
) {
    let n = rows as f32;
    for j in 0..width {
        let mut mean = 0.0f32;
        for r in 0..rows {
            mean += z[r * width + j];
        }
        mean /= n;
        let mut var = 0.0f32;
        for r in 0..rows {
            let d = z[r * width + j] - mean;
            var += d * d;
        }
        let unbiased = if rows > 1 { var / (n - 1.0) } else { var };
        var /= n;
        let is = 1.0 / (var + BN_EPS).sqrt();
        inv_std[j] = is;
        for r in 0..rows {
            xhat[r * width + j] = (z[r * width + j] - mean) * is;
        }
        mean_r[j] = (1.0 - BN_MOMENTUM) * mean_r[j] + BN_MOMENTUM * mean;
        var_r[j] = (1.0 - BN_MOMENTUM) * var_r[j] + BN_MOMENTUM * unbiased;
    }
}

/// Turns `d` (gradient w.r.t. BatchNorm's output) into the gradient w.r.t. its input, and
/// writes the gradients of gamma and beta.
#[allow(clippy::too_many_arguments)]
pub(super) fn batch_norm_backward(
    d: &mut [f32],
    xhat: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    rows: usize,
    width: usize,
    d_gamma: &mut [f32],
    d_beta: &mut [f32],
) {
    let n = rows as f32;
    for j in 0..width {
        let (mut sum_d, mut sum_dx) = (0.0f32, 0.0f32);
        for r in 0..rows {
            sum_d += d[r * width + j];
            sum_dx += d[r * width + j] * xhat[r * width + j];
        }
        d_gamma[j] = sum_dx;
        d_beta[j] = sum_d;
        let k = gamma[j] * inv_std[j] / n;
        for r in 0..rows {
            let i = r * width + j;
            d[i] = k * (n * d[i] - sum_d - xhat[i] * sum_dx);
        }
    }
}

/// What the summed loss of a batch of `rows` rows is multiplied by for its mean: per row
/// for (binary) cross-entropy on classes, per element for MSE.
pub(super) fn loss_scale(
    loss: Loss,
    targets: BatchTargets<'_>,
    rows: usize,
    outputs: usize,
) -> f32 {
    match (loss, targets) {
        (Loss::CrossEntropy | Loss::BinaryCrossEntropy, BatchTargets::Classes(_)) => {
            1.0 / rows.max(1) as f32
        }
        _ => 1.0 / (rows * outputs).max(1) as f32,
    }
}

/// The summed loss of the rows of `logits`; with `grad`, also d(loss)/d(logits) times
/// `scale` (the batch's [`loss_scale`], so a slice of a batch gets the gradient of the
/// batch's mean loss).
pub(super) fn loss_sum(
    loss: Loss,
    logits: &[f32],
    targets: BatchTargets<'_>,
    outputs: usize,
    mut grad: Option<&mut [f32]>,
    scale: f32,
) -> f32 {
    let inv_rows = scale;
    let mut total = 0.0f32;
    match (loss, targets) {
        (Loss::CrossEntropy, BatchTargets::Classes(labels)) => {
            for (r, row) in logits.chunks_exact(outputs).enumerate() {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
                let lse = max + sum.ln();
                let y = labels[r] as usize;
                total += lse - row[y.min(outputs - 1)];
                if let Some(g) = grad.as_deref_mut() {
                    let gr = &mut g[r * outputs..(r + 1) * outputs];
                    for (j, (gv, &v)) in gr.iter_mut().zip(row).enumerate() {
                        let p = (v - lse).exp();
                        *gv = (p - if j == y { 1.0 } else { 0.0 }) * inv_rows;
                    }
                }
            }
        }
        (Loss::BinaryCrossEntropy, BatchTargets::Classes(labels)) => {
            for (r, &z) in logits.iter().enumerate() {
                let y = labels[r].min(1) as f32;
                total += z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
                if let Some(g) = grad.as_deref_mut() {
                    g[r] = (sigmoid(z) - y) * inv_rows;
                }
            }
        }
        (_, BatchTargets::Values(values)) => {
            let inv = scale;
            for (i, (&z, &y)) in logits.iter().zip(values).enumerate() {
                let d = z - y;
                total += d * d;
                if let Some(g) = grad.as_deref_mut() {
                    g[i] = 2.0 * d * inv;
                }
            }
            return total;
        }
        (_, BatchTargets::Classes(labels)) => {
            // MSE on class indices: a regression head fed labels; treat them as values.
            let inv = scale;
            for (i, &z) in logits.iter().enumerate() {
                let d = z - labels[i / outputs] as f32;
                total += d * d;
                if let Some(g) = grad.as_deref_mut() {
                    g[i] = 2.0 * d * inv;
                }
            }
            return total;
        }
    }
    total
}

pub(super) fn count_correct(loss: Loss, logits: &[f32], labels: &[u32], outputs: usize) -> usize {
    match loss {
        Loss::BinaryCrossEntropy => logits
            .iter()
            .zip(labels)
            .filter(|(&z, &y)| (z > 0.0) == (y == 1))
            .count(),
        _ => logits
            .chunks_exact(outputs)
            .zip(labels)
            .filter(|(row, &y)| {
                let mut best = 0;
                for j in 1..row.len() {
                    if row[j] > row[best] {
                        best = j;
                    }
                }
                best == y as usize
            })
            .count(),
    }
}
