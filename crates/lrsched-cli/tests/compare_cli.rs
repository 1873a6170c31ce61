//! `lrsched compare` end to end: the binary on digits with tiny runs (a few epochs, two
//! seeds), so the whole file takes seconds.

mod support;

use std::path::Path;
use std::process::Output;
use support::{arg, assert_user_error, compare, jsonl, ok, write};

/// `lrsched compare ARGS`.
fn compare_args(args: &[&str]) -> Output {
    support::run(&[&["compare"][..], args].concat())
}

const TWO: &str = r#"[
  {"name": "cosine", "schedule": "cosine(lr=0.05, steps=100%)"},
  {"name": "step", "schedule": {"type": "step", "lr": 0.05, "step_size": "1ep", "gamma": 0.5}}
]"#;

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn two_schedules_two_seeds_write_report_and_one_row_per_run_and_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "two.json", TWO);
    let out = dir.path().join("out");
    let stdout = ok(&compare("--seeds 2 --epochs 3 --jobs 2", &file, &out, &[]));
    assert!(
        stdout.contains("cosine") && stdout.contains("step"),
        "{stdout}"
    );
    assert!(
        stdout.contains("has the best final val_acc"),
        "the verdict: {stdout}"
    );
    assert!(stdout.contains("report.html"), "{stdout}");

    let jsonl = lines(&out.join("metrics.jsonl"));
    assert_eq!(jsonl.len(), 2 * 2 * 3, "schedules x seeds x epochs");
    let first: serde_json::Value = serde_json::from_str(&jsonl[0]).unwrap();
    for key in [
        "schedule",
        "seed",
        "epoch",
        "train_loss",
        "val_loss",
        "val_acc",
        "lr",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    let csv = lines(&out.join("metrics.csv"));
    assert_eq!(
        csv.len(),
        1 + 2 * 2 * 3,
        "header + one row per run and epoch"
    );
    assert!(csv[0].starts_with("schedule,seed,epoch,"), "{}", csv[0]);
    // Digits: 1437 training rows in batches of 64 = 23 steps per epoch.
    let steps = lines(&out.join("steps.jsonl"));
    assert_eq!(steps.len() % (2 * 2 * 3), 0);
    assert!(steps.len() >= 2 * 2 * 3 * 2, "{} step rows", steps.len());

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<table>"));
    assert!(
        html.contains("--seeds 2"),
        "the command line is in the report"
    );
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );
}

#[test]
fn a_diverging_schedule_is_reported_and_the_others_complete() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "div.toml",
        r#"
[[schedules]]
name = "blow-up"
schedule = "constant(lr=1e30)"

[[schedules]]
name = "runaway"
schedule = "constant(lr=1e6)"

[[schedules]]
name = "cosine"
schedule = "cosine(lr=0.05, steps=100%)"
"#,
    );
    let out = dir.path().join("out");
    let again = || compare("--seeds 2 --epochs 2", &file, &out, &[]);
    let stdout = ok(&again());
    let blow = stdout
        .lines()
        .find(|l| l.contains("blow-up"))
        .expect("a row");
    assert!(blow.contains("0/2 ok, 2 diverged"), "{blow}");
    // A loss that stays finite but runs far above where it started is a divergence too.
    let runaway = stdout
        .lines()
        .find(|l| l.contains("runaway"))
        .expect("a row");
    assert!(runaway.contains("0/2 ok, 2 diverged"), "{runaway}");
    // The folder now holds this run: a second compare into it is refused, nothing lost.
    let report = std::fs::read(out.join("report.html")).unwrap();
    assert_user_error(&again(), "already holds files");
    assert_eq!(std::fs::read(out.join("report.html")).unwrap(), report);
    let cos = stdout.lines().find(|l| l.contains(" cosine")).unwrap();
    assert!(cos.trim_end().ends_with("2 ok"), "cosine completed: {cos}");
    assert!(
        stdout.find(" cosine").unwrap() < stdout.find("blow-up").unwrap(),
        "the diverged schedule ranks last: {stdout}"
    );
    let rows = jsonl(&out.join("metrics.jsonl"));
    assert_eq!(rows.iter().filter(|r| r["schedule"] == "cosine").count(), 4);
    assert!(rows
        .iter()
        .all(|r| r["schedule"] != "blow-up" || r["status"] == "diverged"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Failures") && html.contains("diverged at epoch 1"),
        "the failures table"
    );
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let refused = |schedules: &str, says: &str| {
        assert_user_error(&compare("", schedules, &out, &[]), says);
    };
    let out = arg(&out);

    let unknown = write(
        dir.path(),
        "unknown.json",
        r#"[{"name": "mine", "schedule": "nosuch(lr=0.1)"}]"#,
    );
    refused(&unknown, "nosuch");

    let broken = write(dir.path(), "broken.json", r#"[{"name": "a", "schedule": "#);
    refused(&broken, "broken.json");

    let no_name = write(
        dir.path(),
        "noname.toml",
        "[[schedules]]\nschedule = \"constant(lr=0.1)\"\n",
    );
    refused(&no_name, "no `name`");

    let missing = dir.path().join("nothere.json");
    refused(arg(&missing), "cannot read");

    // A folder inside a regular file cannot be created, even by root.
    let file = write(dir.path(), "plain", "x");
    let unwritable = format!("{file}/out");
    assert_user_error(
        &compare_args(&["--epochs", "1", "--seeds", "1", "--out", &unwritable]),
        "--out",
    );

    assert_user_error(&compare_args(&["--seeds", "0", "--out", out]), "--seeds 0");
    assert_user_error(
        &compare_args(&["--target", "1.5", "--out", out]),
        "--target 1.5",
    );
}

#[test]
fn the_same_seeds_give_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "two.json", TWO);
    let run = |name: &str, jobs: &str| {
        let out = dir.path().join(name);
        ok(&compare(
            "--seeds 2 --epochs 2",
            &file,
            &out,
            &["--jobs", jobs],
        ));
        // Everything but the wall-clock columns.
        let mut rows = jsonl(&out.join("metrics.jsonl"));
        for v in &mut rows {
            v.as_object_mut().unwrap().remove("epoch_seconds");
            v.as_object_mut().unwrap().remove("elapsed_seconds");
        }
        rows
    };
    let a = run("a", "1");
    let b = run("b", "2");
    assert_eq!(a.len(), 8);
    assert_eq!(a, b, "same seeds, same numbers, whatever --jobs is");
}

#[test]
fn the_xor_preset_runs_the_seeds_study() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let stdout = ok(&compare_args(&[
        "--preset",
        "xor",
        "--seeds",
        "2",
        "--epochs",
        "10",
        "--out",
        arg(&out),
    ]));
    for name in ["step", "exponential", "plateau", "cosine", "cyclic"] {
        assert!(stdout.contains(name), "{name} in {stdout}");
    }
    assert!(stdout.contains("epochs to 100%"), "XOR's target: {stdout}");
    assert_eq!(lines(&out.join("metrics.jsonl")).len(), 5 * 2 * 10);
}
