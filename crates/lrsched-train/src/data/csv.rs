//! Any CSV file with a header line: one column is the target, the others are numeric
//! features.
//!
//! The target is the last column unless named. Its values decide the task:
//! - all integers: classification, the distinct values sorted numerically becoming
//!   classes `0..k` (their text kept as class names);
//! - all numbers, not all integers: regression;
//! - anything else (text labels): classification, the distinct labels sorted as text.
//!
//! Two classes make a [`Task::BinaryClassification`](super::Task). Fields are trimmed;
//! quoting follows RFC 4180; a gzip-compressed file is read too. [`split`] holds out a
//! seeded, stratified validation part and standardises the features with the training
//! part's statistics only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{read_maybe_gzip, DataError, Dataset, Split, DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION};

/// What to load and how to split it.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// The CSV file.
    pub path: PathBuf,
    /// The target column's name; `None` for the last column.
    pub target: Option<String>,
    /// Fraction of rows held out for validation.
    pub val_fraction: f64,
    /// Seed of the validation split.
    pub seed: u64,
}

impl CsvOptions {
    /// `path` with the last column as target and the default fraction and seed.
    pub fn new(path: impl Into<PathBuf>) -> CsvOptions {
        CsvOptions {
            path: path.into(),
            target: None,
            val_fraction: DEFAULT_VAL_FRACTION,
            seed: DEFAULT_SPLIT_SEED,
        }
    }
}

/// Loads the file and its seeded (stratified, for classification) validation split,
/// then standardises both parts with the training part's means and deviations.
pub fn split(opts: &CsvOptions) -> Result<Split, DataError> {
    let data = load(&opts.path, opts.target.as_deref())?;
    let mut split = data
        .split(opts.val_fraction, opts.seed)
        .map_err(|e| match e {
            // Name the file rather than the in-memory set.
            DataError::Invalid { problem, .. } => DataError::file(&opts.path, problem),
            other => other,
        })?;
    split.standardize();
    Ok(split)
}

/// Loads the whole file, unscaled. `target` names the target column (`None`: the last).
pub fn load(path: &Path, target: Option<&str>) -> Result<Dataset, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        // Ragged rows are checked here, to say which line and how many fields.
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(&bytes[..]);
    let csv_err = |e: ::csv::Error| {
        let line = e.position().map_or(1, |p| p.line());
        DataError::line(path, line, e)
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(DataError::file(path, "empty file: no header line"));
    }
    if header.len() < 2 {
        return Err(DataError::line(
            path,
            1,
            format!(
                "the header has one column ({:?}); need a target and at least one feature",
                header[0]
            ),
        ));
    }
    let t = match target {
        None => header.len() - 1,
        Some(name) => find_column(path, &header, name)?,
    };
    let ncols = header.len();

    let mut features: Vec<f32> = Vec::new();
    let mut raw_targets: Vec<(u64, String)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != ncols {
            return Err(DataError::line(
                path,
                line,
                format!("{} fields, but the header has {ncols}", record.len()),
            ));
        }
        for (j, field) in record.iter().enumerate() {
            if j == t {
                if field.is_empty() {
                    return Err(DataError::line(
                        path,
                        line,
                        format!("target column {:?} is empty", header[t]),
                    ));
                }
                raw_targets.push((line, field.to_string()));
                continue;
            }
            let v = parse_feature(field).map_err(|problem| {
                DataError::line(path, line, format!("column {:?}: {problem}", header[j]))
            })?;
            features.push(v);
        }
    }
    if raw_targets.is_empty() {
        return Err(DataError::file(path, "no data rows after the header"));
    }

    let feature_names: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != t)
        .map(|(_, h)| h.clone())
        .collect();
    let name = path.display().to_string();
    let dim = ncols - 1;
    let data = match classify(&raw_targets) {
        Kind::Integers(values) => {
            let classes: BTreeSet<i64> = values.iter().copied().collect();
            let sorted: Vec<i64> = classes.into_iter().collect();
            let labels = values
                .iter()
                .map(|v| sorted.binary_search(v).unwrap_or(0) as u32)
                .collect();
            let names = sorted.iter().map(i64::to_string).collect();
            classification(path, &header[t], name, features, dim, labels, names)?
        }
        Kind::Strings => {
            let classes: BTreeSet<&str> = raw_targets.iter().map(|(_, s)| s.as_str()).collect();
            let sorted: Vec<&str> = classes.into_iter().collect();
            let labels = raw_targets
                .iter()
                .map(|(_, s)| sorted.binary_search(&s.as_str()).unwrap_or(0) as u32)
                .collect();
            let names = sorted.iter().map(|s| s.to_string()).collect();
            classification(path, &header[t], name, features, dim, labels, names)?
        }
        Kind::Reals(values) => Dataset::regression(name, features, dim, values)?,
        Kind::NotFinite(line, v) => {
            return Err(DataError::line(
                path,
                line,
                format!(
                    "target column {:?}: {v:?} is not a finite number",
                    header[t]
                ),
            ))
        }
    };
    data.with_feature_names(feature_names)
}

