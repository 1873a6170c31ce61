//! `lrsched tune --command`: a real external program (the candle digits example), and
//! programs that misbehave in every way the protocol names; nothing is left running.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{alive, digits_trial, read_pid, results};

fn lrsched() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lrsched"))
}

fn run(args: &[&str]) -> Output {
    lrsched().args(args).output().expect("run lrsched")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn space(dir: &Path, body: &str) -> String {
    let p = dir.join("space.toml");
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn asha_over_the_candle_example_finds_a_best_config() {
    let exe = digits_trial();
    let dir = tempfile::tempdir().unwrap();
    let sp = space(
        dir.path(),
        "schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { log_range = [0.005, 0.5] }\n",
    );
    let out = dir.path().join("out");
    let o = run(&[
        "tune",
        "--command",
        exe.to_str().unwrap(),
        "--space",
        &sp,
        "--strategy",
        "asha",
        "--trials",
        "6",
        "--eta",
        "3",
        "--min-epochs",
        "1",
        "--epochs",
        "3",
        "--search-seed",
        "2",
        "--jobs",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = results(&out);
    assert_eq!(r.len(), 6, "{r:?}");
    assert!(
        r.iter()
            .all(|x| x["outcome"] == "completed" || x["outcome"] == "pruned"),
        "{r:?}"
    );
    assert!(r.iter().any(|x| x["outcome"] == "pruned"), "{r:?}");
    assert_eq!(r[0]["outcome"], "completed");
    assert_eq!(r[0]["epochs_run"], 3);
    assert!(r[0]["score"].as_f64().unwrap() > 0.5, "{}", r[0]);
    let best: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    assert_eq!(best["type"], "cosine");
    assert_eq!(best, r[0]["schedule_config"]);
    // Each trial's input is stored as JSON, never as flags.
    let key = r[0]["key"].as_str().unwrap();
    let t: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("trials").join(key).join("trial.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(t["epochs"], 3);
    assert_eq!(t["schedule"], best);
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("digits_trial"));
}

/// One trial per behaviour, picked by the trial's rate.
const MISBEHAVE: &str = r#"echo $$ > "$LRSCHED_OUT_DIR/pid"
case "$LRSCHED_SCHEDULE" in
  *'"lr":0.1'[,}]*) echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS" ;;
  *'"lr":0.2'[,}]*) echo 'boom: out of luck' >&2; exit 1 ;;
  *'"lr":0.3'[,}]*) exec sleep 60 ;;
  *'"lr":0.4'[,}]*) echo 'garbage' >> "$LRSCHED_METRICS" ;;
  *'"lr":0.5'[,}]*) echo '{"epoch": 1, "val_acc": NaN}' >> "$LRSCHED_METRICS"; exec sleep 60 ;;
  *'"lr":0.6'[,}]*) true ;;
  *'"lr":0.7'[,}]*) kill -9 $$ ;;
  *'"lr":0.8'[,}]*) echo 'Error: no GPU here' >&2; seq 1 40 >&2; exit 3 ;;
esac"#;

#[test]
fn misbehaving_programs_are_results_and_leave_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(
        dir.path(),
        "[schedule]\ntype = \"constant\"\nlr = \"{lr}\"\n[params]\nlr = { choice = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] }\n",
    );
    let out = dir.path().join("out");
    let start = Instant::now();
    let o = run(&[
        "tune",
        "--command",
        MISBEHAVE,
        "--space",
        &sp,
        "--strategy",
        "grid",
        "--epochs",
        "1",
        "--trial-timeout",
        "1",
        "--jobs",
        "4",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    let r = results(&out);
    assert_eq!(r.len(), 8, "{r:?}");
    let by = |lr: f64| {
        r.iter()
            .find(|x| x["params"]["lr"].as_f64() == Some(lr))
            .unwrap_or_else(|| panic!("no trial at {lr}"))
            .clone()
    };
    assert_eq!(by(0.1)["outcome"], "completed");
    assert_eq!(
        r[0]["params"]["lr"], 0.1,
        "the only scored trial ranks first"
    );
    let failed = by(0.2);
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["exit_code"], 1);
    assert!(
        failed["stderr_tail"][0].as_str().unwrap().contains("boom"),
        "{failed}"
    );
    assert_eq!(by(0.3)["outcome"], "timed out");
    let bad = by(0.4);
    assert_eq!(bad["outcome"], "bad output");
    assert!(
        bad["message"].as_str().unwrap().contains("metrics.jsonl:1"),
        "{bad}"
    );
    assert_eq!(by(0.5)["outcome"], "diverged");
    assert_eq!(by(0.6)["outcome"], "no report");
    let killed = by(0.7);
    assert_eq!(killed["outcome"], "failed");
    assert_eq!(killed["signal"], 9, "{killed}");
    // The error line is found even when 40 more lines push it out of the stderr tail.
    let noisy = by(0.8);
    assert_eq!(noisy["exit_code"], 3);
    assert_eq!(noisy["error_line"], "Error: no GPU here", "{noisy}");
    for x in &r[1..] {
        assert!(x["score"].is_null(), "{x}");
    }
    // The table and the report show the failures with their exit status and stderr.
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("exit 1; stderr: boom: out of luck"),
        "{stdout}"
    );
    assert!(stdout.contains("signal 9"), "{stdout}");
    assert!(
        stdout.contains("exit 3; stderr: Error: no GPU here"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("boom: out of luck") && html.contains("timed out"),
        "{html}"
    );
    // The hung and the diverged programs were killed, not left behind.
    for lr in [0.3, 0.5] {
        let key = by(lr)["key"].as_str().unwrap().to_string();
        let pid = read_pid(&out.join("trials").join(&key).join("pid"));
        assert!(!alive(pid), "trial at {lr} (pid {pid}) still runs");
    }
    // A rerun finds every trial finished: nothing runs again.
    let again = run(&[
        "tune",
        "--command",
        MISBEHAVE,
        "--space",
        &sp,
        "--strategy",
        "grid",
        "--epochs",
        "1",
        "--trial-timeout",
        "1",
        "--print-trials",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), "");
}

