//! `rollcall bench scale`: `select-k` and `cluster` on a school's worth of
//! faces, timed and measured.
//!
//! Generates embeddings with SFace-like statistics (seeded): `people`
//! identities, each a random direction in 128-d with faces around it at a
//! same-person cosine of about 0.55 (between 0.5 and 1.5 times the mean
//! number of faces each), and 5% strangers, each a random direction of
//! their own (cosine about 0 to everyone). They go into a temporary work
//! directory as `embeddings.parquet`, with a 112 x 112 chip per face so
//! that `cluster` copies real files. Then `select-k` and `cluster` run with
//! their defaults and SFace's published threshold, and each stage's wall
//! time and peak resident memory are measured (the peak is reset between
//! stages through `/proc/self/clear_refs`), and the clusters are scored
//! against the generating labels (BCubed F1; strangers are their own
//! class, and outliers their own cluster).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{peak_mib, reset_peak, resident_mib};
use crate::analysis::metrics;
use crate::artifacts::Work;
use crate::artifacts::embeddings::EmbeddingTable;
use crate::artifacts::selection::ThresholdSource;
use crate::error::{Error, Result};
use crate::stages::cluster::{ClusterOptions, cluster};
use crate::stages::select_k::{SelectKOptions, select_k};

/// Dimension of the synthetic embeddings (SFace's).
const DIM: usize = 128;

/// Same-person cosine of the synthetic faces.
const SAME_PERSON: f32 = 0.55;

/// Share of faces that are strangers.
const STRANGERS: f64 = 0.05;

