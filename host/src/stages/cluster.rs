//! Stage 4, cluster: group the faces into people, one folder each.
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
//! KMeans runs on the inliers (see [`super::select_k`]) with 20 seeded
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

use ndarray::{Array2, Axis};

use rollcall_files::shown;

use crate::analysis::kmeans;
use crate::analysis::pca::Pca2;
use crate::analysis::population::Population;
use crate::analysis::silhouette;
use crate::artifacts::clusters::{self, ClusterInfo, ClusterRow, ClustersFile, LEDGER, Ledger, LedgerEntry, OUTLIER_FOLDER};
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::io::optional;
use crate::artifacts::selection::{Selection, ThresholdSource};
use crate::artifacts::{Work, WorkDir};
use crate::error::{Error, Result};
use crate::render::charts;

/// Where `cluster` assembles the new folders before moving them into place.
const STAGING: &str = ".rollcall-staging";

/// Settings of the cluster stage.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of people; default: `k_selection.json`'s recommendation, or
    /// the linkage count if select-k has not run.
    pub k: Option<usize>,
    pub n_init: usize,
    pub seed: u64,
    /// Write into an existing `clusters/` (never touching the user's work).
    pub force: bool,
    /// Smallest group counted as a person.
    pub min_faces: usize,
    pub charts: bool,
    /// Threads of the linkage, KMeans and silhouettes, and workers writing
    /// the folders (`--jobs`).
    pub jobs: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            k: None,
            n_init: 20,
            seed: 0,
            force: false,
            min_faces: 2,
            charts: true,
            jobs: rollcall_models::runtime::default_workers(),
        }
    }
}

/// What a cluster run produced.
#[derive(Debug)]
pub struct ClusterOutcome {
    /// `clusters.csv` rows, in table order.
    pub rows: Vec<ClusterRow>,
    /// `clusters.json`.
    pub summary: ClustersFile,
}

/// Clusters the faces, on `opts.jobs` threads; see the module docs.
pub fn cluster(work: &WorkDir, threshold: Option<(f32, ThresholdSource)>, opts: &ClusterOptions) -> Result<ClusterOutcome> {
    crate::runner::install(opts.jobs, || cluster_in(work, threshold, opts))
}

/// The work of [`cluster`], inside its pool of threads.
fn cluster_in(work: &WorkDir, threshold: Option<(f32, ThresholdSource)>, opts: &ClusterOptions) -> Result<ClusterOutcome> {
    let table = EmbeddingTable::read(&work.embeddings())?;
    // The similarity graph and the linkage: seconds at 10^4 faces, a minute
    // or more at 10^5.
    let spinner = crate::runner::spinner("linkage");
    let pop = Population::of(&table, threshold, opts.min_faces)?;
    spinner.finish_and_clear();
    // Without a --k, select-k's recommendation; without select-k, the
    // linkage count. A select-k file that is there but broken is an error,
    // not a silent fallback.
    let selection = optional(&work.k_selection_json(), Selection::read)?;
    let k = match opts.k {
        Some(k) => k,
        None => selection.as_ref().map_or(pop.people, |s| s.recommended_k),
    };
    if k < 2 {
        return Err(Error::KBelowTwo { k });
    }
    if k >= pop.inliers.len() {
        return Err(Error::KTooLarge { k, inliers: pop.inliers.len() });
    }
    prepare_clusters_dir(&work.clusters(), opts.force)?;

    let xi = pop.inlier_matrix();
    // Where the fit is expensive and select-k saw the linkage start beat a
    // random one at this k, the random starts would only repeat that.
    let seen_to_win =
        selection.as_ref().and_then(|s| s.rows.iter().find(|r| r.k == k)).is_some_and(|r| r.linkage_start_won && r.random_starts > 0);
    let n_init =
        if seen_to_win && crate::analysis::population::expensive(xi.nrows(), k, xi.ncols(), opts.n_init) { 0 } else { opts.n_init };
    let fit = pop.kmeans(&xi, k, n_init, opts.seed);
    let (labels, centers) = numbered_by_size(&fit, k);
    // Every face's silhouette: exact while that is cheap, else against the
    // clusters nearest each face (see `silhouette::near_samples`).
    let sil = if silhouette::exact_is_cheap(xi.nrows(), xi.ncols()) {
        silhouette::samples(xi.view(), &labels, k)
    } else {
        silhouette::near_samples(xi.view(), &labels, centers.view())
    };
    let per = silhouette::per_cluster(&sil, &labels, k);
    let folders = folder_names(&work.clusters(), k)?;
    let rows = rows(&pop, &labels, &centers, &sil, &folders);
    let mut sizes = vec![0usize; k];
    labels.iter().for_each(|&l| sizes[l] += 1);

    write_folders(work, &rows, opts.jobs)?;
    clusters::write_rows(&work.clusters_csv(), &rows)?;
    let summary = ClustersFile {
        k,
        inertia: fit.inertia,
        mean_silhouette: silhouette::mean(&sil),
        threshold: pop.threshold,
        threshold_source: pop.source.clone(),
        clusters: (0..k)
            .map(|c| ClusterInfo { cluster: c + 1, folder: folders[c].clone(), size: sizes[c], mean_silhouette: per[c] })
            .collect(),
        outliers: pop.outliers.len(),
    };
    summary.write(&work.clusters_json())?;
    if opts.charts {
        write_charts(work, &pop, &labels, &centers, &sil, &summary)?;
    }
    Ok(ClusterOutcome { rows, summary })
}

