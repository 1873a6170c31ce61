//! The report's parts: values and targets as text, the ranking table, the interval bars,
//! the failures table and the sections that hold them.

use super::curves::charts;
use super::score::{ScheduleScore, Verdict};
use super::{CompareResult, Metric};
use crate::stats::Summary;
use lrsched_report::html::{Section, Table};
use lrsched_report::render_svg;

/// A value for text: a percentage for accuracies, else 4 significant digits.
pub fn show_value(metric: &Metric, v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if metric.is_fraction() {
        format!("{:.2}%", v * 100.0)
    } else {
        format!("{v:.4}")
    }
}

/// A target for headers and sentences: `97.5%` for an accuracy (no trailing zeros).
pub fn show_target(metric: &Metric, t: f64) -> String {
    if metric.is_fraction() {
        let p = ((t * 100.0) * 100.0).round() / 100.0;
        format!("{p}%")
    } else {
        format!("{t}")
    }
}

fn show_spread(metric: &Metric, s: &Summary) -> String {
    if s.n == 0 {
        return "-".into();
    }
    let scale = if metric.is_fraction() { 100.0 } else { 1.0 };
    if s.n < 2 {
        return show_value(metric, s.mean);
    }
    let digits = if metric.is_fraction() { 2 } else { 4 };
    format!("{} ± {:.digits$}", show_value(metric, s.mean), s.sd * scale)
}

/// Seconds as a reader reads them: `1.25 s`, and milliseconds below a tenth of a second
/// (a digits epoch takes a few), never `0.00 s`.
pub(super) fn show_seconds(x: f64) -> String {
    if x < 0.1 {
        format!("{:.1} ms", x * 1000.0)
    } else {
        format!("{x:.2} s")
    }
}

/// An interval for sentences, with the seeds it is over (a bootstrap interval over a
/// handful of seeds is narrower than what they can tell): `95% bootstrap CI over 3 seeds
/// 94.10% to 95.30%`.
pub(super) fn show_ci(metric: &Metric, (lo, hi): (f64, f64), seeds: usize) -> String {
    format!(
        "95% bootstrap CI over {seeds} seed{} {} to {}",
        if seeds == 1 { "" } else { "s" },
        show_value(metric, lo),
        show_value(metric, hi)
    )
}

