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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::InvalidValue {
                schedule,
                key,
                value,
                allowed,
            } => write!(
                f,
                "{schedule}: `{key}` = {value} is not allowed: must be {allowed}"
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

/// The known name closest to `name` by edit distance, if it is close enough to be a typo.
///
/// ```
/// assert_eq!(lrsched::suggest("cosin", ["cosine", "constant"]), Some("cosine".to_string()));
/// assert_eq!(lrsched::suggest("zzzzzz", ["cosine"]), None);
/// ```
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.len().max(name.len()) / 3).max(2))
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
