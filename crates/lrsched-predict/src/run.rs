//! A finished run as the laws see it: the rate at every step and the losses observed.

use crate::PredictError;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The most steps a run or a predicted schedule may have: the laws walk every step, and
/// the multi-power law's loss-drop sum is quadratic in them at the points it is asked for.
pub const MAX_STEPS: usize = 10_000_000;

/// A run: its rate at every step from 0 and its training loss at the steps it logged.
///
/// ```
/// use lrsched_predict::Run;
/// let losses = vec![(0, 2.3), (1, 2.0), (2, 1.8), (3, 1.7)];
/// let run = Run::new("constant", vec![0.1; 4], losses).unwrap();
/// assert_eq!(run.steps(), 4);
/// assert!(Run::new("bad", vec![0.1; 3], vec![(0, f64::NAN)]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Where the run came from, for messages and reports.
    pub name: String,
    /// The rate at each step, `lrs[s]` for step `s`.
    pub lrs: Vec<f64>,
    /// `(step, loss)` in increasing step order, each step below `lrs.len()`.
    pub losses: Vec<(usize, f64)>,
}

impl Run {
    /// A run from its rates and losses, checked: rates finite and at least 0, one of them
    /// above 0; losses finite and above 0 (the laws fit log losses); steps increasing and
    /// inside the rates; at least 4 losses that are not all equal.
    pub fn new(name: &str, lrs: Vec<f64>, losses: Vec<(usize, f64)>) -> Result<Run, PredictError> {
        let bad = |what: String| Err(PredictError::new(format!("run `{name}`: {what}")));
        if lrs.len() > MAX_STEPS {
            return bad(format!(
                "{} steps, more than the {MAX_STEPS} a run may have",
                lrs.len()
            ));
        }
        if let Some((s, lr)) = lrs
            .iter()
            .enumerate()
            .find(|(_, lr)| !(lr.is_finite() && **lr >= 0.0))
        {
            return bad(format!(
                "the rate at step {s} is {lr}; rates must be finite and >= 0"
            ));
        }
        if !lrs.iter().any(|lr| *lr > 0.0) {
            return bad(
                "every rate is 0: a run that never trained says nothing about a schedule".into(),
            );
        }
        for (i, &(step, loss)) in losses.iter().enumerate() {
            if !(loss.is_finite() && loss > 0.0) {
                return bad(format!(
                    "the loss at step {step} is {loss}; losses must be finite and > 0 (a diverged run cannot be fitted)"
                ));
            }
            if step >= lrs.len() {
                return bad(format!(
                    "a loss at step {step}, past the {} steps whose rates are known",
                    lrs.len()
                ));
            }
            if i > 0 && step <= losses[i - 1].0 {
                return bad(format!(
                    "steps go back or repeat ({} then {step}); a run's steps must increase",
                    losses[i - 1].0
                ));
            }
        }
        if losses.len() < 4 {
            return bad(format!(
                "{} logged step loss(es); the laws need at least 4 (a step line per step, or every few steps)",
                losses.len()
            ));
        }
        let first = losses[0].1;
        if losses.iter().all(|(_, l)| *l == first) {
            return bad(format!(
                "every loss is {first}: a constant loss says nothing about the schedule"
            ));
        }
        Ok(Run {
            name: name.to_string(),
            lrs,
            losses,
        })
    }

