//! The verdicts: one per schedule against the best ([`Scoreboard`]), and `summary.json`
//! written from the same board.

use super::{CandidateStats, CompareResult, Metric};
use crate::scoring::{
    bootstrap_ci, iqm, median, paired_interval, poi_ci, probability_of_improvement,
    seeds_to_decide, BOOTSTRAP_REPS, BOOTSTRAP_SEED,
};
use crate::stats::Summary;
use serde_json::{json, Value};
use std::path::Path;

/// One schedule's verdict (module docs): exactly one per schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The complete schedule with the best IQM.
    Best,
    /// Within the margin of the best (an equivalence test).
    Equivalent,
    /// Worse than the best (a paired t-test at 5%).
    Worse,
    /// The seeds cannot tell; `seeds_needed` would (always more than were run; `None`
    /// with one seed, where the spread is unknown).
    Undecided {
        /// Seeds that would decide.
        seeds_needed: Option<u64>,
    },
    /// A seed failed, diverged, was cut, reported nothing or ended at chance level.
    Incomplete {
        /// What happened, seed by seed.
        failure: String,
    },
}

impl Verdict {
    /// The verdict's word, as `summary.json` and the table write it.
    ///
    /// ```
    /// use lrsched_tools::compare::Verdict;
    /// assert_eq!(Verdict::Undecided { seeds_needed: Some(9) }.word(), "undecided");
    /// ```
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Best => "best",
            Verdict::Equivalent => "equivalent",
            Verdict::Worse => "worse",
            Verdict::Undecided { .. } => "undecided",
            Verdict::Incomplete { .. } => "incomplete",
        }
    }

    /// The word with what it needs, on one line: `undecided: about 12 seeds`.
    pub fn cell(&self) -> String {
        match self {
            Verdict::Undecided {
                seeds_needed: Some(n),
            } => format!("undecided: about {n} seeds"),
            other => other.word().to_string(),
        }
    }
}

/// One schedule's scores and verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleScore {
    /// Its name.
    pub name: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds that completed.
    pub completed: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// Median of the final values (NaN when none).
    pub final_median: f64,
    /// Interquartile mean of the final values.
    pub final_iqm: f64,
    /// 95% bootstrap interval of that IQM.
    pub final_ci95: (f64, f64),
    /// Median epochs to the target over all seeds (infinite when half or more missed it).
    pub median_epochs: f64,
    /// Median steps to the target (NaN when the trials wrote no step lines).
    pub median_steps: f64,
    /// Median seconds to the target.
    pub median_seconds: f64,
    /// 95% bootstrap interval of the median epochs.
    pub epochs_ci95: (f64, f64),
    /// Probability that a seed of this schedule beats a seed of the best, with its 95%
    /// bootstrap interval; `None` for the best itself and when there is no best.
    pub p_improvement: Option<(f64, f64, f64)>,
}

/// Every schedule's scores and verdict: the one source of the printed verdict, the
/// report's table and `summary.json` ([`Scoreboard::to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Scoreboard {
    /// The metric that scored.
    pub metric: Metric,
    /// The target, if any.
    pub target: Option<f64>,
    /// The equivalence margin, in the metric's units.
    pub margin: f64,
    /// Whether the margin is the default (not `--margin`).
    pub margin_default: bool,
    /// What the metric is at chance, if known.
    pub chance: Option<f64>,
    /// Index of the best schedule; `None` when no schedule completed every seed.
    pub best: Option<usize>,
    /// Per schedule, in the spec's order.
    pub schedules: Vec<ScheduleScore>,
    /// Schedules, best first.
    pub order: Vec<usize>,
}

/// `summary.json`'s shape, field by field in the order of docs/summary.md (a struct, so
/// the file keeps that order; non-finite numbers are written as `null`).
#[derive(serde::Serialize)]
struct SummaryJson<'a> {
    metric: &'a str,
    higher_is_better: bool,
    target: Option<f64>,
    margin: f64,
    best: Option<&'a str>,
    schedules: Vec<ScheduleJson<'a>>,
}

#[derive(serde::Serialize)]
struct ScheduleJson<'a> {
    name: &'a str,
    seeds: usize,
    completed: usize,
    verdict: &'static str,
    #[serde(rename = "final")]
    final_: FinalJson,
    time_to_target: TimeJson,
    p_improvement_vs_best: Option<PoiJson>,
    seeds_needed: Option<u64>,
    note: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct FinalJson {
    median: Option<f64>,
    iqm: Option<f64>,
    ci95: [Option<f64>; 2],
}

