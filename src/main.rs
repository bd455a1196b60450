//! The `tradeflow` binary: parse the command line, run, exit with the contract's code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // TLS for URL sources: rustls with the ring provider
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = tradeflow::cli::Cli::parse();
    std::process::ExitCode::from(tradeflow::cli::main_with(cli))
}
