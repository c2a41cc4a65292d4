//! The stages chained: `rollcall run` (detect → embed → select-k →
//! cluster → report) and `rollcall export --quantize` (quantize → retrain
//! on the int8 embeddings → export).

use std::path::{Path, PathBuf};

use rollcall_models::{ModelSet, Models};
use rollcall_shared::gallery::VectorForm;
use rollcall_shared::signature::SecretKey;

use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::fidelity::Fidelity;
use crate::artifacts::selection::{Selection, ThresholdSource};
use crate::artifacts::training::ModelDir;
use crate::artifacts::{Work, WorkDir};
use crate::error::{Error, Result};
use crate::stages::cluster::{self, ClusterOptions, ClusterOutcome};
use crate::stages::detect::{self, DetectOptions, DetectOutcome};
use crate::stages::export::{self, Exported};
use crate::stages::quantize::{self, QuantizeOptions};
use crate::stages::select_k::{self, SelectKOptions};
use crate::stages::{embed, train};

/// Settings of `rollcall run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads of the whole run (`--jobs`): every stage's, the
    /// analysis' too. It replaces the `jobs` of each stage's settings.
    pub jobs: usize,
    pub detect: DetectOptions,
    pub select_k: SelectKOptions,
    /// Clustering (`force` included).
    pub cluster: ClusterOptions,
    /// Same-person cosine [default: the recognizer's published one].
    pub threshold: Option<f32>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: rollcall_models::runtime::default_workers(),
            detect: DetectOptions::default(),
            select_k: SelectKOptions::default(),
            cluster: ClusterOptions::default(),
            threshold: None,
        }
    }
}

/// What `rollcall run` did. The later stages are `None` when there were
/// too few faces to look for people.
#[derive(Debug)]
pub struct RunOutcome {
    pub detect: DetectOutcome,
    /// The embedding table written.
    pub table: EmbeddingTable,
    pub selection: Option<Selection>,
    pub clusters: Option<ClusterOutcome>,
    pub report: Option<PathBuf>,
    /// Wall time of each stage, in order (`detect`, `embeddings`,
    /// `select-k`, `cluster`, `report`).
    pub stage_times: Vec<(&'static str, std::time::Duration)>,
}

/// Faces needed before looking for people is meaningful.
pub const MIN_FACES: usize = 3;

/// The same-person threshold a run uses: `flag`, else the recognizer's
/// published one, else none (select-k reads one off the data).
pub fn same_person_threshold(models: &dyn Models, flag: Option<f32>) -> Option<(f32, ThresholdSource)> {
    match flag {
        Some(t) => Some((t, ThresholdSource::Flag)),
        None => {
            let card = models.card();
            card.same_person_cosine.map(|t| (t, ThresholdSource::Manifest(card.recognizer.name.clone())))
        }
    }
}

/// The whole pipeline on `photos` into `work`.
pub fn run(photos: &Path, work: &WorkDir, models: &dyn Models, opts: &RunOptions) -> Result<RunOutcome> {
    if work.clusters().exists() && !opts.cluster.force {
        // Fail before the slow part: the last step would refuse anyway.
        cluster::check_clusters_dir(&work.clusters())?;
    }
    let mut times = Vec::new();
    let mut timed = |name: &'static str, started: std::time::Instant| times.push((name, started.elapsed()));
    let detect_opts = DetectOptions { embed: true, jobs: opts.jobs, ..opts.detect.clone() };
    let t = std::time::Instant::now();
    let mut detected = detect::detect(photos, work, models, &detect_opts)?;
    timed("detect", t);
    let t = std::time::Instant::now();
    let table = embed::write_table(work, models.card(), std::mem::take(&mut detected.embeddings))?;
    timed("embeddings", t);
    let mut outcome = RunOutcome { detect: detected, table, selection: None, clusters: None, report: None, stage_times: Vec::new() };
    if outcome.table.len() >= MIN_FACES {
        let threshold = same_person_threshold(models, opts.threshold);
        let t = std::time::Instant::now();
        let select_k_opts = SelectKOptions { jobs: opts.jobs, ..opts.select_k.clone() };
        outcome.selection = Some(select_k::select_k(work, threshold.clone(), &select_k_opts)?);
        timed("select-k", t);
        let t = std::time::Instant::now();
        outcome.clusters = Some(cluster::cluster(work, threshold, &ClusterOptions { jobs: opts.jobs, ..opts.cluster.clone() })?);
        timed("cluster", t);
        let t = std::time::Instant::now();
        outcome.report = Some(crate::render::report::write(work)?);
        timed("report", t);
    }
    outcome.stage_times = times;
    Ok(outcome)
}

/// What `export --quantize` wrote besides the gallery.
#[derive(Debug)]
pub struct QuantizedExport {
    /// Folder with the int8 models, their manifest and `fidelity.json`.
    pub models_dir: PathBuf,
    /// The gallery retrained on int8 embeddings (records the int8 hashes).
    pub gallery: PathBuf,
    pub exported: Exported,
    pub fidelity: Fidelity,
}

/// `export --quantize`: int8 models calibrated on the training run's work
/// directory, and a second gallery whose faces are embedded by the int8
/// recognizer, so that a device running the int8 models accepts it.
pub fn export_quantized(
    model: &ModelDir,
    out: &Path,
    form: VectorForm,
    fp32: &dyn Models,
    key: Option<&SecretKey>,
) -> Result<QuantizedExport> {
    let fp32: &ModelSet = fp32.onnx().ok_or(Error::NeedsOnnx { command: "export --quantize" })?;
    let report = model.read_report()?;
    if report.work.is_empty() || report.clusters.is_empty() {
        return Err(Error::Missing { path: model.report(), hint: "it does not say which run it came from; train again" });
    }
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "gallery".into());
    let models_dir = out.with_file_name(format!("{stem}-int8-models"));
    let work = Work::new(&report.work).open()?;
    let fidelity = quantize::quantize(&work, fp32, &models_dir, &QuantizeOptions::default())?;
    let manifest = rollcall_models::Manifest::load(&models_dir.join("manifest.toml"))?;
    let int8 = ModelSet::load(&rollcall_models::ModelStore::open(&models_dir, manifest)?, None, None)?;
    // The same folders `train` learned, as they were learned.
    let opts = train::TrainOptions { include_unnamed: true, ..train::TrainOptions::default() };
    let (g8, _) = train::train_with_models(Path::new(&report.clusters), &int8, &opts)?;
    let gallery = out.with_file_name(format!("{stem}.int8.rcg"));
    let exported = export::write_gallery(&g8, &gallery, form, &format!("{} (int8 models)", model.root().display()), key, false)?;
    Ok(QuantizedExport { models_dir, gallery, exported, fidelity })
}

