//! `rollcall models fetch|list|verify`

use anyhow::Result;
use rollcall_cli::models::{self, Action};

use super::Global;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    #[command(subcommand)]
    action: Action,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    models::run(&g.models.store()?, a.action, "find the people in a folder of photos: rollcall run PHOTOS --out WORK")
}
