//! `rollcall report WORK`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    work: PathBuf,
}

pub(super) fn run(a: Args) -> Result<()> {
    let report = rollcall_host::write_report(&Work::new(a.work).open()?)?;
    say!("report: {}", report.display());
    Ok(())
}
