//! The search space: a schedule template with `{placeholders}` and one `[params]` entry per
//! placeholder, read from TOML; the grid and seeded random samples over it.

use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::path::Path;

/// The most trials one search may plan: checked before any point is made, so a huge
/// `grid_points` or `trials` is refused at once instead of spinning for minutes.
pub const MAX_TRIALS: usize = 100_000;

/// One assignment of values to the parameters, by name.
pub type Params = Map<String, Value>;

/// One parameter's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Numbers in `[lo, hi]`, evenly or log-evenly spaced, whole numbers when `int`.
    Range {
        /// Smallest value.
        lo: f64,
        /// Largest value.
        hi: f64,
        /// Spaced evenly in log (and sampled log-uniformly).
        log: bool,
        /// Rounded to whole numbers.
        int: bool,
    },
    /// Any values (strings too, spliced in verbatim).
    Choice(Vec<Value>),
}

/// How the trials' schedules are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A one-line form with `{name}` spliced in as text.
    Line(String),
    /// A config object whose strings may hold `{name}` (`"{name}"` alone takes the value
    /// itself, keeping its type).
    Config(Value),
}

/// A parsed search space.
///
/// ```
/// use lrsched_tools::tune::space::Space;
/// let s = Space::parse("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { log_range = [1e-3, 1.0] }").unwrap();
/// let grid = s.grid(3).unwrap();
/// assert_eq!(grid.len(), 3);
/// assert_eq!(s.schedule(&grid[0]).unwrap()["lr"], 0.001);
/// assert!(Space::parse("schedule = \"cosine(lr=0.1, steps=100%)\"\n[params]\nlr = { range = [0.1, 1] }")
///     .unwrap_err().contains("not used"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// The schedule template.
    pub template: Template,
    /// The parameters, in the file's order.
    pub params: Vec<(String, Param)>,
}

