//! `lrsched tune` as a user runs it: real processes, real files, a real `kill -9`.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};
use support::{
    arg, compare, json, lr_space, ok, results, run, run_words, space, spawn_quiet, text, tune,
    wait_until,
};

const SPACE: &str = "schedule = \"warmup(steps={warmup}, schedule=cosine(lr={lr}, steps=100%))\"\n\
[params]\nlr = { log_range = [0.01, 0.3] }\nwarmup = { choice = [0, 5] }\n";

fn keys(out: &Path) -> Vec<String> {
    let mut k: Vec<String> = results(out)
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

#[test]
fn grid_of_two_by_two_gives_four_results_and_a_best_config_train_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), SPACE);
    let out = dir.path().join("out");
    let stdout = ok(&tune(
        "--strategy grid --grid-points 2 --epochs 1 --model 16 --jobs 2 --quiet",
        &sp,
        &out,
        &[],
    ));
    let r = results(&out);
    assert_eq!(r.len(), 4, "{stdout}");
    let mut lrs: Vec<f64> = r
        .iter()
        .map(|x| x["params"]["lr"].as_f64().unwrap())
        .collect();
    lrs.sort_by(f64::total_cmp);
    assert_eq!(lrs, [0.01, 0.01, 0.3, 0.3]);
    // Sorted best first; the table has a header and one line per trial.
    let scores: Vec<f64> = r.iter().map(|x| x["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        stdout.lines().filter(|l| l.contains("completed")).count() == 4,
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("results.csv"))
            .unwrap()
            .lines()
            .count(),
        5
    );
    for f in [
        "report.html",
        "score-vs-lr.png",
        "score-vs-lr.svg",
        "score-vs-warmup.png",
    ] {
        assert!(out.join(f).metadata().unwrap().len() > 0, "{f}");
    }
    assert_eq!(json(&out.join("best.json"))["type"], "warmup");
    let t = ok(&run_words(
        "train --quiet --epochs 1 --model 16 --schedule-config",
        &[arg(&out.join("best.json"))],
    ));
    assert!(t.contains("val_acc"));
    let c = ok(&compare(
        "--quiet --seeds 1 --epochs 1 --model 16",
        arg(&out.join("best_compare.json")),
        &dir.path().join("cmp"),
        &[],
    ));
    assert!(c.contains("tuned"), "{c}");
}

#[test]
fn random_search_with_a_seed_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), SPACE);
    let go = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        ok(&tune(
            "--trials 3 --epochs 1 --model 16 --quiet",
            &sp,
            &out,
            &["--search-seed", seed],
        ));
        out
    };
    let (a, b, c) = (go("a", "7"), go("b", "7"), go("c", "8"));
    assert_eq!(keys(&a).len(), 3);
    assert_eq!(keys(&a), keys(&b));
    assert_ne!(keys(&a), keys(&c));
    // Same trial, same result: training is seeded too.
    let score = |d: &Path| {
        results(d)
            .iter()
            .map(|r| r["score"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(score(&a), score(&b));
}

#[test]
fn asha_stops_weak_trials_early() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), SPACE);
    let asha = |jobs: &str, out: &Path| {
        ok(&tune(
            "--strategy asha --trials 9 --eta 3 --min-epochs 1 --epochs 3 --model 16 --quiet",
            &sp,
            out,
            &["--jobs", jobs],
        ));
    };
    let out = dir.path().join("out");
    asha("2", &out);
    let r = results(&out);
    let configs = r.len();
    assert!(configs >= 3, "{r:?}");
    // One pass: every configuration starts; the weak ones are stopped at the rung of one
    // epoch with their score there, the others run the full three.
    let pruned: Vec<&Value> = r.iter().filter(|x| x["outcome"] == "pruned").collect();
    assert!(!pruned.is_empty(), "{r:?}");
    for p in &pruned {
        assert_eq!(p["pruned_at"], 1, "{p}");
        assert_eq!(p["epochs_run"], 1, "{p}");
        assert!(p["score"].as_f64().is_some(), "{p}");
        assert!(
            p["message"].as_str().unwrap().contains("pruned at rung 1"),
            "{p}"
        );
    }
    let full = r.iter().filter(|x| x["outcome"] == "completed").count();
    assert_eq!(full + pruned.len(), configs, "{r:?}");
    let total: u64 = r.iter().map(|x| x["epochs_run"].as_u64().unwrap()).sum();
    assert!(total < configs as u64 * 3, "{total} epochs");
    // The winner comes from the trials that ran the whole budget.
    assert_eq!(r[0]["epochs"], 3);
    assert_eq!(r[0]["outcome"], "completed");
    // One job: the trials reach the rung in a fixed order, so the search is deterministic.
    let again = dir.path().join("again");
    asha("1", &again);
    let outcomes = |d: &Path| {
        let mut v: Vec<(String, String)> = results(d)
            .iter()
            .map(|x| {
                (
                    x["key"].as_str().unwrap().into(),
                    x["outcome"].as_str().unwrap().into(),
                )
            })
            .collect();
        v.sort();
        v
    };
    asha("1", &dir.path().join("again2"));
    assert_eq!(outcomes(&again), outcomes(&dir.path().join("again2")));
}

