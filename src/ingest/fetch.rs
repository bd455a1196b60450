//! Sources over HTTP, made for unattended runs: a URL is downloaded into a cache folder
//! beside the config (`raw/.cache/`) and read from there.
//!
//! - The body is written beside the cached copy and renamed over it only when complete
//!   and checked, so a broken transfer never replaces a good copy.
//! - Conditional requests: the cached copy's ETag and Last-Modified are sent back; a 304
//!   uses the cache without a download.
//! - Retries with exponential backoff and full jitter on timeouts, connection errors, 429
//!   and 5xx, honouring `Retry-After` (seconds or HTTP-date), bounded in attempts and in
//!   total time; connect and overall timeouts; a maximum size.
//! - The bytes are checked against the declared format (an HTML error page served for an
//!   `.xlsx` is an error that says so) and against an optional pinned sha256.
//! - TLS by rustls; proxies from the environment; a User-Agent naming tradeflow.
//!
//! What was fetched is recorded in a sidecar `<file>.fetch.json` and in the manifest.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{HttpOptions, Source};
use crate::error::{Error, Result};

/// What the cache knows of a download: the manifest's record of a URL source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FetchRecord {
    pub url: String,
    /// HTTP status of the last exchange (200, or 304 when the cache was used).
    pub status: u16,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// RFC 3339 time of the last exchange.
    pub fetched_at: String,
    pub bytes: u64,
    pub sha256: String,
    /// How many requests it took.
    pub attempts: u32,
    /// Whether the cached copy was used without a download (304 or `--offline`).
    pub from_cache: bool,
}

/// The cached file for a source's URL: `<cache>/<id>.<ext>`.
pub fn cache_path(src: &Source, url: &str, cache_dir: &Path) -> PathBuf {
    let name = crate::config::url_file_name(url);
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bin".into());
    cache_dir.join(format!("{}.{ext}", src.id))
}

/// The sidecar that records a download.
pub fn record_path(data: &Path) -> PathBuf {
    let mut p = data.as_os_str().to_owned();
    p.push(".fetch.json");
    PathBuf::from(p)
}

/// The record of a cached download, if any.
pub fn record(data: &Path) -> Option<FetchRecord> {
    serde_json::from_str(&std::fs::read_to_string(record_path(data)).ok()?).ok()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why one attempt failed, and whether another may succeed.
enum Attempt {
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fatal(String),
}

/// How long a `Retry-After` header asks to wait (seconds or an HTTP-date).
pub fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Full-jitter exponential backoff: a random wait up to base * 2^attempt.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let cap = base.saturating_mul(1u32 << attempt.min(10));
    let ms = cap.as_millis().max(1) as u64;
    Duration::from_millis(rand::random_range(ms / 2..=ms))
}

/// True when the bytes look like an HTML page.
fn looks_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_lowercase();
    let t = head.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("<!doctype html") || t.starts_with("<html") || t.starts_with("<head")
}

/// Checks a body against the format the URL's extension declares.
fn check_format(
    ext: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> std::result::Result<(), String> {
    let binary = matches!(ext, "xlsx" | "xlsm" | "xlsb" | "ods" | "xls");
    if binary && looks_html(bytes) {
        return Err(format!(
            "the server sent an HTML page (content type {}) where a .{ext} file was expected: often a login or error page",
            content_type.unwrap_or("not given")
        ));
    }
    let zip = bytes.starts_with(b"PK\x03\x04");
    let cfb = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    match ext {
        "xlsx" | "xlsm" | "xlsb" | "ods" if !zip && !cfb => {
            Err(format!("the body is not a .{ext} file (not a zip archive)"))
        }
        "xls" if !cfb => Err("the body is not an .xls file".into()),
        "csv" | "tsv" | "txt" | "json" | "md" if zip || cfb => {
            Err(format!("the body is a binary file, not .{ext} text"))
        }
        _ => Ok(()),
    }
}

/// Downloads `url` into the cache (or, offline, uses the cached copy); returns its path.
///
/// # Errors
/// [`Error::Source`] naming the URL and why: status, timeout, size, format, checksum,
/// offline without a cache. A good cached copy is never replaced by a bad download.
pub fn fetch(
    src: &Source,
    url: &str,
    cache_dir: &Path,
    offline: bool,
    http: &HttpOptions,
) -> Result<PathBuf> {
    fetch_to(src, url, &cache_path(src, url, cache_dir), offline, http)
}

/// [`fetch`] into a given cache file.
///
/// # Errors
/// As [`fetch`].
pub fn fetch_to(
    src: &Source,
    url: &str,
    dest: &Path,
    offline: bool,
    http: &HttpOptions,
) -> Result<PathBuf> {
    // what is shown and written of the URL has no credentials (`src.display`)
    let fail = |reason: String| Error::source(&src.id, &src.display, reason);
    let dest = dest.to_path_buf();
    let cache_dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
    let cached = record(&dest).filter(|r| r.url == src.display && dest.exists());
    if offline {
        return match cached {
            Some(mut r) => {
                r.from_cache = true;
                let _ = std::fs::write(
                    record_path(&dest),
                    serde_json::to_string_pretty(&r).unwrap_or_default(),
                );
                Ok(dest)
            }
            None => Err(fail(format!(
                "--offline and no cached copy at {}",
                dest.display()
            ))),
        };
    }
    std::fs::create_dir_all(&cache_dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", cache_dir.display())))?;
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!(
            "tradeflow/",
            env!("CARGO_PKG_VERSION"),
            " (+https://crates.io/crates/tradeflow)"
        ))
        .connect_timeout(http.connect_timeout)
        .timeout(http.timeout)
        .build()
        .map_err(|e| fail(format!("cannot start an HTTP client: {e}")))?;
    let ext = dest
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let outcome = one_attempt(&client, url, &dest, &ext, cached.as_ref(), src, http);
        match outcome {
            Ok(mut rec) => {
                rec.attempts = attempt;
                let _ = std::fs::write(
                    record_path(&dest),
                    serde_json::to_string_pretty(&rec).unwrap_or_default(),
                );
                tracing::info!(source = %src.id, url = %src.display, status = rec.status, bytes = rec.bytes, attempts = attempt, from_cache = rec.from_cache, "fetched");
                return Ok(dest);
            }
            Err(Attempt::Fatal(why)) => return Err(fail(why)),
            Err(Attempt::Retry { why, after }) => {
                let wait = after.unwrap_or_else(|| backoff(http.backoff, attempt - 1));
                let out_of_time = started.elapsed() + wait > http.max_total;
                if attempt >= http.max_attempts || out_of_time {
                    let bound = if out_of_time {
                        format!("the {}s time budget", http.max_total.as_secs())
                    } else {
                        format!("{attempt} attempts")
                    };
                    return Err(fail(format!("{why}; gave up after {bound}")));
                }
                tracing::warn!(source = %src.id, url = %src.display, attempt, wait_ms = wait.as_millis() as u64, "{why}; retrying");
                std::thread::sleep(wait);
            }
        }
    }
}

