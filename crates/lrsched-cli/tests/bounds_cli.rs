//! Sizes and counts the user types are bounded before any work starts: each bad value is
//! one line naming the flag, the value and what is allowed, never a panic, an abort on a
//! huge allocation or minutes of spinning (issue 12).

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{arg, capped, lr_space, ok, records, run, run_words, space, stderr, stdout};

/// Runs `lrsched WORDS ARGS` under a virtual-memory limit of `mb` MB, so a run that sizes
/// memory by a typed number instead of the data fails here.
fn run_limited(mb: u64, words: &str, args: &[&str]) -> Output {
    capped(mb * 1024, &[&support::words(words)[..], args].concat())
}

/// A refused value: exit 2, one line on stderr that holds every piece of `wanted`, fast.
/// The command is `words` (split at white space) then `extra`.
fn refused(words: &str, extra: &[&str], wanted: &[&str]) {
    let args = [&support::words(words)[..], extra].concat();
    let t = Instant::now();
    let o = run(&args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert_eq!(e.lines().count(), 1, "{args:?}: not one line: {e}");
    assert!(!e.contains("panicked"), "{args:?}: {e}");
    for w in wanted {
        assert!(e.contains(w), "{args:?}: `{w}` not in: {e}");
    }
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "{args:?} took {:?}",
        t.elapsed()
    );
}

/// The final epoch line of a run's metrics file, without its wall-clock fields.
fn last_epoch(path: &std::path::Path) -> serde_json::Value {
    records(path).pop().unwrap()
}

#[test]
fn a_batch_larger_than_the_data_is_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut finals = Vec::new();
    // u64::MAX panicked ("capacity overflow"), 10^12 aborted, 10^7 asked for 2.5 GB.
    for batch in ["18446744073709551615", "1000000000000", "10000000", "1438"] {
        let m = dir.path().join(format!("m{batch}.jsonl"));
        let o = run_limited(
            1500,
            "train --quiet --epochs 2 --threads 1 --batch-size",
            &[batch, "--metrics-out", arg(&m)],
        );
        let e = stderr(&o);
        assert!(o.status.success(), "--batch-size {batch}: {e}");
        if batch != "1438" {
            assert!(
                e.contains(&format!(
                    "--batch-size {batch} is more than the 1438 training rows: using 1438"
                )),
                "{e}"
            );
            assert_eq!(e.matches("note: --batch-size").count(), 1, "{e}");
        }
        finals.push(last_epoch(&m));
    }
    // The bound changes nothing: one batch of every row per epoch, as asked.
    assert!(finals.windows(2).all(|w| w[0] == w[1]), "{finals:?}");
}

#[test]
fn find_lr_and_compare_bound_the_batch_too() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_limited(
        1500,
        "find-lr --quiet --threads 1 --steps 20 --batch-size 18446744073709551615 --out",
        &[arg(&dir.path().join("f"))],
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(stderr(&o).contains("using 1438"), "{}", stderr(&o));
    let schedules = support::write(
        dir.path(),
        "s.json",
        r#"[{"name": "c", "schedule": "constant(lr=0.05)"}]"#,
    );
    let o = run_limited(
        1500,
        "compare --quiet --seeds 1 --epochs 1 --jobs 1 --batch-size 1000000000000",
        &[
            "--schedules",
            &schedules,
            "--out",
            arg(&dir.path().join("c")),
        ],
    );
    ok(&o);
    assert_eq!(stderr(&o).matches("note: --batch-size").count(), 1);
}

#[test]
fn batch_size_zero_is_refused() {
    refused(
        "train --batch-size 0",
        &[],
        &["--batch-size 0", "at least 1"],
    );
}

#[test]
fn plot_sizes_are_bounded_before_drawing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let out = arg(&out);
    let s = "cosine(lr=0.1, steps=100)";
    // 100000 aborted on a 120 GB allocation.
    refused(
        "plot --schedule",
        &[s, "--steps", "100", "--width", "100000", "--out", out],
        &["--width 100000", "240 to 10000 pixels wide"],
    );
    refused(
        "plot --schedule",
        &[s, "--steps", "100", "--height", "4294967295", "--out", out],
        &["--height 4294967295", "160 to 10000 pixels high"],
    );
    refused(
        "plot --schedule",
        &[s, "--steps", "100", "--width", "10", "--out", out],
        &["--width 10", "240 to 10000"],
    );
    refused(
        "plot --schedule",
        &[
            s, "--steps", "100", "--width", "10000", "--height", "10000", "--out", out,
        ],
        &["100000000 pixels", "at most 16000000"],
    );
    // The largest allowed picture is drawn.
    let o = run_words(
        "plot --schedule",
        &[
            s, "--steps", "100", "--width", "4000", "--height", "4000", "--out", out,
        ],
    );
    ok(&o);
    // In the terminal the sizes are characters, clamped as before.
    let o = run_words(
        "plot --schedule",
        &[s, "--steps", "100", "--terminal", "--width", "100000"],
    );
    ok(&o);
}

