//! The charts `lrsched plot` draws: schedules over their steps, with their drops and
//! restarts marked, and a saved run's metrics (any file lrsched writes: `train
//! --metrics-out`, a trial's metrics.jsonl, compare's metrics.jsonl) as learning rate and
//! loss against step. Drawing them to PNG, SVG or a terminal is `lrsched_report`'s.

use lrsched::{AnySchedule, Schedule};
use lrsched_report::{Chart, Marker, SecondaryAxis, Series};
use std::path::Path;

/// A trace with more detected jumps than this (noise, a short cycle) is not marked: a
/// forest of dashed lines says less than none.
const MAX_MARKERS: usize = 40;
/// Legend labels longer than this are cut with an ellipsis.
pub const MAX_LABEL: usize = 56;

/// The chart of `schedules` (each with its legend label) over steps `0..n`: metric-driven
/// ones are fed `metrics` (read from the file at `metrics.0`; value i is the one after
/// the metric on line i), jumps and restarts are marked, and with `momentum` the momenta
/// they set go on a second axis.
///
/// ```
/// let s = lrsched::oneline::parse("step(lr=0.1, step_size=30, gamma=0.1)").unwrap();
/// let chart = lrsched_tools::charts::schedule_chart(vec![("step".into(), s)], 100, None, false, false).unwrap();
/// assert_eq!(chart.markers.len(), 3);
/// ```
pub fn schedule_chart(
    mut schedules: Vec<(String, AnySchedule)>,
    n: u64,
    metrics: Option<(&Path, &[f64])>,
    log_y: bool,
    momentum: bool,
) -> Result<Chart, String> {
    for (label, s) in &mut schedules {
        if !s.needs_metric() {
            continue;
        }
        let Some((path, metrics)) = metrics else {
            return Err(format!(
                "`{label}` is driven by a metric: give --metrics FILE with one value per line"
            ));
        };
        crate::trace::feed_metrics(s, metrics, path, n)?;
    }

    let steps = if n == 1 {
        "1 step".to_string()
    } else {
        format!("{n} steps")
    };
    let title = if schedules.len() == 1 {
        format!("Learning rate over {steps}")
    } else {
        format!("{} schedules over {steps}", schedules.len())
    };
    let mut chart = Chart::new(title, "step", "learning rate").with_log_y(log_y);
    let mut momenta = Vec::new();
    for (i, (label, s)) in schedules.iter().enumerate() {
        let values = s.values(0..n);
        let points = values
            .iter()
            .enumerate()
            .map(|(step, v)| (step as f64, *v))
            .collect();
        chart
            .series
            .push(Series::new(label.clone(), points).with_color(i));
        let mut marks = markers(&values);
        if let AnySchedule::Join(j) = s {
            for &b in j.boundaries.iter().filter(|&&b| b > 0 && b < n) {
                if !marks.iter().any(|m| m.0 == b) {
                    marks.push((b, "join".into()));
                }
            }
        }
        chart
            .markers
            .extend(marks.into_iter().map(|(x, l)| Marker::new(x as f64, l)));
        if momentum {
            let m: Vec<(f64, f64)> = s
                .momenta(0..n)
                .into_iter()
                .enumerate()
                .filter_map(|(step, m)| Some((step as f64, m?)))
                .collect();
            if !m.is_empty() {
                let name = if schedules.len() == 1 {
                    "momentum".to_string()
                } else {
                    format!("momentum: {}", truncate(label, MAX_LABEL - 10))
                };
                momenta.push(Series::new(name, m).with_color(i));
            }
        }
    }
    if momentum {
        if momenta.is_empty() {
            return Err(
                "--momentum: none of the schedules sets a momentum (one_cycle, cyclic and PyTorch's OneCycleLR/CyclicLR with cycle_momentum do)".into(),
            );
        }
        chart.secondary = Some(SecondaryAxis {
            label: "momentum".into(),
            series: momenta,
        });
    }
    Ok(chart)
}

