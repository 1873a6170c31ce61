//! Reduce-on-plateau watching a higher-is-better metric: the trainer feeds the metric as
//! measured and the schedule's mode (set from the monitor) decides, so tied and falling
//! accuracies reduce the rate exactly when PyTorch's `ReduceLROnPlateau(mode="max")` does.

use lrsched::driver::Interval;
use lrsched::{config, Driver};
use lrsched_train::data::digits;
use lrsched_train::model::{Activation, Init, ModelSpec};
use lrsched_train::optim::{OptimizerConfig, OptimizerKind};
use lrsched_train::trainer::{train, Engine, Monitor, Quiet, TrainConfig};
use serde_json::{json, Value};

/// The rates PyTorch gives, from `scripts/plateau_max_golden.py`.
#[test]
fn val_acc_monitor_matches_pytorch_mode_max() {
    let golden: Value =
        serde_json::from_str(include_str!("fixtures/plateau_max_golden.json")).unwrap();
    for case in golden["cases"].as_array().unwrap() {
        let mut cfg = json!({"type": "ReduceLROnPlateau", "lr": case["lr"]});
        for (k, v) in case["kwargs"].as_object().unwrap() {
            cfg[k] = v.clone();
        }
        Monitor::ValAcc.apply_mode(&mut cfg).unwrap();
        let mut d = Driver::new(config::from_value(cfg.clone()).unwrap());
        let mut got = vec![d.lr()];
        for m in case["metrics"].as_array().unwrap() {
            d.step_with_metric(m.as_f64().unwrap()).unwrap();
            got.push(d.lr());
        }
        let want: Vec<f64> = case["lrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(got, want, "{cfg}");
    }
}

#[test]
fn a_mode_that_contradicts_the_monitor_is_refused() {
    let mut c = json!({"type": "warmup", "steps": 2,
        "schedule": {"type": "plateau", "lr": 0.1, "mode": "min"}});
    let e = Monitor::ValAcc.apply_mode(&mut c).unwrap_err();
    assert!(e.contains("\"min\"") && e.contains("val_acc"), "{e}");
    // Nested plateaus get the monitor's mode when they leave it out.
    let mut c = json!({"type": "warmup", "steps": 2,
        "schedule": {"type": "plateau", "lr": 0.1}});
    Monitor::ValAcc.apply_mode(&mut c).unwrap();
    assert_eq!(c["schedule"]["mode"], "max");
    let mut c = json!({"type": "plateau", "lr": 0.1});
    Monitor::ValLoss.apply_mode(&mut c).unwrap();
    assert_eq!(c["mode"], "min");
}

/// A real run on digits: every epoch's rate equals PyTorch's class (lrsched's replay of
/// it is checked against PyTorch by the golden tests) fed the run's own accuracies.
#[test]
fn trainer_feeds_accuracy_as_measured() {
    let split = digits::split().unwrap();
    let model = ModelSpec::parse(
        "16",
        split.train.dim(),
        split.train.task(),
        Activation::Relu,
        Init::Torch,
    )
    .unwrap();
    let mut schedule =
        json!({"type": "ReduceLROnPlateau", "lr": 0.05, "factor": 0.5, "patience": 0});
    Monitor::ValAcc.apply_mode(&mut schedule).unwrap();
    let c = TrainConfig {
        data: "digits".into(),
        model,
        engine: Engine::Fast,
        optimizer: OptimizerConfig::new(OptimizerKind::Momentum),
        no_decay_on_bias_and_norm: false,
        schedule: config::from_value(schedule.clone()).unwrap(),
        interval: Interval::Epoch,
        momentum_schedule: None,
        batch_size: 64,
        epochs: 14,
        seed: 3,
        threads: 1,
        plateau_monitor: Monitor::ValAcc,
        early_stop: None,
        checkpoint: None,
        metrics_out: None,
        divergence: Default::default(),
        overwrite: false,
    };
    let s = train(&c, &split, &mut Quiet).unwrap();
    let accs: Vec<f64> = s.history.iter().map(|r| r.val_acc.unwrap()).collect();
    let mut reference = Driver::new(config::from_value(schedule).unwrap());
    for (i, r) in s.history.iter().enumerate() {
        assert_eq!(
            r.lr,
            reference.lr(),
            "epoch {} (accuracies {accs:?})",
            r.epoch
        );
        reference.step_with_metric(accs[i]).unwrap();
    }
    // The run must contain a tie or a fall, or it tests nothing of the mode.
    let best_so_far = |i: usize| accs[..i].iter().cloned().fold(f64::MIN, f64::max);
    assert!(
        (1..accs.len()).any(|i| accs[i] <= best_so_far(i)),
        "no tie or fall in {accs:?}"
    );
    // And the rate was cut at least once.
    assert!(s.history.last().unwrap().lr < 0.05, "{accs:?}");
}
