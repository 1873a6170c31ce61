//! The `lrsched` command as a user runs it: output, errors on one line, exit codes.

mod support;

use std::process::Output;
use support::{arg, assert_user_error, ok, run as lrsched, stdout, temp_file, trace, trace_config};

/// `lrsched trace --config FILE WORDS`, the file holding `text`.
fn trace_file(name: &str, text: &str, words: &str) -> Output {
    trace_config(&temp_file(name, text), words)
}

#[test]
fn trace_prints_one_shortest_value_per_step() {
    let o = trace("step(lr=0.1, step_size=2, gamma=0.5)", "--steps 5");
    ok(&o);
    assert_eq!(stdout(&o), "0.1\n0.1\n0.05\n0.05\n0.025\n");
}

#[test]
fn trace_csv_and_json() {
    let o = trace("constant(lr=1e-10)", "--steps 2 --format csv");
    assert_eq!(stdout(&o), "step,lr\n0,1e-10\n1,1e-10\n");
    let o = trace("constant(lr=0.5)", "--steps 2 --format json");
    assert_eq!(stdout(&o), "{\"interval\": \"step\", \"lr\": [0.5, 0.5]}\n");
}

#[test]
fn trace_reads_json_and_toml_configs() {
    for (name, text) in [
        ("c.json", r#"{"type": "cosine", "lr": 1.0, "steps": 2}"#),
        ("c.toml", "type = \"cosine\"\nlr = 1.0\nsteps = 2\n"),
    ] {
        let o = trace_file(name, text, "--steps 3");
        assert_eq!(stdout(&o), "1.0\n0.5\n0.0\n", "{}", support::stderr(&o));
    }
}

#[test]
fn durations_in_epochs_need_and_use_the_run_shape() {
    let s = "step(lr=1.0, step_size=1ep, gamma=0.5)";
    assert_user_error(&trace(s, "--steps 3"), "needs the run's shape");
    let o = trace(s, "--steps 3 --steps-per-epoch 2");
    assert_eq!(stdout(&o), "1.0\n1.0\n0.5\n", "{}", support::stderr(&o));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (schedule, says) in [
        ("cosin(lr=0.1, steps=3)", "did you mean `cosine`"),
        ("cosine(lr=0.1, stepz=3)", "did you mean `steps`"),
        ("cosine(lr=0.1, steps=3, exponent=-1)", "`exponent` = -1"),
        ("cosine(lr=0.1)", "missing required key `steps`"),
        ("cosine(lr=fast, steps=3)", "cosine.lr"),
        ("cosine(lr=0.1, steps=3", "column"),
    ] {
        assert_user_error(&trace(schedule, "--steps 2"), says);
    }
    for (name, text, says) in [
        (
            "bad.json",
            "{\"type\": \"cosine\",\n \"lr\": 0.1,,\n}",
            "line 2, column",
        ),
        ("bad.toml", "type = \"cosine\"\nlr = = 0.1\n", "line 2"),
    ] {
        assert_user_error(&trace_file(name, text, "--steps 2"), says);
    }
    let o = lrsched(&["trace", "--config", "/nonexistent/x.json", "--steps", "2"]);
    assert_user_error(&o, "cannot read /nonexistent/x.json");
}

#[test]
fn momentum_of_a_schedule_without_one_is_an_error() {
    let o = trace("constant(lr=0.1)", "--steps 2 --param momentum");
    assert_user_error(&o, "sets no momentum");
}

#[test]
fn metrics_file_errors_name_the_line() {
    let metrics = temp_file("m.txt", "1.0\n0.9\nabc\n");
    let o = lrsched(&[
        "trace",
        "--schedule",
        "plateau(lr=0.1, patience=0)",
        "--steps",
        "3",
        "--metrics",
        arg(&metrics),
    ]);
    assert_user_error(&o, "line 3");
}

#[test]
fn plateau_needs_metrics() {
    let o = trace("plateau(lr=0.1)", "--steps 3");
    assert_user_error(&o, "--metrics");
}

#[test]
fn trace_takes_the_interval_key_and_says_which_interval_applies() {
    // The key `train` accepts is accepted by trace, in JSON, TOML and the one-line form;
    // the CSV header and the JSON output say which interval the values are per.
    let json = temp_file(
        "steplr_interval.json",
        r#"{"type": "StepLR", "lr": 0.1, "step_size": 1, "gamma": 0.5, "interval": "step"}"#,
    );
    let toml = temp_file(
        "steplr_interval.toml",
        "type = \"StepLR\"\nlr = 0.1\nstep_size = 1\ngamma = 0.5\n",
    );
    let cases: [(&[&str], &str); 4] = [
        (&["--config", arg(&json)], "step"),
        (&["--config", arg(&toml)], "epoch"),
        (
            &["--schedule", "StepLR(lr=0.1, step_size=1, gamma=0.5)"],
            "epoch",
        ),
        (
            &[
                "--schedule",
                "StepLR(lr=0.1, step_size=1, gamma=0.5, interval=step)",
            ],
            "step",
        ),
    ];
    for (source, unit) in cases {
        let mut args = vec!["trace", "--steps", "2", "--format", "csv"];
        args.extend_from_slice(source);
        let o = lrsched(&args);
        assert_eq!(
            stdout(&o),
            format!("{unit},lr\n0,0.1\n1,0.05\n"),
            "{args:?}"
        );
    }
    let o = trace(
        "OneCycleLR(max_lr=0.1, total_steps=10)",
        "--steps 1 --format json",
    );
    assert!(
        stdout(&o).starts_with("{\"interval\": \"step\", \"lr\": ["),
        "{}",
        stdout(&o)
    );
    let o = trace("StepLR(lr=0.1, step_size=1, interval=batch)", "--steps 1");
    assert_user_error(&o, "\"step\" or \"epoch\"");
}
