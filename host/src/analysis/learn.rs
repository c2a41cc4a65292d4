//! Learning named people: the four classifiers, cross-validation, and the
//! calibrated rejection thresholds. `stages::train` reads the folders and
//! writes the model; this module is the arithmetic between.
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
//! learn them from).
//!
//! **Open-set rejection.** Genuine scores are the held-out faces' scores.
//! Stranger scores come from leaving each person out in turn, training on
//! everyone else, and scoring that person's faces as strangers (with two
//! people, the other person's faces scored against the held-out models);
//! from the user's own strangers (outliers, junk folders, bystanders) scored by the
//! final gallery; and, for the similarity classifiers, from every face
//! scored against every person it is not. Each classifier's threshold comes
//! from [`calibrate`] (see `analysis::calibration`). The default classifier
//! is the one that accepts and names correctly the most held-out faces at
//! its own threshold, among those whose threshold rests on the recognizer's
//! published score or a model of stranger scores rather than on the highest
//! of a handful of them.

use linfa::prelude::*;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rollcall_shared::gallery::{ClassifierKind, Created, Gallery, LinearModel, Threshold, VectorForm, Vectors};

use super::calibration::{Evidence, calibrate};
use crate::artifacts::training::ClassifierReport;
use crate::artifacts::training::Method;
use crate::error::{Error, Result};

/// Settings of learning.
#[derive(Debug, Clone)]
pub struct LearnOptions {
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// False-accept rate the thresholds aim for.
    pub target_far: f32,
    pub knn_k: usize,
    pub svm_c: f64,
    /// Logistic regression L2 penalty.
    pub logistic_alpha: f64,
    /// The recognizer's published same-person cosine: a floor for the
    /// similarity classifiers' thresholds.
    pub same_person: Option<f32>,
}

impl Default for LearnOptions {
    fn default() -> Self {
        LearnOptions { folds: 5, seed: 0, target_far: 0.01, knn_k: 3, svm_c: 1.0, logistic_alpha: 1e-3, same_person: None }
    }
}

/// What learning knows besides the labelled faces.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The user's own strangers (outliers, junk folders, bystanders), one
    /// row each; none is fine.
    pub strangers: Option<Array2<f32>>,
    /// Pairs of people who look alike: neither counts as a stranger to the
    /// other.
    pub look_alikes: Vec<(usize, usize)>,
}

impl Context {
    fn related(&self, a: usize, b: usize) -> bool {
        a == b || self.look_alikes.iter().any(|&(p, q)| (p == a && q == b) || (p == b && q == a))
    }
}

/// Labelled embeddings.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// One unit-length row per face.
    pub x: Array2<f32>,
    /// Person index of each row.
    pub y: Vec<usize>,
    pub labels: Vec<String>,
    /// Chip file of each row.
    pub files: Vec<String>,
}

impl TrainingSet {
    pub fn people(&self) -> usize {
        self.labels.len()
    }

    pub fn faces_per_person(&self) -> Vec<usize> {
        let mut faces = vec![0usize; self.people()];
        self.y.iter().for_each(|&c| faces[c] += 1);
        faces
    }

    /// The rows `keep` marks, with people left without a face dropped (and
    /// returned by name).
    pub fn retain(&self, keep: &[bool]) -> (TrainingSet, Vec<String>) {
        let rows: Vec<usize> = (0..self.y.len()).filter(|&i| keep[i]).collect();
        let mut present = vec![false; self.people()];
        rows.iter().for_each(|&i| present[self.y[i]] = true);
        let mut new_index = vec![usize::MAX; self.people()];
        let mut labels = Vec::new();
        let mut dropped = Vec::new();
        for (p, name) in self.labels.iter().enumerate() {
            if present[p] {
                new_index[p] = labels.len();
                labels.push(name.clone());
            } else {
                dropped.push(name.clone());
            }
        }
        let set = TrainingSet {
            x: self.x.select(Axis(0), &rows),
            y: rows.iter().map(|&i| new_index[self.y[i]]).collect(),
            labels,
            files: rows.iter().map(|&i| self.files[i].clone()).collect(),
        };
        (set, dropped)
    }

