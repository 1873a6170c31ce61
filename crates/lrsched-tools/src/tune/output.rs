//! A search's results as files and report sections: `results.csv`, `results.jsonl`,
//! `best.json` (for `train --schedule-config`), `best_compare.json` (for `compare
//! --schedules`), `score-vs-<param>.svg/.png`, and the sections of `report.html`.

use super::space::{text_of, Param};
use super::{Mode, ScoreBy, Strategy, TrialRow, TuneResult};
use crate::files::write_atomic;
use lrsched_report::html::{Section, Table};
use lrsched_report::{render_png, render_svg, Chart, Marker, Series};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The score's name in tables: `final val_acc`, `best val_loss`.
pub fn score_name(r: &TuneResult) -> String {
    let by = match r.score {
        ScoreBy::Final => "final",
        ScoreBy::Best => "best",
    };
    format!("{by} {}", r.metric)
}

/// A score as a table shows it: accuracies as percentages.
pub fn fmt_score(r: &TuneResult, s: Option<f64>) -> String {
    match s {
        Some(s) if is_fraction(&r.metric) => format!("{:.2}%", s * 100.0),
        Some(s) => format!("{s:.4}"),
        None => "-".into(),
    }
}

fn is_fraction(metric: &str) -> bool {
    crate::compare::Metric::named(metric).is_fraction()
}

/// The results table: a header and one row per trial, best first; the `note` column has
/// a failure's exit code or signal and the last line of its stderr.
pub fn table(r: &TuneResult) -> (Vec<String>, Vec<Vec<String>>) {
    let names: Vec<&str> = r.space.params.iter().map(|(n, _)| n.as_str()).collect();
    let mut header: Vec<String> = vec!["rank".into(), score_name(r)];
    header.extend(names.iter().map(|n| n.to_string()));
    header.extend(["epochs", "outcome", "seconds", "key", "note"].map(String::from));
    let rows = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut row = vec![(i + 1).to_string(), fmt_score(r, t.score)];
            row.extend(
                names
                    .iter()
                    .map(|n| t.params.get(*n).map_or("".into(), text_of)),
            );
            row.push(t.record.epochs_run.to_string());
            row.push(t.record.outcome.clone());
            row.push(format!("{:.2}", t.record.seconds));
            row.push(t.key.clone());
            row.push(t.record.note());
            row
        })
        .collect();
    (header, rows)
}

