//! Regression tests for what a fuzzer found: replays that never ended, NaN metrics that
//! could not be restored, and rounding negatives.

use super::{TorchSchedule, TorchSimulator, REPLAY_LIMIT};
use crate::{config, oneline, AnySchedule, Driver, Schedule};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn torch(v: &Value) -> TorchSchedule {
    match config::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}")) {
        AnySchedule::Torch(t) => t,
        other => panic!("not a torch schedule: {other:?}"),
    }
}

/// Configs of every class that replays, and the composites, with parameters that keep
/// the lr in a range where a jump can be compared with the replay (`false`: a jump that
/// holds, an epoch-dependent `MultiplicativeLR`).
fn far_configs() -> Vec<(Value, bool)> {
    vec![
        (
            json!({"type": "ExponentialLR", "lr": 2.0, "gamma": 0.698}),
            true,
        ),
        (
            json!({"type": "ExponentialLR", "lr": 2.0, "gamma": 0.9999999}),
            true,
        ),
        (
            json!({"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": 0.9999999}),
            true,
        ),
        (
            json!({"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": "lambda e: 1 - 1e-7"}),
            true,
        ),
        (
            json!({"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": "1 - 1e-7 * (epoch % 3)"}),
            false,
        ),
        (
            json!({"type": "CosineAnnealingLR", "lr": 1.0, "T_max": 33, "eta_min": 0.01}),
            true,
        ),
        (
            json!({"type": "CosineAnnealingLR", "lr": 1.0, "T_max": 1000}),
            true,
        ),
        (
            json!({"type": "CosineAnnealingLR", "lr": 1.0, "T_max": 1_000_000_000_000u64}),
            true,
        ),
        (
            json!({"type": "CosineAnnealingWarmRestarts", "lr": 1.0, "T_0": 7, "eta_min": 0.1}),
            true,
        ),
        (
            json!({"type": "CosineAnnealingWarmRestarts", "lr": 1.0, "T_0": 3, "T_mult": 2}),
            true,
        ),
        (
            json!({"type": "StepLR", "lr": 1.0, "step_size": 1, "gamma": 0.9999999}),
            true,
        ),
        (
            json!({"type": "StepLR", "lr": 1.0, "step_size": 3, "gamma": 0.9999999}),
            true,
        ),
        (
            json!({"type": "LinearLR", "lr": 1.0, "start_factor": 0.5, "total_iters": 1_000_000_000_000_000u64}),
            true,
        ),
        (
            json!({"type": "PolynomialLR", "lr": 1.0, "total_iters": 1_000_000_000_000u64, "power": 2.0}),
            true,
        ),
        (
            json!({"type": "ConstantLR", "lr": 1.0, "factor": 0.5, "total_iters": 1_000_500}),
            true,
        ),
        (
            json!({"type": "MultiStepLR", "lr": 1.0, "milestones": [3, 1_000_700, 1_000_700], "gamma": 0.5}),
            true,
        ),
        (
            json!({"type": "LambdaLR", "lr": 1.0, "lr_lambda": "0.5 ** (epoch % 5)"}),
            true,
        ),
        (
            json!({"type": "CyclicLR", "base_lr": 0.1, "max_lr": 1.0, "step_size_up": 7}),
            true,
        ),
        (
            json!({"type": "OneCycleLR", "max_lr": 1.0, "total_steps": 100}),
            true,
        ),
        (
            json!({"type": "SequentialLR", "lr": 1.0, "milestones": [5],
                "schedulers": [{"type": "LinearLR", "total_iters": 5},
                               {"type": "ExponentialLR", "gamma": 0.9999999}]}),
            true,
        ),
        (
            json!({"type": "SequentialLR", "lr": 1.0, "milestones": [5, 1_000_300],
                "schedulers": [{"type": "LinearLR", "total_iters": 5},
                               {"type": "CosineAnnealingLR", "T_max": 40, "eta_min": 0.1},
                               {"type": "ExponentialLR", "gamma": 0.99999}]}),
            true,
        ),
        (
            json!({"type": "ChainedScheduler", "lr": 1.0,
                "schedulers": [{"type": "ExponentialLR", "gamma": 0.9999999},
                               {"type": "MultiplicativeLR", "lr_lambda": 0.9999999}]}),
            true,
        ),
        (
            json!({"type": "ChainedScheduler", "lr": 1.0,
                "schedulers": [{"type": "LambdaLR", "lr_lambda": "0.5 ** (epoch % 5)"},
                               {"type": "ExponentialLR", "gamma": 0.99}]}),
            true,
        ),
        (
            json!({"type": "ChainedScheduler", "lr": 1.0,
                "schedulers": [{"type": "ExponentialLR", "gamma": 0.999},
                               {"type": "CosineAnnealingLR", "T_max": 50}]}),
            true,
        ),
        (
            json!({"type": "ChainedScheduler", "lr": 1.0,
                "schedulers": [{"type": "CosineAnnealingLR", "T_max": 50},
                               {"type": "ExponentialLR", "gamma": 0.999}]}),
            true,
        ),
        (
            json!({"type": "ChainedScheduler", "lr": 1.0,
                "schedulers": [{"type": "CosineAnnealingWarmRestarts", "T_0": 3, "T_mult": 2},
                               {"type": "StepLR", "step_size": 1, "gamma": 0.9999999}]}),
            true,
        ),
    ]
}

