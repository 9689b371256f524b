// A release build on Windows opens no console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

// jemalloc on glibc Linux, as in the CLI: glibc's arenas keep what a burst of large messages
// used long after it is freed; jemalloc's background threads purge it within seconds.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    // The first-run config runs this very executable as the demo MCP server. Handle it before
    // anything touches GTK or logging: stdout is the MCP channel.
    if args.peek().is_some_and(|a| a == "demo-server") {
        return match switchboard_core::demo::run_stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    switchboard_desktop::run(args)
}
