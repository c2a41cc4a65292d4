//! `rollcall train CLUSTERS --out MODEL`

use std::path::{Path, PathBuf};

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::training::{ModelDir, TrainingReport};
use rollcall_host::stages::train::{LearnOptions, TrainOptions};

use super::Global;
use super::common::ModelChoice;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The clusters folder (renamed by you); its parent is the work directory. Any folder of
    /// <person>/<photo or chip> works: without a work directory, every face is embedded afresh
    clusters: PathBuf,
    /// Model folder to write
    #[arg(long, short, default_value = "model")]
    out: PathBuf,
    /// Work directory holding embeddings.parquet [default: the clusters folder's parent]
    #[arg(long)]
    work: Option<PathBuf>,
    /// Folder names that are not people (names starting with `_` never are)
    #[arg(long, value_delimiter = ',', default_values_t = rollcall_host::artifacts::people::default_junk())]
    junk: Vec<String>,
    /// False-accept rate the rejection thresholds aim for
    #[arg(long, default_value_t = 0.01, value_parser = rollcall_cli::range(1e-6f32, 0.5))]
    target_far: f32,
    /// Cross-validation folds
    #[arg(long, default_value_t = 5, value_parser = rollcall_cli::range(2usize, 100))]
    folds: usize,
    /// Refuse to train while any face or folder looks like a label mistake
    #[arg(long)]
    strict: bool,
    /// Learn folders still called person_<n> as they are (by default they are refused)
    #[arg(long)]
    include_unnamed: bool,
    #[command(flatten)]
    models: ModelChoice,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let work = Work::new(a.work.clone().unwrap_or_else(|| a.clusters.parent().map(Path::to_path_buf).unwrap_or_default()));
    let opts = TrainOptions {
        junk: a.junk.clone(),
        learn: LearnOptions { target_far: a.target_far, folds: a.folds, ..LearnOptions::default() },
        strict: a.strict,
        include_unnamed: a.include_unnamed,
    };
    let opened = if work.embeddings().is_file() {
        Some(work.open()?)
    } else {
        // Folders of photos or chips from anywhere: embed them all now.
        say!("no {} here: embedding every face in {} afresh", work.embeddings().display(), a.clusters.display());
        None
    };
    let published = |recognizer: &str| g.models.same_person_cosine(recognizer).ok().flatten();
    let load = || a.models.load(g).map_err(|e| rollcall_host::Error::LoadModels(e.into()));
    let model = ModelDir::new(&a.out);
    let to = rollcall_host::pipeline::RetrainTo { model: &model, gallery: None };
    let report = rollcall_host::pipeline::retrain(&a.clusters, opened.as_ref(), &opts, &published, &load, to)?.report;
    print_report(&report);
    // Nothing left out silently: folders inside folders are used, and said.
    let nested = rollcall_host::artifacts::people::nested_folders(&a.clusters);
    if !nested.is_empty() {
        say!(
            "used the faces in {} folder(s) inside other folders as the person (or strangers) of the folder they are in: {}",
            nested.len(),
            nested.iter().map(|p| rollcall_files::shown(p).to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    say!("wrote {}", a.out.display());
    let m = rollcall_cli::shell_word(&a.out);
    rollcall_cli::next_steps(&[
        format!("write the gallery a device loads: rollcall export {m} --out gallery.rcg"),
        "(to sign it for a device: make a key once with `rollcall keygen`, then add --sign school)".to_string(),
    ]);
    Ok(())
}

fn print_report(report: &TrainingReport) {
    say!("{}", rollcall_host::training_summary(report).trim_end());
}
