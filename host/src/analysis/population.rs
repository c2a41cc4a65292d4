//! Who is a person and who is an outlier: the faces grouped by average
//! linkage at the same-person threshold, groups of two or more counted as
//! people, faces left alone set aside (see `stages::select_k`).

use ndarray::{Array2, ArrayView2, Axis};

use super::kmeans::{self, KMeansParams};
use super::linkage::{self, Graph, Tree};
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::selection::ThresholdSource;
use crate::error::{Error, Result};

/// The faces split into people (inliers) and outliers.
#[derive(Debug, Clone)]
pub struct Population {
    /// All embeddings, one row per face, in table order.
    pub x: Array2<f32>,
    /// Chip file names, in table order.
    pub files: Vec<String>,
    /// Rows that belong to a group of at least `min_faces`.
    pub inliers: Vec<usize>,
    pub outliers: Vec<usize>,
    /// Number of people the linkage found.
    pub people: usize,
    pub threshold: f32,
    /// Where it came from.
    pub source: ThresholdSource,
    /// Average-linkage tree of the inliers (KMeans starts from its cuts).
    pub inlier_tree: Tree,
}

impl Population {
    /// Splits the faces of `table`: the threshold given, else the middle of
    /// the widest gap between merge similarities.
    pub fn of(table: &EmbeddingTable, threshold: Option<(f32, ThresholdSource)>, min_faces: usize) -> Result<Self> {
        if table.len() < 3 {
            return Err(Error::TooFewFaces { faces: table.len(), needed: 3, what: "choosing k" });
        }
        let x = Array2::from_shape_vec((table.len(), table.dim), table.data.clone())
            .map_err(|e| Error::Table { path: "embeddings.parquet".into(), reason: e.to_string() })?;
        let wanted = match &threshold {
            Some((t, _)) => Some(Error::check("same-person threshold", *t, -1.0, 1.0)?),
            None => None,
        };
        let graph = Graph::build(x.view(), linkage::floor_for(x.view(), wanted, linkage::EDGES_PER_FACE));
        tracing::debug!("similarity graph: {} pairs at or above {:.3}", graph.pairs(), graph.floor());
        // A cut at the threshold needs the merges down to it only, when the
        // graph reaches that far; the widest gap needs them all.
        let tree = match wanted {
            Some(t) if graph.floor() <= t => linkage::average_linkage_above_floor(x.view(), &graph),
            _ => linkage::average_linkage(x.view(), &graph),
        };
        let (threshold, source) = match threshold {
            Some((t, source)) => (t, source),
            None => (linkage::widest_gap_threshold(&tree).unwrap_or(0.0), ThresholdSource::DataGap),
        };
        let est = linkage::estimate_people(&tree, threshold, min_faces.max(1));
        let outliers = est.outliers.clone();
        let mut is_outlier = vec![false; table.len()];
        outliers.iter().for_each(|&i| is_outlier[i] = true);
        let inliers: Vec<usize> = (0..table.len()).filter(|&i| !is_outlier[i]).collect();
        let inlier_tree = linkage::average_linkage(x.select(Axis(0), &inliers).view(), &graph.restricted(&inliers));
        Ok(Population { x, files: table.files.clone(), inliers, outliers, people: est.people, threshold, source, inlier_tree })
    }

    /// The inlier rows as a matrix.
    pub fn inlier_matrix(&self) -> Array2<f32> {
        self.x.select(Axis(0), &self.inliers)
    }

    /// KMeans on the inliers `xi` (from [`inlier_matrix`](Self::inlier_matrix)):
    /// one start from the linkage groups plus `n_init` seeded k-means++
    /// starts, lowest inertia kept. When all of them would be expensive
    /// (see [`expensive`]), the random starts after the first run only if
    /// it beat the linkage start.
    pub fn kmeans(&self, xi: &Array2<f32>, k: usize, n_init: usize, seed: u64) -> kmeans::KMeansFit {
        let (n, d) = xi.dim();
        // Where even one k-means++ start would take minutes (10^11
        // multiply-adds to place its centres), the linkage start is alone.
        let n_init = if n as f64 * k as f64 * d as f64 * (2.0 + (k as f64).ln()) > 1e11 {
            tracing::info!("k = {k}: one k-means++ start on {n} faces would take minutes; KMeans starts from the linkage groups only");
            0
        } else {
            n_init
        };
        let params = KMeansParams {
            n_init,
            seed,
            init_centers: Some(linkage_start(xi.view(), &self.inlier_tree, k)),
            adaptive: expensive(xi.nrows(), k, xi.ncols(), n_init),
            ..KMeansParams::new(k)
        };
        kmeans::fit(xi.view(), &params)
    }
}

/// Whether `n_init` KMeans starts with `k` centres on `n` faces of `d`
/// values cost enough to try the linkage start first: 10^9 multiply-adds
/// for one Lloyd pass of every start, where a random start takes tens of
/// passes (seconds on a laptop). Small sets, such as a classroom's photos
/// (10^6), always get every start.
pub(crate) fn expensive(n: usize, k: usize, d: usize, n_init: usize) -> bool {
    n as f64 * k as f64 * d as f64 * n_init as f64 > 1e9
}

/// A KMeans start from the linkage tree cut into `k` groups.
pub(crate) fn linkage_start(x: ArrayView2<'_, f32>, tree: &Tree, k: usize) -> Array2<f32> {
    let groups = tree.cut_into(k);
    let d = x.ncols();
    let mut c = Array2::<f32>::zeros((k, d));
    let mut n = vec![0f32; k];
    for (row, &g) in x.rows().into_iter().zip(&groups) {
        if g < k {
            let mut r = c.row_mut(g);
            r += &row;
            n[g] += 1.0;
        }
    }
    for (mut r, &cnt) in c.rows_mut().into_iter().zip(&n) {
        if cnt > 0.0 {
            r /= cnt;
        }
    }
    c
}
