//! `rollcall`: find the people in a folder of photos, learn them, and export
//! what a device needs to recognise them. Parsing and dispatch only: each
//! command is a module of `cmd`, and its work is the library's.

mod cmd;

use clap::Parser;

/// jemalloc serves every allocation in the process: with its
/// `override_allocator_on_supported_platforms` feature it also takes
/// `malloc` and `free`, so ONNX Runtime's tensors (a shared library's C++
/// allocations; its sessions run without an arena of their own) come from
/// it too. glibc's allocator kept what each worker thread freed in that
/// thread's heap, and raised its `mmap` threshold after the first large
/// free, so a 12 MP photo's buffers and a fine pass's activations stayed
/// resident after they were freed; jemalloc gives freed pages back after
/// 100 ms (its options are in `.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = cmd::Cli::parse();
    rollcall_cli::init_logging(cli.global.verbose, cli.global.quiet);
    rollcall_cli::exit(cmd::dispatch(cli))
}
