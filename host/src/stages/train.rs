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
//!
//! Before anything is fitted, faces that look like label mistakes are found
//! and left out (`crate::analysis::suspects`): the same file in two folders,
//! a chip closer to another person than to its own folder, folders that look
//! like one person. `--strict` refuses to train while any remain. Faces in
//! the outlier and junk folders, and bystanders (the other faces of a photo
//! whose named face is in a person's folder, when the user took them out of
//! every person's folder), are the user's own strangers, and calibrate the
//! thresholds (see `crate::analysis::calibration`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::Gallery;

pub use crate::analysis::learn::{Context, LearnOptions, TrainingSet};
use crate::analysis::suspects;
use crate::artifacts::detections::DetectionsFile;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::skips::{SkipReason, skipped};
use crate::artifacts::training::{LookAlike, Suspect, Why};
use crate::artifacts::training::{ModelDir, TrainingReport};
use crate::artifacts::{Skipped, WorkDir, people};
use crate::error::{Error, Result};
use crate::render::charts;

/// Settings of training.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Folder names that are not people (besides names starting with `_`).
    pub junk: Vec<String>,
    /// How to learn.
    pub learn: LearnOptions,
    /// Refuse to train while any face or folder looks like a label mistake.
    pub strict: bool,
    /// Learn folders still called `person_<n>` as people of that name.
    pub include_unnamed: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { junk: people::default_junk(), learn: LearnOptions::default(), strict: false, include_unnamed: false }
    }
}

/// The faces of the people folders as found, one row each, with the file
/// each came from and its content hash.
#[derive(Debug)]
pub struct Labelled {
    /// The faces, labelled by folder.
    pub data: TrainingSet,
    /// The chip (or photo) of each row.
    pub paths: Vec<PathBuf>,
    /// The sha256 of each row's file.
    pub hashes: Vec<String>,
    /// Files that could not be used.
    pub skipped: Vec<Skipped>,
}

/// Refuses folders that still carry the name `cluster` gave them
/// (`person_<n>`, `person_new_<n>` from a split in `review`) unless
/// `include_unnamed`: a gallery that says `person_7` names nobody.
fn check_named(clusters: &Path, opts: &TrainOptions) -> Result<()> {
    if opts.include_unnamed {
        return Ok(());
    }
    let unnamed: Vec<String> =
        people::folders(clusters, &opts.junk)?.into_iter().map(|(name, _)| name).filter(|n| people::is_unnamed(n)).collect();
    if unnamed.is_empty() {
        return Ok(());
    }
    Err(Error::Unnamed { clusters: clusters.to_path_buf(), folders: unnamed })
}

/// Reads the people folders under `clusters`, with embeddings from `table`
/// and, for chips not in it, from `models` (asked for an engine only if
/// needed).
pub fn load_training_set(
    clusters: &Path,
    table: &EmbeddingTable,
    junk: &[String],
    models: &mut dyn FnMut() -> Result<Box<dyn FaceEngine>>,
) -> Result<Labelled> {
    let people = people::folders(clusters, junk)?;
    let index: BTreeMap<&str, usize> = table.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let mut engine: Option<Box<dyn FaceEngine>> = None;
    let mut rows: Vec<f32> = Vec::new();
    let (mut y, mut files, mut labels, mut skips) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut paths, mut hashes) = (Vec::new(), Vec::new());
    for (name, dir) in &people {
        let before = y.len();
        for chip in photo_files(dir)? {
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
                            tracing::warn!(
                                "skipping {}: {}",
                                rollcall_files::shown(&chip),
                                rollcall_files::shown::escape_controls(&why.describe())
                            );
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
            hashes.push(rollcall_files::sha256_file(&chip).map_err(Error::read(&chip))?);
            rows.extend(emb);
            y.push(labels.len());
            files.push(file);
            paths.push(chip);
        }
        if y.len() > before {
            labels.push(name.clone());
        } else {
            skips.push(Skipped { path: dir.clone(), reason: "no usable faces in this folder".into() });
        }
    }
    let x = Array2::from_shape_vec((y.len(), table.dim), rows)
        .map_err(|e| Error::Table { path: clusters.to_path_buf(), reason: e.to_string() })?;
    Ok(Labelled { data: TrainingSet { x, y, labels, files }, paths, hashes, skipped: skips })
}

/// The photos and chips in a person's (or the strangers') folder, and in the
/// folders inside it (`unknown/person_7/`, as a file manager makes when
/// folders of strangers are moved into `unknown`), sorted: the listing every
/// command makes of photos (links followed once, hidden entries left out),
/// what could not be listed said in a warning.
fn photo_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let listing = rollcall_files::photos::list(dir, &[])?;
    for (path, why) in &listing.problems {
        tracing::warn!(
            "skipping {}: {}",
            rollcall_files::shown(path),
            rollcall_files::shown::escape_controls(&rollcall_models::error::describe(why))
        );
    }
    Ok(listing.photos)
}

