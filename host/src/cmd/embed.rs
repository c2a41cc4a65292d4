//! `rollcall embed WORK`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::stages::embed;

use super::Global;
use super::common::ModelChoice;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    work: PathBuf,
    #[command(flatten)]
    models: ModelChoice,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let models = a.models.load(g)?;
    let work = Work::new(&a.work).open()?;
    let outcome = embed::embed(&work, models.as_ref(), a.models.jobs())?;
    say!(
        "embedded {} chips ({}-d, {}) into {}; {} skipped",
        outcome.table.len(),
        outcome.table.dim,
        models.card().recognizer.name,
        work.embeddings().display(),
        outcome.skipped.len()
    );
    for s in &outcome.skipped {
        say!("  skipped {}: {}", s.path.display(), s.reason);
    }
    rollcall_cli::next_steps(&[format!("rollcall cluster {}", rollcall_cli::shell_word(&a.work))]);
    Ok(())
}
