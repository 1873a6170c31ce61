//! XOR: the four points of the truth table, the smallest set a linear model cannot fit.

use super::{DataError, Dataset, Split};

/// The four points `(0,0) -> 0, (0,1) -> 1, (1,0) -> 1, (1,1) -> 0`: binary
/// classification, 2 features, one logit output.
pub fn dataset() -> Result<Dataset, DataError> {
    Dataset::classification(
        "xor",
        vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        2,
        vec![0, 1, 1, 0],
        2,
    )?
    .with_feature_names(vec!["a".into(), "b".into()])
}

/// Training and validation are both the four points: there is nothing else to
/// generalise to, and holding one out would make the task unlearnable.
pub fn split() -> Result<Split, DataError> {
    let d = dataset()?;
    Ok(Split {
        train: d.clone(),
        val: d,
    })
}
