//! `rollcall predict PHOTOS --gallery GALLERY`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::Classifier;
use rollcall_host::artifacts::io::write_atomic;
use rollcall_host::artifacts::predictions;
use rollcall_host::stages::predict::{self, PredictOptions};

use super::Global;
use super::common::{DetectArgs, ModelChoice};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A photo or a folder of photos
    photos: PathBuf,
    /// Gallery file
    #[arg(long, short)]
    gallery: PathBuf,
    /// The classifier [default: the gallery's]
    #[arg(long, value_enum)]
    classifier: Option<Classifier>,
    /// Write the CSV here instead of stdout
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write annotated copies with names into this folder
    #[arg(long)]
    annotate: Option<PathBuf>,
    #[command(flatten)]
    models: ModelChoice,
    #[command(flatten)]
    detect: DetectArgs,
}

pub fn run(a: Args, g: &Global) -> Result<()> {
    let gallery = rollcall_shared::gallery::read_file(&a.gallery)?;
    let models = a.models.load(g)?;
    predict::check_models(&gallery, models.as_ref(), &a.gallery)?;
    let opts = PredictOptions {
        classifier: a.classifier.map(Into::into),
        filter: a.detect.filter(),
        annotate: a.annotate.clone(),
        jobs: a.models.jobs(),
    };
    let found = predict::predict(&a.photos, &gallery, models.as_ref(), &opts)?;
    let dest = a.out.clone().unwrap_or_else(|| PathBuf::from("stdout"));
    let csv = predictions::to_csv(&dest, &found.rows)?;
    match &a.out {
        Some(p) => write_atomic(p, &csv)?,
        None => {
            use std::io::Write as _;
            if std::io::stdout().write_all(&csv).is_err() {
                return Ok(());
            }
        }
    }
    for s in &found.skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    Ok(())
}
