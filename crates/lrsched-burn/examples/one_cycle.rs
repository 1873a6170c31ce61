//! Trains a small MLP on a synthetic regression task with burn's own `Learner` (CPU
//! backend, autodiff) and an lrsched one-cycle schedule, printing the rate as it goes.
//!
//! ```sh
//! cargo run -p lrsched-burn --example one_cycle
//! ```

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::InMemDataset;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, LearningRate};
use burn::prelude::*;
use burn::train::metric::LossMetric;
use burn::train::{
    InferenceStep, Learner, RegressionOutput, SupervisedTraining, TrainOutput, TrainStep,
};
use lrsched::OneCycle;
use lrsched_burn::LrschedScheduler;

// The items, their batcher and a silent renderer: the tests' own, so the two cannot drift.
#[path = "../tests/common/shared.rs"]
mod shared;
use shared::{Batch, Item, ItemBatcher, Quiet};

const EPOCHS: usize = 6;
const ITEMS: usize = 512;
const BATCH: usize = 32;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    activation: Relu,
    output: Linear,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Mlp {
            hidden: LinearConfig::new(2, 32).init(device),
            activation: Relu::new(),
            output: LinearConfig::new(32, 1).init(device),
        }
    }

    fn forward(&self, batch: Batch) -> RegressionOutput {
        let output = self
            .output
            .forward(self.activation.forward(self.hidden.forward(batch.x)));
        let loss = MseLoss::new().forward(output.clone(), batch.y.clone(), Reduction::Mean);
        RegressionOutput::new(loss, output, batch.y)
    }
}

impl TrainStep for Mlp {
    type Input = Batch;
    type Output = RegressionOutput;
    fn step(&self, batch: Batch) -> TrainOutput<RegressionOutput> {
        let out = self.forward(batch);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Mlp {
    type Input = Batch;
    type Output = RegressionOutput;
    fn step(&self, batch: Batch) -> RegressionOutput {
        self.forward(batch)
    }
}

/// y = sin(3 a) + b^2 on a fixed pseudo-random set of points in [-1, 1]^2.
fn items(n: usize, seed: u64) -> Vec<Item> {
    let mut state = seed;
    let mut next = move || {
        // xorshift64: a fixed data set without an RNG dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    (0..n)
        .map(|_| {
            let (a, b) = (next(), next());
            Item {
                x: [a, b],
                y: (3.0 * a).sin() + b * b,
            }
        })
        .collect()
}

/// Prints the rate burn takes from the scheduler every few steps; everything else is
/// passed through to the lrsched scheduler.
#[derive(Clone)]
struct Printed(LrschedScheduler);

impl LrScheduler for Printed {
    fn step(&mut self) -> LearningRate {
        let step = self.0.steps_taken();
        let lr = self.0.step();
        if step.is_multiple_of(8) {
            println!("step {step:>3}  lr {lr:.6}");
        }
        lr
    }
    fn to_record(&self) -> LrSchedulerRecord {
        self.0.to_record()
    }
    fn load_record(&mut self, record: LrSchedulerRecord) {
        self.0.load_record(record)
    }
}

fn mean_squared_error(model: &Mlp, items: Vec<Item>, device: &Device) -> f32 {
    let batch = ItemBatcher.batch(items, device);
    model.forward(batch).loss.into_scalar::<f32>()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // burn-flex, the pure-Rust CPU backend (burn 0.22's successor of ndarray), with
    // autodiff so the Learner can train.
    let device = Device::default().autodiff();
    let dir = std::env::temp_dir().join("lrsched-burn-one-cycle");
    let _ = std::fs::remove_dir_all(&dir);

    let train = DataLoaderBuilder::new(ItemBatcher)
        .batch_size(BATCH)
        .shuffle(42)
        .build(InMemDataset::new(items(ITEMS, 1)));
    let valid = DataLoaderBuilder::new(ItemBatcher)
        .batch_size(BATCH)
        .build(InMemDataset::new(items(128, 2)));

    let steps = (EPOCHS * ITEMS.div_ceil(BATCH)) as u64;
    // PyTorch's OneCycleLR(max_lr=0.02, total_steps=steps): warm up for 30%, anneal to
    // max_lr / 1e4 by cosine.
    let one_cycle = OneCycle::new(0.02, steps);
    // The one-line change: an lrsched scheduler where burn takes its own.
    let scheduler = Printed(LrschedScheduler::new(one_cycle)?);

    let before = mean_squared_error(&Mlp::new(&device), items(128, 2), &device);
    let result = SupervisedTraining::new(&dir, train, valid)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .with_default_checkpointers()
        .with_application_logger(None)
        .renderer(Box::new(Quiet))
        .num_epochs(EPOCHS)
        .launch(Learner::new(
            Mlp::new(&device),
            AdamConfig::new().init(),
            scheduler,
        ));
    if let Some(e) = result.error {
        return Err(format!("training failed: {e}").into());
    }
    let after = mean_squared_error(&result.model, items(128, 2), &device);
    println!("validation MSE: {before:.4} for an untrained model, {after:.4} after training");
    println!(
        "checkpoints (model, optimizer, scheduler) in {}",
        dir.display()
    );
    Ok(())
}