/// The table as aligned text.
pub fn format_table(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(header[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let l = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        l.trim_end().to_string()
    };
    let mut out = line(header) + "\n";
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// The files written and the plots for the report.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Every file written.
    pub files: Vec<PathBuf>,
    /// `best.json`, when some trial has a score.
    pub best: Option<PathBuf>,
    /// `best_compare.json`, beside it.
    pub best_compare: Option<PathBuf>,
    /// The score-vs-parameter plots as SVG, for the report.
    pub svgs: Vec<String>,
    /// Plots that could not be drawn, and why.
    pub notes: Vec<String>,
}

/// The files a search writes into its folder ([`write_files`], and the CLI's
/// `report.html`), so each can be checked before any trial runs.
///
/// ```
/// use lrsched_tools::tune::{output::output_names, space::Space};
/// let space = Space::parse("schedule = \"constant(lr={lr})\"\n[params]\nlr = { choice = [0.1] }").unwrap();
/// let names = output_names(&space);
/// assert!(names.contains(&"results.jsonl".to_string()));
/// assert!(names.contains(&"score-vs-lr.png".to_string()));
/// ```
pub fn output_names(space: &super::space::Space) -> Vec<String> {
    let mut names: Vec<String> = [
        "results.csv",
        "results.jsonl",
        "best.json",
        "best_compare.json",
        "report.html",
        "predictions.json",
    ]
    .map(String::from)
    .to_vec();
    for (name, _) in &space.params {
        names.push(format!("score-vs-{name}.svg"));
        names.push(format!("score-vs-{name}.png"));
    }
    names
}

/// Writes the result files into `dir`. `compare_extra` goes into `best_compare.json`'s
/// entry beside the schedule (e.g. the optimizer the search trained with).
pub fn write_files(
    r: &TuneResult,
    dir: &Path,
    compare_extra: &Map<String, Value>,
) -> Result<Written, String> {
    let mut w = Written::default();
    let names: Vec<&str> = r.space.params.iter().map(|(n, _)| n.as_str()).collect();
    let mut csv = format!(
        "rank,key,epochs,outcome,score,epochs_run,seconds,exit_code,signal,{},schedule,message\n",
        names.join(",")
    );
    let mut jsonl = String::new();
    for (i, t) in r.rows.iter().enumerate() {
        let opt = |x: Option<i32>| x.map_or(String::new(), |c| c.to_string());
        let mut cells = vec![
            (i + 1).to_string(),
            t.key.clone(),
            t.budget.to_string(),
            t.record.outcome.clone(),
            t.score.map_or(String::new(), |s| s.to_string()),
            t.record.epochs_run.to_string(),
            format!("{:.3}", t.record.seconds),
            opt(t.record.exit_code),
            opt(t.record.signal),
        ];
        cells.extend(
            names
                .iter()
                .map(|n| t.params.get(*n).map_or("".into(), text_of)),
        );
        cells.push(t.line.clone());
        cells.push(t.record.message.clone());
        csv.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
        let mut j = serde_json::to_value(&t.record).expect("records serialise");
        if let Value::Object(m) = &mut j {
            m.insert("rank".into(), json!(i + 1));
            m.insert("score".into(), json!(t.score));
            m.insert("params".into(), json!(t.params));
            m.insert("schedule".into(), json!(t.line));
            m.insert("schedule_config".into(), t.schedule.clone());
            m.insert("epochs".into(), json!(t.budget));
        }
        jsonl.push_str(&j.to_string());
        jsonl.push('\n');
    }
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<PathBuf, String> {
        let p = dir.join(name);
        write_atomic(&p, bytes)?;
        files.push(p.clone());
        Ok(p)
    };
    put("results.csv", csv.as_bytes())?;
    put("results.jsonl", jsonl.as_bytes())?;
    if let Some(b) = r.best() {
        let config = serde_json::to_string_pretty(&b.schedule).expect("JSON") + "\n";
        w.best = Some(put("best.json", config.as_bytes())?);
        let mut entry = json!({"name": "tuned", "schedule": b.schedule});
        if let Value::Object(m) = &mut entry {
            m.extend(compare_extra.clone());
        }
        let list = serde_json::to_string_pretty(&json!([entry])).expect("JSON") + "\n";
        w.best_compare = Some(put("best_compare.json", list.as_bytes())?);
    }
    for (name, p) in &r.space.params {
        match plot_param(r, name, p) {
            Ok(Some(chart)) => {
                let svg = render_svg(&chart).map_err(|e| e.to_string())?;
                let png = render_png(&chart, 960, 560).map_err(|e| e.to_string())?;
                put(&format!("score-vs-{name}.svg"), svg.as_bytes())?;
                put(&format!("score-vs-{name}.png"), &png)?;
                w.svgs.push(svg);
            }
            Ok(None) => {}
            Err(e) => w.notes.push(format!("no plot for `{name}`: {e}")),
        }
    }
    w.files = files;
    Ok(w)
}

/// The report's sections: the best trial and how the search ran, the plots, every trial,
/// and the failures with their stderr.
pub fn sections(r: &TuneResult, svgs: &[String]) -> Vec<Section> {
    let mut text = Vec::new();
    match r.best() {
        Some(b) if r.chosen.is_some() => text.push(format!(
            "Best over seeds (the section below): {} (trial {}; {} {} at the search's seed).",
            b.line,
            b.key,
            score_name(r),
            fmt_score(r, b.score),
        )),
        Some(b) => text.push(format!(
            "Best: {} {} with {} ({} epochs; trial {}).",
            score_name(r),
            fmt_score(r, b.score),
            b.line,
            b.budget,
            b.key
        )),
        None => text.push("No trial has a score: no best.json.".into()),
    }
    let bad = r.rows.iter().filter(|t| t.score.is_none()).count();
    if bad > 0 {
        text.push(format!(
            "{bad} trial(s) have no score (diverged, failed, timed out, bad output or no report); they rank last and are not plotted."
        ));
    }
    let trained: u64 = r.rows.iter().map(|t| t.record.epochs_run).sum();
    let how = match &r.strategy {
        Strategy::Grid { points } => format!("Grid search, {points} points per range."),
        Strategy::Random { trials, seed } => format!("Random search, {trials} trials, seed {seed}."),
        Strategy::Predict { points, top_k, .. } => format!(
            "Predicted search: a grid of {points} points per range predicted by the loss-curve law fitted to two runs; the {top_k} best predicted were run (the section below)."
        ),
        Strategy::Asha {
            trials,
            seed,
            eta,
            min_epochs,
        } => format!(
            "Asynchronous successive halving: {trials} configurations (seed {seed}), rungs at {} epochs, a trial goes on past a rung only in the top 1/{eta} of those that reached it; {trained} epochs trained in all (every trial to the end would be {}).",
            super::asha::rungs(*min_epochs, r.epochs, *eta)
                .unwrap_or_default()
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            (*trials as u64).saturating_mul(r.epochs)
        ),
    };
    text.push(format!(
        "{how} Trainer: {}. Score: the {} {} of each trial ({}).",
        r.trainer,
        match r.score {
            ScoreBy::Final => "last epoch's",
            ScoreBy::Best => "best epoch's",
        },
        r.metric,
        match r.mode {
            Mode::Max => "higher is better",
            Mode::Min => "lower is better",
        }
    ));
    let (header, rows) = table(r);
    let mut out = vec![
        Section {
            heading: "Best".into(),
            text,
            ..Section::default()
        },
        Section {
            heading: "Score against each parameter".into(),
            text: vec!["Each dot is one trial; a dashed line marks the best trial's value.".into()],
            svgs: svgs.to_vec(),
            table: None,
        },
        Section {
            heading: "All trials".into(),
            text: vec![],
            svgs: vec![],
            table: Some(Table { header, rows }),
        },
    ];
    let failed: Vec<&TrialRow> = r.rows.iter().filter(|t| !t.record.is_usable()).collect();
    if !failed.is_empty() {
        out.push(Section {
            heading: "Trials that did not finish well".into(),
            text: failed
                .iter()
                .map(|t| {
                    let mut tail = t.record.stderr_tail.join("\n");
                    if let Some(e) = &t.record.error_line {
                        if !tail.contains(e.as_str()) {
                            tail = format!("{e}\n...\n{tail}");
                        }
                    }
                    format!(
                        "{} ({}): {}{}",
                        t.key,
                        t.line,
                        t.record.message,
                        if tail.trim().is_empty() {
                            String::new()
                        } else {
                            format!(". Last lines of stderr:\n{tail}")
                        }
                    )
                })
                .collect(),
            ..Section::default()
        });
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Score against one parameter: a dot per trial, one colour per epochs reached.
fn plot_param(r: &TuneResult, name: &str, p: &Param) -> Result<Option<Chart>, String> {
    let score_name = score_name(r);
    // Choices that are not numbers go on the x axis by their position in the list.
    let choices: Option<&Vec<Value>> = match p {
        Param::Choice(c) if c.iter().any(|v| !v.is_number()) => Some(c),
        _ => None,
    };
    let x_of = |v: &Value| match choices {
        Some(c) => c.iter().position(|x| x == v).map(|i| i as f64),
        None => v.as_f64(),
    };
    let percent = is_fraction(&r.metric);
    let scale = if percent { 100.0 } else { 1.0 };
    let x_label = match choices {
        Some(c) => format!(
            "{name} ({})",
            c.iter()
                .enumerate()
                .map(|(i, v)| format!("{i} = {}", text_of(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => name.to_string(),
    };
    let y_label = if percent {
        format!("{score_name} (%)")
    } else {
        score_name.clone()
    };
    let mut chart =
        Chart::new(format!("{score_name} against {name}"), x_label, y_label).with_log_x(p.is_log());
    let mut budgets: Vec<u64> = r.rows.iter().map(|t| t.budget).collect();
    budgets.sort_unstable();
    budgets.dedup();
    for (i, e) in budgets.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = r
            .rows
            .iter()
            .filter(|t| t.budget == *e)
            .filter_map(|t| Some((x_of(t.params.get(name)?)?, t.score? * scale)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // A gap after every point: the renderer draws each lone point as a dot, not a line.
        let dots: Vec<(f64, f64)> = pts.iter().flat_map(|&p| [p, (p.0, f64::NAN)]).collect();
        let label = if budgets.len() > 1 {
            format!("{e} epoch{}", if *e == 1 { "" } else { "s" })
        } else {
            "one dot per trial".into()
        };
        chart = chart.with_series(Series::new(label, dots).with_color(i));
    }
    if chart.series.is_empty() {
        return Ok(None);
    }
    // The x axis spans exactly the data, which puts the extreme trials on its edges (half
    // hidden by the axis line). A band widens the axis like data does; two entries at the
    // same y enclose no area, but leave a faint hairline: it goes where the x axis hides
    // it (y = 0, when the axis starts there anyway) or else along the lowest score.
    let pts = || chart.series.iter().flat_map(|s| &s.points);
    let ext = |v: Vec<f64>| {
        v.into_iter()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
    };
    let (lo, hi) = ext(pts().map(|p| p.0).collect());
    let (ylo, yhi) = ext(pts().map(|p| p.1).collect());
    let y = if ylo >= 0.0 && ylo <= 0.35 * yhi {
        0.0
    } else {
        ylo
    };
    let (plo, phi) = if p.is_log() {
        let f = (hi / lo).powf(0.04).max(1.1);
        (lo / f, hi * f)
    } else {
        let d = if hi > lo {
            (hi - lo) * 0.04
        } else {
            lo.abs().max(1.0) * 0.5
        };
        (lo - d, hi + d)
    };
    let first = chart.series.remove(0);
    chart
        .series
        .insert(0, first.with_band(vec![(plo, y, y), (phi, y, y)]));
    if let Some(x) = r.best().and_then(|b| x_of(b.params.get(name)?)) {
        chart = chart.with_marker(Marker::new(x, "best"));
    }
    Ok(Some(chart))
}
