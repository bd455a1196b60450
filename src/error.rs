//! The run's error types and their exit codes (the contract's table): configuration
//! errors are 2, unreadable sources are 3, data that failed validation is 1, and an
//! output that could not be written is 4 and an output folder locked by another run is 5
//! (extensions of the contract).
//!
//! Every message names where: the config file and line, the source and its place.

use std::path::PathBuf;

/// An error that ends a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or the config is wrong. Each entry is `file:line: message`.
    #[error("configuration error{}:\n  {}", if .0.len() > 1 { "s" } else { "" }, .0.join("\n  "))]
    Config(Vec<String>),

    /// A source could not be read or fetched.
    #[error("source {source_id} ({location}): {reason}")]
    Source {
        source_id: String,
        location: String,
        reason: String,
    },

    /// The data failed validation beyond the configured tolerance.
    #[error("validation failed: {0}; nothing was published")]
    Validation(String),

    /// Another run holds the output folder's lock.
    #[error("{0}")]
    Locked(String),

    /// An output could not be written; the previous outputs are untouched.
    #[error("could not publish into {dir}: {reason}; the previous outputs are untouched")]
    Publish { dir: PathBuf, reason: String },
}

impl Error {
    /// The exit code a scheduler sees.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Validation(_) => 1,
            Error::Config(_) => 2,
            Error::Source { .. } => 3,
            Error::Publish { .. } => 4,
            Error::Locked(_) => 5,
        }
    }

    /// A source error.
    pub fn source(
        id: &str,
        location: impl std::fmt::Display,
        reason: impl std::fmt::Display,
    ) -> Error {
        Error::Source {
            source_id: id.to_string(),
            location: location.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The result of a stage.
pub type Result<T, E = Error> = std::result::Result<T, E>;