/// Cluster labels and centres renumbered so that person 1 is the largest
/// cluster (ties: the one whose first face comes first).
fn numbered_by_size(fit: &kmeans::KMeansFit, k: usize) -> (Vec<usize>, Array2<f32>) {
    let mut order: Vec<usize> = (0..k).collect();
    let (mut size, mut first) = (vec![0usize; k], vec![usize::MAX; k]);
    for (i, &l) in fit.labels.iter().enumerate() {
        size[l] += 1;
        first[l] = first[l].min(i);
    }
    order.sort_by(|&a, &b| size[b].cmp(&size[a]).then(first[a].cmp(&first[b])));
    let mut rank = vec![0usize; k];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r;
    }
    (fit.labels.iter().map(|&l| rank[l]).collect(), fit.centers.select(Axis(0), &order))
}

/// One row per face, in table order: inliers with their cluster, silhouette
/// and distance to its centre; outliers with the distance to the nearest.
fn rows(pop: &Population, labels: &[usize], centers: &Array2<f32>, sil: &[f32], folders: &[String]) -> Vec<ClusterRow> {
    let mut inlier_pos = vec![None; pop.files.len()];
    for (p, &i) in pop.inliers.iter().enumerate() {
        inlier_pos[i] = Some(p);
    }
    let (_, all_dist) = kmeans::assign(pop.x.view(), &kmeans::sq_norms(pop.x.view()), centers.view());
    (0..pop.files.len())
        .map(|i| match inlier_pos[i] {
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
        })
        .collect()
}

/// Fails if `dir` holds anything (a previous clustering, the user's labels).
pub fn check_clusters_dir(dir: &Path) -> Result<()> {
    if dir.exists() && is_used(dir)? {
        return Err(Error::ClustersInUse { dir: dir.to_path_buf() });
    }
    Ok(())
}

/// Whether `dir` holds anything but rollcall's own bookkeeping (the ledger,
/// an interrupted run's staging folder or temporary files).
fn is_used(dir: &Path) -> Result<bool> {
    let ours =
        |name: &std::ffi::OsStr| name == LEDGER || name == STAGING || name.to_string_lossy().starts_with(rollcall_files::TEMP_PREFIX);
    Ok(std::fs::read_dir(dir).map_err(Error::read(dir))?.filter_map(|e| e.ok()).any(|e| !ours(&e.file_name())))
}

