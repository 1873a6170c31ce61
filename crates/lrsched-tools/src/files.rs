//! Files the tools write: the output folder, atomic writes, the command line as typed,
//! the timestamp of default folder names. One copy of each for every tool.

use std::path::{Path, PathBuf};

/// The command line as typed, quoted so it can be pasted back into a shell.
pub fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            // Show the program by its name, not the build folder it ran from.
            let a = if i == 0 {
                Path::new(&a)
                    .file_name()
                    .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                a
            };
            shell_quote(&a)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The output folder: `out` if given, else `runs/<command>-<timestamp>`; created, and
/// checked to be writable, so a bad `--out` fails before any training is spent.
pub fn out_dir(command: &str, out: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => {
            // Two runs in the same second must not share (and overwrite) a folder.
            let base = format!("runs/{command}-{}", timestamp());
            let mut dir = PathBuf::from(&base);
            let mut n = 2;
            while dir.exists() {
                dir = PathBuf::from(format!("{base}-{n}"));
                n += 1;
            }
            dir
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create --out {}: {e}", dir.display()))?;
    let probe = dir.join(".lrsched-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("cannot write into --out {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(dir)
}

/// As [`out_dir`], for a tool whose run cannot continue an earlier one (compare, find-lr):
/// a given folder that already holds files is refused, so another run's report and
/// measurements are never overwritten.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let out = dir.path().join("cmp");
/// lrsched_tools::files::new_out_dir("compare", Some(&out)).unwrap();
/// std::fs::write(out.join("report.html"), "<html>").unwrap();
/// let e = lrsched_tools::files::new_out_dir("compare", Some(&out)).unwrap_err();
/// assert!(e.contains("report.html"), "{e}");
/// ```
pub fn new_out_dir(command: &str, out: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = out {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut names: Vec<String> = entries
                .flatten()
                .take(4)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !names.is_empty() {
                names.sort();
                return Err(format!(
                    "--out {} already holds files ({}{}), perhaps another run's: choose a new \
                     folder, or move that one away",
                    dir.display(),
                    names[..names.len().min(3)].join(", "),
                    if names.len() > 3 { ", ..." } else { "" }
                ));
            }
        }
    }
    out_dir(command, out)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, synced, and a
/// rename, so readers see the old file or the whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    lrsched_train::checkpoint::write_bytes_atomic(path, bytes).map_err(|e| e.to_string())
}

/// `YYYYMMDD-HHMMSS` in UTC, for default output folders (no date crate for one name).
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_reads_back_in_a_shell() {
        assert_eq!(shell_quote("--seeds"), "--seeds");
        assert_eq!(shell_quote("cosine(lr=0.1)"), "'cosine(lr=0.1)'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn timestamp_reads_as_a_date() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "-");
    }
}