/// path -> (bytes, mtime) of every result.json under `out`.
fn snapshot(out: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(out.join("trials")).unwrap() {
        let p = e.unwrap().path().join("result.json");
        if let Ok(bytes) = std::fs::read(&p) {
            let t = p.metadata().unwrap().modified().unwrap();
            m.insert(p, (bytes, t));
        }
    }
    m
}

#[test]
fn a_killed_search_resumes_without_rerunning_finished_trials() {
    let dir = tempfile::tempdir().unwrap();
    let sp = lr_space(
        dir.path(),
        "cosine(lr={lr}, steps=100%)",
        "range = [0.01, 0.3]",
    );
    let out = dir.path().join("out");
    let args = [
        &support::words(
            "tune --strategy grid --grid-points 10 --epochs 3 --model 128 --jobs 1 --quiet",
        )[..],
        &["--space", &sp, "--out", arg(&out)],
    ]
    .concat();
    let mut child = spawn_quiet(&args);
    wait_until(
        "results",
        Duration::from_secs(120),
        Duration::from_millis(5),
        || {
            let done = out.join("trials").exists() && snapshot(&out).len() >= 2;
            assert!(
                done || child.try_wait().unwrap().is_none(),
                "finished before the kill"
            );
            done
        },
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The trial that was running dies with its parent (PR_SET_PDEATHSIG) and leaves no
    // result: give the kernel a moment to deliver that.
    std::thread::sleep(Duration::from_millis(300));
    let before = snapshot(&out);
    assert!(before.len() < 10, "every trial finished before the kill");
    for (p, (bytes, _)) in &before {
        serde_json::from_slice::<Value>(bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    assert!(!out.join("results.jsonl").exists());

    let stdout = ok(&run(&args));
    let after = snapshot(&out);
    assert_eq!(after.len(), 10);
    for (p, v) in &before {
        assert_eq!(&after[p], v, "{} was rewritten", p.display());
    }
    assert_eq!(results(&out).len(), 10);
    assert_eq!(
        stdout.lines().filter(|l| l.contains("completed")).count(),
        10
    );
    // No temporary file is left behind.
    for e in std::fs::read_dir(out.join("trials")).unwrap() {
        for f in std::fs::read_dir(e.unwrap().path()).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp"), "{name}");
        }
    }
}

#[test]
fn print_trials_hands_out_the_pending_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), SPACE);
    let out = dir.path().join("out");
    let args = ["--space", &sp, "--out", arg(&out)];
    let list = |extra: &[&str]| {
        ok(&run_words(
            "tune --strategy grid --grid-points 2 --epochs 1 --model 16",
            &[&args[..], extra].concat(),
        ))
    };
    let first = list(&["--print-trials"]);
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 4, "{first}");
    assert!(!out.join("results.jsonl").exists());
    for l in &lines {
        assert!(l.contains("LRSCHED_PROTOCOL=1 "), "{l}");
        assert!(l.contains(" train "), "{l}");
        assert!(!l.contains("--run-trial"), "{l}");
    }
    // Run one as a cluster node would: the printed line, as is, in a shell.
    ok(&Command::new("sh").arg("-c").arg(lines[0]).output().unwrap());
    let key = lines[0]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("LRSCHED_TRIAL="))
        .unwrap()
        .to_string();
    let tdir = out.join("trials").join(&key);
    assert!(tdir.join("trial.json").exists());
    assert_eq!(
        std::fs::read_to_string(tdir.join("exit_status"))
            .unwrap()
            .trim(),
        "0"
    );
    assert!(tdir.join("metrics.jsonl").metadata().unwrap().len() > 0);
    let second = list(&["--print-trials"]);
    assert_eq!(second.lines().count(), 3, "{second}");
    assert!(!second.contains(&key));
    // The rest run here; the one run elsewhere is collected, not redone.
    list(&["--quiet"]);
    let r = results(&out);
    assert_eq!(r.len(), 4);
    assert!(r.iter().all(|x| x["outcome"] == "completed"), "{r:?}");
    assert!(!tdir.join("metrics.prev-1.jsonl").exists());
}

