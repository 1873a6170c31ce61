//! `lrsched convert` as a user runs it: the converted config on stdout, notes on stderr,
//! errors on one line with exit code 2.

mod support;

use std::process::Output;
use support::{arg, rates, run_words, stderr, stdout, temp_file, trace};

/// `lrsched convert --schedule SCHEDULE --to TO`, which must succeed.
fn convert_schedule(schedule: &str, to: &str, more: &[&str]) -> String {
    let o = run_words(
        "convert --schedule",
        &[&[schedule, "--to", to][..], more].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
}

/// `lrsched convert --config FILE --to TO`.
fn convert_config(path: &str, to: &str) -> Output {
    run_words("convert --config", &[path, "--to", to])
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1e-300);
        assert!(
            (x - y).abs() / scale <= 1e-10 || (x - y).abs() <= 1e-18,
            "step {i}: {x} vs {y}"
        );
    }
}

const HF_COSINE: &str = r#"{"type": "transformers.get_cosine_schedule_with_warmup", "lr": 3e-4, "num_warmup_steps": 50, "num_training_steps": 500}"#;

#[test]
fn transformers_cosine_to_native_and_torch_traces_the_same() {
    let file = temp_file("hf_cosine.json", HF_COSINE);
    let path = arg(&file);
    let source = rates(&support::trace_config(&file, "--steps 700"));
    for to in ["native", "torch"] {
        let o = convert_config(path, to);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let line = stdout(&o);
        assert_eq!(line.trim_end().lines().count(), 1, "{line}");
        assert!(!stderr(&o).contains("differs"), "{}", stderr(&o));
        close(&rates(&trace(line.trim(), "--steps 700")), &source);
    }
    let o = convert_config(path, "native");
    assert_eq!(
        stdout(&o).trim(),
        "warmup(schedule=cosine(after_end=continue, lr=0.0003, steps=450), steps=50)"
    );
}

#[test]
fn approximate_forms_print_notes_and_exit_0() {
    let path = temp_file("hf_cosine2.json", HF_COSINE);
    let o = convert_config(arg(&path), "optax");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("optax.warmup_cosine_decay_schedule("));
    let err = stderr(&o);
    assert!(err.lines().all(|l| l.starts_with("note: ")), "{err}");
    assert!(err.contains("differs from the source"), "{err}");
}

#[test]
fn json_format_reads_back_as_a_config() {
    let json = convert_schedule(
        "step(lr=0.1, step_size=3, gamma=0.5)",
        "keras",
        &["--format", "json"],
    );
    assert!(json.contains("\"keras.ExponentialDecay\""), "{json}");
    let path = temp_file("keras.json", &json);
    let v = rates(&support::trace_config(&path, "--steps 7"));
    close(&v, &[0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
}

#[test]
fn errors_are_one_line_with_exit_2() {
    for (schedule, to, says) in [
        (
            "cosine(lr=0.1, steps=10)",
            "pytroch",
            "did you mean `torch`",
        ),
        (
            "step(lr=0.1, step_size=3)",
            "transformers",
            "no counterpart in transformers",
        ),
        ("cosine(lr=0.1, stepz=10)", "torch", "steps"),
    ] {
        let o = run_words("convert --schedule", &[schedule, "--to", to]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// optax computes this schedule's negative values; lrsched used to refuse the config.
const OPTAX_NEGATIVE: &str = r#"{"type": "optax.warmup_cosine_decay_schedule", "init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5, "decay_steps": 30, "end_value": -0.05}"#;

#[test]
fn negative_optax_values_trace_and_convert() {
    let file = temp_file("optax_negative.json", OPTAX_NEGATIVE);
    let path = arg(&file);
    let source = rates(&support::trace_config(&file, "--steps 40"));
    assert!((source[5] - 0.1).abs() < 1e-15, "{}", source[5]);
    assert!(source[29] < 0.0);
    assert_eq!(source[30..], [-0.05; 10]);
    // (PyTorch's LambdaLR form is refused: lrsched's LambdaLR takes factors >= 0 only.)
    for to in ["native", "optax"] {
        let o = convert_config(path, to);
        assert_eq!(o.status.code(), Some(0), "{to}: {}", stderr(&o));
        let line = stdout(&o);
        assert!(!stderr(&o).contains("differs"), "{to}: {}", stderr(&o));
        close(&rates(&trace(line.trim(), "--steps 40")), &source);
    }
    let native = convert_schedule(
        "optax.piecewise_constant_schedule(init_value=-0.1, boundaries_and_scales={5=0.5})",
        "native",
        &[],
    );
    close(
        &rates(&trace(native.trim(), "--steps 7")),
        &[-0.1, -0.1, -0.1, -0.1, -0.1, -0.05, -0.05],
    );
}
