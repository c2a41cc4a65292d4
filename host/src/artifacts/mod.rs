//! Everything rollcall writes, as types: one module per artifact, each with
//! its reader and writer, so that a file's shape is defined once and every
//! stage that reads it agrees with the stage that wrote it.
//!
//! A work directory holds:
//!
//! | path | type | written by |
//! |---|---|---|
//! | `aligned/aligned_<photo>_<i>.png` | 112 x 112 chips | detect |
//! | `annotated/<photo>.jpg` | annotated photos | detect |
//! | `metadata.csv` | [`metadata::MetadataRow`] | detect |
//! | `detections.json` | [`detections::DetectionsFile`] | detect |
//! | `cache.bin` | [`cache::Cache`] | detect |
//! | `embeddings.parquet` | [`embeddings::EmbeddingTable`] | embed |
//! | `similarity.png` | heatmap | embed |
//! | `k_selection.csv`, `k_selection.json` | [`selection::Selection`] | select-k |
//! | `clusters/`, `clusters.csv`, `clusters.json` | [`clusters`] | cluster |
//! | `evaluation.json` | [`evaluation::Evaluation`] | evaluate |
//! | `charts/*.svg`, `report/` | charts and the report | select-k, cluster, report |
//! | `review-journal.jsonl` | [`journal::Journal`] | review |
//!
//! `rollcall keygen` writes a signing key pair ([`keys`]).
//!
//! A model folder (`train`) holds `model.rcg` and `training.json`
//! ([`training::TrainingReport`]); `quantize` writes `fidelity.json`
//! ([`fidelity::Fidelity`]); `predict` writes [`predictions::PredictionRow`]s;
//! `roll` writes a roll-call folder ([`roll`]).

pub mod attendance;
pub mod cache;
pub mod chips;
pub mod clusters;
pub mod detections;
pub mod embeddings;
pub mod evaluation;
pub mod events_log;
pub mod fidelity;
pub mod io;
pub mod journal;
pub mod keys;
pub mod metadata;
pub mod names;
pub mod people;
pub mod predictions;
pub mod roll;
pub mod selection;
pub mod skips;
pub mod training;

use std::path::{Path, PathBuf};

use rollcall_files::owned::{self, Kind};
pub use skips::Skipped;

use crate::error::Result;

/// A work directory this process holds: rollcall's own (it carries the
/// work marker) and locked against other rollcall commands until dropped.
/// Every stage that writes into a work directory takes one.
#[derive(Debug)]
pub struct WorkDir {
    work: Work,
    _lock: owned::Lock,
}

impl std::ops::Deref for WorkDir {
    type Target = Work;

    fn deref(&self) -> &Work {
        &self.work
    }
}

/// The paths inside a work directory.
#[derive(Debug, Clone)]
pub struct Work {
    root: PathBuf,
}

impl Work {
    /// A work directory at `root` (not created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Work { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes the work directory (or accepts it if it already is one; a
    /// folder holding anything else is refused) and locks it for this
    /// process.
    pub fn claim(&self) -> Result<WorkDir> {
        owned::claim(&self.root, Kind::Work)?;
        Ok(WorkDir { work: self.clone(), _lock: owned::lock(&self.root)? })
    }

    /// Locks an existing work directory for this process.
    pub fn open(&self) -> Result<WorkDir> {
        owned::open(&self.root, Kind::Work)?;
        Ok(WorkDir { work: self.clone(), _lock: owned::lock(&self.root)? })
    }

    /// [`Work::open`], waiting up to `wait` for another holder to let go.
    pub fn open_within(&self, wait: std::time::Duration) -> Result<WorkDir> {
        owned::open(&self.root, Kind::Work)?;
        Ok(WorkDir { work: self.clone(), _lock: owned::lock_within(&self.root, wait)? })
    }

    pub fn aligned(&self) -> PathBuf {
        self.root.join("aligned")
    }

    /// Annotated copies of the photos.
    pub fn annotated(&self) -> PathBuf {
        self.root.join("annotated")
    }

    /// What detection and embedding found in each photo, for the next run.
    pub fn cache_bin(&self) -> PathBuf {
        self.root.join("cache.bin")
    }

    /// One row per kept face.
    pub fn metadata_csv(&self) -> PathBuf {
        self.root.join("metadata.csv")
    }

    /// Every photo, every detection, every verdict.
    pub fn detections_json(&self) -> PathBuf {
        self.root.join("detections.json")
    }

    pub fn embeddings(&self) -> PathBuf {
        self.root.join("embeddings.parquet")
    }

    /// The cosine-similarity heatmap in file order.
    pub fn similarity_png(&self) -> PathBuf {
        self.root.join("similarity.png")
    }

    /// The k sweep, one row per k.
    pub fn k_selection_csv(&self) -> PathBuf {
        self.root.join("k_selection.csv")
    }

    /// The k sweep with the recommendation and outliers.
    pub fn k_selection_json(&self) -> PathBuf {
        self.root.join("k_selection.json")
    }

    pub fn charts(&self) -> PathBuf {
        self.root.join("charts")
    }

    /// Cluster folders, which become the user's labels.
    pub fn clusters(&self) -> PathBuf {
        self.root.join("clusters")
    }

    /// One row per face: cluster, silhouette, distance to centroid.
    pub fn clusters_csv(&self) -> PathBuf {
        self.root.join("clusters.csv")
    }

    pub fn clusters_json(&self) -> PathBuf {
        self.root.join("clusters.json")
    }

    /// Scores against known labels.
    pub fn evaluation_json(&self) -> PathBuf {
        self.root.join("evaluation.json")
    }

    /// The HTML report folder.
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }
}