/// Where [`retrain`] writes: the model folder, and the gallery exported
/// from it (with the key that signs it) if asked for.
#[derive(Debug, Clone, Copy)]
pub struct RetrainTo<'a> {
    pub model: &'a ModelDir,
    pub gallery: Option<(&'a Path, Option<&'a SecretKey>)>,
}

/// What [`retrain`] made.
#[derive(Debug)]
pub struct Retrained {
    pub report: crate::artifacts::training::TrainingReport,
    /// The gallery written, if one was asked for.
    pub exported: Option<Exported>,
}

/// Train, write the model folder, export the gallery: what `rollcall
/// train`, `forget --model` and the review page's "Train and export" do.
///
/// With `work`, the faces' embeddings come from its `embeddings.parquet`
/// (`load` is asked for models only for a chip the table lacks), and the
/// same-person cosine is the one `published` gives for the recognizer that
/// made them; without it, every face under `clusters` is embedded afresh by
/// `load`'s models, with their card's cosine.
pub fn retrain(
    clusters: &Path,
    work: Option<&WorkDir>,
    opts: &train::TrainOptions,
    published: &dyn Fn(&str) -> Option<f32>,
    load: &dyn Fn() -> Result<std::sync::Arc<dyn Models>>,
    to: RetrainTo<'_>,
) -> Result<Retrained> {
    let (gallery, report) = match work {
        Some(work) => {
            // Read once: the recognizer it names gives the cosine, and the
            // training uses its rows.
            let table = EmbeddingTable::read(&work.embeddings())?;
            let mut opts = opts.clone();
            opts.learn.same_person = opts.learn.same_person.or_else(|| table.recognizer.as_deref().and_then(published));
            train::train_from_table(clusters, work, &table, &opts, load)?
        }
        None => train::train_with_models(clusters, load()?.as_ref(), opts)?,
    };
    train::write_model_dir(to.model, &gallery, &report)?;
    let exported = match to.gallery {
        Some((out, key)) => Some(export::export_signed(to.model, out, VectorForm::I8, &to.model.root().display().to_string(), key, false)?),
        None => None,
    };
    Ok(Retrained { report, exported })
}

/// How [`forget`] trains again: the recognizer's published cosine, the
/// models for chips the table lacks, and where the model and gallery go.
pub struct Again<'a> {
    pub published: &'a dyn Fn(&str) -> Option<f32>,
    pub load: &'a dyn Fn() -> Result<std::sync::Arc<dyn Models>>,
    pub to: RetrainTo<'a>,
}

/// `rollcall forget`: one person out of the work directory, then, with
/// `again`, the model (and gallery) trained again without them, on the
/// folders as the model had them (unnamed ones were learned with
/// `--include-unnamed`, or the model could not have been made).
pub fn forget(work: &WorkDir, name: &str, again: Option<Again<'_>>) -> Result<(crate::stages::forget::Forgotten, Option<Retrained>)> {
    let forgotten = crate::stages::forget::forget(work, name)?;
    let retrained = match again {
        Some(a) => {
            let opts = train::TrainOptions { include_unnamed: true, ..train::TrainOptions::default() };
            Some(retrain(&work.clusters(), Some(work), &opts, a.published, a.load, a.to)?)
        }
        None => None,
    };
    Ok((forgotten, retrained))
}
