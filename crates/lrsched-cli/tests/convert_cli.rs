//! `lrsched convert` as a user runs it: the converted config on stdout, notes on stderr,
//! errors on one line with exit code 2.

use std::io::Write;
use std::process::{Command, Output};

fn lrsched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lrsched"))
        .args(args)
        .output()
        .expect("run lrsched")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lrsched-convert-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

/// `lrsched trace` of a one-line schedule, as numbers.
fn trace(schedule: &str, steps: u64) -> Vec<f64> {
    let o = lrsched(&[
        "trace",
        "--schedule",
        schedule,
        "--steps",
        &steps.to_string(),
    ]);
    assert!(o.status.success(), "{schedule}: {}", stderr(&o));
    stdout(&o).lines().map(|l| l.parse().unwrap()).collect()
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
    let path = temp_file("hf_cosine.json", HF_COSINE);
    let path = path.to_str().unwrap();
    let source = {
        let o = lrsched(&["trace", "--config", path, "--steps", "700"]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| l.parse().unwrap())
            .collect::<Vec<f64>>()
    };
    for to in ["native", "torch"] {
        let o = lrsched(&["convert", "--config", path, "--to", to]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let line = stdout(&o);
        assert_eq!(line.trim_end().lines().count(), 1, "{line}");
        assert!(!stderr(&o).contains("differs"), "{}", stderr(&o));
        close(&trace(line.trim(), 700), &source);
    }
    let o = lrsched(&["convert", "--config", path, "--to", "native"]);
    assert_eq!(
        stdout(&o).trim(),
        "warmup(schedule=cosine(after_end=continue, lr=0.0003, steps=450), steps=50)"
    );
}

#[test]
fn approximate_forms_print_notes_and_exit_0() {
    let path = temp_file("hf_cosine2.json", HF_COSINE);
    let o = lrsched(&[
        "convert",
        "--config",
        path.to_str().unwrap(),
        "--to",
        "optax",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("optax.warmup_cosine_decay_schedule("));
    let err = stderr(&o);
    assert!(err.lines().all(|l| l.starts_with("note: ")), "{err}");
    assert!(err.contains("differs from the source"), "{err}");
}

#[test]
fn json_format_reads_back_as_a_config() {
    let o = lrsched(&[
        "convert",
        "--schedule",
        "step(lr=0.1, step_size=3, gamma=0.5)",
        "--to",
        "keras",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json = stdout(&o);
    assert!(json.contains("\"keras.ExponentialDecay\""), "{json}");
    let path = temp_file("keras.json", &json);
    let o = lrsched(&["trace", "--config", path.to_str().unwrap(), "--steps", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Vec<f64> = stdout(&o).lines().map(|l| l.parse().unwrap()).collect();
    close(&v, &[0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
}

#[test]
fn errors_are_one_line_with_exit_2() {
    let o = lrsched(&[
        "convert",
        "--schedule",
        "cosine(lr=0.1, steps=10)",
        "--to",
        "pytroch",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("did you mean `torch`"), "{err}");

    let o = lrsched(&[
        "convert",
        "--schedule",
        "step(lr=0.1, step_size=3)",
        "--to",
        "transformers",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no counterpart in transformers"), "{err}");

    let o = lrsched(&[
        "convert",
        "--schedule",
        "cosine(lr=0.1, stepz=10)",
        "--to",
        "torch",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("steps"), "{}", stderr(&o));
}

/// optax computes this schedule's negative values; lrsched used to refuse the config.
const OPTAX_NEGATIVE: &str = r#"{"type": "optax.warmup_cosine_decay_schedule", "init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5, "decay_steps": 30, "end_value": -0.05}"#;

#[test]
fn negative_optax_values_trace_and_convert() {
    let path = temp_file("optax_negative.json", OPTAX_NEGATIVE);
    let path = path.to_str().unwrap();
    let o = lrsched(&["trace", "--config", path, "--steps", "40"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let source: Vec<f64> = stdout(&o).lines().map(|l| l.parse().unwrap()).collect();
    assert!((source[5] - 0.1).abs() < 1e-15, "{}", source[5]);
    assert!(source[29] < 0.0);
    assert_eq!(source[30..], [-0.05; 10]);
    // (PyTorch's LambdaLR form is refused: lrsched's LambdaLR takes factors >= 0 only.)
    for to in ["native", "optax"] {
        let o = lrsched(&["convert", "--config", path, "--to", to]);
        assert_eq!(o.status.code(), Some(0), "{to}: {}", stderr(&o));
        let line = stdout(&o);
        assert!(!stderr(&o).contains("differs"), "{to}: {}", stderr(&o));
        close(&trace(line.trim(), 40), &source);
    }
    let o = lrsched(&[
        "convert",
        "--schedule",
        "optax.piecewise_constant_schedule(init_value=-0.1, boundaries_and_scales={5=0.5})",
        "--to",
        "native",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    close(
        &trace(stdout(&o).trim(), 7),
        &[-0.1, -0.1, -0.1, -0.1, -0.1, -0.05, -0.05],
    );
}
