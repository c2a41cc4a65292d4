//! Silhouette coefficients (Rousseeuw 1987) with Euclidean distances.
//!
//! For each point, `a` is its mean distance to the other members of its
//! cluster and `b` the lowest mean distance to another cluster's members;
//! `s = (b - a) / max(a, b)`, and 0 for a point alone in its cluster (as
//! scikit-learn defines it). All `n²` distances are needed, so rows are taken
//! in blocks: one matrix product gives a block's dot products with every
//! point, which become distances and are summed per cluster. Blocks run in
//! parallel.

use ndarray::{Array2, ArrayView2, linalg::general_mat_mul, s};
use rayon::prelude::*;

use super::kmeans::sq_norms;

const BLOCK: usize = 256;

/// Silhouette of every row, given cluster labels in `0..k`.
pub(crate) fn samples(x: ArrayView2<'_, f32>, labels: &[usize], k: usize) -> Vec<f32> {
    #[cfg(test)]
    super::probe::seen();
    let n = x.nrows();
    assert_eq!(labels.len(), n, "one label per row");
    let x_sq = sq_norms(x);
    let mut counts = vec![0usize; k];
    for &l in labels {
        counts[l] += 1;
    }
    let blocks: Vec<usize> = (0..n).step_by(BLOCK).collect();
    let parts: Vec<Vec<f32>> = blocks
        .par_iter()
        .map(|&start| {
            let end = (start + BLOCK).min(n);
            let mut g = Array2::<f32>::zeros((end - start, n));
            general_mat_mul(1.0, &x.slice(s![start..end, ..]), &x.t(), 0.0, &mut g);
            let mut sums = vec![0f64; k];
            let mut out = Vec::with_capacity(end - start);
            for (r, row) in g.rows().into_iter().enumerate() {
                let i = start + r;
                sums.iter_mut().for_each(|v| *v = 0.0);
                for (j, &dot) in row.iter().enumerate() {
                    if j == i {
                        continue;
                    }
                    let d2 = x_sq[i] + x_sq[j] - 2.0 * dot;
                    sums[labels[j]] += f64::from(d2.max(0.0).sqrt());
                }
                let own = labels[i];
                if counts[own] <= 1 {
                    out.push(0.0);
                    continue;
                }
                let a = sums[own] / (counts[own] - 1) as f64;
                let b = (0..k).filter(|&c| c != own && counts[c] > 0).map(|c| sums[c] / counts[c] as f64).fold(f64::INFINITY, f64::min);
                let s = if !b.is_finite() || a.max(b) <= 0.0 { 0.0 } else { (b - a) / a.max(b) };
                out.push(s as f32);
            }
            out
        })
        .collect();
    parts.into_iter().flatten().collect()
}

/// Other clusters [`near_samples`] compares each face with.
pub(crate) const CANDIDATES: usize = 16;

/// Whether the exact silhouette of `n` rows of `d` values is cheap (about
/// 10^10 multiply-adds at most: seconds).
pub(crate) fn exact_is_cheap(n: usize, d: usize) -> bool {
    (n as f64).powi(2) * d as f64 <= 1e10
}

/// Silhouette of every row, with `b` (the lowest mean distance to another
/// cluster) taken over the [`CANDIDATES`] clusters whose centres are
/// nearest the row, instead of all of them: the cluster that minimises it
/// is, but for rare cases, among the nearest centres. Exact when there are
/// no more clusters than that; costs the row's own cluster and its
/// candidates instead of all `n` rows, so it scales to 10^5 faces.
pub(crate) fn near_samples(x: ArrayView2<'_, f32>, labels: &[usize], centers: ArrayView2<'_, f32>) -> Vec<f32> {
    #[cfg(test)]
    super::probe::seen();
    let k = centers.nrows();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    let x_sq = sq_norms(x);
    let c_sq = sq_norms(centers);
    let mean_dist = |i: usize, c: usize| -> (f64, usize) {
        let row = x.row(i);
        let mut sum = 0f64;
        let mut count = 0usize;
        for &j in &members[c] {
            if j != i {
                let d2 = x_sq[i] + x_sq[j] - 2.0 * row.dot(&x.row(j));
                sum += f64::from(d2.max(0.0).sqrt());
                count += 1;
            }
        }
        (sum, count)
    };
    (0..x.nrows())
        .into_par_iter()
        .map(|i| {
            let own = labels[i];
            let (sum, count) = mean_dist(i, own);
            if count == 0 {
                return 0.0;
            }
            let a = sum / count as f64;
            let row = x.row(i);
            let mut near: Vec<(f32, usize)> = (0..k)
                .filter(|&c| c != own && !members[c].is_empty())
                .map(|c| (x_sq[i] + c_sq[c] - 2.0 * row.dot(&centers.row(c)), c))
                .collect();
            if near.len() > CANDIDATES {
                near.select_nth_unstable_by(CANDIDATES - 1, |p, q| p.0.total_cmp(&q.0));
                near.truncate(CANDIDATES);
            }
            let b = near
                .iter()
                .map(|&(_, c)| {
                    let (s, n) = mean_dist(i, c);
                    s / n.max(1) as f64
                })
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() || a.max(b) <= 0.0 { 0.0 } else { ((b - a) / a.max(b)) as f32 }
        })
        .collect()
}

