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
    /// Takes the lock, or says who holds it.
    ///
    /// ```
    /// use lrsched_train::lock::FolderLock;
    /// let dir = tempfile::tempdir().unwrap();
    /// let held = FolderLock::acquire(dir.path()).unwrap();
    /// let e = FolderLock::acquire(dir.path()).unwrap_err();
    /// assert!(e.contains(".lrsched.lock"), "{e}");
    /// drop(held);
    /// assert!(FolderLock::acquire(dir.path()).is_ok());
    /// ```
    pub fn acquire(dir: &Path) -> Result<FolderLock, String> {
        let path = dir.join(".lrsched.lock");
        // std opens files close-on-exec, so the trials' processes never hold the lock.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open the lock {}: {e}", path.display()))?;
        // SAFETY: flock(2) on a file descriptor this function owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("process {pid}"),
                Err(_) => "another process".into(),
            };
            return Err(format!(
                "{} is in use: {who} holds the lock {} (another lrsched run on the same folder); wait for it or use another folder",
                dir.display(),
                path.display()
            ));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "{}", std::process::id());
        Ok(FolderLock { _file: file, path })
    }
}
