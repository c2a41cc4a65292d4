//! `rollcall`: find the people in a folder of photos, learn them, and export
//! what a device needs to recognise them. Parsing and dispatch only: each
//! command is a module of `cmd`, and its work is the library's.

mod cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cmd::Cli::parse();
    rollcall_cli::init_logging(cli.global.verbose, cli.global.quiet);
    rollcall_cli::exit(cmd::dispatch(cli))
}
