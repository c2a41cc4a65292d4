//! `rollcall forget NAME WORK [--model MODEL --gallery GALLERY [--sign KEY]]`

use std::path::PathBuf;

use anyhow::{Context, Result};
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::training::ModelDir;
use rollcall_host::pipeline::{self, Again, RetrainTo};

use super::Global;
use super::common::ModelChoice;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The person's name (their folder under WORK/clusters)
    name: String,
    /// The work directory
    work: PathBuf,
    /// The model folder `train` wrote: trained again without them
    #[arg(long)]
    model: Option<PathBuf>,
    /// The gallery `export` wrote: written again from the new model (needs --model)
    #[arg(long, requires = "model")]
    gallery: Option<PathBuf>,
    /// Sign the new gallery with this secret key (a new serial: devices that trust the key
    /// take it and refuse the old one)
    #[arg(long, value_name = "KEY", requires = "gallery")]
    sign: Option<PathBuf>,
    #[command(flatten)]
    models: ModelChoice,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let key = super::common::signing_key(a.sign.as_deref())?;
    let work = Work::new(&a.work).open()?;
    let load = || a.models.load(g).map_err(|e| rollcall_host::Error::LoadModels(e.into()));
    let published = |recognizer: &str| g.models.same_person_cosine(recognizer).ok().flatten();
    let model = a.model.as_ref().map(ModelDir::new);
    let again = model.as_ref().map(|dir| Again {
        published: &published,
        load: &load,
        to: RetrainTo { model: dir, gallery: a.gallery.as_deref().map(|out| (out, key.as_ref())) },
    });
    let (done, retrained) =
        pipeline::forget(&work, &a.name, again).with_context(|| format!("forgetting {} in {}", a.name, a.work.display()))?;
    say!(
        "removed {} from {}: their folder clusters/{} with {} faces, their chips, embeddings, cache and metadata rows, \
         the annotated copies of {} photos, {} review journal lines; the report was written again",
        a.name,
        a.work.display(),
        done.folder,
        done.faces,
        done.photos,
        done.journal_lines
    );
    if let (Some(model), Some(retrained)) = (&a.model, &retrained) {
        say!("trained {} again: {} people", model.display(), retrained.report.people.len());
        if let (Some(out), Some(e)) = (&a.gallery, &retrained.exported) {
            say!("wrote {}: {} people", out.display(), e.people);
            if let (Some(by), Some(serial)) = (&e.signed_by, e.serial) {
                say!("signed by key {by}, serial {serial}");
            }
        }
    }
    let mut next = Vec::new();
    match (&a.model, &a.gallery) {
        (None, _) => next.push(format!(
            "models and galleries made before still hold {}: pass --model MODEL --gallery GALLERY to make them again without them",
            a.name
        )),
        (Some(_), None) => next.push("galleries exported before still hold them: pass --gallery GALLERY too".to_string()),
        (Some(_), Some(out)) => {
            let gal = rollcall_cli::shell_word(out);
            next.push(format!(
                "copy {gal} over the device's gallery (it swaps it in), then on the device: rollcall-device forget {}",
                // The name as the gallery had it, not as it was typed here.
                rollcall_cli::shell_word(std::path::Path::new(&done.folder))
            ));
        }
    }
    next.push("the photos stay where you keep them: delete theirs there, or the next run finds them again".to_string());
    rollcall_cli::next_steps(&next);
    Ok(())
}