#[derive(serde::Serialize)]
struct TimeJson {
    median_epochs: Option<f64>,
    median_seconds: Option<f64>,
    ci95: [Option<f64>; 2],
    median_steps: Option<f64>,
}

#[derive(serde::Serialize)]
struct PoiJson {
    p: Option<f64>,
    ci95: [Option<f64>; 2],
}

/// A finite number, or `None` (written `null`) for an infinite time or no value.
pub(super) fn num(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Scoreboard {
    fn summary(&self) -> SummaryJson<'_> {
        let schedules = self
            .order
            .iter()
            .map(|&i| {
                let s = &self.schedules[i];
                ScheduleJson {
                    name: &s.name,
                    seeds: s.seeds,
                    completed: s.completed,
                    verdict: s.verdict.word(),
                    final_: FinalJson {
                        median: num(s.final_median),
                        iqm: num(s.final_iqm),
                        ci95: [num(s.final_ci95.0), num(s.final_ci95.1)],
                    },
                    time_to_target: TimeJson {
                        median_epochs: num(s.median_epochs),
                        median_seconds: num(s.median_seconds),
                        ci95: [num(s.epochs_ci95.0), num(s.epochs_ci95.1)],
                        median_steps: num(s.median_steps),
                    },
                    p_improvement_vs_best: s.p_improvement.map(|(p, lo, hi)| PoiJson {
                        p: num(p),
                        ci95: [num(lo), num(hi)],
                    }),
                    seeds_needed: match s.verdict {
                        Verdict::Undecided { seeds_needed } => seeds_needed,
                        _ => None,
                    },
                    note: match &s.verdict {
                        Verdict::Incomplete { failure } => Some(failure.as_str()),
                        _ => None,
                    },
                }
            })
            .collect();
        SummaryJson {
            metric: &self.metric.name,
            higher_is_better: self.metric.higher_is_better,
            target: self.target.and_then(num),
            margin: self.margin,
            best: self.best.map(|i| self.schedules[i].name.as_str()),
            schedules,
        }
    }

    /// `summary.json` (docs/summary.md) as a value: the metric, target, margin, the best
    /// schedule's name and every schedule's verdict and scores, in the ranking's order.
    /// Infinite or unknown numbers are `null`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.summary()).expect("plain data serialises")
    }

    /// `summary.json`'s text: [`Scoreboard::to_json`] with its keys in the documented
    /// order, pretty-printed.
    pub fn to_json_text(&self) -> String {
        serde_json::to_string_pretty(&self.summary()).expect("plain data serialises") + "\n"
    }
}

