//! The HTTP(S) GET client behind `--download`: [`ureq`] with rustls on the `ring`
//! crypto provider (pure Rust plus a little C and assembly that `cc` builds; no system
//! OpenSSL), Mozilla's root certificates built in.
//!
//! What this layer adds to `ureq`: a connect and a per-read timeout whose errors say
//! "timed out" (a stalled server otherwise surfaces as "os error 11"), errors that name
//! the address and what went wrong in words, a cap on the body size, an optional PEM
//! file of root certificates to trust instead of the built-in ones, and an optional
//! progress bar.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
use ureq::Timeout;

use super::DataError;

/// Largest body accepted: MNIST's largest file is under 10 MB, so anything far bigger is
/// a wrong address, not a slow mirror, and must not fill the disk.
pub(crate) const MAX_BODY: u64 = 256 << 20;
const MAX_REDIRECTS: u32 = 5;

/// How the client connects: timeouts and trusted roots.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub ca_cert: Option<PathBuf>,
    pub progress: bool,
}

/// One configured client; cheap to reuse for several files (it keeps connections).
pub(crate) struct Client {
    agent: ureq::Agent,
    settings: Settings,
}

fn fail(url: &str, problem: impl Into<String>) -> DataError {
    DataError::Download {
        url: url.to_string(),
        problem: problem.into(),
    }
}

/// Reads every certificate in a PEM file; an error names the file.
fn load_roots(path: &Path) -> Result<RootCerts, DataError> {
    let bad = |problem: String| DataError::File {
        path: path.to_path_buf(),
        problem,
    };
    let pem = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let mut certs = Vec::new();
    for item in parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {} // a key or other block in a bundle is not a root; skip it
            Err(e) => return Err(bad(format!("not a PEM certificate file: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(bad(
            "no certificate in it (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")".into(),
        ));
    }
    Ok(RootCerts::from(certs))
}

impl Client {
    pub(crate) fn new(settings: Settings) -> Result<Client, DataError> {
        for (what, d) in [
            ("connect timeout", settings.connect_timeout),
            ("read timeout", settings.read_timeout),
        ] {
            if d.is_zero() {
                return Err(DataError::invalid(
                    what,
                    "0 s is not allowed; give a positive duration",
                ));
            }
        }
        let tls = match &settings.ca_cert {
            Some(p) => TlsConfig::builder().root_certs(load_roots(p)?).build(),
            None => TlsConfig::default(),
        };
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            // Statuses are reported by `get` with the address, in our own words.
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .user_agent(concat!("lrsched-train/", env!("CARGO_PKG_VERSION")))
            // identity: the files are already gzip; a transfer encoding on top would
            // only need undoing (and must not be undone into the wrong SHA-256).
            .accept_encoding("identity")
            .timeout_resolve(Some(settings.connect_timeout))
            .timeout_connect(Some(settings.connect_timeout))
            // Per read, not per body: a slow link that keeps delivering is fine, a
            // server that goes silent for this long is not.
            .timeout_per_read(Some(settings.read_timeout))
            .timeout_per_write(Some(settings.read_timeout))
            .build();
        Ok(Client {
            agent: config.into(),
            settings,
        })
    }

    fn timeout_problem(&self, which: Timeout) -> String {
        match which {
            Timeout::Resolve => format!(
                "timed out looking up the host (no answer within {:?})",
                self.settings.connect_timeout
            ),
            Timeout::Connect => format!(
                "timed out connecting (no connection within {:?})",
                self.settings.connect_timeout
            ),
            Timeout::PerWrite | Timeout::SendRequest | Timeout::SendBody => format!(
                "timed out sending the request (stalled for {:?})",
                self.settings.read_timeout
            ),
            _ => format!(
                "timed out waiting for data (nothing received for {:?})",
                self.settings.read_timeout
            ),
        }
    }

