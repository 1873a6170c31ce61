//! A candle training program that lrsched's tools can drive: a 64-32-10 MLP on the UCI
//! digits, SGD with momentum, its rate from the trial's schedule (docs/protocol.md).
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

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Module, Optimizer, ParamsAdamW, VarBuilder, VarMap, SGD};
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

    dev.set_seed(seed)?;
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &dev);
    let model = candle_nn::seq()
        .add(candle_nn::linear(64, 32, vb.pp("hidden"))?)
        .add_fn(|x| x.relu())
        .add(candle_nn::linear(32, 10, vb.pp("out"))?);
    let _ = ParamsAdamW::default(); // AdamW works the same way; SGD keeps the example short.
    let sgd = SGD::new(vars.all_vars(), 0.1)?;

    // 2. The schedule: the trial's, durations resolved with this program's shape.
    let driver = match &trial {
        Some(t) => t.driver(Some(steps_per_epoch))?,
        None => Driver::new(Cosine::new(0.1, steps_per_epoch * epochs)),
    };
    let per_epoch = driver.interval() == lrsched::Interval::Epoch;
    let mut opt = Scheduled::from_driver(sgd, driver)?;
    let mut metrics: Option<Metrics> = trial.as_ref().map(|t| t.metrics()).transpose()?;
    let max_steps = trial.as_ref().and_then(|t| t.max_steps);

    let mut order: Vec<u32> = (0..rows as u32).collect();
    let mut state = seed.wrapping_add(1);
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
            let step = opt.current_step();
            let lr = opt.learning_rate();
            let loss = candle_nn::loss::cross_entropy(&model.forward(&x)?, &y)?;
            opt.backward_step(&loss)?;
            // 3. Each step: the rate used and the loss.
            if let Some(m) = metrics.as_mut() {
                m.step(step, lr, loss.to_scalar::<f32>()? as f64)?;
            }
            if max_steps.is_some_and(|n| step + 1 >= n) {
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
        if per_epoch {
            opt.end_epoch();
        }
    }
    Ok(())
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
