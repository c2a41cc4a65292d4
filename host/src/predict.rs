//! `rollcall predict`: name the faces in new photos with a gallery.
//!
//! Reads: photos and a gallery. Writes: one CSV row per kept face,
//! `image,face_index,x1,y1,x2,y2,label,score`, to stdout or a file
//! (`image` is the photo's path as found; `label` is `unknown` for a face
//! below the classifier's threshold), and optionally annotated copies with
//! the names. Detection, alignment and embedding are the `models` crate's,
//! the same code training used; classification is the gallery's own code in
//! `shared`, the same the device runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ParallelProgressIterator;
use rayon::prelude::*;
use rollcall_models::{FaceFilter, ModelSet, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::{ClassifierKind, Gallery};
use serde::Serialize;

use crate::annotate;
use crate::detect::progress;
use crate::pool::Pool;
use crate::work::{list_photos, save_image_atomic};

/// The label of a rejected face.
pub const UNKNOWN: &str = "unknown";

/// One CSV row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PredictionRow {
    /// The photo's path as found.
    pub image: String,
    /// Index among the photo's kept faces, most confident first.
    pub face_index: usize,
    /// Box left.
    pub x1: f32,
    /// Box top.
    pub y1: f32,
    /// Box right.
    pub x2: f32,
    /// Box bottom.
    pub y2: f32,
    /// The person, or `unknown`.
    pub label: String,
    /// The classifier's score.
    pub score: f32,
}

/// Settings of a prediction run.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// Classifier (default: the gallery's).
    pub classifier: Option<ClassifierKind>,
    /// Which detections count as faces.
    pub filter: FaceFilter,
    /// Where to write annotated copies, if anywhere.
    pub annotate: Option<PathBuf>,
    /// Worker threads.
    pub jobs: usize,
}

/// Checks that `models` are the ones the gallery was made with.
pub fn check_models(gallery: &Gallery, models: &ModelSet, path: &Path) -> Result<()> {
    let hex = |s: &str| rollcall_shared::gallery::parse_sha256(s).context("model sha256");
    gallery
        .check_models(&hex(models.detector_sha256())?, &hex(models.recognizer_sha256())?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Photos that could not be read: `(path, reason)`.
pub type Skipped = Vec<(String, String)>;

/// Names every face in every photo under `photos`. Unreadable photos are
/// reported and skipped; their paths come back in the second list.
pub fn predict(photos: &Path, gallery: &Gallery, models: &ModelSet, opts: &PredictOptions) -> Result<(Vec<PredictionRow>, Skipped)> {
    let list = list_photos(photos).with_context(|| format!("cannot read photos from {}", photos.display()))?;
    let kind = opts.classifier.unwrap_or(gallery.default_classifier);
    let engines = Pool::new(|| Ok(models.engine(Default::default())?));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.jobs.max(1)).build().context("cannot start worker threads")?;
    let bar = progress(list.len(), "predict");
    let per_photo: Vec<Result<std::result::Result<Vec<PredictionRow>, String>>> = pool.install(|| {
        list.par_iter()
            .progress_with(bar.clone())
            .map(|photo| {
                let img = match rollcall_models::decode::load_rgb(photo) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::warn!("skipping {e}");
                        return Ok(Err(e.to_string()));
                    }
                };
                let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
                let faces = engines.with(|e| e.faces_with_embeddings(view, &opts.filter))??;
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
                    let name = format!("{}.jpg", crate::work::photo_key(photos, photo));
                    save_image_atomic(&dir.join(name), &image::DynamicImage::ImageRgb8(annotate::annotate(&img, &marks, 1600)))?;
                }
                Ok(Ok(rows))
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (photo, r) in list.iter().zip(per_photo) {
        match r? {
            Ok(v) => rows.extend(v),
            Err(why) => skipped.push((photo.display().to_string(), why)),
        }
    }
    Ok((rows, skipped))
}

/// The rows as CSV text with its header.
pub fn to_csv(rows: &[PredictionRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record(["image", "face_index", "x1", "y1", "x2", "y2", "label", "score"])?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}
