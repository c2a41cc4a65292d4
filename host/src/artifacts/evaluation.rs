//! `evaluation.json`: a clustering scored against known identities.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::write_json;
use crate::error::Result;

/// `evaluation.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Where the truth came from.
    pub truth: String,
    /// Faces with a known identity that were scored.
    pub labelled_faces: usize,
    /// Faces without one (background people in labelled photos, photos not in the truth).
    pub unlabelled_faces: usize,
    /// Labelled faces the clustering set aside as outliers.
    pub labelled_outliers: usize,
    pub scores: Scores,
}

impl Evaluation {
    /// Writes `evaluation.json`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }

    /// The scores as a small text table.
    pub fn table(&self) -> String {
        let s = &self.scores;
        format!(
            "{} labelled faces ({} classes) in {} clusters; {} unlabelled faces not scored; {} labelled faces were outliers\n\
             metric              value\n\
             NMI                 {:.4}\n\
             adjusted Rand       {:.4}\n\
             pairwise precision  {:.4}\n\
             pairwise recall     {:.4}\n\
             pairwise F1         {:.4}\n\
             BCubed precision    {:.4}\n\
             BCubed recall       {:.4}\n\
             BCubed F1           {:.4}",
            self.labelled_faces,
            s.classes,
            s.clusters,
            self.unlabelled_faces,
            self.labelled_outliers,
            s.nmi,
            s.ari,
            s.pairwise.precision,
            s.pairwise.recall,
            s.pairwise.f1,
            s.bcubed.precision,
            s.bcubed.recall,
            s.bcubed.f1
        )
    }
}

/// Precision, recall and their harmonic mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Every metric for one clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub items: usize,
    pub classes: usize,
    pub clusters: usize,
    /// Normalised mutual information (arithmetic mean normalisation).
    pub nmi: f64,
    pub ari: f64,
    /// Over pairs of items: same cluster vs same class.
    pub pairwise: Prf,
    /// Per item: the share of its cluster that is its class, and of its class that is in its cluster.
    pub bcubed: Prf,
}