impl Space {
    /// Reads and parses a space file; errors name the file.
    pub fn read(path: &Path) -> Result<Space, String> {
        let text = crate::files::read_input(path, crate::files::MAX_INPUT_BYTES)?;
        Space::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a space from TOML text; errors are one line.
    pub fn parse(text: &str) -> Result<Space, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            });
            format!("line {line}: {}", e.message().trim().replace('\n', ": "))
        })?;
        let mut template = None;
        let mut params = Vec::new();
        for (k, v) in &table {
            match (k.as_str(), v) {
                ("schedule", toml::Value::String(s)) => template = Some(Template::Line(s.clone())),
                ("schedule", toml::Value::Table(_)) => {
                    template = Some(Template::Config(to_json(v)))
                }
                ("schedule", _) => {
                    return Err(
                        "`schedule` must be a one-line schedule (a string) or a config table"
                            .into(),
                    )
                }
                ("params", toml::Value::Table(t)) => {
                    for (name, spec) in t {
                        printable(name).map_err(|c| {
                            format!(
                                "param {}: its name has a control character ({c}): names are placeholders, letters, digits and _",
                                shown(name)
                            )
                        })?;
                        params.push((name.clone(), Param::parse(name, spec)?));
                    }
                }
                ("params", _) => return Err("`params` must be a table".into()),
                (other, _) => {
                    return Err(format!(
                        "unknown key `{other}`: a search space has `schedule` and `[params]`"
                    ))
                }
            }
        }
        let template = template.ok_or(
            "no `schedule`: give a one-line template, e.g. schedule = \"cosine(lr={lr}, steps=100%)\"",
        )?;
        if params.is_empty() {
            return Err(
                "no [params]: give at least one, e.g. lr = { log_range = [1e-3, 1.0] }".into(),
            );
        }
        // A control character would reach a trial's environment or a file name, and fail
        // every trial: refused here, before any runs.
        let check = |what: &str, s: &str| {
            // Line breaks and tabs are a template's layout, whitespace to the parser.
            let laid_out: String = s.replace(['\n', '\r', '\t'], " ");
            printable(&laid_out).map_err(|c| {
                format!(
                    "{what} {} has a control character ({c}): use printable characters",
                    shown(s)
                )
            })
        };
        match &template {
            Template::Line(s) => check("`schedule`", s)?,
            Template::Config(v) => walk_strings(v, &mut |s| check("a `schedule` value", s))?,
        }
        for (name, p) in &params {
            if let Param::Choice(values) = p {
                for (k, v) in values.iter().enumerate() {
                    walk_strings(v, &mut |s| {
                        check(&format!("param `{name}`: choice {}", k + 1), s)
                    })?;
                }
            }
        }
        let mut used = BTreeSet::new();
        match &template {
            Template::Line(s) => placeholders(s, &mut used)?,
            Template::Config(v) => walk_strings(v, &mut |s| placeholders(s, &mut used))?,
        }
        for name in &used {
            if !params.iter().any(|(n, _)| n == name) {
                return Err(format!("placeholder {{{name}}} has no entry in [params]"));
            }
        }
        for (name, _) in &params {
            if !used.contains(name) {
                return Err(format!(
                    "param `{name}` is not used: the schedule has no {{{name}}} placeholder"
                ));
            }
        }
        Ok(Space { template, params })
    }

    /// How many points the grid at `points` per range has, at most (without making them).
    pub fn grid_size(&self, points: usize) -> usize {
        self.params
            .iter()
            .fold(1usize, |n, (_, p)| n.saturating_mul(p.grid_len(points)))
    }

    /// Every combination: ranges at `points` values, choices at all of theirs. More than
    /// [`MAX_TRIALS`] points is refused before any is made.
    pub fn grid(&self, points: usize) -> Result<Vec<Params>, String> {
        if points == 0 {
            return Err("grid points = 0 is not allowed: must be at least 1".into());
        }
        let size = self.grid_size(points);
        if size > MAX_TRIALS {
            return Err(format!(
                "the grid has {} points (more than {MAX_TRIALS}): use fewer grid points than {points}",
                if size == usize::MAX { "too many".to_string() } else { size.to_string() }
            ));
        }
        let mut out = vec![Map::new()];
        for (name, p) in &self.params {
            let values = p.grid(points);
            out = out
                .into_iter()
                .flat_map(|m| {
                    values.iter().map(move |v| {
                        let mut m = m.clone();
                        m.insert(name.clone(), v.clone());
                        m
                    })
                })
                .collect();
        }
        Ok(out)
    }

    /// `n` distinct samples (fewer when the space has fewer distinct points), the same for
    /// the same `seed`. More than [`MAX_TRIALS`] is refused before any is drawn.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<Params>, String> {
        if n == 0 || n > MAX_TRIALS {
            return Err(format!(
                "trials = {n} is not allowed: must be between 1 and {MAX_TRIALS}"
            ));
        }
        let mut rng = lrsched_train::data::Rng::new(seed ^ 0x5EED_7E57_0000_0000);
        let mut out: Vec<Params> = Vec::new();
        // Duplicates are dropped through a hash set of their canonical text (linear, not
        // quadratic); the bound on draws stops a tiny space from looping forever.
        let mut seen = HashSet::new();
        // A space of whole numbers and choices has only so many points: never ask for more.
        let finite = self.params.iter().try_fold(1usize, |acc, (_, p)| match p {
            Param::Range { int: false, .. } => None,
            p => Some(acc.saturating_mul(p.grid_len(usize::MAX))),
        });
        let n = finite.map_or(n, |f| n.min(f));
        for _ in 0..n.saturating_mul(20) {
            if out.len() == n {
                break;
            }
            let m: Params = self
                .params
                .iter()
                .map(|(name, p)| (name.clone(), p.sample(&mut rng)))
                .collect();
            if seen.insert(canonical(&Value::Object(m.clone()))) {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The schedule's JSON config for one assignment; a one-line template that does not
    /// parse with these values is an error naming the text.
    pub fn schedule(&self, params: &Params) -> Result<Value, String> {
        let value = match &self.template {
            Template::Line(s) => {
                let text = substitute(s, params);
                lrsched::oneline::parse_value(&text)
                    .map_err(|e| format!("schedule `{text}`: {e}"))?
            }
            Template::Config(v) => substitute_value(v, params),
        };
        // Checked here, once, so a misspelt type or key is one line before any trial
        // runs; durations are resolved against a long stand-in run only to check them
        // (the trial resolves them with its real shape).
        lrsched::ScheduleSpec::from_value(value.clone())
            .and_then(|s| s.check())
            .map_err(|e| format!("schedule {value}: {e}"))?;
        Ok(value)
    }
}

impl Param {
    fn parse(name: &str, spec: &toml::Value) -> Result<Param, String> {
        let err = |m: String| format!("param `{name}`: {m}");
        let t = spec.as_table().ok_or_else(|| {
            err("must be a table: { range = [lo, hi] }, { log_range = [lo, hi] } or { choice = [...] }".into())
        })?;
        let mut kind = None;
        let mut int = false;
        for (k, v) in t {
            match k.as_str() {
                "range" | "log_range" | "choice" if kind.is_some() => {
                    return Err(err("give one of range, log_range and choice".into()))
                }
                "range" | "log_range" | "choice" => kind = Some((k.as_str(), v)),
                "int" => {
                    int = v
                        .as_bool()
                        .ok_or_else(|| err("`int` must be true or false".into()))?
                }
                other => {
                    return Err(err(format!(
                        "unknown key `{other}`: use range, log_range, choice, int"
                    )))
                }
            }
        }
        let (kind, v) = kind.ok_or_else(|| {
            err("give range = [lo, hi], log_range = [lo, hi] or choice = [...]".into())
        })?;
        let list = v
            .as_array()
            .ok_or_else(|| err(format!("`{kind}` must be a list")))?;
        if kind == "choice" {
            if list.is_empty() {
                return Err(err("`choice` is empty: give at least one value".into()));
            }
            return Ok(Param::Choice(list.iter().map(to_json).collect()));
        }
        let nums: Vec<f64> = list
            .iter()
            .map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
            .collect::<Option<_>>()
            .filter(|n: &Vec<f64>| n.len() == 2 && n.iter().all(|x| x.is_finite()))
            .ok_or_else(|| err(format!("`{kind}` must be two finite numbers [lo, hi]")))?;
        let (lo, hi) = (nums[0], nums[1]);
        if lo >= hi {
            return Err(err(format!(
                "{kind} [{lo}, {hi}] is {}: lo must be below hi (a single value is choice = [{lo}])",
                if lo > hi { "inverted" } else { "empty" }
            )));
        }
        let log = kind == "log_range";
        if log && lo <= 0.0 {
            return Err(err(format!(
                "log_range [{lo}, {hi}] must be above zero (use range for 0)"
            )));
        }
        if int && lo.ceil() > hi.floor() {
            return Err(err(format!(
                "{kind} [{lo}, {hi}] holds no whole number, as int = true needs"
            )));
        }
        Ok(Param::Range { lo, hi, log, int })
    }

    /// How many grid values at most, without making them.
    fn grid_len(&self, points: usize) -> usize {
        match self {
            Param::Choice(c) => c.len(),
            &Param::Range { lo, hi, int, .. } if int => {
                let whole = (hi.floor() - lo.ceil() + 1.0).min(usize::MAX as f64) as usize;
                points.min(whole)
            }
            Param::Range { .. } => points,
        }
    }

    /// The grid values: evenly (or log-evenly) spaced; rounding may merge neighbours.
    pub fn grid(&self, points: usize) -> Vec<Value> {
        match self {
            Param::Choice(c) => c.clone(),
            &Param::Range { lo, hi, int, .. } if int && points >= self.grid_len(usize::MAX) => {
                // Every whole number is a grid point: list them, not `points` roundings.
                let (a, b) = (lo.ceil() as i64, hi.floor() as i64);
                (a..=b).map(|i| json!(i)).collect()
            }
            &Param::Range { lo, hi, log, int } => {
                let mut out: Vec<Value> = Vec::new();
                for i in 0..points {
                    let f = if points == 1 {
                        0.5
                    } else {
                        i as f64 / (points - 1) as f64
                    };
                    let x = if log {
                        (lo.ln() + f * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + f * (hi - lo)
                    };
                    let v = number(x, lo, hi, int);
                    // The values rise, so a duplicate can only be the previous one.
                    if out.last() != Some(&v) {
                        out.push(v);
                    }
                }
                out
            }
        }
    }

    fn sample(&self, rng: &mut lrsched_train::data::Rng) -> Value {
        match self {
            Param::Choice(c) => c[(rng.next_u64() % c.len() as u64) as usize].clone(),
            &Param::Range { lo, hi, log, int } => {
                let u = rng.next_f64();
                let x = match (log, int) {
                    (false, true) => {
                        // Every whole number equally likely, the ends included.
                        let (a, b) = (lo.ceil(), hi.floor());
                        a + (u * (b - a + 1.0)).floor().min(b - a)
                    }
                    (true, _) => (lo.ln() + u * (hi.ln() - lo.ln())).exp(),
                    (false, false) => lo + u * (hi - lo),
                };
                number(x, lo, hi, int)
            }
        }
    }

    /// Whether plots of it want a log axis.
    pub fn is_log(&self) -> bool {
        matches!(self, Param::Range { log: true, .. })
    }
}

/// A value as a trial gets it: a whole number, or 4 significant digits (so tables, keys
/// and schedules read `0.0123`, not `0.012345678901234`), kept inside [lo, hi].
fn number(x: f64, lo: f64, hi: f64, int: bool) -> Value {
    if int {
        let r = x.round().clamp(lo.ceil(), hi.floor());
        return json!(r as i64);
    }
    let r: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    json!(r.clamp(lo, hi))
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Collects the `{name}`s of `s`.
fn placeholders(s: &str, used: &mut BTreeSet<String>) -> Result<(), String> {
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed placeholder in `{s}`"))?;
        let name = &after[..end];
        let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(format!(
                "placeholder {{{name}}} in `{s}` is not a name (letters, digits, _)"
            ));
        }
        used.insert(name.to_string());
        rest = &after[end + 1..];
    }
    Ok(())
}

fn walk_strings(v: &Value, f: &mut dyn FnMut(&str) -> Result<(), String>) -> Result<(), String> {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().try_for_each(|x| walk_strings(x, f)),
        Value::Object(m) => m.values().try_for_each(|x| walk_strings(x, f)),
        _ => Ok(()),
    }
}