/// Reports its rate as val_acc each epoch, slowly, with a helper process of its own.
const SLOW: &str = r#"echo $$ > "$LRSCHED_OUT_DIR/pid"
sleep 60 & echo $! > "$LRSCHED_OUT_DIR/helper_pid"
lr=$(sed 's/.*"lr":\([0-9.e-]*\).*/\1/' "$LRSCHED_SCHEDULE_FILE")
e=1
while [ $e -le $LRSCHED_EPOCHS ]; do
  echo "{\"epoch\": $e, \"val_acc\": $lr}" >> "$LRSCHED_METRICS"
  sleep 0.3
  e=$((e + 1))
done"#;

#[test]
fn a_pruned_trial_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(
        dir.path(),
        "[schedule]\ntype = \"constant\"\nlr = \"{lr}\"\n[params]\nlr = { choice = [0.1, 0.2, 0.3, 0.4, 0.5] }\n",
    );
    let out = dir.path().join("out");
    let o = run(&[
        "tune",
        "--command",
        SLOW,
        "--space",
        &sp,
        "--strategy",
        "asha",
        "--trials",
        "5",
        "--eta",
        "3",
        "--min-epochs",
        "1",
        "--epochs",
        "3",
        "--search-seed",
        "1",
        "--jobs",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = results(&out);
    assert_eq!(r.len(), 5);
    let pruned: Vec<&Value> = r.iter().filter(|x| x["outcome"] == "pruned").collect();
    assert!(!pruned.is_empty(), "{r:?}");
    assert_eq!(r[0]["params"]["lr"], 0.5, "{r:?}");
    for p in &pruned {
        assert_eq!(p["epochs_run"], 1, "{p}");
        let tdir = out.join("trials").join(p["key"].as_str().unwrap());
        for f in ["pid", "helper_pid"] {
            let pid = read_pid(&tdir.join(f));
            assert!(
                !alive(pid),
                "{f} {pid} of pruned trial {} still runs",
                p["key"]
            );
        }
    }
}

#[test]
fn a_second_tune_on_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(
        dir.path(),
        "[schedule]\ntype = \"constant\"\nlr = \"{lr}\"\n[params]\nlr = { choice = [0.1] }\n",
    );
    let out = dir.path().join("out");
    let cmd = r#"echo $$ > "$LRSCHED_OUT_DIR/pid"; sleep 2; echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS""#;
    let args = [
        "tune",
        "--command",
        cmd,
        "--space",
        &sp,
        "--strategy",
        "grid",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = lrsched()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first one's trial runs (it holds the lock by then).
    let start = Instant::now();
    let started = || {
        std::fs::read_dir(out.join("trials"))
            .map(|d| d.flatten().any(|e| e.path().join("pid").exists()))
            .unwrap_or(false)
    };
    while !started() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first tune never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = run(&args);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(".lrsched.lock") && err.contains("in use"),
        "{err}"
    );
    let o = first.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = results(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["outcome"], "completed");
    // The lock died with the first process: a third run is let in (and runs nothing).
    let third = run(&args);
    assert!(third.status.success(), "{}", text(&third.stderr));
}
