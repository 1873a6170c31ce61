//! The fused dense fast path: an MLP whose forward and backward passes are written out
//! by hand on one GEMM kernel (the `gemm` crate candle itself uses), with every buffer
//! allocated once.
//!
//! Why not candle's ops: a step of a 784-128-10 MLP is about 30 small tensor ops, and at
//! this size the per-op overhead (allocation, dispatch, shape checks) costs more than the
//! arithmetic. Here a training step allocates nothing. The candle engine
//! ([`super::CandleMlp`]) builds the same network from candle's autodiff and the tests
//! check this module's gradients against it.

mod blocks;
mod kernels;
mod passes;
#[cfg(test)]
mod tests;

use super::pool::Pool;
use super::spec::{Activation, Init, Loss, ModelSpec};
use crate::data::Rng;
pub(crate) use blocks::{abs_sum, FlushDenormals};
use blocks::{first_linear_block, transpose_block, transpose_units, weight_block, SendPtr};
use kernels::{count_correct, loss_scale, loss_sum};
use passes::{forward, slice_pass};
use std::sync::Arc;

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

/// Rows per product when evaluating: a fixed size, so the chunks (and the order their
/// losses are summed in) do not depend on the thread count.
const EVAL_CHUNK: usize = 512;

/// A training batch is cut into `ceil(rows / SLICE_ROWS)` slices, at most [`MAX_SLICES`].
/// The count depends on the batch alone, never on the thread count: threads only decide
/// who computes which slice, so the results are the same bits for any thread count.
/// 32 rows keep each product large enough for the GEMM kernel to run near its peak; at
/// most 4 slices, because each slice adds a pass over the weight gradients (measured, 784-
/// 512-256-10 at batch 256: 1.60 s per epoch for the steps with 4 slices, 1.82 s with 8).
const SLICE_ROWS: usize = 32;
const MAX_SLICES: usize = 4;

/// Units of a layer handled as one unit of work: rows of a weight gradient, and (first
/// layer) columns of the linear output; fixed, like the slices. 64, not 32: the first
/// layer's output in 32-column blocks repacked each slice's input once per block
/// (measured, 784-128-10 at batch 64 on 1 thread: 0.383 s per epoch with 32, 0.348 with
/// 64; on 2 threads 0.237 and 0.200); the bits are the same for either.
const BLOCK_ROWS: usize = 64;

/// One slice's buffers: its rows' activations, and the deltas its backward pass leaves
/// for the weight gradients. Evaluation reuses them, one per thread.
#[derive(Debug, Clone, Default)]
struct Workspace {
    saved: Vec<Saved>,
    /// Per layer, d(loss)/d(linear output) of the slice's rows.
    delta: Vec<Vec<f32>>,
    /// Per layer with BatchNorm, d gamma then d beta (only a whole-batch slice has them).
    d_norm: Vec<Vec<f32>>,
    capacity: usize,
    /// Where the slice's rows start in the batch, and how many there are this step.
    start: usize,
    rows: usize,
    /// Summed (not mean) loss of the slice's rows.
    loss: f32,
    /// The slice's input rows, when its thread gathered them ([`BatchInput::Gather`]).
    x: Vec<f32>,
}

impl Workspace {
    /// Room for `capacity` rows; allocates only when it grows.
    fn reserve(&mut self, layers: &[Layer], capacity: usize) {
        if self.saved.len() != layers.len() {
            self.saved = vec![Saved::default(); layers.len()];
            self.delta = vec![Vec::new(); layers.len()];
            self.d_norm = vec![Vec::new(); layers.len()];
            self.capacity = 0;
        }
        if capacity <= self.capacity {
            return;
        }
        self.capacity = capacity;
        for (l, layer) in layers.iter().enumerate() {
            let (n, fo) = (capacity * layer.fan_out, layer.fan_out);
            let saved = &mut self.saved[l];
            saved.z.resize(n, 0.0);
            saved.h.resize(n, 0.0);
            saved.a.resize(n, 0.0);
            saved.mask.resize(n, 0.0);
            if layer.bn.is_some() {
                saved.xhat.resize(n, 0.0);
                saved.inv_std.resize(fo, 0.0);
                self.d_norm[l].resize(2 * fo, 0.0);
            }
            self.delta[l].resize(n, 0.0);
        }
    }
}

/// An evaluation chunk's summed loss and correct count.
type EvalPart = (f64, usize);

