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
    g.created.unix_seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    g.created.tool = format!("rollcall {}", env!("CARGO_PKG_VERSION"));
    g.created.note = note.to_string();
    let mut bytes = g.encode().map_err(|source| Error::Gallery { path: out.to_path_buf(), source })?;
    if let Some(key) = key {
        bytes = key.sign(&bytes);
    }
    replace_own(out, &bytes, "a rollcall gallery", |head| head.starts_with(&rollcall_shared::gallery::MAGIC))?;
    Ok(Exported { bytes: bytes.len(), people: g.people(), references: g.knn_labels.len(), signed_by: key.map(|k| k.public().short()) })
}
