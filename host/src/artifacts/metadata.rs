//! `metadata.csv`: one row per kept face, the table a spreadsheet opens.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::detections::PhotoRecord;
use super::io::{read_csv, write_csv};
use crate::error::Result;

/// One kept face.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetadataRow {
    /// Chip file name in `aligned/`.
    pub aligned_file: String,
    /// The photo it came from, as found.
    pub original_file: String,
    /// Index among the photo's kept faces, most confident first.
    pub face_index: usize,
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub confidence: f32,
}

impl MetadataRow {
    /// The box's area, for picking a photo's main face.
    pub fn area(&self) -> f32 {
        (self.x2 - self.x1) * (self.y2 - self.y1)
    }
}

/// Writes `metadata.csv` for the kept faces of `photos`.
pub fn write(path: &Path, photos: &[PhotoRecord]) -> Result<()> {
    let rows = photos.iter().flat_map(|p| {
        p.faces.iter().filter_map(move |f| {
            let (file, i) = (f.aligned_file.as_ref()?, f.face_index?);
            Some(MetadataRow {
                aligned_file: file.clone(),
                original_file: p.path.clone(),
                face_index: i,
                x1: f.bbox[0],
                y1: f.bbox[1],
                x2: f.bbox[2],
                y2: f.bbox[3],
                confidence: f.confidence,
            })
        })
    });
    write_csv(path, rows)
}

/// Reads `metadata.csv`.
pub fn read(path: &Path) -> Result<Vec<MetadataRow>> {
    read_csv(path)
}
