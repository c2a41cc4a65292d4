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

impl TrainingReport {
    /// What `train` prints about a report (the review page shows the same).
    pub fn summary(&self) -> String {
        let report = self;
        let mut out = String::new();
        // Lines go into `out` instead of stdout.
        macro_rules! say {
        ($($t:tt)*) => {{
            out.push_str(&format!($($t)*));
            out.push('\n');
        }};
    }
        // First in plain words: how many, how well, how safe.
        let faces: usize = report.faces.iter().sum();
        say!("learned {} people from {} faces.", report.people.len(), faces);
        if let Some(c) = report.classifiers.iter().find(|c| c.classifier == report.default_classifier) {
            say!(
                "telling them apart: {:.0} in 100 faces held out of training were named correctly{}.",
                100.0 * c.accuracy,
                c.calibration
                    .as_ref()
                    .map_or(String::new(), |cal| format!("; {:.0} in 100 were too unsure and said `unknown`", 100.0 * cal.frr))
            );
            if let Some(cal) = &c.calibration {
                if cal.impostors > 0 {
                    say!(
                        "strangers: in {1} tries with a face it had not learned (a person left out, an outlier, a bystander), \
                         {0} were taken for someone; at most {2:.1} in 100 strangers would be (95% sure).",
                        cal.accepted,
                        cal.impostors,
                        100.0 * cal.far_upper
                    );
                } else {
                    say!("strangers: none to test with; add photos of other people (bystanders, `unknown`) to measure it.");
                }
            }
        }
        say!("");
        say!("details:");
        say!(
            "{} people, {} faces; {}-fold cross-validation; {} of your own strangers (outliers, junk folders, bystanders):",
            report.people.len(),
            report.faces.iter().sum::<usize>(),
            report.folds,
            report.strangers
        );
        say!("  classifier  accuracy  open-set  threshold  set by        FAR seen      FAR 95% bound  FRR");
        for c in &report.classifiers {
            let Some(cal) = &c.calibration else { continue };
            say!(
                "  {:<10}  {:>8.3}  {:>8.3}  {:>9.4}  {:<12}  {:>3} of {:<5}  {:>13.4}  {:.3}",
                c.classifier.name(),
                c.accuracy,
                c.open_set_accuracy,
                cal.threshold,
                method(cal.method),
                cal.accepted,
                cal.impostors,
                cal.far_upper,
                cal.frr
            );
        }
        say!("default classifier: {} (most held-out faces accepted and named correctly)", report.default_classifier.name());
        if let Some(cal) =
            report.classifiers.iter().find(|c| c.classifier == report.default_classifier).and_then(|c| c.calibration.as_ref())
        {
            out.push_str(&explain(cal));
        }
        if !report.suspects.is_empty() {
            say!("faces that look like label mistakes, left out of training and calibration:");
            for s in &report.suspects {
                say!("  {}: {}", s.file.display(), s.why);
            }
        }
        for la in &report.look_alikes {
            say!(
                "  note: {} and {} look like one person (centroid cosine {:.3}); neither counts as a stranger to the other",
                la.a,
                la.b,
                la.cosine
            );
        }
        if !report.never_held_out.is_empty() {
            say!("  note: one face only, so never held out: {}", report.never_held_out.join(", "));
        }
        for s in &report.skipped {
            say!("  skipped {}: {}", s.path.display(), s.reason);
        }
        out
    }
}

fn method(m: Method) -> &'static str {
    match m {
        Method::Prior => "prior",
        Method::Model => "model",
        Method::HighestSeen => "highest seen",
        Method::None => "nothing",
    }
}

/// A rate as a percentage, without trailing zeros: 0.01 is "1", 0.001 is "0.1".
fn percent(rate: f64) -> String {
    let s = format!("{:.4}", rate * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the default classifier's false-accept figures rest on, in words.
fn explain(c: &Calibration) -> String {
    let mut out = String::new();
    macro_rules! say {
        ($($t:tt)*) => {{
            out.push_str(&format!($($t)*));
            out.push('\n');
        }};
    }
    let target = percent(f64::from(c.target_far));
    let model = match (&c.model, c.model_far) {
        (Some(m), Some(far)) => format!(
            "a model of {} {} scores (as good as {:.0} independent ones: they come in {} groups of the same two people) puts its false-accept rate at {:.3}%",
            m.sample.n,
            if c.per_member { "single stranger-member" } else { "whole-gallery stranger" },
            m.sample.effective,
            m.sample.groups,
            far * 100.0
        ),
        _ => "there are too few stranger scores for a model".into(),
    };
    let set_by = match c.method {
        Method::Prior => {
            "the recognizer's published same-person score, on this classifier's scale and raised for the gallery's size (the model of stranger scores asked for less)"
        }
        Method::Model => "the model of stranger scores",
        Method::HighestSeen => "the highest stranger score seen",
        Method::None => "nothing: no stranger score was seen",
    };
    say!("  threshold {:.4} set by {set_by}; {model}", c.threshold);
    if c.too_thin {
        say!(
            "  note: the data is too thin to show a {target}% false-accept rate: {} of {} stranger scores (as good as {:.0} independent ones) were accepted, which supports no better than {:.1}% (95% bound). Add photos of more people, or keep outliers and junk folders: they are strangers too.",
            c.accepted,
            c.impostors,
            c.effective_impostors,
            c.far_upper * 100.0
        );
    } else {
        say!("  the data supports a false-accept rate of at most {:.3}% (95% bound; target {target}%)", c.far_upper * 100.0);
    }
    out
}
