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
    write_gallery(&model, out, form, note)
}

/// Stores `g`'s references in `form`, stamps provenance, writes `out`.
pub fn write_gallery(g: &Gallery, out: &Path, form: VectorForm, note: &str) -> Result<Exported> {
    let mut g = with_form(g, form);
    g.created.unix_seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    g.created.tool = format!("rollcall {}", env!("CARGO_PKG_VERSION"));
    g.created.note = note.to_string();
    let bytes = g.encode().map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    write_atomic(out, &bytes)?;
    Ok(Exported { bytes: bytes.len(), people: g.people(), references: g.knn_labels.len() })
}

/// What `export --quantize` wrote besides the gallery.
#[derive(Debug)]
pub struct QuantizedExport {
    /// Folder with the int8 models, their manifest and `fidelity.json`.
    pub models_dir: std::path::PathBuf,
    /// The gallery retrained on int8 embeddings (records the int8 hashes).
    pub gallery: std::path::PathBuf,
    /// What it holds.
    pub exported: Exported,
    /// The measured fidelity.
    pub fidelity: crate::quantize::Fidelity,
}

/// `export --quantize`: int8 models calibrated on the training run's work
/// directory, and a second gallery whose faces are embedded by the int8
/// recognizer, so a device running the int8 models accepts it.
pub fn export_quantized(model_dir: &Path, out: &Path, form: VectorForm, fp32: &rollcall_models::ModelSet) -> Result<QuantizedExport> {
    let report = crate::train::read_report(model_dir)?;
    anyhow::ensure!(
        !report.work.is_empty() && !report.clusters.is_empty(),
        "{}: training.json does not say which run it came from; train again",
        model_dir.display()
    );
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "gallery".into());
    let models_dir = out.with_file_name(format!("{stem}-int8-models"));
    let work = crate::work::Work::new(&report.work);
    let fidelity = crate::quantize::quantize(&work, fp32, &models_dir, &crate::quantize::QuantizeOptions::default())?;
    let manifest = rollcall_models::Manifest::load(&models_dir.join("manifest.toml"))?;
    let int8 = rollcall_models::ModelSet::load(&rollcall_models::ModelStore::open(&models_dir, manifest)?, None, None)?;
    let (g8, _) = crate::train::train_with_models(Path::new(&report.clusters), &int8, &crate::train::TrainOptions::default())?;
    let gallery = out.with_file_name(format!("{stem}.int8.rcg"));
    let exported = write_gallery(&g8, &gallery, form, &format!("{} (int8 models)", model_dir.display()))?;
    Ok(QuantizedExport { models_dir, gallery, exported, fidelity })
}
