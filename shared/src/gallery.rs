//! The gallery file (`.rcg`): everything a device needs to recognise the
//! people it was trained on, in one compact, versioned, checksummed file.
//!
//! Layout, all little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `RCGALLRY` |
//! | 2 | format version |
//! | 4 | payload length |
//! | n | payload: [`Gallery`] encoded with `postcard` |
//! | 32 | sha256 of everything before it |
//!
//! The decoder tells apart a file that is not a gallery (magic), one from
//! another format version, one cut short, and one whose bytes changed; and
//! [`Gallery::check_models`] refuses a gallery whose embeddings came from a
//! different detector or recognizer than the device runs, since embeddings
//! from different networks are not comparable.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// The first bytes of every gallery file.
pub const MAGIC: [u8; 8] = *b"RCGALLRY";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
const HEADER: usize = 8 + 2 + 4;
/// The largest entry a reference vector may hold: they are unit length.
pub const MAX_VECTOR_VALUE: f32 = 4.0;
/// The largest weight or bias a linear model may hold.
pub const MAX_LINEAR_VALUE: f32 = 1.0e6;
const CHECKSUM: usize = 32;

/// The four classifiers a gallery carries. In JSON (`training.json`) each
/// is its short [`name`](Self::name); in the gallery, its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClassifierKind {
    /// Cosine similarity to each person's mean embedding.
    #[serde(rename = "centroid")]
    NearestCentroid,
    /// Majority vote of the 3 most similar reference faces.
    #[serde(rename = "knn")]
    Knn,
    /// One-vs-rest linear SVMs.
    #[serde(rename = "svm")]
    LinearSvm,
    /// Multinomial logistic regression.
    #[serde(rename = "logistic")]
    Logistic,
}

impl ClassifierKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ClassifierKind; 4] =
        [ClassifierKind::NearestCentroid, ClassifierKind::Knn, ClassifierKind::LinearSvm, ClassifierKind::Logistic];

    /// Short name for the command line and reports.
    pub fn name(self) -> &'static str {
        match self {
            ClassifierKind::NearestCentroid => "centroid",
            ClassifierKind::Knn => "knn",
            ClassifierKind::LinearSvm => "svm",
            ClassifierKind::Logistic => "logistic",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Position in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Reference embeddings, stored compactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Vectors {
    /// Plain f32 values.
    F32(Vec<f32>),
    /// IEEE half floats, little-endian bytes (two per value).
    F16(Vec<u8>),
    /// Signed bytes with one scale per vector: `value = byte * scale`.
    I8 {
        /// One byte per value.
        data: Vec<u8>,
        /// One scale per vector.
        scales: Vec<f32>,
    },
}

impl Vectors {
    /// Stores `rows` (each `dim` long) in the given form.
    pub fn encode(rows: &[f32], dim: usize, form: VectorForm) -> Self {
        match form {
            VectorForm::F32 => Vectors::F32(rows.to_vec()),
            VectorForm::F16 => Vectors::F16(rows.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect()),
            VectorForm::I8 => {
                let mut data = Vec::with_capacity(rows.len());
                let mut scales = Vec::new();
                for row in rows.chunks(dim.max(1)) {
                    let max = row.iter().fold(0f32, |a, v| a.max(v.abs()));
                    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                    scales.push(scale);
                    data.extend(row.iter().map(|&v| (libm::roundf(v / scale) as i32).clamp(-127, 127) as i8 as u8));
                }
                Vectors::I8 { data, scales }
            }
        }
    }

    /// Number of values stored.
    pub fn len(&self) -> usize {
        match self {
            Vectors::F32(v) => v.len(),
            Vectors::F16(b) => b.len() / 2,
            Vectors::I8 { data, .. } => data.len(),
        }
    }

    /// Whether no values are stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector `i` (of `dim` values) written into `out`.
    pub fn row_into(&self, i: usize, dim: usize, out: &mut [f32]) {
        let range = i * dim..(i + 1) * dim;
        match self {
            Vectors::F32(v) => out.copy_from_slice(&v[range]),
            Vectors::F16(b) => {
                for (o, j) in out.iter_mut().zip(range) {
                    *o = half::f16::from_le_bytes([b[2 * j], b[2 * j + 1]]).to_f32();
                }
            }
            Vectors::I8 { data, scales } => {
                for (o, j) in out.iter_mut().zip(range) {
                    *o = f32::from(data[j] as i8) * scales[i];
                }
            }
        }
    }
}

/// How reference vectors are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorForm {
    /// 4 bytes a value.
    F32,
    /// 2 bytes a value.
    F16,
    /// 1 byte a value plus a scale per vector.
    I8,
}

