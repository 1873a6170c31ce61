//! The core's faults of issue 19 as the command line meets them: a rate that is not finite
//! at some step, a key given twice in a JSON config, a duration too long for a step
//! count. Each is refused with one line naming the value (exit 2), never printed or
//! trained with.

mod support;

use support::{assert_refused as refused, ok, run, stdout, trace};

#[test]
fn trace_stops_at_the_first_rate_that_is_not_finite() {
    // Valid (the first 101 epochs are checked), NaN at epoch 1000 where Python raises.
    let schedule = r#"LambdaLR(lr=0.1, lr_lambda="1 / (1000 - epoch)")"#;
    for format in ["plain", "csv", "json"] {
        let o = trace(schedule, &format!("--steps 1200 --format {format}"));
        refused(&o, &["LambdaLR", "epoch 1000", "NaN", "finite"]);
        // Every rate before it was printed, none after.
        let out = stdout(&o);
        assert!(!out.contains("NaN") && !out.contains("null"), "{format}");
        if format == "plain" {
            assert_eq!(out.lines().count(), 1000);
        }
    }
    // exp(epoch) overflows at epoch 710 (Python raises OverflowError: NaN).
    let o = trace(
        r#"LambdaLR(lr=0.1, lr_lambda="exp(epoch)", interval=step)"#,
        "--steps 800",
    );
    refused(&o, &["step 710", "NaN"]);
    assert_eq!(stdout(&o).lines().count(), 710);
    // Short of the bad step, the trace is whole and succeeds.
    let o = trace(schedule, "--steps 1000");
    ok(&o);
    assert_eq!(stdout(&o).lines().count(), 1000);
}

#[test]
fn trace_still_prints_rates_at_or_below_zero() {
    let o = trace("optax.constant_schedule(value=-0.1)", "--steps 3");
    ok(&o);
    assert_eq!(stdout(&o), "-0.1\n-0.1\n-0.1\n");
}

#[test]
fn train_ends_at_the_first_rate_that_is_not_finite() {
    // Valid (epochs 0..=100 are checked), NaN at epoch 120 where Python raises
    // ZeroDivisionError. Before, the optimizer refused it without saying which step.
    let o = support::run_words(
        "train --quiet --data xor --batch-size 4 --epochs 130 --schedule",
        &[r#"LambdaLR(lr=0.05, lr_lambda="1 / (120 - epoch)")"#],
    );
    refused(&o, &["LambdaLR", "epoch 120", "NaN"]);
}

#[test]
fn a_json_config_with_a_key_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::write(
        dir.path(),
        "s.json",
        r#"{"type": "cosine", "lr": 0.1, "steps": 100, "lr": 0.2}"#,
    );
    for cmd in ["trace", "convert"] {
        let mut args = vec![cmd, "--config", &path];
        args.extend(match cmd {
            "convert" => ["--to", "torch"],
            _ => ["--steps", "3"],
        });
        refused(&run(&args), &["duplicate key `lr`", "line 1"]);
    }
}

#[test]
fn a_duration_too_long_for_a_step_count_is_refused() {
    for (steps, epochs) in [("1e30ep", "3"), ("1e300%", "3"), ("100%", "1e300")] {
        let o = trace(
            &format!("cosine(lr=0.1, steps={steps})"),
            &format!("--steps-per-epoch 10 --epochs {epochs} --steps 3"),
        );
        refused(&o, &[steps, "at most 18446744073709551615"]);
    }
}