#[test]
fn threads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1]");
    // 100000 never started training: start-up grows with the threads.
    for t in ["100000", "257", "0"] {
        refused(
            "train --threads",
            &[t],
            &[&format!("--threads {t}"), "between 1 and 256"],
        );
        refused(
            "find-lr --threads",
            &[t],
            &[&format!("--threads {t}"), "between 1 and 256"],
        );
        refused(
            "tune --space",
            &[&space, "--threads", t],
            &[&format!("--threads {t}"), "between 1 and 256"],
        );
    }
}

#[test]
fn epochs_are_bounded_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1]");
    // compare --command took 0 and u64::MAX (the progress bar's trials x epochs overflowed).
    for e in ["0", "1000001", "18446744073709551615"] {
        let want = [format!("--epochs {e}"), "between 1 and 1000000".to_string()];
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        refused("train --epochs", &[e], &want);
        refused("compare --epochs", &[e], &want);
        refused("compare --command true --epochs", &[e], &want);
        refused("tune --space", &[&space, "--epochs", e], &want);
        refused(
            "tune --space",
            &[&space, "--command", "true", "--epochs", e],
            &want,
        );
        refused(
            "tune --space",
            &[&space, "--strategy", "asha", "--epochs", e],
            &want,
        );
    }
}

#[test]
fn tune_refuses_a_huge_search_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let space = space(
        dir.path(),
        "schedule = \"cosine(lr={lr}, steps={n})\"\n[params]\nlr = { log_range = [1e-3, 1.0] }\nn = { range = [10, 100000], int = true }\n",
    );
    let out = dir.path().join("t");
    let at = ["--space", &space, "--out", arg(&out)];
    // These spun for minutes before saying anything.
    let search = "--grid-points 100000000";
    refused(
        &format!("tune --strategy grid {search} --print-trials"),
        &at,
        &[search, "9999100000000 trials", "at most 100000"],
    );
    let search = "--grid-points 18446744073709551615";
    refused(
        &format!("tune --strategy grid {search}"),
        &at,
        &[search, "at most 100000"],
    );
    let search = "--trials 100000000";
    refused(
        &format!("tune {search} --print-trials"),
        &at,
        &[search, "between 1 and 100000"],
    );
    assert!(!out.exists(), "a refused search made its folder");
}

#[test]
fn trace_streams_and_ends_quietly_on_a_closed_pipe() {
    use std::io::Read;
    refused(
        "trace --schedule",
        &["cosine(lr=0.1, steps=10)", "--steps", "1000000001"],
        &["--steps 1000000001", "at most 1000000000"],
    );
    // 10^8 values of OneCycleLR as JSON were held whole in memory (6.7 GB, 34 s before
    // the first byte). Streamed, the first bytes come at once under a 1 GB limit, and
    // closing the pipe (`| head`) ends it with status 0 and nothing on stderr.
    for format in ["json", "csv", "plain"] {
        let t = Instant::now();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 1000000 && exec '{}' trace --config '{}' --steps 100000000 --format {format}",
                support::bin().display(),
                one_cycle_config().display()
            ))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = vec![0u8; 4096];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{format}: first bytes after {:?}",
            t.elapsed()
        );
        let text = String::from_utf8_lossy(&first);
        match format {
            "json" => assert!(
                text.starts_with("{\"interval\": \"step\", \"lr\": [0.004"),
                "{text}"
            ),
            "csv" => assert!(text.starts_with("step,lr\n0,0.004"), "{text}"),
            _ => assert!(text.starts_with("0.004"), "{text}"),
        }
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{format}: {:?} {}",
            o.status,
            stderr(&o)
        );
        assert!(stderr(&o).is_empty(), "{format}: {}", stderr(&o));
    }
    // Short traces read as before: the JSON is one document.
    let o = run_words(
        "trace --schedule",
        &["cosine(lr=1, steps=2)", "--steps", "3", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["lr"].as_array().unwrap().len(), 3);
    assert_eq!(v["interval"], "step");
}

