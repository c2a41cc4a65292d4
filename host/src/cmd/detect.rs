//! `rollcall detect PHOTOS --out WORK`

use anyhow::Result;
use rollcall_host::artifacts::Work;
use rollcall_host::stages::detect;

use super::Global;
use super::common::{DetectArgs, ModelChoice, PhotosArgs, print_detect_summary};

#[derive(clap::Args, Debug)]
#[group(skip)]
pub(super) struct Args {
    #[command(flatten)]
    pub io: PhotosArgs,
    #[command(flatten)]
    pub models: ModelChoice,
    #[command(flatten)]
    pub detect: DetectArgs,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let models = a.models.load(g)?;
    // Nothing is made for a photo folder that is not there.
    rollcall_files::photos::check_exists(&a.io.photos)?;
    let work = Work::new(&a.io.out).claim()?;
    let outcome = detect::detect(&a.io.photos, &work, models.as_ref(), &a.detect.options(&a.models, !a.io.no_annotate))?;
    print_detect_summary(&outcome, &a.io.out);
    rollcall_cli::next_steps(&[format!("rollcall embed {}", rollcall_cli::shell_word(&a.io.out))]);
    Ok(())
}
