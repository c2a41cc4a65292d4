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
//!
//! **At a school's scale** (10^4 to 10^5 faces) the same answers come
//! cheaper:
//! - the linkage runs on a sparse graph of each face's most similar
//!   neighbours (see [`crate::analysis::linkage`]), never an n x n matrix;
//! - the sweep covers a grid ([`k_grid`]): all of a short range, otherwise
//!   geometric steps plus every k near the recommendation;
//! - the recommendation is fitted first; when the linkage start beats every
//!   random start there and random starts are expensive, the other k use
//!   the linkage start alone;
//! - silhouettes are exact up to a few thousand faces, then computed on a
//!   fixed-size seeded sample (as scikit-learn's `sample_size`), and the
//!   sample size is recorded in `k_selection.json`.

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
    /// The user chose the range (`--k-min`, `--k-max`): say when the people
    /// fall outside it. The default range is only where the sweep starts.
    pub range_given: bool,
    /// Threads of the linkage, KMeans and silhouettes (`--jobs`).
    pub jobs: usize,
}

impl Default for SelectKOptions {
    fn default() -> Self {
        SelectKOptions {
            k_min: 5,
            k_max: 15,
            n_init: 10,
            seed: 0,
            min_faces: 2,
            charts: true,
            range_given: false,
            jobs: rollcall_models::runtime::default_workers(),
        }
    }
}

/// The recommendation and the k values to sweep: the linkage count (at
/// least 2), and the asked range with the grid widened to include it (see
/// [`k_grid`]), so the evidence for the recommendation is always charted.
pub fn recommend(pop: &Population, k_min: usize, k_max: usize, range_given: bool) -> (usize, Vec<usize>, Vec<String>) {
    let mut warnings = Vec::new();
    let k = pop.people.max(2);
    if pop.people < 2 {
        warnings.push(format!("the faces look like {} person(s); clustering needs at least 2, so k = 2 is shown", pop.people));
    }
    if range_given && !(k_min..=k_max).contains(&k) {
        warnings.push(format!("the faces look like {k} people, outside the range {k_min}..={k_max}; the sweep was widened to include {k}"));
    }
    (k, k_grid(k_min..=k_max, k), warnings)
}

/// Every k of a range this short is swept; longer stretches in steps.
const EVERY_K_UP_TO: usize = 30;

/// The k values swept, ascending: every k of the asked range when it is
/// short ([`EVERY_K_UP_TO`] values), else its ends and steps of a quarter
/// between; every k within 2 of the recommendation; and, when the
/// recommendation lies outside the range, steps of a quarter out to it. A
/// thousand people cost a few dozen KMeans fits, not a thousand.
pub fn k_grid(range: RangeInclusive<usize>, recommended: usize) -> Vec<usize> {
    let (lo, hi) = (*range.start(), *range.end());
    let mut ks = std::collections::BTreeSet::new();
    let steps = |from: usize, to: usize, ks: &mut std::collections::BTreeSet<usize>| {
        let mut k = from as f64;
        while (k.round() as usize) < to {
            ks.insert(k.round() as usize);
            k = (k * 1.25).max(k + 1.0);
        }
        ks.insert(to);
    };
    if hi - lo < EVERY_K_UP_TO {
        ks.extend(lo..=hi);
    } else {
        steps(lo, hi, &mut ks);
    }
    if !range.contains(&recommended) || hi - lo >= EVERY_K_UP_TO {
        ks.extend(recommended.saturating_sub(2).max(2)..=recommended + 2);
        if recommended > hi {
            steps(hi, recommended, &mut ks);
        } else if recommended < lo {
            steps(recommended, lo, &mut ks);
        }
    }
    ks.into_iter().filter(|&k| k >= 2).collect()
}

/// Runs the sweep, writes its files, and returns the selection; on
/// `opts.jobs` threads.
pub fn select_k(work: &WorkDir, threshold: Option<(f32, ThresholdSource)>, opts: &SelectKOptions) -> Result<Selection> {
    if opts.k_min < 2 || opts.k_max < opts.k_min {
        return Err(Error::KRange { k_min: opts.k_min, k_max: opts.k_max });
    }
    crate::runner::install(opts.jobs, || sweep_and_write(work, threshold, opts))
}

