//! The training loop end to end on the embedded digits set: it learns, a resumed run
//! equals a straight one, divergence ends cleanly, and the schedule really drives the
//! optimizer.

use lrsched::driver::Interval;
use lrsched::{oneline, AnySchedule};
use lrsched_train::data::{digits, Split, Targets};
use lrsched_train::model::{Activation, BatchTargets, CandleMlp, Init, Mlp, ModelSpec};
use lrsched_train::optim::{OptimizerConfig, OptimizerKind};
use lrsched_train::trainer::{
    train, CheckpointOptions, EarlyStop, Engine, EpochRecord, Monitor, Outcome, Quiet, TrainConfig,
};

fn config(split: &Split, schedule: &str, interval: Interval, epochs: u64) -> TrainConfig {
    let model = ModelSpec::parse(
        "32",
        split.train.dim(),
        split.train.task(),
        Activation::Relu,
        Init::Torch,
    )
    .unwrap();
    TrainConfig {
        data: "digits".into(),
        model,
        engine: Engine::Fast,
        optimizer: OptimizerConfig::new(OptimizerKind::Momentum),
        no_decay_on_bias_and_norm: false,
        schedule: oneline::parse(schedule).unwrap(),
        interval,
        momentum_schedule: None,
        batch_size: 32,
        epochs,
        seed: 1,
        threads: 1,
        plateau_monitor: Monitor::ValLoss,
        early_stop: None,
        checkpoint: None,
        metrics_out: None,
        divergence: Default::default(),
        overwrite: false,
    }
}

/// Records without the wall-clock fields, as bits.
fn numbers(h: &[EpochRecord]) -> Vec<(u64, u64, u64, u64)> {
    h.iter()
        .map(|r| {
            (
                r.train_loss.to_bits(),
                r.val_loss.to_bits(),
                r.val_acc.unwrap().to_bits(),
                r.lr.to_bits(),
            )
        })
        .collect()
}

#[test]
fn learns_digits_under_a_cosine_schedule() {
    let split = digits::split().unwrap();
    let c = config(
        &split,
        "warmup(steps=45, schedule=cosine(lr=0.1, steps=360))",
        Interval::Step,
        10,
    );
    let s = train(&c, &split, &mut Quiet).unwrap();
    assert_eq!(s.outcome, Outcome::Completed);
    let last = s.history.last().unwrap();
    assert!(last.val_acc.unwrap() > 0.93, "{last:?}");
    // The cosine reached its end: the last rate is far below the peak.
    assert!(last.lr < 0.01, "{last:?}");
}

#[test]
fn resumed_run_equals_the_straight_run() {
    let split = digits::split().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let schedule = "plateau(schedule=cosine(lr=0.1, steps=270), factor=0.5, patience=0)";
    let straight = train(
        &config(&split, schedule, Interval::Step, 6),
        &split,
        &mut Quiet,
    )
    .unwrap();

    let mut c = config(&split, schedule, Interval::Step, 3);
    c.checkpoint = Some(CheckpointOptions {
        dir: dir.path().into(),
        keep_last: 2,
        resume: true,
    });
    let first = train(&c, &split, &mut Quiet).unwrap();
    assert_eq!(first.history.len(), 3);
    c.epochs = 6;
    let resumed = train(&c, &split, &mut Quiet).unwrap();
    assert_eq!(numbers(&resumed.history), numbers(&straight.history));
    assert_eq!(resumed.params, straight.params);
    // The plateau schedule really acted on the validation loss.
    assert!(straight.history.windows(2).any(|w| w[1].lr < w[0].lr));

    // A checkpoint from another config is refused, naming the difference.
    let mut other = config(&split, "cosine(lr=0.2, steps=270)", Interval::Step, 6);
    other.checkpoint = c.checkpoint.clone();
    let err = train(&other, &split, &mut Quiet).unwrap_err().to_string();
    assert!(err.contains("config.schedule"), "{err}");
}

