//! The trial protocol, lrsched's side: the environment a trial's program gets and the
//! metrics lines it writes back (docs/protocol.md; the program's side is `lrsched::trial`).

use lrsched::trial as env;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Longest protocol line read: a program that writes more is reported, not buffered (the
/// program side's helpers refuse to write one).
pub use lrsched::trial::MAX_LINE_BYTES;

/// What one trial is: handed to the program as `LRSCHED_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialInput {
    /// The trial's name (`cosine-seed1`, a tune key, ...).
    pub name: String,
    /// The schedule: its config and the interval it is stepped at (checked when the spec
    /// was made, so every trial states a valid one).
    pub schedule: lrsched::ScheduleSpec,
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
        // The same two values `Trial::from_vars` reads back: the config with its `interval`
        // key where one was stated (keys sorted, as the untyped config printed), and the
        // interval, stated or the type's default.
        let [schedule, interval] = env::schedule_vars(&self.schedule);
        let mut v = vec![
            (env::ENV_PROTOCOL, env::PROTOCOL_VERSION.to_string()),
            (env::ENV_TRIAL, self.name.clone()),
            schedule,
            (
                env::ENV_SCHEDULE_FILE,
                self.schedule_path().display().to_string(),
            ),
            interval,
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

/// The optional variable that asks a program to build an optimizer: a JSON object with
/// `name` (`adam`, `prodigy`, ...) and its settings (`lr`, ...), set only for programs
/// that declared they honour it (docs/protocol.md, "Optimizer requests").
pub const ENV_OPTIMIZER: &str = "LRSCHED_OPTIMIZER";

/// The file in the trial's folder where a program that honoured `LRSCHED_OPTIMIZER` says
/// what it built: `{"name": "prodigy", ...}` (docs/protocol.md).
pub const OPTIMIZER_FILE: &str = "optimizer.json";

/// Why a trial that was asked for an optimizer cannot be counted as having used it: the
/// program wrote no [`OPTIMIZER_FILE`], wrote one that is not a JSON object with a
/// `name`, or named another optimizer than the one asked for, or said `"applied": false`.
/// `None` when it confirmed the request. A program that ignores the request trains with
/// its own optimizer, and its result under the baseline's name would be a disguised run
/// of something else: such a trial is bad output, never ranked.
///
/// ```
/// use lrsched_tools::protocol::check_optimizer_applied;
/// let dir = tempfile::tempdir().unwrap();
/// let asked = serde_json::json!({"name": "prodigy", "lr": 1.0});
/// let e = check_optimizer_applied(dir.path(), &asked).unwrap();
/// assert!(e.starts_with("was asked for optimizer `prodigy` (LRSCHED_OPTIMIZER) but wrote no optimizer.json"), "{e}");
/// std::fs::write(dir.path().join("optimizer.json"), r#"{"name": "adam"}"#).unwrap();
/// assert!(check_optimizer_applied(dir.path(), &asked).unwrap().contains("built `adam`"));
/// std::fs::write(dir.path().join("optimizer.json"), r#"{"name": "prodigy", "class": "prodigyopt.Prodigy"}"#).unwrap();
/// assert_eq!(check_optimizer_applied(dir.path(), &asked), None);
/// ```
pub fn check_optimizer_applied(dir: &Path, asked: &Value) -> Option<String> {
    let want = asked.get("name").and_then(Value::as_str).unwrap_or("");
    let path = dir.join(OPTIMIZER_FILE);
    let head = format!("was asked for optimizer `{want}` (LRSCHED_OPTIMIZER) but");
    let bytes = match read_trial_file(&path, 64 * 1024) {
        Ok(b) => b,
        Err(_) => {
            return Some(format!(
                "{head} wrote no {OPTIMIZER_FILE} saying it built it: a program that honours the request writes {{\"name\": \"{want}\"}} there (docs/protocol.md); one that ignores it trains with its own optimizer, which must not be ranked under this name"
            ))
        }
    };
    let said: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Some(format!("{head} its {OPTIMIZER_FILE} is not a JSON object")),
    };
    let Some(name) = said.get("name").and_then(Value::as_str) else {
        return Some(format!("{head} its {OPTIMIZER_FILE} has no `name`"));
    };
    if said.get("applied") == Some(&Value::Bool(false)) {
        let why = said
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        return Some(format!(
            "{head} said it did not apply it: {}",
            quote_text(why)
        ));
    }
    if name != want {
        return Some(format!(
            "{head} built `{}` ({OPTIMIZER_FILE})",
            quote_text(name)
        ));
    }
    None
}

/// At most 80 characters of a program's text, for messages.
fn quote_text(s: &str) -> String {
    let t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        format!("{t}...")
    } else {
        t
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
    /// 1-based line number; 0 for a problem with the file as a whole.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.path.display(), self.problem),
            n => write!(f, "{}:{n}: {}", self.path.display(), self.problem),
        }
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
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                format!(
                    "`{key}` = {} is not allowed: must be an integer >= 0",
                    shown(v)
                )
            }),
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

