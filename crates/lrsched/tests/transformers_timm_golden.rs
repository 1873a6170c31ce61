//! transformers and timm schedules against traces recorded from the libraries themselves
//! (`scripts/transformers_timm_golden.py` writes `fixtures/transformers_timm_golden.json`).
//!
//! Every step agrees to a relative 1e-10. For timm configs with noise the fixture also holds
//! the noise-free trace: timm draws its noise from torch's generator, which lrsched does
//! not reproduce, so there the value must lie within `(1 +- noise_pct)` times the
//! noise-free value, and equal it exactly (to 1e-10) outside the noise range.
#![cfg(feature = "serde")]

mod common;

use common::floats;
use lrsched::{config, Schedule, ScheduleError};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/transformers_timm_golden.json");

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-10 * a.abs().max(b.abs())
}

/// The values lrsched gives for a case: pure steps, or steps with metrics fed as the
/// fixture was recorded (value i after the metric observed at step i - 1).
fn ours(config: &Value, n: usize, metrics: Option<&[f64]>) -> Vec<f64> {
    let mut s = config::from_value(config.clone()).unwrap_or_else(|e| panic!("{config}: {e}"));
    let Some(metrics) = metrics else {
        return (0..n as u64).map(|t| s.value(t)).collect();
    };
    assert!(s.needs_metric());
    let mut out = vec![s.value(0)];
    for (i, m) in metrics.iter().enumerate() {
        s.observe(i as u64, *m).unwrap();
        out.push(s.value(i as u64 + 1));
    }
    out
}

/// `[start, end)` of timm's `noise_range_t`.
fn noise_range(config: &Value) -> (u64, u64) {
    match &config["noise_range_t"] {
        Value::Array(r) => (r[0].as_u64().unwrap(), r[1].as_u64().unwrap()),
        v => (v.as_u64().unwrap(), u64::MAX),
    }
}

