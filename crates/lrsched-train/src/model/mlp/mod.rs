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
mod sparse;
#[cfg(test)]
mod tests;

use super::pool::Pool;
use super::spec::{Activation, Init, Loss, ModelSpec};
use crate::data::Rng;
pub(crate) use blocks::{abs_sum, FlushDenormals};
use blocks::{backward_block, forward_block, output_slice, weight_block, LayerPtrs, SendPtr};
use kernels::{count_correct, loss_scale, loss_sum};
use passes::forward;
use sparse::SparseInput;
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
/// PyTorch's; [`Mlp`] keeps its first hidden layer's transposed within the same range),
/// biases, then BatchNorm's gamma and beta. Returns the layers, the number of
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
    /// The last layer's linear output `x W^T + b` (the logits).
    z: Vec<f32>,
    /// BatchNorm's normalised input (empty without BatchNorm).
    xhat: Vec<f32>,
    /// BatchNorm's `1 / sqrt(var + eps)` per feature.
    inv_std: Vec<f32>,
    /// A hidden layer's pre-activation: `x W^T + b`, then BatchNorm's output.
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

/// A training batch is cut into `ceil(rows / SLICE_ROWS)` row slices, at most
/// [`MAX_SLICES`], by its size alone (never by the thread count: threads only decide who
/// computes which slice, so the results are the same bits for any thread count). A slice's
/// rows are gathered by one unit, and the output layer, the loss and the last hidden
/// layer's backward step run slice by slice (their products are too narrow for column
/// blocks).
const SLICE_ROWS: usize = 32;
const MAX_SLICES: usize = 4;

/// Columns of a hidden layer handled as one unit of work (its forward and backward
/// products and their epilogues), and rows of a weight gradient; fixed, like the slices.
/// 64, not 32: the first layer's output in 32-column blocks repacked each slice's input
/// once per block (measured, 784-128-10 at batch 64 on 1 thread: 0.383 s per epoch with
/// 32, 0.348 with 64; on 2 threads 0.237 and 0.200); the bits are the same for either.
/// Layers of [`WIDE_BLOCK_ROWS`] x 2 columns or more use that width ([`block_width`]).
const BLOCK_ROWS: usize = 64;

/// The block width of layers at least 2 such blocks wide (784-512-256-10: both hidden
/// layers): each block's products repack the operand they share (the batch's inputs or
/// activations in the forward pass and the weight gradients, the deltas in the backward
/// pass), so half as many blocks repack it half as often. Measured, 784-512-256-10 on 2
/// threads, the engine bench's step median in 3 alternating runs of each width: batch
/// 128, 64 columns 2.28-2.42 ms, 128 columns 1.97-2.16, 256 columns (the 512-wide layer)
/// 1.81-2.32; batch 256, 4.24-4.77, 3.48-4.64 and 3.40-4.28 ms. 128 keeps 4 blocks in the
/// wider layer for more threads. The bits are the same for every width (the parameters'
/// checksum after 3 epochs is).
const WIDE_BLOCK_ROWS: usize = 128;

/// The columns per unit of work of a layer `width` wide: fixed by the layer, never by the
/// thread count.
fn block_width(width: usize) -> usize {
    if width >= 2 * WIDE_BLOCK_ROWS {
        WIDE_BLOCK_ROWS
    } else {
        BLOCK_ROWS
    }
}

/// How many units of work a layer `width` wide is cut into.
fn block_count(width: usize) -> usize {
    width.div_ceil(block_width(width))
}

/// A row slice of a training batch.
#[derive(Debug, Clone, Default)]
struct Slice {
    /// Where the slice's rows start in the batch, and how many there are this step.
    start: usize,
    rows: usize,
    /// Summed (not mean) loss of the slice's rows.
    loss: f32,
}

/// Per-layer buffers for a number of rows: the training step's, batch-wide, and each
/// evaluating thread's, for a chunk.
#[derive(Debug, Clone, Default)]
struct Workspace {
    saved: Vec<Saved>,
    /// Per layer, d(loss)/d(linear output) (training only; rows of a multiple of 16
    /// values start at a cache line, as the sparse gradient's loads want).
    delta: Vec<Lines>,
    capacity: usize,
}