/// A linear classifier: `scores = W x + b`, one row of `W` per person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// `people x dim`, row-major.
    pub weights: Vec<f32>,
    /// One per person.
    pub bias: Vec<f32>,
}

/// A calibrated rejection threshold for one classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Scores below this mean "unknown".
    pub value: f32,
    /// The false-accept rate it was chosen for.
    pub target_far: f32,
    /// False-accept rate on the training data's impostor scores.
    pub estimated_far: f32,
    /// False-reject rate on the training data's held-out genuine scores.
    pub estimated_frr: f32,
}

/// When and how the gallery was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    /// Seconds since the Unix epoch.
    pub unix_seconds: u64,
    /// Version of the tool that wrote it.
    pub tool: String,
    /// Faces it was trained on.
    pub faces: u32,
    /// Free text (the training folder, say).
    pub note: String,
}

/// Everything a device needs to recognise the people: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gallery {
    /// sha256 of the detector file the faces were found with.
    pub detector_sha256: [u8; 32],
    /// sha256 of the recognizer file the embeddings came from.
    pub recognizer_sha256: [u8; 32],
    /// Embedding dimension.
    pub dim: u16,
    /// The people's names; classifier outputs index into this.
    pub labels: Vec<String>,
    /// One unit-length mean embedding per person, `labels.len() x dim`.
    pub centroids: Vectors,
    /// Neighbours consulted by kNN.
    pub knn_k: u8,
    /// Person of each reference face.
    pub knn_labels: Vec<u16>,
    /// Reference faces, `knn_labels.len() x dim`.
    pub knn_refs: Vectors,
    /// One-vs-rest linear SVMs.
    pub svm: LinearModel,
    /// Multinomial logistic regression.
    pub logistic: LinearModel,
    /// Rejection thresholds, indexed by [`ClassifierKind::index`].
    pub thresholds: [Threshold; 4],
    /// The classifier to use unless told otherwise.
    pub default_classifier: ClassifierKind,
    /// When and by which tool it was made, from how many faces.
    pub created: Created,
}

