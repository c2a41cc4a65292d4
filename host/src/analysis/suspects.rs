//! Label mistakes, found before anything is fitted.
//!
//! The folders are the user's labels, and people make mistakes: a chip
//! dropped into the wrong folder, a chip copied into two folders, a folder
//! copied under a second name. One such face can wreck a threshold (a
//! mislabelled chip makes its true person look like a stranger scoring
//! 0.9), so they are found first and kept out of fitting and calibration:
//!
//! - **the same file in two folders** (by content hash): it stays in the
//!   folder whose other faces it is most like and leaves the others; a
//!   folder copied whole under a second name stays in the first by name,
//!   and the copy ends up empty and is skipped;
//! - **a chip closer to another person** than to the rest of its own folder
//!   (its folder's centroid without it): excluded;
//! - **two folders that look like one person** (their centroids closer than
//!   the recognizer's same-person score): both stay, with a warning, and
//!   neither counts as a stranger to the other;
//! - **a stranger that looks like a member** (a face in a junk or outlier
//!   folder scoring above that member's typical genuine score): left out of
//!   the stranger scores, since it is more likely the member than a stranger.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::learn::TrainingSet;
use crate::artifacts::training::Why;

/// The rows of `data` that are copies of a file kept in another folder:
/// `(row, path of the copy kept)`. `hashes` and `paths` are per row. Of the
/// copies, the one kept is in the folder whose other faces it is most like
/// (the first by name on a tie, as when a whole folder was copied).
pub(crate) fn duplicates(data: &TrainingSet, hashes: &[String], paths: &[PathBuf]) -> Vec<(usize, PathBuf)> {
    let mut copies: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, h) in hashes.iter().enumerate() {
        copies.entry(h.as_str()).or_default().push(i);
    }
    let copied: Vec<bool> = hashes.iter().map(|h| copies[h.as_str()].len() > 1).collect();
    // Each folder without any copied file: what a copy is compared with.
    let mut s = Array2::<f32>::zeros((data.people(), data.x.ncols()));
    for ((row, &c), _) in data.x.rows().into_iter().zip(&data.y).zip(&copied).filter(|(_, c)| !**c) {
        let mut r = s.row_mut(c);
        r += &row;
    }
    let fit = |i: usize| unit(s.row(data.y[i]).to_owned()).dot(&data.x.row(i));
    let mut out = Vec::new();
    for rows in copies.values().filter(|r| r.len() > 1) {
        let mut folders: Vec<usize> = rows.clone();
        folders.sort_by(|&a, &b| paths[a].cmp(&paths[b]));
        let kept = folders.iter().copied().fold(folders[0], |best, i| if fit(i) > fit(best) { i } else { best });
        // Copies within the kept folder are one face twice, not a label
        // mistake: only copies elsewhere are suspect.
        out.extend(rows.iter().filter(|&&i| paths[i].parent() != paths[kept].parent()).map(|&i| (i, paths[kept].clone())));
    }
    out.sort();
    out
}

fn unit(v: Array1<f32>) -> Array1<f32> {
    let n = v.dot(&v).sqrt();
    if n > 0.0 { v / n } else { v }
}

/// Each person's summed embeddings and face count.
fn sums(data: &TrainingSet) -> (Array2<f32>, Vec<usize>) {
    let mut s = Array2::<f32>::zeros((data.people(), data.x.ncols()));
    let mut n = vec![0usize; data.people()];
    for (row, &c) in data.x.rows().into_iter().zip(&data.y) {
        let mut r = s.row_mut(c);
        r += &row;
        n[c] += 1;
    }
    (s, n)
}

/// Pairs of people whose centroids are at least `same_person` alike.
pub(crate) fn look_alikes(data: &TrainingSet, same_person: f32) -> Vec<(usize, usize, f32)> {
    let (s, _) = sums(data);
    let c: Vec<Array1<f32>> = s.rows().into_iter().map(|r| unit(r.to_owned())).collect();
    let mut out = Vec::new();
    for a in 0..c.len() {
        for b in a + 1..c.len() {
            let cos = c[a].dot(&c[b]);
            if cos >= same_person {
                out.push((a, b, cos));
            }
        }
    }
    out
}