fn one_attempt(
    client: &reqwest::blocking::Client,
    url: &str,
    dest: &Path,
    ext: &str,
    cached: Option<&FetchRecord>,
    src: &Source,
    http: &HttpOptions,
) -> std::result::Result<FetchRecord, Attempt> {
    let mut req = client.get(url);
    if let Some(c) = cached {
        if let Some(e) = &c.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(m) = &c.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
        }
    }
    if let Some((name, value)) = &src.auth_header {
        req = req.header(name.as_str(), value.as_str());
    }
    let resp = req.send().map_err(|e| {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        Attempt::Retry {
            // the error without its URL, which may hold credentials
            why: format!("{kind}: {}", e.without_url()),
            after: None,
        }
    })?;
    let status = resp.status();
    let header = |h: reqwest::header::HeaderName| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if status == reqwest::StatusCode::NOT_MODIFIED {
        if let Some(c) = cached {
            return Ok(FetchRecord {
                status: 304,
                fetched_at: now_rfc3339(),
                from_cache: true,
                ..c.clone()
            });
        }
        return Err(Attempt::Fatal(
            "HTTP 304 Not Modified without a cached copy".into(),
        ));
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let after = header(reqwest::header::RETRY_AFTER)
            .and_then(|v| retry_after(&v))
            .map(|d| d.min(http.max_total));
        return Err(Attempt::Retry {
            why: format!("HTTP {status}"),
            after,
        });
    }
    if !status.is_success() {
        return Err(Attempt::Fatal(format!("HTTP {status}")));
    }
    if resp.content_length().is_some_and(|n| n > http.max_bytes) {
        return Err(Attempt::Fatal(format!(
            "the body ({} bytes) is larger than the limit of {} bytes",
            resp.content_length().unwrap_or(0),
            http.max_bytes
        )));
    }
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let mut body = Vec::new();
    resp.take(http.max_bytes + 1)
        .read_to_end(&mut body)
        .map_err(|e| Attempt::Retry {
            // an error that names the URL names it without its credentials
            why: format!("the transfer broke: {e}").replace(url, &src.display),
            after: None,
        })?;
    if body.len() as u64 > http.max_bytes {
        return Err(Attempt::Fatal(format!(
            "the body is larger than the limit of {} bytes",
            http.max_bytes
        )));
    }
    check_format(ext, content_type.as_deref(), &body).map_err(Attempt::Fatal)?;
    let sha256 = crate::config::hex(&Sha256::digest(&body));
    if let Some(pin) = &src.sha256 {
        if !pin.eq_ignore_ascii_case(&sha256) {
            return Err(Attempt::Fatal(format!(
                "sha256 mismatch: the body is {sha256}, the config pins {pin}"
            )));
        }
    }
    let tmp = dest.with_extension(format!("part-{}", std::process::id()));
    let write = std::fs::write(&tmp, &body).and_then(|_| std::fs::rename(&tmp, dest));
    if let Err(e) = write {
        let _ = std::fs::remove_file(&tmp);
        return Err(Attempt::Fatal(format!("cannot store the download: {e}")));
    }
    Ok(FetchRecord {
        url: src.display.clone(),
        status: status.as_u16(),
        etag,
        last_modified,
        fetched_at: now_rfc3339(),
        bytes: body.len() as u64,
        sha256,
        attempts: 0,
        from_cache: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let d = retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a past date: now"
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_jitters() {
        let b = Duration::from_millis(100);
        for a in 0..5 {
            let d = backoff(b, a);
            assert!(d <= b * (1 << a) && d >= b * (1 << a) / 2, "{a}: {d:?}");
        }
    }

    #[test]
    fn html_for_a_workbook_is_named() {
        let e = check_format(
            "xlsx",
            Some("text/html"),
            b"<!DOCTYPE html><html>login</html>",
        )
        .unwrap_err();
        assert!(e.contains("HTML page"), "{e}");
        assert!(check_format("csv", None, b"a,b\n1,2\n").is_ok());
    }
}
