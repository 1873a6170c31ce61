//! MNIST: the real files from shared/data, damaged copies, and the checked download
//! from local http and https servers on 127.0.0.1 (nothing here reaches the internet).

mod support {
    pub mod server;
}
use support::server;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lrsched_train::data::mnist::{self, DownloadOptions, IMAGES_MAGIC, LABELS_MAGIC};
use lrsched_train::data::{DataError, Source, Task};
use md5::{Digest, Md5};

/// The project's shared data folder (`shared/data/mnist` next to the repository, or next
/// to any folder above it, so a worktree nested deeper finds it too), or `None` with a
/// note when this machine does not have it.
fn shared_mnist() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = manifest
        .ancestors()
        .skip(2)
        .map(|a| a.join("shared/data/mnist"))
        .find(|p| p.join("train-images-idx3-ubyte.gz").is_file());
    if found.is_none() {
        eprintln!("skipped: no shared/data/mnist above {}", manifest.display());
    }
    found
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn real_mnist_loads_byte_exact() {
    let Some(dir) = shared_mnist() else { return };
    let s = Source::Mnist { dir }.load().unwrap();
    assert_eq!((s.train.len(), s.val.len()), (60_000, 10_000));
    assert_eq!((s.train.dim(), s.val.dim()), (784, 784));
    assert_eq!(s.train.task(), &Task::Classification { classes: 10 });
    // First labels of the published files: 5 in training, 7 in test.
    assert_eq!(s.train.labels().unwrap()[0], 5);
    assert_eq!(s.val.labels().unwrap()[0], 7);
    assert!(s.train.features().iter().all(|&p| (0.0..=1.0).contains(&p)));
    // Rebuild the uncompressed files from what was loaded and check the published md5s:
    // this proves every pixel and label came through unchanged.
    let pixels: Vec<u8> = s
        .train
        .features()
        .iter()
        .map(|&p| (p * 255.0).round() as u8)
        .collect();
    let header = idx(IMAGES_MAGIC, &[60_000, 28, 28], &[]);
    assert_eq!(
        md5_hex(&[&header, &pixels]),
        "6bbc9ace898e44ae57da46a324031adb"
    );
    let labels: Vec<u8> = s.val.labels().unwrap().iter().map(|&l| l as u8).collect();
    let header = idx(LABELS_MAGIC, &[10_000], &[]);
    assert_eq!(
        md5_hex(&[&header, &labels]),
        "27ae3e4e09519cfbb04c329615203637"
    );
    let counts = s.val.class_counts().unwrap();
    assert_eq!(counts.iter().sum::<usize>(), 10_000);
}

