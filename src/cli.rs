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
            cli.verbose > 0,
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
            cli.verbose > 0,
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

/// Findings of a check said on stderr, at most (all of them with `-v`): every finding is
/// in `report.json`, and a run of millions of figures can have hundreds of thousands (a
/// log line each would bury the run's own lines).
const SAID: usize = 20;

/// The findings of the checks of one severity on stderr, the first [`SAID`] of each
/// (every one when `every`), then how many more are in the report.
fn say_findings(report: &crate::report::Report, severity: Severity, every: bool) {
    for c in report.checks.iter().filter(|c| c.severity == severity) {
        let said = if every { c.findings.len() } else { SAID };
        let more = c.findings.len().saturating_sub(said);
        let lines = c
            .findings
            .iter()
            .take(said)
            .map(|f| format!("{}: {}", c.id, f.message()))
            .chain((more > 0).then(|| format!("{}: {more} more in report.json", c.id)));
        for line in lines {
            match severity {
                Severity::Error => tracing::error!("{line}"),
                _ => tracing::warn!("{line}"),
            }
        }
    }
}

fn finish(r: Result<pipeline::Outcome, Error>, print_report: bool, every: bool) -> u8 {
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
            say_findings(&o.report, Severity::Warn, every);
            match o.failure {
                Some(why) => {
                    let e = Error::Validation(why);
                    say_findings(&o.report, Severity::Error, every);
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

/// What a process that read a mapped file cut shorter meanwhile says, and its exit: an
/// error of the source (3). Before the publication's last step no output has changed.
const CUT_SHORT: &str = "tradeflow: error: a file this run maps to read (an input, or the last publication's key file) was cut shorter while it was read: nothing was published and the previous outputs are untouched; run again once the file is complete\n";

/// Makes a fault on a mapped file cut shorter while it is read (SIGBUS, which would end
/// the process with no word) an error of its source, exit 3, said on stderr. Inputs and
/// the previous key file are mapped, not copied (see `ingest::map_input`); a file being
/// rewritten in place by another program can be cut under the reading.
pub fn fail_on_files_cut_short() {
    #[cfg(unix)]
    {
        extern "C" fn on_bus_error(_: libc::c_int) {
            // SAFETY: write and _exit are async-signal-safe; the message is static
            unsafe {
                libc::write(2, CUT_SHORT.as_ptr().cast(), CUT_SHORT.len());
                libc::_exit(3);
            }
        }
        // SAFETY: the action is zeroed and then filled as sigaction expects: a handler
        // that only calls async-signal-safe functions, an empty mask
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_bus_error as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    /// In a process of its own (this test run again, told so by the environment): a
    /// mapped input cut to nothing, then read past its new end.
    #[test]
    #[cfg(unix)]
    fn a_mapped_file_cut_short_is_an_error_of_its_source() {
        const CHILD: &str = "TRADEFLOW_TEST_CUT_SHORT";
        if std::env::var_os(CHILD).is_some() {
            super::fail_on_files_cut_short();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("long.csv");
            std::fs::write(&path, "TUR,AZE,2019,1\n".repeat(200_000)).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let map = crate::ingest::map_input(&file).expect("mapped");
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(0)
                .unwrap();
            let byte = std::hint::black_box(map[map.len() / 2]);
            // not reached: the read above faults
            std::process::exit(i32::from(byte) + 100);
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "cli::tests::a_mapped_file_cut_short_is_an_error_of_its_source",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("was cut shorter while it was read"),
            "{stderr}"
        );
    }
}