fn classification(
    path: &Path,
    target: &str,
    name: String,
    features: Vec<f32>,
    dim: usize,
    labels: Vec<u32>,
    names: Vec<String>,
) -> Result<Dataset, DataError> {
    if names.len() < 2 {
        return Err(DataError::file(
            path,
            format!(
                "target column {target:?} has a single class ({:?} in all {} rows); \
                 classification needs at least 2",
                names.first().map_or("", String::as_str),
                labels.len()
            ),
        ));
    }
    let classes = names.len();
    Dataset::classification(name, features, dim, labels, classes)?.with_class_names(names)
}

enum Kind {
    Integers(Vec<i64>),
    Reals(Vec<f32>),
    /// Numeric, but with a NaN or infinity at this line.
    NotFinite(u64, String),
    Strings,
}

fn classify(raw: &[(u64, String)]) -> Kind {
    if let Some(ints) = raw
        .iter()
        .map(|(_, s)| s.parse::<i64>().ok())
        .collect::<Option<Vec<_>>>()
    {
        return Kind::Integers(ints);
    }
    let Some(reals) = raw
        .iter()
        .map(|(_, s)| s.parse::<f64>().ok())
        .collect::<Option<Vec<_>>>()
    else {
        return Kind::Strings;
    };
    // f32 overflow counts as not finite too: the value could not be trained on.
    match reals.iter().position(|v| !(*v as f32).is_finite()) {
        Some(i) => Kind::NotFinite(raw[i].0, raw[i].1.clone()),
        None => Kind::Reals(reals.into_iter().map(|v| v as f32).collect()),
    }
}

fn parse_feature(field: &str) -> Result<f32, String> {
    if field.is_empty() {
        return Err("empty value (missing values are not supported)".into());
    }
    let v: f64 = field
        .parse()
        .map_err(|_| format!("{field:?} is not a number"))?;
    let v32 = v as f32;
    if !v32.is_finite() {
        return Err(format!("{field:?} is not a finite number"));
    }
    Ok(v32)
}

fn find_column(path: &Path, header: &[String], name: &str) -> Result<usize, DataError> {
    let matches: Vec<usize> = (0..header.len()).filter(|&j| header[j] == name).collect();
    match matches.as_slice() {
        [j] => Ok(*j),
        [] => {
            let nearest = header
                .iter()
                .min_by_key(|h| levenshtein(&h.to_lowercase(), &name.to_lowercase()))
                .map_or("", String::as_str);
            let shown: Vec<&str> = header.iter().take(20).map(String::as_str).collect();
            let more = if header.len() > 20 { ", ..." } else { "" };
            Err(DataError::line(
                path,
                1,
                format!(
                    "no target column {name:?}; did you mean {nearest:?}? (columns: {}{more})",
                    shown.join(", ")
                ),
            ))
        }
        _ => Err(DataError::line(
            path,
            1,
            format!(
                "target column {name:?} appears {} times in the header",
                matches.len()
            ),
        )),
    }
}

/// Edit distance in characters, for the "did you mean" suggestion.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::levenshtein;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
