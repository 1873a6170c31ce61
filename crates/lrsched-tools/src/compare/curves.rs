//! The trials' curves: written as `metrics.jsonl`, `metrics.csv` and `steps.jsonl`, and
//! drawn as the report's charts (mean over seeds with a band).

use super::{CompareResult, Run};
use lrsched_report::{Chart, Series};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// `metrics.jsonl` and `metrics.csv` (one row per trial and epoch, every metric the
/// trials reported) and `steps.jsonl` (one row per step) in `dir`.
pub fn write_metrics(dir: &Path, r: &CompareResult) -> Result<(), String> {
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for run in &r.runs {
        for e in &run.result.epochs {
            keys.extend(e.values.keys().map(String::as_str));
        }
    }
    let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let csv_num = |x: Option<f64>| {
        x.filter(|v| v.is_finite())
            .map_or(String::new(), |v| format!("{v:?}"))
    };
    let csv_text = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut jsonl = String::new();
    let mut csv = format!(
        "schedule,seed,epoch,{},elapsed_seconds,status\n",
        keys.iter().copied().collect::<Vec<_>>().join(",")
    );
    let mut steps = String::new();
    for run in &r.runs {
        let name = &r.names[run.candidate];
        let status = run.result.status.word();
        for e in &run.result.epochs {
            let mut row = json!({"schedule": name, "seed": run.seed, "epoch": e.epoch});
            for (k, v) in &e.values {
                row[k] = num(*v);
            }
            row["elapsed_seconds"] = e.elapsed.map_or(Value::Null, num);
            row["status"] = status.into();
            jsonl.push_str(&row.to_string());
            jsonl.push('\n');
            let cells: Vec<String> = keys.iter().map(|k| csv_num(e.get(k))).collect();
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_text(name),
                run.seed,
                e.epoch,
                cells.join(","),
                csv_num(e.elapsed),
                status
            ));
        }
        for s in &run.result.steps {
            let row = json!({"schedule": name, "seed": run.seed, "step": s.step,
                "lr": s.lr.map_or(Value::Null, num), "loss": s.loss.map_or(Value::Null, num)});
            steps.push_str(&row.to_string());
            steps.push('\n');
        }
    }
    crate::files::write_atomic(&dir.join("metrics.jsonl"), jsonl.as_bytes())?;
    crate::files::write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
    crate::files::write_atomic(&dir.join("steps.jsonl"), steps.as_bytes())
}

/// A mean curve and its `(x, lo, hi)` band over seeds.
type Banded = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