/// Names joined as `a`, `a and b`, `a, b and c`.
pub(super) fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => a.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The ranking table: one row per candidate, best first, with its verdict (from the
/// same [`Scoreboard`] as the sentences and `summary.json`).
pub fn ranking_table(r: &CompareResult) -> Table {
    let m = &r.metric;
    let mut header = vec![
        "#".to_string(),
        "schedule".to_string(),
        "verdict".to_string(),
        format!("final {} (IQM)", m.name),
        format!("best {}", m.name),
    ];
    if let Some(t) = r.target {
        header.push(format!("epochs to {}", show_target(m, t)));
        header.push(format!("seconds to {}", show_target(m, t)));
    }
    if r.board.best.is_some() {
        header.push("P(beats the best)".into());
    }
    header.push("trials".into());
    let rows = r
        .order
        .iter()
        .enumerate()
        .map(|(place, &i)| {
            let s = &r.stats[i];
            let b = &r.board.schedules[i];
            let final_cell = if s.final_value.n == 0 {
                "-".to_string()
            } else if s.final_value.n < 2 {
                show_value(m, b.final_iqm)
            } else {
                format!(
                    "{}\n{}; median {}",
                    show_value(m, b.final_iqm),
                    show_ci(m, b.final_ci95, s.final_value.n),
                    show_value(m, b.final_median)
                )
            };
            let mut row = vec![
                (place + 1).to_string(),
                r.names[i].clone(),
                b.verdict.cell(),
                final_cell,
                show_spread(m, &s.best_value),
            ];
            if r.target.is_some() {
                // Medians over every seed, a missed target counting as infinite
                // (AlgoPerf): "not reached" once half the seeds missed it.
                let reach = |x: f64, digits: usize| {
                    let v = if x.is_infinite() {
                        "not reached".to_string()
                    } else if x.is_nan() {
                        "-".to_string()
                    } else if x < 0.1 {
                        // A digits epoch takes milliseconds: never a row of 0.00.
                        format!("{x:.4}")
                    } else {
                        format!("{x:.digits$}")
                    };
                    if s.reached < s.runs {
                        format!("{v}\n{}/{} seeds", s.reached, s.runs)
                    } else {
                        v
                    }
                };
                row.push(reach(b.median_epochs, 1));
                row.push(reach(b.median_seconds, 2));
            }
            if r.board.best.is_some() {
                row.push(match b.p_improvement {
                    Some((p, lo, hi)) => format!(
                        "{p:.2}\n95% bootstrap CI over {} seeds {lo:.2} to {hi:.2}",
                        s.runs
                    ),
                    None => "-".into(),
                });
            }
            row.push(if s.failed.is_empty() {
                format!("{} ok", s.runs)
            } else {
                let mut words: Vec<&str> = s.failed.iter().map(|f| f.1).collect();
                words.dedup();
                let counts: Vec<String> = words
                    .iter()
                    .map(|w| format!("{} {w}", s.failed.iter().filter(|f| f.1 == *w).count()))
                    .collect();
                format!(
                    "{}/{} ok, {}\n{}",
                    s.runs - s.failed.len(),
                    s.runs,
                    counts.join(", "),
                    s.failed
                        .iter()
                        .map(|(seed, _, what)| format!("seed {seed}: {what}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            });
            row
        })
        .collect();
    Table { header, rows }
}

/// The verdict's intervals as bars: per schedule, best first, its final IQM (a dot) and
/// 95% bootstrap interval (a bar), coloured by verdict, on one shared axis. `None` when
/// no schedule has a value.
pub fn interval_bars(r: &CompareResult) -> Option<String> {
    use lrsched_report::html::escape;
    use std::fmt::Write as _;
    let b = &r.board;
    let rows: Vec<&ScheduleScore> = b
        .order
        .iter()
        .map(|&i| &b.schedules[i])
        .filter(|s| s.final_iqm.is_finite())
        .collect();
    let values = rows
        .iter()
        .flat_map(|s| [s.final_iqm, s.final_ci95.0, s.final_ci95.1])
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), v| {
        (a.min(v), z.max(v))
    });
    if rows.is_empty() || !lo.is_finite() {
        return None;
    }
    // The seeds each bar is over: those with a final value.
    let ns: Vec<usize> = b
        .order
        .iter()
        .filter(|&&i| b.schedules[i].final_iqm.is_finite())
        .map(|&i| r.stats[i].final_value.n)
        .collect();
    let (fewest, most) = (ns.iter().min(), ns.iter().max());
    let seeds_shown = match (fewest, most) {
        (Some(1), Some(1)) => "1 seed".to_string(),
        (Some(a), Some(z)) if a == z => format!("{a} seeds"),
        (Some(a), Some(z)) => format!("{a} to {z} seeds"),
        _ => "the seeds".to_string(),
    };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let (left, right, row_h) = (230.0, 700.0, 22.0);
    let x = |v: f64| left + (v - lo) / (hi - lo) * (right - left);
    let height = rows.len() as f64 * row_h + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"bars\" width=\"720\" height=\"{height}\" viewBox=\"0 0 720 {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    for (k, s) in rows.iter().enumerate() {
        let y = 16.0 + k as f64 * row_h;
        let color = match s.verdict {
            Verdict::Best => "#1a7f37",
            Verdict::Equivalent => "#2f6db3",
            Verdict::Worse => "#6e7781",
            Verdict::Undecided { .. } => "#b35900",
            Verdict::Incomplete { .. } => "#cf222e",
        };
        let name: String = s.name.chars().take(24).collect();
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" fill=\"#1d2430\">{} ({})</text>",
            y + 4.0,
            escape(&name),
            s.verdict.word()
        );
        if s.final_ci95.0.is_finite() && s.final_ci95.1.is_finite() {
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"4\" stroke-linecap=\"round\"/>",
                x(s.final_ci95.0),
                x(s.final_ci95.1)
            );
        }
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"white\" stroke=\"{color}\" stroke-width=\"2\"/>",
            x(s.final_iqm)
        );
    }
    let axis_y = rows.len() as f64 * row_h + 10.0;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" x2=\"{right}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#d9dee5\"/><text x=\"{left}\" y=\"{:.1}\" fill=\"#5b6573\">{}</text><text x=\"{right}\" y=\"{:.1}\" fill=\"#5b6573\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#5b6573\" text-anchor=\"middle\">final {} (IQM, 95% bootstrap interval over {})</text></svg>",
        axis_y + 16.0,
        escape(&show_value(&r.metric, lo)),
        axis_y + 16.0,
        escape(&show_value(&r.metric, hi)),
        (left + right) / 2.0,
        axis_y + 16.0,
        escape(&r.metric.name),
        seeds_shown
    );
    Some(svg)
}

