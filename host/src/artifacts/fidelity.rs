//! `fidelity.json`: what `quantize` cost, measured: sizes, speeds, and how
//! far the int8 networks' outputs stray from the float ones.

use std::collections::BTreeMap;
use std::path::Path;

use rollcall_shared::gallery::ClassifierKind;
use serde::{Deserialize, Serialize};

use super::io::{read_json, write_json};
use crate::error::Result;

/// Recognizer fidelity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecognizerFidelity {
    pub faces: usize,
    /// Mean cosine between each chip's fp32 and int8 embeddings.
    pub cosine_mean: f64,
    pub cosine_min: f64,
    /// Same for the fp16-weights model.
    pub fp16_cosine_min: f64,
    /// Leave-one-out nearest-centroid accuracy with fp32 embeddings.
    pub accuracy_fp32: f64,
    /// The same with int8 embeddings.
    pub accuracy_int8: f64,
    /// Open-set figures of galleries trained on each (default classifier).
    pub open_set_fp32: OpenSet,
    /// The same for int8.
    pub open_set_int8: OpenSet,
    /// Where the labels came from.
    pub labels_from: String,
}

/// Open-set figures of a trained gallery.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct OpenSet {
    pub classifier: Option<ClassifierKind>,
    /// Cross-validated held-out faces accepted and named correctly.
    pub open_set_accuracy: f64,
    /// Estimated false-accept rate at the threshold.
    pub far: f32,
    /// Estimated false-reject rate at the threshold.
    pub frr: f32,
}

/// Detector fidelity: int8 against fp32.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectorFidelity {
    pub photos: usize,
    /// Faces the fp32 detector kept.
    pub faces_fp32: usize,
    /// Faces the int8 detector kept.
    pub faces_int8: usize,
    /// int8 faces matching an fp32 face (IoU >= 0.5), over int8 faces.
    pub precision: f64,
    /// fp32 faces matched by an int8 face, over fp32 faces.
    pub recall: f64,
    /// Mean distance between matched landmarks, pixels.
    pub landmark_shift_px: f64,
    /// The same as a share of the face box's width (photos differ in size).
    pub landmark_shift_rel: f64,
}

/// Sizes and speeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFigures {
    pub fp32_bytes: usize,
    pub int8_bytes: usize,
    pub fp16_bytes: usize,
    /// Seconds inside ONNX Runtime, fp32, over the timing inputs.
    pub fp32_s: f64,
    pub int8_s: f64,
    /// The same, fp16 weights.
    pub fp16_s: f64,
    pub runs: usize,
}

/// `fidelity.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fidelity {
    /// int8 bytes over fp32 bytes, both networks together.
    pub size_ratio: f64,
    /// int8 inference time over fp32 inference time, both networks, side by side.
    pub speed_ratio: f64,
    pub recognizer: RecognizerFidelity,
    pub detector: DetectorFidelity,
    pub models: BTreeMap<String, ModelFigures>,
    /// What the machine's CPU offers, for reading `speed_ratio`.
    pub cpu: String,
    /// Calibration: method and samples.
    pub calibration: String,
}

impl Fidelity {
    /// Reads `fidelity.json`.
    pub fn read(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Writes `fidelity.json`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}
