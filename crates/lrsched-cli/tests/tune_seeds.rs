//! `lrsched tune`'s ties and `--seeds`: programs whose numbers are known (identical
//! configurations, a clear winner, a noisy tie, a crashing seed) and the verdict each must
//! get, at one seed and re-evaluated over seeds; bad flags are one clear line.

mod support;

use std::path::Path;
use support::{assert_user_error, json, ok, tune, write};

/// A protocol program (Python, standard library only) whose `val_acc` is
/// `base(lr) + noise * wobble(seed)`, `base` given as a Python expression of `lr`; with
/// `crash_seed`, the seed that exits 1 when lr is 0.3.
fn program(dir: &Path, base: &str, noise: f64, crash_seed: Option<u64>) -> String {
    let script = write(
        dir,
        &format!(
            "p{}.py",
            base.len() + (noise * 1e4) as usize + crash_seed.map_or(0, |s| 100 + s as usize)
        ),
        &format!(
            r#"import json, math, os, sys
lr = json.load(open(os.environ["LRSCHED_SCHEDULE_FILE"]))["lr"]
seed = int(os.environ["LRSCHED_SEED"])
if {crash} == seed and lr == 0.3:
    sys.exit(1)
acc = {base} + {noise} * math.sin(12.9898 * (seed + 1) + 78.233 * lr)
with open(os.environ["LRSCHED_METRICS"], "a") as f:
    f.write(json.dumps({{"epoch": 1, "val_acc": acc}}) + "\n")
"#,
            crash = crash_seed.map_or("-1".to_string(), |s| s.to_string()),
        ),
    );
    format!("python3 {script}")
}

fn space(dir: &Path) -> String {
    write(
        dir,
        "space.toml",
        "schedule = \"constant(lr={lr})\"\n[params]\nlr = { choice = [0.1, 0.2, 0.3, 0.4] }\n",
    )
}

#[test]
fn identical_results_are_a_tie_at_one_seed_and_equivalent_over_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let p = program(dir.path(), "0.54", 0.0, None);
    let sp = space(dir.path());
    let out = dir.path().join("one");
    let stdout = ok(&tune(
        "--strategy grid --epochs 1 --quiet",
        &sp,
        &out,
        &["--command", &p],
    ));
    assert!(
        stdout.contains(
            "a tie: 4 configurations are within ±0.5 percentage points of the best at one seed"
        ),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("A tie"));
    let out = dir.path().join("three");
    let stdout = ok(&tune(
        "--strategy grid --epochs 1 --quiet --seeds 3",
        &sp,
        &out,
        &["--command", &p],
    ));
    let s = json(&out.join("seeds.json"));
    assert_eq!(s["seeds"], serde_json::json!([0, 1, 2]));
    // Every one tied at one seed is re-evaluated, not only the top 3.
    let verdicts: Vec<&str> = s["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["best", "equivalent", "equivalent", "equivalent"],
        "{s}"
    );
    assert!(
        stdout.contains("a tie: 3 equivalent within ±0.5 percentage points"),
        "{stdout}"
    );
    assert!(
        stdout.contains("best: IQM val_acc 54.00% over 3 seeds"),
        "{stdout}"
    );
}

#[test]
fn a_clear_winner_is_best_and_the_rest_worse() {
    let dir = tempfile::tempdir().unwrap();
    // 0.9 at lr 0.4, falling 10 points a step of 0.1, with 0.2 points of seed noise.
    let p = program(dir.path(), "0.5 + lr", 0.002, None);
    let sp = space(dir.path());
    let out = dir.path().join("out");
    let stdout = ok(&tune(
        "--strategy grid --epochs 1 --quiet --seeds 4 --reevaluate 3",
        &sp,
        &out,
        &["--command", &p],
    ));
    assert!(!stdout.contains("a tie"), "{stdout}");
    let s = json(&out.join("seeds.json"));
    let configs = s["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 3);
    assert_eq!(configs[0]["verdict"], "best");
    assert_eq!(configs[0]["schedule_config"]["lr"], 0.4);
    assert!(configs[1..].iter().all(|c| c["verdict"] == "worse"), "{s}");
    assert_eq!(json(&out.join("best.json"))["lr"], 0.4);
}

#[test]
fn a_noisy_tie_is_undecided_with_more_seeds_than_were_run() {
    let dir = tempfile::tempdir().unwrap();
    // The same mean everywhere, 5 points of seed noise: 3 seeds cannot decide.
    let p = program(dir.path(), "0.7", 0.05, None);
    let sp = space(dir.path());
    let out = dir.path().join("out");
    let stdout = ok(&tune(
        "--strategy grid --epochs 1 --quiet --seeds 3 --reevaluate 4",
        &sp,
        &out,
        &["--command", &p],
    ));
    let s = json(&out.join("seeds.json"));
    let undecided: Vec<&serde_json::Value> = s["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "undecided")
        .collect();
    assert!(!undecided.is_empty(), "{s}");
    for c in undecided {
        assert!(c["seeds_needed"].as_u64().unwrap() > 3, "{c}");
    }
    assert!(stdout.contains("seeds would decide"), "{stdout}");
}

#[test]
fn a_crashing_seed_makes_a_configuration_incomplete_never_best() {
    let dir = tempfile::tempdir().unwrap();
    // lr 0.3 is best at seed 0 but its seed 1 crashes.
    let p = program(dir.path(), "0.9 - abs(lr - 0.3)", 0.001, Some(1));
    let sp = space(dir.path());
    let out = dir.path().join("out");
    let stdout = ok(&tune(
        "--strategy grid --epochs 1 --quiet --seeds 3",
        &sp,
        &out,
        &["--command", &p],
    ));
    let s = json(&out.join("seeds.json"));
    let configs = s["configs"].as_array().unwrap();
    let crashed = configs
        .iter()
        .find(|c| c["schedule_config"]["lr"] == 0.3)
        .unwrap();
    assert_eq!(crashed["verdict"], "incomplete", "{s}");
    assert!(
        crashed["note"].as_str().unwrap().contains("seed 1: failed"),
        "{s}"
    );
    assert_ne!(s["best"], crashed["key"]);
    assert_ne!(json(&out.join("best.json"))["lr"], 0.3, "{stdout}");
}

#[test]
fn bad_seed_flags_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space(dir.path());
    let out = dir.path().join("out");
    for (flags, needle) in [
        (
            "--seeds 0",
            "--seeds 0 is not allowed: must be between 1 and 100",
        ),
        ("--seeds 1000000", "--seeds 1000000 is not allowed"),
        ("--seeds 3 --reevaluate 0", "--reevaluate 0 is not allowed"),
        (
            "--seeds 3 --reevaluate 51",
            "--reevaluate 51 is not allowed",
        ),
        ("--reevaluate 2", "--reevaluate 2 needs --seeds 2 or more"),
    ] {
        let o = tune(
            &format!("--strategy grid --epochs 1 {flags}"),
            &sp,
            &out,
            &["--command", "true"],
        );
        assert_user_error(&o, needle);
        assert!(!out.exists(), "{flags} made the output folder");
    }
}
