//! The fused dense fast path: an MLP whose forward and backward passes are written out
//! by hand on one GEMM kernel (the `gemm` crate candle itself uses), with every buffer
//! allocated once.
//!
//! Why not candle's ops: a step of a 784-128-10 MLP is about 30 small tensor ops, and at
//! this size the per-op overhead (allocation, dispatch, shape checks) costs more than the
//! arithmetic. Here a training step allocates nothing. The candle engine
//! ([`super::CandleMlp`]) builds the same network from candle's autodiff and the tests
//! check this module's gradients against it.

use super::spec::{Activation, Init, Loss, ModelSpec};
use crate::data::Rng;

/// Targets of one batch.
#[derive(Debug, Clone, Copy)]
pub enum BatchTargets<'a> {
    /// Class indices (cross-entropy, or 0/1 for binary cross-entropy).
    Classes(&'a [u32]),
    /// Real values (MSE), `outputs` per row.
    Values(&'a [f32]),
}

/// Where one linear layer's parameters live in the flat parameter buffer.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub(crate) fan_in: usize,
    pub(crate) fan_out: usize,
    pub(crate) w: usize,
    pub(crate) b: usize,
    /// `(gamma offset, beta offset, running-stats offset)` for a hidden layer with BatchNorm.
    pub(crate) bn: Option<(usize, usize, usize)>,
}

/// The flat layout of a spec's parameters: per layer its weights (out x in, row-major as
/// PyTorch's), biases, then BatchNorm's gamma and beta. Returns the layers, the number of
/// parameters and the number of running-statistics values.
pub(crate) fn layout(spec: &ModelSpec) -> (Vec<Layer>, usize, usize) {
    let mut layers = Vec::new();
    let (mut n, mut r) = (0, 0);
    let count = spec.layers();
    for l in 0..count {
        let (fan_in, fan_out) = (spec.sizes[l], spec.sizes[l + 1]);
        let w = n;
        let b = w + fan_in * fan_out;
        n = b + fan_out;
        let bn = (spec.batch_norm && l + 1 < count).then(|| {
            let g = n;
            n += 2 * fan_out;
            let run = r;
            r += 2 * fan_out;
            (g, g + fan_out, run)
        });
        layers.push(Layer {
            fan_in,
            fan_out,
            w,
            b,
            bn,
        });
    }
    (layers, n, r)
}

/// The dropout scale of each element, drawn in row-major order: 0 or `1/(1-p)`. Both
/// engines draw masks with this, so they drop the same units.
pub(crate) fn draw_mask(rng: &mut Rng, p: f32, mask: &mut [f32]) {
    let keep = 1.0 - p;
    let scale = 1.0 / keep;
    for m in mask.iter_mut() {
        *m = if (rng.next_f64() as f32) < keep {
            scale
        } else {
            0.0
        };
    }
}

/// Per-layer activations kept from the forward pass for the backward pass.
#[derive(Debug, Clone, Default)]
struct Saved {
    /// Linear output `x W^T + b`.
    z: Vec<f32>,
    /// BatchNorm's normalised input (empty without BatchNorm).
    xhat: Vec<f32>,
    /// BatchNorm's `1 / sqrt(var + eps)` per feature.
    inv_std: Vec<f32>,
    /// Pre-activation (BatchNorm output, or `z`).
    h: Vec<f32>,
    /// Post-activation, post-dropout output: the next layer's input.
    a: Vec<f32>,
    /// Dropout scale per element: 0 or `1/(1-p)`.
    mask: Vec<f32>,
}

/// BatchNorm's defaults, as PyTorch's `nn.BatchNorm1d`.
pub(crate) const BN_EPS: f32 = 1e-5;
pub(crate) const BN_MOMENTUM: f32 = 0.1;

/// The most batch rows [`Mlp::new`] reserves buffers for before seeing a batch (65536:
/// more than any sensible mini-batch, a few hundred MB at most for wide layers).
pub const MAX_RESERVED_ROWS: usize = 1 << 16;

