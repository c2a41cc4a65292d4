//! Stage 1, detect and align: photos in, face chips out.
//!
//! Reads: every photo under the input folder (JPEG, PNG, WEBP, BMP, by
//! content; EXIF orientation applied). Writes into the work directory:
//! `aligned/aligned_<photo>_<i>.png` (112 x 112 chips aligned onto the
//! ArcFace template), `annotated/<photo>.jpg` (every detection drawn),
//! `metadata.csv` (one row per kept face) and `detections.json` (every photo,
//! every detection, every verdict, every skipped file with its reason).
//!
//! Photos are processed in parallel by the [`Runner`], one engine per
//! worker, so that decoding one photo overlaps inference on another. A photo
//! that cannot be read, or whose outputs cannot be written, is skipped with
//! the reason and the run goes on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rollcall_files::shown::{escape_controls, shown};
use rollcall_models::decode::Limits;
use rollcall_models::runtime::{InferenceClock, Threads};
use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;

use crate::artifacts::detections::{DetectSummary, DetectionsFile, FaceRecord, PhotoRecord};
use crate::artifacts::io::save_image;
use crate::artifacts::metadata;
use crate::artifacts::names::{annotated_name, chip_name, unique_keys};
use crate::artifacts::{Work, WorkDir};
use crate::error::{Error, Result};
use crate::render::annotate;
use crate::runner::{Outcome, Runner, SkipReason};

/// Settings of the detect stage.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Which detections are faces.
    pub filter: FaceFilter,
    /// Worker threads (each with its own engine).
    pub jobs: usize,
    /// Write annotated copies of the photos.
    pub annotate: bool,
    /// Long side of annotated copies, in pixels.
    pub annotate_max_side: u32,
    /// Also embed every kept face (the `run` command), saving a second pass.
    pub embed: bool,
    /// Write chips, annotated photos and the stage's files (off only in
    /// benchmarks).
    pub write_images: bool,
    /// ONNX Runtime threads per session.
    pub threads: Threads,
    /// Record when each network ran (benchmarks).
    pub record_spans: bool,
    /// How large a photo may be.
    pub limits: Limits,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            filter: FaceFilter::default(),
            jobs: rollcall_models::runtime::default_workers(),
            annotate: true,
            annotate_max_side: 1600,
            embed: false,
            write_images: true,
            threads: Threads::default(),
            record_spans: false,
            limits: Limits::default(),
        }
    }
}

/// Wall time spent per step, summed over workers.
#[derive(Debug, Clone, Default)]
pub struct StepTimes {
    /// Reading and decoding photos.
    pub decode: Duration,
    /// Scaling and normalising for the detector.
    pub prepare: Duration,
    /// Inside the detector network.
    pub detector: InferenceClock,
    /// Inside the recognizer network.
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

    /// Time inside the networks.
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
    pub jobs: usize,
}

struct PhotoResult {
    record: PhotoRecord,
    embeddings: Vec<(String, Vec<f32>)>,
    times: StepTimes,
}

/// Runs detection (and alignment, and optionally embedding) over every photo
/// under `input`, writing the stage's files into `work`. The work directory
/// and every other folder rollcall owns are left out of the listing; what the
/// listing could not read is recorded as skipped, with the reason.
pub fn detect(input: &Path, work: &WorkDir, models: &dyn Models, opts: &DetectOptions) -> Result<DetectOutcome> {
    let listing = rollcall_files::photos::list(input, &[work.root().to_path_buf()])?;
    if listing.photos.is_empty() && listing.problems.is_empty() {
        return Err(Error::NoPhotos { path: input.to_path_buf() });
    }
    let unlisted = listing.problems.iter().map(|(p, why)| (p.clone(), rollcall_models::error::describe(why))).collect();
    detect_listed(input, &listing.photos, unlisted, work, models, opts)
}

/// [`detect`] over a given list of photos under `input` (which names them
/// in output files).
pub fn detect_photos(input: &Path, photos: &[PathBuf], work: &WorkDir, models: &dyn Models, opts: &DetectOptions) -> Result<DetectOutcome> {
    detect_listed(input, photos, Vec::new(), work, models, opts)
}

