//! Running a plan: its pending trials on a [`Trainer`] (pruned by ASHA when the strategy
//! says so), each outcome written to its `result.json` as it ends, the trials run
//! elsewhere collected from their folders, and every finished trial ranked.

use super::asha::{self, Asha};
use super::{output, scoring, Mode, Plan, PlannedTrial, ScoreBy, Strategy, TuneSpec};
use super::{TrialRecord, TrialRow, TuneResult};
use crate::process::{self, CommandTrainer};
use crate::protocol::{Line, TrialInput};
use crate::runner::{launch, Launcher, TrialEvent};
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult, TrialStatus};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

/// Runs a plan's pending trials (the caller holds the folder's [`OutLock`](super::OutLock)).
pub fn run(
    spec: &TuneSpec,
    plan: Plan,
    trainer: &Trainer,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<TuneResult, String> {
    let pending: Vec<&PlannedTrial> = plan.pending();
    check_outputs(spec, &pending)?;
    let metric_of = |has_acc: bool| -> String {
        spec.metric
            .clone()
            .unwrap_or_else(|| if has_acc { "val_acc" } else { "val_loss" }.to_string())
    };
    let asha = match &spec.strategy {
        Strategy::Asha {
            eta, min_epochs, ..
        } => {
            let a = Asha::new(asha::rungs(*min_epochs, spec.epochs, *eta)?, *eta);
            // Trials finished before count at the rungs they reached.
            for r in plan.finished.values().filter(|r| r.is_usable()) {
                let metric = metric_of(r.metrics.iter().any(|m| m.contains_key("val_acc")));
                let mode = spec.mode.unwrap_or_else(|| Mode::for_metric(&metric));
                for &rung in a.rungs() {
                    if r.series(&metric).iter().any(|(e, _)| *e == rung) {
                        if let Some(s) = r.score(&metric, mode, spec.score, Some(rung)) {
                            a.record(rung, mode.goodness(s));
                        }
                    }
                }
            }
            Some(a)
        }
        _ => None,
    };
    let best_so_far: Vec<Mutex<Option<f64>>> = pending.iter().map(|_| Mutex::new(None)).collect();
    let pruned: Vec<Mutex<Option<u64>>> = pending.iter().map(|_| Mutex::new(None)).collect();
    let control = |i: usize, line: &Line| -> Control {
        let (Some(a), Line::Epoch(e)) = (&asha, line) else {
            return Control::Continue;
        };
        let metric = metric_of(e.values.contains_key("val_acc"));
        let mode = spec.mode.unwrap_or_else(|| Mode::for_metric(&metric));
        let Some(v) = e.get(&metric) else {
            return Control::Continue;
        };
        // A value the metric cannot take never counts at a rung (it would prune every
        // other trial): the trial ends, and is recorded as bad output.
        if !scoring(&metric, mode).allows(v) {
            return Control::Stop(format!("epoch {}: `{metric}` is out of its range", e.epoch));
        }
        let g = mode.goodness(v);
        let g = match spec.score {
            ScoreBy::Final => g,
            ScoreBy::Best => {
                let mut b = best_so_far[i].lock().unwrap_or_else(|p| p.into_inner());
                let best = b.map_or(g, |x: f64| x.max(g));
                *b = Some(best);
                best
            }
        };
        match a.decide(e.epoch, g) {
            Some(rung) => {
                *pruned[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(e.epoch);
                Control::Stop(format!("pruned at rung {} (epoch {})", rung + 1, e.epoch))
            }
            None => Control::Continue,
        }
    };
    let records: Mutex<HashMap<String, TrialRecord>> = Mutex::new(HashMap::new());
    let write_errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let on_event = |ev: TrialEvent<'_>| {
        if let TrialEvent::Finished {
            index,
            input,
            result,
        } = &ev
        {
            // A cancelled trial is not finished: the next run starts it again.
            if result.status != TrialStatus::Cancelled {
                let at = *pruned[*index].lock().unwrap_or_else(|p| p.into_inner());
                let checked = in_range(spec, result, &input.metrics_path());
                let mut rec = TrialRecord::from_result(&input.name, &checked, at);
                if !rec.is_usable() {
                    rec.error_line = error_line(&input.dir.join("stderr.log"));
                }
                let bytes = serde_json::to_vec_pretty(&rec).expect("records serialise");
                if let Err(e) = crate::files::write_atomic(&input.dir.join("result.json"), &bytes) {
                    write_errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(e);
                }
                records
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(input.name.clone(), rec);
            }
        }
        events(ev);
    };
    let jobs: Vec<(&Trainer, TrialInput)> =
        pending.iter().map(|t| (trainer, t.input.clone())).collect();
    let (_, timings) = launch(&spec.launcher, spec.jobs.max(1), &jobs, &control, &on_event)?;
    if let Some(e) = write_errors.into_inner().unwrap_or_default().first() {
        return Err(format!("cannot write a trial's result: {e}"));
    }
    if process::cancelled() {
        return Err(format!(
            "cancelled: the finished trials are kept in {}; run again with the same folder to go on",
            spec.out.display()
        ));
    }
    let ran = pending.len();
    let mut all = plan.finished;
    all.extend(records.into_inner().unwrap_or_default());
    let mut result = rank(spec, &plan.trials, all, trainer.describe(), ran);
    result.timings = timings;
    Ok(result)
}

/// Refuses, before any trial runs, an output that exists as something other than a file
/// (a folder, a pipe): each pending trial's `result.json` and the search's own files. Found
/// after the trials, it would cost their results.
fn check_outputs(spec: &TuneSpec, pending: &[&PlannedTrial]) -> Result<(), String> {
    for name in output::output_names(&spec.space) {
        crate::files::check_output_path(&spec.out.join(name))?;
    }
    for t in pending {
        crate::files::check_output_path(&t.input.dir.join("result.json"))?;
    }
    Ok(())
}

/// `result`, made bad output when it reported a value of its scoring metric that the
/// metric cannot take (an accuracy outside [0, 1], a non-finite value): such a trial is
/// never ranked, let alone best. The metric is the trial's own when the spec names none
/// (`val_acc` if it reports it), as pruning reads it.
fn in_range(spec: &TuneSpec, result: &TrialResult, metrics: &Path) -> TrialResult {
    let has_acc = result
        .epochs
        .iter()
        .any(|e| e.values.contains_key("val_acc"));
    let metric = spec
        .metric
        .clone()
        .unwrap_or_else(|| if has_acc { "val_acc" } else { "val_loss" }.to_string());
    let mode = spec.mode.unwrap_or_else(|| Mode::for_metric(&metric));
    let mut checked = result.clone();
    crate::compare::reject_out_of_range(&mut checked, &scoring(&metric, mode), metrics);
    checked
}

/// The first line of a log (its first 64 KiB) that names an error or a panic.
fn error_line(path: &Path) -> Option<String> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    String::from_utf8_lossy(&head)
        .lines()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("panicked") || l.contains("traceback")
        })
        .map(|l| l.trim().chars().take(200).collect())
}

