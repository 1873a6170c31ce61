//! One run per folder: an advisory lock that dies with the process.

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// An advisory lock on a folder (`flock` on `.lrsched.lock` in it): a second run on the
/// same folder (two trains on one checkpoint folder, two tunes on one output folder) is
/// refused instead of both writing there. The kernel drops it when the process ends,
/// however it ends; child processes do not inherit it.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
    /// The lock file.
    pub path: PathBuf,
}

impl FolderLock {
    /// Takes the lock, or says who holds it: one line naming the folder and saying that
    /// another lrsched run holds it.
    ///
    /// ```
    /// use lrsched_train::lock::FolderLock;
    /// let dir = tempfile::tempdir().unwrap();
    /// let held = FolderLock::acquire(dir.path()).unwrap();
    /// let e = FolderLock::acquire(dir.path()).unwrap_err();
    /// assert!(e.contains(".lrsched.lock") && e.contains("another lrsched run holds it"), "{e}");
    /// drop(held);
    /// assert!(FolderLock::acquire(dir.path()).is_ok());
    /// ```
    pub fn acquire(dir: &Path) -> Result<FolderLock, String> {
        Self::acquire_at(dir.join(LOCK_NAME), dir)
    }

    /// The lock of one file a run writes (`train --metrics-out`) rather than of a whole
    /// folder, so two runs never write one file while runs writing other files in the
    /// same folder go on. The lock file lives in the user's temporary folder
    /// (`lrsched-locks-UID/`, named by a hash of the file's absolute path), not beside the
    /// file: the run's folder holds only what the run writes.
    ///
    /// ```
    /// use lrsched_train::lock::FolderLock;
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("run.jsonl");
    /// let held = FolderLock::for_file(&file).unwrap();
    /// let e = FolderLock::for_file(&file).unwrap_err();
    /// assert!(e.starts_with(&format!("{} is in use: another lrsched run holds it", file.display())), "{e}");
    /// assert!(FolderLock::for_file(&dir.path().join("other.jsonl")).is_ok());
    /// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing beside the file");
    /// drop(held);
    /// ```
    pub fn for_file(file: &Path) -> Result<FolderLock, String> {
        use sha2::{Digest, Sha256};
        use std::os::unix::ffi::OsStrExt;
        let parent = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        let absolute = parent.join(file.file_name().unwrap_or_default());
        let digest = Sha256::digest(absolute.as_os_str().as_bytes());
        let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        // SAFETY: getuid(2) cannot fail.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("lrsched-locks-{uid}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the lock folder {}: {e}", dir.display()))?;
        Self::acquire_at(dir.join(format!("{name}.lock")), file)
    }

    /// Takes the lock file `path`, which guards `what` (a folder or a file).
    fn acquire_at(path: PathBuf, what: &Path) -> Result<FolderLock, String> {
        // std opens files close-on-exec, so the trials' processes never hold the lock.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open the lock {}: {e}", path.display()))?;
        if !try_lock(&file).map_err(|e| format!("cannot lock {}: {e}", path.display()))? {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("process {pid}, "),
                Err(_) => String::new(),
            };
            return Err(format!(
                "{} is in use: another lrsched run holds it ({who}lock {}); wait for it to end or use another path",
                what.display(),
                path.display()
            ));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "{}", std::process::id());
        Ok(FolderLock { _file: file, path })
    }
}

/// Takes an exclusive `flock` on `file` without waiting: `Ok(true)` when taken,
/// `Ok(false)` when another open file (of this process or any other) holds it. The lock
/// lasts while any descriptor of this open file lives, in whatever process.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let open = || std::fs::File::create(dir.path().join("l")).unwrap();
/// let (a, b) = (open(), open());
/// assert!(lrsched_train::lock::try_lock(&a).unwrap());
/// assert!(!lrsched_train::lock::try_lock(&b).unwrap());
/// drop(a);
/// assert!(lrsched_train::lock::try_lock(&b).unwrap());
/// ```
pub fn try_lock(file: &std::fs::File) -> std::io::Result<bool> {
    // SAFETY: flock(2) on a descriptor `file` owns; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(err),
    }
}

/// The lock file's name in a locked folder; not a run's output (a folder holding only
/// it holds nothing).
pub const LOCK_NAME: &str = ".lrsched.lock";
