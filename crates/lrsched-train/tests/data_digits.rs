//! The embedded UCI digits: size, classes, scaling and the fixed stratified split.

use lrsched_train::data::{digits, Task};

#[test]
fn digits_has_1797_rows_of_64_pixels_and_10_classes() {
    let d = digits::dataset().unwrap();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.dim(), 64);
    assert_eq!(d.task(), &Task::Classification { classes: 10 });
    // The published class counts of this copy (scikit-learn's load_digits).
    assert_eq!(
        d.class_counts().unwrap(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert!(d.features().iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert!(d.features().contains(&1.0), "a full pixel (16) scales to 1");
    // Row 0 is a zero: its first pixels are 0, 0, 5, 13 (out of 16).
    assert_eq!(d.labels().unwrap()[0], 0);
    assert_eq!(&d.row(0)[..4], &[0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
}

#[test]
fn digits_split_is_stratified_and_fixed() {
    let s = digits::split().unwrap();
    assert_eq!((s.train.len(), s.val.len()), (1438, 359));
    let all = digits::dataset().unwrap().class_counts().unwrap();
    let val = s.val.class_counts().unwrap();
    let train = s.train.class_counts().unwrap();
    for c in 0..10 {
        assert_eq!(train[c] + val[c], all[c]);
        // Each class holds out round(20%) of its rows.
        assert_eq!(val[c], (all[c] as f64 * 0.2).round() as usize, "class {c}");
    }
    assert_eq!(
        s,
        digits::split().unwrap(),
        "the split is the same every time"
    );
}
