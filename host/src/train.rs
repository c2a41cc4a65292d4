//! Stage 7, train: learn the people the user named, measure honestly how
//! well each classifier knows them, and calibrate when to say "unknown".
//!
//! Reads: a clusters folder (every subfolder a person, except junk: by
//! default `unknown`, `junk` and names starting with `_`), and the run's
//! `embeddings.parquet` by chip file name; a chip the user added from
//! elsewhere is embedded on the fly (a photo that is not a 112 x 112 chip
//! has its largest face detected and aligned first). Writes into the model
//! folder: `model.rcg` (a full-precision gallery, see
//! [`rollcall_shared::gallery`]), `training.json` (accuracies, confusion
//! matrices, thresholds and their error rates) and `confusion_<kind>.svg`.
//!
//! **Classifiers.** Nearest centroid (cosine), kNN (k = 3, cosine, majority
//! vote, ties to the nearer), one-vs-rest linear SVMs (`linfa-svm`, which is
//! binary, with class-balanced costs) and multinomial logistic regression
//! (`linfa-logistic`). Inference is the gallery code in `shared`, the same
//! the device runs.
//!
//! **Honest accuracy.** Stratified k-fold cross-validation with a fixed
//! seed: each person's faces are shuffled and dealt round-robin into the
//! folds, so a person with fewer faces than folds appears in fewer folds; a
//! person with a single face is never held out (nothing would be left to
//! learn them from) and is listed as such.
//!
//! **Open-set rejection.** Genuine scores are the held-out faces' scores from
//! cross-validation. Impostor scores come from leaving each person out in
//! turn, training on everyone else, and scoring that person's faces as
//! strangers. Each classifier's threshold is the lowest score that keeps the
//! impostor accept rate at or below the target (default 1%); the estimated
//! false-accept and false-reject rates at that threshold are reported. The
//! default classifier is the one that accepts and names correctly the most
//! held-out faces at its own threshold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use linfa::prelude::*;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rollcall_models::{FaceFilter, ModelSet, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::{ClassifierKind, Created, Gallery, LinearModel, Threshold, VectorForm, Vectors};
use serde::{Deserialize, Serialize};

use crate::table::EmbeddingTable;
use crate::work::{is_photo_name, write_atomic};

/// Settings of training.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Folder names that are not people (besides names starting with `_`).
    pub junk: Vec<String>,
    /// Cross-validation folds.
    pub folds: usize,
    /// Seed for the fold assignment.
    pub seed: u64,
    /// False-accept rate the thresholds aim for.
    pub target_far: f32,
    /// Neighbours for kNN.
    pub knn_k: usize,
    /// SVM cost.
    pub svm_c: f64,
    /// Logistic regression L2 penalty.
    pub logistic_alpha: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            junk: vec!["unknown".into(), "junk".into()],
            folds: 5,
            seed: 0,
            target_far: 0.01,
            knn_k: 3,
            svm_c: 1.0,
            logistic_alpha: 1e-3,
        }
    }
}

/// Labelled embeddings.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// One unit-length row per face.
    pub x: Array2<f32>,
    /// Person index of each row.
    pub y: Vec<usize>,
    /// Person names, sorted.
    pub labels: Vec<String>,
    /// Chip file of each row.
    pub files: Vec<String>,
}

/// Files that could not be used, with the reason.
pub type Skipped = Vec<(PathBuf, String)>;

/// Whether a folder name marks junk.
pub fn is_junk(name: &str, junk: &[String]) -> bool {
    name.starts_with('_') || name.starts_with('.') || junk.iter().any(|j| j.eq_ignore_ascii_case(name))
}

