//! `cache.bin`: what detection and embedding found in each photo, so that a
//! `run` over a folder where a few photos are new does only those.
//!
//! Each entry is keyed by the photo's content (sha256), so a photo that was
//! renamed or moved is still found. Everything in an entry was computed with
//! the settings the file records, and each setting invalidates exactly what
//! it affects:
//!
//! - the detector (sha256), the face filter or the decode limits: every
//!   detection, so the whole cache;
//! - the recognizer (sha256): the embeddings only (the chips stay, and are
//!   embedded again without detecting);
//! - the annotated copies' size, or asking for them when they were not
//!   made: those copies only.
//!
//! The file is postcard with a magic and a format version; one that does
//! not decode, is of another version, or names files that are gone, is
//! rebuilt, never trusted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::detections::PhotoRecord;
use super::io::write_atomic;

/// First bytes of the file.
const MAGIC: &[u8; 8] = b"RCCACHE\0";

/// Bumped whenever the layout or the meaning of an entry changes.
pub const FORMAT: u32 = 2;

/// What detection depended on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionKey {
    /// sha256 of the detector model.
    pub detector: String,
    pub min_confidence: f32,
    pub min_size: f32,
    pub report_confidence: f32,
    pub max_pixels: u64,
    pub max_file_bytes: u64,
    /// How large the detector sees photos (`auto` or `fit`).
    pub detector_scale: String,
}

/// One photo's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The detect stage's record (its `path` as last seen).
    pub record: PhotoRecord,
    /// The long side the annotated copy was drawn at, if one was.
    pub annotated_side: Option<u32>,
    /// One embedding per kept face, in `face_index` order, when embedded.
    pub embeddings: Option<Vec<Vec<f32>>>,
}

/// The cache of a work directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cache {
    pub detection: DetectionKey,
    /// sha256 of the recognizer the embeddings come from.
    pub recognizer: String,
    /// By photo content sha256.
    pub entries: BTreeMap<String, Entry>,
}

/// Why a cache on disk was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No cache yet.
    Missing,
    /// It could not be read or decoded: the reason.
    Unreadable(String),
    /// Written by another version of rollcall.
    OtherFormat(u32),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Missing => write!(f, "no cache yet"),
            Refused::Unreadable(why) => write!(f, "unreadable ({why}); rebuilding it"),
            Refused::OtherFormat(v) => write!(f, "format {v}, this rollcall writes {FORMAT}; rebuilding it"),
        }
    }
}

impl Cache {
    /// An empty cache for these settings.
    pub fn new(detection: DetectionKey, recognizer: String) -> Cache {
        Cache { detection, recognizer, entries: BTreeMap::new() }
    }

    /// Reads the cache at `path`.
    pub fn read(path: &Path) -> Result<Cache, Refused> {
        let bytes = match rollcall_shared::regular::read(path, rollcall_shared::regular::cap::TABLE, "cache") {
            Ok(b) => b,
            Err(rollcall_shared::regular::RegularError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refused::Missing),
            Err(e) => return Err(Refused::Unreadable(e.to_string())),
        };
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| Refused::Unreadable("not a rollcall cache".into()))?;
        let (version, body) = rest.split_at_checked(4).ok_or_else(|| Refused::Unreadable("truncated".into()))?;
        let version = u32::from_le_bytes([version[0], version[1], version[2], version[3]]);
        if version != FORMAT {
            return Err(Refused::OtherFormat(version));
        }
        postcard::from_bytes(body).map_err(|e| Refused::Unreadable(e.to_string()))
    }

    /// Writes the cache atomically.
    pub fn write(&self, path: &Path) -> crate::Result<()> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend(FORMAT.to_le_bytes());
        bytes.extend(postcard::to_allocvec(self).map_err(|e| crate::Error::Table { path: path.to_path_buf(), reason: e.to_string() })?);
        write_atomic(path, &bytes)
    }

    /// This cache made fit for `detection` and `recognizer`: emptied if
    /// detection changed, its embeddings dropped if the recognizer did.
    pub fn for_settings(mut self, detection: &DetectionKey, recognizer: &str) -> Cache {
        if &self.detection != detection {
            return Cache::new(detection.clone(), recognizer.to_string());
        }
        if self.recognizer != recognizer {
            self.entries.values_mut().for_each(|e| e.embeddings = None);
            self.recognizer = recognizer.to_string();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(detector: &str) -> DetectionKey {
        DetectionKey {
            detector: detector.into(),
            min_confidence: 0.7,
            min_size: 40.0,
            report_confidence: 0.3,
            max_pixels: 1,
            max_file_bytes: 1,
            detector_scale: "auto".into(),
        }
    }

    fn entry() -> Entry {
        Entry {
            record: PhotoRecord {
                path: "p.jpg".into(),
                key: "p".into(),
                width: 1,
                height: 1,
                error: None,
                annotated_file: None,
                faces: Vec::new(),
                scan: Vec::new(),
            },
            annotated_side: None,
            embeddings: Some(vec![vec![1.0]]),
        }
    }

    #[test]
    fn round_trips_and_refuses_what_it_cannot_trust() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        assert_eq!(Cache::read(&path).unwrap_err(), Refused::Missing);
        let mut c = Cache::new(key("d"), "r".into());
        c.entries.insert("h".into(), entry());
        c.write(&path).unwrap();
        assert_eq!(Cache::read(&path).unwrap().entries.len(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(Cache::read(&path), Err(Refused::Unreadable(_))));
        bytes[8] = 99;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Cache::read(&path).unwrap_err(), Refused::OtherFormat(99));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(matches!(Cache::read(&path), Err(Refused::Unreadable(_))));
    }

    #[test]
    fn each_setting_invalidates_what_it_affects() {
        let mut c = Cache::new(key("d"), "r".into());
        c.entries.insert("h".into(), entry());
        let other_recognizer = c.clone().for_settings(&key("d"), "r2");
        assert_eq!(other_recognizer.entries.len(), 1);
        assert!(other_recognizer.entries["h"].embeddings.is_none(), "embeddings go, detections stay");
        assert!(c.clone().for_settings(&key("d2"), "r").entries.is_empty(), "another detector: everything goes");
        assert!(c.for_settings(&key("d"), "r").entries["h"].embeddings.is_some());
    }
}
