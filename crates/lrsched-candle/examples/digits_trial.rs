//! A candle training program that lrsched's tools can drive: a 64-32-10 tanh MLP on the UCI
//! digits, plain SGD, its rate from the trial's schedule (docs/protocol.md).
//!
//! ```sh
//! cargo build --release -p lrsched-candle --example digits_trial
//! lrsched compare --command target/release/examples/digits_trial --epochs 10
//! lrsched find-lr --command target/release/examples/digits_trial
//! ```
//!
//! Run on its own (no `LRSCHED_*` variables) it trains once with a cosine schedule, so the
//! same program works with and without lrsched. The protocol part is four lines: read the
//! trial, take its driver, report each step and each epoch.

use candle_core::Var;
use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Linear, Module, Optimizer, SGD};
use lrsched::trial::{Metrics, Trial};
use lrsched::{Cosine, Driver};
use lrsched_candle::Scheduled;

const BATCH: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The trial lrsched hands over, if any.
    let trial = Trial::from_env()?;
    let (seed, epochs) = trial.as_ref().map_or((0, 10), |t| (t.seed(), t.epochs()));

    let split = lrsched_train::data::digits::split()?;
    let dev = Device::Cpu;
    let (train_x, train_y) = tensors(&split.train, &dev)?;
    let (val_x, val_y) = tensors(&split.val, &dev)?;
    let rows = split.train.len();
    let steps_per_epoch = rows.div_ceil(BATCH) as u64;

    // Weights from the seed (candle's CPU generator cannot be seeded), PyTorch's default
    // uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), so the same seed gives the same run.
    let mut rng = seed;
    let (hidden, vars_h) = linear(64, 32, &mut rng, &dev)?;
    let (out, vars_o) = linear(32, 10, &mut rng, &dev)?;
    let model = candle_nn::seq().add(hidden).add_fn(|x| x.tanh()).add(out);
    let sgd = SGD::new([vars_h, vars_o].concat(), 0.1)?;

    // 2. The schedule: the trial's, durations resolved with this program's shape.
    let driver = match &trial {
        Some(t) => t.driver(Some(steps_per_epoch))?,
        None => Driver::new(Cosine::new(0.1, steps_per_epoch * epochs)),
    };
    let mut opt = Scheduled::from_driver(sgd, driver)?;
    let mut metrics: Option<Metrics> = trial.as_ref().map(|t| t.metrics()).transpose()?;
    let max_steps = trial.as_ref().and_then(|t| t.max_steps);

    let mut order: Vec<u32> = (0..rows as u32).collect();
    let mut state = seed.wrapping_add(1);
    // Optimizer steps so far (the driver counts epochs when the schedule is per epoch).
    let mut step = 0u64;
    for epoch in 1..=epochs {
        // A seeded shuffle (splitmix64), the same for the same seed.
        for i in (1..order.len()).rev() {
            state = lrsched::splitmix64(state);
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for chunk in order.chunks(BATCH) {
            let idx = Tensor::new(chunk, &dev)?;
            let x = train_x.index_select(&idx, 0)?;
            let y = train_y.index_select(&idx, 0)?;
            let lr = opt.learning_rate();
            let loss = candle_nn::loss::cross_entropy(&model.forward(&x)?, &y)?;
            opt.backward_step(&loss)?;
            // 3. Each step: the rate used and the loss.
            if let Some(m) = metrics.as_mut() {
                m.step(step, lr, loss.to_scalar::<f32>()? as f64)?;
            }
            step += 1;
            if max_steps.is_some_and(|n| step >= n) {
                return Ok(());
            }
        }
        let logits = model.forward(&val_x)?;
        let val_loss = candle_nn::loss::cross_entropy(&logits, &val_y)?.to_scalar::<f32>()? as f64;
        let hits = logits
            .argmax(D::Minus1)?
            .eq(&val_y)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        let val_acc = hits as f64 / split.val.len() as f64;
        // 4. Each epoch: the validation metrics.
        match metrics.as_mut() {
            Some(m) => m.epoch(epoch, &[("val_loss", val_loss), ("val_acc", val_acc)])?,
            None => println!("epoch {epoch:>2}  val_loss {val_loss:.4}  val_acc {val_acc:.4}"),
        }
        // Advances a per-epoch schedule (a no-op per step) and feeds a plateau schedule.
        opt.end_epoch_with_metric(val_loss)?;
    }
    Ok(())
}

/// A `fan_in -> fan_out` layer with seeded uniform weights, and its variables.
fn linear(
    fan_in: usize,
    fan_out: usize,
    rng: &mut u64,
    dev: &Device,
) -> Result<(Linear, Vec<Var>), Box<dyn std::error::Error>> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let mut uniform = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                *rng = rng.wrapping_add(1);
                let u = (lrsched::splitmix64(*rng) >> 11) as f64 / (1u64 << 53) as f64;
                ((2.0 * u - 1.0) * bound) as f32
            })
            .collect()
    };
    let w = Var::from_vec(uniform(fan_in * fan_out), (fan_out, fan_in), dev)?;
    let b = Var::from_vec(uniform(fan_out), fan_out, dev)?;
    let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
    Ok((layer, vec![w, b]))
}

/// A data set as an `(n, d)` feature tensor and an `(n,)` label tensor.
fn tensors(
    data: &lrsched_train::data::Dataset,
    dev: &Device,
) -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
    let x = Tensor::from_slice(data.features(), (data.len(), data.dim()), dev)?;
    let labels = data.labels().ok_or("digits has labels")?;
    let y = Tensor::from_slice(labels, data.len(), dev)?;
    Ok((x, y))
}