/// Refuses a used `clusters/` unless forced; when forced, removes only the
/// chips the ledger says rollcall wrote and that are unchanged in place.
fn prepare_clusters_dir(dir: &Path, force: bool) -> Result<()> {
    if !dir.exists() {
        rollcall_files::create_dir_private(dir).map_err(Error::write(dir))?;
        return Ok(());
    }
    if !is_used(dir)? {
        return Ok(());
    }
    if !force {
        return check_clusters_dir(dir);
    }
    let ledger_path = dir.join(LEDGER);
    let ledger = match ledger_path.exists() {
        true => Ledger::read(&ledger_path)?,
        false => {
            tracing::warn!("{}: no ledger, so nothing in {} is known to be rollcall's; leaving it all", shown(&ledger_path), shown(dir));
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
        if p.is_file() && rollcall_files::sha256_file(&p).is_ok_and(|s| s == e.sha256) {
            std::fs::remove_file(&p).map_err(Error::write(&p))?;
            removed += 1;
        }
    }
    for f in folders {
        let p = dir.join(&f);
        // Only an empty folder goes; anything the user put there keeps it.
        if p.is_dir() && std::fs::read_dir(&p).map(|mut d| d.next().is_none()).unwrap_or(false) {
            std::fs::remove_dir(&p).map_err(Error::write(&p))?;
        }
    }
    tracing::info!("removed {removed} chips of the previous clustering from {}", shown(dir));
    Ok(())
}

/// `person_<n>` for each cluster, skipping names already taken by folders
/// the user kept (which then get `person_<n>_2`, ...).
fn folder_names(dir: &Path, k: usize) -> Result<Vec<String>> {
    let taken: HashSet<String> = std::fs::read_dir(dir)
        .map_err(Error::read(dir))?
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

/// Copies the chips into their folders, as close to all-or-nothing as a
/// file system allows:
///
/// 1. the ledger is written first, listing every chip about to be copied,
///    so that whatever an interruption leaves behind, a forced re-run knows
///    it for rollcall's and removes it;
/// 2. the chips are copied into a hidden staging folder, checking for
///    Ctrl-C between files;
/// 3. each staged folder is renamed into place (an existing folder, such as
///    the user's `_outliers`, takes the files one by one, never overwriting).
///
/// Nothing under `clusters/` is visible to the user or to `train` until
/// step 3, which takes a rename per folder.
fn write_folders(work: &Work, rows: &[ClusterRow], jobs: usize) -> Result<()> {
    let dir = work.clusters();
    let staging = dir.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(Error::write(&staging))?;
    }
    let mut ledger = Ledger::default();
    let mut copies = Vec::new();
    for r in rows {
        let src = work.aligned().join(&r.file);
        let bytes = match rollcall_shared::regular::read(&src, rollcall_shared::regular::cap::PHOTO, "chip") {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("{}: {e}; not copied to {}", shown(&src), r.folder);
                continue;
            }
        };
        if dir.join(&r.folder).join(&r.file).exists() {
            // Never overwrite: a file of that name here is the user's now.
            tracing::warn!("{} exists; leaving it", shown(&dir.join(&r.folder).join(&r.file)));
            continue;
        }
        let sha256 = rollcall_shared::digest::sha256_hex(&bytes);
        ledger.entries.push(LedgerEntry { folder: r.folder.clone(), file: r.file.clone(), sha256 });
        copies.push((r, bytes));
    }
    ledger.write(&dir.join(LEDGER))?;
    // Plain writes: nothing in the staging folder is anyone's until it is
    // renamed into place, and a re-run clears it.
    let folders: std::collections::BTreeSet<&str> = copies.iter().map(|(r, _)| r.folder.as_str()).collect();
    for f in &folders {
        let p = staging.join(f);
        rollcall_files::create_dir_private(&p).map_err(Error::write(&p))?;
    }
    crate::runner::each(jobs, &copies, "cluster", |(r, bytes)| {
        let p = staging.join(&r.folder).join(&r.file);
        rollcall_files::write_private(&p, bytes).map_err(Error::write(&p))
    })?;
    for folder in folders {
        let (from, to) = (staging.join(folder), dir.join(folder));
        if !to.exists() {
            std::fs::rename(&from, &to).map_err(Error::write(&to))?;
            continue;
        }
        tracing::info!("{} exists; adding this run's faces to it", shown(&to));
        for entry in std::fs::read_dir(&from).map_err(Error::read(&from))?.filter_map(|e| e.ok()) {
            let dst = to.join(entry.file_name());
            if !dst.exists() {
                std::fs::rename(entry.path(), &dst).map_err(Error::write(&dst))?;
            }
        }
    }
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(Error::write(&staging))?;
    }
    Ok(())
}

fn write_charts(work: &Work, pop: &Population, labels: &[usize], centers: &Array2<f32>, sil: &[f32], summary: &ClustersFile) -> Result<()> {
    let dir = work.charts();
    let pca = Pca2::fit(pop.x.view());
    let shown = charts::sample_rows(pop.x.nrows(), 0);
    let pts = pca.project(pop.x.select(Axis(0), &shown).view());
    let mut marks = vec![usize::MAX; pop.x.nrows()];
    for (p, &i) in pop.inliers.iter().enumerate() {
        marks[i] = labels[p];
    }
    let marks: Vec<usize> = shown.iter().map(|&i| marks[i]).collect();
    let axes = (format!("PC1 ({:.0}%)", pca.explained[0] * 100.0), format!("PC2 ({:.0}%)", pca.explained[1] * 100.0));
    let sampled = if shown.len() < pop.x.nrows() { format!(", {} of {} faces", shown.len(), pop.x.nrows()) } else { String::new() };
    let title = format!("{} people (PCA{sampled}); triangles: centroids, crosses: outliers", summary.k);
    charts::scatter(&dir.join("clusters_pca.svg"), &title, (&axes.0, &axes.1), &pts, Some(&marks), &pca.project(centers.view()))?;
    let values: Vec<f32> = summary.clusters.iter().map(|c| c.mean_silhouette).collect();
    let title = format!("Silhouette per face, k = {} (mean {:.3})", summary.k, summary.mean_silhouette);
    if summary.k <= charts::MAX_GROUPS {
        let names: Vec<String> = summary.clusters.iter().map(|c| c.cluster.to_string()).collect();
        charts::bars(&dir.join("clusters_silhouette.svg"), "Mean silhouette per person", "silhouette", &names, &values)?;
        charts::silhouette_diagram(&dir.join("clusters_silhouette_diagram.svg"), &title, sil, labels, summary.k, summary.mean_silhouette)
    } else {
        // A thousand bars say nothing: their distribution does.
        charts::histogram(&dir.join("clusters_silhouette.svg"), "Mean silhouette per person", "silhouette", &values, 40)?;
        charts::histogram(&dir.join("clusters_silhouette_diagram.svg"), &title, "silhouette", sil, 40)
    }
}
