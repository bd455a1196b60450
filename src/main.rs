//! The `tradeflow` binary: parse the command line, run, exit with the contract's code.

use clap::Parser;

/// On glibc, the process runs with `glibc.malloc.hugetlb=1` (and the fixed mmap threshold
/// below): malloc then advises its heaps and large blocks to the kernel as candidates for
/// transparent huge pages. A million-row run touches a few GB of fresh column buffers; in
/// 4 KiB pages that is about 250,000 page faults, with huge pages 110,000, and the run
/// takes about 7% less CPU in the same memory. A tunable is read only when a process starts,
/// so the binary starts itself once more with it set (one `exec`: 3.5 ms measured here,
/// `tradeflow --version` 4.1 -> 7.6 ms). Where
/// THP is `never` the advice is ignored. A `GLIBC_TUNABLES` that already names
/// `glibc.malloc.hugetlb` is left as it is: `glibc.malloc.hugetlb=0` turns this off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn restart_with_huge_pages() {
    use std::os::unix::process::CommandExt;
    const KEY: &str = "GLIBC_TUNABLES";
    const SET: &str = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=2097152";
    let current = std::env::var_os(KEY).unwrap_or_default();
    if current.to_string_lossy().contains("glibc.malloc.hugetlb") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut value = current;
    if !value.is_empty() {
        value.push(":");
    }
    value.push(SET);
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    // exec returns only when it failed: then this process goes on as it is
    let _ = cmd.args(args).env(KEY, value).exec();
}

fn main() -> std::process::ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    restart_with_huge_pages();
    // glibc raises its mmap threshold as large blocks are freed, after which big
    // buffers freed by worker threads stay in their arenas; a fixed threshold keeps
    // every block over 2 MiB mapped on its own and given back when freed
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.mmap_threshold")) {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any
        // thread starts
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 2 << 20);
        }
    }
    // glibc gives the free top of a heap back to the system once it passes 128 KiB, and
    // the threads that type, sort and encode free and allocate blocks below 2 MiB all the
    // time: each time back, the pages (huge ones, here) are cleared again. Kept up to 32 MiB
    // a heap, the 1M-row job takes 39,800 page faults, not 48,400, for a peak 3-6 MB
    // higher; CPU medians of four sets of 8 to 14 alternating runs: 2.45 -> 2.08 s, 2.10
    // -> 2.01, 2.16 -> 2.01, and 1.92 -> 1.95 in a quiet hour. What is freed between
    // stages still goes back (`pipeline::give_back_freed_memory`)
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.trim_threshold")) {
        // SAFETY: as above
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
        }
    }
    // TLS for URL sources: rustls with the ring provider
    let _ = rustls::crypto::ring::default_provider().install_default();
    tradeflow::cli::fail_on_files_cut_short();
    let cli = tradeflow::cli::Cli::parse();
    std::process::ExitCode::from(tradeflow::cli::main_with(cli))
}
