//! What `find-lr` leaves in its folder: `suggested.json` (a ready schedule on the
//! suggested rate), `find_lr.json` (every measurement), the loss-against-rate chart
//! (`loss_vs_lr.svg`/`.png`) and `report.html`. The measurements come first: a chart
//! that cannot be drawn is a note, never the loss of `find_lr.json`. Also the summary a
//! person reads first.

use crate::files::write_atomic;
use crate::find_lr::{self, fmt_lr, Apply, FindLrResult};
use crate::trainer::Trainer;
use lrsched_report::html::Section;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The ready config written from the suggestion.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Where it was written (`suggested.json`).
    pub path: PathBuf,
    /// Where its rate comes from: `validated`, or the rule whose median it is.
    pub rule: String,
    /// That rate.
    pub lr: f64,
    /// The schedule config.
    pub config: Value,
}

/// Writes `out/suggested.json`: `apply`'s schedule on the rate to use (the validated
/// rate after `--validate`, else the rules'; [`FindLrResult::rate_to_use`]), read back as
/// `train` would read it (over the built-in run's shape, or a 10-epoch run of the
/// program's steps per epoch), so a bad config is caught here and not later. The file is
/// one schedule config, which `train --schedule-config` and `compare --schedules` both
/// take. `None` when nothing is applied or no rule gave a rate.
pub fn write_suggested(
    out: &Path,
    result: &FindLrResult,
    trainer: &Trainer,
    apply: Option<Apply>,
) -> Result<Option<Applied>, String> {
    let (Some(kind), Some((rule, lr))) = (apply, result.rate_to_use()) else {
        return Ok(None);
    };
    let path = out.join("suggested.json");
    let config = kind.config(lr);
    let shape = match trainer {
        Trainer::BuiltIn(b) => {
            lrsched::time::RunShape::new(b.split.train.len() as u64, b.config.batch_size as u64)
                .with_epochs(b.config.epochs as f64)
        }
        Trainer::Command(_) => {
            lrsched::time::RunShape::new(result.steps_per_epoch.unwrap_or(100), 1).with_epochs(10.0)
        }
    };
    lrsched::config::from_value_with_shape(config.clone(), Some(&shape))
        .map_err(|e| format!("the suggested config does not load: {e}"))?;
    let text = serde_json::to_string_pretty(&config).unwrap_or_default() + "\n";
    write_atomic(&path, text.as_bytes())?;
    Ok(Some(Applied {
        path,
        rule,
        lr,
        config,
    }))
}

/// Writes `find_lr.json`, the chart and `report.html` into `out`; `command_line` is the
/// command as typed, for both. Returns notes for the user (a chart not drawn).
pub fn write_files(
    out: &Path,
    result: &FindLrResult,
    trainer: &Trainer,
    applied: Option<&Applied>,
    command_line: &str,
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let mut json_value = find_lr::to_json(result);
    if let Value::Object(map) = &mut json_value {
        map.insert("command".into(), json!(command_line));
        if let Trainer::BuiltIn(b) = trainer {
            map.insert("data".into(), json!(b.config.data));
            map.insert("batch_size".into(), json!(b.config.batch_size));
        }
        map.insert(
            "applied".into(),
            json!(applied.map(|a| json!({"path": a.path, "config": a.config}))),
        );
    }
    let text = serde_json::to_string_pretty(&json_value).unwrap_or_default() + "\n";
    write_atomic(&out.join("find_lr.json"), text.as_bytes())?;

    if result.usable().count() > 0 {
        let chart = find_lr::chart(result);
        let drawn = lrsched_report::render_svg(&chart)
            .and_then(|svg| Ok((svg, lrsched_report::render_png(&chart, 1200, 700)?)));
        match drawn {
            Ok((svg, png)) => {
                write_atomic(&out.join("loss_vs_lr.svg"), svg.as_bytes())?;
                write_atomic(&out.join("loss_vs_lr.png"), &png)?;
            }
            Err(e) => notes.push(format!("the loss-vs-rate chart was not drawn: {e}")),
        }
    }

    let mut sections = find_lr::sections(result);
    if let Some(a) = applied {
        let how = how_to_use(&a.path, trainer);
        sections.push(Section {
            heading: "Ready config".into(),
            text: vec![
                format!(
                    "{} from the {} rate {:.3e}:",
                    a.path.display(),
                    a.rule,
                    a.lr
                ),
                serde_json::to_string(&a.config).unwrap_or_default(),
                how,
            ],
            ..Section::default()
        });
    }
    let html = lrsched_report::html::render_html("lrsched find-lr", command_line, &sections);
    write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(notes)
}

