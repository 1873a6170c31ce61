//! `lrsched find-lr` as a user runs it: a real process on the built-in digits, real files.

mod support;

use std::path::Path;
use support::{arg, assert_refuses, json, ok, run_words};

/// `find-lr --quiet WORDS --out OUT`, which must succeed; its stdout.
fn find_lr(words: &str, out: &Path) -> String {
    ok(&run_words(
        &format!("find-lr --quiet {words}"),
        &["--out", arg(out)],
    ))
}

#[test]
fn sweeps_digits_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let stdout = find_lr("", &out);
    for rule in ["valley", "steepest", "minimum/10", "suggested lr:", "cost:"] {
        assert!(stdout.contains(rule), "{rule} missing from:\n{stdout}");
    }
    for f in [
        "loss_vs_lr.svg",
        "loss_vs_lr.png",
        "report.html",
        "find_lr.json",
    ] {
        let len = std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{f} missing or empty");
    }
    assert!(!out.join("suggested.json").exists());
    let png = std::fs::read(out.join("loss_vs_lr.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(out.join("loss_vs_lr.svg")).unwrap();
    assert!(svg.contains("valley") && svg.contains("learning rate"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("find-lr"));

    let j = json(&out.join("find_lr.json"));
    assert_eq!(j["steps"], 100);
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let lrs = runs[0]["lrs"].as_array().unwrap();
    assert_eq!(lrs.len(), runs[0]["smoothed"].as_array().unwrap().len());
    assert_eq!(lrs[0].as_f64().unwrap(), 1e-7);
    // The rate rises geometrically.
    let (a, b, c) = (
        lrs[0].as_f64().unwrap(),
        lrs[1].as_f64().unwrap(),
        lrs[2].as_f64().unwrap(),
    );
    assert!((b / a - c / b).abs() < 1e-9);
    let valley = j["spread"]["valley"]["median"].as_f64().unwrap();
    assert!(valley > 1e-4 && valley < 1.0, "valley {valley}");
    assert!(j["cost"]["seconds_per_sweep"].as_f64().unwrap() > 0.0);
}

#[test]
fn seeds_show_the_spread_of_each_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let stdout = find_lr("--seeds 2 --steps 60", &out);
    assert!(stdout.contains("min") && stdout.contains("median") && stdout.contains("max"));
    assert!(
        stdout.contains("seed 0:") && stdout.contains("seed 1:"),
        "{stdout}"
    );
    let j = json(&out.join("find_lr.json"));
    assert_eq!(j["runs"].as_array().unwrap().len(), 2);
    for rule in ["valley", "steepest", "minimum/10"] {
        let s = &j["spread"][rule];
        let (lo, med, hi) = (
            s["min"].as_f64().unwrap(),
            s["median"].as_f64().unwrap(),
            s["max"].as_f64().unwrap(),
        );
        assert!(lo <= med && med <= hi, "{rule}: {lo} {med} {hi}");
    }
}

#[test]
fn apply_writes_configs_that_train_accepts() {
    for (kind, ty) in [("onecycle", "one_cycle"), ("cosine", "warmup")] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lr");
        find_lr(&format!("--apply {kind}"), &out);
        let path = out.join("suggested.json");
        assert_eq!(json(&path)["type"], ty);
        let o = run_words("train --quiet --epochs 2 --schedule-config", &[arg(&path)]);
        assert!(o.status.success(), "{kind}: {}", support::text(&o.stderr));
        assert!(ok(&o).contains("best val_acc"));
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let out = arg(&out);
    let cases = [
        (vec!["--start", "1", "--end", "0.1"], "--end"),
        (vec!["--start", "0"], "--start"),
        (vec!["--start", "-1e-3"], "--start"),
        (vec!["--steps", "0"], "--steps"),
        // Capped before any work, in plain or e-notation, with the cap named.
        (
            vec!["--steps", "1e11"],
            "--steps 1e11 is not allowed: must be at most 100000",
        ),
        (
            vec!["--steps", "100000000000"],
            "--steps 100000000000 is not allowed: must be at most 100000",
        ),
        (vec!["--steps", "2.5"], "--steps `2.5` is not allowed"),
        (vec!["--apply", "linear"], "--apply"),
        (vec!["--mode", "cubic"], "--mode"),
        (vec!["--seeds", "0"], "--seeds"),
    ];
    assert_refuses(&["find-lr", "--quiet", "--out", out], &cases);
    // Checked before the output folder is even made.
    assert!(!Path::new(out).exists());
}
