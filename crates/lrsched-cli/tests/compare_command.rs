//! `lrsched compare --command`: a real candle program (the lrsched-candle `digits_trial`
//! example) and misbehaving shell programs, each with the outcome it must get.

mod support;

use std::path::Path;
use support::{alive, arg, compare, digits_trial, jsonl, read_pid, run as lrsched, text, write};

fn schedules(dir: &Path) -> String {
    write(
        dir,
        "s.toml",
        r#"
[[schedules]]
name = "cosine"
schedule = "cosine(lr=0.1, steps=100%)"

[[schedules]]
name = "step"
schedule = { type = "StepLR", lr = 0.1, step_size = 1, gamma = 0.5 }
"#,
    )
}

#[test]
fn a_candle_program_is_compared_like_the_built_in_trainer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let program = digits_trial();
    let o = compare(
        "--seeds 2 --epochs 2",
        &schedules(dir.path()),
        &out,
        &["--command", arg(program)],
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", text(&o.stderr));
    assert!(stdout.contains("has the best final val_acc"), "{stdout}");
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 2 * 2 * 2, "{rows}");
    let steps = jsonl(&out.join("steps.jsonl"));
    assert!(steps.len() >= 2 * 2 * 2 * 10);
    // StepLR per epoch (PyTorch's default interval): the second epoch's rate is halved.
    let first_step_of_epoch2 = steps
        .into_iter()
        .find(|v| v["schedule"] == "step" && v["step"] == 23)
        .unwrap();
    assert_eq!(first_step_of_epoch2["lr"], 0.05);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("command: ") && html.contains("digits_trial"));
    // Each trial keeps what it was given.
    let trial = out.join("trials/cosine-seed0");
    assert!(trial.join("schedule.json").exists() && trial.join("metrics.jsonl").exists());
}

#[test]
fn misbehaving_programs_are_results_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // One program, four behaviours chosen by the schedule's rate.
    let script = write(
        dir.path(),
        "bad.sh",
        r#"#!/bin/sh
case "$LRSCHED_SCHEDULE" in
  *0.1*) echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS" ;;
  *0.2*) echo "Traceback: boom" >&2; exit 1 ;;
  *0.3*) echo 'not json' >> "$LRSCHED_METRICS" ;;
  *0.4*) echo '{"epoch": 1, "val_acc": NaN}' >> "$LRSCHED_METRICS"; sleep 30 ;;
  *0.5*) echo $$ > "$LRSCHED_OUT_DIR/pid"; exec sleep 30 ;;
  *0.6*) exit 0 ;;
esac
"#,
    );
    let entries: Vec<String> = (1..=6)
        .map(|k| format!(r#"{{"name": "c{k}", "schedule": "constant(lr=0.{k})"}}"#))
        .collect();
    let list = write(dir.path(), "s.json", &format!("[{}]", entries.join(",")));
    let started = std::time::Instant::now();
    let o = compare(
        "--seeds 1 --epochs 1 --trial-timeout 2 --jobs 6",
        &list,
        &out,
        &["--command", &format!("sh {script}")],
    );
    assert!(started.elapsed().as_secs() < 20, "no trial hangs the run");
    let stdout = text(&o.stdout);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}\n{stdout}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
            .to_string()
    };
    assert!(row("c1").ends_with("1 ok"), "{}", row("c1"));
    assert!(row("c2").contains("1 failed"), "{}", row("c2"));
    assert!(row("c3").contains("1 bad output"), "{}", row("c3"));
    assert!(row("c4").contains("1 diverged"), "{}", row("c4"));
    assert!(row("c5").contains("1 timed out"), "{}", row("c5"));
    assert!(row("c6").contains("1 no report"), "{}", row("c6"));
    assert!(stderr.contains("exited with status 1"), "{stderr}");
    assert!(
        stderr.contains("metrics.jsonl:1: not a JSON object"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Traceback: boom"),
        "stderr tail in the report"
    );
    // The hung program is gone.
    let pid = read_pid(&out.join("trials/c5-seed0/pid"));
    assert!(!alive(pid), "the hung program {pid} was stopped");
}

#[test]
fn built_in_flags_with_a_command_are_refused() {
    let o = lrsched(&["compare", "--command", "true", "--model", "128"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--model is for the built-in trainer and would be ignored"),
        "{err}"
    );
    let o = lrsched(&["compare", "--command", "true", "--preset", "xor"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("--preset is for the built-in trainer"),
        "{err}"
    );
    let o = lrsched(&["compare", "--command", "true", "--trial-timeout", "-1"]);
    let err = text(&o.stderr);
    assert!(err.contains("--trial-timeout -1 is not allowed"), "{err}");
    // A command's flags without --command: one line saying so, not silently ignored.
    for flag in [
        ["--trial-timeout", "5"],
        ["--steps-per-epoch", "10"],
        ["--cwd", "."],
    ] {
        let o = lrsched(&["compare", flag[0], flag[1]]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{} is for --command", flag[0])),
            "{err}"
        );
    }
}
