//! A minimal HTTP/1.1 GET client on `std::net`, for `--download`.
//!
//! Plain `http://` only: a TLS stack would outweigh the rest of the crate, and the
//! files are checked against known SHA-256 digests anyway, so the transport does not
//! need to be trusted. Follows redirects to other `http://` addresses, and reads
//! `Content-Length`, chunked and until-close bodies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::DataError;

/// Largest body accepted: MNIST's largest file is under 10 MB, so anything far bigger is
/// a wrong address, not a slow mirror, and must not fill the disk.
const MAX_BODY: u64 = 256 << 20;
const MAX_REDIRECTS: usize = 5;
const MAX_HEADER_BYTES: usize = 64 << 10;
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Url {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => {
            return Err(
                "https is not supported (this build has no TLS); use an http:// \
                        mirror, or fetch the files by hand and pass --data-dir"
                    .into(),
            )
        }
        _ => return Err("not an http:// address".into()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // An IPv6 literal is bracketed: [::1]:8080.
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed '[' in the host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
            None => 80,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("bad port {p:?}"))?,
            ),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok(Url {
        host,
        port,
        path: path.to_string(),
    })
}

/// Fetches `url`, writing the body to `out`; returns the byte count.
pub(crate) fn get(url: &str, out: &mut dyn Write) -> Result<u64, DataError> {
    let fail = |u: &str, p: String| DataError::Download {
        url: u.to_string(),
        problem: p,
    };
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let u = parse_url(&current).map_err(|p| fail(&current, p))?;
        match request(&u, out).map_err(|p| fail(&current, p))? {
            Outcome::Done(n) => return Ok(n),
            Outcome::Redirect(location) => {
                // A relative Location is resolved against the current host.
                current = if location.starts_with('/') {
                    format!("http://{}:{}{}", host_for_url(&u.host), u.port, location)
                } else {
                    location
                };
            }
        }
    }
    Err(fail(url, format!("more than {MAX_REDIRECTS} redirects")))
}

fn host_for_url(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

enum Outcome {
    Done(u64),
    Redirect(String),
}

fn request(u: &Url, out: &mut dyn Write) -> Result<Outcome, String> {
    let addrs: Vec<_> = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", u.host))?
        .collect();
    let mut last = format!("no address for {}", u.host);
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let io = |e: std::io::Error| format!("connection: {e}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let host_header = if u.port == 80 {
        host_for_url(&u.host)
    } else {
        format!("{}:{}", host_for_url(&u.host), u.port)
    };
    // identity: the files are already gzip; a transfer encoding on top would only
    // need undoing.
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: lrsched-train\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n",
        u.path
    )
    .map_err(io)?;
    stream.flush().map_err(io)?;

    let mut reader = BufReader::new(stream);
    let mut header_bytes = 0;
    let status_line = read_line(&mut reader, &mut header_bytes)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))?;
    let reason = parts.next().unwrap_or("").to_string();

    let mut length = None;
    let mut chunked = false;
    let mut location = None;
    loop {
        let line = read_line(&mut reader, &mut header_bytes)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("bad Content-Length {value:?}"))?,
                )
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "location" => location = Some(value.to_string()),
            _ => {}
        }
    }
    match code {
        200 => {}
        301 | 302 | 303 | 307 | 308 => {
            return location
                .map(Outcome::Redirect)
                .ok_or_else(|| format!("HTTP {code} without a Location"))
        }
        _ => return Err(format!("HTTP {code} {reason}")),
    }
    let n = if chunked {
        read_chunked(&mut reader, out)?
    } else if let Some(len) = length {
        if len > MAX_BODY {
            return Err(format!("{len} bytes is more than the {MAX_BODY} accepted"));
        }
        let n = copy(&mut reader.by_ref().take(len), out)?;
        if n < len {
            return Err(format!(
                "connection closed at byte {n} of a {len}-byte body"
            ));
        }
        n
    } else {
        copy(&mut reader, out)?
    };
    Ok(Outcome::Done(n))
}

fn read_line(r: &mut impl BufRead, used: &mut usize) -> Result<String, String> {
    let mut buf = Vec::new();
    // The limit keeps a server that never ends its headers from growing memory.
    let limit = (MAX_HEADER_BYTES - *used) as u64 + 1;
    r.take(limit)
        .read_until(b'\n', &mut buf)
        .map_err(|e| format!("reading the response: {e}"))?;
    *used += buf.len();
    if *used > MAX_HEADER_BYTES {
        return Err(format!("headers longer than {MAX_HEADER_BYTES} bytes"));
    }
    if buf.last() != Some(&b'\n') {
        return Err("connection closed inside the headers".into());
    }
    let s = String::from_utf8_lossy(&buf);
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// Copies until end of stream, refusing more than [`MAX_BODY`] bytes.
fn copy(r: &mut impl Read, out: &mut dyn Write) -> Result<u64, String> {
    let n = std::io::copy(&mut r.take(MAX_BODY + 1), out)
        .map_err(|e| format!("reading the body: {e}"))?;
    if n > MAX_BODY {
        return Err(format!("body larger than the {MAX_BODY} bytes accepted"));
    }
    Ok(n)
}

fn read_chunked(r: &mut impl BufRead, out: &mut dyn Write) -> Result<u64, String> {
    let mut total = 0u64;
    let mut used = 0;
    loop {
        // Chunk sizes count against the header limit too, so it cannot loop forever on
        // empty chunk extensions.
        used = used.min(MAX_HEADER_BYTES / 2);
        let line = read_line(r, &mut used)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(size_hex, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        if size == 0 {
            return Ok(total);
        }
        total += size;
        if total > MAX_BODY {
            return Err(format!("body larger than the {MAX_BODY} bytes accepted"));
        }
        let n =
            std::io::copy(&mut r.take(size), out).map_err(|e| format!("reading the body: {e}"))?;
        if n < size {
            return Err(format!(
                "connection closed inside a chunk, at body byte {}",
                total - size + n
            ));
        }
        let end = read_line(r, &mut used)?;
        if !end.is_empty() {
            return Err("chunk not followed by CRLF".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/a/b").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/a/b")
        );
        let u = parse_url("http://example.org").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.org", 80, "/")
        );
        let u = parse_url("http://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert!(parse_url("https://example.org/")
            .unwrap_err()
            .contains("https"));
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
    }

    #[test]
    fn chunked_body() {
        let body = b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n";
        let mut out = Vec::new();
        let n = read_chunked(&mut &body[..], &mut out).unwrap();
        assert_eq!((n, out.as_slice()), (9, &b"Wikipedia"[..]));
        assert!(read_chunked(&mut &b"4\r\nWi"[..], &mut Vec::new()).is_err());
    }
}
