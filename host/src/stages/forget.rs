//! Erasure on request: one person out of everything rollcall keeps in a
//! work directory. Their folder under `clusters/` and its chips, their
//! chips in `aligned/`, their rows in `metadata.csv`, `embeddings.parquet`
//! and `clusters.csv`, their faces in `detections.json` and `cache.bin`,
//! the annotated copies of the photos they are in, the review journal's
//! lines that name them, and the report (rewritten without them). The
//! photos stay where the user keeps them: a run over them would find the
//! person again, and they are the user's to delete.
//!
//! The model and the gallery are the command's to rebuild (train and
//! export compose with this stage; see `cmd/forget.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::artifacts::cache::Cache;
use crate::artifacts::clusters::{self, ClustersFile, LEDGER, Ledger};
use crate::artifacts::detections::DetectionsFile;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::journal::{JOURNAL, Journal};
use crate::artifacts::people::name_key;
use crate::artifacts::{WorkDir, metadata};
use crate::error::{Error, Result};

/// What [`forget`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// The person's folder under `clusters/`, as it was named.
    pub folder: String,
    /// Their face chips (each was in the folder and in `aligned/`).
    pub faces: usize,
    /// Photos they were found in (their annotated copies were deleted).
    pub photos: usize,
    /// Review journal lines that named them.
    pub journal_lines: usize,
}

/// The folder under `clusters` that is `name` (case and Unicode form
/// aside), or the error listing the names there are.
pub fn person_folder(clusters: &Path, name: &str) -> Result<(String, PathBuf)> {
    if name.trim().is_empty() {
        let source = rollcall_shared::names::NameError::Empty;
        return Err(Error::BadLabel { path: clusters.to_path_buf(), label: name.to_string(), source });
    }
    let folders = crate::artifacts::people::folders(clusters, &crate::artifacts::people::default_junk())?;
    let key = name_key(name);
    if let Some(found) = folders.iter().find(|(n, _)| name_key(n) == key) {
        return Ok(found.clone());
    }
    let known = folders.into_iter().map(|(n, _)| n).collect();
    Err(Error::NoSuchPerson { clusters: clusters.to_path_buf(), name: name.to_string(), known })
}

/// Removes the person called `name` from the work directory.
pub fn forget(work: &WorkDir, name: &str) -> Result<Forgotten> {
    let (folder, path) = person_folder(&work.clusters(), name)?;
    let chips: BTreeSet<String> = std::fs::read_dir(&path)
        .map_err(Error::read(&path))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();

    // Their photos, from metadata.csv and detections.json, before their
    // rows go.
    let mut photos = forget_in_metadata(work, &chips)?;
    let kept = forget_in_embeddings(work, &chips)?;
    photos.extend(forget_in_detections(work, &chips)?);
    if let Ok(mut cache) = Cache::read(&work.cache_bin()) {
        // A photo's entry holds every face of it, in order: the photos they
        // are in are detected and embedded again on the next run.
        cache.entries.retain(|_, e| !e.record.faces.iter().any(|f| f.aligned_file.as_ref().is_some_and(|a| chips.contains(a))));
        cache.write(&work.cache_bin())?;
    }
    forget_in_clusters(work, &chips, &folder)?;
    let ledger_path = work.clusters().join(LEDGER);
    if ledger_path.is_file() {
        let mut ledger = Ledger::read(&ledger_path)?;
        ledger.entries.retain(|e| !chips.contains(&e.file));
        ledger.write(&ledger_path)?;
    }
    for chip in &chips {
        remove_if_there(&work.aligned().join(chip))?;
    }
    std::fs::remove_dir_all(&path).map_err(|e| Error::Write { path: path.clone(), source: e })?;
    let journal_lines = Journal::scrub(&work.root().join(JOURNAL), &[&folder, name])?;
    // Derived from the truth, which may name them; `rollcall evaluate`
    // writes it again.
    remove_if_mentions(&work.evaluation_json(), &[&folder, name])?;
    redraw_without(work, kept.as_ref())?;
    if work.report().is_dir() {
        crate::render::report::write(work)?;
    }
    Ok(Forgotten { folder, faces: chips.len(), photos: photos.len(), journal_lines })
}

/// Drops the rows of `chips` from `metadata.csv`; the photos they came from.
fn forget_in_metadata(work: &WorkDir, chips: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    if !work.metadata_csv().is_file() {
        return Ok(BTreeSet::new());
    }
    let rows = metadata::read(&work.metadata_csv())?;
    let (theirs, kept): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| chips.contains(&r.aligned_file));
    crate::artifacts::io::write_csv(&work.metadata_csv(), kept)?;
    Ok(theirs.into_iter().map(|r| r.original_file).collect())
}

