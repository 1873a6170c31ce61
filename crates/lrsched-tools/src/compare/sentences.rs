//! The verdict's sentences, all read from the [`Scoreboard`].

use super::report::{join_names, show_ci, show_seconds, show_target, show_value};
use super::score::{Scoreboard, Verdict};
use super::CandidateStats;
use std::collections::BTreeSet;

/// The verdict's sentences, all from `board`.
pub(super) fn verdict(
    board: &Scoreboard,
    stats: &[CandidateStats],
    target_chosen: bool,
) -> Vec<String> {
    let metric = &board.metric;
    let mut out = Vec::new();
    let names: Vec<&str> = board.schedules.iter().map(|s| s.name.as_str()).collect();
    if !stats.iter().any(|s| s.final_value.n > 0) {
        out.push(format!(
            "No trial reported {}: nothing to rank (see each trial's status below).",
            metric.name
        ));
        return out;
    }
    let way = if metric.higher_is_better {
        "higher"
    } else {
        "lower"
    };
    let with = |v: &dyn Fn(&Verdict) -> bool| -> Vec<usize> {
        board
            .order
            .iter()
            .copied()
            .filter(|&i| v(&board.schedules[i].verdict))
            .collect()
    };
    let seeds = stats.first().map_or(0, |s| s.runs);
    match board.best {
        None => out.push(format!(
            "No schedule completed every seed, so none is called best: {} (see Failures).",
            with(&|v| matches!(v, Verdict::Incomplete { .. }))
                .iter()
                .map(|&i| names[i])
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(b) => {
            let s = &board.schedules[b];
            let spread = if seeds > 1 {
                format!(
                    ", {}",
                    show_ci(metric, s.final_ci95, stats[b].final_value.n)
                )
            } else {
                String::new()
            };
            out.push(format!(
                "{} has the best final {} ({}, the interquartile mean over {} seed{}{spread}; {way} is better): verdict best.",
                s.name,
                metric.name,
                show_value(metric, s.final_iqm),
                seeds,
                if seeds == 1 { "" } else { "s" },
            ));
            if seeds < 2 {
                out.push("With one seed the spread between seeds is unknown, so no other schedule can be called equivalent or worse (each is undecided): rerun with --seeds 5 or more to tell which differences are real.".into());
            }
            let group = |v: &dyn Fn(&Verdict) -> bool| -> Vec<&str> {
                with(v).iter().map(|&i| names[i]).collect()
            };
            let eq = group(&|v| *v == Verdict::Equivalent);
            if !eq.is_empty() {
                out.push(format!(
                    "Equivalent to {} within {}: {} (the 90% interval of the paired differences lies inside the margin; two one-sided t-tests at 5%).",
                    s.name,
                    metric.show_margin(board.margin),
                    join_names(&eq)
                ));
            }
            let worse = group(&|v| *v == Verdict::Worse);
            if !worse.is_empty() {
                out.push(format!(
                    "Worse than {}: {} (paired t-test over {seeds} seeds, 5% level).",
                    s.name,
                    join_names(&worse)
                ));
            }
            let undecided: Vec<String> = with(&|v| matches!(v, Verdict::Undecided { .. }))
                .iter()
                .map(|&i| match board.schedules[i].verdict {
                    Verdict::Undecided {
                        seeds_needed: Some(n),
                    } => format!("{} (about {n} seeds would decide)", names[i]),
                    _ => names[i].to_string(),
                })
                .collect();
            if !undecided.is_empty() && seeds > 1 {
                let list: Vec<&str> = undecided.iter().map(String::as_str).collect();
                out.push(format!(
                    "Undecided against {} at {seeds} seeds: {}.",
                    s.name,
                    join_names(&list)
                ));
            }
        }
    }
    let incomplete = with(&|v| matches!(v, Verdict::Incomplete { .. }));
    if !incomplete.is_empty() {
        let list: Vec<String> = incomplete
            .iter()
            .map(|&i| {
                let s = &stats[i];
                format!(
                    "{} ({} of {} seeds did not complete: {})",
                    names[i],
                    s.runs - s.completed,
                    s.runs,
                    s.failed
                        .iter()
                        .map(|f| f.1)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        let list: Vec<&str> = list.iter().map(String::as_str).collect();
        out.push(format!(
            "Incomplete, so never ranked above a complete schedule: {}.",
            join_names(&list)
        ));
    }
    out.push(format!(
        "Margin: {}{}.",
        metric.show_margin(board.margin),
        if board.margin_default {
            " (the default; --margin sets it)"
        } else {
            " (--margin)"
        }
    ));
    time_to_target(&mut out, board, stats, target_chosen);
    out
}

/// The time-to-target sentence: who reached the target first on every seed.
fn time_to_target(
    out: &mut Vec<String>,
    board: &Scoreboard,
    stats: &[CandidateStats],
    target_chosen: bool,
) {
    let metric = &board.metric;
    let names: Vec<&str> = board.schedules.iter().map(|s| s.name.as_str()).collect();
    if let Some(t) = board.target {
        let tv = show_target(metric, t);
        let how = if target_chosen {
            format!(
                "{tv} (chosen: the median best of the complete schedules, so about half reach it)"
            )
        } else {
            tv.clone()
        };
        let all: Vec<usize> = (0..stats.len())
            .filter(|&i| stats[i].runs > 0 && stats[i].reached == stats[i].runs)
            .collect();
        if all.is_empty() {
            let most = (0..stats.len()).max_by_key(|&i| stats[i].reached);
            match most.filter(|&i| stats[i].reached > 0) {
                Some(i) => out.push(format!(
                    "No schedule reached {how} on every seed; {} got there on the most ({}/{} seeds).",
                    names[i], stats[i].reached, stats[i].runs
                )),
                None => out.push(format!("No schedule reached {how}.")),
            }
        } else {
            let fastest = all
                .iter()
                .map(|&i| board.schedules[i].median_epochs)
                .fold(f64::INFINITY, f64::min);
            let tied: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| (board.schedules[i].median_epochs - fastest).abs() < 1e-9)
                .collect();
            // Seconds are unknown where a trial's lines were read only at its end (a fast
            // task on a cluster): said only where measured.
            let secs = tied
                .iter()
                .filter(|&&i| board.schedules[i].median_seconds.is_finite())
                .map(|&i| {
                    format!(
                        "; {} {}",
                        names[i],
                        show_seconds(board.schedules[i].median_seconds)
                    )
                })
                .collect::<String>();
            let who = tied.iter().map(|&i| names[i]).collect::<Vec<_>>();
            let tie = if who.len() == 1 { "" } else { " (a tie)" };
            let mut s = format!(
                "{} reached {how} first{tie}, after {:.1} epochs (median over seeds{secs})",
                join_names(&who),
                fastest
            );
            if all.len() == stats.len() && fastest <= 1.0 + 1e-9 && tied.len() == all.len() {
                s.push_str(": every schedule reached it in its first epoch, so this target measures nothing");
            }
            s.push('.');
            out.push(s);
        }
    }
}
