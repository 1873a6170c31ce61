//! Every PyTorch-compatible config against traces recorded from PyTorch itself
//! (`scripts/torch_golden.py` writes `fixtures/torch_golden.json`; CI needs no torch).
#![cfg(feature = "serde")]

mod common;

use common::floats;
use lrsched::torch::{TorchSchedule, TorchSimulator};
use lrsched::{config, AnySchedule, Schedule, ScheduleError};
use serde_json::{json, Value};

const FIXTURE: &str = include_str!("fixtures/torch_golden.json");

fn close(expected: f64, got: f64) -> bool {
    if expected == 0.0 {
        return got == 0.0;
    }
    ((got - expected) / expected).abs() <= 1e-10
}

fn torch(s: &AnySchedule) -> &TorchSchedule {
    match s {
        AnySchedule::Torch(t) => t,
        other => panic!("not a torch schedule: {other:?}"),
    }
}

/// Per step, every group's (lr, momentum) as the simulator gives them.
fn simulate(case: &Value, t: &TorchSchedule) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut sim = TorchSimulator::new(t);
    let n = case["lr"].as_array().unwrap().len();
    let snap = |sim: &TorchSimulator| {
        let m = sim
            .momentum()
            .map(<[f64]>::to_vec)
            .unwrap_or_else(|| vec![0.0; sim.last_lr().len()]);
        (sim.last_lr().to_vec(), m)
    };
    let mut out = vec![snap(&sim)];
    for i in 1..n {
        if let Some(ms) = case.get("metrics") {
            sim.step_with_metric(ms[i - 1].as_f64().unwrap());
        } else if let Some(es) = case.get("epochs") {
            sim.step_to_epoch(es[i - 1].as_f64().unwrap()).unwrap();
        } else {
            sim.step();
        }
        out.push(snap(&sim));
    }
    out
}

#[test]
fn fixture_was_made_by_pytorch() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let version = doc["torch_version"].as_str().unwrap();
    assert!(version.starts_with('2'), "{version}");
    let cases = doc["cases"].as_array().unwrap();
    for class in lrsched::torch::CLASS_NAMES {
        let n = cases
            .iter()
            .filter(|c| c["config"]["type"] == *class)
            .count();
        assert!(n >= 3, "{class}: {n} golden configs");
    }
}

