//! Helpers of the real-model suites: the shared photos (through
//! `rollcall-testkit`), one model set per test binary, and the pipeline and
//! galleries built the way a user builds them.

pub mod browser;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rollcall_host::artifacts::selection::{Selection, ThresholdSource};
use rollcall_host::artifacts::training::ModelDir;
use rollcall_host::artifacts::{Work, WorkDir};
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::stages::detect::{DetectOptions, detect_photos};
use rollcall_host::stages::{embed, export, train};
use rollcall_models::{FaceFilter, ModelSet, ModelStore, Models, Verdict};
use rollcall_shared::align::RgbView;
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
    /// The work directory, held (locked) for as long as the run lives.
    work: WorkDir,
    /// Keeps the work directory's folder alive.
    _work_dir: tempfile::TempDir,
    /// What select-k chose.
    pub selection: Selection,
}

impl PipelineRun {
    /// The work directory.
    pub fn work(&self) -> &WorkDir {
        &self.work
    }
}

/// `rollcall run` on the labelled photos of `sets`.
pub fn run_pipeline(sets: &[&str]) -> PipelineRun {
    let photos = labelled_tree(sets);
    let work_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let work = Work::new(work_dir.path()).claim().unwrap_or_else(|e| panic!("work dir: {e}"));
    let out = pipeline::run(photos.path(), &work, models(), &RunOptions::default())
        .unwrap_or_else(|e| panic!("run: {}", rollcall_models::error::describe(&e)));
    let selection = out.selection.unwrap_or_else(|| panic!("too few faces in {sets:?}"));
    PipelineRun { photos, work, _work_dir: work_dir, selection }
}

/// The default recognizer's published same-person threshold, as `run` uses it.
pub fn same_person_threshold() -> Option<(f32, ThresholdSource)> {
    pipeline::same_person_threshold(models(), None)
}

/// Detects and embeds `photos` (identity, path) into `work`, then files each
/// photo's largest face under `clusters/<identity>/`, as a user naming the
/// cluster folders would.
pub fn build_clusters(work: &WorkDir, photos: &[(String, PathBuf)]) {
    let root = faces_dir();
    let list: Vec<PathBuf> = photos.iter().map(|(_, p)| p.clone()).collect();
    let opts = DetectOptions { embed: true, annotate: false, ..DetectOptions::default() };
    let out = detect_photos(&root, &list, work, models(), &opts).unwrap_or_else(|e| panic!("detect: {e:#}"));
    embed::write_table(work, models().card(), out.embeddings).unwrap_or_else(|e| panic!("embed: {e:#}"));
    for (who, photo) in photos {
        // The records are sorted by path, not in the order asked for.
        let rec = out
            .file
            .photos
            .iter()
            .find(|r| std::path::Path::new(&r.path) == photo)
            .unwrap_or_else(|| panic!("no record of {}", photo.display()));
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

/// `train`'s defaults with the recognizer's published same-person score,
/// as the CLI finds it.
pub fn train_options() -> train::TrainOptions {
    let mut o = train::TrainOptions::default();
    o.learn.same_person = models().card().same_person_cosine;
    o
}

/// A gallery file of the given people, each from the listed photos
/// (relative to the faces folder), trained and exported with the defaults.
pub fn gallery_of(people: &[(&str, &[&str])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let work = Work::new(dir.path().join("work")).claim().unwrap_or_else(|e| panic!("work dir: {e}"));
    let photos: Vec<(String, PathBuf)> =
        people.iter().flat_map(|(who, files)| files.iter().map(move |f| (who.to_string(), faces_dir().join(f)))).collect();
    build_clusters(&work, &photos);
    let (gallery, report) =
        train::train_from_work(&work.clusters(), &work, &train_options(), &load_models).unwrap_or_else(|e| panic!("train: {e:#}"));
    let model = ModelDir::new(dir.path().join("model"));
    train::write_model_dir(&model, &gallery, &report).unwrap_or_else(|e| panic!("model: {e:#}"));
    let file = dir.path().join("gallery.rcg");
    export::export(&model, &file, rollcall_shared::gallery::VectorForm::I8, "test").unwrap_or_else(|e| panic!("export: {e:#}"));
    (dir, file)
}

/// Every kept face's embedding in a photo.
pub fn embeddings(path: &Path) -> Vec<Vec<f32>> {
    faces_of(path).into_iter().map(|(_, e)| e).collect()
}

/// The largest face's embedding (the person the photo is labelled with).
pub fn main_embedding(path: &Path) -> Vec<f32> {
    faces_of(path).into_iter().max_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, e)| e).unwrap_or_else(|| panic!("no face in {}", path.display()))
}

/// The kept faces of a photo: box area and embedding. Remembered for the
/// test binary's life: the modules ask for the same photos' faces again and
/// again, and the models and the filter are always the same.
fn faces_of(path: &Path) -> Vec<(f32, Vec<f32>)> {
    type Seen = std::sync::Mutex<std::collections::HashMap<PathBuf, Vec<(f32, Vec<f32>)>>>;
    static SEEN: OnceLock<Seen> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(faces) = seen.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
        return faces.clone();
    }
    let faces = detect_and_embed(path);
    seen.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_path_buf(), faces.clone());
    faces
}

fn detect_and_embed(path: &Path) -> Vec<(f32, Vec<f32>)> {
    let img = rollcall_models::decode::load_rgb(path).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = models().engine(Default::default()).unwrap_or_else(|e| panic!("engine: {e}"));
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let faces = engine.faces_with_embeddings(view, &FaceFilter::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    faces.into_iter().filter(|(f, _)| f.verdict == Verdict::Kept).filter_map(|(f, e)| Some((f.detection.bbox.area(), e?))).collect()
}
