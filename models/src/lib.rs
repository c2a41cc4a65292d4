//! Models for rollcall: the manifest, fetching and verifying model files,
//! ONNX graph rewriting, ONNX Runtime sessions, and the pre- and
//! post-processing of the face detector and the face recognizer.
//!
//! This crate knows nothing of the host CLI or the device runtime; both build
//! on it, so detection, alignment and embedding are the same code everywhere.

pub mod decode;
pub mod detector;
pub mod error;
pub mod faces;
pub mod manifest;
pub mod onnx;
pub mod quantize;
pub mod recognizer;
pub mod runtime;
pub mod store;

pub use detector::{Detection, Detector};
pub use error::{Error, Result};
pub use faces::{Engine, Face, FaceFilter, ModelSet, Verdict};
pub use manifest::{Manifest, ModelSpec, Role};
pub use recognizer::Recognizer;
pub use store::ModelStore;
