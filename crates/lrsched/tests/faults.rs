//! Faults found by trying the core as a hostile user would (issue 19): each test is a
//! class of input that was silently accepted, clamped or passed through, and is now
//! refused with a one-line error that names the value.
#![cfg(feature = "serde")]

use lrsched::time::{Duration, RunShape};
use lrsched::torch::{CosineAnnealingWarmRestarts, TorchClass, TorchSchedule, TorchSimulator};
use lrsched::trial::Trial;
use lrsched::{config, oneline, Driver, Interval, Schedule};
use serde_json::json;
use std::path::Path;

// ---------------------------------------------------------------------------------------
// Item 14: duplicate keys in JSON are refused, naming the key and where it is.

/// Every way the core reads JSON text a user wrote.
fn every_json_reader(text: &str) -> Vec<(&'static str, String)> {
    let shape = RunShape::new(100, 10).with_epochs(3);
    let mut out = Vec::new();
    let mut push = |name, r: Result<(), String>| {
        out.push((name, r.err().unwrap_or_else(|| "accepted".into())));
    };
    push(
        "from_json_str",
        config::from_json_str(text)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    push(
        "from_json_str_with_shape",
        config::from_json_str_with_shape(text, Some(&shape))
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    push(
        "load_json_str",
        config::load_json_str(text, None)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    push(
        "text_value(.json)",
        config::text_value(text, Path::new("s.json"))
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    push(
        "text_value(.conf)",
        config::text_value(text, Path::new("s.conf"))
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    push(
        "json_value",
        config::json_value(text)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    // The trial protocol's LRSCHED_SCHEDULE.
    let vars = [
        ("LRSCHED_PROTOCOL", "1"),
        ("LRSCHED_SCHEDULE", text),
        ("LRSCHED_SEED", "1"),
        ("LRSCHED_EPOCHS", "2"),
        ("LRSCHED_OUT_DIR", "/tmp/t"),
        ("LRSCHED_METRICS", "/tmp/t/m.jsonl"),
    ];
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    push(
        "Trial::from_vars",
        Trial::from_vars(get).map(drop).map_err(|e| e.to_string()),
    );
    out
}

#[test]
fn json_duplicate_keys_are_refused_naming_the_key_and_its_path() {
    let cases = [
        (
            r#"{"type": "cosine", "lr": 0.1, "lr": 0.2, "steps": 10}"#,
            "duplicate key `lr`",
            None,
        ),
        // The same key spelt with an escape is the same key.
        (
            r#"{"type": "cosine", "lr": 0.1, "l\u0072": 0.2, "steps": 10}"#,
            "duplicate key `lr`",
            None,
        ),
        (
            r#"{"type": "cosine", "type": "step", "lr": 0.1, "steps": 10}"#,
            "duplicate key `type`",
            None,
        ),
        (
            r#"{"type": "warmup", "steps": 2,
                "schedule": {"type": "cosine", "lr": 0.1, "steps": 9, "steps": 10}}"#,
            "duplicate key `steps`",
            Some("`schedule`"),
        ),
        (
            r#"{"type": "join", "boundaries": [5],
                "schedules": [{"type": "constant", "lr": 0.1},
                              {"type": "constant", "lr": 0.2, "lr": 0.3}]}"#,
            "duplicate key `lr`",
            Some("`schedules[1]`"),
        ),
    ];
    for (text, key, path) in cases {
        for (reader, e) in every_json_reader(text) {
            assert!(e.contains(key), "{reader} on {text}: {e}");
            if let Some(p) = path {
                assert!(e.contains(p), "{reader} on {text}: no {p} in {e}");
            }
            // One line, with the position of the second key.
            assert!(!e.contains('\n'), "{e}");
            assert!(e.contains("line"), "{reader}: {e}");
        }
    }
    // The same key in two different objects is no duplicate.
    let ok = r#"{"type": "join", "boundaries": [5],
        "schedules": [{"type": "constant", "lr": 0.1}, {"type": "constant", "lr": 0.2}]}"#;
    for (reader, e) in every_json_reader(ok) {
        assert_eq!(e, "accepted", "{reader}");
    }
}

#[test]
fn json_syntax_errors_read_as_before() {
    let e = config::from_json_str(r#"{"type": "cosine", "lr": }"#).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid JSON at line 1, column 26"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Item 15: durations that do not fit in a step count are refused, not clamped.

#[test]
fn huge_durations_are_refused_naming_the_value() {
    let shape = RunShape::new(1000, 10).with_epochs(10); // 100 steps an epoch, 1000 in all
    for huge in ["1e300%", "1e30ep", "1e20dur", "1.8446744073709552e19ep"] {
        let v = json!({"type": "cosine", "lr": 0.1, "steps": huge});
        let e = config::from_value_with_shape(v, Some(&shape))
            .unwrap_err()
            .to_string();
        assert!(e.contains(huge), "{huge}: {e}");
        assert!(e.contains("steps"), "{huge}: {e}");
        assert!(e.contains("at most"), "{huge}: {e}");
        // The one-line form resolves through the same code.
        let v = oneline::parse_value(&format!("cosine(lr=0.1, steps={huge})")).unwrap();
        assert!(
            config::from_value_with_shape(v, Some(&shape)).is_err(),
            "{huge}"
        );
    }
    // What fits still resolves.
    let v = json!({"type": "cosine", "lr": 0.1, "steps": "50%"});
    let s = config::from_value_with_shape(v, Some(&shape)).unwrap();
    assert_eq!(s.len(), Some(500));
}

#[test]
fn a_run_shape_too_long_for_a_step_count_is_refused() {
    // steps_per_epoch = 2^64 - 1 (as Python may pass it): 3 epochs of it do not fit.
    let shape = RunShape::new(u64::MAX, 1).with_epochs(3);
    let e = shape.steps(Duration::Epochs(3.0)).unwrap_err();
    assert!(e.contains("3ep") || e.contains('3'), "{e}");
    assert!(shape.steps(Duration::Fraction(1.0)).is_err());
    let v = json!({"type": "cosine", "lr": 0.1, "steps": "3ep"});
    let e = config::from_value_with_shape(v, Some(&shape))
        .unwrap_err()
        .to_string();
    assert!(e.contains("3ep"), "{e}");
    // A run length that is not a number cannot give a fraction of it.
    for epochs in [f64::INFINITY, f64::NAN, -1.0, 1e300] {
        let shape = RunShape::new(100, 1).with_epochs(epochs);
        let e = shape.steps(Duration::Fraction(0.5)).unwrap_err();
        assert!(!e.is_empty());
    }
    // Steps given as steps are never rescaled.
    assert_eq!(shape.steps(Duration::Steps(u64::MAX)), Ok(u64::MAX));
}

#[test]
fn a_warm_restarts_epoch_past_the_epoch_counter_is_refused() {
    // CosineAnnealingWarmRestarts takes float epochs; one the epoch counter cannot hold
    // was floored into it with a saturating cast, and the next step overflowed it.
    let s = TorchSchedule::new(
        vec![1.0],
        TorchClass::CosineAnnealingWarmRestarts(CosineAnnealingWarmRestarts::new(4)),
    );
    let mut sim = TorchSimulator::new(&s);
    let e = sim.step_to_epoch(1e300).unwrap_err().to_string();
    assert!(e.contains("1e300"), "{e}");
    sim.step();
    assert!(sim.last_lr()[0].is_finite());
    sim.step_to_epoch(6.5).unwrap();
    assert!(sim.last_lr()[0].is_finite());
}

// ---------------------------------------------------------------------------------------
// Item 16: a rate that is not finite at a step is an error naming the step.

#[test]
fn a_non_finite_rate_is_an_error_naming_the_step_and_value() {
    let s = config::from_value(json!({"type": "LambdaLR", "lr": 0.1,
        "lr_lambda": "1 / (1000 - epoch)", "interval": "step"}))
    .unwrap();
    let mut d = Driver::new(s);
    d.seek(999);
    assert!((d.try_lr().unwrap() - 0.1).abs() < 1e-12);
    d.step();
    // Python raises ZeroDivisionError at epoch 1000: the value is NaN.
    let e = d.try_lr().unwrap_err().to_string();
    assert!(e.contains("step 1000"), "{e}");
    assert!(e.contains("NaN"), "{e}");
    assert!(e.contains("LambdaLR"), "{e}");
    assert!(d.try_lrs().is_err());
    // lr() keeps its contract: the value as it is.
    assert!(d.lr().is_nan());

    let s = config::from_value(json!({"type": "LambdaLR", "lr": 0.1,
        "lr_lambda": "exp(epoch)"}))
    .unwrap();
    let mut d = Driver::new(s).with_interval(Interval::Epoch);
    d.seek(800);
    let e = d.try_lr().unwrap_err().to_string();
    assert!(e.contains("epoch 800"), "{e}");

    // MultiplicativeLR compounds its factors: 10 ** epoch overflows after a while.
    let s = config::from_value(json!({"type": "MultiplicativeLR", "lr": 0.1,
        "lr_lambda": "10.0"}))
    .unwrap();
    let mut d = Driver::new(s);
    let first_bad = (0..2000u64)
        .find(|&i| {
            d.seek(i);
            d.try_lr().is_err()
        })
        .expect("10 ** epoch overflows");
    let e = d.try_lr().unwrap_err().to_string();
    assert!(e.contains(&format!("step {first_bad}")), "{e}");
    assert!(e.contains("inf"), "{e}");

    // A group scale that overflows a finite rate is refused too.
    let d = Driver::new(lrsched::Constant::new(1e300)).with_group_scales(vec![1.0, 1e300]);
    assert_eq!(d.try_lr().unwrap(), 1e300);
    let e = d.try_lrs().unwrap_err().to_string();
    assert!(e.contains("inf") && e.contains("step 0"), "{e}");
}

#[test]
fn rates_at_or_below_zero_are_values_not_errors() {
    // Paste-ins reproduce libraries that compute them (see `is_usable_rate`).
    let mut d = Driver::new(lrsched::Cosine::new(0.1, 10));
    d.seek(10);
    assert_eq!(d.try_lr().unwrap(), 0.0);
    let d = Driver::new(lrsched::Constant::new(-0.1));
    assert_eq!(d.try_lrs().unwrap(), vec![-0.1]);
    assert_eq!(
        lrsched::check_rate("constant", Interval::Step, 3, -0.1),
        Ok(-0.1)
    );
    let e = lrsched::check_rate("constant", Interval::Step, 3, f64::NEG_INFINITY).unwrap_err();
    assert!(e.to_string().contains("-inf"), "{e}");
}

// ---------------------------------------------------------------------------------------
// The 80-character rule: a long number is quoted short, wherever it lands in a message.

#[test]
fn long_numbers_are_quoted_short() {
    let digits = "7".repeat(400);
    let inputs = [
        format!(r#"{{"type": "cosine", "lr": 0.1, "steps": {digits}}}"#),
        format!(r#"{{"type": "cosine", "lr": {digits}, "steps": 10}}"#),
        format!(r#"{{"type": "cosine", "lr": 0.1, "steps": -{digits}}}"#),
        format!(r#"{{"type": "StepLR", "lr": 0.1, "step_size": {digits}}}"#),
        format!(r#"{{"type": "multi_step", "lr": 0.1, "milestones": [{digits}]}}"#),
        format!(r#"{{"type": "cosine", "lr": 0.1, "steps": "{digits}ep"}}"#),
        format!(r#"{{"type": "cosine", "lr": 0.1, "steps": "{digits}%"}}"#),
        format!(r#"{{"type": "cosine", "lr": 0.1, "steps": "{digits}ba"}}"#),
    ];
    let shape = RunShape::new(100, 10).with_epochs(3);
    let mut messages = Vec::new();
    for text in &inputs {
        messages.push(config::from_json_str(text).unwrap_err().to_string());
        if let Err(e) = config::from_json_str_with_shape(text, Some(&shape)) {
            messages.push(e.to_string());
        }
    }
    for one in [
        format!("cosine(lr=0.1, steps={digits})"),
        format!("cosine(lr={digits}, steps=10)"),
        format!("cosine(lr=0.1, steps=-{digits})"),
        format!("cosine(lr=0.1, steps={digits}.5)"),
        format!("cosine(lr=0.1, steps={digits}ep)"),
        format!("cosine(lr=0.1, steps={digits}x)"),
        format!("multi_step(lr=0.1, milestones=[{digits}])"),
        format!("StepLR(lr=0.1, step_size={digits})"),
    ] {
        if let Err(e) = oneline::parse(&one) {
            messages.push(e.to_string());
        }
        if let Ok(v) = oneline::parse_value(&one) {
            if let Err(e) = config::from_value_with_shape(v, Some(&shape)) {
                messages.push(e.to_string());
            }
        }
    }
    assert!(messages.len() >= inputs.len());
    for m in messages {
        let longest = m
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest <= lrsched::MAX_QUOTE, "{longest} digits in: {m}");
    }
}

#[test]
fn trial_variables_are_quoted_short() {
    let digits = "7".repeat(400);
    let base = [
        ("LRSCHED_PROTOCOL", "1".to_string()),
        (
            "LRSCHED_SCHEDULE",
            r#"{"type": "cosine", "lr": 0.1, "steps": 10}"#.to_string(),
        ),
        ("LRSCHED_SEED", "1".to_string()),
        ("LRSCHED_EPOCHS", "2".to_string()),
        ("LRSCHED_OUT_DIR", "/tmp/t".to_string()),
        ("LRSCHED_METRICS", "/tmp/t/m.jsonl".to_string()),
    ];
    for (name, bad) in [
        ("LRSCHED_SEED", digits.clone()),
        ("LRSCHED_EPOCHS", digits.clone()),
        ("LRSCHED_MAX_STEPS", digits.clone()),
        ("LRSCHED_STEPS_PER_EPOCH", digits.clone()),
        ("LRSCHED_PROTOCOL", digits.clone()),
        ("LRSCHED_INTERVAL", digits.clone()),
    ] {
        let get = |k: &str| {
            if k == name {
                return Some(bad.clone());
            }
            base.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        let e = Trial::from_vars(get).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
        let longest = e
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(
            longest <= lrsched::MAX_QUOTE,
            "{name}: {longest} digits in {e}"
        );
    }
}

#[test]
fn the_metrics_helper_refuses_a_line_lrsched_would_reject() {
    // Before: a line over 64 KiB was written, and lrsched then ended the trial as bad
    // output on it (issue 19, the smaller items).
    let dir = std::env::temp_dir().join(format!("lrsched-line-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.jsonl");
    let _ = std::fs::remove_file(&path);
    let mut m = lrsched::trial::Metrics::append(&path).unwrap();
    let long = "k".repeat(lrsched::trial::MAX_LINE_BYTES);
    let e = m.epoch(1, &[(long.as_str(), 1.0)]).unwrap_err().to_string();
    assert!(e.contains("longer than the protocol's 65536"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "",
        "nothing written"
    );
    // Just under the limit is written whole.
    let name = "k".repeat(lrsched::trial::MAX_LINE_BYTES - 40);
    m.epoch(1, &[(name.as_str(), 1.0)]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.len() <= lrsched::trial::MAX_LINE_BYTES && text.ends_with('\n'));
    std::fs::remove_dir_all(&dir).unwrap();
}