    fn problem(&self, e: &ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(which) => self.timeout_problem(*which),
            ureq::Error::Io(io) => self.io_problem(io),
            ureq::Error::HostNotFound => "host not found (DNS lookup gave no address)".into(),
            ureq::Error::ConnectionFailed => "cannot connect".into(),
            ureq::Error::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
            ureq::Error::BodyExceedsLimit(n) => {
                format!("body larger than the {n} bytes accepted")
            }
            ureq::Error::BadUri(u) => format!("not a valid address: {u}"),
            ureq::Error::Rustls(t) => format!(
                "TLS: {t} (to trust another root certificate, set {} to its PEM file)",
                super::mnist::CA_CERT_ENV
            ),
            other => other.to_string(),
        }
    }

    fn io_problem(&self, e: &std::io::Error) -> String {
        use std::io::ErrorKind as K;
        // A body read wraps ureq's own error in an io::Error.
        if let Some(inner) = e.get_ref().and_then(|x| x.downcast_ref::<ureq::Error>()) {
            return self.problem(inner);
        }
        match e.kind() {
            // WouldBlock is what a socket read timeout gives on Unix ("os error 11").
            K::TimedOut | K::WouldBlock => self.timeout_problem(Timeout::PerRead),
            K::ConnectionRefused => "cannot connect: connection refused".into(),
            K::UnexpectedEof => "connection closed before the whole body arrived".into(),
            // rustls reports a rejected certificate as InvalidData carrying its error.
            _ if e.to_string().contains("certificate") => format!(
                "TLS: {e} (to trust another root certificate, set {} to its PEM file)",
                super::mnist::CA_CERT_ENV
            ),
            _ => format!("connection: {e}"),
        }
    }

    /// Fetches `url` (http or https), writing the body to `out`; returns the byte count.
    /// A progress bar is drawn on stderr while it runs, when enabled and stderr is a
    /// terminal.
    pub(crate) fn get(&self, url: &str, out: &mut dyn Write) -> Result<u64, DataError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(fail(url, "not an http:// or https:// address"));
        }
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| fail(url, self.problem(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(
                url,
                format!(
                    "HTTP {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )
                .trim_end()
                .to_string(),
            ));
        }
        let length = response.body().content_length();
        if let Some(len) = length.filter(|&l| l > MAX_BODY) {
            return Err(fail(
                url,
                format!("{len} bytes is more than the {MAX_BODY} accepted"),
            ));
        }
        let bar = self.progress_bar(url, length);
        let mut reader = response
            .into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .reader();
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        let result = loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(fail(url, self.io_problem(&e))),
            };
            if let Err(e) = out.write_all(&buf[..n]) {
                break Err(fail(url, format!("writing the file: {e}")));
            }
            total += n as u64;
            if let Some(b) = &bar {
                b.set_position(total);
            }
        };
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let n = result?;
        if let Some(len) = length.filter(|&l| l != n) {
            return Err(fail(
                url,
                format!("connection closed at byte {n} of a {len}-byte body"),
            ));
        }
        Ok(n)
    }

    /// A bar only for a person watching: in a log (stderr redirected) it would be
    /// hundreds of carriage-return updates, so it is not drawn there at all.
    fn progress_bar(&self, url: &str, length: Option<u64>) -> Option<indicatif::ProgressBar> {
        if !self.settings.progress || !std::io::stderr().is_terminal() {
            return None;
        }
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        let bar = match length {
            Some(len) => indicatif::ProgressBar::new(len).with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .ok()?
                .progress_chars("=> "),
            ),
            None => indicatif::ProgressBar::new_spinner().with_style(
                indicatif::ProgressStyle::with_template("{msg} {spinner} {bytes} {bytes_per_sec}")
                    .ok()?,
            ),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_message(name);
        Some(bar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(read: Duration) -> Client {
        Client::new(Settings {
            connect_timeout: Duration::from_secs(5),
            read_timeout: read,
            ca_cert: None,
            progress: false,
        })
        .unwrap()
    }

    #[test]
    fn bad_addresses_and_settings_are_refused_with_their_value() {
        let c = client(Duration::from_secs(5));
        let e = c.get("ftp://x/", &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("ftp://x/") && e.contains("https://"), "{e}");
        let e = Client::new(Settings {
            connect_timeout: Duration::ZERO,
            read_timeout: Duration::from_secs(1),
            ca_cert: None,
            progress: false,
        })
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("connect timeout") && e.contains("positive"),
            "{e}"
        );
    }

    #[test]
    fn a_would_block_read_reads_as_timed_out() {
        let c = client(Duration::from_millis(1500));
        let e = std::io::Error::from_raw_os_error(11);
        let p = c.io_problem(&e);
        assert!(p.contains("timed out") && p.contains("1.5s"), "{p}");
        assert!(!p.contains("os error"), "{p}");
    }

    #[test]
    fn ca_cert_file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("lrsched-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("empty.pem");
        std::fs::write(&p, "hello\n").unwrap();
        let e = load_roots(&p).unwrap_err().to_string();
        assert!(
            e.contains("empty.pem") && e.contains("no certificate"),
            "{e}"
        );
        let missing = dir.join("missing.pem");
        let e = load_roots(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
