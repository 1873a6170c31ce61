//! Ties and seeds: a search's best is named only when the results can tell it apart.
//!
//! At one seed a search cannot know its own noise, so configurations within the metric's
//! equivalence margin of the best ([`Metric::default_margin`]: half a percentage point of
//! an accuracy, 1% of a loss) are a tie ([`tie_at_one_seed`]), said as such. `--seeds N`
//! re-evaluates the top configurations (and every one tied with the best) at `N - 1` more
//! seeds ([`reevaluate`]) and gives each the verdict `compare` gives a schedule (paired by
//! seed against the best by interquartile mean: `best`, `equivalent`, `worse`, `undecided`
//! with the seeds that would decide, or `incomplete`); the best is then the one with the
//! best interquartile mean over every seed among those that completed every seed.

use super::{execute, write_inputs, Mode, Plan, PlannedTrial, Strategy};
use super::{TuneResult, TuneSpec};
use crate::compare::{against_best, Metric, Verdict};
use crate::runner::TrialEvent;
use crate::scoring::{bootstrap_ci, iqm, BOOTSTRAP_REPS, BOOTSTRAP_SEED};
use crate::trainer::Trainer;
use lrsched_report::html::{Section, Table};
use serde_json::{json, Value};
use std::path::Path;

/// The most seeds `--seeds` takes.
pub const MAX_SEEDS: usize = 100;

/// Configurations `--seeds` re-evaluates when `--reevaluate` is not given (more when
/// more are tied with the best).
pub const DEFAULT_REEVALUATE: usize = 3;

/// The most configurations one re-evaluation runs, ties included.
pub const MAX_REEVALUATE: usize = 50;

/// The metric that scored `r`, as compare scores it.
fn metric_of(r: &TuneResult) -> Metric {
    Metric {
        name: r.metric.clone(),
        higher_is_better: r.mode == Mode::Max,
    }
}

/// Configurations within the margin of the best at one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Tie {
    /// The tied trials' keys, the search's best first.
    pub keys: Vec<String>,
    /// The margin, in the metric's units.
    pub margin: f64,
    /// The margin as a reader reads it (`±0.5 percentage points`).
    pub margin_text: String,
}

impl Tie {
    /// The tie in words, with what would settle it.
    pub fn sentence(&self) -> String {
        format!(
            "a tie: {} configurations are within {} of the best at one seed ({}), which cannot tell them apart; --seeds 3 or more re-evaluates them and says how many seeds would",
            self.keys.len(),
            self.margin_text,
            self.keys.join(", ")
        )
    }

    /// The report's section for the tie.
    pub fn section(&self) -> Section {
        Section {
            heading: "A tie".into(),
            text: vec![format!(
                "{}. best.json holds the one ranked first (the highest score, equal scores by key), which this evidence does not show to be better than the others.",
                self.sentence()
            )],
            ..Section::default()
        }
    }
}

/// The trials that ran the whole budget with a score within the metric's default margin
/// of the best's, when there are two or more: one seed cannot tell them apart.
///
/// ```
/// use lrsched_tools::process::CommandTrainer;
/// use lrsched_tools::trainer::Trainer;
/// use lrsched_tools::tune::{seeds::tie_at_one_seed, space::Space, tune, ScoreBy, Strategy, TuneSpec};
/// let dir = tempfile::tempdir().unwrap();
/// // Every rate reaches the same 54%: three trials, one tie.
/// let t = Trainer::Command(CommandTrainer::new(r#"echo '{"epoch": 1, "val_acc": 0.54}' >> "$LRSCHED_METRICS""#));
/// let spec = TuneSpec {
///     space: Space::parse("schedule = \"constant(lr={lr})\"\n[params]\nlr = { choice = [0.1, 0.2, 0.3] }").unwrap(),
///     strategy: Strategy::Grid { points: 3 },
///     epochs: 1, seed: 0, metric: None, mode: None, score: ScoreBy::Final, jobs: 1,
///     out: dir.path().to_path_buf(), trainer_id: t.describe(), launcher: Default::default(),
/// };
/// let tie = tie_at_one_seed(&tune(&spec, &t, &|_| {}).unwrap()).unwrap();
/// assert_eq!(tie.keys.len(), 3);
/// assert_eq!(tie.margin_text, "±0.5 percentage points");
/// ```
pub fn tie_at_one_seed(r: &TuneResult) -> Option<Tie> {
    let best = r.best()?;
    let best_score = best.score?;
    let metric = metric_of(r);
    let margin = metric.default_margin(metric.orient(best_score));
    let keys: Vec<String> = std::iter::once(best)
        .chain(r.rows.iter().filter(|t| {
            t.key != best.key
                && t.budget == r.epochs
                && t.score.is_some_and(|s| (s - best_score).abs() <= margin)
        }))
        .map(|t| t.key.clone())
        .collect();
    (keys.len() > 1).then(|| Tie {
        keys,
        margin,
        margin_text: metric.show_margin(margin),
    })
}