/// A value as the program wrote it (`NaN`, not the marker it is read through), at most
/// 80 characters, for messages.
fn shown(v: &Value) -> String {
    let text = match v {
        Value::String(s) if s == NAN_MARK => "NaN".to_string(),
        Value::String(s) if s == INF_MARK => "Infinity".to_string(),
        Value::String(s) if s == NEG_INF_MARK => "-Infinity".to_string(),
        v => v.to_string(),
    };
    let short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        format!("{short}...")
    } else {
        short
    }
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

/// The most metric lines one trial may write; past it the trial ends as bad output
/// instead of growing lrsched's memory without end (5 million step lines are already
/// 78,000 epochs of MNIST at batch 64).
pub const MAX_LINES_PER_TRIAL: usize = 5_000_000;

/// Bytes read from the file in one go; a poll reads at most [`POLL_BYTES`], `finish`
/// reads on to the end however long the file is.
const CHUNK_BYTES: usize = 1 << 20;
/// At most this much is read by one poll, so a fast writer cannot make one poll take
/// long; what is left is read by the next poll (or by `finish`).
const POLL_BYTES: usize = 16 * CHUNK_BYTES;
/// The bytes before the read position compared on every read: a program that rewrites
/// its file (`open(.., "w")` each epoch) changes them even when the size does not shrink.
const TAIL_CHECK_BYTES: usize = 64;

/// What a trial's lines may say, from the trial itself: epochs within its budget, steps
/// under its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineBounds {
    /// `LRSCHED_EPOCHS`: epoch lines count `1..=epochs`.
    pub epochs: u64,
    /// `LRSCHED_MAX_STEPS`: step lines count `0..max_steps`.
    pub max_steps: Option<u64>,
}

/// One read of a metrics file: the lines that read well, in order, and the first problem
/// after them (a bad line ends the reading, but never takes the good lines before it).
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    /// Complete lines, in file order, up to the first problem.
    pub lines: Vec<Line>,
    /// The first line or file state that breaks the protocol, if any.
    pub error: Option<ProtocolError>,
}

impl Batch {
    /// The lines, or the error when there was one (the good lines before it dropped).
    pub fn into_result(self) -> Result<Vec<Line>, ProtocolError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.lines),
        }
    }
}

