//! `rollcall bench`: speed figures for the detect → align → embed pipeline.
//!
//! Reads: a folder of photos (by default only labelled ones: anything under a
//! folder whose name starts with `_` is left out, which for the shared
//! `deepface` set leaves its 62 portraits). Writes nothing; prints faces per
//! second, per-step times summed over workers, and the share of worker time
//! spent inside ONNX Runtime and outside it (decode, resize, priors, NMS,
//! warp, I/O). Speed is measured here, never asserted in a test.

pub mod class_photo;
pub mod detector_size;
pub mod open_set;
pub mod scale;
pub mod side_by_side;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rollcall_models::Models;
use rollcall_models::runtime::Threads;
use serde::Serialize;

use crate::artifacts::Work;
use crate::error::{Error, Result};
use crate::stages::detect::{DetectOptions, StepTimes, detect_photos};

/// Figures of one timed pass.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineFigures {
    pub photos: usize,
    /// Faces kept and embedded.
    pub faces: usize,
    pub jobs: usize,
    /// ONNX Runtime threads per session.
    pub intra_threads: usize,
    pub wall_s: f64,
    /// Faces per second of wall time.
    pub faces_per_s: f64,
    /// Milliseconds of wall time per photo.
    pub ms_per_photo: f64,
    /// Decoding, summed over workers, seconds.
    pub decode_s: f64,
    /// Detector input scaling, summed, seconds.
    pub prepare_s: f64,
    /// Inside ONNX Runtime for the detector, summed, seconds.
    pub detector_s: f64,
    /// Inside ONNX Runtime for the recognizer, summed, seconds.
    pub recognizer_s: f64,
    /// Priors, NMS, warps, bookkeeping, summed, seconds.
    pub other_s: f64,
    /// Inference time over worker time (wall x jobs).
    pub inside_ort_share: f64,
    /// Decode, resize, priors, NMS, warp and I/O over worker time.
    pub outside_ort_share: f64,
    /// Share of wall time during which no network was running on any
    /// worker: the part of the non-network work that inference did not hide.
    pub wall_without_network_share: f64,
}

impl PipelineFigures {
    fn new(photos: usize, faces: usize, jobs: usize, intra: usize, wall: f64, t: &StepTimes, started: Instant) -> Self {
        let worker = wall * jobs as f64;
        let outside = t.decode.as_secs_f64() + t.prepare.as_secs_f64() + t.other.as_secs_f64();
        PipelineFigures {
            photos,
            faces,
            jobs,
            intra_threads: intra,
            wall_s: wall,
            faces_per_s: faces as f64 / wall,
            ms_per_photo: wall * 1000.0 / photos.max(1) as f64,
            decode_s: t.decode.as_secs_f64(),
            prepare_s: t.prepare.as_secs_f64(),
            detector_s: t.detector.total.as_secs_f64(),
            recognizer_s: t.recognizer.total.as_secs_f64(),
            other_s: t.other.as_secs_f64(),
            inside_ort_share: t.inference().as_secs_f64() / worker,
            outside_ort_share: outside / worker,
            wall_without_network_share: 1.0 - union_seconds(&t.spans, started) / wall,
        }
    }
}

/// Seconds covered by the union of `spans` (those after `from`).
fn union_seconds(spans: &[(Instant, Instant)], from: Instant) -> f64 {
    let mut s: Vec<(Instant, Instant)> = spans.iter().filter(|(a, _)| *a >= from).copied().collect();
    s.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (a, b) in s {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((a, b)) = current {
        total += b - a;
    }
    total.as_secs_f64()
}

/// The photos a benchmark runs on: every photo under `root` not inside a
/// folder whose name starts with `_` (group, hard and non-face photos).
pub fn labelled_photos(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(rollcall_files::photos::list(root, &[])?
        .photos
        .into_iter()
        .filter(|p| {
            p.strip_prefix(root).map(|rel| !rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('_'))).unwrap_or(true)
        })
        .collect())
}

