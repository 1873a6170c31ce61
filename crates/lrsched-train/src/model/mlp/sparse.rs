//! The first layer's two products for a batch whose inputs are mostly exact zeros (81% of
//! MNIST's pixels are): the forward product `h = x W^T` and the weight gradient
//! `dW = delta^T x` over the nonzero inputs only.
//!
//! Why: on MNIST the first layer is 75% of a 784-512-256-10 step's multiply-adds and 98%
//! of a 784-128-10 step's, and a dense product spends four fifths of them on zeros. Here
//! each slice's unit, right after gathering its rows, lists their nonzeros twice: by row
//! (for the forward product) and by input (for the weight gradient); an evaluation chunk
//! is listed by row alone ([`SparsePtrs::list_chunk`]) for the forward product. Measured on MNIST
//! batches (density 0.19), one 128-column block on one thread, in a standalone prototype
//! of the first kernels: forward 203 us against gemm's 450, weight gradient 314 against
//! 566 (batch 256).
//!
//! Each output is one chain of fused multiply-adds over its nonzero terms in a fixed order
//! (ascending input for the forward product, ascending row for the gradient), in whichever
//! vector width the CPU has: the same bits on every thread count and ISA. They are not the
//! bits of the dense product (gemm sums in its own blocked order), so whether a step is
//! sparse depends on its batch alone: every slice's rows at most [`MAX_DENSITY`] nonzero.
//! (The one difference from the dense chain: a zero input times an infinite weight is NaN
//! there and nothing here. Weights only become infinite through an update with
//! non-finite gradients, which the divergence check stops first.)

use super::blocks::SendPtr;

/// The largest share of nonzero inputs in each slice of a batch for the sparse products.
/// Measured (engine bench, 2 threads, step median, MNIST with zeros turned into 0.05 at
/// random to raise its density, sparse against dense on the same data): 784-128-10 b64 at
/// density 0.19 0.147-0.153 ms against 0.168-0.172, at 0.26 0.167 against 0.160, at 0.31
/// 0.178-0.185 against 0.160-0.187; 784-512-256-10 b256 at 0.19 2.19-2.20 against
/// 2.68-2.71 ms, at 0.31 2.48-2.56 against 2.56-2.81, at 0.37 2.71 against 2.78, at 0.43
/// 3.22 against 3.39, at 0.56 3.42 against 2.83. The smaller network breaks even near a
/// quarter, so that is the limit.
pub(super) const MAX_DENSITY: f64 = 0.25;

/// Extra entries after each slice's part of the lists: the AVX-512 builder stores 16 values
/// at a time and keeps as many of them as were nonzero.
const SLACK: usize = 16;

/// The nonzero inputs of a training batch, listed by row and by input, slice by slice.
#[derive(Debug, Clone, Default)]
pub(super) struct SparseInput {
    /// Per row, where its nonzeros start and end in `csr_col` / `csr_val`.
    row_span: Vec<[u32; 2]>,
    csr_col: Vec<u32>,
    csr_val: Vec<f32>,
    /// Per slice, `inputs + 1` offsets: where each input's nonzeros (of that slice's rows)
    /// start in `csc_row` / `csc_val`, and where the last one's end.
    col_ptr: Vec<u32>,
    csc_row: Vec<u32>,
    csc_val: Vec<f32>,
    /// Per slice, whether its rows were listed (false: denser than [`MAX_DENSITY`]).
    listed: Vec<bool>,
    /// The batch's rows transposed slice by slice (each slice's inputs x its rows).
    columns: Vec<f32>,
    inputs: usize,
}

/// Pointers to a [`SparseInput`]'s buffers for the units of a step.
#[derive(Debug, Clone, Copy)]
pub(super) struct SparsePtrs {
    row_span: SendPtr<[u32; 2]>,
    csr_col: SendPtr<u32>,
    csr_val: SendPtr<f32>,
    col_ptr: SendPtr<u32>,
    csc_row: SendPtr<u32>,
    csc_val: SendPtr<f32>,
    listed: SendPtr<bool>,
    columns: SendPtr<f32>,
    inputs: usize,
    /// The step's slices.
    slices: usize,
    /// The kernels' instruction set (`None`: portable Rust, for the tests).
    isa: Option<Isa>,
}

