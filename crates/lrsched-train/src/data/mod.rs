//! Data sets: the in-memory [`Dataset`], train/validation [`Split`]s, standardisation,
//! a seeded [`Rng`] and resumable [`Batches`], and the loaders.
//!
//! Loaders:
//! - [`digits`]: the UCI 8x8 digits, embedded in the binary, fixed stratified split;
//! - [`xor`]: the four XOR points;
//! - [`spirals`]: two interleaved spirals, generated from a seed;
//! - [`mnist`]: IDX files from a folder (gzip or not), with a checked download;
//! - [`csv`]: any CSV file with a header.
//!
//! Every loader returns a [`DataError`] on bad input, never panics; the error names the
//! file, the line or byte offset when there is one, and the problem.

pub mod csv;
pub mod digits;
mod error;
mod http;
pub mod mnist;
mod rng;
pub mod spirals;
pub mod xor;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use error::DataError;
pub use rng::{epoch_order, BatchState, Batches, Rng};

/// Seed of the validation split when the caller gives none. Fixed so that two runs of the
/// same command see the same validation rows.
pub const DEFAULT_SPLIT_SEED: u64 = 0x5EED_1D47_A5E7_0001;

/// Fraction of the rows held out for validation when the caller gives none.
pub const DEFAULT_VAL_FRACTION: f64 = 0.2;

/// What the targets are, and so what the output layer and loss must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Two classes, labels 0 and 1, one output (a logit).
    BinaryClassification,
    /// `classes` classes (at least 2), labels `0..classes`, one output per class.
    Classification {
        /// Number of classes.
        classes: usize,
    },
    /// One real-valued target, one output.
    Regression,
}

impl Task {
    /// Number of network outputs the task needs: 1 for binary and regression, one per
    /// class otherwise.
    pub fn outputs(&self) -> usize {
        match self {
            Task::BinaryClassification | Task::Regression => 1,
            Task::Classification { classes } => *classes,
        }
    }

    /// Number of classes, `None` for regression.
    pub fn classes(&self) -> Option<usize> {
        match self {
            Task::BinaryClassification => Some(2),
            Task::Classification { classes } => Some(*classes),
            Task::Regression => None,
        }
    }
}

/// Targets of a [`Dataset`], one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class indices, each below the task's class count.
    Classes(Vec<u32>),
    /// Real values, for regression.
    Values(Vec<f32>),
}