/// `Ok` when `s` has no control character, else the first one as `U+0000`.
///
/// ```
/// use lrsched_tools::tune::space::printable;
/// assert!(printable("cosine").is_ok());
/// assert_eq!(printable("a\u{0}b").unwrap_err(), "U+0000");
/// ```
pub fn printable(s: &str) -> Result<(), String> {
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!("U+{:04X}", c as u32)),
        None => Ok(()),
    }
}

/// A string for a message: quoted with its control characters escaped, at most
/// `lrsched::MAX_QUOTE` characters.
fn shown(s: &str) -> String {
    lrsched::shorten(&format!("{s:?}")).to_string()
}

/// A value as text: strings without their quotes.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn substitute(s: &str, params: &Params) -> String {
    let mut out = s.to_string();
    for (name, v) in params {
        out = out.replace(&format!("{{{name}}}"), &text_of(v));
    }
    out
}

fn substitute_value(v: &Value, params: &Params) -> Value {
    match v {
        Value::String(s) => {
            let whole = s
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|n| params.get(n));
            match whole {
                Some(x) => x.clone(),
                None => Value::String(substitute(s, params)),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_value(x, params)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute_value(x, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// JSON with object keys sorted at every level and no spaces: the same bytes for the same
/// value whatever order its keys were built in (what trial keys are hashed from).
///
/// ```
/// use lrsched_tools::tune::space::canonical;
/// let a = serde_json::json!({"b": 1, "a": [{"y": 2, "x": 1}]});
/// assert_eq!(canonical(&a), r#"{"a":[{"x":1,"y":2}],"b":1}"#);
/// ```
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_errors_are_one_line() {
        let bad = [
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [1.0, 0.1] }", "inverted"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [0.1, 0.1] }", "empty"),
            ("schedule = \"cosine(lr={lr}, steps={n})\"\n[params]\nlr = { range = [0.1, 1] }", "{n}"),
            ("schedule = \"cosine(lr=0.1, steps=100%)\"\n[params]\nlr = { range = [0.1, 1] }", "not used"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { choice = [] }", "empty"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { log_range = [0, 1] }", "above zero"),
            ("schedule = \"cosine(lr={lr}, steps=100%)\"\n[params]\nlr = { range = [0.1, 0.9], int = true }", "whole"),
            ("schedule = [", "line 1"),
        ];
        for (text, want) in bad {
            let e = Space::parse(text).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn grid_and_sample() {
        let s = Space::parse(
            "schedule = \"cosine(lr={lr}, steps=100%, min_lr={m})\"\n[params]\nlr = { log_range = [1e-3, 1.0] }\nm = { choice = [0.0, 1e-4] }",
        )
        .unwrap();
        let g = s.grid(4).unwrap();
        assert_eq!(g.len(), 8);
        assert_eq!(g[0]["lr"], json!(0.001));
        assert_eq!(g[6]["lr"], json!(1.0));
        assert_eq!(g[2]["lr"], json!(0.01));
        let a = s.sample(5, 7).unwrap();
        assert_eq!(a, s.sample(5, 7).unwrap());
        assert_ne!(a, s.sample(5, 8).unwrap());
        for m in &a {
            let lr = m["lr"].as_f64().unwrap();
            assert!((1e-3..=1.0).contains(&lr));
        }
        assert_eq!(
            lrsched::oneline::print_value(&s.schedule(&g[0]).unwrap()),
            "cosine(lr=0.001, min_lr=0, steps=\"100%\")"
        );
    }

    #[test]
    fn config_template_keeps_types() {
        let s = Space::parse(
            "[schedule]\ntype = \"step\"\nlr = \"{lr}\"\nstep_size = \"{k}\"\n[params]\nlr = { choice = [0.1] }\nk = { range = [1, 5], int = true }",
        )
        .unwrap();
        let g = s.grid(2).unwrap();
        assert_eq!(
            s.schedule(&g[1]).unwrap(),
            json!({"type": "step", "lr": 0.1, "step_size": 5})
        );
    }

    #[test]
    fn huge_counts_are_refused_at_once_and_int_grids_list_each_number_once() {
        let s = Space::parse(
            "schedule = \"step(lr={lr}, step_size={k})\"\n[params]\nlr = { range = [0.01, 0.3] }\nk = { range = [1, 5], int = true }",
        )
        .unwrap();
        let t = std::time::Instant::now();
        assert!(s
            .grid(100_000_000)
            .unwrap_err()
            .contains("more than 100000"));
        assert!(s.sample(100_000_000, 1).is_err());
        assert!(t.elapsed().as_millis() < 100, "{:?}", t.elapsed());
        // An int range with more points than numbers: each number once, without looping
        // over a hundred million roundings.
        let only = Space::parse(
            "schedule = \"step(lr=0.1, step_size={k})\"\n[params]\nk = { range = [1, 5], int = true }",
        )
        .unwrap();
        let g = only.grid(100_000_000).unwrap();
        assert_eq!(g.len(), 5);
        assert!(t.elapsed().as_millis() < 100, "{:?}", t.elapsed());
        // A tiny space gives what it has, quickly, even when asked for many.
        assert_eq!(only.sample(100_000, 3).unwrap().len(), 5);
    }
}
