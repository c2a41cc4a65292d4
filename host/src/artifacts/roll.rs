//! What `rollcall roll` writes into its folder: `roll.csv`, everyone in
//! the gallery as present or absent with where they were found, and
//! `faces.csv`, every face of every photo with its name.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::io::{read_csv, write_csv};
use super::predictions::PredictionRow;
use crate::error::Result;

/// `roll.csv`.
pub const ROLL_CSV: &str = "roll.csv";
/// `faces.csv`.
pub const FACES_CSV: &str = "faces.csv";
/// The printable page: who is absent, who is present, the named photos.
pub const ROLL_HTML: &str = "roll.html";
/// Annotated copies with names.
pub const ANNOTATED_DIR: &str = "annotated";
/// The copies a roll call wrote into [`ANNOTATED_DIR`], with their hashes:
/// the next roll call in the folder removes those it does not write again,
/// and nothing else.
pub const COPIES_JSON: &str = ".rollcall-copies.json";

/// The named copies a roll call wrote (`.rollcall-copies.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Copies {
    /// Each copy's file name in [`ANNOTATED_DIR`] and the sha256 of what was written.
    pub files: Vec<(String, String)>,
}

impl Copies {
    /// The record in the roll-call folder `dir`; none yet, an empty one.
    pub fn read(dir: &Path) -> Result<Copies> {
        let path = dir.join(COPIES_JSON);
        match path.exists() {
            true => super::io::read_json(&path),
            false => Ok(Copies::default()),
        }
    }

    /// Writes the record into the roll-call folder `dir`, atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        super::io::write_json(&dir.join(COPIES_JSON), self)
    }
}

/// Whether a person was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Named in at least one photo.
    Present,
    /// Named in none.
    Absent,
}

/// One person of the gallery: present or absent, and for the present, the
/// face that named them best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollRow {
    /// The gallery's label.
    pub person: String,
    pub status: Status,
    /// Photos they were named in.
    pub photos: usize,
    /// The photo of the best-scoring sighting.
    pub photo: Option<String>,
    pub x1: Option<f32>,
    pub y1: Option<f32>,
    pub x2: Option<f32>,
    pub y2: Option<f32>,
    /// The classifier's score of that sighting.
    pub score: Option<f32>,
}

/// Writes `roll.csv` and `faces.csv` into `dir` (a roll-call folder
/// rollcall owns), atomically.
pub fn write(dir: &Path, rows: &[RollRow], faces: &[PredictionRow]) -> Result<()> {
    write_csv(&dir.join(ROLL_CSV), rows)?;
    write_csv(&dir.join(FACES_CSV), faces)
}

/// Reads `roll.csv`.
pub fn read(dir: &Path) -> Result<Vec<RollRow>> {
    read_csv(&dir.join(ROLL_CSV))
}
