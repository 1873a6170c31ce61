//! `lrsched find-lr --command` as a user runs it: a real candle program speaking the
//! trial protocol, and misbehaving `sh` programs, each with the outcome it must get and
//! no process left behind.

mod support;

use std::path::Path;
use std::process::Output;
use support::{alive, arg, assert_refuses, digits_trial, json, read_pid, run_words, text};

fn pid_in(dir: &Path) -> u32 {
    read_pid(&dir.join("pid"))
}

#[test]
fn a_candle_program_gives_suggestions_over_two_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let bin = arg(digits_trial());
    let o = run_words(
        "find-lr --quiet --seeds 2 --steps-per-epoch 23 --apply onecycle",
        &["--command", bin, "--out", arg(&out)],
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", text(&o.stderr));
    assert!(stdout.contains("suggested lr:"), "{stdout}");
    assert!(
        stdout.contains("seed 0:") && stdout.contains("seed 1:"),
        "{stdout}"
    );
    let j = json(&out.join("find_lr.json"));
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert!(r["problem"].is_null(), "{r}");
        assert!(r["steps_run"].as_u64().unwrap() > 50, "{r}");
    }
    // The program stepped the rate lrsched handed it: geometric from 1e-7.
    let lrs = runs[0]["lrs"].as_array().unwrap();
    let (a, b, c) = (
        lrs[0].as_f64().unwrap(),
        lrs[1].as_f64().unwrap(),
        lrs[2].as_f64().unwrap(),
    );
    assert!((a / 1e-7 - 1.0).abs() < 1e-6, "{a}");
    assert!((b / a - c / b).abs() < 1e-6);
    for rule in ["valley", "steepest", "minimum/10"] {
        let s = &j["spread"][rule];
        let (lo, med, hi) = (
            s["min"].as_f64().unwrap(),
            s["median"].as_f64().unwrap(),
            s["max"].as_f64().unwrap(),
        );
        assert!(
            1e-7 <= lo && lo <= med && med <= hi && hi < 10.0,
            "{rule}: {s}"
        );
    }
    // --steps-per-epoch 23: 100 steps need 5 epochs, and the cost is stated in epochs.
    assert_eq!(j["epochs"], 5);
    assert!(j["cost"]["epochs_per_sweep"].as_f64().unwrap() > 2.0);
    let trial = json(&out.join("trials/seed-1/trial.json"));
    assert_eq!(trial["seed"], 1);
    assert_eq!(trial["max_steps"], 100);
    assert_eq!(trial["schedule"]["type"], "exponential");
    assert_eq!(json(&out.join("suggested.json"))["type"], "one_cycle");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("digits_trial"));
}

#[test]
fn an_exploding_loss_stops_the_program_early() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    // The shell writes its id, then becomes the program (exec keeps the id).
    let command = format!(
        "echo $$ > \"$LRSCHED_OUT_DIR/pid\"; exec {}",
        digits_trial().display()
    );
    // The rate reaches ~5 (where the loss explodes) two thirds of the way in, so the
    // program still has a third of its steps (about half a second) to go when it is
    // stopped: enough margin for the 20 ms polling however fast the machine is.
    let steps = 4000;
    support::ok(&run_words(
        &format!("find-lr --quiet --start 1e-4 --end 1000 --steps {steps}"),
        &["--command", &command, "--out", arg(&out)],
    ));
    let trial_dir = out.join("trials/seed-0");
    let written = std::fs::read_to_string(trial_dir.join("metrics.jsonl")).unwrap();
    let step_lines = written.lines().filter(|l| l.contains("\"step\"")).count();
    assert!(
        step_lines < steps,
        "the program wrote all {step_lines} steps: it was not stopped"
    );
    let j = json(&out.join("find_lr.json"));
    let r = &j["runs"][0];
    assert!(r["problem"].is_null(), "{r}");
    assert!(
        r["stop"] == "diverging" || r["stop"] == "not_finite",
        "{}",
        r["stop"]
    );
    assert!(r["steps_read"].as_u64().unwrap() < steps as u64);
    assert!(!alive(pid_in(&trial_dir)), "the program is still running");
}

/// Runs `find-lr --command SCRIPT` with `extra` flags; returns the output and the folder.
fn sh(script: &str, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let args = [&["--command", script, "--out", arg(&out)][..], extra].concat();
    (run_words("find-lr --quiet", &args), dir)
}

