//! The run's metrics files: one JSON line per epoch, and beside it one per step and per
//! change of the rate, cut back to what a checkpoint covers when a run resumes.

use super::{EpochRecord, TrainError};
use crate::checkpoint::{self, CheckpointError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the per-step log of `--metrics-out` goes: `<stem>.steps.jsonl` beside it.
///
/// ```
/// use std::path::Path;
/// let p = lrsched_train::trainer::steps_path(Path::new("runs/a.jsonl"));
/// assert_eq!(p, Path::new("runs/a.steps.jsonl"));
/// ```
pub fn steps_path(metrics_out: &Path) -> PathBuf {
    metrics_out.with_extension("steps.jsonl")
}

/// The epoch and step metrics files.
pub(super) struct MetricsFiles {
    epochs: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    steps: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
}

impl MetricsFiles {
    /// Opens the files for appending. A fresh run refuses files that exist (another run's
    /// measurements) unless `overwrite`. On a resume the files are first cut back to what
    /// the checkpoint covers (its epochs, and steps before `resume_step`), since a run
    /// killed after its last checkpoint may have written lines the resumed run writes
    /// again; the cut-back file replaces the old one atomically, so a kill at any moment
    /// leaves either the old lines or the kept ones, never an empty file.
    pub(super) fn open(
        path: Option<&PathBuf>,
        resumed: Option<(&[EpochRecord], u64)>,
        overwrite: bool,
    ) -> Result<MetricsFiles, TrainError> {
        let Some(path) = path else {
            return Ok(MetricsFiles {
                epochs: None,
                steps: None,
            });
        };
        let steps_path = steps_path(path);
        let metrics_err = |p: &PathBuf| {
            let p = p.clone();
            move |source| TrainError::Metrics { path: p, source }
        };
        let start = |p: &PathBuf, head: &str| -> Result<(), TrainError> {
            checkpoint::write_bytes_atomic(p, head.as_bytes()).map_err(|e| match e {
                CheckpointError::Io { source, .. } => TrainError::Metrics {
                    path: p.clone(),
                    source,
                },
                other => other.into(),
            })
        };
        match resumed {
            Some((history, resume_step)) => {
                let mut epoch_lines = String::new();
                for r in history {
                    epoch_lines.push_str(&Self::epoch_line(r).to_string());
                    epoch_lines.push('\n');
                }
                let mut step_lines = String::new();
                let old = match std::fs::read_to_string(&steps_path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(e) => return Err(metrics_err(&steps_path)(e)),
                };
                for line in old.lines() {
                    let step = serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v.get("step").and_then(|s| s.as_u64()));
                    if step.is_some_and(|s| s < resume_step) {
                        step_lines.push_str(line);
                        step_lines.push('\n');
                    }
                }
                start(path, &epoch_lines)?;
                start(&steps_path, &step_lines)?;
            }
            None => {
                for p in [path, &steps_path] {
                    if p.exists() && !overwrite {
                        return Err(TrainError::Config(format!(
                            "`metrics_out`: {} exists and may hold another run's measurements: \
                             choose a new path, or replace it with `overwrite`",
                            p.display()
                        )));
                    }
                }
                start(path, "")?;
                start(&steps_path, "")?;
            }
        }
        let append = |p: &PathBuf| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(p)
                .map(std::io::BufWriter::new)
                .map_err(metrics_err(p))
        };
        Ok(MetricsFiles {
            epochs: Some((path.clone(), append(path)?)),
            steps: Some((steps_path.clone(), append(&steps_path)?)),
        })
    }

    fn write(
        file: &mut Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
        line: &serde_json::Value,
        flush: bool,
    ) -> Result<(), TrainError> {
        if let Some((path, w)) = file {
            let result = writeln!(w, "{line}").and_then(|_| if flush { w.flush() } else { Ok(()) });
            result.map_err(|source| TrainError::Metrics {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// An epoch's line, the same bytes whether written live or again on a resume.
    fn epoch_line(r: &EpochRecord) -> serde_json::Value {
        serde_json::to_value(r).unwrap_or_default()
    }

    pub(super) fn epoch(&mut self, r: &EpochRecord) -> Result<(), TrainError> {
        let line = Self::epoch_line(r);
        Self::write(&mut self.epochs, &line, true)?;
        // Steps are flushed with each epoch so a killed run leaves whole lines.
        if let Some((path, w)) = &mut self.steps {
            w.flush().map_err(|source| TrainError::Metrics {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    pub(super) fn step(&mut self, step: u64, lr: f64, loss: f32) -> Result<(), TrainError> {
        if self.steps.is_none() {
            return Ok(());
        }
        Self::write(
            &mut self.steps,
            &serde_json::json!({"step": step, "lr": lr, "loss": loss}),
            false,
        )
    }

    pub(super) fn lr_change(
        &mut self,
        step: u64,
        epoch: u64,
        from: f64,
        to: f64,
    ) -> Result<(), TrainError> {
        if self.steps.is_none() {
            return Ok(());
        }
        let from = if from.is_nan() {
            serde_json::Value::Null
        } else {
            from.into()
        };
        Self::write(
            &mut self.steps,
            &serde_json::json!({"event": "lr_change", "step": step, "epoch": epoch, "from": from, "to": to}),
            false,
        )
    }
}
