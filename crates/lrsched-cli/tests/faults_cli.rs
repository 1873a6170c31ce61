//! Issue 19's classes that live in the tools' CLI, each as a user meets it: one output
//! folder per run (a second run on it is refused at once), a run's memory bounded before
//! any work, find-lr's rates checked against the sweep it gave, every file lrsched writes
//! readable by `plot`, no exit 0 when no trial completed, metrics outside their range
//! never "best", and names and output paths refused before any trial runs.
//!
//! `LRSCHED_TEST_BIN` runs these tests against another build of lrsched (an older one,
//! to see them fail there).

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use support::{
    arg, assert_user_error, capped, compare, json, lr_space, ok, run as lrsched, run_words, spawn,
    text, tune, wait_for, write,
};

/// A program that reports one epoch after `secs` seconds: long enough for a second run
/// to start beside it.
fn slow_program(secs: f64) -> String {
    format!(
        r#"touch "$LRSCHED_OUT_DIR/started"; sleep {secs}; echo '{{"epoch": 1, "val_acc": 0.5}}' >> "$LRSCHED_METRICS""#
    )
}

const ONE: &str = r#"[{"name": "c", "schedule": "constant(lr=0.1)"}]"#;

/// `compare` of the schedules in `file` with `slow_program(secs)`, one seed and epoch,
/// into `out`, with `more` (words) before `--out`.
fn slow_compare(file: &str, secs: f64, out: &Path, more: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "compare",
        "--command",
        &slow_program(secs),
        "--schedules",
        file,
    ]
    .map(String::from)
    .into();
    args.extend(
        support::words("--seeds 1 --epochs 1")
            .into_iter()
            .map(String::from),
    );
    args.extend(support::words(more).into_iter().map(String::from));
    args.extend(["--out".to_string(), arg(out).to_string()]);
    args
}

/// The one-line error of a folder another run holds: the folder and who holds it.
fn assert_held(o: &Output, folder: &Path) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&folder.display().to_string()),
        "names {}: {err}",
        folder.display()
    );
    assert!(err.contains("another lrsched run holds it"), "{err}");
}

// ---- Item 3: one run per output folder --------------------------------------------

#[test]
fn a_second_compare_on_a_folder_in_use_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "one.json", ONE);
    let out = dir.path().join("out");
    let args = slow_compare(&file, 3.0, &out, "");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = spawn(&args);
    wait_for(&out.join("trials/c-seed0/started"), Duration::from_secs(30));
    let started = Instant::now();
    let second = lrsched(&args);
    assert!(started.elapsed() < Duration::from_secs(2), "not at once");
    assert_held(&second, &out);
    ok(&first.wait_with_output().unwrap());
    // The first run's numbers are its own: one row, its value.
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 1, "{rows}");
}

#[test]
fn two_compares_started_together_never_share_a_folder() {
    // Before the lock, both found the folder empty and both ran (about 1 in 6).
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "one.json", ONE);
        let out = dir.path().join("out");
        let args = slow_compare(&file, 0.5, &out, "--quiet");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (a, b) = (spawn(&args), spawn(&args));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
        assert_eq!(
            ok,
            1,
            "round {round}: exactly one runs\n{}\n{}",
            text(&a.stderr),
            text(&b.stderr)
        );
        let refused = if a.status.success() { &b } else { &a };
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    }
}

#[test]
fn a_second_find_lr_on_a_folder_in_use_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let program = r#"touch "$LRSCHED_OUT_DIR/started"; sleep 3; awk -v n="$LRSCHED_MAX_STEPS" -v f="$LRSCHED_METRICS" 'BEGIN { for (i = 0; i < n; i++) { lr = 1e-7 * (1e8 ^ (i / n)); x = log(lr / 1e-2) / log(10); printf "{\"step\": %d, \"lr\": %.17g, \"loss\": %.17g}\n", i, lr, 1 + x * x / 4 >> f } }'"#;
    let args = [
        "find-lr",
        "--quiet",
        "--command",
        program,
        "--out",
        arg(&out),
    ];
    let first = spawn(&args);
    wait_for(&out.join("trials/seed-0/started"), Duration::from_secs(30));
    let second = lrsched(&args);
    assert_held(&second, &out);
    ok(&first.wait_with_output().unwrap());
}

#[test]
fn a_second_train_on_a_metrics_file_in_use_is_refused_even_with_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let m = arg(&metrics);
    let first = spawn(
        &[
            &support::words("train --quiet --data spirals --spirals-size 20000 --epochs 40 --threads 1 --metrics-out")[..],
            &[m],
        ]
        .concat(),
    );
    wait_for(&metrics, Duration::from_secs(30));
    // --overwrite replaces what a finished run left, never what a live one writes.
    let second = run_words("train --quiet --epochs 1 --overwrite --metrics-out", &[m]);
    let mut first = first;
    let _ = first.kill();
    let _ = first.wait();
    assert_held(&second, &metrics);
}

