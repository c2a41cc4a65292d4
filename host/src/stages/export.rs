//! Stage 7, export: the gallery a device loads.
//!
//! Reads: `model.rcg` in a model folder (written by `train`, full
//! precision). Writes: the gallery file, with reference embeddings stored
//! compactly (`i8` by default: on the shared photos it changes no
//! prediction, see `tests/tests/recognition.rs`; `f16` or `f32` on request)
//! and provenance filled in, signed with the school's key when asked. The
//! formats are `rollcall_shared::gallery` and `rollcall_shared::signature`.

use std::path::Path;

use rollcall_shared::gallery::{Gallery, VectorForm, Vectors};
use rollcall_shared::signature::SecretKey;

use crate::artifacts::io::replace_own;
use crate::artifacts::training::ModelDir;
use crate::error::{Error, Result};

/// Re-stores a gallery's reference vectors in `form`.
pub fn with_form(g: &Gallery, form: VectorForm) -> Gallery {
    let d = g.dim as usize;
    let restore = |v: &Vectors, rows: usize| -> Vectors {
        let mut all = vec![0f32; rows * d];
        for r in 0..rows {
            v.row_into(r, d, &mut all[r * d..(r + 1) * d]);
        }
        Vectors::encode(&all, d, form)
    };
    let mut out = g.clone();
    out.centroids = restore(&g.centroids, g.people());
    out.knn_refs = restore(&g.knn_refs, g.knn_labels.len());
    out
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub bytes: usize,
    /// People in the gallery.
    pub people: usize,
    /// Reference faces in it.
    pub references: usize,
    /// The signing key (hex prefix of its public half), if signed.
    pub signed_by: Option<String>,
    /// The signature's serial, if signed.
    pub serial: Option<u64>,
}

/// Writes the gallery of a model folder.
pub fn export(model: &ModelDir, out: &Path, form: VectorForm, note: &str) -> Result<Exported> {
    export_signed(model, out, form, note, None)
}

/// [`export`], signed with `key` when given (see
/// `rollcall_shared::signature`): a device told to trust the key's public
/// half accepts no other gallery.
pub fn export_signed(model: &ModelDir, out: &Path, form: VectorForm, note: &str, key: Option<&SecretKey>) -> Result<Exported> {
    write_gallery(&model.read_gallery()?, out, form, note, key)
}

/// Stores `g`'s references in `form`, stamps provenance, signs with `key`
/// if given, writes `out`.
pub fn write_gallery(g: &Gallery, out: &Path, form: VectorForm, note: &str, key: Option<&SecretKey>) -> Result<Exported> {
    let mut g = with_form(g, form);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    g.created.unix_seconds = now;
    g.created.tool = format!("rollcall {}", env!("CARGO_PKG_VERSION"));
    g.created.note = note.to_string();
    let mut bytes = g.encode().map_err(|source| Error::Gallery { path: out.to_path_buf(), source })?;
    let mut serial = None;
    if let Some(key) = key {
        let next = next_serial(out, key, now);
        bytes = key.sign(&bytes, next);
        serial = Some(next);
    }
    replace_own(out, &bytes, "a rollcall gallery", |head| head.starts_with(&rollcall_shared::gallery::MAGIC))?;
    Ok(Exported {
        bytes: bytes.len(),
        people: g.people(),
        references: g.knn_labels.len(),
        signed_by: key.map(|k| k.public().short()),
        serial,
    })
}

/// The serial for a gallery signed now by `key` at `out`: the signing time
/// in seconds, so that galleries signed later rank higher wherever they
/// were signed, and above the serial of the gallery `out` holds now (a
/// clock set back, two exports in one second), so that a device never
/// sees a new gallery rank below the one it replaces.
fn next_serial(out: &Path, key: &SecretKey, now: u64) -> u64 {
    let previous = rollcall_shared::gallery::read_bytes(out)
        .ok()
        .and_then(|bytes| rollcall_shared::gallery::Gallery::signature_claim(&bytes).ok().flatten())
        .filter(|claim| claim.signer == key.public().bytes())
        .map(|claim| claim.serial);
    match previous {
        Some(p) => now.max(p.saturating_add(1)),
        None => now,
    }
}

/// What `rollcall inspect` shows of a gallery file.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub gallery: Gallery,
    pub bytes: usize,
    /// The signature's claim (signer, serial); `None` when unsigned.
    pub claim: Option<rollcall_shared::signature::Claim>,
    /// With a key to check against: whether the signature verifies.
    pub verified: Option<std::result::Result<(), rollcall_shared::signature::SignatureError>>,
}

/// Reads a gallery file and its signature; verifies the signature when
/// given the key a device would trust.
pub fn inspect(path: &Path, trusted: Option<&rollcall_shared::signature::PublicKey>) -> Result<Inspection> {
    let bytes = rollcall_shared::gallery::read_bytes(path).map_err(|e| match e {
        rollcall_shared::gallery::FileError::Read { source, .. } => Error::read(path)(source.into()),
        rollcall_shared::gallery::FileError::Invalid { source, .. } => Error::Gallery { path: path.to_path_buf(), source },
        folder @ rollcall_shared::gallery::FileError::Folder { .. } => Error::GalleryFile(folder),
    })?;
    let invalid = |source| Error::Gallery { path: path.to_path_buf(), source };
    let gallery = Gallery::decode(&bytes).map_err(invalid)?;
    let claim = Gallery::signature_claim(&bytes).map_err(invalid)?;
    let verified = trusted.map(|key| {
        Gallery::decode_verified(&bytes, key).map(|_| ()).map_err(|e| match e {
            rollcall_shared::gallery::GalleryError::Signature(s) => s,
            _ => rollcall_shared::signature::SignatureError::BadSignature,
        })
    });
    Ok(Inspection { gallery, bytes: bytes.len(), claim, verified })
}
