//! The one-line form: a schedule written on a command line.
//!
//! ```text
//! schedule := NAME "(" [ arg { "," arg } ] ")"
//! arg      := KEY "=" value
//! value    := NUMBER | DURATION | WORD | STRING | "true" | "false"
//!           | "[" [ value { "," value } ] "]"      a list
//!           | "{" [ arg { "," arg } ] "}"          a table (keys without a type)
//!           | schedule                             a nested schedule
//! ```
//!
//! `NAME` is any config `type` (`cosine`, `warmup`, `StepLR`, ...) and each `KEY` is one of
//! its config keys, so the one-line form says exactly what a JSON config says:
//! `cosine(lr=0.1, steps=1000)` is `{"type": "cosine", "lr": 0.1, "steps": 1000}`.
//! `WORD` is a bare word such as `triangular2` or `1-sqrt` (a string); `STRING` is double-quoted with
//! JSON escapes. `DURATION` is `3ep`, `10%` or `0.1dur` (resolved with a run shape).
//! Whitespace is free.
//!
//! A linear warmup over 500 steps into a cosine decay from 0.1 over 10,000 steps:
//!
//! ```
//! use lrsched::{oneline, Schedule};
//! let s = oneline::parse("warmup(steps=500, schedule=cosine(lr=0.1, steps=10000))").unwrap();
//! assert_eq!(s.value(500), 0.1);
//! assert_eq!(oneline::print(&s), "warmup(schedule=cosine(lr=0.1, steps=10000), steps=500)");
//! ```
//!
//! [`print()`] writes the form [`parse`] reads back to an equal schedule.

use crate::time::RunShape;
use crate::{config, AnySchedule, ScheduleError};
use serde_json::{Map, Value};

/// Nesting deeper than this is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 64;

/// Parses a one-line schedule and validates it.
pub fn parse(text: &str) -> Result<AnySchedule, ScheduleError> {
    parse_with_shape(text, None)
}

/// As [`parse`], resolving `3ep` / `10%` durations with `shape`: a thin wrapper of
/// [`ScheduleSpec::parse_as`](crate::ScheduleSpec::parse_as) with the one-line form, then
/// [`ScheduleSpec::build`](crate::ScheduleSpec::build).
pub fn parse_with_shape(
    text: &str,
    shape: Option<&RunShape>,
) -> Result<AnySchedule, ScheduleError> {
    crate::ScheduleSpec::parse_as(text, crate::spec::TextFormat::OneLine)?.build(shape)
}

/// Parses a one-line schedule into its config object, without building it.
pub fn parse_value(text: &str) -> Result<Value, ScheduleError> {
    let mut p = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let v = p.schedule()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error("unexpected text after the schedule"));
    }
    Ok(v)
}

/// Writes a schedule in the one-line form (keys in alphabetical order, defaults left out).
pub fn print(s: &AnySchedule) -> String {
    let mut out = String::new();
    write_value(&config::to_value(s), &mut out);
    out
}

/// Writes a config object (any library's form) in the one-line form, as [`print()`] does.
///
/// ```
/// use lrsched::oneline;
/// let v = serde_json::json!({"type": "optax.cosine_decay_schedule", "init_value": 0.1, "decay_steps": 100});
/// let text = oneline::print_value(&v);
/// assert_eq!(text, "optax.cosine_decay_schedule(decay_steps=100, init_value=0.1)");
/// assert_eq!(oneline::parse_value(&text).unwrap(), v);
/// ```
pub fn print_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            if reads_back_as_word(s) {
                out.push_str(s)
            } else {
                out.push_str(&Value::String(s.clone()).to_string())
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let name = map.get("type").and_then(Value::as_str);
            match name {
                Some(name) => {
                    out.push_str(name);
                    out.push('(');
                }
                None => out.push('{'),
            }
            let mut first = true;
            for (k, v) in map.iter().filter(|(k, _)| name.is_none() || *k != "type") {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(k);
                out.push('=');
                write_value(v, out);
            }
            out.push(if name.is_some() { ')' } else { '}' });
        }
    }
}

fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Whether `s` written bare (`key=s`) parses back to the string `s`.
fn reads_back_as_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && parse_value(&format!("x(v={s})"))
            .is_ok_and(|v| v.get("v") == Some(&Value::String(s.to_string())))
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ScheduleError {
        let column = self.text[..self.pos.min(self.text.len())].chars().count() + 1;
        ScheduleError::Syntax {
            format: "one-line schedule",
            line: 1,
            column,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), ScheduleError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{c}` {what}")))
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.text[start..self.pos]
    }

    fn nest(&mut self) -> Result<(), ScheduleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn schedule(&mut self) -> Result<Value, ScheduleError> {
        let start = self.pos;
        let name = self.word().to_string();
        if name.is_empty() || !is_word(&name) {
            self.pos = start;
            return Err(self.error("expected a schedule name such as `cosine(...)`"));
        }
        self.expect('(', &format!("after `{name}`"))?;
        let mut map = self.args(')')?;
        map.insert("type".into(), Value::String(name));
        Ok(Value::Object(map))
    }

    /// `key=value` pairs up to the closing delimiter (already past the opening one).
    fn args(&mut self, close: char) -> Result<Map<String, Value>, ScheduleError> {
        self.nest()?;
        let mut map = Map::new();
        if !self.eat(close) {
            loop {
                let key = self.word().to_string();
                if key.is_empty() {
                    return Err(self.error("expected a key such as `lr=`"));
                }
                self.expect('=', &format!("after key `{key}`"))?;
                let value = self.value()?;
                if map.insert(key.clone(), value).is_some() {
                    return Err(self.error(&format!("key `{key}` given twice")));
                }
                if self.eat(close) {
                    break;
                }
                self.expect(',', "or the end of the argument list")?;
            }
        }
        self.depth -= 1;
        Ok(map)
    }

    fn value(&mut self) -> Result<Value, ScheduleError> {
        self.skip_ws();
        match self.peek() {
            Some('[') => {
                self.pos += 1;
                self.nest()?;
                let mut items = Vec::new();
                if !self.eat(']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(']') {
                            break;
                        }
                        self.expect(',', "or `]` in a list")?;
                    }
                }
                self.depth -= 1;
                Ok(Value::Array(items))
            }
            Some('{') => {
                self.pos += 1;
                Ok(Value::Object(self.args('}')?))
            }
            Some('"') => self.string(),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.pos;
                let word = self.word().to_string();
                self.skip_ws();
                if self.peek() == Some('(') {
                    self.pos = start;
                    return self.schedule();
                }
                Ok(match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => Value::String(word),
                })
            }
            _ => Err(self.error("expected a value (number, word, string, list or schedule)")),
        }
    }

    fn string(&mut self) -> Result<Value, ScheduleError> {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    return serde_json::from_str(&self.text[start..self.pos]).map_err(|e| {
                        self.pos = start;
                        self.error(&format!("bad string: {e}"))
                    });
                }
                _ => escaped = false,
            }
        }
        self.pos = start;
        Err(self.error("unterminated string"))
    }

    fn number(&mut self) -> Result<Value, ScheduleError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '%') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let token = &self.text[start..self.pos];
        if crate::time::Duration::parse(token).is_some() {
            return Ok(Value::String(token.to_string()));
        }
        let Ok(parsed) = token.parse::<f64>() else {
            // Not a number: a word that starts with a digit, such as `1-sqrt`.
            return Ok(Value::String(token.to_string()));
        };
        if !parsed.is_finite() {
            self.pos = start;
            return Err(self.error(&format!("`{token}` is not a finite number")));
        }
        // Integral literals become integers so they fill step counts as well as rates.
        if parsed.fract() == 0.0 && !token.contains(['.', 'e', 'E']) {
            if let Ok(i) = token.trim_start_matches('+').parse::<u64>() {
                return Ok(Value::from(i));
            }
            if let Ok(i) = token.parse::<i64>() {
                return Ok(Value::from(i));
            }
        }
        if parsed.fract() == 0.0 && parsed.abs() < 9.0e15 {
            return Ok(if parsed >= 0.0 {
                Value::from(parsed as u64)
            } else {
                Value::from(parsed as i64)
            });
        }
        Ok(Value::from(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_column() {
        let e = parse_value("cosine(lr=0.1,, steps=3)").unwrap_err();
        assert!(matches!(e, ScheduleError::Syntax { column: 15, .. }), "{e}");
        let e = parse_value("cosine(lr=abc(").unwrap_err();
        assert!(e.to_string().contains("column"), "{e}");
        let deep = "warmup(schedule=".repeat(200) + &")".repeat(200);
        assert!(parse_value(&deep).is_err());
    }

    #[test]
    fn values() {
        let v = parse_value(
            r#"x(a=1, b=-2, c=1e-3, d=[1, 2.5], e=word, f="q\"s", g=3ep, h={k=1}, i=true)"#,
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "x", "a": 1, "b": -2, "c": 0.001, "d": [1, 2.5],
                "e": "word", "f": "q\"s", "g": "3ep", "h": {"k": 1}, "i": true})
        );
    }
}
