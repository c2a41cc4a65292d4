//! Stage 3, select-k: how many people are in the photos?
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

use std::ops::RangeInclusive;

use ndarray::Array2;

use crate::analysis::kmeans;
use crate::analysis::pca::Pca2;
use crate::analysis::population::Population;
use crate::analysis::silhouette;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::selection::{KRow, Selection, ThresholdSource};
use crate::artifacts::{Work, WorkDir};
use crate::error::{Error, Result};
use crate::render::charts;

/// The same-person threshold for a work directory: `flag` if given, else
/// the published one of the recognizer its embedding table records (found
/// by `published`, which knows the manifest), else none, and select-k reads
/// one off the data.
pub fn threshold_for(work: &Work, flag: Option<f32>, published: &dyn Fn(&str) -> Option<f32>) -> Result<Option<(f32, ThresholdSource)>> {
    if let Some(t) = flag {
        return Ok(Some((t, ThresholdSource::Flag)));
    }
    let table = EmbeddingTable::read(&work.embeddings())?;
    let Some(name) = table.recognizer else { return Ok(None) };
    Ok(published(&name).map(|t| (t, ThresholdSource::Manifest(name))))
}

/// Settings of the k sweep.
#[derive(Debug, Clone)]
pub struct SelectKOptions {
    pub k_min: usize,
    pub k_max: usize,
    /// KMeans starts per k.
    pub n_init: usize,
    pub seed: u64,
    /// Smallest group counted as a person.
    pub min_faces: usize,
    pub charts: bool,
}

impl Default for SelectKOptions {
    fn default() -> Self {
        SelectKOptions { k_min: 5, k_max: 15, n_init: 10, seed: 0, min_faces: 2, charts: true }
    }
}

/// The recommendation and the k range to sweep: the linkage count (at
/// least 2), and the asked range widened to include it, so the evidence for
/// the recommendation is always charted.
pub fn recommend(pop: &Population, k_min: usize, k_max: usize) -> (usize, RangeInclusive<usize>, Vec<String>) {
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

/// Runs the sweep, writes its files, and returns the selection.
pub fn select_k(work: &WorkDir, threshold: Option<(f32, ThresholdSource)>, opts: &SelectKOptions) -> Result<Selection> {
    if opts.k_min < 2 || opts.k_max < opts.k_min {
        return Err(Error::KRange { k_min: opts.k_min, k_max: opts.k_max });
    }
    let table = EmbeddingTable::read(&work.embeddings())?;
    let pop = Population::of(&table, threshold, opts.min_faces)?;
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

    selection.write(&work.k_selection_json(), &work.k_selection_csv())?;

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
