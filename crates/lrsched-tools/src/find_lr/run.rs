//! Running the range test: one trial per seed, each seed's curve read into a [`SeedRun`],
//! and the spread of the rules' rates over the seeds.

use super::{
    FindLrError, FindLrEvent, FindLrResult, FindLrSpec, GivenRates, SeedRun, Spread, Stop,
    Suggestions, NEEDS_STEP_LINES, SMOOTH_BETA, STOP_FACTOR,
};
use crate::protocol::{Line, TrialInput};
use crate::runner::run_all;
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched_train::find_lr::{suggest, Smoother};
use serde_json::json;
use std::sync::Mutex;

/// Runs the range test for each seed of `spec` on `trainer` and reads rates off the
/// curves. `events` hears the trials start, report and end, and each step with its
/// smoothed loss (for progress bars). Fails only on a bad spec or an unwritable folder:
/// a trial that fails is a [`SeedRun`] with its status.
///
/// ```
/// use lrsched_tools::find_lr::{find_lr, FindLrSpec};
/// use lrsched_tools::trainer::{BuiltIn, Trainer};
/// let split = lrsched_train::data::Source::Digits.load().unwrap();
/// # let config = lrsched_train::find_lr::doc_config(&split);
/// // config: a TrainConfig (model, optimizer, batch size), as `lrsched train` builds it.
/// let trainer = Trainer::BuiltIn(Box::new(BuiltIn { config, split: std::sync::Arc::new(split) }));
/// let dir = tempfile::tempdir().unwrap();
/// let mut spec = FindLrSpec::new(dir.path());
/// spec.steps = 40;
/// spec.seeds = 2;
/// let result = find_lr(&spec, &trainer, &|_| {}).unwrap();
/// assert_eq!(result.runs.len(), 2);
/// assert!(result.runs.iter().all(|r| r.usable() && r.steps_run() <= 40));
/// let (rule, lr) = result.suggested.unwrap();
/// assert!(rule == "valley" && lr > 1e-7 && lr < 10.0);
/// ```
pub fn find_lr(
    spec: &FindLrSpec,
    trainer: &Trainer,
    events: &(dyn Fn(FindLrEvent<'_>) + Sync),
) -> Result<FindLrResult, FindLrError> {
    spec.validate().map_err(FindLrError::Spec)?;
    let steps_per_epoch = match trainer {
        Trainer::BuiltIn(b) => Some(
            (b.split.train.len() as u64)
                .div_ceil(b.config.batch_size.max(1) as u64)
                .max(1),
        ),
        Trainer::Command(c) => c.steps_per_epoch.filter(|&s| s > 0),
    };
    // Enough epochs to cover the steps; a program whose epoch length lrsched does not
    // know gets one epoch per step (every epoch has at least one step) and is stopped
    // at the steps by LRSCHED_MAX_STEPS or by lrsched.
    let epochs = match steps_per_epoch {
        Some(s) => spec.steps.div_ceil(s),
        None => spec.steps,
    };
    let seeds = spec.seed_list();
    let inputs: Vec<TrialInput> = seeds
        .iter()
        .map(|&seed| TrialInput {
            name: format!("find-lr-seed{seed}"),
            schedule: spec.schedule_spec(),
            seed,
            epochs,
            max_steps: Some(spec.steps),
            dir: spec.dir.join("trials").join(format!("seed-{seed}")),
        })
        .collect();
    for input in &inputs {
        write_trial_json(input, trainer, steps_per_epoch).map_err(FindLrError::Io)?;
    }
    let trials: Vec<(&Trainer, TrialInput)> = inputs.iter().map(|i| (trainer, i.clone())).collect();
    let states: Vec<Mutex<(Smoother, u64)>> = seeds
        .iter()
        .map(|_| Mutex::new((Smoother::new(SMOOTH_BETA), 0)))
        .collect();
    let given = GivenRates::new(spec);
    let control = |index: usize, line: &Line| -> Control {
        if crate::process::cancelled() {
            return Control::Stop("cancelled".into());
        }
        let Line::Step(s) = line else {
            return Control::Continue;
        };
        // A rate that is not the sweep's makes the curve meaningless: end the trial
        // (`seed_run` reports it as bad output).
        if let Some(why) = given.wrong(s.step, s.lr) {
            return Control::Stop(why);
        }
        let Ok(mut state) = states[index].lock() else {
            return Control::Continue;
        };
        let (smoother, count) = &mut *state;
        *count += 1;
        let Some(loss) = s.loss.filter(|l| l.is_finite()) else {
            return Control::Continue;
        };
        let lr =
            s.lr.filter(|r| r.is_finite())
                .unwrap_or_else(|| given.at(s.step));
        let smoothed = smoother.push(loss);
        events(FindLrEvent::Step {
            index,
            seed: seeds[index],
            count: *count,
            lr,
            smoothed,
        });
        if smoother.diverging(STOP_FACTOR) {
            Control::Stop(format!(
                "smoothed loss {smoothed:.4} passed {STOP_FACTOR}x its best {:.4} at lr {lr:.3e}",
                smoother.best()
            ))
        } else if *count >= spec.steps {
            Control::Stop(format!("all {} steps", spec.steps))
        } else {
            Control::Continue
        }
    };
    let results = run_all(spec.jobs, &trials, &control, &|e| {
        events(FindLrEvent::Trial(e))
    });
    let runs: Vec<SeedRun> = results
        .into_iter()
        .zip(&inputs)
        .map(|(r, input)| seed_run(spec, &given, input, r))
        .collect();
    let spread = spreads(&runs);
    let suggested = super::rule_medians(&spread).first().copied();
    Ok(FindLrResult {
        spec: spec.clone(),
        trainer: trainer.describe(),
        steps_per_epoch,
        epochs,
        runs,
        spread,
        suggested,
        validation: None,
    })
}

/// The trial's input as JSON in its folder, so a trial can be rerun or inspected without
/// the command line that made it.
pub(super) fn write_trial_json(
    input: &TrialInput,
    trainer: &Trainer,
    steps_per_epoch: Option<u64>,
) -> Result<(), String> {
    std::fs::create_dir_all(&input.dir)
        .map_err(|e| format!("cannot create {}: {e}", input.dir.display()))?;
    let value = json!({
        "name": input.name,
        "schedule": input.schedule.to_value(),
        "seed": input.seed,
        "epochs": input.epochs,
        "max_steps": input.max_steps,
        "dir": input.dir,
        "trainer": trainer.describe(),
        "steps_per_epoch": steps_per_epoch,
    });
    let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    crate::files::write_atomic(&input.dir.join("trial.json"), text.as_bytes())
}

/// A trial's step lines as a range-test curve, cut as the live stop rule cut it: at the
/// first point past 4x the best (kept, as fastai keeps it), before the first non-finite
/// loss, at the spec's steps.
fn seed_run(spec: &FindLrSpec, given: &GivenRates, input: &TrialInput, r: TrialResult) -> SeedRun {
    let mut r = r;
    // Every step line's rate must be the one the sweep gave at its step: a program that
    // trains (or reports) with another rate gives a curve against the wrong axis.
    let wrong = r.steps.iter().find_map(|s| given.wrong(s.step, s.lr));
    if let (Some(problem), false) = (wrong, r.status == TrialStatus::Cancelled) {
        r.status = TrialStatus::Malformed(crate::protocol::ProtocolError {
            path: input.metrics_path(),
            line: 0,
            problem,
        });
    }
    let mut smoother = Smoother::new(SMOOTH_BETA);
    let (mut lrs, mut losses, mut smoothed) = (Vec::new(), Vec::new(), Vec::new());
    let mut stop = None;
    for s in r.steps.iter().take(spec.steps as usize) {
        let Some(loss) = s.loss else { continue };
        if !loss.is_finite() {
            stop = Some(Stop::NotFinite);
            break;
        }
        let lr =
            s.lr.filter(|r| r.is_finite())
                .unwrap_or_else(|| given.at(s.step));
        lrs.push(lr);
        losses.push(loss);
        smoothed.push(smoother.push(loss));
        if smoother.diverging(STOP_FACTOR) {
            stop = Some(Stop::Diverging);
            break;
        }
    }
    let diverged = matches!(r.status, TrialStatus::Diverged { .. });
    let stop = stop.unwrap_or(match &r.status {
        // The trainer's runaway rule can end a sweep before the smoothed curve passes
        // the range test's own line: the same kind of end.
        TrialStatus::Diverged { what, .. }
            if what.contains(lrsched_train::divergence::RAN_AWAY) =>
        {
            Stop::Diverging
        }
        // The built-in trainer ends at a NaN loss without reporting that step.
        _ if diverged => Stop::NotFinite,
        _ => Stop::Completed,
    });
    let problem = match (&r.status, lrs.is_empty()) {
        (TrialStatus::Completed | TrialStatus::Stopped { .. }, true) => {
            Some(NEEDS_STEP_LINES.to_string())
        }
        (TrialStatus::Completed | TrialStatus::Stopped { .. }, false) => None,
        // A range test runs the rate up until the loss breaks: a NaN after some steps is
        // the end of the curve, not a failed sweep; before any step it is.
        (TrialStatus::Diverged { .. }, false) => None,
        (status, _) => Some(status.to_string()),
    };
    let suggestions = if problem.is_none() {
        suggest(&lrs, &smoothed, spec.steps as usize)
    } else {
        Suggestions::default()
    };
    SeedRun {
        seed: input.seed,
        dir: input.dir.clone(),
        status: r.status,
        problem,
        stop,
        lrs,
        losses,
        smoothed,
        steps_read: r.steps.len(),
        suggestions,
        seconds: r.seconds,
        stderr_tail: r.stderr_tail,
    }
}

fn spreads(runs: &[SeedRun]) -> Vec<Spread> {
    let names = Suggestions::default().named().map(|(n, _)| n);
    names
        .iter()
        .enumerate()
        .map(|(k, name)| Spread {
            name,
            values: runs
                .iter()
                .filter(|r| r.usable())
                .filter_map(|r| r.suggestions.named()[k].1)
                // A rate to train with is positive and finite, whatever a curve says.
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect(),
        })
        .collect()
}
