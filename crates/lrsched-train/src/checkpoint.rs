//! Checkpoints: everything a run needs to continue bit-identically, written atomically.
//!
//! File layout: the magic `LRSCKPT\0`, a little-endian `u32` format version, a `u64`
//! payload length, the JSON payload, and the SHA-256 of the payload. A file that is cut
//! short, altered, or of another version is refused with a message saying which.
//!
//! Writes go to a temporary file in the same folder, are flushed to disk, then renamed
//! over the target and the folder is synced: a crash at any point leaves either the old
//! checkpoint or the new one, never a torn file.

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"LRSCKPT\0";
const VERSION: u32 = 1;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a valid checkpoint.
    #[error("{path}: not a usable checkpoint: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `value` to `path` atomically (temp file, fsync, rename, fsync of the folder).
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), CheckpointError> {
    let payload = serde_json::to_vec(value).map_err(|e| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        problem: format!("cannot encode: {e}"),
    })?;
    let mut bytes = Vec::with_capacity(payload.len() + 52);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(&Sha256::digest(&payload));
    write_bytes_atomic(path, &bytes)
}

/// Writes raw bytes to `path` atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io(path))?;
        // The rename is durable only once the folder's entry is on disk.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Whether `path` starts like a checkpoint (the magic bytes), whatever its name: what an
/// output must never overwrite.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("x.jsonl");
/// lrsched_train::checkpoint::write_atomic(&p, &1u32).unwrap();
/// assert!(lrsched_train::checkpoint::is_checkpoint(&p));
/// assert!(!lrsched_train::checkpoint::is_checkpoint(&dir.path().join("missing")));
/// ```
pub fn is_checkpoint(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == MAGIC
}

/// Reads and verifies a checkpoint written by [`write_atomic`].
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, CheckpointError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let corrupt = |problem: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err(corrupt(
            "it does not start with the lrsched checkpoint magic".into(),
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if version != VERSION {
        return Err(corrupt(format!(
            "format version {version}, this build reads version {VERSION}"
        )));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    let expected = 20u64.saturating_add(len).saturating_add(32);
    if bytes.len() as u64 != expected {
        return Err(corrupt(format!(
            "{} bytes, the header promises {expected} (truncated or extended)",
            bytes.len()
        )));
    }
    let payload = &bytes[20..20 + len as usize];
    if Sha256::digest(payload).as_slice() != &bytes[20 + len as usize..] {
        return Err(corrupt(
            "checksum mismatch: the file was altered or damaged".into(),
        ));
    }
    serde_json::from_slice(payload).map_err(|e| corrupt(format!("cannot decode: {e}")))
}

/// The checkpoint file of the run after `epoch` epochs.
pub fn epoch_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!("epoch-{epoch:06}.ckpt"))
}

/// The file that holds the best epoch's checkpoint.
pub fn best_path(dir: &Path) -> PathBuf {
    dir.join("best.ckpt")
}

/// Epoch checkpoints in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("epoch-")
            .and_then(|r| r.strip_suffix(".ckpt"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Removes the temporary files (`.NAME.tmp-PID`) that a process killed in the middle of
/// [`write_bytes_atomic`] left in `dir`, where that process is gone; a live writer's
/// file is left alone. Best effort: what cannot be removed stays.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let stale = dir.path().join(".epoch-000001.ckpt.tmp-999999999");
/// std::fs::write(&stale, b"half").unwrap();
/// lrsched_train::checkpoint::remove_stale_temporaries(dir.path());
/// assert!(!stale.exists());
/// ```
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".tmp-"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Deletes all but the newest `keep` epoch checkpoints.
pub fn prune(dir: &Path, keep: usize) -> Result<(), CheckpointError> {
    let all = list(dir)?;
    for (_, path) in all.iter().take(all.len().saturating_sub(keep.max(1))) {
        fs::remove_file(path).map_err(io(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ckpt");
        write_atomic(&path, &vec![1.5f32, -2.0]).unwrap();
        assert_eq!(read::<Vec<f32>>(&path).unwrap(), vec![1.5, -2.0]);
        let good = fs::read(&path).unwrap();

        fs::write(&path, &good[..good.len() - 5]).unwrap();
        assert!(read::<Vec<f32>>(&path)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut flipped = good.clone();
        flipped[22] ^= 1;
        fs::write(&path, &flipped).unwrap();
        assert!(read::<Vec<f32>>(&path)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        fs::write(&path, b"not a checkpoint at all").unwrap();
        assert!(read::<Vec<f32>>(&path)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        let mut other_version = good.clone();
        other_version[8] = 9;
        fs::write(&path, &other_version).unwrap();
        assert!(read::<Vec<f32>>(&path)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
    }

    #[test]
    fn a_failed_write_leaves_the_last_good_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ckpt");
        write_atomic(&path, &1u32).unwrap();
        // The target is a folder now: the rename fails after the temp file is written.
        let blocked = dir.path().join("b.ckpt");
        fs::create_dir(&blocked).unwrap();
        assert!(write_atomic(&blocked, &2u32).is_err());
        assert_eq!(read::<u32>(&path).unwrap(), 1);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left behind");
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for e in 1..=5 {
            write_atomic(&epoch_path(dir.path(), e), &e).unwrap();
        }
        prune(dir.path(), 2).unwrap();
        let left: Vec<u64> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(left, vec![4, 5]);
    }
}
