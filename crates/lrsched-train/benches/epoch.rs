//! Seconds per epoch of the fused engine alone on real MNIST, on 1 and 2 threads, phase
//! by phase (gather, step, optimizer update, evaluation), beside the arithmetic's FLOP
//! count. Not a test: it prints numbers.
//!
//!     cargo bench -p lrsched-train --bench epoch -- ../shared/data/mnist [epochs] [configs]
//!
//! `configs` picks networks and batches as `scripts/bench_epoch.py` does (`128:64,512-256:256`);
//! `BENCH_STEPS=N` stops each epoch after N steps and `BENCH_THREADS=2` runs one thread
//! count only, to profile a few steps under callgrind (instruction counts are reproducible
//! where timings on a shared machine are not).
//!
//! The whole pipeline against PyTorch is `scripts/bench_epoch.py`.

use lrsched_train::data::{mnist, Batches, Targets, Task};
use lrsched_train::model::{Activation, BatchInput, BatchTargets, Init, Mlp, ModelSpec};
use lrsched_train::optim::{Optimizer, OptimizerConfig, OptimizerKind, ParamGroup};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = args.first().map_or("../shared/data/mnist", |s| s.as_str());
    let epochs: usize = args.get(1).map_or(3, |s| s.parse().expect("epochs"));
    let data = mnist::load(std::path::Path::new(dir)).expect("MNIST");
    let Targets::Classes(labels) = data.train.targets() else {
        unreachable!()
    };
    let Targets::Classes(val_labels) = data.val.targets() else {
        unreachable!()
    };
    let configs = args
        .get(2)
        .map_or("128:64,512-256:128,512-256:256", |s| s.as_str());
    let max_steps: usize =
        std::env::var("BENCH_STEPS").map_or(usize::MAX, |s| s.parse().expect("BENCH_STEPS"));
    let thread_counts: Vec<usize> = std::env::var("BENCH_THREADS")
        .map_or(vec![1, 2], |s| vec![s.parse().expect("BENCH_THREADS")]);
    let task = Task::Classification { classes: 10 };
    for config in configs.split(',') {
        let (hidden, batch) = config.split_once(':').expect("configs: HIDDEN:BATCH,...");
        let batch: usize = batch.parse().expect("batch size");
        let spec = ModelSpec::parse(hidden, 784, &task, Activation::Relu, Init::Torch).unwrap();
        let sizes = &spec.sizes;
        let macs: usize = sizes.windows(2).map(|w| w[0] * w[1]).sum();
        // Forward, input gradients (none for the first layer) and weight gradients.
        let train_flop = data.train.len() as f64 * 2.0 * (3 * macs - sizes[0] * sizes[1]) as f64;
        let eval_flop = data.val.len() as f64 * 2.0 * macs as f64;
        println!(
            "784-{hidden}-10 batch {batch}: {:.1} GFLOP/epoch (train {:.1} + eval {:.1}), load {}",
            (train_flop + eval_flop) / 1e9,
            train_flop / 1e9,
            eval_flop / 1e9,
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split(' ')
                .next()
                .unwrap_or("?")
        );
        let mut firsts = Vec::new();
        for &threads in &thread_counts {
            let mut mlp = Mlp::new(spec.clone(), 0, batch).with_threads(threads);
            // The trainer's optimizer (PyTorch's SGD momentum), sharing the step's threads.
            let n = mlp.params().len();
            let mut opt = Optimizer::new(
                OptimizerConfig {
                    momentum: Some(0.9),
                    ..OptimizerConfig::new(OptimizerKind::Momentum)
                },
                vec![ParamGroup::new(0..n)],
                n,
            )
            .unwrap();
            let pool = mlp.threads();
            let cuts = mlp.update_cuts();
            let mut batches = Batches::new(data.train.len(), batch, 0).unwrap();
            let per_epoch = data.train.len().div_ceil(batch).min(max_steps);
            let mut y = Vec::new();
            let mut best = [f64::INFINITY; 5];
            // Each step's time (the step and its update): on a shared machine the fastest
            // steps, and the lower quartile, say more than an epoch's total.
            let mut steps = Vec::new();
            for _ in 0..epochs {
                let mut t = [0.0f64; 4];
                for _ in 0..per_epoch {
                    let t0 = Instant::now();
                    let rows = batches.next_batch();
                    y.clear();
                    y.extend(rows.iter().map(|&i| labels[i]));
                    let t1 = Instant::now();
                    // As the trainer does: each thread gathers its slices' rows, inside
                    // the step (so the "gather" column is only the labels).
                    let gather = |start: usize, n: usize, out: &mut [f32]| {
                        data.train
                            .gather_features_into(&rows[start..start + n], out)
                    };
                    mlp.train_step_from(
                        BatchInput::Gather(&gather),
                        BatchTargets::Classes(&y),
                        y.len(),
                    );
                    let t2 = Instant::now();
                    assert!(mlp.grads_finite());
                    let (p, g) = mlp.params_and_grads();
                    if std::env::var_os("SERIAL_UPDATE").is_some() {
                        opt.step(p, g, 0.1, None).unwrap();
                    } else {
                        opt.step_on(p, g, 0.1, None, &|n, f| pool.run(n, f), &cuts)
                            .unwrap();
                    }
                    let t3 = Instant::now();
                    t[0] += (t1 - t0).as_secs_f64();
                    t[1] += (t2 - t1).as_secs_f64();
                    t[2] += (t3 - t2).as_secs_f64();
                    steps.push((t3 - t1).as_secs_f64());
                }
                let t0 = Instant::now();
                let (_, acc) = mlp.evaluate(
                    data.val.features(),
                    BatchTargets::Classes(val_labels),
                    data.val.len(),
                );
                t[3] = t0.elapsed().as_secs_f64();
                let total = t.iter().sum::<f64>();
                for (b, v) in best.iter_mut().zip(t.iter().chain([&total])) {
                    *b = b.min(*v);
                }
                let _ = acc;
            }
            println!(
                "  threads {threads}: best epoch {:.3} s (gather {:.3}, step {:.3}, update {:.3}, eval {:.3}); {:.0} GFLOP/s; params crc {:08x}",
                best[4], best[0], best[1], best[2], best[3],
                (train_flop + eval_flop) / best[4] / 1e9,
                {
                    // In PyTorch's order, so that the checksum does not depend on how the
                    // engine stores the parameters.
                    let mut params = mlp.params().to_vec();
                    mlp.to_torch_order(&mut params);
                    params.iter().fold(0u32, |h, p| h.rotate_left(5) ^ p.to_bits())
                }
            );
            steps.sort_by(f64::total_cmp);
            println!(
                "    step + update: fastest {:.3} ms, lower quartile {:.3} ms, median {:.3} ms",
                steps[0] * 1e3,
                steps[steps.len() / 4] * 1e3,
                steps[steps.len() / 2] * 1e3
            );
            firsts.push(best[4]);
        }
        if let [one, two] = firsts[..] {
            println!("  2 threads / 1 thread: {:.2}", two / one);
        }
    }
}
