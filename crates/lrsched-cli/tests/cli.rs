//! The `lrsched` command as a user runs it: output, errors on one line, exit codes.

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

/// Asserts a user error: exit 2, one line on stderr naming `needle`.
fn assert_user_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lrsched-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

#[test]
fn trace_prints_one_shortest_value_per_step() {
    let o = lrsched(&[
        "trace",
        "--schedule",
        "step(lr=0.1, step_size=2, gamma=0.5)",
        "--steps",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0.1\n0.1\n0.05\n0.05\n0.025\n");
}

#[test]
fn trace_csv_and_json() {
    let o = lrsched(&[
        "trace",
        "--schedule",
        "constant(lr=1e-10)",
        "--steps",
        "2",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "step,lr\n0,1e-10\n1,1e-10\n");
    let o = lrsched(&[
        "trace",
        "--schedule",
        "constant(lr=0.5)",
        "--steps",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(stdout(&o), "{\"interval\": \"step\", \"lr\": [0.5, 0.5]}\n");
}

#[test]
fn trace_reads_json_and_toml_configs() {
    let json = temp_file("c.json", r#"{"type": "cosine", "lr": 1.0, "steps": 2}"#);
    let o = lrsched(&["trace", "--config", json.to_str().unwrap(), "--steps", "3"]);
    assert_eq!(stdout(&o), "1.0\n0.5\n0.0\n", "{}", stderr(&o));
    let toml = temp_file("c.toml", "type = \"cosine\"\nlr = 1.0\nsteps = 2\n");
    let o = lrsched(&["trace", "--config", toml.to_str().unwrap(), "--steps", "3"]);
    assert_eq!(stdout(&o), "1.0\n0.5\n0.0\n", "{}", stderr(&o));
}

#[test]
fn durations_in_epochs_need_and_use_the_run_shape() {
    let s = "step(lr=1.0, step_size=1ep, gamma=0.5)";
    let o = lrsched(&["trace", "--schedule", s, "--steps", "3"]);
    assert_user_error(&o, "needs the run's shape");
    let o = lrsched(&[
        "trace",
        "--schedule",
        s,
        "--steps",
        "3",
        "--steps-per-epoch",
        "2",
    ]);
    assert_eq!(stdout(&o), "1.0\n1.0\n0.5\n", "{}", stderr(&o));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let o = lrsched(&[
        "trace",
        "--schedule",
        "cosin(lr=0.1, steps=3)",
        "--steps",
        "2",
    ]);
    assert_user_error(&o, "did you mean `cosine`");
    let o = lrsched(&[
        "trace",
        "--schedule",
        "cosine(lr=0.1, stepz=3)",
        "--steps",
        "2",
    ]);
    assert_user_error(&o, "did you mean `steps`");
    let o = lrsched(&[
        "trace",
        "--schedule",
        "cosine(lr=0.1, steps=3, exponent=-1)",
        "--steps",
        "2",
    ]);
    assert_user_error(&o, "`exponent` = -1");
    let o = lrsched(&["trace", "--schedule", "cosine(lr=0.1)", "--steps", "2"]);
    assert_user_error(&o, "missing required key `steps`");
    let o = lrsched(&[
        "trace",
        "--schedule",
        "cosine(lr=fast, steps=3)",
        "--steps",
        "2",
    ]);
    assert_user_error(&o, "cosine.lr");
    let o = lrsched(&[
        "trace",
        "--schedule",
        "cosine(lr=0.1, steps=3",
        "--steps",
        "2",
    ]);
    assert_user_error(&o, "column");
    let bad = temp_file("bad.json", "{\"type\": \"cosine\",\n \"lr\": 0.1,,\n}");
    let o = lrsched(&["trace", "--config", bad.to_str().unwrap(), "--steps", "2"]);
    assert_user_error(&o, "line 2, column");
    let bad = temp_file("bad.toml", "type = \"cosine\"\nlr = = 0.1\n");
    let o = lrsched(&["trace", "--config", bad.to_str().unwrap(), "--steps", "2"]);
    assert_user_error(&o, "line 2");
    let o = lrsched(&["trace", "--config", "/nonexistent/x.json", "--steps", "2"]);
    assert_user_error(&o, "cannot read /nonexistent/x.json");
}

#[test]
fn momentum_of_a_schedule_without_one_is_an_error() {
    let o = lrsched(&[
        "trace",
        "--schedule",
        "constant(lr=0.1)",
        "--steps",
        "2",
        "--param",
        "momentum",
    ]);
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
        metrics.to_str().unwrap(),
    ]);
    assert_user_error(&o, "line 3");
}

#[test]
fn plateau_needs_metrics() {
    let o = lrsched(&["trace", "--schedule", "plateau(lr=0.1)", "--steps", "3"]);
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
        (&["--config", json.to_str().unwrap()], "step"),
        (&["--config", toml.to_str().unwrap()], "epoch"),
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
    let o = lrsched(&[
        "trace",
        "--schedule",
        "OneCycleLR(max_lr=0.1, total_steps=10)",
        "--steps",
        "1",
        "--format",
        "json",
    ]);
    assert!(
        stdout(&o).starts_with("{\"interval\": \"step\", \"lr\": ["),
        "{}",
        stdout(&o)
    );
    let o = lrsched(&[
        "trace",
        "--schedule",
        "StepLR(lr=0.1, step_size=1, interval=batch)",
        "--steps",
        "1",
    ]);
    assert_user_error(&o, "\"step\" or \"epoch\"");
}