#[test]
fn every_step_matches_the_libraries() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 60);
    let mut per_type = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = &case["config"];
        *per_type
            .entry(config["type"].as_str().unwrap().to_string())
            .or_default() += 1;
        let want = floats(&case["values"]);
        let metrics = case.get("metrics").map(floats);
        let got = ours(config, want.len(), metrics.as_deref());
        if let Some(clean) = case.get("clean").map(floats) {
            let pct = config["noise_pct"].as_f64().unwrap_or(0.67);
            let (start, end) = noise_range(config);
            // Plateau adds noise only after its warmup.
            let first = config["warmup_t"].as_u64().map_or(0, |w| w + 1);
            for (t, ((&g, &c), &w)) in got.iter().zip(&clean).zip(&want).enumerate() {
                let t = t as u64;
                let noisy = t >= start && t < end;
                let timm_noisy = noisy && t >= first.min(start.max(first));
                let (lo, hi) = (c * (1.0 - pct), c * (1.0 + pct));
                let ok = if noisy {
                    g >= lo * (1.0 - 1e-12) && g <= hi * (1.0 + 1e-12)
                } else {
                    close(g, c)
                };
                // The reference itself keeps to the same bounds.
                let ref_ok = !timm_noisy || (w >= lo * (1.0 - 1e-12) && w <= hi * (1.0 + 1e-12));
                if !ok || !ref_ok {
                    failures.push(format!(
                        "{name} step {t}: ours {g:e}, noise-free {c:e}, timm {w:e}"
                    ));
                }
            }
            continue;
        }
        assert_eq!(got.len(), want.len(), "{name}");
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            if !close(*g, *w) {
                failures.push(format!("{name} step {t}: ours {g:e}, library {w:e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (ty, n) in &per_type {
        assert!(*n >= 3, "{ty} has only {n} golden configs");
    }
    assert_eq!(per_type.len(), 16, "{per_type:?}");
}

#[test]
fn misspelt_function_suggests_the_library_spelling() {
    for (typo, right) in [
        (
            "transformers.get_cosine_schedul_with_warmup",
            "transformers.get_cosine_schedule_with_warmup",
        ),
        (
            "transformers.get_linear_schedule_with_warmpu",
            "transformers.get_linear_schedule_with_warmup",
        ),
        ("timm.CosineLRSchedular", "timm.CosineLRScheduler"),
        ("timm.MultiStepLRscheduler", "timm.MultiStepLRScheduler"),
    ] {
        let e = config::from_value(serde_json::json!({"type": typo, "lr": 0.1})).unwrap_err();
        match &e {
            ScheduleError::UnknownType { name, suggestion } => {
                assert_eq!(name, typo);
                assert_eq!(suggestion.as_deref(), Some(right), "{e}");
            }
            other => panic!("{typo}: {other:?}"),
        }
        assert!(e.to_string().contains(right), "{e}");
    }
}

#[test]
fn misspelt_keyword_suggests_the_library_spelling() {
    for (config, typo, right) in [
        (
            serde_json::json!({"type": "transformers.get_cosine_schedule_with_warmup", "lr": 0.1,
                "num_warmup_step": 10, "num_training_steps": 100}),
            "num_warmup_step",
            "num_warmup_steps",
        ),
        (
            serde_json::json!({"type": "timm.CosineLRScheduler", "lr": 0.1, "t_inital": 100}),
            "t_inital",
            "t_initial",
        ),
        (
            serde_json::json!({"type": "timm.PlateauLRScheduler", "lr": 0.1, "patience": 3}),
            "patience",
            "patience_t",
        ),
    ] {
        let e = config::from_value(config.clone()).unwrap_err();
        match &e {
            ScheduleError::UnknownKey {
                key, suggestion, ..
            } => {
                assert_eq!(key, typo);
                assert_eq!(suggestion.as_deref(), Some(right), "{e}");
            }
            other => panic!("{config}: {other:?}"),
        }
    }
}

#[test]
fn library_errors_are_errors_not_panics() {
    for config in [
        // transformers raises: lr_end must be below lr.
        serde_json::json!({"type": "transformers.get_polynomial_decay_schedule_with_warmup",
            "lr": 0.1, "num_warmup_steps": 0, "num_training_steps": 10, "lr_end": 0.2}),
        serde_json::json!({"type": "transformers.get_cosine_with_min_lr_schedule_with_warmup",
            "lr": 0.1, "num_warmup_steps": 0, "num_training_steps": 10,
            "min_lr": 0.01, "min_lr_rate": 0.1}),
        serde_json::json!({"type": "transformers.get_wsd_schedule", "lr": 0.1,
            "num_warmup_steps": 0, "num_decay_steps": 10}),
        serde_json::json!({"type": "timm.CosineLRScheduler", "lr": 0.1, "t_initial": 0}),
        serde_json::json!({"type": "timm.StepLRScheduler", "lr": 0.1, "decay_t": -1.0}),
        serde_json::json!({"type": "timm.CosineLRScheduler", "lr": 0.1, "t_initial": 10,
            "noise_range_t": [1, 2, 3]}),
    ] {
        assert!(config::from_value(config.clone()).is_err(), "{config}");
    }
}

#[test]
fn what_timm_refuses_lrsched_refuses() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let rejected = doc["rejected"].as_array().unwrap();
    assert!(rejected.len() >= 4);
    for case in rejected {
        let r = config::from_value(case["config"].clone());
        assert!(r.is_err(), "{} parsed: {r:?}", case["name"]);
    }
}

#[test]
fn float_cycle_mul_is_accepted_for_every_cycle_class() {
    // Regression: a cycle_mul whose cycles are not whole steps was refused.
    for class in ["CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"] {
        let config = serde_json::json!({"type": format!("timm.{class}"), "lr": 0.1,
            "t_initial": 10, "cycle_mul": 1.5, "cycle_limit": 3});
        let s = config::from_value(config).unwrap();
        assert_eq!(s.value(10), s.value(0), "{class}: cycle 1 starts at 10");
        assert_eq!(s.value(25), s.value(0), "{class}: cycle 2 starts at 25");
        assert!(s.value(26) < s.value(0), "{class}");
        assert_eq!(s.len(), Some(48), "{class}: cycle 3 would start at 47.5");
        // And converts back to the same timm class, exactly.
        let c = lrsched::convert::convert(&s, lrsched::convert::Target::Timm).unwrap();
        assert!(c.exact, "{class}: {:?}", c.notes);
        assert_eq!(c.config["cycle_mul"], 1.5, "{class}");
    }
}
