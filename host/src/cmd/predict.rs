//! `rollcall predict PHOTOS --gallery GALLERY`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_host::artifacts::predictions;
use rollcall_host::stages::predict;

use super::Global;
use super::common::{DetectArgs, ModelChoice, NameArgs};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Photos, or folders of them
    #[arg(required = true)]
    photos: Vec<PathBuf>,
    /// Gallery file
    #[arg(long, short)]
    gallery: PathBuf,
    /// Write the CSV here instead of stdout
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write annotated copies with names into this folder
    #[arg(long)]
    annotate: Option<PathBuf>,
    #[command(flatten)]
    naming: NameArgs,
    #[command(flatten)]
    models: ModelChoice,
    #[command(flatten)]
    detect: DetectArgs,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let gallery = rollcall_shared::gallery::read_file(&a.gallery)?;
    let models = a.models.load(g)?;
    predict::check_models(&gallery, models.as_ref(), &a.gallery)?;
    let opts = a.naming.options(&a.models, &a.detect, a.annotate.clone());
    let found = predict::predict(&a.photos, &gallery, models.as_ref(), &opts)?;
    match &a.out {
        Some(p) => predictions::write(p, &found.rows)?,
        None => {
            use std::io::{IsTerminal, Write as _};
            let csv = predictions::to_csv(std::path::Path::new("stdout"), &found.rows)?;
            // Data for a pipe; for a person at a terminal, file names with
            // control characters are escaped like every other message.
            let text = match std::io::stdout().is_terminal() {
                true => rollcall_cli::escape_controls(&String::from_utf8_lossy(&csv)).into_bytes(),
                false => csv,
            };
            if std::io::stdout().write_all(&text).is_err() {
                return Ok(());
            }
        }
    }
    for s in &found.skipped {
        eprintln!("skipped {}: {}", rollcall_files::shown(&s.path), rollcall_cli::escape_controls(&s.reason));
    }
    let mut next = Vec::new();
    if let Some(dir) = &a.annotate {
        next.push(format!("see the names on the photos in {}", rollcall_cli::shell_word(dir)));
    }
    next.push("a face called unknown that you know: add its photos to a person's folder in clusters/ and train again".to_string());
    rollcall_cli::next_steps(&next);
    Ok(())
}
