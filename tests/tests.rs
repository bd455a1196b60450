//! Integration tests: the real `tradeflow` binary, run in its own temporary folder on
//! copies of `raw/` and fixtures. One binary, a module per area.

mod util;

mod atomic;
mod cases;
mod e2e;
mod errors;
mod formats;
mod http;
mod ingest;
mod outputs;
mod properties;
mod publishers;
mod real;
mod rules;
mod schedule;