/// Why a gallery file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GalleryError {
    /// Shorter than its header says.
    #[error("truncated: {found} bytes, expected {expected}")]
    Truncated {
        /// Bytes present.
        found: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// Not a gallery at all.
    #[error("not a rollcall gallery: a gallery is the .rcg file `rollcall export MODEL --out gallery.rcg` writes from a model folder")]
    WrongMagic,
    /// Written by another format version.
    #[error("gallery format version {found}, this build reads version {supported}")]
    WrongVersion {
        /// Version in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The checksum does not match: the bytes changed.
    #[error("corrupted: checksum mismatch")]
    Checksum,
    /// The checksum matches but the content is malformed or inconsistent.
    #[error("corrupted: {0}")]
    Malformed(&'static str),
    /// Embeddings of another length than the recognizer makes.
    #[error("holds {gallery}-d embeddings, the recognizer makes {recognizer}-d ones")]
    WrongDimension {
        /// The gallery's dimension.
        gallery: u16,
        /// The recognizer's.
        recognizer: usize,
    },
    /// Refused by its signature (only when a key is trusted).
    #[error("{0}")]
    Signature(crate::signature::SignatureError),
    /// A label no person's name may be (see [`crate::names`]).
    #[error("person {index}'s label cannot be a name: {why}")]
    Label {
        /// The label's place in the gallery.
        index: usize,
        /// Why.
        why: crate::names::NameError,
    },
    /// Two labels that are one name written two ways.
    #[error("persons {a} and {b} have one name written two ways")]
    SameLabel {
        /// The first label's place.
        a: usize,
        /// The second's.
        b: usize,
    },
    /// Made with another detector or recognizer.
    #[error("made with a different {which} (gallery {expected}, running {found}); re-export it with the models this device runs")]
    WrongModel {
        /// `detector` or `recognizer`.
        which: &'static str,
        /// The model hash the gallery records (hex prefix).
        expected: String,
        /// The model hash running here (hex prefix).
        found: String,
    },
}

fn hex_prefix(h: &[u8; 32]) -> String {
    crate::digest::hex(&h[..6])
}

/// The length of the gallery file proper (where a signature would start),
/// from its header; `None` when the bytes are not a gallery.
fn signed_length(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < HEADER || bytes[..8] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
    Some(HEADER.saturating_add(len).saturating_add(CHECKSUM))
}

impl Gallery {
    /// Number of people.
    pub fn people(&self) -> usize {
        self.labels.len()
    }

    /// The threshold of a classifier.
    pub fn threshold(&self, kind: ClassifierKind) -> Threshold {
        self.thresholds[kind.index()]
    }

    /// Encodes the gallery file.
    pub fn encode(&self) -> Result<Vec<u8>, GalleryError> {
        let payload = postcard::to_allocvec(self).map_err(|_| GalleryError::Malformed("cannot encode"))?;
        let mut out = Vec::with_capacity(HEADER + payload.len() + CHECKSUM);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        let sum = crate::digest::sha256(&out);
        out.extend_from_slice(&sum);
        Ok(out)
    }

    /// Decodes and checks a gallery file.
    pub fn decode(bytes: &[u8]) -> Result<Self, GalleryError> {
        if bytes.len() < MAGIC.len() {
            return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
                GalleryError::Truncated { found: bytes.len(), expected: HEADER + CHECKSUM }
            } else {
                GalleryError::WrongMagic
            });
        }
        if bytes[..8] != MAGIC {
            return Err(GalleryError::WrongMagic);
        }
        if bytes.len() < HEADER {
            return Err(GalleryError::Truncated { found: bytes.len(), expected: HEADER + CHECKSUM });
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return Err(GalleryError::WrongVersion { found: version, supported: FORMAT_VERSION });
        }
        let len = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
        let expected = HEADER.saturating_add(len).saturating_add(CHECKSUM);
        if bytes.len() < expected {
            return Err(GalleryError::Truncated { found: bytes.len(), expected });
        }
        // What follows the checksum must be a whole signature trailer
        // (checked against a key by `decode_trusted`), nothing else.
        // A first-format signature is still a signature: only a device
        // that trusts a key cares that it has no serial.
        let bytes = match crate::signature::split(bytes, expected) {
            Ok((bytes, _)) => bytes,
            Err(crate::signature::SignatureError::NoSerial) => &bytes[..expected],
            Err(_) => return Err(GalleryError::Malformed("trailing bytes after the checksum")),
        };
        let (body, sum) = bytes.split_at(HEADER + len);
        if crate::digest::sha256(body).as_slice() != sum {
            return Err(GalleryError::Checksum);
        }
        let g: Gallery = postcard::from_bytes(&body[HEADER..]).map_err(|_| GalleryError::Malformed("payload does not decode"))?;
        g.validate()?;
        Ok(g)
    }

    /// Decodes a gallery file that must be signed by `trusted` (see
    /// [`crate::signature`]): unsigned files, files signed by another key and
    /// files changed after signing are refused before anything else is read.
    pub fn decode_trusted(bytes: &[u8], trusted: &crate::signature::PublicKey) -> Result<Self, GalleryError> {
        Self::decode_verified(bytes, trusted).map(|(g, _)| g)
    }

    /// [`Gallery::decode_trusted`], and the serial the signature carries.
    pub fn decode_verified(bytes: &[u8], trusted: &crate::signature::PublicKey) -> Result<(Self, u64), GalleryError> {
        let Some(expected) = signed_length(bytes) else { return Self::decode(bytes).map(|g| (g, 0)) };
        let (gallery, trailer) = crate::signature::split(bytes, expected).map_err(GalleryError::Signature)?;
        let serial = crate::signature::verify(gallery, trailer, trusted).map_err(GalleryError::Signature)?;
        Ok((Self::decode(gallery)?, serial))
    }

    /// What a gallery file's signature claims (signer and serial), not
    /// verified; `None` when unsigned.
    pub fn signature_claim(bytes: &[u8]) -> Result<Option<crate::signature::Claim>, GalleryError> {
        let Some(expected) = signed_length(bytes) else { return Err(GalleryError::WrongMagic) };
        match crate::signature::split(bytes, expected).map_err(GalleryError::Signature)? {
            (_, None) => Ok(None),
            (_, Some(trailer)) => crate::signature::Claim::of(trailer).map(Some).map_err(GalleryError::Signature),
        }
    }

    /// Checks that the shapes agree, so that classification cannot index out
    /// of bounds whatever the file says.
    pub fn validate(&self) -> Result<(), GalleryError> {
        let (p, d) = (self.labels.len(), self.dim as usize);
        if p == 0 || d == 0 {
            return Err(GalleryError::Malformed("no people or zero dimension"));
        }
        // Checked: on a 32-bit decoder a forged size must not wrap around.
        let overflow = GalleryError::Malformed("sizes overflow");
        let (people_values, ref_values) =
            (p.checked_mul(d).ok_or(overflow.clone())?, self.knn_labels.len().checked_mul(d).ok_or(overflow)?);
        if self.centroids.len() != people_values {
            return Err(GalleryError::Malformed("centroid table has the wrong size"));
        }
        if self.knn_labels.is_empty() {
            return Err(GalleryError::Malformed("no kNN references"));
        }
        if self.knn_refs.len() != ref_values || self.knn_labels.iter().any(|&l| l as usize >= p) {
            return Err(GalleryError::Malformed("kNN references are inconsistent"));
        }
        if let Vectors::I8 { scales, .. } = &self.knn_refs
            && scales.len() != self.knn_labels.len()
        {
            return Err(GalleryError::Malformed("kNN scales are inconsistent"));
        }
        if let Vectors::I8 { scales, .. } = &self.centroids
            && scales.len() != p
        {
            return Err(GalleryError::Malformed("centroid scales are inconsistent"));
        }
        for m in [&self.svm, &self.logistic] {
            if m.weights.len() != people_values || m.bias.len() != p {
                return Err(GalleryError::Malformed("linear model has the wrong size"));
            }
        }
        if self.knn_k == 0 {
            return Err(GalleryError::Malformed("kNN needs k >= 1"));
        }
        // Labels reach terminals, CSV files, MQTT topics and serial lines:
        // each must be a name by the one rule, as written (NFC), and no two
        // the same name.
        let mut keys: Vec<(String, usize)> = Vec::with_capacity(p);
        for (index, label) in self.labels.iter().enumerate() {
            match crate::names::check(label) {
                Ok(name) if name == *label => keys.push((crate::names::key(label), index)),
                Ok(_) => return Err(GalleryError::Label { index, why: crate::names::NameError::NotNormal }),
                Err(why) => return Err(GalleryError::Label { index, why }),
            }
        }
        keys.sort();
        if let Some(w) = keys.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(GalleryError::SameLabel { a: w[0].1, b: w[1].1 });
        }
        // A NaN compares false with everything: a gallery holding one would
        // silently reject or accept faces, so it is corrupt. Reference
        // vectors are unit length, so no entry may exceed MAX_VECTOR_VALUE
        // (an int8 scale of 3e38 is finite but turns every score into
        // -inf). An infinitely negative bias is meaningful (never this
        // person); any other out-of-range value is not.
        let in_range = |v: f32| v.is_finite() && v.abs() <= MAX_VECTOR_VALUE;
        let vectors_bounded = |v: &Vectors| match v {
            Vectors::F32(x) => x.iter().all(|&f| in_range(f)),
            Vectors::F16(b) => b.chunks_exact(2).all(|c| in_range(half::f16::from_le_bytes([c[0], c[1]]).to_f32())),
            Vectors::I8 { scales, .. } => scales.iter().all(|&s| s.is_finite() && (0.0..=MAX_VECTOR_VALUE / 127.0).contains(&s)),
        };
        if !vectors_bounded(&self.centroids) || !vectors_bounded(&self.knn_refs) {
            return Err(GalleryError::Malformed("reference vectors hold out-of-range values"));
        }
        for m in [&self.svm, &self.logistic] {
            let weights_ok = m.weights.iter().all(|w| w.is_finite() && w.abs() <= MAX_LINEAR_VALUE);
            let biases_ok = m.bias.iter().all(|&b| b == f32::NEG_INFINITY || (b.is_finite() && b.abs() <= MAX_LINEAR_VALUE));
            if !weights_ok || !biases_ok {
                return Err(GalleryError::Malformed("linear model holds out-of-range values"));
            }
        }
        if self.thresholds.iter().any(|t| t.value.is_nan() || t.target_far.is_nan() || t.estimated_far.is_nan() || t.estimated_frr.is_nan())
        {
            return Err(GalleryError::Malformed("a threshold is NaN"));
        }
        Ok(())
    }

    /// Refuses the gallery unless its embeddings have `dim` values, the
    /// recognizer's: shorter ones would be compared on a prefix, silently.
    pub fn check_dimension(&self, dim: usize) -> Result<(), GalleryError> {
        if self.dim as usize != dim {
            return Err(GalleryError::WrongDimension { gallery: self.dim, recognizer: dim });
        }
        Ok(())
    }

    /// Refuses the gallery unless it was made with these models.
    pub fn check_models(&self, detector_sha256: &[u8; 32], recognizer_sha256: &[u8; 32]) -> Result<(), GalleryError> {
        if &self.detector_sha256 != detector_sha256 {
            return Err(GalleryError::WrongModel {
                which: "detector",
                expected: hex_prefix(&self.detector_sha256),
                found: hex_prefix(detector_sha256),
            });
        }
        if &self.recognizer_sha256 != recognizer_sha256 {
            return Err(GalleryError::WrongModel {
                which: "recognizer",
                expected: hex_prefix(&self.recognizer_sha256),
                found: hex_prefix(recognizer_sha256),
            });
        }
        Ok(())
    }
}