    fn subset(&self, rows: &[usize]) -> TrainingSet {
        TrainingSet {
            x: self.x.select(Axis(0), rows),
            y: rows.iter().map(|&i| self.y[i]).collect(),
            labels: self.labels.clone(),
            files: rows.iter().map(|&i| self.files[i].clone()).collect(),
        }
    }
}

/// What learning produced: the gallery (thresholds and default set, model
/// hashes and provenance left for the caller) and each classifier's figures.
#[derive(Debug, Clone)]
pub(crate) struct Learned {
    /// Every classifier, fitted on all faces.
    pub gallery: Gallery,
    /// Per classifier, in [`ClassifierKind::ALL`] order.
    pub reports: Vec<ClassifierReport>,
    /// Cross-validation folds used.
    pub folds: usize,
    /// Per classifier: the scores calibration used, kept so that the same
    /// fit can be calibrated for another target.
    evidence: Vec<Evidence>,
    /// Per classifier: whether each held-out face was named correctly.
    correct: Vec<Vec<bool>>,
}

impl Learned {
    /// The same classifiers calibrated for another false-accept target.
    pub(crate) fn at_target(&self, target_far: f32) -> Learned {
        let mut out = self.clone();
        let confusion: Vec<Vec<Vec<usize>>> = self.reports.iter().map(|r| r.confusion.clone()).collect();
        out.reports = reports(&mut out.gallery, &self.evidence, &self.correct, confusion, target_far);
        out.gallery.default_classifier = default_classifier(&out.reports);
        out
    }
}

/// Calibrates every classifier of `gallery` (setting its thresholds) and
/// reports each one's figures.
fn reports(
    gallery: &mut Gallery,
    evidence: &[Evidence],
    correct: &[Vec<bool>],
    mut confusion: Vec<Vec<Vec<usize>>>,
    target_far: f32,
) -> Vec<ClassifierReport> {
    ClassifierKind::ALL
        .into_iter()
        .map(|k| {
            let c = calibrate(&evidence[k.index()], target_far);
            gallery.thresholds[k.index()] = c.threshold();
            let held = &evidence[k.index()].genuine;
            let n = held.len().max(1) as f64;
            let right = &correct[k.index()];
            ClassifierReport {
                classifier: k,
                accuracy: right.iter().filter(|&&r| r).count() as f64 / n,
                open_set_accuracy: held.iter().zip(right).filter(|(s, r)| **r && **s >= c.threshold).count() as f64 / n,
                threshold: c.threshold(),
                genuine_scores: held.len(),
                impostor_scores: c.impostors,
                confusion: std::mem::take(&mut confusion[k.index()]),
                calibration: Some(c),
            }
        })
        .collect()
}