/// Reads the people folders under `clusters`, with embeddings from `table`
/// and, for chips not in it, from `models` (loaded only if needed).
pub fn load_training_set(
    clusters: &Path,
    table: &EmbeddingTable,
    opts: &TrainOptions,
    models: &mut dyn FnMut() -> Result<ModelSet>,
) -> Result<(TrainingSet, Skipped)> {
    let mut people: Vec<(String, PathBuf)> = std::fs::read_dir(clusters)
        .with_context(|| format!("cannot list {}", clusters.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !is_junk(n, &opts.junk))
        .collect();
    people.sort();
    let index: BTreeMap<&str, usize> = table.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let mut engine: Option<rollcall_models::Engine> = None;
    let mut rows: Vec<f32> = Vec::new();
    let (mut y, mut files, mut labels, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, dir) in &people {
        let mut chips: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
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
                    if engine.is_none() {
                        engine = Some(models()?.engine(Default::default())?);
                    }
                    match embed_added(engine.as_mut().context("models")?, &chip) {
                        Ok(e) => e,
                        Err(e) => {
                            tracing::warn!("skipping {}: {e:#}", chip.display());
                            skipped.push((chip.clone(), format!("{e:#}")));
                            continue;
                        }
                    }
                }
            };
            if emb.len() != table.dim {
                bail!("{}: embedding of {} values, the table has {}", chip.display(), emb.len(), table.dim);
            }
            rows.extend(emb);
            y.push(labels.len());
            files.push(file);
        }
        if y.len() > before {
            labels.push(name.clone());
        } else {
            skipped.push((dir.clone(), "no usable faces in this folder".into()));
        }
    }
    if labels.len() < 2 {
        bail!("{}: found {} people (folders with faces); training needs at least 2", clusters.display(), labels.len());
    }
    let x = Array2::from_shape_vec((y.len(), table.dim), rows).context("embedding rows")?;
    Ok((TrainingSet { x, y, labels, files }, skipped))
}

/// Embeds an image the user added: a 112 x 112 chip as it is, anything else
/// by detecting and aligning its largest face.
fn embed_added(engine: &mut rollcall_models::Engine, path: &Path) -> Result<Vec<f32>> {
    let img = rollcall_models::decode::load_rgb(path)?;
    let size = engine.recognizer.chip_size();
    if img.dimensions() == (size, size) {
        return Ok(engine.embed(img.as_raw())?);
    }
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let faces = engine.faces(view, &FaceFilter::default())?;
    let best = faces
        .into_iter()
        .filter(|f| f.verdict == Verdict::Kept)
        .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
        .with_context(|| format!("{}: no face found", path.display()))?;
    Ok(engine.embed(best.chip.as_deref().context("aligned chip")?)?)
}

/// Fits every classifier on `data` and returns them as a full-precision
/// gallery (thresholds and provenance left for the caller).
pub fn fit(data: &TrainingSet, opts: &TrainOptions) -> Result<Gallery> {
    let (n, d) = data.x.dim();
    let p = data.labels.len();
    let mut centroids = Array2::<f32>::zeros((p, d));
    for (row, &c) in data.x.rows().into_iter().zip(&data.y) {
        let mut r = centroids.row_mut(c);
        r += &row;
    }
    for mut r in centroids.rows_mut() {
        let norm = r.dot(&r).sqrt();
        if norm > 0.0 {
            r /= norm;
        }
    }
    let xd = data.x.mapv(f64::from);
    let svm = fit_svm(&xd, &data.y, p, opts.svm_c)?;
    let logistic = fit_logistic(&xd, &data.y, p, opts.logistic_alpha)?;
    let t = Threshold { value: f32::NEG_INFINITY, target_far: opts.target_far, estimated_far: 1.0, estimated_frr: 0.0 };
    Ok(Gallery {
        detector_sha256: [0; 32],
        recognizer_sha256: [0; 32],
        dim: d as u16,
        labels: data.labels.clone(),
        centroids: Vectors::encode(centroids.as_slice().unwrap_or(&[]), d, VectorForm::F32),
        knn_k: opts.knn_k.clamp(1, 255) as u8,
        knn_labels: data.y.iter().map(|&c| c as u16).collect(),
        knn_refs: Vectors::encode(data.x.as_standard_layout().as_slice().unwrap_or(&[]), d, VectorForm::F32),
        svm,
        logistic,
        thresholds: [t; 4],
        default_classifier: ClassifierKind::NearestCentroid,
        created: Created { unix_seconds: 0, tool: String::new(), faces: n as u32, note: String::new() },
    })
}

