//! How far predictions were from what the runs measured: rank agreement and relative error,
//! the two numbers every check of a prediction reports.

/// Ranks of `values` (1 = smallest), ties given the mean of the ranks they span, as
/// Spearman's coefficient takes them.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = mean;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation of `predicted` and `measured` (the Pearson correlation of
/// their ranks, ties averaged); `None` with fewer than 3 pairs, a length mismatch, a
/// non-finite value, or no spread in either (the coefficient is then undefined).
///
/// ```
/// use lrsched_predict::spearman;
/// assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
/// assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
/// assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
/// ```
pub fn spearman(predicted: &[f64], measured: &[f64]) -> Option<f64> {
    let n = predicted.len();
    let finite = predicted.iter().chain(measured).all(|v| v.is_finite());
    if n < 3 || measured.len() != n || !finite {
        return None;
    }
    let (a, b) = (ranks(predicted), ranks(measured));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        sab += (x - mean) * (y - mean);
        saa += (x - mean) * (x - mean);
        sbb += (y - mean) * (y - mean);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// The median of `|predicted - measured| / measured` over the pairs whose measured value
/// is finite and non-zero; `None` when there is none.
///
/// ```
/// use lrsched_predict::median_relative_error;
/// let e = median_relative_error(&[1.1, 2.0, 2.4], &[1.0, 2.0, 3.0]).unwrap();
/// assert!((e - 0.1).abs() < 1e-12);
/// ```
pub fn median_relative_error(predicted: &[f64], measured: &[f64]) -> Option<f64> {
    let mut errors: Vec<f64> = predicted
        .iter()
        .zip(measured)
        .filter(|(p, m)| p.is_finite() && m.is_finite() && **m != 0.0)
        .map(|(p, m)| ((p - m) / m).abs())
        .collect();
    if errors.is_empty() {
        return None;
    }
    errors.sort_by(f64::total_cmp);
    let n = errors.len();
    Some(if n % 2 == 1 {
        errors[n / 2]
    } else {
        (errors[n / 2 - 1] + errors[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_take_their_mean_rank() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // Ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]: 4.5 / sqrt(4.5 * 5) = 0.9486832980505138.
        let r = spearman(&[1.0, 2.0, 2.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.948_683_298_050_513_8).abs() < 1e-12, "{r}");
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, f64::NAN, 2.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(median_relative_error(&[1.0], &[0.0]), None);
    }
}
