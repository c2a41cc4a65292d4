//! One photo through detect → filter → align → embed: the face pipeline the
//! host and the device share.
//!
//! Reads: an RGB8 photo. Writes: every candidate face with the reason it was
//! kept or rejected, and for kept faces the aligned chip and, when asked, its
//! embedding.

use rollcall_shared::align::{RgbView, estimate_alignment, warp_to_chip};
use serde::{Deserialize, Serialize};

use crate::detection::Detection;

/// Thresholds that decide which detections count as faces.
#[derive(Debug, Clone, Copy)]
pub struct FaceFilter {
    /// Detector confidence needed to keep a face (0.7).
    pub min_confidence: f32,
    /// Box width and height needed to keep a face, in pixels (40).
    pub min_size: f32,
    /// Detections down to this confidence are reported as rejected, so a
    /// person can see what the threshold threw away.
    pub report_confidence: f32,
}

impl Default for FaceFilter {
    fn default() -> Self {
        FaceFilter { min_confidence: 0.7, min_size: 40.0, report_confidence: 0.3 }
    }
}

impl FaceFilter {
    /// The verdict on a detection before alignment: the one face-size and
    /// confidence rule, for the pipeline and for whoever compares detectors.
    pub fn judge(&self, d: &Detection) -> Verdict {
        if d.score < self.min_confidence {
            Verdict::LowConfidence
        } else if d.bbox.width() < self.min_size || d.bbox.height() < self.min_size {
            Verdict::TooSmall
        } else {
            Verdict::Kept
        }
    }
}

/// Why a detection was or was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A face to align and embed.
    Kept,
    /// Confidence below the threshold.
    LowConfidence,
    /// Box narrower or shorter than the minimum.
    TooSmall,
    /// The landmarks admit no alignment (coincident points).
    Unalignable,
}

/// A detection with its verdict and, for kept faces, the aligned chip.
#[derive(Debug, Clone)]
pub struct Face {
    /// What the detector found.
    pub detection: Detection,
    /// Whether it is kept.
    pub verdict: Verdict,
    /// The aligned RGB8 chip (kept faces only).
    pub chip: Option<Vec<u8>>,
}

/// Applies `filter` to detections (best first) and aligns the kept ones.
pub(crate) fn filter_and_align(image: RgbView<'_>, detections: Vec<Detection>, filter: &FaceFilter, chip_size: u32) -> Vec<Face> {
    detections
        .into_iter()
        .map(|d| {
            let verdict = filter.judge(&d);
            let chip = (verdict == Verdict::Kept)
                .then(|| estimate_alignment(&d.landmarks, chip_size).and_then(|t| warp_to_chip(image, &t, chip_size)))
                .flatten();
            let verdict = if verdict == Verdict::Kept && chip.is_none() { Verdict::Unalignable } else { verdict };
            Face { detection: d, verdict, chip }
        })
        .collect()
}