/// Where a training step's input rows come from.
#[derive(Clone, Copy)]
pub enum BatchInput<'a> {
    /// The batch's rows in one buffer, rows x inputs.
    Rows(&'a [f32]),
    /// Fetched slice by slice by the thread that trains the slice: `gather(start, rows,
    /// out)` appends rows `start..start + rows` of the batch to `out` (so gathering is
    /// shared by the threads too, and a slice's rows are in its thread's cache).
    Gather(&'a (dyn Fn(usize, usize, &mut Vec<f32>) + Sync)),
}

impl<'a> BatchInput<'a> {
    /// The input rows of a slice whose workspace is `ws`.
    fn rows_of(self, ws: &'a Workspace, fan_in: usize) -> &'a [f32] {
        match self {
            BatchInput::Rows(x) => &x[ws.start * fan_in..(ws.start + ws.rows) * fan_in],
            BatchInput::Gather(_) => &ws.x[..ws.rows * fan_in],
        }
    }
}

/// What the passes read of the network: shared by every thread.
#[derive(Clone, Copy)]
struct View<'a> {
    spec: &'a ModelSpec,
    layers: &'a [Layer],
    params: &'a [f32],
    /// The layers after the first, their weights transposed ([`Mlp::transposed`]).
    transposed: &'a [f32],
}

impl View<'_> {
    /// Layer `l`'s (`l >= 1`) weights transposed: fan_in x fan_out, row-major.
    fn weights_t(&self, l: usize) -> &[f32] {
        let at = transposed_at(self.layers, l);
        let layer = &self.layers[l];
        &self.transposed[at..at + layer.fan_in * layer.fan_out]
    }
}

/// Where layer `l`'s (`l >= 1`) transposed weights start in [`Mlp::transposed`].
fn transposed_at(layers: &[Layer], l: usize) -> usize {
    layers[1..l].iter().map(|l| l.fan_in * l.fan_out).sum()
}

/// BatchNorm's statistics in a forward pass: the batch's (updating the running ones) when
/// training, the running ones when evaluating.
enum Stats<'a> {
    Batch(&'a mut [f32]),
    Running(&'a [f32]),
}

impl<'a> BatchTargets<'a> {
    /// The targets of rows `start..start + rows`.
    fn rows(self, start: usize, rows: usize, outputs: usize) -> BatchTargets<'a> {
        match self {
            BatchTargets::Classes(c) => BatchTargets::Classes(&c[start..start + rows]),
            BatchTargets::Values(v) => {
                BatchTargets::Values(&v[start * outputs..(start + rows) * outputs])
            }
        }
    }
}

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
    /// One workspace per slice of a training batch (and per thread when evaluating).
    slices: Vec<Workspace>,
    /// Each evaluation chunk's summed loss and correct count, summed in order at the end.
    eval_parts: Vec<EvalPart>,
    /// Each weight-gradient block's sum of absolute gradients (the last step's), summed in
    /// order by [`Mlp::grads_finite`]: the divergence check, made while the block is hot.
    block_sums: Vec<f32>,
    capacity: usize,
    dropout_rng: Rng,
    threads: usize,
    /// The persistent threads of the steps (none for one thread).
    pool: Option<Arc<Pool>>,
    /// The weights of every layer after the first, transposed (fan_in x fan_out each,
    /// row-major, one after another), remade from `params` once per step. Why: a slice's
    /// forward product `z = a W^T` on PyTorch's out x in layout makes the GEMM kernel
    /// repack all of W for every slice, since its output is row-major; on W^T it reads the
    /// weights in place. Measured (one core, 784-512-256-10's 512 -> 256 product, 4 slices
    /// of 64 rows): 604 -> 379 us per step; with 8 slices' worth of 32 rows 917 -> 341 us.
    /// The first layer is cut in column blocks instead (see [`first_linear_block`]).
    transposed: Vec<f32>,
    /// Whether `transposed` is the transpose of the current `params`: false after any
    /// mutable access to them.
    transposed_fresh: bool,
    /// A training batch's input rows in one buffer when the slices' threads gathered them
    /// (each copies its rows here), and the first layer's linear output of the whole
    /// batch: one product per column block for the whole batch, instead of one per slice,
    /// packs the block's weights once per step (measured, one core, the 784 -> 512
    /// layer's 8 blocks: 4 slices of 64 rows 166 -> 141 us per block; 4 of 32 rows, at
    /// batch 128, 106 -> 73 us).
    batch_x: Vec<f32>,
    first_z: Vec<f32>,
}

/// The threads of an [`Mlp`]'s steps ([`Mlp::threads`]), lent to other work.
#[derive(Debug, Clone)]
pub struct Threads(Option<Arc<Pool>>);