/// Drops the embeddings of `chips`; the table that is left, if there is one.
fn forget_in_embeddings(work: &WorkDir, chips: &BTreeSet<String>) -> Result<Option<EmbeddingTable>> {
    if !work.embeddings().is_file() {
        return Ok(None);
    }
    let table = EmbeddingTable::read(&work.embeddings())?;
    let rows =
        (0..table.len()).filter(|&i| !chips.contains(&table.files[i])).map(|i| (table.files[i].clone(), table.row(i).to_vec())).collect();
    let kept = EmbeddingTable {
        recognizer: table.recognizer.clone(),
        recognizer_sha256: table.recognizer_sha256.clone(),
        ..EmbeddingTable::from_rows(rows, table.dim)?
    };
    kept.write(&work.embeddings())?;
    Ok(Some(kept))
}

/// Drops the faces of `chips` from `detections.json`, and the annotated
/// copies of their photos (which show them); the photos they were in.
fn forget_in_detections(work: &WorkDir, chips: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let mut photos = BTreeSet::new();
    if !work.detections_json().is_file() {
        return Ok(photos);
    }
    let mut d = DetectionsFile::read(&work.detections_json())?;
    for photo in &mut d.photos {
        let before = photo.faces.len();
        photo.faces.retain(|f| !f.aligned_file.as_ref().is_some_and(|a| chips.contains(a)));
        if photo.faces.len() != before {
            photos.insert(photo.path.clone());
            if let Some(annotated) = photo.annotated_file.take() {
                remove_if_there(&work.annotated().join(annotated))?;
            }
        }
    }
    // A photo of theirs with nobody else named in it (only faces too small
    // to name, which may be theirs too) goes whole: its path alone, often
    // `photos/Ann/...`, says who it was of.
    d.photos.retain(|p| !photos.contains(&p.path) || p.faces.iter().any(|f| f.aligned_file.is_some()));
    d.write(&work.detections_json())?;
    Ok(photos)
}

/// Drops the rows of `chips` from `clusters.csv`, and the clusters they, or
/// the person's `folder`, made up from `clusters.json`.
fn forget_in_clusters(work: &WorkDir, chips: &BTreeSet<String>, folder: &str) -> Result<()> {
    if !work.clusters_csv().is_file() {
        return Ok(());
    }
    let rows = clusters::read_rows(&work.clusters_csv())?;
    let (theirs, kept): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| chips.contains(&r.file));
    clusters::write_rows(&work.clusters_csv(), &kept)?;
    if work.clusters_json().is_file() {
        let mut c = ClustersFile::read(&work.clusters_json())?;
        let gone: BTreeSet<&str> = theirs.iter().map(|r| r.folder.as_str()).collect();
        c.clusters.retain(|info| !gone.contains(info.folder.as_str()) && info.folder != folder);
        c.write(&work.clusters_json())?;
    }
    Ok(())
}

/// The pictures drawn from every face: the similarity heatmap is drawn
/// again from the embeddings that are left; the charts that plot each face
/// (the PCA scatters and silhouette diagrams) go, since only `select-k` and
/// `cluster` can draw them again (the curves against k, which hold no face,
/// stay). `kept` is the embeddings table as `forget` left it.
fn redraw_without(work: &WorkDir, kept: Option<&EmbeddingTable>) -> Result<()> {
    if let Some(table) = kept {
        if !table.is_empty() {
            crate::artifacts::io::save_image(
                &work.similarity_png(),
                &crate::render::heatmap::render(&table.data, table.dim, crate::render::heatmap::SIDE),
            )?;
        } else {
            remove_if_there(&work.similarity_png())?;
        }
    }
    let Ok(listing) = std::fs::read_dir(work.charts()) else { return Ok(()) };
    for e in listing.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let per_face = name.starts_with("pca") || name.starts_with("silhouette_k") || name.starts_with("clusters_");
        if per_face && e.file_type().is_ok_and(|t| t.is_file()) {
            remove_if_there(&e.path())?;
        }
    }
    Ok(())
}

fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Write { path: path.to_path_buf(), source: e }),
        _ => Ok(()),
    }
}

fn remove_if_mentions(path: &Path, names: &[&str]) -> Result<()> {
    match rollcall_shared::regular::read_to_string(path, rollcall_shared::regular::cap::TABLE, "evaluation") {
        Ok(text) if names.iter().any(|n| text.contains(n)) => remove_if_there(path),
        _ => Ok(()),
    }
}
