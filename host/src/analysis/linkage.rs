//! Average-linkage agglomerative clustering on cosine similarity, used to
//! count the people in a set of faces and to spot faces that belong to
//! nobody.
//!
//! A recognizer comes with a same-person threshold: two faces whose cosine
//! similarity exceeds it are, on the model's benchmark, the same person.
//! Average linkage merges the two groups with the highest mean pairwise
//! similarity, so if merging stops where that mean falls below the threshold,
//! every group left is a set of faces that, taken together, look like one
//! person, and no two groups do. Groups of one face are outliers: strangers
//! in the background, false detections, or a person seen once.

use ndarray::ArrayView2;

/// The dendrogram of a set of embeddings.
#[derive(Debug, Clone)]
pub struct Tree {
    n: usize,
    /// `(a, b, similarity)` per merge, in merge order; clusters are numbered
    /// as in SciPy (`0..n` leaves, then `n + step`).
    merges: Vec<(usize, usize, f32)>,
}

/// Builds the average-linkage tree of L2-normalised rows.
pub fn average_linkage(x: ArrayView2<'_, f32>) -> Tree {
    let n = x.nrows();
    if n < 2 {
        return Tree { n, merges: Vec::new() };
    }
    let g = x.dot(&x.t());
    let mut condensed = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            condensed.push(1.0 - g[[i, j]]);
        }
    }
    let dendrogram = kodama::linkage(&mut condensed, n, kodama::Method::Average);
    let merges = dendrogram.steps().iter().map(|s| (s.cluster1, s.cluster2, 1.0 - s.dissimilarity)).collect();
    Tree { n, merges }
}

impl Tree {
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Mean similarity at each merge, in merge order (non-increasing for
    /// average linkage).
    pub fn merge_similarities(&self) -> Vec<f32> {
        self.merges.iter().map(|m| m.2).collect()
    }

    /// Groups formed by the merges whose similarity is at least `threshold`.
    /// Returns one group index per leaf, groups numbered from 0 in order of
    /// their first leaf.
    pub fn cut_at(&self, threshold: f32) -> Vec<usize> {
        let steps = self.merges.iter().take_while(|m| m.2 >= threshold).count();
        self.cut_after(steps)
    }

    /// Exactly `k` groups (the first `n - k` merges).
    pub fn cut_into(&self, k: usize) -> Vec<usize> {
        self.cut_after(self.n.saturating_sub(k.max(1)))
    }

    fn cut_after(&self, steps: usize) -> Vec<usize> {
        // Union-find over leaves and merged clusters.
        let total = self.n + self.merges.len();
        let mut parent: Vec<usize> = (0..total).collect();
        fn root(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        for (s, &(a, b, _)) in self.merges.iter().take(steps).enumerate() {
            let new = self.n + s;
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            parent[ra] = new;
            parent[rb] = new;
        }
        let mut ids = std::collections::HashMap::new();
        (0..self.n)
            .map(|i| {
                let r = root(&mut parent, i);
                let next = ids.len();
                *ids.entry(r).or_insert(next)
            })
            .collect()
    }
}

/// How many people a set of faces holds, by the same-person threshold.
#[derive(Debug, Clone)]
pub struct PeopleEstimate {
    /// Number of groups with at least `min_faces` faces: the people.
    pub people: usize,
    /// Faces in smaller groups: the outliers.
    pub outliers: Vec<usize>,
}

/// Cuts the tree at `threshold` and counts groups of at least `min_faces`.
pub fn estimate_people(tree: &Tree, threshold: f32, min_faces: usize) -> PeopleEstimate {
    let groups = tree.cut_at(threshold);
    let mut sizes = std::collections::HashMap::<usize, usize>::new();
    for &g in &groups {
        *sizes.entry(g).or_default() += 1;
    }
    let people = sizes.values().filter(|&&s| s >= min_faces).count();
    let outliers = groups.iter().enumerate().filter(|&(_, g)| sizes[g] < min_faces).map(|(i, _)| i).collect();
    PeopleEstimate { people, outliers }
}

/// The threshold implied by the data alone: the middle of the widest gap
/// between consecutive merge similarities (among merges above -1), used when
/// the recognizer publishes no same-person threshold.
pub fn widest_gap_threshold(tree: &Tree) -> Option<f32> {
    let sims = tree.merge_similarities();
    sims.windows(2).map(|w| (w[0] - w[1], (w[0] + w[1]) / 2.0)).max_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, mid)| mid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn unit_rows(rows: &[[f32; 3]]) -> Array2<f32> {
        let mut x = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
        for mut r in x.rows_mut() {
            let n = r.dot(&r).sqrt();
            r /= n;
        }
        x
    }

    #[test]
    fn counts_people_and_leaves_strangers_out() {
        // Two tight groups, and one face orthogonal to both.
        let x = unit_rows(&[[1.0, 0.05, 0.0], [1.0, -0.05, 0.0], [1.0, 0.0, 0.05], [0.0, 1.0, 0.05], [0.05, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        let tree = average_linkage(x.view());
        let est = estimate_people(&tree, 0.363, 2);
        assert_eq!(est.people, 2);
        assert_eq!(est.outliers, vec![5]);
        let groups = tree.cut_at(0.363);
        assert_eq!(groups[0], groups[2]);
        assert_ne!(groups[0], groups[3]);
        let g = widest_gap_threshold(&tree).unwrap();
        assert!(g > 0.1 && g < 0.9, "{g}");
    }

    #[test]
    fn cut_into_k_gives_k_groups() {
        let x = unit_rows(&[[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]]);
        let tree = average_linkage(x.view());
        for k in 1..=5 {
            let g = tree.cut_into(k);
            let distinct: std::collections::HashSet<_> = g.iter().collect();
            assert_eq!(distinct.len(), k);
        }
    }
}
