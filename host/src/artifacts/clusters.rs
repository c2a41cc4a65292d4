//! What `cluster` writes: `clusters.csv` (one row per face),
//! `clusters.json` (the summary) and, inside `clusters/`, the ledger of the
//! chips rollcall copied there.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::{read_csv, read_json, write_csv, write_json};
use super::selection::ThresholdSource;
use crate::error::Result;

/// The folder outliers go to. Training skips names starting with `_`.
pub const OUTLIER_FOLDER: &str = "_outliers";
/// The ledger of what rollcall wrote into `clusters/`.
pub const LEDGER: &str = ".rollcall-ledger.json";

/// One face (one row of `clusters.csv`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterRow {
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

impl ClusterRow {
    /// Whether the face belongs to nobody.
    pub fn is_outlier(&self) -> bool {
        self.cluster < 0
    }
}

/// Reads `clusters.csv`.
pub fn read_rows(path: &Path) -> Result<Vec<ClusterRow>> {
    read_csv(path)
}

/// Writes `clusters.csv`.
pub fn write_rows(path: &Path, rows: &[ClusterRow]) -> Result<()> {
    write_csv(path, rows)
}

/// One person in `clusters.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub cluster: usize,
    pub folder: String,
    pub size: usize,
    /// Mean silhouette of its faces.
    pub mean_silhouette: f32,
}

/// `clusters.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClustersFile {
    pub k: usize,
    /// KMeans inertia over the inliers.
    pub inertia: f64,
    /// Mean silhouette over the inliers.
    pub mean_silhouette: f32,
    /// Same-person threshold used to find outliers.
    pub threshold: f32,
    /// Where it came from.
    pub threshold_source: ThresholdSource,
    pub clusters: Vec<ClusterInfo>,
    pub outliers: usize,
}

impl ClustersFile {
    /// Reads `clusters.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Writes `clusters.json`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}

/// The chips rollcall put in `clusters/`, so that a forced re-run removes
/// exactly those still where it put them and unchanged.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// One per chip copied.
    pub entries: Vec<LedgerEntry>,
}

/// One chip rollcall copied.
#[derive(Debug, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Folder under `clusters/`.
    pub folder: String,
    /// File name in it.
    pub file: String,
    /// Its sha256 when copied.
    pub sha256: String,
}

impl Ledger {
    pub fn read(path: &Path) -> Result<Self> {
        read_json(path)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}