/// One-vs-rest linear SVMs with class-balanced costs. `linfa-svm` is binary,
/// and keeps the separating hyperplane private, so each `w` is read off the
/// decision function at the unit vectors.
fn fit_svm(x: &Array2<f64>, y: &[usize], people: usize, c: f64) -> Result<LinearModel> {
    let (n, d) = x.dim();
    let mut weights = Vec::with_capacity(people * d);
    let mut bias = Vec::with_capacity(people);
    let eye = Array2::<f64>::eye(d);
    for class in 0..people {
        let targets: Array1<bool> = y.iter().map(|&l| l == class).collect();
        let pos = targets.iter().filter(|&&t| t).count().max(1) as f64;
        let neg = (n as f64 - pos).max(1.0);
        let ds = linfa::DatasetBase::new(x.clone(), targets);
        let model = linfa_svm::Svm::<f64, bool>::params()
            .linear_kernel()
            .pos_neg_weights(c * n as f64 / (2.0 * pos), c * n as f64 / (2.0 * neg))
            .fit(&ds)
            .map_err(|e| anyhow::anyhow!("linear SVM for person {class}: {e}"))?;
        for row in eye.rows() {
            weights.push(model.weighted_sum(&row) as f32);
        }
        bias.push(-model.rho as f32);
    }
    Ok(LinearModel { weights, bias })
}

/// Multinomial logistic regression; `linfa-logistic` orders classes by
/// value, which for person indices is their own order.
fn fit_logistic(x: &Array2<f64>, y: &[usize], people: usize, alpha: f64) -> Result<LinearModel> {
    let targets: Array1<usize> = y.iter().copied().collect();
    let ds = linfa::DatasetBase::new(x.clone(), targets);
    let model = linfa_logistic::MultiLogisticRegression::default()
        .alpha(alpha)
        .max_iterations(200)
        .fit(&ds)
        .map_err(|e| anyhow::anyhow!("logistic regression: {e}"))?;
    let (params, intercept, classes) = (model.params(), model.intercept(), model.classes());
    let d = x.ncols();
    let mut weights = vec![0f32; people * d];
    let mut bias = vec![f32::NEG_INFINITY; people];
    for (col, &class) in classes.iter().enumerate() {
        for j in 0..d {
            weights[class * d + j] = params[[j, col]] as f32;
        }
        bias[class] = intercept[col] as f32;
    }
    Ok(LinearModel { weights, bias })
}

/// The fold of every face: each person's faces shuffled (seeded) and dealt
/// round-robin from a person-specific offset; `None` for a person's only face.
pub fn stratified_folds(y: &[usize], people: usize, folds: usize, seed: u64) -> Vec<Option<usize>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = vec![None; y.len()];
    for c in 0..people {
        let mut members: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        if members.len() < 2 {
            continue;
        }
        members.shuffle(&mut rng);
        for (j, &i) in members.iter().enumerate() {
            out[i] = Some((j + c) % folds);
        }
    }
    out
}

/// Cross-validation and calibration figures of one classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierReport {
    /// Classifier.
    pub classifier: String,
    /// Closed-set accuracy on held-out faces.
    pub accuracy: f64,
    /// Held-out faces that clear the threshold and are named correctly.
    pub open_set_accuracy: f64,
    /// The calibrated threshold.
    pub threshold: Threshold,
    /// Genuine (held-out) scores measured.
    pub genuine_scores: usize,
    /// Impostor (left-out person) scores measured.
    pub impostor_scores: usize,
    /// `confusion[true][predicted]` counts over held-out faces.
    pub confusion: Vec<Vec<usize>>,
}

/// `training.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingReport {
    /// People, in label order.
    pub people: Vec<String>,
    /// Faces per person.
    pub faces: Vec<usize>,
    /// Folds used.
    pub folds: usize,
    /// People with one face, never held out.
    pub never_held_out: Vec<String>,
    /// Per classifier.
    pub classifiers: Vec<ClassifierReport>,
    /// The chosen default.
    pub default_classifier: String,
    /// Files skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// The clusters folder trained on.
    #[serde(default)]
    pub clusters: String,
    /// The work directory its embeddings came from.
    #[serde(default)]
    pub work: String,
}

