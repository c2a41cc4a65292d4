//! `rollcall bench detector-size`: what a smaller detector input costs in
//! faces found, and what it saves in time.
//!
//! RetinaFace scales each photo to fit a square box (640 by default; see
//! `rollcall_models::detector`). A door camera sees faces up close, so a
//! 320 or 480 box may find the same faces for a quarter or half of the
//! detector's work. Measured here on the shared photos: for each size, the
//! faces kept at 640 that are found again (a kept face whose box overlaps
//! by IoU >= 0.5), the faces kept only at that size, and the detector's
//! time per photo (scaling included), one thread.

use std::path::PathBuf;
use std::time::Duration;

use rollcall_models::runtime::Threads;
use rollcall_models::{FaceEngine, FaceFilter, ModelSet, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::geometry::BBox;
use serde::Serialize;

use crate::error::Result;

/// The reference size: RetinaFace's own.
pub const REFERENCE: u32 = 640;

/// The figures of one size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeFigures {
    pub size: u32,
    pub photos: usize,
    /// Faces kept at [`REFERENCE`].
    pub reference_faces: usize,
    /// Of those, found again at this size.
    pub found: usize,
    /// `found / reference_faces`.
    pub recall: f64,
    /// Faces kept at this size and not at the reference.
    pub extra: usize,
    /// Detector (scaling and network) per photo, ms.
    pub ms_per_photo: f64,
}

fn kept(engine: &mut dyn FaceEngine, view: RgbView<'_>) -> Result<(Vec<BBox>, Duration)> {
    let before = engine.times();
    let faces = engine.faces(view, &FaceFilter::default())?;
    let after = engine.times();
    let spent = after.prepare.saturating_sub(before.prepare) + after.detector.since(&before.detector).total;
    Ok((faces.iter().filter(|f| f.verdict == Verdict::Kept).map(|f| f.detection.bbox).collect(), spent))
}

/// Runs every photo at [`REFERENCE`] and at each of `sizes`.
pub fn measure(models: &ModelSet, photos: &[PathBuf], sizes: &[u32]) -> Result<Vec<SizeFigures>> {
    let mut reference = models.clone().with_detector_size(REFERENCE)?.onnx_engine(Threads { intra: 1 })?;
    let mut engines = Vec::new();
    for &s in sizes {
        engines.push((s, models.clone().with_detector_size(s)?.onnx_engine(Threads { intra: 1 })?));
    }
    let mut figures: Vec<SizeFigures> = sizes
        .iter()
        .map(|&size| SizeFigures { size, photos: 0, reference_faces: 0, found: 0, recall: 0.0, extra: 0, ms_per_photo: 0.0 })
        .collect();
    let mut spent = vec![Duration::ZERO; sizes.len()];
    for path in photos {
        let Ok(img) = rollcall_models::decode::load_rgb(path) else { continue };
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        let (truth, _) = kept(&mut reference, view)?;
        for ((_, engine), (f, t)) in engines.iter_mut().zip(figures.iter_mut().zip(spent.iter_mut())) {
            let (found, took) = kept(engine, view)?;
            *t += took;
            f.photos += 1;
            f.reference_faces += truth.len();
            let mut used = vec![false; found.len()];
            for b in &truth {
                if let Some(j) = (0..found.len()).find(|&j| !used[j] && found[j].iou(b) >= 0.5) {
                    used[j] = true;
                    f.found += 1;
                }
            }
            f.extra += used.iter().filter(|u| !**u).count();
        }
    }
    for (f, t) in figures.iter_mut().zip(spent) {
        f.recall = f.found as f64 / f.reference_faces.max(1) as f64;
        f.ms_per_photo = t.as_secs_f64() * 1000.0 / f.photos.max(1) as f64;
    }
    Ok(figures)
}

/// One line per size.
pub fn describe(f: &SizeFigures) -> String {
    format!(
        "{:>4} px: {}/{} of the faces found at {REFERENCE} ({:.1}%), {} more; detector {:.1} ms/photo ({} photos)",
        f.size,
        f.found,
        f.reference_faces,
        f.recall * 100.0,
        f.extra,
        f.ms_per_photo,
        f.photos
    )
}
