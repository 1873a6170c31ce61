//! `lrsched train` as a user runs it: a real process, real files, a real `kill -9`.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::{
    arg, assert_user_error, jsonl, ok, records, run, run_words, spawn_quiet, stderr, wait_until,
    words,
};

#[test]
fn trains_digits_and_writes_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let o = run_words("train --quiet --epochs 3 --metrics-out", &[arg(&metrics)]);
    ok(&o);
    assert!(support::text(&o.stdout).contains("best val_acc"));
    let lines = records(&metrics);
    assert_eq!(lines.len(), 3);
    for key in ["epoch", "train_loss", "val_loss", "val_acc", "lr"] {
        assert!(lines[0].get(key).is_some(), "{key} missing");
    }
    let steps = std::fs::read_to_string(dir.path().join("m.steps.jsonl")).unwrap();
    assert!(steps.lines().count() > 3 * 20);
    assert!(steps.contains("\"event\":\"lr_change\""));
}

#[test]
fn six_epochs_equal_three_then_kill_9_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut common =
        words("train --quiet --epochs 6 --model 256-256 --batch-size 16 --dropout 0.1 --seed 5");
    common.extend([
        "--schedule",
        "plateau(schedule=cosine(lr=0.05, steps=100%), patience=0, factor=0.7)",
    ]);
    let straight = dir.path().join("straight.jsonl");
    ok(&run(
        &[&common[..], &["--metrics-out", arg(&straight)]].concat()
    ));

    let ckpt = dir.path().join("ckpt");
    let resumed = dir.path().join("resumed.jsonl");
    let args = [
        &common[..],
        &[
            "--metrics-out",
            arg(&resumed),
            "--checkpoint-dir",
            arg(&ckpt),
        ],
    ]
    .concat();
    let mut child = spawn_quiet(&args);
    let third = ckpt.join("epoch-000003.ckpt");
    wait_until(
        "a checkpoint after 3 epochs",
        Duration::from_secs(120),
        Duration::from_millis(2),
        || third.exists(),
    );
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run finished before it was killed; make its epochs longer"
    );

    let o = run(&[&args[..], &["--resume"]].concat());
    ok(&o);
    assert_eq!(records(&resumed), records(&straight));
}

#[test]
fn a_diverging_run_exits_3_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let o = run_words(
        "train --quiet --epochs 3 --schedule constant(lr=1e30) --metrics-out",
        &[arg(&metrics)],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged"));
    let last = records(&metrics).pop().unwrap();
    assert_eq!(last["diverged"], true);
    // The record names the step and rate the message names (not the epoch's end, not null).
    let said = format!("step {}:", last["step"]);
    assert!(stderr(&o).contains(&said), "{said} in {}", stderr(&o));
    assert_eq!(last["lr"], 1e30, "{last}");
}

#[test]
fn a_finite_loss_that_runs_away_is_a_divergence_too() {
    // --lr 1e6 trains to a loss near 1e6 and chance accuracy without ever being NaN.
    let o = run_words("train --quiet --epochs 2 --lr 1e6", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("the loss ran away"), "{}", stderr(&o));
}

/// Digits for `epochs` epochs into `dir`'s checkpoint folder and `dir/m.jsonl`.
fn digits_run(dir: &Path, epochs: &str, extra: &[&str]) -> Output {
    let ckpt = dir.join("ckpt");
    let metrics = dir.join("m.jsonl");
    let args = [
        &[
            "--epochs",
            epochs,
            "--checkpoint-dir",
            arg(&ckpt),
            "--metrics-out",
            arg(&metrics),
        ],
        extra,
    ]
    .concat();
    run_words("train --quiet", &args)
}

