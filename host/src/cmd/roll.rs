//! `rollcall roll PHOTO... --gallery G --out DIR`: who is in this morning's
//! class photos.

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::roll::{ANNOTATED_DIR, FACES_CSV, ROLL_CSV, ROLL_HTML, Status};
use rollcall_host::stages::predict;
use rollcall_host::stages::roll;

use super::Global;
use super::common::{DetectArgs, ModelChoice, NameArgs};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Photos of the class, or folders of them (several photos of one morning combine)
    #[arg(required = true)]
    photos: Vec<PathBuf>,
    /// Gallery file: everyone in it is listed as present or absent
    #[arg(long, short)]
    gallery: PathBuf,
    /// Folder for roll.csv, faces.csv and annotated copies (made if missing; only a roll-call folder rollcall made is reused)
    #[arg(long, short)]
    out: PathBuf,
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
    let opts = a.naming.options(&a.models, &a.detect, None);
    let r = roll::roll(&a.photos, &gallery, models.as_ref(), &a.out, &opts)?;
    say!("{} of {} present in {} photo(s)", r.present(), r.rows.len(), r.photos);
    for row in &r.rows {
        match (row.status, &row.photo, row.score) {
            (Status::Present, Some(photo), Some(score)) => {
                say!(
                    "  {:<20} present  {} (score {score:.2})",
                    rollcall_files::shown_str(&row.person).to_string(),
                    rollcall_files::shown_str(photo)
                )
            }
            _ => say!("  {:<20} absent", row.person),
        }
    }
    say!("strangers: {} face(s); too small to name: {} face(s)", r.strangers, r.too_small);
    for s in &r.skipped {
        eprintln!("skipped {}: {}", rollcall_files::shown(&s.path), rollcall_cli::escape_controls(&s.reason));
    }
    let out = a.out.display();
    say!(
        "wrote {out}/{ROLL_HTML} (to print: who is absent, who is present, the named photos), {out}/{ROLL_CSV}, {out}/{FACES_CSV} and the named photos in {out}/{ANNOTATED_DIR}/"
    );
    rollcall_cli::next_steps(&[format!(
        "open (and print) {}/{ROLL_HTML}: who is absent, then the named photos",
        rollcall_cli::shell_word(&a.out)
    )]);
    Ok(())
}
