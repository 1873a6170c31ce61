//! `lrsched find-lr --validate` as a user runs it: the grid trained after the sweeps, the
//! validated rate in `find_lr.json` and `suggested.json`, and `suggested.json` handed to
//! `compare` exactly as the closing line says.

mod support;

use std::path::Path;
use support::{arg, assert_refuses, json, ok, run_words, text};

/// The grid in find_lr.json: each point's rate, median and completed count.
fn grid(j: &serde_json::Value) -> Vec<(f64, Option<f64>, u64)> {
    j["validated"]["grid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["lr"].as_f64().unwrap(),
                p["median"].as_f64(),
                p["completed"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn validate_on_digits_picks_the_grids_best_and_compare_takes_suggested_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let stdout = ok(&run_words(
        "find-lr --quiet --seeds 2 --steps 60 --validate --apply onecycle",
        &["--out", arg(&out)],
    ));
    assert!(stdout.contains("validated lr:"), "{stdout}");
    // The winner comes with its median and the next rate's, each with its seeds' range,
    // and what the two seeds can tell of the gap, not alone.
    assert!(stdout.contains(" over 2 seeds ("), "{stdout}");
    assert!(
        stdout.contains("so they do not tell the two apart")
            || stdout.contains("every seed of the best beat every seed of the next"),
        "{stdout}"
    );
    assert!(stdout.contains("<- best"), "{stdout}");
    let j = json(&out.join("find_lr.json"));
    let v = &j["validated"];
    assert_eq!(v["metric"], "val_acc");
    assert_eq!(v["epochs"], 1);
    let points = grid(&j);
    assert!(points.len() >= 3, "{v}");
    // Each distinct suggestion is in the grid, with a third and three times it.
    let valley = j["spread"]["valley"]["median"].as_f64().unwrap();
    let near = |x: f64| points.iter().any(|p| (p.0 / x - 1.0).abs() < 0.06);
    assert!(
        near(valley) && near(valley / 3.0) && near(valley * 3.0),
        "{v}"
    );
    // The validated rate is the point with the highest median.
    let best = points
        .iter()
        .filter_map(|p| p.1.map(|m| (p.0, m)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(v["lr"].as_f64().unwrap(), best.0);
    assert_eq!(v["value"].as_f64().unwrap(), best.1);
    for g in v["grid"].as_array().unwrap() {
        assert_eq!(g["seeds"], serde_json::json!([0, 1]), "{g}");
        for key in ["from_rule", "values", "outcomes", "median", "completed"] {
            assert!(g.get(key).is_some(), "{key} missing from {g}");
        }
    }
    // The validation runs' folders hold their inputs.
    assert!(std::fs::read_dir(out.join("validate")).unwrap().count() == points.len() * 2);
    // suggested.json uses the validated rate, and says so in the closing line.
    let suggested = out.join("suggested.json");
    assert_eq!(json(&suggested)["max_lr"].as_f64().unwrap(), best.0);
    assert!(stdout.contains("from the validated rate"), "{stdout}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Validation") && html.contains("Trained best"));
    assert!(html.contains(&format!(
        "lrsched compare --schedules {}",
        suggested.display()
    )));

    // compare takes suggested.json as it is, as one schedule named after the file.
    let cmp = dir.path().join("cmp");
    let o = run_words(
        "compare --quiet --epochs 1 --seeds 1 --schedules",
        &[arg(&suggested), "--out", arg(&cmp)],
    );
    let said = ok(&o);
    assert!(said.contains("suggested"), "{said}");
    let summary = json(&cmp.join("summary.json"));
    assert!(summary.to_string().contains("suggested"), "{summary}");
}

/// A program that sweeps as a range test asks (step lines, loss a bowl in log rate, lowest
/// at 1e-2) and otherwise trains with a constant rate: one epoch line whose val_acc peaks
/// at 3e-2 and which fails above 0.2.
const PROGRAM: &str = r#"if [ -n "$LRSCHED_MAX_STEPS" ]; then
awk -v n="$LRSCHED_MAX_STEPS" -v f="$LRSCHED_METRICS" 'BEGIN {
  for (i = 0; i < n; i++) { lr = 1e-7 * (1e8 ^ (i / n)); x = log(lr / 1e-2) / log(10);
    printf "{\"step\": %d, \"lr\": %.17g, \"loss\": %.17g}\n", i, lr, 1 + x * x / 4 >> f; fflush(f) } }'
else
lr=$(printf '%s' "$LRSCHED_SCHEDULE" | sed -E 's/.*"lr": ?([-0-9.eE+]+).*/\1/')
awk -v lr="$lr" -v e="$LRSCHED_EPOCHS" -v f="$LRSCHED_METRICS" 'BEGIN {
  if (lr > 0.2) { print "diverged" > "/dev/stderr"; exit 1 }
  x = log(lr / 3e-2) / log(10);
  for (k = 1; k <= e; k++) printf "{\"epoch\": %d, \"val_acc\": %.17g}\n", k, 0.95 - 0.05 * x * x >> f }'
fi"#;

#[test]
fn a_program_is_validated_and_the_printed_compare_line_runs_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let prog = support::write(dir.path(), "train.sh", PROGRAM);
    let command = format!("sh {prog}");
    let out = dir.path().join("lr");
    let o = run_words(
        "find-lr --quiet --seeds 3 --validate --validate-factors 1/3,1,3 --apply constant",
        &["--command", &command, "--out", arg(&out)],
    );
    let stdout = ok(&o);
    let j = json(&out.join("find_lr.json"));
    let validated = j["validated"]["lr"].as_f64().unwrap();
    // The bowl's rules sit well below 3e-2; the grid's best is the point closest to it
    // in log that does not fail.
    let points = grid(&j);
    let closest = points
        .iter()
        .filter(|p| p.0 <= 0.2)
        .min_by(|a, b| {
            let d = |x: f64| (x / 3e-2).log10().abs();
            d(a.0).total_cmp(&d(b.0))
        })
        .unwrap();
    assert_eq!(validated, closest.0, "{}", j["validated"]);
    for p in points.iter().filter(|p| p.0 > 0.2) {
        assert_eq!((p.1, p.2), (None, 0), "a failing rate ranks last");
    }
    assert_eq!(
        json(&out.join("suggested.json"))["lr"].as_f64().unwrap(),
        validated
    );

    // The closing line's compare command, run exactly as printed (lrsched's path in
    // place of its name) from a fresh folder: it must work.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("Compare it on your program: ").map(|(_, c)| c))
        .unwrap_or_else(|| panic!("no compare line in:\n{stdout}"));
    assert!(line.starts_with("lrsched compare --command "), "{line}");
    let run_dir = dir.path().join("here");
    std::fs::create_dir(&run_dir).unwrap();
    let shell_line = format!(
        "{} {}",
        support::bin().display(),
        line.strip_prefix("lrsched ").unwrap()
    );
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(&shell_line)
        .current_dir(&run_dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{shell_line}\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("suggested"), "{}", text(&o.stdout));
}

