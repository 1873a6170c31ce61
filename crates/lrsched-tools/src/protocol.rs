//! The trial protocol, lrsched's side: the environment a trial's program gets and the
//! metrics lines it writes back (docs/protocol.md; the program's side is `lrsched::trial`).

use lrsched::trial as env;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Longest protocol line read: a program that writes more is reported, not buffered.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What one trial is: handed to the program as `LRSCHED_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialInput {
    /// The trial's name (`cosine-seed1`, a tune key, ...).
    pub name: String,
    /// The schedule's JSON config (may keep an `interval` key).
    pub schedule: Value,
    /// The seed.
    pub seed: u64,
    /// The epoch budget.
    pub epochs: u64,
    /// Optional cap on optimizer steps (the range test's length).
    pub max_steps: Option<u64>,
    /// The trial's folder; the metrics file is `metrics.jsonl` in it.
    pub dir: PathBuf,
}

impl TrialInput {
    /// Where the program appends its lines.
    pub fn metrics_path(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }

    /// Where the schedule's config is written for `LRSCHED_SCHEDULE_FILE`.
    pub fn schedule_path(&self) -> PathBuf {
        self.dir.join("schedule.json")
    }

    /// The `LRSCHED_*` variables for this trial (`steps_per_epoch` when the user told
    /// lrsched the program's shape).
    pub fn env(&self, steps_per_epoch: Option<u64>) -> Vec<(&'static str, String)> {
        let mut schedule = self.schedule.clone();
        let interval = lrsched::config::take_interval(&mut schedule)
            .map(|i| match i {
                lrsched::Interval::Step => "step",
                lrsched::Interval::Epoch => "epoch",
            })
            .unwrap_or("step");
        let mut v = vec![
            (env::ENV_PROTOCOL, env::PROTOCOL_VERSION.to_string()),
            (env::ENV_TRIAL, self.name.clone()),
            (env::ENV_SCHEDULE, self.schedule.to_string()),
            (
                env::ENV_SCHEDULE_FILE,
                self.schedule_path().display().to_string(),
            ),
            (env::ENV_INTERVAL, interval.to_string()),
            (env::ENV_SEED, self.seed.to_string()),
            (env::ENV_EPOCHS, self.epochs.to_string()),
            (env::ENV_OUT_DIR, self.dir.display().to_string()),
            (env::ENV_METRICS, self.metrics_path().display().to_string()),
        ];
        if let Some(n) = self.max_steps {
            v.push((env::ENV_MAX_STEPS, n.to_string()));
        }
        if let Some(n) = steps_per_epoch {
            v.push((env::ENV_STEPS_PER_EPOCH, n.to_string()));
        }
        v
    }
}

/// One epoch's line: `{"epoch": 1, "val_loss": 0.31, "val_acc": 0.91}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLine {
    /// The epoch, from 1.
    pub epoch: u64,
    /// Every other numeric key (NaN / infinities kept as such).
    pub values: BTreeMap<String, f64>,
    /// Seconds from the trial's start to this line (lrsched's clock: when the line was
    /// read for a command, the summed epoch times for the built-in trainer).
    pub elapsed: Option<f64>,
}

impl EpochLine {
    /// A metric's value, if the line has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }
}

/// One optimizer step's line: `{"step": 120, "lr": 0.05, "loss": 0.42}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLine {
    /// The step, from 0.
    pub step: u64,
    /// The rate used for the step.
    pub lr: Option<f64>,
    /// The step's training loss.
    pub loss: Option<f64>,
}

/// A parsed protocol line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Per epoch.
    Epoch(EpochLine),
    /// Per optimizer step.
    Step(StepLine),
}

/// A line that breaks the protocol, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolError {
    /// The metrics file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.problem)
    }
}