    /// The run read from a metrics file of the trial protocol (`docs/protocol.md`): its step
    /// lines `{"step", "lr", "loss"}`, as `lrsched train --metrics-out` writes in
    /// `.steps.jsonl` and compare/tune trial folders hold in `metrics.jsonl`. Epoch lines
    /// and event lines are skipped. Steps a program did not log get the rate between the
    /// logged ones (linearly), and a note says so through [`Run::gaps`].
    pub fn read_metrics(path: &Path) -> Result<Run, PredictError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| PredictError::new(format!("cannot read `{name}`: {e}")))?;
        if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(PredictError::new(format!(
                "`{name}` is not a regular file; --runs takes metrics files or trial folders"
            )));
        }
        Run::read_lines(&name, file)
    }

    /// [`Run::read_metrics`] over any reader, `name` naming it in messages.
    pub fn read_lines(name: &str, reader: impl Read) -> Result<Run, PredictError> {
        let mut points: Vec<(usize, f64, f64)> = Vec::new();
        // A line longer than this is not a step line of any program; refusing it bounds
        // memory whatever the file holds.
        const MAX_LINE: u64 = 1 << 20;
        let mut reader = BufReader::new(reader);
        let mut line = String::new();
        let mut number = 0usize;
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE + 1)
                .read_line(&mut line)
                .map_err(|e| PredictError::new(format!("cannot read `{name}`: {e}")))?;
            if read == 0 {
                break;
            }
            number += 1;
            if read as u64 > MAX_LINE {
                return Err(PredictError::new(format!(
                    "`{name}` line {number} is longer than {MAX_LINE} bytes; not a metrics line"
                )));
            }
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let value: serde_json::Value = match serde_json::from_str(text) {
                Ok(v) => v,
                // NaN/Infinity written bare by Python's json module: a diverged step.
                Err(_) if text.contains("NaN") || text.contains("Infinity") => {
                    return Err(PredictError::new(format!(
                        "`{name}` line {number}: a non-finite value ({text:.80}); a diverged run cannot be fitted"
                    )))
                }
                Err(e) => {
                    return Err(PredictError::new(format!(
                        "`{name}` line {number} is not JSON ({e}); metrics files hold one JSON object a line"
                    )))
                }
            };
            let Some(object) = value.as_object() else {
                continue;
            };
            if object.contains_key("event") || object.contains_key("epoch") {
                continue;
            }
            let Some(step) = object.get("step").and_then(|s| s.as_u64()) else {
                continue;
            };
            let number_of = |key: &str| object.get(key).map(|v| v.as_f64().unwrap_or(f64::NAN));
            let (Some(lr), Some(loss)) = (number_of("lr"), number_of("loss")) else {
                return Err(PredictError::new(format!(
                    "`{name}` line {number}: a step line without `lr` and `loss`; predict needs both at every logged step"
                )));
            };
            if step as usize >= MAX_STEPS {
                return Err(PredictError::new(format!(
                    "`{name}` line {number}: step {step}, past the {MAX_STEPS} steps a run may have"
                )));
            }
            points.push((step as usize, lr, loss));
        }
        if points.is_empty() {
            return Err(PredictError::new(format!(
                "`{name}` has no step lines {{\"step\", \"lr\", \"loss\"}}; predict fits step losses (lrsched train writes them to .steps.jsonl)"
            )));
        }
        // A program that resumed may log a step again: the later line is the one that counts.
        points.sort_by_key(|p| p.0);
        points.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        let last = points[points.len() - 1].0;
        let mut lrs = vec![0.0; last + 1];
        for pair in points.windows(2) {
            let ((s0, lr0, _), (s1, lr1, _)) = (pair[0], pair[1]);
            for (s, slot) in lrs.iter_mut().enumerate().take(s1).skip(s0) {
                *slot = lr0 + (lr1 - lr0) * (s - s0) as f64 / (s1 - s0) as f64;
            }
        }
        let first = points[0];
        for slot in lrs.iter_mut().take(first.0) {
            *slot = first.1;
        }
        lrs[last] = points[points.len() - 1].1;
        let losses = points.iter().map(|&(s, _, loss)| (s, loss)).collect();
        Run::new(name, lrs, losses)
    }

    /// The number of steps whose rate is known.
    pub fn steps(&self) -> usize {
        self.lrs.len()
    }

    /// How many steps have no logged loss (their rate was interpolated when read).
    pub fn gaps(&self) -> usize {
        self.steps() - self.losses.len()
    }

    /// The mean loss over the last 5% of the logged steps (at least one): what a prediction
    /// of this run's final loss is compared against.
    pub fn final_loss(&self) -> f64 {
        let from = final_window_start(self.steps());
        let tail: Vec<f64> = self
            .losses
            .iter()
            .filter(|(s, _)| *s >= from)
            .map(|(_, l)| *l)
            .collect();
        if tail.is_empty() {
            return self.losses[self.losses.len() - 1].1;
        }
        tail.iter().sum::<f64>() / tail.len() as f64
    }
}

/// The first step of the final window of a run of `steps` steps: its last 5%, at least one.
pub(crate) fn final_window_start(steps: usize) -> usize {
    let window = (steps / 20).max(1);
    steps - window.min(steps)
}
