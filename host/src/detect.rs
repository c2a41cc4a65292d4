//! Stage 1 and 2, detect and align: photos in, face chips out.
//!
//! Reads: every photo under the input folder (JPEG, PNG, WEBP, BMP, by
//! content; EXIF orientation applied). Writes into the work directory:
//! `aligned/aligned_<photo>_<i>.png` (112 x 112 chips aligned onto the
//! ArcFace template), `annotated/<photo>.jpg` (every detection drawn),
//! `metadata.csv` (one row per kept face) and `detections.json` (every photo,
//! every detection, every verdict, every skipped file with its reason).
//!
//! Photos are processed in parallel, one detector and recognizer session per
//! worker, so that decoding one photo overlaps inference on another. An
//! unreadable photo is reported by name and reason and the run goes on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use image::DynamicImage;
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use rollcall_models::runtime::{InferenceClock, Threads};
use rollcall_models::{Engine, FaceFilter, ModelSet, Verdict};
use rollcall_shared::align::RgbView;
use serde::{Deserialize, Serialize};

use crate::annotate;
use crate::pool::Pool;
use crate::work::{Work, list_photos, photo_key, save_image_atomic, write_atomic, write_csv};

/// Settings of the detect stage.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Which detections are faces.
    pub filter: FaceFilter,
    /// Worker threads (each with its own sessions).
    pub jobs: usize,
    /// Write annotated copies of the photos.
    pub annotate: bool,
    /// Long side of annotated copies, in pixels.
    pub annotate_max_side: u32,
    /// Also embed every kept face (the `run` command), saving a second pass.
    pub embed: bool,
    /// Write chips and annotated photos (off only in benchmarks).
    pub write_images: bool,
    /// ONNX Runtime threads per session.
    pub threads: Threads,
    /// Record when each network ran (for benchmarks).
    pub record_spans: bool,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            filter: FaceFilter::default(),
            jobs: default_jobs(),
            annotate: true,
            annotate_max_side: 1600,
            embed: false,
            write_images: true,
            threads: Threads::default(),
            record_spans: false,
        }
    }
}

/// One worker per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// One detection as recorded in `detections.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceRecord {
    /// `[x1, y1, x2, y2]` in photo pixels.
    pub bbox: [f32; 4],
    /// Detector confidence.
    pub confidence: f32,
    /// Five landmarks in photo pixels.
    pub landmarks: [[f32; 2]; 5],
    /// `kept`, `low_confidence`, `too_small` or `unalignable`.
    pub verdict: String,
    /// Index among the photo's kept faces.
    pub face_index: Option<usize>,
    /// Chip file name (kept faces).
    pub aligned_file: Option<String>,
}

/// One photo as recorded in `detections.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhotoRecord {
    /// The photo's path as found.
    pub path: String,
    /// Key used in output file names.
    pub key: String,
    /// Width after EXIF orientation (0 when skipped).
    pub width: u32,
    /// Height after EXIF orientation (0 when skipped).
    pub height: u32,
    /// Why the photo was skipped, if it was.
    pub error: Option<String>,
    /// Annotated copy's file name.
    pub annotated_file: Option<String>,
    /// All detections, best first.
    pub faces: Vec<FaceRecord>,
}

/// Totals of a detect run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DetectSummary {
    /// Photos found under the input.
    pub images_found: usize,
    /// Photos decoded.
    pub images_read: usize,
    /// Photos skipped (unreadable or undecodable).
    pub images_skipped: usize,
    /// Detections at or above the confidence threshold.
    pub faces_found: usize,
    /// Faces kept (and aligned).
    pub faces_kept: usize,
    /// Detections rejected for their size.
    pub rejected_too_small: usize,
    /// Candidates below the confidence threshold (shown for reference).
    pub rejected_low_confidence: usize,
    /// Kept faces whose landmarks admit no alignment.
    pub rejected_unalignable: usize,
}