/// The threshold for `target_far`: the lowest score above all but a
/// `target_far` share of the impostor scores.
pub fn calibrate(genuine: &[f32], impostor: &[f32], target_far: f32) -> Threshold {
    let mut imp: Vec<f32> = impostor.iter().copied().filter(|v| v.is_finite()).collect();
    imp.sort_by(|a, b| b.total_cmp(a));
    let value = if imp.is_empty() {
        f32::NEG_INFINITY
    } else {
        let allowed = ((target_far.max(0.0) * imp.len() as f32).floor() as usize).min(imp.len());
        // Scores equal to the first rejected impostor score are rejected too.
        if allowed == imp.len() { imp[imp.len() - 1] } else { next_up(imp[allowed]) }
    };
    let far = if imp.is_empty() { 1.0 } else { imp.iter().filter(|&&s| s >= value).count() as f32 / imp.len() as f32 };
    let frr = if genuine.is_empty() { 0.0 } else { genuine.iter().filter(|&&s| s < value).count() as f32 / genuine.len() as f32 };
    Threshold { value, target_far, estimated_far: far, estimated_frr: frr }
}

fn next_up(v: f32) -> f32 {
    if v.is_nan() || v == f32::INFINITY {
        return v;
    }
    let bits = v.to_bits();
    let next = if v == 0.0 {
        1
    } else if v > 0.0 {
        bits + 1
    } else {
        bits - 1
    };
    f32::from_bits(next)
}

fn subset(data: &TrainingSet, rows: &[usize]) -> TrainingSet {
    TrainingSet {
        x: data.x.select(Axis(0), rows),
        y: rows.iter().map(|&i| data.y[i]).collect(),
        labels: data.labels.clone(),
        files: rows.iter().map(|&i| data.files[i].clone()).collect(),
    }
}

/// Trains, cross-validates and calibrates; returns the gallery (with
/// thresholds and default set) and the report.
pub fn train(data: &TrainingSet, opts: &TrainOptions) -> Result<(Gallery, TrainingReport)> {
    let p = data.labels.len();
    let folds = opts.folds.max(2);
    let assignment = stratified_folds(&data.y, p, folds, opts.seed);
    let kinds = ClassifierKind::ALL;
    let mut genuine: Vec<Vec<(f32, bool)>> = vec![Vec::new(); 4];
    let mut confusion = vec![vec![vec![0usize; p]; p]; 4];
    for f in 0..folds {
        let test: Vec<usize> = (0..data.y.len()).filter(|&i| assignment[i] == Some(f)).collect();
        if test.is_empty() {
            continue;
        }
        let train_rows: Vec<usize> = (0..data.y.len()).filter(|&i| assignment[i] != Some(f)).collect();
        let g = fit(&subset(data, &train_rows), opts)?;
        for &i in &test {
            let x = data.x.row(i).to_vec();
            for k in kinds {
                let (best, score) = g.score(k, &x);
                genuine[k.index()].push((score, best == data.y[i]));
                confusion[k.index()][data.y[i]][best] += 1;
            }
        }
    }
    // Leave each person out: their faces are strangers to the rest.
    let mut impostor: Vec<Vec<f32>> = vec![Vec::new(); 4];
    if p >= 3 {
        for left in 0..p {
            let rows: Vec<usize> = (0..data.y.len()).filter(|&i| data.y[i] != left).collect();
            let out: Vec<usize> = (0..data.y.len()).filter(|&i| data.y[i] == left).collect();
            let g = fit(&subset(data, &rows), opts)?;
            for &i in &out {
                let x = data.x.row(i).to_vec();
                for k in kinds {
                    impostor[k.index()].push(g.score(k, &x).1);
                }
            }
        }
    } else {
        // With two people, leaving one out leaves a one-class problem; the
        // other person's faces scored by the cross-validated models serve
        // as impostors instead (their score for the wrong person).
        for f in 0..folds {
            let test: Vec<usize> = (0..data.y.len()).filter(|&i| assignment[i] == Some(f)).collect();
            let train_rows: Vec<usize> = (0..data.y.len()).filter(|&i| assignment[i] != Some(f)).collect();
            if test.is_empty() {
                continue;
            }
            let g = fit(&subset(data, &train_rows), opts)?;
            for &i in &test {
                let x = data.x.row(i).to_vec();
                for k in kinds {
                    impostor[k.index()].push(g.score_among(k, &x, &|p| p != data.y[i]).1);
                }
            }
        }
    }

    let mut reports = Vec::new();
    let mut thresholds = [Threshold { value: 0.0, target_far: opts.target_far, estimated_far: 0.0, estimated_frr: 0.0 }; 4];
    for k in kinds {
        let held = &genuine[k.index()];
        let scores: Vec<f32> = held.iter().map(|g| g.0).collect();
        let t = calibrate(&scores, &impostor[k.index()], opts.target_far);
        thresholds[k.index()] = t;
        let n = held.len().max(1) as f64;
        reports.push(ClassifierReport {
            classifier: k.name().to_string(),
            accuracy: held.iter().filter(|g| g.1).count() as f64 / n,
            open_set_accuracy: held.iter().filter(|g| g.1 && g.0 >= t.value).count() as f64 / n,
            threshold: t,
            genuine_scores: held.len(),
            impostor_scores: impostor[k.index()].len(),
            confusion: confusion[k.index()].clone(),
        });
    }
    let best = kinds
        .into_iter()
        .max_by(|a, b| {
            let (ra, rb) = (&reports[a.index()], &reports[b.index()]);
            ra.open_set_accuracy
                .total_cmp(&rb.open_set_accuracy)
                .then(ra.accuracy.total_cmp(&rb.accuracy))
                // On a full tie the earlier (simpler) classifier wins.
                .then(b.index().cmp(&a.index()))
        })
        .unwrap_or(ClassifierKind::NearestCentroid);

    let mut gallery = fit(data, opts)?;
    gallery.thresholds = thresholds;
    gallery.default_classifier = best;
    let mut faces = vec![0usize; p];
    data.y.iter().for_each(|&c| faces[c] += 1);
    let report = TrainingReport {
        people: data.labels.clone(),
        never_held_out: (0..p).filter(|&c| faces[c] < 2).map(|c| data.labels[c].clone()).collect(),
        faces,
        folds,
        classifiers: reports,
        default_classifier: best.name().to_string(),
        skipped: Vec::new(),
        clusters: String::new(),
        work: String::new(),
    };
    Ok((gallery, report))
}