fn rank(
    spec: &TuneSpec,
    trials: &[PlannedTrial],
    mut records: HashMap<String, TrialRecord>,
    trainer: String,
    ran: usize,
) -> TuneResult {
    let has_acc = records
        .values()
        .any(|r| r.metrics.iter().any(|m| m.contains_key("val_acc")));
    let metric = spec
        .metric
        .clone()
        .unwrap_or_else(|| if has_acc { "val_acc" } else { "val_loss" }.to_string());
    let mode = spec.mode.unwrap_or_else(|| Mode::for_metric(&metric));
    let mut rows: Vec<TrialRow> = trials
        .iter()
        .filter_map(|t| {
            let record = records.remove(&t.key)?;
            // A value the metric cannot take is never a score (a result.json written
            // before this check may hold one).
            let allowed = scoring(&metric, mode);
            let score = record
                .is_usable()
                .then(|| record.score(&metric, mode, spec.score, None))
                .flatten()
                .filter(|s| allowed.allows(*s));
            Some(TrialRow {
                key: t.key.clone(),
                params: t.params.clone(),
                schedule: t.schedule.clone(),
                line: t.line.clone(),
                budget: record.pruned_at.unwrap_or(spec.epochs),
                score,
                record,
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        let k = |r: &TrialRow| {
            (
                r.score.is_none(),
                std::cmp::Reverse(r.budget),
                -r.score.map_or(f64::NEG_INFINITY, |s| mode.goodness(s)),
            )
        };
        let (a, b) = (k(x), k(y));
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then_with(|| x.key.cmp(&y.key))
    });
    TuneResult {
        rows,
        metric,
        mode,
        score: spec.score,
        epochs: spec.epochs,
        strategy: spec.strategy.clone(),
        space: spec.space.clone(),
        trainer,
        ran,
        timings: None,
        chosen: None,
    }
}

/// A pending trial as one shell line that runs it elsewhere (a cluster node): the one
/// line of [`process::shell_line`], which `--print-trials` prints and the SLURM launcher
/// submits.
pub fn command_line_for(trainer: &CommandTrainer, input: &TrialInput) -> String {
    process::shell_line(trainer, input)
}

/// Collects trials run elsewhere from `--print-trials` lines: a pending trial whose
/// folder has `exit_status` gets its `result.json` from its metrics file (diverged by the
/// rule of `lrsched_train::divergence`, failed on a non-zero status). Returns how many were
/// collected. Nothing for the SLURM launcher: it collects its tasks itself, retrying the
/// failed ones, which a `result.json` written here would make final.
pub fn collect_external(spec: &TuneSpec, plan: &mut Plan) -> Result<usize, String> {
    if spec.launcher != Launcher::Local {
        return Ok(0);
    }
    let mut n = 0;
    for t in &plan.trials {
        if plan.finished.contains_key(&t.key) {
            continue;
        }
        // Never blocking: the trial's program could have put a FIFO there.
        let Ok(status) = crate::protocol::read_trial_file(&t.input.dir.join("exit_status"), 64)
        else {
            continue;
        };
        let Ok(code) = String::from_utf8_lossy(&status).trim().parse::<i32>() else {
            continue;
        };
        let result = process::result_from_folder(&t.input, code);
        let result = in_range(spec, &result, &t.input.metrics_path());
        let mut rec = TrialRecord::from_result(&t.key, &result, None);
        if !rec.is_usable() {
            rec.error_line = error_line(&t.input.dir.join("stderr.log"));
        }
        let bytes = serde_json::to_vec_pretty(&rec).expect("records serialise");
        crate::files::write_atomic(&t.input.dir.join("result.json"), &bytes)?;
        n += 1;
    }
    for t in &plan.trials {
        if !plan.finished.contains_key(&t.key) {
            if let Some(r) = TrialRecord::read(&t.input.dir.join("result.json")) {
                plan.finished.insert(t.key.clone(), r);
            }
        }
    }
    Ok(n)
}
