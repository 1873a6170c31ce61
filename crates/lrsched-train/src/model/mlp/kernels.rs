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
    // The bounds checks that make the unsafe call below sound.
    assert!(dst.len() >= extent(m, n, dst_rs, dst_cs));
    assert!(lhs.len() >= extent(m, k, lhs_rs, lhs_cs));
    assert!(rhs.len() >= extent(k, n, rhs_rs, rhs_cs));
    // SAFETY: every element the product touches is within the slices, as asserted above,
    // and dst does not alias lhs or rhs (it is a distinct &mut borrow).
    unsafe {
        matmul_raw(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_rs,
            dst_cs,
            accumulate,
            lhs.as_ptr(),
            lhs_rs,
            lhs_cs,
            rhs.as_ptr(),
            rhs_rs,
            rhs_cs,
        )
    }
}

/// How many values from its start a `rows x cols` matrix with strides `(rs, cs)` spans.
pub(super) fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// [`matmul`] on pointers: for a product that writes one column block of a batch-wide
/// matrix whose other columns other threads write meanwhile (a slice of the block's rows
/// would cover those columns too).
///
/// # Safety
/// The `m x n` elements of `dst` (strides `dst_rs`, `dst_cs`) are valid for reads and
/// writes and nothing else accesses them meanwhile; the `m x k` of `lhs` and `k x n` of
/// `rhs` are valid for reads and nothing writes them meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn matmul_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *dst.add(i * dst_rs + j * dst_cs) = 0.0;
                }
            }
        }
        return;
    }
    // Single-threaded: the callers share work among threads in fixed units, so that no
    // result depends on the thread count (gemm's own threading does not start at these
    // sizes anyway).
    gemm::gemm(
        m,
        n,
        k,
        dst,
        dst_cs as isize,
        dst_rs as isize,
        accumulate,
        lhs,
        lhs_cs as isize,
        lhs_rs as isize,
        rhs,
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

/// Takes `d` (the gradient w.r.t. a hidden layer's output) back through the layer's
/// dropout (times `mask`, when there is one) and its activation (times the derivative at
/// `h`): the forward epilogue's steps in reverse.
pub(super) fn activation_backward(act: Activation, h: &[f32], d: &mut [f32], mask: Option<&[f32]>) {
    if let Some(mask) = mask {
        for (v, k) in d.iter_mut().zip(mask) {
            *v *= *k;
        }
    }
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

/// A column block of a batch-wide, row-major matrix: `rows` rows of `cols` values,
/// `stride` apart. The unit of work that owns the block reads and writes it row by row,
/// while other units own the other columns.
#[derive(Clone, Copy)]
pub(super) struct Cols {
    ptr: *mut f32,
    stride: usize,
    pub(super) rows: usize,
    pub(super) cols: usize,
}

impl Cols {
    /// # Safety
    /// `rows` rows of `cols` values from `ptr`, `stride` apart, are valid for reads and
    /// writes while the block is used, and nothing else accesses them meanwhile.
    pub(super) unsafe fn new(ptr: *mut f32, stride: usize, rows: usize, cols: usize) -> Cols {
        Cols {
            ptr,
            stride,
            rows,
            cols,
        }
    }

    /// Row `r` of the block.
    ///
    /// # Safety
    /// `r < rows`, and no other reference to that row of the block is alive.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn row<'a>(&self, r: usize) -> &'a mut [f32] {
        debug_assert!(r < self.rows);
        std::slice::from_raw_parts_mut(self.ptr.add(r * self.stride), self.cols)
    }
}

/// BatchNorm with batch statistics on a column block (a block holds every row of its
/// columns): normalises `h` into `xhat` and updates the running statistics as PyTorch
/// does (unbiased variance for the running estimate). Each column's sums run over the rows
/// in order.
///
/// # Safety
/// `h` and `xhat` are distinct blocks of the same shape, this unit's alone.
pub(super) unsafe fn batch_norm_train(
    h: Cols,
    xhat: Cols,
    inv_std: &mut [f32],
    mean_r: &mut [f32],
    var_r: &mut [f32],
) {
    let (rows, width) = (h.rows, h.cols);
    let n = rows as f32;
    let mut mean = [0.0f32; WIDE_BLOCK_ROWS];
    let mut var = [0.0f32; WIDE_BLOCK_ROWS];
    let (mean, var) = (&mut mean[..width], &mut var[..width]);
    for r in 0..rows {
        for (m, v) in mean.iter_mut().zip(h.row(r).iter()) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    for r in 0..rows {
        for ((s, v), m) in var.iter_mut().zip(h.row(r).iter()).zip(mean.iter()) {
            let d = v - m;
            *s += d * d;
        }
    }
    for j in 0..width {
        let unbiased = if rows > 1 { var[j] / (n - 1.0) } else { var[j] };
        let v = var[j] / n;
        inv_std[j] = 1.0 / (v + BN_EPS).sqrt();
        mean_r[j] = (1.0 - BN_MOMENTUM) * mean_r[j] + BN_MOMENTUM * mean[j];
        var_r[j] = (1.0 - BN_MOMENTUM) * var_r[j] + BN_MOMENTUM * unbiased;
    }
    for r in 0..rows {
        let (hr, xr) = (h.row(r), xhat.row(r));
        for j in 0..width {
            xr[j] = (hr[j] - mean[j]) * inv_std[j];
        }
    }
}

/// Turns `d` (a column block of the gradient w.r.t. BatchNorm's output) into the gradient
/// w.r.t. its input, and writes the block's gradients of gamma and beta.
///
/// # Safety
/// `d` and `xhat` are distinct blocks of the same shape, this unit's alone.
pub(super) unsafe fn batch_norm_backward(
    d: Cols,
    xhat: Cols,
    inv_std: &[f32],
    gamma: &[f32],
    d_gamma: &mut [f32],
    d_beta: &mut [f32],
) {
    let (rows, width) = (d.rows, d.cols);
    let n = rows as f32;
    d_gamma.fill(0.0);
    d_beta.fill(0.0);
    for r in 0..rows {
        let (dr, xr) = (d.row(r), xhat.row(r));
        for j in 0..width {
            d_beta[j] += dr[j];
            d_gamma[j] += dr[j] * xr[j];
        }
    }
    // Each column's factor once, not once per row.
    let mut scale = [0.0f32; WIDE_BLOCK_ROWS];
    let scale = &mut scale[..width];
    for (s, (g, i)) in scale.iter_mut().zip(gamma.iter().zip(inv_std)) {
        *s = g * i / n;
    }
    for r in 0..rows {
        let (dr, xr) = (d.row(r), xhat.row(r));
        for j in 0..width {
            dr[j] = scale[j] * (n * dr[j] - d_beta[j] - xr[j] * d_gamma[j]);
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

/// Writes `w` (`m x n`, rows `n` apart) transposed into `wt` (`n x m`, rows `m` apart),
/// when the CPU has AVX, `m` is a multiple of 8 and `n` of 16; returns whether it did.
///
/// Why: a hidden layer's forward product reads a block of the weights as gemm's right
/// operand, which gemm repacks for every product. From the weights' own (row-major)
/// layout its packing gathers one value at a time from each of the block's 64 rows, and
/// where a row is a multiple of 1 KiB long those rows fall into a few L1 sets that the
/// gather thrashes; from the transposed block it copies whole vectors. Measured, a
/// 64-column block of 128 rows (the fastest of 300, transposition included): inputs 256
/// wide 30.0 -> 28.1 us, 512 wide 69 -> 58, 1024 wide 142 -> 117, and for batch 256,
/// 512 wide 113 -> 100; 768 and 784 wide (rows 3072 and 3136 bytes long) within 1 us
/// either way then. Since the blocks are whole-batch products of 128 columns in wide
/// layers, 784-wide inputs gain too (engine bench, step median on 2 threads, 3
/// alternating runs: 784-128-10 b64 0.275-0.292 -> 0.249-0.266 ms, 784-512-256-10 b128
/// 2.25-2.48 -> 2.17-2.24 ms, b256 4.18-4.49 -> 3.78-3.98 ms), so every width that is a
/// multiple of 16 is transposed. The product, and so every bit of its result, is the
/// same either way.
///
/// # Safety
/// `w` is valid for reads of `m x n` values, `wt` for writes of as many, and they do not
/// overlap.
pub(super) unsafe fn transpose(m: usize, n: usize, w: *const f32, wt: *mut f32) -> bool {
    #[cfg(target_arch = "x86_64")]
    if m.is_multiple_of(8) && n.is_multiple_of(16) && std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX; the sizes are as the caller promised.
        unsafe { avx::transpose(m, n, w, wt) };
        return true;
    }
    let _ = (m, n, w, wt);
    false
}

/// [`transpose`], or value by value where its fast way does not apply.
///
/// # Safety
/// As [`transpose`].
pub(super) unsafe fn transpose_any(m: usize, n: usize, w: *const f32, wt: *mut f32) {
    if !transpose(m, n, w, wt) {
        for i in 0..m {
            for k in 0..n {
                *wt.add(k * m + i) = *w.add(i * n + k);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// [`super::transpose`] in 8 x 8 tiles, each transposed in registers: 16 columns of
    /// `w` at a time (a whole cache line of each row, read once), down all its rows, so
    /// that the 16 rows of `wt` they make are written while in cache.
    ///
    /// # Safety
    /// As [`super::transpose`], with `m` a multiple of 8 and `n` of 16, on a CPU with AVX.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn transpose(m: usize, n: usize, w: *const f32, wt: *mut f32) {
        for k0 in (0..n).step_by(16) {
            for i0 in (0..m).step_by(8) {
                for half in [k0, k0 + 8] {
                    let mut r = [_mm256_setzero_ps(); 8];
                    for (i, v) in r.iter_mut().enumerate() {
                        // SAFETY: row `i0 + i` < m, columns `half..half + 8` <= n.
                        *v = unsafe { _mm256_loadu_ps(w.add((i0 + i) * n + half)) };
                    }
                    // SAFETY: the CPU has AVX, as the caller promised.
                    let r = unsafe { tile(r) };
                    for (k, v) in r.iter().enumerate() {
                        // SAFETY: row `half + k` < n of `wt`, columns `i0..i0 + 8` <= m.
                        unsafe { _mm256_storeu_ps(wt.add((half + k) * m + i0), *v) };
                    }
                }
            }
        }
    }

    /// An 8 x 8 tile transposed: `out[c][r] = rows[r][c]`.
    ///
    /// # Safety
    /// The CPU has AVX.
    #[target_feature(enable = "avx")]
    unsafe fn tile(mut r: [__m256; 8]) -> [__m256; 8] {
        let mut t = [_mm256_setzero_ps(); 8];
        for p in 0..4 {
            t[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
            t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
        }
        for q in 0..2 {
            let (a, b, c, d) = (t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
            r[4 * q] = _mm256_shuffle_ps::<0x44>(a, c);
            r[4 * q + 1] = _mm256_shuffle_ps::<0xEE>(a, c);
            r[4 * q + 2] = _mm256_shuffle_ps::<0x44>(b, d);
            r[4 * q + 3] = _mm256_shuffle_ps::<0xEE>(b, d);
        }
        for j in 0..4 {
            t[j] = _mm256_permute2f128_ps::<0x20>(r[j], r[4 + j]);
            t[4 + j] = _mm256_permute2f128_ps::<0x31>(r[j], r[4 + j]);
        }
        t
    }
}
