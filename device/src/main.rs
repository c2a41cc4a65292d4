//! `rollcall-device`: recognise the people in front of a camera and report
//! who arrives and leaves, on stdout, a serial line and GPIO LEDs. Parsing
//! and dispatch only; the work is the library's.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rollcall_device::settings::{RunArgs, Settings};

#[derive(Parser, Debug)]
#[command(name = "rollcall-device", version, about = "Recognise people from a camera; report arrivals and departures")]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Per-frame latency at 640x480 with 1 and 5 faces
    Bench {
        /// The shared photos (../shared/data/faces)
        #[arg(long)]
        photos: PathBuf,
        /// Frames per measurement
        #[arg(long, default_value_t = 30)]
        frames: usize,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    rollcall_cli::init_logging(0, false);
    let result = match cli.command {
        None => cli.run.file().and_then(|f| Settings::resolve(&cli.run, &f)).and_then(|s| rollcall_device::run::run(&s)),
        Some(Command::Bench { photos, frames, json }) => rollcall_device::bench::run(&cli.run, &photos, frames, json),
    };
    rollcall_cli::exit(result)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        rollcall_cli::assert_well_formed(&super::Cli::command());
    }
}
