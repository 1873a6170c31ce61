//! `lrsched find-lr` as a user runs it: a real process on the built-in digits, real files.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lrsched"))
        .args(args)
        .output()
        .expect("run lrsched")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sweeps_digits_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let o = run(&["find-lr", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
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

    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("find_lr.json")).unwrap()).unwrap();
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
    let o = run(&[
        "find-lr",
        "--quiet",
        "--seeds",
        "2",
        "--steps",
        "60",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("min") && stdout.contains("median") && stdout.contains("max"));
    assert!(
        stdout.contains("seed 0:") && stdout.contains("seed 1:"),
        "{stdout}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("find_lr.json")).unwrap()).unwrap();
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
        let o = run(&[
            "find-lr",
            "--quiet",
            "--apply",
            kind,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let path = out.join("suggested.json");
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["type"], ty);
        let o = run(&[
            "train",
            "--quiet",
            "--epochs",
            "2",
            "--schedule-config",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{kind}: {}", text(&o.stderr));
        assert!(text(&o.stdout).contains("best val_acc"));
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let out = out.to_str().unwrap();
    for (args, needle) in [
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
    ] {
        let mut all = vec!["find-lr", "--quiet", "--out", out];
        all.extend(&args);
        let o = run(&all);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    // Checked before the output folder is even made.
    assert!(!std::path::Path::new(out).exists());
}