#[test]
fn checkpoints_and_summaries_hold_pytorchs_order() {
    // The fused engine keeps its first layer's weights transposed; what leaves the run is in
    // PyTorch's order: candle (which reads that order) built from the checkpoint's
    // parameters gives the fused engine's loss on the same rows.
    let split = digits::split().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&split, "constant(lr=0.1)", Interval::Step, 2);
    c.checkpoint = Some(CheckpointOptions {
        dir: dir.path().into(),
        keep_last: 2,
        resume: false,
    });
    let s = train(&c, &split, &mut Quiet).unwrap();
    let path = lrsched_train::checkpoint::epoch_path(dir.path(), 2);
    let saved: serde_json::Value = lrsched_train::checkpoint::read(&path).unwrap();
    let params: Vec<f32> = serde_json::from_value(saved["params"].clone()).unwrap();
    assert_eq!(params, s.params);
    let mut fast = Mlp::new(c.model.clone(), 0, 64);
    let mut stored = params.clone();
    fast.from_torch_order(&mut stored);
    assert_ne!(stored, params, "the first layer is stored transposed");
    assert!(fast.load(&stored, &[]));
    let mut candle = CandleMlp::new(c.model.clone(), &params, &[], 0).unwrap();
    let Targets::Classes(labels) = split.val.targets() else {
        unreachable!()
    };
    let x = &split.val.features()[..64 * split.val.dim()];
    let y = BatchTargets::Classes(&labels[..64]);
    let (a, b) = (
        fast.train_step(x, y, 64),
        candle.train_step(x, y, 64).unwrap(),
    );
    assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    assert!(a < 0.5, "trained weights: {a}");
}

#[test]
fn torch_config_stepped_per_epoch() {
    let split = digits::split().unwrap();
    let schedule: AnySchedule = oneline::parse("StepLR(lr=0.1, step_size=2, gamma=0.5)").unwrap();
    let mut c = config(&split, "constant(lr=0.1)", Interval::Epoch, 5);
    c.schedule = schedule;
    let s = train(&c, &split, &mut Quiet).unwrap();
    let lrs: Vec<f64> = s.history.iter().map(|r| r.lr).collect();
    assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
}

#[test]
fn divergence_stops_cleanly_and_keeps_the_last_good_checkpoint() {
    let split = digits::split().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A sane epoch, then a rate that blows up.
    let mut c = config(
        &split,
        "join(schedules=[constant(lr=0.05), constant(lr=1e12)], boundaries=[45])",
        Interval::Step,
        4,
    );
    c.checkpoint = Some(CheckpointOptions {
        dir: dir.path().into(),
        keep_last: 3,
        resume: false,
    });
    let s = train(&c, &split, &mut Quiet).unwrap();
    assert!(
        matches!(s.outcome, Outcome::Diverged { epoch: 2, .. }),
        "{:?}",
        s.outcome
    );
    assert!(s.history.last().unwrap().diverged);
    let saved = lrsched_train::checkpoint::list(dir.path()).unwrap();
    assert_eq!(saved.iter().map(|(e, _)| *e).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let split = digits::split().unwrap();
    let mut c = config(&split, "constant(lr=0.5)", Interval::Step, 30);
    c.early_stop = Some(EarlyStop {
        monitor: Monitor::ValAcc,
        patience: 2,
        min_delta: 0.0,
        restore_best: true,
    });
    let s = train(&c, &split, &mut Quiet).unwrap();
    assert_eq!(s.outcome, Outcome::EarlyStopped);
    assert!(s.history.len() < 30);
    assert!(s.best_epoch.unwrap() < s.history.len() as u64);
}

#[test]
fn a_negative_rate_from_the_schedule_stops_the_run_with_a_clear_error() {
    // optax computes negative rates; the optimizer refuses them as PyTorch's do.
    let split = digits::split().unwrap();
    let mut c = config(&split, "constant(lr=0.1)", Interval::Step, 3);
    c.schedule = lrsched::config::from_value(serde_json::json!({
        "type": "optax.linear_schedule", "init_value": 0.1, "end_value": -0.1,
        "transition_steps": 40
    }))
    .unwrap();
    let err = train(&c, &split, &mut Quiet).unwrap_err().to_string();
    assert!(err.contains("lr") && err.contains(">= 0"), "{err}");
}
