//! Files left out, and why: a photo that cannot be decoded, a chip of the
//! wrong size, an output that cannot be written. The typed reason is what
//! stages and the runner pass around; its words are what the artifacts
//! (`detections.json`, `training.json`) and the summaries record.

use std::path::PathBuf;

use rollcall_models::decode::DecodeError;

use crate::error::Error;

/// Why one photo or chip was left out. The messages do not name the item:
/// the caller records it beside the reason.
#[derive(Debug, thiserror::Error)]
pub enum SkipReason {
    /// It could not be read or decoded.
    #[error(transparent)]
    Unreadable(#[from] DecodeError),
    /// The detector or recognizer failed on it.
    #[error("the face engine failed")]
    Engine(#[source] rollcall_models::Error),
    /// One of its outputs could not be written.
    #[error(transparent)]
    Output(Box<Error>),
    /// A chip whose size the recognizer cannot read.
    #[error("chip is {width}x{height}, the recognizer needs {size}x{size}")]
    ChipSize {
        width: u32,
        height: u32,
        /// The recognizer's chip side.
        size: u32,
    },
    /// No face was found in it.
    #[error("no face found")]
    NoFace,
}

impl SkipReason {
    /// The reason in words, causes included.
    pub fn describe(&self) -> String {
        rollcall_models::error::describe(self)
    }
}

impl From<rollcall_models::Error> for SkipReason {
    fn from(e: rollcall_models::Error) -> Self {
        match e {
            rollcall_models::Error::Image { source, .. } => SkipReason::Unreadable(source),
            other => SkipReason::Engine(other),
        }
    }
}

impl From<Error> for SkipReason {
    fn from(e: Error) -> Self {
        SkipReason::Output(Box::new(e))
    }
}

/// A skipped item, with its reason in words, for the outputs and the summary.
pub fn skipped(path: impl Into<PathBuf>, why: &SkipReason) -> Skipped {
    Skipped { path: path.into(), reason: why.describe() }
}

/// A file that could not be used, and why: in `training.json` the pair
/// `[path, reason]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "(String, String)", into = "(String, String)")]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl From<(String, String)> for Skipped {
    fn from((path, reason): (String, String)) -> Self {
        Skipped { path: path.into(), reason }
    }
}

impl From<Skipped> for (String, String) {
    fn from(s: Skipped) -> Self {
        (s.path.display().to_string(), s.reason)
    }
}