/// The work of [`select_k`] once the range is checked, inside its pool of
/// threads.
fn sweep_and_write(work: &WorkDir, threshold: Option<(f32, ThresholdSource)>, opts: &SelectKOptions) -> Result<Selection> {
    let table = EmbeddingTable::read(&work.embeddings())?;
    let started = std::time::Instant::now();
    // The similarity graph and the linkage: seconds at 10^4 faces, a minute
    // or more at 10^5.
    let spinner = crate::runner::spinner("linkage");
    let pop = Population::of(&table, threshold, opts.min_faces)?;
    spinner.finish_and_clear();
    tracing::debug!("linkage: {} people, {} outliers, {:.2} s", pop.people, pop.outliers.len(), started.elapsed().as_secs_f64());
    let xi = pop.inlier_matrix();
    let (recommended, grid, mut warnings) = recommend(&pop, opts.k_min, opts.k_max, opts.range_given);
    let ks: Vec<usize> = grid.iter().copied().filter(|&k| k < xi.nrows()).collect();
    if ks.len() < grid.len() {
        warnings.push(format!("k = {} and above skipped: only {} faces are not outliers", grid[ks.len()], xi.nrows()));
    }

    let fits = sweep(&pop, &xi, &ks, recommended, opts);
    let rows = k_rows(&fits, xi.nrows());
    let silhouette_sample = (xi.nrows() > silhouette::SAMPLE).then_some(silhouette::SAMPLE);
    if let Some(size) = silhouette_sample {
        warnings.push(format!("silhouettes are of a random sample of {size} of the {} faces", xi.nrows()));
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
        silhouette_sample,
        rows,
    };

    selection.write(&work.k_selection_json(), &work.k_selection_csv())?;

    if opts.charts {
        let started = std::time::Instant::now();
        write_charts(work, &pop, &xi, &selection, &fits)?;
        tracing::debug!("charts: {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(selection)
}

/// One KMeans fit and silhouette per k: `(k, fit, sampled faces, their silhouettes)`, by k.
type Fits = Vec<(usize, kmeans::KMeansFit, Vec<usize>, Vec<f32>)>;

/// Fits every k of `ks` and takes each fit's silhouettes.
fn sweep(pop: &Population, xi: &Array2<f32>, ks: &[usize], recommended: usize, opts: &SelectKOptions) -> Fits {
    // The recommendation first. Where its fit is expensive, KMeans tries
    // the linkage start against one random start there; when the linkage
    // start wins, every other k of the sweep starts from the linkage groups
    // alone (each row records its random starts).
    let mut order = ks.to_vec();
    order.sort_by_key(|&k| k != recommended);
    let large = crate::analysis::population::expensive(xi.nrows(), recommended, xi.ncols(), opts.n_init);
    let mut linkage_only = false;
    let bar = crate::runner::progress(order.len(), "select-k");
    let mut fits = Vec::new();
    for &k in &order {
        let n_init = if linkage_only { 0 } else { opts.n_init };
        let started = std::time::Instant::now();
        let fit = pop.kmeans(xi, k, n_init, opts.seed);
        if k == recommended && large && fit.given_won {
            linkage_only = true;
        }
        let fitted = started.elapsed().as_secs_f64();
        let (sampled, s) = silhouette::sampled(xi.view(), &fit.labels, k, silhouette::SAMPLE, opts.seed);
        tracing::debug!(
            "k = {k}: {} random starts, {} iterations, linkage start won: {}; KMeans {fitted:.2} s, silhouette {:.2} s",
            fit.random_starts,
            fit.iterations,
            fit.given_won,
            started.elapsed().as_secs_f64() - fitted
        );
        fits.push((k, fit, sampled, s));
        bar.inc(1);
    }
    bar.finish_and_clear();
    fits.sort_by_key(|f| f.0);
    fits
}

/// The sweep's rows of `k_selection.csv`, over `n` faces.
fn k_rows(fits: &Fits, n: usize) -> Vec<KRow> {
    fits.iter()
        .map(|(k, fit, _, s)| KRow {
            k: *k,
            distortion: fit.inertia / n as f64,
            inertia: fit.inertia,
            silhouette: f64::from(silhouette::mean(s)),
            random_starts: fit.random_starts,
            linkage_start_won: fit.given_won,
        })
        .collect()
}

fn write_charts(work: &Work, pop: &Population, xi: &Array2<f32>, sel: &Selection, fits: &Fits) -> Result<()> {
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
    // line up; outliers are grey crosses. Beyond a few thousand faces the
    // scatters draw a seeded sample.
    let pca = Pca2::fit(pop.x.view());
    let axes = (format!("PC1 ({:.0}%)", pca.explained[0] * 100.0), format!("PC2 ({:.0}%)", pca.explained[1] * 100.0));
    let shown = charts::sample_rows(pop.x.nrows(), 0);
    let of = |n: usize, total: usize| if n < total { format!(" ({n} of {total} faces)") } else { String::new() };
    let all = pca.project(pop.x.select(ndarray::Axis(0), &shown).view());
    let mut is_outlier = vec![false; pop.x.nrows()];
    pop.outliers.iter().for_each(|&i| is_outlier[i] = true);
    let outlier_marks: Vec<usize> = shown.iter().map(|&i| if is_outlier[i] { usize::MAX } else { 0 }).collect();
    let title = format!("All faces (PCA){}; crosses: outliers", of(shown.len(), pop.x.nrows()));
    charts::scatter(&dir.join("pca.svg"), &title, (&axes.0, &axes.1), &all, Some(&outlier_marks), &[])?;
    let shown_inliers = charts::sample_rows(xi.nrows(), 0);
    let inlier_pts = pca.project(xi.select(ndarray::Axis(0), &shown_inliers).view());
    for (k, fit, sampled, s) in fits {
        let centroids = pca.project(fit.centers.view());
        let labels: Vec<usize> = shown_inliers.iter().map(|&i| fit.labels[i]).collect();
        let title = format!("KMeans k = {k} (PCA){}, triangles: centroids", of(shown_inliers.len(), xi.nrows()));
        charts::scatter(&dir.join(format!("pca_k{k}.svg")), &title, (&axes.0, &axes.1), &inlier_pts, Some(&labels), &centroids)?;
        if k.abs_diff(sel.recommended_k) <= 1 {
            let mean = silhouette::mean(s);
            let path = dir.join(format!("silhouette_k{k}.svg"));
            let faces = of(s.len(), xi.nrows());
            if *k <= charts::MAX_GROUPS {
                let labels: Vec<usize> = sampled.iter().map(|&i| fit.labels[i]).collect();
                charts::silhouette_diagram(&path, &format!("Silhouette, k = {k}{faces} (mean {mean:.3})"), s, &labels, *k, mean)?;
            } else {
                charts::histogram(&path, &format!("Silhouettes, k = {k}{faces} (mean {mean:.3})"), "silhouette", s, 40)?;
            }
        }
    }
    Ok(())
}