fn detect_listed(
    input: &Path,
    photos: &[PathBuf],
    unlisted: Vec<(PathBuf, String)>,
    work: &WorkDir,
    models: &dyn Models,
    opts: &DetectOptions,
) -> Result<DetectOutcome> {
    let started = Instant::now();
    if opts.write_images {
        for dir in [work.aligned(), work.annotated()] {
            std::fs::create_dir_all(&dir).map_err(Error::write(&dir))?;
        }
    }
    let keys = unique_keys(input, photos);
    let items: Vec<(&PathBuf, &String)> = photos.iter().zip(&keys).collect();
    let runner = Runner::new(models, opts.jobs).threads(opts.threads).record_spans(opts.record_spans);
    let outcomes = runner.run(&items, "detect", |engine, (photo, key)| process_photo(engine, photo, key, work, opts))?;

    let mut records = Vec::with_capacity(outcomes.len());
    let mut embeddings = Vec::new();
    let mut times = StepTimes::default();
    for ((photo, key), outcome) in items.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(r) => {
                records.push(r.record);
                embeddings.extend(r.embeddings);
                times.add(&r.times);
            }
            Outcome::Skipped(why) => records.push(skipped_record(photo, key, why.describe())),
        }
    }
    records.extend(unlisted.into_iter().map(|(p, why)| skipped_record(&p, "", why)));
    records.sort_by(|a, b| a.path.cmp(&b.path));

    let card = models.card();
    let file = DetectionsFile {
        input: input.display().to_string(),
        detector: card.detector.clone(),
        recognizer: card.recognizer.clone(),
        min_confidence: opts.filter.min_confidence,
        min_size: opts.filter.min_size,
        summary: DetectSummary::of(&records),
        photos: records,
    };
    if opts.write_images {
        metadata::write(&work.metadata_csv(), &file.photos)?;
        file.write(&work.detections_json())?;
    }
    Ok(DetectOutcome { file, embeddings, times, wall: started.elapsed(), jobs: runner.jobs() })
}

fn skipped_record(photo: &Path, key: &str, why: String) -> PhotoRecord {
    tracing::warn!("skipping {}: {}", shown(photo), escape_controls(&why));
    PhotoRecord {
        path: photo.to_string_lossy().into_owned(),
        key: key.to_string(),
        width: 0,
        height: 0,
        error: Some(why),
        annotated_file: None,
        faces: Vec::new(),
    }
}

/// One photo; if any of its outputs cannot be written, the ones already
/// written are removed, so that a skipped photo leaves nothing behind.
fn process_photo(
    engine: &mut dyn FaceEngine,
    photo: &Path,
    key: &str,
    work: &Work,
    opts: &DetectOptions,
) -> Result<PhotoResult, SkipReason> {
    let mut written = Vec::new();
    let result = process_photo_into(engine, photo, key, work, opts, &mut written);
    if result.is_err() {
        for p in written {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

fn process_photo_into(
    engine: &mut dyn FaceEngine,
    photo: &Path,
    key: &str,
    work: &Work,
    opts: &DetectOptions,
    written: &mut Vec<PathBuf>,
) -> Result<PhotoResult, SkipReason> {
    let mut times = StepTimes::default();
    let t = Instant::now();
    let image = rollcall_models::decode::load_rgb_within(photo, &opts.limits)?;
    times.decode = t.elapsed();
    let mut record = PhotoRecord {
        path: photo.display().to_string(),
        key: key.to_string(),
        width: image.width(),
        height: image.height(),
        error: None,
        annotated_file: None,
        faces: Vec::new(),
    };
    let view = RgbView { data: image.as_raw(), width: image.width(), height: image.height() };

    let before = engine.times();
    let t = Instant::now();
    let faces = engine.faces(view, &opts.filter)?;
    let mut embeddings = Vec::new();
    let mut labels = Vec::new();
    for face in &faces {
        let d = &face.detection;
        let mut fr = FaceRecord {
            bbox: [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2],
            confidence: d.score,
            landmarks: d.landmarks,
            verdict: face.verdict,
            face_index: None,
            aligned_file: None,
        };
        if let (Verdict::Kept, Some(chip)) = (face.verdict, &face.chip) {
            let i = labels.len();
            let name = chip_name(key, i);
            if opts.write_images {
                let path = work.aligned().join(&name);
                save_chip(&path, chip, engine.chip_size())?;
                written.push(path);
            }
            if opts.embed {
                embeddings.push((name.clone(), engine.embed(chip)?));
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
        let name = annotated_name(key);
        let path = work.annotated().join(&name);
        save_image(&path, &drawn)?;
        written.push(path);
        record.annotated_file = Some(name);
    }
    let after = engine.times();
    times.prepare = after.prepare.saturating_sub(before.prepare);
    times.detector = after.detector.since(&before.detector);
    times.recognizer = after.recognizer.since(&before.recognizer);
    times.spans = engine.take_spans();
    times.other = t.elapsed().saturating_sub(times.inference() + times.prepare);
    Ok(PhotoResult { record, embeddings, times })
}

/// Saves a chip as PNG (lossless, so a later `embed` sees the same pixels).
fn save_chip(path: &Path, chip: &[u8], size: u32) -> Result<()> {
    let img = image::RgbImage::from_raw(size, size, chip.to_vec())
        .ok_or_else(|| Error::Table { path: path.to_path_buf(), reason: "chip buffer has the wrong size".into() })?;
    save_image(path, &img)
}