/// Where a trace jumps or restarts, with a label. Kept simple on purpose:
/// - a change between two steps more than 4x larger than the change on either side
///   (and not float noise) is a jump: a drop is labelled with its factor (`×0.1`), a rise
///   after a decrease `restart`, any other rise `jump`;
/// - a smooth rise right after a decrease (a triangular cycle's trough) is `restart`.
///
/// A trace with more than [`MAX_MARKERS`] such places (noise, short cycles) gets none.
pub fn markers(v: &[f64]) -> Vec<(u64, String)> {
    let scale = v
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    if scale == 0.0 {
        return Vec::new();
    }
    let eps = 1e-9 * scale;
    let diff = |i: usize| -> f64 {
        let d = v[i] - v[i - 1];
        if d.is_finite() && d.abs() > eps {
            d
        } else {
            0.0
        }
    };
    let mut out = Vec::new();
    for i in 1..v.len() {
        let d = diff(i);
        if d == 0.0 {
            continue;
        }
        let before = if i >= 2 { diff(i - 1) } else { 0.0 };
        let after = if i + 1 < v.len() { diff(i + 1) } else { 0.0 };
        let was_falling = (1..i)
            .rev()
            .map(diff)
            .find(|d| *d != 0.0)
            .is_some_and(|d| d < 0.0);
        if d.abs() > 4.0 * before.abs().max(after.abs()) {
            let label = if d < 0.0 && v[i - 1] != 0.0 {
                format!("×{}", short(v[i] / v[i - 1]))
            } else if d < 0.0 {
                "drop".to_string()
            } else if was_falling {
                "restart".to_string()
            } else {
                "jump".to_string()
            };
            out.push((i as u64, label));
        } else if d > 0.0 && before < 0.0 {
            out.push((i as u64 - 1, "restart".to_string()));
        }
        if out.len() > MAX_MARKERS {
            return Vec::new();
        }
    }
    out
}

/// Two significant digits: a factor in a label.
fn short(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits = (1 - x.abs().log10().floor() as i32).clamp(0, 10) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `s` cut to `n` characters, the last an ellipsis, when it is longer.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// One epoch's values, as any metrics file lrsched writes holds them. A value written as
/// `null` (or `NaN`: a diverged run) is NaN, a gap in its curve.
struct Epoch {
    epoch: f64,
    /// The optimizer steps after the epoch, where the file says (train's records).
    step: Option<f64>,
    train_loss: f64,
    val_loss: f64,
    lr: f64,
    momentum: Option<f64>,
}

/// One optimizer step's rate and loss.
struct Step {
    step: f64,
    lr: f64,
    loss: f64,
}

/// One run's lines in a file: a file of `train --metrics-out` or a trial's
/// `metrics.jsonl` holds one; compare's `metrics.jsonl` one per schedule and seed.
#[derive(Default)]
struct Run {
    label: String,
    epochs: Vec<Epoch>,
    steps: Vec<Step>,
}

/// The runs of a metrics file, in the order they first appear.
#[derive(Default)]
struct Runs(Vec<Run>);

impl Runs {
    fn get(&mut self, label: String) -> &mut Run {
        match self.0.iter().position(|r| r.label == label) {
            Some(i) => &mut self.0[i],
            None => {
                self.0.push(Run {
                    label,
                    ..Run::default()
                });
                self.0.last_mut().expect("just pushed")
            }
        }
    }

    /// Reads every line of `text` (from `path`): epoch records (train's, with `step`;
    /// a protocol `{"epoch": ...}` line; compare's rows with `schedule` and `seed`),
    /// step lines (`{"step", "lr", "loss"}`), train's `lr_change` events (skipped).
    fn read(&mut self, path: &Path, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: &str| {
                format!(
                    "{}: line {}: {why} (expected the metrics lrsched writes: `train --metrics-out`, a trial's metrics.jsonl, compare's metrics.jsonl)",
                    path.display(),
                    i + 1
                )
            };
            let v = read_line(line).map_err(|e| bad(&e))?;
            let serde_json::Value::Object(map) = &v else {
                return Err(bad("not a JSON object"));
            };
            // train's `lr_change` events repeat what the step lines already say.
            if map.contains_key("event") {
                continue;
            }
            let num = |key: &str| -> Result<Option<f64>, String> {
                match map.get(key) {
                    None => Ok(None),
                    Some(serde_json::Value::Null) => Ok(Some(f64::NAN)),
                    Some(x) => x
                        .as_f64()
                        .map(Some)
                        .ok_or_else(|| bad(&format!("`{key}` is not a number"))),
                }
            };
            let label = match (map.get("schedule"), map.get("seed")) {
                (Some(serde_json::Value::String(s)), Some(seed)) => format!("{s} seed {seed}"),
                (Some(serde_json::Value::String(s)), None) => s.clone(),
                _ => String::new(),
            };
            let run = self.get(label);
            match (num("epoch")?, num("step")?) {
                (Some(epoch), step) => run.epochs.push(Epoch {
                    epoch,
                    step,
                    train_loss: num("train_loss")?.unwrap_or(f64::NAN),
                    val_loss: num("val_loss")?.unwrap_or(f64::NAN),
                    lr: num("lr")?.unwrap_or(f64::NAN),
                    momentum: num("momentum")?.filter(|m| !m.is_nan()),
                }),
                (None, Some(step)) => run.steps.push(Step {
                    step,
                    lr: num("lr")?.unwrap_or(f64::NAN),
                    loss: num("loss")?.unwrap_or(f64::NAN),
                }),
                (None, None) => return Err(bad("no `epoch` or `step`")),
            }
        }
        Ok(())
    }
}