/// Whether this CPU runs the sparse products, and how wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Avx512,
    Avx2,
}

fn isa() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return Some(Isa::Avx512);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Some(Isa::Avx2);
        }
    }
    None
}

impl SparseInput {
    /// Whether a first layer `inputs` wide, with `rows` rows a batch, may take the sparse
    /// products: inputs a multiple of 16 (its weight blocks are then transposed, what the
    /// forward product reads) and at least 64, offsets that fit `u32`, and a CPU with
    /// AVX2 and FMA or AVX-512.
    pub(super) fn eligible(inputs: usize, rows: usize, slices: usize) -> bool {
        inputs >= 64
            && inputs.is_multiple_of(16)
            && rows
                .checked_mul(inputs)
                .and_then(|n| n.checked_add((slices + 1) * SLACK))
                .is_some_and(|n| n < u32::MAX as usize)
            && isa().is_some()
    }

    /// Room for `rows` rows of `inputs` inputs in `slices` slices (it only grows).
    pub(super) fn reserve(&mut self, rows: usize, inputs: usize, slices: usize) {
        let entries = rows * inputs + (slices + 1) * SLACK;
        self.inputs = inputs;
        let grow = |len: usize, want: usize| len.max(want);
        self.row_span
            .resize(grow(self.row_span.len(), rows), [0, 0]);
        for v in [&mut self.csr_col, &mut self.csc_row] {
            v.resize(grow(v.len(), entries), 0);
        }
        for v in [&mut self.csr_val, &mut self.csc_val] {
            v.resize(grow(v.len(), entries), 0.0);
        }
        self.columns
            .resize(grow(self.columns.len(), rows * inputs), 0.0);
        self.col_ptr
            .resize(grow(self.col_ptr.len(), slices * (inputs + 1)), 0);
        self.listed.resize(grow(self.listed.len(), slices), false);
    }

    /// Room for listing `rows` rows of `inputs` inputs by row alone (an evaluation chunk's,
    /// for [`SparsePtrs::list_chunk`]; it only grows).
    pub(super) fn reserve_rows(&mut self, rows: usize, inputs: usize) {
        let entries = rows * inputs + SLACK;
        self.inputs = inputs;
        let grow = |len: usize, want: usize| len.max(want);
        self.row_span
            .resize(grow(self.row_span.len(), rows), [0, 0]);
        self.csr_col.resize(grow(self.csr_col.len(), entries), 0);
        self.csr_val.resize(grow(self.csr_val.len(), entries), 0.0);
    }

    /// Pointers to the buffers, for a step of `slices` slices.
    pub(super) fn pointers(&mut self, slices: usize) -> SparsePtrs {
        SparsePtrs {
            row_span: SendPtr(self.row_span.as_mut_ptr()),
            csr_col: SendPtr(self.csr_col.as_mut_ptr()),
            csr_val: SendPtr(self.csr_val.as_mut_ptr()),
            col_ptr: SendPtr(self.col_ptr.as_mut_ptr()),
            csc_row: SendPtr(self.csc_row.as_mut_ptr()),
            csc_val: SendPtr(self.csc_val.as_mut_ptr()),
            listed: SendPtr(self.listed.as_mut_ptr()),
            columns: SendPtr(self.columns.as_mut_ptr()),
            inputs: self.inputs,
            slices,
            isa: isa(),
        }
    }

    /// Whether every one of the first `slices` slices was listed by this step's
    /// [`SparsePtrs::list_slice`]s (false where nothing was reserved for them: a step
    /// that could not take the sparse products).
    pub(super) fn all_listed(&self, slices: usize) -> bool {
        self.listed
            .get(..slices)
            .is_some_and(|listed| listed.iter().all(|&l| l))
    }
}

