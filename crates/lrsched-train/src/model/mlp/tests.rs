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

/// `rows x inputs` values, about `density` of them nonzero (normal), the rest zeros (and
/// some -0.0, which count as zeros): inputs that take the first layer's sparse products.
pub(super) fn sparse_data(rows: usize, inputs: usize, density: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..rows * inputs)
        .map(|_| {
            let u = rng.next_f64();
            if u < density {
                rng.normal() as f32
            } else if u < density + 0.05 {
                -0.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Whether this CPU takes the sparse products (AVX2 and FMA, or AVX-512) for 784 inputs.
fn sparse_capable() -> bool {
    sparse::SparseInput::eligible(784, 128, 4)
}

/// MNIST-like inputs: a fifth nonzero.
fn sparse(rows: usize, inputs: usize) -> Vec<f32> {
    sparse_data(rows, inputs, 0.2, 3)
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

/// Trains `steps` steps of SGD with momentum on `threads` threads (real threads, in
/// parallel even where the machine has one core) and returns every bit that matters:
/// losses, parameters, BatchNorm buffers, the dropout generator and the evaluation.
fn train_bits(
    spec: ModelSpec,
    batch: usize,
    steps: usize,
    threads: usize,
    inputs_of: Inputs,
) -> Vec<u64> {
    {
        let rows = 600; // not a multiple of the batch: short batches too
        let inputs = spec.sizes[0];
        let outputs = *spec.sizes.last().unwrap();
        let x = inputs_of(rows, inputs);
        let classes: Vec<u32> = (0..rows as u32)
            .map(|i| (i * 7) % outputs.max(2) as u32)
            .collect();
        let values: Vec<f32> = x.iter().step_by(inputs).copied().collect();
        let regression = spec.loss == Loss::Mse;
        let mut mlp = Mlp::new(spec, 9, batch).with_threads(threads);
        // As the trainer steps: rows gathered by the step's threads, the optimizer's
        // update shared among them, cut at the gradient blocks.
        let n_params = mlp.params().len();
        let mut opt = crate::optim::Optimizer::new(
            crate::optim::OptimizerConfig {
                momentum: Some(0.9),
                ..crate::optim::OptimizerConfig::new(crate::optim::OptimizerKind::Momentum)
            },
            vec![crate::optim::ParamGroup::new(0..n_params)],
            n_params,
        )
        .unwrap();
        let (pool, cuts) = (mlp.threads(), mlp.update_cuts());
        let mut bits = Vec::new();
        let mut start = 0;
        for _ in 0..steps {
            let n = batch.min(rows - start);
            let gather = |first: usize, count: usize, out: &mut [f32]| {
                let from = (start + first) * inputs;
                out.copy_from_slice(&x[from..from + count * inputs]);
            };
            let t = if regression {
                BatchTargets::Values(&values[start..start + n])
            } else {
                BatchTargets::Classes(&classes[start..start + n])
            };
            let loss = mlp.train_step_from(BatchInput::Gather(&gather), t, n);
            bits.push(loss.to_bits() as u64);
            bits.push(mlp.grads_finite() as u64);
            let (p, g) = mlp.params_and_grads();
            opt.step_on(p, g, 0.01, None, &|k, f| pool.run(k, f), &cuts)
                .unwrap();
            start = if start + n == rows { 0 } else { start + n };
        }
        let t = if regression {
            BatchTargets::Values(&values)
        } else {
            BatchTargets::Classes(&classes)
        };
        let (loss, acc) = mlp.evaluate(&x, t, rows);
        bits.extend([
            loss.to_bits(),
            acc.unwrap_or(-1.0).to_bits(),
            mlp.rng_state(),
        ]);
        bits.extend(mlp.params().iter().map(|p| p.to_bits() as u64));
        bits.extend(mlp.buffers().iter().map(|p| p.to_bits() as u64));
        bits
    }
}

/// Makes `rows x inputs` input values.
type Inputs = fn(usize, usize) -> Vec<f32>;

/// The invariant of the parallel engine: a few hundred steps on 1, 2 or 3 threads end
/// in the same bits.
#[test]
fn training_on_one_or_two_threads_gives_the_same_bits() {
    let classes = Task::Classification { classes: 10 };
    let mut dropout = spec("64-32", 784, &classes, Activation::Gelu, false);
    dropout.dropout = 0.2;
    let mut norm_dropout = spec("96-32", 784, &classes, Activation::Relu, true);
    norm_dropout.dropout = 0.1;
    let mut sparse_dropout = spec("72-16", 96, &classes, Activation::Relu, true);
    sparse_dropout.dropout = 0.1;
    let cases: [(ModelSpec, usize, usize, Inputs); 9] = [
        // The MNIST recipe's network and batch: two slices per batch.
        (
            spec("128", 784, &classes, Activation::Relu, false),
            64,
            300,
            data,
        ),
        // The same on MNIST-like inputs: the first layer's sparse products.
        (
            spec("128", 784, &classes, Activation::Relu, false),
            64,
            300,
            sparse,
        ),
        // Sparse, in 128-column blocks, 4 slices and a short last batch.
        (
            spec("256-32", 784, &classes, Activation::Relu, false),
            112,
            20,
            sparse,
        ),
        // Sparse with BatchNorm and dropout, a partial 8-column block (72 = 64 + 8).
        (sparse_dropout, 50, 20, sparse),
        // Several layers, dropout, 4 uneven slices and a short last batch.
        (dropout, 100, 40, data),
        // BatchNorm: one whole-batch slice, weight gradients still shared.
        (
            spec("64", 784, &classes, Activation::Tanh, true),
            64,
            40,
            data,
        ),
        // BatchNorm and dropout on two layers, a partial column block (96 = 64 + 32), the
        // backward pass in column blocks through both.
        (norm_dropout, 50, 20, data),
        // A layer in 128-column blocks, the last one partial (288 = 2 x 128 + 32), with
        // BatchNorm, above a layer in 64-column blocks.
        (
            spec("288-40", 784, &classes, Activation::Relu, true),
            48,
            10,
            data,
        ),
        (
            spec("16", 784, &Task::Regression, Activation::Sigmoid, false),
            256,
            20,
            data,
        ),
    ];
    for (spec, batch, steps, inputs) in cases {
        let one = train_bits(spec.clone(), batch, steps, 1, inputs);
        assert!(one[..2 * steps]
            .chunks(2)
            .all(|b| f32::from_bits(b[0] as u32).is_finite() && b[1] == 1));
        assert!(
            one == train_bits(spec.clone(), batch, steps, 2, inputs),
            "{spec:?} batch {batch}"
        );
        assert!(
            one == train_bits(spec, batch, steps, 3, inputs),
            "batch {batch}, 3 threads"
        );
    }
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
    // Sparse inputs: the first layer's sparse products.
    let x64 = sparse_data(6, 64, 0.15, 8);
    for bn in [false, true] {
        let mlp = Mlp::new(spec("20-3", 64, &task, Activation::Tanh, bn), 11, 6);
        let mut probe = mlp.clone();
        probe.train_step(&x64, BatchTargets::Classes(&labels), 6);
        assert_eq!(
            probe.sparse.all_listed(probe.slice_count(6)),
            sparse_capable()
        );
        check_gradients(mlp, &x64, BatchTargets::Classes(&labels), 6);
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

#[test]
fn the_transposition_is_exact() {
    // The fast way's sizes, and (20 x 64, 5 x 7) the value-by-value one's.
    for (m, n) in [(8, 256), (64, 512), (32, 784), (20, 64), (5, 7)] {
        let w = data(m, n);
        let mut wt = vec![f32::NAN; m * n];
        // SAFETY: both hold m x n values and are distinct.
        unsafe { super::kernels::transpose_any(m, n, w.as_ptr(), wt.as_mut_ptr()) };
        for i in 0..m {
            for k in 0..n {
                assert_eq!(
                    wt[k * m + i].to_bits(),
                    w[i * n + k].to_bits(),
                    "{m}x{n} at {i},{k}"
                );
            }
        }
    }
}

#[test]
fn sparse_inputs_take_the_sparse_products_and_dense_ones_do_not() {
    let task = Task::Classification { classes: 10 };
    let labels: Vec<u32> = (0..128).map(|i| i % 10).collect();
    for (x, sparse) in [(sparse(128, 784), true), (data(128, 784), false)] {
        let mut mlp = Mlp::new(spec("256", 784, &task, Activation::Relu, false), 4, 128);
        assert!(mlp
            .train_step(&x, BatchTargets::Classes(&labels), 128)
            .is_finite());
        assert_eq!(
            mlp.sparse.all_listed(mlp.slice_count(128)),
            sparse && sparse_capable()
        );
    }
}

#[test]
fn a_nan_or_infinite_input_on_the_sparse_path_is_seen() {
    let task = Task::Classification { classes: 10 };
    let labels: Vec<u32> = (0..128).map(|i| i % 10).collect();
    for bad in [f32::NAN, f32::INFINITY] {
        let mut x = sparse(128, 784);
        x[70 * 784 + 3] = bad;
        let mut mlp = Mlp::new(spec("256", 784, &task, Activation::Relu, false), 4, 128);
        let loss = mlp.train_step(&x, BatchTargets::Classes(&labels), 128);
        assert_eq!(
            mlp.sparse.all_listed(mlp.slice_count(128)),
            sparse_capable()
        );
        assert!(!mlp.grads_finite(), "{bad}: loss {loss}");
    }
}

#[test]
fn evaluation_of_sparse_inputs_agrees_with_a_plain_forward_pass() {
    let task = Task::Classification { classes: 10 };
    let (rows, inputs, hidden) = (1100, 784, 192);
    // Two full chunks and a short one; the second dense, so it takes gemm while the
    // others take the sparse product.
    let mut x = sparse_data(rows, inputs, 0.2, 5);
    x[EVAL_CHUNK * inputs..2 * EVAL_CHUNK * inputs].copy_from_slice(&data(EVAL_CHUNK, inputs));
    let labels: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % 10).collect();
    let spec = spec(&hidden.to_string(), inputs, &task, Activation::Relu, false);
    let mut mlp = Mlp::new(spec, 4, 64).with_threads(2);
    let (loss, accuracy) = mlp.evaluate(&x, BatchTargets::Classes(&labels), rows);
    assert_eq!(
        !mlp.eval_lists.is_empty(),
        sparse_capable(),
        "lists for the chunks"
    );
    let mut p = mlp.params().to_vec();
    mlp.to_torch_order(&mut p);
    let (w1, rest) = p.split_at(hidden * inputs);
    let (b1, rest) = rest.split_at(hidden);
    let (w2, b2) = rest.split_at(10 * hidden);
    let (mut total, mut correct) = (0.0f64, 0usize);
    for (row, &label) in x.chunks_exact(inputs).zip(&labels) {
        let h: Vec<f64> = (0..hidden)
            .map(|j| {
                let w = &w1[j * inputs..(j + 1) * inputs];
                let s: f64 = row.iter().zip(w).map(|(&a, &b)| a as f64 * b as f64).sum();
                (s + b1[j] as f64).max(0.0)
            })
            .collect();
        let z: Vec<f64> = (0..10)
            .map(|k| {
                let w = &w2[k * hidden..(k + 1) * hidden];
                h.iter().zip(w).map(|(&a, &b)| a * b as f64).sum::<f64>() + b2[k] as f64
            })
            .collect();
        let top = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = top + z.iter().map(|v| (v - top).exp()).sum::<f64>().ln();
        total += log_sum - z[label as usize];
        let best = (0..10).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap();
        correct += (best == label as usize) as usize;
    }
    let expected = total / rows as f64;
    assert!(
        (loss - expected).abs() < 1e-5 * expected.abs(),
        "{loss} vs {expected}"
    );
    assert_eq!(accuracy, Some(correct as f64 / rows as f64));
}