// ---- Item 6: memory bounded before any work ---------------------------------------

/// The address-space cap of these runs (KiB): a build that tries the allocation fails
/// fast instead of pressing on the machine.
const CAP: u64 = 8_000_000;

#[test]
fn a_run_too_large_for_memory_is_refused_naming_the_flags_and_size() {
    let started = Instant::now();
    let o = capped(
        CAP,
        &support::words(
            "train --data spirals --spirals-size 10000000 --model 1048576 --batch-size 100000 --epochs 1",
        ),
    );
    assert_user_error(&o, "--batch-size 100000");
    let err = text(&o.stderr);
    for needle in ["--model 1048576", "--spirals-size 10000000", "TB", "free"] {
        assert!(err.contains(needle), "`{needle}` in: {err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_tools_built_in_runs_are_bounded_too() {
    let dir = tempfile::tempdir().unwrap();
    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1]");
    let out = |name: &str| arg(&dir.path().join(name)).to_string();
    let big = support::words("--data spirals --model 1048576-64 --batch-size 4");
    // A batch of 4 rows, but each thread evaluates chunks of the validation rows, each
    // row 5 million floats wide: with 256 threads a terabyte.
    let threads = ["--threads", "256"];
    for (tool, extra) in [
        ("train", vec![]),
        ("find-lr", vec!["--out".to_string(), out("f")]),
        (
            "tune",
            vec![
                "--space".to_string(),
                space.clone(),
                "--out".to_string(),
                out("t"),
            ],
        ),
    ] {
        let mut args: Vec<&str> = vec![tool];
        args.extend(&big);
        args.extend(threads);
        args.extend(extra.iter().map(String::as_str));
        let o = capped(CAP, &args);
        assert_user_error(&o, "--model 1048576-64");
        assert!(
            text(&o.stderr).contains("--threads 256"),
            "{tool}: {}",
            text(&o.stderr)
        );
    }
    // compare shares the cores among its runs (no --threads): many jobs at once, each its
    // own model and buffers.
    let o = capped(
        CAP,
        &[
            &support::words("compare --data spirals --model 1048576-64 --jobs 256 --out")[..],
            &[&out("c")],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--model"), "{}", text(&o.stderr));
}

// ---- Item 12: find-lr checks the rates it reads ------------------------------------

/// A bowl-shaped loss over the sweep, with the rate written as `LR` (an awk expression
/// of the sweep's own rate `lr` and the step `i`).
fn sweep_program(lr_expr: &str) -> String {
    format!(
        r#"awk -v n="$LRSCHED_MAX_STEPS" -v f="$LRSCHED_METRICS" 'BEGIN {{ for (i = 0; i < n; i++) {{ lr = 1e-7 * (1e8 ^ (i / n)); x = log(lr / 1e-2) / log(10); printf "{{\"step\": %d, \"lr\": %.9g, \"loss\": %.17g}}\n", i, {lr_expr}, 1 + x * x / 4 >> f }} }}'"#
    )
}

/// `find-lr --quiet` of `program` with `more` (words) into `out`.
fn find_lr(program: &str, more: &str, out: &Path) -> Output {
    run_words(
        &format!("find-lr --quiet {more}"),
        &["--command", program, "--out", arg(out)],
    )
}

#[test]
fn find_lr_refuses_rates_it_did_not_give_and_still_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    for (name, expr) in [("zero", "0"), ("negative", "-lr"), ("tenfold", "lr * 10")] {
        let out = dir.path().join(name);
        let o = find_lr(&sweep_program(expr), "", &out);
        let all = text(&o.stdout) + &text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {all}");
        assert!(!all.contains("suggested lr"), "{name}: {all}");
        assert!(
            all.contains("bad output") && all.contains("step 0"),
            "{name}: {all}"
        );
        assert!(all.contains("expected 1.000e-7"), "{name}: {all}");
        let j = json(&out.join("find_lr.json"));
        assert_eq!(j["runs"][0]["status"], "bad output", "{name}");
        assert!(j["suggested"].is_null(), "{name}");
    }
    // The rates as a program prints them in f32 are the rates given.
    let out = dir.path().join("f32");
    let o = find_lr(
        &sweep_program("lr").replace("%.9g", "%.7g"),
        "--seeds 2",
        &out,
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}{stdout}", text(&o.stderr));
    let lr: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("suggested lr: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect(&stdout);
    assert!(lr > 0.0 && lr.is_finite(), "{stdout}");
}

#[test]
fn one_bad_seed_leaves_a_positive_suggestion_from_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lr");
    let program = format!(
        r#"if [ "$LRSCHED_SEED" = 1 ]; then {}; else {}; fi"#,
        sweep_program("-lr"),
        sweep_program("lr")
    );
    let o = find_lr(&program, "--seeds 2", &out);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}{stdout}", text(&o.stderr));
    let j = json(&out.join("find_lr.json"));
    assert_eq!(j["runs"][1]["status"], "bad output");
    assert!(
        j["suggested"]["lr"].as_f64().unwrap() > 0.0,
        "{}",
        j["suggested"]
    );
}

// ---- Item 13: every file lrsched writes is readable by plot ------------------------

/// `plot --run METRICS --out PICS`.
fn plot(metrics: &Path, pics: &Path) -> Output {
    lrsched(&["plot", "--run", arg(metrics), "--out", arg(pics)])
}

/// The folder of the first trial (in folder order) under `out/trials`.
fn first_trial(out: &Path) -> std::path::PathBuf {
    std::fs::read_dir(out.join("trials"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
}

#[test]
fn plot_reads_a_diverged_train_run_and_a_trial_metrics_file() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("run.jsonl");
    let o = run_words(
        "train --quiet --schedule constant(lr=1e30) --epochs 2 --metrics-out",
        &[arg(&metrics)],
    );
    assert_eq!(o.status.code(), Some(3), "diverged: {}", text(&o.stderr));
    let written = std::fs::read_to_string(&metrics).unwrap();
    assert!(written.contains("null"), "{written}");
    let pics = dir.path().join("pics");
    ok(&plot(&metrics, &pics));
    assert!(pics.join("plot.png").exists() && pics.join("plot.svg").exists());

    // A trial's metrics file (protocol lines, epochs and steps mixed), as the trials of
    // compare, tune and find-lr leave in their folders (here tune's built-in trainer,
    // `lrsched train` as a trial), and compare's metrics.jsonl (every run's epochs).
    let space = lr_space(dir.path(), "cosine(lr={lr}, steps=100%)", "choice = [0.05]");
    let tuned = dir.path().join("tune");
    ok(&tune(
        "--quiet --strategy grid --epochs 2",
        &space,
        &tuned,
        &[],
    ));
    let trial = first_trial(&tuned);
    let cmp = dir.path().join("cmp");
    let file = write(
        dir.path(),
        "two.json",
        r#"[{"name": "c", "schedule": "cosine(lr=0.05, steps=100%)"}, {"name": "k", "schedule": "constant(lr=0.05)"}]"#,
    );
    ok(&compare("--quiet --seeds 1 --epochs 2", &file, &cmp, &[]));
    for (k, file) in [trial.join("metrics.jsonl"), cmp.join("metrics.jsonl")]
        .iter()
        .enumerate()
    {
        let pics = dir.path().join(format!("p{k}"));
        let o = plot(file, &pics);
        assert!(
            o.status.success(),
            "{}: {}",
            file.display(),
            text(&o.stderr)
        );
        assert!(pics.join("plot.svg").exists());
    }
    let svg = std::fs::read_to_string(dir.path().join("p1/plot.svg")).unwrap();
    assert!(
        svg.contains("c seed 0") && svg.contains("k seed 0"),
        "one curve per run"
    );
}

// ---- Item 17: no exit 0 without a completed trial; sane metric ranges -------------

/// `compare --command PROGRAM --schedules FILE` with `more` (words) into `out`.
fn compare_cmd(program: &str, file: &str, more: &str, out: &Path) -> Output {
    compare(more, file, out, &["--command", program])
}

/// `tune --command PROGRAM --space SPACE` with `more` (words) into `out`.
fn tune_cmd(program: &str, space: &str, more: &str, out: &Path) -> Output {
    tune(more, space, out, &["--command", program])
}

#[test]
fn compare_and_tune_exit_1_when_no_trial_completed() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "one.json", ONE);
    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1, 0.2]");
    let (c, t) = (dir.path().join("c"), dir.path().join("t"));
    for (out, o) in [
        (
            &c,
            compare_cmd("exit 1", &file, "--quiet --seeds 2 --epochs 1", &c),
        ),
        (
            &t,
            tune_cmd("exit 1", &space, "--quiet --strategy grid --epochs 1", &t),
        ),
    ] {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("no trial completed"), "{err}");
        assert!(out.join("report.html").exists());
    }
}

