//! Stage 4, select-k: how many people are in the photos?
//!
//! Reads: `embeddings.parquet`. Writes: `k_selection.csv` (`k, distortion,
//! inertia, silhouette` for every k in the range), `k_selection.json` (the
//! same plus the recommendation, how it was made, and the outliers), and in
//! `charts/`: the distortion and inertia elbows, silhouette against k, a PCA
//! scatter of all faces, a PCA scatter per k coloured by cluster with the
//! centroids, and silhouette diagrams for the k around the recommendation.
//!
//! **How k is recommended.** Every recognizer has a same-person threshold:
//! faces whose cosine similarity exceeds it are, on the model's benchmark,
//! the same person (SFace: 0.363, from OpenCV's model zoo; it lives in the
//! manifest). The faces are grouped by average-linkage clustering on cosine
//! similarity, merging while the mean similarity between two groups is at
//! least that threshold. Each group of two or more faces is a person; the
//! recommendation is their number. A face left alone — a stranger in the
//! background, a false detection, someone seen once — is an **outlier**: it
//! is reported, kept out of the KMeans sweep, and later goes to
//! `clusters/_outliers/` instead of forcing an extra person. The count does
//! not depend on the k range; when it falls outside, the sweep is widened to
//! include it and a note says so. For a recognizer without a published threshold,
//! the middle of the widest gap between successive merge similarities is
//! used instead.
//!
//! The KMeans sweep (on the inliers, several seeded k-means++ starts plus one
//! start from the linkage groups, lowest inertia kept) gives the elbows and
//! silhouettes as supporting evidence, and the report says whether the
//! silhouette peak agrees.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::analysis::kmeans::{self, KMeansParams};
use crate::analysis::linkage::{self, Tree};
use crate::analysis::pca::Pca2;
use crate::analysis::silhouette;
use crate::charts;
use crate::table::EmbeddingTable;
use crate::work::{Work, write_atomic, write_csv};

/// Where the same-person threshold came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ThresholdSource {
    /// Given on the command line.
    Flag,
    /// The recognizer's `same_person_cosine` in the manifest.
    Manifest(String),
    /// The widest gap in the merge similarities.
    DataGap,
}

/// The faces split into people (inliers) and outliers.
#[derive(Debug, Clone)]
pub struct Population {
    /// All embeddings, one row per face, in table order.
    pub x: Array2<f32>,
    /// Chip file names, in table order.
    pub files: Vec<String>,
    /// Rows that belong to a group of at least `min_faces`.
    pub inliers: Vec<usize>,
    /// Rows left alone.
    pub outliers: Vec<usize>,
    /// Number of people the linkage found.
    pub people: usize,
    /// Same-person threshold used.
    pub threshold: f32,
    /// Its source.
    pub source: ThresholdSource,
    /// Average-linkage tree of the inliers (for KMeans starts).
    pub inlier_tree: Tree,
}

impl Population {
    /// The inlier rows as a matrix.
    pub fn inlier_matrix(&self) -> Array2<f32> {
        self.x.select(ndarray::Axis(0), &self.inliers)
    }

    /// KMeans on the inliers `xi` (from [`inlier_matrix`](Self::inlier_matrix)):
    /// `n_init` seeded k-means++ starts plus one start from the linkage
    /// groups, lowest inertia kept.
    pub fn kmeans(&self, xi: &Array2<f32>, k: usize, n_init: usize, seed: u64) -> kmeans::KMeansFit {
        let params =
            KMeansParams { n_init, seed, init_centers: Some(linkage_start(xi.view(), &self.inlier_tree, k)), ..KMeansParams::new(k) };
        kmeans::fit(xi.view(), &params)
    }
}

