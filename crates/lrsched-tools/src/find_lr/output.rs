//! What a range test gives back to read: its JSON, chart, report sections and cost line,
//! and the schedule `--apply` writes around the suggested rate.

use super::{
    factor_name, Cost, FindLrResult, SeedRun, Validation, SAME_RATE, SMOOTH_BETA, STOP_FACTOR,
};
use lrsched_report::html::{Section, Table};
use lrsched_report::{Chart, Marker, Series};
use serde_json::{json, Value};

/// A rate as the tables print it (`1.234e-2`, `-` for none).
pub fn fmt_lr(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3e}"))
}

/// The schedule `--apply` writes around the suggested rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// One-cycle peaking at the rate (fastai's `fit_one_cycle` with `lr_max` from
    /// `lr_find`).
    OneCycle,
    /// A 5% linear warmup to the rate, then cosine to zero.
    Cosine,
    /// The rate itself, constant: what `--validate` trained with.
    Constant,
}

impl Apply {
    /// Reads `onecycle` (`one_cycle`, `one-cycle`), `cosine` or `constant`.
    ///
    /// ```
    /// use lrsched_tools::find_lr::Apply;
    /// assert_eq!(Apply::from_name("constant"), Some(Apply::Constant));
    /// assert_eq!(Apply::from_name("linear"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Apply> {
        match name {
            "onecycle" | "one_cycle" | "one-cycle" => Some(Apply::OneCycle),
            "cosine" => Some(Apply::Cosine),
            "constant" => Some(Apply::Constant),
            _ => None,
        }
    }

    /// The config, its durations relative to the run so it fits any length.
    ///
    /// ```
    /// use lrsched_tools::find_lr::Apply;
    /// let c = Apply::OneCycle.config(0.012345);
    /// assert_eq!(c["max_lr"], 0.0123);
    /// let shape = lrsched::time::RunShape::new(1000, 10).with_epochs(5.0);
    /// assert!(lrsched::config::from_value_with_shape(c, Some(&shape)).is_ok());
    /// ```
    pub fn config(self, lr: f64) -> Value {
        // Three significant digits: the rule's own noise is far larger than that.
        let lr: f64 = format!("{lr:.2e}").parse().unwrap_or(lr);
        match self {
            Apply::OneCycle => json!({"type": "one_cycle", "max_lr": lr, "total_steps": "100%"}),
            Apply::Cosine => json!({
                "type": "warmup",
                "steps": "5%",
                "schedule": {"type": "cosine", "lr": lr, "steps": "95%"},
            }),
            Apply::Constant => json!({"type": "constant", "lr": lr}),
        }
    }
}

/// The result as `find_lr.json` holds it: the sweep, the suggestions and their spread,
/// the cost, and each seed's status and curve.
pub fn to_json(result: &FindLrResult) -> Value {
    let spec = &result.spec;
    let cost = result.cost();
    json!({
        "trainer": result.trainer,
        "start": spec.start,
        "end": spec.end,
        "mode": spec.mode.name(),
        "steps": spec.steps,
        "seed": spec.seed,
        "seeds": spec.seeds,
        "epochs": result.epochs,
        "steps_per_epoch": result.steps_per_epoch,
        "smooth_beta": SMOOTH_BETA,
        "stop_factor": STOP_FACTOR,
        "suggested": result.suggested.map(|(rule, lr)| json!({"rule": rule, "lr": lr})),
        "spread_interval": "min..max: the smallest and largest seed's rate, over the usable seeds",
        "spread": result.spread.iter().map(|s| (s.name.to_string(), json!({
            "min": s.min(), "median": s.median(), "max": s.max(),
            "interval": s.interval().map(|(lo, hi)| [lo, hi]), "values": s.values,
        }))).collect::<serde_json::Map<String, Value>>(),
        "validated": result.validation.as_ref().map(|v| v.to_json()),
        "cost": {
            "updates_per_sweep": cost.updates_per_sweep,
            "epochs_per_sweep": cost.epochs_per_sweep,
            "seconds_per_sweep": cost.seconds_per_sweep,
        },
        "runs": result.runs.iter().map(|r| json!({
            "seed": r.seed,
            "dir": r.dir,
            "status": r.status.word(),
            "detail": r.status.to_string(),
            "problem": r.problem,
            "steps_run": r.steps_run(),
            "steps_read": r.steps_read,
            "stop": r.stop,
            "seconds": r.seconds,
            "suggestions": r.suggestions,
            "lrs": r.lrs,
            "losses": r.losses,
            "smoothed": r.smoothed,
            "stderr_tail": r.stderr_tail,
        })).collect::<Vec<_>>(),
    })
}