/// Rows per product when evaluating.
const EVAL_CHUNK: usize = 512;

/// The dropout stream's seed, apart from the initialisation's.
pub(crate) fn dropout_seed(seed: u64) -> u64 {
    seed ^ 0xD20_0D20
}

/// An MLP with parameters and gradients in flat buffers, for the optimizers.
///
/// ```
/// use lrsched_train::data::Task;
/// use lrsched_train::model::{Activation, BatchTargets, Init, Mlp, ModelSpec};
/// let spec = ModelSpec::parse("8", 2, &Task::BinaryClassification, Activation::Relu, Init::Torch).unwrap();
/// let mut mlp = Mlp::new(spec, 7, 4);
/// let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// let loss = mlp.train_step(&x, BatchTargets::Classes(&[0, 1, 1, 0]), 4);
/// assert!(loss.is_finite());
/// assert_eq!(mlp.grads().len(), mlp.params().len());
/// ```
#[derive(Debug, Clone)]
pub struct Mlp {
    spec: ModelSpec,
    layers: Vec<Layer>,
    params: Vec<f32>,
    grads: Vec<f32>,
    /// BatchNorm running mean and variance (buffers, not parameters).
    running: Vec<f32>,
    saved: Vec<Saved>,
    /// Gradient scratch: the gradient flowing into the current layer's output, and the
    /// one being computed for its input.
    d_out: Vec<f32>,
    d_in: Vec<f32>,
    capacity: usize,
    dropout_rng: Rng,
    threads: usize,
}

impl Mlp {
    /// A freshly initialised network for batches of up to `capacity` rows. At most
    /// [`MAX_RESERVED_ROWS`] rows are reserved here, whatever `capacity` says: a larger
    /// batch grows the buffers when it comes (by its real size), so a huge number asked
    /// for costs no memory up front.
    pub fn new(spec: ModelSpec, seed: u64, capacity: usize) -> Mlp {
        let (layers, n, r) = layout(&spec);
        let count = layers.len();
        let mut running = vec![0.0; r];
        for layer in &layers {
            if let Some((_, _, run)) = layer.bn {
                running[run + layer.fan_out..run + 2 * layer.fan_out].fill(1.0);
            }
        }
        let mut mlp = Mlp {
            params: vec![0.0; n],
            grads: vec![0.0; n],
            running,
            saved: vec![Saved::default(); count],
            d_out: Vec::new(),
            d_in: Vec::new(),
            capacity: 0,
            layers,
            dropout_rng: Rng::new(dropout_seed(seed)),
            threads: 1,
            spec,
        };
        mlp.init(seed);
        mlp.reserve(capacity.clamp(1, MAX_RESERVED_ROWS));
        mlp
    }

    /// Runs matrix products on `threads` threads (rayon's global pool); 1 runs inline.
    pub fn with_threads(mut self, threads: usize) -> Mlp {
        self.threads = threads.max(1);
        self
    }

    fn init(&mut self, seed: u64) {
        let mut rng = Rng::new(seed);
        for layer in &self.layers {
            let (fi, fo) = (layer.fan_in as f64, layer.fan_out as f64);
            let w = &mut self.params[layer.w..layer.b];
            let uniform = |rng: &mut Rng, bound: f64| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32;
            match self.spec.init {
                Init::Torch => {
                    // kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
                    let bound = 1.0 / fi.sqrt();
                    w.iter_mut().for_each(|p| *p = uniform(&mut rng, bound));
                    self.params[layer.b..layer.b + layer.fan_out]
                        .iter_mut()
                        .for_each(|p| *p = uniform(&mut rng, bound));
                }
                Init::HeUniform => {
                    let bound = (6.0 / fi).sqrt();
                    w.iter_mut().for_each(|p| *p = uniform(&mut rng, bound));
                }
                Init::XavierUniform => {
                    let bound = (6.0 / (fi + fo)).sqrt();
                    w.iter_mut().for_each(|p| *p = uniform(&mut rng, bound));
                }
                Init::HeNormal => {
                    let std = (2.0 / fi).sqrt();
                    w.iter_mut().for_each(|p| *p = (rng.normal() * std) as f32);
                }
                Init::XavierNormal => {
                    let std = (2.0 / (fi + fo)).sqrt();
                    w.iter_mut().for_each(|p| *p = (rng.normal() * std) as f32);
                }
            }
            if let Some((g, beta, _)) = layer.bn {
                self.params[g..g + layer.fan_out].fill(1.0);
                self.params[beta..beta + layer.fan_out].fill(0.0);
            }
        }
    }

