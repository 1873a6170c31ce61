//! A local file server on 127.0.0.1 for the download tests, plain http or https with a
//! self-signed certificate made on the spot (rcgen) and served by rustls. Nothing here
//! reaches beyond the loopback interface.
//!
//! Paths are `/KIND/NAME`, NAME a file in the served folder:
//! - `good`: the file as is;
//! - `bad`: the file with one byte flipped when NAME is the MNIST test labels or ends in
//!   `.flip`, otherwise as is;
//! - `chunked`: the file in chunked transfer encoding;
//! - `moved`: a 301 redirect to `/good/NAME`;
//! - `cut`: the headers promise the whole file, half arrives, the connection closes;
//! - `stall`: the headers and half the file, then silence for 30 s;
//! - `silent`: the request is read, then silence for 30 s (no response at all);
//! - anything else: 404.

#![allow(dead_code)] // each test file uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A running server: its base address (no trailing `/`) and, for https, the PEM file of
/// its certificate, to give the client as its root.
pub struct Server {
    pub base: String,
    pub cert_pem: Option<PathBuf>,
    // Keeps the folder with the PEM file alive as long as the server.
    _dir: tempfile::TempDir,
}

/// Whether `/bad/NAME` corrupts NAME: the MNIST test labels, and any `*.flip` file.
fn flip(name: &str) -> bool {
    name == "t10k-labels-idx1-ubyte.gz" || name.ends_with(".flip")
}

/// Starts a server for the files of `root`, https when `tls`. It runs until the test
/// process ends; each connection has its own thread, so a stalled one blocks no other.
pub fn start(root: PathBuf, tls: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (config, cert_pem) = if tls {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let pem_path = dir.path().join("server.pem");
        std::fs::write(&pem_path, ck.cert.pem()).unwrap();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key.into())
        .unwrap();
        (Some(Arc::new(config)), Some(pem_path))
    } else {
        (None, None)
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let root = root.clone();
            let config = config.clone();
            std::thread::spawn(move || match config {
                Some(c) => {
                    let Ok(conn) = rustls::ServerConnection::new(c) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let _ = handle(&root, &mut tls);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
                None => {
                    let mut tcp: TcpStream = tcp;
                    let _ = handle(&root, &mut tcp);
                }
            });
        }
    });
    let scheme = if tls { "https" } else { "http" };
    Server {
        base: format!("{scheme}://{addr}"),
        cert_pem,
        _dir: dir,
    }
}

fn handle<S: Read + Write>(root: &Path, stream: &mut S) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    drop(reader);
    let path = request.split(' ').nth(1).unwrap_or("").to_string();
    let (kind, name) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", ""));
    let body = if name.is_empty() || name.contains("..") {
        None
    } else {
        std::fs::read(root.join(name)).ok()
    };
    // Connection: close on every answer: one request per connection keeps this simple.
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    match (kind, body) {
        ("good", Some(b)) => {
            stream.write_all(head(b.len()).as_bytes())?;
            stream.write_all(&b)?;
        }
        ("bad", Some(mut b)) => {
            if flip(name) {
                let mid = b.len() / 2;
                b[mid] ^= 0xff;
            }
            stream.write_all(head(b.len()).as_bytes())?;
            stream.write_all(&b)?;
        }
        ("chunked", Some(b)) => {
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .to_vec();
            for c in b.chunks(70_000) {
                out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            stream.write_all(&out)?;
        }
        ("moved", Some(_)) => write!(
            stream,
            "HTTP/1.1 301 Moved\r\nLocation: /good/{name}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
        ("cut", Some(b)) => {
            stream.write_all(head(b.len()).as_bytes())?;
            stream.write_all(&b[..b.len() / 2])?;
        }
        ("stall", Some(b)) => {
            stream.write_all(head(b.len()).as_bytes())?;
            stream.write_all(&b[..b.len() / 2])?;
            stream.flush()?;
            std::thread::sleep(Duration::from_secs(30));
        }
        ("silent", _) => {
            stream.flush()?;
            std::thread::sleep(Duration::from_secs(30));
        }
        _ => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    stream.flush()
}

/// A port on 127.0.0.1 where nothing listens (bound, then closed): connection refused.
pub fn refused_base() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("https://127.0.0.1:{port}")
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