/// A program whose val_acc is `$LRSCHED_SEED`-independent and set by the schedule's
/// name: the entry named `huge` reports 1e308.
const BY_RATE: &str = r#"case "$LRSCHED_SCHEDULE" in *0.3*) v=1e308 ;; *0.2*) v=0.9 ;; *) v=0.8 ;; esac; echo "{\"epoch\": 1, \"val_acc\": $v}" >> "$LRSCHED_METRICS""#;

#[test]
fn an_accuracy_outside_0_1_is_bad_output_and_never_best() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "three.json",
        r#"[{"name": "huge", "schedule": "constant(lr=0.3)"},
            {"name": "good", "schedule": "constant(lr=0.2)"},
            {"name": "fair", "schedule": "constant(lr=0.1)"}]"#,
    );
    let stdout = ok(&compare_cmd(
        BY_RATE,
        &file,
        "--quiet --seeds 1 --epochs 1",
        &dir.path().join("c"),
    ));
    assert!(!stdout.contains("inf%"), "{stdout}");
    assert!(
        stdout.contains("good has the best final val_acc"),
        "{stdout}"
    );
    let huge = stdout.lines().find(|l| l.contains("huge")).expect(&stdout);
    assert!(huge.contains("bad output"), "{huge}");
    let html = std::fs::read_to_string(dir.path().join("c/report.html")).unwrap();
    assert!(
        html.contains("between 0 and 1"),
        "the rule is named in the report"
    );

    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1, 0.2, 0.3]");
    let out = dir.path().join("t");
    let stdout = ok(&tune_cmd(
        BY_RATE,
        &space,
        "--quiet --strategy grid --epochs 1",
        &out,
    ));
    assert!(!stdout.contains("inf%"), "{stdout}");
    let rows = support::results(&out);
    assert_eq!(rows[0]["outcome"], "completed");
    assert!(
        rows[0]["schedule"].to_string().contains("0.2"),
        "{}",
        rows[0]
    );
    let bad = rows
        .iter()
        .find(|r| r["schedule"].to_string().contains("0.3"))
        .unwrap();
    assert_eq!(bad["outcome"], "bad output", "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("between 0 and 1"),
        "{bad}"
    );
}