impl Targets {
    /// Number of targets (rows).
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(v) => v.len(),
            Targets::Values(v) => v.len(),
        }
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select(&self, rows: &[usize]) -> Targets {
        match self {
            Targets::Classes(v) => Targets::Classes(rows.iter().map(|&i| v[i]).collect()),
            Targets::Values(v) => Targets::Values(rows.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// A data set in memory: `len()` rows of `dim()` features, stored row-major in one
/// contiguous `Vec<f32>` so a batch is a gather of row slices, plus one target per row.
///
/// Built only through checked constructors, so the shapes always agree.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    name: String,
    features: Vec<f32>,
    dim: usize,
    targets: Targets,
    task: Task,
    feature_names: Option<Vec<String>>,
    class_names: Option<Vec<String>>,
}

impl Dataset {
    /// A classification set: `labels[i]` is the class of row `i`, below `classes`.
    /// Two classes give [`Task::BinaryClassification`] (one logit output); more give
    /// [`Task::Classification`]. `name` is used in error messages.
    pub fn classification(
        name: impl Into<String>,
        features: Vec<f32>,
        dim: usize,
        labels: Vec<u32>,
        classes: usize,
    ) -> Result<Dataset, DataError> {
        let name = name.into();
        if classes < 2 {
            return Err(DataError::invalid(
                &name,
                format!("a classification task needs at least 2 classes, got {classes}"),
            ));
        }
        if let Some((i, &c)) = labels
            .iter()
            .enumerate()
            .find(|(_, &c)| c as usize >= classes)
        {
            return Err(DataError::invalid(
                &name,
                format!("row {i}: label {c} is not below the class count {classes}"),
            ));
        }
        let task = if classes == 2 {
            Task::BinaryClassification
        } else {
            Task::Classification { classes }
        };
        Dataset::build(name, features, dim, Targets::Classes(labels), task)
    }

    /// A regression set: `values[i]` is the target of row `i`. `name` is used in error
    /// messages.
    pub fn regression(
        name: impl Into<String>,
        features: Vec<f32>,
        dim: usize,
        values: Vec<f32>,
    ) -> Result<Dataset, DataError> {
        let name = name.into();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::invalid(
                &name,
                format!("row {i}: target {} is not finite", values[i]),
            ));
        }
        Dataset::build(
            name,
            features,
            dim,
            Targets::Values(values),
            Task::Regression,
        )
    }

    fn build(
        name: String,
        features: Vec<f32>,
        dim: usize,
        targets: Targets,
        task: Task,
    ) -> Result<Dataset, DataError> {
        if dim == 0 {
            return Err(DataError::invalid(&name, "no feature columns"));
        }
        if features.len() != targets.len() * dim {
            return Err(DataError::invalid(
                &name,
                format!(
                    "{} feature values do not make {} rows of {dim}",
                    features.len(),
                    targets.len()
                ),
            ));
        }
        Ok(Dataset {
            name,
            features,
            dim,
            targets,
            task,
            feature_names: None,
            class_names: None,
        })
    }

    /// Names the feature columns; there must be `dim()` of them.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Dataset, DataError> {
        if names.len() != self.dim {
            return Err(DataError::invalid(
                &self.name,
                format!("{} feature names for {} features", names.len(), self.dim),
            ));
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// Names the classes (index `k` names class `k`); there must be one per class.
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Dataset, DataError> {
        if self.task.classes() != Some(names.len()) {
            return Err(DataError::invalid(
                &self.name,
                format!("{} class names for task {:?}", names.len(), self.task),
            ));
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// The name given at construction (a file path or a built-in set's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Number of features per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All features, row-major: row `i` is `features()[i * dim()..(i + 1) * dim()]`.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// The features of row `i`. Panics if `i >= len()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The class labels, `None` for regression.
    pub fn labels(&self) -> Option<&[u32]> {
        match &self.targets {
            Targets::Classes(v) => Some(v),
            Targets::Values(_) => None,
        }
    }

    /// The task the targets define.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Feature column names, when the source had them (CSV headers).
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// Class names, when the source had them (CSV string or integer labels).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Number of rows of each class, `None` for regression.
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let classes = self.task.classes()?;
        let mut counts = vec![0; classes];
        for &c in self.labels()? {
            counts[c as usize] += 1;
        }
        Some(counts)
    }

    /// Appends the features of `rows`, in that order, to `out` (a batch, row-major).
    /// Panics on an index `>= len()`, like slice indexing.
    pub fn gather_features(&self, rows: &[usize], out: &mut Vec<f32>) {
        out.reserve(rows.len() * self.dim);
        for &i in rows {
            out.extend_from_slice(self.row(i));
        }
    }

    /// Writes the features of `rows`, in that order, into `out` (a batch, row-major,
    /// exactly `rows.len() x dim` values). Panics on an index `>= len()` or another
    /// length of `out`.
    ///
    /// ```
    /// use lrsched_train::data::Dataset;
    /// let features = vec![0., 0., 0., 1., 1., 0., 1., 1.];
    /// let set = Dataset::classification("xor", features, 2, vec![0, 1, 1, 0], 2).unwrap();
    /// let mut out = [0.0; 4];
    /// set.gather_features_into(&[3, 1], &mut out);
    /// assert_eq!(out, [1., 1., 0., 1.]);
    /// ```
    pub fn gather_features_into(&self, rows: &[usize], out: &mut [f32]) {
        assert_eq!(
            out.len(),
            rows.len() * self.dim,
            "a batch buffer of another size"
        );
        for (&i, row) in rows.iter().zip(out.chunks_exact_mut(self.dim.max(1))) {
            row.copy_from_slice(self.row(i));
        }
    }

    /// A new set of the given rows, in that order, with the same task and names.
    /// Panics on an index `>= len()`, like slice indexing.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let mut features = Vec::new();
        self.gather_features(rows, &mut features);
        Dataset {
            name: self.name.clone(),
            features,
            dim: self.dim,
            targets: self.targets.select(rows),
            task: self.task.clone(),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }

    /// Splits off `val_fraction` of the rows for validation, chosen by `seed`.
    ///
    /// Classification is stratified: each class gives `round(count * val_fraction)` rows
    /// to validation, so both parts keep the class proportions. Regression takes
    /// `round(len * val_fraction)` rows at random. Both parts keep the original row
    /// order (batch order is the [`Batches`]' job). The same seed gives the same split.
    ///
    /// Errors if the fraction is not strictly between 0 and 1 or either part would be
    /// empty.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<Split, DataError> {
        if !(val_fraction > 0.0 && val_fraction < 1.0) {
            return Err(DataError::invalid(
                &self.name,
                format!("validation fraction {val_fraction} is not between 0 and 1"),
            ));
        }
        let mut rng = Rng::new(seed);
        let mut in_val = vec![false; self.len()];
        let groups: Vec<Vec<usize>> = match (&self.targets, self.task.classes()) {
            (Targets::Classes(labels), Some(classes)) => {
                let mut g = vec![Vec::new(); classes];
                for (i, &c) in labels.iter().enumerate() {
                    g[c as usize].push(i);
                }
                g
            }
            _ => vec![(0..self.len()).collect()],
        };
        for mut group in groups {
            rng.shuffle(&mut group);
            let take = (group.len() as f64 * val_fraction).round() as usize;
            for &i in &group[..take.min(group.len())] {
                in_val[i] = true;
            }
        }
        let (val, train): (Vec<usize>, Vec<usize>) = (0..self.len()).partition(|&i| in_val[i]);
        if train.is_empty() || val.is_empty() {
            return Err(DataError::invalid(
                &self.name,
                format!(
                    "{} rows are too few to hold out {val_fraction} for validation \
                     and keep a non-empty training part",
                    self.len()
                ),
            ));
        }
        Ok(Split {
            train: self.select(&train),
            val: self.select(&val),
        })
    }
}

/// A training part and a validation part with the same task and feature count.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Rows to train on.
    pub train: Dataset,
    /// Rows to evaluate on.
    pub val: Dataset,
}

