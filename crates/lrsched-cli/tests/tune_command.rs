//! `lrsched tune --command`: a real external program (the candle digits example), and
//! programs that misbehave in every way the protocol names; nothing is left running.

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{
    alive, arg, assert_user_error, digits_trial, json, lr_space, ok, read_pid, results, run_words,
    spawn, text, tune, wait_until, write,
};

/// A search space over constant rates: `lr` takes each of `choices` (TOML list items).
fn constant_space(dir: &Path, choices: &str) -> String {
    write(
        dir,
        "space.toml",
        &format!(
            "[schedule]\ntype = \"constant\"\nlr = \"{{lr}}\"\n[params]\nlr = {{ choice = [{choices}] }}\n"
        ),
    )
}

#[test]
fn asha_over_the_candle_example_finds_a_best_config() {
    let exe = digits_trial();
    let dir = tempfile::tempdir().unwrap();
    let sp = lr_space(
        dir.path(),
        "cosine(lr={lr}, steps=100%)",
        "log_range = [0.005, 0.5]",
    );
    let out = dir.path().join("out");
    ok(&tune("--strategy asha --trials 6 --eta 3 --min-epochs 1 --epochs 3 --search-seed 2 --jobs 2 --quiet", &sp, &out, &["--command", arg(exe)]));
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
    let best = json(&out.join("best.json"));
    assert_eq!(best["type"], "cosine");
    assert_eq!(best, r[0]["schedule_config"]);
    // Each trial's input is stored as JSON, never as flags.
    let key = r[0]["key"].as_str().unwrap();
    let t = json(&out.join("trials").join(key).join("trial.json"));
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
    let sp = constant_space(dir.path(), "0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8");
    let out = dir.path().join("out");
    let args = ["--command", MISBEHAVE, "--space", &sp, "--out", arg(&out)];
    let start = Instant::now();
    let stdout = ok(&run_words(
        "tune --strategy grid --epochs 1 --trial-timeout 1 --jobs 4 --quiet",
        &args,
    ));
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
    let again = run_words(
        "tune --strategy grid --epochs 1 --trial-timeout 1 --print-trials",
        &args,
    );
    assert_eq!(ok(&again), "");
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
    let sp = constant_space(dir.path(), "0.1, 0.2, 0.3, 0.4, 0.5");
    let out = dir.path().join("out");
    ok(&tune("--strategy asha --trials 5 --eta 3 --min-epochs 1 --epochs 3 --search-seed 1 --jobs 1 --quiet", &sp, &out, &["--command", SLOW]));
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
    let sp = constant_space(dir.path(), "0.1");
    let out = dir.path().join("out");
    let cmd = r#"echo $$ > "$LRSCHED_OUT_DIR/pid"; sleep 2; echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS""#;
    let args = [
        &support::words("tune --strategy grid --epochs 1 --quiet")[..],
        &["--command", cmd, "--space", &sp, "--out", arg(&out)],
    ]
    .concat();
    let first = spawn(&args);
    // Wait until the first one's trial runs (it holds the lock by then).
    wait_until(
        "the first tune to start",
        Duration::from_secs(20),
        Duration::from_millis(20),
        || {
            std::fs::read_dir(out.join("trials"))
                .map(|d| d.flatten().any(|e| e.path().join("pid").exists()))
                .unwrap_or(false)
        },
    );
    let second = support::run(&args);
    assert_user_error(&second, ".lrsched.lock");
    assert_eq!(text(&second.stderr).lines().count(), 1);
    assert!(text(&second.stderr).contains("in use"));
    ok(&first.wait_with_output().unwrap());
    let r = results(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["outcome"], "completed");
    // The lock died with the first process: a third run is let in (and runs nothing).
    ok(&support::run(&args));
}