/// A program whose loss is a bowl in log rate: it reads the rate from the schedule's
/// step count (`LRSCHED_MAX_STEPS`) as a real program would step its schedule.
const BOWL: &str = r#"awk -v n="$LRSCHED_MAX_STEPS" -v f="$LRSCHED_METRICS" 'BEGIN {
  for (i = 0; i < n; i++) { lr = 1e-7 * (1e8 ^ (i / n)); x = log(lr / 1e-2) / log(10);
    printf "{\"step\": %d, \"lr\": %.17g, \"loss\": %.17g}\n", i, lr, 1 + x * x / 4 >> f; fflush(f) } }'"#;

#[test]
fn misbehaving_programs_get_their_outcome() {
    for (script, extra, word, needle) in [
        (
            r#"echo '{"epoch": 1, "val_loss": 0.5}' >> "$LRSCHED_METRICS""#,
            vec![],
            "ok",
            "find-lr needs step lines {\"step\", \"lr\", \"loss\"}: see docs/protocol.md",
        ),
        (
            "echo 'out of memory' >&2; exit 1",
            vec![],
            "failed",
            "exited with status 1",
        ),
        (
            r#"echo '{"step": 0, "lr": 1e-7, "loss": NaN}' >> "$LRSCHED_METRICS"; sleep 30"#,
            vec![],
            "diverged",
            "loss = NaN",
        ),
        (
            r#"echo 'loss=0.3' >> "$LRSCHED_METRICS""#,
            vec![],
            "bad output",
            "metrics.jsonl:1",
        ),
        ("true", vec![], "no report", "without reporting"),
        (
            r#"echo $$ > "$LRSCHED_OUT_DIR/pid"; exec sleep 30"#,
            vec!["--trial-timeout", "1"],
            "timed out",
            "timed out after 1 s",
        ),
    ] {
        let started = std::time::Instant::now();
        let (o, dir) = sh(script, &extra);
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert!(started.elapsed().as_secs() < 20, "{script}: took too long");
        assert_eq!(o.status.code(), Some(1), "{script}: {stderr}\n{stdout}");
        // One line says why, naming the seed and the outcome.
        assert_eq!(stderr.trim_end().lines().count(), 1, "{script}: {stderr}");
        assert!(
            stderr.contains("seed 0") && stderr.contains(needle),
            "{script}: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
        let j = json(&dir.path().join("lr/find_lr.json"));
        assert_eq!(j["runs"][0]["status"], word, "{script}");
        assert!(j["suggested"].is_null());
        if script.contains("out of memory") {
            assert!(stdout.contains("stderr: out of memory"), "{stdout}");
            assert_eq!(j["runs"][0]["stderr_tail"][0], "out of memory");
        }
        if script.contains("pid") {
            assert!(!alive(pid_in(&dir.path().join("lr/trials/seed-0"))));
        }
    }
}

#[test]
fn the_seeds_that_worked_give_the_suggestions() {
    let script =
        format!(r#"if [ "$LRSCHED_SEED" = 1 ]; then echo crashed >&2; exit 3; fi; {BOWL}"#);
    let (o, dir) = sh(&script, &["--seeds", "3"]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", text(&o.stderr));
    assert!(
        stdout.contains("seed 1: 0 steps, failed: exited with status 3"),
        "{stdout}"
    );
    assert!(stdout.contains("suggested lr:"), "{stdout}");
    let j = json(&dir.path().join("lr/find_lr.json"));
    assert_eq!(j["spread"]["valley"]["values"].as_array().unwrap().len(), 2);
    let html = std::fs::read_to_string(dir.path().join("lr/report.html")).unwrap();
    assert!(html.contains("Failed seeds") && html.contains("crashed"));
}

#[test]
fn command_flags_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let out = arg(&out);
    let cases = [
        (vec!["--command", "true", "--model", "128"], "--model"),
        (
            vec!["--command", "true", "--optimizer", "adam", "--data", "xor"],
            "--data, --optimizer are for the built-in trainer",
        ),
        (
            vec!["--steps-per-epoch", "10"],
            "--steps-per-epoch is for --command",
        ),
        (
            vec!["--trial-timeout", "5"],
            "--trial-timeout is for --command",
        ),
        (
            vec!["--command", "true", "--trial-timeout", "0"],
            "--trial-timeout 0",
        ),
        (
            vec!["--command", "true", "--cwd", "/no/such/dir"],
            "--cwd /no/such/dir",
        ),
        (vec!["--command", "true", "--jobs", "0"], "--jobs 0"),
    ];
    assert_refuses(&["find-lr", "--quiet", "--out", out], &cases);
    // Nothing ran.
    assert!(!Path::new(out).join("trials").exists());
}
