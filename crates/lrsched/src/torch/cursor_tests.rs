//! A stepped replay is the random-access value, bit for bit, and costs one step.

use super::cursor::{Cursor, FAR_WINDOW};
use super::TorchSchedule;
use crate::{config, AnySchedule, Driver, Schedule};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn parse(v: &Value) -> AnySchedule {
    config::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn torch(v: &Value) -> TorchSchedule {
    match parse(v) {
        AnySchedule::Torch(t) => t,
        other => panic!("not a torch schedule: {other:?}"),
    }
}

/// Every class (the plateau separately: it needs metrics).
fn every_class() -> Vec<Value> {
    vec![
        json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": "0.95 ** epoch"}),
        json!({"type": "MultiplicativeLR", "lr": 0.1, "lr_lambda": 0.97}),
        json!({"type": "StepLR", "lr": 0.1, "step_size": 7, "gamma": 0.5}),
        json!({"type": "MultiStepLR", "lr": 0.1, "milestones": [5, 20, 20, 41], "gamma": 0.5}),
        json!({"type": "ConstantLR", "lr": 0.1, "factor": 0.25, "total_iters": 9}),
        json!({"type": "LinearLR", "lr": 0.1, "start_factor": 0.1, "total_iters": 13}),
        json!({"type": "ExponentialLR", "lr": 0.1, "gamma": 0.97}),
        json!({"type": "PolynomialLR", "lr": 0.1, "total_iters": 30, "power": 2.0}),
        json!({"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 17, "eta_min": 0.001}),
        json!({"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 5, "T_mult": 2, "eta_min": 0.001}),
        json!({"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 6, "mode": "triangular2"}),
        json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 50}),
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [10],
               "schedulers": [{"type": "LinearLR", "start_factor": 0.1, "total_iters": 10},
                              {"type": "CosineAnnealingLR", "T_max": 30}]}),
        json!({"type": "ChainedScheduler", "lr": 0.1,
               "schedulers": [{"type": "ConstantLR", "factor": 0.5, "total_iters": 4},
                              {"type": "ExponentialLR", "gamma": 0.9}]}),
    ]
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

#[test]
fn a_stepped_driver_gives_value_bit_for_bit_for_every_class() {
    for v in every_class() {
        let fresh = || parse(&v);
        let mut d = Driver::new(fresh());
        let all = fresh().values(0..120);
        for step in 0..120u64 {
            // A schedule that has never been asked anything: the random-access value.
            let alone = fresh();
            assert!(same(d.lr(), alone.value(step)), "{v} step {step}");
            assert!(same(d.lr(), all[step as usize]), "{v} step {step}");
            assert_eq!(d.momentum(), alone.momentum(step), "{v} step {step}");
            d.step();
        }
        // Back to an earlier step and forward again (a seek, a restore).
        d.seek(37);
        assert!(same(d.lr(), fresh().value(37)), "{v}");
        d.seek(36);
        assert!(same(d.lr(), fresh().value(36)), "{v}");
    }
}

#[test]
fn a_restored_driver_continues_bit_for_bit() {
    let mut cases = every_class();
    cases.push(json!({"type": "ReduceLROnPlateau", "lr": 0.1, "patience": 1}));
    for v in cases {
        let mut a = Driver::new(parse(&v));
        let mut lrs = Vec::new();
        for i in 0..90u64 {
            lrs.push(a.lr());
            if i % 10 == 9 {
                a.end_epoch_with_metric(((i * 7) % 5) as f64).unwrap();
            }
            a.step();
            if i == 44 {
                let saved = serde_json::to_string(&a.state()).unwrap();
                let b = Driver::new(parse(&v))
                    .restore(&serde_json::from_str(&saved).unwrap())
                    .unwrap();
                assert_eq!(a, b, "{v}");
                a = b;
            }
        }
        let mut c = Driver::new(parse(&v));
        for (i, lr) in lrs.iter().enumerate() {
            assert!(same(c.lr(), *lr), "{v} step {i}");
            if i % 10 == 9 {
                c.end_epoch_with_metric(((i * 7) % 5) as f64).unwrap();
            }
            c.step();
        }
    }
}

/// Configs that replay every step, so they reach the limit.
fn replaying() -> Vec<Value> {
    vec![
        json!({"type": "ExponentialLR", "lr": 2.0, "gamma": 0.9999}),
        json!({"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": "1 - 1e-5 * (epoch % 3)"}),
        json!({"type": "CosineAnnealingLR", "lr": 1.0, "T_max": 33, "eta_min": 0.01}),
        json!({"type": "CosineAnnealingLR", "lr": 1.0, "T_max": 100000}),
        json!({"type": "CosineAnnealingWarmRestarts", "lr": 1.0, "T_0": 3, "T_mult": 2}),
        json!({"type": "StepLR", "lr": 1.0, "step_size": 3, "gamma": 0.999}),
        json!({"type": "LambdaLR", "lr": 1.0, "lr_lambda": "0.5 ** (epoch % 5)"}),
        json!({"type": "OneCycleLR", "max_lr": 1.0, "total_steps": 3000}),
        json!({"type": "SequentialLR", "lr": 1.0, "milestones": [5, 1500],
               "schedulers": [{"type": "LinearLR", "total_iters": 5},
                              {"type": "CosineAnnealingLR", "T_max": 40, "eta_min": 0.1},
                              {"type": "ExponentialLR", "gamma": 0.9999}]}),
        json!({"type": "ChainedScheduler", "lr": 1.0,
               "schedulers": [{"type": "CosineAnnealingLR", "T_max": 50},
                              {"type": "ExponentialLR", "gamma": 0.999}]}),
    ]
}

#[test]
fn stepping_across_the_replay_limit_matches_random_access() {
    const L: u64 = 500;
    let end = L + 3 * FAR_WINDOW + 17;
    for v in replaying() {
        let s = torch(&v);
        let fresh = |n: u64| Cursor::new(&s).with_replay_limit(L).at(&s, n);
        // One step at a time, and in strides that land anywhere in a window.
        for stride in [1u64, 7, 1000] {
            let mut c = Cursor::new(&s).with_replay_limit(L);
            let mut n = 0;
            while n <= end {
                let (lr, m) = c.at(&s, n);
                if stride > 1 || n % 97 == 0 || n.abs_diff(L) < 3 || n % FAR_WINDOW < 3 {
                    let (want, want_m) = fresh(n);
                    assert!(
                        same(lr, want),
                        "{v} stride {stride} step {n}: {lr} vs {want}"
                    );
                    assert_eq!(m, want_m, "{v} step {n}");
                }
                n += stride;
            }
        }
    }
}

#[test]
fn stepping_costs_one_step() {
    // Issue 10: 832 us per step over the first 20,000 steps before the replay was kept.
    let budget = Duration::from_secs(if cfg!(debug_assertions) { 5 } else { 1 });
    let v = json!({"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 100000});
    let nested = json!({"type": "warmup", "steps": 100, "schedule": v.clone()});
    for cfg in [v, nested] {
        let mut d = Driver::new(parse(&cfg));
        let t = Instant::now();
        let mut sum = 0.0;
        for _ in 0..20_000 {
            sum += d.lr();
            d.step();
        }
        let took = t.elapsed();
        assert!(sum > 0.0);
        assert!(took < budget, "{cfg}: 20,000 steps took {took:?}");
    }
}

#[test]
fn a_per_step_plateau_takes_one_metric_per_epoch_like_the_native_one() {
    // Issue 10: "metric for step 19 observed before the metric for step 0".
    let losses = [1.0, 0.8, 0.9, 0.95, 0.7, 0.75, 0.76, 0.77];
    for cfg in [
        json!({"type": "ReduceLROnPlateau", "lr": 0.1, "patience": 1, "factor": 0.5}),
        json!({"type": "plateau", "lr": 0.1, "patience": 1, "factor": 0.5}),
    ] {
        let mut d = Driver::new(parse(&cfg));
        let mut epoch_lrs = Vec::new();
        for loss in losses {
            for _ in 0..20 {
                d.step();
            }
            d.end_epoch_with_metric(loss)
                .unwrap_or_else(|e| panic!("{cfg}: {e}"));
            epoch_lrs.push(d.lr());
        }
        // PyTorch's ReduceLROnPlateau(patience=1, factor=0.5) stepped once per epoch.
        assert_eq!(
            epoch_lrs,
            vec![0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025],
            "{cfg}"
        );
        // And a plain end of epoch is refused instead of silently taking no metric.
        let mut per_epoch = Driver::new(parse(&cfg)).with_interval(crate::Interval::Epoch);
        let e = per_epoch.end_epoch().unwrap_err().to_string();
        assert!(e.contains("end_epoch_with_metric"), "{cfg}: {e}");
        assert!(d.end_epoch().is_err(), "{cfg}");
        assert_eq!(per_epoch.current_step(), 0);
    }
}

#[test]
fn nesting_is_refused_exactly_where_pytorch_refuses_it() {
    let chain = json!({"type": "ChainedScheduler", "schedulers": [
        {"type": "StepLR", "step_size": 2}, {"type": "ExponentialLR", "gamma": 0.9}]});
    let seq = json!({"type": "SequentialLR", "milestones": [2], "schedulers": [
        {"type": "ConstantLR"}, {"type": "ExponentialLR", "gamma": 0.9}]});
    let plateau = json!({"type": "ReduceLROnPlateau"});
    let check = |v: Value| config::from_value(v.clone()).and_then(|s| s.validate().map(|_| s));
    // Accepted by PyTorch.
    for v in [
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [3], "schedulers": [chain.clone(), {"type": "StepLR", "step_size": 2}]}),
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [0], "schedulers": [{"type": "StepLR", "step_size": 2}, chain.clone()]}),
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [4], "schedulers": [seq.clone(), {"type": "StepLR", "step_size": 2}]}),
        json!({"type": "ChainedScheduler", "lr": 0.1, "schedulers": [seq.clone(), chain.clone()]}),
    ] {
        check(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    // Refused: ReduceLROnPlateau inside (ValueError), a composite restarted at a
    // milestone (NotImplementedError from its `_update_lr(0)`).
    for (v, says) in [
        (
            json!({"type": "ChainedScheduler", "lr": 0.1, "schedulers": [chain.clone(), plateau.clone()]}),
            "ReduceLROnPlateau",
        ),
        (
            json!({"type": "SequentialLR", "lr": 0.1, "milestones": [3], "schedulers": [chain.clone(), plateau.clone()]}),
            "ReduceLROnPlateau",
        ),
        (
            json!({"type": "SequentialLR", "lr": 0.1, "milestones": [3], "schedulers": [{"type": "StepLR", "step_size": 2}, chain.clone()]}),
            "NotImplementedError",
        ),
        (
            json!({"type": "SequentialLR", "lr": 0.1, "milestones": [3], "schedulers": [{"type": "StepLR", "step_size": 2}, seq.clone()]}),
            "NotImplementedError",
        ),
    ] {
        let e = check(v.clone()).unwrap_err().to_string();
        assert!(e.contains(says) && !e.contains('\n'), "{v}: {e}");
    }
}