/// A line as JSON; the bare `NaN` / `Infinity` tokens a Python program writes are read
/// through the protocol's own parser.
fn read_line(line: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str(line) {
        Ok(v) => Ok(v),
        Err(e) => match crate::protocol::parse_line(line) {
            Ok(crate::protocol::Line::Epoch(l)) => {
                let mut m = serde_json::Map::new();
                m.insert("epoch".into(), l.epoch.into());
                for (k, v) in l.values {
                    m.insert(
                        k,
                        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
                    );
                }
                Ok(m.into())
            }
            Ok(crate::protocol::Line::Step(s)) => Ok(serde_json::json!({
                "step": s.step,
                "lr": s.lr.and_then(serde_json::Number::from_f64),
                "loss": s.loss.and_then(serde_json::Number::from_f64),
            })),
            Err(_) => Err(format!("not JSON: {e}")),
        },
    }
}

/// Whether `points` has one a chart can draw (finite; positive on a log axis).
fn drawable(points: &[(f64, f64)], log_y: bool) -> bool {
    points
        .iter()
        .any(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
}

/// Learning rate and loss against step, stacked, for every run in the file: per-step
/// values from the step lines (in the file, or `<stem>.steps.jsonl` beside it, or
/// compare's `steps.jsonl`), the epoch records otherwise. Null and NaN values are gaps;
/// with `momentum` the momenta recorded go on a second axis.
pub fn run_charts(path: &Path, log_y: bool, momentum: bool) -> Result<Vec<Chart>, String> {
    let text = read(path)?;
    let mut runs = Runs::default();
    runs.read(path, &text)?;
    if runs
        .0
        .iter()
        .all(|r| r.epochs.is_empty() && r.steps.is_empty())
    {
        return Err(format!("{}: no epoch records in the file", path.display()));
    }
    if runs.0.iter().all(|r| r.steps.is_empty()) {
        let beside = path.with_extension("steps.jsonl");
        let compare = path.with_file_name("steps.jsonl");
        let labelled = runs.0.iter().any(|r| !r.label.is_empty());
        let steps_path = if beside.is_file() {
            Some(beside)
        } else if labelled && compare.is_file() {
            Some(compare)
        } else {
            None
        };
        if let Some(p) = steps_path {
            let text = read(&p)?;
            runs.read(&p, &text)?;
        }
    }
    runs.0
        .retain(|r| !(r.epochs.is_empty() && r.steps.is_empty()));
    let many = runs.0.len() > 1;
    // Every epoch at a step: its own `step`, else its end at the run's steps per epoch;
    // without any step, the axis is epochs.
    let by_step = runs
        .0
        .iter()
        .any(|r| !r.steps.is_empty() || r.epochs.iter().any(|e| e.step.is_some()));
    let x_name = if by_step { "step" } else { "epoch" };

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut lr = Chart::new(format!("Run {name}"), x_name, "learning rate").with_log_y(log_y);
    let mut loss = Chart::new("Loss", x_name, "loss");
    let mut momenta = Vec::new();
    for (i, run) in runs.0.iter().enumerate() {
        let named = |what: &str| {
            if run.label.is_empty() {
                what.to_string()
            } else {
                truncate(&format!("{}: {what}", run.label), MAX_LABEL)
            }
        };
        let last_step = run.steps.iter().map(|s| s.step).fold(f64::NAN, f64::max);
        let last_epoch = run.epochs.iter().map(|e| e.epoch).fold(f64::NAN, f64::max);
        let per_epoch = if last_step.is_finite() && last_epoch > 0.0 {
            (last_step + 1.0) / last_epoch
        } else {
            1.0
        };
        let at = |e: &Epoch| {
            if !by_step {
                e.epoch
            } else {
                e.step
                    .filter(|s| s.is_finite())
                    .unwrap_or(e.epoch * per_epoch)
            }
        };
        // Colours: one per run when there are several, else one per curve.
        let color = |k: usize| if many { i } else { k };
        let add = |chart: &mut Chart, s: Series| {
            if drawable(&s.points, chart.log_y) {
                chart.series.push(s);
            }
        };
        if run.steps.is_empty() {
            add(
                &mut lr,
                Series::new(
                    named("learning rate (end of epoch)"),
                    run.epochs.iter().map(|e| (at(e), e.lr)).collect(),
                )
                .with_color(color(0)),
            );
        } else {
            add(
                &mut lr,
                Series::new(
                    named("learning rate"),
                    run.steps.iter().map(|s| (s.step, s.lr)).collect(),
                )
                .with_color(color(0)),
            );
            if !many {
                let rates: Vec<f64> = run.steps.iter().map(|s| s.lr).collect();
                lr.markers = markers(&rates)
                    .into_iter()
                    .filter_map(|(k, l)| Some(Marker::new(run.steps.get(k as usize)?.step, l)))
                    .collect();
            }
            add(
                &mut loss,
                Series::new(
                    named("training loss (step)"),
                    run.steps.iter().map(|s| (s.step, s.loss)).collect(),
                )
                .with_color(color(0)),
            );
        }
        // An epoch's mean training loss is drawn at its middle step, where a mean
        // belongs; validation at its end.
        let mut before = 0.0;
        let middles: Vec<(f64, f64)> = run
            .epochs
            .iter()
            .map(|e| {
                let end = at(e);
                let mid = if by_step { (before + end) / 2.0 } else { end };
                before = end;
                (mid, e.train_loss)
            })
            .collect();
        let k = usize::from(!run.steps.is_empty());
        add(
            &mut loss,
            Series::new(named("training loss (epoch mean)"), middles).with_color(color(k)),
        );
        add(
            &mut loss,
            Series::new(
                named("validation loss (epoch)"),
                run.epochs.iter().map(|e| (at(e), e.val_loss)).collect(),
            )
            .with_color(color(k + 1)),
        );
        if momentum {
            let m: Vec<(f64, f64)> = run
                .epochs
                .iter()
                .filter_map(|e| Some((at(e), e.momentum?)))
                .collect();
            if !m.is_empty() {
                momenta.push(
                    Series::new(named("momentum (end of epoch)"), m).with_color(if many {
                        i
                    } else {
                        1
                    }),
                );
            }
        }
    }
    if momentum {
        if momenta.is_empty() {
            return Err(format!(
                "--momentum: {} records no momentum (the run's schedule set none)",
                path.display()
            ));
        }
        lr.secondary = Some(SecondaryAxis {
            label: "momentum".into(),
            series: momenta,
        });
    }
    let charts: Vec<Chart> = [lr, loss]
        .into_iter()
        .filter(|c| !c.series.is_empty() || c.secondary.is_some())
        .collect();
    if charts.is_empty() {
        return Err(format!(
            "{}: nothing to draw: no rate or loss in the file is a finite number{}",
            path.display(),
            if log_y { " above 0 (--log-y)" } else { "" }
        ));
    }
    Ok(charts)
}

fn read(path: &Path) -> Result<String, String> {
    crate::files::read_input(path, crate::files::MAX_METRICS_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_drops_are_marked_with_their_factor() {
        let v: Vec<f64> = (0..100).map(|s| 0.1 * 0.1f64.powi(s / 30)).collect();
        let m = markers(&v);
        assert_eq!(
            m,
            vec![
                (30, "×0.1".to_string()),
                (60, "×0.1".to_string()),
                (90, "×0.1".to_string())
            ]
        );
    }

    #[test]
    fn smooth_curves_have_no_markers_and_restarts_do() {
        let cosine: Vec<f64> = (0..200)
            .map(|s| 0.05 * (1.0 + (std::f64::consts::PI * s as f64 / 199.0).cos()))
            .collect();
        assert!(markers(&cosine).is_empty());
        let warm: Vec<f64> = (0..60)
            .map(|s| 0.05 * (1.0 + (std::f64::consts::PI * (s % 20) as f64 / 20.0).cos()))
            .collect();
        let m = markers(&warm);
        assert_eq!(m.iter().map(|x| x.0).collect::<Vec<_>>(), [20, 40]);
        assert!(m.iter().all(|x| x.1 == "restart"));
        let warmup: Vec<f64> = (0..50)
            .map(|s| {
                if s < 10 {
                    0.01 * s as f64
                } else {
                    0.1 - 0.001 * (s - 10) as f64
                }
            })
            .collect();
        assert!(markers(&warmup).is_empty());
    }
}
