//! One rule for a schedule's `lr`, native or pasted, and one message for each refusal
//! (issue 21): `lr` is a rate, a finite number >= 0, in every family (PyTorch's classes
//! refused a negative one, native `cosine` and `constant` took it); values a library
//! computes below 0 (optax) are still given, read as a rate scaled by -1. And a count such
//! as `T_mult` names the same rule whether the value given is 0, negative or fractional.

#![cfg(feature = "serde")]

use lrsched::{oneline, Schedule};

const WITH_LR: &[&str] = &[
    "constant(lr={})",
    "cosine(lr={}, steps=10)",
    "polynomial(lr={}, steps=10, power=2)",
    "step(lr={}, step_size=3, gamma=0.1)",
    "multi_step(lr={}, milestones=[3], gamma=0.1)",
    "exponential(lr={}, gamma=0.9)",
    "inverse_time(lr={}, k=0.01)",
    "inverse_sqrt(lr={}, timescale=10, warmup_steps=2)",
    "tanh(lr={}, steps=10)",
    "rex(lr={}, steps=10)",
    "warm_restarts(lr={}, period=5)",
    "wsd(lr={}, warmup_steps=2, stable_steps=3, decay_steps=5)",
    "plateau(lr={}, patience=2)",
    "StepLR(lr={}, step_size=3)",
    "CosineAnnealingLR(lr={}, T_max=10)",
    "ReduceLROnPlateau(lr={})",
];

fn build(template: &str, lr: &str) -> Result<lrsched::AnySchedule, lrsched::ScheduleError> {
    let v = oneline::parse_value(&template.replace("{}", lr))?;
    lrsched::config::from_value(v)
}

#[test]
fn every_lr_is_a_rate_refused_below_zero_with_one_message() {
    for t in WITH_LR {
        // A rate: 0 is one (a schedule may rest at it); below 0 the same words everywhere.
        build(t, "0").unwrap_or_else(|e| panic!("{t}: {e}"));
        let e = build(t, "-0.1").unwrap_err().to_string();
        assert!(
            e.contains("`lr` = -0.1 is not allowed") && e.ends_with("must be a finite number >= 0"),
            "{t}: {e}"
        );
    }
    // The issue's example, through the Rust API.
    let e = lrsched::Cosine::new(-0.1, 100)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("must be a finite number >= 0"), "{e}");
}

#[test]
fn libraries_that_compute_negative_values_still_give_them() {
    // optax allows them; its paste-ins read into a rate scaled by -1, the same values.
    for (config, at, want) in [
        (
            r#"{"type": "optax.constant_schedule", "value": -0.1}"#,
            7,
            -0.1,
        ),
        (
            r#"{"type": "optax.piecewise_constant_schedule", "init_value": -0.1, "boundaries_and_scales": {"5": 0.5}}"#,
            6,
            -0.05,
        ),
        (
            r#"{"type": "optax.cosine_decay_schedule", "init_value": -0.1, "decay_steps": 10}"#,
            0,
            -0.1,
        ),
        (
            r#"{"type": "optax.polynomial_schedule", "init_value": -0.1, "end_value": 0.0, "power": 2, "transition_steps": 10}"#,
            0,
            -0.1,
        ),
    ] {
        let s = lrsched::config::from_json_str(config).unwrap_or_else(|e| panic!("{config}: {e}"));
        assert_eq!(s.value(at), want, "{config}");
    }
}

#[test]
fn a_bad_lr_gets_one_message_in_every_family() {
    use lrsched::torch::{StepLR, TorchClass, TorchSchedule};
    use lrsched::{Constant, Cosine, Exponential, Rex, StepDecay, Tanh};
    let nan = f64::NAN;
    let refusals = [
        Constant::new(nan).validate(),
        Cosine::new(nan, 10).validate(),
        StepDecay::new(nan, 3, 0.1).validate(),
        Exponential::new(nan, 0.9).validate(),
        Rex::new(nan, 10).validate(),
        Tanh::new(nan, 10).validate(),
        TorchSchedule::new(vec![nan], TorchClass::StepLR(StepLR::new(3))).validate(),
    ];
    for r in refusals {
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("`lr` = NaN") && e.ends_with("must be a finite number >= 0"),
            "{e}"
        );
    }
}

#[test]
fn a_count_names_its_rule_whether_zero_or_fractional() {
    for (t, key) in [
        (
            "CosineAnnealingWarmRestarts(lr=0.1, T_0=2, T_mult={})",
            "T_mult",
        ),
        ("CosineAnnealingWarmRestarts(lr=0.1, T_0={})", "T_0"),
        ("StepLR(lr=0.1, step_size={})", "step_size"),
        ("CosineAnnealingLR(lr=0.1, T_max={})", "T_max"),
        ("LinearLR(lr=0.1, total_iters={})", "total_iters"),
        ("PolynomialLR(lr=0.1, total_iters={})", "total_iters"),
        ("OneCycleLR(max_lr=0.1, total_steps={})", "total_steps"),
        (
            "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up={})",
            "step_size_up",
        ),
    ] {
        let zero = build(t, "0").unwrap_err().to_string();
        let half = build(t, "0.5").unwrap_err().to_string();
        let negative = build(t, "-1").unwrap_err().to_string();
        for e in [&zero, &half, &negative] {
            assert!(
                e.contains(&format!("`{key}`")) && e.ends_with("must be an integer >= 1"),
                "{t}: {e}"
            );
        }
    }
    // Counts that may be 0 keep saying so.
    let e = build("ConstantLR(lr=0.1, total_iters={})", "0.5")
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("must be an integer >= 0"), "{e}");
}
