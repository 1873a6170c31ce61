//! Outputs never land on inputs: a metrics file written over the CSV being trained on, the
//! schedule config or a checkpoint destroys what the user wrote or measured.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where a path points once links and `..` are resolved; for a file that does not exist
/// yet, its folder resolved and its name kept.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Whether two paths name the same file: the same resolved path, or (both existing) the
/// same inode on the same device, which also catches hard links.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let a = dir.path().join("a.csv");
/// std::fs::write(&a, "x,y\n").unwrap();
/// assert!(lrsched_train::outputs::same_file(&a, &dir.path().join("./a.csv")));
/// assert!(!lrsched_train::outputs::same_file(&a, &dir.path().join("b.csv")));
/// ```
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
            return true;
        }
    }
    resolved(a) == resolved(b)
}

/// Refuses any output that is one of the inputs. Each entry is (what the user calls it,
/// e.g. `--metrics-out`; the path).
///
/// ```
/// use std::path::Path;
/// use lrsched_train::outputs::refuse_overlap;
/// let dir = tempfile::tempdir().unwrap();
/// let data = dir.path().join("train.csv");
/// std::fs::write(&data, "x,y\n").unwrap();
/// let e = refuse_overlap(&[("--metrics-out", &data)], &[("--data-path", &data)]).unwrap_err();
/// assert!(e.contains("--metrics-out") && e.contains("--data-path"), "{e}");
/// assert!(refuse_overlap(&[("--metrics-out", &dir.path().join("m.jsonl"))], &[("--data-path", &data)]).is_ok());
/// ```
pub fn refuse_overlap(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<(), String> {
    for (out_name, out) in outputs {
        for (in_name, input) in inputs {
            if same_file(out, input) {
                return Err(format!(
                    "{out_name} {} is the file {in_name} reads: an output would overwrite an input; \
                     choose another path",
                    out.display()
                ));
            }
        }
    }
    Ok(())
}

/// Refuses a metrics file inside the checkpoint folder under a checkpoint's name (the
/// pruning of old checkpoints would delete it, and it would overwrite one).
///
/// ```
/// use std::path::Path;
/// use lrsched_train::outputs::refuse_in_checkpoints;
/// assert!(refuse_in_checkpoints(Path::new("ck/epoch-000001.ckpt"), Path::new("ck")).is_err());
/// assert!(refuse_in_checkpoints(Path::new("ck/metrics.jsonl"), Path::new("ck")).is_ok());
/// ```
pub fn refuse_in_checkpoints(file: &Path, checkpoint_dir: &Path) -> Result<(), String> {
    let in_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let is_checkpoint_name = file
        .extension()
        .is_some_and(|e| e == "ckpt" || e.to_string_lossy().starts_with("ckpt"));
    if same_file(file, checkpoint_dir) || (is_checkpoint_name && same_file(in_dir, checkpoint_dir))
    {
        return Err(format!(
            "`metrics_out` {} is in the checkpoint folder under a checkpoint's name: choose \
             another path",
            file.display()
        ));
    }
    Ok(())
}
