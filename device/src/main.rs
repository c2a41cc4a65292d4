//! `rollcall-device`: recognise the people in front of a camera and report
//! who arrives and leaves, on stdout, a serial line and GPIO LEDs. Parsing
//! and dispatch only; the work is the library's.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rollcall_device::settings::{Options, Settings};

#[derive(Parser, Debug)]
#[command(name = "rollcall-device", version, about = "Recognise people from a camera; report arrivals and departures")]
struct Cli {
    #[command(flatten)]
    options: Options,
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
    /// Check everything before leaving the device: the camera delivers a frame, the models
    /// load and match the gallery, the gallery verifies, the pins and serial port open, the
    /// broker accepts a connection, the events log is writable with space, the clock is
    /// synchronised. Exits non-zero when a check fails
    Doctor,
    /// Fetch, list or verify the models and ONNX Runtime (in --models-dir:
    /// /var/lib/rollcall/models for the service); a Pi without internet gets
    /// the folder copied from the laptop, then verifies it
    Models {
        #[command(subcommand)]
        action: rollcall_cli::models::Action,
    },
    /// Erase one person from the events log: their arrivals and
    /// departures, and their name in reload events (the gallery without
    /// them comes from `rollcall forget` on the laptop)
    Forget {
        /// The person's name, as the gallery has it (the events log folder is --events-log, or `events_log` in --config)
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    rollcall_cli::init_logging(0, false);
    rollcall_cli::exit(dispatch(cli))
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    // The settings file, with the flags laid over it.
    let options = cli.options.layered()?;
    match cli.command {
        None => rollcall_device::run::run(&Settings::resolve(&options)?)?,
        Some(Command::Bench { photos, frames, json }) => rollcall_device::bench::run(&options, &photos, frames, json)?,
        Some(Command::Doctor) => {
            let ok = rollcall_device::doctor::report(&rollcall_device::doctor::checks_for(&options)?);
            anyhow::ensure!(ok, "some checks failed");
        }
        Some(Command::Models { action }) => {
            let store = options.models().store().context("the models")?;
            rollcall_cli::models::run(
                &store,
                action,
                "then: rollcall-device --config FILE (or, installed from the package: sudo systemctl enable --now rollcall-device)",
            )?;
        }
        Some(Command::Forget { name }) => rollcall_device::events_log::forget_command(options.events_log, &name)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        rollcall_cli::assert_well_formed(&super::Cli::command());
    }
}
