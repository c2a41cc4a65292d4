//! Stage 8, predict: name the faces in new photos with a gallery.
//!
//! Reads: photos and a gallery. Writes: one row per kept face (see
//! [`crate::artifacts::predictions`]), and optionally annotated copies with
//! the names. Detection, alignment and embedding are the face engine's, the
//! same code training used; classification is the gallery's own code in
//! `shared`, the same the device runs.

use std::path::{Path, PathBuf};

use rollcall_files::owned::{self, Kind};
use rollcall_files::shown::{escape_controls, shown};
use rollcall_models::decode::Limits;
use rollcall_models::{FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::{ClassifierKind, Gallery};

use crate::artifacts::Skipped;
use crate::artifacts::io::save_image;
use crate::artifacts::names::{annotated_name, unique_keys};
use crate::artifacts::predictions::{PredictionRow, UNKNOWN};
use crate::artifacts::skips::skipped;
use crate::error::{Error, Result};
use crate::render::annotate;
use crate::runner::{Outcome, Runner};

/// Settings of a prediction run.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// Classifier (default: the gallery's).
    pub classifier: Option<ClassifierKind>,
    /// Which detections count as faces.
    pub filter: FaceFilter,
    /// Where to write annotated copies, if anywhere: a folder rollcall
    /// makes (or made earlier for this), never one holding other files.
    pub annotate: Option<PathBuf>,
    /// How large a photo may be.
    pub limits: Limits,
    pub jobs: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            classifier: None,
            filter: FaceFilter::default(),
            annotate: None,
            limits: Limits::default(),
            jobs: rollcall_models::runtime::default_workers(),
        }
    }
}

/// Refuses a gallery made with other models than `models`, or whose
/// embeddings have another length than the recognizer's.
pub fn check_models(gallery: &Gallery, models: &dyn Models, path: &Path) -> Result<()> {
    let card = models.card();
    gallery
        .check_models(&card.detector.digest(), &card.recognizer.digest())
        .and_then(|_| gallery.check_dimension(card.dim))
        .map_err(|source| Error::Gallery { path: path.to_path_buf(), source })
}

/// What a prediction run found.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// One row per kept face, photos in path order.
    pub rows: Vec<PredictionRow>,
    /// Photos that could not be used.
    pub skipped: Vec<Skipped>,
}

/// Names every face in every photo under `photos`. Unreadable photos are
/// skipped with the reason.
pub fn predict(photos: &Path, gallery: &Gallery, models: &dyn Models, opts: &PredictOptions) -> Result<Predictions> {
    if let Some(dir) = &opts.annotate {
        owned::claim(dir, Kind::Annotated)?;
    }
    let listing = rollcall_files::photos::list(photos, &opts.annotate.iter().cloned().collect::<Vec<_>>())?;
    let list = listing.photos;
    let keys = unique_keys(photos, &list);
    let items: Vec<(&PathBuf, &String)> = list.iter().zip(&keys).collect();
    let kind = opts.classifier.unwrap_or(gallery.default_classifier);
    let outcomes = Runner::new(models, opts.jobs).run(&items, "predict", |engine, (photo, key)| {
        let img = rollcall_models::decode::load_rgb_within(photo, &opts.limits)?;
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        let faces = engine.faces_with_embeddings(view, &opts.filter)?;
        let mut rows = Vec::new();
        let mut names = Vec::new();
        for (face, emb) in faces.iter().filter(|(f, _)| f.verdict == Verdict::Kept) {
            let Some(emb) = emb else { continue };
            let p = gallery.predict(kind, emb);
            let label = p.person().map_or(UNKNOWN.to_string(), |i| gallery.labels[i].clone());
            let b = face.detection.bbox;
            names.push(label.clone());
            rows.push(PredictionRow {
                image: photo.display().to_string(),
                face_index: rows.len(),
                x1: b.x1,
                y1: b.y1,
                x2: b.x2,
                y2: b.y2,
                label,
                score: p.score,
            });
        }
        if let Some(dir) = &opts.annotate {
            let all: Vec<_> = faces.into_iter().map(|(f, _)| f).collect();
            let marks = annotate::face_marks(&all, &names);
            save_image(&dir.join(annotated_name(key)), &annotate::annotate(&img, &marks, 1600))?;
        }
        Ok(rows)
    })?;
    let mut out = Predictions::default();
    for (photo, outcome) in list.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(v) => out.rows.extend(v),
            Outcome::Skipped(why) => out.skipped.push(skipped(photo, &why)),
        }
    }
    for (path, why) in &listing.problems {
        out.skipped.push(Skipped { path: path.clone(), reason: rollcall_models::error::describe(why) });
    }
    for s in &out.skipped {
        tracing::warn!("skipping {}: {}", shown(&s.path), escape_controls(&s.reason));
    }
    Ok(out)
}