/// Reads a metrics file as it grows: each [`MetricsReader::poll`] returns the complete
/// lines appended since the last one (a line without its newline waits for the next poll,
/// and is taken at [`MetricsReader::finish`] once the program has exited, which reads to
/// the end of the file however long it is).
///
/// The file must be what the protocol says: a regular file that is only appended to. A
/// FIFO, device or folder at the path is refused without ever blocking on it; a file that
/// shrinks, is rewritten in place, or is replaced or removed while the trial runs is bad
/// output naming the rule "append only". With [`MetricsReader::for_trial`] the lines are
/// also checked against the trial: epochs `1..=LRSCHED_EPOCHS`, never going back; steps
/// below `LRSCHED_MAX_STEPS`. At most [`MAX_LINES_PER_TRIAL`] lines are taken.
///
/// ```
/// use lrsched_tools::protocol::MetricsReader;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("metrics.jsonl");
/// let mut reader = MetricsReader::new(&path);
/// std::fs::write(&path, "{\"epoch\": 1, \"val_acc\": 0.5}\n{\"epoch\": 2}").unwrap();
/// assert_eq!(reader.poll().lines.len(), 1);     // a line without its newline waits
/// assert_eq!(reader.finish().lines.len(), 1);   // and is taken at the end
/// std::fs::write(&path, "").unwrap();            // truncated: not append only
/// assert!(reader.finish().error.unwrap().problem.contains("append only"));
/// ```
#[derive(Debug)]
pub struct MetricsReader {
    path: PathBuf,
    bounds: Option<LineBounds>,
    offset: u64,
    line: usize,
    pending: Vec<u8>,
    /// The bytes just before `offset`, compared again on the next read.
    tail: Vec<u8>,
    /// The file's device and inode once it has been seen.
    identity: Option<(u64, u64)>,
    last_epoch: u64,
    taken: usize,
    /// Set by the first problem: every later read reports it again.
    failed: Option<ProtocolError>,
}

impl MetricsReader {
    /// A reader at the start of `path` (which need not exist yet), checking the lines
    /// against the protocol only.
    pub fn new(path: &Path) -> Self {
        MetricsReader {
            path: path.to_path_buf(),
            bounds: None,
            offset: 0,
            line: 0,
            pending: Vec::new(),
            tail: Vec::new(),
            identity: None,
            last_epoch: 0,
            taken: 0,
            failed: None,
        }
    }

    /// A reader of `input`'s metrics file that also checks its lines against the trial
    /// (epoch budget, step cap).
    ///
    /// ```
    /// use lrsched_tools::protocol::{MetricsReader, TrialInput};
    /// let dir = tempfile::tempdir().unwrap();
    /// let input = TrialInput {
    ///     name: "t".into(), schedule: "constant(lr=0.1)".parse().unwrap(),
    ///     seed: 1, epochs: 3, max_steps: None, dir: dir.path().to_path_buf(),
    /// };
    /// std::fs::write(input.metrics_path(), "{\"epoch\": 1}\n{\"epoch\": 18446744073709551615}\n").unwrap();
    /// let batch = MetricsReader::for_trial(&input).finish();
    /// assert_eq!(batch.lines.len(), 1);
    /// assert!(batch.error.unwrap().problem.contains("budget of 3 epochs"));
    /// ```
    pub fn for_trial(input: &TrialInput) -> Self {
        MetricsReader {
            bounds: Some(LineBounds {
                epochs: input.epochs,
                max_steps: input.max_steps,
            }),
            ..MetricsReader::new(&input.metrics_path())
        }
    }

    /// The complete lines appended since the last poll (at most [`POLL_BYTES`] of the
    /// file per call); blank lines are skipped.
    pub fn poll(&mut self) -> Batch {
        self.read(false)
    }

    /// Reads what is left, to the end of the file however long it is, including a last
    /// line without its newline: call it once the program has exited.
    pub fn finish(&mut self) -> Batch {
        self.read(true)
    }

    fn read(&mut self, to_the_end: bool) -> Batch {
        let mut batch = Batch::default();
        if let Some(e) = &self.failed {
            batch.error = Some(e.clone());
            return batch;
        }
        if let Err(e) = self.read_lines(to_the_end, &mut batch.lines) {
            self.failed = Some(e.clone());
            batch.error = Some(e);
        }
        batch
    }

