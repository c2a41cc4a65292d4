//! Stage 2, embed: face chips in, the embedding table out.
//!
//! Reads: `aligned/*.png` in the work directory. Each chip must be square at
//! the recognizer's input size (112 x 112); any other file is reported by
//! name and skipped. Writes: `embeddings.parquet` (see
//! [`crate::artifacts::embeddings`]) and `similarity.png`, the
//! cosine-similarity heatmap.

use rollcall_models::{ModelCard, Models};

use crate::artifacts::chips;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::io::save_image;
use crate::artifacts::skips::skipped;
use crate::artifacts::{Skipped, WorkDir};
use crate::error::Result;
use crate::render::heatmap;
use crate::runner::{Outcome, Runner};

/// What an embed run produced.
#[derive(Debug)]
pub struct EmbedOutcome {
    pub table: EmbeddingTable,
    /// Chips that could not be embedded.
    pub skipped: Vec<Skipped>,
}

/// Embeds every chip in `work/aligned` and writes the table and heatmap.
pub fn embed(work: &WorkDir, models: &dyn Models, jobs: usize) -> Result<EmbedOutcome> {
    let files = chips::list(&work.aligned())?;
    let size = models.card().chip_size;
    let outcomes = Runner::new(models, jobs).run(&files, "embed", |engine, path| Ok(engine.embed(&chips::read(path, size)?)?))?;
    let mut rows = Vec::new();
    let mut skips = Vec::new();
    for (path, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(v) => rows.push((chips::file_name(path), v)),
            Outcome::Skipped(why) => {
                tracing::warn!("skipping {}: {}", rollcall_files::shown(path), rollcall_files::shown::escape_controls(&why.describe()));
                skips.push(skipped(path, &why));
            }
        }
    }
    let table = write_table(work, models.card(), rows)?;
    Ok(EmbedOutcome { table, skipped: skips })
}

/// Writes `embeddings.parquet` and `similarity.png` for `(file, embedding)`
/// rows, recording the recognizer that made them.
pub fn write_table(work: &WorkDir, card: &ModelCard, rows: Vec<(String, Vec<f32>)>) -> Result<EmbeddingTable> {
    let mut table = EmbeddingTable::from_rows(rows, card.dim)?;
    table.recognizer = Some(card.recognizer.name.clone());
    table.recognizer_sha256 = Some(card.recognizer.sha256.clone());
    table.write(&work.embeddings())?;
    save_image(&work.similarity_png(), &heatmap::render(&table.data, table.dim, heatmap::SIDE))?;
    Ok(table)
}
