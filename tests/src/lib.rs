//! Helpers of the real-model suites: the shared photos (through
//! `rollcall-testkit`), one model set per test binary, and the pipeline and
//! galleries built the way a user builds them.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::selection::{Selection, ThresholdSource};
use rollcall_host::artifacts::training::ModelDir;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::stages::detect::{DetectOptions, detect_photos};
use rollcall_host::stages::{embed, export, train};
use rollcall_models::{ModelSet, ModelStore, Models};
pub use rollcall_testkit::shared::{Label, faces_dir, golden_json, identities, labelled_tree, labels, shared_data, workspace};

/// The default models, fetched on first use, shared by a test binary.
pub fn models() -> &'static ModelSet {
    static MODELS: OnceLock<ModelSet> = OnceLock::new();
    MODELS.get_or_init(|| {
        let store = ModelStore::open_default().unwrap_or_else(|e| panic!("model store: {e}"));
        ModelSet::load(&store, None, None).unwrap_or_else(|e| panic!("loading models: {e}"))
    })
}

/// [`models`] as the lazily-loaded models `train` asks for.
pub fn load_models() -> rollcall_host::Result<Arc<dyn Models>> {
    Ok(Arc::new(models().clone()))
}

/// Photos and a work directory after `rollcall run` with every default.
pub struct PipelineRun {
    /// The labelled photo tree (also the truth).
    pub photos: tempfile::TempDir,
    /// The work directory.
    pub work_dir: tempfile::TempDir,
    /// What select-k chose.
    pub selection: Selection,
}

impl PipelineRun {
    /// The work directory's layout.
    pub fn work(&self) -> Work {
        Work::new(self.work_dir.path())
    }
}

/// `rollcall run` on the labelled photos of `sets`.
pub fn run_pipeline(sets: &[&str]) -> PipelineRun {
    let photos = labelled_tree(sets);
    let work_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let out = pipeline::run(photos.path(), &Work::new(work_dir.path()), models(), &RunOptions::default())
        .unwrap_or_else(|e| panic!("run: {}", rollcall_models::error::describe(&e)));
    let selection = out.selection.unwrap_or_else(|| panic!("too few faces in {sets:?}"));
    PipelineRun { photos, work_dir, selection }
}

/// The default recognizer's published same-person threshold, as `run` uses it.
pub fn same_person_threshold() -> Option<(f32, ThresholdSource)> {
    pipeline::same_person_threshold(models(), None)
}

/// Detects and embeds `photos` (identity, path) into `work`, then files each
/// photo's largest face under `clusters/<identity>/`, as a user naming the
/// cluster folders would.
pub fn build_clusters(work: &Work, photos: &[(String, PathBuf)]) {
    let root = faces_dir();
    let list: Vec<PathBuf> = photos.iter().map(|(_, p)| p.clone()).collect();
    let opts = DetectOptions { embed: true, annotate: false, ..DetectOptions::default() };
    let out = detect_photos(&root, &list, work, models(), &opts).unwrap_or_else(|e| panic!("detect: {e:#}"));
    embed::write_table(work, models().card(), out.embeddings).unwrap_or_else(|e| panic!("embed: {e:#}"));
    for ((who, _), rec) in photos.iter().zip(&out.file.photos) {
        let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
        let main = rec
            .faces
            .iter()
            .filter(|f| f.aligned_file.is_some())
            .max_by(|a, b| area(&a.bbox).total_cmp(&area(&b.bbox)))
            .unwrap_or_else(|| panic!("no face in {}", rec.path));
        let chip = main.aligned_file.as_ref().unwrap_or_else(|| panic!("no chip in {}", rec.path));
        let dir = work.clusters().join(who);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        std::fs::copy(work.aligned().join(chip), dir.join(chip)).unwrap_or_else(|e| panic!("{chip}: {e}"));
    }
}

/// A gallery file of the given people, each from the listed photos
/// (relative to the faces folder), trained and exported with the defaults.
pub fn gallery_of(people: &[(&str, &[&str])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let work = Work::new(dir.path().join("work"));
    let photos: Vec<(String, PathBuf)> =
        people.iter().flat_map(|(who, files)| files.iter().map(move |f| (who.to_string(), faces_dir().join(f)))).collect();
    build_clusters(&work, &photos);
    let (gallery, report) = train::train_from_work(&work.clusters(), &work, &train::TrainOptions::default(), &load_models)
        .unwrap_or_else(|e| panic!("train: {e:#}"));
    let model = ModelDir::new(dir.path().join("model"));
    train::write_model_dir(&model, &gallery, &report).unwrap_or_else(|e| panic!("model: {e:#}"));
    let file = dir.path().join("gallery.rcg");
    export::export(&model, &file, rollcall_shared::gallery::VectorForm::I8, "test").unwrap_or_else(|e| panic!("export: {e:#}"));
    (dir, file)
}
