//! Real programs behind the trial protocol, well and badly behaved: each gets the outcome
//! it must, and no trial leaves a process behind.

mod support;
// The process checks of the CLI's tests, one copy for both crates.
#[path = "../../lrsched-cli/tests/support/process.rs"]
mod shared;

use lrsched_tools::process::{self, CommandTrainer};
use lrsched_tools::protocol::Line;
use lrsched_tools::trial::{Control, TrialStatus};
use std::path::Path;
use std::time::{Duration, Instant};
use support::input;

fn trainer(script: &str) -> CommandTrainer {
    support::trainer(script, Duration::from_secs(20))
}

fn go(script: &str) -> (lrsched_tools::trial::TrialResult, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let r = process::run(&trainer(script), &input(dir.path()), &mut |_| {
        Control::Continue
    });
    (r, dir)
}

/// Whether the process whose id a test program wrote into `pid_file` still runs.
fn alive(pid_file: &Path) -> bool {
    shared::alive(shared::read_pid(pid_file))
}

const REPORT3: &str = r#"for e in 1 2 3; do echo "{\"epoch\": $e, \"val_acc\": 0.$e, \"seed\": $LRSCHED_SEED}" >> "$LRSCHED_METRICS"; done"#;

#[test]
fn a_good_program_completes_with_its_lines() {
    let (r, dir) = go(&format!(
        "test \"$LRSCHED_PROTOCOL\" = 1 && test \"$LRSCHED_EPOCHS\" = 3 && cmp -s \"$LRSCHED_SCHEDULE_FILE\" /dev/null || true; {REPORT3}; echo '{{\"step\": 0, \"lr\": 0.1, \"loss\": 2.3}}' >> \"$LRSCHED_METRICS\""
    ));
    assert_eq!(r.status, TrialStatus::Completed, "{:?}", r.stderr_tail);
    assert_eq!(r.epochs.len(), 3);
    assert_eq!(r.last("val_acc"), Some(0.3));
    assert_eq!(r.last("seed"), Some(5.0));
    assert_eq!(r.steps.len(), 1);
    let written = std::fs::read_to_string(dir.path().join("trial/schedule.json")).unwrap();
    // The config as JSON, keys sorted, durations as written: no `interval` key was stated.
    assert_eq!(
        written,
        "{\"lr\":0.1,\"steps\":\"100%\",\"type\":\"cosine\"}\n"
    );
}

#[test]
fn a_failing_program_is_a_result_with_its_stderr() {
    let (r, _d) = go(
        r#"echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS"; echo "CUDA out of memory" >&2; exit 7"#,
    );
    assert!(
        matches!(r.status, TrialStatus::Failed { code: Some(7), .. }),
        "{:?}",
        r.status
    );
    assert_eq!(r.epochs.len(), 1, "lines before the failure are kept");
    assert_eq!(r.stderr_tail, vec!["CUDA out of memory".to_string()]);
    assert_eq!(r.status.to_string(), "exited with status 7");
}

#[test]
fn garbage_is_reported_with_file_and_line() {
    let (r, _d) = go(
        r#"echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS"; echo 'loss=0.3' >> "$LRSCHED_METRICS""#,
    );
    let TrialStatus::Malformed(e) = &r.status else {
        panic!("{:?}", r.status)
    };
    assert_eq!(e.line, 2);
    assert!(
        e.to_string().contains("metrics.jsonl:2: not a JSON object"),
        "{e}"
    );
}

#[test]
fn nan_ends_the_trial_as_diverged_without_waiting() {
    let started = Instant::now();
    let (r, dir) = go(
        r#"echo $$ > "$LRSCHED_OUT_DIR/pid"; echo '{"epoch": 1, "val_loss": NaN}' >> "$LRSCHED_METRICS"; exec sleep 30"#,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        r.status,
        TrialStatus::Diverged {
            at: "epoch 1".into(),
            what: "val_loss = NaN".into()
        }
    );
    assert!(!alive(&dir.path().join("trial/pid")));
}

#[test]
fn silence_is_no_report() {
    let (r, _d) = go("exit 0");
    assert_eq!(r.status, TrialStatus::NoReport);
}

#[test]
fn a_hang_times_out_and_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(r#"sleep 60 & echo $! > "$LRSCHED_OUT_DIR/pid"; wait"#);
    t.timeout = Some(Duration::from_millis(500));
    let started = Instant::now();
    let r = process::run(&t, &input(dir.path()), &mut |_| Control::Continue);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(r.status, TrialStatus::TimedOut { .. }),
        "{:?}",
        r.status
    );
    assert!(r.status.to_string().starts_with("timed out"));
    // The grandchild (the background sleep) went with its group.
    assert!(!alive(&dir.path().join("trial/pid")));
}

#[test]
fn a_stop_sends_term_then_kill_to_a_program_that_ignores_term() {
    let dir = tempfile::tempdir().unwrap();
    let t = trainer(
        r#"trap '' TERM; echo $$ > "$LRSCHED_OUT_DIR/pid"; e=1; while true; do echo "{\"epoch\": $e, \"val_acc\": 0.5}" >> "$LRSCHED_METRICS"; e=$((e+1)); sleep 0.05; done"#,
    );
    let mut heard = 0;
    let r = process::run(&t, &input(dir.path()), &mut |l| {
        if let Line::Epoch(_) = l {
            heard += 1;
        }
        if heard >= 2 {
            Control::Stop("pruned at rung 2".into())
        } else {
            Control::Continue
        }
    });
    assert_eq!(
        r.status,
        TrialStatus::Stopped {
            reason: "pruned at rung 2".into()
        }
    );
    assert!(!alive(&dir.path().join("trial/pid")));
}

#[test]
fn a_rerun_keeps_the_earlier_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let i = input(dir.path());
    let t = trainer(REPORT3);
    process::run(&t, &i, &mut |_| Control::Continue);
    let r = process::run(&t, &i, &mut |_| Control::Continue);
    assert_eq!(r.epochs.len(), 3, "the rerun reads only its own lines");
    assert!(dir.path().join("trial/metrics.prev-1.jsonl").exists());
}

#[test]
fn the_rust_helper_reads_the_trial_lrsched_writes() {
    // The program side (lrsched::trial) against this side's environment, in-process.
    let dir = tempfile::tempdir().unwrap();
    let i = input(dir.path());
    std::fs::create_dir_all(&i.dir).unwrap();
    let vars = i.env(None);
    let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let trial = lrsched::trial::Trial::from_vars(get).unwrap().unwrap();
    let driver = trial.driver(Some(10)).unwrap();
    assert_eq!(lrsched::Schedule::len(driver.schedule()), Some(30));
    let mut m = trial.metrics().unwrap();
    m.epoch(1, &[("val_acc", 0.25)]).unwrap();
    let mut reader = lrsched_tools::protocol::MetricsReader::new(&i.metrics_path());
    let lines = reader.poll().into_result().unwrap();
    assert_eq!(lines.len(), 1);
}
