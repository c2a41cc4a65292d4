//! A model folder, written by `train`: `model.rcg` (the full-precision
//! gallery), `training.json` (how well each classifier knows the people and
//! where its rejection threshold sits) and a confusion chart per classifier.

use std::path::{Path, PathBuf};

use rollcall_shared::gallery::{ClassifierKind, Gallery, Threshold};
use serde::{Deserialize, Serialize};

use super::Skipped;
use super::io::{read_json, write_atomic, write_json};
pub use crate::analysis::calibration::{Calibration, Method, Sample, Tail};
pub use crate::analysis::suspects::{LookAlike, Suspect, Why};
use crate::error::{Error, Result};

/// Cross-validation and calibration figures of one classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierReport {
    pub classifier: ClassifierKind,
    /// Closed-set accuracy on held-out faces.
    pub accuracy: f64,
    /// Held-out faces that clear the threshold and are named correctly.
    pub open_set_accuracy: f64,
    pub threshold: Threshold,
    /// Genuine (held-out) scores measured.
    pub genuine_scores: usize,
    /// Impostor (left-out person) scores measured.
    pub impostor_scores: usize,
    /// `confusion[true][predicted]` counts over held-out faces.
    pub confusion: Vec<Vec<usize>>,
    /// How the threshold was set, and the error rates it has, with their
    /// 95% upper bounds.
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

/// `training.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingReport {
    /// People, in label order.
    pub people: Vec<String>,
    pub faces: Vec<usize>,
    pub folds: usize,
    /// People with one face, never held out.
    pub never_held_out: Vec<String>,
    /// Per classifier, in [`ClassifierKind::ALL`] order.
    pub classifiers: Vec<ClassifierReport>,
    pub default_classifier: ClassifierKind,
    /// Files that could not be used.
    pub skipped: Vec<Skipped>,
    /// Faces that look like label mistakes, left out of fitting and
    /// calibration.
    #[serde(default)]
    pub suspects: Vec<Suspect>,
    /// Pairs of folders that look like one person.
    #[serde(default)]
    pub look_alikes: Vec<LookAlike>,
    /// The user's own strangers (outliers, junk folders, bystanders) used in
    /// calibration.
    #[serde(default)]
    pub strangers: usize,
    /// The clusters folder trained on.
    #[serde(default)]
    pub clusters: String,
    /// The work directory its embeddings came from.
    #[serde(default)]
    pub work: String,
}

/// The files of a model folder.
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// A model folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ModelDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn gallery(&self) -> PathBuf {
        self.root.join("model.rcg")
    }

    /// `training.json`.
    pub fn report(&self) -> PathBuf {
        self.root.join("training.json")
    }

    /// The confusion chart of one classifier.
    pub fn confusion_svg(&self, kind: ClassifierKind) -> PathBuf {
        self.root.join(format!("confusion_{}.svg", kind.name()))
    }

    /// Reads `training.json`.
    pub fn read_report(&self) -> Result<TrainingReport> {
        read_json(&self.report())
    }

    /// Reads `model.rcg`.
    pub fn read_gallery(&self) -> Result<Gallery> {
        let path = self.gallery();
        if !path.exists() {
            return Err(Error::Missing { path, hint: "run `rollcall train` first" });
        }
        Ok(rollcall_shared::gallery::read_file(&path)?)
    }

    /// Writes `model.rcg` and `training.json` (the charts are the caller's)
    /// into a folder rollcall makes, or made earlier as a model folder.
    pub fn write(&self, gallery: &Gallery, report: &TrainingReport) -> Result<()> {
        rollcall_files::owned::claim(&self.root, rollcall_files::owned::Kind::Model)?;
        let path = self.gallery();
        let bytes = gallery.encode().map_err(|source| Error::Gallery { path: path.clone(), source })?;
        write_atomic(&path, &bytes)?;
        write_json(&self.report(), report)
    }
}
