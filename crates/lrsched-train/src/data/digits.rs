//! The UCI optical-recognition digits (Alpaydin & Kaynak 1998), the copy scikit-learn
//! ships: 1,797 images of 8x8 pixel counts (0 to 16), classes 0 to 9.
//!
//! Embedded in the binary (57 KB gzip CSV) so the pipeline has a real data set with no
//! path and no download. Pixels are divided by 16 into `[0, 1]`, the same scaling for
//! every pixel, so the images keep their shape and no statistics need fitting (the
//! split's training part could not leak into them).

use std::path::Path;

use super::{gunzip_if_gzip, DataError, Dataset, Split, DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION};

/// The embedded file: gzip CSV, no header, 64 pixel counts then the class per row.
pub const CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Rows in the set.
pub const ROWS: usize = 1797;
/// Pixels per image (8x8).
pub const FEATURES: usize = 64;
/// Number of classes.
pub const CLASSES: usize = 10;

const NAME: &str = "embedded digits.csv.gz";

/// The whole set, 1,797 rows, pixels scaled to `[0, 1]`.
pub fn dataset() -> Result<Dataset, DataError> {
    let path = Path::new(NAME);
    let bytes = gunzip_if_gzip(path, CSV_GZ.to_vec())?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| DataError::byte(path, e.valid_up_to() as u64, "not UTF-8 text"))?;
    let mut features = Vec::with_capacity(ROWS * FEATURES);
    let mut labels = Vec::with_capacity(ROWS);
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != FEATURES + 1 {
            return Err(DataError::line(
                path,
                line_no,
                format!("{} fields, expected {}", fields.len(), FEATURES + 1),
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let v: u32 = f.trim().parse().map_err(|_| {
                DataError::line(
                    path,
                    line_no,
                    format!("field {}: {f:?} is not a count", j + 1),
                )
            })?;
            if j < FEATURES {
                if v > 16 {
                    return Err(DataError::line(
                        path,
                        line_no,
                        format!("field {}: pixel count {v} is above 16", j + 1),
                    ));
                }
                features.push(v as f32 / 16.0);
            } else {
                labels.push(v);
            }
        }
    }
    Dataset::classification("digits", features, FEATURES, labels, CLASSES)?
        .with_class_names((0..CLASSES).map(|c| c.to_string()).collect())
}

/// The fixed split: a stratified 20% for validation with [`DEFAULT_SPLIT_SEED`], the
/// same in every run and build (1,438 training rows, 359 validation rows).
pub fn split() -> Result<Split, DataError> {
    dataset()?.split(DEFAULT_VAL_FRACTION, DEFAULT_SPLIT_SEED)
}