/// The faces with label mistakes taken out; see the module docs.
#[derive(Debug)]
pub struct Cleaned {
    /// What is left to learn.
    pub data: TrainingSet,
    /// The faces left out, and why.
    pub suspects: Vec<Suspect>,
    /// Folders that look like one person.
    pub look_alikes: Vec<LookAlike>,
    /// Their indices in `data`.
    pub look_alike_pairs: Vec<(usize, usize)>,
    /// Folders left without a face.
    pub emptied: Vec<Skipped>,
}

/// Takes the label mistakes out of `l`: copies of a file kept once, chips
/// closer to another person, and notes folders that look alike (at the
/// recognizer's same-person score, when it has one).
pub fn clean(l: &Labelled, same_person: Option<f32>) -> Cleaned {
    let n = l.data.y.len();
    let mut keep = vec![true; n];
    let mut suspects = Vec::new();
    for (row, kept) in suspects::duplicates(&l.data, &l.hashes, &l.paths) {
        keep[row] = false;
        suspects.push(Suspect { file: l.paths[row].clone(), why: Why::Duplicate { kept } });
    }
    let (unique, mut dropped) = l.data.retain(&keep);
    let unique_rows: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    let alike = same_person.map(|t| suspects::look_alikes(&unique, t)).unwrap_or_default();
    let mut keep_unique = vec![true; unique.y.len()];
    for (row, why) in suspects::misfits(&unique, &alike) {
        keep_unique[row] = false;
        suspects.push(Suspect { file: l.paths[unique_rows[row]].clone(), why });
    }
    let (data, more) = unique.retain(&keep_unique);
    dropped.extend(more);
    let look_alikes: Vec<LookAlike> =
        alike.iter().map(|&(a, b, cosine)| LookAlike { a: unique.labels[a].clone(), b: unique.labels[b].clone(), cosine }).collect();
    let index = |name: &str| data.labels.iter().position(|l| l == name);
    let look_alike_pairs = look_alikes.iter().filter_map(|la| Some((index(&la.a)?, index(&la.b)?))).collect();
    let emptied = dropped
        .into_iter()
        .map(|name| Skipped {
            path: PathBuf::from(&name),
            reason: "every face in this folder was left out as a likely label mistake".into(),
        })
        .collect();
    Cleaned { data, suspects, look_alikes, look_alike_pairs, emptied }
}