// ---- Smaller: names and output paths checked before any trial ---------------------

#[test]
fn control_characters_in_names_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "nul.json",
        r#"[{"name": "a\u0000b", "schedule": "constant(lr=0.1)"}]"#,
    );
    let out = dir.path().join("c");
    let o = compare_cmd("true", &file, "", &out);
    assert_user_error(&o, "entry 1");
    assert!(
        text(&o.stderr).contains("control character"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.join("trials").exists(), "no trial ran");

    // tune: a value spliced into every schedule, refused with its parameter.
    let space = write(
        dir.path(),
        "space.toml",
        "schedule = \"cosine(lr=0.1, steps={n})\"\n[params]\nn = { choice = [\"10\\u0000\"] }\n",
    );
    let out = dir.path().join("t");
    let o = tune_cmd("true", &space, "", &out);
    assert_user_error(&o, "param `n`: choice 1");
    assert!(
        text(&o.stderr).contains("control character"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_folder_where_a_result_goes_is_refused_before_any_trial() {
    let dir = tempfile::tempdir().unwrap();
    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1]");
    let out = dir.path().join("t");
    let again = || {
        tune_cmd(
            r#"touch "$LRSCHED_OUT_DIR/ran"; echo '{"epoch": 1, "val_acc": 0.5}' >> "$LRSCHED_METRICS""#,
            &space,
            "--quiet --strategy grid --epochs 1",
            &out,
        )
    };
    // A first call makes the trial's folder (and runs it); its result is then made a
    // folder, and the ran marker removed.
    ok(&again());
    let trial = first_trial(&out);
    std::fs::remove_file(trial.join("result.json")).unwrap();
    std::fs::remove_file(trial.join("ran")).unwrap();
    std::fs::create_dir(trial.join("result.json")).unwrap();
    let o = again();
    assert_user_error(&o, "result.json");
    assert!(
        text(&o.stderr).contains("not a regular file"),
        "{}",
        text(&o.stderr)
    );
    assert!(!trial.join("ran").exists(), "the trial did not run");

    // The search's own files too: report.html as a folder is found before the trial.
    std::fs::remove_dir(trial.join("result.json")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    std::fs::create_dir(out.join("report.html")).unwrap();
    let o = again();
    assert_user_error(&o, "report.html");
    assert!(!trial.join("ran").exists(), "the trial did not run");
}

#[test]
fn a_schedules_file_with_a_key_twice_is_refused_naming_it() {
    // Before: compare's own JSON reader took the last `lr` silently.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "twice.json",
        r#"[{"name": "c", "schedule": {"type": "constant", "lr": 0.1, "lr": 0.2}}]"#,
    );
    let out = dir.path().join("c");
    let o = compare_cmd("true", &file, "", &out);
    assert_user_error(&o, "duplicate key `lr`");
    assert!(!out.exists(), "no folder made for a refused run");
}
