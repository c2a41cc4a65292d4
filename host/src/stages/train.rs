//! Stage 6, train: learn the people the user named.
//!
//! Reads: a clusters folder (every subfolder a person, except junk: by
//! default `unknown`, `junk` and names starting with `_` or `.`), and the
//! run's `embeddings.parquet` by chip file name; a chip the user added from
//! elsewhere is embedded on the fly (a photo that is not a 112 x 112 chip
//! has its largest face detected and aligned first). Writes into the model
//! folder: `model.rcg`, `training.json` and `confusion_<classifier>.svg`
//! (see [`crate::artifacts::training`]). How the classifiers are fitted,
//! cross-validated and calibrated is [`crate::analysis::learn`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rollcall_files::photos::is_photo_name;
use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::Gallery;

pub use crate::analysis::learn::{LearnOptions, TrainingSet};
use crate::artifacts::detections::DetectionsFile;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::skips::{SkipReason, skipped};
use crate::artifacts::training::{ModelDir, TrainingReport};
use crate::artifacts::{Skipped, Work, people};
use crate::error::{Error, Result};
use crate::render::charts;

/// Settings of training.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Folder names that are not people (besides names starting with `_`).
    pub junk: Vec<String>,
    pub learn: LearnOptions,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { junk: people::default_junk(), learn: LearnOptions::default() }
    }
}

/// Reads the people folders under `clusters`, with embeddings from `table`
/// and, for chips not in it, from `models` (loaded only if needed).
pub fn load_training_set(
    clusters: &Path,
    table: &EmbeddingTable,
    junk: &[String],
    models: &mut dyn FnMut() -> Result<Box<dyn FaceEngine>>,
) -> Result<(TrainingSet, Vec<Skipped>)> {
    let people = people::folders(clusters, junk)?;
    let index: BTreeMap<&str, usize> = table.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let mut engine: Option<Box<dyn FaceEngine>> = None;
    let mut rows: Vec<f32> = Vec::new();
    let (mut y, mut files, mut labels, mut skips) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, dir) in &people {
        let mut chips: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(Error::read(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_photo_name(p))
            .collect();
        chips.sort();
        let before = y.len();
        for chip in chips {
            let file = chip.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let emb = match index.get(file.as_str()) {
                Some(&i) => table.row(i).to_vec(),
                None => {
                    let e = match &mut engine {
                        Some(e) => e,
                        None => engine.insert(models()?),
                    };
                    match embed_added(e.as_mut(), &chip) {
                        Ok(v) => v,
                        Err(why) => {
                            tracing::warn!("skipping {}: {}", chip.display(), why.describe());
                            skips.push(skipped(&chip, &why));
                            continue;
                        }
                    }
                }
            };
            if emb.len() != table.dim {
                return Err(Error::Table {
                    path: chip.clone(),
                    reason: format!("embedding of {} values, the table has {}", emb.len(), table.dim),
                });
            }
            rows.extend(emb);
            y.push(labels.len());
            files.push(file);
        }
        if y.len() > before {
            labels.push(name.clone());
        } else {
            skips.push(Skipped { path: dir.clone(), reason: "no usable faces in this folder".into() });
        }
    }
    if labels.len() < 2 {
        return Err(Error::TooFewPeople { dir: clusters.to_path_buf(), found: labels.len() });
    }
    let x = Array2::from_shape_vec((y.len(), table.dim), rows)
        .map_err(|e| Error::Table { path: clusters.to_path_buf(), reason: e.to_string() })?;
    Ok((TrainingSet { x, y, labels, files }, skips))
}

/// Embeds an image the user added: a chip of the recognizer's size as it
/// is, anything else by detecting and aligning its largest face.
fn embed_added(engine: &mut dyn FaceEngine, path: &Path) -> Result<Vec<f32>, SkipReason> {
    let img = rollcall_models::decode::load_rgb(path)?;
    let size = engine.chip_size();
    if img.dimensions() == (size, size) {
        return Ok(engine.embed(img.as_raw())?);
    }
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let faces = engine.faces(view, &FaceFilter::default())?;
    let best = faces
        .into_iter()
        .filter(|f| f.verdict == Verdict::Kept)
        .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
        .ok_or(SkipReason::NoFace)?;
    Ok(engine.embed(best.chip.as_deref().ok_or(SkipReason::NoFace)?)?)
}

