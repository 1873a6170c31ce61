//! `lrsched compare --workloads FILE`: the file's checks (each bad file one line, nothing
//! run, no folder made), a real two-workload comparison end to end with the score across
//! workloads, and a rerun that goes on instead of running again.

mod support;

use std::path::Path;
use support::{run, text, write};

const SCHEDULES: &str = r#"
[[schedules]]
name = "constant"
schedule = "constant(lr=0.05)"

[[schedules]]
name = "cosine"
schedule = "cosine(lr=0.2, steps=100%)"
"#;

/// A program of one's own: its accuracy climbs by the schedule's rate each epoch, so a
/// larger rate reaches the target sooner.
const PROGRAM: &str = r#"lr=$(echo "$LRSCHED_SCHEDULE" | sed 's/.*"lr": *\([0-9.]*\).*/\1/'); for e in $(seq 1 $LRSCHED_EPOCHS); do awk -v e=$e -v lr=$lr 'BEGIN { v = 0.3 + e * lr; if (v > 1) v = 1; printf "{\"epoch\": %d, \"val_acc\": %.6f}\n", e, v }' >> "$LRSCHED_METRICS"; done"#;

fn compare(dir: &Path, workloads: &str, extra: &[&str]) -> std::process::Output {
    let file = write(dir, "w.toml", workloads);
    let schedules = write(dir, "s.toml", SCHEDULES);
    let mut args = vec![
        "compare",
        "--workloads",
        &file,
        "--schedules",
        &schedules,
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn refused(workloads: &str, extra: &[&str], message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let mut args = vec!["--out", out_arg.as_str()];
    args.extend_from_slice(extra);
    let o = compare(dir.path(), workloads, &args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}\n{}", text(&o.stdout));
    assert!(err.contains(message), "wanted {message:?} in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!out.exists(), "a refused run makes no folder");
}

#[test]
fn bad_workloads_files_are_refused_in_one_line() {
    let ok = "name = \"a\"\ndata = \"digits\"\ntarget = 0.9\n";
    refused(
        "[[workloads]]\nname = \"a\"\ndata = \"digits\"\n",
        &[],
        "w.toml: workload `a`: has no `target`: the metric's value that counts as reached",
    );
    refused(
        &format!("[[workloads]]\n{ok}modle = \"32\"\n"),
        &[],
        "w.toml: workload `a`: unknown key `modle` (a data workload takes name, target, data",
    );
    refused(
        &format!("[[workloads]]\n{ok}\n[[workloads]]\n{ok}"),
        &[],
        "w.toml: two workloads are named `a`: names must be unique",
    );
    refused(
        "[[workloads]]\nname = \"a\"\ndata = \"digits\"\ncommand = \"x\"\ntarget = 0.9\n",
        &[],
        "workload `a`: has both `command` and `data`",
    );
    refused(
        "[[workloads]]\nname = \"a b\"\ndata = \"digits\"\ntarget = 0.9\n",
        &[],
        "workload 1: name = \"a b\" is not allowed: 1 to 64 letters, digits, - and _",
    );
    refused(
        "[[workloads]]\nname = \"a\"\ncommand = \"x\"\ntarget = 0.9\nmodel = \"32\"\n",
        &[],
        "workload `a`: unknown key `model` (a command workload takes",
    );
    refused(
        &format!("time = \"hours\"\n[[workloads]]\n{ok}"),
        &[],
        "time = \"hours\" is not allowed: must be \"epochs\", \"steps\" or \"seconds\"",
    );
    refused("workloads = []\n", &[], "the list of workloads is empty");
    let many: String = (0..65)
        .map(|i| format!("[[workloads]]\nname = \"w{i}\"\ndata = \"digits\"\ntarget = 0.9\n"))
        .collect();
    refused(&many, &[], "65 workloads is not allowed: at most 64");
    // A value of the right kind that compare's own parser refuses: its message, with the
    // file and the workload.
    refused(
        &format!("[[workloads]]\n{ok}optimizer = \"lion\"\n"),
        &[],
        "w.toml: workload `a`: invalid value 'lion' for '--optimizer",
    );
    refused(
        &format!("baseline = \"nope\"\n[[workloads]]\n{ok}"),
        &[],
        "baseline = \"nope\" is not one of the schedules: constant, cosine",
    );
    // A flag that belongs to a workload is refused on the command line, naming the key.
    refused(
        &format!("[[workloads]]\n{ok}"),
        &["--model", "32"],
        "--model is set per workload with --workloads: write it as a key in the workloads file",
    );
}

#[test]
fn two_workloads_are_compared_and_scored_across() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let workloads = format!(
        r#"
baseline = "constant"

[[workloads]]
name = "digits-mlp"
data = "digits"
target = 0.9
epochs = 3
model = "32"
batch_size = 32

[[workloads]]
name = "mine"
command = "sh {}"
target = 0.7
epochs = 4
"#,
        write(dir.path(), "program.sh", PROGRAM)
    );
    let o = compare(dir.path(), &workloads, &["--out", &out_arg]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", text(&o.stderr));
    assert!(
        stdout.contains("== workload digits-mlp (1/2)")
            && stdout.contains("== workload mine (2/2)"),
        "{stdout}"
    );
    for w in ["digits-mlp", "mine"] {
        assert!(out.join(w).join("summary.json").exists(), "{w}");
        assert!(out.join(w).join("report.html").exists(), "{w}");
    }
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("workloads.json")).unwrap())
            .unwrap();
    assert_eq!(j["time"], "epochs");
    assert_eq!(j["baseline"], "constant");
    assert_eq!(j["tau"].as_array().unwrap().len(), 100);
    let schedules = j["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 2);
    // The program: cosine's 0.2 a step reaches 0.7 in epoch 2, constant's 0.05 never in 4.
    let by = |n: &str| schedules.iter().find(|s| s["name"] == n).unwrap().clone();
    let (cosine, constant) = (by("cosine"), by("constant"));
    assert_eq!(cosine["time_to_target"]["mine"], 2.0);
    assert!(constant["time_to_target"]["mine"].is_null());
    assert_eq!(cosine["ratio"]["mine"], 1.0);
    for s in schedules {
        let score = s["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{s}");
        let grid = s["score_trapezoid"].as_f64().unwrap();
        assert!((score - grid).abs() <= 1.0 / 198.0, "{s}");
        let rho = s["rho"].as_array().unwrap();
        assert!(
            rho.windows(2).all(|w| w[0].as_f64() <= w[1].as_f64()),
            "rho never falls"
        );
    }
    // Cosine is fastest on the program; the first schedule in the ranking has the top score.
    assert!(cosine["score"].as_f64() >= Some(0.5), "{cosine}");
    assert!(schedules[0]["score"].as_f64() >= schedules[1]["score"].as_f64());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Across workloads") && html.contains("<svg"),
        "chart in the report"
    );
    assert!(html.contains("Performance profiles"));
    assert!(stdout.contains("Across 2 workloads"), "{stdout}");

    // The same command again on the same folder goes on: both workloads are read back.
    let before = std::fs::read_to_string(out.join("workloads.json")).unwrap();
    let o = compare(dir.path(), &workloads, &["--out", &out_arg]);
    let again = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(again.matches("done earlier").count(), 2, "{again}");
    assert_eq!(
        std::fs::read_to_string(out.join("workloads.json")).unwrap(),
        before
    );

    // Another plan on the same folder is refused.
    let o = compare(dir.path(), &workloads, &["--out", &out_arg, "--seed", "7"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("holds other workloads"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_workload_cut_short_is_set_aside_and_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let program = write(dir.path(), "program.sh", PROGRAM);
    let workloads = format!(
        "[[workloads]]\nname = \"mine\"\ncommand = \"sh {program}\"\ntarget = 0.7\nepochs = 2\n"
    );
    let o = compare(dir.path(), &workloads, &["--out", &out_arg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // As if the run had been stopped before the workload's summary was written.
    std::fs::remove_file(out.join("mine").join("summary.json")).unwrap();
    let o = compare(dir.path(), &workloads, &["--out", &out_arg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("mine.interrupted-1"),
        "{}",
        text(&o.stderr)
    );
    assert!(out.join("mine.interrupted-1").join("trials").exists());
    assert!(out.join("mine").join("summary.json").exists());
}