impl Threads {
    /// Runs `f(unit)` for every unit in `0..n`, each once, on the model's threads (the
    /// caller's among them), and returns when all are done. Each unit runs with
    /// subnormals flushed to zero, as the engine's own arithmetic does on every thread:
    /// without it a unit's result would depend on the thread that ran it (and a helper's
    /// share of the optimizer update ran several times slower on subnormal momenta).
    pub fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        let flushed = |unit: usize| {
            let _ftz = FlushDenormals::new();
            f(unit)
        };
        match &self.0 {
            Some(pool) => pool.run(n, &|unit, _| flushed(unit)),
            None => (0..n).for_each(flushed),
        }
    }

    /// Whether there is more than the caller's thread.
    pub fn is_parallel(&self) -> bool {
        self.0.is_some()
    }
}

impl Mlp {
    /// A freshly initialised network for batches of up to `capacity` rows. At most
    /// [`MAX_RESERVED_ROWS`] rows are reserved here, whatever `capacity` says: a larger
    /// batch grows the buffers when it comes (by its real size), so a huge number asked
    /// for costs no memory up front.
    pub fn new(spec: ModelSpec, seed: u64, capacity: usize) -> Mlp {
        let (layers, n, r) = layout(&spec);
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
            slices: Vec::new(),
            eval_parts: Vec::new(),
            block_sums: Vec::new(),
            capacity: 0,
            layers,
            dropout_rng: Rng::new(dropout_seed(seed)),
            threads: 1,
            pool: None,
            transposed: Vec::new(),
            transposed_fresh: false,
            batch_x: Vec::new(),
            first_z: Vec::new(),
            spec,
        };
        let hidden_weights = transposed_at(&mlp.layers, mlp.layers.len());
        mlp.transposed = vec![0.0; hidden_weights];
        mlp.init(seed);
        mlp.reserve(capacity.clamp(1, MAX_RESERVED_ROWS));
        mlp
    }

    /// Whether every gradient of the last [`Mlp::train_step`] is finite (and their absolute
    /// sum too): the same test as summing `grads()`, done by the step's threads.
    ///
    /// ```
    /// use lrsched_train::model::{Activation, BatchTargets, Init, Mlp, ModelSpec};
    /// use lrsched_train::data::Task;
    /// let spec = ModelSpec::parse("8", 4, &Task::Classification { classes: 2 }, Activation::Relu, Init::Torch).unwrap();
    /// let mut mlp = Mlp::new(spec, 0, 2);
    /// mlp.train_step(&[0.1; 8], BatchTargets::Classes(&[0, 1]), 2);
    /// assert!(mlp.grads_finite());
    /// mlp.train_step(&[f32::NAN; 8], BatchTargets::Classes(&[0, 1]), 2);
    /// assert!(!mlp.grads_finite());
    /// ```
    pub fn grads_finite(&self) -> bool {
        self.block_sums.iter().sum::<f32>().is_finite()
    }

    /// Where the step's weight-gradient units start in the parameters, in unit order:
    /// cuts for [`crate::optim::Optimizer::step_on`], so that the update of the
    /// parameters a unit's gradients are for runs on the thread that wrote them.
    pub fn update_cuts(&self) -> Vec<usize> {
        let mut cuts = Vec::new();
        for layer in &self.layers {
            for j0 in (0..layer.fan_out).step_by(BLOCK_ROWS) {
                cuts.push(layer.w + j0 * layer.fan_in);
            }
        }
        cuts
    }

    /// The step's threads, to share other work among them (the optimizer update):
    /// a handle that lives apart from the model, so it can run while the parameters are
    /// borrowed.
    ///
    /// ```
    /// use lrsched_train::model::{Activation, Init, Mlp, ModelSpec};
    /// use lrsched_train::data::Task;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let spec = ModelSpec::parse("8", 4, &Task::Classification { classes: 2 }, Activation::Relu, Init::Torch).unwrap();
    /// let mlp = Mlp::new(spec, 0, 2).with_threads(2);
    /// let done = AtomicUsize::new(0);
    /// mlp.threads().run(10, &|_| { done.fetch_add(1, Ordering::SeqCst); });
    /// assert_eq!(done.load(Ordering::SeqCst), 10);
    /// ```
    pub fn threads(&self) -> Threads {
        Threads(self.pool.clone())
    }

    /// Trains and evaluates on `threads` threads: the caller's and `threads - 1` started
    /// here, which live as long as the model (and its clones). The results are the same
    /// bits for any thread count.
    pub fn with_threads(mut self, threads: usize) -> Mlp {
        self.threads = threads.max(1);
        self.pool = (self.threads > 1).then(|| Arc::new(Pool::new(self.threads)));
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
        self.batch_x.resize(capacity * self.layers[0].fan_in, 0.0);
        self.first_z.resize(capacity * self.layers[0].fan_out, 0.0);
        let count = self.slice_count(capacity);
        if self.slices.len() < count {
            self.slices.resize(count, Workspace::default());
        }
        for (s, ws) in self.slices[..count].iter_mut().enumerate() {
            ws.reserve(
                &self.layers,
                (s + 1) * capacity / count - s * capacity / count,
            );
        }
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
        self.transposed_fresh = false;
        &mut self.params
    }

    /// Parameters and gradients together, as an optimizer step needs them.
    pub fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        self.transposed_fresh = false;
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
        self.transposed_fresh = false;
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
    ///
    /// The batch is cut into a fixed number of row slices (by its size alone); the first
    /// layer's linear output is made in fixed blocks of its columns, each for every slice;
    /// each slice's remaining forward and backward pass runs on some thread; then the
    /// weight gradients are computed in fixed blocks of rows, each summing the slices in
    /// order. Which thread runs what changes nothing in the arithmetic, so any thread count
    /// gives the same bits.
    pub fn train_step(&mut self, x: &[f32], targets: BatchTargets<'_>, rows: usize) -> f32 {
        self.train_step_from(BatchInput::Rows(x), targets, rows)
    }

    /// [`Mlp::train_step`] on rows the step's threads fetch themselves, slice by slice
    /// ([`BatchInput::Gather`]): the same bits as gathering the batch first.
    ///
    /// ```
    /// use lrsched_train::model::{Activation, BatchInput, BatchTargets, Init, Mlp, ModelSpec};
    /// use lrsched_train::data::Task;
    /// let spec = ModelSpec::parse("8", 2, &Task::Classification { classes: 2 }, Activation::Relu, Init::Torch).unwrap();
    /// let data: Vec<f32> = (0..200).map(|i| (i as f32 * 0.37).sin()).collect(); // 100 rows
    /// let rows: Vec<usize> = (0..64).map(|i| (i * 7) % 100).collect();
    /// let labels: Vec<u32> = rows.iter().map(|r| (r % 2) as u32).collect();
    /// let mut a = Mlp::new(spec.clone(), 0, 64).with_threads(2);
    /// let mut b = Mlp::new(spec, 0, 64);
    /// let x: Vec<f32> = rows.iter().flat_map(|&r| data[2 * r..2 * r + 2].to_vec()).collect();
    /// let gather = |start: usize, n: usize, out: &mut Vec<f32>| {
    ///     for &r in &rows[start..start + n] {
    ///         out.extend_from_slice(&data[2 * r..2 * r + 2]);
    ///     }
    /// };
    /// let la = a.train_step_from(BatchInput::Gather(&gather), BatchTargets::Classes(&labels), 64);
    /// let lb = b.train_step(&x, BatchTargets::Classes(&labels), 64);
    /// assert_eq!((la.to_bits(), a.grads()), (lb.to_bits(), b.grads()));
    /// ```
    pub fn train_step_from(
        &mut self,
        input: BatchInput<'_>,
        targets: BatchTargets<'_>,
        rows: usize,
    ) -> f32 {
        let _ftz = FlushDenormals::new();
        self.reserve(rows);
        let count = self.slice_count(rows);
        for (s, ws) in self.slices[..count].iter_mut().enumerate() {
            ws.start = s * rows / count;
            ws.rows = (s + 1) * rows / count - ws.start;
            ws.reserve(&self.layers, ws.rows);
        }
        if self.spec.dropout > 0.0 {
            // Drawn in the order one pass over the whole batch draws them: layer by layer,
            // row-major, so the masks do not depend on the slicing.
            for (l, layer) in self.layers[..self.layers.len() - 1].iter().enumerate() {
                for ws in &mut self.slices[..count] {
                    let n = ws.rows * layer.fan_out;
                    draw_mask(
                        &mut self.dropout_rng,
                        self.spec.dropout,
                        &mut ws.saved[l].mask[..n],
                    );
                }
            }
        }
        let Mlp {
            spec,
            layers,
            params,
            grads,
            running,
            slices,
            pool,
            block_sums,
            transposed,
            transposed_fresh,
            batch_x,
            first_z,
            ..
        } = self;
        let (layers, params): (&[Layer], &[f32]) = (layers, params);
        let pool = pool.as_deref();
        let run = |units: usize, f: &(dyn Fn(usize, usize) + Sync)| match pool {
            Some(pool) => pool.run(units, f),
            None => (0..units).for_each(|u| f(u, 0)),
        };
        let ws = SendPtr(slices.as_mut_ptr());
        // Phase 0: each slice's rows fetched by the thread of its unit (with
        // `BatchInput::Gather`), and the later layers' weights transposed for this step's
        // parameters, in blocks ([`transpose_block`]).
        let gathers = if matches!(input, BatchInput::Gather(_)) {
            count
        } else {
            0
        };
        let transposes = if *transposed_fresh {
            0
        } else {
            transpose_units(layers)
        };
        let wt = SendPtr(transposed.as_mut_ptr());
        let inputs = layers[0].fan_in;
        let batch = SendPtr(batch_x.as_mut_ptr());
        run(gathers + transposes, &|unit, _| {
            if unit >= gathers {
                // SAFETY: `transposed` holds every later layer's weights (sized in `new`),
                // and transpose unit `unit - gathers` alone writes its block of them.
                unsafe { transpose_block(layers, params, wt, unit - gathers) };
                return;
            }
            if let BatchInput::Gather(gather) = input {
                // SAFETY: unit `unit` alone touches workspace `unit` (below `count`).
                let ws = unsafe { &mut *ws.get().add(unit) };
                ws.x.clear();
                gather(ws.start, ws.rows, &mut ws.x);
                assert_eq!(
                    ws.x.len(),
                    ws.rows * inputs,
                    "the gather gave the wrong number of values"
                );
                // SAFETY: `batch_x` holds the batch's rows (reserved above); the slice's
                // rows of it are this unit's alone.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        ws.x.as_ptr(),
                        batch.get().add(ws.start * inputs),
                        ws.x.len(),
                    )
                };
            }
        });
        *transposed_fresh = true;
        let x_all: &[f32] = match input {
            BatchInput::Rows(x) => &x[..rows * inputs],
            BatchInput::Gather(_) => &batch_x[..rows * inputs],
        };
        let net = View {
            spec,
            layers,
            params,
            transposed,
        };
        // Then the first layer's linear output in fixed blocks of its units (columns),
        // each for every slice: block `b` of the first layer's weights is read here, its
        // gradient made in phase 2 and its update applied by unit `b` of each, which the
        // pool hands to the same thread, so those weights stay in one core's cache (with
        // the batch split alone, both threads read every weight each step and the update
        // on one made the other fetch half of them again).
        let first_blocks = layers[0].fan_out.div_ceil(BLOCK_ROWS);
        let z_all = SendPtr(first_z.as_mut_ptr());
        run(first_blocks, &|b, _| {
            // SAFETY: `first_z` holds the batch's rows x fan_out (reserved above); block
            // `b` alone writes its columns `b * BLOCK_ROWS..` of them.
            unsafe { first_linear_block(net, b, z_all, rows, x_all) };
        });
        let first_z: &[f32] = first_z;
        // Phase 1: each slice's forward and backward pass.
        let (stats, stats_len) = (SendPtr(running.as_mut_ptr()), running.len());
        run(count, &|s, _| {
            // SAFETY: unit `s` alone touches workspace `s` (below `count`, the slices'
            // length), and the running statistics are lent only with one slice (BatchNorm:
            // its statistics need the whole batch), to its only unit.
            let ws = unsafe { &mut *ws.get().add(s) };
            let running: &mut [f32] = if count == 1 {
                unsafe { std::slice::from_raw_parts_mut(stats.get(), stats_len) }
            } else {
                &mut []
            };
            let fo = layers[0].fan_out;
            let z = &first_z[ws.start * fo..(ws.start + ws.rows) * fo];
            slice_pass(net, ws, input, z, targets, Stats::Batch(running), rows);
        });
        // Phase 2: the weight gradients in fixed blocks of rows, each summing the slices.
        let slices: &[Workspace] = &slices[..count];
        let blocks: usize = layers.iter().map(|l| l.fan_out.div_ceil(BLOCK_ROWS)).sum();
        let out = SendPtr(grads.as_mut_ptr());
        debug_assert_eq!(grads.len(), params.len());
        block_sums.clear();
        block_sums.resize(blocks, 0.0);
        let sums = SendPtr(block_sums.as_mut_ptr());
        run(blocks, &|unit, _| {
            let mut block = unit;
            for (l, layer) in layers.iter().enumerate() {
                let here = layer.fan_out.div_ceil(BLOCK_ROWS);
                if block < here {
                    // SAFETY: block `block` of layer `l` alone writes that layer's weight-
                    // gradient rows of the block (and, block 0, its bias and BatchNorm
                    // gradients), all within `grads`, which nothing else touches meanwhile;
                    // unit `unit` (below `blocks`, the sums' length) alone writes its sum.
                    unsafe {
                        *sums.get().add(unit) = weight_block(net, l, block, out, slices, input);
                    }
                    return;
                }
                block -= here;
            }
        });
        let last = self.layers.len() - 1;
        let outputs = self.layers[last].fan_out;
        let total = self.slices[..count]
            .iter()
            .fold(0.0f32, |total, ws| total + ws.loss);
        total * loss_scale(self.spec.loss, targets, rows, outputs)
    }

    /// Mean loss and accuracy (`None` for regression) over a whole set, in eval mode,
    /// in chunks of a fixed size that the threads share (rows are independent in eval
    /// mode; the chunks' losses are summed in order).
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
        let chunks = rows.div_ceil(EVAL_CHUNK);
        // One workspace per thread: a thread evaluates one chunk at a time.
        let workers = self.threads;
        if self.slices.len() < workers {
            self.slices.resize(workers, Workspace::default());
        }
        for ws in &mut self.slices[..workers] {
            ws.reserve(&self.layers, EVAL_CHUNK.min(rows));
        }
        self.eval_parts.clear();
        self.eval_parts.resize(chunks, (0.0, 0));
        if !self.transposed_fresh {
            let wt = SendPtr(self.transposed.as_mut_ptr());
            let (layers, params) = (&self.layers, &self.params);
            let transpose = |unit: usize, _: usize| {
                // SAFETY: as in `train_step_from`: unit `unit` alone writes its block.
                unsafe { transpose_block(layers, params, wt, unit) }
            };
            match &self.pool {
                Some(pool) => pool.run(transpose_units(layers), &transpose),
                None => (0..transpose_units(layers)).for_each(|u| transpose(u, 0)),
            }
            self.transposed_fresh = true;
        }
        let net = View {
            spec: &self.spec,
            layers: &self.layers,
            params: &self.params,
            transposed: &self.transposed,
        };
        let running = &self.running;
        let loss = self.spec.loss;
        let ws = SendPtr(self.slices.as_mut_ptr());
        let parts = SendPtr(self.eval_parts.as_mut_ptr());
        let chunk = |c: usize, worker: usize| {
            let _ftz = FlushDenormals::new();
            // SAFETY: a thread runs one chunk at a time and only it uses its workspace
            // (`worker` is below the thread count, the workspaces' length); chunk `c`
            // (below `chunks`, the parts' length) alone writes its part.
            let (ws, part) = unsafe { (&mut *ws.get().add(worker), &mut *parts.get().add(c)) };
            let start = c * EVAL_CHUNK;
            let n = EVAL_CHUNK.min(rows - start);
            let xs = &x[start * inputs..(start + n) * inputs];
            forward(net, ws, xs, n, Stats::Running(running), false, None);
            let logits = &ws.saved[last].z[..n * outputs];
            let t = targets.rows(start, n, outputs);
            let scale = loss_scale(loss, t, n, outputs);
            let mean = loss_sum(loss, logits, t, outputs, None, scale) * scale;
            let correct = match t {
                BatchTargets::Classes(c) => count_correct(loss, logits, c, outputs),
                BatchTargets::Values(_) => 0,
            };
            *part = (mean as f64 * n as f64, correct);
        };
        match &self.pool {
            Some(pool) => pool.run(chunks, &chunk),
            None => (0..chunks).for_each(|c| chunk(c, 0)),
        }
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for &(l, c) in &self.eval_parts {
            loss_sum += l;
            correct += c;
        }
        let accuracy = matches!(targets, BatchTargets::Classes(_))
            .then(|| correct as f64 / rows.max(1) as f64);
        (loss_sum / rows.max(1) as f64, accuracy)
    }

    /// Slices of a batch of `rows` rows: by its size alone (see [`SLICE_ROWS`]); one with
    /// BatchNorm, whose statistics couple the rows.
    fn slice_count(&self, rows: usize) -> usize {
        if self.spec.batch_norm {
            1
        } else {
            rows.div_ceil(SLICE_ROWS).clamp(1, MAX_SLICES)
        }
    }
}
