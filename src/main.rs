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
    // time: each time back, the pages (huge ones, here) are cleared again. Kept up to
    // 4 MiB a heap: at 32 MiB (the 1M-row job's fastest when its stages held every
    // figure) every thread's heap kept up to that much, and the partitioned run's peak
    // grew through publish (10M rows of the peers' data: 214-220 MB; at 4 MiB 177-184 MB,
    // the 1M-row job's 103-107 -> 93-94 MB), for the same time (10M 15.7-16.0 s at 32
    // MiB, 15.9-16.3 at 4; 1M 1.43-1.47 and 1.45-1.47 s, alternating runs). What is freed
    // between stages still goes back (`pipeline::give_back_freed_memory`)
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.trim_threshold")) {
        // SAFETY: as above
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
        }
    }
    // TLS for URL sources: rustls with the ring provider
    let _ = rustls::crypto::ring::default_provider().install_default();
    tradeflow::cli::fail_on_files_cut_short();
    let cli = tradeflow::cli::Cli::parse();
    std::process::ExitCode::from(tradeflow::cli::main_with(cli))
}