    /// Makes room for batches of `capacity` rows (allocates only when it grows).
    pub fn reserve(&mut self, capacity: usize) {
        if capacity <= self.capacity {
            return;
        }
        self.capacity = capacity;
        let mut widest = 0;
        for (layer, saved) in self.layers.iter().zip(&mut self.saved) {
            let n = capacity * layer.fan_out;
            widest = widest.max(layer.fan_out).max(layer.fan_in);
            saved.z.resize(n, 0.0);
            saved.h.resize(n, 0.0);
            saved.a.resize(n, 0.0);
            saved.mask.resize(n, 0.0);
            if layer.bn.is_some() {
                saved.xhat.resize(n, 0.0);
                saved.inv_std.resize(layer.fan_out, 0.0);
            }
        }
        self.d_out.resize(capacity * widest, 0.0);
        self.d_in.resize(capacity * widest, 0.0);
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// All trainable parameters, layer by layer: weights (out x in, row-major as
    /// PyTorch's), biases, then BatchNorm's gamma and beta.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The parameters, for the optimizer to update.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Parameters and gradients together, as an optimizer step needs them.
    pub fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.params, &mut self.grads)
    }

    /// Gradients of the last [`Mlp::train_step`], laid out as [`Mlp::params`].
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }

    /// BatchNorm running statistics (saved with checkpoints).
    pub fn buffers(&self) -> &[f32] {
        &self.running
    }

    /// Replaces parameters and buffers (from a checkpoint); `false` if the sizes differ.
    pub fn load(&mut self, params: &[f32], buffers: &[f32]) -> bool {
        if params.len() != self.params.len() || buffers.len() != self.running.len() {
            return false;
        }
        self.params.copy_from_slice(params);
        self.running.copy_from_slice(buffers);
        true
    }

    /// The dropout generator's state (saved with checkpoints).
    pub fn rng_state(&self) -> u64 {
        self.dropout_rng.state()
    }

    /// Restores the dropout generator.
    pub fn set_rng_state(&mut self, state: u64) {
        self.dropout_rng = Rng::from_state(state);
    }

    /// Index ranges of weight matrices and of everything else (biases, BatchNorm), for
    /// optimizer groups that exempt biases and norms from weight decay.
    pub fn weight_and_other_ranges(
        &self,
    ) -> (Vec<std::ops::Range<usize>>, Vec<std::ops::Range<usize>>) {
        let mut weights = Vec::new();
        let mut other = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            weights.push(layer.w..layer.b);
            let end = self
                .layers
                .get(i + 1)
                .map_or(self.params.len(), |next| next.w);
            other.push(layer.b..end);
        }
        (weights, other)
    }

    /// Forward and backward on one batch of `rows` rows (`x` is rows x inputs): fills
    /// [`Mlp::grads`] and returns the mean loss. Training mode: BatchNorm uses batch
    /// statistics and updates its running ones; dropout is on.
    pub fn train_step(&mut self, x: &[f32], targets: BatchTargets<'_>, rows: usize) -> f32 {
        let _ftz = FlushDenormals::new();
        self.reserve(rows);
        self.forward(x, rows, true);
        let last = self.layers.len() - 1;
        let outputs = self.layers[last].fan_out;
        let loss = loss_and_grad(
            self.spec.loss,
            &self.saved[last].z[..rows * outputs],
            targets,
            outputs,
            Some(&mut self.d_out[..rows * outputs]),
        );
        self.backward(x, rows);
        loss
    }

    /// Mean loss and accuracy (`None` for regression) over a whole set, in eval mode,
    /// in chunks of the reserved capacity.
    pub fn evaluate(
        &mut self,
        x: &[f32],
        targets: BatchTargets<'_>,
        rows: usize,
    ) -> (f64, Option<f64>) {
        let _ftz = FlushDenormals::new();
        let inputs = self.layers[0].fan_in;
        let last = self.layers.len() - 1;
        let outputs = self.layers[last].fan_out;
        // Evaluation needs no gradients, so it can take larger chunks than the training
        // batch: fewer, fuller products (buffers grow once, on the first evaluation).
        self.reserve(EVAL_CHUNK.min(rows));
        let chunk = self.capacity.max(1);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let mut start = 0;
        while start < rows {
            let n = chunk.min(rows - start);
            self.forward(&x[start * inputs..(start + n) * inputs], n, false);
            let logits = &self.saved[last].z[..n * outputs];
            let part = match targets {
                BatchTargets::Classes(c) => BatchTargets::Classes(&c[start..start + n]),
                BatchTargets::Values(v) => {
                    BatchTargets::Values(&v[start * outputs..(start + n) * outputs])
                }
            };
            loss_sum +=
                loss_and_grad(self.spec.loss, logits, part, outputs, None) as f64 * n as f64;
            if let BatchTargets::Classes(c) = part {
                correct += count_correct(self.spec.loss, logits, c, outputs);
            }
            start += n;
        }
        let accuracy = matches!(targets, BatchTargets::Classes(_))
            .then(|| correct as f64 / rows.max(1) as f64);
        (loss_sum / rows.max(1) as f64, accuracy)
    }

    fn parallelism(&self) -> usize {
        self.threads
    }

    fn forward(&mut self, x: &[f32], rows: usize, train: bool) {
        self.reserve(rows);
        let par = self.parallelism();
        let count = self.layers.len();
        for l in 0..count {
            let layer = self.layers[l].clone();
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let (before, rest) = self.saved.split_at_mut(l);
            let saved = &mut rest[0];
            let input: &[f32] = if l == 0 {
                &x[..rows * fi]
            } else {
                &before[l - 1].a[..rows * fi]
            };
            let z = &mut saved.z[..rows * fo];
            let bias = &self.params[layer.b..layer.b + fo];
            for row in z.chunks_exact_mut(fo) {
                row.copy_from_slice(bias);
            }
            // z += input (rows x fi) * W^T (fi x fo); W is fo x fi row-major.
            matmul(
                rows,
                fo,
                fi,
                z,
                fo,
                1,
                true,
                input,
                fi,
                1,
                &self.params[layer.w..layer.b],
                1,
                fi,
                par,
            );
            if l + 1 == count {
                break;
            }
            let h = &mut saved.h[..rows * fo];
            match layer.bn {
                Some((g, beta, run)) => {
                    let (gamma, beta) = (&self.params[g..g + fo], &self.params[beta..beta + fo]);
                    let (mean_r, var_r) = self.running[run..run + 2 * fo].split_at_mut(fo);
                    let xhat = &mut saved.xhat[..rows * fo];
                    let inv_std = &mut saved.inv_std[..fo];
                    if train {
                        batch_norm_train(z, rows, fo, xhat, inv_std, mean_r, var_r);
                    } else {
                        for j in 0..fo {
                            inv_std[j] = 1.0 / (var_r[j] + BN_EPS).sqrt();
                        }
                        for (zr, xr) in z.chunks_exact(fo).zip(xhat.chunks_exact_mut(fo)) {
                            for j in 0..fo {
                                xr[j] = (zr[j] - mean_r[j]) * inv_std[j];
                            }
                        }
                    }
                    for (xr, hr) in xhat.chunks_exact(fo).zip(h.chunks_exact_mut(fo)) {
                        for j in 0..fo {
                            hr[j] = gamma[j] * xr[j] + beta[j];
                        }
                    }
                }
                None => h.copy_from_slice(z),
            }
            let a = &mut saved.a[..rows * fo];
            activate(self.spec.activation, h, a);
            if train && self.spec.dropout > 0.0 {
                let keep = 1.0 - self.spec.dropout;
                let scale = 1.0 / keep;
                let mask = &mut saved.mask[..rows * fo];
                for (m, v) in mask.iter_mut().zip(a.iter_mut()) {
                    *m = if (self.dropout_rng.next_f64() as f32) < keep {
                        scale
                    } else {
                        0.0
                    };
                    *v *= *m;
                }
            }
        }
    }

    fn backward(&mut self, x: &[f32], rows: usize) {
        let par = self.parallelism();
        let count = self.layers.len();
        for l in (0..count).rev() {
            let layer = self.layers[l].clone();
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let input: &[f32] = if l == 0 {
                &x[..rows * fi]
            } else {
                &self.saved[l - 1].a[..rows * fi]
            };
            let g = &self.d_out[..rows * fo];
            // dW (fo x fi) = g^T (fo x rows) * input (rows x fi)
            matmul(
                fo,
                fi,
                rows,
                &mut self.grads[layer.w..layer.b],
                fi,
                1,
                false,
                g,
                1,
                fo,
                input,
                fi,
                1,
                par,
            );
            let db = &mut self.grads[layer.b..layer.b + fo];
            db.fill(0.0);
            for row in g.chunks_exact(fo) {
                for j in 0..fo {
                    db[j] += row[j];
                }
            }
            if l == 0 {
                break;
            }
            // d input (rows x fi) = g (rows x fo) * W (fo x fi)
            let d_in = &mut self.d_in[..rows * fi];
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
                &self.params[layer.w..layer.b],
                fi,
                1,
                par,
            );
            // Back through the previous layer's dropout, activation and BatchNorm.
            let prev = self.layers[l - 1].clone();
            let saved = &self.saved[l - 1];
            let n = rows * fi;
            if self.spec.dropout > 0.0 {
                for (d, m) in d_in.iter_mut().zip(&saved.mask[..n]) {
                    *d *= *m;
                }
            }
            activation_backward(self.spec.activation, &saved.h[..n], d_in);
            if let Some((gm, bt, _)) = prev.bn {
                let (head, tail) = self.grads.split_at_mut(bt);
                let d_gamma = &mut head[gm..gm + fi];
                let d_beta = &mut tail[..fi];
                batch_norm_backward(
                    d_in,
                    &saved.xhat[..n],
                    &saved.inv_std[..fi],
                    &self.params[gm..gm + fi],
                    rows,
                    fi,
                    d_gamma,
                    d_beta,
                );
            }
            std::mem::swap(&mut self.d_out, &mut self.d_in);
        }
    }
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

