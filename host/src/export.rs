//! Stage 8, export: the gallery a device loads.
//!
//! Reads: `model.rcg` in a model folder (written by `train`, full precision).
//! Writes: the gallery file, with reference embeddings stored compactly
//! (`i8` by default: on the shared photos it changes no prediction, see
//! `tests/tests/recognition.rs`; `f16` or `f32` on request) and provenance
//! filled in.
//! The gallery format itself lives in `rollcall_shared::gallery`.

use std::path::Path;

use anyhow::{Context, Result};
use rollcall_shared::gallery::{Gallery, VectorForm, Vectors};

use crate::work::write_atomic;

/// Reads a gallery (or `model.rcg`) file, naming it in errors.
pub fn read_gallery(path: &Path) -> Result<Gallery> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Gallery::decode(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

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
    /// Bytes written.
    pub bytes: usize,
    /// People.
    pub people: usize,
    /// Reference faces.
    pub references: usize,
}

/// Writes the gallery from a model folder.
pub fn export(model_dir: &Path, out: &Path, form: VectorForm, note: &str) -> Result<Exported> {
    let model = read_gallery(&model_dir.join("model.rcg")).context("run `rollcall train` first")?;
    let mut g = with_form(&model, form);
    g.created.unix_seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    g.created.tool = format!("rollcall {}", env!("CARGO_PKG_VERSION"));
    g.created.note = note.to_string();
    let bytes = g.encode().map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    write_atomic(out, &bytes)?;
    Ok(Exported { bytes: bytes.len(), people: g.people(), references: g.knn_labels.len() })
}
