//! What `predict` writes: one CSV row per kept face.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::{csv_bytes, replace_own};
use crate::error::Result;

/// The label of a face below the threshold.
pub const UNKNOWN: &str = "unknown";

/// The label of a face found but too small for the recognizer to name
/// reliably (see `predict --min-name-size`); it has no score.
pub const TOO_SMALL_TO_NAME: &str = "too_small_to_name";

/// One face.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PredictionRow {
    /// The photo's path as found.
    pub image: String,
    /// Index among the photo's kept faces, most confident first.
    pub face_index: usize,
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    /// The person, [`UNKNOWN`] or [`TOO_SMALL_TO_NAME`].
    pub label: String,
    /// How alike the face is to `label`'s mean face (for [`UNKNOWN`], to
    /// that of the person the classifier found closest), as a cosine
    /// similarity from -1 to 1, whatever the classifier; empty for a face
    /// too small to name.
    pub score: Option<f32>,
}

const HEADER: [&str; 8] = ["image", "face_index", "x1", "y1", "x2", "y2", "label", "score"];

/// The rows as CSV text, with the header even when there are none. `path`
/// names the destination in errors.
pub fn to_csv(path: &Path, rows: &[PredictionRow]) -> Result<Vec<u8>> {
    csv_bytes(path, &HEADER, rows)
}

/// Writes the rows to `path`, atomically; a file already there is replaced
/// only if it is an earlier prediction CSV.
pub fn write(path: &Path, rows: &[PredictionRow]) -> Result<()> {
    let header = HEADER.join(",");
    replace_own(path, &to_csv(path, rows)?, "a prediction CSV", |head| head.starts_with(header.as_bytes()))
}