/// `dst (m x n) = [dst +] lhs (m x k) * rhs (k x n)` with arbitrary strides (row, col).
#[allow(clippy::too_many_arguments)]
fn matmul(
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
    threads: usize,
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
    // Threads of rayon's pool run halves of products: each sets its own flags.
    let _ftz = FlushDenormals::new();
    if k == 0 {
        if !accumulate {
            dst.iter_mut().for_each(|v| *v = 0.0);
        }
        return;
    }
    // gemm's own threading does not start for matrices this small; two halves of the rows
    // on two threads pay only for large products (measured: at MNIST's 64 x 784 x 128 the
    // split made an epoch 0.49 s instead of 0.38 s on this 2-core machine). Rows of a row-major `dst`
    // are contiguous, so the halves are disjoint slices; each element is computed exactly
    // as it would be whole, so results do not depend on the thread count.
    if threads > 1 && dst_cs == 1 && dst_rs == n && m >= 32 && m * n * k >= 1 << 24 {
        let half = m / 2;
        let (top, bottom) = dst.split_at_mut(half * dst_rs);
        let lhs_bottom = &lhs[half * lhs_rs..];
        let t = threads / 2;
        rayon::join(
            || {
                matmul(
                    half,
                    n,
                    k,
                    top,
                    dst_rs,
                    dst_cs,
                    accumulate,
                    lhs,
                    lhs_rs,
                    lhs_cs,
                    rhs,
                    rhs_rs,
                    rhs_cs,
                    t.max(1),
                )
            },
            || {
                matmul(
                    m - half,
                    n,
                    k,
                    bottom,
                    dst_rs,
                    dst_cs,
                    accumulate,
                    lhs_bottom,
                    lhs_rs,
                    lhs_cs,
                    rhs,
                    rhs_rs,
                    rhs_cs,
                    (threads - t).max(1),
                )
            },
        );
        return;
    }
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

fn activate(act: Activation, h: &[f32], a: &mut [f32]) {
    match act {
        Activation::Relu => a.iter_mut().zip(h).for_each(|(a, &h)| *a = h.max(0.0)),
        Activation::Tanh => a.iter_mut().zip(h).for_each(|(a, &h)| *a = h.tanh()),
        Activation::Sigmoid => a.iter_mut().zip(h).for_each(|(a, &h)| *a = sigmoid(h)),
        Activation::Gelu => a.iter_mut().zip(h).for_each(|(a, &h)| {
            *a = 0.5 * h * (1.0 + libm::erff(h * std::f32::consts::FRAC_1_SQRT_2))
        }),
    }
}

/// Multiplies `d` (the gradient w.r.t. the activation's output) by its derivative at `h`.
fn activation_backward(act: Activation, h: &[f32], d: &mut [f32]) {
    match act {
        Activation::Relu => d.iter_mut().zip(h).for_each(|(d, &h)| {
            if h <= 0.0 {
                *d = 0.0
            }
        }),
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

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Normalises `z` in place with batch statistics into `xhat` and updates the running
/// statistics as PyTorch does (unbiased variance for the running estimate).
fn batch_norm_train(
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
fn batch_norm_backward(
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

/// Mean loss over the batch; with `grad`, also d(mean loss)/d(logits).
fn loss_and_grad(
    loss: Loss,
    logits: &[f32],
    targets: BatchTargets<'_>,
    outputs: usize,
    mut grad: Option<&mut [f32]>,
) -> f32 {
    let rows = logits.len() / outputs.max(1);
    let inv_rows = 1.0 / rows.max(1) as f32;
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
            let inv = 1.0 / logits.len().max(1) as f32;
            for (i, (&z, &y)) in logits.iter().zip(values).enumerate() {
                let d = z - y;
                total += d * d;
                if let Some(g) = grad.as_deref_mut() {
                    g[i] = 2.0 * d * inv;
                }
            }
            return total * inv;
        }
        (_, BatchTargets::Classes(labels)) => {
            // MSE on class indices: a regression head fed labels; treat them as values.
            let inv = 1.0 / logits.len().max(1) as f32;
            for (i, &z) in logits.iter().enumerate() {
                let d = z - labels[i / outputs] as f32;
                total += d * d;
                if let Some(g) = grad.as_deref_mut() {
                    g[i] = 2.0 * d * inv;
                }
            }
            return total * inv;
        }
    }
    total * inv_rows
}

fn count_correct(loss: Loss, logits: &[f32], labels: &[u32], outputs: usize) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;

    fn spec(hidden: &str, inputs: usize, task: &Task, act: Activation, bn: bool) -> ModelSpec {
        ModelSpec::parse(hidden, inputs, task, act, Init::Torch)
            .unwrap()
            .with_batch_norm(bn)
    }

    #[test]
    fn a_huge_capacity_reserves_a_bounded_amount() {
        // usize::MAX once panicked ("capacity overflow"), 10^12 aborted on the allocation.
        let task = Task::BinaryClassification;
        for capacity in [usize::MAX, 1 << 40] {
            let mut mlp = Mlp::new(spec("8", 2, &task, Activation::Relu, false), 7, capacity);
            assert_eq!(mlp.capacity, MAX_RESERVED_ROWS);
            let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
            assert!(mlp
                .train_step(&x, BatchTargets::Classes(&[0, 1, 1, 0]), 4)
                .is_finite());
        }
    }

    /// Central finite differences in f64 of the loss, against the analytic gradient.
    fn check_gradients(mut mlp: Mlp, x: &[f32], targets: BatchTargets<'_>, rows: usize) {
        // The same dropout masks for every evaluation.
        let rng = mlp.rng_state();
        mlp.train_step(x, targets, rows);
        let analytic = mlp.grads().to_vec();
        let running = mlp.buffers().to_vec();
        let params = mlp.params().to_vec();
        let loss_at = |p: &[f32]| {
            let mut m = mlp.clone();
            m.load(p, &running);
            m.set_rng_state(rng);
            m.train_step(x, targets, rows) as f64
        };
        let h = 1e-2f32;
        for i in (0..params.len()).step_by((params.len() / 40).max(1)) {
            let mut p = params.clone();
            p[i] = params[i] + h;
            let up = loss_at(&p);
            p[i] = params[i] - h;
            let down = loss_at(&p);
            let numeric = (up - down) / (2.0 * h as f64);
            let a = analytic[i] as f64;
            assert!(
                (numeric - a).abs() <= 2e-3 * (1.0 + a.abs().max(numeric.abs())) + 1e-4,
                "param {i}: numeric {numeric} analytic {a}"
            );
        }
    }

    fn data(rows: usize, inputs: usize) -> Vec<f32> {
        let mut rng = Rng::new(3);
        (0..rows * inputs).map(|_| rng.normal() as f32).collect()
    }

    #[test]
    fn two_threads_give_the_same_bits_as_one() {
        let task = Task::Classification { classes: 10 };
        // Large enough that the products are split in halves across threads.
        let x = data(256, 784);
        let labels: Vec<u32> = (0..256).map(|i| i % 10).collect();
        let make = |threads| {
            let mut m = Mlp::new(spec("512", 784, &task, Activation::Relu, false), 4, 256)
                .with_threads(threads);
            let loss = m.train_step(&x, BatchTargets::Classes(&labels), 256);
            (loss.to_bits(), m.grads().to_vec())
        };
        assert_eq!(make(1), make(2));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let task = Task::Classification { classes: 3 };
        let x = data(6, 5);
        let labels = [0u32, 1, 2, 1, 0, 2];
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Gelu] {
            for bn in [false, true] {
                let mlp = Mlp::new(spec("4-3", 5, &task, act, bn), 11, 6);
                check_gradients(mlp, &x, BatchTargets::Classes(&labels), 6);
            }
        }
        let binary = Task::BinaryClassification;
        let mlp = Mlp::new(spec("4", 5, &binary, Activation::Tanh, true), 5, 6);
        check_gradients(mlp, &x, BatchTargets::Classes(&[0, 1, 1, 0, 1, 0]), 6);
        let mlp = Mlp::new(
            spec("4", 5, &Task::Regression, Activation::Tanh, false),
            5,
            6,
        );
        check_gradients(
            mlp,
            &x,
            BatchTargets::Values(&[0.5, -1.0, 2.0, 0.0, 1.0, 0.3]),
            6,
        );
    }
}
