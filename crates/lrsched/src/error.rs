//! The one error type of the crate.

use std::fmt;

/// Everything that can be wrong with a schedule or its config.
///
/// Each variant names the offending key (or position) and says what is allowed, so a
/// caller can print it on one line and a user can fix the input without reading code.
///
/// ```
/// use lrsched::{Cosine, Schedule};
/// let err = Cosine::new(f64::NAN, 100).validate().unwrap_err();
/// assert!(err.to_string().contains("lr"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleError {
    /// A parameter has a value outside its allowed range.
    InvalidValue {
        /// The schedule (config `type`) the parameter belongs to.
        schedule: String,
        /// The parameter's name, as written in a config.
        key: String,
        /// The offending value, printed.
        value: String,
        /// What would have been accepted.
        allowed: String,
    },
    /// A config names a schedule type that does not exist.
    UnknownType {
        /// The name as written.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },
    /// A config has a key the schedule does not take.
    UnknownKey {
        /// The schedule (config `type`).
        schedule: String,
        /// The key as written.
        key: String,
        /// The closest allowed key, if one is close.
        suggestion: Option<String>,
        /// Every key the schedule takes.
        allowed: Vec<String>,
    },
    /// A required key is missing.
    MissingKey {
        /// The schedule (config `type`).
        schedule: String,
        /// The key that must be given.
        key: String,
    },
    /// A key has a value of the wrong type, or a config is otherwise malformed.
    Invalid {
        /// Where in the config (e.g. `schedules[1].gamma`), empty for the top level.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Text that is not valid JSON, TOML or one-line syntax.
    Syntax {
        /// Which format was being read.
        format: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A restored driver state does not match the config it is restored into.
    StateMismatch {
        /// Every difference, as `path: saved -> given`.
        differences: Vec<String>,
    },
}

impl ScheduleError {
    /// Shorthand for [`ScheduleError::InvalidValue`].
    ///
    /// ```
    /// let e = lrsched::ScheduleError::invalid("step", "gamma", f64::NAN, "a finite number > 0");
    /// assert_eq!(e.to_string(), "step: `gamma` = NaN is not allowed: must be a finite number > 0");
    /// ```
    pub fn invalid(
        schedule: &str,
        key: &str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        ScheduleError::InvalidValue {
            schedule: schedule.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ScheduleError {
    /// Quoted input is cut to [`MAX_QUOTE`] characters ([`shorten`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut full = String::new();
        self.write_full(&mut full)?;
        f.write_str(&shorten(&full))
    }
}

impl ScheduleError {
    /// The message with every value as given; [`fmt::Display`] cuts long quotes.
    fn write_full(&self, f: &mut impl fmt::Write) -> fmt::Result {
        match self {
            ScheduleError::InvalidValue {
                schedule,
                key,
                value,
                allowed,
            } => write!(
                f,
                "{schedule}: `{key}` = {} is not allowed: must be {allowed}",
                quote(value)
            ),
            ScheduleError::UnknownType { name, suggestion } => {
                write!(f, "unknown schedule type `{name}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`? (`lrsched list` shows all)"),
                    None => write!(f, " (`lrsched list` shows all)"),
                }
            }
            ScheduleError::UnknownKey {
                schedule,
                key,
                suggestion,
                allowed,
            } => {
                write!(f, "{schedule}: unknown key `{key}`")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                write!(f, " (allowed: {})", allowed.join(", "))
            }
            ScheduleError::MissingKey { schedule, key } => {
                write!(f, "{schedule}: missing required key `{key}`")
            }
            ScheduleError::Invalid { path, message } => {
                if path.is_empty() {
                    write!(f, "{message}")
                } else {
                    write!(f, "at `{path}`: {message}")
                }
            }
            ScheduleError::Syntax {
                format,
                line,
                column,
                message,
            } => write!(
                f,
                "invalid {format} at line {line}, column {column}: {message}"
            ),
            ScheduleError::StateMismatch { differences } => write!(
                f,
                "saved state does not match the config: {}",
                differences.join("; ")
            ),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// The most characters of the user's input an error message quotes: enough to recognise
/// the value, never a whole pasted file (a 100 KB input once came back whole).
pub const MAX_QUOTE: usize = 80;

/// The most characters of one error message (after [`shorten`] has cut its quotes).
pub const MAX_MESSAGE: usize = 1000;

/// `text` as an error message quotes it: at most [`MAX_QUOTE`] characters, a longer text
/// cut with an ellipsis.
///
/// ```
/// assert_eq!(lrsched::quote("cosine"), "cosine");
/// let long = "x".repeat(100_000);
/// assert_eq!(lrsched::quote(&long).chars().count(), lrsched::MAX_QUOTE + 1);
/// assert!(lrsched::quote(&long).ends_with('…'));
/// ```
pub fn quote(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTE) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..cut])),
    }
}

/// A message with every quoted part (between backticks or double quotes) cut to
/// [`MAX_QUOTE`] characters, and the whole to [`MAX_MESSAGE`]: what an error may say of
/// the user's input, however long that was. Every error of this crate displays through
/// it, and `lrsched` prints every error through it.
///
/// ```
/// let input = "y".repeat(100_000);
/// let m = format!("unknown schedule type `{input}` (`lrsched list` shows all)");
/// let short = lrsched::shorten(&m);
/// assert!(short.len() < 200, "{short}");
/// assert!(short.ends_with("y…` (`lrsched list` shows all)"), "{short}");
/// assert_eq!(lrsched::shorten("at `lr`: expected a number"), "at `lr`: expected a number");
/// ```
pub fn shorten(message: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find(['`', '"']) {
        let q = rest[at..].chars().next().unwrap_or('`');
        out.push_str(&rest[..=at]);
        let inside = &rest[at + 1..];
        match inside.find(q) {
            Some(end) => {
                out.push_str(&quote(&inside[..end]));
                out.push(q);
                rest = &inside[end + 1..];
            }
            None => {
                out.push_str(&quote(inside));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if let Some((cut, _)) = out.char_indices().nth(MAX_MESSAGE) {
        out.truncate(cut);
        // A cut right after a quote's own ellipsis would otherwise lengthen that quote.
        if !out.ends_with('…') {
            out.push('…');
        }
    }
    if out == message {
        std::borrow::Cow::Borrowed(message)
    } else {
        std::borrow::Cow::Owned(out)
    }
}

/// The known name closest to `name` by edit distance, if it is close enough to be a typo.
///
/// ```
/// assert_eq!(lrsched::suggest("cosin", ["cosine", "constant"]), Some("cosine".to_string()));
/// assert_eq!(lrsched::suggest("zzzzzz", ["cosine"]), None);
/// ```
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let limit = |k: &str| (k.len().max(name.len()) / 3).max(2);
    known
        .into_iter()
        // The distance is at least the difference in length: a name far longer than
        // any known one (a pasted file) is no typo, and costs nothing to rule out.
        .filter(|k| k.len().abs_diff(name.len()) <= limit(k))
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= limit(k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