/// `detections.json`: the settings, totals and every photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectionsFile {
    /// Input folder.
    pub input: String,
    /// Detector model name and sha256.
    pub detector: (String, String),
    /// Recognizer model name and sha256 (chip size and template follow it).
    pub recognizer: (String, String),
    /// Confidence threshold.
    pub min_confidence: f32,
    /// Minimum box side.
    pub min_size: f32,
    /// Totals.
    pub summary: DetectSummary,
    /// Every photo.
    pub photos: Vec<PhotoRecord>,
}

/// Wall time spent per step, summed over workers.
#[derive(Debug, Clone, Default)]
pub struct StepTimes {
    /// Reading and decoding photos.
    pub decode: Duration,
    /// Scaling and normalising for the detector.
    pub prepare: Duration,
    /// Inside ONNX Runtime, detector.
    pub detector: InferenceClock,
    /// Inside ONNX Runtime, recognizer.
    pub recognizer: InferenceClock,
    /// Everything else in the per-photo work: decoding outputs, NMS,
    /// alignment warps, writing files.
    pub other: Duration,
    /// When each network ran, if recorded.
    pub spans: Vec<(Instant, Instant)>,
}

impl StepTimes {
    fn add(&mut self, o: &StepTimes) {
        self.decode += o.decode;
        self.prepare += o.prepare;
        self.detector.add(&o.detector);
        self.recognizer.add(&o.recognizer);
        self.other += o.other;
        self.spans.extend_from_slice(&o.spans);
    }

    /// Time inside ONNX Runtime.
    pub fn inference(&self) -> Duration {
        self.detector.total + self.recognizer.total
    }
}

/// What a detect run produced.
#[derive(Debug)]
pub struct DetectOutcome {
    /// `detections.json`'s content.
    pub file: DetectionsFile,
    /// `(chip file, embedding)` for every kept face, when embedding was asked.
    pub embeddings: Vec<(String, Vec<f32>)>,
    /// Per-step times, summed over workers.
    pub times: StepTimes,
    /// Wall time of the whole stage.
    pub wall: Duration,
    /// Workers used.
    pub jobs: usize,
}

struct PhotoResult {
    record: PhotoRecord,
    embeddings: Vec<(String, Vec<f32>)>,
    times: StepTimes,
}