impl Split {
    /// Standardises both parts with the training part's statistics (the validation part
    /// must not leak into them) and returns those statistics, so the same transform can
    /// be applied to new data later.
    pub fn standardize(&mut self) -> Standardizer {
        let s = Standardizer::fit(&self.train);
        s.apply(&mut self.train);
        s.apply(&mut self.val);
        s
    }
}

/// Per-feature mean and scale: `x' = (x - mean) / scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Mean of each feature over the fitted set.
    pub mean: Vec<f32>,
    /// Population standard deviation of each feature over the fitted set, or 1 where the
    /// feature is constant there (such a feature is only centered, not blown up).
    pub scale: Vec<f32>,
}

impl Standardizer {
    /// Statistics of `data`'s features, accumulated in `f64` so large sets do not lose
    /// precision. An empty set gives mean 0 and scale 1 (the identity).
    pub fn fit(data: &Dataset) -> Standardizer {
        let d = data.dim();
        let n = data.len();
        let mut mean = vec![0f64; d];
        let mut min = vec![f32::INFINITY; d];
        let mut max = vec![f32::NEG_INFINITY; d];
        for i in 0..n {
            for (j, &x) in data.row(i).iter().enumerate() {
                mean[j] += x as f64;
                min[j] = min[j].min(x);
                max[j] = max[j].max(x);
            }
        }
        if n == 0 {
            return Standardizer {
                mean: vec![0.0; d],
                scale: vec![1.0; d],
            };
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        // Two passes rather than sum-of-squares: no cancellation when mean >> std.
        let mut var = vec![0f64; d];
        for i in 0..n {
            for (j, &x) in data.row(i).iter().enumerate() {
                let e = x as f64 - mean[j];
                var[j] += e * e;
            }
        }
        let scale = (0..d)
            .map(|j| {
                // A constant column: its rounding-noise std would blow it up, so
                // test min == max exactly instead of std == 0.
                if min[j] == max[j] {
                    1.0
                } else {
                    (var[j] / n as f64).sqrt() as f32
                }
            })
            .collect();
        Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            scale,
        }
    }

    /// Applies the transform to `data` in place. Panics if `data.dim()` differs from the
    /// fitted feature count, as that is a programming error, not bad input.
    pub fn apply(&self, data: &mut Dataset) {
        assert_eq!(data.dim(), self.mean.len(), "standardizer feature count");
        let d = data.dim;
        for row in data.features.chunks_exact_mut(d) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *x = (*x - m) / s;
            }
        }
    }
}

/// A data set to load, as the command line names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The embedded UCI digits with their fixed split ([`digits::split`]).
    Digits,
    /// The four XOR points ([`xor::split`]).
    Xor,
    /// Two interleaved spirals ([`spirals::split`]).
    Spirals(spirals::SpiralsOptions),
    /// MNIST IDX files in a folder ([`mnist::load`]).
    Mnist {
        /// Folder holding the four IDX files.
        dir: PathBuf,
    },
    /// A CSV file with a header ([`csv::split`]).
    Csv(csv::CsvOptions),
}

impl Source {
    /// Loads the set and its train/validation split.
    pub fn load(&self) -> Result<Split, DataError> {
        match self {
            Source::Digits => digits::split(),
            Source::Xor => xor::split(),
            Source::Spirals(o) => spirals::split(o),
            Source::Mnist { dir } => mnist::load(dir),
            Source::Csv(o) => csv::split(o),
        }
    }
}

/// Largest decompressed size accepted from a gzip file: far above MNIST's 47 MB, low
/// enough that a corrupt or hostile file cannot exhaust memory.
const MAX_DECOMPRESSED: u64 = 4 << 30;

/// Reads a whole file, decompressing it if it is gzip (told by its magic bytes
/// `1f 8b`, not its name, so a renamed file still works).
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    gunzip_if_gzip(path, raw)
}

/// Decompresses `raw` if it starts with the gzip magic; `path` names it in errors.
pub(crate) fn gunzip_if_gzip(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    let mut dec = flate2::read::MultiGzDecoder::new(&raw[..]);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        // Read in chunks, not read_to_end, to know how far decoding got on an error.
        match dec.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() as u64 > MAX_DECOMPRESSED {
                    return Err(DataError::byte(
                        path,
                        out.len() as u64,
                        format!("decompresses to more than {MAX_DECOMPRESSED} bytes"),
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(DataError::byte(
                    path,
                    out.len() as u64,
                    format!(
                        "gzip data ends early or is corrupt ({e}); offset in decompressed bytes"
                    ),
                ))
            }
        }
    }
}
