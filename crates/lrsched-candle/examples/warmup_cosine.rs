//! Trains a small MLP on XOR with AdamW under linear warmup + cosine decay, printing the
//! rate the optimizer uses as it goes.
//!
//! ```sh
//! cargo run -p lrsched-candle --example warmup_cosine
//! ```

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use lrsched::{Cosine, Warmup};
use lrsched_candle::Scheduled;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    let x = Tensor::new(&[[0f32, 0.], [0., 1.], [1., 0.], [1., 1.]], &dev)?;
    let y = Tensor::new(&[[0f32], [1.], [1.], [0.]], &dev)?;

    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &dev);
    let model = candle_nn::seq()
        .add(candle_nn::linear(2, 16, vb.pp("hidden"))?)
        .add_fn(|x| x.tanh())
        .add(candle_nn::linear(16, 1, vb.pp("out"))?);

    let steps = 300;
    // 30 steps of linear warmup to 0.05, then cosine decay to 0.0005 over the rest.
    let schedule = Warmup::linear(30, Cosine::new(0.05, steps - 30).with_min_lr(5e-4));
    let adamw = AdamW::new(vars.all_vars(), ParamsAdamW::default())?;
    // The one-line change: wrap the optimizer; the loop below is plain candle.
    let mut opt = Scheduled::new(adamw, schedule)?;

    for step in 0..steps {
        let lr = opt.learning_rate();
        let loss = candle_nn::loss::mse(&model.forward(&x)?, &y)?;
        opt.backward_step(&loss)?;
        if step % 20 == 0 || step == steps - 1 {
            println!(
                "step {step:>3}  lr {lr:.6}  loss {:.5}",
                loss.to_scalar::<f32>()?
            );
        }
    }
    let out = model.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
    println!(
        "xor(0,0) {:.3}  xor(0,1) {:.3}  xor(1,0) {:.3}  xor(1,1) {:.3}",
        out[0], out[1], out[2], out[3]
    );
    Ok(())
}