/// Scores every candidate and gives each its verdict (module docs). `order` is
/// [`rank`]'s; `margin` `None` takes [`Metric::default_margin`] of the best's IQM.
pub(super) fn score(
    names: &[String],
    stats: &[CandidateStats],
    order: &[usize],
    metric: &Metric,
    target: Option<f64>,
    margin: Option<f64>,
    chance: Option<f64>,
) -> Scoreboard {
    let complete = |i: usize| {
        let s = &stats[i];
        s.runs > 0 && s.completed == s.runs && s.failed.is_empty()
    };
    let best = order.first().copied().filter(|&i| complete(i));
    let margin_default = margin.is_none();
    let margin = margin
        .unwrap_or_else(|| metric.default_margin(best.map_or(f64::NAN, |b| stats[b].final_iqm)));
    // Oriented finals per seed, once per schedule (the best's are compared with every
    // other's); a seed without a value counts as the worst possible.
    let oriented: Vec<Vec<f64>> = stats
        .iter()
        .map(|s| {
            s.scores
                .iter()
                .map(|t| {
                    t.final_value
                        .map_or(f64::NEG_INFINITY, |v| metric.orient(v))
                })
                .collect()
        })
        .collect();
    let schedules = (0..stats.len())
        .map(|i| {
            let s = &stats[i];
            let finals: Vec<f64> = s.scores.iter().filter_map(|t| t.final_value).collect();
            let epochs: Vec<f64> = s.scores.iter().map(|t| t.epochs_to_target).collect();
            let steps: Vec<f64> = s.scores.iter().map(|t| t.steps_to_target).collect();
            // Unmeasured seconds (a cluster task read at its end) are left out, not guessed.
            let seconds: Vec<f64> = s
                .scores
                .iter()
                .map(|t| t.seconds_to_target)
                .filter(|x| !x.is_nan())
                .collect();
            let verdict = if !complete(i) {
                Verdict::Incomplete {
                    failure: if s.failed.is_empty() {
                        "no trial ran".to_string()
                    } else {
                        s.failed
                            .iter()
                            .map(|(seed, _, what)| format!("seed {seed}: {what}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                }
            } else if Some(i) == best {
                Verdict::Best
            } else if let Some(b) = best {
                let d: Vec<f64> = oriented[b]
                    .iter()
                    .zip(&oriented[i])
                    .map(|(x, y)| x - y)
                    .collect();
                against_best(&d, margin)
            } else {
                // Unreachable by the ranking (complete schedules rank first, so a complete
                // one means a best), but a verdict is never a panic.
                Verdict::Undecided { seeds_needed: None }
            };
            let p_improvement = best.filter(|&b| b != i).map(|b| {
                let (x, y) = (&oriented[i], &oriented[b]);
                let (lo, hi) = poi_ci(x, y, BOOTSTRAP_REPS, BOOTSTRAP_SEED);
                (probability_of_improvement(x, y), lo, hi)
            });
            ScheduleScore {
                name: names[i].clone(),
                seeds: s.runs,
                completed: s.completed,
                verdict,
                final_median: s.final_median,
                final_iqm: s.final_iqm,
                final_ci95: bootstrap_ci(&finals, iqm, BOOTSTRAP_REPS, BOOTSTRAP_SEED),
                median_epochs: median(&epochs),
                median_steps: median(&steps),
                median_seconds: median(&seconds),
                epochs_ci95: if target.is_some() {
                    bootstrap_ci(&epochs, median, BOOTSTRAP_REPS, BOOTSTRAP_SEED)
                } else {
                    (f64::NAN, f64::NAN)
                },
                p_improvement,
            }
        })
        .collect();
    Scoreboard {
        metric: metric.clone(),
        target,
        margin,
        margin_default,
        chance,
        best,
        schedules,
        order: order.to_vec(),
    }
}

/// A complete schedule's verdict from `d`, the best's oriented finals less its own seed
/// by seed: equivalent when the 90% paired t interval lies within `margin`, worse when
/// the 95% one excludes zero, else undecided with the seeds that would decide.
pub(crate) fn against_best(d: &[f64], margin: f64) -> Verdict {
    match (paired_interval(d, 0.90), paired_interval(d, 0.95)) {
        (Some((_, lo, hi)), _) if lo >= -margin && hi <= margin => Verdict::Equivalent,
        (_, Some((_, lo, _))) if lo > 0.0 => Verdict::Worse,
        _ => {
            let spread = Summary::of(d.iter().copied());
            Verdict::Undecided {
                seeds_needed: seeds_to_decide(spread.mean, spread.sd, margin, d.len()),
            }
        }
    }
}

/// `summary.json` in `dir`, from the same [`Scoreboard`] as the verdict and the report,
/// and `scores.jsonl`: one line per trial with what it scored (docs/summary.md).
pub fn write_summary(dir: &Path, r: &CompareResult) -> Result<(), String> {
    crate::files::write_atomic(&dir.join("summary.json"), r.board.to_json_text().as_bytes())?;
    let mut lines = String::new();
    for (i, st) in r.stats.iter().enumerate() {
        for t in &st.scores {
            let status = r
                .runs
                .iter()
                .find(|run| run.candidate == i && run.seed == t.seed)
                .map_or("", |run| run.result.status.word());
            let row = json!({
                "schedule": r.names[i],
                "seed": t.seed,
                "status": status,
                "completed": t.completed,
                "final": t.final_value.and_then(num),
                "epochs_to_target": num(t.epochs_to_target),
                "steps_to_target": num(t.steps_to_target),
                "seconds_to_target": num(t.seconds_to_target),
            });
            lines.push_str(&row.to_string());
            lines.push('\n');
        }
    }
    crate::files::write_atomic(&dir.join("scores.jsonl"), lines.as_bytes())
}
