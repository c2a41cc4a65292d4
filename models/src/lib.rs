//! Models for rollcall: the manifest, fetching and verifying model files,
//! ONNX graph rewriting, ONNX Runtime sessions, the detector and recognizer
//! pre- and post-processing, and the [`FaceEngine`] interface (with a
//! deterministic [`fake`]) through which the host and the device use them.
//!
//! This crate knows nothing of the host CLI or the device runtime; both build
//! on it, so detection, alignment and embedding are the same code everywhere.

// Other crates build on this one: its public API is documented.
#![warn(missing_docs)]

pub mod decode;
pub mod detection;
pub mod detector;
mod engine;
pub mod error;
mod faces;
pub mod fake;
pub mod manifest;
pub mod onnx;
pub mod quantize;
pub mod recognizer;
pub mod resize;
pub mod runtime;
pub mod scan;
mod source;
pub mod store;

pub use detection::Detection;
pub use detector::Detector;
pub use engine::{EngineTimes, FaceEngine, ModelCard, ModelRef, ModelSet, Models, OnnxEngine, most_sessions_made_at_once};
pub use error::{Error, Result};
pub use faces::{Face, FaceFilter, Verdict};
pub use manifest::{Manifest, ModelSpec, Role};
pub use recognizer::Recognizer;
pub use scan::DetectorScale;
pub use source::{DetectorSize, ModelSource};
pub use store::ModelStore;
