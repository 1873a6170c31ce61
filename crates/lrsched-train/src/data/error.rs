//! The one error type of the data layer.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a data set could not be loaded. Each variant names where the problem is (a file
/// and, when there is one, a line or byte offset) and what it is, so the message alone
/// is enough to fix the input.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A text file is wrong at a line (1-based; the header is line 1).
    #[error("{}: line {line}: {problem}", .path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, counting from 1.
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// A binary file is wrong at a byte offset (0-based). For a gzip-compressed file the
    /// offset counts decompressed bytes, as that is where the format's fields are.
    #[error("{}: byte {offset}: {problem}", .path.display())]
    Byte {
        /// The file.
        path: PathBuf,
        /// The offset, counting from 0.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
    /// The file as a whole is wrong (no rows, a single class, files that disagree).
    #[error("{}: {problem}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A download failed before its checksum could be checked.
    #[error("download {url}: {problem}")]
    Download {
        /// The address asked for.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// A downloaded file's SHA-256 is not the published one; the file was not kept.
    #[error(
        "download {url}: SHA-256 {actual} does not match the expected {expected}; file not kept"
    )]
    Checksum {
        /// The address it came from.
        url: String,
        /// The published digest, hex.
        expected: String,
        /// The digest of what arrived, hex.
        actual: String,
    },
    /// Data built in memory (not from a file) is inconsistent, or an option is invalid.
    #[error("{what}: {problem}")]
    Invalid {
        /// Which data set or option.
        what: String,
        /// What is wrong.
        problem: String,
    },
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> DataError {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn line(path: &Path, line: u64, problem: impl fmt::Display) -> DataError {
        DataError::Line {
            path: path.to_path_buf(),
            line,
            problem: problem.to_string(),
        }
    }

    pub(crate) fn byte(path: &Path, offset: u64, problem: impl fmt::Display) -> DataError {
        DataError::Byte {
            path: path.to_path_buf(),
            offset,
            problem: problem.to_string(),
        }
    }

    pub(crate) fn file(path: &Path, problem: impl fmt::Display) -> DataError {
        DataError::File {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        }
    }

    pub(crate) fn invalid(what: &str, problem: impl fmt::Display) -> DataError {
        DataError::Invalid {
            what: what.to_string(),
            problem: problem.to_string(),
        }
    }

    /// The file the error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::Io { path, .. }
            | DataError::Line { path, .. }
            | DataError::Byte { path, .. }
            | DataError::File { path, .. } => Some(path),
            _ => None,
        }
    }
}
