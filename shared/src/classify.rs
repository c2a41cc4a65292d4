//! Classifying an embedding with a gallery, and rejecting strangers.
//!
//! Every classifier returns its best person and a score; the gallery's
//! calibrated threshold for that classifier turns a low score into
//! "unknown". Scores per classifier:
//!
//! - nearest centroid: cosine similarity to the person's mean embedding;
//! - kNN (k = 3): majority vote among the most similar reference faces,
//!   ties broken by the higher summed similarity (the nearer neighbours); the
//!   score is the mean similarity of the winner's voters;
//! - linear SVM and logistic regression: the winner's linear score
//!   `w·x + b` (for logistic regression, its logit: softmax probabilities
//!   over known people say nothing about strangers, logits do).
//!
//! Those scores decide; they are on four different scales. What a person
//! reads is [`Prediction::similarity`], the same for every classifier: the
//! cosine similarity between the face and the named person's mean face.

use alloc::vec;
use alloc::vec::Vec;

use crate::embedding::dot;
use crate::gallery::{ClassifierKind, Gallery, LinearModel};

/// The largest score, either way, a prediction reports.
pub const SCORE_BOUND: f32 = 1.0e6;

/// What a classifier says about one face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The best-matching person (an index into `Gallery::labels`).
    pub best: usize,
    /// The classifier's score for that person.
    pub score: f32,
    /// Whether the score clears the threshold: `false` means "unknown".
    pub accepted: bool,
    /// The cosine similarity between the face and `best`'s mean face,
    /// whatever the classifier: the score outputs show.
    pub similarity: f32,
}

impl Prediction {
    /// The person, or `None` for a stranger.
    pub fn person(&self) -> Option<usize> {
        self.accepted.then_some(self.best)
    }
}

/// Best person (among those `allowed`) and score from a linear model.
pub fn linear(m: &LinearModel, dim: usize, x: &[f32], allowed: &dyn Fn(usize) -> bool) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (c, (w, b)) in m.weights.chunks(dim).zip(&m.bias).enumerate().filter(|(c, _)| allowed(*c)) {
        let s = dot(w, x) + b;
        if s > best.1 {
            best = (c, s);
        }
    }
    best
}

impl Gallery {
    /// Best person and raw score, without the threshold.
    pub fn score(&self, kind: ClassifierKind, x: &[f32]) -> (usize, f32) {
        self.score_among(kind, x, &|_| true)
    }

    /// Best person among those `allowed` (training scores a face against
    /// everyone but its own person, as a stranger would be) and raw score.
    pub fn score_among(&self, kind: ClassifierKind, x: &[f32], allowed: &dyn Fn(usize) -> bool) -> (usize, f32) {
        let dim = self.dim as usize;
        match kind {
            ClassifierKind::NearestCentroid => {
                let mut row = vec![0f32; dim];
                let mut best = (0, f32::NEG_INFINITY);
                for c in (0..self.people()).filter(|&c| allowed(c)) {
                    self.centroids.row_into(c, dim, &mut row);
                    let s = dot(&row, x);
                    if s > best.1 {
                        best = (c, s);
                    }
                }
                best
            }
            ClassifierKind::Knn => {
                let mut row = vec![0f32; dim];
                let k = (self.knn_k as usize).min(self.knn_labels.len()).max(1);
                // The k most similar references, kept sorted, best first.
                let mut top: Vec<(f32, u16)> = Vec::with_capacity(k + 1);
                for (i, &label) in self.knn_labels.iter().enumerate().filter(|(_, l)| allowed(**l as usize)) {
                    self.knn_refs.row_into(i, dim, &mut row);
                    let s = dot(&row, x);
                    if top.len() < k || s > top[top.len() - 1].0 {
                        let at = top.iter().position(|t| s > t.0).unwrap_or(top.len());
                        top.insert(at, (s, label));
                        top.truncate(k);
                    }
                }
                vote(&top, self.people())
            }
            ClassifierKind::LinearSvm => linear(&self.svm, dim, x, allowed),
            ClassifierKind::Logistic => linear(&self.logistic, dim, x, allowed),
        }
    }

    /// Classifies `x` (a unit-length embedding) and applies the threshold.
    /// The score is kept within ±[`SCORE_BOUND`], so that every output
    /// holds a number (a person no class can score is far below any
    /// threshold, not `-inf`).
    pub fn predict(&self, kind: ClassifierKind, x: &[f32]) -> Prediction {
        let (best, score) = self.score(kind, x);
        let accepted = score >= self.threshold(kind).value;
        let score = if score.is_nan() { -SCORE_BOUND } else { score.clamp(-SCORE_BOUND, SCORE_BOUND) };
        Prediction { best, score, accepted, similarity: self.similarity(best, x) }
    }

    /// The cosine similarity between `x` (unit length) and `person`'s mean
    /// face (0 for a person the gallery does not have).
    pub fn similarity(&self, person: usize, x: &[f32]) -> f32 {
        let dim = self.dim as usize;
        if person >= self.people() || x.len() != dim {
            return 0.0;
        }
        let mut row = vec![0f32; dim];
        self.centroids.row_into(person, dim, &mut row);
        let s = dot(&row, x);
        if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 }
    }
}

/// Majority vote of `(similarity, label)` neighbours, best first; ties go to
/// the label whose voters are more similar in total. Returns the winner and
/// its voters' mean similarity.
pub fn vote(neighbours: &[(f32, u16)], people: usize) -> (usize, f32) {
    let mut count = vec![0usize; people];
    let mut sum = vec![0f32; people];
    for &(s, l) in neighbours {
        if (l as usize) < people {
            count[l as usize] += 1;
            sum[l as usize] += s;
        }
    }
    let mut best = 0;
    for c in 1..people {
        if count[c] > count[best] || (count[c] == count[best] && sum[c] > sum[best]) {
            best = c;
        }
    }
    let score = if count[best] == 0 { f32::NEG_INFINITY } else { sum[best] / count[best] as f32 };
    (best, score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::{VectorForm, Vectors};

    #[test]
    fn majority_wins_and_ties_go_to_the_nearer() {
        assert_eq!(vote(&[(0.9, 1), (0.5, 0), (0.4, 0)], 2).0, 0);
        // One vote each: the more similar neighbour's person wins.
        let (best, score) = vote(&[(0.9, 2), (0.6, 0), (0.3, 1)], 3);
        assert_eq!((best, score), (2, 0.9));
    }

    #[test]
    fn each_classifier_finds_the_right_person_and_rejects_a_stranger() {
        let mut g = crate::gallery::tests::sample(2, 4, 2, VectorForm::F32);
        g.centroids = Vectors::encode(&[1.0, 0.0, 0.0, 1.0], 2, VectorForm::F32);
        g.knn_labels = alloc::vec![0, 0, 1, 1];
        g.knn_refs = Vectors::encode(&[1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9], 2, VectorForm::F32);
        g.svm = LinearModel { weights: alloc::vec![1.0, -1.0, -1.0, 1.0], bias: alloc::vec![0.0, 0.0] };
        g.logistic = g.svm.clone();
        for kind in ClassifierKind::ALL {
            let p = g.predict(kind, &[0.0, 1.0]);
            assert_eq!(p.person(), Some(1), "{kind:?}");
            // Halfway between both people: a weak score, below 0.4 for the
            // similarity-based classifiers, 0 for the linear ones.
            let s = 1.0 / libm::sqrtf(2.0);
            let p = g.predict(kind, &[-s, -s]);
            assert_eq!(p.person(), None, "{kind:?}: {p:?}");
        }
    }
}