#[test]
fn truncated_file_names_byte_offset() {
    let Some(dir) = shared_mnist() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let raw = gunzip(&dir.join("t10k-labels-idx1-ubyte.gz"));
    assert_eq!(raw.len(), 10_008);
    let p = tmp.path().join("t10k-labels-idx1-ubyte");
    std::fs::write(&p, &raw[..5000]).unwrap();
    let e = mnist::read_idx(&p, LABELS_MAGIC).unwrap_err();
    match &e {
        DataError::Byte {
            path,
            offset,
            problem,
        } => {
            assert_eq!((path.as_path(), *offset), (p.as_path(), 5000));
            assert!(problem.contains("5008 bytes short"), "{problem}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("byte 5000"), "{e}");

    // A gzip stream cut short: the offset counts the bytes it decompressed.
    let gz = std::fs::read(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let p = tmp.path().join("cut.gz");
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let e = mnist::read_idx(&p, LABELS_MAGIC).unwrap_err();
    assert!(matches!(e, DataError::Byte { .. }), "{e}");
    assert!(e.to_string().contains("gzip data ends early"), "{e}");

    // Bytes after the declared data are an error too.
    let p = tmp.path().join("long");
    let mut long = raw.clone();
    long.push(0);
    std::fs::write(&p, &long).unwrap();
    let e = mnist::read_idx(&p, LABELS_MAGIC).unwrap_err();
    assert!(matches!(e, DataError::Byte { offset: 10_008, .. }), "{e}");
}

#[test]
fn wrong_magic_is_reported_at_byte_0() {
    let Some(dir) = shared_mnist() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = gunzip(&dir.join("t10k-labels-idx1-ubyte.gz"));
    raw[3] = 0x03;
    let p = tmp.path().join("t10k-labels-idx1-ubyte");
    std::fs::write(&p, &raw).unwrap();
    let e = mnist::read_idx(&p, LABELS_MAGIC).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Byte { offset: 0, .. }), "{msg}");
    assert!(
        msg.contains("wrong magic number 0x00000803, expected 0x00000801"),
        "{msg}"
    );
}

#[test]
fn small_uncompressed_folder_and_mismatches() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // 3 training images of 2x2, 2 test images, uncompressed, one in the dotted spelling.
    let px: Vec<u8> = (0..12).map(|i| i * 20).collect();
    std::fs::write(
        d.join("train-images-idx3-ubyte"),
        idx(IMAGES_MAGIC, &[3, 2, 2], &px),
    )
    .unwrap();
    std::fs::write(
        d.join("train-labels.idx1-ubyte"),
        idx(LABELS_MAGIC, &[3], &[1, 9, 0]),
    )
    .unwrap();
    std::fs::write(
        d.join("t10k-images-idx3-ubyte"),
        idx(IMAGES_MAGIC, &[2, 2, 2], &px[..8]),
    )
    .unwrap();
    std::fs::write(
        d.join("t10k-labels-idx1-ubyte"),
        idx(LABELS_MAGIC, &[2], &[4, 4]),
    )
    .unwrap();
    let s = mnist::load(d).unwrap();
    assert_eq!((s.train.len(), s.val.len(), s.train.dim()), (3, 2, 4));
    assert_eq!(
        s.train.row(1),
        &[80.0 / 255.0, 100.0 / 255.0, 120.0 / 255.0, 140.0 / 255.0]
    );
    assert_eq!(s.train.labels().unwrap(), &[1, 9, 0]);

    // Label count differs from image count.
    std::fs::write(
        d.join("t10k-labels-idx1-ubyte"),
        idx(LABELS_MAGIC, &[3], &[4, 4, 4]),
    )
    .unwrap();
    let e = mnist::load(d).unwrap_err().to_string();
    assert!(
        e.contains("3 labels, but") && e.contains("has 2 images"),
        "{e}"
    );

    // A label that is not a digit, at its byte offset.
    std::fs::write(
        d.join("t10k-labels-idx1-ubyte"),
        idx(LABELS_MAGIC, &[2], &[4, 10]),
    )
    .unwrap();
    let e = mnist::load(d).unwrap_err();
    assert!(matches!(e, DataError::Byte { offset: 9, .. }), "{e}");

    // Test images of another size than the training images.
    std::fs::write(
        d.join("t10k-labels-idx1-ubyte"),
        idx(LABELS_MAGIC, &[1], &[4]),
    )
    .unwrap();
    std::fs::write(
        d.join("t10k-images-idx3-ubyte"),
        idx(IMAGES_MAGIC, &[1, 3, 3], &px[..9]),
    )
    .unwrap();
    let e = mnist::load(d).unwrap_err().to_string();
    assert!(e.contains("9 pixels"), "{e}");

    // A missing file says what was looked for.
    std::fs::remove_file(d.join("t10k-images-idx3-ubyte")).unwrap();
    let e = mnist::load(d).unwrap_err().to_string();
    assert!(
        e.contains("not found") && e.contains("t10k-images-idx3-ubyte.gz"),
        "{e}"
    );

    // A header cut short, and an empty file.
    let p = d.join("short");
    std::fs::write(&p, &idx(IMAGES_MAGIC, &[3, 2], &[])[..10]).unwrap();
    let e = mnist::read_idx(&p, IMAGES_MAGIC).unwrap_err();
    assert!(matches!(e, DataError::Byte { offset: 10, .. }), "{e}");
    std::fs::write(&p, b"").unwrap();
    let e = mnist::read_idx(&p, IMAGES_MAGIC).unwrap_err();
    assert!(matches!(e, DataError::Byte { offset: 0, .. }), "{e}");
}

fn sha256_file(p: &Path) -> String {
    server::sha256_hex(&std::fs::read(p).unwrap())
}

/// Options for a test: these mirrors, short timeouts, `ca` as the only trusted root (no
/// environment involved), no progress output.
fn opts(mirrors: &[String], ca: Option<&Path>) -> DownloadOptions {
    DownloadOptions {
        mirrors: mirrors.to_vec(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ca_cert: ca.map(Path::to_path_buf),
        progress: false,
    }
}

/// `download_file` of `name` into `dir` from the one mirror `mirror`, trusting `ca`.
fn fetch(
    dir: &Path,
    name: &str,
    sha: &str,
    mirror: String,
    ca: Option<&Path>,
) -> Result<PathBuf, DataError> {
    mnist::download_file(dir, name, sha, &opts(&[mirror], ca))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A folder with `blob.bin` (300 kB, not all one byte) and the same bytes as
/// `blob.flip`, which the server's `/bad/` corrupts; and the bytes' SHA-256.
fn blob_root() -> (tempfile::TempDir, Vec<u8>, String) {
    let root = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(root.path().join("blob.bin"), &bytes).unwrap();
    std::fs::write(root.path().join("blob.flip"), &bytes).unwrap();
    let sha = server::sha256_hex(&bytes);
    (root, bytes, sha)
}

#[test]
fn download_checks_sha256_against_a_local_http_server() {
    let Some(dir) = shared_mnist() else { return };
    let base = server::start(dir.clone(), false).base;

    let cache = tempfile::tempdir().unwrap();
    let got = mnist::download(cache.path(), &format!("{base}/good/")).unwrap();
    assert_eq!(got, cache.path());
    for (name, sha) in mnist::FILES {
        assert_eq!(sha256_file(&cache.path().join(name)), sha, "{name}");
        assert_eq!(
            sha256_file(&dir.join(name)),
            sha,
            "the embedded digest of {name}"
        );
    }
    // Already cached with the right digests: nothing is fetched (the address is dead).
    mnist::download(cache.path(), "http://127.0.0.1:9/nothing").unwrap();

    for kind in ["chunked", "moved"] {
        let cache = tempfile::tempdir().unwrap();
        mnist::download(cache.path(), &format!("{base}/{kind}")).unwrap();
        let name = mnist::FILES[3].0;
        assert_eq!(
            sha256_file(&cache.path().join(name)),
            mnist::FILES[3].1,
            "{kind}"
        );
    }

    let cache = tempfile::tempdir().unwrap();
    let e = mnist::download(cache.path(), &format!("{base}/bad")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains("t10k-labels-idx1-ubyte.gz") && msg.contains("not kept"),
        "{msg}"
    );
    assert!(!cache.path().join("t10k-labels-idx1-ubyte.gz").exists());
    assert!(!cache.path().join("t10k-labels-idx1-ubyte.gz.part").exists());
    // The files before it were good and are kept.
    assert!(cache.path().join("t10k-images-idx3-ubyte.gz").exists());

    let cache = tempfile::tempdir().unwrap();
    let e = mnist::download(cache.path(), &format!("{base}/nowhere/")).unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    assert!(files_in(cache.path()).is_empty(), "nothing kept");

    let e = mnist::download(cache.path(), "ftp://example.org/mnist/").unwrap_err();
    assert!(
        e.to_string().contains("not an http:// or https:// address"),
        "{e}"
    );
}

#[test]
fn https_mnist_download_falls_back_to_the_second_mirror() {
    let Some(dir) = shared_mnist() else { return };
    let srv = server::start(dir, true);
    let cache = tempfile::tempdir().unwrap();
    let mirrors = [
        format!("{}/nowhere/", srv.base),
        format!("{}/good/", srv.base),
    ];
    let o = opts(&mirrors, srv.cert_pem.as_deref());
    mnist::download_with(cache.path(), &o).unwrap();
    for (name, sha) in mnist::FILES {
        assert_eq!(sha256_file(&cache.path().join(name)), sha, "{name}");
    }
    let s = mnist::load(cache.path()).unwrap();
    assert_eq!((s.train.len(), s.val.len()), (60_000, 10_000));
}

#[test]
fn https_download_keeps_only_the_right_bytes() {
    let (root, bytes, sha) = blob_root();
    let srv = server::start(root.path().to_path_buf(), true);
    let ca = srv.cert_pem.as_deref();

    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("sub");
    let p = fetch(&dest, "blob.bin", &sha, format!("{}/good", srv.base), ca).unwrap();
    assert_eq!(p, dest.join("blob.bin"));
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
    assert_eq!(files_in(&dest), ["blob.bin"], "no .part left");
    // An upper-case digest is the same digest.
    let again = opts(&["https://127.0.0.1:9/dead".to_string()], ca);
    mnist::download_file(&dest, "blob.bin", &sha.to_uppercase(), &again).unwrap();

    // Chunked and redirected bodies arrive whole over TLS too.
    for kind in ["chunked", "moved"] {
        let d = cache.path().join(kind);
        fetch(&d, "blob.bin", &sha, format!("{}/{kind}", srv.base), ca).unwrap();
        assert_eq!(std::fs::read(d.join("blob.bin")).unwrap(), bytes, "{kind}");
    }

    // One flipped byte: refused, named, nothing kept under either name.
    let d = cache.path().join("bad");
    let url = format!("{}/bad/blob.flip", srv.base);
    let e = fetch(&d, "blob.flip", &sha, format!("{}/bad/", srv.base), ca).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains(&url) && msg.contains(&sha) && msg.contains("not kept"),
        "{msg}"
    );
    assert!(files_in(&d).is_empty(), "{:?}", files_in(&d));

    // The body cut off halfway: an error, nothing kept.
    let d = cache.path().join("cut");
    let e = fetch(&d, "blob.bin", &sha, format!("{}/cut", srv.base), ca)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/cut/blob.bin") && e.contains("connection closed"),
        "{e}"
    );
    assert!(files_in(&d).is_empty(), "{:?}", files_in(&d));
}

#[test]
fn https_refuses_a_certificate_it_was_not_told_to_trust() {
    let (root, _, sha) = blob_root();
    let srv = server::start(root.path().to_path_buf(), true);
    let cache = tempfile::tempdir().unwrap();
    // The built-in Mozilla roots only: the self-signed certificate is not among them.
    let good = format!("{}/good", srv.base);
    let e = fetch(cache.path(), "blob.bin", &sha, good, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&srv.base) && e.contains("certificate"), "{e}");
    assert!(
        e.contains("LRSCHED_CA_CERT"),
        "the error says how to trust it: {e}"
    );
    assert!(files_in(cache.path()).is_empty());

    // A CA file that is not one: the error names it.
    let not_pem = cache.path().join("notes.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let e = mnist::download_file(
        cache.path(),
        "blob.bin",
        &sha,
        &opts(std::slice::from_ref(&srv.base), Some(&not_pem)),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("notes.txt") && e.contains("no certificate"),
        "{e}"
    );
}

