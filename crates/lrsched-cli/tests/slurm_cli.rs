//! `tune` and `compare` with `--launcher slurm`, on a real one-node SLURM cluster started
//! on this machine by `scripts/slurm-cluster` (Debian's slurm-wlm): the built-in trainer
//! and a `--command` program through job arrays, a task cancelled mid-way by someone
//! else (reported with the scheduler's state, retried), Ctrl-C (scancel, nothing counted
//! as a failure), and the whole run killed and run again without rerunning any trial.
//!
//! Where the cluster cannot start (not root, no apt), each test says why and skips;
//! under CI (the `CI` variable set) it must start, and a failure to start fails.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use support::{arg, digits_trial, json, lr_space, lrsched, ok, results, run, spawn, text, tune};

/// Starts the cluster once for this binary; `Err(why)` where it cannot.
fn cluster() -> Result<(), String> {
    static UP: OnceLock<Result<(), String>> = OnceLock::new();
    UP.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm-cluster");
        let o = Command::new("bash")
            .arg(&script)
            .arg("start")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "the one-node SLURM cluster did not start: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
    })
    .clone()
}

/// Whether the test can run: panics under CI when the cluster cannot start.
fn ready(test: &str) -> bool {
    match cluster() {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => panic!("{why}"),
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// One test at a time: the node has 2 CPUs and the tests count what ran.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The cluster to `test` alone, or `None` where the test skips (see `ready`).
fn on_cluster(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    ready(test).then(serial)
}

/// A tune of `rates` constant rates, each trial `slow_program` for `epochs` epochs, through
/// SLURM: its folder, its output folder and its arguments (with `more`, words).
fn slow_search(
    rates: usize,
    epochs: &str,
    more: &str,
) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), rates);
    let program = slow_program(dir.path(), 0.5);
    let out = dir.path().join("out");
    let mut args = tune_args(&sp, &out, &program, epochs);
    args.extend(support::words(more));
    let args = args.into_iter().map(String::from).collect();
    (dir, out, args)
}

/// A space of `n` constant rates 0.1, 0.2, ...
fn space(dir: &Path, n: usize) -> String {
    let values: Vec<String> = (1..=n).map(|i| format!("0.{i}")).collect();
    let choice = format!("choice = [{}]", values.join(", "));
    lr_space(dir, "constant(lr={lr})", &choice)
}

/// A slow training program: `epochs` epochs of `secs` seconds, accuracy = its rate; each
/// start is appended to `runs.log`, so a test counts how often each trial ran.
fn slow_program(dir: &Path, secs: f64) -> String {
    let p = dir.join("prog.sh");
    let log = dir.join("runs.log");
    std::fs::write(
        &p,
        format!(
            "lr=$(sed 's/.*\"lr\":\\([0-9.e-]*\\).*/\\1/' \"$LRSCHED_SCHEDULE_FILE\")\n\
             echo \"$LRSCHED_TRIAL\" >> {log}\n\
             e=1\n\
             while [ $e -le $LRSCHED_EPOCHS ]; do sleep {secs}; echo \"{{\\\"epoch\\\": $e, \\\"val_acc\\\": $lr}}\" >> \"$LRSCHED_METRICS\"; e=$((e+1)); done\n",
            log = log.display()
        ),
    )
    .unwrap();
    format!("sh {}", p.display())
}

/// How many times each trial started.
fn runs(dir: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for l in std::fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
    {
        *m.entry(l.to_string()).or_insert(0) += 1;
    }
    m
}

/// The `n` results of a search in `out`, each a trial completed after `epochs` epochs.
fn all_completed(out: &Path, n: usize, epochs: u64) -> Vec<Value> {
    let r = results(out);
    assert_eq!(r.len(), n, "{r:?}");
    assert!(
        r.iter()
            .all(|x| x["outcome"] == "completed" && x["epochs_run"] == epochs),
        "{r:?}"
    );
    r
}

/// The submissions the launcher recorded: `(job, task, trial folder)`.
fn submissions(out: &Path) -> Vec<(String, u64, PathBuf)> {
    std::fs::read_to_string(out.join("slurm").join("submissions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            (
                v["job"].as_str().unwrap().to_string(),
                v["task"].as_u64().unwrap(),
                PathBuf::from(v["dir"].as_str().unwrap()),
            )
        })
        .collect()
}