impl Workspace {
    /// Room for `capacity` rows; allocates only when it grows. `training`: the masks and
    /// deltas too.
    fn reserve(&mut self, layers: &[Layer], capacity: usize, training: bool) {
        if self.saved.len() != layers.len() {
            self.saved = vec![Saved::default(); layers.len()];
            self.delta = vec![Lines::default(); layers.len()];
            self.capacity = 0;
        }
        if capacity <= self.capacity {
            return;
        }
        self.capacity = capacity;
        let last = layers.len() - 1;
        for (l, layer) in layers.iter().enumerate() {
            let (n, fo) = (capacity * layer.fan_out, layer.fan_out);
            let saved = &mut self.saved[l];
            if l == last {
                saved.z.resize(n, 0.0);
            } else {
                saved.h.resize(n, 0.0);
                saved.a.resize(n, 0.0);
                if training {
                    saved.mask.resize(n, 0.0);
                }
                if layer.bn.is_some() {
                    saved.xhat.resize(n, 0.0);
                    saved.inv_std.resize(fo, 0.0);
                }
            }
            if training {
                self.delta[l].resize(n);
            }
        }
    }

    /// Pointers to its buffers, for the units of a step.
    fn pointers(&mut self, out: &mut Vec<LayerPtrs>) {
        out.clear();
        for (saved, delta) in self.saved.iter_mut().zip(&mut self.delta) {
            out.push(LayerPtrs {
                h: SendPtr(saved.h.as_mut_ptr()),
                a: SendPtr(saved.a.as_mut_ptr()),
                mask: SendPtr(saved.mask.as_mut_ptr()),
                xhat: SendPtr(saved.xhat.as_mut_ptr()),
                inv_std: SendPtr(saved.inv_std.as_mut_ptr()),
                z: SendPtr(saved.z.as_mut_ptr()),
                delta: SendPtr(delta.as_mut_ptr()),
            });
        }
    }
}

/// A cache line of values: what [`Lines`] is made of, so its values start at one.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A flat buffer of values that starts at a cache line, and stays so when cloned (the
/// parameters, gradients, deltas and transposed weights, which the products read and write
/// a block of rows at a time: measured, the sparse products' vector loads across two lines
/// took twice as long).
#[derive(Clone, Default)]
struct Lines {
    lines: Vec<Line>,
    len: usize,
}

impl Lines {
    fn zeros(len: usize) -> Lines {
        let mut lines = Lines::default();
        lines.resize(len);
        lines
    }

    /// `len` values long (new ones zero).
    fn resize(&mut self, len: usize) {
        self.lines.resize(len.div_ceil(16), Line::default());
        self.len = len;
    }
}

impl std::ops::Deref for Lines {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: `lines` holds at least `len` values, contiguous (`Line` is a `repr(C)`
        // array with no padding, 64 bytes long and aligned).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }
}

impl std::ops::DerefMut for Lines {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} values", self.len)
    }
}

/// Whether layer `l` of `layers` keeps its weights transposed block by block (see
/// [`Mlp::params`]): the first layer, when it is a hidden one.
fn stored_transposed(layers: &[Layer], l: usize) -> bool {
    l == 0 && layers.len() > 1
}

/// An evaluation chunk's summed loss and correct count.
type EvalPart = (f64, usize);