/// One stage's figures.
#[derive(Debug, Clone, Serialize)]
pub struct StageFigures {
    pub stage: String,
    pub wall_s: f64,
    /// Peak resident memory during the stage, MiB (None where the kernel
    /// does not say).
    pub peak_mib: Option<f64>,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleFigures {
    pub faces: usize,
    pub people: usize,
    pub strangers: usize,
    /// Resident memory before the stages (the embeddings loaded), MiB.
    pub base_mib: Option<f64>,
    pub stages: Vec<StageFigures>,
    pub recommended_k: usize,
    pub k_values_swept: usize,
    pub outliers: usize,
    pub bcubed_f1: f64,
    /// Faces the sweep's silhouettes were computed on, when sampled.
    pub silhouette_sample: Option<usize>,
}

/// Synthetic embeddings: rows, and the identity of each (`people..` for
/// strangers, one each).
pub fn synthetic(faces: usize, people: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let unit = |rng: &mut rand::rngs::StdRng| -> Vec<f32> {
        let v: Vec<f32> = (0..DIM).map(|_| normal(rng)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    };
    let strangers = (faces as f64 * STRANGERS).round() as usize;
    let known = faces - strangers;
    // Faces per person between half and one and a half times the mean.
    let weights: Vec<f64> = (0..people).map(|_| rng.random_range(0.5..1.5)).collect();
    let total: f64 = weights.iter().sum();
    let mut counts: Vec<usize> = weights.iter().map(|w| ((w / total) * known as f64).floor().max(2.0) as usize).collect();
    let mut i = 0;
    while counts.iter().sum::<usize>() < known {
        counts[i % people] += 1;
        i += 1;
    }
    let (a, b) = (SAME_PERSON.sqrt(), (1.0 - SAME_PERSON).sqrt());
    let (mut rows, mut ids) = (Vec::with_capacity(faces), Vec::with_capacity(faces));
    for (p, &count) in counts.iter().enumerate() {
        let centre = unit(&mut rng);
        for _ in 0..count {
            let noise = unit(&mut rng);
            let v: Vec<f32> = centre.iter().zip(&noise).map(|(c, u)| a * c + b * u).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            rows.push(v.into_iter().map(|x| x / n).collect());
            ids.push(p);
        }
    }
    for s in 0..strangers {
        rows.push(unit(&mut rng));
        ids.push(people + s);
    }
    (rows, ids)
}

fn normal(rng: &mut rand::rngs::StdRng) -> f32 {
    // Box-Muller.
    let (u, v): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// The kernel's peak resident memory of this process, MiB, and a reset of
/// it (Linux: `VmHWM`, reset by writing 5 to `/proc/self/clear_refs`).
/// Runs the benchmark; see the module docs.
pub fn scale(faces: usize, people: usize, seed: u64, same_person: f32) -> Result<ScaleFigures> {
    Error::check("faces", faces, 10, 10_000_000)?;
    Error::check("people", people, 2, faces / 2)?;
    let dir = tempfile::tempdir().map_err(Error::write(&std::env::temp_dir()))?;
    let work = Work::new(dir.path().join("work")).claim()?;
    let (rows, ids) = synthetic(faces, people, seed);
    let files: Vec<String> = (0..faces).map(|i| format!("aligned_synthetic_{i:06}.png")).collect();
    let aligned = work.aligned();
    rollcall_files::create_dir_private(&aligned).map_err(Error::write(&aligned))?;
    let chip = chip_png()?;
    for f in &files {
        let p = aligned.join(f);
        std::fs::write(&p, &chip).map_err(Error::write(&p))?;
    }
    let mut table = EmbeddingTable::from_rows(files.iter().cloned().zip(rows).collect(), DIM)?;
    table.recognizer = Some("synthetic".into());
    table.write(&work.embeddings())?;
    drop(table);

    let threshold = Some((same_person, ThresholdSource::Flag));
    let base_mib = resident_mib();
    let mut stages = Vec::new();
    reset_peak();
    let t = Instant::now();
    let selection = select_k(&work, threshold.clone(), &SelectKOptions::default())?;
    stages.push(StageFigures { stage: "select-k".into(), wall_s: t.elapsed().as_secs_f64(), peak_mib: peak_mib() });
    reset_peak();
    let t = Instant::now();
    let out = cluster(&work, threshold, &ClusterOptions::default())?;
    stages.push(StageFigures { stage: "cluster".into(), wall_s: t.elapsed().as_secs_f64(), peak_mib: peak_mib() });

    let index: std::collections::HashMap<&str, usize> = files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let mut truth = Vec::with_capacity(faces);
    let mut predicted = Vec::with_capacity(faces);
    for r in &out.rows {
        let i = index[r.file.as_str()];
        truth.push(ids[i]);
        // Outliers are each their own cluster.
        predicted.push(if r.cluster < 0 { -(i as i64) - 1 } else { r.cluster });
    }
    let scores = metrics::score(&truth, &predicted);
    Ok(ScaleFigures {
        faces,
        people,
        strangers: faces - ids.iter().filter(|&&p| p < people).count(),
        base_mib,
        stages,
        recommended_k: selection.recommended_k,
        k_values_swept: selection.rows.len(),
        outliers: selection.outliers.len(),
        bcubed_f1: scores.bcubed.f1,
        silhouette_sample: selection.silhouette_sample,
    })
}

/// A 112 x 112 chip, the size of a real one.
fn chip_png() -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(112, 112, |x, y| image::Rgb([(x * 2) as u8, (y * 2) as u8, ((x + y) % 256) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(|e| Error::Table { path: "chip.png".into(), reason: e.to_string() })?;
    Ok(out.into_inner())
}

/// The figures in words.
pub fn describe(f: &ScaleFigures) -> String {
    let mib = |m: Option<f64>| m.map_or("?".into(), |m| format!("{m:.0} MiB"));
    let mut s = format!(
        "{} faces of {} people and {} strangers: recommended k = {} ({} k values swept{}), {} outliers, BCubed F1 {:.4}; resident before: {}",
        f.faces,
        f.people,
        f.strangers,
        f.recommended_k,
        f.k_values_swept,
        f.silhouette_sample.map_or(String::new(), |n| format!(", silhouettes of {n} sampled faces")),
        f.outliers,
        f.bcubed_f1,
        mib(f.base_mib)
    );
    for st in &f.stages {
        s.push_str(&format!("\n  {:<9} {:>7.1} s  peak {}", st.stage, st.wall_s, mib(st.peak_mib)));
    }
    s
}
