//! CSV loading: the three kinds of target, the split, and every kind of bad file.

use std::io::Write;
use std::path::PathBuf;

use lrsched_train::data::csv::{self, CsvOptions};
use lrsched_train::data::{DataError, Targets, Task};

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

fn err(text: &str, target: Option<&str>) -> (PathBuf, DataError) {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "bad.csv", text);
    let e = csv::load(&p, target).unwrap_err();
    // Keep the path for the caller's checks; the folder goes with `dir`.
    (p, e)
}

#[test]
fn integer_labels_make_classification() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "a.csv", "x,y,label\n1,2,3\n3,4,1\n5,6,3\n7,8,2\n");
    let d = csv::load(&p, None).unwrap();
    assert_eq!(d.task(), &Task::Classification { classes: 3 });
    // 1, 2, 3 sorted numerically become 0, 1, 2.
    assert_eq!(d.labels().unwrap(), &[2, 0, 2, 1]);
    assert_eq!(d.class_names().unwrap(), &["1", "2", "3"]);
    assert_eq!(d.feature_names().unwrap(), &["x", "y"]);
    assert_eq!(d.features(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
}

#[test]
fn string_labels_and_a_named_target() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "s.csv",
        "species,\"petal, length\",width\nsetosa,1.4,0.2\nvirginica,5.1,1.8\n\"setosa\",1.3,0.3\n",
    );
    let d = csv::load(&p, Some("species")).unwrap();
    assert_eq!(d.task(), &Task::BinaryClassification);
    assert_eq!(d.class_names().unwrap(), &["setosa", "virginica"]);
    assert_eq!(d.labels().unwrap(), &[0, 1, 0]);
    assert_eq!(d.feature_names().unwrap(), &["petal, length", "width"]);
    assert_eq!(d.row(1), &[5.1, 1.8]);
}

#[test]
fn real_targets_make_regression_and_split_standardises() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a, b ,price\n");
    for i in 0..50 {
        text.push_str(&format!("{i},{},{}.5\n", 100 - 2 * i, i * 3));
    }
    let p = file(&dir, "r.csv", &text);
    let d = csv::load(&p, None).unwrap();
    assert_eq!(d.task(), &Task::Regression);
    assert_eq!(d.feature_names().unwrap(), &["a", "b"], "names are trimmed");
    match d.targets() {
        Targets::Values(v) => assert_eq!(&v[..2], &[0.5, 3.5]),
        t => panic!("{t:?}"),
    }
    let opts = CsvOptions::new(&p);
    let s = csv::split(&opts).unwrap();
    assert_eq!((s.train.len(), s.val.len()), (40, 10));
    assert_eq!(s, csv::split(&opts).unwrap());
    // Training features have mean 0 after standardisation; validation need not.
    for j in 0..2 {
        let m: f32 = (0..40).map(|i| s.train.row(i)[j]).sum::<f32>() / 40.0;
        assert!(m.abs() < 1e-5, "{m}");
    }
    let other = csv::split(&CsvOptions { seed: 7, ..opts }).unwrap();
    assert_ne!(s.val.targets(), other.val.targets());
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "bom.csv", "\u{feff}a,b\r\n1,x\r\n2,y\r\n");
    let d = csv::load(&p, Some("b")).unwrap();
    assert_eq!(d.feature_names().unwrap(), &["a"]);
    assert_eq!(d.class_names().unwrap(), &["x", "y"]);
}

#[test]
fn gzip_csv_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("z.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b"f,c\n0.5,a\n1.5,b\n").unwrap();
    gz.finish().unwrap();
    assert_eq!(csv::load(&p, None).unwrap().len(), 2);
}

#[test]
fn ragged_row_names_line() {
    let (p, e) = err("a,b,c\n1,2,0\n3,4\n", None);
    let msg = e.to_string();
    assert!(matches!(e, DataError::Line { line: 3, .. }), "{msg}");
    assert!(msg.starts_with(&p.display().to_string()), "{msg}");
    assert!(msg.contains("2 fields, but the header has 3"), "{msg}");
}

#[test]
fn non_numeric_feature_names_line_and_column() {
    let (_, e) = err("a,b,c\n1,2,0\n3,x4,1\n", None);
    let msg = e.to_string();
    assert!(matches!(e, DataError::Line { line: 3, .. }), "{msg}");
    assert!(
        msg.contains("column \"b\": \"x4\" is not a number"),
        "{msg}"
    );
    let (_, e) = err("a,b,c\n1,,0\n", None);
    assert!(e.to_string().contains("empty value"), "{e}");
    let (_, e) = err("a,b,c\n1,inf,0\n", None);
    assert!(e.to_string().contains("not a finite number"), "{e}");
}

#[test]
fn unknown_target_suggests_nearest_column() {
    let (_, e) = err("sepal,petal,species\n1,2,a\n3,4,b\n", Some("specis"));
    let msg = e.to_string();
    assert!(matches!(e, DataError::Line { line: 1, .. }), "{msg}");
    assert!(
        msg.contains("no target column \"specis\"; did you mean \"species\"?"),
        "{msg}"
    );
}

#[test]
fn empty_sets_and_single_class_are_errors() {
    let (_, e) = err("", None);
    assert!(e.to_string().contains("empty file"), "{e}");
    let (_, e) = err("a,b\n", None);
    assert!(matches!(e, DataError::File { .. }), "{e}");
    assert!(e.to_string().contains("no data rows"), "{e}");
    let (_, e) = err("only\n1\n", None);
    assert!(e.to_string().contains("one column"), "{e}");
    let (_, e) = err("a,b\n1,cat\n2,cat\n", None);
    let msg = e.to_string();
    assert!(
        msg.contains("single class (\"cat\" in all 2 rows)"),
        "{msg}"
    );
    let (_, e) = err("a,b\n1,2\n2,\n", None);
    assert!(matches!(e, DataError::Line { line: 3, .. }), "{e}");
    let (_, e) = err("a,b,a\n1,2,3\n", Some("a"));
    assert!(e.to_string().contains("appears 2 times"), "{e}");
    let (_, e) = err("a,b\n1,1.5\n2,nan\n", None);
    assert!(matches!(e, DataError::Line { line: 3, .. }), "{e}");
}

#[test]
fn missing_file_and_bad_utf8_are_errors() {
    let e = csv::load(std::path::Path::new("/nonexistent/x.csv"), None).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.csv");
    std::fs::write(&p, b"a,b\n1,2\n\xff\xfe,3\n").unwrap();
    let e = csv::load(&p, None).unwrap_err();
    assert!(matches!(e, DataError::Line { line: 3, .. }), "{e}");
}

#[test]
fn too_small_to_split_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "t.csv", "a,b\n1,x\n2,y\n");
    let e = csv::split(&CsvOptions::new(&p)).unwrap_err();
    assert_eq!(e.path(), Some(p.as_path()), "{e}");
}
