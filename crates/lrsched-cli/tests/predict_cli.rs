//! `lrsched predict` end to end: two real runs of `lrsched train` on the built-in digits,
//! a prediction for held-out schedules, and every input surface fed bad values.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use support::{arg, assert_refuses, json, ok, run, run_words, write};

/// Two finished digits runs (constant and cosine at 0.05, 6 epochs), made once.
fn runs() -> (&'static PathBuf, &'static PathBuf) {
    static RUNS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    let (_, a, b) = RUNS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (name, schedule) in [
            ("constant", "constant(lr=0.05)"),
            ("cosine", "cosine(lr=0.05, steps=100%)"),
        ] {
            let metrics = dir.path().join(format!("{name}.jsonl"));
            ok(&run_words(
                "train --data digits --epochs 6 --batch-size 32 --seed 1 --threads 1",
                &["--schedule", schedule, "--metrics-out", arg(&metrics)],
            ));
            paths.push(dir.path().join(format!("{name}.steps.jsonl")));
        }
        (dir, paths[0].clone(), paths[1].clone())
    });
    // The static keeps the folder alive for every test of this file.
    (a, b)
}

fn candidates(dir: &Path) -> String {
    write(
        dir,
        "candidates.json",
        r#"[{"name": "wsd", "schedule": "wsd(lr=0.05, stable_steps=\"80%\", decay_steps=\"20%\")"},
            {"name": "linear", "schedule": "linear(start_lr=0.05, end_lr=0, steps=\"100%\")"},
            {"name": "per-epoch step", "schedule": {"type": "StepLR", "lr": 0.05, "step_size": 2, "gamma": 0.5}}]"#,
    )
}

#[test]
fn predictions_come_with_intervals_a_fit_and_a_report() {
    let (a, b) = runs();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("predicted");
    let schedules = candidates(dir.path());
    let stdout = ok(&run(&[
        "predict",
        "--runs",
        arg(a),
        "--runs",
        arg(b),
        "--schedules",
        &schedules,
        "--epochs",
        "6",
        "--resamples",
        "30",
        "--optimize",
        "--out",
        arg(&out),
    ]));
    assert!(stdout.contains("law: "), "{stdout}");
    let p = json(&out.join("predictions.json"));
    assert!(
        ["annealing", "multi-power"].contains(&p["law"].as_str().unwrap()),
        "{p}"
    );
    assert_eq!(p["fits"].as_array().unwrap().len(), 2);
    let predictions = p["predictions"].as_array().unwrap();
    let names: Vec<&str> = predictions
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["wsd", "linear", "per-epoch step"]);
    for x in predictions {
        let v = x["final_loss"].as_f64().unwrap();
        let lo = x["interval"][0].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0 && lo <= v, "{x}");
        if let Some(hi) = x["interval"][1].as_f64() {
            assert!(v <= hi, "{x}");
        }
    }
    // The fit reproduces the runs it was fitted to within a few percent at their end.
    for r in p["runs"].as_array().unwrap() {
        let (m, f) = (
            r["final_loss"].as_f64().unwrap(),
            r["fitted_final_loss"].as_f64().unwrap(),
        );
        assert!((f - m).abs() / m < 0.5, "{r}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Predicted loss curves") && html.contains("<svg"));
    let optimized = json(&out.join("optimized.json"));
    let best = &optimized[0];
    assert!(
        best["schedule"].as_str().unwrap().contains("lr=0.05"),
        "{best}"
    );
    // What optimize writes, compare takes as it is.
    let check = run(&[
        "compare",
        "--schedules",
        arg(&out.join("optimized.json")),
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--out",
        arg(&dir.path().join("cmp")),
    ]);
    ok(&check);
    // The folder holds a run now: a second prediction into it is refused.
    let again = run(&[
        "predict",
        "--runs",
        arg(a),
        "--schedules",
        &schedules,
        "--out",
        arg(&out),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(support::text(&again.stderr).contains("already holds files"));
}

#[test]
fn bad_runs_and_flags_are_refused_with_one_line() {
    let (a, _) = runs();
    let dir = tempfile::tempdir().unwrap();
    let schedules = candidates(dir.path());
    let one_step = write(
        dir.path(),
        "one.jsonl",
        "{\"step\": 0, \"lr\": 0.1, \"loss\": 2.3}\n",
    );
    let nan = write(
        dir.path(),
        "nan.jsonl",
        "{\"step\": 0, \"lr\": 0.1, \"loss\": 2.3}\n{\"step\": 1, \"lr\": 0.1, \"loss\": NaN}\n",
    );
    let flat: String = (0..50)
        .map(|s| format!("{{\"step\": {s}, \"lr\": 0.1, \"loss\": 0.7}}\n"))
        .collect();
    let flat = write(dir.path(), "flat.jsonl", &flat);
    let epochs_only = write(
        dir.path(),
        "epochs.jsonl",
        "{\"epoch\": 1, \"val_loss\": 0.5}\n",
    );
    let plateau = write(
        dir.path(),
        "plateau.json",
        r#"[{"name": "p", "schedule": "plateau(lr=0.1)"}]"#,
    );
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let base = ["predict", "--schedules", schedules.as_str()];
    let a = arg(a);
    assert_refuses(
        &base,
        &[
            (vec!["--runs", &one_step, "--out", &out("1")], "at least 4"),
            (vec!["--runs", &nan, "--out", &out("2")], "non-finite"),
            (
                vec!["--runs", &flat, "--out", &out("3")],
                "every loss is 0.7",
            ),
            (
                vec!["--runs", &epochs_only, "--out", &out("4")],
                "no step lines",
            ),
            (
                vec!["--runs", "/nonexistent/m.jsonl", "--out", &out("5")],
                "cannot read",
            ),
            (
                vec![
                    "--runs",
                    a,
                    "--runs",
                    a,
                    "--runs",
                    a,
                    "--runs",
                    a,
                    "--out",
                    &out("6"),
                ],
                "one to three",
            ),
            (
                vec!["--runs", a, "--resamples", "99999999", "--out", &out("7")],
                "--resamples 99999999",
            ),
            (
                vec!["--runs", a, "--epochs", "0", "--out", &out("8")],
                "--epochs 0",
            ),
            (
                vec!["--runs", a, "--steps", "99999999999", "--out", &out("9")],
                "--steps 99999999999",
            ),
            (
                vec!["--runs", a, "--law", "cubic", "--out", &out("10")],
                "unknown law `cubic`",
            ),
        ],
    );
    let o = run(&[
        "predict",
        "--runs",
        a,
        "--schedules",
        &plateau,
        "--out",
        &out("11"),
    ]);
    support::assert_user_error(&o, "follows a metric");
    // Nothing was written for a refused run.
    for i in 1..=11 {
        assert!(!dir
            .path()
            .join(i.to_string())
            .join("predictions.json")
            .exists());
    }
}