/// The command lines that use `suggested.json`, as the report and the closing line say
/// them: for the built-in trainer `train --schedule-config` and `compare --schedules`
/// (with this find-lr's data, model and optimizer flags, which lrsched does not retype);
/// for a program, the whole `compare` line, its command, folder, steps per epoch and
/// timeout quoted for a POSIX shell.
///
/// ```
/// use lrsched_tools::find_lr_files::how_to_use;
/// use lrsched_tools::process::CommandTrainer;
/// use lrsched_tools::trainer::Trainer;
/// let mut c = CommandTrainer::new("python train.py --data-dir 'my data'");
/// c.steps_per_epoch = Some(390);
/// let line = how_to_use(std::path::Path::new("out/suggested.json"), &Trainer::Command(c));
/// assert_eq!(line, "Compare it on your program: lrsched compare --command 'python train.py --data-dir '\\''my data'\\''' --steps-per-epoch 390 --schedules out/suggested.json");
/// ```
pub fn how_to_use(path: &Path, trainer: &Trainer) -> String {
    let q = |s: &str| crate::files::shell_quote(s);
    let file = q(&path.display().to_string());
    match trainer {
        Trainer::BuiltIn(_) => format!(
            "Train with: lrsched train --schedule-config {file}, or compare it: lrsched compare --schedules {file} (each with this find-lr's data, model, optimizer and batch flags)."
        ),
        Trainer::Command(c) => {
            let mut line = format!("lrsched compare --command {}", q(&c.command));
            if let Some(dir) = &c.cwd {
                line += &format!(" --cwd {}", q(&dir.display().to_string()));
            }
            if let Some(n) = c.steps_per_epoch {
                line += &format!(" --steps-per-epoch {n}");
            }
            if let Some(t) = c.timeout {
                line += &format!(" --trial-timeout {}", t.as_secs_f64());
            }
            format!("Compare it on your program: {line} --schedules {file}")
        }
    }
}

/// At most three lines of a failed program's stderr worth printing: the lines that say
/// what went wrong (`Error:`, `panicked`, a Python `Traceback`/`...Error:`) and the last
/// line, since the tail alone is often the bottom of a backtrace. The report and
/// find_lr.json keep the whole tail.
pub fn stderr_gist(tail: &[String]) -> Vec<&str> {
    let lines: Vec<&str> = tail
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let telling = |l: &&str| {
        let low = l.to_lowercase();
        low.contains("error") || low.contains("panicked") || low.contains("traceback")
    };
    let mut out: Vec<&str> = lines.iter().copied().filter(telling).take(2).collect();
    match lines.last() {
        Some(last) if !out.contains(last) => out.push(last),
        _ => {}
    }
    if out.len() < 2 {
        // Nothing says "error": the last lines are the best there is.
        out = lines[lines.len().saturating_sub(3)..].to_vec();
    }
    out
}

