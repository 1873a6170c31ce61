//! `lrsched compare`'s verdicts on programs whose numbers are known: a python3 program
//! behind `--command` reports, for each schedule (told apart by its rate) and seed
//! (`$LRSCHED_SEED`), a fixed final accuracy. Every verdict (best, equivalent, worse,
//! undecided, incomplete), `summary.json`, the printed table and the report must agree.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use support::{arg, assert_user_error, json, ok, run_words, text, write};

/// Final val_acc per rate and seed 0..3; epochs 1 and 2 are 0.2 and 0.01 below it, so a
/// target of 0.9 is reached in epoch 2 by anything ending at 0.91 or more.
const PROGRAM: &str = r#"
import json, os, sys
lr = json.loads(os.environ["LRSCHED_SCHEDULE"])["lr"]
seed = int(os.environ["LRSCHED_SEED"])
finals = {
    0.11: [0.950, 0.951, 0.952, 0.953],  # winner
    0.12: [0.950, 0.951, 0.952, 0.953],  # twin: the very same numbers
    0.13: [0.800, 0.801, 0.802, 0.803],  # loser
    0.14: [0.970, 0.920, 0.962, 0.935],  # noisy: a tie the seeds cannot settle
    0.15: [0.990, 0.990, None, 0.990],   # crash: seed 2 fails, the others top the table
    0.16: [0.101, 0.101, 0.101, 0.101],  # chance level (10 classes)
    0.17: [0.945, 0.946, 0.946, 0.948],  # steady: 0.5 points below the winner, little spread
    0.18: ["blowup"] * 4,                # diverges at a rate of 1e30
}[lr]
f = finals[seed % 4]
metrics = open(os.environ["LRSCHED_METRICS"], "a")
if f == "blowup":
    metrics.write('{"step": 0, "lr": 1e30, "loss": 1.0}\n{"epoch": 1, "val_acc": NaN}\n')
    sys.exit(0)
if f is None:
    print("Traceback: boom", file=sys.stderr)
    sys.exit(1)
for epoch, v in ((1, f - 0.2), (2, f - 0.01), (3, f)):
    v = max(v, 0.1) if f < 0.2 else v
    for k in range(3):  # three steps an epoch
        step = 3 * (epoch - 1) + k
        metrics.write(json.dumps({"step": step, "lr": lr, "loss": 1.0}) + "\n")
    metrics.write(json.dumps({"epoch": epoch, "val_acc": round(v, 6)}) + "\n")
"#;

fn program(dir: &Path) -> String {
    format!("python3 {}", write(dir, "known.py", PROGRAM))
}

fn schedules(dir: &Path, entries: &[(&str, f64)]) -> String {
    let list: Vec<String> = entries
        .iter()
        .map(|(n, lr)| format!(r#"{{"name": "{n}", "schedule": "constant(lr={lr})"}}"#))
        .collect();
    write(dir, "s.json", &format!("[{}]", list.join(",")))
}

/// `compare --quiet WORDS` of `PROGRAM` over `entries` (name, rate), 3 epochs from seed
/// 0, in a new folder: the run, its summary.json and its report, and the folder.
fn compare(entries: &[(&str, f64)], words: &str) -> (Output, Value, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_words(
        &format!("compare --quiet --epochs 3 --seed 0 {words}"),
        &[
            "--command",
            &program(dir.path()),
            "--schedules",
            &schedules(dir.path(), entries),
            "--out",
            arg(&out),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stderr),
        text(&o.stdout)
    );
    let (summary, html) = read_out(&out);
    (o, summary, html, dir)
}

/// A compare folder's summary.json and report.
fn read_out(out: &Path) -> (Value, String) {
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    (json(&out.join("summary.json")), html)
}

fn entry<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {s}"))
}

/// The note of the schedule `name` in a summary.
fn note<'a>(s: &'a Value, name: &str) -> &'a str {
    entry(s, name)["note"].as_str().unwrap()
}

