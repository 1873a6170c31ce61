//! MNIST (LeCun, Cortes & Burges): 60,000 training and 10,000 test images of 28x28
//! handwritten digits, read from the original IDX files in a folder.
//!
//! The files may be gzip-compressed or not (told apart by their content, not their
//! name). The validation part is the official 10,000-image test set, so results compare
//! with published ones. Pixels are scaled to `[0, 1]` (divided by 255).
//!
//! [`download_with`] fetches the four `.gz` files over https (or http) into a cache
//! folder, trying [`DEFAULT_MIRRORS`] in turn, and keeps each only if its SHA-256 is the
//! published one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{http, read_maybe_gzip, DataError, Dataset, Split};

/// Magic number of an IDX file of unsigned bytes in 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes in 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Training images, without the `.gz` suffix.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels, without the `.gz` suffix.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test (validation) images, without the `.gz` suffix.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test (validation) labels, without the `.gz` suffix.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The four gzip files [`download`] fetches, with the SHA-256 of each as published
/// (the same bytes as the original distribution).
pub const FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "d2cebd02927d553943b2679536bf602ec0cdcb6555ad87dda5d640e1d425faaf",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "2a107763ddf1eef92815bfbb1b855b662a7228add9dfab29de697c644d666cda",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "4e612d6003de73386763f2c35c044ab376e830da80adb2347651a1f182f103a1",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "909a5aeb9fcec3f171b427c45622a55f69dc15dd80bd0624413cbfbe12553c1c",
    ),
];

/// The mirrors [`download`] tries, in turn, when none are given: the ones torchvision
/// uses (PyTorch's S3 copy) and TensorFlow uses (Google's CVDF copy), both serving the
/// original gzip files over https. The original site, `http://yann.lecun.com/exdb/mnist/`,
/// no longer serves them. Whatever the mirror, a file is kept only if its SHA-256 is the
/// one in [`FILES`].
pub const DEFAULT_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// Environment variable naming a PEM file of root certificates that [`DownloadOptions`]
/// trusts *instead of* the built-in Mozilla roots (as `curl --cacert` does): for a
/// mirror behind a TLS-inspecting proxy, or a local test server with its own CA.
pub const CA_CERT_ENV: &str = "LRSCHED_CA_CERT";

/// How [`download_with`] fetches: which mirrors, how long to wait, what to trust.
///
/// ```
/// use std::time::Duration;
/// use lrsched_train::data::mnist::{DownloadOptions, DEFAULT_MIRRORS};
///
/// let o = DownloadOptions::default();
/// assert_eq!(o.mirrors, DEFAULT_MIRRORS);
/// assert_eq!(o.read_timeout, Duration::from_secs(60));
/// let local = DownloadOptions {
///     mirrors: vec!["http://127.0.0.1:8000/mnist/".into()],
///     read_timeout: Duration::from_secs(5),
///     ..DownloadOptions::default()
/// };
/// assert_eq!(local.mirrors.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Folder addresses (`https://` or `http://`; a missing trailing `/` is added), tried
    /// in this order for each file until one gives the right bytes.
    pub mirrors: Vec<String>,
    /// Longest wait to resolve the host and to connect (TLS handshake included).
    pub connect_timeout: Duration,
    /// Longest silence from the server while waiting for the response or any part of
    /// the body; a slow download that keeps receiving is never cut off.
    pub read_timeout: Duration,
    /// A PEM file of root certificates to trust instead of the built-in Mozilla roots.
    /// [`Default`] takes it from the environment variable [`CA_CERT_ENV`]
    /// (`LRSCHED_CA_CERT`) when that is set and not empty.
    pub ca_cert: Option<PathBuf>,
    /// Draw a progress bar on stderr (only when stderr is a terminal) and say, as a
    /// `log::info!`, when a mirror fails and the next is tried.
    pub progress: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            mirrors: DEFAULT_MIRRORS.iter().map(|m| m.to_string()).collect(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            ca_cert: std::env::var_os(CA_CERT_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            progress: true,
        }
    }
}

/// Number of classes (the digits 0 to 9).
pub const CLASSES: usize = 10;

/// An IDX file's contents: its dimension sizes and its unsigned-byte data, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Size of each dimension, outermost first (for images: count, rows, columns).
    pub dims: Vec<usize>,
    /// The data, `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes (gzip-compressed or not) and checks that its
/// magic number is `magic` and that its length is exactly what the header declares.
/// Errors name the byte offset (in decompressed bytes for a gzip file).
pub fn read_idx(path: &Path, magic: u32) -> Result<Idx, DataError> {
    let bytes = read_maybe_gzip(path)?;
    parse_idx(path, bytes, magic)
}

fn describe(magic: u32) -> String {
    let kind = match magic {
        IMAGES_MAGIC => " (IDX images: unsigned bytes, 3 dimensions)",
        LABELS_MAGIC => " (IDX labels: unsigned bytes, 1 dimension)",
        _ => "",
    };
    format!("0x{magic:08x}{kind}")
}