/// Where a training step's input rows come from.
#[derive(Clone, Copy)]
pub enum BatchInput<'a> {
    /// The batch's rows in one buffer, rows x inputs.
    Rows(&'a [f32]),
    /// Fetched slice by slice by the thread that trains the slice: `gather(start, rows,
    /// out)` writes rows `start..start + rows` of the batch into `out`, which holds
    /// exactly `rows x inputs` values: the step's own batch buffer, so the rows are
    /// copied once, by the threads together.
    Gather(&'a (dyn Fn(usize, usize, &mut [f32]) + Sync)),
}

/// What the passes read of the network: shared by every thread.
#[derive(Clone, Copy)]
struct View<'a> {
    spec: &'a ModelSpec,
    layers: &'a [Layer],
    params: &'a [f32],
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
    /// The parameters and their gradients, in the engine's order (see [`Mlp::params`]).
    params: Lines,
    grads: Lines,
    /// BatchNorm running mean and variance (buffers, not parameters).
    running: Vec<f32>,
    /// The row slices of a training batch.
    slices: Vec<Slice>,
    /// The training step's batch-wide buffers, and pointers to them for its units
    /// (refreshed each step, so a clone never uses another model's).
    batch: Workspace,
    ptrs: Vec<LayerPtrs>,
    /// One workspace per thread when evaluating.
    evals: Vec<Workspace>,
    /// Per thread when evaluating, its chunk's nonzero inputs listed by row (when the
    /// first layer may take the sparse forward product).
    eval_lists: Vec<SparseInput>,
    /// Each evaluation chunk's summed loss and correct count, summed in order at the end.
    eval_parts: Vec<EvalPart>,
    /// Each weight-gradient block's sum of absolute gradients (the last step's), then each
    /// BatchNorm block's, summed in order by [`Mlp::grads_finite`]: the divergence check,
    /// made while the block is hot.
    block_sums: Vec<f32>,
    capacity: usize,
    dropout_rng: Rng,
    threads: usize,
    /// The persistent threads of the steps (none for one thread).
    pool: Option<Arc<Pool>>,
    /// A training batch's input rows in one buffer when the slices' units gathered them
    /// (each copies its rows here): the first layer's column blocks are each one product
    /// for the whole batch.
    batch_x: Vec<f32>,
    /// Scratch for the hidden layers' weights after the first (which are stored
    /// transposed), transposed block by block, at the weights' own offsets less the second
    /// layer's: what each forward block's product reads (`kernels::transpose`).
    wt: Lines,
    /// The batch's nonzero inputs, listed (when the first layer may take the sparse
    /// products: `sparse::SparseInput::eligible`).
    sparse: SparseInput,
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
        // The scratch for transposed weights: the hidden layers' after the first (whose
        // are stored transposed), which all come before the output layer's.
        let scratch = match &layers[..] {
            [_, second, .., last] => last.w - second.w,
            _ => 0,
        };
        let mut running = vec![0.0; r];
        for layer in &layers {
            if let Some((_, _, run)) = layer.bn {
                running[run + layer.fan_out..run + 2 * layer.fan_out].fill(1.0);
            }
        }
        let mut mlp = Mlp {
            params: Lines::zeros(n),
            grads: Lines::zeros(n),
            running,
            slices: Vec::new(),
            batch: Workspace::default(),
            ptrs: Vec::new(),
            evals: Vec::new(),
            eval_lists: Vec::new(),
            eval_parts: Vec::new(),
            block_sums: Vec::new(),
            capacity: 0,
            layers,
            dropout_rng: Rng::new(dropout_seed(seed)),
            threads: 1,
            pool: None,
            batch_x: Vec::new(),
            wt: Lines::zeros(scratch),
            sparse: SparseInput::default(),
            spec,
        };
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
            for j0 in (0..layer.fan_out).step_by(block_width(layer.fan_out)) {
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
        // Drawn in PyTorch's order, as its initialisation draws them.
        let mut params = self.params.to_vec();
        self.from_torch_order(&mut params);
        self.params.copy_from_slice(&params);
    }

    /// Makes room for batches of `capacity` rows (allocates only when it grows).
    pub fn reserve(&mut self, capacity: usize) {
        if capacity <= self.capacity {
            return;
        }
        self.capacity = capacity;
        self.batch_x.resize(capacity * self.layers[0].fan_in, 0.0);
        self.batch.reserve(&self.layers, capacity, true);
        let count = self.slice_count(capacity);
        if self.slices.len() < count {
            self.slices.resize(count, Slice::default());
        }
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// All trainable parameters, layer by layer: weights, biases, then BatchNorm's gamma
    /// and beta, in the engine's order: PyTorch's (weights out x in, row-major), except
    /// the first hidden layer's weights, which are kept transposed block by block (each
    /// block of the rows a unit of the step works on, stored in the same place as in
    /// PyTorch's order but in x out), so that the step reads them, and writes their
    /// gradient, without transposing them each time. An optimizer, which treats values
    /// one by one, needs no more than that [`Mlp::grads`] and its own buffers are in the
    /// same order; [`Mlp::to_torch_order`] gives PyTorch's order, for a checkpoint or
    /// another engine.
    ///
    /// ```
    /// use lrsched_train::data::Task;
    /// use lrsched_train::model::{Activation, Init, Mlp, ModelSpec};
    /// let spec = ModelSpec::parse("3", 2, &Task::Classification { classes: 2 }, Activation::Relu, Init::Torch).unwrap();
    /// let mlp = Mlp::new(spec, 0, 1);
    /// let mut torch = mlp.params().to_vec();
    /// mlp.to_torch_order(&mut torch);
    /// // The first layer's weights (3 x 2) were stored 2 x 3: column 0 first.
    /// assert_eq!(torch[1], mlp.params()[3]);
    /// // Everything after them is in the same place.
    /// assert_eq!(torch[6..], mlp.params()[6..]);
    /// ```
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The parameters, for the optimizer to update (in the order of [`Mlp::params`]).
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Parameters and gradients together, as an optimizer step needs them (in the order
    /// of [`Mlp::params`]).
    pub fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.params, &mut self.grads)
    }

    /// Gradients of the last [`Mlp::train_step`], laid out as [`Mlp::params`].
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }

    /// Puts values laid out as [`Mlp::params`] (the parameters, their gradients, an
    /// optimizer's buffers) in PyTorch's order: each layer's weights out x in, row-major.
    /// [`Mlp::from_torch_order`] undoes it.
    ///
    /// ```
    /// use lrsched_train::data::Task;
    /// use lrsched_train::model::{Activation, Init, Mlp, ModelSpec};
    /// let spec = ModelSpec::parse("8", 4, &Task::Classification { classes: 3 }, Activation::Relu, Init::Torch).unwrap();
    /// let mlp = Mlp::new(spec, 0, 1);
    /// let mut values = mlp.params().to_vec();
    /// mlp.to_torch_order(&mut values);
    /// mlp.from_torch_order(&mut values);
    /// assert_eq!(values, mlp.params());
    /// ```
    ///
    /// # Panics
    /// If `values` is not as long as [`Mlp::params`].
    pub fn to_torch_order(&self, values: &mut [f32]) {
        self.reorder(values, true);
    }

    /// Puts values in PyTorch's order (as [`Mlp::to_torch_order`] gives them) in the
    /// order of [`Mlp::params`]: what [`Mlp::load`] and an optimizer's buffers take.
    ///
    /// # Panics
    /// If `values` is not as long as [`Mlp::params`].
    pub fn from_torch_order(&self, values: &mut [f32]) {
        self.reorder(values, false);
    }

    /// The first hidden layer's weight blocks transposed, to PyTorch's order (`to_torch`)
    /// or from it.
    fn reorder(&self, values: &mut [f32], to_torch: bool) {
        assert_eq!(
            values.len(),
            self.params.len(),
            "values laid out as the parameters"
        );
        if !stored_transposed(&self.layers, 0) {
            return;
        }
        let layer = &self.layers[0];
        let fi = layer.fan_in;
        let mut block = Vec::new();
        for c in 0..block_count(layer.fan_out) {
            let (j0, m) = blocks::block_cols(c, layer.fan_out);
            let place = &mut values[layer.w + j0 * fi..layer.w + (j0 + m) * fi];
            block.clear();
            block.extend_from_slice(place);
            let (rows, cols) = if to_torch { (fi, m) } else { (m, fi) };
            // SAFETY: `block` and `place` hold `m x fi` values each and do not overlap.
            unsafe { kernels::transpose_any(rows, cols, block.as_ptr(), place.as_mut_ptr()) };
        }
    }

    /// BatchNorm running statistics (saved with checkpoints).
    pub fn buffers(&self) -> &[f32] {
        &self.running
    }

    /// Replaces parameters (in the order of [`Mlp::params`]: a checkpoint's, in PyTorch's,
    /// go through [`Mlp::from_torch_order`] first) and buffers; `false` if the sizes
    /// differ.
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
    ///
    /// Each hidden layer's forward pass is made in fixed blocks of its columns, each one
    /// product for the whole batch with its epilogue (bias, BatchNorm, activation,
    /// dropout); the output layer and the loss in fixed row slices; the backward pass in
    /// column blocks again, and the weight gradients in fixed blocks of rows, each one
    /// product over the batch. Which thread runs what changes nothing in the arithmetic,
    /// so any thread count gives the same bits.
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
    /// let gather = |start: usize, n: usize, out: &mut [f32]| {
    ///     for (&r, row) in rows[start..start + n].iter().zip(out.chunks_exact_mut(2)) {
    ///         row.copy_from_slice(&data[2 * r..2 * r + 2]);
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
        for (s, slice) in self.slices[..count].iter_mut().enumerate() {
            slice.start = s * rows / count;
            slice.rows = (s + 1) * rows / count - slice.start;
        }
        let dropout = self.spec.dropout > 0.0;
        if dropout {
            // Drawn in the order one pass over the whole batch draws them: layer by layer,
            // row-major.
            for (l, layer) in self.layers[..self.layers.len() - 1].iter().enumerate() {
                let n = rows * layer.fan_out;
                draw_mask(
                    &mut self.dropout_rng,
                    self.spec.dropout,
                    &mut self.batch.saved[l].mask[..n],
                );
            }
        }
        self.batch.pointers(&mut self.ptrs);
        let Mlp {
            spec,
            layers,
            params,
            grads,
            running,
            slices,
            pool,
            block_sums,
            batch_x,
            ptrs,
            wt,
            sparse,
            ..
        } = self;
        let (layers, params, ptrs): (&[Layer], &[f32], &[LayerPtrs]) = (layers, params, ptrs);
        let inputs = layers[0].fan_in;
        // The first layer's sparse products, when it is a hidden layer that may take them:
        // each slice's unit lists its rows' nonzeros after gathering them.
        let listing = (layers.len() > 1 && SparseInput::eligible(inputs, rows, count)).then(|| {
            sparse.reserve(rows, inputs, count);
            sparse.pointers(count)
        });
        let pool = pool.as_deref();
        let run = |units: usize, f: &(dyn Fn(usize, usize) + Sync)| match pool {
            Some(pool) => pool.run(units, f),
            None => (0..units).for_each(|u| f(u, 0)),
        };
        // Phase 0: each slice's rows fetched by the thread of its unit (with
        // `BatchInput::Gather`), straight into the batch's buffer, and their nonzeros
        // listed (on the sparse path).
        let sl = SendPtr(slices.as_mut_ptr());
        let batch = SendPtr(batch_x.as_mut_ptr());
        let (gather, given) = match input {
            BatchInput::Gather(gather) => (Some(gather), &[][..]),
            BatchInput::Rows(x) => (None, &x[..rows * inputs]),
        };
        if gather.is_some() || listing.is_some() {
            run(count, &|s, _| {
                // SAFETY: slice `s` (below `count`) is only read here; `batch_x` holds the
                // batch's rows (reserved above), and the slice's rows of it and of the
                // sparse lists are this unit's alone.
                let (start, n) = unsafe { ((*sl.get().add(s)).start, (*sl.get().add(s)).rows) };
                let x = match gather {
                    Some(gather) => {
                        let out = unsafe {
                            std::slice::from_raw_parts_mut(
                                batch.get().add(start * inputs),
                                n * inputs,
                            )
                        };
                        gather(start, n, out);
                        &*out
                    }
                    None => &given[start * inputs..(start + n) * inputs],
                };
                if let Some(listing) = listing {
                    unsafe { listing.list_slice(x, s, start, n) };
                }
            });
        }
        let x: &[f32] = match gather {
            Some(_) => &batch_x[..rows * inputs],
            None => given,
        };
        // Sparse only where every slice was listed (none denser than `MAX_DENSITY`): a
        // choice made by the batch alone.
        let sparse = listing.filter(|_| sparse.all_listed(count));
        let net = View {
            spec,
            layers,
            params,
        };
        let last = layers.len() - 1;
        // The forward pass of the hidden layers, in column blocks for the whole batch.
        // Block `b` of the first layer's weights is read here, its gradient made and its
        // update applied by unit `b` of the backward pass and of the update, which the
        // pool hands to the same thread, so those weights stay in one core's cache.
        let stats = SendPtr(running.as_mut_ptr());
        let wt = SendPtr(wt.as_mut_ptr());
        for (l, layer) in layers[..last].iter().enumerate() {
            run(block_count(layer.fan_out), &|c, _| {
                // SAFETY: `ptrs` are the batch buffers, reserved for `rows` rows above;
                // layer `l - 1`'s output was completed by the previous job; unit `c` alone
                // writes its columns of layer `l`'s buffers and running statistics, and its
                // weights' place in `wt` (which holds the later hidden layers' weights).
                unsafe { forward_block(net, ptrs, l, c, rows, x, stats, wt, sparse, dropout) };
            });
        }
        // The output layer, the loss and (when it needs no column statistics) the last
        // hidden layer's delta, slice by slice.
        let rows_back = last > 0 && layers[last - 1].bn.is_none();
        run(count, &|s, _| {
            // SAFETY: unit `s` alone touches slice `s` and writes its rows of the logits
            // and deltas; the last layer's input is complete.
            let slice = unsafe { &mut *sl.get().add(s) };
            slice.loss = unsafe {
                output_slice(
                    net,
                    ptrs,
                    slice.start,
                    slice.rows,
                    x,
                    targets,
                    rows,
                    rows_back,
                    dropout,
                )
            };
        });
        // The backward pass: layer `l`'s job makes layer `l - 1`'s delta in column blocks
        // (with the first layer's weight gradient blocks, where `l` is 1) and the weight
        // gradients of the layers whose deltas are complete.
        let wblocks = |l: usize| block_count(layers[l].fan_out);
        let block_at = |l: usize| (0..l).map(wblocks).sum::<usize>();
        let blocks = block_at(layers.len());
        // A sum per weight block, then one per BatchNorm block (of the same columns).
        block_sums.clear();
        block_sums.resize(2 * blocks, 0.0);
        let sums = SendPtr(block_sums.as_mut_ptr());
        let out = SendPtr(grads.as_mut_ptr());
        debug_assert_eq!(grads.len(), params.len());
        // Unit `unit` of the weight blocks of layers `from..to`, in order.
        let weights = |from: usize, to: usize, unit: usize| {
            let mut block = unit;
            for l in from..to {
                if block < wblocks(l) {
                    // SAFETY: block `block` of layer `l` alone writes its weight-gradient
                    // rows, its columns' bias gradients and its sum (below `blocks`); the
                    // layer's delta and input are complete.
                    unsafe {
                        *sums.get().add(block_at(l) + block) =
                            weight_block(net, ptrs, l, block, rows, x, out, sparse)
                    };
                    return;
                }
                block -= wblocks(l);
            }
        };
        // Layers `done..` have their weight gradients; deltas of layers `top..` are made.
        let mut done = layers.len();
        let top = if rows_back { last - 1 } else { last };
        for l in (1..=top).rev() {
            let back = block_count(layers[l].fan_in);
            let later: usize = (l..done).map(wblocks).sum();
            let norm = layers[l - 1].bn.is_some();
            run(back + later, &|u, _| {
                if u >= back {
                    return weights(l, done, u - back);
                }
                // SAFETY: unit `u` alone writes its columns of layer `l - 1`'s delta, their
                // BatchNorm gradients and sum, and (`l` = 1) the first layer's weight
                // block `u` and its sum; layer `l`'s delta is complete.
                unsafe {
                    let norm_sum =
                        backward_block(net, ptrs, l, u, rows, x, out, sums, sparse, dropout);
                    if norm {
                        *sums.get().add(blocks + block_at(l - 1) + u) = norm_sum;
                    }
                }
            });
            done = if l == 1 { 0 } else { l };
        }
        if done > 0 {
            run((0..done).map(wblocks).sum(), &|u, _| weights(0, done, u));
        }
        let total = slices[..count]
            .iter()
            .fold(0.0f32, |total, s| total + s.loss);
        let outputs = layers[last].fan_out;
        total * loss_scale(spec.loss, targets, rows, outputs)
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
        if self.evals.len() < workers {
            self.evals.resize(workers, Workspace::default());
        }
        for ws in &mut self.evals[..workers] {
            ws.reserve(&self.layers, EVAL_CHUNK.min(rows), false);
        }
        // The first layer's sparse forward product, for chunks whose inputs are mostly
        // zeros (as in training: the chunk's data alone decides).
        let sparse =
            self.layers.len() > 1 && SparseInput::eligible(inputs, EVAL_CHUNK.min(rows), 1);
        if sparse {
            if self.eval_lists.len() < workers {
                self.eval_lists.resize(workers, SparseInput::default());
            }
            for lists in &mut self.eval_lists[..workers] {
                lists.reserve_rows(EVAL_CHUNK.min(rows), inputs);
            }
        }
        let lists = SendPtr(self.eval_lists.as_mut_ptr());
        self.eval_parts.clear();
        self.eval_parts.resize(chunks, (0.0, 0));
        let net = View {
            spec: &self.spec,
            layers: &self.layers,
            params: &self.params,
        };
        let running = &self.running;
        let loss = self.spec.loss;
        let ws = SendPtr(self.evals.as_mut_ptr());
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
            // SAFETY: as the workspace: the thread's lists are its own, reserved above for
            // a chunk (`sparse`).
            let listed = sparse.then(|| unsafe { (*lists.get().add(worker)).pointers(1) });
            let listed = listed.filter(|ptrs| unsafe { ptrs.list_chunk(xs, n) });
            forward(net, ws, xs, n, running, listed);
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

    /// Slices of a batch of `rows` rows: by its size alone (see [`SLICE_ROWS`]).
    fn slice_count(&self, rows: usize) -> usize {
        rows.div_ceil(SLICE_ROWS).clamp(1, MAX_SLICES)
    }
}