#[test]
fn a_diverged_trial_is_a_result_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let sp = lr_space(dir.path(), "constant(lr={lr})", "choice = [0.1, 1e30]");
    let out = dir.path().join("out");
    ok(&tune(
        "--strategy grid --epochs 1 --model 16 --quiet",
        &sp,
        &out,
        &[],
    ));
    let r = results(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["params"]["lr"], 0.1);
    assert_eq!(r[1]["outcome"], "diverged");
    assert!(r[1]["score"].is_null());
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let unwritable = file.join("out");
    let good = space(dir.path(), SPACE);
    let cases: Vec<(String, Vec<&str>, &str)> =
        vec![
        (
            "schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [0.1, 0.1] }"
                .into(),
            vec![],
            "empty",
        ),
        (
            "schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { log_range = [1.0, 0.1] }"
                .into(),
            vec![],
            "inverted",
        ),
        (
            "schedule = \"cosine(lr={lr}, steps={n})\"\n[params]\nlr = { range = [0.1, 1] }".into(),
            vec![],
            "{n}",
        ),
        (
            "schedule = \"cosine(lr=0.1, steps=100%)\"\n[params]\nlr = { range = [0.1, 1] }".into(),
            vec![],
            "not used",
        ),
        (
            "schedule = \"cosnie(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [0.1, 1] }"
                .into(),
            vec![],
            "cosnie",
        ),
        (String::new(), vec!["--strategy", "bayes"], "bayes"),
        (
            String::new(),
            vec!["--out", unwritable.to_str().unwrap()],
            "--out",
        ),
        (
            String::new(),
            vec!["--schedule", "constant(lr=0.1)"],
            "--schedule",
        ),
        (
            String::new(),
            vec!["--command", "true", "--model", "16"],
            "--model is not allowed with --command",
        ),
        (
            String::new(),
            vec!["--strategy", "grid", "--grid-points", "100000000"],
            "--grid-points 100000000 is not allowed: the grid would have 100000000 trials, at most 100000",
        ),
        (String::new(), vec!["--trial-timeout", "0"], "--trial-timeout"),
    ];
    for (body, extra, want) in cases {
        let sp = if body.is_empty() {
            good.clone()
        } else {
            space(dir.path(), &body)
        };
        let default_out = dir.path().join("o").display().to_string();
        let mut args = vec!["tune", "--space", &sp, "--epochs", "1", "--trials", "1"];
        if !extra.contains(&"--out") {
            args.extend(["--out", &default_out]);
        }
        args.extend(extra);
        let o = run(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn huge_searches_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path(), SPACE);
    let out = dir.path().join("o");
    let start = Instant::now();
    for extra in [
        &["--trials", "100000000"][..],
        &[
            "--strategy",
            "grid",
            "--grid-points",
            "100000000",
            "--print-trials",
        ][..],
    ] {
        let mut args = vec!["tune", "--space", &sp, "--out", arg(&out)];
        args.extend(extra);
        let o = run(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("100000"), "{err}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}
