//! `lrsched tune --strategy predict` end to end, over a program whose loss follows the
//! annealing law exactly (Tissue et al. 2024, known parameters): the law fitted to its two
//! fitting runs must predict the confirmed trials' losses and pick the same best few as a
//! grid search that runs every point; and every bad input is one clear line.

mod support;

use serde_json::Value;
use std::path::Path;
use support::{arg, assert_user_error, bin, json, ok, results, tune, write};

/// A protocol program in Python (standard library only): it asks `lrsched trace` for its
/// schedule's rate at each of 100 steps an epoch, and reports the annealing law's loss
/// with parameters L0 = 0.3, A = 0.8, alpha = 0.5, C = 0.004, lambda = 0.99 (times a
/// deterministic +-0.5% wobble, so the fit has noise to measure), then `val_loss` (the last
/// loss) per epoch. A rate above 1 "diverges": it exits 3. `steps = 0` writes no step line.
fn law_program(dir: &Path, step_lines: bool) -> String {
    let script = write(
        dir,
        "law_program.py",
        &format!(
            r#"import json, math, os, subprocess, sys
epochs = int(os.environ["LRSCHED_EPOCHS"])
per_epoch = 100
steps = per_epoch * epochs
out = subprocess.run([{bin:?}, "trace", "--config", os.environ["LRSCHED_SCHEDULE_FILE"],
    "--steps", str(steps), "--steps-per-epoch", str(per_epoch), "--epochs", str(epochs)],
    capture_output=True, text=True, check=True).stdout.split()
lrs = [float(x) for x in out]
if max(lrs) > 1.0:
    sys.exit(3)
l0, a, alpha, c, lam = 0.3, 0.8, 0.5, 0.004, 0.99
s1 = s2 = m = 0.0
with open(os.environ["LRSCHED_METRICS"], "a") as f:
    for s, lr in enumerate(lrs):
        prev = lrs[s - 1] if s else lr
        m = lam * m + (prev - lr)
        s1 += lr
        s2 += m
        loss = (l0 + a * s1 ** -alpha - c * s2) * (1 + 0.005 * math.sin(7.3 * s))
        if {step_lines}:
            f.write(json.dumps({{"step": s, "lr": lr, "loss": loss}}) + "\n")
        if (s + 1) % per_epoch == 0:
            f.write(json.dumps({{"epoch": (s + 1) // per_epoch, "val_loss": loss}}) + "\n")
"#,
            bin = bin().display().to_string(),
            step_lines = if step_lines { "True" } else { "False" },
        ),
    );
    format!("python3 {script}")
}

/// A space of 12 schedules: linear decays from two peaks to four end rates.
fn decay_space(dir: &Path, peaks: &str) -> String {
    write(
        dir,
        "space.toml",
        &format!(
            "schedule = \"linear(start_lr={{lr}}, end_lr={{end}}, steps=100%)\"\n[params]\nlr = {{ choice = [{peaks}] }}\nend = {{ choice = [0.0, 0.01, 0.03, 0.1, 0.2, 0.3] }}\n"
        ),
    )
}

#[test]
fn predicted_search_confirms_the_grids_best_few_and_states_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let program = law_program(dir.path(), true);
    let space = decay_space(dir.path(), "0.15, 0.3");
    let grid_out = dir.path().join("grid");
    ok(&tune(
        "--strategy grid --epochs 3 --jobs 2 --quiet",
        &space,
        &grid_out,
        &["--command", &program],
    ));
    let grid = results(&grid_out);
    assert_eq!(grid.len(), 12);
    let out = dir.path().join("predicted");
    let stdout = ok(&tune(
        "--strategy predict --top-k 3 --epochs 3 --jobs 2 --quiet",
        &space,
        &out,
        &["--command", &program],
    ));
    // Two fitting runs and three confirming ones: five trial folders, not twelve.
    assert_eq!(std::fs::read_dir(out.join("trials")).unwrap().count(), 5);
    let confirmed = results(&out);
    assert_eq!(confirmed.len(), 3, "{confirmed:?}");
    let keys = |r: &[Value]| -> Vec<String> {
        r.iter()
            .map(|x| x["key"].as_str().unwrap().to_string())
            .collect()
    };
    // The law is the program's truth: the three it confirms are the grid's best three.
    let mut best_three = keys(&grid[..3]);
    let mut chosen = keys(&confirmed);
    best_three.sort();
    chosen.sort();
    assert_eq!(chosen, best_three, "{stdout}");
    assert_eq!(confirmed[0]["key"], grid[0]["key"]);
    let p = json(&out.join("predictions.json"));
    assert_eq!(p["predictions"].as_array().unwrap().len(), 12);
    assert_eq!(p["fit_lr"], 0.3);
    assert_eq!(p["fitting_runs"].as_array().unwrap().len(), 2);
    for x in p["predictions"].as_array().unwrap() {
        if x["confirmed"] == true {
            let (pred, measured) = (
                x["final_loss"].as_f64().unwrap(),
                x["measured_final_loss"].as_f64().unwrap(),
            );
            assert!((pred - measured).abs() / measured < 0.01, "{x}");
            let [lo, hi] = [&x["interval"][0], &x["interval"][1]].map(|v| v.as_f64().unwrap());
            assert!(lo <= pred && pred <= hi, "{x}");
        } else {
            assert!(x["measured_final_loss"].is_null(), "{x}");
        }
    }
    assert!(p["confirmed"]["median_relative_error"].as_f64().unwrap() < 0.01);
    assert_eq!(p["compute"]["trials_run"], 5);
    assert_eq!(p["compute"]["grid_trials"], 12);
    assert!(
        stdout.contains("prediction error over the 3 confirmed trial(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("compute: 5 trials (2 fitting + 3 confirming)"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Predicted, then confirmed"));
    // A rerun on the folder finds every trial finished and says the same.
    let again = ok(&tune(
        "--strategy predict --top-k 3 --epochs 3 --jobs 2 --quiet",
        &space,
        &out,
        &["--command", &program],
    ));
    assert_eq!(json(&out.join("predictions.json")), p, "{again}");
}

#[test]
fn a_program_without_step_lines_or_a_diverging_fit_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let quiet_program = law_program(dir.path(), false);
    let space = decay_space(dir.path(), "0.15, 0.3");
    let o = tune(
        "--strategy predict --epochs 1 --quiet",
        &space,
        &dir.path().join("a"),
        &["--command", &quiet_program],
    );
    assert_user_error(&o, "needs the program's step lines");
    // The program "diverges" above a rate of 1: so does the fitting run at the peak, 2.
    let program = law_program(dir.path(), true);
    let high = decay_space(dir.path(), "0.5, 2.0");
    let o = tune(
        "--strategy predict --epochs 1 --quiet",
        &high,
        &dir.path().join("b"),
        &["--command", &program],
    );
    assert_user_error(&o, "give --fit-lr a rate that trains");
    // ... and --fit-lr puts it where it trains.
    ok(&tune(
        "--strategy predict --epochs 1 --top-k 7 --fit-lr 0.5 --quiet",
        &high,
        &dir.path().join("c"),
        &["--command", &program],
    ));
}

#[test]
fn bad_predict_flags_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let space = decay_space(dir.path(), "0.15, 0.3");
    let out = dir.path().join("out");
    for (flags, needle) in [
        ("--top-k 0", "--top-k 0 is not allowed"),
        ("--top-k 13", "between 1 and the grid's 12"),
        ("--fit-lr=-1", "--fit-lr -1 is not allowed"),
        ("--fit-lr inf", "--fit-lr inf is not allowed"),
        ("--print-trials", "not allowed with --strategy predict"),
    ] {
        let o = tune(
            &format!("--strategy predict --epochs 1 {flags}"),
            &space,
            &out,
            &["--command", "true"],
        );
        assert_user_error(&o, needle);
        assert!(!out.join("trials").exists(), "{flags} ran something");
    }
    let plateau = write(
        dir.path(),
        "plateau.toml",
        "schedule = \"plateau(lr={lr})\"\n[params]\nlr = { choice = [0.1, 0.2] }\n",
    );
    let o = tune(
        "--strategy predict --epochs 1",
        &plateau,
        &dir.path().join("p"),
        &["--command", "true"],
    );
    assert_user_error(&o, "follows a metric");
    let _ = arg(&out);
}