/// A gallery file that could not be read.
#[cfg(feature = "std")]
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why it could not be read (missing, not a regular file, too large).
        #[source]
        source: crate::regular::RegularError,
    },
    /// A folder (a model folder, say) where a gallery file was expected.
    #[error(
        "{} is a folder, not a gallery: a gallery is the .rcg file `rollcall export` writes from a model folder \
         (`rollcall export MODEL --out gallery.rcg`)",
        path.display()
    )]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
    },
    /// The file is not a valid gallery.
    #[error("{}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        #[source]
        source: GalleryError,
    },
}

/// Reads and decodes a gallery file, naming it in errors.
#[cfg(feature = "std")]
pub fn read_file(path: &std::path::Path) -> Result<Gallery, FileError> {
    read_file_trusted(path, None)
}

/// [`read_file`], and when `trusted` is given, the file must be signed by
/// that key ([`Gallery::decode_trusted`]).
#[cfg(feature = "std")]
pub fn read_file_trusted(path: &std::path::Path, trusted: Option<&crate::signature::PublicKey>) -> Result<Gallery, FileError> {
    read_file_verified(path, trusted).map(|(g, _)| g)
}

/// [`read_file_trusted`], and the signature's serial when a key is
/// trusted (0 otherwise).
#[cfg(feature = "std")]
pub fn read_file_verified(path: &std::path::Path, trusted: Option<&crate::signature::PublicKey>) -> Result<(Gallery, u64), FileError> {
    let bytes = read_bytes(path)?;
    match trusted {
        Some(key) => Gallery::decode_verified(&bytes, key),
        None => Gallery::decode(&bytes).map(|g| (g, 0)),
    }
    .map_err(|source| FileError::Invalid { path: path.to_path_buf(), source })
}

