// jemalloc on glibc Linux: glibc's per-thread arenas keep what a burst of large messages used
// (tens of MiB after 60 MB bodies) long after it is freed; jemalloc's background threads
// purge freed pages within seconds (BENCHMARKS.md, "Memory under large messages").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    switchboard_cli::main()
}