/// Times the pipeline `repeat` times after one warm-up pass (which also
/// creates the sessions, so session start-up is not counted).
pub fn pipeline(
    root: &Path,
    photos: &[PathBuf],
    models: &dyn Models,
    jobs: usize,
    intra: usize,
    repeat: usize,
) -> Result<Vec<PipelineFigures>> {
    let scratch = tempfile::tempdir().map_err(Error::write(&std::env::temp_dir()))?;
    let work = Work::new(scratch.path()).claim()?;
    let opts = DetectOptions {
        jobs,
        embed: true,
        annotate: false,
        write_images: false,
        threads: Threads { intra },
        record_spans: true,
        ..DetectOptions::default()
    };
    let warm = photos.iter().take(jobs.max(1) * 2).cloned().collect::<Vec<_>>();
    detect_photos(root, &warm, &work, models, &opts)?;
    let mut out = Vec::new();
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let o = detect_photos(root, photos, &work, models, &opts)?;
        let faces = o.embeddings.len();
        out.push(PipelineFigures::new(photos.len(), faces, o.jobs, intra, o.wall.as_secs_f64(), &o.times, started));
    }
    Ok(out)
}

/// Where the time of a whole `rollcall run` goes: each stage's wall time,
/// and within detect the per-photo steps summed over workers.
#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    pub photos: usize,
    pub faces: usize,
    pub jobs: usize,
    /// The whole run, seconds.
    pub wall_s: f64,
    /// Each stage's wall time, seconds, in order.
    pub stages: Vec<(String, f64)>,
    /// Within detect, summed over workers, seconds.
    pub decode_s: f64,
    pub prepare_s: f64,
    pub detector_s: f64,
    pub recognizer_s: f64,
    /// Drawing and encoding annotated copies.
    pub annotate_s: f64,
    /// Chips, warps, NMS and the rest.
    pub other_s: f64,
    /// Decode, resize, annotated copies and the rest over those and the
    /// time inside the networks: the share of the per-photo work done
    /// outside ONNX Runtime.
    pub outside_ort_share: f64,
}

/// Times `rollcall run` on `photos` (every default, a fresh work directory
/// each time) `repeat` times after one warm-up run; sessions are made
/// inside each run, as a user's run makes them.
pub fn whole_run(photos: &Path, models: &dyn Models, jobs: usize, repeat: usize) -> Result<Vec<RunFigures>> {
    let mut out = Vec::new();
    for i in 0..=repeat.max(1) {
        let scratch = tempfile::tempdir().map_err(Error::write(&std::env::temp_dir()))?;
        let work = Work::new(scratch.path().join("work")).claim()?;
        let opts = crate::pipeline::RunOptions { jobs, ..Default::default() };
        let started = Instant::now();
        let o = crate::pipeline::run(photos, &work, models, &opts)?;
        let wall = started.elapsed().as_secs_f64();
        if i == 0 {
            continue;
        }
        let t = &o.detect.times;
        out.push(RunFigures {
            photos: o.detect.file.photos.len(),
            faces: o.table.len(),
            jobs: o.detect.jobs,
            wall_s: wall,
            stages: o.stage_times.iter().map(|(n, d)| (n.to_string(), d.as_secs_f64())).collect(),
            decode_s: t.decode.as_secs_f64(),
            prepare_s: t.prepare.as_secs_f64(),
            detector_s: t.detector.total.as_secs_f64(),
            recognizer_s: t.recognizer.total.as_secs_f64(),
            annotate_s: t.annotate.as_secs_f64(),
            other_s: t.other.as_secs_f64(),
            outside_ort_share: {
                let outside = (t.decode + t.prepare + t.annotate + t.other).as_secs_f64();
                outside / (outside + t.inference().as_secs_f64()).max(f64::MIN_POSITIVE)
            },
        });
    }
    Ok(out)
}

/// A human-readable block for a whole run.
pub fn describe_run(f: &RunFigures) -> String {
    let stages: Vec<String> = f.stages.iter().map(|(n, s)| format!("{n} {s:.2} s")).collect();
    format!(
        "whole run: {} photos, {} faces, {} workers: {:.2} s wall
  stages: {}
           detect, summed over workers: decode {:.2} s, resize {:.2} s, detector {:.2} s, recognizer {:.2} s, annotated copies {:.2} s, other {:.2} s
           outside ONNX Runtime: {:.1}% of that work",
        f.photos,
        f.faces,
        f.jobs,
        f.wall_s,
        stages.join(", "),
        f.decode_s,
        f.prepare_s,
        f.detector_s,
        f.recognizer_s,
        f.annotate_s,
        f.other_s,
        f.outside_ort_share * 100.0
    )
}

/// The median pass by wall time.
pub fn median(mut runs: Vec<PipelineFigures>) -> Option<PipelineFigures> {
    runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    let i = runs.len() / 2;
    runs.into_iter().nth(i)
}

