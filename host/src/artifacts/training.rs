//! A model folder, written by `train`: `model.rcg` (the full-precision
//! gallery), `training.json` (how well each classifier knows the people and
//! where its rejection threshold sits) and a confusion chart per classifier.

use std::path::{Path, PathBuf};

use rollcall_shared::gallery::{ClassifierKind, Gallery, Threshold};
use serde::{Deserialize, Serialize};

use super::Skipped;
use super::io::{read_json, write_atomic, write_json};
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

/// How many independent scores a grouped sample is worth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Scores in the sample (non-finite ones ignored).
    pub n: usize,
    /// Groups they come in (pairs of people, left-out people, stranger faces).
    pub groups: usize,
    /// Intraclass correlation: the share of the variance between groups.
    pub icc: f64,
    /// Kish effective sample size, `n / (1 + (mean group size - 1) ICC)`.
    pub effective: f64,
}

/// A normal model of stranger scores that knows how little it knows: its
/// predictions are Student's t, wider and heavier-tailed the fewer
/// independent scores it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tail {
    /// Scores it was fitted on, and what they are worth.
    pub sample: Sample,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation.
    pub sd: f64,
}

/// What set the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The recognizer's published same-person score (the model asked for less).
    Prior,
    /// The model of stranger scores.
    Model,
    /// Just above the highest stranger score seen (too few for a model).
    HighestSeen,
    /// Nothing to go on: every face is accepted.
    None,
}

/// How one classifier's threshold was set, and what its error rates are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// What set the threshold.
    pub method: Method,
    /// The threshold.
    pub threshold: f32,
    /// The false-accept rate aimed for.
    pub target_far: f32,
    /// The published same-person score used as a floor, on this
    /// classifier's scale and raised for the gallery's size.
    pub prior: Option<f32>,
    /// The stranger-score model.
    pub model: Option<Tail>,
    /// Whether the model is of single stranger-member pairs (else of whole-gallery scores).
    pub per_member: bool,
    /// The model's false-accept rate at the threshold, for this gallery.
    pub model_far: Option<f64>,
    /// Single stranger-member scores used.
    pub pairs: usize,
    /// Whole-gallery stranger scores counted: left-out people and the user's strangers.
    pub impostors: usize,
    /// What those are worth as independent scores.
    pub effective_impostors: f64,
    /// Of which, from leaving people out.
    pub left_out: usize,
    /// Of which, the user's own strangers.
    pub strangers: usize,
    /// Whole-gallery stranger scores at or above the threshold.
    pub accepted: usize,
    /// The observed false-accept rate, `accepted / impostors`.
    pub far: f64,
    /// 95% upper bound on the false-accept rate: what the data supports.
    pub far_upper: f64,
    /// Held-out genuine faces below the threshold, as a share.
    pub frr: f64,
    /// 95% upper bound on that.
    pub frr_upper: f64,
    /// The data cannot show the target is met (`far_upper > target`).
    pub too_thin: bool,
}

impl Calibration {
    /// The gallery's record: the threshold, the target, and the false-accept
    /// rate the data supports (its upper bound, never the point estimate).
    pub fn threshold(&self) -> Threshold {
        Threshold {
            value: self.threshold,
            target_far: self.target_far,
            estimated_far: self.far_upper as f32,
            estimated_frr: self.frr as f32,
        }
    }
}

/// Why a face is suspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum Why {
    /// The same file is also in another folder.
    Duplicate {
        /// The copy that was kept.
        kept: PathBuf,
    },
    /// Closer to another person's centroid than to its own folder's.
    CloserToOther {
        /// The other person.
        person: String,
        /// Cosine to them.
        theirs: f32,
        /// Cosine to its own folder (without itself).
        own: f32,
    },
    /// A face in a junk or outlier folder that looks like a member.
    StrangerLooksLikeMember {
        /// The member.
        person: String,
        /// Cosine to their centroid.
        score: f32,
        /// Their median genuine cosine.
        typical: f32,
    },
}

/// One suspect face, left out of fitting and calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    /// The chip.
    pub file: PathBuf,
    /// Why it was left out.
    #[serde(flatten)]
    pub why: Why,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Duplicate { kept } => write!(f, "the same file as {}, which is kept", rollcall_files::shown(kept)),
            Why::CloserToOther { person, theirs, own } => {
                write!(f, "closer to {person} (cosine {theirs:.3}) than to the rest of its folder ({own:.3})")
            }
            Why::StrangerLooksLikeMember { person, score, typical } => {
                write!(f, "looks like {person} (cosine {score:.3}, above their typical {typical:.3}); not counted as a stranger")
            }
        }
    }
}

/// Two folders that look like one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookAlike {
    /// One folder.
    pub a: String,
    /// The other.
    pub b: String,
    /// Cosine between their centroids.
    pub cosine: f32,
}