/// One configuration over every seed.
#[derive(Debug, Clone)]
pub struct SeededConfig {
    /// Its first seed's trial key (the search's).
    pub key: String,
    /// Its schedule, one line.
    pub line: String,
    /// The schedule's config.
    pub schedule: Value,
    /// Its score at each seed (`None`: that seed failed, diverged or has no score).
    pub scores: Vec<Option<f64>>,
    /// Each seed's outcome word (`completed`, `diverged`, ...).
    pub outcomes: Vec<String>,
    /// The interquartile mean of its scores (NaN when none).
    pub iqm: f64,
    /// The 95% bootstrap interval of that mean.
    pub ci95: (f64, f64),
    /// Its verdict against the best.
    pub verdict: Verdict,
}

/// What re-evaluating over seeds found.
#[derive(Debug, Clone)]
pub struct Reevaluation {
    /// The seeds, the search's own first.
    pub seeds: Vec<u64>,
    /// The configurations, best first.
    pub configs: Vec<SeededConfig>,
    /// The equivalence margin, in the metric's units.
    pub margin: f64,
    /// The metric.
    pub metric: Metric,
}

impl Reevaluation {
    /// The best configuration, when one completed every seed.
    pub fn best(&self) -> Option<&SeededConfig> {
        self.configs.first().filter(|c| c.verdict == Verdict::Best)
    }