/// The chip file name of a photo's i-th kept face.
pub fn chip_name(key: &str, i: usize) -> String {
    format!("aligned_{key}_{i}.png")
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Runs detection (and alignment, and optionally embedding) over every photo
/// under `input`, writing the stage's files into `work`.
pub fn detect(input: &Path, work: &Work, models: &ModelSet, opts: &DetectOptions) -> Result<DetectOutcome> {
    let photos = list_photos(input).with_context(|| format!("cannot read photos from {}", input.display()))?;
    if photos.is_empty() {
        anyhow::bail!("{}: no photos found (looked for {})", input.display(), crate::work::PHOTO_EXTENSIONS.join(", "));
    }
    detect_photos(input, &photos, work, models, opts)
}

/// [`detect`] over a given list of photos under `input` (which names them
/// in output files).
pub fn detect_photos(input: &Path, photos: &[PathBuf], work: &Work, models: &ModelSet, opts: &DetectOptions) -> Result<DetectOutcome> {
    let started = Instant::now();
    if opts.write_images {
        for dir in [work.aligned(), work.annotated()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    let keys = unique_keys(input, photos);

    let jobs = opts.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("detect-{i}"))
        .build()
        .context("cannot start worker threads")?;
    let engines = Pool::new(|| {
        let mut e = models.engine(opts.threads)?;
        if opts.record_spans {
            e.detector.clock.record_spans();
            e.recognizer.clock.record_spans();
        }
        Ok(e)
    });
    let bar = progress(photos.len(), "detect");
    let results: Vec<Result<PhotoResult>> = pool.install(|| {
        photos
            .par_iter()
            .zip(keys.par_iter())
            .progress_with(bar.clone())
            .map(|(photo, key)| engines.with(|engine| process_photo(engine, photo, key, work, opts))?)
            .collect()
    });
    bar.finish_and_clear();

    let mut records = Vec::with_capacity(results.len());
    let mut embeddings = Vec::new();
    let mut times = StepTimes::default();
    for r in results {
        let r = r?;
        records.push(r.record);
        embeddings.extend(r.embeddings);
        times.add(&r.times);
    }

    let summary = summarize(&records);
    let file = DetectionsFile {
        input: input.display().to_string(),
        detector: (models.detector_spec().name.clone(), models.detector_sha256().to_string()),
        recognizer: (models.recognizer_spec().name.clone(), models.recognizer_sha256().to_string()),
        min_confidence: opts.filter.min_confidence,
        min_size: opts.filter.min_size,
        summary,
        photos: records,
    };
    if opts.write_images {
        write_metadata_csv(&work.metadata_csv(), &file.photos)?;
        let json = serde_json::to_vec_pretty(&file).context("cannot encode detections.json")?;
        write_atomic(&work.detections_json(), &json)?;
    }
    Ok(DetectOutcome { file, embeddings, times, wall: started.elapsed(), jobs })
}

/// Keys for every photo, made unique with a numeric suffix if two photos
/// map to the same key.
fn unique_keys(root: &Path, photos: &[PathBuf]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    photos
        .iter()
        .map(|p| {
            let key = photo_key(root, p);
            let n = seen.entry(key.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { key } else { format!("{key}~{}", *n - 1) }
        })
        .collect()
}

fn process_photo(engine: &mut Engine, photo: &Path, key: &str, work: &Work, opts: &DetectOptions) -> Result<PhotoResult> {
    let mut times = StepTimes::default();
    let t = Instant::now();
    let decoded = rollcall_models::decode::load_rgb(photo);
    times.decode = t.elapsed();
    let mut record = PhotoRecord {
        path: photo.display().to_string(),
        key: key.to_string(),
        width: 0,
        height: 0,
        error: None,
        annotated_file: None,
        faces: Vec::new(),
    };
    let image = match decoded {
        Ok(img) => img,
        Err(e) => {
            tracing::warn!("skipping {e}");
            record.error = Some(strip_path(&e.to_string(), photo));
            return Ok(PhotoResult { record, embeddings: Vec::new(), times });
        }
    };
    record.width = image.width();
    record.height = image.height();
    let view = RgbView { data: image.as_raw(), width: image.width(), height: image.height() };

    let (det_before, rec_before) = (engine.detector.clock.clone(), engine.recognizer.clock.clone());
    let t = Instant::now();
    let prepared = match engine.detector.prepare(view) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("skipping {}: {e}", photo.display());
            record.error = Some(e.to_string());
            return Ok(PhotoResult { record, embeddings: Vec::new(), times });
        }
    };
    times.prepare = t.elapsed();
    let t = Instant::now();
    let floor = opts.filter.report_confidence.min(opts.filter.min_confidence);
    let dets = engine.detector.detect_prepared(&prepared, floor).with_context(|| format!("{}: detection failed", photo.display()))?;
    let faces = rollcall_models::faces::filter_and_align(view, dets, &opts.filter, engine.recognizer.chip_size());

    let mut embeddings = Vec::new();
    let mut labels = Vec::new();
    for face in &faces {
        let d = &face.detection;
        let mut fr = FaceRecord {
            bbox: [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2],
            confidence: d.score,
            landmarks: d.landmarks,
            verdict: face.verdict.as_str().to_string(),
            face_index: None,
            aligned_file: None,
        };
        if let (Verdict::Kept, Some(chip)) = (face.verdict, &face.chip) {
            let i = labels.len();
            let name = chip_name(key, i);
            if opts.write_images {
                save_chip(&work.aligned().join(&name), chip, engine.recognizer.chip_size())?;
            }
            if opts.embed {
                let emb = engine.embed(chip).with_context(|| format!("{}: embedding face {i} failed", photo.display()))?;
                embeddings.push((name.clone(), emb));
            }
            fr.face_index = Some(i);
            fr.aligned_file = Some(name);
            labels.push(i.to_string());
        }
        record.faces.push(fr);
    }
    if opts.write_images && opts.annotate {
        let marks = annotate::face_marks(&faces, &labels);
        let drawn = annotate::annotate(&image, &marks, opts.annotate_max_side);
        let name = format!("{key}.jpg");
        save_image_atomic(&work.annotated().join(&name), &DynamicImage::ImageRgb8(drawn))?;
        record.annotated_file = Some(name);
    }
    times.detector = engine.detector.clock.since(&det_before);
    times.recognizer = engine.recognizer.clock.since(&rec_before);
    times.spans = engine.detector.clock.take_spans();
    times.spans.extend(engine.recognizer.clock.take_spans());
    times.other = t.elapsed().saturating_sub(times.inference());
    Ok(PhotoResult { record, embeddings, times })
}

/// Saves a chip as PNG (lossless, so a later `embed` sees the same pixels).
fn save_chip(path: &Path, chip: &[u8], size: u32) -> Result<()> {
    let img = image::RgbImage::from_raw(size, size, chip.to_vec()).context("chip buffer has the wrong size")?;
    save_image_atomic(path, &DynamicImage::ImageRgb8(img))
}

/// Drops a leading `path: ` from an error message already attached to a photo.
fn strip_path(msg: &str, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).unwrap_or(msg).to_string()
}

