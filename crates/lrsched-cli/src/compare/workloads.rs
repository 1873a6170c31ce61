//! `lrsched compare --workloads FILE`: one ordinary comparison per workload, each in its
//! own folder of `--out` with its own flags (made from the workload's keys and parsed by
//! compare's own parser, so a workload means exactly what the same flags mean), then the
//! score across them (`lrsched_tools::compare::workloads`): `workloads.json` and
//! `report.html` in `--out`.
//!
//! A rerun on the same `--out` with the same files goes on: a workload whose folder
//! already has its `summary.json` is read, not run again; one cut short is moved aside
//! (`NAME.interrupted-K`, never deleted) and run again, unless it is a SLURM comparison,
//! which compare itself continues.

use super::{run_one, CompareArgs};
use crate::report;
use crate::trial_flags;
use crate::UserError;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};
use lrsched_tools::candidates;
use lrsched_tools::compare::workloads::{
    read_workloads, times_from_summary, CrossWorkload, Source, Workload, WorkloadTimes,
    WorkloadsFile,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The file in `--out` naming the workloads, schedules and seeds a folder holds.
const PLAN: &str = "workloads-plan.json";

/// Flags of compare that stay on the command line with `--workloads` (they hold for
/// every workload; `epochs`, `margin` and `trial_timeout` are defaults a workload may
/// override). Every other flag belongs to a workload, in the file.
const GLOBAL: [&str; 13] = [
    "seeds",
    "seed",
    "epochs",
    "quiet",
    "jobs",
    "schedules",
    "margin",
    "trial_timeout",
    "out",
    "workloads",
    "launcher",
    "slurm_args",
    "retries",
];

/// Runs every workload's comparison, then scores them across.
pub fn run(file: &Path, args: &CompareArgs, matches: &ArgMatches) -> Result<(), UserError> {
    refuse_per_workload_flags(matches)?;
    let plan = read_workloads(file).map_err(UserError)?;
    if let Some(b) = &plan.baseline {
        let names: Vec<String> = match &args.schedules {
            Some(p) => candidates::read_schedules(p).map_err(UserError)?,
            None => candidates::default_set(&Default::default()),
        }
        .into_iter()
        .map(|e| e.name)
        .collect();
        if !names.contains(b) {
            return Err(UserError(format!(
                "{}: baseline = \"{b}\" is not one of the schedules: {}",
                file.display(),
                names.join(", ")
            )));
        }
    }
    // Every workload's flags parsed before anything runs, so a bad one is said at once.
    let root_given = args.out.clone();
    let parsed: Vec<(CompareArgs, ArgMatches)> = plan
        .workloads
        .iter()
        .map(|w| workload_args(file, w, args, Path::new("check")))
        .collect::<Result<_, _>>()?;
    drop(parsed);
    let identity = identity(file, &plan, args)?;
    let fresh = root_given.as_ref().is_none_or(|o| !o.join(PLAN).exists());
    let (root, _lock) = report::locked_out_dir("compare", root_given.as_deref(), fresh)?;
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    for name in ["workloads.json", "report.html"] {
        lrsched_tools::files::check_output_path(&root.join(name)).map_err(UserError)?;
    }
    let plan_path = root.join(PLAN);
    if fresh {
        report::write_atomic(&plan_path, identity.as_bytes())?;
    } else if std::fs::read_to_string(&plan_path).unwrap_or_default() != identity {
        return Err(UserError(format!(
            "--out {} holds other workloads (another workloads file, schedules, seeds or epochs; see {}): choose a new folder, or rerun with the same files and flags to go on",
            root.display(),
            plan_path.display()
        )));
    }
    let n = plan.workloads.len();
    let mut times = Vec::new();
    let mut empty = Vec::new();
    for (k, w) in plan.workloads.iter().enumerate() {
        let dir = root.join(&w.name);
        println!("== workload {} ({}/{n})", w.name, k + 1);
        let summary = dir.join("summary.json");
        if summary.exists() {
            println!("done earlier: {} read, not run again", summary.display());
        } else {
            set_aside(&dir)?;
            let (wargs, wmatches) = workload_args(file, w, args, &dir)?;
            let result = run_one(&wargs, &wmatches)?;
            if !result.runs.iter().any(|r| r.result.status.is_usable()) {
                empty.push(w.name.clone());
            }
        }
        println!();
        let text = std::fs::read_to_string(&summary)
            .map_err(|e| UserError(format!("cannot read {}: {e}", summary.display())))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| UserError(format!("{}: not JSON: {e}", summary.display())))?;
        times.push(WorkloadTimes {
            name: w.name.clone(),
            target: w.target,
            metric: value["metric"].as_str().unwrap_or("").to_string(),
            times: times_from_summary(&w.name, &value, plan.time).map_err(UserError)?,
        });
    }
    let cross =
        CrossWorkload::score(times, plan.baseline.as_deref(), plan.time).map_err(UserError)?;
    let text =
        serde_json::to_string_pretty(&cross.to_json()).expect("JSON values serialise") + "\n";
    report::write_atomic(&root.join("workloads.json"), text.as_bytes())?;
    let mut section = cross.sections().map_err(UserError)?;
    section.text.push(format!(
        "Each workload's own comparison (ranking, verdicts, curves) is its folder's report.html: {}.",
        plan.workloads
            .iter()
            .map(|w| format!("{}/report.html", w.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let html = root.join("report.html");
    report::write_html(
        &html,
        "lrsched compare --workloads",
        &report::command_line(),
        &[section],
    )?;
    println!(
        "Across {n} workloads ({} to target; score: AlgoPerf's area under the performance profile, tau 1 to 4):",
        plan.time.word()
    );
    for &s in &cross.order() {
        let speedup = if cross.speedups[s].is_nan() {
            "-".to_string()
        } else {
            format!("{:.2}x", cross.speedups[s])
        };
        println!(
            "  {:<28} score {:.3}  speed-up vs {} {speedup}",
            cross.schedules[s], cross.scores[s], cross.schedules[cross.baseline]
        );
    }
    for (s, why) in &cross.left_out {
        println!("  {s}: not scored ({why})");
    }
    println!("report: {}", html.display());
    for name in &empty {
        eprintln!(
            "note: workload `{name}`: no trial completed; see {}",
            root.join(name).join("report.html").display()
        );
    }
    Ok(())
}

/// The typed flags that belong to a workload, refused with the key to use instead.
fn refuse_per_workload_flags(matches: &ArgMatches) -> Result<(), UserError> {
    let mut given: Vec<String> =
        trial_flags::typed_train_flags(matches, &["seed", "epochs", "quiet"])
            .into_iter()
            .map(|(_, long)| long)
            .collect();
    let own = CompareArgs::augment_args(clap::Command::new("compare"));
    for a in own.get_arguments() {
        let id = a.get_id().as_str();
        let typed = matches.value_source(id) == Some(ValueSource::CommandLine);
        let train = given
            .iter()
            .any(|g| Some(g.trim_start_matches("--")) == a.get_long());
        if typed && !GLOBAL.contains(&id) && !train {
            given.push(format!("--{}", a.get_long().unwrap_or(id)));
        }
    }
    if given.is_empty() {
        return Ok(());
    }
    Err(UserError(format!(
        "{} {} set per workload with --workloads: write {} in the workloads file (docs/workloads.md); the command line keeps --seeds, --seed, --epochs, --jobs, --schedules, --margin, --trial-timeout, --out and --quiet",
        given.join(", "),
        if given.len() == 1 { "is" } else { "are" },
        if given.len() == 1 { "it as a key" } else { "them as keys" }
    )))
}

/// A workload's comparison flags: its keys as compare's flags, parsed by compare's own
/// parser, with the command line's flags for every workload added; `out` its folder.
fn workload_args(
    file: &Path,
    w: &Workload,
    args: &CompareArgs,
    out: &Path,
) -> Result<(CompareArgs, ArgMatches), UserError> {
    let mut argv: Vec<String> = vec!["compare".into()];
    let flag = |argv: &mut Vec<String>, k: &str, v: String| {
        argv.push(format!("--{}", k.replace('_', "-")));
        argv.push(v);
    };
    match &w.source {
        Source::Command {
            command,
            cwd,
            steps_per_epoch,
            honours_optimizer,
        } => {
            flag(&mut argv, "command", command.clone());
            if let Some(c) = cwd {
                flag(&mut argv, "cwd", c.display().to_string());
            }
            if let Some(n) = steps_per_epoch {
                flag(&mut argv, "steps_per_epoch", n.to_string());
            }
            if *honours_optimizer {
                argv.push("--honours-optimizer".into());
            }
        }
        Source::Data(d) => {
            flag(&mut argv, "data", d.clone());
            for (k, v) in &w.options {
                match v {
                    Value::Bool(true) => argv.push(format!("--{}", k.replace('_', "-"))),
                    Value::Bool(false) => {}
                    Value::String(s) => flag(&mut argv, k, s.clone()),
                    other => flag(&mut argv, k, other.to_string()),
                }
            }
        }
    }
    flag(&mut argv, "target", w.target.to_string());
    if let Some(m) = &w.metric {
        flag(&mut argv, "metric", m.clone());
    }
    if let Some(m) = &w.mode {
        flag(&mut argv, "mode", m.clone());
    }
    if let Some(c) = w.chance {
        flag(&mut argv, "chance", c.to_string());
    }
    let epochs = w.epochs.unwrap_or(args.train.epochs);
    flag(&mut argv, "epochs", epochs.to_string());
    if let Some(m) = w.margin.or(args.margin) {
        flag(&mut argv, "margin", m.to_string());
    }
    let timeout = w.trial_timeout.or(args.trials.command.trial_timeout);
    if let (Some(t), Source::Command { .. }) = (timeout, &w.source) {
        flag(&mut argv, "trial_timeout", t.to_string());
    }
    flag(&mut argv, "seed", args.train.seed.to_string());
    if args.train.quiet {
        argv.push("--quiet".into());
    }
    flag(&mut argv, "out", out.display().to_string());
    let command = CompareArgs::augment_args(clap::Command::new("compare"));
    let named = |e: String| {
        UserError(format!(
            "{}: workload `{}`: {}",
            file.display(),
            w.name,
            e.trim().trim_start_matches("error: ")
        ))
    };
    let matches = command
        .try_get_matches_from(&argv)
        .map_err(|e| named(e.to_string().lines().next().unwrap_or("").to_string()))?;
    let mut wargs = CompareArgs::from_arg_matches(&matches).map_err(|e| named(e.to_string()))?;
    wargs.seeds = args.seeds;
    wargs.jobs = args.jobs;
    wargs.schedules = args.schedules.clone();
    wargs.launch = args.launch.clone();
    Ok((wargs, matches))
}

/// What a folder of workloads holds: the workloads file (its text), the schedules file
/// (its text), the seeds and the epochs; a rerun must match it to go on.
fn identity(file: &Path, plan: &WorkloadsFile, args: &CompareArgs) -> Result<String, UserError> {
    let read = |p: &Path| {
        lrsched_tools::files::read_input(p, lrsched_tools::files::MAX_INPUT_BYTES)
            .map_err(UserError)
    };
    let schedules = match &args.schedules {
        Some(p) => Some(read(p)?),
        None => None,
    };
    let id = json!({
        "workloads_file": read(file)?,
        "workloads": plan.workloads.iter().map(|w| &w.name).collect::<Vec<_>>(),
        "schedules_file": schedules,
        "seeds": args.seeds,
        "seed": args.train.seed,
        "epochs": args.train.epochs,
    });
    Ok(serde_json::to_string_pretty(&id).expect("JSON values serialise") + "\n")
}

/// A workload's folder that a run left without its `summary.json` (stopped, or failed
/// before the end) is moved to `NAME.interrupted-K` beside it, so the rerun starts in an
/// empty folder and nothing measured is lost; a SLURM comparison's folder stays, since
/// compare continues it.
fn set_aside(dir: &Path) -> Result<(), UserError> {
    if !dir.exists() || dir.join("slurm").join("compare.json").exists() {
        return Ok(());
    }
    let has_files = std::fs::read_dir(dir)
        .map(|mut it| {
            it.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.')))
        })
        .unwrap_or(false);
    if !has_files {
        return Ok(());
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for k in 1..10_000 {
        let aside: PathBuf = dir.with_file_name(format!("{name}.interrupted-{k}"));
        if !aside.exists() {
            std::fs::rename(dir, &aside).map_err(|e| {
                UserError(format!(
                    "cannot move {} aside to {}: {e}",
                    dir.display(),
                    aside.display()
                ))
            })?;
            eprintln!(
                "note: workload `{name}` was cut short by an earlier run: its folder is now {}, and it runs again",
                aside.display()
            );
            return Ok(());
        }
    }
    Err(UserError(format!(
        "{}: too many interrupted runs beside it; move them away",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrsched_tools::compare::workloads::BUILT_IN_KEYS;

    #[test]
    fn every_built_in_key_is_a_flag_of_compare_and_every_global_one_too() {
        let command = CompareArgs::augment_args(clap::Command::new("compare"));
        for key in BUILT_IN_KEYS {
            let long = key.replace('_', "-");
            assert!(
                command
                    .get_arguments()
                    .any(|a| a.get_long() == Some(long.as_str())),
                "`{key}` is no flag of compare"
            );
        }
        for id in GLOBAL {
            assert!(
                command.get_arguments().any(|a| a.get_id() == id),
                "`{id}` is no flag of compare"
            );
        }
    }
}