#[test]
fn a_failing_first_mirror_is_followed_by_the_next() {
    let (root, bytes, sha) = blob_root();
    let srv = server::start(root.path().to_path_buf(), true);
    let ca = srv.cert_pem.as_deref();
    let good = format!("{}/good/", srv.base);
    let refused = server::refused_base();
    for first in [
        refused.clone(),
        format!("{}/nowhere/", srv.base),
        format!("{}/bad/", srv.base),
    ] {
        let cache = tempfile::tempdir().unwrap();
        // blob.flip: /bad/ corrupts it, /good/ does not.
        let p = mnist::download_file(
            cache.path(),
            "blob.flip",
            &sha,
            &opts(&[first.clone(), good.clone()], ca),
        )
        .unwrap();
        assert_eq!(std::fs::read(p).unwrap(), bytes, "after {first}");
        assert_eq!(files_in(cache.path()), ["blob.flip"]);
    }

    // Every mirror fails: one error naming each address and what went wrong there.
    let cache = tempfile::tempdir().unwrap();
    let mirrors = [refused.clone(), format!("{}/nowhere", srv.base)];
    let e = mnist::download_file(cache.path(), "blob.bin", &sha, &opts(&mirrors, ca))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{refused}/blob.bin")) && e.contains("connection refused"),
        "{e}"
    );
    assert!(
        e.contains(&format!("{}/nowhere/blob.bin", srv.base)) && e.contains("HTTP 404 Not Found"),
        "{e}"
    );
    assert!(files_in(cache.path()).is_empty());

    let e = mnist::download_file(cache.path(), "blob.bin", &sha, &opts(&[], ca))
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn a_stalled_server_times_out_and_leaves_no_file() {
    let (root, bytes, sha) = blob_root();
    let srv = server::start(root.path().to_path_buf(), true);
    let ca = srv.cert_pem.clone();
    let timeout = Duration::from_millis(800);
    for kind in ["stall", "silent"] {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().to_path_buf();
        let mut o = opts(&[format!("{}/{kind}", srv.base)], ca.as_deref());
        o.read_timeout = timeout;
        let expected = sha.clone();
        let start = Instant::now();
        let worker =
            std::thread::spawn(move || mnist::download_file(&dir, "blob.bin", &expected, &o));
        // While it hangs, the bytes go to the .part file only: a kill now would leave
        // nothing under the final name.
        if kind == "stall" {
            while !cache.path().join("blob.bin.part").exists() && !worker.is_finished() {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!cache.path().join("blob.bin").exists());
        }
        let e = worker.join().unwrap().unwrap_err().to_string();
        let took = start.elapsed();
        assert!(
            e.contains("timed out") && !e.contains("os error"),
            "{kind}: {e}"
        );
        assert!(
            e.contains(&format!("/{kind}/blob.bin")) && e.contains("800ms"),
            "{kind}: {e}"
        );
        assert!(took >= timeout && took < timeout * 6, "{kind}: {took:?}");
        assert!(
            files_in(cache.path()).is_empty(),
            "{kind}: {:?}",
            files_in(cache.path())
        );
    }
    // A stalled mirror, then a good one: the file comes from the second.
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(
        &[format!("{}/stall", srv.base), format!("{}/good", srv.base)],
        ca.as_deref(),
    );
    o.read_timeout = timeout;
    let p = mnist::download_file(cache.path(), "blob.bin", &sha, &o).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), bytes);
}

#[test]
fn plain_http_on_loopback_still_works() {
    let (root, bytes, sha) = blob_root();
    let srv = server::start(root.path().to_path_buf(), false);
    assert!(srv.base.starts_with("http://"));
    for kind in ["good", "chunked", "moved"] {
        let cache = tempfile::tempdir().unwrap();
        let mirror = format!("{}/{kind}", srv.base);
        let p = fetch(cache.path(), "blob.bin", &sha, mirror, None).unwrap();
        assert_eq!(std::fs::read(p).unwrap(), bytes, "{kind}");
    }
}

#[test]
fn default_options_name_the_https_mirrors() {
    let o = DownloadOptions::default();
    assert_eq!(
        o.mirrors,
        [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/"
        ]
    );
    assert!(o.mirrors.iter().all(|m| m.starts_with("https://")));
    assert!(o.connect_timeout > Duration::ZERO && o.read_timeout > Duration::ZERO);
}
