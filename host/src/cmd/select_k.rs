//! `rollcall select-k WORK`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_host::artifacts::Work;
use rollcall_host::stages::select_k::{self, SelectKOptions};

use super::Global;
use super::common::{KArgs, print_selection, threshold};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    work: PathBuf,
    #[command(flatten)]
    k: KArgs,
    /// KMeans starts per k
    #[arg(long, default_value_t = 10, value_parser = rollcall_cli::range(1usize, 1000))]
    n_init: usize,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let work = Work::new(a.work).open()?;
    let t = threshold(g, &work, a.k.threshold)?;
    let opts = SelectKOptions { n_init: a.n_init, ..a.k.options() };
    let sel = select_k::select_k(&work, t, &opts)?;
    print_selection(&sel, &work);
    rollcall_cli::next_steps(&[format!("rollcall cluster {} (or with --k N to choose another k)", rollcall_cli::shell_word(work.root()))]);
    Ok(())
}