impl SparsePtrs {
    /// Lists the nonzeros of slice `s` (rows `start..start + rows` of the batch, whose
    /// values are `x`), by row and then by input, unless more than [`MAX_DENSITY`] of them
    /// are nonzero (it then stops, and the slice is marked unlisted).
    ///
    /// # Safety
    /// The buffers were reserved for the batch and its slices; `x` holds the slice's
    /// `rows x inputs` values; nothing else touches slice `s`'s part of the buffers
    /// meanwhile.
    pub(super) unsafe fn list_slice(self, x: &[f32], s: usize, start: usize, rows: usize) {
        let inputs = self.inputs;
        let base = start * inputs + s * SLACK;
        let listed = self.listed.get().add(s);
        *listed = false;
        let isa = self.isa;
        let Some(end) = self.list_by_row(x, base, start, rows) else {
            return;
        };
        let ptr =
            std::slice::from_raw_parts_mut(self.col_ptr.get().add(s * (inputs + 1)), inputs + 1);
        // By input, on AVX-512 with rows a multiple of 8: the slice transposed (each input's
        // values for the slice's rows side by side), then each input's listed as a row is.
        // Measured (perf, 784-128-10 b64): the listing took 12.1% of the threads' time with
        // the counting sort below for every slice, 9.2% this way (its transposition included).
        #[cfg(target_arch = "x86_64")]
        if isa == Some(Isa::Avx512) && rows.is_multiple_of(8) {
            let columns = self.columns.get().add(start * inputs);
            if super::kernels::transpose(rows, inputs, x.as_ptr(), columns) {
                let mut at = base;
                for (i, column) in ptr.iter_mut().zip(0..inputs) {
                    *i = at as u32;
                    let values = std::slice::from_raw_parts(columns.add(column * rows), rows);
                    let (row_out, val_out) =
                        (self.csc_row.get().add(at), self.csc_val.get().add(at));
                    at += x86::list_row_avx512(values, start as u32, row_out, val_out);
                }
                ptr[inputs] = at as u32;
                *listed = true;
                return;
            }
        }
        // Otherwise count each input's nonzeros, turn the counts into starts, place each
        // entry at its input's cursor (rows in order), then shift the cursors (now ends)
        // back into starts.
        ptr.fill(0);
        let cols = std::slice::from_raw_parts(self.csr_col.get().add(base), end - base);
        let vals = std::slice::from_raw_parts(self.csr_val.get().add(base), end - base);
        for &c in cols {
            ptr[c as usize + 1] += 1;
        }
        ptr[0] = base as u32;
        for i in 0..inputs {
            ptr[i + 1] += ptr[i];
        }
        let (row_out, val_out) = (self.csc_row.get(), self.csc_val.get());
        for r in start..start + rows {
            let [b, e] = *self.row_span.get().add(r);
            for k in (b - base as u32) as usize..(e - base as u32) as usize {
                let slot = &mut ptr[cols[k] as usize];
                *row_out.add(*slot as usize) = r as u32;
                *val_out.add(*slot as usize) = vals[k];
                *slot += 1;
            }
        }
        for i in (1..=inputs).rev() {
            ptr[i] = ptr[i - 1];
        }
        ptr[0] = base as u32;
        *listed = true;
    }

    /// Lists the nonzeros of an evaluation chunk's `rows` rows (`x`) by row alone, unless
    /// more than [`MAX_DENSITY`] of them are nonzero; whether it did (then [`Self::forward`]
    /// may run on them). The pointers are a [`SparseInput`]'s reserved for the chunk by
    /// [`SparseInput::reserve_rows`].
    ///
    /// # Safety
    /// As [`Self::list_slice`], for one slice of `rows` rows.
    pub(super) unsafe fn list_chunk(self, x: &[f32], rows: usize) -> bool {
        self.list_by_row(x, 0, 0, rows).is_some()
    }