/// Faces a sampled silhouette uses: below this many, every face.
pub(crate) const SAMPLE: usize = 4000;

/// The silhouettes of a seeded random sample of at most `size` rows, as
/// scikit-learn's `silhouette_score(sample_size=...)` computes them: among
/// the sampled rows only. Returns the rows (sorted) and their values; every
/// row when there are no more than `size`.
pub(crate) fn sampled(x: ArrayView2<'_, f32>, labels: &[usize], k: usize, size: usize, seed: u64) -> (Vec<usize>, Vec<f32>) {
    let n = x.nrows();
    if n <= size {
        return ((0..n).collect(), samples(x, labels, k));
    }
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut rows = rand::seq::index::sample(&mut rng, n, size).into_vec();
    rows.sort_unstable();
    let sub = x.select(ndarray::Axis(0), &rows);
    let sub_labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    let values = samples(sub.view(), &sub_labels, k);
    (rows, values)
}

/// Mean silhouette over all rows.
pub(crate) fn mean(values: &[f32]) -> f32 {
    if values.is_empty() { 0.0 } else { (values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64) as f32 }
}

/// Mean silhouette of each cluster.
pub(crate) fn per_cluster(values: &[f32], labels: &[usize], k: usize) -> Vec<f32> {
    let mut sum = vec![0f64; k];
    let mut n = vec![0usize; k];
    for (&v, &l) in values.iter().zip(labels) {
        sum[l] += f64::from(v);
        n[l] += 1;
    }
    sum.iter().zip(&n).map(|(&s, &c)| if c == 0 { 0.0 } else { (s / c as f64) as f32 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_a_hand_computed_case() {
        // Points on a line: 0, 1 in cluster 0; 4 in cluster 1 (alone).
        let x = array![[0.0f32], [1.0], [4.0]];
        let s = samples(x.view(), &[0, 0, 1], 2);
        // Point 0: a = 1, b = 4 -> 0.75. Point 1: a = 1, b = 3 -> 2/3. Point 2: singleton -> 0.
        assert!((s[0] - 0.75).abs() < 1e-6 && (s[1] - 2.0 / 3.0).abs() < 1e-6 && s[2] == 0.0, "{s:?}");
        assert!((mean(&s) - (0.75 + 2.0 / 3.0) / 3.0).abs() < 1e-6);
        let pc = per_cluster(&s, &[0, 0, 1], 2);
        assert!((pc[0] - (0.75 + 2.0 / 3.0) / 2.0).abs() < 1e-6 && pc[1] == 0.0);
    }

    #[test]
    fn nearest_candidates_agree_with_all_clusters() {
        // Forty clusters on a line, so each face's nearest other cluster is
        // a neighbour: the candidates hold it, and the values are exact.
        let n = 400;
        let x = Array2::from_shape_fn(
            (n, 2),
            |(i, j)| if j == 0 { (i / 10) as f32 * 5.0 + (i % 10) as f32 * 0.1 } else { (i % 3) as f32 * 0.1 },
        );
        let labels: Vec<usize> = (0..n).map(|i| i / 10).collect();
        let mut centers = Array2::<f32>::zeros((40, 2));
        for (i, &l) in labels.iter().enumerate() {
            let mut c = centers.row_mut(l);
            c += &(&x.row(i) / 10.0);
        }
        let near = near_samples(x.view(), &labels, centers.view());
        let all = samples(x.view(), &labels, 40);
        for (a, b) in near.iter().zip(&all) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn blocks_agree_with_a_direct_computation() {
        let n = 600;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| (((i * 7 + j * 13) % 23) as f32) * 0.1 + (i % 3) as f32 * 3.0);
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let fast = samples(x.view(), &labels, 3);
        for &i in &[0usize, 257, 599] {
            let d = |a: usize, b: usize| (0..3).map(|c| (x[[a, c]] - x[[b, c]]).powi(2)).sum::<f32>().sqrt() as f64;
            let mean_to = |c: usize| {
                let m: Vec<usize> = (0..n).filter(|&j| labels[j] == c && j != i).collect();
                m.iter().map(|&j| d(i, j)).sum::<f64>() / m.len() as f64
            };
            let a = mean_to(labels[i]);
            let b = (0..3).filter(|&c| c != labels[i]).map(|c| {
                let m: Vec<usize> = (0..n).filter(|&j| labels[j] == c).collect();
                m.iter().map(|&j| d(i, j)).sum::<f64>() / m.len() as f64
            });
            let b = b.fold(f64::INFINITY, f64::min);
            let want = (b - a) / a.max(b);
            assert!((f64::from(fast[i]) - want).abs() < 1e-4, "row {i}: {} vs {want}", fast[i]);
        }
    }
}
