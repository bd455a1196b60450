//! One run at a time per output folder: an advisory lock (flock) on a file beside the
//! output folder. The operating system releases it when the process ends, however it
//! ends, so a killed run never leaves a lock that blocks the next one; the file keeps the
//! holder's pid and start time for the message a second run prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    file: File,
    pub path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The lock file of an output folder: `.processed.lock` beside `processed/`.
pub fn path_for(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "processed".into());
    dir.with_file_name(format!(".{name}.lock"))
}

/// Takes the lock of `dir` or says who holds it.
///
/// # Errors
/// [`Error::Locked`] when another run holds it; [`Error::Publish`] when the lock file
/// cannot be created.
pub fn acquire(dir: &Path) -> Result<Lock> {
    let path = path_for(dir);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::Publish {
            dir: dir.to_path_buf(),
            reason: format!("cannot create {}: {e}", parent.display()),
        })?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::Publish {
            dir: dir.to_path_buf(),
            reason: format!("cannot open the lock {}: {e}", path.display()),
        })?;
    let mut previous = String::new();
    let _ = file.read_to_string(&mut previous);
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = if previous.trim().is_empty() {
                "another run".to_string()
            } else {
                format!("another run ({})", previous.trim())
            };
            return Err(Error::Locked(format!(
                "{holder} is publishing into {}; try again when it has finished (lock: {})",
                dir.display(),
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::Publish {
                dir: dir.to_path_buf(),
                reason: format!("cannot lock {}: {e}", path.display()),
            });
        }
    }
    if !previous.trim().is_empty() {
        // the file held a holder but no lock: that run ended without cleaning up (killed)
        tracing::warn!(lock = %path.display(), "cleared a stale lock left by a run that ended without releasing it ({})", previous.trim());
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(
        file,
        "pid {} since {}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let _ = file.flush();
    Ok(Lock { file, path })
}