/// Trains from a clusters folder inside a work directory: embeddings from
/// its `embeddings.parquet`, model hashes from it and `detections.json`.
/// `models` is called only if a folder holds a chip the table lacks.
pub fn train_from_work(
    clusters: &Path,
    work: &crate::work::Work,
    opts: &TrainOptions,
    models: &mut dyn FnMut() -> Result<ModelSet>,
) -> Result<(Gallery, TrainingReport)> {
    let table = EmbeddingTable::read(&work.embeddings())?;
    let detections = crate::detect::read_detections(&work.detections_json())?;
    let hash = |s: &str, what: &str| {
        rollcall_shared::gallery::parse_sha256(s).with_context(|| format!("{}: no valid {what} sha256", work.root().display()))
    };
    let recognizer = hash(table.recognizer_sha256.as_deref().unwrap_or(""), "recognizer")?;
    let detector = hash(&detections.detector.1, "detector")?;
    let mut checked = || -> Result<ModelSet> {
        let set = models()?;
        if set.recognizer_sha256() != table.recognizer_sha256.as_deref().unwrap_or("") {
            bail!("the chips in {} were embedded with another recognizer than the one loaded; embed them again", clusters.display());
        }
        Ok(set)
    };
    let (data, skipped) = load_training_set(clusters, &table, opts, &mut checked)?;
    let (mut gallery, mut report) = train(&data, opts)?;
    gallery.detector_sha256 = detector;
    gallery.recognizer_sha256 = recognizer;
    gallery.created.note = clusters.display().to_string();
    report.skipped = skipped.into_iter().map(|(p, why)| (p.display().to_string(), why)).collect();
    report.clusters = clusters.display().to_string();
    report.work = work.root().display().to_string();
    Ok((gallery, report))
}

/// Trains on the same folders with every chip embedded afresh by `models`
/// (the int8 models, say), so the gallery records those models' hashes.
pub fn train_with_models(clusters: &Path, models: &ModelSet, opts: &TrainOptions) -> Result<(Gallery, TrainingReport)> {
    let empty = EmbeddingTable { dim: models.recognizer_spec().output.dim.unwrap_or(0), ..EmbeddingTable::default() };
    let mut loader = || Ok(models.clone());
    let (data, skipped) = load_training_set(clusters, &empty, opts, &mut loader)?;
    let (mut gallery, mut report) = train(&data, opts)?;
    gallery.detector_sha256 = models.detector_digest();
    gallery.recognizer_sha256 = models.recognizer_digest();
    gallery.created.note = clusters.display().to_string();
    report.skipped = skipped.into_iter().map(|(p, why)| (p.display().to_string(), why)).collect();
    report.clusters = clusters.display().to_string();
    Ok((gallery, report))
}