/// The printed table's row of `name`.
fn row(o: &Output, name: &str) -> String {
    text(&o.stdout)
        .lines()
        .find(|l| l.contains(&format!(" {name} ")))
        .unwrap_or_else(|| panic!("{name} in {}", text(&o.stdout)))
        .to_string()
}

#[test]
fn every_verdict_on_known_numbers_and_summary_json_agrees_with_table_and_report() {
    let entries = [
        ("winner", 0.11),
        ("twin", 0.12),
        ("loser", 0.13),
        ("noisy", 0.14),
        ("crash", 0.15),
        ("chance", 0.16),
    ];
    let (o, s, html, dir) = compare(&entries, "--seeds 4 --target 0.9 --chance 0.1");
    let stdout = text(&o.stdout);
    // The shape of docs/summary.md.
    assert_eq!(s["metric"], "val_acc");
    assert_eq!(s["higher_is_better"], true);
    assert_eq!(s["target"], 0.9);
    assert_eq!(s["margin"], 0.005, "the documented default for an accuracy");
    assert_eq!(s["best"], "winner", "{s}");
    let want = [
        ("winner", "best"),
        ("twin", "equivalent"),
        ("loser", "worse"),
        ("noisy", "undecided"),
        ("crash", "incomplete"),
        ("chance", "incomplete"),
    ];
    for (name, verdict) in want {
        let e = entry(&s, name);
        assert_eq!(e["verdict"], verdict, "{name}: {e}");
        assert_eq!(e["seeds"], 4, "{e}");
        // One verdict, said the same in the table and the report.
        assert!(row(&o, name).contains(verdict), "{}", row(&o, name));
        assert!(
            html.contains(&format!("<td>{name}</td><td>{verdict}")),
            "{name} {verdict} in the report"
        );
    }
    // Only schedules that completed every seed rank first: the crash's 99% and the chance
    // level's complete run both rank below the completed ones.
    let first_row = stdout.lines().nth(1).unwrap();
    assert!(first_row.contains(" winner "), "{stdout}");
    assert_eq!(entry(&s, "crash")["completed"], 3);
    assert!(note(&s, "crash").contains("seed 2"), "{s}");
    assert_eq!(entry(&s, "chance")["completed"], 0);
    assert!(note(&s, "chance").contains("chance"), "{s}");
    // The winner's numbers: IQM of four seeds is the mean of the middle two.
    let w = entry(&s, "winner");
    assert!(
        (w["final"]["iqm"].as_f64().unwrap() - 0.9515).abs() < 1e-9,
        "{w}"
    );
    assert!(
        (w["final"]["median"].as_f64().unwrap() - 0.9515).abs() < 1e-9,
        "{w}"
    );
    let ci = w["final"]["ci95"].as_array().unwrap();
    assert!(
        ci[0].as_f64().unwrap() >= 0.95 && ci[1].as_f64().unwrap() <= 0.953,
        "{w}"
    );
    assert_eq!(w["time_to_target"]["median_epochs"], 2.0);
    assert_eq!(
        w["time_to_target"]["median_steps"], 6.0,
        "epoch 2 at 3 steps an epoch"
    );
    assert!(w["p_improvement_vs_best"].is_null(), "{w}");
    // Never reached: infinite, written as null.
    let l = entry(&s, "loser");
    assert!(l["time_to_target"]["median_epochs"].is_null(), "{l}");
    assert_eq!(l["p_improvement_vs_best"]["p"], 0.0, "{l}");
    assert_eq!(
        l["p_improvement_vs_best"]["ci95"],
        serde_json::json!([0.0, 0.0])
    );
    // Identical numbers: a tie counts one half.
    assert_eq!(entry(&s, "twin")["p_improvement_vs_best"]["p"], 0.5);
    // Undecided says how many seeds would decide: always more than were run.
    let need = entry(&s, "noisy")["seeds_needed"].as_u64().unwrap();
    assert!(need > 4, "{need}");
    assert!(stdout.contains(&format!("about {need} seeds")), "{stdout}");
    // The printed verdict names the best once and the margin as the report does.
    assert!(
        stdout.contains("winner has the best final val_acc"),
        "{stdout}"
    );
    assert!(stdout.contains("±0.5 percentage points"), "{stdout}");
    assert!(html.contains("±0.5 percentage points"));
    assert!(!stdout.contains("crash has the best"), "{stdout}");
    // The report draws the intervals as bars, coloured by the same verdicts.
    assert!(html.contains("class=\"bars\""), "the interval bars");
    assert!(html.contains("winner (best)") && html.contains("noisy (undecided)"));
    // Per trial: the final value and the time to target, infinite (null) when missed.
    let rows = support::jsonl(&dir.path().join("out/scores.jsonl"));
    assert_eq!(rows.len(), 6 * 4);
    let crash2 = rows
        .iter()
        .find(|r| r["schedule"] == "crash" && r["seed"] == 2)
        .unwrap();
    assert_eq!(crash2["status"], "failed", "{crash2}");
    assert!(crash2["final"].is_null() && crash2["epochs_to_target"].is_null());
    let win0 = rows
        .iter()
        .find(|r| r["schedule"] == "winner" && r["seed"] == 0)
        .unwrap();
    assert_eq!(win0["final"], 0.95);
    assert_eq!(win0["epochs_to_target"], 2.0);
    assert_eq!(win0["steps_to_target"], 6.0);
    assert!(win0["seconds_to_target"].as_f64().unwrap() > 0.0, "{win0}");
}

