//! tradeflow: a staged ETL pipeline for international trade figures.
//!
//! `config` -> `ingest` -> `normalize` -> `validate` -> `publish`, wired by `pipeline`.
//! Data flows one way; the shared types live in `model`.

pub mod changes;
pub mod cli;
pub mod config;
pub mod error;
pub mod ingest;
pub mod lock;
mod mapped;
pub mod model;
pub mod normalize;
pub mod pipeline;
pub mod publish;
pub mod report;
pub mod segments;
pub mod summarize;
pub mod validate;
