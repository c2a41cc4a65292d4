//! Helpers for rollcall's workspace-level integration tests: where the shared
//! photos are, what `labels.csv` says about them, and one model set per test
//! binary.
//!
//! The photos live beside the checkout in `../shared/data/faces` (override
//! with `ROLLCALL_FACES`); they are never copied into the repository. A test
//! that needs them fails with a message saying where it looked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rollcall_models::{ModelSet, ModelStore};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `../shared/data` beside the checkout.
pub fn shared_data() -> PathBuf {
    match std::env::var_os("ROLLCALL_SHARED_DATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace().join("..").join("shared").join("data"),
    }
}

/// The labelled photos, checked to exist.
pub fn faces_dir() -> PathBuf {
    let dir = match std::env::var_os("ROLLCALL_FACES") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => shared_data().join("faces"),
    };
    assert!(dir.join("labels.csv").is_file(), "the shared test photos are missing: expected {}/labels.csv", dir.display());
    dir
}

/// The reference outputs for numerical agreement.
pub fn golden_json() -> PathBuf {
    let p = shared_data().join("golden").join("reference.json");
    assert!(p.is_file(), "the reference outputs are missing: expected {}", p.display());
    p
}

/// One row of `labels.csv`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Label {
    /// `deepface`, `dlib_johns` or `misc_small`.
    pub set: String,
    /// Identity, or `_group`, `_hard`, `_nonface`.
    pub identity: String,
    /// Path relative to the faces folder.
    pub path: String,
    /// Where the photo came from.
    pub source_path: String,
    /// Free text.
    pub note: String,
}

impl Label {
    /// Whether this is a photo of one labelled person.
    pub fn is_identity(&self) -> bool {
        !self.identity.starts_with('_')
    }

    /// Absolute path.
    pub fn file(&self) -> PathBuf {
        faces_dir().join(&self.path)
    }
}

/// Every row of `labels.csv`.
pub fn labels() -> Vec<Label> {
    let path = faces_dir().join("labels.csv");
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.deserialize().map(|row| row.unwrap_or_else(|e| panic!("{}: {e}", path.display()))).collect()
}

/// Identity photos of one set, grouped by identity, file names sorted.
pub fn identities(set: &str) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for l in labels().into_iter().filter(|l| l.set == set && l.is_identity()) {
        out.entry(l.identity.clone()).or_default().push(l.file());
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The default models, fetched on first use, shared by a test binary.
pub fn models() -> &'static ModelSet {
    static MODELS: OnceLock<ModelSet> = OnceLock::new();
    MODELS.get_or_init(|| {
        let store = ModelStore::open_default().unwrap_or_else(|e| panic!("model store: {e}"));
        ModelSet::load(&store, None, None).unwrap_or_else(|e| panic!("loading models: {e}"))
    })
}

/// A temporary `<identity>/<photo>` tree of symlinks to the labelled photos
/// of `sets` (no `_group`, `_hard` or `_nonface` photos): the input of the
/// clustering tests, and their truth.
pub fn labelled_tree(sets: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    for l in labels().into_iter().filter(|l| sets.contains(&l.set.as_str()) && l.is_identity()) {
        let d = dir.path().join(&l.identity);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        let src = l.file();
        let name = src.file_name().unwrap_or_default().to_owned();
        std::os::unix::fs::symlink(&src, d.join(name)).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    }
    dir
}

/// Photos and a work directory after detect, embed, select-k, cluster and
/// report with every default.
pub struct PipelineRun {
    /// The labelled photo tree (also the truth).
    pub photos: tempfile::TempDir,
    /// The work directory.
    pub work_dir: tempfile::TempDir,
    /// What select-k chose.
    pub selection: rollcall_host::select_k::Selection,
}

impl PipelineRun {
    /// The work directory's layout.
    pub fn work(&self) -> rollcall_host::work::Work {
        rollcall_host::work::Work::new(self.work_dir.path())
    }
}

/// Runs the whole pipeline, as `rollcall run` does, on the labelled photos of `sets`.
pub fn run_pipeline(sets: &[&str]) -> PipelineRun {
    use rollcall_host::{cluster, detect, embed, report, select_k};
    let photos = labelled_tree(sets);
    let work_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let work = rollcall_host::work::Work::new(work_dir.path());
    let set = models();
    let opts = detect::DetectOptions { embed: true, ..detect::DetectOptions::default() };
    let out = detect::detect(photos.path(), &work, set, &opts).unwrap_or_else(|e| panic!("detect: {e:#}"));
    embed::write_table(&work, set, out.embeddings).unwrap_or_else(|e| panic!("embed: {e:#}"));
    let threshold = same_person_threshold();
    let selection =
        select_k::select_k(&work, threshold.clone(), &select_k::SelectKOptions::default()).unwrap_or_else(|e| panic!("select-k: {e:#}"));
    cluster::cluster(&work, threshold, &cluster::ClusterOptions::default()).unwrap_or_else(|e| panic!("cluster: {e:#}"));
    report::write(&work).unwrap_or_else(|e| panic!("report: {e:#}"));
    PipelineRun { photos, work_dir, selection }
}

/// The default recognizer's published same-person threshold, as the CLI finds it.
pub fn same_person_threshold() -> Option<(f32, rollcall_host::select_k::ThresholdSource)> {
    let spec = models().recognizer_spec();
    spec.output.same_person_cosine.map(|t| (t, rollcall_host::select_k::ThresholdSource::Manifest(spec.name.clone())))
}

/// Detects and embeds `photos` (identity, path) into `work`, then files each
/// photo's largest face under `clusters/<identity>/`, as a user naming the
/// cluster folders would.
pub fn build_clusters(work: &rollcall_host::work::Work, photos: &[(String, PathBuf)]) {
    use rollcall_host::detect::{DetectOptions, detect_photos};
    let root = faces_dir();
    let list: Vec<PathBuf> = photos.iter().map(|(_, p)| p.clone()).collect();
    let opts = DetectOptions { embed: true, annotate: false, ..DetectOptions::default() };
    let out = detect_photos(&root, &list, work, models(), &opts).unwrap_or_else(|e| panic!("detect: {e:#}"));
    rollcall_host::embed::write_table(work, models(), out.embeddings).unwrap_or_else(|e| panic!("embed: {e:#}"));
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
    let work = rollcall_host::work::Work::new(dir.path().join("work"));
    let photos: Vec<(String, PathBuf)> =
        people.iter().flat_map(|(who, files)| files.iter().map(move |f| (who.to_string(), faces_dir().join(f)))).collect();
    build_clusters(&work, &photos);
    let mut loader = || Ok(models().clone());
    let opts = rollcall_host::train::TrainOptions::default();
    let (gallery, report) =
        rollcall_host::train::train_from_work(&work.clusters(), &work, &opts, &mut loader).unwrap_or_else(|e| panic!("train: {e:#}"));
    let model = dir.path().join("model");
    rollcall_host::train::write_model_dir(&model, &gallery, &report).unwrap_or_else(|e| panic!("model: {e:#}"));
    let file = dir.path().join("gallery.rcg");
    rollcall_host::export::export(&model, &file, rollcall_shared::gallery::VectorForm::I8, "test")
        .unwrap_or_else(|e| panic!("export: {e:#}"));
    (dir, file)
}
