//! The commands of `rollcall`, one module each: its arguments, the library
//! call, and what it prints. Options several commands share are in
//! [`common`].

mod attendance;
mod bench;
mod cluster;
mod common;
mod detect;
mod embed;
mod evaluate;
mod export;
mod forget;
mod inspect;
mod keygen;
mod models;
mod predict;
mod quantize;
mod report;
mod review;
mod roll;
mod run;
mod select_k;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "rollcall", version, about = "Face recognition for a small closed group, from unlabelled photos")]
pub(crate) struct Cli {
    /// Options of every command.
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options of every command.
#[derive(clap::Args, Debug)]
pub(crate) struct Global {
    #[command(flatten)]
    pub models: rollcall_cli::ModelArgs,
    /// More log output (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    // The teacher's commands, in the order of the day; then the pipeline's
    // stages one by one; then the tools (`--help` lists them so).
    /// The whole pipeline: detect, align, embed, select k, cluster, report
    Run(run::Args),
    /// Name the people in a local web page: rename, merge, move, junk, undo, train
    Review(review::Args),
    /// Learn the named cluster folders: four classifiers, cross-validated, with calibrated rejection
    Train(train::Args),
    /// Write the gallery a device loads
    Export(export::Args),
    /// Name the faces in photos with a gallery (CSV: image,face_index,x1,y1,x2,y2,label,score)
    Predict(predict::Args),
    /// The roll call from class photos: everyone in the gallery, present or absent, with named photos
    Roll(roll::Args),
    /// The roll call of a day from the device's events log (CSV and a page to print)
    Attendance(attendance::Args),
    /// Find faces in photos; write aligned chips, annotated photos and metadata.csv
    Detect(detect::Args),
    /// Embed the aligned chips of a work directory into embeddings.parquet
    Embed(embed::Args),
    /// Count the people and sweep KMeans over a range of k, with charts
    SelectK(select_k::Args),
    /// Group the faces into people: clusters/person_<n>/, clusters.csv, charts, report
    Cluster(cluster::Args),
    /// Score the clustering against known identities (a folder tree or a path,identity CSV)
    Evaluate(evaluate::Args),
    /// Write report/index.html from what the work directory holds
    Report(report::Args),
    /// int8 (and fp16-weights) models calibrated on a work directory, with measured fidelity
    Quantize(quantize::Args),
    /// Make a key pair for signing galleries (export --sign, rollcall-device --trust)
    Keygen(keygen::Args),
    /// Show a gallery's people, provenance, signer and serial (and verify it with --trust)
    Inspect(inspect::Args),
    /// Erase one person: their folder, chips, embeddings and rows; the model and gallery again without them
    Forget(forget::Args),
    /// Fetch, list or verify the models and ONNX Runtime
    Models(models::Args),
    /// Print speed figures (see docs/benchmarks.md)
    Bench(bench::Args),
}

/// Runs the command.
pub(crate) fn dispatch(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Models(a) => models::run(a, g),
        Command::Detect(a) => detect::run(a, g),
        Command::Embed(a) => embed::run(a, g),
        Command::SelectK(a) => select_k::run(a, g),
        Command::Cluster(a) => cluster::run(a, g),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Train(a) => train::run(a, g),
        Command::Export(a) => export::run(a, g),
        Command::Inspect(a) => inspect::run(a),
        Command::Forget(a) => forget::run(a, g),
        Command::Keygen(a) => keygen::run(a),
        Command::Review(a) => review::run(a, g),
        Command::Attendance(a) => attendance::run(a),
        Command::Predict(a) => predict::run(a, g),
        Command::Roll(a) => roll::run(a, g),
        Command::Quantize(a) => quantize::run(a, g),
        Command::Report(a) => report::run(a),
        Command::Run(a) => run::run(a, g),
        Command::Bench(a) => bench::run(a, g),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the whole command tree (unique names, valid defaults)
    /// only when a command is parsed; this checks every command now.
    #[test]
    fn the_command_line_is_well_formed() {
        rollcall_cli::assert_well_formed(&super::Cli::command());
    }
}