fn mean_band(per_seed: &[Vec<(f64, f64)>]) -> Banded {
    let mut xs: Vec<f64> = per_seed.iter().flatten().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut mean = Vec::new();
    let mut band = Vec::new();
    for x in xs {
        let vals: Vec<f64> = per_seed
            .iter()
            .filter_map(|s| s.iter().find(|p| p.0 == x).map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        if vals.is_empty() {
            continue;
        }
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
        // Mean ± one standard deviation, kept within the seeds' range: with many seeds a
        // min–max band is set by the single worst seed and hides everything else.
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mean.push((x, m));
        band.push((x, (m - sd).max(lo), (m + sd).min(hi)));
    }
    (mean, band)
}

/// Every `k`-th point, so a long run's step curves stay a few hundred points.
fn thin<T: Clone>(v: &[T], most: usize) -> Vec<T> {
    let k = v.len().div_ceil(most.max(1)).max(1);
    v.iter().step_by(k).cloned().collect()
}

/// A moving average over `w` points, so the per-batch loss shows its trend.
fn smooth(v: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    let w = w.max(1);
    let mut out = Vec::with_capacity(v.len());
    let mut sum = 0.0;
    for i in 0..v.len() {
        sum += v[i].1;
        if i >= w {
            sum -= v[i - w].1;
        }
        let n = (i + 1).min(w);
        out.push((v[i].0, sum / n as f64));
    }
    out
}

/// Steps per epoch as the trials reported them (the largest step count over epochs).
fn steps_per_epoch(r: &CompareResult) -> f64 {
    r.runs
        .iter()
        .filter_map(|run| {
            let epochs = run.result.epochs.len() as f64;
            let steps = run.result.steps.last()?.step as f64 + 1.0;
            (epochs > 0.0).then_some(steps / epochs)
        })
        .fold(0.0, f64::max)
        .max(1.0)
}

/// The top of the learning-rate chart: 1.5x the highest rate of a trial that finished
/// normally; `None` when none did (then nothing is clipped).
fn lr_cap(r: &CompareResult) -> Option<f64> {
    let top = r
        .runs
        .iter()
        .filter(|run| run.result.status.is_usable())
        .filter(|run| {
            !r.rate_multiplier
                .get(run.candidate)
                .copied()
                .unwrap_or(false)
        })
        .flat_map(|run| run.result.steps.iter().filter_map(|s| s.lr))
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    (top.is_finite() && top > 0.0).then_some(1.5 * top)
}

/// The report's charts: learning rate, the metric (and its error on a log scale for an
/// accuracy), every other loss the trials reported per epoch, the per-step loss.
pub fn charts(r: &CompareResult) -> Vec<Chart> {
    let per_epoch = steps_per_epoch(r);
    let m = &r.metric;
    let multiplier = |i: usize| r.rate_multiplier.get(i).copied().unwrap_or(false);
    let title = if (0..r.names.len()).any(multiplier) {
        "Learning rate (LR-free optimizers not drawn: their lr multiplies their own step size)"
    } else {
        "Learning rate"
    };
    let mut lr = Chart::new(title, "epoch", "learning rate");
    // A diverged run's rate (1e30) would flatten every other curve: rates are drawn up to
    // 1.5x the highest rate of the trials that finished normally, and a clipped curve
    // says so in its label.
    let lr_cap = lr_cap(r);
    let mut metric = Chart::new(&m.name, "epoch", &m.name);
    let mut error = Chart::new(
        format!("Error (1 - {}), log scale", m.name),
        "epoch",
        "error",
    )
    .with_log_y(true);
    let loss_keys: Vec<&str> = ["val_loss", "train_loss"]
        .into_iter()
        .filter(|k| *k != m.name)
        .filter(|k| r.runs.iter().any(|run| run.result.last(k).is_some()))
        .collect();
    let mut losses: Vec<Chart> = loss_keys
        .iter()
        .map(|k| Chart::new(*k, "epoch", *k).with_log_y(true))
        .collect();
    let mut step_loss = Chart::new(
        "Training loss per step (moving average over half an epoch)",
        "step",
        "training loss",
    )
    .with_log_y(true);
    for (i, name) in r.names.iter().enumerate() {
        let mine: Vec<&Run> = r.runs.iter().filter(|run| run.candidate == i).collect();
        let label = if mine.iter().any(|run| !run.result.status.is_usable()) {
            format!(
                "{name} ({})",
                mine.iter()
                    .find(|x| !x.result.status.is_usable())
                    .map_or("", |x| x.result.status.word())
            )
        } else {
            name.clone()
        };
        let epoch_curve = |key: &str, f: &dyn Fn(f64) -> f64| {
            let per_seed: Vec<Vec<(f64, f64)>> = mine
                .iter()
                .map(|run| {
                    run.result
                        .series(key)
                        .into_iter()
                        .map(|(e, v)| (e as f64, f(v)))
                        .collect()
                })
                .collect();
            mean_band(&per_seed)
        };
        let add = |chart: &mut Chart, (mean, band): Banded| {
            // A log axis leaves out values <= 0: a curve with nothing left is not drawn.
            if mean
                .iter()
                .any(|p| p.1.is_finite() && (!chart.log_y || p.1 > 0.0))
            {
                chart.series.push(
                    Series::new(label.clone(), mean)
                        .with_band(band)
                        .with_color(i),
                );
            }
        };
        add(&mut metric, epoch_curve(&m.name, &|v| v));
        if m.is_fraction() {
            add(&mut error, epoch_curve(&m.name, &|v| 1.0 - v));
        }
        for (chart, key) in losses.iter_mut().zip(&loss_keys) {
            add(chart, epoch_curve(key, &|v| v));
        }
        let mut clipped = false;
        let lr_per_seed: Vec<Vec<(f64, f64)>> = mine
            .iter()
            .map(|run| {
                thin(&run.result.steps, 600)
                    .iter()
                    .filter_map(|s| {
                        let v = s.lr?;
                        let v = match lr_cap {
                            Some(cap) if v.is_nan() || v > cap => {
                                clipped = true;
                                cap
                            }
                            _ => v,
                        };
                        Some(((s.step + 1) as f64 / per_epoch, v))
                    })
                    .collect()
            })
            .collect();
        let (mean, band) = mean_band(&lr_per_seed);
        if !multiplier(i) && mean.iter().any(|p| p.1.is_finite()) {
            let shown = if clipped {
                format!("{label}, rate clipped")
            } else {
                label.clone()
            };
            lr.series
                .push(Series::new(shown, mean).with_band(band).with_color(i));
        }
        let w = (per_epoch / 2.0).round() as usize;
        let loss_per_seed: Vec<Vec<(f64, f64)>> = mine
            .iter()
            .map(|run| {
                let raw: Vec<(f64, f64)> = run
                    .result
                    .steps
                    .iter()
                    .filter_map(|s| s.loss.map(|l| (s.step as f64, l)))
                    .collect();
                thin(&smooth(&raw, w), 600)
            })
            .collect();
        add(&mut step_loss, mean_band(&loss_per_seed));
    }
    let mut out = vec![lr, metric];
    if m.is_fraction() {
        out.push(error);
    }
    out.extend(losses);
    out.push(step_loss);
    out.retain(|c| !c.series.is_empty());
    out
}