/// Splits the faces of `table` into people and outliers; see the module docs.
pub fn population(table: &EmbeddingTable, threshold: Option<(f32, ThresholdSource)>, min_faces: usize) -> Result<Population> {
    if table.len() < 3 {
        bail!("only {} faces: choosing k needs at least 3", table.len());
    }
    let x = Array2::from_shape_vec((table.len(), table.dim), table.data.clone()).context("embedding table shape")?;
    let tree = linkage::average_linkage(x.view());
    let (threshold, source) = match threshold {
        Some(t) => t,
        None => (linkage::widest_gap_threshold(&tree).unwrap_or(0.0), ThresholdSource::DataGap),
    };
    let est = linkage::estimate_people(&tree, threshold, min_faces.max(1));
    let outliers = est.outliers.clone();
    let mut is_outlier = vec![false; table.len()];
    outliers.iter().for_each(|&i| is_outlier[i] = true);
    let inliers: Vec<usize> = (0..table.len()).filter(|&i| !is_outlier[i]).collect();
    let inlier_tree = linkage::average_linkage(x.select(ndarray::Axis(0), &inliers).view());
    Ok(Population { x, files: table.files.clone(), inliers, outliers, people: est.people, threshold, source, inlier_tree })
}

/// Settings of the k sweep.
#[derive(Debug, Clone)]
pub struct SelectKOptions {
    /// Smallest k tried.
    pub k_min: usize,
    /// Largest k tried.
    pub k_max: usize,
    /// KMeans starts per k.
    pub n_init: usize,
    /// Seed.
    pub seed: u64,
    /// Smallest group counted as a person.
    pub min_faces: usize,
    /// Write the charts.
    pub charts: bool,
}

impl Default for SelectKOptions {
    fn default() -> Self {
        SelectKOptions { k_min: 5, k_max: 15, n_init: 10, seed: 0, min_faces: 2, charts: true }
    }
}

/// One k of the sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KRow {
    /// Number of clusters.
    pub k: usize,
    /// Mean squared Euclidean distance to the nearest centroid.
    pub distortion: f64,
    /// Sum of the same.
    pub inertia: f64,
    /// Mean silhouette.
    pub silhouette: f64,
}

/// `k_selection.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    /// Range asked for.
    pub k_min: usize,
    /// Range asked for.
    pub k_max: usize,
    /// Faces in the table.
    pub faces: usize,
    /// Faces in groups of at least `min_faces`.
    pub inliers: usize,
    /// Chip files of the outliers.
    pub outliers: Vec<String>,
    /// Same-person cosine threshold used.
    pub threshold: f32,
    /// Where it came from.
    pub threshold_source: ThresholdSource,
    /// People counted by linkage at the threshold.
    pub people_estimate: usize,
    /// The recommendation.
    pub recommended_k: usize,
    /// The k with the highest mean silhouette in the sweep.
    pub silhouette_best_k: Option<usize>,
    /// Warnings for the reader.
    pub warnings: Vec<String>,
    /// The sweep.
    pub rows: Vec<KRow>,
}

impl Selection {
    /// Reads `k_selection.json`.
    pub fn read(path: &Path) -> Result<Self> {
        crate::work::read_json(path)
    }
}

/// The recommendation and the k range to sweep: the linkage count (at
/// least 2), and the asked range widened to include it, so the evidence for
/// the recommendation is always charted.
pub fn recommend(pop: &Population, k_min: usize, k_max: usize) -> (usize, std::ops::RangeInclusive<usize>, Vec<String>) {
    let mut warnings = Vec::new();
    let k = pop.people.max(2);
    if pop.people < 2 {
        warnings.push(format!("the faces look like {} person(s); clustering needs at least 2, so k = 2 is shown", pop.people));
    }
    let range = k_min.min(k)..=k_max.max(k);
    if !(k_min..=k_max).contains(&k) {
        warnings.push(format!("the faces look like {k} people, outside the range {k_min}..={k_max}; the sweep was widened to include {k}"));
    }
    (k, range, warnings)
}