fn summarize(records: &[PhotoRecord]) -> DetectSummary {
    let mut s = DetectSummary { images_found: records.len(), ..Default::default() };
    for r in records {
        if r.error.is_some() {
            s.images_skipped += 1;
            continue;
        }
        s.images_read += 1;
        for f in &r.faces {
            match f.verdict.as_str() {
                "kept" => s.faces_kept += 1,
                "too_small" => s.rejected_too_small += 1,
                "low_confidence" => s.rejected_low_confidence += 1,
                _ => s.rejected_unalignable += 1,
            }
        }
    }
    s.faces_found = s.faces_kept + s.rejected_too_small + s.rejected_unalignable;
    s
}

/// One row of `metadata.csv`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetadataRow {
    /// Chip file name in `aligned/`.
    pub aligned_file: String,
    /// The photo it came from, as found.
    pub original_file: String,
    /// Index among the photo's kept faces, best first.
    pub face_index: usize,
    /// Box left.
    pub x1: f32,
    /// Box top.
    pub y1: f32,
    /// Box right.
    pub x2: f32,
    /// Box bottom.
    pub y2: f32,
    /// Detector confidence.
    pub confidence: f32,
}

fn write_metadata_csv(path: &Path, photos: &[PhotoRecord]) -> Result<()> {
    let rows = photos.iter().flat_map(|p| {
        p.faces.iter().filter_map(move |f| {
            let (file, i) = (f.aligned_file.as_ref()?, f.face_index?);
            Some(MetadataRow {
                aligned_file: file.clone(),
                original_file: p.path.clone(),
                face_index: i,
                x1: f.bbox[0],
                y1: f.bbox[1],
                x2: f.bbox[2],
                y2: f.bbox[3],
                confidence: f.confidence,
            })
        })
    });
    write_csv(path, rows)
}

/// Reads `metadata.csv`.
pub fn read_metadata_csv(path: &Path) -> Result<Vec<MetadataRow>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    r.deserialize().map(|row| row.with_context(|| format!("{}: malformed row", path.display()))).collect()
}

/// Reads `detections.json`.
pub fn read_detections(path: &Path) -> Result<DetectionsFile> {
    crate::work::read_json(path)
}