/// Rows closer to another person's centroid than to their own folder's
/// centroid without them. People in `alike` pairs are not compared with
/// each other. Rows of people with one face are not judged.
pub(crate) fn misfits(data: &TrainingSet, alike: &[(usize, usize, f32)]) -> Vec<(usize, Why)> {
    let (s, n) = sums(data);
    let centroids: Vec<Array1<f32>> = s.rows().into_iter().map(|r| unit(r.to_owned())).collect();
    let related = |a: usize, b: usize| alike.iter().any(|&(p, q, _)| (p == a && q == b) || (p == b && q == a));
    let mut out = Vec::new();
    for (i, (x, &own)) in data.x.rows().into_iter().zip(&data.y).enumerate() {
        if n[own] < 2 {
            continue;
        }
        let without = unit(&s.row(own) - &x);
        let own_cos = without.dot(&x);
        let best = (0..data.people())
            .filter(|&b| b != own && !related(own, b))
            .map(|b| (b, centroids[b].dot(&x)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((b, theirs)) = best
            && theirs > own_cos
        {
            out.push((i, Why::CloserToOther { person: data.labels[b].clone(), theirs, own: own_cos }));
        }
    }
    out
}

/// Strangers (rows of `strangers`) that look like a member: cosine to the
/// member's centroid above the median of the member's own faces' cosines to
/// their folder without them.
pub(crate) fn members_among_strangers(data: &TrainingSet, strangers: &Array2<f32>) -> Vec<(usize, Why)> {
    let (s, n) = sums(data);
    let centroids: Vec<Array1<f32>> = s.rows().into_iter().map(|r| unit(r.to_owned())).collect();
    let mut genuine: Vec<Vec<f32>> = vec![Vec::new(); data.people()];
    for (x, &own) in data.x.rows().into_iter().zip(&data.y) {
        if n[own] >= 2 {
            genuine[own].push(unit(&s.row(own) - &x).dot(&x));
        }
    }
    let typical: Vec<Option<f32>> = genuine.into_iter().map(median).collect();
    let mut out = Vec::new();
    for (i, x) in strangers.axis_iter(Axis(0)).enumerate() {
        let closest = best_member(&centroids, x);
        if let Some((b, score)) = closest
            && let Some(t) = typical[b]
            && score > t
        {
            out.push((i, Why::StrangerLooksLikeMember { person: data.labels[b].clone(), score, typical: t }));
        }
    }
    out
}

fn best_member(centroids: &[Array1<f32>], x: ArrayView1<'_, f32>) -> Option<(usize, f32)> {
    centroids.iter().enumerate().map(|(b, c)| (b, c.dot(&x))).max_by(|a, b| a.1.total_cmp(&b.1))
}

fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rows: &[[f32; 3]], y: &[usize], people: usize) -> TrainingSet {
        let x = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
        let x = Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, j]] / x.row(i).dot(&x.row(i)).sqrt());
        TrainingSet {
            x,
            y: y.to_vec(),
            labels: (0..people).map(|p| format!("p{p}")).collect(),
            files: (0..rows.len()).map(|i| format!("{i}.png")).collect(),
        }
    }

    #[test]
    fn a_chip_in_the_wrong_folder_is_found() {
        // Row 3 is person 0's face filed under person 1.
        let d = set(&[[1.0, 0.1, 0.0], [1.0, 0.0, 0.1], [0.1, 1.0, 0.0], [1.0, 0.05, 0.05], [0.0, 1.0, 0.1]], &[0, 0, 1, 1, 1], 2);
        let found = misfits(&d, &[]);
        assert_eq!(found.len(), 1);
        assert!(matches!(&found[0], (3, Why::CloserToOther { person, .. }) if person == "p0"), "{found:?}");
        assert!(misfits(&d, &[(0, 1, 0.9)]).is_empty(), "look-alike folders are not compared");
    }

    #[test]
    fn a_copy_stays_where_it_fits_and_whole_folder_copies_stay_first() {
        // 0.png, filed in a and copied into b, looks like b's other face.
        let d = set(&[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.1]], &[0, 0, 1, 1], 2);
        let paths: Vec<PathBuf> = ["a/0.png", "a/1.png", "b/0.png", "b/9.png"].iter().map(PathBuf::from).collect();
        let hashes: Vec<String> = ["x", "y", "x", "z"].iter().map(|s| s.to_string()).collect();
        assert_eq!(duplicates(&d, &hashes, &paths), vec![(0, PathBuf::from("b/0.png"))]);
        // A folder copied whole: every copy in the second goes.
        let d = set(&[[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [1.0, 0.0, 0.0], [1.0, 0.1, 0.0]], &[0, 0, 1, 1], 2);
        let paths: Vec<PathBuf> = ["a/1.png", "a/2.png", "b/1.png", "b/2.png"].iter().map(PathBuf::from).collect();
        let hashes: Vec<String> = ["x", "y", "x", "y"].iter().map(|s| s.to_string()).collect();
        assert_eq!(duplicates(&d, &hashes, &paths), vec![(2, PathBuf::from("a/1.png")), (3, PathBuf::from("a/2.png"))]);
    }

    #[test]
    fn look_alike_folders_and_members_among_strangers() {
        let d = set(
            &[[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.95, 0.05, 0.0], [1.0, 0.0, 0.05], [0.0, 0.0, 1.0], [0.0, 0.1, 1.0]],
            &[0, 0, 1, 1, 2, 2],
            3,
        );
        let alike = look_alikes(&d, 0.5);
        assert_eq!(alike.iter().map(|&(a, b, _)| (a, b)).collect::<Vec<_>>(), [(0, 1)]);
        let strangers = Array2::from_shape_vec((2, 3), vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0]).unwrap();
        let found = members_among_strangers(&d, &strangers);
        assert!(matches!(found.as_slice(), [(0, Why::StrangerLooksLikeMember { person, .. })] if person == "p2"), "{found:?}");
    }
}