/// A human-readable block for one configuration.
pub fn describe(f: &PipelineFigures) -> String {
    format!(
        "{} photos, {} faces, {} workers x {} ORT thread(s): {:.2} s wall, {:.1} faces/s, {:.1} ms/photo\n  \
         summed over workers: decode {:.2} s, resize {:.2} s, detector {:.2} s, recognizer {:.2} s, other {:.2} s\n  \
         worker time inside ONNX Runtime {:.1}%, outside the networks {:.1}%; wall time with no network running {:.1}%",
        f.photos,
        f.faces,
        f.jobs,
        f.intra_threads,
        f.wall_s,
        f.faces_per_s,
        f.ms_per_photo,
        f.decode_s,
        f.prepare_s,
        f.detector_s,
        f.recognizer_s,
        f.other_s,
        f.inside_ort_share * 100.0,
        f.outside_ort_share * 100.0,
        f.wall_without_network_share * 100.0
    )
}

/// Figures of the clustering benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisFigures {
    pub n: usize,
    pub dim: usize,
    /// Clusters fitted (= blobs).
    pub k: usize,
    pub n_init: usize,
    /// rollcall KMeans fit, seconds.
    pub kmeans_s: f64,
    /// rollcall silhouette over all points, seconds.
    pub silhouette_s: f64,
    pub silhouette: f32,
    /// Adjusted Rand index of the fit against the blobs.
    pub ari: f64,
    /// linfa KMeans fit, seconds (when measured).
    pub linfa_kmeans_s: Option<f64>,
    /// linfa silhouette, seconds (when measured).
    pub linfa_silhouette_s: Option<f64>,
}

/// `n` unit vectors of dimension `dim` around `k` random unit centres, with
/// about 0.8 cosine similarity to their centre (like faces of one person).
pub fn blobs(n: usize, dim: usize, k: usize, seed: u64) -> (ndarray::Array2<f32>, Vec<usize>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut gauss = move || -> f32 {
        // Box-Muller.
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let normalize = |v: &mut [f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
    };
    let centers: Vec<Vec<f32>> = (0..k)
        .map(|_| {
            let mut c: Vec<f32> = (0..dim).map(|_| gauss()).collect();
            normalize(&mut c);
            c
        })
        .collect();
    let sigma = 0.75 / (dim as f32).sqrt();
    let mut x = ndarray::Array2::<f32>::zeros((n, dim));
    let mut labels = Vec::with_capacity(n);
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        let c = i % k;
        labels.push(c);
        let mut v: Vec<f32> = centers[c].iter().map(|&m| m + sigma * gauss()).collect();
        normalize(&mut v);
        row.assign(&ndarray::ArrayView1::from(&v));
    }
    (x, labels)
}

/// Times KMeans and the silhouette on blob data, optionally linfa's too.
pub fn analysis(n: usize, dim: usize, k: usize, n_init: usize, with_linfa: bool) -> AnalysisFigures {
    use crate::analysis::{kmeans, metrics, silhouette};
    let (x, truth) = blobs(n, dim, k, 42);
    let t = Instant::now();
    let fit = kmeans::fit(x.view(), &kmeans::KMeansParams { n_init, ..kmeans::KMeansParams::new(k) });
    let kmeans_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let s = silhouette::samples(x.view(), &fit.labels, k);
    let silhouette_s = t.elapsed().as_secs_f64();
    let ari = metrics::score(&truth, &fit.labels).ari;
    let (mut linfa_kmeans_s, mut linfa_silhouette_s) = (None, None);
    if with_linfa {
        use linfa::prelude::*;
        let data = linfa::DatasetBase::from(x.clone());
        let t = Instant::now();
        let model = linfa_clustering::KMeans::params(k).n_runs(n_init).tolerance(1e-4).fit(&data);
        linfa_kmeans_s = Some(t.elapsed().as_secs_f64());
        if let Ok(model) = model {
            let labelled = model.predict(data);
            let t = Instant::now();
            let _ = labelled.silhouette_score();
            linfa_silhouette_s = Some(t.elapsed().as_secs_f64());
        }
    }
    AnalysisFigures { n, dim, k, n_init, kmeans_s, silhouette_s, silhouette: silhouette::mean(&s), ari, linfa_kmeans_s, linfa_silhouette_s }
}

/// One field of `/proc/self/status` in MiB (`VmHWM`, the peak resident
/// size; `VmRSS`, the resident size now); `None` where there is no /proc.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The process's peak resident size so far, in MiB.
fn peak_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// The process's resident size now, in MiB.
fn resident_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

/// Resets the peak resident size to the current one ("5" to
/// `/proc/self/clear_refs`, proc(5)), so that the next peak is a step's own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