/// Every file in `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walk(dir)
        .into_iter()
        // The folder lock names its last holder; it is not a measurement.
        .filter(|p| !p.ends_with(".lrsched.lock"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_folder_holding_another_run_is_refused_and_overwrite_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = digits_run(dir.path(), "1", &[]);
    ok(&o);
    // A run killed mid-write left this; the next use of the folder clears it.
    let stale = dir.path().join("ckpt/.epoch-000002.ckpt.tmp-999999999");
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    let before = snapshot(dir.path());
    let o = digits_run(dir.path(), "2", &["--seed", "3"]);
    assert_user_error(
        &o,
        "holds another run's checkpoints (epoch-000001.ckpt, best.ckpt)",
    );
    assert!(stderr(&o).contains("--resume") && stderr(&o).contains("--overwrite"));
    let after: Vec<_> = snapshot(dir.path())
        .into_iter()
        .filter(|(p, _)| !p.contains(".tmp-"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(p, _)| !p.contains(".tmp-"))
        .collect();
    assert_eq!(after, before, "nothing touched");
    assert!(
        !stale.exists(),
        "the dead writer's temporary file is cleared"
    );
    // The metrics file alone is another run's too.
    std::fs::remove_dir_all(dir.path().join("ckpt")).unwrap();
    assert_user_error(&digits_run(dir.path(), "2", &[]), "m.jsonl exists");
    let o = digits_run(dir.path(), "2", &["--seed", "3", "--overwrite"]);
    ok(&o);
    assert_eq!(records(&dir.path().join("m.jsonl")).len(), 2);
}

#[test]
fn outputs_never_land_on_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("train.csv");
    let mut text = String::from("a,b,label\n");
    for i in 0..40 {
        text.push_str(&format!("{},{},{}\n", i % 7, i % 5, i % 2));
    }
    std::fs::write(&csv, &text).unwrap();
    let c = csv.to_str().unwrap();
    let o = run_words(
        "train --quiet --data csv --data-path",
        &[c, "--metrics-out", c],
    );
    assert_user_error(&o, "--metrics-out");
    assert!(stderr(&o).contains("--data-path"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);
    // Through another spelling of the same file, and onto the schedule config.
    let config = dir.path().join("s.json");
    std::fs::write(&config, r#"{"type": "constant", "lr": 0.1}"#).unwrap();
    let other = format!("{}/./s.json", dir.path().display());
    let o = run_words(
        "train --quiet --schedule-config",
        &[arg(&config), "--metrics-out", &other],
    );
    assert_user_error(&o, "--schedule-config");
    // The step log beside the metrics file counts as an output too.
    let steps_name = dir.path().join("x.steps.jsonl");
    std::fs::write(&steps_name, r#"{"type": "constant", "lr": 0.1}"#).unwrap();
    let o = run_words(
        "train --quiet --schedule-config",
        &[
            arg(&steps_name),
            "--metrics-out",
            arg(&dir.path().join("x.jsonl")),
        ],
    );
    assert_user_error(&o, "step log");
    // A metrics file named like a checkpoint in the checkpoint folder.
    let ck = dir.path().join("ck");
    let o = run_words(
        "train --quiet --checkpoint-dir",
        &[
            arg(&ck),
            "--metrics-out",
            arg(&ck.join("epoch-000001.ckpt")),
        ],
    );
    assert_user_error(&o, "checkpoint folder");
    // A checkpoint anywhere is never overwritten by metrics, --overwrite or not.
    let o = run_words("train --quiet --epochs 1 --checkpoint-dir", &[arg(&ck)]);
    ok(&o);
    let best = ck.join("best.ckpt");
    let bytes = std::fs::read(&best).unwrap();
    let o = run_words("train --quiet --metrics-out", &[arg(&best), "--overwrite"]);
    assert_user_error(&o, "is an lrsched checkpoint");
    assert_eq!(std::fs::read(&best).unwrap(), bytes);
}

#[test]
fn a_finished_run_resumes_to_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let o = digits_run(dir.path(), "2", &[]);
    ok(&o);
    let before = snapshot(dir.path());
    let o = digits_run(dir.path(), "2", &["--resume"]);
    ok(&o);
    assert!(
        support::text(&o.stdout).contains("nothing to do"),
        "{}",
        support::text(&o.stdout)
    );
    assert_eq!(snapshot(dir.path()), before, "nothing rewritten");
    assert_user_error(
        &digits_run(dir.path(), "1", &["--resume"]),
        "--epochs 1 is fewer than the 2 epochs",
    );
    // Results do not depend on threads, so neither does a resume.
    let o = digits_run(dir.path(), "3", &["--resume", "--threads", "1"]);
    ok(&o);
    assert_eq!(records(&dir.path().join("m.jsonl")).len(), 3);
}

#[test]
fn an_early_stopped_run_stays_stopped_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let stop = [
        "--early-stop-patience",
        "0",
        "--schedule",
        "constant(lr=0.5)",
    ];
    let o = digits_run(dir.path(), "40", &stop);
    ok(&o);
    assert!(support::text(&o.stdout).contains("stopped early"));
    let epochs = records(&dir.path().join("m.jsonl")).len();
    assert!(epochs < 40, "it stopped early");
    let o = digits_run(dir.path(), "40", &[&stop[..], &["--resume"]].concat());
    ok(&o);
    assert!(support::text(&o.stdout).contains("nothing to do"));
    assert_eq!(records(&dir.path().join("m.jsonl")).len(), epochs);
}

#[test]
fn resume_with_only_best_ckpt_left_says_so_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = digits_run(dir.path(), "1", &[]);
    ok(&o);
    std::fs::remove_file(dir.path().join("ckpt/epoch-000001.ckpt")).unwrap();
    let before = snapshot(dir.path());
    assert_user_error(
        &digits_run(dir.path(), "2", &["--resume"]),
        "holds best.ckpt but no epoch checkpoint",
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn two_runs_on_one_checkpoint_folder_cannot_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let long = words("train --quiet --epochs 50 --data spirals --spirals-size 40000 --model 128-128 --batch-size 8 --checkpoint-dir");
    let mut first = spawn_quiet(&[&long[..], &[arg(&ck)]].concat());
    wait_until(
        "the first run to start",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || ck.join(".lrsched.lock").exists(),
    );
    let o = run(&[&long[..], &[arg(&ck), "--resume"]].concat());
    first.kill().unwrap();
    first.wait().unwrap();
    assert_user_error(&o, "in use");
}

#[test]
fn a_resume_killed_at_any_moment_keeps_the_measured_lines() {
    let dir = tempfile::tempdir().unwrap();
    // Long epochs (seconds even on a quiet machine: 128-128 took 0.38 s, and the kill at
    // 400 ms came after the resumed epoch), so the kills land inside that epoch.
    let long = words("--data spirals --spirals-size 40000 --model 512-512 --batch-size 8");
    let o = digits_run(dir.path(), "1", &long);
    ok(&o);
    let metrics = dir.path().join("m.jsonl");
    let steps = dir.path().join("m.steps.jsonl");
    let epoch_lines = std::fs::read_to_string(&metrics).unwrap();
    let step_lines = std::fs::read_to_string(&steps).unwrap();
    assert_eq!(epoch_lines.lines().count(), 1);
    for wait_ms in [0u64, 30, 120, 400] {
        let ckpt = dir.path().join("ckpt");
        let args = [
            &[
                "train",
                "--quiet",
                "--epochs",
                "2",
                "--checkpoint-dir",
                arg(&ckpt),
            ][..],
            &["--metrics-out", arg(&metrics), "--resume"],
            &long,
        ]
        .concat();
        let mut child = spawn_quiet(&args);
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the resumed epoch ended within {wait_ms} ms"
        );
        assert_eq!(
            std::fs::read_to_string(&metrics).unwrap(),
            epoch_lines,
            "after {wait_ms} ms"
        );
        let now = std::fs::read_to_string(&steps).unwrap();
        assert!(
            now.starts_with(&step_lines),
            "the first epoch's step lines are kept (after {wait_ms} ms)"
        );
    }
}

#[test]
fn a_damaged_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let c = ckpt.to_str().unwrap();
    let o = run_words("train --quiet --epochs 1 --checkpoint-dir", &[c]);
    ok(&o);
    let file = ckpt.join("epoch-000001.ckpt");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let o = run_words(
        "train --quiet --epochs 2 --checkpoint-dir",
        &[c, "--resume"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    // Another run's checkpoint: the difference is named.
    std::fs::write(&file, &bytes).unwrap();
    let o = run_words(
        "train --quiet --epochs 2 --checkpoint-dir",
        &[c, "--resume", "--seed", "9"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("config.seed: 0 -> 9"), "{}", stderr(&o));
}

#[test]
fn bad_flags_are_one_line_errors() {
    for (args, needle) in [
        (
            // On the 64-pixel digits `64-32` reads as a full spec; the error spells out
            // how to write the hidden layers 64 and 32 instead.
            vec!["--model", "64-32"],
            "for hidden layers 64-32 write `64-64-32-10`",
        ),
        (vec!["--data", "csv"], "--data-path"),
        (
            vec!["--data", "mnist", "--data-dir", "/nonexistent"],
            "/nonexistent",
        ),
        (vec!["--dropout", "1.5"], "--dropout 1.5"),
        (
            vec!["--schedule", "cosin(lr=0.1, steps=10)"],
            "did you mean `cosine`",
        ),
        (vec!["--batch-size", "0"], "--batch-size 0"),
        (vec!["--plateau-monitor", "val_los"], "unknown monitor"),
    ] {
        assert_user_error(&run_words("train --quiet --epochs 1", &args), needle);
    }
}

#[test]
fn pytorch_configs_step_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let o = run_words(
        "train --quiet --epochs 4 --lr 0.1 --schedule",
        &[
            "StepLR(step_size=2, gamma=0.5)",
            "--metrics-out",
            arg(&metrics),
        ],
    );
    ok(&o);
    let lrs: Vec<f64> = records(&metrics)
        .iter()
        .map(|r| r["lr"].as_f64().unwrap())
        .collect();
    assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05]);
}

