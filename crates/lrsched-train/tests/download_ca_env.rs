//! `LRSCHED_CA_CERT`: the documented way to trust another root certificate, read by
//! `DownloadOptions::default()`. A test binary of its own, with a single test, because it
//! sets a process-wide environment variable that other tests' defaults would read.

mod support {
    pub mod server;
}
use support::server;

use lrsched_train::data::mnist::{self, DownloadOptions, CA_CERT_ENV};

#[test]
fn the_ca_cert_variable_adds_the_trusted_root() {
    let root = tempfile::tempdir().unwrap();
    let bytes = b"a small file served over https".repeat(100);
    std::fs::write(root.path().join("f.bin"), &bytes).unwrap();
    let sha = server::sha256_hex(&bytes);
    let srv = server::start(root.path().to_path_buf(), true);
    let mirrors = vec![format!("{}/good/", srv.base)];

    std::env::remove_var(CA_CERT_ENV);
    let o = DownloadOptions {
        mirrors: mirrors.clone(),
        progress: false,
        ..DownloadOptions::default()
    };
    assert_eq!(o.ca_cert, None);
    let cache = tempfile::tempdir().unwrap();
    let e = mnist::download_file(cache.path(), "f.bin", &sha, &o).unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");

    let pem = srv.cert_pem.clone().unwrap();
    std::env::set_var(CA_CERT_ENV, &pem);
    let o = DownloadOptions {
        mirrors,
        progress: false,
        ..DownloadOptions::default()
    };
    assert_eq!(o.ca_cert.as_deref(), Some(pem.as_path()));
    let p = mnist::download_file(cache.path(), "f.bin", &sha, &o).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), bytes);

    // Set but empty means unset.
    std::env::set_var(CA_CERT_ENV, "");
    assert_eq!(DownloadOptions::default().ca_cert, None);
}
