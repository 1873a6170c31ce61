//! Files the tools write: the output folder, atomic writes, the command line as typed,
//! the timestamp of default folder names. One copy of each for every tool.

use lrsched_train::lock::{FolderLock, LOCK_NAME};
use std::path::{Path, PathBuf};

/// The command line `args` (the program first, as `std::env::args` gives it), quoted so
/// it can be pasted back into a shell; the program is shown by its name. The caller
/// passes the arguments: a library never reads its process's own.
///
/// ```
/// let args = ["/build/lrsched", "compare", "--out", "my runs"].map(String::from);
/// assert_eq!(lrsched_tools::files::command_line(args), "lrsched compare --out 'my runs'");
/// ```
pub fn command_line(args: impl IntoIterator<Item = String>) -> String {
    args.into_iter()
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
        None => default_dir(command)?,
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create --out {}: {e}", dir.display()))?;
    probe(&dir)?;
    Ok(dir)
}

/// A new `runs/<command>-<timestamp>[-N]` folder, made here: `create_dir` fails on a
/// folder that exists, so two runs started in the same second never get the same one.
fn default_dir(command: &str) -> Result<PathBuf, String> {
    let base = format!("runs/{command}-{}", timestamp());
    std::fs::create_dir_all("runs").map_err(|e| format!("cannot create runs/: {e}"))?;
    for n in 1..10_000 {
        let dir = if n == 1 {
            PathBuf::from(&base)
        } else {
            PathBuf::from(format!("{base}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create --out {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot create --out {base}: 10000 folders of that name exist"
    ))
}

/// Checks that files can be written into `dir`.
fn probe(dir: &Path) -> Result<(), String> {
    let probe = dir.join(PROBE);
    std::fs::write(&probe, b"")
        .map_err(|e| format!("cannot write into --out {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The file [`out_dir`] writes to see that a folder is writable (removed at once).
const PROBE: &str = ".lrsched-write-test";

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
        refuse_files(dir)?;
    }
    out_dir(command, out)
}

/// The output folder of one run, made (as [`out_dir`]) and locked
/// ([`lrsched_train::lock::FolderLock`]) for as long as the returned lock lives, so a
/// second run on the same folder is refused at once, with one line naming the folder,
/// instead of both running and mixing their trials' lines. With `fresh` (compare,
/// find-lr: a run that cannot go on from an earlier one) a folder that already holds
/// files is refused too; the lock is taken first, so two runs started together cannot
/// both find the folder empty.
///
/// ```
/// use lrsched_tools::files::locked_out_dir;
/// let dir = tempfile::tempdir().unwrap();
/// let out = dir.path().join("cmp");
/// let (path, lock) = locked_out_dir("compare", Some(&out), true).unwrap();
/// assert_eq!(path, out);
/// let e = locked_out_dir("compare", Some(&out), true).unwrap_err();
/// assert!(e.contains("another lrsched run holds it"), "{e}");
/// drop(lock);
/// // Free again, and still empty but for the lock file: a fresh run may use it.
/// let (_, lock) = locked_out_dir("compare", Some(&out), true).unwrap();
/// std::fs::write(out.join("report.html"), "<html>").unwrap();
/// drop(lock);
/// let e = locked_out_dir("compare", Some(&out), true).unwrap_err();
/// assert!(e.contains("already holds files (report.html)"), "{e}");
/// ```
pub fn locked_out_dir(
    command: &str,
    out: Option<&Path>,
    fresh: bool,
) -> Result<(PathBuf, FolderLock), String> {
    let dir = match out {
        Some(dir) => {
            if fresh {
                // A folder of files and no lock file is another tool's or a person's:
                // said before anything is made in it.
                if !dir.join(LOCK_NAME).exists() {
                    refuse_files(dir)?;
                }
            }
            dir.to_path_buf()
        }
        None => default_dir(command)?,
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create --out {}: {e}", dir.display()))?;
    let lock = FolderLock::acquire(&dir)?;
    if fresh {
        refuse_files(&dir)?;
    }
    probe(&dir)?;
    Ok((dir, lock))
}

/// Refuses a folder that holds files other than the lock's: another run's.
fn refuse_files(dir: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != LOCK_NAME && n != PROBE)
        .take(4)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    Err(format!(
        "--out {} already holds files ({}{}), perhaps another run's: choose a new \
         folder, or move that one away",
        dir.display(),
        names[..names.len().min(3)].join(", "),
        if names.len() > 3 { ", ..." } else { "" }
    ))
}

/// Refuses an output path that exists as anything but a regular file (a folder, a named
/// pipe, a device): found before any trial runs, not when its result is written.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("result.json");
/// assert!(lrsched_tools::files::check_output_path(&p).is_ok());
/// std::fs::create_dir(&p).unwrap();
/// let e = lrsched_tools::files::check_output_path(&p).unwrap_err();
/// assert!(e.ends_with("result.json is a folder, not a regular file: lrsched writes its output there; move it away"), "{e}");
/// ```
pub fn check_output_path(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.file_type().is_file() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(t) if !t.is_file() => Err(not_regular(path, &t.file_type())),
            _ => Ok(()),
        },
        Ok(m) => Err(not_regular(path, &m.file_type())),
    }
}

fn not_regular(path: &Path, t: &std::fs::FileType) -> String {
    use std::os::unix::fs::FileTypeExt;
    let what = if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    format!(
        "{} is {what}, not a regular file: lrsched writes its output there; move it away",
        path.display()
    )
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

/// A file of one number per line (blank lines and `#` comments skipped): the metrics fed
/// to a metric-driven schedule, value i the one after the metric on line i.
pub fn read_metric_lines(path: &Path) -> Result<Vec<f64>, String> {
    let text = read_input(path, MAX_INPUT_BYTES)?;
    let mut metrics = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v: f64 = line.parse().map_err(|_| {
            format!(
                "{}: line {}: `{line}` is not a number (one metric per line)",
                path.display(),
                i + 1
            )
        })?;
        metrics.push(v);
    }
    Ok(metrics)
}

/// The most bytes a config, schedules, space or workloads file may hold: far above any
/// real one, and a bound on what a mistyped path (a disk image, `/dev/zero`) costs.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// The most bytes a metrics file read whole (`plot --run`) may hold.
pub const MAX_METRICS_BYTES: u64 = 1 << 30;

/// Reads a file a user named as input, as text: opened without blocking and refused unless
/// it is a regular file (a FIFO would block for ever, `/dev/zero` never ends), refused when
/// over `limit` bytes before any is read, and refused when it is not UTF-8; each error one
/// line naming the path and what is allowed.
///
/// ```
/// use lrsched_tools::files::{read_input, MAX_INPUT_BYTES};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("s.json");
/// std::fs::write(&path, "[]").unwrap();
/// assert_eq!(read_input(&path, MAX_INPUT_BYTES).unwrap(), "[]");
/// let zero = read_input(std::path::Path::new("/dev/zero"), MAX_INPUT_BYTES).unwrap_err();
/// assert!(zero.contains("a character device, not a regular file"), "{zero}");
/// assert!(read_input(&path, 1).unwrap_err().contains("at most 1 bytes"));
/// ```
pub fn read_input(path: &Path, limit: u64) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "cannot read {}: it is {}, not a regular file",
            path.display(),
            crate::protocol::kind_of(&meta.file_type())
        ));
    }
    if meta.len() > limit {
        return Err(format!(
            "cannot read {}: it holds {} bytes, and an input file may hold at most {limit} bytes",
            path.display(),
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    // A file that grows while it is read stops at the limit too.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "cannot read {}: it grew past {limit} bytes while being read",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read {}: not UTF-8 text (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads a document a user wrote in TOML or JSON (a schedules or workloads file) as one JSON
/// value: `.json` and `.toml` say which; otherwise text that opens with `{`, or with `[` but
/// not a TOML table array's `[[`, is JSON. JSON goes through the core's one reader (a key
/// given twice is refused, naming it). Errors are one line starting with the path.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let (t, j) = (dir.path().join("a.toml"), dir.path().join("b"));
/// std::fs::write(&t, "[[schedules]]\nname = \"c\"\n").unwrap();
/// std::fs::write(&j, r#"[{"name": "c"}]"#).unwrap();
/// let read = lrsched_tools::files::read_toml_or_json;
/// assert_eq!(read(&t).unwrap()["schedules"][0]["name"], "c");
/// assert_eq!(read(&j).unwrap()[0]["name"], "c");
/// ```
pub fn read_toml_or_json(path: &Path) -> Result<serde_json::Value, String> {
    let at = |m: String| format!("{}: {m}", path.display());
    let text = read_input(path, MAX_INPUT_BYTES)?;
    let start = text.trim_start();
    let is_json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("toml") => false,
        _ => start.starts_with('{') || (start.starts_with('[') && !start.starts_with("[[")),
    };
    if is_json {
        return lrsched::config::json_value(&text).map_err(|e| at(e.to_string()));
    }
    let t: toml::Value = toml::from_str(&text).map_err(|e| {
        at(format!(
            "not valid TOML: {}",
            e.message().lines().next().unwrap_or("")
        ))
    })?;
    serde_json::to_value(t).map_err(|e| at(e.to_string()))
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