/// Writes the model folder: `model.rcg`, `training.json`, confusion charts.
pub fn write_model_dir(dir: &Path, gallery: &Gallery, report: &TrainingReport) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bytes = gallery.encode().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_atomic(&dir.join("model.rcg"), &bytes)?;
    write_atomic(&dir.join("training.json"), &serde_json::to_vec_pretty(report)?)?;
    for c in &report.classifiers {
        crate::charts::confusion(
            &dir.join(format!("confusion_{}.svg", c.classifier)),
            &format!("{}: held-out accuracy {:.3}", c.classifier, c.accuracy),
            &report.people,
            &c.confusion,
        )?;
    }
    Ok(())
}

/// Reads `training.json`.
pub fn read_report(dir: &Path) -> Result<TrainingReport> {
    crate::work::read_json(&dir.join("training.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_keeps_the_false_accept_rate_at_target() {
        let impostor: Vec<f32> = (0..200).map(|i| i as f32 / 1000.0).collect(); // 0.000 .. 0.199
        let genuine = [0.15, 0.5, 0.6, 0.7];
        let t = calibrate(&genuine, &impostor, 0.01);
        // Two of 200 may pass: 0.198 and 0.199; 0.197 must not.
        assert!(t.value > 0.197 && t.value <= 0.198, "{}", t.value);
        assert!((t.estimated_far - 0.01).abs() < 1e-6);
        assert!((t.estimated_frr - 0.25).abs() < 1e-6);
        let strict = calibrate(&genuine, &impostor[..50], 0.01);
        assert!(strict.value > 0.049 && strict.estimated_far == 0.0);
    }

    #[test]
    fn folds_are_stratified_and_single_faces_stay_in_training() {
        let y = [0, 0, 0, 0, 0, 0, 1, 1, 2];
        let f = stratified_folds(&y, 3, 5, 1);
        assert_eq!(f[8], None);
        let zero: Vec<usize> = (0..6).filter_map(|i| f[i]).collect();
        let mut distinct = zero.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 5, "six faces spread over all five folds: {zero:?}");
        assert_ne!(f[6], f[7], "a person's two faces are held out in different folds");
        assert_eq!(stratified_folds(&y, 3, 5, 1), f, "seeded");
    }

    #[test]
    fn junk_folders() {
        let junk = TrainOptions::default().junk;
        assert!(is_junk("_outliers", &junk) && is_junk("Unknown", &junk) && is_junk("junk", &junk));
        assert!(!is_junk("Robin", &junk));
    }

    fn blob_set() -> TrainingSet {
        // Three people as noisy copies of three directions in 4-d.
        let base = [[1.0f32, 0.0, 0.0, 0.2], [0.0, 1.0, 0.0, 0.2], [0.0, 0.0, 1.0, 0.2]];
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for (c, b) in base.iter().enumerate() {
            for j in 0..8 {
                let mut v: Vec<f32> = b.iter().enumerate().map(|(k, &x)| x + ((j * 7 + k * 3 + c) % 5) as f32 * 0.03).collect();
                let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
                v.iter_mut().for_each(|a| *a /= n);
                rows.extend(v);
                y.push(c);
            }
        }
        TrainingSet {
            x: Array2::from_shape_vec((24, 4), rows).unwrap(),
            y,
            labels: vec!["a".into(), "b".into(), "c".into()],
            files: (0..24).map(|i| format!("{i}.png")).collect(),
        }
    }

    #[test]
    fn every_classifier_learns_separable_people() {
        let (g, report) = train(&blob_set(), &TrainOptions::default()).unwrap();
        for c in &report.classifiers {
            assert_eq!(c.accuracy, 1.0, "{}", c.classifier);
        }
        let x = blob_set().x.row(9).to_vec();
        for k in ClassifierKind::ALL {
            assert_eq!(g.score(k, &x).0, 1, "{k:?}");
        }
        g.validate().unwrap();
    }
}