/// Fits every classifier on `data` and returns them as a full-precision
/// gallery with thresholds that accept everything.
pub(crate) fn fit(data: &TrainingSet, opts: &LearnOptions) -> Result<Gallery> {
    let (n, d) = data.x.dim();
    let p = data.people();
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
            .map_err(|e| Error::Fit { what: format!("linear SVM for person {class}"), reason: e.to_string() })?;
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
        .map_err(|e| Error::Fit { what: "logistic regression".into(), reason: e.to_string() })?;
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
pub(crate) fn stratified_folds(y: &[usize], people: usize, folds: usize, seed: u64) -> Vec<Option<usize>> {
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

/// Fits each fold's training part and shows `visit` every held-out face
/// with the gallery that did not see it.
fn for_each_held_out(
    data: &TrainingSet,
    assignment: &[Option<usize>],
    folds: usize,
    opts: &LearnOptions,
    mut visit: impl FnMut(&Gallery, usize),
) -> Result<()> {
    for f in 0..folds {
        let test: Vec<usize> = (0..data.y.len()).filter(|&i| assignment[i] == Some(f)).collect();
        if test.is_empty() {
            continue;
        }
        let train_rows: Vec<usize> = (0..data.y.len()).filter(|&i| assignment[i] != Some(f)).collect();
        let g = fit(&data.subset(&train_rows), opts)?;
        for &i in &test {
            visit(&g, i);
        }
    }
    Ok(())
}

/// Trains, cross-validates and calibrates; see the module docs.
pub(crate) fn learn(data: &TrainingSet, ctx: &Context, opts: &LearnOptions) -> Result<Learned> {
    Error::check("target false-accept rate", opts.target_far, 1e-6, 0.5)?;
    Error::check("folds", opts.folds, 2, 100)?;
    let p = data.people();
    let folds = opts.folds;
    let assignment = stratified_folds(&data.y, p, folds, opts.seed);
    let kinds = ClassifierKind::ALL;
    let mut evidence: Vec<Evidence> = kinds.iter().map(|_| Evidence { members: p, ..Evidence::default() }).collect();
    let mut correct: Vec<Vec<bool>> = vec![Vec::new(); 4];
    let mut confusion = vec![vec![vec![0usize; p]; p]; 4];
    if p < 3 {
        for e in &mut evidence {
            e.impostors = vec![Vec::new(); p];
        }
    }
    for_each_held_out(data, &assignment, folds, opts, |g, i| {
        let x = data.x.row(i).to_vec();
        for k in kinds {
            let (best, score) = g.score(k, &x);
            evidence[k.index()].genuine.push(score);
            correct[k.index()].push(best == data.y[i]);
            confusion[k.index()][data.y[i]][best] += 1;
            if p < 3 {
                // With two people, leaving one out leaves a one-class
                // problem; the other person's score for this face (a
                // stranger to them) serves as the left-out score instead.
                evidence[k.index()].impostors[data.y[i]].push(g.score_among(k, &x, &|c| !ctx.related(c, data.y[i])).1);
            }
        }
    })?;
    if p >= 3 {
        // Leave each person out: their faces are strangers to the rest (to
        // all but the people who look like them).
        for left in 0..p {
            let rows: Vec<usize> = (0..data.y.len()).filter(|&i| data.y[i] != left).collect();
            let g = fit(&data.subset(&rows), opts)?;
            let mut scores: Vec<Vec<f32>> = vec![Vec::new(); 4];
            for i in (0..data.y.len()).filter(|&i| data.y[i] == left) {
                let x = data.x.row(i).to_vec();
                for k in kinds {
                    scores[k.index()].push(g.score_among(k, &x, &|c| !ctx.related(c, left)).1);
                }
            }
            for (e, s) in evidence.iter_mut().zip(scores) {
                e.impostors.push(s);
            }
        }
    }
    for e in &mut evidence {
        e.left_out = e.impostors.iter().map(Vec::len).sum();
    }

    let mut gallery = fit(data, opts)?;
    add_strangers(&gallery, ctx, &mut evidence);
    add_pairs(&gallery, data, ctx, &mut evidence);
    // The published score is for two single faces; a centroid is the
    // normalised mean of a person's faces, and scores a stranger `1 / |mean|`
    // times what one of their faces would, so the floor moves by the same
    // factor, for the person whose faces agree least. kNN scores are means
    // of single-face similarities: the published score as it is.
    evidence[ClassifierKind::NearestCentroid.index()].prior = opts.same_person.map(|s| s / tightest_mean(data));
    evidence[ClassifierKind::Knn.index()].prior = opts.same_person;

    let reports = reports(&mut gallery, &evidence, &correct, confusion, opts.target_far);
    gallery.default_classifier = default_classifier(&reports);
    Ok(Learned { gallery, reports, folds, evidence, correct })
}

/// The classifier that accepts and names correctly the most held-out faces
/// at its own threshold, among those whose threshold rests on a prior or a
/// model (any, if none does); on a full tie the earlier, simpler one.
fn default_classifier(reports: &[ClassifierReport]) -> ClassifierKind {
    let grounded = |r: &ClassifierReport| r.calibration.as_ref().is_some_and(|c| matches!(c.method, Method::Prior | Method::Model));
    let any_grounded = reports.iter().any(grounded);
    ClassifierKind::ALL
        .into_iter()
        .filter(|k| !any_grounded || grounded(&reports[k.index()]))
        .max_by(|a, b| {
            let (ra, rb) = (&reports[a.index()], &reports[b.index()]);
            ra.open_set_accuracy.total_cmp(&rb.open_set_accuracy).then(ra.accuracy.total_cmp(&rb.accuracy)).then(b.index().cmp(&a.index()))
        })
        .unwrap_or(ClassifierKind::NearestCentroid)
}

/// The user's strangers scored by the final gallery: a whole-gallery score
/// each, and for the similarity classifiers a score per member.
fn add_strangers(g: &Gallery, ctx: &Context, evidence: &mut [Evidence]) {
    let Some(strangers) = &ctx.strangers else { return };
    for x in strangers.rows() {
        let x = x.to_vec();
        for k in ClassifierKind::ALL {
            let e = &mut evidence[k.index()];
            // Whose faces the strangers are is unknown: each is its own group.
            e.impostors.push(vec![g.score(k, &x).1]);
            e.strangers += 1;
            if matches!(k, ClassifierKind::NearestCentroid | ClassifierKind::Knn) {
                for b in 0..g.people() {
                    e.pairs.push(vec![g.score_among(k, &x, &|c| c == b).1]);
                }
            }
        }
    }
}

/// Every face scored against every person it is not (nor looks like), by
/// the similarity classifiers: the centroid's cosine, kNN's mean similarity
/// of that person's nearest references. One group per pair of people.
fn add_pairs(g: &Gallery, data: &TrainingSet, ctx: &Context, evidence: &mut [Evidence]) {
    let p = data.people();
    for k in [ClassifierKind::NearestCentroid, ClassifierKind::Knn] {
        let mut groups: Vec<Vec<f32>> = vec![Vec::new(); p * p];
        for (x, &own) in data.x.rows().into_iter().zip(&data.y) {
            let x = x.to_vec();
            for b in (0..p).filter(|&b| !ctx.related(b, own)) {
                groups[own * p + b].push(g.score_among(k, &x, &|c| c == b).1);
            }
        }
        evidence[k.index()].pairs.extend(groups.into_iter().filter(|g| !g.is_empty()));
    }
}

/// The smallest length of a person's mean of unit faces (1 for one face,
/// less the more their faces differ); 1 for no faces.
fn tightest_mean(data: &TrainingSet) -> f32 {
    let d = data.x.ncols();
    let mut sums = Array2::<f32>::zeros((data.people(), d));
    for (row, &c) in data.x.rows().into_iter().zip(&data.y) {
        let mut r = sums.row_mut(c);
        r += &row;
    }
    sums.rows()
        .into_iter()
        .zip(data.faces_per_person())
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| r.dot(&r).sqrt() / n as f32)
        .filter(|l| *l > 0.0)
        .fold(1.0, f32::min)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    pub(crate) fn blob_set() -> TrainingSet {
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
        let learned = learn(&blob_set(), &Context::default(), &LearnOptions::default()).unwrap();
        for c in &learned.reports {
            assert_eq!(c.accuracy, 1.0, "{:?}", c.classifier);
        }
        let x = blob_set().x.row(9).to_vec();
        for k in ClassifierKind::ALL {
            assert_eq!(learned.gallery.score(k, &x).0, 1, "{k:?}");
        }
        learned.gallery.validate().unwrap();
    }
}