#[test]
fn every_step_matches_pytorch() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = config::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: config rejected: {e}"));
        let t = torch(&s);
        let sim = simulate(case, t);
        let exp_lr = case["lr"].as_array().unwrap();
        let exp_m = case["momentum"].as_array().unwrap();
        for (i, (lr, m)) in sim.iter().enumerate() {
            let (el, em) = (floats(&exp_lr[i]), floats(&exp_m[i]));
            assert_eq!(lr.len(), el.len(), "{name}: groups");
            for g in 0..el.len() {
                if !close(el[g], lr[g]) {
                    failures.push(format!(
                        "{name} step {i} group {g}: lr expected {:e}, got {:e}",
                        el[g], lr[g]
                    ));
                }
                if !close(em[g], m[g]) {
                    failures.push(format!(
                        "{name} step {i} group {g}: momentum expected {:e}, got {:e}",
                        em[g], m[g]
                    ));
                }
            }
        }
        // The Schedule view (group 0, replayed once per range) agrees with the simulator
        // wherever it applies: plain stepping, and metrics fed through observe().
        if case.get("epochs").is_none() {
            let mut s = s.clone();
            if let Some(ms) = case.get("metrics") {
                for (k, m) in floats(ms).into_iter().enumerate() {
                    s.observe(k as u64, m).unwrap();
                }
            }
            let n = exp_lr.len() as u64;
            let values = s.values(0..n);
            let momenta = s.momenta(0..n);
            for i in 0..n as usize {
                let el = floats(&exp_lr[i])[0];
                if !close(el, values[i]) {
                    failures.push(format!(
                        "{name} value({i}): expected {el:e}, got {:e}",
                        values[i]
                    ));
                }
                // value(i) replays from scratch, skipping what it can: same bits.
                if s.value(i as u64) != values[i] {
                    failures.push(format!("{name}: value({i}) differs from values()[{i}]"));
                }
                let em = floats(&exp_m[i])[0];
                if let Some(m) = momenta[i] {
                    if !close(em, m) {
                        failures.push(format!("{name} momentum({i}): expected {em:e}, got {m:e}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

#[test]
fn far_steps_skip_instead_of_replaying() {
    for (v, far) in [
        (
            json!({"type": "LambdaLR", "lr": 1.0, "lr_lambda": "0.5 if epoch > 100 else 1"}),
            0.5,
        ),
        (
            json!({"type": "MultiStepLR", "lr": 1.0, "milestones": [10, 20], "gamma": 0.5}),
            0.25,
        ),
        (
            json!({"type": "LinearLR", "lr": 1.0, "start_factor": 0.5, "total_iters": 4}),
            1.0,
        ),
        (
            json!({"type": "OneCycleLR", "max_lr": 1.0, "total_steps": 10, "anneal_strategy": "linear"}),
            f64::NAN,
        ),
        (
            json!({"type": "CyclicLR", "base_lr": 0.1, "max_lr": 1.0, "step_size_up": 5}),
            0.1,
        ),
        (
            json!({"type": "StepLR", "lr": 1.0, "step_size": 1_000_000_000_000_u64, "gamma": 0.5}),
            0.5f64.powi(1000),
        ),
    ] {
        let s = config::from_value(v.clone()).unwrap();
        let x = s.value(1_000_000_000_000_000);
        if far.is_nan() {
            // OneCycleLR holds PyTorch's value at total_steps.
            assert_eq!(x, s.value(10), "{v}");
        } else {
            assert_eq!(x, far, "{v}");
        }
    }
}

#[test]
fn configs_round_trip() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let s = config::from_value(case["config"].clone()).unwrap();
        let back = config::from_value(config::to_value(&s)).unwrap();
        assert_eq!(s, back, "{}", case["name"]);
    }
}

#[test]
fn momentum_is_tracked_where_cycled_or_given() {
    let s = config::from_value(
        json!({"type": "CyclicLR", "base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2}),
    )
    .unwrap();
    assert_eq!(s.momentum(0), Some(0.9));
    assert_eq!(s.momentum(2), Some(0.8));
    let s = config::from_value(json!({"type": "StepLR", "lr": 0.1, "step_size": 2})).unwrap();
    assert_eq!(s.momentum(0), None);
}

#[test]
fn plateau_state_saves_and_loads() {
    let mut s =
        config::from_value(json!({"type": "ReduceLROnPlateau", "lr": 1.0, "patience": 0})).unwrap();
    assert!(s.needs_metric());
    s.observe(0, 1.0).unwrap();
    s.observe(1, 2.0).unwrap();
    let mut saved = Vec::new();
    s.save_state(&mut saved);
    let mut fresh =
        config::from_value(json!({"type": "ReduceLROnPlateau", "lr": 1.0, "patience": 0})).unwrap();
    fresh.load_state(&mut saved.into_iter()).unwrap();
    assert_eq!(fresh.values(0..4), s.values(0..4));
    assert!((fresh.value(2) - 0.1).abs() < 1e-15);
}

fn err(v: Value) -> ScheduleError {
    config::from_value(v.clone()).expect_err(&v.to_string())
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    let e = err(json!({"type": "CosineAnnealingLR", "lr": 0.1, "T_mx": 10}));
    let ScheduleError::UnknownKey {
        schedule,
        key,
        suggestion,
        allowed,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(schedule, "CosineAnnealingLR");
    assert_eq!(key, "T_mx");
    assert_eq!(suggestion.as_deref(), Some("T_max"));
    assert!(allowed.contains(&"eta_min".to_string()));
    match err(json!({"type": "OneCycleLR", "max_lr": 0.1, "total_step": 10})) {
        ScheduleError::UnknownKey { suggestion, .. } => {
            assert_eq!(suggestion.as_deref(), Some("total_steps"))
        }
        e => panic!("{e:?}"),
    }
    // Inside `schedulers` too.
    match err(
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [2], "schedulers": [
        {"type": "ConstantLR", "factr": 0.5}, {"type": "ExponentialLR", "gamma": 0.9}]}),
    ) {
        ScheduleError::UnknownKey { suggestion, .. } => {
            assert_eq!(suggestion.as_deref(), Some("factor"))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn missing_keys_are_named() {
    for (v, key) in [
        (json!({"type": "StepLR", "lr": 0.1}), "step_size"),
        (json!({"type": "StepLR", "step_size": 3}), "lr"),
        (json!({"type": "CosineAnnealingLR", "lr": 0.1}), "T_max"),
        (
            json!({"type": "CyclicLR", "lr": 0.1, "base_lr": 0.1}),
            "max_lr",
        ),
        (
            json!({"type": "SequentialLR", "lr": 0.1, "milestones": []}),
            "schedulers",
        ),
    ] {
        match err(v.clone()) {
            ScheduleError::MissingKey { key: k, .. } => assert_eq!(k, key, "{v}"),
            e => panic!("{v}: {e:?}"),
        }
    }
    let e = err(json!({"type": "OneCycleLR", "max_lr": 0.1, "epochs": 3}));
    assert!(e.to_string().contains("total_steps"), "{e}");
}

#[test]
fn invalid_values_name_key_value_and_allowed() {
    for (v, key) in [
        (
            json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 1.5}),
            "pct_start",
        ),
        (
            json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 0.1}),
            "pct_start",
        ),
        (
            json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "anneal_strategy": "cosine"}),
            "anneal_strategy",
        ),
        (
            json!({"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 0}),
            "T_0",
        ),
        (
            json!({"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": -1}),
            "T_0",
        ),
        (
            json!({"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 2, "T_mult": 0}),
            "T_mult",
        ),
        (
            json!({"type": "StepLR", "lr": 0.1, "step_size": 0}),
            "step_size",
        ),
        (json!({"type": "StepLR", "lr": -0.1, "step_size": 2}), "lr"),
        (
            json!({"type": "LinearLR", "lr": 0.1, "start_factor": 0.0}),
            "start_factor",
        ),
        (
            json!({"type": "ConstantLR", "lr": 0.1, "factor": 1.5}),
            "factor",
        ),
        (
            json!({"type": "CyclicLR", "base_lr": 0.1, "max_lr": 1.0, "mode": "triangle"}),
            "mode",
        ),
        (
            json!({"type": "CyclicLR", "lr": [0.1, 0.2], "base_lr": [0.1], "max_lr": 1.0}),
            "base_lr",
        ),
        (
            json!({"type": "ReduceLROnPlateau", "lr": 0.1, "factor": 1.0}),
            "factor",
        ),
        (
            json!({"type": "ReduceLROnPlateau", "lr": 0.1, "mode": "minimum"}),
            "mode",
        ),
        (
            json!({"type": "SequentialLR", "lr": 0.1, "milestones": [1, 2], "schedulers": [{"type": "ConstantLR"}]}),
            "milestones",
        ),
        (
            json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": "1 / epoch"}),
            "lr_lambda",
        ),
        (
            json!({"type": "LambdaLR", "lr": [0.1, 0.2], "lr_lambda": ["1", "1", "1"]}),
            "lr_lambda",
        ),
    ] {
        match err(v.clone()) {
            ScheduleError::InvalidValue {
                key: k,
                value,
                allowed,
                ..
            } => {
                assert_eq!(k, key, "{v}");
                assert!(!value.is_empty() && !allowed.is_empty(), "{v}");
            }
            e => panic!("{v}: {e:?}"),
        }
    }
}

#[test]
fn wrong_types_and_bad_nesting_are_errors_not_panics() {
    for v in [
        json!({"type": "StepLR", "lr": "0.1", "step_size": 2}),
        json!({"type": "StepLR", "lr": 0.1, "step_size": "2"}),
        json!({"type": "StepLR", "lr": 0.1, "step_size": 2.5}),
        json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": {"f": 1}}),
        json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": "epoch +"}),
        json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": "(".repeat(10000)}),
        json!({"type": "ChainedScheduler", "lr": 0.1, "schedulers": {}}),
        json!({"type": "ChainedScheduler", "lr": 0.1, "schedulers": []}),
        json!({"type": "ChainedScheduler", "lr": 0.1, "schedulers": [{"type": "ReduceLROnPlateau"}]}),
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [2], "schedulers": [
            {"type": "StepLR", "step_size": 2}, {"type": "SequentialLR", "milestones": [], "schedulers": [{"type": "ConstantLR"}]}]}),
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [-1], "schedulers": [{"type": "ConstantLR"}, {"type": "ConstantLR"}]}),
        json!({"type": "SequentialLR", "lr": 0.1, "milestones": [1], "schedulers": [{"type": "ConstantLR"}, {"type": "StepLR", "lr": 0.1, "step_size": 1}]}),
        json!({"type": "OneCycleLR", "max_lr": [], "total_steps": 10}),
    ] {
        let e = err(v.clone());
        assert!(!e.to_string().is_empty(), "{v}");
    }
    let e = err(json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": "epoch + * 2"}));
    assert!(e.to_string().contains("column 9"), "{e}");
}

#[test]
fn a_fractional_epoch_only_where_pytorch_takes_one() {
    let s = config::from_value(json!({"type": "StepLR", "lr": 1.0, "step_size": 2})).unwrap();
    let mut sim = TorchSimulator::new(torch(&s));
    assert!(sim.step_to_epoch(1.5).is_err());
    sim.step_to_epoch(4.0).unwrap(); // the closed form: gamma ** 2
    assert!((sim.last_lr()[0] - 0.01).abs() < 1e-15);
    let s = config::from_value(json!({"type": "ChainedScheduler", "lr": 1.0,
        "schedulers": [{"type": "ConstantLR"}]}))
    .unwrap();
    assert!(TorchSimulator::new(torch(&s)).step_to_epoch(1.0).is_err());
    let s = config::from_value(json!({"type": "CosineAnnealingWarmRestarts", "lr": 1.0, "T_0": 2}))
        .unwrap();
    let mut sim = TorchSimulator::new(torch(&s));
    assert!(sim.step_to_epoch(-1.0).is_err());
    assert!(sim.step_to_epoch(f64::NAN).is_err());
}