/// A KMeans start from the linkage tree cut into `k` groups.
pub fn linkage_start(x: ArrayView2<'_, f32>, tree: &Tree, k: usize) -> Array2<f32> {
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

/// Runs the sweep, writes its files, and returns the selection.
pub fn select_k(work: &Work, threshold: Option<(f32, ThresholdSource)>, opts: &SelectKOptions) -> Result<Selection> {
    if opts.k_min < 2 || opts.k_max < opts.k_min {
        bail!("the k range {}..={} is invalid: silhouettes need k >= 2 and k_min <= k_max", opts.k_min, opts.k_max);
    }
    let table = EmbeddingTable::read(&work.embeddings())?;
    let pop = population(&table, threshold, opts.min_faces)?;
    let xi = pop.inlier_matrix();
    let (recommended, range, mut warnings) = recommend(&pop, opts.k_min, opts.k_max);

    let mut rows = Vec::new();
    let mut fits = Vec::new();
    for k in range {
        if k >= xi.nrows() {
            warnings.push(format!("k = {k} and above skipped: only {} faces are not outliers", xi.nrows()));
            break;
        }
        let fit = pop.kmeans(&xi, k, opts.n_init, opts.seed);
        let s = silhouette::samples(xi.view(), &fit.labels, k);
        rows.push(KRow {
            k,
            distortion: fit.inertia / xi.nrows() as f64,
            inertia: fit.inertia,
            silhouette: f64::from(silhouette::mean(&s)),
        });
        fits.push((k, fit, s));
    }
    let silhouette_best_k = rows.iter().max_by(|a, b| a.silhouette.total_cmp(&b.silhouette)).map(|r| r.k);
    if let Some(b) = silhouette_best_k
        && b != recommended
    {
        warnings.push(format!("the silhouette peaks at k = {b}, not at the recommended {recommended}; look at the diagrams"));
    }

    let selection = Selection {
        k_min: opts.k_min,
        k_max: opts.k_max,
        faces: table.len(),
        inliers: pop.inliers.len(),
        outliers: pop.outliers.iter().map(|&i| pop.files[i].clone()).collect(),
        threshold: pop.threshold,
        threshold_source: pop.source.clone(),
        people_estimate: pop.people,
        recommended_k: recommended,
        silhouette_best_k,
        warnings,
        rows,
    };

    write_csv(&work.k_selection_csv(), &selection.rows)?;
    write_atomic(&work.k_selection_json(), &serde_json::to_vec_pretty(&selection)?)?;

    if opts.charts {
        write_charts(work, &pop, &xi, &selection, &fits)?;
    }
    Ok(selection)
}

fn write_charts(
    work: &Work,
    pop: &Population,
    xi: &Array2<f32>,
    sel: &Selection,
    fits: &[(usize, kmeans::KMeansFit, Vec<f32>)],
) -> Result<()> {
    let dir = work.charts();
    let pts = |f: fn(&KRow) -> f64| sel.rows.iter().map(|r| (r.k, f(r))).collect::<Vec<_>>();
    let mark = Some(sel.recommended_k);
    charts::line(
        &dir.join("k_distortion.svg"),
        "Distortion (mean squared distance to centroid)",
        "distortion",
        &pts(|r| r.distortion),
        mark,
    )?;
    charts::line(&dir.join("k_inertia.svg"), "Inertia (sum of squared distances)", "inertia", &pts(|r| r.inertia), mark)?;
    charts::line(&dir.join("k_silhouette.svg"), "Mean silhouette against k", "silhouette", &pts(|r| r.silhouette), mark)?;

    // One projection for every scatter, fitted on all faces, so the pictures
    // line up; outliers are grey crosses.
    let pca = Pca2::fit(pop.x.view());
    let all = pca.project(pop.x.view());
    let axes = (format!("PC1 ({:.0}%)", pca.explained[0] * 100.0), format!("PC2 ({:.0}%)", pca.explained[1] * 100.0));
    let mut outlier_marks = vec![0usize; pop.x.nrows()];
    pop.outliers.iter().for_each(|&i| outlier_marks[i] = usize::MAX);
    charts::scatter(&dir.join("pca.svg"), "All faces (PCA); crosses: outliers", (&axes.0, &axes.1), &all, Some(&outlier_marks), &[])?;
    let inlier_pts = pca.project(xi.view());
    for (k, fit, s) in fits {
        let centroids = pca.project(fit.centers.view());
        let title = format!("KMeans k = {k} (PCA), triangles: centroids");
        charts::scatter(&dir.join(format!("pca_k{k}.svg")), &title, (&axes.0, &axes.1), &inlier_pts, Some(&fit.labels), &centroids)?;
        if k.abs_diff(sel.recommended_k) <= 1 {
            let title = format!("Silhouette, k = {k} (mean {:.3})", silhouette::mean(s));
            charts::silhouette_diagram(&dir.join(format!("silhouette_k{k}.svg")), &title, s, &fit.labels, *k, silhouette::mean(s))?;
        }
    }
    Ok(())
}
