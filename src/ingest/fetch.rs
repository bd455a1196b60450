//! Sources over HTTP: a URL is downloaded into a cache folder under the config's `raw/`
//! and read from there. The download is written beside the cached copy and renamed over
//! it only when complete, so a broken transfer never replaces a good copy.
//!
//! This is the first cut: plain HTTP with timeouts and a size bound. Conditional requests,
//! retries and TLS come with the HTTP issue.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Source;
use crate::error::{Error, Result};

/// Largest body accepted, in bytes.
pub const MAX_BYTES: u64 = 512 * 1024 * 1024;

/// The cached file for a source's URL: `<cache>/<id>.<ext>`.
pub fn cache_path(src: &Source, url: &str, cache_dir: &Path) -> PathBuf {
    let name = url.split(['?', '#']).next().unwrap_or(url).rsplit('/').next().unwrap_or("");
    let ext = Path::new(name).extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "bin".into());
    cache_dir.join(format!("{}.{ext}", src.id))
}

/// Downloads `url` into the cache (or, offline, uses the cached copy) and returns its path.
///
/// # Errors
/// [`Error::Source`] naming the URL and why: status, timeout, size, offline without cache.
pub fn fetch(src: &Source, url: &str, cache_dir: &Path, offline: bool) -> Result<PathBuf> {
    let fail = |reason: String| Error::source(&src.id, url, reason);
    let dest = cache_path(src, url, cache_dir);
    if offline {
        return if dest.exists() { Ok(dest) } else { Err(fail(format!("offline and no cached copy at {}", dest.display()))) };
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| fail(format!("cannot create {}: {e}", cache_dir.display())))?;
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("tradeflow/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| fail(format!("cannot start an HTTP client: {e}")))?;
    let resp = client.get(url).send().map_err(|e| fail(format!("request failed: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}")));
    }
    if resp.content_length().is_some_and(|n| n > MAX_BYTES) {
        return Err(fail(format!("the body is larger than {MAX_BYTES} bytes")));
    }
    let tmp = dest.with_extension(format!("part-{}", std::process::id()));
    let result = (|| -> std::result::Result<(), String> {
        let mut body = Vec::new();
        resp.take(MAX_BYTES + 1).read_to_end(&mut body).map_err(|e| format!("the transfer broke: {e}"))?;
        if body.len() as u64 > MAX_BYTES {
            return Err(format!("the body is larger than {MAX_BYTES} bytes"));
        }
        std::fs::write(&tmp, &body).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &dest).map_err(|e| format!("cannot move the download into place: {e}"))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(dest)
}