    fn read_lines(&mut self, to_the_end: bool, out: &mut Vec<Line>) -> Result<(), ProtocolError> {
        let Some(mut file) = self.open_checked()? else {
            return Ok(());
        };
        let mut read_now = 0usize;
        loop {
            let start = self.pending.len();
            let n = (&mut file)
                .take(CHUNK_BYTES as u64)
                .read_to_end(&mut self.pending)
                .map_err(|e| self.error(format!("cannot read: {e}")))?;
            self.offset += n as u64;
            // The last bytes read, to be found unchanged on the next read.
            let new = &self.pending[start..];
            let old_kept = TAIL_CHECK_BYTES
                .saturating_sub(new.len())
                .min(self.tail.len());
            self.tail.drain(..self.tail.len() - old_kept);
            self.tail
                .extend_from_slice(&new[new.len().saturating_sub(TAIL_CHECK_BYTES)..]);
            self.take_complete_lines(out)?;
            read_now += n;
            if n < CHUNK_BYTES || (!to_the_end && read_now >= POLL_BYTES) {
                break;
            }
        }
        if to_the_end && !self.pending.is_empty() {
            let raw = std::mem::take(&mut self.pending);
            self.line += 1;
            self.take(&raw, out)?;
        }
        Ok(())
    }

    /// Opens the file without blocking (a FIFO would block `open` until a writer came)
    /// and checks it is the same regular file, only appended to since the last read.
    /// `None` when it does not exist yet.
    fn open_checked(&mut self) -> Result<Option<std::fs::File>, ProtocolError> {
        use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return match self.identity {
                    None => Ok(None),
                    Some(_) => Err(self.append_only("was removed while the trial ran")),
                };
            }
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        };
        let meta = file
            .metadata()
            .map_err(|e| self.error(format!("cannot read: {e}")))?;
        if !meta.file_type().is_file() {
            return Err(self.file_error(format!(
                "is {}, not a regular file: the metrics file must be a plain file the program appends to",
                kind_of(&meta.file_type())
            )));
        }
        let identity = (meta.dev(), meta.ino());
        match self.identity {
            Some(seen) if seen != identity => {
                return Err(self.append_only(
                    "was replaced by another file while the trial ran (deleted and written anew)",
                ))
            }
            _ => self.identity = Some(identity),
        }
        if meta.len() < self.offset {
            return Err(self.append_only(&format!(
                "shrank from {} to {} bytes while the trial ran (truncated, or rewritten with \"w\")",
                self.offset,
                meta.len()
            )));
        }
        if !self.tail.is_empty() {
            let mut now = vec![0u8; self.tail.len()];
            let at = self.offset - self.tail.len() as u64;
            if file.read_exact_at(&mut now, at).is_err() || now != self.tail {
                return Err(self.append_only(
                    "was rewritten while the trial ran (its bytes already read changed)",
                ));
            }
        }
        let mut file = file;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| self.error(format!("cannot read: {e}")))?;
        Ok(Some(file))
    }

    /// Parses every complete line in `pending` (one pass; what is left is the start of
    /// the next line).
    fn take_complete_lines(&mut self, out: &mut Vec<Line>) -> Result<(), ProtocolError> {
        let pending = std::mem::take(&mut self.pending);
        let mut start = 0;
        let mut result = Ok(());
        while let Some(len) = pending[start..].iter().position(|b| *b == b'\n') {
            self.line += 1;
            let raw = &pending[start..start + len];
            start += len + 1;
            if let Err(e) = self.take(raw, out) {
                result = Err(e);
                break;
            }
        }
        self.pending = pending;
        self.pending.drain(..start);
        result?;
        if self.pending.len() > MAX_LINE_BYTES {
            self.line += 1;
            return Err(self.error(format!(
                "a line longer than {MAX_LINE_BYTES} bytes: protocol lines are short JSON objects"
            )));
        }
        Ok(())
    }

    /// Parses one line, checks it against the trial and keeps it.
    fn take(&mut self, raw: &[u8], out: &mut Vec<Line>) -> Result<(), ProtocolError> {
        let text = std::str::from_utf8(raw).map_err(|_| self.error("not UTF-8 text".into()))?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let line = parse_line(text).map_err(|p| self.error(p))?;
        self.check_bounds(&line).map_err(|p| self.error(p))?;
        if self.taken >= MAX_LINES_PER_TRIAL {
            return Err(self.error(format!(
                "more than {MAX_LINES_PER_TRIAL} metric lines: at most one step line per \
                 optimizer step and one epoch line per epoch"
            )));
        }
        self.taken += 1;
        out.push(line);
        Ok(())
    }

    fn check_bounds(&mut self, line: &Line) -> Result<(), String> {
        let Some(b) = self.bounds else {
            return Ok(());
        };
        match line {
            Line::Epoch(e) => {
                if e.epoch > b.epochs {
                    return Err(format!(
                        "`epoch` = {} is past the trial's budget of {} epochs (LRSCHED_EPOCHS): epochs count 1..={}",
                        e.epoch, b.epochs, b.epochs
                    ));
                }
                if e.epoch < self.last_epoch {
                    return Err(format!(
                        "`epoch` = {} comes after epoch {}: epochs never go back (one line per epoch, in order)",
                        e.epoch, self.last_epoch
                    ));
                }
                self.last_epoch = e.epoch;
            }
            Line::Step(s) => {
                if let Some(cap) = b.max_steps {
                    if s.step >= cap {
                        return Err(format!(
                            "`step` = {} is past the trial's cap of {cap} steps (LRSCHED_MAX_STEPS): steps count 0..{cap}",
                            s.step
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn append_only(&self, what: &str) -> ProtocolError {
        self.file_error(format!(
            "{what}: the metrics file is append only (open it with \"a\" and never rewrite or delete it)"
        ))
    }

    fn error(&self, problem: String) -> ProtocolError {
        ProtocolError {
            path: self.path.clone(),
            line: self.line,
            problem,
        }
    }

    /// A problem with the file as a whole (its kind, its being rewritten): no line.
    fn file_error(&self, problem: String) -> ProtocolError {
        ProtocolError {
            path: self.path.clone(),
            line: 0,
            problem,
        }
    }
}

/// Reads a small file a trial's program could have tampered with (`exit_status`, the end
/// of `stderr.log`): opened without blocking, refused unless it is a regular file, and at
/// most the last `limit` bytes of it read. A FIFO put where a file should be would block a
/// plain `open` for ever.
///
/// ```
/// use lrsched_tools::protocol::read_trial_file;
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("exit_status"), "0\n").unwrap();
/// assert_eq!(read_trial_file(&dir.path().join("exit_status"), 64).unwrap(), b"0\n");
/// assert!(read_trial_file(dir.path(), 64).unwrap_err().to_string().contains("a folder"));
/// ```
pub fn read_trial_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(format!(
            "{} is {}, not a regular file",
            path.display(),
            kind_of(&meta.file_type())
        )));
    }
    file.seek(SeekFrom::Start(meta.len().saturating_sub(limit)))?;
    let mut buf = Vec::new();
    file.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// "a FIFO", "a folder", ... for a file that is not a regular file.
pub(crate) fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "an unknown kind of file"
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
        assert_eq!(r.poll(), Batch::default());
        std::fs::write(&path, "{\"epoch\": 1, \"val_acc\": 0.5}\n{\"epoch\": 2").unwrap();
        assert_eq!(r.poll().lines.len(), 1);
        std::fs::write(
            &path,
            "{\"epoch\": 1, \"val_acc\": 0.5}\n{\"epoch\": 2}\n\nbad\n",
        )
        .unwrap();
        let batch = r.poll();
        assert_eq!(
            batch.lines.len(),
            1,
            "the good line before the bad one is kept"
        );
        let e = batch.error.unwrap();
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
            schedule: lrsched::ScheduleSpec::from_value(
                serde_json::json!({"type": "StepLR", "lr": 0.1, "step_size": 2}),
            )
            .unwrap(),
            seed: 3,
            epochs: 4,
            max_steps: None,
            dir: PathBuf::from("/tmp/x"),
        };
        let v = t.env(Some(10));
        let get = |k: &str| v.iter().find(|(n, _)| *n == k).map(|(_, x)| x.clone());
        assert_eq!(get("LRSCHED_INTERVAL").as_deref(), Some("epoch"));
        // The config as the untyped value printed it: keys sorted, no `interval` added
        // where none was stated.
        assert_eq!(
            get("LRSCHED_SCHEDULE").as_deref(),
            Some(r#"{"lr":0.1,"step_size":2,"type":"StepLR"}"#)
        );
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