#[test]
fn a_diverged_rate_is_clipped_in_the_chart_and_the_schedule_is_incomplete() {
    let (_, s, html, _) = compare(&[("winner", 0.11), ("blowup", 0.18)], "--seeds 2");
    assert_eq!(entry(&s, "blowup")["verdict"], "incomplete", "{s}");
    assert!(note(&s, "blowup").contains("seed 0"), "{s}");
    assert!(
        html.contains("blowup (diverged), rate clipped"),
        "the chart says so"
    );
    assert!(!html.contains("winner, rate clipped"));
}

#[test]
fn a_crashed_good_schedule_and_a_chance_level_one_leave_no_best() {
    let (o, s, _, _) = compare(
        &[("crash", 0.15), ("chance", 0.16)],
        "--seeds 4 --chance 0.1",
    );
    let stdout = text(&o.stdout);
    assert!(s["best"].is_null(), "{s}");
    assert_eq!(entry(&s, "crash")["verdict"], "incomplete");
    assert_eq!(entry(&s, "chance")["verdict"], "incomplete");
    assert!(stdout.contains("none is called best"), "{stdout}");
    assert!(!stdout.contains("has the best"), "{stdout}");
}

#[test]
fn identical_schedules_are_equivalent_even_with_no_margin_and_two_seeds() {
    let (_, s, _, _) = compare(&[("winner", 0.11), ("twin", 0.12)], "--seeds 2 --margin 0");
    assert_eq!(s["margin"], 0.0);
    assert_eq!(entry(&s, "winner")["verdict"], "best");
    assert_eq!(entry(&s, "twin")["verdict"], "equivalent", "{s}");
}

#[test]
fn a_clear_winner_over_a_steady_near_miss_and_a_wider_margin_makes_it_equivalent() {
    // steady is 0.5 to 0.6 points below the winner on every seed: worse beyond a margin of
    // 0.05 points, equivalent within one of 1 point.
    let (_, s, _, _) = compare(
        &[("winner", 0.11), ("steady", 0.17), ("loser", 0.13)],
        "--seeds 4 --margin 0.0005",
    );
    assert_eq!(entry(&s, "winner")["verdict"], "best");
    assert_eq!(entry(&s, "steady")["verdict"], "worse", "{s}");
    assert_eq!(entry(&s, "loser")["verdict"], "worse");
    let (_, s, _, _) = compare(
        &[("winner", 0.11), ("steady", 0.17)],
        "--seeds 4 --margin 0.01",
    );
    assert_eq!(entry(&s, "steady")["verdict"], "equivalent", "{s}");
}

