//! Stage 5, cluster: group the faces into people, one folder each.
//!
//! Reads: `embeddings.parquet`, `aligned/`, and `k_selection.json` for the
//! default k. Writes: `clusters/person_<n>/` (copies of the chips, people
//! numbered from 1 by cluster size), `clusters/_outliers/` (faces that belong
//! to nobody; the underscore keeps them out of training), `clusters.csv`
//! (`file, cluster, silhouette, distance_to_centroid, folder`; outliers have
//! cluster -1 and no silhouette), `clusters.json` (per-cluster summary), and
//! in `charts/` the PCA plot with centroids, the per-cluster mean silhouette
//! bars and the silhouette diagram.
//!
//! KMeans runs on the inliers (see [`crate::select_k`]) with 20 seeded
//! k-means++ starts plus one start from the average-linkage groups; the
//! lowest inertia wins, so the result is reproducible.
//!
//! **The folders are the user's labels.** People rename `person_3` to
//! `Robin`, move a stray face, name a junk folder `unknown`. So a run refuses
//! to touch an existing `clusters/` unless told to (`--force`), and even then
//! it removes only what it wrote itself and finds unchanged in place (a
//! ledger, `clusters/.rollcall-ledger.json`, records each chip's folder and
//! sha256). Renamed folders, moved faces and added files are never touched,
//! and new folders never reuse a name that is taken.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::analysis::kmeans;
use crate::analysis::pca::Pca2;
use crate::analysis::silhouette;
use crate::charts;
use crate::select_k::{Population, Selection, ThresholdSource, population};
use crate::table::EmbeddingTable;
use crate::work::{Work, write_atomic, write_csv};

/// The folder outliers go to. Training skips names starting with `_`.
pub const OUTLIER_FOLDER: &str = "_outliers";
/// The ledger of what rollcall wrote into `clusters/`.
pub const LEDGER: &str = ".rollcall-ledger.json";

/// Settings of the cluster stage.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of people; default: `k_selection.json`'s recommendation, or
    /// the linkage count if select-k has not run.
    pub k: Option<usize>,
    /// KMeans starts.
    pub n_init: usize,
    /// Seed.
    pub seed: u64,
    /// Write into an existing `clusters/` (never touching the user's work).
    pub force: bool,
    /// Smallest group counted as a person.
    pub min_faces: usize,
    /// Write the charts.
    pub charts: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions { k: None, n_init: 20, seed: 0, force: false, min_faces: 2, charts: true }
    }
}

/// One row of `clusters.csv`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterRow {
    /// Chip file name.
    pub file: String,
    /// Person number (1..=k), or -1 for an outlier.
    pub cluster: i64,
    /// Silhouette of the face in its cluster (empty for outliers).
    pub silhouette: Option<f32>,
    /// Euclidean distance to its centroid (outliers: the nearest one).
    pub distance_to_centroid: f32,
    /// Folder under `clusters/` the chip was copied to.
    pub folder: String,
}

/// One cluster in `clusters.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Person number.
    pub cluster: usize,
    /// Folder written.
    pub folder: String,
    /// Faces.
    pub size: usize,
    /// Mean silhouette.
    pub mean_silhouette: f32,
}

/// `clusters.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClustersFile {
    /// Number of clusters.
    pub k: usize,
    /// KMeans inertia over the inliers.
    pub inertia: f64,
    /// Mean silhouette over the inliers.
    pub mean_silhouette: f32,
    /// Same-person threshold used to find outliers.
    pub threshold: f32,
    /// Its source.
    pub threshold_source: ThresholdSource,
    /// Per cluster.
    pub clusters: Vec<ClusterInfo>,
    /// Outlier faces.
    pub outliers: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    entries: Vec<LedgerEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LedgerEntry {
    folder: String,
    file: String,
    sha256: String,
}

/// What a cluster run produced.
#[derive(Debug)]
pub struct ClusterOutcome {
    /// `clusters.csv` rows, in table order.
    pub rows: Vec<ClusterRow>,
    /// `clusters.json`.
    pub summary: ClustersFile,
}

/// Reads `clusters.csv`.
pub fn read_clusters_csv(path: &Path) -> Result<Vec<ClusterRow>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    r.deserialize().map(|row| row.with_context(|| format!("{}: malformed row", path.display()))).collect()
}

/// Reads `clusters.json`.
pub fn read_clusters_json(path: &Path) -> Result<ClustersFile> {
    crate::work::read_json(path)
}