/// Parses one line of a metrics file.
///
/// Values are numbers; `NaN`, `Infinity` and `-Infinity` (as Python's `json` writes
/// them) and `null` (read as NaN) are accepted; strings, lists and objects under other
/// keys are ignored, so a program may log a note beside its numbers.
///
/// ```
/// use lrsched_tools::protocol::{parse_line, Line};
/// let Line::Epoch(e) = parse_line(r#"{"epoch": 2, "val_acc": 0.9, "val_loss": NaN}"#).unwrap() else { panic!() };
/// assert_eq!(e.epoch, 2);
/// assert!(e.get("val_loss").unwrap().is_nan());
/// assert!(parse_line(r#"{"val_acc": 0.9}"#).unwrap_err().contains("\"epoch\" or \"step\""));
/// ```
pub fn parse_line(text: &str) -> Result<Line, String> {
    let cleaned = replace_nonfinite(text);
    let value: Value = serde_json::from_str(&cleaned).map_err(|e| {
        format!(
            "not a JSON object ({}): {}",
            e.to_string().split(" at line").next().unwrap_or(""),
            quote(text)
        )
    })?;
    let Value::Object(map) = value else {
        return Err(format!("not a JSON object: {}", quote(text)));
    };
    let count = |key: &str| -> Result<Option<u64>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` = {v} is not allowed: must be an integer >= 0")),
        }
    };
    let number = |key: &str, v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Null => Some(f64::NAN),
            Value::String(s) if s == NAN_MARK => Some(f64::NAN),
            Value::String(s) if s == INF_MARK => Some(f64::INFINITY),
            Value::String(s) if s == NEG_INF_MARK => Some(f64::NEG_INFINITY),
            _ => {
                let _ = key;
                None
            }
        }
    };
    match (count("epoch")?, count("step")?) {
        (Some(_), Some(_)) => Err("a line has \"epoch\" or \"step\", not both".into()),
        (None, None) => Err(format!(
            "a line must have \"epoch\" or \"step\" (an integer): {}",
            quote(text)
        )),
        (Some(epoch), None) => {
            if epoch == 0 {
                return Err("`epoch` = 0 is not allowed: epochs count from 1".into());
            }
            let values = map
                .iter()
                .filter(|(k, _)| k.as_str() != "epoch")
                .filter_map(|(k, v)| number(k, v).map(|x| (k.clone(), x)))
                .collect();
            Ok(Line::Epoch(EpochLine {
                epoch,
                values,
                elapsed: None,
            }))
        }
        (None, Some(step)) => Ok(Line::Step(StepLine {
            step,
            lr: map.get("lr").and_then(|v| number("lr", v)),
            loss: map.get("loss").and_then(|v| number("loss", v)),
        })),
    }
}

const NAN_MARK: &str = "\u{1}NaN";
const INF_MARK: &str = "\u{1}Infinity";
const NEG_INF_MARK: &str = "\u{1}-Infinity";

/// Turns the bare `NaN` / `Infinity` / `-Infinity` tokens (outside strings) into marker
/// strings serde_json can read.
fn replace_nonfinite(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let token = [
            ("-Infinity", NEG_INF_MARK),
            ("Infinity", INF_MARK),
            ("NaN", NAN_MARK),
        ]
        .into_iter()
        .find(|(t, _)| rest.starts_with(t));
        if let Some((t, mark)) = token {
            out.push_str(&Value::String(mark.into()).to_string());
            rest = &rest[t.len()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

/// At most 80 characters of a line, for messages.
fn quote(text: &str) -> String {
    let t: String = text.chars().take(80).collect();
    if t.len() < text.len() {
        format!("{t:?}...")
    } else {
        format!("{t:?}")
    }
}

/// Reads a metrics file as it grows: each [`MetricsReader::poll`] returns the complete
/// lines appended since the last one (a line without its newline waits for the next poll,
/// and is taken at [`MetricsReader::finish`] once the program has exited).
#[derive(Debug)]
pub struct MetricsReader {
    path: PathBuf,
    offset: u64,
    line: usize,
    pending: Vec<u8>,
}

impl MetricsReader {
    /// A reader at the start of `path` (which need not exist yet).
    pub fn new(path: &Path) -> Self {
        MetricsReader {
            path: path.to_path_buf(),
            offset: 0,
            line: 0,
            pending: Vec::new(),
        }
    }

    /// The complete lines appended since the last poll; blank lines are skipped.
    pub fn poll(&mut self) -> Result<Vec<Line>, ProtocolError> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Ok(Vec::new());
        }
        let mut buf = Vec::new();
        // Read a bounded amount per poll so a runaway writer cannot exhaust memory.
        let read = f
            .take(16 * MAX_LINE_BYTES as u64)
            .read_to_end(&mut buf)
            .map_err(|e| self.error(format!("cannot read: {e}")))?;
        self.offset += read as u64;
        self.pending.extend_from_slice(&buf);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            self.line += 1;
            if let Some(line) = self.parse(&raw[..raw.len() - 1])? {
                lines.push(line);
            }
        }
        if self.pending.len() > MAX_LINE_BYTES {
            self.line += 1;
            return Err(self.error(format!(
                "a line longer than {MAX_LINE_BYTES} bytes: protocol lines are short JSON objects"
            )));
        }
        Ok(lines)
    }

    /// Reads what is left, including a last line without its newline.
    pub fn finish(&mut self) -> Result<Vec<Line>, ProtocolError> {
        let mut lines = self.poll()?;
        if !self.pending.is_empty() {
            let raw = std::mem::take(&mut self.pending);
            self.line += 1;
            if let Some(line) = self.parse(&raw)? {
                lines.push(line);
            }
        }
        Ok(lines)
    }

    fn parse(&self, raw: &[u8]) -> Result<Option<Line>, ProtocolError> {
        let text = std::str::from_utf8(raw).map_err(|_| self.error("not UTF-8 text".into()))?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        parse_line(text).map(Some).map_err(|p| self.error(p))
    }

    fn error(&self, problem: String) -> ProtocolError {
        ProtocolError {
            path: self.path.clone(),
            line: self.line,
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_with_python_nonfinite_tokens() {
        let Line::Step(s) = parse_line(r#"{"step": 3, "lr": 0.1, "loss": Infinity}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.step, 3);
        assert_eq!(s.loss, Some(f64::INFINITY));
        // A token inside a string is left alone.
        let Line::Epoch(e) =
            parse_line(r#"{"epoch": 1, "note": "NaN here", "val_loss": -Infinity}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.get("val_loss"), Some(f64::NEG_INFINITY));
        assert_eq!(e.get("note"), None);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, want) in [
            ("garbage", "not a JSON object"),
            ("[1, 2]", "not a JSON object"),
            (r#"{"epoch": -1}"#, "integer >= 0"),
            (r#"{"epoch": 0}"#, "count from 1"),
            (r#"{"epoch": 1, "step": 2}"#, "not both"),
            (r#"{"loss": 2}"#, "must have"),
        ] {
            let e = parse_line(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn reader_takes_complete_lines_and_names_the_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let mut r = MetricsReader::new(&path);
        assert!(r.poll().unwrap().is_empty());
        std::fs::write(&path, "{\"epoch\": 1, \"val_acc\": 0.5}\n{\"epoch\": 2").unwrap();
        assert_eq!(r.poll().unwrap().len(), 1);
        std::fs::write(
            &path,
            "{\"epoch\": 1, \"val_acc\": 0.5}\n{\"epoch\": 2}\n\nbad\n",
        )
        .unwrap();
        let e = r.poll().unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.to_string().contains("m.jsonl:4: not a JSON object"),
            "{e}"
        );
    }

    #[test]
    fn env_names_every_variable() {
        let t = TrialInput {
            name: "t".into(),
            schedule: serde_json::json!({"type": "StepLR", "lr": 0.1, "step_size": 2}),
            seed: 3,
            epochs: 4,
            max_steps: None,
            dir: PathBuf::from("/tmp/x"),
        };
        let v = t.env(Some(10));
        let get = |k: &str| v.iter().find(|(n, _)| *n == k).map(|(_, x)| x.clone());
        assert_eq!(get("LRSCHED_INTERVAL").as_deref(), Some("epoch"));
        assert_eq!(get("LRSCHED_STEPS_PER_EPOCH").as_deref(), Some("10"));
        assert_eq!(
            get("LRSCHED_METRICS").as_deref(),
            Some("/tmp/x/metrics.jsonl")
        );
        // The program-side reader accepts what this side writes.
        let trial = lrsched::trial::Trial::from_vars(|k| get(k))
            .unwrap()
            .unwrap();
        assert_eq!(trial.seed, 3);
        assert_eq!(trial.interval, lrsched::Interval::Epoch);
    }
}
