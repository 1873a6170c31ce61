//! Times the pieces of one MNIST-sized training step (784-128-10, batch 64), to see where
//! an epoch's time goes: `cargo run --release -p lrsched-train --example profile_step [threads]`.

use lrsched_train::data::{Rng, Task};
use lrsched_train::model::{Activation, BatchTargets, Init, Mlp, ModelSpec};
use lrsched_train::optim::{Optimizer, OptimizerConfig, OptimizerKind, ParamGroup};
use std::time::Instant;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let task = Task::Classification { classes: 10 };
    let spec = ModelSpec::parse("128", 784, &task, Activation::Relu, Init::Torch).unwrap();
    let mut mlp = Mlp::new(spec, 0, 64).with_threads(threads);
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..64 * 784).map(|_| rng.next_f64() as f32).collect();
    let y: Vec<u32> = (0..64).map(|i| i % 10).collect();
    let n = mlp.params().len();
    let mut opt = Optimizer::new(
        OptimizerConfig::new(OptimizerKind::Momentum),
        vec![ParamGroup::new(0..n)],
        n,
    )
    .unwrap();
    let steps = 938;
    for _ in 0..50 {
        mlp.train_step(&x, BatchTargets::Classes(&y), 64);
    }
    let t = Instant::now();
    for _ in 0..steps {
        mlp.train_step(&x, BatchTargets::Classes(&y), 64);
    }
    let pass = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..steps {
        let (p, g) = mlp.params_and_grads();
        opt.step(p, g, 0.01, None).unwrap();
    }
    let update = t.elapsed().as_secs_f64();
    println!(
        "threads {threads}: forward+backward {:.3}s/epoch ({:.0} us/step), optimizer {:.3}s/epoch",
        pass,
        pass / steps as f64 * 1e6,
        update
    );
}