/// Clusters the faces; see the module docs.
pub fn cluster(work: &Work, threshold: Option<(f32, ThresholdSource)>, opts: &ClusterOptions) -> Result<ClusterOutcome> {
    let table = EmbeddingTable::read(&work.embeddings())?;
    let pop = population(&table, threshold, opts.min_faces)?;
    let k = match opts.k {
        Some(k) => k,
        None => match Selection::read(&work.k_selection_json()) {
            Ok(s) => s.recommended_k,
            Err(_) => pop.people,
        },
    };
    if k < 2 {
        bail!("k = {k}: the silhouette is undefined with fewer than 2 clusters; pass --k 2 or more");
    }
    if k >= pop.inliers.len() {
        bail!("k = {k} needs more faces: only {} are not outliers", pop.inliers.len());
    }
    prepare_clusters_dir(&work.clusters(), opts.force)?;

    let xi = pop.inlier_matrix();
    let fit = pop.kmeans(&xi, k, opts.n_init, opts.seed);

    // Number people by cluster size (largest first), ties by first face.
    let mut order: Vec<usize> = (0..k).collect();
    let size = |c: usize| fit.labels.iter().filter(|&&l| l == c).count();
    let first = |c: usize| fit.labels.iter().position(|&l| l == c).unwrap_or(usize::MAX);
    order.sort_by(|&a, &b| size(b).cmp(&size(a)).then(first(a).cmp(&first(b))));
    let mut rank = vec![0usize; k];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r;
    }
    let labels: Vec<usize> = fit.labels.iter().map(|&l| rank[l]).collect();
    let centers = fit.centers.select(ndarray::Axis(0), &order);

    let sil = silhouette::samples(xi.view(), &labels, k);
    let per = silhouette::per_cluster(&sil, &labels, k);
    let folders = folder_names(&work.clusters(), k)?;

    // Rows in table order.
    let mut rows: Vec<ClusterRow> = Vec::with_capacity(table.len());
    let mut inlier_pos = vec![None; table.len()];
    for (p, &i) in pop.inliers.iter().enumerate() {
        inlier_pos[i] = Some(p);
    }
    let (_, all_dist) = kmeans::assign(pop.x.view(), &kmeans::sq_norms(pop.x.view()), centers.view());
    for i in 0..table.len() {
        let row = match inlier_pos[i] {
            Some(p) => {
                let c = labels[p];
                let d = centers.row(c).iter().zip(pop.x.row(i).iter()).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
                ClusterRow {
                    file: pop.files[i].clone(),
                    cluster: c as i64 + 1,
                    silhouette: Some(sil[p]),
                    distance_to_centroid: d,
                    folder: folders[c].clone(),
                }
            }
            None => ClusterRow {
                file: pop.files[i].clone(),
                cluster: -1,
                silhouette: None,
                distance_to_centroid: all_dist[i].sqrt(),
                folder: OUTLIER_FOLDER.to_string(),
            },
        };
        rows.push(row);
    }

    write_folders(work, &rows)?;
    write_csv(&work.clusters_csv(), &rows)?;
    let summary = ClustersFile {
        k,
        inertia: fit.inertia,
        mean_silhouette: silhouette::mean(&sil),
        threshold: pop.threshold,
        threshold_source: pop.source.clone(),
        clusters: (0..k)
            .map(|c| ClusterInfo {
                cluster: c + 1,
                folder: folders[c].clone(),
                size: labels.iter().filter(|&&l| l == c).count(),
                mean_silhouette: per[c],
            })
            .collect(),
        outliers: pop.outliers.len(),
    };
    write_atomic(&work.clusters_json(), &serde_json::to_vec_pretty(&summary)?)?;
    if opts.charts {
        write_charts(work, &pop, &labels, &centers, &sil, &summary)?;
    }
    Ok(ClusterOutcome { rows, summary })
}

/// Fails if `dir` holds anything (a previous clustering, the user's labels).
pub fn check_clusters_dir(dir: &Path) -> Result<()> {
    if dir.exists() && is_used(dir)? {
        bail!(
            "{} already exists and may hold your labels (renamed folders, moved faces). Re-run with --force to re-cluster: \
             rollcall then removes only the chips it wrote that are still where it put them, unchanged; renamed folders and \
             anything you moved or added stay.",
            dir.display()
        );
    }
    Ok(())
}

fn is_used(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name() != LEDGER))
}