fn one_cycle_config() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "lrsched-bounds-onecycle-{}.json",
        std::process::id()
    ));
    std::fs::write(
        &path,
        r#"{"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 100000000}"#,
    )
    .unwrap();
    path
}

#[test]
fn find_lr_steps_are_capped_before_any_work() {
    for steps in ["1e11", "100001", "18446744073709551615"] {
        refused(
            "find-lr --steps",
            &[steps],
            &[&format!("--steps {steps}"), "100000"],
        );
    }
}

#[test]
fn number_flags_name_the_flag_and_take_negative_values() {
    // `--lr nan` said "at `constant.lr`: invalid type: null, expected f64"; `--lr -1` was
    // read as an unknown flag `-1`.
    let cases: [(&str, &str, &str); 12] = [
        (
            "--lr",
            "nan",
            "--lr NaN is not allowed: must be a finite number > 0",
        ),
        (
            "--lr",
            "inf",
            "--lr inf is not allowed: must be a finite number > 0",
        ),
        (
            "--lr",
            "-1",
            "--lr -1 is not allowed: must be a finite number > 0",
        ),
        (
            "--momentum",
            "nan",
            "--momentum NaN is not allowed: must be a finite number",
        ),
        (
            "--momentum",
            "-0.5",
            "--momentum -0.5 is not allowed with this optimizer",
        ),
        (
            "--weight-decay",
            "-1e-4",
            "--weight-decay -0.0001 is not allowed: must be a finite number >= 0",
        ),
        ("--l1", "inf", "--l1 inf is not allowed"),
        (
            "--clip-norm",
            "-1",
            "--clip-norm -1 is not allowed: must be a finite number > 0",
        ),
        ("--clip-value", "nan", "--clip-value NaN is not allowed"),
        (
            "--dropout",
            "-0.1",
            "--dropout -0.1 is not allowed: must be a finite number in [0, 1)",
        ),
        (
            "--spirals-noise",
            "-2",
            "--spirals-noise -2 is not allowed: must be a finite number >= 0",
        ),
        (
            "--early-stop-min-delta",
            "nan",
            "--early-stop-min-delta NaN is not allowed",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let space = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1]");
    for (flag, value, says) in cases {
        let data: &[&str] = if flag == "--spirals-noise" {
            &["--data", "spirals"]
        } else {
            &[]
        };
        let with = |cmd: &[&str]| -> Vec<String> {
            cmd.iter()
                .chain(data)
                .chain(&[flag, value])
                .map(|s| s.to_string())
                .collect()
        };
        for cmd in [
            vec!["train"],
            vec!["compare"],
            vec!["find-lr"],
            vec!["tune", "--space", &space],
        ] {
            let args = with(&cmd);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            refused("", &args, &[says]);
        }
    }
    for (cmd, args) in [
        (
            "trace",
            vec![
                "trace",
                "--schedule",
                "cosine(lr=0.1, steps=10%)",
                "--steps",
                "5",
            ],
        ),
        (
            "plot",
            vec![
                "plot",
                "--schedule",
                "cosine(lr=0.1, steps=10%)",
                "--steps",
                "5",
                "--terminal",
            ],
        ),
    ] {
        for e in ["nan", "-2", "0"] {
            let mut a = args.clone();
            a.extend(["--epochs", e]);
            refused(
                "",
                &a,
                &[
                    &format!("--epochs {}", if e == "nan" { "NaN" } else { e }),
                    "finite number > 0",
                ],
            );
        }
        let _ = cmd;
    }
    // The real range errors of other number flags, now that negative values reach them.
    refused(
        "compare --target -0.5",
        &[],
        &["--target -0.5 is not allowed"],
    );
    refused(
        "find-lr --command true --trial-timeout -5",
        &[],
        &["--trial-timeout -5 is not allowed"],
    );
}

#[test]
fn a_pasted_file_is_not_echoed_back() {
    let big = "x".repeat(100_000);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("big.json");
    std::fs::write(
        &config,
        format!("{{\"type\": \"cosine\", \"lr\": \"{big}\", \"steps\": 10}}"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let schedules = [
        format!("{big}(lr=0.1)"),
        format!("cosine(lr=\"{big}\", steps=10)"),
        format!("cosine({big}=1, steps=10)"),
        format!("cosine(lr=0.1, steps=10) {big}"),
    ];
    let mut runs: Vec<Vec<&str>> = schedules
        .iter()
        .flat_map(|s| {
            [
                vec!["trace", "--schedule", s.as_str(), "--steps", "3"],
                vec!["train", "--schedule", s.as_str(), "--epochs", "1"],
                vec![
                    "plot",
                    "--schedule",
                    s.as_str(),
                    "--steps",
                    "3",
                    "--terminal",
                ],
                vec!["convert", "--schedule", s.as_str(), "--to", "torch"],
            ]
        })
        .collect();
    runs.push(vec!["trace", "--config", config, "--steps", "3"]);
    runs.push(vec!["train", "--schedule-config", config, "--epochs", "1"]);
    runs.push(vec!["train", "--plateau-monitor", &big]);
    runs.push(vec!["find-lr", "--mode", &big]);
    for args in runs {
        let o = run(&args);
        let e = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}: {}",
            args[0],
            &e[..e.len().min(300)]
        );
        // At most MAX_MESSAGE characters and "error: ".
        assert!(
            e.len() < 1100,
            "{} echoed {} bytes: {}...",
            args[0],
            e.len(),
            &e[..300.min(e.len())]
        );
    }
}

#[test]
fn model_data_and_jobs_sizes_are_bounded() {
    // 10^10 parameters aborted on the allocation; 10^12 spiral points likewise.
    refused(
        "train --model 100000-100000",
        &[],
        &[
            "--model `100000-100000` has 10007600010 parameters",
            "at most 100000000",
        ],
    );
    refused(
        "train --model 1048576-1048576-1048576",
        &[],
        &["--model", "at most 100000000"],
    );
    refused(
        "train --data spirals --spirals-size 1000000000000",
        &[],
        &["--spirals-size 1000000000000", "between 4 and 10000000"],
    );
    for cmd in ["compare", "find-lr"] {
        refused(
            "",
            &[cmd, "--jobs", "100000"],
            &["--jobs 100000", "between 1 and 256"],
        );
    }
}

#[test]
fn tune_prints_a_large_search_in_seconds() {
    // 10000 trials' inputs took 138 s to write, each file synced to disk (40000 syncs);
    // they are made again from the plan, so they are renamed into place unsynced.
    let dir = tempfile::tempdir().unwrap();
    let space = lr_space(
        dir.path(),
        "cosine(lr={lr}, steps=100%)",
        "log_range = [1e-4, 1.0]",
    );
    let t = Instant::now();
    let o = run_words(
        "tune --space",
        &[
            &space,
            "--trials",
            "10000",
            "--print-trials",
            "--out",
            arg(&dir.path().join("t")),
        ],
    );
    ok(&o);
    assert_eq!(stdout(&o).lines().count(), 10000);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
}

/// Every file a user names as input is read bounded and only when it is a regular file:
/// `/dev/zero` (never ends), a FIFO with no writer (blocks for ever) and an over-large
/// file are each one line, at once, instead of a hang or an allocation without end.
#[test]
fn input_files_that_never_end_block_or_are_huge_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let huge = dir.path().join("huge.json");
    let f = std::fs::File::create(&huge).unwrap();
    // Sparse: 65 MiB of size without 65 MiB of disk.
    f.set_len(65 << 20).unwrap();
    let out = dir.path().join("out");
    // (command, arguments after the input, whether the 64 MiB input bound applies: plot
    // reads a metrics file, bounded at 1 GiB).
    let cases: [(&str, &[&str], bool); 7] = [
        ("trace --steps 3 --config", &[], true),
        ("tune --space", &["--out", arg(&out)], true),
        ("compare --schedules", &["--out", arg(&out)], true),
        ("compare --workloads", &["--out", arg(&out)], true),
        ("plot --run", &["--out", arg(&out)], false),
        (
            "trace --schedule constant(lr=0.1) --steps 3 --metrics",
            &[],
            true,
        ),
        (
            "train --data digits --epochs 1 --schedule-config",
            &[],
            true,
        ),
    ];
    for (words, rest, bounded) in cases {
        for (input, wanted) in [
            ("/dev/zero", "a character device, not a regular file"),
            (arg(&fifo), "a FIFO (named pipe), not a regular file"),
            (arg(&huge), "an input file may hold at most 67108864 bytes"),
        ] {
            if !bounded && input == arg(&huge) {
                continue;
            }
            let t = Instant::now();
            let o = run(&[&support::words(words)[..], &[input], rest].concat());
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{words} {input}: {e}");
            assert_eq!(e.lines().count(), 1, "{words} {input}: {e}");
            assert!(e.contains(wanted), "{words} {input}: `{wanted}` not in {e}");
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{words} {input}: slow"
            );
        }
    }
}