#[test]
fn bad_validation_settings_are_one_line_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let out = arg(&out);
    let cases = [
        (
            vec!["--validate", "--validate-epochs", "0"],
            "--validate-epochs 0 is not allowed: must be 1 to 1000",
        ),
        (
            vec!["--validate", "--validate-epochs", "5000"],
            "--validate-epochs 5000",
        ),
        (
            vec!["--validate", "--validate-factors", "1,x"],
            "--validate-factors `1,x` is not allowed: `x` is not a number",
        ),
        (
            vec!["--validate", "--validate-factors", ""],
            "--validate-factors",
        ),
        (
            vec!["--validate", "--validate-factors", "1,-3"],
            "--validate-factors 1,-3 is not allowed: -3 is not a factor",
        ),
        (
            vec!["--validate", "--validate-factors", "1,2,3,4,5,6,7,8,9,10"],
            "must be 1 to 9 factors",
        ),
        // A huge grid: 4 rules x 3 factors x 100 seeds is over the cap of 500 runs.
        (
            vec!["--validate", "--seeds", "100"],
            "--seeds 100 is not allowed: with validation at most 41 seeds",
        ),
        (vec!["--validate", "--seeds", "0"], "--seeds 0"),
        (
            vec!["--validate-epochs", "2"],
            "--validate-epochs and --validate-factors set up --validate",
        ),
        (vec!["--apply", "linear"], "onecycle, cosine or constant"),
    ];
    assert_refuses(&["find-lr", "--quiet", "--out", out], &cases);
    // Checked before the output folder is even made.
    assert!(!Path::new(out).exists());
}