/// Refuses a used `clusters/` unless forced; when forced, removes only the
/// chips the ledger says rollcall wrote and that are unchanged in place.
fn prepare_clusters_dir(dir: &Path, force: bool) -> Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        return Ok(());
    }
    if !is_used(dir)? {
        return Ok(());
    }
    if !force {
        return check_clusters_dir(dir);
    }
    let ledger_path = dir.join(LEDGER);
    let ledger: Ledger = match std::fs::read(&ledger_path) {
        Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}: malformed", ledger_path.display()))?,
        Err(_) => {
            tracing::warn!(
                "{}: no ledger, so nothing in {} is known to be rollcall's; leaving it all",
                ledger_path.display(),
                dir.display()
            );
            Ledger::default()
        }
    };
    let mut folders = HashSet::new();
    let mut removed = 0;
    for e in &ledger.entries {
        if e.folder.contains('/') || e.file.contains('/') || e.folder.starts_with("..") {
            continue;
        }
        folders.insert(e.folder.clone());
        let p = dir.join(&e.folder).join(&e.file);
        if p.is_file() && rollcall_models::store::sha256_file(&p).is_ok_and(|s| s == e.sha256) {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
            removed += 1;
        }
    }
    for f in folders {
        let p = dir.join(&f);
        // Only an empty folder goes; anything the user put there keeps it.
        if p.is_dir() && std::fs::read_dir(&p).map(|mut d| d.next().is_none()).unwrap_or(false) {
            std::fs::remove_dir(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    tracing::info!("removed {removed} chips of the previous clustering from {}", dir.display());
    Ok(())
}

/// `person_<n>` for each cluster, skipping names already taken by folders
/// the user kept (which then get `person_<n>_2`, ...).
fn folder_names(dir: &Path, k: usize) -> Result<Vec<String>> {
    let taken: HashSet<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    Ok((1..=k)
        .map(|n| {
            let base = format!("person_{n}");
            if !taken.contains(&base) {
                return base;
            }
            (2..).map(|m| format!("{base}_{m}")).find(|c| !taken.contains(c)).unwrap_or(base)
        })
        .collect())
}

fn write_folders(work: &Work, rows: &[ClusterRow]) -> Result<()> {
    let dir = work.clusters();
    let outliers_taken = rows.iter().any(|r| r.cluster < 0) && dir.join(OUTLIER_FOLDER).exists();
    if outliers_taken {
        tracing::info!("{} exists; adding this run's outliers to it", dir.join(OUTLIER_FOLDER).display());
    }
    let mut ledger = Ledger::default();
    for r in rows {
        let src = work.aligned().join(&r.file);
        let bytes = match std::fs::read(&src) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("{}: {e}; not copied to {}", src.display(), r.folder);
                continue;
            }
        };
        let dst = dir.join(&r.folder).join(&r.file);
        if dst.exists() {
            // Never overwrite: a file of that name here is the user's now.
            tracing::warn!("{} exists; leaving it", dst.display());
            continue;
        }
        write_atomic(&dst, &bytes)?;
        ledger.entries.push(LedgerEntry {
            folder: r.folder.clone(),
            file: r.file.clone(),
            sha256: rollcall_models::store::sha256_hex(&bytes),
        });
    }
    write_atomic(&dir.join(LEDGER), &serde_json::to_vec_pretty(&ledger)?)
}

fn write_charts(
    work: &Work,
    pop: &Population,
    labels: &[usize],
    centers: &ndarray::Array2<f32>,
    sil: &[f32],
    summary: &ClustersFile,
) -> Result<()> {
    let dir = work.charts();
    let pca = Pca2::fit(pop.x.view());
    let pts = pca.project(pop.x.view());
    let mut marks = vec![usize::MAX; pop.x.nrows()];
    for (p, &i) in pop.inliers.iter().enumerate() {
        marks[i] = labels[p];
    }
    let axes = (format!("PC1 ({:.0}%)", pca.explained[0] * 100.0), format!("PC2 ({:.0}%)", pca.explained[1] * 100.0));
    let title = format!("{} people (PCA); triangles: centroids, crosses: outliers", summary.k);
    charts::scatter(&dir.join("clusters_pca.svg"), &title, (&axes.0, &axes.1), &pts, Some(&marks), &pca.project(centers.view()))?;
    let names: Vec<String> = summary.clusters.iter().map(|c| c.cluster.to_string()).collect();
    let values: Vec<f32> = summary.clusters.iter().map(|c| c.mean_silhouette).collect();
    charts::bars(&dir.join("clusters_silhouette.svg"), "Mean silhouette per person", "silhouette", &names, &values)?;
    let title = format!("Silhouette per face, k = {} (mean {:.3})", summary.k, summary.mean_silhouette);
    charts::silhouette_diagram(&dir.join("clusters_silhouette_diagram.svg"), &title, sil, labels, summary.k, summary.mean_silhouette)
}