/// The scheduler's state of task `id` (`123_4`), if it knows it.
fn state(id: &str) -> Option<String> {
    let o = Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-o", "%i|%T"])
        .output()
        .ok()?;
    text(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{id}|")).map(str::to_string))
}

/// Waits until `ready()` holds, polling the cluster every 100 ms.
fn wait_until(what: &str, limit: Duration, ready: impl FnMut() -> bool) {
    support::wait_until(what, limit, Duration::from_millis(100), ready);
}

fn tune_args<'a>(sp: &'a str, out: &'a Path, command: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let mut args = support::words("tune --strategy grid --launcher slurm");
    args.extend(["--space", sp, "--epochs", epochs, "--command", command]);
    args.extend(["--out", arg(out)]);
    args
}

#[test]
fn the_built_in_trainer_and_a_command_tune_through_job_arrays() {
    let Some(_one) = on_cluster("the_built_in_trainer_and_a_command_tune_through_job_arrays")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), 2);
    // The built-in trainer: each task is this executable's `train`.
    let out = dir.path().join("builtin");
    let o = tune(
        "--strategy grid --epochs 2 --model 16 --launcher slurm",
        &sp,
        &out,
        &[],
    );
    ok(&o);
    let err = text(&o.stderr);
    assert!(err.contains("submitted 2 trial(s) as SLURM job"), "{err}");
    assert!(err.contains("queue: "), "{err}");
    all_completed(&out, 2, 2);
    assert!(out.join("report.html").exists() && out.join("best.json").exists());
    let subs = submissions(&out);
    assert_eq!(subs.len(), 2);
    for (job, task, _) in &subs {
        assert_eq!(
            state(&format!("{job}_{task}")).as_deref(),
            Some("COMPLETED")
        );
    }

    // A program lrsched did not write: the candle example, one task per trial.
    let out = dir.path().join("command");
    let exe = digits_trial().display().to_string();
    ok(&run(&tune_args(&sp, &out, &exe, "1")));
    let r = results(&out);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r.iter().all(|x| x["outcome"] == "completed"), "{r:?}");
    assert!(r[0]["score"].as_f64().unwrap() > 0.3, "{}", r[0]);
    // Rerun: every trial has a result, nothing is submitted.
    let o = run(&tune_args(&sp, &out, &exe, "1"));
    ok(&o);
    assert!(
        !text(&o.stderr).contains("as SLURM job"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(submissions(&out).len(), 2);
}

#[test]
fn a_task_cancelled_by_someone_else_is_reported_and_retried() {
    let Some(_one) = on_cluster("a_task_cancelled_by_someone_else_is_reported_and_retried") else {
        return;
    };
    let (dir, out, args) = slow_search(2, "6", "--retries 1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = spawn(&args);
    // Cancel the first trial's task once it has reported an epoch.
    wait_until("a submission", Duration::from_secs(60), || {
        !submissions(&out).is_empty()
    });
    let (job, task, trial_dir) = submissions(&out)[0].clone();
    wait_until("the first epoch", Duration::from_secs(60), || {
        std::fs::read_to_string(trial_dir.join("metrics.jsonl")).is_ok_and(|m| !m.is_empty())
    });
    let id = format!("{job}_{task}");
    assert!(Command::new("scancel").arg(&id).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("SLURM task {id}: CANCELLED")) && err.contains("retrying"),
        "{err}"
    );
    let r = all_completed(&out, 2, 6);
    let key = trial_dir.file_name().unwrap().to_str().unwrap();
    let retried = r.iter().find(|x| x["key"] == key).unwrap();
    let record = json(&trial_dir.join("result.json"));
    assert!(
        record["attempts"][0]
            .as_str()
            .unwrap()
            .contains("CANCELLED"),
        "{record}"
    );
    assert_eq!(
        retried["attempts"].as_array().map(Vec::len),
        Some(1),
        "{retried}"
    );
    // The cancelled attempt's lines are kept beside the new ones.
    assert!(trial_dir.join("metrics.prev-1.jsonl").exists());
    let counts = runs(dir.path());
    assert_eq!(counts.get(key), Some(&2), "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 3, "{counts:?}");
}

#[test]
fn interrupted_then_killed_then_resumed_runs_every_trial_to_its_end_once() {
    let Some(_one) =
        on_cluster("interrupted_then_killed_then_resumed_runs_every_trial_to_its_end_once")
    else {
        return;
    };
    // Two at a time: two tasks wait in the queue while two run. No retries: a cancel of
    // our own must not count as a failure.
    let (dir, out, args) = slow_search(4, "4", "--jobs 2 --retries 0");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let spawn = || spawn(&args);
    // 1. Ctrl-C while the first two run: lrsched cancels its job and says so.
    let child = spawn();
    wait_until("two started trials", Duration::from_secs(60), || {
        runs(dir.path()).values().sum::<usize>() == 2
    });
    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let job = submissions(&out)[0].0.clone();
    assert!(
        err.contains(&format!("cancelled SLURM job(s) {job} (scancel)")),
        "{err}"
    );
    wait_until("every task cancelled", Duration::from_secs(30), || {
        submissions(&out)
            .iter()
            .all(|(j, t, _)| state(&format!("{j}_{t}")).is_none_or(|s| s == "CANCELLED"))
    });
    let after_cancel = runs(dir.path());
    assert_eq!(after_cancel.values().sum::<usize>(), 2, "{after_cancel:?}");

    // 2. Run again, and kill lrsched outright (SIGKILL) once two trials have finished:
    // its tasks go on without it.
    let mut child = spawn();
    wait_until("two finished trials", Duration::from_secs(90), || {
        std::fs::read_dir(out.join("trials"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("result.json").exists())
            .count()
            >= 2
    });
    child.kill().unwrap();
    child.wait().unwrap();

    // 3. Run again: the finished trials are kept, the queued or running ones watched
    // (not submitted again), and every trial ends completed.
    let o = run(&args);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let r = all_completed(&out, 4, 4);
    // The two cancelled by Ctrl-C ran twice (cancelled, then whole); every other once.
    let counts = runs(dir.path());
    for (trial, n) in &counts {
        let expected = if after_cancel.contains_key(trial) {
            2
        } else {
            1
        };
        assert_eq!(*n, expected, "{trial}: {counts:?}\n{err}");
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
    // Nothing was counted as a failed attempt.
    assert!(r.iter().all(|x| x["attempts"].is_null()), "{r:?}");
}

#[test]
fn compare_runs_its_trials_on_the_cluster() {
    let Some(_one) = on_cluster("compare_runs_its_trials_on_the_cluster") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let compare = |epochs: &str| {
        let words = format!("compare --epochs {epochs} --seeds 2 --model 16 --launcher slurm");
        support::run_words(&words, &["--out", arg(&out)])
    };
    let o = compare("2");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("as SLURM job"), "{err}");
    let stdout = text(&o.stdout);
    assert!(stdout.contains("2 ok"), "{stdout}");
    assert!(!stdout.contains("failed"), "{stdout}");
    assert!(out.join("report.html").exists());
    // Run again on the same folder: everything is collected, nothing submitted.
    let o = compare("2");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("as SLURM job"), "{err}");
    // Another comparison in that folder is refused.
    let o = compare("3");
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("holds another comparison"), "{err}");
}

#[test]
fn bad_launcher_flags_are_refused_before_any_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), 2);
    let out = dir.path().join("out");
    let empty = tempfile::tempdir().unwrap();
    for (flags, needle, path) in [
        (vec!["--launcher", "pbs"], "must be local or slurm", None),
        (
            vec!["--launcher", "slurm", "--slurm-args", "--array=0-9"],
            "lrsched sets it",
            None,
        ),
        (
            vec!["--launcher", "slurm", "--slurm-args", "--time '1:00"],
            "quotes do not close",
            None,
        ),
        (
            vec!["--launcher", "slurm", "--retries", "1000000"],
            "between 0 and 100",
            None,
        ),
        (vec!["--retries", "2"], "for --launcher slurm", None),
        (
            vec!["--launcher", "slurm", "--print-trials"],
            "give one",
            None,
        ),
        // No SLURM on PATH: said before anything is written.
        (
            vec!["--launcher", "slurm"],
            "needs SLURM's commands on PATH",
            Some(empty.path()),
        ),
    ] {
        let mut cmd = lrsched("tune");
        cmd.args(["--space", &sp, "--out", arg(&out)]).args(&flags);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        let o = cmd.output().unwrap();
        support::assert_user_error(&o, needle);
        assert!(!out.exists(), "{flags:?} made {}", out.display());
    }
}
