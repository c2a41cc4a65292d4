//! `k_selection.json` and `k_selection.csv`: how many people select-k
//! found, how, and the KMeans sweep that supports it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::{read_json, write_csv, write_json};
use crate::error::Result;

/// Where the same-person threshold came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ThresholdSource {
    /// Given on the command line.
    Flag,
    /// The recognizer's published `same_person_cosine` (its name).
    Manifest(String),
    /// The widest gap in the merge similarities.
    DataGap,
}

/// One k of the sweep (one row of `k_selection.csv`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KRow {
    pub k: usize,
    /// Mean squared Euclidean distance to the nearest centroid.
    pub distortion: f64,
    /// Sum of the same.
    pub inertia: f64,
    /// Mean silhouette (of a sample: see [`Selection::silhouette_sample`]).
    pub silhouette: f64,
    /// KMeans++ starts run besides the one from the linkage groups.
    #[serde(default)]
    pub random_starts: usize,
    /// Whether the start from the linkage groups gave the lowest inertia.
    #[serde(default)]
    pub linkage_start_won: bool,
}

/// `k_selection.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    pub k_min: usize,
    pub k_max: usize,
    /// Faces in the table.
    pub faces: usize,
    /// Faces in groups of two or more.
    pub inliers: usize,
    /// Chip files of the outliers.
    pub outliers: Vec<String>,
    /// Same-person cosine threshold used.
    pub threshold: f32,
    /// Where it came from.
    pub threshold_source: ThresholdSource,
    /// People counted by linkage at the threshold.
    pub people_estimate: usize,
    pub recommended_k: usize,
    /// The k with the highest mean silhouette in the sweep.
    pub silhouette_best_k: Option<usize>,
    /// Notes for the reader.
    pub warnings: Vec<String>,
    /// Faces the silhouettes were computed on, when a random sample of the
    /// inliers (seeded) rather than all of them.
    #[serde(default)]
    pub silhouette_sample: Option<usize>,
    pub rows: Vec<KRow>,
}

impl Selection {
    /// Reads `k_selection.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Writes `k_selection.json` and the sweep as `k_selection.csv`.
    pub fn write(&self, json: &Path, csv: &Path) -> Result<()> {
        write_csv(csv, &self.rows)?;
        write_json(json, self)
    }
}