/// The failures table: every trial that did not finish normally, with its stderr tail.
pub fn failures_table(r: &CompareResult) -> Option<Table> {
    let rows: Vec<Vec<String>> = r
        .runs
        .iter()
        .filter(|run| !run.result.status.is_usable())
        .map(|run| {
            vec![
                r.names[run.candidate].clone(),
                run.seed.to_string(),
                run.result.status.to_string(),
                run.result.stderr_tail.join("\n"),
                run.input.dir.display().to_string(),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        header: vec![
            "schedule".into(),
            "seed".into(),
            "outcome".into(),
            "last lines of stderr".into(),
            "trial folder".into(),
        ],
        rows,
    })
}

/// The report's sections: ranking and verdict, curves, failures, schedules. `setup` is a
/// sentence on what ran (trainer, data, epochs); `trainer` names the command or trainer.
pub fn sections(r: &CompareResult, setup: &str, trainer: &str) -> Vec<Section> {
    let mut text = r.verdict.clone();
    text.push(setup.to_string());
    text.push(format!("Trained by: {trainer}."));
    text.push(format!(
        "The final {m} is the interquartile mean over seeds (rliable's IQM: the mean of the middle half; with 3 seeds or fewer, the mean) with its 95% bootstrap interval ({} resamples, fixed RNG seed, so the report repeats); best {m} is the mean ± sd of each seed's best. Verdicts (one per schedule): best is the complete schedule with the best IQM; equivalent: the 90% paired t interval of its differences from the best lies within the margin {} (two one-sided tests at 5%); worse: the 95% paired t interval excludes zero; undecided: neither, with about how many seeds would decide; incomplete: a seed failed, diverged, timed out, reported no {m} or ended at chance level{}, so it never ranks above a complete schedule. Time to target is the median over all seeds of the first epoch whose {m} reached it, a seed that failed or never reached it counting as infinite (AlgoPerf), and the seconds to that epoch; P(beats the best) is the probability that a seed of the schedule ends better than a seed of the best, ties counting one half (rliable). A bootstrap interval over a handful of seeds is too narrow (it never sees a value the seeds did not draw: P(beats the best) 0.00 to 0.00 at 3 seeds says only that every seed was below every seed of the best), so the verdicts come from Student's t, which allows for that. summary.json holds the same numbers.",
        crate::scoring::BOOTSTRAP_REPS,
        r.metric.show_margin(r.board.margin),
        r.board
            .chance
            .map(|c| format!(" (chance: {})", show_value(&r.metric, c)))
            .unwrap_or_default(),
        m = r.metric.name,
    ));
    let mut sections = vec![Section {
        heading: "Ranking".into(),
        text,
        svgs: interval_bars(r).into_iter().collect(),
        table: Some(ranking_table(r)),
    }];
    let svgs: Vec<String> = charts(r)
        .iter()
        .filter_map(|c| render_svg(c).ok())
        .collect();
    sections.push(Section {
        heading: "Curves".into(),
        text: vec!["Each line is the mean over seeds; the band is one standard deviation either side (within the lowest and highest seed).".into()],
        svgs,
        table: None,
    });
    if let Some(t) = failures_table(r) {
        sections.push(Section {
            heading: "Failures".into(),
            text: vec!["Trials that did not finish normally; the others went on. Their logs are in each trial folder (stdout.log, stderr.log).".into()],
            svgs: vec![],
            table: Some(t),
        });
    }
    sections.push(Section {
        heading: "Schedules".into(),
        text: vec![],
        svgs: vec![],
        table: Some(Table {
            header: vec!["schedule".into(), "config".into()],
            rows: r
                .names
                .iter()
                .zip(&r.schedules)
                .map(|(n, s)| vec![n.clone(), s.to_string()])
                .collect(),
        }),
    });
    sections
}