#[test]
fn far_steps_return_quickly_and_finite() {
    // value() replays at most REPLAY_LIMIT steps (~50 ms optimised); generous for a debug
    // build on a busy machine.
    let budget = Duration::from_secs(if cfg!(debug_assertions) { 20 } else { 1 });
    for (v, _) in far_configs() {
        let s = torch(&v);
        s.validate().unwrap_or_else(|e| panic!("{v}: {e}"));
        for step in [u64::MAX, 1_000_000_000, 1_000_000_000_000_000] {
            let t = Instant::now();
            let x = s.value(step);
            let took = t.elapsed();
            assert!(took < budget, "{v} value({step}) took {took:?}");
            assert!(x.is_finite() && x >= 0.0, "{v} value({step}) = {x}");
        }
    }
}

/// `value` at `end` with `limit` in place of [`REPLAY_LIMIT`], and the full replay.
fn jumped_and_replayed(s: &TorchSchedule, limit: u64, end: u64) -> (f64, f64) {
    let mut fast = TorchSimulator::new(s).with_replay_limit(limit);
    fast.advance(end);
    let mut slow = TorchSimulator::new(s);
    for _ in 0..end {
        slow.step();
    }
    (fast.last_lr()[0], slow.last_lr()[0])
}

#[test]
fn below_the_limit_is_the_replay_and_beyond_it_close() {
    const L: u64 = 1_000;
    for (v, comparable) in far_configs() {
        let s = torch(&v);
        for end in [
            L - 1,
            L,
            L + 1,
            L + 2,
            L + 17,
            L + 100,
            L + 1_234,
            L + 54_321,
        ] {
            let (got, exact) = jumped_and_replayed(&s, L, end);
            if end <= L + 1 {
                // At most one step beyond the limit, and it is real: the replay's bits.
                assert_eq!(got.to_bits(), exact.to_bits(), "{v} value({end})");
            } else if comparable {
                let err = (got - exact).abs();
                assert!(
                    err <= 1e-9 * exact.abs().max(1e-6),
                    "{v} value({end}) = {got:e}, replay {exact:e}"
                );
            }
        }
    }
    // And with the real limit: value() is the replay up to it.
    let s = torch(&json!({"type": "ExponentialLR", "lr": 2.0, "gamma": 0.9999999}));
    for end in [REPLAY_LIMIT - 1, REPLAY_LIMIT + 1] {
        let (_, exact) = jumped_and_replayed(&s, REPLAY_LIMIT, end);
        assert_eq!(s.value(end), exact);
    }
}

#[test]
fn a_range_across_the_limit_matches_value_bit_for_bit() {
    for v in [
        json!({"type": "ExponentialLR", "lr": 2.0, "gamma": 0.9999999}),
        json!({"type": "StepLR", "lr": 1.0, "step_size": 3, "gamma": 0.9999999}),
        json!({"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": "1 - 1e-7 * (epoch % 3)"}),
        json!({"type": "ChainedScheduler", "lr": 1.0,
               "schedulers": [{"type": "CosineAnnealingLR", "T_max": 3, "eta_min": 0.1},
                              {"type": "ExponentialLR", "gamma": 0.999}]}),
    ] {
        let s = torch(&v);
        let from = REPLAY_LIMIT - 2;
        let all = s.values(from..from + 8);
        for (i, x) in all.iter().enumerate() {
            let at = from + i as u64;
            assert_eq!(x.to_bits(), s.value(at).to_bits(), "{v} value({at})");
        }
    }
}