    /// Rows `start..start + rows` of the batch (values `x`) listed by row from entry `base`
    /// on; the end of their entries, or `None` once more than [`MAX_DENSITY`] of their
    /// values turn out nonzero.
    ///
    /// # Safety
    /// As [`Self::list_slice`].
    unsafe fn list_by_row(
        self,
        x: &[f32],
        base: usize,
        start: usize,
        rows: usize,
    ) -> Option<usize> {
        let inputs = self.inputs;
        let limit = (MAX_DENSITY * (rows * inputs) as f64) as usize;
        let mut end = base;
        for (r, row) in (start..start + rows).zip(x.chunks_exact(inputs)) {
            let (col, val) = (self.csr_col.get().add(end), self.csr_val.get().add(end));
            let n = match self.isa {
                #[cfg(target_arch = "x86_64")]
                Some(Isa::Avx512) => x86::list_row_avx512(row, 0, col, val),
                _ => list_row(row, col, val),
            };
            *self.row_span.get().add(r) = [end as u32, (end + n) as u32];
            end += n;
            if end - base > limit {
                return None;
            }
        }
        Some(end)
    }

    /// `h[r, 0..m]` (rows `hs` apart) `= sum over row r's nonzeros (i, v) of v * wt[i, 0..m]`
    /// for rows `0..rows`: the forward product of a block of `m` columns, from its weights
    /// transposed (`wt`: `inputs x m`, rows `m` apart).
    ///
    /// # Safety
    /// Every slice of the batch was listed; `wt` holds `inputs x m` values; `h` is valid
    /// for writes of `rows` rows of `m` values and nothing else touches them meanwhile.
    pub(super) unsafe fn forward(
        self,
        rows: usize,
        wt: *const f32,
        m: usize,
        h: *mut f32,
        hs: usize,
    ) {
        self.run(Product::Forward { rows, wt, m, h, hs })
    }

    /// `dwt[i, 0..m]` (rows `m` apart) `= sum over the batch's rows r with a nonzero
    /// input i (value v), in order, of v * delta[r, 0..m]` (`delta`'s rows `ds` apart):
    /// a block of `m` rows of the weight gradient, transposed.
    ///
    /// # Safety
    /// Every slice was listed; `delta` holds the batch's rows; `dwt` is valid for writes of
    /// `inputs x m` values and nothing else touches them meanwhile.
    pub(super) unsafe fn weight_grad(self, delta: *const f32, ds: usize, m: usize, dwt: *mut f32) {
        self.run(Product::Gradient { delta, ds, m, dwt })
    }

    /// [`product`] in the widest vectors of this step's instruction set.
    unsafe fn run(self, job: Product) {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Some(Isa::Avx512) => x86::product_avx512(self, job),
            #[cfg(target_arch = "x86_64")]
            Some(Isa::Avx2) => x86::product_avx2(self, job),
            _ => product::<16>(self, job),
        }
    }
}

/// Writes row's nonzeros (their indices and values) at `col` and `val`; returns how many.
///
/// # Safety
/// `col` and `val` are valid for writes of `row.len()` values.
unsafe fn list_row(row: &[f32], col: *mut u32, val: *mut f32) -> usize {
    let mut n = 0;
    for (i, &v) in row.iter().enumerate() {
        // Written every time, kept when nonzero: no branch on the data.
        *col.add(n) = i as u32;
        *val.add(n) = v;
        n += (v != 0.0) as usize;
    }
    n
}

/// Runs `f::<W>(args)` over the columns `0..m` in chunks: `MAX` wide (a const), then 64,
/// 16 and one, with `c0` the chunk's first column.
macro_rules! by_chunks {
    ($max:ident, $m:expr, $c0:ident => $f:ident($($arg:expr),*)) => {{
        let mut $c0 = 0;
        while $m - $c0 >= $max {
            $f::<$max>($($arg),*);
            $c0 += $max;
        }
        while $max > 64 && $m - $c0 >= 64 {
            $f::<64>($($arg),*);
            $c0 += 64;
        }
        while $m - $c0 >= 16 {
            $f::<16>($($arg),*);
            $c0 += 16;
        }
        while $c0 < $m {
            $f::<1>($($arg),*);
            $c0 += 1;
        }
    }};
}