fn parse_idx(path: &Path, mut bytes: Vec<u8>, magic: u32) -> Result<Idx, DataError> {
    let len = bytes.len() as u64;
    if bytes.len() < 4 {
        return Err(DataError::byte(
            path,
            len,
            format!("file ends after {len} bytes, inside the 4-byte magic number"),
        ));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(DataError::byte(
            path,
            0,
            format!(
                "wrong magic number 0x{found:08x}, expected {}",
                describe(magic)
            ),
        ));
    }
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(DataError::byte(
            path,
            len,
            format!("file ends inside the header ({ndims} dimension sizes, {header} bytes)"),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|k| {
            let o = 4 + 4 * k;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let size = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            DataError::byte(
                path,
                4,
                format!("dimensions {dims:?} overflow the address space"),
            )
        })?;
    // Saturating: a header declaring near 2^64 bytes must give an error, not overflow.
    let expected = (header as u64).saturating_add(size as u64);
    if len < expected {
        return Err(DataError::byte(
            path,
            len,
            format!(
                "file ends at byte {len}, {} bytes short of the {expected} that dimensions \
                 {dims:?} need (truncated?)",
                expected - len
            ),
        ));
    }
    if len > expected {
        return Err(DataError::byte(
            path,
            expected,
            format!(
                "{} bytes after the end of the data that dimensions {dims:?} declare",
                len - expected
            ),
        ));
    }
    bytes.drain(..header);
    Ok(Idx { dims, data: bytes })
}

/// Finds `stem` in `dir`, as is or gzip-compressed (`.gz`), also accepting the
/// `train-images.idx3-ubyte` spelling some mirrors use.
pub fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    let names = [
        stem.to_string(),
        format!("{stem}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ];
    for name in &names {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::file(
        &dir.join(stem),
        format!("not found (looked for {} in this folder)", names.join(", ")),
    ))
}

/// Reads one image file and its label file into a 10-class [`Dataset`], pixels / 255.
/// Checks the magic numbers, that the lengths match the headers, that there are as many
/// labels as images, and that every label is a digit.
pub fn load_pair(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let img = read_idx(images, IMAGES_MAGIC)?;
    let lab = read_idx(labels, LABELS_MAGIC)?;
    let (count, rows, cols) = (img.dims[0], img.dims[1], img.dims[2]);
    if count == 0 || rows * cols == 0 {
        return Err(DataError::byte(
            images,
            4,
            format!("no data: {count} images of {rows}x{cols}"),
        ));
    }
    if lab.dims[0] != count {
        return Err(DataError::file(
            labels,
            format!(
                "{} labels, but {} has {count} images",
                lab.dims[0],
                images.display()
            ),
        ));
    }
    if let Some(i) = lab.data.iter().position(|&l| l as usize >= CLASSES) {
        return Err(DataError::byte(
            labels,
            8 + i as u64,
            format!("label {} is not a digit 0-9", lab.data[i]),
        ));
    }
    let features = img.data.iter().map(|&p| p as f32 / 255.0).collect();
    let targets = lab.data.iter().map(|&l| l as u32).collect();
    Dataset::classification(
        images.display().to_string(),
        features,
        rows * cols,
        targets,
        CLASSES,
    )
}

/// Loads MNIST from `dir`: the 60,000 training images for training and the official
/// 10,000 test images for validation.
pub fn load(dir: &Path) -> Result<Split, DataError> {
    let train = load_pair(
        &find_file(dir, TRAIN_IMAGES)?,
        &find_file(dir, TRAIN_LABELS)?,
    )?;
    let test_images = find_file(dir, TEST_IMAGES)?;
    let val = load_pair(&test_images, &find_file(dir, TEST_LABELS)?)?;
    if val.dim() != train.dim() {
        return Err(DataError::file(
            &test_images,
            format!(
                "images have {} pixels, the training images {}",
                val.dim(),
                train.dim()
            ),
        ));
    }
    Ok(Split { train, val })
}

/// Writes through to a file while hashing, so the digest needs no second read.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, hex.
fn file_sha256(path: &Path) -> Result<String, DataError> {
    let mut f = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| DataError::io(path, e))?;
    Ok(hex(&h.finalize()))
}

/// Fetches the four MNIST files from one folder address `base_url` into `cache_dir`:
/// [`download_with`] with that single mirror and the other options at their defaults.
///
/// ```no_run
/// use lrsched_train::data::mnist;
///
/// let dir = mnist::download(std::path::Path::new("mnist"), mnist::DEFAULT_MIRRORS[0])?;
/// let split = mnist::load(&dir)?;
/// # Ok::<(), lrsched_train::data::DataError>(())
/// ```
pub fn download(cache_dir: &Path, base_url: &str) -> Result<PathBuf, DataError> {
    download_with(
        cache_dir,
        &DownloadOptions {
            mirrors: vec![base_url.to_string()],
            ..DownloadOptions::default()
        },
    )
}

/// Fetches the four MNIST files into `cache_dir`, creating it, and returns `cache_dir`
/// for [`load`].
///
/// A file already in the cache with the right SHA-256 is not fetched again. Otherwise
/// each mirror of `options` is tried in turn until one gives bytes with the SHA-256 in
/// [`FILES`]; a mirror that fails (no connection, an HTTP error, a timeout, a wrong
/// digest) is followed by the next. If all fail, the error names every address tried
/// and what went wrong with each (with one mirror, that mirror's own error, e.g.
/// [`DataError::Checksum`]).
///
/// Each download is written to `NAME.part` and renamed to `NAME` only once complete,
/// synced to disk and checked, so a download that is killed, cut off or wrong never
/// leaves a file under the final name; a failed `.part` is deleted.
///
/// ```no_run
/// use lrsched_train::data::mnist::{self, DownloadOptions};
///
/// let dir = mnist::download_with(std::path::Path::new("mnist"), &DownloadOptions::default())?;
/// assert_eq!(mnist::load(&dir)?.train.len(), 60_000);
/// # Ok::<(), lrsched_train::data::DataError>(())
/// ```
pub fn download_with(cache_dir: &Path, options: &DownloadOptions) -> Result<PathBuf, DataError> {
    for (name, expected) in FILES {
        download_file(cache_dir, name, expected, options)?;
    }
    Ok(cache_dir.to_path_buf())
}

/// Fetches one file `name` from the mirrors of `options` into `dir` (created if
/// missing), keeping it only if its SHA-256 is `sha256` (hex), and returns its path.
/// The machinery of [`download_with`], for any file: same cache check, mirror order,
/// `.part` file and errors.
///
/// ```no_run
/// use lrsched_train::data::mnist::{self, DownloadOptions, FILES};
///
/// let (name, sha) = FILES[3];
/// let p = mnist::download_file(std::path::Path::new("mnist"), name, sha, &DownloadOptions::default())?;
/// assert!(p.ends_with("t10k-labels-idx1-ubyte.gz"));
/// # Ok::<(), lrsched_train::data::DataError>(())
/// ```
pub fn download_file(
    dir: &Path,
    name: &str,
    sha256: &str,
    options: &DownloadOptions,
) -> Result<PathBuf, DataError> {
    if options.mirrors.is_empty() {
        return Err(DataError::invalid(
            "download mirrors",
            "the list is empty; give at least one http:// or https:// folder address",
        ));
    }
    let expected = sha256.to_ascii_lowercase();
    let target = dir.join(name);
    if target.is_file() && file_sha256(&target)? == expected {
        return Ok(target);
    }
    let client = http::Client::new(http::Settings {
        connect_timeout: options.connect_timeout,
        read_timeout: options.read_timeout,
        ca_cert: options.ca_cert.clone(),
        progress: options.progress,
    })?;
    fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let part = dir.join(format!("{name}.part"));
    let mut failures: Vec<DataError> = Vec::new();
    for (i, mirror) in options.mirrors.iter().enumerate() {
        let url = if mirror.ends_with('/') {
            format!("{mirror}{name}")
        } else {
            format!("{mirror}/{name}")
        };
        match fetch_checked(&client, &url, &part, &expected) {
            Ok(()) => {
                fs::rename(&part, &target).map_err(|e| DataError::io(&target, e))?;
                return Ok(target);
            }
            Err(e) => {
                // Best effort: the error being reported matters more than a failed
                // cleanup of a file that may not exist.
                let _ = fs::remove_file(&part);
                // A local file problem (disk full, no permission) is the same for
                // every mirror: stop at once.
                if matches!(e, DataError::Io { .. }) {
                    return Err(e);
                }
                if options.progress && i + 1 < options.mirrors.len() {
                    log::info!("{e}; trying the next mirror");
                }
                failures.push(e);
            }
        }
    }
    Err(all_failed(failures))
}

/// One error for a file no mirror could give: the only one as is, or the first with
/// the others appended, so the message names every address tried.
fn all_failed(mut failures: Vec<DataError>) -> DataError {
    if failures.len() == 1 {
        return failures.remove(0);
    }
    let rest: Vec<String> = failures[1..].iter().map(|e| e.to_string()).collect();
    let (url, first) = match &failures[0] {
        DataError::Download { url, problem } => (url.clone(), problem.clone()),
        DataError::Checksum {
            url,
            expected,
            actual,
        } => (
            url.clone(),
            format!("SHA-256 {actual} does not match the expected {expected}; file not kept"),
        ),
        other => (String::new(), other.to_string()),
    };
    DataError::Download {
        url,
        problem: format!(
            "{first}; every other mirror failed too: {}",
            rest.join("; ")
        ),
    }
}

fn fetch_checked(
    client: &http::Client,
    url: &str,
    part: &Path,
    expected: &str,
) -> Result<(), DataError> {
    let file = fs::File::create(part).map_err(|e| DataError::io(part, e))?;
    let mut w = Hashing {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
    };
    client.get(url, &mut w)?;
    let actual = hex(&w.hasher.finalize_reset());
    if actual != expected {
        return Err(DataError::Checksum {
            url: url.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    let file = w
        .inner
        .into_inner()
        .map_err(|e| DataError::io(part, e.into_error()))?;
    // On disk before the rename, so a crash right after cannot leave a renamed file
    // whose bytes never reached the disk.
    file.sync_all().map_err(|e| DataError::io(part, e))?;
    Ok(())
}
