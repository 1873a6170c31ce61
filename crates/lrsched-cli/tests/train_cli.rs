//! `lrsched train` as a user runs it: a real process, real files, a real `kill -9`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn lrsched() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lrsched"))
}

fn run(args: &[&str]) -> Output {
    lrsched().args(args).output().expect("run lrsched")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Epoch records without the wall-clock fields.
fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let m = v.as_object_mut().unwrap();
            m.remove("epoch_seconds");
            m.remove("samples_per_sec");
            v
        })
        .collect()
}

#[test]
fn trains_digits_and_writes_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let o = run(&[
        "train",
        "--quiet",
        "--epochs",
        "3",
        "--metrics-out",
        metrics.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("best val_acc"));
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
    let common = [
        "train",
        "--quiet",
        "--epochs",
        "6",
        "--model",
        "256-256",
        "--batch-size",
        "16",
        "--schedule",
        "plateau(schedule=cosine(lr=0.05, steps=100%), patience=0, factor=0.7)",
        "--dropout",
        "0.1",
        "--seed",
        "5",
    ];
    let straight = dir.path().join("straight.jsonl");
    let o = run(&[&common[..], &["--metrics-out", straight.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));

    let ckpt = dir.path().join("ckpt");
    let resumed = dir.path().join("resumed.jsonl");
    let args = [
        &common[..],
        &[
            "--metrics-out",
            resumed.to_str().unwrap(),
            "--checkpoint-dir",
            ckpt.to_str().unwrap(),
        ],
    ]
    .concat();
    let mut child = lrsched()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let third = ckpt.join("epoch-000003.ckpt");
    let start = Instant::now();
    while !third.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint after 3 epochs"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run finished before it was killed; make its epochs longer"
    );

    let o = run(&[&args[..], &["--resume"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(records(&resumed), records(&straight));
}

#[test]
fn a_diverging_run_exits_3_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let o = run(&[
        "train",
        "--quiet",
        "--epochs",
        "3",
        "--schedule",
        "constant(lr=1e30)",
        "--metrics-out",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged"));
    let last = records(&metrics).pop().unwrap();
    assert_eq!(last["diverged"], true);
}

#[test]
fn a_damaged_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let c = ckpt.to_str().unwrap();
    let o = run(&["train", "--quiet", "--epochs", "1", "--checkpoint-dir", c]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = ckpt.join("epoch-000001.ckpt");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&[
        "train",
        "--quiet",
        "--epochs",
        "2",
        "--checkpoint-dir",
        c,
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    // Another run's checkpoint: the difference is named.
    std::fs::write(&file, &bytes).unwrap();
    let o = run(&[
        "train",
        "--quiet",
        "--epochs",
        "2",
        "--checkpoint-dir",
        c,
        "--resume",
        "--seed",
        "9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("config.seed: 0 -> 9"), "{}", stderr(&o));
}

#[test]
fn bad_flags_are_one_line_errors() {
    for (args, needle) in [
        (
            vec!["--model", "64-32"],
            "has 32 outputs but the data needs 10",
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
        let o = run(&[&["train", "--quiet", "--epochs", "1"][..], &args[..]].concat());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn pytorch_configs_step_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let o = run(&[
        "train",
        "--quiet",
        "--epochs",
        "4",
        "--lr",
        "0.1",
        "--schedule",
        "StepLR(step_size=2, gamma=0.5)",
        "--metrics-out",
        metrics.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
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
        let mut args = vec![
            "train",
            "--quiet",
            "--epochs",
            "1",
            "--lr",
            "0.1",
            "--metrics-out",
            metrics.to_str().unwrap(),
        ];
        args.extend(schedule.iter().copied());
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let steps = std::fs::read_to_string(dir.path().join("m.steps.jsonl")).unwrap();
        // Step records only (the file also holds `lr_change` events).
        let lrs: Vec<f64> = steps
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
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
