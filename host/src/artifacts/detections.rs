//! `detections.json`: every photo the detect stage looked at, every
//! detection with its verdict, every skipped photo with the reason, and the
//! totals.

use std::path::Path;

use rollcall_models::scan::PassRecord;
use rollcall_models::{ModelRef, Verdict};
use serde::{Deserialize, Serialize};

use super::io::{read_json, write_json};
use crate::error::Result;

/// One detection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceRecord {
    /// `[x1, y1, x2, y2]` in photo pixels.
    pub bbox: [f32; 4],
    pub confidence: f32,
    /// Five landmarks in photo pixels: eyes, nose, mouth corners.
    pub landmarks: [[f32; 2]; 5],
    /// Why it was kept or not.
    pub verdict: Verdict,
    /// Index among the photo's kept faces (kept faces only).
    pub face_index: Option<usize>,
    /// Chip file name (kept faces only).
    pub aligned_file: Option<String>,
}

/// One photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhotoRecord {
    /// The photo's path as found.
    pub path: String,
    /// The key its output files are named after.
    pub key: String,
    /// Width after EXIF orientation (0 when skipped).
    pub width: u32,
    /// Height after EXIF orientation (0 when skipped).
    pub height: u32,
    /// Why the photo was skipped, if it was.
    pub error: Option<String>,
    /// Annotated copy's file name.
    pub annotated_file: Option<String>,
    /// All detections, best first.
    pub faces: Vec<FaceRecord>,
    /// How the detector scanned the photo: each pass's scale and tiles,
    /// finest first (empty when skipped).
    #[serde(default)]
    pub scan: Vec<PassRecord>,
}

/// Totals of a detect run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DetectSummary {
    /// Photos found under the input.
    pub images_found: usize,
    pub images_read: usize,
    /// Photos skipped (unreadable, undecodable, unwritable outputs).
    pub images_skipped: usize,
    /// Detections at or above the confidence threshold.
    pub faces_found: usize,
    /// Faces kept (and aligned).
    pub faces_kept: usize,
    /// Detections rejected for their size.
    pub rejected_too_small: usize,
    /// Candidates below the confidence threshold (shown for reference).
    pub rejected_low_confidence: usize,
    /// Kept faces whose landmarks admit no alignment.
    pub rejected_unalignable: usize,
}

impl DetectSummary {
    /// The totals of `photos`.
    pub fn of(photos: &[PhotoRecord]) -> Self {
        let mut s = DetectSummary { images_found: photos.len(), ..Default::default() };
        for r in photos {
            if r.error.is_some() {
                s.images_skipped += 1;
                continue;
            }
            s.images_read += 1;
            for f in &r.faces {
                match f.verdict {
                    Verdict::Kept => s.faces_kept += 1,
                    Verdict::TooSmall => s.rejected_too_small += 1,
                    Verdict::LowConfidence => s.rejected_low_confidence += 1,
                    Verdict::Unalignable => s.rejected_unalignable += 1,
                }
            }
        }
        s.faces_found = s.faces_kept + s.rejected_too_small + s.rejected_unalignable;
        s
    }
}

/// `detections.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectionsFile {
    /// The input folder or photo.
    pub input: String,
    pub detector: ModelRef,
    /// The recognizer (the chip size and template follow it).
    pub recognizer: ModelRef,
    pub min_confidence: f32,
    /// Smallest box side kept.
    pub min_size: f32,
    pub summary: DetectSummary,
    pub photos: Vec<PhotoRecord>,
}

impl DetectionsFile {
    /// Reads `detections.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Writes `detections.json`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}