    /// The verdict in words: the best, and whether it is a tie (equivalent ones) or not yet
    /// told apart (undecided ones, with the seeds that would decide).
    pub fn sentence(&self) -> String {
        let n = self.seeds.len();
        let Some(best) = self.best() else {
            return format!(
                "no configuration completed all {n} seeds: no best (see each one's failure)"
            );
        };
        let equivalent: Vec<&SeededConfig> = self
            .configs
            .iter()
            .filter(|c| c.verdict == Verdict::Equivalent)
            .collect();
        let undecided: Vec<(&SeededConfig, Option<u64>)> = self
            .configs
            .iter()
            .filter_map(|c| match c.verdict {
                Verdict::Undecided { seeds_needed } => Some((c, seeds_needed)),
                _ => None,
            })
            .collect();
        let margin = self.metric.show_margin(self.margin);
        let mut s = format!("best over {n} seeds: {}", best.line);
        if !equivalent.is_empty() {
            s.push_str(&format!(
                "; a tie: {} equivalent within {margin} ({})",
                equivalent.len(),
                equivalent
                    .iter()
                    .map(|c| c.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !undecided.is_empty() {
            let most = undecided.iter().filter_map(|(_, n)| *n).max();
            s.push_str(&format!(
                "; {} not told apart from it at {n} seeds ({}){}",
                undecided.len(),
                undecided
                    .iter()
                    .map(|(c, _)| c.line.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                most.map_or(String::new(), |m| format!(": about {m} seeds would decide")),
            ));
        }
        if equivalent.is_empty() && undecided.is_empty() {
            s.push_str(" (every other re-evaluated configuration is worse or incomplete)");
        }
        s
    }

    /// The table's heading: `re-evaluated over seeds 0, 1, 2`.
    pub fn heading(&self) -> String {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        format!("re-evaluated over seeds {}", seeds.join(", "))
    }

    /// The report's section: the verdict in words, how it is reached, and the table.
    pub fn section(&self, r: &TuneResult) -> Section {
        let (header, rows) = self.table(r);
        Section {
            heading: "Over seeds".into(),
            text: vec![
                format!("{}: {}.", self.heading(), self.sentence()),
                "Verdicts as compare gives them (docs/summary.md): paired by seed against the best by interquartile mean; equivalent when the 90% interval of the difference lies within the margin.".into(),
            ],
            table: Some(Table { header, rows }),
            ..Section::default()
        }
    }

    /// `seeds.json`: the metric, margin, seeds, best and every configuration's scores and
    /// verdict.
    pub fn to_json(&self) -> Value {
        let f = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        json!({
            "metric": self.metric.name,
            "higher_is_better": self.metric.higher_is_better,
            "margin": self.margin,
            "seeds": self.seeds,
            "best": self.best().map(|c| c.key.clone()),
            "configs": self.configs.iter().map(|c| json!({
                "key": c.key,
                "schedule": c.line,
                "schedule_config": c.schedule,
                "scores": c.scores,
                "outcomes": c.outcomes,
                "iqm": f(c.iqm),
                "ci95": [f(c.ci95.0), f(c.ci95.1)],
                "verdict": c.verdict.word(),
                "seeds_needed": match c.verdict {
                    Verdict::Undecided { seeds_needed } => json!(seeds_needed),
                    _ => Value::Null,
                },
                "note": match &c.verdict {
                    Verdict::Incomplete { failure } => json!(failure),
                    _ => Value::Null,
                },
            })).collect::<Vec<_>>(),
        })
    }

    /// Writes `seeds.json` into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(|e| e.to_string())?;
        crate::files::write_atomic(&dir.join("seeds.json"), format!("{text}\n").as_bytes())
    }

    /// The table: rank, IQM, interval, each seed's score, verdict, schedule.
    pub fn table(&self, r: &TuneResult) -> (Vec<String>, Vec<Vec<String>>) {
        let fmt = |v: Option<f64>| super::output::fmt_score(r, v.filter(|x| x.is_finite()));
        let header = vec![
            "rank".into(),
            format!("IQM {}", r.metric),
            "95% interval".into(),
            "per seed".into(),
            "verdict".into(),
            "schedule".into(),
        ];
        let rows = self
            .configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    (i + 1).to_string(),
                    fmt(Some(c.iqm)),
                    format!("{} to {}", fmt(Some(c.ci95.0)), fmt(Some(c.ci95.1))),
                    c.scores
                        .iter()
                        .zip(&c.outcomes)
                        .map(|(s, o)| match s {
                            Some(_) => fmt(*s),
                            None => o.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                    match &c.verdict {
                        Verdict::Incomplete { .. } => "incomplete".into(),
                        v => v.cell(),
                    },
                    c.line.clone(),
                ]
            })
            .collect();
        (header, rows)
    }
}

/// One configuration's score and outcome at each seed, with its search trial.
type SeedScores<'a> = (Vec<Option<f64>>, Vec<String>, &'a super::TrialRow);

/// The seeds of a re-evaluation: the search's, then the next ones (wrapping).
pub fn seed_list(first: u64, seeds: usize) -> Vec<u64> {
    (0..seeds as u64).map(|i| first.wrapping_add(i)).collect()
}

/// Re-evaluates the top `count` configurations of `r` (and every one tied with its best
/// at one seed, up to [`MAX_REEVALUATE`]) at `seeds - 1` more seeds, as ordinary trials of
/// the folder (a rerun finds them), and gives each its verdict. The caller holds the lock.
pub fn reevaluate(
    spec: &TuneSpec,
    r: &TuneResult,
    trainer: &Trainer,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
    seeds: usize,
    count: usize,
) -> Result<Reevaluation, String> {
    if !(2..=MAX_SEEDS).contains(&seeds) {
        return Err(format!(
            "--seeds {seeds} is not allowed: must be between 2 and {MAX_SEEDS} to re-evaluate"
        ));
    }
    let tied = tie_at_one_seed(r).map_or(0, |t| t.keys.len());
    let chosen: Vec<&super::TrialRow> = r
        .rows
        .iter()
        .filter(|t| t.score.is_some() && t.budget == r.epochs)
        .take(count.max(tied).min(MAX_REEVALUATE))
        .collect();
    let seed_list = seed_list(spec.seed, seeds);
    let mut extra = Vec::new();
    for t in &chosen {
        for &seed in &seed_list[1..] {
            let p = PlannedTrial::new(spec, t.params.clone(), t.schedule.clone(), seed)
                .map_err(|(line, e)| format!("`{line}`: {e}"))?;
            extra.push(p);
        }
    }
    let plan = Plan::with_finished(extra.clone());
    // Every seed to the end: a pruning rung would cut seeds, not configurations.
    let whole = TuneSpec {
        strategy: Strategy::Grid { points: 1 },
        ..spec.clone()
    };
    write_inputs(&whole, &plan)?;
    let ran = execute::run(&whole, plan, trainer, events)?;
    let metric = metric_of(r);
    let per_config = seeds - 1;
    let mut configs: Vec<SeedScores<'_>> = chosen
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut scores = vec![t.score];
            let mut outcomes = vec![t.record.outcome.clone()];
            for p in &extra[i * per_config..(i + 1) * per_config] {
                let row = ran.rows.iter().find(|x| x.key == p.key);
                scores.push(row.and_then(|x| x.score));
                outcomes.push(row.map_or("no result".into(), |x| x.record.outcome.clone()));
            }
            (scores, outcomes, *t)
        })
        .collect();
    let oriented = |scores: &[Option<f64>]| -> Vec<f64> {
        scores
            .iter()
            .map(|s| s.map_or(f64::NEG_INFINITY, |v| metric.orient(v)))
            .collect()
    };
    let complete = |scores: &[Option<f64>]| scores.iter().all(Option::is_some);
    // Complete configurations first, by their IQM; then the rest by theirs.
    let key = |scores: &[Option<f64>]| {
        let finite: Vec<f64> = scores.iter().flatten().map(|v| metric.orient(*v)).collect();
        (!complete(scores), -iqm(&finite))
    };
    configs.sort_by(|a, b| {
        let (ka, kb) = (key(&a.0), key(&b.0));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(a.2.key.cmp(&b.2.key))
    });
    let best = configs
        .first()
        .filter(|c| complete(&c.0))
        .map(|c| oriented(&c.0));
    let margin = metric.default_margin(best.as_deref().map_or(f64::NAN, iqm));
    let configs = configs
        .into_iter()
        .enumerate()
        .map(|(i, (scores, outcomes, t))| {
            let finite: Vec<f64> = scores.iter().flatten().copied().collect();
            let verdict = if !complete(&scores) {
                Verdict::Incomplete {
                    failure: seed_list
                        .iter()
                        .zip(&scores)
                        .zip(&outcomes)
                        .filter(|((_, s), _)| s.is_none())
                        .map(|((seed, _), o)| format!("seed {seed}: {o}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            } else if i == 0 {
                Verdict::Best
            } else {
                let b = best
                    .as_ref()
                    .expect("a complete configuration means a best");
                let d: Vec<f64> = b
                    .iter()
                    .zip(oriented(&scores))
                    .map(|(x, y)| x - y)
                    .collect();
                against_best(&d, margin)
            };
            SeededConfig {
                key: t.key.clone(),
                line: t.line.clone(),
                schedule: t.schedule.clone(),
                iqm: iqm(&finite),
                ci95: bootstrap_ci(&finite, iqm, BOOTSTRAP_REPS, BOOTSTRAP_SEED),
                scores,
                outcomes,
                verdict,
            }
        })
        .collect();
    Ok(Reevaluation {
        seeds: seed_list,
        configs,
        margin,
        metric,
    })
}