/// Loss against rate on a log axis: each usable seed's smoothed curve, cut where it
/// shoots up, and a marker per rule at its median suggestion.
pub fn chart(result: &FindLrResult) -> Chart {
    let runs: Vec<&SeedRun> = result.usable().collect();
    let title = if runs.len() == 1 {
        "LR range test: smoothed training loss".to_string()
    } else {
        format!(
            "LR range test: smoothed training loss, {} seeds (marks: median suggestions)",
            runs.len()
        )
    };
    // The last points of a sweep shoot up (a sweep stops only once past 4x its best, and
    // one step can jump far beyond that): drawn in full they squash the part that matters
    // into a flat line. Curves are cut where they pass the starting loss by half the
    // fall below it, as fastai's plot drops the last points.
    let first = runs
        .iter()
        .filter_map(|r| r.smoothed.first().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let best = runs
        .iter()
        .flat_map(|r| r.smoothed.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let cap = first + 0.5 * (first - best).max(0.05 * first.abs());
    let mut chart = Chart::new(title, "learning rate", "smoothed loss").with_log_x(true);
    for r in &runs {
        let points: Vec<(f64, f64)> = r
            .lrs
            .iter()
            .zip(&r.smoothed)
            .map(|(&x, &y)| (x, y))
            .take_while(|&(_, y)| !(cap.is_finite() && y > cap))
            .collect();
        let name = if runs.len() == 1 {
            "smoothed loss".to_string()
        } else {
            format!("seed {}", r.seed)
        };
        chart = chart.with_series(Series::new(name, points));
    }
    for s in &result.spread {
        if let Some(m) = s.median() {
            // Short labels: the chart has two rows for them, and a third that fits nowhere
            // is dropped.
            let name = if s.name == "minimum/10" {
                "min/10"
            } else {
                s.name
            };
            chart = chart.with_marker(Marker::new(m, format!("{name} {m:.1e}")));
        }
    }
    if let Some(lr) = result.validation.as_ref().and_then(|v| v.lr()) {
        chart = chart.with_marker(Marker::new(lr, format!("validated {lr:.1e}")));
    }
    chart
}

/// The report's sections: the suggestions (text, chart, spread table), each seed's sweep,
/// and the failed seeds with the end of their stderr.
pub fn sections(result: &FindLrResult) -> Vec<Section> {
    let spec = &result.spec;
    let cost = result.cost();
    let svg = lrsched_report::render_svg(&chart(result)).unwrap_or_default();
    let usable = result.usable().count();
    let mut out = vec![Section {
        heading: "Suggestions".into(),
        text: vec![
            format!(
                "{} steps from {:e} to {:e} ({}) with {}, over {} seed(s), {usable} usable. Loss smoothed with an exponential moving average (beta {SMOOTH_BETA}, bias-corrected); a sweep stops once it passes {STOP_FACTOR}x its best (the range test's divergence rule). Rules as fastai's: valley (middle of the longest fall; fastai's default), steepest (fastest fall against log rate), minimum/10, slide (where the loss's gradient levels off, walking left from the end; lr_diff 15, thresh 0.005). The interval is the smallest to the largest seed's rate.",
                spec.steps, spec.start, spec.end, spec.mode.name(), result.trainer, spec.seeds
            ),
            match (result.suggested, result.validation.as_ref().and_then(|v| v.lr())) {
                (Some((rule, lr)), Some(v)) => format!("Rules' rate: {lr:.3e} (median {rule}); validated rate: {v:.3e} (best of the validation runs below)."),
                (Some((rule, lr)), None) => format!("Suggested rate: {lr:.3e} (median {rule})."),
                (None, _) if usable == 0 => "No suggestion: no sweep gave a curve (see the seeds below).".into(),
                (None, _) => "No suggestion: the curve is too short.".into(),
            },
            cost_line(&cost, result.steps_per_epoch),
        ],
        svgs: if usable > 0 { vec![svg] } else { Vec::new() },
        table: Some(Table {
            header: ["rule", "seeds' min", "median", "seeds' max", "max/min"]
                .map(String::from)
                .to_vec(),
            rows: result
                .spread
                .iter()
                .map(|s| {
                    vec![
                        s.name.to_string(),
                        fmt_lr(s.min()),
                        fmt_lr(s.median()),
                        fmt_lr(s.max()),
                        s.ratio().map_or("-".into(), |r| format!("{r:.1}x")),
                    ]
                })
                .collect(),
        }),
    }];
    out.push(Section {
        heading: "Seeds".into(),
        text: Vec::new(),
        svgs: Vec::new(),
        table: Some(Table {
            header: [
                "seed",
                "status",
                "steps",
                "how it ended",
                "valley",
                "steepest",
                "minimum/10",
                "slide",
                "seconds",
            ]
            .map(String::from)
            .to_vec(),
            rows: result
                .runs
                .iter()
                .map(|r| {
                    let [v, s, m, sl] = r.suggestions.named().map(|(_, x)| fmt_lr(x));
                    vec![
                        r.seed.to_string(),
                        r.status.word().to_string(),
                        format!("{}/{}", r.steps_run(), spec.steps),
                        r.describe(spec.steps),
                        v,
                        s,
                        m,
                        sl,
                        format!("{:.2}", r.seconds),
                    ]
                })
                .collect(),
        }),
    });
    if let Some(v) = &result.validation {
        out.push(validation_section(v));
    }
    let failed: Vec<&SeedRun> = result.runs.iter().filter(|r| !r.usable()).collect();
    if !failed.is_empty() {
        let mut text = Vec::new();
        for r in failed {
            text.push(format!(
                "seed {} ({}): {}",
                r.seed,
                r.dir.display(),
                r.problem.as_deref().unwrap_or("")
            ));
            if !r.stderr_tail.is_empty() {
                text.push(format!(
                    "last lines of stderr: {}",
                    r.stderr_tail.join(" | ")
                ));
            }
        }
        out.push(Section {
            heading: "Failed seeds".into(),
            text,
            ..Section::default()
        });
    }
    out
}

/// The validation grid as a report section: what ran, which rate trained best, a row
/// per rate.
fn validation_section(v: &Validation) -> Section {
    let better = if v.higher_is_better {
        "higher"
    } else {
        "lower"
    };
    let seeds = v.points.first().map_or(0, |p| p.seeds.len());
    let worst = match v.chance {
        Some(c) => format!(
            "failed, diverged or at-chance ({} at most {:.3})",
            v.metric,
            c + 0.01
        ),
        None => "failed or diverged".into(),
    };
    let mut text = vec![format!(
        "{} constant rates ({} around each distinct suggestion; rules within {:.0}% count once) x {seeds} seed(s), {} epoch(s) each, through the same trainer: {} runs. Score: the median over the seeds of the last {} ({better} is better); a {worst} run counts as the worst.",
        v.points.len(),
        v.factors.iter().map(|f| factor_name(*f)).collect::<Vec<_>>().join(", "),
        SAME_RATE * 100.0,
        v.epochs,
        v.runs(),
        v.metric,
    )];
    text.push(match v.best_point() {
        Some(p) => format!(
            "Trained best: lr {:.3e} ({}), median {} {:.4}, {} of {seeds} seeds gave a number.",
            p.lr,
            p.from.join(", "),
            v.metric,
            p.median.unwrap_or(f64::NAN),
            p.completed
        ),
        None => "No validation run gave a number: the rules' rate stands (see the rows).".into(),
    });
    if let Some(edge) = v.at_edge() {
        text.push(format!(
            "The best is the grid's {edge} rate: a rate beyond it may train better still (widen --validate-factors to see)."
        ));
    }
    Section {
        heading: "Validation".into(),
        text,
        svgs: Vec::new(),
        table: Some(Table {
            header: ["lr", "from", "median", "per seed", "outcomes", "best"]
                .map(String::from)
                .to_vec(),
            rows: v
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    vec![
                        format!("{:.3e}", p.lr),
                        p.from.join(", "),
                        p.median.map_or("-".into(), |m| format!("{m:.4}")),
                        p.values
                            .iter()
                            .map(|x| x.map_or("-".into(), |x| format!("{x:.4}")))
                            .collect::<Vec<_>>()
                            .join(" "),
                        p.outcomes.join(", "),
                        if v.best == Some(i) { "best" } else { "" }.into(),
                    ]
                })
                .collect(),
        }),
    }
}

/// The cost line printed and reported: updates, epochs where known, seconds per sweep.
pub fn cost_line(cost: &Cost, steps_per_epoch: Option<u64>) -> String {
    let epochs = match (cost.epochs_per_sweep, steps_per_epoch) {
        (Some(e), Some(s)) => format!(" = {e:.2} epochs of batches ({s} per epoch)"),
        _ => String::new(),
    };
    format!(
        "cost: {:.0} updates per sweep{epochs}, {:.3} s per sweep",
        cost.updates_per_sweep, cost.seconds_per_sweep
    )
}
