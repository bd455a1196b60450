//! The `tradeflow` binary: parse the command line, run, exit with the contract's code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // glibc raises its mmap threshold as large blocks are freed, after which big
    // buffers freed by worker threads stay in their arenas; a fixed threshold keeps
    // every block over 2 MiB mapped on its own and given back when freed
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
    // starts
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 2 << 20);
    }
    // TLS for URL sources: rustls with the ring provider
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = tradeflow::cli::Cli::parse();
    std::process::ExitCode::from(tradeflow::cli::main_with(cli))
}
