//! The trial protocol against programs that write what a careless or hostile program
//! writes: long metrics files, FIFOs, rewritten files, epochs out of range, a first loss of
//! 0, processes that outlive their trial. Each test here failed before its fix (issue 19).

mod support;

use lrsched_tools::process::{self, CommandTrainer};
use lrsched_tools::protocol::{parse_line, MetricsReader, TrialInput};
use lrsched_tools::trial::{Control, TrialResult, TrialStatus};
use std::sync::mpsc;
use std::time::Duration;
use support::input;

fn trainer(script: &str) -> CommandTrainer {
    support::trainer(script, Duration::from_secs(60))
}

/// Runs the trial on another thread and fails the test, instead of hanging it, when the
/// trial does not end within `limit`.
fn run_within(script: &str, input: &TrialInput, limit: Duration) -> TrialResult {
    let (tx, rx) = mpsc::channel();
    let (t, i) = (trainer(script), input.clone());
    std::thread::spawn(move || {
        let r = process::run(&t, &i, &mut |_| Control::Continue);
        let _ = tx.send(r);
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the trial did not end within {limit:?}: `{script}`"))
}

fn go(script: &str) -> (TrialResult, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let r = run_within(script, &input(dir.path()), Duration::from_secs(120));
    (r, dir)
}

fn malformed(r: &TrialResult) -> String {
    match &r.status {
        TrialStatus::Malformed(e) => e.to_string(),
        s => panic!("expected bad output, got {s:?}"),
    }
}

/// An awk program appending `lines` step lines of about `width` bytes to the metrics
/// file, one `write` per line (`flushed`) or in stdio's large buffers.
fn writer(lines: usize, width: usize, flushed: bool) -> String {
    let pad = "x".repeat(width.saturating_sub(60));
    let flush = if flushed { "fflush();" } else { "" };
    format!(
        r#"awk 'BEGIN {{ for (i = 0; i < {lines}; i++) {{ printf "{{\"step\": %d, \"lr\": 0.1, \"loss\": 1.5, \"note\": \"{pad}\"}}\n", i >> ENVIRON["LRSCHED_METRICS"]; {flush} }} }}'"#
    )
}

#[test]
fn long_metrics_files_are_read_to_the_end_flushed_or_buffered() {
    // 10 MB of short lines (the 100,000-step run of the issue, twice over) and 100 MB of
    // long ones; before, anything past 1 MiB after the program's exit was cut mid-line
    // and the trial reported as bad output.
    for (lines, width) in [(200_000, 50), (100_000, 1_000)] {
        for flushed in [true, false] {
            let (r, dir) = go(&writer(lines, width, flushed));
            let size = std::fs::metadata(dir.path().join("trial/metrics.jsonl"))
                .unwrap()
                .len();
            assert_eq!(
                r.status,
                TrialStatus::Completed,
                "{size} bytes, flushed {flushed}"
            );
            assert_eq!(r.steps.len(), lines, "{size} bytes, flushed {flushed}");
            assert_eq!(r.steps.last().unwrap().step, lines as u64 - 1);
            assert!(size >= (lines * width) as u64 * 9 / 10, "{size}");
        }
    }
}

#[test]
fn a_long_metrics_file_read_from_the_folder_is_whole() {
    // The path of trials run elsewhere (SLURM, --print-trials, a tune rerun).
    let dir = tempfile::tempdir().unwrap();
    let i = input(dir.path());
    std::fs::create_dir_all(&i.dir).unwrap();
    let text: String = (0..300_000)
        .map(|k| format!("{{\"step\": {k}, \"lr\": 0.1, \"loss\": 0.75}}\n"))
        .collect();
    assert!(text.len() > 10_000_000);
    std::fs::write(i.metrics_path(), text).unwrap();
    let r = process::result_from_folder(&i, 0);
    assert_eq!(r.status, TrialStatus::Completed);
    assert_eq!(r.steps.len(), 300_000);
}

#[test]
fn a_fifo_at_the_metrics_path_is_bad_output_not_a_hang() {
    // Before: File::open on the FIFO blocked for ever, past any --trial-timeout.
    for end in ["sleep 30", "exit 0"] {
        let (r, _dir) = go(&format!(
            r#"rm -f "$LRSCHED_METRICS"; mkfifo "$LRSCHED_METRICS"; {end}"#
        ));
        let e = malformed(&r);
        assert!(
            e.contains("FIFO") && e.contains("not a regular file"),
            "{e}"
        );
    }
    // Read from the folder as well.
    let dir = tempfile::tempdir().unwrap();
    let i = input(dir.path());
    std::fs::create_dir_all(&i.dir).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(i.metrics_path())
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = mpsc::channel();
    let i2 = i.clone();
    std::thread::spawn(move || tx.send(process::result_from_folder(&i2, 0)).unwrap());
    let r = rx.recv_timeout(Duration::from_secs(10)).expect("no hang");
    assert!(malformed(&r).contains("FIFO"));
    // A FIFO in place of stderr.log is not read either (its tail is simply empty).
    std::fs::remove_file(i.metrics_path()).unwrap();
    std::fs::write(i.metrics_path(), "{\"epoch\": 1}\n").unwrap();
    std::process::Command::new("mkfifo")
        .arg(i.dir.join("stderr.log"))
        .status()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(process::result_from_folder(&i, 3)).unwrap());
    let r = rx.recv_timeout(Duration::from_secs(10)).expect("no hang");
    assert!(r.stderr_tail.is_empty());
}

#[test]
fn a_metrics_file_rewritten_or_replaced_mid_run_is_bad_output() {
    // Before: each was `ok` with the last epoch read as final.
    let cases = [
        // `open(path, "w")` each epoch: the file shrinks or is rewritten in place.
        r#"for e in 1 2 3; do echo "{\"epoch\": $e, \"val_acc\": 0.$e}" > "$LRSCHED_METRICS"; sleep 0.3; done"#,
        // Truncated to nothing.
        r#"echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS"; sleep 0.3; : > "$LRSCHED_METRICS"; sleep 0.3"#,
        // Deleted and written anew.
        r#"echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS"; sleep 0.3; rm "$LRSCHED_METRICS"; echo '{"epoch": 2, "val_acc": 0.6}' >> "$LRSCHED_METRICS"; sleep 0.3"#,
        // Deleted at the end.
        r#"echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS"; sleep 0.3; rm "$LRSCHED_METRICS""#,
    ];
    for script in cases {
        let (r, _dir) = go(script);
        let e = malformed(&r);
        assert!(e.contains("append only"), "{script}: {e}");
    }
    // Appending, the way the protocol asks, is fine however slowly it goes.
    let (r, _dir) = go(
        r#"for e in 1 2 3; do echo "{\"epoch\": $e, \"val_acc\": 0.$e}" >> "$LRSCHED_METRICS"; sleep 0.2; done"#,
    );
    assert_eq!(r.status, TrialStatus::Completed);
    assert_eq!(r.last("val_acc"), Some(0.3));
}

#[test]
fn epochs_and_steps_outside_the_trial_are_bad_output() {
    for (script, want) in [
        (
            r#"echo '{"epoch": 18446744073709551615, "val_acc": 0.5}' >> "$LRSCHED_METRICS""#,
            "past the trial's budget of 3 epochs",
        ),
        (
            r#"echo '{"epoch": 4, "val_acc": 0.5}' >> "$LRSCHED_METRICS""#,
            "past the trial's budget of 3 epochs",
        ),
        (
            r#"for e in 1 3 2; do echo "{\"epoch\": $e, \"val_acc\": 0.$e}" >> "$LRSCHED_METRICS"; done"#,
            "`epoch` = 2 comes after epoch 3",
        ),
    ] {
        let (r, _dir) = go(script);
        let e = malformed(&r);
        assert!(e.contains(want), "{script}: {e}");
        // The good lines before the bad one are kept.
        assert!(r.epochs.len() <= 2, "{:?}", r.epochs);
    }
    // A step cap (the range test's LRSCHED_MAX_STEPS): steps count 0..cap.
    let dir = tempfile::tempdir().unwrap();
    let mut i = input(dir.path());
    i.max_steps = Some(5);
    std::fs::create_dir_all(&i.dir).unwrap();
    std::fs::write(
        i.metrics_path(),
        "{\"step\": 4, \"lr\": 0.1, \"loss\": 1}\n{\"step\": 9, \"lr\": 0.1, \"loss\": 1}\n",
    )
    .unwrap();
    let batch = MetricsReader::for_trial(&i).finish();
    assert_eq!(batch.lines.len(), 1);
    let e = batch.error.unwrap().to_string();
    assert!(
        e.contains("`step` = 9 is past the trial's cap of 5 steps"),
        "{e}"
    );
    // Repeating an epoch's line (a program that logs twice) is not going back.
    let (r, _dir) = go(
        r#"for e in 1 1 2; do echo "{\"epoch\": $e, \"val_acc\": 0.$e}" >> "$LRSCHED_METRICS"; done"#,
    );
    assert_eq!(r.status, TrialStatus::Completed);
}

#[test]
fn a_first_loss_of_zero_is_not_a_divergence() {
    // Before: "above 4x its first value (0.0000)" after ten ordinary losses.
    let (r, _dir) = go(
        r#"echo '{"step": 0, "lr": 0.1, "loss": 0}' >> "$LRSCHED_METRICS"; for s in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "{\"step\": $s, \"lr\": 0.1, \"loss\": 0.5}" >> "$LRSCHED_METRICS"; done; echo '{"epoch": 1, "train_loss": 0.5}' >> "$LRSCHED_METRICS""#,
    );
    assert_eq!(r.status, TrialStatus::Completed);
    // Epoch losses alone, starting at 0.
    let (r, _dir) = go(
        r#"for e in 1 2 3; do echo "{\"epoch\": $e, \"train_loss\": 0.$((e - 1))}" >> "$LRSCHED_METRICS"; done"#,
    );
    assert_eq!(r.status, TrialStatus::Completed);
}

#[test]
fn messages_show_what_the_program_wrote_shortened() {
    // Before: `epoch` = "\u0001NaN", the marker NaN is read through.
    let e = parse_line(r#"{"epoch": NaN}"#).unwrap_err();
    assert!(e.contains("`epoch` = NaN is not allowed"), "{e}");
    assert!(!e.contains('\u{1}') && !e.contains("\\u0001"), "{e}");
    // Before: a 400-digit integer was quoted whole.
    let digits = "9".repeat(400);
    let e = parse_line(&format!("{{\"step\": {digits}}}")).unwrap_err();
    assert!(e.len() < 200, "{} characters: {e}", e.len());
}

#[test]
fn a_folder_a_live_process_still_writes_to_is_fenced() {
    // The program leaves a process of its own behind in another session (out of reach
    // of its process group), still able to write to the folder. Before: the rerun ran
    // beside it.
    let dir = tempfile::tempdir().unwrap();
    let i = input(dir.path());
    let pid_file = dir.path().join("daemon.pid");
    let script = format!(
        r#"setsid sh -c 'echo $$ > {pid}; exec sleep 60' & while [ ! -s {pid} ]; do sleep 0.01; done; echo '{{"epoch": 1, "val_acc": 0.5}}' >> "$LRSCHED_METRICS""#,
        pid = pid_file.display()
    );
    let first = run_within(&script, &i, Duration::from_secs(30));
    assert_eq!(first.status, TrialStatus::Completed);
    let daemon: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let again = run_within(REPORT1, &i, Duration::from_secs(30));
    let message = match &again.status {
        TrialStatus::Failed {
            message: Some(m), ..
        } => m.clone(),
        s => {
            unsafe { libc::kill(daemon, libc::SIGKILL) };
            panic!("the rerun ran beside a live writer: {s:?}")
        }
    };
    assert!(message.contains("still in use"), "{message}");
    // The earlier attempt's metrics are untouched by the refused one.
    assert!(std::fs::read_to_string(i.metrics_path())
        .unwrap()
        .contains("0.5"));
    // Once it is gone, the folder is free again.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    let third = run_within(REPORT1, &i, Duration::from_secs(30));
    assert_eq!(third.status, TrialStatus::Completed);
}

const REPORT1: &str = r#"echo '{"epoch": 1, "val_acc": 0.7}' >> "$LRSCHED_METRICS""#;