/// A gallery file's bytes: a regular file, at most
/// [`crate::regular::cap::GALLERY`] bytes.
#[cfg(feature = "std")]
pub fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>, FileError> {
    if path.is_dir() {
        return Err(FileError::Folder { path: path.to_path_buf() });
    }
    crate::regular::read(path, crate::regular::cap::GALLERY, "gallery")
        .map_err(|source| FileError::Read { path: path.to_path_buf(), source })
}

pub use crate::digest::parse_sha256;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    pub(crate) fn sample(people: usize, refs: usize, dim: usize, form: VectorForm) -> Gallery {
        let v = |n: usize, seed: usize| -> Vec<f32> { (0..n * dim).map(|i| (((i + seed) * 7919 % 1000) as f32 / 500.0) - 1.0).collect() };
        let t = Threshold { value: 0.4, target_far: 0.01, estimated_far: 0.0, estimated_frr: 0.02 };
        Gallery {
            detector_sha256: [1; 32],
            recognizer_sha256: [2; 32],
            dim: dim as u16,
            labels: (0..people).map(|i| alloc::format!("person {i}")).collect(),
            centroids: Vectors::encode(&v(people, 1), dim, form),
            knn_k: 3,
            knn_labels: (0..refs).map(|i| (i % people) as u16).collect(),
            knn_refs: Vectors::encode(&v(refs, 2), dim, form),
            svm: LinearModel { weights: v(people, 3), bias: vec![0.1; people] },
            logistic: LinearModel { weights: v(people, 4), bias: vec![-0.1; people] },
            thresholds: [t; 4],
            default_classifier: ClassifierKind::NearestCentroid,
            created: Created { unix_seconds: 1_790_000_000, tool: "rollcall test".to_string(), faces: refs as u32, note: String::new() },
        }
    }

    #[test]
    fn round_trip() {
        let g = sample(3, 9, 8, VectorForm::F16);
        let bytes = g.encode().unwrap();
        assert_eq!(Gallery::decode(&bytes).unwrap(), g);
    }

    #[test]
    fn each_defect_has_its_own_error() {
        let bytes = sample(2, 4, 4, VectorForm::F32).encode().unwrap();
        assert!(matches!(Gallery::decode(&bytes[..bytes.len() - 1]), Err(GalleryError::Truncated { .. })));
        assert!(matches!(Gallery::decode(&bytes[..12]), Err(GalleryError::Truncated { .. })));
        assert!(matches!(Gallery::decode(b"hello, world, not a gallery"), Err(GalleryError::WrongMagic)));
        assert!(matches!(Gallery::decode(b""), Err(GalleryError::WrongMagic)));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert_eq!(Gallery::decode(&v2), Err(GalleryError::WrongVersion { found: 2, supported: 1 }));
        let mut flipped = bytes.clone();
        flipped[HEADER + 5] ^= 0x40;
        assert_eq!(Gallery::decode(&flipped), Err(GalleryError::Checksum));
        let g = Gallery::decode(&bytes).unwrap();
        assert!(g.check_models(&[1; 32], &[2; 32]).is_ok());
        assert!(matches!(g.check_models(&[9; 32], &[2; 32]), Err(GalleryError::WrongModel { which: "detector", .. })));
        assert!(matches!(g.check_models(&[1; 32], &[9; 32]), Err(GalleryError::WrongModel { which: "recognizer", .. })));
    }

    #[test]
    fn inconsistent_shapes_are_refused_even_with_a_valid_checksum() {
        let mut g = sample(2, 4, 4, VectorForm::F32);
        g.knn_labels[0] = 7;
        let bytes = g.encode().unwrap();
        assert!(matches!(Gallery::decode(&bytes), Err(GalleryError::Malformed(_))));
    }

    /// Found by `cargo fuzz` (gallery_decode): a payload with a NaN weight
    /// decoded fine, and every face it scored came out "unknown".
    #[test]
    fn regression_gallery_with_nan_values_is_refused() {
        let mut g = sample(2, 4, 4, VectorForm::F32);
        g.svm.weights[3] = f32::NAN;
        assert!(matches!(Gallery::decode(&g.encode().unwrap()), Err(GalleryError::Malformed(_))));
        let mut g = sample(2, 4, 4, VectorForm::F32);
        g.thresholds[1].value = f32::NAN;
        assert!(matches!(Gallery::decode(&g.encode().unwrap()), Err(GalleryError::Malformed(_))));
        let mut g = sample(2, 4, 4, VectorForm::F32);
        g.knn_refs = Vectors::F32(alloc::vec![f32::INFINITY; 16]);
        assert!(matches!(Gallery::decode(&g.encode().unwrap()), Err(GalleryError::Malformed(_))));
        // An infinite threshold (accept everyone) is legitimate.
        let mut g = sample(2, 4, 4, VectorForm::F32);
        g.thresholds[0].value = f32::NEG_INFINITY;
        assert!(Gallery::decode(&g.encode().unwrap()).is_ok());
    }

    /// Galleries that decoded fine but were wrong: 64-d vectors for a 128-d
    /// recognizer (silently compared on a prefix), int8 scales of 3e38
    /// (every score -inf, `"score":null` on the device), and no kNN
    /// references at all.
    #[test]
    fn regression_gallery_that_decodes_but_is_wrong_is_refused() {
        let g = sample(2, 4, 64, VectorForm::F32);
        assert_eq!(g.check_dimension(128), Err(GalleryError::WrongDimension { gallery: 64, recognizer: 128 }));
        assert_eq!(g.check_dimension(64), Ok(()));
        let mut huge = sample(2, 4, 8, VectorForm::I8);
        if let Vectors::I8 { scales, .. } = &mut huge.knn_refs {
            scales[0] = 3e38;
        }
        assert!(matches!(Gallery::decode(&huge.encode().unwrap()), Err(GalleryError::Malformed(_))));
        let mut none = sample(2, 4, 8, VectorForm::F32);
        none.knn_labels.clear();
        none.knn_refs = Vectors::F32(alloc::vec![]);
        assert_eq!(Gallery::decode(&none.encode().unwrap()), Err(GalleryError::Malformed("no kNN references")));
        let mut wrap = sample(2, 4, 8, VectorForm::F32);
        wrap.labels = (0..3).map(|i| alloc::format!("p{i}")).collect();
        wrap.dim = u16::MAX;
        assert!(wrap.validate().is_err(), "sizes that do not add up are refused");
    }

    #[test]
    fn compact_forms_stay_close() {
        let rows: Vec<f32> = (0..64).map(|i| ((i * 37 % 17) as f32 - 8.0) / 20.0).collect();
        for form in [VectorForm::F16, VectorForm::I8] {
            let v = Vectors::encode(&rows, 16, form);
            let mut out = [0f32; 16];
            for r in 0..4 {
                v.row_into(r, 16, &mut out);
                for (a, b) in out.iter().zip(&rows[r * 16..(r + 1) * 16]) {
                    assert!((a - b).abs() < 0.01, "{form:?}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn a_classroom_gallery_is_small() {
        // 12 people x 50 faces at 128-d, the size docs/learning.md reports.
        let sizes: Vec<usize> =
            [VectorForm::F32, VectorForm::F16, VectorForm::I8].iter().map(|&f| sample(12, 600, 128, f).encode().unwrap().len()).collect();
        // References dominate: 600 x 128 values at 4, 2 and 1 bytes (plus a
        // scale per face for i8); the linear models add 2 x 12 x 128 floats.
        let fixed = 2 * 12 * 128 * 4;
        assert!(sizes[0] > 600 * 128 * 4 + fixed && sizes[0] < 600 * 128 * 4 + fixed + 12 * 128 * 4 + 4096, "{sizes:?}");
        assert!(sizes[1] < 600 * 128 * 2 + fixed + 12 * 128 * 2 + 4096, "{sizes:?}");
        assert!(sizes[2] < 600 * 129 + 600 * 4 + fixed + 12 * 132 + 4096, "{sizes:?}");
        std::println!("12 people x 50 faces x 128-d: f32 {} B, f16 {} B, i8 {} B", sizes[0], sizes[1], sizes[2]);
    }

    proptest! {
        #[test]
        fn random_galleries_round_trip(people in 1usize..6, refs in 1usize..20, dim in 1usize..24, form in 0u8..3, seconds: u64, note in ".{0,40}") {
            let form = [VectorForm::F32, VectorForm::F16, VectorForm::I8][form as usize];
            let mut g = sample(people, refs, dim, form);
            g.created.unix_seconds = seconds;
            g.created.note = note;
            let bytes = g.encode().unwrap();
            prop_assert_eq!(Gallery::decode(&bytes).unwrap(), g);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Gallery::decode(&bytes);
        }

        #[test]
        fn any_single_byte_flip_is_detected(pos in 0usize..10_000, bit in 0u8..8) {
            let bytes = sample(2, 5, 6, VectorForm::F16).encode().unwrap();
            let mut bad = bytes.clone();
            let i = pos % bad.len();
            bad[i] ^= 1 << bit;
            prop_assert!(Gallery::decode(&bad).is_err());
        }
    }
}
