//! The command line: `run`, `validate`, `inspect`. Pipeline semantics live in the TOML;
//! here are only runtime knobs. Maps every outcome to the contract's exit codes.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::config::Severity;
use crate::error::Error;
use crate::pipeline::{self, Mode, Options};

/// tradeflow: an ETL pipeline for international trade figures.
///
/// Reads trade figures from spreadsheets, CSV and report tables, normalises units,
/// number formats and country names, validates them and publishes Parquet, CSV and
/// Excel with a rejects file, a report and a manifest.
#[derive(Debug, Parser)]
#[command(name = "tradeflow", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log format on stderr: `text` for people, `json` (one object per line) for collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest, normalise, validate and publish.
    Run {
        /// The pipeline file; relative paths in it resolve against its folder.
        #[arg(long, default_value = "pipeline.toml")]
        config: PathBuf,
        /// Use cached downloads only; fail if a URL source has none.
        #[arg(long)]
        offline: bool,
        /// Rebuild even when no input and not the config changed since the last publication.
        #[arg(long)]
        full_refresh: bool,
        /// Show what would be read and published, and the changes; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read, normalise and validate every source; publish nothing; print the report.
    Validate {
        /// The pipeline file.
        #[arg(long, default_value = "pipeline.toml")]
        config: PathBuf,
        /// Use cached downloads only.
        #[arg(long)]
        offline: bool,
    },
    /// Explain what tradeflow finds in one file: tables, header rows, columns, layout,
    /// units, countries, the figures it would read, and why.
    Inspect {
        /// The file to look at.
        path: PathBuf,
        /// Whose trade it is, when the file does not say.
        #[arg(long)]
        reporter: Option<String>,
        /// Print the same as one JSON document.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a parsed command line and returns the process exit code.
pub fn main_with(cli: Cli) -> u8 {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRADEFLOW_LOG")
        .unwrap_or_else(|_| level.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .without_time()
            .try_init(),
    };
    // a spinner only for a person at a terminal: never in logs, pipes or CI
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && cli.log_format == LogFormat::Text
        && !cli.quiet
        && std::env::var_os("CI").is_none();
    match cli.command {
        Command::Run {
            config,
            offline,
            full_refresh,
            dry_run,
        } => finish(
            pipeline::run(
                &config,
                Mode::Run,
                &Options {
                    offline,
                    full_refresh,
                    dry_run,
                    progress,
                },
            ),
            false,
        ),
        Command::Validate { config, offline } => finish(
            pipeline::run(
                &config,
                Mode::Validate,
                &Options {
                    offline,
                    progress,
                    ..Default::default()
                },
            ),
            true,
        ),
        Command::Inspect {
            path,
            reporter,
            json,
        } => match pipeline::inspect(&path, reporter, json) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => fail(&e),
        },
    }
}

fn finish(r: Result<pipeline::Outcome, Error>, print_report: bool) -> u8 {
    match r {
        Ok(o) => {
            if let Some(plan) = &o.plan {
                print!("{plan}");
            }
            if o.unchanged_since.is_some() {
                tracing::info!("{}", o.summary);
                return 0;
            }
            if print_report {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&o.report).unwrap_or_default()
                );
            }
            for c in o
                .report
                .checks
                .iter()
                .filter(|c| c.severity == Severity::Warn)
            {
                for f in &c.findings {
                    tracing::warn!("{}: {}", c.id, f.message);
                }
            }
            match o.failure {
                Some(why) => {
                    let e = Error::Validation(why);
                    for c in o
                        .report
                        .checks
                        .iter()
                        .filter(|c| c.severity == Severity::Error)
                    {
                        for f in c.findings.iter().take(20) {
                            tracing::error!("{}: {}", c.id, f.message);
                        }
                    }
                    tracing::info!("{}", o.summary);
                    fail(&e)
                }
                None => {
                    tracing::info!("{}", o.summary);
                    0
                }
            }
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> u8 {
    eprintln!("tradeflow: error: {e}");
    e.exit_code()
}