/// One of the two products, with what it writes: [`SparsePtrs::forward`]'s or
/// [`SparsePtrs::weight_grad`]'s arguments.
#[derive(Debug, Clone, Copy)]
enum Product {
    Forward {
        rows: usize,
        wt: *const f32,
        m: usize,
        h: *mut f32,
        hs: usize,
    },
    Gradient {
        delta: *const f32,
        ds: usize,
        m: usize,
        dwt: *mut f32,
    },
}

/// Where a product's sums take their terms: term `k` is `val[k]` times row `idx[k]` of
/// `rows` (`stride` apart): the listing by row and the transposed weights for the forward
/// product, the listing by input and the deltas for the gradient.
#[derive(Debug, Clone, Copy)]
struct Terms {
    idx: *const u32,
    val: *const f32,
    rows: *const f32,
    stride: usize,
}

/// A product two sums at a time (two rows of the forward product, two inputs' rows of the
/// gradient), in chunks of `MAX` columns (the widest the ISA keeps in registers for two
/// sums: 128 with AVX-512's 32 registers, measured faster than 64 on 128-column blocks),
/// then 64, 16 and one. The gradient goes slice by slice: a slice's deltas (32 to 64 rows
/// of the block) stay in L1 while every input's terms in it are added, the gradient rows
/// carried from one slice to the next, so each sum keeps its order.
#[inline(always)]
unsafe fn product<const MAX: usize>(p: SparsePtrs, job: Product) {
    match job {
        Product::Forward { rows, wt, m, h, hs } => {
            let terms = Terms {
                idx: p.csr_col.get(),
                val: p.csr_val.get(),
                rows: wt,
                stride: m,
            };
            for r0 in (0..rows).step_by(2) {
                // A last odd row is paired with an empty one (no terms, nothing written).
                let n = (rows - r0).min(2);
                let span = |k: usize| {
                    if k < n {
                        (*p.row_span.get().add(r0 + k)).map(|v| v as usize)
                    } else {
                        [0, 0]
                    }
                };
                let spans = [span(0), span(1)];
                let out = [h.add(r0 * hs), h.wrapping_add((r0 + 1) * hs)];
                by_chunks!(MAX, m, c0 => sum_chunk(terms, spans, n, out, c0, false));
            }
        }
        Product::Gradient { delta, ds, m, dwt } => {
            let terms = Terms {
                idx: p.csc_row.get(),
                val: p.csc_val.get(),
                rows: delta,
                stride: ds,
            };
            for s in 0..p.slices {
                for i in (0..p.inputs).step_by(2) {
                    let n = (p.inputs - i).min(2);
                    // The second input's entries follow the first's.
                    let ptr = p.col_ptr.get().add(s * (p.inputs + 1) + i);
                    let (b0, e0) = (*ptr as usize, *ptr.add(1) as usize);
                    let e1 = if n == 2 { *ptr.add(2) as usize } else { e0 };
                    let out = [dwt.add(i * m), dwt.wrapping_add((i + 1) * m)];
                    let spans = [[b0, e0], [e0, e1]];
                    by_chunks!(MAX, m, c0 => sum_chunk(terms, spans, n, out, c0, s > 0));
                }
            }
        }
    }
}

