//! One photo through detect → filter → align → embed: the face pipeline the
//! host and the device share.
//!
//! Reads: an RGB8 photo. Writes: every candidate face with the reason it was
//! kept or rejected, and for kept faces the aligned chip and, when asked, its
//! embedding.

use std::sync::Arc;

use rollcall_shared::align::{RgbView, estimate_alignment, warp_to_chip};

use crate::detector::{Detection, Detector};
use crate::error::{Error, Result};
use crate::manifest::{ModelSpec, Role};
use crate::recognizer::Recognizer;
use crate::runtime::Threads;
use crate::store::{ModelStore, sha256_hex};

/// Thresholds that decide which detections count as faces.
#[derive(Debug, Clone, Copy)]
pub struct FaceFilter {
    /// Minimum detector confidence to keep a face (0.7).
    pub min_confidence: f32,
    /// Minimum box width and height in pixels to keep a face (40).
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

/// Why a detection was or was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl Verdict {
    /// A short lower-case name for CSV and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Kept => "kept",
            Verdict::LowConfidence => "low_confidence",
            Verdict::TooSmall => "too_small",
            Verdict::Unalignable => "unalignable",
        }
    }
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
pub fn filter_and_align(image: RgbView<'_>, detections: Vec<Detection>, filter: &FaceFilter, chip_size: u32) -> Vec<Face> {
    detections
        .into_iter()
        .map(|d| {
            let verdict = if d.score < filter.min_confidence {
                Verdict::LowConfidence
            } else if d.bbox.width() < filter.min_size || d.bbox.height() < filter.min_size {
                Verdict::TooSmall
            } else {
                Verdict::Kept
            };
            let chip = (verdict == Verdict::Kept)
                .then(|| estimate_alignment(&d.landmarks, chip_size).and_then(|t| warp_to_chip(image, &t, chip_size)))
                .flatten();
            let verdict = if verdict == Verdict::Kept && chip.is_none() { Verdict::Unalignable } else { verdict };
            Face { detection: d, verdict, chip }
        })
        .collect()
}

/// The detector and recognizer chosen from the manifest, with their checked
/// bytes in memory so that each worker thread can build its own sessions.
#[derive(Debug, Clone)]
pub struct ModelSet {
    store: ModelStore,
    detector: (ModelSpec, Arc<Vec<u8>>, String),
    recognizer: (ModelSpec, Arc<Vec<u8>>, String),
}

impl ModelSet {
    /// Loads (fetching if needed) and checks the named models, or the
    /// manifest's defaults, and ONNX Runtime.
    pub fn load(store: &ModelStore, detector: Option<&str>, recognizer: Option<&str>) -> Result<Self> {
        let load = |role, name| -> Result<(ModelSpec, Arc<Vec<u8>>, String)> {
            let spec = store.manifest().select(role, name)?.clone();
            let bytes = store.load_model_bytes(&spec)?;
            let sha = sha256_hex(&bytes);
            Ok((spec, Arc::new(bytes), sha))
        };
        let set =
            ModelSet { store: store.clone(), detector: load(Role::Detector, detector)?, recognizer: load(Role::Recognizer, recognizer)? };
        crate::runtime::init(store)?;
        Ok(set)
    }

    /// The store the models came from.
    pub fn store(&self) -> &ModelStore {
        &self.store
    }

    /// The detector's manifest entry.
    pub fn detector_spec(&self) -> &ModelSpec {
        &self.detector.0
    }

    /// The recognizer's manifest entry.
    pub fn recognizer_spec(&self) -> &ModelSpec {
        &self.recognizer.0
    }

    /// sha256 of the detector file loaded.
    pub fn detector_sha256(&self) -> &str {
        &self.detector.2
    }

    /// sha256 of the recognizer file loaded.
    pub fn recognizer_sha256(&self) -> &str {
        &self.recognizer.2
    }

    /// The checked detector file.
    pub fn detector_bytes(&self) -> &[u8] {
        &self.detector.1
    }

    /// The checked recognizer file.
    pub fn recognizer_bytes(&self) -> &[u8] {
        &self.recognizer.1
    }

    /// sha256 of the detector file loaded, as bytes (what a gallery records).
    pub fn detector_digest(&self) -> [u8; 32] {
        digest(&self.detector.2)
    }

    /// sha256 of the recognizer file loaded, as bytes (what a gallery records).
    pub fn recognizer_digest(&self) -> [u8; 32] {
        digest(&self.recognizer.2)
    }

    /// A new detector session.
    pub fn detector(&self, threads: Threads) -> Result<Detector> {
        Detector::new(&self.store, &self.detector.0, &self.detector.1, threads)
    }

    /// A new recognizer session.
    pub fn recognizer(&self, threads: Threads) -> Result<Recognizer> {
        Recognizer::new(&self.store, &self.recognizer.0, &self.recognizer.1, threads)
    }

    /// A detector and a recognizer for one worker.
    pub fn engine(&self, threads: Threads) -> Result<Engine> {
        Ok(Engine { detector: self.detector(threads)?, recognizer: self.recognizer(threads)? })
    }
}

/// The bytes of a hex digest this crate computed itself.
fn digest(hex: &str) -> [u8; 32] {
    rollcall_shared::gallery::parse_sha256(hex).unwrap_or_default()
}

/// One worker's sessions: the whole face pipeline for a photo.
#[derive(Debug)]
pub struct Engine {
    /// The detector session.
    pub detector: Detector,
    /// The recognizer session.
    pub recognizer: Recognizer,
}

impl Engine {
    /// Detects, filters and aligns the faces in a photo.
    pub fn faces(&mut self, image: RgbView<'_>, filter: &FaceFilter) -> Result<Vec<Face>> {
        let floor = filter.report_confidence.min(filter.min_confidence);
        let dets = self.detector.detect(image, floor)?;
        Ok(filter_and_align(image, dets, filter, self.recognizer.chip_size()))
    }

    /// Embeds one aligned chip.
    pub fn embed(&mut self, chip: &[u8]) -> Result<Vec<f32>> {
        self.recognizer.embed(chip)
    }

    /// Faces and, for each kept one, its embedding.
    pub fn faces_with_embeddings(&mut self, image: RgbView<'_>, filter: &FaceFilter) -> Result<Vec<(Face, Option<Vec<f32>>)>> {
        let faces = self.faces(image, filter)?;
        faces
            .into_iter()
            .map(|f| {
                let emb = match &f.chip {
                    Some(chip) => Some(self.embed(chip)?),
                    None => None,
                };
                Ok::<_, Error>((f, emb))
            })
            .collect()
    }
}
