//! `rollcall evaluate WORK --truth T`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_host::artifacts::Work;
use rollcall_host::stages::evaluate;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    work: PathBuf,
    /// Truth: a folder of <identity>/<photo>, or a CSV with path,identity
    #[arg(long)]
    truth: PathBuf,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: Args) -> Result<()> {
    let e = evaluate::evaluate(&Work::new(a.work).open()?, &a.truth)?;
    if a.json {
        rollcall_cli::out!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        rollcall_cli::out!("{}", e.table());
    }
    Ok(())
}