#[test]
fn one_cycle_and_a_stated_interval_step_per_batch() {
    // The one interval rule: PyTorch steps OneCycleLR per batch, and a config's
    // `"interval": "step"` (in a TOML file too) steps any class per batch: the rate changes
    // between the first two batches, where a per-epoch schedule would hold it.
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("steplr.toml");
    std::fs::write(
        &toml,
        "type = \"StepLR\"\nstep_size = 1\ngamma = 0.5\ninterval = \"step\"\n",
    )
    .unwrap();
    for (schedule, first_two) in [
        (
            vec!["--schedule", "OneCycleLR(max_lr=0.1, total_steps=1000)"],
            None,
        ),
        (
            vec!["--schedule-config", toml.to_str().unwrap()],
            Some([0.1, 0.05]),
        ),
    ] {
        let metrics = dir.path().join("m.jsonl");
        // Each case replaces the last one's metrics on purpose.
        let mut args = words("train --quiet --epochs 1 --lr 0.1 --overwrite --metrics-out");
        args.push(arg(&metrics));
        args.extend(schedule.iter().copied());
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        // Step records only (the file also holds `lr_change` events).
        let lrs: Vec<f64> = jsonl(&dir.path().join("m.steps.jsonl"))
            .into_iter()
            .filter(|r| r.get("event").is_none())
            .take(2)
            .map(|r| r["lr"].as_f64().unwrap())
            .collect();
        match first_two {
            // OneCycleLR rises from max_lr / 25 = 0.004 from the first batch on.
            None => assert!(lrs[0] < lrs[1] && (lrs[0] - 0.004).abs() < 1e-12, "{lrs:?}"),
            Some(want) => assert_eq!(lrs, want, "{schedule:?}"),
        }
    }
}