/// Learns `data` and writes nothing: the gallery (thresholds, default
/// classifier) and the report's figures.
pub fn train(data: &TrainingSet, opts: &LearnOptions) -> Result<(Gallery, TrainingReport)> {
    let learned = crate::analysis::learn::learn(data, opts)?;
    let faces = data.faces_per_person();
    let report = TrainingReport {
        people: data.labels.clone(),
        never_held_out: (0..data.people()).filter(|&c| faces[c] < 2).map(|c| data.labels[c].clone()).collect(),
        faces,
        folds: learned.folds,
        default_classifier: learned.gallery.default_classifier,
        classifiers: learned.reports,
        skipped: Vec::new(),
        clusters: String::new(),
        work: String::new(),
    };
    Ok((learned.gallery, report))
}

/// Trains from a clusters folder inside a work directory: embeddings from
/// its `embeddings.parquet`, model hashes from it and `detections.json`.
/// `models` is asked for an engine only if a folder holds a chip the table
/// lacks.
pub fn train_from_work(
    clusters: &Path,
    work: &Work,
    opts: &TrainOptions,
    models: &dyn Fn() -> Result<std::sync::Arc<dyn Models>>,
) -> Result<(Gallery, TrainingReport)> {
    let table = EmbeddingTable::read(&work.embeddings())?;
    let detections = DetectionsFile::read(&work.detections_json())?;
    let hash =
        |s: &str, which| rollcall_shared::digest::parse_sha256(s).ok_or(Error::NoModelHash { dir: work.root().to_path_buf(), which });
    let recognizer = hash(table.recognizer_sha256.as_deref().unwrap_or(""), "recognizer")?;
    let detector = hash(&detections.detector.sha256, "detector")?;
    let mut engine = || -> Result<Box<dyn FaceEngine>> {
        let set = models()?;
        if set.card().recognizer.sha256 != table.recognizer_sha256.as_deref().unwrap_or("") {
            return Err(Error::RecognizerMismatch { dir: clusters.to_path_buf() });
        }
        Ok(set.engine(Default::default())?)
    };
    let (data, skips) = load_training_set(clusters, &table, &opts.junk, &mut engine)?;
    let (mut gallery, mut report) = train(&data, &opts.learn)?;
    gallery.detector_sha256 = detector;
    gallery.recognizer_sha256 = recognizer;
    gallery.created.note = clusters.display().to_string();
    report.skipped = skips;
    report.clusters = clusters.display().to_string();
    report.work = work.root().display().to_string();
    Ok((gallery, report))
}

/// Trains on the same folders with every chip embedded afresh by `models`
/// (the int8 models, say), so the gallery records those models' hashes.
pub fn train_with_models(clusters: &Path, models: &dyn Models, opts: &TrainOptions) -> Result<(Gallery, TrainingReport)> {
    let empty = EmbeddingTable { dim: models.card().dim, ..EmbeddingTable::default() };
    let mut engine = || Ok(models.engine(Default::default())?);
    let (data, skips) = load_training_set(clusters, &empty, &opts.junk, &mut engine)?;
    let (mut gallery, mut report) = train(&data, &opts.learn)?;
    gallery.detector_sha256 = models.card().detector.digest();
    gallery.recognizer_sha256 = models.card().recognizer.digest();
    gallery.created.note = clusters.display().to_string();
    report.skipped = skips;
    report.clusters = clusters.display().to_string();
    Ok((gallery, report))
}

/// Writes the model folder: `model.rcg`, `training.json`, confusion charts.
pub fn write_model_dir(dir: &ModelDir, gallery: &Gallery, report: &TrainingReport) -> Result<()> {
    dir.write(gallery, report)?;
    for c in &report.classifiers {
        charts::confusion(
            &dir.confusion_svg(c.classifier),
            &format!("{}: held-out accuracy {:.3}", c.classifier.name(), c.accuracy),
            &report.people,
            &c.confusion,
        )?;
    }
    Ok(())
}
