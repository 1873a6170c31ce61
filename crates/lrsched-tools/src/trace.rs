//! A schedule's values step by step, as `lrsched trace` prints them (plain, CSV or
//! JSON, streamed), and the metrics a metric-driven schedule is fed first.

use lrsched::{AnySchedule, Interval, Schedule};
use std::path::Path;

/// Values computed and written per chunk: the first lines come out at once, and memory
/// holds one chunk, not the whole trace.
pub const TRACE_CHUNK: u64 = 1 << 16;

/// How the values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// One value per line.
    Plain,
    /// `step,lr` (or `epoch,...`) rows under a header.
    Csv,
    /// `{"interval": ..., "lr": [...]}`, non-finite values as null.
    Json,
}

/// What is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceParam {
    /// The learning rate.
    Lr,
    /// The momentum (or Adam beta1) the schedule sets.
    Momentum,
}

/// Why writing a trace stopped.
#[derive(Debug)]
pub enum TraceError {
    /// The output failed (a closed pipe is the reader having enough).
    Io(std::io::Error),
    /// The schedule has no such value (no momentum, a rate that is not finite).
    Schedule(String),
}

impl From<std::io::Error> for TraceError {
    fn from(e: std::io::Error) -> Self {
        TraceError::Io(e)
    }
}

/// The message for a schedule that sets no momentum.
pub fn no_momentum(schedule: &AnySchedule) -> String {
    format!(
        "`{}` sets no momentum (one_cycle, cyclic and PyTorch's OneCycleLR/CyclicLR with cycle_momentum do)",
        schedule.type_name()
    )
}

/// Feeds `metrics` (read from `path`; value i is the one after the metric on line i, as
/// PyTorch's `step(metrics[i-1])`) to `schedule`, and refuses a metric-driven schedule
/// whose metrics do not cover `n` values.
pub fn feed_metrics(
    schedule: &mut AnySchedule,
    metrics: &[f64],
    path: &Path,
    n: u64,
) -> Result<(), String> {
    for (i, m) in metrics.iter().enumerate() {
        schedule.observe(i as u64, *m).map_err(|e| e.to_string())?;
    }
    if schedule.needs_metric() && (metrics.len() as u64).saturating_add(1) < n {
        return Err(format!(
            "{}: {} metrics cover steps 0..{}, but --steps {n} needs {}",
            path.display(),
            metrics.len(),
            metrics.len() + 1,
            n - 1
        ));
    }
    Ok(())
}

/// Prints value i of the schedule, the rate of optimizer step i for a per-step schedule and
/// of epoch i for a per-epoch one; CSV's header and JSON's `interval` key say which.
/// Values are computed [`TRACE_CHUNK`] at a time and written as they come, so memory
/// stays the same at any `n`.
pub fn write_trace(
    out: &mut impl std::io::Write,
    schedule: &AnySchedule,
    n: u64,
    format: TraceFormat,
    param: TraceParam,
    interval: Interval,
) -> Result<(), TraceError> {
    let name = match param {
        TraceParam::Lr => "lr",
        TraceParam::Momentum => "momentum",
    };
    let unit = match interval {
        Interval::Step => "step",
        Interval::Epoch => "epoch",
    };
    match format {
        TraceFormat::Plain => {}
        TraceFormat::Csv => writeln!(out, "{unit},{name}")?,
        TraceFormat::Json => write!(out, "{{\"interval\": \"{unit}\", \"{name}\": [")?,
    }
    let mut start = 0;
    while start < n {
        let end = start.saturating_add(TRACE_CHUNK).min(n);
        let values: Vec<f64> = match param {
            TraceParam::Lr => schedule.values(start..end),
            TraceParam::Momentum => schedule
                .momenta(start..end)
                .into_iter()
                .map(|m| m.ok_or_else(|| TraceError::Schedule(no_momentum(schedule))))
                .collect::<Result<_, _>>()?,
        };
        for (i, v) in (start..end).zip(values) {
            // A rate that is not finite is an error at its step (a valid lr_lambda such as
            // `1 / (1000 - epoch)` has none at epoch 1000): the rates before it are
            // printed, none after, and the trace fails naming the step.
            if param == TraceParam::Lr {
                lrsched::check_rate(schedule.type_name(), interval, i, v)
                    .map_err(|e| TraceError::Schedule(e.to_string()))?;
            }
            // Debug formatting of f64 is the shortest string that reads back to the same
            // bits; JSON has no NaN or infinity, so those are null.
            match format {
                TraceFormat::Plain => writeln!(out, "{v:?}")?,
                TraceFormat::Csv => writeln!(out, "{i},{v:?}")?,
                TraceFormat::Json => {
                    let sep = if i == 0 { "" } else { ", " };
                    if v.is_finite() {
                        write!(out, "{sep}{v:?}")?
                    } else {
                        write!(out, "{sep}null")?
                    }
                }
            }
        }
        start = end;
    }
    if let TraceFormat::Json = format {
        writeln!(out, "]}}")?;
    }
    out.flush()?;
    Ok(())
}