/// What a person reads first, as lines of text: the sweep, how each seed's sweep ended, the rules'
/// suggestions with their spread, the cost and the rate to use.
pub fn summary(result: &FindLrResult, trainer: &Trainer) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let spec = &result.spec;
    let who = match trainer {
        Trainer::BuiltIn(b) => format!("{}, batch {}", b.config.data, b.config.batch_size),
        Trainer::Command(c) => format!("`{}`", c.command),
    };
    let _ = writeln!(
        out,
        "range test on {who}: {} steps from {:e} to {:e} ({}), {} seed{}",
        spec.steps,
        spec.start,
        spec.end,
        spec.mode.name(),
        spec.seeds,
        if spec.seeds == 1 { "" } else { "s" }
    );
    for r in &result.runs {
        let all = r.usable() && r.steps_run() as u64 >= spec.steps;
        if spec.seeds > 1 || !all {
            let _ = writeln!(
                out,
                "  seed {}: {} steps, {}",
                r.seed,
                r.steps_run(),
                r.describe(spec.steps)
            );
        }
        if !r.usable() {
            for l in stderr_gist(&r.stderr_tail) {
                let _ = writeln!(out, "    stderr: {l}");
            }
        }
    }
    if result.usable().count() == 0 {
        return out;
    }
    if spec.seeds == 1 {
        for s in &result.spread {
            let _ = writeln!(out, "{:<11} {}", s.name, fmt_lr(s.values.first().copied()));
        }
    } else {
        // The interval is the seeds' whole range: the smallest and largest seed's rate.
        let _ = writeln!(
            out,
            "{:<11} {:>10} {:>10} {:>10}  max/min",
            "rule", "seeds' min", "median", "seeds' max"
        );
        for s in &result.spread {
            let _ = writeln!(
                out,
                "{:<11} {:>10} {:>10} {:>10}  {}",
                s.name,
                fmt_lr(s.min()),
                fmt_lr(s.median()),
                fmt_lr(s.max()),
                s.ratio().map_or("-".into(), |r| format!("{r:.1}x"))
            );
        }
    }
    let _ = writeln!(
        out,
        "{}",
        find_lr::cost_line(&result.cost(), result.steps_per_epoch)
    );
    if let Some(v) = &result.validation {
        let seeds = v.points.first().map_or(0, |p| p.seeds.len());
        let _ = writeln!(
            out,
            "validation: {} rates x {seeds} seed(s), {} epoch(s) each, constant rate; median last {} ({} is better)",
            v.points.len(),
            v.epochs,
            v.metric,
            if v.higher_is_better { "higher" } else { "lower" }
        );
        for (i, p) in v.points.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {:>10} {:>8} {}/{seeds} ok  {}{}",
                fmt_lr(Some(p.lr)),
                p.median.map_or("-".into(), |m| format!("{m:.4}")),
                p.completed,
                p.from.join(", "),
                if v.best == Some(i) { "  <- best" } else { "" }
            );
        }
    }
    match result.suggested {
        Some((rule, lr)) => {
            let _ = writeln!(out, "suggested lr: {lr:.3e} ({rule})");
            if let Some((val, v)) = result
                .validation
                .as_ref()
                .and_then(|val| Some((val, val.lr()?)))
            {
                let edge = val.at_edge().map_or(String::new(), |e| {
                    format!(", the grid's {e} rate: one beyond may train better (widen --validate-factors)")
                });
                // The winner beside the next one, with what the seeds can tell of the gap.
                let margin = val.margin().map_or(String::new(), |m| format!("; {m}"));
                let _ = writeln!(
                    out,
                    "validated lr: {v:.3e} ({:.2}x the {rule} rate; trained best of the grid{edge}{margin})",
                    v / lr
                );
            } else if result.validation.is_some() {
                let _ = writeln!(
                    out,
                    "validated lr: none (no validation run gave a number); the {rule} rate stands"
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
            "no suggestion: the curve is too short (ran {:.0} of {} steps); try more --steps or a lower --start",
            result.cost().updates_per_sweep,
            spec.steps
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::stderr_gist;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stderr_gist_keeps_the_error_above_a_backtrace() {
        let tail = lines(&[
            "Error: cannot seed the CPU rng",
            "stack backtrace:",
            "   0: main",
            "  20: _start",
            "",
        ]);
        assert_eq!(
            stderr_gist(&tail),
            ["Error: cannot seed the CPU rng", "  20: _start"]
        );
        // Nothing says error: the last three non-empty lines.
        let tail = lines(&["a", "b", "c", "d", " "]);
        assert_eq!(stderr_gist(&tail), ["b", "c", "d"]);
        assert!(stderr_gist(&[]).is_empty());
    }
}