/// Columns `c0..c0 + W` of the first `n` of two sums, stored at `out`: their terms
/// (entries `spans[0]` and `spans[1]` of `terms`) added to what `out` holds (`more`) or to
/// zero. Two sums at once: each accumulator is one chain of dependent multiply-adds, and
/// two sums' chains keep twice as many in flight (a 64-column chunk alone waits on its 4).
/// Each sum still takes its terms in order.
#[inline(always)]
unsafe fn sum_chunk<const W: usize>(
    terms: Terms,
    [[b0, e0], [b1, e1]]: [[usize; 2]; 2],
    n: usize,
    out: [*mut f32; 2],
    c0: usize,
    more: bool,
) {
    let mut acc = [[0.0f32; W]; 2];
    if more {
        for (acc, o) in acc.iter_mut().zip(out).take(n) {
            *acc = (o.add(c0) as *const [f32; W]).read_unaligned();
        }
    }
    let term = |acc: &mut [f32; W], k: usize| {
        let v = *terms.val.add(k);
        let row = terms
            .rows
            .add(*terms.idx.add(k) as usize * terms.stride + c0);
        let row = &*(row as *const [f32; W]);
        for j in 0..W {
            acc[j] = v.mul_add(row[j], acc[j]);
        }
    };
    let both = (e0 - b0).min(e1 - b1);
    for k in 0..both {
        let [a0, a1] = &mut acc;
        term(a0, b0 + k);
        term(a1, b1 + k);
    }
    for k in b0 + both..e0 {
        term(&mut acc[0], k);
    }
    for k in b1 + both..e1 {
        term(&mut acc[1], k);
    }
    for (o, acc) in out.iter().zip(acc).take(n) {
        (o.add(c0) as *mut [f32; W]).write_unaligned(acc);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// [`list_row`] 16 inputs at a time, the indices counted from `first`: compare with
    /// zero, compress the nonzero values and their indices to the front of a vector, store
    /// all 16, keep the nonzero ones.
    ///
    /// # Safety
    /// As [`list_row`], with room for [`SLACK`] more values; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn list_row_avx512(
        row: &[f32],
        first: u32,
        col: *mut u32,
        val: *mut f32,
    ) -> usize {
        let mut n = 0;
        let mut i = 0;
        let lanes = _mm512_add_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(first as i32),
        );
        while i + 16 <= row.len() {
            let v = _mm512_loadu_ps(row.as_ptr().add(i));
            // Not equal, or unordered: a NaN input is listed (and spreads as in a dense
            // product); -0.0 is not, as adding it changes no sum.
            let nonzero = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, _mm512_setzero_ps());
            if nonzero != 0 {
                let index = _mm512_add_epi32(lanes, _mm512_set1_epi32(i as i32));
                _mm512_storeu_ps(val.add(n), _mm512_maskz_compress_ps(nonzero, v));
                _mm512_storeu_si512(
                    col.add(n) as *mut _,
                    _mm512_maskz_compress_epi32(nonzero, index),
                );
                n += nonzero.count_ones() as usize;
            }
            i += 16;
        }
        n + list_row_tail(&row[i..], first + i as u32, col.add(n), val.add(n))
    }

    unsafe fn list_row_tail(row: &[f32], first: u32, col: *mut u32, val: *mut f32) -> usize {
        let n = list_row(row, col, val);
        for k in 0..n {
            *col.add(k) += first;
        }
        n
    }

    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn product_avx512(p: SparsePtrs, job: Product) {
        product::<128>(p, job)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product_avx2(p: SparsePtrs, job: Product) {
        product::<32>(p, job)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sparse_data as sparse_rows;
    use super::*;

    /// Lists `x` (`rows x inputs`) in `slices` slices as a training step does, with the
    /// kernels of `isa`.
    fn listed(
        x: &[f32],
        rows: usize,
        inputs: usize,
        slices: usize,
        isa: Option<Isa>,
    ) -> (SparseInput, SparsePtrs) {
        let mut sparse = SparseInput::default();
        sparse.reserve(rows, inputs, slices);
        let ptrs = SparsePtrs {
            isa,
            ..sparse.pointers(slices)
        };
        for s in 0..slices {
            let (start, end) = (s * rows / slices, (s + 1) * rows / slices);
            // SAFETY: reserved above for these rows and slices; one slice at a time.
            unsafe { ptrs.list_slice(&x[start * inputs..end * inputs], s, start, end - start) };
        }
        (sparse, ptrs)
    }

    /// The products as one chain of fused multiply-adds over every input in order (zeros
    /// included): adding `0 * w` leaves a sum as it is, so the sparse products must give
    /// these bits exactly.
    #[test]
    fn the_products_are_the_dense_chains_bit_for_bit() {
        // Every instruction set this CPU has, and the portable kernels: the same bits.
        let mut isas = vec![None];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                isas.push(Some(Isa::Avx2));
            }
            if std::is_x86_feature_detected!("avx512f") {
                isas.push(Some(Isa::Avx512));
            }
        }
        // Slices of 12 and 13 rows (listed by input with a counting sort), and of 32 and 16
        // (by the slice transposed, on AVX-512).
        for isa in isas {
            for (rows, slices) in [(37, 3), (64, 2), (48, 3)] {
                products_are_chains(rows, slices, isa);
            }
        }
    }

    fn products_are_chains(rows: usize, slices: usize, isa: Option<Isa>) {
        let inputs = 96;
        let mut x = sparse_rows(rows, inputs, 0.15, 1);
        x[5 * inputs..6 * inputs].fill(0.0); // a row with no nonzero at all
        let (sparse, ptrs) = listed(&x, rows, inputs, slices, isa);
        assert!(sparse.all_listed(slices));
        for m in [128, 72, 5] {
            let wt = sparse_rows(inputs, m, 1.0, 2);
            let mut h = vec![f32::NAN; rows * (m + 3)];
            // SAFETY: listed; wt is inputs x m; h holds rows rows m + 3 apart.
            unsafe { ptrs.forward(rows, wt.as_ptr(), m, h.as_mut_ptr(), m + 3) };
            for r in 0..rows {
                for j in 0..m {
                    let chain = (0..inputs).fold(0.0f32, |acc, i| {
                        x[r * inputs + i].mul_add(wt[i * m + j], acc)
                    });
                    assert_eq!(
                        h[r * (m + 3) + j].to_bits(),
                        chain.to_bits(),
                        "{isa:?} m {m} row {r} col {j}"
                    );
                }
            }
            let delta = sparse_rows(rows, m + 3, 1.0, 3);
            let mut dwt = vec![f32::NAN; inputs * m];
            // SAFETY: listed; delta holds rows rows m + 3 apart; dwt inputs x m.
            unsafe { ptrs.weight_grad(delta.as_ptr(), m + 3, m, dwt.as_mut_ptr()) };
            for i in 0..inputs {
                for j in 0..m {
                    let chain = (0..rows).fold(0.0f32, |acc, r| {
                        x[r * inputs + i].mul_add(delta[r * (m + 3) + j], acc)
                    });
                    assert_eq!(
                        dwt[i * m + j].to_bits(),
                        chain.to_bits(),
                        "{isa:?} m {m} input {i} col {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_dense_slice_is_not_listed() {
        let (rows, inputs) = (64, 64);
        let mut x = sparse_rows(rows, inputs, 0.05, 4);
        let (sparse, _) = listed(&x, rows, inputs, 2, isa());
        assert!(sparse.all_listed(2));
        // The second slice's rows a third nonzero: over MAX_DENSITY, though the batch's
        // average (about 0.2) is not.
        x[32 * inputs..].copy_from_slice(&sparse_rows(32, inputs, 0.35, 5));
        let nonzero = x.iter().filter(|v| **v != 0.0).count() as f64 / x.len() as f64;
        assert!(nonzero < MAX_DENSITY, "{nonzero}");
        let (sparse, _) = listed(&x, rows, inputs, 2, isa());
        assert!(!sparse.all_listed(2));
        assert!(sparse.listed[0]);
    }

    #[test]
    fn small_or_odd_widths_are_not_eligible() {
        assert_eq!(SparseInput::eligible(784, 64, 2), isa().is_some());
        assert!(!SparseInput::eligible(32, 64, 2));
        assert!(!SparseInput::eligible(100, 64, 2));
        assert!(!SparseInput::eligible(784, 1 << 23, 4));
    }
}
