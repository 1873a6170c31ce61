//! A tiny regression task for burn's own `Learner`: y = 2 x0 - 3 x1 on a one-tensor linear
//! model, so the optimizer is called once per optimizer step and every call's rate can be
//! captured.

use std::sync::{Arc, Mutex};

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::InMemDataset;
use burn::lr_scheduler::LrScheduler;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{LearningRate, Optimizer, SgdConfig, SgdState};
use burn::prelude::*;
use burn::train::metric::LossMetric;
use burn::train::{
    InferenceStep, Learner, RegressionOutput, SupervisedTraining, TrainOutput, TrainStep,
};
use lrsched_burn::MetricFeed;

mod shared;
pub use shared::{Batch, Item, ItemBatcher, Quiet};

pub const TRAIN_ITEMS: usize = 64;
pub const BATCH: usize = 16;
/// Every (validation loss, batch size) the validation step recorded, in order.
pub type Recorded = Arc<Mutex<Vec<(f64, f64)>>>;

pub const BATCHES_PER_EPOCH: u64 = (TRAIN_ITEMS / BATCH) as u64;

#[derive(Module, Debug)]
pub struct Model {
    linear: Linear,
    /// Where validation losses go (a plateau schedule's metric).
    #[module(skip)]
    feed: Option<MetricFeed>,
    /// Every (loss, batch size) recorded, to rebuild the reference.
    #[module(skip)]
    recorded: Option<Recorded>,
}

impl Model {
    pub fn new(device: &Device, feed: Option<MetricFeed>) -> (Self, Recorded) {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let model = Model {
            linear: LinearConfig::new(2, 1).with_bias(false).init(device),
            feed,
            recorded: Some(recorded.clone()),
        };
        (model, recorded)
    }

    fn forward(&self, batch: Batch) -> RegressionOutput {
        let output = self.linear.forward(batch.x);
        let loss = MseLoss::new().forward(output.clone(), batch.y.clone(), Reduction::Mean);
        RegressionOutput::new(loss, output, batch.y)
    }
}

impl TrainStep for Model {
    type Input = Batch;
    type Output = RegressionOutput;
    fn step(&self, batch: Batch) -> TrainOutput<RegressionOutput> {
        let out = self.forward(batch);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Model {
    type Input = Batch;
    type Output = RegressionOutput;
    fn step(&self, batch: Batch) -> RegressionOutput {
        let n = batch.x.dims()[0] as f64;
        let out = self.forward(batch);
        if let Some(feed) = &self.feed {
            let loss = out.loss.clone().into_scalar::<f32>() as f64;
            feed.record(loss, n);
            if let Some(r) = &self.recorded {
                r.lock().unwrap().push((loss, n));
            }
        }
        out
    }
}

fn items(n: usize, seed: u32) -> Vec<Item> {
    // A fixed pseudo-random grid: no RNG dependency, same data every run.
    (0..n)
        .map(|i| {
            let a = (((i as u32).wrapping_mul(2654435761).wrapping_add(seed)) % 1000) as f32
                / 500.0
                - 1.0;
            let b = (((i as u32).wrapping_mul(40503).wrapping_add(seed * 7)) % 1000) as f32 / 500.0
                - 1.0;
            Item {
                x: [a, b],
                y: 2.0 * a - 3.0 * b,
            }
        })
        .collect()
}

/// SGD that writes down the rate burn hands it on every call.
#[derive(Clone)]
pub struct RecordingSgd {
    inner: burn::optim::Sgd,
    pub seen: Arc<Mutex<Vec<f64>>>,
}

impl Optimizer for RecordingSgd {
    type State<const D: usize> = SgdState<D>;
    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        self.seen.lock().unwrap().push(lr);
        self.inner.step(lr, tensor, grad, state)
    }
    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <burn::optim::Sgd as Optimizer>::to_device(state, device)
    }
}

/// Trains with burn's `SupervisedTraining` for `epochs` epochs in `dir` (resuming from
/// checkpoint `resume` if given) and returns the rates the optimizer was handed, one per
/// optimizer step.
pub fn fit(
    dir: &std::path::Path,
    scheduler: impl LrScheduler + 'static,
    model: Model,
    epochs: usize,
    resume: Option<usize>,
) -> Vec<f64> {
    let train = DataLoaderBuilder::new(ItemBatcher)
        .batch_size(BATCH)
        .build(InMemDataset::new(items(TRAIN_ITEMS, 1)));
    let valid = DataLoaderBuilder::new(ItemBatcher)
        .batch_size(BATCH)
        .build(InMemDataset::new(items(40, 99)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let optim = RecordingSgd {
        inner: SgdConfig::new().build(),
        seen: seen.clone(),
    };
    let mut training = SupervisedTraining::new(dir, train, valid)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .with_default_checkpointers()
        .with_application_logger(None)
        .renderer(Box::new(Quiet))
        .num_epochs(epochs);
    if let Some(epoch) = resume {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(Learner::new(model, optim.into(), scheduler));
    assert!(result.error.is_none(), "training failed");
    let seen = seen.lock().unwrap().clone();
    seen
}
