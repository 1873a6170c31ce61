//! Running a comparison: every candidate over the seeds, then the statistics, the target
//! and the ranking that the score and the report read.

use super::report::show_value;
use super::score::score;
use super::sentences::verdict;
use super::{
    reject_out_of_range, CandidateStats, CompareResult, CompareSpec, Metric, Run, TrialScore,
};
use crate::protocol::{Line, TrialInput};
use crate::runner::{launch, TrialEvent};
use crate::scoring::{iqm, median};
use crate::stats::Summary;
use crate::trainer::Trainer;
use crate::trial::Control;
use std::collections::BTreeSet;

/// Runs every candidate over every seed, `spec.jobs` trials at once, and ranks them.
/// `events` hears each trial start, line and end (for progress bars).
///
/// ```
/// use lrsched_tools::compare::{compare, Candidate, CompareSpec};
/// use lrsched_tools::process::CommandTrainer;
/// use lrsched_tools::trainer::Trainer;
/// // A "training program" whose accuracy is its schedule's rate: the larger rate wins.
/// let program = Trainer::Command(CommandTrainer::new(
///     r#"lr=$(echo "$LRSCHED_SCHEDULE" | sed 's/.*"lr": *\([0-9.]*\).*/\1/');
///        echo "{\"epoch\": 1, \"val_acc\": $lr}" >> "$LRSCHED_METRICS""#,
/// ));
/// let cand = |name: &str, lr: f64| Candidate {
///     name: name.into(),
///     schedule: serde_json::json!({"type": "constant", "lr": lr}),
///     trainer: program.clone(),
/// };
/// let dir = tempfile::tempdir().unwrap();
/// let spec = CompareSpec {
///     candidates: vec![cand("small", 0.25), cand("large", 0.5)],
///     seeds: vec![1, 2],
///     epochs: 1,
///     metric: None,
///     target: None,
///     margin: None,
///     chance: None,
///     jobs: 2,
///     dir: dir.path().to_path_buf(),
///     launcher: Default::default(),
/// };
/// let r = compare(&spec, &|_| {}).unwrap();
/// assert_eq!(r.names[r.order[0]], "large");
/// assert_eq!(r.metric.name, "val_acc");
/// ```
pub fn compare(
    spec: &CompareSpec,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<CompareResult, String> {
    // A name is each trial's LRSCHED_TRIAL: a control character (NUL cannot be in an
    // environment variable) would fail every trial, so the spec is refused first.
    for (k, c) in spec.candidates.iter().enumerate() {
        if let Some(ch) = c.name.chars().find(|ch| ch.is_control()) {
            return Err(format!(
                "candidate {}: the name {} has a control character (U+{:04X}): use printable characters",
                k + 1,
                lrsched::shorten(&format!("{:?}", c.name)),
                ch as u32
            ));
        }
    }
    // Each schedule read once, for all its seeds: an `interval` key that is neither
    // "step" nor "epoch" is refused here, not handed to every trial.
    let schedules = spec
        .candidates
        .iter()
        .map(|c| {
            lrsched::ScheduleSpec::from_value(c.schedule.clone())
                .map_err(|e| format!("schedule `{}`: {e}", c.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = std::time::Instant::now();
    let mut trials: Vec<(&Trainer, TrialInput)> = Vec::new();
    let mut slugs = BTreeSet::new();
    for (c, schedule) in spec.candidates.iter().zip(&schedules) {
        let slug = unique_slug(&c.name, &mut slugs);
        for &seed in &spec.seeds {
            trials.push((
                &c.trainer,
                TrialInput {
                    name: format!("{}-seed{seed}", c.name),
                    schedule: schedule.clone(),
                    seed,
                    epochs: spec.epochs,
                    max_steps: None,
                    dir: spec.dir.join("trials").join(format!("{slug}-seed{seed}")),
                },
            ));
        }
    }
    // What this run writes, checked before any trial: a folder (or pipe) where a file
    // goes would be found only after every trial ran.
    for name in [
        "metrics.jsonl",
        "metrics.csv",
        "steps.jsonl",
        "report.html",
        "summary.json",
        "scores.jsonl",
    ] {
        crate::files::check_output_path(&spec.dir.join(name))?;
    }
    let (results, timings) = launch(
        &spec.launcher,
        spec.jobs,
        &trials,
        &|_, _: &Line| Control::Continue,
        events,
    )?;
    let n_seeds = spec.seeds.len();
    let mut runs: Vec<Run> = trials
        .into_iter()
        .zip(results)
        .enumerate()
        .map(|(k, ((_, input), result))| Run {
            candidate: k / n_seeds.max(1),
            seed: input.seed,
            input,
            result,
        })
        .collect();
    let metric = spec.metric.clone().unwrap_or_else(|| {
        let has_acc = runs.iter().any(|r| r.result.last("val_acc").is_some());
        Metric::named(if has_acc { "val_acc" } else { "val_loss" })
    });
    for run in &mut runs {
        let path = run.input.metrics_path();
        reject_out_of_range(&mut run.result, &metric, &path);
        if let Trainer::Command(c) = &spec.candidates[run.candidate].trainer {
            if let Some(asked) = &c.optimizer {
                reject_unconfirmed_optimizer(&mut run.result, asked, &run.input.dir);
            }
        }
    }
    let (target, target_chosen) = match spec.target {
        Some(t) => (Some(t), false),
        None => (
            choose_target(&runs, spec.candidates.len(), &metric, spec.chance),
            true,
        ),
    };
    let stats: Vec<CandidateStats> = (0..spec.candidates.len())
        .map(|i| {
            candidate_stats(
                runs.iter().filter(|r| r.candidate == i),
                &spec.seeds,
                &metric,
                target,
                spec.chance,
            )
        })
        .collect();
    let order = rank(&stats, &metric);
    let names: Vec<String> = spec.candidates.iter().map(|c| c.name.clone()).collect();
    let board = score(
        &names,
        &stats,
        &order,
        &metric,
        target,
        spec.margin,
        spec.chance,
    );
    let verdict = verdict(&board, &stats, target_chosen);
    Ok(CompareResult {
        names,
        schedules: spec.candidates.iter().map(|c| c.schedule.clone()).collect(),
        rate_multiplier: spec
            .candidates
            .iter()
            .map(|c| match &c.trainer {
                Trainer::BuiltIn(b) => b.config.optimizer.kind.is_lr_free(),
                Trainer::Command(c) => c
                    .optimizer
                    .as_ref()
                    .and_then(|o| o.get("name")?.as_str())
                    .and_then(crate::candidates::optimizer_named)
                    .is_some_and(|k| k.is_lr_free()),
            })
            .collect(),
        seeds: spec.seeds.clone(),
        runs,
        metric,
        target,
        target_chosen,
        stats,
        order,
        verdict,
        board,
        wall_seconds: started.elapsed().as_secs_f64(),
        timings,
    })
}

/// A trial that finished normally after being asked for an optimizer
/// (`LRSCHED_OPTIMIZER`) but did not confirm it built that optimizer
/// ([`crate::protocol::check_optimizer_applied`]) becomes bad output: whatever it trained
/// with, it was not the baseline its name says.
fn reject_unconfirmed_optimizer(
    result: &mut crate::trial::TrialResult,
    asked: &serde_json::Value,
    dir: &std::path::Path,
) {
    if !result.status.is_usable() {
        return;
    }
    if let Some(problem) = crate::protocol::check_optimizer_applied(dir, asked) {
        result.status = crate::trial::TrialStatus::Malformed(crate::protocol::ProtocolError {
            path: dir.join(crate::protocol::OPTIMIZER_FILE),
            line: 0,
            problem,
        });
    }
}

/// A folder name from a candidate's name: letters, digits, `-`, `_`, unique.
fn unique_slug(name: &str, used: &mut BTreeSet<String>) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let base = if base.is_empty() {
        "schedule".into()
    } else {
        base
    };
    let mut slug = base.clone();
    let mut k = 2;
    while !used.insert(slug.clone()) {
        slug = format!("{base}-{k}");
        k += 1;
    }
    slug
}

/// The mean over seeds of `metric` at each epoch.
fn mean_curve(runs: &[&Run], metric: &str) -> Vec<(u64, f64)> {
    let mut epochs: Vec<u64> = runs
        .iter()
        .flat_map(|r| r.result.epochs.iter().map(|e| e.epoch))
        .collect();
    epochs.sort_unstable();
    epochs.dedup();
    epochs
        .into_iter()
        .filter_map(|ep| {
            let v = Summary::of(runs.iter().filter_map(|r| {
                r.result
                    .epochs
                    .iter()
                    .find(|e| e.epoch == ep)
                    .and_then(|e| e.get(metric))
            }));
            (v.n > 0).then_some((ep, v.mean))
        })
        .collect()
}

/// The median over candidates of their best mean value, rounded to the easy side. Only
/// candidates whose every run finished normally above chance count (when any does): a
/// schedule that learned nothing would pull the target down to where it measures nothing.
fn choose_target(
    runs: &[Run],
    candidates: usize,
    metric: &Metric,
    chance: Option<f64>,
) -> Option<f64> {
    let sound = |i: usize| {
        runs.iter().filter(|r| r.candidate == i).all(|r| {
            r.result.status.is_usable()
                && r.result
                    .last(&metric.name)
                    .is_some_and(|v| chance.is_none_or(|c| !metric.at_chance(v, c)))
        })
    };
    let any_sound = (0..candidates).any(sound);
    let mut bests: Vec<f64> = (0..candidates)
        .filter(|&i| !any_sound || sound(i))
        .filter_map(|i| {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.candidate == i && r.result.status.is_usable())
                .collect();
            let curve = mean_curve(&mine, &metric.name);
            curve
                .iter()
                .map(|p| p.1)
                .reduce(|a, b| if metric.better(b, a) { b } else { a })
        })
        .filter(|v| v.is_finite())
        .collect();
    if bests.is_empty() {
        return None;
    }
    bests.sort_by(f64::total_cmp);
    let median = bests[(bests.len() - 1) / 2];
    Some(round_easy(median, metric))
}

/// Rounds toward the easier side: down for higher-is-better, up otherwise, to a step of
/// 0.5% for fractions (accuracy) and two significant digits else.
pub(super) fn round_easy(v: f64, metric: &Metric) -> f64 {
    let step = if metric.is_fraction() && (0.0..=1.0).contains(&v) {
        0.005
    } else if v == 0.0 {
        return 0.0;
    } else {
        10f64.powf(v.abs().log10().floor() - 1.0)
    };
    let q = v / step;
    let r = if metric.higher_is_better {
        (q + 1e-9).floor()
    } else {
        (q - 1e-9).ceil()
    };
    // Round the step multiple itself so 0.975 prints as 0.975, not 0.97499999.
    (r * step * 1e9).round() / 1e9
}

fn candidate_stats<'a>(
    runs: impl Iterator<Item = &'a Run>,
    seeds: &[u64],
    metric: &Metric,
    target: Option<f64>,
    chance: Option<f64>,
) -> CandidateStats {
    let runs: Vec<&Run> = runs.collect();
    let usable: Vec<&Run> = runs
        .iter()
        .copied()
        .filter(|r| r.result.status.is_usable())
        .collect();
    let last = |r: &Run| r.result.last(&metric.name);
    let per_seed_final = seeds
        .iter()
        .map(|s| {
            usable
                .iter()
                .find(|r| r.seed == *s)
                .and_then(|r| last(r))
                .unwrap_or(f64::NAN)
        })
        .collect();
    let best = |r: &Run| {
        r.result
            .series(&metric.name)
            .into_iter()
            .map(|p| p.1)
            .reduce(|a, b| if metric.better(b, a) { b } else { a })
    };
    let mut to_epochs = Vec::new();
    let mut to_seconds = Vec::new();
    if let Some(t) = target {
        for r in &usable {
            if let Some(e) = r
                .result
                .epochs
                .iter()
                .find(|e| e.get(&metric.name).is_some_and(|v| metric.reached(v, t)))
            {
                to_epochs.push(e.epoch as f64);
                to_seconds.push(e.elapsed.unwrap_or(f64::NAN));
            }
        }
    }
    // Per seed: what it scored, and why it did not complete where it did not.
    let mut failed: Vec<(u64, &'static str, String)> = Vec::new();
    let mut scores = Vec::new();
    for r in &runs {
        let final_value = if r.result.status.is_usable() {
            last(r)
        } else {
            None
        };
        let problem: Option<(&'static str, String)> = if !r.result.status.is_usable() {
            Some((r.result.status.word(), r.result.status.to_string()))
        } else if final_value.is_none() {
            Some(("no value", format!("reported no {}", metric.name)))
        } else {
            chance
                .zip(final_value)
                .filter(|(c, v)| metric.at_chance(*v, *c))
                .map(|(c, v)| {
                    (
                        "chance level",
                        format!(
                            "ended at chance level: {} {} against chance {}",
                            metric.name,
                            show_value(metric, v),
                            show_value(metric, c)
                        ),
                    )
                })
        };
        let completed = problem.is_none();
        if let Some((word, what)) = problem {
            failed.push((r.seed, word, what));
        }
        let reached = target.filter(|_| completed).and_then(|t| {
            r.result
                .epochs
                .iter()
                .find(|e| e.get(&metric.name).is_some_and(|v| metric.reached(v, t)))
        });
        let (epochs, steps, seconds) = match reached {
            Some(e) => {
                // The trial's own steps per epoch, from the step lines it wrote.
                let steps = r
                    .result
                    .steps
                    .last()
                    .filter(|_| !r.result.epochs.is_empty())
                    .map_or(f64::NAN, |s| {
                        let per_epoch = (s.step + 1) as f64 / r.result.epochs.len() as f64;
                        (e.epoch as f64 * per_epoch).round()
                    });
                (e.epoch as f64, steps, e.elapsed.unwrap_or(f64::NAN))
            }
            None => (f64::INFINITY, f64::INFINITY, f64::INFINITY),
        };
        scores.push(TrialScore {
            seed: r.seed,
            final_value,
            epochs_to_target: epochs,
            steps_to_target: steps,
            seconds_to_target: seconds,
            completed,
        });
    }
    let finals: Vec<f64> = scores.iter().filter_map(|t| t.final_value).collect();
    CandidateStats {
        runs: runs.len(),
        completed: scores.iter().filter(|t| t.completed).count(),
        final_median: median(&finals),
        final_iqm: iqm(&finals),
        scores,
        failed,
        per_seed_final,
        final_value: Summary::of(usable.iter().filter_map(|r| last(r))),
        best_value: Summary::of(usable.iter().filter_map(|r| best(r))),
        reached: to_epochs.len(),
        epochs_to_target: Summary::of(to_epochs),
        seconds_to_target: Summary::of(to_seconds),
        seconds: Summary::of(runs.iter().map(|r| r.result.seconds)),
    }
}

/// Best first: complete candidates (every seed completed) before the others; then by the
/// IQM of final values; candidates with no value last.
pub(super) fn rank(stats: &[CandidateStats], metric: &Metric) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stats.len()).collect();
    let key = |s: &CandidateStats| {
        let v = s.final_iqm;
        let signed = if metric.higher_is_better { -v } else { v };
        (
            !s.failed.is_empty() || s.completed < s.runs,
            s.final_value.n == 0,
            if signed.is_finite() {
                signed
            } else {
                f64::INFINITY
            },
        )
    };
    order.sort_by(|&i, &j| {
        let (a, b) = (key(&stats[i]), key(&stats[j]));
        a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.total_cmp(&b.2))
    });
    order
}
