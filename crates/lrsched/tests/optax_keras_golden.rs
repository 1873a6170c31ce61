//! Every `optax.*` and `keras.*` config against traces recorded from optax and Keras
//! themselves (`scripts/jax_keras_golden.py` writes `fixtures/optax_keras_golden.json`;
//! CI needs neither library).
//!
//! Both libraries compute in float32 and lrsched in f64, so each value must agree to a
//! relative 2e-6, or, for values near 0, to an absolute 2e-7 times the largest value of
//! its trace: float32 cancellation leaves the reference a few float32 ulps of the peak
//! away from the exact value, in `0.5 * (1 + cos(pi * p))` near the end of a cosine (up
//! to 5.5e-5 relative at the last step before 0) and in optax's
//! `(init - peak) * frac + peak` at the start of a warmup from a small `init_value`.
#![cfg(feature = "serde")]

use lrsched::{catalog, config, Schedule, ScheduleError};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const FIXTURE: &str = include_str!("fixtures/optax_keras_golden.json");
const REL: f64 = 2e-6;
const ABS_OF_PEAK: f64 = 2e-7;

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

#[test]
fn every_trace_matches_the_library() {
    let doc = fixture();
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = config::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", case["config"]));
        let want: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (step, &w) in want.iter().enumerate() {
            let got = s.value(step as u64);
            let err = (got - w).abs();
            if !(err <= REL * w.abs() || err <= ABS_OF_PEAK * peak) {
                failures.push(format!(
                    "{name} step {step}: lrsched {got:e}, reference {w:e} (rel {:e})",
                    err / w.abs()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_type_has_three_traces_and_versions_are_recorded() {
    let doc = fixture();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for case in doc["cases"].as_array().unwrap() {
        *count
            .entry(case["config"]["type"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for info in catalog::all().filter(|t| t.group == "optax" || t.group == "keras") {
        let n = count.get(info.name).copied().unwrap_or(0);
        assert!(n >= 3, "{} has {n} golden traces", info.name);
    }
    for lib in ["jax", "optax", "keras"] {
        assert!(doc["versions"][lib].is_string(), "no {lib} version");
    }
}

#[test]
fn what_the_library_refuses_lrsched_refuses() {
    for case in fixture()["rejected"].as_array().unwrap() {
        let r = config::from_value(case["config"].clone());
        assert!(r.is_err(), "{} parsed: {r:?}", case["name"]);
    }
}

#[test]
fn refused_although_the_library_runs_them() {
    // Values that grow without bound, NaN in the reference, or overlapping ranges.
    for (config, key) in [
        (
            json!({"type": "keras.ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 1.1}),
            "decay_rate",
        ),
        (
            json!({"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.1, "first_decay_steps": 10, "m_mul": 1.5}),
            "m_mul",
        ),
        (
            json!({"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 0.9}),
            "t_mul",
        ),
        (
            json!({"type": "keras.PiecewiseConstantDecay", "boundaries": [10, 5], "values": [1, 2, 3]}),
            "boundaries",
        ),
        (
            json!({"type": "optax.join_schedules", "boundaries": [10, 5], "schedules": [
                {"type": "optax.constant_schedule", "value": 1},
                {"type": "optax.constant_schedule", "value": 2},
                {"type": "optax.constant_schedule", "value": 3}]}),
            "boundaries",
        ),
    ] {
        let e = config::from_value(config.clone()).unwrap_err();
        assert!(e.to_string().contains(&format!("`{key}`")), "{config}: {e}");
    }
}

#[test]
fn misspelt_functions_and_keywords_suggest_the_library_spelling() {
    for (wrong, right) in [
        (
            "optax.warmup_cosine_decay_schedul",
            "optax.warmup_cosine_decay_schedule",
        ),
        ("optax.exponential_decai", "optax.exponential_decay"),
        ("keras.CosineDecayRestart", "keras.CosineDecayRestarts"),
        ("keras.PolynomialDecy", "keras.PolynomialDecay"),
    ] {
        match config::from_value(json!({"type": wrong})) {
            Err(ScheduleError::UnknownType { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some(right), "{wrong}")
            }
            other => panic!("{wrong}: {other:?}"),
        }
    }
    for (config, wrong, right) in [
        (
            json!({"type": "optax.warmup_cosine_decay_schedule", "init_value": 0.0, "peak_value": 0.1,
                   "warmup_step": 10, "decay_steps": 100}),
            "warmup_step",
            "warmup_steps",
        ),
        (
            json!({"type": "optax.piecewise_constant_schedule", "init_value": 0.1,
                   "boundaries_and_scale": {"10": 0.1}}),
            "boundaries_and_scale",
            "boundaries_and_scales",
        ),
        (
            json!({"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.1,
                   "first_decay_step": 100}),
            "first_decay_step",
            "first_decay_steps",
        ),
        (
            json!({"type": "keras.CosineDecay", "initial_learning_rate": 0.0, "decay_steps": 100,
                   "warmup_targt": 0.1}),
            "warmup_targt",
            "warmup_target",
        ),
    ] {
        match config::from_value(config.clone()) {
            Err(e @ ScheduleError::UnknownKey { .. }) => {
                let ScheduleError::UnknownKey {
                    key, suggestion, ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(key, wrong);
                assert_eq!(suggestion.as_deref(), Some(right), "{config}");
                assert!(e.to_string().contains(&format!("did you mean `{right}`")));
            }
            other => panic!("{config}: {other:?}"),
        }
    }
    // A misspelt keyword inside sgdr's cosine_kwargs names the right one too.
    let e = config::from_value(json!({"type": "optax.sgdr_schedule", "cosine_kwargs": [
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 1, "decay_step": 10}]}))
    .unwrap_err();
    assert!(e.to_string().contains("did you mean `decay_steps`"), "{e}");
}

#[test]
fn configs_round_trip_through_their_native_form() {
    for case in fixture()["cases"].as_array().unwrap() {
        let s = config::from_value(case["config"].clone()).unwrap();
        let native = config::to_value(&s);
        let back = config::from_value(native.clone())
            .unwrap_or_else(|e| panic!("{}: {native}: {e}", case["name"]));
        assert_eq!(back, s, "{}", case["name"]);
        for t in [0, 1, 7, 1_000_000_000, u64::MAX] {
            let v = s.value(t);
            let name = case["name"].as_str().unwrap();
            // Only the configs whose optax values are negative give negative values.
            assert!(
                v.is_finite() && (v >= 0.0 || name.contains("negative")),
                "{name} at {t}: {v}"
            );
        }
    }
}

#[test]
fn optax_growth_without_end_value_is_accepted() {
    // Regression: lrsched refused decay_rate > 1 without end_value; optax grows.
    for (extra, at, want) in [
        (json!({}), 20, 0.1 * 1.1f64.powf(2.0)),
        (json!({"staircase": true}), 19, 0.1 * 1.1),
        (json!({"transition_begin": 5}), 25, 0.1 * 1.1f64.powf(2.0)),
        (
            json!({"transition_begin": 5, "staircase": true}),
            24,
            0.1 * 1.1,
        ),
    ] {
        let mut config = json!({"type": "optax.exponential_decay", "init_value": 0.1,
            "transition_steps": 10, "decay_rate": 1.1});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let s = config::from_value(config.clone()).unwrap_or_else(|e| panic!("{config}: {e}"));
        assert!(
            (s.value(at) - want).abs() <= 1e-15,
            "{config}: {}",
            s.value(at)
        );
        assert!(s.value(1_000_000) > s.value(at));
        assert!(s.value(u64::MAX).is_finite());
    }
}

#[test]
fn negative_optax_values_are_reproduced() {
    // Regression: lrsched refused a negative init_value or end_value that optax computes.
    let pwc = config::from_value(json!({"type": "optax.piecewise_constant_schedule",
        "init_value": -0.1, "boundaries_and_scales": {"5": 0.5}}))
    .unwrap();
    assert_eq!(pwc.values(4..6), vec![-0.1, -0.05]);
    let wcd = config::from_value(json!({"type": "optax.warmup_cosine_decay_schedule",
        "init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5, "decay_steps": 30,
        "end_value": -0.05}))
    .unwrap();
    assert_eq!(wcd.value(30), -0.05);
    assert!(!lrsched::is_usable_rate(wcd.value(29)));
    // A Driver steps through them without refusing or panicking.
    let mut d = lrsched::Driver::new(wcd.clone());
    d.validate().unwrap();
    for _ in 0..40 {
        d.step();
    }
    assert_eq!(d.lr(), -0.05);
}

#[test]
fn zero_peak_ignores_end_value_as_optax_does() {
    // Regression: lrsched checked end_value before its zero-peak rule.
    let s = config::from_value(json!({"type": "optax.warmup_cosine_decay_schedule",
        "init_value": 0.1, "peak_value": 0.0, "warmup_steps": 5, "decay_steps": 10,
        "end_value": -0.1}))
    .unwrap();
    assert!((s.value(4) - 0.02).abs() < 1e-15);
    assert_eq!(s.values(5..12), vec![0.0; 7]);
}
