//! One person at most once per photo: naming a photo's faces jointly.
//!
//! Two faces in one photo are two people. Named one at a time, two children
//! who look alike can both be named after the same one; so the faces of a
//! photo (or a frame) are named together, by the assignment that maximises
//! the summed margin over the threshold: each face gets one person at most,
//! each person one face at most, and a face gets a person only when its
//! score for that person clears the threshold. A face that loses its best
//! name to a face that fits it better gets its next name above threshold,
//! or stays unknown. Without a conflict every face keeps its own best name.

use alloc::vec;
use alloc::vec::Vec;

use crate::classify::Prediction;
use crate::gallery::{ClassifierKind, Gallery};

impl Gallery {
    /// Classifies the faces of one photo together (see the module docs).
    /// Each face's prediction is what [`Gallery::predict`] says when it
    /// keeps its best person; a face moved to another person gets that
    /// person's score.
    pub fn predict_jointly(&self, kind: ClassifierKind, faces: &[&[f32]]) -> Vec<Prediction> {
        let alone: Vec<Prediction> = faces.iter().map(|x| self.predict(kind, x)).collect();
        let mut claimed = vec![0usize; self.people()];
        for p in alone.iter().filter_map(Prediction::person) {
            claimed[p] += 1;
        }
        if claimed.iter().all(|&c| c <= 1) {
            return alone;
        }
        let threshold = self.threshold(kind).value;
        let people = self.people();
        // margins[i][p]: how far face i's score for person p clears the
        // threshold; None where it does not.
        let margins: Vec<Vec<Option<f32>>> = faces
            .iter()
            .zip(&alone)
            .map(|(x, a)| {
                (0..people)
                    .map(|p| {
                        let s = if p == a.best { a.score } else { self.score_among(kind, x, &|c| c == p).1 };
                        (s >= threshold && s.is_finite()).then_some(s - threshold)
                    })
                    .collect()
            })
            .collect();
        let chosen = best_assignment(&margins, people);
        faces
            .iter()
            .zip(&alone)
            .zip(chosen)
            .map(|((x, a), c)| match c {
                Some(p) if p == a.best => *a,
                Some(p) => Prediction {
                    best: p,
                    score: self.score_among(kind, x, &|q| q == p).1,
                    accepted: true,
                    similarity: self.similarity(p, x),
                },
                // Unknown: the best person and score stay for the record.
                None => Prediction { accepted: false, ..*a },
            })
            .collect()
    }
}

/// The assignment of rows to columns (each column once at most, a row to
/// none when it must) that maximises the summed weight; `None` weights are
/// forbidden pairs. Hungarian method on the square matrix of rows against
/// columns plus one "nobody" column per row, O(n³).
pub fn best_assignment(weights: &[Vec<Option<f32>>], columns: usize) -> Vec<Option<usize>> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let m = columns + n;
    // Costs to minimise: minus the weight; a forbidden pair costs more than
    // any assignment that avoids it.
    let max = weights.iter().flatten().flatten().fold(0f64, |a, &w| a.max(w.abs() as f64));
    let forbidden = (max + 1.0) * (n as f64 + 1.0) * 4.0;
    let cost = |i: usize, j: usize| -> f64 {
        if j < columns { weights[i].get(j).copied().flatten().map_or(forbidden, |w| -(w as f64)) } else { 0.0 }
    };
    // e-maxx's formulation: rows 1..=n, columns 1..=m, potentials u and v,
    // p[j] the row matched to column j, way[j] the previous column on the
    // augmenting path.
    let mut u = vec![0f64; n + 1];
    let mut v = vec![0f64; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; n];
    for j in 1..=columns {
        if p[j] != 0 && weights[p[j] - 1].get(j - 1).copied().flatten().is_some() {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::{VectorForm, Vectors};

    #[test]
    fn without_a_conflict_everyone_keeps_their_best() {
        let w = vec![vec![Some(0.5), Some(0.1)], vec![Some(0.2), Some(0.3)]];
        assert_eq!(best_assignment(&w, 2), vec![Some(0), Some(1)]);
    }

    #[test]
    fn the_loser_takes_its_next_name_above_threshold_or_none() {
        // Both faces' best is person 0; face 0 fits person 0 better, face 1
        // has a second name above threshold.
        let w = vec![vec![Some(0.6), None], vec![Some(0.5), Some(0.2)]];
        assert_eq!(best_assignment(&w, 2), vec![Some(0), Some(1)]);
        // Without a second name, the loser is nobody.
        let w = vec![vec![Some(0.6), None], vec![Some(0.5), None]];
        assert_eq!(best_assignment(&w, 2), vec![Some(0), None]);
        // Forbidden everywhere: nobody.
        assert_eq!(best_assignment(&[vec![None, None]], 2), vec![None]);
        assert_eq!(best_assignment(&[], 3), Vec::<Option<usize>>::new());
    }

    #[test]
    fn the_assignment_maximises_the_sum_not_each_greedily() {
        // Greedy on the highest score gives face 0 person 0 (0.9) and
        // leaves face 1 nobody; jointly, 0.8 + 0.7 is more.
        let w = vec![vec![Some(0.9), Some(0.8)], vec![Some(0.7), None]];
        assert_eq!(best_assignment(&w, 2), vec![Some(1), Some(0)]);
    }

    /// Non-identical twins in one photo were both named after one of them
    /// (a photo library's users reported it): faces were named one at a
    /// time. Named jointly, one person is named at most once per photo.
    #[test]
    fn regression_twins_in_one_photo_were_named_as_the_same_person() {
        let mut g = crate::gallery::tests::sample(2, 4, 2, VectorForm::F32);
        let s = 1.0 / libm::sqrtf(2.0);
        // Person 0 along x, person 1 at 45 degrees.
        g.centroids = Vectors::encode(&[1.0, 0.0, s, s], 2, VectorForm::F32);
        let twin_a = [1.0f32, 0.0];
        // Closer to person 0 than to person 1, yet above threshold for both.
        let twin_b = [libm::cosf(0.3), libm::sinf(0.3)];
        let alone: Vec<_> = [&twin_a[..], &twin_b[..]].iter().map(|x| g.predict(ClassifierKind::NearestCentroid, x)).collect();
        assert_eq!(alone.iter().map(|p| p.person()).collect::<Vec<_>>(), vec![Some(0), Some(0)], "the old behaviour");
        let joint = g.predict_jointly(ClassifierKind::NearestCentroid, &[&twin_a, &twin_b]);
        assert_eq!(joint.iter().map(|p| p.person()).collect::<Vec<_>>(), vec![Some(0), Some(1)]);
        assert_eq!(joint[0], alone[0], "the face keeping its best name keeps its prediction");
        assert!((joint[1].score - (twin_b[0] * s + twin_b[1] * s)).abs() < 1e-5, "its score is for the name it got");
    }
}
