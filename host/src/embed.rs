//! Stage 3, embed: face chips in, the embedding table out.
//!
//! Reads: `aligned/*.png` in the work directory. Each chip must be square at
//! the recognizer's input size (112 x 112); any other file is reported by
//! name and skipped. Writes: `embeddings.parquet` (see [`crate::table`]) and
//! `similarity.png`, the cosine-similarity heatmap.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ParallelProgressIterator;
use rayon::prelude::*;
use rollcall_models::ModelSet;
use rollcall_models::runtime::Threads;

use crate::detect::progress;
use crate::pool::Pool;
use crate::table::EmbeddingTable;
use crate::work::{Work, save_image_atomic};

/// What an embed run produced.
#[derive(Debug)]
pub struct EmbedOutcome {
    /// The table written.
    pub table: EmbeddingTable,
    /// Chips that could not be embedded, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Every chip file in `dir`, sorted by name.
pub fn list_chips(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut chips: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {} (run `rollcall detect` first)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    chips.sort();
    Ok(chips)
}

/// Reads one chip and checks its size.
pub fn read_chip(path: &Path, size: u32) -> Result<Vec<u8>> {
    let img = rollcall_models::decode::load_rgb(path)?;
    if img.dimensions() != (size, size) {
        anyhow::bail!("{}: chip is {}x{}, the recognizer needs {size}x{size}", path.display(), img.width(), img.height());
    }
    Ok(img.into_raw())
}

/// Embeds every chip in `work/aligned` and writes the table and heatmap.
pub fn embed(work: &Work, models: &ModelSet, jobs: usize) -> Result<EmbedOutcome> {
    let chips = list_chips(&work.aligned())?;
    let size = models.recognizer_spec().input.size[0];
    let recognizers = Pool::new(|| Ok(models.recognizer(Threads::default())?));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().context("cannot start worker threads")?;
    let bar = progress(chips.len(), "embed");
    let results: Vec<Result<Result<Vec<f32>>>> = pool.install(|| {
        chips
            .par_iter()
            .progress_with(bar.clone())
            .map(|path| {
                let chip = match read_chip(path, size) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(e)),
                };
                recognizers.with(|r| r.embed(&chip).with_context(|| format!("{}: embedding failed", path.display())))
            })
            .collect()
    });
    bar.finish_and_clear();

    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (path, r) in chips.iter().zip(results) {
        match r? {
            Ok(v) => rows.push((file_name(path), v)),
            Err(e) => {
                tracing::warn!("skipping {e:#}");
                skipped.push((path.clone(), format!("{e:#}")));
            }
        }
    }
    let table = write_table(work, models, rows)?;
    Ok(EmbedOutcome { table, skipped })
}

/// Writes `embeddings.parquet` and `similarity.png` for `(file, embedding)`
/// rows, recording the recognizer that made them.
pub fn write_table(work: &Work, models: &ModelSet, rows: Vec<(String, Vec<f32>)>) -> Result<EmbeddingTable> {
    let dim = models.recognizer_spec().output.dim.unwrap_or(0);
    let mut table = EmbeddingTable::from_rows(rows, dim)?;
    table.recognizer = Some(models.recognizer_spec().name.clone());
    table.recognizer_sha256 = Some(models.recognizer_sha256().to_string());
    table.write(&work.embeddings())?;
    let heat = crate::heatmap::render(&table.data, table.dim, 800);
    save_image_atomic(&work.similarity_png(), &image::DynamicImage::ImageRgb8(heat))?;
    Ok(table)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