#[test]
fn nan_and_infinite_metrics_survive_a_saved_state() {
    for m in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let cfg = "ReduceLROnPlateau(lr=0.1)";
        let mut d = Driver::new(oneline::parse(cfg).unwrap());
        d.step_with_metric(1.0).unwrap();
        d.step_with_metric(m).unwrap();
        let text = serde_json::to_string(&d.state()).unwrap();
        let back = Driver::new(oneline::parse(cfg).unwrap())
            .restore(&serde_json::from_str(&text).unwrap())
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(serde_json::to_string(&back.state()).unwrap(), text);
        assert_eq!(back, d, "a NaN metric equals itself in a restored driver");

        let mut s = torch(&json!({"type": "ReduceLROnPlateau", "lr": 0.1}));
        s.observe(0, m).unwrap();
        let mut saved = Vec::new();
        s.save_state(&mut saved);
        let text = serde_json::to_string(&saved).unwrap();
        let saved: Vec<Value> = serde_json::from_str(&text).unwrap();
        let mut t = torch(&json!({"type": "ReduceLROnPlateau", "lr": 0.1}));
        t.load_state(&mut saved.into_iter()).unwrap();
        assert_eq!(t.metrics()[0].to_bits(), m.to_bits(), "{text}");
    }
    // States saved before: serde_json wrote a NaN as null.
    let mut t = torch(&json!({"type": "ReduceLROnPlateau", "lr": 0.1}));
    t.load_state(&mut vec![json!({"metrics": [1.0, null]})].into_iter())
        .unwrap();
    assert!(t.metrics()[1].is_nan());
    assert!(t
        .load_state(&mut vec![json!({"metrics": ["soon"]})].into_iter())
        .is_err());
}

#[test]
fn rounding_negatives_are_zero() {
    let s = torch(
        &json!({"type": "LinearLR", "lr": 0.1, "start_factor": 0.3333333333333333,
                          "end_factor": 0.0, "total_iters": 5}),
    );
    let mut sim = TorchSimulator::new(&s);
    sim.advance(5);
    assert!(sim.last_lr()[0] < 0.0, "PyTorch's own value is negative");
    assert_eq!(s.value(5), 0.0);
    assert!(s.values(0..10).iter().all(|&x| x >= 0.0));

    let s = torch(&json!({"type": "CosineAnnealingLR", "lr": 0.0, "eta_min": 7.0, "T_max": 33}));
    let mut sim = TorchSimulator::new(&s);
    sim.advance(66);
    assert!(sim.last_lr()[0] < 0.0, "PyTorch's own value is negative");
    assert_eq!(s.value(66), 0.0);
    // The simulator keeps PyTorch's value, so the steps after it still match PyTorch.
    sim.step();
    assert_eq!(s.value(67), sim.last_lr()[0]);
    assert!(s.values(0..200).iter().all(|&x| x >= 0.0));

    // Not rounding-sized: the quotient near the minimum loses ~T_max^2 * 1e-16 of eta_min.
    let s = torch(
        &json!({"type": "CosineAnnealingLR", "lr": 0.0, "eta_min": 479.0,
                          "T_max": 49528}),
    );
    let mut sim = TorchSimulator::new(&s);
    sim.advance(99056);
    assert!(sim.last_lr()[0] < -1e-6, "PyTorch's own value is negative");
    assert_eq!(s.value(99056), 0.0);

    // OneCycleLR's extrapolation at total_steps is PyTorch's own value: kept.
    let s = torch(
        &json!({"type": "OneCycleLR", "max_lr": 1.0, "total_steps": 10,
                          "anneal_strategy": "linear"}),
    );
    assert!(s.value(10) < -1e-3);
}

#[test]
fn invalid_schedules_far_away_never_panic_or_hang() {
    use super::*;
    let leaf = |c: TorchClass| TorchSchedule::new(vec![1.0], c);
    let cases = vec![
        leaf(TorchClass::CosineAnnealingLR(CosineAnnealingLR::new(0))),
        leaf(TorchClass::CosineAnnealingWarmRestarts(
            CosineAnnealingWarmRestarts::new(0).with_t_mult(0),
        )),
        leaf(TorchClass::CosineAnnealingWarmRestarts(
            CosineAnnealingWarmRestarts::new(1).with_t_mult(u64::MAX),
        )),
        leaf(TorchClass::StepLR(StepLR::new(0))),
        leaf(TorchClass::LinearLR(LinearLR::new(0.0, 0.0, 0))),
        leaf(TorchClass::PolynomialLR(PolynomialLR::new(0, f64::NAN))),
        leaf(TorchClass::ExponentialLR(ExponentialLR::new(f64::NAN))),
        leaf(TorchClass::ExponentialLR(ExponentialLR::new(2.0))),
        leaf(TorchClass::SequentialLR(SequentialLR::new(
            vec![],
            vec![1, 2],
        ))),
        leaf(TorchClass::ChainedScheduler(ChainedScheduler::new(vec![]))),
        leaf(TorchClass::SequentialLR(SequentialLR::new(
            vec![TorchSchedule::new(
                vec![],
                TorchClass::CosineAnnealingLR(CosineAnnealingLR::new(u64::MAX)),
            )],
            vec![0, u64::MAX],
        ))),
    ];
    for s in cases {
        let t = Instant::now();
        let _ = s.value(1_000_000_000_000_000);
        let _ = s.values(u64::MAX - 2..u64::MAX);
        assert!(t.elapsed() < Duration::from_secs(60), "{s:?}");
    }
}