#[test]
fn one_seed_calls_the_rest_undecided_without_inventing_a_seed_count() {
    let (o, s, _, _) = compare(&[("winner", 0.11), ("loser", 0.13)], "--seeds 1");
    assert_eq!(entry(&s, "winner")["verdict"], "best");
    assert_eq!(entry(&s, "loser")["verdict"], "undecided");
    assert!(entry(&s, "loser")["seeds_needed"].is_null(), "{s}");
    assert!(
        text(&o.stdout).contains("With one seed"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn a_bad_margin_or_chance_is_one_line_naming_the_value_and_range() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--margin", "-0.1"),
        ("--margin", "NaN"),
        ("--margin", "2"),
        ("--chance", "inf"),
    ] {
        let out = dir.path().join("x");
        let o = run_words(
            "compare --quiet --command true",
            &[flag, value, "--out", arg(&out)],
        );
        assert_user_error(&o, &format!("{flag} {value} is not allowed"));
    }
}

#[test]
fn the_built_in_trainer_knows_chance_level_from_its_data() {
    // A rate of 1e-12 leaves the network as initialised: about one digit in ten right.
    let dir = tempfile::tempdir().unwrap();
    let list = write(
        dir.path(),
        "s.json",
        r#"[{"name": "frozen", "schedule": "constant(lr=1e-12)"},
            {"name": "cosine", "schedule": "cosine(lr=0.05, steps=100%)"}]"#,
    );
    let out = dir.path().join("out");
    let stdout = ok(&support::compare(
        "--quiet --seeds 4 --epochs 2",
        &list,
        &out,
        &[],
    ));
    let (s, html) = read_out(&out);
    assert_eq!(s["best"], "cosine", "{s}");
    let frozen = entry(&s, "frozen");
    assert_eq!(frozen["verdict"], "incomplete", "{frozen}");
    assert!(
        frozen["note"].as_str().unwrap().contains("chance level"),
        "{frozen}"
    );
    // The chosen target comes from the schedules that learned something.
    assert!(s["target"].as_f64().unwrap() > 0.5, "{s}\n{stdout}");
    assert!(html.contains("(chance: "), "the report states chance level");
}

#[test]
fn a_loss_ranks_lower_first_with_a_margin_of_one_percent_of_the_best() {
    let dir = tempfile::tempdir().unwrap();
    // val_loss only: 0.30 (+0.001 a seed) at a rate of 0.1, 0.50 at any other.
    let program = r#"case "$LRSCHED_SCHEDULE" in *0.1*) b=30 ;; *) b=50 ;; esac; echo "{\"epoch\": 1, \"val_loss\": 0.$b$LRSCHED_SEED}" >> "$LRSCHED_METRICS""#;
    let list = write(
        dir.path(),
        "s.json",
        r#"[{"name": "high", "schedule": "constant(lr=0.2)"},
            {"name": "low", "schedule": "constant(lr=0.1)"}]"#,
    );
    let out = dir.path().join("out");
    ok(&support::compare(
        "--quiet --seeds 3 --epochs 1 --seed 1",
        &list,
        &out,
        &["--command", program],
    ));
    let s = json(&out.join("summary.json"));
    assert_eq!(s["metric"], "val_loss");
    assert_eq!(s["higher_is_better"], false);
    assert_eq!(s["best"], "low", "{s}");
    // Seeds 1, 2, 3: losses 0.301, 0.302, 0.303; IQM 0.302; margin 1% of it.
    assert!(
        (s["margin"].as_f64().unwrap() - 0.00302).abs() < 1e-12,
        "{s}"
    );
    assert_eq!(entry(&s, "high")["verdict"], "worse");
    assert_eq!(entry(&s, "high")["p_improvement_vs_best"]["p"], 0.0);
}
