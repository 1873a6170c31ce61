//! MNIST: the real files from shared/data, damaged copies, and the checked download
//! from a local HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use lrsched_train::data::mnist::{self, IMAGES_MAGIC, LABELS_MAGIC};
use lrsched_train::data::{DataError, Source, Task};
use md5::{Digest, Md5};

/// The project's shared data folder (`../shared/data` from the repository root), or
/// `None` with a note when this machine does not have it.
fn shared_mnist() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    if p.join("train-images-idx3-ubyte.gz").is_file() {
        Some(p)
    } else {
        eprintln!("skipped: no MNIST files at {}", p.display());
        None
    }
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

/// Serves `root`'s files on 127.0.0.1 for `connections` requests, then stops.
/// Paths: `/good/NAME` the file as is, `/bad/NAME` the file with one byte flipped when
/// NAME is the test labels, `/chunked/NAME` the file in chunked encoding, `/moved/NAME`
/// a redirect to `/good/NAME`; anything else is 404.
fn serve(root: PathBuf, connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split(' ').nth(1).unwrap_or("").to_string();
            let (kind, name) = path
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or(("", ""));
            let body = std::fs::read(root.join(name)).ok();
            let _ = match (kind, body) {
                ("good", Some(b)) => write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                )
                .and_then(|_| stream.write_all(&b)),
                ("bad", Some(mut b)) => {
                    if name == "t10k-labels-idx1-ubyte.gz" {
                        let mid = b.len() / 2;
                        b[mid] ^= 0xff;
                    }
                    write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                        b.len()
                    )
                    .and_then(|_| stream.write_all(&b))
                }
                ("chunked", Some(b)) => {
                    let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                    for c in b.chunks(70_000) {
                        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                        out.extend_from_slice(c);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                    stream.write_all(&out)
                }
                ("moved", Some(_)) => write!(
                    stream,
                    "HTTP/1.1 301 Moved\r\nLocation: /good/{name}\r\nContent-Length: 0\r\n\r\n"
                ),
                _ => write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                ),
            };
        }
    });
    format!("http://{addr}")
}

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest as _;
    let bytes = std::fs::read(p).unwrap();
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn download_checks_sha256_against_a_local_server() {
    let Some(dir) = shared_mnist() else { return };
    // 4 good + 4 chunked + 4 redirected (2 connections each) + 4 bad + 1 missing.
    let base = serve(dir.clone(), 30);

    let cache = tempfile::tempdir().unwrap();
    let got = mnist::download(cache.path(), &format!("{base}/good/")).unwrap();
    assert_eq!(got, cache.path());
    for (name, sha) in mnist::FILES {
        assert_eq!(sha256_hex(&cache.path().join(name)), sha, "{name}");
        assert_eq!(
            sha256_hex(&dir.join(name)),
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
            sha256_hex(&cache.path().join(name)),
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
    assert!(
        std::fs::read_dir(cache.path()).unwrap().next().is_none(),
        "nothing kept"
    );

    let e = mnist::download(cache.path(), "https://example.org/mnist/").unwrap_err();
    assert!(e.to_string().contains("https is not supported"), "{e}");
}