/// The user's own strangers, as found in the work directory: the faces in
/// `clusters`' outlier and junk folders, and the bystanders: the other
/// faces of a photo whose named face is in a person's folder, when they are
/// in no person's folder themselves (the user took them out).
fn strangers(
    clusters: &Path,
    work: &WorkDir,
    table: &EmbeddingTable,
    detections: &DetectionsFile,
    named: &[PathBuf],
    junk: &[String],
) -> Result<(Vec<PathBuf>, Vec<f32>)> {
    let index: BTreeMap<&str, usize> = table.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let (mut paths, mut rows) = (Vec::new(), Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    for dir in people::junk_folders(clusters, junk)? {
        for chip in photo_files(&dir)? {
            let file = chip.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(&i) = index.get(file.as_str())
                && seen.insert(file)
            {
                rows.extend_from_slice(table.row(i));
                paths.push(chip);
            }
        }
    }
    let named: std::collections::BTreeSet<String> =
        named.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
    for photo in &detections.photos {
        let chips: Vec<&String> = photo.faces.iter().filter_map(|f| f.aligned_file.as_ref()).collect();
        if !chips.iter().any(|c| named.contains(*c)) {
            continue;
        }
        for chip in chips.into_iter().filter(|c| !named.contains(*c)) {
            if let Some(&i) = index.get(chip.as_str())
                && seen.insert(chip.clone())
            {
                rows.extend_from_slice(table.row(i));
                paths.push(work.aligned().join(chip));
            }
        }
    }
    Ok((paths, rows))
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
pub fn train(data: &TrainingSet, ctx: &Context, opts: &LearnOptions) -> Result<(Gallery, TrainingReport)> {
    let learned = crate::analysis::learn::learn(data, ctx, opts)?;
    let faces = data.faces_per_person();
    let report = TrainingReport {
        people: data.labels.clone(),
        never_held_out: (0..data.people()).filter(|&c| faces[c] < 2).map(|c| data.labels[c].clone()).collect(),
        faces,
        folds: learned.folds,
        default_classifier: learned.gallery.default_classifier,
        classifiers: learned.reports,
        skipped: Vec::new(),
        suspects: Vec::new(),
        look_alikes: Vec::new(),
        strangers: ctx.strangers.as_ref().map_or(0, |s| s.nrows()),
        clusters: String::new(),
        work: String::new(),
    };
    Ok((learned.gallery, report))
}

/// Cleans, checks `--strict`, gathers the strangers and learns.
fn learn_folders(
    l: Labelled,
    stranger_faces: (Vec<PathBuf>, Vec<f32>),
    clusters: &Path,
    opts: &TrainOptions,
) -> Result<(Gallery, TrainingReport)> {
    let mut cleaned = clean(&l, opts.learn.same_person);
    let d = l.data.x.ncols();
    let (stranger_paths, rows) = stranger_faces;
    let all = Array2::from_shape_vec((stranger_paths.len(), d), rows)
        .map_err(|e| Error::Table { path: clusters.to_path_buf(), reason: e.to_string() })?;
    let mut keep = vec![true; all.nrows()];
    for (row, why) in suspects::members_among_strangers(&cleaned.data, &all) {
        keep[row] = false;
        cleaned.suspects.push(Suspect { file: stranger_paths[row].clone(), why });
    }
    if opts.strict && (!cleaned.suspects.is_empty() || !cleaned.look_alikes.is_empty()) {
        let mut listing: Vec<String> = cleaned.suspects.iter().map(|s| format!("{}: {}", rollcall_files::shown(&s.file), s.why)).collect();
        listing
            .extend(cleaned.look_alikes.iter().map(|la| format!("{} and {} look like one person (cosine {:.3})", la.a, la.b, la.cosine)));
        return Err(Error::Suspects { count: listing.len(), listing: listing.join("; ") });
    }
    if cleaned.data.people() < 2 {
        return Err(Error::TooFewPeople { dir: clusters.to_path_buf(), found: cleaned.data.people() });
    }
    let rows: Vec<usize> = (0..all.nrows()).filter(|&i| keep[i]).collect();
    let ctx = Context { strangers: Some(all.select(ndarray::Axis(0), &rows)), look_alikes: cleaned.look_alike_pairs.clone() };
    let (mut gallery, mut report) = train(&cleaned.data, &ctx, &opts.learn)?;
    gallery.created.note = clusters.display().to_string();
    report.skipped = l.skipped;
    report.skipped.extend(cleaned.emptied);
    report.suspects = cleaned.suspects;
    report.look_alikes = cleaned.look_alikes;
    report.clusters = clusters.display().to_string();
    Ok((gallery, report))
}

/// Trains from a clusters folder inside a work directory: embeddings from
/// its `embeddings.parquet`, model hashes from it and `detections.json`.
/// `models` is asked for an engine only if a folder holds a chip the table
/// lacks.
pub fn train_from_work(
    clusters: &Path,
    work: &WorkDir,
    opts: &TrainOptions,
    models: &dyn Fn() -> Result<std::sync::Arc<dyn Models>>,
) -> Result<(Gallery, TrainingReport)> {
    train_from_table(clusters, work, &EmbeddingTable::read(&work.embeddings())?, opts, models)
}

/// [`train_from_work`] with the work directory's embeddings already read
/// (`table`), for a caller that needed them first.
pub fn train_from_table(
    clusters: &Path,
    work: &WorkDir,
    table: &EmbeddingTable,
    opts: &TrainOptions,
    models: &dyn Fn() -> Result<std::sync::Arc<dyn Models>>,
) -> Result<(Gallery, TrainingReport)> {
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
    check_named(clusters, opts)?;
    let labelled = load_training_set(clusters, table, &opts.junk, &mut engine)?;
    let strangers = strangers(clusters, work, table, &detections, &labelled.paths, &opts.junk)?;
    let (mut gallery, mut report) = learn_folders(labelled, strangers, clusters, opts)?;
    gallery.detector_sha256 = detector;
    gallery.recognizer_sha256 = recognizer;
    report.work = work.root().display().to_string();
    Ok((gallery, report))
}

/// Trains on the same folders with every chip embedded afresh by `models`
/// (the int8 models, say), so the gallery records those models' hashes.
pub fn train_with_models(clusters: &Path, models: &dyn Models, opts: &TrainOptions) -> Result<(Gallery, TrainingReport)> {
    let card = models.card();
    let empty = EmbeddingTable { dim: card.dim, ..EmbeddingTable::default() };
    let mut engine = || Ok(models.engine(Default::default())?);
    check_named(clusters, opts)?;
    let labelled = load_training_set(clusters, &empty, &opts.junk, &mut engine)?;
    let mut opts = opts.clone();
    opts.learn.same_person = opts.learn.same_person.or(card.same_person_cosine);
    let (mut gallery, report) = learn_folders(labelled, (Vec::new(), Vec::new()), clusters, &opts)?;
    gallery.detector_sha256 = card.detector.digest();
    gallery.recognizer_sha256 = card.recognizer.digest();
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
